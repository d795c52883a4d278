/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers shared by the template store and builder. Not a public API. */
#ifndef STRATA_TEMPLATES_STORE_INTERNAL_H
#define STRATA_TEMPLATES_STORE_INTERNAL_H

#include "templates/template.h"

struct tmpl_store {
	char *templates_dir, *cache_dir, *recipes_dir, *init_path;
};

/* flock <templates>/<name> (created); returns the fd. */
int store_lock_name(struct tmpl_store *s, const char *name, struct st_error **err);
/* Remove <templates>/<name> if it is empty (after a failed build/import). */
void store_prune_name(struct tmpl_store *s, const char *name);
/* Highest version of name, 0 if none. */
int store_latest(struct tmpl_store *s, const char *name, unsigned *ver, struct st_error **err);
/* A fresh staging dir <templates>/<name>/.stage-XXXXXX (malloc'ed path). */
char *store_stage(struct tmpl_store *s, const char *name, struct st_error **err);
/* staging/image.sqfs is complete: hash it, fill m (name, version, sha256,
 * size, created, image), write staging/manifest.json, sync, rename to
 * <templates>/<name>/<version>. The staging dir is gone after success. */
int store_install(struct tmpl_store *s, const char *stage, struct tmpl_manifest *m,
		  struct st_error **err);
/* mksquashfs tree -> image (zstd). all_root: every file owned by root. */
int store_mksquashfs(const char *tree, const char *image, bool all_root, struct st_error **err);
/* Does the tree have /sbin/init (or /usr/sbin/init)? */
bool store_tree_has_init(const char *tree);
/* The halt signal for an init whose link target is `target` (NULL: none). */
const char *store_halt_signal(bool has_init, const char *target);
/* The link target of the tree's sbin/init (malloc'ed), or NULL. */
char *store_tree_init_target(const char *tree);
/* "pkg version" lines of the tree's dpkg database (NULL-terminated). */
char **store_tree_packages(const char *tree);
void progress_step(tmpl_progress_fn fn, void *data, const char *step, unsigned pct);

#endif
