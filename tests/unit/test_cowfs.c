/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of cow-fs that need no root: sha256, private areas. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cow-fs/cowfs.h"
#include "cow-fs/fsutil.h"
#include "cow-fs/sha256.h"
#include "ksal/cleanup.h"

static char tmpdir[] = "/tmp/stcow-unit-XXXXXX";

static void setup(void)
{
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", tmpdir, tmpdir);
	if (system(cmd) != 0)
		cr_log_warn("cleanup of %s failed", tmpdir);
}

Test(sha256, vectors)
{
	static const struct {
		const char *in, *out;
	} v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnop"
		  "qklmnopqrlmnopqrsmnopqrstnopqrstu",
		  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		char hex[65];
		sha256_buf_hex(v[i].in, strlen(v[i].in), hex);
		cr_assert_str_eq(hex, v[i].out, "sha256(\"%s\")", v[i].in);
	}
}

Test(sha256, million_a_streamed_in_odd_chunks)
{
	struct sha256_ctx c;
	uint8_t d[32];
	char hex[65], buf[997];
	size_t left = 1000000;

	memset(buf, 'a', sizeof(buf));
	sha256_init(&c);
	while (left) {
		size_t n = left < sizeof(buf) ? left : sizeof(buf);
		sha256_update(&c, buf, n);
		left -= n;
	}
	sha256_final(&c, d);
	sha256_hex(d, hex);
	cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

Test(sha256, file_and_missing_file, .init = setup, .fini = teardown)
{
	_cleanup_free_ char *p = NULL;
	_cleanup_error_ struct st_error *err = NULL;
	char hex[65];
	FILE *f;

	cr_assert(asprintf(&p, "%s/f", tmpdir) > 0);
	f = fopen(p, "w");
	fputs("abc", f);
	fclose(f);
	cr_assert_eq(cowfs_sha256_file(p, hex, &err), 0);
	cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	unlink(p);
	cr_assert_lt(cowfs_sha256_file(p, hex, &err), 0);
	cr_assert_not_null(strstr(err->msg, p), "%s", err->msg);
}

/* copy_file_range refuses to cross filesystems (EXDEV): a template build
 * whose state directory is on a filesystem of its own copies anyway */
Test(copy, across_filesystems, .init = setup, .fini = teardown)
{
	_cleanup_free_ char *src = NULL, *dst = NULL;
	_cleanup_error_ struct st_error *err = NULL;
	struct stat a, b;
	char buf[200000], back[sizeof(buf)];
	FILE *f;

	if (stat("/dev/shm", &a) < 0 || stat(tmpdir, &b) < 0 || a.st_dev == b.st_dev)
		cr_skip_test("/dev/shm is not a filesystem of its own here");
	cr_assert(asprintf(&src, "/dev/shm/stcow-unit-%d", (int)getpid()) > 0);
	cr_assert(asprintf(&dst, "%s/copy", tmpdir) > 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7 + 3);
	f = fopen(src, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(buf, 1, sizeof(buf), f), sizeof(buf));
	fclose(f);
	int r = cowfs_copy_file(src, dst, 0750, &err);
	unlink(src);
	cr_assert_eq(r, 0, "%s", err ? err->msg : "");
	f = fopen(dst, "r");
	cr_assert_not_null(f);
	cr_assert_eq(fread(back, 1, sizeof(back), f), sizeof(back));
	fclose(f);
	cr_assert_eq(memcmp(buf, back, sizeof(buf)), 0, "the copy differs");
	cr_assert_eq(stat(dst, &b), 0);
	cr_assert_eq(b.st_mode & 07777, 0750);
}

Test(mode, parse)
{
	enum cowfs_mount_mode m;

	cr_assert_eq(cowfs_mount_mode_parse("auto", &m), 0);
	cr_assert_eq(m, COWFS_MOUNT_AUTO);
	cr_assert_eq(cowfs_mount_mode_parse("kernel", &m), 0);
	cr_assert_eq(m, COWFS_MOUNT_KERNEL);
	cr_assert_eq(cowfs_mount_mode_parse("fuse", &m), 0);
	cr_assert_eq(m, COWFS_MOUNT_FUSE);
	cr_assert_lt(cowfs_mount_mode_parse("squashfs", &m), 0);
}

TestSuite(private, .init = setup, .fini = teardown);

Test(private, create_is_small_and_exclusive)
{
	_cleanup_free_ char *p = NULL;
	_cleanup_error_ struct st_error *err = NULL;
	uint64_t bytes, inodes;
	struct stat st;

	cr_assert(asprintf(&p, "%s/private/101", tmpdir) > 0);
	cr_assert_eq(cowfs_private_create(p, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(cowfs_private_usage(p, &bytes, &inodes, &err), 0);
	cr_assert_eq(inodes, 3); /* the area, upper/, work/ */
	cr_assert_leq(bytes, 16 * 1024, "fresh private area uses %llu bytes",
		      (unsigned long long)bytes);
	cr_assert_lt(cowfs_private_create(p, &err), 0);
	cr_assert_eq(err->exit_code, ST_EXIT_PRIVATE_EXISTS);
	cr_assert_eq(cowfs_private_destroy(p, NULL), 0);
	cr_assert_lt(stat(p, &st), 0);
}

Test(private, destroy_odd_permissions)
{
	_cleanup_free_ char *p = NULL, *cmd = NULL;
	_cleanup_error_ struct st_error *err = NULL;
	struct stat st;

	cr_assert(asprintf(&p, "%s/p", tmpdir) > 0);
	cr_assert_eq(cowfs_private_create(p, NULL), 0);
	cr_assert(asprintf(&cmd,
			   "cd '%s/upper' && mkdir -p a/b/c && touch a/b/c/f a/x && "
			   "chmod 0 a/b/c/f a/b/c a/b && chmod 0 a && ln -s /nonexistent dangling",
			   p) > 0);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(cowfs_private_destroy(p, &err), 0, "%s", err ? err->msg : "");
	cr_assert_lt(stat(p, &st), 0);
	/* and a second destroy says it is gone */
	cr_assert_lt(cowfs_private_destroy(p, &err), 0);
	cr_assert_eq(err->exit_code, ST_EXIT_NOPRIVATE);
}

Test(private, clone_copies_upper_with_links_and_modes)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *cmd = NULL, *f1 = NULL, *f2 = NULL, *lnk = NULL;
	_cleanup_error_ struct st_error *err = NULL;
	struct stat s1, s2;
	char target[64] = { 0 };

	cr_assert(asprintf(&a, "%s/a", tmpdir) > 0 && asprintf(&b, "%s/b", tmpdir) > 0);
	cr_assert_eq(cowfs_private_create(a, NULL), 0);
	cr_assert(asprintf(&cmd,
			   "cd '%s/upper' && mkdir -p etc/d && echo hello > etc/f && "
			   "ln etc/f etc/d/hard && ln -s ../f etc/d/sym && chmod 4750 etc/f && "
			   "mkfifo etc/fifo && touch -d 2001-01-01 etc/f",
			   a) > 0);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(cowfs_private_clone(a, b, &err), 0, "%s", err ? err->msg : "");
	cr_assert(asprintf(&f1, "%s/upper/etc/f", b) > 0 &&
		  asprintf(&f2, "%s/upper/etc/d/hard", b) > 0 &&
		  asprintf(&lnk, "%s/upper/etc/d/sym", b) > 0);
	cr_assert_eq(stat(f1, &s1), 0);
	cr_assert_eq(stat(f2, &s2), 0);
	cr_assert_eq(s1.st_ino, s2.st_ino, "hard link kept");
	cr_assert_eq(s1.st_mode & 07777, 04750);
	cr_assert_eq(s1.st_mtime, 978307200);
	cr_assert_eq(readlink(lnk, target, sizeof(target) - 1), 4);
	cr_assert_str_eq(target, "../f");
	free(cmd);
	cr_assert(asprintf(&cmd,
			   "test -p '%s/upper/etc/fifo' && test -d '%s/work' && "
			   "grep -qx hello '%s'",
			   b, b, f1) > 0);
	cr_assert_eq(system(cmd), 0);
	/* the clone is independent: the source is untouched by a write to it */
	free(cmd);
	cr_assert(asprintf(&cmd, "echo changed > '%s' && grep -qx hello '%s/upper/etc/f'", f1, a) >
		  0);
	cr_assert_eq(system(cmd), 0);
	/* into an existing area: refused, and the existing one kept */
	cr_assert_lt(cowfs_private_clone(a, b, &err), 0);
	cr_assert_eq(stat(f1, &s1), 0);
}

/* What a daemon's start removes from a private directory: a destroy's
 * renamed area and a clone's copy in progress, nothing that is a CTID. */
Test(private, retired_names)
{
	cr_assert(cowfs_private_is_retired("101.destroyed.1234.1"));
	cr_assert(cowfs_private_is_retired("9771.cloning.99"));
	cr_assert_not(cowfs_private_is_retired("101"));
	cr_assert_not(cowfs_private_is_retired("101.img"));
	cr_assert_not(cowfs_private_is_retired("destroyed"));
}
