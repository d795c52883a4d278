/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stratad against the real kernel (root), 3 of 3: what the daemon is told
 * -- bad requests and their exit codes, failed creates that leave nothing,
 * id ranges, `set` live and saved, restart-only keys, broken and
 * overlapping configs named with file and line, CAPABILITY, and who may
 * ask at all. Same harness and setup as test_daemon.c (its header says
 * more); containers 9100-9199.
 */
#include <criterion/criterion.h>
#include <grp.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "tests/helpers/daemonutil.h"
#include "tests/helpers/testutil.h"
#include "tests/integration/test_daemon_util.h"

TestSuite(daemon, .init = daemon_setup, .fini = du_teardown, .timeout = 120);

Test(daemon, bad_requests_get_their_errors)
{
	char *msg = NULL;

	cr_assert_eq(du_call("start", "9199", NULL, NULL, NULL), 14, "unknown CTID");
	cr_assert_eq(du_call("start", "0", NULL, NULL, &msg), 20, "CTID 0");
	cr_assert(strstr(msg, "101"), "%s", msg);
	cr_assert_eq(du_call("create", "a/b", NULL, NULL, NULL), 20, "name with '/'");
	cr_assert_eq(du_call("create", "..", NULL, NULL, NULL), 20, "name `..`");
	cr_assert_eq(du_call("frobnicate", NULL, NULL, NULL, NULL), 101, "unknown verb");
	cr_assert_eq(du_call("start", "9104", json_pack("{s:b}", "bogus", 1), NULL, NULL), 20,
		     "unknown argument");

	cr_assert_eq(
		du_call("create", "9104", json_pack("{s:s}", "ostemplate", "tiny"), NULL, NULL), 0);
	cr_assert_eq(
		du_call("create", "9104", json_pack("{s:s}", "ostemplate", "tiny"), NULL, NULL), 44,
		"create twice");
	cr_assert_eq(du_call("stop", "9104", NULL, NULL, NULL), 31, "stop a stopped one");
	cr_assert_eq(du_call("start", "9104", NULL, NULL, NULL), 0);
	cr_assert_eq(du_call("start", "9104", NULL, NULL, NULL), 32, "start twice");
	cr_assert_eq(du_call("destroy", "9104", NULL, NULL, NULL), 32, "destroy a running one");
	cr_assert_eq(du_call("exec", "9199", json_pack("{s:[s]}", "argv", "/bin/true"), NULL, NULL),
		     14);

	/* malformed JSON straight on the socket */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[512] = "";
	strncpy(sa.sun_path, du.sock, sizeof(sa.sun_path) - 1);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(write(fd, "{\"verb\": \"start\", \n", 19), 19);
	cr_assert_gt(read(fd, buf, sizeof(buf) - 1), 0);
	cr_assert(strstr(buf, "\"ok\":false") && strstr(buf, "\"exit\":101"), "%s", buf);
	/* the connection still serves a good request after a bad one */
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(write(fd, "{\"verb\":\"ping\"}\n", 16), 16);
	cr_assert_gt(read(fd, buf, sizeof(buf) - 1), 0);
	cr_assert(strstr(buf, "\"ok\":true"), "%s", buf);
	/* a CTID as a JSON number is named as such, not "no CTID given" */
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(write(fd, "{\"verb\":\"status\",\"ctid\":9104}\n", 30), 30);
	cr_assert_gt(read(fd, buf, sizeof(buf) - 1), 0);
	cr_assert(strstr(buf, "\"ok\":false") && strstr(buf, "must be a string"), "%s", buf);
	close(fd);
}

Test(daemon, failed_create_leaves_nothing)
{
	_cleanup_free_ char *priv = NULL, *cfg = NULL;
	char *msg = NULL;

	cr_assert_eq(du_call("create", "9105", json_pack("{s:s}", "ostemplate", "no-such-template"),
			     NULL, &msg),
		     91, "%s", msg ? msg : "");
	cr_assert_eq(du_call("create", "9105",
			     json_pack("{s:s,s:{s:s}}", "ostemplate", "tiny", "options", "cpuunits",
				       "3"),
			     NULL, &msg),
		     21, "%s", msg ? msg : "");
	cr_assert(strstr(msg, "8 to 500000"), "%s", msg);
	cr_assert_geq(asprintf(&priv, "%s/private/9105", du.tmp), 0);
	cr_assert_geq(asprintf(&cfg, "%s/ct/9105.conf", du.tmp), 0);
	cr_assert(access(priv, F_OK) < 0 && access(cfg, F_OK) < 0, "failed create left files");
	cr_assert_eq(du_call("status", "9105", NULL, NULL, NULL), 14);
}

Test(daemon, id_ranges_are_distinct_and_persisted)
{
	json_t *res = NULL, *c;
	size_t i;
	const char *a = NULL, *b = NULL;

	cr_assert_eq(
		du_call("create", "9106", json_pack("{s:s}", "ostemplate", "tiny"), NULL, NULL), 0);
	cr_assert_eq(
		du_call("create", "9107", json_pack("{s:s}", "ostemplate", "tiny"), NULL, NULL), 0);
	cr_assert_eq(du_call("list", NULL, json_pack("{s:b}", "all", 1), &res, NULL), 0);
	json_array_foreach (json_object_get(res, "containers"), i, c) {
		const char *id = json_string_value(json_object_get(c, "ctid"));
		if (!strcmp(id, "9106"))
			a = json_string_value(json_object_get(c, "id_base"));
		if (!strcmp(id, "9107"))
			b = json_string_value(json_object_get(c, "id_base"));
	}
	cr_assert(a && b);
	cr_assert_str_neq(a, b);
	cr_assert_eq(labs(atol(a) - atol(b)) % 65536, 0);
	json_decref(res);
}

Test(daemon, set_live_and_save)
{
	char *msg = NULL;
	_cleanup_free_ char *cfg = NULL, *text = NULL, *lim = NULL;
	char p[256];

	cr_assert_eq(
		du_call("create", "9108", json_pack("{s:s}", "ostemplate", "tiny"), NULL, NULL), 0);
	cr_assert_eq(du_call("start", "9108", NULL, NULL, &msg), 0, "%s", msg ? msg : "");
	cr_assert_eq(du_call("set", "9108",
			     json_pack("{s:{s:s,s:s},s:b}", "options", "ram", "256M", "numproc",
				       "100", "save", 1),
			     NULL, &msg),
		     0, "set: %s", msg ? msg : "");
	snprintf(p, sizeof(p), "/sys/fs/cgroup/memory/%s/9108/memory.limit_in_bytes", du.subtree);
	lim = tu_read_file(p);
	cr_assert_not_null(lim);
	cr_assert_eq(atoll(lim), 256LL << 20, "memory limit is %s", lim);
	cr_assert_geq(asprintf(&cfg, "%s/ct/9108.conf", du.tmp), 0);
	text = tu_read_file(cfg);
	cr_assert(strstr(text, "PHYSPAGES=\"256M\"") && strstr(text, "NUMPROC=\"100\""), "%s",
		  text);
	cr_assert_eq(du_call("set", "9108", json_pack("{s:{s:s}}", "options", "cpuunits", "1"),
			     NULL, &msg),
		     21, "%s", msg ? msg : "");
}

Test(daemon, set_setmode_restart_restarts)
{
	char *msg = NULL;
	pid_t pid;

	cr_assert_eq(
		du_call("create", "9114", json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg), 0,
		"%s", msg);
	cr_assert_eq(du_call("start", "9114", NULL, NULL, &msg), 0, "%s", msg);
	pid = du_ct_pid("9114");
	/* SEARCHDOMAIN is restart-only (HOSTNAME is live since issue 6) */
	cr_assert_eq(du_call("set", "9114",
			     json_pack("{s:{s:s}}", "options", "searchdomain", "x1.example"), NULL,
			     &msg),
		     109, "a restart-only key without save/setmode on a running container: %s",
		     msg);
	cr_assert_eq(du_call("set", "9114",
			     json_pack("{s:{s:s},s:b,s:s}", "options", "searchdomain", "x1.example",
				       "save", 1, "setmode", "restart"),
			     NULL, &msg),
		     0, "%s", msg);
	cr_assert(du_running("9114"));
	cr_assert_neq(du_ct_pid("9114"), pid, "not restarted");
	_cleanup_free_ char *out = NULL;
	const char *rc[] = { "/bin/testinit", "cat", "/etc/resolv.conf", NULL };
	cr_assert_eq(du_exec_out("9114", rc, &out), 0);
	cr_assert(strstr(out, "search x1.example\n"), "resolv.conf after restart: %s", out);
}

Test(daemon, broken_config_is_named_with_file_and_line)
{
	_cleanup_free_ char *path = NULL;
	json_t *res = NULL;
	char *msg = NULL;

	cr_assert_geq(asprintf(&path, "%s/ct/9119.conf", du.tmp), 0);
	cr_assert_eq(tu_write_file(path, "OSTEMPLATE=\"tiny\"\nID_BASE=\"2000000\"\nFROB=\"1\"\n"),
		     0);
	kill(du.pid, SIGHUP); /* re-read the container configs */
	for (int i = 0; i < 100; i++) {
		if (du_call("status", "9119", NULL, &res, NULL) == 0)
			break;
		usleep(10000);
	}
	cr_assert_not_null(res, "the daemon did not pick up the new config on SIGHUP");
	cr_assert(json_is_true(json_object_get(res, "exist")));
	json_decref(res);
	cr_assert_eq(du_call("start", "9119", NULL, NULL, &msg), 109, "%s", msg);
	cr_assert(strstr(msg, "9119.conf:3") && strstr(msg, "FROB"), "%s", msg);
	cr_assert_eq(
		tu_write_file(path, "OSTEMPLATE=\"tiny\"\nID_BASE=\"2000000\"\nCPUUNITS=\"1\"\n"),
		0);
	cr_assert_eq(du_call("start", "9119", NULL, NULL, &msg), 109, "%s", msg);
	cr_assert(strstr(msg, "9119.conf:3") && strstr(msg, "8 to 500000"), "%s", msg);
}

Test(daemon, overlapping_id_base_is_refused)
{
	_cleanup_free_ char *path = NULL;
	json_t *res = NULL, *c;
	const char *base = NULL;
	char *msg = NULL, text[256];
	size_t i;

	cr_assert_eq(
		du_call("create", "9143", json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg), 0,
		"%s", msg);
	cr_assert_eq(du_call("list", NULL, json_pack("{s:b}", "all", 1), &res, NULL), 0);
	json_array_foreach (json_object_get(res, "containers"), i, c) {
		if (!strcmp(json_string_value(json_object_get(c, "ctid")), "9143"))
			base = json_string_value(json_object_get(c, "id_base"));
	}
	cr_assert_not_null(base);
	/* a hand-written config that reuses 9143's host ids */
	cr_assert_geq(asprintf(&path, "%s/ct/9144.conf", du.tmp), 0);
	snprintf(text, sizeof(text), "OSTEMPLATE=\"tiny\"\nID_BASE=\"%s\"\n", base);
	json_decref(res);
	cr_assert_eq(tu_write_file(path, text), 0);
	kill(du.pid, SIGHUP);
	for (int k = 0; k < 100 && du_call("status", "9144", NULL, NULL, NULL) != 0; k++)
		usleep(10000);
	cr_assert_eq(du_call("start", "9144", NULL, NULL, &msg), 109, "%s", msg);
	cr_assert(strstr(msg, "9143"), "%s", msg);
}

static unsigned long long capbnd(const char *ctid)
{
	_cleanup_free_ char *out = NULL;
	const char *sh[] = { "/bin/sh", "-c", "grep CapBnd /proc/1/status", NULL };
	char *p;

	cr_assert_eq(du_exec_out(ctid, sh, &out), 0);
	p = strchr(out, ':');
	cr_assert_not_null(p, "%s", out);
	return strtoull(p + 1, NULL, 16);
}

Test(daemon, capability_setting_shapes_the_bounding_set)
{
	char *msg = NULL;
	unsigned long long def, with;

	if (!tu_have_busybox())
		skip_test("no busybox grep");
	cr_assert_eq(
		du_call("create", "9145", json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg), 0,
		"%s", msg);
	cr_assert_eq(du_call("start", "9145", NULL, NULL, &msg), 0, "%s", msg);
	def = capbnd("9145");
	cr_assert_not(def & (1ULL << 16), "sys_module in the default bounding set: %llx", def);
	cr_assert_not(def & (1ULL << 25), "sys_time in the default bounding set: %llx", def);
	cr_assert(def & (1ULL << 21), "sys_admin missing from a system container: %llx", def);
	cr_assert_eq(du_call("stop", "9145", NULL, NULL, &msg), 0, "%s", msg);
	cr_assert_eq(du_call("set", "9145",
			     json_pack("{s:{s:s},s:b}", "options", "capability",
				       "sys_time:on,net_raw:off", "save", 1),
			     NULL, &msg),
		     0, "%s", msg);
	cr_assert_eq(du_call("start", "9145", NULL, NULL, &msg), 0, "%s", msg);
	with = capbnd("9145");
	cr_assert(with & (1ULL << 25), "CAPABILITY=sys_time:on not applied: %llx", with);
	cr_assert_not(with & (1ULL << 13), "CAPABILITY=net_raw:off not applied: %llx", with);
}

Test(daemon, others_get_permission_denied)
{
	struct stat st;

	cr_assert_eq(stat(du.sock, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0660, "socket mode %o", st.st_mode & 0777);
	/* open the socket to everyone so the daemon's own check is what refuses */
	cr_assert_eq(chmod(du.sock, 0666), 0);
	pid_t kid = fork();
	cr_assert_geq(kid, 0);
	if (kid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(100);
		if (du_call("ping", NULL, NULL, NULL, NULL) != 0)
			_exit(1);
		if (du_call("list", NULL, NULL, NULL, NULL) != 12)
			_exit(2);
		if (du_call("create", "9141", json_pack("{s:s}", "ostemplate", "tiny"), NULL,
			    NULL) != 12)
			_exit(3);
		_exit(0);
	}
	int status;
	cr_assert_eq(waitpid(kid, &status, 0), kid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "unprivileged client: step %d",
		  WEXITSTATUS(status));
	cr_assert_eq(du_call("status", "9141", NULL, NULL, NULL), 14,
		     "the refused create did something");
}
