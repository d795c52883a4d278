/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The template store against the real kernel and tools (root): build,
 * list, find, import, export, remove, update; and that what is built boots
 * a shell and strata-init.
 */
#include <glob.h>
#include <sys/wait.h>

#include "ksal/syscalls.h"
#include "test_cowfs_common.c"

TestSuite(template, .init = stcow_setup_store, .fini = stcow_cleanup, .timeout = 300);

Test(template, busybox_build_manifest)
{
	_cleanup_error_ struct st_error *err = NULL;
	struct tmpl_manifest again = { 0 }, found = { 0 };
	struct tmpl_manifest *list = NULL;
	size_t n = 0;
	char hash[65];
	struct stat st;

	cr_assert_str_eq(stcow_bb.name, "busybox");
	cr_assert_eq(stcow_bb.version, 1);
	cr_assert_eq(stcow_bb.parent_version, 0);
	cr_assert(stcow_bb.has_init);
	cr_assert_str_eq(stcow_bb.halt_signal, "SIGUSR2", "busybox init powers off on SIGUSR2");
	cr_assert_str_eq(stcow_bb.base, "busybox");
	cr_assert_not_null(stcow_bb.packages[0]);
	cr_assert_eq(strncmp(stcow_bb.packages[0], "busybox-static ", 15), 0, "%s",
		     stcow_bb.packages[0]);
	cr_assert_eq(stat(stcow_bb.image, &st), 0);
	cr_assert_eq((uint64_t)st.st_size, stcow_bb.size);
	cr_assert_eq(cowfs_sha256_file(stcow_bb.image, hash, NULL), 0);
	cr_assert_str_eq(hash, stcow_bb.sha256);
	cr_assert_eq(sh("test -f '%s/templates/busybox/1/manifest.json'", stcow_dir), 0);
	/* a second build is version 2; "busybox" finds the latest */
	cr_assert_eq(tmpl_build(stcow_store, "busybox", NULL, NULL, &again, &err), 0, "%s",
		     err ? err->msg : "");
	cr_assert_eq(again.version, 2);
	cr_assert_eq(tmpl_find(stcow_store, "busybox", &found, &err), 0);
	cr_assert_eq(found.version, 2);
	cr_assert_str_eq(found.sha256, again.sha256);
	cr_assert_eq(tmpl_find(stcow_store, "busybox@1", &found, &err), 0);
	cr_assert_eq(found.version, 1);
	cr_assert_str_eq(found.sha256, stcow_bb.sha256);
	cr_assert_eq(tmpl_list(stcow_store, &list, &n, &err), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(list[0].version, 1);
	cr_assert_eq(list[1].version, 2);
	tmpl_manifests_free(list, n);
	/* nothing staged is left behind */
	cr_assert_eq(
		sh("test -z \"$(ls -A '%s/templates/busybox' | grep -v '^[12]$')\"", stcow_dir), 0);
	tmpl_manifest_clear(&again);
	tmpl_manifest_clear(&found);
}

Test(template, missing_and_bad_names)
{
	_cleanup_error_ struct st_error *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL, *e5 = NULL;
	struct tmpl_manifest m = { 0 };

	cr_assert_lt(tmpl_find(stcow_store, "nope", &m, &e1), 0);
	cr_assert_eq(e1->exit_code, ST_EXIT_NOTEMPLATE, "%s", e1->msg);
	cr_assert_lt(tmpl_find(stcow_store, "busybox@9", &m, &e2), 0);
	cr_assert_eq(e2->exit_code, ST_EXIT_NOTEMPLATE, "%s", e2->msg);
	cr_assert_lt(tmpl_build(stcow_store, "../busybox", NULL, NULL, NULL, &e3), 0);
	cr_assert_eq(e3->exit_code, ST_EXIT_BADVALUE);
	cr_assert_not_null(strstr(e3->msg, "'/'"), "%s", e3->msg);
	cr_assert_lt(tmpl_import(stcow_store, "a/b", stcow_bb.image, NULL, &e4), 0);
	cr_assert_eq(e4->exit_code, ST_EXIT_BADVALUE);
	cr_assert_lt(tmpl_build(stcow_store, "no-such-recipe", NULL, NULL, NULL, &e5), 0);
	cr_assert_eq(e5->exit_code, ST_EXIT_NOTEMPLATE, "%s", e5->msg);
	cr_assert_eq(sh("test ! -e '%s/templates/a' && test ! -e '%s/busybox' && "
			"test ! -e '%s/templates/no-such-recipe'",
			stcow_dir, stcow_dir, stcow_dir),
		     0);
}

Test(template, export_import_squashfs_and_tarball)
{
	_cleanup_free_ char *out = tpath("export.sqfs"), *tar = tpath("tree.tar.gz"),
			    *bad = tpath("trunc.sqfs");
	_cleanup_error_ struct st_error *err = NULL, *e2 = NULL;
	struct tmpl_manifest a = { 0 }, b = { 0 };
	struct stat st;

	cr_assert_eq(tmpl_export(stcow_store, "busybox", out, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(tmpl_import(stcow_store, "copy", out, &a, &err), 0, "%s", err ? err->msg : "");
	cr_assert_str_eq(a.sha256, stcow_bb.sha256, "same bytes, same hash");
	cr_assert_eq(a.version, 1);
	cr_assert(a.has_init);
	cr_assert_str_eq(a.halt_signal, "SIGUSR2");
	cr_assert_str_eq(a.base, "import");
	/* a rootfs tarball with real owners */
	cr_assert_eq(
		sh("set -e; d='%s/tree'; mkdir -p $d/sbin $d/etc $d/home/u; "
		   "cp /bin/busybox $d/sbin/init; echo hi > $d/etc/motd; chown 1000:1000 $d/home/u; "
		   "tar -czf '%s' -C $d .",
		   stcow_dir, tar),
		0);
	cr_assert_eq(tmpl_import(stcow_store, "fromtar", tar, &b, &err), 0, "%s",
		     err ? err->msg : "");
	cr_assert(b.has_init);
	cr_assert_str_eq(b.halt_signal, "SIGTERM", "an unknown init (a plain file)");
	cr_assert_eq(
		sh("unsquashfs -lln '%s' | grep -q '1000/1000.*squashfs-root/home/u$'", b.image), 0,
		"owners kept");
	/* a truncated image is refused, naming the file, and leaves nothing */
	cr_assert_eq(stat(out, &st), 0);
	cr_assert_eq(sh("head -c %lld '%s' > '%s'", (long long)st.st_size / 2, out, bad), 0);
	cr_assert_lt(tmpl_import(stcow_store, "broken", bad, NULL, &e2), 0);
	cr_assert_not_null(strstr(e2->msg, bad), "%s", e2->msg);
	cr_assert_eq(sh("test ! -e '%s/templates/broken'", stcow_dir), 0, "nothing left");
	tmpl_manifest_clear(&a);
	tmpl_manifest_clear(&b);
}

Test(template, remove_refused_while_used)
{
	_cleanup_error_ struct st_error *err = NULL, *e2 = NULL;
	const char *users[] = { "101", "102", NULL };
	struct tmpl_manifest m = { 0 };

	cr_assert_lt(tmpl_remove(stcow_store, "busybox@1", users, &err), 0);
	cr_assert_str_eq(err->msg, "remove template busybox@1: used by containers 101, 102");
	cr_assert_eq(tmpl_find(stcow_store, "busybox@1", &m, NULL), 0, "still there");
	tmpl_manifest_clear(&m);
	cr_assert_eq(tmpl_remove(stcow_store, "busybox", NULL, &e2), 0, "%s", e2 ? e2->msg : "");
	cr_assert_lt(tmpl_find(stcow_store, "busybox", &m, NULL), 0);
	cr_assert_eq(sh("test ! -e '%s/templates/busybox'", stcow_dir), 0);
}

/* The built image boots: busybox's shell runs in a composed root, and
 * strata-init halts cleanly on SIGTERM and passes a command's status. */
Test(template, image_runs_shell_and_strata_init)
{
	_cleanup_free_ char *mnt = tpath("run/templates/busybox@1"), *priv = tpath("private/1"),
			    *root = tpath("root/1");
	_cleanup_error_ struct st_error *err = NULL;
	struct cowfs_layer_ref r = stcow_ref(&stcow_bb, mnt, "1", COWFS_MOUNT_AUTO);
	const char *lowers[] = { mnt, NULL };
	struct cowfs_compose c = { .lowers = lowers, .private_dir = priv, .target = root };
	pid_t pid;
	int st;

	cr_assert_eq(cowfs_layer_acquire(&r, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(cowfs_private_create(priv, &err), 0);
	cr_assert_eq(cowfs_root_compose(&c, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(sh("chroot '%s' /bin/sh -c '. /etc/os-release && test \"$NAME\" = "
			"\"Strata busybox\" && readlink /sbin/init | grep -q busybox'",
			root),
		     0);
	cr_assert_eq(sh("mkdir -p '%s/etc/strata' && cp '%s' '%s/sbin/strata-init' && "
			"printf '#!/bin/sh\\necho rc-ran > /tmp/rc.out\\n' > '%s/etc/strata/rc' && "
			"chmod +x '%s/etc/strata/rc'",
			root, STRATA_INIT, root, root, root),
		     0);
	/* a one-shot command: its status comes back */
	cr_assert_eq(
		sh("unshare -fp --mount-proc chroot '%s' /sbin/strata-init /bin/sh -c 'exit 7'",
		   root),
		7);
	/* PID 1 of a new pid namespace that halts on SIGTERM: exit 0, rc ran.
	 * (A SIGTERM before init has blocked signals is dropped by the kernel for
	 * a pid-namespace init: wait for rc's mark first.) */
	cr_assert_eq(sh("rm -f '%s/tmp/rc.out'", root), 0);
	{
		struct ksal_clone_args ca = { .flags = CLONE_NEWPID, .exit_signal = SIGCHLD };

		pid = ksal_clone3(&ca);
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			if (chroot(root) < 0 || chdir("/") < 0)
				_exit(126);
			execl("/sbin/strata-init", "strata-init", NULL);
			_exit(127);
		}
	}
	for (int i = 0; i < 100 && sh("test -e '%s/tmp/rc.out'", root) != 0; i++)
		usleep(20000);
	cr_assert_eq(kill(pid, SIGTERM), 0);
	{
		pid_t got = 0;

		for (int i = 0; i < 300 && (got = waitpid(pid, &st, WNOHANG)) == 0; i++)
			usleep(10000);
		if (got == pid)
			pid = -1;
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		cr_assert_fail("strata-init did not halt on SIGTERM within 3 s");
	}
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	cr_assert_eq(sh("grep -qx rc-ran '%s/tmp/rc.out'", root), 0);
	cr_assert_eq(cowfs_root_decompose(root, &err), 0);
	cr_assert_eq(cowfs_layer_release(&r, &err), 0);
}

/* debian-12-minimal only when its rootfs is already in the host's cache. */
Test(template, debian_minimal_from_cache)
{
	_cleanup_free_ char *tdir = tpath("deb-templates");
	_cleanup_error_ struct st_error *err = NULL;
	struct tmpl_store_opts o = { .templates_dir = tdir,
				     .cache_dir = TMPL_DEFAULT_CACHE_DIR,
				     .recipes_dir = RECIPES_DIR };
	_cleanup_tmpl_store_ struct tmpl_store *s = NULL;
	struct tmpl_manifest m = { 0 };
	glob_t g = { 0 };
	bool cached = false;

	/* a finished cache dir, not one a build is writing (.tmp-PID) */
	if (glob(TMPL_DEFAULT_CACHE_DIR "/rootfs/debian-12-minimal-*", GLOB_ONLYDIR, NULL, &g) == 0)
		for (size_t i = 0; i < g.gl_pathc; i++)
			cached |= !strstr(g.gl_pathv[i], ".tmp-");
	globfree(&g);
	if (!cached) {
		stcow_cleanup(); /* a skip does not run .fini */
		cr_skip_test("debian-12-minimal not in " TMPL_DEFAULT_CACHE_DIR
			     " (build it once with the builder)");
	}
	cr_assert_eq(tmpl_store_open(&o, &s, &err), 0);
	cr_assert_eq(tmpl_build(s, "debian-12-minimal", NULL, NULL, &m, &err), 0, "%s",
		     err ? err->msg : "");
	cr_assert_not(m.has_init, "minbase has no init");
	cr_assert_str_eq(m.halt_signal, "SIGTERM", "strata-init's");
	cr_assert_str_eq(m.base, "debootstrap");
	{
		bool ip = false;
		for (char **p = m.packages; *p; p++)
			ip |= !strncmp(*p, "iproute2 ", 9);
		cr_assert(ip, "iproute2 in the package list");
	}
	cr_assert_eq(sh("unsquashfs -l '%s' | grep -q 'sbin/strata-init$'", m.image), 0,
		     "bind-mount target for strata-init");
	cr_assert_eq(sh("unsquashfs -l '%s' | grep -q 'squashfs-root/proc/.'", m.image), 1,
		     "nothing of the host's /proc in the image");
	cr_assert_eq(sh("grep -q ' %s/rootfs/' /proc/self/mounts", TMPL_DEFAULT_CACHE_DIR), 1,
		     "no mount left in the cache");
	/* it runs: idmapped for a user-namespaced container, strata-init as PID 1 */
	{
		_cleanup_free_ char *mnt = tpath("run/templates/debian-12-minimal@1"),
				    *priv = tpath("private/deb"), *root = tpath("root/deb");
		struct cowfs_layer_ref r = stcow_ref(&m, mnt, "deb", COWFS_MOUNT_KERNEL);
		const char *lowers[] = { mnt, NULL };
		struct cowfs_compose c = { .lowers = lowers,
					   .private_dir = priv,
					   .target = root,
					   .idmap_base = 3000000,
					   .idmap_count = 65536 };
		struct stat st;

		cr_assert_eq(cowfs_layer_acquire(&r, &err), 0, "%s", err ? err->msg : "");
		cr_assert_eq(cowfs_private_create(priv, &err), 0);
		cr_assert_eq(cowfs_root_compose(&c, &err), 0, "%s", err ? err->msg : "");
		cr_assert_eq(lstat(tpath("root/deb/var/log/btmp"), &st), 0);
		cr_assert_eq(st.st_uid, 3000000);
		cr_assert_eq(st.st_gid, 3000043, "group utmp mapped");
		cr_assert_eq(sh("mount --bind -o ro '%s' '%s/usr/sbin/strata-init' && "
				"timeout 20 unshare -fp chroot '%s' /usr/sbin/strata-init "
				"/bin/sh -c 'ip -V && test $PPID = 1'; rc=$?; "
				"umount '%s/usr/sbin/strata-init'; exit $rc",
				STRATA_INIT, root, root, root),
			     0);
		cr_assert_eq(cowfs_root_decompose(root, &err), 0);
		cr_assert_eq(cowfs_layer_release(&r, &err), 0);
	}
	tmpl_manifest_clear(&m);
}

/* "Patch once": version 2 of a Debian template from version 1 with the
 * distribution's upgrade, version 1 untouched. Runs where a debian rootfs is
 * in the host's cache (scripts/test.sh caches debian-12 before this stage). */
Test(template, debian_update_makes_next_version)
{
	_cleanup_free_ char *tdir = tpath("upd-templates");
	_cleanup_error_ struct st_error *err = NULL;
	struct tmpl_store_opts o = { .templates_dir = tdir,
				     .cache_dir = TMPL_DEFAULT_CACHE_DIR,
				     .recipes_dir = RECIPES_DIR };
	_cleanup_tmpl_store_ struct tmpl_store *s = NULL;
	struct tmpl_manifest m1 = { 0 }, m2 = { 0 }, again = { 0 };
	const char *name = NULL;
	char before[65], after[65];
	glob_t g = { 0 };

	/* a finished cache dir, not one a build is writing (.tmp-PID) */
	static const char *const names[] = { "debian-12", "debian-12-minimal" };
	for (size_t k = 0; k < ARRAY_SIZE(names) && !name; k++) {
		_cleanup_free_ char *pat = NULL;
		cr_assert_geq(asprintf(&pat, "%s/rootfs/%s-*", TMPL_DEFAULT_CACHE_DIR, names[k]),
			      0);
		if (glob(pat, GLOB_ONLYDIR, NULL, &g) == 0)
			for (size_t i = 0; i < g.gl_pathc; i++) {
				/* <name>-<16 hex of the recipe hash>, not <name>-minimal-... */
				const char *h =
					strrchr(g.gl_pathv[i], '/') + 1 + strlen(names[k]) + 1;
				if (strlen(h) == 16 && strspn(h, "0123456789abcdef") == 16)
					name = names[k];
			}
		globfree(&g);
	}
	if (!name) {
		stcow_cleanup(); /* a skip does not run .fini */
		cr_skip_test("no debian rootfs in " TMPL_DEFAULT_CACHE_DIR
			     " (scripts/template-cache.sh makes one)");
	}
	cr_assert_eq(tmpl_store_open(&o, &s, &err), 0);
	cr_assert_eq(tmpl_build(s, name, NULL, NULL, &m1, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(m1.version, 1);
	cr_assert_eq(cowfs_sha256_file(m1.image, before, &err), 0);

	cr_assert_eq(tmpl_update(s, name, NULL, NULL, &m2, &err), 0, "update %s: %s", name,
		     err ? err->msg : "");
	cr_assert_eq(m2.version, 2, "N+1");
	cr_assert_eq(m2.parent_version, 1, "made from N");
	cr_assert_str_eq(m2.base, m1.base);
	cr_assert_neq(strcmp(m2.image, m1.image), 0, "a new image, not N's");
	cr_assert_eq(access(m2.image, R_OK), 0);
	cr_assert_not_null(m2.packages);
	cr_assert_not_null(m2.packages[0], "package list recorded");
	/* version 1 is not edited: same bytes, and still found by name@1 */
	cr_assert_eq(cowfs_sha256_file(m1.image, after, &err), 0);
	cr_assert_str_eq(before, after, "version 1's image changed");
	{
		_cleanup_free_ char *ref = NULL;
		cr_assert_geq(asprintf(&ref, "%s@1", name), 0);
		cr_assert_eq(tmpl_find(s, ref, &again, &err), 0);
		cr_assert_str_eq(again.sha256, m1.sha256);
		tmpl_manifest_clear(&again);
	}
	/* the name alone now means the latest version */
	cr_assert_eq(tmpl_find(s, name, &again, &err), 0);
	cr_assert_eq(again.version, 2);
	tmpl_manifest_clear(&again);
	cr_assert_eq(sh("grep -q ' %s/rootfs/' /proc/self/mounts", TMPL_DEFAULT_CACHE_DIR), 1,
		     "no mount left in the cache");
	tmpl_manifest_clear(&m1);
	tmpl_manifest_clear(&m2);
}
