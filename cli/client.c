/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/client.h"
#include "ksal/cleanup.h"
#include "ksal/fdpass.h"
#include "ksal/log.h"
#include "runtime/api.h"

#define CLIENT_MAX_RFDS 4

struct st_client {
	int fd;
	char *path;
	char *buf; /* bytes received and not yet consumed */
	size_t len, cap;
	size_t start;		   /* first unconsumed byte */
	int rfds[CLIENT_MAX_RFDS]; /* fds received with the bytes (SCM_RIGHTS), oldest first */
	size_t nrfds;
	bool eof; /* the daemon closed the connection */
};

const char *st_client_socket_path(const char *override)
{
	const char *env;

	if (override && *override)
		return override;
	env = getenv("STRATA_SOCKET");
	if (env && *env)
		return env;
	return STRATA_API_DEFAULT_SOCKET;
}

void st_client_free(struct st_client *c)
{
	if (!c)
		return;
	closep(&c->fd);
	for (size_t i = 0; i < c->nrfds; i++)
		close(c->rfds[i]);
	free(c->path);
	free(c->buf);
	free(c);
}

int st_client_fd(const struct st_client *c)
{
	return c->fd;
}

int st_client_connect(const char *path, struct st_client **out, struct st_error **err)
{
	_cleanup_(st_client_freep) struct st_client *c = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t plen = strlen(path);

	if (plen == 0 || plen >= sizeof(sa.sun_path))
		return st_error_setx(err, ST_EXIT_NODAEMON, ENAMETOOLONG,
				     "cannot reach stratad at %s", path);
	memcpy(sa.sun_path, path, plen + 1);

	c = calloc(1, sizeof(*c));
	if (!c)
		return st_error_set(err, ENOMEM, "connect to stratad");
	c->fd = -EBADF;
	c->path = strdup(path);
	if (!c->path)
		return st_error_set(err, ENOMEM, "connect to stratad");
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return st_error_set(err, errno, "create a socket for stratad");
	while (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EACCES || errno == EPERM)
			return st_error_setx(err, ST_EXIT_PERM, 0,
					     "permission denied on stratad's socket %s: only root "
					     "and members of group `strata` may use it",
					     path);
		return st_error_setx(err, ST_EXIT_NODAEMON, 0,
				     "cannot reach stratad at %s: %s (is stratad running?)", path,
				     strerror(errno));
	}
	st_trace("connected to stratad at %s", path);
	*out = take_ptr(c);
	return 0;
}

int st_client_send(struct st_client *c, json_t *req, const int *fds, size_t nfds,
		   struct st_error **err)
{
	_cleanup_free_ char *line = NULL;
	size_t len, off = 0;

	line = json_dumps(req, JSON_COMPACT);
	if (!line)
		return st_error_setx(err, ST_EXIT_PROTOCOL, 0, "encode the request");
	len = strlen(line);
	if (len + 1 > STRATA_API_MAX_LINE)
		return st_error_setx(err, ST_EXIT_PROTOCOL, 0,
				     "request too long (%zu bytes, at most %d)", len,
				     STRATA_API_MAX_LINE);
	line[len++] = '\n'; /* replaces the NUL; len now counts it */
	st_trace("request: %.*s", (int)len - 1, line);

	if (nfds > 0) {
		ssize_t n = ksal_send_fds(c->fd, line, len, fds, nfds);

		if (n < 0)
			return st_error_set(err, errno, "send the request to stratad at %s",
					    c->path);
		off = (size_t)n;
	}
	while (off < len) {
		ssize_t n = send(c->fd, line + off, len - off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return st_error_set(err, errno, "send the request to stratad at %s",
					    c->path);
		}
		off += (size_t)n;
	}
	return 0;
}

int st_client_parse_line(const char *line, size_t len, json_t **event, json_t **result,
			 struct st_error **err)
{
	json_error_t jerr;
	json_t *j, *ok, *ev;

	j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return st_error_setx(err, ST_EXIT_PROTOCOL, 0,
				     "malformed reply from stratad: %s (column %d)", jerr.text,
				     jerr.column);
	if (!json_is_object(j)) {
		json_decref(j);
		return st_error_setx(err, ST_EXIT_PROTOCOL, 0,
				     "malformed reply from stratad: not a JSON object");
	}
	ev = json_object_get(j, "event");
	if (ev) {
		if (!json_is_string(ev)) {
			json_decref(j);
			return st_error_setx(
				err, ST_EXIT_PROTOCOL, 0,
				"malformed event from stratad: \"event\" is not a string");
		}
		*event = j;
		return 1;
	}
	ok = json_object_get(j, "ok");
	if (!json_is_boolean(ok)) {
		json_decref(j);
		return st_error_setx(err, ST_EXIT_PROTOCOL, 0,
				     "malformed reply from stratad: no \"ok\" or \"event\"");
	}
	if (json_is_true(ok)) {
		json_t *res = json_object_get(j, "result");
		if (result) {
			if (res)
				*result = json_incref(res);
			else
				*result = json_object();
		}
		json_decref(j);
		return 0;
	}

	const char *msg = json_string_value(json_object_get(j, "error"));
	json_t *code = json_object_get(j, "exit");
	int exit_code = ST_EXIT_FAILED;

	if (json_is_integer(code) && json_integer_value(code) > 0 && json_integer_value(code) < 256)
		exit_code = (int)json_integer_value(code);
	st_error_setx(err, exit_code, 0, "%s", msg && *msg ? msg : "stratad reported an error");
	json_decref(j);
	return -1;
}

/* Read more bytes into c->buf; 0 on EOF, >0 bytes read, <0 error. */
static ssize_t client_fill(struct st_client *c, struct st_error **err)
{
	ssize_t n;

	if (c->start > 0 && c->start == c->len) {
		c->start = c->len = 0;
	} else if (c->start > 0 && c->len == c->cap) {
		memmove(c->buf, c->buf + c->start, c->len - c->start);
		c->len -= c->start;
		c->start = 0;
	}
	if (c->len == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 4096;
		char *nb;

		if (c->len - c->start > STRATA_API_MAX_LINE)
			return st_error_setx(err, ST_EXIT_PROTOCOL, 0,
					     "reply line from stratad longer than %d bytes",
					     STRATA_API_MAX_LINE);
		nb = realloc(c->buf, ncap);
		if (!nb)
			return st_error_set(err, ENOMEM, "read the reply from stratad");
		c->buf = nb;
		c->cap = ncap;
	}
	n = ksal_recv_fds(c->fd, c->buf + c->len, c->cap - c->len, 0, c->rfds, &c->nrfds,
			  CLIENT_MAX_RFDS);
	if (n < 0)
		return st_error_set(err, errno, "read the reply from stratad at %s", c->path);
	c->len += (size_t)n;
	if (n == 0)
		c->eof = true;
	return n;
}

int st_client_take_fd(struct st_client *c)
{
	int fd;

	if (c->nrfds == 0)
		return -1;
	fd = c->rfds[0];
	memmove(c->rfds, c->rfds + 1, (c->nrfds - 1) * sizeof(int));
	c->nrfds--;
	return fd;
}

bool st_client_closed(const struct st_client *c)
{
	return c->eof;
}

/* Hand every complete line in the buffer on: 1 while no final reply came,
 * 0 with the final reply, <0 for an error (reply or malformed line). */
static int client_lines(struct st_client *c, st_client_event_fn on_event, void *data,
			json_t **result, struct st_error **err)
{
	for (;;) {
		char *line = c->buf ? c->buf + c->start : NULL;
		char *nl = line ? memchr(line, '\n', c->len - c->start) : NULL;
		size_t llen;
		json_t *event = NULL;
		int r;

		if (!nl)
			return 1;
		llen = (size_t)(nl - line);
		c->start += llen + 1;
		if (llen == 0)
			continue;
		st_trace("reply: %.*s", (int)llen, line);
		r = st_client_parse_line(line, llen, &event, result, err);
		if (r <= 0)
			return r;
		r = on_event ? on_event(event, data, err) : 0;
		json_decref(event);
		if (r < 0)
			return r;
	}
}

int st_client_read_some(struct st_client *c, st_client_event_fn on_event, void *data,
			json_t **result, struct st_error **err)
{
	int r = client_lines(c, on_event, data, result, err);
	ssize_t n;

	if (r <= 0)
		return r;
	n = client_fill(c, err);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return st_error_setx(err, ST_EXIT_PROTOCOL, 0,
				     "stratad at %s closed the connection before replying",
				     c->path);
	return client_lines(c, on_event, data, result, err);
}

int st_client_read_reply(struct st_client *c, st_client_event_fn on_event, void *data,
			 json_t **result, struct st_error **err)
{
	int r;

	while ((r = st_client_read_some(c, on_event, data, result, err)) > 0)
		;
	return r;
}

const char *st_client_buffered(const struct st_client *c, size_t *len)
{
	*len = c->len - c->start;
	return c->buf ? c->buf + c->start : "";
}

int st_client_call(const char *path, json_t *req, const int *fds, size_t nfds,
		   st_client_event_fn on_event, void *data, json_t **result, struct st_error **err)
{
	_cleanup_client_ struct st_client *c = NULL;
	int r;

	r = st_client_connect(path, &c, err);
	if (r < 0)
		return r;
	r = st_client_send(c, req, fds, nfds, err);
	if (r < 0)
		return r;
	return st_client_read_reply(c, on_event, data, result, err);
}
