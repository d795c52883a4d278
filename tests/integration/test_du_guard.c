/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The harness itself (tests/helpers/daemonutil): a test process that dies
 * without its teardown leaves nothing behind. A binary of its own: the
 * killed child's passing asserts reach Criterion's runner, which then
 * leaks a message (LeakSanitizer) when other suites run in the same binary.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "tests/helpers/daemonutil.h"
#include "tests/helpers/testutil.h"

/* The harness cleans up for a test that dies (a Criterion timeout kills
 * it and .fini never runs): a test process with a daemon and a running
 * container is killed; its guard stops and kills what it had, unmounts,
 * removes the cgroups and the temp dir. */
TestSuite(du_guard, .timeout = 60);

Test(du_guard, a_test_that_dies_leaves_nothing_behind)
{
	int pfd[2];
	char info[1024] = "";
	char tmp[512] = "", subtree[64] = "";
	int dpid = 0, ipid = 0, status;
	pid_t child;
	bool clean = false;

	if (!tu_is_root())
		cr_skip_test("needs root");
	cr_assert_eq(pipe(pfd), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		char *msg = NULL;

		close(pfd[0]);
		du_setup(&(struct du_opts){ .prefix = "stguard" });
		du_daemon_start();
		du_make_template("gtiny", NULL);
		if (du_call("create", "9601", json_pack("{s:s}", "ostemplate", "gtiny"), NULL,
			    &msg) != 0 ||
		    du_call("start", "9601", NULL, NULL, &msg) != 0)
			_exit(2);
		dprintf(pfd[1], "%s %s %d %d\n", du.tmp, du.subtree, (int)du.pid,
			(int)du_ct_pid("9601"));
		close(pfd[1]);
		raise(SIGKILL); /* no teardown */
		_exit(3);
	}
	close(pfd[1]);
	ssize_t n = read(pfd[0], info, sizeof(info) - 1);
	close(pfd[0]);
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert_gt(n, 0, "the child set nothing up (status %d)", status);
	cr_assert_eq(sscanf(info, "%511s %63s %d %d", tmp, subtree, &dpid, &ipid), 4, "%s", info);
	cr_assert(dpid > 1 && ipid > 1, "%s", info);
	for (int i = 0; i < 150 && !clean; i++) {
		_cleanup_free_ char *mi = tu_read_file("/proc/self/mountinfo");
		char cg[256];

		snprintf(cg, sizeof(cg), "/sys/fs/cgroup/pids/%s", subtree);
		clean = kill(dpid, 0) < 0 && kill(ipid, 0) < 0 && access(tmp, F_OK) < 0 &&
			access(cg, F_OK) < 0 && mi && !strstr(mi, tmp);
		if (!clean)
			usleep(100000);
	}
	cr_assert(clean, "left behind by a killed test: daemon %s, init %s, %s %s",
		  kill(dpid, 0) == 0 ? "alive" : "gone", kill(ipid, 0) == 0 ? "alive" : "gone", tmp,
		  access(tmp, F_OK) == 0 ? "still there" : "gone");
}
