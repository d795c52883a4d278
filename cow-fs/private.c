/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The private area of a container: <private>/upper and <private>/work and
 * nothing from the template. Create is three mkdirs and no fsync: the
 * caller makes it durable with one cowfs_private_sync() (one syncfs) after
 * writing the container's config, or once after a batch of creates.
 */
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cow-fs/cowfs.h"
#include "cow-fs/fsutil.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"

static int private_exit_code(int e)
{
	return e == ENOSPC || e == EDQUOT ? ST_EXIT_NOSPACE : ST_EXIT_CREATEPRIV;
}

int cowfs_private_create(const char *private_dir, struct st_error **err)
{
	_cleanup_close_ int dfd = -EBADF;

	if (mkdir(private_dir, 0700) < 0) {
		if (errno == EEXIST)
			return st_error_setx(err, ST_EXIT_PRIVATE_EXISTS, EEXIST,
					     "create private area `%s`", private_dir);
		if (errno != ENOENT)
			return st_error_setx(err, private_exit_code(errno), errno,
					     "create private area `%s`", private_dir);
		/* first container: make the parents */
		{
			_cleanup_free_ char *parent = strdup(private_dir);
			char *slash = parent ? strrchr(parent, '/') : NULL;

			if (slash && slash != parent) {
				_cleanup_close_ int pfd = -EBADF;

				*slash = '\0';
				if (cowfs_mkdir_p(parent, 0700, err) < 0)
					return -1;
				/* once per host: the new parents last (a create's
				 * commit syncs the area and its direct parent) */
				pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				if (pfd >= 0)
					syncfs(pfd);
			}
		}
		if (mkdir(private_dir, 0700) < 0)
			return st_error_setx(err,
					     errno == EEXIST ? ST_EXIT_PRIVATE_EXISTS
							     : private_exit_code(errno),
					     errno, "create private area `%s`", private_dir);
	}
	dfd = open(private_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || mkdirat(dfd, "upper", 0755) < 0 || mkdirat(dfd, "work", 0700) < 0) {
		int e = errno;

		if (dfd >= 0) {
			unlinkat(dfd, "upper", AT_REMOVEDIR);
			unlinkat(dfd, "work", AT_REMOVEDIR);
		}
		rmdir(private_dir);
		return st_error_setx(err, private_exit_code(e), e, "create private area `%s`",
				     private_dir);
	}
	st_trace("created private area `%s`", private_dir);
	return 0;
}

int cowfs_private_sync(const char *private_dir, struct st_error **err)
{
	_cleanup_close_ int fd = open(private_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return st_error_set(err, errno, "open private area `%s`", private_dir);
	if (syncfs(fd) < 0)
		return st_error_set(err, errno, "sync private area `%s`", private_dir);
	return 0;
}

int cowfs_private_destroy(const char *private_dir, struct st_error **err)
{
	struct stat st;

	if (cowfs_private_is_image(private_dir)) {
		if (cowfs_private_destroy_image(private_dir, err) < 0)
			return -1;
		st_trace("destroyed private area `%s` (image)", private_dir);
		return 0;
	}
	if (lstat(private_dir, &st) < 0) {
		if (errno == ENOENT)
			return st_error_setx(err, ST_EXIT_NOPRIVATE, ENOENT,
					     "destroy private area `%s`", private_dir);
		return st_error_setx(err, ST_EXIT_DESTROYFAIL, errno, "destroy private area `%s`",
				     private_dir);
	}
	if (cowfs_rm_rf(private_dir, err) < 0)
		return st_error_prefix(err, "destroy private area `%s`: ", private_dir);
	st_trace("destroyed private area `%s`", private_dir);
	return 0;
}

#define RETIRED ".destroyed."

int cowfs_private_retire(const char *private_dir, char **retired, struct st_error **err)
{
	static unsigned n;
	_cleanup_free_ char *to = NULL;
	struct stat st;

	*retired = NULL;
	if (cowfs_private_is_image(private_dir))
		return cowfs_private_destroy(private_dir, err);
	if (lstat(private_dir, &st) < 0)
		return st_error_setx(err, errno == ENOENT ? ST_EXIT_NOPRIVATE : ST_EXIT_DESTROYFAIL,
				     errno, "destroy private area `%s`", private_dir);
	if (asprintf(&to, "%s" RETIRED "%d.%u", private_dir, (int)getpid(),
		     __atomic_add_fetch(&n, 1, __ATOMIC_RELAXED)) < 0)
		return st_error_set(err, ENOMEM, "destroy private area `%s`", private_dir);
	if (rename(private_dir, to) < 0)
		return st_error_setx(err, ST_EXIT_DESTROYFAIL, errno,
				     "destroy private area `%s`: rename it to `%s`", private_dir,
				     to);
	st_trace("retired private area `%s` to `%s`", private_dir, to);
	*retired = take_ptr(to);
	return 0;
}

bool cowfs_private_is_retired(const char *name)
{
	return strstr(name, RETIRED) != NULL || strstr(name, ".cloning.") != NULL;
}

/* Hard links seen while walking: (dev, ino) -> path relative to the root. */
struct ino_seen {
	dev_t dev;
	ino_t ino;
	char *rel;
};

static int ino_cmp(const void *a, const void *b)
{
	const struct ino_seen *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

static void ino_free(void *p)
{
	struct ino_seen *s = p;

	free(s->rel);
	free(s);
}

struct clone_ctx {
	const char *src_root, *dst_root;
	int dst_root_fd;
	void *seen; /* tsearch tree of struct ino_seen */
};

static int copy_xattrs(const char *src, const char *dst, struct st_error **err)
{
	_cleanup_free_ char *names = NULL;
	ssize_t len = llistxattr(src, NULL, 0);

	if (len < 0) {
		if (errno == ENOTSUP)
			return 0;
		return st_error_set(err, errno, "list xattrs of `%s`", src);
	}
	if (len == 0)
		return 0;
	names = malloc((size_t)len);
	if (!names)
		return st_error_set(err, ENOMEM, "copy xattrs of `%s`", src);
	len = llistxattr(src, names, (size_t)len);
	if (len < 0)
		return st_error_set(err, errno, "list xattrs of `%s`", src);
	for (char *n = names; n < names + len; n += strlen(n) + 1) {
		_cleanup_free_ char *val = NULL;
		ssize_t vl = lgetxattr(src, n, NULL, 0);

		if (vl < 0)
			return st_error_set(err, errno, "read xattr %s of `%s`", n, src);
		val = malloc((size_t)vl + 1);
		if (!val)
			return st_error_set(err, ENOMEM, "copy xattrs of `%s`", src);
		vl = lgetxattr(src, n, val, (size_t)vl);
		if (vl < 0)
			return st_error_set(err, errno, "read xattr %s of `%s`", n, src);
		if (lsetxattr(dst, n, val, (size_t)vl, 0) < 0)
			return st_error_set(err, errno, "set xattr %s on `%s`", n, dst);
	}
	return 0;
}

/* Owner, mode, xattrs and times of dst from st (src for xattrs). */
static int copy_meta(const char *src, const char *dst, const struct stat *st, struct st_error **err)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	if (lchown(dst, st->st_uid, st->st_gid) < 0)
		return st_error_set(err, errno, "chown `%s`", dst);
	if (!S_ISLNK(st->st_mode) && chmod(dst, st->st_mode & 07777) < 0)
		return st_error_set(err, errno, "chmod `%s`", dst);
	if (copy_xattrs(src, dst, err) < 0)
		return -1;
	if (utimensat(AT_FDCWD, dst, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return st_error_set(err, errno, "set times of `%s`", dst);
	return 0;
}

static int clone_tree(struct clone_ctx *c, const char *rel, struct st_error **err);

static int clone_entry(struct clone_ctx *c, const char *rel, struct st_error **err)
{
	_cleanup_free_ char *src = NULL, *dst = NULL;
	struct stat st;

	if (asprintf(&src, "%s/%s", c->src_root, rel) < 0 ||
	    asprintf(&dst, "%s/%s", c->dst_root, rel) < 0)
		return st_error_set(err, ENOMEM, "clone `%s`", rel);
	if (lstat(src, &st) < 0)
		return st_error_set(err, errno, "stat `%s`", src);
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
		struct ino_seen key = { .dev = st.st_dev, .ino = st.st_ino }, *n;
		struct ino_seen **found = tfind(&key, &c->seen, ino_cmp);

		if (found) {
			if (linkat(c->dst_root_fd, (*found)->rel, AT_FDCWD, dst, 0) < 0)
				return st_error_set(err, errno, "link `%s`", dst);
			return 0;
		}
		n = calloc(1, sizeof(*n));
		if (!n || !(n->rel = strdup(rel))) {
			free(n);
			return st_error_set(err, ENOMEM, "clone `%s`", rel);
		}
		n->dev = st.st_dev, n->ino = st.st_ino;
		if (!tsearch(n, &c->seen, ino_cmp)) {
			ino_free(n);
			return st_error_set(err, ENOMEM, "clone `%s`", rel);
		}
	}
	switch (st.st_mode & S_IFMT) {
	case S_IFDIR:
		if (mkdir(dst, 0700) < 0)
			return st_error_set(err, errno, "create directory `%s`", dst);
		if (clone_tree(c, rel, err) < 0)
			return -1;
		break;
	case S_IFREG:
		if (cowfs_copy_file(src, dst, 0600, err) < 0)
			return -1;
		break;
	case S_IFLNK: {
		_cleanup_free_ char *target = calloc(1, (size_t)st.st_size + 1);

		if (!target)
			return st_error_set(err, ENOMEM, "clone `%s`", src);
		if (readlink(src, target, (size_t)st.st_size + 1) != st.st_size)
			return st_error_set(err, errno ? errno : EIO, "read link `%s`", src);
		if (symlink(target, dst) < 0)
			return st_error_set(err, errno, "create symlink `%s`", dst);
		break;
	}
	default: /* devices (overlay whiteouts are char 0:0), fifos, sockets */
		if (mknod(dst, st.st_mode, st.st_rdev) < 0)
			return st_error_set(err, errno, "create node `%s`", dst);
		break;
	}
	return copy_meta(src, dst, &st, err);
}

static int clone_tree(struct clone_ctx *c, const char *rel, struct st_error **err)
{
	_cleanup_free_ char *src = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (asprintf(&src, "%s/%s", c->src_root, rel) < 0)
		return st_error_set(err, ENOMEM, "clone `%s`", rel);
	d = opendir(src);
	if (!d)
		return st_error_set(err, errno, "open directory `%s`", src);
	while ((errno = 0, de = readdir(d))) {
		_cleanup_free_ char *sub = NULL;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (asprintf(&sub, "%s/%s", rel, de->d_name) < 0)
			return st_error_set(err, ENOMEM, "clone `%s`", rel);
		if (clone_entry(c, sub, err) < 0)
			return -1;
	}
	if (errno)
		return st_error_set(err, errno, "read directory `%s`", src);
	return 0;
}

static int clone_upper(const char *su, const char *du, const struct stat *st, struct st_error **err)
{
	_cleanup_close_ int dfd = open(du, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct clone_ctx c = { .src_root = su, .dst_root = du };
	int r;

	if (dfd < 0)
		return st_error_set(err, errno, "open `%s`", du);
	c.dst_root_fd = dfd;
	r = clone_tree(&c, ".", err);
	tdestroy(c.seen, ino_free);
	if (r < 0)
		return r;
	return copy_meta(su, du, st, err);
}

static int clone_private(const char *src_private, const char *dst_private, const char *su,
			 const char *du, struct st_error **err);

int cowfs_private_clone(const char *src_private, const char *dst_private, struct st_error **err)
{
	_cleanup_free_ char *su = NULL, *du = NULL;
	bool opened = cowfs_private_is_image(src_private) && cowfs_is_mountpoint(src_private) != 1;
	int r;

	if (asprintf(&su, "%s/upper", src_private) < 0 ||
	    asprintf(&du, "%s/upper", dst_private) < 0)
		return st_error_set(err, ENOMEM, "clone `%s`", src_private);
	if (cowfs_private_open(src_private, err) < 0)
		return -1;
	r = clone_private(src_private, dst_private, su, du, err);
	if (opened)
		cowfs_private_close(src_private, NULL);
	return r;
}

static int clone_private(const char *src_private, const char *dst_private, const char *su,
			 const char *du, struct st_error **err)
{
	struct stat st;

	if (lstat(su, &st) < 0 || !S_ISDIR(st.st_mode))
		return st_error_setx(err, ST_EXIT_NOPRIVATE, errno ? errno : ENOTDIR,
				     "clone private area `%s`", src_private);
	if (cowfs_private_create(dst_private, err) < 0)
		return -1;
	if (clone_upper(su, du, &st, err) < 0) {
		/* a failed clone leaves nothing behind */
		cowfs_rm_rf(dst_private, NULL);
		return st_error_prefix(err, "clone private area `%s` to `%s`: ", src_private,
				       dst_private);
	}
	st_trace("cloned private area `%s` to `%s`", src_private, dst_private);
	return 0;
}

struct usage_ctx {
	uint64_t bytes, inodes;
	void *seen;
};

static int usage_walk(struct usage_ctx *u, int dfd, const char *path, struct st_error **err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd = dup(dfd);

	if (fd < 0)
		return st_error_set(err, errno, "read `%s`", path);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return st_error_set(err, errno, "read `%s`", path);
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
			struct ino_seen *n = calloc(1, sizeof(*n)), **found;

			if (!n)
				return st_error_set(err, ENOMEM, "usage of `%s`", path);
			n->dev = st.st_dev, n->ino = st.st_ino;
			found = tsearch(n, &u->seen, ino_cmp);
			if (!found) {
				free(n);
				return st_error_set(err, ENOMEM, "usage of `%s`", path);
			}
			if (*found != n) {
				free(n);
				continue;
			}
		}
		u->bytes += (uint64_t)st.st_blocks * 512;
		u->inodes++;
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int cfd = openat(
				dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			_cleanup_free_ char *sub = NULL;

			if (cfd < 0)
				continue;
			if (asprintf(&sub, "%s/%s", path, de->d_name) < 0)
				return st_error_set(err, ENOMEM, "usage of `%s`", path);
			if (usage_walk(u, cfd, sub, err) < 0)
				return -1;
		}
	}
	return 0;
}

int cowfs_private_usage(const char *private_dir, uint64_t *bytes, uint64_t *inodes,
			struct st_error **err)
{
	_cleanup_close_ int fd = open(private_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct usage_ctx u = { 0 };
	struct stat st;
	int r;

	if (cowfs_private_is_image(private_dir))
		return cowfs_private_usage_image(private_dir, bytes, inodes, err);
	if (fd < 0 || fstat(fd, &st) < 0)
		return st_error_setx(err, errno == ENOENT ? ST_EXIT_NOPRIVATE : ST_EXIT_SYSTEM,
				     errno, "usage of private area `%s`", private_dir);
	u.bytes = (uint64_t)st.st_blocks * 512;
	u.inodes = 1;
	r = usage_walk(&u, fd, private_dir, err);
	tdestroy(u.seen, free);
	if (r < 0)
		return r;
	if (bytes)
		*bytes = u.bytes;
	if (inodes)
		*inodes = u.inodes;
	return 0;
}
