/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ksal_enter against the real kernel (root only), into containers made by
 * ksal_spawn (test_spawn_util.h), and the latency figures of both against
 * unshare(1) and nsenter(1).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ksal/syscalls.h"
#include "ksal/cleanup.h"
#include "ksal/mount.h"
#include "ksal/spawn.h"
#include "tests/integration/test_spawn_util.h"

TestSuite(enter, .init = spawn_setup, .fini = spawn_teardown);
TestSuite(figures, .init = spawn_setup, .fini = spawn_teardown);

Test(enter, enter_runs_inside_and_propagates_exit_codes)
{
	struct running r;
	int status;

	start_idle(&r);
	{
		char *argv[] = { "hostname", NULL };
		_cleanup_free_ char *out = enter_run(&r, argv, NULL, &status);
		cr_assert_str_eq(out, "stspawn-enter\n");
		cr_assert_eq(status, 0);
	}
	{
		char *argv[] = { "cat", "/proc/self/status", NULL };
		_cleanup_free_ char *out = enter_run(&r, argv, NULL, &status);
		cr_assert_eq(status, 0);
		cr_assert_not_null(strstr(out, "\nUid:\t0\t0\t0\t0\n"), "%s", out);
		cr_assert_not_null(strstr(out, "\nSeccomp:\t2\n"), "%s", out);
		/* NSpid: host pid, then the pid inside */
		cr_assert_not_null(strstr(out, "\nNSpid:\t"), "%s", out);
		char *c = strstr(out, "\nCapBnd:\t");
		cr_assert_not_null(c);
		unsigned long long bnd = strtoull(c + 9, NULL, 16);
		cr_assert_eq(bnd & (1ULL << 16), 0, "CapBnd keeps sys_module");
	}
	{
		char *argv[] = { "sh", "-c",
				 "echo ppid=$PPID sid=$(cut -d' ' -f6 /proc/$$/stat); "
				 "exit 7",
				 NULL };
		_cleanup_free_ char *out = enter_run(&r, argv, NULL, &status);
		cr_assert_eq(status, 7, "exit code %d, out %s", status, out);
		/* its parent is outside the pid ns (0 inside), it leads a session */
		cr_assert_str_neq(out, "");
		cr_assert_not_null(strstr(out, "ppid=0"), "%s", out);
	}
	{
		/* the caller's own child: waitpid by pid works too */
		static char *const env[] = { "PATH=/bin", NULL };
		char *argv[] = { "sh", "-c", "exit 3", NULL };
		struct st_error *err = NULL;
		struct ksal_spawned e;
		struct ksal_enter_cfg ec = {
			.init_pidfd = r.sp.pidfd,
			.init_pid = r.sp.pid,
			.argv = argv,
			.envp = env,
			.stdio = { -1, -1, -1 },
			.seccomp_fd = -1,
			.cgroup_procs_fd = -1,
		};
		int st;
		cr_assert_eq(ksal_enter(&ec, &e, &err), 0, "enter: %s", err ? err->msg : "");
		track_pidfd(e.pidfd);
		cr_assert_eq(waitpid(e.pid, &st, 0), e.pid, "waitpid: %m");
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 3, "status %#x", st);
		untrack_close(e.pidfd);
	}
	{
		char *argv[] = { "sh", "-c", "ulimit -n", NULL };
		g_enter_rlimit = true;
		_cleanup_free_ char *out = enter_run(&r, argv, NULL, &status);
		g_enter_rlimit = false;
		cr_assert_eq(status, 0);
		cr_assert_str_eq(out, "900\n");
	}
	{
		char *argv[] = { "cat", NULL };
		_cleanup_free_ char *out = enter_run(&r, argv, "hello from stdin\n", &status);
		cr_assert_eq(status, 0);
		cr_assert_str_eq(out, "hello from stdin\n");
	}
	stop_idle(&r);
}

Test(enter, enter_missing_command_names_it)
{
	char *argv[] = { "/bin/stspawn-no-such-cmd", NULL };
	struct st_error *err = NULL;
	struct ksal_spawned e;
	struct running r;

	start_idle(&r);
	struct ksal_enter_cfg ec = {
		.init_pidfd = r.sp.pidfd,
		.init_pid = r.sp.pid,
		.argv = argv,
		.stdio = { -1, -1, -1 },
		.seccomp_fd = -1,
		.cgroup_procs_fd = -1,
	};
	cr_assert_lt(ksal_enter(&ec, &e, &err), 0);
	cr_assert_not_null(strstr(err->msg, "/bin/stspawn-no-such-cmd"), "%s", err->msg);
	cr_assert_eq(err->errnum, ENOENT);
	cr_assert_eq(err->exit_code, ST_EXIT_EXEC);
	st_error_free(err);
	/* a name searched in PATH is named too */
	char *argv2[] = { "stspawn-nope", NULL };
	static char *const env[] = { "PATH=/bin:/sbin", NULL };
	ec.argv = argv2;
	ec.envp = env;
	err = NULL;
	cr_assert_lt(ksal_enter(&ec, &e, &err), 0);
	cr_assert_not_null(strstr(err->msg, "`stspawn-nope`"), "%s", err->msg);
	cr_assert_eq(err->errnum, ENOENT);
	st_error_free(err);
	stop_idle(&r);
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "a child was left behind");
}

Test(enter, enter_joins_the_cgroup_given)
{
	char *argv[] = { "/bin/sh", "-c", "read x; exit 0", NULL };
	char *eargv[] = { "cat", "/proc/self/cgroup", NULL };
	_cleanup_close_ int cg = -EBADF, procs = -EBADF, in_r = -EBADF;
	struct st_error *err = NULL;
	struct ksal_spawn_cfg cfg;
	struct running r;
	char path[160];
	int p[2], status;

	if (access("/sys/fs/cgroup/unified/cgroup.procs", F_OK) < 0)
		cr_skip_test("no cgroup2 at /sys/fs/cgroup/unified");
	snprintf(path, sizeof(path), "/sys/fs/cgroup/unified/stspawn-%d", (int)getpid());
	cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s: %m", path);
	g_cgroup = strdup(path);
	cg = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	cr_assert_geq(cg, 0);
	procs = openat(cg, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	cr_assert_geq(procs, 0);

	default_cfg(&cfg, argv);
	cfg.cgroup_fd = cg;
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	in_r = p[0];
	r.in_w = p[1];
	cfg.stdio[0] = in_r;
	cr_assert_eq(ksal_spawn(&cfg, &r.sp, &err), 0, "spawn: %s", err ? err->msg : "");
	track_pidfd(r.sp.pidfd);

	/* and a v1 hierarchy of our own, if the host has pids on v1 */
	_cleanup_close_ int v1procs = -EBADF;
	snprintf(path, sizeof(path), "/sys/fs/cgroup/pids/stspawn-%d", (int)getpid());
	if (access("/sys/fs/cgroup/pids/cgroup.procs", F_OK) == 0) {
		cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s: %m", path);
		g_cgroup_v1 = strdup(path);
		snprintf(path, sizeof(path), "%s/cgroup.procs", g_cgroup_v1);
		v1procs = open(path, O_WRONLY | O_CLOEXEC);
		cr_assert_geq(v1procs, 0);
	}

	/* in the init's cgroup the container's cgroup ns shows it as its root */
	{
		g_extra_procs = v1procs;
		_cleanup_free_ char *out = enter_run_cg(&r, eargv, procs, &status);
		g_extra_procs = -1;
		cr_assert_eq(status, 0);
		cr_assert_not_null(strstr(out, "0::/\n"), "%s", out);
		if (v1procs >= 0) {
			const char *pl = strstr(out, ":pids:");
			cr_assert_not_null(pl, "%s", out);
			cr_assert_not_null(strstr(pl, "stspawn-"), "not in the v1 pids cgroup: %s",
					   out);
		}
	}
	{
		_cleanup_free_ char *out = enter_run_cg(&r, eargv, -1, &status);
		cr_assert_eq(status, 0);
		cr_assert_null(strstr(out, "0::/\n"), "not joined, yet: %s", out);
	}
	stop_idle(&r);
}

static void check_ctty(bool owned_elsewhere)
{
	char *eargv[] = { "sh", "-c", "echo tty_nr=$(cut -d' ' -f7 /proc/self/stat)", NULL };
	_cleanup_close_ int ptm = -EBADF, pts = -EBADF;
	struct st_error *err = NULL;
	struct ksal_spawned e;
	struct running r;
	char buf[256] = "";
	size_t len = 0;

	start_idle(&r);
	ptm = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert_geq(ptm, 0);
	cr_assert_eq(grantpt(ptm), 0);
	cr_assert_eq(unlockpt(ptm), 0);
	pts = open(ptsname(ptm), O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert_geq(pts, 0);
	if (owned_elsewhere) {
		/* another session already has it as its controlling tty, as
		 * the user's shell has the terminal `strata enter` passes */
		int ready[2];
		char c;
		cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
		pid_t owner = fork();
		cr_assert_geq(owner, 0);
		if (owner == 0) {
			close(r.in_w); /* the init ends when the test closes it */
			setsid();
			if (ioctl(pts, TIOCSCTTY, 0) < 0)
				_exit(1);
			if (write(ready[1], "x", 1) != 1)
				_exit(1);
			pause();
			_exit(0);
		}
		int ofd = pidfd_open(owner, 0);
		cr_assert_geq(ofd, 0);
		track_pidfd(ofd);
		close(ready[1]);
		cr_assert_eq(read(ready[0], &c, 1), 1, "the owner could not take the tty");
		close(ready[0]);
	}
	struct ksal_enter_cfg ec = {
		.init_pidfd = r.sp.pidfd,
		.init_pid = r.sp.pid,
		.argv = eargv,
		.stdio = { pts, pts, pts },
		.setsid_ctty = true,
		.seccomp_fd = -1,
		.cgroup_procs_fd = -1,
	};
	cr_assert_eq(ksal_enter(&ec, &e, &err), 0, "enter: %s", err ? err->msg : "");
	track_pidfd(e.pidfd);
	closep(&pts);
	while (len < sizeof(buf) - 1 && !strchr(buf, '\n')) {
		struct pollfd pf = { .fd = ptm, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, 10000) <= 0)
			break;
		n = read(ptm, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	cr_assert_eq(wait_exit(e.pidfd), 0);
	untrack_close(e.pidfd);
	char *v = strstr(buf, "tty_nr=");
	cr_assert_not_null(v, "%s", buf);
	if (owned_elsewhere)
		cr_assert_eq(strtol(v + 7, NULL, 10), 0, "stole the tty: %s", buf);
	else
		cr_assert_gt(strtol(v + 7, NULL, 10), 0, "no controlling tty: %s", buf);
	stop_idle(&r);
}

Test(enter, enter_with_a_controlling_tty)
{
	check_ctty(false);
}

Test(enter, enter_with_a_tty_owned_by_another_session)
{
	check_ctty(true);
}

/* ---- the figures: ksal_spawn until `true` has run and exited, ksal_enter
 * of `true`, paired and interleaved with unshare(1) / nsenter(1) ---- */

Test(figures, start_latency_vs_unshare)
{
	char *argv[] = { "/bin/probe", "true", NULL };
	char *uargv[] = { "unshare", "-fpmiun", "--mount-proc", "true", NULL };
	double ours[RUNS], theirs[RUNS];
	struct ksal_spawn_cfg cfg;

	default_cfg(&cfg, argv);
	for (int i = 0; i < RUNS; i++) {
		struct st_error *err = NULL;
		struct ksal_spawned sp;
		double t0 = now_ms();

		cr_assert_eq(ksal_spawn(&cfg, &sp, &err), 0, "spawn: %s", err ? err->msg : "");
		track_pidfd(sp.pidfd);
		cr_assert_eq(wait_exit(sp.pidfd), 0);
		ours[i] = now_ms() - t0;
		untrack_close(sp.pidfd);

		t0 = now_ms();
		pid_t pid = fork();
		if (pid == 0) {
			execvp(uargv[0], uargv);
			_exit(127);
		}
		int st;
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "unshare failed");
		theirs[i] = now_ms() - t0;
	}
	qsort(ours, RUNS, sizeof(double), cmp_double);
	qsort(theirs, RUNS, sizeof(double), cmp_double);
	cr_log_info("stspawn: ksal_spawn -> true exited: median %.2f ms (min %.2f); "
		    "unshare -fpmiun --mount-proc true: median %.2f ms (min %.2f)",
		    ours[RUNS / 2], ours[0], theirs[RUNS / 2], theirs[0]);
	fprintf(stderr, "STSPAWN-FIGURE spawn_true_median_ms=%.2f unshare_true_median_ms=%.2f\n",
		ours[RUNS / 2], theirs[RUNS / 2]);
}

Test(figures, enter_latency_vs_nsenter)
{
	char *argv[] = { "/bin/probe", "true", NULL };
	double ours[RUNS], theirs[RUNS];
	struct running r;
	char pid[16];

	start_idle(&r);
	snprintf(pid, sizeof(pid), "%d", (int)r.sp.pid);
	char *nargv[] = { "nsenter", "-t", pid, "-a", "/bin/probe", "true", NULL };
	for (int i = 0; i < RUNS; i++) {
		struct st_error *err = NULL;
		struct ksal_spawned e;
		struct ksal_enter_cfg ec = {
			.init_pidfd = r.sp.pidfd,
			.init_pid = r.sp.pid,
			.argv = argv,
			.stdio = { -1, -1, -1 },
			.cap_drop = ksal_cap_default_drop(),
			.seccomp_fd = g_seccomp,
			.cgroup_procs_fd = -1,
		};
		double t0 = now_ms();

		cr_assert_eq(ksal_enter(&ec, &e, &err), 0, "enter: %s", err ? err->msg : "");
		track_pidfd(e.pidfd);
		cr_assert_eq(wait_exit(e.pidfd), 0);
		ours[i] = now_ms() - t0;
		untrack_close(e.pidfd);

		t0 = now_ms();
		pid_t child = fork();
		if (child == 0) {
			execvp(nargv[0], nargv);
			_exit(127);
		}
		int st;
		cr_assert_eq(waitpid(child, &st, 0), child);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "nsenter failed");
		theirs[i] = now_ms() - t0;
	}
	qsort(ours, RUNS, sizeof(double), cmp_double);
	qsort(theirs, RUNS, sizeof(double), cmp_double);
	fprintf(stderr, "STSPAWN-FIGURE enter_true_median_ms=%.2f nsenter_true_median_ms=%.2f\n",
		ours[RUNS / 2], theirs[RUNS / 2]);
	stop_idle(&r);
}
