/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `strata check` and the feature probe against this host's real kernel
 * (root). The facts asserted here are those of the machines Strata is
 * developed and tested on (FACTS.md): hybrid cgroups, userfaultfd yes,
 * soft-dirty no, idmapped mounts on squashfs yes, CRIU >= 4.2 working.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "ksal/cleanup.h"
#include "ksal/probe.h"
#include "tests/helpers/testutil.h"

static char *state_dir;

static void setup(void)
{
	if (!tu_is_root())
		cr_skip_test("needs root");
	state_dir = tu_tmpdir("stfound-state");
	cr_assert_not_null(state_dir);
}

static void teardown(void)
{
	if (state_dir)
		tu_rm_rf(state_dir);
	free(state_dir);
	state_dir = NULL;
}

TestSuite(check, .init = setup, .fini = teardown, .timeout = 120);

/* Is any loop device backed by a file of the probe's scratch directories? */
static bool probe_loop_left(void)
{
	_cleanup_closedir_ DIR *d = opendir("/sys/block");
	struct dirent *de;

	if (!d)
		return false;
	while ((de = readdir(d))) {
		_cleanup_free_ char *p = NULL, *backing = NULL;

		if (strncmp(de->d_name, "loop", 4) != 0)
			continue;
		if (asprintf(&p, "/sys/block/%s/loop/backing_file", de->d_name) < 0)
			continue;
		backing = tu_read_file(p);
		if (backing && strstr(backing, ".strata-probe-"))
			return true;
	}
	return false;
}

static bool dir_is_empty(const char *path)
{
	_cleanup_closedir_ DIR *d = opendir(path);
	struct dirent *de;

	cr_assert_not_null(d, "opendir %s", path);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return false;
	return true;
}

Test(check, probe_reports_this_hosts_facts)
{
	struct ksal_probe_opts opts = { .state_dir = state_dir };
	_cleanup_features_ struct ksal_features *f = ksal_probe_run(&opts);
	_cleanup_error_ struct st_error *err = NULL;
	_cleanup_free_ char *mountinfo = NULL;

	cr_expect(f->cgroup.found);
	cr_expect_eq(f->cgroup.layout, KSAL_CG_HYBRID, "layout %s: %s",
		     ksal_probe_layout_name(f->cgroup.layout),
		     f->entry[KSAL_FEAT_CGROUP_LAYOUT].detail);
	cr_expect(ksal_has(f, KSAL_FEAT_USERFAULTFD), "%s", f->entry[KSAL_FEAT_USERFAULTFD].detail);
	cr_expect_not(ksal_has(f, KSAL_FEAT_SOFT_DIRTY), "%s",
		      f->entry[KSAL_FEAT_SOFT_DIRTY].detail);
	cr_expect(ksal_has(f, KSAL_FEAT_IDMAP_SQUASHFS), "%s",
		  f->entry[KSAL_FEAT_IDMAP_SQUASHFS].detail);
	cr_expect(ksal_has(f, KSAL_FEAT_IDMAP_STATEDIR), "%s",
		  f->entry[KSAL_FEAT_IDMAP_STATEDIR].detail);
	cr_expect(ksal_has(f, KSAL_FEAT_CRIU), "%s", f->entry[KSAL_FEAT_CRIU].detail);
	cr_expect_geq(f->criu_version, KSAL_CRIU_MIN_VERSION);
	cr_expect(f->criu_check_ok);
	cr_expect(ksal_has(f, KSAL_FEAT_CLONE_INTO_CGROUP), "%s",
		  f->entry[KSAL_FEAT_CLONE_INTO_CGROUP].detail);
	cr_expect_eq(ksal_features_check_required(f, &err), 0, "%s", err ? err->msg : "");
	/* the state dir's own filesystem was the one tried */
	cr_expect_not_null(strstr(f->entry[KSAL_FEAT_IDMAP_STATEDIR].detail, state_dir), "%s",
			   f->entry[KSAL_FEAT_IDMAP_STATEDIR].detail);

	/* nothing left behind: scratch dir, loop device, mounts */
	cr_expect(dir_is_empty(state_dir), "the probe left files in %s", state_dir);
	cr_expect_not(probe_loop_left(), "the probe left a loop device attached");
	mountinfo = tu_read_file("/proc/self/mountinfo");
	cr_assert_not_null(mountinfo);
	cr_expect_null(strstr(mountinfo, ".strata-probe-"), "the probe left a mount");
}

Test(check, probe_is_fast)
{
	struct ksal_probe_opts opts = { .state_dir = state_dir };
	_cleanup_features_ struct ksal_features *f = ksal_probe_run(&opts);

	/* under ASan+UBSan; the release binary takes about 70 ms here */
	cr_expect_lt(f->elapsed_ms, 1000.0, "probe took %.0f ms", f->elapsed_ms);
	fprintf(stderr, "probe: %.1f ms (ASan build)\n", f->elapsed_ms);
}

Test(check, criu_path_comes_from_caller_then_environment)
{
	struct ksal_probe_opts opts = { .state_dir = state_dir, .criu_path = "/nonexistent/criu" };
	_cleanup_features_ struct ksal_features *a = ksal_probe_run(&opts);
	_cleanup_features_ struct ksal_features *b = NULL;
	_cleanup_error_ struct st_error *err = NULL;

	cr_expect_str_eq(a->criu_path, "/nonexistent/criu");
	cr_expect_not(ksal_has(a, KSAL_FEAT_CRIU));
	cr_expect_not_null(strstr(a->entry[KSAL_FEAT_CRIU].detail, "/nonexistent/criu"), "%s",
			   a->entry[KSAL_FEAT_CRIU].detail);
	/* CRIU is optional: still fine to run containers */
	cr_expect_eq(ksal_features_check_required(a, &err), 0);

	setenv("CRIU_PATH", "/also/missing/criu", 1);
	opts.criu_path = NULL;
	b = ksal_probe_run(&opts);
	unsetenv("CRIU_PATH");
	cr_expect_str_eq(b->criu_path, "/also/missing/criu");
	cr_expect_not(ksal_has(b, KSAL_FEAT_CRIU));
}

Test(check, strata_check_exits_0_and_json_says_so)
{
	const char *bin = getenv("STRATA_CHECK");
	_cleanup_free_ char *table = NULL, *json = NULL;
	const char *argv_table[] = { bin, "--state-dir", state_dir, NULL };
	const char *argv_json[] = { bin, "--json", "--state-dir", state_dir, NULL };
	json_auto_t *j = NULL;
	json_error_t jerr;
	json_t *feats;
	char *brace;

	cr_assert_not_null(bin, "STRATA_CHECK is not set (meson sets it)");
	cr_assert_eq(tu_run(argv_table, &table), 0, "strata check failed:\n%s", table);
	cr_expect_not_null(strstr(table, "cgroup layout: hybrid"), "%s", table);
	cr_expect_not_null(strstr(table, "\nsoft_dirty "), "%s", table);

	cr_assert_eq(tu_run(argv_json, &json), 0, "strata check --json failed:\n%s", json);
	brace = strchr(json, '{'); /* stderr shares the capture; JSON starts at the brace */
	cr_assert_not_null(brace, "%s", json);
	j = json_loads(brace, JSON_DISABLE_EOF_CHECK, &jerr);
	cr_assert_not_null(j, "invalid JSON: %s\n%s", jerr.text, json);
	cr_expect_str_eq(json_string_value(json_object_get(j, "cgroup_layout")), "hybrid");
	feats = json_object_get(j, "features");
	cr_expect(json_is_true(
		json_object_get(json_object_get(feats, "idmap.squashfs"), "available")));
	cr_expect(
		json_is_true(json_object_get(json_object_get(feats, "userfaultfd"), "available")));
	cr_expect(
		json_is_false(json_object_get(json_object_get(feats, "soft_dirty"), "available")));
	cr_expect(json_is_true(json_object_get(json_object_get(feats, "criu"), "available")));
	cr_expect(json_is_true(json_object_get(j, "ok")));
}

Test(check, distribution_criu_too_old_is_reported_with_its_reason)
{
	struct ksal_probe_opts opts = { .state_dir = state_dir, .criu_path = "/usr/sbin/criu" };
	_cleanup_features_ struct ksal_features *f = NULL;
	const char *detail;

	if (access("/usr/sbin/criu", X_OK) < 0)
		cr_skip_test("no distribution CRIU at /usr/sbin/criu");
	f = ksal_probe_run(&opts);
	if (f->criu_version >= KSAL_CRIU_MIN_VERSION && f->criu_check_ok)
		cr_skip_test("the distribution's CRIU works here");
	detail = f->entry[KSAL_FEAT_CRIU].detail;
	/* Debian 12's 3.17 on Linux 6.18: unavailable, and the detail says why */
	cr_expect_not(ksal_has(f, KSAL_FEAT_CRIU));
	cr_expect_not_null(strstr(detail, "/usr/sbin/criu"), "%s", detail);
	cr_expect(strstr(detail, "check` failed: ") || strstr(detail, "older than 4.2"), "%s",
		  detail);
	cr_expect_neq(f->criu_version, 0, "version not read: %s", detail);
}
