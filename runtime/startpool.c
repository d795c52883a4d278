/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Starts on worker threads (START_WORKERS, issue 4: density).
 *
 * The event loop stays the only place that changes the registry, answers
 * clients and supervises: a `start` request is checked and its container
 * locked on the loop, then queued; a worker does the blocking kernel work
 * (ct_start_run: root, guest files, cgroups, console, the init's clone,
 * network); the result is posted back through an eventfd, and the loop
 * commits it (ct_start_commit: pidfd watch, state file) or undoes it
 * (ct_cleanup_after_exit), replies and unlocks.
 *
 * Shared daemon state: the loop holds the daemon lock (`big`) whenever it
 * is not waiting in epoll_wait; a worker takes it (daemon_lock()) only for
 * its short sections that read or write what the loop also uses (the
 * container's struct fields, the registry walk of the ID_BASE check, the
 * cgroup manager, template layer holds, the lxcfs view, KSM), never across
 * a mount, a clone or a wait. On the loop thread daemon_lock() does nothing:
 * the loop already holds it, and a start the loop runs itself (restart,
 * ONBOOT, a reboot from inside, START_WORKERS=1) goes through the same code.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/spawn.h"
#include "runtime/daemon.h"

struct start_job {
	struct ct *ct;
	struct conn *c;
	bool wait; /* start --wait */
	bool ran;  /* a worker ran it (else cancelled: nothing to undo) */
	int r;
	struct ksal_spawned sp;
	struct st_error *err;
	/* a job of another kind (pool_submit_work): work() on a worker,
	 * without the daemon lock; fin() on the loop (ran false: cancelled) */
	void (*work)(void *data);
	void (*fin)(struct daemon *d, void *data, bool ran);
	void *data;
	struct start_job *next;
};

struct start_pool {
	struct daemon *d;
	pthread_mutex_t big; /* the daemon lock */
	bool loop_holds;     /* the loop holds big (loop thread only) */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;	   /* a job queued, or quit */
	pthread_cond_t ready_cond; /* a worker is ready */
	struct start_job *queue, **queue_tail;
	struct start_job *done, **done_tail;
	unsigned n, ready, failed;
	bool quit;
	pthread_t *threads;
	size_t busy; /* submitted, not yet committed (loop only) */
	struct watch w;
};

static __thread bool in_worker;

void daemon_lock(struct daemon *d)
{
	if (in_worker)
		pthread_mutex_lock(&d->pool->big);
}

void daemon_unlock(struct daemon *d)
{
	if (in_worker)
		pthread_mutex_unlock(&d->pool->big);
}

void daemon_loop_lock(struct daemon *d)
{
	if (d->pool && !d->pool->loop_holds) {
		pthread_mutex_lock(&d->pool->big);
		d->pool->loop_holds = true;
	}
}

void daemon_loop_unlock(struct daemon *d)
{
	if (d->pool && d->pool->loop_holds) {
		d->pool->loop_holds = false;
		pthread_mutex_unlock(&d->pool->big);
	}
}

static void *worker_main(void *arg)
{
	struct start_pool *p = arg;
	_cleanup_error_ struct st_error *err = NULL;
	int r;

	in_worker = true;
	/* before the loop goes on: a thread shares the creator's fs_struct,
	 * and neither could enter a build mount namespace (ksal/spawn-ns.c) */
	r = ksal_spawn_thread_init(&err);
	pthread_mutex_lock(&p->qlock);
	p->ready++;
	if (r < 0) {
		st_warn("start worker: %s", err->msg);
		p->failed++;
	}
	pthread_cond_broadcast(&p->ready_cond);
	for (;;) {
		struct start_job *j;
		uint64_t one = 1;
		int later;

		while (!p->queue && !p->quit && r == 0)
			pthread_cond_wait(&p->qcond, &p->qlock);
		if (!p->queue || r < 0)
			break;
		j = p->queue;
		p->queue = j->next;
		if (!p->queue)
			p->queue_tail = &p->queue;
		pthread_mutex_unlock(&p->qlock);

		j->ran = true;
		j->next = NULL;
		later = -1;
		if (j->work)
			j->work(j->data);
		else
			j->r = ct_start_run(p->d, j->ct, &j->sp, &later, &j->err);

		pthread_mutex_lock(&p->qlock);
		*p->done_tail = j;
		p->done_tail = &j->next;
		if (write(p->w.fd, &one, sizeof(one)) < 0)
			st_warn("start worker: post a result: %s", strerror(errno));
		if (later >= 0) {
			/* the build namespace's teardown (an RCU grace period)
			 * while the loop answers */
			pthread_mutex_unlock(&p->qlock);
			close(later);
			pthread_mutex_lock(&p->qlock);
		}
	}
	pthread_mutex_unlock(&p->qlock);
	return NULL;
}

static void pool_free(struct start_pool *p)
{
	pthread_mutex_destroy(&p->big);
	pthread_mutex_destroy(&p->qlock);
	pthread_cond_destroy(&p->qcond);
	pthread_cond_destroy(&p->ready_cond);
	if (p->w.fd >= 0)
		close(p->w.fd);
	free(p->threads);
	free(p);
}

/* Stop and join the first n threads. */
static void pool_join(struct start_pool *p, unsigned n)
{
	pthread_mutex_lock(&p->qlock);
	p->quit = true;
	pthread_cond_broadcast(&p->qcond);
	pthread_mutex_unlock(&p->qlock);
	for (unsigned i = 0; i < n; i++)
		pthread_join(p->threads[i], NULL);
}

unsigned start_workers_count(const struct g_config *g)
{
	long n = (long)g->start_workers;

	if (n == 0) {
		n = sysconf(_SC_NPROCESSORS_ONLN);
		if (n < 1)
			n = 1;
	}
	return n > G_START_WORKERS_MAX ? G_START_WORKERS_MAX : (unsigned)n;
}

int start_pool_start(struct daemon *d, struct st_error **err)
{
	unsigned n = start_workers_count(d->g);
	struct start_pool *p;
	unsigned made = 0;

	if (d->pool || n <= 1)
		return 0; /* every start on the loop */
	p = calloc(1, sizeof(*p));
	if (!p)
		return st_error_set(err, ENOMEM, "start workers");
	p->d = d;
	p->queue_tail = &p->queue;
	p->done_tail = &p->done;
	p->n = n;
	pthread_mutex_init(&p->big, NULL);
	pthread_mutex_init(&p->qlock, NULL);
	pthread_cond_init(&p->qcond, NULL);
	pthread_cond_init(&p->ready_cond, NULL);
	p->w = (struct watch){ W_START_DONE, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), p };
	p->threads = calloc(n, sizeof(*p->threads));
	if (p->w.fd < 0 || !p->threads || watch_add(d, &p->w, EPOLLIN) < 0) {
		int e = p->threads ? errno : ENOMEM;

		pool_free(p);
		return st_error_set(err, e, "start workers");
	}
	/* the workers inherit the loop's signal mask (daemon_init blocked
	 * every signal the signalfd reads) */
	for (; made < n; made++) {
		int r = pthread_create(&p->threads[made], NULL, worker_main, p);

		if (r != 0) {
			st_error_set(err, r, "start worker %u of %u", made + 1, n);
			break;
		}
	}
	pthread_mutex_lock(&p->qlock);
	while (p->ready < made)
		pthread_cond_wait(&p->ready_cond, &p->qlock);
	pthread_mutex_unlock(&p->qlock);
	if (made < n || p->failed) {
		pool_join(p, made);
		watch_del(d, &p->w);
		pool_free(p);
		if (err && !*err)
			st_error_setx(err, ST_EXIT_SYSTEM, 0, "start workers: see the log");
		return -1;
	}
	d->pool = p;
	daemon_loop_lock(d);
	st_info("%u start workers", n);
	return 0;
}

bool start_pool_idle(struct daemon *d)
{
	return !d->pool || d->pool->busy == 0;
}

static void pool_queue(struct start_pool *p, struct start_job *j)
{
	p->busy++;
	pthread_mutex_lock(&p->qlock);
	*p->queue_tail = j;
	p->queue_tail = &j->next;
	pthread_cond_signal(&p->qcond);
	pthread_mutex_unlock(&p->qlock);
}

int start_pool_submit(struct daemon *d, struct ct *ct, struct conn *c, bool wait,
		      struct st_error **err)
{
	struct start_pool *p = d->pool;
	struct start_job *j;

	if (d->quit)
		return st_error_setx(err, ST_EXIT_FAILED, 0, "start %s: stratad is shutting down",
				     ct->ctid);
	j = calloc(1, sizeof(*j));
	if (!j)
		return st_error_set(err, ENOMEM, "start %s", ct->ctid);
	j->ct = ct;
	j->c = c;
	j->wait = wait;
	c->refs++;
	ct->starting = true;
	pool_queue(p, j);
	return 1;
}

bool pool_submit_work(struct daemon *d, void (*work)(void *data),
		      void (*fin)(struct daemon *d, void *data, bool ran), void *data)
{
	struct start_pool *p = d->pool;
	struct start_job *j;

	if (!p || d->quit || !(j = calloc(1, sizeof(*j))))
		return false;
	j->work = work;
	j->fin = fin;
	j->data = data;
	pool_queue(p, j);
	return true;
}

/* On the loop: commit or undo a job, reply, unlock, and let the client go on. */
static void job_finish(struct daemon *d, struct start_job *j)
{
	_cleanup_error_ struct st_error *err = take_ptr(j->err);
	struct ct *ct = j->ct;
	struct conn *c = j->c;
	int r = j->r;

	if (j->fin) {
		d->pool->busy--;
		j->fin(d, j->data, j->ran);
		free(j);
		return;
	}

	ct->starting = false;
	d->pool->busy--;
	if (r < 0) {
		if (!err)
			st_error_setx(&err, ST_EXIT_FAILED, 0, "failed");
		st_error_prefix(&err, "start %s", ct->ctid);
		if (j->ran)
			ct_cleanup_after_exit(d, ct); /* as a failed start on the loop */
	} else {
		ct_start_commit(d, ct, &j->sp);
		if (j->wait)
			r = ct_start_wait(d, ct, c, &err);
	}
	free(j);
	if (ct->owner == c)
		ct_unlock(d, ct);
	if (r != 1) { /* 1: start --wait answers when systemd has booted */
		if (r < 0)
			reply_error(c, err);
		else
			reply_ok(c, NULL);
		conn_done(c);
	}
	conn_unref(c);
}

static struct start_job *take_list(struct start_job **head, struct start_job ***tail)
{
	struct start_job *l = *head;

	*head = NULL;
	*tail = head;
	return l;
}

void start_pool_on_done(struct daemon *d)
{
	struct start_pool *p = d->pool;
	struct start_job *l;
	uint64_t x;

	if (read(p->w.fd, &x, sizeof(x)) < 0 && errno != EAGAIN)
		st_warn("start workers: read the eventfd: %s", strerror(errno));
	pthread_mutex_lock(&p->qlock);
	l = take_list(&p->done, &p->done_tail);
	pthread_mutex_unlock(&p->qlock);
	while (l) {
		struct start_job *j = l;

		l = j->next;
		job_finish(d, j);
	}
}

void start_pool_cancel_queued(struct daemon *d)
{
	struct start_pool *p = d->pool;
	struct start_job *l;

	if (!p)
		return;
	pthread_mutex_lock(&p->qlock);
	l = take_list(&p->queue, &p->queue_tail);
	pthread_mutex_unlock(&p->qlock);
	while (l) {
		struct start_job *j = l;

		l = j->next;
		j->r = -1;
		st_error_setx(&j->err, ST_EXIT_FAILED, 0, "stratad is shutting down");
		job_finish(d, j);
	}
}

void start_pool_stop(struct daemon *d)
{
	struct start_pool *p = d->pool;

	if (!p)
		return;
	/* a job still running (the loop failed) needs the lock to end */
	daemon_loop_unlock(d);
	pool_join(p, p->n);
	watch_del(d, &p->w);
	for (struct start_job *j = p->done, *next; j; j = next) {
		next = j->next;
		if (!j->work && j->r == 0 && j->sp.pidfd >= 0)
			close(j->sp.pidfd); /* the init runs on, as after kill -9 */
		st_error_freep(&j->err);
		free(j);
	}
	for (struct start_job *j = p->queue, *next; j; j = next) {
		next = j->next;
		free(j);
	}
	d->pool = NULL;
	pool_free(p);
}
