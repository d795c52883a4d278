/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libstrata_client on the wire: reply decoding, the unreachable-daemon
 * error, and one round trip against a peer on a real unix socket that
 * checks the request line and the fds passed by SCM_RIGHTS.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "cli/client.h"
#include "ksal/cleanup.h"

static struct st_error *err;
static char sock_path[108];
static int listen_fd = -EBADF;

static void setup(void)
{
	err = NULL;
	snprintf(sock_path, sizeof(sock_path), "/tmp/stcli-unit-%d.sock", getpid());
	unlink(sock_path);
}

static void teardown(void)
{
	st_error_freep(&err);
	closep(&listen_fd);
	unlink(sock_path);
}

TestSuite(client, .init = setup, .fini = teardown);

Test(client, parse_event_ok_error)
{
	json_t *ev = NULL, *res = NULL;

	const char *evl = "{\"event\":\"progress\",\"percent\":40}";
	cr_assert_eq(st_client_parse_line(evl, strlen(evl), &ev, &res, &err), 1);
	cr_assert_eq(json_integer_value(json_object_get(ev, "percent")), 40);
	json_decref(ev);

	const char *ok = "{\"ok\":true,\"result\":{\"exit_code\":7}}";
	cr_assert_eq(st_client_parse_line(ok, strlen(ok), &ev, &res, &err), 0);
	cr_assert_eq(json_integer_value(json_object_get(res, "exit_code")), 7);
	json_decref(res);
	res = NULL;

	const char *ok2 = "{\"ok\":true}";
	cr_assert_eq(st_client_parse_line(ok2, strlen(ok2), &ev, &res, &err), 0);
	cr_assert(json_is_object(res));
	json_decref(res);

	const char *bad = "{\"ok\":false,\"error\":\"start 101: already running\",\"exit\":32}";
	cr_assert_lt(st_client_parse_line(bad, strlen(bad), &ev, &res, &err), 0);
	cr_assert_eq(err->exit_code, 32);
	cr_assert_str_eq(err->msg, "start 101: already running");
}

Test(client, malformed_lines_are_protocol_errors)
{
	const char *lines[] = { "not json", "[1,2]", "{\"hello\":1}", "{\"event\":3}" };
	json_t *ev = NULL, *res = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
		st_error_freep(&err);
		cr_assert_lt(st_client_parse_line(lines[i], strlen(lines[i]), &ev, &res, &err), 0,
			     "%s", lines[i]);
		cr_assert_eq(err->exit_code, ST_EXIT_PROTOCOL, "%s", lines[i]);
	}
}

Test(client, socket_path_precedence)
{
	unsetenv("STRATA_SOCKET");
	cr_assert_str_eq(st_client_socket_path(NULL), "/run/strata/strata.sock");
	setenv("STRATA_SOCKET", "/tmp/stcli-env.sock", 1);
	cr_assert_str_eq(st_client_socket_path(NULL), "/tmp/stcli-env.sock");
	cr_assert_str_eq(st_client_socket_path("/tmp/stcli-opt.sock"), "/tmp/stcli-opt.sock");
	unsetenv("STRATA_SOCKET");
}

Test(client, unreachable_daemon)
{
	struct st_client *c = NULL;
	char want[256];

	cr_assert_lt(st_client_connect(sock_path, &c, &err), 0);
	cr_assert_null(c);
	cr_assert_eq(err->exit_code, ST_EXIT_NODAEMON);
	snprintf(want, sizeof(want),
		 "cannot reach stratad at %s: No such file or directory (is stratad running?)",
		 sock_path);
	cr_assert_str_eq(err->msg, want);
}

Test(client, socket_nobody_listens_on)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct st_client *c = NULL;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, sock_path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd); /* bound, never listening: ECONNREFUSED */
	cr_assert_lt(st_client_connect(sock_path, &c, &err), 0);
	cr_assert_eq(err->exit_code, ST_EXIT_NODAEMON);
	cr_assert_not_null(strstr(err->msg, "Connection refused"), "%s", err->msg);
}

/* The peer: read one request line with its fds, write through the passed
 * stdout fd, then answer with two events and a result. */
struct peer {
	char line[4096];
	int nfds;
	bool fds_work;
	const char *reply;
	int send_fd; /* > 0: goes with the reply's first byte (SCM_RIGHTS) */
};

static void *peer_main(void *data)
{
	struct peer *p = data;
	int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	char cbuf[CMSG_SPACE(sizeof(int) * 8)];
	struct iovec iov = { .iov_base = p->line, .iov_len = sizeof(p->line) - 1 };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t n;

	if (conn < 0)
		return NULL;
	n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
	if (n > 0) {
		p->line[n] = '\0';
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			int fds[8];
			p->nfds = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fds, CMSG_DATA(cm), sizeof(int) * (size_t)p->nfds);
			if (p->nfds == 3)
				p->fds_work = write(fds[1], "via-fd", 6) == 6;
			for (int i = 0; i < p->nfds; i++)
				close(fds[i]);
		}
	}
	/* the reply arrives in pieces to exercise line buffering */
	size_t len = strlen(p->reply), half = len / 2;
	if (p->send_fd > 0) {
		char fbuf[CMSG_SPACE(sizeof(int))] = { 0 };
		struct iovec fiov = { .iov_base = (void *)p->reply, .iov_len = half };
		struct msghdr fm = { .msg_iov = &fiov,
				     .msg_iovlen = 1,
				     .msg_control = fbuf,
				     .msg_controllen = sizeof(fbuf) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&fm);

		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &p->send_fd, sizeof(int));
		(void)!sendmsg(conn, &fm, 0);
	} else {
		(void)!write(conn, p->reply, half);
	}
	usleep(20000);
	(void)!write(conn, p->reply + half, len - half);
	close(conn);
	return NULL;
}

static void listen_here(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	strcpy(sa.sun_path, sock_path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(listen_fd, 0);
	cr_assert_eq(bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(listen_fd, 1), 0);
}

static int events_seen;
static int count_event(json_t *ev, void *data, struct st_error **e)
{
	const char *kind = json_string_value(json_object_get(ev, "event"));

	if (kind && strcmp(kind, data) == 0)
		events_seen++;
	return 0;
}

Test(client, round_trip_with_fds_and_events)
{
	struct peer p = { .reply = "{\"event\":\"progress\",\"message\":\"x\",\"percent\":50}\n"
				   "{\"event\":\"progress\",\"message\":\"y\",\"percent\":100}\n"
				   "{\"ok\":true,\"result\":{\"exit_code\":7}}\n" };
	int pipefd[2];
	pthread_t th;
	json_t *res = NULL;
	char got[16] = { 0 };

	listen_here();
	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
	pthread_create(&th, NULL, peer_main, &p);

	json_t *req = json_pack("{s:s, s:s, s:{s:[ss]}}", "verb", "exec", "ctid", "9201", "args",
				"argv", "/bin/sh", "-c");
	int fds[3] = { 0, pipefd[1], 2 };
	events_seen = 0;
	int r = st_client_call(sock_path, req, fds, 3, count_event, "progress", &res, &err);
	pthread_join(th, NULL);
	json_decref(req);

	cr_assert_eq(r, 0, "%s", err ? err->msg : "");
	cr_assert_eq(events_seen, 2);
	cr_assert_eq(json_integer_value(json_object_get(res, "exit_code")), 7);
	json_decref(res);

	/* one line of compact JSON, ending in a newline */
	size_t len = strlen(p.line);
	cr_assert_gt(len, 1);
	cr_assert_eq(p.line[len - 1], '\n');
	cr_assert_null(memchr(p.line, '\n', len - 1));
	json_t *sent = json_loads(p.line, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(sent, "ctid")), "9201");
	json_decref(sent);

	cr_assert_eq(p.nfds, 3);
	cr_assert(p.fds_work);
	cr_assert_eq(read(pipefd[0], got, sizeof(got) - 1), 6);
	cr_assert_str_eq(got, "via-fd");
	close(pipefd[0]);
	close(pipefd[1]);
}

/* An event may carry an fd (enter's pty): st_client_read_some() steps
 * through the lines as a polling caller reads them, the fd is the
 * caller's, and the final reply ends the steps. */
Test(client, an_event_hands_over_an_fd)
{
	struct peer p = { .reply = "{\"event\":\"tty\",\"pty\":true}\n"
				   "{\"ok\":true,\"result\":{\"exit_code\":0}}\n" };
	struct st_client *c = NULL;
	int pipefd[2], r, steps = 0, fd;
	pthread_t th;
	json_t *res = NULL, *req = json_pack("{s:s}", "verb", "enter");
	char got[8] = { 0 };

	listen_here();
	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
	p.send_fd = pipefd[1];
	pthread_create(&th, NULL, peer_main, &p);
	cr_assert_eq(st_client_connect(sock_path, &c, &err), 0);
	cr_assert_eq(st_client_send(c, req, NULL, 0, &err), 0);
	cr_assert_eq(st_client_take_fd(c), -1);
	events_seen = 0;
	while ((r = st_client_read_some(c, count_event, "tty", &res, &err)) > 0)
		steps++;
	pthread_join(th, NULL);
	json_decref(req);
	cr_assert_eq(r, 0, "%s", err ? err->msg : "");
	cr_assert_geq(steps, 1); /* the reply came in two pieces */
	cr_assert_eq(events_seen, 1);
	fd = st_client_take_fd(c);
	cr_assert_geq(fd, 0);
	cr_assert_neq(fd, pipefd[1]);
	cr_assert_eq(st_client_take_fd(c), -1);
	close(pipefd[1]);
	cr_assert_eq(write(fd, "pty", 3), 3);
	close(fd);
	cr_assert_eq(read(pipefd[0], got, sizeof(got) - 1), 3);
	cr_assert_str_eq(got, "pty");
	close(pipefd[0]);
	cr_assert(st_client_closed(c) || st_client_read_some(c, NULL, NULL, NULL, &err) < 0);
	json_decref(res);
	st_client_free(c);
}

Test(client, error_reply_carries_exit_code)
{
	struct peer p = { .reply = "{\"ok\":false,\"error\":\"start 9201: already running\","
				   "\"exit\":32}\n" };
	pthread_t th;
	json_t *req = json_pack("{s:s, s:s}", "verb", "start", "ctid", "9201");

	listen_here();
	pthread_create(&th, NULL, peer_main, &p);
	cr_assert_lt(st_client_call(sock_path, req, NULL, 0, NULL, NULL, NULL, &err), 0);
	pthread_join(th, NULL);
	json_decref(req);
	cr_assert_eq(p.nfds, 0);
	cr_assert_eq(err->exit_code, 32);
	cr_assert_str_eq(err->msg, "start 9201: already running");
}

Test(client, closed_before_reply)
{
	struct peer p = { .reply = "{\"event\":\"log\",\"message\":\"bye\"}\n" };
	pthread_t th;
	json_t *req = json_pack("{s:s}", "verb", "ping");

	listen_here();
	pthread_create(&th, NULL, peer_main, &p);
	cr_assert_lt(st_client_call(sock_path, req, NULL, 0, NULL, NULL, NULL, &err), 0);
	pthread_join(th, NULL);
	json_decref(req);
	cr_assert_eq(err->exit_code, ST_EXIT_PROTOCOL);
	cr_assert_not_null(strstr(err->msg, "closed the connection"), "%s", err->msg);
}

/* A socket the caller may not open (mode 0600, root's; the test drops to
 * nobody when it runs as root, which no mode stops): exit 12, a message
 * naming group strata, not "cannot reach stratad" (102). */
Test(client, socket_without_permission_is_exit_12)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int status = 0;
	pid_t pid;

	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(listen_fd, 0);
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	cr_assert_eq(bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(listen_fd, 4), 0);
	cr_assert_eq(chmod(sock_path, 0600), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct st_client *c = NULL;
		struct st_error *e = NULL;

		if (geteuid() == 0 &&
		    (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		     setresuid(65534, 65534, 65534) < 0))
			_exit(2);
		if (st_client_connect(sock_path, &c, &e) == 0)
			_exit(3);
		if (st_error_exit(e) != ST_EXIT_PERM)
			_exit(4);
		if (!strstr(e->msg, "permission denied") || !strstr(e->msg, "group `strata`"))
			_exit(5);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child status %d (2 setuid, 3 connected, 4 exit code, 5 message)", status);
}
