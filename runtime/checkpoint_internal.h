/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Internals of runtime/checkpoint*.c. */
#ifndef STRATA_RUNTIME_CHECKPOINT_INTERNAL_H
#define STRATA_RUNTIME_CHECKPOINT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

/* checkpoint_images.c: the image directory. */
int ckpt_rm_rf(const char *path);	  /* 0 or -errno; a missing path is fine */
uint64_t ckpt_dir_bytes(int dirfd);	  /* bytes of its regular files */
int ckpt_mkdir_parents(const char *path); /* mkdir -p of path's parents */
/* Images readable by the restored tasks (the container's root). */
void ckpt_images_open_up(int dirfd);
/* CRIU's stats-dump (dump) or stats-restore image into r's timings. */
void ckpt_stats_read(int dirfd, bool dump, struct ct_ckpt_result *r);
/* A small file of the image dir: write text; read its first line
 * (malloc'd, NULL if there is none). */
int ckpt_write_small(int dirfd, const char *name, const char *text);
char *ckpt_read_small(int dirfd, const char *name);

#endif
