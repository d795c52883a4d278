/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers for the cow-fs and template integration tests (included by
 * test_cowfs.c and test_template.c). Everything lives under one temp dir
 * /tmp/stcow-XXXXXX; cleanup detaches every mount under it and removes it.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cow-fs/cowfs.h"
#include "ksal/cleanup.h"
#include "templates/template.h"

#define UNUSED __attribute__((unused))

static char stcow_dir[64];
static struct tmpl_store *stcow_store;
static struct tmpl_manifest stcow_bb; /* the busybox template built by stcow_setup_store */

UNUSED static char *tpath(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
UNUSED static char *tpath(const char *fmt, ...)
{
	char *rel = NULL, *p = NULL;
	va_list ap;

	va_start(ap, fmt);
	cr_assert(vasprintf(&rel, fmt, ap) >= 0);
	va_end(ap);
	cr_assert(asprintf(&p, "%s/%s", stcow_dir, rel) >= 0);
	free(rel);
	return p;
}

/* Mount points under dir, from /proc/self/mountinfo; deepest last. */
UNUSED static int stcow_mounts_under(const char *dir, char ***out)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char **list = calloc(1, sizeof(char *));
	_cleanup_free_ char *line = NULL;
	size_t cap = 0, n = 0, dl = strlen(dir);

	while (f && getline(&line, &cap, f) > 0) {
		char mp[4096];

		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		if (strncmp(mp, dir, dl) != 0 || (mp[dl] != '/' && mp[dl] != '\0'))
			continue;
		list = realloc(list, (n + 2) * sizeof(char *));
		list[n++] = strdup(mp);
		list[n] = NULL;
	}
	if (out)
		*out = list;
	else
		strv_free(list);
	return (int)n;
}

/* Loop devices whose backing file is under dir. */
UNUSED static int stcow_loops_under(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir("/sys/block");
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d))) {
		char p[512], back[4096] = { 0 };
		_cleanup_fclose_ FILE *f = NULL;

		if (strncmp(de->d_name, "loop", 4) != 0)
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/loop/backing_file", de->d_name);
		f = fopen(p, "re");
		if (f && fgets(back, sizeof(back), f) && !strncmp(back, dir, strlen(dir)))
			n++;
	}
	return n;
}

/* Wait (up to 3 s) for autoclear loop devices under dir to go. */
UNUSED static int stcow_loops_settle(const char *dir)
{
	int n = 0;

	for (int i = 0; i < 60 && (n = stcow_loops_under(dir)) > 0; i++)
		usleep(50000);
	return n;
}

UNUSED static void stcow_cleanup(void)
{
	char **mounts = NULL;
	int n;

	if (!stcow_dir[0])
		return;
	tmpl_manifest_clear(&stcow_bb);
	tmpl_store_free(stcow_store);
	stcow_store = NULL;
	/* deepest first, lazily: a failed test may leave anything */
	for (int round = 0; round < 4 && (n = stcow_mounts_under(stcow_dir, &mounts)) > 0;
	     round++) {
		for (int i = n - 1; i >= 0; i--)
			umount2(mounts[i], MNT_DETACH);
		strv_free(mounts);
		mounts = NULL;
	}
	strv_free(mounts);
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "chattr -R -i '%s' >/dev/null 2>&1; rm -rf '%s'",
			 stcow_dir, stcow_dir);
		if (system(cmd) != 0)
			cr_log_warn("cleanup of %s failed", stcow_dir);
	}
	stcow_dir[0] = '\0';
}

UNUSED static void stcow_setup_dir(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root");
	snprintf(stcow_dir, sizeof(stcow_dir), "/tmp/stcow-XXXXXX");
	cr_assert_not_null(mkdtemp(stcow_dir));
	/* mapped ids of idmapped containers must be able to reach their roots */
	cr_assert_eq(chmod(stcow_dir, 0755), 0);
}

/* A temp store with the busybox template built in it. */
UNUSED static void stcow_setup_store(void)
{
	_cleanup_free_ char *tdir = NULL, *cdir = NULL;
	_cleanup_error_ struct st_error *err = NULL;
	struct tmpl_store_opts o = { 0 };

	stcow_setup_dir();
	tdir = tpath("templates");
	cdir = tpath("cache");
	o.templates_dir = tdir;
	o.cache_dir = cdir;
	o.recipes_dir = RECIPES_DIR;
	cr_assert_eq(tmpl_store_open(&o, &stcow_store, &err), 0);
	cr_assert_eq(tmpl_build(stcow_store, "busybox", NULL, NULL, &stcow_bb, &err), 0, "%s",
		     err ? err->msg : "");
}

UNUSED static struct cowfs_layer_ref stcow_ref(const struct tmpl_manifest *m, const char *mnt,
					       const char *user, enum cowfs_mount_mode mode)
{
	struct cowfs_layer_ref r = {
		.image = m->image, .sha256 = m->sha256, .mnt_dir = mnt, .user = user, .mode = mode
	};
	return r;
}

UNUSED static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
UNUSED static int sh(const char *fmt, ...)
{
	_cleanup_free_ char *cmd = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	cr_assert(vasprintf(&cmd, fmt, ap) >= 0);
	va_end(ap);
	r = system(cmd);
	return WIFEXITED(r) ? WEXITSTATUS(r) : 128;
}
