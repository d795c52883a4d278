/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Files the daemon writes into a container's root before its init runs
 * (/etc/hostname, /etc/resolv.conf), as vzctl's distro scripts do, but in C
 * and resolved inside the root (openat2 RESOLVE_IN_ROOT): a symlink planted
 * by the container can never make the daemon write a host file.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "runtime/guest.h"

int guest_open_in_root(int rootfd, const char *rel, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = flags & O_CREAT ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};

	return (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
}

int guest_write_file(const char *root, const char *rel, const char *text, uid_t uid, gid_t gid,
		     struct st_error **err)
{
	_cleanup_close_ int rootfd = -EBADF, fd = -EBADF;
	size_t len = strlen(text), off = 0;
	struct stat st;

	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return st_error_set(err, errno, "open root `%s`", root);
	/* non-blocking, and only a regular file: a FIFO the guest's root put
	 * there must not hold the start (a worker, or the event loop) */
	fd = guest_open_in_root(rootfd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_NOFOLLOW,
				0644);
	if (fd < 0 && errno == ENXIO) /* a FIFO nobody reads */
		return st_error_setx(err, ST_EXIT_BROKEN, 0,
				     "write `%s` in `%s`: not a regular file (a FIFO)", rel, root);
	if (fd < 0)
		return st_error_set(err, errno, "write `%s` in `%s`", rel, root);
	if (fstat(fd, &st) < 0)
		return st_error_set(err, errno, "stat `%s` in `%s`", rel, root);
	if (!S_ISREG(st.st_mode))
		return st_error_setx(err, ST_EXIT_BROKEN, 0,
				     "write `%s` in `%s`: not a regular file (mode %o)", rel, root,
				     (unsigned)st.st_mode);
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return st_error_set(err, errno, "write `%s` in `%s`", rel, root);
		off += (size_t)w;
	}
	if (fchown(fd, uid, gid) < 0)
		st_debug("chown `%s` in `%s`: %s", rel, root, strerror(errno));
	st_trace("wrote `%s` in `%s`", rel, root);
	return 0;
}

char *guest_resolv_conf(const char *nameservers, const char *search)
{
	_cleanup_free_ char *ns = strdup(nameservers ? nameservers : "");
	char *out = NULL, *save = NULL;
	size_t cap = 64 + strlen(ns) * 2 + (search ? strlen(search) : 0), n = 0;

	out = malloc(cap);
	if (!out || !ns) {
		free(out);
		return NULL;
	}
	out[0] = '\0';
	if (search && *search)
		n += (size_t)snprintf(out + n, cap - n, "search %s\n", search);
	for (char *t = strtok_r(ns, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		if (!strcmp(t, "inherit")) {
			/* NAMESERVER=inherit: the host's own nameservers */
			_cleanup_fclose_ FILE *f = fopen("/etc/resolv.conf", "re");
			char line[512];

			while (f && fgets(line, sizeof(line), f)) {
				char addr[256];
				char *grown;

				if (sscanf(line, " nameserver %255s", addr) != 1)
					continue;
				grown = realloc(out, cap + sizeof(addr) + 16);
				if (!grown) {
					free(out);
					return NULL;
				}
				out = grown;
				cap += sizeof(addr) + 16;
				n += (size_t)snprintf(out + n, cap - n, "nameserver %s\n", addr);
			}
			continue;
		}
		n += (size_t)snprintf(out + n, cap - n, "nameserver %s\n", t);
	}
	return out;
}
