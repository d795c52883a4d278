/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ksal/error.h"

int st_error_ret(const struct st_error *e)
{
	if (e && e->errnum > 0)
		return -e->errnum;
	return -1;
}

int st_error_exit(const struct st_error *e)
{
	return e ? e->exit_code : ST_EXIT_FAILED;
}

int st_error_vsetx(struct st_error **err, int exit_code, int errnum, const char *fmt, va_list ap)
{
	int ret = errnum > 0 ? -errnum : -1;
	char *base = NULL;
	struct st_error *e;

	if (!err || *err)
		return ret; /* keep the first, innermost error */
	e = calloc(1, sizeof(*e));
	if (!e)
		return ret;
	if (vasprintf(&base, fmt, ap) < 0)
		base = NULL;
	e->errnum = errnum > 0 ? errnum : 0;
	e->exit_code = exit_code;
	if (base && errnum > 0) {
		if (asprintf(&e->msg, "%s: %s", base, strerror(errnum)) < 0)
			e->msg = NULL;
		free(base);
	} else {
		e->msg = base;
	}
	if (!e->msg)
		e->msg = strdup("out of memory while reporting an error");
	*err = e;
	return ret;
}

int st_error_setx(struct st_error **err, int exit_code, int errnum, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = st_error_vsetx(err, exit_code, errnum, fmt, ap);
	va_end(ap);
	return ret;
}

int st_error_set(struct st_error **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = st_error_vsetx(err, errnum > 0 ? ST_EXIT_SYSTEM : ST_EXIT_FAILED, errnum, fmt, ap);
	va_end(ap);
	return ret;
}

int st_error_prefix(struct st_error **err, const char *fmt, ...)
{
	char *ctx = NULL, *msg = NULL;
	va_list ap;

	if (!err || !*err)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&ctx, fmt, ap) < 0)
		ctx = NULL;
	va_end(ap);
	if (ctx) {
		/* Accept "start 101" and "start 101: " alike: one separator. */
		size_t n = strlen(ctx);

		while (n > 0 && (ctx[n - 1] == ' ' || ctx[n - 1] == ':'))
			ctx[--n] = '\0';
	}
	if (ctx && *ctx && asprintf(&msg, "%s: %s", ctx, (*err)->msg) >= 0) {
		free((*err)->msg);
		(*err)->msg = msg;
	}
	free(ctx);
	return st_error_ret(*err);
}

void st_error_free(struct st_error *e)
{
	if (!e)
		return;
	free(e->msg);
	free(e);
}
