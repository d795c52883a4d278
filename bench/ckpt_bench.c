/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ckpt_bench: suspend/resume figures of runtime/checkpoint.c (bench/checkpoint.sh
 * drives it; root).
 *
 *   ckpt_bench ct MIB ITER GUEST [LOGLEVEL]
 *       a container shaped like the integration tests' (overlay root over a
 *       busybox rootfs under /tmp/stcriu-bench-*, cgroup stcriu-test-<pid>,
 *       new pid/mount/uts/ipc/net/cgroup namespaces, a veth, seccomp, the
 *       default bounding set) running GUEST (ckpt_guest) with MIB MiB
 *       touched; ITER suspend/resume cycles, each checked (counter goes on,
 *       memory checksum intact); one line per step, then medians:
 *       RESULT mib=.. suspend_ms=.. frozen_ms=.. criu_frozen_ms=..
 *              resume_ms=.. image_mib=..
 *       (CKPT_BENCH_DEBUG=1: runtime/checkpoint.c's debug lines too)
 *   ckpt_bench memcpy MIB
 *       memcpy bandwidth over a MIB MiB buffer (already touched), GiB/s
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/netlink.h"
#include "ksal/spawn.h"
#include "ksal/syscalls.h"
#include "runtime/checkpoint.h"
#include "tests/helpers/testutil.h"

static char *g_dir, *g_root, *g_images, g_subtree[64];
static struct ksal_cgroup_mgr *g_mgr;
static struct ksal_cgroup *g_cg;
static int g_pidfd = -1;
static pid_t g_pid = -1;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int rm_entry(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	return type == FTW_DP ? rmdir(p) : unlink(p);
}

static void cleanup(void)
{
	if (g_pidfd >= 0)
		pidfd_send_signal(g_pidfd, SIGKILL, NULL, 0);
	if (g_cg) {
		ksal_cgroup_kill_all(g_cg, 5000, NULL);
		ksal_cgroup_destroy(g_cg, NULL);
		ksal_cgroup_free(g_cg);
	}
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (g_mgr) {
		ksal_cgroup_mgr_remove_subtree(g_mgr);
		ksal_cgroup_mgr_free(g_mgr);
	}
	if (g_root)
		umount2(g_root, MNT_DETACH);
	if (g_dir)
		nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static void die(const char *what, struct st_error *e)
{
	fprintf(stderr, "ckpt_bench: %s: %s\n", what, e ? e->msg : strerror(errno));
	cleanup();
	exit(1);
}

static int copy_file(const char *from, const char *to)
{
	_cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	char buf[65536];
	ssize_t n;

	if (in < 0 || out < 0)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			return -1;
	return n < 0 ? -1 : 0;
}

static int hook(pid_t pid, int pidfd, void *data, struct st_error **err)
{
	struct ksal_nl *nl = NULL, *ct = NULL;
	struct ksal_ipaddr h, c;
	_cleanup_close_ int nsfd = -EBADF;
	char p[64];
	int r = 0;

	(void)pidfd;
	(void)data;
	if (ksal_cgroup_clone_fd(g_cg) < 0 && ksal_cgroup_attach(g_cg, pid, err) < 0)
		return -1;
	snprintf(p, sizeof(p), "/proc/%d/ns/net", (int)pid);
	nsfd = open(p, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || ksal_ipaddr_parse("10.93.9.1/24", &h, err) < 0 ||
	    ksal_ipaddr_parse("10.93.9.2/24", &c, err) < 0 || ksal_nl_open(&nl, err) < 0)
		return -1;
	if (ksal_veth_create(nl, "stcr9390h", "eth0", nsfd, err) < 0 ||
	    ksal_addr_add(nl, "stcr9390h", &h, err) < 0 ||
	    ksal_link_set_up(nl, "stcr9390h", true, err) < 0)
		r = -1;
	ksal_nl_close(nl);
	if (r < 0 || ksal_nl_open_netns(nsfd, &ct, err) < 0)
		return -1;
	if (ksal_link_set_up(ct, "lo", true, err) < 0 || ksal_addr_add(ct, "eth0", &c, err) < 0 ||
	    ksal_link_set_up(ct, "eth0", true, err) < 0)
		r = -1;
	ksal_nl_close(ct);
	return r;
}

static char *read_root(const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", g_root, name);
	return tu_read_file(p);
}

static long counter(void)
{
	_cleanup_free_ char *s = read_root("counter");
	return s ? strtol(s, NULL, 10) : -1;
}

static bool memory_intact(void)
{
	_cleanup_free_ char *want = read_root("mem.expected");
	char req[512], now[512];

	snprintf(req, sizeof(req), "%s/mem.req", g_root);
	snprintf(now, sizeof(now), "%s/mem.now", g_root);
	unlink(now);
	tu_write_file(req, "1\n");
	for (int i = 0; i < 3000; i++) {
		_cleanup_free_ char *got = tu_read_file(now);
		if (got && access(req, F_OK) < 0)
			return want && !strcmp(got, want);
		sleep_ms(10);
	}
	return false;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int bench_ct(int mib, int iter, const char *guest, int log_level)
{
	char mibs[16], *argv[] = { "/sbin/ckpt_guest", mibs, "0", NULL };
	char *envp[] = { "PATH=/sbin:/bin", NULL };
	char lower[512], upper[512], work[512], opts[2048], gpath[600];
	struct ksal_spawn_cfg cfg = { 0 };
	struct ksal_spawned sp;
	struct st_error *e = NULL;
	struct ksal_nl *nl = NULL;
	int seccomp = -1;
	double *sus = calloc((size_t)iter, sizeof(double)),
	       *fro = calloc((size_t)iter, sizeof(double));
	double *cfro = calloc((size_t)iter, sizeof(double)),
	       *res = calloc((size_t)iter, sizeof(double));
	double img = 0;

	if (!sus || !fro || !cfro || !res)
		die("calloc", NULL);
	if (getenv("CKPT_BENCH_DEBUG")) /* runtime/checkpoint.c's debug lines */
		st_log_set_level(ST_LOG_DEBUG);
	snprintf(mibs, sizeof(mibs), "%d", mib);
	snprintf(g_subtree, sizeof(g_subtree), "stcriu-test-%d", (int)getpid());
	if (unshare(CLONE_NEWNET) < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		die("unshare/subreaper", NULL);
	if (ksal_nl_open(&nl, &e) < 0 || ksal_link_set_up(nl, "lo", true, &e) < 0)
		die("lo up", e);
	ksal_nl_close(nl);
	g_dir = tu_tmpdir("stcriu-bench");
	if (!g_dir)
		die("tmpdir", NULL);
	chmod(g_dir, 0755);
	snprintf(lower, sizeof(lower), "%s/lower", g_dir);
	snprintf(upper, sizeof(upper), "%s/upper", g_dir);
	snprintf(work, sizeof(work), "%s/work", g_dir);
	snprintf(gpath, sizeof(gpath), "%s/sbin/ckpt_guest", lower);
	if (asprintf(&g_root, "%s/merged", g_dir) < 0 ||
	    asprintf(&g_images, "%s/dumps/9390", g_dir) < 0)
		die("asprintf", NULL);
	if (tu_mkrootfs(lower) < 0 || copy_file(guest, gpath) < 0 || mkdir(upper, 0755) < 0 ||
	    mkdir(work, 0755) < 0 || mkdir(g_root, 0755) < 0)
		die("rootfs", NULL);
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
	if (mount("overlay", g_root, "overlay", 0, opts) < 0)
		die("mount overlay", NULL);
	if (ksal_cgroup_mgr_new(NULL, g_subtree, &g_mgr, &e) < 0 ||
	    ksal_cgroup_create(g_mgr, "9390", &g_cg, &e) < 0 ||
	    ksal_seccomp_default(&seccomp, &e) < 0)
		die("cgroup", e);
	cfg.rootfs = g_root;
	cfg.hostname = "ct9390";
	cfg.argv = argv;
	cfg.envp = envp;
	cfg.new_net = true;
	cfg.cgroup_fd = ksal_cgroup_clone_fd(g_cg);
	cfg.parent_hook = hook;
	cfg.cap_drop = ksal_cap_default_drop();
	cfg.seccomp_fd = seccomp;
	cfg.stdio[0] = cfg.stdio[1] = cfg.stdio[2] = -1;
	cfg.console_fd = -1;
	if (ksal_spawn(&cfg, &sp, &e) < 0)
		die("spawn", e);
	g_pid = sp.pid;
	g_pidfd = sp.pidfd;
	for (int i = 0; i < 3000; i++) {
		_cleanup_free_ char *m = read_root("mem.expected");
		if (m && counter() >= 2)
			break;
		sleep_ms(10);
	}
	for (int i = 0; i < iter; i++) {
		struct ct_ckpt_params p = { .ctid = "9390",
					    .init_pid = g_pid,
					    .root = g_root,
					    .cg = g_cg,
					    .images_dir = g_images,
					    .veth_ct = "eth0",
					    .veth_host = "stcr9390h",
					    .log_level = log_level,
					    .timeout_ms = 120000 };
		struct ct_ckpt_result r;
		siginfo_t si;
		long before, after;

		sleep_ms(300);
		if (ct_checkpoint_dump(&p, &r, &e) < 0)
			die("suspend", e);
		waitid(P_PIDFD, (id_t)g_pidfd, &si, WEXITED);
		close(g_pidfd);
		g_pidfd = -1;
		sus[i] = r.total_ms;
		fro[i] = r.frozen_ms;
		cfro[i] = (double)r.frozen_us / 1000;
		img = (double)r.image_bytes / 1048576.0;
		printf("suspend %d: total %.1f ms, freeze %.1f ms, CRIU %.1f ms, sync %.1f ms, "
		       "frozen %.1f ms "
		       "(CRIU: freezing %.1f, frozen %.1f, memdump %.1f, memwrite %.1f ms), "
		       "%llu pages, image %.1f MiB\n",
		       i, r.total_ms, r.freeze_ms, r.criu_ms, r.sync_ms, r.frozen_ms,
		       (double)r.freezing_us / 1000, (double)r.frozen_us / 1000,
		       (double)r.memdump_us / 1000, (double)r.memwrite_us / 1000,
		       (unsigned long long)r.pages, img);
		before = counter();
		/* as stratad does it: the suspended container's cgroups go with
		 * it, a resume makes them anew (outside the timing) */
		if (ksal_cgroup_destroy(g_cg, &e) < 0)
			die("destroy cgroup", e);
		ksal_cgroup_free(g_cg);
		g_cg = NULL;
		if (ksal_cgroup_create(g_mgr, "9390", &g_cg, &e) < 0)
			die("create cgroup", e);
		p.cg = g_cg;
		if (ct_checkpoint_restore(&p, &r, &e) < 0)
			die("resume", e);
		g_pid = r.pid;
		g_pidfd = r.pidfd;
		res[i] = r.total_ms;
		printf("resume %d: total %.1f ms, CRIU %.1f ms (CRIU: forking %.1f, restore %.1f ms), "
		       "%llu pages\n",
		       i, r.total_ms, r.criu_ms, (double)r.freezing_us / 1000,
		       (double)r.frozen_us / 1000, (unsigned long long)r.pages);
		if (ksal_nl_open(&nl, &e) < 0 || ksal_link_set_up(nl, "stcr9390h", true, &e) < 0)
			die("veth up", e);
		ksal_nl_close(nl);
		sleep_ms(250);
		after = counter();
		if (after <= before || !memory_intact()) {
			fprintf(stderr, "ckpt_bench: cycle %d: counter %ld -> %ld, memory %s\n", i,
				before, after, "checked");
			cleanup();
			return 1;
		}
		fflush(stdout);
	}
	printf("RESULT mib=%d iter=%d suspend_ms=%.1f frozen_ms=%.1f criu_frozen_ms=%.1f "
	       "resume_ms=%.1f image_mib=%.1f\n",
	       mib, iter, median(sus, iter), median(fro, iter), median(cfro, iter),
	       median(res, iter), img);
	cleanup();
	free(sus);
	free(fro);
	free(cfro);
	free(res);
	return 0;
}

static int bench_memcpy(int mib)
{
	size_t len = (size_t)mib << 20;
	char *a = malloc(len), *b = malloc(len);
	double best = 0;

	if (!a || !b)
		return 1;
	memset(a, 1, len);
	memset(b, 2, len);
	for (int i = 0; i < 5; i++) {
		double t = now_ms(), gibs;

		memcpy(b, a, len);
		t = now_ms() - t;
		gibs = (double)mib / 1024.0 / (t / 1000.0);
		if (gibs > best)
			best = gibs;
		a[i] = b[len - 1 - (size_t)i]; /* keep the copies alive */
	}
	printf("RESULT memcpy_gibs=%.2f\n", best);
	free(a);
	free(b);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "ct"))
		return bench_ct(atoi(argv[2]), atoi(argv[3]), argv[4],
				argc > 5 ? atoi(argv[5]) : 0);
	if (argc >= 3 && !strcmp(argv[1], "memcpy"))
		return bench_memcpy(atoi(argv[2]));
	fprintf(stderr, "usage: ckpt_bench ct MIB ITER GUEST [LOGLEVEL] | memcpy MIB\n");
	return 2;
}
