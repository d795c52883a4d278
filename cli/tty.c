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

/* "entered into CT 101", once the daemon has the shell running: its first
 * output or its end, never before a refusal. */
static bool announce(const struct cli_cmd *cmd, bool raw)
{
	fprintf(stderr, "entered into CT %s%s", cmd->ctid, raw ? "\r\n" : "\n");
	return true;
}

/* Copy what the pty has for the user; -1 once it is closed (EIO). */
static int pty_drain(int master, const struct cli_cmd *cmd, bool raw, bool *announced)
{
	char buf[8192];

	for (;;) {
		ssize_t n = read(master, buf, sizeof(buf));

		if (n > 0 && !*announced)
			*announced = announce(cmd, raw);
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

int cli_pty_call(struct cli_cmd *cmd, json_t **result, struct st_error **err)
{
	const char *verb = cmd->verb ? cmd->verb->name : "enter";
	_cleanup_client_ struct st_client *c = NULL;
	_cleanup_close_ int master = -EBADF, slave = -EBADF, sfd = -EBADF;
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	struct termios tio;
	bool have_tio = tcgetattr(STDIN_FILENO, &tio) == 0;
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
	closep(&slave);	       /* the daemon has its own now */
	if (cmd->enter_exec) { /* enter --exec: typed ahead, the shell reads it first */
		write_all(master, cmd->enter_exec, strlen(cmd->enter_exec));
		write_all(master, "\n", 1);
	}

	bool raw = cli_tty_raw(STDIN_FILENO) == 0;
	bool announced = cmd->quiet;
	struct pollfd pfd[4] = {
		{ .fd = STDIN_FILENO, .events = POLLIN },
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
		if (pfd[1].revents && pty_drain(master, cmd, raw, &announced) < 0)
			pfd[1].fd = -1; /* the command's side is gone; the reply follows */
		if (pfd[0].revents) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

			if (n > 0 && pfd[1].fd >= 0) {
				write_all(master, buf, (size_t)n);
			} else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
				pfd[0].fd = -1;
			}
		}
		if (pfd[2].revents) {
			/* the command ended: what it wrote last, then the reply */
			if (pfd[1].fd >= 0)
				pty_drain(master, cmd, raw, &announced);
			r = st_client_read_reply(c, cli_on_event, cmd, result, err);
			if (r >= 0 && !announced)
				announce(cmd, raw);
			break;
		}
	}
	if (raw)
		cli_tty_restore();
	return r;
}
