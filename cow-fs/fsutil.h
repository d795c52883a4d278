/* SPDX-License-Identifier: GPL-2.0-or-later */
/* File-system helpers shared by cow-fs and templates (not for the runtime). */
#ifndef STRATA_COWFS_FSUTIL_H
#define STRATA_COWFS_FSUTIL_H

#include <stdbool.h>
#include <sys/types.h>

#include "ksal/error.h"

/* Run argv[0] (PATH lookup) with stdin and stdout on /dev/null (stdout to
 * `out_fd` if >= 0); its stderr tail goes into the error message when it
 * fails. 0 when it exits 0. */
int cowfs_run(const char *const argv[], int out_fd, struct st_error **err);
/* The same in a private mount namespace: mounts it makes die with it. */
int cowfs_run_private(const char *const argv[], int out_fd, struct st_error **err);
/* The same inside `root`: a private mount namespace with /proc and /dev of
 * the host mounted in root, then chroot(root); for builder steps. */
int cowfs_run_chroot(const char *root, const char *const argv[], int out_fd, struct st_error **err);
/* Attach a file to a free loop device (autoclear; read-only or not): the
 * device's open fd, its path in dev. The device goes with its last user. */
int cowfs_loop_attach(const char *image, bool read_only, char *dev, size_t devlen,
		      struct st_error **err);
int cowfs_mkdir_p(const char *path, mode_t mode, struct st_error **err);
/* 1 if path is the root of a mount, 0 if not, negative errno on error. */
int cowfs_is_mountpoint(const char *path);
/* Remove a tree, whatever its permissions and attributes (immutable,
 * append-only are cleared); never crosses into another mount. ENOENT is OK. */
int cowfs_rm_rf(const char *path, struct st_error **err);
/* Copy a regular file (copy_file_range), mode `mode`, no fsync. */
int cowfs_copy_file(const char *src, const char *dst, mode_t mode, struct st_error **err);
/* Write a whole small file (O_CREAT|O_TRUNC). */
int cowfs_write_file(const char *path, const char *text, mode_t mode, struct st_error **err);

/* The image layout's part of destroy and usage (image.c). */
int cowfs_private_destroy_image(const char *private_dir, struct st_error **err);
int cowfs_private_usage_image(const char *private_dir, uint64_t *bytes, uint64_t *inodes,
			      struct st_error **err);

#endif
