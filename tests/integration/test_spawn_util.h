/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers of the spawn integration tests (test_spawn.c, test_spawn_enter.c).
 * Everything a test creates is registered here and undone by
 * spawn_teardown() (the suites' .fini), pass or fail.
 */
#ifndef STRATA_TESTS_SPAWN_UTIL_H
#define STRATA_TESTS_SPAWN_UTIL_H

#include <stdbool.h>
#include <sys/types.h>

#include "ksal/spawn.h"

#define HOST_BASE 200000 /* the containers' uid/gid 0 on the host */
#define RUNS 50		 /* runs per latency figure */

/* What each test owns; .fini undoes all of it. */
extern char *g_root;	    /* /tmp/stspawn-XXXXXX, the busybox rootfs */
extern char *g_cgroup;	    /* a cgroup2 dir of ours (and its "sub") */
extern char *g_cgroup_v1;   /* a v1 pids cgroup of ours */
extern char *g_ovl;	    /* /tmp/stspawn-ovl-XXXXXX with a mounted overlay */
extern int g_seccomp;	    /* the default filter's memfd */
extern int g_extra_procs;   /* a second cgroup.procs for enter_run_in, -1: none */
extern bool g_enter_rlimit; /* give entered commands RLIMIT_NOFILE 900 */

void spawn_setup(void);	   /* skip unless root; make the rootfs */
void spawn_teardown(void); /* kill, unmount, remove */
void track_pidfd(int fd);  /* killed by .fini unless untracked */
void untrack_close(int pidfd);

/* userns 0 -> 200000 (65536), new net, default drops and seccomp, hostname
 * "stspawn-ct", stdio /dev/null. */
void default_cfg(struct ksal_spawn_cfg *cfg, char *const *argv);
/* Read fd until `until` shows (or EOF), 10 s at most; malloc'd. */
char *read_until(int fd, const char *until);
/* Spawn cfg with its stdout (and stderr, with_stderr) on a pipe, the init's
 * pidfd tracked; all it wrote until it closed them, malloc'd. */
char *spawn_output(struct ksal_spawn_cfg *cfg, struct ksal_spawned *sp, bool with_stderr);
/* The value of a "key=value" line, malloc'd, or NULL. */
char *field(const char *out, const char *key);
void assert_field(const char *out, const char *key, const char *want);
/* Exit code (128+signal if killed); fails the test after 20 s. */
int wait_exit(int pidfd);
char *host_status_line(pid_t pid, const char *key);
bool same_ns(pid_t pid, const char *ns);

/* A container whose init waits on stdin ("read x"). */
struct running {
	struct ksal_spawned sp;
	int in_w;
};
void start_idle(struct running *r);
void stop_idle(struct running *r);
/* ksal_enter argv with stdin `in` (NULL: /dev/null); stdout captured. */
char *enter_run_in(struct running *r, char *const *argv, const char *in, int cg_procs, int *status);
char *enter_run(struct running *r, char *const *argv, const char *in, int *status);
char *enter_run_cg(struct running *r, char *const *argv, int cg_procs, int *status);

double now_ms(void);
int cmp_double(const void *a, const void *b);

#endif
