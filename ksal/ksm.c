/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel same-page merging: the prctl, ksmd's knobs and its counters. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/ksm.h"
#include "ksal/log.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif
#ifndef PR_GET_MEMORY_MERGE
#define PR_GET_MEMORY_MERGE 68
#endif

static const char *const knobs[] = { "run", "pages_to_scan", "sleep_millisecs" };

/* Read one unsigned number from a file. -errno on failure. */
static int read_u64(const char *path, uint64_t *val)
{
	_cleanup_close_ int fd = -EBADF;
	char buf[64], *end;
	ssize_t n;
	unsigned long long v;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || end == buf)
		return -EINVAL;
	*val = v;
	return 0;
}

int ksal_ksm_available(void)
{
	if (access(KSAL_KSM_DIR "/run", W_OK) != 0)
		return 0;
	/* EINVAL before Linux 6.4 */
	if (prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) < 0)
		return 0;
	return 1;
}

int ksal_ksm_enable_self(struct st_error **err)
{
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) < 0) {
		if (errno == EINVAL)
			return st_error_setx(err, ST_EXIT_NOFEATURE, EINVAL,
					     "enable memory merging (prctl PR_SET_MEMORY_MERGE): "
					     "needs Linux 6.4+ with CONFIG_KSM");
		return st_error_set(err, errno,
				    "enable memory merging (prctl PR_SET_MEMORY_MERGE)");
	}
	return 0;
}

int ksal_ksm_pages_shared(uint64_t *shared, uint64_t *sharing)
{
	int r = read_u64(KSAL_KSM_DIR "/pages_shared", shared);

	if (r < 0)
		return r;
	return read_u64(KSAL_KSM_DIR "/pages_sharing", sharing);
}

int ksal_ksm_process_merging(pid_t pid, uint64_t *pages, struct st_error **err)
{
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/%d/ksm_merging_pages", (int)pid);
	r = read_u64(path, pages);
	if (r == -ENOENT)
		return -ESRCH;
	if (r < 0)
		return st_error_set(err, -r, "read `%s`", path);
	return 0;
}

int ksal_ksm_merging_sum(const pid_t *pids, size_t n, uint64_t *pages, struct st_error **err)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		int r = ksal_ksm_process_merging(pids[i], &v, err);

		if (r == -ESRCH)
			continue;
		if (r < 0)
			return r;
		sum += v;
	}
	*pages = sum;
	return 0;
}

static int knob_path(const char *knob, char *path, size_t size, struct st_error **err)
{
	for (size_t i = 0; i < ARRAY_SIZE(knobs); i++) {
		if (strcmp(knob, knobs[i]) == 0) {
			int n = snprintf(path, size, KSAL_KSM_DIR "/%s", knob);
			if (n < 0 || (size_t)n >= size)
				return st_error_set(err, ENAMETOOLONG, "KSM knob `%s`", knob);
			return 0;
		}
	}
	return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
			     "KSM knob `%s` (run, pages_to_scan or sleep_millisecs)", knob);
}

int ksal_ksm_get(const char *knob, uint64_t *val, struct st_error **err)
{
	char path[128];
	int r = knob_path(knob, path, sizeof(path), err);

	if (r < 0)
		return r;
	r = read_u64(path, val);
	if (r < 0)
		return st_error_set(err, -r, "read `%s`", path);
	return 0;
}

int ksal_ksm_set(const char *knob, uint64_t val, struct st_error **err)
{
	_cleanup_close_ int fd = -EBADF;
	char path[128], buf[32];
	int r = knob_path(knob, path, sizeof(path), err);
	int len;

	if (r < 0)
		return r;
	if (strcmp(knob, "run") == 0 && val > 1)
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
				     "KSM run %" PRIu64 " (0 or 1; 2 would unmerge every page)",
				     val);
	len = snprintf(buf, sizeof(buf), "%" PRIu64, val);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return st_error_set(err, errno, "open `%s` for writing", path);
	if (write(fd, buf, (size_t)len) != len)
		return st_error_set(err, errno, "write `%s` to `%s`", buf, path);
	st_trace("ksm: wrote %s to %s", buf, path);
	return 0;
}

int ksal_ksm_set_run(int run, int *old, struct st_error **err)
{
	uint64_t was;
	int r;

	if (run != 0 && run != 1)
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL, "KSM run %d (0 or 1)", run);
	r = ksal_ksm_get("run", &was, err);
	if (r < 0)
		return r;
	if (old)
		*old = (int)was;
	if (was == (uint64_t)run)
		return 0;
	r = ksal_ksm_set("run", (uint64_t)run, err);
	if (r < 0)
		return r;
	st_info("ksm: ksmd %s (run %" PRIu64 " -> %d)", run ? "started" : "stopped", was, run);
	return 0;
}
