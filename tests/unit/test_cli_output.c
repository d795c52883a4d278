/* SPDX-License-Identifier: GPL-2.0-or-later */
/* strata's output formats: status lines, vzlist tables, JSON, errors,
 * progress events; no daemon. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "tests/unit/test_cli_util.h"

TestSuite(cli_output, .init = setup, .fini = teardown);

/* --- output formats --------------------------------------------------- */

Test(cli_output, status_lines)
{
	json_t *r = json_pack("{s:b, s:b, s:b, s:b}", "exist", 1, "mounted", 1, "running", 1,
			      "suspended", 0);
	char *s = cli_status_line("101", r);

	cr_assert_str_eq(s, "CTID 101 exist mounted running");
	free(s);
	json_decref(r);
	r = json_pack("{s:s, s:b, s:b, s:b}", "ctid", "102", "exist", 0, "mounted", 0, "running",
		      0);
	s = cli_status_line("web", r);
	cr_assert_str_eq(s, "CTID 102 deleted unmounted down");
	free(s);
	json_decref(r);
	r = json_pack("{s:b, s:b, s:b, s:b}", "exist", 1, "mounted", 1, "running", 0, "suspended",
		      1);
	s = cli_status_line("103", r);
	cr_assert_str_eq(s, "CTID 103 exist mounted down suspended");
	free(s);
	json_decref(r);
}

static const char *canned_list =
	"{\"containers\": ["
	"{\"ctid\":\"9203\",\"name\":\"db\",\"status\":\"stopped\",\"numproc\":0,"
	"\"ip\":[],\"hostname\":\"db.local\",\"ostemplate\":\"debian-12\"},"
	"{\"ctid\":\"9201\",\"name\":\"web\",\"status\":\"running\",\"numproc\":12,"
	"\"ip\":[\"10.1.0.2\",\"10.1.0.3\"],\"hostname\":\"web.local\",\"ostemplate\":\"busybox\"},"
	"{\"ctid\":\"9202\",\"name\":null,\"status\":\"running\",\"numproc\":3,"
	"\"ip\":\"10.1.0.9\",\"hostname\":\"\",\"ostemplate\":\"busybox\"}"
	"]}";

static char *list_output(void)
{
	json_t *res = json_loads(canned_list, 0, NULL);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(res);
	cr_assert_eq(cli_list_print(f, &cmd, res, &err), 0);
	fclose(f);
	json_decref(res);
	return buf;
}

Test(cli_output, list_default_columns_like_vzlist)
{
	cr_assert_eq(parse("list", "-a", NULL), 0);
	_cleanup_free_ char *out = list_output();

	cr_assert_str_eq(out, "      CTID      NPROC STATUS    IP_ADDR         HOSTNAME\n"
			      "      9201         12 running   10.1.0.2 10.1.0.3 web.local\n"
			      "      9202          3 running   10.1.0.9        -\n"
			      "      9203          0 stopped   -               db.local\n");
}

Test(cli_output, list_output_fields_sort_noheader)
{
	cr_assert_eq(parse("list", "-o", "name,numproc", "-s", "-numproc", "-H", NULL), 0);
	_cleanup_free_ char *out = list_output();

	cr_assert_str_eq(out, "web                12\n"
			      "-                   3\n"
			      "db                  0\n");
}

Test(cli_output, list_sort_by_string_and_filter)
{
	cr_assert_eq(parse("list", "-o", "ctid,hostname", "-s", "hostname", "web", "9203", NULL),
		     0);
	_cleanup_free_ char *out = list_output();

	cr_assert_str_eq(out, "      CTID HOSTNAME\n"
			      "      9203 db.local\n"
			      "      9201 web.local\n");
}

Test(cli_output, list_fields_the_daemon_does_not_send)
{
	cr_assert_eq(parse("list", "-o", "ctid,ram,uptime", "-s", "ram", "-H", NULL), 0);
	_cleanup_free_ char *out = list_output();

	cr_assert_str_eq(out, "      9201        -          -\n"
			      "      9202        -          -\n"
			      "      9203        -          -\n");
}

Test(cli_output, list_json)
{
	cr_assert_eq(parse("list", "-j", "-o", "ctid,ip", "-s", "ctid", NULL), 0);
	_cleanup_free_ char *out = list_output();
	json_t *arr = json_loads(out, 0, NULL);

	cr_assert(json_is_array(arr), "%s", out);
	cr_assert_eq(json_array_size(arr), 3);
	json_t *first = json_array_get(arr, 0);
	cr_assert_str_eq(json_string_value(json_object_get(first, "ctid")), "9201");
	cr_assert_eq(json_array_size(json_object_get(first, "ip")), 2);
	cr_assert_eq(json_object_size(first), 2);
	json_decref(arr);
}

Test(cli_output, list_json_whole_objects_without_o)
{
	cr_assert_eq(parse("list", "-j", NULL), 0);
	_cleanup_free_ char *out = list_output();
	json_t *arr = json_loads(out, 0, NULL);

	cr_assert_eq(json_array_size(arr), 3);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 2), "ostemplate")),
			 "debian-12");
	json_decref(arr);
}

/* vzlist 999: "Container(s) not found" and an error, not an empty table */
Test(cli_output, list_named_ctid_not_there_is_an_error)
{
	json_t *res = json_loads(canned_list, 0, NULL);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_eq(parse("list", "999", "nosuch", NULL), 0);
	cr_assert_lt(cli_list_print(f, &cmd, res, &err), 0);
	fclose(f);
	cr_assert_eq(err->exit_code, ST_EXIT_NOCONFIG);
	cr_assert_not_null(strstr(err->msg, "Container(s) not found"), "%s", err->msg);
	cr_assert_not_null(strstr(err->msg, "999 nosuch"), "%s", err->msg);
	cr_assert_str_eq(buf, "", "nothing on stdout: %s", buf);
	free(buf);
	json_decref(res);
}

/* the same with -j */
Test(cli_output, list_json_named_ctid_not_there_is_an_error)
{
	json_t *res = json_loads(canned_list, 0, NULL);
	FILE *f = fopen("/dev/null", "w");

	cr_assert_eq(parse("list", "-j", "999", NULL), 0);
	cr_assert_lt(cli_list_print(f, &cmd, res, &err), 0);
	cr_assert_eq(err->exit_code, ST_EXIT_NOCONFIG);
	fclose(f);
	json_decref(res);
}

/* one named CTID found is enough; no CTIDs and no containers: an empty
 * table and success */
Test(cli_output, list_some_found_or_none_asked)
{
	json_t *empty = json_pack("{s:[]}", "containers");
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	cr_assert_eq(parse("list", "-o", "ctid", "-H", "999", "9202", NULL), 0);
	{
		_cleanup_free_ char *out = list_output();

		cr_assert_str_eq(out, "      9202\n");
	}
	cli_cmd_free(&cmd);
	cli_cmd_init(&cmd);
	cr_assert_eq(parse("list", NULL), 0);
	f = open_memstream(&buf, &len);
	cr_assert_eq(cli_list_print(f, &cmd, empty, &err), 0);
	fclose(f);
	cr_assert_str_eq(buf, "      CTID      NPROC STATUS    IP_ADDR         HOSTNAME\n");
	free(buf);
	json_decref(empty);
}

/* reals as a person writes them: 0.1, not 0.10000000000000001 */
Test(cli_output, list_json_reals_sane_precision)
{
	json_t *res = json_pack("{s:[{s:s,s:f,s:f}]}", "containers", "ctid", "9201", "cpupct", 0.1,
				"cpu", 12345.6);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_eq(parse("list", "-j", "-o", "ctid,cpupct,cpu", NULL), 0);
	cr_assert_eq(cli_list_print(f, &cmd, res, &err), 0);
	fclose(f);
	cr_assert_not_null(strstr(buf, "\"cpupct\": 0.1,"), "%s", buf);
	cr_assert_not_null(strstr(buf, "\"cpu\": 12345.6\n"), "%s", buf);
	free(buf);
	json_decref(res);
}

Test(cli_output, list_malformed_reply)
{
	json_t *res = json_pack("{s:i}", "containers", 3);
	FILE *f = fopen("/dev/null", "w");

	cr_assert_eq(parse("list", NULL), 0);
	cr_assert_lt(cli_list_print(f, &cmd, res, &err), 0);
	cr_assert_eq(err->exit_code, ST_EXIT_PROTOCOL);
	fclose(f);
	json_decref(res);
}

Test(cli_output, template_list_table)
{
	json_t *res = json_loads("{\"templates\":[{\"name\":\"busybox\",\"version\":\"1\","
				 "\"hash\":\"0123456789abcdef0123\",\"size\":1048576}]}",
				 0, NULL);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_eq(parse("template", "list", NULL), 0);
	cr_assert_eq(cli_template_list_print(f, &cmd, res, &err), 0);
	fclose(f);
	cr_assert_str_eq(buf, "NAME                 VERSION      HASH         SIZE\n"
			      "busybox              1            0123456789ab 1048576\n");
	free(buf);
	json_decref(res);
}

Test(cli_output, error_text_names_verb_and_ctid_once)
{
	struct st_error e = { .exit_code = 31, .msg = "container is not running" };
	char *t;

	cr_assert_eq(parse("stop", "9201", NULL), 0);
	t = cli_error_text(&cmd, &e);
	cr_assert_str_eq(t, "stop 9201: container is not running");
	free(t);
	e.msg = "stop 9201: container is not running";
	t = cli_error_text(&cmd, &e);
	cr_assert_str_eq(t, "stop 9201: container is not running");
	free(t);
}

/* strata(8)'s exit-code table lists every code of enum st_exit. */
Test(cli_output, man_page_exit_table_in_step)
{
	_cleanup_fclose_ FILE *h = fopen(STRATA_SRCDIR "/ksal/error.h", "re");
	_cleanup_fclose_ FILE *m = fopen(STRATA_SRCDIR "/man/strata.8", "re");
	_cleanup_free_ char *man = NULL;
	char line[512];
	size_t len = 0;
	int codes = 0;

	cr_assert_not_null(h);
	cr_assert_not_null(m);
	cr_assert_gt(getdelim(&man, &len, '\0', m), 0);
	while (fgets(line, sizeof(line), h)) {
		char name[64], want[16];
		int code;

		if (sscanf(line, " ST_EXIT_%63[A-Z_] = %d,", name, &code) != 2)
			continue;
		snprintf(want, sizeof(want), "\n%d\t", code);
		cr_assert_not_null(strstr(man, want),
				   "exit code %d (ST_EXIT_%s) missing in strata.8", code, name);
		codes++;
	}
	cr_assert_gt(codes, 30);
}

/* Progress and log events, not on a terminal: plain lines on stderr. */
static void setup_redirect(void)
{
	setup();
	cr_redirect_stderr();
}

Test(cli_output, progress_events_plain_lines, .init = setup_redirect, .fini = teardown)
{
	json_t *p = json_pack("{s:s, s:s, s:i}", "event", "progress", "message", "unpacking",
			      "percent", 40);
	json_t *p2 = json_pack("{s:s, s:s}", "event", "progress", "message", "hashing");
	json_t *l = json_pack("{s:s, s:s}", "event", "log", "message", "image written");
	json_t *x = json_pack("{s:s}", "event", "future-kind");

	cr_assert_eq(cli_on_event(p, &cmd, &err), 0);
	cr_assert_eq(cli_on_event(p2, &cmd, &err), 0);
	cr_assert_eq(cli_on_event(l, &cmd, &err), 0);
	cr_assert_eq(cli_on_event(x, &cmd, &err), 0);
	cmd.quiet = true;
	cr_assert_eq(cli_on_event(l, &cmd, &err), 0);
	cli_progress_end();
	fflush(stderr);
	cr_assert_stderr_eq_str("unpacking (40%)\nhashing\nimage written\n");
	json_decref(p);
	json_decref(p2);
	json_decref(l);
	json_decref(x);
}
