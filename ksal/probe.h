/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The feature probe: what this kernel and host can do, found by trying it
 * (never by kernel version). Probed once and cached; the rest of ksal reads
 * the result to pick backends, and `strata check` prints it.
 *
 *	const struct ksal_features *f = ksal_probe(NULL);
 *	if (ksal_has(f, KSAL_FEAT_IDMAP_SQUASHFS)) ...
 *	for (size_t i = 0; i < KSAL_FEAT__COUNT; i++)
 *		print(&f->entry[i]);  // key, name, available, required, detail
 *
 * Probing forks short-lived children (namespaces, clone3, soft-dirty), makes
 * a tiny squashfs image under a temporary directory to try idmapped mounts
 * (needs mksquashfs and root), and asks CRIU for its version and `criu check`
 * through libcriu. Everything it creates is removed before it returns.
 * It takes about 50 ms here (30 of them CRIU). Call it before the process
 * starts threads: some probe children call into libc beyond what is
 * async-signal-safe.
 */
#ifndef STRATA_KSAL_PROBE_H
#define STRATA_KSAL_PROBE_H

#include <stdbool.h>
#include <stddef.h>

#include "ksal/cgroup.h"
#include "ksal/error.h"

/* One row per feature, in the order `strata check` prints them. */
enum ksal_feat {
	KSAL_FEAT_NS_MNT,
	KSAL_FEAT_NS_PID,
	KSAL_FEAT_NS_UTS,
	KSAL_FEAT_NS_IPC,
	KSAL_FEAT_NS_NET,
	KSAL_FEAT_NS_CGROUP,
	KSAL_FEAT_NS_TIME,
	KSAL_FEAT_NS_USER,
	KSAL_FEAT_CLONE3,
	KSAL_FEAT_CLONE_INTO_CGROUP,
	KSAL_FEAT_PIDFD,
	KSAL_FEAT_CGROUP_LAYOUT,
	KSAL_FEAT_CGROUP_MEMORY,
	KSAL_FEAT_CGROUP_PIDS,
	KSAL_FEAT_CGROUP_CPU,
	KSAL_FEAT_CGROUP_CPUSET,
	KSAL_FEAT_CGROUP_IO,
	KSAL_FEAT_CGROUP_FREEZER,
	KSAL_FEAT_MOUNT_API,
	KSAL_FEAT_LOCKED_MOUNTS,
	KSAL_FEAT_OVERLAYFS,
	KSAL_FEAT_SQUASHFS,
	KSAL_FEAT_SQUASHFUSE,
	KSAL_FEAT_IDMAP_SQUASHFS,
	KSAL_FEAT_IDMAP_STATEDIR,
	KSAL_FEAT_SECCOMP,
	KSAL_FEAT_USERFAULTFD,
	KSAL_FEAT_SOFT_DIRTY,
	KSAL_FEAT_PIPE_MAX_SIZE,
	KSAL_FEAT_CRIU,
	KSAL_FEAT__COUNT
};

struct ksal_feature {
	const char *key;  /* stable, unique: "ns.pid", "idmap.squashfs", "criu" */
	const char *name; /* human: "pid namespace" */
	bool available;
	bool required; /* Strata cannot start containers without it */
	char *detail;  /* what was found, or why not / what is lost; never NULL */
};

struct ksal_cgroup_info {
	bool found;			/* some cgroup hierarchy is mounted */
	enum ksal_cgroup_layout layout; /* v1, hybrid (v1 controllers + cgroup2), v2 */
	char *unified;			/* cgroup2 mount point, NULL if none */
	char *v1_controllers;		/* comma list of mounted v1 controllers, "" if none */
	char *v2_controllers;		/* cgroup.controllers of the cgroup2 root, "" if none */
	char *v2_self;			/* our cgroup in the cgroup2 hierarchy ("0::" line) */
};

struct ksal_features {
	struct ksal_feature entry[KSAL_FEAT__COUNT];
	struct ksal_cgroup_info cgroup;
	char *state_dir;    /* the state directory the idmap probe used */
	char *criu_path;    /* the CRIU binary in use */
	int criu_version;   /* libcriu encoding: 40201 for 4.2.1; 0 unknown */
	bool criu_check_ok; /* `criu check` passed */
	double elapsed_ms;  /* wall time of the whole probe */
};

struct ksal_probe_opts {
	const char *state_dir; /* NULL: STRATA_LOCALSTATEDIR */
	const char *criu_path; /* NULL: $CRIU_PATH, else STRATA_CRIU_DEFAULT */
	bool skip_criu;	       /* leave CRIU out (entry says "not probed") */
};

/* The CRIU version Strata needs on this kernel (FACTS.md): 4.2. */
#define KSAL_CRIU_MIN_VERSION 40200
/* CRIU's lazy pages ask for 4 MiB pipes. */
#define KSAL_PIPE_SIZE_NEEDED (4u << 20)

/*
 * Probe once with opts (NULL: defaults) and cache; later calls return the
 * cached result and ignore opts. Never NULL (allocation failure aborts).
 */
const struct ksal_features *ksal_probe(const struct ksal_probe_opts *opts);

/* A fresh, uncached probe the caller owns (tests, `strata check`). */
struct ksal_features *ksal_probe_run(const struct ksal_probe_opts *opts);
void ksal_features_free(struct ksal_features *f);
static inline void ksal_features_freep(struct ksal_features **f)
{
	if (*f)
		ksal_features_free(*f);
	*f = NULL;
}
#define _cleanup_features_ __attribute__((cleanup(ksal_features_freep)))

static inline bool ksal_has(const struct ksal_features *f, enum ksal_feat id)
{
	return f->entry[id].available;
}
/* The entry with this key, NULL if none. */
const struct ksal_feature *ksal_feature_find(const struct ksal_features *f, const char *key);

/*
 * 0 if every required feature is available. Otherwise -1 and an error
 * (exit code ST_EXIT_NOFEATURE) naming each missing one with its detail.
 */
int ksal_features_check_required(const struct ksal_features *f, struct st_error **err);

/* "v1", "hybrid", "v2". */
const char *ksal_probe_layout_name(enum ksal_cgroup_layout l);

/*
 * Parsers the probe uses, exposed for tests and fuzzing. Both take the text
 * of a /proc file, NUL-terminated, and never fail on malformed input (bad
 * lines are skipped).
 *
 * ksal_parse_cgroup_mounts: text of /proc/self/mounts -> layout, the cgroup2
 * mount point and the mounted v1 controllers (named hierarchies such as
 * name=systemd are not controllers). Returns 0, or -ENOMEM.
 */
int ksal_parse_cgroup_mounts(const char *mounts, struct ksal_cgroup_info *out);
/* /proc/self/cgroup text -> the "0::" path (malloc'd), or NULL if none. */
char *ksal_parse_self_cgroup2(const char *proc_self_cgroup);
void ksal_cgroup_info_clear(struct ksal_cgroup_info *ci);

/* Is name (e.g. "memory") in a comma-separated list? */
bool ksal_list_has(const char *list, const char *name);

#endif
