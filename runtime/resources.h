/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Resource management and accounting in stratad (issue 5, runtime side):
 * `stat` and the accounting fields of `list`, the parts of the limits the
 * config keys alone cannot give (the block device under the private area
 * for I/O throttles, the cpuset that makes `nproc` show CPUS), and ksmd
 * for MEMORY_MERGE containers.
 *
 * res_util.c holds the pure helpers (no daemon, no kernel): unit-tested.
 */
#ifndef STRATA_RUNTIME_RESOURCES_H
#define STRATA_RUNTIME_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "ksal/cgroup.h"
#include "ksal/error.h"

struct daemon;
struct ct;
struct ct_config;

/* ---- res_util.c: pure helpers ---- */

/* Number of CPUs in a list such as "0-3,8,10-11" (-EINVAL if malformed). */
int res_cpulist_count(const char *list);
/* The first n CPUs of list, as a list ("0-3,8-11", 6 -> "0-3,8-9"); the
 * whole list when it has n or fewer. malloc'd in *out. */
int res_cpulist_first(const char *list, unsigned n, char **out, struct st_error **err);
/*
 * The whole disk under block device maj:min, by sysfs (sysfs_root normally
 * "/sys"): /sys/dev/block/MAJ:MIN/partition present -> the parent's dev.
 * ST_EXIT_NOFEATURE when maj:min is not a block device (tmpfs, overlay,
 * a FUSE or network filesystem).
 */
int res_whole_disk(const char *sysfs_root, unsigned maj, unsigned min, unsigned *wmaj,
		   unsigned *wmin, struct st_error **err);
/* The whole disk holding path (stat(2) st_dev), as "MAJ:MIN" in out. */
int res_path_disk(const char *sysfs_root, const char *path, char *out, size_t len,
		  struct st_error **err);

/* ---- resources.c: daemon side ---- */

static inline void res_json_decrefp(json_t **j)
{
	json_decref(*j);
	*j = NULL;
}
#define _cleanup_res_json_ __attribute__((cleanup(res_json_decrefp)))

/* What res_limits_complete() points the limits at. */
struct res_limit_bufs {
	char io_device[32];
	char *cpuset; /* malloc'd */
};
void res_limit_bufs_clear(struct res_limit_bufs *b);
#define _cleanup_res_bufs_ __attribute__((cleanup(res_limit_bufs_clear)))

/*
 * Complete lim (already filled by the config keys) for container ct with
 * config c: at start (changed NULL) or for a live set (changed[key] for the
 * keys that changed).
 * - IOLIMIT/IOPSLIMIT: io_device = the whole disk holding the private area;
 *   not a block device: the throttles are dropped with a warning (appended
 *   to warnings when given).
 * - CPUS N without CPUMASK: cpuset = the first N online CPUs (so `nproc`
 *   inside says N); CPUMASK all / CPUS 0: every CPU again.
 */
void res_limits_complete(struct daemon *d, struct ct *ct, const struct ct_config *c,
			 const bool *changed, struct ksal_cgroup_limits *lim,
			 struct res_limit_bufs *b, json_t *warnings);

/* The `stat` verb: the accounting of a running container. */
int ct_do_stat(struct daemon *d, struct ct *ct, json_t **result, struct st_error **err);
/* The accounting fields of `list` (cpu, cpupct, mem, maxmem, failcnt,
 * oomkills, swapused, iobytes, ioops, ksm_pages) into o; st NULL when the
 * container has no stats (stopped): every field null. */
void res_list_fields(struct daemon *d, struct ct *ct, const struct ksal_cgroup_stats *st,
		     json_t *o);

/* cgroup.procs of each of the container's cgroups (every hierarchy), open
 * for writing, for ksal_enter: an exec'd command is limited and counted
 * like the rest of the container. fds[max]; *n of them are open (close
 * them with res_close_fds). */
#define RES_MAX_CGROUP_FDS 16
int res_cgroup_procs_fds(struct daemon *d, struct ct *ct, int *fds, size_t *n,
			 struct st_error **err);
void res_close_fds(int *fds, size_t n);

/* MEMORY_MERGE: ksmd on before the first such container starts (the old
 * run value is kept in RUN_DIR/ksm.saved); restored when no running
 * container has MEMORY_MERGE any more (res_ksm_release, from the exit
 * cleanup). */
int res_ksm_acquire(struct daemon *d, struct ct *ct, struct st_error **err);
void res_ksm_release(struct daemon *d, struct ct *ct);

#endif
