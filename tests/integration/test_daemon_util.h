/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the three stratad suites share (test_daemon.c: lifecycle verbs,
 * test_daemon_restart.c: the daemon process, kill -9 and re-adoption,
 * test_daemon_config.c: configs, settings and bad requests): one setup over
 * the harness tests/helpers/daemonutil.h and a few looks at the host.
 */
#ifndef STRATA_TEST_DAEMON_UTIL_H
#define STRATA_TEST_DAEMON_UTIL_H

#include <stdbool.h>
#include <sys/types.h>

#include "tests/helpers/daemonutil.h"

/* A private daemon per test with its own strata.conf, directories and
 * socket under /tmp/strt-XXXXXX and cgroup subtree strt-test-<pid>, in
 * network and mount namespaces of the test's own; the template "tiny" made
 * of the static test init. For TestSuite(daemon, .init = daemon_setup,
 * .fini = du_teardown). */
void daemon_setup(void);

/* skip_test() in a test body skips .fini too: undo the setup first. */
#define skip_test(why)                                                                             \
	do {                                                                                       \
		du_teardown();                                                                     \
		cr_skip_test(why);                                                                 \
	} while (0)

/* The container's cgroup is there (in the pids hierarchy). */
bool cgroup_exists(const char *ctid);

/* A network device of this name in the test's network namespace. */
bool link_exists(const char *name);

/* CLOCK_MONOTONIC in seconds. */
double now_s(void);

/* Write s to path (a cgroup file); the test fails if it cannot. */
void write_or_fail(const char *path, const char *s);

/* A process that writes THAWED to freezer_state after `seconds`, whatever
 * happens to the test: a frozen task dies of nothing, and a test killed by
 * its timeout runs no .fini. Its pid (the caller reaps it). */
pid_t thaw_later(const char *freezer_state, unsigned seconds);

#endif
