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

/* ---- running a CRIU request with a deadline ---- */

enum ckpt_op { CKPT_DUMP, CKPT_RESTORE };

struct criu_prepare {
	const char *dir;
	int dirfd;
	int keep_fd;
};

/* In the helper, before libcriu's dump or restore. */
static int criu_prepare(void *data)
{
	const struct criu_prepare *c = data;
	int fd;

	/* A mount namespace of its own, receiving the host's mounts but
	 * sending none back: what CRIU mounts for itself (its cgroup
	 * yard) goes with it even when it is killed half way. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return 3;
	/* CRIU mounts in its work dir: reopen it in this namespace,
	 * under the number libcriu passes */
	fd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || dup3(fd, c->dirfd, O_CLOEXEC) < 0)
		return 4;
	close(fd);
	/* an fd CRIU is to hand to the restored tasks stays open for it */
	if (c->keep_fd >= 0 && fcntl(c->keep_fd, F_SETFD, 0) < 0)
		return 2;
	return 0;
}

/*
 * libcriu in a forked helper (ksal_criu_in_helper): on timeout the whole
 * group, criu swrk included, is killed. *res is libcriu's return value
 * (restore: the restored init's pid). Returns 0, -ETIMEDOUT, or -errno.
 */
static int criu_call(criu_opts *o, enum ckpt_op op, int timeout_ms, const char *dir, int dirfd,
		     int keep_fd, int *res)
{
	struct criu_prepare c = { .dir = dir, .dirfd = dirfd, .keep_fd = keep_fd };
	const struct ksal_criu_helper h = {
		.what = op == CKPT_DUMP ? "dump" : "restore",
		.timeout_ms = timeout_ms,
		.prepare = criu_prepare,
		.data = &c,
	};

	return ksal_criu_in_helper(o, op == CKPT_DUMP ? criu_local_dump : criu_local_restore, &h,
				   res);
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

static int dump_once(const struct ct_ckpt_params *p, struct ct_ckpt_result *r,
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
	rc = ckpt_rm_rf(tmp);
	if (rc < 0)
		return st_error_setx(err, ST_EXIT_CHKPNT, -rc, "checkpoint %s: remove stale `%s`",
				     ctid, tmp);
	rc = ckpt_mkdir_parents(tmp);
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
		ckpt_rm_rf(tmp);
		if (*err)
			(*err)->exit_code = ST_EXIT_CHKPNT;
		return st_error_prefix(err, "checkpoint %s", ctid);
	}

	if (opts_common(p, dirfd, CT_CKPT_DUMP_LOG, &o, err) < 0) {
		ckpt_rm_rf(tmp);
		return st_error_prefix(err, "checkpoint %s", ctid);
	}
	criu_local_set_pid(o, p->init_pid);
	/* systemd mounts an (empty) hugetlbfs on /dev/hugepages: CRIU mounts
	 * it afresh on restore when told it may */
	/* inotify watches on overlayfs cannot be reopened by handle: CRIU
	 * finds their paths by scanning these (dbus-daemon, systemd) */
	for (size_t i = 0; i < ARRAY_SIZE(irmap_paths); i++)
		if (criu_local_add_irmap_path(o, irmap_paths[i]) < 0) {
			ckpt_rm_rf(tmp);
			return st_error_set(err, ENOMEM, "checkpoint %s", ctid);
		}
	if (criu_local_add_enable_fs(o, "hugetlbfs") < 0) {
		ckpt_rm_rf(tmp);
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
			ckpt_rm_rf(tmp);
			return st_error_set(err, ENOMEM, "checkpoint %s", ctid);
		}
	}
	for (size_t i = 0; i < ext.n; i++)
		if (criu_local_add_ext_mount(o, ext.v[i].mountpoint, ext.v[i].key) < 0) {
			ckpt_rm_rf(tmp);
			return st_error_set(err, ENOMEM, "checkpoint %s", ctid);
		}
	if (p->console_fd > 0) {
		char key[64];

		rc = console_key(p->console_fd, key, sizeof(key));
		if (rc == 0)
			rc = ckpt_write_small(dirfd, CT_CKPT_CONSOLE_FILE, key);
		if (rc == 0 && criu_local_add_external(o, key) < 0)
			rc = -ENOMEM;
		if (rc < 0) {
			ckpt_rm_rf(tmp);
			return st_error_setx(err, ST_EXIT_CHKPNT, -rc, "checkpoint %s: console",
					     ctid);
		}
	}
	if (p->veth_ct) {
		if (asprintf(&ext_arg, "veth[%s]", p->veth_ct) < 0 ||
		    criu_local_add_external(o, ext_arg) < 0) {
			ckpt_rm_rf(tmp);
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
		ckpt_rm_rf(tmp);
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
		ckpt_rm_rf(tmp);
		return st_error_prefix(err, "checkpoint %s", ctid);
	}
	ckpt_stats_read(dirfd, true, r);
	ckpt_images_open_up(dirfd);

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
	r->image_bytes = ckpt_dir_bytes(dirfd);
	if (p->durable && syncfs(dirfd) < 0) /* the images are whole in the page cache */
		st_warn("checkpoint %s: sync `%s`: %s", ctid, tmp, strerror(errno));
	ckpt_rm_rf(old);
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
	ckpt_rm_rf(old);
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

/* CRIU refuses a unix socket whose queue holds control messages (a
 * journald or dbus socket in the instant a message carries credentials).
 * That is transient: the failed dump left the container running, so try
 * again shortly, a few times, before giving up. */
#define CKPT_TRANSIENT "Control messages in queue"

int ct_checkpoint_dump(const struct ct_ckpt_params *p, struct ct_ckpt_result *r,
		       struct st_error **err)
{
	for (int attempt = 1;; attempt++) {
		struct st_error *e = NULL;
		int ret = dump_once(p, r, &e);

		if (ret >= 0 || attempt >= 4 || !e || !e->msg || !strstr(e->msg, CKPT_TRANSIENT)) {
			if (e && err && !*err)
				*err = e;
			else
				st_error_free(e);
			return ret;
		}
		st_info("checkpoint %s: %s; trying again (%d)", p->ctid ? p->ctid : "?",
			CKPT_TRANSIENT, attempt);
		st_error_free(e);
		usleep(100000 * attempt);
	}
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
	console = ckpt_read_small(dirfd, CT_CKPT_CONSOLE_FILE);
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
	ckpt_stats_read(dirfd, false, r);
	r->total_ms = now_ms() - t0;
	st_info("restore %s: init %d in %.0f ms (CRIU %.0f ms)", ctid, (int)r->pid, r->total_ms,
		r->criu_ms);
	return 0;
}
