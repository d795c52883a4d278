/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The small mount namespaces a container's root is built in.
 *
 * A new init used to get a copy of the daemon's mount namespace, which
 * holds the root of every running container: with 500 running, each start
 * copied 500 mounts and detached them again after pivot_root (1.5-3 ms).
 * Instead, once per process, a *base* namespace is made: a private copy of
 * the caller's with everything but /, /proc, /dev and /sys detached. Each
 * start copies the base (a handful of mounts) into a namespace of its own,
 * attaches the container's root there as a detached tree, and builds the
 * container's mounts in it as host root; the init then copies that
 * namespace into one owned by its user namespace, so every mount of the
 * container comes out locked (MNT_LOCKED and the locked read-only flags):
 * container root can neither unmount a mask nor make /proc/sys writable.
 *
 * The caller switches namespaces with setns(2) and back; its working
 * directory is kept. A thread that shares its fs_struct cannot setns into a
 * mount namespace, so each thread's first use unshares CLONE_FS for that
 * thread; the base is made once per process, by the first thread, under a
 * lock (the daemon spawns from several threads: START_WORKERS).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "ksal/syscalls.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/mount.h"
#include "ksal/mountinfo.h"
#include "ksal/spawn-internal.h"

#ifndef FSCONFIG_SET_STRING
#define FSCONFIG_SET_STRING 1
#endif

static int base_fd = -1; /* under base_lock */
static pthread_mutex_t base_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread bool fs_unshared; /* this thread has its own fs_struct */
static int supported = -1;	  /* proc's pidns= option; -1 unknown (atomic) */
static bool force_legacy;

void ksal_spawn_force_legacy(bool legacy)
{
	force_legacy = legacy;
}

bool ksal_spawn_locked_supported(void)
{
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (force_legacy || !ksal_mount_new_api())
		return false;
	r = __atomic_load_n(&supported, __ATOMIC_RELAXED);
	if (r >= 0)
		return r;
	/* proc's pidns= option (2025): the parent mounts the proc of
	 * a pid namespace it is not in */
	fd = fsopen("proc", FSOPEN_CLOEXEC);
	r = fd >= 0 && fsconfig(fd, FSCONFIG_SET_STRING, "pidns", "/proc/self/ns/pid", 0) == 0;
	__atomic_store_n(&supported, r, __ATOMIC_RELAXED);
	return r;
}

static bool keep(const char *mp)
{
	return !strcmp(mp, "/") || !strcmp(mp, "/proc") || !strcmp(mp, "/sys") ||
	       !strcmp(mp, "/dev") || !strncmp(mp, "/dev/", 5);
}

/* In the base's copy: detach every mount the build does not need. */
static int detach_unneeded(struct st_error **err)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/thread-self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;

	if (!f)
		return st_error_set(err, errno, "open `/proc/thread-self/mountinfo`");
	while (getline(&line, &cap, f) > 0) {
		struct ksal_mountinfo m = { 0 };
		int r = ksal_mountinfo_parse(line, &m);

		if (r == -ENOMEM)
			return st_error_set(err, ENOMEM, "read `/proc/thread-self/mountinfo`");
		if (r < 0)
			continue;
		/* under an already detached one: gone with it */
		if (!keep(m.mountpoint) && umount2(m.mountpoint, MNT_DETACH) < 0 &&
		    errno != EINVAL && errno != ENOENT) {
			r = errno;
			st_error_set(err, r, "detach `%s` in the build namespace", m.mountpoint);
			ksal_mountinfo_clear(&m);
			return -1;
		}
		ksal_mountinfo_clear(&m);
	}
	return 0;
}

static int open_ns(const char *what, struct st_error **err)
{
	int fd = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return st_error_set(err, errno, "open the %s mount namespace", what);
	return fd;
}

static void go_home(int home, int cwd)
{
	/* A process left in the wrong mount namespace would go on quietly
	 * with the wrong view of everything: never return from that. */
	if (setns(home, CLONE_NEWNS) < 0) {
		st_error_log("spawn: return to the caller's mount namespace: %s", strerror(errno));
		abort();
	}
	if (cwd >= 0 && fchdir(cwd) < 0)
		st_warn("spawn: return to the working directory: %s", strerror(errno));
}

static int base_make(struct st_error **err)
{
	_cleanup_close_ int home = -EBADF, cwd = -EBADF, base = -EBADF;
	struct stat st;
	int r;

	home = open_ns("caller's", err);
	if (home < 0)
		return -1;
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (unshare(CLONE_NEWNS) < 0)
		return st_error_set(err, errno, "spawn: unshare a build mount namespace");
	r = ksal_mount_propagation("/", MS_PRIVATE);
	if (r < 0) {
		st_error_set(err, -r, "spawn: make the build namespace private");
	} else if (detach_unneeded(err) == 0) {
		if (stat(KSAL_BUILD_DIR, &st) < 0 || !S_ISDIR(st.st_mode))
			st_error_set(err, errno ? errno : ENOTDIR,
				     "spawn: no directory `%s` to build containers on",
				     KSAL_BUILD_DIR);
		else
			base = open_ns("base build", err);
	}
	go_home(home, cwd);
	if (base < 0)
		return -1;
	st_debug("spawn: base build mount namespace ready");
	return take_fd(base);
}

int ksal_spawn_thread_init(struct st_error **err)
{
	if (fs_unshared)
		return 0;
	if (unshare(CLONE_FS) < 0)
		return st_error_set(err, errno, "spawn: unshare the fs context (CLONE_FS)");
	fs_unshared = true;
	return 0;
}

static int base_get(struct st_error **err)
{
	int fd;

	if (ksal_spawn_thread_init(err) < 0)
		return -1;
	pthread_mutex_lock(&base_lock);
	if (base_fd < 0)
		base_fd = base_make(err);
	fd = base_fd;
	pthread_mutex_unlock(&base_lock);
	return fd;
}

int ksal_build_ns_create(struct ksal_build_ns *b, struct st_error **err)
{
	int base = base_get(err);

	if (base < 0)
		return -1;
	b->home = open_ns("caller's", err);
	if (b->home < 0)
		return -1;
	b->cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (setns(base, CLONE_NEWNS) < 0)
		return st_error_set(err, errno, "spawn: enter the base build mount namespace");
	b->inside = true;
	if (unshare(CLONE_NEWNS) < 0)
		return st_error_set(err, errno, "spawn: unshare a build mount namespace");
	b->ns = open_ns("build", err);
	return b->ns < 0 ? -1 : 0;
}

int ksal_build_ns_enter(struct ksal_build_ns *b, struct st_error **err)
{
	if (b->inside)
		return 0;
	if (setns(b->ns, CLONE_NEWNS) < 0)
		return st_error_set(err, errno, "spawn: enter the build mount namespace");
	b->inside = true;
	return 0;
}

void ksal_build_ns_leave(struct ksal_build_ns *b)
{
	if (!b->inside)
		return;
	go_home(b->home, b->cwd);
	b->inside = false;
}

void ksal_build_ns_clear(struct ksal_build_ns *b)
{
	ksal_build_ns_leave(b);
	closep(&b->ns);
	closep(&b->home);
	closep(&b->cwd);
}

int ksal_ns_join(int pidfd, int type, int *saved, struct st_error **err)
{
	const char *name = type == CLONE_NEWNET ? "net" : "cgroup";
	char path[64];

	snprintf(path, sizeof(path), "/proc/thread-self/ns/%s", name);
	*saved = open(path, O_RDONLY | O_CLOEXEC);
	if (*saved < 0)
		return st_error_set(err, errno, "open `%s`", path);
	if (setns(pidfd, type) < 0) {
		int e = errno;

		closep(saved);
		return st_error_set(err, e, "enter the init's %s namespace", name);
	}
	return 0;
}

void ksal_ns_return(int *saved, int type)
{
	if (*saved < 0)
		return;
	if (setns(*saved, type) < 0) {
		st_error_log("spawn: return to the caller's %s namespace: %s",
			     type == CLONE_NEWNET ? "net" : "cgroup", strerror(errno));
		abort();
	}
	closep(saved);
}
