/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The start-path speedups (perf area, issue 4's figures) against the real
 * kernel, as root:
 * - an init joins its container's cgroups itself (ksal_cgroup_join_prepare:
 *   CLONE_INTO_CGROUP for cgroup2, "0" written to each v1 `tasks` by the
 *   child), and ends up in every hierarchy Strata uses;
 * - a compose reuses the user namespace of its id range and keeps the
 *   idmapped clones of the template until the root is unmounted: every root
 *   still gets its own range's owners, and unmount/compose cycles work.
 * Cgroups live under "stperf-<pid>" in every hierarchy, directories under
 * /tmp/stperf-*; the suite's .fini removes both, pass or fail.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cow-fs/cowfs.h"
#include "ksal/cgroup.h"
#include "ksal/cleanup.h"
#include "ksal/spawn.h"
#include "ksal/syscalls.h"
#include "tests/integration/test_spawn_util.h"

static struct ksal_cgroup_mgr *g_mgr;
static struct ksal_cgroup *g_cg;
static char g_subtree[64];
static char *g_tmp; /* /tmp/stperf-test-XXXXXX: private areas and roots */
static char g_roots[3][PATH_MAX];

static int rm_entry(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	return type == FTW_DP ? rmdir(p) : unlink(p);
}

static void perf_setup(void)
{
	spawn_setup(); /* skips unless root; the busybox rootfs in g_root */
	snprintf(g_subtree, sizeof(g_subtree), "stperf-%d", (int)getpid());
}

static void perf_teardown(void)
{
	struct st_error *err = NULL;

	spawn_teardown(); /* kills tracked inits first */
	for (size_t i = 0; i < ARRAY_SIZE(g_roots); i++)
		if (g_roots[i][0]) {
			cowfs_root_decompose(g_roots[i], NULL);
			umount2(g_roots[i], MNT_DETACH);
			g_roots[i][0] = '\0';
		}
	if (g_tmp) {
		nftw(g_tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
		free(g_tmp);
		g_tmp = NULL;
	}
	if (g_cg) {
		ksal_cgroup_kill_all(g_cg, 2000, NULL);
		if (ksal_cgroup_destroy(g_cg, &err) < 0)
			fprintf(stderr, "teardown: %s\n", err->msg), st_error_freep(&err);
		ksal_cgroup_free(g_cg);
		g_cg = NULL;
	}
	if (g_mgr) {
		ksal_cgroup_mgr_free(g_mgr);
		g_mgr = NULL;
	}
	/* the subtree itself, in every hierarchy */
	if (g_subtree[0]) {
		FILE *f = fopen("/proc/self/mountinfo", "re");
		char line[1024], mnt[512], fstype[32];

		while (f && fgets(line, sizeof(line), f)) {
			const char *sep = strstr(line, " - ");
			char path[PATH_MAX];

			if (!sep || sscanf(line, "%*s %*s %*s %*s %511s", mnt) != 1 ||
			    sscanf(sep + 3, "%31s", fstype) != 1 || strncmp(fstype, "cgroup", 6))
				continue;
			snprintf(path, sizeof(path), "%s/%s", mnt, g_subtree);
			rmdir(path);
		}
		if (f)
			fclose(f);
	}
}

TestSuite(perf, .init = perf_setup, .fini = perf_teardown, .timeout = 120);

static void make_cgroup(void)
{
	struct st_error *err = NULL;

	cr_assert_eq(ksal_cgroup_mgr_new(NULL, g_subtree, &g_mgr, &err), 0, "%s",
		     err ? err->msg : "");
	cr_assert_eq(ksal_cgroup_create(g_mgr, "9450", &g_cg, &err), 0, "%s", err ? err->msg : "");
}

/* The init's own cgroup in the hierarchy of a /proc/PID/cgroup line. */
static void assert_in_every_hierarchy(pid_t pid)
{
	char path[64], line[1024];
	FILE *f;
	int checked = 0;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	cr_assert(f, "open %s: %m", path);
	while (fgets(line, sizeof(line), f)) {
		char *ctrls = strchr(line, ':'), *where, *want;
		const char *dir;

		cr_assert(ctrls && (where = strchr(++ctrls, ':')), "bad line `%s`", line);
		*where++ = '\0';
		where[strcspn(where, "\n")] = '\0';
		ctrls[strcspn(ctrls, ",")] = '\0';
		dir = ksal_cgroup_path(g_cg, *ctrls ? ctrls : "unified");
		if (!dir)
			continue; /* a hierarchy Strata does not use */
		cr_assert(asprintf(&want, "/%s/9450", g_subtree) > 0);
		cr_expect_str_eq(where, want, "init %d in hierarchy `%s`: at `%s`, not `%s`",
				 (int)pid, *ctrls ? ctrls : "cgroup2", where, want);
		free(want);
		checked++;
	}
	fclose(f);
	cr_assert_gt(checked, 0, "no hierarchy of Strata's in %s", path);
}

Test(perf, init_joins_every_cgroup_itself)
{
	_cleanup_cgroup_join_ struct ksal_cgroup_join join = { .clone_fd = -EBADF };
	char *argv[] = { "sleep", "1000", NULL };
	struct ksal_spawn_cfg cfg;
	struct ksal_spawned sp = { 0 };
	struct st_error *err = NULL;

	make_cgroup();
	cr_assert_eq(ksal_cgroup_join_prepare(g_mgr, g_cg, &join, &err), 0, "%s",
		     err ? err->msg : "");
	cr_assert(join.clone_fd >= 0 || join.n_tasks_fds > 0, "nothing to join");
	default_cfg(&cfg, argv);
	cfg.cgroup_fd = join.clone_fd;
	cfg.cgroup_self_fds = join.tasks_fds;
	cfg.n_cgroup_self_fds = join.n_tasks_fds;
	cr_assert_eq(ksal_spawn(&cfg, &sp, &err), 0, "%s", err ? err->msg : "");
	track_pidfd(sp.pidfd);
	assert_in_every_hierarchy(sp.pid);
	/* and the manager sees it there (what stop's kill-all relies on) */
	{
		pid_t *pids = NULL;
		size_t n = 0;
		bool found = false;

		cr_assert_eq(ksal_cgroup_pids(g_cg, &pids, &n, &err), 0, "%s", err ? err->msg : "");
		for (size_t i = 0; i < n; i++)
			found |= pids[i] == sp.pid;
		free(pids);
		cr_expect(found, "init %d not among the cgroup's tasks", (int)sp.pid);
	}
}

Test(perf, failed_self_join_names_the_file_and_leaves_no_process)
{
	char *argv[] = { "sleep", "1000", NULL };
	_cleanup_close_ int ro = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct ksal_spawn_cfg cfg;
	struct ksal_spawned sp = { .pid = -1, .pidfd = -1 };
	struct st_error *err = NULL;
	int fds[1];

	cr_assert(ro >= 0);
	fds[0] = ro; /* not writable: the child's write of "0" fails */
	default_cfg(&cfg, argv);
	cfg.cgroup_self_fds = fds;
	cfg.n_cgroup_self_fds = 1;
	cr_assert_lt(ksal_spawn(&cfg, &sp, &err), 0, "spawn with an unwritable tasks fd worked");
	cr_assert(err && strstr(err->msg, "join cgroup: write 0 to `/dev/null`"), "message: %s",
		  err ? err->msg : "(none)");
	cr_expect_eq(sp.pid, -1, "a pid was handed out");
	/* no child of ours is left, running or zombie */
	cr_expect_eq(waitpid(-1, NULL, WNOHANG), -1, "a child is left behind");
	st_error_freep(&err);
}

/* A private area (upper, work) and a target under g_tmp. */
static void private_area(int i, char *priv, size_t len)
{
	char p[PATH_MAX];

	snprintf(priv, len, "%s/private-%d", g_tmp, i);
	cr_assert_eq(mkdir(priv, 0700), 0, "mkdir %s: %m", priv);
	snprintf(p, sizeof(p), "%s/upper", priv);
	cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s: %m", p);
	snprintf(p, sizeof(p), "%s/work", priv);
	cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s: %m", p);
	snprintf(g_roots[i], sizeof(g_roots[i]), "%s/root-%d", g_tmp, i);
}

static void compose(int i, const char *priv, uint32_t base)
{
	char lower[PATH_MAX];
	const char *lowers[] = { lower, NULL };
	struct cowfs_compose c = { .lowers = lowers,
				   .private_dir = priv,
				   .target = g_roots[i],
				   .idmap_base = base,
				   .idmap_count = 65536 };
	struct st_error *err = NULL;

	snprintf(lower, sizeof(lower), "%s/lower", g_tmp);
	cr_assert_eq(cowfs_root_compose(&c, &err), 0, "compose %s with %u: %s", g_roots[i], base,
		     err ? err->msg : "");
}

static void assert_owner(int i, uid_t want)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s/bin/busybox", g_roots[i]);
	cr_assert_eq(stat(p, &st), 0, "stat %s: %m", p);
	cr_expect_eq(st.st_uid, want, "%s owned by %u, not %u", p, st.st_uid, want);
	cr_expect_eq(st.st_gid, want, "%s group %u, not %u", p, st.st_gid, want);
}

Test(perf, compose_caches_keep_each_range_its_own_owners)
{
	char priv[3][PATH_MAX], tmpl[] = "/tmp/stperf-test-XXXXXX";
	const uint32_t base[3] = { 300000, 400000, 300000 };
	struct st_error *err = NULL;

	cr_assert(mkdtemp(tmpl), "mkdtemp: %m");
	g_tmp = strdup(tmpl);
	/* a template tree owned by root, as a template image's is */
	{
		char p[PATH_MAX];
		int fd;

		snprintf(p, sizeof(p), "%s/lower", g_tmp);
		cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s: %m", p);
		snprintf(p, sizeof(p), "%s/lower/bin", g_tmp);
		cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s: %m", p);
		snprintf(p, sizeof(p), "%s/lower/bin/busybox", g_tmp);
		fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
		cr_assert(fd >= 0, "create %s: %m", p);
		close(fd);
	}
	for (int i = 0; i < 3; i++) {
		private_area(i, priv[i], sizeof(priv[i]));
		compose(i, priv[i], base[i]); /* the third reuses the first's userns */
	}
	for (int i = 0; i < 3; i++)
		assert_owner(i, base[i]);
	/* stop/start cycles: unmount releases the held clones, compose again */
	for (int round = 0; round < 3; round++) {
		cr_assert_eq(cowfs_root_decompose(g_roots[0], &err), 0, "%s", err ? err->msg : "");
		cr_assert(!cowfs_root_is_mounted(g_roots[0]));
		compose(0, priv[0], base[0]);
		assert_owner(0, base[0]);
	}
	/* the others were untouched by the cycles */
	assert_owner(1, base[1]);
	assert_owner(2, base[2]);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(cowfs_root_decompose(g_roots[i], &err), 0, "%s", err ? err->msg : "");
		g_roots[i][0] = '\0';
	}
}
