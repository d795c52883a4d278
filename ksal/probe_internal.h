/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared between probe.c and probe_mount.c; not part of ksal's API. */
#ifndef STRATA_KSAL_PROBE_INTERNAL_H
#define STRATA_KSAL_PROBE_INTERNAL_H

#include <stdbool.h>

#include "ksal/probe.h"

/* Host ids an idmapped mount maps container root to, in the probe only. */
#define PROBE_IDMAP_BASE 100000u

/* Set an entry: available or not, with a detail; a missing feature's detail
 * gets what Strata loses without it appended. */
void probe_set(struct ksal_features *f, enum ksal_feat id, bool available, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Abort on allocation failure (the probe has no partial result). */
void *probe_oom(void *p);
char *probe_strdup(const char *s);
/* A small file as a string (NULL with errno); write a string to a file. */
char *probe_read_text(const char *path);
int probe_write_text(const char *path, const char *text);

/* Append name (n bytes) to a malloc'd comma list unless it is there. */
int probe_list_add(char **list, const char *name, size_t n);

/* probe_cgroup.c: cgroup layout and controller entries, f->cgroup. */
void probe_cgroups(struct ksal_features *f);

/* probe_mount.c. scratch: a temporary directory under the state dir (NULL
 * when there is none, e.g. not root); tested_on: how to name it. */
void probe_mount_api(struct ksal_features *f);
void probe_locked_mounts(struct ksal_features *f);
void probe_overlay(struct ksal_features *f, const char *scratch);
void probe_squashfs_kernel(struct ksal_features *f);
void probe_squashfuse(struct ksal_features *f);
void probe_idmap_squashfs(struct ksal_features *f, const char *scratch);
void probe_idmap_statedir(struct ksal_features *f, const char *scratch, const char *tested_on);

#endif
