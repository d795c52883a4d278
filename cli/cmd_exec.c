/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Commands in a running container: exec, exec2, runscript, enter. The
 * client's stdin, stdout and stderr travel to the daemon by SCM_RIGHTS, so
 * the command reads and writes the user's own terminal or pipes. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/tty.h"
#include "ksal/cleanup.h"

#define CLI_EXEC_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* root's login shell in the guest: bash where it has one (as vzctl's enter) */
#define CLI_LOGIN_SHELL "[ -x /bin/bash ] && exec /bin/bash -l; exec /bin/sh -l"

static const struct cli_opt no_opts[] = { { NULL, 0, false } };

/* The environment the command gets: vzctl sets none of the caller's, we
 * give a sane PATH, HOME, and the caller's TERM. */
static json_t *exec_env(void)
{
	json_t *env = json_array();
	const char *term = getenv("TERM");

	json_array_append_new(env, json_string(CLI_EXEC_PATH));
	json_array_append_new(env, json_string("HOME=/root"));
	if (term && *term) {
		_cleanup_free_ char *t = NULL;

		if (asprintf(&t, "TERM=%s", term) >= 0)
			json_array_append_new(env, json_string(t));
	}
	return env;
}

/* json_decrefp() is jansson's (json_auto_t) */
#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

/* What exec and runscript requests share: the command line (stolen), the
 * environment, no terminal, and the container (ctid taken). */
static void exec_req_fill(struct cli_cmd *cmd, json_t *args, json_t *cargv, char **ctid,
			  enum cli_exec_mode mode)
{
	json_object_set_new(args, "argv", cargv);
	json_object_set_new(args, "env", exec_env());
	json_object_set_new(args, "tty", json_false());
	json_object_set_new(cmd->req, "ctid", json_string(*ctid));
	cmd->ctid = take_ptr(*ctid);
	cmd->exec_mode = mode;
}

/* exec CTID CMD...: options only before the command. */
static int exec_parse(struct cli_cmd *cmd, int argc, char **argv, struct st_error **err)
{
	const char *verb = cmd->verb->name;
	_cleanup_free_ char *ctid = NULL;
	_cleanup_json_ json_t *cargv = NULL;
	struct cli_args a;
	const struct cli_opt *o;
	const char *val;
	json_t *args, *sh;
	size_t n;
	int r;

	args = cli_req_new(cmd, "exec", NULL);
	if (!args)
		return st_error_set(err, ENOMEM, "%s", verb);
	cargv = json_array();
	cli_args_init(&a, verb, argc, argv);
	while ((r = cli_args_next(&a, cmd, no_opts, &o, &val, err)) > 0) {
		if (!ctid) {
			r = cli_ctid_check(verb, val, &ctid, err);
			if (r < 0)
				return r;
			a.opts_done = true; /* the rest is the command */
			continue;
		}
		json_array_append_new(cargv, json_string(val));
	}
	if (r < 0 || cmd->action != CLI_REQUEST)
		return r;
	if (!ctid)
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "%s: missing CTID (strata %s CTID COMMAND...)", verb, verb);
	n = json_array_size(cargv);
	if (n == 0)
		return st_error_setx(err, ST_EXIT_BADARG, 0, "%s %s: missing command", verb, ctid);
	if (n > 1) {
		/* run as they are: stratad looks the command up in PATH and
		 * answers a missing one as a shell does ("nosuch: not found",
		 * 127) */
		exec_req_fill(cmd, args, take_ptr(cargv), &ctid,
			      strcmp(verb, "exec") == 0 ? CLI_EXEC_STATUS : CLI_EXEC_CODE);
		return 0;
	}
	sh = json_array();
	json_array_append_new(sh, json_string("/bin/sh"));
	if (strcmp(json_string_value(json_array_get(cargv, 0)), "-") != 0) {
		/* one argument: a shell command line; "-" (vzctl): the commands
		 * come on stdin */
		json_array_append_new(sh, json_string("-c"));
		json_array_extend(sh, cargv);
	}
	exec_req_fill(cmd, args, sh, &ctid,
		      strcmp(verb, "exec") == 0 ? CLI_EXEC_STATUS : CLI_EXEC_CODE);
	return 0;
}

static int runscript_parse(struct cli_cmd *cmd, int argc, char **argv, struct st_error **err)
{
	_cleanup_free_ char *ctid = NULL;
	struct cli_args a;
	const struct cli_opt *o;
	const char *val;
	json_t *args;
	int r;

	args = cli_req_new(cmd, "exec", NULL);
	if (!args)
		return st_error_set(err, ENOMEM, "runscript");
	cli_args_init(&a, "runscript", argc, argv);
	while ((r = cli_args_next(&a, cmd, no_opts, &o, &val, err)) > 0) {
		if (!ctid) {
			r = cli_ctid_check("runscript", val, &ctid, err);
			if (r < 0)
				return r;
		} else if (!cmd->stdin_file) {
			cmd->stdin_file = strdup(val);
			if (!cmd->stdin_file)
				return st_error_set(err, ENOMEM, "runscript");
		} else {
			return st_error_setx(err, ST_EXIT_BADARG, 0,
					     "runscript %s: unexpected argument `%s`", ctid, val);
		}
	}
	if (r < 0 || cmd->action != CLI_REQUEST)
		return r;
	if (!ctid || !cmd->stdin_file)
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "runscript: missing %s (strata runscript CTID FILE)",
				     ctid ? "FILE" : "CTID");
	exec_req_fill(cmd, args, json_pack("[ss]", "/bin/sh", "-s"), &ctid, CLI_EXEC_CODE);
	return 0;
}

static const struct cli_opt enter_opts[] = { { "exec", 0, false }, { NULL, 0, false } };

/* enter CTID [--exec COMMAND [ARG...]] (vzctl's): the command line is typed
 * into the shell, which stays. */
static int enter_parse(struct cli_cmd *cmd, int argc, char **argv, struct st_error **err)
{
	const char *verb = cmd->verb->name;
	_cleanup_free_ char *ctid = NULL, *line = NULL;
	const struct cli_opt *o;
	const char *val;
	struct cli_args a;
	bool exec = false;
	json_t *args;
	int r;

	if (!cli_req_new(cmd, verb, NULL))
		return st_error_set(err, ENOMEM, "%s", verb);
	cli_args_init(&a, verb, argc, argv);
	while ((r = cli_args_next(&a, cmd, enter_opts, &o, &val, err)) > 0) {
		if (r == CLI_ARG_OPT) {
			if (!ctid)
				return st_error_setx(
					err, ST_EXIT_BADARG, 0,
					"%s: --exec comes after the CTID (strata enter "
					"CTID --exec COMMAND...)",
					verb);
			exec = true;
			a.opts_done = true; /* the rest is the command */
			continue;
		}
		if (exec) {
			char *l = NULL;

			if (asprintf(&l, "%s%s%s", line ? line : "", line ? " " : "", val) < 0)
				return st_error_set(err, ENOMEM, "%s", verb);
			free(line);
			line = l;
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
	if (exec && !line)
		return st_error_setx(err, ST_EXIT_BADARG, 0, "%s %s: --exec needs a command", verb,
				     ctid);
	json_object_set_new(cmd->req, "ctid", json_string(ctid));
	cmd->ctid = take_ptr(ctid);
	cmd->enter_exec = take_ptr(line);
	args = cli_req_args(cmd);

	json_object_set_new(args, "tty", json_true());
	json_object_set_new(args, "env", exec_env());
	cmd->exec_mode = CLI_EXEC_CODE;
	cmd->tty = true;
	return 0;
}

/* Make sure fds 0-2 exist: a closed one becomes /dev/null. */
static int stdio_ensure(struct st_error **err)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);

		if (nfd < 0)
			return st_error_set(err, errno, "open /dev/null");
		if (nfd != fd) {
			dup2(nfd, fd);
			close(nfd);
		}
	}
	return 0;
}

static int exec_run(struct cli_cmd *cmd, struct st_error **err)
{
	_cleanup_close_ int script = -EBADF;
	int fds[3] = { 0, 1, 2 };
	json_t *res = NULL, *code;
	int r, rc;

	r = stdio_ensure(err);
	if (r < 0)
		return r;
	if (cmd->stdin_file) {
		script = open(cmd->stdin_file, O_RDONLY | O_CLOEXEC);
		if (script < 0)
			return st_error_setx(err, ST_EXIT_BADARG, errno,
					     "runscript %s: open script `%s`", cmd->ctid,
					     cmd->stdin_file);
		fds[0] = script;
	}
	if (cmd->tty && !isatty(STDIN_FILENO)) {
		/* enter with commands on a pipe (echo ls | strata enter 101):
		 * root's login shell reads them as exec would give them, and ends
		 * at their end */
		json_t *args = cli_req_args(cmd);
		_cleanup_free_ char *line = NULL;

		if (asprintf(&line, "%s%s%s", cmd->enter_exec ? cmd->enter_exec : "",
			     cmd->enter_exec ? "\n" : "", CLI_LOGIN_SHELL) < 0)
			return st_error_set(err, ENOMEM, "enter %s", cmd->ctid);
		json_object_set_new(cmd->req, "verb", json_string("exec"));
		json_object_set_new(args, "argv", json_pack("[sss]", "/bin/sh", "-c", line));
		json_object_set_new(args, "tty", json_false());
		cmd->tty = false;
	}
	/* a terminal of its own; "entered into CT" once the shell is there,
	 * not before a refusal */
	if (cmd->tty)
		r = cli_pty_call(cmd, &res, err);
	else
		r = cli_call(cmd, fds, 3, &res, err);
	if (r < 0)
		return r;
	code = json_object_get(res, "exit_code");
	if (!json_is_integer(code)) {
		json_decref(res);
		return st_error_setx(err, ST_EXIT_PROTOCOL, 0,
				     "malformed reply from stratad: no exit_code");
	}
	rc = (int)json_integer_value(code);
	json_decref(res);
	if (cmd->tty && !cmd->quiet)
		fprintf(stderr, "exited from CT %s\n", cmd->ctid);
	if (rc < 0 || rc > 255)
		rc = 255;
	if (cmd->exec_mode == CLI_EXEC_STATUS && rc != 0) {
		if (!cmd->quiet)
			fprintf(stderr, "strata: exec %s: command exited with %d\n", cmd->ctid, rc);
		return ST_EXIT_EXEC;
	}
	return rc;
}

#define EXEC_USAGE_TAIL                                                                            \
	"\n"                                                                                       \
	"One argument is a shell command line, run with /bin/sh -c (so pipes and\n"                \
	"redirections work: strata exec 101 'ps ax | grep init'); several arguments\n"             \
	"are run as they are, looked up in PATH (a missing one: `nosuch: not found`,\n"            \
	"exit code 127); `-` reads the commands from stdin.\n"                                     \
	"The command gets the caller's stdin, stdout and stderr, so\n"                             \
	"`echo hi | strata exec2 101 cat` prints hi.\n"

const struct cli_verb cli_verb_exec = {
	.name = "exec",
	.summary = "run a command in a running container (exit 0, or 8 if it failed)",
	.usage =
		"strata exec CTID COMMAND [ARG...]\n"
		"\n"
		"Run COMMAND in the container. strata exits with 0 if it succeeded and with 8\n"
		"if it exited non-zero; exec2 returns the command's own exit code.\n" EXEC_USAGE_TAIL,
	.opts = no_opts,
	.parse = exec_parse,
	.run = exec_run,
};

const struct cli_verb cli_verb_exec2 = {
	.name = "exec2",
	.summary = "run a command in a running container, returning its exit code",
	.usage = "strata exec2 CTID COMMAND [ARG...]\n"
		 "\n"
		 "As exec, but strata exits with the command's exit code (128+N if a signal N\n"
		 "killed it).\n" EXEC_USAGE_TAIL,
	.opts = no_opts,
	.parse = exec_parse,
	.run = exec_run,
};

const struct cli_verb cli_verb_runscript = {
	.name = "runscript",
	.summary = "run a local shell script in a running container",
	.usage = "strata runscript CTID FILE\n"
		 "\n"
		 "Feed FILE (read on this host) to /bin/sh in the container; strata exits with\n"
		 "the script's exit code. The script's output goes to the caller's stdout and\n"
		 "stderr.\n",
	.opts = no_opts,
	.parse = runscript_parse,
	.run = exec_run,
};

const struct cli_verb cli_verb_enter = {
	.name = "enter",
	.summary = "open a root shell in a running container",
	.usage = "strata enter CTID [--exec COMMAND [ARG...]]\n"
		 "\n"
		 "Run root's login shell in the container (bash -l where it has bash, else\n"
		 "sh -l) on a new pseudo-terminal (its size follows your window), attached to\n"
		 "yours: your terminal is in raw mode while attached and restored on exit.\n"
		 "strata exits with the shell's exit code. Without a terminal on stdin\n"
		 "(echo hostname | strata enter 101), the shell runs the commands read from\n"
		 "stdin and ends at its end. --exec types COMMAND into the shell first (it stays\n"
		 "open).\n",
	.opts = enter_opts,
	.parse = enter_parse,
	.run = exec_run,
};
