/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the two strata CLI end-to-end suites share (test_cli_e2e.c and
 * test_cli_enter.c, both Criterion suite cli_e2e): running the CLI, the
 * private daemon (tests/helpers/daemonutil.h) and a tiny container.
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
#include "test_cli_util.h"

#ifndef STRATA_CLI_PATH
#error "STRATA_CLI_PATH must be set by meson"
#endif
#ifndef STRATAD_PATH
#error "STRATAD_PATH must be set by meson"
#endif

char *tmp;  /* du.tmp, or a temp dir of its own without a daemon */
char *sock; /* du.sock */

const char *cli_path(void)
{
	const char *e = getenv("STRATA_CLI");
	return e && *e ? e : STRATA_CLI_PATH;
}

char *path_in(const char *sub)
{
	char *p = NULL;

	cr_assert_geq(asprintf(&p, "%s/%s", tmp, sub), 0);
	return p;
}

/* Run argv with stdin_text on stdin (NULL: /dev/null); stdout and stderr
 * captured apart. Returns the exit status, 128+signal if killed. */
int run(const char *stdin_text, char **out, char **errout, const char *const argv[])
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
int strata_in(const char *stdin_text, char **out, char **errout, ...)
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

/* The private daemon (tests/helpers/daemonutil), when root and stratad is
 * built; the tests that need no daemon still get a temp dir for run(). */
void setup(void)
{
	if (!tu_is_root() || access(STRATAD_PATH, X_OK) < 0)
		return;
	du_setup(&(struct du_opts){ .prefix = "stcli" });
	du_conf_addf("LOG_LEVEL=debug\n");
	du_daemon_start();
	tmp = du.tmp;
	sock = du.sock;
}

void teardown(void)
{
	if (du.tmp) {
		du_teardown();
	} else if (tmp) {
		tu_rm_rf(tmp);
		free(tmp);
	}
	tmp = sock = NULL;
}

void need_daemon(void)
{
	if (!tu_is_root())
		cr_skip_test("needs root");
	if (access(STRATAD_PATH, X_OK) < 0)
		cr_skip_test("stratad is not built (%s): the daemon (runtime/) is not there yet",
			     STRATAD_PATH);
}

/* A tiny template from the test rootfs, imported through the CLI, and one
 * container created from it. */
void make_ct(const char *ctid, bool start)
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

/* The private daemon is still there (not a zombie): a relay bug that
 * crashes it after its reply would pass unseen otherwise. */
void assert_daemon_alive(void)
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
