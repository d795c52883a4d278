/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The event loop: watches, signals, daemon_init, daemon_run and daemon_fini
 * (the socket's connections and replies are in conn.c). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "ksal/cgroup.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/spawn.h"
#include "runtime/api.h"
#include "runtime/daemon.h"
#include "templates/template.h"

int watch_add(struct daemon *d, struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, w->fd, &ev);
}

void watch_del(struct daemon *d, struct watch *w)
{
	if (w->fd >= 0)
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

void daemon_notify(struct daemon *d, const char *fmt, ...)
{
	_cleanup_free_ char *s = NULL;
	va_list ap;

	if (!d->notify)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s)
		sd_notify(0, s);
}

/* ---- signals and the loop ---- */

static void on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->signal_w.fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			st_info("signal %d: shutting down%s", (int)si.ssi_signo,
				d->g->stop_mode == G_STOP_STOP	    ? ", stopping containers"
				: d->g->stop_mode == G_STOP_SUSPEND ? ", suspending containers"
								    : ", containers keep running");
			d->quit = true;
			d->stop_all = d->g->stop_mode == G_STOP_STOP;
			break;
		case SIGCHLD:
			d->reap_pending = true; /* reaped after this event batch */
			break;
		case SIGHUP:
			st_info("SIGHUP: reloading the container registry");
			{
				_cleanup_error_ struct st_error *err = NULL;
				if (ct_registry_load(d, &err) < 0)
					st_warn("reload: %s", err->msg);
			}
			break;
		default:
			break;
		}
	}
}

static int listen_socket(const char *path, gid_t gid, bool have_gid, struct st_error **err)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;

	if (fd < 0)
		return st_error_set(err, errno, "socket for `%s`", path);
	if (strlen(path) >= sizeof(sa.sun_path))
		return st_error_setx(err, ST_EXIT_BADVALUE, ENAMETOOLONG, "socket path `%s`", path);
	strcpy(sa.sun_path, path);
	/* a stale socket of a dead daemon: refuse if someone still answers */
	{
		_cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return st_error_setx(err, ST_EXIT_LOCKED, EADDRINUSE,
					     "listen on `%s`: another stratad is running", path);
	}
	unlink(path);
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		umask(old);
		return st_error_set(err, e, "bind `%s`", path);
	}
	umask(old);
	if (chmod(path, 0660) < 0)
		return st_error_set(err, errno, "chmod `%s`", path);
	if (have_gid && chown(path, 0, gid) < 0)
		st_warn("chown `%s` to group strata: %s", path, strerror(errno));
	if (listen(fd, 128) < 0)
		return st_error_set(err, errno, "listen on `%s`", path);
	return take_fd(fd);
}

static int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int daemon_init(struct daemon *d, struct g_config *g, struct st_error **err)
{
	const char *dirs[] = { g->conf_dir, g->state_dir, g->run_dir, g->private_dir, g->root_dir };
	_cleanup_free_ char *ctrun = NULL;
	struct tmpl_store_opts topts = { 0 };
	struct group *gr;
	sigset_t mask;
	int fd;

	memset(d, 0, sizeof(*d));
	d->g = g;
	d->seccomp_fd = -EBADF;
	d->keeper_fd = -EBADF;
	d->epfd = -EBADF;
	d->listen_w.fd = d->signal_w.fd = d->watchdog_w.fd = d->lxcfs_w.fd = -EBADF;
	d->notify = getenv("NOTIFY_SOCKET") != NULL;
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		int r = mkdir_p(dirs[i], 0755);
		if (r < 0)
			return st_error_set(err, -r, "create directory `%s`", dirs[i]);
	}
	if (asprintf(&ctrun, "%s/ct", g->run_dir) < 0)
		return st_error_set(err, ENOMEM, "init");
	if (mkdir_p(ctrun, 0700) < 0)
		return st_error_set(err, errno, "create directory `%s`", ctrun);

	gr = getgrnam("strata");
	if (gr) {
		d->strata_gid = gr->gr_gid;
		d->have_strata_gid = true;
	}

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0)
		return st_error_set(err, errno, "epoll_create1");

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGPIPE);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return st_error_set(err, errno, "sigprocmask");
	d->signal_w =
		(struct watch){ W_SIGNAL, signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK), d };
	if (d->signal_w.fd < 0 || watch_add(d, &d->signal_w, EPOLLIN) < 0)
		return st_error_set(err, errno, "signalfd");

	if (ksal_cgroup_mgr_new(g->cgroup_root, g->cgroup_subtree, &d->cg, err) < 0)
		return st_error_prefix(err, "cgroups");
	st_info("cgroups: %s layout, subtree `%s`",
		ksal_cgroup_layout_name(ksal_cgroup_mgr_layout(d->cg)), g->cgroup_subtree);

	topts.templates_dir = g->template_dir;
	topts.init_path = g->init_path;
	topts.recipes_dir = g->recipes_dir;
	topts.cache_dir = g->cache_dir;
	if (tmpl_store_open(&topts, &d->store, err) < 0)
		return st_error_prefix(err, "template store");

	if (ksal_seccomp_default(&d->seccomp_fd, err) < 0)
		return st_error_prefix(err, "seccomp");

	if (ct_registry_load(d, err) < 0)
		return -1;
	{
		_cleanup_free_ char *dumps = NULL;

		if (asprintf(&dumps, "%s/dumps", g->state_dir) < 0)
			dumps = NULL;
		closer_sweep_retired(g->private_dir, dumps);
	}
	keeper_connect(d); /* the consoles kept across a restart */
	ct_adopt_all(d);
	keeper_release_unclaimed(d);
	layer_holds_load(d);
	view_start(d);
	if (daemon_subreaper_init(err) < 0) /* checkpoint area */
		return -1;
	ct_resume_after_shutdown(d); /* VE_STOP_MODE=suspend */
	ct_start_onboot(d);

	fd = listen_socket(g->socket, d->strata_gid, d->have_strata_gid, err);
	if (fd < 0)
		return -1;
	d->listen_w = (struct watch){ W_LISTEN, fd, d };
	if (watch_add(d, &d->listen_w, EPOLLIN) < 0)
		return st_error_set(err, errno, "epoll add listen socket");

	/* watchdog: ping at half the interval systemd asks for */
	{
		uint64_t usec = 0;
		if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
			struct itimerspec its = { 0 };
			its.it_interval.tv_sec = (time_t)(usec / 2 / 1000000);
			its.it_interval.tv_nsec = (long)((usec / 2 % 1000000) * 1000);
			its.it_value = its.it_interval;
			d->watchdog_w = (struct watch){
				W_WATCHDOG,
				timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK), d
			};
			if (d->watchdog_w.fd >= 0) {
				timerfd_settime(d->watchdog_w.fd, 0, &its, NULL);
				watch_add(d, &d->watchdog_w, EPOLLIN);
			}
		}
	}
	return 0;
}

static size_t count_running(struct daemon *d)
{
	size_t n = 0;

	for (struct ct *ct = d->cts; ct; ct = ct->next)
		if (ct->run != CT_STOPPED)
			n++;
	return n;
}

int daemon_run(struct daemon *d)
{
	bool quit_seen = false, stopping_sent = false;
	_cleanup_error_ struct st_error *err = NULL;

	/* after daemon_init: the workers inherit its signal mask */
	if (start_pool_start(d, &err) < 0) {
		st_warn("%s: every start runs on the event loop", err->msg);
		st_error_freep(&err);
	}
	daemon_notify(d, "READY=1\nSTATUS=%zu containers running", count_running(d));
	st_info("stratad %s ready on %s", STRATA_VERSION, d->g->socket);
	for (;;) {
		struct epoll_event evs[64];
		int n;

		if (d->quit && !quit_seen) {
			quit_seen = true;
			daemon_notify(d, "STOPPING=1");
			if (d->listen_w.fd >= 0) {
				watch_del(d, &d->listen_w);
				close(d->listen_w.fd);
				d->listen_w.fd = -EBADF;
				unlink(d->g->socket);
			}
			/* a start no worker has begun is refused; the running ones
			 * finish (committed, then stopped or left running as the
			 * others) before the daemon goes */
			start_pool_cancel_queued(d);
		}
		if (d->quit && start_pool_idle(d)) {
			if (!stopping_sent) {
				stopping_sent = true;
				if (d->g->stop_mode == G_STOP_SUSPEND) /* checkpoint area */
					ct_suspend_for_shutdown(d);
				if (d->stop_all)
					for (struct ct *ct = d->cts; ct; ct = ct->next)
						if (ct->run == CT_RUNNING && !ct->locked) {
							_cleanup_error_ struct st_error *e = NULL;
							ct->locked = true;
							if (ct_do_stop(d, ct, false, &e) < 0) {
								st_warn("%s", e->msg);
								ct->locked = false;
							}
						}
			}
			if (!d->stop_all || count_running(d) == 0)
				break;
		}
		/* the workers take the daemon lock only while the loop waits */
		daemon_loop_unlock(d);
		/* the console keeper gets its copies once the loop is idle, off
		 * every start's path */
		n = epoll_wait(d->epfd, evs, ARRAY_SIZE(evs), keeper_timeout(d));
		daemon_loop_lock(d);
		keeper_after_wait(d, n);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			st_error_log("epoll_wait: %s", strerror(errno));
			start_pool_stop(d);
			return -1;
		}
		for (int i = 0; i < n; i++) {
			struct watch *w = evs[i].data.ptr;
			switch (w->kind) {
			case W_LISTEN:
				on_accept(d);
				break;
			case W_SIGNAL:
				on_signal(d);
				break;
			case W_CONN:
				on_conn(d, w->obj, evs[i].events);
				break;
			case W_CT_INIT:
				ct_on_init_exit(d, w->obj);
				break;
			case W_CT_CONSOLE:
				ct_on_console(d, w->obj, evs[i].events);
				break;
			case W_CT_TIMER: {
				uint64_t x;
				if (read(w->fd, &x, sizeof(x)) > 0)
					ct_on_stop_timeout(d, w->obj);
				break;
			}
			case W_EXEC:
			case W_WORKER:
				exec_on_exit(d, w->obj);
				break;
			case W_LXCFS:
				view_on_exit(d);
				break;
			case W_START_DONE:
				start_pool_on_done(d);
				break;
			case W_WATCHDOG: {
				uint64_t x;
				if (read(w->fd, &x, sizeof(x)) > 0)
					daemon_notify(d,
						      "WATCHDOG=1\nSTATUS=%zu containers running",
						      count_running(d));
				break;
			}
			}
		}
		conns_kick(d);
		/* a conn freed during the batch may still have had an event in it */
		free_dead_conns(d);
		/* orphans of the subreaper, only when a child has exited: a scan per
		 * event batch would cost one waitid per container */
		if (d->reap_pending) {
			d->reap_pending = false;
			daemon_reap_strays(d);
		}
	}
	start_pool_stop(d);
	st_info("stratad stopped; %zu containers left running", count_running(d));
	return 0;
}

void daemon_fini(struct daemon *d)
{
	start_pool_stop(d); /* daemon_run's already; daemon_init's failure */
	closer_stop();	    /* stopped containers' roots gone before the layers */
	keeper_flush(d);
	keeper_release_unclaimed(d);
	if (d->keeper_fd >= 0) /* the keeper reads the consoles until the next daemon */
		close(d->keeper_fd);
	view_stop(d);
	if (count_running(d) == 0)
		layer_unhold(d, NULL, 0);
	else
		while (d->holds) { /* the layers stay mounted for the next daemon */
			struct layer_hold *h = d->holds;
			d->holds = h->next;
			free(h->layer_dir);
			free(h->image);
			free(h);
		}
	/* jobs still in flight at exit: their processes go on alone (an exec'd
	 * command in its container, a template worker to its end) */
	while (d->execs) {
		struct exec_job *j = d->execs;

		d->execs = j->next;
		if (j->w.fd >= 0)
			close(j->w.fd);
		free(j);
	}
	while (d->conns)
		conn_free(d, d->conns);
	free_dead_conns(d);
	while (d->cts) {
		struct ct *ct = d->cts;
		ct_forget(d, ct);
	}
	if (d->store)
		tmpl_store_free(d->store);
	if (d->cg) {
		/* Strata's subtree goes where no container's cgroup is left in it */
		ksal_cgroup_mgr_remove_subtree(d->cg);
		ksal_cgroup_mgr_free(d->cg);
	}
	if (d->seccomp_fd >= 0)
		close(d->seccomp_fd);
	if (d->signal_w.fd >= 0)
		close(d->signal_w.fd);
	if (d->watchdog_w.fd >= 0)
		close(d->watchdog_w.fd);
	if (d->listen_w.fd >= 0) {
		close(d->listen_w.fd);
		unlink(d->g->socket);
	}
	if (d->epfd >= 0)
		close(d->epfd);
}
