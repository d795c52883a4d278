/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Pure helpers of the resource area: CPU lists and the disk under a path. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "runtime/resources.h"

/* Calls fn(a, b, data) for each range a-b of list; -EINVAL if malformed. */
static int cpulist_walk(const char *list, int (*fn)(unsigned long, unsigned long, void *),
			void *data)
{
	const char *p = list;

	if (!list || !*list)
		return -EINVAL;
	while (*p) {
		char *end = NULL;
		unsigned long a, b;
		int r;

		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		a = b = strtoul(p, &end, 10);
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			b = strtoul(p, &end, 10);
			p = end;
		}
		if (a > b || b >= 65536)
			return -EINVAL;
		r = fn(a, b, data);
		if (r < 0)
			return r;
		if (*p == ',')
			p++;
		else if (*p == '\n' && !p[1])
			break;
		else if (*p)
			return -EINVAL;
	}
	return 0;
}

static int count_fn(unsigned long a, unsigned long b, void *data)
{
	*(int *)data += (int)(b - a + 1);
	return 0;
}

int res_cpulist_count(const char *list)
{
	int n = 0, r = cpulist_walk(list, count_fn, &n);

	return r < 0 ? r : n;
}

struct first_ctx {
	unsigned left;
	char buf[1024];
	size_t len;
};

static int first_fn(unsigned long a, unsigned long b, void *data)
{
	struct first_ctx *c = data;
	int n;

	if (!c->left)
		return 0;
	if (b - a + 1 > c->left)
		b = a + c->left - 1;
	c->left -= (unsigned)(b - a + 1);
	if (a == b)
		n = snprintf(c->buf + c->len, sizeof(c->buf) - c->len, "%s%lu", c->len ? "," : "",
			     a);
	else
		n = snprintf(c->buf + c->len, sizeof(c->buf) - c->len, "%s%lu-%lu",
			     c->len ? "," : "", a, b);
	if (n < 0 || (size_t)n >= sizeof(c->buf) - c->len)
		return -E2BIG;
	c->len += (size_t)n;
	return 0;
}

int res_cpulist_first(const char *list, unsigned n, char **out, struct st_error **err)
{
	struct first_ctx c = { .left = n };
	int r;

	*out = NULL;
	if (n == 0)
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL, "the first 0 CPUs of `%s`",
				     list ? list : "");
	r = cpulist_walk(list, first_fn, &c);
	if (r < 0)
		return st_error_setx(err, ST_EXIT_SYSTEM, -r, "CPU list `%s`", list ? list : "");
	*out = strdup(c.buf);
	if (!*out)
		return st_error_set(err, ENOMEM, "CPU list");
	return 0;
}

static int read_small(const char *path, char *buf, size_t len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

int res_whole_disk(const char *sysfs_root, unsigned maj, unsigned min, unsigned *wmaj,
		   unsigned *wmin, struct st_error **err)
{
	_cleanup_free_ char *dir = NULL, *part = NULL, *parent_dev = NULL;
	char buf[64];
	struct stat st;

	if (asprintf(&dir, "%s/dev/block/%u:%u", sysfs_root, maj, min) < 0)
		return st_error_set(err, ENOMEM, "block device");
	if (stat(dir, &st) < 0)
		return st_error_setx(err, ST_EXIT_NOFEATURE, 0,
				     "device %u:%u is not a block device (`%s` missing): the "
				     "filesystem is not on a disk",
				     maj, min, dir);
	if (asprintf(&part, "%s/partition", dir) < 0)
		return st_error_set(err, ENOMEM, "block device");
	if (access(part, F_OK) < 0) {
		*wmaj = maj;
		*wmin = min;
		return 0;
	}
	/* a partition: its sysfs directory sits in the whole disk's */
	if (asprintf(&parent_dev, "%s/../dev", dir) < 0)
		return st_error_set(err, ENOMEM, "block device");
	if (read_small(parent_dev, buf, sizeof(buf)) < 0 || sscanf(buf, "%u:%u", wmaj, wmin) != 2)
		return st_error_setx(err, ST_EXIT_SYSTEM, errno,
				     "find the disk of partition %u:%u (`%s`)", maj, min,
				     parent_dev);
	return 0;
}

int res_path_disk(const char *sysfs_root, const char *path, char *out, size_t len,
		  struct st_error **err)
{
	struct stat st;
	unsigned maj, min;
	int n;

	if (stat(path, &st) < 0)
		return st_error_set(err, errno, "stat `%s`", path);
	if (res_whole_disk(sysfs_root, major(st.st_dev), minor(st.st_dev), &maj, &min, err) < 0)
		return st_error_prefix(err, "the disk under `%s`", path);
	n = snprintf(out, len, "%u:%u", maj, min);
	if (n < 0 || (size_t)n >= len)
		return st_error_setx(err, ST_EXIT_SYSTEM, E2BIG, "device number");
	return 0;
}
