/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "cli/client.h"
#include "cli/tty.h"
#include "ksal/cleanup.h"

static struct termios saved_tio;
static int saved_fd = -EBADF;

void cli_tty_restore(void)
{
	if (saved_fd >= 0) {
		tcsetattr(saved_fd, TCSADRAIN, &saved_tio);
		saved_fd = -EBADF;
	}
}

static void tty_signal(int sig)
{
	cli_tty_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

int cli_tty_raw(int fd)
{
	static bool hooked;
	struct termios tio;

	if (!isatty(fd))
		return 1;
	if (tcgetattr(fd, &saved_tio) < 0)
		return -errno;
	tio = saved_tio;
	cfmakeraw(&tio);
	if (!hooked) {
		struct sigaction sa = { .sa_handler = tty_signal };

		atexit(cli_tty_restore);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGQUIT, &sa, NULL);
		hooked = true;
	}
	saved_fd = fd;
	if (tcsetattr(fd, TCSADRAIN, &tio) < 0) {
		saved_fd = -EBADF;
		return -errno;
	}
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd p = { .fd = fd, .events = POLLOUT };
				poll(&p, 1, -1);
				continue;
			}
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* "entered into CT 101", once the daemon has the shell running (its "tty"
 * event), never before a refusal. */
static void announce(const struct cli_cmd *cmd, bool raw)
{
	if (!cmd->quiet)
		fprintf(stderr, "entered into CT %s%s", cmd->ctid, raw ? "\r\n" : "\n");
}

/* Copy what the pty has for the user; -1 once it is closed (EIO). */
static int pty_drain(int master)
{
	char buf[8192];

	for (;;) {
		ssize_t n = read(master, buf, sizeof(buf));

		if (n > 0) {
			if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
				return -1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		return -1; /* EOF or EIO: no slave left */
	}
}

static void sigmask_restorep(sigset_t *old)
{
	sigprocmask(SIG_SETMASK, old, NULL);
}

struct pty_session {
	const struct cli_cmd *cmd;
	struct st_client *c;
	int *master; /* the terminal relayed: ours, or the container's once it comes */
	bool started, raw;
};

/* The daemon's "tty" event: the shell runs, on the container's pty (its
 * master comes with the event and replaces ours) or on ours. */
static int pty_on_event(json_t *ev, void *data, struct st_error **err)
{
	struct pty_session *s = data;
	const char *kind = json_string_value(json_object_get(ev, "event"));

	if (strcmp(kind, "tty") != 0)
		return cli_on_event(ev, (void *)s->cmd, err);
	if (json_is_true(json_object_get(ev, "pty"))) {
		int m = st_client_take_fd(s->c);

		if (m < 0)
			return st_error_setx(err, ST_EXIT_PROTOCOL, 0,
					     "malformed event from stratad: a pty without its fd");
		if (fcntl(m, F_SETFL, O_NONBLOCK) < 0) {
			close(m);
			return st_error_set(err, errno, "enter %s: the container's terminal",
					    s->cmd->ctid);
		}
		close(*s->master);
		*s->master = m;
	}
	s->started = true;
	s->raw = cli_tty_raw(STDIN_FILENO) == 0;
	announce(s->cmd, s->raw);
	if (s->cmd->enter_exec) { /* enter --exec: typed ahead, the shell reads it first */
		write_all(*s->master, s->cmd->enter_exec, strlen(s->cmd->enter_exec));
		write_all(*s->master, "\n", 1);
	}
	return 0;
}

/*
 * The daemon went away (a restart) while the shell runs on the container's
 * pty, which is ours alone: the session goes on until the shell's end, whose
 * exit code nobody knows then.
 */
static void pty_orphaned(struct pty_session *s, struct st_error **err)
{
	st_error_freep(err);
	fprintf(stderr, "%sstrata: stratad went away; the session goes on without it%s",
		s->raw ? "\r\n" : "", s->raw ? "\r\n" : "\n");
}

int cli_pty_call(struct cli_cmd *cmd, json_t **result, struct st_error **err)
{
	const char *verb = cmd->verb ? cmd->verb->name : "enter";
	_cleanup_client_ struct st_client *c = NULL;
	_cleanup_close_ int master = -EBADF, slave = -EBADF, sfd = -EBADF;
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	struct termios tio;
	bool have_tio = tcgetattr(STDIN_FILENO, &tio) == 0, orphan = false, relaying = false;
	sigset_t winch;
	int r;

	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0)
		ws = (struct winsize){ .ws_row = 24, .ws_col = 80 };
	if (openpty(&master, &slave, NULL, have_tio ? &tio : NULL, &ws) < 0)
		return st_error_set(err, errno, "%s %s: allocate a pseudo-terminal", verb,
				    cmd->ctid);
	if (fcntl(master, F_SETFD, FD_CLOEXEC) < 0 || fcntl(slave, F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(master, F_SETFL, O_NONBLOCK) < 0)
		return st_error_set(err, errno, "%s %s: set up the pseudo-terminal", verb,
				    cmd->ctid);

	sigemptyset(&winch);
	sigaddset(&winch, SIGWINCH);
	_cleanup_(sigmask_restorep) sigset_t old_mask;
	sigprocmask(SIG_BLOCK, &winch, &old_mask);
	sfd = signalfd(-1, &winch, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return st_error_set(err, errno, "%s %s: signalfd", verb, cmd->ctid);

	r = st_client_connect(st_client_socket_path(cmd->socket), &c, err);
	if (r < 0)
		return r;
	int fds[3] = { slave, slave, slave };
	r = st_client_send(c, cmd->req, fds, 3, err);
	if (r < 0)
		return r;
	closep(&slave); /* the daemon has its own now */

	struct pty_session s = { .cmd = cmd, .c = c, .master = &master };
	/* the user's keys wait in their terminal until the shell is there */
	struct pollfd pfd[4] = {
		{ .fd = -1, .events = POLLIN },
		{ .fd = master, .events = POLLIN },
		{ .fd = st_client_fd(c), .events = POLLIN },
		{ .fd = sfd, .events = POLLIN },
	};
	char buf[8192];

	for (;;) {
		if (poll(pfd, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = st_error_set(err, errno, "%s %s: poll", verb, cmd->ctid);
			break;
		}
		if (pfd[3].revents) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				;
			if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
				ioctl(master, TIOCSWINSZ, &ws);
		}
		if (pfd[1].revents && pty_drain(master) < 0) {
			pfd[1].fd = -1; /* the command's side is gone; the reply follows */
			if (orphan) {
				r = 0;
				*result = json_pack("{s:i}", "exit_code", 0);
				break;
			}
		}
		if (pfd[0].revents) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

			if (n > 0 && pfd[1].fd >= 0) {
				write_all(master, buf, (size_t)n);
			} else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
				pfd[0].fd = -1;
			}
		}
		if (pfd[2].revents) {
			r = st_client_read_some(c, pty_on_event, &s, result, err);
			if (s.started && !relaying) {
				/* once: our own pty's end (the daemon let go of its
				 * slave) says nothing of the container's */
				pfd[0].fd = STDIN_FILENO;
				pfd[1].fd = master;
				relaying = true;
			}
			if (r > 0)
				continue;
			if (r < 0 && s.started && st_client_closed(c) && master >= 0 &&
			    pfd[1].fd >= 0) {
				pty_orphaned(&s, err);
				orphan = true;
				pfd[2].fd = -1;
				continue;
			}
			/* the command ended: what it wrote last, then the reply */
			if (r == 0 && pfd[1].fd >= 0)
				pty_drain(master);
			if (r == 0 && !s.started)
				announce(cmd, false);
			break;
		}
	}
	if (s.raw)
		cli_tty_restore();
	return r;
}
