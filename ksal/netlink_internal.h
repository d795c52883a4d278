/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internals shared by ksal/netlink*.c and exposed for unit tests: the raw
 * request exchange, message builders that need no kernel, and the parser of
 * the kernel's (extended) acks. Not part of the ksal API; only netlink*.c
 * and tests include this.
 */
#ifndef STRATA_KSAL_NETLINK_INTERNAL_H
#define STRATA_KSAL_NETLINK_INTERNAL_H

#include <linux/netlink.h>
#include <stddef.h>
#include <stdint.h>

#include "ksal/netlink.h"

/* Size every builder below may use. */
#define KSAL_NL_MSG_SIZE 1024

typedef int (*ksal_nl_cb)(const struct nlmsghdr *nlh, void *data);

/* A zeroed message of type in buf (KSAL_NL_MSG_SIZE bytes). */
struct nlmsghdr *ksal_nl_msg_new(void *buf, uint16_t type, uint16_t flags);
/* The outcome of ksal_nl_exchange(); kmsg is malloc'ed (or NULL). */
struct ksal_nl_result {
	int errnum;
	char *kmsg;
};
/*
 * Send nlh and read the answer: replies go to cb, which may return a negative
 * errno; the result ends with the ack (or NLMSG_DONE for a dump). Returns 0
 * or a negative errno, with the kernel's message in res->kmsg (free it).
 */
int ksal_nl_exchange(struct ksal_nl *nl, struct nlmsghdr *nlh, ksal_nl_cb cb, void *data,
		     struct ksal_nl_result *res);
/*
 * Send nlh (NLM_F_ACK added unless a dump) and read until the ack or
 * NLMSG_DONE, replies to cb. A failure fills *err with "<fmt>: <strerror>
 * (kernel: <extack>)"; EEXIST gets exit_code_eexist when non-zero.
 */
int ksal_nl_request(struct ksal_nl *nl, struct nlmsghdr *nlh, ksal_nl_cb cb, void *data,
		    struct st_error **err, int exit_code_eexist, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
/*
 * Enter the network namespace nsfd; *saved gets the caller's own, to go back
 * by ksal_netns_leavep() (declare it _cleanup_netns_). Already there: *saved
 * stays -EBADF. Not going back aborts: nothing is safe in the wrong netns.
 */
int ksal_netns_enter(int nsfd, int *saved, struct st_error **err);
void ksal_netns_leavep(int *saved);
#define _cleanup_netns_ __attribute__((cleanup(ksal_netns_leavep)))
/*
 * A netns fd for fd, which is either a netns fd or a pidfd. *owned gets an
 * fd the caller must close when one was opened.
 */
int ksal_netns_of(int fd, int *owned, struct st_error **err);
/* The netns fd nl's socket lives in (owned by nl). */
int ksal_nl_netns_fd(const struct ksal_nl *nl);

/* a's prefix length, the host prefix when a->prefix is -1. */
int ksal_ipaddr_prefix_of(const struct ksal_ipaddr *a);
/* 4 or 16. */
size_t ksal_ipaddr_len(const struct ksal_ipaddr *a);
/* Index of ifname, or an error naming it. */
int ksal_nl_link_index_err(struct ksal_nl *nl, const char *ifname, struct st_error **err);

/*
 * An NLMSG_ERROR message: the errno it carries (negative, 0 for an ack) and,
 * when the kernel sent an extended ack, its message in *kmsg (pointing into
 * nlh; NULL otherwise). -EBADMSG when the message is truncated.
 */
int ksal_nl_parse_error(const struct nlmsghdr *nlh, const char **kmsg);

/* RTM_NEWLINK creating a veth pair; peer_nsfd < 0: same namespace. */
struct nlmsghdr *ksal_nl_build_veth(void *buf, const char *host_ifname, const char *peer_ifname,
				    int peer_nsfd);
/* RTM_NEWADDR / RTM_DELADDR (cmd) for a on ifindex. */
struct nlmsghdr *ksal_nl_build_addr(void *buf, uint16_t cmd, int ifindex,
				    const struct ksal_ipaddr *a);
/* RTM_NEWQDISC replacing the root qdisc of ifindex with a tbf at bits_per_sec. */
struct nlmsghdr *ksal_nl_build_tbf(void *buf, int ifindex, uint64_t bits_per_sec, unsigned mtu);

#endif
