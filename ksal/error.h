/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Errors carry a message chain and a stable exit code (STYLE.md).
 *
 * A function that can fail takes `struct st_error **err`, returns a negative
 * value and fills *err with the errno and a message naming the operation and
 * its object. Callers add context with st_error_prefix() on the way up; only
 * the outermost layer prints it, once.
 */
#ifndef STRATA_KSAL_ERROR_H
#define STRATA_KSAL_ERROR_H

#include <stdarg.h>

/*
 * The exit-code table: vzctl's numbers where the meaning is the same.
 * Documented in strata(8); keep both in step. Never renumber.
 */
enum st_exit {
	ST_EXIT_OK = 0,
	ST_EXIT_FAILED = 1,	     /* generic failure with no better code */
	ST_EXIT_SYSTEM = 3,	     /* system error */
	ST_EXIT_NORESOURCE = 6,	     /* not enough system resources */
	ST_EXIT_EXEC = 8,	     /* exec'd command returned non-zero */
	ST_EXIT_LOCKED = 9,	     /* container locked by another operation */
	ST_EXIT_NOGLOBALCONF = 10,   /* strata.conf not found or invalid */
	ST_EXIT_PERM = 12,	     /* permission denied */
	ST_EXIT_CAP = 13,	     /* capability setting failed */
	ST_EXIT_NOCONFIG = 14,	     /* container config not found */
	ST_EXIT_TIMEOUT = 15,	     /* timeout */
	ST_EXIT_CHKPNT = 16,	     /* checkpoint failed */
	ST_EXIT_RESTORE = 17,	     /* restore failed */
	ST_EXIT_BADARG = 20,	     /* invalid command-line argument */
	ST_EXIT_BADVALUE = 21,	     /* invalid value */
	ST_EXIT_NOTEMPLATE_SET = 29, /* no OS template given */
	ST_EXIT_NOTRUNNING = 31,     /* container not running */
	ST_EXIT_RUNNING = 32,	     /* container already running */
	ST_EXIT_STOPFAIL = 33,	     /* unable to stop container */
	ST_EXIT_NOTMOUNTED = 40,     /* container not mounted */
	ST_EXIT_MOUNTED = 41,	     /* container already mounted */
	ST_EXIT_NOPRIVATE = 43,	     /* private area not found */
	ST_EXIT_PRIVATE_EXISTS = 44, /* private area already exists */
	ST_EXIT_NOSPACE = 46,	     /* not enough disk space */
	ST_EXIT_BROKEN = 47,	     /* bad container (no init) */
	ST_EXIT_CREATEPRIV = 48,     /* cannot create private area */
	ST_EXIT_MOUNTFAIL = 50,	     /* unable to mount */
	ST_EXIT_UMOUNTFAIL = 51,     /* unable to unmount */
	ST_EXIT_DESTROYFAIL = 52,    /* unable to delete */
	ST_EXIT_IPINUSE = 78,	     /* IP address already in use */
	ST_EXIT_NOTEMPLATE = 91,     /* template not found */
	ST_EXIT_NOFEATURE = 100,     /* a required kernel feature is missing */
	ST_EXIT_PROTOCOL = 101,	     /* malformed request or reply */
	ST_EXIT_NODAEMON = 102,	     /* cannot reach stratad */
	ST_EXIT_CONFIG = 109,	     /* unable to apply a config */
	ST_EXIT_SAVECONF = 139,	     /* error saving the container config */
};

struct st_error {
	int errnum;    /* errno, or 0 */
	int exit_code; /* enum st_exit */
	char *msg;     /* full message, context first */
};

/*
 * Fill *err (if err is non-NULL and *err is NULL) and return a negative
 * value: -errnum if errnum > 0, else -1. The message gets ": strerror(errnum)"
 * appended when errnum > 0. The exit code defaults to ST_EXIT_SYSTEM when
 * errnum > 0, ST_EXIT_FAILED otherwise.
 */
int st_error_set(struct st_error **err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same with an explicit exit code. */
int st_error_setx(struct st_error **err, int exit_code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int st_error_vsetx(struct st_error **err, int exit_code, int errnum, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
/* Prepend context: "start 101: " + old message. Returns the same value as
 * st_error_ret(*err) so it can be used in `return st_error_prefix(...)`. */
int st_error_prefix(struct st_error **err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Negative return value for an error: -errnum or -1. */
int st_error_ret(const struct st_error *e);
void st_error_free(struct st_error *e);
/* Exit code of an error, ST_EXIT_FAILED for NULL. */
int st_error_exit(const struct st_error *e);

static inline void st_error_freep(struct st_error **e)
{
	if (*e)
		st_error_free(*e);
	*e = NULL;
}
#define _cleanup_error_ __attribute__((cleanup(st_error_freep)))

#endif
