/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What limit values the cgroup interface accepts and how vzctl's units map
 * onto the kernel's: conversions, range checks (the valid range in every
 * message) and the "leave as is" initialiser. No kernel access here.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ksal/cgroup.h"
#include "ksal/cgroup_internal.h"

/* ---- conversions ---- */

int64_t ksal_cgroup_cpuunits_to_shares(int64_t units)
{
	int64_t s;

	if (units <= 0)
		return 2;
	if (units > INT64_MAX / 1024)
		return 262144;
	s = units * 1024 / 1000;
	if (s < 2)
		s = 2;
	if (s > 262144)
		s = 262144;
	return s;
}

int64_t ksal_cgroup_cpuunits_to_weight(int64_t units)
{
	int64_t w;

	if (units <= 0)
		return 1;
	if (units > INT64_MAX - 5)
		return 10000;
	w = (units + 5) / 10;
	if (w < 1)
		w = 1;
	if (w > 10000)
		w = 10000;
	return w;
}

int64_t ksal_cgroup_ioprio_to_weight(int64_t prio)
{
	if (prio < 0)
		prio = 0;
	if (prio > 7)
		prio = 7;
	return 100 + prio * 900 / 7;
}

static int bad_value(struct st_error **err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int bad_value(struct st_error **err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = st_error_vsetx(err, ST_EXIT_BADVALUE, 0, fmt, ap);
	va_end(ap);
	return r < 0 ? -EINVAL : r;
}

static bool valid_cpulist(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && *s != ',' && *s != '-')
			return false;
	return true;
}

int cg_validate_limits(const struct ksal_cgroup_limits *l, struct st_error **err)
{
	unsigned maj, min;
	char c;

	if (l->memory_max < -1)
		return bad_value(err,
				 "memory limit %" PRId64 " out of range (0..%" PRId64
				 " bytes or unlimited)",
				 l->memory_max, INT64_MAX - 1);
	if (l->swap_max < -1)
		return bad_value(err,
				 "swap limit %" PRId64 " out of range (0..%" PRId64
				 " bytes or unlimited)",
				 l->swap_max, INT64_MAX - 1);
	if (l->memory_low < -1)
		return bad_value(err,
				 "memory guarantee %" PRId64 " out of range (0..%" PRId64
				 " bytes or unlimited)",
				 l->memory_low, INT64_MAX - 1);
	if (l->cpu_weight != -1 &&
	    (l->cpu_weight < KSAL_CG_CPUUNITS_MIN || l->cpu_weight > KSAL_CG_CPUUNITS_MAX))
		return bad_value(err, "cpuunits %" PRId64 " out of range (%d..%d)", l->cpu_weight,
				 KSAL_CG_CPUUNITS_MIN, KSAL_CG_CPUUNITS_MAX);
	if (l->cpu_period_us != -1 && (l->cpu_period_us < 1000 || l->cpu_period_us > 1000000))
		return bad_value(err, "CPU period %" PRId64 " us out of range (1000..1000000 us)",
				 l->cpu_period_us);
	if (l->cpu_quota_us != -1 && l->cpu_quota_us != KSAL_CG_UNLIMITED &&
	    (l->cpu_quota_us < 1000 || l->cpu_quota_us > (INT64_C(1) << 44)))
		return bad_value(err,
				 "CPU quota %" PRId64 " us out of range (1000..%" PRId64
				 " us or unlimited)",
				 l->cpu_quota_us, INT64_C(1) << 44);
	if (l->cpuset_cpus && !valid_cpulist(l->cpuset_cpus))
		return bad_value(err, "CPU mask `%s` invalid (a list like `0-3,6`)",
				 l->cpuset_cpus);
	if (l->pids_max != -1 && l->pids_max != KSAL_CG_UNLIMITED &&
	    (l->pids_max < 0 || l->pids_max > 4194304))
		return bad_value(err,
				 "task limit %" PRId64 " out of range (0..4194304 or unlimited)",
				 l->pids_max);
	if (l->io_weight != -1 && (l->io_weight < 0 || l->io_weight > 7))
		return bad_value(err, "I/O priority %" PRId64 " out of range (0..7)", l->io_weight);
	if (l->io_bps_max != -1 && l->io_bps_max != KSAL_CG_UNLIMITED && l->io_bps_max < 1)
		return bad_value(err,
				 "I/O limit %" PRId64 " out of range (1..%" PRId64
				 " bytes/s or unlimited)",
				 l->io_bps_max, INT64_MAX - 1);
	if (l->io_iops_max != -1 && l->io_iops_max != KSAL_CG_UNLIMITED && l->io_iops_max < 1)
		return bad_value(
			err, "IOPS limit %" PRId64 " out of range (1..%" PRId64 " or unlimited)",
			l->io_iops_max, INT64_MAX - 1);
	/* "unlimited" with no device named has nothing to lift: a no-op */
	if (((l->io_bps_max != -1 && l->io_bps_max != KSAL_CG_UNLIMITED) ||
	     (l->io_iops_max != -1 && l->io_iops_max != KSAL_CG_UNLIMITED)) &&
	    !l->io_device)
		return bad_value(err, "I/O limits need the block device (MAJ:MIN)");
	if (l->io_device &&
	    (sscanf(l->io_device, "%u:%u%c", &maj, &min, &c) != 2 || !isdigit(*l->io_device)))
		return bad_value(err, "block device `%s` invalid (MAJ:MIN, e.g. 8:0)",
				 l->io_device);
	return 0;
}

int cg_validate_devices(const struct ksal_cgroup_dev *allow, size_t n, struct st_error **err)
{
	for (size_t i = 0; i < n; i++) {
		const struct ksal_cgroup_dev *d = &allow[i];

		if (d->type != 'a' && d->type != 'b' && d->type != 'c')
			return bad_value(err, "device rule %zu: type `%c` invalid (a, b or c)", i,
					 d->type ? d->type : '?');
		if (d->major < -1 || d->minor < -1 || d->major > UINT32_MAX ||
		    d->minor > UINT32_MAX)
			return bad_value(err, "device rule %zu: major/minor out of range", i);
		if (!d->access || !*d->access || strspn(d->access, "rwm") != strlen(d->access))
			return bad_value(err,
					 "device rule %zu: access `%s` invalid (a subset of rwm)",
					 i, d->access ? d->access : "");
	}
	return 0;
}

void ksal_cgroup_limits_init(struct ksal_cgroup_limits *l)
{
	*l = (struct ksal_cgroup_limits){
		.memory_max = -1,
		.swap_max = -1,
		.memory_low = -1,
		.cpu_weight = -1,
		.cpu_quota_us = -1,
		.cpu_period_us = -1,
		.cpuset_cpus = NULL,
		.pids_max = -1,
		.io_weight = -1,
		.io_device = NULL,
		.io_bps_max = -1,
		.io_iops_max = -1,
	};
}
