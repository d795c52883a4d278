/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Resource limits and accounting through a private stratad (issue 5), on
 * the real kernel (root): OOM inside a --ram container, a fork bomb against
 * --numproc, --cpulimit and --cpuunits measured, set --ram live and
 * --save, free/nproc inside (lxcfs), I/O throttles on the private area's
 * disk, MEMORY_MERGE and ksmd, `strata stat`/`top`, and no cgroup left
 * after a stop or a crash of the init.
 *
 * Objects: /tmp/stres-XXXXXX (daemon dirs and socket), cgroup subtree
 * stres-<pid> in every hierarchy, CTIDs 9500-9599. Everything is removed in
 * .fini, even after a failed assertion; ksmd's run value is restored.
 * The harness is tests/helpers/daemonutil.h (shared with test_daemon.c).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <grp.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/client.h"
#include "ksal/cleanup.h"
#include "tests/helpers/daemonutil.h"
#include "tests/helpers/testutil.h"

static void setup(void)
{
	du_setup(&(struct du_opts){ .prefix = "stres" });
	du_daemon_start();
	du_make_template("tiny", NULL);
}

/* ---- the resources area's own helpers ---- */

static int64_t ksm_run_saved = -1;

static void res_setup(void)
{
	_cleanup_free_ char *run = tu_read_file("/sys/kernel/mm/ksm/run");

	ksm_run_saved = run ? atoi(run) : -1;
	setup();
}

static void res_teardown(void)
{
	du_teardown();
	if (ksm_run_saved == 0 || ksm_run_saved == 1) {
		char buf[8];
		snprintf(buf, sizeof(buf), "%d\n", (int)ksm_run_saved);
		tu_write_file("/sys/kernel/mm/ksm/run", buf);
	}
}

TestSuite(resources, .init = res_setup, .fini = res_teardown, .timeout = 120);

#undef skip_test
#define skip_test(why)                                                                             \
	do {                                                                                       \
		res_teardown();                                                                    \
		cr_skip_test(why);                                                                 \
	} while (0)

static void create_start(const char *ctid, json_t *options)
{
	char *msg = NULL;

	cr_assert_eq(du_call("create", ctid,
			     json_pack("{s:s,s:o}", "ostemplate", "tiny", "options",
				       options ? options : json_object()),
			     NULL, &msg),
		     0, "create %s: %s", ctid, msg);
	cr_assert_eq(du_call("start", ctid, NULL, NULL, &msg), 0, "start %s: %s", ctid, msg);
}

static json_t *stat_of(const char *ctid)
{
	json_t *res = NULL;
	char *msg = NULL;

	cr_assert_eq(du_call("stat", ctid, NULL, &res, &msg), 0, "stat %s: %s", ctid, msg);
	return res;
}

static int64_t stat_int(json_t *st, const char *key)
{
	json_t *v = json_object_get(st, key);

	cr_assert(json_is_integer(v), "stat has no integer `%s`", key);
	return (int64_t)json_integer_value(v);
}

/* A cgroup file of the container in one hierarchy (NULL if missing). */
static char *cg_read(const char *hier, const char *ctid, const char *file)
{
	char p[512];

	snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/%s/%s/%s", hier, du.subtree, ctid, file);
	return tu_read_file(p);
}

/* The hierarchies where the container still has a cgroup ("" if none). */
static void cgroups_left(const char *ctid, char *buf, size_t len)
{
	DIR *d = opendir("/sys/fs/cgroup");
	struct dirent *e;
	size_t off = 0;

	buf[0] = '\0';
	if (!d)
		return;
	while ((e = readdir(d))) {
		char p[512];
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/%s/%s", e->d_name, du.subtree, ctid);
		if (stat(p, &st) == 0 && off + strlen(p) + 2 < len)
			off += (size_t)snprintf(buf + off, len - off, "%s ", p);
	}
	closedir(d);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- tests ---- */

Test(resources, memory_hog_is_oom_killed_inside_its_container_only)
{
	json_t *a, *b;
	pid_t pid_a, pid_b;
	const char *hog[] = { "/bin/testinit", "memhog", "256", NULL };

	create_start("9501", json_pack("{s:s}", "ram", "64M"));
	create_start("9502", json_pack("{s:s}", "ram", "64M"));
	pid_a = du_ct_pid("9501");
	pid_b = du_ct_pid("9502");
	/* the hog is killed by the kernel (SIGKILL: 137), not refused */
	cr_assert_eq(du_exec_out("9501", hog, NULL), 128 + SIGKILL,
		     "memhog 256 MiB in a 64M container");
	a = stat_of("9501");
	b = stat_of("9502");
	cr_assert_geq(stat_int(a, "oom_kills"), 1, "stat shows no OOM kill");
	cr_assert_eq(stat_int(b, "oom_kills"), 0, "the neighbour had an OOM kill");
	cr_assert_eq(stat_int(a, "mem_limit_bytes"), 64 << 20);
	cr_assert_geq(stat_int(a, "mem_max_bytes"), 60 << 20, "the hog never reached the limit");
	json_decref(a);
	json_decref(b);
	/* both inits live on, and so does this host process */
	cr_assert_eq(kill(pid_a, 0), 0, "init of 9501 died");
	cr_assert_eq(kill(pid_b, 0), 0, "init of the neighbour died");
	cr_assert(du_running("9501") && du_running("9502"));
}

Test(resources, fork_bomb_stops_at_numproc_and_init_survives)
{
	_cleanup_free_ char *out = NULL, *fb = NULL;
	int64_t n = 0, last = -1;
	json_t *st;
	pid_t pid, child;
	int ws = 0;

	if (!tu_have_busybox())
		skip_test("no busybox shell");
	create_start("9503", json_pack("{s:s}", "numproc", "100"));
	pid = du_ct_pid("9503");
	cr_assert_eq(du_sh("9503", "/bin/testinit forkbomb >/tmp/fb 2>&1 &", NULL), 0);
	/* wait until it stopped forking */
	for (int i = 0; i < 100; i++) {
		usleep(50000);
		st = stat_of("9503");
		n = stat_int(st, "numproc");
		json_decref(st);
		if (n == last && n > 50)
			break;
		last = n;
	}
	cr_assert_leq(n, 100, "%lld tasks with --numproc 100", (long long)n);
	cr_assert_geq(n, 95, "the fork bomb stopped at %lld tasks, far below the limit",
		      (long long)n);
	/* its own message says fork failed (read from the host: no task
	 * is left for an exec inside) */
	cr_assert_geq(asprintf(&fb, "%s/root/9503/tmp/fb", du.tmp), 0);
	for (int i = 0; i < 50; i++) {
		free(out);
		out = tu_read_file(fb);
		if (out && strstr(out, "forks, then"))
			break;
		usleep(100000);
	}
	cr_assert(out && strstr(out, "forks, then"), "fork bomb output: %s", out ? out : "");
	cr_assert_eq(kill(pid, 0), 0, "the container's init died");
	cr_assert(du_running("9503"));
	/* the host can still fork */
	child = fork();
	cr_assert_geq(child, 0, "the host cannot fork");
	if (child == 0)
		_exit(7);
	cr_assert_eq(waitpid(child, &ws, 0), child);
	cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 7);
	/* and the stop kills all of them */
	cr_assert_eq(du_call("stop", "9503", json_pack("{s:b}", "fast", 1), NULL, NULL), 0);
}

/* CPU seconds the container used over secs. */
static double cpu_over(const char *ctid, double secs)
{
	json_t *a = stat_of(ctid), *b;
	double t0 = now_s(), used;

	usleep((useconds_t)(secs * 1e6));
	b = stat_of(ctid);
	used = (double)(stat_int(b, "cpu_ns") - stat_int(a, "cpu_ns")) / 1e9 / (now_s() - t0);
	json_decref(a);
	json_decref(b);
	return used;
}

Test(resources, cpulimit_50_holds_a_busy_loop_near_half_a_cpu)
{
	double pct = 0;

	if (!tu_have_busybox())
		skip_test("no busybox shell");
	create_start("9504", json_pack("{s:s}", "cpulimit", "50"));
	cr_assert_eq(du_sh("9504", "/bin/testinit spin >/dev/null 2>&1 &", NULL), 0);
	usleep(300000);
	/* the cap is a ceiling in every window; other work on a shared host
	 * can only push the loop below it, so the best window shows the cap */
	for (int w = 0; w < 3; w++) {
		double p = cpu_over("9504", 1.5) * 100;
		cr_log_info("cpulimit 50, window %d: %.1f%% of one CPU", w, p);
		cr_assert_leq(p, 60, "--cpulimit 50 let the loop have %.1f%% of one CPU", p);
		if (p > pct)
			pct = p;
	}
	cr_assert_geq(pct, 40, "--cpulimit 50 held the loop at %.1f%% of one CPU at best", pct);
	/* stat's own figure agrees */
	json_t *st = stat_of("9504");
	double spct = json_number_value(json_object_get(st, "cpu_pct"));
	json_decref(st);
	cr_assert(spct >= 20 && spct <= 65, "stat says %.1f%% of one CPU (cap 50)", spct);
}

Test(resources, cpuunits_2000_and_1000_split_one_cpu_2_to_1)
{
	json_t *a0, *b0, *a1, *b1;
	double ra, rb, ratio;

	if (!tu_have_busybox())
		skip_test("no busybox shell");
	create_start("9505", json_pack("{s:s,s:s}", "cpuunits", "2000", "cpumask", "1"));
	create_start("9506", json_pack("{s:s,s:s}", "cpuunits", "1000", "cpumask", "1"));
	cr_assert_eq(du_sh("9505", "/bin/testinit spin >/dev/null 2>&1 &", NULL), 0);
	cr_assert_eq(du_sh("9506", "/bin/testinit spin >/dev/null 2>&1 &", NULL), 0);
	usleep(500000);
	a0 = stat_of("9505");
	b0 = stat_of("9506");
	sleep(3);
	a1 = stat_of("9505");
	b1 = stat_of("9506");
	ra = (double)(stat_int(a1, "cpu_ns") - stat_int(a0, "cpu_ns"));
	rb = (double)(stat_int(b1, "cpu_ns") - stat_int(b0, "cpu_ns"));
	json_decref(a0);
	json_decref(b0);
	json_decref(a1);
	json_decref(b1);
	cr_assert_gt(rb, 0);
	ratio = ra / rb;
	cr_log_info("cpuunits 2000:1000 on one CPU: %.2f s : %.2f s = %.2f", ra / 1e9, rb / 1e9,
		    ratio);
	cr_assert(ratio > 1.6 && ratio < 2.5, "cpuunits 2000 vs 1000 split %.2f : 1", ratio);
	cr_assert((ra + rb) / 1e9 / 3.0 < 1.15, "two containers pinned to CPU 1 used %.2f CPUs",
		  (ra + rb) / 1e9 / 3.0);
}

Test(resources, set_ram_applies_live_and_save_persists)
{
	_cleanup_free_ char *lim = NULL, *file = NULL, *path = NULL;
	char *msg = NULL;
	pid_t pid;
	json_t *st;

	create_start("9507", json_pack("{s:s}", "ram", "256M"));
	pid = du_ct_pid("9507");
	cr_assert_eq(du_call("set", "9507", json_pack("{s:{s:s}}", "options", "ram", "128M"), NULL,
			     &msg),
		     0, "%s", msg);
	lim = cg_read("memory", "9507", "memory.limit_in_bytes");
	cr_assert(lim && atoll(lim) == 128LL << 20, "memory.limit_in_bytes is %s", lim);
	st = stat_of("9507");
	cr_assert_eq(stat_int(st, "mem_limit_bytes"), 128LL << 20);
	json_decref(st);
	cr_assert_eq(du_ct_pid("9507"), pid, "the container was restarted");
	cr_assert_geq(asprintf(&path, "%s/ct/9507.conf", du.tmp), 0);
	file = tu_read_file(path);
	cr_assert(file && !strstr(file, "128M"), "saved without --save: %s", file);
	free(file);
	/* --save: live and in the config, so a restart keeps it */
	cr_assert_eq(du_call("set", "9507",
			     json_pack("{s:{s:s},s:b}", "options", "ram", "96M", "save", 1), NULL,
			     &msg),
		     0, "%s", msg);
	file = tu_read_file(path);
	cr_assert(file && strstr(file, "PHYSPAGES"), "not saved: %s", file);
	cr_assert_eq(du_call("restart", "9507", NULL, NULL, &msg), 0, "%s", msg);
	free(lim);
	lim = cg_read("memory", "9507", "memory.limit_in_bytes");
	cr_assert(lim && atoll(lim) == 96LL << 20, "after restart memory.limit_in_bytes is %s",
		  lim);
}

Test(resources, free_and_nproc_inside_show_ram_and_cpus)
{
	_cleanup_free_ char *out = NULL;
	_cleanup_free_ char *cpus = NULL;
	long mem_total = 0;

	if (access("/usr/bin/lxcfs", X_OK) < 0 || !tu_have_busybox())
		skip_test("no lxcfs or busybox here");
	du_conf_addf("LXCFS=yes\n");
	du_daemon_kill9();
	du_daemon_start();
	create_start("9508", json_pack("{s:s,s:s}", "ram", "256M", "cpus", "1"));
	/* /proc/meminfo (what free(1) of procps reads) is the container's */
	cr_assert_eq(du_sh("9508", "/bin/busybox head -1 /proc/meminfo", &out), 0);
	cr_assert(sscanf(out, "MemTotal: %ld kB", &mem_total) == 1, "meminfo: %s", out);
	cr_assert_eq(mem_total, 256 * 1024, "MemTotal inside: %s", out);
	free(out);
	out = NULL;
	cr_assert_eq(du_sh("9508", "/bin/busybox nproc", &out), 0);
	cr_assert_str_eq(out, "1\n", "nproc inside with --cpus 1: %s", out);
	cpus = cg_read("cpuset", "9508", "cpuset.cpus");
	cr_assert(cpus && !strcmp(cpus, "0\n"), "cpuset.cpus is %s", cpus);
	/* back to every CPU live */
	cr_assert_eq(
		du_call("set", "9508", json_pack("{s:{s:s}}", "options", "cpus", "0"), NULL, NULL),
		0, "%s", du.last_msg);
	free(out);
	out = NULL;
	cr_assert_eq(du_sh("9508", "/bin/busybox nproc", &out), 0);
	cr_assert_eq(atoi(out), (int)sysconf(_SC_NPROCESSORS_ONLN), "nproc with --cpus 0: %s", out);
}

/* The same with the distribution's own tools: procps free(1) and coreutils
 * nproc in a debian-12 container (the image scripts/test.sh caches). */
Test(resources, debian_free_m_and_nproc_show_ram_and_cpus, .timeout = 120)
{
	const char *img = getenv("STRATA_TEST_DEBIAN_IMAGE");
	const char *freem[] = { "/usr/bin/free", "-m", NULL };
	const char *nproc[] = { "/usr/bin/nproc", NULL };
	_cleanup_free_ char *out = NULL;
	char *msg = NULL, *mem;
	long total = 0;

	if (!img || !*img)
		img = "/var/cache/strata/images/debian-12.sqfs";
	if (access(img, R_OK) < 0 || access("/usr/bin/lxcfs", X_OK) < 0)
		skip_test("no debian-12 image (scripts/template-cache.sh) or no lxcfs");
	du_conf_addf("LXCFS=yes\n");
	du_daemon_kill9();
	du_daemon_start();
	cr_assert_eq(du_call("template-import", NULL,
			     json_pack("{s:s,s:s}", "name", "debian-12", "file", img), NULL, &msg),
		     0, "%s", msg);
	cr_assert_eq(du_call("create", "9509",
			     json_pack("{s:s,s:{s:s,s:s}}", "ostemplate", "debian-12", "options",
				       "ram", "256M", "cpus", "1"),
			     NULL, &msg),
		     0, "create: %s", msg);
	cr_assert_eq(du_call("start", "9509", NULL, NULL, &msg), 0, "start: %s", msg);
	cr_assert_eq(du_exec_out("9509", freem, &out), 0, "free -m: %s", out);
	mem = strstr(out, "Mem:");
	cr_assert(mem && sscanf(mem, "Mem: %ld", &total) == 1, "free -m: %s", out);
	cr_assert_eq(total, 256, "free -m total inside with --ram 256M: %s", out);
	free(out);
	out = NULL;
	cr_assert_eq(du_exec_out("9509", nproc, &out), 0);
	cr_assert_str_eq(out, "1\n", "nproc inside with --cpus 1: %s", out);
	du_call("stop", "9509", json_pack("{s:b}", "fast", 1), NULL, NULL);
}

Test(resources, no_cgroup_left_after_stop_or_init_crash)
{
	char left[2048];
	pid_t pid;
	char *msg = NULL;

	create_start("9509", NULL);
	cgroups_left("9509", left, sizeof(left));
	cr_assert_neq(left[0], '\0', "no cgroup made for a running container");
	cr_assert_eq(du_call("stop", "9509", NULL, NULL, &msg), 0, "%s", msg);
	cgroups_left("9509", left, sizeof(left));
	cr_assert_str_eq(left, "", "left after stop: %s", left);
	/* a crash of the init */
	cr_assert_eq(du_call("start", "9509", NULL, NULL, &msg), 0, "%s", msg);
	if (tu_have_busybox())
		cr_assert_eq(du_sh("9509", "/bin/testinit pause >/dev/null 2>&1 &", NULL), 0);
	pid = du_ct_pid("9509");
	cr_assert_eq(kill(pid, SIGKILL), 0);
	for (int i = 0; i < 200 && du_running("9509"); i++)
		usleep(10000);
	cr_assert_not(du_running("9509"), "still running after its init was killed");
	cgroups_left("9509", left, sizeof(left));
	cr_assert_str_eq(left, "", "left after the init crashed: %s", left);
}

Test(resources, iolimit_is_set_on_the_disk_of_the_private_area)
{
	_cleanup_free_ char *bps = NULL, *iops = NULL, *part = NULL;
	char dev[32], want[64];
	struct stat st;
	unsigned maj, min;

	cr_assert_eq(stat(du.tmp, &st), 0);
	maj = major(st.st_dev);
	min = minor(st.st_dev);
	cr_assert_geq(asprintf(&part, "/sys/dev/block/%u:%u/partition", maj, min), 0);
	if (access(part, F_OK) == 0) {
		/* a partition: the throttle goes on the whole disk */
		_cleanup_free_ char *p2 = NULL, *pdev = NULL;
		cr_assert_geq(asprintf(&p2, "/sys/dev/block/%u:%u/../dev", maj, min), 0);
		pdev = tu_read_file(p2);
		cr_assert_not_null(pdev);
		cr_assert_eq(sscanf(pdev, "%u:%u", &maj, &min), 2);
	} else {
		free(part);
		part = NULL;
		cr_assert_geq(asprintf(&part, "/sys/dev/block/%u:%u", maj, min), 0);
		if (access(part, F_OK) < 0)
			skip_test("/tmp is not on a block device here");
	}
	snprintf(dev, sizeof(dev), "%u:%u", maj, min);
	create_start("9510", json_pack("{s:s,s:s}", "iolimit", "10M", "iopslimit", "200"));
	bps = cg_read("blkio", "9510", "blkio.throttle.write_bps_device");
	iops = cg_read("blkio", "9510", "blkio.throttle.read_iops_device");
	snprintf(want, sizeof(want), "%s 10485760", dev);
	cr_assert(bps && strstr(bps, want), "write_bps_device: `%s`, want `%s`", bps, want);
	snprintf(want, sizeof(want), "%s 200", dev);
	cr_assert(iops && strstr(iops, want), "read_iops_device: `%s`, want `%s`", iops, want);
	/* live */
	cr_assert_eq(du_call("set", "9510", json_pack("{s:{s:s}}", "options", "iolimit", "20M"),
			     NULL, NULL),
		     0, "%s", du.last_msg);
	free(bps);
	bps = cg_read("blkio", "9510", "blkio.throttle.write_bps_device");
	snprintf(want, sizeof(want), "%s 20971520", dev);
	cr_assert(bps && strstr(bps, want), "after set: `%s`, want `%s`", bps, want);
}

Test(resources, memory_merge_turns_ksmd_on_and_back)
{
	_cleanup_free_ char *ksm = NULL, *run = NULL, *p = NULL;
	json_t *st;
	pid_t pid;
	char *msg = NULL;

	if (access("/sys/kernel/mm/ksm/run", W_OK) < 0)
		skip_test("no KSM here");
	tu_write_file("/sys/kernel/mm/ksm/run", "0\n");
	create_start("9511", json_pack("{s:s}", "memory_merge", "yes"));
	pid = du_ct_pid("9511");
	cr_assert_geq(asprintf(&p, "/proc/%d/ksm_stat", (int)pid), 0);
	ksm = tu_read_file(p);
	cr_assert(ksm && strstr(ksm, "ksm_merge_any: yes"), "init's ksm_stat: %s", ksm);
	run = tu_read_file("/sys/kernel/mm/ksm/run");
	cr_assert(run && atoi(run) == 1, "ksmd not turned on: run=%s", run);
	st = stat_of("9511");
	cr_assert(json_is_true(json_object_get(st, "memory_merge")));
	cr_assert(json_is_integer(json_object_get(st, "ksm_pages")), "stat has no ksm_pages");
	json_decref(st);
	/* a command run in it merges too */
	if (tu_have_busybox()) {
		_cleanup_free_ char *out = NULL;
		cr_assert_eq(du_sh("9511", "cat /proc/self/ksm_stat", &out), 0);
		cr_assert(strstr(out, "ksm_merge_any: yes"), "exec'd command: %s", out);
	}
	/* a second one, then both stop: ksmd back to 0 after the last */
	create_start("9512", json_pack("{s:s}", "memory_merge", "yes"));
	cr_assert_eq(du_call("stop", "9511", NULL, NULL, &msg), 0, "%s", msg);
	free(run);
	run = tu_read_file("/sys/kernel/mm/ksm/run");
	cr_assert(run && atoi(run) == 1, "ksmd stopped while 9512 merges: run=%s", run);
	cr_assert_eq(du_call("stop", "9512", NULL, NULL, &msg), 0, "%s", msg);
	free(run);
	run = tu_read_file("/sys/kernel/mm/ksm/run");
	cr_assert(run && atoi(run) == 0, "ksmd left on: run=%s", run);
}

Test(resources, cli_stat_top_and_list_fields)
{
	_cleanup_free_ char *out = NULL;
	json_t *j;

	create_start("9513", json_pack("{s:s}", "ram", "64M"));
	const char *st[] = { "stat", "9513", NULL };
	cr_assert_eq(du_cli(st, &out), 0, "%s", out);
	cr_assert(strstr(out, "CTID 9513 running") && strstr(out, "OOM kills 0") &&
			  strstr(out, "limit 64.0 MiB"),
		  "strata stat: %s", out);
	free(out);
	out = NULL;
	const char *stj[] = { "stat", "9513", "-j", NULL };
	cr_assert_eq(du_cli(stj, &out), 0, "%s", out);
	j = json_loads(out, 0, NULL);
	cr_assert(json_is_integer(json_object_get(j, "numproc")), "stat -j: %s", out);
	json_decref(j);
	free(out);
	out = NULL;
	const char *top[] = { "top", "-b", "-n", "2", "-d", "0.2", NULL };
	cr_assert_eq(du_cli(top, &out), 0, "%s", out);
	cr_assert(strstr(out, "strata top") && strstr(out, "9513"), "top: %s", out);
	cr_assert(strstr(strstr(out, "strata top") + 1, "strata top"), "not 2 frames: %s", out);
	free(out);
	out = NULL;
	const char *ls[] = { "list", "-o", "ctid,cpu,cpupct,mem,maxmem,oomkills,failcnt,iobytes",
			     "-j", NULL };
	cr_assert_eq(du_cli(ls, &out), 0, "%s", out);
	j = json_loads(out, 0, NULL);
	cr_assert(json_is_array(j) && json_array_size(j) == 1, "list -j: %s", out);
	cr_assert(json_is_integer(json_object_get(json_array_get(j, 0), "mem")), "%s", out);
	cr_assert(json_is_number(json_object_get(json_array_get(j, 0), "cpupct")), "%s", out);
	json_decref(j);
	/* a stopped container has no stat */
	cr_assert_eq(du_call("stop", "9513", NULL, NULL, NULL), 0);
	cr_assert_eq(du_call("stat", "9513", NULL, NULL, NULL), 31);
}

Test(resources, iolimit_on_a_private_area_off_disk_is_skipped_with_a_warning)
{
	_cleanup_free_ char *mnt = NULL, *priv = NULL, *bps = NULL;
	json_t *res = NULL, *w;
	char *msg = NULL;

	cr_assert_geq(asprintf(&mnt, "%s/tmpfs", du.tmp), 0);
	cr_assert_eq(mkdir(mnt, 0755), 0);
	cr_assert_eq(mount("stres-tmpfs", mnt, "tmpfs", 0, "mode=0755"), 0);
	cr_assert_geq(asprintf(&priv, "%s/9514", mnt), 0);
	cr_assert_eq(du_call("create", "9514",
			     json_pack("{s:s,s:s,s:{s:s}}", "ostemplate", "tiny", "private", priv,
				       "options", "iolimit", "10M"),
			     NULL, &msg),
		     0, "create: %s", msg);
	/* the start goes on without the throttle */
	cr_assert_eq(du_call("start", "9514", NULL, NULL, &msg), 0, "start: %s", msg);
	bps = cg_read("blkio", "9514", "blkio.throttle.write_bps_device");
	cr_assert(!bps || !strchr(bps, ':'), "a throttle on some device: %s", bps);
	/* and a live set says why */
	cr_assert_eq(du_call("set", "9514", json_pack("{s:{s:s}}", "options", "iolimit", "20M"),
			     &res, &msg),
		     0, "set: %s", msg);
	w = json_array_get(json_object_get(res, "warnings"), 0);
	cr_assert(json_is_string(w) && strstr(json_string_value(w), "not a block device"),
		  "set --iolimit on tmpfs: no warning");
	json_decref(res);
}
