/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the user sees: progress, errors, confirmations; and the run step. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"

static bool progress_shown;

void cli_progress_end(void)
{
	if (progress_shown) {
		fputc('\n', stderr);
		progress_shown = false;
	}
}

static void progress_print(const char *msg, int percent)
{
	if (isatty(STDERR_FILENO)) {
		/* one line, redrawn: "message  [=======>      ]  40%" */
		fprintf(stderr, "\r\033[K%s", msg);
		if (percent >= 0) {
			int fill = percent * 30 / 100;

			fputs("  [", stderr);
			for (int i = 0; i < 30; i++)
				fputc(i < fill ? '=' : i == fill ? '>' : ' ', stderr);
			fprintf(stderr, "] %3d%%", percent);
		}
		fflush(stderr);
		progress_shown = true;
	} else if (percent >= 0) {
		fprintf(stderr, "%s (%d%%)\n", msg, percent);
	} else {
		fprintf(stderr, "%s\n", msg);
	}
}

int cli_on_event(json_t *ev, void *data, struct st_error **err)
{
	const struct cli_cmd *cmd = data;
	const char *kind = json_string_value(json_object_get(ev, "event"));
	const char *msg = json_string_value(json_object_get(ev, "message"));
	json_t *pct = json_object_get(ev, "percent");

	if (cmd && cmd->quiet)
		return 0;
	if (!msg)
		msg = "";
	if (strcmp(kind, "progress") == 0) {
		int p = -1;

		if (json_is_number(pct)) {
			double d = json_number_value(pct);
			p = d < 0 ? 0 : d > 100 ? 100 : (int)d;
		}
		progress_print(msg, p);
	} else if (strcmp(kind, "log") == 0) {
		cli_progress_end();
		fprintf(stderr, "%s\n", msg);
	} else {
		st_debug("ignoring event `%s` from stratad", kind);
	}
	return 0;
}

static bool has_prefix_word(const char *msg, const char *word)
{
	size_t n;

	if (!word)
		return false;
	n = strlen(word);
	return strncmp(msg, word, n) == 0 && (msg[n] == ' ' || msg[n] == ':');
}

char *cli_error_text(const struct cli_cmd *cmd, const struct st_error *e)
{
	const char *msg = e && e->msg ? e->msg : "unknown error";
	const char *verb = cmd->verb ? cmd->verb->name : NULL;
	const char *req_verb = json_string_value(json_object_get(cmd->req, "verb"));
	char *out = NULL;

	const char *sub = req_verb ? strchr(req_verb, '-') : NULL; /* template-build: build */

	if (!verb || has_prefix_word(msg, verb) || has_prefix_word(msg, req_verb) ||
	    (sub && has_prefix_word(msg, sub + 1)))
		return strdup(msg);
	if (asprintf(&out, "%s%s%s: %s", verb, cmd->ctid ? " " : "", cmd->ctid ? cmd->ctid : "",
		     msg) < 0)
		return NULL;
	return out;
}

void cli_print_error(const struct cli_cmd *cmd, const struct st_error *e)
{
	_cleanup_free_ char *text = cli_error_text(cmd, e);

	cli_progress_end();
	fprintf(stderr, "strata: %s\n", text ? text : (e && e->msg ? e->msg : "error"));
}

int cli_call(struct cli_cmd *cmd, const int *fds, size_t nfds, json_t **result,
	     struct st_error **err)
{
	int r = st_client_call(st_client_socket_path(cmd->socket), cmd->req, fds, nfds,
			       cli_on_event, cmd, result, err);

	cli_progress_end();
	return r;
}

/* What generic_run prints for a reply (consumes res). */
static void print_result(struct cli_cmd *cmd, json_t *res)
{
	/* what the daemon did not apply, and why (set: IOLIMIT on tmpfs...) */
	if (!cmd->json && json_is_array(json_object_get(res, "warnings"))) {
		size_t i;
		json_t *w;

		json_array_foreach (json_object_get(res, "warnings"), i, w)
			fprintf(stderr, "strata: warning: %s\n", json_string_value(w));
	}
	/* set --save on a running container, without --setmode: saved for the
	 * next start, said as vzctl says it */
	if (!cmd->json && json_array_size(json_object_get(res, "restart_needed")) > 0 &&
	    !json_object_get(json_object_get(cmd->req, "args"), "setmode")) {
		size_t i;
		json_t *k;

		fprintf(stderr, "strata: warning: set %s: not applied to the running container:",
			cmd->ctid ? cmd->ctid : "");
		json_array_foreach (json_object_get(res, "restart_needed"), i, k)
			fprintf(stderr, " %s", json_string_value(k));
		fprintf(stderr, " (saved for its next start; --setmode restart restarts it now)\n");
	}
	if (cmd->json) {
		json_dumpf(res, stdout, CLI_JSON_FLAGS);
		fputc('\n', stdout);
	} else if (!cmd->quiet && cmd->verb->done) {
		if (cmd->save)
			printf("Saved parameters for container %s\n", cmd->ctid);
		else
			printf("Container %s %s\n", cmd->ctid ? cmd->ctid : "", cmd->verb->done);
	}
	json_decref(res);
}

static int generic_run(struct cli_cmd *cmd, struct st_error **err)
{
	json_t *res = NULL;
	int r;

	r = cli_call(cmd, NULL, 0, &res, err);
	if (r < 0)
		return r;
	print_result(cmd, res);
	return 0;
}

/* Requests of one command in flight at once (stratad starts containers on
 * START_WORKERS threads; the rest wait for their container's lock). */
#define CLI_MANY_WINDOW 16

struct many_req {
	struct st_client *c;
	struct st_error *err; /* connect or send failed */
};

static void many_send(struct cli_cmd *cmd, const char *path, const char *ctid, struct many_req *m)
{
	json_object_set_new(cmd->req, "ctid", json_string(ctid));
	if (st_client_connect(path, &m->c, &m->err) < 0)
		return;
	if (st_client_send(m->c, cmd->req, NULL, 0, &m->err) < 0) {
		st_client_free(m->c);
		m->c = NULL;
	}
}

/* Several CTIDs of a verb with the generic run: each request on a
 * connection of its own, up to CLI_MANY_WINDOW in flight, the replies read
 * and printed in the CTIDs' order; the first failure's exit code, after
 * trying them all. */
static int run_many(struct cli_cmd *cmd)
{
	const char *path = st_client_socket_path(cmd->socket);
	_cleanup_free_ const char **ids = NULL;
	_cleanup_free_ struct many_req *reqs = NULL;
	size_t n = 1, sent = 0;
	int rc = 0;

	for (char **c = cmd->more_ctids; *c; c++)
		n++;
	ids = calloc(n, sizeof(*ids));
	reqs = calloc(n, sizeof(*reqs));
	if (!ids || !reqs) {
		fprintf(stderr, "strata: out of memory\n");
		return ST_EXIT_SYSTEM;
	}
	ids[0] = cmd->ctid;
	for (size_t i = 1; i < n; i++)
		ids[i] = cmd->more_ctids[i - 1];
	for (size_t i = 0; i < n; i++) {
		_cleanup_error_ struct st_error *err = NULL;
		json_t *res = NULL;
		int r = -1;

		for (; sent < n && sent < i + CLI_MANY_WINDOW; sent++)
			many_send(cmd, path, ids[sent], &reqs[sent]);
		err = take_ptr(reqs[i].err);
		if (reqs[i].c) {
			r = st_client_read_reply(reqs[i].c, cli_on_event, cmd, &res, &err);
			st_client_free(reqs[i].c);
			reqs[i].c = NULL;
		}
		cli_progress_end();
		if (ids[i] != cmd->ctid) {
			char *id = strdup(ids[i]);

			if (id) {
				free(cmd->ctid);
				cmd->ctid = id;
				ids[i] = id;
			}
		}
		if (r < 0) {
			cli_print_error(cmd, err);
			if (rc == 0)
				rc = st_error_exit(err);
			continue;
		}
		print_result(cmd, res);
	}
	return rc;
}

void cli_usage_print(FILE *out, const struct cli_verb *verb)
{
	if (verb) {
		fprintf(out, "Usage: %s", verb->usage);
		fputs("\nGlobal options: --socket PATH, -j/--json, -q/--quiet, -v/--verbose, "
		      "-h/--help\n",
		      out);
		return;
	}
	fputs("Usage: strata [--socket PATH] [-j] [-q] [-v] VERB [ARGS...]\n"
	      "       strata --version | help [VERB] | VERB --help\n"
	      "\n"
	      "Verbs:\n",
	      out);
	for (const struct cli_verb *const *v = cli_verbs; *v; v++)
		fprintf(out, "  %-10s %s\n", (*v)->name, (*v)->summary);
	fputs("\n"
	      "Global options:\n"
	      "  --socket PATH   stratad's socket (default $STRATA_SOCKET, else /run/strata/strata.sock)\n"
	      "  -j, --json      machine-readable output where it applies\n"
	      "  -q, --quiet     no progress and no confirmations\n"
	      "  -v, --verbose   debug output (twice: every request and reply)\n"
	      "\n"
	      "See strata(8) for the exit codes.\n",
	      out);
}

static int run_one(struct cli_cmd *cmd)
{
	_cleanup_error_ struct st_error *err = NULL;
	int r = cmd->verb->run ? cmd->verb->run(cmd, &err) : generic_run(cmd, &err);

	if (r < 0) {
		cli_print_error(cmd, err);
		return st_error_exit(err);
	}
	return r;
}

int cli_run(struct cli_cmd *cmd)
{
	int r;

	if (cmd->verbose)
		st_log_set_level(cmd->verbose > 1 ? ST_LOG_TRACE : ST_LOG_DEBUG);

	switch (cmd->action) {
	case CLI_HELP:
		cli_usage_print(stdout, cmd->verb);
		return 0;
	case CLI_VERSION:
		printf("strata version %s\n", STRATA_VERSION);
		return 0;
	case CLI_LIST_FIELDS:
		cli_list_fields_print(stdout);
		return 0;
	case CLI_CHECK: /* main() hands it to cmd_check() */
		return ST_EXIT_FAILED;
	case CLI_REQUEST:
		break;
	}

	if (cmd->more_ctids && *cmd->more_ctids && !cmd->verb->run)
		return run_many(cmd);
	r = run_one(cmd);
	/* several CTIDs of a verb of its own run: each its own request, in
	 * order; the first failure's exit code, after trying them all */
	for (char **c = cmd->more_ctids; c && *c; c++) {
		int rc;

		json_object_set_new(cmd->req, "ctid", json_string(*c));
		free(cmd->ctid);
		cmd->ctid = strdup(*c);
		rc = run_one(cmd);
		if (r == 0)
			r = rc;
	}
	return r;
}
