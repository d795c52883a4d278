/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * File descriptors over a unix socket (SCM_RIGHTS): the daemon's API (the
 * client's stdio, enter's pty), the console keeper's consoles. Header-only:
 * libstrata_client and the tests use it without linking libksal.
 */
#ifndef STRATA_KSAL_FDPASS_H
#define STRATA_KSAL_FDPASS_H

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

/* The most fds one message carries here. */
#define KSAL_FDPASS_MAX 8

union ksal_cmsg_buf {
	char b[CMSG_SPACE(sizeof(int) * KSAL_FDPASS_MAX)];
	struct cmsghdr align;
};

/* sendmsg(buf, len) with fds[0..nfds) (nfds <= KSAL_FDPASS_MAX; 0: a plain
 * send), MSG_NOSIGNAL, again on EINTR. The bytes sent, or -1 (errno). */
static inline ssize_t ksal_send_fds(int sock, const void *buf, size_t len, const int *fds,
				    size_t nfds)
{
	union ksal_cmsg_buf u;
	struct iovec iov = { (void *)buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > KSAL_FDPASS_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (nfds) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		m.msg_control = u.b;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(sock, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n;
}

/* recvmsg into buf with MSG_CMSG_CLOEXEC | flags, again on EINTR. The fds
 * that came along are appended at fds[*nfds] up to max (more are closed).
 * The bytes read (0: EOF), or -1 (errno). */
static inline ssize_t ksal_recv_fds(int sock, void *buf, size_t len, int flags, int *fds,
				    size_t *nfds, size_t max)
{
	union ksal_cmsg_buf u;
	struct iovec iov = { buf, len };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)
	};
	ssize_t n;

	do
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return n;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
		size_t k;
		int got[KSAL_FDPASS_MAX * 2];

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (k > sizeof(got) / sizeof(got[0]))
			k = sizeof(got) / sizeof(got[0]);
		memcpy(got, CMSG_DATA(cm), k * sizeof(int));
		for (size_t i = 0; i < k; i++) {
			if (*nfds < max)
				fds[(*nfds)++] = got[i];
			else
				close(got[i]);
		}
	}
	return n;
}

#endif
