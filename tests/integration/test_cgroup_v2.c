/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ksal cgroups against the real kernel (root): the v2 backend on the real,
 * controller-less cgroup2 mount at /sys/fs/cgroup/unified (create,
 * CLONE_INTO_CGROUP, freeze, cgroup.kill, the eBPF device program, destroy).
 * The harness is in test_cgroup_common.c.
 */

#include "test_cgroup_common.c"

/* ---- v2 on the real cgroup2 mount (controller-less on this host) ---- */

TestSuite(cgroup_v2, .init = setup, .fini = teardown, .timeout = 60);

static void v2_setup_cg(const char *name)
{
	struct stat sb;

	if (stat(UNIFIED "/cgroup.controllers", &sb) < 0)
		cr_skip_test("no cgroup2 mount at " UNIFIED);
	OK(ksal_cgroup_mgr_new(UNIFIED, sub, &mgr, &err));
	cr_assert_eq(ksal_cgroup_mgr_layout(mgr), KSAL_CG_V2);
	OK(ksal_cgroup_create(mgr, name, &cg, &err));
}

static pid_t clone_into(struct ksal_cgroup *c, int (*fn)(void))
{
	struct ksal_clone_args a = { 0 };
	pid_t pid;

	a.flags = CLONE_INTO_CGROUP;
	a.exit_signal = SIGCHLD;
	a.cgroup = (uint64_t)ksal_cgroup_clone_fd(c);
	pid = ksal_clone3(&a);
	if (pid == 0)
		_exit(fn());
	return track(pid);
}

Test(cgroup_v2, clone_into_cgroup_freeze_kill_destroy)
{
	char want[256], path[256];
	pid_t *pids = NULL;
	size_t n = 0;
	unsigned long t1, t2, t3;
	pid_t pid;
	int st;

	need_root();
	v2_setup_cg("ct");
	cr_assert_geq(ksal_cgroup_clone_fd(cg), 0);
	pid = clone_into(cg, do_spin);
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	snprintf(want, sizeof(want), "0::/%s/ct\n", sub);
	cr_assert(strstr(slurp(path), want), "%s", slurp(path));
	OK(ksal_cgroup_pids(cg, &pids, &n, &err));
	cr_assert_eq(n, 1);
	cr_assert_eq(pids[0], pid);
	free(pids);

	sleep_ms(100);
	OK(ksal_cgroup_freeze(cg, true, &err));
	snprintf(path, sizeof(path), UNIFIED "/%s/ct/cgroup.events", sub);
	cr_assert(strstr(slurp(path), "frozen 1"), "%s", slurp(path));
	t1 = utime_of(pid);
	sleep_ms(300);
	t2 = utime_of(pid);
	cr_assert_eq(t1, t2, "frozen task ran: utime %lu -> %lu", t1, t2);
	OK(ksal_cgroup_freeze(cg, false, &err));
	sleep_ms(300);
	t3 = utime_of(pid);
	cr_assert_gt(t3, t2, "thawed task did not run");

	/* a second task attached by pid, then cgroup.kill takes both */
	{
		int go;
		pid_t p2 = spawn_held(do_pause, &go);
		OK(ksal_cgroup_attach(cg, p2, &err));
		cr_assert_not(ksal_cgroup_is_empty(cg));
		OK(ksal_cgroup_kill_all(cg, 5000, &err));
		cr_assert(ksal_cgroup_is_empty(cg));
		st = status_of(p2);
		cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		close(go);
	}
	st = status_of(pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

	snprintf(path, sizeof(path), UNIFIED "/%s/ct/child", sub);
	cr_assert_eq(mkdir(path, 0755), 0);
	OK(ksal_cgroup_destroy(cg, &err));
	snprintf(path, sizeof(path), UNIFIED "/%s/ct", sub);
	cr_assert_neq(access(path, F_OK), 0, "cgroup left behind");
}

Test(cgroup_v2, ebpf_device_allowlist)
{
	struct ksal_cgroup_dev allow[] = { { 'c', 1, 3, "rw" }, { 'c', 136, -1, "rwm" } };
	struct ksal_cgroup_dev all[] = { { 'a', -1, -1, "rwm" } };
	pid_t pid;
	int st;

	need_root();
	v2_setup_cg("dev");
	OK(ksal_cgroup_devices_set(cg, allow, ARRAY_SIZE(allow), &err));
	pid = clone_into(cg, do_devices);
	st = status_of(pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "devices child status %#x", st);

	/* a new list replaces the old program: now /dev/zero opens */
	OK(ksal_cgroup_devices_set(cg, all, 1, &err));
	pid = clone_into(cg, do_devices);
	st = status_of(pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 11, "with allow-all, status %#x", st);
	OK(ksal_cgroup_destroy(cg, &err));
}

Test(cgroup_v2, delegate_chowns_the_three_files)
{
	struct stat sb;
	char p[4096];

	need_root();
	v2_setup_cg("deleg");
	OK(ksal_cgroup_delegate(cg, 12345, 12345, &err));
	snprintf(p, sizeof(p), UNIFIED "/%s/deleg", sub);
	cr_assert_eq(stat(p, &sb), 0);
	cr_assert_eq(sb.st_uid, 12345);
	snprintf(p, sizeof(p), UNIFIED "/%s/deleg/cgroup.threads", sub);
	cr_assert_eq(stat(p, &sb), 0);
	cr_assert_eq(sb.st_uid, 12345);
	snprintf(p, sizeof(p), UNIFIED "/%s/deleg/cgroup.kill", sub);
	cr_assert_eq(stat(p, &sb), 0);
	cr_assert_eq(sb.st_uid, 0, "cgroup.kill stays root's");
}

Test(cgroup_v2, limits_need_controllers_and_say_so)
{
	struct ksal_cgroup_limits l;

	need_root();
	v2_setup_cg("nolim");
	if (strstr(ksal_cgroup_mgr_controllers(mgr), "pids"))
		cr_skip_test("this cgroup2 mount has controllers");
	ksal_cgroup_limits_init(&l);
	l.pids_max = 10;
	cr_assert_lt(ksal_cgroup_apply(cg, &l, &err), 0);
	cr_assert(strstr(err->msg, "pids.max"), "%s", err->msg);
	cr_assert(strstr(err->msg, "controller not enabled"), "%s", err->msg);
	cr_assert_eq(err->exit_code, ST_EXIT_NOFEATURE);
}
