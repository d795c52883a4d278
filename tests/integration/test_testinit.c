/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The test helpers every integration test stands on: tu_mkrootfs() makes a
 * rootfs that boots testinit, and testinit's verbs do what they say (root).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ksal/cleanup.h"
#include "tests/helpers/testutil.h"

#define CG_PIDS "/sys/fs/cgroup/pids"

static char *root;
static char cg_dir[256];
static pid_t child = -1;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void setup(void)
{
	double t0;

	if (!tu_is_root())
		cr_skip_test("needs root");
	root = tu_tmpdir("stfound-root");
	cr_assert_not_null(root);
	t0 = now_ms();
	cr_assert_eq(tu_mkrootfs(root), 0);
	cr_log_info("tu_mkrootfs: %.2f ms", now_ms() - t0);
}

/* Kill every task of our pids cgroup, then remove it. */
static void cg_cleanup(void)
{
	_cleanup_free_ char *procs_path = NULL;

	if (!cg_dir[0])
		return;
	if (asprintf(&procs_path, "%s/cgroup.procs", cg_dir) < 0)
		return;
	for (int round = 0; round < 200; round++) {
		_cleanup_free_ char *procs = tu_read_file(procs_path);
		bool any = false;

		for (char *p = procs; p && *p;) {
			char *end;
			long pid = strtol(p, &end, 10);

			if (end == p)
				break;
			kill((pid_t)pid, SIGKILL);
			any = true;
			p = end + (*end == '\n');
		}
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (!any && rmdir(cg_dir) == 0)
			break;
		usleep(10000);
	}
	cg_dir[0] = '\0';
}

static void teardown(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = -1;
	}
	cg_cleanup();
	if (root)
		tu_rm_rf(root);
	free(root);
	root = NULL;
}

TestSuite(testinit, .init = setup, .fini = teardown, .timeout = 60);

/* Start testinit with args, stdout to a pipe; returns the read end. If
 * cgroup_procs is set, the child joins that cgroup before exec. */
static int start(const char *cgroup_procs, const char *const *args)
{
	int p[2];
	const char *argv[16] = { tu_testinit_path() };
	size_t n = 1;

	for (; args && *args && n < ARRAY_SIZE(argv) - 1; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		if (cgroup_procs) {
			char pid[32];
			int fd = open(cgroup_procs, O_WRONLY | O_CLOEXEC);

			snprintf(pid, sizeof(pid), "%d", (int)getpid());
			if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
				_exit(120);
			close(fd);
		}
		dup2(p[1], 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	return p[0];
}

static char *read_line(int fd)
{
	char buf[512];
	size_t len = 0;

	while (len < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + len, 1);

		if (n <= 0 || buf[len] == '\n')
			break;
		len++;
	}
	buf[len] = '\0';
	return strdup(buf);
}

/* Wait until the child has its SIGTERM handler (SigCgt in /proc/PID/status),
 * i.e. it exec'd testinit and got past its start. */
static bool wait_sigterm_caught(void)
{
	_cleanup_free_ char *path = NULL;

	cr_assert_geq(asprintf(&path, "/proc/%d/status", (int)child), 0);
	for (int i = 0; i < 500; i++) {
		_cleanup_free_ char *st = tu_read_file(path);
		char *cgt = st ? strstr(st, "SigCgt:") : NULL;

		if (cgt && (strtoull(cgt + 7, NULL, 16) & (1ULL << (SIGTERM - 1))))
			return true;
		usleep(10000);
	}
	return false;
}

static int stop(int sig)
{
	int status;

	kill(child, sig);
	cr_assert_eq(waitpid(child, &status, 0), child);
	child = -1;
	return status;
}

Test(testinit, rootfs_has_init_shell_and_dirs)
{
	static const char *const dirs[] = { "proc", "sys", "dev", "tmp", "etc", "bin", "sbin" };
	_cleanup_free_ char *init = NULL, *osr = NULL, *osr_text = NULL;
	struct stat st;

	cr_assert_geq(asprintf(&init, "%s/sbin/init", root), 0);
	cr_assert_eq(stat(init, &st), 0);
	cr_expect(S_ISREG(st.st_mode) && (st.st_mode & 0111));
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		_cleanup_free_ char *d = NULL;

		cr_assert_geq(asprintf(&d, "%s/%s", root, dirs[i]), 0);
		cr_expect(stat(d, &st) == 0 && S_ISDIR(st.st_mode), "no /%s", dirs[i]);
	}
	cr_assert_geq(asprintf(&osr, "%s/etc/os-release", root), 0);
	osr_text = tu_read_file(osr);
	cr_expect_not_null(osr_text ? strstr(osr_text, "ID=strata-test") : NULL);
	if (tu_have_busybox()) {
		_cleanup_free_ char *sh = NULL;

		cr_assert_geq(asprintf(&sh, "%s/bin/sh", root), 0);
		cr_expect_eq(stat(sh, &st), 0, "busybox present on the host but no /bin/sh");
	}
}

Test(testinit, mkrootfs_takes_milliseconds)
{
	_cleanup_free_ char *dir = NULL;
	double t0, ms;

	cr_assert_geq(asprintf(&dir, "%s/second", root), 0);
	t0 = now_ms();
	cr_assert_eq(tu_mkrootfs(dir), 0);
	ms = now_ms() - t0;
	fprintf(stderr, "tu_mkrootfs: %.2f ms\n", ms);
	/* about 10-20 ms here; ext4 metadata under parallel tests can spike */
	cr_expect_lt(ms, 250.0, "tu_mkrootfs took %.1f ms", ms);
}

Test(testinit, runs_as_init_of_a_chroot_and_pid_namespace)
{
	_cleanup_free_ char *echo = NULL, *pid = NULL, *ls = NULL;
	const char *a_echo[] = { "chroot", root, "/sbin/init", "echo", "hello", "world", NULL };
	const char *a_pid[] = { "unshare", "--pid",	 "--fork", "chroot",
				root,	   "/sbin/init", "pidns",  NULL };
	const char *a_ls[] = { "chroot", root, "/sbin/init", "ls", "/etc", NULL };

	cr_assert_eq(tu_run(a_echo, &echo), 0, "%s", echo);
	cr_expect_str_eq(echo, "hello world\n");
	cr_assert_eq(tu_run(a_pid, &pid), 0, "%s", pid);
	cr_expect_str_eq(pid, "1\n");
	cr_assert_eq(tu_run(a_ls, &ls), 0, "%s", ls);
	cr_expect_str_eq(ls, "group\nhostname\nos-release\npasswd\n");
}

Test(testinit, busybox_shell_and_hostname_in_uts_namespace)
{
	_cleanup_free_ char *out = NULL;
	const char *argv[] = { "unshare",
			       "--uts",
			       "chroot",
			       root,
			       "/bin/sh",
			       "-c",
			       "hostname stfound-uts && /sbin/init hostname",
			       NULL };

	if (!tu_have_busybox())
		cr_skip_test("no /bin/busybox (busybox-static) on this host");
	cr_assert_eq(tu_run(argv, &out), 0, "%s", out);
	cr_expect_str_eq(out, "stfound-uts\n");
}

Test(testinit, exit_codes_files_and_ids)
{
	_cleanup_free_ char *file = NULL, *cat = NULL, *id = NULL;
	const char *t[] = { tu_testinit_path(), "true", NULL };
	const char *f[] = { tu_testinit_path(), "false", NULL };
	const char *e[] = { tu_testinit_path(), "exit", "42", NULL };
	const char *bad[] = { tu_testinit_path(), "no-such-verb", NULL };
	const char *g[] = { tu_testinit_path(), "getuid", NULL };

	cr_expect_eq(tu_run(t, NULL), 0);
	cr_expect_eq(tu_run(f, NULL), 1);
	cr_expect_eq(tu_run(e, NULL), 42);
	cr_expect_eq(tu_run(bad, NULL), 2);
	cr_assert_geq(asprintf(&file, "%s/tmp/x", root), 0);
	const char *w[] = { tu_testinit_path(), "write", file, "some text", NULL };
	const char *c[] = { tu_testinit_path(), "cat", file, NULL };
	cr_expect_eq(tu_run(w, NULL), 0);
	cr_expect_eq(tu_run(c, &cat), 0);
	cr_expect_str_eq(cat, "some text");
	cr_expect_eq(tu_run(g, &id), 0);
	cr_expect_str_eq(id, "0 0\n");
}

Test(testinit, sleep_sleeps_and_pause_ends_on_sigterm)
{
	const char *s[] = { tu_testinit_path(), "sleep", "0.2", NULL };
	const char *pause_args[] = { "pause", NULL };
	double t0 = now_ms();
	int status, fd;

	cr_expect_eq(tu_run(s, NULL), 0);
	cr_expect_geq(now_ms() - t0, 195.0);

	fd = start(NULL, pause_args);
	close(fd);
	cr_assert(wait_sigterm_caught(), "testinit pause never set up its SIGTERM handler");
	usleep(50000);
	cr_assert_eq(waitpid(child, &status, WNOHANG), 0, "pause exited by itself");
	status = stop(SIGTERM);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
}

Test(testinit, memhog_touches_its_memory)
{
	const char *args[] = { "memhog", "32", NULL };
	_cleanup_free_ char *line = NULL, *status_path = NULL, *st = NULL;
	int fd = start(NULL, args), status;
	long rss_kb = 0;
	char *vm;

	line = read_line(fd);
	close(fd);
	cr_expect_str_eq(line, "memhog: 32 MiB touched");
	cr_assert_geq(asprintf(&status_path, "/proc/%d/status", (int)child), 0);
	st = tu_read_file(status_path);
	vm = st ? strstr(st, "VmRSS:") : NULL;
	cr_assert_not_null(vm);
	rss_kb = strtol(vm + 6, NULL, 10);
	cr_expect_geq(rss_kb, 32 * 1024, "VmRSS %ld kB", rss_kb);
	status = stop(SIGTERM);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(testinit, counter_counts_every_100ms)
{
	_cleanup_free_ char *file = NULL, *v1 = NULL, *v2 = NULL;
	const char *args[3] = { "counter", NULL, NULL };

	cr_assert_geq(asprintf(&file, "%s/tmp/counter", root), 0);
	args[1] = file;
	close(start(NULL, args));
	cr_assert(wait_sigterm_caught());
	usleep(150000);
	v1 = tu_read_file(file);
	usleep(500000);
	v2 = tu_read_file(file);
	stop(SIGKILL);
	cr_assert_not_null(v1);
	cr_assert_not_null(v2);
	/* 5 expected; a loaded 2-core CI machine may lose one or two ticks */
	cr_expect_geq(atol(v2) - atol(v1), 3, "counter went %s -> %s", v1, v2);
	cr_expect_leq(atol(v2) - atol(v1), 6, "counter went %s -> %s", v1, v2);
}

Test(testinit, forkbomb_stops_at_the_pids_limit)
{
	_cleanup_free_ char *procs = NULL, *max = NULL, *line = NULL;
	const char *args[] = { "forkbomb", NULL };
	struct stat st;
	int fd;

	if (stat(CG_PIDS, &st) < 0)
		cr_skip_test("no v1 pids hierarchy at " CG_PIDS);
	snprintf(cg_dir, sizeof(cg_dir), CG_PIDS "/stfound-forkbomb-%d", (int)getpid());
	cr_assert_eq(mkdir(cg_dir, 0755), 0, "mkdir %s: %s", cg_dir, strerror(errno));
	cr_assert_geq(asprintf(&max, "%s/pids.max", cg_dir), 0);
	cr_assert_geq(asprintf(&procs, "%s/cgroup.procs", cg_dir), 0);
	cr_assert_eq(tu_write_file(max, "16"), 0);
	fd = start(procs, args);
	line = read_line(fd);
	close(fd);
	cr_expect_str_eq(line, "forkbomb: 15 forks, then Resource temporarily unavailable");
}

static long long cpu_ticks(pid_t pid)
{
	_cleanup_free_ char *path = NULL, *st = NULL;
	unsigned long long ut = 0, stime = 0;
	char *p;

	cr_assert_geq(asprintf(&path, "/proc/%d/stat", (int)pid), 0);
	st = tu_read_file(path);
	cr_assert_not_null(st);
	p = strrchr(st, ')'); /* fields after the comm: state is field 3 */
	cr_assert_not_null(p);
	cr_assert_eq(
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stime),
		2);
	return (long long)(ut + stime);
}

Test(testinit, spin_burns_cpu)
{
	const char *args[] = { "spin", NULL };
	long long t0, t1;

	close(start(NULL, args));
	usleep(100000);
	t0 = cpu_ticks(child);
	usleep(400000);
	t1 = cpu_ticks(child);
	stop(SIGKILL);
	/* 400 ms of a busy loop: at least 10 ticks (100 Hz) even on a loaded box */
	cr_expect_geq(t1 - t0, 10, "spin used %lld ticks in 400 ms", t1 - t0);
}
