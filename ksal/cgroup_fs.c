/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Cgroup file helpers both backends share: read, write and parse cgroupfs
 * files relative to a directory fd, list the tasks of a cgroup tree, remove
 * a tree depth first, wait for and kill everything in a cgroup.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ksal/cgroup.h"
#include "ksal/cgroup_internal.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"

bool cg_file_exists(int dfd, const char *file)
{
	return faccessat(dfd, file, F_OK, 0) == 0;
}

int cg_write(int dfd, const char *dir, const char *file, const char *val, struct st_error **err)
{
	_cleanup_close_ int fd = -EBADF;
	size_t len = strlen(val);
	ssize_t n;

	fd = openat(dfd, file, O_WRONLY | O_CLOEXEC | O_TRUNC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return st_error_setx(err, ST_EXIT_NOFEATURE, ENOENT,
					     "open `%s/%s` for writing (controller not enabled "
					     "for this cgroup?)",
					     dir, file);
		return st_error_set(err, errno, "open `%s/%s` for writing", dir, file);
	}
	n = write(fd, val, len);
	if (n < 0)
		return st_error_set(err, errno, "write `%s` to `%s/%s`", val, dir, file);
	if ((size_t)n != len)
		return st_error_set(err, EIO, "write `%s` to `%s/%s`: short write", val, dir, file);
	st_trace("cgroup: wrote `%s` to %s/%s", val, dir, file);
	return 0;
}

int cg_writef(int dfd, const char *dir, const char *file, struct st_error **err, const char *fmt,
	      ...)
{
	_cleanup_free_ char *val = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&val, fmt, ap);
	va_end(ap);
	if (r < 0) {
		val = NULL;
		return st_error_set(err, ENOMEM, "format value for `%s/%s`", dir, file);
	}
	return cg_write(dfd, dir, file, val, err);
}

int cg_read(int dfd, const char *dir, const char *file, char **out, bool quiet_enoent,
	    struct st_error **err)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	fd = openat(dfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT && quiet_enoent)
			return -ENOENT;
		return st_error_set(err, e, "open `%s/%s`", dir, file);
	}
	for (;;) {
		ssize_t n;

		if (cap - len < 4097) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *nb = realloc(buf, ncap);
			if (!nb)
				return st_error_set(err, ENOMEM, "read `%s/%s`", dir, file);
			buf = nb;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return st_error_set(err, errno, "read `%s/%s`", dir, file);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (!buf) {
		buf = strdup("");
		if (!buf)
			return st_error_set(err, ENOMEM, "read `%s/%s`", dir, file);
	}
	buf[len] = '\0';
	*out = take_ptr(buf);
	return 0;
}

/* Parse a cgroup number: "max" or a v1 "unlimited" page-rounded value reads
 * as KSAL_CG_UNLIMITED. */
static int cg_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	while (isspace((unsigned char)*s))
		s++;
	if (strncmp(s, "max", 3) == 0) {
		*out = (uint64_t)KSAL_CG_UNLIMITED;
		return 0;
	}
	if (*s == '-') {
		/* "-1" in some v1 files means unlimited */
		if (strncmp(s, "-1", 2) == 0) {
			*out = (uint64_t)KSAL_CG_UNLIMITED;
			return 0;
		}
		return -EINVAL;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (v >= (unsigned long long)INT64_MAX - 4095)
		v = (unsigned long long)KSAL_CG_UNLIMITED;
	*out = v;
	return 0;
}

int cg_read_u64(int dfd, const char *dir, const char *file, uint64_t *out, struct st_error **err)
{
	_cleanup_free_ char *s = NULL;
	int r;

	r = cg_read(dfd, dir, file, &s, true, err);
	if (r < 0)
		return r;
	if (cg_parse_u64(s, out) < 0)
		return st_error_set(err, EINVAL, "parse `%s/%s` (`%.40s`)", dir, file, s);
	return 0;
}

int cg_read_key(int dfd, const char *dir, const char *file, const char *key, uint64_t *out,
		struct st_error **err)
{
	_cleanup_free_ char *s = NULL;
	size_t klen = strlen(key);
	int r;

	r = cg_read(dfd, dir, file, &s, true, err);
	if (r < 0)
		return r;
	for (char *line = s; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			if (cg_parse_u64(line + klen + 1, out) < 0)
				return st_error_set(err, EINVAL, "parse `%s` in `%s/%s`", key, dir,
						    file);
			return 0;
		}
		line = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

static int pids_append(pid_t **pids, size_t *n, size_t *cap, pid_t p)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		pid_t *np = reallocarray(*pids, ncap, sizeof(pid_t));
		if (!np)
			return -ENOMEM;
		*pids = np;
		*cap = ncap;
	}
	(*pids)[(*n)++] = p;
	return 0;
}

static int collect_rec(int dfd, const char *dir, const char *file, pid_t **pids, size_t *n,
		       size_t *cap, int depth, struct st_error **err)
{
	_cleanup_free_ char *s = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r, dfd2;

	if (depth > 64)
		return st_error_set(err, ELOOP, "list tasks of `%s`: cgroup tree too deep", dir);
	r = cg_read(dfd, dir, file, &s, true, err);
	if (r < 0 && r != -ENOENT)
		return r;
	for (char *p = s; p && *p;) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (v > 0 && pids_append(pids, n, cap, (pid_t)v) < 0)
			return st_error_set(err, ENOMEM, "list tasks of `%s`", dir);
		p = end;
		while (*p == '\n' || *p == ' ')
			p++;
	}

	dfd2 = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd2 < 0)
		return st_error_set(err, errno, "open `%s`", dir);
	d = fdopendir(dfd2);
	if (!d) {
		int e = errno;
		close(dfd2);
		return st_error_set(err, e, "open `%s`", dir);
	}
	while ((de = readdir(d))) {
		_cleanup_close_ int sub = -EBADF;
		_cleanup_free_ char *subpath = NULL;

		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub < 0) {
			if (errno == ENOENT)
				continue; /* removed meanwhile */
			return st_error_set(err, errno, "open `%s/%s`", dir, de->d_name);
		}
		if (asprintf(&subpath, "%s/%s", dir, de->d_name) < 0) {
			subpath = NULL;
			return st_error_set(err, ENOMEM, "list tasks of `%s`", dir);
		}
		r = collect_rec(sub, subpath, file, pids, n, cap, depth + 1, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int cg_collect_pids(int dfd, const char *dir, const char *file, pid_t **pids, size_t *n,
		    struct st_error **err)
{
	_cleanup_free_ pid_t *v = NULL;
	size_t cnt = 0, cap = 0;
	int r;

	r = collect_rec(dfd, dir, file, &v, &cnt, &cap, 0, err);
	if (r < 0)
		return r;
	*pids = take_ptr(v);
	*n = cnt;
	return 0;
}

int cg_rmtree(const struct ksal_cgroup_mgr *m, const char *path, struct st_error **err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	d = opendir(path);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return st_error_set(err, errno, "open cgroup `%s`", path);
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type == DT_DIR) {
			_cleanup_free_ char *sub = NULL;
			int r;

			if (asprintf(&sub, "%s/%s", path, de->d_name) < 0) {
				sub = NULL;
				return st_error_set(err, ENOMEM, "remove cgroup `%s`", path);
			}
			r = cg_rmtree(m, sub, err);
			if (r < 0)
				return r;
		} else if (m->fake) {
			/* a plain-directory tree holds real files; cgroupfs
			 * removes its own with the directory */
			if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
				return st_error_set(err, errno, "remove `%s/%s`", path, de->d_name);
		}
	}
	if (rmdir(path) < 0 && errno != ENOENT) {
		if (errno == EBUSY)
			return st_error_setx(err, ST_EXIT_DESTROYFAIL, EBUSY,
					     "remove cgroup `%s` (tasks still in it)", path);
		return st_error_setx(err, ST_EXIT_DESTROYFAIL, errno, "remove cgroup `%s`", path);
	}
	st_trace("cgroup: removed %s", path);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int cg_wait(struct ksal_cgroup *cg, int timeout_ms, int (*done)(struct ksal_cgroup *cg))
{
	int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	long delay = 500;

	for (;;) {
		int r = done(cg);
		if (r != 0)
			return r;
		if (now_ms() >= deadline)
			return 0;
		sleep_us(delay);
		if (delay < 20000)
			delay *= 2;
	}
}

int cg_kill_loop(struct ksal_cgroup *cg, int h, const char *procs_file, int timeout_ms,
		 struct st_error **err)
{
	int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	long delay = 500;
	size_t left = 0;

	for (;;) {
		_cleanup_free_ pid_t *pids = NULL;
		size_t n = 0;
		int r;

		r = cg_collect_pids(ksal_cg_fd(cg, h), cg->path[h], procs_file, &pids, &n, err);
		if (r < 0)
			return r;
		if (n == 0)
			return 0;
		for (size_t i = 0; i < n; i++) {
			if (kill(pids[i], SIGKILL) < 0 && errno != ESRCH)
				return st_error_set(err, errno, "kill task %d of cgroup `%s`",
						    (int)pids[i], cg->path[h]);
		}
		left = n;
		if (now_ms() >= deadline)
			break;
		sleep_us(delay);
		if (delay < 20000)
			delay *= 2;
	}
	st_error_setx(err, ST_EXIT_TIMEOUT, 0, "kill tasks of cgroup `%s`: %zu left after %d ms",
		      cg->path[h], left, timeout_ms);
	return -ETIMEDOUT;
}

bool cg_host_has_swap(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/swaps", "re");
	char line[512];
	int lines = 0;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		lines++;
	return lines > 1; /* a header line, then one per swap area */
}

int cg_swap_unsupported(const char *file, int64_t swap_max, struct st_error **err)
{
	if (swap_max == KSAL_CG_UNLIMITED) {
		st_debug("cgroup: no %s (no swap accounting); unlimited swap needs no limit", file);
		return 0;
	}
	if (swap_max == 0 && !cg_host_has_swap()) {
		st_debug("cgroup: no %s and no swap on the host; swap 0 holds as is", file);
		return 0;
	}
	return st_error_setx(err, ST_EXIT_NOFEATURE, 0,
			     "set swap limit: this kernel has no swap accounting (no %s; boot with "
			     "swapaccount=1 or use swap unlimited%s)",
			     file, cg_host_has_swap() ? "" : " or 0");
}
