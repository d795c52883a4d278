/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers for integration tests (link testutil_dep; see tests/helpers/meson.build).
 *
 *	if (!tu_is_root())
 *		cr_skip_test("needs root");
 *	_cleanup_free_ char *root = tu_tmpdir("stmyarea");   // /tmp/stmyarea-XXXXXX
 *	cr_assert_eq(tu_mkrootfs(root), 0);                   // /sbin/init = testinit
 *	...
 *	tu_rm_rf(root);                                       // in .fini too
 *
 * Every helper returns 0 / a pointer on success and -errno / NULL on failure
 * (with a message on stderr), so a test can assert on it directly.
 */
#ifndef STRATA_TESTS_TESTUTIL_H
#define STRATA_TESTS_TESTUTIL_H

#include <stdbool.h>

/* The static test init (tests/helpers/testinit.c): $STRATA_TESTINIT if set,
 * else the one in the build tree. */
const char *tu_testinit_path(void);

/* Are we root (euid 0)? Integration tests skip when not. */
bool tu_is_root(void);

/* A new empty directory /tmp/<prefix>-XXXXXX (prefix: your area's kernel-object
 * prefix). malloc'd path, NULL on failure. */
char *tu_tmpdir(const char *prefix);

/* Remove a tree; never crosses into mounts (unmount first). 0 or -errno;
 * a missing path is 0. */
int tu_rm_rf(const char *path);

/*
 * Make a throw-away rootfs in dir (created if missing), in a few ms:
 *   /sbin/init        testinit (static); also /bin/testinit
 *   /bin/busybox + /bin/sh, cat, ls, echo, ... when the host has a static
 *                     /bin/busybox (busybox-static)
 *   /proc /sys /dev /tmp /run /root /var/tmp  empty directories
 *   /etc/os-release (ID=strata-test), /etc/hostname, /etc/passwd, /etc/group
 */
int tu_mkrootfs(const char *dir);

/* Does tu_mkrootfs() put a busybox shell in? */
bool tu_have_busybox(void);

/* Run argv (argv[0] searched in PATH) with stdout+stderr captured into *out
 * (malloc'd; may be NULL to discard). Returns the exit status (or 128+signal),
 * or -errno if it could not run. Killed after 120 s. */
int tu_run(const char *const argv[], char **out);

/* Small file helpers. tu_read_file returns malloc'd text or NULL. */
int tu_write_file(const char *path, const char *text);
char *tu_read_file(const char *path);

#endif
