/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the stratad suites share: test_daemon_util.h. */
#include <criterion/criterion.h>
#include <net/if.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "tests/integration/test_daemon_util.h"

void daemon_setup(void)
{
	/* The test plays the host in network and mount namespaces of its own:
	 * the veths, routes and sysctls of routed and bridged containers never
	 * touch the real host's, and whatever the daemon mounts goes away with
	 * the test process. du.sysfs: a sysfs of this network namespace, to
	 * look at the host side. */
	du_setup(&(struct du_opts){ .prefix = "strt",
				    .cgroup_prefix = "strt-test",
				    .netns = true,
				    .mntns = true,
				    .sysfs = true });
	du_daemon_start();
	du_make_template("tiny", NULL);
}

bool cgroup_exists(const char *ctid)
{
	char p[256];
	struct stat st;
	int n;

	n = snprintf(p, sizeof(p), "/sys/fs/cgroup/pids/%s/%s", du.subtree, ctid);
	cr_assert(n > 0 && (size_t)n < sizeof(p), "cgroup path of %s too long", ctid);
	return stat(p, &st) == 0;
}

bool link_exists(const char *name)
{
	return if_nametoindex(name) != 0;
}

double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
