/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IP addresses, routes and proxy neighbours over rtnetlink.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>

#include "ksal/error.h"
#include "ksal/netlink.h"
#include "ksal/netlink_internal.h"

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
