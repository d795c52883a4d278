/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The container's console: its pty, the ring buffer of what it wrote, the
 * log, and the clients attached to it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "runtime/daemon.h"

static void ring_put(struct ct *ct, const char *buf, size_t n);

/* The ring, the log (a fresh one, or the one that goes on) and the watch
 * of a console whose master is (taken). */
static int console_setup(struct daemon *d, struct ct *ct, int master, bool fresh,
			 struct st_error **err)
{
	_cleanup_close_ int m = master;
	_cleanup_free_ char *logpath = NULL;

	if (!ct->ring) {
		/* mapped, not malloc'd: only the pages written are resident
		 * (from the heap it took the start's freed, touched temporaries:
		 * 26 kB of daemon RSS per container, bench/kmem.sh) */
		ct->ring = mmap(NULL, CT_CONSOLE_RING, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ct->ring == MAP_FAILED) {
			ct->ring = NULL;
			return st_error_set(err, errno, "console ring buffer");
		}
	}
	ct->ring_head = ct->ring_len = 0;
	if (asprintf(&logpath, "%s/ct/%s.console.log", d->g->run_dir, ct->ctid) < 0)
		return st_error_set(err, ENOMEM, "console log");
	/* one boot per log: a fresh start begins a fresh log */
	ct->console_log = open(
		logpath, O_WRONLY | O_CREAT | (fresh ? O_TRUNC : 0) | O_APPEND | O_CLOEXEC, 0600);
	if (ct->console_log < 0)
		st_warn("console %s: open `%s`: %s", ct->ctid, logpath, strerror(errno));
	ct->con_w.fd = take_fd(m);
	if (watch_add(d, &ct->con_w, EPOLLIN) < 0) {
		close(ct->con_w.fd);
		ct->con_w.fd = -EBADF;
		return st_error_set(err, errno, "console: epoll");
	}
	return 0;
}

int ct_console_open(struct daemon *d, struct ct *ct, int *slave, struct st_error **err)
{
	_cleanup_close_ int master = -EBADF, s = -EBADF;
	char name[128];

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (master < 0)
		return st_error_set(err, errno, "console: open /dev/ptmx");
	if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) != 0)
		return st_error_set(err, errno, "console: unlock pty");
	s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return st_error_set(err, errno, "console: open `%s`", name);
	if (ct->id_base && fchown(s, ct->id_base, ct->id_base + 5) < 0)
		st_debug("console %s: chown: %s", ct->ctid, strerror(errno));
	if (console_setup(d, ct, take_fd(master), true, err) < 0)
		return -1;
	/* the daemon keeps a slave open too, so the master never sees a
	 * hangup while the container reopens its console */
	ct->console_slave = fcntl(s, F_DUPFD_CLOEXEC, 3);
	*slave = take_fd(s);
	return 0;
}

/* The ring of a re-adopted console starts with the end of its log: what
 * the console wrote before the restart is replayed as before it. */
static void ring_from_log(struct daemon *d, struct ct *ct, size_t max)
{
	_cleanup_free_ char *logpath = NULL, *buf = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct stat st;
	ssize_t n;
	off_t from;

	if (!max || asprintf(&logpath, "%s/ct/%s.console.log", d->g->run_dir, ct->ctid) < 0)
		return;
	fd = open(logpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0 || !(buf = malloc(max)))
		return;
	from = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
	n = pread(fd, buf, (size_t)(st.st_size - from), from);
	if (n > 0)
		ring_put(ct, buf, (size_t)n);
}

int ct_console_adopt(struct daemon *d, struct ct *ct, int master, const char *bytes, size_t len,
		     struct st_error **err)
{
	if (fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK) < 0) {
		close(master);
		return st_error_set(err, errno, "console");
	}
	if (console_setup(d, ct, master, false, err) < 0)
		return -1;
	ring_from_log(d, ct, CT_CONSOLE_RING > len ? CT_CONSOLE_RING - len : 0);
	ct->console_slave = ioctl(ct->con_w.fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (ct->console_slave < 0)
		st_debug("console %s: its slave: %s", ct->ctid, strerror(errno));
	if (len) {
		ring_put(ct, bytes, len);
		if (ct->console_log >= 0 && write(ct->console_log, bytes, len) < 0)
			st_debug("console %s: log: %s", ct->ctid, strerror(errno));
	}
	st_info("console of container %s kept across the restart (%zu bytes meanwhile)", ct->ctid,
		len);
	return 0;
}

void ct_console_close(struct daemon *d, struct ct *ct)
{
	while (ct->console_clients) {
		struct conn *c = ct->console_clients;
		ct->console_clients = c->next_in;
		c->next_in = NULL;
		c->console = NULL;
		/* the stream ends: close the client's connection */
		if (c->w.fd >= 0)
			shutdown(c->w.fd, SHUT_RDWR);
		conn_done(c);
		conn_unref(c);
	}
	if (ct->con_w.fd >= 0) {
		watch_del(d, &ct->con_w);
		close(ct->con_w.fd);
		ct->con_w.fd = -EBADF;
	}
	if (ct->console_slave >= 0) {
		close(ct->console_slave);
		ct->console_slave = -EBADF;
	}
	if (ct->console_log >= 0) {
		close(ct->console_log);
		ct->console_log = -EBADF;
	}
}

static void ring_put(struct ct *ct, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ct->ring[(ct->ring_head + ct->ring_len) % CT_CONSOLE_RING] = buf[i];
		if (ct->ring_len < CT_CONSOLE_RING)
			ct->ring_len++;
		else
			ct->ring_head = (ct->ring_head + 1) % CT_CONSOLE_RING;
	}
}

void ct_on_console(struct daemon *d, struct ct *ct, uint32_t events)
{
	char buf[8192];

	for (;;) {
		ssize_t n = read(ct->con_w.fd, buf, sizeof(buf));
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				/* EIO: no slave open any more */
				watch_del(d, &ct->con_w);
			}
			return;
		}
		ring_put(ct, buf, (size_t)n);
		if (ct->console_log >= 0 && write(ct->console_log, buf, (size_t)n) < 0)
			st_debug("console log %s: %s", ct->ctid, strerror(errno));
		for (struct conn *c = ct->console_clients; c; c = c->next_in)
			if (!c->closed &&
			    send(c->w.fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
			    errno != EAGAIN)
				c->closed = true;
	}
	(void)events;
}

int ct_console_attach(struct daemon *d, struct ct *ct, struct conn *c, struct st_error **err)
{
	if (ct->run == CT_STOPPED)
		return st_error_setx(err, ST_EXIT_NOTRUNNING, 0,
				     "console %s: container is not running", ct->ctid);
	if (ct->con_w.fd < 0)
		return st_error_setx(err, ST_EXIT_NOFEATURE, 0,
				     "console %s: the console was lost when stratad restarted; "
				     "it comes back with the next start",
				     ct->ctid);
	if (reply_ok(c, NULL) < 0)
		return st_error_set(err, EPIPE, "console %s", ct->ctid);
	/* replay the ring buffer */
	for (size_t off = 0; off < ct->ring_len;) {
		size_t pos = (ct->ring_head + off) % CT_CONSOLE_RING;
		size_t chunk = ct->ring_len - off;
		if (chunk > CT_CONSOLE_RING - pos)
			chunk = CT_CONSOLE_RING - pos;
		if (send(c->w.fd, ct->ring + pos, chunk, MSG_NOSIGNAL) < 0)
			break;
		off += chunk;
	}
	c->console = ct;
	c->busy = true;
	c->refs++;
	c->next_in = ct->console_clients;
	ct->console_clients = c;
	(void)d;
	return 0;
}

void ct_console_detach(struct conn *c)
{
	struct ct *ct = c->console;

	if (!ct)
		return;
	for (struct conn **p = &ct->console_clients; *p; p = &(*p)->next_in)
		if (*p == c) {
			*p = c->next_in;
			break;
		}
	c->next_in = NULL;
	c->console = NULL;
	c->refs--;
}

void conn_console_input(struct conn *c, const char *buf, size_t len)
{
	struct ct *ct = c->console;

	if (!ct || ct->con_w.fd < 0)
		return;
	while (len > 0) {
		ssize_t w = write(ct->con_w.fd, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return; /* full: the bytes are dropped */
		}
		buf += w;
		len -= (size_t)w;
	}
}
