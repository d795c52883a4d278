/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Inside the cgroup manager: the backend vtable, the manager and handle
 * structs, and the helpers the v1 and v2 backends share (file helpers in
 * cgroup_fs.c, value checks in cgroup_limits.c).
 * Nothing outside ksal/cgroup*.c and the cgroup tests includes this.
 */
#ifndef STRATA_KSAL_CGROUP_INTERNAL_H
#define STRATA_KSAL_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ksal/cgroup.h"

#define KSAL_CG_MAX_HIER 16

/* One mounted hierarchy: a v1 hierarchy or the cgroup2 one. */
struct ksal_cg_hier {
	char *mnt;	/* mount point, e.g. /sys/fs/cgroup/memory */
	char *ctrls;	/* v1: "cpu,cpuacct", "name=systemd"; v2: "" */
	bool v2;	/* a cgroup2 hierarchy */
	int subtree_fd; /* O_DIRECTORY fd of <mnt>/<subtree>, -EBADF until made */
};

struct ksal_cgroup_mgr {
	enum ksal_cgroup_layout layout;
	const struct ksal_cgroup_ops *ops;
	char *root;
	char *subtree;
	bool fake;	    /* root is a plain directory tree, not cgroupfs (tests) */
	bool subtree_ready; /* <subtree> made and prepared in every hierarchy */
	struct ksal_cg_hier hier[KSAL_CG_MAX_HIER];
	size_t nhier;
	char *controllers; /* comma-separated */
};

struct ksal_cgroup {
	struct ksal_cgroup_mgr *mgr;
	char *name;
	char *path[KSAL_CG_MAX_HIER];	/* <mnt>/<subtree>/<name>, per hierarchy */
	int fd[KSAL_CG_MAX_HIER];	/* O_DIRECTORY fds, per hierarchy: use ksal_cg_fd() */
	bool present[KSAL_CG_MAX_HIER]; /* the cgroup exists in this hierarchy */
};

/* The directory fd of hierarchy h, opened again after ksal_cgroup_close_fds;
 * -EBADF where the cgroup is not in h (or it cannot be opened: errno). */
int ksal_cg_fd(struct ksal_cgroup *cg, size_t h);

/* One backend. Every function gets the handle; errors name the file. */
struct ksal_cgroup_ops {
	const char *name;
	/* Called once the subtree dirs exist in every hierarchy. */
	int (*subtree_init)(struct ksal_cgroup_mgr *m, struct st_error **err);
	/* Called after <subtree>/<name> was created (made == true) or opened. */
	int (*cg_init)(struct ksal_cgroup *cg, bool made, struct st_error **err);
	int (*clone_fd)(struct ksal_cgroup *cg);
	int (*attach)(struct ksal_cgroup *cg, pid_t pid, struct st_error **err);
	int (*delegate)(struct ksal_cgroup *cg, uid_t uid, gid_t gid, struct st_error **err);
	int (*devices_set)(struct ksal_cgroup *cg, const struct ksal_cgroup_dev *allow, size_t n,
			   struct st_error **err);
	int (*apply)(struct ksal_cgroup *cg, const struct ksal_cgroup_limits *l,
		     struct st_error **err);
	int (*stats)(struct ksal_cgroup *cg, struct ksal_cgroup_stats *out, struct st_error **err);
	int (*pids)(struct ksal_cgroup *cg, pid_t **pids, size_t *n, struct st_error **err);
	int (*is_empty)(struct ksal_cgroup *cg);
	int (*freeze)(struct ksal_cgroup *cg, bool frozen, struct st_error **err);
	int (*kill_all)(struct ksal_cgroup *cg, int timeout_ms, struct st_error **err);
};

extern const struct ksal_cgroup_ops ksal_cgroup_v1_ops;
extern const struct ksal_cgroup_ops ksal_cgroup_v2_ops;

/* Index of the hierarchy holding controller (v1 "memory", "name=systemd",
 * "systemd"; "unified" or NULL: the cgroup2 one), -1 if none. */
int cg_hier_find(const struct ksal_cgroup_mgr *m, const char *controller);

/* File I/O relative to a cgroup directory fd; `dir` names it in errors. */
int cg_write(int dfd, const char *dir, const char *file, const char *val, struct st_error **err);
int cg_writef(int dfd, const char *dir, const char *file, struct st_error **err, const char *fmt,
	      ...) __attribute__((format(printf, 5, 6)));
/* Read a whole file (NUL-terminated, trailing newline kept). -errno, and err
 * filled unless the file is missing and quiet_enoent is set. */
int cg_read(int dfd, const char *dir, const char *file, char **out, bool quiet_enoent,
	    struct st_error **err);
/* Read one unsigned number; "max" reads as KSAL_CG_UNLIMITED. -ENOENT quietly. */
int cg_read_u64(int dfd, const char *dir, const char *file, uint64_t *out, struct st_error **err);
/* Value of `key N` in a flat keyed file (cpu.stat, memory.events, oom_control). */
int cg_read_key(int dfd, const char *dir, const char *file, const char *key, uint64_t *out,
		struct st_error **err);
bool cg_file_exists(int dfd, const char *file);

/* pids listed in `file` (cgroup.procs) of dir and every cgroup below it. */
int cg_collect_pids(int dfd, const char *dir, const char *file, pid_t **pids, size_t *n,
		    struct st_error **err);
/* Remove the cgroup dir and its child cgroups, depth first. */
int cg_rmtree(const struct ksal_cgroup_mgr *m, const char *path, struct st_error **err);
/* Poll until `done(cg)` > 0, up to timeout_ms; returns done()'s value, 0 on timeout. */
int cg_wait(struct ksal_cgroup *cg, int timeout_ms, int (*done)(struct ksal_cgroup *cg));
/* SIGKILL everything listed (recursively) until empty; v1 and v2 fallback. */
int cg_kill_loop(struct ksal_cgroup *cg, int h, const char *procs_file, int timeout_ms,
		 struct st_error **err);
/* v2 delegation of one cgroup dir: the dir, cgroup.procs,
 * cgroup.subtree_control and cgroup.threads owned by uid/gid (cgroup_v2.c). */
int cg_delegate_v2_dir(int dfd, const char *path, uid_t uid, gid_t gid, struct st_error **err);
/* The device allowlist as a cgroup device eBPF program (cgroup_v2.c):
 * build it (*out malloc'd), and build+load+attach it to a cgroup2 dir. */
struct bpf_insn;
int cg_devices_prog(const struct ksal_cgroup_dev *allow, size_t n, struct bpf_insn **out,
		    size_t *count);
int cg_devices_bpf(int cgfd, const char *path, const struct ksal_cgroup_dev *allow, size_t n,
		   struct st_error **err);
/* Whether the host has active swap (/proc/swaps has an entry). */
bool cg_host_has_swap(void);
/* Limit validation shared by both backends (ranges in the message). */
int cg_validate_limits(const struct ksal_cgroup_limits *l, struct st_error **err);
/* Device allowlist validation (type a/b/c, numbers, access a subset of rwm). */
int cg_validate_devices(const struct ksal_cgroup_dev *allow, size_t n, struct st_error **err);
/* Swap limit without a swap file (no swap accounting): skip or refuse. */
int cg_swap_unsupported(const char *file, int64_t swap_max, struct st_error **err);

#endif
