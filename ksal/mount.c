/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Mount helpers: new mount API with a mount(2) fallback probed once. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include "ksal/syscalls.h"
#include "ksal/mount.h"

#ifndef MOVE_MOUNT_T_SYMLINKS
#define MOVE_MOUNT_T_SYMLINKS 0x00000010
#endif

/* -1 unknown, 0 legacy, 1 new API */
static int new_api = -1;

static int neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

static bool syscall_exists(long r)
{
	return r >= 0 || errno != ENOSYS;
}

bool ksal_mount_new_api(void)
{
	struct mount_attr attr = { 0 };
	int fd, r = __atomic_load_n(&new_api, __ATOMIC_RELAXED);

	/* threads probing at once all find the same answer */
	if (r >= 0)
		return r;
	fd = open_tree(AT_FDCWD, "/", OPEN_TREE_CLOEXEC);
	if (fd >= 0)
		close(fd);
	r = syscall_exists(fd) &&
	    syscall_exists(mount_setattr(-EBADF, "", AT_EMPTY_PATH, &attr, sizeof(attr))) &&
	    syscall_exists(move_mount(-EBADF, "", -EBADF, "", MOVE_MOUNT_F_EMPTY_PATH));
	__atomic_store_n(&new_api, r, __ATOMIC_RELAXED);
	return r;
}

void ksal_mount_force_legacy(bool legacy)
{
	__atomic_store_n(&new_api, legacy ? 0 : -1, __ATOMIC_RELAXED);
}

static uint64_t to_mount_attr(unsigned int flags)
{
	uint64_t a = 0;

	if (flags & KSAL_MNT_RDONLY)
		a |= MOUNT_ATTR_RDONLY;
	if (flags & KSAL_MNT_NOSUID)
		a |= MOUNT_ATTR_NOSUID;
	if (flags & KSAL_MNT_NODEV)
		a |= MOUNT_ATTR_NODEV;
	if (flags & KSAL_MNT_NOEXEC)
		a |= MOUNT_ATTR_NOEXEC;
	return a;
}

/* Attach a detached tree (from open_tree) on target, after setting attrs. */
static int attach_tree(int tree, const char *target, unsigned int flags)
{
	struct mount_attr attr = { .attr_set = to_mount_attr(flags) };
	int r = 0;

	if (attr.attr_set &&
	    mount_setattr(tree, "", AT_EMPTY_PATH | ((flags & KSAL_MNT_REC) ? AT_RECURSIVE : 0),
			  &attr, sizeof(attr)) < 0)
		r = neg_errno();
	if (!r && move_mount(tree, "", AT_FDCWD, target,
			     MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS) < 0)
		r = neg_errno();
	close(tree);
	if (r)
		errno = -r;
	return r;
}

int ksal_mount_attach_tree(int tree, const char *target, unsigned int flags)
{
	return attach_tree(tree, target, flags);
}

/* mount(2) remount of a bind, keeping the flags a user namespace locks. */
static int legacy_setattr(const char *target, unsigned int set, unsigned int clr)
{
	unsigned long ms = MS_REMOUNT | MS_BIND;
	struct statvfs sv;

	if (statvfs(target, &sv) < 0)
		return neg_errno();
	if (((sv.f_flag & ST_RDONLY) && !(clr & KSAL_MNT_RDONLY)) || (set & KSAL_MNT_RDONLY))
		ms |= MS_RDONLY;
	if (((sv.f_flag & ST_NOSUID) && !(clr & KSAL_MNT_NOSUID)) || (set & KSAL_MNT_NOSUID))
		ms |= MS_NOSUID;
	if (((sv.f_flag & ST_NODEV) && !(clr & KSAL_MNT_NODEV)) || (set & KSAL_MNT_NODEV))
		ms |= MS_NODEV;
	if (((sv.f_flag & ST_NOEXEC) && !(clr & KSAL_MNT_NOEXEC)) || (set & KSAL_MNT_NOEXEC))
		ms |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		ms |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		ms |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		ms |= MS_RELATIME;
	if (mount(NULL, target, NULL, ms, NULL) < 0)
		return neg_errno();
	return 0;
}

int ksal_mount_setattr(const char *target, unsigned int set, unsigned int clr)
{
	if (ksal_mount_new_api()) {
		struct mount_attr attr = {
			.attr_set = to_mount_attr(set),
			.attr_clr = to_mount_attr(clr),
		};

		if (mount_setattr(AT_FDCWD, target, (set & KSAL_MNT_REC) ? AT_RECURSIVE : 0, &attr,
				  sizeof(attr)) < 0)
			return neg_errno();
		return 0;
	}
	return legacy_setattr(target, set, clr);
}

static int legacy_bind(const char *source, const char *target, unsigned int flags)
{
	unsigned long ms = MS_BIND | ((flags & KSAL_MNT_REC) ? MS_REC : 0);

	char real[PATH_MAX];
	ssize_t n;

	if (mount(source, target, NULL, ms, NULL) < 0)
		return neg_errno();
	if (!(flags & ~KSAL_MNT_REC))
		return 0;
	/* A magic link names the object under the new mount, not the mount:
	 * remount by the path it stands for. */
	if (strncmp(target, "/proc/self/fd/", 14) == 0) {
		n = readlink(target, real, sizeof(real) - 1);
		if (n < 0)
			return neg_errno();
		real[n] = '\0';
		target = real;
	}
	return legacy_setattr(target, flags & ~KSAL_MNT_REC, 0);
}

int ksal_mount_bind(const char *source, const char *target, unsigned int flags)
{
	int tree;

	if (!ksal_mount_new_api())
		return legacy_bind(source, target, flags);
	tree = open_tree(AT_FDCWD, source,
			 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
				 ((flags & KSAL_MNT_REC) ? AT_RECURSIVE : 0));
	if (tree < 0)
		return neg_errno();
	return attach_tree(tree, target, flags);
}

int ksal_mount_bind_fd(int fd, const char *target, unsigned int flags)
{
	char path[64];
	int tree, n;

	if (!ksal_mount_new_api()) {
		n = snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (n < 0 || (size_t)n >= sizeof(path))
			return -ENAMETOOLONG;
		return legacy_bind(path, target, flags);
	}
	tree = open_tree(fd, "",
			 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH |
				 ((flags & KSAL_MNT_REC) ? AT_RECURSIVE : 0));
	if (tree < 0)
		return neg_errno();
	return attach_tree(tree, target, flags);
}

int ksal_mount_fs(const char *fstype, const char *target, unsigned long msflags, const char *data)
{
	if (mount(fstype, target, fstype, msflags, data) < 0)
		return neg_errno();
	return 0;
}

int ksal_mount_propagation(const char *target, unsigned long type)
{
	if (mount(NULL, target, NULL, type | MS_REC, NULL) < 0)
		return neg_errno();
	return 0;
}
