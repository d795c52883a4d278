/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the spawn integration tests share (test_spawn_util.h): the
 * throw-away rootfs, the default config, output helpers, and the .fini
 * that kills every tracked process and removes every directory, mount and
 * cgroup a test made, pass or fail.
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

#define BUSYBOX "/bin/busybox"

static const char *const applets[] = {
	"sh",	"cat", "ls",  "echo", "id",    "hostname", "mknod", "ip",    "wc",
	"grep", "tr",  "cut", "true", "sleep", "mount",	   "ps",    "touch", "exit",
};

/* What each test owns; .fini undoes all of it. */
char *g_root;
char *g_cgroup;
char *g_cgroup_v1;
char *g_ovl; /* /tmp/stspawn-ovl-XXXXXX: upper, work, merged (mounted) */
static int g_pidfds[4] = { -1, -1, -1, -1 };
int g_seccomp = -1;

void track_pidfd(int fd)
{
	for (size_t i = 0; i < ARRAY_SIZE(g_pidfds); i++)
		if (g_pidfds[i] < 0) {
			g_pidfds[i] = fd;
			return;
		}
}

static int rm_entry(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	if (type == FTW_DP)
		return rmdir(p) < 0 ? -1 : 0;
	return unlink(p) < 0 ? -1 : 0;
}

void spawn_teardown(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(g_pidfds); i++) {
		if (g_pidfds[i] < 0)
			continue;
		pidfd_send_signal(g_pidfds[i], SIGKILL, NULL, 0);
		siginfo_t si;
		waitid(P_PIDFD, (id_t)g_pidfds[i], &si, WEXITED);
		close(g_pidfds[i]);
		g_pidfds[i] = -1;
	}
	if (g_ovl) {
		char merged[256];
		snprintf(merged, sizeof(merged), "%s/merged", g_ovl);
		umount2(merged, MNT_DETACH);
		nftw(g_ovl, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
		free(g_ovl);
		g_ovl = NULL;
	}
	if (g_root) {
		nftw(g_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
		free(g_root);
		g_root = NULL;
	}
	if (g_cgroup) {
		char sub[256];
		snprintf(sub, sizeof(sub), "%s/sub", g_cgroup);
		rmdir(sub); /* made by the container */
		rmdir(g_cgroup);
		free(g_cgroup);
		g_cgroup = NULL;
	}
	if (g_cgroup_v1) {
		rmdir(g_cgroup_v1);
		free(g_cgroup_v1);
		g_cgroup_v1 = NULL;
	}
	if (g_seccomp >= 0)
		close(g_seccomp);
	g_seccomp = -1;
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
	_cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = -EBADF;
	char buf[65536];
	ssize_t n;

	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0)
		return -errno;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			return -EIO;
	return n < 0 ? -errno : 0;
}

static int chown_entry(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)type;
	(void)f;
	return lchown(p, HOST_BASE, HOST_BASE);
}

/* /tmp/stspawn-XXXXXX with busybox, its applets and the probe, owned by
 * the container's root (host uid 200000). */
static void make_rootfs(void)
{
	static const char *const dirs[] = { "bin", "proc", "sys", "dev", "tmp", "etc", "run" };
	const char *probe = getenv("STSPAWN_PROBE");
	char tmpl[] = "/tmp/stspawn-XXXXXX", path[512];

	if (access(BUSYBOX, X_OK) < 0)
		cr_skip_test("needs busybox-static (" BUSYBOX ")");
	cr_assert(probe && access(probe, X_OK) == 0, "STSPAWN_PROBE not set by meson");
	cr_assert_not_null(mkdtemp(tmpl));
	g_root = strdup(tmpl);
	chmod(g_root, 0755);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof(path), "%s/%s", g_root, dirs[i]);
		cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s: %m", path);
	}
	snprintf(path, sizeof(path), "%s/tmp", g_root);
	chmod(path, 01777);
	snprintf(path, sizeof(path), "%s/bin/busybox", g_root);
	cr_assert_eq(copy_file(BUSYBOX, path, 0755), 0);
	snprintf(path, sizeof(path), "%s/bin/probe", g_root);
	cr_assert_eq(copy_file(probe, path, 0755), 0);
	for (size_t i = 0; i < ARRAY_SIZE(applets); i++) {
		snprintf(path, sizeof(path), "%s/bin/%s", g_root, applets[i]);
		cr_assert_eq(symlink("busybox", path), 0);
	}
	cr_assert_eq(nftw(g_root, chown_entry, 16, FTW_PHYS), 0);
}

void spawn_setup(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root");
	make_rootfs();
}

static const struct ksal_idmap map[] = { { 0, HOST_BASE, 65536 } };

/* A default config: userns 0 -> 200000, new net, default drops and
 * seccomp, stdin/stdout pipes. */
void default_cfg(struct ksal_spawn_cfg *cfg, char *const *argv)
{
	static char *const env[] = { "PATH=/bin", "HOME=/", NULL };
	struct st_error *err = NULL;

	if (g_seccomp < 0)
		cr_assert_eq(ksal_seccomp_default(&g_seccomp, &err), 0, "%s", err ? err->msg : "");
	*cfg = (struct ksal_spawn_cfg){
		.rootfs = g_root,
		.hostname = "stspawn-ct",
		.argv = argv,
		.envp = env,
		.new_net = true,
		.userns = true,
		.uid_map = map,
		.n_uid_map = 1,
		.gid_map = map,
		.n_gid_map = 1,
		.cgroup_fd = -1,
		.cap_drop = ksal_cap_default_drop(),
		.seccomp_fd = g_seccomp,
		.stdio = { -1, -1, -1 },
		.console_fd = -1,
	};
}

/* Read fd until `until` shows up (or EOF), 10 s at most. */
char *spawn_output(struct ksal_spawn_cfg *cfg, struct ksal_spawned *sp, bool with_stderr)
{
	_cleanup_close_ int out_r = -EBADF, out_w = -EBADF;
	struct st_error *err = NULL;
	int p[2];

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	out_r = p[0], out_w = p[1];
	cfg->stdio[1] = out_w;
	if (with_stderr)
		cfg->stdio[2] = out_w;
	cr_assert_eq(ksal_spawn(cfg, sp, &err), 0, "spawn: %s", err ? err->msg : "");
	track_pidfd(sp->pidfd);
	closep(&out_w);
	return read_until(out_r, NULL);
}

char *read_until(int fd, const char *until)
{
	size_t len = 0, cap = 65536;
	char *buf = calloc(1, cap);

	while (len < cap - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 10000) <= 0)
			break;
		n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (until && strstr(buf, until))
			break;
	}
	return buf;
}

/* "key=value" line of the output, malloc'd value or NULL. */
char *field(const char *out, const char *key)
{
	size_t klen = strlen(key);

	for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, key, klen) && l[klen] == '=')
			return strndup(l + klen + 1, strcspn(l + klen + 1, "\n"));
	return NULL;
}

void assert_field(const char *out, const char *key, const char *want)
{
	_cleanup_free_ char *v = field(out, key);

	cr_assert_not_null(v, "no `%s=` in the container's output:\n%s", key, out);
	cr_assert_str_eq(v, want, "%s: got `%s`, want `%s`", key, v, want);
}

int wait_exit(int pidfd)
{
	struct pollfd pf = { .fd = pidfd, .events = POLLIN };
	siginfo_t si = { 0 };

	/* never hang the suite: .fini kills what is left */
	cr_assert_eq(poll(&pf, 1, 20000), 1, "process did not exit within 20 s");

	cr_assert_eq(waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED), 0, "waitid: %m");
	return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}

void untrack_close(int pidfd)
{
	for (size_t i = 0; i < ARRAY_SIZE(g_pidfds); i++)
		if (g_pidfds[i] == pidfd)
			g_pidfds[i] = -1;
	close(pidfd);
}

char *host_status_line(pid_t pid, const char *key)
{
	char path[64], line[512];
	FILE *f;
	char *r = NULL;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':') {
			r = strdup(line + strlen(key) + 1);
			break;
		}
	fclose(f);
	return r;
}

bool same_ns(pid_t pid, const char *ns)
{
	char a[64], b[64];
	struct stat sa, sb;

	snprintf(a, sizeof(a), "/proc/%d/ns/%s", (int)pid, ns);
	snprintf(b, sizeof(b), "/proc/self/ns/%s", ns);
	cr_assert_eq(stat(a, &sa), 0);
	cr_assert_eq(stat(b, &sb), 0);
	return sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

/* ---- a running container to enter ---- */

void start_idle(struct running *r)
{
	char *argv[] = { "/bin/sh", "-c", "read x; exit 0", NULL };
	_cleanup_close_ int in_r = -EBADF;
	struct st_error *err = NULL;
	struct ksal_spawn_cfg cfg;
	int p[2];

	default_cfg(&cfg, argv);
	cfg.hostname = "stspawn-enter";
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	in_r = p[0];
	r->in_w = p[1];
	cfg.stdio[0] = in_r;
	cr_assert_eq(ksal_spawn(&cfg, &r->sp, &err), 0, "spawn: %s", err ? err->msg : "");
	track_pidfd(r->sp.pidfd);
}

void stop_idle(struct running *r)
{
	close(r->in_w);
	cr_assert_eq(wait_exit(r->sp.pidfd), 0);
	untrack_close(r->sp.pidfd);
}

/* a second cgroup.procs (a v1 hierarchy) for enter_run_in, -1: none */
int g_extra_procs = -1;
/* give the entered command RLIMIT_NOFILE 900 */
bool g_enter_rlimit;
static const struct ksal_rlimit enter_rl[] = { { RLIMIT_NOFILE, { 900, 900 } } };

/* ksal_enter argv with stdin `in` (NULL: /dev/null); stdout captured. */
char *enter_run_in(struct running *r, char *const *argv, const char *in, int cg_procs, int *status)
{
	static char *const env[] = { "PATH=/bin", NULL };
	_cleanup_close_ int out_r = -EBADF, out_w = -EBADF, in_r = -EBADF, in_w = -EBADF;
	struct st_error *err = NULL;
	struct ksal_spawned e;
	int p[2];

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	out_r = p[0], out_w = p[1];
	if (in) {
		cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
		in_r = p[0], in_w = p[1];
	}
	struct ksal_enter_cfg ec = {
		.init_pidfd = r->sp.pidfd,
		.init_pid = r->sp.pid,
		.argv = argv,
		.envp = env,
		.stdio = { in ? in_r : -1, out_w, out_w },
		.cap_drop = ksal_cap_default_drop(),
		.seccomp_fd = g_seccomp,
		.cgroup_procs_fd = cg_procs,
		.cgroup_procs_fds = g_extra_procs >= 0 ? &g_extra_procs : NULL,
		.rlimits = g_enter_rlimit ? enter_rl : NULL,
		.n_rlimits = g_enter_rlimit ? 1 : 0,
		.n_cgroup_procs_fds = g_extra_procs >= 0 ? 1 : 0,
	};
	cr_assert_eq(ksal_enter(&ec, &e, &err), 0, "enter: %s", err ? err->msg : "");
	track_pidfd(e.pidfd);
	closep(&out_w);
	closep(&in_r);
	if (in) {
		cr_assert_eq(write(in_w, in, strlen(in)), (ssize_t)strlen(in));
		closep(&in_w);
	}
	char *out = read_until(out_r, NULL);
	*status = wait_exit(e.pidfd);
	untrack_close(e.pidfd);
	return out;
}

char *enter_run(struct running *r, char *const *argv, const char *in, int *status)
{
	return enter_run_in(r, argv, in, -1, status);
}

char *enter_run_cg(struct running *r, char *const *argv, int cg_procs, int *status)
{
	return enter_run_in(r, argv, NULL, cg_procs, status);
}

/* ---- the figure: ksal_spawn until `true` has run and exited ---- */

double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}
