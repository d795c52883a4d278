/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The template layer: one read-only mount per image per host, kernel squashfs
 * over a loop device or squashfuse, reference-counted on disk.
 *
 * References live in `<mnt_dir>.refs/`, one empty file per user, so the count
 * survives a daemon crash; acquire and release hold an flock on the parent of
 * mnt_dir while they look at the count and mount or unmount.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cow-fs/cowfs.h"
#include "cow-fs/fsutil.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/syscalls.h"

#ifndef FUSE_SUPER_MAGIC
#define FUSE_SUPER_MAGIC 0x65735546
#endif

int cowfs_mount_mode_parse(const char *s, enum cowfs_mount_mode *out)
{
	if (!s || !strcmp(s, "auto"))
		*out = COWFS_MOUNT_AUTO;
	else if (!strcmp(s, "kernel"))
		*out = COWFS_MOUNT_KERNEL;
	else if (!strcmp(s, "fuse"))
		*out = COWFS_MOUNT_FUSE;
	else
		return -EINVAL;
	return 0;
}

static bool kernel_has_squashfs(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/filesystems", "re");
	char line[128];

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "\tsquashfs\n"))
			return true;
	return false;
}

int cowfs_squashfs_check(const char *image, struct st_error **err)
{
	_cleanup_close_ int fd = open(image, O_RDONLY | O_CLOEXEC);
	unsigned char sb[96];
	struct stat st;
	uint64_t used = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		return st_error_setx(err, ST_EXIT_NOTEMPLATE, errno, "open image `%s`", image);
	if (pread(fd, sb, sizeof(sb), 0) != (ssize_t)sizeof(sb) || memcmp(sb, "hsqs", 4) != 0)
		return st_error_setx(err, ST_EXIT_MOUNTFAIL, 0,
				     "image `%s` is not a squashfs image (bad superblock)", image);
	for (int i = 7; i >= 0; i--)
		used = used << 8 | sb[40 + i];
	if ((uint64_t)st.st_size < used)
		return st_error_setx(err, ST_EXIT_MOUNTFAIL, 0,
				     "image `%s` is truncated: %llu bytes, superblock says %llu",
				     image, (unsigned long long)st.st_size,
				     (unsigned long long)used);
	return 0;
}

int cowfs_loop_attach(const char *image, bool read_only, char *dev, size_t devlen,
		      struct st_error **err)
{
	_cleanup_close_ int ctl = -EBADF, img = -EBADF;

	img = open(image, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (img < 0)
		return st_error_set(err, errno, "open image `%s`", image);
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return st_error_setx(err, ST_EXIT_NOFEATURE, errno, "open /dev/loop-control");
	for (int tries = 0; tries < 16; tries++) {
		_cleanup_close_ int lfd = -EBADF;
		struct loop_config cfg = { 0 };
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (n < 0)
			return st_error_set(err, errno, "get a free loop device for `%s`", image);
		if (snprintf(dev, devlen, "/dev/loop%d", n) >= (int)devlen)
			return st_error_set(err, ENAMETOOLONG, "loop device name");
		lfd = open(dev, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (lfd < 0)
			return st_error_set(err, errno, "open `%s`", dev);
		cfg.fd = (uint32_t)img;
		cfg.info.lo_flags = (read_only ? LO_FLAGS_READ_ONLY : 0) | LO_FLAGS_AUTOCLEAR;
		strncpy((char *)cfg.info.lo_file_name, image, LO_NAME_SIZE - 1);
		if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0) {
			st_trace("attached `%s` to %s", image, dev);
			return take_fd(lfd);
		}
		if (errno != EBUSY)
			return st_error_set(err, errno, "attach `%s` to %s", image, dev);
	}
	return st_error_set(err, EBUSY, "attach `%s` to a loop device", image);
}

static int mount_kernel(const char *image, const char *mnt, struct st_error **err)
{
	_cleanup_close_ int lfd = -EBADF, fsfd = -EBADF, mfd = -EBADF;
	char dev[64];

	lfd = cowfs_loop_attach(image, true, dev, sizeof(dev), err);
	if (lfd < 0)
		return lfd;
	fsfd = fsopen("squashfs", FSOPEN_CLOEXEC);
	if (fsfd >= 0) {
		if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", dev, 0) < 0 ||
		    fsconfig(fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0 ||
		    fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
			return st_error_setx(err, ST_EXIT_MOUNTFAIL, errno,
					     "mount squashfs image `%s` (%s) on `%s`", image, dev,
					     mnt);
		mfd = fsmount(fsfd, FSMOUNT_CLOEXEC,
			      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
		if (mfd < 0)
			return st_error_setx(err, ST_EXIT_MOUNTFAIL, errno,
					     "mount squashfs image `%s` on `%s`", image, mnt);
		if (move_mount(mfd, "", AT_FDCWD, mnt, MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return st_error_setx(err, ST_EXIT_MOUNTFAIL, errno,
					     "attach squashfs image `%s` on `%s`", image, mnt);
	} else if (errno == ENOSYS || errno == EPERM) {
		if (mount(dev, mnt, "squashfs", MS_RDONLY | MS_NODEV | MS_NOSUID, NULL) < 0)
			return st_error_setx(err, ST_EXIT_MOUNTFAIL, errno,
					     "mount squashfs image `%s` (%s) on `%s`", image, dev,
					     mnt);
	} else {
		return st_error_setx(err, errno == ENODEV ? ST_EXIT_NOFEATURE : ST_EXIT_MOUNTFAIL,
				     errno, "open squashfs file system for `%s`", image);
	}
	st_trace("mounted squashfs `%s` via %s on `%s`", image, dev, mnt);
	/* AUTOCLEAR: the loop device goes away with the last user of the mount */
	return 0;
}

static int mount_fuse(const char *image, const char *mnt, struct st_error **err)
{
	const char *argv[] = {
		"squashfuse", "-o", "ro,allow_other,nodev,nosuid", image, mnt, NULL
	};

	if (cowfs_run(argv, -1, err) < 0)
		return st_error_prefix(
			err, "mount squashfs image `%s` on `%s` with squashfuse: ", image, mnt);
	st_trace("mounted squashfuse `%s` on `%s`", image, mnt);
	return 0;
}

static int layer_mount(const struct cowfs_layer_ref *ref, struct st_error **err)
{
	enum cowfs_mount_mode mode = ref->mode;
	int r;

	r = cowfs_squashfs_check(ref->image, err);
	if (r < 0)
		return r;
	if (ref->sha256) {
		char got[65];

		r = cowfs_sha256_file(ref->image, got, err);
		if (r < 0)
			return r;
		if (strcasecmp(got, ref->sha256) != 0)
			return st_error_setx(err, ST_EXIT_MOUNTFAIL, 0,
					     "image `%s` is corrupt: sha256 %s, manifest says %s",
					     ref->image, got, ref->sha256);
	}
	/* auto: the kernel's squashfs when it has it (fsopen loads the module
	 * if it can), squashfuse otherwise */
	if (mode == COWFS_MOUNT_AUTO && !kernel_has_squashfs() &&
	    access("/proc/sys/kernel/modprobe", F_OK) < 0)
		mode = COWFS_MOUNT_FUSE;
	else if (mode == COWFS_MOUNT_AUTO)
		mode = COWFS_MOUNT_KERNEL;
	if (mode == COWFS_MOUNT_KERNEL) {
		struct st_error *kerr = NULL;

		r = mount_kernel(ref->image, ref->mnt_dir, &kerr);
		if (r < 0 && ref->mode == COWFS_MOUNT_AUTO &&
		    kerr->exit_code == ST_EXIT_NOFEATURE) {
			st_debug("%s; trying squashfuse", kerr->msg);
			st_error_free(kerr);
			return mount_fuse(ref->image, ref->mnt_dir, err);
		}
		if (r < 0 && err && !*err)
			*err = take_ptr(kerr);
		st_error_free(kerr);
		return r;
	}
	return mount_fuse(ref->image, ref->mnt_dir, err);
}

static int layer_umount(const char *mnt, struct st_error **err)
{
	if (umount2(mnt, UMOUNT_NOFOLLOW) == 0)
		return 0;
	if (errno == EINVAL && cowfs_is_mountpoint(mnt) != 1)
		return 0; /* not mounted (after a crash, say) */
	if (errno != EBUSY)
		return st_error_setx(err, ST_EXIT_UMOUNTFAIL, errno, "unmount template layer `%s`",
				     mnt);
	st_warn("template layer `%s` busy; detaching it lazily", mnt);
	if (umount2(mnt, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
		return st_error_setx(err, ST_EXIT_UMOUNTFAIL, errno, "unmount template layer `%s`",
				     mnt);
	return 0;
}

/* flock the parent directory of mnt_dir (created if missing). */
static int lock_parent(const char *mnt, struct st_error **err)
{
	_cleanup_free_ char *parent = strdup(mnt);
	_cleanup_close_ int fd = -EBADF;
	char *slash;

	if (!parent)
		return st_error_set(err, ENOMEM, "lock `%s`", mnt);
	slash = strrchr(parent, '/');
	if (slash == parent)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(parent, ".");
	if (cowfs_mkdir_p(parent, 0755, err) < 0)
		return -1;
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return st_error_set(err, errno, "open `%s`", parent);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return st_error_set(err, errno, "lock `%s`", parent);
	return take_fd(fd);
}

static int refs_count(const char *refs)
{
	_cleanup_closedir_ DIR *d = opendir(refs);
	struct dirent *de;
	int n = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	return n;
}

static int ref_user_ok(const struct cowfs_layer_ref *ref, struct st_error **err)
{
	const char *u = ref->user;

	if (!ref->image || !ref->mnt_dir || !u || !*u || u[0] == '.' || strchr(u, '/'))
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
				     "template layer reference for `%s`",
				     ref->image ? ref->image : "(null)");
	return 0;
}

int cowfs_layer_acquire(const struct cowfs_layer_ref *ref, struct st_error **err)
{
	_cleanup_close_ int lock = -EBADF, rfd = -EBADF;
	_cleanup_free_ char *refs = NULL;
	int mounted;

	if (ref_user_ok(ref, err) < 0)
		return -EINVAL;
	lock = lock_parent(ref->mnt_dir, err);
	if (lock < 0)
		return lock;
	if (asprintf(&refs, "%s.refs", ref->mnt_dir) < 0)
		return st_error_set(err, ENOMEM, "acquire `%s`", ref->image);
	if (mkdir(ref->mnt_dir, 0755) < 0 && errno != EEXIST)
		return st_error_set(err, errno, "create directory `%s`", ref->mnt_dir);
	if (mkdir(refs, 0700) < 0 && errno != EEXIST)
		return st_error_set(err, errno, "create directory `%s`", refs);
	mounted = cowfs_is_mountpoint(ref->mnt_dir);
	if (mounted < 0)
		return st_error_set(err, -mounted, "look at `%s`", ref->mnt_dir);
	if (!mounted && layer_mount(ref, err) < 0) {
		if (refs_count(refs) == 0) {
			rmdir(refs);
			rmdir(ref->mnt_dir);
		}
		return -1;
	}
	rfd = openat(AT_FDCWD, refs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return st_error_set(err, errno, "open `%s`", refs);
	{
		_cleanup_close_ int f =
			openat(rfd, ref->user, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		if (f < 0)
			return st_error_set(err, errno, "record reference `%s/%s`", refs,
					    ref->user);
	}
	st_debug("template layer `%s` acquired by %s", ref->mnt_dir, ref->user);
	return 0;
}

int cowfs_layer_release(const struct cowfs_layer_ref *ref, struct st_error **err)
{
	_cleanup_close_ int lock = -EBADF;
	_cleanup_free_ char *refs = NULL, *mine = NULL;
	int n;

	if (ref_user_ok(ref, err) < 0)
		return -EINVAL;
	lock = lock_parent(ref->mnt_dir, err);
	if (lock < 0)
		return lock;
	if (asprintf(&refs, "%s.refs", ref->mnt_dir) < 0 ||
	    asprintf(&mine, "%s/%s", refs, ref->user) < 0)
		return st_error_set(err, ENOMEM, "release `%s`", ref->image);
	if (unlink(mine) < 0 && errno != ENOENT)
		return st_error_set(err, errno, "drop reference `%s`", mine);
	n = refs_count(refs);
	if (n < 0)
		return st_error_set(err, -n, "count references in `%s`", refs);
	if (n > 0)
		return 0;
	if (layer_umount(ref->mnt_dir, err) < 0)
		return -1;
	rmdir(refs);
	if (rmdir(ref->mnt_dir) < 0 && errno != ENOENT)
		return st_error_set(err, errno, "remove `%s`", ref->mnt_dir);
	st_debug("template layer `%s` unmounted (last user %s)", ref->mnt_dir, ref->user);
	return 0;
}

bool cowfs_layer_is_mounted(const char *mnt_dir)
{
	struct statfs sfs;

	if (cowfs_is_mountpoint(mnt_dir) != 1 || statfs(mnt_dir, &sfs) < 0)
		return false;
	return sfs.f_type == SQUASHFS_MAGIC || sfs.f_type == FUSE_SUPER_MAGIC;
}
