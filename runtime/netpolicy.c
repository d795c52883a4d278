/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Networking policy: which model a container gets (NETWORK_MODE, IP_ADDRESS,
 * NETIF, NEIGHBOUR_DEVS) and the calls into runtime/net.c (the network
 * area) that set it up, change its addresses live and tear it down.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/netlink.h"
#include "runtime/daemon.h"
#include "runtime/net.h"

const char *ct_net_mode(struct ct *ct)
{
	const char *m = ct_config_str(ct->conf, CT_NETWORK_MODE);
	const char *ips = ct_config_str(ct->conf, CT_IP_ADDRESS);

	if (m)
		return m;
	return ips && *ips ? "routed" : "none";
}

#ifdef HAVE_CT_NET
static int ips_parse(struct ct *ct, struct ksal_ipaddr **out, size_t *n, struct st_error **err)
{
	_cleanup_free_ char *copy = NULL;
	const char *ips = ct_config_str(ct->conf, CT_IP_ADDRESS);
	char *save = NULL;

	*out = NULL;
	*n = 0;
	if (!ips || !*ips)
		return 0;
	copy = strdup(ips);
	*out = calloc(strlen(ips) / 2 + 1, sizeof(**out));
	if (!copy || !*out)
		return st_error_set(err, ENOMEM, "IP_ADDRESS");
	for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save))
		if (ksal_ipaddr_parse(t, &(*out)[(*n)++], err) < 0)
			return -1;
	return 0;
}
#endif

#ifdef HAVE_CT_NET
/* One field of NETIF="ifname=eth0,bridge=br0,..." (first interface), malloc'd. */
static char *netif_field(struct ct *ct, const char *field)
{
	const char *netif = ct_config_str(ct->conf, CT_NETIF);
	size_t fl = strlen(field);

	for (const char *p = netif; p && *p;) {
		size_t len = strcspn(p, ",;");
		if (len > fl && !strncmp(p, field, fl) && p[fl] == '=')
			return strndup(p + fl + 1, len - fl - 1);
		if (p[len] == ';')
			break; /* only the first interface */
		p += len + (p[len] ? 1 : 0);
	}
	return NULL;
}

/* NEIGHBOUR_DEVS: "detect"/"all"/empty -> none given (net.c's default),
 * else a space or comma list. */
static char **neighbour_devs(struct daemon *d)
{
	const char *s = d->g->neighbour_devs;
	_cleanup_free_ char *copy = NULL;
	char **v, *save = NULL;
	size_t n = 0;

	if (!s || !*s || !strcmp(s, "detect") || !strcmp(s, "all"))
		return NULL;
	copy = strdup(s);
	v = calloc(strlen(s) / 2 + 2, sizeof(char *));
	if (!copy || !v) {
		free(v);
		return NULL;
	}
	for (char *t = strtok_r(copy, " ,", &save); t; t = strtok_r(NULL, " ,", &save))
		v[n++] = strdup(t);
	return v;
}

static char *host_ifname(struct ct *ct)
{
	char *s = netif_field(ct, "host_ifname");

	if (!s && asprintf(&s, "veth%s", ct->ctid) < 0)
		return NULL;
	return s;
}
#endif

int ct_network_setup(struct daemon *d, struct ct *ct, int pidfd, struct st_error **err)
{
	const char *mode = ct_net_mode(ct);

	if (!strcmp(mode, "host"))
		return 0;
#ifdef HAVE_CT_NET
	if (!strcmp(mode, "none"))
		return ct_net_none_setup(pidfd, err);
	_cleanup_free_ struct ksal_ipaddr *addrs = NULL;
	_cleanup_free_ char *host_if = host_ifname(ct);
	_cleanup_free_ char *ct_if = netif_field(ct, "ifname");
	struct ksal_nl *nl = NULL;
	size_t n = 0;
	int r;

	if (!host_if)
		return st_error_set(err, ENOMEM, "network");
	if (ips_parse(ct, &addrs, &n, err) < 0)
		return -1;
	if (ksal_nl_open(&nl, err) < 0)
		return -1;
	if (!strcmp(mode, "routed")) {
		_cleanup_strv_ char **neigh = neighbour_devs(d);
		struct ct_net_routed cfg = { .ctid = ct->ctid,
					     .host_ifname = host_if,
					     .ct_ifname = ct_if ? ct_if : "eth0",
					     .addrs = addrs,
					     .n_addrs = n,
					     .neighbour_devs = (const char *const *)neigh };
		r = ct_net_routed_setup(nl, pidfd, &cfg, err);
	} else {
		_cleanup_free_ char *bridge = netif_field(ct, "bridge");
		struct ct_net_bridged cfg = { .ctid = ct->ctid,
					      .host_ifname = host_if,
					      .ct_ifname = ct_if ? ct_if : "eth0",
					      .bridge = bridge,
					      .addrs = addrs,
					      .n_addrs = n };
		if (!bridge) {
			ksal_nl_close(nl);
			return st_error_setx(err, ST_EXIT_CONFIG, 0,
					     "NETWORK_MODE=bridged needs NETIF=\"bridge=NAME\"");
		}
		r = ct_net_bridged_setup(nl, pidfd, &cfg, err);
	}
	ksal_nl_close(nl);
	if (r < 0)
		return -1;
	ct->netdev = take_ptr(host_if);
	return 0;
#else
	(void)d;
	(void)pidfd;
	if (!strcmp(mode, "none"))
		return 0; /* a new netns has only a down loopback */
	return st_error_setx(err, ST_EXIT_NOFEATURE, 0,
			     "NETWORK_MODE=%s: this stratad was built without networking", mode);
#endif
}

/* Undo network_setup after the container is gone (proxy neighbour entries
 * of routed mode included); what is already gone is not an error. */
void ct_network_teardown(struct daemon *d, struct ct *ct)
{
	_cleanup_error_ struct st_error *err = NULL;
	struct ksal_nl *nl = NULL;

	if (!ct->netdev || ksal_nl_open(&nl, &err) < 0)
		goto out;
#ifdef HAVE_CT_NET
	if (ct->conf && !strcmp(ct_net_mode(ct), "routed")) {
		_cleanup_free_ struct ksal_ipaddr *addrs = NULL;
		_cleanup_strv_ char **neigh = neighbour_devs(d);
		size_t n = 0;

		if (ips_parse(ct, &addrs, &n, NULL) == 0) {
			struct ct_net_routed cfg = { .ctid = ct->ctid,
						     .host_ifname = ct->netdev,
						     .ct_ifname = "eth0",
						     .addrs = addrs,
						     .n_addrs = n,
						     .neighbour_devs = (const char *const *)neigh };
			if (ct_net_routed_teardown(nl, &cfg, &err) < 0)
				st_warn("stop %s: %s", ct->ctid, err->msg);
			goto out;
		}
	}
#endif
	if (ksal_link_exists(nl, ct->netdev) && ksal_link_del(nl, ct->netdev, &err) < 0)
		st_warn("stop %s: %s", ct->ctid, err->msg);
out:
	if (nl)
		ksal_nl_close(nl);
	(void)d;
}

/* Bring a running routed container's addresses from its current
 * IP_ADDRESS to `want` (space-separated), live. */
int ct_set_addresses(struct daemon *d, struct ct *ct, const char *want, struct st_error **err)
{
#ifdef HAVE_CT_NET
	const char *have = ct_config_str(ct->conf, CT_IP_ADDRESS);
	_cleanup_free_ char *h = strdup(have ? have : ""), *w = strdup(want ? want : "");
	_cleanup_free_ char *ct_if = netif_field(ct, "ifname");
	_cleanup_strv_ char **neigh = neighbour_devs(d);
	struct ct_net_routed cfg = { .ctid = ct->ctid,
				     .host_ifname = ct->netdev,
				     .ct_ifname = ct_if ? ct_if : "eth0",
				     .neighbour_devs = (const char *const *)neigh };
	struct ksal_nl *nl = NULL;
	char *save = NULL;
	int r = 0;

	if (!h || !w)
		return st_error_set(err, ENOMEM, "addresses");
	if (ksal_nl_open(&nl, err) < 0)
		return -1;
	/* removed ones */
	for (char *t = strtok_r(h, " ", &save); t && r == 0; t = strtok_r(NULL, " ", &save)) {
		struct ksal_ipaddr a;
		bool keep = false;
		_cleanup_free_ char *wc = strdup(w);
		char *s2 = NULL;

		for (char *u = wc ? strtok_r(wc, " ", &s2) : NULL; u; u = strtok_r(NULL, " ", &s2))
			if (!strcmp(u, t))
				keep = true;
		if (!keep && ksal_ipaddr_parse(t, &a, err) == 0)
			r = ct_net_addr_del(nl, ct->init_w.fd, &cfg, &a, err);
	}
	/* added ones */
	save = NULL;
	{
		_cleanup_free_ char *h2 = strdup(have ? have : "");
		for (char *t = strtok_r(w, " ", &save); t && r == 0;
		     t = strtok_r(NULL, " ", &save)) {
			struct ksal_ipaddr a;
			bool had = false;
			_cleanup_free_ char *hc = h2 ? strdup(h2) : NULL;
			char *s2 = NULL;

			for (char *u = hc ? strtok_r(hc, " ", &s2) : NULL; u;
			     u = strtok_r(NULL, " ", &s2))
				if (!strcmp(u, t))
					had = true;
			if (had)
				continue;
			r = ksal_ipaddr_parse(t, &a, err);
			if (r == 0)
				r = ct_net_addr_add(nl, ct->init_w.fd, &cfg, &a, err);
		}
	}
	ksal_nl_close(nl);
	if (r < 0)
		return -1;
	/* the running container's view of its config follows */
	ct_value_parse(CT_IP_ADDRESS, want ? want : "", &ct->conf->v[CT_IP_ADDRESS], NULL);
	return 0;
#else
	(void)d;
	(void)want;
	return st_error_setx(err, ST_EXIT_NOFEATURE, 0,
			     "set %s: this stratad was built without networking", ct->ctid);
#endif
}
