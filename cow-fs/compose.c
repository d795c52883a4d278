/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A container root: overlayfs of <private>/upper over the template layer(s).
 * With an id range, every lower is an idmapped clone of the template mount
 * (open_tree + mount_setattr(MOUNT_ATTR_IDMAP)), so one image serves every
 * user-namespaced container without a chown; the clone stays detached and
 * overlayfs keeps its own private reference to it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cow-fs/cowfs.h"
#include "cow-fs/fsutil.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/syscalls.h"

#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

#define MAX_LOWERS 32

/* The child of cowfs_userns_fd: born in the new user namespace, it only
 * waits to be killed. It shares the caller's memory (CLONE_VM), so nothing
 * of the caller is copied (a fork of a daemon with hundreds of containers
 * copies its page tables: 0.5-1 ms), and it makes one raw system call. */
static int userns_holder(void *arg)
{
	(void)arg;
	for (;;)
		syscall(SYS_ppoll, NULL, 0, NULL, NULL, 0);
	return 0;
}

/* A user namespace mapping 0..count-1 to base..base+count-1; returns its fd. */
int cowfs_userns_fd(uint32_t base, uint32_t count, struct st_error **err)
{
	const size_t stack_size = 16384;
	_cleanup_free_ char *stack = malloc(stack_size);
	_cleanup_kill_ pid_t pid = -1; /* killed and waited for before the stack goes */
	char path[64], map[64];
	int fd;

	if (!stack)
		return st_error_set(err, ENOMEM, "create user namespace");
	/* no exit signal: the daemon's SIGCHLD handling is for its containers */
	pid = clone(userns_holder, stack + stack_size, CLONE_VM | CLONE_NEWUSER, NULL);
	if (pid < 0) {
		pid = -1;
		if (errno == EPERM || errno == ENOSPC || errno == EUSERS)
			return st_error_setx(err, ST_EXIT_NOFEATURE, errno,
					     "create user namespace");
		return st_error_set(err, errno, "create user namespace: clone");
	}
	snprintf(map, sizeof(map), "0 %u %u\n", base, count);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/proc/%d/%s", pid, i ? "gid_map" : "uid_map");
		if (cowfs_write_file(path, map, 0644, err) < 0)
			return st_error_prefix(err, "map ids %u..%u: ", base, base + count - 1);
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return st_error_set(err, errno, "open `%s`", path);
	return fd;
}

/*
 * Start latency (bench/lifecycle.sh): a compose with an id range used to
 * fork a child for its user namespace and, once overlayfs had taken its own
 * reference, close the idmapped clone of the template, which dissolves a
 * mount tree and waits for an RCU grace period (0.3-3 ms here). So, per
 * process: user namespaces are kept by id range for the next compose of
 * that range (64 of them, the oldest replaced first: an fd each), and the
 * idmapped clones of a mounted root (an fd per mounted root) are closed
 * when the root is unmounted (cowfs_root_decompose), off the start path.
 */
#define USERNS_CACHE 64

/* The cache and the held clones are per process and the daemon composes
 * from several threads at once (START_WORKERS): both are guarded. */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static struct {
	uint32_t base, count;
	int fd;
} userns_cache[USERNS_CACHE];
static size_t userns_used, userns_next;

/* The cached namespace of the id range, duplicated; -1 if none is cached. */
static int userns_cached(uint32_t base, uint32_t count)
{
	int fd = -1;

	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < userns_used; i++)
		if (userns_cache[i].base == base && userns_cache[i].count == count) {
			fd = fcntl(userns_cache[i].fd, F_DUPFD_CLOEXEC, 3);
			break;
		}
	pthread_mutex_unlock(&cache_lock);
	return fd;
}

/* Keep a copy of fd for the next compose of the range (none on EMFILE). */
static void userns_keep(uint32_t base, uint32_t count, int fd)
{
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int old = -EBADF;
	size_t slot;

	if (copy < 0)
		return;
	pthread_mutex_lock(&cache_lock);
	if (userns_used < USERNS_CACHE) {
		slot = userns_used++;
	} else {
		slot = userns_next;
		userns_next = (userns_next + 1) % USERNS_CACHE;
		old = userns_cache[slot].fd;
	}
	userns_cache[slot].base = base;
	userns_cache[slot].count = count;
	userns_cache[slot].fd = copy;
	pthread_mutex_unlock(&cache_lock);
	closep(&old);
}

/* A user namespace for the id range, the caller's to close. */
static int userns_get(uint32_t base, uint32_t count, struct st_error **err)
{
	int fd = userns_cached(base, count);

	if (fd >= 0)
		return fd;
	fd = cowfs_userns_fd(base, count, err);
	if (fd < 0)
		return fd;
	userns_keep(base, count, fd);
	return fd;
}

struct held_trees {
	struct held_trees *next;
	char *target;
	size_t n;
	int fd[];
};
static struct held_trees *held;

/* Keep the idmapped clones of target's lowers until it is unmounted; on
 * ENOMEM they are closed now (slower, not wrong). */
static void trees_hold(const char *target, int *tree, size_t n)
{
	struct held_trees *h = malloc(sizeof(*h) + n * sizeof(int));

	if (!h || !(h->target = strdup(target))) {
		free(h);
		for (size_t i = 0; i < n; i++)
			closep(&tree[i]);
		return;
	}
	h->n = n;
	for (size_t i = 0; i < n; i++)
		h->fd[i] = take_fd(tree[i]);
	pthread_mutex_lock(&cache_lock);
	h->next = held;
	held = h;
	pthread_mutex_unlock(&cache_lock);
}

static void trees_release(const char *target)
{
	struct held_trees *h = NULL;

	pthread_mutex_lock(&cache_lock);
	for (struct held_trees **p = &held; *p; p = &(*p)->next)
		if (strcmp((*p)->target, target) == 0) {
			h = *p;
			*p = h->next;
			break;
		}
	pthread_mutex_unlock(&cache_lock);
	if (!h)
		return;
	/* closed outside the lock: each close may wait for an RCU grace period */
	for (size_t i = 0; i < h->n; i++)
		close(h->fd[i]);
	free(h->target);
	free(h);
}

static int chown_upper(const char *private_dir, uint32_t base, struct st_error **err)
{
	_cleanup_free_ char *upper = NULL;
	struct stat st;

	if (asprintf(&upper, "%s/upper", private_dir) < 0)
		return st_error_set(err, ENOMEM, "compose");
	if (stat(upper, &st) < 0)
		return st_error_setx(err, ST_EXIT_NOPRIVATE, errno, "private area upper `%s`",
				     upper);
	if (st.st_uid == base && st.st_gid == base)
		return 0;
	if (chown(upper, base, base) < 0)
		return st_error_set(err, errno, "chown `%s` to %u:%u", upper, base, base);
	return 0;
}

/* Escape ':' ',' and '\' for overlay's lowerdir list. */
static char *escape_path(const char *s)
{
	char *out = malloc(strlen(s) * 2 + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		if (*s == ':' || *s == '\\' || *s == ',')
			*o++ = '\\';
		*o++ = *s;
	}
	*o = '\0';
	return out;
}

static int overlay_mount(char *const *lowers, size_t n, const char *upper, const char *work,
			 const char *target, struct st_error **err)
{
	_cleanup_close_ int fsfd = -EBADF, mfd = -EBADF;
	_cleanup_free_ char *joined = NULL;
	size_t len = 1;

	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *e = escape_path(lowers[i]);
		char *nj;

		if (!e)
			return st_error_set(err, ENOMEM, "compose `%s`", target);
		len += strlen(e) + 1;
		nj = realloc(joined, len);
		if (!nj)
			return st_error_set(err, ENOMEM, "compose `%s`", target);
		if (!joined)
			*nj = '\0';
		joined = nj;
		if (i)
			strcat(joined, ":");
		strcat(joined, e);
	}
	fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fsfd < 0 && (errno == ENOSYS || errno == EPERM)) {
		_cleanup_free_ char *opts = NULL;

		if (asprintf(&opts, "lowerdir=%s,upperdir=%s,workdir=%s", joined, upper, work) < 0)
			return st_error_set(err, ENOMEM, "compose `%s`", target);
		if (mount("overlay", target, "overlay", MS_NODEV, opts) < 0)
			return st_error_setx(err, ST_EXIT_MOUNTFAIL, errno,
					     "mount overlay on `%s` (%s)", target, opts);
		return 0;
	}
	if (fsfd < 0)
		return st_error_setx(err, ST_EXIT_NOFEATURE, errno, "open overlay file system");
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", "strata", 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir", joined, 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", work, 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return st_error_setx(err, errno == ENOSPC ? ST_EXIT_NOSPACE : ST_EXIT_MOUNTFAIL,
				     errno, "mount overlay on `%s` (lower=%s upper=%s)", target,
				     joined, upper);
	mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV);
	if (mfd < 0)
		return st_error_setx(err, ST_EXIT_MOUNTFAIL, errno, "mount overlay on `%s`",
				     target);
	if (move_mount(mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return st_error_setx(err, ST_EXIT_MOUNTFAIL, errno, "attach overlay on `%s`",
				     target);
	return 0;
}

static int compose_root(const struct cowfs_compose *c, struct st_error **err)
{
	_cleanup_free_ char *upper = NULL, *work = NULL;
	_cleanup_close_ int userns = -EBADF;
	char *paths[MAX_LOWERS] = { 0 };
	int tree[MAX_LOWERS];
	size_t n = 0;
	int r = 0;

	if (!c || !c->lowers || !c->lowers[0] || !c->private_dir || !c->target)
		return st_error_setx(err, ST_EXIT_BADARG, EINVAL,
				     "compose a root: missing argument");
	while (c->lowers[n])
		if (++n > MAX_LOWERS)
			return st_error_setx(err, ST_EXIT_BADARG, E2BIG, "compose `%s`: %d layers",
					     c->target, MAX_LOWERS);
	if (asprintf(&upper, "%s/upper", c->private_dir) < 0 ||
	    asprintf(&work, "%s/work", c->private_dir) < 0)
		return st_error_set(err, ENOMEM, "compose `%s`", c->target);
	if (access(upper, F_OK) < 0 || access(work, F_OK) < 0)
		return st_error_setx(err, ST_EXIT_NOPRIVATE, errno,
				     "compose `%s`: private area `%s`", c->target, c->private_dir);
	if (cowfs_mkdir_p(c->target, 0755, err) < 0)
		return -1;
	if (cowfs_is_mountpoint(c->target) == 1)
		return st_error_setx(err, ST_EXIT_MOUNTED, EBUSY, "compose `%s`: already mounted",
				     c->target);
	for (size_t i = 0; i < n; i++)
		tree[i] = -EBADF;
	if (c->idmap_count > 0) {
		if (chown_upper(c->private_dir, c->idmap_base, err) < 0)
			return -1;
		userns = userns_get(c->idmap_base, c->idmap_count, err);
		if (userns < 0)
			return userns;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP,
					   .userns_fd = (uint64_t)userns };

		if (c->idmap_count == 0) {
			paths[i] = strdup(c->lowers[i]);
			if (!paths[i])
				r = st_error_set(err, ENOMEM, "compose `%s`", c->target);
			continue;
		}
		tree[i] = open_tree(AT_FDCWD, c->lowers[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (tree[i] < 0) {
			r = st_error_setx(err, ST_EXIT_MOUNTFAIL, errno,
					  "clone template layer `%s`", c->lowers[i]);
			break;
		}
		if (mount_setattr(tree[i], "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
			r = st_error_setx(
				err, errno == EINVAL ? ST_EXIT_NOFEATURE : ST_EXIT_MOUNTFAIL, errno,
				"idmap template layer `%s` to %u..%u", c->lowers[i], c->idmap_base,
				c->idmap_base + c->idmap_count - 1);
			break;
		}
		if (asprintf(&paths[i], "/proc/self/fd/%d", tree[i]) < 0)
			r = st_error_set(err, ENOMEM, "compose `%s`", c->target);
	}
	if (r == 0)
		r = overlay_mount(paths, n, upper, work, c->target, err);
	if (r == 0 && c->idmap_count > 0)
		trees_hold(c->target, tree, n);
	for (size_t i = 0; i < n; i++) {
		free(paths[i]);
		closep(&tree[i]);
	}
	if (r < 0)
		return r;
	st_trace("mounted overlay on `%s`: lower=%s%s upper=%s idmap=%u+%u", c->target,
		 c->lowers[0], n > 1 ? ",..." : "", upper, c->idmap_base, c->idmap_count);
	return 0;
}

int cowfs_root_compose(const struct cowfs_compose *c, struct st_error **err)
{
	bool opened;

	if (!c || !c->private_dir)
		return st_error_setx(err, ST_EXIT_BADARG, EINVAL,
				     "compose a root: missing argument");
	/* LAYOUT=image: its file system first */
	opened = cowfs_private_is_image(c->private_dir) && cowfs_is_mountpoint(c->private_dir) != 1;
	if (cowfs_private_open(c->private_dir, err) < 0)
		return -1;
	if (compose_root(c, err) < 0) {
		if (opened)
			cowfs_private_close(c->private_dir, NULL);
		return -1;
	}
	return 0;
}

int cowfs_root_decompose(const char *target, struct st_error **err)
{
	trees_release(target); /* overlayfs holds its own reference */
	if (umount2(target, UMOUNT_NOFOLLOW) < 0) {
		if (errno == EINVAL || errno == ENOENT) {
			if (cowfs_is_mountpoint(target) != 1)
				return st_error_setx(err, ST_EXIT_NOTMOUNTED, EINVAL,
						     "unmount root `%s`: not mounted", target);
		}
		if (errno != EBUSY)
			return st_error_setx(err, ST_EXIT_UMOUNTFAIL, errno, "unmount root `%s`",
					     target);
		st_warn("root `%s` busy; detaching it lazily", target);
		if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
			return st_error_setx(err, ST_EXIT_UMOUNTFAIL, errno, "unmount root `%s`",
					     target);
	}
	if (rmdir(target) < 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EBUSY)
		st_debug("remove `%s`: %m", target);
	st_trace("unmounted root `%s`", target);
	return 0;
}

int cowfs_root_detach(const char *target, int *hold, struct st_error **err)
{
	_cleanup_close_ int fd = -EBADF;

	*hold = -EBADF;
	if (cowfs_is_mountpoint(target) != 1)
		return st_error_setx(err, ST_EXIT_NOTMOUNTED, EINVAL,
				     "unmount root `%s`: not mounted", target);
	trees_release(target); /* overlayfs holds its own reference */
	fd = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return st_error_setx(err, ST_EXIT_UMOUNTFAIL, errno, "open root `%s`", target);
	if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
		return st_error_setx(err, ST_EXIT_UMOUNTFAIL, errno, "unmount root `%s`", target);
	if (rmdir(target) < 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EBUSY)
		st_debug("remove `%s`: %m", target);
	st_trace("detached root `%s`", target);
	*hold = take_fd(fd);
	return 0;
}

bool cowfs_root_is_mounted(const char *target)
{
	return cowfs_is_mountpoint(target) == 1;
}
