/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Template layers are mounted once per host and stay mounted (the daemon
 * holds a reference of its own, user "stratad") so the next start of a
 * container of the same template does not pay for the squashfs mount.
 * The hold goes with template-remove, and when the daemon stops with no
 * container running.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cow-fs/cowfs.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "runtime/daemon.h"
#include "templates/template.h"

#define HOLD_USER "stratad"

void layer_hold(struct daemon *d, const char *layer_dir, const char *image)
{
	_cleanup_error_ struct st_error *err = NULL;
	struct cowfs_layer_ref ref = {
		.image = image, .mnt_dir = layer_dir, .user = HOLD_USER, .mode = COWFS_MOUNT_AUTO
	};
	struct layer_hold *h;

	for (h = d->holds; h; h = h->next)
		if (!strcmp(h->layer_dir, layer_dir))
			return;
	/* the layer is mounted (a container holds it): this only records us */
	if (cowfs_layer_acquire(&ref, &err) < 0) {
		st_debug("hold template layer `%s`: %s", layer_dir, err->msg);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (!h || !(h->layer_dir = strdup(layer_dir)) || !(h->image = strdup(image))) {
		if (h)
			free(h->layer_dir);
		free(h);
		cowfs_layer_release(&ref, NULL);
		return;
	}
	h->next = d->holds;
	d->holds = h;
}

static bool hold_matches(const struct layer_hold *h, const char *name, unsigned version)
{
	const char *base = strrchr(h->layer_dir, '/');
	size_t nl;

	if (!name)
		return true;
	base = base ? base + 1 : h->layer_dir;
	nl = strlen(name);
	if (strncmp(base, name, nl) || base[nl] != '@')
		return false;
	return version == 0 || strtoul(base + nl + 1, NULL, 10) == version;
}

void layer_unhold(struct daemon *d, const char *name, unsigned version)
{
	for (struct layer_hold **p = &d->holds; *p;) {
		struct layer_hold *h = *p;
		_cleanup_error_ struct st_error *err = NULL;
		struct cowfs_layer_ref ref = { .image = h->image,
					       .mnt_dir = h->layer_dir,
					       .user = HOLD_USER,
					       .mode = COWFS_MOUNT_AUTO };

		if (!hold_matches(h, name, version)) {
			p = &h->next;
			continue;
		}
		if (cowfs_layer_release(&ref, &err) < 0)
			st_warn("release template layer `%s`: %s", h->layer_dir, err->msg);
		*p = h->next;
		free(h->layer_dir);
		free(h->image);
		free(h);
	}
}

/* After a daemon restart: the holds a previous daemon left (a `stratad`
 * reference file next to a mounted layer). */
void layer_holds_load(struct daemon *d)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_closedir_ DIR *dd = NULL;
	struct dirent *e;

	if (asprintf(&dir, "%s/templates", d->g->run_dir) < 0 || !(dd = opendir(dir)))
		return;
	while ((e = readdir(dd))) {
		_cleanup_free_ char *mine = NULL, *layer = NULL, *ref = NULL;
		struct tmpl_manifest m = { 0 };
		size_t len = strlen(e->d_name);
		struct layer_hold *h;

		if (len < 6 || strcmp(e->d_name + len - 5, ".refs"))
			continue;
		ref = strndup(e->d_name, len - 5);
		if (!ref || asprintf(&mine, "%s/%s/" HOLD_USER, dir, e->d_name) < 0 ||
		    asprintf(&layer, "%s/%s", dir, ref) < 0 || access(mine, F_OK) < 0)
			continue;
		if (tmpl_find(d->store, ref, &m, NULL) < 0 || !m.image) {
			tmpl_manifest_clear(&m);
			continue;
		}
		h = calloc(1, sizeof(*h));
		if (h && (h->image = strdup(m.image))) {
			h->layer_dir = take_ptr(layer);
			h->next = d->holds;
			d->holds = h;
		} else {
			free(h);
		}
		tmpl_manifest_clear(&m);
	}
}
