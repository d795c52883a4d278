/* SPDX-License-Identifier: GPL-2.0-or-later */
/* manifest.json, template names and references. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "templates/template.h"

#define _cleanup_json_ _cleanup_(json_decrefp)

void tmpl_manifest_clear(struct tmpl_manifest *m)
{
	if (!m)
		return;
	free(m->name);
	free(m->base);
	free(m->recipe_hash);
	free(m->image);
	free(m->halt_signal);
	strv_free(m->packages);
	memset(m, 0, sizeof(*m));
}

static bool is_hex64(const char *s)
{
	if (!s || strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

int tmpl_manifest_read(const char *path, struct tmpl_manifest *m, struct st_error **err)
{
	_cleanup_json_ json_t *root = NULL;
	struct tmpl_manifest n = { 0 };
	json_t *v, *pk;
	json_error_t je;

	root = json_load_file(path, 0, &je);
	if (!root)
		return st_error_setx(err, je.line < 0 ? ST_EXIT_NOTEMPLATE : ST_EXIT_BADVALUE, 0,
				     "read manifest `%s`: %s (line %d)", path, je.text, je.line);
	if (!json_is_object(root))
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "read manifest `%s`: not a JSON object", path);
#define BAD(what) st_error_setx(err, ST_EXIT_BADVALUE, 0, "read manifest `%s`: %s", path, what)
	v = json_object_get(root, "name");
	if (!json_is_string(v) || tmpl_name_validate(json_string_value(v), "template", NULL) < 0)
		return BAD("bad or missing \"name\"");
	n.name = strdup(json_string_value(v));
	v = json_object_get(root, "version");
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000) {
		tmpl_manifest_clear(&n);
		return BAD("bad or missing \"version\"");
	}
	n.version = (unsigned)json_integer_value(v);
	v = json_object_get(root, "parent_version");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) >= n.version) {
			tmpl_manifest_clear(&n);
			return BAD("bad \"parent_version\"");
		}
		n.parent_version = (unsigned)json_integer_value(v);
	}
	v = json_object_get(root, "sha256");
	if (!json_is_string(v) || !is_hex64(json_string_value(v))) {
		tmpl_manifest_clear(&n);
		return BAD("bad or missing \"sha256\"");
	}
	memcpy(n.sha256, json_string_value(v), 65);
	v = json_object_get(root, "size");
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		tmpl_manifest_clear(&n);
		return BAD("bad or missing \"size\"");
	}
	n.size = (uint64_t)json_integer_value(v);
	v = json_object_get(root, "created");
	n.created = json_is_integer(v) ? json_integer_value(v) : 0;
	v = json_object_get(root, "base");
	n.base = strdup(json_is_string(v) ? json_string_value(v) : "import");
	v = json_object_get(root, "recipe_sha256");
	if (json_is_string(v))
		n.recipe_hash = strdup(json_string_value(v));
	v = json_object_get(root, "has_init");
	n.has_init = json_is_true(v);
	v = json_object_get(root, "halt_signal");
	n.halt_signal = strdup(json_is_string(v) && !strncmp(json_string_value(v), "SIG", 3) &&
					       strlen(json_string_value(v)) < 16
				       ? json_string_value(v)
				       : "SIGTERM");
	pk = json_object_get(root, "packages");
	{
		size_t cnt = json_is_array(pk) ? json_array_size(pk) : 0, i, k = 0;

		n.packages = calloc(cnt + 1, sizeof(char *));
		if (!n.packages || !n.name || !n.base || !n.halt_signal) {
			tmpl_manifest_clear(&n);
			return st_error_set(err, ENOMEM, "read manifest `%s`", path);
		}
		for (i = 0; i < cnt; i++) {
			json_t *p = json_array_get(pk, i);

			if (json_is_string(p))
				n.packages[k++] = strdup(json_string_value(p));
		}
	}
#undef BAD
	tmpl_manifest_clear(m);
	*m = n;
	return 0;
}

int tmpl_manifest_write(const char *path, const struct tmpl_manifest *m, struct st_error **err)
{
	_cleanup_json_ json_t *root = json_object(), *pk = json_array();
	_cleanup_free_ char *tmp = NULL, *text = NULL;
	_cleanup_close_ int fd = -EBADF;
	size_t len;

	if (!root || !pk || asprintf(&tmp, "%s.tmp", path) < 0)
		return st_error_set(err, ENOMEM, "write manifest `%s`", path);
	for (char **p = m->packages; p && *p; p++)
		json_array_append_new(pk, json_string(*p));
	json_object_set_new(root, "name", json_string(m->name));
	json_object_set_new(root, "version", json_integer(m->version));
	json_object_set_new(root, "parent_version",
			    m->parent_version ? json_integer(m->parent_version) : json_null());
	json_object_set_new(root, "sha256", json_string(m->sha256));
	json_object_set_new(root, "size", json_integer((json_int_t)m->size));
	json_object_set_new(root, "created", json_integer(m->created));
	json_object_set_new(root, "base", json_string(m->base ? m->base : "import"));
	json_object_set_new(root, "recipe_sha256",
			    m->recipe_hash ? json_string(m->recipe_hash) : json_null());
	json_object_set_new(root, "has_init", json_boolean(m->has_init));
	json_object_set_new(root, "halt_signal",
			    json_string(m->halt_signal ? m->halt_signal : "SIGTERM"));
	json_object_set(root, "packages", pk);
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text)
		return st_error_set(err, ENOMEM, "write manifest `%s`", path);
	len = strlen(text);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return st_error_set(err, errno, "write manifest `%s`", tmp);
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		int e = errno ? errno : EIO;
		unlink(tmp);
		return st_error_set(err, e, "write manifest `%s`", tmp);
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return st_error_set(err, e, "rename `%s` to `%s`", tmp, path);
	}
	return 0;
}

int tmpl_name_validate(const char *name, const char *what, struct st_error **err)
{
	const char *w = what ? what : "name";
	size_t len;

	if (!name || !*name)
		return st_error_setx(err, ST_EXIT_BADVALUE, 0, "%s name is empty", w);
	len = strlen(name);
	if (len > TMPL_NAME_MAX)
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "%s name is longer than %d characters", w, TMPL_NAME_MAX);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "%s name has a control character (0x%02x)", w, *p);
		if (*p == '/')
			return st_error_setx(err, ST_EXIT_BADVALUE, 0, "%s name `%s` contains '/'",
					     w, name);
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-' || *p == '+'))
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "%s name `%s` has a character other than "
					     "A-Z a-z 0-9 . _ - +",
					     w, name);
	}
	if (strstr(name, ".."))
		return st_error_setx(err, ST_EXIT_BADVALUE, 0, "%s name `%s` contains '..'", w,
				     name);
	if (name[0] == '.' || name[0] == '-')
		return st_error_setx(err, ST_EXIT_BADVALUE, 0, "%s name `%s` starts with '%c'", w,
				     name, name[0]);
	return 0;
}

int tmpl_ref_parse(const char *ref, char **name, unsigned *version, struct st_error **err)
{
	_cleanup_free_ char *n = NULL;
	const char *at;
	unsigned v = 0;

	if (!ref)
		return st_error_setx(err, ST_EXIT_BADVALUE, 0, "template name is empty");
	at = strchr(ref, '@');
	n = at ? strndup(ref, (size_t)(at - ref)) : strdup(ref);
	if (!n)
		return st_error_set(err, ENOMEM, "parse `%s`", ref);
	if (tmpl_name_validate(n, "template", err) < 0)
		return -EINVAL;
	if (at) {
		char *end;
		unsigned long x;

		errno = 0;
		x = strtoul(at + 1, &end, 10);
		if (!at[1] || *end || errno || x < 1 || x > 1000000 || at[1] < '0' || at[1] > '9')
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "template `%s`: version `%s` is not a number >= 1",
					     ref, at + 1);
		v = (unsigned)x;
	}
	*name = take_ptr(n);
	*version = v;
	return 0;
}

char *tmpl_mount_dir(const char *run_dir, const struct tmpl_manifest *m)
{
	char *p = NULL;

	if (asprintf(&p, "%s/templates/%s@%u", run_dir, m->name, m->version) < 0)
		return NULL;
	return p;
}
