/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Sysctls under /proc/sys. /proc/sys/net shows the network namespace of the
 * thread that opens the file, so the nl variants enter nl's namespace for the
 * open and come back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/error.h"
#include "ksal/log.h"
#include "ksal/netlink.h"
#include "ksal/netlink_internal.h"

static int sysctl_path(const char *path, char **out, struct st_error **err)
{
	if (!path || !*path || strstr(path, ".."))
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL, "sysctl path `%s`",
				     path ? path : "");
	if (asprintf(out, "%s%s", path[0] == '/' ? "" : "/proc/sys/", path) < 0)
		return st_error_set(err, ENOMEM, "sysctl path `%s`", path);
	return 0;
}

int ksal_sysctl_set(const char *path, const char *value, struct st_error **err)
{
	_cleanup_free_ char *full = NULL;
	_cleanup_close_ int fd = -EBADF;
	size_t len = strlen(value);
	ssize_t n;

	if (sysctl_path(path, &full, err) < 0)
		return -EINVAL;
	fd = open(full, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return st_error_set(err, errno, "set sysctl `%s` to %s", full, value);
	n = write(fd, value, len);
	if (n < 0)
		return st_error_set(err, errno, "set sysctl `%s` to %s", full, value);
	if ((size_t)n != len)
		return st_error_set(err, EIO, "set sysctl `%s` to %s (short write)", full, value);
	st_trace("sysctl %s = %s", full, value);
	return 0;
}

int ksal_nl_sysctl_set(struct ksal_nl *nl, const char *path, const char *value,
		       struct st_error **err)
{
	_cleanup_netns_ int saved = -EBADF;
	int r = ksal_netns_enter(ksal_nl_netns_fd(nl), &saved, err);

	if (r < 0)
		return r;
	return ksal_sysctl_set(path, value, err);
}

int ksal_nl_sysctl_get(struct ksal_nl *nl, const char *path, char **out, struct st_error **err)
{
	_cleanup_netns_ int saved = -EBADF;
	_cleanup_free_ char *full = NULL;
	_cleanup_close_ int fd = -EBADF;
	char buf[256];
	ssize_t n;
	int r;

	if (sysctl_path(path, &full, err) < 0)
		return -EINVAL;
	r = ksal_netns_enter(ksal_nl_netns_fd(nl), &saved, err);
	if (r < 0)
		return r;
	fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return st_error_set(err, errno, "read sysctl `%s`", full);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return st_error_set(err, errno, "read sysctl `%s`", full);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	*out = strdup(buf);
	if (!*out)
		return st_error_set(err, ENOMEM, "read sysctl `%s`", full);
	return 0;
}
