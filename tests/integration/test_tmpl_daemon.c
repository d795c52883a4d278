/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Templates and private areas through stratad (root): a private daemon per
 * test under /tmp/sttmpl-XXXXXX, cgroup subtree sttmpl-<pid>, containers
 * 9700-9799 (and 9800-9999 for the 200-container run), the busybox template
 * built from its recipe. Issue 3's "how it will be checked", as tests:
 * 200 creates, writes landing in each upper only, the template image
 * untouched, nothing left after destroy; update (v2 by import of a modified
 * tree), rebase with the shadowed-file report, --on-restart; clone;
 * LAYOUT=image giving ENOSPC inside; bad names; a missing template.
 * The harness is tests/helpers/daemonutil.h.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <grp.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/client.h"
#include "ksal/cleanup.h"
#include "tests/helpers/daemonutil.h"
#include "tests/helpers/testutil.h"

/* The busybox template, version 1, built by the daemon from its recipe. */
static void build_busybox(void)
{
	json_t *res = NULL;
	char *msg = NULL;

	cr_assert_eq(
		du_call("template-build", NULL, json_pack("{s:s}", "name", "busybox"), &res, &msg),
		0, "template-build busybox: %s", msg ? msg : "");
	cr_assert_eq(json_integer_value(json_object_get(res, "version")), 1);
	json_decref(res);
}

static void setup(void)
{
	du_setup(&(struct du_opts){ .prefix = "sttmpl" });
	du_conf_addf("RECIPES_DIR=%s\nCACHE_DIR=%s/cache\n", RECIPES_DIR, du.tmp);
	du_daemon_start();
	build_busybox();
}

TestSuite(tmpl, .init = setup, .fini = du_teardown, .timeout = 600);

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void create_ct(const char *ctid, const char *tmpl)
{
	char *msg = NULL;

	cr_assert_eq(du_call("create", ctid, json_pack("{s:s}", "ostemplate", tmpl), NULL, &msg), 0,
		     "create %s: %s", ctid, msg ? msg : "");
}

static void must(const char *verb, const char *ctid, json_t *args)
{
	char *msg = NULL;

	cr_assert_eq(du_call(verb, ctid, args, NULL, &msg), 0, "%s %s: %s", verb, ctid,
		     msg ? msg : "");
}

static char *sha_of(const char *file)
{
	_cleanup_free_ char *out = NULL;
	const char *argv[] = { "sha256sum", file, NULL };

	cr_assert_eq(tu_run(argv, &out), 0);
	return strndup(out, 64);
}

static bool dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;

	if (!d)
		return true;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = false;
	closedir(d);
	return empty;
}

/* A loop device backed by a file under prefix? */
static bool loop_under_now(const char *prefix)
{
	DIR *d = opendir("/sys/block");
	struct dirent *e;
	bool found = false;

	if (!d)
		return false;
	while ((e = readdir(d))) {
		char p[300];
		_cleanup_free_ char *b = NULL;

		if (strncmp(e->d_name, "loop", 4))
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/loop/backing_file", e->d_name);
		b = tu_read_file(p);
		if (b && !strncmp(b, prefix, strlen(prefix)))
			found = true;
	}
	closedir(d);
	return found;
}

/* AUTOCLEAR detaches a loop device asynchronously after the last unmount:
 * give it two seconds. */
static bool loop_under(const char *prefix)
{
	for (int i = 0; i < 200; i++) {
		if (!loop_under_now(prefix))
			return false;
		usleep(10000);
	}
	return true;
}

Test(tmpl, two_hundred_containers_write_only_their_upper)
{
	_cleanup_free_ char *img = du_path("/templates/busybox/1/image.sqfs");
	_cleanup_free_ char *sha0 = sha_of(img), *sha1 = NULL;
	_cleanup_free_ char *privd = du_path("/private%s", ""), *rootd = du_path("/root%s", "");
	const int N = 200, FIRST = 9800, STARTED = 3;
	double t0, t_create, t_destroy;
	char id[16];

	t0 = now_s();
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "%d", FIRST + i);
		create_ct(id, "busybox");
	}
	t_create = now_s() - t0;
	fprintf(stderr, "tmpl: %d creates through stratad: %.3f s, %.2f ms each\n", N, t_create,
		t_create * 1000.0 / N);

	/* a few run; each writes a file of its own */
	for (int i = 0; i < STARTED; i++) {
		_cleanup_free_ char *script = NULL, *out = NULL;

		snprintf(id, sizeof(id), "%d", FIRST + i);
		must("start", id, NULL);
		cr_assert_geq(asprintf(&script,
				       "echo written-by-%s > /etc/mine && rm /etc/os-release; "
				       "cat /etc/mine",
				       id),
			      0);
		cr_assert_eq(du_sh(id, script, &out), 0, "write in %s: %s", id, out);
	}
	/* two more only mounted */
	must("mount", "9803", NULL);
	must("mount", "9804", NULL);
	for (int i = 0; i < STARTED; i++) {
		_cleanup_free_ char *f = NULL, *text = NULL, *want = NULL, *wh = NULL;
		struct stat st;

		snprintf(id, sizeof(id), "%d", FIRST + i);
		f = du_path("/private/%s/upper/etc/mine", id);
		text = tu_read_file(f);
		cr_assert_not_null(text, "write of %s not in its upper `%s`", id, f);
		cr_assert_geq(asprintf(&want, "written-by-%s\n", id), 0);
		cr_assert_str_eq(text, want);
		/* the delete is a whiteout in the upper, the template keeps it */
		wh = du_path("/private/%s/upper/etc/os-release", id);
		cr_assert_eq(lstat(wh, &st), 0, "no whiteout for the delete in %s", id);
		cr_assert(S_ISCHR(st.st_mode), "/etc/os-release of %s is not a whiteout", id);
	}
	/* ...and nowhere else: not in the others' uppers, not in their roots */
	for (int i = STARTED; i < N; i++) {
		_cleanup_free_ char *f = NULL;

		snprintf(id, sizeof(id), "%d", FIRST + i);
		f = du_path("/private/%s/upper/etc/mine", id);
		cr_assert(access(f, F_OK) < 0, "%s appeared in %s", f, id);
	}
	{
		_cleanup_free_ char *r3 = du_path("/root/%s/etc/mine", "9803");
		_cleanup_free_ char *p3 = du_path("/root/%s/etc/os-release", "9803");
		cr_assert(access(r3, F_OK) < 0, "a write of another container is visible in 9803");
		cr_assert_eq(access(p3, F_OK), 0, "a delete of another container reached 9803");
	}
	for (int i = 0; i < STARTED; i++) {
		snprintf(id, sizeof(id), "%d", FIRST + i);
		must("stop", id, NULL);
	}
	sha1 = sha_of(img);
	cr_assert_str_eq(sha0, sha1, "the template image changed");

	t0 = now_s();
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "%d", FIRST + i);
		must("destroy", id, NULL);
	}
	t_destroy = now_s() - t0;
	fprintf(stderr, "tmpl: %d destroys: %.3f s\n", N, t_destroy);
	/* the daemon lets the template go when it stops with nothing running */
	du_daemon_term();
	cr_assert_not(du_mounted_under(du.tmp), "a mount is left under %s", du.tmp);
	cr_assert_not(loop_under(du.tmp), "a loop device is left on a file under %s", du.tmp);
	cr_assert(dir_empty(privd), "private areas left in %s", privd);
	cr_assert(dir_empty(rootd), "root mount points left in %s", rootd);
}

/* busybox@2: busybox@1's tree with /etc/motd changed and /etc/v2 added. */
static void make_v2(void)
{
	_cleanup_free_ char *tree = du_path("/v2tree%s", ""), *img = du_path("/v2.sqfs%s", "");
	_cleanup_free_ char *v1 = du_path("/templates/busybox/1/image.sqfs");
	_cleanup_free_ char *motd = NULL, *mark = NULL, *out = NULL;
	json_t *res = NULL;
	char *msg = NULL;

	const char *un[] = { "unsquashfs", "-q", "-n", "-d", tree, v1, NULL };
	cr_assert_eq(tu_run(un, &out), 0, "unsquashfs: %s", out ? out : "");
	cr_assert_geq(asprintf(&motd, "%s/etc/motd", tree), 0);
	cr_assert_geq(asprintf(&mark, "%s/etc/v2", tree), 0);
	cr_assert_eq(tu_write_file(motd, "template v2\n"), 0);
	cr_assert_eq(tu_write_file(mark, "2\n"), 0);
	const char *mk[] = { "mksquashfs", tree, img, "-noappend", "-quiet", "-all-root", NULL };
	free(out);
	out = NULL;
	cr_assert_eq(tu_run(mk, &out), 0, "mksquashfs: %s", out ? out : "");
	cr_assert_eq(du_call("template-import", NULL,
			     json_pack("{s:s,s:s}", "name", "busybox", "file", img), &res, &msg),
		     0, "template-import: %s", msg ? msg : "");
	cr_assert_eq(json_integer_value(json_object_get(res, "version")), 2);
	json_decref(res);
}

static bool array_has(json_t *arr, const char *s)
{
	size_t i;
	json_t *x;

	json_array_foreach (arr, i, x)
		if (json_is_string(x) && !strcmp(json_string_value(x), s))
			return true;
	return false;
}

static char *conf_value(const char *ctid, const char *key)
{
	_cleanup_free_ char *p = du_path("/ct/%s.conf", ctid);
	_cleanup_free_ char *text = tu_read_file(p);
	char *l, *e;

	cr_assert_not_null(text);
	for (l = text; l && *l; l = e ? e + 1 : NULL) {
		e = strchr(l, '\n');
		if (e)
			*e = '\0';
		if (!strncmp(l, key, strlen(key)) && l[strlen(key)] == '=') {
			char *v = l + strlen(key) + 1;
			if (*v == '"')
				v++;
			v[strcspn(v, "\"")] = '\0';
			return strdup(v);
		}
	}
	return NULL;
}

Test(tmpl, update_rebase_reports_shadowed_files)
{
	_cleanup_free_ char *out = NULL, *ost = NULL, *v2 = NULL, *motd = NULL, *ost2 = NULL;
	json_t *res = NULL, *e;
	char *msg = NULL;

	create_ct("9700", "busybox@1");
	create_ct("9701", "busybox@1");
	create_ct("9702", "busybox@1");
	must("start", "9700", NULL);
	cr_assert_eq(du_sh("9700", "echo mine > /etc/motd", &out), 0);
	must("stop", "9700", NULL);
	must("start", "9701", NULL);

	make_v2();
	/* template update is for Debian templates (apt): busybox says so */
	cr_assert_neq(
		du_call("template-update", NULL, json_pack("{s:s}", "name", "busybox"), NULL, &msg),
		0);

	/* a stopped container: rebased now, with the report */
	cr_assert_eq(du_call("rebase", "9700", json_pack("{s:s}", "ostemplate", "busybox@2"), &res,
			     &msg),
		     0, "rebase: %s", msg);
	e = json_array_get(json_object_get(res, "containers"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(e, "status")), "rebased");
	cr_assert(array_has(json_object_get(e, "shadows"), "etc/motd"),
		  "etc/motd not in the shadow report: %s",
		  json_dumps(json_object_get(e, "shadows"), 0));
	cr_assert_not(array_has(json_object_get(e, "shadows"), "etc/v2"));
	json_decref(res);
	ost = conf_value("9700", "OSTEMPLATE");
	cr_assert_str_eq(ost, "busybox@2");
	/* the container sees the new version, but keeps its own motd */
	must("mount", "9700", NULL);
	v2 = du_path("/root/%s/etc/v2", "9700");
	motd = du_path("/root/%s/etc/motd", "9700");
	cr_assert_eq(access(v2, F_OK), 0, "the update did not reach 9700");
	free(out);
	out = tu_read_file(motd);
	cr_assert_str_eq(out, "mine\n");
	must("umount", "9700", NULL);

	/* a running one: refused, or recorded for the next start */
	cr_assert_eq(du_call("rebase", "9701", json_pack("{s:s}", "ostemplate", "busybox@2"), NULL,
			     &msg),
		     32);
	cr_assert_eq(du_call("rebase", "9701",
			     json_pack("{s:s,s:b}", "ostemplate", "busybox@2", "on_restart", 1),
			     &res, &msg),
		     0, "rebase --on-restart: %s", msg);
	e = json_array_get(json_object_get(res, "containers"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(e, "status")), "pending");
	json_decref(res);
	free(ost);
	ost = conf_value("9701", "OSTEMPLATE");
	cr_assert_str_eq(ost, "busybox@1", "a running container was rebased under its feet");
	must("restart", "9701", NULL);
	ost2 = conf_value("9701", "OSTEMPLATE");
	cr_assert_str_eq(ost2, "busybox@2", "--on-restart was not applied at restart");
	free(out);
	out = NULL;
	cr_assert_eq(du_sh("9701", "cat /etc/v2", &out), 0);
	cr_assert_str_eq(out, "2\n");
	must("stop", "9701", NULL);

	/* --all: 9702 is the only one left on v1 */
	{
		double t0 = now_s();
		cr_assert_eq(du_call("rebase-all", NULL,
				     json_pack("{s:s}", "ostemplate", "busybox@2"), &res, &msg),
			     0, "rebase --all: %s", msg);
		fprintf(stderr, "tmpl: rebase --all of 1: %.2f ms\n", (now_s() - t0) * 1000);
	}
	cr_assert_eq(json_array_size(json_object_get(res, "containers")), 1);
	e = json_array_get(json_object_get(res, "containers"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(e, "ctid")), "9702");
	cr_assert_str_eq(json_string_value(json_object_get(e, "status")), "rebased");
	cr_assert_eq(json_array_size(json_object_get(e, "shadows")), 0);
	json_decref(res);
	/* a version that does not exist */
	cr_assert_eq(du_call("rebase", "9702", json_pack("{s:s}", "ostemplate", "busybox@9"), NULL,
			     &msg),
		     91);
}

Test(tmpl, rebase_hundred_stopped)
{
	const int N = 100, FIRST = 9800;
	json_t *res = NULL;
	char *msg = NULL, id[16];
	double t0, t;

	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "%d", FIRST + i);
		create_ct(id, "busybox@1");
	}
	make_v2();
	t0 = now_s();
	cr_assert_eq(du_call("rebase-all", NULL, json_pack("{s:s}", "ostemplate", "busybox@2"),
			     &res, &msg),
		     0, "rebase --all: %s", msg);
	t = now_s() - t0;
	cr_assert_eq(json_array_size(json_object_get(res, "containers")), (size_t)N);
	json_decref(res);
	fprintf(stderr, "tmpl: rebase of %d stopped containers: %.3f s (%.2f ms each)\n", N, t,
		t * 1000 / N);
}

Test(tmpl, clone_copies_private_layer_with_new_ids)
{
	_cleanup_free_ char *out = NULL, *b1 = NULL, *b2 = NULL, *ip = NULL;
	char *msg = NULL;

	cr_assert_eq(
		du_call("create", "9710",
			json_pack("{s:s,s:[s]}", "ostemplate", "busybox", "ipadd", "10.97.10.1"),
			NULL, &msg),
		0, "create: %s", msg);
	must("start", "9710", NULL);
	cr_assert_eq(
		du_sh("9710", "echo cloned-data > /etc/data && chown 1000:1000 /etc/data", &out), 0,
		"%s", out);
	cr_assert_eq(du_call("clone", "9710", json_pack("{s:s}", "dst", "9711"), NULL, &msg), 32,
		     "clone of a running container: %s", msg);
	must("stop", "9710", NULL);
	cr_assert_eq(du_call("clone", "9710", json_pack("{s:s,s:s}", "dst", "9711", "name", "copy"),
			     NULL, &msg),
		     0, "clone: %s", msg);
	cr_assert_eq(du_call("clone", "9710", json_pack("{s:s}", "dst", "9711"), NULL, &msg), 44);
	cr_assert_neq(du_call("clone", "9710",
			      json_pack("{s:s,s:s}", "dst", "9712", "name", "../x"), NULL, &msg),
		      0);
	b1 = conf_value("9710", "ID_BASE");
	b2 = conf_value("9711", "ID_BASE");
	cr_assert_not_null(b2);
	cr_assert_str_neq(b1, b2, "the clone shares the id range");
	ip = conf_value("9711", "IP_ADDRESS");
	cr_assert_null(ip, "the clone got the source's address %s", ip);
	{
		_cleanup_free_ char *nm = conf_value("9711", "NAME");
		cr_assert_str_eq(nm, "copy");
	}
	/* the copy has the data, owned by the same user inside */
	must("start", "9711", NULL);
	free(out);
	out = NULL;
	cr_assert_eq(du_sh("9711", "cat /etc/data; stat -c %u /etc/data /etc/hostname", &out), 0);
	cr_assert_str_eq(out, "cloned-data\n1000\n0\n", "clone's view: %s", out);
	must("stop", "9711", NULL);
	/* and not the template */
	{
		_cleanup_free_ char *s = du_path("/private/%s/upper/etc/data", "9711");
		struct stat st;
		cr_assert_eq(stat(s, &st), 0);
		cr_assert_eq(st.st_uid, (uid_t)(strtoul(b2, NULL, 10) + 1000));
	}
}

Test(tmpl, diskspace_image_gives_enospc_inside)
{
	_cleanup_free_ char *out = NULL, *img = du_path("/private/%s.img", "9720");
	json_t *res = NULL, *c;
	char *msg = NULL;
	struct stat st;
	size_t i;
	long long used = -1;

	/* a limit with LAYOUT=dir cannot be enforced: refused, saying why */
	cr_assert_eq(du_call("create", "9721",
			     json_pack("{s:s,s:{s:s}}", "ostemplate", "busybox", "options",
				       "diskspace", "64M"),
			     NULL, &msg),
		     21);
	cr_assert(strstr(msg, "project quotas") && strstr(msg, "image"), "%s", msg);
	cr_assert_eq(du_call("create", "9720",
			     json_pack("{s:s,s:s,s:{s:s}}", "ostemplate", "busybox", "layout",
				       "image", "options", "diskspace", "32M"),
			     NULL, &msg),
		     0, "create layout=image: %s", msg);
	cr_assert_eq(stat(img, &st), 0, "no image file");
	cr_assert_eq(st.st_size, 32 << 20);
	must("start", "9720", NULL);
	cr_assert_neq(du_sh("9720", "dd if=/dev/zero of=/fill bs=1M count=64 2>&1", &out), 0,
		      "64 MiB fitted into a 32 MiB limit");
	cr_assert(strstr(out, "No space left"), "dd said: %s", out);
	free(out);
	out = NULL;
	cr_assert_eq(du_sh("9720", "rm /fill && echo ok > /after", &out), 0, "%s", out);
	cr_assert_eq(stat(img, &st), 0);
	cr_assert_leq((long long)st.st_blocks * 512, 33LL << 20, "image grew past its limit");
	cr_assert_eq(
		du_call("list", NULL, json_pack("{s:b,s:b}", "all", 1, "diskspace", 1), &res, &msg),
		0);
	json_array_foreach (json_object_get(res, "containers"), i, c)
		if (!strcmp(json_string_value(json_object_get(c, "ctid")), "9720"))
			used = json_integer_value(json_object_get(c, "diskspace"));
	json_decref(res);
	cr_assert_gt(used, 0, "list: diskspace of 9720 is %lld KiB", used);
	must("stop", "9720", NULL);
	{
		_cleanup_free_ char *p = du_path("/private/%s", "9720");
		cr_assert_not(du_mounted_under(p), "private image still mounted after stop");
	}
	/* a clone copies the image: same limit, same files, its own ids */
	must("clone", "9720", json_pack("{s:s}", "dst", "9722"));
	{
		_cleanup_free_ char *img2 = du_path("/private/%s.img", "9722");
		cr_assert_eq(stat(img2, &st), 0, "the clone has no image");
		cr_assert_eq(st.st_size, 32 << 20);
	}
	must("start", "9722", NULL);
	free(out);
	out = NULL;
	cr_assert_eq(du_sh("9722", "cat /after; stat -c %u /after", &out), 0, "%s", out);
	cr_assert_str_eq(out, "ok\n0\n");
	free(out);
	out = NULL;
	cr_assert_neq(du_sh("9722", "dd if=/dev/zero of=/fill bs=1M count=64 2>&1", &out), 0,
		      "the clone lost its limit");
	must("stop", "9722", NULL);
	must("destroy", "9722", NULL);
	must("destroy", "9720", NULL);
	cr_assert(access(img, F_OK) < 0, "image left after destroy");
	cr_assert_not(loop_under(img), "a loop device is left on the private image");
}

Test(tmpl, bad_names_and_missing_template_leave_nothing)
{
	_cleanup_free_ char *privd = du_path("/private%s", ""),
			    *cfg = du_path("/ct/%s.conf", "9730");
	json_t *res = NULL;
	char *msg = NULL;
	const char *bad[] = { "../busybox", "a/b", "bus\x01y", "..", NULL };

	for (const char **b = bad; *b; b++) {
		cr_assert_neq(
			du_call("create", "9731", json_pack("{s:s}", "ostemplate", *b), NULL, &msg),
			0, "create with template `%s` accepted", *b);
		cr_assert_neq(du_call("template-import", NULL,
				      json_pack("{s:s,s:s}", "name", *b, "file", "/dev/null"), &res,
				      &msg),
			      0, "template name `%s` accepted", *b);
	}
	cr_assert_neq(du_call("create", "9731",
			      json_pack("{s:s,s:s}", "ostemplate", "busybox", "name", "a/../b"),
			      NULL, &msg),
		      0);
	cr_assert_eq(
		du_call("create", "9730", json_pack("{s:s}", "ostemplate", "nosuch"), NULL, &msg),
		91, "missing template: %s", msg);
	cr_assert(access(cfg, F_OK) < 0, "config left by a failed create");
	cr_assert(dir_empty(privd), "private area left by a failed create");
	cr_assert_eq(du_call("status", "9730", NULL, NULL, NULL), 14);
}

/* The stop signal comes from the template's manifest: an init that only
 * halts on SIGUSR1 (and ignores SIGTERM, what the daemon would guess for a
 * script) stops at once when the manifest says SIGUSR1. */
Test(tmpl, halt_signal_from_manifest)
{
	_cleanup_free_ char *tree = du_path("/usr1%s", ""), *img = du_path("/usr1.sqfs%s", "");
	_cleanup_free_ char *v1 = du_path("/templates/busybox/1/image.sqfs");
	_cleanup_free_ char *init = NULL, *out = NULL,
			    *mpath = du_path("/templates/usr1/1/manifest.json");
	json_t *res = NULL, *m;
	char *msg = NULL;
	double t0;

	/* busybox init powers off on the SIGUSR2 of its manifest */
	create_ct("9740", "busybox");
	must("start", "9740", NULL);
	t0 = now_s();
	must("stop", "9740", NULL);
	cr_assert_lt(now_s() - t0, 5.0, "busybox stop took %.1f s", now_s() - t0);

	const char *un[] = { "unsquashfs", "-q", "-n", "-d", tree, v1, NULL };
	cr_assert_eq(tu_run(un, &out), 0, "unsquashfs: %s", out ? out : "");
	cr_assert_geq(asprintf(&init, "%s/sbin/init", tree), 0);
	unlink(init);
	cr_assert_eq(tu_write_file(init, "#!/bin/sh\ntrap '' TERM\ntrap 'exit 0' USR1\n"
					 "while :; do sleep 0.1; done\n"),
		     0);
	cr_assert_eq(chmod(init, 0755), 0);
	const char *mk[] = { "mksquashfs", tree, img, "-noappend", "-quiet", "-all-root", NULL };
	free(out);
	out = NULL;
	cr_assert_eq(tu_run(mk, &out), 0, "mksquashfs: %s", out ? out : "");
	cr_assert_eq(du_call("template-import", NULL,
			     json_pack("{s:s,s:s}", "name", "usr1", "file", img), &res, &msg),
		     0, "template-import: %s", msg ? msg : "");
	json_decref(res);
	m = json_load_file(mpath, 0, NULL);
	cr_assert_not_null(m, "no manifest `%s`", mpath);
	json_object_set_new(m, "halt_signal", json_string("SIGUSR1"));
	cr_assert_eq(json_dump_file(m, mpath, JSON_INDENT(2)), 0);
	json_decref(m);

	create_ct("9741", "usr1");
	must("start", "9741", NULL);
	usleep(300000); /* the script has set its traps */
	t0 = now_s();
	must("stop", "9741", NULL);
	cr_assert_lt(now_s() - t0, 5.0,
		     "stop took %.1f s: the manifest's SIGUSR1 was not used (STOP_TIMEOUT 10 s)",
		     now_s() - t0);
}

/* A template without an init boots Strata's minimal init, bound read-only
 * at /sbin/init: it runs /etc/strata/rc and halts on the manifest's
 * SIGTERM. */
Test(tmpl, template_without_init_gets_strata_init)
{
	_cleanup_free_ char *tree = du_path("/noinit%s", ""), *img = du_path("/noinit.sqfs%s", "");
	_cleanup_free_ char *v1 = du_path("/templates/busybox/1/image.sqfs");
	_cleanup_free_ char *out = NULL, *p = NULL, *rc = NULL;
	json_t *res = NULL;
	char *msg = NULL;
	double t0;

	const char *un[] = { "unsquashfs", "-q", "-n", "-d", tree, v1, NULL };
	cr_assert_eq(tu_run(un, &out), 0, "unsquashfs: %s", out ? out : "");
	cr_assert_geq(asprintf(&p, "%s/sbin/init", tree), 0);
	cr_assert_eq(unlink(p), 0);
	cr_assert_geq(asprintf(&rc, "%s/etc/strata/rc", tree), 0);
	cr_assert_eq(tu_write_file(rc, "#!/bin/sh\necho ran > /rc-ran\n"), 0);
	cr_assert_eq(chmod(rc, 0755), 0);
	const char *mk[] = { "mksquashfs", tree, img, "-noappend", "-quiet", "-all-root", NULL };
	free(out);
	out = NULL;
	cr_assert_eq(tu_run(mk, &out), 0, "mksquashfs: %s", out ? out : "");
	cr_assert_eq(du_call("template-import", NULL,
			     json_pack("{s:s,s:s}", "name", "noinit", "file", img), &res, &msg),
		     0, "template-import: %s", msg ? msg : "");
	cr_assert(json_is_false(json_object_get(res, "has_init")));
	json_decref(res);

	create_ct("9745", "noinit");
	must("start", "9745", NULL);
	free(out);
	out = NULL;
	cr_assert_eq(du_sh("9745",
			   "for i in 1 2 3 4 5 6 7 8 9 10; do test -f /rc-ran && break; sleep 0.2; "
			   "done; cat /rc-ran; (echo x > /sbin/init) 2>/dev/null || echo read-only",
			   &out),
		     0);
	cr_assert_str_eq(out, "ran\nread-only\n", "inside: %s", out);
	t0 = now_s();
	must("stop", "9745", NULL);
	cr_assert_lt(now_s() - t0, 5.0, "strata-init did not halt on SIGTERM (%.1f s)",
		     now_s() - t0);
	/* the bound init left nothing in the private layer */
	free(p);
	p = du_path("/private/%s/upper/sbin/init", "9745");
	cr_assert(access(p, F_OK) < 0, "/sbin/init written into the upper layer");
}

Test(tmpl, cli_rebase_clone_list)
{
	_cleanup_free_ char *out = NULL;

	create_ct("9760", "busybox@1");
	must("start", "9760", NULL);
	cr_assert_eq(du_sh("9760", "echo mine > /etc/motd", &out), 0);
	must("stop", "9760", NULL);
	make_v2();

	free(out);
	out = NULL;
	cr_assert_eq(du_cli((const char *[]){ "rebase", "9760", NULL }, &out), 20, "%s", out);
	free(out);
	out = NULL;
	cr_assert_eq(du_cli((const char *[]){ "rebase", "9760", "--ostemplate", "busybox@2", NULL },
			    &out),
		     0, "%s", out);
	cr_assert(strstr(out, "Container 9760 rebased onto busybox@2") &&
			  strstr(out, "keep the container's own copy") && strstr(out, "/etc/motd"),
		  "rebase printed: %s", out);
	free(out);
	out = NULL;
	cr_assert_eq(
		du_cli((const char *[]){ "rebase", "--all", "--ostemplate", "busybox@2", NULL },
		       &out),
		0, "%s", out);
	cr_assert(strstr(out, "No container to rebase"), "%s", out);
	free(out);
	out = NULL;
	cr_assert_eq(
		du_cli((const char *[]){ "clone", "9760", "9761", "--name", "twin", NULL }, &out),
		0, "%s", out);
	cr_assert(strstr(out, "Container 9761 cloned"), "%s", out);
	free(out);
	out = NULL;
	cr_assert_eq(du_cli((const char *[]){ "clone", "9760", "9761", NULL }, &out), 44, "%s",
		     out);
	free(out);
	out = NULL;
	cr_assert_eq(du_cli((const char *[]){ "list", "-a", "-H", "-o",
					      "ctid,ostemplate,diskspace,name", NULL },
			    &out),
		     0, "%s", out);
	{
		char tmpl1[64], name1[64], tmpl2[64], name2[64];
		long ct1, ct2, kb1, kb2;

		cr_assert_eq(sscanf(out, "%ld %63s %ld %63s %ld %63s %ld %63s", &ct1, tmpl1, &kb1,
				    name1, &ct2, tmpl2, &kb2, name2),
			     8, "list printed: %s", out);
		cr_assert_eq(ct1, 9760);
		cr_assert_str_eq(tmpl1, "busybox@2");
		cr_assert_gt(kb1, 0);
		cr_assert_gt(kb2, 0);
		cr_assert_str_eq(name2, "twin");
	}
	free(out);
	out = NULL;
	cr_assert_eq(du_cli((const char *[]){ "create", "9762", "--ostemplate", "busybox",
					      "--diskspace", "64M", NULL },
			    &out),
		     21, "%s", out);
	cr_assert(strstr(out, "--layout image"), "%s", out);
}

static int cloning_count(void)
{
	return du_private_count(".cloning.");
}

/* Container src with 512 MB in its private layer, and a client cloning it
 * to dst in a child process of its own (its pid: exit status = the code). */
static pid_t clone_big_in_background(const char *src, const char *dst)
{
	_cleanup_free_ char *big = du_path("/private/%s/upper/big", src);
	static char buf[1 << 20];
	pid_t cli;
	int fd;

	create_ct(src, "busybox");
	fd = open(big, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0, "create `%s`: %s", big, strerror(errno));
	for (int i = 0; i < 512; i++) {
		buf[0] = (char)i;
		cr_assert_eq(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	}
	close(fd);
	cli = fork();
	cr_assert_geq(cli, 0);
	if (cli == 0)
		_exit(du_call("clone", src, json_pack("{s:s}", "dst", dst), NULL, NULL));
	return cli;
}

/* A clone copies the private area in a forked worker: the daemon answers
 * others meanwhile (a clone of 1 GB and 20000 files held every request for
 * 3.4 s, and one longer than WatchdogSec would have had systemd kill the
 * daemon); the copy lands under its name when it is whole. */
Test(tmpl, a_clone_leaves_the_daemon_serving)
{
	_cleanup_free_ char *copy = du_path("/private/9771/upper/big");
	_cleanup_free_ char *dst = du_path("/private/9771");
	json_t *res = NULL;
	char *msg = NULL;
	double t0, dt;
	struct stat sb;
	int st;
	pid_t cli = clone_big_in_background("9770", "9771");

	/* the copy has begun: a list is answered at once, not after it */
	for (int i = 0; i < 2000 && cloning_count() == 0 && access(dst, F_OK) < 0; i++)
		usleep(5000);
	t0 = now_s();
	cr_assert_eq(du_call("list", NULL, json_pack("{s:b}", "all", 1), &res, &msg), 0,
		     "list during the clone: %s", msg);
	json_decref(res);
	dt = now_s() - t0;
	cr_assert_lt(dt, 0.25, "a list during the clone took %.3f s", dt);
	cr_assert_eq(waitpid(cli, &st, 0), cli);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "clone: status %d", st);
	cr_assert_eq(stat(copy, &sb), 0, "the clone has no `%s`", copy);
	cr_assert_eq(sb.st_size, 512L << 20);
	cr_assert_eq(cloning_count(), 0, "a copy in progress is left in the private directory");
	must("start", "9771", NULL);
	must("stop", "9771", NULL);
	must("destroy", "9771", NULL);
	must("destroy", "9770", NULL);
}

/* The target created by someone else while the copy ran: the clone fails
 * with 44 when it would commit, and its copy goes; the other container
 * stays as it was made. */
Test(tmpl, a_clone_whose_target_is_created_meanwhile_leaves_nothing)
{
	_cleanup_free_ char *theirs = du_path("/private/9781/upper");
	char *msg = NULL;
	int st;
	pid_t cli = clone_big_in_background("9780", "9781");

	for (int i = 0; i < 2000 && cloning_count() == 0; i++)
		usleep(5000);
	cr_assert_eq(cloning_count(), 1, "no copy in progress to race");
	create_ct("9781", "busybox");
	cr_assert_eq(waitpid(cli, &st, 0), cli);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 44, "clone: status %d", st);
	for (int i = 0; i < 1000 && cloning_count() > 0; i++)
		usleep(10000);
	cr_assert_eq(cloning_count(), 0, "the refused copy is left in the private directory");
	cr_assert_eq(access(theirs, F_OK), 0, "the clone touched 9781's own private area");
	cr_assert_eq(du_call("start", "9781", NULL, NULL, &msg), 0, "start: %s", msg);
	must("stop", "9781", NULL);
	must("destroy", "9781", NULL);
	must("destroy", "9780", NULL);
}
