/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Suspend and resume through libcriu; see checkpoint.h. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criu/criu.h>

#include "ksal/cleanup.h"
#include "ksal/criu.h"
#include "ksal/log.h"
#include "ksal/spawn.h"
#include "ksal/syscalls.h"
#include "runtime/checkpoint_internal.h"

#define CKPT_LOG_LEVEL_DEFAULT 4
#define CKPT_EMPTY_WAIT_MS 10000

static const char *const irmap_paths[] = { "/etc",	   "/usr/share/dbus-1", "/usr/lib/systemd",
					   "/lib/systemd", "/run/systemd",	"/var/lib" };

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void criu_opts_freep(criu_opts **o)
{
	if (*o)
		criu_local_free_opts(*o);
	*o = NULL;
}
#define _cleanup_criu_opts_ __attribute__((cleanup(criu_opts_freep)))

struct ckpt_ext_list {
	struct ckpt_ext *v;
	size_t n;
};

static void ckpt_ext_free_on_exit(struct ckpt_ext_list *l)
{
	ckpt_ext_free(l->v, l->n);
}

/* ---- files ---- */

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	if (type == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

static int rm_rf(const char *path)
{
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 ? -errno : 0;
}

static uint64_t dir_bytes(int dirfd)
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
static int mkdir_parents(const char *path)
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
static void images_open_up(int dirfd)
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

int ct_checkpoint_remove(const char *images_dir, struct st_error **err)
{
	_cleanup_free_ char *tmp = NULL;
	int r;

	if (asprintf(&tmp, "%s.tmp", images_dir) < 0)
		return st_error_set(err, ENOMEM, "remove checkpoint `%s`", images_dir);
	rm_rf(tmp);
	r = rm_rf(images_dir);
	if (r < 0)
		return st_error_set(err, -r, "remove checkpoint `%s`", images_dir);
	return 0;
}

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
		if (!strncmp(s, "Error", 5)) {
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

static void stats_read(int dirfd, bool dump, struct ct_ckpt_result *r)
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

/* ---- running a CRIU request with a deadline ---- */

enum ckpt_op { CKPT_DUMP, CKPT_RESTORE };

/*
 * libcriu in a forked helper leading its own process group (criu swrk is
 * its child, in the same group): on timeout the whole group is killed.
 * *res is libcriu's return value (restore: the restored init's pid).
 * Returns 0, -ETIMEDOUT, or -errno.
 */
static int criu_call(criu_opts *o, enum ckpt_op op, int timeout_ms, const char *dir, int dirfd,
		     int keep_fd, int *res)
{
	_cleanup_close_ int rd = -EBADF, wr = -EBADF;
	double deadline = now_ms() + timeout_ms;
	int p[2], status;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	rd = p[0];
	wr = p[1];
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		int r;

		setpgid(0, 0);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(2);
		/* A mount namespace of its own, receiving the host's mounts but
		 * sending none back: what CRIU mounts for itself (its cgroup
		 * yard) goes with it even when it is killed half way. */
		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
			_exit(3);
		/* CRIU mounts in its work dir: reopen it in this namespace,
		 * under the number libcriu passes */
		{
			int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			if (fd < 0 || dup3(fd, dirfd, O_CLOEXEC) < 0)
				_exit(4);
			close(fd);
		}
		/* criu swrk gets nothing of the caller's (sockets, pidfds...) */
		close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
		/* but for an fd CRIU is to hand to the restored tasks */
		if (keep_fd >= 0 && fcntl(keep_fd, F_SETFD, 0) < 0)
			_exit(2);
		r = op == CKPT_DUMP ? criu_local_dump(o) : criu_local_restore(o);
		_exit(write(wr, &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
	}
	setpgid(pid, pid); /* also here: no window where a kill misses swrk */
	closep(&wr);
	for (;;) {
		struct pollfd pfd = { .fd = rd, .events = POLLIN };
		int left = (int)(deadline - now_ms());
		int n;

		if (left <= 0) {
			st_warn("CRIU %s: no answer after %d ms, killing it",
				op == CKPT_DUMP ? "dump" : "restore", timeout_ms);
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return -ETIMEDOUT;
		}
		n = poll(&pfd, 1, left);
		if (n < 0 && errno != EINTR) {
			int e = errno;
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -e;
		}
		if (n > 0)
			break;
	}
	{
		ssize_t n = read(rd, res, sizeof(*res));

		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (n != (ssize_t)sizeof(*res))
			return -EIO; /* helper died without an answer */
	}
	return 0;
}

/* Common options of dump and restore. */
static int opts_common(const struct ct_ckpt_params *p, int dirfd, const char *log, criu_opts **out,
		       struct st_error **err)
{
	_cleanup_criu_opts_ criu_opts *o = NULL;
	const char *criu = ksal_criu_path(p->criu_path);

	if (access(criu, X_OK) < 0)
		return st_error_set(err, errno, "CRIU binary `%s` (CRIU_PATH)", criu);
	if (criu_local_init_opts(&o) < 0 || criu_local_set_service_binary(o, criu) < 0)
		return st_error_set(err, ENOMEM, "libcriu: options");
	criu_local_set_images_dir_fd(o, dirfd);
	if (criu_local_set_log_file(o, log) < 0)
		return st_error_set(err, ENOMEM, "libcriu: options");
	criu_local_set_log_level(o, p->log_level > 0 ? p->log_level : CKPT_LOG_LEVEL_DEFAULT);
	criu_local_set_tcp_established(o, true);
	criu_local_set_file_locks(o, true);
	criu_local_set_shell_job(o, false);
	criu_local_set_orphan_pts_master(o, false);
	criu_local_set_manage_cgroups(o, true);
	criu_local_set_manage_cgroups_mode(o, CRIU_CG_MODE_SOFT);
	if (criu_local_set_network_lock(o, CRIU_NETWORK_LOCK_NFTABLES) < 0)
		return st_error_set(err, ENOMEM, "libcriu: options");
	*out = take_ptr(o);
	return 0;
}

static int fail_criu(struct st_error **err, int exit_code, const char *what, int r, int res,
		     const char *log_path, const char *kept_log)
{
	_cleanup_free_ char *tail = ct_checkpoint_log_tail(log_path, 3);

	if (r == -ETIMEDOUT)
		return st_error_setx(err, ST_EXIT_TIMEOUT, ETIMEDOUT,
				     "CRIU %s: killed after timeout%s%s (log `%s`)", what,
				     tail ? ": " : "", tail ? tail : "", kept_log);
	if (r < 0)
		return st_error_setx(err, exit_code, -r, "CRIU %s (log `%s`)", what, kept_log);
	return st_error_setx(err, exit_code, 0, "CRIU %s failed (%d): %s (log `%s`)", what, res,
			     tail ? tail : "no error in CRIU's log", kept_log);
}

static int wait_empty(struct ksal_cgroup *cg, int timeout_ms)
{
	double end = now_ms() + timeout_ms;

	while (!ksal_cgroup_is_empty(cg)) {
		if (now_ms() > end)
			return -ETIMEDOUT;
		usleep(2000);
	}
	return 0;
}

/* ---- the console ---- */

/* CRIU's name of an external tty: "tty[rdev:dev]", both in hex. */
static int console_key(int fd, char *buf, size_t len)
{
	struct stat st;
	int n;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISCHR(st.st_mode))
		return -ENOTTY;
	n = snprintf(buf, len, "tty[%llx:%llx]", (unsigned long long)st.st_rdev,
		     (unsigned long long)st.st_dev);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int write_small(int dirfd, const char *name, const char *text)
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
static char *read_small(int dirfd, const char *name)
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

/* The host end of the veth goes with the container's netns, which the
 * kernel tears down a moment after the last task died. */
static bool wait_link_gone(const char *ifname, int timeout_ms)
{
	double end = now_ms() + timeout_ms;

	while (if_nametoindex(ifname) > 0) {
		if (now_ms() > end)
			return false;
		usleep(2000);
	}
	return true;
}

/* ---- dump ---- */

int ct_checkpoint_dump(const struct ct_ckpt_params *p, struct ct_ckpt_result *r,
		       struct st_error **err)
{
	_cleanup_free_ char *tmp = NULL, *old = NULL, *log = NULL, *kept = NULL, *ext_arg = NULL;
	_cleanup_criu_opts_ criu_opts *o = NULL;
	_cleanup_close_ int dirfd = -EBADF;
	__attribute__((cleanup(ckpt_ext_free_on_exit))) struct ckpt_ext_list ext = { NULL, 0 };
	struct ct_ckpt_result dummy;
	const char *ctid = p->ctid ? p->ctid : "?";
	int timeout = p->timeout_ms > 0 ? p->timeout_ms : CT_CKPT_TIMEOUT_MS_DEFAULT;
	double t0 = now_ms(), t1;
	int rc, res = 0;

	if (!r)
		r = &dummy;
	memset(r, 0, sizeof(*r));
	r->pidfd = -1;
	if (p->init_pid <= 0 || !p->images_dir || p->images_dir[0] != '/')
		return st_error_setx(err, ST_EXIT_BADARG, EINVAL,
				     "checkpoint %s: init pid and an absolute image dir are needed",
				     ctid);
	if (kill(p->init_pid, 0) < 0)
		return st_error_setx(err, ST_EXIT_NOTRUNNING, errno, "checkpoint %s: init pid %d",
				     ctid, (int)p->init_pid);
	if (asprintf(&tmp, "%s.tmp", p->images_dir) < 0 ||
	    asprintf(&old, "%s.old", p->images_dir) < 0 ||
	    asprintf(&log, "%s.tmp/%s", p->images_dir, CT_CKPT_DUMP_LOG) < 0 ||
	    asprintf(&kept, "%s.%s", p->images_dir, CT_CKPT_DUMP_LOG) < 0)
		return st_error_set(err, ENOMEM, "checkpoint %s", ctid);

	/* a fresh temporary image dir */
	rc = rm_rf(tmp);
	if (rc < 0)
		return st_error_setx(err, ST_EXIT_CHKPNT, -rc, "checkpoint %s: remove stale `%s`",
				     ctid, tmp);
	rc = mkdir_parents(tmp);
	if (rc < 0 || mkdir(tmp, 0700) < 0)
		return st_error_setx(err, ST_EXIT_CHKPNT, rc < 0 ? -rc : errno,
				     "checkpoint %s: create image dir `%s`", ctid, tmp);
	dirfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return st_error_setx(err, ST_EXIT_CHKPNT, errno, "checkpoint %s: open `%s`", ctid,
				     tmp);

	/* what is external, kept with the images for the restore */
	if (ckpt_ext_find(p->init_pid, p->ext_mounts, p->n_ext_mounts, &ext.v, &ext.n, err) < 0 ||
	    ckpt_ext_save(dirfd, ext.v, ext.n, err) < 0) {
		rm_rf(tmp);
		if (*err)
			(*err)->exit_code = ST_EXIT_CHKPNT;
		return st_error_prefix(err, "checkpoint %s", ctid);
	}

	if (opts_common(p, dirfd, CT_CKPT_DUMP_LOG, &o, err) < 0) {
		rm_rf(tmp);
		return st_error_prefix(err, "checkpoint %s", ctid);
	}
	criu_local_set_pid(o, p->init_pid);
	/* systemd mounts an (empty) hugetlbfs on /dev/hugepages: CRIU mounts
	 * it afresh on restore when told it may */
	/* inotify watches on overlayfs cannot be reopened by handle: CRIU
	 * finds their paths by scanning these (dbus-daemon, systemd) */
	for (size_t i = 0; i < ARRAY_SIZE(irmap_paths); i++)
		if (criu_local_add_irmap_path(o, irmap_paths[i]) < 0) {
			rm_rf(tmp);
			return st_error_set(err, ENOMEM, "checkpoint %s", ctid);
		}
	if (criu_local_add_enable_fs(o, "hugetlbfs") < 0) {
		rm_rf(tmp);
		return st_error_set(err, ENOMEM, "checkpoint %s", ctid);
	}
	criu_local_set_link_remap(o, true);
	criu_local_set_leave_running(o, p->leave_running);
	criu_local_set_timeout(o, (unsigned)(timeout / 1000 > 0 ? timeout / 1000 : 1));
	if (p->cg) {
		const char *fz = ksal_cgroup_path(p->cg, "freezer");

		if (!fz) /* cgroup v2: the container's cgroup itself */
			fz = ksal_cgroup_path(p->cg, NULL);
		if (fz && criu_local_set_freeze_cgroup(o, fz) < 0) {
			rm_rf(tmp);
			return st_error_set(err, ENOMEM, "checkpoint %s", ctid);
		}
	}
	for (size_t i = 0; i < ext.n; i++)
		if (criu_local_add_ext_mount(o, ext.v[i].mountpoint, ext.v[i].key) < 0) {
			rm_rf(tmp);
			return st_error_set(err, ENOMEM, "checkpoint %s", ctid);
		}
	if (p->console_fd > 0) {
		char key[64];

		rc = console_key(p->console_fd, key, sizeof(key));
		if (rc == 0)
			rc = write_small(dirfd, CT_CKPT_CONSOLE_FILE, key);
		if (rc == 0 && criu_local_add_external(o, key) < 0)
			rc = -ENOMEM;
		if (rc < 0) {
			rm_rf(tmp);
			return st_error_setx(err, ST_EXIT_CHKPNT, -rc, "checkpoint %s: console",
					     ctid);
		}
	}
	if (p->veth_ct) {
		if (asprintf(&ext_arg, "veth[%s]", p->veth_ct) < 0 ||
		    criu_local_add_external(o, ext_arg) < 0) {
			rm_rf(tmp);
			return st_error_set(err, ENOMEM, "checkpoint %s", ctid);
		}
	}

	st_debug("checkpoint %s: dumping init %d into %s", ctid, (int)p->init_pid, tmp);
	t1 = now_ms();
	/* Freeze here: CRIU polls freezer.state every 100 ms, ksal much more
	 * often. CRIU then finds it frozen, dumps, kills, and leaves the thaw
	 * (which lets the killed tasks die) to us. */
	if (p->cg && ksal_cgroup_freeze(p->cg, true, err) < 0) {
		ksal_cgroup_freeze(p->cg, false, NULL);
		rm_rf(tmp);
		if (*err)
			(*err)->exit_code = ST_EXIT_CHKPNT;
		return st_error_prefix(err, "checkpoint %s", ctid);
	}
	r->freeze_ms = now_ms() - t1;
	rc = criu_call(o, CKPT_DUMP, timeout, tmp, dirfd, -1, &res);
	r->criu_ms = now_ms() - t1 - r->freeze_ms;
	if (rc == 0 && res >= 0 && p->cg) {
		_cleanup_error_ struct st_error *e2 = NULL;
		if (ksal_cgroup_freeze(p->cg, false, &e2) < 0)
			st_warn("checkpoint %s: thaw after the dump: %s", ctid, e2->msg);
		r->frozen_ms = now_ms() - t1;
	}
	if (rc < 0 || res < 0) {
		/* CRIU thaws what it froze when it fails before killing; make
		 * sure, and keep its log beside the (removed) images */
		if (p->cg) {
			_cleanup_error_ struct st_error *e2 = NULL;
			if (ksal_cgroup_freeze(p->cg, false, &e2) < 0)
				st_warn("checkpoint %s: thaw: %s", ctid, e2->msg);
		}
		rename(log, kept);
		fail_criu(err, ST_EXIT_CHKPNT, "dump", rc, res, kept, kept);
		rm_rf(tmp);
		return st_error_prefix(err, "checkpoint %s", ctid);
	}
	stats_read(dirfd, true, r);
	images_open_up(dirfd);

	/* the marker last: only a complete dump has it */
	{
		_cleanup_close_ int mfd = openat(dirfd, CT_CKPT_MARKER,
						 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		_cleanup_free_ char *text = NULL;
		int len = asprintf(&text, "ctid %s\npid %d\n", ctid, (int)p->init_pid);

		if (mfd < 0 || len < 0 || write(mfd, text, (size_t)len) != len) {
			/* CRIU has killed the tasks: keep what it wrote */
			int e = mfd < 0 ? errno : EIO;
			return st_error_setx(
				err, ST_EXIT_CHKPNT, e,
				"checkpoint %s: write `%s/%s`; the images are in `%s`: "
				"rename it to `%s` and create that file to resume",
				ctid, tmp, CT_CKPT_MARKER, tmp, p->images_dir);
		}
	}
	r->image_bytes = dir_bytes(dirfd);
	if (p->durable && syncfs(dirfd) < 0) /* the images are whole in the page cache */
		st_warn("checkpoint %s: sync `%s`: %s", ctid, tmp, strerror(errno));
	rm_rf(old);
	if (access(p->images_dir, F_OK) == 0 && rename(p->images_dir, old) < 0)
		return st_error_setx(
			err, ST_EXIT_CHKPNT, errno,
			"checkpoint %s: move the previous checkpoint away; the new one "
			"is in `%s`",
			ctid, tmp);
	if (rename(tmp, p->images_dir) < 0)
		return st_error_setx(err, ST_EXIT_CHKPNT, errno,
				     "checkpoint %s: rename `%s` to `%s`", ctid, tmp,
				     p->images_dir);
	rm_rf(old);
	unlink(kept);
	if (p->durable) { /* the renames too */
		_cleanup_free_ char *parent = strdup(p->images_dir);
		char *slash = parent ? strrchr(parent, '/') : NULL;
		_cleanup_close_ int pfd = -EBADF;

		if (slash && slash != parent)
			*slash = '\0';
		pfd = parent ? open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -EBADF;
		if (pfd >= 0)
			fsync(pfd);
	}

	if (p->cg && !p->leave_running && wait_empty(p->cg, CKPT_EMPTY_WAIT_MS) < 0) {
		_cleanup_error_ struct st_error *e2 = NULL;
		st_warn("checkpoint %s: tasks left after the dump, killing them", ctid);
		ksal_cgroup_kill_all(p->cg, 5000, &e2);
	}
	if (p->veth_host && !p->leave_running && !wait_link_gone(p->veth_host, 5000))
		st_warn("checkpoint %s: host veth `%s` still there after the dump", ctid,
			p->veth_host);
	r->total_ms = now_ms() - t0;
	st_info("checkpoint %s: %.0f ms (CRIU %.0f ms, frozen %.0f ms), %llu bytes in %s", ctid,
		r->total_ms, r->criu_ms, (double)r->frozen_us / 1000.0,
		(unsigned long long)r->image_bytes, p->images_dir);
	return 0;
}

/* ---- restore ---- */

int ct_checkpoint_restore(const struct ct_ckpt_params *p, struct ct_ckpt_result *r,
			  struct st_error **err)
{
	_cleanup_free_ char *log = NULL, *ext_arg = NULL, *console = NULL;
	char console_path[PATH_MAX];
	_cleanup_criu_opts_ criu_opts *o = NULL;
	_cleanup_close_ int dirfd = -EBADF;
	__attribute__((cleanup(ckpt_ext_free_on_exit))) struct ckpt_ext_list ext = { NULL, 0 };
	struct ct_ckpt_result dummy;
	const char *ctid = p->ctid ? p->ctid : "?";
	int timeout = p->timeout_ms > 0 ? p->timeout_ms : CT_CKPT_TIMEOUT_MS_DEFAULT;
	double t0 = now_ms(), t1;
	int rc, res = 0, pidfd;
	struct stat st;

	if (!r)
		r = &dummy;
	memset(r, 0, sizeof(*r));
	r->pidfd = -1;
	if (!p->images_dir || !p->root)
		return st_error_setx(err, ST_EXIT_BADARG, EINVAL,
				     "restore %s: image dir and root are needed", ctid);
	if (!ct_checkpoint_exists(p->images_dir))
		return st_error_setx(err, ST_EXIT_RESTORE, 0,
				     "restore %s: no complete checkpoint in `%s`", ctid,
				     p->images_dir);
	if (stat(p->root, &st) < 0 || !S_ISDIR(st.st_mode))
		return st_error_setx(err, ST_EXIT_RESTORE, errno ? errno : ENOTDIR,
				     "restore %s: root `%s`", ctid, p->root);
	if (asprintf(&log, "%s/%s", p->images_dir, CT_CKPT_RESTORE_LOG) < 0)
		return st_error_set(err, ENOMEM, "restore %s", ctid);
	dirfd = open(p->images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return st_error_setx(err, ST_EXIT_RESTORE, errno, "restore %s: open `%s`", ctid,
				     p->images_dir);
	if (ckpt_ext_load(dirfd, &ext.v, &ext.n, err) < 0)
		return st_error_prefix(err, "restore %s", ctid);
	console = read_small(dirfd, CT_CKPT_CONSOLE_FILE);
	if (console) {
		char path[64];
		ssize_t n;

		if (p->console_fd <= 0)
			return st_error_setx(err, ST_EXIT_RESTORE, 0,
					     "restore %s: the checkpoint has a console: a new one "
					     "is needed",
					     ctid);
		/* the new pty goes where the old one was bound */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", p->console_fd);
		n = readlink(path, console_path, sizeof(console_path) - 1);
		if (n <= 0)
			return st_error_setx(err, ST_EXIT_RESTORE, errno,
					     "restore %s: path of the console", ctid);
		console_path[n] = '\0';
		for (size_t i = 0; i < ext.n; i++) {
			if (strcmp(ext.v[i].mountpoint, "/dev/console"))
				continue;
			free(ext.v[i].host_path);
			ext.v[i].host_path = strdup(console_path);
			if (!ext.v[i].host_path)
				return st_error_set(err, ENOMEM, "restore %s", ctid);
		}
	}
	for (size_t i = 0; i < ext.n; i++)
		if (access(ext.v[i].host_path, F_OK) < 0)
			return st_error_setx(err, ST_EXIT_RESTORE, errno,
					     "restore %s: source `%s` of external mount `%s`", ctid,
					     ext.v[i].host_path, ext.v[i].mountpoint);
	unlinkat(dirfd, CT_CKPT_RESTORE_LOG, 0);

	if (opts_common(p, dirfd, CT_CKPT_RESTORE_LOG, &o, err) < 0)
		return st_error_prefix(err, "restore %s", ctid);
	if (criu_local_set_root(o, p->root) < 0)
		return st_error_set(err, ENOMEM, "restore %s", ctid);
	for (size_t i = 0; i < ext.n; i++)
		if (criu_local_add_ext_mount(o, ext.v[i].key, ext.v[i].host_path) < 0)
			return st_error_set(err, ENOMEM, "restore %s", ctid);
	if (console && criu_local_add_inherit_fd(o, p->console_fd, console) < 0)
		return st_error_set(err, ENOMEM, "restore %s", ctid);
	if (p->veth_ct && p->veth_host) {
		if (asprintf(&ext_arg, "veth[%s]:%s%s%s", p->veth_ct, p->veth_host,
			     p->veth_bridge ? "@" : "", p->veth_bridge ? p->veth_bridge : "") < 0 ||
		    criu_local_add_external(o, ext_arg) < 0)
			return st_error_set(err, ENOMEM, "restore %s", ctid);
	}

	if (p->veth_host && !wait_link_gone(p->veth_host, 2000))
		st_warn("restore %s: host veth `%s` exists already", ctid, p->veth_host);
	st_debug("restore %s: from %s into %s", ctid, p->images_dir, p->root);
	t1 = now_ms();
	rc = criu_call(o, CKPT_RESTORE, timeout, p->images_dir, dirfd, console ? p->console_fd : -1,
		       &res);
	r->criu_ms = now_ms() - t1;
	if (rc < 0 || res <= 0) {
		/* a half-restored tree must not stay */
		if (p->cg) {
			_cleanup_error_ struct st_error *e2 = NULL;
			ksal_cgroup_freeze(p->cg, false, NULL);
			if (!ksal_cgroup_is_empty(p->cg) &&
			    ksal_cgroup_kill_all(p->cg, 5000, &e2) < 0)
				st_warn("restore %s: %s", ctid, e2->msg);
		}
		fail_criu(err, ST_EXIT_RESTORE, "restore", rc, res, log, log);
		return st_error_prefix(err, "restore %s", ctid);
	}
	r->pid = (pid_t)res;
	pidfd = pidfd_open(r->pid, 0);
	if (pidfd < 0)
		return st_error_setx(err, ST_EXIT_RESTORE, errno,
				     "restore %s: the restored init %d is gone", ctid, (int)r->pid);
	if (ksal_pid_start_time(r->pid, &r->start_time) < 0) {
		close(pidfd);
		return st_error_setx(err, ST_EXIT_RESTORE, ESRCH,
				     "restore %s: the restored init %d is gone", ctid, (int)r->pid);
	}
	r->pidfd = pidfd;
	stats_read(dirfd, false, r);
	r->total_ms = now_ms() - t0;
	st_info("restore %s: init %d in %.0f ms (CRIU %.0f ms)", ctid, (int)r->pid, r->total_ms,
		r->criu_ms);
	return 0;
}
