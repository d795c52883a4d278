/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a guest must be like for CRIU to dump it. CRIU 4.2 cannot dump a
 * UTS namespace nested in the container's ("Can't dump nested uts
 * namespace"), and systemd gives every service with ProtectHostname=yes one
 * of its own: in Debian 12 systemd-logind (always running), localed and
 * timedated. A systemd guest gets a drop-in that turns it off for every
 * service; a dump finds any task left in a UTS namespace of its own first
 * and says which one (an IPC namespace of its own too), instead of CRIU's
 * error.
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
#include "runtime/checkpoint_internal.h"
#include "runtime/guest.h"

static const char dropin_text[] =
	"# Written by stratad: CRIU cannot checkpoint a service in a UTS namespace of\n"
	"# its own (strata suspend, migrate). Remove the file to keep ProtectHostname=.\n"
	"[Service]\n"
	"ProtectHostname=no\n";

int ct_checkpoint_guest_prepare(const char *root, uid_t uid, gid_t gid, struct st_error **err)
{
	_cleanup_close_ int rootfd = -EBADF, sysfd = -EBADF, dfd = -EBADF, fd = -EBADF;
	_cleanup_close_ int probe = -EBADF;
	struct stat st;
	size_t len = sizeof(dropin_text) - 1;

	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return st_error_set(err, errno, "open root `%s`", root);
	/* a systemd guest: its manager, and the unit directory */
	probe = guest_open_in_root(rootfd, "lib/systemd/systemd", O_PATH, 0);
	if (probe < 0)
		probe = guest_open_in_root(rootfd, "usr/lib/systemd/systemd", O_PATH, 0);
	if (probe < 0)
		return 0;
	sysfd = guest_open_in_root(rootfd, "etc/systemd/system", O_PATH | O_DIRECTORY, 0);
	if (sysfd < 0)
		return 0;
	if (mkdirat(sysfd, "service.d", 0755) == 0) {
		if (fchownat(sysfd, "service.d", uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			st_debug("chown `%s` in `%s`: %s", CKPT_DROPIN_DIR, root, strerror(errno));
	} else if (errno != EEXIST) {
		return st_error_set(err, errno, "create `%s` in `%s`", CKPT_DROPIN_DIR, root);
	}
	dfd = guest_open_in_root(rootfd, CKPT_DROPIN_DIR, O_PATH | O_DIRECTORY, 0);
	if (dfd < 0)
		return st_error_set(err, errno, "open `%s` in `%s`", CKPT_DROPIN_DIR, root);
	/* there already, as written: nothing to do (a guest's own edit stays) */
	if (fstatat(dfd, CKPT_DROPIN_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	fd = openat(dfd, CKPT_DROPIN_NAME, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0644);
	if (fd < 0 || write(fd, dropin_text, len) != (ssize_t)len)
		return st_error_set(err,
				    fd < 0  ? errno
				    : errno ? errno
					    : EIO,
				    "write `%s/%s` in `%s`", CKPT_DROPIN_DIR, CKPT_DROPIN_NAME,
				    root);
	if (fchown(fd, uid, gid) < 0)
		st_debug("chown `%s` in `%s`: %s", CKPT_DROPIN_NAME, root, strerror(errno));
	st_debug("wrote `%s/%s` in `%s`", CKPT_DROPIN_DIR, CKPT_DROPIN_NAME, root);
	return 0;
}

static int ns_ino(pid_t pid, const char *ns, ino_t *ino)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
	if (stat(path, &st) < 0)
		return -errno;
	*ino = st.st_ino;
	return 0;
}

static char *comm_of(pid_t pid)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	char buf[64];

	if (asprintf(&path, "/proc/%d/comm", (int)pid) < 0)
		return NULL;
	f = fopen(path, "re");
	if (!f || !fgets(buf, sizeof(buf), f))
		return strdup("?");
	buf[strcspn(buf, "\n")] = '\0';
	return strdup(buf);
}

/* Append every child of every thread of pid to *v. */
static int children_of(pid_t pid, pid_t **v, size_t *n, size_t *cap)
{
	_cleanup_free_ char *tdir = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (asprintf(&tdir, "/proc/%d/task", (int)pid) < 0)
		return -ENOMEM;
	d = opendir(tdir);
	if (!d)
		return 0; /* gone meanwhile */
	while ((de = readdir(d))) {
		_cleanup_free_ char *path = NULL;
		_cleanup_fclose_ FILE *f = NULL;
		int c;

		if (de->d_name[0] == '.')
			continue;
		if (asprintf(&path, "%s/%s/children", tdir, de->d_name) < 0)
			return -ENOMEM;
		f = fopen(path, "re");
		while (f && fscanf(f, "%d", &c) == 1) {
			if (*n == *cap) {
				size_t nc = *cap ? *cap * 2 : 64;
				pid_t *nv = realloc(*v, nc * sizeof(**v));

				if (!nv)
					return -ENOMEM;
				*v = nv;
				*cap = nc;
			}
			(*v)[(*n)++] = (pid_t)c;
		}
	}
	return 0;
}

int ckpt_nested_ns_check(pid_t init, struct st_error **err)
{
	_cleanup_free_ pid_t *v = NULL;
	size_t n = 0, cap = 0;
	ino_t uts = 0, ipc = 0;

	if (ns_ino(init, "uts", &uts) < 0 || ns_ino(init, "ipc", &ipc) < 0)
		return 0; /* CRIU says what is wrong with the init */
	if (children_of(init, &v, &n, &cap) < 0)
		return st_error_set(err, ENOMEM, "tasks of init %d", (int)init);
	/* the tree grows at the end of v while it is walked */
	for (size_t i = 0; i < n; i++) {
		ino_t ino = 0;

		if (ns_ino(v[i], "uts", &ino) == 0 && ino != uts) {
			_cleanup_free_ char *comm = comm_of(v[i]);

			return st_error_setx(
				err, ST_EXIT_CHKPNT, 0,
				"process %d (%s) has a UTS namespace of its own, which CRIU cannot "
				"dump (a systemd service with ProtectHostname=yes: the drop-in "
				"`/%s/%s` with ProtectHostname=no, which stratad puts in systemd "
				"guests, takes effect when the container restarts); the container "
				"runs on",
				(int)v[i], comm ? comm : "?", CKPT_DROPIN_DIR, CKPT_DROPIN_NAME);
		}
		if (ns_ino(v[i], "ipc", &ino) == 0 && ino != ipc) {
			_cleanup_free_ char *comm = comm_of(v[i]);

			return st_error_setx(err, ST_EXIT_CHKPNT, 0,
					     "process %d (%s) has an IPC namespace of its own, "
					     "which CRIU cannot dump (a systemd service with "
					     "PrivateIPC=yes?); the container runs on",
					     (int)v[i], comm ? comm : "?");
		}
		if (children_of(v[i], &v, &n, &cap) < 0)
			return st_error_set(err, ENOMEM, "tasks of init %d", (int)init);
	}
	return 0;
}

/*
 * The cgroups a systemd guest made in the hierarchies it may write (cgroup2
 * "unified", name=systemd). CRIU restores those that hold a task; systemd
 * also watches (inotify) cgroup.events of empty ones, a slice whose units
 * are all gone, and the restore of that watch fails when the directory is
 * not there. stratad removes the container's cgroups after the dump: keep
 * their list with the images and make them again before the restore.
 */
static const char *const guest_hiers[] = { "unified", "systemd" };
#define CGDIRS_MAX_DEPTH 16

static int cgdirs_walk(FILE *out, const char *hier, const char *base, const char *rel, int depth)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (depth > CGDIRS_MAX_DEPTH)
		return 0;
	if (asprintf(&path, "%s%s%s", base, *rel ? "/" : "", rel) < 0)
		return -ENOMEM;
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		_cleanup_free_ char *sub = NULL;
		int r;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (asprintf(&sub, "%s%s%s", rel, *rel ? "/" : "", de->d_name) < 0)
			return -ENOMEM;
		if (strpbrk(sub, "\t\n"))
			continue;
		fprintf(out, "%s\t%s\n", hier, sub);
		r = cgdirs_walk(out, hier, base, sub, depth + 1);
		if (r < 0)
			return r;
	}
	return 0;
}

int ckpt_cgdirs_save(struct ksal_cgroup *cg, int dirfd)
{
	_cleanup_fclose_ FILE *f = NULL;
	int fd, r = 0;

	fd = openat(dirfd, CT_CKPT_CGDIRS_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -errno;
	}
	for (size_t i = 0; i < ARRAY_SIZE(guest_hiers) && r == 0; i++) {
		const char *base = ksal_cgroup_path(cg, guest_hiers[i]);

		if (base)
			r = cgdirs_walk(f, guest_hiers[i], base, "", 0);
	}
	if (r == 0 && (fflush(f) != 0 || ferror(f)))
		r = -EIO;
	return r;
}

void ckpt_cgdirs_make(struct ksal_cgroup *cg, int dirfd, const char *ctid)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	int fd = openat(dirfd, CT_CKPT_CGDIRS_FILE, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return;
	}
	while (getline(&line, &cap, f) > 0) {
		_cleanup_free_ char *path = NULL;
		char *tab = strchr(line, '\t');
		const char *base;

		line[strcspn(line, "\n")] = '\0';
		if (!tab)
			continue;
		*tab = '\0';
		base = ksal_cgroup_path(cg, line);
		/* the list is in walk order: parents first; no way up */
		if (!base || strstr(tab + 1, "..") || asprintf(&path, "%s/%s", base, tab + 1) < 0)
			continue;
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			st_warn("restore %s: create cgroup `%s`: %s", ctid, path, strerror(errno));
	}
}
