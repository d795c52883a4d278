/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cow-fs/sha256.h"
#include "ksal/cleanup.h"
#include "templates/recipe.h"

void tmpl_recipe_clear(struct tmpl_recipe *r)
{
	if (!r)
		return;
	free(r->suite);
	free(r->variant);
	free(r->post);
	free(r->description);
	strv_free(r->packages);
	memset(r, 0, sizeof(*r));
}

const char *tmpl_base_name(enum tmpl_base b)
{
	return b == TMPL_BASE_BUSYBOX	    ? "busybox"
	       : b == TMPL_BASE_DEBOOTSTRAP ? "debootstrap"
					    : "?";
}

/* Parse the value after '=' up to end of line. *out malloc'ed. */
static int parse_value(const char *s, const char *end, char **out)
{
	_cleanup_free_ char *v = malloc((size_t)(end - s) + 1);
	char *o = v;

	if (!v)
		return -ENOMEM;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	if (s < end && (*s == '"' || *s == '\'')) {
		char q = *s++;

		for (; s < end && *s != q; s++) {
			if (q == '"' && *s == '\\' && s + 1 < end)
				s++;
			*o++ = *s;
		}
		if (s >= end || s + 1 != end)
			return -EINVAL; /* unterminated, or text after the quote */
	} else {
		for (; s < end; s++) {
			if (*s == '"' || *s == '\'' || *s == '\\')
				return -EINVAL;
			*o++ = *s;
		}
	}
	*o = '\0';
	*out = take_ptr(v);
	return 0;
}

static bool word_ok(const char *w, const char *extra)
{
	if (!*w)
		return false;
	for (; *w; w++)
		if (!((*w >= 'a' && *w <= 'z') || (*w >= '0' && *w <= '9') || strchr(extra, *w)))
			return false;
	return true;
}

static int split_packages(const char *v, char ***out)
{
	_cleanup_free_ char *dup = strdup(v);
	char **list = NULL, *save = NULL;
	size_t n = 0;

	if (!dup)
		return -ENOMEM;
	list = calloc(1, sizeof(char *));
	if (!list)
		return -ENOMEM;
	for (char *w = strtok_r(dup, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
		char **nl;

		if (!word_ok(w, ".+-") ||
		    !((w[0] >= 'a' && w[0] <= 'z') || (w[0] >= '0' && w[0] <= '9'))) {
			strv_free(list);
			*out = NULL;
			return -EINVAL;
		}
		nl = realloc(list, (n + 2) * sizeof(char *));
		if (!nl) {
			strv_free(list);
			return -ENOMEM;
		}
		list = nl;
		list[n++] = strdup(w);
		list[n] = NULL;
	}
	*out = list;
	return 0;
}

int tmpl_recipe_parse(const char *text, size_t len, const char *origin, struct tmpl_recipe *r,
		      struct st_error **err)
{
	struct tmpl_recipe n = { 0 };
	const char *p = text, *end = text + len;
	int line = 0;

	sha256_buf_hex(text, len, n.hash);
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *eq, *k;
		_cleanup_free_ char *key = NULL, *val = NULL;
		char ***list = NULL;
		char **field = NULL;

		if (!eol)
			eol = end;
		line++;
		k = p;
		p = eol + 1;
		while (k < eol && (*k == ' ' || *k == '\t'))
			k++;
		if (k == eol || *k == '#' || (*k == '\r' && k + 1 == eol))
			continue;
		if (memchr(k, '\0', (size_t)(eol - k))) {
			tmpl_recipe_clear(&n);
			return st_error_setx(err, ST_EXIT_BADVALUE, 0, "%s:%d: NUL byte", origin,
					     line);
		}
		eq = memchr(k, '=', (size_t)(eol - k));
		if (!eq) {
			tmpl_recipe_clear(&n);
			return st_error_setx(err, ST_EXIT_BADVALUE, 0, "%s:%d: expected KEY=value",
					     origin, line);
		}
		key = strndup(k, (size_t)(eq - k));
		if (!key)
			return st_error_set(err, ENOMEM, "parse `%s`", origin);
		if (parse_value(eq + 1, eol, &val) < 0) {
			tmpl_recipe_clear(&n);
			return st_error_setx(err, ST_EXIT_BADVALUE, 0, "%s:%d: bad value for %s",
					     origin, line, key);
		}
		if (!strcmp(key, "BASE")) {
			if (!strcmp(val, "busybox"))
				n.base = TMPL_BASE_BUSYBOX;
			else if (!strcmp(val, "debootstrap"))
				n.base = TMPL_BASE_DEBOOTSTRAP;
			else {
				tmpl_recipe_clear(&n);
				return st_error_setx(err, ST_EXIT_BADVALUE, 0,
						     "%s:%d: BASE `%s`: expected busybox or "
						     "debootstrap",
						     origin, line, val);
			}
			continue;
		}
		if (!strcmp(key, "SUITE"))
			field = &n.suite;
		else if (!strcmp(key, "VARIANT"))
			field = &n.variant;
		else if (!strcmp(key, "POST"))
			field = &n.post;
		else if (!strcmp(key, "DESCRIPTION"))
			field = &n.description;
		else if (!strcmp(key, "PACKAGES"))
			list = &n.packages;
		else {
			tmpl_recipe_clear(&n);
			return st_error_setx(err, ST_EXIT_BADVALUE, 0, "%s:%d: unknown key `%s`",
					     origin, line, key);
		}
		if ((field == &n.suite || field == &n.variant) && !word_ok(val, "-_")) {
			tmpl_recipe_clear(&n);
			return st_error_setx(err, ST_EXIT_BADVALUE, 0, "%s:%d: bad %s `%s`", origin,
					     line, key, val);
		}
		if (field) {
			free(*field);
			*field = take_ptr(val);
			continue;
		}
		strv_free(*list);
		*list = NULL;
		if (split_packages(val, list) < 0) {
			tmpl_recipe_clear(&n);
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "%s:%d: bad package list `%s`", origin, line, val);
		}
	}
	if (!n.base) {
		tmpl_recipe_clear(&n);
		return st_error_setx(err, ST_EXIT_BADVALUE, 0, "%s: no BASE", origin);
	}
	if (n.base == TMPL_BASE_DEBOOTSTRAP && !n.suite) {
		tmpl_recipe_clear(&n);
		return st_error_setx(err, ST_EXIT_BADVALUE, 0, "%s: BASE=debootstrap needs SUITE",
				     origin);
	}
	if (n.base == TMPL_BASE_DEBOOTSTRAP && !n.variant && !(n.variant = strdup("minbase")))
		return st_error_set(err, ENOMEM, "parse `%s`", origin);
	if (!n.packages && !(n.packages = calloc(1, sizeof(char *))))
		return st_error_set(err, ENOMEM, "parse `%s`", origin);
	tmpl_recipe_clear(r);
	*r = n;
	return 0;
}

int tmpl_recipe_load(const char *path, struct tmpl_recipe *r, struct st_error **err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *buf = NULL;
	size_t len;

	if (!f)
		return st_error_setx(err, errno == ENOENT ? ST_EXIT_NOTEMPLATE : ST_EXIT_SYSTEM,
				     errno, "read recipe `%s`", path);
	buf = malloc(65536);
	if (!buf)
		return st_error_set(err, ENOMEM, "read recipe `%s`", path);
	len = fread(buf, 1, 65536, f);
	if (ferror(f))
		return st_error_set(err, EIO, "read recipe `%s`", path);
	if (len == 65536)
		return st_error_setx(err, ST_EXIT_BADVALUE, 0, "recipe `%s` is larger than 64 KiB",
				     path);
	return tmpl_recipe_parse(buf, len, path, r, err);
}
