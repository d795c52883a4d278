/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The harness of the checkpoint integration tests (root only) against the
 * real kernel and the CRIU of scripts/deps.sh. Each test:
 *   - runs in a private network namespace of its own (the "host": veth host
 *     ends and the TCP client live there and die with the test process),
 *   - is a child subreaper, so a restored init becomes its child,
 *   - builds a busybox-shaped rootfs (tu_mkrootfs + tests/helpers/ckpt_guest)
 *     under /tmp/stcriu-*, an overlayfs root over it, cgroups under
 *     "stcriu-test-<pid>", and a container 93xx started with ksal_spawn (new
 *     pid, mount, uts, ipc, net, cgroup namespaces, the default bounding set
 *     and seccomp filter, setsid init),
 * and undoes all of it in .fini, pass or fail:
 *
 *	TestSuite(checkpoint, .init = ck_setup, .fini = ck_teardown, .timeout = 240);
 */
#ifndef STRATA_TESTS_CHECKPOINT_COMMON_H
#define STRATA_TESTS_CHECKPOINT_COMMON_H

#include <stdbool.h>
#include <sys/types.h>

#include "cow-fs/cowfs.h"
#include "ksal/cgroup.h"
#include "ksal/error.h"
#include "runtime/checkpoint.h"

#define USERNS_BASE 3930000000u
#define USERNS_COUNT 65536u
#define TCP_PORT 7001

/* What a test owns; ck_teardown() undoes all of it. */
extern char *g_dir;  /* /tmp/stcriu-XXXXXX */
extern char *g_root; /* g_dir/merged: overlay of upper over lower */
extern char *g_dumps;
extern char g_subtree[64];
extern char g_ctid[16];
extern char g_veth[16];
extern struct ksal_cgroup_mgr *g_mgr;
extern struct ksal_cgroup *g_cg;
extern int g_pidfd;
extern pid_t g_pid;
extern int g_seccomp;
extern int g_ptys[4];			   /* masters and slaves we opened */
extern int g_console;			   /* slave given to the container, -1: none */
extern bool g_tmpfs;			   /* g_dir/small mounted */
extern bool g_composed;			   /* g_root composed by cow-fs */
extern struct cowfs_layer_ref g_layer_ref; /* a template image mounted (systemd test) */

/* .init and .fini of the suite */
void ck_setup(void);
void ck_teardown(void);

/* Fail the test with e's message (frees e). */
void die_msg(struct st_error *e);
/* dir/name, malloc'd */
char *path_in(const char *dir, const char *name);
void kill_ct(void);
int copy_file(const char *from, const char *to, mode_t mode);
void sleep_ms(long ms);

/* The container: ckpt_guest holding mib MiB; net: a veth (host end g_veth,
 * 10.93.1.1, container 10.93.1.2) and a TCP echo server on TCP_PORT. */
struct hook {
	bool net;
};
int parent_hook(pid_t pid, int pidfd, void *data, struct st_error **err);
void start_ct(int mib, bool net, bool userns);
char *root_file(const char *name);
long read_counter(void);
/* Wait until the guest is ready: memory filled, counter past `min`. */
void wait_ready(long min);
/* Ask the guest to checksum its memory again; compare with the first one. */
void assert_memory_intact(void);
bool pidfd_exited(int fd, int ms);

/* runtime/checkpoint.c on it */
void params_init(struct ct_ckpt_params *p, const char *images, bool net);
/* Suspend: the tree is gone and the cgroup empty; the images complete. */
void do_suspend(const char *images, bool net, struct ct_ckpt_result *r);
/* Resume: the init runs again, in the cgroup, reparented to us. */
void do_resume(const char *images, bool net, struct ct_ckpt_result *r);
/* Suspend, see it stand still, resume, see it go on with its memory intact. */
void cycle(const char *images, bool net, int n);

/* TCP from the host end */
int connect_ct(void);
void ping(int s, const char *msg);
/* What the daemon does after a restore: the host end is new, bare and down. */
void reconnect_host_side(void);

/* A new pty: its master (returned) and slave (*slave), both tracked. */
int new_pty(int *slave);
/* Read from a pty master until `want` shows up (drains what is there). */
bool console_says(int master, const char *want, int ms);

#endif
