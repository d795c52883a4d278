/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * runtime/checkpoint without CRIU or root: which mounts are external, the
 * external-mount file, the tail of a CRIU log, the marker of a complete
 * checkpoint.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "runtime/checkpoint_internal.h"

static char g_dir[] = "/tmp/stcriu-unit-XXXXXX";

static void setup(void)
{
	cr_assert_not_null(mkdtemp(g_dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", g_dir);
}

static char *write_tmp(const char *name, const char *text)
{
	char *p;
	FILE *f;

	cr_assert(asprintf(&p, "%s/%s", g_dir, name) > 0);
	f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

/* A container as ksal_spawn makes it, plus a mount systemd makes inside and
 * a host directory (with a space in its name) bound in. */
static const char ct_info[] =
	"300 250 0:60 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w\n"
	"301 300 0:61 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
	"302 300 0:62 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro\n"
	"303 300 0:63 / /dev rw,nosuid,noexec - tmpfs tmpfs rw,size=64k,mode=755\n"
	"304 303 0:5 /null /dev/null rw,nosuid,noexec - devtmpfs udev rw,mode=755\n"
	"305 303 0:5 /zero /dev/zero rw,nosuid,noexec - devtmpfs udev rw,mode=755\n"
	"306 303 0:64 / /dev/pts rw - devpts devpts rw,mode=620,ptmxmode=666\n"
	"307 303 0:25 /3 /dev/console rw shared:5 - devpts devpts rw,gid=5,mode=620\n"
	"308 300 254:0 /usr/lib/strata/init /sbin/init ro - ext4 /dev/vda rw\n"
	"309 301 0:61 /sys /proc/sys ro - proc proc rw\n"
	"310 301 0:5 /null /proc/kcore ro - devtmpfs udev rw,mode=755\n"
	"311 302 0:65 / /sys/firmware ro - tmpfs tmpfs ro,size=4k\n"
	"312 300 0:66 / /dev/hugepages rw - hugetlbfs hugetlbfs rw,pagesize=2M\n"
	"313 300 8:1 / /mnt/my\\040data rw - ext4 /dev/sdb1 rw\n";

static const char host_info[] =
	"22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
	"23 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw,mode=755\n"
	"24 23 0:25 / /dev/pts rw shared:3 - devpts devpts rw,gid=5,mode=620\n"
	"25 22 8:1 / /srv/my\\040data rw shared:4 - ext4 /dev/sdb1 rw\n";

static const char *host_of(struct ckpt_ext *v, size_t n, const char *mp)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].mountpoint, mp))
			return v[i].host_path;
	return NULL;
}

TestSuite(checkpoint, .init = setup, .fini = teardown);

Test(checkpoint, external_mounts_are_the_ones_from_outside)
{
	_cleanup_free_ char *ct = write_tmp("ct", ct_info), *host = write_tmp("host", host_info);
	struct ckpt_ext *v = NULL;
	size_t n = 0;
	struct st_error *e = NULL;
	const struct ct_ckpt_mount extra = { "/opt/tool", "/usr/local/tool" };

	cr_assert_eq(ckpt_ext_find_in(ct, host, &extra, 1, &v, &n, &e), 0, "%s", e ? e->msg : "");
	cr_assert_eq(n, 7, "%zu external mounts", n);
	cr_assert_str_eq(host_of(v, n, "/opt/tool"), "/usr/local/tool");
	cr_assert_str_eq(host_of(v, n, "/dev/null"), "/dev/null");
	cr_assert_str_eq(host_of(v, n, "/dev/zero"), "/dev/zero");
	cr_assert_str_eq(host_of(v, n, "/dev/console"), "/dev/pts/3");
	cr_assert_str_eq(host_of(v, n, "/sbin/init"), "/usr/lib/strata/init");
	cr_assert_str_eq(host_of(v, n, "/proc/kcore"), "/dev/null");
	cr_assert_str_eq(host_of(v, n, "/mnt/my data"), "/srv/my data");
	/* the container's own: CRIU mounts them itself */
	for (const char *const *own =
		     (const char *const[]){ "/", "/proc", "/sys", "/dev", "/dev/pts", "/proc/sys",
					    "/sys/firmware", "/dev/hugepages", NULL };
	     *own; own++)
		cr_assert_null(host_of(v, n, *own), "%s taken for external", *own);
	/* keys are unique */
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			cr_assert_str_neq(v[i].key, v[j].key);
	ckpt_ext_free(v, n);
}

Test(checkpoint, a_source_stratad_cannot_see_is_an_error)
{
	_cleanup_free_ char *ct =
		write_tmp("ct", "300 250 0:60 / / rw - overlay overlay rw\n"
				"301 300 9:9 /some/dir /data rw - xfs /dev/md9 rw\n");
	_cleanup_free_ char *host = write_tmp("host", host_info);
	struct ckpt_ext *v = NULL;
	size_t n = 0;
	struct st_error *e = NULL;

	cr_assert_lt(ckpt_ext_find_in(ct, host, NULL, 0, &v, &n, &e), 0);
	cr_assert_not_null(e);
	cr_assert(strstr(e->msg, "`/data`"), "%s", e->msg);
	cr_assert_eq(e->exit_code, ST_EXIT_CHKPNT);
	st_error_free(e);
}

Test(checkpoint, external_mount_file_round_trip)
{
	struct ckpt_ext in[2] = { { "ext0", "/dev/null", "/dev/null" },
				  { "ext1", "/mnt/my data", "/srv/my data" } };
	struct ckpt_ext *out = NULL;
	size_t n = 0;
	struct st_error *e = NULL;
	_cleanup_close_ int dfd = open(g_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	cr_assert_geq(dfd, 0);
	cr_assert_eq(ckpt_ext_load(dfd, &out, &n, &e), 0, "a missing file is no error");
	cr_assert_eq(n, 0);
	cr_assert_eq(ckpt_ext_save(dfd, in, 2, &e), 0);
	cr_assert_eq(ckpt_ext_load(dfd, &out, &n, &e), 0);
	cr_assert_eq(n, 2);
	for (size_t i = 0; i < 2; i++) {
		cr_assert_str_eq(out[i].key, in[i].key);
		cr_assert_str_eq(out[i].mountpoint, in[i].mountpoint);
		cr_assert_str_eq(out[i].host_path, in[i].host_path);
	}
	ckpt_ext_free(out, n);
}

Test(checkpoint, log_tail_prefers_the_last_errors)
{
	_cleanup_free_ char *log = write_tmp(
		"dump.log",
		"(00.000001) Version: 4.2.1\n"
		"(00.010000) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE\n"
		"(00.020000) Warn  (criu/x.c:1): something\n"
		"(00.030000) Error (criu/page-xfer.c:263): Unable to splice data: No space\n"
		"(00.040000) Error (criu/mem.c:718): Can't dump page with parasite\n"
		"(00.050000) Error (criu/cr-dump.c:1975): Dumping FAILED.\n"
		"(00.060000) net: Unlock network\n");
	_cleanup_free_ char *plain =
		write_tmp("plain.log", "(00.1) one\n(00.2) two\n\n(00.3) three\n(00.4) four\n");
	_cleanup_free_ char *tail = ct_checkpoint_log_tail(log, 3);
	_cleanup_free_ char *tail2 = ct_checkpoint_log_tail(plain, 2);
	_cleanup_free_ char *none = NULL;

	cr_assert_str_eq(tail, "Error (criu/page-xfer.c:263): Unable to splice data: No space; "
			       "Error (criu/mem.c:718): Can't dump page with parasite; "
			       "Error (criu/cr-dump.c:1975): Dumping FAILED.");
	cr_assert_str_eq(tail2, "three; four");
	none = ct_checkpoint_log_tail("/nonexistent/stcriu.log", 3);
	cr_assert_null(none);
}

Test(checkpoint, only_a_marked_dir_is_a_checkpoint)
{
	_cleanup_free_ char *dir = NULL, *tmp = NULL, *marker = NULL;
	struct st_error *e = NULL;
	struct stat st;

	cr_assert(asprintf(&dir, "%s/dumps/9399", g_dir) > 0);
	cr_assert(asprintf(&tmp, "%s.tmp", dir) > 0);
	cr_assert(asprintf(&marker, "%s/%s", dir, CT_CKPT_MARKER) > 0);
	cr_assert(!ct_checkpoint_exists(dir));
	{
		_cleanup_free_ char *dumps = NULL;
		cr_assert(asprintf(&dumps, "%s/dumps", g_dir) > 0);
		cr_assert_eq(mkdir(dumps, 0700), 0);
	}
	cr_assert_eq(mkdir(dir, 0700), 0);
	cr_assert_eq(mkdir(tmp, 0700), 0);
	free(write_tmp("dumps/9399/pages-1.img", "x"));
	cr_assert(!ct_checkpoint_exists(dir), "no marker, yet a checkpoint");
	free(write_tmp("dumps/9399/" CT_CKPT_MARKER, "ctid 9399\n"));
	cr_assert(ct_checkpoint_exists(dir));
	cr_assert_eq(ct_checkpoint_remove(dir, &e), 0);
	cr_assert_neq(stat(dir, &st), 0);
	cr_assert_neq(stat(tmp, &st), 0, "the stale .tmp stays");
	cr_assert_eq(ct_checkpoint_remove(dir, &e), 0, "removing twice is fine");
}

/* A retire renames the checkpoint and its stale .tmp away at once (the
 * daemon's closer removes them later): the CTID holds no checkpoint any
 * more, the names say where the images went, and nothing is lost yet. */
Test(checkpoint, a_retired_checkpoint_is_out_of_the_way)
{
	_cleanup_free_ char *dir = NULL, *gone = NULL, *gone_tmp = NULL, *dumps = NULL;
	_cleanup_free_ char *page = NULL;
	struct st_error *e = NULL;
	struct stat st;

	cr_assert(asprintf(&dumps, "%s/dumps", g_dir) > 0);
	cr_assert(asprintf(&dir, "%s/9398", dumps) > 0);
	mkdir(dumps, 0700);
	cr_assert_eq(ct_checkpoint_retire(dir, &gone, &gone_tmp, &e), 0, "nothing to retire");
	cr_assert_null(gone);
	cr_assert_null(gone_tmp);
	cr_assert_eq(mkdir(dir, 0700), 0);
	free(write_tmp("dumps/9398/" CT_CKPT_MARKER, "ctid 9398\n"));
	{
		_cleanup_free_ char *tmp = NULL;

		cr_assert(asprintf(&tmp, "%s.tmp", dir) > 0);
		cr_assert_eq(mkdir(tmp, 0700), 0);
	}
	free(write_tmp("dumps/9398.tmp/pages-1.img", "x"));
	cr_assert(ct_checkpoint_exists(dir));
	cr_assert_eq(ct_checkpoint_retire(dir, &gone, &gone_tmp, &e), 0, "%s", e ? e->msg : "");
	cr_assert(!ct_checkpoint_exists(dir));
	cr_assert_neq(lstat(dir, &st), 0);
	cr_assert_not_null(gone);
	cr_assert_not_null(gone_tmp);
	cr_assert_not_null(strstr(gone, "/dumps/9398.gone."), "%s", gone);
	cr_assert(ct_checkpoint_exists(gone), "the images are not lost before the removal");
	cr_assert(asprintf(&page, "%s/pages-1.img", gone_tmp) > 0);
	cr_assert_eq(stat(page, &st), 0);
	cr_assert_str_neq(gone, gone_tmp);
	cr_assert_eq(ct_checkpoint_remove(gone, &e), 0);
	cr_assert_eq(ct_checkpoint_remove(gone_tmp, &e), 0);
}

/* ---- a hung-up console in the images (checkpoint_tty.c) ---- */

#include <sys/ioctl.h>
#include <termios.h>

static void write_image(int dirfd, const char *name, uint32_t magic, const uint8_t *const *e,
			const uint32_t *len, size_t n)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	uint32_t hdr[2] = { 0x54564319u, magic };

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(write(fd, &len[i], 4), 4);
		cr_assert_eq(write(fd, e[i], len[i]), (ssize_t)len[i]);
	}
	close(fd);
}

static uint8_t *read_image(int dirfd, const char *name, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	uint8_t *buf = malloc(4096);
	ssize_t n;

	cr_assert_geq(fd, 0);
	n = read(fd, buf, 4096);
	close(fd);
	cr_assert_gt(n, 0);
	*len = (size_t)n;
	return buf;
}

/* TtyInfoEntry: id 2, type EXT_TTY (5), locked, exclusive, packet_mode,
 * sid, pgrp 0, rdev 0x8800, dev 0x1a: what CRIU writes for a hung-up tty */
static const uint8_t tty_ext_hung[] = {
	0x08, 0x02, 0x10, 0x05, 0x18, 0x00, 0x20, 0x00, 0x28, 0x00,
	0x30, 0x00, 0x38, 0x00, 0x40, 0x80, 0x91, 0x02, 0x68, 0x1a
};
/* a PTY (1) entry with a (short) termios: left alone */
static const uint8_t tty_pty[] = { 0x08, 0x04, 0x10, 0x01, 0x18, 0x00, 0x20, 0x00, 0x28, 0x00,
				   0x30, 0x00, 0x38, 0x00, 0x40, 0x01, 0x4a, 0x02, 0x08, 0x01 };
/* MntEntry fragments: fstype 1, mnt_id 2, root_dev 3 (0x1a), root 6 "/0",
 * deleted 16 = true; ext_key 18 "ext3" on the first only. The second is a
 * copy of it in a service's mount namespace (another image), the third
 * another deleted file. */
static const uint8_t mnt_ext_deleted[] = {
	0x08, 0x01, 0x10, 0x76, 0x18, 0x1a, 0x32, 0x02, '/', '0',
	0x80, 0x01, 0x01, 0x92, 0x01, 0x04, 'e',  'x',	't', '3'
};
static const uint8_t mnt_bind_deleted[] = { 0x08, 0x01, 0x10, 0x78, 0x18, 0x1a, 0x32,
					    0x02, '/',	'0',  0x80, 0x01, 0x01 };
static const uint8_t mnt_deleted[] = { 0x08, 0x01, 0x10, 0x77, 0x18, 0x1a, 0x32,
				       0x02, '/',  '7',	 0x80, 0x01, 0x01 };

Test(checkpoint, hung_up_console_gets_the_new_consoles_settings)
{
	const uint8_t *tty[] = { tty_ext_hung, tty_pty };
	const uint32_t tty_len[] = { sizeof(tty_ext_hung), sizeof(tty_pty) };
	const uint8_t *mnt[] = { mnt_ext_deleted, mnt_deleted };
	const uint32_t mnt_len[] = { sizeof(mnt_ext_deleted), sizeof(mnt_deleted) };
	const uint8_t *mnt2[] = { mnt_bind_deleted };
	const uint32_t mnt2_len[] = { sizeof(mnt_bind_deleted) };
	const uint8_t winsize[] = { 0x5a, 0x08, 0x08, 33, 0x10, 101, 0x18, 0x00, 0x20, 0x00 };
	struct winsize ws = { .ws_row = 33, .ws_col = 101 };
	struct st_error *e = NULL;
	_cleanup_free_ uint8_t *t = NULL, *m = NULL, *again = NULL;
	size_t tlen, mlen, alen, off;
	uint32_t l0, l1;
	int dirfd, master, slave;
	struct stat st;

	dirfd = open(g_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(dirfd, 0);
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert_geq(master, 0);
	cr_assert_eq(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert_geq(slave, 0);
	cr_assert_eq(ioctl(slave, TIOCSWINSZ, &ws), 0);
	write_image(dirfd, "tty-info.img", 1497706550u, tty, tty_len, 2);
	write_image(dirfd, "mountpoints-12.img", 0x5a0c1d5eu, mnt, mnt_len, 2);
	write_image(dirfd, "mountpoints-13.img", 0x5a0c1d5eu, mnt2, mnt2_len, 1);

	cr_assert_eq(ckpt_console_images_fix(dirfd, slave, &e), 0, "%s", e ? e->msg : "");
	t = read_image(dirfd, "tty-info.img", &tlen);
	/* header, the ext entry grown by termios (9), locked (10), winsize (11) */
	memcpy(&l0, t + 8, 4);
	cr_assert_gt(l0, sizeof(tty_ext_hung));
	cr_assert_eq(memcmp(t + 12, tty_ext_hung, sizeof(tty_ext_hung)), 0);
	off = 12 + sizeof(tty_ext_hung);
	cr_assert_eq(t[off], 0x4a, "no termios after the entry");
	cr_assert_eq(memcmp(t + 12 + l0 - sizeof(winsize), winsize, sizeof(winsize)), 0,
		     "the entry does not end with the new console's window size");
	/* the PTY entry as it was */
	memcpy(&l1, t + 12 + l0, 4);
	cr_assert_eq(l1, sizeof(tty_pty));
	cr_assert_eq(memcmp(t + 16 + l0, tty_pty, sizeof(tty_pty)), 0);
	cr_assert_eq(tlen, 16 + l0 + l1);
	/* mounts: the external one is no longer deleted, the other still is */
	m = read_image(dirfd, "mountpoints-12.img", &mlen);
	cr_assert_eq(mlen, 8 + 4 + sizeof(mnt_ext_deleted) + 4 + sizeof(mnt_deleted));
	cr_assert_eq(m[12 + 12], 0x00, "the external mount is still marked deleted");
	cr_assert_eq(memcmp(m + 12 + sizeof(mnt_ext_deleted) + 4, mnt_deleted, sizeof(mnt_deleted)),
		     0, "another deleted mount was changed");
	free(m);
	m = read_image(dirfd, "mountpoints-13.img", &mlen);
	cr_assert_eq(mlen, 8 + 4 + sizeof(mnt_bind_deleted));
	cr_assert_eq(m[12 + 12], 0x00, "the bind of the external mount is still marked deleted");
	cr_assert_eq(fstatat(dirfd, "tty-info.img", &st, 0), 0);
	cr_assert_eq(st.st_mode & 0777, 0644, "the image's mode changed");

	/* once mended, nothing more to do */
	cr_assert_eq(ckpt_console_images_fix(dirfd, slave, &e), 0, "%s", e ? e->msg : "");
	again = read_image(dirfd, "tty-info.img", &alen);
	cr_assert_eq(alen, tlen);
	cr_assert_eq(memcmp(again, t, tlen), 0);
	close(slave);
	close(master);
	close(dirfd);
}

Test(checkpoint, a_malformed_tty_image_is_an_error)
{
	const uint8_t bad[] = { 0x08, 0x02, 0x4a, 0x7f, 0x01 }; /* length past the end */
	const uint8_t *e1[] = { bad };
	const uint32_t l[] = { sizeof(bad) };
	struct st_error *e = NULL;
	int dirfd = open(g_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	cr_assert_geq(dirfd, 0);
	write_image(dirfd, "tty-info.img", 1497706550u, e1, l, 1);
	cr_assert_lt(ckpt_console_images_fix(dirfd, 0, &e), 0);
	cr_assert_not_null(e);
	cr_assert_not_null(strstr(e->msg, "tty-info.img"), "%s", e->msg);
	st_error_free(e);
	close(dirfd);
}

/* After a failure before the network lock, CRIU's unlock makes nft complain
 * about a table that was never made: the tail shows the cause instead. */
Test(checkpoint, log_tail_leaves_out_the_nft_unlock_complaint)
{
	_cleanup_free_ char *log = write_tmp(
		"dump.log", "(00.003231) Error (criu/namespaces.c:460): Can't dump nested "
			    "uts namespace for 21692\n"
			    "(00.003241) net: Unlock network\n"
			    "Error: Could not process rule: No such file or directory\n"
			    "delete table inet CRIU-3778a0fb\n"
			    "(00.019676) Error (criu/cr-dump.c:1975): Dumping FAILED.\n");
	_cleanup_free_ char *tail = ct_checkpoint_log_tail(log, 3);

	cr_assert_not_null(tail);
	cr_assert_not_null(strstr(tail, "nested uts namespace"), "%s", tail);
	cr_assert_null(strstr(tail, "Could not process rule"), "%s", tail);
}
