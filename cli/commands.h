/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The verbs of strata(8), one struct cli_verb each (cli/cli.h). */
#ifndef STRATA_CLI_COMMANDS_H
#define STRATA_CLI_COMMANDS_H

#include "cli/cli.h"

/* strata check: host checks (cli/cmd_check.c, foundation area). */
int cmd_check(int argc, char **argv);

/* Options accepted by both `set` and `create` (vzctl names). */
#define CLI_SET_OPTIONS                                                                            \
	{ "ram", 0, true }, { "swap", 0, true }, { "memguarantee", 0, true },                      \
		{ "cpuunits", 0, true }, { "cpulimit", 0, true }, { "cpus", 0, true },             \
		{ "cpumask", 0, true }, { "numproc", 0, true }, { "ioprio", 0, true },             \
		{ "iolimit", 0, true }, { "iopslimit", 0, true }, { "diskspace", 0, true },        \
		{ "hostname", 0, true }, { "ipadd", 0, true }, { "ipdel", 0, true },               \
		{ "nameserver", 0, true }, { "searchdomain", 0, true }, { "onboot", 0, true },     \
		{ "capability", 0, true }, { "name", 0, true }, { "description", 0, true },        \
		{ "netif_add", 0, true }, { "netif_del", 0, true }, { "ifname", 0, true },         \
		{ "mac", 0, true }, { "host_ifname", 0, true }, { "host_mac", 0, true },           \
		{ "bridge", 0, true }, { "gw", 0, true }, { "gw6", 0, true },                      \
		{ "network", 0, true }, { "rate", 0, true }, { "netmode", 0, true },               \
	{                                                                                          \
		"memory_merge", 0, true                                                            \
	}

/* Set options that may be given several times; their values are joined
 * with spaces, as in the config file (IP_ADDRESS="a b"). */
int cli_set_opt_is_list(const char *name);
/* Append val to the space-joined string obj[key]. */
int cli_opt_append(json_t *obj, const char *key, const char *val);

extern const struct cli_verb cli_verb_create, cli_verb_destroy, cli_verb_start, cli_verb_stop,
	cli_verb_restart, cli_verb_status, cli_verb_mount, cli_verb_umount, cli_verb_suspend,
	cli_verb_resume, cli_verb_set, cli_verb_exec, cli_verb_exec2, cli_verb_runscript,
	cli_verb_enter, cli_verb_console, cli_verb_list, cli_verb_template, cli_verb_check;
/* resources area (issue 5): cli/cmd_stat.c */
extern const struct cli_verb cli_verb_stat, cli_verb_top;
/* cmd_tmpl.c (templates area) */
extern const struct cli_verb cli_verb_rebase, cli_verb_clone;

#endif
