/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The private-daemon harness itself (tests/helpers/daemonutil.h), root only:
 * du_teardown() must leave nothing behind, with the daemon's help or after
 * it was killed with its containers still running, and the isolation
 * options must give the test namespaces of its own. Objects: /tmp/stdu-XXXXXX,
 * cgroup subtree stdu-<pid>, CTIDs 9040-9049.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "tests/helpers/daemonutil.h"
#include "tests/helpers/testutil.h"

static void setup(void)
{
	du_setup(&(struct du_opts){ .prefix = "stdu" });
	du_daemon_start();
	du_make_template("tiny", NULL);
}

TestSuite(daemonutil, .fini = du_teardown, .timeout = 120);

/* What a teardown must have removed: the init, the temp dir, every mount
 * under it, the cgroup subtree in every hierarchy. */
struct leftovers {
	char *tmp;
	char subtree[64];
	pid_t init;
};

static void remember(struct leftovers *l, const char *ctid)
{
	l->tmp = strdup(du.tmp);
	cr_assert_not_null(l->tmp);
	snprintf(l->subtree, sizeof(l->subtree), "%s", du.subtree);
	l->init = du_ct_pid(ctid);
	cr_assert_gt(l->init, 1, "no init for %s", ctid);
}

static void assert_nothing_left(struct leftovers *l)
{
	_cleanup_closedir_ DIR *d = opendir("/sys/fs/cgroup");
	struct dirent *e;
	struct stat st;

	cr_assert(du_pid_gone(l->init), "init %d still alive", (int)l->init);
	cr_assert_not(du_mounted_under(l->tmp), "a mount is left under %s", l->tmp);
	cr_assert(stat(l->tmp, &st) < 0 && errno == ENOENT, "%s is left", l->tmp);
	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		_cleanup_free_ char *p = NULL;

		if (e->d_name[0] == '.')
			continue;
		cr_assert_geq(asprintf(&p, "/sys/fs/cgroup/%s/%s", e->d_name, l->subtree), 0);
		cr_assert(stat(p, &st) < 0, "cgroup %s is left", p);
	}
	cr_assert_null(du.tmp, "du.tmp not reset");
	cr_assert_eq(du.pid, -1, "du.pid not reset");
	free(l->tmp);
}

static void start_one(const char *ctid)
{
	char *msg = NULL;

	cr_assert_eq(du_call("create", ctid, json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg),
		     0, "create %s: %s", ctid, msg);
	cr_assert_eq(du_call("start", ctid, NULL, NULL, &msg), 0, "start %s: %s", ctid, msg);
	cr_assert(du_running(ctid));
}

Test(daemonutil, teardown_with_the_daemon_leaves_nothing)
{
	struct leftovers l = { 0 };
	_cleanup_free_ char *out = NULL;
	const char *hn[] = { "/bin/testinit", "hostname", NULL };

	setup();
	start_one("9041");
	/* the helpers work against it */
	cr_assert_eq(du_exec_out("9041", hn, &out), 0);
	cr_assert_neq(out[0], '\0', "no hostname printed");
	cr_assert_eq(du_call("start", "9041", NULL, NULL, NULL), 32, "second start: %s",
		     du.last_msg);
	cr_assert_neq(du.last_msg[0], '\0', "no error message kept");
	remember(&l, "9041");
	du_teardown();
	assert_nothing_left(&l);
}

Test(daemonutil, teardown_after_kill9_leaves_nothing)
{
	struct leftovers l = { 0 };

	setup();
	start_one("9042");
	remember(&l, "9042");
	du_daemon_kill9();
	/* the container outlives its daemon: teardown must do it alone */
	cr_assert_not(du_pid_gone(l.init), "the init died with the daemon");
	du_teardown();
	assert_nothing_left(&l);
}

Test(daemonutil, isolated_namespaces_and_own_sysfs)
{
	_cleanup_free_ char *host_net = NULL, *mounts = NULL;
	char net[64] = "", self[64] = "";
	ssize_t n;

	n = readlink("/proc/self/ns/net", net, sizeof(net) - 1);
	cr_assert_gt(n, 0);
	du_setup(
		&(struct du_opts){ .prefix = "stdu", .netns = true, .mntns = true, .sysfs = true });
	n = readlink("/proc/self/ns/net", self, sizeof(self) - 1);
	cr_assert_gt(n, 0);
	cr_assert_str_neq(self, net, "still in the network namespace it started in");
	cr_assert_not_null(du.sysfs);
	/* the namespace has nothing but lo, and the sysfs shows it */
	host_net = tu_read_file("/proc/net/dev");
	cr_assert_not_null(host_net);
	{
		_cleanup_free_ char *lo = NULL;
		struct stat st;
		int lines = 0;

		for (const char *c = host_net; *c; c++)
			lines += *c == '\n';
		cr_assert_eq(lines, 3, "devices besides lo here: %s", host_net);
		cr_assert_geq(asprintf(&lo, "%s/class/net/lo", du.sysfs), 0);
		cr_assert_eq(stat(lo, &st), 0, "no %s", lo);
	}
	du_daemon_start();
	cr_assert_eq(du_call("list", NULL, json_pack("{s:b}", "all", 1), NULL, NULL), 0, "list: %s",
		     du.last_msg);
	du_teardown();
	mounts = tu_read_file("/proc/self/mounts");
	cr_assert(mounts && !strstr(mounts, "/tmp/stdu-"), "a mount is left: %s", mounts);
}
