/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The feature probe (probe.h). Every probe tries the real thing in a
 * throw-away child, a detached mount or a temporary directory, and leaves
 * nothing behind. Filesystem and mount probes are in probe_mount.c, cgroups
 * and the /proc parsers in probe_cgroup.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/criu.h"
#include "ksal/log.h"
#include "ksal/probe.h"
#include "ksal/probe_internal.h"
#include "ksal/syscalls.h"

#define PROBE_CHILD_TIMEOUT_MS 5000

static const struct {
	const char *key;
	const char *name;
	bool required;
	const char *lost; /* what Strata loses without it */
} feat_meta[KSAL_FEAT__COUNT] = {
	[KSAL_FEAT_NS_MNT] = { "ns.mnt", "mount namespace", true, NULL },
	[KSAL_FEAT_NS_PID] = { "ns.pid", "pid namespace", true, NULL },
	[KSAL_FEAT_NS_UTS] = { "ns.uts", "uts namespace", true, NULL },
	[KSAL_FEAT_NS_IPC] = { "ns.ipc", "ipc namespace", true, NULL },
	[KSAL_FEAT_NS_NET] = { "ns.net", "network namespace", true, NULL },
	[KSAL_FEAT_NS_CGROUP] = { "ns.cgroup", "cgroup namespace", false,
				  "containers see the host's cgroup paths" },
	[KSAL_FEAT_NS_TIME] = { "ns.time", "time namespace", false,
				"uptime and monotonic clocks jump after migration" },
	[KSAL_FEAT_NS_USER] = { "ns.user", "user namespace", false,
				"no unprivileged (user-namespaced) containers" },
	[KSAL_FEAT_CLONE3] = { "clone3", "clone3 with CLONE_PIDFD", false,
			       "the init is started with clone() and pidfd_open()" },
	[KSAL_FEAT_CLONE_INTO_CGROUP] = { "clone_into_cgroup", "clone3 CLONE_INTO_CGROUP", false,
					  "tasks join cgroups by a cgroup.procs write after clone" },
	[KSAL_FEAT_PIDFD] = { "pidfd", "pidfd_open / pidfd_send_signal", true, NULL },
	[KSAL_FEAT_CGROUP_LAYOUT] = { "cgroup.layout", "cgroup hierarchy", true, NULL },
	[KSAL_FEAT_CGROUP_MEMORY] = { "cgroup.memory", "memory controller", true, NULL },
	[KSAL_FEAT_CGROUP_PIDS] = { "cgroup.pids", "pids controller", true, NULL },
	[KSAL_FEAT_CGROUP_CPU] = { "cgroup.cpu", "cpu controller", true, NULL },
	[KSAL_FEAT_CGROUP_CPUSET] = { "cgroup.cpuset", "cpuset controller", false,
				      "CPUS pinning (--cpumask) is refused" },
	[KSAL_FEAT_CGROUP_IO] = { "cgroup.io", "block I/O controller (blkio/io)", false,
				  "IOPRIO and I/O limits are refused" },
	[KSAL_FEAT_CGROUP_FREEZER] = { "cgroup.freezer", "freezer", false,
				       "suspend and checkpoint cannot freeze a container first" },
	[KSAL_FEAT_MOUNT_API] = { "mount_api", "new mount API (fsopen/fsmount)", false,
				  "mounts fall back to mount(2)" },
	[KSAL_FEAT_LOCKED_MOUNTS] = { "locked_mounts",
				      "locked container mounts (proc pidns=, new mount API)", false,
				      "root in a container could unmount its masks and remount "
				      "/proc/sys read-write (the host's settings stay refused)" },
	[KSAL_FEAT_OVERLAYFS] = { "overlayfs", "overlayfs", true, NULL },
	[KSAL_FEAT_SQUASHFS] = { "squashfs", "squashfs (kernel)", false,
				 "templates are mounted with squashfuse (slower)" },
	[KSAL_FEAT_SQUASHFUSE] = { "squashfuse", "squashfuse", false,
				   "no template mounts where the kernel lacks squashfs" },
	[KSAL_FEAT_IDMAP_SQUASHFS] = { "idmap.squashfs", "idmapped mounts on squashfs", false,
				       "user-namespaced containers need a chowned template copy" },
	[KSAL_FEAT_IDMAP_STATEDIR] = { "idmap.statedir", "idmapped mounts on the state directory",
				       false,
				       "private areas of user-namespaced containers are "
				       "chowned instead of idmapped" },
	[KSAL_FEAT_SECCOMP] = { "seccomp", "seccomp filters", false,
				"containers run without a syscall filter" },
	[KSAL_FEAT_USERFAULTFD] = { "userfaultfd", "userfaultfd", false,
				    "no post-copy (lazy pages) migration" },
	[KSAL_FEAT_SOFT_DIRTY] = { "soft_dirty", "soft-dirty page tracking", false,
				   "no pre-dump, no iterative pre-copy migration" },
	[KSAL_FEAT_PIPE_MAX_SIZE] = { "pipe_max_size", "fs.pipe-max-size >= 4 MiB", false,
				      "CRIU lazy pages (post-copy migration) fail with "
				      "`page-pipe: splice: Bad file descriptor`" },
	[KSAL_FEAT_CRIU] = { "criu", "CRIU (checkpoint/restore)", false,
			     "no checkpoint, restore or live migration" },
};

/* ---- small helpers ---- */

void *probe_oom(void *p)
{
	if (!p) {
		fputs("strata: out of memory\n", stderr);
		abort();
	}
	return p;
}

char *probe_strdup(const char *s)
{
	return probe_oom(strdup(s));
}

void probe_set(struct ksal_features *f, enum ksal_feat id, bool available, const char *fmt, ...)
{
	struct ksal_feature *e = &f->entry[id];
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	probe_oom(msg);
	if (!available && feat_meta[id].lost) {
		char *full = NULL;

		if (asprintf(&full, "%s; %s", msg, feat_meta[id].lost) < 0)
			full = NULL;
		free(msg);
		msg = probe_oom(full);
	}
	free(e->detail);
	e->detail = msg;
	e->available = available;
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Read a small file into a NUL-terminated string; NULL with errno set. */
char *probe_read_text(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t n;

		if (cap - len < 1024) {
			char *nb = realloc(buf, cap + 16384);

			if (!nb)
				return NULL;
			buf = nb;
			cap += 16384;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return NULL;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (!buf)
		return strdup("");
	buf[len] = '\0';
	return take_ptr(buf);
}

int probe_write_text(const char *path, const char *text)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		return -errno;
	return 0;
}

static long read_long(const char *path, long dflt)
{
	_cleanup_free_ char *s = probe_read_text(path);

	return s ? strtol(s, NULL, 10) : dflt;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* Remove a temporary tree the probe made (never crossing mounts). */
static void rm_tree(const char *dir)
{
	if (dir && *dir)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static void rm_treep(char **dir)
{
	if (*dir) {
		rm_tree(*dir);
		free(*dir);
	}
	*dir = NULL;
}
#define _cleanup_rmtree_ _cleanup_(rm_treep)

/* Wait for a child with a timeout; kill it when the time is up. Returns the
 * wait status, or -1. */
static int wait_child(pid_t *pid, int timeout_ms)
{
	long long deadline = now_us() + (long long)timeout_ms * 1000;
	int status;

	for (;;) {
		pid_t r = waitpid(*pid, &status, WNOHANG);

		if (r == *pid) {
			*pid = -1;
			return status;
		}
		if (r < 0 && errno != EINTR) {
			*pid = -1;
			return -1;
		}
		if (now_us() > deadline) {
			killpidp(pid);
			return -1;
		}
		usleep(200);
	}
}

/* ---- namespaces ---- */

static const struct {
	enum ksal_feat id;
	int flag;
	const char *nsname; /* /proc/self/ns entry */
} ns_table[] = {
	{ KSAL_FEAT_NS_MNT, CLONE_NEWNS, "mnt" },
	{ KSAL_FEAT_NS_PID, CLONE_NEWPID, "pid" },
	{ KSAL_FEAT_NS_UTS, CLONE_NEWUTS, "uts" },
	{ KSAL_FEAT_NS_IPC, CLONE_NEWIPC, "ipc" },
	{ KSAL_FEAT_NS_NET, CLONE_NEWNET, "net" },
	{ KSAL_FEAT_NS_CGROUP, CLONE_NEWCGROUP, "cgroup" },
	{ KSAL_FEAT_NS_TIME, CLONE_NEWTIME, "time" },
	{ KSAL_FEAT_NS_USER, CLONE_NEWUSER, "user" },
};

/* In one child: unshare each namespace type in turn (user last), report
 * each errno through a pipe. Not root: start inside a new user namespace. */
static void probe_namespaces(struct ksal_features *f)
{
	int res[ARRAY_SIZE(ns_table)];
	bool in_userns = geteuid() != 0;
	_cleanup_close_ int rd = -EBADF, wr = -EBADF;
	_cleanup_kill_ pid_t pid = -1;
	long max_userns = read_long("/proc/sys/user/max_user_namespaces", -1);
	int p[2];
	ssize_t n = -1;

	for (size_t i = 0; i < ARRAY_SIZE(res); i++)
		res[i] = ENOSYS;
	if (pipe2(p, O_CLOEXEC) == 0) {
		rd = p[0];
		wr = p[1];
		pid = fork();
	}
	if (pid == 0) {
		int r[ARRAY_SIZE(ns_table)];
		int base_err = 0;

		if (in_userns && unshare(CLONE_NEWUSER) < 0)
			base_err = errno;
		for (size_t i = 0; i < ARRAY_SIZE(ns_table); i++) {
			if (in_userns && ns_table[i].flag == CLONE_NEWUSER)
				r[i] = base_err; /* that first unshare was the test */
			else if (base_err)
				r[i] = base_err;
			else
				r[i] = unshare(ns_table[i].flag) == 0 ? 0 : errno;
		}
		if (write(wr, r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(1);
		_exit(0);
	}
	if (pid > 0) {
		closep(&wr);
		n = read(rd, res, sizeof(res));
		wait_child(&pid, PROBE_CHILD_TIMEOUT_MS);
	}
	for (size_t i = 0; i < ARRAY_SIZE(ns_table); i++) {
		_cleanup_free_ char *nspath = NULL;
		bool has_proc;

		if (asprintf(&nspath, "/proc/self/ns/%s", ns_table[i].nsname) < 0)
			nspath = NULL;
		has_proc = nspath && access(nspath, F_OK) == 0;
		if (n != (ssize_t)sizeof(res)) {
			probe_set(f, ns_table[i].id, false, "could not fork a probe child: %s",
				  strerror(errno));
		} else if (ns_table[i].flag == CLONE_NEWUSER) {
			if (res[i] == 0 && max_userns > 0)
				probe_set(
					f, ns_table[i].id, true,
					"unshare(CLONE_NEWUSER) works; user.max_user_namespaces=%ld",
					max_userns);
			else if (max_userns == 0)
				probe_set(f, ns_table[i].id, false,
					  "user.max_user_namespaces=0 (disabled)");
			else
				probe_set(f, ns_table[i].id, false, "unshare(CLONE_NEWUSER): %s",
					  strerror(res[i]));
		} else if (res[i] == 0) {
			probe_set(f, ns_table[i].id, true, "unshare works%s%s",
				  has_proc ? "; /proc/self/ns/" : "",
				  has_proc ? ns_table[i].nsname : "");
			if (in_userns)
				probe_set(f, ns_table[i].id, true,
					  "unshare works inside a user namespace (not root)");
		} else {
			probe_set(f, ns_table[i].id, false, "unshare: %s%s", strerror(res[i]),
				  has_proc ? "" : " (no /proc/self/ns entry)");
		}
	}
}

/* ---- clone3, CLONE_INTO_CGROUP, pidfd ---- */

/* clone3 a child that exits at once; reap it through the pidfd. */
static int try_clone3(uint64_t flags, int cgroup_fd)
{
	int pidfd = -EBADF;
	struct ksal_clone_args args = {
		.flags = CLONE_PIDFD | flags,
		.pidfd = (uint64_t)(uintptr_t)&pidfd,
		.exit_signal = SIGCHLD,
		.cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0,
	};
	_cleanup_close_ int pfd = -EBADF;
	siginfo_t si;
	pid_t pid;

	pid = ksal_clone3(&args);
	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(0);
	pfd = pidfd;
	if (pfd < 0) {
		waitpid(pid, NULL, 0);
		return -EBADF;
	}
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)pfd, &si, WEXITED) < 0) {
		int e = errno;

		waitpid(pid, NULL, 0);
		return -e;
	}
	return si.si_pid == pid ? 0 : -ECHILD;
}

static void probe_clone(struct ksal_features *f)
{
	const struct ksal_cgroup_info *cg = &f->cgroup;
	int r = try_clone3(0, -1);

	if (r == 0)
		probe_set(f, KSAL_FEAT_CLONE3, true, "clone3(CLONE_PIDFD) works, waitid(P_PIDFD)");
	else
		probe_set(f, KSAL_FEAT_CLONE3, false, "clone3(CLONE_PIDFD): %s", strerror(-r));

	if (!cg->unified) {
		probe_set(f, KSAL_FEAT_CLONE_INTO_CGROUP, false,
			  "no cgroup2 hierarchy mounted (v1 only)");
		return;
	}
	if (!cg->v2_self) {
		probe_set(f, KSAL_FEAT_CLONE_INTO_CGROUP, false,
			  "no 0:: line in /proc/self/cgroup");
		return;
	}
	_cleanup_free_ char *dir = NULL;
	if (asprintf(&dir, "%s%s", cg->unified, cg->v2_self) < 0)
		dir = NULL;
	_cleanup_close_ int cfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -EBADF;
	if (cfd < 0) {
		probe_set(f, KSAL_FEAT_CLONE_INTO_CGROUP, false, "open cgroup `%s`: %s",
			  dir ? dir : "?", strerror(errno));
		return;
	}
	/* Into the cgroup we already are in: nothing on the host changes. */
	r = try_clone3(CLONE_INTO_CGROUP, cfd);
	if (r < 0) {
		probe_set(f, KSAL_FEAT_CLONE_INTO_CGROUP, false, "clone3 into `%s`: %s", dir,
			  strerror(-r));
		return;
	}
	if (cg->layout == KSAL_CG_HYBRID)
		probe_set(f, KSAL_FEAT_CLONE_INTO_CGROUP, true,
			  "works on the cgroup2 hierarchy at %s (controllers: %s); the v1 "
			  "controllers (memory, pids, cpu...) still take a cgroup.procs write",
			  cg->unified, *cg->v2_controllers ? cg->v2_controllers : "none");
	else
		probe_set(f, KSAL_FEAT_CLONE_INTO_CGROUP, true,
			  "works on the cgroup2 hierarchy at %s", cg->unified);
}

static void probe_pidfd(struct ksal_features *f)
{
	_cleanup_kill_ pid_t pid = -1;
	_cleanup_close_ int pfd = -EBADF;
	struct pollfd pp;

	pid = fork();
	if (pid < 0) {
		probe_set(f, KSAL_FEAT_PIDFD, false, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		for (;;)
			pause();
	}
	pfd = pidfd_open(pid, 0);
	if (pfd < 0) {
		probe_set(f, KSAL_FEAT_PIDFD, false, "pidfd_open: %s", strerror(errno));
		return;
	}
	if (pidfd_send_signal(pfd, SIGKILL, NULL, 0) < 0) {
		probe_set(f, KSAL_FEAT_PIDFD, false, "pidfd_send_signal: %s", strerror(errno));
		return;
	}
	pp = (struct pollfd){ .fd = pfd, .events = POLLIN };
	if (poll(&pp, 1, PROBE_CHILD_TIMEOUT_MS) != 1) {
		probe_set(f, KSAL_FEAT_PIDFD, false, "poll on a pidfd did not report the exit");
		return;
	}
	waitpid(pid, NULL, 0);
	pid = -1;
	probe_set(f, KSAL_FEAT_PIDFD, true, "pidfd_open, pidfd_send_signal, poll for exit");
}

/* ---- seccomp, userfaultfd, soft-dirty, pipes ---- */

static void probe_seccomp(struct ksal_features *f)
{
	static const struct {
		uint32_t action;
		const char *name;
	} actions[] = {
		{ SECCOMP_RET_ERRNO, "errno" },
		{ SECCOMP_RET_KILL_PROCESS, "kill_process" },
		{ SECCOMP_RET_LOG, "log" },
		{ SECCOMP_RET_USER_NOTIF, "user_notif" },
	};
	_cleanup_free_ char *have = probe_strdup("");
	int mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);

	if (mode < 0) {
		probe_set(f, KSAL_FEAT_SECCOMP, false, "prctl(PR_GET_SECCOMP): %s",
			  strerror(errno));
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++) {
		uint32_t a = actions[i].action;

		if (syscall(__NR_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &a) == 0)
			probe_list_add(&have, actions[i].name, strlen(actions[i].name));
	}
	if (!ksal_list_has(have, "errno")) {
		probe_set(f, KSAL_FEAT_SECCOMP, false, "SECCOMP_RET_ERRNO not available");
		return;
	}
	probe_set(f, KSAL_FEAT_SECCOMP, true, "filter actions: %s%s", have,
		  mode == 2 ? " (this process already runs under a filter)" : "");
}

static void probe_userfaultfd(struct ksal_features *f)
{
	long unpriv = read_long("/proc/sys/vm/unprivileged_userfaultfd", -1);
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	_cleanup_close_ int fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	const char *how = "userfaultfd(2)";
	bool noncoop;

	if (fd < 0 && errno == EPERM) {
		_cleanup_close_ int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

		if (dev >= 0) {
			fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
			how = "/dev/userfaultfd";
		}
	}
	if (fd < 0) {
		probe_set(f, KSAL_FEAT_USERFAULTFD, false,
			  "userfaultfd: %s (vm.unprivileged_userfaultfd=%ld)", strerror(errno),
			  unpriv);
		return;
	}
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		probe_set(f, KSAL_FEAT_USERFAULTFD, false, "UFFDIO_API: %s", strerror(errno));
		return;
	}
	noncoop = (api.features & UFFD_FEATURE_EVENT_FORK) &&
		  (api.features & UFFD_FEATURE_EVENT_REMAP);
	probe_set(
		f, KSAL_FEAT_USERFAULTFD, true,
		"%s works; non-cooperative events (fork/remap): %s; vm.unprivileged_userfaultfd=%ld%s",
		how, noncoop ? "yes" : "no", unpriv, unpriv == 0 ? " (root only)" : "");
}

/* In a child: map a page, clear soft-dirty bits (write 4 to clear_refs),
 * touch the page, read its pagemap entry. Exit 0: bit 55 set (tracking
 * works), 1: not set, 2: clear_refs refused, 3: other failure. */
static void probe_soft_dirty(struct ksal_features *f)
{
	_cleanup_kill_ pid_t pid = fork();
	int status;

	if (pid < 0) {
		probe_set(f, KSAL_FEAT_SOFT_DIRTY, false, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		long pg = sysconf(_SC_PAGESIZE);
		volatile char *p = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uint64_t entry = 0;
		int fd;

		if (p == MAP_FAILED)
			_exit(3);
		p[0] = 1;
		fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "4", 1) != 1)
			_exit(2);
		close(fd);
		p[0] = 2;
		fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || pread(fd, &entry, sizeof(entry),
				    (off_t)((uintptr_t)p / (uintptr_t)pg * sizeof(entry))) !=
				      (ssize_t)sizeof(entry))
			_exit(3);
		_exit(entry & (1ULL << 55) ? 0 : 1);
	}
	status = wait_child(&pid, PROBE_CHILD_TIMEOUT_MS);
	if (status < 0 || !WIFEXITED(status))
		probe_set(f, KSAL_FEAT_SOFT_DIRTY, false, "probe child failed");
	else if (WEXITSTATUS(status) == 0)
		probe_set(f, KSAL_FEAT_SOFT_DIRTY, true, "pagemap bit 55 set after clear_refs=4");
	else if (WEXITSTATUS(status) == 1)
		probe_set(f, KSAL_FEAT_SOFT_DIRTY, false,
			  "pagemap bit 55 stays clear after a write (kernel without "
			  "CONFIG_MEM_SOFT_DIRTY)");
	else if (WEXITSTATUS(status) == 2)
		probe_set(f, KSAL_FEAT_SOFT_DIRTY, false, "/proc/PID/clear_refs refused \"4\"");
	else
		probe_set(f, KSAL_FEAT_SOFT_DIRTY, false, "could not read /proc/PID/pagemap");
}

static void probe_pipe_size(struct ksal_features *f)
{
	long v = read_long("/proc/sys/fs/pipe-max-size", -1);

	if (v < 0)
		probe_set(f, KSAL_FEAT_PIPE_MAX_SIZE, false,
			  "cannot read /proc/sys/fs/pipe-max-size");
	else if (v >= (long)KSAL_PIPE_SIZE_NEEDED)
		probe_set(f, KSAL_FEAT_PIPE_MAX_SIZE, true, "fs.pipe-max-size=%ld", v);
	else
		probe_set(f, KSAL_FEAT_PIPE_MAX_SIZE, false,
			  "fs.pipe-max-size=%ld is below 4 MiB (sysctl fs.pipe-max-size=4194304 "
			  "before a post-copy migration)",
			  v);
}

/* ---- CRIU ---- */

static void probe_criu(struct ksal_features *f, const struct ksal_probe_opts *opts)
{
	_cleanup_error_ struct st_error *err = NULL;
	char vs[32];
	int v = 0;

	f->criu_path = probe_strdup(ksal_criu_path(opts ? opts->criu_path : NULL));
	if (opts && opts->skip_criu) {
		probe_set(f, KSAL_FEAT_CRIU, false, "%s: not probed", f->criu_path);
		return;
	}
	if (ksal_criu_version(f->criu_path, &v, &err) < 0) {
		probe_set(f, KSAL_FEAT_CRIU, false,
			  "%s (run scripts/criu-provision.sh or set CRIU_PATH)", err->msg);
		return;
	}
	f->criu_version = v;
	ksal_criu_version_str(v, vs, sizeof(vs));
	if (ksal_criu_check(f->criu_path, &err) < 0) {
		probe_set(f, KSAL_FEAT_CRIU, false, "%s %s: %s", f->criu_path, vs, err->msg);
		return;
	}
	f->criu_check_ok = true;
	if (v < KSAL_CRIU_MIN_VERSION)
		probe_set(f, KSAL_FEAT_CRIU, false,
			  "%s %s passes `criu check` but is older than 4.2 (cannot dump processes "
			  "with inet sockets on Linux 6.16+)",
			  f->criu_path, vs);
	else
		probe_set(f, KSAL_FEAT_CRIU, true, "%s %s, `criu check` passed", f->criu_path, vs);
}

/* ---- the scratch directory ---- */

/* A temporary directory under the state dir (or its nearest existing
 * ancestor, so the probe never creates the state dir). */
static char *make_scratch(const char *state_dir, char **tested_on)
{
	_cleanup_free_ char *dir = probe_strdup(state_dir);
	char *tmpl = NULL;

	for (;;) {
		struct stat st;
		char *slash;

		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			break;
		slash = strrchr(dir, '/');
		if (!slash || slash == dir) {
			free(dir);
			dir = probe_strdup("/");
			break;
		}
		*slash = '\0';
	}
	if (strcmp(dir, state_dir) == 0) {
		*tested_on = probe_strdup(state_dir);
	} else if (asprintf(tested_on, "%s (state dir %s does not exist yet)", dir, state_dir) <
		   0) {
		probe_oom(NULL);
	}
	if (asprintf(&tmpl, "%s/.strata-probe-XXXXXX", strcmp(dir, "/") ? dir : "") < 0)
		probe_oom(NULL);
	if (!mkdtemp(tmpl)) {
		st_debug("probe: mkdtemp under %s: %s", dir, strerror(errno));
		free(tmpl);
		return NULL;
	}
	return tmpl;
}

/* ---- the whole probe ---- */

struct ksal_features *ksal_probe_run(const struct ksal_probe_opts *opts)
{
	struct ksal_features *f = probe_oom(calloc(1, sizeof(*f)));
	_cleanup_rmtree_ char *scratch = NULL;
	_cleanup_free_ char *tested_on = NULL;
	long long t0 = now_us(), t = t0;

	for (int i = 0; i < KSAL_FEAT__COUNT; i++) {
		f->entry[i].key = feat_meta[i].key;
		f->entry[i].name = feat_meta[i].name;
		f->entry[i].required = feat_meta[i].required;
		f->entry[i].detail = probe_strdup("not probed");
	}
	f->state_dir =
		probe_strdup(opts && opts->state_dir && *opts->state_dir ? opts->state_dir
									 : STRATA_LOCALSTATEDIR);
	if (geteuid() == 0)
		scratch = make_scratch(f->state_dir, &tested_on);

#define STEP(name, call)                                                                           \
	do {                                                                                       \
		call;                                                                              \
		st_trace("probe: %s took %.1f ms", name, (now_us() - t) / 1000.0);                 \
		t = now_us();                                                                      \
	} while (0)

	STEP("namespaces", probe_namespaces(f));
	STEP("cgroups", probe_cgroups(f));
	STEP("clone3", probe_clone(f));
	STEP("pidfd", probe_pidfd(f));
	STEP("mount api", probe_mount_api(f));
	STEP("locked mounts", probe_locked_mounts(f));
	STEP("overlayfs", probe_overlay(f, scratch));
	STEP("squashfs", probe_squashfs_kernel(f));
	STEP("squashfuse", probe_squashfuse(f));
	STEP("idmap squashfs", probe_idmap_squashfs(f, scratch));
	STEP("idmap state dir", probe_idmap_statedir(f, scratch, tested_on ? tested_on : "?"));
	STEP("seccomp", probe_seccomp(f));
	STEP("userfaultfd", probe_userfaultfd(f));
	STEP("soft-dirty", probe_soft_dirty(f));
	STEP("pipe size", probe_pipe_size(f));
	STEP("criu", probe_criu(f, opts));
#undef STEP

	f->elapsed_ms = (now_us() - t0) / 1000.0;
	return f;
}

void ksal_features_free(struct ksal_features *f)
{
	if (!f)
		return;
	for (int i = 0; i < KSAL_FEAT__COUNT; i++)
		free(f->entry[i].detail);
	ksal_cgroup_info_clear(&f->cgroup);
	free(f->state_dir);
	free(f->criu_path);
	free(f);
}

static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ksal_features *probe_cache;

const struct ksal_features *ksal_probe(const struct ksal_probe_opts *opts)
{
	struct ksal_features *f;

	pthread_mutex_lock(&probe_lock);
	if (!probe_cache)
		probe_cache = ksal_probe_run(opts);
	f = probe_cache;
	pthread_mutex_unlock(&probe_lock);
	return f;
}

const struct ksal_feature *ksal_feature_find(const struct ksal_features *f, const char *key)
{
	for (int i = 0; i < KSAL_FEAT__COUNT; i++)
		if (strcmp(f->entry[i].key, key) == 0)
			return &f->entry[i];
	return NULL;
}

int ksal_features_check_required(const struct ksal_features *f, struct st_error **err)
{
	_cleanup_free_ char *missing = NULL;

	for (int i = 0; i < KSAL_FEAT__COUNT; i++) {
		const struct ksal_feature *e = &f->entry[i];
		char *m = NULL;

		if (!e->required || e->available)
			continue;
		if (asprintf(&m, "%s%s%s (%s: %s)", missing ? missing : "", missing ? ", " : "",
			     e->key, e->name, e->detail) < 0)
			probe_oom(NULL);
		free(missing);
		missing = m;
	}
	if (!missing)
		return 0;
	return st_error_setx(err, ST_EXIT_NOFEATURE, 0, "required kernel features missing: %s",
			     missing);
}
