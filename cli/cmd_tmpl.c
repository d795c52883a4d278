/* SPDX-License-Identifier: GPL-2.0-or-later */
/* strata rebase and strata clone (templates area). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "ksal/cleanup.h"

/* --- rebase ----------------------------------------------------------- */

static const struct cli_opt rebase_opts[] = {
	{ "ostemplate", 0, true }, { "all", 0, false }, { "on-restart", 0, false },
	{ "nowait", 0, false },	   { NULL, 0, false },
};

static int rebase_parse(struct cli_cmd *cmd, int argc, char **argv, struct st_error **err)
{
	_cleanup_free_ char *ctid = NULL;
	const char *tmpl = NULL;
	bool all = false, on_restart = false, nowait = false;
	struct cli_args a;
	const struct cli_opt *o;
	const char *val;
	json_t *args;
	int r;

	cli_args_init(&a, "rebase", argc, argv);
	while ((r = cli_args_next(&a, cmd, rebase_opts, &o, &val, err)) > 0) {
		if (r == CLI_ARG_POS) {
			r = cli_arg_ctid("rebase", val, &ctid, err);
			if (r < 0)
				return r;
			continue;
		}
		if (!strcmp(o->name, "ostemplate"))
			tmpl = val;
		else if (!strcmp(o->name, "all"))
			all = true;
		else if (!strcmp(o->name, "on-restart"))
			on_restart = true;
		else if (!strcmp(o->name, "nowait"))
			nowait = true;
	}
	if (r < 0 || cmd->action != CLI_REQUEST)
		return r;
	r = cli_ctid_or_all("rebase", ctid, all,
			    "strata rebase CTID|--all --ostemplate NAME@VERSION", err);
	if (r < 0)
		return r;
	if (!tmpl || !*tmpl)
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "rebase: missing --ostemplate NAME@VERSION");
	args = cli_req_new(cmd, all ? "rebase-all" : "rebase", ctid);
	if (!args)
		return st_error_set(err, ENOMEM, "rebase");
	json_object_set_new(args, "ostemplate", json_string(tmpl));
	if (on_restart)
		json_object_set_new(args, "on_restart", json_true());
	if (nowait && !all)
		json_object_set_new(args, "nowait", json_true());
	cmd->ctid = ctid ? take_ptr(ctid) : strdup("--all");
	return 0;
}

static int rebase_run(struct cli_cmd *cmd, struct st_error **err)
{
	json_t *res = NULL, *cts, *c;
	int rc = 0, r;
	size_t i;

	r = cli_call(cmd, NULL, 0, &res, err);
	if (r < 0)
		return r;
	cts = json_object_get(res, "containers");
	if (cmd->json) {
		json_dumpf(res, stdout, CLI_JSON_FLAGS);
		fputc('\n', stdout);
	}
	json_array_foreach (cts, i, c) {
		const char *id = json_string_value(json_object_get(c, "ctid"));
		const char *st = json_string_value(json_object_get(c, "status"));
		const char *to = json_string_value(json_object_get(c, "to"));
		json_t *sh = json_object_get(c, "shadows"), *p;
		size_t k;

		if (!id || !st)
			continue;
		if (!strcmp(st, "failed")) {
			fprintf(stderr, "strata: %s\n",
				json_string_value(json_object_get(c, "error")));
			if (!rc)
				rc = (int)json_integer_value(json_object_get(c, "exit"));
			if (!rc)
				rc = ST_EXIT_FAILED;
			continue;
		}
		if (cmd->json || cmd->quiet)
			continue;
		if (!strcmp(st, "pending")) {
			printf("Container %s will be rebased onto %s at its next start\n", id,
			       to ? to : "?");
			continue;
		}
		printf("Container %s rebased onto %s\n", id, to ? to : "?");
		if (json_array_size(sh) == 0) {
			printf("  no file of the container shadows the template: the whole update "
			       "reaches it\n");
			continue;
		}
		printf("  these keep the container's own copy (the update does not reach them):\n");
		json_array_foreach (sh, k, p)
			printf("    /%s\n", json_string_value(p));
	}
	if (!cmd->json && !cmd->quiet && json_array_size(cts) == 0)
		printf("No container to rebase\n");
	json_decref(res);
	return rc;
}

const struct cli_verb cli_verb_rebase = {
	.name = "rebase",
	.summary = "move containers onto another version of their OS template",
	.usage = "strata rebase CTID --ostemplate NAME@VERSION [--on-restart] [--nowait]\n"
		 "strata rebase --all --ostemplate NAME@VERSION [--on-restart]\n"
		 "\n"
		 "Move a stopped container (with --all: every container of template NAME not\n"
		 "yet on VERSION) onto NAME@VERSION: OSTEMPLATE in its config is updated, its\n"
		 "private layer is kept. Lists, per container, the files its private layer\n"
		 "shadows: those keep the container's copy, the update does not reach them.\n"
		 "A running container is refused (32) unless --on-restart, which records the\n"
		 "target and rebases at the container's next start or restart.\n",
	.opts = rebase_opts,
	.parse = rebase_parse,
	.run = rebase_run,
};

/* --- clone ------------------------------------------------------------ */

static const struct cli_opt clone_opts[] = {
	{ "name", 0, true },
	{ "hostname", 0, true },
	{ "nowait", 0, false },
	{ NULL, 0, false },
};

static int clone_parse(struct cli_cmd *cmd, int argc, char **argv, struct st_error **err)
{
	_cleanup_free_ char *src = NULL, *dst = NULL;
	struct cli_args a;
	const struct cli_opt *o;
	const char *val;
	json_t *args;
	int r;

	args = cli_req_new(cmd, "clone", NULL);
	if (!args)
		return st_error_set(err, ENOMEM, "clone");
	cli_args_init(&a, "clone", argc, argv);
	while ((r = cli_args_next(&a, cmd, clone_opts, &o, &val, err)) > 0) {
		if (r == CLI_ARG_POS) {
			if (src && dst)
				return st_error_setx(err, ST_EXIT_BADARG, 0,
						     "clone: unexpected argument `%s`", val);
			r = cli_ctid_check("clone", val, src ? &dst : &src, err);
			if (r < 0)
				return r;
			continue;
		}
		if (!strcmp(o->name, "nowait"))
			json_object_set_new(args, "nowait", json_true());
		else
			json_object_set_new(args, o->name, json_string(val));
	}
	if (r < 0 || cmd->action != CLI_REQUEST)
		return r;
	if (!src || !dst)
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "clone: missing %s (strata clone SRC DST [--name NAME])",
				     src ? "DST" : "SRC");
	json_object_set_new(cmd->req, "ctid", json_string(src));
	json_object_set_new(args, "dst", json_string(dst));
	cmd->ctid = take_ptr(dst);
	return 0;
}

const struct cli_verb cli_verb_clone = {
	.name = "clone",
	.summary = "copy a stopped container into a new one",
	.usage = "strata clone SRC DST [--name NAME] [--hostname HOST] [--nowait]\n"
		 "\n"
		 "Make container DST (a new numeric CTID) from the stopped container SRC: its\n"
		 "private layer is copied (not the template, which both share) with its files'\n"
		 "owners moved to DST's own user-namespace id range, and its config copied\n"
		 "without IP addresses, network interfaces, name and explicit VE_PRIVATE/VE_ROOT.\n"
		 "A LAYOUT=image container's image is copied (sparse), keeping its size limit.\n"
		 "Refused while SRC runs (32) or when DST exists (44).\n",
	.opts = clone_opts,
	.parse = clone_parse,
	.done = "cloned",
};
