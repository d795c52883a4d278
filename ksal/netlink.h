/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rtnetlink over libmnl: links, veth, bridges, addresses, routes, neighbour
 * proxies, moving links between network namespaces, traffic shaping.
 * No program is ever run. Every error names the device and carries the
 * kernel's extended ack message when there is one.
 */
#ifndef STRATA_KSAL_NETLINK_H
#define STRATA_KSAL_NETLINK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ksal/error.h"

struct ksal_nl; /* an rtnetlink socket bound to one network namespace */

/* A socket in the caller's current network namespace. */
int ksal_nl_open(struct ksal_nl **out, struct st_error **err);
/* A socket in the network namespace of nsfd (a /proc/PID/ns/net fd or a
 * pidfd); the caller's own namespace is left unchanged. */
int ksal_nl_open_netns(int nsfd, struct ksal_nl **out, struct st_error **err);
void ksal_nl_close(struct ksal_nl *nl);

/* An IPv4 or IPv6 address with prefix length. */
struct ksal_ipaddr {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	};
	int prefix; /* -1: host route default (32 / 128) */
};
/* Parse "10.0.0.5", "10.0.0.5/24", "fd00::5/64". Refuses 300.1.2.3 etc. */
int ksal_ipaddr_parse(const char *s, struct ksal_ipaddr *out, struct st_error **err);
/* Print without prefix into buf (INET6_ADDRSTRLEN+4). */
const char *ksal_ipaddr_str(const struct ksal_ipaddr *a, char *buf, size_t len);

int ksal_link_index(struct ksal_nl *nl, const char *ifname); /* <0: -ENODEV */
bool ksal_link_exists(struct ksal_nl *nl, const char *ifname);
/* Create a veth pair; peer goes straight into peer_nsfd when >= 0. */
int ksal_veth_create(struct ksal_nl *nl, const char *host_ifname, const char *peer_ifname,
		     int peer_nsfd, struct st_error **err);
int ksal_bridge_create(struct ksal_nl *nl, const char *name, struct st_error **err);
int ksal_link_del(struct ksal_nl *nl, const char *ifname, struct st_error **err);
int ksal_link_set_up(struct ksal_nl *nl, const char *ifname, bool up, struct st_error **err);
int ksal_link_set_mtu(struct ksal_nl *nl, const char *ifname, unsigned mtu, struct st_error **err);
int ksal_link_set_mac(struct ksal_nl *nl, const char *ifname, const uint8_t mac[6],
		      struct st_error **err);
int ksal_link_set_master(struct ksal_nl *nl, const char *ifname, const char *master,
			 struct st_error **err);
int ksal_link_rename(struct ksal_nl *nl, const char *ifname, const char *newname,
		     struct st_error **err);
/* Move a link into the network namespace of nsfd (netns fd or pidfd). */
int ksal_link_move_netns(struct ksal_nl *nl, const char *ifname, int nsfd, struct st_error **err);

int ksal_addr_add(struct ksal_nl *nl, const char *ifname, const struct ksal_ipaddr *a,
		  struct st_error **err);
int ksal_addr_del(struct ksal_nl *nl, const char *ifname, const struct ksal_ipaddr *a,
		  struct st_error **err);
/* Route dst (prefix from dst) via gw (NULL: on-link) out of ifname (NULL: by gw). */
int ksal_route_add(struct ksal_nl *nl, const struct ksal_ipaddr *dst, const struct ksal_ipaddr *gw,
		   const char *ifname, struct st_error **err);
int ksal_route_del(struct ksal_nl *nl, const struct ksal_ipaddr *dst, const char *ifname,
		   struct st_error **err);
/* Proxy neighbour entry (proxy ARP / NDP) for addr on ifname. */
int ksal_neigh_proxy_add(struct ksal_nl *nl, const char *ifname, const struct ksal_ipaddr *a,
			 struct st_error **err);
int ksal_neigh_proxy_del(struct ksal_nl *nl, const char *ifname, const struct ksal_ipaddr *a,
			 struct st_error **err);
/* Token-bucket rate limit (bits/s) on a link's egress; 0 removes it. */
int ksal_tc_rate_set(struct ksal_nl *nl, const char *ifname, uint64_t bits_per_sec,
		     struct st_error **err);

/* Additions (issue 6). */

/* Write value to a sysctl file, path relative to /proc/sys ("net/ipv4/ip_forward")
 * or absolute, in the caller's current network namespace. */
int ksal_sysctl_set(const char *path, const char *value, struct st_error **err);
/* The same, in the network namespace nl is bound to. */
int ksal_nl_sysctl_set(struct ksal_nl *nl, const char *path, const char *value,
		       struct st_error **err);
/* Read a sysctl (trailing newline removed) in nl's namespace; *out is malloc'd. */
int ksal_nl_sysctl_get(struct ksal_nl *nl, const char *path, char **out, struct st_error **err);
/* Move a link into the network namespace of process pid (IFLA_NET_NS_PID). */
int ksal_link_move_netns_pid(struct ksal_nl *nl, const char *ifname, pid_t pid,
			     struct st_error **err);
/*
 * Token-bucket rate limit (bits/s) on what ifname RECEIVES (on a host veth:
 * what the container sends): an ingress qdisc on ifname whose match-all u32
 * filter redirects every packet to an ifb device (ksal_tc_ifb_name()),
 * which carries the tbf. 0 removes the filter and the ifb.
 */
int ksal_tc_ingress_rate_set(struct ksal_nl *nl, const char *ifname, uint64_t bits_per_sec,
			     struct st_error **err);
/* Name of the ifb device that shapes ifname's ingress: "rl-<ifname>", or
 * "rl-<8 hex hash>" when that does not fit IFNAMSIZ. buf: at least 16 bytes. */
const char *ksal_tc_ifb_name(const char *ifname, char *buf, size_t len);
/* The rate (bits/s) of the tbf qdisc at the root of ifname; 0 when there is none. */
int ksal_tc_rate_get(struct ksal_nl *nl, const char *ifname, uint64_t *bits_per_sec,
		     struct st_error **err);
/* "10.0.0.5/32" style, prefix printed as the host default when -1. */
const char *ksal_ipaddr_str_prefix(const struct ksal_ipaddr *a, char *buf, size_t len);
/* Host prefix of a's family: 32 or 128. */
int ksal_ipaddr_host_prefix(const struct ksal_ipaddr *a);
/* Same family and address; prefixes are not compared. */
bool ksal_ipaddr_equal(const struct ksal_ipaddr *a, const struct ksal_ipaddr *b);
/* a lies in the subnet net (net's prefix; -1 counts as the host prefix). */
bool ksal_ipaddr_in_subnet(const struct ksal_ipaddr *a, const struct ksal_ipaddr *net);
/* a is net's network address or, for IPv4, its broadcast address: no
 * container may take it. Never true for /31, /32, /127, /128. */
bool ksal_ipaddr_is_network(const struct ksal_ipaddr *a, const struct ksal_ipaddr *net);
/* `--ipadd auto`: the lowest address of pool (e.g. 10.77.0.1/16, whose own
 * address stays reserved for the host) that is neither its network nor
 * broadcast address nor in used[0..n). -ENOSPC, ST_EXIT_NORESOURCE when full. */
int ksal_ipaddr_pool_next(const struct ksal_ipaddr *pool, const struct ksal_ipaddr *used, size_t n,
			  struct ksal_ipaddr *out, struct st_error **err);
/* Whether a is taken in nl's namespace: a local address of any device, or a
 * host route (/32, /128) to it, as a routed container's address has. */
int ksal_ipaddr_in_use(struct ksal_nl *nl, const struct ksal_ipaddr *a, bool *in_use,
		       struct st_error **err);

#endif
