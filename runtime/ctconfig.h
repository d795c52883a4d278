/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Container configs (/etc/strata/ct/CTID.conf, vzctl's KEY="value" format)
 * and the global config (/etc/strata/strata.conf, KEY=value like vz.conf).
 *
 * One table drives everything (STYLE.md "Config keys are a table"): each
 * row of ct_keys[] gives a key's name, its vzctl option aliases, its value
 * kind and range (parser/validator), how a change applies to a running
 * container (live through the cgroup, at once, or needs a restart), its
 * printer and its `list -o` field name. Parsing, `set`, `list`, the man page
 * (`stratad --print-keys`) and the fuzz target all read that table.
 */
#ifndef STRATA_RUNTIME_CTCONFIG_H
#define STRATA_RUNTIME_CTCONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ksal/cgroup.h"
#include "ksal/error.h"

#define CT_UNLIMITED UINT64_MAX
#define CT_PAGE_SIZE 4096ULL
#define CT_ID_RANGE_SIZE 65536U
#define CT_MIN_CTID 101

/* Value kinds: one parser and one printer each. */
enum ct_kind {
	CT_KIND_STR,	 /* free text (validator may restrict it) */
	CT_KIND_BOOL,	 /* yes|no (also on/off, true/false, 1/0) */
	CT_KIND_UINT,	 /* integer in [min, max] */
	CT_KIND_SIZE,	 /* [barrier:]limit, K/M/G/T suffixes, P = pages, unlimited */
	CT_KIND_COUNT,	 /* [barrier:]limit integer counts, unlimited */
	CT_KIND_ENUM,	 /* one of choices[] */
	CT_KIND_CAPS,	 /* name:on|off,... */
	CT_KIND_IPLIST,	 /* space-separated addresses [/prefix] */
	CT_KIND_STRLIST, /* space-separated words */
};

/* How a change reaches a running container. */
enum ct_apply {
	CT_APPLY_NONE,	  /* metadata: nothing to do, takes effect at once */
	CT_APPLY_CGROUP,  /* live through ksal_cgroup_apply() */
	CT_APPLY_RESTART, /* needs a restart (refused live unless setmode) */
	CT_APPLY_NET,	  /* live on a running container where its network allows (netpolicy.c) */
};

/* A barrier:limit pair (bytes for sizes, plain counts for counts). */
struct ct_pair {
	uint64_t barrier, limit; /* CT_UNLIMITED for unlimited */
};

struct ct_value {
	bool set;
	char *str;	  /* STR, ENUM (normalized), CAPS (normalized), lists (joined) */
	uint64_t u;	  /* UINT, BOOL (0/1) */
	struct ct_pair p; /* SIZE, COUNT */
	uint64_t cap_on, cap_off;
};

/* Set operations a vzctl option alias can mean. */
enum ct_setop { CT_SET, CT_ADD, CT_DEL };

struct ct_alias {
	const char *name;
	enum ct_setop op;
};

struct ct_key {
	const char *name;
	struct ct_alias aliases[3];
	enum ct_kind kind;
	uint64_t min, max;	    /* UINT, COUNT */
	uint64_t unit;		    /* SIZE: bytes of a bare number (1, 1024, page) */
	const char *const *choices; /* ENUM */
	/* Extra check of a STR/STRLIST value (hostname, path, name...). */
	int (*validate)(const char *value, struct st_error **err);
	enum ct_apply apply;
	/* CT_APPLY_CGROUP: put this key's value into the limits. */
	void (*to_limits)(const struct ct_value *v, struct ksal_cgroup_limits *l);
	const char *list_name; /* `list -o` field, NULL: not listed */
	const char *help;      /* one line for the man page */
};

enum ct_key_id {
	CT_OSTEMPLATE,
	CT_HOSTNAME,
	CT_ONBOOT,
	CT_BOOTORDER,
	CT_VE_ROOT,
	CT_VE_PRIVATE,
	CT_STOP_TIMEOUT,
	CT_CAPABILITY,
	CT_PRIVILEGED,
	CT_NESTING,
	CT_NAME,
	CT_IP_ADDRESS,
	CT_NETIF,
	CT_NAMESERVER,
	CT_SEARCHDOMAIN,
	CT_NETWORK_MODE,
	CT_RATE,
	CT_PHYSPAGES,
	CT_SWAPPAGES,
	CT_MEMGUARANTEE,
	CT_CPUUNITS,
	CT_CPULIMIT,
	CT_CPUS,
	CT_CPUMASK,
	CT_NUMPROC,
	CT_IOPRIO,
	CT_IOLIMIT,
	CT_IOPSLIMIT,
	CT_DISKSPACE,
	CT_LAYOUT,
	CT_MEMORY_MERGE,
	CT_TEMPLATE_MOUNT,
	CT_ID_BASE,
	CT_DESCRIPTION,
	CT_KEY_COUNT
};

extern const struct ct_key ct_keys[CT_KEY_COUNT];

/* By name (case-sensitive, as vzctl) or by option alias (case-insensitive,
 * leading dashes ignored). -1 if unknown. */
int ct_key_lookup(const char *name);
int ct_key_lookup_option(const char *option, enum ct_setop *op);

/* Parse one value of key `id` into *out (freeing what *out held). The
 * message names the key and, for a range, the valid range. */
int ct_value_parse(int id, const char *text, struct ct_value *out, struct st_error **err);
/* The value as it is written to a config file (malloc'd, NULL if unset). */
char *ct_value_format(int id, const struct ct_value *v);
void ct_value_clear(struct ct_value *v);

/* One line of a config file, kept so a rewrite keeps comments and order. */
struct ct_line {
	char *text; /* the line without '\n' */
	int key;    /* key id of a KEY=value line, -1 for comments/blank/other */
};

struct ct_config {
	struct ct_value v[CT_KEY_COUNT];
	struct ct_line *lines;
	size_t n_lines;
	char *path; /* file it was read from, or NULL */
};

struct ct_config *ct_config_new(void);
void ct_config_free(struct ct_config *c);
static inline void ct_config_freep(struct ct_config **c)
{
	ct_config_free(*c);
	*c = NULL;
}
#define _cleanup_ct_config_ __attribute__((cleanup(ct_config_freep)))

/*
 * Parse a whole config text. Each error names "FILE:LINE" (name is used for
 * FILE), the key and the value. Unknown keys are errors.
 */
int ct_config_parse(struct ct_config *c, const char *name, const char *text, struct st_error **err);
int ct_config_load(const char *path, struct ct_config **out, struct st_error **err);
/* Fill every unset key of c from defaults (the global config's CT keys). */
void ct_config_merge_defaults(struct ct_config *c, const struct ct_config *defaults);

/* Set a key (by name) or a vzctl option (ram, cpuunits, ipadd...). */
int ct_config_set(struct ct_config *c, const char *key_or_option, const char *value,
		  struct st_error **err);
int ct_config_unset(struct ct_config *c, int id);

/* The file's text: existing lines kept (comments, order), changed values
 * rewritten in place, new keys appended, unset keys dropped. */
char *ct_config_render(const struct ct_config *c);
int ct_config_save(const struct ct_config *c, const char *path, struct st_error **err);
/* Write atomically: tmp file in the same dir, rename; with durable, fsync
 * the file before and the directory after the rename (configs). Runtime
 * state on a tmpfs needs no fsync. */
int st_write_file_atomic(const char *path, const char *data, size_t len, mode_t mode, bool durable,
			 struct st_error **err);

/* Every set cgroup-applied key into l (initialised by the caller). */
void ct_config_limits(const struct ct_config *c, struct ksal_cgroup_limits *l);

/* Convenience accessors. */
const char *ct_config_str(const struct ct_config *c, int id); /* NULL if unset */
uint64_t ct_config_uint(const struct ct_config *c, int id, uint64_t def);
bool ct_config_bool(const struct ct_config *c, int id, bool def);

/* Value checks shared with the API. */
int ct_validate_hostname(const char *s, struct st_error **err);
int ct_validate_name(const char *s, struct st_error **err);
/* RATE="DEV:CLASS:KBITS ..." (runtime/config_rate.c): the lowest rate in kbit/s
 * (0 when s is NULL or empty), -EINVAL when malformed. */
int ct_rate_kbit(const char *s, uint64_t *kbit);
int ct_validate_rate(const char *s, struct st_error **err);
/* A CTID: numeric >= 101 (or, with allow_name, a valid name). */
int ct_validate_ctid(const char *s, struct st_error **err);
/* Expand $VEID / ${VEID} in a path template (malloc'd). */
char *ct_expand_veid(const char *tmpl, const char *ctid);
/* Parse a size with suffix ("256M", "1G", "1000P", "unlimited"); unit is the
 * byte count of a bare number. */
int ct_parse_size(const char *s, uint64_t unit, uint64_t *out);

/* The man page's key table (troff rows), from ct_keys[]. */
void ct_keys_print_man(FILE *f);

/* ---- Global config ---- */

enum g_stop_mode { G_STOP_KEEP, G_STOP_STOP, G_STOP_SUSPEND };

struct g_config {
	char *conf_dir;	    /* CONF_DIR: container configs */
	char *state_dir;    /* STATE_DIR (alias LOCKDIR) */
	char *run_dir;	    /* RUN_DIR */
	char *template_dir; /* TEMPLATE_DIR */
	char *private_dir;  /* PRIVATE_DIR */
	char *root_dir;	    /* ROOT_DIR */
	char *socket;	    /* SOCKET */
	char *samples_dir;  /* SAMPLES_DIR */
	char *recipes_dir;  /* RECIPES_DIR: template recipes, NULL: built-in default */
	char *cache_dir;    /* CACHE_DIR: template build cache, NULL: default */
	char *cgroup_subtree;
	char *cgroup_root; /* CGROUP_ROOT, NULL: /sys/fs/cgroup */
	char *criu_path;
	char *def_ostemplate;
	char *log_level;
	char *log_file;
	char *init_path; /* INIT_PATH: minimal init bound into containers without one */
	char *neighbour_devs;
	char *ip_pool, *ip6_pool; /* IP_POOL, IP6_POOL: `--ipadd auto` (NULL: none) */
	enum g_stop_mode stop_mode;
	bool lxcfs; /* LXCFS: the view from inside (/proc/meminfo...) when available */
	uint64_t id_range_start, id_range_count;
	/* START_WORKERS: threads that run starts (0: one per online CPU, 1:
	 * every start on the event loop, as before the pool) */
	uint64_t start_workers;
#define G_START_WORKERS_MAX 64
	struct ct_config *ct_defaults; /* CT keys given in strata.conf */
	char *path;
};

/* Defaults for every key (compiled-in directories). */
struct g_config *g_config_new(void);
void g_config_free(struct g_config *g);
static inline void g_config_freep(struct g_config **g)
{
	g_config_free(*g);
	*g = NULL;
}
#define _cleanup_g_config_ __attribute__((cleanup(g_config_freep)))
int g_config_parse(struct g_config *g, const char *name, const char *text, struct st_error **err);
/* Load path; a missing file gives the defaults when missing_ok. */
int g_config_load(const char *path, bool missing_ok, struct g_config **out, struct st_error **err);

/* Paths of one container (malloc'd). */
char *g_ct_conf_path(const struct g_config *g, const char *ctid);
char *g_ct_private_path(const struct g_config *g, const struct ct_config *c, const char *ctid);
char *g_ct_root_path(const struct g_config *g, const struct ct_config *c, const char *ctid);

#endif
