/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ksal_spawn(): clone3 the container's init into new namespaces, write its
 * id maps, run the caller's hook, let the child set up its root and exec.
 *
 * The cgroup namespace is unshared by the child once the parent hook has
 * attached it to the container's cgroups (v1), so its root is the
 * container's cgroup in every hierarchy, not the daemon's.
 *
 * Time namespace: clone3(CLONE_NEWTIME) puts the *child itself* into the new
 * time namespace (timens_on_fork() switches a new task to its
 * time_ns_for_children; only unshare(CLONE_NEWTIME) affects children
 * alone). The offsets stay zero: they can only be written before a task
 * enters the namespace. What the namespace buys is CRIU: a restored
 * container gets its own offsets so CLOCK_MONOTONIC/BOOTTIME do not jump.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ksal/syscalls.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/mount.h"
#include "ksal/spawn-internal.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67 /* Linux 6.4 */
#endif

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---- sync protocol ---- */

int ksal_child_fail(int sync, int errnum, const char *fmt, ...)
{
	struct ksal_sync_msg m = { .kind = KSAL_SYNC_ERROR, .errnum = errnum };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m.msg, sizeof(m.msg), fmt, ap);
	va_end(ap);
	while (send(sync, &m, sizeof(m), MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
	return -1;
}

int ksal_child_fail_exec(int sync, int errnum, const char *path)
{
	struct ksal_sync_msg m = { .kind = KSAL_SYNC_ERROR,
				   .errnum = errnum,
				   .value = KSAL_STEP_EXEC };

	snprintf(m.msg, sizeof(m.msg), "exec `%s`", path);
	while (send(sync, &m, sizeof(m), MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
	return -1;
}

int ksal_child_send(int sync, int kind, int64_t value)
{
	struct ksal_sync_msg m = { .kind = kind, .value = value };
	ssize_t n;

	do
		n = send(sync, &m, sizeof(m), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(m) ? 0 : -EIO;
}

int ksal_sync_recv(int sync, struct ksal_sync_msg *m, int timeout_ms)
{
	struct pollfd pf = { .fd = sync, .events = POLLIN };
	ssize_t n;
	int r;

	memset(m, 0, sizeof(*m));
	do
		r = poll(&pf, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	do
		n = recv(sync, m, sizeof(*m), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(*m))
		return -EPROTO;
	m->msg[sizeof(m->msg) - 1] = '\0';
	return 1;
}

/* ---- the child's last steps ---- */

static const char *env_path(char *const *envp)
{
	for (char *const *e = envp; e && *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			return *e + 5;
	return DEFAULT_PATH;
}

/* execve, searching PATH (from envp) for a name without a slash. */
static int child_execve(int sync, char *const *argv, char *const *envp)
{
	char path[PATH_MAX];
	const char *p, *end;
	int saved = ENOENT;

	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, envp);
		return ksal_child_fail_exec(sync, errno, argv[0]);
	}
	for (p = env_path(envp); p && *p; p = *end ? end + 1 : end) {
		int n;

		end = strchrnul(p, ':');
		n = snprintf(path, sizeof(path), "%.*s/%s", (int)(end - p), p, argv[0]);
		if (n < 0 || (size_t)n >= sizeof(path) || end == p)
			continue;
		execve(path, argv, envp);
		if (errno != ENOENT && errno != ENOTDIR)
			saved = errno;
	}
	return ksal_child_fail_exec(sync, saved, argv[0]);
}

static int load_seccomp(int sync, const struct sock_filter *prog, size_t len)
{
	struct sock_fprog fprog = { .len = (unsigned short)len,
				    .filter = (struct sock_filter *)prog };

	if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0)
		return ksal_child_fail(sync, errno, "load the seccomp filter");
	return 0;
}

int ksal_child_exec(const struct ksal_exec_params *p)
{
	static char *const empty_env[] = { NULL };
	const struct sock_filter *prog = NULL;
	size_t prog_len = 0;
	int sync = p->sync, fds[3];

	if (sync < 3) {
		sync = fcntl(p->sync, F_DUPFD_CLOEXEC, 3);
		if (sync < 0)
			return ksal_child_fail(p->sync, errno, "move the sync socket");
	}
	/* read, not mapped: an init cloned with CLONE_VM would leave a
	 * mapping behind in the daemon */
	struct sock_filter prog_buf[BPF_MAXINSNS];
	if (p->seccomp_fd >= 0) {
		struct stat st;
		ssize_t n;

		if (fstat(p->seccomp_fd, &st) < 0)
			return ksal_child_fail(sync, errno, "stat the seccomp filter memfd");
		if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
		    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS)
			return ksal_child_fail(
				sync, EINVAL,
				"seccomp filter memfd holds %jd bytes, not a BPF program",
				(intmax_t)st.st_size);
		n = pread(p->seccomp_fd, prog_buf, (size_t)st.st_size, 0);
		if (n != st.st_size)
			return ksal_child_fail(sync, n < 0 ? errno : EIO,
					       "read the seccomp filter memfd");
		prog = prog_buf;
		prog_len = (size_t)st.st_size / sizeof(struct sock_filter);
	}

	/* stdio: first out of the way of 0..2, then into place */
	for (int i = 0; i < 3; i++) {
		int src = p->stdio[i];

		if (src < 0) {
			src = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (src < 0)
				return ksal_child_fail(sync, errno, "open `/dev/null` for stdio");
		}
		fds[i] = fcntl(src, F_DUPFD_CLOEXEC, 3);
		if (fds[i] < 0)
			return ksal_child_fail(sync, errno, "duplicate stdio fd %d", src);
	}
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			return ksal_child_fail(sync, errno, "dup2 stdio fd %d", i);
	/* EPERM: the terminal is already another session's (the user's own
	 * terminal passed through by `strata enter`); never steal it from
	 * the user's shell, run without a controlling terminal instead. */
	if (p->ctty && ioctl(0, TIOCSCTTY, 0) < 0 && errno != EPERM)
		return ksal_child_fail(sync, errno, "make stdin the controlling terminal");
	if (p->cwd && chdir(p->cwd) < 0)
		return ksal_child_fail(sync, errno, "chdir `%s`", p->cwd);

	/* A daemon blocks and ignores signals for its event loop; the init
	 * (and an entered command) starts with none blocked or ignored. */
	sigset_t none;
	sigemptyset(&none);
	for (int sig = 1; sig < _NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL); /* EINVAL for glibc's internal ones */
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		return ksal_child_fail(sync, errno, "unblock signals");

	/* Nothing of the launcher stays open (CRIU refuses to dump otherwise);
	 * the sync socket goes with the execve. */
	if (sync > 3 && close_range(3, sync - 1, 0) < 0)
		return ksal_child_fail(sync, errno, "close inherited fds");
	if (close_range(sync + 1, ~0U, 0) < 0)
		return ksal_child_fail(sync, errno, "close inherited fds");

	for (int c = 0; c < 64; c++) {
		if (!(p->cap_drop & (1ULL << c)))
			continue;
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) < 0)
			break; /* past this kernel's last capability */
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			return ksal_child_fail(sync, errno,
					       "drop capability %d from the bounding set", c);
	}
	if (prog && load_seccomp(sync, prog, prog_len) < 0)
		return -1;
	return child_execve(sync, p->argv, p->envp ? p->envp : empty_env);
}

/* ---- joining cgroups ---- */

/* Child: move itself into every v1 hierarchy (see cgroup_self_fds). */
static int join_cgroups(int sync, const struct ksal_spawn_cfg *cfg)
{
	for (size_t i = 0; i < cfg->n_cgroup_self_fds; i++) {
		char path[PATH_MAX] = "?", fdp[40];
		ssize_t n;
		int e;

		if (write(cfg->cgroup_self_fds[i], "0", 1) == 1)
			continue;
		e = errno;
		snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d", cfg->cgroup_self_fds[i]);
		n = readlink(fdp, path, sizeof(path) - 1);
		path[n > 0 ? n : 1] = '\0';
		return ksal_child_fail(sync, e, "join cgroup: write 0 to `%s`", path);
	}
	return 0;
}

/* ---- ksal_spawn ---- */

static int become_root(int sync, bool userns)
{
	/* The clone keeps the daemon's host uid 0, unmapped (nobody) in a new
	 * user namespace until it switches to the namespace's root. */
	/* raw system calls: libc's broadcast them to every thread it knows
	 * of, and an init cloned with CLONE_VM sees the daemon's threads */
	if (userns && syscall(SYS_setresgid, 0, 0, 0) < 0)
		return ksal_child_fail(sync, errno, "setresgid(0) in the user namespace");
	if (syscall(SYS_setgroups, 0, NULL) < 0)
		return ksal_child_fail(sync, errno, "drop supplementary groups");
	if (userns && syscall(SYS_setresuid, 0, 0, 0) < 0)
		return ksal_child_fail(sync, errno, "setresuid(0) in the user namespace");
	return 0;
}

static int spawn_child(const struct ksal_spawn_cfg *cfg, const struct ksal_cgroupfs_plan *plan,
		       int sync, bool locked)
{
	struct ksal_sync_msg go;

	/* Parent gone or failed before the go: leave quietly. */
	if (ksal_sync_recv(sync, &go, -1) != 1 || go.kind != KSAL_SYNC_GO)
		return 1;
	if (join_cgroups(sync, cfg) < 0)
		return 1;
	if (become_root(sync, cfg->userns) < 0)
		return 1;
	/* The cgroup namespace is made here, not by clone3: its root is the
	 * cgroup of its creator, and on v1/hybrid the parent hook has only
	 * now moved us into the container's cgroups. */
	if (unshare(CLONE_NEWCGROUP) < 0)
		return ksal_child_fail(sync, errno, "unshare the cgroup namespace"), 1;
	/* CRIU wants the init to lead its own session inside its pid ns. */
	if (setsid() < 0)
		return ksal_child_fail(sync, errno, "setsid"), 1;
	if (locked) {
		/* the parent builds the root now that every namespace is ours */
		if (ksal_child_send(sync, KSAL_SYNC_READY, 0) < 0)
			return 1;
		if (ksal_sync_recv(sync, &go, -1) != 1 || go.kind != KSAL_SYNC_GO)
			return 1;
		if (ksal_child_enter_root(cfg, sync) < 0)
			return 1;
	} else if (ksal_child_setup_root(cfg, plan, sync) < 0) {
		return 1;
	}
	if (cfg->hostname && sethostname(cfg->hostname, strlen(cfg->hostname)) < 0)
		return ksal_child_fail(sync, errno, "set hostname `%s`", cfg->hostname), 1;
	for (size_t i = 0; i < cfg->n_rlimits; i++)
		if (setrlimit(cfg->rlimits[i].resource, &cfg->rlimits[i].lim) < 0)
			return ksal_child_fail(sync, errno, "set rlimit %d",
					       cfg->rlimits[i].resource),
			       1;

	/* before the seccomp filter; kept across exec and fork */
	if (cfg->memory_merge && prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) < 0)
		return ksal_child_fail(sync, errno,
				       "enable memory merging (PR_SET_MEMORY_MERGE, Linux 6.4+)"),
		       1;
	struct ksal_exec_params p = {
		.sync = sync,
		.stdio = cfg->stdio,
		.cwd = "/",
		.cap_drop = cfg->cap_drop,
		.seccomp_fd = cfg->seccomp_fd,
		.argv = cfg->argv,
		.envp = cfg->envp,
	};
	ksal_child_exec(&p);
	return 1;
}

static int write_map(pid_t pid, const char *file, const char *map, struct st_error **err)
{
	_cleanup_close_ int fd = -EBADF;
	char path[64];
	size_t len = strlen(map);
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return st_error_set(err, errno, "open `%s`", path);
	n = write(fd, map, len);
	if (n < 0)
		return st_error_set(err, errno, "write `%.*s` to `%s`",
				    (int)(len && map[len - 1] == '\n' ? len - 1 : len), map, path);
	if ((size_t)n != len)
		return st_error_set(err, EIO, "short write to `%s`", path);
	st_trace("spawn: wrote %s of %d: %.*s", file, (int)pid,
		 (int)(len && map[len - 1] == '\n' ? len - 1 : len), map);
	return 0;
}

static int check_cfg(const struct ksal_spawn_cfg *cfg, struct st_error **err)
{
	if (!cfg->rootfs || cfg->rootfs[0] != '/')
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
				     "spawn: the root must be an absolute path");
	if (!cfg->argv || !cfg->argv[0] || !cfg->argv[0][0])
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL, "spawn: no init to run");
	if (strlen(cfg->rootfs) > PATH_MAX - 64)
		return st_error_setx(err, ST_EXIT_BADVALUE, ENAMETOOLONG, "spawn: root `%s`",
				     cfg->rootfs);
	if (cfg->hostname && strlen(cfg->hostname) > 64)
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
				     "spawn: hostname `%s` is longer than 64 bytes", cfg->hostname);
	if (!cfg->new_net && cfg->userns)
		st_debug(
			"spawn: user namespace without a new net ns: /sys is the host's, read-only");
	return 0;
}

/* The clone itself (the clone lock, CLONE_VM on a stack of its own): spawn-clone.c. */
struct child_args {
	const struct ksal_spawn_cfg *cfg;
	const struct ksal_cgroupfs_plan *plan;
	int parent_end, child_end;
	bool locked;
};

/* The fds the init keeps from the daemon: at most 6 + n_cgroup_self_fds. */
static size_t spawn_child_keep(const struct ksal_spawn_cfg *cfg, int sync, int *keep)
{
	size_t n = 0;

	keep[n++] = sync;
	for (int i = 0; i < 3; i++)
		keep[n++] = cfg->stdio[i];
	keep[n++] = cfg->console_fd;
	keep[n++] = cfg->seccomp_fd;
	for (size_t i = 0; i < cfg->n_cgroup_self_fds; i++)
		keep[n++] = cfg->cgroup_self_fds[i];
	return n;
}

static int spawn_child_entry(void *p)
{
	const struct child_args *a = p;
	int keep[KSAL_CHILD_KEEP_MAX];
	size_t n = spawn_child_keep(a->cfg, a->child_end, keep);

	/* first thing: the copies of other spawns' sync sockets (and of the
	 * daemon's other fds, the parent end among them) go now, not at the
	 * exec (clone_lock) */
	if (ksal_child_close_others(keep, n) < 0)
		return 1; /* the parent sees EOF before the init's go */
	return spawn_child(a->cfg, a->plan, a->child_end, a->locked);
}

/* The sources of the locked path, opened in the caller's mount namespace. */
struct spawn_trees {
	int root;
	struct ksal_root_trees t;
	size_t n_binds;
};

static void spawn_trees_clear(struct spawn_trees *st)
{
	closep(&st->root);
	for (size_t i = 0; st->t.binds && i < st->n_binds; i++)
		closep(&st->t.binds[i]);
	free(st->t.binds);
	closep(&st->t.sys);
}

static int clone_tree(int dfd, const char *path, unsigned int flags, const char *what,
		      struct st_error **err)
{
	int fd = open_tree(dfd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | flags);

	if (fd < 0)
		return st_error_set(err, errno, "spawn: clone the mount tree of %s", what);
	return fd;
}

static int spawn_trees_open(const struct ksal_spawn_cfg *cfg, struct spawn_trees *st,
			    struct st_error **err)
{
	char what[PATH_MAX + 16];

	snprintf(what, sizeof(what), "the root `%s`", cfg->rootfs);
	st->root = clone_tree(AT_FDCWD, cfg->rootfs, AT_RECURSIVE, what, err);
	if (st->root < 0)
		return -1;
	if (cfg->n_binds) {
		st->t.binds = malloc(cfg->n_binds * sizeof(*st->t.binds));
		if (!st->t.binds)
			return st_error_set(err, ENOMEM, "spawn: binds");
		for (size_t i = 0; i < cfg->n_binds; i++)
			st->t.binds[i] = -EBADF;
		st->n_binds = cfg->n_binds;
	}
	for (size_t i = 0; i < cfg->n_binds; i++) {
		snprintf(what, sizeof(what), "`%s` (bind on `%s`)", cfg->binds[i].source,
			 cfg->binds[i].target);
		st->t.binds[i] = cfg->binds[i].use_fd
					 ? clone_tree(cfg->binds[i].source_fd, "",
						      AT_RECURSIVE | AT_EMPTY_PATH, what, err)
					 : clone_tree(AT_FDCWD, cfg->binds[i].source, AT_RECURSIVE,
						      what, err);
		if (st->t.binds[i] < 0)
			return -1;
	}
	if (!cfg->new_net && cfg->userns) {
		st->t.sys = clone_tree(AT_FDCWD, "/sys", AT_RECURSIVE, "`/sys`", err);
		if (st->t.sys < 0)
			return -1;
	}
	return 0;
}

/* The error the init reported (r > 0, m an ERROR), or why none came. */
static int child_error(const struct ksal_spawn_cfg *cfg, int r, const struct ksal_sync_msg *m,
		       const char *waiting_for, struct st_error **err)
{
	if (r == -ETIMEDOUT)
		return st_error_setx(err, ST_EXIT_TIMEOUT, ETIMEDOUT,
				     "spawn: the init `%s` did not get to its %s within %d s",
				     cfg->argv[0], waiting_for, KSAL_SYNC_TIMEOUT_MS / 1000);
	if (r < 0)
		return st_error_set(err, -r, "spawn: wait for the init's %s", waiting_for);
	if (r == 0)
		return st_error_set(err, EPIPE, "spawn: the init exited before its %s",
				    waiting_for);
	if (m->kind != KSAL_SYNC_ERROR)
		return st_error_set(err, EPROTO, "spawn: unexpected message from the init");
	/* an init that cannot be run is a broken container (vzctl's 47) */
	return st_error_setx(err, m->value == KSAL_STEP_EXEC ? ST_EXIT_BROKEN : ST_EXIT_SYSTEM,
			     m->errnum, "spawn: %s", m->msg);
}

int ksal_spawn(const struct ksal_spawn_cfg *cfg, struct ksal_spawned *out, struct st_error **err)
{
	_cleanup_free_ char *uid_map = NULL, *gid_map = NULL;
	_cleanup_close_ int parent_end = -EBADF, child_end = -EBADF, pidfd = -EBADF;
	_cleanup_(ksal_build_ns_clear) struct ksal_build_ns bns = KSAL_BUILD_NS_INIT;
	_cleanup_(spawn_trees_clear) struct spawn_trees trees = { .root = -EBADF,
								  .t = { .sys = -EBADF } };
#if defined(__x86_64__) && !defined(STRATA_NO_CLONE_VM)
	/* released after the init is gone or has exec'd (cleanups run in
	 * reverse: the child is killed and waited for first) */
	_cleanup_(ksal_spawn_stack_put) char *stack = NULL;
#endif
	_cleanup_kill_ pid_t child = -1;
	struct ksal_sync_msg m = { .kind = KSAL_SYNC_GO };
	bool locked;
	int sv[2], r;

	r = check_cfg(cfg, err);
	if (r < 0)
		return r;
	if (cfg->userns) {
		r = ksal_idmap_format("uid map", cfg->uid_map, cfg->n_uid_map, &uid_map, err);
		if (r < 0)
			return st_error_prefix(err, "spawn: ");
		r = ksal_idmap_format("gid map", cfg->gid_map, cfg->n_gid_map, &gid_map, err);
		if (r < 0)
			return st_error_prefix(err, "spawn: ");
	}
	(void)ksal_mount_new_api(); /* probe once, before the fork */
	locked = !cfg->unlocked_mounts && ksal_spawn_locked_supported();
	struct ksal_cgroupfs_plan plan = { 0 };
	if (cfg->cgroupfs && ksal_cgroupfs_plan(&plan, err) < 0)
		return st_error_prefix(err, "spawn: ");

	/* Locked path: the sources as detached trees from here, then into a
	 * build namespace of this start's own, the root attached there; the
	 * init is cloned into it and takes its own copy later. */
	if (locked) {
		if (spawn_trees_open(cfg, &trees, err) < 0 || ksal_build_ns_create(&bns, err) < 0)
			return -1;
		if (move_mount(trees.root, "", AT_FDCWD, KSAL_BUILD_DIR, MOVE_MOUNT_F_EMPTY_PATH) <
		    0)
			return st_error_set(err, errno, "spawn: attach the root `%s` to build it",
					    cfg->rootfs);
	}

	struct ksal_clone_args args = {
		.flags = CLONE_PIDFD | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWTIME |
			 (locked ? 0 : CLONE_NEWNS),
		.pidfd = (uint64_t)(uintptr_t)&pidfd,
		.exit_signal = SIGCHLD,
	};
	if (cfg->new_net)
		args.flags |= CLONE_NEWNET;
	if (cfg->userns)
		args.flags |= CLONE_NEWUSER;
	if (cfg->cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cfg->cgroup_fd;
	}
	if (cfg->n_cgroup_self_fds > KSAL_CHILD_KEEP_MAX - 6)
		return st_error_set(err, EMFILE, "spawn: %zu cgroup fds to join, at most %d",
				    cfg->n_cgroup_self_fds, KSAL_CHILD_KEEP_MAX - 6);
	/* from the socketpair to the close of the child end here, no fork():
	 * its child would hold a copy of the child end until its own exec, and
	 * the EOF that says this init exec'd waits for every copy; other
	 * spawns' children close theirs at once (clone_lock) */
	ksal_clone_lock_shared();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = errno;
		ksal_clone_unlock_shared();
		return st_error_set(err, r, "spawn: socketpair");
	}
	parent_end = sv[0];
	child_end = sv[1];
	struct child_args ca = { cfg, &plan, parent_end, child_end, locked };
#if defined(__x86_64__) && !defined(STRATA_NO_CLONE_VM)
	stack = ksal_spawn_stack_get();
	if (stack) {
		args.flags |= CLONE_VM;
		args.stack = (uint64_t)(uintptr_t)stack;
		args.stack_size = KSAL_SPAWN_STACK_SIZE;
		child = ksal_clone3_vm(&args, spawn_child_entry, &ca);
	} else {
		child = ksal_clone3(&args);
	}
#else
	child = ksal_clone3(&args);
#endif
	if (child < 0) {
		r = errno;
		child = -1;
		closep(&child_end);
		ksal_clone_unlock_shared();
		return st_error_set(err, r,
				    "spawn: clone3 the container's init (flags %#" PRIx64 ")",
				    args.flags);
	}
	if (child == 0) /* forked, not cloned on a stack of its own */
		_exit(spawn_child_entry(&ca));
	closep(&child_end);
	ksal_clone_unlock_shared();
	ksal_build_ns_leave(&bns);
	st_trace("spawn: cloned init %d for `%s`%s", (int)child, cfg->rootfs,
		 locked ? " (locked mounts)" : "");

	if (cfg->userns) {
		if (write_map(child, "uid_map", uid_map, err) < 0 ||
		    write_map(child, "gid_map", gid_map, err) < 0)
			return st_error_prefix(err, "spawn: ");
	}
	if (cfg->parent_hook) {
		r = cfg->parent_hook(child, pidfd, cfg->hook_data, err);
		if (r < 0) {
			if (!err || !*err)
				return st_error_set(err, r < -1 ? -r : 0,
						    "spawn: parent hook failed");
			return r;
		}
	}
	if (send(parent_end, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m))
		return st_error_set(err, errno, "spawn: tell the init to go on");

	if (locked) {
		r = ksal_sync_recv(parent_end, &m, KSAL_SYNC_TIMEOUT_MS);
		if (r != 1 || m.kind != KSAL_SYNC_READY)
			return child_error(cfg, r, &m, "namespaces", err);
		if (ksal_build_ns_enter(&bns, err) < 0)
			return -1;
		r = ksal_parent_build_root(cfg, &plan, trees.root, child, pidfd, &trees.t, err);
		ksal_build_ns_leave(&bns);
		if (r < 0)
			return -1;
		m = (struct ksal_sync_msg){ .kind = KSAL_SYNC_GO };
		if (send(parent_end, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m))
			return st_error_set(err, errno, "spawn: tell the init to go on");
	}

	r = ksal_sync_recv(parent_end, &m, KSAL_SYNC_TIMEOUT_MS);
	if (r != 0)
		return child_error(cfg, r, &m, "exec", err);

	st_trace("spawn: init %d exec'd `%s` in `%s`", (int)child, cfg->argv[0], cfg->rootfs);
	out->start_time = 0;
	r = ksal_pid_start_time(child, &out->start_time);
	if (r < 0)
		return st_error_set(err, -r, "spawn: read the start time of pid %d", (int)child);
	out->pid = take_pid(child);
	out->pidfd = take_fd(pidfd);
	if (cfg->defer_fd)
		*cfg->defer_fd = take_fd(bns.ns);
	return 0;
}

/* ---- pids ---- */

int ksal_pid_start_time(pid_t pid, uint64_t *out)
{
	_cleanup_close_ int fd = -EBADF;
	char path[64], buf[1024];
	unsigned long long v;
	ssize_t n;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return errno == ESRCH ? -ESRCH : -errno;
	buf[n] = '\0';
	/* comm may hold spaces and parens: fields start after the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	p++;
	/* p is at field 3 (after a space); skip to field 22 */
	for (int field = 2; field < 21; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EINVAL;
	}
	if (sscanf(p, " %llu", &v) != 1)
		return -EINVAL;
	*out = v;
	return 0;
}

int ksal_pidfd_adopt(pid_t pid, uint64_t start_time, int *pidfd, struct st_error **err)
{
	_cleanup_close_ int fd = -EBADF;
	uint64_t now;
	int r;

	if (pid <= 0)
		return st_error_set(err, EINVAL, "adopt pid %d", (int)pid);
	fd = pidfd_open(pid, 0);
	if (fd < 0)
		return st_error_set(err, errno, "adopt pid %d: pidfd_open", (int)pid);
	/* The pidfd pins the process; if its start time differs now, the
	 * pid was reused before we opened it. */
	r = ksal_pid_start_time(pid, &now);
	if (r < 0)
		return st_error_set(err, -r, "adopt pid %d: read its start time", (int)pid);
	if (now != start_time)
		return st_error_setx(err, ST_EXIT_NOTRUNNING, ESRCH,
				     "adopt pid %d: started at %" PRIu64 ", not %" PRIu64
				     " (pid reused)",
				     (int)pid, now, start_time);
	*pidfd = take_fd(fd);
	return 0;
}
