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

#include "test_cli_util.h"

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
