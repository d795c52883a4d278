/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel's mount tables; see mountinfo.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ksal/cleanup.h"
#include "ksal/mountinfo.h"

void ksal_mount_unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

void ksal_mountinfo_clear(struct ksal_mountinfo *m)
{
	free(m->root);
	free(m->mountpoint);
	free(m->fstype);
	free(m->super_opts);
	memset(m, 0, sizeof(*m));
}

int ksal_mountinfo_parse(const char *line, struct ksal_mountinfo *m)
{
	_cleanup_free_ char *copy = strdup(line ? line : "");
	char *f[6], *sep, *save = NULL, *fstype, *sopts;
	int n = 0;

	memset(m, 0, sizeof(*m));
	if (!copy)
		return -ENOMEM;
	copy[strcspn(copy, "\n")] = '\0';
	/* id parent major:minor root mountpoint opts [optional...] - fstype source super_opts */
	sep = strstr(copy, " - ");
	if (!sep)
		return -EINVAL;
	*sep = '\0';
	for (char *t = strtok_r(copy, " ", &save); t && n < 6; t = strtok_r(NULL, " ", &save))
		f[n++] = t;
	if (n < 6 || sscanf(f[2], "%u:%u", &m->major, &m->minor) != 2)
		return -EINVAL;
	save = NULL;
	fstype = strtok_r(sep + 3, " ", &save);
	if (!fstype)
		return -EINVAL;
	sopts = strtok_r(NULL, " ", &save) ? strtok_r(NULL, " ", &save) : NULL;
	ksal_mount_unescape(f[3]);
	ksal_mount_unescape(f[4]);
	m->root = strdup(f[3]);
	m->mountpoint = strdup(f[4]);
	m->fstype = strdup(fstype);
	m->super_opts = strdup(sopts ? sopts : "");
	if (!m->root || !m->mountpoint || !m->fstype || !m->super_opts) {
		ksal_mountinfo_clear(m);
		return -ENOMEM;
	}
	return 0;
}
