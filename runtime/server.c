/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The API socket, the event loop and the verb dispatch (runtime/api.h). */
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

/* ---- replies ---- */

/* One line to the client; fd >= 0 travels with its first byte (SCM_RIGHTS). */
static int send_line(struct conn *c, json_t *j, int fd)
{
	_cleanup_free_ char *s = NULL;
	size_t len, off = 0;

	if (c->closed)
		return -EPIPE;
	s = json_dumps(j, JSON_COMPACT);
	if (!s)
		return -ENOMEM;
	len = strlen(s);
	s[len] = '\0';
	/* a reply line ends with '\n' */
	{
		char *n = realloc(s, len + 2);
		if (!n)
			return -ENOMEM;
		s = n;
		s[len++] = '\n';
		s[len] = '\0';
	}
	while (off < len) {
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct iovec iov = { s + off, len - off };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t w;

		if (fd >= 0 && off == 0) {
			struct cmsghdr *cm;

			memset(&u, 0, sizeof(u));
			msg.msg_control = u.b;
			msg.msg_controllen = sizeof(u.b);
			cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		}
		w = sendmsg(c->w.fd, &msg, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			st_debug("reply to pid %d: %s", (int)c->pid, strerror(errno));
			c->closed = true;
			return -errno;
		}
		off += (size_t)w;
	}
	return 0;
}

int reply_ok(struct conn *c, json_t *result)
{
	json_t *j = json_pack("{s:b,s:o}", "ok", 1, "result", result ? result : json_object());
	int r;

	if (!j)
		return -ENOMEM;
	r = send_line(c, j, -1);
	json_decref(j);
	return r;
}

int reply_error(struct conn *c, const struct st_error *err)
{
	json_t *j = json_pack("{s:b,s:s,s:i}", "ok", 0, "error",
			      err && err->msg ? err->msg : "unknown error", "exit",
			      err ? err->exit_code : ST_EXIT_FAILED);
	int r;

	if (!j)
		return -ENOMEM;
	if (err)
		st_debug("reply to pid %d: error %d: %s", (int)c->pid, err->exit_code, err->msg);
	r = send_line(c, j, -1);
	json_decref(j);
	return r;
}

int reply_event(struct conn *c, json_t *event)
{
	return reply_event_fd(c, event, -1);
}

int reply_event_fd(struct conn *c, json_t *event, int fd)
{
	int r = event ? send_line(c, event, fd) : -ENOMEM;

	json_decref(event);
	return r;
}

/* ---- connections ---- */

static void conn_close_fds(struct conn *c)
{
	for (size_t i = 0; i < c->nfds; i++)
		if (c->fds[i] >= 0)
			close(c->fds[i]);
	c->nfds = 0;
	for (size_t i = 0; i < ARRAY_SIZE(c->fds); i++)
		c->fds[i] = -EBADF;
}

static void conn_free(struct daemon *d, struct conn *c)
{
	if (c->dead)
		return;
	for (struct conn **p = &d->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	conn_close_fds(c);
	if (c->w.fd >= 0) {
		watch_del(d, &c->w);
		close(c->w.fd);
	}
	json_decref(c->parked);
	c->parked = NULL;
	free(c->buf);
	c->buf = NULL;
	c->w.fd = -EBADF;
	c->dead = true;
	c->next = d->dead_conns;
	d->dead_conns = c;
}

static void free_dead_conns(struct daemon *d)
{
	while (d->dead_conns) {
		struct conn *c = d->dead_conns;
		d->dead_conns = c->next;
		free(c);
	}
}

void conn_unref(struct conn *c)
{
	if (--c->refs <= 0 && c->closed)
		conn_free(c->d, c);
}

static void conn_hangup(struct conn *c)
{
	if (c->console)
		ct_console_detach(c);
	c->closed = true;
	watch_del(c->d, &c->w);
	if (c->refs <= 0)
		conn_free(c->d, c);
}

/*
 * The peer's own groups at connect(2) (SO_PEERGROUPS): what the kernel
 * checked against the socket's mode, whatever /etc/group says now (a group
 * given to a process alone, a user added but not logged in again).
 * /etc/group only where the kernel cannot say.
 */
static bool peer_in_group(int fd, uid_t uid, gid_t gid, gid_t want)
{
	struct passwd *pw;
	int n = 64;
	gid_t groups[64];
	socklen_t len = sizeof(groups);

	if (gid == want)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
		for (size_t i = 0; i < len / sizeof(gid_t); i++)
			if (groups[i] == want)
				return true;
		return false;
	}
	if (errno != ENOPROTOOPT && errno != ERANGE)
		return false;
	pw = getpwuid(uid);
	if (!pw)
		return false;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == want)
			return true;
	return false;
}

static void on_accept(struct daemon *d)
{
	for (;;) {
		_cleanup_close_ int fd =
			accept4(d->listen_w.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct conn *c;

		if (fd < 0)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
			continue;
		c = calloc(1, sizeof(*c));
		if (!c)
			continue;
		c->d = d;
		c->uid = cred.uid;
		c->gid = cred.gid;
		c->pid = cred.pid;
		c->authorized =
			cred.uid == 0 || (d->have_strata_gid &&
					  peer_in_group(fd, cred.uid, cred.gid, d->strata_gid));
		for (size_t i = 0; i < ARRAY_SIZE(c->fds); i++)
			c->fds[i] = -EBADF;
		c->w.kind = W_CONN;
		c->w.obj = c;
		c->w.fd = take_fd(fd);
		/* replies are small and written in one go: blocking, bounded */
		{
			int fl = fcntl(c->w.fd, F_GETFL);
			struct timeval tv = { .tv_sec = 5 };
			fcntl(c->w.fd, F_SETFL, fl & ~O_NONBLOCK);
			setsockopt(c->w.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		}
		if (watch_add(d, &c->w, EPOLLIN | EPOLLRDHUP) < 0) {
			close(c->w.fd);
			free(c);
			continue;
		}
		c->next = d->conns;
		d->conns = c;
		st_trace("connection from pid %d uid %d", (int)c->pid, (int)c->uid);
	}
}

void conn_done(struct conn *c)
{
	conn_close_fds(c);
	c->busy = false;
	if (c->len > 0)
		c->kick = true;
}

static void conn_process_lines(struct daemon *d, struct conn *c)
{
	while (!c->busy && !c->closed && !c->console) {
		char *nl = memchr(c->buf, '\n', c->len);
		json_error_t jerr;
		json_t *req;
		size_t linelen;

		if (!nl) {
			if (c->len > STRATA_API_MAX_LINE) {
				_cleanup_error_ struct st_error *err = NULL;
				st_error_setx(&err, ST_EXIT_PROTOCOL, 0,
					      "malformed request: line longer than %d bytes",
					      STRATA_API_MAX_LINE);
				reply_error(c, err);
				conn_hangup(c);
			}
			return;
		}
		linelen = (size_t)(nl - c->buf);
		req = json_loadb(c->buf, linelen, JSON_REJECT_DUPLICATES, &jerr);
		memmove(c->buf, nl + 1, c->len - linelen - 1);
		c->len -= linelen + 1;
		if (!req) {
			_cleanup_error_ struct st_error *err = NULL;
			st_error_setx(&err, ST_EXIT_PROTOCOL, 0,
				      "malformed request: %s (column %d)", jerr.text, jerr.column);
			reply_error(c, err);
			conn_close_fds(c);
			continue;
		}
		c->refs++;
		api_handle_request(d, c, req);
		json_decref(req);
		c->refs--;
		if (c->closed && c->refs <= 0) {
			conn_free(d, c);
			return;
		}
	}
}

static void on_conn(struct daemon *d, struct conn *c, uint32_t events)
{
	char buf[65536];
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cbuf.buf,
			      .msg_controllen = sizeof(cbuf.buf) };
	ssize_t n;

	if (c->dead)
		return;
	if (c->busy && !c->console) {
		/* a request is running: only notice a hangup */
		if (events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)) {
			c->closed = true;
			watch_del(d, &c->w);
		}
		return;
	}
	n = recvmsg(c->w.fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int *fds = (int *)CMSG_DATA(cm);
			for (size_t i = 0; i < k; i++) {
				if (c->nfds < ARRAY_SIZE(c->fds))
					c->fds[c->nfds++] = fds[i];
				else
					close(fds[i]);
			}
		}
	}
	if (n <= 0) {
		conn_hangup(c);
		return;
	}
	if (c->console) {
		conn_console_input(c, buf, (size_t)n);
		return;
	}
	if (c->len + (size_t)n + 1 > c->cap) {
		size_t cap = (c->len + (size_t)n + 1) * 2;
		char *nb = realloc(c->buf, cap);
		if (!nb) {
			conn_hangup(c);
			return;
		}
		c->buf = nb;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, buf, (size_t)n);
	c->len += (size_t)n;
	conn_process_lines(d, c);
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
		/* requests that arrived while their connection was busy */
		for (struct conn *c = d->conns; c; c = c->next) {
			if (!c->kick || c->busy || c->closed || c->dead)
				continue;
			c->kick = false;
			c->refs++;
			conn_process_lines(d, c);
			c->refs--;
			if (c->closed && c->refs <= 0) {
				conn_free(d, c);
				break; /* the list changed; the rest waits for the next batch */
			}
		}
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
