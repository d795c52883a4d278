/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The cgroup v1 backend, also used on hybrid hosts (v1 controllers plus a
 * cgroup2 mount, usually controller-less, that only tracks processes: the
 * container's cgroup is made there too, tasks are attached there too, and it
 * is delegated like the named systemd hierarchy).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ksal/cgroup.h"
#include "ksal/cgroup_internal.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"

/* The cgroup's fd in the hierarchy holding ctrl; error naming it if absent. */
static int v1_hier(struct ksal_cgroup *cg, const char *ctrl, struct st_error **err)
{
	int h = cg_hier_find(cg->mgr, ctrl);

	if (h < 0 || cg->mgr->hier[h].v2)
		return st_error_setx(err, ST_EXIT_NOFEATURE, 0,
				     "cgroup controller `%s` is not mounted under `%s`", ctrl,
				     cg->mgr->root);
	if (ksal_cg_fd(cg, h) < 0)
		return st_error_setx(err, ST_EXIT_FAILED, ENOENT, "open cgroup `%s`", cg->path[h]);
	return h;
}

static int v1_writef(struct ksal_cgroup *cg, const char *ctrl, const char *file,
		     struct st_error **err, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int v1_writef(struct ksal_cgroup *cg, const char *ctrl, const char *file,
		     struct st_error **err, const char *fmt, ...)
{
	_cleanup_free_ char *val = NULL;
	va_list ap;
	int h, r;

	h = v1_hier(cg, ctrl, err);
	if (h < 0)
		return h;
	va_start(ap, fmt);
	r = vasprintf(&val, fmt, ap);
	va_end(ap);
	if (r < 0) {
		val = NULL;
		return st_error_set(err, ENOMEM, "set %s", file);
	}
	return cg_write(ksal_cg_fd(cg, h), cg->path[h], file, val, err);
}

/* A blank cpuset.cpus/mems in dir: copy it from the parent, so tasks can
 * be attached (v1 cpusets start empty unless clone_children is set). */
static int cpuset_inherit(int pfd, const char *ppath, int dfd, const char *dpath,
			  struct st_error **err)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *cur = NULL, *parent = NULL;
		int r;

		r = cg_read(dfd, dpath, files[i], &cur, false, err);
		if (r < 0)
			return r;
		if (cur[strspn(cur, " \n")] != '\0')
			continue;
		r = cg_read(pfd, ppath, files[i], &parent, false, err);
		if (r < 0)
			return r;
		parent[strcspn(parent, "\n")] = '\0';
		r = cg_write(dfd, dpath, files[i], parent, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int v1_subtree_init(struct ksal_cgroup_mgr *m, struct st_error **err)
{
	int h = cg_hier_find(m, "cpuset");
	_cleanup_close_ int rfd = -EBADF;
	_cleanup_free_ char *spath = NULL;
	int r;

	if (h < 0 || m->hier[h].v2 || m->hier[h].subtree_fd < 0)
		return 0;
	rfd = open(m->hier[h].mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return st_error_set(err, errno, "open `%s`", m->hier[h].mnt);
	if (asprintf(&spath, "%s/%s", m->hier[h].mnt, m->subtree) < 0) {
		spath = NULL;
		return st_error_set(err, ENOMEM, "prepare cpuset subtree");
	}
	r = cpuset_inherit(rfd, m->hier[h].mnt, m->hier[h].subtree_fd, spath, err);
	if (r < 0)
		return r;
	/* our own subtree only: new children copy cpus/mems from it */
	return cg_write(m->hier[h].subtree_fd, spath, "cgroup.clone_children", "1", err);
}

static int v1_cg_init(struct ksal_cgroup *cg, bool made, struct st_error **err)
{
	struct ksal_cgroup_mgr *m = cg->mgr;
	_cleanup_free_ char *spath = NULL;
	int h = cg_hier_find(m, "cpuset");

	if (h < 0 || m->hier[h].v2 || ksal_cg_fd(cg, h) < 0 || m->hier[h].subtree_fd < 0)
		return 0;
	if (asprintf(&spath, "%s/%s", m->hier[h].mnt, m->subtree) < 0) {
		spath = NULL;
		return st_error_set(err, ENOMEM, "prepare cpuset of %s", cg->name);
	}
	return cpuset_inherit(m->hier[h].subtree_fd, spath, ksal_cg_fd(cg, h), cg->path[h], err);
}

static int v1_clone_fd(struct ksal_cgroup *cg)
{
	return -1;
}

static int v1_attach(struct ksal_cgroup *cg, pid_t pid, struct st_error **err)
{
	for (size_t i = 0; i < cg->mgr->nhier; i++) {
		int r;

		if (ksal_cg_fd(cg, i) < 0)
			continue;
		r = cg_writef(ksal_cg_fd(cg, i), cg->path[i], "cgroup.procs", err, "%d", (int)pid);
		if (r < 0) {
			st_error_prefix(err, "attach %d to cgroup %s: ", (int)pid, cg->name);
			return r;
		}
	}
	return 0;
}

/* Every file of a cgroup directory and the directory itself. */
static int chown_all(int dfd, const char *path, uid_t uid, gid_t gid, struct st_error **err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd2;

	if (fchown(dfd, uid, gid) < 0)
		return st_error_set(err, errno, "chown `%s` to %u:%u", path, uid, gid);
	fd2 = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd2 < 0)
		return st_error_set(err, errno, "open `%s`", path);
	d = fdopendir(fd2);
	if (!d) {
		int e = errno;
		close(fd2);
		return st_error_set(err, e, "open `%s`", path);
	}
	while ((de = readdir(d))) {
		if (de->d_type != DT_REG)
			continue;
		if (fchownat(dirfd(d), de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			return st_error_set(err, errno, "chown `%s/%s` to %u:%u", path, de->d_name,
					    uid, gid);
	}
	return 0;
}

static int v1_delegate(struct ksal_cgroup *cg, uid_t uid, gid_t gid, struct st_error **err)
{
	int hs = cg_hier_find(cg->mgr, "name=systemd");
	int hu = cg_hier_find(cg->mgr, "unified");
	int r;

	if (hs >= 0 && ksal_cg_fd(cg, hs) >= 0) {
		r = chown_all(ksal_cg_fd(cg, hs), cg->path[hs], uid, gid, err);
		if (r < 0)
			return r;
	}
	if (hu >= 0 && ksal_cg_fd(cg, hu) >= 0) {
		r = cg_delegate_v2_dir(ksal_cg_fd(cg, hu), cg->path[hu], uid, gid, err);
		if (r < 0)
			return r;
	}
	if ((hs < 0 || ksal_cg_fd(cg, hs) < 0) && (hu < 0 || ksal_cg_fd(cg, hu) < 0))
		st_debug("cgroup: %s: no systemd or cgroup2 hierarchy to delegate", cg->name);
	return 0;
}

static int v1_devices_set(struct ksal_cgroup *cg, const struct ksal_cgroup_dev *allow, size_t n,
			  struct st_error **err)
{
	int h = v1_hier(cg, "devices", err);
	int r;

	if (h < 0)
		return h;
	r = cg_write(ksal_cg_fd(cg, h), cg->path[h], "devices.deny", "a", err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		char maj[24], min[24];
		const struct ksal_cgroup_dev *d = &allow[i];

		if (d->type == 'a') {
			r = cg_write(ksal_cg_fd(cg, h), cg->path[h], "devices.allow", "a", err);
		} else {
			if (d->major < 0)
				snprintf(maj, sizeof(maj), "*");
			else
				snprintf(maj, sizeof(maj), "%" PRId64, d->major);
			if (d->minor < 0)
				snprintf(min, sizeof(min), "*");
			else
				snprintf(min, sizeof(min), "%" PRId64, d->minor);
			r = cg_writef(ksal_cg_fd(cg, h), cg->path[h], "devices.allow", err,
				      "%c %s:%s %s", d->type, maj, min, d->access);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static const char *v1_num(char *buf, size_t len, int64_t v)
{
	if (v == KSAL_CG_UNLIMITED)
		return "-1";
	snprintf(buf, len, "%" PRId64, v);
	return buf;
}

/*
 * memory.limit_in_bytes and memory.memsw.limit_in_bytes (ram + swap). The
 * kernel wants memsw >= limit at every moment, so the order depends on
 * whether the limit grows past the current memsw. Without memsw (no swap
 * accounting): an unlimited swap needs nothing, swap 0 on a host without swap
 * holds as is, anything else is refused (cg_swap_unsupported).
 */
static int v1_apply_memory(struct ksal_cgroup *cg, const struct ksal_cgroup_limits *l,
			   struct st_error **err)
{
	char b1[24], b2[24];
	uint64_t cur_mem, cur_memsw;
	int64_t new_mem, swap, new_memsw;
	bool has_memsw;
	int h, r;

	if (l->memory_max == -1 && l->swap_max == -1)
		return 0;
	h = v1_hier(cg, "memory", err);
	if (h < 0)
		return h;
	has_memsw = cg_file_exists(ksal_cg_fd(cg, h), "memory.memsw.limit_in_bytes");
	if (!has_memsw) {
		if (l->swap_max != -1) {
			r = cg_swap_unsupported("memory.memsw.limit_in_bytes", l->swap_max, err);
			if (r < 0)
				return r;
		}
		if (l->memory_max == -1)
			return 0;
		return cg_write(ksal_cg_fd(cg, h), cg->path[h], "memory.limit_in_bytes",
				v1_num(b1, sizeof(b1), l->memory_max), err);
	}

	r = cg_read_u64(ksal_cg_fd(cg, h), cg->path[h], "memory.limit_in_bytes", &cur_mem, err);
	if (r < 0)
		return r == -ENOENT ? st_error_set(err, ENOENT, "read `%s/memory.limit_in_bytes`",
						   cg->path[h])
				    : r;
	r = cg_read_u64(ksal_cg_fd(cg, h), cg->path[h], "memory.memsw.limit_in_bytes", &cur_memsw,
			err);
	if (r < 0)
		return r;
	new_mem = l->memory_max != -1 ? l->memory_max : (int64_t)cur_mem;
	if (l->swap_max != -1)
		swap = l->swap_max;
	else if (cur_memsw == (uint64_t)KSAL_CG_UNLIMITED)
		swap = KSAL_CG_UNLIMITED;
	else
		swap = cur_memsw > cur_mem ? (int64_t)(cur_memsw - cur_mem) : 0;
	if (new_mem == KSAL_CG_UNLIMITED || swap == KSAL_CG_UNLIMITED ||
	    new_mem > KSAL_CG_UNLIMITED - swap)
		new_memsw = KSAL_CG_UNLIMITED;
	else
		new_memsw = new_mem + swap;

	if ((uint64_t)new_mem > cur_memsw) {
		r = cg_write(ksal_cg_fd(cg, h), cg->path[h], "memory.memsw.limit_in_bytes",
			     v1_num(b2, sizeof(b2), new_memsw), err);
		if (r < 0)
			return r;
		return cg_write(ksal_cg_fd(cg, h), cg->path[h], "memory.limit_in_bytes",
				v1_num(b1, sizeof(b1), new_mem), err);
	}
	r = cg_write(ksal_cg_fd(cg, h), cg->path[h], "memory.limit_in_bytes",
		     v1_num(b1, sizeof(b1), new_mem), err);
	if (r < 0)
		return r;
	return cg_write(ksal_cg_fd(cg, h), cg->path[h], "memory.memsw.limit_in_bytes",
			v1_num(b2, sizeof(b2), new_memsw), err);
}

static int v1_apply_io(struct ksal_cgroup *cg, const struct ksal_cgroup_limits *l,
		       struct st_error **err)
{
	static const char *const bps[] = { "blkio.throttle.read_bps_device",
					   "blkio.throttle.write_bps_device" };
	static const char *const iops[] = { "blkio.throttle.read_iops_device",
					    "blkio.throttle.write_iops_device" };
	int h, r;

	if (l->io_weight == -1 && ((l->io_bps_max == -1 && l->io_iops_max == -1) || !l->io_device))
		return 0;
	h = v1_hier(cg, "blkio", err);
	if (h < 0)
		return h;
	if (l->io_weight != -1) {
		const char *file =
			cg_file_exists(ksal_cg_fd(cg, h), "blkio.weight")	? "blkio.weight"
			: cg_file_exists(ksal_cg_fd(cg, h), "blkio.bfq.weight") ? "blkio.bfq.weight"
										: NULL;
		if (!file)
			return st_error_setx(
				err, ST_EXIT_NOFEATURE, 0,
				"set I/O priority: no blkio.weight or blkio.bfq.weight "
				"in `%s` (no CFQ/BFQ I/O scheduler)",
				cg->path[h]);
		r = cg_writef(ksal_cg_fd(cg, h), cg->path[h], file, err, "%" PRId64,
			      ksal_cgroup_ioprio_to_weight(l->io_weight));
		if (r < 0)
			return r;
	}
	/* 0 removes a v1 throttle rule */
	for (size_t i = 0; l->io_device && l->io_bps_max != -1 && i < 2; i++) {
		r = cg_writef(ksal_cg_fd(cg, h), cg->path[h], bps[i], err, "%s %" PRId64,
			      l->io_device, l->io_bps_max == KSAL_CG_UNLIMITED ? 0 : l->io_bps_max);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; l->io_device && l->io_iops_max != -1 && i < 2; i++) {
		r = cg_writef(ksal_cg_fd(cg, h), cg->path[h], iops[i], err, "%s %" PRId64,
			      l->io_device,
			      l->io_iops_max == KSAL_CG_UNLIMITED ? 0 : l->io_iops_max);
		if (r < 0)
			return r;
	}
	return 0;
}

static int v1_apply(struct ksal_cgroup *cg, const struct ksal_cgroup_limits *l,
		    struct st_error **err)
{
	char buf[24];
	int r;

	r = v1_apply_memory(cg, l, err);
	if (r < 0)
		return r;
	if (l->memory_low != -1) {
		r = v1_writef(cg, "memory", "memory.soft_limit_in_bytes", err, "%s",
			      v1_num(buf, sizeof(buf), l->memory_low));
		if (r < 0)
			return r;
	}
	if (l->cpu_weight != -1) {
		r = v1_writef(cg, "cpu", "cpu.shares", err, "%" PRId64,
			      ksal_cgroup_cpuunits_to_shares(l->cpu_weight));
		if (r < 0)
			return r;
	}
	if (l->cpu_period_us != -1) {
		r = v1_writef(cg, "cpu", "cpu.cfs_period_us", err, "%" PRId64, l->cpu_period_us);
		if (r < 0)
			return r;
	}
	if (l->cpu_quota_us != -1) {
		r = v1_writef(cg, "cpu", "cpu.cfs_quota_us", err, "%s",
			      v1_num(buf, sizeof(buf), l->cpu_quota_us));
		if (r < 0)
			return r;
	}
	if (l->cpuset_cpus) {
		r = v1_writef(cg, "cpuset", "cpuset.cpus", err, "%s", l->cpuset_cpus);
		if (r < 0)
			return r;
	}
	if (l->pids_max != -1) {
		if (l->pids_max == KSAL_CG_UNLIMITED)
			r = v1_writef(cg, "pids", "pids.max", err, "max");
		else
			r = v1_writef(cg, "pids", "pids.max", err, "%" PRId64, l->pids_max);
		if (r < 0)
			return r;
	}
	return v1_apply_io(cg, l, err);
}

/* Sum "MAJ:MIN Read N" / "MAJ:MIN Write N" lines of a blkio stats file. */
static int v1_blkio_sum(int dfd, const char *path, const char *file, uint64_t *rd, uint64_t *wr,
			struct st_error **err)
{
	_cleanup_free_ char *s = NULL;
	int r;

	r = cg_read(dfd, path, file, &s, true, err);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	for (char *line = s; line && *line;) {
		char *nl = strchr(line, '\n');
		char dev[32], op[16];
		unsigned long long v;

		if (nl)
			*nl = '\0';
		if (sscanf(line, "%31s %15s %llu", dev, op, &v) == 3) {
			if (strcmp(op, "Read") == 0)
				*rd += v;
			else if (strcmp(op, "Write") == 0)
				*wr += v;
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

/* A missing file (controller absent, or an older kernel) leaves 0. */
static int opt_u64(int r)
{
	return r == -ENOENT ? 0 : r;
}

static int v1_stats(struct ksal_cgroup *cg, struct ksal_cgroup_stats *s, struct st_error **err)
{
	struct ksal_cgroup_mgr *m = cg->mgr;
	int h, r = 0;

	h = cg_hier_find(m, "cpuacct");
	if (h >= 0 && ksal_cg_fd(cg, h) >= 0) {
		r = opt_u64(cg_read_u64(ksal_cg_fd(cg, h), cg->path[h], "cpuacct.usage",
					&s->cpu_usage_ns, err));
		if (r < 0)
			return r;
	}
	h = cg_hier_find(m, "memory");
	if (h >= 0 && ksal_cg_fd(cg, h) >= 0) {
		int fd = ksal_cg_fd(cg, h);
		const char *p = cg->path[h];
		uint64_t memsw = 0, memsw_fail = 0;

		if ((r = opt_u64(cg_read_u64(fd, p, "memory.usage_in_bytes", &s->memory_current,
					     err))) < 0 ||
		    (r = opt_u64(cg_read_u64(fd, p, "memory.max_usage_in_bytes", &s->memory_peak,
					     err))) < 0 ||
		    (r = opt_u64(cg_read_u64(fd, p, "memory.limit_in_bytes", &s->memory_max,
					     err))) < 0 ||
		    (r = opt_u64(cg_read_u64(fd, p, "memory.failcnt", &s->memory_failcnt, err))) <
			    0 ||
		    (r = opt_u64(cg_read_key(fd, p, "memory.oom_control", "oom_kill", &s->oom_kills,
					     err))) < 0 ||
		    (r = opt_u64(cg_read_u64(fd, p, "memory.memsw.usage_in_bytes", &memsw, err))) <
			    0)
			return r;
		if (memsw > s->memory_current)
			s->swap_current = memsw - s->memory_current;
		/* a charge fails on memsw first when it is the tighter limit
		 * (swap 0): both counters together are the limit hits */
		if ((r = opt_u64(cg_read_u64(fd, p, "memory.memsw.failcnt", &memsw_fail, err))) < 0)
			return r;
		s->memory_failcnt += memsw_fail;
	}
	h = cg_hier_find(m, "pids");
	if (h >= 0 && ksal_cg_fd(cg, h) >= 0) {
		if ((r = opt_u64(cg_read_u64(ksal_cg_fd(cg, h), cg->path[h], "pids.current",
					     &s->pids_current, err))) < 0 ||
		    (r = opt_u64(cg_read_u64(ksal_cg_fd(cg, h), cg->path[h], "pids.max",
					     &s->pids_max, err))) < 0)
			return r;
	}
	h = cg_hier_find(m, "blkio");
	if (h >= 0 && ksal_cg_fd(cg, h) >= 0) {
		r = v1_blkio_sum(ksal_cg_fd(cg, h), cg->path[h],
				 "blkio.throttle.io_service_bytes_recursive", &s->io_read_bytes,
				 &s->io_write_bytes, err);
		if (r < 0)
			return r;
		r = v1_blkio_sum(ksal_cg_fd(cg, h), cg->path[h],
				 "blkio.throttle.io_serviced_recursive", &s->io_read_ops,
				 &s->io_write_ops, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The hierarchy whose cgroup.procs lists the container's tasks: freezer
 * (it is what freezes them), else pids, memory, any v1 one. */
static int v1_task_hier(struct ksal_cgroup *cg)
{
	static const char *const pref[] = { "freezer", "pids", "memory", "cpu" };

	for (size_t i = 0; i < ARRAY_SIZE(pref); i++) {
		int h = cg_hier_find(cg->mgr, pref[i]);
		if (h >= 0 && ksal_cg_fd(cg, h) >= 0)
			return h;
	}
	for (size_t i = 0; i < cg->mgr->nhier; i++)
		if (!cg->mgr->hier[i].v2 && ksal_cg_fd(cg, i) >= 0)
			return (int)i;
	return -1;
}

static int v1_pids(struct ksal_cgroup *cg, pid_t **pids, size_t *n, struct st_error **err)
{
	int h = v1_task_hier(cg);

	if (h < 0)
		return st_error_setx(err, ST_EXIT_FAILED, ENOENT, "list tasks of cgroup %s",
				     cg->name);
	return cg_collect_pids(ksal_cg_fd(cg, h), cg->path[h], "cgroup.procs", pids, n, err);
}

static int v1_is_empty(struct ksal_cgroup *cg)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;

	if (v1_pids(cg, &pids, &n, NULL) < 0)
		return 0;
	return n == 0;
}

static int v1_state_is(struct ksal_cgroup *cg, const char *want)
{
	_cleanup_free_ char *s = NULL;
	int h = cg_hier_find(cg->mgr, "freezer");

	if (cg_read(ksal_cg_fd(cg, h), cg->path[h], "freezer.state", &s, false, NULL) < 0)
		return -1;
	return strncmp(s, want, strlen(want)) == 0 && s[strlen(want)] == '\n' ? 1 : 0;
}

static int v1_is_frozen(struct ksal_cgroup *cg)
{
	return v1_state_is(cg, "FROZEN");
}

static int v1_is_thawed(struct ksal_cgroup *cg)
{
	return v1_state_is(cg, "THAWED");
}

#define FREEZE_TIMEOUT_MS 10000

static int v1_freeze(struct ksal_cgroup *cg, bool frozen, struct st_error **err)
{
	const char *want = frozen ? "FROZEN" : "THAWED";
	int h = v1_hier(cg, "freezer", err);
	int r;

	if (h < 0)
		return h;
	r = cg_write(ksal_cg_fd(cg, h), cg->path[h], "freezer.state", want, err);
	if (r < 0)
		return r;
	r = cg_wait(cg, FREEZE_TIMEOUT_MS, frozen ? v1_is_frozen : v1_is_thawed);
	if (r < 0)
		return st_error_set(err, EIO, "read `%s/freezer.state`", cg->path[h]);
	if (r == 0) {
		st_error_setx(err, ST_EXIT_TIMEOUT, 0,
			      "%s cgroup `%s`: freezer.state not %s after %d ms",
			      frozen ? "freeze" : "thaw", cg->path[h], want, FREEZE_TIMEOUT_MS);
		return -ETIMEDOUT;
	}
	st_debug("cgroup: %s %s", frozen ? "froze" : "thawed", cg->path[h]);
	return 0;
}

static int v1_kill_all(struct ksal_cgroup *cg, int timeout_ms, struct st_error **err)
{
	int h = v1_task_hier(cg);
	int hf = cg_hier_find(cg->mgr, "freezer");
	bool frozen = false;
	int r;

	if (h < 0)
		return st_error_setx(err, ST_EXIT_FAILED, ENOENT, "kill tasks of cgroup %s",
				     cg->name);
	/* frozen, nothing can fork between reading the list and the kill */
	if (hf >= 0 && ksal_cg_fd(cg, hf) >= 0) {
		_cleanup_error_ struct st_error *ferr = NULL;

		if (v1_freeze(cg, true, &ferr) == 0)
			frozen = true;
		else
			st_debug("cgroup: kill %s without freezing: %s", cg->name, ferr->msg);
	}
	if (frozen) {
		_cleanup_free_ pid_t *pids = NULL;
		size_t n = 0;

		r = cg_collect_pids(ksal_cg_fd(cg, h), cg->path[h], "cgroup.procs", &pids, &n, err);
		for (size_t i = 0; r == 0 && i < n; i++)
			kill(pids[i], SIGKILL);
		/* thaw even when listing failed, or the tasks stay frozen */
		if (v1_freeze(cg, false, r < 0 ? NULL : err) < 0 && r == 0)
			return -EIO;
		if (r < 0)
			return r;
	}
	return cg_kill_loop(cg, h, "cgroup.procs", timeout_ms, err);
}

const struct ksal_cgroup_ops ksal_cgroup_v1_ops = {
	.name = "v1",
	.subtree_init = v1_subtree_init,
	.cg_init = v1_cg_init,
	.clone_fd = v1_clone_fd,
	.attach = v1_attach,
	.delegate = v1_delegate,
	.devices_set = v1_devices_set,
	.apply = v1_apply,
	.stats = v1_stats,
	.pids = v1_pids,
	.is_empty = v1_is_empty,
	.freeze = v1_freeze,
	.kill_all = v1_kill_all,
};
