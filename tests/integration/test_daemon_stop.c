/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The stop path of stratad (issue 4) against the real kernel: what `stop`
 * guarantees now that it no longer freezes the container's cgroup right
 * after SIGKILLing the init. ct_on_stop_timeout() (runtime/lifecycle.c)
 * kills the init, whose death ends the pid namespace, and thaws the cgroup
 * in case it was frozen; once the init is reaped ct_cleanup_after_exit()
 * (runtime/ct.c) sweeps the cgroup with ksal_cgroup_kill_all(), which
 * returns at once on an empty cgroup (ksal/cgroup.c), and removes it.
 *
 *  - a container frozen through the v1 freezer still stops, with --fast and
 *    after its STOP_TIMEOUT (guards the thaw in ct_on_stop_timeout: a frozen
 *    task does not die of SIGKILL on the v1 freezer);
 *  - a host process that joined the container's cgroups from outside its pid
 *    namespace dies of SIGKILL and the cgroups go (guards the sweep in
 *    ct_cleanup_after_exit and the emptiness check in kill_all);
 *  - every process of a container with several goes, frozen or not (guards
 *    the SIGKILL of the init: the pid namespace takes the rest with it);
 *  - suite daemon_dirty: a stop does not wait for the host filesystem's
 *    dirty pages, which the overlay's unmount syncs (guards the detach in
 *    ct_root_let_go and runtime/closer.c), and the next start of the same
 *    container works; nor does a create (guards the fsyncs of
 *    runtime/ct_create.c).
 *
 * A private daemon per test (tests/helpers/daemonutil.h): /tmp/strstop-XXXXXX,
 * cgroup subtree strstop-<pid>, CTIDs 98xx. A frozen cgroup is thawed and a
 * host child killed and reaped in .fini, even when an assertion failed; a
 * forked safety thaw runs after 20 s in case the test is killed by its
 * timeout (no .fini then).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "tests/helpers/daemonutil.h"
#include "tests/helpers/testutil.h"
#include "tests/integration/test_daemon_util.h"

#define CGROOT "/sys/fs/cgroup"

static char frozen_state[512]; /* freezer.state to thaw in .fini, or "" */
static pid_t safety_thaw = -1; /* the forked thaw after 20 s */
static pid_t host_child = -1;  /* the host process put into a container's cgroups */
static char dirty_file[512];   /* the dirty data's file, removed in .fini */

static void stop_setup(void)
{
	du_setup(&(struct du_opts){ .prefix = "strstop", .netns = true, .mntns = true });
	du_daemon_start();
	du_make_template("tiny", NULL);
}

static void reap(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	*pid = -1;
}

static void thaw_now(void)
{
	int fd;

	if (!frozen_state[0])
		return;
	fd = open(frozen_state, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, "THAWED", 6);
		close(fd);
	}
	frozen_state[0] = '\0';
}

static void stop_fini(void)
{
	thaw_now(); /* a frozen task would not die of the teardown's SIGKILL */
	reap(&safety_thaw);
	reap(&host_child);
	if (dirty_file[0])
		unlink(dirty_file);
	du_teardown();
}

TestSuite(daemon_stop, .init = stop_setup, .fini = stop_fini, .timeout = 120);

/* CGROOT/<hier>/<subtree>/<ctid>[/<file>], malloc'd. */
static char *cg_path(const char *hier, const char *ctid, const char *file)
{
	char *p = NULL;

	cr_assert_geq(asprintf(&p, CGROOT "/%s/%s/%s%s%s", hier, du.subtree, ctid, file ? "/" : "",
			       file ? file : ""),
		      0);
	return p;
}

/* The first hierarchy under CGROOT (v1 ones and the cgroup2 one) that still
 * has the container's cgroup, malloc'd, or NULL. */
static char *cgroup_left(const char *ctid)
{
	_cleanup_closedir_ DIR *d = opendir(CGROOT);
	struct dirent *de;

	cr_assert_not_null(d, "opendir " CGROOT ": %s", strerror(errno));
	while ((de = readdir(d))) {
		_cleanup_free_ char *p = NULL;
		struct stat st;

		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		p = cg_path(de->d_name, ctid, NULL);
		if (stat(p, &st) == 0)
			return strdup(de->d_name);
	}
	return NULL;
}

static pid_t create_start(const char *ctid, json_t *extra)
{
	json_t *args = json_pack("{s:s}", "ostemplate", "tiny");
	char *msg = NULL;
	pid_t pid;

	if (extra)
		json_object_update(args, extra);
	json_decref(extra);
	cr_assert_eq(du_call("create", ctid, args, NULL, &msg), 0, "create %s: %s", ctid, msg);
	cr_assert_eq(du_call("start", ctid, NULL, NULL, &msg), 0, "start %s: %s", ctid, msg);
	cr_assert(du_running(ctid), "%s not running after its start", ctid);
	pid = du_ct_pid(ctid);
	cr_assert_gt(pid, 1, "init pid of %s", ctid);
	return pid;
}

/* Freeze the container's v1 freezer cgroup and wait until it is FROZEN. */
static void freeze(const char *ctid)
{
	_cleanup_free_ char *state = cg_path("freezer", ctid, "freezer.state");
	struct stat st;
	int n;

	if (stat(CGROOT "/freezer", &st) < 0)
		skip_test("no cgroup v1 freezer here");
	n = snprintf(frozen_state, sizeof(frozen_state), "%s", state);
	cr_assert(n > 0 && (size_t)n < sizeof(frozen_state));
	write_or_fail(state, "FROZEN");
	safety_thaw = thaw_later(state, 20);
	for (int i = 0; i < 500; i++) {
		_cleanup_free_ char *s = tu_read_file(state);

		if (s && !strcmp(s, "FROZEN\n"))
			return;
		usleep(10000);
	}
	cr_assert_fail("`%s` never read FROZEN", state);
}

/* The container's tasks (host pids) from its pids cgroup; their count. */
static size_t ct_tasks(const char *ctid, pid_t *pids, size_t max)
{
	_cleanup_free_ char *procs = cg_path("pids", ctid, "cgroup.procs");
	_cleanup_fclose_ FILE *f = fopen(procs, "re");
	size_t n = 0;
	int pid;

	cr_assert_not_null(f, "open `%s`: %s", procs, strerror(errno));
	while (n < max && fscanf(f, "%d", &pid) == 1)
		pids[n++] = pid;
	return n;
}

/* The process behind pidfd has exited (within 3 s). */
static bool pidfd_exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 3000) == 1 && (p.revents & POLLIN);
}

/* `stop` (fast or not) answers 0; how long it took, in seconds. */
static double timed_stop(const char *ctid, bool fast)
{
	char *msg = NULL;
	double t = now_s();

	cr_assert_eq(du_call("stop", ctid, json_pack("{s:b}", "fast", fast), NULL, &msg), 0,
		     "stop%s %s: %s", fast ? " --fast" : "", ctid, msg);
	t = now_s() - t;
	fprintf(stderr, "daemon_stop: stop%s %s: %.1f ms\n", fast ? " --fast" : "", ctid, t * 1000);
	return t;
}

/* Nothing of the stopped container is left: not running, init gone, no
 * cgroup in any hierarchy, root not mounted. */
static void assert_all_gone(const char *ctid, pid_t init)
{
	_cleanup_free_ char *root = du_path("/root/%s", ctid);
	_cleanup_free_ char *left = NULL;

	cr_assert_not(du_running(ctid), "%s still running after its stop", ctid);
	cr_assert(du_pid_gone(init), "init %d of %s alive after its stop", (int)init, ctid);
	left = cgroup_left(ctid);
	cr_assert_null(left, "cgroup of %s left in the %s hierarchy", ctid, left);
	cr_assert_not(cgroup_exists(ctid), "cgroup of %s left", ctid);
	cr_assert_not(du_mounted_under(root), "root of %s left mounted", ctid);
}

Test(daemon_stop, fast_stop_of_a_frozen_container)
{
	char *msg = NULL;
	pid_t init = create_start("9801", NULL);
	double took;

	freeze("9801");
	took = timed_stop("9801", true);
	cr_assert_lt(took, 5.0, "stop --fast of a frozen container took %.1f s", took);
	frozen_state[0] = '\0'; /* its cgroup is gone, whoever thawed it */
	assert_all_gone("9801", init);
	/* and it starts again, not frozen */
	cr_assert_eq(du_call("start", "9801", NULL, NULL, &msg), 0, "second start: %s", msg);
	init = du_ct_pid("9801");
	cr_assert_gt(init, 1);
	cr_assert_eq(
		du_exec_out("9801", (const char *const[]){ "/bin/testinit", "true", NULL }, NULL),
		0, "exec in the restarted 9801");
	cr_assert_eq(du_call("stop", "9801", json_pack("{s:b}", "fast", 1), NULL, &msg), 0,
		     "second stop --fast: %s", msg);
	assert_all_gone("9801", init);
}

Test(daemon_stop, stop_of_a_frozen_container_kills_after_its_timeout)
{
	pid_t init = create_start("9802", json_pack("{s:{s:s}}", "options", "stop_timeout", "1"));
	double took;

	freeze("9802");
	/* the halt signal waits in the frozen init: the timeout kills it */
	took = timed_stop("9802", false);
	cr_assert_lt(took, 6.0, "stop of a frozen container, STOP_TIMEOUT=1, took %.1f s", took);
	cr_assert_gt(took, 0.5, "stop of a frozen init returned before its timeout (%.2f s)", took);
	frozen_state[0] = '\0';
	assert_all_gone("9802", init);
}

/* Move pid into ctid's cgroup in every hierarchy that has one, the cgroup2
 * one included; how many. */
/* Put pid into ctid's cgroup in every hierarchy, or in `only` alone. */
static int join_cgroups(const char *ctid, pid_t pid, const char *only, bool *in_freezer)
{
	_cleanup_closedir_ DIR *d = opendir(CGROOT);
	struct dirent *de;
	char pid_s[16];
	int joined = 0;

	cr_assert_not_null(d, "opendir " CGROOT ": %s", strerror(errno));
	snprintf(pid_s, sizeof(pid_s), "%d", (int)pid);
	while ((de = readdir(d))) {
		_cleanup_free_ char *procs = NULL;

		if (de->d_name[0] == '.' || de->d_type != DT_DIR ||
		    (only && strcmp(de->d_name, only) != 0))
			continue;
		procs = cg_path(de->d_name, ctid, "cgroup.procs");
		if (access(procs, F_OK) < 0)
			continue;
		write_or_fail(procs, pid_s);
		joined++;
		if (!strcmp(de->d_name, "freezer"))
			*in_freezer = true;
	}
	return joined;
}

/* A host process, forked here, joins ctid's cgroups from outside its pid
 * namespace (in every hierarchy, or in `only`): the stop kills it. */
static void host_process_dies_at_stop(const char *ctid, const char *only)
{
	pid_t init = create_start(ctid, NULL), w = 0;
	int joined, st = 0;
	bool in_freezer = false;

	host_child = fork();
	cr_assert_geq(host_child, 0);
	if (host_child == 0) {
		/* dies with the test process whatever happens to it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(100);
		for (;;)
			pause();
	}
	/* from outside the container's pid namespace */
	joined = join_cgroups(ctid, host_child, only, &in_freezer);
	cr_assert_gt(joined, 0, "no cgroup of %s to join under " CGROOT, ctid);
	cr_assert(only || in_freezer || access(CGROOT "/freezer", F_OK) < 0,
		  "%s has no freezer cgroup to join", ctid);
	fprintf(stderr, "daemon_stop: host child %d joined %s's cgroup in %d hierarchies\n",
		(int)host_child, ctid, joined);

	timed_stop(ctid, true);
	for (int i = 0; i < 500 && w == 0; i++) {
		w = waitpid(host_child, &st, WNOHANG);
		if (w == 0)
			usleep(10000);
	}
	cr_assert_eq(w, host_child, "the host process in %s's cgroups survived its stop", ctid);
	host_child = -1;
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "the host process in %s's cgroups ended with status %#x, not SIGKILL", ctid, st);
	assert_all_gone(ctid, init);
}

Test(daemon_stop, host_process_in_its_cgroups_is_killed)
{
	host_process_dies_at_stop("9803", NULL);
}

/* The sweep reads one hierarchy; a task in another one alone (host root
 * can do that) is found when that cgroup will not go, and killed there. */
Test(daemon_stop, host_process_in_its_memory_cgroup_alone_is_killed)
{
	if (access(CGROOT "/memory", F_OK) < 0)
		skip_test("no cgroup v1 memory hierarchy here");
	host_process_dies_at_stop("9806", "memory");
}

/* Two background sleeps next to the init: their host pids and pidfds. */
static size_t start_with_sleepers(const char *ctid, pid_t *pids, int *pidfds, size_t max)
{
	size_t n;

	if (!tu_have_busybox())
		skip_test("no static busybox for a shell in the container");
	create_start(ctid, NULL);
	cr_assert_eq(du_sh(ctid,
			   "sleep 1000 </dev/null >/dev/null 2>&1 & "
			   "sleep 1000 </dev/null >/dev/null 2>&1 &",
			   NULL),
		     0);
	n = ct_tasks(ctid, pids, max);
	cr_assert_geq(n, 3, "%s has %zu tasks, not the init and two sleeps", ctid, n);
	for (size_t i = 0; i < n; i++) {
		pidfds[i] = pidfd_open(pids[i], 0);
		cr_assert_geq(pidfds[i], 0, "pidfd_open %d of %s: %s", (int)pids[i], ctid,
			      strerror(errno));
	}
	return n;
}

static void assert_tasks_gone(const char *ctid, const pid_t *pids, int *pidfds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cr_assert(pidfd_exited(pidfds[i]), "task %d of %s alive after its stop",
			  (int)pids[i], ctid);
		close(pidfds[i]);
		pidfds[i] = -EBADF;
	}
}

Test(daemon_stop, fast_stop_leaves_no_process_of_the_container)
{
	const char *const args[] = { "stop", "9804", "--fast", NULL };
	_cleanup_free_ char *out = NULL;
	pid_t pids[16];
	int pidfds[16];
	size_t n = start_with_sleepers("9804", pids, pidfds, 16);
	pid_t init = du_ct_pid("9804");

	/* through the command line, as a user types it */
	cr_assert_eq(du_cli(args, &out), 0, "strata stop 9804 --fast: %s", out);
	assert_tasks_gone("9804", pids, pidfds, n);
	assert_all_gone("9804", init);
}

Test(daemon_stop, fast_stop_of_a_frozen_container_with_several_processes)
{
	pid_t pids[16];
	int pidfds[16];
	size_t n = start_with_sleepers("9805", pids, pidfds, 16);
	pid_t init = du_ct_pid("9805");
	double took;

	freeze("9805");
	took = timed_stop("9805", true);
	cr_assert_lt(took, 5.0, "stop --fast of a frozen container took %.1f s", took);
	frozen_state[0] = '\0';
	assert_tasks_gone("9805", pids, pidfds, n);
	assert_all_gone("9805", init);
}

/* /proc/meminfo's Dirty, kB. */
static long dirty_kb(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	long kb = -1;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Dirty: %ld kB", &kb) == 1)
			break;
	return kb;
}

/* PRIVATE_DIR on an ext4 of its own (a loop device; detached with the rest
 * by du_teardown): the other tests' daemons, running at the same time,
 * sync their private areas at every create, and would write this test's
 * dirty pages out before its stop. */
static void dirty_setup(void)
{
	_cleanup_free_ char *img = NULL, *priv = NULL, *cmd = NULL;

	du_setup(&(struct du_opts){ .prefix = "strstop", .netns = true, .mntns = true });
	img = du_path("/private.img");
	priv = du_path("/private");
	cr_assert(mkdir(priv, 0700) == 0 || errno == EEXIST, "mkdir `%s`", priv);
	cr_assert_geq(asprintf(&cmd,
			       "truncate -s 2G %1$s && mkfs.ext4 -q -F %1$s && "
			       "mount -o loop %1$s %2$s",
			       img, priv),
		      0);
	if (system(cmd) != 0) {
		du_teardown();
		cr_skip_test("no loop-mounted ext4 here (`%s` failed)", cmd);
	}
	du_daemon_start();
	du_make_template("tiny", NULL);
}

TestSuite(daemon_dirty, .init = dirty_setup, .fini = stop_fini, .timeout = 120);

/* 768 MB of dirty page cache on the private areas' filesystem; its size
 * in kB (/proc/meminfo's Dirty). Skips where writeback is too eager. */
static long make_dirty(void)
{
	static char buf[1 << 20];
	long kb;
	int fd;

	snprintf(dirty_file, sizeof(dirty_file), "%s/private/dirty.bin", du.tmp);
	fd = open(dirty_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0, "create `%s`: %s", dirty_file, strerror(errno));
	memset(buf, 0x5a, sizeof(buf));
	for (int i = 0; i < 768; i++)
		cr_assert_eq(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf), "write: %s",
			     strerror(errno));
	close(fd);
	kb = dirty_kb();
	if (kb < 512 * 1024) {
		unlink(dirty_file);
		dirty_file[0] = '\0';
		du_teardown(); /* a skip does not run .fini */
		cr_skip_test("only %ld kB dirty after writing 768 MB: writeback is too eager here",
			     kb);
	}
	return kb;
}

/* The overlay's unmount syncs its upper filesystem, the host's with a
 * plain private area, with everyone's dirty pages (0.6 s for 1.5 GB on this
 * VM, the daemon's loop stalled meanwhile): the stop detaches the root and
 * leaves that to a thread of its own. So the dirty data is still dirty when
 * the stop answers; and the next start of the same container waits for the
 * old overlay, then runs. */
Test(daemon_dirty, stop_leaves_the_dirty_data_to_writeback)
{
	pid_t init = create_start("9881", NULL);
	char *msg = NULL;
	long before = make_dirty(), after;

	timed_stop("9881", true);
	after = dirty_kb();
	cr_assert_geq(after, before / 2,
		      "the stop waited for a sync of the private area's filesystem (Dirty %ld -> "
		      "%ld kB)",
		      before, after);
	assert_all_gone("9881", init);
	unlink(dirty_file);
	dirty_file[0] = '\0';

	cr_assert_eq(du_call("start", "9881", NULL, NULL, &msg), 0, "start again: %s", msg);
	cr_assert(du_running("9881"));
	init = du_ct_pid("9881");
	timed_stop("9881", true);
	assert_all_gone("9881", init);
}

/* A create is made durable with fsyncs of what it made, not a syncfs of
 * the filesystem under the private areas (everyone's dirty pages first:
 * 0.7 s for 1.5 GB, on the loop); the container it made starts. */
Test(daemon_dirty, create_leaves_the_dirty_data_to_writeback)
{
	char *msg = NULL;
	long before = make_dirty(), after;
	pid_t init;

	cr_assert_eq(
		du_call("create", "9882", json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg), 0,
		"create: %s", msg);
	after = dirty_kb();
	cr_assert_geq(after, before / 2,
		      "the create synced the private area's filesystem (Dirty %ld -> %ld kB)",
		      before, after);
	unlink(dirty_file);
	dirty_file[0] = '\0';
	cr_assert_eq(du_call("start", "9882", NULL, NULL, &msg), 0, "start: %s", msg);
	init = du_ct_pid("9882");
	timed_stop("9882", true);
	assert_all_gone("9882", init);
}
