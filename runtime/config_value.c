/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Value parsers and printers of the config key table, one per kind. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>

#include "ksal/cleanup.h"
#include "runtime/ctconfig.h"

void ct_value_clear(struct ct_value *v)
{
	free(v->str);
	memset(v, 0, sizeof(*v));
}

static bool str_ieq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end = NULL;
	unsigned long long x;

	if (!s || !*s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = x;
	return 0;
}

int ct_parse_size(const char *s, uint64_t unit, uint64_t *out)
{
	char *end = NULL;
	unsigned long long x;
	uint64_t mul;

	if (!s || !*s)
		return -EINVAL;
	if (str_ieq(s, "unlimited")) {
		*out = CT_UNLIMITED;
		return 0;
	}
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	switch (*end) {
	case '\0':
		mul = unit;
		break;
	case 'b':
	case 'B':
		mul = 1;
		break;
	case 'k':
	case 'K':
		mul = 1ULL << 10;
		break;
	case 'm':
	case 'M':
		mul = 1ULL << 20;
		break;
	case 'g':
	case 'G':
		mul = 1ULL << 30;
		break;
	case 't':
	case 'T':
		mul = 1ULL << 40;
		break;
	case 'p':
	case 'P':
		mul = CT_PAGE_SIZE;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1])
		return -EINVAL;
	if (x && mul > UINT64_MAX / x)
		return -ERANGE;
	*out = x * mul;
	/* LONG_MAX pages and the like mean unlimited in vzctl configs. */
	if (*out >= (uint64_t)INT64_MAX)
		*out = CT_UNLIMITED;
	return 0;
}

static char *format_size(uint64_t b)
{
	static const struct {
		char c;
		int shift;
	} units[] = { { 'T', 40 }, { 'G', 30 }, { 'M', 20 }, { 'K', 10 } };
	char *s = NULL;

	if (b == CT_UNLIMITED)
		return strdup("unlimited");
	if (b == 0)
		return strdup("0");
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		uint64_t m = 1ULL << units[i].shift;
		if (b % m == 0) {
			if (asprintf(&s, "%" PRIu64 "%c", b / m, units[i].c) < 0)
				return NULL;
			return s;
		}
	}
	if (asprintf(&s, "%" PRIu64 "B", b) < 0)
		return NULL;
	return s;
}

static char *format_count(uint64_t x)
{
	char *s = NULL;

	if (x == CT_UNLIMITED)
		return strdup("unlimited");
	if (asprintf(&s, "%" PRIu64, x) < 0)
		return NULL;
	return s;
}

/* Refuse control characters (and, in single-line values, newlines). */
static int check_text(const struct ct_key *k, const char *text, struct st_error **err)
{
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "%s: control character 0x%02x in value", k->name, *p);
	return 0;
}

static int range_error(const struct ct_key *k, const char *text, struct st_error **err)
{
	if (k->kind == CT_KIND_SIZE) {
		_cleanup_free_ char *lo = format_size(k->min);
		_cleanup_free_ char *hi = format_size(k->max);
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "%s: value `%s` out of range (valid: %s to %s)", k->name, text,
				     lo ? lo : "?", hi ? hi : "?");
	}
	if (k->max == CT_UNLIMITED)
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "%s: value `%s` out of range (valid: %" PRIu64
				     " to unlimited)",
				     k->name, text, k->min);
	return st_error_setx(err, ST_EXIT_BADVALUE, 0,
			     "%s: value `%s` out of range (valid: %" PRIu64 " to %" PRIu64 ")",
			     k->name, text, k->min, k->max);
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "on", "true", "1" };
	static const char *const no[] = { "no", "off", "false", "0" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (str_ieq(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (str_ieq(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_one_pair_part(const struct ct_key *k, const char *s, uint64_t *out)
{
	if (k->kind == CT_KIND_SIZE)
		return ct_parse_size(s, k->unit ? k->unit : 1, out);
	if (str_ieq(s, "unlimited")) {
		*out = CT_UNLIMITED;
		return 0;
	}
	if (parse_u64(s, out) < 0)
		return -EINVAL;
	if (*out >= (uint64_t)INT64_MAX)
		*out = CT_UNLIMITED;
	return 0;
}

static int parse_pair(const struct ct_key *k, const char *text, struct ct_pair *p,
		      struct st_error **err)
{
	_cleanup_free_ char *copy = strdup(text);
	char *colon;

	if (!copy)
		return st_error_set(err, ENOMEM, "%s", k->name);
	colon = strchr(copy, ':');
	if (colon) {
		*colon = '\0';
		if (parse_one_pair_part(k, copy, &p->barrier) < 0 ||
		    parse_one_pair_part(k, colon + 1, &p->limit) < 0)
			goto bad;
	} else {
		if (parse_one_pair_part(k, copy, &p->limit) < 0)
			goto bad;
		p->barrier = p->limit;
	}
	if (p->barrier > p->limit)
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "%s: barrier is above limit in `%s` (barrier:limit)", k->name,
				     text);
	if (p->limit < k->min || (p->limit != CT_UNLIMITED && p->limit > k->max))
		return range_error(k, text, err);
	return 0;
bad:
	return st_error_setx(
		err, ST_EXIT_BADVALUE, 0,
		k->kind == CT_KIND_SIZE
			? "%s: invalid size `%s` (expected [barrier:]limit, a number "
			  "with K, M, G, T or P (pages) suffix, or unlimited)"
			: "%s: invalid value `%s` (expected [barrier:]limit numbers or "
			  "unlimited)",
		k->name, text);
}

static void cap_name_normalize(char *s)
{
	size_t len = strlen(s);

	for (size_t i = 0; i < len; i++)
		s[i] = (char)tolower((unsigned char)s[i]);
	if (len >= 4 && memcmp(s, "cap_", 4) == 0)
		memmove(s, s + 4, len - 3);
}

static int cap_number(const char *name)
{
	_cleanup_free_ char *full = NULL;
	cap_value_t cap;

	if (!*name || strspn(name, "abcdefghijklmnopqrstuvwxyz_") != strlen(name))
		return -1;
	if (asprintf(&full, "cap_%s", name) < 0)
		return -1;
	if (cap_from_name(full, &cap) < 0)
		return -1;
	return cap;
}

static int parse_caps(const struct ct_key *k, const char *text, struct ct_value *v,
		      struct st_error **err)
{
	_cleanup_free_ char *copy = strdup(text);
	char *save = NULL;

	if (!copy)
		return st_error_set(err, ENOMEM, "%s", k->name);
	v->cap_on = v->cap_off = 0;
	for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		char *colon = strchr(tok, ':');
		bool on;
		int cap;

		if (!colon || parse_bool(colon + 1, &on) < 0)
			return st_error_setx(
				err, ST_EXIT_BADVALUE, 0,
				"%s: invalid entry `%s` (expected name:on or name:off)", k->name,
				tok);
		*colon = '\0';
		cap_name_normalize(tok);
		cap = cap_number(tok);
		if (cap < 0 || cap > 63)
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "%s: unknown capability `%s`", k->name, tok);
		if (on) {
			v->cap_on |= 1ULL << cap;
			v->cap_off &= ~(1ULL << cap);
		} else {
			v->cap_off |= 1ULL << cap;
			v->cap_on &= ~(1ULL << cap);
		}
	}
	return 0;
}

static char *format_caps(const struct ct_value *v)
{
	char *out = strdup("");

	for (int cap = 0; cap < 64 && out; cap++) {
		bool on = v->cap_on & (1ULL << cap), off = v->cap_off & (1ULL << cap);
		_cleanup_free_ char *name = NULL;
		char *n = NULL;

		if (!on && !off)
			continue;
		name = cap_to_name(cap);
		if (!name)
			continue;
		cap_name_normalize(name);
		if (asprintf(&n, "%s%s%s:%s", out, *out ? "," : "", name, on ? "on" : "off") < 0)
			n = NULL;
		if (name) {
			/* cap_to_name() memory belongs to libcap */
			cap_free(name);
			name = NULL;
		}
		free(out);
		out = n;
	}
	return out;
}

/* "10.0.0.5", "10.0.0.5/24", "fd00::5/64" */
static int check_ip(const char *s, bool allow_prefix)
{
	_cleanup_free_ char *copy = strdup(s);
	unsigned char buf[sizeof(struct in6_addr)];
	char *slash;
	int family;

	if (!copy)
		return -ENOMEM;
	slash = strchr(copy, '/');
	if (slash) {
		if (!allow_prefix)
			return -EINVAL;
		*slash++ = '\0';
	}
	if (inet_pton(AF_INET, copy, buf) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, copy, buf) == 1)
		family = AF_INET6;
	else
		return -EINVAL;
	if (slash) {
		uint64_t plen;
		if (parse_u64(slash, &plen) < 0 || plen > (family == AF_INET ? 32u : 128u))
			return -EINVAL;
	}
	return 0;
}

/* Split on spaces/commas, check each word, join with single spaces. */
static int parse_list(const struct ct_key *k, const char *text, char **out, struct st_error **err)
{
	_cleanup_free_ char *copy = strdup(text);
	_cleanup_free_ char *joined = strdup("");
	char *save = NULL;

	if (!copy || !joined)
		return st_error_set(err, ENOMEM, "%s", k->name);
	for (char *tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		char *n = NULL;

		if (k->kind == CT_KIND_IPLIST && check_ip(tok, k->unit == 0) < 0 &&
		    !(k == &ct_keys[CT_NAMESERVER] && !strcmp(tok, "inherit")))
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "%s: invalid IP address `%s`", k->name, tok);
		if (k->validate && k->validate(tok, err) < 0)
			return st_error_prefix(err, "%s", k->name);
		/* drop duplicates */
		{
			size_t tl = strlen(tok);
			const char *p = joined;
			bool dup = false;
			while ((p = strstr(p, tok))) {
				if ((p == joined || p[-1] == ' ') && (p[tl] == ' ' || !p[tl])) {
					dup = true;
					break;
				}
				p += tl;
			}
			if (dup)
				continue;
		}
		if (asprintf(&n, "%s%s%s", joined, *joined ? " " : "", tok) < 0)
			return st_error_set(err, ENOMEM, "%s", k->name);
		free(joined);
		joined = n;
	}
	*out = take_ptr(joined);
	return 0;
}

int ct_value_parse(int id, const char *text, struct ct_value *out, struct st_error **err)
{
	const struct ct_key *k;
	struct ct_value v = { 0 };
	bool b;

	if (id < 0 || id >= CT_KEY_COUNT)
		return st_error_setx(err, ST_EXIT_BADARG, EINVAL, "unknown key id %d", id);
	k = &ct_keys[id];
	if (!text)
		text = "";
	if (check_text(k, text, err) < 0)
		return -1;

	switch (k->kind) {
	case CT_KIND_STR:
		if (k->validate && k->validate(text, err) < 0)
			return st_error_prefix(err, "%s", k->name);
		v.str = strdup(text);
		break;
	case CT_KIND_BOOL:
		if (parse_bool(text, &b) < 0)
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "%s: invalid value `%s` (expected yes or no)", k->name,
					     text);
		v.u = b;
		break;
	case CT_KIND_UINT: {
		_cleanup_free_ char *copy = strdup(text);
		size_t len;

		if (!copy)
			return st_error_set(err, ENOMEM, "%s", k->name);
		len = strlen(copy);
		/* CPULIMIT="25%" as vzctl accepts */
		if (id == CT_CPULIMIT && len > 1 && copy[len - 1] == '%')
			copy[len - 1] = '\0';
		if (parse_u64(copy, &v.u) < 0)
			return st_error_setx(err, ST_EXIT_BADVALUE, 0, "%s: invalid number `%s`",
					     k->name, text);
		if (v.u < k->min || v.u > k->max)
			return range_error(k, text, err);
		break;
	}
	case CT_KIND_SIZE:
	case CT_KIND_COUNT:
		if (parse_pair(k, text, &v.p, err) < 0)
			return -1;
		break;
	case CT_KIND_ENUM: {
		const char *const *c;

		for (c = k->choices; *c; c++)
			if (str_ieq(*c, text))
				break;
		if (!*c) {
			_cleanup_free_ char *all = strdup("");
			for (c = k->choices; *c && all; c++) {
				char *n = NULL;
				if (asprintf(&n, "%s%s%s", all, *all ? ", " : "", *c) < 0)
					n = NULL;
				free(all);
				all = n;
			}
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "%s: invalid value `%s` (expected one of: %s)",
					     k->name, text, all ? all : "?");
		}
		v.str = strdup(*c);
		break;
	}
	case CT_KIND_CAPS:
		if (parse_caps(k, text, &v, err) < 0)
			return -1;
		v.str = format_caps(&v);
		break;
	case CT_KIND_IPLIST:
	case CT_KIND_STRLIST:
		if (parse_list(k, text, &v.str, err) < 0)
			return -1;
		break;
	}
	if ((k->kind == CT_KIND_STR || k->kind == CT_KIND_ENUM || k->kind == CT_KIND_CAPS) &&
	    !v.str)
		return st_error_set(err, ENOMEM, "%s", k->name);
	v.set = true;
	ct_value_clear(out);
	*out = v;
	return 0;
}

char *ct_value_format(int id, const struct ct_value *v)
{
	const struct ct_key *k = &ct_keys[id];
	char *s = NULL;

	if (!v->set)
		return NULL;
	switch (k->kind) {
	case CT_KIND_STR:
	case CT_KIND_ENUM:
	case CT_KIND_IPLIST:
	case CT_KIND_STRLIST:
		return strdup(v->str ? v->str : "");
	case CT_KIND_CAPS:
		return format_caps(v);
	case CT_KIND_BOOL:
		return strdup(v->u ? "yes" : "no");
	case CT_KIND_UINT:
		if (asprintf(&s, "%" PRIu64, v->u) < 0)
			return NULL;
		return s;
	case CT_KIND_SIZE:
	case CT_KIND_COUNT: {
		char *(*fmt)(uint64_t) = k->kind == CT_KIND_SIZE ? format_size : format_count;
		_cleanup_free_ char *b = fmt(v->p.barrier);
		_cleanup_free_ char *l = fmt(v->p.limit);

		if (!b || !l)
			return NULL;
		if (v->p.barrier == v->p.limit)
			return take_ptr(l);
		if (asprintf(&s, "%s:%s", b, l) < 0)
			return NULL;
		return s;
	}
	}
	return NULL;
}
