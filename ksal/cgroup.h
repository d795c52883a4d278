/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One cgroup interface, two backends (v1 and v2), chosen once by probing the
 * host's layout. Strata only ever touches its own subtree (`strata/<name>` in
 * each hierarchy, the subtree name is configurable), never the host's cgroups.
 *
 * The caller never tests for v1 or v2: every difference lives behind
 * struct ksal_cgroup_ops in cgroup.c / cgroup_v1.c / cgroup_v2.c.
 */
#ifndef STRATA_KSAL_CGROUP_H
#define STRATA_KSAL_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ksal/error.h"

enum ksal_cgroup_layout { KSAL_CG_V1, KSAL_CG_HYBRID, KSAL_CG_V2 };

/* "v1", "hybrid", "v2": inline, so the probe (which links without the
 * cgroup manager) names the layout the same way. */
static inline const char *ksal_cgroup_layout_name(enum ksal_cgroup_layout l)
{
	switch (l) {
	case KSAL_CG_V1:
		return "v1";
	case KSAL_CG_HYBRID:
		return "hybrid";
	case KSAL_CG_V2:
		return "v2";
	}
	return "unknown";
}

struct ksal_cgroup_mgr; /* one per daemon: layout, mount points, subtree */
struct ksal_cgroup;	/* one container's cgroup in every hierarchy */

/*
 * root: where cgroup filesystems are mounted (NULL: /sys/fs/cgroup); tests
 * point it at a fake tree or a private cgroup2 mount. subtree: Strata's
 * top-level directory name in each hierarchy (e.g. "strata").
 */
int ksal_cgroup_mgr_new(const char *root, const char *subtree, struct ksal_cgroup_mgr **out,
			struct st_error **err);
void ksal_cgroup_mgr_free(struct ksal_cgroup_mgr *m);
/* Remove Strata's (empty) subtree directory from every hierarchy, e.g. when
 * the daemon exits with no container left. A hierarchy where it still holds
 * a container's cgroup keeps it; returns how many kept it. */
int ksal_cgroup_mgr_remove_subtree(struct ksal_cgroup_mgr *m);
/* Make <subtree> in every hierarchy now (ksal_cgroup_create does it on
 * first use). Once it is made, the manager is only read by
 * ksal_cgroup_create and ksal_cgroup_open: threads may call them at once. */
int ksal_cgroup_mgr_prepare(struct ksal_cgroup_mgr *m, struct st_error **err);
enum ksal_cgroup_layout ksal_cgroup_mgr_layout(const struct ksal_cgroup_mgr *m);
/* Controllers available to Strata, e.g. "cpu,cpuacct,memory,pids,...". */
const char *ksal_cgroup_mgr_controllers(const struct ksal_cgroup_mgr *m);

/* Create (or, if it exists, open) <subtree>/<name> in every hierarchy. */
int ksal_cgroup_create(struct ksal_cgroup_mgr *m, const char *name, struct ksal_cgroup **out,
		       struct st_error **err);
/* Open an existing one (daemon restart); -ENOENT if it does not exist. */
int ksal_cgroup_open(struct ksal_cgroup_mgr *m, const char *name, struct ksal_cgroup **out,
		     struct st_error **err);
void ksal_cgroup_free(struct ksal_cgroup *cg); /* frees the handle only */
/* Close the handle's directory fds (one per hierarchy, ten on a hybrid
 * host); any later call opens what it needs again. A daemon holding
 * hundreds of containers keeps its fd table small this way: every fd it
 * holds is copied into, and closed again by, each new init. */
void ksal_cgroup_close_fds(struct ksal_cgroup *cg);

/* v2: an O_DIRECTORY fd for clone3(CLONE_INTO_CGROUP); -1 on v1/hybrid.
 * The handle owns it (valid until ksal_cgroup_free or _close_fds; do not
 * close it). */
int ksal_cgroup_clone_fd(struct ksal_cgroup *cg);
/* Move a task into the cgroup in every hierarchy. */
int ksal_cgroup_attach(struct ksal_cgroup *cg, pid_t pid, struct st_error **err);

/*
 * Prepare the cgroup for a container's own cgroup namespace: make it
 * writable where systemd inside needs it (the named systemd hierarchy on v1,
 * the delegated subtree on v2), owned by host uid/gid (the container's root
 * when it has a user namespace; pass 0/0 for privileged containers).
 */
int ksal_cgroup_delegate(struct ksal_cgroup *cg, uid_t uid, gid_t gid, struct st_error **err);

/* Device allowlist: devices cgroup on v1, an eBPF device program on v2. */
struct ksal_cgroup_dev {
	char type;	    /* 'c', 'b' or 'a' */
	int64_t major;	    /* -1 = any */
	int64_t minor;	    /* -1 = any */
	const char *access; /* "rwm" subset */
};
int ksal_cgroup_devices_set(struct ksal_cgroup *cg, const struct ksal_cgroup_dev *allow, size_t n,
			    struct st_error **err);

/* Limits. -1 (or NULL for strings) in a field means "leave as is". */
#define KSAL_CG_UNLIMITED INT64_MAX
struct ksal_cgroup_limits {
	int64_t memory_max;   /* bytes, KSAL_CG_UNLIMITED */
	int64_t swap_max;     /* bytes of swap on top of memory_max */
	int64_t memory_low;   /* bytes, protected minimum */
	int64_t cpu_weight;   /* vzctl cpuunits 8..500000; mapped to shares/weight */
	int64_t cpu_quota_us; /* with cpu_period_us; KSAL_CG_UNLIMITED = no cap */
	int64_t cpu_period_us;
	const char *cpuset_cpus; /* "0-1" */
	int64_t pids_max;	 /* KSAL_CG_UNLIMITED */
	int64_t io_weight;	 /* vzctl ioprio 0..7 mapped to weight */
	const char *io_device;	 /* "MAJ:MIN" for throttles */
	int64_t io_bps_max;	 /* bytes/s read and write */
	int64_t io_iops_max;
};
void ksal_cgroup_limits_init(struct ksal_cgroup_limits *l); /* all "leave as is" */
int ksal_cgroup_apply(struct ksal_cgroup *cg, const struct ksal_cgroup_limits *l,
		      struct st_error **err);

struct ksal_cgroup_stats {
	uint64_t cpu_usage_ns;
	uint64_t memory_current, memory_peak, memory_max;
	uint64_t swap_current;
	uint64_t memory_failcnt; /* v1 failcnt or v2 memory.events max */
	uint64_t oom_kills;	 /* memory.oom_control oom_kill / memory.events oom_kill */
	uint64_t pids_current, pids_max;
	uint64_t io_read_bytes, io_write_bytes, io_read_ops, io_write_ops;
};
int ksal_cgroup_stats(struct ksal_cgroup *cg, struct ksal_cgroup_stats *out, struct st_error **err);

/* pids of every task in the cgroup (malloc'd array). */
int ksal_cgroup_pids(struct ksal_cgroup *cg, pid_t **pids, size_t *n, struct st_error **err);
bool ksal_cgroup_is_empty(struct ksal_cgroup *cg);
int ksal_cgroup_freeze(struct ksal_cgroup *cg, bool frozen, struct st_error **err);
/* SIGKILL every task (cgroup.kill on v2; freeze, kill, thaw on v1) and wait
 * until the cgroup is empty or timeout_ms passes; an empty cgroup returns at
 * once, after one read. */
int ksal_cgroup_kill_all(struct ksal_cgroup *cg, int timeout_ms, struct st_error **err);
/* SIGKILL the tasks in the cgroup of every hierarchy, not only the one
 * kill_all reads (host root can put a task into one hierarchy alone), and
 * wait until each is empty or timeout_ms passes. */
int ksal_cgroup_kill_everywhere(struct ksal_cgroup *cg, int timeout_ms, struct st_error **err);
/* Remove the cgroup (and any child cgroups the container made) everywhere;
 * a cgroup with tasks is an error (ST_EXIT_DESTROYFAIL, EBUSY), nothing is
 * killed. */
int ksal_cgroup_destroy(struct ksal_cgroup *cg, struct st_error **err);
/* Path of the cgroup in one controller's hierarchy (for state files/CRIU). */
const char *ksal_cgroup_path(struct ksal_cgroup *cg, const char *controller);

/*
 * Unit conversions (added by the cgroup area). Range-checked by
 * ksal_cgroup_apply, these only map and clamp:
 * cpuunits 8..500000 (vzctl default 1000) -> v1 cpu.shares: 1000 units = 1024
 * shares, linear, clamped to the kernel's 2..262144; -> v2 cpu.weight:
 * units / 10 rounded, clamped to 1..10000 (1000 -> 100, ratios kept between
 * 10 and 100000 units). ioprio 0..7 -> weight 100..1000 (blkio.weight on v1,
 * io.weight on v2): 100 + prio * 900 / 7.
 */
/*
 * Notes on the mapping (cgroup area):
 * - swap_max where the kernel has no swap accounting (no memsw files / no
 *   memory.swap.max): KSAL_CG_UNLIMITED is a no-op, 0 is a no-op when the
 *   host has no active swap, anything else is refused (ST_EXIT_NOFEATURE).
 * - io_bps_max/io_iops_max need io_device, except KSAL_CG_UNLIMITED, which
 *   without a device is a no-op.
 * - stats: "no limit" reads as (uint64_t)KSAL_CG_UNLIMITED; on v1
 *   memory_failcnt is memory.failcnt + memory.memsw.failcnt (Linux 6.x keeps
 *   no failcnt on memsw, so with swap 0 only oom_kills shows an OOM).
 */
#define KSAL_CG_CPUUNITS_MIN 8
#define KSAL_CG_CPUUNITS_MAX 500000
#define KSAL_CG_CPUUNITS_DEFAULT 1000
int64_t ksal_cgroup_cpuunits_to_shares(int64_t units);
int64_t ksal_cgroup_cpuunits_to_weight(int64_t units);
int64_t ksal_cgroup_ioprio_to_weight(int64_t prio);

#endif
