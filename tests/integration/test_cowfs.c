/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cow-fs against the real kernel (root): template layers mounted once and
 * reference-counted, private areas, overlay composition, idmapped lowers,
 * corrupt images refused, the template never written.
 */
#include <ftw.h>
#include <grp.h>
#include <sched.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <sys/wait.h>

#include "test_cowfs_common.c"

TestSuite(cowfs, .init = stcow_setup_store, .fini = stcow_cleanup, .timeout = 120);

static void acquire_release_twice(enum cowfs_mount_mode mode, long want_magic)
{
	_cleanup_free_ char *mnt = tpath("run/templates/busybox@1");
	_cleanup_error_ struct st_error *err = NULL;
	struct cowfs_layer_ref a = stcow_ref(&stcow_bb, mnt, "101", mode);
	struct cowfs_layer_ref b = stcow_ref(&stcow_bb, mnt, "102", mode);
	struct statfs sfs;

	cr_assert_eq(cowfs_layer_acquire(&a, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(cowfs_layer_acquire(&b, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(stcow_mounts_under(mnt, NULL), 1, "one mount for two users");
	cr_assert(cowfs_layer_is_mounted(mnt));
	cr_assert_eq(statfs(mnt, &sfs), 0);
	cr_assert_eq(sfs.f_type, want_magic);
	if (mode == COWFS_MOUNT_KERNEL)
		cr_assert_eq(stcow_loops_under(stcow_dir), 1, "one loop device");
	cr_assert_eq(sh("test -x '%s/bin/busybox' && grep -q 'Strata busybox' '%s/etc/os-release'",
			mnt, mnt),
		     0);
	/* read-only at every level */
	cr_assert_neq(sh("touch '%s/x' 2>/dev/null", mnt), 0);

	cr_assert_eq(cowfs_layer_release(&a, &err), 0, "%s", err ? err->msg : "");
	cr_assert(cowfs_layer_is_mounted(mnt), "still mounted while 102 holds it");
	cr_assert_eq(cowfs_layer_release(&b, &err), 0, "%s", err ? err->msg : "");
	cr_assert_not(cowfs_layer_is_mounted(mnt));
	cr_assert_eq(stcow_mounts_under(stcow_dir, NULL), 0);
	cr_assert_neq(access(mnt, F_OK), 0, "mount dir removed");
	cr_assert_eq(stcow_loops_settle(stcow_dir), 0, "loop device gone");
}

Test(cowfs, layer_kernel_acquire_twice_one_mount)
{
	acquire_release_twice(COWFS_MOUNT_KERNEL, 0x73717368);
}

Test(cowfs, layer_fuse_acquire_twice_one_mount)
{
	acquire_release_twice(COWFS_MOUNT_FUSE, 0x65735546);
}

Test(cowfs, layer_refcount_survives_a_crash)
{
	_cleanup_free_ char *mnt = tpath("run/templates/busybox@1");
	_cleanup_error_ struct st_error *err = NULL;
	struct cowfs_layer_ref a = stcow_ref(&stcow_bb, mnt, "101", COWFS_MOUNT_KERNEL);
	struct cowfs_layer_ref b = stcow_ref(&stcow_bb, mnt, "102", COWFS_MOUNT_KERNEL);
	pid_t pid = fork();
	int st;

	/* a "daemon" takes two references and dies without releasing */
	if (pid == 0)
		_exit(cowfs_layer_acquire(&a, NULL) == 0 && cowfs_layer_acquire(&b, NULL) == 0 ? 0
											       : 1);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert_eq(st, 0);
	/* the restarted daemon releases one: still mounted; then the other */
	cr_assert_eq(cowfs_layer_release(&a, &err), 0, "%s", err ? err->msg : "");
	cr_assert(cowfs_layer_is_mounted(mnt));
	cr_assert_eq(cowfs_layer_release(&b, &err), 0, "%s", err ? err->msg : "");
	cr_assert_not(cowfs_layer_is_mounted(mnt));
}

/* Compose CTID over the busybox layer at <dir>/root/CTID. */
static void compose(const char *mnt, const char *ctid, uint32_t base, uint32_t count)
{
	_cleanup_free_ char *priv = tpath("private/%s", ctid), *root = tpath("root/%s", ctid);
	_cleanup_error_ struct st_error *err = NULL;
	const char *lowers[] = { mnt, NULL };
	struct cowfs_compose c = { .lowers = lowers,
				   .private_dir = priv,
				   .target = root,
				   .idmap_base = base,
				   .idmap_count = count };

	cr_assert_eq(cowfs_root_compose(&c, &err), 0, "%s", err ? err->msg : "");
	cr_assert(cowfs_root_is_mounted(root));
}

static char *layer_up(void)
{
	char *mnt = tpath("run/templates/busybox@1");
	_cleanup_error_ struct st_error *err = NULL;
	struct cowfs_layer_ref r = stcow_ref(&stcow_bb, mnt, "test", COWFS_MOUNT_AUTO);

	cr_assert_eq(cowfs_layer_acquire(&r, &err), 0, "%s", err ? err->msg : "");
	return mnt;
}

static void layer_down(const char *mnt)
{
	_cleanup_error_ struct st_error *err = NULL;
	struct cowfs_layer_ref r = stcow_ref(&stcow_bb, mnt, "test", COWFS_MOUNT_AUTO);

	cr_assert_eq(cowfs_layer_release(&r, &err), 0, "%s", err ? err->msg : "");
}

Test(cowfs, fifty_private_areas_writes_stay_in_their_upper)
{
	_cleanup_free_ char *mnt = layer_up();
	_cleanup_error_ struct st_error *err = NULL;
	char ct[16];

	for (int i = 0; i < 50; i++) {
		_cleanup_free_ char *p = NULL;

		snprintf(ct, sizeof(ct), "%d", 1000 + i);
		p = tpath("private/%s", ct);
		cr_assert_eq(cowfs_private_create(p, &err), 0, "%s", err ? err->msg : "");
	}
	for (int i = 0; i < 3; i++) {
		snprintf(ct, sizeof(ct), "%d", 1000 + i);
		compose(mnt, ct, 0, 0);
		/* a write through the overlay, by the container's own shell */
		cr_assert_eq(sh("chroot '%s/root/%s' /bin/sh -c 'echo ct%s > /etc/mine && "
				"echo changed >> /etc/os-release && rm /bin/vi'",
				stcow_dir, ct, ct),
			     0);
	}
	for (int i = 0; i < 50; i++) {
		snprintf(ct, sizeof(ct), "%d", 1000 + i);
		if (i < 3) {
			cr_assert_eq(sh("grep -qx ct%s '%s/private/%s/upper/etc/mine'", ct,
					stcow_dir, ct),
				     0);
			/* vi deleted: a whiteout (char 0:0) in this upper */
			cr_assert_eq(sh("test -c '%s/private/%s/upper/bin/vi'", stcow_dir, ct), 0);
			cr_assert_neq(sh("test -e '%s/root/%s/bin/vi'", stcow_dir, ct), 0);
		} else {
			cr_assert_eq(
				sh("test -z \"$(ls -A '%s/private/%s/upper')\"", stcow_dir, ct), 0,
				"container %s's upper is empty", ct);
		}
	}
	/* and not in each other's view, nor in the template */
	cr_assert_eq(
		sh("grep -qx ct1000 '%s/root/1000/etc/mine' && "
		   "! test -e '%s/root/1001/etc/mine'.x && grep -qx ct1001 '%s/root/1001/etc/mine'",
		   stcow_dir, stcow_dir, stcow_dir),
		0);
	cr_assert_neq(sh("test -e '%s/etc/mine'", mnt), 0);
	cr_assert_eq(sh("test -e '%s/bin/vi' && ! grep -q changed '%s/etc/os-release'", mnt, mnt),
		     0);
	for (int i = 0; i < 3; i++) {
		_cleanup_free_ char *root = NULL;

		snprintf(ct, sizeof(ct), "%d", 1000 + i);
		root = tpath("root/%s", ct);
		cr_assert_eq(cowfs_root_decompose(root, &err), 0, "%s", err ? err->msg : "");
		cr_assert_not(cowfs_root_is_mounted(root));
	}
	for (int i = 0; i < 50; i++) {
		_cleanup_free_ char *p = NULL;

		snprintf(ct, sizeof(ct), "%d", 1000 + i);
		p = tpath("private/%s", ct);
		cr_assert_eq(cowfs_private_destroy(p, &err), 0, "%s", err ? err->msg : "");
	}
	layer_down(mnt);
	cr_assert_eq(stcow_mounts_under(stcow_dir, NULL), 0, "no mount left");
	cr_assert_eq(stcow_loops_settle(stcow_dir), 0, "no loop device left");
	cr_assert_eq(sh("test -z \"$(ls -A '%s/private')\" && test -z \"$(ls -A '%s/root')\" && "
			"test -z \"$(ls -A '%s/run/templates')\"",
			stcow_dir, stcow_dir, stcow_dir),
		     0, "no directory left");
}

static int mutated;

static int mutate(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	_cleanup_free_ char *moved = NULL;

	if (ftw->level == 0)
		return 0;
	if (type == FTW_F) {
		FILE *f = fopen(path, "a");
		if (f) {
			fputs("overwritten by the container\n", f);
			fclose(f);
			mutated++;
		}
		chmod(path, 0777);
		if (chown(path, 1234, 1234) == 0)
			mutated++;
	}
	if (asprintf(&moved, "%s.moved", path) < 0)
		return 1;
	if (rename(path, moved) == 0) {
		mutated++;
	} else if (errno == EXDEV && type == FTW_DP) {
		/* a template directory moves only by copy (no redirect_dir) */
		free(moved);
		moved = strdup(path);
	}
	if (type == FTW_DP)
		rmdir(moved);
	else
		unlink(moved);
	return 0;
}

Test(cowfs, writes_everywhere_never_reach_the_template)
{
	_cleanup_free_ char *mnt = layer_up(), *root = tpath("root/200"),
			    *priv = tpath("private/200");
	_cleanup_error_ struct st_error *err = NULL;
	char before[65], after[65];

	cr_assert_eq(cowfs_sha256_file(stcow_bb.image, before, &err), 0);
	cr_assert_str_eq(before, stcow_bb.sha256);
	cr_assert_eq(cowfs_private_create(priv, &err), 0);
	compose(mnt, "200", 0, 0);
	/* write, chmod, chown, rename and delete every file and directory */
	cr_assert_eq(nftw(root, mutate, 64, FTW_PHYS | FTW_DEPTH), 0);
	cr_assert_gt(mutated, 280, "mutated %d entries", mutated);
	cr_assert_eq(sh("test -z \"$(ls -A '%s')\"", root), 0, "the container's view is empty");
	cr_assert_eq(cowfs_root_decompose(root, &err), 0, "%s", err ? err->msg : "");
	/* the template: same content, same hash */
	cr_assert_eq(sh("test -x '%s/bin/busybox' && test -L '%s/bin/sh' && "
			"grep -q 'Strata busybox' '%s/etc/os-release'",
			mnt, mnt, mnt),
		     0);
	layer_down(mnt);
	cr_assert_eq(cowfs_sha256_file(stcow_bb.image, after, &err), 0);
	cr_assert_str_eq(after, before);
	/* the private upper holds the deletions: whiteouts at the top */
	cr_assert_eq(sh("test -c '%s/upper/bin' && test -c '%s/upper/etc'", priv, priv), 0);
	cr_assert_eq(cowfs_private_destroy(priv, &err), 0, "%s", err ? err->msg : "");
}

Test(cowfs, idmapped_compose_owned_by_base)
{
	_cleanup_free_ char *mnt = layer_up(), *root = tpath("root/300"),
			    *priv = tpath("private/300");
	_cleanup_error_ struct st_error *err = NULL;
	const uint32_t base = 2000000;
	struct stat st;
	pid_t pid;
	int status;

	cr_assert_eq(cowfs_private_create(priv, &err), 0);
	compose(mnt, "300", base, 65536);
	/* the template's root-owned files appear owned by the mapped root */
	cr_assert_eq(lstat(root, &st), 0);
	cr_assert_eq(st.st_uid, base);
	cr_assert_eq(stat(tpath("root/300/bin/busybox"), &st), 0);
	cr_assert_eq(st.st_uid, base);
	cr_assert_eq(st.st_gid, base);
	/* root of the container's user namespace writes */
	pid = fork();
	if (pid == 0) {
		int ns = cowfs_userns_fd(base, 65536, NULL);
		if (ns < 0 || setns(ns, CLONE_NEWUSER) < 0 || setgroups(0, NULL) < 0 ||
		    setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
			_exit(2);
		if (chdir(root) < 0)
			_exit(3);
		FILE *f = fopen("root/written", "w");
		if (!f || fputs("hi\n", f) < 0 || fclose(f) != 0)
			_exit(4);
		if (chmod("etc/hostname", 0600) < 0) /* copy-up of a template file */
			_exit(5);
		if (mkdir("newdir", 0755) < 0)
			_exit(6);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(status, 0, "writer in the user namespace failed: %d", WEXITSTATUS(status));
	cr_assert_eq(stat(tpath("private/300/upper/root/written"), &st), 0);
	cr_assert_eq(st.st_uid, base, "new file owned by %u on the upper", st.st_uid);
	cr_assert_eq(st.st_gid, base);
	cr_assert_eq(stat(tpath("private/300/upper/etc/hostname"), &st), 0);
	cr_assert_eq(st.st_uid, base, "copied-up file owned by %u", st.st_uid);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(stat(tpath("private/300/upper/newdir"), &st), 0);
	cr_assert_eq(st.st_uid, base);
	cr_assert_eq(stat(tpath("private/300/upper"), &st), 0);
	cr_assert_eq(st.st_uid, base, "upper owned by the mapped root");
	/* the template itself still root's */
	cr_assert_eq(stat(tpath("run/templates/busybox@1/etc/hostname"), &st), 0);
	cr_assert_eq(st.st_uid, 0);
	cr_assert_eq(st.st_mode & 0777, 0644);
	cr_assert_eq(cowfs_root_decompose(root, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(stcow_mounts_under(root, NULL), 0);
	layer_down(mnt);
	cr_assert_eq(stcow_mounts_under(stcow_dir, NULL), 0, "no idmapped mount left");
}

Test(cowfs, corrupt_and_truncated_images_refused)
{
	_cleanup_free_ char *bad = tpath("bad.sqfs"), *mnt = tpath("run/templates/bad@1");
	_cleanup_error_ struct st_error *e1 = NULL, *e2 = NULL, *e3 = NULL;
	struct cowfs_layer_ref r = stcow_ref(&stcow_bb, mnt, "101", COWFS_MOUNT_KERNEL);
	struct stat st;

	r.image = bad;
	/* one byte flipped in the middle: hash mismatch */
	cr_assert_eq(sh("cp '%s' '%s' && printf '\\377' | dd of='%s' bs=1 seek=4096 conv=notrunc "
			"status=none",
			stcow_bb.image, bad, bad),
		     0);
	cr_assert_lt(cowfs_layer_acquire(&r, &e1), 0);
	cr_assert_not_null(strstr(e1->msg, bad), "names the file: %s", e1->msg);
	cr_assert_not_null(strstr(e1->msg, "corrupt"), "%s", e1->msg);
	/* truncated, with no hash to compare */
	cr_assert_eq(stat(stcow_bb.image, &st), 0);
	cr_assert_eq(truncate(bad, st.st_size / 2), 0);
	r.sha256 = NULL;
	cr_assert_lt(cowfs_layer_acquire(&r, &e2), 0);
	cr_assert_not_null(strstr(e2->msg, bad), "%s", e2->msg);
	cr_assert_not_null(strstr(e2->msg, "truncated"), "%s", e2->msg);
	/* not squashfs at all */
	cr_assert_eq(sh("head -c 100000 /dev/urandom > '%s'", bad), 0);
	cr_assert_lt(cowfs_layer_acquire(&r, &e3), 0);
	cr_assert_not_null(strstr(e3->msg, bad), "%s", e3->msg);
	cr_assert_eq(stcow_mounts_under(stcow_dir, NULL), 0);
	cr_assert_eq(stcow_loops_settle(stcow_dir), 0);
	cr_assert_neq(access(mnt, F_OK), 0, "no mount dir left behind");
}

Test(cowfs, clone_keeps_whiteouts_owners_and_xattrs)
{
	_cleanup_free_ char *mnt = layer_up(), *a = tpath("private/400"), *b = tpath("private/401");
	_cleanup_error_ struct st_error *err = NULL;
	struct stat st;

	cr_assert_eq(cowfs_private_create(a, &err), 0);
	compose(mnt, "400", 0, 0);
	cr_assert_eq(sh("chroot '%s/root/400' /bin/sh -c 'rm -r /usr/sbin && echo x > /etc/f && "
			"chown 33:44 /etc/f && mkdir /opt && mv /etc/hostname /opt/h'",
			stcow_dir),
		     0);
	cr_assert_eq(cowfs_root_decompose(tpath("root/400"), &err), 0);
	cr_assert_eq(lsetxattr(tpath("private/400/upper/etc/f"), "user.strata", "hello", 5, 0), 0);
	cr_assert_eq(
		lsetxattr(tpath("private/400/upper/etc/f"), "trusted.overlay.strata", "t", 1, 0),
		0);
	cr_assert_eq(cowfs_private_clone(a, b, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(lstat(tpath("private/401/upper/usr/sbin"), &st), 0);
	cr_assert(S_ISCHR(st.st_mode) && st.st_rdev == 0, "whiteout kept");
	cr_assert_eq(stat(tpath("private/401/upper/etc/f"), &st), 0);
	cr_assert_eq(st.st_uid, 33);
	cr_assert_eq(st.st_gid, 44);
	{
		char v[16] = { 0 };
		cr_assert_eq(
			lgetxattr(tpath("private/401/upper/etc/f"), "user.strata", v, sizeof(v)),
			5);
		cr_assert_str_eq(v, "hello");
		cr_assert_eq(lgetxattr(tpath("private/401/upper/etc/f"), "trusted.overlay.strata",
				       v, sizeof(v)),
			     1, "trusted.overlay.* xattrs copied");
	}
	/* the clone composes to the same view */
	compose(mnt, "401", 0, 0);
	cr_assert_eq(sh("test ! -e '%s/root/401/usr/sbin' && grep -qx x '%s/root/401/etc/f' && "
			"test -f '%s/root/401/opt/h' && test ! -e '%s/root/401/etc/hostname'",
			stcow_dir, stcow_dir, stcow_dir, stcow_dir),
		     0);
	cr_assert_eq(cowfs_root_decompose(tpath("root/401"), &err), 0);
	layer_down(mnt);
}

Test(cowfs, compose_without_private_area_fails_cleanly)
{
	_cleanup_free_ char *mnt = layer_up(), *root = tpath("root/500");
	_cleanup_error_ struct st_error *err = NULL;
	const char *lowers[] = { mnt, NULL };
	struct cowfs_compose c = { .lowers = lowers,
				   .private_dir = tpath("private/500"),
				   .target = root };

	cr_assert_lt(cowfs_root_compose(&c, &err), 0);
	cr_assert_eq(err->exit_code, ST_EXIT_NOPRIVATE, "%s", err->msg);
	cr_assert_not(cowfs_root_is_mounted(root));
	free((char *)c.private_dir);
	layer_down(mnt);
}

Test(cowfs, rebase_reports_shadowed_files)
{
	_cleanup_free_ char *mnt = layer_up(), *priv = tpath("private/600"),
			    *root = tpath("root/600"), *mnt2 = tpath("run/templates/busybox@2");
	_cleanup_error_ struct st_error *err = NULL;
	struct tmpl_manifest v2 = { 0 };
	char **paths = NULL;
	size_t n = 0;

	cr_assert_eq(cowfs_private_create(priv, &err), 0);
	compose(mnt, "600", 0, 0);
	cr_assert_eq(sh("chroot '%s' /bin/sh -c 'echo mine > /etc/hostname && echo new > /etc/new "
			"&& rm /bin/vi && mkdir -p /opt/x && rm -r /usr/sbin && mkdir /usr/sbin "
			"&& touch /usr/sbin/only'",
			root),
		     0);
	cr_assert_eq(cowfs_root_decompose(root, &err), 0);
	/* version 2 of the template; the container moves onto it */
	cr_assert_eq(tmpl_build(stcow_store, "busybox", NULL, NULL, &v2, &err), 0, "%s",
		     err ? err->msg : "");
	{
		struct cowfs_layer_ref r = stcow_ref(&v2, mnt2, "600", COWFS_MOUNT_AUTO);
		const char *lowers[] = { mnt2, NULL };

		cr_assert_eq(cowfs_layer_acquire(&r, &err), 0, "%s", err ? err->msg : "");
		cr_assert_eq(cowfs_private_shadows(priv, lowers, &paths, &n, &err), 0, "%s",
			     err ? err->msg : "");
		cr_assert_eq(n, 3, "got %zu: %s %s %s %s", n, n > 0 ? paths[0] : "",
			     n > 1 ? paths[1] : "", n > 2 ? paths[2] : "", n > 3 ? paths[3] : "");
		cr_assert_str_eq(paths[0], "bin/vi");
		cr_assert_str_eq(paths[1], "etc/hostname");
		cr_assert_str_eq(paths[2], "usr/sbin");
		strv_free(paths);
		compose(mnt2, "600", 0, 0);
		cr_assert_eq(sh("grep -qx mine '%s/etc/hostname' && grep -qx new '%s/etc/new' && "
				"test ! -e '%s/bin/vi' && test -x '%s/bin/busybox' && "
				"test \"$(ls '%s/usr/sbin')\" = only",
				root, root, root, root, root),
			     0);
		cr_assert_eq(cowfs_root_decompose(root, &err), 0);
		cr_assert_eq(cowfs_layer_release(&r, &err), 0);
	}
	tmpl_manifest_clear(&v2);
	layer_down(mnt);
}

Test(cowfs, create_on_a_full_disk_leaves_nothing)
{
	_cleanup_free_ char *fs = tpath("small"), *priv = tpath("small/101");
	_cleanup_error_ struct st_error *err = NULL;

	cr_assert_eq(mkdir(fs, 0755), 0);
	/* room for the root inode and two more: the third mkdir fails */
	cr_assert_eq(mount("stcow-small", fs, "tmpfs", 0, "size=64k,nr_inodes=3"), 0);
	cr_assert_lt(cowfs_private_create(priv, &err), 0);
	cr_assert_eq(err->exit_code, ST_EXIT_NOSPACE, "%s", err->msg);
	cr_assert_not_null(strstr(err->msg, priv), "%s", err->msg);
	cr_assert_eq(sh("test -z \"$(ls -A '%s')\"", fs), 0, "nothing left behind");
	cr_assert_eq(umount(fs), 0);
}

Test(cowfs, image_layout_enforces_the_disk_limit)
{
	_cleanup_free_ char *mnt = layer_up(), *priv = tpath("private/700"),
			    *root = tpath("root/700"), *img = tpath("private/700.img");
	_cleanup_error_ struct st_error *err = NULL, *e2 = NULL;
	uint64_t bytes = 0, inodes = 0;
	struct stat st;

	cr_assert_eq(cowfs_private_create_image(priv, 16 << 20, &err), 0, "%s",
		     err ? err->msg : "");
	cr_assert(cowfs_private_is_image(priv));
	cr_assert_eq(stcow_mounts_under(priv, NULL), 0, "closed after create");
	cr_assert_lt(cowfs_private_create_image(priv, 16 << 20, &e2), 0);
	cr_assert_eq(e2->exit_code, ST_EXIT_PRIVATE_EXISTS);
	compose(mnt, "700", 0, 0);
	/* 40 x 1.9 MiB into a 16 MiB area: ENOSPC inside, what fit is kept */
	cr_assert_eq(sh("chroot '%s' /bin/sh -c 'i=0; while [ $i -lt 40 ]; do "
			"cat /bin/busybox >> /big || exit 28; i=$((i+1)); done' 2>/dev/null",
			root),
		     28, "the writer hit ENOSPC");
	cr_assert_eq(stat(tpath("private/700/upper/big"), &st), 0);
	cr_assert_lt(st.st_size, 16 << 20, "stopped at the limit: %lld", (long long)st.st_size);
	cr_assert_eq(cowfs_private_usage(priv, &bytes, &inodes, &err), 0);
	cr_assert_leq(bytes, 16 << 20);
	cr_assert_gt(inodes, 0);
	cr_assert_eq(cowfs_root_decompose(root, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(cowfs_private_close(priv, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(stcow_mounts_under(priv, NULL), 0);
	/* it comes back with the data */
	compose(mnt, "700", 0, 0);
	cr_assert_eq(stat(tpath("root/700/big"), &st), 0);
	cr_assert_eq(cowfs_root_decompose(root, &err), 0);
	cr_assert_eq(cowfs_private_destroy(priv, &err), 0, "%s", err ? err->msg : "");
	cr_assert_neq(access(priv, F_OK), 0);
	cr_assert_neq(access(img, F_OK), 0);
	layer_down(mnt);
	cr_assert_eq(stcow_mounts_under(stcow_dir, NULL), 0);
	cr_assert_eq(stcow_loops_settle(stcow_dir), 0, "no loop device left");
}

Test(cowfs, concurrent_acquire_mounts_once)
{
	_cleanup_free_ char *mnt = tpath("run/templates/busybox@1");
	_cleanup_error_ struct st_error *err = NULL;
	pid_t kids[8];
	char user[16];
	int st;

	for (int i = 0; i < 8; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			struct cowfs_layer_ref r;

			snprintf(user, sizeof(user), "%d", 800 + i);
			r = stcow_ref(&stcow_bb, mnt, user, COWFS_MOUNT_KERNEL);
			_exit(cowfs_layer_acquire(&r, NULL) == 0 ? 0 : 1);
		}
	}
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(waitpid(kids[i], &st, 0), kids[i]);
		cr_assert_eq(st, 0, "acquirer %d failed", i);
	}
	cr_assert_eq(stcow_mounts_under(mnt, NULL), 1, "eight users, one mount");
	cr_assert_eq(stcow_loops_under(stcow_dir), 1, "one loop device");
	for (int i = 0; i < 8; i++) {
		struct cowfs_layer_ref r;

		snprintf(user, sizeof(user), "%d", 800 + i);
		r = stcow_ref(&stcow_bb, mnt, user, COWFS_MOUNT_KERNEL);
		cr_assert_eq(cowfs_layer_is_mounted(mnt), true);
		cr_assert_eq(cowfs_layer_release(&r, &err), 0, "%s", err ? err->msg : "");
	}
	cr_assert_not(cowfs_layer_is_mounted(mnt));
	cr_assert_eq(stcow_loops_settle(stcow_dir), 0);
}

Test(cowfs, compose_over_squashfuse)
{
	_cleanup_free_ char *mnt = tpath("run/templates/busybox@1"), *priv = tpath("private/900"),
			    *root = tpath("root/900");
	_cleanup_error_ struct st_error *err = NULL;
	struct cowfs_layer_ref r = stcow_ref(&stcow_bb, mnt, "900", COWFS_MOUNT_FUSE);

	cr_assert_eq(cowfs_layer_acquire(&r, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(cowfs_private_create(priv, &err), 0);
	compose(mnt, "900", 0, 0);
	cr_assert_eq(sh("chroot '%s' /bin/sh -c 'echo fuse > /etc/hostname && rm /bin/vi && "
			"grep -q \"Strata busybox\" /etc/os-release'",
			root),
		     0);
	cr_assert_eq(sh("grep -qx fuse '%s/upper/etc/hostname' && test -c '%s/upper/bin/vi' && "
			"test -e '%s/bin/vi'",
			priv, priv, mnt),
		     0);
	cr_assert_eq(cowfs_root_decompose(root, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(cowfs_layer_release(&r, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(stcow_mounts_under(stcow_dir, NULL), 0);
	cr_assert_eq(sh("for i in $(seq 40); do pgrep -f '[s]quashfuse .*%s' >/dev/null || exit 0; "
			"sleep 0.05; done; exit 1",
			stcow_dir),
		     0, "no squashfuse process left");
}
