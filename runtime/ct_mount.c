/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A container's root: its template layer (mounted once per host, held by the
 * daemon) under an overlay with the private area; mount and umount verbs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cow-fs/cowfs.h"
#include "ksal/cleanup.h"
#include "runtime/daemon.h"
#include "templates/template.h"

static void manifest_clearp(struct tmpl_manifest *m)
{
	tmpl_manifest_clear(m);
}
#define _cleanup_manifest_ __attribute__((cleanup(manifest_clearp)))

void ct_mounted_clear(struct ct_mounted *m)
{
	free(m->root);
	free(m->layer_dir);
	free(m->image);
	free(m->sha256);
	memset(m, 0, sizeof(*m));
}

static enum cowfs_mount_mode mount_mode(struct ct *ct)
{
	enum cowfs_mount_mode mode = COWFS_MOUNT_AUTO;
	const char *s = ct_config_str(ct->conf, CT_TEMPLATE_MOUNT);

	if (s)
		cowfs_mount_mode_parse(s, &mode);
	return mode;
}

/* Template layer + overlay root. out gets the paths (for the state file). */
int ct_mount_root(struct daemon *d, struct ct *ct, uint32_t id_base, struct ct_mounted *out,
		  struct st_error **err)
{
	_cleanup_manifest_ struct tmpl_manifest m = { 0 };
	_cleanup_free_ char *priv = g_ct_private_path(d->g, ct->conf, ct->ctid);
	const char *tref = ct_config_str(ct->conf, CT_OSTEMPLATE);
	struct cowfs_layer_ref ref;
	const char *lowers[2] = { NULL, NULL };
	struct cowfs_compose comp = { 0 };

	memset(out, 0, sizeof(*out));
	/* the last stop's overlay over the same upper and work dirs is gone */
	closer_wait(ct->root_ticket);
	out->root = g_ct_root_path(d->g, ct->conf, ct->ctid);
	if (!priv || !out->root)
		return st_error_set(err, ENOMEM, "mount %s", ct->ctid);
	if (access(priv, F_OK) < 0)
		return st_error_setx(err, ST_EXIT_NOPRIVATE, errno, "private area `%s`", priv);
	if (!tref || !*tref)
		return st_error_setx(err, ST_EXIT_NOTEMPLATE_SET, 0, "no OSTEMPLATE in the config");
	if (tmpl_find(d->store, tref, &m, err) < 0)
		return -1;
	out->layer_dir = tmpl_mount_dir(d->g->run_dir, &m);
	out->image = m.image ? strdup(m.image) : NULL;
	out->sha256 = strdup(m.sha256);
	out->has_init = m.has_init;
	if (!out->layer_dir || !out->image || !out->sha256)
		return st_error_set(err, ENOMEM, "mount %s", ct->ctid);
	ref = (struct cowfs_layer_ref){ .image = out->image,
					.sha256 = out->sha256,
					.mnt_dir = out->layer_dir,
					.user = ct->ctid,
					.mode = mount_mode(ct) };
	if (cowfs_layer_acquire(&ref, err) < 0)
		return -1;
	daemon_lock(d); /* the daemon's list of held layers (a start worker) */
	layer_hold(d, out->layer_dir, out->image);
	daemon_unlock(d);
	if (cowfs_root_is_mounted(out->root))
		return 0;
	lowers[0] = out->layer_dir;
	comp.lowers = lowers;
	comp.private_dir = priv;
	comp.target = out->root;
	comp.idmap_base = id_base;
	comp.idmap_count = id_base ? CT_ID_RANGE_SIZE : 0;
	if (cowfs_root_compose(&comp, err) < 0) {
		cowfs_private_close(priv, NULL);
		cowfs_layer_release(&ref, NULL);
		return -1;
	}
	return 0;
}

void ct_unmount_root(struct ct_mounted *m, const char *ctid)
{
	struct cowfs_layer_ref ref = { .image = m->image,
				       .sha256 = NULL,
				       .mnt_dir = m->layer_dir,
				       .user = ctid,
				       .mode = COWFS_MOUNT_AUTO };

	if (m->root && cowfs_root_is_mounted(m->root))
		cowfs_root_decompose(m->root, NULL);
	if (m->layer_dir && m->image)
		cowfs_layer_release(&ref, NULL);
}

uint32_t ct_id_base(struct ct *ct)
{
	if (ct_config_bool(ct->conf, CT_PRIVILEGED, false))
		return 0;
	return (uint32_t)ct_config_uint(ct->conf, CT_ID_BASE, 0);
}

int ct_do_mount(struct daemon *d, struct ct *ct, struct st_error **err)
{
	struct ct_mounted m;

	if (!ct->conf)
		return st_error_setx(err, ST_EXIT_NOCONFIG, 0, "mount %s: no valid config",
				     ct->ctid);
	if (ct_is_mounted(d, ct))
		return st_error_setx(err, ST_EXIT_MOUNTED, 0, "mount %s: already mounted",
				     ct->ctid);
	if (ct_mount_root(d, ct, ct_id_base(ct), &m, err) < 0) {
		ct_mounted_clear(&m);
		if (*err && (*err)->exit_code == ST_EXIT_SYSTEM)
			(*err)->exit_code = ST_EXIT_MOUNTFAIL;
		return st_error_prefix(err, "mount %s", ct->ctid);
	}
	ct_mounted_clear(&m);
	return 0;
}

int ct_root_let_go(struct daemon *d, struct ct *ct, const char *root, struct st_error **err)
{
	_cleanup_free_ char *priv = ct->conf ? g_ct_private_path(d->g, ct->conf, ct->ctid) : NULL;
	int held = -EBADF;

	/* A plain private area is on the host's filesystem, which the
	 * overlay's unmount syncs: detached here, gone on the closer's
	 * thread. An image's own small filesystem is unmounted after the
	 * root (ct_private_close): at once, as before. */
	if (!priv || cowfs_private_is_image(priv))
		return cowfs_root_decompose(root, err);
	if (cowfs_root_detach(root, &held, err) < 0)
		return -1;
	ct->root_ticket = closer_put(held);
	return 0;
}

int ct_do_umount(struct daemon *d, struct ct *ct, struct st_error **err)
{
	_cleanup_manifest_ struct tmpl_manifest m = { 0 };
	_cleanup_free_ char *root = g_ct_root_path(d->g, ct->conf, ct->ctid);
	_cleanup_free_ char *layer = NULL;
	const char *tref = ct->conf ? ct_config_str(ct->conf, CT_OSTEMPLATE) : NULL;

	if (ct->run != CT_STOPPED)
		return st_error_setx(err, ST_EXIT_RUNNING, 0,
				     "umount %s: container is running; stop it first", ct->ctid);
	if (!root || !cowfs_root_is_mounted(root))
		return st_error_setx(err, ST_EXIT_NOTMOUNTED, 0, "umount %s: not mounted",
				     ct->ctid);
	if (ct_root_let_go(d, ct, root, err) < 0) {
		if (*err)
			(*err)->exit_code = ST_EXIT_UMOUNTFAIL;
		return st_error_prefix(err, "umount %s", ct->ctid);
	}
	ct_private_close(d, ct);
	if (tref && tmpl_find(d->store, tref, &m, NULL) == 0 &&
	    (layer = tmpl_mount_dir(d->g->run_dir, &m))) {
		struct cowfs_layer_ref ref = { .image = m.image,
					       .mnt_dir = layer,
					       .user = ct->ctid,
					       .mode = COWFS_MOUNT_AUTO };
		if (cowfs_layer_release(&ref, err) < 0)
			return st_error_prefix(err, "umount %s", ct->ctid);
	}
	return 0;
}
