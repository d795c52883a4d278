/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rtnetlink over libmnl. Every request carries NLM_F_ACK; the kernel's
 * extended ack (NETLINK_EXT_ACK) becomes part of the error message:
 * "create veth stnl0a/stnl0b: File exists (kernel: ...)".
 * This file holds namespaces, the socket and the request/ack exchange;
 * devices live in netlink_link.c, addresses and routes in netlink_route.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/error.h"
#include "ksal/log.h"
#include "ksal/netlink.h"
#include "ksal/netlink_internal.h"

#ifndef PIDFD_GET_NET_NAMESPACE
#define PIDFD_GET_NET_NAMESPACE _IO(0xFF, 4)
#endif

#define NL_RECV_SIZE 32768

struct ksal_nl {
	struct mnl_socket *sk;
	unsigned int portid;
	unsigned int seq;
	int nsfd; /* the network namespace the socket lives in */
	char *rbuf;
};

/* ---- namespaces ---------------------------------------------------------- */

/*
 * The netns of a pidfd's process through /proc, for kernels without
 * PIDFD_GET_NET_NAMESPACE: the pid from fdinfo, then a check that the pidfd's
 * process is still alive, so the pid cannot have been reused meanwhile.
 */
static int pidfd_netns_proc(int pidfd)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	char path[64];
	size_t cap = 0;
	int pid = -1, nsfd;

	if (snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd) >= (int)sizeof(path))
		return -(errno = EINVAL);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0)
		if (sscanf(line, "Pid:\t%d", &pid) == 1)
			break;
	if (pid <= 0)
		return -(errno = EINVAL);
	if (snprintf(path, sizeof(path), "/proc/%d/ns/net", pid) >= (int)sizeof(path))
		return -(errno = EINVAL);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return -errno;
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0) {
		closep(&nsfd);
		return -(errno = ESRCH);
	}
	return nsfd;
}

/*
 * A netns fd for fd, which is either a netns fd or a pidfd. *owned gets an
 * fd the caller must close when one was opened.
 */
int ksal_netns_of(int fd, int *owned, struct st_error **err)
{
	int r, nsfd;

	*owned = -EBADF;
	r = ioctl(fd, NS_GET_NSTYPE);
	if (r == CLONE_NEWNET)
		return fd;
	if (r >= 0)
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
				     "fd %d is a namespace but not a network namespace", fd);
	nsfd = ioctl(fd, PIDFD_GET_NET_NAMESPACE, 0);
	if (nsfd < 0 && (errno == ENOTTY || errno == EINVAL))
		nsfd = pidfd_netns_proc(fd); /* kernels before 6.11 */
	if (nsfd < 0)
		return st_error_set(err, errno,
				    "network namespace of fd %d (neither netns nor pidfd)", fd);
	*owned = nsfd;
	return nsfd;
}

static int netns_self(struct st_error **err)
{
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return st_error_set(err, errno, "open `/proc/thread-self/ns/net`");
	return fd;
}

static bool netns_same(int a, int b)
{
	struct stat sa, sb;

	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return false;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/*
 * Enter the network namespace nsfd; *saved gets the caller's own, to go back
 * with ksal_netns_leavep(). When already there, *saved stays -EBADF.
 */
int ksal_netns_enter(int nsfd, int *saved, struct st_error **err)
{
	_cleanup_close_ int self = -EBADF;

	*saved = -EBADF;
	self = netns_self(err);
	if (self < 0)
		return self;
	if (netns_same(self, nsfd))
		return 0;
	if (setns(nsfd, CLONE_NEWNET) < 0)
		return st_error_set(err, errno, "enter network namespace (fd %d)", nsfd);
	*saved = take_fd(self);
	return 0;
}

void ksal_netns_leavep(int *saved)
{
	if (*saved < 0)
		return;
	if (setns(*saved, CLONE_NEWNET) < 0) {
		/* The caller now runs in the wrong namespace: nothing else is safe. */
		st_error_log("return to own network namespace: %s", strerror(errno));
		abort();
	}
	closep(saved);
}

/* ---- socket -------------------------------------------------------------- */

int ksal_nl_netns_fd(const struct ksal_nl *nl)
{
	return nl->nsfd;
}

void ksal_nl_close(struct ksal_nl *nl)
{
	if (!nl)
		return;
	if (nl->sk)
		mnl_socket_close(nl->sk);
	closep(&nl->nsfd);
	free(nl->rbuf);
	free(nl);
}

static void ksal_nl_closep(struct ksal_nl **nl)
{
	ksal_nl_close(*nl);
	*nl = NULL;
}

/* A socket in the current namespace, nsfd the fd naming it (taken). */
static int nl_open_here(int nsfd, struct ksal_nl **out, struct st_error **err)
{
	__attribute__((cleanup(ksal_nl_closep))) struct ksal_nl *nl = NULL;
	int one = 1;

	nl = calloc(1, sizeof(*nl));
	if (!nl) {
		closep(&nsfd);
		return st_error_set(err, ENOMEM, "open rtnetlink socket");
	}
	nl->nsfd = nsfd;
	nl->rbuf = malloc(NL_RECV_SIZE);
	if (!nl->rbuf)
		return st_error_set(err, ENOMEM, "open rtnetlink socket");
	nl->sk = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sk)
		return st_error_set(err, errno, "open rtnetlink socket");
	if (mnl_socket_bind(nl->sk, 0, MNL_SOCKET_AUTOPID) < 0)
		return st_error_set(err, errno, "bind rtnetlink socket");
	/* Both are best effort: old kernels lack them and still work. */
	mnl_socket_setsockopt(nl->sk, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sk, NETLINK_CAP_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->sk);
	nl->seq = (unsigned int)time(NULL);
	*out = take_ptr(nl);
	return 0;
}

int ksal_nl_open(struct ksal_nl **out, struct st_error **err)
{
	int nsfd = netns_self(err);

	if (nsfd < 0)
		return nsfd;
	return nl_open_here(nsfd, out, err);
}

int ksal_nl_open_netns(int fd, struct ksal_nl **out, struct st_error **err)
{
	_cleanup_close_ int owned = -EBADF, dup = -EBADF;
	_cleanup_netns_ int saved = -EBADF;
	int nsfd, r;

	nsfd = ksal_netns_of(fd, &owned, err);
	if (nsfd < 0)
		return nsfd;
	dup = owned >= 0 ? take_fd(owned) : fcntl(nsfd, F_DUPFD_CLOEXEC, 3);
	if (dup < 0)
		return st_error_set(err, errno, "duplicate network namespace fd %d", nsfd);
	r = ksal_netns_enter(dup, &saved, err);
	if (r < 0)
		return r;
	r = nl_open_here(take_fd(dup), out, err);
	/* saved restores the caller's namespace on return */
	return r;
}

/* ---- messages ------------------------------------------------------------ */

int ksal_nl_parse_error(const struct nlmsghdr *nlh, const char **kmsg)
{
	const struct nlmsgerr *e;
	const struct nlattr *attr;
	size_t off, len;
	int errnum;

	*kmsg = NULL;
	if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*e))
		return -EBADMSG;
	e = mnl_nlmsg_get_payload(nlh);
	if (e->error == 0)
		return 0;
	errnum = e->error < 0 ? e->error : -e->error;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return errnum;
	/* The TLVs follow the echoed request: its header only when capped. */
	off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	off = MNL_ALIGN(off);
	len = nlh->nlmsg_len - NLMSG_HDRLEN;
	if (off >= len)
		return errnum;
	mnl_attr_for_each_payload((const void *)((const char *)e + off), len - off)
	{
		if (mnl_attr_get_type(attr) != NLMSGERR_ATTR_MSG)
			continue;
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
			break;
		*kmsg = mnl_attr_get_str(attr);
	}
	return errnum;
}

/* Fill *err from errnum, the kernel's message and the operation. */
static int nl_fail(struct st_error **err, int errnum, const char *kmsg, int exit_code,
		   const char *op)
{
	if (!kmsg || !*kmsg)
		return st_error_setx(err, exit_code, errnum, "%s", op);
	if (err && !*err) {
		st_error_setx(err, exit_code, 0, "%s: %s (kernel: %s)", op, strerror(errnum), kmsg);
		if (*err)
			(*err)->errnum = errnum;
	}
	return -errnum;
}

/*
 * Send nlh and read the answer: replies go to cb, which may return a negative
 * errno; the result ends with the ack (or NLMSG_DONE for a dump). Returns 0
 * or a negative errno, with the kernel's message in res->kmsg.
 */
int ksal_nl_exchange(struct ksal_nl *nl, struct nlmsghdr *nlh, ksal_nl_cb cb, void *data,
		     struct ksal_nl_result *res)
{
	/* NLM_F_DUMP shares bits with NLM_F_EXCL/APPEND: only GETs dump. */
	bool dump =
		(nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP && !(nlh->nlmsg_flags & NLM_F_CREATE);
	int cb_err = 0;

	res->errnum = 0;
	res->kmsg = NULL;
	nlh->nlmsg_flags |= NLM_F_REQUEST;
	if (!dump)
		nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++nl->seq;
	if (mnl_socket_sendto(nl->sk, nlh, nlh->nlmsg_len) < 0)
		return res->errnum = -errno;

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sk, nl->rbuf, NL_RECV_SIZE);
		const struct nlmsghdr *m;
		int len;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return res->errnum = -errno;
		}
		len = (int)n;
		for (m = (const struct nlmsghdr *)nl->rbuf; mnl_nlmsg_ok(m, len);
		     m = mnl_nlmsg_next(m, &len)) {
			if (m->nlmsg_seq != nl->seq || (m->nlmsg_pid && m->nlmsg_pid != nl->portid))
				continue;
			if (m->nlmsg_type == NLMSG_ERROR) {
				const char *kmsg;
				int r = ksal_nl_parse_error(m, &kmsg);

				if (kmsg)
					res->kmsg = strdup(kmsg);
				return res->errnum = r < 0 ? r : cb_err;
			}
			if (m->nlmsg_type == NLMSG_DONE) {
				int r = 0;

				if (m->nlmsg_len >= NLMSG_HDRLEN + sizeof(int))
					memcpy(&r, mnl_nlmsg_get_payload(m), sizeof(r));
				return res->errnum = r < 0 ? r : cb_err;
			}
			if (cb && !cb_err)
				cb_err = cb(m, data);
		}
	}
}

/* ksal_nl_exchange, turning a failure into an error naming the operation. */
int ksal_nl_request(struct ksal_nl *nl, struct nlmsghdr *nlh, ksal_nl_cb cb, void *data,
		    struct st_error **err, int exit_code_eexist, const char *fmt, ...)
{
	_cleanup_free_ char *op = NULL;
	struct ksal_nl_result res;
	va_list ap;
	int r;

	r = ksal_nl_exchange(nl, nlh, cb, data, &res);
	if (r == 0 && st_log_get_level() < ST_LOG_TRACE)
		return 0;
	va_start(ap, fmt);
	if (vasprintf(&op, fmt, ap) < 0)
		op = NULL;
	va_end(ap);
	if (r == 0) {
		st_trace("rtnetlink: %s", op ? op : "request");
		return 0;
	}
	r = nl_fail(err, -r, res.kmsg,
		    r == -EEXIST && exit_code_eexist ? exit_code_eexist : ST_EXIT_SYSTEM,
		    op ? op : "rtnetlink request");
	free(res.kmsg);
	return r;
}

struct nlmsghdr *ksal_nl_msg_new(void *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh;

	memset(buf, 0, KSAL_NL_MSG_SIZE);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	return nlh;
}
