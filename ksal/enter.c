/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ksal_enter(): run a command inside a running container.
 *
 * The caller forks an intermediate child that joins the container's cgroup
 * (while it still may write the host's cgroup.procs), then setns(init's
 * pidfd, every namespace of the init that differs from ours) — joining our
 * own user namespace would fail with EINVAL. A pid namespace only applies
 * to children, so the intermediate clone3s again with CLONE_PARENT: the
 * grandchild runs inside the container's pid namespace yet is the
 * caller's child, so the caller can wait for it by pid or pidfd. The
 * intermediate sends the grandchild's pid and exits; the grandchild sets
 * up stdio, its session, bounding set and seccomp, and execs. Its exec is
 * confirmed by the sync socket reaching EOF with no error on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ksal/syscalls.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/spawn-internal.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67 /* Linux 6.4 */
#endif

static const struct {
	int flag;
	const char *name;
} namespaces[] = {
	{ CLONE_NEWUSER, "user" },     { CLONE_NEWNS, "mnt" },	  { CLONE_NEWPID, "pid" },
	{ CLONE_NEWUTS, "uts" },       { CLONE_NEWIPC, "ipc" },	  { CLONE_NEWNET, "net" },
	{ CLONE_NEWCGROUP, "cgroup" }, { CLONE_NEWTIME, "time" },
};

/* The namespaces of `pid` that differ from the caller's. */
static int differing_namespaces(pid_t pid, int *flags, struct st_error **err)
{
	char path[64];
	struct stat theirs, ours;

	*flags = 0;
	for (size_t i = 0; i < ARRAY_SIZE(namespaces); i++) {
		snprintf(path, sizeof(path), "/proc/self/ns/%s", namespaces[i].name);
		if (stat(path, &ours) < 0) {
			if (errno == ENOENT)
				continue; /* this kernel lacks the namespace type */
			return st_error_set(err, errno, "stat `%s`", path);
		}
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, namespaces[i].name);
		if (stat(path, &theirs) < 0)
			return st_error_setx(err,
					     errno == ENOENT ? ST_EXIT_NOTRUNNING : ST_EXIT_SYSTEM,
					     errno, "stat `%s`", path);
		if (theirs.st_ino != ours.st_ino || theirs.st_dev != ours.st_dev)
			*flags |= namespaces[i].flag;
	}
	return 0;
}

static int enter_grandchild(const struct ksal_enter_cfg *cfg, int sync)
{
	struct ksal_exec_params p = {
		.sync = sync,
		.stdio = cfg->stdio,
		.ctty = cfg->setsid_ctty,
		.cwd = cfg->cwd ? cfg->cwd : "/",
		.cap_drop = cfg->cap_drop,
		.seccomp_fd = cfg->seccomp_fd,
		.argv = cfg->argv,
		.envp = cfg->envp,
	};

	/* Its own session inside the container (CRIU refuses a session
	 * leader outside the pid ns), and the tty's when asked. */
	if (setsid() < 0)
		return ksal_child_fail(sync, errno, "setsid");
	for (size_t i = 0; i < cfg->n_rlimits; i++)
		if (setrlimit(cfg->rlimits[i].resource, &cfg->rlimits[i].lim) < 0)
			return ksal_child_fail(sync, errno, "set rlimit %d",
					       cfg->rlimits[i].resource);
	/* MEMORY_MERGE containers: commands run in them merge as the init does */
	if (cfg->memory_merge && prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) < 0)
		return ksal_child_fail(sync, errno,
				       "enable memory merging (PR_SET_MEMORY_MERGE, Linux 6.4+)");
	ksal_child_exec(&p);
	return 1;
}

/* The fds the child keeps: at most 7 + n_cgroup_procs_fds. */
static size_t enter_child_keep(const struct ksal_enter_cfg *cfg, int sync, int *keep)
{
	size_t n = 0;

	keep[n++] = sync;
	for (int i = 0; i < 3; i++)
		keep[n++] = cfg->stdio[i];
	keep[n++] = cfg->seccomp_fd;
	keep[n++] = cfg->init_pidfd;
	keep[n++] = cfg->cgroup_procs_fd;
	for (size_t i = 0; i < cfg->n_cgroup_procs_fds; i++)
		keep[n++] = cfg->cgroup_procs_fds[i];
	return n;
}

static int enter_child(const struct ksal_enter_cfg *cfg, int flags, int sync)
{
	char buf[32];
	pid_t pid;
	int n;

	/* while our host credentials may still write the host's cgroupfs */
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (cfg->cgroup_procs_fd >= 0 && write(cfg->cgroup_procs_fd, buf, (size_t)n) != n)
		return ksal_child_fail(sync, errno, "join the container's cgroup"), 1;
	for (size_t i = 0; i < cfg->n_cgroup_procs_fds; i++)
		if (write(cfg->cgroup_procs_fds[i], buf, (size_t)n) != n)
			return ksal_child_fail(sync, errno,
					       "join the container's cgroup (hierarchy %zu)",
					       i + 1),
			       1;
	if (flags && setns(cfg->init_pidfd, flags) < 0)
		return ksal_child_fail(sync, errno, "setns into the namespaces of pid %d (%#x)",
				       (int)cfg->init_pid, flags),
		       1;
	/* raw set*id: this is a clone of a process that may have threads (the
	 * daemon's start workers), and libc's would signal them all */
	if (flags & CLONE_NEWUSER) {
		/* our host uid is unmapped there: become the namespace's root */
		if (syscall(SYS_setresgid, 0, 0, 0) < 0 || syscall(SYS_setgroups, 0, NULL) < 0 ||
		    syscall(SYS_setresuid, 0, 0, 0) < 0)
			return ksal_child_fail(sync, errno,
					       "become root in the user namespace of pid %d",
					       (int)cfg->init_pid),
			       1;
	} else if (syscall(SYS_setgroups, 0, NULL) < 0) {
		return ksal_child_fail(sync, errno, "drop supplementary groups"), 1;
	}

	struct ksal_clone_args args = { .flags = CLONE_PARENT };
	pid = ksal_clone3(&args);
	if (pid < 0)
		return ksal_child_fail(sync, errno, "clone3 into the pid namespace of pid %d",
				       (int)cfg->init_pid),
		       1;
	if (pid == 0)
		_exit(enter_grandchild(cfg, sync));
	return ksal_child_send(sync, KSAL_SYNC_PID, pid) < 0 ? 1 : 0;
}

int ksal_enter(const struct ksal_enter_cfg *cfg, struct ksal_spawned *out, struct st_error **err)
{
	_cleanup_close_ int parent_end = -EBADF, child_end = -EBADF, pidfd = -EBADF;
	_cleanup_kill_ pid_t child = -1, grandchild = -1;
	_cleanup_error_ struct st_error *child_err = NULL;
	struct ksal_sync_msg m;
	int sv[2], flags, r;

	if (!cfg->argv || !cfg->argv[0] || !cfg->argv[0][0])
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL, "enter: no command to run");
	if (cfg->init_pidfd < 0 || cfg->init_pid <= 0)
		return st_error_setx(err, ST_EXIT_NOTRUNNING, ESRCH, "enter: no container init");
	r = differing_namespaces(cfg->init_pid, &flags, err);
	if (r < 0)
		return st_error_prefix(err, "enter: ");
	/* the pid may have been reused since: the pidfd is the authority */
	if (pidfd_send_signal(cfg->init_pidfd, 0, NULL, 0) < 0)
		return st_error_setx(err, ST_EXIT_NOTRUNNING, errno, "enter: init pid %d",
				     (int)cfg->init_pid);

	if (cfg->n_cgroup_procs_fds > KSAL_CHILD_KEEP_MAX - 7)
		return st_error_set(err, EMFILE, "enter: %zu cgroup fds to join, at most %d",
				    cfg->n_cgroup_procs_fds, KSAL_CHILD_KEEP_MAX - 7);
	/* no fork() copies the child end meanwhile (ksal_clone_lock_shared) */
	ksal_clone_lock_shared();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = errno;
		ksal_clone_unlock_shared();
		return st_error_set(err, r, "enter: socketpair");
	}
	parent_end = sv[0];
	child_end = sv[1];

	struct ksal_clone_args args = { .exit_signal = SIGCHLD };
	child = ksal_clone3(&args);
	if (child < 0) {
		r = errno;
		child = -1;
		closep(&child_end);
		ksal_clone_unlock_shared();
		return st_error_set(err, r, "enter: clone3");
	}
	if (child == 0) {
		int keep[KSAL_CHILD_KEEP_MAX];

		/* first thing: other spawns' sync sockets (and the parent
		 * end) are not kept until the exec (ksal_clone_lock_shared) */
		if (ksal_child_close_others(keep, enter_child_keep(cfg, child_end, keep)) < 0)
			_exit(1);
		_exit(enter_child(cfg, flags, child_end));
	}
	closep(&child_end);
	ksal_clone_unlock_shared();

	/* pid message from the intermediate, maybe an error from either */
	while ((r = ksal_sync_recv(parent_end, &m, KSAL_SYNC_TIMEOUT_MS)) > 0) {
		if (m.kind == KSAL_SYNC_PID)
			grandchild = (pid_t)m.value;
		else if (m.kind == KSAL_SYNC_ERROR)
			st_error_setx(&child_err,
				      m.value == KSAL_STEP_EXEC ? ST_EXIT_EXEC : ST_EXIT_SYSTEM,
				      m.errnum, "enter: %s", m.msg);
	}
	/* (on these, cleanup kills and reaps both children) */
	if (r == -ETIMEDOUT)
		return st_error_setx(err, ST_EXIT_TIMEOUT, ETIMEDOUT,
				     "enter: `%s` did not get to exec within %d s", cfg->argv[0],
				     KSAL_SYNC_TIMEOUT_MS / 1000);
	if (r < 0)
		return st_error_set(err, -r, "enter: wait for the command's exec");
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	child = -1;
	if (child_err) {
		r = st_error_ret(child_err);
		if (err && !*err)
			*err = take_ptr(child_err);
		return r;
	}
	if (grandchild <= 0)
		return st_error_set(err, EPROTO, "enter: the command was not started");

	/* It is our child and not yet waited for: its pid cannot be reused. */
	pidfd = pidfd_open(grandchild, 0);
	if (pidfd < 0)
		return st_error_set(err, errno, "enter: pidfd_open %d", (int)grandchild);
	out->start_time = 0;
	(void)ksal_pid_start_time(grandchild, &out->start_time);
	st_trace("enter: pid %d runs `%s` in the container of pid %d", (int)grandchild,
		 cfg->argv[0], (int)cfg->init_pid);
	out->pid = take_pid(grandchild);
	out->pidfd = take_fd(pidfd);
	return 0;
}
