/* SPDX-License-Identifier: GPL-2.0-or-later */
/* strata console CTID: attach to the container's console; Esc . detaches. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/tty.h"
#include "ksal/cleanup.h"

#define ESC 0x1b

static const struct cli_opt no_opts[] = { { NULL, 0, false } };

static int console_parse(struct cli_cmd *cmd, int argc, char **argv, struct st_error **err)
{
	int r = cli_parse_ctid_flags(cmd, argc, argv, err);

	if (r == 0 && cmd->action == CLI_REQUEST)
		cmd->stream = true;
	return r;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Copy keyboard input to the console, watching for Esc followed by '.'.
 * *esc carries a pending Esc between reads. Returns 1 on detach, 0 to go
 * on, -errno on a write error.
 */
static int console_input(int sock, const char *buf, size_t len, bool *esc)
{
	char out[4096 + 1];
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (*esc) {
			*esc = false;
			if (c == '.')
				return 1;
			out[o++] = ESC;
		}
		if (c == ESC) {
			*esc = true;
			continue;
		}
		out[o++] = c;
		if (o >= sizeof(out) - 1) {
			int r = write_all(sock, out, o);
			if (r < 0)
				return r;
			o = 0;
		}
	}
	return o ? write_all(sock, out, o) : 0;
}

static int console_run(struct cli_cmd *cmd, struct st_error **err)
{
	_cleanup_client_ struct st_client *c = NULL;
	const char *path = st_client_socket_path(cmd->socket);
	const char *pending;
	size_t plen;
	bool raw, esc = false, detached = false;
	int sock, r;

	r = st_client_connect(path, &c, err);
	if (r < 0)
		return r;
	r = st_client_send(c, cmd->req, NULL, 0, err);
	if (r < 0)
		return r;
	r = st_client_read_reply(c, cli_on_event, cmd, NULL, err);
	if (r < 0)
		return r;
	sock = st_client_fd(c);

	if (!cmd->quiet)
		fprintf(stderr, "Attached to the console of CT %s (press Esc . to detach)\n",
			cmd->ctid);
	pending = st_client_buffered(c, &plen);
	if (plen > 0 && write_all(1, pending, plen) < 0)
		return st_error_set(err, errno, "console %s: write to stdout", cmd->ctid);

	raw = cli_tty_raw(0) == 0;
	struct pollfd pfd[2] = { { .fd = 0, .events = POLLIN }, { .fd = sock, .events = POLLIN } };
	char buf[4096];

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = st_error_set(err, errno, "console %s: poll", cmd->ctid);
			break;
		}
		if (pfd[1].revents) {
			ssize_t n = read(sock, buf, sizeof(buf));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break; /* the daemon closed the console */
			if (write_all(1, buf, (size_t)n) < 0) {
				r = st_error_set(err, errno, "console %s: write to stdout",
						 cmd->ctid);
				break;
			}
		}
		if (pfd[0].revents) {
			ssize_t n = read(0, buf, sizeof(buf));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				/* stdin ended: stop sending, keep printing */
				shutdown(sock, SHUT_WR);
				pfd[0].fd = -1;
				continue;
			}
			int d = console_input(sock, buf, (size_t)n, &esc);
			if (d < 0) {
				r = st_error_set(err, -d, "console %s: write to stratad",
						 cmd->ctid);
				break;
			}
			if (d > 0) {
				detached = true;
				break;
			}
		}
	}
	if (raw)
		cli_tty_restore();
	if (r < 0)
		return r;
	if (!cmd->quiet)
		fprintf(stderr, "\n%s the console of CT %s\n",
			detached ? "Detached from" : "Closed", cmd->ctid);
	return 0;
}

const struct cli_verb cli_verb_console = {
	.name = "console",
	.summary = "attach to a container's console (Esc . detaches)",
	.usage = "strata console CTID\n"
		 "\n"
		 "Attach your terminal (in raw mode) to the container's console. The daemon\n"
		 "keeps the console's recent output, so you see it on attaching. Press Esc then\n"
		 "`.` to detach; the container keeps running.\n",
	.opts = no_opts,
	.parse = console_parse,
	.run = console_run,
};
