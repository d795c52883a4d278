/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Resource management and accounting (issue 5): `stat`, the accounting
 * fields of `list`, the block device of the I/O throttles, the cpuset of
 * CPUS, and ksmd for MEMORY_MERGE. See runtime/resources.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/ksm.h"
#include "ksal/log.h"
#include "runtime/daemon.h"
#include "runtime/resources.h"

void res_limit_bufs_clear(struct res_limit_bufs *b)
{
	free(b->cpuset);
	b->cpuset = NULL;
}

/* ---- limits the keys alone cannot give ---- */

static void warn(json_t *warnings, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(json_t *warnings, const char *fmt, ...)
{
	_cleanup_free_ char *s = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	st_warn("%s", s);
	if (warnings)
		json_array_append_new(warnings, json_string(s));
}

static const char *value_of(const struct ct_config *file, const struct ct_config *merged, int id,
			    const struct ct_value **v)
{
	if (file && file->v[id].set)
		*v = &file->v[id];
	else if (merged && merged->v[id].set)
		*v = &merged->v[id];
	else
		*v = NULL;
	return *v ? (*v)->str : NULL;
}

/* The CPUs Strata's containers may use: the online ones. */
static char *online_cpus(void)
{
	_cleanup_fclose_ FILE *f = fopen("/sys/devices/system/cpu/online", "re");
	char buf[1024];

	if (!f || !fgets(buf, sizeof(buf), f))
		return NULL;
	buf[strcspn(buf, "\n")] = '\0';
	return strdup(buf);
}

void res_limits_complete(struct daemon *d, struct ct *ct, const struct ct_config *c,
			 const bool *changed, struct ksal_cgroup_limits *lim,
			 struct res_limit_bufs *b, json_t *warnings)
{
	const struct ct_value *mask = NULL, *cpus = NULL;
	bool io = lim->io_bps_max != -1 && lim->io_bps_max != KSAL_CG_UNLIMITED;

	io = io || (lim->io_iops_max != -1 && lim->io_iops_max != KSAL_CG_UNLIMITED);
	if (io) {
		_cleanup_error_ struct st_error *err = NULL;
		_cleanup_free_ char *priv =
			g_ct_private_path(d->g, ct->conf ? ct->conf : c, ct->ctid);

		if (!priv ||
		    res_path_disk("/sys", priv, b->io_device, sizeof(b->io_device), &err) < 0) {
			warn(warnings, "container %s: IOLIMIT/IOPSLIMIT not applied: %s", ct->ctid,
			     err ? err->msg : "out of memory");
			lim->io_bps_max = lim->io_iops_max = -1;
		} else {
			lim->io_device = b->io_device;
			st_debug("container %s: I/O throttles on disk %s", ct->ctid, b->io_device);
		}
	}

	/* CPUS N without a CPUMASK: a cpuset of N CPUs, so that `nproc`
	 * (which counts the affinity) says N inside */
	if (changed && !changed[CT_CPUS] && !changed[CT_CPUMASK])
		return;
	value_of(changed ? c : NULL, changed ? ct->conf : c, CT_CPUMASK, &mask);
	value_of(changed ? c : NULL, changed ? ct->conf : c, CT_CPUS, &cpus);
	if (mask && mask->str && strcmp(mask->str, "all") != 0)
		return; /* lim_cpumask gave it */
	{
		_cleanup_free_ char *online = online_cpus();
		_cleanup_error_ struct st_error *err = NULL;
		int n = online ? res_cpulist_count(online) : -1;

		if (n <= 0)
			return;
		if (cpus && cpus->u > 0 && cpus->u < (uint64_t)n) {
			if (res_cpulist_first(online, (unsigned)cpus->u, &b->cpuset, &err) < 0) {
				warn(warnings, "container %s: cpuset for CPUS=%" PRIu64 ": %s",
				     ct->ctid, cpus->u, err->msg);
				return;
			}
		} else if (!changed && !mask) {
			return; /* a new cgroup has every CPU already */
		} else {
			b->cpuset = take_ptr(online);
		}
		lim->cpuset_cpus = b->cpuset;
	}
}

/* ---- accounting ---- */

/* The last CPU sample of each container, for the current CPU %. */
struct cpu_sample {
	char ctid[32];
	pid_t pid;
	uint64_t ns;
	double t;
	double pct, win; /* the figure of the last window and its length */
};
static struct cpu_sample *samples;
static size_t n_samples;

static double mono_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct cpu_sample *sample_of(struct ct *ct)
{
	struct cpu_sample *s;

	for (size_t i = 0; i < n_samples; i++)
		if (!strcmp(samples[i].ctid, ct->ctid)) {
			if (samples[i].pid != ct->pid)
				samples[i].t = samples[i].win = 0; /* restarted */
			samples[i].pid = ct->pid;
			return &samples[i];
		}
	s = realloc(samples, (n_samples + 1) * sizeof(*s));
	if (!s)
		return NULL;
	samples = s;
	s = &samples[n_samples++];
	memset(s, 0, sizeof(*s));
	snprintf(s->ctid, sizeof(s->ctid), "%s", ct->ctid);
	s->pid = ct->pid;
	return s;
}

/* Seconds since the init started (0 if unknown). */
static uint64_t ct_uptime_s(struct ct *ct)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/uptime", "re");
	double up = 0, started;
	long tck = sysconf(_SC_CLK_TCK);

	if (!f || fscanf(f, "%lf", &up) != 1 || tck <= 0)
		return 0;
	started = (double)ct->start_time / (double)tck;
	return up < started ? 0 : (uint64_t)(up - started);
}

/*
 * CPU % of one CPU since the previous sample, when that is at least
 * min_window s old; a more recent one gives the figure it measured then
 * (the window of a refresh is not shortened by another client's request);
 * without any, the average since the start. *window gets the seconds the
 * figure covers (0: none).
 */
static double cpu_pct(struct ct *ct, uint64_t ns, double min_window, double *window)
{
	struct cpu_sample *s = sample_of(ct);
	double now = mono_now(), pct;

	if (s && s->t > 0 && now - s->t < min_window) {
		*window = s->win;
		return s->pct;
	}
	if (s && s->t > 0 && ns >= s->ns) {
		*window = now - s->t;
		pct = (double)(ns - s->ns) / 1e9 / *window * 100.0;
	} else {
		uint64_t up = ct_uptime_s(ct);
		*window = (double)up;
		pct = up ? (double)ns / 1e9 / (double)up * 100.0 : 0;
	}
	if (s) {
		s->ns = ns;
		s->t = now;
		s->pct = pct;
		s->win = *window;
	}
	return pct;
}

static json_t *u64_or_null(uint64_t v)
{
	if (v == (uint64_t)KSAL_CG_UNLIMITED || v >= (uint64_t)INT64_MAX)
		return json_null();
	return json_integer((json_int_t)v);
}

static double round1(double x)
{
	return (double)(int64_t)(x * 10.0 + 0.5) / 10.0;
}

/* Pages of the container merged by KSM (-1: unknown). */
static int64_t ksm_pages(struct ct *ct)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	uint64_t pages = 0;

	if (!ct->cg || ksal_cgroup_pids(ct->cg, &pids, &n, NULL) < 0 ||
	    ksal_ksm_merging_sum(pids, n, &pages, NULL) < 0)
		return -1;
	return (int64_t)pages;
}

void res_list_fields(struct daemon *d, struct ct *ct, const struct ksal_cgroup_stats *st, json_t *o)
{
	static const char *const fields[] = { "cpu",	 "cpupct",   "mem",	 "maxmem",
					      "failcnt", "oomkills", "swapused", "iobytes",
					      "ioops",	 "ksm_pages" };
	double window;
	bool merge;

	(void)d;
	if (!st) {
		for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
			json_object_set_new(o, fields[i], json_null());
		return;
	}
	json_object_set_new(o, "cpu", json_real(round1((double)st->cpu_usage_ns / 1e9)));
	json_object_set_new(o, "cpupct",
			    json_real(round1(cpu_pct(ct, st->cpu_usage_ns, 0.5, &window))));
	json_object_set_new(o, "mem", json_integer((json_int_t)st->memory_current));
	json_object_set_new(o, "maxmem", json_integer((json_int_t)st->memory_peak));
	json_object_set_new(o, "failcnt", json_integer((json_int_t)st->memory_failcnt));
	json_object_set_new(o, "oomkills", json_integer((json_int_t)st->oom_kills));
	json_object_set_new(o, "swapused", json_integer((json_int_t)st->swap_current));
	json_object_set_new(o, "iobytes",
			    json_integer((json_int_t)(st->io_read_bytes + st->io_write_bytes)));
	json_object_set_new(o, "ioops",
			    json_integer((json_int_t)(st->io_read_ops + st->io_write_ops)));
	merge = ct->conf && ct_config_bool(ct->conf, CT_MEMORY_MERGE, false);
	{
		int64_t k = merge ? ksm_pages(ct) : -1;
		json_object_set_new(o, "ksm_pages", k >= 0 ? json_integer(k) : json_null());
	}
}

int ct_do_stat(struct daemon *d, struct ct *ct, json_t **result, struct st_error **err)
{
	struct ksal_cgroup_stats st;
	double window = 0, pct;
	json_t *o;
	bool merge;

	(void)d;
	if (ct->run == CT_STOPPED || !ct->cg)
		return st_error_setx(err, ST_EXIT_NOTRUNNING, 0,
				     "stat %s: container is not running", ct->ctid);
	if (ksal_cgroup_stats(ct->cg, &st, err) < 0)
		return st_error_prefix(err, "stat %s", ct->ctid);
	/* the current CPU %: over the time since the last sample (list, top,
	 * an earlier stat) when there is one, else the average since the
	 * container started (cpu_pct_window says which). Never waits: a stat
	 * must not hold the daemon's one event loop. */
	pct = cpu_pct(ct, st.cpu_usage_ns, 0.1, &window);
	merge = ct->conf && ct_config_bool(ct->conf, CT_MEMORY_MERGE, false);
	o = json_object();
	json_object_set_new(o, "ctid", json_string(ct->ctid));
	json_object_set_new(o, "status",
			    json_string(ct->run == CT_RUNNING ? "running" : "stopping"));
	json_object_set_new(o, "pid", json_integer(ct->pid));
	json_object_set_new(o, "uptime", json_integer((json_int_t)ct_uptime_s(ct)));
	json_object_set_new(o, "cpu_ns", json_integer((json_int_t)st.cpu_usage_ns));
	json_object_set_new(o, "cpu_pct", json_real(round1(pct)));
	json_object_set_new(o, "cpu_pct_window", json_real(round1(window)));
	json_object_set_new(o, "mem_bytes", json_integer((json_int_t)st.memory_current));
	json_object_set_new(o, "mem_max_bytes", json_integer((json_int_t)st.memory_peak));
	json_object_set_new(o, "mem_limit_bytes", u64_or_null(st.memory_max));
	json_object_set_new(o, "failcnt", json_integer((json_int_t)st.memory_failcnt));
	json_object_set_new(o, "oom_kills", json_integer((json_int_t)st.oom_kills));
	json_object_set_new(o, "swap_bytes", json_integer((json_int_t)st.swap_current));
	json_object_set_new(o, "numproc", json_integer((json_int_t)st.pids_current));
	json_object_set_new(o, "numproc_limit", u64_or_null(st.pids_max));
	json_object_set_new(o, "io_read_bytes", json_integer((json_int_t)st.io_read_bytes));
	json_object_set_new(o, "io_write_bytes", json_integer((json_int_t)st.io_write_bytes));
	json_object_set_new(o, "io_read_ops", json_integer((json_int_t)st.io_read_ops));
	json_object_set_new(o, "io_write_ops", json_integer((json_int_t)st.io_write_ops));
	json_object_set_new(o, "memory_merge", json_boolean(merge));
	if (merge) {
		int64_t k = ksm_pages(ct);
		json_object_set_new(o, "ksm_pages", k >= 0 ? json_integer(k) : json_null());
		json_object_set_new(o, "ksm_bytes",
				    k >= 0 ? json_integer(k * (json_int_t)sysconf(_SC_PAGESIZE))
					   : json_null());
	}
	*result = o;
	return 0;
}

/* ---- MEMORY_MERGE and ksmd ---- */

static char *ksm_saved_path(struct daemon *d)
{
	char *p = NULL;

	if (asprintf(&p, "%s/ksm.saved", d->g->run_dir) < 0)
		return NULL;
	return p;
}

int res_ksm_acquire(struct daemon *d, struct ct *ct, struct st_error **err)
{
	_cleanup_free_ char *saved = ksm_saved_path(d);
	int old = 0;

	if (!saved)
		return st_error_set(err, ENOMEM, "MEMORY_MERGE");
	if (!ksal_ksm_available())
		return st_error_setx(err, ST_EXIT_NOFEATURE, 0,
				     "MEMORY_MERGE=yes: kernel same-page merging is not available "
				     "here (needs CONFIG_KSM, a writable %s/run and Linux 6.4+)",
				     KSAL_KSM_DIR);
	if (access(saved, F_OK) == 0)
		return 0; /* we turned ksmd on earlier */
	if (ksal_ksm_set_run(1, &old, err) < 0)
		return st_error_prefix(err, "MEMORY_MERGE: start ksmd");
	if (old != 1) {
		char buf[16];
		snprintf(buf, sizeof(buf), "%d\n", old);
		if (st_write_file_atomic(saved, buf, strlen(buf), 0644, false, err) < 0)
			return st_error_prefix(err, "MEMORY_MERGE");
		st_info("container %s: MEMORY_MERGE: ksmd turned on (was run=%d)", ct->ctid, old);
	}
	return 0;
}

void res_ksm_release(struct daemon *d, struct ct *ct)
{
	_cleanup_error_ struct st_error *err = NULL;
	_cleanup_free_ char *saved = ksm_saved_path(d), *text = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	int old = 0;

	if (!saved || access(saved, F_OK) < 0)
		return;
	for (struct ct *o = d->cts; o; o = o->next)
		if (o != ct && o->run != CT_STOPPED && o->conf &&
		    ct_config_bool(o->conf, CT_MEMORY_MERGE, false))
			return; /* still in use */
	f = fopen(saved, "re");
	if (!f || fscanf(f, "%d", &old) != 1 || (old != 0 && old != 1)) {
		st_warn("MEMORY_MERGE: unreadable `%s`: leaving ksmd as it is", saved);
		unlink(saved);
		return;
	}
	if (ksal_ksm_set_run(old, NULL, &err) < 0) {
		st_warn("MEMORY_MERGE: restore ksmd run=%d: %s", old, err->msg);
		return;
	}
	unlink(saved);
	st_info("MEMORY_MERGE: no container merges any more: ksmd back to run=%d", old);
}

/* ---- exec'd commands join the container's cgroups ---- */

void res_close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -EBADF;
		}
}

int res_cgroup_procs_fds(struct daemon *d, struct ct *ct, int *fds, size_t *n,
			 struct st_error **err)
{
	_cleanup_free_ char *ctrls = NULL;
	const char *names[64], *seen[RES_MAX_CGROUP_FDS];
	size_t nn = 0;
	char *save = NULL;

	*n = 0;
	if (!ct->cg)
		return 0;
	/* every controller's hierarchy, the named systemd one and cgroup2;
	 * one fd per distinct directory */
	if (asprintf(&ctrls, "%s,systemd,unified", ksal_cgroup_mgr_controllers(d->cg)) < 0)
		return st_error_set(err, ENOMEM, "cgroups of %s", ct->ctid);
	for (char *c = strtok_r(ctrls, ",", &save); c && nn < ARRAY_SIZE(names);
	     c = strtok_r(NULL, ",", &save))
		names[nn++] = c;
	for (size_t k = 0; k < nn && *n < RES_MAX_CGROUP_FDS; k++) {
		const char *path = ksal_cgroup_path(ct->cg, names[k]);
		_cleanup_free_ char *procs = NULL;
		bool dup = false;
		int fd;

		if (!path)
			continue;
		for (size_t i = 0; i < *n; i++)
			if (!strcmp(seen[i], path))
				dup = true;
		if (dup)
			continue;
		if (asprintf(&procs, "%s/cgroup.procs", path) < 0) {
			res_close_fds(fds, *n);
			return st_error_set(err, ENOMEM, "cgroups of %s", ct->ctid);
		}
		fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			res_close_fds(fds, *n);
			return st_error_set(err, e, "open `%s`", procs);
		}
		seen[*n] = path;
		fds[(*n)++] = fd;
	}
	return 0;
}
