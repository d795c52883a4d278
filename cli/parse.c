/* SPDX-License-Identifier: GPL-2.0-or-later */
/* argv to struct cli_cmd: option scanning, CTIDs, request building. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"

enum { G_SOCKET, G_JSON, G_QUIET, G_VERBOSE, G_HELP };

static const struct cli_opt global_opts[] = {
	[G_SOCKET] = { "socket", 0, true },  [G_JSON] = { "json", 'j', false },
	[G_QUIET] = { "quiet", 'q', false }, [G_VERBOSE] = { "verbose", 'v', false },
	[G_HELP] = { "help", 'h', false },   { NULL, 0, false },
};

void cli_cmd_init(struct cli_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->action = CLI_REQUEST;
}

void cli_cmd_free(struct cli_cmd *cmd)
{
	free(cmd->socket);
	json_decref(cmd->req);
	free(cmd->ctid);
	free(cmd->stdin_file);
	free(cmd->enter_exec);
	strv_free(cmd->fields);
	free(cmd->sort);
	strv_free(cmd->filter);
	strv_free(cmd->more_ctids);
	cli_cmd_init(cmd);
}

int cli_strv_push(char ***v, const char *s)
{
	size_t n = 0;
	char **nv;

	while (*v && (*v)[n])
		n++;
	nv = realloc(*v, (n + 2) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[n] = strdup(s);
	nv[n + 1] = NULL;
	return nv[n] ? 0 : -ENOMEM;
}

void cli_args_init(struct cli_args *a, const char *verb, int argc, char **argv)
{
	memset(a, 0, sizeof(*a));
	a->verb = verb;
	a->argc = argc;
	a->argv = argv;
	a->i = 1; /* argv[0] is the verb */
}

static const struct cli_opt *opt_find_long(const struct cli_opt *opts, const char *name, size_t len)
{
	for (const struct cli_opt *o = opts; o && o->name; o++)
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

static const struct cli_opt *opt_find_short(const struct cli_opt *opts, char c)
{
	for (const struct cli_opt *o = opts; o && o->name; o++)
		if (o->short_name && o->short_name == c)
			return o;
	return NULL;
}

/* Apply a global option; returns true if it ends the scan (--help). */
static int global_apply(struct cli_cmd *cmd, const struct cli_opt *o, const char *val,
			struct st_error **err)
{
	switch (o - global_opts) {
	case G_SOCKET:
		free(cmd->socket);
		cmd->socket = strdup(val);
		if (!cmd->socket)
			return st_error_set(err, ENOMEM, "parse --socket");
		break;
	case G_JSON:
		cmd->json = true;
		break;
	case G_QUIET:
		cmd->quiet = true;
		break;
	case G_VERBOSE:
		cmd->verbose++;
		break;
	case G_HELP:
		cmd->action = CLI_HELP;
		return 1;
	}
	return 0;
}

static int unknown_opt(const struct cli_args *a, const char *what, size_t len,
		       struct st_error **err)
{
	if (a->verb)
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "%s: unknown option %.*s (see strata %s --help)", a->verb,
				     (int)len, what, a->verb);
	return st_error_setx(err, ST_EXIT_BADARG, 0, "unknown option %.*s (see strata --help)",
			     (int)len, what);
}

static int need_value(const struct cli_args *a, const char *dashes, const char *name,
		      struct st_error **err)
{
	return st_error_setx(err, ST_EXIT_BADARG, 0, "%s%soption %s%s needs a value",
			     a->verb ? a->verb : "", a->verb ? ": " : "", dashes, name);
}

int cli_args_next(struct cli_args *a, struct cli_cmd *cmd, const struct cli_opt *opts,
		  const struct cli_opt **opt, const char **val, struct st_error **err)
{
	for (;;) {
		const struct cli_opt *o;
		bool global = false;

		*opt = NULL;
		*val = NULL;

		if (a->short_rest && *a->short_rest) {
			char c = *a->short_rest++;

			o = opt_find_short(opts, c);
			if (!o) {
				o = opt_find_short(global_opts, c);
				global = o != NULL;
			}
			if (!o) {
				char s[3] = { '-', c, 0 };
				return unknown_opt(a, s, 2, err);
			}
			if (o->has_arg) {
				if (*a->short_rest) {
					*val = a->short_rest;
				} else if (a->i < a->argc) {
					*val = a->argv[a->i++];
				} else {
					char s[2] = { c, 0 };
					return need_value(a, "-", s, err);
				}
				a->short_rest = NULL;
			}
		} else {
			const char *s;

			a->short_rest = NULL;
			if (a->i >= a->argc)
				return CLI_ARG_END;
			s = a->argv[a->i++];
			if (a->opts_done || s[0] != '-' || s[1] == '\0') {
				*val = s;
				return CLI_ARG_POS;
			}
			if (strcmp(s, "--") == 0) {
				a->opts_done = true;
				continue;
			}
			if (s[1] != '-') {
				a->short_rest = s + 1;
				continue;
			}
			const char *name = s + 2, *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);

			o = opt_find_long(opts, name, len);
			if (!o) {
				o = opt_find_long(global_opts, name, len);
				global = o != NULL;
			}
			if (!o)
				return unknown_opt(a, s, len + 2, err);
			if (o->has_arg) {
				if (eq)
					*val = eq + 1;
				else if (a->i < a->argc)
					*val = a->argv[a->i++];
				else
					return need_value(a, "--", o->name, err);
			} else if (eq) {
				return st_error_setx(
					err, ST_EXIT_BADARG, 0, "%s%soption --%s takes no value",
					a->verb ? a->verb : "", a->verb ? ": " : "", o->name);
			}
		}

		if (!global) {
			*opt = o;
			return CLI_ARG_OPT;
		}
		int r = global_apply(cmd, o, *val, err);
		if (r < 0)
			return r;
		if (r > 0)
			return CLI_ARG_END; /* --help: the rest does not matter */
	}
}

int cli_ctid_check(const char *verb, const char *s, char **out, struct st_error **err)
{
	size_t len = strlen(s);
	bool digits = len > 0;

	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			digits = false;

	if (digits) {
		unsigned long long v;

		errno = 0;
		v = strtoull(s, NULL, 10);
		if (errno || v > INT_MAX)
			return st_error_setx(err, ST_EXIT_BADARG, 0,
					     "%s: invalid CTID %s: too large (at most %d)", verb, s,
					     INT_MAX);
		if (v <= 100)
			return st_error_setx(
				err, ST_EXIT_BADARG, 0,
				"%s: invalid CTID %s: CTIDs 0 to 100 are reserved, use 101 or above",
				verb, s);
		if (asprintf(out, "%llu", v) < 0)
			return st_error_set(err, ENOMEM, "%s", verb);
		return 0;
	}

	if (len == 0)
		return st_error_setx(err, ST_EXIT_BADARG, 0, "%s: empty CTID", verb);
	if (len > 64)
		return st_error_setx(
			err, ST_EXIT_BADARG, 0,
			"%s: invalid container name `%.20s...`: longer than 64 characters", verb,
			s);
	if (s[0] == '-' || s[0] == '.')
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "%s: invalid container name `%s`: must not start with `%c`",
				     verb, s, s[0]);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isalnum(c) || c == '_' || c == '.' || c == '-')
			continue;
		if (c == '/')
			return st_error_setx(
				err, ST_EXIT_BADARG, 0,
				"%s: invalid container name `%s`: `/` is not allowed (give a CTID or a name of letters, digits, `_`, `.` and `-`)",
				verb, s);
		if (isprint(c))
			return st_error_setx(
				err, ST_EXIT_BADARG, 0,
				"%s: invalid container name `%s`: `%c` is not allowed (give a CTID or a name of letters, digits, `_`, `.` and `-`)",
				verb, s, c);
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "%s: invalid container name: character 0x%02x is not allowed",
				     verb, c);
	}
	*out = strdup(s);
	if (!*out)
		return st_error_set(err, ENOMEM, "%s", verb);
	return 0;
}

int cli_arg_ctid(const char *verb, const char *val, char **ctid, struct st_error **err)
{
	if (*ctid)
		return st_error_setx(err, ST_EXIT_BADARG, 0, "%s %s: unexpected argument `%s`",
				     verb, *ctid, val);
	return cli_ctid_check(verb, val, ctid, err);
}

int cli_ctid_or_all(const char *verb, const char *ctid, bool all, const char *usage,
		    struct st_error **err)
{
	if (!ctid != !all)
		return 0;
	if (usage)
		return st_error_setx(err, ST_EXIT_BADARG, 0, "%s: give a CTID or --all (%s)", verb,
				     usage);
	return st_error_setx(err, ST_EXIT_BADARG, 0, "%s: give a CTID or --all", verb);
}

json_t *cli_req_new(struct cli_cmd *cmd, const char *verb, const char *ctid)
{
	json_decref(cmd->req);
	cmd->req = json_pack("{s:s, s:{}}", "verb", verb, "args");
	if (cmd->req && ctid)
		json_object_set_new(cmd->req, "ctid", json_string(ctid));
	return cli_req_args(cmd);
}

json_t *cli_req_args(struct cli_cmd *cmd)
{
	return cmd->req ? json_object_get(cmd->req, "args") : NULL;
}

int cli_parse_ctid_flags(struct cli_cmd *cmd, int argc, char **argv, struct st_error **err)
{
	const char *verb = cmd->verb->name;
	_cleanup_free_ char *ctid = NULL;
	struct cli_args a;
	const struct cli_opt *o;
	const char *val;
	json_t *args;
	int r;

	if (!cli_req_new(cmd, verb, NULL))
		return st_error_set(err, ENOMEM, "%s", verb);
	args = cli_req_args(cmd);
	cli_args_init(&a, verb, argc, argv);
	while ((r = cli_args_next(&a, cmd, cmd->verb->opts, &o, &val, err)) > 0) {
		if (r == CLI_ARG_OPT) {
			json_object_set_new(args, o->name, json_true());
			continue;
		}
		if (ctid && cmd->verb->many) {
			_cleanup_free_ char *more = NULL;

			r = cli_ctid_check(verb, val, &more, err);
			if (r < 0)
				return r;
			if (cli_strv_push(&cmd->more_ctids, more) < 0)
				return st_error_set(err, ENOMEM, "%s", verb);
			continue;
		}
		r = cli_arg_ctid(verb, val, &ctid, err);
		if (r < 0)
			return r;
	}
	if (r < 0 || cmd->action != CLI_REQUEST)
		return r;
	if (!ctid)
		return st_error_setx(err, ST_EXIT_BADARG, 0, "%s: missing CTID (strata %s CTID)",
				     verb, verb);
	json_object_set_new(cmd->req, "ctid", json_string(ctid));
	cmd->ctid = take_ptr(ctid);
	return 0;
}

const struct cli_verb *cli_verb_find(const char *name)
{
	for (const struct cli_verb *const *v = cli_verbs; *v; v++) {
		if (strcmp((*v)->name, name) == 0)
			return *v;
		for (const char *const *al = (*v)->aliases; *al; al++)
			if (strcmp(*al, name) == 0)
				return *v;
	}
	return NULL;
}

int cli_parse(int argc, char **argv, struct cli_cmd *cmd, struct st_error **err)
{
	struct cli_args a;
	const struct cli_opt *o;
	const char *val;
	int r;

	/* Global options before the verb, up to the first positional. */
	cli_args_init(&a, NULL, argc, argv);
	for (;;) {
		static const struct cli_opt top_opts[] = { { "version", 'V', false },
							   { NULL, 0, false } };

		if (a.i < argc && !a.short_rest && argv[a.i][0] != '-')
			break;
		r = cli_args_next(&a, cmd, top_opts, &o, &val, err);
		if (r < 0)
			return r;
		if (r == CLI_ARG_END)
			break;
		if (r == CLI_ARG_OPT) {
			cmd->action = CLI_VERSION;
			return 0;
		}
		/* CLI_ARG_POS: a lone "-" or what follows "--" */
		a.i--;
		break;
	}
	if (cmd->action == CLI_HELP)
		return 0;
	if (a.i >= argc)
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "no verb given (strata help lists them)");

	const char *name = argv[a.i];

	if (strcmp(name, "help") == 0) {
		cmd->action = CLI_HELP;
		if (a.i + 1 < argc) {
			cmd->verb = cli_verb_find(argv[a.i + 1]);
			if (!cmd->verb)
				return st_error_setx(
					err, ST_EXIT_BADARG, 0,
					"help: unknown verb `%s` (strata help lists them)",
					argv[a.i + 1]);
		}
		return 0;
	}
	cmd->verb = cli_verb_find(name);
	if (!cmd->verb)
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "unknown verb `%s` (strata help lists them)", name);
	if (strcmp(cmd->verb->name, "check") == 0) {
		cmd->action = CLI_CHECK;
		cmd->check_argc = argc - a.i;
		cmd->check_argv = argv + a.i;
		return 0;
	}

	r = cmd->verb->parse(cmd, argc - a.i, argv + a.i, err);
	/* a parse that stopped early may not have seen --help */
	for (int i = a.i + 1; r < 0 && i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			cmd->action = CLI_HELP;
	if (cmd->action == CLI_HELP) {
		/* --help wins over whatever else was wrong */
		if (err && *err)
			st_error_freep(err);
		return 0;
	}
	return r;
}
