/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Templates and private areas through the daemon: rebase (now, or at the
 * next start with --on-restart), clone, the private-area layout at create
 * (LAYOUT=image for a DISKSPACE hard limit), disk usage for `list`, and the
 * template manifest's halt signal.
 *
 * A pending rebase is one file, STATE_DIR/rebase/CTID, holding the target
 * "NAME@VERSION"; the next start applies it before it mounts the root.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

/* ---- clone ---- */

static uint32_t shift_from, shift_to;

static int shift_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	uid_t u = st->st_uid;
	gid_t g = st->st_gid;

	(void)flag;
	(void)ftw;
	if (u >= shift_from && u - shift_from < CT_ID_RANGE_SIZE)
		u = u - shift_from + shift_to;
	if (g >= shift_from && g - shift_from < CT_ID_RANGE_SIZE)
		g = g - shift_from + shift_to;
	if (u == st->st_uid && g == st->st_gid)
		return 0;
	if (lchown(path, u, g) < 0)
		return -1;
	/* chown drops set-id bits of regular files: put them back */
	if (S_ISREG(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID)) &&
	    chmod(path, st->st_mode & 07777) < 0)
		return -1;
	return 0;
}

/* Move the owners of dst's upper layer from one id range to another. */
static int shift_owners(const char *priv, uint32_t from, uint32_t to, struct st_error **err)
{
	_cleanup_free_ char *upper = NULL;

	if (from == to)
		return 0;
	if (asprintf(&upper, "%s/upper", priv) < 0)
		return st_error_set(err, ENOMEM, "clone");
	shift_from = from;
	shift_to = to;
	if (nftw(upper, shift_one, 64, FTW_PHYS) < 0)
		return st_error_set(err, errno, "shift owners of `%s` to id range %" PRIu32, upper,
				    to);
	return 0;
}

/* LAYOUT=image: the closed image file copied as it is (sparse: only its
 * data extents), so the clone has the same limit and the very same files. */
static int clone_image(const char *src_priv, const char *dst_priv, struct st_error **err)
{
	_cleanup_free_ char *si = NULL, *di = NULL;
	_cleanup_close_ int in = -EBADF, out = -EBADF;
	struct stat st;
	off_t data = 0, hole;

	if (asprintf(&si, "%s.img", src_priv) < 0 || asprintf(&di, "%s.img", dst_priv) < 0)
		return st_error_set(err, ENOMEM, "clone `%s`", src_priv);
	if (cowfs_private_close(src_priv, err) < 0)
		return -1;
	in = open(si, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0)
		return st_error_set(err, errno, "open `%s`", si);
	if (mkdir(dst_priv, 0700) < 0)
		return st_error_setx(err,
				     errno == EEXIST ? ST_EXIT_PRIVATE_EXISTS : ST_EXIT_CREATEPRIV,
				     errno, "create `%s`", dst_priv);
	out = open(di, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0 || ftruncate(out, st.st_size) < 0) {
		int e = errno;

		if (out >= 0)
			unlink(di);
		rmdir(dst_priv);
		return st_error_setx(err, e == ENOSPC ? ST_EXIT_NOSPACE : ST_EXIT_CREATEPRIV, e,
				     "create `%s`", di);
	}
	while ((data = lseek(in, data, SEEK_DATA)) >= 0) {
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			break;
		while (data < hole) {
			loff_t o_in = data, o_out = data;
			ssize_t n =
				copy_file_range(in, &o_in, out, &o_out, (size_t)(hole - data), 0);

			if (n <= 0) {
				int e = n < 0 ? errno : EIO;

				unlink(di);
				rmdir(dst_priv);
				return st_error_setx(
					err, e == ENOSPC ? ST_EXIT_NOSPACE : ST_EXIT_CREATEPRIV, e,
					"copy `%s` to `%s`", si, di);
			}
			data += n;
		}
	}
	if (errno != ENXIO) {
		int e = errno;

		unlink(di);
		rmdir(dst_priv);
		return st_error_set(err, e, "read `%s`", si);
	}
	return 0;
}

/* A clone of a plain private area, copied by a forked worker into
 * <dst>.cloning.<pid> (a name the next daemon's start sweeps away, should
 * this one die first) while the loop serves others: 1 GB and 20000 files
 * took 3.4 s here, a `list` meanwhile waited 2.9 s, and a copy longer than
 * WatchdogSec would have had systemd kill the daemon. The loop then renames
 * it into place, writes the config and registers the container. */
struct clone_job {
	struct ct *ct; /* the source, locked by the request's conn */
	struct ct_config *c;
	char *dst, *dst_conf, *dst_priv, *tmp;
	uint32_t base;
	int result; /* read end of the worker's report: "EXIT\tmessage" */
};

static void clone_job_free(struct daemon *d, struct clone_job *cj)
{
	for (size_t i = 0; i < d->n_clone_bases; i++)
		if (d->clone_bases[i] == cj->base) {
			d->clone_bases[i] = d->clone_bases[--d->n_clone_bases];
			break;
		}
	ct_config_free(cj->c);
	free(cj->dst);
	free(cj->dst_conf);
	free(cj->dst_priv);
	free(cj->tmp);
	closep(&cj->result);
	free(cj);
}

static int clone_commit(struct daemon *d, struct clone_job *cj, json_t **result,
			struct st_error **err)
{
	const char *name = ct_config_str(cj->c, CT_NAME);
	struct ct *nct;
	struct stat st;

	if (ct_find(d, cj->dst) || stat(cj->dst_conf, &st) == 0)
		return st_error_setx(err, ST_EXIT_PRIVATE_EXISTS, 0,
				     "container %s was created meanwhile", cj->dst);
	if (name && *name && ct_find(d, name))
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "name `%s` was given to container %s meanwhile", name,
				     ct_find(d, name)->ctid);
	if (rename(cj->tmp, cj->dst_priv) < 0)
		return st_error_setx(err,
				     errno == EEXIST || errno == ENOTEMPTY ? ST_EXIT_PRIVATE_EXISTS
									   : ST_EXIT_SYSTEM,
				     errno, "rename `%s` to `%s`", cj->tmp, cj->dst_priv);
	free(take_ptr(cj->tmp)); /* in place: nothing left to remove under that name */
	if (ct_config_save(cj->c, cj->dst_conf, err) < 0) {
		closer_remove(take_ptr(cj->dst_priv)); /* under its final name now */
		return -1;
	}
	nct = ct_new(d, cj->dst);
	if (!nct || ct_reload_config(d, nct, err) < 0) {
		if (nct)
			ct_forget(d, nct);
		unlink(cj->dst_conf);
		closer_remove(take_ptr(cj->dst_priv));
		if (!*err)
			st_error_set(err, ENOMEM, "register");
		return -1;
	}
	*result = json_pack("{s:s,s:s}", "ctid", cj->dst, "from", cj->ct->ctid);
	return 0;
}

static void clone_done(struct daemon *d, struct exec_job *j, int code)
{
	_cleanup_error_ struct st_error *err = NULL;
	struct clone_job *cj = j->data;
	json_t *result = NULL;
	char msg[1024] = "";
	ssize_t n = read(cj->result, msg, sizeof(msg) - 1);
	int ex = ST_EXIT_FAILED, r = -1;

	msg[n > 0 ? n : 0] = '\0';
	if (code == 0) {
		r = clone_commit(d, cj, &result, &err);
	} else {
		char *tab = strchr(msg, '\t');

		if (tab)
			ex = atoi(msg);
		st_error_setx(&err, ex, 0, "%s", tab ? tab + 1 : "the copy's worker failed");
	}
	/* a copy not renamed into place (a worker that failed removes its
	 * own; one that was killed, or a commit refused, does not) */
	if (r < 0 && cj->tmp && access(cj->tmp, F_OK) == 0)
		closer_remove(take_ptr(cj->tmp));
	if (r == 0)
		st_info("cloned container %s to %s", cj->ct->ctid, cj->dst);
	else
		st_error_prefix(&err, "clone %s", cj->ct->ctid);
	if (!j->c->closed) {
		if (r < 0) {
			reply_error(j->c, err);
		} else {
			reply_ok(j->c, result);
			result = NULL;
		}
	}
	json_decref(result);
	/* last: a request waiting for the source may destroy it */
	if (cj->ct->owner == j->c)
		ct_unlock(d, cj->ct);
	clone_job_free(d, cj);
}

static int clone_in_worker(struct daemon *d, struct ct *ct, struct ct_config *c, const char *dst,
			   char *dst_conf, char *dst_priv, const char *src_priv, bool privileged,
			   uint32_t src_base, uint32_t base, struct st_error **err)
{
	struct clone_job *cj = calloc(1, sizeof(*cj));
	int pfd[2];
	pid_t pid;

	if (!cj) {
		ct_config_free(c);
		free(dst_conf);
		free(dst_priv);
		return st_error_set(err, ENOMEM, "clone %s", ct->ctid);
	}
	cj->ct = ct;
	cj->c = c;
	cj->dst_conf = dst_conf;
	cj->dst_priv = dst_priv;
	cj->result = -EBADF;
	cj->base = privileged ? 0 : base;
	cj->dst = strdup(dst);
	if (!cj->dst || asprintf(&cj->tmp, "%s.cloning.%d", dst_priv, (int)getpid()) < 0 ||
	    pipe2(pfd, O_CLOEXEC) < 0) {
		clone_job_free(d, cj);
		return st_error_set(err, ENOMEM, "clone %s", ct->ctid);
	}
	cj->result = pfd[0];
	if (!privileged && d->n_clone_bases == ARRAY_SIZE(d->clone_bases)) {
		close(pfd[1]);
		clone_job_free(d, cj);
		return st_error_setx(err, ST_EXIT_NORESOURCE, 0,
				     "clone %s: %zu clones are in flight already", ct->ctid,
				     ARRAY_SIZE(d->clone_bases));
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(pfd[1]);
		clone_job_free(d, cj);
		return st_error_set(err, e, "clone %s: fork", ct->ctid);
	}
	if (pid == 0) {
		struct st_error *e = NULL;
		int r = cowfs_private_clone(src_priv, cj->tmp, &e);

		if (r == 0 && !privileged)
			r = shift_owners(cj->tmp, src_base, base, &e);
		if (r == 0)
			r = cowfs_private_sync(cj->tmp, &e); /* here, not on the loop */
		if (r < 0) {
			cowfs_rm_rf(cj->tmp, NULL);
			dprintf(pfd[1], "%d\t%s", st_error_exit(e),
				e && e->msg ? e->msg : "failed");
			_exit(1);
		}
		_exit(0);
	}
	close(pfd[1]);
	if (!privileged)
		d->clone_bases[d->n_clone_bases++] = base;
	if (exec_fork_job(d, ct->owner, pid, clone_done, cj, err) < 0) {
		cowfs_rm_rf(cj->tmp, NULL);
		clone_job_free(d, cj);
		return st_error_prefix(err, "clone %s", ct->ctid);
	}
	st_debug("clone %s to %s: worker %d copies into `%s`", ct->ctid, dst, (int)pid, cj->tmp);
	return 1; /* answered by clone_done */
}

int ct_do_clone(struct daemon *d, struct ct *ct, json_t *args, json_t **result,
		struct st_error **err)
{
	const char *dst = args ? json_string_value(json_object_get(args, "dst")) : NULL;
	const char *name = args ? json_string_value(json_object_get(args, "name")) : NULL;
	const char *hostname = args ? json_string_value(json_object_get(args, "hostname")) : NULL;
	_cleanup_free_ char *src_conf = g_ct_conf_path(d->g, ct->ctid);
	_cleanup_free_ char *src_priv = g_ct_private_path(d->g, ct->conf, ct->ctid);
	_cleanup_free_ char *dst_conf = NULL, *dst_priv = NULL;
	_cleanup_ct_config_ struct ct_config *c = NULL;
	uint32_t src_base, base = 0;
	bool privileged;
	struct ct *nct;
	struct stat st;

	if (!dst)
		return st_error_setx(err, ST_EXIT_BADARG, 0, "clone %s: no destination CTID",
				     ct->ctid);
	if (ct_validate_ctid(dst, err) < 0 || strspn(dst, "0123456789") != strlen(dst))
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "clone %s: destination `%s` must be a numeric CTID (>= %d); "
				     "give a name with --name",
				     ct->ctid, dst, CT_MIN_CTID);
	if (ct_find(d, dst))
		return st_error_setx(err, ST_EXIT_PRIVATE_EXISTS, 0,
				     "clone %s: container %s already exists", ct->ctid, dst);
	if (name && *name) {
		struct ct *other;
		if (ct_validate_name(name, err) < 0)
			return st_error_prefix(err, "clone %s", ct->ctid);
		if ((other = ct_find(d, name)))
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "clone %s: name `%s` is already used by container %s",
					     ct->ctid, name, other->ctid);
	}
	if (ct->run != CT_STOPPED)
		return st_error_setx(err, ST_EXIT_RUNNING, 0,
				     "clone %s: container is running; stop it first (a running "
				     "container's files change while they are copied)",
				     ct->ctid);
	if (!src_conf || !src_priv)
		return st_error_set(err, ENOMEM, "clone %s", ct->ctid);
	if (ct_config_load(src_conf, &c, err) < 0)
		return st_error_prefix(err, "clone %s", ct->ctid);
	/* what must not be shared: addresses, interfaces (MACs), the name,
	 * explicit paths, the id range */
	ct_config_unset(c, CT_IP_ADDRESS);
	ct_config_unset(c, CT_NETIF);
	ct_config_unset(c, CT_NAME);
	ct_config_unset(c, CT_VE_PRIVATE);
	ct_config_unset(c, CT_VE_ROOT);
	ct_config_unset(c, CT_ID_BASE);
	if ((name && *name && ct_config_set(c, "NAME", name, err) < 0) ||
	    (hostname && ct_config_set(c, "HOSTNAME", hostname, err) < 0))
		return st_error_prefix(err, "clone %s", ct->ctid);
	privileged = ct_config_bool(ct->conf, CT_PRIVILEGED, false);
	src_base = privileged ? 0 : (uint32_t)ct_config_uint(ct->conf, CT_ID_BASE, 0);
	if (!privileged) {
		char buf[16];
		if (ct_alloc_id_base(d, NULL, &base, err) < 0)
			return st_error_prefix(err, "clone %s", ct->ctid);
		snprintf(buf, sizeof(buf), "%" PRIu32, base);
		if (ct_config_set(c, "ID_BASE", buf, err) < 0)
			return st_error_prefix(err, "clone %s", ct->ctid);
	}
	dst_conf = g_ct_conf_path(d->g, dst);
	{
		_cleanup_ct_config_ struct ct_config *merged = ct_config_new();
		if (!merged)
			return st_error_set(err, ENOMEM, "clone %s", ct->ctid);
		ct_config_merge_defaults(merged, d->g->ct_defaults);
		dst_priv = g_ct_private_path(d->g, merged, dst);
	}
	if (!dst_conf || !dst_priv)
		return st_error_set(err, ENOMEM, "clone %s", ct->ctid);
	if (stat(dst_conf, &st) == 0)
		return st_error_setx(err, ST_EXIT_PRIVATE_EXISTS, 0,
				     "clone %s: config `%s` already exists", ct->ctid, dst_conf);
	if (lstat(dst_priv, &st) == 0)
		return st_error_setx(err, ST_EXIT_PRIVATE_EXISTS, 0,
				     "clone %s: private area `%s` already exists", ct->ctid,
				     dst_priv);
	if (ct_is_mounted(d, ct) && ct_do_umount(d, ct, err) < 0)
		return st_error_prefix(err, "clone %s", ct->ctid);
	if (!cowfs_private_is_image(src_priv))
		return clone_in_worker(d, ct, take_ptr(c), dst, take_ptr(dst_conf),
				       take_ptr(dst_priv), src_priv, privileged, src_base, base,
				       err);
	if (cowfs_private_is_image(src_priv)) {
		if (clone_image(src_priv, dst_priv, err) < 0)
			return st_error_prefix(err, "clone %s", ct->ctid);
	} else if (cowfs_private_clone(src_priv, dst_priv, err) < 0) {
		return st_error_prefix(err, "clone %s", ct->ctid);
	}
	if (!privileged && cowfs_private_open(dst_priv, err) < 0) {
		cowfs_private_destroy(dst_priv, NULL);
		return st_error_prefix(err, "clone %s", ct->ctid);
	}
	if (!privileged) {
		int r = shift_owners(dst_priv, src_base, base, err);

		if (cowfs_private_close(dst_priv, r < 0 ? NULL : err) < 0 || r < 0) {
			cowfs_private_destroy(dst_priv, NULL);
			return st_error_prefix(err, "clone %s", ct->ctid);
		}
	}
	if (ct_config_save(c, dst_conf, err) < 0 || cowfs_private_sync(dst_priv, err) < 0) {
		unlink(dst_conf);
		cowfs_private_destroy(dst_priv, NULL);
		return st_error_prefix(err, "clone %s", ct->ctid);
	}
	nct = ct_new(d, dst);
	if (!nct || ct_reload_config(d, nct, err) < 0) {
		if (nct)
			ct_forget(d, nct);
		unlink(dst_conf);
		cowfs_private_destroy(dst_priv, NULL);
		if (!*err)
			st_error_set(err, ENOMEM, "clone %s", ct->ctid);
		return st_error_prefix(err, "clone %s", ct->ctid);
	}
	st_info("cloned container %s to %s", ct->ctid, dst);
	*result = json_pack("{s:s,s:s}", "ctid", dst, "from", ct->ctid);
	return 0;
}
