/* SPDX-License-Identifier: GPL-2.0-or-later */
/* strata.conf: global settings (KEY=value like vz.conf) and CT key defaults. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "runtime/ctconfig.h"

enum g_kind { G_PATH, G_TEXT, G_NUM, G_STOPMODE, G_LOGLEVEL, G_MOUNTMODE, G_BOOL };

struct g_key {
	const char *name;
	const char *alias;
	enum g_kind kind;
	size_t off; /* offsetof(struct g_config, field) */
};

#define GK(n, a, k, f)                                                                             \
	{                                                                                          \
		n, a, k, offsetof(struct g_config, f)                                              \
	}
static const struct g_key g_keys[] = {
	GK("CONF_DIR", NULL, G_PATH, conf_dir),
	GK("STATE_DIR", "LOCKDIR", G_PATH, state_dir),
	GK("RUN_DIR", NULL, G_PATH, run_dir),
	GK("TEMPLATE_DIR", "TEMPLATE", G_PATH, template_dir),
	GK("PRIVATE_DIR", NULL, G_PATH, private_dir),
	GK("ROOT_DIR", NULL, G_PATH, root_dir),
	GK("SOCKET", NULL, G_PATH, socket),
	GK("SAMPLES_DIR", NULL, G_PATH, samples_dir),
	GK("RECIPES_DIR", NULL, G_PATH, recipes_dir),
	GK("CACHE_DIR", NULL, G_PATH, cache_dir),
	GK("CGROUP_SUBTREE", NULL, G_TEXT, cgroup_subtree),
	GK("CGROUP_ROOT", NULL, G_PATH, cgroup_root),
	GK("CRIU_PATH", NULL, G_PATH, criu_path),
	GK("DEF_OSTEMPLATE", NULL, G_TEXT, def_ostemplate),
	GK("LOG_LEVEL", NULL, G_LOGLEVEL, log_level),
	GK("LOG_FILE", "LOGFILE", G_PATH, log_file),
	GK("INIT_PATH", NULL, G_PATH, init_path),
	GK("NEIGHBOUR_DEVS", NULL, G_TEXT, neighbour_devs),
	GK("IP_POOL", NULL, G_TEXT, ip_pool),
	GK("IP6_POOL", NULL, G_TEXT, ip6_pool),
	GK("VE_STOP_MODE", NULL, G_STOPMODE, stop_mode),
	GK("LXCFS", NULL, G_BOOL, lxcfs),
	GK("ID_RANGE_START", NULL, G_NUM, id_range_start),
	GK("ID_RANGE_COUNT", NULL, G_NUM, id_range_count),
	GK("START_WORKERS", NULL, G_NUM, start_workers),
};

static int set_str(char **dst, const char *v)
{
	char *n = strdup(v);

	if (!n)
		return -ENOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

struct g_config *g_config_new(void)
{
	_cleanup_(g_config_freep) struct g_config *g = calloc(1, sizeof(*g));
	int r = 0;

	if (!g)
		return NULL;
	r |= set_str(&g->conf_dir, STRATA_SYSCONFDIR "/ct");
	r |= set_str(&g->state_dir, STRATA_LOCALSTATEDIR);
	r |= set_str(&g->run_dir, STRATA_RUNDIR);
	r |= set_str(&g->template_dir, STRATA_LOCALSTATEDIR "/templates");
	r |= set_str(&g->private_dir, STRATA_LOCALSTATEDIR "/private");
	r |= set_str(&g->root_dir, STRATA_LOCALSTATEDIR "/root");
	r |= set_str(&g->socket, STRATA_RUNDIR "/strata.sock");
	r |= set_str(&g->samples_dir, STRATA_SYSCONFDIR "/samples");
	r |= set_str(&g->cgroup_subtree, "strata");
	r |= set_str(&g->criu_path, STRATA_CRIU_DEFAULT);
	r |= set_str(&g->def_ostemplate, "busybox");
	r |= set_str(&g->log_level, "info");
	r |= set_str(&g->init_path, STRATA_LIBEXECDIR "/strata-init");
	r |= set_str(&g->neighbour_devs, "detect");
	r |= set_str(&g->log_file, "/var/log/strata.log");
	g->stop_mode = G_STOP_KEEP;
	g->lxcfs = true;
	g->id_range_start = 1ULL << 20;			       /* 1048576 */
	g->id_range_count = (uint64_t)CT_ID_RANGE_SIZE * 4096; /* 4096 containers */
	g->ct_defaults = ct_config_new();
	if (r || !g->ct_defaults)
		return NULL;
	return take_ptr(g);
}

void g_config_free(struct g_config *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(g_keys); i++) {
		enum g_kind k = g_keys[i].kind;
		if (k == G_PATH || k == G_TEXT || k == G_LOGLEVEL || k == G_MOUNTMODE)
			free(*(char **)((char *)g + g_keys[i].off));
	}
	ct_config_free(g->ct_defaults);
	free(g->path);
	free(g);
}

static int g_set(struct g_config *g, const struct g_key *k, const char *v, struct st_error **err)
{
	void *field = (char *)g + k->off;

	switch (k->kind) {
	case G_PATH:
		if (v[0] != '/')
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "%s: `%s` is not an absolute path", k->name, v);
		break;
	case G_TEXT:
		break;
	case G_LOGLEVEL:
		if (st_log_level_parse(v) < 0)
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "%s: invalid level `%s` (expected error, warning, "
					     "info, debug or trace)",
					     k->name, v);
		break;
	case G_MOUNTMODE:
		if (strcmp(v, "auto") && strcmp(v, "kernel") && strcmp(v, "fuse"))
			return st_error_setx(
				err, ST_EXIT_BADVALUE, 0,
				"%s: invalid value `%s` (expected auto, kernel or fuse)", k->name,
				v);
		break;
	case G_STOPMODE:
		if (strcmp(v, "keep") == 0 || strcmp(v, "running") == 0)
			*(enum g_stop_mode *)field = G_STOP_KEEP;
		else if (strcmp(v, "stop") == 0)
			*(enum g_stop_mode *)field = G_STOP_STOP;
		else if (strcmp(v, "suspend") == 0)
			*(enum g_stop_mode *)field = G_STOP_SUSPEND;
		else
			return st_error_setx(
				err, ST_EXIT_BADVALUE, 0,
				"%s: invalid value `%s` (expected keep, stop or suspend)", k->name,
				v);
		return 0;
	case G_BOOL:
		if (!strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1"))
			*(bool *)field = true;
		else if (!strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0"))
			*(bool *)field = false;
		else
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "%s: invalid value `%s` (expected yes or no)", k->name,
					     v);
		return 0;
	case G_NUM: {
		uint64_t x;
		if (ct_parse_size(v, 1, &x) < 0 || x > UINT32_MAX)
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "%s: invalid number `%s` (valid: 0 to 4294967295)",
					     k->name, v);
		*(uint64_t *)field = x;
		return 0;
	}
	}
	if (set_str((char **)field, v) < 0)
		return st_error_set(err, ENOMEM, "%s", k->name);
	return 0;
}

int g_config_parse(struct g_config *g, const char *name, const char *text, struct st_error **err)
{
	/* Parse every line as a container config first: same syntax; then
	 * move the global keys out. Global keys are not CT keys, so parse with
	 * a filter: each line on its own. */
	const char *p = text;
	int lineno = 0;

	if (!name)
		name = "strata.conf";
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		_cleanup_free_ char *line = strndup(p, len);
		_cleanup_free_ char *lname = NULL;
		char *eq, *k;
		size_t i;

		lineno++;
		p += len + (nl ? 1 : 0);
		if (!line)
			return st_error_set(err, ENOMEM, "%s:%d", name, lineno);
		k = line + strspn(line, " \t");
		if (strncmp(k, "export ", 7) == 0)
			k += 7;
		eq = strchr(k, '=');
		if (!*k || *k == '#' || !eq) {
			struct ct_config *tmp = ct_config_new();
			int r;
			/* blank/comment, or a syntax error reported as a CT line */
			if (!tmp)
				return st_error_set(err, ENOMEM, "%s:%d", name, lineno);
			r = ct_config_parse(tmp, "", line, err);
			ct_config_free(tmp);
			if (r < 0) {
				st_error_free(*err);
				*err = NULL;
				return st_error_setx(err, ST_EXIT_NOGLOBALCONF, 0,
						     "%s:%d: expected KEY=value", name, lineno);
			}
			continue;
		}
		for (i = 0; i < ARRAY_SIZE(g_keys); i++) {
			size_t kl = strlen(g_keys[i].name);
			size_t al = g_keys[i].alias ? strlen(g_keys[i].alias) : 0;
			if ((size_t)(eq - k) == kl && strncmp(k, g_keys[i].name, kl) == 0)
				break;
			if (al && (size_t)(eq - k) == al && strncmp(k, g_keys[i].alias, al) == 0)
				break;
		}
		if (i < ARRAY_SIZE(g_keys)) {
			/* reuse the CT line splitter through a one-line CT parse of
			 * DESCRIPTION="value" to unquote the value */
			_cleanup_ct_config_ struct ct_config *tmp = ct_config_new();
			_cleanup_free_ char *as_desc = NULL;
			const char *v;

			if (!tmp || asprintf(&as_desc, "DESCRIPTION=%s", eq + 1) < 0)
				return st_error_set(err, ENOMEM, "%s:%d", name, lineno);
			if (ct_config_parse(tmp, "", as_desc, err) < 0) {
				st_error_free(*err);
				*err = NULL;
				return st_error_setx(err, ST_EXIT_NOGLOBALCONF, 0,
						     "%s:%d: %s: invalid value", name, lineno,
						     g_keys[i].name);
			}
			v = ct_config_str(tmp, CT_DESCRIPTION);
			if (g_set(g, &g_keys[i], v ? v : "", err) < 0) {
				(*err)->exit_code = ST_EXIT_NOGLOBALCONF;
				return st_error_prefix(err, "%s:%d", name, lineno);
			}
			continue;
		}
		/* A container key's default (VE_PRIVATE=..., CPUUNITS=...). */
		{
			_cleanup_ct_config_ struct ct_config *tmp = ct_config_new();
			int id;

			if (!tmp)
				return st_error_set(err, ENOMEM, "%s:%d", name, lineno);
			lname = strndup(k, (size_t)(eq - k));
			if (!lname)
				return st_error_set(err, ENOMEM, "%s:%d", name, lineno);
			id = ct_key_lookup(lname);
			if (id < 0)
				return st_error_setx(err, ST_EXIT_NOGLOBALCONF, 0,
						     "%s:%d: unknown key `%s`", name, lineno,
						     lname);
			if (ct_config_parse(tmp, name, line, err) < 0) {
				(*err)->exit_code = ST_EXIT_NOGLOBALCONF;
				return st_error_prefix(err, "%s:%d", name, lineno);
			}
			ct_value_clear(&g->ct_defaults->v[id]);
			g->ct_defaults->v[id] = tmp->v[id];
			memset(&tmp->v[id], 0, sizeof(tmp->v[id]));
		}
	}
	if (g->id_range_count < CT_ID_RANGE_SIZE)
		return st_error_setx(err, ST_EXIT_NOGLOBALCONF, 0,
				     "%s: ID_RANGE_COUNT must be at least %u", name,
				     CT_ID_RANGE_SIZE);
	if (g->id_range_start + g->id_range_count > (1ULL << 32))
		return st_error_setx(err, ST_EXIT_NOGLOBALCONF, 0,
				     "%s: ID_RANGE_START + ID_RANGE_COUNT beyond 4294967296", name);
	if (g->start_workers > G_START_WORKERS_MAX)
		return st_error_setx(err, ST_EXIT_NOGLOBALCONF, 0,
				     "%s: START_WORKERS %" PRIu64 " is more than %d", name,
				     g->start_workers, G_START_WORKERS_MAX);
	return 0;
}

int g_config_load(const char *path, bool missing_ok, struct g_config **out, struct st_error **err)
{
	_cleanup_(g_config_freep) struct g_config *g = g_config_new();
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *text = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!g)
		return st_error_set(err, ENOMEM, "load `%s`", path);
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && missing_ok) {
			*out = take_ptr(g);
			return 0;
		}
		return st_error_setx(err, ST_EXIT_NOGLOBALCONF, errno, "open `%s`", path);
	}
	n = getdelim(&text, &cap, '\0', f);
	if (n < 0 && ferror(f))
		return st_error_setx(err, ST_EXIT_NOGLOBALCONF, errno, "read `%s`", path);
	if (g_config_parse(g, path, n < 0 ? "" : text, err) < 0)
		return -1;
	g->path = strdup(path);
	*out = take_ptr(g);
	return 0;
}

char *g_ct_conf_path(const struct g_config *g, const char *ctid)
{
	char *s = NULL;

	if (asprintf(&s, "%s/%s.conf", g->conf_dir, ctid) < 0)
		return NULL;
	return s;
}

static char *ct_dir(const char *base, const struct ct_config *c, int id, const char *ctid)
{
	const char *tmpl = c ? ct_config_str(c, id) : NULL;
	char *s = NULL;

	if (tmpl && *tmpl)
		return ct_expand_veid(tmpl, ctid);
	if (asprintf(&s, "%s/%s", base, ctid) < 0)
		return NULL;
	return s;
}

char *g_ct_private_path(const struct g_config *g, const struct ct_config *c, const char *ctid)
{
	return ct_dir(g->private_dir, c, CT_VE_PRIVATE, ctid);
}

char *g_ct_root_path(const struct g_config *g, const struct ct_config *c, const char *ctid)
{
	return ct_dir(g->root_dir, c, CT_VE_ROOT, ctid);
}
