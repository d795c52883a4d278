/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Templates and private areas through the daemon: rebase (now, or at the
 * next start with --on-restart), the private-area layout at create
 * (LAYOUT=image for a DISKSPACE hard limit), disk usage for `list`, and the
 * template manifest's halt signal.
 *
 * A pending rebase is one file, STATE_DIR/rebase/CTID, holding the target
 * "NAME@VERSION"; the next start applies it before it mounts the root.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/quota.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cow-fs/cowfs.h"
#include "cow-fs/fsutil.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "runtime/daemon.h"
#include "templates/template.h"

static void manifest_clearp(struct tmpl_manifest *m)
{
	tmpl_manifest_clear(m);
}
#define _cleanup_manifest_ __attribute__((cleanup(manifest_clearp)))

/* ---- the halt signal of the template's init ---- */

int ct_halt_signal_parse(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = { { "SIGTERM", SIGTERM }, { "SIGINT", SIGINT },  { "SIGUSR1", SIGUSR1 },
		     { "SIGUSR2", SIGUSR2 }, { "SIGPWR", SIGPWR },  { "SIGHUP", SIGHUP },
		     { "SIGQUIT", SIGQUIT }, { "SIGKILL", SIGKILL } };
	char *end = NULL;
	long n;

	if (!s || !*s)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		if (!strcmp(s, sigs[i].name) || !strcmp(s, sigs[i].name + 3))
			return sigs[i].sig;
	if (!strncmp(s, "SIGRTMIN", 8)) {
		n = 0;
		if (s[8] == '+')
			n = strtol(s + 9, &end, 10);
		else if (s[8] != '\0')
			return 0;
		if (end && *end)
			return 0;
		return SIGRTMIN + n <= SIGRTMAX ? SIGRTMIN + (int)n : 0;
	}
	n = strtol(s, &end, 10);
	return *end == '\0' && n > 0 && n <= SIGRTMAX ? (int)n : 0;
}

int ct_template_halt_signal(struct daemon *d, struct ct *ct)
{
	_cleanup_manifest_ struct tmpl_manifest m = { 0 };
	const char *tref = ct->conf ? ct_config_str(ct->conf, CT_OSTEMPLATE) : NULL;

	if (!tref || tmpl_find(d->store, tref, &m, NULL) < 0)
		return 0;
	return ct_halt_signal_parse(m.halt_signal);
}

/* ---- private area: layout, DISKSPACE, usage ---- */

/* Is DISKSPACE among the create request's own arguments? */
static bool args_give_diskspace(json_t *args)
{
	json_t *opts = args ? json_object_get(args, "options") : NULL;
	const char *key;
	json_t *v;

	json_object_foreach (opts, key, v) {
		int id = ct_key_lookup(key);
		if (id < 0)
			id = ct_key_lookup_option(key, NULL);
		if (id == CT_DISKSPACE)
			return true;
	}
	return false;
}

/* Project quotas on the filesystem of dir (the parent of the private areas)? */
static bool project_quota_on(const char *dir)
{
#ifdef SYS_quotactl_fd
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct if_dqinfo info;

	if (fd < 0)
		return false;
	return syscall(SYS_quotactl_fd, fd, QCMD(Q_GETINFO, PRJQUOTA), 0, &info) == 0;
#else
	(void)dir;
	return false;
#endif
}

int ct_private_create(struct daemon *d, const struct ct_config *c, json_t *args, const char *ctid,
		      const char *priv, struct st_error **err)
{
	const struct ct_value *ds = &c->v[CT_DISKSPACE];
	const char *layout = ct_config_str(c, CT_LAYOUT);
	uint64_t limit;

	if (!ds->set && d->g->ct_defaults)
		ds = &d->g->ct_defaults->v[CT_DISKSPACE];
	if (!layout && d->g->ct_defaults)
		layout = ct_config_str(d->g->ct_defaults, CT_LAYOUT);
	limit = ds->set ? ds->p.limit : CT_UNLIMITED;

	if (layout && !strcmp(layout, "image")) {
		if (limit == CT_UNLIMITED || limit == 0)
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "LAYOUT=image needs a DISKSPACE limit (the size of "
					     "the image), e.g. --diskspace 10G");
		return cowfs_private_create_image(priv, limit, err);
	}
	if (limit != CT_UNLIMITED && limit != 0) {
		_cleanup_free_ char *parent = strdup(priv);
		char *slash = parent ? strrchr(parent, '/') : NULL;
		bool pq;

		if (slash && slash != parent)
			*slash = '\0';
		pq = parent && project_quota_on(parent);
		if (args_give_diskspace(args))
			return st_error_setx(
				err, ST_EXIT_BADVALUE, 0,
				"DISKSPACE cannot be enforced with LAYOUT=dir: %s; use --layout "
				"image (a sparse ext4 image of the limit's size)",
				pq ? "project quotas are not implemented by strata yet"
				   : "the filesystem under the private areas has no project "
				     "quotas (ext4 needs the `project` and `quota` features)");
		st_warn("create %s: DISKSPACE is not enforced with LAYOUT=dir (%s); use "
			"LAYOUT=image for a hard limit",
			ctid, pq ? "project quotas are not implemented" : "no project quotas");
	}
	return cowfs_private_create(priv, err);
}

void ct_private_close(struct daemon *d, struct ct *ct)
{
	_cleanup_error_ struct st_error *err = NULL;
	_cleanup_free_ char *priv = ct->conf ? g_ct_private_path(d->g, ct->conf, ct->ctid) : NULL;
	_cleanup_free_ char *stub = NULL;
	struct stat st;

	/* A template without an init gets strata-init bound on /sbin/init; the
	 * bind's empty target file was copied up into the private layer. Left
	 * there it would shadow the init of a template rebased onto later. */
	if (priv && !ct->has_init && asprintf(&stub, "%s/upper/sbin/init", priv) >= 0 &&
	    lstat(stub, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0 && unlink(stub) == 0)
		st_trace("removed the strata-init mount point `%s`", stub);
	if (priv && cowfs_private_close(priv, &err) < 0)
		st_warn("%s %s: %s", "close private area of", ct->ctid, err->msg);
}

json_t *ct_diskspace_json(struct daemon *d, struct ct *ct)
{
	_cleanup_free_ char *priv = ct->conf ? g_ct_private_path(d->g, ct->conf, ct->ctid) : NULL;
	uint64_t bytes = 0;

	if (!priv || cowfs_private_usage(priv, &bytes, NULL, NULL) < 0)
		return json_null();
	return json_integer((json_int_t)((bytes + 1023) / 1024));
}

/* ---- rebase ---- */

static char *pending_path(struct daemon *d, const char *ctid)
{
	char *p = NULL;

	if (asprintf(&p, "%s/rebase/%s", d->g->state_dir, ctid) < 0)
		return NULL;
	return p;
}

void ct_rebase_pending_drop(struct daemon *d, struct ct *ct)
{
	_cleanup_free_ char *p = pending_path(d, ct->ctid);

	if (p)
		unlink(p);
}

static int pending_write(struct daemon *d, struct ct *ct, const char *ref, struct st_error **err)
{
	_cleanup_free_ char *dir = NULL, *p = pending_path(d, ct->ctid);

	if (!p || asprintf(&dir, "%s/rebase", d->g->state_dir) < 0)
		return st_error_set(err, ENOMEM, "rebase %s", ct->ctid);
	if (mkdir(d->g->state_dir, 0755) < 0 && errno != EEXIST)
		return st_error_set(err, errno, "create `%s`", d->g->state_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return st_error_set(err, errno, "create `%s`", dir);
	return st_write_file_atomic(p, ref, strlen(ref), 0600, true, err);
}

/* The shadow list of ct's private area over the layer of m. */
static int shadows_of(struct daemon *d, struct ct *ct, const char *priv,
		      const struct tmpl_manifest *m, json_t **out, struct st_error **err)
{
	_cleanup_free_ char *layer = tmpl_mount_dir(d->g->run_dir, m);
	char **paths __attribute__((cleanup(strv_freep))) = NULL;
	const char *lowers[2] = { NULL, NULL };
	struct cowfs_layer_ref ref;
	size_t n = 0;
	int r;

	if (!layer)
		return st_error_set(err, ENOMEM, "rebase %s", ct->ctid);
	ref = (struct cowfs_layer_ref){
		.image = m->image, .sha256 = m->sha256, .mnt_dir = layer, .user = ct->ctid
	};
	if (cowfs_layer_acquire(&ref, err) < 0)
		return -1;
	/* the daemon keeps it mounted: the container starts on it next */
	layer_hold(d, layer, m->image);
	lowers[0] = layer;
	if (cowfs_private_open(priv, err) < 0) {
		cowfs_layer_release(&ref, NULL);
		return -1;
	}
	r = cowfs_private_shadows(priv, lowers, &paths, &n, err);
	cowfs_private_close(priv, NULL);
	cowfs_layer_release(&ref, NULL);
	if (r < 0)
		return -1;
	*out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(*out, json_string(paths[i]));
	return 0;
}

/* Rebase a stopped container onto m now; *shadows: what keeps its copy. */
static int rebase_now(struct daemon *d, struct ct *ct, const struct tmpl_manifest *m,
		      json_t **shadows, struct st_error **err)
{
	_cleanup_free_ char *conf_path = g_ct_conf_path(d->g, ct->ctid);
	_cleanup_free_ char *priv = g_ct_private_path(d->g, ct->conf, ct->ctid);
	_cleanup_free_ char *ref = NULL;
	_cleanup_ct_config_ struct ct_config *file = NULL;

	if (!conf_path || !priv || asprintf(&ref, "%s@%u", m->name, m->version) < 0)
		return st_error_set(err, ENOMEM, "rebase %s", ct->ctid);
	if (ct_is_suspended(d, ct))
		return st_error_setx(err, ST_EXIT_RESTORE, 0,
				     "container is suspended: its checkpoint needs the old "
				     "template; resume it first");
	if (access(priv, F_OK) < 0)
		return st_error_setx(err, ST_EXIT_NOPRIVATE, errno, "private area `%s`", priv);
	if (ct_is_mounted(d, ct) && ct_do_umount(d, ct, err) < 0)
		return -1;
	if (shadows_of(d, ct, priv, m, shadows, err) < 0)
		return -1;
	if (ct_config_load(conf_path, &file, err) < 0 ||
	    ct_config_set(file, "OSTEMPLATE", ref, err) < 0 ||
	    ct_config_save(file, conf_path, err) < 0) {
		json_decref(*shadows);
		*shadows = NULL;
		return -1;
	}
	ct_rebase_pending_drop(d, ct);
	if (ct_reload_config(d, ct, err) < 0)
		return -1;
	st_info("rebased container %s onto %s (%zu shadowed paths)", ct->ctid, ref,
		json_array_size(*shadows));
	return 0;
}

int ct_rebase_pending_apply(struct daemon *d, struct ct *ct, struct st_error **err)
{
	_cleanup_free_ char *p = pending_path(d, ct->ctid);
	_cleanup_manifest_ struct tmpl_manifest m = { 0 };
	_cleanup_free_ char *ref = NULL;
	json_t *shadows = NULL;
	size_t len = 0;
	FILE *f;

	if (!p || access(p, F_OK) < 0)
		return 0;
	f = fopen(p, "re");
	if (!f)
		return st_error_set(err, errno, "read pending rebase `%s`", p);
	if (getline(&ref, &len, f) < 0) {
		fclose(f);
		unlink(p);
		return 0;
	}
	fclose(f);
	ref[strcspn(ref, "\n")] = '\0';
	if (tmpl_find(d->store, ref, &m, err) < 0 || rebase_now(d, ct, &m, &shadows, err) < 0)
		return st_error_prefix(err, "rebase on restart onto %s", ref);
	for (size_t i = 0; i < json_array_size(shadows); i++)
		st_info("rebase %s: `/%s` keeps the container's copy", ct->ctid,
			json_string_value(json_array_get(shadows, i)));
	json_decref(shadows);
	return 0;
}

/* One container: rebased now, recorded for its next start, or refused.
 * The entry gets "status" and "shadows" or "error"/"exit". */
static void rebase_entry(struct daemon *d, struct ct *ct, const struct tmpl_manifest *m,
			 bool on_restart, json_t *entry)
{
	_cleanup_error_ struct st_error *err = NULL;
	_cleanup_free_ char *ref = NULL;
	const char *from = ct->conf ? ct_config_str(ct->conf, CT_OSTEMPLATE) : NULL;
	json_t *shadows = NULL;

	json_object_set_new(entry, "ctid", json_string(ct->ctid));
	json_object_set_new(entry, "from", from ? json_string(from) : json_null());
	if (asprintf(&ref, "%s@%u", m->name, m->version) < 0) {
		st_error_set(&err, ENOMEM, "rebase");
		goto fail;
	}
	json_object_set_new(entry, "to", json_string(ref));
	if (ct->run != CT_STOPPED) {
		if (!on_restart) {
			st_error_setx(&err, ST_EXIT_RUNNING, 0,
				      "container is running: stop it, or use --on-restart");
			goto fail;
		}
		if (pending_write(d, ct, ref, &err) < 0)
			goto fail;
		json_object_set_new(entry, "status", json_string("pending"));
		return;
	}
	if (rebase_now(d, ct, m, &shadows, &err) < 0)
		goto fail;
	json_object_set_new(entry, "status", json_string("rebased"));
	json_object_set_new(entry, "shadows", shadows);
	return;
fail:
	st_error_prefix(&err, "rebase %s", ct->ctid);
	json_object_set_new(entry, "status", json_string("failed"));
	json_object_set_new(entry, "error", json_string(err->msg));
	json_object_set_new(entry, "exit", json_integer(st_error_exit(err)));
}

static int rebase_target(struct daemon *d, json_t *args, struct tmpl_manifest *m,
			 struct st_error **err)
{
	const char *ref = args ? json_string_value(json_object_get(args, "ostemplate")) : NULL;

	if (!ref || !*ref)
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "rebase: no target given (--ostemplate NAME@VERSION)");
	return tmpl_find(d->store, ref, m, err);
}

int ct_do_rebase(struct daemon *d, struct ct *ct, json_t *args, json_t **result,
		 struct st_error **err)
{
	_cleanup_manifest_ struct tmpl_manifest m = { 0 };
	bool on_restart = args && json_is_true(json_object_get(args, "on_restart"));
	json_t *entry, *e;

	if (rebase_target(d, args, &m, err) < 0)
		return st_error_prefix(err, "rebase %s", ct->ctid);
	entry = json_object();
	rebase_entry(d, ct, &m, on_restart, entry);
	e = json_object_get(entry, "error");
	if (e) {
		st_error_setx(err, (int)json_integer_value(json_object_get(entry, "exit")), 0, "%s",
			      json_string_value(e));
		json_decref(entry);
		return -1;
	}
	*result = json_pack("{s:[o]}", "containers", entry);
	return 0;
}

int ct_do_rebase_all(struct daemon *d, json_t *args, json_t **result, struct st_error **err)
{
	_cleanup_manifest_ struct tmpl_manifest m = { 0 };
	bool on_restart = args && json_is_true(json_object_get(args, "on_restart"));
	json_t *arr;

	if (rebase_target(d, args, &m, err) < 0)
		return st_error_prefix(err, "rebase --all");
	arr = json_array();
	for (struct ct *ct = d->cts; ct; ct = ct->next) {
		_cleanup_free_ char *cname = NULL;
		unsigned cver = 0;
		const char *ref = ct->conf ? ct_config_str(ct->conf, CT_OSTEMPLATE) : NULL;
		json_t *entry;

		/* every container of the template that is not there yet */
		if (!ref || tmpl_ref_parse(ref, &cname, &cver, NULL) < 0 || strcmp(cname, m.name) ||
		    cver == m.version)
			continue;
		entry = json_object();
		if (ct->locked) {
			json_object_set_new(entry, "ctid", json_string(ct->ctid));
			json_object_set_new(entry, "status", json_string("failed"));
			json_object_set_new(
				entry, "error",
				json_string("container is locked by another operation"));
			json_object_set_new(entry, "exit", json_integer(ST_EXIT_LOCKED));
		} else {
			rebase_entry(d, ct, &m, on_restart, entry);
		}
		json_array_append_new(arr, entry);
	}
	*result = json_pack("{s:o}", "containers", arr);
	return 0;
}
