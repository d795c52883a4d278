/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Checkpoint and restore (runtime/checkpoint.c) against the real kernel and
 * the CRIU of scripts/deps.sh (root only). Each test:
 *   - runs in a private network namespace of its own (the "host": veth host
 *     ends and the TCP client live there and die with the test process),
 *   - is a child subreaper, so a restored init becomes its child,
 *   - builds a busybox-shaped rootfs (tu_mkrootfs + tests/helpers/ckpt_guest)
 *     under /tmp/stcriu-*, an overlayfs root over it, cgroups under
 *     "stcriu-test-<pid>", and a container 93xx started with ksal_spawn (new
 *     pid, mount, uts, ipc, net, cgroup namespaces, the default bounding set
 *     and seccomp filter, setsid init),
 * and undoes all of it in .fini, pass or fail.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cow-fs/cowfs.h"
#include "ksal/cgroup.h"
#include "ksal/cleanup.h"
#include "ksal/netlink.h"
#include "ksal/spawn.h"
#include "ksal/syscalls.h"
#include "runtime/checkpoint.h"
#include "tests/helpers/testutil.h"

#define USERNS_BASE 3930000000u
#define USERNS_COUNT 65536u
#define TCP_PORT 7001

/* What a test owns; teardown() undoes all of it. */
static char *g_dir;  /* /tmp/stcriu-XXXXXX */
static char *g_root; /* g_dir/merged: overlay of upper over lower */
static char *g_dumps;
static char g_subtree[64];
static char g_ctid[16] = "9301";
static char g_veth[16];
static struct ksal_cgroup_mgr *g_mgr;
static struct ksal_cgroup *g_cg;
static int g_pidfd = -1;
static pid_t g_pid = -1;
static int g_seccomp = -1;
static int g_ptys[4] = { -1, -1, -1, -1 }; /* masters and slaves we opened */
static int g_console = -1;		   /* slave given to the container, -1: none */
static bool g_tmpfs;			   /* g_dir/small mounted */
static bool g_composed;			   /* g_root composed by cow-fs */
static struct cowfs_layer_ref g_layer_ref; /* a template image mounted (systemd test) */

static void die_msg(struct st_error *e)
{
	char msg[2048];

	snprintf(msg, sizeof(msg), "%s", e ? e->msg : "(no message)");
	if (e)
		st_error_free(e);
	cr_assert_fail("%s", msg);
}

static int rm_entry(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	if (type == FTW_DP)
		return rmdir(p);
	return unlink(p);
}

static char *path_in(const char *dir, const char *name)
{
	char *p;

	cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static void kill_ct(void)
{
	if (g_pidfd >= 0) {
		siginfo_t si;

		pidfd_send_signal(g_pidfd, SIGKILL, NULL, 0);
		waitid(P_PIDFD, (id_t)g_pidfd, &si, WEXITED | WNOHANG);
		close(g_pidfd);
		g_pidfd = -1;
	}
	if (g_cg && !ksal_cgroup_is_empty(g_cg))
		ksal_cgroup_kill_all(g_cg, 5000, NULL);
	/* reap whatever was reparented to us */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	g_pid = -1;
}

static void teardown(void)
{
	kill_ct();
	if (g_cg) {
		ksal_cgroup_destroy(g_cg, NULL);
		ksal_cgroup_free(g_cg);
		g_cg = NULL;
	}
	if (g_mgr) {
		ksal_cgroup_mgr_remove_subtree(g_mgr); /* its top directory everywhere */
		ksal_cgroup_mgr_free(g_mgr);
		g_mgr = NULL;
	}
	if (g_composed) {
		cowfs_root_decompose(g_root, NULL);
		g_composed = false;
	}
	if (g_root) {
		umount2(g_root, MNT_DETACH);
		free(g_root);
		g_root = NULL;
	}
	if (g_layer_ref.mnt_dir) {
		umount2(g_root ? g_root : "/nonexistent", MNT_DETACH);
		cowfs_layer_release(&g_layer_ref, NULL);
		free((char *)g_layer_ref.mnt_dir);
		free((char *)g_layer_ref.image);
		memset(&g_layer_ref, 0, sizeof(g_layer_ref));
	}
	if (g_tmpfs) {
		_cleanup_free_ char *s = path_in(g_dir, "small");
		umount2(s, MNT_DETACH);
		g_tmpfs = false;
	}
	if (g_dir && getenv("STCRIU_KEEP")) { /* debugging: keep images and logs */
		fprintf(stderr, "kept %s\n", g_dir);
	} else if (g_dir) {
		nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
		free(g_dir);
		g_dir = NULL;
	}
	free(g_dumps);
	g_dumps = NULL;
	if (g_seccomp >= 0)
		close(g_seccomp);
	g_seccomp = -1;
	for (size_t i = 0; i < ARRAY_SIZE(g_ptys); i++)
		if (g_ptys[i] >= 0) {
			close(g_ptys[i]);
			g_ptys[i] = -1;
		}
	g_console = -1;
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
	_cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	char buf[65536];
	ssize_t n;

	if (in < 0 || out < 0)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			return -1;
	return n < 0 ? -1 : 0;
}

static uid_t g_chown_to;
static int chown_entry(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)type;
	(void)f;
	return lchown(p, g_chown_to, g_chown_to);
}

static void setup(void)
{
	_cleanup_free_ char *lower = NULL, *upper = NULL, *work = NULL, *opts = NULL;
	_cleanup_free_ char *guest = NULL;
	struct st_error *e = NULL;

	if (!tu_is_root())
		cr_skip_test("needs root");
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare a private netns: %s", strerror(errno));
	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	{
		/* CRIU probes TCP repair over the loopback of its netns */
		struct ksal_nl *nl = NULL;
		if (ksal_nl_open(&nl, &e) < 0 || ksal_link_set_up(nl, "lo", true, &e) < 0)
			die_msg(e);
		ksal_nl_close(nl);
	}
	snprintf(g_subtree, sizeof(g_subtree), "stcriu-test-%d", (int)getpid());
	snprintf(g_veth, sizeof(g_veth), "stcr%.6sh", g_ctid);

	g_dir = tu_tmpdir("stcriu");
	cr_assert_not_null(g_dir);
	chmod(g_dir, 0755);
	lower = path_in(g_dir, "lower");
	upper = path_in(g_dir, "upper");
	work = path_in(g_dir, "work");
	g_root = path_in(g_dir, "merged");
	g_dumps = path_in(g_dir, "dumps");
	cr_assert_eq(tu_mkrootfs(lower), 0);
	guest = path_in(lower, "sbin/ckpt_guest");
	cr_assert_eq(copy_file(CKPT_GUEST_PATH, guest, 0755), 0, "copy %s", CKPT_GUEST_PATH);
	cr_assert_eq(mkdir(upper, 0755), 0);
	cr_assert_eq(mkdir(work, 0755), 0);
	cr_assert_eq(mkdir(g_root, 0755), 0);
	cr_assert(asprintf(&opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work) > 0);
	if (mount("overlay", g_root, "overlay", 0, opts) < 0) {
		int en = errno;
		cr_assert_fail("mount overlay on `%s`: %s", g_root, strerror(en));
	}
	if (ksal_cgroup_mgr_new(NULL, g_subtree, &g_mgr, &e) < 0 ||
	    ksal_cgroup_create(g_mgr, g_ctid, &g_cg, &e) < 0)
		die_msg(e);
	if (ksal_seccomp_default(&g_seccomp, &e) < 0)
		die_msg(e);
}

/* ---- the container ---- */

struct hook {
	bool net;
};

static int parent_hook(pid_t pid, int pidfd, void *data, struct st_error **err)
{
	struct hook *h = data;
	struct ksal_nl *nl = NULL, *ctnl = NULL;
	struct ksal_ipaddr host_a, ct_a;
	_cleanup_close_ int nsfd = -EBADF;
	char p[64];
	int r = 0;

	(void)pidfd;
	if (ksal_cgroup_clone_fd(g_cg) < 0 && ksal_cgroup_attach(g_cg, pid, err) < 0)
		return -1;
	if (!h->net)
		return 0;
	snprintf(p, sizeof(p), "/proc/%d/ns/net", (int)pid);
	nsfd = open(p, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return st_error_set(err, errno, "open `%s`", p);
	if (ksal_ipaddr_parse("10.93.1.1/24", &host_a, err) < 0 ||
	    ksal_ipaddr_parse("10.93.1.2/24", &ct_a, err) < 0)
		return -1;
	if (ksal_nl_open(&nl, err) < 0)
		return -1;
	if (ksal_veth_create(nl, g_veth, "eth0", nsfd, err) < 0 ||
	    ksal_addr_add(nl, g_veth, &host_a, err) < 0 ||
	    ksal_link_set_up(nl, g_veth, true, err) < 0)
		r = -1;
	ksal_nl_close(nl);
	if (r < 0)
		return r;
	if (ksal_nl_open_netns(nsfd, &ctnl, err) < 0)
		return -1;
	if (ksal_link_set_up(ctnl, "lo", true, err) < 0 ||
	    ksal_addr_add(ctnl, "eth0", &ct_a, err) < 0 ||
	    ksal_link_set_up(ctnl, "eth0", true, err) < 0)
		r = -1;
	ksal_nl_close(ctnl);
	return r;
}

static void start_ct(int mib, bool net, bool userns)
{
	char mibs[16], port[16];
	char *argv[] = { "/sbin/ckpt_guest", mibs, port, NULL };
	char *envp[] = { "PATH=/sbin:/bin", NULL };
	struct ksal_idmap map = { 0, USERNS_BASE, USERNS_COUNT };
	struct hook h = { .net = net };
	struct ksal_spawn_cfg cfg = { 0 };
	struct ksal_spawned sp = { 0 };
	struct st_error *e = NULL;

	snprintf(mibs, sizeof(mibs), "%d", mib);
	snprintf(port, sizeof(port), "%d", net ? TCP_PORT : 0);
	if (userns) {
		_cleanup_free_ char *upper = path_in(g_dir, "upper");
		_cleanup_free_ char *lower = path_in(g_dir, "lower");
		g_chown_to = USERNS_BASE;
		cr_assert_eq(nftw(lower, chown_entry, 16, FTW_PHYS), 0);
		cr_assert_eq(nftw(upper, chown_entry, 16, FTW_PHYS), 0);
		cr_assert_eq(lchown(g_root, USERNS_BASE, USERNS_BASE), 0);
		if (ksal_cgroup_delegate(g_cg, USERNS_BASE, USERNS_BASE, &e) < 0)
			die_msg(e);
	}
	cfg.rootfs = g_root;
	cfg.hostname = "ct9301";
	cfg.argv = argv;
	cfg.envp = envp;
	cfg.new_net = true;
	cfg.userns = userns;
	cfg.uid_map = cfg.gid_map = userns ? &map : NULL;
	cfg.n_uid_map = cfg.n_gid_map = userns ? 1 : 0;
	cfg.cgroup_fd = ksal_cgroup_clone_fd(g_cg);
	cfg.parent_hook = parent_hook;
	cfg.hook_data = &h;
	cfg.cap_drop = ksal_cap_default_drop();
	cfg.seccomp_fd = g_seccomp;
	cfg.stdio[0] = cfg.stdio[1] = cfg.stdio[2] = g_console;
	cfg.console_fd = g_console;
	if (ksal_spawn(&cfg, &sp, &e) < 0)
		die_msg(e);
	g_pid = sp.pid;
	g_pidfd = sp.pidfd;
}

static char *root_file(const char *name)
{
	_cleanup_free_ char *p = path_in(g_root, name);
	return tu_read_file(p);
}

static long read_counter(void)
{
	_cleanup_free_ char *s = root_file("counter");
	return s ? strtol(s, NULL, 10) : -1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Wait until the guest is ready: memory filled, counter past `min`. */
static void wait_ready(long min)
{
	for (int i = 0; i < 600; i++) {
		_cleanup_free_ char *m = root_file("mem.expected");
		if (m && read_counter() >= min)
			return;
		sleep_ms(50);
	}
	cr_assert_fail("the guest did not come up (counter %ld)", read_counter());
}

/* Ask the guest to checksum its memory again; compare with the first one. */
static void assert_memory_intact(void)
{
	_cleanup_free_ char *req = path_in(g_root, "mem.req");
	_cleanup_free_ char *now_p = path_in(g_root, "mem.now");
	_cleanup_free_ char *want = root_file("mem.expected");

	unlink(now_p);
	cr_assert_eq(tu_write_file(req, "1\n"), 0);
	for (int i = 0; i < 500; i++) {
		_cleanup_free_ char *now = tu_read_file(now_p);
		if (now && access(req, F_OK) < 0) {
			cr_assert_str_eq(now, want, "memory checksum after restore: %s, before: %s",
					 now, want);
			return;
		}
		sleep_ms(20);
	}
	cr_assert_fail("the guest did not checksum its memory");
}

static bool pidfd_exited(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, ms) == 1;
}

static void params_init(struct ct_ckpt_params *p, const char *images, bool net)
{
	memset(p, 0, sizeof(*p));
	p->ctid = g_ctid;
	p->init_pid = g_pid;
	p->root = g_root;
	p->cg = g_cg;
	p->images_dir = images;
	p->timeout_ms = 60000;
	p->console_fd = g_console;
	if (net) {
		p->veth_ct = "eth0";
		p->veth_host = g_veth;
	}
}

/* Suspend: the tree is gone and the cgroup empty; the images complete. */
static void do_suspend(const char *images, bool net, struct ct_ckpt_result *r)
{
	struct ct_ckpt_params p;
	struct st_error *e = NULL;
	siginfo_t si = { 0 };

	params_init(&p, images, net);
	if (ct_checkpoint_dump(&p, r, &e) < 0)
		die_msg(e);
	cr_assert(pidfd_exited(g_pidfd, 2000), "the init still runs after the dump");
	cr_assert_eq(waitid(P_PIDFD, (id_t)g_pidfd, &si, WEXITED), 0);
	cr_assert(ksal_cgroup_is_empty(g_cg), "tasks left in the cgroup after the dump");
	cr_assert(ct_checkpoint_exists(images));
	close(g_pidfd);
	g_pidfd = -1;
	g_pid = -1;
}

static void do_resume(const char *images, bool net, struct ct_ckpt_result *r)
{
	struct ct_ckpt_params p;
	struct st_error *e = NULL;

	params_init(&p, images, net);
	if (ct_checkpoint_restore(&p, r, &e) < 0)
		die_msg(e);
	cr_assert_gt(r->pid, 0);
	cr_assert_geq(r->pidfd, 0);
	g_pid = r->pid;
	g_pidfd = r->pidfd;
	cr_assert(!pidfd_exited(g_pidfd, 0), "the restored init is not running");
	cr_assert(!ksal_cgroup_is_empty(g_cg), "the restored tasks are not in the cgroup");
	/* restored detached, reparented to us (the subreaper) */
	{
		_cleanup_free_ char *stat = NULL;
		char p2[64];
		int ppid = -1;

		snprintf(p2, sizeof(p2), "/proc/%d/stat", (int)g_pid);
		stat = tu_read_file(p2);
		cr_assert_not_null(stat);
		cr_assert_eq(sscanf(strrchr(stat, ')') + 2, "%*c %d", &ppid), 1);
		cr_assert_eq(ppid, getpid(), "restored init's parent is %d, not us", ppid);
	}
}

static void cycle(const char *images, bool net, int n)
{
	long before, after;
	struct ct_ckpt_result r;

	before = read_counter();
	do_suspend(images, net, &r);
	cr_log_info(
		"cycle %d: suspend %.0f ms (CRIU %.0f, frozen %.0f ms, CRIU stats frozen %.0f ms), %llu bytes",
		n, r.total_ms, r.criu_ms, r.frozen_ms, (double)r.frozen_us / 1000,
		(unsigned long long)r.image_bytes);
	before = read_counter(); /* its last value before the tree died */
	sleep_ms(300);
	cr_assert_eq(read_counter(), before, "the counter moves while suspended");
	do_resume(images, net, &r);
	cr_log_info("cycle %d: resume %.0f ms (CRIU %.0f ms)", n, r.total_ms, r.criu_ms);
	sleep_ms(500);
	after = read_counter();
	cr_assert(after > before && after <= before + 20,
		  "cycle %d: counter %ld before suspend, %ld after resume (restarted?)", n, before,
		  after);
	assert_memory_intact();
}

TestSuite(checkpoint, .init = setup, .fini = teardown, .timeout = 240);

Test(checkpoint, counter_and_256mib_survive_three_cycles)
{
	_cleanup_free_ char *images = path_in(g_dumps, g_ctid);

	start_ct(256, false, false);
	wait_ready(5);
	for (int i = 1; i <= 3; i++)
		cycle(images, false, i);
}

/* ---- TCP ---- */

static int connect_ct(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(TCP_PORT) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(s, 0);
	inet_pton(AF_INET, "10.93.1.2", &a.sin_addr);
	for (int i = 0; i < 100; i++) {
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
			return s;
		sleep_ms(50);
	}
	cr_assert_fail("connect to the container: %s", strerror(errno));
	return -1;
}

static void ping(int s, const char *msg)
{
	char buf[256], want[256];
	size_t got = 0;

	snprintf(want, sizeof(want), "echo:%s", msg);
	cr_assert_eq(write(s, msg, strlen(msg)), (ssize_t)strlen(msg));
	while (got < strlen(want)) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		ssize_t n;

		cr_assert_eq(poll(&p, 1, 15000), 1, "no answer to `%s`", msg);
		n = read(s, buf + got, sizeof(buf) - 1 - got);
		cr_assert_gt(n, 0, "connection closed waiting for `%s`", want);
		got += (size_t)n;
	}
	buf[got] = '\0';
	cr_assert_str_eq(buf, want);
}

/* What the daemon does after a restore: the host end is new, bare and down. */
static void reconnect_host_side(void)
{
	struct ksal_nl *nl = NULL;
	struct ksal_ipaddr a;
	struct st_error *e = NULL;

	if (ksal_nl_open(&nl, &e) < 0 || ksal_ipaddr_parse("10.93.1.1/24", &a, &e) < 0 ||
	    ksal_addr_add(nl, g_veth, &a, &e) < 0 || ksal_link_set_up(nl, g_veth, true, &e) < 0)
		die_msg(e);
	ksal_nl_close(nl);
}

Test(checkpoint, established_tcp_survives)
{
	_cleanup_free_ char *images = path_in(g_dumps, g_ctid);
	struct ct_ckpt_result r;
	_cleanup_close_ int s = -EBADF;

	start_ct(16, true, false);
	wait_ready(1);
	s = connect_ct();
	ping(s, "before");
	for (int i = 1; i <= 2; i++) {
		char msg[32];

		do_suspend(images, true, &r);
		do_resume(images, true, &r);
		reconnect_host_side();
		snprintf(msg, sizeof(msg), "after-%d", i);
		ping(s, msg);
	}
	assert_memory_intact();
}

/* ---- a dump that fails ---- */

Test(checkpoint, failed_dump_leaves_it_running_and_a_retry_works)
{
	_cleanup_free_ char *small = path_in(g_dir, "small");
	_cleanup_free_ char *bad = path_in(small, g_ctid);
	_cleanup_free_ char *good = path_in(g_dumps, g_ctid);
	struct ct_ckpt_params p;
	struct ct_ckpt_result r;
	struct st_error *e = NULL;
	long c0, c1;

	/* an image dir that fills up half way through the memory */
	cr_assert_eq(mkdir(small, 0755), 0);
	cr_assert_eq(mount("tmpfs", small, "tmpfs", 0, "size=8m"), 0);
	g_tmpfs = true;
	start_ct(64, false, false);
	wait_ready(3);

	params_init(&p, bad, false);
	cr_assert_lt(ct_checkpoint_dump(&p, &r, &e), 0, "a dump into 8 MiB succeeded");
	cr_assert_not_null(e);
	cr_log_info("expected failure: %s", e->msg);
	cr_assert_eq(e->exit_code, ST_EXIT_CHKPNT);
	cr_assert(strstr(e->msg, "CRIU dump failed"), "%s", e->msg);
	cr_assert(!ct_checkpoint_exists(bad));
	st_error_free(e);
	e = NULL;

	/* still running, thawed, nothing lost */
	cr_assert(!pidfd_exited(g_pidfd, 0), "the container died with the failed dump");
	c0 = read_counter();
	sleep_ms(400);
	c1 = read_counter();
	cr_assert_gt(c1, c0, "the counter stopped after a failed dump (frozen?)");
	assert_memory_intact();

	/* a second failure: the image dir's parent is read-only */
	cr_assert_eq(mount(NULL, small, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);
	cr_assert_lt(ct_checkpoint_dump(&p, &r, &e), 0);
	cr_log_info("expected failure: %s", e->msg);
	st_error_free(e);
	e = NULL;
	cr_assert(!pidfd_exited(g_pidfd, 0));

	/* and the retry somewhere sane works */
	cycle(good, false, 1);
}

/* ---- a restore that fails, then works ---- */

Test(checkpoint, failed_restore_keeps_images_and_a_retry_works)
{
	_cleanup_free_ char *images = path_in(g_dumps, g_ctid);
	struct ct_ckpt_params p;
	struct ct_ckpt_result r;
	struct st_error *e = NULL;
	struct ksal_nl *nl = NULL;
	_cleanup_close_ int s = -EBADF;

	start_ct(16, true, false);
	wait_ready(3);
	s = connect_ct();
	ping(s, "one");
	do_suspend(images, true, &r);

	/* the host end's name is taken: CRIU cannot create the veth */
	if (ksal_nl_open(&nl, &e) < 0 || ksal_veth_create(nl, g_veth, "stcrtmp", -1, &e) < 0)
		die_msg(e);
	params_init(&p, images, true);
	cr_assert_lt(ct_checkpoint_restore(&p, &r, &e), 0, "restore over a taken veth name");
	cr_log_info("expected failure: %s", e->msg);
	cr_assert_eq(e->exit_code, ST_EXIT_RESTORE);
	st_error_free(e);
	e = NULL;
	cr_assert(ct_checkpoint_exists(images), "the images went with the failed restore");
	cr_assert(ksal_cgroup_is_empty(g_cg), "a half-restored tree was left behind");
	if (ksal_link_del(nl, g_veth, &e) < 0)
		die_msg(e);
	ksal_nl_close(nl);

	do_resume(images, true, &r);
	reconnect_host_side();
	ping(s, "two");
	assert_memory_intact();
}

/* ---- a user namespace ---- */

Test(checkpoint, user_namespace_container)
{
	_cleanup_free_ char *images = path_in(g_dumps, g_ctid);

	start_ct(32, false, true);
	wait_ready(3);
	cycle(images, false, 1);
	cycle(images, false, 2);
}

/* ---- the console ---- */

/* A new pty: its master (returned) and slave (*slave), both tracked. */
static int new_pty(int *slave)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	char *name;

	cr_assert_geq(m, 0);
	cr_assert_eq(grantpt(m), 0);
	cr_assert_eq(unlockpt(m), 0);
	name = ptsname(m);
	cr_assert_not_null(name);
	*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert_geq(*slave, 0);
	for (size_t i = 0, n = 0; i < ARRAY_SIZE(g_ptys) && n < 2; i++)
		if (g_ptys[i] < 0)
			g_ptys[i] = n++ ? *slave : m;
	return m;
}

/* Read from a pty master until `want` shows up (drains what is there). */
static bool console_says(int master, const char *want, int ms)
{
	char buf[4096];
	size_t got = 0;

	for (int waited = 0; waited < ms; waited += 50) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 50) != 1)
			continue;
		n = read(master, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			continue;
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, want))
			return true;
		if (got > sizeof(buf) / 2) { /* keep the tail */
			memmove(buf, buf + got - 64, 64);
			got = 64;
		}
	}
	return false;
}

Test(checkpoint, console_pty_is_replaced_on_resume)
{
	_cleanup_free_ char *images = path_in(g_dumps, g_ctid);
	struct ct_ckpt_result r;
	int m1, m2, s2;

	m1 = new_pty(&g_console);
	start_ct(16, false, false);
	wait_ready(3);
	cr_assert(console_says(m1, "counter", 3000), "no output on the first console");
	do_suspend(images, false, &r);

	/* the daemon gives the resumed container a console of its own */
	m2 = new_pty(&s2);
	g_console = s2;
	do_resume(images, false, &r);
	cr_assert(console_says(m2, "counter", 3000), "no output on the new console");
	sleep_ms(300);
	assert_memory_intact();
	/* and once more, from the resumed one */
	do_suspend(images, false, &r);
	do_resume(images, false, &r);
	cr_assert(console_says(m2, "counter", 3000), "no output after a second cycle");
	(void)m1;
}

/* ---- a systemd container (debian-12 template image) ---- */

/* `argv` run inside the container; its stdout, trimmed. */
static char *ct_run(char *const *argv)
{
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	struct ksal_enter_cfg cfg = { 0 };
	struct ksal_spawned sp = { 0 };
	struct st_error *e = NULL;
	char buf[512];
	size_t got = 0;
	ssize_t n;
	int p[2], null = open("/dev/null", O_RDWR | O_CLOEXEC);

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cfg.init_pidfd = g_pidfd;
	cfg.init_pid = g_pid;
	cfg.argv = argv;
	cfg.envp = envp;
	cfg.stdio[0] = null;
	cfg.stdio[1] = p[1];
	cfg.stdio[2] = null;
	cfg.seccomp_fd = -1;
	cfg.cgroup_procs_fd = -1;
	if (ksal_enter(&cfg, &sp, &e) < 0)
		die_msg(e);
	close(p[1]);
	close(null);
	while (got < sizeof(buf) - 1 && (n = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(p[0]);
	waitpid(sp.pid, NULL, 0);
	close(sp.pidfd);
	while (got && (buf[got - 1] == '\n' || buf[got - 1] == ' '))
		buf[--got] = '\0';
	return strdup(buf);
}

static char *wait_systemd(int seconds)
{
	char *argv[] = { "/bin/systemctl", "is-system-running", NULL };
	char *st = NULL;

	for (int i = 0; i < seconds * 4; i++) {
		free(st);
		st = ct_run(argv);
		if (st && (!strcmp(st, "running") || !strcmp(st, "degraded")))
			return st;
		sleep_ms(250);
	}
	return st;
}

Test(checkpoint, systemd_container)
{
	const char *img = getenv("STCRIU_DEBIAN_IMAGE");
	_cleanup_free_ char *copy = path_in(g_dir, "debian-12.sqfs");
	_cleanup_free_ char *priv = path_in(g_dir, "private");
	_cleanup_free_ char *st = NULL;
	_cleanup_free_ char *images = path_in(g_dumps, g_ctid);
	char *argv[] = { "/sbin/init", NULL };
	char *envp[] = { "container=strata", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	struct ksal_spawn_cfg cfg = { 0 };
	struct ksal_spawned sp = { 0 };
	struct ct_ckpt_result r;
	struct st_error *e = NULL;
	int m2, s2;

	if (!img)
		img = "/var/cache/strata/images/debian-12.sqfs"; /* scripts/template-cache.sh */
	if (access(img, R_OK) < 0)
		cr_skip_test("no debian-12 image at %s (STCRIU_DEBIAN_IMAGE)", img);
	cr_assert_eq(copy_file(img, copy, 0644), 0);
	/* the busybox overlay of setup() makes way for the template's */
	cr_assert_eq(umount2(g_root, 0), 0);
	g_layer_ref.image = strdup(copy);
	g_layer_ref.mnt_dir = path_in(g_dir, "layer");
	g_layer_ref.user = g_ctid;
	g_layer_ref.mode = COWFS_MOUNT_AUTO;
	if (cowfs_layer_acquire(&g_layer_ref, &e) < 0)
		die_msg(e);
	/* as the daemon does it: private area, idmapped template layer */
	{
		const char *lowers[] = { g_layer_ref.mnt_dir, NULL };
		struct cowfs_compose comp = { .lowers = lowers,
					      .private_dir = priv,
					      .target = g_root,
					      .idmap_base = USERNS_BASE,
					      .idmap_count = USERNS_COUNT };

		if (cowfs_private_create(priv, &e) < 0 || cowfs_root_compose(&comp, &e) < 0)
			die_msg(e);
		g_composed = true;
	}
	/* CRIU cannot dump a nested UTS namespace (ProtectHostname=yes of
	 * systemd-logind and others): what the template must carry */
	{
		_cleanup_free_ char *dropin = path_in(g_root, "etc/systemd/system/service.d");
		_cleanup_free_ char *conf = path_in(dropin, "10-strata-checkpoint.conf");
		_cleanup_free_ char *cmd = NULL;

		cr_assert(asprintf(&cmd, "%s", dropin) > 0);
		for (char *q = strchr(cmd + strlen(g_root) + 1, '/'); q; q = strchr(q + 1, '/')) {
			*q = '\0';
			mkdir(cmd, 0755);
			*q = '/';
		}
		mkdir(dropin, 0755);
		cr_assert_eq(tu_write_file(conf, "[Service]\nProtectHostname=no\n"), 0);
	}
	if (ksal_cgroup_delegate(g_cg, USERNS_BASE, USERNS_BASE, &e) < 0)
		die_msg(e);

	new_pty(&g_console);
	cfg.rootfs = g_root;
	cfg.hostname = "ct9301";
	cfg.argv = argv;
	cfg.envp = envp;
	cfg.new_net = true;
	cfg.cgroupfs = true;
	cfg.userns = true;
	cfg.uid_map = cfg.gid_map = &(struct ksal_idmap){ 0, USERNS_BASE, USERNS_COUNT };
	cfg.n_uid_map = cfg.n_gid_map = 1;
	cfg.cgroup_fd = ksal_cgroup_clone_fd(g_cg);
	cfg.parent_hook = parent_hook;
	cfg.hook_data = &(struct hook){ .net = false };
	cfg.cap_drop = ksal_cap_default_drop();
	cfg.seccomp_fd = g_seccomp;
	cfg.stdio[0] = cfg.stdio[1] = cfg.stdio[2] = g_console;
	cfg.console_fd = g_console;
	if (ksal_spawn(&cfg, &sp, &e) < 0)
		die_msg(e);
	g_pid = sp.pid;
	g_pidfd = sp.pidfd;
	st = wait_systemd(60);
	cr_log_info("systemd before: %s", st);
	cr_assert(st && (!strcmp(st, "running") || !strcmp(st, "degraded")),
		  "systemd did not boot: %s", st ? st : "?");

	for (int i = 1; i <= 2; i++) {
		do_suspend(images, false, &r);
		cr_log_info("systemd: suspend %.0f ms, %llu bytes", r.total_ms,
			    (unsigned long long)r.image_bytes);
		m2 = new_pty(&s2);
		(void)m2;
		g_console = s2;
		do_resume(images, false, &r);
		cr_log_info("systemd: resume %.0f ms", r.total_ms);
		free(st);
		st = wait_systemd(10);
		cr_log_info("systemd after cycle %d: %s", i, st);
		cr_assert(st && (!strcmp(st, "running") || !strcmp(st, "degraded")),
			  "systemctl is-system-running after resume %d: %s", i, st ? st : "?");
	}
}

/* ---- a CRIU that overruns its timeout ---- */

Test(checkpoint, a_dump_past_its_timeout_is_killed_and_the_container_runs_on)
{
	_cleanup_free_ char *images = path_in(g_dumps, g_ctid);
	struct ct_ckpt_params p;
	struct ct_ckpt_result r;
	struct st_error *e = NULL;
	long c0, c1;

	start_ct(256, false, false);
	wait_ready(3);
	params_init(&p, images, false);
	p.timeout_ms = 120; /* killed in the middle of the memory dump */
	cr_assert_lt(ct_checkpoint_dump(&p, &r, &e), 0, "a 256 MiB dump within 120 ms");
	cr_log_info("expected failure: %s", e->msg);
	cr_assert_eq(e->exit_code, ST_EXIT_TIMEOUT, "%s", e->msg);
	{
		_cleanup_free_ char *logp = NULL, *text = NULL;
		char *last;
		cr_assert(asprintf(&logp, "%s.dump.log", images) > 0);
		text = tu_read_file(logp);
		cr_assert_not_null(text, "no log kept of the killed dump");
		while (*text && text[strlen(text) - 1] == '\n')
			text[strlen(text) - 1] = '\0';
		last = strrchr(text, '\n');
		cr_log_info("CRIU was killed after: %s", last ? last + 1 : text);
	}
	st_error_free(e);
	e = NULL;
	cr_assert(!ct_checkpoint_exists(images));
	cr_assert(!pidfd_exited(g_pidfd, 0), "the container died with the killed CRIU");
	c0 = read_counter();
	sleep_ms(400);
	c1 = read_counter();
	cr_assert_gt(c1, c0, "the counter stopped after a killed dump (frozen?)");
	assert_memory_intact();
	/* no CRIU left behind, and the next one works */
	cycle(images, false, 1);
}

Test(checkpoint, a_restore_past_its_timeout_leaves_nothing_and_a_retry_works)
{
	_cleanup_free_ char *images = path_in(g_dumps, g_ctid);
	struct ct_ckpt_params p;
	struct ct_ckpt_result r;
	struct st_error *e = NULL;

	start_ct(256, true, false);
	wait_ready(3);
	do_suspend(images, true, &r);
	params_init(&p, images, true);
	p.timeout_ms = 100; /* killed while it maps the memory back */
	cr_assert_lt(ct_checkpoint_restore(&p, &r, &e), 0, "a 256 MiB restore within 100 ms");
	cr_log_info("expected failure: %s", e->msg);
	cr_assert_eq(e->exit_code, ST_EXIT_TIMEOUT, "%s", e->msg);
	st_error_free(e);
	e = NULL;
	cr_assert(ct_checkpoint_exists(images), "the images went with the killed restore");
	cr_assert(ksal_cgroup_is_empty(g_cg), "a half-restored tree was left behind");
	do_resume(images, true, &r);
	sleep_ms(300);
	assert_memory_intact();
}
