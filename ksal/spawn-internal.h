/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by spawn.c, spawn-clone.c, spawn-root.c and enter.c: the
 * parent/child sync protocol and the child's last steps before exec.
 *
 * The sync socket is a SOCK_SEQPACKET pair, close-on-exec on both ends. The
 * child sends at most a pid message (enter) and one error message; the
 * parent reads until EOF, which comes when every child copy of the socket
 * is gone: closed by a successful execve or by the child's exit.
 *
 * Child code runs right after clone3 in a copy of a possibly larger
 * process: it allocates nothing (fixed buffers, checked snprintf) and
 * leaves with _exit().
 */
#ifndef STRATA_KSAL_SPAWN_INTERNAL_H
#define STRATA_KSAL_SPAWN_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "ksal/spawn.h"

/* READY: the init is in its namespaces (cgroup ns too) and waits for the
 * parent to build its root (the locked-mounts path of ksal_spawn) */
enum { KSAL_SYNC_GO = 1, KSAL_SYNC_ERROR = 2, KSAL_SYNC_PID = 3, KSAL_SYNC_READY = 4 };
/* value of an error message: which step failed */
enum { KSAL_STEP_SETUP = 0, KSAL_STEP_EXEC = 1 };

struct ksal_sync_msg {
	int32_t kind;
	int32_t errnum;
	int64_t value;
	char msg[1024];
};

/* Child: report "msg: strerror(errnum)" to the parent; returns -1. */
int ksal_child_fail(int sync, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same for the final execve (value KSAL_STEP_EXEC). */
int ksal_child_fail_exec(int sync, int errnum, const char *path);
int ksal_child_send(int sync, int kind, int64_t value);
/* The next message; 1 got one, 0 EOF, -ETIMEDOUT after timeout_ms (-1:
 * wait forever), -errno on error. */
int ksal_sync_recv(int sync, struct ksal_sync_msg *m, int timeout_ms);
/* How long a parent waits for its child's setup and exec. */
#define KSAL_SYNC_TIMEOUT_MS 30000

struct ksal_exec_params {
	int sync;
	const int *stdio; /* [3], -1: /dev/null */
	bool ctty;	  /* make stdin the controlling tty (after setsid) */
	const char *cwd;  /* NULL: leave */
	uint64_t cap_drop;
	int seccomp_fd;
	char *const *argv;
	char *const *envp;
};
/* Child: stdio, close every other fd, bounding set, seccomp, execve.
 * Returns only on failure, after reporting it. */
int ksal_child_exec(const struct ksal_exec_params *p);

/* The host's cgroup hierarchies, read by the parent before clone3, so the
 * child (cfg->cgroupfs) can mount the same ones in the container. */
#define KSAL_CGROUPFS_MAX 32
struct ksal_cgroupfs_plan {
	size_t n;
	bool v2_only; /* cgroup2 on /sys/fs/cgroup itself */
	struct {
		char dir[64];	/* under /sys/fs/cgroup, "" for v2_only */
		char data[256]; /* mount options: "cpu", "none,name=systemd,xattr" */
		bool v2, ro;
	} h[KSAL_CGROUPFS_MAX];
};
int ksal_cgroupfs_plan(struct ksal_cgroupfs_plan *plan, struct st_error **err);
/* The same from mountinfo text (tests). */
int ksal_cgroupfs_plan_parse(FILE *mountinfo, struct ksal_cgroupfs_plan *plan,
			     struct st_error **err);

/* Child of ksal_spawn, the mount(2)-era path (no locked mounts): mounts in
 * the init's own mount namespace and pivot_root into cfg->rootfs. */
int ksal_child_setup_root(const struct ksal_spawn_cfg *cfg, const struct ksal_cgroupfs_plan *plan,
			  int sync);

/* ---- the locked-mounts path (spawn-ns.c, spawn-root.c) ---- */

/* Where a container's root is attached in its build namespace. */
#define KSAL_BUILD_DIR "/tmp"

/* One start's build mount namespace, and the way back to the caller's. */
struct ksal_build_ns {
	int home; /* the caller's mount namespace */
	int cwd;  /* the caller's working directory */
	int ns;	  /* the build namespace */
	bool inside;
};
#define KSAL_BUILD_NS_INIT                                                                         \
	{                                                                                          \
		.home = -EBADF, .cwd = -EBADF, .ns = -EBADF                                        \
	}
/* Make a build namespace (a copy of the small base one) and stay in it. */
int ksal_build_ns_create(struct ksal_build_ns *b, struct st_error **err);
int ksal_build_ns_enter(struct ksal_build_ns *b, struct st_error **err);
/* Back to the caller's namespace (aborts if the kernel refuses). */
void ksal_build_ns_leave(struct ksal_build_ns *b);
void ksal_build_ns_clear(struct ksal_build_ns *b);
/* Join the init's net or cgroup namespace (type CLONE_NEWNET/NEWCGROUP)
 * for one mount, and return to the caller's. */
int ksal_ns_join(int pidfd, int type, int *saved, struct st_error **err);
void ksal_ns_return(int *saved, int type);

/* Sources opened in the caller's mount namespace as detached trees, since
 * the build namespace cannot see them: -EBADF where none. */
struct ksal_root_trees {
	int *binds; /* one per cfg->binds */
	int sys;    /* the host's /sys (a user namespace without a net ns) */
};
/* Parent, in the build namespace: every mount of the container on the
 * root tree rootfd (attached on KSAL_BUILD_DIR), made as the caller. The
 * trees are consumed. */
int ksal_parent_build_root(const struct ksal_spawn_cfg *cfg, const struct ksal_cgroupfs_plan *plan,
			   int rootfd, pid_t child, int pidfd, struct ksal_root_trees *trees,
			   struct st_error **err);
/* Child, after the parent built its root: a copy of the build namespace
 * owned by its user namespace (every mount locked), then pivot_root into
 * KSAL_BUILD_DIR; /dev is its own (see build_root). */
int ksal_child_enter_root(const struct ksal_spawn_cfg *cfg, int sync);

/* spawn-clone.c: a spawn or an enter holds the shared side from its sync
 * socketpair to the parent's close of its child end; every fork() of the
 * process takes the exclusive side (pthread_atfork). Spawns and enters run
 * their clones at the same time: each of their children closes, first
 * thing, every fd it inherited but its own (ksal_child_close_others), so a
 * copy of another's child end lives microseconds, not until an exec. A
 * fork()ed child cannot be made to: no fork while a child end is open. */
void ksal_clone_lock_shared(void);
void ksal_clone_unlock_shared(void);

/* The most fds a spawn's or an enter's child keeps (checked by the parent
 * before the clone). */
#define KSAL_CHILD_KEEP_MAX 128
/* Child, first thing after the clone: close every fd but the n in keep
 * (negative ones ignored; keep is sorted in place). Returns 0 or -errno. */
int ksal_child_close_others(int *keep, size_t n);

/* spawn-clone.c, x86-64: the init is cloned with CLONE_VM on a stack of its
 * own (see there); build with -DSTRATA_NO_CLONE_VM for a fork-like clone3. */
#if defined(__x86_64__) && !defined(STRATA_NO_CLONE_VM)
#define KSAL_SPAWN_STACK_SIZE (1UL << 20)
struct ksal_clone_args;
/* This thread's stack for the next init: the low end of its
 * KSAL_SPAWN_STACK_SIZE bytes (clone3's stack), above a guard page; NULL if
 * there is none (clone without CLONE_VM then). */
char *ksal_spawn_stack_get(void);
/* Give the stack back (a _cleanup_ function; NULL is a no-op). */
void ksal_spawn_stack_put(char **stack);
/* clone3(args) with args->stack set; the child runs fn(arg) and exits with
 * its result. The parent gets the child's pid, or -1 with errno. */
pid_t ksal_clone3_vm(struct ksal_clone_args *args, int (*fn)(void *), void *arg);
#endif

#endif
