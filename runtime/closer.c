/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What is slow to let go of, let go of on threads of their own, so the
 * event loop does not wait for it:
 *  - fds whose last close is slow: a stopped container's detached root,
 *    whose overlayfs syncs its upper filesystem as it goes (the host's
 *    filesystem with everyone's dirty data: 0.6 s behind 1.5 GB of it,
 *    measured, and the loop answered no one meanwhile). closer_wait() lets
 *    the next mount of the same root wait for its predecessor to be gone;
 *  - a destroyed container's private area, renamed aside by the destroy
 *    (cowfs_private_retire): 30000 files take 0.7 s to remove here.
 * Two queues, a thread each, each in order: a long removal never delays
 * the close a container's next start waits for. closer_stop() finishes
 * both.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cow-fs/cowfs.h"
#include "cow-fs/fsutil.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "runtime/daemon.h"

struct job {
	int fd;	    /* a close, or */
	char *path; /* a tree to remove (malloc'd) */
};

struct queue {
	pthread_mutex_t lock;
	pthread_cond_t queued, done_cond;
	struct job *jobs;
	size_t n, cap;
	uint64_t tickets, done; /* jobs handed over, jobs done */
	bool running, quit;
	pthread_t thread;
};

#define QUEUE_INIT                                                                                 \
	{                                                                                          \
		.lock = PTHREAD_MUTEX_INITIALIZER, .queued = PTHREAD_COND_INITIALIZER,             \
		.done_cond = PTHREAD_COND_INITIALIZER                                              \
	}

static struct queue closes = QUEUE_INIT, removals = QUEUE_INIT;

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

static void *queue_main(void *arg)
{
	struct queue *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct job j;

		while (!q->n && !q->quit)
			pthread_cond_wait(&q->queued, &q->lock);
		if (!q->n)
			break;
		j = q->jobs[0];
		q->n--;
		for (size_t i = 0; i < q->n; i++)
			q->jobs[i] = q->jobs[i + 1];
		pthread_mutex_unlock(&q->lock);
		run(&j);
		pthread_mutex_lock(&q->lock);
		q->done++;
		pthread_cond_broadcast(&q->done_cond);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* Room for one more (under the lock). */
static bool grow(struct queue *q)
{
	size_t c = q->cap ? q->cap * 2 : 64;
	struct job *nj = realloc(q->jobs, c * sizeof(*nj));

	if (!nj)
		return false;
	q->jobs = nj;
	q->cap = c;
	return true;
}

/* Queue j; its ticket, or 0 if it was done here (no thread to be had). */
static uint64_t put(struct queue *q, struct job j)
{
	uint64_t t;

	pthread_mutex_lock(&q->lock);
	if (!q->running && !q->quit) {
		sigset_t all, old;

		/* signals stay the loop's (signalfd) */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		q->running = pthread_create(&q->thread, NULL, queue_main, q) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (!q->running || q->quit || (q->n == q->cap && !grow(q))) {
		pthread_mutex_unlock(&q->lock);
		run(&j);
		return 0;
	}
	q->jobs[q->n++] = j;
	t = ++q->tickets;
	pthread_cond_signal(&q->queued);
	pthread_mutex_unlock(&q->lock);
	return t;
}

static void queue_stop(struct queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->quit = true;
	pthread_cond_signal(&q->queued);
	pthread_mutex_unlock(&q->lock);
	if (q->running)
		pthread_join(q->thread, NULL);
	pthread_mutex_lock(&q->lock);
	q->running = false;
	q->quit = false; /* a daemon started again in this process (tests) */
	free(q->jobs);
	q->jobs = NULL;
	q->n = q->cap = 0;
	pthread_cond_broadcast(&q->done_cond);
	pthread_mutex_unlock(&q->lock);
}

uint64_t closer_put(int fd)
{
	if (fd < 0)
		return 0;
	return put(&closes, (struct job){ .fd = fd });
}

void closer_wait(uint64_t ticket)
{
	pthread_mutex_lock(&closes.lock);
	while (closes.running && closes.done < ticket)
		pthread_cond_wait(&closes.done_cond, &closes.lock);
	pthread_mutex_unlock(&closes.lock);
}

void closer_remove(char *path)
{
	if (path)
		put(&removals, (struct job){ .fd = -1, .path = path });
}

void closer_stop(void)
{
	queue_stop(&closes);
	queue_stop(&removals);
}

void closer_sweep_retired(const char *private_dir, const char *dumps_dir)
{
	const char *dirs[] = { private_dir, dumps_dir };

	for (size_t i = 0; i < 2; i++) {
		_cleanup_closedir_ DIR *d = dirs[i] ? opendir(dirs[i]) : NULL;
		struct dirent *e;

		while (d && (e = readdir(d))) {
			char *p = NULL;

			if (!(i == 0 ? cowfs_private_is_retired(e->d_name)
				     : strstr(e->d_name, ".gone.") != NULL) ||
			    asprintf(&p, "%s/%s", dirs[i], e->d_name) < 0)
				continue;
			st_info("removing `%s`, left by a destroy or resume", p);
			closer_remove(p);
		}
	}
}
