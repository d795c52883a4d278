/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ksal cgroups without the kernel: layout probe, every limit mapping and the
 * stats parsers against a fake tree (plain files in a temp dir that mimic
 * cgroupfs: a file the kernel would not have is not there, so a write to it
 * fails the way it would on the host).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ksal/cgroup.h"
#include "ksal/cgroup_internal.h"
#include "ksal/cleanup.h"
#include "ksal/error.h"

#define SUB "stcg-unit"
#define UNL "9223372036854771712" /* what v1 shows for "no limit" */

static char tmp[] = "/tmp/stcg-unit-XXXXXX";
static struct ksal_cgroup_mgr *mgr;
static struct ksal_cgroup *cg;
static struct st_error *err;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void setup(void)
{
	strcpy(tmp, "/tmp/stcg-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp));
}

static void teardown(void)
{
	ksal_cgroup_free(cg);
	cg = NULL;
	ksal_cgroup_mgr_free(mgr);
	mgr = NULL;
	st_error_free(err);
	err = NULL;
	nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...)
{
	static char buf[8][4096];
	static int slot;
	char rel[2048];
	va_list ap;
	char *b = buf[slot++ % 8];

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	cr_assert(snprintf(b, 4096, "%s/%s", tmp, rel) < 4096);
	return b;
}

static void put(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	cr_assert(fd >= 0, "create %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static char *get(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	cr_assert(n >= 0);
	buf[n] = '\0';
	return buf;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* The interface files a fresh cgroup of each controller has, with the
 * kernel's defaults (a subset: what Strata touches). */
struct fake_file {
	const char *name, *value;
};
static const struct fake_file f_common[] = {
	{ "cgroup.procs", "" }, { "tasks", "" }, { "cgroup.clone_children", "0\n" }, { NULL, NULL }
};
static const struct fake_file f_cpu[] = { { "cpu.shares", "1024\n" },
					  { "cpu.cfs_period_us", "100000\n" },
					  { "cpu.cfs_quota_us", "-1\n" },
					  { "cpuacct.usage", "0\n" },
					  { NULL, NULL } };
static const struct fake_file f_cpuset[] = { { "cpuset.cpus", "\n" },
					     { "cpuset.mems", "\n" },
					     { NULL, NULL } };
static const struct fake_file f_memory[] = { { "memory.limit_in_bytes", UNL "\n" },
					     { "memory.memsw.limit_in_bytes", UNL "\n" },
					     { "memory.soft_limit_in_bytes", UNL "\n" },
					     { "memory.usage_in_bytes", "0\n" },
					     { "memory.max_usage_in_bytes", "0\n" },
					     { "memory.memsw.usage_in_bytes", "0\n" },
					     { "memory.failcnt", "0\n" },
					     { "memory.oom_control",
					       "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n" },
					     { NULL, NULL } };
static const struct fake_file f_pids[] = { { "pids.max", "max\n" },
					   { "pids.current", "0\n" },
					   { NULL, NULL } };
static const struct fake_file f_blkio[] = { { "blkio.weight", "500\n" },
					    { "blkio.throttle.read_bps_device", "" },
					    { "blkio.throttle.write_bps_device", "" },
					    { "blkio.throttle.read_iops_device", "" },
					    { "blkio.throttle.write_iops_device", "" },
					    { "blkio.throttle.io_service_bytes_recursive",
					      "Total 0\n" },
					    { "blkio.throttle.io_serviced_recursive", "Total 0\n" },
					    { NULL, NULL } };
static const struct fake_file f_freezer[] = { { "freezer.state", "THAWED\n" }, { NULL, NULL } };
static const struct fake_file f_devices[] = { { "devices.allow", "" },
					      { "devices.deny", "" },
					      { "devices.list", "a *:* rwm\n" },
					      { NULL, NULL } };
static const struct fake_file f_v2[] = { { "cgroup.procs", "" },
					 { "cgroup.controllers", "cpu io memory pids\n" },
					 { "cgroup.subtree_control", "\n" },
					 { "cgroup.events", "populated 0\nfrozen 0\n" },
					 { "cgroup.freeze", "0\n" },
					 { "cgroup.threads", "" },
					 { "memory.max", "max\n" },
					 { "memory.swap.max", "max\n" },
					 { "memory.low", "0\n" },
					 { "cpu.weight", "100\n" },
					 { "cpu.max", "max 100000\n" },
					 { "cpuset.cpus", "\n" },
					 { "pids.max", "max\n" },
					 { "io.weight", "default 100\n" },
					 { "io.max", "" },
					 { NULL, NULL } };

static void put_files(const char *dir, const struct fake_file *f)
{
	char p[4096];

	for (; f->name; f++) {
		cr_assert(snprintf(p, sizeof(p), "%s/%s", dir, f->name) < (int)sizeof(p));
		put(p, f->value);
	}
}

/* A v1 cgroup dir `rel` (relative to tmp) of hierarchy `hier`. */
static void fake_v1_cg(const char *hier, const char *rel)
{
	char *dir = pathf("%s%s%s", hier, *rel ? "/" : "", rel);

	cr_assert(mkdir(dir, 0755) == 0 || errno == EEXIST, "mkdir %s", dir);
	put_files(dir, f_common);
	if (strstr(hier, "cpu") && !strstr(hier, "cpuset"))
		put_files(dir, f_cpu);
	if (strcmp(hier, "cpuset") == 0)
		put_files(dir, f_cpuset);
	if (strcmp(hier, "memory") == 0)
		put_files(dir, f_memory);
	if (strcmp(hier, "pids") == 0)
		put_files(dir, f_pids);
	if (strcmp(hier, "blkio") == 0)
		put_files(dir, f_blkio);
	if (strcmp(hier, "freezer") == 0)
		put_files(dir, f_freezer);
	if (strcmp(hier, "devices") == 0)
		put_files(dir, f_devices);
}

static const char *const v1_hiers[] = { "cpu,cpuacct", "cpuset",  "memory",  "pids",
					"blkio",       "freezer", "devices", "systemd" };

/* The host's v1 tree (+ a controller-less unified dir when hybrid), and the
 * dirs of <SUB>/<name> as the kernel would have made them. */
static void fake_v1_tree(bool hybrid, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(v1_hiers); i++) {
		fake_v1_cg(v1_hiers[i], "");
		if (name) {
			fake_v1_cg(v1_hiers[i], SUB);
			fake_v1_cg(v1_hiers[i], SUB "/"
						    "101");
		}
	}
	put(pathf("cpuset/cpuset.cpus"), "0-3\n");
	put(pathf("cpuset/cpuset.mems"), "0\n");
	if (hybrid) {
		cr_assert(mkdir(pathf("unified"), 0755) == 0);
		put(pathf("unified/cgroup.controllers"), "");
		put(pathf("unified/cgroup.procs"), "");
		if (name) {
			cr_assert(mkdir(pathf("unified/" SUB), 0755) == 0);
			cr_assert(mkdir(pathf("unified/" SUB "/101"), 0755) == 0);
			put(pathf("unified/" SUB "/101/cgroup.procs"), "");
		}
	}
}

static void fake_v2_tree(const char *name)
{
	put_files(tmp, f_v2);
	cr_assert(mkdir(pathf(SUB), 0755) == 0);
	put_files(pathf(SUB), f_v2);
	if (name) {
		cr_assert(mkdir(pathf(SUB "/%s", name), 0755) == 0);
		put_files(pathf(SUB "/%s", name), f_v2);
	}
}

static void mgr_and_cg(void)
{
	int r = ksal_cgroup_mgr_new(tmp, SUB, &mgr, &err);
	cr_assert_eq(r, 0, "mgr_new: %s", err ? err->msg : "");
	r = ksal_cgroup_create(mgr, "101", &cg, &err);
	cr_assert_eq(r, 0, "create: %s", err ? err->msg : "");
}

static void apply_ok(const struct ksal_cgroup_limits *l)
{
	int r = ksal_cgroup_apply(cg, l, &err);
	cr_assert_eq(r, 0, "apply: %s", err ? err->msg : "");
}

static void expect_refused(const struct ksal_cgroup_limits *l, const char *in_msg, int code)
{
	int r = ksal_cgroup_apply(cg, l, &err);

	cr_assert_lt(r, 0, "apply should fail (%s)", in_msg);
	cr_assert_not_null(err);
	cr_assert(strstr(err->msg, in_msg), "message `%s` lacks `%s`", err->msg, in_msg);
	cr_assert_eq(err->exit_code, code, "exit code %d for `%s`", err->exit_code, err->msg);
	st_error_free(err);
	err = NULL;
}

TestSuite(cgroup, .init = setup, .fini = teardown);

/* ---- layout probe ---- */

Test(cgroup, layout_v1)
{
	fake_v1_tree(false, NULL);
	cr_assert_eq(ksal_cgroup_mgr_new(tmp, SUB, &mgr, &err), 0);
	cr_assert_eq(ksal_cgroup_mgr_layout(mgr), KSAL_CG_V1);
	cr_assert_str_eq(ksal_cgroup_layout_name(ksal_cgroup_mgr_layout(mgr)), "v1");
	cr_assert_str_eq(ksal_cgroup_mgr_controllers(mgr),
			 "blkio,cpu,cpuacct,cpuset,devices,freezer,memory,pids");
	/* probing alone makes nothing */
	cr_assert_not(exists(pathf("memory/" SUB)));
}

Test(cgroup, layout_hybrid)
{
	fake_v1_tree(true, NULL);
	cr_assert_eq(ksal_cgroup_mgr_new(tmp, SUB, &mgr, &err), 0);
	cr_assert_eq(ksal_cgroup_mgr_layout(mgr), KSAL_CG_HYBRID);
	cr_assert_str_eq(ksal_cgroup_layout_name(KSAL_CG_HYBRID), "hybrid");
}

Test(cgroup, layout_v2)
{
	fake_v2_tree(NULL);
	cr_assert_eq(ksal_cgroup_mgr_new(tmp, SUB, &mgr, &err), 0);
	cr_assert_eq(ksal_cgroup_mgr_layout(mgr), KSAL_CG_V2);
	cr_assert_str_eq(ksal_cgroup_mgr_controllers(mgr), "cpu,io,memory,pids");
}

Test(cgroup, layout_nothing_mounted)
{
	int r = ksal_cgroup_mgr_new(tmp, SUB, &mgr, &err);

	cr_assert_lt(r, 0);
	cr_assert(strstr(err->msg, tmp), "%s", err->msg);
	cr_assert_eq(err->exit_code, ST_EXIT_NOFEATURE);
}

Test(cgroup, bad_names_refused)
{
	fake_v1_tree(false, NULL);
	cr_assert_lt(ksal_cgroup_mgr_new(tmp, "a/b", &mgr, &err), 0);
	cr_assert_eq(err->exit_code, ST_EXIT_BADVALUE);
	st_error_free(err);
	err = NULL;
	cr_assert_eq(ksal_cgroup_mgr_new(tmp, SUB, &mgr, &err), 0);
	cr_assert_lt(ksal_cgroup_create(mgr, "..", &cg, &err), 0);
	cr_assert_not(exists(pathf("memory/" SUB)));
}

/* ---- create / open / paths / destroy ---- */

Test(cgroup, create_makes_subtree_and_cgroup_everywhere)
{
	fake_v1_tree(true, NULL);
	cr_assert_eq(ksal_cgroup_mgr_new(tmp, SUB, &mgr, &err), 0);
	/* a fake tree has no kernel to fill a new cgroup's files: give the
	 * subtree's cpuset what the kernel would, after create makes it */
	cr_assert_eq(mkdir(pathf("cpuset/" SUB), 0755), 0);
	fake_v1_cg("cpuset", SUB);
	cr_assert_eq(mkdir(pathf("cpuset/" SUB "/7"), 0755), 0);
	fake_v1_cg("cpuset", SUB "/7");
	cr_assert_eq(ksal_cgroup_create(mgr, "7", &cg, &err), 0, "%s", err ? err->msg : "");
	for (size_t i = 0; i < ARRAY_SIZE(v1_hiers); i++)
		cr_assert(exists(pathf("%s/" SUB "/7", v1_hiers[i])), "%s", v1_hiers[i]);
	cr_assert(exists(pathf("unified/" SUB "/7")));
	cr_assert_str_eq(ksal_cgroup_path(cg, "memory"), pathf("memory/" SUB "/7"));
	cr_assert_str_eq(ksal_cgroup_path(cg, "cpuacct"), pathf("cpu,cpuacct/" SUB "/7"));
	cr_assert_str_eq(ksal_cgroup_path(cg, "systemd"), pathf("systemd/" SUB "/7"));
	cr_assert_str_eq(ksal_cgroup_path(cg, "unified"), pathf("unified/" SUB "/7"));
	cr_assert_null(ksal_cgroup_path(cg, "hugetlb"));
	cr_assert_eq(ksal_cgroup_clone_fd(cg), -1, "no CLONE_INTO_CGROUP on v1/hybrid");
}

Test(cgroup, cpuset_inherited_from_parent)
{
	fake_v1_tree(false, "101");
	mgr_and_cg();
	cr_assert_str_eq(get(pathf("cpuset/" SUB "/cpuset.cpus")), "0-3");
	cr_assert_str_eq(get(pathf("cpuset/" SUB "/cpuset.mems")), "0");
	cr_assert_str_eq(get(pathf("cpuset/" SUB "/cgroup.clone_children")), "1");
	cr_assert_str_eq(get(pathf("cpuset/" SUB "/101/cpuset.cpus")), "0-3");
	cr_assert_str_eq(get(pathf("cpuset/" SUB "/101/cpuset.mems")), "0");
	/* the host's own cpuset is only read */
	cr_assert_str_eq(get(pathf("cpuset/cgroup.clone_children")), "0\n");
}

Test(cgroup, open_missing_is_enoent)
{
	fake_v1_tree(false, NULL);
	cr_assert_eq(ksal_cgroup_mgr_new(tmp, SUB, &mgr, &err), 0);
	cr_assert_eq(ksal_cgroup_open(mgr, "404", &cg, &err), -ENOENT);
}

Test(cgroup, destroy_removes_children_everywhere)
{
	fake_v1_tree(true, "101");
	mgr_and_cg();
	fake_v1_cg("systemd", SUB "/101/init.scope");
	fake_v1_cg("systemd", SUB "/101/system.slice");
	fake_v1_cg("systemd", SUB "/101/system.slice/cron.service");
	cr_assert_eq(ksal_cgroup_destroy(cg, &err), 0, "%s", err ? err->msg : "");
	for (size_t i = 0; i < ARRAY_SIZE(v1_hiers); i++) {
		cr_assert_not(exists(pathf("%s/" SUB "/101", v1_hiers[i])), "%s", v1_hiers[i]);
		cr_assert(exists(pathf("%s/" SUB, v1_hiers[i])), "subtree kept in %s", v1_hiers[i]);
	}
	cr_assert_not(exists(pathf("unified/" SUB "/101")));
	/* destroying again is fine */
	cr_assert_eq(ksal_cgroup_destroy(cg, &err), 0);
}

Test(cgroup, pids_include_child_cgroups)
{
	pid_t *pids = NULL;
	size_t n = 0;

	fake_v1_tree(false, "101");
	mgr_and_cg();
	cr_assert(ksal_cgroup_is_empty(cg));
	fake_v1_cg("freezer", SUB "/101/sub");
	put(pathf("freezer/" SUB "/101/cgroup.procs"), "10\n11\n");
	put(pathf("freezer/" SUB "/101/sub/cgroup.procs"), "12\n");
	cr_assert_eq(ksal_cgroup_pids(cg, &pids, &n, &err), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(pids[0] + pids[1] + pids[2], 33);
	free(pids);
	cr_assert_not(ksal_cgroup_is_empty(cg));
}

/* ---- v1 limits ---- */

Test(cgroup, v1_memory_and_swap)
{
	struct ksal_cgroup_limits l;

	fake_v1_tree(false, "101");
	mgr_and_cg();
	ksal_cgroup_limits_init(&l);
	l.memory_max = 64 << 20;
	l.swap_max = 32 << 20;
	l.memory_low = 16 << 20;
	apply_ok(&l);
	cr_assert_str_eq(get(pathf("memory/" SUB "/101/memory.limit_in_bytes")), "67108864");
	cr_assert_str_eq(get(pathf("memory/" SUB "/101/memory.memsw.limit_in_bytes")), "100663296");
	cr_assert_str_eq(get(pathf("memory/" SUB "/101/memory.soft_limit_in_bytes")), "16777216");

	/* raising ram alone keeps the 32 MiB of swap on top */
	ksal_cgroup_limits_init(&l);
	l.memory_max = 256 << 20;
	apply_ok(&l);
	cr_assert_str_eq(get(pathf("memory/" SUB "/101/memory.limit_in_bytes")), "268435456");
	cr_assert_str_eq(get(pathf("memory/" SUB "/101/memory.memsw.limit_in_bytes")), "301989888");

	ksal_cgroup_limits_init(&l);
	l.memory_max = KSAL_CG_UNLIMITED;
	apply_ok(&l);
	cr_assert_str_eq(get(pathf("memory/" SUB "/101/memory.limit_in_bytes")), "-1");
	cr_assert_str_eq(get(pathf("memory/" SUB "/101/memory.memsw.limit_in_bytes")), "-1");
}

Test(cgroup, v1_swap_without_swap_accounting)
{
	struct ksal_cgroup_limits l;

	fake_v1_tree(false, "101");
	unlink(pathf("memory/" SUB "/101/memory.memsw.limit_in_bytes"));
	mgr_and_cg();
	ksal_cgroup_limits_init(&l);
	l.memory_max = 64 << 20;
	l.swap_max = 32 << 20;
	expect_refused(&l, "no swap accounting", ST_EXIT_NOFEATURE);

	l.swap_max = KSAL_CG_UNLIMITED;
	apply_ok(&l);
	cr_assert_str_eq(get(pathf("memory/" SUB "/101/memory.limit_in_bytes")), "67108864");

	l.swap_max = 0;
	if (cg_host_has_swap()) {
		expect_refused(&l, "no swap accounting", ST_EXIT_NOFEATURE);
	} else {
		apply_ok(&l); /* nothing to swap to: swap 0 holds */
	}
}

Test(cgroup, v1_cpu_pids_io)
{
	struct ksal_cgroup_limits l;

	fake_v1_tree(false, "101");
	mgr_and_cg();
	ksal_cgroup_limits_init(&l);
	l.cpu_weight = 2000;
	l.cpu_quota_us = 50000;
	l.cpu_period_us = 100000;
	l.cpuset_cpus = "0-1";
	l.pids_max = 20;
	l.io_weight = 7;
	l.io_device = "8:0";
	l.io_bps_max = 1048576;
	l.io_iops_max = 100;
	apply_ok(&l);
	cr_assert_str_eq(get(pathf("cpu,cpuacct/" SUB "/101/cpu.shares")), "2048");
	cr_assert_str_eq(get(pathf("cpu,cpuacct/" SUB "/101/cpu.cfs_quota_us")), "50000");
	cr_assert_str_eq(get(pathf("cpu,cpuacct/" SUB "/101/cpu.cfs_period_us")), "100000");
	cr_assert_str_eq(get(pathf("cpuset/" SUB "/101/cpuset.cpus")), "0-1");
	cr_assert_str_eq(get(pathf("pids/" SUB "/101/pids.max")), "20");
	cr_assert_str_eq(get(pathf("blkio/" SUB "/101/blkio.weight")), "1000");
	cr_assert_str_eq(get(pathf("blkio/" SUB "/101/blkio.throttle.read_bps_device")),
			 "8:0 1048576");
	cr_assert_str_eq(get(pathf("blkio/" SUB "/101/blkio.throttle.write_bps_device")),
			 "8:0 1048576");
	cr_assert_str_eq(get(pathf("blkio/" SUB "/101/blkio.throttle.write_iops_device")),
			 "8:0 100");

	ksal_cgroup_limits_init(&l);
	l.cpu_quota_us = KSAL_CG_UNLIMITED;
	l.pids_max = KSAL_CG_UNLIMITED;
	l.io_device = "8:0";
	l.io_bps_max = KSAL_CG_UNLIMITED;
	apply_ok(&l);
	cr_assert_str_eq(get(pathf("cpu,cpuacct/" SUB "/101/cpu.cfs_quota_us")), "-1");
	cr_assert_str_eq(get(pathf("pids/" SUB "/101/pids.max")), "max");
	cr_assert_str_eq(get(pathf("blkio/" SUB "/101/blkio.throttle.read_bps_device")), "8:0 0");
	/* untouched fields stay */
	cr_assert_str_eq(get(pathf("cpu,cpuacct/" SUB "/101/cpu.shares")), "2048");
}

Test(cgroup, v1_io_weight_needs_a_weight_file)
{
	struct ksal_cgroup_limits l;

	fake_v1_tree(false, "101");
	unlink(pathf("blkio/" SUB "/101/blkio.weight"));
	mgr_and_cg();
	ksal_cgroup_limits_init(&l);
	l.io_weight = 4;
	expect_refused(&l, "no blkio.weight or blkio.bfq.weight", ST_EXIT_NOFEATURE);
	put(pathf("blkio/" SUB "/101/blkio.bfq.weight"), "100\n");
	apply_ok(&l);
	cr_assert_str_eq(get(pathf("blkio/" SUB "/101/blkio.bfq.weight")), "614");
}

Test(cgroup, values_out_of_range_refused_with_range)
{
	struct ksal_cgroup_limits l;

	fake_v1_tree(false, "101");
	mgr_and_cg();
	ksal_cgroup_limits_init(&l);
	l.cpu_weight = 7;
	expect_refused(&l, "cpuunits 7 out of range (8..500000)", ST_EXIT_BADVALUE);
	l.cpu_weight = 500001;
	expect_refused(&l, "(8..500000)", ST_EXIT_BADVALUE);
	ksal_cgroup_limits_init(&l);
	l.cpu_period_us = 999;
	expect_refused(&l, "(1000..1000000 us)", ST_EXIT_BADVALUE);
	ksal_cgroup_limits_init(&l);
	l.cpu_quota_us = 10;
	expect_refused(&l, "CPU quota 10 us out of range (1000..", ST_EXIT_BADVALUE);
	ksal_cgroup_limits_init(&l);
	l.pids_max = 5000000;
	expect_refused(&l, "(0..4194304 or unlimited)", ST_EXIT_BADVALUE);
	ksal_cgroup_limits_init(&l);
	l.io_weight = 8;
	expect_refused(&l, "I/O priority 8 out of range (0..7)", ST_EXIT_BADVALUE);
	ksal_cgroup_limits_init(&l);
	l.memory_max = -5;
	expect_refused(&l, "memory limit -5 out of range", ST_EXIT_BADVALUE);
	ksal_cgroup_limits_init(&l);
	l.io_bps_max = KSAL_CG_UNLIMITED; /* nothing to lift: fine without a device */
	l.io_weight = 2;
	apply_ok(&l);
	cr_assert_str_eq(get(pathf("blkio/" SUB "/101/blkio.weight")), "357");
	ksal_cgroup_limits_init(&l);
	l.io_bps_max = 1000;
	expect_refused(&l, "need the block device", ST_EXIT_BADVALUE);
	l.io_device = "sda";
	expect_refused(&l, "block device `sda` invalid", ST_EXIT_BADVALUE);
	ksal_cgroup_limits_init(&l);
	l.cpuset_cpus = "0-1;rm";
	expect_refused(&l, "CPU mask `0-1;rm` invalid", ST_EXIT_BADVALUE);
	/* nothing was written by a refused apply */
	cr_assert_str_eq(get(pathf("cpu,cpuacct/" SUB "/101/cpu.shares")), "1024\n");
	cr_assert_str_eq(get(pathf("pids/" SUB "/101/pids.max")), "max\n");
}

Test(cgroup, missing_controller_named)
{
	struct ksal_cgroup_limits l;

	fake_v1_tree(false, "101");
	nftw(pathf("pids"), rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	mgr_and_cg();
	ksal_cgroup_limits_init(&l);
	l.pids_max = 10;
	expect_refused(&l, "cgroup controller `pids` is not mounted", ST_EXIT_NOFEATURE);
}

Test(cgroup, v1_devices)
{
	struct ksal_cgroup_dev allow[] = {
		{ 'c', 1, 3, "rwm" },
		{ 'c', 136, -1, "rw" },
	};
	struct ksal_cgroup_dev bad[] = { { 'x', 1, 3, "rwm" } };
	struct ksal_cgroup_dev bad2[] = { { 'c', 1, 3, "rwx" } };

	fake_v1_tree(false, "101");
	mgr_and_cg();
	cr_assert_eq(ksal_cgroup_devices_set(cg, allow, 2, &err), 0, "%s", err ? err->msg : "");
	cr_assert_str_eq(get(pathf("devices/" SUB "/101/devices.deny")), "a");
	/* the fake file keeps the last write: the wildcard rule */
	cr_assert_str_eq(get(pathf("devices/" SUB "/101/devices.allow")), "c 136:* rw");
	cr_assert_lt(ksal_cgroup_devices_set(cg, bad, 1, &err), 0);
	cr_assert(strstr(err->msg, "type `x`"), "%s", err->msg);
	st_error_free(err);
	err = NULL;
	cr_assert_lt(ksal_cgroup_devices_set(cg, bad2, 1, &err), 0);
	cr_assert(strstr(err->msg, "access `rwx`"), "%s", err->msg);
}

/* ---- v1 stats ---- */

Test(cgroup, v1_stats_parsed)
{
	struct ksal_cgroup_stats s;

	fake_v1_tree(false, "101");
	mgr_and_cg();
	put(pathf("cpu,cpuacct/" SUB "/101/cpuacct.usage"), "123456789\n");
	put(pathf("memory/" SUB "/101/memory.usage_in_bytes"), "1000\n");
	put(pathf("memory/" SUB "/101/memory.max_usage_in_bytes"), "2000\n");
	put(pathf("memory/" SUB "/101/memory.memsw.usage_in_bytes"), "1500\n");
	put(pathf("memory/" SUB "/101/memory.failcnt"), "7\n");
	put(pathf("memory/" SUB "/101/memory.oom_control"),
	    "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
	put(pathf("pids/" SUB "/101/pids.current"), "4\n");
	put(pathf("pids/" SUB "/101/pids.max"), "20\n");
	put(pathf("blkio/" SUB "/101/blkio.throttle.io_service_bytes_recursive"),
	    "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Discard 0\n"
	    "8:0 Total 12288\n8:16 Read 4096\n8:16 Write 0\nTotal 16384\n");
	put(pathf("blkio/" SUB "/101/blkio.throttle.io_serviced_recursive"),
	    "8:0 Read 1\n8:0 Write 2\n8:0 Total 3\nTotal 3\n");
	cr_assert_eq(ksal_cgroup_stats(cg, &s, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(s.cpu_usage_ns, 123456789);
	cr_assert_eq(s.memory_current, 1000);
	cr_assert_eq(s.memory_peak, 2000);
	cr_assert_eq(s.memory_max, (uint64_t)KSAL_CG_UNLIMITED);
	cr_assert_eq(s.swap_current, 500);
	cr_assert_eq(s.memory_failcnt, 7);
	cr_assert_eq(s.oom_kills, 3);
	cr_assert_eq(s.pids_current, 4);
	cr_assert_eq(s.pids_max, 20);
	cr_assert_eq(s.io_read_bytes, 8192);
	cr_assert_eq(s.io_write_bytes, 8192);
	cr_assert_eq(s.io_read_ops, 1);
	cr_assert_eq(s.io_write_ops, 2);
}

Test(cgroup, stats_garbage_refused)
{
	struct ksal_cgroup_stats s;

	fake_v1_tree(false, "101");
	mgr_and_cg();
	put(pathf("memory/" SUB "/101/memory.usage_in_bytes"), "lots\n");
	cr_assert_lt(ksal_cgroup_stats(cg, &s, &err), 0);
	cr_assert(strstr(err->msg, "memory.usage_in_bytes"), "%s", err->msg);
}

/* ---- v2 ---- */

Test(cgroup, v2_subtree_enables_missing_controllers_only)
{
	fake_v2_tree("101");
	put(pathf(SUB "/cgroup.subtree_control"), "cpu io memory\n");
	mgr_and_cg();
	cr_assert_str_eq(get(pathf(SUB "/cgroup.subtree_control")), "+pids");
	/* the host's root is only read */
	cr_assert_str_eq(get(pathf("cgroup.subtree_control")), "\n");
	cr_assert_geq(ksal_cgroup_clone_fd(cg), 0);
	cr_assert_str_eq(ksal_cgroup_path(cg, "memory"), pathf(SUB "/101"));
}

Test(cgroup, v2_limits)
{
	struct ksal_cgroup_limits l;

	fake_v2_tree("101");
	mgr_and_cg();
	ksal_cgroup_limits_init(&l);
	l.memory_max = 64 << 20;
	l.swap_max = 0;
	l.memory_low = 16 << 20;
	l.cpu_weight = 1000;
	l.cpu_quota_us = 50000;
	l.cpu_period_us = 100000;
	l.cpuset_cpus = "1";
	l.pids_max = 100;
	l.io_weight = 4;
	l.io_device = "8:0";
	l.io_bps_max = 1048576;
	apply_ok(&l);
	cr_assert_str_eq(get(pathf(SUB "/101/memory.max")), "67108864");
	cr_assert_str_eq(get(pathf(SUB "/101/memory.swap.max")), "0");
	cr_assert_str_eq(get(pathf(SUB "/101/memory.low")), "16777216");
	cr_assert_str_eq(get(pathf(SUB "/101/cpu.weight")), "100");
	cr_assert_str_eq(get(pathf(SUB "/101/cpu.max")), "50000 100000");
	cr_assert_str_eq(get(pathf(SUB "/101/cpuset.cpus")), "1");
	cr_assert_str_eq(get(pathf(SUB "/101/pids.max")), "100");
	cr_assert_str_eq(get(pathf(SUB "/101/io.weight")), "default 614");
	cr_assert_str_eq(get(pathf(SUB "/101/io.max")), "8:0 rbps=1048576 wbps=1048576");

	ksal_cgroup_limits_init(&l);
	l.memory_max = KSAL_CG_UNLIMITED;
	l.cpu_weight = 500000;
	l.cpu_quota_us = KSAL_CG_UNLIMITED;
	l.pids_max = KSAL_CG_UNLIMITED;
	l.io_device = "8:0";
	l.io_iops_max = 50;
	apply_ok(&l);
	cr_assert_str_eq(get(pathf(SUB "/101/memory.max")), "max");
	cr_assert_str_eq(get(pathf(SUB "/101/cpu.weight")), "10000");
	cr_assert_str_eq(get(pathf(SUB "/101/cpu.max")), "max");
	cr_assert_str_eq(get(pathf(SUB "/101/pids.max")), "max");
	cr_assert_str_eq(get(pathf(SUB "/101/io.max")), "8:0 riops=50 wiops=50");

	/* only the period: the quota the kernel shows is kept */
	put(pathf(SUB "/101/cpu.max"), "25000 100000\n");
	ksal_cgroup_limits_init(&l);
	l.cpu_period_us = 50000;
	apply_ok(&l);
	cr_assert_str_eq(get(pathf(SUB "/101/cpu.max")), "25000 50000");
}

Test(cgroup, v2_swap_without_swap_file)
{
	struct ksal_cgroup_limits l;

	fake_v2_tree("101");
	unlink(pathf(SUB "/101/memory.swap.max"));
	mgr_and_cg();
	ksal_cgroup_limits_init(&l);
	l.swap_max = 1 << 20;
	expect_refused(&l, "no memory.swap.max", ST_EXIT_NOFEATURE);
}

Test(cgroup, v2_stats_parsed)
{
	struct ksal_cgroup_stats s;

	fake_v2_tree("101");
	mgr_and_cg();
	put(pathf(SUB "/101/cpu.stat"), "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
	put(pathf(SUB "/101/memory.current"), "4096\n");
	put(pathf(SUB "/101/memory.peak"), "8192\n");
	put(pathf(SUB "/101/memory.swap.current"), "100\n");
	put(pathf(SUB "/101/memory.events"), "low 0\nhigh 0\nmax 5\noom 1\noom_kill 2\n");
	put(pathf(SUB "/101/pids.current"), "3\n");
	put(pathf(SUB "/101/io.stat"), "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n"
				       "8:16 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n");
	cr_assert_eq(ksal_cgroup_stats(cg, &s, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(s.cpu_usage_ns, 1500000);
	cr_assert_eq(s.memory_current, 4096);
	cr_assert_eq(s.memory_peak, 8192);
	cr_assert_eq(s.memory_max, (uint64_t)KSAL_CG_UNLIMITED);
	cr_assert_eq(s.swap_current, 100);
	cr_assert_eq(s.memory_failcnt, 5);
	cr_assert_eq(s.oom_kills, 2);
	cr_assert_eq(s.pids_current, 3);
	cr_assert_eq(s.pids_max, (uint64_t)KSAL_CG_UNLIMITED);
	cr_assert_eq(s.io_read_bytes, 101);
	cr_assert_eq(s.io_write_bytes, 202);
	cr_assert_eq(s.io_read_ops, 4);
	cr_assert_eq(s.io_write_ops, 6);
}

Test(cgroup, v2_is_empty_from_events)
{
	fake_v2_tree("101");
	mgr_and_cg();
	cr_assert(ksal_cgroup_is_empty(cg));
	put(pathf(SUB "/101/cgroup.events"), "populated 1\nfrozen 0\n");
	cr_assert_not(ksal_cgroup_is_empty(cg));
}

/* ---- conversions ---- */

Test(cgroup_units, cpuunits_to_shares)
{
	cr_assert_eq(ksal_cgroup_cpuunits_to_shares(1000), 1024);
	cr_assert_eq(ksal_cgroup_cpuunits_to_shares(2000), 2048);
	cr_assert_eq(ksal_cgroup_cpuunits_to_shares(8), 8);
	cr_assert_eq(ksal_cgroup_cpuunits_to_shares(1), 2, "kernel minimum");
	cr_assert_eq(ksal_cgroup_cpuunits_to_shares(250000), 256000);
	cr_assert_eq(ksal_cgroup_cpuunits_to_shares(500000), 262144, "kernel maximum");
	cr_assert_eq(ksal_cgroup_cpuunits_to_shares(INT64_MAX), 262144);
}

Test(cgroup_units, cpuunits_to_weight)
{
	cr_assert_eq(ksal_cgroup_cpuunits_to_weight(1000), 100, "vzctl default -> v2 default");
	cr_assert_eq(ksal_cgroup_cpuunits_to_weight(2000), 200, "2:1 stays 2:1");
	cr_assert_eq(ksal_cgroup_cpuunits_to_weight(8), 1);
	cr_assert_eq(ksal_cgroup_cpuunits_to_weight(15), 2);
	cr_assert_eq(ksal_cgroup_cpuunits_to_weight(100000), 10000);
	cr_assert_eq(ksal_cgroup_cpuunits_to_weight(500000), 10000);
	cr_assert_eq(ksal_cgroup_cpuunits_to_weight(INT64_MAX), 10000);
}

Test(cgroup_units, ioprio_to_weight)
{
	cr_assert_eq(ksal_cgroup_ioprio_to_weight(0), 100);
	cr_assert_eq(ksal_cgroup_ioprio_to_weight(4), 614);
	cr_assert_eq(ksal_cgroup_ioprio_to_weight(7), 1000);
	for (int p = 1; p <= 7; p++)
		cr_assert_gt(ksal_cgroup_ioprio_to_weight(p), ksal_cgroup_ioprio_to_weight(p - 1));
}

Test(cgroup, freeze_without_freezer_named)
{
	fake_v1_tree(false, "101");
	nftw(pathf("freezer"), rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	mgr_and_cg();
	cr_assert_lt(ksal_cgroup_freeze(cg, true, &err), 0);
	cr_assert(strstr(err->msg, "`freezer` is not mounted"), "%s", err->msg);
	st_error_free(err);
	err = NULL;
	cr_assert_lt(ksal_cgroup_attach(cg, 0, &err), 0);
	cr_assert_eq(err->exit_code, ST_EXIT_BADVALUE);
}
