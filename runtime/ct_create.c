/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The commit of `strata create`: the container made durable at once.
 *
 * ct_do_create makes the private area (three mkdirs, no sync of their own);
 * ct_create_commit() then writes the config to CTID.conf.tmp.PID, makes the
 * private area and that file durable, and only then renames it to
 * CTID.conf. How: one syncfs of the private area's filesystem is one wait
 * on the disk, but that filesystem is the host's and a syncfs writes
 * everyone's dirty pages first (0.7 s with 1.5 GB of them, the event loop
 * stalled meanwhile); fsyncs of the three directories, the area's parent
 * and the file write only those, at a wait each (+0.5 ms here). So: the
 * syncfs while the host has little dirty data (DIRTY_FEW), the fsyncs
 * otherwise; an image private area (its own filesystem, which its mkfs
 * wrote) always gets the syncfs. A container exists when CTID.conf
 * exists, and CTID.conf never appears before everything it names is on
 * disk. The rename itself is made durable by the next sync (the kernel's
 * writeback or the next create); should the host crash first, the daemon's
 * start finds the complete CTID.conf.tmp.PID beside a complete private area
 * and finishes the rename (ct_create_recover): an acknowledged create is
 * never lost. Whatever else a crash leaves (a temporary config that is
 * empty or does not parse, a fresh private area without a config) was
 * never acknowledged, is not a container, and is removed at start.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "cow-fs/cowfs.h"
#include "runtime/ct_create.h"
#include "runtime/daemon.h"

static int write_all(int fd, const char *data, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		off += (size_t)w;
	}
	return 0;
}

static int sync_error(const char *path, struct st_error **err)
{
	return st_error_setx(err, errno == ENOSPC ? ST_EXIT_NOSPACE : ST_EXIT_SYSTEM, errno,
			     "sync `%s`", path);
}

/* fsync the directory path. */
static int fsync_dir(const char *path, struct st_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return sync_error(path, err);
	return 0;
}

/* The plain private area's upper/ and work/, the area itself and its
 * parent's entry for it (parents made by the first create are synced by
 * cowfs_private_create). A fsync each, each a flush of the disk's cache. */
static int fsync_private(const char *priv, struct st_error **err)
{
	static const char *const sub[] = { "upper", "work", "", ".." };

	for (size_t i = 0; i < ARRAY_SIZE(sub); i++) {
		_cleanup_free_ char *p = NULL;

		if (asprintf(&p, "%s%s%s", priv, *sub[i] ? "/" : "", sub[i]) < 0)
			return st_error_set(err, ENOMEM, "sync `%s`", priv);
		if (fsync_dir(p, err) < 0)
			return -1;
	}
	return 0;
}

/* Dirty + Writeback of /proc/meminfo under which a syncfs costs less than
 * five fsyncs. */
#define DIRTY_FEW_KB 1024

static bool dirty_few(void)
{
	_cleanup_close_ int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	char buf[4096], *p;
	long kb = 0, v;
	ssize_t n;

	if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
		return false;
	buf[n] = '\0';
	if ((p = strstr(buf, "\nDirty:")) && sscanf(p, "\nDirty: %ld", &v) == 1)
		kb += v;
	else
		return false;
	if ((p = strstr(buf, "\nWriteback:")) && sscanf(p, "\nWriteback: %ld", &v) == 1)
		kb += v;
	return kb <= DIRTY_FEW_KB;
}

/* syncfs of the filesystem of fd (named path, for the error). */
static int sync_fs(int fd, const char *path, struct st_error **err)
{
	return syncfs(fd) < 0 ? sync_error(path, err) : 0;
}

int ct_create_commit(const struct ct_config *c, const char *conf_path, const char *priv,
		     struct st_error **err)
{
	_cleanup_free_ char *text = ct_config_render(c), *tmp = NULL;
	_cleanup_close_ int fd = -EBADF, pfd = -EBADF;
	struct stat sp, sc;
	int r;

	if (!text || asprintf(&tmp, "%s.tmp.%d", conf_path, getpid()) < 0)
		return st_error_setx(err, ST_EXIT_SAVECONF, ENOMEM, "save `%s`", conf_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return st_error_setx(err, errno == ENOSPC ? ST_EXIT_NOSPACE : ST_EXIT_SAVECONF,
				     errno, "create `%s`", tmp);
	r = write_all(fd, text, strlen(text));
	if (r < 0) {
		unlink(tmp);
		return st_error_setx(err, r == -ENOSPC ? ST_EXIT_NOSPACE : ST_EXIT_SAVECONF, -r,
				     "write `%s`", tmp);
	}
	/* The private area's directories and the config's data, before the
	 * config's name appears (the head comment says how). */
	if (!cowfs_private_is_image(priv) && !dirty_few()) {
		r = fsync_private(priv, err);
		if (r == 0 && fsync(fd) < 0)
			r = sync_error(tmp, err);
	} else {
		pfd = open(priv, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0)
			r = st_error_set(err, errno, "open `%s`", priv);
		else
			r = sync_fs(pfd, priv, err);
		if (r == 0 && (fstat(pfd, &sp) < 0 || fstat(fd, &sc) < 0 || sp.st_dev != sc.st_dev))
			r = sync_fs(fd, tmp, err);
	}
	if (r < 0) {
		unlink(tmp);
		return st_error_prefix(err, "save config");
	}
	if (rename(tmp, conf_path) < 0) {
		int e = errno;

		unlink(tmp);
		return st_error_setx(err, ST_EXIT_SAVECONF, e, "rename `%s` to `%s`", tmp,
				     conf_path);
	}
	st_trace("committed `%s` and `%s`", conf_path, priv);
	return 0;
}

/* The private area of ctid as config c (NULL: the defaults) places it. */
static char *private_of(struct daemon *d, const struct ct_config *c, const char *ctid)
{
	_cleanup_ct_config_ struct ct_config *m = ct_config_new();

	if (!m)
		return NULL;
	if (c)
		for (int i = 0; i < CT_KEY_COUNT; i++)
			if (c->v[i].set) {
				m->v[i] = c->v[i];
				m->v[i].str = c->v[i].str ? strdup(c->v[i].str) : NULL;
			}
	ct_config_merge_defaults(m, d->g->ct_defaults);
	return g_ct_private_path(d->g, m, ctid);
}

/* An empty directory name in dfd (or none at all)? */
static bool empty_or_absent(int dfd, const char *name)
{
	_cleanup_closedir_ DIR *dir = NULL;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *e;

	if (fd < 0)
		return errno == ENOENT;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return false;
	}
	while ((e = readdir(dir)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			return false;
	return true;
}

/*
 * Remove priv if it is what an interrupted create leaves: at most upper/
 * and work/, both empty. Anything else is data and stays.
 */
static void remove_fresh_private(const char *priv)
{
	_cleanup_close_ int dfd = open(priv, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_closedir_ DIR *dir = NULL;
	struct dirent *e;
	int fd;

	if (dfd < 0)
		return;
	fd = dup(dfd);
	dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (strcmp(e->d_name, "upper") && strcmp(e->d_name, "work"))
			return;
	}
	if (!empty_or_absent(dfd, "upper") || !empty_or_absent(dfd, "work"))
		return;
	unlinkat(dfd, "upper", AT_REMOVEDIR);
	unlinkat(dfd, "work", AT_REMOVEDIR);
	if (rmdir(priv) == 0)
		st_info("removed `%s`, the private area of a create that did not finish", priv);
}

static bool is_dir(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* CTID.conf.tmp.PID: roll the create forward, or drop it. */
static void recover_tmp(struct daemon *d, const char *name, size_t idlen)
{
	_cleanup_error_ struct st_error *err = NULL;
	_cleanup_ct_config_ struct ct_config *c = NULL;
	_cleanup_free_ char *ctid = strndup(name, idlen), *tmp = NULL, *conf = NULL, *priv = NULL,
			    *upper = NULL, *work = NULL;
	struct stat st;

	if (!ctid || asprintf(&tmp, "%s/%s", d->g->conf_dir, name) < 0)
		return;
	conf = g_ct_conf_path(d->g, ctid);
	if (!conf)
		return;
	if (lstat(conf, &st) == 0) { /* an interrupted rewrite of a config */
		unlink(tmp);
		return;
	}
	if (ct_config_load(tmp, &c, &err) == 0 && ct_config_str(c, CT_OSTEMPLATE) &&
	    *ct_config_str(c, CT_OSTEMPLATE)) {
		priv = private_of(d, c, ctid);
		if (priv && asprintf(&upper, "%s/upper", priv) >= 0 &&
		    asprintf(&work, "%s/work", priv) >= 0 &&
		    ((is_dir(upper) && is_dir(work)) || cowfs_private_is_image(priv))) {
			if (rename(tmp, conf) == 0) {
				st_info("container %s: finished a create interrupted by a crash",
					ctid);
				return;
			}
			st_warn("container %s: rename `%s` to `%s`: %s", ctid, tmp, conf,
				strerror(errno));
			return;
		}
	}
	unlink(tmp);
	st_info("container %s: dropped the config of a create that did not finish", ctid);
	free(priv);
	priv = private_of(d, c, ctid);
	if (priv)
		remove_fresh_private(priv);
}

void ct_create_recover(struct daemon *d)
{
	_cleanup_closedir_ DIR *dir = opendir(d->g->conf_dir);
	struct dirent *e;

	if (dir) {
		while ((e = readdir(dir))) {
			size_t n = strspn(e->d_name, "0123456789");

			if (n > 0 && !strncmp(e->d_name + n, ".conf.tmp.", 10))
				recover_tmp(d, e->d_name, n);
		}
		closedir(take_ptr(dir));
	}
	/* private areas under PRIVATE_DIR without a config */
	dir = opendir(d->g->private_dir);
	if (!dir)
		return;
	while ((e = readdir(dir))) {
		_cleanup_free_ char *conf = NULL, *priv = NULL;
		size_t n = strlen(e->d_name);
		struct stat st;

		if (n == 0 || strspn(e->d_name, "0123456789") != n)
			continue;
		conf = g_ct_conf_path(d->g, e->d_name);
		if (!conf || lstat(conf, &st) == 0 || errno != ENOENT)
			continue;
		if (asprintf(&priv, "%s/%s", d->g->private_dir, e->d_name) < 0)
			continue;
		remove_fresh_private(priv);
	}
}
