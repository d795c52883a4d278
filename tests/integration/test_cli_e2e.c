/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * strata end to end: the real CLI binary against a real, private stratad
 * (its own strata.conf, socket and directories under /tmp/stcli-XXXXXX),
 * with a tiny template made from the test rootfs. CTIDs 9201-9299. The
 * daemon is the shared harness's (tests/helpers/daemonutil.h).
 *
 * STRATA_CLI overrides the CLI binary meson passes in.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <pty.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "cli/client.h"
#include "ksal/cleanup.h"
#include "tests/helpers/daemonutil.h"
#include "tests/helpers/testutil.h"

#ifndef STRATA_CLI_PATH
#error "STRATA_CLI_PATH must be set by meson"
#endif
#ifndef STRATAD_PATH
#error "STRATAD_PATH must be set by meson"
#endif

#define CT "9201"
#define TEMPLATE "stcli-tiny"

static char *tmp;  /* du.tmp, or a temp dir of its own without a daemon */
static char *sock; /* du.sock */

static const char *cli_path(void)
{
	const char *e = getenv("STRATA_CLI");
	return e && *e ? e : STRATA_CLI_PATH;
}

static char *path_in(const char *sub)
{
	char *p = NULL;

	cr_assert_geq(asprintf(&p, "%s/%s", tmp, sub), 0);
	return p;
}

/* Run argv with stdin_text on stdin (NULL: /dev/null); stdout and stderr
 * captured apart. Returns the exit status, 128+signal if killed. */
static int run(const char *stdin_text, char **out, char **errout, const char *const argv[])
{
	_cleanup_free_ char *outp = path_in("out"), *errp = path_in("err");
	int in[2];
	pid_t pid;
	int status;

	cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(in[0], 0);
		dup2(o, 1);
		dup2(e, 2);
		alarm(60);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	if (stdin_text)
		(void)!write(in[1], stdin_text, strlen(stdin_text));
	close(in[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (out)
		*out = tu_read_file(outp);
	if (errout)
		*errout = tu_read_file(errp);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* strata --socket SOCK ARGS... */
static int strata_in(const char *stdin_text, char **out, char **errout, ...)
{
	const char *argv[32] = { cli_path(), "--socket", sock };
	int argc = 3;
	va_list ap;

	va_start(ap, errout);
	for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *))
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	return run(stdin_text, out, errout, argv);
}
#define strata(out, errout, ...) strata_in(NULL, out, errout, __VA_ARGS__, NULL)

/* The private daemon (tests/helpers/daemonutil), when root and stratad is
 * built; the tests that need no daemon still get a temp dir for run(). */
static void setup(void)
{
	if (!tu_is_root() || access(STRATAD_PATH, X_OK) < 0)
		return;
	du_setup(&(struct du_opts){ .prefix = "stcli" });
	du_conf_addf("LOG_LEVEL=debug\n");
	du_daemon_start();
	tmp = du.tmp;
	sock = du.sock;
}

static void teardown(void)
{
	if (du.tmp) {
		du_teardown();
	} else if (tmp) {
		tu_rm_rf(tmp);
		free(tmp);
	}
	tmp = sock = NULL;
}

static void need_daemon(void)
{
	if (!tu_is_root())
		cr_skip_test("needs root");
	if (access(STRATAD_PATH, X_OK) < 0)
		cr_skip_test("stratad is not built (%s): the daemon (runtime/) is not there yet",
			     STRATAD_PATH);
}

/* A tiny template from the test rootfs, imported through the CLI, and one
 * container created from it. */
static void make_ct(const char *ctid, bool start)
{
	_cleanup_free_ char *rootfs = path_in("rootfs"), *image = path_in("tiny.sqfs");
	_cleanup_free_ char *out = NULL, *err = NULL;
	struct stat st;

	if (!tu_have_busybox())
		cr_skip_test(
			"needs a static /bin/busybox (busybox-static) for a shell in the container");
	if (stat(image, &st) < 0) {
		cr_assert_eq(tu_mkrootfs(rootfs), 0);
		const char *mk[] = { "/usr/bin/mksquashfs", rootfs, image, "-noappend", "-quiet",
				     "-no-progress",	    NULL };
		cr_assert_eq(run(NULL, NULL, NULL, mk), 0, "mksquashfs failed");
		cr_assert_eq(strata(&out, &err, "-q", "template", "import", TEMPLATE, image), 0,
			     "template import: %s%s", out, err);
		free(out);
		free(err);
		out = err = NULL;
	}
	cr_assert_eq(strata(&out, &err, "create", ctid, "--ostemplate", TEMPLATE, "--hostname",
			    "stcli-host"),
		     0, "create: %s%s", out, err);
	cr_assert_not_null(strstr(out, "created"), "%s", out);
	if (start) {
		free(out);
		free(err);
		cr_assert_eq(strata(&out, &err, "start", ctid), 0, "start: %s%s", out, err);
	}
}

TestSuite(cli_e2e, .init = setup, .fini = teardown, .timeout = 180);

Test(cli_e2e, unreachable_daemon_exit_102)
{
	_cleanup_free_ char *out = NULL, *err = NULL;
	const char *argv[] = { cli_path(), "--socket", "/tmp/stcli-nonexistent/strata.sock",
			       "start",	   "9201",     NULL };

	if (!tmp) {
		tmp = tu_tmpdir("stcli"); /* for run()'s capture files */
		cr_assert_not_null(tmp);
	}
	cr_assert_eq(run(NULL, &out, &err, argv), ST_EXIT_NODAEMON);
	cr_assert_str_eq(err, "strata: start 9201: cannot reach stratad at "
			      "/tmp/stcli-nonexistent/strata.sock: No such file or directory "
			      "(is stratad running?)\n");
	cr_assert_str_eq(out, "");
}

Test(cli_e2e, bad_ctid_refused_before_sending)
{
	_cleanup_free_ char *out = NULL, *err = NULL;
	const char *argv[] = { cli_path(), "--socket", "/tmp/stcli-nonexistent/strata.sock",
			       "start",	   "0",	       NULL };

	if (!tmp) {
		tmp = tu_tmpdir("stcli");
		cr_assert_not_null(tmp);
	}
	/* exit 20, not 102: nothing was sent */
	cr_assert_eq(run(NULL, &out, &err, argv), ST_EXIT_BADARG);
	cr_assert_not_null(strstr(err, "invalid CTID 0"), "%s", err);
	free(err);
	const char *argv2[] = { cli_path(), "status", "a/b", NULL };
	cr_assert_eq(run(NULL, NULL, &err, argv2), ST_EXIT_BADARG);
	cr_assert_not_null(strstr(err, "`/` is not allowed"), "%s", err);
}

Test(cli_e2e, lifecycle)
{
	_cleanup_free_ char *out = NULL, *err = NULL;

	need_daemon();
	make_ct(CT, false);

	cr_assert_eq(strata(&out, &err, "status", CT), 0, "%s", err);
	cr_assert_str_eq(out, "CTID " CT " exist unmounted down\n");
	free(out), free(err);

	cr_assert_eq(strata(&out, &err, "start", CT), 0, "start: %s", err);
	cr_assert_str_eq(out, "Container " CT " started\n");
	free(out), free(err);

	cr_assert_eq(strata(&out, &err, "status", CT), 0, "%s", err);
	cr_assert_str_eq(out, "CTID " CT " exist mounted running\n");
	free(out), free(err);

	/* start twice: vzctl's 32, one error line naming the verb and CTID */
	cr_assert_eq(strata(&out, &err, "start", CT), ST_EXIT_RUNNING, "%s", err);
	cr_assert_eq(strncmp(err, "strata: start " CT ": ", strlen("strata: start " CT ": ")), 0,
		     "%s", err);
	cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "not one line: %s", err);
	free(out), free(err);

	cr_assert_eq(strata(&out, &err, "exec2", CT, "hostname"), 0, "%s", err);
	cr_assert_str_eq(out, "stcli-host\n");
	free(out), free(err);

	cr_assert_eq(strata(&out, &err, "list", "-H", "-o", "ctid,status,hostname"), 0, "%s", err);
	cr_assert_not_null(strstr(out, "      " CT " running   stcli-host\n"), "%s", out);
	free(out), free(err);

	cr_assert_eq(strata(&out, &err, "list", "-j"), 0, "%s", err);
	json_t *arr = json_loads(out, 0, NULL);
	cr_assert(json_is_array(arr), "%s", out);
	bool found = false;
	size_t i;
	json_t *c;
	json_array_foreach (arr, i, c) {
		if (strcmp(json_string_value(json_object_get(c, "ctid")) ?: "", CT) == 0)
			found = strcmp(json_string_value(json_object_get(c, "status")) ?: "",
				       "running") == 0;
	}
	json_decref(arr);
	cr_assert(found, "%s", out);
	free(out), free(err);

	cr_assert_eq(strata(&out, &err, "stop", CT), 0, "stop: %s", err);
	cr_assert_str_eq(out, "Container " CT " stopped\n");
	free(out), free(err);

	cr_assert_eq(strata(&out, &err, "status", CT), 0, "%s", err);
	cr_assert_not_null(strstr(out, "CTID " CT " exist "), "%s", out);
	cr_assert_not_null(strstr(out, " down\n"), "%s", out);
	free(out), free(err);

	/* stopped containers are not in the default list, but are with -a */
	cr_assert_eq(strata(&out, &err, "list", "-H"), 0, "%s", err);
	cr_assert_null(strstr(out, CT), "%s", out);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "list", "-a", "-H", "-o", "ctid,status"), 0, "%s", err);
	cr_assert_not_null(strstr(out, CT " stopped"), "%s", out);
	free(out), free(err);

	cr_assert_eq(strata(&out, &err, "stop", CT), ST_EXIT_NOTRUNNING, "%s", err);
	free(out), free(err);

	cr_assert_eq(strata(&out, &err, "destroy", CT), 0, "destroy: %s", err);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "status", CT), 0, "%s", err);
	cr_assert_str_eq(out, "CTID " CT " deleted unmounted down\n");
}

Test(cli_e2e, exec2_passes_stdin)
{
	_cleanup_free_ char *out = NULL, *err = NULL;

	need_daemon();
	make_ct(CT, true);
	cr_assert_eq(strata_in("hi\n", &out, &err, "exec2", CT, "cat", NULL), 0, "%s", err);
	cr_assert_str_eq(out, "hi\n");
}

Test(cli_e2e, exec2_returns_the_exit_code_exec_returns_8)
{
	_cleanup_free_ char *out = NULL, *err = NULL;

	need_daemon();
	make_ct(CT, true);
	cr_assert_eq(strata(&out, &err, "exec2", CT, "exit 7"), 7, "%s", err);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "exec2", CT, "sh", "-c", "exit 5"), 5, "%s", err);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "exec", CT, "exit 7"), ST_EXIT_EXEC, "%s", err);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "exec", CT, "true"), 0, "%s", err);
	free(out), free(err);
	/* a shell command line: pipes work inside the container */
	cr_assert_eq(strata(&out, &err, "exec2", CT, "echo abc | wc -c"), 0, "%s", err);
	cr_assert_not_null(strstr(out, "4"), "%s", out);
	free(out), free(err);
	/* stdout and stderr are the caller's own */
	cr_assert_eq(strata(&out, &err, "exec2", CT, "echo to-out; echo to-err >&2"), 0);
	cr_assert_str_eq(out, "to-out\n");
	cr_assert_str_eq(err, "to-err\n");
}

Test(cli_e2e, runscript)
{
	_cleanup_free_ char *out = NULL, *err = NULL, *script = NULL;

	need_daemon();
	make_ct(CT, true);
	script = path_in("script.sh");
	cr_assert_eq(tu_write_file(script, "echo from-script $(hostname)\nexit 3\n"), 0);
	cr_assert_eq(strata(&out, &err, "runscript", CT, script), 3, "%s", err);
	cr_assert_str_eq(out, "from-script stcli-host\n");
}

/* several CTIDs: each started (stopped) in turn; one that fails does not
 * keep the others from starting, and its exit code is the command's */
Test(cli_e2e, start_and_stop_several)
{
	_cleanup_free_ char *out = NULL, *err = NULL;

	need_daemon();
	make_ct("9211", true);
	free(out), out = NULL;
	make_ct("9212", false);
	make_ct("9213", false);
	cr_assert_eq(strata(&out, &err, "start", "9211", "9212", "9213"), ST_EXIT_RUNNING, "%s%s",
		     out, err);
	cr_assert_str_eq(out, "Container 9212 started\nContainer 9213 started\n");
	cr_assert_eq(strncmp(err, "strata: start 9211: ", 20), 0, "%s", err);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "status", "9213"), 0, "%s", err);
	cr_assert_str_eq(out, "CTID 9213 exist mounted running\n");
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "stop", "--fast", "9211", "9212", "9213"), 0, "%s", err);
	cr_assert_str_eq(
		out, "Container 9211 stopped\nContainer 9212 stopped\nContainer 9213 stopped\n");
	free(out), free(err);
	/* a bad CTID among them: refused before anything is sent */
	cr_assert_eq(strata(&out, &err, "start", "9211", "a/b"), ST_EXIT_BADARG, "%s", err);
	cr_assert_str_eq(out, "");
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "status", "9211"), 0, "%s", err);
	cr_assert_str_eq(out, "CTID 9211 exist unmounted down\n");
	free(out), free(err);
	out = err = NULL;
	/* a verb that takes one CTID still refuses a second */
	cr_assert_eq(strata(&out, &err, "destroy", "9211", "9212"), ST_EXIT_BADARG, "%s", err);
}

Test(cli_e2e, unknown_container)
{
	_cleanup_free_ char *out = NULL, *err = NULL;

	need_daemon();
	int rc = strata(&out, &err, "start", "9299");
	cr_assert_neq(rc, 0);
	cr_assert_neq(rc, ST_EXIT_NODAEMON);
	cr_assert_not_null(strstr(err, "9299"), "%s", err);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "status", "9299"), 0, "%s", err);
	cr_assert_str_eq(out, "CTID 9299 deleted unmounted down\n");
}

Test(cli_e2e, set_save_mount_umount)
{
	_cleanup_free_ char *out = NULL, *err = NULL, *conf = NULL, *before = NULL;

	need_daemon();
	make_ct(CT, false);
	conf = path_in("ct/" CT ".conf");

	cr_assert_eq(
		strata(&out, &err, "set", CT, "--ram", "256M", "--hostname", "stcli-new", "--save"),
		0, "%s", err);
	cr_assert_str_eq(out, "Saved parameters for container " CT "\n");
	free(out), free(err);
	before = tu_read_file(conf);
	cr_assert_not_null(before);
	cr_assert_not_null(strstr(before, "=\"256M\""), "%s", before);
	cr_assert_not_null(strstr(before, "HOSTNAME=\"stcli-new\""), "%s", before);

	/* refused client-side: nothing sent, nothing changed */
	cr_assert_eq(strata(&out, &err, "set", CT, "--ram", "512M", "--kmemsize", "1", "--save"),
		     ST_EXIT_BADARG);
	cr_assert_str_eq(err, "strata: set: unknown option --kmemsize (see strata set --help)\n");
	free(out), free(err);
	_cleanup_free_ char *after = tu_read_file(conf);
	cr_assert_str_eq(after, before);

	cr_assert_eq(strata(&out, &err, "mount", CT), 0, "%s", err);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "status", CT), 0, "%s", err);
	cr_assert_str_eq(out, "CTID " CT " exist mounted down\n");
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "umount", CT), 0, "%s", err);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "status", CT), 0, "%s", err);
	cr_assert_str_eq(out, "CTID " CT " exist unmounted down\n");
	free(out), free(err);

	/* the hostname set above is what the container gets */
	cr_assert_eq(strata(&out, &err, "start", CT), 0, "%s", err);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "exec2", CT, "hostname"), 0, "%s", err);
	cr_assert_str_eq(out, "stcli-new\n");
}

Test(cli_e2e, container_by_name)
{
	_cleanup_free_ char *out = NULL, *err = NULL;

	need_daemon();
	make_ct(CT, false);
	cr_assert_eq(strata(&out, &err, "set", CT, "--name", "stcli-web", "--save"), 0, "%s", err);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "start", "stcli-web"), 0, "%s", err);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "status", "stcli-web"), 0, "%s", err);
	cr_assert_str_eq(out, "CTID " CT " exist mounted running\n");
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "exec2", "stcli-web", "exit 4"), 4, "%s", err);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "list", "-n", "-H"), 0, "%s", err);
	cr_assert_not_null(strstr(out, " stcli-web\n"), "%s", out);
}

/* strata console on a real terminal: raw mode, Esc . detaches, exit 0. */
Test(cli_e2e, console_detach)
{
	int master = -1, status;
	char buf[4096];
	size_t got = 0;
	pid_t pid;

	need_daemon();
	make_ct(CT, true);

	pid = forkpty(&master, NULL, NULL, NULL);
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl(cli_path(), "strata", "--socket", sock, "console", CT, (char *)NULL);
		_exit(127);
	}
	/* wait for the banner, then detach */
	for (int i = 0; i < 100 && !memmem(buf, got, "Esc . to detach", 15); i++) {
		struct pollfd p = { .fd = master, .events = POLLIN };

		if (poll(&p, 1, 100) > 0) {
			ssize_t n = read(master, buf + got, sizeof(buf) - 1 - got);
			if (n > 0)
				got += (size_t)n;
		}
	}
	buf[got] = '\0';
	cr_assert_not_null(strstr(buf, "Attached to the console of CT " CT), "%s", buf);
	cr_assert_eq(write(master, "\033.", 2), 2);
	for (int i = 0; i < 100; i++) {
		struct pollfd p = { .fd = master, .events = POLLIN };

		if (waitpid(pid, &status, WNOHANG) == pid) {
			pid = -1;
			break;
		}
		ssize_t n = -1;

		if (poll(&p, 1, 100) > 0)
			n = read(master, buf + got, sizeof(buf) - 1 - got);
		if (n > 0)
			got += (size_t)n;
		else
			usleep(100000); /* EIO once the terminal's last user left */
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(master);
		cr_assert_fail("strata console did not detach on Esc .");
	}
	close(master);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	/* the container keeps running */
	_cleanup_free_ char *out = NULL, *err = NULL;
	cr_assert_eq(strata(&out, &err, "status", CT), 0, "%s", err);
	cr_assert_str_eq(out, "CTID " CT " exist mounted running\n");
}

/* strata enter on a real terminal: a shell in the container with a terminal
 * of its own, and its exit code (5, not 3: a system error is 3). */
Test(cli_e2e, enter_shell_exit_code)
{
	int master = -1, status = 0;
	char buf[8192];
	size_t got = 0;
	pid_t pid;

	need_daemon();
	make_ct(CT, true);

	pid = forkpty(&master, NULL, NULL, NULL);
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl(cli_path(), "strata", "--socket", sock, "enter", CT, (char *)NULL);
		_exit(127);
	}
	/* the shell has a terminal of its own: ^D ends cat, ^C interrupts sleep */
	static const char *const keys[] = {
		"hostname\n",  "cat\n", "abc-typed\n",	    "\004",
		"sleep 100\n", "\003",	"echo after-int\n", "exit 5\n"
	};
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		usleep(300000);
		cr_assert_eq(write(master, keys[k], strlen(keys[k])), (ssize_t)strlen(keys[k]));
	}
	for (int i = 0; i < 100; i++) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		ssize_t n = -1;

		if (waitpid(pid, &status, WNOHANG) == pid) {
			pid = -1;
			break;
		}
		if (poll(&p, 1, 100) > 0)
			n = read(master, buf + got, sizeof(buf) - 1 - got);
		if (n > 0)
			got += (size_t)n;
		else
			usleep(100000);
	}
	for (;;) { /* what is left on the terminal */
		struct pollfd p = { .fd = master, .events = POLLIN };
		ssize_t n = -1;

		if (got >= sizeof(buf) - 1 || poll(&p, 1, 50) <= 0)
			break;
		n = read(master, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(master);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		cr_assert_fail("strata enter did not end after `exit 5`:\n%s", buf);
	}
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 5, "status %d:\n%s", status, buf);
	cr_assert_not_null(strstr(buf, "stcli-host"), "%s", buf);
	/* typed once (echo), printed once by cat */
	const char *typed = strstr(buf, "abc-typed");
	cr_assert_not_null(typed, "%s", buf);
	cr_assert_not_null(strstr(typed + 1, "abc-typed"), "%s", buf);
	cr_assert_not_null(strstr(buf, "\nafter-int"), "%s", buf);
	cr_assert_not_null(strstr(buf, "exited from CT " CT), "%s", buf);
}

/* --- acceptance audit of issue 4 (area: cli audit, staud) --- */

/* run() as the unprivileged user nobody (uid/gid 65534, no groups): the
 * capture files are opened as root first. */
static int run_as_nobody_in(const gid_t *groups, size_t n_groups, char **out, char **errout,
			    const char *const argv[])
{
	_cleanup_free_ char *outp = path_in("out"), *errp = path_in("err");
	pid_t pid;
	int status;

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int n = open("/dev/null", O_RDONLY);

		dup2(n, 0);
		dup2(o, 1);
		dup2(e, 2);
		if (setgroups(n_groups, groups) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(126);
		alarm(60);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (out)
		*out = tu_read_file(outp);
	if (errout)
		*errout = tu_read_file(errp);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run_as_nobody(char **out, char **errout, const char *const argv[])
{
	return run_as_nobody_in(NULL, 0, out, errout, argv);
}

/* The private daemon is still there (not a zombie): a relay bug that
 * crashes it after its reply would pass unseen otherwise. */
static void assert_daemon_alive(void)
{
	char p[64], st[512] = "";
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)du.pid);
	f = fopen(p, "re");
	cr_assert_not_null(f, "stratad (pid %d) is gone", (int)du.pid);
	cr_assert_not_null(fgets(st, sizeof(st), f));
	fclose(f);
	const char *rp = strrchr(st, ')');
	cr_assert(rp && rp[1] == ' ' && rp[2] != 'Z', "stratad died: %s", st);
}

/* A user outside group strata: refused with exit 12 and a message that says
 * so, by the socket's mode and, where the socket lets them in, by the
 * daemon's SO_PEERCRED check; the container is not touched either way. */
Test(cli_e2e, non_member_is_refused_and_nothing_happens)
{
	_cleanup_free_ char *out = NULL, *err = NULL;
	const char *argv[] = { cli_path(), "--socket", sock, "start", CT, NULL };

	need_daemon();
	make_ct(CT, false);
	cr_assert_eq(run_as_nobody(&out, &err, argv), ST_EXIT_PERM, "%s%s", out, err);
	cr_assert_not_null(strstr(err, "permission denied"), "%s", err);
	cr_assert_not_null(strstr(err, "group `strata`"), "%s", err);
	free(out), free(err);

	/* a socket opened to everyone: the daemon itself refuses */
	cr_assert_eq(chmod(sock, 0666), 0);
	int r = run_as_nobody(&out, &err, argv);
	cr_assert_eq(chmod(sock, 0660), 0);
	cr_assert_eq(r, ST_EXIT_PERM, "%s%s", out, err);
	cr_assert_not_null(strstr(err, "permission denied"), "%s", err);
	free(out), free(err);

	cr_assert_eq(strata(&out, &err, "status", CT), 0, "%s", err);
	cr_assert_str_eq(out, "CTID " CT " exist unmounted down\n");
}

/* A process that has group strata among its own groups (setgroups, not
 * /etc/group: nobody is no member there) may use the daemon: the daemon
 * asks the kernel for the peer's groups (SO_PEERGROUPS), as the socket's
 * mode did. */
Test(cli_e2e, a_process_with_group_strata_is_served)
{
	_cleanup_free_ char *out = NULL, *err = NULL;
	const char *argv[] = { cli_path(), "--socket", sock, "status", CT, NULL };
	struct group *gr = getgrnam("strata");
	gid_t g;

	if (!gr)
		cr_skip_test("no group strata on this host (scripts/demo.sh makes it)");
	g = gr->gr_gid;
	for (char **m = gr->gr_mem; m && *m; m++)
		cr_assert_str_neq(*m, "nobody", "nobody is a member of strata in /etc/group");
	need_daemon();
	make_ct(CT, false);
	cr_assert_eq(run_as_nobody_in(&g, 1, &out, &err, argv), 0, "%s%s", out, err);
	cr_assert_str_eq(out, "CTID " CT " exist unmounted down\n");
}

/* enter on a stopped container: the refusal (31), and no "entered into CT"
 * before it. */
Test(cli_e2e, enter_stopped_is_refused_without_entering)
{
	char buf[4096];
	size_t got = 0;
	int master = -1, status = 0;
	pid_t pid;

	need_daemon();
	make_ct(CT, false);
	pid = forkpty(&master, NULL, NULL, NULL);
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl(cli_path(), "strata", "--socket", sock, "enter", CT, (char *)NULL);
		_exit(127);
	}
	for (;;) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		ssize_t n;

		if (got >= sizeof(buf) - 1 || poll(&p, 1, 5000) <= 0)
			break;
		n = read(master, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(master);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == ST_EXIT_NOTRUNNING, "status %d: %s",
		  status, buf);
	cr_assert_not_null(strstr(buf, "not running"), "%s", buf);
	cr_assert_null(strstr(buf, "entered into"), "%s", buf);
}

/* enter with commands on a pipe (echo ... | strata enter 101): root's shell
 * runs them and ends at their end with its exit code; the login shell is
 * bash where the guest has one (vzctl's enter); on a terminal, the shell's
 * is a pty of the container's devpts (tty(1) said "not a tty"). */
Test(cli_e2e, enter_from_a_pipe_bash_first_own_pty)
{
	_cleanup_free_ char *out = NULL, *err = NULL;

	need_daemon();
	make_ct(CT, true);
	cr_assert_eq(strata_in("hostname\nexit 6\n", &out, &err, "enter", CT, NULL), 6, "%s%s", out,
		     err);
	cr_assert_str_eq(out, "stcli-host\n");
	free(out), free(err);

	/* a /bin/bash that says how it was called, then is the shell */
	cr_assert_eq(strata(&out, &err, "exec", CT,
			    "printf '#!/bin/sh\\necho I-AM-BASH \"$@\"\\nexec /bin/sh \"$@\"\\n' "
			    "> /bin/bash && chmod 755 /bin/bash"),
		     0, "%s%s", out, err);
	free(out), free(err);
	cr_assert_eq(strata_in("echo shell-ran\n", &out, &err, "enter", CT, NULL), 0, "%s%s", out,
		     err);
	cr_assert_str_eq(out, "I-AM-BASH -l\nshell-ran\n");
	free(out), free(err);
	out = err = NULL;

	/* and on a terminal: the daemon's default shell is the same */
	int master = -1, status = 0;
	char buf[8192];
	size_t got = 0;
	pid_t pid = forkpty(&master, NULL, NULL, NULL);

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl(cli_path(), "strata", "--socket", sock, "enter", CT, (char *)NULL);
		_exit(127);
	}
	usleep(500000);
	/* the shell's terminal is the container's own: tty(1) names it; a
	 * resize of the user's window while the shell sleeps (no key, no
	 * output) reaches it */
	static const char line[] = "sleep 1.5; stty size; tty; exit 3\n";
	cr_assert_eq(write(master, line, strlen(line)), (ssize_t)strlen(line));
	usleep(400000);
	cr_assert_eq(ioctl(master, TIOCSWINSZ, &(struct winsize){ .ws_row = 33, .ws_col = 111 }),
		     0);
	for (int i = 0; i < 100 && got < sizeof(buf) - 1; i++) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0) {
			if (waitpid(pid, &status, WNOHANG) == pid) {
				pid = -1;
				break;
			}
			continue;
		}
		n = read(master, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			continue;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(master);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3, "status %d: %s", status, buf);
	cr_assert_not_null(strstr(buf, "I-AM-BASH -l"), "%s", buf);
	cr_assert_not_null(strstr(buf, "entered into CT " CT), "%s", buf);
	cr_assert_not_null(strstr(buf, "\n/dev/pts/"), "%s", buf);
	cr_assert_null(strstr(buf, "not a tty"), "%s", buf);
	cr_assert_not_null(strstr(buf, "\n33 111"), "the resize did not reach the shell: %s", buf);
	usleep(300000); /* the rest of the daemon's event batch */
	assert_daemon_alive();
	cr_assert_eq(strata(&out, &err, "status", CT), 0, "%s", err);
	cr_assert_str_eq(out, "CTID " CT " exist mounted running\n");
}

/* A name with a space: the error says so (it said "character `?`"). */
Test(cli_e2e, name_with_a_space_is_named)
{
	_cleanup_free_ char *out = NULL, *err = NULL;

	need_daemon();
	make_ct(CT, false);
	cr_assert_eq(strata(&out, &err, "set", CT, "--name", "web one", "--save"), ST_EXIT_BADVALUE,
		     "%s%s", out, err);
	cr_assert_not_null(strstr(err, "`web one`: a space is not allowed"), "%s", err);
}

/* set --save of a setting that needs a restart, on a running container and
 * without --setmode: saved, the container keeps running as it was, and a
 * warning names the setting (it was saved in silence); --setmode ignore
 * stays silent. */
Test(cli_e2e, set_save_needing_restart_warns)
{
	_cleanup_free_ char *out = NULL, *err = NULL, *conf = NULL;
	pid_t before;

	need_daemon();
	make_ct(CT, true);
	before = du_ct_pid(CT);
	cr_assert_eq(strata(&out, &err, "set", CT, "--capability", "sys_time:on", "--save"), 0,
		     "%s%s", out, err);
	cr_assert_not_null(strstr(err, "not applied to the running container: CAPABILITY"), "%s",
			   err);
	cr_assert_not_null(strstr(err, "--setmode restart"), "%s", err);
	cr_assert_eq(du_ct_pid(CT), before, "the container was restarted");
	conf = du_path("/ct/%s.conf", CT);
	free(out);
	out = tu_read_file(conf);
	cr_assert(out && strstr(out, "CAPABILITY=\"sys_time:on\""), "%s: %s", conf, out);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "set", CT, "--capability", "sys_time:off", "--save",
			    "--setmode", "ignore"),
		     0, "%s%s", out, err);
	cr_assert_str_eq(err, "");
	/* without --save: refused, nothing changes */
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "set", CT, "--capability", "sys_time:on"), ST_EXIT_CONFIG,
		     "%s%s", out, err);
	assert_daemon_alive();
}

/* restart takes vzctl's --fast and --wait: a new init each time, running
 * after it, and a stopped container is started. */
Test(cli_e2e, restart_fast_and_wait)
{
	_cleanup_free_ char *out = NULL, *err = NULL;
	pid_t p1, p2;

	need_daemon();
	make_ct(CT, true);
	p1 = du_ct_pid(CT);
	cr_assert_eq(strata(&out, &err, "restart", CT, "--fast"), 0, "%s%s", out, err);
	cr_assert_str_eq(out, "Container " CT " restarted\n");
	p2 = du_ct_pid(CT);
	cr_assert(p2 > 0 && p2 != p1, "init %d, then %d", (int)p1, (int)p2);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "restart", CT, "--wait", "--fast"), 0, "%s%s", out, err);
	cr_assert(du_ct_pid(CT) > 0 && du_ct_pid(CT) != p2);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "stop", CT, "--fast"), 0, "%s%s", out, err);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "restart", CT, "--wait"), 0, "%s%s", out, err);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "status", CT), 0, "%s", err);
	cr_assert_str_eq(out, "CTID " CT " exist mounted running\n");
	assert_daemon_alive();
}

/* A command the container lacks is reported as a shell does: "nosuch: not
 * found" on the caller's stderr, exit 127 from exec2 (8 from exec), not a
 * shell's "nosuch: exec: line 0:" nor a failure of strata's own. */
Test(cli_e2e, exec_command_not_found_127)
{
	_cleanup_free_ char *out = NULL, *err = NULL;

	need_daemon();
	make_ct(CT, true);
	cr_assert_eq(strata(&out, &err, "exec2", CT, "nosuch", "arg"), 127, "%s", err);
	cr_assert_str_eq(err, "nosuch: not found\n");
	cr_assert_str_eq(out, "");
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "exec", CT, "/bin/nosuch", "arg"), ST_EXIT_EXEC, "%s", err);
	cr_assert_not_null(strstr(err, "/bin/nosuch: not found\n"), "%s", err);
	free(out), free(err);
	/* there but not executable: 126, as a shell says */
	cr_assert_eq(strata(&out, &err, "exec2", CT, "/etc/hostname", "x"), 126, "%s", err);
	cr_assert_not_null(strstr(err, "/etc/hostname: Permission denied"), "%s", err);
	free(out), free(err);
	/* several arguments still run as they are, found in PATH */
	cr_assert_eq(strata(&out, &err, "exec2", CT, "echo", "a  b", "$HOME"), 0, "%s", err);
	cr_assert_str_eq(out, "a  b $HOME\n");
	free(out), free(err);
	/* and the daemon serves the next request on the same terms */
	cr_assert_eq(strata(&out, &err, "exec2", CT, "exit 3"), 3, "%s", err);
}

/* vzlist 999: "Container(s) not found" on stderr, exit 14 (no such
 * container); without CTIDs, an empty list is no error. */
Test(cli_e2e, list_unknown_ctid_not_found)
{
	_cleanup_free_ char *out = NULL, *err = NULL;

	need_daemon();
	cr_assert_eq(strata(&out, &err, "list", "-a"), 0, "%s", err);
	cr_assert_str_eq(out, "      CTID      NPROC STATUS    IP_ADDR         HOSTNAME\n");
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "list", "9299"), ST_EXIT_NOCONFIG, "%s%s", out, err);
	cr_assert_str_eq(out, "");
	cr_assert_not_null(strstr(err, "Container(s) not found"), "%s", err);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "list", "-j", "9299"), ST_EXIT_NOCONFIG, "%s%s", out, err);
	free(out), free(err);
	out = err = NULL;
	make_ct(CT, false);
	cr_assert_eq(strata(&out, &err, "list", "-H", "-o", "ctid", CT), 0, "%s", err);
	cr_assert_str_eq(out, "      " CT "\n");
}

/* runtime/daemon.h's CT_CONSOLE_RING */
#define CT_CONSOLE_RING_SIZE (64 * 1024)

/* Whether stratad's page at addr is resident (or swapped). */
static bool daemon_page_present(int pagemap, unsigned long addr)
{
	unsigned long page = (unsigned long)sysconf(_SC_PAGESIZE);
	uint64_t e = 0;

	cr_assert_eq(pread(pagemap, &e, sizeof(e), (off_t)(addr / page * 8)), sizeof(e));
	return (e >> 63 & 1) || (e >> 62 & 1);
}

static int daemon_pagemap(void)
{
	_cleanup_free_ char *path = NULL;
	int fd;

	cr_assert_geq(asprintf(&path, "/proc/%d/pagemap", (int)du.pid), 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "open %s", path);
	return fd;
}

/* Pages of stratad in [start, start + len) that are resident. */
static size_t daemon_resident_pages(unsigned long start, size_t len)
{
	_cleanup_close_ int pm = daemon_pagemap();
	unsigned long page = (unsigned long)sysconf(_SC_PAGESIZE);
	size_t n = 0;

	for (unsigned long a = start; a < start + len; a += page)
		n += daemon_page_present(pm, a);
	return n;
}

/* Where `text` is in stratad's anonymous writable mappings (up to 64 MB
 * each: ASan's shadow is left alone): up to max addresses. Only resident
 * pages are read (a read maps the zero page into the others). */
static size_t daemon_find(const char *text, unsigned long *addr, size_t max)
{
	_cleanup_free_ char *path = NULL, *mem = NULL, *line = NULL, *buf = NULL;
	_cleanup_close_ int memfd = -EBADF, pm = daemon_pagemap();
	unsigned long page = (unsigned long)sysconf(_SC_PAGESIZE);
	const size_t tl = strlen(text);
	size_t n = 0, cap = 0;
	FILE *f;

	cr_assert_geq(asprintf(&path, "/proc/%d/maps", (int)du.pid), 0);
	cr_assert_geq(asprintf(&mem, "/proc/%d/mem", (int)du.pid), 0);
	memfd = open(mem, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(memfd, 0, "open %s", mem);
	buf = malloc(64ul << 20);
	cr_assert_not_null(buf);
	f = fopen(path, "re");
	cr_assert_not_null(f, "open %s", path);
	while (getline(&line, &cap, f) > 0 && n < max) {
		unsigned long start, end, inode;
		char perms[8], name[256] = "";

		if (sscanf(line, "%lx-%lx %7s %*s %*s %lu %255s", &start, &end, perms, &inode,
			   name) < 4 ||
		    inode != 0 || name[0] || strncmp(perms, "rw", 2) || end - start > (64ul << 20))
			continue;
		/* each run of resident pages, read at once */
		for (unsigned long a = start; a < end && n < max;) {
			unsigned long run = a;
			ssize_t got;
			char *p = buf;

			while (run < end && daemon_page_present(pm, run))
				run += page;
			if (run == a) {
				a += page;
				continue;
			}
			got = pread(memfd, buf, run - a, (off_t)a);
			while (got > 0 && n < max &&
			       (p = memmem(p, (size_t)got - (size_t)(p - buf), text, tl))) {
				addr[n++] = a + (unsigned long)(p - buf);
				p++;
			}
			a = run;
		}
	}
	fclose(f);
	return n;
}

/* The console's ring buffer (64 kB a container) is a mapping of its own,
 * page-aligned and resident only as far as the console wrote (from the heap
 * it was touched in full: 26 kB of stratad a container), and it goes with
 * the container. */
Test(cli_e2e, console_ring_mapped_and_unmapped)
{
	/* the marker is made in the container: the request does not hold it */
	const char *marker = "stcli-ring-42";
	_cleanup_free_ char *out = NULL, *err = NULL, *logp = NULL, *log = NULL;
	long page = sysconf(_SC_PAGESIZE);
	unsigned long hits[16], ring = 0;
	size_t n, off, written;
	char *at = NULL;

	need_daemon();
	make_ct(CT, true);
	cr_assert_eq(strata(&out, &err, "exec2", CT, "echo stcli-ring-$((6*7)) >/dev/console"), 0,
		     "%s", err);
	cr_assert_geq(asprintf(&logp, "%s/run/ct/%s.console.log", du.tmp, CT), 0);
	for (int i = 0; i < 100 && !at; i++) {
		free(log);
		log = tu_read_file(logp);
		at = log ? strstr(log, marker) : NULL;
		if (!at)
			usleep(20000);
	}
	cr_assert_not_null(at, "the console log has no `%s`: %s", marker, log ? log : "(none)");
	off = (size_t)(at - log);
	written = strlen(log);
	cr_assert_lt(written, 32768, "the console wrote too much to tell: %zu bytes", written);
	/* the ring holds the console's bytes from its offset 0 */
	n = daemon_find(marker, hits, 16);
	for (size_t i = 0; i < n; i++)
		if ((hits[i] - off) % (unsigned long)page == 0)
			ring = hits[i] - off;
	cr_assert_neq(ring, 0, "no page-aligned ring holds the console (%zu copies found)", n);
	cr_assert_leq(daemon_resident_pages(ring, CT_CONSOLE_RING_SIZE),
		      (written + (size_t)page - 1) / (size_t)page,
		      "more of the ring is resident than the console wrote (%zu bytes) (%zu pages)",
		      written, daemon_resident_pages(ring, CT_CONSOLE_RING_SIZE));
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "stop", CT), 0, "%s", err);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "destroy", CT), 0, "%s", err);
	n = daemon_find(marker, hits, 16);
	for (size_t i = 0; i < n; i++)
		cr_assert_neq(hits[i], ring + off, "the ring is still mapped after destroy");
}
