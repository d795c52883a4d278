/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cow-fs/fsutil.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"

#define PRIVATE_NS_ONLY ((const char *)1)

static int enter_root(const char *root)
{
	char p[4096];

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	if (root == PRIVATE_NS_ONLY)
		return 0;
	if (snprintf(p, sizeof(p), "%s/proc", root) >= (int)sizeof(p))
		return -1;
	if (mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return -1;
	if (snprintf(p, sizeof(p), "%s/dev", root) >= (int)sizeof(p))
		return -1;
	if (mount("/dev", p, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -1;
	if (chroot(root) < 0 || chdir("/") < 0)
		return -1;
	setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
	setenv("DEBIAN_FRONTEND", "noninteractive", 1);
	setenv("LC_ALL", "C", 1);
	return 0;
}

static int run_in(const char *root, const char *const argv[], int out_fd, struct st_error **err);

int cowfs_run(const char *const argv[], int out_fd, struct st_error **err)
{
	return run_in(NULL, argv, out_fd, err);
}

int cowfs_run_private(const char *const argv[], int out_fd, struct st_error **err)
{
	return run_in(PRIVATE_NS_ONLY, argv, out_fd, err);
}

int cowfs_run_chroot(const char *root, const char *const argv[], int out_fd, struct st_error **err)
{
	return run_in(root, argv, out_fd, err);
}

static int run_in(const char *root, const char *const argv[], int out_fd, struct st_error **err)
{
	_cleanup_close_ int rd = -EBADF, wr = -EBADF;
	_cleanup_kill_ pid_t pid = -1;
	char tail[1024];
	size_t len = 0;
	int pfd[2], status;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return st_error_set(err, errno, "run `%s`: pipe", argv[0]);
	rd = pfd[0], wr = pfd[1];
	pid = fork();
	if (pid < 0)
		return st_error_set(err, errno, "run `%s`: fork", argv[0]);
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		if (nul < 0 || dup2(nul, 0) < 0 || dup2(out_fd >= 0 ? out_fd : nul, 1) < 0 ||
		    dup2(wr, 2) < 0)
			_exit(127);
		if (root && enter_root(root) < 0) {
			dprintf(2, "enter `%s`: %s\n", root == PRIVATE_NS_ONLY ? "namespace" : root,
				strerror(errno));
			_exit(127);
		}
		/* the program gets a clean signal mask, whatever the caller blocks */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(argv[0], (char *const *)argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	closep(&wr);
	for (;;) {
		char buf[4096];
		ssize_t n = read(rd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		/* keep the last sizeof(tail)-1 bytes */
		if ((size_t)n >= sizeof(tail) - 1) {
			memcpy(tail, buf + n - (sizeof(tail) - 1), sizeof(tail) - 1);
			len = sizeof(tail) - 1;
		} else {
			if (len + (size_t)n > sizeof(tail) - 1) {
				size_t drop = len + (size_t)n - (sizeof(tail) - 1);
				memmove(tail, tail + drop, len - drop);
				len -= drop;
			}
			memcpy(tail + len, buf, (size_t)n);
			len += (size_t)n;
		}
	}
	tail[len] = '\0';
	while (len > 0 && (tail[len - 1] == '\n' || tail[len - 1] == ' '))
		tail[--len] = '\0';
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return st_error_set(err, errno, "run `%s`: wait", argv[0]);
	}
	take_pid(pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	{
		const char *last = strrchr(tail, '\n');
		last = last ? last + 1 : tail;
		if (WIFEXITED(status))
			return st_error_setx(err, ST_EXIT_EXEC, 0, "`%s` exited with status %d%s%s",
					     argv[0], WEXITSTATUS(status), *last ? ": " : "", last);
		return st_error_setx(err, ST_EXIT_EXEC, 0, "`%s` killed by signal %d", argv[0],
				     WTERMSIG(status));
	}
}

int cowfs_mkdir_p(const char *path, mode_t mode, struct st_error **err)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return st_error_set(err, ENOMEM, "create directory `%s`", path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return st_error_set(err, errno, "create directory `%s`", p);
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return st_error_set(err, errno, "create directory `%s`", p);
	return 0;
}

int cowfs_is_mountpoint(const char *path)
{
	struct statx stx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
		return -errno;
	if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
		return !!(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
	return -EOPNOTSUPP;
}

static void clear_fs_flags(int dfd, const char *name)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	int flags;

	if (fd < 0 || ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
		return;
	if (flags & (FS_IMMUTABLE_FL | FS_APPEND_FL)) {
		flags &= ~(FS_IMMUTABLE_FL | FS_APPEND_FL);
		ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
}

/* Empty directory `dfd` (its path `path` for messages). */
static int rm_children(int dfd, const char *path, dev_t dev, struct st_error **err)
{
	_cleanup_closedir_ DIR *d = NULL;
	int fd = dup(dfd);
	struct dirent *de;

	if (fd < 0)
		return st_error_set(err, errno, "remove `%s`", path);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return st_error_set(err, errno, "remove `%s`", path);
	}
	while ((errno = 0, de = readdir(d))) {
		const char *n = de->d_name;
		struct stat st;

		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		if (fstatat(dfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return st_error_set(err, errno, "remove `%s/%s`", path, n);
		}
		if (S_ISDIR(st.st_mode)) {
			_cleanup_free_ char *sub = NULL;
			_cleanup_close_ int cfd = -EBADF;

			if (st.st_dev != dev)
				return st_error_setx(
					err, ST_EXIT_DESTROYFAIL, EBUSY,
					"remove `%s/%s`: a file system is mounted there", path, n);
			if (asprintf(&sub, "%s/%s", path, n) < 0)
				return st_error_set(err, ENOMEM, "remove `%s`", path);
			cfd = openat(dfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd < 0 && (errno == EACCES || errno == EPERM)) {
				if (fchmodat(dfd, n, 0700, 0) < 0)
					st_debug("chmod `%s/%s`: %m", path, n);
				cfd = openat(dfd, n,
					     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			}
			if (cfd < 0)
				return st_error_set(err, errno, "remove `%s`", sub);
			clear_fs_flags(dfd, n);
			if (rm_children(cfd, sub, dev, err) < 0)
				return -1;
			if (unlinkat(dfd, n, AT_REMOVEDIR) < 0 && errno != ENOENT)
				return st_error_set(err, errno, "remove `%s`", sub);
			continue;
		}
		if (unlinkat(dfd, n, 0) == 0 || errno == ENOENT)
			continue;
		if (errno == EPERM && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
			clear_fs_flags(dfd, n);
			if (unlinkat(dfd, n, 0) == 0)
				continue;
		}
		return st_error_set(err, errno, "remove `%s/%s`", path, n);
	}
	if (errno)
		return st_error_set(err, errno, "read directory `%s`", path);
	return 0;
}

int cowfs_rm_rf(const char *path, struct st_error **err)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return st_error_set(err, errno, "remove `%s`", path);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0 && errno != ENOENT)
			return st_error_set(err, errno, "remove `%s`", path);
		return 0;
	}
	if (cowfs_is_mountpoint(path) == 1)
		return st_error_setx(err, ST_EXIT_DESTROYFAIL, EBUSY,
				     "remove `%s`: a file system is mounted there", path);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EPERM)) {
		if (chmod(path, 0700) < 0)
			st_debug("chmod `%s`: %m", path);
		fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return st_error_set(err, errno, "remove `%s`", path);
	clear_fs_flags(AT_FDCWD, path);
	if (rm_children(fd, path, st.st_dev, err) < 0)
		return -1;
	if (rmdir(path) < 0 && errno != ENOENT)
		return st_error_set(err, errno, "remove `%s`", path);
	return 0;
}

static int copy_by_read(int in, int out, const char *src, const char *dst, mode_t mode,
			struct st_error **err)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return st_error_set(err, errno, "read `%s`", src);
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return st_error_set(err, errno, "copy `%s` to `%s`", src, dst);
			off += w;
		}
	}
	if (fchmod(out, mode) < 0)
		return st_error_set(err, errno, "chmod `%s`", dst);
	return 0;
}

int cowfs_copy_file(const char *src, const char *dst, mode_t mode, struct st_error **err)
{
	_cleanup_close_ int in = -EBADF, out = -EBADF;
	struct stat st;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0)
		return st_error_set(err, errno, "open `%s`", src);
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0)
		return st_error_set(err, errno, "create `%s`", dst);
	for (off_t left = st.st_size; left > 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);

		if (n < 0 && errno == EINTR)
			continue;
		/* across filesystems (a /var of its own) ext4 and most others
		 * refuse: copy through a buffer instead */
		if (n < 0 && left == st.st_size &&
		    (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP))
			return copy_by_read(in, out, src, dst, mode, err);
		if (n < 0)
			return st_error_set(err, errno, "copy `%s` to `%s`", src, dst);
		if (n == 0)
			break;
		left -= n;
	}
	if (fchmod(out, mode) < 0)
		return st_error_set(err, errno, "chmod `%s`", dst);
	return 0;
}

int cowfs_write_file(const char *path, const char *text, mode_t mode, struct st_error **err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len = strlen(text);

	if (fd < 0)
		return st_error_set(err, errno, "create `%s`", path);
	while (len > 0) {
		ssize_t n = write(fd, text, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return st_error_set(err, errno, "write `%s`", path);
		text += n, len -= (size_t)n;
	}
	return 0;
}
