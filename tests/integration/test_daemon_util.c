/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the stratad suites share: test_daemon_util.h. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ksal/cleanup.h"
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

void write_or_fail(const char *path, const char *s)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0, "open `%s`: %s", path, strerror(errno));
	cr_assert_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s), "write `%s`: %s", path,
		     strerror(errno));
}

pid_t thaw_later(const char *freezer_state, unsigned seconds)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

		for (int i = 0; i < 3; i++)
			dup2(fd, i);
		close_range(3, ~0U, 0);
		sleep(seconds);
		fd = open(freezer_state, O_WRONLY | O_CLOEXEC);
		if (fd >= 0)
			(void)!write(fd, "THAWED", 6);
		_exit(0);
	}
	return pid;
}
