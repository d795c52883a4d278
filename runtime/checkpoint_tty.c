/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The console in a checkpoint: which tty of the container's is the external
 * one (the pty slave stratad gave its init, found from the init's own fds so
 * a restarted stratad finds it too), and what CRIU needs to restore it when
 * that pty was hung up at the dump (its stratad was killed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/mountinfo.h"
#include "runtime/checkpoint_internal.h"

/* ---- the console ---- */

/* UNIX98 pty slaves: majors 136-143 */
#define PTY_SLAVE_MAJOR 136
#define PTY_SLAVE_MAJORS 8

int ckpt_tty_key(const struct stat *st, char *buf, size_t len)
{
	int n;

	if (!S_ISCHR(st->st_mode))
		return -ENOTTY;
	n = snprintf(buf, len, "tty[%llx:%llx]", (unsigned long long)st->st_rdev,
		     (unsigned long long)st->st_dev);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Is dev a devpts instance the container mounted whole (its own ptys)? */
static bool ct_own_devpts(pid_t pid, dev_t dev)
{
	_cleanup_free_ char *path = NULL, *line = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	size_t cap = 0;
	bool own = false;

	if (asprintf(&path, "/proc/%d/mountinfo", (int)pid) < 0)
		return false;
	f = fopen(path, "re");
	while (f && !own && getline(&line, &cap, f) > 0) {
		struct ksal_mountinfo m;

		if (ksal_mountinfo_parse(line, &m) < 0)
			continue;
		own = !strcmp(m.fstype, "devpts") && !strcmp(m.root, "/") &&
		      makedev(m.major, m.minor) == dev;
		ksal_mountinfo_clear(&m);
	}
	return own;
}

int ckpt_console_find(pid_t pid, int console_fd, char *buf, size_t len, struct st_error **err)
{
	int r = -ENOENT;

	/* the init's stdio, then the container's /dev/console (systemd keeps
	 * its stdio on /dev/null): the pty stratad gave it, whichever stratad */
	for (int fd = 0; fd <= 3 && r == -ENOENT; fd++) {
		char path[64];
		struct stat st;

		if (fd < 3)
			snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		else
			snprintf(path, sizeof(path), "/proc/%d/root/dev/console", (int)pid);
		if (stat(path, &st) < 0 || !S_ISCHR(st.st_mode) ||
		    major(st.st_rdev) < PTY_SLAVE_MAJOR ||
		    major(st.st_rdev) >= PTY_SLAVE_MAJOR + PTY_SLAVE_MAJORS ||
		    ct_own_devpts(pid, st.st_dev))
			continue;
		r = ckpt_tty_key(&st, buf, len);
		st_trace("checkpoint: console of init %d from `%s`: %s", (int)pid, path,
			 r == 0 ? buf : strerror(-r));
	}
	if (r == -ENOENT && console_fd > 0) { /* the init closed its stdio */
		struct stat st;

		r = fstat(console_fd, &st) < 0 ? -errno : ckpt_tty_key(&st, buf, len);
	}
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return st_error_setx(err, ST_EXIT_CHKPNT, -r, "console of init %d", (int)pid);
	return 1;
}

/* ---- a hung-up console in the images ---- */

/*
 * A console whose master died with the stratad that made it (kill -9, then
 * the container re-adopted by a new stratad) is hung up: CRIU dumps it as
 * an external tty without termios, locked termios and window size (it
 * cannot read them), and its restore refuses such an entry ("tty: Corrupted
 * master peer"). The new console stratad hands the restored tasks has all
 * three: give the entry those. tty-info.img is CRIU's image header, then
 * entries, each a little-endian u32 length and a TtyInfoEntry (tty.proto:
 * type 2, rdev 8, termios 9, termios_locked 10, winsize 11; termios_entry:
 * c_iflag..c_ospeed 1-7, c_cc 8 repeated).
 */
#define TTY_INFO_IMG "tty-info.img"
#define IMG_COMMON_MAGIC 0x54564319u
#define IMG_SERVICE_MAGIC 0x55105940u
#define TTY_TYPE_EXT_TTY 5
#define TERMIOS_NCC 19 /* CRIU's c_cc count: the kernel's struct termios */

struct pbuf {
	uint8_t *p;
	size_t len, cap;
};

static int pb_put(struct pbuf *b, const void *src, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = (b->len + n) * 2;
		uint8_t *np = realloc(b->p, cap);

		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
	return 0;
}

static int pb_varint(struct pbuf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	do {
		tmp[n] = v & 0x7f;
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	return pb_put(b, tmp, n);
}

static int pb_uint(struct pbuf *b, unsigned field, uint32_t v)
{
	return pb_varint(b, (uint64_t)field << 3) ?: pb_varint(b, v);
}

/* A length-delimited field holding the message m. */
static int pb_msg(struct pbuf *b, unsigned field, const struct pbuf *m)
{
	return pb_varint(b, (uint64_t)field << 3 | 2) ?: pb_varint(b, m->len)
						       ?: pb_put(b, m->p, m->len);
}

static int pb_termios(struct pbuf *b, unsigned field, const struct termios *t)
{
	struct pbuf m = { 0 };
	int r = pb_uint(&m, 1, t->c_iflag) ?: pb_uint(&m, 2, t->c_oflag)
		?: pb_uint(&m, 3, t->c_cflag) ?: pb_uint(&m, 4, t->c_lflag)
		?: pb_uint(&m, 5, t->c_line) ?: pb_uint(&m, 6, 0) ?: pb_uint(&m, 7, 0);

	for (int i = 0; i < TERMIOS_NCC && !r; i++)
		r = pb_uint(&m, 8, t->c_cc[i]);
	if (!r)
		r = pb_msg(b, field, &m);
	free(m.p);
	return r;
}

/* The three fields the hung-up entry lacks, from the new console. */
static int console_fields(int console_fd, struct pbuf *out)
{
	struct termios t, locked;
	struct winsize w;
	struct pbuf ws = { 0 };
	int r;

	memset(&t, 0, sizeof(t));
	memset(&locked, 0, sizeof(locked));
	memset(&w, 0, sizeof(w));
	if (ioctl(console_fd, TCGETS, &t) < 0 || ioctl(console_fd, TIOCGLCKTRMIOS, &locked) < 0 ||
	    ioctl(console_fd, TIOCGWINSZ, &w) < 0)
		return -errno;
	r = pb_termios(out, 9, &t) ?: pb_termios(out, 10, &locked)
		?: pb_uint(&ws, 1, w.ws_row) ?: pb_uint(&ws, 2, w.ws_col)
		?: pb_uint(&ws, 3, w.ws_xpixel) ?: pb_uint(&ws, 4, w.ws_ypixel)
		?: pb_msg(out, 11, &ws);
	free(ws.p);
	return r;
}

static int pb_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (*p >= end)
			return -EINVAL;
		*v |= (uint64_t)(**p & 0x7f) << shift;
		if (!(*(*p)++ & 0x80))
			return 0;
	}
	return -EINVAL;
}

/* Walk the fields of the message at m: each tag, with its varint value
 * (wire type 0) or the offset of its bytes (type 2), until fn says stop. */
struct pb_field {
	unsigned num, type;
	uint64_t v;	/* type 0: the value; type 2: the length */
	size_t val_off; /* offset of the value (type 0 and 2) */
	size_t val_len; /* its length in bytes */
};

static int pb_walk(const uint8_t *m, size_t len, bool (*fn)(const struct pb_field *f, void *data),
		   void *data)
{
	const uint8_t *p = m, *end = m + len;

	while (p < end) {
		struct pb_field f = { 0 };
		uint64_t tag;
		const uint8_t *v0;

		if (pb_get_varint(&p, end, &tag) < 0)
			return -EINVAL;
		f.num = (unsigned)(tag >> 3);
		f.type = tag & 7;
		v0 = p;
		switch (f.type) {
		case 0:
			if (pb_get_varint(&p, end, &f.v) < 0)
				return -EINVAL;
			break;
		case 2:
			if (pb_get_varint(&p, end, &f.v) < 0 || f.v > (uint64_t)(end - p))
				return -EINVAL;
			v0 = p;
			p += f.v;
			break;
		case 1:
		case 5:
			if ((size_t)(end - p) < (f.type == 1 ? 8u : 4u))
				return -EINVAL;
			p += f.type == 1 ? 8 : 4;
			break;
		default:
			return -EINVAL;
		}
		f.val_off = (size_t)(v0 - m);
		f.val_len = (size_t)(p - v0);
		if (!fn(&f, data))
			break;
	}
	return 0;
}

static void pbuf_free(struct pbuf *b)
{
	free(b->p);
	b->p = NULL;
}

/* How one image's entries are mended: fix() gets an entry (m, len) and
 * either leaves out untouched (nothing to mend) or puts the mended entry in
 * it. */
typedef int (*entry_fix_fn)(const uint8_t *m, size_t len, struct pbuf *out, void *data);

/* Rewrite image `name` of dirfd entry by entry through fix; *fixed: how many
 * entries it mended. A missing image is nothing to mend. */
static int image_mend(int dirfd, const char *name, entry_fix_fn fix, void *data, size_t *fixed,
		      struct st_error **err)
{
	__attribute__((cleanup(pbuf_free))) struct pbuf in = { 0 }, out = { 0 }, e = { 0 };
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	size_t off, n_fixed = 0;
	struct stat st;
	uint32_t magic;
	char buf[65536];
	ssize_t n;
	int r;

	*fixed = 0;
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return st_error_set(err, errno, "read image `%s`", name);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (pb_put(&in, buf, (size_t)n) < 0)
			return st_error_set(err, ENOMEM, "read image `%s`", name);
	if (n < 0 || fstat(fd, &st) < 0)
		return st_error_set(err, errno, "read image `%s`", name);
	if (in.len < 4)
		return st_error_setx(err, ST_EXIT_RESTORE, EINVAL, "image `%s`: no header", name);
	memcpy(&magic, in.p, 4);
	off = magic == IMG_COMMON_MAGIC || magic == IMG_SERVICE_MAGIC ? 8 : 4;
	if (in.len < off || pb_put(&out, in.p, off) < 0)
		return st_error_setx(err, ST_EXIT_RESTORE, EINVAL, "image `%s`: no header", name);
	while (off < in.len) {
		uint32_t len, nlen;

		if (in.len - off < 4)
			return st_error_setx(err, ST_EXIT_RESTORE, EINVAL, "image `%s`: truncated",
					     name);
		memcpy(&len, in.p + off, 4);
		off += 4;
		if (len > in.len - off)
			return st_error_setx(err, ST_EXIT_RESTORE, EINVAL, "image `%s`: truncated",
					     name);
		e.len = 0;
		r = fix(in.p + off, len, &e, data);
		if (r < 0)
			return st_error_setx(err, ST_EXIT_RESTORE, -r, "image `%s`", name);
		if (e.len)
			n_fixed++;
		nlen = e.len ? (uint32_t)e.len : len;
		if (pb_put(&out, &nlen, 4) < 0 ||
		    pb_put(&out, e.len ? e.p : in.p + off, e.len ? e.len : len) < 0)
			return st_error_set(err, ENOMEM, "image `%s`", name);
		off += len;
	}
	if (!n_fixed)
		return 0;
	if (asprintf(&tmp, "%s.new", name) < 0)
		return st_error_set(err, ENOMEM, "image `%s`", name);
	{
		_cleanup_close_ int wfd =
			openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		/* the same mode: restored tasks in a user namespace read it */
		if (wfd < 0 || fchmod(wfd, st.st_mode & 07777) < 0 ||
		    write(wfd, out.p, out.len) != (ssize_t)out.len || fsync(wfd) < 0 ||
		    renameat(dirfd, tmp, dirfd, name) < 0) {
			r = errno ? errno : EIO;
			unlinkat(dirfd, tmp, 0);
			return st_error_setx(err, ST_EXIT_RESTORE, r, "write image `%s`", name);
		}
	}
	*fixed = n_fixed;
	return 0;
}

/* tty-info.img: an external tty without termios gets those of the new console. */
struct tty_scan {
	bool ext, termios;
};

static bool tty_scan_field(const struct pb_field *f, void *data)
{
	struct tty_scan *t = data;

	if (f->num == 2 && f->type == 0)
		t->ext = f->v == TTY_TYPE_EXT_TTY;
	if (f->num == 9)
		t->termios = true;
	return true;
}

static int tty_fix(const uint8_t *m, size_t len, struct pbuf *out, void *data)
{
	const int *console_fd = data;
	struct tty_scan t = { false, false };
	int r = pb_walk(m, len, tty_scan_field, &t);

	if (r < 0 || !t.ext || t.termios)
		return r;
	return pb_put(out, m, len) ?: console_fields(*console_fd, out);
}

/* mountpoints-*.img (one per mount namespace): an external mount whose root
 * was deleted at the dump (the bind of the hung-up console on /dev/console)
 * takes its new source as given, and so do the copies of it in the
 * services' own mount namespaces (same root_dev and root): CRIU would try
 * to create the deleted file there first. MntEntry: root_dev 3, root 6,
 * deleted 16 (bool), ext_key 18. */
#define MAX_DELETED_EXT 8

struct mnt_scan {
	const uint8_t *base; /* the entry */
	bool ext;
	size_t deleted_at; /* offset of the value byte of deleted = true, 0: none */
	uint64_t root_dev;
	const uint8_t *root;
	size_t root_len;
};

/* The (root_dev, root) of the deleted external mounts, from every image. */
struct deleted_ext {
	size_t n;
	uint64_t root_dev[MAX_DELETED_EXT];
	char *root[MAX_DELETED_EXT];
};

static void deleted_ext_free(struct deleted_ext *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->root[i]);
	d->n = 0;
}

static bool mnt_scan_field(const struct pb_field *f, void *data)
{
	struct mnt_scan *ms = data;

	if (f->num == 18 && f->type == 2)
		ms->ext = true;
	if (f->num == 16 && f->type == 0 && f->v && f->val_len == 1)
		ms->deleted_at = f->val_off;
	if (f->num == 3 && f->type == 0)
		ms->root_dev = f->v;
	if (f->num == 6 && f->type == 2) {
		ms->root = ms->base + f->val_off;
		ms->root_len = f->val_len;
	}
	return true;
}

static int mnt_scan(const uint8_t *m, size_t len, struct mnt_scan *ms)
{
	memset(ms, 0, sizeof(*ms));
	ms->base = m;
	return pb_walk(m, len, mnt_scan_field, ms);
}

/* pass 1: collect the deleted external mounts; changes nothing */
static int mnt_collect(const uint8_t *m, size_t len, struct pbuf *out, void *data)
{
	struct deleted_ext *d = data;
	struct mnt_scan ms;
	int r = mnt_scan(m, len, &ms);

	(void)out;
	if (r < 0 || !ms.ext || !ms.deleted_at || d->n == MAX_DELETED_EXT)
		return r;
	d->root[d->n] = ms.root ? strndup((const char *)ms.root, ms.root_len) : strdup("");
	if (!d->root[d->n])
		return -ENOMEM;
	d->root_dev[d->n++] = ms.root_dev;
	return 0;
}

/* pass 2: clear deleted on them and on every bind of them */
static int mnt_fix(const uint8_t *m, size_t len, struct pbuf *out, void *data)
{
	const struct deleted_ext *d = data;
	struct mnt_scan ms;
	bool hit = false;
	int r = mnt_scan(m, len, &ms);

	if (r < 0 || !ms.deleted_at)
		return r;
	hit = ms.ext;
	for (size_t i = 0; i < d->n && !hit; i++)
		hit = ms.root_dev == d->root_dev[i] && ms.root &&
		      ms.root_len == strlen(d->root[i]) &&
		      !memcmp(ms.root, d->root[i], ms.root_len);
	if (!hit)
		return 0;
	r = pb_put(out, m, len);
	if (r == 0)
		out->p[ms.deleted_at] = 0;
	return r;
}

/* Run fix over every mountpoints-*.img of dirfd; *total: entries mended. */
static int mnt_images_mend(int dirfd, entry_fix_fn fix, void *data, size_t *total,
			   struct st_error **err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	*total = 0;
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return st_error_set(err, errno, "read the image dir");
	}
	while ((de = readdir(d))) {
		size_t n;

		if (strncmp(de->d_name, "mountpoints-", 12))
			continue;
		if (image_mend(dirfd, de->d_name, fix, data, &n, err) < 0)
			return -1;
		*total += n;
	}
	return 0;
}

int ckpt_console_images_fix(int dirfd, int console_fd, struct st_error **err)
{
	__attribute__((cleanup(deleted_ext_free))) struct deleted_ext del = { 0 };
	size_t ttys = 0, mnts = 0, n;

	if (image_mend(dirfd, TTY_INFO_IMG, tty_fix, &console_fd, &ttys, err) < 0)
		return -1;
	/* the bind on /dev/console is of the deleted pty even when no task had
	 * it open (a systemd guest) */
	if (mnt_images_mend(dirfd, mnt_collect, &del, &n, err) < 0)
		return -1;
	if (del.n && mnt_images_mend(dirfd, mnt_fix, &del, &mnts, err) < 0)
		return -1;
	if (ttys || mnts)
		st_info("the console was hung up when it was dumped (stratad had restarted): the "
			"restored tasks get the new console with its settings (%zu tty, %zu mount "
			"entries mended)",
			ttys, mnts);
	return 0;
}
