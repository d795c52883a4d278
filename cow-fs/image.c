/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * LAYOUT=image: a private area whose upper/ and work/ live in a sparse ext4
 * image file `<private>.img` of the DISKSPACE hard limit, loop-mounted on
 * <private> while in use. A container that fills it gets ENOSPC inside and
 * takes nothing from the host's file system beyond the limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cow-fs/cowfs.h"
#include "cow-fs/fsutil.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/syscalls.h"

#define IMAGE_MIN (4ULL << 20)

char *cowfs_private_image_path(const char *private_dir)
{
	char *p = NULL;

	if (asprintf(&p, "%s.img", private_dir) < 0)
		return NULL;
	return p;
}

bool cowfs_private_is_image(const char *private_dir)
{
	_cleanup_free_ char *img = cowfs_private_image_path(private_dir);
	struct stat st;

	return img && stat(img, &st) == 0 && S_ISREG(st.st_mode);
}

int cowfs_private_open(const char *private_dir, struct st_error **err)
{
	_cleanup_free_ char *img = cowfs_private_image_path(private_dir);
	_cleanup_close_ int lfd = -EBADF, fsfd = -EBADF, mfd = -EBADF;
	char dev[64];

	if (!img)
		return st_error_set(err, ENOMEM, "open private area `%s`", private_dir);
	if (!cowfs_private_is_image(private_dir) || cowfs_is_mountpoint(private_dir) == 1)
		return 0;
	lfd = cowfs_loop_attach(img, false, dev, sizeof(dev), err);
	if (lfd < 0)
		return st_error_prefix(err, "open private area `%s`: ", private_dir);
	fsfd = fsopen("ext4", FSOPEN_CLOEXEC);
	if (fsfd < 0) {
		if (mount(dev, private_dir, "ext4", MS_NODEV | MS_NOSUID, NULL) < 0)
			return st_error_setx(err, ST_EXIT_MOUNTFAIL, errno,
					     "mount private image `%s` on `%s`", img, private_dir);
		return 0;
	}
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", dev, 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return st_error_setx(err, ST_EXIT_MOUNTFAIL, errno,
				     "mount private image `%s` (%s) on `%s`", img, dev,
				     private_dir);
	mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
	if (mfd < 0 || move_mount(mfd, "", AT_FDCWD, private_dir, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return st_error_setx(err, ST_EXIT_MOUNTFAIL, errno,
				     "mount private image `%s` on `%s`", img, private_dir);
	st_trace("mounted private image `%s` via %s on `%s`", img, dev, private_dir);
	return 0;
}

int cowfs_private_close(const char *private_dir, struct st_error **err)
{
	if (!cowfs_private_is_image(private_dir) || cowfs_is_mountpoint(private_dir) != 1)
		return 0;
	if (umount2(private_dir, UMOUNT_NOFOLLOW) < 0)
		return st_error_setx(err, ST_EXIT_UMOUNTFAIL, errno, "unmount private area `%s`",
				     private_dir);
	st_trace("unmounted private image of `%s`", private_dir);
	return 0;
}

static int image_fill(const char *private_dir, struct st_error **err)
{
	_cleanup_free_ char *upper = NULL, *work = NULL;

	if (cowfs_private_open(private_dir, err) < 0)
		return -1;
	if (asprintf(&upper, "%s/upper", private_dir) < 0 ||
	    asprintf(&work, "%s/work", private_dir) < 0)
		return st_error_set(err, ENOMEM, "create private area `%s`", private_dir);
	if (mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0 || chmod(private_dir, 0700) < 0)
		return st_error_setx(err, ST_EXIT_CREATEPRIV, errno, "create `%s`", upper);
	return cowfs_private_close(private_dir, err);
}

int cowfs_private_create_image(const char *private_dir, uint64_t limit_bytes, struct st_error **err)
{
	_cleanup_free_ char *img = cowfs_private_image_path(private_dir);
	_cleanup_close_ int fd = -EBADF;
	struct stat st;

	if (!img)
		return st_error_set(err, ENOMEM, "create private area `%s`", private_dir);
	if (limit_bytes < IMAGE_MIN)
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "create private area `%s`: disk space limit %llu is below "
				     "4 MiB",
				     private_dir, (unsigned long long)limit_bytes);
	if (lstat(private_dir, &st) == 0 || lstat(img, &st) == 0)
		return st_error_setx(err, ST_EXIT_PRIVATE_EXISTS, EEXIST,
				     "create private area `%s`", private_dir);
	if (cowfs_mkdir_p(private_dir, 0700, err) < 0)
		return -1;
	fd = open(img, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)limit_bytes) < 0) {
		int e = errno;

		unlink(img);
		rmdir(private_dir);
		return st_error_setx(err, e == ENOSPC ? ST_EXIT_NOSPACE : ST_EXIT_CREATEPRIV, e,
				     "create private image `%s`", img);
	}
	closep(&fd);
	{
		const char *argv[] = { "mkfs.ext4",
				       "-q",
				       "-F",
				       "-m",
				       "0",
				       "-E",
				       "lazy_itable_init=1,lazy_journal_init=1,nodiscard",
				       img,
				       NULL };

		if (cowfs_run(argv, -1, err) < 0 || image_fill(private_dir, err) < 0) {
			cowfs_private_close(private_dir, NULL);
			unlink(img);
			rmdir(private_dir);
			return st_error_prefix(err, "create private area `%s`: ", private_dir);
		}
	}
	st_trace("created private area `%s` in a %llu-byte image", private_dir,
		 (unsigned long long)limit_bytes);
	return 0;
}

/* Called by cowfs_private_destroy for the image layout. */
int cowfs_private_destroy_image(const char *private_dir, struct st_error **err)
{
	_cleanup_free_ char *img = cowfs_private_image_path(private_dir);

	if (!img)
		return st_error_set(err, ENOMEM, "destroy private area `%s`", private_dir);
	if (cowfs_private_close(private_dir, err) < 0)
		return st_error_prefix(err, "destroy: ");
	if (rmdir(private_dir) < 0 && errno != ENOENT)
		return st_error_setx(err, ST_EXIT_DESTROYFAIL, errno, "destroy private area `%s`",
				     private_dir);
	if (unlink(img) < 0 && errno != ENOENT)
		return st_error_setx(err, ST_EXIT_DESTROYFAIL, errno, "remove `%s`", img);
	return 0;
}

/* Bytes the image takes on the host, and inodes used inside when mounted. */
int cowfs_private_usage_image(const char *private_dir, uint64_t *bytes, uint64_t *inodes,
			      struct st_error **err)
{
	_cleanup_free_ char *img = cowfs_private_image_path(private_dir);
	struct statfs sfs;
	struct stat st;

	if (!img || stat(img, &st) < 0)
		return st_error_setx(err, ST_EXIT_NOPRIVATE, errno ? errno : ENOMEM,
				     "usage of private area `%s`", private_dir);
	if (bytes)
		*bytes = (uint64_t)st.st_blocks * 512;
	if (inodes)
		*inodes = cowfs_is_mountpoint(private_dir) == 1 && statfs(private_dir, &sfs) == 0
				  ? (uint64_t)(sfs.f_files - sfs.f_ffree)
				  : 0;
	return 0;
}
