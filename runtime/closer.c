/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What is slow to let go of, let go of on a thread of its own, so the event
 * loop does not wait for it:
 *  - fds whose last close is slow: a stopped container's detached root,
 *    whose overlayfs syncs its upper filesystem as it goes (the host's
 *    filesystem with everyone's dirty data: 0.6 s behind 1.5 GB of it,
 *    measured, and the loop answered no one meanwhile). closer_wait() lets
 *    the next mount of the same root wait for its predecessor to be gone;
 *  - a destroyed container's private area, renamed aside by the destroy
 *    (cowfs_private_retire): 30000 files take 0.7 s to remove here.
 * In order, one at a time; closer_stop() finishes the queue.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "cow-fs/cowfs.h"
#include "cow-fs/fsutil.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "runtime/daemon.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queued_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
struct job {
	int fd;	    /* a close, or */
	char *path; /* a tree to remove (malloc'd) */
};

static struct job *queue;
static size_t n_queued, cap;
static uint64_t tickets, done; /* fds handed over, fds closed */
static bool running, quit;
static pthread_t thread;

static void run(struct job *j)
{
	_cleanup_error_ struct st_error *err = NULL;

	if (!j->path) {
		close(j->fd);
		return;
	}
	if (cowfs_rm_rf(j->path, &err) < 0)
		st_warn("remove `%s`: %s", j->path, err->msg);
	else
		st_debug("removed `%s`", j->path);
	free(j->path);
}

static void *closer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		struct job j;

		while (!n_queued && !quit)
			pthread_cond_wait(&queued_cond, &lock);
		if (!n_queued)
			break;
		j = queue[0];
		n_queued--;
		for (size_t i = 0; i < n_queued; i++)
			queue[i] = queue[i + 1];
		pthread_mutex_unlock(&lock);
		run(&j);
		pthread_mutex_lock(&lock);
		done++;
		pthread_cond_broadcast(&done_cond);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* Room for one more (under the lock). */
static bool grow(void)
{
	size_t c = cap ? cap * 2 : 64;
	struct job *q = realloc(queue, c * sizeof(*q));

	if (!q)
		return false;
	queue = q;
	cap = c;
	return true;
}

static uint64_t put(struct job j)
{
	uint64_t t;

	pthread_mutex_lock(&lock);
	if (!running && !quit) {
		sigset_t all, old;

		/* signals stay the loop's (signalfd) */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		running = pthread_create(&thread, NULL, closer_main, NULL) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (!running || quit || (n_queued == cap && !grow())) {
		/* no thread: here, as before */
		pthread_mutex_unlock(&lock);
		run(&j);
		return 0;
	}
	queue[n_queued++] = j;
	t = ++tickets;
	pthread_cond_signal(&queued_cond);
	pthread_mutex_unlock(&lock);
	return t;
}

uint64_t closer_put(int fd)
{
	if (fd < 0)
		return 0;
	return put((struct job){ .fd = fd });
}

void closer_remove(char *path)
{
	if (path)
		put((struct job){ .fd = -1, .path = path });
}

void closer_wait(uint64_t ticket)
{
	pthread_mutex_lock(&lock);
	while (running && done < ticket)
		pthread_cond_wait(&done_cond, &lock);
	pthread_mutex_unlock(&lock);
}

void closer_stop(void)
{
	pthread_mutex_lock(&lock);
	quit = true;
	pthread_cond_signal(&queued_cond);
	pthread_mutex_unlock(&lock);
	if (running)
		pthread_join(thread, NULL);
	pthread_mutex_lock(&lock);
	running = false;
	quit = false; /* a daemon started again in this process (tests) */
	free(queue);
	queue = NULL;
	n_queued = cap = 0;
	pthread_cond_broadcast(&done_cond);
	pthread_mutex_unlock(&lock);
}

void closer_sweep_retired(const char *private_dir)
{
	_cleanup_closedir_ DIR *d = private_dir ? opendir(private_dir) : NULL;
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char *p = NULL;

		if (!cowfs_private_is_retired(e->d_name) ||
		    asprintf(&p, "%s/%s", private_dir, e->d_name) < 0)
			continue;
		st_info("removing `%s`, left by a destroy", p);
		closer_remove(p);
	}
}
