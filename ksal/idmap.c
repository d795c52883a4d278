/* SPDX-License-Identifier: GPL-2.0-or-later */
/* User-namespace id maps: validation and the text /proc/PID/[ug]id_map takes. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ksal/cleanup.h"
#include "ksal/spawn.h"

/* The kernel's UID_GID_MAP_MAX_EXTENTS since Linux 4.15. */
#define IDMAP_MAX_LINES 340

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int ksal_idmap_validate(const char *what, const struct ksal_idmap *map, size_t n,
			struct st_error **err)
{
	if (!map || n == 0)
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL, "%s is empty", what);
	if (n > IDMAP_MAX_LINES)
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
				     "%s has %zu lines, the kernel takes at most %d", what, n,
				     IDMAP_MAX_LINES);
	for (size_t i = 0; i < n; i++) {
		const struct ksal_idmap *m = &map[i];

		if (m->count == 0)
			return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
					     "%s line %zu (%" PRIu32 " %" PRIu32 " 0): count is 0",
					     what, i + 1, m->inside, m->outside);
		if ((uint64_t)m->inside + m->count > UINT32_MAX ||
		    (uint64_t)m->outside + m->count > UINT32_MAX)
			return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
					     "%s line %zu (%" PRIu32 " %" PRIu32 " %" PRIu32
					     "): range runs past id 4294967294",
					     what, i + 1, m->inside, m->outside, m->count);
		for (size_t j = 0; j < i; j++) {
			const struct ksal_idmap *o = &map[j];

			if (ranges_overlap(m->inside, m->count, o->inside, o->count))
				return st_error_setx(
					err, ST_EXIT_BADVALUE, EINVAL,
					"%s lines %zu and %zu overlap inside the container", what,
					j + 1, i + 1);
			if (ranges_overlap(m->outside, m->count, o->outside, o->count))
				return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
						     "%s lines %zu and %zu overlap on the host",
						     what, j + 1, i + 1);
		}
	}
	return 0;
}

int ksal_idmap_format(const char *what, const struct ksal_idmap *map, size_t n, char **out,
		      struct st_error **err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	r = ksal_idmap_validate(what, map, n, err);
	if (r < 0)
		return r;
	f = open_memstream(&buf, &len);
	if (!f)
		return st_error_set(err, errno, "format %s", what);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%" PRIu32 " %" PRIu32 " %" PRIu32 "\n", map[i].inside, map[i].outside,
			map[i].count);
	if (fclose(f) != 0)
		return st_error_set(err, errno ? errno : ENOMEM, "format %s", what);
	*out = take_ptr(buf);
	return 0;
}

int64_t ksal_idmap_to_host(const struct ksal_idmap *map, size_t n, uint32_t inside)
{
	for (size_t i = 0; i < n; i++)
		if (inside >= map[i].inside &&
		    (uint64_t)inside < (uint64_t)map[i].inside + map[i].count)
			return (int64_t)map[i].outside + (inside - map[i].inside);
	return -1;
}
