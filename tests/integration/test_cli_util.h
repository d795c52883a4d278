/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What test_cli_e2e.c and test_cli_enter.c share: the strata CLI run
 * against a private stratad (tests/helpers/daemonutil.h), CTIDs 9201-9299.
 */
#ifndef STRATA_TEST_CLI_UTIL_H
#define STRATA_TEST_CLI_UTIL_H

#include <stdbool.h>

#include "tests/helpers/daemonutil.h"

#define CT "9201"
#define TEMPLATE "stcli-tiny"

extern char *tmp;  /* du.tmp, or a temp dir of its own without a daemon */
extern char *sock; /* du.sock */

const char *cli_path(void);
/* tmp/sub, freshly allocated. */
char *path_in(const char *sub);
/* Run argv with stdin_text on stdin (NULL: /dev/null); stdout and stderr
 * captured apart. Returns the exit status, 128+signal if killed. */
int run(const char *stdin_text, char **out, char **errout, const char *const argv[]);
/* strata --socket SOCK ARGS... */
int strata_in(const char *stdin_text, char **out, char **errout, ...);
#define strata(out, errout, ...) strata_in(NULL, out, errout, __VA_ARGS__, NULL)

/* The private daemon, when root and stratad is built; the tests that need
 * no daemon still get a temp dir for run(). For TestSuite(cli_e2e, .init =
 * setup, .fini = teardown). */
void setup(void);
void teardown(void);
/* Skip unless root and stratad is built. */
void need_daemon(void);
/* A tiny template from the test rootfs, imported through the CLI, and one
 * container created from it (and started if start). */
void make_ct(const char *ctid, bool start);
/* The private daemon is still there (not a zombie). */
void assert_daemon_alive(void);

#endif
