/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The user's terminal while attached to a container. */
#ifndef STRATA_CLI_TTY_H
#define STRATA_CLI_TTY_H

#include <jansson.h>

#include "cli/cli.h"

/* Put fd (a terminal) in raw mode; restored by cli_tty_restore(), at exit
 * and on SIGTERM/SIGHUP/SIGQUIT. Returns 0, or 1 if fd is not a terminal,
 * or -errno. */
int cli_tty_raw(int fd);
void cli_tty_restore(void);

/*
 * The round trip of cli_call() for a command that wants a terminal (enter):
 * a new pseudo-terminal, set up like the user's (modes and window size),
 * becomes the command's stdin, stdout and stderr; the user's terminal goes
 * raw and is proxied to it, window size changes follow (SIGWINCH). So the
 * command gets a terminal of its own to be the session leader of (job
 * control, ^C, ^D work), and never holds the user's real terminal.
 */
int cli_pty_call(struct cli_cmd *cmd, json_t **result, struct st_error **err);

#endif
