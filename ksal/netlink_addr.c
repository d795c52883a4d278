/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IP addresses: strict parsing and printing, subnet arithmetic for address
 * pools, and whether an address is already taken in a network namespace.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>

#include "ksal/error.h"
#include "ksal/netlink.h"
#include "ksal/netlink_internal.h"

int ksal_ipaddr_host_prefix(const struct ksal_ipaddr *a)
{
	return a->family == AF_INET6 ? 128 : 32;
}

int ksal_ipaddr_prefix_of(const struct ksal_ipaddr *a)
{
	return a->prefix < 0 ? ksal_ipaddr_host_prefix(a) : a->prefix;
}

size_t ksal_ipaddr_len(const struct ksal_ipaddr *a)
{
	return a->family == AF_INET6 ? sizeof(a->v6) : sizeof(a->v4);
}

int ksal_ipaddr_parse(const char *s, struct ksal_ipaddr *out, struct st_error **err)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash;
	size_t alen;
	struct ksal_ipaddr a = { .prefix = -1 };

	if (!s || !*s)
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL, "empty IP address");
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(buf))
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL, "invalid IP address `%s`", s);
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (strchr(buf, ':')) {
		a.family = AF_INET6;
		if (inet_pton(AF_INET6, buf, &a.v6) != 1)
			return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
					     "invalid IPv6 address `%s`", s);
	} else {
		a.family = AF_INET;
		if (inet_pton(AF_INET, buf, &a.v4) != 1)
			return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
					     "invalid IPv4 address `%s`", s);
	}
	if (slash) {
		const char *p = slash + 1;
		int max = ksal_ipaddr_host_prefix(&a), v = 0;

		if (!*p || strlen(p) > 3)
			return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
					     "invalid prefix length in `%s`", s);
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
						     "invalid prefix length in `%s`", s);
			v = v * 10 + (*p - '0');
		}
		if (v > max)
			return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
					     "prefix length in `%s` is over %d", s, max);
		a.prefix = v;
	}
	*out = a;
	return 0;
}

const char *ksal_ipaddr_str(const struct ksal_ipaddr *a, char *buf, size_t len)
{
	if (!inet_ntop(a->family,
		       a->family == AF_INET6 ? (const void *)&a->v6 : (const void *)&a->v4, buf,
		       len)) {
		if (len)
			snprintf(buf, len, "?");
	}
	return buf;
}

const char *ksal_ipaddr_str_prefix(const struct ksal_ipaddr *a, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];
	int n;

	ksal_ipaddr_str(a, tmp, sizeof(tmp));
	n = snprintf(buf, len, "%s/%d", tmp, ksal_ipaddr_prefix_of(a));
	if (n < 0 || (size_t)n >= len) {
		if (len)
			buf[0] = '\0';
	}
	return buf;
}

/* ---- arithmetic -------------------------------------------------------------- */

/* The address bytes, IPv4 in the first 4. */
static const uint8_t *bytes_of(const struct ksal_ipaddr *a)
{
	return a->family == AF_INET6 ? a->v6.s6_addr : (const uint8_t *)&a->v4.s_addr;
}

bool ksal_ipaddr_equal(const struct ksal_ipaddr *a, const struct ksal_ipaddr *b)
{
	return a->family == b->family && !memcmp(bytes_of(a), bytes_of(b), ksal_ipaddr_len(a));
}

/* Do a and b agree in their first bits bits? */
static bool same_prefix(const uint8_t *a, const uint8_t *b, int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)full))
		return false;
	if (!rest)
		return true;
	return ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool ksal_ipaddr_in_subnet(const struct ksal_ipaddr *a, const struct ksal_ipaddr *net)
{
	return a->family == net->family &&
	       same_prefix(bytes_of(a), bytes_of(net), ksal_ipaddr_prefix_of(net));
}

/* Are the host bits (after bits) of a all `ones`? */
static bool host_bits_all(const uint8_t *a, size_t len, int bits, bool ones)
{
	for (size_t i = 0; i < len * 8; i++) {
		bool set = a[i / 8] & (0x80 >> (i % 8));

		if ((int)i >= bits && set != ones)
			return false;
	}
	return true;
}

bool ksal_ipaddr_is_network(const struct ksal_ipaddr *a, const struct ksal_ipaddr *net)
{
	int bits = ksal_ipaddr_prefix_of(net), host = ksal_ipaddr_host_prefix(net);

	if (!ksal_ipaddr_in_subnet(a, net) || host - bits < 2)
		return false; /* /31, /32, /127, /128 have no network address */
	if (host_bits_all(bytes_of(a), ksal_ipaddr_len(a), bits, false))
		return true;
	return a->family == AF_INET && host_bits_all(bytes_of(a), 4, bits, true);
}

/* a + 1 within its family; false on wrap-around. */
static bool ipaddr_inc(struct ksal_ipaddr *a)
{
	uint8_t *b = a->family == AF_INET6 ? a->v6.s6_addr : (uint8_t *)&a->v4.s_addr;

	for (size_t i = ksal_ipaddr_len(a); i-- > 0;)
		if (++b[i])
			return true;
	return false;
}

int ksal_ipaddr_pool_next(const struct ksal_ipaddr *pool, const struct ksal_ipaddr *used, size_t n,
			  struct ksal_ipaddr *out, struct st_error **err)
{
	char pb[INET6_ADDRSTRLEN + 8];
	struct ksal_ipaddr c = *pool;
	int bits = ksal_ipaddr_prefix_of(pool);
	uint8_t *b = c.family == AF_INET6 ? c.v6.s6_addr : (uint8_t *)&c.v4.s_addr;

	/* Start at the network address; at most n + 3 candidates are needed
	 * (network, the pool's own address, n used, then a free one). */
	for (int i = bits; i < ksal_ipaddr_host_prefix(&c); i++)
		b[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
	c.prefix = -1;
	for (size_t tries = 0; tries < n + 4; tries++) {
		bool taken = ksal_ipaddr_is_network(&c, pool) || ksal_ipaddr_equal(&c, pool);

		for (size_t i = 0; !taken && i < n; i++)
			taken = ksal_ipaddr_equal(&c, &used[i]);
		if (!taken) {
			*out = c;
			return 0;
		}
		if (!ipaddr_inc(&c) || !ksal_ipaddr_in_subnet(&c, pool))
			break;
	}
	return st_error_setx(err, ST_EXIT_NORESOURCE, ENOSPC, "no free address left in pool %s",
			     ksal_ipaddr_str_prefix(pool, pb, sizeof(pb)));
}

/* ---- in use in a namespace ------------------------------------------------- */

struct in_use_query {
	const struct ksal_ipaddr *a;
	bool found;
};

static int addr_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct in_use_query *q = data;
	const struct nlattr *attr;

	if (nlh->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != q->a->family)
		return 0;
	mnl_attr_for_each(attr, nlh, sizeof(*ifa))
	{
		uint16_t t = mnl_attr_get_type(attr);

		if ((t == IFA_LOCAL || t == IFA_ADDRESS) &&
		    mnl_attr_get_payload_len(attr) == ksal_ipaddr_len(q->a) &&
		    !memcmp(mnl_attr_get_payload(attr), bytes_of(q->a), ksal_ipaddr_len(q->a)))
			q->found = true;
	}
	return 0;
}

static int route_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct in_use_query *q = data;
	const struct nlattr *attr;

	if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_family != q->a->family ||
	    rtm->rtm_dst_len != ksal_ipaddr_host_prefix(q->a) || rtm->rtm_type != RTN_UNICAST)
		return 0;
	mnl_attr_for_each(attr, nlh, sizeof(*rtm))
	{
		if (mnl_attr_get_type(attr) == RTA_DST &&
		    mnl_attr_get_payload_len(attr) == ksal_ipaddr_len(q->a) &&
		    !memcmp(mnl_attr_get_payload(attr), bytes_of(q->a), ksal_ipaddr_len(q->a)))
			q->found = true;
	}
	return 0;
}

int ksal_ipaddr_in_use(struct ksal_nl *nl, const struct ksal_ipaddr *a, bool *in_use,
		       struct st_error **err)
{
	char buf[KSAL_NL_MSG_SIZE], ab[INET6_ADDRSTRLEN];
	struct in_use_query q = { .a = a };
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	struct rtmsg *rtm;
	int r;

	ksal_ipaddr_str(a, ab, sizeof(ab));
	nlh = ksal_nl_msg_new(buf, RTM_GETADDR, NLM_F_DUMP);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)a->family;
	r = ksal_nl_request(nl, nlh, addr_dump_cb, &q, err, 0, "list addresses (looking for %s)",
			    ab);
	if (r < 0)
		return r;
	if (!q.found) {
		/* A host route: the address of a routed container. */
		nlh = ksal_nl_msg_new(buf, RTM_GETROUTE, NLM_F_DUMP);
		rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
		rtm->rtm_family = (uint8_t)a->family;
		r = ksal_nl_request(nl, nlh, route_dump_cb, &q, err, 0,
				    "list routes (looking for %s)", ab);
		if (r < 0)
			return r;
	}
	*in_use = q.found;
	return 0;
}
