/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which template files a private layer shadows (for `strata rebase`). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cow-fs/cowfs.h"
#include "ksal/cleanup.h"

struct shadow_ctx {
	const char *upper;
	const char *const *lowers;
	char **v;
	size_t n, cap;
};

static bool in_lowers(const struct shadow_ctx *c, const char *rel)
{
	for (const char *const *l = c->lowers; *l; l++) {
		_cleanup_free_ char *p = NULL;
		struct stat st;

		if (asprintf(&p, "%s/%s", *l, rel) >= 0 && lstat(p, &st) == 0)
			return true;
	}
	return false;
}

static int add(struct shadow_ctx *c, const char *rel)
{
	if (c->n + 1 >= c->cap) {
		char **nv = realloc(c->v, (c->cap = c->cap ? c->cap * 2 : 16) * sizeof(char *));
		if (!nv)
			return -ENOMEM;
		c->v = nv;
	}
	c->v[c->n] = strdup(rel);
	if (!c->v[c->n])
		return -ENOMEM;
	c->v[++c->n] = NULL;
	return 0;
}

static bool is_opaque(const char *path)
{
	char v[2];

	return (lgetxattr(path, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y') ||
	       (lgetxattr(path, "user.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y');
}

static int walk(struct shadow_ctx *c, const char *rel, struct st_error **err)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (asprintf(&dir, "%s%s%s", c->upper, *rel ? "/" : "", rel) < 0)
		return st_error_set(err, ENOMEM, "shadows of `%s`", c->upper);
	d = opendir(dir);
	if (!d)
		return st_error_set(err, errno, "read `%s`", dir);
	while ((errno = 0, de = readdir(d))) {
		_cleanup_free_ char *sub = NULL, *full = NULL;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (asprintf(&sub, "%s%s%s", rel, *rel ? "/" : "", de->d_name) < 0 ||
		    asprintf(&full, "%s/%s", dir, de->d_name) < 0)
			return st_error_set(err, ENOMEM, "shadows of `%s`", c->upper);
		if (lstat(full, &st) < 0)
			return st_error_set(err, errno, "stat `%s`", full);
		if (S_ISDIR(st.st_mode)) {
			/* an opaque dir hides the whole template dir */
			if (is_opaque(full) && in_lowers(c, sub)) {
				if (add(c, sub) < 0)
					return st_error_set(err, ENOMEM, "shadows");
				continue;
			}
			if (walk(c, sub, err) < 0)
				return -1;
			continue;
		}
		if (in_lowers(c, sub) && add(c, sub) < 0)
			return st_error_set(err, ENOMEM, "shadows");
	}
	if (errno)
		return st_error_set(err, errno, "read `%s`", dir);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int cowfs_private_shadows(const char *private_dir, const char *const *lowers, char ***paths,
			  size_t *n, struct st_error **err)
{
	_cleanup_free_ char *upper = NULL;
	struct shadow_ctx c = { .lowers = lowers };

	if (!lowers || !lowers[0])
		return st_error_setx(err, ST_EXIT_BADARG, EINVAL, "shadows of `%s`: no layer",
				     private_dir);
	if (asprintf(&upper, "%s/upper", private_dir) < 0)
		return st_error_set(err, ENOMEM, "shadows of `%s`", private_dir);
	c.upper = upper;
	c.v = calloc(1, sizeof(char *));
	c.cap = 1;
	if (!c.v)
		return st_error_set(err, ENOMEM, "shadows of `%s`", private_dir);
	if (access(upper, F_OK) < 0) {
		free(c.v);
		return st_error_setx(err, ST_EXIT_NOPRIVATE, errno, "shadows of `%s`", private_dir);
	}
	if (walk(&c, "", err) < 0) {
		strv_free(c.v);
		return st_error_prefix(err, "shadows of `%s`: ", private_dir);
	}
	qsort(c.v, c.n, sizeof(char *), cmp);
	*paths = c.v;
	*n = c.n;
	return 0;
}
