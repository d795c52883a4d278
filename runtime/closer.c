/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Closes fds whose last close is slow on a thread of its own, so the event
 * loop does not wait for them: a stopped container's detached root, whose
 * overlayfs syncs its upper filesystem as it goes (the host's filesystem
 * with everyone's dirty data: 0.6 s behind 1.5 GB of it, measured, and the
 * loop answered no one meanwhile). closer_wait() lets the next mount of
 * the same root wait for its predecessor to be gone.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "ksal/log.h"
#include "runtime/daemon.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queued_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int *queue;
static size_t n_queued, cap;
static uint64_t tickets, done; /* fds handed over, fds closed */
static bool running, quit;
static pthread_t thread;

static void *closer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		int fd;

		while (!n_queued && !quit)
			pthread_cond_wait(&queued_cond, &lock);
		if (!n_queued)
			break;
		fd = queue[0];
		n_queued--;
		for (size_t i = 0; i < n_queued; i++)
			queue[i] = queue[i + 1];
		pthread_mutex_unlock(&lock);
		close(fd);
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
	int *q = realloc(queue, c * sizeof(*q));

	if (!q)
		return false;
	queue = q;
	cap = c;
	return true;
}

uint64_t closer_put(int fd)
{
	uint64_t t;

	if (fd < 0)
		return 0;
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
		close(fd);
		return 0;
	}
	queue[n_queued++] = fd;
	t = ++tickets;
	pthread_cond_signal(&queued_cond);
	pthread_mutex_unlock(&lock);
	return t;
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
