/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ksal/netlink without the kernel: address parsing, message building, acks. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <string.h>

#include "ksal/error.h"
#include "ksal/netlink.h"
#include "ksal/netlink_internal.h"

static void parse_ok(const char *s, int family, int prefix, const char *printed)
{
	struct st_error *err = NULL;
	struct ksal_ipaddr a;
	char buf[INET6_ADDRSTRLEN + 8];

	cr_assert_eq(ksal_ipaddr_parse(s, &a, &err), 0, "`%s` refused: %s", s,
		     err ? err->msg : "?");
	cr_assert_eq(a.family, family, "`%s`: family", s);
	cr_assert_eq(a.prefix, prefix, "`%s`: prefix %d", s, a.prefix);
	cr_assert_str_eq(ksal_ipaddr_str(&a, buf, sizeof(buf)), printed);
}

Test(netlink_parse, good_addresses)
{
	parse_ok("10.0.0.5", AF_INET, -1, "10.0.0.5");
	parse_ok("10.0.0.5/24", AF_INET, 24, "10.0.0.5");
	parse_ok("0.0.0.0/0", AF_INET, 0, "0.0.0.0");
	parse_ok("255.255.255.255/32", AF_INET, 32, "255.255.255.255");
	parse_ok("fd00::5/64", AF_INET6, 64, "fd00::5");
	parse_ok("fd00:213::1", AF_INET6, -1, "fd00:213::1");
	parse_ok("FD00:0:0:0:0:0:0:1/128", AF_INET6, 128, "fd00::1");
	parse_ok("::ffff:10.1.2.3", AF_INET6, -1, "::ffff:10.1.2.3");
}

static void parse_bad(const char *s)
{
	struct st_error *err = NULL;
	struct ksal_ipaddr a;

	cr_assert_lt(ksal_ipaddr_parse(s, &a, &err), 0, "`%s` accepted", s);
	cr_assert_not_null(err);
	cr_assert_eq(err->exit_code, ST_EXIT_BADVALUE, "`%s`: exit code %d", s, err->exit_code);
	/* The message names what was refused. */
	if (*s)
		cr_assert(strstr(err->msg, s), "`%s`: message `%s`", s, err->msg);
	st_error_free(err);
}

Test(netlink_parse, bad_addresses)
{
	const char *bad[] = {
		"",
		"300.1.2.3",
		"1.2.3",
		"1.2.3.4.5",
		"10.0.0.256",
		"abc",
		"10.0.0.5/",
		"/24",
		"10.0.0.5/33",
		"10.0.0.5/-1",
		"10.0.0.5/2a",
		"10.0.0.5/+8",
		"10.0.0.5/0024",
		"10.0.0.5 ",
		" 10.0.0.5",
		"fd00:::1",
		"fd00::1/129",
		"fd00::g",
		"10.0.0.5/24/1",
		"1.2.3.4%eth0",
		"fe80::1%eth0",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bad(bad[i]);
	cr_assert_lt(ksal_ipaddr_parse(NULL, &(struct ksal_ipaddr){ 0 }, NULL), 0);
}

Test(netlink_parse, print_with_prefix)
{
	struct ksal_ipaddr a;
	char buf[INET6_ADDRSTRLEN + 8];

	cr_assert_eq(ksal_ipaddr_parse("10.213.0.7", &a, NULL), 0);
	cr_assert_str_eq(ksal_ipaddr_str_prefix(&a, buf, sizeof(buf)), "10.213.0.7/32");
	cr_assert_eq(ksal_ipaddr_parse("fd00:213::7/64", &a, NULL), 0);
	cr_assert_str_eq(ksal_ipaddr_str_prefix(&a, buf, sizeof(buf)), "fd00:213::7/64");
	/* Too small a buffer gives an empty string, never a truncated address. */
	cr_assert_str_eq(ksal_ipaddr_str_prefix(&a, buf, 8), "");
}

/* The attribute of type in the attributes starting at offset of nlh. */
static const struct nlattr *attr_in(const void *payload, size_t len, uint16_t type)
{
	const struct nlattr *attr;

	mnl_attr_for_each_payload(payload, len)
	{
		if (mnl_attr_get_type(attr) == type)
			return attr;
	}
	return NULL;
}

static const struct nlattr *nested(const struct nlattr *nest, uint16_t type)
{
	return attr_in(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), type);
}

Test(netlink_build, veth_peer_in_netns)
{
	char buf[KSAL_NL_MSG_SIZE];
	struct nlmsghdr *nlh = ksal_nl_build_veth(buf, "stnl0a", "eth0", 7);
	const struct nlattr *a, *info, *data, *peer;
	const struct ifinfomsg *pifi;

	cr_assert_eq(nlh->nlmsg_type, RTM_NEWLINK);
	cr_assert(nlh->nlmsg_flags & NLM_F_CREATE);
	cr_assert(nlh->nlmsg_flags & NLM_F_EXCL, "an existing device must not be reused");
	a = attr_in((char *)mnl_nlmsg_get_payload(nlh) + sizeof(struct ifinfomsg),
		    mnl_nlmsg_get_payload_len(nlh) - sizeof(struct ifinfomsg), IFLA_IFNAME);
	cr_assert_not_null(a);
	cr_assert_str_eq(mnl_attr_get_str(a), "stnl0a");
	info = attr_in((char *)mnl_nlmsg_get_payload(nlh) + sizeof(struct ifinfomsg),
		       mnl_nlmsg_get_payload_len(nlh) - sizeof(struct ifinfomsg), IFLA_LINKINFO);
	cr_assert_not_null(info);
	cr_assert_str_eq(mnl_attr_get_str(nested(info, IFLA_INFO_KIND)), "veth");
	data = nested(info, IFLA_INFO_DATA);
	cr_assert_not_null(data);
	peer = nested(data, VETH_INFO_PEER);
	cr_assert_not_null(peer);
	pifi = mnl_attr_get_payload(peer);
	cr_assert_eq(pifi->ifi_family, AF_UNSPEC);
	a = attr_in((const char *)pifi + MNL_ALIGN(sizeof(*pifi)),
		    mnl_attr_get_payload_len(peer) - MNL_ALIGN(sizeof(*pifi)), IFLA_IFNAME);
	cr_assert_not_null(a);
	cr_assert_str_eq(mnl_attr_get_str(a), "eth0");
	a = attr_in((const char *)pifi + MNL_ALIGN(sizeof(*pifi)),
		    mnl_attr_get_payload_len(peer) - MNL_ALIGN(sizeof(*pifi)), IFLA_NET_NS_FD);
	cr_assert_not_null(a, "peer is created in the container's netns");
	cr_assert_eq(mnl_attr_get_u32(a), 7);

	/* Without a netns the peer carries no namespace attribute. */
	nlh = ksal_nl_build_veth(buf, "stnl0a", "stnl0b", -1);
	info = attr_in((char *)mnl_nlmsg_get_payload(nlh) + sizeof(struct ifinfomsg),
		       mnl_nlmsg_get_payload_len(nlh) - sizeof(struct ifinfomsg), IFLA_LINKINFO);
	peer = nested(nested(info, IFLA_INFO_DATA), VETH_INFO_PEER);
	pifi = mnl_attr_get_payload(peer);
	cr_assert_null(attr_in((const char *)pifi + MNL_ALIGN(sizeof(*pifi)),
			       mnl_attr_get_payload_len(peer) - MNL_ALIGN(sizeof(*pifi)),
			       IFLA_NET_NS_FD));
}

Test(netlink_build, addresses)
{
	char buf[KSAL_NL_MSG_SIZE];
	struct ksal_ipaddr a;
	struct nlmsghdr *nlh;
	const struct ifaddrmsg *ifa;
	const struct nlattr *attr;

	cr_assert_eq(ksal_ipaddr_parse("fd00:213::5", &a, NULL), 0);
	nlh = ksal_nl_build_addr(buf, RTM_NEWADDR, 3, &a);
	ifa = mnl_nlmsg_get_payload(nlh);
	cr_assert_eq(ifa->ifa_family, AF_INET6);
	cr_assert_eq(ifa->ifa_prefixlen, 128, "no prefix means a host address");
	cr_assert_eq(ifa->ifa_index, 3);
	attr = attr_in((const char *)ifa + sizeof(*ifa),
		       mnl_nlmsg_get_payload_len(nlh) - sizeof(*ifa), IFA_FLAGS);
	cr_assert_not_null(attr);
	cr_assert(mnl_attr_get_u32(attr) & IFA_F_NODAD, "IPv6 address usable at once");
	attr = attr_in((const char *)ifa + sizeof(*ifa),
		       mnl_nlmsg_get_payload_len(nlh) - sizeof(*ifa), IFA_LOCAL);
	cr_assert_eq(mnl_attr_get_payload_len(attr), 16);
	cr_assert(memcmp(mnl_attr_get_payload(attr), &a.v6, 16) == 0);

	cr_assert_eq(ksal_ipaddr_parse("10.213.0.5/24", &a, NULL), 0);
	nlh = ksal_nl_build_addr(buf, RTM_NEWADDR, 3, &a);
	ifa = mnl_nlmsg_get_payload(nlh);
	cr_assert_eq(ifa->ifa_prefixlen, 24);
	attr = attr_in((const char *)ifa + sizeof(*ifa),
		       mnl_nlmsg_get_payload_len(nlh) - sizeof(*ifa), IFA_LOCAL);
	cr_assert_eq(mnl_attr_get_payload_len(attr), 4);
	cr_assert_eq(memcmp(mnl_attr_get_payload(attr), &a.v4, 4), 0);
}

static struct tc_tbf_qopt tbf_of(struct nlmsghdr *nlh, uint64_t *rate64, uint32_t *burst)
{
	const struct tcmsg *tcm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *opts, *a;
	struct tc_tbf_qopt q;

	opts = attr_in((const char *)tcm + sizeof(*tcm),
		       mnl_nlmsg_get_payload_len(nlh) - sizeof(*tcm), TCA_OPTIONS);
	cr_assert_not_null(opts);
	a = nested(opts, TCA_TBF_PARMS);
	cr_assert_not_null(a);
	memcpy(&q, mnl_attr_get_payload(a), sizeof(q));
	a = nested(opts, TCA_TBF_RATE64);
	*rate64 = a ? mnl_attr_get_u64(a) : 0;
	a = nested(opts, TCA_TBF_BURST);
	cr_assert_not_null(a);
	*burst = mnl_attr_get_u32(a);
	return q;
}

Test(netlink_build, tbf_rates)
{
	char buf[KSAL_NL_MSG_SIZE];
	struct nlmsghdr *nlh = ksal_nl_build_tbf(buf, 9, 10000000, 1500);
	const struct tcmsg *tcm = mnl_nlmsg_get_payload(nlh);
	struct tc_tbf_qopt q;
	uint64_t rate64;
	uint32_t burst;

	cr_assert_eq(nlh->nlmsg_type, RTM_NEWQDISC);
	cr_assert(nlh->nlmsg_flags & NLM_F_REPLACE, "a new rate replaces the old one");
	cr_assert_eq(tcm->tcm_ifindex, 9);
	cr_assert_eq(tcm->tcm_parent, TC_H_ROOT);
	q = tbf_of(nlh, &rate64, &burst);
	cr_assert_eq(q.rate.rate, 10000000 / 8);
	cr_assert_eq(q.rate.linklayer, TC_LINKLAYER_ETHERNET);
	cr_assert_eq(rate64, 0);
	cr_assert_geq(burst, 3000, "burst holds at least two full frames");
	cr_assert_gt(q.limit, burst);

	/* 100 Gbit/s does not fit the 32-bit byte rate. */
	nlh = ksal_nl_build_tbf(buf, 9, 100000000000ull, 1500);
	q = tbf_of(nlh, &rate64, &burst);
	cr_assert_eq(rate64, 100000000000ull / 8);
	cr_assert_eq(q.rate.rate, UINT32_MAX);
}

/* An NLMSG_ERROR as the kernel sends it with NETLINK_CAP_ACK + EXT_ACK. */
static struct nlmsghdr *error_msg(void *buf, int error, const char *kmsg, bool capped)
{
	struct nlmsghdr *nlh, *req;
	struct nlmsgerr *e;

	memset(buf, 0, KSAL_NL_MSG_SIZE);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_ERROR;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = error;
	e->msg.nlmsg_type = RTM_NEWLINK;
	e->msg.nlmsg_len = NLMSG_HDRLEN + 32;
	if (!capped) {
		/* The echoed request's payload follows. */
		req = (struct nlmsghdr *)((char *)nlh + nlh->nlmsg_len);
		memset(req, 0xaa, 32);
		nlh->nlmsg_len += 32;
	} else {
		nlh->nlmsg_flags |= NLM_F_CAPPED;
	}
	if (kmsg) {
		nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
		mnl_attr_put_u32(nlh, NLMSGERR_ATTR_OFFS, 20);
		mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, kmsg);
	}
	return nlh;
}

Test(netlink_ack, extended_ack_message)
{
	char buf[KSAL_NL_MSG_SIZE];
	const char *kmsg = "x";

	cr_assert_eq(ksal_nl_parse_error(error_msg(buf, 0, NULL, true), &kmsg), 0);
	cr_assert_null(kmsg);
	cr_assert_eq(ksal_nl_parse_error(error_msg(buf, -EEXIST, NULL, true), &kmsg), -EEXIST);
	cr_assert_null(kmsg);
	cr_assert_eq(
		ksal_nl_parse_error(error_msg(buf, -EEXIST, "Device already exists", true), &kmsg),
		-EEXIST);
	cr_assert_str_eq(kmsg, "Device already exists");
	cr_assert_eq(ksal_nl_parse_error(
			     error_msg(buf, -EINVAL, "Nexthop has invalid gateway", false), &kmsg),
		     -EINVAL);
	cr_assert_str_eq(kmsg, "Nexthop has invalid gateway");
}

Test(netlink_ack, truncated_error)
{
	char buf[KSAL_NL_MSG_SIZE];
	struct nlmsghdr *nlh = error_msg(buf, -EEXIST, NULL, true);
	const char *kmsg;

	nlh->nlmsg_len = NLMSG_HDRLEN + 2;
	cr_assert_eq(ksal_nl_parse_error(nlh, &kmsg), -EBADMSG);
}

static struct ksal_ipaddr A(const char *s) {
	struct ksal_ipaddr a;

	cr_assert_eq(ksal_ipaddr_parse(s, &a, NULL), 0, "%s", s);
	return a;
}

static bool
in_subnet(const char *s, const struct ksal_ipaddr *net)
{
	struct ksal_ipaddr a = A(s);

	return ksal_ipaddr_in_subnet(&a, net);
}

static bool is_net(const char *s, const struct ksal_ipaddr *net)
{
	struct ksal_ipaddr a = A(s);

	return ksal_ipaddr_is_network(&a, net);
}

static bool addr_equal(const char *x, const char *y)
{
	struct ksal_ipaddr a = A(x), b = A(y);

	return ksal_ipaddr_equal(&a, &b);
}

Test(netlink_ipmath, subnets_and_network_addresses)
{
	struct ksal_ipaddr net = A("10.77.0.1/16"), n6 = A("fd00:213::/64");

	cr_assert(in_subnet("10.77.255.254", &net));
	cr_assert_not(in_subnet("10.78.0.1", &net));
	cr_assert_not(in_subnet("fd00:213::1", &net), "another family is never inside");
	cr_assert(in_subnet("fd00:213::ffff:1", &n6));
	cr_assert_not(in_subnet("fd00:214::1", &n6));
	/* A prefix not on a byte boundary. */
	net = A("10.0.0.0/13");
	cr_assert(in_subnet("10.7.255.255", &net));
	cr_assert_not(in_subnet("10.8.0.0", &net));

	net = A("10.77.0.0/24");
	cr_assert(is_net("10.77.0.0", &net));
	cr_assert(is_net("10.77.0.255", &net), "broadcast");
	cr_assert_not(is_net("10.77.0.5", &net));
	net = A("10.77.0.0/31");
	cr_assert_not(is_net("10.77.0.0", &net), "a /31 has two usable addresses");
	cr_assert(is_net("fd00:213::", &n6));
	cr_assert_not(is_net("fd00:213::ffff:ffff:ffff:ffff", &n6),
		      "IPv6 has no broadcast address");
	cr_assert(addr_equal("10.1.1.1/8", "10.1.1.1"));
}

Test(netlink_ipmath, pool_takes_lowest_free_address)
{
	struct ksal_ipaddr pool = A("10.77.0.1/29"), out, used[8];
	struct st_error *err = NULL;
	char buf[INET6_ADDRSTRLEN];
	size_t n = 0;

	/* .0 network, .1 the host's own, .7 broadcast: .2 to .6 are free. */
	for (const char *want = "10.77.0.2"; n < 5; n++) {
		cr_assert_eq(ksal_ipaddr_pool_next(&pool, used, n, &out, &err), 0);
		ksal_ipaddr_str(&out, buf, sizeof(buf));
		if (n == 0)
			cr_assert_str_eq(buf, want);
		cr_assert(ksal_ipaddr_in_subnet(&out, &pool));
		for (size_t i = 0; i < n; i++)
			cr_assert_not(ksal_ipaddr_equal(&out, &used[i]), "%s handed out twice",
				      buf);
		used[n] = out;
	}
	cr_assert_str_eq(ksal_ipaddr_str(&used[4], buf, sizeof(buf)), "10.77.0.6");
	cr_assert_lt(ksal_ipaddr_pool_next(&pool, used, n, &out, &err), 0, "pool is full");
	cr_assert_eq(err->exit_code, ST_EXIT_NORESOURCE);
	cr_assert(strstr(err->msg, "10.77.0.1/29"), "%s", err->msg);
	st_error_free(err);

	/* A released address is handed out again, holes first. */
	used[1] = used[4];
	cr_assert_eq(ksal_ipaddr_pool_next(&pool, used, 4, &out, NULL), 0);
	cr_assert_str_eq(ksal_ipaddr_str(&out, buf, sizeof(buf)), "10.77.0.3");

	pool = A("fd00:213::/64");
	cr_assert_eq(ksal_ipaddr_pool_next(&pool, NULL, 0, &out, NULL), 0);
	cr_assert_str_eq(ksal_ipaddr_str(&out, buf, sizeof(buf)), "fd00:213::1");
	used[0] = out;
	cr_assert_eq(ksal_ipaddr_pool_next(&pool, used, 1, &out, NULL), 0);
	cr_assert_str_eq(ksal_ipaddr_str(&out, buf, sizeof(buf)), "fd00:213::2");
}
