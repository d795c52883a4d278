/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ksal_spawn against the real kernel (root only), several starts at once:
 * the sync fds of other starts and forked children while an init is cloned
 * (the daemon's START_WORKERS). Split from test_spawn.c; same suite spawn
 * and setup (test_spawn_util.h).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ksal/syscalls.h"
#include "ksal/cleanup.h"
#include "ksal/mount.h"
#include "ksal/spawn.h"
#include "ksal/spawn-internal.h"
#include "tests/integration/test_spawn_util.h"

TestSuite(spawn, .init = spawn_setup, .fini = spawn_teardown);

/* Stands for another start's sync socketpair, open while this start clones
 * its init (the daemon's START_WORKERS spawn at the same time). */
struct other_start {
	int parent_end, child_end;
	bool eof;
	double eof_ms;
};

static int hook_drop_other_child_end(pid_t pid, int pidfd, void *data, struct st_error **err)
{
	struct other_start *o = data;
	struct pollfd p = { .fd = o->parent_end, .events = POLLIN };
	char buf[16];
	double t0 = now_ms();

	(void)pid, (void)pidfd, (void)err;
	/* this init is cloned and waits for its go, far from its exec: if it
	 * still held its copy of the other child end, the other start would
	 * see no EOF until this exec (5 s here: never) */
	closep(&o->child_end);
	o->eof =
		poll(&p, 1, 5000) == 1 && recv(o->parent_end, &buf, sizeof(buf), MSG_DONTWAIT) == 0;
	o->eof_ms = now_ms() - t0;
	return 0;
}

static void check_other_start_sees_eof(bool unlocked)
{
	char *argv[] = { "/bin/true", NULL };
	_cleanup_close_ int parent_end = -EBADF;
	struct other_start o = { .child_end = -EBADF };
	struct st_error *err = NULL;
	struct ksal_spawn_cfg cfg;
	struct ksal_spawned sp;
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	parent_end = o.parent_end = sv[0];
	o.child_end = sv[1];
	default_cfg(&cfg, argv);
	cfg.unlocked_mounts = unlocked;
	cfg.parent_hook = hook_drop_other_child_end;
	cfg.hook_data = &o;
	cr_assert_eq(ksal_spawn(&cfg, &sp, &err), 0, "spawn: %s", err ? err->msg : "");
	track_pidfd(sp.pidfd);
	closep(&o.child_end);
	cr_assert(o.eof,
		  "a sync socket's EOF waited for another init's exec (%.0f ms, %s mounts): the "
		  "init kept a copy of the child end",
		  o.eof_ms, unlocked ? "unlocked" : "locked");
	cr_assert_lt(o.eof_ms, 1000.0, "EOF after %.0f ms", o.eof_ms);
	wait_exit(sp.pidfd);
}

/* The child's first step: every fd but the kept ones closed, in any order,
 * with duplicates and -1s in the list. */
Test(spawn, child_close_others_keeps_exactly_the_list)
{
	pid_t pid = fork();
	int status;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		static const int opened[] = { 5, 10, 11, 12, 20, 30, 31, 200 };
		int keep[] = { 30, -1, 11, 11, 0, 1, 2, 200, -EBADF };
		int mask = 0;

		for (size_t i = 0; i < sizeof(opened) / sizeof(opened[0]); i++)
			if (dup2(0, opened[i]) < 0)
				_exit(100);
		if (ksal_child_close_others(keep, sizeof(keep) / sizeof(keep[0])) < 0)
			_exit(101);
		/* bit i: opened[i] still open */
		for (size_t i = 0; i < sizeof(opened) / sizeof(opened[0]); i++)
			if (fcntl(opened[i], F_GETFD) >= 0)
				mask |= 1 << i;
		if (fcntl(0, F_GETFD) < 0 || fcntl(2, F_GETFD) < 0)
			_exit(102);
		_exit(mask);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	/* 11, 30 and 200 kept: bits 2, 5, 7 */
	cr_assert_eq(WEXITSTATUS(status), (1 << 2) | (1 << 5) | (1 << 7), "exit %d",
		     WEXITSTATUS(status));
}

/* Starts clone their inits at the same time (no process-wide lock): an init
 * drops every fd it inherited but its own before it waits for anything. */
Test(spawn, a_cloned_init_keeps_no_other_start_sync_fd)
{
	check_other_start_sees_eof(false);
	check_other_start_sees_eof(true);
}

/* Two threads spawn while a third forks children that hold every fd they
 * got for 1 s without exec (a template build's fork, a helper): no fork may
 * copy a spawn's sync child end (the shared/exclusive clone lock), so no
 * spawn waits for such a child. */
#define PAR_SPAWNS 8
#define PAR_FORKS 400

struct par_forker {
	pid_t pids[PAR_FORKS];
	int n;
	bool stop;
};

struct par_spawner {
	int pidfds[PAR_SPAWNS];
	int n, failed;
	double max_ms;
	char msg[256];
};

static void *par_fork_loop(void *p)
{
	struct par_forker *f = p;

	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE) && f->n < PAR_FORKS) {
		pid_t pid = fork();

		if (pid == 0) {
			usleep(1000 * 1000);
			_exit(0);
		}
		if (pid > 0)
			f->pids[f->n++] = pid;
		usleep(2000);
	}
	return NULL;
}

static void *par_spawn_loop(void *p)
{
	struct par_spawner *s = p;
	char *argv[] = { "/bin/true", NULL };
	struct ksal_spawn_cfg cfg;

	default_cfg(&cfg, argv);
	for (int i = 0; i < PAR_SPAWNS; i++) {
		struct st_error *err = NULL;
		struct ksal_spawned sp;
		double t0 = now_ms(), ms;

		if (ksal_spawn(&cfg, &sp, &err) < 0) {
			s->failed++;
			snprintf(s->msg, sizeof(s->msg), "%s", err ? err->msg : "?");
			st_error_free(err);
			continue;
		}
		ms = now_ms() - t0;
		if (ms > s->max_ms)
			s->max_ms = ms;
		s->pidfds[s->n++] = sp.pidfd;
	}
	return NULL;
}

Test(spawn, spawns_at_once_wait_for_no_forked_child)
{
	struct par_forker f = { .n = 0 };
	struct par_spawner s[2] = { { .n = 0 }, { .n = 0 } };
	pthread_t ft, st[2];

	cr_assert_eq(pthread_create(&ft, NULL, par_fork_loop, &f), 0);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&st[i], NULL, par_spawn_loop, &s[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(st[i], NULL);
	__atomic_store_n(&f.stop, true, __ATOMIC_RELEASE);
	pthread_join(ft, NULL);
	for (int i = 0; i < f.n; i++) {
		kill(f.pids[i], SIGKILL);
		waitpid(f.pids[i], NULL, 0);
	}
	for (int i = 0; i < 2; i++) {
		for (int j = 0; j < s[i].n; j++) {
			track_pidfd(s[i].pidfds[j]);
			wait_exit(s[i].pidfds[j]);
		}
		cr_assert_eq(s[i].failed, 0, "a spawn failed: %s", s[i].msg);
		/* a fork that copied a child end: its holder sleeps 1 s */
		cr_assert_lt(s[i].max_ms, 800.0, "a spawn took %.0f ms (forks: %d)", s[i].max_ms,
			     f.n);
	}
}
