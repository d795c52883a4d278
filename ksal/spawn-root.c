/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The container init's root: /proc, /sys, a minimal /dev, /run, the
 * caller's binds, the /proc defaults of a system container and the masked
 * paths, then pivot_root(".", ".").
 *
 * Built one of two ways. Where the kernel has the new mount API and proc's
 * pidns= option, the parent builds it as host root in a small build mount
 * namespace (spawn-ns.c) and the init copies that namespace into one owned
 * by its user namespace: every mount comes out locked. Elsewhere the init
 * builds it itself in its own mount namespace, as container root, and the
 * masks are only as good as the user namespace (container root could
 * unmount them; the kernel still refuses it the host's files).
 *
 * Every target inside the root is opened with openat2(RESOLVE_IN_ROOT), so
 * a symlink in the container's tree cannot send a mount out of the root;
 * the mount then goes on "/proc/self/fd/N" of that O_PATH fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "ksal/syscalls.h"
#include "ksal/cleanup.h"
#include "ksal/mount.h"
#include "ksal/spawn-internal.h"

struct root_ctx {
	const struct ksal_spawn_cfg *cfg;
	const struct ksal_cgroupfs_plan *plan;
	int sync;	       /* the init: errors go to the parent here */
	struct st_error **err; /* the parent: errors go here */
	int rootfd;
	bool parent; /* built by the parent in the build namespace */
	pid_t child;
	int pidfd;
	struct ksal_root_trees *trees;
	int64_t own_uid, own_gid; /* parent with a user namespace: the container
				   * root's host ids, owner of what it creates */
};

static int root_fail(struct root_ctx *c, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int root_fail(struct root_ctx *c, int errnum, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (c->parent)
		return st_error_set(c->err, errnum, "spawn: %s", buf);
	return ksal_child_fail(c->sync, errnum, "%s", buf);
}

/* What the parent creates in the root or mounts as tmpfs belongs to the
 * container's root, as when the init made it. */
static int own(struct root_ctx *c, int dfd, const char *name)
{
	if (!c->parent || c->own_uid < 0)
		return 0;
	if (fchownat(dfd, name, (uid_t)c->own_uid, (gid_t)c->own_gid,
		     AT_SYMLINK_NOFOLLOW | (name[0] ? 0 : AT_EMPTY_PATH)) < 0)
		return -errno;
	return 0;
}

/* Host device nodes bound into the container's /dev. */
static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };

/* Masked in every system container: files get /dev/null, dirs an empty
 * read-only tmpfs. Missing ones are skipped. */
static const char *const default_masked[] = {
	"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
	"/proc/acpi",  "/proc/scsi", "/sys/firmware",
};

struct fdpath {
	char s[40];
};

static const char *fdpath(struct fdpath *b, int fd)
{
	snprintf(b->s, sizeof(b->s), "/proc/self/fd/%d", fd);
	return b->s;
}

static int open_in_root(int rootfd, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(__NR_openat2, rootfd, rel, &how, sizeof(how));

	return fd < 0 ? -errno : fd;
}

/* Open rel (O_PATH) in the root, creating missing directories and, when
 * `file`, the last component as an empty file. */
static int make_in_root(struct root_ctx *c, const char *rel, bool file)
{
	int rootfd = c->rootfd;
	_cleanup_close_ int parent = -EBADF;
	char buf[PATH_MAX];
	size_t len;
	int fd;

	fd = open_in_root(rootfd, rel, O_PATH);
	if (fd != -ENOENT)
		return fd;
	len = strlen(rel);
	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, rel, len + 1);
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';

	parent = open_in_root(rootfd, "/", O_PATH | O_DIRECTORY);
	if (parent < 0)
		return parent;
	for (size_t i = 0; i <= len; i++) {
		char saved = buf[i];
		size_t start;
		bool last = i == len;

		if (saved != '/' && !last)
			continue;
		if (i == 0 || buf[i - 1] == '/')
			continue; /* leading or doubled slash */
		buf[i] = '\0';
		fd = open_in_root(rootfd, buf, O_PATH);
		if (fd == -ENOENT) {
			start = i;
			while (start > 0 && buf[start - 1] != '/')
				start--;
			if (last && file) {
				int f = openat(parent, buf + start,
					       O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
					       0644);
				if (f < 0 && errno != EEXIST)
					return -errno;
				if (f >= 0) {
					close(f);
					if (own(c, parent, buf + start) < 0)
						return -errno;
				}
			} else if (mkdirat(parent, buf + start, 0755) < 0) {
				if (errno != EEXIST)
					return -errno;
			} else if (own(c, parent, buf + start) < 0) {
				return -errno;
			}
			fd = open_in_root(rootfd, buf, O_PATH);
		}
		if (fd < 0)
			return fd;
		buf[i] = saved;
		if (last)
			return fd;
		closep(&parent);
		parent = fd;
	}
	return -EINVAL;
}

static int fail_at(struct root_ctx *c, int r, const char *what, const char *rel)
{
	return root_fail(c, -r, "%s on `%s%s%s`", what, c->cfg->rootfs, rel[0] == '/' ? "" : "/",
			 rel);
}

static int mount_fs_at(struct root_ctx *c, const char *fstype, const char *rel,
		       unsigned long msflags, const char *data)
{
	_cleanup_close_ int fd = make_in_root(c, rel, false);
	struct fdpath p;
	char what[64];
	int r;

	snprintf(what, sizeof(what), "mount %s", fstype);
	if (fd < 0)
		return fail_at(c, fd, what, rel);
	r = ksal_mount_fs(fstype, fdpath(&p, fd), msflags, data);
	if (r < 0)
		return fail_at(c, r, what, rel);
	if (strcmp(fstype, "tmpfs") == 0 && c->parent && c->own_uid >= 0) {
		closep(&fd);
		fd = open_in_root(c->rootfd, rel, O_PATH); /* the new mount's root */
		if (fd < 0 || own(c, fd, "") < 0)
			return fail_at(c, fd < 0 ? fd : -errno, "chown the root of tmpfs", rel);
	}
	return 0;
}

/* Bind a host path on rel inside the root: *tree when it holds a detached
 * tree of it (consumed), else by path. */
static int bind_host(struct root_ctx *c, const char *source, int *tree, const char *rel, bool file,
		     unsigned int flags)
{
	_cleanup_close_ int fd = make_in_root(c, rel, file);
	struct fdpath p;
	char what[PATH_MAX + 16];
	int r;

	snprintf(what, sizeof(what), "bind `%s`", source);
	if (fd < 0)
		return fail_at(c, fd, what, rel);
	if (tree && *tree >= 0)
		r = ksal_mount_attach_tree(take_fd(*tree), fdpath(&p, fd), flags);
	else
		r = ksal_mount_bind(source, fdpath(&p, fd), flags);
	if (r < 0)
		return fail_at(c, r, what, rel);
	return 0;
}

/* Bind rel on itself and set or clear read-only. Missing: skipped. */
static int rebind(struct root_ctx *c, const char *rel, bool ro)
{
	_cleanup_close_ int fd = open_in_root(c->rootfd, rel, O_PATH);
	struct fdpath p;
	int r;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fail_at(c, fd, "open", rel);
	r = ksal_mount_bind(fdpath(&p, fd), fdpath(&p, fd), KSAL_MNT_REC);
	if (r < 0)
		return fail_at(c, r, "bind on itself", rel);
	closep(&fd);
	fd = open_in_root(c->rootfd, rel, O_PATH); /* the new mount, not the one below */
	if (fd < 0)
		return fail_at(c, fd, "open", rel);
	r = ro ? ksal_mount_setattr(fdpath(&p, fd), KSAL_MNT_RDONLY, 0)
	       : ksal_mount_setattr(fdpath(&p, fd), 0, KSAL_MNT_RDONLY);
	if (r < 0)
		return fail_at(c, r, ro ? "make read-only" : "make writable", rel);
	return 0;
}

/*
 * The empty read-only tmpfs over masked directories. Built by the parent,
 * every mask is a clone of one tmpfs made once per process: a tmpfs and
 * its mount weigh ~4.8 kB of slab and percpu memory here (super_block,
 * root inode, percpu counters, a shrinker), a clone ~0.4 kB, and each
 * shrinker adds to every memory cgroup's shrinker map (bench/kmem.sh), so
 * masks of their own would cost two superblocks per container and more
 * with every container running. The superblock is read-only and owned by the
 * host's user namespace (container root cannot remount it), its mounts
 * locked read-only in the container: no container can write to what the
 * others see. The init's own masks (the mount(2) path) stay its own.
 */
static int shared_mask_fd = -1;

static int shared_mask_tree(void)
{
	_cleanup_close_ int fs = -EBADF;
	int m, none = -1;

	if (__atomic_load_n(&shared_mask_fd, __ATOMIC_ACQUIRE) < 0) {
		fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
		if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "mode", "555", 0) < 0 ||
		    fsconfig(fs, FSCONFIG_SET_STRING, "size", "4k", 0) < 0 ||
		    fsconfig(fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0 ||
		    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
			return -errno;
		m = fsmount(fs, FSMOUNT_CLOEXEC,
			    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
				    MOUNT_ATTR_NOEXEC);
		if (m < 0)
			return -errno;
		/* two threads spawning at once: the first one's is kept */
		if (!__atomic_compare_exchange_n(&shared_mask_fd, &none, m, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			close(m);
	}
	m = open_tree(shared_mask_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	return m < 0 ? -errno : m;
}

static int mask_dir(struct root_ctx *c, const char *target)
{
	int tree;

	if (c->parent) {
		tree = shared_mask_tree();
		if (tree >= 0)
			return ksal_mount_attach_tree(tree, target,
						      KSAL_MNT_RDONLY | KSAL_MNT_NOSUID |
							      KSAL_MNT_NODEV | KSAL_MNT_NOEXEC);
		/* a kernel that clones no detached mount: one of its own */
	}
	return ksal_mount_fs("tmpfs", target, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			     "mode=555,size=4k");
}

static int mask(struct root_ctx *c, const char *rel)
{
	_cleanup_close_ int fd = open_in_root(c->rootfd, rel, O_PATH);
	struct fdpath p;
	struct stat st;
	int r;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fail_at(c, fd, "open to mask", rel);
	if (fstat(fd, &st) < 0)
		return fail_at(c, -errno, "stat to mask", rel);
	if (S_ISDIR(st.st_mode))
		r = mask_dir(c, fdpath(&p, fd));
	else
		r = ksal_mount_bind("/dev/null", fdpath(&p, fd), KSAL_MNT_RDONLY);
	if (r < 0)
		return fail_at(c, r, "mask", rel);
	return 0;
}

static bool gid_mapped(const struct ksal_spawn_cfg *cfg, uint32_t gid)
{
	if (!cfg->userns)
		return true;
	return ksal_idmap_to_host(cfg->gid_map, cfg->n_gid_map, gid) >= 0;
}

/*
 * /dev/shm: a directory of /dev's tmpfs bound on itself, not a tmpfs of its
 * own. A mount point still (a guest's init leaves it alone), nosuid, nodev
 * and exec allowed as before, mode 1777; one superblock fewer per
 * container (see mask_dir for what a superblock costs). What changes: its
 * space is /dev's (no size of its own, as before: the memory cgroup is the
 * limit).
 */
static int setup_shm(struct root_ctx *c)
{
	_cleanup_close_ int fd = make_in_root(c, "/dev/shm", false);
	struct fdpath p;
	int r;

	if (fd < 0)
		return fail_at(c, fd, "create", "/dev/shm");
	if (chmod(fdpath(&p, fd), 01777) < 0)
		return fail_at(c, -errno, "chmod 1777", "/dev/shm");
	r = ksal_mount_bind(fdpath(&p, fd), fdpath(&p, fd), KSAL_MNT_NOSUID | KSAL_MNT_NODEV);
	if (r < 0)
		return fail_at(c, r, "bind on itself", "/dev/shm");
	closep(&fd);
	fd = open_in_root(c->rootfd, "/dev/shm", O_PATH); /* the new mount */
	if (fd < 0)
		return fail_at(c, fd, "open", "/dev/shm");
	r = ksal_mount_setattr(fdpath(&p, fd), KSAL_MNT_NOSUID | KSAL_MNT_NODEV, KSAL_MNT_NOEXEC);
	if (r < 0)
		return fail_at(c, r, "set nosuid,nodev,exec", "/dev/shm");
	return 0;
}

static int setup_dev(struct root_ctx *c)
{
	static const struct {
		const char *target, *name;
	} links[] = {
		{ "pts/ptmx", "ptmx" },		 { "/proc/self/fd", "fd" },
		{ "/proc/self/fd/0", "stdin" },	 { "/proc/self/fd/1", "stdout" },
		{ "/proc/self/fd/2", "stderr" },
	};
	_cleanup_close_ int devfd = -EBADF;
	char src[32], rel[32];

	/* no size of its own: /dev/shm is on it (setup_shm) */
	if (mount_fs_at(c, "tmpfs", "/dev", MS_NOSUID | MS_NOEXEC | MS_STRICTATIME, "mode=755") < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
		snprintf(src, sizeof(src), "/dev/%s", dev_nodes[i]);
		if (bind_host(c, src, NULL, src, true, KSAL_MNT_NOSUID | KSAL_MNT_NOEXEC) < 0)
			return -1;
	}
	if (mount_fs_at(c, "devpts", "/dev/pts", MS_NOSUID | MS_NOEXEC,
			gid_mapped(c->cfg, 5) ? "newinstance,ptmxmode=0666,mode=0620,gid=5"
					      : "newinstance,ptmxmode=0666,mode=0620") < 0)
		return -1;
	if (setup_shm(c) < 0)
		return -1;

	devfd = open_in_root(c->rootfd, "/dev", O_PATH | O_DIRECTORY);
	if (devfd < 0)
		return fail_at(c, devfd, "open", "/dev");
	for (size_t i = 0; i < ARRAY_SIZE(links); i++)
		if (symlinkat(links[i].target, devfd, links[i].name) < 0) {
			snprintf(rel, sizeof(rel), "/dev/%s", links[i].name);
			return fail_at(c, -errno, "symlink", rel);
		}
	if (c->cfg->console_fd >= 0) {
		_cleanup_close_ int fd = make_in_root(c, "/dev/console", true);
		struct fdpath p;
		int r;

		if (fd < 0)
			return fail_at(c, fd, "create", "/dev/console");
		/* The pty's mount belongs to the parent's mount ns, so neither
		 * open_tree nor a bind of /proc/self/fd/N takes it: bind its
		 * path, resolved in our copy of the host's tree, after making
		 * sure it is the same inode. */
		char pty[PATH_MAX];
		struct stat a, b;
		ssize_t n;

		n = readlink(fdpath(&p, c->cfg->console_fd), pty, sizeof(pty) - 1);
		if (n < 0)
			return root_fail(c, errno, "find the path of the console pty");
		pty[n] = '\0';
		if (fstat(c->cfg->console_fd, &a) < 0 || stat(pty, &b) < 0 ||
		    a.st_ino != b.st_ino || a.st_dev != b.st_dev || a.st_rdev != b.st_rdev)
			return root_fail(c, ENXIO, "console pty `%s` is not reachable by its path",
					 pty);
		r = ksal_mount_bind(pty, fdpath(&p, fd), KSAL_MNT_NOSUID | KSAL_MNT_NOEXEC);
		if (r < 0)
			return fail_at(c, r, "bind the console pty", "/dev/console");
	}
	return 0;
}

/* ---- /sys/fs/cgroup ---- */

/* Keep the options that select a v1 hierarchy; drop what a user namespace
 * may not set (release_agent) or what is the host's business. */
static bool keep_cgroup_option(const char *o, size_t len)
{
	static const char *const drop[] = { "rw", "ro", "clone_children", "nsdelegate" };

	if (len == 0 || (len > 14 && !strncmp(o, "release_agent=", 14)))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(drop); i++)
		if (strlen(drop[i]) == len && !strncmp(o, drop[i], len))
			return false;
	return true;
}

static int plan_add(struct ksal_cgroupfs_plan *plan, const char *mnt, const char *fstype,
		    const char *super, struct st_error **err)
{
	const char *base = "/sys/fs/cgroup";
	size_t blen = strlen(base), dlen = 0;
	bool v2 = !strcmp(fstype, "cgroup2");
	bool named = false;
	char *data;

	if (strncmp(mnt, base, blen) != 0 || (mnt[blen] != '\0' && mnt[blen] != '/') ||
	    strchr(mnt + blen + (mnt[blen] == '/'), '/'))
		return 0; /* not a hierarchy of the usual layout */
	if (plan->n == KSAL_CGROUPFS_MAX)
		return st_error_set(err, E2BIG, "more than %d cgroup hierarchies",
				    KSAL_CGROUPFS_MAX);
	if (mnt[blen] == '\0') {
		if (!v2)
			return 0;
		plan->v2_only = true;
	}
	const char *dir = mnt[blen] ? mnt + blen + 1 : "";
	size_t dirlen = strlen(dir);

	if (dirlen >= sizeof(plan->h[0].dir))
		return 0;
	for (size_t i = 0; i < plan->n; i++)
		if (!strcmp(plan->h[i].dir, dir))
			return 0; /* mounted over: the first one will do */
	memcpy(plan->h[plan->n].dir, dir, dirlen + 1);
	data = plan->h[plan->n].data;
	data[0] = '\0';
	for (const char *o = super; !v2 && *o;) {
		size_t len = strcspn(o, ",");

		if (keep_cgroup_option(o, len)) {
			if (!strncmp(o, "name=", 5))
				named = true;
			if (dlen + len + 2 >= sizeof(plan->h[0].data))
				return st_error_set(err, E2BIG, "cgroup options of `%s`", mnt);
			dlen += (size_t)snprintf(data + dlen, sizeof(plan->h[0].data) - dlen,
						 "%s%.*s", dlen ? "," : "", (int)len, o);
		}
		o += len + (o[len] == ',');
	}
	plan->h[plan->n].v2 = v2;
	plan->h[plan->n].ro = !v2 && !named; /* controllers: the host's to set */
	plan->n++;
	return 0;
}

int ksal_cgroupfs_plan(struct ksal_cgroupfs_plan *plan, struct st_error **err)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");

	memset(plan, 0, sizeof(*plan));
	if (!f)
		return st_error_set(err, errno, "open `/proc/self/mountinfo`");
	return ksal_cgroupfs_plan_parse(f, plan, err);
}

int ksal_cgroupfs_plan_parse(FILE *f, struct ksal_cgroupfs_plan *plan, struct st_error **err)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;

	memset(plan, 0, sizeof(*plan));
	while (getline(&line, &cap, f) > 0) {
		char mnt[256], fstype[32], src[256], super[512];
		const char *sep = strstr(line, " - ");
		int r;

		if (!sep || sscanf(line, "%*s %*s %*s %*s %255s", mnt) != 1 ||
		    sscanf(sep + 3, "%31s %255s %511s", fstype, src, super) != 3)
			continue;
		if (strcmp(fstype, "cgroup") != 0 && strcmp(fstype, "cgroup2") != 0)
			continue;
		r = plan_add(plan, mnt, fstype, super, err);
		if (r < 0)
			return r;
	}
	if (plan->v2_only) { /* only the one on /sys/fs/cgroup itself */
		for (size_t i = 0; i < plan->n; i++)
			if (plan->h[i].dir[0] == '\0') {
				plan->h[0] = plan->h[i];
				break;
			}
		plan->n = 1;
	}
	return 0;
}

static int setup_cgroupfs(struct root_ctx *c)
{
	const struct ksal_cgroupfs_plan *plan = c->plan;
	unsigned long common = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	char rel[128];

	if (plan->n == 0)
		return 0;
	if (plan->v2_only)
		return mount_fs_at(c, "cgroup2", "/sys/fs/cgroup", common, NULL);
	if (mount_fs_at(c, "tmpfs", "/sys/fs/cgroup", common, "mode=755") < 0)
		return -1;
	for (size_t i = 0; i < plan->n; i++) {
		snprintf(rel, sizeof(rel), "/sys/fs/cgroup/%s", plan->h[i].dir);
		if (mount_fs_at(c, plan->h[i].v2 ? "cgroup2" : "cgroup", rel,
				common | (plan->h[i].ro ? MS_RDONLY : 0),
				plan->h[i].v2 ? NULL : plan->h[i].data) < 0)
			return -1;
	}
	_cleanup_close_ int fd = open_in_root(c->rootfd, "/sys/fs/cgroup", O_PATH);
	struct fdpath p;
	int r;

	if (fd < 0)
		return fail_at(c, fd, "open", "/sys/fs/cgroup");
	r = ksal_mount_setattr(fdpath(&p, fd), KSAL_MNT_RDONLY, 0);
	if (r < 0)
		return fail_at(c, r, "make read-only", "/sys/fs/cgroup");
	return 0;
}

static int setup_proc_defaults(struct root_ctx *c)
{
	/* /proc/sys read-only but for the container's own network sysctls */
	/* (the host's, with the host's network: stays read-only) */
	if (rebind(c, "/proc/sys", true) < 0 ||
	    (c->cfg->new_net && rebind(c, "/proc/sys/net", false) < 0) ||
	    rebind(c, "/proc/sysrq-trigger", true) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(default_masked); i++)
		if (mask(c, default_masked[i]) < 0)
			return -1;
	for (const char *const *m = c->cfg->masked_paths; m && *m; m++)
		if (mask(c, *m) < 0)
			return -1;
	for (const char *const *m = c->cfg->readonly_paths; m && *m; m++)
		if (rebind(c, *m, true) < 0)
			return -1;
	return 0;
}

/* Everything mounted in the root, by the init or by the parent. */
static int build_root(struct root_ctx *c)
{
	const struct ksal_spawn_cfg *cfg = c->cfg;
	char pidns[64];

	/* the parent is not in the init's pid namespace: it names it */
	snprintf(pidns, sizeof(pidns), "pidns=/proc/%d/ns/pid", (int)c->child);
	if (mount_fs_at(c, "proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			c->parent ? pidns : NULL) < 0)
		return -1;
	/* A fresh sysfs shows the net devices of the mounter's net ns and
	 * needs a user namespace that owns it; else the host's, read-only. */
	if (cfg->new_net || !cfg->userns) {
		int saved = -EBADF, r;

		if (c->parent && cfg->new_net &&
		    ksal_ns_join(c->pidfd, CLONE_NEWNET, &saved, c->err) < 0)
			return st_error_prefix(c->err, "spawn: mount sysfs: ");
		r = mount_fs_at(c, "sysfs", "/sys", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
				NULL);
		ksal_ns_return(&saved, CLONE_NEWNET);
		if (r < 0)
			return -1;
	} else if (bind_host(c, "/sys", c->trees ? &c->trees->sys : NULL, "/sys", false,
			     KSAL_MNT_REC | KSAL_MNT_RDONLY | KSAL_MNT_NOSUID | KSAL_MNT_NODEV |
				     KSAL_MNT_NOEXEC) < 0) {
		return -1;
	}
	if (cfg->cgroupfs) {
		/* a cgroup mount's root is the mounter's cgroup ns root */
		int saved = -EBADF, r;

		if (c->parent && ksal_ns_join(c->pidfd, CLONE_NEWCGROUP, &saved, c->err) < 0)
			return st_error_prefix(c->err, "spawn: mount the cgroup hierarchies: ");
		r = setup_cgroupfs(c);
		ksal_ns_return(&saved, CLONE_NEWCGROUP);
		if (r < 0)
			return -1;
	}
	/* /dev is the init's own: CRIU dumps a tmpfs through a clean
	 * (childless) clone of it, which the kernel refuses for a mount with
	 * locked children; the device nodes bound on its files would then be
	 * archived and could not be restored in a user namespace. */
	if (!c->parent && setup_dev(c) < 0)
		return -1;
	if (mount_fs_at(c, "tmpfs", "/run", MS_NOSUID | MS_NODEV, "mode=755") < 0)
		return -1;
	for (size_t i = 0; i < cfg->n_binds; i++) {
		const struct ksal_bind *b = &cfg->binds[i];

		if (bind_host(c, b->source, c->trees ? &c->trees->binds[i] : NULL, b->target,
			      b->create_file,
			      KSAL_MNT_REC | (b->readonly ? KSAL_MNT_RDONLY : 0)) < 0)
			return -1;
	}
	return setup_proc_defaults(c);
}

/* crun's trick: no put_old directory needed */
static int pivot_into(int sync, int rootfd, const char *name)
{
	if (fchdir(rootfd) < 0)
		return ksal_child_fail(sync, errno, "chdir into the root `%s`", name);
	if (pivot_root(".", ".") < 0)
		return ksal_child_fail(sync, errno, "pivot_root into `%s`", name);
	if (umount2(".", MNT_DETACH) < 0)
		return ksal_child_fail(sync, errno, "detach the old root of `%s`", name);
	if (chdir("/") < 0)
		return ksal_child_fail(sync, errno, "chdir `/` in `%s`", name);
	return 0;
}

int ksal_child_setup_root(const struct ksal_spawn_cfg *cfg, const struct ksal_cgroupfs_plan *plan,
			  int sync)
{
	struct root_ctx c = { .cfg = cfg, .plan = plan, .sync = sync, .rootfd = -EBADF };
	_cleanup_close_ int rootfd = -EBADF;
	int r;

	r = ksal_mount_propagation("/", MS_PRIVATE);
	if (r < 0)
		return ksal_child_fail(sync, -r, "make `/` private (recursive)");
	r = ksal_mount_bind(cfg->rootfs, cfg->rootfs, KSAL_MNT_REC);
	if (r < 0)
		return ksal_child_fail(sync, -r, "bind the root `%s` on itself", cfg->rootfs);
	rootfd = open(cfg->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return ksal_child_fail(sync, errno, "open the root `%s`", cfg->rootfs);
	c.rootfd = rootfd;
	if (build_root(&c) < 0)
		return -1;
	return pivot_into(sync, rootfd, cfg->rootfs);
}

int ksal_parent_build_root(const struct ksal_spawn_cfg *cfg, const struct ksal_cgroupfs_plan *plan,
			   int rootfd, pid_t child, int pidfd, struct ksal_root_trees *trees,
			   struct st_error **err)
{
	struct root_ctx c = {
		.cfg = cfg,
		.plan = plan,
		.sync = -EBADF,
		.err = err,
		.rootfd = rootfd,
		.parent = true,
		.child = child,
		.pidfd = pidfd,
		.trees = trees,
		.own_uid = -1,
		.own_gid = -1,
	};

	if (cfg->userns) {
		c.own_uid = ksal_idmap_to_host(cfg->uid_map, cfg->n_uid_map, 0);
		c.own_gid = ksal_idmap_to_host(cfg->gid_map, cfg->n_gid_map, 0);
		if (c.own_uid < 0 || c.own_gid < 0)
			return st_error_set(err, EINVAL,
					    "spawn: the id maps give the container no root");
	}
	return build_root(&c);
}

int ksal_child_enter_root(const struct ksal_spawn_cfg *cfg, int sync)
{
	struct root_ctx c = { .cfg = cfg, .sync = sync, .rootfd = -EBADF };
	_cleanup_close_ int rootfd = -EBADF;
	const char *name = cfg->rootfs;
	int r;

	/* a copy owned by our user namespace: the mounts the parent made are
	 * locked to each other, their flags locked too */
	if (unshare(CLONE_NEWNS) < 0)
		return ksal_child_fail(sync, errno, "unshare the mount namespace");
	r = ksal_mount_propagation("/", MS_PRIVATE);
	if (r < 0)
		return ksal_child_fail(sync, -r, "make `/` private (recursive)");
	/* pivot_root refuses a locked new root: a recursive bind of it is a
	 * mount of our own, its submounts still locked to it */
	r = ksal_mount_bind(KSAL_BUILD_DIR, KSAL_BUILD_DIR, KSAL_MNT_REC);
	if (r < 0)
		return ksal_child_fail(sync, -r, "bind the root `%s` on itself", name);
	rootfd = open(KSAL_BUILD_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return ksal_child_fail(sync, errno, "open the root `%s`", name);
	c.rootfd = rootfd;
	if (setup_dev(&c) < 0)
		return -1;
	return pivot_into(sync, rootfd, name);
}
