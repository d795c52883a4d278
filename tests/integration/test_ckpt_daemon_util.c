/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * suspend / resume end to end (checkpoint area), the shared part: the real CLI against a
 * private stratad (tests/helpers/daemonutil.h: its own strata.conf and
 * directories under /tmp/stck-XXXXXX, cgroup subtree stck-PID), the test
 * process playing the
 * host in a network namespace of its own (so the container's routed veth
 * never touches the real host). The container's init is ckpt_guest: a
 * counter, N MiB of checksummed memory and a TCP echo server. CTIDs 9350-9399.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ksal/cleanup.h"
#include "ksal/error.h"
#include "tests/helpers/daemonutil.h"
#include "tests/helpers/testutil.h"

#include "test_ckpt_daemon_util.h"

/* Run argv, stdout+stderr captured into *out; the exit status. */
int run(char **out, const char *const argv[])
{
	_cleanup_free_ char *outp = du_path("/cmd.out");
	int status;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int n = open("/dev/null", O_RDONLY);

		dup2(n, 0);
		dup2(o, 1);
		dup2(o, 2);
		alarm(60);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (out)
		*out = tu_read_file(outp);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int strata_v(char **out, ...)
{
	const char *argv[32] = { STRATA_CLI_PATH, "--socket", du.sock };
	int argc = 3;
	va_list ap;

	va_start(ap, out);
	for (const char *a = va_arg(ap, const char *); a && argc < 30; a = va_arg(ap, const char *))
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	return run(out, argv);
}

/* The private daemon with VE_STOP_MODE=stop_mode (a later key wins). */
void start_daemon(const char *stop_mode)
{
	du_conf_addf("LOG_LEVEL=debug\nVE_STOP_MODE=%s\n", stop_mode);
	du_daemon_start();
}

void sh(const char *cmd)
{
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };

	cr_assert_eq(run(NULL, argv), 0, "`%s` failed", cmd);
}

/* The test process plays the host: a network namespace of its own. */
void ckd_setup(void)
{
	if (!tu_is_root() || access(STRATAD_PATH, X_OK) < 0)
		return;
	du_setup(&(struct du_opts){ .prefix = "stck", .netns = true });
	sh("ip addr add " HOST_IP "/32 dev lo");
}

void ckd_teardown(void)
{
	if (du.tmp && getenv("STCK_KEEP_LOG")) { /* stratad's log, for figures and debugging */
		_cleanup_free_ char *cmd = NULL;

		if (asprintf(&cmd,
			     "cat %s %s/state/dumps/*.log %s/state/dumps/*/*.log >> %s 2>/dev/null",
			     du.log, du.tmp, du.tmp, getenv("STCK_KEEP_LOG")) > 0)
			(void)!system(cmd);
	}
	du_teardown();
}

void need_root(void)
{
	if (!tu_is_root())
		cr_skip_test("needs root");
	if (access(STRATAD_PATH, X_OK) < 0)
		cr_skip_test("stratad is not built");
	if (access("/opt/strata/bin/criu", X_OK) < 0)
		cr_skip_test("no CRIU 4.2 at /opt/strata/bin/criu (scripts/deps.sh)");
}

/* Template: ckpt_guest as /sbin/init holding mib MiB, echo server on PORT. */
void make_ct(int mib)
{
	_cleanup_free_ char *rootfs = du_path("/rootfs"), *image = du_path("/guest.sqfs");
	_cleanup_free_ char *cmd = NULL, *out = NULL, *args = NULL, *argf = NULL;

	cr_assert_geq(asprintf(&cmd,
			       "mkdir -p %1$s/sbin %1$s/proc %1$s/sys %1$s/dev %1$s/tmp %1$s/run "
			       "%1$s/etc %1$s/root && cp %2$s %1$s/sbin/init",
			       rootfs, CKPT_GUEST_PATH),
		      0);
	sh(cmd);
	cr_assert_geq(asprintf(&args, "%d %d\n", mib, PORT), 0);
	argf = du_path("/rootfs/etc/ckpt_guest.args");
	cr_assert_eq(tu_write_file(argf, args), 0);
	free(cmd);
	cr_assert_geq(asprintf(&cmd, "mksquashfs %s %s -noappend -quiet -no-progress -all-root",
			       rootfs, image),
		      0);
	sh(cmd);
	cr_assert_eq(strata(&out, "-q", "template", "import", TEMPLATE, image), 0, "import: %s",
		     out);
	free(out);
	cr_assert_eq(strata(&out, "create", CT, "--ostemplate", TEMPLATE, "--ipadd", CT_IP), 0,
		     "create: %s", out);
	free(out);
	cr_assert_eq(strata(&out, "start", CT), 0, "start: %s", out);
}

char *ct_file(const char *name)
{
	_cleanup_free_ char *p = du_path("/root/%s/%s", CT, name);

	return tu_read_file(p);
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The guest's counter: from its root, or from the private area's upper
 * layer while the root is not mounted (suspended). */
long counter(void)
{
	_cleanup_free_ char *c = ct_file("counter");

	if (!c) {
		_cleanup_free_ char *p = du_path("/private/%s/upper/counter", CT);
		c = tu_read_file(p);
	}
	cr_assert_not_null(c, "no counter file");
	return strtol(c, NULL, 10);
}

/* Wait until the guest is up: counter ticking, memory filled. */
void wait_guest(void)
{
	double end = now_s() + 30;

	for (;;) {
		_cleanup_free_ char *m = ct_file("mem.expected");

		if (m && counter() >= 10)
			return;
		cr_assert_lt(now_s(), end, "the guest did not come up in 30 s");
		usleep(100000);
	}
}

/* Ask the guest to checksum its memory again; assert it is unchanged. */
void assert_memory_intact(void)
{
	_cleanup_free_ char *req = du_path("/root/%s/mem.req", CT);
	_cleanup_free_ char *nowp = du_path("/root/%s/mem.now", CT);
	_cleanup_free_ char *expected = ct_file("mem.expected"), *got = NULL;
	double end = now_s() + 20;

	unlink(nowp);
	cr_assert_eq(tu_write_file(req, "1"), 0);
	while (access(req, F_OK) == 0 || access(nowp, F_OK) < 0) {
		cr_assert_lt(now_s(), end, "the guest did not checksum its memory in 20 s");
		usleep(50000);
	}
	got = ct_file("mem.now");
	cr_assert_not_null(expected);
	cr_assert_not_null(got);
	cr_assert_str_eq(got, expected, "memory checksum changed");
}

/* Right after a resume: the counter goes on from where it was (a restarted
 * guest would count from 0 again), and it moves. */
void assert_counter_continues(long from)
{
	long now = counter();

	cr_assert_geq(now, from, "counter restarted: %ld before, %ld after", from, now);
	cr_assert_lt(now, from + 30, "counter jumped: %ld -> %ld", from, now);
}

void assert_counter_moves(long from)
{
	double end = now_s() + 5;

	while (counter() <= from) {
		cr_assert_lt(now_s(), end, "counter stuck at %ld", counter());
		usleep(50000);
	}
}

void assert_status(const char *want)
{
	_cleanup_free_ char *out = NULL;

	cr_assert_eq(strata(&out, "status", CT), 0, "status: %s", out);
	cr_assert_not_null(strstr(out, want), "status `%s`, expected `%s`", out, want);
}

/* The pids in the container's memory cgroup (-1: no such cgroup). */
int cg_tasks(void)
{
	_cleanup_free_ char *p = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	int n = 0, pid;

	cr_assert_geq(asprintf(&p, "/sys/fs/cgroup/memory/%s/%s/cgroup.procs", du.subtree, CT), 0);
	f = fopen(p, "re");
	if (!f)
		return -1;
	while (fscanf(f, "%d", &pid) == 1)
		n++;
	return n;
}

int tcp_connect(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	inet_pton(AF_INET, CT_IP, &sa.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (int i = 0; i < 50; i++) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		usleep(100000);
	}
	cr_assert_fail("connect to %s:%d: %s", CT_IP, PORT, strerror(errno));
	return -1;
}

void tcp_echo(int fd, const char *msg)
{
	char buf[256], want[256];
	size_t got = 0;

	snprintf(want, sizeof(want), "echo:%s", msg);
	cr_assert_eq(write(fd, msg, strlen(msg)), (ssize_t)strlen(msg), "send: %s",
		     strerror(errno));
	while (got < strlen(want)) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);

		cr_assert_gt(n, 0, "no echo of `%s` (%s)", msg, n < 0 ? strerror(errno) : "EOF");
		got += (size_t)n;
	}
	buf[got] = 0;
	cr_assert_str_eq(buf, want);
}

int ppid_of(int pid)
{
	_cleanup_free_ char *p = NULL, *st = NULL;
	char *c;
	int ppid = -1;

	cr_assert_geq(asprintf(&p, "/proc/%d/stat", pid), 0);
	st = tu_read_file(p);
	c = st ? strrchr(st, ')') : NULL;
	if (!c || sscanf(c, ") %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

/* The restored init is stratad's child (stratad is a child subreaper). */
void assert_init_is_daemon_child(void)
{
	_cleanup_free_ char *p = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	int pid, n = 0;

	cr_assert_geq(asprintf(&p, "/sys/fs/cgroup/memory/%s/%s/cgroup.procs", du.subtree, CT), 0);
	f = fopen(p, "re");
	cr_assert_not_null(f);
	while (fscanf(f, "%d", &pid) == 1)
		if (ppid_of(pid) == du.pid)
			n++;
	cr_assert_eq(n, 1, "%d processes of the container are stratad's children", n);
}

/* No zombie left among stratad's children (strays are reaped). */
void assert_no_zombie_children(void)
{
	_cleanup_free_ char *p = NULL;
	double end = now_s() + 2;
	char *zombie = NULL;

	/* the daemon reaps its children from its event loop, a moment after
	 * they end (a background image remover): a zombie that stays is the
	 * bug, not one that is there for a few milliseconds */
	cr_assert_geq(asprintf(&p, "/proc/%d/task/%d/children", du.pid, du.pid), 0);
	do {
		_cleanup_free_ char *kids = tu_read_file(p);
		char *save = NULL;

		free(zombie);
		zombie = NULL;
		for (char *t = kids ? strtok_r(kids, " \n", &save) : NULL; t && !zombie;
		     t = strtok_r(NULL, " \n", &save)) {
			_cleanup_free_ char *sp = NULL, *st = NULL;
			char *c;

			cr_assert_geq(asprintf(&sp, "/proc/%s/stat", t), 0);
			st = tu_read_file(sp);
			c = st ? strrchr(st, ')') : NULL;
			if (c && c[1] && c[2] == 'Z')
				zombie = strdup(t);
		}
		if (zombie)
			usleep(20000);
	} while (zombie && now_s() < end);
	cr_assert_null(zombie, "stratad leaves zombie child %s for 2 s", zombie);
}

/* A resume returns before its images are unlinked (stratad's closer thread
 * does it): they are gone soon after, nothing left in dumps/. */
void assert_images_removed(void)
{
	_cleanup_free_ char *dumps = du_path("/state/dumps");
	double end = now_s() + 10;

	for (;;) {
		_cleanup_closedir_ DIR *d = opendir(dumps);
		struct dirent *de;
		const char *left = NULL;

		cr_assert_not_null(d, "open `%s`: %s", dumps, strerror(errno));
		while ((de = readdir(d)))
			if (de->d_name[0] != '.') {
				left = de->d_name;
				break;
			}
		if (!left)
			return;
		cr_assert_lt(now_s(), end, "`%s/%s` still there 10 s after the resume", dumps,
			     left);
		usleep(50000);
	}
}
