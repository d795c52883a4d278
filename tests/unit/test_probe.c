/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The feature probe's parsers, its entry table, `strata check --json`, and
 * CRIU version parsing. No root needed (the probe falls back where it must).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "config.h"
#include "cli/commands.h"
#include "ksal/cleanup.h"
#include "ksal/criu.h"
#include "ksal/probe.h"

/* ---- /proc/self/mounts parsing ---- */

static const char hybrid_mounts[] =
	"/dev/vda / ext4 rw,relatime 0 0\n"
	"tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0\n"
	"cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n"
	"cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0\n"
	"cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,nodev,noexec,relatime,memory 0 0\n"
	"cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0\n"
	"cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,xattr,name=systemd 0 0\n"
	"cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n";

Test(probe_parse, hybrid_layout)
{
	struct ksal_cgroup_info ci;

	cr_assert_eq(ksal_parse_cgroup_mounts(hybrid_mounts, &ci), 0);
	cr_expect(ci.found);
	cr_expect_eq(ci.layout, KSAL_CG_HYBRID);
	cr_expect_str_eq(ci.unified, "/sys/fs/cgroup/unified");
	cr_expect_str_eq(ci.v1_controllers, "cpu,cpuacct,memory,pids");
	cr_expect_not(ksal_list_has(ci.v1_controllers, "name=systemd"));
	cr_expect_not(ksal_list_has(ci.v1_controllers, "xattr"));
	cr_expect_str_eq(ksal_probe_layout_name(ci.layout), "hybrid");
	ksal_cgroup_info_clear(&ci);
}

Test(probe_parse, pure_v2_and_pure_v1)
{
	struct ksal_cgroup_info ci;

	cr_assert_eq(
		ksal_parse_cgroup_mounts("cgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0\n", &ci),
		0);
	cr_expect(ci.found);
	cr_expect_eq(ci.layout, KSAL_CG_V2);
	cr_expect_str_eq(ci.unified, "/sys/fs/cgroup");
	cr_expect_str_eq(ci.v1_controllers, "");
	ksal_cgroup_info_clear(&ci);

	cr_assert_eq(ksal_parse_cgroup_mounts("cgroup /cg/mem cgroup rw,memory 0 0\n"
					      "cgroup /cg/cpu cgroup rw,cpu,cpuacct 0 0",
					      &ci),
		     0);
	cr_expect_eq(ci.layout, KSAL_CG_V1);
	cr_expect_null(ci.unified);
	cr_expect_str_eq(ci.v1_controllers, "memory,cpu,cpuacct");
	ksal_cgroup_info_clear(&ci);
}

Test(probe_parse, named_hierarchy_only_is_not_v1)
{
	struct ksal_cgroup_info ci;

	/* systemd's "unified" mode: name=systemd v1 plus a full cgroup2 */
	cr_assert_eq(ksal_parse_cgroup_mounts("cgroup /sys/fs/cgroup/systemd cgroup "
					      "rw,name=systemd 0 0\n"
					      "cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n",
					      &ci),
		     0);
	cr_expect_eq(ci.layout, KSAL_CG_V2);
	ksal_cgroup_info_clear(&ci);

	cr_assert_eq(ksal_parse_cgroup_mounts("proc /proc proc rw 0 0\n", &ci), 0);
	cr_expect_not(ci.found);
	ksal_cgroup_info_clear(&ci);
}

Test(probe_parse, escaped_and_preferred_cgroup2_mount)
{
	struct ksal_cgroup_info ci;

	/* a test's private cgroup2 mount must not win over the host's */
	cr_assert_eq(ksal_parse_cgroup_mounts("cgroup2 /tmp/my\\040cg cgroup2 rw 0 0\n"
					      "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n"
					      "cgroup2 /tmp/other cgroup2 rw 0 0\n",
					      &ci),
		     0);
	cr_expect_str_eq(ci.unified, "/sys/fs/cgroup");
	ksal_cgroup_info_clear(&ci);

	cr_assert_eq(ksal_parse_cgroup_mounts("cgroup2 /tmp/my\\040cg cgroup2 rw 0 0\n", &ci), 0);
	cr_expect_str_eq(ci.unified, "/tmp/my cg");
	ksal_cgroup_info_clear(&ci);
}

Test(probe_parse, malformed_lines_are_skipped)
{
	struct ksal_cgroup_info ci;

	cr_assert_eq(ksal_parse_cgroup_mounts("garbage\n\n  \ncgroup\ncgroup2 x\n"
					      "cgroup /a cgroup memory\n",
					      &ci),
		     0);
	cr_expect_eq(ci.layout, KSAL_CG_V1);
	cr_expect_str_eq(ci.v1_controllers, "memory");
	ksal_cgroup_info_clear(&ci);
	cr_assert_eq(ksal_parse_cgroup_mounts("", &ci), 0);
	cr_expect_not(ci.found);
	ksal_cgroup_info_clear(&ci);
}

Test(probe_parse, self_cgroup2_line)
{
	_cleanup_free_ char *a = ksal_parse_self_cgroup2("4:memory:/x\n0::/user.slice/a b\n");
	_cleanup_free_ char *b = ksal_parse_self_cgroup2("4:memory:/x\n1:name=systemd:/\n");
	_cleanup_free_ char *c = ksal_parse_self_cgroup2("0::/");

	cr_expect_str_eq(a, "/user.slice/a b");
	cr_expect_null(b);
	cr_expect_str_eq(c, "/");
}

Test(probe_parse, list_has)
{
	cr_expect(ksal_list_has("cpu,cpuacct,memory", "cpu"));
	cr_expect(ksal_list_has("cpu,cpuacct,memory", "memory"));
	cr_expect_not(ksal_list_has("cpuacct,memory", "cpu"));
	cr_expect(ksal_list_has("hugetlb pids", "pids"));
	cr_expect_not(ksal_list_has("", "pids"));
	cr_expect_not(ksal_list_has(NULL, "pids"));
}

/* ---- CRIU version ---- */

Test(criu_version, parses_criu_version_output)
{
	int v = 0;

	cr_assert_eq(ksal_criu_parse_version("Version: 4.2.1\nGitID: v4.2.1\n", &v), 0);
	cr_expect_eq(v, 40201);
	cr_assert_eq(ksal_criu_parse_version("Version: 3.17.1\n", &v), 0);
	cr_expect_eq(v, 31701);
	cr_assert_eq(ksal_criu_parse_version("Warn: something\nVersion:\t4.2\n", &v), 0);
	cr_expect_eq(v, 40200);
	cr_expect(40201 >= KSAL_CRIU_MIN_VERSION);
	cr_expect(31701 < KSAL_CRIU_MIN_VERSION);
	cr_expect(40101 < KSAL_CRIU_MIN_VERSION);
}

Test(criu_version, rejects_garbage)
{
	int v = 7;

	cr_expect_eq(ksal_criu_parse_version("", &v), -EINVAL);
	cr_expect_eq(ksal_criu_parse_version("criu: not found\n", &v), -EINVAL);
	cr_expect_eq(ksal_criu_parse_version("Version: x.y\n", &v), -EINVAL);
	cr_expect_eq(ksal_criu_parse_version("Version: 4\n", &v), -EINVAL);
	cr_expect_eq(ksal_criu_parse_version("Version: 4.200.1\n", &v), -EINVAL);
	cr_expect_eq(ksal_criu_parse_version("xVersion: 4.2\n", &v), -EINVAL);
	cr_expect_eq(v, 7);
}

Test(criu_version, formats_back)
{
	char buf[32];

	cr_expect_str_eq(ksal_criu_version_str(40201, buf, sizeof(buf)), "4.2.1");
	cr_expect_str_eq(ksal_criu_version_str(31701, buf, sizeof(buf)), "3.17.1");
	cr_expect_str_eq(ksal_criu_version_str(0, buf, sizeof(buf)), "unknown");
	cr_expect_str_eq(ksal_criu_version_str(40201, buf, 4), "");
}

Test(criu_version, path_override_then_env_then_default)
{
	setenv("CRIU_PATH", "/env/criu", 1);
	cr_expect_str_eq(ksal_criu_path("/opt/x/criu"), "/opt/x/criu");
	cr_expect_str_eq(ksal_criu_path(NULL), "/env/criu");
	cr_expect_str_eq(ksal_criu_path(""), "/env/criu");
	unsetenv("CRIU_PATH");
	cr_expect_str_eq(ksal_criu_path(NULL), STRATA_CRIU_DEFAULT);
}

/* ---- the probe ---- */

static const struct ksal_probe_opts no_criu = { .skip_criu = true };

Test(probe, keys_unique_and_entries_complete)
{
	_cleanup_features_ struct ksal_features *f = ksal_probe_run(&no_criu);

	for (int i = 0; i < KSAL_FEAT__COUNT; i++) {
		const struct ksal_feature *e = &f->entry[i];

		cr_assert_not_null(e->key, "entry %d has no key", i);
		cr_assert_not_null(e->name, "entry %s has no name", e->key);
		cr_assert_not_null(e->detail, "entry %s has no detail", e->key);
		cr_expect_str_neq(e->detail, "not probed", "entry %s was never probed", e->key);
		cr_expect_eq(ksal_feature_find(f, e->key), e);
		for (int j = i + 1; j < KSAL_FEAT__COUNT; j++)
			cr_expect_str_neq(e->key, f->entry[j].key, "duplicate key %s", e->key);
	}
	cr_expect_null(ksal_feature_find(f, "no.such.feature"));
}

Test(probe, required_features_present_on_this_host)
{
	static const char *const required[] = { "ns.pid",      "ns.mnt",	"ns.uts",
						"ns.ipc",      "ns.net",	"overlayfs",
						"pidfd",       "cgroup.layout", "cgroup.memory",
						"cgroup.pids", "cgroup.cpu" };
	_cleanup_features_ struct ksal_features *f = ksal_probe_run(&no_criu);
	_cleanup_error_ struct st_error *err = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
		const struct ksal_feature *e = ksal_feature_find(f, required[i]);

		cr_assert_not_null(e, "no entry %s", required[i]);
		cr_expect(e->required, "%s should be required", required[i]);
		cr_expect(e->available, "%s missing: %s", required[i], e->detail);
	}
	cr_expect_eq(ksal_features_check_required(f, &err), 0, "%s", err ? err->msg : "");
	/* optional ones stay optional */
	cr_expect_not(ksal_feature_find(f, "criu")->required);
	cr_expect_not(ksal_feature_find(f, "soft_dirty")->required);
	cr_expect_not(ksal_feature_find(f, "idmap.squashfs")->required);
}

Test(probe, missing_required_feature_is_named_with_exit_100)
{
	_cleanup_features_ struct ksal_features *f = ksal_probe_run(&no_criu);
	_cleanup_error_ struct st_error *err = NULL;

	f->entry[KSAL_FEAT_NS_NET].available = false;
	f->entry[KSAL_FEAT_OVERLAYFS].available = false;
	cr_assert_lt(ksal_features_check_required(f, &err), 0);
	cr_assert_not_null(err);
	cr_expect_eq(st_error_exit(err), ST_EXIT_NOFEATURE);
	cr_expect_not_null(strstr(err->msg, "ns.net (network namespace"), "%s", err->msg);
	cr_expect_not_null(strstr(err->msg, "overlayfs (overlayfs"), "%s", err->msg);
	cr_expect_null(strstr(err->msg, "ns.pid"), "%s", err->msg);
}

Test(probe, cached_probe_is_probed_once)
{
	const struct ksal_features *a = ksal_probe(&no_criu);
	const struct ksal_features *b = ksal_probe(NULL);

	cr_assert_not_null(a);
	cr_expect_eq(a, b);
	cr_expect(a->cgroup.found);
}

/* ---- strata check ---- */

/* Run cmd_check with stdout captured into a string. */
static int run_check(char *out_path_tmpl, int argc, char **argv, char **out)
{
	int saved = dup(STDOUT_FILENO), fd = mkstemp(out_path_tmpl), r;

	cr_assert_geq(fd, 0);
	fflush(stdout);
	dup2(fd, STDOUT_FILENO);
	r = cmd_check(argc, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(fd);
	if (out) {
		FILE *f = fopen(out_path_tmpl, "re");
		size_t len = 0;

		cr_assert_not_null(f);
		*out = NULL;
		cr_assert_geq(getdelim(out, &len, '\0', f), 0);
		fclose(f);
	}
	unlink(out_path_tmpl);
	return r;
}

Test(check_cli, json_is_valid_with_one_entry_per_feature)
{
	char tmpl[] = "/tmp/stfound-check-XXXXXX";
	char *argv[] = { "check", "--json", "--criu", "/nonexistent/criu", NULL };
	_cleanup_free_ char *out = NULL;
	json_error_t jerr;
	json_auto_t *j = NULL;
	json_t *feats, *v;
	const char *key;

	cr_assert_eq(run_check(tmpl, 4, argv, &out), 0, "strata check failed:\n%s", out);
	j = json_loads(out, 0, &jerr);
	cr_assert_not_null(j, "invalid JSON (%s at line %d):\n%s", jerr.text, jerr.line, out);
	cr_expect(json_is_true(json_object_get(j, "ok")));
	cr_expect(json_is_string(json_object_get(j, "cgroup_layout")));
	cr_expect_eq(json_array_size(json_object_get(j, "missing")), 0);
	feats = json_object_get(j, "features");
	cr_assert(json_is_object(feats));
	cr_expect_eq(json_object_size(feats), KSAL_FEAT__COUNT);
	json_object_foreach (feats, key, v) {
		cr_expect(json_is_string(json_object_get(v, "name")), "%s.name", key);
		cr_expect(json_is_boolean(json_object_get(v, "available")), "%s.available", key);
		cr_expect(json_is_boolean(json_object_get(v, "required")), "%s.required", key);
		cr_expect(json_is_string(json_object_get(v, "detail")), "%s.detail", key);
	}
	/* what Strata will use, one string per mechanism */
	v = json_object_get(j, "uses");
	cr_expect(json_is_object(v));
	cr_expect(json_is_string(json_object_get(v, "cgroups")));
	cr_expect(json_is_string(json_object_get(v, "templates")));
	cr_expect_str_eq(json_string_value(json_object_get(v, "checkpoint")),
			 "unavailable (no working CRIU 4.2+)");
	/* the CRIU given on the command line is the one reported, and missing */
	v = json_object_get(feats, "criu");
	cr_expect(json_is_false(json_object_get(v, "available")));
	cr_expect_not_null(
		strstr(json_string_value(json_object_get(v, "detail")), "/nonexistent/criu"));
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "criu"), "path")),
			 "/nonexistent/criu");
}

Test(check_cli, table_lists_every_feature)
{
	char tmpl[] = "/tmp/stfound-check-XXXXXX";
	char *argv[] = { "check", "--criu", "/nonexistent/criu", NULL };
	_cleanup_free_ char *out = NULL;
	_cleanup_features_ struct ksal_features *f = ksal_probe_run(&no_criu);

	cr_assert_eq(run_check(tmpl, 3, argv, &out), 0);
	cr_expect_eq(strncmp(out, "FEATURE", 7), 0, "%s", out);
	cr_expect_not_null(strstr(out, "\nStrata will use:\n"), "%s", out);
	for (int i = 0; i < KSAL_FEAT__COUNT; i++) {
		_cleanup_free_ char *needle = NULL;

		cr_assert_geq(asprintf(&needle, "\n%s ", f->entry[i].key), 0);
		cr_expect_not_null(strstr(out, needle), "no row for %s", f->entry[i].key);
	}
}

Test(check_cli, bad_argument_is_exit_20)
{
	char *argv[] = { "check", "--bogus", NULL };
	char *argv2[] = { "check", "extra", NULL };

	cr_expect_eq(cmd_check(2, argv), ST_EXIT_BADARG);
	cr_expect_eq(cmd_check(2, argv2), ST_EXIT_BADARG);
}

Test(check_cli, criu_path_and_state_dir_from_strata_conf)
{
	char conf[] = "/tmp/stfound-conf-XXXXXX", tmpl[] = "/tmp/stfound-check-XXXXXX";
	char tmpl2[] = "/tmp/stfound-check-XXXXXX";
	int fd = mkstemp(conf);
	const char text[] = "# strata.conf\nCRIU_PATH=\"/from/conf/criu\"\nSTATE_DIR=/tmp\n";
	char *argv[] = { "check", "--json", "--config", conf, NULL };
	char *argv2[] = { "check", "--json", "--config", conf, "--criu", "/from/argv/criu", NULL };
	_cleanup_free_ char *out = NULL, *out2 = NULL;
	json_auto_t *j = NULL, *j2 = NULL;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	cr_expect_eq(run_check(tmpl, 4, argv, &out), 0);
	cr_expect_eq(run_check(tmpl2, 6, argv2, &out2), 0);
	unlink(conf);
	j = json_loads(out, 0, NULL);
	j2 = json_loads(out2, 0, NULL);
	cr_assert_not_null(j, "%s", out);
	cr_assert_not_null(j2, "%s", out2);
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "criu"), "path")),
			 "/from/conf/criu");
	cr_expect_str_eq(json_string_value(json_object_get(j, "state_dir")), "/tmp");
	/* the command line wins over the file */
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j2, "criu"), "path")),
			 "/from/argv/criu");
}

Test(check_cli, missing_config_file_is_exit_10)
{
	char *argv[] = { "check", "--config", "/nonexistent/strata.conf", NULL };

	cr_expect_eq(cmd_check(3, argv), ST_EXIT_NOGLOBALCONF);
}
