/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Filesystem and mount probes: the new mount API, overlayfs, squashfs and
 * squashfuse, idmapped mounts on a squashfs image and on the state
 * directory's filesystem. Mounts are detached (never attached anywhere), the
 * loop device is autoclear, and the caller removes the scratch directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/criu.h"
#include "ksal/mount.h"
#include "ksal/probe.h"
#include "ksal/probe_internal.h"
#include "ksal/spawn.h"
#include "ksal/syscalls.h"

static const char *fs_type_name(long type)
{
	switch ((unsigned long)type) {
	case EXT4_SUPER_MAGIC:
		return "ext4";
	case 0x58465342:
		return "xfs";
	case BTRFS_SUPER_MAGIC:
		return "btrfs";
	case TMPFS_MAGIC:
		return "tmpfs";
	case OVERLAYFS_SUPER_MAGIC:
		return "overlayfs";
	case SQUASHFS_MAGIC:
		return "squashfs";
	case 0x2011BAB0:
		return "exfat";
	case 0x65735546:
		return "fuse";
	case 0x6969:
		return "nfs";
	case 0xF2F52010:
		return "f2fs";
	case 0x2FC12FC1:
		return "zfs";
	default:
		return "unknown";
	}
}

/* ---- mounts ---- */

static bool in_proc_filesystems(const char *fs)
{
	_cleanup_free_ char *text = probe_read_text("/proc/filesystems");

	for (const char *line = text; line && *line;) {
		const char *tab = strchr(line, '\t');
		const char *end = strchr(line, '\n');
		size_t len;

		if (!tab || (end && tab > end))
			break;
		tab++;
		len = end ? (size_t)(end - tab) : strlen(tab);
		if (len == strlen(fs) && strncmp(tab, fs, len) == 0)
			return true;
		line = end ? end + 1 : NULL;
	}
	return false;
}

/* fsopen(fs) and, with the given options (key, value pairs; a NULL value is
 * a flag; ends with a NULL key), create a detached mount.
 * Returns the mount fd, or -errno (ENOSYS: no fsopen; ENODEV: no such fs). */
static int detached_mount(const char *fs, const char *const *kv, unsigned int attr,
			  const char **failed_step)
{
	_cleanup_close_ int fsfd = fsopen(fs, FSOPEN_CLOEXEC);
	int m;

	*failed_step = "fsopen";
	if (fsfd < 0)
		return -errno;
	for (; kv && kv[0]; kv += 2) {
		*failed_step = kv[0];
		if (fsconfig(fsfd, kv[1] ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, kv[0], kv[1],
			     0) < 0)
			return -errno;
	}
	*failed_step = "create";
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	*failed_step = "fsmount";
	m = fsmount(fsfd, FSMOUNT_CLOEXEC, attr);
	if (m < 0)
		return -errno;
	return m;
}

void probe_mount_api(struct ksal_features *f)
{
	const char *step;
	int m = detached_mount("tmpfs", NULL, 0, &step);

	if (m >= 0) {
		close(m);
		probe_set(f, KSAL_FEAT_MOUNT_API, true, "fsopen/fsconfig/fsmount of a tmpfs");
	} else if (m == -ENOSYS) {
		probe_set(f, KSAL_FEAT_MOUNT_API, false, "fsopen: %s", strerror(-m));
	} else if (m == -EPERM && geteuid() != 0) {
		probe_set(f, KSAL_FEAT_MOUNT_API, true,
			  "fsopen exists (mount not tried: not root)");
	} else {
		probe_set(f, KSAL_FEAT_MOUNT_API, false, "%s tmpfs: %s", step, strerror(-m));
	}
}

/* ksal_spawn builds a container's mounts as host root and hands the init
 * a copy, locked, where proc takes pidns= (added in 2025) */
void probe_locked_mounts(struct ksal_features *f)
{
	_cleanup_close_ int fd = -EBADF;

	if (!ksal_mount_new_api()) {
		probe_set(f, KSAL_FEAT_LOCKED_MOUNTS, false, "no open_tree/move_mount");
		return;
	}
	fd = fsopen("proc", FSOPEN_CLOEXEC);
	if (fd < 0) {
		probe_set(f, KSAL_FEAT_LOCKED_MOUNTS, false, "fsopen proc: %s", strerror(errno));
		return;
	}
	if (fsconfig(fd, FSCONFIG_SET_STRING, "pidns", "/proc/self/ns/pid", 0) < 0) {
		probe_set(f, KSAL_FEAT_LOCKED_MOUNTS, false, "proc has no pidns= option: %s",
			  strerror(errno));
		return;
	}
	probe_set(f, KSAL_FEAT_LOCKED_MOUNTS, ksal_spawn_locked_supported(),
		  "proc takes pidns=: the parent builds the mounts, the init gets them locked");
}

void probe_overlay(struct ksal_features *f, const char *scratch)
{
	_cleanup_free_ char *lower = NULL, *upper = NULL, *work = NULL;
	const char *step;
	int m;

	if (geteuid() != 0 || !scratch) {
		bool listed = in_proc_filesystems("overlay");

		probe_set(f, KSAL_FEAT_OVERLAYFS, listed,
			  "%s /proc/filesystems (mount not tried: %s)", listed ? "in" : "not in",
			  geteuid() != 0 ? "not root" : "no scratch directory");
		return;
	}
	if (asprintf(&lower, "%s/lower", scratch) < 0 ||
	    asprintf(&upper, "%s/upper", scratch) < 0 || asprintf(&work, "%s/work", scratch) < 0)
		probe_oom(NULL);
	mkdir(lower, 0755);
	mkdir(upper, 0755);
	mkdir(work, 0755);
	const char *kv[] = { "lowerdir", lower, "upperdir", upper, "workdir", work, NULL };
	m = detached_mount("overlay", kv, 0, &step);
	if (m == -ENOSYS) {
		bool listed = in_proc_filesystems("overlay");

		probe_set(f, KSAL_FEAT_OVERLAYFS, listed, "%s /proc/filesystems (no fsopen)",
			  listed ? "in" : "not in");
		return;
	}
	if (m < 0) {
		probe_set(f, KSAL_FEAT_OVERLAYFS, false, "mount overlay (%s) in `%s`: %s", step,
			  scratch, strerror(-m));
		return;
	}
	close(m);
	probe_set(f, KSAL_FEAT_OVERLAYFS, true, "mounted lower+upper+work in %s", scratch);
}

void probe_squashfs_kernel(struct ksal_features *f)
{
	_cleanup_close_ int fd = fsopen("squashfs", FSOPEN_CLOEXEC);

	if (fd >= 0)
		probe_set(f, KSAL_FEAT_SQUASHFS, true, "fsopen(\"squashfs\")");
	else if (errno == ENODEV)
		probe_set(f, KSAL_FEAT_SQUASHFS, false, "not in this kernel");
	else if (in_proc_filesystems("squashfs"))
		probe_set(f, KSAL_FEAT_SQUASHFS, true, "in /proc/filesystems (fsopen: %s)",
			  strerror(errno));
	else
		probe_set(f, KSAL_FEAT_SQUASHFS, false, "fsopen(\"squashfs\"): %s",
			  strerror(errno));
}

/* Look for an executable in PATH and the usual places; malloc'd or NULL. */
static char *find_exe(const char *name)
{
	const char *env = getenv("PATH");
	_cleanup_free_ char *path = NULL;
	char *save = NULL;

	if (asprintf(&path, "%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		     env ? env : "") < 0)
		return NULL;
	for (char *d = strtok_r(path, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *p = NULL;

		if (!*d)
			continue;
		if (asprintf(&p, "%s/%s", d, name) < 0)
			return NULL;
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

/* Is libsquashfuse installed (what an in-process FUSE mount would use)?
 * Looked for in the loader's usual directories rather than dlopen()ed: the
 * strata command line is a static binary, where dlopen needs the very glibc
 * it was linked with. */
static bool have_libsquashfuse(void)
{
	static const char *const where[] = {
		"/usr/lib/*/libsquashfuse.so.0",     "/lib/*/libsquashfuse.so.0",
		"/usr/lib64/libsquashfuse.so.0",     "/usr/lib/libsquashfuse.so.0",
		"/usr/local/lib/libsquashfuse.so.0",
	};

	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		glob_t g;

		if (glob(where[i], GLOB_NOSORT, NULL, &g) == 0) {
			globfree(&g);
			return true;
		}
	}
	return false;
}

void probe_squashfuse(struct ksal_features *f)
{
	_cleanup_free_ char *bin = find_exe("squashfuse");
	_cleanup_free_ char *ll = find_exe("squashfuse_ll");
	const char *use = ll ? ll : bin;
	bool lib = have_libsquashfuse();
	bool fuse = access("/dev/fuse", R_OK | W_OK) == 0;
	int fuse_err = errno;

	if (!use && !lib)
		probe_set(f, KSAL_FEAT_SQUASHFUSE, false,
			  "no squashfuse binary on PATH and no libsquashfuse.so.0");
	else if (!fuse)
		probe_set(f, KSAL_FEAT_SQUASHFUSE, false, "/dev/fuse is not usable: %s",
			  strerror(fuse_err));
	else
		probe_set(f, KSAL_FEAT_SQUASHFUSE, true, "%s%s%s, /dev/fuse", use ? use : "",
			  use && lib ? ", " : "", lib ? "libsquashfuse.so.0" : "");
}

/* A user namespace fd mapping 0..65535 to PROBE_IDMAP_BASE.. on the host. */
static int make_userns_fd(const char **step)
{
	_cleanup_close_ int rd = -EBADF, wr = -EBADF, crd = -EBADF, cwr = -EBADF;
	_cleanup_kill_ pid_t pid = -1;
	_cleanup_free_ char *path = NULL;
	char map[64], ok = 0;
	int p[2], q[2], fd;
	static const char *const files[] = { "uid_map", "gid_map" };

	*step = "pipe";
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	rd = p[0];
	wr = p[1];
	if (pipe2(q, O_CLOEXEC) < 0)
		return -errno;
	crd = q[0];
	cwr = q[1];
	*step = "fork";
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char c = unshare(CLONE_NEWUSER) == 0 ? 1 : 0;

		if (write(wr, &c, 1) != 1)
			_exit(1);
		closep(&cwr);
		(void)!read(crd, &c, 1); /* until the parent is done */
		_exit(0);
	}
	closep(&wr);
	closep(&crd);
	*step = "unshare(CLONE_NEWUSER)";
	if (read(rd, &ok, 1) != 1 || !ok)
		return -EPERM;
	snprintf(map, sizeof(map), "0 %u 65536\n", PROBE_IDMAP_BASE);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *mp = NULL;
		int r;

		*step = files[i];
		if (asprintf(&mp, "/proc/%d/%s", (int)pid, files[i]) < 0)
			return -ENOMEM;
		r = probe_write_text(mp, map);
		if (r < 0)
			return r;
	}
	*step = "open user namespace";
	if (asprintf(&path, "/proc/%d/ns/user", (int)pid) < 0)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fd;
}

/* Clone the mount at (dfd, path), idmap it, and check a root-owned file
 * `name` shows up as PROBE_IDMAP_BASE. Returns 0 or -errno, *step says where. */
static int try_idmap(int dfd, const char *path, const char *name, const char **step)
{
	_cleanup_close_ int userns = -EBADF, tree = -EBADF;
	struct mount_attr attr = { 0 };
	struct stat st;

	userns = make_userns_fd(step);
	if (userns < 0)
		return userns;
	*step = "open_tree(OPEN_TREE_CLONE)";
	tree = open_tree(dfd, path,
			 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (*path ? 0 : AT_EMPTY_PATH));
	if (tree < 0)
		return -errno;
	*step = "mount_setattr(MOUNT_ATTR_IDMAP)";
	attr.attr_set = MOUNT_ATTR_IDMAP;
	attr.userns_fd = (uint64_t)userns;
	if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return -errno;
	*step = "stat through the idmapped mount";
	if (fstatat(tree, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (st.st_uid != PROBE_IDMAP_BASE)
		return -EOVERFLOW;
	return 0;
}

/* Attach image to a free loop device (read-only, autoclear). Returns the
 * loop fd and its path in dev. */
static int loop_attach(int image_fd, char *dev, size_t devlen, const char **step)
{
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);

	*step = "open /dev/loop-control";
	if (ctl < 0)
		return -errno;
	for (int tries = 0; tries < 16; tries++) {
		struct loop_config cfg = { 0 };
		_cleanup_close_ int lfd = -EBADF;
		int n;

		*step = "LOOP_CTL_GET_FREE";
		n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			return -errno;
		snprintf(dev, devlen, "/dev/loop%d", n);
		*step = "open loop device";
		lfd = open(dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0)
			return -errno;
		cfg.fd = (uint32_t)image_fd;
		cfg.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
		*step = "LOOP_CONFIGURE";
		if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0)
			return take_fd(lfd);
		if (errno != EBUSY)
			return -errno;
	}
	return -EBUSY;
}

void probe_idmap_squashfs(struct ksal_features *f, const char *scratch)
{
	_cleanup_free_ char *mksq = find_exe("mksquashfs");
	_cleanup_free_ char *src = NULL, *file = NULL, *img = NULL, *out = NULL;
	_cleanup_close_ int imgfd = -EBADF, loopfd = -EBADF, mnt = -EBADF;
	char dev[64];
	const char *step = "";
	int r;

	if (geteuid() != 0) {
		probe_set(f, KSAL_FEAT_IDMAP_SQUASHFS, false, "not probed: needs root");
		return;
	}
	if (!ksal_has(f, KSAL_FEAT_SQUASHFS)) {
		probe_set(f, KSAL_FEAT_IDMAP_SQUASHFS, false, "no kernel squashfs");
		return;
	}
	if (!mksq) {
		probe_set(f, KSAL_FEAT_IDMAP_SQUASHFS, false,
			  "not probed: mksquashfs missing (squashfs-tools)");
		return;
	}
	if (!scratch) {
		probe_set(f, KSAL_FEAT_IDMAP_SQUASHFS, false, "not probed: no scratch directory");
		return;
	}
	if (asprintf(&src, "%s/sqsrc", scratch) < 0 || asprintf(&file, "%s/f", src) < 0 ||
	    asprintf(&img, "%s/probe.sqfs", scratch) < 0)
		probe_oom(NULL);
	if (mkdir(src, 0755) < 0 || probe_write_text(file, "") < 0) {
		_cleanup_close_ int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0) {
			probe_set(f, KSAL_FEAT_IDMAP_SQUASHFS, false, "create `%s`: %s", file,
				  strerror(errno));
			return;
		}
	}
	const char *argv[] = { mksq,	    src,	  img,
			       "-noappend", "-quiet",	  "-no-progress",
			       "-all-root", "-no-xattrs", "-processors",
			       "1",	    NULL };
	r = ksal_run_capture(argv, 20000, &out, NULL);
	if (r != 0) {
		probe_set(f, KSAL_FEAT_IDMAP_SQUASHFS, false, "mksquashfs failed (%d): %s", r,
			  out ? out : "");
		return;
	}
	imgfd = open(img, O_RDONLY | O_CLOEXEC);
	if (imgfd < 0) {
		probe_set(f, KSAL_FEAT_IDMAP_SQUASHFS, false, "open `%s`: %s", img,
			  strerror(errno));
		return;
	}
	loopfd = loop_attach(imgfd, dev, sizeof(dev), &step);
	if (loopfd < 0) {
		probe_set(f, KSAL_FEAT_IDMAP_SQUASHFS, false, "loop device (%s): %s", step,
			  strerror(-loopfd));
		return;
	}
	const char *kv[] = { "source", dev, "ro", NULL, NULL };
	mnt = detached_mount("squashfs", kv, MOUNT_ATTR_RDONLY, &step);
	if (mnt < 0) {
		probe_set(f, KSAL_FEAT_IDMAP_SQUASHFS, false, "mount squashfs `%s` (%s): %s", dev,
			  step, strerror(-mnt));
		return;
	}
	r = try_idmap(mnt, "", "f", &step);
	if (r < 0)
		probe_set(f, KSAL_FEAT_IDMAP_SQUASHFS, false, "%s: %s", step,
			  r == -EOVERFLOW ? "owner not mapped" : strerror(-r));
	else
		probe_set(f, KSAL_FEAT_IDMAP_SQUASHFS, true,
			  "open_tree + mount_setattr(MOUNT_ATTR_IDMAP) on a squashfs image: "
			  "root-owned file seen as uid %u",
			  PROBE_IDMAP_BASE);
}

void probe_idmap_statedir(struct ksal_features *f, const char *scratch, const char *tested_on)
{
	_cleanup_free_ char *file = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct statfs sfs;
	const char *fsname = "unknown";
	const char *step = "";
	int r;

	if (geteuid() != 0) {
		probe_set(f, KSAL_FEAT_IDMAP_STATEDIR, false, "not probed: needs root");
		return;
	}
	if (!scratch) {
		probe_set(f, KSAL_FEAT_IDMAP_STATEDIR, false, "not probed: no scratch directory");
		return;
	}
	if (statfs(scratch, &sfs) == 0)
		fsname = fs_type_name(sfs.f_type);
	if (asprintf(&file, "%s/idmap-probe", scratch) < 0)
		probe_oom(NULL);
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		probe_set(f, KSAL_FEAT_IDMAP_STATEDIR, false, "create `%s`: %s", file,
			  strerror(errno));
		return;
	}
	r = try_idmap(AT_FDCWD, scratch, "idmap-probe", &step);
	if (r < 0)
		probe_set(f, KSAL_FEAT_IDMAP_STATEDIR, false, "%s (%s) on %s: %s", tested_on,
			  fsname, step, r == -EOVERFLOW ? "owner not mapped" : strerror(-r));
	else
		probe_set(f, KSAL_FEAT_IDMAP_STATEDIR, true, "%s (%s)", tested_on, fsname);
}
