/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libstrata_client: talk to stratad over its unix socket (runtime/api.h).
 *
 * One request per call: connect, send one line of JSON (optionally with fds
 * by SCM_RIGHTS), hand every event line to a callback, and return the final
 * reply. An error reply becomes a struct st_error whose exit_code is the
 * reply's "exit"; a daemon that cannot be reached gives ST_EXIT_NODAEMON.
 */
#ifndef STRATA_CLI_CLIENT_H
#define STRATA_CLI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "ksal/error.h"

struct st_client;

/* The socket to use: override if non-NULL and non-empty, else $STRATA_SOCKET,
 * else STRATA_API_DEFAULT_SOCKET. */
const char *st_client_socket_path(const char *override);

/* Connect to stratad at path. On failure: "cannot reach stratad at PATH:
 * ERRNO (is stratad running?)", exit code ST_EXIT_NODAEMON. */
int st_client_connect(const char *path, struct st_client **out, struct st_error **err);
void st_client_free(struct st_client *c);
static inline void st_client_freep(struct st_client **c)
{
	if (*c)
		st_client_free(*c);
	*c = NULL;
}
#define _cleanup_client_ __attribute__((cleanup(st_client_freep)))

/* The connected socket (for console's byte stream after the reply). */
int st_client_fd(const struct st_client *c);

/* Send one request line; fds (may be NULL/0) travel with it by SCM_RIGHTS. */
int st_client_send(struct st_client *c, json_t *req, const int *fds, size_t nfds,
		   struct st_error **err);

/* Called for each event line ({"event": ...}); a negative return aborts
 * the read with that error (the callback fills err). */
typedef int (*st_client_event_fn)(json_t *event, void *data, struct st_error **err);

/*
 * Read event lines and the final reply. On {"ok": true} store the "result"
 * object (a new reference, an empty object if absent) in *result (may be
 * NULL) and return 0. On {"ok": false} return -1 with *err holding the
 * reply's "error" and "exit". A closed connection or a malformed line is
 * an ST_EXIT_PROTOCOL error.
 */
int st_client_read_reply(struct st_client *c, st_client_event_fn on_event, void *data,
			 json_t **result, struct st_error **err);

/*
 * One step of st_client_read_reply() for a caller that polls the socket:
 * the lines already received, then one read (which blocks unless the socket
 * is readable), then the lines it brought. 1: no final reply yet; 0 and -1
 * as st_client_read_reply(). A closed connection is an ST_EXIT_PROTOCOL
 * error, and st_client_closed() is true from then on.
 */
int st_client_read_some(struct st_client *c, st_client_event_fn on_event, void *data,
			json_t **result, struct st_error **err);
bool st_client_closed(const struct st_client *c);

/* An fd that came with the daemon's lines (SCM_RIGHTS; an event says what
 * it is), oldest first, now the caller's; -1 if none is left. */
int st_client_take_fd(struct st_client *c);

/* Bytes read past the final reply line (console streams start there).
 * The pointer stays valid until the next call on c. */
const char *st_client_buffered(const struct st_client *c, size_t *len);

/* Connect, send, read: the whole round trip for one request. */
int st_client_call(const char *path, json_t *req, const int *fds, size_t nfds,
		   st_client_event_fn on_event, void *data, json_t **result, struct st_error **err);

/* Decode one reply line (exposed for tests). Returns 1 for an event (stored
 * in *event), 0 for a final ok reply (*result), -1 for an error reply or a
 * malformed line (*err). */
int st_client_parse_line(const char *line, size_t len, json_t **event, json_t **result,
			 struct st_error **err);

#endif
