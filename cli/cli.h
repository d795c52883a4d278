/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The strata command line: argv becomes one struct cli_cmd (the API request
 * plus what the client itself must do: pass its terminal, go raw, format a
 * table), then one round trip to stratad. Parsing never touches the daemon,
 * so tests can check it alone.
 */
#ifndef STRATA_CLI_CLI_H
#define STRATA_CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "ksal/error.h"

/* How strata prints JSON (-j): indented, and reals with 12 significant
 * digits, so 0.1 prints as 0.1 and not as 0.10000000000000001 (jansson's
 * default is 17, the round trip of every double) */
#define CLI_JSON_REAL_PRECISION JSON_REAL_PRECISION(12)
#define CLI_JSON_FLAGS (JSON_INDENT(2) | CLI_JSON_REAL_PRECISION)

enum cli_action {
	CLI_REQUEST, /* send cmd->req and handle the reply */
	CLI_HELP,    /* print the usage of cmd->verb (or the overview) */
	CLI_VERSION,
	CLI_LIST_FIELDS, /* list -L */
	CLI_CHECK,	 /* hand argv to cmd_check() */
};

/* What to do with stdin/stdout/stderr for exec-like verbs. */
enum cli_exec_mode {
	CLI_EXEC_NONE,
	CLI_EXEC_STATUS, /* exec: exit 0, or ST_EXIT_EXEC if the command failed */
	CLI_EXEC_CODE,	 /* exec2, runscript, enter: exit with the command's code */
};

struct cli_verb;

struct cli_cmd {
	const struct cli_verb *verb; /* NULL: top level (help, --version) */
	enum cli_action action;
	/* global options */
	char *socket;
	bool json;
	bool quiet;
	int verbose;

	json_t *req; /* {"verb", "ctid", "args"} */
	char *ctid;  /* canonical CTID or name, for messages */

	/* exec, exec2, runscript, enter */
	enum cli_exec_mode exec_mode;
	char *stdin_file; /* runscript: the script goes to the command's stdin */
	char *enter_exec; /* enter --exec: typed into the shell once it is there */
	bool tty;	  /* enter: raw terminal while attached */
	bool stream;	  /* console: raw byte stream after the reply */

	/* list */
	char **fields; /* NULL: the default columns */
	char *sort;    /* field name, NULL: by ctid */
	bool sort_desc;
	bool no_header;
	char **filter; /* CTIDs or names given on the command line */

	/* start, stop: the CTIDs after the first, each its own request */
	char **more_ctids;

	/* set */
	bool save;

	/* check: argv from the verb on */
	int check_argc;
	char **check_argv;
};

struct cli_opt {
	const char *name; /* long name, without dashes */
	char short_name;  /* 0: none */
	bool has_arg;
};

struct cli_verb {
	const char *name;
	const char *aliases[3]; /* NULL-terminated */
	const char *summary;	/* one line for `strata help` */
	const char *usage;	/* the full text for `strata VERB --help` */
	const struct cli_opt *opts;
	/* Build cmd->req (or set another action) from the verb's argv
	 * (argv[0] is the verb). Errors carry ST_EXIT_BADARG. */
	int (*parse)(struct cli_cmd *cmd, int argc, char **argv, struct st_error **err);
	/* Run it; NULL: send cmd->req and print the generic confirmation.
	 * Returns the process exit code, or negative with *err set. */
	int (*run)(struct cli_cmd *cmd, struct st_error **err);
	const char *done; /* "Container CTID <done>" printed on success */
	bool many;	  /* takes several CTIDs: one request each, in order */
};

/* Append a copy of s to the NULL-terminated vector *v; -ENOMEM. */
int cli_strv_push(char ***v, const char *s);

/* The verb table (verbs.c) and lookup by name or alias. */
extern const struct cli_verb *const cli_verbs[];
const struct cli_verb *cli_verb_find(const char *name);

void cli_cmd_init(struct cli_cmd *cmd);
void cli_cmd_free(struct cli_cmd *cmd);

/* Parse the whole command line, argv[0] being the program name. */
int cli_parse(int argc, char **argv, struct cli_cmd *cmd, struct st_error **err);

/* Run a parsed command; returns the exit code to use, printing errors. */
int cli_run(struct cli_cmd *cmd);

/* --- option scanning (parse.c) --------------------------------------- */

struct cli_args {
	int argc;
	char **argv;
	int i;			/* next argv element */
	const char *short_rest; /* remaining chars of a "-abc" group */
	bool opts_done;		/* after "--", or set by the verb */
	const char *verb;	/* for messages */
};

enum { CLI_ARG_END = 0, CLI_ARG_OPT = 1, CLI_ARG_POS = 2 };

void cli_args_init(struct cli_args *a, const char *verb, int argc, char **argv);
/*
 * Next element: CLI_ARG_OPT with *opt and *val (NULL without argument),
 * CLI_ARG_POS with *val the positional, CLI_ARG_END, or negative with
 * ST_EXIT_BADARG naming the unknown option. Global options (--socket,
 * --json/-j, --quiet/-q, --verbose/-v) are applied to cmd and skipped.
 */
int cli_args_next(struct cli_args *a, struct cli_cmd *cmd, const struct cli_opt *opts,
		  const struct cli_opt **opt, const char **val, struct st_error **err);

/* A CTID ("101", normalised, 1..INT_MAX and not one of the reserved 1..100)
 * or a container name ([A-Za-z0-9_.-], not all digits, no '/'). */
int cli_ctid_check(const char *verb, const char *s, char **out, struct st_error **err);
/* A positional argument of a verb taking one CTID (or --all): the first
 * becomes *ctid through cli_ctid_check(), another is an error
 * ("VERB CTID: unexpected argument `VAL`"). */
int cli_arg_ctid(const char *verb, const char *val, char **ctid, struct st_error **err);
/* Exactly one of a CTID and --all, or "<verb>: give a CTID or --all (<usage>)". */
int cli_ctid_or_all(const char *verb, const char *ctid, bool all, const char *usage,
		    struct st_error **err);

/* Start a request {"verb": verb, "ctid": ctid?, "args": {}}; returns args. */
json_t *cli_req_new(struct cli_cmd *cmd, const char *verb, const char *ctid);
json_t *cli_req_args(struct cli_cmd *cmd);

/* Common parse helper for "VERB CTID [flags]" verbs: bool flags go into
 * args under their option name. */
int cli_parse_ctid_flags(struct cli_cmd *cmd, int argc, char **argv, struct st_error **err);

/* --- output (output.c) ------------------------------------------------ */

/* The event callback for st_client_read_reply: progress and log lines. */
int cli_on_event(json_t *ev, void *data, struct st_error **err);
/* End an updating progress line, if one is shown. */
void cli_progress_end(void);
/* Print the error once: "strata: VERB CTID: message". */
void cli_print_error(const struct cli_cmd *cmd, const struct st_error *e);
/* The message the way cli_print_error shows it (without "strata: "). */
char *cli_error_text(const struct cli_cmd *cmd, const struct st_error *e);

/* Round trip for cmd->req with the usual event handling. */
int cli_call(struct cli_cmd *cmd, const int *fds, size_t nfds, json_t **result,
	     struct st_error **err);

/* --- verbs with their own formatting ---------------------------------- */

/* "CTID 101 exist mounted running" from a status result. */
char *cli_status_line(const char *ctid, json_t *result);

struct cli_list_field {
	const char *name;   /* as in -o and the API's container objects */
	const char *header; /* vzlist's column title */
	int width;	    /* vzlist's column width */
	bool right;	    /* right-aligned (numbers) */
	bool numeric;	    /* sorts as a number */
};
extern const struct cli_list_field cli_list_fields[];
const struct cli_list_field *cli_list_field_find(const char *name);
/* Print the table (or JSON with cmd->json) of a list result. */
int cli_list_print(FILE *out, const struct cli_cmd *cmd, json_t *result, struct st_error **err);
void cli_list_fields_print(FILE *out);
/* Print a template-list result. */
int cli_template_list_print(FILE *out, const struct cli_cmd *cmd, json_t *result,
			    struct st_error **err);

/* Usage texts. */
void cli_usage_print(FILE *out, const struct cli_verb *verb);

#endif
