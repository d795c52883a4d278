/* SPDX-License-Identifier: GPL-2.0-or-later */
/* strata: the vzctl-style command line of Strata. */
#include <stdio.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "ksal/cleanup.h"

int main(int argc, char **argv)
{
	_cleanup_error_ struct st_error *err = NULL;
	struct cli_cmd cmd;
	int rc;

	/* jansson's hash seed: a fixed one spares an open and read of
	 * /dev/urandom per command (hash flooding is no threat to a CLI
	 * that parses its own daemon's replies) */
	json_object_seed(0x53545241u);
	cli_cmd_init(&cmd);
	if (argc < 2) {
		cli_usage_print(stderr, NULL);
		return ST_EXIT_BADARG;
	}
	if (cli_parse(argc, argv, &cmd, &err) < 0) {
		fprintf(stderr, "strata: %s\n", err && err->msg ? err->msg : "invalid arguments");
		rc = st_error_exit(err);
		cli_cmd_free(&cmd);
		return rc;
	}
	if (cmd.action == CLI_CHECK)
		rc = cmd_check(cmd.check_argc, cmd.check_argv);
	else
		rc = cli_run(&cmd);
	cli_cmd_free(&cmd);
	return rc;
}
