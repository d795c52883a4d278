/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `clone`: a new container from a stopped one's private layer (split out
 * of tmplops.c). The copy is made by a forked worker while the loop serves
 * others; the loop then commits it (clone_done).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cow-fs/cowfs.h"
#include "cow-fs/fsutil.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "runtime/daemon.h"

static uint32_t shift_from, shift_to;

static int shift_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	uid_t u = st->st_uid;
	gid_t g = st->st_gid;

	(void)flag;
	(void)ftw;
	if (u >= shift_from && u - shift_from < CT_ID_RANGE_SIZE)
		u = u - shift_from + shift_to;
	if (g >= shift_from && g - shift_from < CT_ID_RANGE_SIZE)
		g = g - shift_from + shift_to;
	if (u == st->st_uid && g == st->st_gid)
		return 0;
	if (lchown(path, u, g) < 0)
		return -1;
	/* chown drops set-id bits of regular files: put them back */
	if (S_ISREG(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID)) &&
	    chmod(path, st->st_mode & 07777) < 0)
		return -1;
	return 0;
}

/* Move the owners of dst's upper layer from one id range to another. */
static int shift_owners(const char *priv, uint32_t from, uint32_t to, struct st_error **err)
{
	_cleanup_free_ char *upper = NULL;

	if (from == to)
		return 0;
	if (asprintf(&upper, "%s/upper", priv) < 0)
		return st_error_set(err, ENOMEM, "clone");
	shift_from = from;
	shift_to = to;
	if (nftw(upper, shift_one, 64, FTW_PHYS) < 0)
		return st_error_set(err, errno, "shift owners of `%s` to id range %" PRIu32, upper,
				    to);
	return 0;
}

/* LAYOUT=image: the closed image file copied as it is (sparse: only its
 * data extents), so the clone has the same limit and the very same files. */
static int clone_image(const char *src_priv, const char *dst_priv, struct st_error **err)
{
	_cleanup_free_ char *si = NULL, *di = NULL;
	_cleanup_close_ int in = -EBADF, out = -EBADF;
	struct stat st;
	off_t data = 0, hole;

	si = cowfs_private_image_path(src_priv);
	di = cowfs_private_image_path(dst_priv);
	if (!si || !di)
		return st_error_set(err, ENOMEM, "clone `%s`", src_priv);
	if (cowfs_private_close(src_priv, err) < 0)
		return -1;
	in = open(si, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0)
		return st_error_set(err, errno, "open `%s`", si);
	if (mkdir(dst_priv, 0700) < 0)
		return st_error_setx(err,
				     errno == EEXIST ? ST_EXIT_PRIVATE_EXISTS : ST_EXIT_CREATEPRIV,
				     errno, "create `%s`", dst_priv);
	out = open(di, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0 || ftruncate(out, st.st_size) < 0) {
		int e = errno;

		if (out >= 0)
			unlink(di);
		rmdir(dst_priv);
		return st_error_setx(err, e == ENOSPC ? ST_EXIT_NOSPACE : ST_EXIT_CREATEPRIV, e,
				     "create `%s`", di);
	}
	while ((data = lseek(in, data, SEEK_DATA)) >= 0) {
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			break;
		while (data < hole) {
			loff_t o_in = data, o_out = data;
			ssize_t n =
				copy_file_range(in, &o_in, out, &o_out, (size_t)(hole - data), 0);

			if (n <= 0) {
				int e = n < 0 ? errno : EIO;

				unlink(di);
				rmdir(dst_priv);
				return st_error_setx(
					err, e == ENOSPC ? ST_EXIT_NOSPACE : ST_EXIT_CREATEPRIV, e,
					"copy `%s` to `%s`", si, di);
			}
			data += n;
		}
	}
	if (errno != ENXIO) {
		int e = errno;

		unlink(di);
		rmdir(dst_priv);
		return st_error_set(err, e, "read `%s`", si);
	}
	return 0;
}

/* A clone, copied by a forked worker into <dst>.cloning.<pid> (and
 * <dst>.cloning.<pid>.img for LAYOUT=image: names the next daemon's start
 * sweeps away, should this one die first) while the loop serves others: 1 GB and 20000 files
 * took 3.4 s here, a `list` meanwhile waited 2.9 s, and a copy longer than
 * WatchdogSec would have had systemd kill the daemon. The loop then renames
 * it into place, writes the config and registers the container. */
struct clone_job {
	struct ct *ct; /* the source, locked by the request's conn */
	struct ct_config *c;
	char *dst, *dst_conf, *dst_priv, *tmp;
	bool image;	 /* LAYOUT=image: <tmp>.img beside <tmp>/ */
	bool holds_base; /* base is in d->clone_bases until the job ends */
	uint32_t base;
	int result; /* read end of the worker's report: "EXIT\tmessage" */
};

/* The copy not (wholly) in place: <tmp>/ and, for an image, <tmp>.img;
 * on the closer's thread (later) or here. */
static void clone_tmp_remove(struct clone_job *cj, bool later)
{
	char *img;

	if (!cj->tmp)
		return;
	img = cj->image ? cowfs_private_image_path(cj->tmp) : NULL;
	if (img && access(img, F_OK) == 0) {
		if (later)
			closer_remove(take_ptr(img));
		else
			unlink(img);
	}
	free(img);
	if (access(cj->tmp, F_OK) == 0) {
		if (later)
			closer_remove(take_ptr(cj->tmp));
		else
			cowfs_rm_rf(cj->tmp, NULL);
	}
}

static void clone_job_free(struct daemon *d, struct clone_job *cj)
{
	for (size_t i = 0; cj->holds_base && i < d->n_clone_bases; i++)
		if (d->clone_bases[i] == cj->base) {
			d->clone_bases[i] = d->clone_bases[--d->n_clone_bases];
			break;
		}
	ct_config_free(cj->c);
	free(cj->dst);
	free(cj->dst_conf);
	free(cj->dst_priv);
	free(cj->tmp);
	closep(&cj->result);
	free(cj);
}

static int clone_commit(struct daemon *d, struct clone_job *cj, json_t **result,
			struct st_error **err)
{
	const char *name = ct_config_str(cj->c, CT_NAME);
	struct ct *nct;
	struct stat st;

	if (ct_find(d, cj->dst) || stat(cj->dst_conf, &st) == 0)
		return st_error_setx(err, ST_EXIT_PRIVATE_EXISTS, 0,
				     "container %s was created meanwhile", cj->dst);
	if (name && *name && ct_find(d, name))
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "name `%s` was given to container %s meanwhile", name,
				     ct_find(d, name)->ctid);
	if (cj->image) {
		_cleanup_free_ char *from = cowfs_private_image_path(cj->tmp);
		_cleanup_free_ char *to = cowfs_private_image_path(cj->dst_priv);

		if (!from || !to)
			return st_error_set(err, ENOMEM, "rename the clone's image");
		if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) < 0)
			return st_error_setx(
				err, errno == EEXIST ? ST_EXIT_PRIVATE_EXISTS : ST_EXIT_SYSTEM,
				errno, "rename `%s` to `%s`", from, to);
	}
	if (renameat2(AT_FDCWD, cj->tmp, AT_FDCWD, cj->dst_priv, RENAME_NOREPLACE) < 0) {
		int e = errno;

		if (cj->image) { /* the image back beside its directory */
			_cleanup_free_ char *from = cowfs_private_image_path(cj->dst_priv);
			_cleanup_free_ char *to = cowfs_private_image_path(cj->tmp);

			if (from && to)
				rename(from, to);
		}
		return st_error_setx(err,
				     e == EEXIST || e == ENOTEMPTY ? ST_EXIT_PRIVATE_EXISTS
								   : ST_EXIT_SYSTEM,
				     e, "rename `%s` to `%s`", cj->tmp, cj->dst_priv);
	}
	free(take_ptr(cj->tmp)); /* in place: nothing left to remove under that name */
	if (ct_config_save(cj->c, cj->dst_conf, err) < 0) {
		closer_remove(take_ptr(cj->dst_priv)); /* under its final name now */
		return -1;
	}
	nct = ct_new(d, cj->dst);
	if (!nct || ct_reload_config(d, nct, err) < 0) {
		if (nct)
			ct_forget(d, nct);
		unlink(cj->dst_conf);
		closer_remove(take_ptr(cj->dst_priv));
		if (!*err)
			st_error_set(err, ENOMEM, "register");
		return -1;
	}
	*result = json_pack("{s:s,s:s}", "ctid", cj->dst, "from", cj->ct->ctid);
	return 0;
}

static void clone_done(struct daemon *d, struct exec_job *j, int code)
{
	_cleanup_error_ struct st_error *err = NULL;
	struct clone_job *cj = j->data;
	json_t *result = NULL;
	char msg[1024] = "";
	ssize_t n = read(cj->result, msg, sizeof(msg) - 1);
	int ex = ST_EXIT_FAILED, r = -1;

	msg[n > 0 ? n : 0] = '\0';
	if (code == 0) {
		r = clone_commit(d, cj, &result, &err);
	} else {
		char *tab = strchr(msg, '\t');

		if (tab)
			ex = atoi(msg);
		st_error_setx(&err, ex, 0, "%s", tab ? tab + 1 : "the copy's worker failed");
	}
	/* a copy not renamed into place (a worker that failed removes its
	 * own; one that was killed, or a commit refused, does not) */
	if (r < 0)
		clone_tmp_remove(cj, true);
	if (r == 0)
		st_info("cloned container %s to %s", cj->ct->ctid, cj->dst);
	else
		st_error_prefix(&err, "clone %s", cj->ct->ctid);
	if (!j->c->closed) {
		if (r < 0) {
			reply_error(j->c, err);
		} else {
			reply_ok(j->c, result);
			result = NULL;
		}
	}
	json_decref(result);
	/* last: a request waiting for the source may destroy it */
	if (cj->ct->owner == j->c)
		ct_unlock(d, cj->ct);
	clone_job_free(d, cj);
}

static int clone_in_worker(struct daemon *d, struct ct *ct, struct ct_config *c, const char *dst,
			   char *dst_conf, char *dst_priv, const char *src_priv, bool privileged,
			   uint32_t src_base, uint32_t base, struct st_error **err)
{
	struct clone_job *cj = calloc(1, sizeof(*cj));
	int pfd[2];
	pid_t pid;

	if (!cj) {
		ct_config_free(c);
		free(dst_conf);
		free(dst_priv);
		return st_error_set(err, ENOMEM, "clone %s", ct->ctid);
	}
	cj->ct = ct;
	cj->c = c;
	cj->image = cowfs_private_is_image(src_priv);
	cj->dst_conf = dst_conf;
	cj->dst_priv = dst_priv;
	cj->result = -EBADF;
	cj->base = base;
	cj->dst = strdup(dst);
	if (!cj->dst || asprintf(&cj->tmp, "%s.cloning.%d", dst_priv, (int)getpid()) < 0 ||
	    pipe2(pfd, O_CLOEXEC) < 0) {
		clone_job_free(d, cj);
		return st_error_set(err, ENOMEM, "clone %s", ct->ctid);
	}
	cj->result = pfd[0];
	if (!privileged && d->n_clone_bases == ARRAY_SIZE(d->clone_bases)) {
		close(pfd[1]);
		clone_job_free(d, cj);
		return st_error_setx(err, ST_EXIT_NORESOURCE, 0,
				     "clone %s: %zu clones are in flight already", ct->ctid,
				     ARRAY_SIZE(d->clone_bases));
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(pfd[1]);
		clone_job_free(d, cj);
		return st_error_set(err, e, "clone %s: fork", ct->ctid);
	}
	if (pid == 0) {
		struct st_error *e = NULL;
		int r = cj->image ? clone_image(src_priv, cj->tmp, &e)
				  : cowfs_private_clone(src_priv, cj->tmp, &e);

		if (r == 0 && !privileged && cj->image)
			r = cowfs_private_open(cj->tmp, &e); /* its files are inside */
		if (r == 0 && !privileged)
			r = shift_owners(cj->tmp, src_base, base, &e);
		if (cj->image && cowfs_private_close(cj->tmp, r < 0 ? NULL : &e) < 0)
			r = -1;
		if (r == 0)
			r = cowfs_private_sync(cj->tmp, &e); /* here, not on the loop */
		if (r < 0) {
			clone_tmp_remove(cj, false);
			dprintf(pfd[1], "%d\t%s", st_error_exit(e),
				e && e->msg ? e->msg : "failed");
			_exit(1);
		}
		_exit(0);
	}
	close(pfd[1]);
	if (!privileged) {
		d->clone_bases[d->n_clone_bases++] = base;
		cj->holds_base = true;
	}
	if (exec_fork_job(d, ct->owner, pid, clone_done, cj, err) < 0) {
		clone_tmp_remove(cj, false);
		clone_job_free(d, cj);
		return st_error_prefix(err, "clone %s", ct->ctid);
	}
	st_debug("clone %s to %s: worker %d copies into `%s`", ct->ctid, dst, (int)pid, cj->tmp);
	return 1; /* answered by clone_done */
}

int ct_do_clone(struct daemon *d, struct ct *ct, json_t *args, json_t **result,
		struct st_error **err)
{
	const char *dst = args ? json_string_value(json_object_get(args, "dst")) : NULL;
	const char *name = args ? json_string_value(json_object_get(args, "name")) : NULL;
	const char *hostname = args ? json_string_value(json_object_get(args, "hostname")) : NULL;
	_cleanup_free_ char *src_conf = g_ct_conf_path(d->g, ct->ctid);
	_cleanup_free_ char *src_priv = g_ct_private_path(d->g, ct->conf, ct->ctid);
	_cleanup_free_ char *dst_conf = NULL, *dst_priv = NULL;
	_cleanup_ct_config_ struct ct_config *c = NULL;
	uint32_t src_base, base = 0;
	bool privileged;
	struct stat st;

	(void)result; /* clone_done answers */
	if (!dst)
		return st_error_setx(err, ST_EXIT_BADARG, 0, "clone %s: no destination CTID",
				     ct->ctid);
	if (ct_validate_ctid(dst, err) < 0 || strspn(dst, "0123456789") != strlen(dst))
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "clone %s: destination `%s` must be a numeric CTID (>= %d); "
				     "give a name with --name",
				     ct->ctid, dst, CT_MIN_CTID);
	if (ct_find(d, dst))
		return st_error_setx(err, ST_EXIT_PRIVATE_EXISTS, 0,
				     "clone %s: container %s already exists", ct->ctid, dst);
	if (name && *name) {
		struct ct *other;
		if (ct_validate_name(name, err) < 0)
			return st_error_prefix(err, "clone %s", ct->ctid);
		if ((other = ct_find(d, name)))
			return st_error_setx(err, ST_EXIT_BADVALUE, 0,
					     "clone %s: name `%s` is already used by container %s",
					     ct->ctid, name, other->ctid);
	}
	if (ct->run != CT_STOPPED)
		return st_error_setx(err, ST_EXIT_RUNNING, 0,
				     "clone %s: container is running; stop it first (a running "
				     "container's files change while they are copied)",
				     ct->ctid);
	if (!src_conf || !src_priv)
		return st_error_set(err, ENOMEM, "clone %s", ct->ctid);
	if (ct_config_load(src_conf, &c, err) < 0)
		return st_error_prefix(err, "clone %s", ct->ctid);
	/* what must not be shared: addresses, interfaces (MACs), the name,
	 * explicit paths, the id range */
	ct_config_unset(c, CT_IP_ADDRESS);
	ct_config_unset(c, CT_NETIF);
	ct_config_unset(c, CT_NAME);
	ct_config_unset(c, CT_VE_PRIVATE);
	ct_config_unset(c, CT_VE_ROOT);
	ct_config_unset(c, CT_ID_BASE);
	if ((name && *name && ct_config_set(c, "NAME", name, err) < 0) ||
	    (hostname && ct_config_set(c, "HOSTNAME", hostname, err) < 0))
		return st_error_prefix(err, "clone %s", ct->ctid);
	privileged = ct_config_bool(ct->conf, CT_PRIVILEGED, false);
	src_base = privileged ? 0 : (uint32_t)ct_config_uint(ct->conf, CT_ID_BASE, 0);
	if (!privileged) {
		char buf[16];
		if (ct_alloc_id_base(d, NULL, &base, err) < 0)
			return st_error_prefix(err, "clone %s", ct->ctid);
		snprintf(buf, sizeof(buf), "%" PRIu32, base);
		if (ct_config_set(c, "ID_BASE", buf, err) < 0)
			return st_error_prefix(err, "clone %s", ct->ctid);
	}
	dst_conf = g_ct_conf_path(d->g, dst);
	{
		_cleanup_ct_config_ struct ct_config *merged = ct_config_new();
		if (!merged)
			return st_error_set(err, ENOMEM, "clone %s", ct->ctid);
		ct_config_merge_defaults(merged, d->g->ct_defaults);
		dst_priv = g_ct_private_path(d->g, merged, dst);
	}
	if (!dst_conf || !dst_priv)
		return st_error_set(err, ENOMEM, "clone %s", ct->ctid);
	if (stat(dst_conf, &st) == 0)
		return st_error_setx(err, ST_EXIT_PRIVATE_EXISTS, 0,
				     "clone %s: config `%s` already exists", ct->ctid, dst_conf);
	if (lstat(dst_priv, &st) == 0)
		return st_error_setx(err, ST_EXIT_PRIVATE_EXISTS, 0,
				     "clone %s: private area `%s` already exists", ct->ctid,
				     dst_priv);
	if (ct_is_mounted(d, ct) && ct_do_umount(d, ct, err) < 0)
		return st_error_prefix(err, "clone %s", ct->ctid);
	return clone_in_worker(d, ct, take_ptr(c), dst, take_ptr(dst_conf), take_ptr(dst_priv),
			       src_priv, privileged, src_base, base, err);
}
