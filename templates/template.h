/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The template store: versioned, content-hashed squashfs images of root-OS
 * trees, built from recipes (templates/recipes/NAME.recipe) or imported.
 *
 *   <templates_dir>/<name>/<version>/image.sqfs
 *   <templates_dir>/<name>/<version>/manifest.json
 *   <cache_dir>/rootfs/<name>-<recipe-hash>/      cached debootstrap trees
 *
 * Versions are integers 1, 2, ...; "name" means the latest version,
 * "name@3" version 3. Every function that fails fills *err with a message
 * naming the operation and object, and an exit code (ST_EXIT_NOTEMPLATE when
 * a template is missing, ST_EXIT_BADVALUE for a bad name).
 */
#ifndef STRATA_TEMPLATE_H
#define STRATA_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ksal/error.h"

#define TMPL_DEFAULT_TEMPLATES_DIR "/var/lib/strata/templates"
#define TMPL_DEFAULT_CACHE_DIR "/var/cache/strata"
#define TMPL_NAME_MAX 64

struct tmpl_manifest {
	char *name;
	unsigned version;	 /* 1, 2, ... */
	unsigned parent_version; /* 0: none (built or imported, not updated) */
	char sha256[65];	 /* of image.sqfs, hex */
	uint64_t size;		 /* bytes of image.sqfs */
	int64_t created;	 /* unix time, seconds */
	char *base;		 /* "busybox", "debootstrap" or "import" */
	char *recipe_hash;	 /* sha256 of the recipe text; NULL for imports */
	char **packages;	 /* NULL-terminated, "name version" or just "name" */
	bool has_init;		 /* the image has /sbin/init */
	char *image;		 /* absolute path of image.sqfs (not stored in the JSON) */
	/* The signal that halts the image's init cleanly: "SIGRTMIN+3" for
	 * systemd, "SIGUSR2" for busybox init (poweroff), "SIGTERM" for
	 * strata-init (images without an init) and unknown inits. */
	char *halt_signal;
};
void tmpl_manifest_clear(struct tmpl_manifest *m); /* frees members, zeroes */
/* manifest.json in jansson; write is atomic (tmp + fsync + rename). */
int tmpl_manifest_read(const char *path, struct tmpl_manifest *m, struct st_error **err);
int tmpl_manifest_write(const char *path, const struct tmpl_manifest *m, struct st_error **err);

/* Template and container names: 1..64 chars of [A-Za-z0-9._+-], not starting
 * with '.' or '-', no '/', no "..", no control characters. 0 or -EINVAL with
 * *err (ST_EXIT_BADVALUE) naming the name. `what` is "template", "container"... */
int tmpl_name_validate(const char *name, const char *what, struct st_error **err);
/* "name" -> version 0 (latest), "name@3" -> 3. *name is malloc'ed. */
int tmpl_ref_parse(const char *ref, char **name, unsigned *version, struct st_error **err);

struct tmpl_store_opts {
	const char *templates_dir; /* NULL: TMPL_DEFAULT_TEMPLATES_DIR */
	const char *cache_dir;	   /* NULL: TMPL_DEFAULT_CACHE_DIR */
	const char *recipes_dir;   /* NULL: STRATA_DATADIR/recipes */
	const char *init_path;	   /* strata-init to copy into images without init; NULL: none */
};
struct tmpl_store;
int tmpl_store_open(const struct tmpl_store_opts *opts, struct tmpl_store **out,
		    struct st_error **err);
void tmpl_store_free(struct tmpl_store *s);
static inline void tmpl_store_freep(struct tmpl_store **s)
{
	if (*s)
		tmpl_store_free(*s);
	*s = NULL;
}
#define _cleanup_tmpl_store_ __attribute__((cleanup(tmpl_store_freep)))

/* Progress of a long job: a short step name and 0..100. May be NULL. */
typedef void (*tmpl_progress_fn)(const char *step, unsigned percent, void *data);

/* Build recipe `name` into version N+1 (1 if none). Reuses the cached rootfs
 * when the recipe did not change. *out filled on success (may be NULL). */
int tmpl_build(struct tmpl_store *s, const char *name, tmpl_progress_fn progress, void *data,
	       struct tmpl_manifest *out, struct st_error **err);
/* Every version of every template, sorted by name then version. */
int tmpl_list(struct tmpl_store *s, struct tmpl_manifest **out, size_t *n, struct st_error **err);
void tmpl_manifests_free(struct tmpl_manifest *v, size_t n);
/* "name" (latest) or "name@ver"; ST_EXIT_NOTEMPLATE if missing. */
int tmpl_find(struct tmpl_store *s, const char *ref, struct tmpl_manifest *out,
	      struct st_error **err);
/* Import a squashfs image or a rootfs tarball (.tar, .tar.gz, .tar.zst ...)
 * as version N+1 of `name`: verified (squashfs superblock readable), hashed,
 * manifest written. */
int tmpl_import(struct tmpl_store *s, const char *name, const char *file, struct tmpl_manifest *out,
		struct st_error **err);
/* Copy the image of `ref` to `file` (a squashfs image). */
int tmpl_export(struct tmpl_store *s, const char *ref, const char *file, struct st_error **err);
/* Remove `ref` ("name": every version). `users` (NULL-terminated, may be
 * NULL) are the containers that use the versions to be removed: if any, the
 * removal is refused (ST_EXIT_LOCKED) with their names in the message. */
int tmpl_remove(struct tmpl_store *s, const char *ref, const char *const *users,
		struct st_error **err);
/* Version N+1 of a Debian template from its latest version N: N's tree,
 * `apt-get upgrade` in a chroot, new image; N is not touched. */
int tmpl_update(struct tmpl_store *s, const char *name, tmpl_progress_fn progress, void *data,
		struct tmpl_manifest *out, struct st_error **err);

/* Where the daemon mounts a template layer: <run_dir>/templates/<name>@<ver>
 * (malloc'ed). Use with cowfs_layer_acquire(). */
char *tmpl_mount_dir(const char *run_dir, const struct tmpl_manifest *m);

#endif
