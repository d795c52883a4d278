/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ksal cgroups against the real kernel (root): the v1 backend, for real
 * under /sys/fs/cgroup on this hybrid host. The harness (subtree
 * "stcg-test-<pid>", cleanup even after a failed assert) is in
 * test_cgroup_common.c; the v2 backend is in test_cgroup_v2.c.
 */

#include "test_cgroup_common.c"

static void v1_setup_cg(const char *name)
{
	OK(ksal_cgroup_mgr_new(NULL, sub, &mgr, &err));
	OK(ksal_cgroup_create(mgr, name, &cg, &err));
}

TestSuite(cgroup_v1, .init = setup, .fini = teardown, .timeout = 60);

Test(cgroup_v1, host_probe_is_hybrid)
{
	need_root();
	OK(ksal_cgroup_mgr_new(NULL, sub, &mgr, &err));
	cr_assert_eq(ksal_cgroup_mgr_layout(mgr), KSAL_CG_HYBRID, "layout %s",
		     ksal_cgroup_layout_name(ksal_cgroup_mgr_layout(mgr)));
	cr_assert(strstr(ksal_cgroup_mgr_controllers(mgr), "memory"));
	cr_assert(strstr(ksal_cgroup_mgr_controllers(mgr), "pids"));
	/* probing makes nothing */
	cr_assert_neq(access(cgfile("memory", "", ""), F_OK), 0);
}

Test(cgroup_v1, attach_and_limits_read_back)
{
	struct ksal_cgroup_limits l;
	struct ksal_cgroup_stats s;
	char want[256], path[256];
	pid_t pid;
	int go;

	need_root();
	v1_setup_cg("ct");
	pid = spawn_held(do_pause, &go);
	OK(ksal_cgroup_attach(cg, pid, &err));
	ksal_cgroup_limits_init(&l);
	l.memory_max = 64 << 20;
	l.swap_max = 0;
	l.pids_max = 20;
	l.cpu_weight = 2000;
	l.cpu_quota_us = 50000;
	l.cpu_period_us = 100000;
	OK(ksal_cgroup_apply(cg, &l, &err));

	cr_assert_str_eq(slurp(cgfile("memory", "ct", "memory.limit_in_bytes")), "67108864\n");
	cr_assert_str_eq(slurp(cgfile("memory", "ct", "memory.memsw.limit_in_bytes")),
			 "67108864\n");
	cr_assert_str_eq(slurp(cgfile("pids", "ct", "pids.max")), "20\n");
	cr_assert_str_eq(slurp(cgfile("cpu", "ct", "cpu.shares")), "2048\n");
	cr_assert_str_eq(slurp(cgfile("cpu", "ct", "cpu.cfs_quota_us")), "50000\n");
	OK(ksal_cgroup_stats(cg, &s, &err));
	cr_assert_eq(s.memory_max, 64 << 20);
	cr_assert_eq(s.pids_max, 20);
	cr_assert_eq(s.pids_current, 1);

	/* the task is in the cgroup in every hierarchy, the cgroup2 one too */
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	snprintf(want, sizeof(want), "memory:/%s/ct\n", sub);
	cr_assert(strstr(slurp(path), want), "%s", slurp(path));
	snprintf(want, sizeof(want), "0::/%s/ct\n", sub);
	cr_assert(strstr(slurp(path), want), "%s", slurp(path));
	snprintf(want, sizeof(want), "name=systemd:/%s/ct\n", sub);
	cr_assert(strstr(slurp(path), want), "%s", slurp(path));

	/* raising ram live works (memsw first) */
	ksal_cgroup_limits_init(&l);
	l.memory_max = 256 << 20;
	OK(ksal_cgroup_apply(cg, &l, &err));
	cr_assert_str_eq(slurp(cgfile("memory", "ct", "memory.limit_in_bytes")), "268435456\n");
	cr_assert_str_eq(slurp(cgfile("memory", "ct", "memory.memsw.limit_in_bytes")),
			 "268435456\n");

	/* the kernel refuses what it cannot do, and we say which file */
	ksal_cgroup_limits_init(&l);
	l.cpuset_cpus = "63";
	cr_assert_lt(ksal_cgroup_apply(cg, &l, &err), 0);
	cr_assert(strstr(err->msg, "cpuset.cpus"), "%s", err->msg);
	release(go);
}

/* A 128 MiB hog under a 64 MiB limit; returns the stats after its death. */
static struct ksal_cgroup_stats memhog_in(const char *name, int64_t swap)
{
	struct ksal_cgroup_limits l;
	struct ksal_cgroup_stats s;
	pid_t pid;
	int go, st;

	v1_setup_cg(name);
	ksal_cgroup_limits_init(&l);
	l.memory_max = 64 << 20;
	l.swap_max = swap;
	OK(ksal_cgroup_apply(cg, &l, &err));
	pid = spawn_held(do_memhog, &go);
	OK(ksal_cgroup_attach(cg, pid, &err));
	release(go);
	st = status_of(pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "memhog status %#x", st);
	OK(ksal_cgroup_stats(cg, &s, &err));
	cr_assert_geq(s.oom_kills, 1);
	cr_assert_geq(s.memory_peak, 60 << 20);
	cr_assert_leq(s.memory_peak, 64 << 20);
	cr_assert(ksal_cgroup_is_empty(cg));
	OK(ksal_cgroup_destroy(cg, &err));
	return s;
}

Test(cgroup_v1, memhog_is_oom_killed_and_counted)
{
	struct ksal_cgroup_stats s;

	need_root();
	s = memhog_in("hog", KSAL_CG_UNLIMITED);
	cr_assert_gt(s.memory_failcnt, 0);
}

/* swap 0 sets memsw = ram: the kill is still counted (Linux 6.x keeps no
 * failcnt on the memsw counter, so failcnt is not asserted here) */
Test(cgroup_v1, memhog_with_swap_0_is_oom_killed)
{
	need_root();
	memhog_in("hog0", 0);
}

Test(cgroup_v1, forkbomb_hits_pids_max_host_still_forks)
{
	struct ksal_cgroup_limits l;
	struct ksal_cgroup_stats s;
	pid_t pid, host;
	int go, st;

	need_root();
	v1_setup_cg("bomb");
	ksal_cgroup_limits_init(&l);
	l.pids_max = 20;
	OK(ksal_cgroup_apply(cg, &l, &err));
	pid = spawn_held(do_forkbomb, &go);
	OK(ksal_cgroup_attach(cg, pid, &err));
	release(go);
	st = status_of(pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "forkbomb status %#x", st);
	OK(ksal_cgroup_stats(cg, &s, &err));
	cr_assert_eq(s.pids_current, 19, "the 19 paused children stay");

	host = fork();
	if (host == 0)
		_exit(0);
	cr_assert_gt(host, 0, "host fork: %s", strerror(errno));
	st = status_of(track(host));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	OK(ksal_cgroup_kill_all(cg, 5000, &err));
	cr_assert(ksal_cgroup_is_empty(cg));
	OK(ksal_cgroup_destroy(cg, &err));
}

Test(cgroup_v1, freeze_stops_cpu_thaw_resumes)
{
	pid_t pid;
	unsigned long t1, t2, t3;
	int go;

	need_root();
	v1_setup_cg("ice");
	pid = spawn_held(do_spin, &go);
	OK(ksal_cgroup_attach(cg, pid, &err));
	release(go);
	sleep_ms(100);
	OK(ksal_cgroup_freeze(cg, true, &err));
	cr_assert_str_eq(slurp(cgfile("freezer", "ice", "freezer.state")), "FROZEN\n");
	t1 = utime_of(pid);
	sleep_ms(300);
	t2 = utime_of(pid);
	cr_assert_eq(t1, t2, "frozen task ran: utime %lu -> %lu", t1, t2);
	OK(ksal_cgroup_freeze(cg, false, &err));
	cr_assert_str_eq(slurp(cgfile("freezer", "ice", "freezer.state")), "THAWED\n");
	sleep_ms(300);
	t3 = utime_of(pid);
	cr_assert_gt(t3, t2, "thawed task did not run");
}

static int do_family(void)
{
	for (int i = 0; i < 3; i++)
		if (fork() == 0)
			do_spin();
	return do_pause();
}

Test(cgroup_v1, kill_all_kills_every_task)
{
	pid_t pid[4];
	pid_t *pids = NULL;
	size_t n = 0;
	int go[4];

	need_root();
	v1_setup_cg("doom");
	for (int i = 0; i < 4; i++) {
		pid[i] = spawn_held(do_family, &go[i]);
		OK(ksal_cgroup_attach(cg, pid[i], &err));
		release(go[i]);
	}
	/* wait until every family has forked its children (a loaded host is slow) */
	for (int t = 0; t < 500; t++) {
		OK(ksal_cgroup_pids(cg, &pids, &n, &err));
		free(pids);
		pids = NULL;
		if (n >= 16)
			break;
		sleep_ms(10);
	}
	/* one family moved into a child cgroup, as systemd inside would */
	{
		char inner[4096], val[32];
		int fd;

		snprintf(inner, sizeof(inner), "%s", cgfile("freezer", "doom", "inner"));
		cr_assert_eq(mkdir(inner, 0755), 0);
		strcat(inner, "/cgroup.procs");
		fd = open(inner, O_WRONLY | O_CLOEXEC);
		cr_assert_geq(fd, 0);
		snprintf(val, sizeof(val), "%d", (int)pid[3]);
		cr_assert_eq(write(fd, val, strlen(val)), (ssize_t)strlen(val));
		close(fd);
	}
	OK(ksal_cgroup_pids(cg, &pids, &n, &err));
	free(pids);
	cr_assert_eq(n, 16, "4 parents + 12 children, got %zu", n);
	cr_assert_not(ksal_cgroup_is_empty(cg));
	OK(ksal_cgroup_kill_all(cg, 5000, &err));
	cr_assert(ksal_cgroup_is_empty(cg));
	for (int i = 0; i < 4; i++) {
		int st = status_of(pid[i]);
		cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	}
	cr_assert_str_eq(slurp(cgfile("freezer", "doom", "freezer.state")), "THAWED\n");
	OK(ksal_cgroup_destroy(cg, &err));
	cr_assert_neq(access(cgfile("freezer", "doom", ""), F_OK), 0);
}

Test(cgroup_v1, destroy_removes_every_directory)
{
	static const char *const hiers[] = { "cpu",	"cpuacct", "cpuset", "memory",	"devices",
					     "freezer", "blkio",   "pids",   "systemd", "unified" };
	char p[4096];

	need_root();
	v1_setup_cg("gone");
	/* what systemd inside would make */
	snprintf(p, sizeof(p), "%s", cgfile("systemd", "gone", "init.scope"));
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s", cgfile("systemd", "gone", "system.slice"));
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s", cgfile("systemd", "gone", "system.slice/cron.service"));
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s", cgfile("unified", "gone", "init.scope"));
	cr_assert_eq(mkdir(p, 0755), 0);
	for (size_t i = 0; i < ARRAY_SIZE(hiers); i++)
		cr_assert_eq(access(cgfile(hiers[i], "gone", ""), F_OK), 0, "%s", hiers[i]);
	OK(ksal_cgroup_destroy(cg, &err));
	for (size_t i = 0; i < ARRAY_SIZE(hiers); i++) {
		cr_assert_neq(access(cgfile(hiers[i], "gone", ""), F_OK), 0, "%s left", hiers[i]);
		cr_assert_eq(access(cgfile(hiers[i], "", ""), F_OK), 0, "subtree kept");
	}
}

Test(cgroup_v1, destroy_with_tasks_fails_clearly_then_works)
{
	pid_t pid;
	int go;

	need_root();
	v1_setup_cg("busy");
	pid = spawn_held(do_pause, &go);
	OK(ksal_cgroup_attach(cg, pid, &err));
	cr_assert_lt(ksal_cgroup_destroy(cg, &err), 0);
	cr_assert(strstr(err->msg, "tasks still in it"), "%s", err->msg);
	cr_assert_eq(err->exit_code, ST_EXIT_DESTROYFAIL);
	st_error_free(err);
	err = NULL;
	/* the daemon restarted: open the cgroup again, find the task */
	ksal_cgroup_free(cg);
	cg = NULL;
	OK(ksal_cgroup_open(mgr, "busy", &cg, &err));
	{
		pid_t *pids = NULL;
		size_t n = 0;
		OK(ksal_cgroup_pids(cg, &pids, &n, &err));
		cr_assert_eq(n, 1);
		cr_assert_eq(pids[0], pid);
		free(pids);
	}
	OK(ksal_cgroup_kill_all(cg, 5000, &err));
	OK(ksal_cgroup_destroy(cg, &err));
	cr_assert_neq(access(cgfile("memory", "busy", ""), F_OK), 0);
	close(go);
}

Test(cgroup_v1, devices_allowlist)
{
	struct ksal_cgroup_dev allow[] = { { 'c', 1, 3, "rwm" } };
	pid_t pid;
	int go, st;

	need_root();
	v1_setup_cg("dev");
	OK(ksal_cgroup_devices_set(cg, allow, 1, &err));
	cr_assert_str_eq(slurp(cgfile("devices", "dev", "devices.list")), "c 1:3 rwm\n");
	pid = spawn_held(do_devices, &go);
	OK(ksal_cgroup_attach(cg, pid, &err));
	release(go);
	st = status_of(pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "devices child status %#x", st);
}

Test(cgroup_v1, delegate_chowns_systemd_and_unified)
{
	struct stat sb;

	need_root();
	v1_setup_cg("deleg");
	OK(ksal_cgroup_delegate(cg, 12345, 23456, &err));
	cr_assert_eq(stat(cgfile("systemd", "deleg", ""), &sb), 0);
	cr_assert(sb.st_uid == 12345 && sb.st_gid == 23456);
	cr_assert_eq(stat(cgfile("systemd", "deleg", "tasks"), &sb), 0);
	cr_assert_eq(sb.st_uid, 12345);
	cr_assert_eq(stat(cgfile("systemd", "deleg", "cgroup.procs"), &sb), 0);
	cr_assert_eq(sb.st_uid, 12345);
	cr_assert_eq(stat(cgfile("unified", "deleg", "cgroup.procs"), &sb), 0);
	cr_assert_eq(sb.st_uid, 12345);
	cr_assert_eq(stat(cgfile("unified", "deleg", "cgroup.subtree_control"), &sb), 0);
	cr_assert_eq(sb.st_uid, 12345);
	/* resource controllers stay the host's */
	cr_assert_eq(stat(cgfile("memory", "deleg", ""), &sb), 0);
	cr_assert_eq(sb.st_uid, 0);
	cr_assert_eq(stat(cgfile("unified", "deleg", "cgroup.freeze"), &sb), 0);
	cr_assert_eq(sb.st_uid, 0);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t cpu_ns(struct ksal_cgroup *c)
{
	struct ksal_cgroup_stats st;

	OK(ksal_cgroup_stats(c, &st, &err));
	return st.cpu_usage_ns;
}

/* --cpulimit 50: a busy loop gets about half of one CPU */
Test(cgroup_v1, cpulimit_50_holds_a_busy_loop)
{
	struct ksal_cgroup_limits l;
	uint64_t u0, u1;
	double t0, t1, pct;
	pid_t pid;
	int go;

	need_root();
	v1_setup_cg("half");
	ksal_cgroup_limits_init(&l);
	l.cpu_quota_us = 50000;
	l.cpu_period_us = 100000;
	OK(ksal_cgroup_apply(cg, &l, &err));
	pid = spawn_held(do_spin, &go);
	OK(ksal_cgroup_attach(cg, pid, &err));
	release(go);
	sleep_ms(200);
	u0 = cpu_ns(cg);
	t0 = now_s();
	sleep_ms(3000);
	u1 = cpu_ns(cg);
	t1 = now_s();
	pct = (double)(u1 - u0) / 1e9 / (t1 - t0) * 100;
	fprintf(stderr, "MEASURED cpulimit 50: %.1f%% of one CPU\n", pct);
	cr_assert(pct >= 40 && pct <= 60, "busy loop at %.1f%% under --cpulimit 50", pct);
}

/* --cpuunits 2000 and 1000 on one CPU split it about 2:1 */
Test(cgroup_v1, cpuunits_2000_vs_1000_split_2_to_1)
{
	struct ksal_cgroup_limits l;
	struct ksal_cgroup *b = NULL;
	uint64_t a0, a1, b0, b1;
	double ratio;
	pid_t pa, pb;
	int ga, gb;

	need_root();
	v1_setup_cg("u2000");
	OK(ksal_cgroup_create(mgr, "u1000", &b, &err));
	ksal_cgroup_limits_init(&l);
	l.cpuset_cpus = "0";
	l.cpu_weight = 2000;
	OK(ksal_cgroup_apply(cg, &l, &err));
	l.cpu_weight = 1000;
	OK(ksal_cgroup_apply(b, &l, &err));
	pa = spawn_held(do_spin, &ga);
	pb = spawn_held(do_spin, &gb);
	OK(ksal_cgroup_attach(cg, pa, &err));
	OK(ksal_cgroup_attach(b, pb, &err));
	release(ga);
	release(gb);
	sleep_ms(200);
	a0 = cpu_ns(cg);
	b0 = cpu_ns(b);
	sleep_ms(3000);
	a1 = cpu_ns(cg);
	b1 = cpu_ns(b);
	ksal_cgroup_free(b);
	cr_assert_gt(b1 - b0, 0);
	ratio = (double)(a1 - a0) / (double)(b1 - b0);
	fprintf(stderr, "MEASURED cpuunits 2000:1000 -> %.2f:1\n", ratio);
	cr_assert(ratio >= 1.6 && ratio <= 2.5, "split %.2f:1, want about 2:1", ratio);
}

/* The whole disk holding /tmp as "MAJ:MIN"; false if it is not one. */
static bool tmp_disk(char *dev, size_t dlen)
{
	char p[256];
	struct stat sb;

	if (stat("/tmp", &sb) < 0 || major(sb.st_dev) == 0)
		return false;
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/partition", major(sb.st_dev),
		 minor(sb.st_dev));
	if (access(p, F_OK) == 0)
		return false; /* a partition: throttles want the disk */
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u", major(sb.st_dev), minor(sb.st_dev));
	if (access(p, F_OK) < 0)
		return false;
	snprintf(dev, dlen, "%u:%u", major(sb.st_dev), minor(sb.st_dev));
	return true;
}

/* Read the 3 MiB test file past the page cache (O_DIRECT). */
static int do_read_disk(void)
{
	int fd = open(io_file, O_RDONLY | O_DIRECT | O_CLOEXEC);
	void *buf;

	if (fd < 0 || posix_memalign(&buf, 4096, 65536) != 0)
		return 20;
	for (off_t off = 0; off < (3 << 20); off += 65536)
		if (pread(fd, buf, 65536, off) != 65536)
			return 21;
	return 0;
}

/* --iolimit 1M on the disk under /tmp: 3 MiB of direct reads take about 3 s */
Test(cgroup_v1, iolimit_throttles_direct_reads)
{
	struct ksal_cgroup_limits l;
	struct ksal_cgroup_stats s;
	char dev[32];
	double t0, dt;
	pid_t pid;
	int go, st;

	need_root();
	if (!tmp_disk(dev, sizeof(dev)))
		cr_skip_test("/tmp is not on a whole disk");
	snprintf(io_file, sizeof(io_file), "/tmp/%s.io", sub);
	{
		int fd = open(io_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		static char chunk[65536];

		cr_assert_geq(fd, 0);
		memset(chunk, 'x', sizeof(chunk));
		for (int i = 0; i < 48; i++)
			cr_assert_eq(write(fd, chunk, sizeof(chunk)), (ssize_t)sizeof(chunk));
		cr_assert_eq(fsync(fd), 0);
		close(fd);
	}
	v1_setup_cg("io");
	ksal_cgroup_limits_init(&l);
	l.io_weight = 7;
	l.io_device = dev;
	l.io_bps_max = 1 << 20;
	l.io_iops_max = 1000;
	OK(ksal_cgroup_apply(cg, &l, &err));
	{
		char want[64];
		snprintf(want, sizeof(want), "%s 1048576\n", dev);
		cr_assert_str_eq(slurp(cgfile("blkio", "io", "blkio.throttle.read_bps_device")),
				 want);
		snprintf(want, sizeof(want), "%s 1000\n", dev);
		cr_assert_str_eq(slurp(cgfile("blkio", "io", "blkio.throttle.write_iops_device")),
				 want);
		/* ioprio 7 -> weight 1000 (BFQ's file here: no CFQ on this kernel) */
		if (access(cgfile("blkio", "io", "blkio.weight"), F_OK) == 0)
			cr_assert_str_eq(slurp(cgfile("blkio", "io", "blkio.weight")), "1000\n");
		else
			cr_assert_str_eq(slurp(cgfile("blkio", "io", "blkio.bfq.weight")),
					 "1000\n");
	}
	pid = spawn_held(do_read_disk, &go);
	OK(ksal_cgroup_attach(cg, pid, &err));
	t0 = now_s();
	release(go);
	st = status_of(pid);
	dt = now_s() - t0;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reader status %#x", st);
	fprintf(stderr, "MEASURED iolimit 1M: 3 MiB direct read in %.2f s\n", dt);
	cr_assert_geq(dt, 1.5, "3 MiB at 1 MiB/s took only %.2f s", dt);
	OK(ksal_cgroup_stats(cg, &s, &err));
	cr_assert_geq(s.io_read_bytes, 3 << 20);
	cr_assert_geq(s.io_read_ops, 48);
}

/* The cost of the cgroup part of a start and stop: create, a typical limit
 * set, destroy. */
Test(cgroup_v1, bench_create_apply_destroy)
{
	struct ksal_cgroup_limits l;
	const int n = 50;
	double t0, t1, tc = 0, ta = 0, td = 0;

	need_root();
	OK(ksal_cgroup_mgr_new(NULL, sub, &mgr, &err));
	ksal_cgroup_limits_init(&l);
	l.memory_max = 256 << 20;
	l.swap_max = 0;
	l.cpu_weight = 1000;
	l.cpu_quota_us = 100000;
	l.cpu_period_us = 100000;
	l.pids_max = 100;
	t0 = now_s();
	for (int i = 0; i < n; i++) {
		char name[32];
		double a, b, c, d;

		snprintf(name, sizeof(name), "b%d", i);
		a = now_s();
		OK(ksal_cgroup_create(mgr, name, &cg, &err));
		b = now_s();
		OK(ksal_cgroup_apply(cg, &l, &err));
		c = now_s();
		OK(ksal_cgroup_destroy(cg, &err));
		d = now_s();
		tc += b - a;
		ta += c - b;
		td += d - c;
		ksal_cgroup_free(cg);
		cg = NULL;
	}
	t1 = now_s();
	fprintf(stderr,
		"BENCH cgroup_v1 create+apply+destroy %.3f ms/ct (create %.3f, apply %.3f, "
		"destroy %.3f; %d runs)\n",
		(t1 - t0) * 1000 / n, tc * 1000 / n, ta * 1000 / n, td * 1000 / n, n);
	cr_assert_lt((t1 - t0) * 1000 / n, 100.0);
}
