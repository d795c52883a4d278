/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * strata end to end, on a terminal: console, enter (ptys, the shell, its
 * exit code) and the daemon's console ring; split from test_cli_e2e.c
 * (same suite cli_e2e, same private stratad: test_cli_util.h).
 */

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <pty.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "cli/client.h"
#include "ksal/cleanup.h"
#include "tests/helpers/daemonutil.h"
#include "tests/helpers/testutil.h"
#include "test_cli_util.h"

/* `strata VERB CT` on a terminal of its own (forkpty): its pid, the
 * terminal's master in *master. */
static pid_t strata_on_pty(const char *verb, int *master)
{
	pid_t pid = forkpty(master, NULL, NULL, NULL);

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl(cli_path(), "strata", "--socket", sock, verb, CT, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Read the terminal into buf while the strata on it runs (10 s at most),
 * then what is left on it; closes master. *status: how strata ended; false
 * if it had not by then (it is killed and reaped). */
static bool pty_until_exit(int master, pid_t pid, int *status, char *buf, size_t size, size_t *got)
{
	bool exited = false;

	for (int i = 0; i < 100 && !exited; i++) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		ssize_t n = -1;

		if (waitpid(pid, status, WNOHANG) == pid) {
			exited = true;
			break;
		}
		if (*got < size - 1 && poll(&p, 1, 100) > 0)
			n = read(master, buf + *got, size - 1 - *got);
		if (n > 0)
			*got += (size_t)n;
		else
			usleep(100000); /* EIO once the terminal's last user left */
	}
	for (;;) { /* what is left on the terminal */
		struct pollfd p = { .fd = master, .events = POLLIN };
		ssize_t n;

		if (*got >= size - 1 || poll(&p, 1, 50) <= 0)
			break;
		n = read(master, buf + *got, size - 1 - *got);
		if (n <= 0)
			break;
		*got += (size_t)n;
	}
	buf[*got] = '\0';
	close(master);
	if (!exited) {
		kill(pid, SIGKILL);
		waitpid(pid, status, 0);
	}
	return exited;
}

TestSuite(cli_e2e, .init = setup, .fini = teardown, .timeout = 180);

/* strata console on a real terminal: raw mode, Esc . detaches, exit 0. */
Test(cli_e2e, console_detach)
{
	int master = -1, status;
	char buf[4096];
	size_t got = 0;
	pid_t pid;

	need_daemon();
	make_ct(CT, true);

	pid = strata_on_pty("console", &master);
	/* wait for the banner, then detach */
	for (int i = 0; i < 100 && !memmem(buf, got, "Esc . to detach", 15); i++) {
		struct pollfd p = { .fd = master, .events = POLLIN };

		if (poll(&p, 1, 100) > 0) {
			ssize_t n = read(master, buf + got, sizeof(buf) - 1 - got);
			if (n > 0)
				got += (size_t)n;
		}
	}
	buf[got] = '\0';
	cr_assert_not_null(strstr(buf, "Attached to the console of CT " CT), "%s", buf);
	cr_assert_eq(write(master, "\033.", 2), 2);
	cr_assert(pty_until_exit(master, pid, &status, buf, sizeof(buf), &got),
		  "strata console did not detach on Esc .");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	/* the container keeps running */
	_cleanup_free_ char *out = NULL, *err = NULL;
	cr_assert_eq(strata(&out, &err, "status", CT), 0, "%s", err);
	cr_assert_str_eq(out, "CTID " CT " exist mounted running\n");
}

/* strata enter on a real terminal: a shell in the container with a terminal
 * of its own, and its exit code (5, not 3: a system error is 3). */
Test(cli_e2e, enter_shell_exit_code)
{
	int master = -1, status = 0;
	char buf[8192];
	size_t got = 0;
	pid_t pid;

	need_daemon();
	make_ct(CT, true);

	pid = strata_on_pty("enter", &master);
	/* the shell has a terminal of its own: ^D ends cat, ^C interrupts sleep */
	static const char *const keys[] = {
		"hostname\n",  "cat\n", "abc-typed\n",	    "\004",
		"sleep 100\n", "\003",	"echo after-int\n", "exit 5\n"
	};
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		usleep(300000);
		cr_assert_eq(write(master, keys[k], strlen(keys[k])), (ssize_t)strlen(keys[k]));
	}
	cr_assert(pty_until_exit(master, pid, &status, buf, sizeof(buf), &got),
		  "strata enter did not end after `exit 5`:\n%s", buf);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 5, "status %d:\n%s", status, buf);
	cr_assert_not_null(strstr(buf, "stcli-host"), "%s", buf);
	/* typed once (echo), printed once by cat */
	const char *typed = strstr(buf, "abc-typed");
	cr_assert_not_null(typed, "%s", buf);
	cr_assert_not_null(strstr(typed + 1, "abc-typed"), "%s", buf);
	cr_assert_not_null(strstr(buf, "\nafter-int"), "%s", buf);
	cr_assert_not_null(strstr(buf, "exited from CT " CT), "%s", buf);
}

/* enter on a stopped container: the refusal (31), and no "entered into CT"
 * before it. */
Test(cli_e2e, enter_stopped_is_refused_without_entering)
{
	char buf[4096];
	size_t got = 0;
	int master = -1, status = 0;
	pid_t pid;

	need_daemon();
	make_ct(CT, false);
	pid = strata_on_pty("enter", &master);
	for (;;) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		ssize_t n;

		if (got >= sizeof(buf) - 1 || poll(&p, 1, 5000) <= 0)
			break;
		n = read(master, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(master);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == ST_EXIT_NOTRUNNING, "status %d: %s",
		  status, buf);
	cr_assert_not_null(strstr(buf, "not running"), "%s", buf);
	cr_assert_null(strstr(buf, "entered into"), "%s", buf);
}

/* enter with commands on a pipe (echo ... | strata enter 101): root's shell
 * runs them and ends at their end with its exit code; the login shell is
 * bash where the guest has one (vzctl's enter); on a terminal, the shell's
 * is a pty of the container's devpts (tty(1) said "not a tty"). */
Test(cli_e2e, enter_from_a_pipe_bash_first_own_pty)
{
	_cleanup_free_ char *out = NULL, *err = NULL;

	need_daemon();
	make_ct(CT, true);
	cr_assert_eq(strata_in("hostname\nexit 6\n", &out, &err, "enter", CT, NULL), 6, "%s%s", out,
		     err);
	cr_assert_str_eq(out, "stcli-host\n");
	free(out), free(err);

	/* a /bin/bash that says how it was called, then is the shell */
	cr_assert_eq(strata(&out, &err, "exec", CT,
			    "printf '#!/bin/sh\\necho I-AM-BASH \"$@\"\\nexec /bin/sh \"$@\"\\n' "
			    "> /bin/bash && chmod 755 /bin/bash"),
		     0, "%s%s", out, err);
	free(out), free(err);
	cr_assert_eq(strata_in("echo shell-ran\n", &out, &err, "enter", CT, NULL), 0, "%s%s", out,
		     err);
	cr_assert_str_eq(out, "I-AM-BASH -l\nshell-ran\n");
	free(out), free(err);
	out = err = NULL;

	/* and on a terminal: the daemon's default shell is the same */
	int master = -1, status = 0;
	char buf[8192];
	size_t got = 0;
	pid_t pid = strata_on_pty("enter", &master);

	usleep(500000);
	/* the shell's terminal is the container's own: tty(1) names it; a
	 * resize of the user's window while the shell sleeps (no key, no
	 * output) reaches it */
	static const char line[] = "sleep 1.5; stty size; tty; exit 3\n";
	cr_assert_eq(write(master, line, strlen(line)), (ssize_t)strlen(line));
	usleep(400000);
	cr_assert_eq(ioctl(master, TIOCSWINSZ, &(struct winsize){ .ws_row = 33, .ws_col = 111 }),
		     0);
	pty_until_exit(master, pid, &status, buf, sizeof(buf), &got);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3, "status %d: %s", status, buf);
	cr_assert_not_null(strstr(buf, "I-AM-BASH -l"), "%s", buf);
	cr_assert_not_null(strstr(buf, "entered into CT " CT), "%s", buf);
	cr_assert_not_null(strstr(buf, "\n/dev/pts/"), "%s", buf);
	cr_assert_null(strstr(buf, "not a tty"), "%s", buf);
	cr_assert_not_null(strstr(buf, "\n33 111"), "the resize did not reach the shell: %s", buf);
	usleep(300000); /* the rest of the daemon's event batch */
	assert_daemon_alive();
	cr_assert_eq(strata(&out, &err, "status", CT), 0, "%s", err);
	cr_assert_str_eq(out, "CTID " CT " exist mounted running\n");
}

/* runtime/daemon.h's CT_CONSOLE_RING */
#define CT_CONSOLE_RING_SIZE (64 * 1024)

/* Whether stratad's page at addr is resident (or swapped). */
static bool daemon_page_present(int pagemap, unsigned long addr)
{
	unsigned long page = (unsigned long)sysconf(_SC_PAGESIZE);
	uint64_t e = 0;

	cr_assert_eq(pread(pagemap, &e, sizeof(e), (off_t)(addr / page * 8)), sizeof(e));
	return (e >> 63 & 1) || (e >> 62 & 1);
}

static int daemon_pagemap(void)
{
	_cleanup_free_ char *path = NULL;
	int fd;

	cr_assert_geq(asprintf(&path, "/proc/%d/pagemap", (int)du.pid), 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "open %s", path);
	return fd;
}

/* Pages of stratad in [start, start + len) that are resident. */
static size_t daemon_resident_pages(unsigned long start, size_t len)
{
	_cleanup_close_ int pm = daemon_pagemap();
	unsigned long page = (unsigned long)sysconf(_SC_PAGESIZE);
	size_t n = 0;

	for (unsigned long a = start; a < start + len; a += page)
		n += daemon_page_present(pm, a);
	return n;
}

/* Where `text` is in stratad's anonymous writable mappings (up to 64 MB
 * each: ASan's shadow is left alone): up to max addresses. Only resident
 * pages are read (a read maps the zero page into the others). */
static size_t daemon_find(const char *text, unsigned long *addr, size_t max)
{
	_cleanup_free_ char *path = NULL, *mem = NULL, *line = NULL, *buf = NULL;
	_cleanup_close_ int memfd = -EBADF, pm = daemon_pagemap();
	unsigned long page = (unsigned long)sysconf(_SC_PAGESIZE);
	const size_t tl = strlen(text);
	size_t n = 0, cap = 0;
	FILE *f;

	cr_assert_geq(asprintf(&path, "/proc/%d/maps", (int)du.pid), 0);
	cr_assert_geq(asprintf(&mem, "/proc/%d/mem", (int)du.pid), 0);
	memfd = open(mem, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(memfd, 0, "open %s", mem);
	buf = malloc(64ul << 20);
	cr_assert_not_null(buf);
	f = fopen(path, "re");
	cr_assert_not_null(f, "open %s", path);
	while (getline(&line, &cap, f) > 0 && n < max) {
		unsigned long start, end, inode;
		char perms[8], name[256] = "";

		if (sscanf(line, "%lx-%lx %7s %*s %*s %lu %255s", &start, &end, perms, &inode,
			   name) < 4 ||
		    inode != 0 || name[0] || strncmp(perms, "rw", 2) || end - start > (64ul << 20))
			continue;
		/* each run of resident pages, read at once */
		for (unsigned long a = start; a < end && n < max;) {
			unsigned long run = a;
			ssize_t got;
			char *p = buf;

			while (run < end && daemon_page_present(pm, run))
				run += page;
			if (run == a) {
				a += page;
				continue;
			}
			got = pread(memfd, buf, run - a, (off_t)a);
			while (got > 0 && n < max &&
			       (p = memmem(p, (size_t)got - (size_t)(p - buf), text, tl))) {
				addr[n++] = a + (unsigned long)(p - buf);
				p++;
			}
			a = run;
		}
	}
	fclose(f);
	return n;
}

/* The console's ring buffer (64 kB a container) is a mapping of its own,
 * page-aligned and resident only as far as the console wrote (from the heap
 * it was touched in full: 26 kB of stratad a container), and it goes with
 * the container. */
Test(cli_e2e, console_ring_mapped_and_unmapped)
{
	/* the marker is made in the container: the request does not hold it */
	const char *marker = "stcli-ring-42";
	_cleanup_free_ char *out = NULL, *err = NULL, *logp = NULL, *log = NULL;
	long page = sysconf(_SC_PAGESIZE);
	unsigned long hits[16], ring = 0;
	size_t n, off, written;
	char *at = NULL;

	need_daemon();
	make_ct(CT, true);
	cr_assert_eq(strata(&out, &err, "exec2", CT, "echo stcli-ring-$((6*7)) >/dev/console"), 0,
		     "%s", err);
	cr_assert_geq(asprintf(&logp, "%s/run/ct/%s.console.log", du.tmp, CT), 0);
	for (int i = 0; i < 100 && !at; i++) {
		free(log);
		log = tu_read_file(logp);
		at = log ? strstr(log, marker) : NULL;
		if (!at)
			usleep(20000);
	}
	cr_assert_not_null(at, "the console log has no `%s`: %s", marker, log ? log : "(none)");
	off = (size_t)(at - log);
	written = strlen(log);
	cr_assert_lt(written, 32768, "the console wrote too much to tell: %zu bytes", written);
	/* the ring holds the console's bytes from its offset 0 */
	n = daemon_find(marker, hits, 16);
	for (size_t i = 0; i < n; i++)
		if ((hits[i] - off) % (unsigned long)page == 0)
			ring = hits[i] - off;
	cr_assert_neq(ring, 0, "no page-aligned ring holds the console (%zu copies found)", n);
	cr_assert_leq(daemon_resident_pages(ring, CT_CONSOLE_RING_SIZE),
		      (written + (size_t)page - 1) / (size_t)page,
		      "more of the ring is resident than the console wrote (%zu bytes) (%zu pages)",
		      written, daemon_resident_pages(ring, CT_CONSOLE_RING_SIZE));
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "stop", CT), 0, "%s", err);
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "destroy", CT), 0, "%s", err);
	n = daemon_find(marker, hits, 16);
	for (size_t i = 0; i < n; i++)
		cr_assert_neq(hits[i], ring + off, "the ring is still mapped after destroy");
}

/* Read the terminal into buf until it shows what (10 s at most). */
static bool pty_wait_for(int master, const char *what, char *buf, size_t size, size_t *got)
{
	for (int i = 0; i < 100; i++) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		ssize_t n;

		buf[*got] = '\0';
		if (strstr(buf, what))
			return true;
		if (*got >= size - 1 || poll(&p, 1, 100) <= 0)
			continue;
		n = read(master, buf + *got, size - 1 - *got);
		if (n > 0)
			*got += (size_t)n;
	}
	buf[*got] = '\0';
	return strstr(buf, what) != NULL;
}

/* kill -9 of the daemon ends no enter session: the client holds the
 * container's pty and relays it itself, the shell goes on, answers, and
 * its `exit` ends strata (0: its exit code went with the daemon). */
Test(cli_e2e, enter_outlives_a_daemon_restart)
{
	int master = -1, status = 0;
	char buf[16384];
	size_t got = 0;
	pid_t pid;

	need_daemon();
	make_ct(CT, true);
	pid = strata_on_pty("enter", &master);
	cr_assert(pty_wait_for(master, "entered into CT " CT, buf, sizeof(buf), &got), "%s", buf);
	cr_assert_eq(write(master, "echo before-$((40+1))\n", 22), 22);
	cr_assert(pty_wait_for(master, "before-41", buf, sizeof(buf), &got), "%s", buf);

	du_daemon_kill9();
	bool told = pty_wait_for(master, "session goes on", buf, sizeof(buf), &got);
	bool typed = write(master, "echo alive-$((40+2))\n", 21) == 21;
	bool alive = pty_wait_for(master, "alive-42", buf, sizeof(buf), &got);

	du_daemon_start(); /* the container is found again, whatever came of the session */
	cr_assert(told && typed, "strata did not say the daemon went away:\n%s", buf);
	cr_assert(alive, "the shell did not answer after the daemon's end:\n%s", buf);
	cr_assert_eq(write(master, "exit 7\n", 7), 7);
	cr_assert(pty_until_exit(master, pid, &status, buf, sizeof(buf), &got),
		  "strata enter did not end after `exit`:\n%s", buf);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d:\n%s", status, buf);
	_cleanup_free_ char *out = NULL, *err = NULL;
	cr_assert_eq(strata(&out, &err, "status", CT), 0, "%s", err);
	cr_assert_str_eq(out, "CTID " CT " exist mounted running\n");
}

/* kill -9 of the daemon keeps the console: the console keeper holds its
 * master, reads what the container writes meanwhile (the writer does not
 * block), and the next daemon takes both back: the log goes on with the
 * bytes written while no daemon ran, and `strata console` attaches. */
Test(cli_e2e, the_console_outlives_a_daemon_restart)
{
	_cleanup_free_ char *out = NULL, *err = NULL, *logp = NULL, *log = NULL;
	char buf[16384];
	size_t got = 0;
	int master = -1, status = 0;
	pid_t pid;
	bool seen = false;

	need_daemon();
	make_ct(CT, true);
	cr_assert_eq(strata(&out, &err, "exec", CT, "echo before-$((3*3)) >/dev/console"), 0, "%s",
		     err);
	free(out), free(err);
	/* written in the container 1 s later, while no daemon runs */
	cr_assert_eq(strata(&out, &err, "exec", CT,
			    "(sleep 1; echo while-down-$((6*7)) >/dev/console) >/dev/null 2>&1 &"),
		     0, "%s", err);
	usleep(300000); /* the keeper has the console 20-200 ms after the start */
	du_daemon_kill9();
	usleep(1500000);
	du_daemon_start();
	free(out), free(err);
	cr_assert_eq(strata(&out, &err, "exec", CT, "echo after-$((5*5)) >/dev/console"), 0, "%s",
		     err);
	cr_assert_geq(asprintf(&logp, "%s/run/ct/%s.console.log", du.tmp, CT), 0);
	for (int i = 0; i < 100 && !seen; i++) {
		free(log);
		log = tu_read_file(logp);
		seen = log && strstr(log, "after-25");
		if (!seen)
			usleep(20000);
	}
	cr_assert(seen, "the console log has no `after-25`: %s", log ? log : "(none)");
	cr_assert_not_null(strstr(log, "while-down-42"),
			   "what the console wrote without a daemon is lost: %s", log);
	pid = strata_on_pty("console", &master);
	cr_assert(pty_wait_for(master, "while-down-42", buf, sizeof(buf), &got),
		  "console after the restart:\n%s", buf);
	/* the replay starts before the restart, as it did before it */
	cr_assert_not_null(strstr(buf, "before-9"), "%s", buf);
	cr_assert_lt(strstr(buf, "before-9"), strstr(buf, "while-down-42"), "%s", buf);
	cr_assert_eq(write(master, "\033.", 2), 2);
	cr_assert(pty_until_exit(master, pid, &status, buf, sizeof(buf), &got),
		  "strata console did not detach");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d:\n%s", status, buf);
}
