/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the suspend/resume tests through a private stratad share
 * (test_ckpt_daemon.c): the daemon, the container of ckpt_guest, the CLI,
 * and the checks on a restored container.
 */
#ifndef STRATA_TEST_CKPT_DAEMON_UTIL_H
#define STRATA_TEST_CKPT_DAEMON_UTIL_H

#include <stdbool.h>

#define CT "9350"
#define CT_ONBOOT "9351"
#define CT_IP "10.93.50.2"
#define HOST_IP "10.93.50.1"
#define PORT 7350
#define TEMPLATE "stck-guest"
#define strata(out, ...) strata_v(out, __VA_ARGS__, NULL)

/* Run argv, stdout+stderr captured into *out; the exit status. */
int run(char **out, const char *const argv[]);

int strata_v(char **out, ...);

/* The private daemon with VE_STOP_MODE=stop_mode (a later key wins). */
void start_daemon(const char *stop_mode);

void sh(const char *cmd);

/* The test process plays the host: a network namespace of its own. */
void ckd_setup(void);

void ckd_teardown(void);

void need_root(void);

/* Template: ckpt_guest as /sbin/init holding mib MiB, echo server on PORT. */
void make_ct(int mib);

char *ct_file(const char *name);

double now_s(void);

/* The guest's counter: from its root, or from the private area's upper
 * layer while the root is not mounted (suspended). */
long counter(void);

/* Wait until the guest is up: counter ticking, memory filled. */
void wait_guest(void);

/* Ask the guest to checksum its memory again; assert it is unchanged. */
void assert_memory_intact(void);

/* Right after a resume: the counter goes on from where it was (a restarted
 * guest would count from 0 again), and it moves. */
void assert_counter_continues(long from);

void assert_counter_moves(long from);

void assert_status(const char *want);

/* The pids in the container's memory cgroup (-1: no such cgroup). */
int cg_tasks(void);

int tcp_connect(void);

void tcp_echo(int fd, const char *msg);

int ppid_of(int pid);

/* The restored init is stratad's child (stratad is a child subreaper). */
void assert_init_is_daemon_child(void);

/* No zombie left among stratad's children (strays are reaped). */
void assert_no_zombie_children(void);

/* A resume returns before its images are unlinked (stratad's closer thread
 * does it): they are gone soon after, nothing left in dumps/. */
void assert_images_removed(void);

#endif
