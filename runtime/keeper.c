/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The console keeper: one small process per host (not per container) that
 * holds a copy of every running container's console pty master, so the
 * console outlives a restart of stratad. The master is the daemon's; while
 * no daemon is connected the keeper reads the consoles itself (a container
 * writing to its console must not block) and keeps their last bytes; the
 * next daemon takes the masters and those bytes back when it re-adopts the
 * containers. Each master comes with its init's pidfd: the keeper lets go
 * of a console when its init ends, and ends itself once it holds none and
 * no daemon is connected.
 *
 * It is `stratad --console-keeper SOCKET` (spawned by the daemon when no
 * keeper answers on RUN_DIR/consoles.sock, mode 0600, root peers only).
 * Messages are SOCK_SEQPACKET datagrams of text, fds by SCM_RIGHTS:
 *   daemon -> keeper  "put CTID START_TIME" + [master, init pidfd]
 *                     "list"
 *   keeper -> daemon  "con CTID START_TIME\n" + bytes read meanwhile + [master]
 *                     ... then "end"
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/fdpass.h"
#include "ksal/log.h"
#include "runtime/daemon.h"

#define KEEPER_BUF 16384 /* what a console wrote while no daemon read it */
#define KEEPER_MSG (KEEPER_BUF + 256)

struct kept {
	char ctid[64];
	uint64_t start_time;
	int master, pidfd;
	char *buf; /* the last bytes read while no daemon was connected */
	size_t len;
};

/* One datagram into buf (NUL-terminated), its fds into fds[2] (-1 if
 * none). 0 at EOF, -1 on error. */
static ssize_t msg_recv(int fd, char *buf, size_t size, int fds[2])
{
	size_t n = 0;
	ssize_t r;

	fds[0] = fds[1] = -1;
	r = ksal_recv_fds(fd, buf, size - 1, 0, fds, &n, 2);
	if (r >= 0)
		buf[r] = '\0';
	return r;
}

/* ---- the keeper process ---- */

static void kept_drop(struct kept *v, size_t *n, size_t i)
{
	close(v[i].master);
	close(v[i].pidfd);
	free(v[i].buf);
	v[i] = v[--*n];
}

/* Keep what a console wrote while no daemon reads it: its last bytes. */
static void kept_drain(struct kept *k)
{
	char tmp[4096];
	ssize_t r;

	while ((r = read(k->master, tmp, sizeof(tmp))) > 0) {
		if (!k->buf && !(k->buf = malloc(KEEPER_BUF)))
			continue; /* read and lost: the container must not block */
		if (k->len + (size_t)r > KEEPER_BUF) {
			size_t drop = k->len + (size_t)r - KEEPER_BUF;

			memmove(k->buf, k->buf + drop, k->len - drop);
			k->len -= drop;
		}
		memcpy(k->buf + k->len, tmp, (size_t)r);
		k->len += (size_t)r;
	}
}

static void keeper_put_msg(struct kept **v, size_t *n, size_t *cap, const char *msg,
			   const int fds[2])
{
	char ctid[64];
	uint64_t st;

	if (fds[0] < 0 || fds[1] < 0 || sscanf(msg, "put %63s %" SCNu64, ctid, &st) != 2) {
		if (fds[0] >= 0)
			close(fds[0]);
		if (fds[1] >= 0)
			close(fds[1]);
		return;
	}
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i].ctid, ctid)) {
			kept_drop(*v, n, i);
			break;
		}
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct kept *nv = realloc(*v, nc * sizeof(**v));

		if (!nv) {
			close(fds[0]);
			close(fds[1]);
			return;
		}
		*v = nv;
		*cap = nc;
	}
	(*v)[*n] = (struct kept){ .start_time = st, .master = fds[0], .pidfd = fds[1] };
	snprintf((*v)[*n].ctid, sizeof((*v)[*n].ctid), "%s", ctid);
	fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
	(*n)++;
}

static void keeper_list(int conn, struct kept *v, size_t n)
{
	static char out[KEEPER_MSG];

	for (size_t i = 0; i < n; i++) {
		int len = snprintf(out, 128, "con %s %" PRIu64 "\n", v[i].ctid, v[i].start_time);

		memcpy(out + len, v[i].buf ? v[i].buf : "", v[i].len);
		if (ksal_send_fds(conn, out, (size_t)len + v[i].len, &v[i].master, 1) >= 0)
			v[i].len = 0; /* the daemon has them */
	}
	ksal_send_fds(conn, "end", 3, NULL, 0);
}

static bool peer_is_root(int fd)
{
	struct ucred cr;
	socklen_t l = sizeof(cr);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) == 0 && cr.uid == 0;
}

int keeper_main(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_free_ struct kept *v = NULL;
	_cleanup_free_ struct pollfd *p = NULL;
	size_t n = 0, cap = 0, pcap = 0;
	int lfd, conn = -1, null;
	bool served = false; /* a daemon came */
	static char msg[512];
	sigset_t none;

	if (strlen(path) >= sizeof(sa.sun_path))
		return ST_EXIT_BADARG;
	strcpy(sa.sun_path, path);
	setsid();
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL); /* the daemon's mask came with exec */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (chdir("/") < 0)
		return ST_EXIT_SYSTEM;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = 0; fd < 3 && null >= 0; fd++)
		dup2(null, fd);
	close_range(3, ~0U, 0);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return ST_EXIT_SYSTEM;
	umask(077);
	unlink(path); /* the daemon spawns a keeper only when none answers here */
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0)
		return ST_EXIT_SYSTEM;
	for (;;) {
		size_t np = 0, need = n * 2 + 2;

		if (conn < 0 && n == 0 && served)
			break; /* no console left, no daemon: done */
		if (need > pcap) {
			struct pollfd *np2 = realloc(p, need * sizeof(*p));

			if (!np2)
				return ST_EXIT_SYSTEM;
			p = np2;
			pcap = need;
		}
		p[np++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		p[np++] = (struct pollfd){ .fd = conn, .events = POLLIN };
		for (size_t i = 0; i < n; i++) {
			p[np++] = (struct pollfd){ .fd = v[i].pidfd, .events = POLLIN };
			/* the consoles are the daemon's to read while it is there */
			p[np++] = (struct pollfd){ .fd = conn < 0 ? v[i].master : -1,
						   .events = POLLIN };
		}
		if (poll(p, np, -1) < 0) {
			if (errno == EINTR)
				continue;
			return ST_EXIT_SYSTEM;
		}
		/* back to front: a drop moves the last entry into its place */
		for (size_t i = n; i-- > 0;) {
			struct pollfd *pp = &p[2 + 2 * i];

			if (pp[1].fd >= 0 && pp[1].revents)
				kept_drain(&v[i]);
			if (pp[0].revents)
				kept_drop(v, &n, i); /* the init ended: its console too */
		}
		if (p[0].revents) {
			int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (c >= 0 && !peer_is_root(c)) {
				close(c);
			} else if (c >= 0) {
				if (conn >= 0)
					close(conn); /* a new daemon: the old one is gone */
				conn = c;
				served = true;
			}
		}
		if (conn >= 0 && p[1].fd == conn && p[1].revents) {
			int fds[2];
			ssize_t r = msg_recv(conn, msg, sizeof(msg), fds);

			if (r <= 0) {
				close(conn);
				conn = -1;
			} else if (!strncmp(msg, "put ", 4)) {
				keeper_put_msg(&v, &n, &cap, msg, fds);
			} else {
				if (fds[0] >= 0)
					close(fds[0]);
				if (fds[1] >= 0)
					close(fds[1]);
				if (!strcmp(msg, "list"))
					keeper_list(conn, v, n);
			}
		}
	}
	unlink(path);
	return 0;
}

/* ---- the daemon's side ---- */

struct kept_con {
	char ctid[64];
	uint64_t start_time;
	int master;
	char *bytes;
	size_t len;
	struct kept_con *next;
};

static int keeper_dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	/* a keeper that does not answer must not hold the daemon's start */
	if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ .tv_sec = 2 },
				  sizeof(struct timeval)) < 0)
		st_debug("console keeper: SO_RCVTIMEO: %s", strerror(errno));
	return fd;
}

static int keeper_spawn(const char *path)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* a grandchild: the keeper is nobody's child to wait for */
		if (fork() != 0)
			_exit(0);
		execl("/proc/self/exe", "stratad", "--console-keeper", path, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
	for (int i = 0; i < 200; i++) {
		int fd = keeper_dial(path);

		if (fd >= 0)
			return fd;
		usleep(5000);
	}
	return -ETIMEDOUT;
}

void keeper_connect(struct daemon *d)
{
	_cleanup_free_ char *path = NULL;
	static char buf[KEEPER_MSG];

	d->keeper_fd = -1;
	if (asprintf(&path, "%s/consoles.sock", d->g->run_dir) < 0)
		return;
	d->keeper_fd = keeper_dial(path);
	if (d->keeper_fd < 0)
		d->keeper_fd = keeper_spawn(path);
	if (d->keeper_fd < 0) {
		st_warn("console keeper at %s: %s; consoles end with this daemon", path,
			strerror(-d->keeper_fd));
		d->keeper_fd = -1;
		return;
	}
	if (ksal_send_fds(d->keeper_fd, "list", 4, NULL, 0) < 0)
		goto lost;
	for (;;) {
		int fds[2];
		ssize_t r = msg_recv(d->keeper_fd, buf, sizeof(buf), fds);
		struct kept_con *k;
		char *nl;

		if (r <= 0)
			goto lost;
		if (fds[1] >= 0)
			close(fds[1]);
		if (!strcmp(buf, "end"))
			break;
		nl = memchr(buf, '\n', (size_t)r);
		k = calloc(1, sizeof(*k));
		if (!nl || fds[0] < 0 || !k ||
		    sscanf(buf, "con %63s %" SCNu64, k->ctid, &k->start_time) != 2) {
			free(k);
			if (fds[0] >= 0)
				close(fds[0]);
			continue;
		}
		k->master = fds[0];
		k->len = (size_t)r - (size_t)(nl + 1 - buf);
		k->bytes = k->len ? malloc(k->len) : NULL;
		if (k->bytes)
			memcpy(k->bytes, nl + 1, k->len);
		else
			k->len = 0;
		k->next = d->kept;
		d->kept = k;
	}
	return;
lost:
	st_warn("console keeper: %s", strerror(errno));
	close(d->keeper_fd);
	d->keeper_fd = -1;
}

#define KEEPER_IDLE_MS 20
#define KEEPER_LATEST_MS 200

static double mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

void keeper_put(struct daemon *d, struct ct *ct)
{
	struct kept_con *k;

	if (d->keeper_fd < 0 || !(k = calloc(1, sizeof(*k))))
		return;
	snprintf(k->ctid, sizeof(k->ctid), "%s", ct->ctid);
	k->start_time = ct->start_time;
	k->master = -1;
	if (!d->puts)
		d->puts_since = mono_ms();
	k->next = d->puts;
	d->puts = k;
}

int keeper_timeout(const struct daemon *d)
{
	if (!d->puts)
		return -1;
	return mono_ms() - d->puts_since >= KEEPER_LATEST_MS ? 0 : KEEPER_IDLE_MS;
}

void keeper_after_wait(struct daemon *d, int n)
{
	if (d->puts && (n == 0 || mono_ms() - d->puts_since >= KEEPER_LATEST_MS))
		keeper_flush(d);
}

void keeper_flush(struct daemon *d)
{
	while (d->puts) {
		struct kept_con *k = d->puts;
		struct ct *ct = ct_find(d, k->ctid);
		char msg[128];
		int len;

		d->puts = k->next;
		/* still the run it was noted for */
		if (d->keeper_fd >= 0 && ct && ct->run == CT_RUNNING &&
		    ct->start_time == k->start_time && ct->con_w.fd >= 0 && ct->init_w.fd >= 0) {
			int fds[2] = { ct->con_w.fd, ct->init_w.fd };

			len = snprintf(msg, sizeof(msg), "put %s %" PRIu64, ct->ctid,
				       ct->start_time);
			if (ksal_send_fds(d->keeper_fd, msg, (size_t)len, fds, 2) < 0) {
				st_warn("console keeper: %s; consoles end with this daemon",
					strerror(errno));
				close(d->keeper_fd);
				d->keeper_fd = -1;
			}
		}
		free(k);
	}
}

bool keeper_claim(struct daemon *d, struct ct *ct)
{
	for (struct kept_con **p = &d->kept; *p; p = &(*p)->next) {
		struct kept_con *k = *p;
		_cleanup_error_ struct st_error *err = NULL;

		if (strcmp(k->ctid, ct->ctid) || k->start_time != ct->start_time)
			continue;
		*p = k->next;
		if (ct_console_adopt(d, ct, k->master, k->bytes, k->len, &err) < 0)
			st_warn("adopt %s: %s", ct->ctid, err->msg);
		free(k->bytes);
		free(k);
		return ct->con_w.fd >= 0;
	}
	return false;
}

void keeper_release_unclaimed(struct daemon *d)
{
	while (d->puts) {
		struct kept_con *k = d->puts;

		d->puts = k->next;
		free(k);
	}
	while (d->kept) {
		struct kept_con *k = d->kept;

		d->kept = k->next;
		close(k->master);
		free(k->bytes);
		free(k);
	}
}
