/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The verbs of runtime/api.h: request validation (fields, arguments, CTID,
 * access), the per-container lock with its wait queue, and dispatch.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "runtime/daemon.h"
#include "runtime/resources.h"

/* ---- verbs ---- */

struct verb {
	const char *name;
	bool needs_ct;	 /* "ctid" required */
	bool public;	 /* allowed without authorization */
	bool takes_lock; /* serialized per container */
	const char *const *args;
};

static const char *const no_args[] = { NULL };
static const char *const create_args[] = { "ostemplate", "config",  "name", "hostname",
					   "ipadd",	 "private", "root", "layout",
					   "options",	 "nowait",  NULL };
static const char *const start_args[] = { "wait", "nowait", NULL };
static const char *const stop_args[] = { "fast", "nowait", NULL };
static const char *const lock_args[] = { "nowait", NULL };
static const char *const set_args[] = { "options", "save", "setmode", "nowait", NULL };
static const char *const list_args[] = { "all", "stopped", "diskspace", NULL };
static const char *const exec_args[] = { "argv", "env", "cwd", "tty", NULL };
static const char *const tmpl_args[] = { "name", "file", NULL };
/* templates area: rebase, clone */
static const char *const rebase_args[] = { "ostemplate", "on_restart", "nowait", NULL };
static const char *const clone_args[] = { "dst", "name", "hostname", "nowait", NULL };
/* checkpoint area: suspend, resume */
static const char *const ckpt_args[] = { "dumpfile", "keep", "nowait", NULL };

static const struct verb verbs[] = {
	{ "ping", false, true, false, no_args },
	{ "version", false, true, false, no_args },
	{ "create", true, false, true, create_args },
	{ "destroy", true, false, true, lock_args },
	{ "delete", true, false, true, lock_args },
	{ "start", true, false, true, start_args },
	{ "stop", true, false, true, stop_args },
	{ "restart", true, false, true, stop_args },
	{ "status", true, false, false, no_args },
	{ "stat", true, false, false, no_args }, /* resources area */
	{ "mount", true, false, true, lock_args },
	{ "umount", true, false, true, lock_args },
	{ "set", true, false, true, set_args },
	{ "list", false, false, false, list_args },
	{ "exec", true, false, false, exec_args },
	{ "enter", true, false, false, exec_args },
	{ "console", true, false, false, no_args },
	{ "template-build", false, false, false, tmpl_args },
	{ "template-list", false, false, false, tmpl_args },
	{ "template-remove", false, false, false, tmpl_args },
	{ "template-import", false, false, false, tmpl_args },
	{ "template-export", false, false, false, tmpl_args },
	{ "template-update", false, false, false, tmpl_args },
	{ "rebase", true, false, true, rebase_args },
	{ "rebase-all", false, false, false, rebase_args },
	{ "clone", true, false, true, clone_args },
	{ "suspend", true, false, true, ckpt_args },
	{ "resume", true, false, true, ckpt_args },
	{ "suspend-all", false, false, false, ckpt_args }, /* checkpoint area */
	{ "resume-all", false, false, false, ckpt_args },
};

static const struct verb *verb_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

static int check_args(const struct verb *v, json_t *args, struct st_error **err)
{
	const char *key;
	json_t *val;

	if (!args)
		return 0;
	if (!json_is_object(args))
		return st_error_setx(err, ST_EXIT_PROTOCOL, 0, "%s: \"args\" is not an object",
				     v->name);
	json_object_foreach (args, key, val) {
		bool known = false;
		for (const char *const *a = v->args; *a; a++)
			if (strcmp(*a, key) == 0)
				known = true;
		if (!known)
			return st_error_setx(err, ST_EXIT_BADARG, 0, "%s: unknown argument `%s`",
					     v->name, key);
	}
	return 0;
}

static bool arg_bool(json_t *args, const char *name)
{
	json_t *v = args ? json_object_get(args, name) : NULL;

	return v && json_is_true(v);
}

/* Run a request whose container (if any) is locked by c. 0: replied and
 * done, 1: answered later (async), <0: error to reply. */
static int run_verb(struct daemon *d, struct conn *c, const struct verb *v, const char *ctid,
		    struct ct *ct, json_t *args, json_t **result, struct st_error **err)
{
	const char *n = v->name;

	if (!strcmp(n, "ping") || !strcmp(n, "version")) {
		*result = json_pack("{s:s}", "version", STRATA_VERSION);
		return 0;
	}
	if (!strcmp(n, "create"))
		return ct_do_create(d, ctid, args, err);
	if (!strcmp(n, "list")) {
		bool all = arg_bool(args, "all"), stopped = arg_bool(args, "stopped");
		json_t *arr = json_array();

		for (struct ct *x = d->cts; x; x = x->next) {
			bool running = x->run != CT_STOPPED;
			if (stopped && running)
				continue;
			if (!all && !stopped && !running)
				continue;
			json_t *o = ct_list_json(d, x);

			/* templates area: the private area's usage, walked only on request */
			if (arg_bool(args, "diskspace"))
				json_object_set_new(o, "diskspace", ct_diskspace_json(d, x));
			json_array_append_new(arr, o);
		}
		*result = json_pack("{s:o}", "containers", arr);
		return 0;
	}
	if (!strncmp(n, "template-", 9))
		return do_template(d, c, n, args, result, err);
	if (!strcmp(n, "stat"))
		return ct_do_stat(d, ct, result, err);
	if (!strcmp(n, "status")) {
		*result = ct_status_json(d, ct);
		return 0;
	}
	if (!strcmp(n, "destroy") || !strcmp(n, "delete"))
		return ct_do_destroy(d, ct, err);
	if (!strcmp(n, "mount"))
		return ct_do_mount(d, ct, err);
	if (!strcmp(n, "umount"))
		return ct_do_umount(d, ct, err);
	if (!strcmp(n, "start")) {
		int r;

		if (d->pool) {
			/* checked and locked here, started by a worker, answered by
			 * start_pool_on_done(): the loop serves others meanwhile */
			if (ct_start_check(d, ct, err) < 0)
				return -1;
			return start_pool_submit(d, ct, c, arg_bool(args, "wait"), err);
		}
		r = ct_do_start(d, ct, err);

		if (r < 0 || !arg_bool(args, "wait"))
			return r;
		r = ct_start_wait(d, ct, c, err);
		if (r == 1 && ct->owner == c)
			ct_unlock(d, ct); /* the container is up: others may go on */
		return r;
	}
	if (!strcmp(n, "stop") || !strcmp(n, "restart")) {
		bool restart = !strcmp(n, "restart");
		int r;

		if (restart && ct->run == CT_STOPPED)
			return ct_do_start(d, ct, err);
		r = ct_do_stop(d, ct, arg_bool(args, "fast"), err);
		if (r < 0)
			return r;
		ct->stop_conn = c;
		ct->restart_after = restart;
		c->refs++;
		return 1;
	}
	if (!strcmp(n, "set")) {
		const char *sm = json_string_value(json_object_get(args, "setmode"));
		int r = ct_do_set(d, ct, args, result, err);

		if (r < 0 || !sm || strcmp(sm, "restart") || ct->run != CT_RUNNING ||
		    json_array_size(json_object_get(*result, "restart_needed")) == 0)
			return r;
		/* --setmode restart: the reply comes when it runs again */
		json_decref(*result);
		*result = NULL;
		r = ct_do_stop(d, ct, false, err);
		if (r < 0)
			return r;
		ct->stop_conn = c;
		ct->restart_after = true;
		c->refs++;
		return 1;
	}
	if (!strcmp(n, "exec") || !strcmp(n, "enter"))
		return ct_do_exec(d, ct, c, args, !strcmp(n, "enter"), err);
	if (!strcmp(n, "console")) {
		int r = ct_console_attach(d, ct, c, err);
		return r < 0 ? r : 1;
	}
	if (!strcmp(n, "suspend"))
		return ct_req_suspend(d, ct, c, args, result, err);
	if (!strcmp(n, "suspend-all") || !strcmp(n, "resume-all"))
		return ct_req_ckpt_all(d, c, n[0] == 's', args, result, err);
	if (!strcmp(n, "rebase"))
		return ct_do_rebase(d, ct, args, result, err);
	if (!strcmp(n, "rebase-all"))
		return ct_do_rebase_all(d, args, result, err);
	if (!strcmp(n, "clone"))
		return ct_do_clone(d, ct, args, result, err);
	if (!strcmp(n, "resume"))
		return ct_req_resume(d, ct, c, args, result, err);
	return st_error_setx(err, ST_EXIT_PROTOCOL, 0, "unknown verb `%s`", n);
}

/* Give the container to the next waiting request. */
void ct_unlock(struct daemon *d, struct ct *ct)
{
	struct conn *next;

	ct->locked = false;
	ct->owner = NULL;
	while ((next = ct->waiters)) {
		json_t *req = next->parked;

		ct->waiters = next->next_in;
		next->next_in = NULL;
		next->parked = NULL;
		if (next->closed) {
			json_decref(req);
			conn_unref(next);
			continue;
		}
		next->refs--;
		api_handle_request(d, next, req);
		json_decref(req);
		if (ct->locked)
			break;
	}
}

void api_handle_request(struct daemon *d, struct conn *c, json_t *req)
{
	_cleanup_error_ struct st_error *err = NULL;
	json_t *result = NULL, *args, *jverb, *jctid;
	const struct verb *v;
	const char *ctid = NULL;
	struct ct *ct = NULL;
	int r;

	c->busy = true;
	jverb = json_object_get(req, "verb");
	if (!json_is_object(req) || !json_is_string(jverb)) {
		st_error_setx(&err, ST_EXIT_PROTOCOL, 0, "malformed request: no \"verb\" string");
		goto fail;
	}
	v = verb_find(json_string_value(jverb));
	if (!v) {
		st_error_setx(&err, ST_EXIT_PROTOCOL, 0, "unknown verb `%s`",
			      json_string_value(jverb));
		goto fail;
	}
	{
		const char *key;
		json_t *val;
		json_object_foreach (req, key, val) {
			if (strcmp(key, "verb") && strcmp(key, "ctid") && strcmp(key, "args")) {
				st_error_setx(&err, ST_EXIT_PROTOCOL, 0,
					      "malformed request: unknown field `%s`", key);
				goto fail;
			}
		}
	}
	if (!v->public && !c->authorized) {
		st_error_setx(&err, ST_EXIT_PERM, 0,
			      "permission denied: only root and members of group `strata` may "
			      "manage containers");
		goto fail;
	}
	args = json_object_get(req, "args");
	st_trace("request %s %s from pid %d uid %d", v->name,
		 json_is_string(json_object_get(req, "ctid"))
			 ? json_string_value(json_object_get(req, "ctid"))
			 : "-",
		 (int)c->pid, (int)c->uid);
	if (check_args(v, args, &err) < 0)
		goto fail;
	jctid = json_object_get(req, "ctid");
	if (v->needs_ct) {
		if (jctid && !json_is_string(jctid)) {
			st_error_setx(&err, ST_EXIT_BADARG, 0,
				      "%s: `ctid` must be a string (\"101\")", v->name);
			goto fail;
		}
		if (!json_is_string(jctid)) {
			st_error_setx(&err, ST_EXIT_BADARG, 0, "%s: no CTID given", v->name);
			goto fail;
		}
		ctid = json_string_value(jctid);
		if (ct_validate_ctid(ctid, &err) < 0) {
			st_error_prefix(&err, "%s", v->name);
			goto fail;
		}
		ct = ct_find(d, ctid);
		if (!ct && strcmp(v->name, "create")) {
			st_error_setx(&err, ST_EXIT_NOCONFIG, 0,
				      "%s %s: container does not exist (no config `%s/%s.conf`)",
				      v->name, ctid, d->g->conf_dir, ctid);
			goto fail;
		}
		if (ct && !strcmp(v->name, "create")) {
			st_error_setx(&err, ST_EXIT_PRIVATE_EXISTS, 0,
				      "create %s: container already exists", ctid);
			goto fail;
		}
	} else if (jctid && !json_is_null(jctid)) {
		st_error_setx(&err, ST_EXIT_BADARG, 0, "%s: takes no CTID", v->name);
		goto fail;
	}
	if (ct && v->takes_lock) {
		if (ct->locked) {
			if (arg_bool(args, "nowait")) {
				st_error_setx(&err, ST_EXIT_LOCKED, 0,
					      "%s %s: container is locked by another operation",
					      v->name, ct->ctid);
				goto fail;
			}
			/* wait in line */
			c->parked = json_incref(req);
			c->refs++;
			{
				struct conn **p = &ct->waiters;
				while (*p)
					p = &(*p)->next_in;
				*p = c;
			}
			st_debug("%s %s: waiting for the container lock", v->name, ct->ctid);
			return;
		}
		ct->locked = true;
		ct->owner = c;
	}

	r = run_verb(d, c, v, ctid, ct, args, &result, &err);
	if (r == 1)
		return; /* answered later; the lock stays until then */
	if (ct && ct->destroyed) {
		/* out of the registry first: waiters then find no container */
		for (struct ct **p = &d->cts; *p; p = &(*p)->next)
			if (*p == ct) {
				*p = ct->next;
				break;
			}
	}
	if (ct && v->takes_lock && ct->owner == c)
		ct_unlock(d, ct);
	if (ct && ct->destroyed)
		ct_forget(d, ct);
	if (r < 0)
		goto fail;
	reply_ok(c, result);
	conn_done(c);
	return;
fail:
	if (!err)
		st_error_setx(&err, ST_EXIT_FAILED, 0, "request failed");
	reply_error(c, err);
	conn_done(c);
}
