/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The cgroup part of the probe: the layout (v1, hybrid, v2) and the
 * controllers available, from /proc/self/mounts, /proc/self/cgroup,
 * /proc/cgroups and the cgroup2 root's cgroup.controllers. The parsers are
 * public (probe.h) for tests and fuzzing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ksal/cleanup.h"
#include "ksal/mountinfo.h"
#include "ksal/probe.h"
#include "ksal/probe_internal.h"

static const char *const v1_controller_names[] = {
	"cpu",	    "cpuacct",	  "cpuset",  "memory", "devices", "freezer", "net_cls",
	"net_prio", "perf_event", "hugetlb", "pids",   "rdma",	  "misc",    "blkio",
};

bool ksal_list_has(const char *list, const char *name)
{
	size_t n = strlen(name);

	if (!list || !n)
		return false;
	for (const char *p = list; *p;) {
		const char *end = strpbrk(p, ", \n");
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && strncmp(p, name, n) == 0)
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

/* Append name to a comma list (malloc'd) unless it is there already. */
int probe_list_add(char **list, const char *name, size_t n)
{
	char *nl = NULL;
	_cleanup_free_ char *tmp = strndup(name, n);

	if (!tmp)
		return -ENOMEM;
	if (ksal_list_has(*list, tmp))
		return 0;
	if (asprintf(&nl, "%s%s%s", *list ? *list : "", *list && **list ? "," : "", tmp) < 0)
		return -ENOMEM;
	free(*list);
	*list = nl;
	return 0;
}

/* ---- parsers (exposed for tests and fuzzing) ---- */

void ksal_cgroup_info_clear(struct ksal_cgroup_info *ci)
{
	free(ci->unified);
	free(ci->v1_controllers);
	free(ci->v2_controllers);
	free(ci->v2_self);
	memset(ci, 0, sizeof(*ci));
}

int ksal_parse_cgroup_mounts(const char *mounts, struct ksal_cgroup_info *out)
{
	_cleanup_free_ char *copy = strdup(mounts ? mounts : "");
	char *save = NULL;
	bool unified_preferred = false;

	memset(out, 0, sizeof(*out));
	if (!copy)
		return -ENOMEM;
	out->v1_controllers = strdup("");
	if (!out->v1_controllers)
		return -ENOMEM;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[4] = { NULL, NULL, NULL, NULL };
		char *lsave = NULL;
		int n = 0;

		for (char *t = strtok_r(line, " \t", &lsave); t && n < 4;
		     t = strtok_r(NULL, " \t", &lsave))
			f[n++] = t;
		if (n < 4)
			continue;
		if (strcmp(f[2], "cgroup2") == 0) {
			bool preferred;

			ksal_mount_unescape(f[1]);
			preferred = strncmp(f[1], "/sys/fs/cgroup", 14) == 0;
			if (out->unified && (unified_preferred || !preferred))
				continue;
			free(out->unified);
			out->unified = strdup(f[1]);
			if (!out->unified)
				return -ENOMEM;
			unified_preferred = preferred;
		} else if (strcmp(f[2], "cgroup") == 0) {
			char *osave = NULL;

			for (char *o = strtok_r(f[3], ",", &osave); o;
			     o = strtok_r(NULL, ",", &osave)) {
				for (size_t i = 0; i < ARRAY_SIZE(v1_controller_names); i++) {
					if (strcmp(o, v1_controller_names[i]) != 0)
						continue;
					if (probe_list_add(&out->v1_controllers, o, strlen(o)) < 0)
						return -ENOMEM;
				}
			}
		}
	}
	out->found = out->unified || *out->v1_controllers;
	if (*out->v1_controllers && out->unified)
		out->layout = KSAL_CG_HYBRID;
	else if (*out->v1_controllers)
		out->layout = KSAL_CG_V1;
	else
		out->layout = KSAL_CG_V2;
	return 0;
}

char *ksal_parse_self_cgroup2(const char *text)
{
	for (const char *line = text; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (len >= 3 && strncmp(line, "0::", 3) == 0)
			return strndup(line + 3, len - 3);
		line = end ? end + 1 : NULL;
	}
	return NULL;
}

const char *ksal_probe_layout_name(enum ksal_cgroup_layout l)
{
	return ksal_cgroup_layout_name(l);
}

/* ---- cgroups ---- */

void probe_cgroups(struct ksal_features *f)
{
	struct ksal_cgroup_info *cg = &f->cgroup;
	_cleanup_free_ char *mounts = probe_read_text("/proc/self/mounts");
	_cleanup_free_ char *self = probe_read_text("/proc/self/cgroup");
	_cleanup_free_ char *proc_cgroups = probe_read_text("/proc/cgroups");
	_cleanup_free_ char *enabled = probe_strdup("");
	static const struct {
		enum ksal_feat id;
		const char *v1, *v2;
	} ctl[] = {
		{ KSAL_FEAT_CGROUP_MEMORY, "memory", "memory" },
		{ KSAL_FEAT_CGROUP_PIDS, "pids", "pids" },
		{ KSAL_FEAT_CGROUP_CPU, "cpu", "cpu" },
		{ KSAL_FEAT_CGROUP_CPUSET, "cpuset", "cpuset" },
		{ KSAL_FEAT_CGROUP_IO, "blkio", "io" },
		{ KSAL_FEAT_CGROUP_FREEZER, "freezer", NULL /* core in cgroup2 */ },
	};

	if (!mounts || ksal_parse_cgroup_mounts(mounts, cg) < 0) {
		probe_set(f, KSAL_FEAT_CGROUP_LAYOUT, false, "read /proc/self/mounts: %s",
			  strerror(errno));
		cg->v1_controllers = cg->v1_controllers ? cg->v1_controllers : probe_strdup("");
	}
	cg->v2_self = self ? ksal_parse_self_cgroup2(self) : NULL;
	cg->v2_controllers = NULL;
	if (cg->unified) {
		_cleanup_free_ char *p = NULL;

		if (asprintf(&p, "%s/cgroup.controllers", cg->unified) >= 0)
			cg->v2_controllers = probe_read_text(p);
		if (cg->v2_controllers)
			cg->v2_controllers[strcspn(cg->v2_controllers, "\n")] = '\0';
	}
	if (!cg->v2_controllers)
		cg->v2_controllers = probe_strdup("");
	for (char *c = cg->v2_controllers; *c; c++)
		if (*c == ' ')
			*c = ',';

	/* /proc/cgroups: "name hierarchy num_cgroups enabled" */
	for (const char *line = proc_cgroups; line && *line;) {
		char name[64];
		int hier, num, en;

		if (line[0] != '#' && sscanf(line, "%63s %d %d %d", name, &hier, &num, &en) == 4 &&
		    en)
			probe_list_add(&enabled, name, strlen(name));
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}

	if (!cg->found) {
		probe_set(f, KSAL_FEAT_CGROUP_LAYOUT, false,
			  "no cgroup or cgroup2 filesystem mounted");
	} else if (cg->layout == KSAL_CG_HYBRID) {
		probe_set(f, KSAL_FEAT_CGROUP_LAYOUT, true,
			  "hybrid: v1 controllers %s; cgroup2 at %s with controllers: %s",
			  cg->v1_controllers, cg->unified,
			  *cg->v2_controllers ? cg->v2_controllers : "none");
	} else if (cg->layout == KSAL_CG_V1) {
		probe_set(f, KSAL_FEAT_CGROUP_LAYOUT, true, "v1: controllers %s",
			  cg->v1_controllers);
	} else {
		probe_set(f, KSAL_FEAT_CGROUP_LAYOUT, true, "v2 at %s: controllers %s", cg->unified,
			  *cg->v2_controllers ? cg->v2_controllers : "none");
	}

	for (size_t i = 0; i < ARRAY_SIZE(ctl); i++) {
		if (ksal_list_has(cg->v1_controllers, ctl[i].v1))
			probe_set(f, ctl[i].id, true, "v1 hierarchy (%s)", ctl[i].v1);
		else if (ctl[i].v2 && ksal_list_has(cg->v2_controllers, ctl[i].v2))
			probe_set(f, ctl[i].id, true, "cgroup2 at %s", cg->unified);
		else if (!ctl[i].v2 && cg->unified && cg->layout == KSAL_CG_V2)
			probe_set(f, ctl[i].id, true, "cgroup2 cgroup.freeze");
		else if (ksal_list_has(enabled, ctl[i].v1))
			probe_set(f, ctl[i].id, false,
				  "enabled in /proc/cgroups but mounted in no hierarchy");
		else
			probe_set(f, ctl[i].id, false, "not in this kernel (/proc/cgroups)");
	}
}
