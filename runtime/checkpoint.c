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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criu/criu.h>
#include <linux/magic.h>

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
	bool kdat_cache; /* /run is no tmpfs and nothing CRIU needs lies under it */
	const struct ckpt_commit *commit; /* dump only */
};

/* libcriu's notify callback takes no data: the helper's own copy. */
static const struct ckpt_commit *helper_commit;

static int criu_notify(char *action, criu_notify_arg_t na)
{
	const struct ckpt_commit *c = helper_commit;
	int r;

	(void)na;
	if (!c)
		return 0;
	if (!strcmp(action, "pre-dump") && c->cg) {
		/* Freeze here, after CRIU's own start: the tasks stop only
		 * for the dump itself. CRIU polls freezer.state every 100 ms,
		 * ksal much more often; CRIU then finds the cgroup frozen,
		 * dumps, and leaves the thaw (which lets the killed tasks
		 * die) to the caller. */
		double t0 = ckpt_now_ms();

		if (ksal_cgroup_freeze(c->cg, true, NULL) < 0)
			return -1;
		c->sh->frozen_at = t0;
		c->sh->freeze_ms = ckpt_now_ms() - t0;
		/* frozen: the guest makes no cgroup meanwhile */
		r = ckpt_cgdirs_save(c->cg, c->dirfd);
		if (r < 0) {
			c->sh->err = -r;
			snprintf(c->sh->msg, sizeof(c->sh->msg), "list the guest's cgroups: %s",
				 strerror(-r));
			return -1;
		}
		return 0;
	}
	if (!strcmp(action, "post-dump"))
		return ckpt_commit_images(c);
	return 0;
}

/* Where CRIU keeps its kernel-features cache (kerndat) when /run is not a
 * tmpfs: it only keeps it on one. Cleared with /dev/shm at boot, as /run. */
#define CKPT_KDAT_DIR "/dev/shm/strata-criu"

/*
 * CRIU probes the kernel (about 30 ms here: a network namespace, a veth,
 * vDSO, CPU) at every start unless /run/criu.kdat exists, which it writes
 * only on a tmpfs. Where /run is not one (no systemd), give this helper's
 * mount namespace a /run of its own on a tmpfs that lasts: CRIU then pays
 * the probe once per boot. Only when nothing CRIU is given lies under /run.
 */
static bool run_is_tmpfs(void)
{
	struct statfs s;

	return statfs("/run", &s) == 0 && s.f_type == TMPFS_MAGIC;
}

static bool under_run(const char *path)
{
	return path && (!strcmp(path, "/run") || !strncmp(path, "/run/", 5));
}

static void kdat_cache_mount(void)
{
	struct stat st;

	if (mkdir(CKPT_KDAT_DIR, 0700) < 0 && errno != EEXIST)
		return;
	if (lstat(CKPT_KDAT_DIR, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 0077))
		return;
	mount(CKPT_KDAT_DIR, "/run", NULL, MS_BIND, NULL);
}

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
	if (c->kdat_cache)
		kdat_cache_mount();
	/* CRIU mounts in its work dir: reopen it in this namespace,
	 * under the number libcriu passes */
	fd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || dup3(fd, c->dirfd, O_CLOEXEC) < 0)
		return 4;
	close(fd);
	/* an fd CRIU is to hand to the restored tasks stays open for it */
	if (c->keep_fd >= 0 && fcntl(c->keep_fd, F_SETFD, 0) < 0)
		return 2;
	helper_commit = c->commit;
	if (c->commit)
		ckpt_wb_kick_start(c->commit->dirfd);
	return 0;
}

/*
 * libcriu in a forked helper (ksal_criu_in_helper): on timeout the whole
 * group, criu swrk included, is killed. *res is libcriu's return value
 * (restore: the restored init's pid). Returns 0, -ETIMEDOUT, or -errno.
 */
static int criu_call(criu_opts *o, enum ckpt_op op, int timeout_ms, const struct criu_prepare *c,
		     int *res)
{
	const struct ksal_criu_helper h = {
		.what = op == CKPT_DUMP ? "dump" : "restore",
		.timeout_ms = timeout_ms,
		.prepare = criu_prepare,
		.data = (void *)c,
	};

	if (c->commit)
		criu_local_set_notify_cb(o, criu_notify);
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
	double end = ckpt_now_ms() + timeout_ms;

	while (!ksal_cgroup_is_empty(cg)) {
		if (ckpt_now_ms() > end)
			return -ETIMEDOUT;
		usleep(2000);
	}
	return 0;
}

/* ---- the console ---- */

/* The host end of the veth goes with the container's netns, which the
 * kernel tears down a moment after the last task died. */
static bool wait_link_gone(const char *ifname, int timeout_ms)
{
	double end = ckpt_now_ms() + timeout_ms;

	while (if_nametoindex(ifname) > 0) {
		if (ckpt_now_ms() > end)
			return false;
		usleep(2000);
	}
	return true;
}

/* ---- dump ---- */

/* Running (a zombie or no such pid: not). */
static bool pid_alive(pid_t pid)
{
	char path[64], buf[512];
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;
	char *rp;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

static void shared_unmap(struct ckpt_shared **sh)
{
	if (*sh && *sh != MAP_FAILED)
		munmap(*sh, sizeof(**sh));
	*sh = NULL;
}

/* May CRIU run with a /run of its own (see kdat_cache_mount)? */
static bool kdat_cache_ok(const struct ct_ckpt_params *p, const struct ckpt_ext *ext, size_t n,
			  const char *criu, const char *console_path)
{
	if (run_is_tmpfs() || under_run(p->images_dir) || under_run(p->root) || under_run(criu) ||
	    under_run(console_path))
		return false;
	for (size_t i = 0; i < n; i++)
		if (under_run(ext[i].host_path))
			return false;
	return true;
}

static int dump_once(const struct ct_ckpt_params *p, struct ct_ckpt_result *r,
		     struct st_error **err)
{
	_cleanup_free_ char *tmp = NULL, *old = NULL, *log = NULL, *kept = NULL, *ext_arg = NULL;
	_cleanup_free_ char *marker = NULL, *final_log = NULL;
	_cleanup_criu_opts_ criu_opts *o = NULL;
	_cleanup_close_ int dirfd = -EBADF;
	__attribute__((cleanup(ckpt_ext_free_on_exit))) struct ckpt_ext_list ext = { NULL, 0 };
	__attribute__((cleanup(shared_unmap))) struct ckpt_shared *sh = NULL;
	struct ct_ckpt_result dummy;
	const char *ctid = p->ctid ? p->ctid : "?";
	int timeout = p->timeout_ms > 0 ? p->timeout_ms : CT_CKPT_TIMEOUT_MS_DEFAULT;
	double t0 = ckpt_now_ms(), t1, t2;
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
	if (ckpt_nested_ns_check(p->init_pid, err) < 0)
		return st_error_prefix(err, "checkpoint %s", ctid);
	if (asprintf(&tmp, "%s.tmp", p->images_dir) < 0 ||
	    asprintf(&old, "%s.old", p->images_dir) < 0 ||
	    asprintf(&log, "%s.tmp/%s", p->images_dir, CT_CKPT_DUMP_LOG) < 0 ||
	    asprintf(&final_log, "%s/%s", p->images_dir, CT_CKPT_DUMP_LOG) < 0 ||
	    asprintf(&kept, "%s.%s", p->images_dir, CT_CKPT_DUMP_LOG) < 0 ||
	    asprintf(&marker, "ctid %s\npid %d\n", ctid, (int)p->init_pid) < 0)
		return st_error_set(err, ENOMEM, "checkpoint %s", ctid);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		sh = NULL;
		return st_error_set(err, errno, "checkpoint %s: shared page", ctid);
	}

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
	{
		char key[64];

		rc = ckpt_console_find(p->init_pid, p->console_fd, key, sizeof(key), err);
		if (rc > 0) {
			st_debug("checkpoint %s: console %s is external", ctid, key);
			rc = ckpt_write_small(dirfd, CT_CKPT_CONSOLE_FILE, key);
			if (rc == 0 && criu_local_add_external(o, key) < 0)
				rc = -ENOMEM;
			if (rc < 0)
				st_error_setx(err, ST_EXIT_CHKPNT, -rc, "console");
		}
		if (rc < 0) {
			ckpt_rm_rf(tmp);
			return st_error_prefix(err, "checkpoint %s", ctid);
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
	t1 = ckpt_now_ms();
	{
		const struct ckpt_commit commit = { .cg = p->cg,
						    .dirfd = dirfd,
						    .tmp = tmp,
						    .final = p->images_dir,
						    .old = old,
						    .root = p->root,
						    .marker = marker,
						    .sh = sh };
		const struct criu_prepare c = {
			.dir = tmp,
			.dirfd = dirfd,
			.keep_fd = -1,
			.kdat_cache =
				kdat_cache_ok(p, ext.v, ext.n, ksal_criu_path(p->criu_path), NULL),
			.commit = &commit,
		};

		rc = criu_call(o, CKPT_DUMP, timeout, &c, &res);
	}
	r->criu_ms = ckpt_now_ms() - t1;
	r->freeze_ms = sh->freeze_ms;
	/* a dump answers 0; a failed notification ends libcriu's call with
	 * the callback's nonzero value */
	if (rc < 0 || res != 0) {
		_cleanup_error_ struct st_error *e2 = NULL;
		bool gone;

		/* CRIU resumes what it seized when it fails; the freeze is ours */
		if (p->cg && ksal_cgroup_freeze(p->cg, false, &e2) < 0)
			st_warn("checkpoint %s: thaw: %s", ctid, e2->msg);
		/* committed, then failed: were the tasks killed after all? */
		gone = sh->committed && (usleep(100000), !pid_alive(p->init_pid));
		if (sh->committed && gone) {
			st_warn("checkpoint %s: CRIU failed after the images were complete and the "
				"tasks are gone: keeping the checkpoint in `%s`",
				ctid, p->images_dir);
		} else {
			if (sh->committed) { /* the container runs on: no checkpoint */
				rename(final_log, kept);
				ckpt_rm_rf(p->images_dir);
				if (access(old, F_OK) == 0)
					rename(old, p->images_dir);
			} else {
				rename(log, kept);
			}
			if (sh->err)
				st_error_setx(err, ST_EXIT_CHKPNT, sh->err,
					      "checkpoint %s: %s (the container runs on)", ctid,
					      sh->msg);
			else
				fail_criu(err, ST_EXIT_CHKPNT, "dump", rc, res, kept, kept);
			ckpt_rm_rf(tmp);
			if (sh->err)
				return -1;
			/* a terminal from outside the container, not the console */
			if (*err && (*err)->msg && strstr((*err)->msg, "Can't lookup mount") &&
			    strstr((*err)->msg, "/dev/pts/"))
				st_error_prefix(
					err, "a terminal of the container's comes from outside "
					     "it and is not its console (the container runs on)");
			return st_error_prefix(err, "checkpoint %s", ctid);
		}
	}
	/* the images are durable in images_dir; thawing lets the killed
	 * tasks die */
	t1 = ckpt_now_ms();
	if (p->cg) {
		_cleanup_error_ struct st_error *e2 = NULL;
		if (ksal_cgroup_freeze(p->cg, false, &e2) < 0)
			st_warn("checkpoint %s: thaw after the dump: %s", ctid, e2->msg);
	}
	if (sh->frozen_at > 0)
		r->frozen_ms = ckpt_now_ms() - sh->frozen_at;
	r->sync_ms = sh->sync_ms;
	ckpt_stats_read(dirfd, true, r);
	r->image_bytes = ckpt_dir_bytes(dirfd);
	ckpt_rm_rf(old);
	unlink(kept);

	t2 = ckpt_now_ms();
	if (p->cg && !p->leave_running && wait_empty(p->cg, CKPT_EMPTY_WAIT_MS) < 0) {
		_cleanup_error_ struct st_error *e2 = NULL;
		st_warn("checkpoint %s: tasks left after the dump, killing them", ctid);
		ksal_cgroup_kill_all(p->cg, 5000, &e2);
	}
	if (p->veth_host && !p->leave_running && !wait_link_gone(p->veth_host, 5000))
		st_warn("checkpoint %s: host veth `%s` still there after the dump", ctid,
			p->veth_host);
	r->total_ms = ckpt_now_ms() - t0;
	st_debug("checkpoint %s: after CRIU: thaw %.1f ms, tasks and veth gone %.1f ms", ctid,
		 t2 - t1, ckpt_now_ms() - t2);
	st_info("checkpoint %s: %.0f ms (CRIU %.0f ms of which sync %.0f ms, frozen %.0f ms), "
		"%llu bytes in %s",
		ctid, r->total_ms, r->criu_ms, r->sync_ms, r->frozen_ms,
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
	double t0 = ckpt_now_ms(), t1;
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
	if (console && ckpt_console_images_fix(dirfd, p->console_fd, err) < 0)
		return st_error_prefix(err, "restore %s: console", ctid);
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
	if (p->cg)
		ckpt_cgdirs_make(p->cg, dirfd, ctid);
	st_debug("restore %s: from %s into %s", ctid, p->images_dir, p->root);
	t1 = ckpt_now_ms();
	{
		const struct criu_prepare c = {
			.dir = p->images_dir,
			.dirfd = dirfd,
			.keep_fd = console ? p->console_fd : -1,
			.kdat_cache = kdat_cache_ok(p, ext.v, ext.n, ksal_criu_path(p->criu_path),
						    console ? console_path : NULL),
		};

		rc = criu_call(o, CKPT_RESTORE, timeout, &c, &res);
	}
	r->criu_ms = ckpt_now_ms() - t1;
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
	r->total_ms = ckpt_now_ms() - t0;
	st_info("restore %s: init %d in %.0f ms (CRIU %.0f ms)", ctid, (int)r->pid, r->total_ms,
		r->criu_ms);
	return 0;
}
