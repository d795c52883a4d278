/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The verb table, in the order `strata help` shows them. */
#include "cli/commands.h"

const struct cli_verb cli_verb_check = {
	.name = "check",
	.summary = "check that this host can run containers",
	.usage = "strata check [OPTIONS]\n"
		 "\n"
		 "Probe the kernel features, tools and settings strata needs and report each\n"
		 "(strata check --help lists its own options).\n",
};

/* One verb a line, grouped as `strata help` shows them: the formatter would
 * pack them into rows and lose the grouping. */
/* clang-format off */
const struct cli_verb *const cli_verbs[] = {
	/* lifecycle */
	&cli_verb_create,
	&cli_verb_destroy,
	&cli_verb_start,
	&cli_verb_stop,
	&cli_verb_restart,
	&cli_verb_status,
	&cli_verb_mount,
	&cli_verb_umount,
	/* inside a running container */
	&cli_verb_enter,
	&cli_verb_exec,
	&cli_verb_exec2,
	&cli_verb_runscript,
	&cli_verb_console,
	/* settings, listing, templates */
	&cli_verb_set,
	&cli_verb_list,
	&cli_verb_template,
	/* resources */
	&cli_verb_stat,
	&cli_verb_top,
	/* rebase and copy */
	&cli_verb_rebase,
	&cli_verb_clone,
	/* checkpoint */
	&cli_verb_suspend,
	&cli_verb_resume,
	/* the host */
	&cli_verb_check,
	NULL,
};
/* clang-format on */
