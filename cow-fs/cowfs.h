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

/* The private area: <private>/upper, <private>/work. */
int cowfs_private_create(const char *private_dir, struct st_error **err);
int cowfs_private_destroy(const char *private_dir, struct st_error **err);
int cowfs_private_clone(const char *src_private, const char *dst_private, struct st_error **err);
/* Bytes used by the private area (blocks actually allocated). */
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
int cowfs_root_decompose(const char *target, struct st_error **err);
bool cowfs_root_is_mounted(const char *target);

/* sha256 of a file, hex (65 bytes). */
int cowfs_sha256_file(const char *path, char out[65], struct st_error **err);

#endif
