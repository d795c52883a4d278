/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The harness of the checkpoint integration tests (test_checkpoint.c: the
 * suspend/resume cycles; test_checkpoint_fail.c: failures, timeouts and a
 * systemd guest). See test_checkpoint_common.h.
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

#include "ksal/cleanup.h"
#include "ksal/netlink.h"
#include "ksal/spawn.h"
#include "ksal/syscalls.h"
#include "tests/helpers/testutil.h"
#include "tests/integration/test_checkpoint_common.h"

/* What a test owns; ck_teardown() undoes all of it. */
char *g_dir;
char *g_root;
char *g_dumps;
char g_subtree[64];
char g_ctid[16] = "9301";
char g_veth[16];
struct ksal_cgroup_mgr *g_mgr;
struct ksal_cgroup *g_cg;
int g_pidfd = -1;
pid_t g_pid = -1;
int g_seccomp = -1;
int g_ptys[4] = { -1, -1, -1, -1 };
int g_console = -1;
bool g_tmpfs;
bool g_composed;
struct cowfs_layer_ref g_layer_ref;

void die_msg(struct st_error *e)
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

char *path_in(const char *dir, const char *name)
{
	char *p;

	cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

void kill_ct(void)
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

void ck_teardown(void)
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

int copy_file(const char *from, const char *to, mode_t mode)
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

void ck_setup(void)
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

int parent_hook(pid_t pid, int pidfd, void *data, struct st_error **err)
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

void start_ct(int mib, bool net, bool userns)
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

char *root_file(const char *name)
{
	_cleanup_free_ char *p = path_in(g_root, name);
	return tu_read_file(p);
}

long read_counter(void)
{
	_cleanup_free_ char *s = root_file("counter");
	return s ? strtol(s, NULL, 10) : -1;
}

void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Wait until the guest is ready: memory filled, counter past `min`. */
void wait_ready(long min)
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
void assert_memory_intact(void)
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

bool pidfd_exited(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, ms) == 1;
}

void params_init(struct ct_ckpt_params *p, const char *images, bool net)
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
void do_suspend(const char *images, bool net, struct ct_ckpt_result *r)
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

void do_resume(const char *images, bool net, struct ct_ckpt_result *r)
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

void cycle(const char *images, bool net, int n)
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

/* ---- TCP ---- */

int connect_ct(void)
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

void ping(int s, const char *msg)
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
void reconnect_host_side(void)
{
	struct ksal_nl *nl = NULL;
	struct ksal_ipaddr a;
	struct st_error *e = NULL;

	if (ksal_nl_open(&nl, &e) < 0 || ksal_ipaddr_parse("10.93.1.1/24", &a, &e) < 0 ||
	    ksal_addr_add(nl, g_veth, &a, &e) < 0 || ksal_link_set_up(nl, g_veth, true, &e) < 0)
		die_msg(e);
	ksal_nl_close(nl);
}

/* ---- the console ---- */

/* A new pty: its master (returned) and slave (*slave), both tracked. */
int new_pty(int *slave)
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
bool console_says(int master, const char *want, int ms)
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
