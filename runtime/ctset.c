/* SPDX-License-Identifier: GPL-2.0-or-later */
/* status, list, set (live through cgroups and the network, --save) and ONBOOT. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "runtime/daemon.h"
#include "runtime/resources.h"
#include "runtime/netpolicy.h" /* network area */

/* ---- status, list, set ---- */

json_t *ct_status_json(struct daemon *d, struct ct *ct)
{
	_cleanup_free_ char *conf_path = g_ct_conf_path(d->g, ct->ctid);
	bool exist = ct->conf || (conf_path && access(conf_path, F_OK) == 0);

	return json_pack("{s:s,s:b,s:b,s:b,s:b}", "ctid", ct->ctid, "exist", exist, "mounted",
			 ct_is_mounted(d, ct), "running", ct->run != CT_STOPPED, "suspended",
			 ct_is_suspended(d, ct));
}

/* Seconds since the init started (0 if unknown). */
static uint64_t ct_uptime(struct ct *ct)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/uptime", "re");
	double up = 0;
	long tck = sysconf(_SC_CLK_TCK);

	if (!f || fscanf(f, "%lf", &up) != 1 || tck <= 0)
		return 0;
	if (up < (double)ct->start_time / (double)tck)
		return 0;
	return (uint64_t)(up - (double)ct->start_time / (double)tck);
}

json_t *ct_list_json(struct daemon *d, struct ct *ct)
{
	json_t *o = json_object();
	struct ksal_cgroup_stats st;
	bool have_stats = false;

	json_object_set_new(o, "ctid", json_string(ct->ctid));
	json_object_set_new(o, "status",
			    json_string(ct->run == CT_RUNNING	 ? "running"
					: ct->run == CT_STOPPING ? "stopping"
					: ct_is_suspended(d, ct) ? "suspended"
					: ct_is_mounted(d, ct)	 ? "mounted"
								 : "stopped"));
	if (ct->cg && ct->run != CT_STOPPED && ksal_cgroup_stats(ct->cg, &st, NULL) == 0)
		have_stats = true;
	ksal_cgroup_close_fds(ct->cg); /* a list of hundreds keeps no fds */
	json_object_set_new(o, "numproc",
			    have_stats ? json_integer((json_int_t)st.pids_current) : json_null());
	json_object_set_new(o, "physpages_used",
			    have_stats ? json_integer((json_int_t)(st.memory_current / 4096))
				       : json_null());
	res_list_fields(d, ct, have_stats ? &st : NULL, o); /* resources area */
	json_object_set_new(o, "pid", ct->run != CT_STOPPED ? json_integer(ct->pid) : json_null());
	json_object_set_new(o, "uptime",
			    ct->run != CT_STOPPED ? json_integer((json_int_t)ct_uptime(ct))
						  : json_null());
	/* vzlist's names for the memory keys */
	{
		_cleanup_free_ char *ram =
			ct->conf ? ct_value_format(CT_PHYSPAGES, &ct->conf->v[CT_PHYSPAGES]) : NULL;
		_cleanup_free_ char *swap =
			ct->conf ? ct_value_format(CT_SWAPPAGES, &ct->conf->v[CT_SWAPPAGES]) : NULL;
		json_object_set_new(o, "ram", ram ? json_string(ram) : json_null());
		json_object_set_new(o, "swap", swap ? json_string(swap) : json_null());
	}
	for (int i = 0; i < CT_KEY_COUNT; i++) {
		const struct ct_key *k = &ct_keys[i];
		_cleanup_free_ char *s = NULL;

		if (!k->list_name)
			continue;
		s = ct->conf ? ct_value_format(i, &ct->conf->v[i]) : NULL;
		json_object_set_new(o, k->list_name, s ? json_string(s) : json_null());
	}
	return o;
}

int ct_do_set(struct daemon *d, struct ct *ct, json_t *args, json_t **result, struct st_error **err)
{
	_cleanup_free_ char *conf_path = g_ct_conf_path(d->g, ct->ctid);
	_cleanup_ct_config_ struct ct_config *file = NULL;
	json_t *opts = args ? json_object_get(args, "options") : NULL;
	json_t *setmode = args ? json_object_get(args, "setmode") : NULL;
	bool save = args && json_is_true(json_object_get(args, "save"));
	bool changed[CT_KEY_COUNT] = { false }, need_restart = false, need_cgroup = false;
	bool need_net = false;
	json_t *restart_keys = json_array();
	_cleanup_res_json_ json_t *warnings = json_array(); /* resources area */
	const char *key;
	json_t *v;

	if (!json_is_object(opts) || json_object_size(opts) == 0) {
		json_decref(restart_keys);
		return st_error_setx(err, ST_EXIT_BADARG, 0, "set %s: no options given", ct->ctid);
	}
	if (setmode &&
	    (!json_is_string(setmode) || (strcmp(json_string_value(setmode), "restart") &&
					  strcmp(json_string_value(setmode), "ignore")))) {
		json_decref(restart_keys);
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "set %s: setmode must be `restart` or `ignore`", ct->ctid);
	}
	if (ct_ipam_resolve(d, opts, err) < 0) { /* --ipadd auto */
		json_decref(restart_keys);
		return st_error_prefix(err, "set %s", ct->ctid);
	}
	/* edit the file's own values (not the merged defaults) */
	if (!conf_path || ct_config_load(conf_path, &file, err) < 0) {
		json_decref(restart_keys);
		return st_error_prefix(err, "set %s", ct->ctid);
	}
	/* network area: --ifname eth0 --gw .. --mac .. into NETIF */
	if (ct_netif_options(ct_config_str(file, CT_NETIF), opts, err) < 0) {
		json_decref(restart_keys);
		return st_error_prefix(err, "set %s", ct->ctid);
	}
	json_object_foreach (opts, key, v) {
		int id = ct_key_lookup(key);
		if (id < 0)
			id = ct_key_lookup_option(key, NULL);
		if (id == CT_ID_BASE) {
			json_decref(restart_keys);
			return st_error_setx(err, ST_EXIT_BADARG, 0,
					     "set %s: ID_BASE is allocated by stratad", ct->ctid);
		}
		if (ct_apply_arg(file, key, v, err) < 0) {
			json_decref(restart_keys);
			return st_error_prefix(err, "set %s", ct->ctid);
		}
		if (id >= 0)
			changed[id] = true;
	}
	if (changed[CT_IP_ADDRESS] &&
	    ct_ipam_check(d, ct->ctid, ct->conf ? ct_config_str(ct->conf, CT_IP_ADDRESS) : NULL,
			  ct_config_str(file, CT_IP_ADDRESS), err) < 0) {
		json_decref(restart_keys);
		return st_error_prefix(err, "set %s", ct->ctid);
	}
	if (changed[CT_NAME]) {
		const char *name = ct_config_str(file, CT_NAME);
		struct ct *other = name && *name ? ct_find(d, name) : NULL;
		if (other && other != ct) {
			json_decref(restart_keys);
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "set %s: name `%s` is already used by container %s",
					     ct->ctid, name, other->ctid);
		}
	}
	for (int i = 0; i < CT_KEY_COUNT; i++) {
		if (!changed[i])
			continue;
		if (ct_keys[i].apply == CT_APPLY_CGROUP)
			need_cgroup = true;
		if (ct_keys[i].apply == CT_APPLY_NET && ct_net_live_ok(ct, i)) {
			need_net = true;
			continue;
		}
		if (ct_keys[i].apply == CT_APPLY_RESTART || ct_keys[i].apply == CT_APPLY_NET) {
			need_restart = true;
			json_array_append_new(restart_keys, json_string(ct_keys[i].name));
		}
	}
	if (ct->run == CT_RUNNING && need_restart && !setmode && !save) {
		json_decref(restart_keys);
		return st_error_setx(err, ST_EXIT_CONFIG, 0,
				     "set %s: these settings need a restart: use --save with "
				     "--setmode restart or ignore",
				     ct->ctid);
	}
	if (ct->run == CT_RUNNING && need_cgroup && ct->cg) {
		struct ksal_cgroup_limits lim;
		_cleanup_ct_config_ struct ct_config *only = ct_config_new();
		_cleanup_res_bufs_ struct res_limit_bufs rbufs = { 0 };

		if (!only) {
			json_decref(restart_keys);
			return st_error_set(err, ENOMEM, "set %s", ct->ctid);
		}
		ksal_cgroup_limits_init(&lim);
		/* CPULIMIT and CPUS combine: give both when either changed */
		if (changed[CT_CPULIMIT] || changed[CT_CPUS])
			changed[CT_CPULIMIT] = changed[CT_CPUS] = true;
		for (int i = 0; i < CT_KEY_COUNT; i++)
			if (changed[i] && ct_keys[i].apply == CT_APPLY_CGROUP && file->v[i].set)
				ct_keys[i].to_limits(&file->v[i], &lim);
		/* resources area: the disk of the I/O throttles, the cpuset of CPUS */
		res_limits_complete(d, ct, file, changed, &lim, &rbufs, warnings);
		if (ksal_cgroup_apply(ct->cg, &lim, err) < 0) {
			json_decref(restart_keys);
			if (*err)
				(*err)->exit_code = ST_EXIT_CONFIG;
			return st_error_prefix(err, "set %s", ct->ctid);
		}
	}
	if (need_net && ct_net_set_live(d, ct, file, changed, err) < 0) {
		json_decref(restart_keys);
		return st_error_prefix(err, "set %s", ct->ctid);
	}
	if (save && ct_config_save(file, conf_path, err) < 0) {
		json_decref(restart_keys);
		return st_error_prefix(err, "set %s", ct->ctid);
	}
	if (save) {
		_cleanup_error_ struct st_error *e2 = NULL;
		if (ct_reload_config(d, ct, &e2) < 0)
			st_warn("%s", e2->msg);
	}
	*result = json_pack("{s:o,s:b}", "restart_needed",
			    ct->run == CT_RUNNING ? restart_keys
						  : (json_decref(restart_keys), json_array()),
			    "saved", save);
	if (*result && json_array_size(warnings))
		json_object_set(*result, "warnings", warnings);
	return 0;
}

/* ONBOOT=yes containers, highest BOOTORDER first, once per host boot (the
 * marker lives in RUN_DIR, a tmpfs cleared at boot). */
static int by_bootorder(const void *a, const void *b)
{
	const struct ct *x = *(struct ct *const *)a, *y = *(struct ct *const *)b;
	uint64_t ox = ct_config_uint(x->conf, CT_BOOTORDER, 0);
	uint64_t oy = ct_config_uint(y->conf, CT_BOOTORDER, 0);

	return ox < oy ? 1 : ox > oy ? -1 : strcmp(x->ctid, y->ctid);
}

void ct_start_onboot(struct daemon *d)
{
	_cleanup_free_ char *marker = NULL;
	_cleanup_free_ struct ct **v = NULL;
	size_t n = 0, i = 0;
	int fd;

	if (asprintf(&marker, "%s/onboot.done", d->g->run_dir) < 0 || access(marker, F_OK) == 0)
		return;
	for (struct ct *ct = d->cts; ct; ct = ct->next)
		n++;
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return;
	for (struct ct *ct = d->cts; ct; ct = ct->next)
		if (ct->conf && ct->run == CT_STOPPED && ct_config_bool(ct->conf, CT_ONBOOT, false))
			v[i++] = ct;
	qsort(v, i, sizeof(*v), by_bootorder);
	for (size_t k = 0; k < i; k++) {
		_cleanup_error_ struct st_error *err = NULL;
		if (ct_do_start(d, v[k], &err) < 0)
			st_warn("onboot: %s", err->msg);
	}
	fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
}
