/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a checkpoint leaves on disk: the image directory and its small
 * files, how it is made durable before the tasks die, CRIU's log and its
 * stats image (see checkpoint.h). */
#include <ctype.h>
#include <pthread.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "runtime/checkpoint_internal.h"

/* ---- files ---- */

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	if (type == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int ckpt_rm_rf(const char *path)
{
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 ? -errno : 0;
}

uint64_t ckpt_dir_bytes(int dirfd)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	uint64_t sum = 0;
	int fd = dup(dirfd);

	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	rewinddir(d); /* the offset is shared with dirfd */
	while ((de = readdir(d))) {
		struct stat st;

		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_size;
	}
	return sum;
}

/* mkdir -p of path's parent directories. */
int ckpt_mkdir_parents(const char *path)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return 0;
}

/*
 * In a user namespace the restored tasks open some images themselves, as the
 * container's root: they must be readable by others. The dumps directory
 * above (0700) keeps everyone else out.
 */
void ckpt_images_open_up(int dirfd)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd = dup(dirfd);

	fchmod(dirfd, 0711);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	rewinddir(d); /* the offset is shared with dirfd */
	while ((de = readdir(d)))
		if (de->d_type == DT_REG)
			if (fchmodat(dirfd, de->d_name, 0644, 0) < 0)
				st_debug("chmod image `%s`: %s", de->d_name, strerror(errno));
}

bool ct_checkpoint_exists(const char *images_dir)
{
	_cleanup_free_ char *m = NULL;

	if (!images_dir || asprintf(&m, "%s/%s", images_dir, CT_CKPT_MARKER) < 0)
		return false;
	return access(m, F_OK) == 0;
}

/* Leftovers of removals in the background that a crash cut short. */
static void remove_gone(const char *images_dir)
{
	_cleanup_free_ char *pattern = NULL;
	glob_t g;

	if (asprintf(&pattern, "%s.gone.*", images_dir) < 0)
		return;
	if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
		return;
	for (size_t i = 0; i < g.gl_pathc; i++)
		ckpt_rm_rf(g.gl_pathv[i]);
	globfree(&g);
}

int ct_checkpoint_remove(const char *images_dir, struct st_error **err)
{
	_cleanup_free_ char *tmp = NULL;
	int r;

	if (asprintf(&tmp, "%s.tmp", images_dir) < 0)
		return st_error_set(err, ENOMEM, "remove checkpoint `%s`", images_dir);
	ckpt_rm_rf(tmp);
	remove_gone(images_dir);
	r = ckpt_rm_rf(images_dir);
	if (r < 0)
		return st_error_set(err, -r, "remove checkpoint `%s`", images_dir);
	return 0;
}

int ct_checkpoint_retire(const char *images_dir, char **gone, char **gone_tmp,
			 struct st_error **err)
{
	static unsigned seq;
	const char *from[2] = { images_dir, NULL };
	_cleanup_free_ char *tmp = NULL;
	char **to[2] = { gone, gone_tmp };

	*gone = *gone_tmp = NULL;
	if (asprintf(&tmp, "%s.tmp", images_dir) < 0)
		return st_error_set(err, ENOMEM, "remove checkpoint `%s`", images_dir);
	from[1] = tmp;
	for (int i = 0; i < 2; i++) {
		/* out of the way at once: images_dir no longer holds a checkpoint */
		if (asprintf(to[i], "%s.gone.%d.%u", images_dir, (int)getpid(), seq++) < 0) {
			free(*gone);
			*gone = NULL;
			return st_error_set(err, ENOMEM, "remove checkpoint `%s`", images_dir);
		}
		if (rename(from[i], *to[i]) == 0)
			continue;
		int e = errno;

		free(*to[i]);
		*to[i] = NULL;
		if (e != ENOENT) {
			free(*gone);
			*gone = NULL;
			return st_error_set(err, e, "remove checkpoint `%s`", from[i]);
		}
	}
	return 0;
}

#define NFT_UNLOCK_NOISE "Error: Could not process rule"

char *ct_checkpoint_log_tail(const char *log_path, int max)
{
	_cleanup_fclose_ FILE *f = fopen(log_path, "re");
	_cleanup_free_ char *line = NULL;
	char **err_lines = NULL, **all = NULL;
	size_t cap = 0, ne = 0, na = 0;
	char *out = NULL;
	size_t len = 0;

	if (!f || max <= 0)
		return NULL;
	err_lines = calloc((size_t)max, sizeof(char *));
	all = calloc((size_t)max, sizeof(char *));
	if (!err_lines || !all)
		goto done;
	while (getline(&line, &cap, f) > 0) {
		char *s = line, *e;

		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		/* "(00.123456) Error (criu/foo.c:12): ..." */
		if (*s == '(' && strchr(s, ')'))
			s = strchr(s, ')') + 1;
		while (*s == ' ')
			s++;
		if (!*s)
			continue;
		free(all[na % (size_t)max]);
		all[na++ % (size_t)max] = strdup(s);
		/* nft's complaint when CRIU's network unlock, after an earlier
		 * failure, deletes a table its lock never made: not the cause */
		if (!strncmp(s, "Error", 5) &&
		    strncmp(s, NFT_UNLOCK_NOISE, strlen(NFT_UNLOCK_NOISE))) {
			free(err_lines[ne % (size_t)max]);
			err_lines[ne++ % (size_t)max] = strdup(s);
		}
	}
	{
		char **v = ne ? err_lines : all;
		size_t n = ne ? ne : na;
		size_t first = n > (size_t)max ? n - (size_t)max : 0;

		for (size_t i = first; i < n; i++) {
			const char *s = v[i % (size_t)max];
			size_t l = s ? strlen(s) : 0;
			char *nb = realloc(out, len + l + 3);

			if (!nb || !s)
				break;
			out = nb;
			if (len) {
				memcpy(out + len, "; ", 2);
				len += 2;
			}
			memcpy(out + len, s, l);
			len += l;
			out[len] = '\0';
		}
	}
done:
	for (int i = 0; i < max && err_lines; i++)
		free(err_lines[i]);
	for (int i = 0; i < max && all; i++)
		free(all[i]);
	free(err_lines);
	free(all);
	return out;
}

/* ---- making a dump durable (run in the CRIU helper) ---- */

double ckpt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * While CRIU writes the memory images, a thread of the helper starts their
 * writeback every few ms (sync_file_range WRITE: it waits for nothing), so
 * the disk works alongside CRIU and the sync at post-dump has only the tail
 * left to wait for.
 */
#define CKPT_WB_KICK_MS 5

struct wb_kick {
	pthread_t thread;
	int dirfd;
	atomic_bool stop;
	bool running;
};

static struct wb_kick helper_wb = { .dirfd = -1 };

static void wb_kick_once(int dirfd)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		_cleanup_close_ int f = -EBADF;

		if (strncmp(de->d_name, "pages-", 6))
			continue;
		f = openat(dirfd, de->d_name, O_RDONLY | O_CLOEXEC);
		if (f >= 0)
			sync_file_range(f, 0, 0, SYNC_FILE_RANGE_WRITE);
	}
}

static void *wb_kick_loop(void *arg)
{
	struct wb_kick *k = arg;
	const struct timespec nap = { 0, CKPT_WB_KICK_MS * 1000000L };

	while (!atomic_load(&k->stop)) {
		wb_kick_once(k->dirfd);
		nanosleep(&nap, NULL);
	}
	return NULL;
}

void ckpt_wb_kick_start(int dirfd)
{
	helper_wb.dirfd = dirfd;
	atomic_store(&helper_wb.stop, false);
	helper_wb.running = pthread_create(&helper_wb.thread, NULL, wb_kick_loop, &helper_wb) == 0;
}

void ckpt_wb_kick_stop(void)
{
	if (!helper_wb.running)
		return;
	atomic_store(&helper_wb.stop, true);
	pthread_join(helper_wb.thread, NULL);
	helper_wb.running = false;
}

/* A nonzero return from a notification makes CRIU resume the tasks. */
static int commit_fail(struct ckpt_shared *sh, int e, const char *what, const char *path)
{
	sh->err = e;
	snprintf(sh->msg, sizeof(sh->msg), "%s `%s`", what, path);
	return -1;
}

static int fsync_parent(const char *path)
{
	_cleanup_free_ char *parent = strdup(path);
	char *slash = parent ? strrchr(parent, '/') : NULL;
	_cleanup_close_ int fd = -EBADF;

	if (!slash)
		return -ENOMEM;
	if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		return -errno;
	return 0;
}

/*
 * post-dump: the images are whole in the page cache and the tasks still
 * frozen. Make them durable before CRIU kills anything: the marker, one
 * syncfs of the images' filesystem and one of the container's upper layer
 * (its files must match the memory image), then the rename into place and
 * an fsync of the parent. A nonzero return makes CRIU resume the tasks.
 */
int ckpt_commit_images(const struct ckpt_commit *c)
{
	struct ckpt_shared *sh = c->sh;
	double t0 = ckpt_now_ms();
	bool moved_old = false;
	int r;

	ckpt_wb_kick_stop();
	ckpt_images_open_up(c->dirfd);
	r = ckpt_write_small(c->dirfd, CT_CKPT_MARKER, c->marker);
	if (r < 0)
		return commit_fail(sh, -r, "write the marker in", c->tmp);
	if (syncfs(c->dirfd) < 0)
		return commit_fail(sh, errno, "sync the images in", c->tmp);
	if (c->root) {
		_cleanup_close_ int rfd = open(c->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (rfd < 0 || syncfs(rfd) < 0)
			return commit_fail(sh, errno, "sync the container's files under", c->root);
	}
	if (access(c->final, F_OK) == 0) {
		ckpt_rm_rf(c->old);
		if (rename(c->final, c->old) < 0)
			return commit_fail(sh, errno, "move the previous checkpoint away from",
					   c->final);
		moved_old = true;
	}
	if (rename(c->tmp, c->final) < 0) {
		r = errno;
		if (moved_old)
			rename(c->old, c->final);
		return commit_fail(sh, r, "rename the images to", c->final);
	}
	r = fsync_parent(c->final);
	if (r < 0) {
		rename(c->final, c->tmp);
		if (moved_old)
			rename(c->old, c->final);
		return commit_fail(sh, -r, "sync the directory above", c->final);
	}
	sh->committed = 1;
	sh->sync_ms = ckpt_now_ms() - t0;
	return 0;
}

/* ---- CRIU's stats image (stats-dump / stats-restore) ----
 * Two magics, a u32 size, then a StatsEntry protobuf: field 1 DumpStatsEntry
 * (1 freezing_time, 2 frozen_time, 3 memdump_time, 4 memwrite_time,
 * 7 pages_written; µs), field 2 RestoreStatsEntry (3 forking_time,
 * 4 restore_time, 5 pages_restored). */

static int pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

/* Visit the varint fields of message [p, end), or find submessage `want`. */
static int pb_walk(const uint8_t *p, const uint8_t *end, uint64_t *fields, size_t nfields,
		   unsigned want, const uint8_t **sub, const uint8_t **sub_end)
{
	while (p < end) {
		uint64_t key, v;
		unsigned field, wt;

		if (pb_varint(&p, end, &key) < 0)
			return -1;
		field = (unsigned)(key >> 3);
		wt = (unsigned)(key & 7);
		if (wt == 0) {
			if (pb_varint(&p, end, &v) < 0)
				return -1;
			if (fields && field < nfields)
				fields[field] = v;
		} else if (wt == 2) {
			if (pb_varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
				return -1;
			if (sub && field == want) {
				*sub = p;
				*sub_end = p + v;
			}
			p += v;
		} else if (wt == 5) {
			p += 4;
		} else if (wt == 1) {
			p += 8;
		} else {
			return -1;
		}
	}
	return 0;
}

void ckpt_stats_read(int dirfd, bool dump, struct ct_ckpt_result *r)
{
	_cleanup_close_ int fd =
		openat(dirfd, dump ? "stats-dump" : "stats-restore", O_RDONLY | O_CLOEXEC);
	uint8_t buf[512];
	const uint8_t *sub = NULL, *sub_end = NULL;
	uint64_t f[16] = { 0 };
	uint32_t size;
	ssize_t n;

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf));
	if (n < 12)
		return;
	memcpy(&size, buf + 8, 4);
	if (size > (uint32_t)(n - 12))
		return;
	if (pb_walk(buf + 12, buf + 12 + size, NULL, 0, dump ? 1 : 2, &sub, &sub_end) < 0 || !sub)
		return;
	if (pb_walk(sub, sub_end, f, ARRAY_SIZE(f), 0, NULL, NULL) < 0)
		return;
	if (dump) {
		r->freezing_us = f[1];
		r->frozen_us = f[2];
		r->memdump_us = f[3];
		r->memwrite_us = f[4];
		r->pages = f[7];
	} else {
		r->freezing_us = f[3]; /* forking */
		r->frozen_us = f[4];   /* restore */
		r->pages = f[5];
	}
}

int ckpt_write_small(int dirfd, const char *name, const char *text)
{
	_cleanup_close_ int fd =
		openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t len = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		return -EIO;
	return 0;
}

/* The first line of a small file of the image dir; NULL if there is none. */
char *ckpt_read_small(int dirfd, const char *name)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	char buf[256], *nl;
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	return strdup(buf);
}
