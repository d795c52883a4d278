/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's side of container networking (issue 6) beyond what
 * daemon.h declares: address pool and checks (netipam.c), live network
 * changes, the guest's /etc/hosts (netpolicy.c).
 */
#ifndef STRATA_RUNTIME_NETPOLICY_H
#define STRATA_RUNTIME_NETPOLICY_H

#include <jansson.h>
#include <stdbool.h>

#include "ksal/error.h"

struct daemon;
struct ct;
struct ct_config;

/* Replace every `auto` (IP_POOL) and `auto6` (IP6_POOL) in the address
 * options of a create args / set options object (keys ipadd, ip,
 * IP_ADDRESS, also under "options") with the next free pool address, and
 * vzctl's netif_add / netif_del into NETIF (and NETWORK_MODE=bridged). */
int ct_ipam_resolve(struct daemon *d, json_t *obj, struct st_error **err);
/* vzctl's per-interface set options: --ifname IFNAME with --mac, --host_ifname,
 * --host_mac, --bridge, --gw, --gw6 (keys of opts) update that
 * interface's entry of netif (or of opts' own NETIF) into opts' NETIF. */
int ct_netif_options(const char *netif, json_t *opts, struct st_error **err);
/* Check the addresses of want that have does not list, for container
 * ctid: refused with 21 when a network/broadcast address, with 78 when
 * another container holds it or the host uses it. */
int ct_ipam_check(struct daemon *d, const char *ctid, const char *have, const char *want,
		  struct st_error **err);

/* Whether a change of key id can be applied to the running ct live. */
bool ct_net_live_ok(struct ct *ct, int id);
/* Apply the network keys changed[] of file (IP_ADDRESS, RATE) to the
 * running ct. */
int ct_net_set_live(struct daemon *d, struct ct *ct, const struct ct_config *file,
		    const bool *changed, struct st_error **err);
/* /etc/hosts in the container's root (ct->root), when it has a HOSTNAME. */
int ct_guest_hosts(struct ct *ct, struct st_error **err);

#endif
