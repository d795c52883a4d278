/* SPDX-License-Identifier: GPL-2.0-or-later */
/* strata suspend / resume (checkpoint area): one container or --all. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "ksal/cleanup.h"

static const struct cli_opt ckpt_opts[] = {
	{ "dumpfile", 0, true }, { "keep", 0, false }, { "all", 0, false },
	{ "nowait", 0, false },	 { NULL, 0, false },
};

static int ckpt_parse(struct cli_cmd *cmd, int argc, char **argv, struct st_error **err)
{
	const char *verb = cmd->verb->name;
	_cleanup_free_ char *ctid = NULL;
	const char *dumpfile = NULL;
	bool all = false, keep = false, nowait = false;
	struct cli_args a;
	const struct cli_opt *o;
	const char *val;
	json_t *args;
	int r;

	cli_args_init(&a, verb, argc, argv);
	while ((r = cli_args_next(&a, cmd, ckpt_opts, &o, &val, err)) > 0) {
		if (r == CLI_ARG_POS) {
			r = cli_arg_ctid(verb, val, &ctid, err);
			if (r < 0)
				return r;
			continue;
		}
		if (!strcmp(o->name, "dumpfile"))
			dumpfile = val;
		else if (!strcmp(o->name, "keep"))
			keep = true;
		else if (!strcmp(o->name, "all"))
			all = true;
		else if (!strcmp(o->name, "nowait"))
			nowait = true;
	}
	if (r < 0 || cmd->action != CLI_REQUEST)
		return r;
	r = cli_ctid_or_all(verb, ctid, all, NULL, err);
	if (r < 0)
		return r;
	if (all && dumpfile)
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "%s: --dumpfile names one container's images, not --all",
				     verb);
	if (dumpfile && dumpfile[0] != '/')
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "%s: --dumpfile `%s`: give an absolute path", verb, dumpfile);
	if (keep && !strcmp(verb, "suspend"))
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "suspend: --keep is an option of resume (images are kept "
				     "until a resume)");
	if (all) {
		_cleanup_free_ char *v = NULL;

		if (asprintf(&v, "%s-all", verb) < 0)
			return st_error_set(err, ENOMEM, "%s", verb);
		args = cli_req_new(cmd, v, NULL);
	} else {
		args = cli_req_new(cmd, verb, ctid);
	}
	if (!args)
		return st_error_set(err, ENOMEM, "%s", verb);
	if (dumpfile)
		json_object_set_new(args, "dumpfile", json_string(dumpfile));
	if (keep)
		json_object_set_new(args, "keep", json_true());
	if (nowait && !all)
		json_object_set_new(args, "nowait", json_true());
	cmd->ctid = ctid ? take_ptr(ctid) : strdup("--all");
	return 0;
}

static int ckpt_run(struct cli_cmd *cmd, struct st_error **err)
{
	bool suspend = !strcmp(cmd->verb->name, "suspend");
	json_t *res = NULL, *cts, *c;
	int rc = 0, r;
	size_t i;

	r = cli_call(cmd, NULL, 0, &res, err);
	if (r < 0)
		return r;
	if (cmd->json) {
		json_dumpf(res, stdout, CLI_JSON_FLAGS);
		fputc('\n', stdout);
	}
	cts = json_object_get(res, "containers");
	if (!cts) { /* one container */
		const char *kept = json_string_value(json_object_get(res, "kept"));
		const char *dir = json_string_value(json_object_get(res, "dumpfile"));

		if (!cmd->json && !cmd->quiet) {
			printf("Container %s %s\n", cmd->ctid, suspend ? "suspended" : "resumed");
			if (suspend && dir)
				printf("  checkpoint in %s\n", dir);
			if (suspend && json_is_number(json_object_get(res, "frozen_ms")))
				printf("  %.0f ms, frozen %.0f ms, %.1f MiB\n",
				       json_number_value(json_object_get(res, "total_ms")),
				       json_number_value(json_object_get(res, "frozen_ms")),
				       (double)json_integer_value(
					       json_object_get(res, "image_bytes")) /
					       1048576.0);
			if (kept)
				printf("  checkpoint kept in %s\n", kept);
		}
		json_decref(res);
		return 0;
	}
	json_array_foreach (cts, i, c) {
		const char *id = json_string_value(json_object_get(c, "ctid"));
		const char *st = json_string_value(json_object_get(c, "status"));

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
		if (!cmd->json && !cmd->quiet)
			printf("Container %s %s\n", id, st);
	}
	if (!cmd->json && !cmd->quiet && json_array_size(cts) == 0)
		printf("No container to %s\n", cmd->verb->name);
	json_decref(res);
	return rc;
}

const struct cli_verb cli_verb_suspend = {
	.name = "suspend",
	.aliases = { "chkpnt" },
	.summary = "checkpoint a running container to disk and stop it",
	.usage = "strata suspend CTID [--dumpfile DIR] [--nowait]\n"
		 "strata suspend --all\n"
		 "strata chkpnt CTID\n"
		 "\n"
		 "Freeze the container, dump its whole state with CRIU into DIR (default\n"
		 "STATE_DIR/dumps/CTID) and stop it; `strata resume` brings it back. If the\n"
		 "dump fails the container keeps running and the error ends with CRIU's log\n"
		 "(exit 16). --all: every running container.\n",
	.opts = ckpt_opts,
	.parse = ckpt_parse,
	.run = ckpt_run,
};

const struct cli_verb cli_verb_resume = {
	.name = "resume",
	.aliases = { "restore" },
	.summary = "restore a suspended container",
	.usage = "strata resume CTID [--dumpfile DIR] [--keep] [--nowait]\n"
		 "strata resume --all [--keep]\n"
		 "strata restore CTID\n"
		 "\n"
		 "Restore a container from the checkpoint `strata suspend` wrote (from DIR\n"
		 "with --dumpfile). The images are removed after a successful resume unless\n"
		 "--keep (a checkpoint in the default place is then moved to\n"
		 "STATE_DIR/dumps/CTID.kept). If the restore fails the images stay and the\n"
		 "container is still suspended (exit 17). --all: every suspended container.\n",
	.opts = ckpt_opts,
	.parse = ckpt_parse,
	.run = ckpt_run,
};
