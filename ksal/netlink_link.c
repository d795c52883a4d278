/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Network devices over rtnetlink: veth pairs, bridges, up/down, MTU, MAC,
 * master, rename and moving a device to another network namespace.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <stdlib.h>
#include <string.h>

#include "ksal/cleanup.h"
#include "ksal/error.h"
#include "ksal/log.h"
#include "ksal/netlink.h"
#include "ksal/netlink_internal.h"

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
	struct ksal_nl_result res;
	int r;

	if (!ifname_valid(ifname))
		return -ENODEV;
	nlh = ksal_nl_msg_new(buf, RTM_GETLINK, 0);
	put_ifinfo(nlh, 0);
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	r = ksal_nl_exchange(nl, nlh, link_index_cb, &q, &res);
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
		nsfd = ksal_netns_of(peer_nsfd, &owned, err);
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
	fd = ksal_netns_of(nsfd, &owned, err);
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
