/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Networking policy: which model a container gets (NETWORK_MODE, IP_ADDRESS,
 * NETIF, NEIGHBOUR_DEVS) and the calls into runtime/net.c (the network
 * area) that set it up, change its addresses live and tear it down.
 */
#include <errno.h>
#include <sched.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <inttypes.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/netlink.h"
#include "runtime/daemon.h"
#include "runtime/net.h"
#include "runtime/netpolicy.h"
#include "runtime/guest.h"

const char *ct_net_mode(struct ct *ct)
{
	const char *m = ct_config_str(ct->conf, CT_NETWORK_MODE);
	const char *ips = ct_config_str(ct->conf, CT_IP_ADDRESS);

	if (m)
		return m;
	return ips && *ips ? "routed" : "none";
}

#ifdef HAVE_CT_NET
static int ips_parse_str(const char *ips, struct ksal_ipaddr **out, size_t *n,
			 struct st_error **err)
{
	_cleanup_free_ char *copy = NULL;
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

static int ips_parse(struct ct *ct, struct ksal_ipaddr **out, size_t *n, struct st_error **err)
{
	return ips_parse_str(ct_config_str(ct->conf, CT_IP_ADDRESS), out, n, err);
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

/* NETIF's gw= / gw6=: a host address of the given family. */
static int netif_gw(const char *s, int family, struct ksal_ipaddr *out, struct st_error **err)
{
	if (ksal_ipaddr_parse(s, out, err) < 0)
		return -1;
	if (out->family != family)
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "gateway `%s` is not an IPv%d address", s,
				     family == AF_INET ? 4 : 6);
	return 0;
}

/* A MAC address 00:11:22:33:44:55 (unicast). */
static int netif_mac(const char *s, uint8_t m[6], struct st_error **err)
{
	unsigned int b[6];
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &end) != 6 ||
	    (b[0] & 1))
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "invalid MAC address `%s` (unicast XX:XX:XX:XX:XX:XX)", s);
	for (int i = 0; i < 6; i++)
		m[i] = (uint8_t)b[i];
	return 0;
}

static char *host_ifname(struct ct *ct)
{
	char *s = netif_field(ct, "host_ifname");

	if (!s && asprintf(&s, "veth%s", ct->ctid) < 0)
		return NULL;
	return s;
}
#endif

/*
 * <RUN_DIR>/ct/CTID.net: what the network of a running container is made
 * of (mode, host device, addresses, neighbour devices), written at start and
 * on every live change, so a stop tears down exactly that, even after a
 * daemon restart or a config edited meanwhile.
 */
static char *net_state_path(struct daemon *d, const char *ctid)
{
	char *s = NULL;

	if (asprintf(&s, "%s/ct/%s.net", d->g->run_dir, ctid) < 0)
		return NULL;
	return s;
}

static void net_state_write(struct daemon *d, struct ct *ct, const char *mode, const char *ips,
			    char *const *neigh)
{
	_cleanup_error_ struct st_error *err = NULL;
	_cleanup_free_ char *path = net_state_path(d, ct->ctid), *text = NULL;
	json_t *j =
		json_pack("{s:s,s:s,s:s,s:[]}", "mode", mode, "host_ifname",
			  ct->netdev ? ct->netdev : "", "addrs", ips ? ips : "", "neighbour_devs");

	if (!path || !j) {
		json_decref(j);
		return;
	}
	for (char *const *n = neigh; n && *n; n++)
		json_array_append_new(json_object_get(j, "neighbour_devs"), json_string(*n));
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (text && st_write_file_atomic(path, text, strlen(text), 0600, false, &err) < 0)
		st_warn("network state of %s: %s", ct->ctid, err->msg);
}

/* 0 and *out (json) when there is a state file. */
static int net_state_read(struct daemon *d, struct ct *ct, json_t **out)
{
	_cleanup_free_ char *path = net_state_path(d, ct->ctid);

	*out = path ? json_load_file(path, 0, NULL) : NULL;
	return *out ? 0 : -1;
}

static void net_state_remove(struct daemon *d, struct ct *ct)
{
	_cleanup_free_ char *path = net_state_path(d, ct->ctid);

	if (path)
		unlink(path);
}

#ifdef HAVE_CT_NET
/* RATE on the host end of the veth: its egress is what the container
 * receives, its ingress (shaped through an ifb) what the container sends. */
static int rate_apply(struct ksal_nl *nl, struct ct *ct, const struct ct_config *c,
		      const char *host_if, struct st_error **err)
{
	uint64_t kbit = 0;

	if (ct_rate_kbit(ct_config_str(c, CT_RATE), &kbit) < 0)
		return st_error_setx(err, ST_EXIT_BADVALUE, 0, "invalid RATE `%s`",
				     ct_config_str(c, CT_RATE));
	if (kbit == 0) {
		uint64_t cur = 0;
		char ifb[16];
		if (ksal_tc_rate_get(nl, host_if, &cur, NULL) == 0 && cur == 0 &&
		    !(ksal_tc_ifb_name(host_if, ifb, sizeof(ifb)) && ksal_link_exists(nl, ifb)))
			return 0;
	}
	if (ksal_tc_rate_set(nl, host_if, kbit * 1000, err) < 0 ||
	    ksal_tc_ingress_rate_set(nl, host_if, kbit * 1000, err) < 0)
		return st_error_prefix(err, "RATE of %s", ct->ctid);
	st_debug("RATE of %s: %" PRIu64 " kbit/s on %s", ct->ctid, kbit, host_if);
	return 0;
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
	_cleanup_strv_ char **neigh = neighbour_devs(d);
	if (!strcmp(mode, "routed")) {
		struct ct_net_routed cfg = { .ctid = ct->ctid,
					     .host_ifname = host_if,
					     .ct_ifname = ct_if ? ct_if : "eth0",
					     .addrs = addrs,
					     .n_addrs = n,
					     .neighbour_devs = (const char *const *)neigh };
		r = ct_net_routed_setup(nl, pidfd, &cfg, err);
	} else {
		_cleanup_free_ char *bridge = netif_field(ct, "bridge");
		_cleanup_free_ char *gw = netif_field(ct, "gw"), *gw6 = netif_field(ct, "gw6");
		_cleanup_free_ char *mac = netif_field(ct, "mac");
		_cleanup_free_ char *hmac = netif_field(ct, "host_mac");
		struct ksal_ipaddr g4, g6;
		uint8_t m[6], hm[6];
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
		if ((gw && netif_gw(gw, AF_INET, &g4, err) < 0) ||
		    (gw6 && netif_gw(gw6, AF_INET6, &g6, err) < 0) ||
		    (mac && netif_mac(mac, m, err) < 0) || (hmac && netif_mac(hmac, hm, err) < 0)) {
			ksal_nl_close(nl);
			return st_error_prefix(err, "NETIF of %s", ct->ctid);
		}
		cfg.gw4 = gw ? &g4 : NULL;
		cfg.gw6 = gw6 ? &g6 : NULL;
		cfg.ct_mac = mac ? m : NULL;
		cfg.host_mac = hmac ? hm : NULL;
		r = ct_net_bridged_setup(nl, pidfd, &cfg, err);
	}
	if (r == 0 && rate_apply(nl, ct, ct->conf, host_if, err) < 0) {
		_cleanup_error_ struct st_error *e2 = NULL;
		ksal_link_del(nl, host_if, &e2);
		r = -1;
	}
	ksal_nl_close(nl);
	if (r < 0)
		return -1;
	/* the links above are the container's own; ct->netdev is the loop's
	 * too (a start worker runs this) */
	daemon_lock(d);
	ct->netdev = take_ptr(host_if);
	net_state_write(d, ct, mode, ct_config_str(ct->conf, CT_IP_ADDRESS),
			!strcmp(mode, "routed") ? neigh : NULL);
	daemon_unlock(d);
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
	json_t *st = NULL;
	struct ksal_nl *nl = NULL;
	const char *host_if = ct->netdev;

	net_state_read(d, ct, &st);
	if (st && json_string_value(json_object_get(st, "host_ifname")) &&
	    *json_string_value(json_object_get(st, "host_ifname")))
		host_if = json_string_value(json_object_get(st, "host_ifname"));
	if (!host_if || ksal_nl_open(&nl, &err) < 0)
		goto out;
#ifdef HAVE_CT_NET
	/* the ifb shaping what the container sent, if RATE made one */
	if (ksal_tc_ingress_rate_set(nl, host_if, 0, &err) < 0) {
		st_warn("stop %s: %s", ct->ctid, err->msg);
		st_error_free(err);
		err = NULL;
	}
	{
		/* what the start recorded; the config when there is no record */
		const char *mode = st	      ? json_string_value(json_object_get(st, "mode"))
				   : ct->conf ? ct_net_mode(ct)
					      : NULL;
		const char *ips = st	     ? json_string_value(json_object_get(st, "addrs"))
				  : ct->conf ? ct_config_str(ct->conf, CT_IP_ADDRESS)
					     : NULL;
		_cleanup_free_ struct ksal_ipaddr *addrs = NULL;
		_cleanup_strv_ char **neigh = NULL;
		size_t n = 0;

		if (st) {
			json_t *nd = json_object_get(st, "neighbour_devs");
			size_t i;
			json_t *x;

			neigh = calloc(json_array_size(nd) + 1, sizeof(char *));
			json_array_foreach (nd, i, x)
				if (neigh && json_is_string(x))
					neigh[i] = strdup(json_string_value(x));
		} else {
			neigh = neighbour_devs(d);
		}
		if (mode && !strcmp(mode, "routed") && ips_parse_str(ips, &addrs, &n, NULL) == 0) {
			struct ct_net_routed cfg = { .ctid = ct->ctid,
						     .host_ifname = host_if,
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
	if (ksal_link_exists(nl, host_if) && ksal_link_del(nl, host_if, &err) < 0)
		st_warn("stop %s: %s", ct->ctid, err->msg);
out:
	if (nl)
		ksal_nl_close(nl);
	json_decref(st);
	net_state_remove(d, ct);
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
	net_state_write(d, ct, "routed", want, neigh);
	return 0;
#else
	(void)d;
	(void)want;
	return st_error_setx(err, ST_EXIT_NOFEATURE, 0,
			     "set %s: this stratad was built without networking", ct->ctid);
#endif
}

bool ct_net_live_ok(struct ct *ct, int id)
{
	const char *mode = ct_net_mode(ct);

	if (id == CT_HOSTNAME)
		return ct->run == CT_RUNNING && ct->init_w.fd >= 0;
	if (ct->run != CT_RUNNING || !ct->netdev)
		return false;
	if (id == CT_IP_ADDRESS)
		return !strcmp(mode, "routed");
	if (id == CT_RATE)
		return !strcmp(mode, "routed") || !strcmp(mode, "bridged");
	return false;
}

/* sethostname in the UTS namespace of the running ct's init (a forked child
 * joins it), then its /etc/hostname and /etc/hosts as the start writes them. */
static int hostname_set_live(struct ct *ct, const char *hn, struct st_error **err)
{
	_cleanup_free_ char *line = NULL;
	int status = 0;
	pid_t pid;

	if (!hn || !*hn)
		return 0; /* empty: leave the hostname alone */
	pid = fork();
	if (pid < 0)
		return st_error_set(err, errno, "set hostname of %s: fork", ct->ctid);
	if (pid == 0) {
		if (setns(ct->init_w.fd, CLONE_NEWUTS) < 0)
			_exit(10);
		_exit(sethostname(hn, strlen(hn)) < 0 ? 11 : 0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return st_error_set(err, errno, "set hostname of %s: wait", ct->ctid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return st_error_setx(
			err, ST_EXIT_SYSTEM, 0,
			"set hostname `%s` in the UTS namespace of %s: %s failed", hn, ct->ctid,
			WIFEXITED(status) && WEXITSTATUS(status) == 11 ? "sethostname" : "setns");
	ct_value_parse(CT_HOSTNAME, hn, &ct->conf->v[CT_HOSTNAME], NULL);
	if (!ct->root)
		return 0;
	if (asprintf(&line, "%s\n", hn) < 0)
		return st_error_set(err, ENOMEM, "/etc/hostname of %s", ct->ctid);
	if (guest_write_file(ct->root, "etc/hostname", line, ct->id_base, ct->id_base, err) < 0 ||
	    ct_guest_hosts(ct, err) < 0)
		return st_error_prefix(err, "set hostname of %s", ct->ctid);
	st_debug("hostname of %s: %s (live)", ct->ctid, hn);
	return 0;
}

int ct_net_set_live(struct daemon *d, struct ct *ct, const struct ct_config *file,
		    const bool *changed, struct st_error **err)
{
	if (changed[CT_HOSTNAME] && ct_net_live_ok(ct, CT_HOSTNAME) &&
	    hostname_set_live(ct, ct_config_str(file, CT_HOSTNAME), err) < 0)
		return -1;
	if (changed[CT_IP_ADDRESS] && ct_net_live_ok(ct, CT_IP_ADDRESS)) {
		if (ct_set_addresses(d, ct, ct_config_str(file, CT_IP_ADDRESS), err) < 0)
			return -1;
		ct_guest_hosts(ct, NULL); /* its first address may have changed */
	}
#ifdef HAVE_CT_NET
	if (changed[CT_RATE] && ct_net_live_ok(ct, CT_RATE)) {
		struct ksal_nl *nl = NULL;
		int r;

		if (ksal_nl_open(&nl, err) < 0)
			return -1;
		r = rate_apply(nl, ct, file, ct->netdev, err);
		ksal_nl_close(nl);
		if (r < 0)
			return -1;
		ct_value_parse(CT_RATE,
			       ct_config_str(file, CT_RATE) ? ct_config_str(file, CT_RATE) : "",
			       &ct->conf->v[CT_RATE], NULL);
	}
#endif
	return 0;
}

int ct_guest_hosts(struct ct *ct, struct st_error **err)
{
	const char *hn = ct_config_str(ct->conf, CT_HOSTNAME);
	const char *ips = ct_config_str(ct->conf, CT_IP_ADDRESS);
	_cleanup_free_ char *text = NULL, *first = NULL, *shortname = NULL;

	if (!hn || !*hn || !ct->root)
		return 0;
	shortname = strndup(hn, strcspn(hn, "."));
	if (ips && *ips)
		first = strndup(ips, strcspn(ips, " /"));
	if (!shortname ||
	    asprintf(&text,
		     "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
		     "ip6-loopback\n%s\t%s%s%s\n",
		     first ? first : "127.0.1.1", hn, strcmp(hn, shortname) ? " " : "",
		     strcmp(hn, shortname) ? shortname : "") < 0)
		return st_error_set(err, ENOMEM, "/etc/hosts of %s", ct->ctid);
	return guest_write_file(ct->root, "etc/hosts", text, ct->id_base, ct->id_base, err);
}
