/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Internals of runtime/checkpoint*.c. */
#ifndef STRATA_RUNTIME_CHECKPOINT_INTERNAL_H
#define STRATA_RUNTIME_CHECKPOINT_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>

#include "runtime/checkpoint.h"

/* One external mount: CRIU's key, where it is inside, its host source. */
struct ckpt_ext {
	char *key;
	char *mountpoint;
	char *host_path;
};

void ckpt_ext_free(struct ckpt_ext *e, size_t n);
/* Every external mount of the container whose init is pid (plus extra). */
int ckpt_ext_find(pid_t pid, const struct ct_ckpt_mount *extra, size_t n_extra,
		  struct ckpt_ext **out, size_t *n_out, struct st_error **err);
/* The same from two mountinfo files (the container's, the daemon's). */
int ckpt_ext_find_in(const char *ct_mountinfo, const char *host_mountinfo,
		     const struct ct_ckpt_mount *extra, size_t n_extra, struct ckpt_ext **out,
		     size_t *n_out, struct st_error **err);
/* Kept in the image dir as CT_CKPT_EXT_FILE, one "key\tmountpoint\thost\n" a line. */
int ckpt_ext_save(int dirfd, const struct ckpt_ext *e, size_t n, struct st_error **err);
int ckpt_ext_load(int dirfd, struct ckpt_ext **out, size_t *n_out, struct st_error **err);

#endif
