/* SPDX-License-Identifier: GPL-2.0-or-later */
/* CTID.conf: vzctl's KEY="value" lines, read and rewritten keeping comments. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "runtime/ctconfig.h"

struct ct_config *ct_config_new(void)
{
	return calloc(1, sizeof(struct ct_config));
}

void ct_config_free(struct ct_config *c)
{
	if (!c)
		return;
	for (int i = 0; i < CT_KEY_COUNT; i++)
		ct_value_clear(&c->v[i]);
	for (size_t i = 0; i < c->n_lines; i++)
		free(c->lines[i].text);
	free(c->lines);
	free(c->path);
	free(c);
}

/*
 * Split one line. Returns 0 with *key NULL for blank/comment lines, 1 with
 * key and value (malloc'd) for an assignment, -1 on a syntax error.
 */
static int split_line(const char *line, char **key, char **value, const char **why)
{
	const char *p = line, *k0;
	_cleanup_free_ char *k = NULL, *v = NULL;
	size_t vn = 0;

	*key = *value = NULL;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p || *p == '#')
		return 0;
	if (strncmp(p, "export ", 7) == 0)
		p += 7;
	k0 = p;
	if (!isalpha((unsigned char)*p) && *p != '_') {
		*why = "expected KEY=\"value\"";
		return -1;
	}
	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	k = strndup(k0, (size_t)(p - k0));
	if (!k)
		return -ENOMEM;
	if (*p != '=') {
		*why = "expected `=` after the key";
		return -1;
	}
	p++;
	v = malloc(strlen(p) + 1);
	if (!v)
		return -ENOMEM;
	if (*p == '"' || *p == '\'') {
		char q = *p++;
		for (;; p++) {
			if (!*p) {
				*why = "unterminated quoted value";
				return -1;
			}
			if (*p == q)
				break;
			if (q == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\' || p[1] == '$'))
				p++;
			v[vn++] = *p;
		}
		p++;
	} else {
		while (*p && *p != ' ' && *p != '\t' && *p != '#') {
			if (*p == '"' || *p == '\'' || *p == '\\') {
				*why = "quote or backslash in an unquoted value";
				return -1;
			}
			v[vn++] = *p++;
		}
	}
	v[vn] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p && *p != '#') {
		*why = "text after the value (quote values that contain spaces)";
		return -1;
	}
	*key = take_ptr(k);
	*value = take_ptr(v);
	return 1;
}

static int add_line(struct ct_config *c, const char *text, size_t len, int key)
{
	struct ct_line *n = realloc(c->lines, (c->n_lines + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	c->lines = n;
	n[c->n_lines].text = strndup(text, len);
	if (!n[c->n_lines].text)
		return -ENOMEM;
	n[c->n_lines].key = key;
	c->n_lines++;
	return 0;
}

int ct_config_parse(struct ct_config *c, const char *name, const char *text, struct st_error **err)
{
	const char *p = text;
	int lineno = 0;

	if (!name)
		name = "(config)";
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		_cleanup_free_ char *line = strndup(p, len);
		_cleanup_free_ char *key = NULL, *value = NULL;
		const char *why = NULL;
		int r, id = -1;

		lineno++;
		if (!line)
			return st_error_set(err, ENOMEM, "%s:%d", name, lineno);
		if (memchr(p, '\0', len))
			return st_error_setx(err, ST_EXIT_CONFIG, 0, "%s:%d: NUL byte", name,
					     lineno);
		r = split_line(line, &key, &value, &why);
		if (r == -ENOMEM)
			return st_error_set(err, ENOMEM, "%s:%d", name, lineno);
		if (r < 0)
			return st_error_setx(err, ST_EXIT_CONFIG, 0, "%s:%d: %s", name, lineno,
					     why);
		if (r > 0) {
			id = ct_key_lookup(key);
			if (id < 0)
				return st_error_setx(err, ST_EXIT_CONFIG, 0,
						     "%s:%d: unknown key `%s`", name, lineno, key);
			if (ct_value_parse(id, value, &c->v[id], err) < 0) {
				if (*err)
					(*err)->exit_code = ST_EXIT_CONFIG;
				return st_error_prefix(err, "%s:%d", name, lineno);
			}
		}
		if (add_line(c, p, len, id) < 0)
			return st_error_set(err, ENOMEM, "%s:%d", name, lineno);
		p += len + (nl ? 1 : 0);
	}
	return 0;
}

static int read_file(const char *path, char **out, struct st_error **err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return st_error_setx(err, errno == ENOENT ? ST_EXIT_NOCONFIG : ST_EXIT_SYSTEM,
				     errno, "open `%s`", path);
	for (;;) {
		size_t r;
		if (cap - n < 4096) {
			char *nb;
			if (cap > (16u << 20))
				return st_error_setx(err, ST_EXIT_CONFIG, EFBIG, "read `%s`", path);
			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap);
			if (!nb)
				return st_error_set(err, ENOMEM, "read `%s`", path);
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0) {
			if (ferror(f))
				return st_error_set(err, EIO, "read `%s`", path);
			break;
		}
	}
	buf[n] = '\0';
	if (strlen(buf) != n)
		return st_error_setx(err, ST_EXIT_CONFIG, 0, "`%s`: NUL byte in file", path);
	*out = take_ptr(buf);
	return 0;
}

int ct_config_load(const char *path, struct ct_config **out, struct st_error **err)
{
	_cleanup_ct_config_ struct ct_config *c = ct_config_new();
	_cleanup_free_ char *text = NULL;

	if (!c)
		return st_error_set(err, ENOMEM, "load `%s`", path);
	if (read_file(path, &text, err) < 0)
		return -1;
	if (ct_config_parse(c, path, text, err) < 0)
		return -1;
	c->path = strdup(path);
	*out = take_ptr(c);
	return 0;
}

static int value_copy(int id, const struct ct_value *src, struct ct_value *dst)
{
	struct ct_value v = *src;

	(void)id;
	if (src->str) {
		v.str = strdup(src->str);
		if (!v.str)
			return -ENOMEM;
	}
	ct_value_clear(dst);
	*dst = v;
	return 0;
}

void ct_config_merge_defaults(struct ct_config *c, const struct ct_config *defaults)
{
	if (!defaults)
		return;
	for (int i = 0; i < CT_KEY_COUNT; i++)
		if (!c->v[i].set && defaults->v[i].set)
			value_copy(i, &defaults->v[i], &c->v[i]);
}

/* ipadd / ipdel on a space-separated list. */
static int list_edit(struct ct_config *c, int id, enum ct_setop op, const char *value,
		     struct st_error **err)
{
	struct ct_value add = { 0 };
	_cleanup_free_ char *result = NULL;
	const char *cur = c->v[id].set && c->v[id].str ? c->v[id].str : "";
	int r;

	if (op == CT_DEL && strcmp(value, "all") == 0)
		return ct_value_parse(id, "", &c->v[id], err);
	r = ct_value_parse(id, value, &add, err);
	if (r < 0)
		return r;
	if (op == CT_ADD) {
		if (asprintf(&result, "%s %s", cur, add.str) < 0)
			result = NULL;
	} else {
		_cleanup_free_ char *copy = strdup(cur);
		char *save = NULL;

		result = strdup("");
		for (char *tok = copy ? strtok_r(copy, " ", &save) : NULL; tok && result;
		     tok = strtok_r(NULL, " ", &save)) {
			char *n = NULL;
			bool drop = false;
			_cleanup_free_ char *dels = strdup(add.str);
			char *s2 = NULL;

			for (char *d = dels ? strtok_r(dels, " ", &s2) : NULL; d;
			     d = strtok_r(NULL, " ", &s2))
				if (strcmp(d, tok) == 0 ||
				    (strncmp(tok, d, strlen(d)) == 0 && tok[strlen(d)] == '/'))
					drop = true;
			if (drop)
				continue;
			if (asprintf(&n, "%s%s%s", result, *result ? " " : "", tok) < 0)
				n = NULL;
			free(result);
			result = n;
		}
	}
	ct_value_clear(&add);
	if (!result)
		return st_error_set(err, ENOMEM, "%s", ct_keys[id].name);
	return ct_value_parse(id, result, &c->v[id], err);
}

int ct_config_set(struct ct_config *c, const char *key_or_option, const char *value,
		  struct st_error **err)
{
	enum ct_setop op = CT_SET;
	int id = ct_key_lookup(key_or_option);

	if (id < 0)
		id = ct_key_lookup_option(key_or_option, &op);
	if (id < 0)
		return st_error_setx(err, ST_EXIT_BADARG, 0, "unknown setting `%s`", key_or_option);
	if (!value)
		value = "";
	if (op != CT_SET)
		return list_edit(c, id, op, value, err);
	return ct_value_parse(id, value, &c->v[id], err);
}

int ct_config_unset(struct ct_config *c, int id)
{
	if (id < 0 || id >= CT_KEY_COUNT)
		return -EINVAL;
	ct_value_clear(&c->v[id]);
	return 0;
}

/* Append s to a growing buffer. */
struct sbuf {
	char *s;
	size_t n, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t len)
{
	if (b->oom)
		return;
	if (b->n + len + 1 > b->cap) {
		size_t cap = (b->n + len + 1) * 2;
		char *n = realloc(b->s, cap);
		if (!n) {
			b->oom = true;
			return;
		}
		b->s = n;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, len);
	b->n += len;
	b->s[b->n] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_assignment(struct sbuf *b, int id, const char *value)
{
	sb_puts(b, ct_keys[id].name);
	sb_puts(b, "=\"");
	for (const char *p = value; *p; p++) {
		if (*p == '"' || *p == '\\' || *p == '$')
			sb_add(b, "\\", 1);
		sb_add(b, p, 1);
	}
	sb_puts(b, "\"\n");
}

char *ct_config_render(const struct ct_config *c)
{
	struct sbuf b = { 0 };
	bool written[CT_KEY_COUNT] = { false };

	sb_puts(&b, "");
	for (size_t i = 0; i < c->n_lines; i++) {
		int id = c->lines[i].key;
		bool last = true;

		if (id < 0) {
			sb_puts(&b, c->lines[i].text);
			sb_puts(&b, "\n");
			continue;
		}
		for (size_t j = i + 1; j < c->n_lines; j++)
			if (c->lines[j].key == id)
				last = false;
		if (!last || !c->v[id].set)
			continue;
		{
			_cleanup_free_ char *now = ct_value_format(id, &c->v[id]);
			_cleanup_free_ char *k = NULL, *old = NULL;
			struct ct_value ov = { 0 };
			_cleanup_free_ char *oldfmt = NULL;
			const char *why;

			if (split_line(c->lines[i].text, &k, &old, &why) > 0 &&
			    ct_value_parse(id, old, &ov, NULL) == 0)
				oldfmt = ct_value_format(id, &ov);
			ct_value_clear(&ov);
			if (now && oldfmt && strcmp(now, oldfmt) == 0) {
				sb_puts(&b, c->lines[i].text);
				sb_puts(&b, "\n");
			} else {
				sb_assignment(&b, id, now ? now : "");
			}
			written[id] = true;
		}
	}
	for (int id = 0; id < CT_KEY_COUNT; id++) {
		_cleanup_free_ char *now = NULL;

		if (written[id] || !c->v[id].set)
			continue;
		now = ct_value_format(id, &c->v[id]);
		sb_assignment(&b, id, now ? now : "");
	}
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

int st_write_file_atomic(const char *path, const char *data, size_t len, mode_t mode, bool durable,
			 struct st_error **err)
{
	_cleanup_free_ char *tmp = NULL, *dircopy = strdup(path);
	_cleanup_close_ int fd = -EBADF, dfd = -EBADF;
	size_t off = 0;

	if (!dircopy || asprintf(&tmp, "%s.tmp.%d", path, getpid()) < 0)
		return st_error_set(err, ENOMEM, "write `%s`", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return st_error_set(err, errno, "create `%s`", tmp);
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;
			unlink(tmp);
			return st_error_setx(err, e == ENOSPC ? ST_EXIT_NOSPACE : ST_EXIT_SYSTEM, e,
					     "write `%s`", tmp);
		}
		off += (size_t)w;
	}
	if (durable && fsync(fd) < 0) {
		int e = errno;
		unlink(tmp);
		return st_error_setx(err, e == ENOSPC ? ST_EXIT_NOSPACE : ST_EXIT_SYSTEM, e,
				     "fsync `%s`", tmp);
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return st_error_set(err, e, "rename `%s` to `%s`", tmp, path);
	}
	if (!durable)
		return 0;
	dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
	return 0;
}

int ct_config_save(const struct ct_config *c, const char *path, struct st_error **err)
{
	_cleanup_free_ char *text = ct_config_render(c);

	if (!text)
		return st_error_setx(err, ST_EXIT_SAVECONF, ENOMEM, "save `%s`", path);
	if (st_write_file_atomic(path, text, strlen(text), 0644, true, err) < 0) {
		if (*err && (*err)->exit_code != ST_EXIT_NOSPACE)
			(*err)->exit_code = ST_EXIT_SAVECONF;
		return st_error_prefix(err, "save config");
	}
	return 0;
}

const char *ct_config_str(const struct ct_config *c, int id)
{
	if (!c->v[id].set)
		return NULL;
	return c->v[id].str;
}

uint64_t ct_config_uint(const struct ct_config *c, int id, uint64_t def)
{
	return c->v[id].set ? c->v[id].u : def;
}

bool ct_config_bool(const struct ct_config *c, int id, bool def)
{
	return c->v[id].set ? c->v[id].u != 0 : def;
}

char *ct_expand_veid(const char *tmpl, const char *ctid)
{
	struct sbuf b = { 0 };

	sb_puts(&b, "");
	for (const char *p = tmpl; *p;) {
		if (strncmp(p, "${VEID}", 7) == 0) {
			sb_puts(&b, ctid);
			p += 7;
		} else if (strncmp(p, "$VEID", 5) == 0) {
			sb_puts(&b, ctid);
			p += 5;
		} else {
			sb_add(&b, p++, 1);
		}
	}
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}
