/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Creating a container's init, and entering a running container.
 *
 * ksal_spawn() does steps 5-7 of DESIGN.md's start sequence: clone3 with new
 * namespaces and CLONE_PIDFD (CLONE_INTO_CGROUP when a cgroup fd is given),
 * parent and child synchronised over a socketpair; the parent writes id maps
 * and runs the caller's hook (cgroup attach on v1, network setup), the child
 * sets up its root (private propagation, pivot_root, /proc, /sys, /dev,
 * masked paths, hostname), rlimits, capability bounding set, seccomp, and
 * execs the init. Any failure on either side is reported through *err with
 * the step that failed, and leaves no process behind.
 */
#ifndef STRATA_KSAL_SPAWN_H
#define STRATA_KSAL_SPAWN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "ksal/error.h"

/* One id-map line: inside id, outside (host) id, count. */
struct ksal_idmap {
	uint32_t inside, outside, count;
};

/*
 * Id maps. Valid: 1..340 lines (the kernel's limit), every count > 0, no
 * range running past 4294967294, inside ranges pairwise disjoint and
 * outside ranges pairwise disjoint. `what` names the map in messages
 * ("uid map"). ksal_idmap_format() validates and writes the text
 * /proc/PID/uid_map takes: "inside outside count\n" per line.
 */
int ksal_idmap_validate(const char *what, const struct ksal_idmap *map, size_t n,
			struct st_error **err);
int ksal_idmap_format(const char *what, const struct ksal_idmap *map, size_t n, char **out,
		      struct st_error **err);
/* The host id of an inside id, -1 if it is not mapped. */
int64_t ksal_idmap_to_host(const struct ksal_idmap *map, size_t n, uint32_t inside);

/* A bind mount made inside the container before pivot_root. */
struct ksal_bind {
	const char *source; /* host path */
	const char *target; /* path inside the container's root */
	bool readonly;
	bool create_file; /* create target as a file (else a directory) if missing */
	/* with use_fd: source_fd (O_PATH is enough, the caller's) is what
	 * the locked path clones, with no walk of source; a FUSE source
	 * (lxcfs) answers each component's lookup from its server */
	bool use_fd;
	int source_fd;
};

struct ksal_rlimit {
	int resource;
	struct rlimit lim;
};

struct ksal_spawn_cfg {
	const char *rootfs;   /* composed root, already mounted; with userns its
			       * parents must be searchable by the mapped root */
	const char *hostname; /* NULL: leave */
	char *const *argv;    /* init and its arguments, path inside rootfs; a name
			       * without '/' is searched in envp's PATH (or a default) */
	char *const *envp;    /* NULL: empty environment */

	/* Namespaces: pid, mount, uts, ipc, cgroup, time are always new (the
	 * cgroup ns is rooted where the child is after parent_hook ran). */
	bool new_net; /* false: share the host's (privileged only) */
	bool userns;  /* new user namespace with these maps */
	const struct ksal_idmap *uid_map;
	size_t n_uid_map;
	const struct ksal_idmap *gid_map;
	size_t n_gid_map;

	int cgroup_fd; /* cgroup2 (v2, or hybrid's unified): CLONE_INTO_CGROUP fd; -1: none */
	/* v1 hierarchies: fds of the container cgroup's `tasks` files, opened
	 * by the caller (the kernel checks the opener's credentials). The
	 * child writes "0" to each, first thing: a task moving itself skips
	 * the global cgroup_threadgroup_rwsem write lock, whose RCU grace
	 * period costs 5-16 ms per start when the parent writes the child's
	 * pid to cgroup.procs. See ksal_cgroup_join_prepare(). */
	const int *cgroup_self_fds;
	size_t n_cgroup_self_fds;

	/* Runs in the parent after id maps are written and before the child
	 * goes on: attach to v1 cgroups, create and move veths... pidfd is the
	 * child's. Return <0 and fill err to abort the start. */
	int (*parent_hook)(pid_t pid, int pidfd, void *data, struct st_error **err);
	void *hook_data;

	const struct ksal_bind *binds;
	size_t n_binds;
	const char *const *masked_paths;   /* NULL-terminated; /dev/null or empty tmpfs over them */
	const char *const *readonly_paths; /* NULL-terminated */
	const struct ksal_rlimit *rlimits;
	size_t n_rlimits;

	uint64_t cap_drop; /* bitmask of CAP_* (1ULL << cap) dropped from the bounding set */
	int seccomp_fd;	   /* a memfd holding a compiled BPF program (ksal_seccomp_*), -1: none */

	/* The init's stdin/stdout/stderr (a console pty slave, or /dev/null);
	 * -1 each for /dev/null. Every other fd is closed in the child. */
	int stdio[3];
	int console_fd; /* pty slave bind-mounted on /dev/console; -1: none */
	/* Set: on success the start's build mount namespace (locked path) is
	 * handed over here (else -1) instead of being closed: its last close
	 * dissolves the mounts and waits for an RCU grace period (0.3-0.5 ms),
	 * which the caller can spend after it has answered. NULL: closed. */
	int *defer_fd;

	/* Mount /sys/fs/cgroup as systemd-nspawn does, after this host's
	 * layout: a read-only tmpfs holding every v1 hierarchy (controllers
	 * read-only, named ones such as name=systemd writable) and cgroup2
	 * (writable), or cgroup2 on /sys/fs/cgroup on a pure v2 host. The
	 * cgroup namespace roots them all at the container's cgroups. */
	bool cgroupfs;

	/* The init builds its own mounts, as where the kernel cannot lock
	 * them: nested containers inside need a fresh proc mount, which the
	 * kernel refuses while locked masks cover files of /proc. */
	bool unlocked_mounts;

	/* prctl(PR_SET_MEMORY_MERGE) in the child before exec (Linux 6.4+):
	 * KSM may merge the pages of the init and everything it forks */
	bool memory_merge;
};

struct ksal_spawned {
	pid_t pid;
	int pidfd;
	uint64_t start_time; /* /proc/PID/stat field 22, to guard re-adoption */
};

int ksal_spawn(const struct ksal_spawn_cfg *cfg, struct ksal_spawned *out, struct st_error **err);

/*
 * Whether ksal_spawn builds the container's mounts locked: the parent mounts
 * them as host root in a small build namespace and the init takes a copy of
 * it into its user namespace, so container root cannot unmount a mask or
 * make /proc/sys writable (needs the new mount API and proc's pidns=
 * option, added to Linux in 2025). Otherwise the init builds its root itself, in a copy
 * of the caller's mount namespace. ksal_spawn_force_legacy(true) forces
 * the second way (tests).
 */
bool ksal_spawn_locked_supported(void);
void ksal_spawn_force_legacy(bool legacy);
/* A thread that will spawn while other threads of the process do too
 * calls this first: it gives the thread an fs_struct of its own (each
 * spawn enters a build mount namespace with setns(2), which a thread
 * sharing its fs_struct cannot). A thread that never calls it gets the
 * same on its first spawn. */
int ksal_spawn_thread_init(struct st_error **err);

/*
 * How a new init joins cgroup `cg` without its parent writing the init's
 * pid anywhere: clone_fd, the cgroup2 directory (v2, or hybrid's unified
 * hierarchy) for cfg.cgroup_fd, and tasks_fds, the v1 `tasks` files for
 * cfg.cgroup_self_fds. Every hierarchy the manager `m` uses is covered by
 * one or the other. All fds belong to the struct: ksal_cgroup_join_clear().
 */
struct ksal_cgroup_mgr;
struct ksal_cgroup;
struct ksal_cgroup_join {
	int clone_fd; /* -1: none */
	int *tasks_fds;
	size_t n_tasks_fds;
};
int ksal_cgroup_join_prepare(struct ksal_cgroup_mgr *m, struct ksal_cgroup *cg,
			     struct ksal_cgroup_join *out, struct st_error **err);
void ksal_cgroup_join_clear(struct ksal_cgroup_join *j);
#define _cleanup_cgroup_join_ __attribute__((cleanup(ksal_cgroup_join_clear)))

/* The start time (clock ticks since boot, /proc/PID/stat field 22) of pid. */
int ksal_pid_start_time(pid_t pid, uint64_t *out);
/* Open a pidfd for pid only if its start time still matches (re-adoption
 * after a daemon restart, guarded against pid reuse). -ESRCH otherwise. */
int ksal_pidfd_adopt(pid_t pid, uint64_t start_time, int *pidfd, struct st_error **err);

/* Run argv inside the running container whose init has pidfd `init_pidfd`:
 * join the cgroup of cgroup_procs_fd if >= 0 (else it stays in the caller's),
 * then every namespace of the init that differs from the caller's, become
 * root of its user namespace, setsid (and TIOCSCTTY on stdin if
 * setsid_ctty), drop to the given bounding set and seccomp filter, exec.
 * stdio as above. Returns the new process's pid and pidfd: a child of the
 * caller (clone3 CLONE_PARENT from an intermediate), waitable by either.
 * A failed exec is an error naming the path, with no process left. */
struct ksal_enter_cfg {
	int init_pidfd;
	pid_t init_pid;
	char *const *argv;
	char *const *envp;
	const char *cwd; /* NULL: "/" */
	int stdio[3];
	bool setsid_ctty; /* make stdio[0] the controlling tty (enter, exec -t) */
	uint64_t cap_drop;
	int seccomp_fd;
	int cgroup_procs_fd; /* fd of a cgroup.procs to join (v1/v2), -1: none */
	/* more cgroup.procs fds to join, e.g. one per v1 hierarchy on a hybrid
	 * host (NULL/0: none); joined before any namespace */
	const int *cgroup_procs_fds;
	size_t n_cgroup_procs_fds;
	const struct ksal_rlimit *rlimits; /* the container's, as its init got them */
	size_t n_rlimits;
	bool memory_merge; /* prctl(PR_SET_MEMORY_MERGE) before exec (MEMORY_MERGE) */
};
int ksal_enter(const struct ksal_enter_cfg *cfg, struct ksal_spawned *out, struct st_error **err);

/* The default seccomp filter of a system container (kexec, modules,
 * open_by_handle_at, perf_event_open, bpf, keyrings refused with EPERM),
 * compiled once into a sealed memfd. */
int ksal_seccomp_default(int *memfd, struct st_error **err);

/* Capability names <-> numbers ("sys_admin", "CAP_SYS_ADMIN" both accepted). */
int ksal_cap_from_name(const char *name);
const char *ksal_cap_name(int cap);
/* The default bounding-set drop mask of a system container. */
uint64_t ksal_cap_default_drop(void);

#endif
