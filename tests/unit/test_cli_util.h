/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by the CLI unit tests (test_cli.c, test_cli_output.c): a parsed
 * command, its error, and helpers to parse "strata ARGS..." into it. Each
 * test file has its own copy. */
#ifndef STRATA_TEST_CLI_UTIL_H
#define STRATA_TEST_CLI_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "ksal/cleanup.h"

static struct cli_cmd cmd;
static struct st_error *err;

__attribute__((unused)) static void setup(void)
{
	cli_cmd_init(&cmd);
	err = NULL;
}

__attribute__((unused)) static void teardown(void)
{
	cli_cmd_free(&cmd);
	st_error_freep(&err);
}

/* Parse "strata ARGS..." (NULL-terminated); returns cli_parse's result. */
__attribute__((unused)) static int parse(const char *first, ...)
{
	static char *argv[64];
	int argc = 0;
	va_list ap;

	argv[argc++] = "strata";
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *)) {
		cr_assert_lt(argc, 63);
		argv[argc++] = (char *)a;
	}
	va_end(ap);
	argv[argc] = NULL;
	return cli_parse(argc, argv, &cmd, &err);
}

__attribute__((unused)) static const char *req_str(const char *key)
{
	return json_string_value(json_object_get(cmd.req, key));
}

__attribute__((unused)) static json_t *arg(const char *key)
{
	return json_object_get(json_object_get(cmd.req, "args"), key);
}

__attribute__((unused)) static void expect_badarg(const char *needle)
{
	cr_assert_not_null(err, "expected an error");
	cr_assert_eq(err->exit_code, ST_EXIT_BADARG, "exit %d for `%s`", err->exit_code, err->msg);
	cr_assert_not_null(strstr(err->msg, needle), "`%s` does not mention `%s`", err->msg,
			   needle);
}

#endif
