/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Address management of routed and bridged containers (issue 6):
 *
 *  - `--ipadd auto` (IPv4 pool IP_POOL) and `--ipadd auto6` (IPv6 pool
 *    IP6_POOL, both in strata.conf) take the lowest address of the pool that
 *    no container's config holds and the host does not use. The registry is
 *    the daemon's view of every container config (read at startup, changed by
 *    create/set/destroy), so an address is persisted through the config that
 *    holds it and free again once that config is destroyed.
 *  - Every address a create or set adds is checked: not a network or
 *    broadcast address (of its own prefix or of a pool), not held by another
 *    container, not present on the host (exit 78, vzctl's "IP in use").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/netlink.h"
#include "runtime/daemon.h"
#include "runtime/netpolicy.h"

static void nl_closep(struct ksal_nl **nl)
{
	if (*nl)
		ksal_nl_close(*nl);
	*nl = NULL;
}
#define _cleanup_nl_ _cleanup_(nl_closep)

/* A growing list of addresses. */
struct addr_set {
	struct ksal_ipaddr *v;
	size_t n, cap;
};

static void addr_set_clear(struct addr_set *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}
#define _cleanup_addr_set_ _cleanup_(addr_set_clear)

static int addr_set_add(struct addr_set *s, const struct ksal_ipaddr *a)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct ksal_ipaddr *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = *a;
	return 0;
}

/* Parse the space-separated list into s (bad words are skipped). */
static int addr_set_add_list(struct addr_set *s, const char *list)
{
	_cleanup_free_ char *copy = list ? strdup(list) : NULL;
	char *save = NULL;

	if (!list)
		return 0;
	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
		struct ksal_ipaddr a;

		if (ksal_ipaddr_parse(t, &a, NULL) == 0 && addr_set_add(s, &a) < 0)
			return -ENOMEM;
	}
	return 0;
}

static bool list_has(const char *list, const struct ksal_ipaddr *a)
{
	_cleanup_addr_set_ struct addr_set s = { 0 };

	addr_set_add_list(&s, list);
	for (size_t i = 0; i < s.n; i++)
		if (ksal_ipaddr_equal(&s.v[i], a))
			return true;
	return false;
}

/* The container (not self, not destroyed) whose config holds a, or NULL. */
static struct ct *holder_of(struct daemon *d, const char *self, const struct ksal_ipaddr *a)
{
	for (struct ct *o = d->cts; o; o = o->next) {
		if (o->destroyed || !o->conf || (self && !strcmp(o->ctid, self)))
			continue;
		if (list_has(ct_config_str(o->conf, CT_IP_ADDRESS), a))
			return o;
	}
	return NULL;
}

static int pool_get(struct daemon *d, int family, struct ksal_ipaddr *pool, struct st_error **err)
{
	const char *key = family == AF_INET6 ? "IP6_POOL" : "IP_POOL";
	const char *s = family == AF_INET6 ? d->g->ip6_pool : d->g->ip_pool;

	if (!s || !*s)
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "`%s`: no address pool configured (set %s in `%s`)",
				     family == AF_INET6 ? "auto6" : "auto", key,
				     d->g->path ? d->g->path : "strata.conf");
	if (ksal_ipaddr_parse(s, pool, err) < 0 || pool->family != family)
		return st_error_setx(err, ST_EXIT_NOGLOBALCONF, 0,
				     "%s=%s in strata.conf is not an IPv%d network", key, s,
				     family == AF_INET6 ? 6 : 4);
	if (pool->prefix < 0 || pool->prefix >= ksal_ipaddr_host_prefix(pool) - 1)
		return st_error_setx(err, ST_EXIT_NOGLOBALCONF, 0,
				     "%s=%s in strata.conf: give a network with room, e.g. "
				     "10.77.0.1/24",
				     key, s);
	return 0;
}

/* The next free address of the family's pool; taken is what this request
 * already took (it is added to). */
static int ipam_next(struct daemon *d, struct ksal_nl *nl, int family, struct addr_set *taken,
		     struct ksal_ipaddr *out, struct st_error **err)
{
	_cleanup_addr_set_ struct addr_set used = { 0 };
	struct ksal_ipaddr pool;

	if (pool_get(d, family, &pool, err) < 0)
		return -1;
	for (struct ct *o = d->cts; o; o = o->next)
		if (!o->destroyed && o->conf &&
		    addr_set_add_list(&used, ct_config_str(o->conf, CT_IP_ADDRESS)) < 0)
			return st_error_set(err, ENOMEM, "address pool");
	for (size_t i = 0; i < taken->n; i++)
		if (addr_set_add(&used, &taken->v[i]) < 0)
			return st_error_set(err, ENOMEM, "address pool");
	/* a host address inside the pool is skipped over */
	for (int tries = 0; tries < 4096; tries++) {
		bool busy = false;

		if (ksal_ipaddr_pool_next(&pool, used.v, used.n, out, err) < 0)
			return -1;
		if (ksal_ipaddr_in_use(nl, out, &busy, NULL) == 0 && !busy)
			return addr_set_add(taken, out) < 0 ? st_error_set(err, ENOMEM, "pool") : 0;
		if (addr_set_add(&used, out) < 0)
			return st_error_set(err, ENOMEM, "address pool");
	}
	return st_error_setx(err, ST_EXIT_NORESOURCE, 0, "no free address in pool %s",
			     family == AF_INET6 ? d->g->ip6_pool : d->g->ip_pool);
}

/* "a auto b" with each auto / auto6 replaced (malloc'd). */
static char *resolve_words(struct daemon *d, struct ksal_nl **nl, const char *text,
			   struct addr_set *taken, struct st_error **err)
{
	_cleanup_free_ char *copy = strdup(text), *out = strdup("");
	char *save = NULL;

	if (!copy || !out) {
		st_error_set(err, ENOMEM, "ipadd");
		return NULL;
	}
	for (char *t = strtok_r(copy, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
		char buf[INET6_ADDRSTRLEN + 8];
		const char *w = t;
		char *n = NULL;

		if (!strcmp(t, "auto") || !strcmp(t, "auto6")) {
			struct ksal_ipaddr a;

			if (!*nl && ksal_nl_open(nl, err) < 0)
				return NULL;
			if (ipam_next(d, *nl, !strcmp(t, "auto6") ? AF_INET6 : AF_INET, taken, &a,
				      err) < 0)
				return NULL;
			w = ksal_ipaddr_str(&a, buf, sizeof(buf));
			st_info("address pool: %s", w);
		}
		if (asprintf(&n, "%s%s%s", out, *out ? " " : "", w) < 0) {
			st_error_set(err, ENOMEM, "ipadd");
			return NULL;
		}
		free(out);
		out = n;
	}
	return take_ptr(out);
}

static bool is_addr_key(const char *key)
{
	return !strcmp(key, "ipadd") || !strcmp(key, "ip") || !strcmp(key, "IP_ADDRESS");
}

static int resolve_obj(struct daemon *d, struct ksal_nl **nl, json_t *obj, struct addr_set *taken,
		       struct st_error **err)
{
	const char *key;
	json_t *v;

	json_object_foreach (obj, key, v) {
		if (!is_addr_key(key))
			continue;
		if (json_is_string(v)) {
			_cleanup_free_ char *r =
				resolve_words(d, nl, json_string_value(v), taken, err);
			if (!r)
				return -1;
			json_object_set_new(obj, key, json_string(r));
		} else if (json_is_array(v)) {
			size_t i;
			json_t *x;

			json_array_foreach (v, i, x) {
				_cleanup_free_ char *r = NULL;

				if (!json_is_string(x))
					continue;
				r = resolve_words(d, nl, json_string_value(x), taken, err);
				if (!r)
					return -1;
				json_array_set_new(v, i, json_string(r));
			}
		}
	}
	return 0;
}

/* vzctl's --netif_add IFNAME[,MAC,HOST_IFNAME,HOST_MAC,BRIDGE] into
 * NETIF="ifname=..,mac=..,host_ifname=..,host_mac=..,bridge=.." (and
 * NETWORK_MODE=bridged unless given); --netif_del NAME|all clears it. */
static int netif_args(json_t *obj, struct st_error **err)
{
	static const char *const fields[] = { "ifname", "mac", "host_ifname", "host_mac",
					      "bridge" };
	json_t *add = json_object_get(obj, "netif_add"), *del = json_object_get(obj, "netif_del");
	_cleanup_free_ char *out = strdup("");

	if (!out)
		return st_error_set(err, ENOMEM, "netif_add");
	if (del) {
		json_object_del(obj, "netif_del");
		if (!add)
			json_object_set_new(obj, "NETIF", json_string(""));
	}
	if (!add)
		return 0;
	if (!json_is_string(add))
		return st_error_setx(err, ST_EXIT_BADARG, 0, "`netif_add`: string expected");
	{
		const char *spec = json_string_value(add);
		const char *p = spec;

		if (strchr(spec, ' '))
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "netif_add `%s`: one veth interface per container is "
					     "supported",
					     spec);
		for (size_t i = 0; i < ARRAY_SIZE(fields) && p; i++) {
			size_t len = strcspn(p, ",");
			char *n = NULL;

			if (len && asprintf(&n, "%s%s%s=%.*s", out, *out ? "," : "", fields[i],
					    (int)len, p) < 0)
				return st_error_set(err, ENOMEM, "netif_add");
			if (n) {
				free(out);
				out = n;
			}
			p = p[len] ? p + len + 1 : NULL;
		}
		if (p)
			return st_error_setx(
				err, ST_EXIT_BADVALUE, 0,
				"netif_add `%s`: IFNAME[,MAC,HOST_IFNAME,HOST_MAC,BRIDGE] "
				"expected",
				spec);
		if (strncmp(out, "ifname=", 7))
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "netif_add `%s`: the interface name comes first",
					     spec);
	}
	json_object_set_new(obj, "NETIF", json_string(out));
	if (!json_object_get(obj, "netmode") && !json_object_get(obj, "NETWORK_MODE"))
		json_object_set_new(obj, "NETWORK_MODE", json_string("bridged"));
	json_object_del(obj, "netif_add");
	return 0;
}

int ct_ipam_resolve(struct daemon *d, json_t *obj, struct st_error **err)
{
	_cleanup_addr_set_ struct addr_set taken = { 0 };
	_cleanup_nl_ struct ksal_nl *nl = NULL;
	json_t *opts;

	if (!json_is_object(obj))
		return 0;
	if (resolve_obj(d, &nl, obj, &taken, err) < 0 || netif_args(obj, err) < 0)
		return -1;
	opts = json_object_get(obj, "options");
	if (json_is_object(opts) &&
	    (resolve_obj(d, &nl, opts, &taken, err) < 0 || netif_args(opts, err) < 0))
		return -1;
	return 0;
}

/* A network or broadcast address of its own prefix or of a pool. */
static int check_not_network(struct daemon *d, const char *word, const struct ksal_ipaddr *a,
			     struct st_error **err)
{
	const char *pools[] = { d->g->ip_pool, d->g->ip6_pool };

	if (a->prefix >= 0 && ksal_ipaddr_is_network(a, a))
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "`%s` is a network or broadcast address, not a host address",
				     word);
	for (size_t i = 0; i < ARRAY_SIZE(pools); i++) {
		struct ksal_ipaddr pool;

		if (!pools[i] || !*pools[i] || ksal_ipaddr_parse(pools[i], &pool, NULL) < 0 ||
		    pool.family != a->family || pool.prefix < 0 || !ksal_ipaddr_in_subnet(a, &pool))
			continue;
		if (ksal_ipaddr_is_network(a, &pool))
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "`%s` is the network or broadcast address of pool %s",
					     word, pools[i]);
		if (ksal_ipaddr_equal(a, &pool))
			return st_error_setx(err, ST_EXIT_IPINUSE, 0,
					     "address %s is the host's own address of pool %s",
					     word, pools[i]);
	}
	return 0;
}

int ct_ipam_check(struct daemon *d, const char *ctid, const char *have, const char *want,
		  struct st_error **err)
{
	_cleanup_free_ char *copy = want ? strdup(want) : NULL;
	_cleanup_nl_ struct ksal_nl *nl = NULL;
	char *save = NULL;

	if (!want)
		return 0;
	if (!copy)
		return st_error_set(err, ENOMEM, "IP_ADDRESS");
	for (char *t = strtok_r(copy, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
		struct ksal_ipaddr a;
		struct ct *o;
		bool busy = false;

		if (ksal_ipaddr_parse(t, &a, err) < 0) {
			(*err)->exit_code = ST_EXIT_BADVALUE;
			return -1;
		}
		if (list_has(have, &a))
			continue; /* the container has it already */
		if (check_not_network(d, t, &a, err) < 0)
			return -1;
		o = holder_of(d, ctid, &a);
		if (o)
			return st_error_setx(err, ST_EXIT_IPINUSE, 0,
					     "address %s is already used by container %s", t,
					     o->ctid);
		if (!nl && ksal_nl_open(&nl, err) < 0)
			return -1;
		if (ksal_ipaddr_in_use(nl, &a, &busy, err) < 0)
			return -1;
		if (busy)
			return st_error_setx(err, ST_EXIT_IPINUSE, 0,
					     "address %s is already in use on the host", t);
	}
	return 0;
}

/* Whether entry (one NETIF interface, "ifname=..,mac=..") names ifname. */
static bool netif_entry_is(const char *entry, size_t len, const char *ifname)
{
	size_t n = strlen(ifname);

	for (const char *p = entry; p < entry + len;) {
		size_t f = strcspn(p, ",;");
		if (f > (size_t)(entry + len - p))
			f = (size_t)(entry + len - p);
		if (f == 7 + n && !strncmp(p, "ifname=", 7) && !strncmp(p + 7, ifname, n))
			return true;
		p += f + 1;
	}
	return false;
}

/* entry with field=value set (value "": removed), malloc'd. */
static char *netif_entry_set(const char *entry, size_t len, const char *field, const char *value)
{
	size_t fl = strlen(field);
	char *out = strdup(""), *n;

	for (const char *p = entry; out && p < entry + len;) {
		size_t f = strcspn(p, ",;");
		if (f > (size_t)(entry + len - p))
			f = (size_t)(entry + len - p);
		if (f && !(f > fl && !strncmp(p, field, fl) && p[fl] == '=')) {
			if (asprintf(&n, "%s%s%.*s", out, *out ? "," : "", (int)f, p) < 0)
				n = NULL;
			free(out);
			out = n;
		}
		p += f + 1;
	}
	if (out && *value) {
		if (asprintf(&n, "%s%s%s=%s", out, *out ? "," : "", field, value) < 0)
			n = NULL;
		free(out);
		out = n;
	}
	return out;
}

int ct_netif_options(const char *netif, json_t *opts, struct st_error **err)
{
	static const char *const fields[] = { "mac",	"host_ifname", "host_mac",
					      "bridge", "gw",	       "gw6" };
	json_t *jif = json_object_get(opts, "ifname");
	json_t *jnetif = json_object_get(opts, "NETIF");
	_cleanup_free_ char *cur = NULL, *out = NULL;
	const char *ifname, *given = NULL;
	bool found = false;

	if (json_object_get(opts, "network"))
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "--network is not supported: give the interface's prefix with "
				     "--ipadd ADDR/LEN");
	for (size_t i = 0; i < ARRAY_SIZE(fields) && !given; i++)
		if (json_object_get(opts, fields[i]))
			given = fields[i];
	if (!jif && !given)
		return 0;
	if (!jif)
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "--%s applies to an interface: give --ifname IFNAME first",
				     given);
	if (!json_is_string(jif))
		return st_error_setx(err, ST_EXIT_BADARG, 0, "`ifname`: string expected");
	ifname = json_string_value(jif);
	cur = strdup(json_is_string(jnetif) ? json_string_value(jnetif) : netif ? netif : "");
	out = strdup("");
	if (!cur || !out)
		return st_error_set(err, ENOMEM, "NETIF");
	for (const char *p = cur; *p;) {
		size_t len = strcspn(p, ";");
		_cleanup_free_ char *e = strndup(p, len);
		char *n = NULL;

		if (!e)
			return st_error_set(err, ENOMEM, "NETIF");
		if (len && netif_entry_is(p, len, ifname)) {
			found = true;
			for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
				json_t *v = json_object_get(opts, fields[i]);
				char *ne;

				if (!v)
					continue;
				if (!json_is_string(v))
					return st_error_setx(err, ST_EXIT_BADARG, 0,
							     "`%s`: string expected", fields[i]);
				if ((!strcmp(fields[i], "gw") || !strcmp(fields[i], "gw6")) &&
				    *json_string_value(v)) {
					_cleanup_error_ struct st_error *e2 = NULL;
					struct ksal_ipaddr a;
					if (ksal_ipaddr_parse(json_string_value(v), &a, &e2) < 0 ||
					    a.family != (fields[i][2] ? AF_INET6 : AF_INET))
						return st_error_setx(
							err, ST_EXIT_BADVALUE, 0,
							"--%s `%s`: not an IPv%c address",
							fields[i], json_string_value(v),
							fields[i][2] ? '6' : '4');
				}
				ne = netif_entry_set(e, strlen(e), fields[i], json_string_value(v));
				if (!ne)
					return st_error_set(err, ENOMEM, "NETIF");
				free(e);
				e = ne;
			}
		}
		if (len && asprintf(&n, "%s%s%s", out, *out ? ";" : "", e) < 0)
			return st_error_set(err, ENOMEM, "NETIF");
		if (n) {
			free(out);
			out = n;
		}
		p += len + (p[len] ? 1 : 0);
	}
	if (!found)
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "no interface `%s` in NETIF (add it with --netif_add %s)",
				     ifname, ifname);
	json_object_del(opts, "ifname");
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
		json_object_del(opts, fields[i]);
	json_object_set_new(opts, "NETIF", json_string(out));
	return 0;
}
