/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stratad against the real kernel (root), 1 of 3: the container lifecycle
 * verbs -- create, start, exec (with and without a tty), console, stop,
 * destroy, mount/umount, suspend/resume, reboot from inside, networking
 * and lxcfs, twenty clients at once, a full Debian with systemd. The other
 * two: test_daemon_restart.c (the daemon process: kill -9 and re-adoption,
 * SIGTERM, sd_notify, --daemon) and test_daemon_config.c (configs, settings
 * and bad requests). A private daemon per test with its own strata.conf,
 * directories and socket under /tmp/strt-XXXXXX and cgroup subtree
 * strt-test-<pid>; containers 9100-9199 from a tiny template made of the
 * static test init. Everything is removed in .fini, even when an assertion
 * failed. The harness is tests/helpers/daemonutil.h, the suites' shared
 * setup test_daemon_util.h.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/client.h"
#include "ksal/cleanup.h"
#include "tests/helpers/daemonutil.h"
#include "tests/helpers/testutil.h"
#include "tests/integration/test_daemon_util.h"

TestSuite(daemon, .init = daemon_setup, .fini = du_teardown, .timeout = 120);

Test(daemon, lifecycle_exec_and_clean_stop)
{
	_cleanup_free_ char *out = NULL, *root = NULL;
	char *msg = NULL;
	pid_t pid;

	cr_assert_eq(du_call("create", "9101",
			     json_pack("{s:s,s:s}", "ostemplate", "tiny", "hostname", "ct9101"),
			     NULL, &msg),
		     0, "create: %s", msg ? msg : "");
	cr_assert_eq(du_call("start", "9101", NULL, NULL, &msg), 0, "start: %s", msg ? msg : "");
	cr_assert(du_running("9101"));
	pid = du_ct_pid("9101");
	cr_assert_gt(pid, 1);

	/* the init is pid 1 of its own pid namespace; the host's are invisible */
	const char *ps[] = { "/bin/testinit", "pidns", NULL };
	cr_assert_eq(du_exec_out("9101", ps, &out), 0);
	cr_assert_gt(atoi(out), 1, "exec'd process has pid %s in the container", out);
	cr_assert_lt(atoi(out), 100, "exec'd process has a host-like pid %s", out);
	free(out);
	out = NULL;
	/* exit codes and the hostname, through the static test init */
	const char *ex[] = { "/bin/testinit", "exit", "42", NULL };
	cr_assert_eq(du_exec_out("9101", ex, NULL), 42);
	const char *hn[] = { "/bin/testinit", "hostname", NULL };
	cr_assert_eq(du_exec_out("9101", hn, &out), 0);
	cr_assert_str_eq(out, "ct9101\n");
	free(out);
	out = NULL;
	if (tu_have_busybox()) {
		const char *sh1[] = { "/bin/sh", "-c",
				      "cat /proc/1/comm; ls /proc | grep -c '^[0-9]'", NULL };
		cr_assert_eq(du_exec_out("9101", sh1, &out), 0);
		cr_assert(strncmp(out, "init\n", 5) == 0, "pid 1 is `%s`", out);
		cr_assert_lt(atoi(strchr(out, '\n') + 1), 10, "host processes visible: %s", out);
		const char *pipe_in[] = { "/bin/sh", "-c", "echo hello", NULL };
		free(out);
		out = NULL;
		cr_assert_eq(du_exec_out("9101", pipe_in, &out), 0);
		cr_assert_str_eq(out, "hello\n");
	}

	cr_assert_eq(du_call("stop", "9101", NULL, NULL, &msg), 0, "stop: %s", msg ? msg : "");
	cr_assert_not(du_running("9101"));
	cr_assert(du_pid_gone(pid), "init %d still alive", (int)pid);
	cr_assert_geq(asprintf(&root, "%s/root/9101", du.tmp), 0);
	cr_assert_not(du_mounted_under(root), "root still mounted");
	cr_assert_not(cgroup_exists("9101"), "cgroup left");

	cr_assert_eq(du_call("destroy", "9101", NULL, NULL, &msg), 0, "destroy: %s",
		     msg ? msg : "");
	_cleanup_free_ char *priv = NULL, *cfg = NULL;
	cr_assert_geq(asprintf(&priv, "%s/private/9101", du.tmp), 0);
	cr_assert_geq(asprintf(&cfg, "%s/ct/9101.conf", du.tmp), 0);
	cr_assert(access(priv, F_OK) < 0 && access(cfg, F_OK) < 0, "destroy left files");
	cr_assert_eq(du_call("status", "9101", NULL, NULL, NULL), 14);
}

Test(daemon, busy_container_waits_or_fails_locked)
{
	char *msg = NULL;

	if (!tu_have_busybox())
		skip_test("no static busybox for a stubborn init");
	du_make_template("stubborn", "#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 1; done\n");
	cr_assert_eq(du_call("create", "9109",
			     json_pack("{s:s,s:{s:s}}", "ostemplate", "stubborn", "options",
				       "stop_timeout", "2"),
			     NULL, &msg),
		     0, "%s", msg ? msg : "");
	cr_assert_eq(du_call("start", "9109", NULL, NULL, &msg), 0, "%s", msg ? msg : "");

	pid_t stopper = fork();
	cr_assert_geq(stopper, 0);
	if (stopper == 0)
		_exit(du_call("stop", "9109", NULL, NULL, NULL));
	usleep(300000); /* the stop is waiting for the init that ignores TERM */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(du_call("start", "9109", json_pack("{s:b}", "nowait", 1), NULL, NULL), 9,
		     "a busy container with nowait");
	/* other containers are served meanwhile */
	cr_assert_eq(du_call("status", "9109", NULL, NULL, NULL), 0);
	/* without nowait the start waits for the stop, then runs */
	cr_assert_eq(du_call("start", "9109", NULL, NULL, &msg), 0, "%s", msg ? msg : "");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_assert_gt(waited, 1.0, "start did not wait for the stop (%.2f s)", waited);
	int st;
	cr_assert_eq(waitpid(stopper, &st, 0), stopper);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "stop failed");
	cr_assert(du_running("9109"));
}

Test(daemon, reboot_inside_restarts_the_container)
{
	char *msg = NULL;
	pid_t pid, pid2 = -1;

	if (!tu_have_busybox())
		skip_test("no busybox reboot");
	cr_assert_eq(
		du_call("create", "9110", json_pack("{s:s}", "ostemplate", "tiny"), NULL, NULL), 0);
	cr_assert_eq(du_call("start", "9110", NULL, NULL, &msg), 0, "%s", msg ? msg : "");
	pid = du_ct_pid("9110");
	du_call("exec", "9110", json_pack("{s:[s,s]}", "argv", "/bin/reboot", "-f"), NULL, NULL);
	for (int i = 0; i < 200; i++) {
		pid2 = du_ct_pid("9110");
		if (pid2 > 0 && pid2 != pid)
			break;
		usleep(20000);
	}
	cr_assert(pid2 > 0 && pid2 != pid, "no new init after reboot (%d -> %d)", (int)pid,
		  (int)pid2);
	cr_assert(du_running("9110"));
}

Test(daemon, console_attach_echo_and_replay)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[8192];
	char *msg = NULL;
	int fd;
	size_t len = 0;
	ssize_t n;

	cr_assert_eq(
		du_call("create", "9112", json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg), 0,
		"%s", msg);
	cr_assert_eq(du_call("start", "9112", NULL, NULL, &msg), 0, "%s", msg);
	strncpy(sa.sun_path, du.sock, sizeof(sa.sun_path) - 1);
	for (int round = 0; round < 2; round++) {
		struct timeval tv = { .tv_sec = 5 };
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		const char *req = "{\"verb\":\"console\",\"ctid\":\"9112\"}\n";
		cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
		len = 0;
		memset(buf, 0, sizeof(buf));
		/* the ok line first */
		while (!memchr(buf, '\n', len) &&
		       (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
			len += (size_t)n;
		cr_assert(strstr(buf, "\"ok\":true"), "console reply: %s", buf);
		if (round == 0)
			cr_assert_eq(write(fd, "strata-echo\n", 12), 12);
		/* the pty echoes what was typed; the second attach gets it replayed */
		while (!strstr(buf, "strata-echo") &&
		       (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
			len += (size_t)n;
		cr_assert(strstr(buf, "strata-echo"), "round %d: no echo/replay: %s", round, buf);
		close(fd);
	}
	_cleanup_free_ char *logp = NULL, *log = NULL;
	cr_assert_geq(asprintf(&logp, "%s/run/ct/9112.console.log", du.tmp), 0);
	log = tu_read_file(logp);
	cr_assert(log && strstr(log, "strata-echo"), "console log: %s", log ? log : "(none)");
}

Test(daemon, exec_with_tty_and_template_in_use)
{
	char *msg = NULL;
	int master, slave;
	char name[64];

	cr_assert_eq(
		du_call("create", "9142", json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg), 0,
		"%s", msg);
	cr_assert_eq(du_call("start", "9142", NULL, NULL, &msg), 0, "%s", msg);
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert_geq(master, 0);
	cr_assert_eq(unlockpt(master), 0);
	cr_assert_eq(ptsname_r(master, name, sizeof(name)), 0);
	slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert_geq(slave, 0);
	/* the command's terminal is a new pty of the container, whose master
	 * comes in the "tty" event (stratad(8)): its output is read there */
	int ct_master = -1;
	{
		_cleanup_error_ struct st_error *err = NULL;
		_cleanup_client_ struct st_client *c = NULL;
		json_t *req = json_pack("{s:s,s:s,s:{s:[s,s],s:b}}", "verb", "exec", "ctid", "9142",
					"args", "argv", "/bin/testinit", "hostname", "tty", 1);
		json_t *res = NULL;
		int fds[3] = { slave, slave, slave }, r;

		cr_assert_eq(st_client_connect(du.sock, &c, &err), 0);
		cr_assert_eq(st_client_send(c, req, fds, 3, &err), 0);
		while ((r = st_client_read_some(c, NULL, NULL, &res, &err)) > 0)
			if (ct_master < 0)
				ct_master = st_client_take_fd(c);
		if (ct_master < 0)
			ct_master = st_client_take_fd(c);
		cr_assert_eq(r, 0, "%s", err ? err->msg : "");
		cr_assert_eq(json_integer_value(json_object_get(res, "exit_code")), 0);
		json_decref(req);
		json_decref(res);
	}
	cr_assert_geq(ct_master, 0, "no pty master came with the reply");
	char buf[256] = "";
	ssize_t n = read(ct_master, buf, sizeof(buf) - 1);
	cr_assert_gt(n, 0, "nothing on the container's tty");
	cr_assert_not_null(strstr(buf, "9142"), "%s", buf);
	close(ct_master);
	close(slave);
	close(master);

	/* the template cannot go while a container uses it */
	cr_assert_eq(
		du_call("template-remove", NULL, json_pack("{s:s}", "name", "tiny"), NULL, &msg), 9,
		"template-remove while in use: %s", msg);
	cr_assert(strstr(msg, "9142"), "the message names the user: %s", msg);
}

Test(daemon, mount_and_umount)
{
	_cleanup_free_ char *root = NULL, *file = NULL, *upper = NULL;
	json_t *res = NULL;
	char *msg = NULL;

	cr_assert_eq(
		du_call("create", "9115", json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg), 0,
		"%s", msg);
	cr_assert_eq(du_call("umount", "9115", NULL, NULL, NULL), 40, "umount of an unmounted one");
	cr_assert_eq(du_call("mount", "9115", NULL, NULL, &msg), 0, "%s", msg);
	cr_assert_eq(du_call("mount", "9115", NULL, NULL, NULL), 41, "mount twice");
	cr_assert_eq(du_call("status", "9115", NULL, &res, NULL), 0);
	cr_assert(json_is_true(json_object_get(res, "mounted")));
	cr_assert(json_is_false(json_object_get(res, "running")));
	json_decref(res);
	cr_assert_geq(asprintf(&root, "%s/root/9115", du.tmp), 0);
	cr_assert_geq(asprintf(&file, "%s/etc/os-release", root), 0);
	cr_assert_eq(access(file, R_OK), 0, "template content not visible in the root");
	free(file);
	cr_assert_geq(asprintf(&file, "%s/written-by-test", root), 0);
	cr_assert_eq(tu_write_file(file, "x"), 0);
	cr_assert_geq(asprintf(&upper, "%s/private/9115/upper/written-by-test", du.tmp), 0);
	cr_assert_eq(access(upper, F_OK), 0, "a write did not land in the private area");
	cr_assert_eq(du_call("umount", "9115", NULL, NULL, &msg), 0, "%s", msg);
	cr_assert_not(du_mounted_under(root));
	cr_assert_eq(du_call("destroy", "9115", NULL, NULL, &msg), 0, "%s", msg);
}

Test(daemon, suspend_resume_or_keep_running)
{
	_cleanup_free_ char *out = NULL;
	char *msg = NULL;
	json_t *res = NULL;
	int r;

	cr_assert_eq(
		du_call("create", "9117", json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg), 0,
		"%s", msg);
	cr_assert_eq(du_call("resume", "9117", NULL, NULL, NULL), 17,
		     "resume without a checkpoint");
	cr_assert_eq(du_call("suspend", "9117", NULL, NULL, NULL), 31, "suspend a stopped one");
	cr_assert_eq(du_call("start", "9117", NULL, NULL, &msg), 0, "%s", msg);
	r = du_call("suspend", "9117", NULL, NULL, &msg);
	const char *hn[] = { "/bin/testinit", "hostname", NULL };
	char why[sizeof(du.last_msg)];
	snprintf(why, sizeof(why), "%s", msg);
	if (r != 0) {
		/* a failed checkpoint leaves the container running as it was */
		cr_assert_eq(r, 16, "suspend failed with %d: %s", r, why);
		cr_assert(du_running("9117"), "a failed suspend stopped the container");
		cr_assert_eq(du_exec_out("9117", hn, NULL), 0);
		fprintf(stderr, "daemon: suspend refused (container kept running): %s\n", why);
		return;
	}
	cr_assert_eq(du_call("status", "9117", NULL, &res, NULL), 0);
	cr_assert(json_is_true(json_object_get(res, "suspended")));
	cr_assert(json_is_false(json_object_get(res, "running")));
	json_decref(res);
	cr_assert_eq(du_call("start", "9117", NULL, NULL, NULL), 17, "start of a suspended one");
	cr_assert_eq(du_call("resume", "9117", NULL, NULL, &msg), 0, "%s", msg);
	cr_assert(du_running("9117"));
	cr_assert_eq(du_exec_out("9117", hn, &out), 0);
}

Test(daemon, twenty_clients_at_once_leave_consistent_state)
{
	enum { N = 20 };
	pid_t kids[N];
	double t0 = now_s();

	for (int i = 0; i < N; i++) {
		kids[i] = fork();
		cr_assert_geq(kids[i], 0);
		if (kids[i] == 0) {
			char id[16];
			snprintf(id, sizeof(id), "%d", 9120 + i);
			if (du_call("create", id, json_pack("{s:s}", "ostemplate", "tiny"), NULL,
				    NULL))
				_exit(1);
			if (du_call("start", id, NULL, NULL, NULL))
				_exit(2);
			if (du_call("exec", id,
				    json_pack("{s:[s,s]}", "argv", "/bin/testinit", "true"), NULL,
				    NULL))
				_exit(3);
			/* two requests on one container from two clients */
			if (du_call("stop", id, NULL, NULL, NULL))
				_exit(4);
			if (du_call("destroy", id, NULL, NULL, NULL))
				_exit(5);
			_exit(0);
		}
	}
	for (int i = 0; i < N; i++) {
		int st;
		cr_assert_eq(waitpid(kids[i], &st, 0), kids[i]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "client %d failed at step %d", i,
			  WEXITSTATUS(st));
	}
	fprintf(stderr,
		"daemon: %d full lifecycles (create, start, exec, stop, destroy) "
		"in parallel: %.0f ms\n",
		N, (now_s() - t0) * 1000);
	json_t *res = NULL;
	cr_assert_eq(du_call("list", NULL, json_pack("{s:b}", "all", 1), &res, NULL), 0);
	cr_assert_eq(json_array_size(json_object_get(res, "containers")), 0, "containers left");
	json_decref(res);
	_cleanup_free_ char *root = NULL;
	cr_assert_geq(asprintf(&root, "%s/root/", du.tmp), 0);
	cr_assert_not(du_mounted_under(root), "roots left mounted");
	for (int i = 0; i < N; i++) {
		char id[16];
		snprintf(id, sizeof(id), "%d", 9120 + i);
		cr_assert_not(cgroup_exists(id), "cgroup %s left", id);
	}
}

Test(daemon, start_and_exec_latency)
{
	enum { ROUNDS = 10 };
	double start_ms = 0, exec_ms = 0, stop_ms = 0;
	char *msg = NULL;

	cr_assert_eq(
		du_call("create", "9140", json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg), 0,
		"%s", msg);
	for (int i = 0; i < ROUNDS; i++) {
		double t = now_s();
		cr_assert_eq(du_call("start", "9140", NULL, NULL, &msg), 0, "%s", msg);
		start_ms += (now_s() - t) * 1000;
		t = now_s();
		cr_assert_eq(du_call("exec", "9140",
				     json_pack("{s:[s,s]}", "argv", "/bin/testinit", "true"), NULL,
				     &msg),
			     0, "%s", msg);
		exec_ms += (now_s() - t) * 1000;
		t = now_s();
		cr_assert_eq(du_call("stop", "9140", NULL, NULL, &msg), 0, "%s", msg);
		stop_ms += (now_s() - t) * 1000;
	}
	fprintf(stderr, "daemon: mean of %d: start %.1f ms, exec %.1f ms, stop %.1f ms\n", ROUNDS,
		start_ms / ROUNDS, exec_ms / ROUNDS, stop_ms / ROUNDS);
	cr_assert_lt(start_ms / ROUNDS, 2000, "start takes %.0f ms", start_ms / ROUNDS);
}

Test(daemon, routed_network_up_and_gone_after_stop)
{
	_cleanup_free_ char *out = NULL;
	char *msg = NULL;

	if (!tu_have_busybox())
		skip_test("no busybox to look inside");
	cr_assert_eq(du_call("create", "9111",
			     json_pack("{s:s,s:[s]}", "ostemplate", "tiny", "ipadd", "10.91.0.11"),
			     NULL, &msg),
		     0, "%s", msg);
	cr_assert_eq(du_call("start", "9111", NULL, NULL, &msg), 0, "%s", msg);
	cr_assert(link_exists("veth9111"), "no host veth");
	const char *sh[] = { "/bin/sh", "-c", "ls /sys/class/net; cat /proc/net/route", NULL };
	cr_assert_eq(du_exec_out("9111", sh, &out), 0);
	cr_assert(strstr(out, "eth0") && strstr(out, "00000000"), "no eth0 / default route: %s",
		  out);

	/* vzctl's set --ipadd / --ipdel work live on a routed container */
	cr_assert_eq(
		du_call("set", "9111",
			json_pack("{s:{s:s},s:b}", "options", "ipadd", "10.91.0.12", "save", 1),
			NULL, &msg),
		0, "ipadd: %s", msg);
	const char *ipa[] = { "/bin/ip", "-4", "addr", NULL };
	free(out);
	out = NULL;
	cr_assert_eq(du_exec_out("9111", ipa, &out), 0);
	cr_assert(strstr(out, "10.91.0.12") && strstr(out, "10.91.0.11"), "live ipadd: %s", out);
	cr_assert_eq(
		du_call("set", "9111",
			json_pack("{s:{s:s},s:b}", "options", "ipdel", "10.91.0.11", "save", 1),
			NULL, &msg),
		0, "ipdel: %s", msg);
	free(out);
	out = NULL;
	cr_assert_eq(du_exec_out("9111", ipa, &out), 0);
	cr_assert(strstr(out, "10.91.0.12") && !strstr(out, "10.91.0.11"), "live ipdel: %s", out);
	cr_assert_eq(du_call("stop", "9111", NULL, NULL, &msg), 0, "%s", msg);
	cr_assert_not(link_exists("veth9111"), "host veth left after stop");
}

Test(daemon, bridged_network)
{
	_cleanup_free_ char *out = NULL;
	char *msg = NULL, master[256] = "";
	ssize_t n;

	if (!tu_have_busybox())
		skip_test("no busybox to look inside");
	cr_assert_eq(du_call("create", "9116",
			     json_pack("{s:s,s:[s],s:{s:s,s:s}}", "ostemplate", "tiny", "ipadd",
				       "10.91.16.2/24", "options", "netmode", "bridged", "netif",
				       "ifname=eth0,bridge=strtbr9116"),
			     NULL, &msg),
		     0, "%s", msg);
	int r = du_call("start", "9116", NULL, NULL, &msg);
	const char *del[] = { "ip", "link", "del", "strtbr9116", NULL };
	if (r != 0) {
		tu_run(del, NULL);
		cr_assert_fail("start bridged: %s", msg);
	}
	char mpath[4096];
	snprintf(mpath, sizeof(mpath), "%s/class/net/veth9116/master", du.sysfs);
	n = readlink(mpath, master, sizeof(master) - 1);
	if (n > 0)
		master[n] = '\0';
	const char *sh[] = { "/bin/sh", "-c", "ls /sys/class/net", NULL };
	du_exec_out("9116", sh, &out);
	du_call("stop", "9116", NULL, NULL, NULL);
	bool veth_left = link_exists("veth9116");
	tu_run(del, NULL);
	cr_assert(strstr(master, "strtbr9116"), "host veth not on the bridge: `%s`", master);
	cr_assert(strstr(out, "eth0"), "no eth0 inside: %s", out);
	cr_assert_not(veth_left, "host veth left after stop");
}

Test(daemon, lxcfs_view_from_inside)
{
	_cleanup_free_ char *out = NULL;
	char *msg = NULL;

	if (access("/usr/bin/lxcfs", X_OK) < 0 || !tu_have_busybox())
		skip_test("no lxcfs or busybox here");
	du_conf_addf("LXCFS=yes\n");
	du_daemon_kill9();
	du_daemon_start();
	cr_assert_eq(
		du_call("create", "9118",
			json_pack("{s:s,s:{s:s}}", "ostemplate", "tiny", "options", "ram", "256M"),
			NULL, &msg),
		0, "%s", msg);
	cr_assert_eq(du_call("start", "9118", NULL, NULL, &msg), 0, "%s", msg);
	const char *mi[] = { "/bin/sh", "-c", "grep MemTotal /proc/meminfo", NULL };
	cr_assert_eq(du_exec_out("9118", mi, &out), 0);
	cr_assert(strstr(out, "262144 kB"), "MemTotal inside is not the 256M limit: %s", out);
	cr_assert_eq(du_call("stop", "9118", NULL, NULL, &msg), 0, "%s", msg);
}

/* Needs a debian-12 template image: scripts/test.sh's templates stage caches
 * one at /var/cache/strata/images/debian-12.sqfs (scripts/template-cache.sh);
 * STRATA_TEST_DEBIAN_IMAGE overrides; without either the test is skipped. */
Test(daemon, debian_systemd_boots_to_running_and_reboots)
{
	const char *img = getenv("STRATA_TEST_DEBIAN_IMAGE");
	_cleanup_free_ char *out = NULL;
	char *msg = NULL;
	pid_t pid, pid2 = -1;
	double t0, boot = 0;

	if (!img || !*img)
		img = "/var/cache/strata/images/debian-12.sqfs";
	if (access(img, R_OK) < 0)
		skip_test("no debian-12 image: run scripts/template-cache.sh "
			  "or set STRATA_TEST_DEBIAN_IMAGE");
	cr_assert_eq(du_call("template-import", NULL,
			     json_pack("{s:s,s:s}", "name", "debian-12", "file", img), NULL, &msg),
		     0, "%s", msg);
	cr_assert_eq(
		du_call("create", "9161",
			json_pack("{s:s,s:s}", "ostemplate", "debian-12", "hostname", "deb9161"),
			NULL, &msg),
		0, "%s", msg);
	t0 = now_s();
	json_t *res = NULL;
	cr_assert_eq(du_call("start", "9161", json_pack("{s:b}", "wait", 1), &res, &msg), 0, "%s",
		     msg);
	fprintf(stderr, "daemon: debian-12 start --wait returned after %.2f s (%s)\n", now_s() - t0,
		json_string_value(json_object_get(res, "state")));
	cr_assert(json_is_true(json_object_get(res, "booted")), "start --wait: not booted");
	json_decref(res);
	const char *isr[] = { "/bin/systemctl", "is-system-running", NULL };
	for (int i = 0; i < 600; i++) {
		free(out);
		out = NULL;
		du_exec_out("9161", isr, &out);
		if (!strncmp(out, "running", 7) || !strncmp(out, "degraded", 8))
			break;
		usleep(50000);
	}
	boot = now_s() - t0;
	fprintf(stderr, "daemon: debian-12 (systemd) start to `%.*s`: %.2f s\n",
		(int)strcspn(out, "\n"), out, boot);
	if (!strncmp(out, "degraded", 8)) {
		const char *failed[] = { "/bin/systemctl", "--failed", "--no-legend", NULL };
		_cleanup_free_ char *f = NULL;
		du_exec_out("9161", failed, &f);
		cr_assert_fail("systemd is degraded: %s", f);
	}
	cr_assert(!strncmp(out, "running", 7), "systemd state: %s", out);
	free(out);
	out = NULL;
	const char *hn[] = { "/bin/hostname", NULL };
	cr_assert_eq(du_exec_out("9161", hn, &out), 0);
	cr_assert_str_eq(out, "deb9161\n");

	/* reboot inside: the daemon starts it again */
	pid = du_ct_pid("9161");
	du_call("exec", "9161", json_pack("{s:[s,s]}", "argv", "/bin/systemctl", "reboot"), NULL,
		NULL);
	for (int i = 0; i < 300; i++) {
		pid2 = du_ct_pid("9161");
		if (pid2 > 0 && pid2 != pid)
			break;
		usleep(50000);
	}
	cr_assert(pid2 > 0 && pid2 != pid, "not restarted after reboot");
	/* stop: SIGRTMIN+3 makes systemd power off well before STOP_TIMEOUT */
	t0 = now_s();
	cr_assert_eq(du_call("stop", "9161", NULL, NULL, &msg), 0, "%s", msg);
	fprintf(stderr, "daemon: debian-12 stop: %.2f s\n", now_s() - t0);
	cr_assert_lt(now_s() - t0, 9.0, "stop waited for the timeout: wrong halt signal?");
}
