/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Starts on worker threads (START_WORKERS, runtime/startpool.c): what a user
 * sees of them. A start is held up for real by a frozen cgroup: the test
 * makes the container's freezer cgroup first and freezes it, so the init
 * freezes as soon as it joins it and the daemon's start waits for it (the
 * cgroup is the daemon's to use: it takes an existing one as it is). While
 * one start waits, the daemon must go on serving `list`, `status` and other
 * starts; with START_WORKERS=1 it waits, as before the pool. Also: twenty
 * clients starting and stopping at once on four workers, and a daemon told
 * to stop while a start is in flight.
 *
 * Names: /tmp/strpar-XXXXXX, cgroup subtree strpar-<pid>, CTIDs 93xx.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "tests/helpers/daemonutil.h"
#include "tests/integration/test_daemon_util.h"

static const char *frozen_ct; /* thawed by the fini, whatever happened */

static char *freezer_path(const char *ctid, const char *file)
{
	char *p = NULL;

	cr_assert_geq(asprintf(&p, "/sys/fs/cgroup/freezer/%s/%s%s%s", du.subtree, ctid,
			       file ? "/" : "", file ? file : ""),
		      0);
	return p;
}

/* The container's freezer cgroup, made and frozen before its start. */
static void freeze_ahead(const char *ctid)
{
	_cleanup_free_ char *sub = NULL, *dir = freezer_path(ctid, NULL);
	_cleanup_free_ char *state = freezer_path(ctid, "freezer.state");
	struct stat st;

	if (stat("/sys/fs/cgroup/freezer", &st) < 0) {
		du_teardown();
		cr_skip_test("no cgroup v1 freezer here");
	}
	cr_assert_geq(asprintf(&sub, "/sys/fs/cgroup/freezer/%s", du.subtree), 0);
	cr_assert(mkdir(sub, 0755) == 0 || errno == EEXIST, "mkdir `%s`: %s", sub, strerror(errno));
	cr_assert(mkdir(dir, 0755) == 0 || errno == EEXIST, "mkdir `%s`: %s", dir, strerror(errno));
	frozen_ct = ctid;
	write_or_fail(state, "FROZEN");
	thaw_later(state, 20);
}

static void thaw(const char *ctid)
{
	_cleanup_free_ char *state = freezer_path(ctid, "freezer.state");
	int fd = open(state, O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		(void)!write(fd, "THAWED", 6);
		close(fd);
	}
	frozen_ct = NULL;
}

/* The init is in the frozen cgroup: the start is held up (5 s at most). */
static void wait_frozen_task(const char *ctid)
{
	_cleanup_free_ char *tasks = freezer_path(ctid, "tasks");

	for (int i = 0; i < 500; i++) {
		_cleanup_fclose_ FILE *f = fopen(tasks, "re");
		int pid;

		if (f && fscanf(f, "%d", &pid) == 1)
			return;
		usleep(10000);
	}
	cr_assert_fail("the start of %s never reached its frozen cgroup", ctid);
}

/* `start ctid` from a client of its own: its pid (exit status: the code). */
static pid_t start_in_background(const char *ctid)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(du_call("start", ctid, NULL, NULL, NULL));
	return pid;
}

static int wait_client(pid_t pid)
{
	int st;

	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void create(const char *ctid)
{
	char *msg = NULL;

	cr_assert_eq(du_call("create", ctid, json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg),
		     0, "create %s: %s", ctid, msg);
}

static void setup_with(const char *workers)
{
	du_setup(&(struct du_opts){ .prefix = "strpar", .netns = true, .mntns = true });
	if (workers)
		du_conf_addf("START_WORKERS=%s\n", workers);
	du_daemon_start();
	du_make_template("tiny", NULL);
}

static void setup_two(void)
{
	setup_with("2");
}

static void setup_one(void)
{
	setup_with("1");
}

static void setup_four(void)
{
	setup_with("4");
}

static void fini(void)
{
	if (frozen_ct)
		thaw(frozen_ct); /* a frozen task would not die of SIGKILL */
	du_teardown();
}

TestSuite(daemon_par, .init = setup_two, .fini = fini, .timeout = 120);
TestSuite(daemon_par1, .init = setup_one, .fini = fini, .timeout = 120);
TestSuite(daemon_par4, .init = setup_four, .fini = fini, .timeout = 180);

Test(daemon_par, a_held_start_leaves_the_daemon_serving)
{
	json_t *res = NULL;
	char *msg = NULL;
	double t;
	pid_t client;

	create("9301");
	create("9302");
	freeze_ahead("9301");
	client = start_in_background("9301");
	wait_frozen_task("9301");

	/* the start of 9301 waits for its init: the rest goes on */
	t = now_s();
	cr_assert_eq(du_call("list", NULL, json_pack("{s:b}", "all", 1), &res, &msg), 0, "%s", msg);
	cr_assert_eq(json_array_size(json_object_get(res, "containers")), 2);
	json_decref(res);
	cr_assert_eq(du_call("status", "9301", NULL, &res, &msg), 0, "%s", msg);
	cr_assert(json_is_false(json_object_get(res, "running")), "9301 running before its init");
	json_decref(res);
	cr_assert_eq(du_call("start", "9302", NULL, NULL, &msg), 0, "%s", msg);
	cr_assert(du_running("9302"));
	cr_assert_lt(now_s() - t, 5.0, "list, status and another start took %.1f s", now_s() - t);
	/* the same container waits for the lock: not refused, not doubled */
	cr_assert_eq(du_call("start", "9301", json_pack("{s:b}", "nowait", 1), NULL, &msg), 9,
		     "a second start of a starting container: %s", msg);

	thaw("9301");
	cr_assert_eq(wait_client(client), 0, "the held start failed");
	cr_assert(du_running("9301"));
	cr_assert_eq(du_call("stop", "9301", NULL, NULL, &msg), 0, "%s", msg);
	cr_assert_eq(du_call("stop", "9302", NULL, NULL, &msg), 0, "%s", msg);
}

Test(daemon_par1, one_worker_starts_on_the_loop_as_before)
{
	json_t *res = NULL;
	char *msg = NULL;
	double t;
	pid_t client, thawer;

	create("9311");
	create("9312");
	freeze_ahead("9311");
	client = start_in_background("9311");
	wait_frozen_task("9311");
	thawer = fork();
	cr_assert_geq(thawer, 0);
	if (thawer == 0) {
		usleep(1000 * 1000);
		thaw("9311");
		_exit(0);
	}
	/* START_WORKERS=1: the daemon is in the start until the thaw */
	t = now_s();
	cr_assert_eq(du_call("list", NULL, json_pack("{s:b}", "all", 1), &res, &msg), 0, "%s", msg);
	json_decref(res);
	cr_assert_gt(now_s() - t, 0.5, "list answered during a start (%.2f s) with one worker",
		     now_s() - t);
	cr_assert_eq(wait_client(thawer), 0);
	frozen_ct = NULL;
	cr_assert_eq(wait_client(client), 0, "the held start failed");
	cr_assert(du_running("9311"));
	cr_assert_eq(du_call("start", "9312", NULL, NULL, &msg), 0, "%s", msg);
	cr_assert_eq(du_call("stop", "9311", NULL, NULL, &msg), 0, "%s", msg);
	cr_assert_eq(du_call("stop", "9312", NULL, NULL, &msg), 0, "%s", msg);
	cr_assert_not(du_running("9311"));
}

Test(daemon_par, a_start_in_flight_ends_before_the_daemon)
{
	char *msg = NULL;
	pid_t client;
	int st;

	create("9321");
	freeze_ahead("9321");
	client = start_in_background("9321");
	wait_frozen_task("9321");
	cr_assert_eq(kill(du.pid, SIGTERM), 0);
	usleep(300 * 1000);
	cr_assert_eq(waitpid(du.pid, &st, WNOHANG), 0, "stratad left a start in flight");
	thaw("9321");
	cr_assert_eq(wait_client(client), 0, "the start in flight failed");
	cr_assert_eq(waitpid(du.pid, &st, 0), du.pid);
	du.pid = -1;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "stratad's exit status %d", st);
	/* VE_STOP_MODE=keep: the container runs on and the next daemon adopts it */
	du_daemon_start();
	cr_assert(du_running("9321"), "the started container was not re-adopted");
	cr_assert_eq(du_call("stop", "9321", NULL, NULL, &msg), 0, "%s", msg);
}

Test(daemon_par, a_failed_start_on_a_worker_leaves_nothing)
{
	char *msg = NULL;
	_cleanup_free_ char *conf = du_path("/ct/9331.conf");
	_cleanup_free_ char *state = du_path("/run/ct/9331.state"), *root = du_path("/root/9331");
	_cleanup_fclose_ FILE *f = NULL;

	create("9331");
	/* a start that fails late, in the init's network setup */
	f = fopen(conf, "ae");
	cr_assert_not_null(f);
	fputs("NETWORK_MODE=\"bridged\"\n", f); /* no NETIF bridge= */
	fclose(take_ptr(f));
	cr_assert_neq(du_call("start", "9331", NULL, NULL, &msg), 0, "start without a bridge");
	cr_assert(strstr(msg, "start 9331"), "error: %s", msg);
	cr_assert_not(du_running("9331"));
	cr_assert(access(state, F_OK) < 0, "state file left");
	{
		_cleanup_free_ char *cg = NULL;
		struct stat st;

		cr_assert_geq(asprintf(&cg, "/sys/fs/cgroup/pids/%s/9331", du.subtree), 0);
		cr_assert_neq(stat(cg, &st), 0, "cgroup left");
	}
	cr_assert_not(du_mounted_under(root), "root left mounted");
}

Test(daemon_par4, twenty_clients_start_and_stop_at_once)
{
	enum { N = 20, ROUNDS = 3 };
	pid_t kids[N];
	json_t *res = NULL;
	_cleanup_free_ char *roots = du_path("/root/");
	double t0;

	for (int i = 0; i < N; i++) {
		char id[16];

		snprintf(id, sizeof(id), "%d", 9340 + i);
		create(id);
	}
	t0 = now_s();
	for (int i = 0; i < N; i++) {
		kids[i] = fork();
		cr_assert_geq(kids[i], 0);
		if (kids[i] == 0) {
			char id[16];

			snprintf(id, sizeof(id), "%d", 9340 + i);
			for (int r = 0; r < ROUNDS; r++) {
				if (du_call("start", id, NULL, NULL, NULL))
					_exit(1);
				if (!du_running(id))
					_exit(2);
				/* a second client's start of a running one: refused */
				if (du_call("start", id, NULL, NULL, NULL) != 32)
					_exit(3);
				if (du_call("stop", id, NULL, NULL, NULL))
					_exit(4);
			}
			_exit(0);
		}
	}
	for (int i = 0; i < N; i++)
		cr_assert_eq(wait_client(kids[i]), 0, "client %d failed", i);
	fprintf(stderr, "daemon_par: %d clients x %d start+stop on 4 workers: %.0f ms\n", N, ROUNDS,
		(now_s() - t0) * 1000);
	cr_assert_eq(du_call("list", NULL, json_pack("{s:b}", "all", 1), &res, NULL), 0);
	cr_assert_eq(json_array_size(json_object_get(res, "containers")), N);
	for (size_t i = 0; i < N; i++) {
		json_t *c = json_array_get(json_object_get(res, "containers"), i);
		const char *id = json_string_value(json_object_get(c, "ctid"));
		_cleanup_free_ char *state = du_path("/run/ct/%s.state", id);
		_cleanup_free_ char *cg = NULL;
		struct stat st;

		cr_assert_not(du_running(id), "%s still running", id);
		cr_assert_neq(access(state, F_OK), 0, "state file of %s left", id);
		cr_assert_geq(asprintf(&cg, "/sys/fs/cgroup/pids/%s/%s", du.subtree, id), 0);
		cr_assert_neq(stat(cg, &st), 0, "cgroup of %s left", id);
	}
	json_decref(res);
	cr_assert_not(du_mounted_under(roots), "roots left mounted");
}

Test(daemon_par, one_command_starts_its_containers_at_once)
{
	const char *const args[] = { "start", "9351", "9352", "9353", NULL };
	_cleanup_free_ char *out = NULL;
	char *msg = NULL;
	int pipefd[2];
	pid_t cli;
	bool others_up = false;

	create("9351");
	create("9352");
	create("9353");
	freeze_ahead("9351");
	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
	cli = fork();
	cr_assert_geq(cli, 0);
	if (cli == 0) {
		char *o = NULL;
		int rc = du_cli(args, &o);

		if (o)
			(void)!write(pipefd[1], o, strlen(o));
		_exit(rc);
	}
	close(pipefd[1]);
	wait_frozen_task("9351");
	/* the first is held: the other two of the same command start anyway */
	for (int i = 0; i < 500 && !others_up; i++) {
		others_up = du_running("9352") && du_running("9353");
		if (!others_up)
			usleep(10000);
	}
	cr_assert(others_up, "`strata start` waited for its first container");
	thaw("9351");
	cr_assert_eq(wait_client(cli), 0, "strata start of three");
	out = calloc(1, 4096);
	cr_assert_not_null(out);
	cr_assert_geq(read(pipefd[0], out, 4095), 0);
	close(pipefd[0]);
	/* reported in the order given */
	cr_assert_not_null(strstr(out, "Container 9351 started\nContainer 9352 started\n"
				       "Container 9353 started\n"),
			   "output: %s", out);
	for (int i = 0; i < 3; i++) {
		char id[8];

		snprintf(id, sizeof(id), "%d", 9351 + i);
		cr_assert(du_running(id));
		cr_assert_eq(du_call("stop", id, NULL, NULL, &msg), 0, "%s", msg);
	}
}

/* The guest's root owns its /etc: a FIFO it put at /etc/hostname must not
 * hold a start (the worker, or the loop with one worker) waiting for a
 * reader. The start fails at once naming the file; the daemon serves on. */
Test(daemon_par, a_fifo_at_etc_hostname_does_not_hold_the_start)
{
	char *msg = NULL;
	_cleanup_free_ char *conf = du_path("/ct/9341.conf");
	_cleanup_free_ char *etc = du_path("/private/9341/upper/etc");
	_cleanup_free_ char *fifo = du_path("/private/9341/upper/etc/hostname");
	_cleanup_fclose_ FILE *f = NULL;
	double t0;

	create("9341");
	f = fopen(conf, "ae");
	cr_assert_not_null(f);
	fputs("HOSTNAME=\"fifo-guest\"\n", f);
	fclose(take_ptr(f));
	cr_assert(mkdir(etc, 0755) == 0 || errno == EEXIST, "mkdir `%s`: %s", etc, strerror(errno));
	cr_assert_eq(mkfifo(fifo, 0644), 0, "mkfifo `%s`: %s", fifo, strerror(errno));
	t0 = now_s();
	cr_assert_neq(du_call("start", "9341", NULL, NULL, &msg), 0, "start over a FIFO");
	cr_assert_lt(now_s() - t0, 10.0, "the start waited %.1f s on the FIFO", now_s() - t0);
	cr_assert(strstr(msg, "etc/hostname") && strstr(msg, "not a regular file"), "error: %s",
		  msg);
	cr_assert_not(du_running("9341"));
	create("9342");
	cr_assert_eq(du_call("start", "9342", NULL, NULL, &msg), 0, "start 9342: %s", msg);
	cr_assert(du_running("9342"));
	cr_assert_eq(du_call("stop", "9342", json_pack("{s:b}", "fast", 1), NULL, &msg), 0,
		     "stop: %s", msg);
}

/* Mount namespaces the daemon holds open (fds linked to "mnt:[...]"). */
static int mnt_ns_fds(pid_t pid)
{
	char dir[64], link[64], path[384];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	cr_assert_not_null(d, "open `%s`: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		ssize_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len > 0) {
			link[len] = '\0';
			n += strncmp(link, "mnt:[", 5) == 0;
		}
	}
	closedir(d);
	return n;
}

/* Each start builds the init's mounts in a mount namespace of its own,
 * whose teardown (an RCU grace period) the worker leaves until the answer
 * is on its way: it must still go, start after start. (The first start
 * makes the one base namespace they are copied from, kept for good.) */
Test(daemon_par, starts_leave_no_build_namespace_behind)
{
	const char *const ids[] = { "9361", "9362", "9363" };
	char *msg = NULL;
	int before, after = -1;

	for (size_t i = 0; i < 3; i++)
		create(ids[i]);
	cr_assert_eq(du_call("start", ids[0], NULL, NULL, &msg), 0, "start: %s", msg);
	cr_assert_eq(du_call("stop", ids[0], json_pack("{s:b}", "fast", 1), NULL, &msg), 0,
		     "stop: %s", msg);
	usleep(100000);
	before = mnt_ns_fds(du.pid);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < 3; i++) {
			cr_assert_eq(du_call("start", ids[i], NULL, NULL, &msg), 0, "start %s: %s",
				     ids[i], msg);
			cr_assert(du_running(ids[i]));
		}
		for (size_t i = 0; i < 3; i++)
			cr_assert_eq(
				du_call("stop", ids[i], json_pack("{s:b}", "fast", 1), NULL, &msg),
				0, "stop %s: %s", ids[i], msg);
	}
	/* closed by the worker right after it posted the start: at once */
	for (int i = 0; i < 100 && (after = mnt_ns_fds(du.pid)) > before; i++)
		usleep(10000);
	cr_assert_leq(after, before, "the daemon holds %d mount namespaces, %d before six starts",
		      after, before);
	cr_assert_leq(before, 1, "the daemon holds %d mount namespaces after one start", before);
}

static int retired_count(void)
{
	return du_private_count(".destroyed.");
}

static void wait_no_retired(double secs)
{
	for (int i = 0; i < secs * 100 && retired_count() > 0; i++)
		usleep(10000);
	cr_assert_eq(retired_count(), 0, "a destroyed private area is still there");
}

/* Removing a private area of many files takes long (0.7 s for 30000 here)
 * and the loop would answer no one meanwhile: a destroy renames it aside
 * and a thread removes it. The name is free at once, the files go soon
 * after, and what a daemon killed meanwhile left is removed by the next.
 * Nor does a removal hold up another container's stop and start (whose
 * root's last close goes to a thread too, and which the start waits for). */
Test(daemon_par, a_destroy_leaves_the_removal_to_a_thread)
{
	_cleanup_free_ char *priv = du_path("/private/9371");
	_cleanup_free_ char *many = du_path("/private/9371/upper/many");
	_cleanup_free_ char *left = du_path("/private/9372.destroyed.1.1");
	char *msg = NULL, p[600];

	create("9371");
	create("9373");
	cr_assert_eq(du_call("start", "9373", NULL, NULL, &msg), 0, "start: %s", msg);
	cr_assert_eq(mkdir(many, 0755), 0, "mkdir `%s`: %s", many, strerror(errno));
	for (int i = 0; i < 20000; i++) {
		int fd;

		snprintf(p, sizeof(p), "%s/%d", many, i);
		fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		cr_assert_geq(fd, 0, "create `%s`: %s", p, strerror(errno));
		close(fd);
	}
	cr_assert_eq(du_call("destroy", "9371", NULL, NULL, &msg), 0, "destroy: %s", msg);
	cr_assert_neq(access(priv, F_OK), 0, "`%s` is still there after the destroy", priv);
	/* 20000 files are not gone in the time the answer took */
	cr_assert_eq(retired_count(), 1, "the destroy removed the files before it answered");
	cr_assert_eq(du_call("stop", "9373", json_pack("{s:b}", "fast", 1), NULL, &msg), 0,
		     "stop: %s", msg);
	cr_assert_eq(du_call("start", "9373", NULL, NULL, &msg), 0, "start again: %s", msg);
	cr_assert_eq(retired_count(), 1, "the stop and start of 9373 waited for the removal");
	cr_assert_eq(du_call("stop", "9373", json_pack("{s:b}", "fast", 1), NULL, &msg), 0,
		     "stop: %s", msg);
	create("9371"); /* the name is free at once */
	cr_assert_eq(du_call("destroy", "9371", NULL, NULL, &msg), 0, "destroy: %s", msg);
	wait_no_retired(30);

	/* a daemon gone before its thread was done: the next one removes it */
	cr_assert_eq(mkdir(left, 0700), 0, "mkdir `%s`: %s", left, strerror(errno));
	snprintf(p, sizeof(p), "%s/upper", left);
	cr_assert_eq(mkdir(p, 0755), 0);
	du_daemon_kill9();
	du_daemon_start();
	wait_no_retired(10);
}
