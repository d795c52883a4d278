/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The container config key table: one row per key (STYLE.md). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ksal/cleanup.h"
#include "runtime/ctconfig.h"

int ct_validate_hostname(const char *s, struct st_error **err)
{
	size_t len = strlen(s), label = 0;

	if (len == 0)
		return 0; /* empty: leave the hostname alone */
	if (len > 253)
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "hostname `%s` is longer than 253 characters", s);
	for (const char *p = s; *p; p++) {
		if (*p == '.') {
			if (label == 0)
				goto bad;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			goto bad;
		if (*p == '-' && label == 0)
			goto bad;
		if (++label > 63)
			goto bad;
	}
	if (label == 0)
		goto bad;
	return 0;
bad:
	return st_error_setx(err, ST_EXIT_BADVALUE, 0,
			     "invalid hostname `%s` (letters, digits, '-' and '.', labels of 1 "
			     "to 63 characters)",
			     s);
}

int ct_validate_name(const char *s, struct st_error **err)
{
	size_t len = strlen(s);

	if (len == 0 || len > 64)
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "invalid container name `%s` (1 to 64 characters)", s);
	if (s[0] == '-' || s[0] == '.')
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "invalid container name `%s`: starts with `%c`", s, s[0]);
	if (strstr(s, ".."))
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "invalid container name `%s`: `..` is not allowed", s);
	if (strspn(s, "0123456789") == len)
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "invalid container name `%s`: all digits (a CTID, not a name)",
				     s);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.')
			continue;
		if (*p == ' ')
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "invalid container name `%s`: a space is not "
					     "allowed (letters, digits, '-', '_', '.')",
					     s);
		if (isprint(*p))
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "invalid container name `%s`: character `%c` not "
					     "allowed (letters, digits, '-', '_', '.')",
					     s, *p);
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "invalid container name: character 0x%02x not allowed "
				     "(letters, digits, '-', '_', '.')",
				     *p);
	}
	return 0;
}

int ct_validate_ctid(const char *s, struct st_error **err)
{
	size_t len = strlen(s);
	char *end = NULL;
	unsigned long id;

	if (len == 0)
		return st_error_setx(err, ST_EXIT_BADARG, 0, "empty CTID");
	if (strspn(s, "0123456789") != len) {
		if (ct_validate_name(s, err) < 0) {
			if (err && *err)
				(*err)->exit_code = ST_EXIT_BADARG;
			return -1;
		}
		return 0;
	}
	errno = 0;
	id = strtoul(s, &end, 10);
	if (errno || len > 10 || id > UINT32_MAX || (s[0] == '0' && len > 1))
		return st_error_setx(err, ST_EXIT_BADARG, 0, "invalid CTID `%s`", s);
	if (id < CT_MIN_CTID)
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "invalid CTID `%s`: CTIDs 0 to %d are reserved, use %d or "
				     "above",
				     s, CT_MIN_CTID - 1, CT_MIN_CTID);
	return 0;
}

static int validate_abs_path(const char *s, struct st_error **err)
{
	if (s[0] != '/')
		return st_error_setx(err, ST_EXIT_BADVALUE, 0, "`%s` is not an absolute path", s);
	for (const char *p = s; (p = strstr(p, "..")); p += 2)
		if ((p == s || p[-1] == '/') && (p[2] == '/' || !p[2]))
			return st_error_setx(err, ST_EXIT_BADVALUE, 0, "path `%s` contains `..`",
					     s);
	return 0;
}

static int validate_template_name(const char *s, struct st_error **err)
{
	if (!*s)
		return 0;
	if (strstr(s, "..") || strchr(s, '/') || s[0] == '.' || s[0] == '-')
		goto bad;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (!isalnum(*p) && !strchr("-_.@+", *p))
			goto bad;
	return 0;
bad:
	return st_error_setx(err, ST_EXIT_BADVALUE, 0,
			     "invalid template name `%s` (NAME[@VERSION]: letters, digits, "
			     "'-', '_', '.', '+')",
			     s);
}

static int validate_description(const char *s, struct st_error **err)
{
	if (strlen(s) > 4096)
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "description longer than 4096 characters");
	return 0;
}

/* "all" or "0-3,5,7" */
static int validate_cpumask(const char *s, struct st_error **err)
{
	const char *p = s;

	if (strcmp(s, "all") == 0)
		return 0;
	while (*p) {
		char *end = NULL;
		unsigned long a, b;

		if (!isdigit((unsigned char)*p))
			goto bad;
		a = b = strtoul(p, &end, 10);
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				goto bad;
			b = strtoul(p, &end, 10);
			p = end;
		}
		if (a > b || b >= 4096)
			goto bad;
		if (*p == ',' && p[1])
			p++;
		else if (*p)
			goto bad;
	}
	if (p == s)
		goto bad;
	return 0;
bad:
	return st_error_setx(err, ST_EXIT_BADVALUE, 0,
			     "invalid CPU mask `%s` (all, or a list like 0-3,5 of CPUs 0 to 4095)",
			     s);
}

/* vzctl's NETIF="ifname=eth0,mac=..,host_ifname=..,host_mac=..,bridge=..;..." */
static int validate_netif(const char *s, struct st_error **err)
{
	static const char *const fields[] = { "ifname",	 "mac", "host_ifname", "host_mac", "bridge",
					      "network", "mtu", "gw",	       "gw6" };
	_cleanup_free_ char *copy = strdup(s);
	char *save = NULL;

	if (!copy)
		return st_error_set(err, ENOMEM, "NETIF");
	for (char *tok = strtok_r(copy, ",;", &save); tok; tok = strtok_r(NULL, ",;", &save)) {
		char *eq = strchr(tok, '=');
		size_t i;

		if (!eq)
			goto bad;
		*eq = '\0';
		for (i = 0; i < ARRAY_SIZE(fields); i++)
			if (strcmp(tok, fields[i]) == 0)
				break;
		if (i == ARRAY_SIZE(fields) || !eq[1] || strlen(eq + 1) > 64)
			goto bad;
		if ((i == 0 || i == 2 || i == 4) && (strlen(eq + 1) > 15 || strchr(eq + 1, '/')))
			goto bad;
	}
	return 0;
bad:
	return st_error_setx(err, ST_EXIT_BADVALUE, 0,
			     "invalid NETIF `%s` (ifname=,mac=,host_ifname=,host_mac=,bridge=,"
			     "gw=,gw6=,mtu= pairs; interface names up to 15 characters)",
			     s);
}

/* ---- live apply: the key's value into cgroup limits ---- */

static int64_t lim(uint64_t x)
{
	return x == CT_UNLIMITED || x >= (uint64_t)INT64_MAX ? KSAL_CG_UNLIMITED : (int64_t)x;
}

static void lim_physpages(const struct ct_value *v, struct ksal_cgroup_limits *l)
{
	l->memory_max = lim(v->p.limit);
}

static void lim_swappages(const struct ct_value *v, struct ksal_cgroup_limits *l)
{
	l->swap_max = lim(v->p.limit);
}

static void lim_memguarantee(const struct ct_value *v, struct ksal_cgroup_limits *l)
{
	l->memory_low = lim(v->p.limit);
}

static void lim_cpuunits(const struct ct_value *v, struct ksal_cgroup_limits *l)
{
	l->cpu_weight = (int64_t)v->u;
}

#define CT_CPU_PERIOD_US 100000

static void cap_quota(struct ksal_cgroup_limits *l, int64_t quota)
{
	l->cpu_period_us = CT_CPU_PERIOD_US;
	if (l->cpu_quota_us < 0 || l->cpu_quota_us == KSAL_CG_UNLIMITED || quota < l->cpu_quota_us)
		l->cpu_quota_us = quota;
}

static void lim_cpulimit(const struct ct_value *v, struct ksal_cgroup_limits *l)
{
	/* percent of one CPU; 0 = no cap */
	if (v->u == 0) {
		if (l->cpu_quota_us < 0)
			l->cpu_quota_us = KSAL_CG_UNLIMITED;
		l->cpu_period_us = CT_CPU_PERIOD_US;
		return;
	}
	cap_quota(l, (int64_t)v->u * CT_CPU_PERIOD_US / 100);
}

static void lim_cpus(const struct ct_value *v, struct ksal_cgroup_limits *l)
{
	if (v->u == 0) {
		if (l->cpu_quota_us < 0)
			l->cpu_quota_us = KSAL_CG_UNLIMITED;
		l->cpu_period_us = CT_CPU_PERIOD_US;
		return;
	}
	cap_quota(l, (int64_t)v->u * CT_CPU_PERIOD_US);
}

static void lim_cpumask(const struct ct_value *v, struct ksal_cgroup_limits *l)
{
	l->cpuset_cpus = strcmp(v->str, "all") == 0 ? NULL : v->str;
}

static void lim_numproc(const struct ct_value *v, struct ksal_cgroup_limits *l)
{
	l->pids_max = lim(v->p.limit);
}

static void lim_ioprio(const struct ct_value *v, struct ksal_cgroup_limits *l)
{
	l->io_weight = (int64_t)v->u;
}

static void lim_iolimit(const struct ct_value *v, struct ksal_cgroup_limits *l)
{
	l->io_bps_max = v->p.limit == 0 ? KSAL_CG_UNLIMITED : lim(v->p.limit);
}

static void lim_iopslimit(const struct ct_value *v, struct ksal_cgroup_limits *l)
{
	l->io_iops_max = v->u == 0 ? KSAL_CG_UNLIMITED : (int64_t)v->u;
}

static const char *const netmodes[] = { "routed", "bridged", "none", "host", NULL };
static const char *const layouts[] = { "overlay", "dir", "image", NULL };
static const char *const mountmodes[] = { "auto", "kernel", "fuse", NULL };

#define U32MAX 4294967295ULL
#define NOALIAS                                                                                    \
	{                                                                                          \
		{                                                                                  \
			NULL, CT_SET                                                               \
		}                                                                                  \
	}

/*
 * The table. For CT_KIND_IPLIST, unit 1 means "addresses without prefix".
 * A key's vzctl option name is its name in lower case (with '-' or '_'),
 * aliases list the other names.
 */
const struct ct_key ct_keys[CT_KEY_COUNT] = {
	[CT_OSTEMPLATE] = { "OSTEMPLATE", NOALIAS, CT_KIND_STR, .validate = validate_template_name,
			    .apply = CT_APPLY_RESTART, .list_name = "ostemplate",
			    .help = "template the root is composed from, NAME[@VERSION]" },
	[CT_HOSTNAME] = { "HOSTNAME", NOALIAS, CT_KIND_STR, .validate = ct_validate_hostname,
			  .apply = CT_APPLY_NET, .list_name = "hostname",
			  .help = "the container's hostname, also in its /etc/hostname and "
				  "/etc/hosts; unset: the CTID, files left as they are" },
	[CT_ONBOOT] = { "ONBOOT", NOALIAS, CT_KIND_BOOL, .apply = CT_APPLY_NONE,
			.list_name = "onboot", .help = "start when stratad starts (yes|no)" },
	[CT_BOOTORDER] = { "BOOTORDER", NOALIAS, CT_KIND_UINT, .min = 0, .max = U32MAX,
			   .apply = CT_APPLY_NONE, .list_name = "bootorder",
			   .help = "higher starts first among ONBOOT containers" },
	[CT_VE_ROOT] = { "VE_ROOT",
			 { { "root", CT_SET } },
			 CT_KIND_STR,
			 .validate = validate_abs_path,
			 .apply = CT_APPLY_RESTART,
			 .list_name = "root",
			 .help = "where the root is mounted; $VEID is replaced by the CTID" },
	[CT_VE_PRIVATE] = { "VE_PRIVATE",
			    { { "private", CT_SET } },
			    CT_KIND_STR,
			    .validate = validate_abs_path,
			    .apply = CT_APPLY_RESTART,
			    .list_name = "private",
			    .help = "the private area (upper layer); $VEID is replaced" },
	[CT_STOP_TIMEOUT] = { "STOP_TIMEOUT", NOALIAS, CT_KIND_UINT, .min = 0, .max = 86400,
			      .apply = CT_APPLY_NONE, .list_name = "stop_timeout",
			      .help = "seconds between the halt signal and killing every task "
				      "(default 120)" },
	[CT_CAPABILITY] = { "CAPABILITY",
			    { { "cap", CT_SET } },
			    CT_KIND_CAPS,
			    .apply = CT_APPLY_RESTART,
			    .list_name = "capability",
			    .help = "bounding-set changes, name:on|off,..." },
	[CT_PRIVILEGED] = { "PRIVILEGED", NOALIAS, CT_KIND_BOOL, .apply = CT_APPLY_RESTART,
			    .list_name = "privileged",
			    .help = "yes: no user namespace (container root is host root)" },
	[CT_NESTING] = { "NESTING", NOALIAS, CT_KIND_BOOL, .apply = CT_APPLY_RESTART,
			 .list_name = "nesting",
			 .help = "yes: containers inside may mount a fresh /proc; the masks "
				 "are then not locked" },
	[CT_NAME] = { "NAME", NOALIAS, CT_KIND_STR, .validate = ct_validate_name,
		      .apply = CT_APPLY_NONE, .list_name = "name",
		      .help = "a name the container can be called by instead of its CTID" },
	[CT_IP_ADDRESS] = { "IP_ADDRESS",
			    { { "ipadd", CT_ADD }, { "ipdel", CT_DEL }, { "ip", CT_SET } },
			    CT_KIND_IPLIST,
			    .apply = CT_APPLY_NET,
			    .list_name = "ip",
			    .help = "addresses of a routed container, ADDR[/PREFIX] ..." },
	[CT_NETIF] = { "NETIF", NOALIAS, CT_KIND_STR, .validate = validate_netif,
		       .apply = CT_APPLY_RESTART, .list_name = "netif",
		       .help = "veth devices: ifname=,mac=,host_ifname=,host_mac=,bridge=,gw=,"
			       "gw6=;..." },
	[CT_NAMESERVER] = { "NAMESERVER", NOALIAS, CT_KIND_IPLIST, .unit = 1,
			    .apply = CT_APPLY_RESTART, .list_name = "nameserver",
			    .help = "DNS servers written to the container's /etc/resolv.conf; "
				    "inherit: the host's" },
	[CT_SEARCHDOMAIN] = { "SEARCHDOMAIN", NOALIAS, CT_KIND_STRLIST,
			      .validate = ct_validate_hostname, .apply = CT_APPLY_RESTART,
			      .list_name = "searchdomain",
			      .help = "DNS search domains for /etc/resolv.conf" },
	[CT_NETWORK_MODE] = { "NETWORK_MODE",
			      { { "netmode", CT_SET } },
			      CT_KIND_ENUM,
			      .choices = netmodes,
			      .apply = CT_APPLY_RESTART,
			      .list_name = "network_mode",
			      .help = "routed, bridged, none, or host (privileged only)" },
	[CT_RATE] = { "RATE", NOALIAS, CT_KIND_STR, .validate = ct_validate_rate,
		      .apply = CT_APPLY_NET, .list_name = "rate",
		      .help = "bandwidth to and from the container, vzctl's DEV:CLASS:KBITS "
			      "(eth0:1:8000 is 8 Mbit/s each way); tc token buckets on the host "
			      "end of its veth and on an ifb its ingress is redirected to" },
	[CT_PHYSPAGES] = { "PHYSPAGES",
			   { { "ram", CT_SET }, { "memory", CT_SET } },
			   CT_KIND_SIZE,
			   .min = 4ULL << 20,
			   .max = CT_UNLIMITED,
			   .unit = CT_PAGE_SIZE,
			   .apply = CT_APPLY_CGROUP,
			   .to_limits = lim_physpages,
			   .list_name = "physpages",
			   .help = "RAM limit, [barrier:]limit; a bare number is in pages" },
	[CT_SWAPPAGES] = { "SWAPPAGES",
			   { { "swap", CT_SET } },
			   CT_KIND_SIZE,
			   .min = 0,
			   .max = CT_UNLIMITED,
			   .unit = CT_PAGE_SIZE,
			   .apply = CT_APPLY_CGROUP,
			   .to_limits = lim_swappages,
			   .list_name = "swappages",
			   .help = "swap on top of RAM; a bare number is in pages" },
	[CT_MEMGUARANTEE] = { "MEMGUARANTEE", NOALIAS, CT_KIND_SIZE, .min = 0, .max = CT_UNLIMITED,
			      .unit = 1, .apply = CT_APPLY_CGROUP, .to_limits = lim_memguarantee,
			      .list_name = "memguarantee",
			      .help = "memory protected from reclaim (bytes, K/M/G suffix)" },
	[CT_CPUUNITS] = { "CPUUNITS", NOALIAS, CT_KIND_UINT, .min = 8, .max = 500000,
			  .apply = CT_APPLY_CGROUP, .to_limits = lim_cpuunits,
			  .list_name = "cpuunits", .help = "relative CPU weight (default 1000)" },
	[CT_CPULIMIT] = { "CPULIMIT", NOALIAS, CT_KIND_UINT, .min = 0, .max = 409600,
			  .apply = CT_APPLY_CGROUP, .to_limits = lim_cpulimit,
			  .list_name = "cpulimit",
			  .help = "CPU cap in percent of one CPU (0: none)" },
	[CT_CPUS] = { "CPUS", NOALIAS, CT_KIND_UINT, .min = 0, .max = 4096,
		      .apply = CT_APPLY_CGROUP, .to_limits = lim_cpus, .list_name = "cpus",
		      .help = "number of CPUs' worth of time (0: all)" },
	[CT_CPUMASK] = { "CPUMASK", NOALIAS, CT_KIND_STR, .validate = validate_cpumask,
			 .apply = CT_APPLY_CGROUP, .to_limits = lim_cpumask, .list_name = "cpumask",
			 .help = "CPUs the container may run on: all or 0-3,5" },
	[CT_NUMPROC] = { "NUMPROC", NOALIAS, CT_KIND_COUNT, .min = 1, .max = CT_UNLIMITED,
			 .apply = CT_APPLY_CGROUP, .to_limits = lim_numproc,
			 .list_name = "numproc_limit",
			 .help = "most tasks (processes and threads), [barrier:]limit" },
	[CT_IOPRIO] = { "IOPRIO", NOALIAS, CT_KIND_UINT, .min = 0, .max = 7,
			.apply = CT_APPLY_CGROUP, .to_limits = lim_ioprio, .list_name = "ioprio",
			.help = "I/O priority 0 (lowest) to 7 (highest), default 4" },
	[CT_IOLIMIT] = { "IOLIMIT", NOALIAS, CT_KIND_SIZE, .min = 0, .max = CT_UNLIMITED, .unit = 1,
			 .apply = CT_APPLY_CGROUP, .to_limits = lim_iolimit, .list_name = "iolimit",
			 .help = "disk bandwidth in bytes/s (K/M/G suffix; 0: none)" },
	[CT_IOPSLIMIT] = { "IOPSLIMIT", NOALIAS, CT_KIND_UINT, .min = 0, .max = U32MAX,
			   .apply = CT_APPLY_CGROUP, .to_limits = lim_iopslimit,
			   .list_name = "iopslimit",
			   .help = "disk operations per second (0: none)" },
	[CT_DISKSPACE] = { "DISKSPACE", NOALIAS, CT_KIND_SIZE, .min = 1ULL << 20,
			   .max = CT_UNLIMITED, .unit = 1024, .apply = CT_APPLY_RESTART,
			   .list_name = "diskspace_limit",
			   .help = "private area size limit, [barrier:]limit (a bare number is in KiB); "
				   "enforced with LAYOUT=image (the image's size)" },
	[CT_LAYOUT] = { "LAYOUT", NOALIAS, CT_KIND_ENUM, .choices = layouts,
			.apply = CT_APPLY_RESTART, .list_name = "layout",
			.help = "private area layout: overlay (alias dir: an upper directory) or image (a sparse ext4 image of the DISKSPACE limit)" },
	[CT_MEMORY_MERGE] = { "MEMORY_MERGE", NOALIAS, CT_KIND_BOOL, .apply = CT_APPLY_RESTART,
			      .list_name = "memory_merge",
			      .help = "let KSM merge the container's identical pages" },
	[CT_TEMPLATE_MOUNT] = { "TEMPLATE_MOUNT", NOALIAS, CT_KIND_ENUM, .choices = mountmodes,
				.apply = CT_APPLY_RESTART, .list_name = "template_mount",
				.help = "how the template image is mounted: auto, kernel, fuse" },
	[CT_ID_BASE] = { "ID_BASE", NOALIAS, CT_KIND_UINT, .min = 0, .max = U32MAX - 65536,
			 .apply = CT_APPLY_RESTART, .list_name = "id_base",
			 .help = "first host uid/gid of the user-namespace range (written by "
				 "stratad)" },
	[CT_DESCRIPTION] = { "DESCRIPTION",
			     { { "desc", CT_SET } },
			     CT_KIND_STR,
			     .validate = validate_description,
			     .apply = CT_APPLY_NONE,
			     .list_name = "description",
			     .help = "free text" },
};

int ct_key_lookup(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < CT_KEY_COUNT; i++)
		if (strcmp(ct_keys[i].name, name) == 0)
			return i;
	return -1;
}

int ct_key_lookup_option(const char *option, enum ct_setop *op)
{
	char norm[64];
	size_t n = 0;

	if (!option)
		return -1;
	while (*option == '-')
		option++;
	for (const char *p = option; *p; p++) {
		if (n + 1 >= sizeof(norm))
			return -1;
		norm[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	}
	norm[n] = '\0';
	if (!n)
		return -1;
	if (op)
		*op = CT_SET;
	for (int i = 0; i < CT_KEY_COUNT; i++) {
		if (strcmp(ct_keys[i].name, norm) == 0)
			return i;
		for (size_t a = 0; a < ARRAY_SIZE(ct_keys[i].aliases) && ct_keys[i].aliases[a].name;
		     a++) {
			if (strcasecmp(ct_keys[i].aliases[a].name, option) == 0) {
				if (op)
					*op = ct_keys[i].aliases[a].op;
				return i;
			}
		}
	}
	return -1;
}

void ct_config_limits(const struct ct_config *c, struct ksal_cgroup_limits *l)
{
	for (int i = 0; i < CT_KEY_COUNT; i++)
		if (c->v[i].set && ct_keys[i].apply == CT_APPLY_CGROUP && ct_keys[i].to_limits)
			ct_keys[i].to_limits(&c->v[i], l);
}

static const char *kind_name(enum ct_kind k)
{
	switch (k) {
	case CT_KIND_STR:
		return "text";
	case CT_KIND_BOOL:
		return "yes|no";
	case CT_KIND_UINT:
		return "number";
	case CT_KIND_SIZE:
		return "size";
	case CT_KIND_COUNT:
		return "count";
	case CT_KIND_ENUM:
		return "choice";
	case CT_KIND_CAPS:
		return "name:on|off,...";
	case CT_KIND_IPLIST:
		return "addresses";
	case CT_KIND_STRLIST:
		return "words";
	}
	return "?";
}

void ct_keys_print_man(FILE *f)
{
	for (int i = 0; i < CT_KEY_COUNT; i++) {
		const struct ct_key *k = &ct_keys[i];

		fprintf(f, ".TP\n.BR %s \" (%s", k->name, kind_name(k->kind));
		if (k->kind == CT_KIND_UINT)
			fprintf(f, " %" PRIu64 "..%" PRIu64, k->min, k->max);
		fprintf(f, "; %s",
			k->apply == CT_APPLY_CGROUP ? "live"
			: k->apply == CT_APPLY_NONE ? "at once"
			: k->apply == CT_APPLY_NET  ? "live when running"
						    : "needs restart");
		for (size_t a = 0; a < ARRAY_SIZE(k->aliases) && k->aliases[a].name; a++)
			fprintf(f, "; option %s", k->aliases[a].name);
		fprintf(f, ")\"\n%s.\n", k->help);
	}
}
