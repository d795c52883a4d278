/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Id-map formatting and validation (spawn area). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ksal/spawn.h"

static char *fmt(const struct ksal_idmap *m, size_t n, struct st_error **err)
{
	char *out = NULL;

	if (ksal_idmap_format("uid map", m, n, &out, err) < 0)
		return NULL;
	return out;
}

Test(idmap, formats_lines)
{
	const struct ksal_idmap m[] = { { 0, 200000, 65536 }, { 65536, 100000, 1 } };
	struct st_error *err = NULL;
	char *s = fmt(m, 2, &err);

	cr_assert_not_null(s, "%s", err ? err->msg : "");
	cr_assert_str_eq(s, "0 200000 65536\n65536 100000 1\n");
	free(s);
}

static void assert_refused(const struct ksal_idmap *m, size_t n, const char *needle)
{
	struct st_error *err = NULL;
	char *s = fmt(m, n, &err);

	cr_assert_null(s);
	cr_assert_not_null(err);
	cr_assert_eq(err->exit_code, ST_EXIT_BADVALUE);
	cr_assert_not_null(strstr(err->msg, needle), "`%s` not in `%s`", needle, err->msg);
	cr_assert_not_null(strstr(err->msg, "uid map"), "%s", err->msg);
	st_error_free(err);
}

Test(idmap, overlaps_refused)
{
	const struct ksal_idmap inside[] = { { 0, 200000, 100 }, { 99, 300000, 10 } };
	const struct ksal_idmap outside[] = { { 0, 200000, 100 }, { 1000, 200050, 10 } };
	const struct ksal_idmap touching[] = { { 0, 200000, 100 }, { 100, 200100, 10 } };
	struct st_error *err = NULL;
	char *s;

	assert_refused(inside, 2, "overlap inside");
	assert_refused(outside, 2, "overlap on the host");
	s = fmt(touching, 2, &err);
	cr_assert_not_null(s, "adjacent ranges refused: %s", err ? err->msg : "");
	free(s);
}

Test(idmap, bad_ranges_refused)
{
	const struct ksal_idmap zero[] = { { 0, 200000, 0 } };
	const struct ksal_idmap wrap[] = { { 0, 4294967295u - 10, 11 } };
	const struct ksal_idmap wrap_in[] = { { 4294967290u, 0, 100 } };
	const struct ksal_idmap last_ok[] = { { 0, 4294967295u - 10, 10 } };
	struct st_error *err = NULL;
	char *s;

	assert_refused(zero, 1, "count is 0");
	assert_refused(wrap, 1, "runs past");
	assert_refused(wrap_in, 1, "runs past");
	assert_refused(NULL, 0, "empty");
	s = fmt(last_ok, 1, &err);
	cr_assert_not_null(s, "%s", err ? err->msg : "");
	free(s);
}

Test(idmap, too_many_lines_refused)
{
	static struct ksal_idmap m[341];

	for (size_t i = 0; i < 341; i++)
		m[i] = (struct ksal_idmap){ (uint32_t)i, 100000 + (uint32_t)i, 1 };
	assert_refused(m, 341, "at most 340");
	struct st_error *err = NULL;
	char *s = fmt(m, 340, &err);
	cr_assert_not_null(s);
	free(s);
}

Test(idmap, to_host)
{
	const struct ksal_idmap m[] = { { 0, 200000, 65536 }, { 70000, 5, 2 } };

	cr_assert_eq(ksal_idmap_to_host(m, 2, 0), 200000);
	cr_assert_eq(ksal_idmap_to_host(m, 2, 5), 200005);
	cr_assert_eq(ksal_idmap_to_host(m, 2, 65535), 265535);
	cr_assert_eq(ksal_idmap_to_host(m, 2, 65536), -1);
	cr_assert_eq(ksal_idmap_to_host(m, 2, 70001), 6);
}
