/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ckpt_guest: the init of the checkpoint tests' containers (static).
 *
 *   ckpt_guest MIB PORT [DIR]
 *
 * Its files live in DIR (default "/"; a bare process tree on the host gets a
 * directory of its own). Without arguments (a container's /sbin/init), MIB
 * and PORT come from /etc/ckpt_guest.args if it exists.
 * pid 1 forks three workers and reaps:
 *   counter  writes 0, 1, 2... to /counter every 100 ms (tmp + rename),
 *            and "counter N" to stdout every second
 *   memory   fills MIB MiB with a pseudo-random pattern, writes its checksum
 *            to /mem.expected; whenever /mem.req appears, checksums the
 *            memory again into /mem.now and removes /mem.req
 *   tcp      (PORT > 0) listens on 0.0.0.0:PORT, answers every chunk it
 *            reads with "echo:" + the chunk, one connection at a time
 * SIGTERM ends it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void write_file(const char *path, const char *text)
{
	char tmp[256];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, text, strlen(text)) < 0) {
		close(fd);
		return;
	}
	close(fd);
	rename(tmp, path);
}

static void nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void counter(void)
{
	char num[32];

	for (unsigned long i = 0;; i++) {
		snprintf(num, sizeof(num), "%lu\n", i);
		write_file("counter", num);
		if (i % 10 == 0) { /* to the console, if it has one */
			printf("counter %s", num);
			fflush(stdout);
		}
		nap(100);
	}
}

static uint64_t checksum(const uint64_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static void memory(long mib)
{
	size_t n = ((size_t)mib << 20) / sizeof(uint64_t);
	uint64_t *p = n ? malloc(n * sizeof(uint64_t)) : NULL, x = 88172645463325252ULL;
	char buf[64];

	if (n && !p)
		_exit(1);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x;
	}
	snprintf(buf, sizeof(buf), "%016llx\n", (unsigned long long)checksum(p, n));
	write_file("mem.expected", buf);
	for (;;) {
		if (access("mem.req", F_OK) == 0) {
			snprintf(buf, sizeof(buf), "%016llx\n", (unsigned long long)checksum(p, n));
			write_file("mem.now", buf);
			unlink("mem.req");
		}
		nap(20);
	}
}

static void tcp(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 4) < 0)
		_exit(1);
	for (;;) {
		int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		char buf[1024], out[1100];
		ssize_t n;

		if (c < 0)
			continue;
		while ((n = read(c, buf, sizeof(buf))) > 0) {
			int len = snprintf(out, sizeof(out), "echo:%.*s", (int)n, buf);

			if (write(c, out, (size_t)len) != len)
				break;
		}
		close(c);
	}
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	long mib = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
	int port = argc > 2 ? atoi(argv[2]) : 0;
	pid_t kids[3];
	int nk = 0;

	/* as a container's /sbin/init (no arguments): from /etc/ckpt_guest.args */
	if (argc <= 1) {
		FILE *f = fopen("/etc/ckpt_guest.args", "re");

		if (f) {
			if (fscanf(f, "%ld %d", &mib, &port) < 1)
				mib = 0;
			fclose(f);
		}
	}

	if (argc > 3 && chdir(argv[3]) < 0)
		return 1;
	if (argc <= 3 && chdir("/") < 0)
		return 1;
	setsid(); /* CRIU wants the session leader inside the pid ns */
	for (int i = 0; i < 3; i++) {
		pid_t pid;

		if (i == 2 && port <= 0)
			break;
		pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			if (i == 0)
				counter();
			else if (i == 1)
				memory(mib);
			else
				tcp(port);
			_exit(0);
		}
		kids[nk++] = pid;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	while (!stop) {
		if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD)
			break;
	}
	for (int i = 0; i < nk; i++)
		kill(kids[i], SIGKILL);
	return 0;
}
