/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Container network models as plain functions over ksal/netlink: routed
 * (vzctl's venet semantics on a veth pair), bridged veth, and none. They know
 * no daemon structure: the caller passes names, addresses and namespaces.
 *
 * Routed, what it sets up:
 *   host:      <host_ifname> up, proxy_arp=1 and proxy_delay=0 on it, fe80::1/64
 *              on it when the container has IPv6, a /32 (/128) route per
 *              container address over it, a proxy neighbour entry (ARP / NDP)
 *              per address on each of neighbour_devs (proxy_ndp=1 there for
 *              IPv6), net.ipv4.ip_forward=1 (and IPv6 forwarding when used).
 *   container: lo up, <ct_ifname> up with every address as /32 (/128),
 *              "default dev <ct_ifname>" (IPv4: the host veth answers ARP for
 *              everything it can route) and "default via fe80::1 dev
 *              <ct_ifname>" (IPv6).
 * Teardown deletes the host veth (the pair and its routes go with it) and the
 * proxy neighbour entries; it works after the container's netns is gone too.
 */
#ifndef STRATA_RUNTIME_NET_H
#define STRATA_RUNTIME_NET_H

#include <stddef.h>
#include <stdint.h>

#include "ksal/error.h"
#include "ksal/netlink.h"

struct ct_net_routed {
	const char *ctid;
	const char *host_ifname; /* "veth101" */
	const char *ct_ifname;	 /* "eth0" */
	const struct ksal_ipaddr *addrs;
	size_t n_addrs;
	const char *const *neighbour_devs; /* NULL-terminated; NULL: none */
};

/* Set up the routed network of a container whose netns is ct_nsfd (netns fd
 * or pidfd), host being a socket in the host's namespace. On failure nothing
 * of it remains. */
int ct_net_routed_setup(struct ksal_nl *host, int ct_nsfd, const struct ct_net_routed *cfg,
			struct st_error **err);
int ct_net_routed_reattach(struct ksal_nl *host, const struct ct_net_routed *cfg,
			   struct st_error **err);
/* Remove it again; what is already gone is not an error. */
int ct_net_routed_teardown(struct ksal_nl *host, const struct ct_net_routed *cfg,
			   struct st_error **err);
/* Add / remove one address on a running container (cfg->addrs need not list it). */
int ct_net_addr_add(struct ksal_nl *host, int ct_nsfd, const struct ct_net_routed *cfg,
		    const struct ksal_ipaddr *a, struct st_error **err);
int ct_net_addr_del(struct ksal_nl *host, int ct_nsfd, const struct ct_net_routed *cfg,
		    const struct ksal_ipaddr *a, struct st_error **err);

/* "none": loopback only. */
int ct_net_none_setup(int ct_nsfd, struct st_error **err);

/*
 * Bridged veth: the host end enslaved to bridge (created with bridge_addr,
 * if given, when missing), the container end with addrs (their own prefix,
 * /24 style) and a default route via gw (NULL: none).
 */
struct ct_net_bridged {
	const char *ctid;
	const char *host_ifname;
	const char *ct_ifname;
	const char *bridge;
	const struct ksal_ipaddr *bridge_addr; /* NULL: bridge gets no address */
	const struct ksal_ipaddr *addrs;
	size_t n_addrs;
	const struct ksal_ipaddr *gw4, *gw6; /* NULL: no default route */
	const uint8_t *ct_mac, *host_mac;    /* 6 bytes each; NULL: the kernel's */
};
int ct_net_bridged_setup(struct ksal_nl *host, int ct_nsfd, const struct ct_net_bridged *cfg,
			 struct st_error **err);
/* Deletes the host veth; the bridge stays. */
int ct_net_bridged_teardown(struct ksal_nl *host, const struct ct_net_bridged *cfg,
			    struct st_error **err);

#endif
