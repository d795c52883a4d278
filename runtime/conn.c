/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The API socket's side of stratad: replies (lines of JSON, an fd with an
 * event), connections (accept with the peer's credentials, the request
 * lines, hangups) split out of server.c, which keeps the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/fdpass.h"
#include "ksal/log.h"
#include "runtime/api.h"
#include "runtime/daemon.h"

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
		/* fd (if any) goes with the first byte */
		ssize_t w = ksal_send_fds(c->w.fd, s + off, len - off, &fd,
					  fd >= 0 && off == 0 ? 1 : 0);

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

void conn_free(struct daemon *d, struct conn *c)
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

void free_dead_conns(struct daemon *d)
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

void on_accept(struct daemon *d)
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

void on_conn(struct daemon *d, struct conn *c, uint32_t events)
{
	char buf[65536];
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
	n = ksal_recv_fds(c->w.fd, buf, sizeof(buf), MSG_DONTWAIT, c->fds, &c->nfds,
			  ARRAY_SIZE(c->fds));
	if (n < 0 && errno == EAGAIN)
		return;
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

void conns_kick(struct daemon *d)
{
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
}
