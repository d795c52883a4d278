/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The cgroup v2 backend: one hierarchy, the container's cgroup a leaf of
 * Strata's subtree (which holds no tasks: the no-internal-process rule).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>

#include "ksal/cgroup.h"
#include "ksal/cgroup_internal.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"

#define V2 0 /* the one hierarchy's index */

/* Enable in <subtree>/cgroup.subtree_control every controller the subtree
 * has (those the host enabled for it; the host's own cgroups stay as they
 * are), so each container's cgroup gets them. */
static int v2_subtree_init(struct ksal_cgroup_mgr *m, struct st_error **err)
{
	struct ksal_cg_hier *h = &m->hier[V2];
	_cleanup_free_ char *avail = NULL, *on = NULL, *spath = NULL;
	int r;

	if (asprintf(&spath, "%s/%s", h->mnt, m->subtree) < 0) {
		spath = NULL;
		return st_error_set(err, ENOMEM, "prepare cgroup subtree");
	}
	r = cg_read(h->subtree_fd, spath, "cgroup.controllers", &avail, false, err);
	if (r < 0)
		return r;
	r = cg_read(h->subtree_fd, spath, "cgroup.subtree_control", &on, false, err);
	if (r < 0)
		return r;
	for (char *save = NULL, *tok = strtok_r(avail, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save)) {
		bool enabled = false;
		size_t tl = strlen(tok);

		for (char *p = on; (p = strstr(p, tok)); p += tl) {
			char after = p[tl];
			if ((p == on || p[-1] == ' ') &&
			    (after == ' ' || after == '\n' || !after)) {
				enabled = true;
				break;
			}
		}
		if (enabled)
			continue;
		r = cg_writef(h->subtree_fd, spath, "cgroup.subtree_control", err, "+%s", tok);
		if (r < 0)
			return r;
	}
	return 0;
}

static int v2_cg_init(struct ksal_cgroup *cg, bool made, struct st_error **err)
{
	return 0;
}

static int v2_clone_fd(struct ksal_cgroup *cg)
{
	return ksal_cg_fd(cg, V2);
}

static int v2_attach(struct ksal_cgroup *cg, pid_t pid, struct st_error **err)
{
	int r = cg_writef(ksal_cg_fd(cg, V2), cg->path[V2], "cgroup.procs", err, "%d", (int)pid);

	if (r < 0)
		st_error_prefix(err, "attach %d to cgroup %s: ", (int)pid, cg->name);
	return r;
}

int cg_delegate_v2_dir(int dfd, const char *path, uid_t uid, gid_t gid, struct st_error **err)
{
	static const char *const files[] = { "cgroup.procs", "cgroup.subtree_control",
					     "cgroup.threads" };

	if (fchown(dfd, uid, gid) < 0)
		return st_error_set(err, errno, "chown `%s` to %u:%u", path, uid, gid);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		if (fchownat(dfd, files[i], uid, gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
			return st_error_set(err, errno, "chown `%s/%s` to %u:%u", path, files[i],
					    uid, gid);
	}
	return 0;
}

static int v2_delegate(struct ksal_cgroup *cg, uid_t uid, gid_t gid, struct st_error **err)
{
	return cg_delegate_v2_dir(ksal_cg_fd(cg, V2), cg->path[V2], uid, gid, err);
}

/* ---- device allowlist: a BPF_PROG_TYPE_CGROUP_DEVICE program, by hand ---- */

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	return (struct bpf_insn){
		.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm
	};
}

#define LDX_W(dst, src, off) insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0)
#define AND32_K(dst, k) insn(BPF_ALU | BPF_AND | BPF_K, dst, 0, 0, k)
#define RSH32_K(dst, k) insn(BPF_ALU | BPF_RSH | BPF_K, dst, 0, 0, k)
#define MOV32_X(dst, src) insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
#define MOV64_K(dst, k) insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, k)
#define JNE_K(dst, k, off) insn(BPF_JMP32 | BPF_JNE | BPF_K, dst, 0, off, k)
#define JNE_X(dst, src, off) insn(BPF_JMP32 | BPF_JNE | BPF_X, dst, src, off, 0)
#define EXIT() insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/*
 * r2 = device type, r3 = requested access, r4 = major, r5 = minor (32-bit
 * compares: majors and minors are u32); one block
 * per allowed rule that returns 1 when every field matches, and 0 at the
 * end: whatever no rule allows is denied (like devices.deny "a" on v1).
 */
int cg_devices_prog(const struct ksal_cgroup_dev *allow, size_t n, struct bpf_insn **out,
		    size_t *count)
{
	_cleanup_free_ struct bpf_insn *p = NULL;
	bool deny_rest = true;
	size_t i = 0;

	p = calloc(6 + n * 9 + 2, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p[i++] = LDX_W(BPF_REG_2, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type));
	p[i++] = AND32_K(BPF_REG_2, 0xffff);
	p[i++] = LDX_W(BPF_REG_3, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type));
	p[i++] = RSH32_K(BPF_REG_3, 16);
	p[i++] = LDX_W(BPF_REG_4, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, major));
	p[i++] = LDX_W(BPF_REG_5, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, minor));
	for (size_t k = 0; k < n; k++) {
		const struct ksal_cgroup_dev *d = &allow[k];
		int32_t acc = 0;
		bool has_type = d->type != 'a', has_major = d->type != 'a' && d->major >= 0,
		     has_minor = d->type != 'a' && d->minor >= 0, has_acc;
		int16_t left;

		for (const char *a = d->access; *a; a++)
			acc |= *a == 'r'   ? BPF_DEVCG_ACC_READ
			       : *a == 'w' ? BPF_DEVCG_ACC_WRITE
					   : BPF_DEVCG_ACC_MKNOD;
		has_acc = acc != (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD);
		/* instructions of this block after the first check, to skip it */
		left = (int16_t)(has_type + 3 * has_acc + has_major + has_minor + 2);
		if (has_type)
			p[i++] = JNE_K(BPF_REG_2,
				       d->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR,
				       --left);
		if (has_acc) {
			p[i++] = MOV32_X(BPF_REG_1, BPF_REG_3);
			--left;
			p[i++] = AND32_K(BPF_REG_1, acc);
			--left;
			p[i++] = JNE_X(BPF_REG_1, BPF_REG_3, --left);
		}
		if (has_major)
			p[i++] = JNE_K(BPF_REG_4, (int32_t)d->major, --left);
		if (has_minor)
			p[i++] = JNE_K(BPF_REG_5, (int32_t)d->minor, --left);
		p[i++] = MOV64_K(BPF_REG_0, 1);
		p[i++] = EXIT();
		if (!has_type && !has_acc) {
			/* allows everything: the rest would be unreachable,
			 * which the verifier refuses */
			deny_rest = false;
			break;
		}
	}
	if (deny_rest) {
		p[i++] = MOV64_K(BPF_REG_0, 0);
		p[i++] = EXIT();
	}
	*count = i;
	*out = take_ptr(p);
	return 0;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

int cg_devices_bpf(int cgfd, const char *path, const struct ksal_cgroup_dev *allow, size_t n,
		   struct st_error **err)
{
	_cleanup_free_ struct bpf_insn *prog = NULL;
	_cleanup_close_ int pfd = -EBADF;
	char log[4096] = "";
	uint32_t old[64], nold = ARRAY_SIZE(old);
	union bpf_attr a;
	size_t count;

	if (cg_devices_prog(allow, n, &prog, &count) < 0)
		return st_error_set(err, ENOMEM, "build device program for `%s`", path);

	/* programs attached before (an earlier allowlist), detached once the
	 * new one is in place so the cgroup is never without one */
	memset(&a, 0, sizeof(a));
	a.query.target_fd = (uint32_t)cgfd;
	a.query.attach_type = BPF_CGROUP_DEVICE;
	a.query.prog_ids = (uint64_t)(uintptr_t)old;
	a.query.prog_cnt = nold;
	if (sys_bpf(BPF_PROG_QUERY, &a) < 0) {
		if (errno == EINVAL || errno == EBADF || errno == ENOTDIR)
			return st_error_setx(err, ST_EXIT_NOFEATURE, errno,
					     "query device programs of `%s` (not a cgroup2 "
					     "directory?)",
					     path);
		return st_error_set(err, errno, "query device programs of `%s`", path);
	}
	nold = a.query.prog_cnt;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uint64_t)(uintptr_t)prog;
	a.insn_cnt = (uint32_t)count;
	a.license = (uint64_t)(uintptr_t) "GPL";
	a.log_buf = (uint64_t)(uintptr_t)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	pfd = sys_bpf(BPF_PROG_LOAD, &a);
	if (pfd < 0 && errno == ENOSPC) {
		/* log too small; the program itself was fine: load without it */
		a.log_buf = 0;
		a.log_size = 0;
		a.log_level = 0;
		pfd = sys_bpf(BPF_PROG_LOAD, &a);
	}
	if (pfd < 0) {
		int e = errno;
		log[sizeof(log) - 1] = '\0';
		return st_error_setx(err, e == EPERM ? ST_EXIT_PERM : ST_EXIT_SYSTEM, e,
				     "load device program (%zu instructions) for `%s`%s%.300s",
				     count, path, *log ? ": verifier: " : "", log);
	}

	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)cgfd;
	a.attach_bpf_fd = (uint32_t)pfd;
	a.attach_type = BPF_CGROUP_DEVICE;
	a.attach_flags = BPF_F_ALLOW_MULTI;
	if (sys_bpf(BPF_PROG_ATTACH, &a) < 0)
		return st_error_set(err, errno, "attach device program to `%s`", path);

	for (uint32_t k = 0; k < nold && k < ARRAY_SIZE(old); k++) {
		_cleanup_close_ int ofd = -EBADF;

		memset(&a, 0, sizeof(a));
		a.prog_id = old[k];
		ofd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &a);
		if (ofd < 0)
			continue; /* gone meanwhile */
		memset(&a, 0, sizeof(a));
		a.target_fd = (uint32_t)cgfd;
		a.attach_bpf_fd = (uint32_t)ofd;
		a.attach_type = BPF_CGROUP_DEVICE;
		if (sys_bpf(BPF_PROG_DETACH, &a) < 0 && errno != ENOENT)
			return st_error_set(err, errno, "detach old device program %u from `%s`",
					    old[k], path);
	}
	st_debug("cgroup: device program (%zu rules, %zu insns) on %s", n, count, path);
	return 0;
}

static int v2_devices_set(struct ksal_cgroup *cg, const struct ksal_cgroup_dev *allow, size_t n,
			  struct st_error **err)
{
	return cg_devices_bpf(ksal_cg_fd(cg, V2), cg->path[V2], allow, n, err);
}

static int v2_write_num(struct ksal_cgroup *cg, const char *file, int64_t v, struct st_error **err)
{
	if (v == KSAL_CG_UNLIMITED)
		return cg_write(ksal_cg_fd(cg, V2), cg->path[V2], file, "max", err);
	return cg_writef(ksal_cg_fd(cg, V2), cg->path[V2], file, err, "%" PRId64, v);
}

static int v2_apply_io(struct ksal_cgroup *cg, const struct ksal_cgroup_limits *l,
		       struct st_error **err)
{
	int fd = ksal_cg_fd(cg, V2);
	const char *p = cg->path[V2];
	char rule[256];
	size_t len;
	int r;

	if (l->io_weight != -1) {
		int64_t w = ksal_cgroup_ioprio_to_weight(l->io_weight);

		if (cg_file_exists(fd, "io.weight"))
			r = cg_writef(fd, p, "io.weight", err, "default %" PRId64, w);
		else if (cg_file_exists(fd, "io.bfq.weight"))
			r = cg_writef(fd, p, "io.bfq.weight", err, "%" PRId64, w);
		else
			r = st_error_setx(
				err, ST_EXIT_NOFEATURE, 0,
				"set I/O priority: no io.weight or io.bfq.weight in `%s` "
				"(io controller not enabled, or no weight-based scheduler)",
				p);
		if (r < 0)
			return r;
	}
	if ((l->io_bps_max == -1 && l->io_iops_max == -1) || !l->io_device)
		return 0;
	len = (size_t)snprintf(rule, sizeof(rule), "%s", l->io_device);
	if (l->io_bps_max != -1) {
		if (l->io_bps_max == KSAL_CG_UNLIMITED)
			len += (size_t)snprintf(rule + len, sizeof(rule) - len,
						" rbps=max wbps=max");
		else
			len += (size_t)snprintf(rule + len, sizeof(rule) - len,
						" rbps=%" PRId64 " wbps=%" PRId64, l->io_bps_max,
						l->io_bps_max);
	}
	if (len < sizeof(rule) && l->io_iops_max != -1) {
		if (l->io_iops_max == KSAL_CG_UNLIMITED)
			len += (size_t)snprintf(rule + len, sizeof(rule) - len,
						" riops=max wiops=max");
		else
			len += (size_t)snprintf(rule + len, sizeof(rule) - len,
						" riops=%" PRId64 " wiops=%" PRId64, l->io_iops_max,
						l->io_iops_max);
	}
	if (len >= sizeof(rule))
		return st_error_setx(err, ST_EXIT_BADVALUE, 0, "I/O limit rule for `%s` too long",
				     l->io_device);
	return cg_write(fd, p, "io.max", rule, err);
}

static int v2_apply(struct ksal_cgroup *cg, const struct ksal_cgroup_limits *l,
		    struct st_error **err)
{
	int fd = ksal_cg_fd(cg, V2);
	const char *p = cg->path[V2];
	int r;

	if (l->memory_max != -1) {
		r = v2_write_num(cg, "memory.max", l->memory_max, err);
		if (r < 0)
			return r;
	}
	if (l->swap_max != -1) {
		if (!cg_file_exists(fd, "memory.swap.max"))
			r = cg_swap_unsupported("memory.swap.max", l->swap_max, err);
		else
			r = v2_write_num(cg, "memory.swap.max", l->swap_max, err);
		if (r < 0)
			return r;
	}
	if (l->memory_low != -1) {
		r = v2_write_num(cg, "memory.low", l->memory_low, err);
		if (r < 0)
			return r;
	}
	if (l->cpu_weight != -1) {
		r = cg_writef(fd, p, "cpu.weight", err, "%" PRId64,
			      ksal_cgroup_cpuunits_to_weight(l->cpu_weight));
		if (r < 0)
			return r;
	}
	if (l->cpu_quota_us != -1 || l->cpu_period_us != -1) {
		char quota[24];

		if (l->cpu_quota_us == -1) {
			/* only the period changes: keep the current quota */
			_cleanup_free_ char *cur = NULL;

			r = cg_read(fd, p, "cpu.max", &cur, false, err);
			if (r < 0)
				return r;
			if (sscanf(cur, "%23s", quota) != 1)
				return st_error_set(err, EINVAL, "parse `%s/cpu.max`", p);
		} else if (l->cpu_quota_us == KSAL_CG_UNLIMITED) {
			snprintf(quota, sizeof(quota), "max");
		} else {
			snprintf(quota, sizeof(quota), "%" PRId64, l->cpu_quota_us);
		}
		if (l->cpu_period_us != -1)
			r = cg_writef(fd, p, "cpu.max", err, "%s %" PRId64, quota,
				      l->cpu_period_us);
		else
			r = cg_write(fd, p, "cpu.max", quota, err);
		if (r < 0)
			return r;
	}
	if (l->cpuset_cpus) {
		r = cg_write(fd, p, "cpuset.cpus", l->cpuset_cpus, err);
		if (r < 0)
			return r;
	}
	if (l->pids_max != -1) {
		r = v2_write_num(cg, "pids.max", l->pids_max, err);
		if (r < 0)
			return r;
	}
	return v2_apply_io(cg, l, err);
}

/* Sum rbytes/wbytes/rios/wios over the devices of io.stat. */
static int v2_io_stat(struct ksal_cgroup *cg, struct ksal_cgroup_stats *s, struct st_error **err)
{
	_cleanup_free_ char *buf = NULL;
	int r;

	r = cg_read(ksal_cg_fd(cg, V2), cg->path[V2], "io.stat", &buf, true, err);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	for (char *save = NULL, *tok = strtok_r(buf, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save)) {
		unsigned long long v;

		if (sscanf(tok, "rbytes=%llu", &v) == 1)
			s->io_read_bytes += v;
		else if (sscanf(tok, "wbytes=%llu", &v) == 1)
			s->io_write_bytes += v;
		else if (sscanf(tok, "rios=%llu", &v) == 1)
			s->io_read_ops += v;
		else if (sscanf(tok, "wios=%llu", &v) == 1)
			s->io_write_ops += v;
	}
	return 0;
}

static int opt(int r)
{
	return r == -ENOENT ? 0 : r;
}

static int v2_stats(struct ksal_cgroup *cg, struct ksal_cgroup_stats *s, struct st_error **err)
{
	int fd = ksal_cg_fd(cg, V2);
	const char *p = cg->path[V2];
	uint64_t usec = 0;
	int r;

	if ((r = opt(cg_read_key(fd, p, "cpu.stat", "usage_usec", &usec, err))) < 0)
		return r;
	s->cpu_usage_ns = usec * 1000;
	if ((r = opt(cg_read_u64(fd, p, "memory.current", &s->memory_current, err))) < 0 ||
	    (r = opt(cg_read_u64(fd, p, "memory.peak", &s->memory_peak, err))) < 0 ||
	    (r = opt(cg_read_u64(fd, p, "memory.max", &s->memory_max, err))) < 0 ||
	    (r = opt(cg_read_u64(fd, p, "memory.swap.current", &s->swap_current, err))) < 0 ||
	    (r = opt(cg_read_key(fd, p, "memory.events", "max", &s->memory_failcnt, err))) < 0 ||
	    (r = opt(cg_read_key(fd, p, "memory.events", "oom_kill", &s->oom_kills, err))) < 0 ||
	    (r = opt(cg_read_u64(fd, p, "pids.current", &s->pids_current, err))) < 0 ||
	    (r = opt(cg_read_u64(fd, p, "pids.max", &s->pids_max, err))) < 0)
		return r;
	return v2_io_stat(cg, s, err);
}

static int v2_pids(struct ksal_cgroup *cg, pid_t **pids, size_t *n, struct st_error **err)
{
	return cg_collect_pids(ksal_cg_fd(cg, V2), cg->path[V2], "cgroup.procs", pids, n, err);
}

static int v2_is_empty(struct ksal_cgroup *cg)
{
	_cleanup_free_ pid_t *pids = NULL;
	uint64_t populated;
	size_t n = 0;
	int r;

	r = cg_read_key(ksal_cg_fd(cg, V2), cg->path[V2], "cgroup.events", "populated", &populated,
			NULL);
	if (r == 0)
		return populated == 0;
	if (v2_pids(cg, &pids, &n, NULL) < 0)
		return 0;
	return n == 0;
}

static int v2_frozen_is(struct ksal_cgroup *cg, uint64_t want)
{
	uint64_t v;

	if (cg_read_key(ksal_cg_fd(cg, V2), cg->path[V2], "cgroup.events", "frozen", &v, NULL) < 0)
		return -1;
	return v == want;
}

static int v2_is_frozen(struct ksal_cgroup *cg)
{
	return v2_frozen_is(cg, 1);
}

static int v2_is_thawed(struct ksal_cgroup *cg)
{
	return v2_frozen_is(cg, 0);
}

#define FREEZE_TIMEOUT_MS 10000

static int v2_freeze(struct ksal_cgroup *cg, bool frozen, struct st_error **err)
{
	int r;

	r = cg_write(ksal_cg_fd(cg, V2), cg->path[V2], "cgroup.freeze", frozen ? "1" : "0", err);
	if (r < 0)
		return r;
	r = cg_wait(cg, FREEZE_TIMEOUT_MS, frozen ? v2_is_frozen : v2_is_thawed);
	if (r < 0)
		return st_error_set(err, EIO, "read `frozen` in `%s/cgroup.events`", cg->path[V2]);
	if (r == 0) {
		st_error_setx(err, ST_EXIT_TIMEOUT, 0,
			      "%s cgroup `%s`: cgroup.events not `frozen %d` after %d ms",
			      frozen ? "freeze" : "thaw", cg->path[V2], frozen ? 1 : 0,
			      FREEZE_TIMEOUT_MS);
		return -ETIMEDOUT;
	}
	st_debug("cgroup: %s %s", frozen ? "froze" : "thawed", cg->path[V2]);
	return 0;
}

static int v2_kill_all(struct ksal_cgroup *cg, int timeout_ms, struct st_error **err)
{
	int r;

	if (cg_file_exists(ksal_cg_fd(cg, V2), "cgroup.kill")) {
		r = cg_write(ksal_cg_fd(cg, V2), cg->path[V2], "cgroup.kill", "1", err);
		if (r < 0)
			return r;
		if (cg_wait(cg, timeout_ms, v2_is_empty) > 0)
			return 0;
		/* fall through to the loop, which also reports what is left */
	} else {
		_cleanup_error_ struct st_error *ferr = NULL;
		_cleanup_free_ pid_t *pids = NULL;
		size_t n = 0;
		bool frozen = v2_freeze(cg, true, &ferr) == 0;

		r = v2_pids(cg, &pids, &n, err);
		for (size_t i = 0; r == 0 && i < n; i++)
			kill(pids[i], SIGKILL);
		if (frozen && v2_freeze(cg, false, r < 0 ? NULL : err) < 0 && r == 0)
			return -EIO;
		if (r < 0)
			return r;
	}
	return cg_kill_loop(cg, V2, "cgroup.procs", timeout_ms, err);
}

const struct ksal_cgroup_ops ksal_cgroup_v2_ops = {
	.name = "v2",
	.subtree_init = v2_subtree_init,
	.cg_init = v2_cg_init,
	.clone_fd = v2_clone_fd,
	.attach = v2_attach,
	.delegate = v2_delegate,
	.devices_set = v2_devices_set,
	.apply = v2_apply,
	.stats = v2_stats,
	.pids = v2_pids,
	.is_empty = v2_is_empty,
	.freeze = v2_freeze,
	.kill_all = v2_kill_all,
};
