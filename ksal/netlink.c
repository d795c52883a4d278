/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rtnetlink over libmnl. Every request carries NLM_F_ACK; the kernel's
 * extended ack (NETLINK_EXT_ACK) becomes part of the error message:
 * "create veth stnl0a/stnl0b: File exists (kernel: ...)".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
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
static int netns_of(int fd, int *owned, struct st_error **err)
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

	nsfd = netns_of(fd, &owned, err);
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

struct nl_result {
	int errnum;
	char *kmsg;
};

/*
 * Send nlh and read the answer: replies go to cb, which may return a negative
 * errno; the result ends with the ack (or NLMSG_DONE for a dump). Returns 0
 * or a negative errno, with the kernel's message in res->kmsg.
 */
static int nl_exchange(struct ksal_nl *nl, struct nlmsghdr *nlh, ksal_nl_cb cb, void *data,
		       struct nl_result *res)
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

/* nl_exchange, turning a failure into an error naming the operation. */
int ksal_nl_request(struct ksal_nl *nl, struct nlmsghdr *nlh, ksal_nl_cb cb, void *data,
		    struct st_error **err, int exit_code_eexist, const char *fmt, ...)
{
	_cleanup_free_ char *op = NULL;
	struct nl_result res;
	va_list ap;
	int r;

	r = nl_exchange(nl, nlh, cb, data, &res);
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

static struct ifinfomsg *put_ifinfo(struct nlmsghdr *nlh, int index)
{
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	return ifi;
}

static bool ifname_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n >= IFNAMSIZ)
		return false;
	return !strchr(name, '/') && !strchr(name, ' ') && strcmp(name, ".") && strcmp(name, "..");
}

static int check_ifname(const char *name, struct st_error **err)
{
	if (!ifname_valid(name))
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
				     "network device name `%s` (1 to %d characters, no / or space)",
				     name ? name : "", IFNAMSIZ - 1);
	return 0;
}

/* ---- links --------------------------------------------------------------- */

struct link_query {
	int index;
};

static int link_index_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct link_query *q = data;

	if (nlh->nlmsg_type == RTM_NEWLINK)
		q->index = ifi->ifi_index;
	return 0;
}

int ksal_link_index(struct ksal_nl *nl, const char *ifname)
{
	char buf[KSAL_NL_MSG_SIZE];
	struct nlmsghdr *nlh;
	struct link_query q = { .index = -ENODEV };
	struct nl_result res;
	int r;

	if (!ifname_valid(ifname))
		return -ENODEV;
	nlh = ksal_nl_msg_new(buf, RTM_GETLINK, 0);
	put_ifinfo(nlh, 0);
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	r = nl_exchange(nl, nlh, link_index_cb, &q, &res);
	free(res.kmsg);
	if (r < 0)
		return r;
	return q.index;
}

bool ksal_link_exists(struct ksal_nl *nl, const char *ifname)
{
	return ksal_link_index(nl, ifname) > 0;
}

int ksal_nl_link_index_err(struct ksal_nl *nl, const char *ifname, struct st_error **err)
{
	int idx;

	if (check_ifname(ifname, err) < 0)
		return -EINVAL;
	idx = ksal_link_index(nl, ifname);
	if (idx < 0)
		return st_error_setx(err, ST_EXIT_SYSTEM, -idx, "network device `%s`", ifname);
	return idx;
}

struct nlmsghdr *ksal_nl_build_veth(void *buf, const char *host_ifname, const char *peer_ifname,
				    int peer_nsfd)
{
	struct nlmsghdr *nlh = ksal_nl_msg_new(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct nlattr *linkinfo, *data, *peer;
	struct ifinfomsg *pifi;

	put_ifinfo(nlh, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, host_ifname);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* The peer's attributes follow its own ifinfomsg. */
	pifi = (struct ifinfomsg *)((char *)nlh + nlh->nlmsg_len);
	memset(pifi, 0, sizeof(*pifi));
	pifi->ifi_family = AF_UNSPEC;
	nlh->nlmsg_len += MNL_ALIGN(sizeof(*pifi));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_ifname);
	if (peer_nsfd >= 0)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_nsfd);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	return nlh;
}

int ksal_veth_create(struct ksal_nl *nl, const char *host_ifname, const char *peer_ifname,
		     int peer_nsfd, struct st_error **err)
{
	_cleanup_close_ int owned = -EBADF;
	char buf[KSAL_NL_MSG_SIZE];
	struct nlmsghdr *nlh;
	int nsfd = -1, r;

	if (check_ifname(host_ifname, err) < 0 || check_ifname(peer_ifname, err) < 0)
		return -EINVAL;
	if (peer_nsfd >= 0) {
		nsfd = netns_of(peer_nsfd, &owned, err);
		if (nsfd < 0)
			return st_error_prefix(err, "create veth %s/%s: ", host_ifname,
					       peer_ifname);
	}
	nlh = ksal_nl_build_veth(buf, host_ifname, peer_ifname, nsfd);
	r = ksal_nl_request(nl, nlh, NULL, NULL, err, 0, "create veth %s/%s", host_ifname,
			    peer_ifname);
	if (r == 0)
		st_trace("created veth %s/%s%s", host_ifname, peer_ifname,
			 nsfd >= 0 ? " (peer in another netns)" : "");
	return r;
}

int ksal_bridge_create(struct ksal_nl *nl, const char *name, struct st_error **err)
{
	char buf[KSAL_NL_MSG_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *linkinfo;

	if (check_ifname(name, err) < 0)
		return -EINVAL;
	nlh = ksal_nl_msg_new(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	put_ifinfo(nlh, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	mnl_attr_nest_end(nlh, linkinfo);
	return ksal_nl_request(nl, nlh, NULL, NULL, err, 0, "create bridge %s", name);
}

int ksal_link_del(struct ksal_nl *nl, const char *ifname, struct st_error **err)
{
	char buf[KSAL_NL_MSG_SIZE];
	struct nlmsghdr *nlh;
	int idx = ksal_nl_link_index_err(nl, ifname, err);

	if (idx < 0)
		return st_error_prefix(err, "delete ");
	nlh = ksal_nl_msg_new(buf, RTM_DELLINK, 0);
	put_ifinfo(nlh, idx);
	return ksal_nl_request(nl, nlh, NULL, NULL, err, 0, "delete network device %s", ifname);
}

/* RTM_NEWLINK on an existing device, with attributes added by the caller. */
static struct nlmsghdr *link_change_msg(void *buf, int idx)
{
	struct nlmsghdr *nlh = ksal_nl_msg_new(buf, RTM_NEWLINK, 0);

	put_ifinfo(nlh, idx);
	return nlh;
}

int ksal_link_set_up(struct ksal_nl *nl, const char *ifname, bool up, struct st_error **err)
{
	char buf[KSAL_NL_MSG_SIZE];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int idx = ksal_nl_link_index_err(nl, ifname, err);

	if (idx < 0)
		return st_error_prefix(err, "set %s: ", up ? "up" : "down");
	nlh = ksal_nl_msg_new(buf, RTM_NEWLINK, 0);
	ifi = put_ifinfo(nlh, idx);
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	return ksal_nl_request(nl, nlh, NULL, NULL, err, 0, "set %s %s", ifname,
			       up ? "up" : "down");
}

int ksal_link_set_mtu(struct ksal_nl *nl, const char *ifname, unsigned mtu, struct st_error **err)
{
	char buf[KSAL_NL_MSG_SIZE];
	struct nlmsghdr *nlh;
	int idx = ksal_nl_link_index_err(nl, ifname, err);

	if (idx < 0)
		return st_error_prefix(err, "set mtu: ");
	nlh = link_change_msg(buf, idx);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return ksal_nl_request(nl, nlh, NULL, NULL, err, 0, "set mtu %u on %s", mtu, ifname);
}

int ksal_link_set_mac(struct ksal_nl *nl, const char *ifname, const uint8_t mac[6],
		      struct st_error **err)
{
	char buf[KSAL_NL_MSG_SIZE];
	struct nlmsghdr *nlh;
	int idx = ksal_nl_link_index_err(nl, ifname, err);

	if (idx < 0)
		return st_error_prefix(err, "set mac: ");
	nlh = link_change_msg(buf, idx);
	mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	return ksal_nl_request(nl, nlh, NULL, NULL, err, 0,
			       "set mac %02x:%02x:%02x:%02x:%02x:%02x on %s", mac[0], mac[1],
			       mac[2], mac[3], mac[4], mac[5], ifname);
}

int ksal_link_set_master(struct ksal_nl *nl, const char *ifname, const char *master,
			 struct st_error **err)
{
	char buf[KSAL_NL_MSG_SIZE];
	struct nlmsghdr *nlh;
	int idx, midx = 0;

	idx = ksal_nl_link_index_err(nl, ifname, err);
	if (idx < 0)
		return st_error_prefix(err, "set master: ");
	if (master) {
		midx = ksal_nl_link_index_err(nl, master, err);
		if (midx < 0)
			return st_error_prefix(err, "set master of %s: ", ifname);
	}
	nlh = link_change_msg(buf, idx);
	mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)midx);
	return ksal_nl_request(nl, nlh, NULL, NULL, err, 0, "set master of %s to %s", ifname,
			       master ? master : "none");
}

int ksal_link_rename(struct ksal_nl *nl, const char *ifname, const char *newname,
		     struct st_error **err)
{
	char buf[KSAL_NL_MSG_SIZE];
	struct nlmsghdr *nlh;
	int idx;

	if (check_ifname(newname, err) < 0)
		return -EINVAL;
	idx = ksal_nl_link_index_err(nl, ifname, err);
	if (idx < 0)
		return st_error_prefix(err, "rename: ");
	nlh = link_change_msg(buf, idx);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, newname);
	return ksal_nl_request(nl, nlh, NULL, NULL, err, 0, "rename %s to %s", ifname, newname);
}

int ksal_link_move_netns(struct ksal_nl *nl, const char *ifname, int nsfd, struct st_error **err)
{
	_cleanup_close_ int owned = -EBADF;
	char buf[KSAL_NL_MSG_SIZE];
	struct nlmsghdr *nlh;
	int idx, fd;

	idx = ksal_nl_link_index_err(nl, ifname, err);
	if (idx < 0)
		return st_error_prefix(err, "move to netns: ");
	fd = netns_of(nsfd, &owned, err);
	if (fd < 0)
		return st_error_prefix(err, "move %s to netns: ", ifname);
	nlh = link_change_msg(buf, idx);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)fd);
	return ksal_nl_request(nl, nlh, NULL, NULL, err, 0, "move %s to netns fd %d", ifname, nsfd);
}

int ksal_link_move_netns_pid(struct ksal_nl *nl, const char *ifname, pid_t pid,
			     struct st_error **err)
{
	char buf[KSAL_NL_MSG_SIZE];
	struct nlmsghdr *nlh;
	int idx = ksal_nl_link_index_err(nl, ifname, err);

	if (idx < 0)
		return st_error_prefix(err, "move to netns: ");
	nlh = link_change_msg(buf, idx);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_PID, (uint32_t)pid);
	return ksal_nl_request(nl, nlh, NULL, NULL, err, 0, "move %s to netns of pid %d", ifname,
			       (int)pid);
}

/* ---- addresses and routes ------------------------------------------------ */

struct nlmsghdr *ksal_nl_build_addr(void *buf, uint16_t cmd, int ifindex,
				    const struct ksal_ipaddr *a)
{
	struct nlmsghdr *nlh =
		ksal_nl_msg_new(buf, cmd, cmd == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

	ifa->ifa_family = (uint8_t)a->family;
	ifa->ifa_prefixlen = (uint8_t)ksal_ipaddr_prefix_of(a);
	ifa->ifa_index = (uint32_t)ifindex;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	if (a->family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&a->v6))
		ifa->ifa_scope = RT_SCOPE_LINK;
	mnl_attr_put(nlh, IFA_LOCAL, ksal_ipaddr_len(a), &a->v4);
	mnl_attr_put(nlh, IFA_ADDRESS, ksal_ipaddr_len(a), &a->v4);
	/* No duplicate address detection: the address is usable at once, and
	 * uniqueness is the caller's business (like vzctl's venet). */
	if (cmd == RTM_NEWADDR && a->family == AF_INET6) {
		ifa->ifa_flags = IFA_F_NODAD;
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	}
	return nlh;
}

static int addr_change(struct ksal_nl *nl, uint16_t cmd, const char *ifname,
		       const struct ksal_ipaddr *a, struct st_error **err)
{
	char buf[KSAL_NL_MSG_SIZE], ab[INET6_ADDRSTRLEN + 8];
	const char *verb = cmd == RTM_NEWADDR ? "add" : "delete";
	struct nlmsghdr *nlh;
	int idx;

	ksal_ipaddr_str_prefix(a, ab, sizeof(ab));
	idx = ksal_nl_link_index_err(nl, ifname, err);
	if (idx < 0)
		return st_error_prefix(err, "%s address %s: ", verb, ab);
	nlh = ksal_nl_build_addr(buf, cmd, idx, a);
	return ksal_nl_request(nl, nlh, NULL, NULL, err, ST_EXIT_IPINUSE, "%s address %s on %s",
			       verb, ab, ifname);
}

int ksal_addr_add(struct ksal_nl *nl, const char *ifname, const struct ksal_ipaddr *a,
		  struct st_error **err)
{
	return addr_change(nl, RTM_NEWADDR, ifname, a, err);
}

int ksal_addr_del(struct ksal_nl *nl, const char *ifname, const struct ksal_ipaddr *a,
		  struct st_error **err)
{
	return addr_change(nl, RTM_DELADDR, ifname, a, err);
}

static int route_change(struct ksal_nl *nl, uint16_t cmd, const struct ksal_ipaddr *dst,
			const struct ksal_ipaddr *gw, const char *ifname, struct st_error **err)
{
	char buf[KSAL_NL_MSG_SIZE], db[INET6_ADDRSTRLEN + 8], gb[INET6_ADDRSTRLEN];
	const char *verb = cmd == RTM_NEWROUTE ? "add" : "delete";
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	int idx = 0;

	if (dst->prefix == 0)
		snprintf(db, sizeof(db), "default%s", dst->family == AF_INET6 ? " (IPv6)" : "");
	else
		ksal_ipaddr_str_prefix(dst, db, sizeof(db));
	if (gw && gw->family != dst->family)
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
				     "%s route %s: gateway of another address family", verb, db);
	if (cmd == RTM_NEWROUTE && !gw && !ifname)
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
				     "%s route %s: neither gateway nor device", verb, db);
	if (ifname) {
		idx = ksal_nl_link_index_err(nl, ifname, err);
		if (idx < 0)
			return st_error_prefix(err, "%s route %s: ", verb, db);
	}
	nlh = ksal_nl_msg_new(buf, cmd, cmd == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)dst->family;
	rtm->rtm_dst_len = (uint8_t)ksal_ipaddr_prefix_of(dst);
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_type = RTN_UNICAST;
	if (cmd == RTM_DELROUTE) {
		/* Match whoever added it. */
		rtm->rtm_protocol = RTPROT_UNSPEC;
		rtm->rtm_scope = RT_SCOPE_NOWHERE;
	} else {
		rtm->rtm_protocol = RTPROT_STATIC;
		rtm->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	}
	if (rtm->rtm_dst_len)
		mnl_attr_put(nlh, RTA_DST, ksal_ipaddr_len(dst), &dst->v4);
	if (gw)
		mnl_attr_put(nlh, RTA_GATEWAY, ksal_ipaddr_len(gw), &gw->v4);
	if (idx)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)idx);
	if (gw)
		ksal_ipaddr_str(gw, gb, sizeof(gb));
	return ksal_nl_request(nl, nlh, NULL, NULL, err, 0, "%s route %s%s%s%s%s", verb, db,
			       gw ? " via " : "", gw ? gb : "", ifname ? " dev " : "",
			       ifname ? ifname : "");
}

int ksal_route_add(struct ksal_nl *nl, const struct ksal_ipaddr *dst, const struct ksal_ipaddr *gw,
		   const char *ifname, struct st_error **err)
{
	return route_change(nl, RTM_NEWROUTE, dst, gw, ifname, err);
}

int ksal_route_del(struct ksal_nl *nl, const struct ksal_ipaddr *dst, const char *ifname,
		   struct st_error **err)
{
	return route_change(nl, RTM_DELROUTE, dst, NULL, ifname, err);
}

static int neigh_proxy(struct ksal_nl *nl, uint16_t cmd, const char *ifname,
		       const struct ksal_ipaddr *a, struct st_error **err)
{
	char buf[KSAL_NL_MSG_SIZE], ab[INET6_ADDRSTRLEN];
	const char *verb = cmd == RTM_NEWNEIGH ? "add" : "delete";
	struct nlmsghdr *nlh;
	struct ndmsg *ndm;
	int idx;

	ksal_ipaddr_str(a, ab, sizeof(ab));
	idx = ksal_nl_link_index_err(nl, ifname, err);
	if (idx < 0)
		return st_error_prefix(err, "%s proxy neighbour %s: ", verb, ab);
	nlh = ksal_nl_msg_new(buf, cmd, cmd == RTM_NEWNEIGH ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = (uint8_t)a->family;
	ndm->ndm_ifindex = idx;
	ndm->ndm_flags = NTF_PROXY;
	ndm->ndm_state = NUD_PERMANENT;
	mnl_attr_put(nlh, NDA_DST, ksal_ipaddr_len(a), &a->v4);
	return ksal_nl_request(nl, nlh, NULL, NULL, err, 0, "%s proxy neighbour %s on %s", verb, ab,
			       ifname);
}

int ksal_neigh_proxy_add(struct ksal_nl *nl, const char *ifname, const struct ksal_ipaddr *a,
			 struct st_error **err)
{
	return neigh_proxy(nl, RTM_NEWNEIGH, ifname, a, err);
}

int ksal_neigh_proxy_del(struct ksal_nl *nl, const char *ifname, const struct ksal_ipaddr *a,
			 struct st_error **err)
{
	return neigh_proxy(nl, RTM_DELNEIGH, ifname, a, err);
}
