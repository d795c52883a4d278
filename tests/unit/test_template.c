/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of the template store's parsers: manifest, names, recipes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "templates/recipe.h"
#include "templates/template.h"

static char tmpdir[] = "/tmp/stcow-unit-XXXXXX";

static void setup(void)
{
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		cr_log_warn("cleanup of %s failed", tmpdir);
}

TestSuite(manifest, .init = setup, .fini = teardown);

Test(manifest, round_trip)
{
	char *pk[] = { "busybox-static 1:1.35.0", "libc6 2.36", NULL };
	struct tmpl_manifest m = { .name = "debian-12-minimal",
				   .version = 3,
				   .parent_version = 2,
				   .size = 123456789,
				   .created = 1764000000,
				   .base = "debootstrap",
				   .recipe_hash = "abc",
				   .packages = pk,
				   .has_init = true,
				   .halt_signal = "SIGRTMIN+3" },
			     r = { 0 };
	_cleanup_error_ struct st_error *err = NULL;
	_cleanup_free_ char *path = NULL;

	memset(m.sha256, 'a', 64);
	m.sha256[64] = '\0';
	cr_assert(asprintf(&path, "%s/manifest.json", tmpdir) > 0);
	cr_assert_eq(tmpl_manifest_write(path, &m, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(tmpl_manifest_read(path, &r, &err), 0, "%s", err ? err->msg : "");
	cr_assert_str_eq(r.name, m.name);
	cr_assert_eq(r.version, 3);
	cr_assert_eq(r.parent_version, 2);
	cr_assert_str_eq(r.sha256, m.sha256);
	cr_assert_eq(r.size, 123456789);
	cr_assert_eq(r.created, 1764000000);
	cr_assert_str_eq(r.base, "debootstrap");
	cr_assert_str_eq(r.recipe_hash, "abc");
	cr_assert(r.has_init);
	cr_assert_str_eq(r.halt_signal, "SIGRTMIN+3");
	cr_assert_str_eq(r.packages[0], pk[0]);
	cr_assert_str_eq(r.packages[1], pk[1]);
	cr_assert_null(r.packages[2]);
	tmpl_manifest_clear(&r);
}

static int read_text(const char *text, struct tmpl_manifest *m, struct st_error **err)
{
	_cleanup_free_ char *path = NULL;
	FILE *f;

	cr_assert(asprintf(&path, "%s/m.json", tmpdir) > 0);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return tmpl_manifest_read(path, m, err);
}

Test(manifest, rejects_bad_fields)
{
	static const char *const bad[] = {
		"[]",
		"{\"name\":\"a/b\",\"version\":1,\"sha256\":\"" /* bad name */
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"size\":1}",
		"{\"name\":\"a\",\"version\":0,\"sha256\":\"" /* version 0 */
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"size\":1}",
		"{\"name\":\"a\",\"version\":1,\"sha256\":\"xyz\",\"size\":1}",
		"{\"name\":\"a\",\"version\":2,\"parent_version\":2,\"sha256\":\""
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"size\":1}",
		"{\"name\":\"a\",\"version\":1,\"sha256\":\""
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", /* no size */
		"{ not json",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_error_ struct st_error *err = NULL;
		struct tmpl_manifest m = { 0 };

		cr_assert_lt(read_text(bad[i], &m, &err), 0, "accepted: %s", bad[i]);
		cr_assert_not_null(err);
		cr_assert_not_null(strstr(err->msg, "m.json"), "message names the file: %s",
				   err->msg);
		cr_assert_null(m.name);
	}
}

Test(names, valid_and_invalid)
{
	static const char *const good[] = { "busybox", "debian-12-minimal", "a", "app_1.2+x",
					    "101" };
	static const char *const bad[] = { "",	      "a/b", "..",	  "a..b", ".hidden",
					   "-x",      "a b", "tab\there", "nl\n", "esc\x1b",
					   "del\x7f", "a@b", "x/../y" };

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		cr_assert_eq(tmpl_name_validate(good[i], "template", NULL), 0, "%s", good[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_error_ struct st_error *err = NULL;

		cr_assert_lt(tmpl_name_validate(bad[i], "template", &err), 0, "accepted `%s`",
			     bad[i]);
		cr_assert_eq(err->exit_code, ST_EXIT_BADVALUE);
		cr_assert_not_null(strstr(err->msg, "template name"), "%s", err->msg);
	}
	{
		char longname[TMPL_NAME_MAX + 2];
		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		cr_assert_lt(tmpl_name_validate(longname, "template", NULL), 0);
	}
}

Test(names, slash_error_names_it)
{
	_cleanup_error_ struct st_error *err = NULL;

	cr_assert_lt(tmpl_name_validate("../etc", "container", &err), 0);
	cr_assert_str_eq(err->msg, "container name `../etc` contains '/'");
}

Test(names, refs)
{
	_cleanup_free_ char *n1 = NULL, *n2 = NULL;
	unsigned v;

	cr_assert_eq(tmpl_ref_parse("busybox", &n1, &v, NULL), 0);
	cr_assert_str_eq(n1, "busybox");
	cr_assert_eq(v, 0);
	cr_assert_eq(tmpl_ref_parse("debian-12@17", &n2, &v, NULL), 0);
	cr_assert_str_eq(n2, "debian-12");
	cr_assert_eq(v, 17);
	static const char *const bad[] = { "a@", "a@0",	  "a@-1", "a@1x",
					   "@1", "a/b@1", "a@+1", "a@1@2" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *n = NULL;
		cr_assert_lt(tmpl_ref_parse(bad[i], &n, &v, NULL), 0, "accepted `%s`", bad[i]);
		cr_assert_null(n);
	}
}

Test(names, mount_dir)
{
	struct tmpl_manifest m = { .name = "busybox", .version = 4 };
	_cleanup_free_ char *d = tmpl_mount_dir("/run/strata", &m);

	cr_assert_str_eq(d, "/run/strata/templates/busybox@4");
}

#define PARSE(text, r, err) tmpl_recipe_parse(text, strlen(text), "t.recipe", r, err)

Test(recipe, full)
{
	const char *text = "# comment\n"
			   "DESCRIPTION=\"Debian \\\"minimal\\\"\"\n"
			   "BASE=debootstrap\n"
			   "  SUITE=bookworm  \n"
			   "\n"
			   "PACKAGES=\"iproute2 procps, iputils-ping\"\n"
			   "POST='apt-get clean && echo \"done\"'\n";
	struct tmpl_recipe r = { 0 };
	_cleanup_error_ struct st_error *err = NULL;

	cr_assert_eq(PARSE(text, &r, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(r.base, TMPL_BASE_DEBOOTSTRAP);
	cr_assert_str_eq(r.suite, "bookworm");
	cr_assert_str_eq(r.variant, "minbase");
	cr_assert_str_eq(r.description, "Debian \"minimal\"");
	cr_assert_str_eq(r.post, "apt-get clean && echo \"done\"");
	cr_assert_str_eq(r.packages[0], "iproute2");
	cr_assert_str_eq(r.packages[1], "procps");
	cr_assert_str_eq(r.packages[2], "iputils-ping");
	cr_assert_null(r.packages[3]);
	cr_assert_eq(strlen(r.hash), 64);
	tmpl_recipe_clear(&r);
}

Test(recipe, hash_follows_text)
{
	struct tmpl_recipe a = { 0 }, b = { 0 };

	cr_assert_eq(PARSE("BASE=busybox\n", &a, NULL), 0);
	cr_assert_eq(PARSE("BASE=busybox\n#x\n", &b, NULL), 0);
	cr_assert_str_neq(a.hash, b.hash);
	cr_assert_not_null(a.packages);
	cr_assert_null(a.packages[0]);
	tmpl_recipe_clear(&a);
	tmpl_recipe_clear(&b);
}

Test(recipe, errors_name_line_and_key)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "BASE=busybox\nFOO=1\n", "t.recipe:2: unknown key `FOO`" },
		{ "BASE=rpm\n", "t.recipe:1: BASE `rpm`: expected busybox or debootstrap" },
		{ "SUITE=bookworm\n", "t.recipe: no BASE" },
		{ "BASE=debootstrap\n", "t.recipe: BASE=debootstrap needs SUITE" },
		{ "BASE=busybox\nnonsense\n", "t.recipe:2: expected KEY=value" },
		{ "BASE=busybox\nPOST=\"unterminated\n", "t.recipe:2: bad value for POST" },
		{ "BASE=debootstrap\nSUITE=../x\n", "t.recipe:2: bad SUITE `../x`" },
		{ "BASE=busybox\nPACKAGES=\"ok -rf\"\n", "t.recipe:2: bad package list `ok -rf`" },
		{ "BASE=busybox\nPACKAGES=\"a;reboot\"\n",
		  "t.recipe:2: bad package list `a;reboot`" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct tmpl_recipe r = { 0 };
		_cleanup_error_ struct st_error *err = NULL;

		cr_assert_lt(PARSE(bad[i].text, &r, &err), 0, "accepted: %s", bad[i].text);
		cr_assert_str_eq(err->msg, bad[i].msg);
		cr_assert_eq(err->exit_code, ST_EXIT_BADVALUE);
	}
}

Test(recipe, shipped_recipes_parse)
{
	static const char *const names[] = { "busybox", "debian-12-minimal", "debian-12" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_free_ char *p = NULL;
		_cleanup_error_ struct st_error *err = NULL;
		struct tmpl_recipe r = { 0 };

		cr_assert(asprintf(&p, "%s/%s.recipe", RECIPES_DIR, names[i]) > 0);
		cr_assert_eq(tmpl_recipe_load(p, &r, &err), 0, "%s", err ? err->msg : "");
		cr_assert(i == 0 ? r.base == TMPL_BASE_BUSYBOX : r.base == TMPL_BASE_DEBOOTSTRAP);
		tmpl_recipe_clear(&r);
	}
}
