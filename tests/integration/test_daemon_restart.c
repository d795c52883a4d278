/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stratad against the real kernel (root), 2 of 3: the daemon process
 * itself -- containers outlive a kill -9 of the daemon and are re-adopted
 * (or cleaned up if they died meanwhile), SIGTERM with VE_STOP_MODE,
 * sd_notify READY/STOPPING, --daemon with a pid file, template layers held
 * across a restart. Same harness and setup as test_daemon.c (its header
 * says more); containers 9100-9199.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "tests/helpers/daemonutil.h"
#include "tests/helpers/testutil.h"
#include "tests/integration/test_daemon_util.h"

TestSuite(daemon, .init = daemon_setup, .fini = du_teardown, .timeout = 120);

Test(daemon, survives_kill9_and_readopts)
{
	char *msg = NULL;
	pid_t pid;

	cr_assert_eq(
		du_call("create", "9102", json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg), 0,
		"%s", msg ? msg : "");
	cr_assert_eq(du_call("start", "9102", NULL, NULL, &msg), 0, "%s", msg ? msg : "");
	pid = du_ct_pid("9102");

	du_daemon_kill9();
	cr_assert_eq(kill(pid, 0), 0, "container died with the daemon");
	du_daemon_start();

	cr_assert(du_running("9102"), "not running after daemon restart");
	cr_assert_eq(du_ct_pid("9102"), pid, "a different init after re-adoption");
	cr_assert_eq(du_call("exec", "9102",
			     json_pack("{s:[s,s]}", "argv", "/bin/testinit", "true"), NULL, &msg),
		     0, "exec after restart: %s", msg ? msg : "");
	cr_assert_eq(du_call("stop", "9102", NULL, NULL, &msg), 0, "%s", msg ? msg : "");
	cr_assert(du_pid_gone(pid), "init %d still alive", (int)pid);
	cr_assert_not(cgroup_exists("9102"));
}

Test(daemon, cleans_up_a_container_that_died_while_down)
{
	char *msg = NULL;
	_cleanup_free_ char *root = NULL, *state = NULL;
	pid_t pid;

	cr_assert_eq(
		du_call("create", "9103", json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg), 0,
		"%s", msg ? msg : "");
	cr_assert_eq(du_call("start", "9103", NULL, NULL, &msg), 0, "%s", msg ? msg : "");
	pid = du_ct_pid("9103");
	du_daemon_kill9();
	kill(pid, SIGKILL);
	for (int i = 0; i < 100 && kill(pid, 0) == 0; i++)
		usleep(10000);
	du_daemon_start();
	cr_assert_not(du_running("9103"));
	cr_assert_geq(asprintf(&root, "%s/root/9103", du.tmp), 0);
	cr_assert_geq(asprintf(&state, "%s/run/ct/9103.state", du.tmp), 0);
	cr_assert_not(du_mounted_under(root), "root left mounted");
	cr_assert(access(state, F_OK) < 0, "state file left");
	cr_assert_not(cgroup_exists("9103"), "cgroup left");
	/* and it can start again */
	cr_assert_eq(du_call("start", "9103", NULL, NULL, &msg), 0, "%s", msg ? msg : "");
}

Test(daemon, sigterm_with_stop_mode_stops_containers)
{
	char *msg = NULL;
	pid_t pid;
	int st;

	cr_assert_eq(
		du_call("create", "9113", json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg), 0,
		"%s", msg);
	cr_assert_eq(du_call("start", "9113", NULL, NULL, &msg), 0, "%s", msg);
	pid = du_ct_pid("9113");

	/* default VE_STOP_MODE=keep: SIGTERM leaves it running */
	st = du_daemon_term();
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "stratad exit status %d", st);
	cr_assert_not(du_pid_gone(pid), "the container stopped with VE_STOP_MODE=keep");

	du_conf_addf("VE_STOP_MODE=stop\n");
	du_daemon_start();
	cr_assert(du_running("9113"));
	du_daemon_term();
	cr_assert(du_pid_gone(pid), "VE_STOP_MODE=stop left the container running");
	cr_assert_not(cgroup_exists("9113"));
	du_daemon_start();
	cr_assert_not(du_running("9113"));
}

Test(daemon, sd_notify_ready_and_stopping)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_free_ char *path = NULL;
	char buf[512];
	int fd, st;
	bool ready = false, stopping = false;

	du_daemon_kill9();
	cr_assert_geq(asprintf(&path, "%s/notify.sock", du.tmp), 0);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setenv("NOTIFY_SOCKET", path, 1);
	du_daemon_start();
	unsetenv("NOTIFY_SOCKET");
	for (int i = 0; i < 5 && !ready; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			break;
		buf[n] = '\0';
		ready = strstr(buf, "READY=1") != NULL;
	}
	cr_assert(ready, "no READY=1");
	kill(du.pid, SIGTERM);
	for (int i = 0; i < 5 && !stopping; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			break;
		buf[n] = '\0';
		stopping = strstr(buf, "STOPPING=1") != NULL;
	}
	cr_assert(stopping, "no STOPPING=1");
	cr_assert_eq(waitpid(du.pid, &st, 0), du.pid);
	du.pid = -1;
	close(fd);
}

Test(daemon, daemon_mode_with_pidfile)
{
	_cleanup_free_ char *pidfile = NULL, *text = NULL;
	pid_t pid;

	du_daemon_kill9();
	cr_assert_geq(asprintf(&pidfile, "%s/stratad.pid", du.tmp), 0);
	const char *argv[] = { STRATAD_PATH, "--config", du.conf, "--daemon",
			       "--pidfile",  pidfile,	 NULL };
	/* a pipe's write end the starter leaves open (as `flock LOCK stratad
	 * --daemon` leaves its lock): the detached daemon must not keep it */
	int inherited[2];
	cr_assert_eq(pipe(inherited), 0);
	cr_assert_eq(tu_run(argv, NULL), 0, "stratad --daemon failed");
	close(inherited[1]);
	text = tu_read_file(pidfile);
	cr_assert_not_null(text, "no pid file");
	pid = atoi(text);
	cr_assert_gt(pid, 1);
	du.pid = pid; /* .fini kills it should an assertion below fail */
	{
		struct pollfd pfd = { .fd = inherited[0], .events = POLLIN };
		char c;

		cr_assert_eq(poll(&pfd, 1, 2000), 1, "the detached daemon holds an inherited fd");
		cr_assert_eq(read(inherited[0], &c, 1), 0, "no EOF on the inherited pipe");
		close(inherited[0]);
	}
	cr_assert_eq(du_call("ping", NULL, NULL, NULL, NULL), 0,
		     "the detached daemon does not answer");
	kill(pid, SIGTERM);
	for (int i = 0; i < 500 && kill(pid, 0) == 0; i++)
		usleep(10000);
	cr_assert(kill(pid, 0) < 0, "stratad --daemon did not exit on SIGTERM");
	du.pid = -1;
	cr_assert(access(pidfile, F_OK) < 0, "pid file left");
	_cleanup_free_ char *logp = NULL, *log = NULL;
	cr_assert_geq(asprintf(&logp, "%s/stratad.log", du.tmp), 0);
	log = tu_read_file(logp);
	cr_assert(log && strstr(log, "ready on"), "nothing in LOG_FILE: %s", log ? log : "(none)");
}

Test(daemon, template_layer_stays_mounted_until_template_remove)
{
	_cleanup_free_ char *layer = NULL;
	char *msg = NULL;

	du_make_template("spare", NULL);
	cr_assert_geq(asprintf(&layer, "%s/run/templates/spare@1 ", du.tmp), 0);
	cr_assert_eq(
		du_call("create", "9146", json_pack("{s:s}", "ostemplate", "spare"), NULL, &msg), 0,
		"%s", msg);
	cr_assert_eq(du_call("start", "9146", NULL, NULL, &msg), 0, "%s", msg);
	cr_assert_eq(du_call("stop", "9146", NULL, NULL, &msg), 0, "%s", msg);
	cr_assert(du_mounted_under(layer), "the layer was unmounted with its last container");
	/* held across a daemon restart too */
	du_daemon_kill9();
	du_daemon_start();
	cr_assert_eq(
		du_call("template-remove", NULL, json_pack("{s:s}", "name", "spare"), NULL, &msg),
		9, "removed while container 9146 uses it: %s", msg);
	cr_assert_eq(du_call("destroy", "9146", NULL, NULL, &msg), 0, "%s", msg);
	cr_assert_eq(
		du_call("template-remove", NULL, json_pack("{s:s}", "name", "spare"), NULL, &msg),
		0, "%s", msg);
	cr_assert_not(du_mounted_under(layer), "template-remove left its layer mounted");
}
