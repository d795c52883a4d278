/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Container network models over ksal/netlink (see net.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ksal/cleanup.h"
#include "ksal/error.h"
#include "ksal/log.h"
#include "ksal/netlink.h"
#include "runtime/net.h"

/* The IPv6 gateway the host veth carries for the container. */
static const struct ksal_ipaddr gw6_linklocal = {
	.family = AF_INET6,
	.v6 = { .s6_addr = { 0xfe, 0x80, [15] = 1 } },
	.prefix = 64,
};

static const struct ksal_ipaddr default4 = { .family = AF_INET, .prefix = 0 };
static const struct ksal_ipaddr default6 = { .family = AF_INET6, .prefix = 0 };

static void nl_closep(struct ksal_nl **nl)
{
	ksal_nl_close(*nl);
	*nl = NULL;
}
#define _cleanup_nl_ _cleanup_(nl_closep)

/* a as a host address (/32, /128), whatever prefix it was given with. */
static struct ksal_ipaddr host_addr(const struct ksal_ipaddr *a)
{
	struct ksal_ipaddr h = *a;

	h.prefix = ksal_ipaddr_host_prefix(a);
	return h;
}

static bool has_family(const struct ksal_ipaddr *addrs, size_t n, int family)
{
	for (size_t i = 0; i < n; i++)
		if (addrs[i].family == family)
			return true;
	return false;
}

/* Call f and treat errnum `ok` as success. */
#define IGNORING(ok, call)                                                                         \
	({                                                                                         \
		struct st_error *_e = NULL;                                                        \
		int _r = (call);                                                                   \
		if (_r == -(ok))                                                                   \
			_r = 0;                                                                    \
		if (_r < 0 && err && !*err)                                                        \
			*err = _e;                                                                 \
		else                                                                               \
			st_error_free(_e);                                                         \
		_r;                                                                                \
	})

/* net/<section>/<dev>/<key> = value, in nl's namespace. */
static int sysctl_dev(struct ksal_nl *nl, const char *section, const char *dev, const char *key,
		      const char *value, struct st_error **err)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "net/%s/%s/%s", section, dev, key) < 0)
		return st_error_set(err, ENOMEM, "sysctl path for %s", dev);
	return ksal_nl_sysctl_set(nl, path, value, err);
}

/* Write value unless it is already there (forwarding flips are not free). */
static int sysctl_ensure(struct ksal_nl *nl, const char *path, const char *value,
			 struct st_error **err)
{
	_cleanup_free_ char *cur = NULL;

	if (ksal_nl_sysctl_get(nl, path, &cur, NULL) == 0 && strcmp(cur, value) == 0)
		return 0;
	return ksal_nl_sysctl_set(nl, path, value, err);
}

static int host_forwarding(struct ksal_nl *host, int family, struct st_error **err)
{
	if (family == AF_INET6)
		return sysctl_ensure(host, "net/ipv6/conf/all/forwarding", "1", err);
	return sysctl_ensure(host, "net/ipv4/ip_forward", "1", err);
}

static int host_gw6(struct ksal_nl *host, const char *host_ifname, struct st_error **err)
{
	int r = host_forwarding(host, AF_INET6, err);

	if (r < 0)
		return r;
	return IGNORING(EEXIST, ksal_addr_add(host, host_ifname, &gw6_linklocal, &_e));
}

static int ct_default_route(struct ksal_nl *ct, const char *ct_ifname, int family,
			    struct st_error **err)
{
	if (family == AF_INET6)
		return IGNORING(EEXIST,
				ksal_route_add(ct, &default6, &gw6_linklocal, ct_ifname, &_e));
	return IGNORING(EEXIST, ksal_route_add(ct, &default4, NULL, ct_ifname, &_e));
}

static int proxy_del_all(struct ksal_nl *host, const struct ct_net_routed *cfg,
			 const struct ksal_ipaddr *a, struct st_error **err)
{
	int ret = 0;

	for (const char *const *d = cfg->neighbour_devs; d && *d; d++) {
		_cleanup_error_ struct st_error *e = NULL;
		int r = ksal_neigh_proxy_del(host, *d, a, &e);

		/* Gone already, or its device went away and took it along. */
		if (r >= 0 || r == -ENOENT || r == -ENODEV)
			continue;
		if (!ret) {
			ret = r;
			if (err && !*err)
				*err = take_ptr(e);
		}
	}
	return ret;
}

/* Host side of one address: route to the container, proxy entries. */
static int host_addr_add(struct ksal_nl *host, const struct ct_net_routed *cfg,
			 const struct ksal_ipaddr *a, struct st_error **err)
{
	struct ksal_ipaddr h = host_addr(a);
	int r;

	r = ksal_route_add(host, &h, NULL, cfg->host_ifname, err);
	if (r < 0)
		return r;
	for (const char *const *d = cfg->neighbour_devs; d && *d; d++) {
		if (a->family == AF_INET6) {
			r = sysctl_dev(host, "ipv6/conf", *d, "proxy_ndp", "1", err);
			if (r < 0)
				break;
		}
		r = ksal_neigh_proxy_add(host, *d, &h, err);
		if (r < 0)
			break;
	}
	if (r < 0) {
		proxy_del_all(host, cfg, &h, NULL);
		ksal_route_del(host, &h, cfg->host_ifname, NULL);
	}
	return r;
}

static int check_cfg(const struct ct_net_routed *cfg, struct st_error **err)
{
	if (!cfg || !cfg->ctid || !cfg->host_ifname || !cfg->ct_ifname ||
	    (cfg->n_addrs && !cfg->addrs))
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
				     "routed network: incomplete configuration");
	for (size_t i = 0; i < cfg->n_addrs; i++)
		if (cfg->addrs[i].family != AF_INET && cfg->addrs[i].family != AF_INET6)
			return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
					     "routed network of CT %s: address %zu has no family",
					     cfg->ctid, i);
	return 0;
}

/* Deletes the host veth on scope exit unless disarmed. */
struct veth_guard {
	struct ksal_nl *host;
	const struct ct_net_routed *cfg;
};

static void veth_guard_run(struct veth_guard *g)
{
	if (!g->host)
		return;
	for (size_t i = 0; i < g->cfg->n_addrs; i++) {
		struct ksal_ipaddr h = host_addr(&g->cfg->addrs[i]);

		proxy_del_all(g->host, g->cfg, &h, NULL);
	}
	ksal_link_del(g->host, g->cfg->host_ifname, NULL);
}

/* Host end: up, answers ARP for what it routes (at once), forwards. */
static int routed_host_end(struct ksal_nl *host, const struct ct_net_routed *cfg, bool v4, bool v6,
			   struct st_error **err)
{
	int r;

	r = sysctl_dev(host, "ipv4/conf", cfg->host_ifname, "proxy_arp", "1", err);
	if (r < 0)
		return r;
	r = sysctl_dev(host, "ipv4/neigh", cfg->host_ifname, "proxy_delay", "0", err);
	if (r < 0)
		return r;
	if (v4 && (r = host_forwarding(host, AF_INET, err)) < 0)
		return r;
	r = ksal_link_set_up(host, cfg->host_ifname, true, err);
	if (r < 0)
		return r;
	return v6 ? host_gw6(host, cfg->host_ifname, err) : 0;
}

/* Container end: lo and the device up, the addresses, default routes. */
static int routed_ct_end(struct ksal_nl *ct, const struct ct_net_routed *cfg, bool v4, bool v6,
			 struct st_error **err)
{
	int r;

	r = ksal_link_set_up(ct, "lo", true, err);
	if (r < 0)
		return r;
	r = ksal_link_set_up(ct, cfg->ct_ifname, true, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < cfg->n_addrs; i++) {
		struct ksal_ipaddr h = host_addr(&cfg->addrs[i]);

		r = ksal_addr_add(ct, cfg->ct_ifname, &h, err);
		if (r < 0)
			return r;
	}
	if (v4 && (r = ct_default_route(ct, cfg->ct_ifname, AF_INET, err)) < 0)
		return r;
	return v6 ? ct_default_route(ct, cfg->ct_ifname, AF_INET6, err) : 0;
}

static int routed_setup(struct ksal_nl *host, int ct_nsfd, const struct ct_net_routed *cfg,
			struct st_error **err)
{
	_cleanup_nl_ struct ksal_nl *ct = NULL;
	_cleanup_(veth_guard_run) struct veth_guard guard = { 0 };
	bool v4 = has_family(cfg->addrs, cfg->n_addrs, AF_INET);
	bool v6 = has_family(cfg->addrs, cfg->n_addrs, AF_INET6);
	int r;

	r = ksal_nl_open_netns(ct_nsfd, &ct, err);
	if (r < 0)
		return r;
	r = ksal_veth_create(host, cfg->host_ifname, cfg->ct_ifname, ct_nsfd, err);
	if (r < 0)
		return r;
	guard = (struct veth_guard){ host, cfg };
	r = routed_host_end(host, cfg, v4, v6, err);
	if (r < 0)
		return r;
	r = routed_ct_end(ct, cfg, v4, v6, err);
	if (r < 0)
		return r;
	/* Host routes and proxy entries last: the container is ready. */
	for (size_t i = 0; i < cfg->n_addrs; i++) {
		r = host_addr_add(host, cfg, &cfg->addrs[i], err);
		if (r < 0)
			return r;
	}
	guard.host = NULL;
	return 0;
}

int ct_net_routed_setup(struct ksal_nl *host, int ct_nsfd, const struct ct_net_routed *cfg,
			struct st_error **err)
{
	if (check_cfg(cfg, err) < 0)
		return -EINVAL;
	if (routed_setup(host, ct_nsfd, cfg, err) < 0)
		return st_error_prefix(err, "set up routed network of CT %s: ", cfg->ctid);
	st_debug("routed network of CT %s: %s <-> %s, %zu address(es)", cfg->ctid, cfg->host_ifname,
		 cfg->ct_ifname, cfg->n_addrs);
	return 0;
}

int ct_net_routed_teardown(struct ksal_nl *host, const struct ct_net_routed *cfg,
			   struct st_error **err)
{
	int ret = 0, r;

	if (check_cfg(cfg, err) < 0)
		return -EINVAL;
	for (size_t i = 0; i < cfg->n_addrs; i++) {
		struct ksal_ipaddr h = host_addr(&cfg->addrs[i]);

		r = proxy_del_all(host, cfg, &h, err);
		if (r < 0 && !ret)
			ret = r;
	}
	/* The pair, its addresses and the routes over it go with the host end. */
	if (ksal_link_exists(host, cfg->host_ifname)) {
		r = IGNORING(ENODEV, ksal_link_del(host, cfg->host_ifname, &_e));
		if (r < 0 && !ret)
			ret = r;
	}
	if (ret < 0)
		return st_error_prefix(err, "tear down routed network of CT %s: ", cfg->ctid);
	st_debug("routed network of CT %s removed", cfg->ctid);
	return 0;
}

static int addr_add(struct ksal_nl *host, int ct_nsfd, const struct ct_net_routed *cfg,
		    const struct ksal_ipaddr *h, struct st_error **err)
{
	_cleanup_nl_ struct ksal_nl *ct = NULL;
	int r;

	r = ksal_nl_open_netns(ct_nsfd, &ct, err);
	if (r < 0)
		return r;
	r = ksal_addr_add(ct, cfg->ct_ifname, h, err);
	if (r < 0)
		return r;
	if (h->family == AF_INET6)
		r = host_gw6(host, cfg->host_ifname, err);
	else
		r = host_forwarding(host, AF_INET, err);
	if (r >= 0)
		r = ct_default_route(ct, cfg->ct_ifname, h->family, err);
	if (r >= 0)
		r = host_addr_add(host, cfg, h, err);
	if (r < 0)
		ksal_addr_del(ct, cfg->ct_ifname, h, NULL);
	return r;
}

int ct_net_addr_add(struct ksal_nl *host, int ct_nsfd, const struct ct_net_routed *cfg,
		    const struct ksal_ipaddr *a, struct st_error **err)
{
	struct ksal_ipaddr h;
	char ab[INET6_ADDRSTRLEN];

	if (check_cfg(cfg, err) < 0)
		return -EINVAL;
	h = host_addr(a);
	ksal_ipaddr_str(a, ab, sizeof(ab));
	if (addr_add(host, ct_nsfd, cfg, &h, err) < 0)
		return st_error_prefix(err, "add address %s to CT %s: ", ab, cfg->ctid);
	st_debug("CT %s: address %s added", cfg->ctid, ab);
	return 0;
}

int ct_net_addr_del(struct ksal_nl *host, int ct_nsfd, const struct ct_net_routed *cfg,
		    const struct ksal_ipaddr *a, struct st_error **err)
{
	_cleanup_nl_ struct ksal_nl *ct = NULL;
	struct ksal_ipaddr h;
	char ab[INET6_ADDRSTRLEN];
	int r, ret = 0;

	if (check_cfg(cfg, err) < 0)
		return -EINVAL;
	h = host_addr(a);
	ksal_ipaddr_str(a, ab, sizeof(ab));
	/* Host first: the address stops being reachable before it goes. */
	ret = proxy_del_all(host, cfg, &h, err);
	r = IGNORING(ESRCH, ksal_route_del(host, &h, cfg->host_ifname, &_e));
	if (r < 0 && !ret)
		ret = r;
	r = ksal_nl_open_netns(ct_nsfd, &ct, err);
	if (r >= 0)
		r = ksal_addr_del(ct, cfg->ct_ifname, &h, err);
	if (r < 0 && !ret)
		ret = r;
	if (ret < 0)
		return st_error_prefix(err, "remove address %s from CT %s: ", ab, cfg->ctid);
	st_debug("CT %s: address %s removed", cfg->ctid, ab);
	return 0;
}

int ct_net_none_setup(int ct_nsfd, struct st_error **err)
{
	_cleanup_nl_ struct ksal_nl *ct = NULL;
	int r = ksal_nl_open_netns(ct_nsfd, &ct, err);

	if (r >= 0)
		r = ksal_link_set_up(ct, "lo", true, err);
	if (r < 0)
		return st_error_prefix(err, "set up loopback-only network: ");
	return 0;
}

/* ---- bridged --------------------------------------------------------------- */

static int bridge_ensure(struct ksal_nl *host, const struct ct_net_bridged *cfg,
			 struct st_error **err)
{
	int r;

	if (ksal_link_exists(host, cfg->bridge))
		return 0;
	r = IGNORING(EEXIST, ksal_bridge_create(host, cfg->bridge, &_e));
	if (r >= 0 && cfg->bridge_addr)
		r = IGNORING(EEXIST, ksal_addr_add(host, cfg->bridge, cfg->bridge_addr, &_e));
	if (r >= 0)
		r = ksal_link_set_up(host, cfg->bridge, true, err);
	return r;
}

int ct_net_bridged_setup(struct ksal_nl *host, int ct_nsfd, const struct ct_net_bridged *cfg,
			 struct st_error **err)
{
	_cleanup_nl_ struct ksal_nl *ct = NULL;
	bool created = false;
	int r;

	if (!cfg || !cfg->ctid || !cfg->host_ifname || !cfg->ct_ifname || !cfg->bridge ||
	    (cfg->n_addrs && !cfg->addrs))
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
				     "bridged network: incomplete configuration");
	r = bridge_ensure(host, cfg, err);
	if (r >= 0)
		r = ksal_nl_open_netns(ct_nsfd, &ct, err);
	if (r >= 0)
		r = ksal_veth_create(host, cfg->host_ifname, cfg->ct_ifname, ct_nsfd, err);
	created = r >= 0;
	if (r >= 0 && cfg->host_mac)
		r = ksal_link_set_mac(host, cfg->host_ifname, cfg->host_mac, err);
	if (r >= 0 && cfg->ct_mac)
		r = ksal_link_set_mac(ct, cfg->ct_ifname, cfg->ct_mac, err);
	if (r >= 0)
		r = ksal_link_set_master(host, cfg->host_ifname, cfg->bridge, err);
	if (r >= 0)
		r = ksal_link_set_up(host, cfg->host_ifname, true, err);
	if (r >= 0)
		r = ksal_link_set_up(ct, "lo", true, err);
	if (r >= 0)
		r = ksal_link_set_up(ct, cfg->ct_ifname, true, err);
	for (size_t i = 0; r >= 0 && i < cfg->n_addrs; i++)
		r = ksal_addr_add(ct, cfg->ct_ifname, &cfg->addrs[i], err);
	if (r >= 0 && cfg->gw4)
		r = ksal_route_add(ct, &default4, cfg->gw4, cfg->ct_ifname, err);
	if (r >= 0 && cfg->gw6)
		r = ksal_route_add(ct, &default6, cfg->gw6, cfg->ct_ifname, err);
	if (r < 0) {
		if (created)
			ksal_link_del(host, cfg->host_ifname, NULL);
		return st_error_prefix(err, "set up bridged network of CT %s on %s: ", cfg->ctid,
				       cfg->bridge);
	}
	st_debug("bridged network of CT %s: %s on %s", cfg->ctid, cfg->host_ifname, cfg->bridge);
	return 0;
}

int ct_net_bridged_teardown(struct ksal_nl *host, const struct ct_net_bridged *cfg,
			    struct st_error **err)
{
	int r;

	if (!ksal_link_exists(host, cfg->host_ifname))
		return 0;
	r = IGNORING(ENODEV, ksal_link_del(host, cfg->host_ifname, &_e));
	if (r < 0)
		return st_error_prefix(err, "tear down bridged network of CT %s: ", cfg->ctid);
	return 0;
}

/* After a restore: CRIU recreated the veth (host end down, bare); put the
 * host end back as routed_setup left it. */
int ct_net_routed_reattach(struct ksal_nl *host, const struct ct_net_routed *cfg,
			   struct st_error **err)
{
	bool v4 = has_family(cfg->addrs, cfg->n_addrs, AF_INET);
	bool v6 = has_family(cfg->addrs, cfg->n_addrs, AF_INET6);
	int r;

	if (check_cfg(cfg, err) < 0)
		return -EINVAL;
	r = routed_host_end(host, cfg, v4, v6, err);
	for (size_t i = 0; r >= 0 && i < cfg->n_addrs; i++)
		r = host_addr_add(host, cfg, &cfg->addrs[i], err);
	if (r < 0)
		return st_error_prefix(err, "reattach routed network of CT %s: ", cfg->ctid);
	return 0;
}
