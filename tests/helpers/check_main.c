/* SPDX-License-Identifier: GPL-2.0-or-later */
/* strata-check: runs `strata check` without the rest of the CLI (tests, demo
 * before the CLI dispatches it; not installed). */
#include "cli/commands.h"

int main(int argc, char **argv)
{
	return cmd_check(argc, argv);
}
