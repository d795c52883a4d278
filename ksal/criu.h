/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A small wrapper over libcriu: which CRIU binary Strata uses, its version,
 * and `criu check`. The distribution's CRIU must match the kernel, so the
 * binary is configurable: CRIU_PATH (strata.conf or the environment), else
 * the build default (config.h STRATA_CRIU_DEFAULT, /opt/strata/bin/criu,
 * installed by scripts/criu-provision.sh).
 */
#ifndef STRATA_KSAL_CRIU_H
#define STRATA_KSAL_CRIU_H

#include <stddef.h>

#include "ksal/error.h"

/* override if non-NULL and non-empty, else $CRIU_PATH, else STRATA_CRIU_DEFAULT. */
const char *ksal_criu_path(const char *override);

/*
 * Parse `criu --version` output ("Version: 4.2.1\n...", also "Version: 4.2")
 * into libcriu's encoding (major * 10000 + minor * 100 + sublevel: 40201).
 * Returns 0, or -EINVAL if no version line is found or it is malformed.
 */
int ksal_criu_parse_version(const char *text, int *version);

/* "4.2.1" for 40201, into buf; returns buf. */
char *ksal_criu_version_str(int version, char *buf, size_t len);

/* The version of the CRIU binary at path, through libcriu (criu swrk). */
int ksal_criu_version(const char *path, int *version, struct st_error **err);

/*
 * `criu check` of the binary at path, through libcriu. 0 if it passes.
 * On failure -1 and an error whose message ends with the last line CRIU
 * printed (it is run once more, directly, to get it; bounded by a timeout).
 */
int ksal_criu_check(const char *path, struct st_error **err);

/*
 * Run argv (fixed argv, no shell; argv[0] searched in PATH when it has no
 * slash) with stdout and stderr captured
 * into *out (malloc'd, NUL-terminated), killed after timeout_ms. Returns the
 * exit status (>= 0), or a negative errno with err filled.
 */
int ksal_run_capture(const char *const argv[], int timeout_ms, char **out, struct st_error **err);

struct criu_opts; /* libcriu's criu_opts */

/* How ksal_criu_in_helper() runs one libcriu call. */
struct ksal_criu_helper {
	const char *what; /* "dump", "check"...: for the timeout warning */
	int timeout_ms;
	/* Run in the helper after its stdio went to /dev/null and every
	 * inherited fd got FD_CLOEXEC, right before the call; a nonzero
	 * return is the helper's exit status (the call is not made). */
	int (*prepare)(void *data);
	void *data;
};

/*
 * call(o) (criu_local_dump, criu_local_check...) in a forked helper that
 * leads its own process group (criu swrk is its child, in that group), with
 * stdin, stdout and stderr on /dev/null, so nothing CRIU prints reaches the
 * caller's. The helper answers only once every child of its (criu swrk)
 * has exited. On timeout the whole group is killed. *result is the call's
 * return value. Returns 0, -ETIMEDOUT, -EIO (the helper died without an
 * answer), or -errno.
 */
int ksal_criu_in_helper(struct criu_opts *o, int (*call)(struct criu_opts *o),
			const struct ksal_criu_helper *h, int *result);

#endif
