/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The view from inside (issue 5) against the real kernel and Debian's lxcfs:
 * a process in a cgroup with 256 MiB and one CPU, with lxcfs's files bound
 * over /proc in its own mount namespace, sees 256 MiB and one CPU; killing
 * lxcfs makes those reads fail with ENOTCONN, and a restart serves new
 * readers (and old ones after lxcfs_rebind). The binds are made as
 * ksal_spawn's locked path makes them: clones of the fds lxcfs_binds hands
 * out, so a restart must hand out the new mount's.
 *
 * Objects: mountpoint /tmp/stlxc-<pid>/lxcfs, cgroup subtree
 * "stlxc-test-<pid>" in every hierarchy; .fini removes both even after a
 * failed assertion.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ksal/cgroup.h"
#include "ksal/error.h"
#include "ksal/syscalls.h"
#include "runtime/lxcfs.h"

#define CGROOT "/sys/fs/cgroup"
#define MIB (1024 * 1024)

static char dir[128], mnt[160], sub[64];
static struct lxcfs *lx;
static struct ksal_cgroup_mgr *mgr;
static struct ksal_cgroup *cg;
static pid_t kids[8];
static size_t nkids;

/* ---- setup and cleanup ---- */

static void rm_cgroup_dirs(void)
{
	char p[512];
	DIR *d = opendir(CGROOT);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), CGROOT "/%s/%s/ct", de->d_name, sub);
		for (int i = 0; i < 50 && rmdir(p) < 0 && errno == EBUSY; i++)
			usleep(20000);
		snprintf(p, sizeof(p), CGROOT "/%s/%s", de->d_name, sub);
		rmdir(p);
	}
	closedir(d);
}

static void kill_pidfile(void)
{
	char p[200];
	FILE *f;
	int pid;

	snprintf(p, sizeof(p), "%s.pid", mnt);
	f = fopen(p, "re");
	if (!f)
		return;
	if (fscanf(f, "%d", &pid) == 1 && pid > 1) {
		char comm[64] = "", cp[64];
		FILE *c;

		snprintf(cp, sizeof(cp), "/proc/%d/comm", pid);
		c = fopen(cp, "re");
		if (c) {
			if (!fgets(comm, sizeof(comm), c))
				comm[0] = '\0';
			fclose(c);
		}
		if (strcmp(comm, "lxcfs\n") == 0)
			kill(pid, SIGKILL);
	}
	fclose(f);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/stlxc-%d", (int)getpid());
	snprintf(mnt, sizeof(mnt), "%s/lxcfs", dir);
	snprintf(sub, sizeof(sub), "stlxc-test-%d", (int)getpid());
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
}

static void teardown(void)
{
	char p[200];

	for (size_t i = 0; i < nkids; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	nkids = 0;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (lx)
		lxcfs_stop(lx);
	lx = NULL;
	kill_pidfile();
	usleep(50000);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	for (int i = 0; i < 5 && umount2(mnt, MNT_DETACH) == 0; i++)
		;
	if (cg) {
		ksal_cgroup_kill_all(cg, 2000, NULL);
		ksal_cgroup_destroy(cg, NULL);
		ksal_cgroup_free(cg);
	}
	cg = NULL;
	ksal_cgroup_mgr_free(mgr);
	mgr = NULL;
	rm_cgroup_dirs();
	rmdir(mnt);
	snprintf(p, sizeof(p), "%s.pid", mnt);
	unlink(p);
	snprintf(p, sizeof(p), "%s.log", mnt);
	unlink(p);
	rmdir(dir);
}

static void need(void)
{
	struct st_error *err = NULL;

	if (geteuid() != 0)
		cr_skip_test("needs root");
	if (lxcfs_available(&err) < 0) {
		cr_log_warn("%s", err->msg);
		st_error_free(err);
		cr_skip_test("lxcfs not available here");
	}
	if (access(CGROOT "/memory/tasks", F_OK) != 0)
		cr_skip_test("needs the v1 memory controller at " CGROOT "/memory");
	cr_assert_eq(mkdir(dir, 0755), 0, "mkdir %s: %s", dir, strerror(errno));
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void start_lxcfs(void)
{
	struct st_error *err = NULL;
	double t0 = now_ms();
	int r = lxcfs_start(mnt, &lx, &err);

	cr_assert_eq(r, 0, "lxcfs_start: %s", err ? err->msg : "?");
	cr_log_info("lxcfs_start: %.1f ms until the mount answered", now_ms() - t0);
}

/* The container's cgroup: 256 MiB, one CPU of quota, cpus as given. */
static void make_cgroup(const char *cpus)
{
	struct st_error *err = NULL;
	struct ksal_cgroup_limits l;
	int r;

	r = ksal_cgroup_mgr_new(NULL, sub, &mgr, &err);
	cr_assert_eq(r, 0, "mgr: %s", err ? err->msg : "?");
	r = ksal_cgroup_create(mgr, "ct", &cg, &err);
	cr_assert_eq(r, 0, "create: %s", err ? err->msg : "?");
	ksal_cgroup_limits_init(&l);
	l.memory_max = 256 * MIB;
	l.cpu_quota_us = 100000;
	l.cpu_period_us = 100000;
	l.cpuset_cpus = cpus;
	r = ksal_cgroup_apply(cg, &l, &err);
	cr_assert_eq(r, 0, "apply: %s", err ? err->msg : "?");
}

/* ---- the "container": a process in the cgroup, a mount and pid ns of its
 * own, lxcfs's files bound over /proc, answering requests on a pipe ---- */

struct view {
	int err_meminfo;    /* errno of the /proc/meminfo read, 0 if it worked */
	long memtotal_kb;   /* MemTotal */
	int cpuinfo_cpus;   /* "processor" lines in /proc/cpuinfo */
	int stat_cpus;	    /* cpuN lines in /proc/stat */
	long nprocs_onln;   /* sysconf(_SC_NPROCESSORS_ONLN) */
	double uptime;	    /* first number of /proc/uptime */
	long free_total_mb; /* `free -m`: total of the Mem: line */
	long nproc;	    /* `nproc` */
	int nbinds;
};

struct ct {
	pid_t pid;
	int req, resp;
};

static void read_view(struct view *v)
{
	char line[512];
	FILE *f;

	memset(v, 0, sizeof(*v));
	v->memtotal_kb = -1;
	v->uptime = -1;
	f = fopen("/proc/meminfo", "re");
	if (!f) {
		v->err_meminfo = errno;
	} else {
		errno = 0;
		if (!fgets(line, sizeof(line), f))
			v->err_meminfo = errno ? errno : EIO;
		else
			sscanf(line, "MemTotal: %ld kB", &v->memtotal_kb);
		fclose(f);
	}
	f = fopen("/proc/cpuinfo", "re");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "processor", 9) == 0)
				v->cpuinfo_cpus++;
		fclose(f);
	}
	f = fopen("/proc/stat", "re");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "cpu", 3) == 0 && line[3] >= '0' && line[3] <= '9')
				v->stat_cpus++;
		fclose(f);
	}
	f = fopen("/proc/uptime", "re");
	if (f) {
		if (fscanf(f, "%lf", &v->uptime) != 1)
			v->uptime = -1;
		fclose(f);
	}
	v->nprocs_onln = sysconf(_SC_NPROCESSORS_ONLN);
	v->free_total_mb = -1;
	f = popen("free -m 2>/dev/null", "re");
	if (f) {
		while (fgets(line, sizeof(line), f))
			sscanf(line, "Mem: %ld", &v->free_total_mb);
		pclose(f);
	}
	v->nproc = -1;
	f = popen("nproc 2>/dev/null", "re");
	if (f) {
		if (fscanf(f, "%ld", &v->nproc) != 1)
			v->nproc = -1;
		pclose(f);
	}
}

/* Runs as pid 1 of a new pid namespace; answers one view per request byte. */
static _Noreturn void ct_main(int req, int resp, const struct ksal_bind *b, size_t n,
			      const int *tree)
{
	struct view v;
	int nb = 0;
	char c;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		_exit(10);
	for (size_t i = 0; i < n; i++) {
		if (!b[i].use_fd && mount(b[i].source, b[i].target, NULL, MS_BIND, NULL) < 0)
			_exit(11);
		if (b[i].use_fd &&
		    move_mount(tree[i], "", AT_FDCWD, b[i].target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
			_exit(14);
		if (mount(NULL, b[i].target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
			_exit(12);
		nb++;
	}
	while (read(req, &c, 1) == 1) {
		read_view(&v);
		v.nbinds = nb;
		if (write(resp, &v, sizeof(v)) != sizeof(v))
			_exit(13);
	}
	_exit(0);
}

static struct ct ct_start(bool with_binds)
{
	struct st_error *err = NULL;
	struct ksal_bind *b = NULL;
	size_t n = 0;
	int req[2], resp[2], go[2];
	struct ct c;
	pid_t pid;
	char x = 0;

	if (with_binds)
		cr_assert_eq(lxcfs_binds(lx, &b, &n, &err), 0, "binds: %s", err ? err->msg : "?");
	cr_assert_eq(pipe2(req, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(resp, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(go, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int tree[16];
		pid_t init;

		/* in the cgroup before anything reads a view */
		if (read(go[0], &x, 1) != 1)
			_exit(20);
		/* as ksal_spawn's locked path: clones of the fds, made in the
		 * fds' own mount namespace, with no walk of the FUSE mount */
		for (size_t i = 0; i < n && i < 16; i++)
			if (b[i].use_fd &&
			    (tree[i] = open_tree(b[i].source_fd, "",
						 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
							 AT_EMPTY_PATH)) < 0)
				_exit(23);
		/* a container's own namespaces, cgroup one included: lxcfs
		 * reads the reader's cgroups from its own (the host's) view */
		if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWCGROUP) < 0)
			_exit(21);
		init = fork();
		if (init < 0)
			_exit(22);
		if (init == 0)
			ct_main(req[0], resp[1], b, n, tree);
		waitpid(init, NULL, 0);
		_exit(0);
	}
	kids[nkids++] = pid;
	cr_assert_eq(ksal_cgroup_attach(cg, pid, &err), 0, "attach: %s", err ? err->msg : "?");
	cr_assert_eq(write(go[1], &x, 1), 1);
	close(go[0]);
	close(go[1]);
	close(req[0]);
	close(resp[1]);
	lxcfs_binds_free(b, n);
	c.pid = pid;
	c.req = req[1];
	c.resp = resp[0];
	return c;
}

static struct view ct_view(const struct ct *c)
{
	struct pollfd p = { .fd = c->resp, .events = POLLIN };
	struct view v;
	char x = 'v';

	cr_assert_eq(write(c->req, &x, 1), 1, "container %d gone", (int)c->pid);
	cr_assert_eq(poll(&p, 1, 10000), 1, "no answer from container %d", (int)c->pid);
	cr_assert_eq(read(c->resp, &v, sizeof(v)), (ssize_t)sizeof(v),
		     "container %d failed to set up its view", (int)c->pid);
	return v;
}

static void wait_pidfd(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	cr_assert_eq(poll(&p, 1, 5000), 1, "lxcfs did not exit");
}

TestSuite(lxcfs, .init = setup, .fini = teardown, .timeout = 60);

Test(lxcfs, inside_sees_its_limits)
{
	struct st_error *err = NULL;
	struct ksal_bind *b = NULL;
	struct view v, host;
	size_t n = 0;
	struct ct c;

	need();
	start_lxcfs();
	cr_assert(lxcfs_healthy(lx));
	cr_assert_eq(lxcfs_binds(lx, &b, &n, &err), 0);
	/* meminfo, cpuinfo, stat, uptime, loadavg, swaps, diskstats, cpu/online */
	cr_assert_eq(n, 8, "lxcfs 5.0 provides 8 of the view's files, got %zu", n);
	for (size_t i = 0; i < n; i++) {
		struct stat a, s;

		/* each with an fd of its source, the caller's own */
		cr_assert(b[i].use_fd, "no fd for `%s`", b[i].source);
		cr_assert_eq(fstat(b[i].source_fd, &a), 0);
		cr_assert_eq(stat(b[i].source, &s), 0);
		cr_assert(a.st_dev == s.st_dev && a.st_ino == s.st_ino,
			  "the fd for `%s` is another file", b[i].source);
	}
	lxcfs_binds_free(b, n);
	make_cgroup("0");

	c = ct_start(true);
	v = ct_view(&c);
	cr_assert_eq(v.err_meminfo, 0, "read /proc/meminfo inside: %s", strerror(v.err_meminfo));
	cr_assert_eq(v.memtotal_kb, 262144, "MemTotal inside: %ld kB", v.memtotal_kb);
	cr_assert_eq(v.cpuinfo_cpus, 1, "processors in /proc/cpuinfo inside: %d", v.cpuinfo_cpus);
	cr_assert_eq(v.nprocs_onln, 1, "sysconf(_SC_NPROCESSORS_ONLN) inside: %ld", v.nprocs_onln);
	cr_assert_eq(v.stat_cpus, 1, "cpuN lines in /proc/stat inside: %d", v.stat_cpus);
	/* uptime is the container's: its pid namespace's init started just now */
	cr_assert(v.uptime >= 0 && v.uptime < 10, "uptime inside: %.2f s", v.uptime);
	/* what a user runs inside */
	cr_assert_eq(v.free_total_mb, 256, "`free -m` total inside: %ld", v.free_total_mb);
	cr_assert_eq(v.nproc, 1, "`nproc` inside: %ld", v.nproc);

	/* the same files read from outside the cgroup show something else */
	c = ct_start(false);
	host = ct_view(&c);
	cr_assert_eq(host.err_meminfo, 0);
	cr_assert_neq(host.memtotal_kb, 262144, "the host's /proc/meminfo is not the view");
}

Test(lxcfs, cpus_from_quota_without_cpuset)
{
	struct view v;
	struct ct c;

	need();
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		cr_skip_test("needs 2 CPUs");
	start_lxcfs();
	make_cgroup(NULL); /* every CPU allowed, one CPU of quota (--cpus 1) */
	c = ct_start(true);
	v = ct_view(&c);
	cr_assert_eq(v.memtotal_kb, 262144);
	cr_assert_eq(v.cpuinfo_cpus, 1, "processors in /proc/cpuinfo inside: %d", v.cpuinfo_cpus);
	cr_assert_eq(v.nprocs_onln, 1, "sysconf(_SC_NPROCESSORS_ONLN) inside: %ld", v.nprocs_onln);
	/* coreutils 9.1 `nproc` counts sched_getaffinity(), which no file of
	 * lxcfs changes: with a quota alone it shows every CPU */
	cr_assert_eq(v.nproc, sysconf(_SC_NPROCESSORS_ONLN), "`nproc` inside: %ld", v.nproc);
}

Test(lxcfs, killed_then_restarted)
{
	struct st_error *err = NULL;
	struct view v;
	struct ct old, fresh;
	pid_t first;
	double t0;

	need();
	start_lxcfs();
	make_cgroup("0");
	old = ct_start(true);
	v = ct_view(&old);
	cr_assert_eq(v.memtotal_kb, 262144);

	/* lxcfs dies: the mount stays, every read on it fails with ENOTCONN */
	first = lxcfs_pid(lx);
	cr_assert_eq(kill(first, SIGKILL), 0);
	wait_pidfd(lxcfs_pidfd(lx));
	cr_assert_not(lxcfs_healthy(lx));
	v = ct_view(&old);
	cr_assert_eq(v.err_meminfo, ENOTCONN, "read inside after lxcfs died: %s",
		     strerror(v.err_meminfo));

	/* the daemon's recovery: a new lxcfs on the same mountpoint */
	t0 = now_ms();
	cr_assert_eq(lxcfs_restart(lx, &err), 0, "restart: %s", err ? err->msg : "?");
	cr_log_info("lxcfs_restart: %.1f ms", now_ms() - t0);
	cr_assert(lxcfs_healthy(lx));
	cr_assert_neq(lxcfs_pid(lx), first);

	/* new containers are served */
	fresh = ct_start(true);
	v = ct_view(&fresh);
	cr_assert_eq(v.err_meminfo, 0, "new reader after restart: %s", strerror(v.err_meminfo));
	cr_assert_eq(v.memtotal_kb, 262144);

	/* a running one keeps the dead binds until they are replaced */
	v = ct_view(&old);
	cr_assert_eq(v.err_meminfo, ENOTCONN);
	/* ...and lxcfs_rebind replaces them in its mount namespace */
	t0 = now_ms();
	cr_assert_eq(lxcfs_rebind(lx, old.pid, &err), 0, "rebind: %s", err ? err->msg : "?");
	cr_log_info("lxcfs_rebind: %.1f ms", now_ms() - t0);
	v = ct_view(&old);
	cr_assert_eq(v.err_meminfo, 0, "read inside after rebind: %s", strerror(v.err_meminfo));
	cr_assert_eq(v.memtotal_kb, 262144);
	cr_assert_eq(v.cpuinfo_cpus, 1);
}

Test(lxcfs, adopt_after_daemon_restart)
{
	struct st_error *err = NULL;
	char line[1024];
	bool mounted = false;
	FILE *f;
	pid_t pid;

	need();
	start_lxcfs();
	pid = lxcfs_pid(lx);
	/* the daemon exits without stopping lxcfs; the next one adopts it */
	lxcfs_free(lx);
	lx = NULL;
	cr_assert_eq(kill(pid, 0), 0, "lxcfs outlives the handle");
	cr_assert_eq(lxcfs_start(mnt, &lx, &err), 0, "start: %s", err ? err->msg : "?");
	cr_assert_eq(lxcfs_pid(lx), pid, "adopted the running lxcfs");
	cr_assert(lxcfs_healthy(lx));

	/* stop: the process and the mount are gone */
	lxcfs_stop(lx);
	lx = NULL;
	for (int i = 0; i < 100 && kill(pid, 0) == 0; i++)
		usleep(10000);
	cr_assert_neq(kill(pid, 0), 0, "lxcfs %d still running after stop", (int)pid);
	f = fopen("/proc/self/mountinfo", "re");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, mnt))
			mounted = true;
	fclose(f);
	cr_assert_not(mounted, "%s still mounted after stop", mnt);
}

Test(lxcfs, dead_mount_left_behind)
{
	struct st_error *err = NULL;
	pid_t pid;

	need();
	start_lxcfs();
	pid = lxcfs_pid(lx);
	/* lxcfs and the daemon both died: a dead mount is left */
	kill(pid, SIGKILL);
	wait_pidfd(lxcfs_pidfd(lx));
	lxcfs_free(lx);
	lx = NULL;
	waitpid(pid, NULL, 0);
	cr_assert_eq(lxcfs_start(mnt, &lx, &err), 0, "start over a dead mount: %s",
		     err ? err->msg : "?");
	cr_assert_neq(lxcfs_pid(lx), pid);
	cr_assert(lxcfs_healthy(lx));
}
