/* SPDX-License-Identifier: GPL-2.0-or-later */
/* strata set CTID --option value ... [--save] [--setmode restart|ignore] */
#include <errno.h>
#include <string.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "ksal/cleanup.h"

static const struct cli_opt set_opts[] = {
	{ "save", 0, false }, { "setmode", 0, true }, { "nowait", 0, false },
	CLI_SET_OPTIONS,      { NULL, 0, false },
};

static int set_parse(struct cli_cmd *cmd, int argc, char **argv, struct st_error **err)
{
	_cleanup_free_ char *ctid = NULL;
	struct cli_args a;
	const struct cli_opt *o;
	const char *val;
	json_t *args, *options;
	int r;

	args = cli_req_new(cmd, "set", NULL);
	if (!args)
		return st_error_set(err, ENOMEM, "set");
	options = json_object();
	json_object_set_new(args, "options", options);
	cli_args_init(&a, "set", argc, argv);
	while ((r = cli_args_next(&a, cmd, set_opts, &o, &val, err)) > 0) {
		if (r == CLI_ARG_POS) {
			r = cli_arg_ctid("set", val, &ctid, err);
			if (r < 0)
				return r;
			continue;
		}
		if (strcmp(o->name, "save") == 0) {
			cmd->save = true;
			json_object_set_new(args, "save", json_true());
		} else if (strcmp(o->name, "nowait") == 0) {
			json_object_set_new(args, "nowait", json_true());
		} else if (strcmp(o->name, "setmode") == 0) {
			if (strcmp(val, "restart") != 0 && strcmp(val, "ignore") != 0)
				return st_error_setx(
					err, ST_EXIT_BADARG, 0,
					"set: invalid --setmode `%s`: use restart or ignore", val);
			json_object_set_new(args, "setmode", json_string(val));
		} else if (cli_set_opt_is_list(o->name)) {
			cli_opt_append(options, o->name, val);
		} else {
			json_object_set_new(options, o->name, json_string(val));
		}
	}
	if (r < 0 || cmd->action != CLI_REQUEST)
		return r;
	if (!ctid)
		return st_error_setx(
			err, ST_EXIT_BADARG, 0,
			"set: missing CTID (strata set CTID --option value ... [--save])");
	if (json_object_size(options) == 0)
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "set %s: nothing to set (see strata set --help)", ctid);
	json_object_set_new(cmd->req, "ctid", json_string(ctid));
	cmd->ctid = take_ptr(ctid);
	return 0;
}

const struct cli_verb cli_verb_set = {
	.name = "set",
	.summary = "change a container's resources and settings",
	.usage =
		"strata set CTID [--save] [--setmode restart|ignore] [--nowait] OPTION VALUE...\n"
		"\n"
		"Apply settings to the container, live where the kernel allows; --save also\n"
		"writes them to /etc/strata/ct/CTID.conf. A setting that needs a restart is\n"
		"refused on a running container without --save; with --save it is saved for\n"
		"the next start, with a warning naming it, unless --setmode restart (restart\n"
		"the container now) or --setmode ignore (no warning) is given.\n"
		"\n"
		"Resources:  --ram SIZE  --swap SIZE  --memguarantee PCT  --memory_merge yes|no\n"
		"            --cpuunits N  --cpulimit PCT  --cpus N  --cpumask CPUS  --numproc N\n"
		"            --ioprio 0-7  --iolimit BYTES/s  --iopslimit N  --diskspace SIZE\n"
		"Identity:   --hostname HOST  --name NAME  --description TEXT  --onboot yes|no\n"
		"            --capability NAME:on|off\n"
		"Network:    --ipadd ADDR|auto|auto6  --ipdel ADDR|all  --nameserver ADDR\n"
		"            --searchdomain DOM  --rate DEV:CLASS:KBITS  --netmode MODE\n"
		"            --netif_add IFNAME[,MAC,HOST_IFNAME,HOST_MAC,BRIDGE]  --netif_del IFNAME|all\n"
		"            --ifname IFNAME [--mac MAC] [--host_ifname NAME] [--host_mac MAC]\n"
		"            [--bridge BR] [--gw ADDR] [--gw6 ADDR]  (that NETIF entry; next start)\n"
		"\n"
		"Options given several times (--ipadd, --ipdel, --nameserver, --searchdomain,\n"
		"--capability, --netif_add, --netif_del) add up.\n",
	.opts = set_opts,
	.parse = set_parse,
	.done = "updated",
};
