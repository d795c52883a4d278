/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A private stratad for integration tests (link daemonutil_dep; see
 * tests/helpers/meson.build). One daemon per test process: its own
 * strata.conf, directories and socket under /tmp/<prefix>-XXXXXX, its own
 * cgroup subtree <cgroup_prefix>-<pid> in every hierarchy; stdout and
 * stderr of the daemon appended to /tmp/<prefix>-daemon.log.
 *
 *	static void setup(void)
 *	{
 *		du_setup(&(struct du_opts){ .prefix = "stmyarea" });
 *		du_conf_addf("IP_POOL=%s\n", "10.9.0.1/24");     // optional
 *		du_daemon_start();
 *		du_make_template("tiny", NULL);
 *	}
 *	TestSuite(myarea, .init = setup, .fini = du_teardown);
 *
 *	cr_assert_eq(du_call("start", "9101", NULL, NULL, &msg), 0, "%s", msg);
 *	cr_assert(du_running("9101"));
 *
 * du_teardown() undoes everything with or without the daemon's help: stops
 * the containers, kills the daemon, an lxcfs it started and any init left,
 * unmounts whatever is left under the temp dir, removes the cgroup subtree
 * and the temp dir. Helpers assert (Criterion) on what must not fail.
 */
#ifndef STRATA_TESTS_DAEMONUTIL_H
#define STRATA_TESTS_DAEMONUTIL_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

struct du_opts {
	/* the area's prefix: /tmp/<prefix>-XXXXXX, /tmp/<prefix>-daemon.log */
	const char *prefix;
	/* the cgroup subtree is <cgroup_prefix>-<pid>; NULL: prefix */
	const char *cgroup_prefix;
	/* the test plays the host in a network namespace of its own (lo up):
	 * veths, routes and sysctls never touch the real host's */
	bool netns;
	/* and a mount namespace of its own (slave of the host's): whatever
	 * the daemon mounts goes away with the test process */
	bool mntns;
	/* a sysfs of the test's network namespace at <tmp>/sys (du.sysfs),
	 * to look at the host side; needs mntns */
	bool sysfs;
};

struct du_state {
	char *tmp;	     /* /tmp/<prefix>-XXXXXX */
	char *sock;	     /* its API socket */
	char *conf;	     /* its strata.conf */
	char *sysfs;	     /* <tmp>/sys when opts.sysfs, else NULL */
	char *log;	     /* the daemon's stdout/stderr */
	char subtree[64];    /* the daemon's CGROUP_SUBTREE */
	pid_t pid;	     /* the running stratad, or -1 */
	char last_msg[4096]; /* the last error reply's message */
};

/* The harness of this test process. */
extern struct du_state du;

/* Skip (cr_skip_test) when not root or stratad is not built; make the
 * namespaces, the temp dir and strata.conf. Does not start the daemon. */
void du_setup(const struct du_opts *opts);

/* Append lines to strata.conf (later keys win); each should end in "\n". */
void du_conf_addf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Start stratad on du.conf and wait until it answers (5 s), or fail. */
void du_daemon_start(void);

/* SIGKILL the daemon (its containers keep running) and reap it. */
void du_daemon_kill9(void);

/* SIGTERM the daemon and reap it: its wait status. */
int du_daemon_term(void);

/* Undo everything du_setup() and the daemon did; safe to call twice. */
void du_teardown(void);

/* One request; returns 0 or the reply's exit code, *result (a new
 * reference) if wanted, *msg = du.last_msg (the error's message, "" on
 * success). args is stolen. "exec" gets /dev/null as stdio. */
int du_call(const char *verb, const char *ctid, json_t *args, json_t **result, char **msg);

/* exec argv in ctid with stdout+stderr into a pipe: the exit code, the
 * output in *out (malloc'd) if wanted. Fails the test if exec fails. */
int du_exec_out(const char *ctid, const char *const argv[], char **out);

/* /bin/sh -c cmd in ctid: du_exec_out(). */
int du_sh(const char *ctid, const char *cmd, char **out);

/* strata(8) (the build tree's) with --socket du.sock and args (NULL
 * ended): exit status, stdout+stderr in *out if wanted (tu_run). */
int du_cli(const char *const args[], char **out);

/* status says running. */
bool du_running(const char *ctid);

/* The init's host pid from `list`, or -1. */
pid_t du_ct_pid(const char *ctid);

/* Gone, or a zombie waiting for whoever it was reparented to (2 s). */
bool du_pid_gone(pid_t pid);

/* Something is mounted on a path starting with prefix. */
bool du_mounted_under(const char *prefix);

/* Names in <du.tmp>/private containing marker (".destroyed.", ".cloning."). */
int du_private_count(const char *marker);

/* du.tmp followed by the formatted rest, malloc'd: du_path("/ct/%s.conf", id). */
char *du_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Import a template `name` made by tu_mkrootfs() (testinit as /sbin/init,
 * or init_script if non-NULL) and mksquashfs. */
void du_make_template(const char *name, const char *init_script);

#endif
