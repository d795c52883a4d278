/* SPDX-License-Identifier: GPL-2.0-or-later */
/* create, destroy, start, stop, status, list, set; mount and umount: ct_mount.c. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "cow-fs/cowfs.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/netlink.h"
#include "ksal/spawn.h"
#include "ksal/syscalls.h"
#include "runtime/ct_create.h" /* create-speed area */
#include "runtime/daemon.h"
#include "runtime/resources.h"
#include "runtime/guest.h"
#ifdef HAVE_CT_CHECKPOINT
#include "runtime/checkpoint.h"
#endif
#include "runtime/net.h"
#include "runtime/netpolicy.h" /* network area: address pool, /etc/hosts */
#include "templates/template.h"

void ct_cleanup_after_exit(struct daemon *d, struct ct *ct);

static void manifest_clearp(struct tmpl_manifest *m)
{
	tmpl_manifest_clear(m);
}
#define _cleanup_manifest_ __attribute__((cleanup(manifest_clearp)))

/* ---- create / destroy ---- */

static int load_sample(struct daemon *d, const char *name, struct ct_config **out,
		       struct st_error **err)
{
	if (strchr(name, '/') || strstr(name, ".."))
		return st_error_setx(err, ST_EXIT_BADARG, 0, "invalid sample config name `%s`",
				     name);
	for (int i = 0; i < 2; i++) {
		_cleanup_free_ char *p = NULL;
		if ((i == 0 ? asprintf(&p, "%s/%s.conf", d->g->samples_dir, name)
			    : asprintf(&p, "%s/ve-%s.conf-sample", d->g->samples_dir, name)) < 0)
			return st_error_set(err, ENOMEM, "sample");
		if (access(p, R_OK) == 0) {
			if (ct_config_load(p, out, err) < 0)
				return -1;
			/* keep the sample's comments but not its path */
			free((*out)->path);
			(*out)->path = NULL;
			return 0;
		}
	}
	return st_error_setx(err, ST_EXIT_NOCONFIG, 0, "sample config `%s` not found in `%s`", name,
			     d->g->samples_dir);
}

int ct_apply_arg(struct ct_config *c, const char *key, json_t *v, struct st_error **err)
{
	if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach (v, i, x) {
			if (!json_is_string(x))
				return st_error_setx(err, ST_EXIT_BADARG, 0,
						     "`%s`: array of strings expected", key);
			if (ct_config_set(c, strcmp(key, "ipadd") ? key : "ipadd",
					  json_string_value(x), err) < 0)
				return -1;
		}
		return 0;
	}
	if (json_is_boolean(v))
		return ct_config_set(c, key, json_is_true(v) ? "yes" : "no", err);
	if (json_is_integer(v)) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return ct_config_set(c, key, buf, err);
	}
	if (!json_is_string(v))
		return st_error_setx(err, ST_EXIT_BADARG, 0, "`%s`: string expected", key);
	return ct_config_set(c, key, json_string_value(v), err);
}

int ct_do_create(struct daemon *d, const char *ctid, json_t *args, struct st_error **err)
{
	_cleanup_ct_config_ struct ct_config *c = NULL;
	_cleanup_free_ char *conf_path = NULL, *priv = NULL;
	_cleanup_manifest_ struct tmpl_manifest m = { 0 };
	json_t *sample = args ? json_object_get(args, "config") : NULL;
	const char *key, *tref;
	json_t *v;
	uint32_t base;
	struct ct *ct;
	struct stat st;

	if (strspn(ctid, "0123456789") != strlen(ctid))
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "create %s: a new container needs a numeric CTID (>= %d); "
				     "give a name with --name",
				     ctid, CT_MIN_CTID);
	if (sample && !json_is_string(sample))
		return st_error_setx(err, ST_EXIT_BADARG, 0, "create %s: `config`: string expected",
				     ctid);
	if (sample) {
		if (load_sample(d, json_string_value(sample), &c, err) < 0)
			return st_error_prefix(err, "create %s", ctid);
	} else {
		c = ct_config_new();
		if (!c)
			return st_error_set(err, ENOMEM, "create %s", ctid);
	}
	if (ct_ipam_resolve(d, args, err) < 0) /* --ipadd auto */
		return st_error_prefix(err, "create %s", ctid);
	json_object_foreach (args, key, v) {
		if (!strcmp(key, "config") || !strcmp(key, "nowait"))
			continue;
		if (!strcmp(key, "options")) {
			const char *k2;
			json_t *v2;
			if (!json_is_object(v))
				return st_error_setx(err, ST_EXIT_BADARG, 0,
						     "create %s: `options`: object expected", ctid);
			json_object_foreach (v, k2, v2) {
				if (ct_apply_arg(c, k2, v2, err) < 0)
					return st_error_prefix(err, "create %s", ctid);
			}
			continue;
		}
		if (ct_apply_arg(c, key, v, err) < 0)
			return st_error_prefix(err, "create %s", ctid);
	}
	if (!ct_config_str(c, CT_OSTEMPLATE) || !*ct_config_str(c, CT_OSTEMPLATE)) {
		const char *def = ct_config_str(d->g->ct_defaults, CT_OSTEMPLATE);
		if (!def)
			def = d->g->def_ostemplate;
		if (!def || !*def)
			return st_error_setx(err, ST_EXIT_NOTEMPLATE_SET, 0,
					     "create %s: no OS template given", ctid);
		if (ct_config_set(c, "OSTEMPLATE", def, err) < 0)
			return st_error_prefix(err, "create %s", ctid);
	}
	tref = ct_config_str(c, CT_OSTEMPLATE);
	if (tmpl_find(d->store, tref, &m, err) < 0)
		return st_error_prefix(err, "create %s", ctid);
	{
		const char *name = ct_config_str(c, CT_NAME);
		struct ct *other = name ? ct_find(d, name) : NULL;
		if (other)
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "create %s: name `%s` is already used by container %s",
					     ctid, name, other->ctid);
	}
	if (ct_ipam_check(d, ctid, NULL, ct_config_str(c, CT_IP_ADDRESS), err) < 0)
		return st_error_prefix(err, "create %s", ctid);
	conf_path = g_ct_conf_path(d->g, ctid);
	if (!conf_path)
		return st_error_set(err, ENOMEM, "create %s", ctid);
	if (stat(conf_path, &st) == 0)
		return st_error_setx(err, ST_EXIT_PRIVATE_EXISTS, 0,
				     "create %s: config `%s` already exists", ctid, conf_path);
	{
		_cleanup_ct_config_ struct ct_config *merged = ct_config_new();
		if (!merged)
			return st_error_set(err, ENOMEM, "create %s", ctid);
		for (int i = 0; i < CT_KEY_COUNT; i++)
			if (c->v[i].set)
				merged->v[i] = c->v[i],
				merged->v[i].str = c->v[i].str ? strdup(c->v[i].str) : NULL;
		ct_config_merge_defaults(merged, d->g->ct_defaults);
		priv = g_ct_private_path(d->g, merged, ctid);
	}
	if (!priv)
		return st_error_set(err, ENOMEM, "create %s", ctid);
	if (!ct_config_bool(c, CT_PRIVILEGED, false)) {
		if (ct_alloc_id_base(d, NULL, &base, err) < 0)
			return st_error_prefix(err, "create %s", ctid);
		{
			char buf[16];
			snprintf(buf, sizeof(buf), "%" PRIu32, base);
			if (ct_config_set(c, "ID_BASE", buf, err) < 0)
				return st_error_prefix(err, "create %s", ctid);
		}
	}

	/* From here on every step is undone if a later one fails. */
	if (ct_private_create(d, c, args, ctid, priv, err) < 0)
		return st_error_prefix(err, "create %s", ctid);
	/* one sync for the private area and the config (runtime/ct_create.c) */
	if (ct_create_commit(c, conf_path, priv, err) < 0) {
		cowfs_private_destroy(priv, NULL);
		return st_error_prefix(err, "create %s", ctid);
	}
	ct = ct_new(d, ctid);
	if (!ct || ct_reload_config(d, ct, err) < 0) {
		if (ct)
			ct_forget(d, ct);
		unlink(conf_path);
		cowfs_private_destroy(priv, NULL);
		return st_error_prefix(err, "create %s", ctid);
	}
	st_info("created container %s from %s@%u", ctid, m.name, m.version);
	return 0;
}

int ct_do_destroy(struct daemon *d, struct ct *ct, struct st_error **err)
{
	_cleanup_free_ char *conf_path = g_ct_conf_path(d->g, ct->ctid);
	_cleanup_free_ char *priv = g_ct_private_path(d->g, ct->conf, ct->ctid);

	if (!conf_path || !priv)
		return st_error_set(err, ENOMEM, "destroy %s", ct->ctid);
	if (ct->run != CT_STOPPED)
		return st_error_setx(err, ST_EXIT_RUNNING, 0,
				     "destroy %s: container is running; stop it first", ct->ctid);
	if (ct_is_mounted(d, ct) && ct_do_umount(d, ct, err) < 0)
		return st_error_prefix(err, "destroy %s", ct->ctid);
	/* renamed aside at once, removed off the loop (runtime/closer.c) */
	if (access(priv, F_OK) == 0) {
		char *retired = NULL;

		if (cowfs_private_retire(priv, &retired, err) < 0) {
			if (*err)
				(*err)->exit_code = ST_EXIT_DESTROYFAIL;
			return st_error_prefix(err, "destroy %s", ct->ctid);
		}
		closer_remove(retired);
	}
#ifdef HAVE_CT_CHECKPOINT
	{
		/* a big checkpoint's images are removed by the closer's thread */
		_cleanup_free_ char *dump = ct_dump_dir(d, ct);
		char *gone, *gone_tmp;

		if (dump && ct_checkpoint_retire(dump, &gone, &gone_tmp, err) < 0)
			return st_error_prefix(err, "destroy %s", ct->ctid);
		if (dump) {
			closer_remove(gone);
			closer_remove(gone_tmp);
		}
	}
#endif
	if (unlink(conf_path) < 0 && errno != ENOENT)
		return st_error_setx(err, ST_EXIT_DESTROYFAIL, errno, "destroy %s: remove `%s`",
				     ct->ctid, conf_path);
	ct_rebase_pending_drop(d, ct);
	st_info("destroyed container %s", ct->ctid);
	ct->destroyed = true;
	return 0;
}

/* ---- start ---- */

static const struct ksal_cgroup_dev dev_allow[] = {
	{ 'c', 1, 3, "rwm" },	 /* null */
	{ 'c', 1, 5, "rwm" },	 /* zero */
	{ 'c', 1, 7, "rwm" },	 /* full */
	{ 'c', 1, 8, "rwm" },	 /* random */
	{ 'c', 1, 9, "rwm" },	 /* urandom */
	{ 'c', 5, 0, "rwm" },	 /* tty */
	{ 'c', 5, 1, "rwm" },	 /* console */
	{ 'c', 5, 2, "rwm" },	 /* ptmx */
	{ 'c', 136, -1, "rwm" }, /* pts */
	{ 'c', 10, 200, "rwm" }, /* net/tun */
	{ 'c', 10, 229, "rwm" }, /* fuse */
};

struct hook_data {
	struct daemon *d;
	struct ct *ct;
	bool joined; /* the init joins its cgroups itself (ksal_cgroup_join_prepare) */
};

static int parent_hook(pid_t pid, int pidfd, void *data, struct st_error **err)
{
	struct hook_data *h = data;

	if (!h->joined && ksal_cgroup_clone_fd(h->ct->cg) < 0 &&
	    ksal_cgroup_attach(h->ct->cg, pid, err) < 0)
		return -1;
	return ct_network_setup(h->d, h->ct, pidfd, err);
}

static enum ct_init_kind detect_init(const char *root)
{
	_cleanup_free_ char *p = NULL;
	char link[256];
	ssize_t n;

	if (asprintf(&p, "%s/sbin/init", root) < 0)
		return INIT_OTHER;
	n = readlink(p, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = '\0';
		if (strstr(link, "systemd"))
			return INIT_SYSTEMD;
		if (strstr(link, "busybox"))
			return INIT_BUSYBOX;
		return INIT_OTHER;
	}
	return INIT_STRATA;
}

static int halt_signal(enum ct_init_kind k)
{
	switch (k) {
	case INIT_SYSTEMD:
		return SIGRTMIN + 3;
	case INIT_BUSYBOX:
		return SIGUSR2; /* busybox init: USR1 halt, USR2 poweroff, TERM reboot */
	case INIT_STRATA:
	case INIT_OTHER:
		break;
	}
	return SIGTERM;
}

static uint64_t cap_drop_mask(struct ct *ct)
{
	uint64_t drop = ksal_cap_default_drop();
	const struct ct_value *v = &ct->conf->v[CT_CAPABILITY];

	if (v->set) {
		drop &= ~v->cap_on;
		drop |= v->cap_off;
	}
	return drop;
}

static void cgroup_freep(struct ksal_cgroup **cg)
{
	ksal_cgroup_free(*cg);
}

/* The config re-read and checked against the other containers' (under the
 * daemon lock: the registry and ct->conf are the loop's too). */
static int prepare_config(struct daemon *d, struct ct *ct, bool *privileged_out,
			  uint32_t *id_base_out, struct st_error **err)
{
	bool privileged;
	uint32_t id_base;

	if (ct_reload_config(d, ct, err) < 0)
		return -1;
	privileged = ct_config_bool(ct->conf, CT_PRIVILEGED, false);
	id_base = ct_id_base(ct);
	if (!privileged && !ct->conf->v[CT_ID_BASE].set)
		return st_error_setx(err, ST_EXIT_CONFIG, 0,
				     "no ID_BASE in the config (set PRIVILEGED=yes or recreate the "
				     "container)");
	if (!strcmp(ct_net_mode(ct), "host") && !privileged)
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "NETWORK_MODE=host needs PRIVILEGED=yes");
	/* a hand-edited ID_BASE must not share ids with another container */
	for (struct ct *o = d->cts; o && !privileged; o = o->next) {
		uint64_t b;

		if (o == ct || !o->conf || !o->conf->v[CT_ID_BASE].set ||
		    ct_config_bool(o->conf, CT_PRIVILEGED, false))
			continue;
		b = o->conf->v[CT_ID_BASE].u;
		if (b < (uint64_t)id_base + CT_ID_RANGE_SIZE && id_base < b + CT_ID_RANGE_SIZE)
			return st_error_setx(err, ST_EXIT_CONFIG, 0,
					     "ID_BASE %" PRIu32
					     " overlaps the id range of container "
					     "%s (ID_BASE %" PRIu64 ")",
					     id_base, o->ctid, b);
	}
	*privileged_out = privileged;
	*id_base_out = id_base;
	return 0;
}

/*
 * What a start makes before its init (and a resume before CRIU's restore):
 * the config re-read, the root composed, the guest's hostname and DNS
 * files, the cgroups with limits, device allowlist and delegation. On
 * failure the caller undoes it with ct_cleanup_after_exit(). Runs on a
 * start worker too: what the loop shares is touched under daemon_lock().
 */
int ct_prepare_run(struct daemon *d, struct ct *ct, struct st_error **err)
{
	struct ksal_cgroup_limits lim;
	struct ct_mounted m = { 0 };
	_cleanup_res_bufs_ struct res_limit_bufs rbufs = { 0 };
	_cleanup_(cgroup_freep) struct ksal_cgroup *cg = NULL;
	bool privileged = false;
	uint32_t id_base = 0;
	int r;

	daemon_lock(d);
	r = prepare_config(d, ct, &privileged, &id_base, err);
	daemon_unlock(d);
	if (r < 0)
		return -1;

	/* 2. the root */
	if (ct_mount_root(d, ct, id_base, &m, err) < 0) {
		ct_unmount_root(&m, ct->ctid);
		ct_mounted_clear(&m);
		return -1;
	}
	daemon_lock(d);
	ct->root = take_ptr(m.root);
	ct->layer_dir = take_ptr(m.layer_dir);
	ct->image = take_ptr(m.image);
	ct->sha256 = take_ptr(m.sha256);
	ct->has_init = m.has_init;
	ct->id_base = id_base;
	ct->privileged = privileged;
	daemon_unlock(d);
	ct_mounted_clear(&m);

	/* the guest's own view of its name and DNS, as vzctl sets them */
	{
		const char *hn = ct_config_str(ct->conf, CT_HOSTNAME);
		const char *ns = ct_config_str(ct->conf, CT_NAMESERVER);
		const char *sd = ct_config_str(ct->conf, CT_SEARCHDOMAIN);
		_cleanup_free_ char *line = NULL;

		if (hn && *hn && asprintf(&line, "%s\n", hn) >= 0 &&
		    guest_write_file(ct->root, "etc/hostname", line, id_base, id_base, err) < 0)
			return -1;
		if ((ns && *ns) || (sd && *sd)) {
			_cleanup_free_ char *rc = guest_resolv_conf(ns, sd);
			if (!rc)
				return st_error_set(err, ENOMEM, "resolv.conf");
			if (guest_write_file(ct->root, "etc/resolv.conf", rc, id_base, id_base,
					     err) < 0)
				return -1;
		}
	}

	if (ct_guest_hosts(ct, err) < 0)
		return -1;
#ifdef HAVE_CT_CHECKPOINT
	/* no systemd service in a UTS namespace of its own: CRIU cannot dump
	 * one (the guest's own drop-in, written once, runtime/checkpoint_guest.c) */
	if (ct_checkpoint_guest_prepare(ct->root, id_base, id_base, err) < 0)
		return -1;
#endif

	/* 3. cgroups and limits: the manager's subtree under the lock (made
	 * on first use), the container's own cgroups not */
	daemon_lock(d);
	r = ksal_cgroup_mgr_prepare(d->cg, err);
	daemon_unlock(d);
	if (r < 0 || ksal_cgroup_create(d->cg, ct->ctid, &cg, err) < 0)
		return -1;
	daemon_lock(d);
	ct->cg = take_ptr(cg);
	daemon_unlock(d);
	ksal_cgroup_limits_init(&lim);
	ct_config_limits(ct->conf, &lim);
	res_limits_complete(d, ct, ct->conf, NULL, &lim, &rbufs, NULL); /* resources area */
	if (ksal_cgroup_apply(ct->cg, &lim, err) < 0)
		return -1;
	if (ksal_cgroup_devices_set(ct->cg, dev_allow, ARRAY_SIZE(dev_allow), err) < 0)
		return -1;
	if (ksal_cgroup_delegate(ct->cg, id_base, id_base, err) < 0)
		return -1;
	return 0;
}

int ct_start_check(struct daemon *d, struct ct *ct, struct st_error **err)
{
	if (ct->run != CT_STOPPED)
		return st_error_setx(err, ST_EXIT_RUNNING, 0,
				     "start %s: container is already running", ct->ctid);
	if (ct_is_suspended(d, ct))
		return st_error_setx(err, ST_EXIT_RESTORE, 0,
				     "start %s: container is suspended: resume it (or destroy its "
				     "checkpoint)",
				     ct->ctid);
	if (ct_rebase_pending_apply(d, ct, err) < 0)
		return st_error_prefix(err, "start %s", ct->ctid);
	return 0;
}

struct view_set {
	struct ksal_bind *b;
	size_t n;
};

static void view_freep(struct view_set *v)
{
	view_binds_free(v->b, v->n);
}

int ct_start_run(struct daemon *d, struct ct *ct, struct ksal_spawned *sp, int *later,
		 struct st_error **err)
{
	_cleanup_free_ char *hostname = NULL;
	struct hook_data hd = { d, ct, false };
	_cleanup_cgroup_join_ struct ksal_cgroup_join join = { .clone_fd = -EBADF };
	struct ksal_idmap map;
	_cleanup_(view_freep) struct view_set view = { 0 };
	_cleanup_free_ struct ksal_bind *binds = NULL;
	_cleanup_close_ int slave = -EBADF;
	char *argv[] = { "/sbin/init", NULL };
	char *envp[] = { "container=strata",
			 "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			 "TERM=linux", NULL };
	struct ksal_spawn_cfg cfg = { 0 };
	enum ct_init_kind kind = INIT_STRATA;
	int r, halt_sig;

	*sp = (struct ksal_spawned){ .pidfd = -EBADF };
	*later = -EBADF;
	if (ct_prepare_run(d, ct, err) < 0)
		return -1;

	/* the console, the view from inside, the template's halt signal:
	 * the loop's (epoll, lxcfs, the store) */
	halt_sig = ct_template_halt_signal(d, ct); /* the store is read-only */
	daemon_lock(d);
	ct->halt_sig = halt_sig;
	r = ct_console_open(d, ct, &slave, err);
	if (r == 0)
		view_binds(d, &view.b, &view.n);
	daemon_unlock(d);
	if (r < 0)
		return -1;

	/* 5-7. the init; the view from inside */
	binds = calloc(view.n + 1, sizeof(*binds));
	if (!binds)
		return st_error_set(err, ENOMEM, "binds");
	if (view.n)
		memcpy(binds, view.b, view.n * sizeof(*binds));
	cfg.binds = binds;
	cfg.n_binds = view.n;
	if (ct->has_init) {
		kind = detect_init(ct->root);
	} else {
		binds[cfg.n_binds++] = (struct ksal_bind){ .source = d->g->init_path,
							   .target = "/sbin/init",
							   .readonly = true,
							   .create_file = true };
		if (access(d->g->init_path, X_OK) < 0)
			return st_error_setx(err, ST_EXIT_BROKEN, errno,
					     "template has no /sbin/init and the minimal init `%s` "
					     "is missing (INIT_PATH)",
					     d->g->init_path);
	}
	daemon_lock(d);
	ct->init_kind = kind;
	daemon_unlock(d);
	/* without HOSTNAME the container is called by its CTID, as LXC names
	 * a container's host after it: a new UTS namespace starts with a copy
	 * of the host's name, which is not the container's to know */
	hostname =
		strdup(ct_config_str(ct->conf, CT_HOSTNAME) && *ct_config_str(ct->conf, CT_HOSTNAME)
			       ? ct_config_str(ct->conf, CT_HOSTNAME)
			       : ct->ctid);
	map = (struct ksal_idmap){ 0, ct->id_base, CT_ID_RANGE_SIZE };
	cfg.rootfs = ct->root;
	cfg.hostname = hostname;
	cfg.argv = argv;
	cfg.envp = envp;
	cfg.new_net = strcmp(ct_net_mode(ct), "host") != 0;
	cfg.userns = !ct->privileged;
	cfg.uid_map = cfg.gid_map = ct->privileged ? NULL : &map;
	cfg.n_uid_map = cfg.n_gid_map = ct->privileged ? 0 : 1;
	/* the init joins its cgroups itself: no 5-16 ms RCU grace period of
	 * the parent's cgroup.procs write (perf, bench/lifecycle.sh) */
	if (ksal_cgroup_join_prepare(d->cg, ct->cg, &join, err) < 0)
		return -1;
	cfg.cgroup_fd = join.clone_fd;
	cfg.cgroup_self_fds = join.tasks_fds;
	cfg.n_cgroup_self_fds = join.n_tasks_fds;
	hd.joined = true;
	cfg.parent_hook = parent_hook;
	cfg.hook_data = &hd;
	cfg.cap_drop = cap_drop_mask(ct);
	cfg.seccomp_fd = d->seccomp_fd;
	cfg.stdio[0] = cfg.stdio[1] = cfg.stdio[2] = slave;
	cfg.console_fd = slave;
	cfg.defer_fd = later;
	/* resources area: MEMORY_MERGE (ksmd on, KSM for the init and its children) */
	cfg.memory_merge = ct_config_bool(ct->conf, CT_MEMORY_MERGE, false);
	cfg.unlocked_mounts = ct_config_bool(ct->conf, CT_NESTING, false);
	if (cfg.memory_merge) {
		daemon_lock(d);
		r = res_ksm_acquire(d, ct, err);
		daemon_unlock(d);
		if (r < 0)
			return -1;
	}
	if (ksal_spawn(&cfg, sp, err) < 0)
		return -1;
	/* ten directory fds per container on a hybrid host, copied into and
	 * closed again by every later init: opened again when needed */
	ksal_cgroup_close_fds(ct->cg);
	return 0;
}

void ct_start_commit(struct daemon *d, struct ct *ct, const struct ksal_spawned *sp)
{
	_cleanup_error_ struct st_error *err = NULL;

	ct->pid = sp->pid;
	ct->start_time = sp->start_time;
	ct->init_w.fd = sp->pidfd;
	ct->our_child = true;
	ct->run = CT_RUNNING;
	if (watch_add(d, &ct->init_w, EPOLLIN) < 0)
		st_warn("start %s: watch init pidfd: %s", ct->ctid, strerror(errno));
	if (ct_state_write(d, ct, &err) < 0)
		st_warn("start %s: %s", ct->ctid, err->msg);
	keeper_put(d, ct);
	st_info("started container %s (init pid %d)", ct->ctid, (int)ct->pid);
}

int ct_do_start(struct daemon *d, struct ct *ct, struct st_error **err)
{
	_cleanup_close_ int later = -EBADF;
	struct ksal_spawned sp;

	if (ct_start_check(d, ct, err) < 0)
		return -1;
	if (ct_start_run(d, ct, &sp, &later, err) < 0) {
		st_error_prefix(err, "start %s", ct->ctid);
		ct_cleanup_after_exit(d, ct);
		return -1;
	}
	ct_start_commit(d, ct, &sp);
	return 0;
}

/* ---- stop and the init's exit ---- */

static double mono_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A stop ticks once a second: an init that had no handler for its halt
 * signal yet (just started) ignores it, so it is sent again until the
 * deadline; then every task is killed. */
static int arm_timer(struct daemon *d, struct ct *ct, bool now)
{
	struct itimerspec its = { .it_value = { .tv_sec = now ? 0 : 1, .tv_nsec = now ? 1 : 0 },
				  .it_interval = { .tv_sec = 1 } };

	if (ct->timer_w.fd < 0) {
		ct->timer_w.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (ct->timer_w.fd < 0 || watch_add(d, &ct->timer_w, EPOLLIN) < 0)
			return -errno;
	}
	return timerfd_settime(ct->timer_w.fd, 0, &its, NULL);
}

int ct_do_stop(struct daemon *d, struct ct *ct, bool fast, struct st_error **err)
{
	uint64_t timeout;

	if (ct->run == CT_STOPPED)
		return st_error_setx(err, ST_EXIT_NOTRUNNING, 0,
				     "stop %s: container is not running", ct->ctid);
	if (ct->run == CT_STOPPING && !fast)
		return st_error_setx(err, ST_EXIT_LOCKED, 0, "stop %s: already stopping", ct->ctid);
	ct->run = CT_STOPPING;
	ct->fast = fast;
	timeout = ct->conf ? ct_config_uint(ct->conf, CT_STOP_TIMEOUT, 120) : 120;
	if (fast) {
		timeout = 0;
	} else if (pidfd_send_signal(ct->init_w.fd,
				     ct->halt_sig > 0 ? ct->halt_sig : halt_signal(ct->init_kind),
				     NULL, 0) < 0) {
		st_warn("stop %s: halt signal: %s", ct->ctid, strerror(errno));
		timeout = 0;
	}
	ct->stop_deadline = mono_now() + (double)timeout;
	st_debug("stop %s: %s, timeout %" PRIu64 " s", ct->ctid, fast ? "fast" : "halt signal sent",
		 timeout);
	if (arm_timer(d, ct, timeout == 0) < 0)
		return st_error_set(err, errno, "stop %s: timerfd", ct->ctid);
	return 0;
}

void ct_on_stop_timeout(struct daemon *d, struct ct *ct)
{
	_cleanup_error_ struct st_error *err = NULL;

	if (ct->run != CT_STOPPING)
		return;
	if (mono_now() < ct->stop_deadline) {
		pidfd_send_signal(ct->init_w.fd,
				  ct->halt_sig > 0 ? ct->halt_sig : halt_signal(ct->init_kind),
				  NULL, 0);
		return;
	}
	if (!ct->fast)
		st_info("stop %s: no halt after %" PRIu64 " s, killing every task", ct->ctid,
			ct_config_uint(ct->conf, CT_STOP_TIMEOUT, 120));
	/* The init's death ends the pid namespace: the kernel kills every
	 * other task in it before the pidfd fires, and ct_cleanup_after_exit
	 * then sweeps the cgroup for anything that joined it from outside.
	 * A frozen cgroup would hold the SIGKILL back: thaw it. */
	pidfd_send_signal(ct->init_w.fd, SIGKILL, NULL, 0);
	if (ct->cg && ksal_cgroup_freeze(ct->cg, false, &err) < 0)
		st_warn("stop %s: %s", ct->ctid, err->msg);
	(void)d;
}

void ct_on_init_exit(struct daemon *d, struct ct *ct)
{
	siginfo_t si = { 0 };
	bool reboot = false;
	struct conn *c = ct->stop_conn;
	bool restart = ct->restart_after;
	bool was_stopping = ct->run == CT_STOPPING;

	if (ct->our_child &&
	    waitid((idtype_t)P_PIDFD, (id_t)ct->init_w.fd, &si, WEXITED | WNOHANG) == 0 &&
	    si.si_pid > 0) {
		/* reboot(2) in a pid namespace: the init dies of SIGHUP
		 * (restart) or SIGINT (halt/poweroff) */
		if (si.si_code == CLD_KILLED && si.si_status == SIGHUP)
			reboot = true;
		st_info("container %s: init exited (%s %d)", ct->ctid,
			si.si_code == CLD_EXITED ? "status" : "signal", si.si_status);
	} else {
		st_info("container %s: init exited", ct->ctid);
	}
	ct_cleanup_after_exit(d, ct);
	ct->stop_conn = NULL;
	ct->restart_after = false;
	daemon_notify(d, "STATUS=container %s stopped", ct->ctid);

	if (was_stopping && c) {
		_cleanup_error_ struct st_error *err = NULL;
		if (restart && ct_do_start(d, ct, &err) < 0)
			reply_error(c, err);
		else
			reply_ok(c, NULL);
		conn_done(c);
		if (ct->owner == c)
			ct_unlock(d, ct);
		conn_unref(c);
		return;
	}
	if (was_stopping)
		ct->locked = false; /* stopped by the daemon's own shutdown */
	if (reboot && !was_stopping) {
		_cleanup_error_ struct st_error *err = NULL;
		st_info("container %s rebooted itself: starting it again", ct->ctid);
		if (ct_do_start(d, ct, &err) < 0)
			st_warn("%s", err->msg);
	}
}
