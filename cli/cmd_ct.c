/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Lifecycle verbs: create, destroy, start, stop, restart, status, mount,
 * umount, suspend, resume. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "ksal/cleanup.h"

/* --- create ----------------------------------------------------------- */

static const struct cli_opt create_opts[] = {
	{ "ostemplate", 0, true }, { "config", 0, true }, { "private", 0, true },
	{ "root", 0, true },	   { "layout", 0, true }, { "nowait", 0, false },
	CLI_SET_OPTIONS,	   { NULL, 0, false },
};

/* Append val to a space-joined string option in obj. */
int cli_opt_append(json_t *obj, const char *key, const char *val)
{
	const char *old = json_string_value(json_object_get(obj, key));
	_cleanup_free_ char *joined = NULL;

	if (!old || !*old)
		return json_object_set_new(obj, key, json_string(val));
	if (asprintf(&joined, "%s %s", old, val) < 0)
		return -1;
	return json_object_set_new(obj, key, json_string(joined));
}

int cli_set_opt_is_list(const char *name)
{
	static const char *const lists[] = { "ipadd",	     "ipdel",	   "nameserver",
					     "searchdomain", "capability", "netif_add",
					     "netif_del" };

	for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
		if (strcmp(lists[i], name) == 0)
			return 1;
	return 0;
}

/* create's own arguments; the other options travel in args.options */
static bool create_arg_is_flat(const char *name)
{
	static const char *const flat[] = { "ostemplate", "config", "name",  "hostname",
					    "private",	  "root",   "layout" };

	for (size_t i = 0; i < ARRAY_SIZE(flat); i++)
		if (strcmp(flat[i], name) == 0)
			return true;
	return false;
}

static int create_parse(struct cli_cmd *cmd, int argc, char **argv, struct st_error **err)
{
	_cleanup_free_ char *ctid = NULL;
	struct cli_args a;
	const struct cli_opt *o;
	const char *val;
	json_t *args;
	int r;

	args = cli_req_new(cmd, "create", NULL);
	if (!args)
		return st_error_set(err, ENOMEM, "create");
	cli_args_init(&a, "create", argc, argv);
	while ((r = cli_args_next(&a, cmd, create_opts, &o, &val, err)) > 0) {
		if (r == CLI_ARG_POS) {
			r = cli_arg_ctid("create", val, &ctid, err);
			if (r < 0)
				return r;
			continue;
		}
		if (strcmp(o->name, "layout") == 0 && strcmp(val, "dir") != 0 &&
		    strcmp(val, "image") != 0)
			return st_error_setx(err, ST_EXIT_BADARG, 0,
					     "create: invalid --layout `%s`: use dir or image",
					     val);
		if (strcmp(o->name, "nowait") == 0) {
			json_object_set_new(args, "nowait", json_true());
		} else if (strcmp(o->name, "ipadd") == 0) {
			json_t *ips = json_object_get(args, "ipadd");

			if (!ips) {
				ips = json_array();
				json_object_set_new(args, "ipadd", ips);
			}
			json_array_append_new(ips, json_string(val));
		} else if (create_arg_is_flat(o->name)) {
			json_object_set_new(args, o->name, json_string(val));
		} else {
			/* any other `set` option, as set sends it */
			json_t *opts = json_object_get(args, "options");

			if (!opts) {
				opts = json_object();
				json_object_set_new(args, "options", opts);
			}
			if (cli_set_opt_is_list(o->name))
				cli_opt_append(opts, o->name, val);
			else
				json_object_set_new(opts, o->name, json_string(val));
		}
	}
	if (r < 0 || cmd->action != CLI_REQUEST)
		return r;
	if (!ctid)
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "create: missing CTID (strata create CTID --ostemplate NAME)");
	json_object_set_new(cmd->req, "ctid", json_string(ctid));
	cmd->ctid = take_ptr(ctid);
	return 0;
}

const struct cli_verb cli_verb_create = {
	.name = "create",
	.summary = "create a container from an OS template",
	.usage =
		"strata create CTID [--ostemplate NAME[@VERSION]] [--config NAME] [--name NAME]\n"
		"                    [--hostname HOST] [--ipadd ADDR]... [--private DIR] [--root DIR]\n"
		"                    [--layout dir|image] [any `strata set` option]\n"
		"\n"
		"Create container CTID: its config /etc/strata/ct/CTID.conf (from the sample\n"
		"config NAME with --config) and its private area over the OS template. Without\n"
		"--ostemplate the default template of strata.conf is used.\n",
	.opts = create_opts,
	.parse = create_parse,
	.done = "created",
};

/* --- verbs of the form "VERB CTID [flags]" ---------------------------- */

static const struct cli_opt no_opts[] = { { NULL, 0, false } };
/* Verbs that take the container's lock: --nowait fails at once (exit 9)
 * instead of waiting for another operation on it to end. */
static const struct cli_opt lock_opts[] = { { "nowait", 0, false }, { NULL, 0, false } };

const struct cli_verb cli_verb_destroy = {
	.name = "destroy",
	.aliases = { "delete" },
	.summary = "delete a stopped container: its private area and config",
	.usage = "strata destroy CTID [--nowait]\nstrata delete CTID\n"
		 "\n"
		 "Delete container CTID (it must be stopped): its private area, its mount point\n"
		 "and its config (kept as CTID.conf.destroyed).\n",
	.opts = lock_opts,
	.parse = cli_parse_ctid_flags,
	.done = "destroyed",
};

static const struct cli_opt start_opts[] = { { "wait", 0, false },
					     { "nowait", 0, false },
					     { NULL, 0, false } };

const struct cli_verb cli_verb_start = {
	.name = "start",
	.summary = "start a container",
	.usage = "strata start CTID [CTID...] [--wait] [--nowait]\n"
		 "\n"
		 "Mount the container's root if needed and start its init. With --wait, return\n"
		 "only when the container has finished booting. Several CTIDs are started at\n"
		 "once (up to 16 requests in flight; stratad runs them on START_WORKERS threads),\n"
		 "reported in the order given; the exit code is the first failure's.\n",
	.opts = start_opts,
	.parse = cli_parse_ctid_flags,
	.done = "started",
	.many = true,
};

static const struct cli_opt stop_opts[] = { { "fast", 0, false },
					    { "nowait", 0, false },
					    { NULL, 0, false } };

const struct cli_verb cli_verb_stop = {
	.name = "stop",
	.summary = "stop a container",
	.usage = "strata stop CTID [CTID...] [--fast] [--nowait]\n"
		 "\n"
		 "Send the init its halt signal, wait STOP_TIMEOUT seconds, then kill every task\n"
		 "of the container and unmount it. --fast kills at once. Several CTIDs are\n"
		 "stopped at once (up to 16 requests in flight), reported in the order given;\n"
		 "the exit code is the first failure's.\n"
		 "\n"
		 "--nowait (every verb that changes a container): fail with exit code 9 at once\n"
		 "if another operation holds the container's lock, instead of waiting.\n",
	.opts = stop_opts,
	.parse = cli_parse_ctid_flags,
	.done = "stopped",
	.many = true,
};

static const struct cli_opt restart_opts[] = {
	{ "wait", 0, false }, { "fast", 0, false }, { "nowait", 0, false }, { NULL, 0, false }
};

/* One request of restart --wait: VERB on the container with the flags of
 * args that VERB takes. */
static int restart_step(struct cli_cmd *cmd, const char *verb, json_t *args, json_t **res,
			struct st_error **err)
{
	json_t *saved = cmd->req;
	json_t *a = json_object();
	int r;

	json_object_set(a, "nowait", json_object_get(args, "nowait"));
	json_object_set(a, !strcmp(verb, "stop") ? "fast" : "wait",
			json_object_get(args, !strcmp(verb, "stop") ? "fast" : "wait"));
	cmd->req = json_pack("{s:s,s:s,s:o}", "verb", verb, "ctid", cmd->ctid, "args", a);
	r = cmd->req ? cli_call(cmd, NULL, 0, res, err) : st_error_set(err, ENOMEM, "restart");
	json_decref(cmd->req);
	cmd->req = saved;
	return r;
}

/* restart [--fast] in one request; restart --wait as vzctl's: stop, then
 * start --wait (the daemon's restart answers once the init runs again,
 * not once it has booted). */
static int restart_run(struct cli_cmd *cmd, struct st_error **err)
{
	json_t *args = cli_req_args(cmd);
	json_t *res = NULL;
	int r;

	/* json_object_set() of a NULL value fails: only flags given are sent */
	if (!json_object_get(args, "nowait"))
		json_object_set_new(args, "nowait", json_false());
	if (!json_object_get(args, "fast"))
		json_object_set_new(args, "fast", json_false());
	if (json_is_true(json_object_get(args, "wait"))) {
		r = restart_step(cmd, "stop", args, &res, err);
		if (r < 0 && st_error_exit(*err) == ST_EXIT_NOTRUNNING) {
			st_error_freep(err);
			r = 0;
		}
		json_decref(res);
		res = NULL;
		if (r >= 0)
			r = restart_step(cmd, "start", args, &res, err);
	} else {
		json_object_del(args, "wait");
		r = cli_call(cmd, NULL, 0, &res, err);
	}
	if (r < 0)
		return r;
	if (cmd->json) {
		json_dumpf(res, stdout, CLI_JSON_FLAGS);
		fputc('\n', stdout);
	} else if (!cmd->quiet) {
		printf("Container %s restarted\n", cmd->ctid);
	}
	json_decref(res);
	return 0;
}

const struct cli_verb cli_verb_restart = {
	.name = "restart",
	.summary = "stop and start a container",
	.usage = "strata restart CTID [--wait] [--fast] [--nowait]\n"
		 "\n"
		 "Stop the container (if running), then start it. --fast stops it as\n"
		 "stop --fast does; --wait returns only when it has finished booting, as\n"
		 "start --wait does.\n",
	.opts = restart_opts,
	.parse = cli_parse_ctid_flags,
	.run = restart_run,
	.done = "restarted",
};

const struct cli_verb cli_verb_mount = {
	.name = "mount",
	.summary = "mount a container's root without starting it",
	.usage =
		"strata mount CTID [--nowait]\n\nCompose and mount the container's root at its VE_ROOT.\n",
	.opts = lock_opts,
	.parse = cli_parse_ctid_flags,
	.done = "mounted",
};

const struct cli_verb cli_verb_umount = {
	.name = "umount",
	.aliases = { "unmount" },
	.summary = "unmount a stopped container's root",
	.usage = "strata umount CTID [--nowait]\n\nUnmount the root of a stopped container.\n",
	.opts = lock_opts,
	.parse = cli_parse_ctid_flags,
	.done = "unmounted",
};

/* suspend, resume: cli/cmd_ckpt.c (checkpoint area) */

/* --- status ----------------------------------------------------------- */

static bool status_flag(json_t *res, const char *key)
{
	return json_is_true(json_object_get(res, key));
}

char *cli_status_line(const char *ctid, json_t *result)
{
	json_t *id = json_object_get(result, "ctid");
	char *line = NULL;
	char num[32];

	if (json_is_string(id)) {
		ctid = json_string_value(id);
	} else if (json_is_integer(id)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(id));
		ctid = num;
	}
	if (asprintf(&line, "CTID %s %s %s %s%s", ctid,
		     status_flag(result, "exist") ? "exist" : "deleted",
		     status_flag(result, "mounted") ? "mounted" : "unmounted",
		     status_flag(result, "running") ? "running" : "down",
		     status_flag(result, "suspended") ? " suspended" : "") < 0)
		return NULL;
	return line;
}

static int status_run(struct cli_cmd *cmd, struct st_error **err)
{
	json_t *res = NULL;
	_cleanup_free_ char *line = NULL;
	int r;

	r = cli_call(cmd, NULL, 0, &res, err);
	if (r < 0 && st_error_exit(*err) == ST_EXIT_NOCONFIG) {
		/* vzctl: a container that does not exist is a status too */
		st_error_freep(err);
		res = json_pack("{s:s, s:b, s:b, s:b}", "ctid", cmd->ctid, "exist", 0, "mounted", 0,
				"running", 0);
		r = res ? 0 : st_error_set(err, ENOMEM, "status %s", cmd->ctid);
	}
	if (r < 0)
		return r;
	if (cmd->json) {
		json_dumpf(res, stdout, CLI_JSON_FLAGS);
		fputc('\n', stdout);
		json_decref(res);
		return 0;
	}
	line = cli_status_line(cmd->ctid, res);
	json_decref(res);
	if (!line)
		return st_error_set(err, ENOMEM, "status %s", cmd->ctid);
	puts(line);
	return 0;
}

const struct cli_verb cli_verb_status = {
	.name = "status",
	.summary = "print a container's state in one parseable line",
	.usage = "strata status CTID [-j]\n"
		 "\n"
		 "Print `CTID 101 exist mounted running` (or `deleted`, `unmounted`, `down`; a\n"
		 "suspended container gets ` suspended` appended), as vzctl does. -j prints\n"
		 "the daemon's JSON object instead.\n",
	.opts = no_opts,
	.parse = cli_parse_ctid_flags,
	.run = status_run,
};
