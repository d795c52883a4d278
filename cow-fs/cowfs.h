/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libcowfs: template images mounted once per host, container roots composed
 * as overlayfs of a private upper layer over the template layer(s), and the
 * private-area lifecycle. No container can ever write to a template.
 *
 * Depends on ksal only; includes no runtime header.
 */
#ifndef STRATA_COWFS_H
#define STRATA_COWFS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ksal/error.h"

enum cowfs_mount_mode { COWFS_MOUNT_AUTO, COWFS_MOUNT_KERNEL, COWFS_MOUNT_FUSE };
int cowfs_mount_mode_parse(const char *s, enum cowfs_mount_mode *out); /* auto|kernel|fuse */

/*
 * The template layer: image mounted read-only at `mnt_dir` (kernel squashfs
 * over a loop device, or squashfuse), reference-counted across containers
 * and daemon restarts (the count lives in `refs_dir`, one file per user, so
 * it survives a crash). Acquire mounts it if needed; release unmounts it
 * when the last user goes.
 */
struct cowfs_layer_ref {
	const char *image;   /* .../image.sqfs */
	const char *sha256;  /* expected hash (hex); NULL: do not verify */
	const char *mnt_dir; /* where it is mounted, e.g. <run>/templates/<name>@<ver> */
	const char *user;    /* who holds the reference, e.g. the CTID */
	enum cowfs_mount_mode mode;
};
int cowfs_layer_acquire(const struct cowfs_layer_ref *ref, struct st_error **err);
int cowfs_layer_release(const struct cowfs_layer_ref *ref, struct st_error **err);
/* Is a template layer (squashfs or squashfuse) mounted at mnt_dir? */
bool cowfs_layer_is_mounted(const char *mnt_dir);
/* Cheap check of an image: squashfs magic, and not shorter than its
 * superblock says (truncated). Errors name the file. */
int cowfs_squashfs_check(const char *image, struct st_error **err);

/* The private area: <private>/upper, <private>/work. */
/* Create does no fsync (3 mkdirs): make it durable with one
 * cowfs_private_sync() (a syncfs) after the config is written, or once after
 * a batch. ST_EXIT_PRIVATE_EXISTS if it exists; a failed create leaves nothing. */
int cowfs_private_create(const char *private_dir, struct st_error **err);
int cowfs_private_sync(const char *private_dir, struct st_error **err);
int cowfs_private_destroy(const char *private_dir, struct st_error **err);
/* A destroy that leaves the removal for later: a plain private area is
 * renamed aside to *retired (<private_dir>.destroyed.<pid>.<n>, malloc'd;
 * cowfs_rm_rf it), an image one destroyed at once (*retired NULL).
 * ST_EXIT_NOPRIVATE if there is none. cowfs_private_is_retired: whether a
 * name in a private directory is such a leftover, or a clone's copy in
 * progress (<private_dir>.cloning.<pid>) left by a daemon that died. */
int cowfs_private_retire(const char *private_dir, char **retired, struct st_error **err);
bool cowfs_private_is_retired(const char *name);
int cowfs_private_clone(const char *src_private, const char *dst_private, struct st_error **err);
/*
 * Rebase support: the paths (relative, "etc/hostname") that the private
 * upper layer shadows in the given template layer mount(s): files, links and
 * whiteouts of the upper whose path exists in a lower, and opaque
 * directories. After a rebase onto a new version these keep the container's
 * copy. *paths is a NULL-terminated malloc'ed array, sorted.
 */
int cowfs_private_shadows(const char *private_dir, const char *const *lowers, char ***paths,
			  size_t *n, struct st_error **err);
/*
 * LAYOUT=image (DISKSPACE hard limit): upper/ and work/ in a sparse ext4
 * image `<private_dir>.img` of limit_bytes, loop-mounted on private_dir while
 * open. Exceeding it is ENOSPC inside the container only. compose opens it
 * itself; the caller closes it after decompose (open and close are no-ops
 * for the plain directory layout). destroy, usage and clone handle both.
 */
int cowfs_private_create_image(const char *private_dir, uint64_t limit_bytes,
			       struct st_error **err);
bool cowfs_private_is_image(const char *private_dir);
/* <private_dir>.img, malloc'd (NULL: no memory), whether it exists or not. */
char *cowfs_private_image_path(const char *private_dir);
int cowfs_private_open(const char *private_dir, struct st_error **err);
int cowfs_private_close(const char *private_dir, struct st_error **err);
/* Bytes used by the private area (blocks actually allocated; for an image,
 * the image file's blocks). */
int cowfs_private_usage(const char *private_dir, uint64_t *bytes, uint64_t *inodes,
			struct st_error **err);

/* Compose a container root. */
struct cowfs_compose {
	const char *const *lowers; /* template layer mount dirs, top first, NULL-terminated */
	const char *private_dir;   /* holds upper/ and work/ */
	const char *target;	   /* where the root is mounted */
	/* With a user namespace: the lowers are idmapped to this range so the
	 * container's root owns the template's root-owned files. count 0: none. */
	uint32_t idmap_base;
	uint32_t idmap_count;
};
int cowfs_root_compose(const struct cowfs_compose *c, struct st_error **err);
/* Unmount the root (lazily only if busy) and remove the empty target dir.
 * ST_EXIT_NOTMOUNTED if it was not mounted. */
int cowfs_root_decompose(const char *target, struct st_error **err);
/* The same, but the unmount is only a detach: *held (an O_PATH fd of the
 * root) keeps the overlay alive until the caller closes it, and that last
 * close does what an unmount waits for (overlayfs syncs its upper
 * filesystem: every dirty page of it, the host's too). */
int cowfs_root_detach(const char *target, int *held, struct st_error **err);
bool cowfs_root_is_mounted(const char *target);

/* A user namespace fd mapping 0..count-1 to base.. (uid and gid), made in a
 * short-lived child. For idmapped mounts. */
int cowfs_userns_fd(uint32_t base, uint32_t count, struct st_error **err);

/* sha256 of a file, hex (65 bytes). */
int cowfs_sha256_file(const char *path, char out[65], struct st_error **err);

#endif
