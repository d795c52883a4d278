/* SPDX-License-Identifier: GPL-2.0-or-later */
/* strata's argv parsing and request building; no daemon (output formats:
 * test_cli_output.c). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "tests/unit/test_cli_util.h"

TestSuite(cli, .init = setup, .fini = teardown);

/* --- verbs and their requests ----------------------------------------- */

Test(cli, create_builds_request)
{
	cr_assert_eq(parse("create", "9201", "--ostemplate", "busybox@1", "--ipadd", "10.1.0.2",
			   "--ipadd=10.1.0.3", "--hostname", "ct9201", "--layout", "image",
			   "--config", "basic", "--name", "web", "--private", "/srv/p", "--root",
			   "/srv/r", "--ram", "256M", NULL),
		     0);
	cr_assert_eq(cmd.action, CLI_REQUEST);
	cr_assert_str_eq(req_str("verb"), "create");
	cr_assert_str_eq(req_str("ctid"), "9201");
	cr_assert_str_eq(json_string_value(arg("ostemplate")), "busybox@1");
	cr_assert_str_eq(json_string_value(arg("hostname")), "ct9201");
	cr_assert_str_eq(json_string_value(arg("layout")), "image");
	cr_assert_str_eq(json_string_value(arg("config")), "basic");
	cr_assert_str_eq(json_string_value(arg("name")), "web");
	cr_assert_str_eq(json_string_value(arg("private")), "/srv/p");
	cr_assert_str_eq(json_string_value(arg("root")), "/srv/r");
	cr_assert_null(arg("ram"));
	cr_assert_str_eq(json_string_value(json_object_get(arg("options"), "ram")), "256M");
	cr_assert(json_is_array(arg("ipadd")));
	cr_assert_eq(json_array_size(arg("ipadd")), 2);
	cr_assert_str_eq(json_string_value(json_array_get(arg("ipadd"), 1)), "10.1.0.3");
}

Test(cli, create_rejects_bad_layout_and_missing_ctid)
{
	cr_assert_lt(parse("create", "9201", "--layout", "zfs", NULL), 0);
	expect_badarg("zfs");
	st_error_freep(&err);
	cli_cmd_free(&cmd);
	cr_assert_lt(parse("create", "--ostemplate", "busybox", NULL), 0);
	expect_badarg("missing CTID");
}

Test(cli, option_needs_value)
{
	cr_assert_lt(parse("create", "9201", "--ostemplate", NULL), 0);
	expect_badarg("--ostemplate needs a value");
}

Test(cli, flag_takes_no_value)
{
	cr_assert_lt(parse("start", "9201", "--wait=yes", NULL), 0);
	expect_badarg("--wait takes no value");
}

Test(cli, simple_verbs)
{
	static const struct {
		const char *typed, *verb;
	} cases[] = {
		{ "destroy", "destroy" }, { "delete", "destroy" },  { "start", "start" },
		{ "stop", "stop" },	  { "restart", "restart" }, { "status", "status" },
		{ "mount", "mount" },	  { "umount", "umount" },   { "suspend", "suspend" },
		{ "chkpnt", "suspend" },  { "resume", "resume" },   { "restore", "resume" },
		{ "enter", "enter" },	  { "console", "console" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cli_cmd_free(&cmd);
		cr_assert_eq(parse(cases[i].typed, "9205", NULL), 0, "%s", cases[i].typed);
		cr_assert_str_eq(req_str("verb"), cases[i].verb);
		cr_assert_str_eq(req_str("ctid"), "9205");
		cr_assert_str_eq(cmd.ctid, "9205");
	}
}

Test(cli, create_set_options_go_in_options)
{
	cr_assert_eq(parse("create", "9201", "--nameserver", "1.1.1.1", "--nameserver", "8.8.8.8",
			   "--diskspace", "2G", "--nowait", NULL),
		     0);
	json_t *o = arg("options");
	cr_assert_str_eq(json_string_value(json_object_get(o, "nameserver")), "1.1.1.1 8.8.8.8");
	cr_assert_str_eq(json_string_value(json_object_get(o, "diskspace")), "2G");
	cr_assert(json_is_true(arg("nowait")));
	cr_assert_null(arg("ostemplate"));
}

Test(cli, nowait_on_locking_verbs)
{
	const char *verbs[] = { "destroy", "start",  "stop",	"restart",
				"mount",   "umount", "suspend", "resume" };

	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
		cli_cmd_free(&cmd);
		cr_assert_eq(parse(verbs[i], "9201", "--nowait", NULL), 0, "%s", verbs[i]);
		cr_assert(json_is_true(arg("nowait")), "%s", verbs[i]);
	}
	cli_cmd_free(&cmd);
	cr_assert_eq(parse("set", "9201", "--nowait", "--ram", "1G", NULL), 0);
	cr_assert(json_is_true(arg("nowait")));
	cr_assert_null(json_object_get(arg("options"), "nowait"));
	cli_cmd_free(&cmd);
	/* status takes no lock and no --nowait */
	cr_assert_lt(parse("status", "9201", "--nowait", NULL), 0);
	expect_badarg("--nowait");
}

Test(cli, start_wait_stop_fast)
{
	cr_assert_eq(parse("start", "--wait", "9201", NULL), 0);
	cr_assert(json_is_true(arg("wait")));
	cli_cmd_free(&cmd);
	cr_assert_eq(parse("stop", "9201", "--fast", NULL), 0);
	cr_assert(json_is_true(arg("fast")));
	cr_assert_null(arg("wait"));
}

Test(cli, unknown_option_every_verb)
{
	for (const struct cli_verb *const *v = cli_verbs; *v; v++) {
		if (strcmp((*v)->name, "check") == 0)
			continue; /* cmd_check parses its own options */
		cli_cmd_free(&cmd);
		st_error_freep(&err);
		cr_assert_lt(parse((*v)->name, "--bogus-option", "9201", NULL), 0, "%s",
			     (*v)->name);
		expect_badarg("--bogus-option");
		cr_assert_not_null(strstr(err->msg, (*v)->name), "%s", err->msg);
	}
}

Test(cli, unknown_short_option)
{
	cr_assert_lt(parse("list", "-aZ", NULL), 0);
	expect_badarg("-Z");
}

Test(cli, ctid_zero_refused)
{
	cr_assert_lt(parse("start", "0", NULL), 0);
	expect_badarg("CTID 0");
	cr_assert_not_null(strstr(err->msg, "reserved"));
}

Test(cli, ctid_reserved_and_huge_refused)
{
	cr_assert_lt(parse("start", "100", NULL), 0);
	expect_badarg("reserved");
	st_error_freep(&err);
	cli_cmd_free(&cmd);
	cr_assert_lt(parse("start", "99999999999", NULL), 0);
	expect_badarg("too large");
}

Test(cli, ctid_with_slash_refused)
{
	cr_assert_lt(parse("status", "a/b", NULL), 0);
	expect_badarg("`/` is not allowed");
	cr_assert_null(cmd.req ? json_object_get(cmd.req, "ctid") : NULL);
}

Test(cli, ctid_bad_names_refused)
{
	const char *bad[] = { "-x", ".hidden", "a b", "a;b", "" };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *out = NULL;

		st_error_freep(&err);
		cr_assert_lt(cli_ctid_check("start", bad[i], &out, &err), 0, "`%s`", bad[i]);
		cr_assert_eq(err->exit_code, ST_EXIT_BADARG);
		cr_assert_null(out);
	}
}

Test(cli, ctid_normalised_and_names_accepted)
{
	char *out = NULL;

	cr_assert_eq(cli_ctid_check("start", "09201", &out, &err), 0);
	cr_assert_str_eq(out, "9201");
	free(out);
	cr_assert_eq(cli_ctid_check("start", "web-1.example_x", &out, &err), 0);
	cr_assert_str_eq(out, "web-1.example_x");
	free(out);
}

Test(cli, extra_argument_refused)
{
	cr_assert_lt(parse("destroy", "9201", "9202", NULL), 0);
	expect_badarg("unexpected argument `9202`");
}

/* start and stop take several CTIDs, each checked before anything is sent */
Test(cli, start_takes_several_ctids)
{
	cr_assert_eq(parse("start", "9201", "9202", "web", NULL), 0);
	cr_assert_str_eq(cmd.ctid, "9201");
	cr_assert_not_null(cmd.more_ctids);
	cr_assert_str_eq(cmd.more_ctids[0], "9202");
	cr_assert_str_eq(cmd.more_ctids[1], "web");
	cr_assert_null(cmd.more_ctids[2]);
	cli_cmd_free(&cmd);
	cr_assert_lt(parse("stop", "9201", "a/b", NULL), 0);
	expect_badarg("a/b");
}

Test(cli, unknown_verb)
{
	cr_assert_lt(parse("frobnicate", "9201", NULL), 0);
	expect_badarg("unknown verb `frobnicate`");
	st_error_freep(&err);
	cli_cmd_free(&cmd);
	cr_assert_lt(parse(NULL), 0);
	expect_badarg("no verb");
}

/* --- set --------------------------------------------------------------- */

Test(cli, set_options_without_dashes)
{
	cr_assert_eq(parse("set", "9201", "--ram", "512M", "--swap=1G", "--cpus", "2", "--ipadd",
			   "10.0.0.2", "--ipadd", "10.0.0.3", "--nameserver", "1.1.1.1",
			   "--capability", "net_admin:on", "--onboot", "yes", "--save", "--setmode",
			   "restart", "--memory_merge", "yes", "--netif_add", "eth1", NULL),
		     0);
	cr_assert_str_eq(req_str("verb"), "set");
	json_t *o = arg("options");
	cr_assert(json_is_object(o));
	cr_assert_str_eq(json_string_value(json_object_get(o, "ram")), "512M");
	cr_assert_str_eq(json_string_value(json_object_get(o, "swap")), "1G");
	cr_assert_str_eq(json_string_value(json_object_get(o, "cpus")), "2");
	cr_assert_str_eq(json_string_value(json_object_get(o, "ipadd")), "10.0.0.2 10.0.0.3");
	cr_assert_str_eq(json_string_value(json_object_get(o, "capability")), "net_admin:on");
	cr_assert_str_eq(json_string_value(json_object_get(o, "memory_merge")), "yes");
	cr_assert_str_eq(json_string_value(json_object_get(o, "netif_add")), "eth1");
	cr_assert_null(json_object_get(o, "save"));
	cr_assert(json_is_true(arg("save")));
	cr_assert_str_eq(json_string_value(arg("setmode")), "restart");
	cr_assert(cmd.save);
}

Test(cli, set_every_documented_option_accepted)
{
	const char *names[] = { "ram",		"swap",	       "memguarantee", "cpuunits",
				"cpulimit",	"cpus",	       "cpumask",      "numproc",
				"ioprio",	"iolimit",     "iopslimit",    "diskspace",
				"hostname",	"ipadd",       "ipdel",	       "nameserver",
				"searchdomain", "onboot",      "capability",   "name",
				"description",	"netif_add",   "netif_del",    "ifname",
				"gw",		"memory_merge" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char opt[64];

		snprintf(opt, sizeof(opt), "--%s", names[i]);
		cli_cmd_free(&cmd);
		cr_assert_eq(parse("set", "9201", opt, "v", NULL), 0, "%s", opt);
		cr_assert_str_eq(json_string_value(json_object_get(arg("options"), names[i])), "v");
	}
}

Test(cli, set_unknown_option_names_it)
{
	cr_assert_lt(parse("set", "9201", "--ram", "1G", "--rambo", "1G", NULL), 0);
	expect_badarg("unknown option --rambo");
}

Test(cli, set_unknown_option_with_value_syntax)
{
	cr_assert_lt(parse("set", "9201", "--kmemsize=10", NULL), 0);
	expect_badarg("--kmemsize");
	cr_assert_null(strstr(err->msg, "=10"), "%s", err->msg);
}

Test(cli, set_needs_something)
{
	cr_assert_lt(parse("set", "9201", "--save", NULL), 0);
	expect_badarg("nothing to set");
}

Test(cli, set_bad_setmode)
{
	cr_assert_lt(parse("set", "9201", "--ram", "1G", "--setmode", "later", NULL), 0);
	expect_badarg("later");
}

/* --- exec family ------------------------------------------------------ */

static const char *argv_at(size_t i)
{
	return json_string_value(json_array_get(arg("argv"), i));
}

Test(cli, exec_single_argument_runs_via_shell)
{
	cr_assert_eq(parse("exec2", "9201", "exit 7", NULL), 0);
	cr_assert_str_eq(req_str("verb"), "exec");
	cr_assert_eq(json_array_size(arg("argv")), 3);
	cr_assert_str_eq(argv_at(0), "/bin/sh");
	cr_assert_str_eq(argv_at(1), "-c");
	cr_assert_str_eq(argv_at(2), "exit 7");
	cr_assert(json_is_false(arg("tty")));
	cr_assert_eq(cmd.exec_mode, CLI_EXEC_CODE);
}

Test(cli, exec_several_arguments_kept_apart)
{
	cr_assert_eq(parse("exec", "9201", "printf", "%s|", "a b", "--bogus", NULL), 0);
	cr_assert_eq(cmd.exec_mode, CLI_EXEC_STATUS);
	/* run as they are, not through a shell whose messages would name
	 * the command as its script ("nosuch: exec: line 0: ...") */
	cr_assert_eq(json_array_size(arg("argv")), 4);
	cr_assert_str_eq(argv_at(0), "printf");
	cr_assert_str_eq(argv_at(1), "%s|");
	cr_assert_str_eq(argv_at(2), "a b");
	cr_assert_str_eq(argv_at(3), "--bogus");
	/* a sane PATH reaches the command */
	json_t *env = arg("env");
	bool path = false;
	for (size_t i = 0; i < json_array_size(env); i++)
		if (strncmp(json_string_value(json_array_get(env, i)), "PATH=", 5) == 0)
			path = true;
	cr_assert(path);
}

Test(cli, exec_dash_reads_stdin)
{
	cr_assert_eq(parse("exec", "9201", "-", NULL), 0);
	cr_assert_eq(json_array_size(arg("argv")), 1);
	cr_assert_str_eq(argv_at(0), "/bin/sh");
}

Test(cli, exec_needs_command)
{
	cr_assert_lt(parse("exec2", "9201", NULL), 0);
	expect_badarg("missing command");
}

Test(cli, exec_help_before_ctid)
{
	cr_assert_eq(parse("exec2", "--help", NULL), 0);
	cr_assert_eq(cmd.action, CLI_HELP);
	cr_assert_str_eq(cmd.verb->name, "exec2");
}

Test(cli, runscript_sends_file_on_stdin)
{
	cr_assert_eq(parse("runscript", "9201", "/tmp/setup.sh", NULL), 0);
	cr_assert_str_eq(req_str("verb"), "exec");
	cr_assert_str_eq(cmd.stdin_file, "/tmp/setup.sh");
	cr_assert_str_eq(argv_at(0), "/bin/sh");
	cli_cmd_free(&cmd);
	cr_assert_lt(parse("runscript", "9201", NULL), 0);
	expect_badarg("missing FILE");
}

Test(cli, enter_and_console_modes)
{
	cr_assert_eq(parse("enter", "9201", NULL), 0);
	cr_assert(cmd.tty);
	cr_assert(json_is_true(arg("tty")));
	cr_assert_eq(cmd.exec_mode, CLI_EXEC_CODE);
	cli_cmd_free(&cmd);
	cr_assert_eq(parse("console", "9201", NULL), 0);
	cr_assert(cmd.stream);
	cr_assert_str_eq(req_str("verb"), "console");
}

/* vzctl's enter CTID --exec COMMAND [ARG...]: the words, joined, typed into
 * the shell; --exec before the CTID or without a command is refused. */
Test(cli, enter_exec_as_vzctl)
{
	cr_assert_eq(parse("enter", "9201", "--exec", "echo", "a b", "--x", NULL), 0);
	cr_assert_str_eq(req_str("verb"), "enter");
	cr_assert(cmd.tty);
	cr_assert_str_eq(cmd.enter_exec, "echo a b --x");
	cli_cmd_free(&cmd);
	cr_assert_lt(parse("enter", "--exec", "ls", "9201", NULL), 0);
	cli_cmd_free(&cmd);
	cr_assert_lt(parse("enter", "9201", "--exec", NULL), 0);
	cli_cmd_free(&cmd);
	cr_assert_lt(parse("enter", "9201", "9202", NULL), 0);
}

/* --- list, template, help --------------------------------------------- */

Test(cli, list_options)
{
	cr_assert_eq(
		parse("list", "-a", "-o", "ctid,hostname,ostemplate", "-s", "-numproc", "-H", NULL),
		0);
	cr_assert_str_eq(req_str("verb"), "list");
	cr_assert(json_is_true(arg("all")));
	cr_assert_str_eq(cmd.fields[0], "ctid");
	cr_assert_str_eq(cmd.fields[2], "ostemplate");
	cr_assert_null(cmd.fields[3]);
	cr_assert_str_eq(cmd.sort, "numproc");
	cr_assert(cmd.sort_desc);
	cr_assert(cmd.no_header);
	cr_assert_null(req_str("ctid"));
}

Test(cli, list_grouped_short_flags)
{
	cr_assert_eq(parse("list", "-SHj", "-octid", NULL), 0);
	cr_assert(json_is_true(arg("stopped")));
	cr_assert(cmd.no_header);
	cr_assert(cmd.json);
	cr_assert_str_eq(cmd.fields[0], "ctid");
}

Test(cli, list_unknown_field)
{
	cr_assert_lt(parse("list", "-o", "ctid,nosuch", NULL), 0);
	expect_badarg("unknown field `nosuch`");
	st_error_freep(&err);
	cli_cmd_free(&cmd);
	cr_assert_lt(parse("list", "-s", "-nosuch", NULL), 0);
	expect_badarg("unknown field `nosuch`");
}

Test(cli, list_L_and_name)
{
	cr_assert_eq(parse("list", "-L", NULL), 0);
	cr_assert_eq(cmd.action, CLI_LIST_FIELDS);
	cli_cmd_free(&cmd);
	cr_assert_eq(parse("list", "-n", NULL), 0);
	cr_assert_str_eq(cmd.fields[4], "name");
}

Test(cli, template_verbs)
{
	cr_assert_eq(parse("template", "build", "busybox", NULL), 0);
	cr_assert_str_eq(req_str("verb"), "template-build");
	cr_assert_str_eq(json_string_value(arg("name")), "busybox");
	cli_cmd_free(&cmd);
	cr_assert_eq(parse("template", "list", "-j", NULL), 0);
	cr_assert_str_eq(req_str("verb"), "template-list");
	cr_assert(cmd.json);
	cli_cmd_free(&cmd);
	cr_assert_eq(parse("template", "export", "busybox@2", "out.sqfs", NULL), 0);
	const char *file = json_string_value(arg("file"));
	cr_assert_eq(file[0], '/', "%s", file);
	cr_assert_not_null(strstr(file, "/out.sqfs"));
	cli_cmd_free(&cmd);
	cr_assert_lt(parse("template", "import", "x", "/nonexistent/stcli.sqfs", NULL), 0);
	cr_assert_eq(err->exit_code, ST_EXIT_BADARG);
	cr_assert_not_null(strstr(err->msg, "No such file"), "%s", err->msg);
	st_error_freep(&err);
	cli_cmd_free(&cmd);
	cr_assert_lt(parse("template", "frob", NULL), 0);
	expect_badarg("frob");
}

Test(cli, help_and_version)
{
	cr_assert_eq(parse("start", "--help", NULL), 0);
	cr_assert_eq(cmd.action, CLI_HELP);
	cr_assert_str_eq(cmd.verb->name, "start");
	cli_cmd_free(&cmd);
	cr_assert_eq(parse("help", "set", NULL), 0);
	cr_assert_eq(cmd.action, CLI_HELP);
	cr_assert_str_eq(cmd.verb->name, "set");
	cli_cmd_free(&cmd);
	cr_assert_eq(parse("--version", NULL), 0);
	cr_assert_eq(cmd.action, CLI_VERSION);
	cli_cmd_free(&cmd);
	/* --help wins over a bad argument */
	cr_assert_eq(parse("start", "0", "-h", NULL), 0);
	cr_assert_eq(cmd.action, CLI_HELP);
	cr_assert_null(err);
}

Test(cli, usage_for_every_verb)
{
	for (const struct cli_verb *const *v = cli_verbs; *v; v++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		cli_usage_print(f, *v);
		fclose(f);
		cr_assert_not_null(strstr(buf, (*v)->name), "%s", (*v)->name);
		cr_assert_gt(len, 40);
		free(buf);
	}
}

Test(cli, global_options)
{
	cr_assert_eq(
		parse("--socket", "/tmp/stcli-x.sock", "-q", "status", "9201", "-j", "-v", NULL),
		0);
	cr_assert_str_eq(cmd.socket, "/tmp/stcli-x.sock");
	cr_assert(cmd.quiet);
	cr_assert(cmd.json);
	cr_assert_eq(cmd.verbose, 1);
	cli_cmd_free(&cmd);
	cr_assert_eq(parse("start", "9201", "--socket=/tmp/stcli-y.sock", NULL), 0);
	cr_assert_str_eq(cmd.socket, "/tmp/stcli-y.sock");
	cli_cmd_free(&cmd);
	cr_assert_lt(parse("--bogus", "start", NULL), 0);
	expect_badarg("--bogus");
}

Test(cli, check_hands_argv_over)
{
	cr_assert_eq(parse("check", "--json", NULL), 0);
	cr_assert_eq(cmd.action, CLI_CHECK);
	cr_assert_eq(cmd.check_argc, 2);
	cr_assert_str_eq(cmd.check_argv[0], "check");
	cr_assert_str_eq(cmd.check_argv[1], "--json");
}

/* --- checkpoint area (issue 7): suspend / resume options --- */
Test(cli, suspend_resume_options)
{
	cr_assert_eq(parse("chkpnt", "9350", "--dumpfile", "/srv/d/9350", NULL), 0);
	cr_assert_str_eq(req_str("verb"), "suspend");
	cr_assert_str_eq(json_string_value(arg("dumpfile")), "/srv/d/9350");
	cli_cmd_free(&cmd);
	cr_assert_eq(parse("restore", "9350", "--keep", NULL), 0);
	cr_assert_str_eq(req_str("verb"), "resume");
	cr_assert(json_is_true(arg("keep")));
	cli_cmd_free(&cmd);
	cr_assert_eq(parse("suspend", "--all", NULL), 0);
	cr_assert_str_eq(req_str("verb"), "suspend-all");
	cr_assert_null(json_object_get(cmd.req, "ctid"));
	cli_cmd_free(&cmd);
	cr_assert_eq(parse("resume", "--all", "--keep", NULL), 0);
	cr_assert_str_eq(req_str("verb"), "resume-all");
	cli_cmd_free(&cmd);
	cr_assert_lt(parse("suspend", "9350", "--dumpfile", "relative", NULL), 0);
	expect_badarg("absolute");
	st_error_freep(&err);
	cli_cmd_free(&cmd);
	cr_assert_lt(parse("suspend", "9350", "--all", NULL), 0);
	expect_badarg("--all");
	st_error_freep(&err);
	cli_cmd_free(&cmd);
	cr_assert_lt(parse("resume", "--all", "--dumpfile", "/x", NULL), 0);
	expect_badarg("--dumpfile");
}
/* --- end checkpoint area --- */
