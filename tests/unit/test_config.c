/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The container config key table, CTID.conf and strata.conf parsers. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "runtime/ctconfig.h"

static struct ct_config *parse_ok(const char *text)
{
	struct ct_config *c = ct_config_new();
	struct st_error *err = NULL;

	cr_assert_not_null(c);
	cr_assert_eq(ct_config_parse(c, "101.conf", text, &err), 0, "parse failed: %s",
		     err ? err->msg : "?");
	return c;
}

/* Parse text, expect failure; return the message (caller frees). */
static char *parse_err(const char *text, int *exit_code)
{
	_cleanup_ct_config_ struct ct_config *c = ct_config_new();
	struct st_error *err = NULL;
	char *msg;

	cr_assert_lt(ct_config_parse(c, "101.conf", text, &err), 0, "`%s` was accepted", text);
	cr_assert_not_null(err);
	msg = strdup(err->msg);
	if (exit_code)
		*exit_code = err->exit_code;
	st_error_free(err);
	return msg;
}

Test(config, every_key_has_a_row_and_unique_name)
{
	for (int i = 0; i < CT_KEY_COUNT; i++) {
		cr_assert_not_null(ct_keys[i].name, "row %d empty", i);
		cr_assert_not_null(ct_keys[i].help, "%s has no help", ct_keys[i].name);
		cr_assert_eq(ct_key_lookup(ct_keys[i].name), i);
		if (ct_keys[i].apply == CT_APPLY_CGROUP)
			cr_assert_not_null(ct_keys[i].to_limits, "%s", ct_keys[i].name);
		for (int j = i + 1; j < CT_KEY_COUNT; j++)
			cr_assert_str_neq(ct_keys[i].name, ct_keys[j].name);
	}
}

Test(config, vzctl_format_quoted_unquoted_comments)
{
	_cleanup_(ct_config_freep) struct ct_config *c =
		parse_ok("# a comment\n"
			 "\n"
			 "OSTEMPLATE=\"debian-12\"\n"
			 "  HOSTNAME=ct101.example.com   # trailing comment\n"
			 "ONBOOT=\"yes\"\n"
			 "DESCRIPTION=\"a \\\"quoted\\\" word\"\n"
			 "STOP_TIMEOUT='30'\n");
	cr_assert_str_eq(ct_config_str(c, CT_OSTEMPLATE), "debian-12");
	cr_assert_str_eq(ct_config_str(c, CT_HOSTNAME), "ct101.example.com");
	cr_assert(ct_config_bool(c, CT_ONBOOT, false));
	cr_assert_str_eq(ct_config_str(c, CT_DESCRIPTION), "a \"quoted\" word");
	cr_assert_eq(ct_config_uint(c, CT_STOP_TIMEOUT, 120), 30);
	cr_assert_eq(ct_config_uint(c, CT_BOOTORDER, 7), 7, "unset key gives the default");
}

Test(config, unknown_key_names_key_file_and_line)
{
	int code = 0;
	_cleanup_free_ char *m = parse_err("HOSTNAME=\"a\"\n# c\nFOOBAR=\"1\"\n", &code);

	cr_assert(strstr(m, "101.conf:3"), "%s", m);
	cr_assert(strstr(m, "FOOBAR"), "%s", m);
	cr_assert_eq(code, ST_EXIT_CONFIG);
}

Test(config, bad_value_names_key_line_and_range)
{
	_cleanup_free_ char *m = parse_err("\nCPUUNITS=\"7\"\n", NULL);

	cr_assert(strstr(m, "101.conf:2"), "%s", m);
	cr_assert(strstr(m, "CPUUNITS"), "%s", m);
	cr_assert(strstr(m, "8 to 500000"), "%s", m);
	free(m);
	m = parse_err("IOPRIO=8\n", NULL);
	cr_assert(strstr(m, "0 to 7"), "%s", m);
	free(m);
	m = parse_err("ONBOOT=maybe\n", NULL);
	cr_assert(strstr(m, "ONBOOT") && strstr(m, "maybe"), "%s", m);
	free(m);
	m = parse_err("NETWORK_MODE=veth\n", NULL);
	cr_assert(strstr(m, "routed, bridged, none, host"), "%s", m);
	free(m);
	m = parse_err("PHYSPAGES=1M\n", NULL);
	cr_assert(strstr(m, "PHYSPAGES") && strstr(m, "4M to unlimited"), "%s", m);
}

Test(config, syntax_errors)
{
	const char *bad[] = {
		"HOSTNAME\n",	      "HOSTNAME=\"abc\n",  "HOSTNAME=a b\n",  "=x\n",
		"HOSTNAME=\"a\" x\n", "1KEY=2\n",	   "HOSTNAME=a\"b\n", "HOSTNAME=\"\x01\"\n",
		"NAME=\"a/b\"\n",     "NAME=\"..\"\n",	   "NAME=\"101\"\n",  "HOSTNAME=-bad\n",
		"VE_ROOT=relative\n", "VE_ROOT=/a/../b\n", "CPUMASK=3-1\n",   "CPUMASK=1,,2\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		free(parse_err(bad[i], NULL));
}

Test(config, sizes_units_pages_unlimited_barrier_limit)
{
	_cleanup_(ct_config_freep) struct ct_config *c = parse_ok("PHYSPAGES=\"0:262144\"\n"
								  "SWAPPAGES=\"512M\"\n"
								  "DISKSPACE=\"1048576:2G\"\n"
								  "NUMPROC=\"unlimited\"\n"
								  "MEMGUARANTEE=\"100P\"\n"
								  "IOLIMIT=\"10M\"\n");
	cr_assert_eq(c->v[CT_PHYSPAGES].p.barrier, 0);
	cr_assert_eq(c->v[CT_PHYSPAGES].p.limit, 262144ULL * 4096);
	cr_assert_eq(c->v[CT_SWAPPAGES].p.limit, 512ULL << 20);
	cr_assert_eq(c->v[CT_DISKSPACE].p.barrier, 1ULL << 30, "bare DISKSPACE is KiB");
	cr_assert_eq(c->v[CT_DISKSPACE].p.limit, 2ULL << 30);
	cr_assert_eq(c->v[CT_NUMPROC].p.limit, CT_UNLIMITED);
	cr_assert_eq(c->v[CT_MEMGUARANTEE].p.limit, 100 * 4096);
	cr_assert_eq(c->v[CT_IOLIMIT].p.limit, 10 << 20);

	_cleanup_free_ char *s = ct_value_format(CT_PHYSPAGES, &c->v[CT_PHYSPAGES]);
	cr_assert_str_eq(s, "0:1G");
	_cleanup_free_ char *m = parse_err("DISKSPACE=\"2G:1G\"\n", NULL);
	cr_assert(strstr(m, "barrier"), "%s", m);
	uint64_t x;
	cr_assert_lt(ct_parse_size("12Q", 1, &x), 0);
	cr_assert_lt(ct_parse_size("99999999999999999999", 1, &x), 0);
	cr_assert_lt(ct_parse_size("-1", 1, &x), 0);
	cr_assert_eq(ct_parse_size("9223372036854775807", 1, &x), 0);
	cr_assert_eq(x, CT_UNLIMITED, "LONG_MAX means unlimited as in vzctl");
}

Test(config, capability_list)
{
	_cleanup_(ct_config_freep) struct ct_config *c =
		parse_ok("CAPABILITY=\"SYS_TIME:on,net_admin:off CAP_SYS_MODULE:off\"\n");
	cr_assert(c->v[CT_CAPABILITY].cap_on & (1ULL << 25));  /* CAP_SYS_TIME */
	cr_assert(c->v[CT_CAPABILITY].cap_off & (1ULL << 12)); /* CAP_NET_ADMIN */
	cr_assert(c->v[CT_CAPABILITY].cap_off & (1ULL << 16)); /* CAP_SYS_MODULE */
	cr_assert_str_eq(ct_config_str(c, CT_CAPABILITY),
			 "net_admin:off,sys_module:off,sys_time:on");
	free(parse_err("CAPABILITY=\"sys_nothing:on\"\n", NULL));
	free(parse_err("CAPABILITY=\"sys_time\"\n", NULL));
	free(parse_err("CAPABILITY=\"sys_time:maybe\"\n", NULL));
}

Test(config, ip_lists_and_ipadd_ipdel)
{
	_cleanup_(ct_config_freep) struct ct_config *c = parse_ok("IP_ADDRESS=\"10.0.0.5\"\n");
	struct st_error *err = NULL;

	cr_assert_eq(ct_config_set(c, "ipadd", "10.0.0.6/24 fd00::5", &err), 0);
	cr_assert_str_eq(ct_config_str(c, CT_IP_ADDRESS), "10.0.0.5 10.0.0.6/24 fd00::5");
	cr_assert_eq(ct_config_set(c, "--ipadd", "10.0.0.5", &err), 0);
	cr_assert_str_eq(ct_config_str(c, CT_IP_ADDRESS), "10.0.0.5 10.0.0.6/24 fd00::5",
			 "no duplicate");
	cr_assert_eq(ct_config_set(c, "ipdel", "10.0.0.6", &err), 0);
	cr_assert_str_eq(ct_config_str(c, CT_IP_ADDRESS), "10.0.0.5 fd00::5");
	cr_assert_eq(ct_config_set(c, "ipdel", "all", &err), 0);
	cr_assert_str_eq(ct_config_str(c, CT_IP_ADDRESS), "");
	cr_assert_lt(ct_config_set(c, "ipadd", "300.1.2.3", &err), 0);
	cr_assert(strstr(err->msg, "300.1.2.3"), "%s", err->msg);
	st_error_free(err);
	err = NULL;
	cr_assert_lt(ct_config_set(c, "ipadd", "10.0.0.1/33", &err), 0);
	st_error_free(err);
	err = NULL;
	cr_assert_lt(ct_config_set(c, "nameserver", "10.0.0.1/24", &err), 0,
		     "a nameserver has no prefix");
	st_error_free(err);
}

Test(config, options_by_vzctl_names)
{
	_cleanup_(ct_config_freep) struct ct_config *c = ct_config_new();
	struct st_error *err = NULL;

	cr_assert_eq(ct_config_set(c, "ram", "256M", &err), 0);
	cr_assert_eq(c->v[CT_PHYSPAGES].p.limit, 256ULL << 20);
	cr_assert_eq(ct_config_set(c, "swap", "0", &err), 0);
	cr_assert_eq(ct_config_set(c, "cpuunits", "2000", &err), 0);
	cr_assert_eq(ct_config_set(c, "stop-timeout", "5", &err), 0);
	cr_assert_eq(ct_config_uint(c, CT_STOP_TIMEOUT, 0), 5);
	cr_assert_eq(ct_config_set(c, "hostname", "web1", &err), 0);
	cr_assert_eq(ct_config_set(c, "cpulimit", "50%", &err), 0);
	cr_assert_eq(ct_config_uint(c, CT_CPULIMIT, 0), 50);
	cr_assert_lt(ct_config_set(c, "frobnicate", "1", &err), 0);
	cr_assert(strstr(err->msg, "frobnicate"), "%s", err->msg);
	cr_assert_eq(err->exit_code, ST_EXIT_BADARG);
	st_error_free(err);
}

Test(config, limits_from_config)
{
	_cleanup_(ct_config_freep) struct ct_config *c = parse_ok("PHYSPAGES=\"256M\"\n"
								  "SWAPPAGES=\"0\"\n"
								  "CPUUNITS=\"500\"\n"
								  "CPULIMIT=\"150\"\n"
								  "CPUS=\"1\"\n"
								  "CPUMASK=\"0-1\"\n"
								  "NUMPROC=\"100:200\"\n"
								  "HOSTNAME=\"x\"\n");
	struct ksal_cgroup_limits l;

	memset(&l, 0xff, sizeof(l)); /* -1 everywhere = leave as is */
	l.cpuset_cpus = NULL;
	l.io_device = NULL;
	ct_config_limits(c, &l);
	cr_assert_eq(l.memory_max, 256LL << 20);
	cr_assert_eq(l.swap_max, 0);
	cr_assert_eq(l.cpu_weight, 500);
	cr_assert_eq(l.cpu_quota_us, 100000, "the smaller of CPULIMIT 150%% and CPUS 1");
	cr_assert_eq(l.cpu_period_us, 100000);
	cr_assert_str_eq(l.cpuset_cpus, "0-1");
	cr_assert_eq(l.pids_max, 200);
	cr_assert_eq(l.io_weight, -1, "unset keys leave the limit alone");
}

Test(config, render_keeps_comments_and_order)
{
	const char *text = "# my container\n"
			   "HOSTNAME=\"old\"  # keep me? rewritten line\n"
			   "\n"
			   "# memory\n"
			   "PHYSPAGES=\"0:65536\"\n"
			   "ONBOOT=yes\n"
			   "CPUUNITS=\"1000\"\n";
	_cleanup_(ct_config_freep) struct ct_config *c = parse_ok(text);
	struct st_error *err = NULL;

	cr_assert_eq(ct_config_set(c, "hostname", "new", &err), 0);
	cr_assert_eq(ct_config_set(c, "cpus", "2", &err), 0);
	ct_config_unset(c, CT_CPUUNITS);
	_cleanup_free_ char *out = ct_config_render(c);
	cr_assert_str_eq(out, "# my container\n"
			      "HOSTNAME=\"new\"\n"
			      "\n"
			      "# memory\n"
			      "PHYSPAGES=\"0:65536\"\n"
			      "ONBOOT=yes\n"
			      "CPUS=\"2\"\n");

	/* the rendered text parses back to the same values */
	_cleanup_(ct_config_freep) struct ct_config *c2 = parse_ok(out);
	for (int i = 0; i < CT_KEY_COUNT; i++) {
		_cleanup_free_ char *a = ct_value_format(i, &c->v[i]);
		_cleanup_free_ char *b = ct_value_format(i, &c2->v[i]);
		cr_assert((!a && !b) || (a && b && strcmp(a, b) == 0), "%s: %s vs %s",
			  ct_keys[i].name, a ? a : "-", b ? b : "-");
	}
}

Test(config, render_quotes_special_characters)
{
	_cleanup_(ct_config_freep) struct ct_config *c = ct_config_new();
	struct st_error *err = NULL;

	cr_assert_eq(ct_config_set(c, "description", "say \"hi\" $HOME \\o/", &err), 0);
	_cleanup_free_ char *out = ct_config_render(c);
	_cleanup_(ct_config_freep) struct ct_config *c2 = parse_ok(out);
	cr_assert_str_eq(ct_config_str(c2, CT_DESCRIPTION), "say \"hi\" $HOME \\o/");
}

Test(config, save_is_atomic_and_loadable)
{
	char dir[] = "/tmp/strt-cfg-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	_cleanup_free_ char *path = NULL;
	cr_assert_geq(asprintf(&path, "%s/101.conf", dir), 0);

	_cleanup_(ct_config_freep) struct ct_config *c = parse_ok("# hi\nHOSTNAME=\"a\"\n");
	struct st_error *err = NULL;
	cr_assert_eq(ct_config_set(c, "ram", "1G", &err), 0);
	cr_assert_eq(ct_config_save(c, path, &err), 0, "%s", err ? err->msg : "");

	struct ct_config *l = NULL;
	cr_assert_eq(ct_config_load(path, &l, &err), 0);
	cr_assert_eq(l->v[CT_PHYSPAGES].p.limit, 1ULL << 30);
	cr_assert_str_eq(l->lines[0].text, "# hi");
	ct_config_free(l);

	/* no temporary file left behind */
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	cr_assert_eq(n, 1);
	unlink(path);
	rmdir(dir);

	cr_assert_lt(ct_config_load("/nonexistent/strt/101.conf", &l, &err), 0);
	cr_assert_eq(err->exit_code, ST_EXIT_NOCONFIG);
	st_error_free(err);
}

Test(config, ctid_and_name_validation)
{
	struct st_error *err = NULL;
	const char *good[] = { "101", "4294967295", "web-1", "db.prod" };
	const char *bad[] = { "0",  "100",	  "",	  "a/b", "..",	  "../x",
			      "01", "4294967296", "a\nb", "a b", "x\x7f", "-" };

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		cr_assert_eq(ct_validate_ctid(good[i], &err), 0, "%s: %s", good[i],
			     err ? err->msg : "");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		cr_assert_lt(ct_validate_ctid(bad[i], &err), 0, "`%s` accepted", bad[i]);
		cr_assert_eq(err->exit_code, ST_EXIT_BADARG);
		st_error_free(err);
		err = NULL;
	}
	cr_assert_lt(ct_validate_ctid("0", &err), 0);
	cr_assert(strstr(err->msg, "101"), "%s", err->msg);
	st_error_free(err);
}

Test(config, expand_veid)
{
	_cleanup_free_ char *a = ct_expand_veid("/vz/private/$VEID", "101");
	_cleanup_free_ char *b = ct_expand_veid("/x/${VEID}/y/$VEID", "7");
	cr_assert_str_eq(a, "/vz/private/101");
	cr_assert_str_eq(b, "/x/7/y/7");
}

Test(gconfig, defaults_and_overrides)
{
	_cleanup_(g_config_freep) struct g_config *g = g_config_new();
	struct st_error *err = NULL;

	cr_assert_not_null(g);
	cr_assert_eq(g->stop_mode, G_STOP_KEEP);
	cr_assert(g->lxcfs, "the view from inside is on by default");
	cr_assert_eq(g->id_range_start % CT_ID_RANGE_SIZE, 0);
	cr_assert_eq(g->start_workers, 0, "START_WORKERS: one per CPU by default");
	cr_assert_eq(g_config_parse(g, "strata.conf",
				    "# global\n"
				    "STATE_DIR=/tmp/x/state\n"
				    "LOCKDIR=/tmp/x/lock\n"
				    "RUN_DIR=\"/tmp/x/run\"\n"
				    "SOCKET=/tmp/x/run/s.sock\n"
				    "VE_PRIVATE=/tmp/x/private/$VEID\n"
				    "VE_STOP_MODE=stop\n"
				    "ID_RANGE_START=200000\n"
				    "START_WORKERS=3\n"
				    "CPUUNITS=\"1500\"\n"
				    "LOG_LEVEL=debug\n",
				    &err),
		     0, "%s", err ? err->msg : "");
	cr_assert_str_eq(g->state_dir, "/tmp/x/lock", "LOCKDIR is STATE_DIR's alias");
	cr_assert_str_eq(g->run_dir, "/tmp/x/run");
	cr_assert_eq(g->stop_mode, G_STOP_STOP);
	cr_assert_eq(g->id_range_start, 200000);
	cr_assert_eq(g->start_workers, 3);
	cr_assert_eq(ct_config_uint(g->ct_defaults, CT_CPUUNITS, 0), 1500);

	_cleanup_(ct_config_freep) struct ct_config *c = parse_ok("HOSTNAME=\"h\"\n");
	ct_config_merge_defaults(c, g->ct_defaults);
	cr_assert_eq(ct_config_uint(c, CT_CPUUNITS, 0), 1500);
	_cleanup_free_ char *priv = g_ct_private_path(g, c, "101");
	cr_assert_str_eq(priv, "/tmp/x/private/101");
	_cleanup_free_ char *root = g_ct_root_path(g, c, "101");
	cr_assert(strstr(root, "/root/101"), "%s", root);
}

Test(gconfig, errors_name_the_line)
{
	const char *bad[] = { "RUN_DIR=relative\n", "\nBOGUS=1\n",	  "VE_STOP_MODE=pause\n",
			      "CPUUNITS=1\n",	    "LOG_LEVEL=loud\n",	  "ID_RANGE_COUNT=10\n",
			      "LXCFS=maybe\n",	    "START_WORKERS=65\n", "START_WORKERS=two\n" };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_(g_config_freep) struct g_config *g = g_config_new();
		struct st_error *err = NULL;
		cr_assert_lt(g_config_parse(g, "strata.conf", bad[i], &err), 0, "%s", bad[i]);
		cr_assert_eq(err->exit_code, ST_EXIT_NOGLOBALCONF, "%s", err->msg);
		cr_assert(strstr(err->msg, "strata.conf"), "%s", err->msg);
		st_error_free(err);
	}
}

Test(config, shipped_samples_and_strata_conf_parse)
{
	const char *samples[] = { "basic", "unlimited", "light" };
	struct st_error *err = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(samples); i++) {
		_cleanup_free_ char *p = NULL;
		struct ct_config *c = NULL;
		cr_assert_geq(asprintf(&p, "%s/%s.conf", SAMPLES_DIR, samples[i]), 0);
		cr_assert_eq(ct_config_load(p, &c, &err), 0, "%s: %s", p, err ? err->msg : "");
		cr_assert(c->v[CT_PHYSPAGES].set, "%s sets no RAM", p);
		ct_config_free(c);
	}
	struct g_config *g = NULL;
	cr_assert_eq(g_config_load(GLOBAL_CONF, false, &g, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(g->stop_mode, G_STOP_KEEP);
	cr_assert_eq(ct_config_uint(g->ct_defaults, CT_STOP_TIMEOUT, 0), 120);
	g_config_free(g);
}

Test(config, man_page_rows_cover_every_key)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ct_keys_print_man(f);
	fclose(f);
	for (int i = 0; i < CT_KEY_COUNT; i++) {
		_cleanup_free_ char *row = NULL;
		cr_assert_geq(asprintf(&row, ".BR %s ", ct_keys[i].name), 0);
		cr_assert(strstr(buf, row), "%s missing from the man rows", ct_keys[i].name);
	}
	/* strata-ct.conf(5) carries exactly these rows */
	_cleanup_free_ char *man = NULL;
	FILE *mf = fopen(CT_CONF_MAN, "re");
	size_t cap = 0;
	cr_assert_not_null(mf);
	cr_assert_gt(getdelim(&man, &cap, '\0', mf), 0);
	fclose(mf);
	char *b = strstr(man, ".\\\" BEGIN KEYS\n"), *e = strstr(man, ".\\\" END KEYS\n");
	cr_assert(b && e && e > b, "no key markers in %s", CT_CONF_MAN);
	b = strchr(b, '\n') + 1;
	*e = '\0';
	cr_assert_str_eq(b, buf,
			 "%s is out of date: regenerate its KEYS rows with stratad --print-keys",
			 CT_CONF_MAN);
	free(buf);
}

/* --- checkpoint area (issue 7): VE_STOP_MODE=suspend --- */
Test(gconfig, stop_mode_suspend)
{
	_cleanup_(g_config_freep) struct g_config *g = g_config_new();
	struct st_error *err = NULL;

	cr_assert_eq(g_config_parse(g, "strata.conf", "VE_STOP_MODE=suspend\n", &err), 0, "%s",
		     err ? err->msg : "");
	cr_assert_eq(g->stop_mode, G_STOP_SUSPEND);
	cr_assert_lt(g_config_parse(g, "strata.conf", "VE_STOP_MODE=hibernate\n", &err), 0);
	cr_assert(strstr(err->msg, "keep, stop or suspend"), "%s", err->msg);
	st_error_free(err);
}
/* --- end checkpoint area --- */
