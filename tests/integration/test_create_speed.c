/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The create-speed area, against a private stratad (tests/helpers/
 * daemonutil): a create is committed with one sync and never leaves a
 * half-made container; what a crash in the middle of a create leaves is
 * finished (the config was synced) or removed at the daemon's start; and
 * `stat` answers at once, without sampling CPU use for 200 ms.
 * CTIDs 9450-9499.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "tests/helpers/daemonutil.h"
#include "tests/helpers/testutil.h"

static void setup(void)
{
	du_setup(&(struct du_opts){ .prefix = "stcreate" });
	du_daemon_start();
	du_make_template("tiny", NULL);
}

TestSuite(create_speed, .init = setup, .fini = du_teardown, .timeout = 300);

/* du.tmp + the formatted rest */
static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...)
{
	_cleanup_free_ char *rest = NULL;
	char *p = NULL;
	va_list ap;

	va_start(ap, fmt);
	cr_assert_geq(vasprintf(&rest, fmt, ap), 0);
	va_end(ap);
	cr_assert_geq(asprintf(&p, "%s%s", du.tmp, rest), 0);
	return p;
}

static bool exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

static void put_file(const char *p, const char *text)
{
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	cr_assert_geq(fd, 0, "create %s: %s", p, strerror(errno));
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* <tmp>/private/CTID with empty upper/ and work/, as a create makes it */
static void fresh_private(const char *ctid)
{
	_cleanup_free_ char *p = pathf("/private/%s", ctid), *u = pathf("/private/%s/upper", ctid),
			    *w = pathf("/private/%s/work", ctid);

	cr_assert_eq(mkdir(p, 0700), 0, "mkdir %s: %s", p, strerror(errno));
	cr_assert_eq(mkdir(u, 0755), 0);
	cr_assert_eq(mkdir(w, 0700), 0);
}

static int n_tmp_configs(void)
{
	_cleanup_free_ char *cmd = NULL, *out = NULL;
	const char *argv[] = { "/bin/sh", "-c", NULL, NULL };

	cr_assert_geq(asprintf(&cmd, "ls -a %s/ct | grep -c '\\.conf\\.tmp\\.' || true", du.tmp),
		      0);
	argv[2] = cmd;
	cr_assert_eq(tu_run(argv, &out), 0);
	return atoi(out);
}

static int status_exit(const char *ctid)
{
	json_t *res = NULL;
	int r = du_call("status", ctid, NULL, &res, NULL);
	int exist = r == 0 && json_is_true(json_object_get(res, "exist"));

	json_decref(res);
	return exist; /* 1: the daemon has it, 0: it has not (or an error) */
}

Test(create_speed, create_publishes_a_whole_container_and_nothing_else)
{
	_cleanup_free_ char *conf = pathf("/ct/9450.conf"), *upper = pathf("/private/9450/upper"),
			    *work = pathf("/private/9450/work");
	char *msg = NULL;

	cr_assert_eq(
		du_call("create", "9450", json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg), 0,
		"create: %s", msg ? msg : "");
	cr_assert(exists(conf), "no %s", conf);
	cr_assert(exists(upper) && exists(work), "private area incomplete");
	cr_assert_eq(n_tmp_configs(), 0, "a temporary config was left in %s/ct", du.tmp);
	cr_assert_eq(status_exit("9450"), 1, "9450 does not exist after its create");
	/* the config is whole: the daemon reads it back after a restart */
	cr_assert_eq(du_daemon_term(), 0);
	du_daemon_start();
	cr_assert_eq(status_exit("9450"), 1, "9450 lost over a daemon restart");
	cr_assert_eq(du_call("destroy", "9450", NULL, NULL, &msg), 0, "destroy: %s", msg);
}

Test(create_speed, a_create_that_fails_at_its_config_leaves_nothing)
{
	_cleanup_free_ char *blocker = NULL, *conf = pathf("/ct/9451.conf"),
			    *priv = pathf("/private/9451");
	char *msg = NULL;

	/* the daemon's temporary config name is taken by a directory: the
	 * commit fails after the private area was made */
	blocker = pathf("/ct/9451.conf.tmp.%d", (int)du.pid);
	cr_assert_eq(mkdir(blocker, 0700), 0);
	cr_assert_neq(
		du_call("create", "9451", json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg), 0,
		"create succeeded over a blocked config");
	cr_assert(msg && strstr(msg, "9451.conf.tmp"), "error does not name the file: %s",
		  msg ? msg : "");
	cr_assert(!exists(conf), "a failed create left %s", conf);
	cr_assert(!exists(priv), "a failed create left %s", priv);
	cr_assert_eq(status_exit("9451"), 0, "a failed create left a container");
	rmdir(blocker);
}

Test(create_speed, crash_leftovers_are_finished_or_removed_at_start)
{
	_cleanup_free_ char *t52 = pathf("/ct/9452.conf.tmp.4242"),
			    *t53 = pathf("/ct/9453.conf.tmp.4242"),
			    *t55 = pathf("/ct/9455.conf.tmp.4242"), *c52 = pathf("/ct/9452.conf"),
			    *c53 = pathf("/ct/9453.conf"), *c55 = pathf("/ct/9455.conf"),
			    *p53 = pathf("/private/9453"), *p54 = pathf("/private/9454"),
			    *p56 = pathf("/private/9456"),
			    *data56 = pathf("/private/9456/upper/data");
	char *msg = NULL;

	cr_assert_eq(
		du_call("create", "9455", json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg), 0,
		"create: %s", msg ? msg : "");
	cr_assert_eq(du_daemon_term(), 0);

	/* 9452: the sync was done, the rename was lost: finished at start */
	fresh_private("9452");
	put_file(t52, "OSTEMPLATE=\"tiny\"\n");
	/* 9453: the crash came before the sync: an empty config, dropped
	 * with its (fresh) private area */
	fresh_private("9453");
	put_file(t53, "");
	/* 9454: only the private area was made */
	fresh_private("9454");
	/* 9455: a real container and the leftover of a rewrite of its config */
	put_file(t55, "garbage \"\n");
	/* 9456: no config, but data in the private area: never removed */
	fresh_private("9456");
	put_file(data56, "keep me\n");

	du_daemon_start();
	cr_assert(exists(c52) && !exists(t52), "9452's create was not finished");
	cr_assert_eq(status_exit("9452"), 1, "9452 does not exist after recovery");
	cr_assert(!exists(t53) && !exists(c53) && !exists(p53), "9453's leftovers are still there");
	cr_assert_eq(status_exit("9453"), 0, "9453 (never acknowledged) exists");
	cr_assert(!exists(p54), "9454's empty private area is still there");
	cr_assert(!exists(t55) && exists(c55), "9455: stray temporary config not removed");
	cr_assert_eq(status_exit("9455"), 1, "9455 lost");
	cr_assert(exists(data56), "the daemon removed data of 9456 (no config)");
	cr_assert_eq(du_call("destroy", "9452", NULL, NULL, &msg), 0, "destroy: %s", msg);
	cr_assert_eq(du_call("destroy", "9455", NULL, NULL, &msg), 0, "destroy: %s", msg);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

Test(create_speed, stat_answers_at_once)
{
	json_t *res = NULL;
	char *msg = NULL;
	double t0, first, rest = 0, win;

	cr_assert_eq(
		du_call("create", "9457", json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg), 0,
		"create: %s", msg ? msg : "");
	cr_assert_eq(du_call("start", "9457", NULL, NULL, &msg), 0, "start: %s", msg);
	sleep(1);
	/* no sample yet: the average since the start, at once */
	t0 = now_s();
	cr_assert_eq(du_call("stat", "9457", NULL, &res, &msg), 0, "stat: %s", msg);
	first = now_s() - t0;
	win = json_number_value(json_object_get(res, "cpu_pct_window"));
	cr_assert(json_is_number(json_object_get(res, "cpu_pct")), "no cpu_pct");
	cr_assert_geq(win, 1.0, "first stat's window %.2f s is not the time since the start", win);
	json_decref(res);
	/* then the window since the previous sample */
	usleep(300000);
	cr_assert_eq(du_call("stat", "9457", NULL, &res, &msg), 0, "stat: %s", msg);
	win = json_number_value(json_object_get(res, "cpu_pct_window"));
	cr_assert(win >= 0.25 && win < 1.0, "second stat's window is %.2f s, not ~0.3", win);
	json_decref(res);
	/* ten stats in a row: none waits to sample (it used to take 200 ms) */
	for (int i = 0; i < 10; i++) {
		t0 = now_s();
		cr_assert_eq(du_call("stat", "9457", NULL, &res, &msg), 0, "stat: %s", msg);
		rest += now_s() - t0;
		json_decref(res);
		res = NULL;
	}
	cr_log_info("stat: first %.1f ms, then %.1f ms each", first * 1e3, rest * 1e2);
	cr_assert_lt(first, 0.15, "the first stat took %.0f ms", first * 1e3);
	cr_assert_lt(rest / 10, 0.05, "a stat took %.0f ms on average", rest * 1e2);
	cr_assert_eq(du_call("stop", "9457", json_pack("{s:b}", "fast", 1), NULL, &msg), 0,
		     "stop: %s", msg);
	cr_assert_eq(du_call("destroy", "9457", NULL, NULL, &msg), 0, "destroy: %s", msg);
}

/* ID_BASE of ctid, from its config file */
static long id_base_of(const char *ctid)
{
	_cleanup_free_ char *p = pathf("/ct/%s.conf", ctid), *text = tu_read_file(p);
	const char *s = text ? strstr(text, "ID_BASE=\"") : NULL;

	cr_assert(s, "no ID_BASE in %s", p);
	return strtol(s + 9, NULL, 10);
}

Test(create_speed, id_ranges_are_distinct_and_a_freed_one_is_reused)
{
	const char *ids[] = { "9460", "9461", "9462" };
	long b[3], again;
	char *msg = NULL;

	for (int i = 0; i < 3; i++) {
		cr_assert_eq(du_call("create", ids[i], json_pack("{s:s}", "ostemplate", "tiny"),
				     NULL, &msg),
			     0, "create %s: %s", ids[i], msg ? msg : "");
		b[i] = id_base_of(ids[i]);
	}
	cr_assert(b[0] != b[1] && b[1] != b[2] && b[0] != b[2], "ranges %ld %ld %ld", b[0], b[1],
		  b[2]);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			if (i != j)
				cr_assert(b[i] + 65536 <= b[j] || b[j] + 65536 <= b[i],
					  "ranges %ld and %ld overlap", b[i], b[j]);
	/* the lowest free range is the first fit: 9461's, once it is gone */
	cr_assert_eq(du_call("destroy", "9461", NULL, NULL, &msg), 0, "destroy: %s", msg);
	cr_assert_eq(
		du_call("create", "9463", json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg), 0,
		"create 9463: %s", msg ? msg : "");
	again = id_base_of("9463");
	/* a fresh daemon hands out ranges first fit: 9460, 9461, 9462 got
	 * three in a row, and the lowest free one now is 9461's */
	cr_assert(b[1] == b[0] + 65536 && b[2] == b[1] + 65536, "ranges %ld %ld %ld", b[0], b[1],
		  b[2]);
	cr_assert_eq(again, b[1], "9463 got %ld, not the freed lowest range %ld", again, b[1]);
	for (int i = 0; i < 3; i++)
		if (strcmp(ids[i], "9461"))
			du_call("destroy", ids[i], NULL, NULL, NULL);
	du_call("destroy", "9463", NULL, NULL, NULL);
}
