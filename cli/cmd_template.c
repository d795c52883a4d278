/* SPDX-License-Identifier: GPL-2.0-or-later */
/* strata template build|list|remove|import|export */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "ksal/cleanup.h"

static const struct cli_opt no_opts[] = { { NULL, 0, false } };

struct template_sub {
	const char *name;
	int nargs; /* NAME, or NAME FILE */
	bool file_must_exist;
	const char *done;
};

static const struct template_sub subs[] = {
	{ "build", 1, false, "built" },	    { "list", 0, false, NULL },
	{ "remove", 1, false, "removed" },  { "import", 2, true, "imported" },
	{ "export", 2, false, "exported" }, { "update", 1, false, "updated" },
};

/* FILE as the daemon sees it: an absolute path. */
static char *abs_path(const char *file, bool must_exist)
{
	char *out = NULL;

	if (must_exist)
		return realpath(file, NULL);
	if (file[0] == '/')
		return strdup(file);
	_cleanup_free_ char *cwd = getcwd(NULL, 0);
	if (!cwd)
		return NULL;
	if (asprintf(&out, "%s/%s", cwd, file) < 0)
		return NULL;
	return out;
}

static int template_parse(struct cli_cmd *cmd, int argc, char **argv, struct st_error **err)
{
	const struct template_sub *sub = NULL;
	const char *pos[3] = { NULL, NULL, NULL };
	int npos = 0;
	struct cli_args a;
	const struct cli_opt *o;
	const char *val;
	int r;

	cli_args_init(&a, "template", argc, argv);
	while ((r = cli_args_next(&a, cmd, no_opts, &o, &val, err)) > 0) {
		if (!sub) {
			for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
				if (strcmp(subs[i].name, val) == 0)
					sub = &subs[i];
			if (!sub)
				return st_error_setx(
					err, ST_EXIT_BADARG, 0,
					"template: unknown action `%s` (build, list, remove, import, export "
					"or update)",
					val);
			continue;
		}
		if (npos >= sub->nargs)
			return st_error_setx(err, ST_EXIT_BADARG, 0,
					     "template %s: unexpected argument `%s`", sub->name,
					     val);
		pos[npos++] = val;
	}
	if (r < 0 || cmd->action != CLI_REQUEST)
		return r;
	if (!sub)
		return st_error_setx(
			err, ST_EXIT_BADARG, 0,
			"template: missing action (build, list, remove, import or export)");
	if (npos < sub->nargs)
		return st_error_setx(err, ST_EXIT_BADARG, 0, "template %s: missing %s", sub->name,
				     npos == 0 ? "NAME" : "FILE");
	if (pos[0] && (strchr(pos[0], '/') || pos[0][0] == '.' || pos[0][0] == '\0'))
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "template %s: invalid template name `%s`", sub->name, pos[0]);

	_cleanup_free_ char *verb = NULL;
	if (asprintf(&verb, "template-%s", sub->name) < 0)
		return st_error_set(err, ENOMEM, "template");
	json_t *args = cli_req_new(cmd, verb, NULL);
	if (!args)
		return st_error_set(err, ENOMEM, "template");
	if (pos[0]) {
		json_object_set_new(args, "name", json_string(pos[0]));
		cmd->ctid = strdup(pos[0]);
	}
	if (pos[1]) {
		_cleanup_free_ char *file = abs_path(pos[1], sub->file_must_exist);

		if (!file)
			return st_error_setx(err, ST_EXIT_BADARG, errno, "template %s %s: `%s`",
					     sub->name, pos[0], pos[1]);
		json_object_set_new(args, "file", json_string(file));
	}
	return 0;
}

int cli_template_list_print(FILE *out, const struct cli_cmd *cmd, json_t *result,
			    struct st_error **err)
{
	json_t *tpls = json_object_get(result, "templates");
	size_t i;
	json_t *t;

	if (!json_is_array(tpls))
		return st_error_setx(err, ST_EXIT_PROTOCOL, 0,
				     "malformed reply from stratad: no \"templates\" array");
	if (cmd->json) {
		json_dumpf(tpls, out, CLI_JSON_FLAGS);
		fputc('\n', out);
		return 0;
	}
	if (!cmd->no_header)
		fprintf(out, "%-20s %-12s %-12s %s\n", "NAME", "VERSION", "HASH", "SIZE");
	json_array_foreach (tpls, i, t) {
		const char *name = json_string_value(json_object_get(t, "name"));
		json_t *ver = json_object_get(t, "version");
		const char *hash = json_string_value(json_object_get(t, "hash"));
		json_t *size = json_object_get(t, "size");
		char vbuf[32], sbuf[32];
		const char *vs = json_string_value(ver);

		if (!hash)
			hash = json_string_value(json_object_get(t, "sha256"));
		if (!vs && json_is_integer(ver)) {
			snprintf(vbuf, sizeof(vbuf), "%lld", (long long)json_integer_value(ver));
			vs = vbuf;
		}
		if (json_is_integer(size))
			snprintf(sbuf, sizeof(sbuf), "%lld", (long long)json_integer_value(size));
		else
			snprintf(sbuf, sizeof(sbuf), "%s",
				 json_is_string(size) ? json_string_value(size) : "-");
		fprintf(out, "%-20s %-12s %-12.12s %s\n", name ? name : "-", vs ? vs : "-",
			hash ? hash : "-", sbuf);
	}
	return 0;
}

static int template_run(struct cli_cmd *cmd, struct st_error **err)
{
	const char *verb = json_string_value(json_object_get(cmd->req, "verb"));
	json_t *res = NULL;
	int r;

	r = cli_call(cmd, NULL, 0, &res, err);
	if (r < 0)
		return r;
	if (strcmp(verb, "template-list") == 0) {
		r = cli_template_list_print(stdout, cmd, res, err);
	} else if (cmd->json) {
		json_dumpf(res, stdout, CLI_JSON_FLAGS);
		fputc('\n', stdout);
	} else if (!cmd->quiet) {
		for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
			if (strcmp(verb + strlen("template-"), subs[i].name) == 0 && subs[i].done)
				printf("Template %s %s\n", cmd->ctid, subs[i].done);
	}
	json_decref(res);
	return r < 0 ? r : 0;
}

const struct cli_verb cli_verb_template = {
	.name = "template",
	.summary = "build, list, remove, import and export OS templates",
	.usage = "strata template build NAME\n"
		 "strata template list [-j]\n"
		 "strata template remove NAME[@VERSION]\n"
		 "strata template import NAME FILE\n"
		 "strata template export NAME[@VERSION] FILE\n"
		 "strata template update NAME\n"
		 "\n"
		 "build     build the template NAME from its recipe (progress is shown)\n"
		 "list      the templates in the store: name, version, content hash, size\n"
		 "remove    remove a template version no container uses\n"
		 "import    add a template image FILE (read by the daemon) to the store\n"
		 "export    write a template image to FILE (written by the daemon)\n"
		 "update    make version N+1 of a Debian template from N with apt upgrade\n"
		 "          (N is kept; move containers with `strata rebase`)\n",
	.opts = no_opts,
	.parse = template_parse,
	.run = template_run,
};
