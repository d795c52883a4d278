/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * suspend / resume: checkpoint a running container to
 * STATE_DIR/dumps/CTID with CRIU (runtime/checkpoint.c) and restore it.
 * The CRIU call itself runs in checkpoint.c's helper process with a timeout;
 * for a client's request (suspend-all and resume-all: one container after
 * the other) it is waited for on a start worker, so the loop goes on
 * meanwhile; VE_STOP_MODE=suspend at shutdown waits on the loop.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cow-fs/cowfs.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/syscalls.h"
#include "runtime/daemon.h"
#include "runtime/net.h"
#include "ksal/netlink.h"

#ifdef HAVE_CT_CHECKPOINT
#include "runtime/checkpoint.h"
#endif

char *ct_dump_dir(struct daemon *d, struct ct *ct)
{
	char *s = NULL;

	if (asprintf(&s, "%s/dumps/%s", d->g->state_dir, ct->ctid) < 0)
		return NULL;
	return s;
}

bool ct_is_suspended(struct daemon *d, struct ct *ct)
{
#ifdef HAVE_CT_CHECKPOINT
	_cleanup_free_ char *dir = ct_dump_dir(d, ct);

	return ct->run == CT_STOPPED && dir && ct_checkpoint_exists(dir);
#else
	(void)d;
	(void)ct;
	return false;
#endif
}

#ifdef HAVE_CT_CHECKPOINT

static pid_t ppid_of(pid_t pid)
{
	_cleanup_free_ char *path = NULL, *line = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	size_t cap = 0;
	char *p;
	int ppid = -1;

	if (asprintf(&path, "/proc/%d/stat", (int)pid) < 0)
		return -1;
	f = fopen(path, "re");
	if (!f || getline(&line, &cap, f) < 0)
		return -1;
	p = strrchr(line, ')');
	if (!p || sscanf(p, ") %*c %d", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

static void ckpt_params(struct daemon *d, struct ct *ct, const char *dir, struct ct_ckpt_params *p)
{
	memset(p, 0, sizeof(*p));
	p->ctid = ct->ctid;
	p->init_pid = ct->pid;
	p->root = ct->root;
	p->cg = ct->cg;
	p->images_dir = dir;
	p->criu_path = d->g->criu_path;
	p->console_fd = ct->console_slave;
	if (ct->netdev) {
		p->veth_ct = "eth0";
		p->veth_host = ct->netdev;
	}
}

/* Where the checkpoint of ct is: opts->dumpfile, else STATE_DIR/dumps/CTID
 * (a symlink there when the last suspend went to --dumpfile DIR). */
static char *ckpt_dir_for(struct daemon *d, struct ct *ct, const struct ct_ckpt_opts *o)
{
	_cleanup_free_ char *def = NULL;
	char *real;

	if (o && o->dumpfile && *o->dumpfile)
		return strdup(o->dumpfile);
	def = ct_dump_dir(d, ct);
	if (!def)
		return NULL;
	real = realpath(def, NULL);
	return real ? real : take_ptr(def);
}

/*
 * One suspend or resume. begin (on the loop) checks and prepares, work runs
 * CRIU (on a start worker when there is a pool: it takes as long as the
 * container's memory takes to write or read, and the loop goes on serving
 * and supervising meanwhile), end (on the loop) commits or undoes. The
 * container is locked throughout; while a suspend runs, its init is out of
 * epoll (CRIU kills it at the end) and exec/enter are refused.
 */
struct ckpt_op {
	struct ct *ct;
	ct_ckpt_done_fn *done; /* on a worker: how it ends, on the loop */
	void *data;
	bool suspend, custom, keep;
	char *dumpfile, *dir, *kept;
	char *root; /* suspend: the root, for the guest's preparation */
	uid_t id_base;
	struct ct_ckpt_params p;
	struct ct_ckpt_result res;
	int slave; /* resume: the new console's slave */
	int r;
	struct st_error *err;
};

static void op_free(struct ckpt_op *op)
{
	if (!op)
		return;
	free(op->dumpfile);
	free(op->dir);
	free(op->kept);
	free(op->root);
	if (op->slave >= 0)
		close(op->slave);
	if (op->res.pidfd >= 0 && op->r < 0)
		close(op->res.pidfd);
	st_error_freep(&op->err);
	free(op);
}

static struct ckpt_op *op_new(struct ct *ct, bool suspend, const struct ct_ckpt_opts *o)
{
	struct ckpt_op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->ct = ct;
	op->suspend = suspend;
	op->slave = -EBADF;
	op->res.pidfd = -1;
	op->keep = o && o->keep;
	op->custom = o && o->dumpfile && *o->dumpfile;
	if (op->custom && !(op->dumpfile = strdup(o->dumpfile))) {
		free(op);
		return NULL;
	}
	return op;
}

static int suspend_begin(struct daemon *d, struct ckpt_op *op, struct st_error **err)
{
	struct ct *ct = op->ct;
	_cleanup_free_ char *def = ct_dump_dir(d, ct), *parent = NULL;
	struct stat st;

	if (!def)
		return st_error_set(err, ENOMEM, "suspend %s", ct->ctid);
	if (ct->run != CT_RUNNING)
		return st_error_setx(err, ST_EXIT_NOTRUNNING, 0,
				     "suspend %s: container is not running", ct->ctid);
	if (op->custom && op->dumpfile[0] != '/')
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "suspend %s: --dumpfile `%s` is not an absolute path",
				     ct->ctid, op->dumpfile);
	if (asprintf(&parent, "%s/dumps", d->g->state_dir) < 0)
		return st_error_set(err, ENOMEM, "suspend %s", ct->ctid);
	if (mkdir(parent, 0700) < 0 && errno != EEXIST)
		return st_error_setx(err, ST_EXIT_CHKPNT, errno, "suspend %s: create `%s`",
				     ct->ctid, parent);
	op->dir = strdup(op->custom ? op->dumpfile : def);
	if (!op->dir || (ct->root && !(op->root = strdup(ct->root))))
		return st_error_set(err, ENOMEM, "suspend %s", ct->ctid);
	if (op->custom && ct_checkpoint_exists(op->dir))
		return st_error_setx(err, ST_EXIT_CHKPNT, EEXIST,
				     "suspend %s: `%s` already holds a checkpoint", ct->ctid,
				     op->dir);
	/* a link left by an earlier --dumpfile suspend that was resumed elsewhere */
	if (lstat(def, &st) == 0 && S_ISLNK(st.st_mode))
		unlink(def);
	op->id_base = ct->id_base;
	ckpt_params(d, ct, op->dir, &op->p);
	/* CRIU kills the tasks at the end: that exit is the suspend's */
	watch_del(d, &ct->init_w);
	ct->checkpointing = true;
	return 0;
}

static void suspend_work(struct ckpt_op *op)
{
	{ /* a systemd guest started without it has it after its next start */
		_cleanup_error_ struct st_error *e = NULL;

		if (op->root &&
		    ct_checkpoint_guest_prepare(op->root, op->id_base, op->id_base, &e) < 0)
			st_warn("suspend %s: %s", op->ct->ctid, e->msg);
	}
	op->r = ct_checkpoint_dump(&op->p, &op->res, &op->err);
}

static int suspend_end(struct daemon *d, struct ckpt_op *op, struct st_error **err)
{
	struct ct *ct = op->ct;
	_cleanup_free_ char *def = NULL;
	siginfo_t si;

	ct->checkpointing = false;
	if (op->r < 0) {
		/* CRIU thawed the tasks (or the init ended meanwhile: the
		 * watch reports it now) */
		watch_add(d, &ct->init_w, EPOLLIN);
		*err = take_ptr(op->err);
		if (!*err)
			st_error_setx(err, ST_EXIT_CHKPNT, 0, "failed");
		if ((*err)->exit_code != ST_EXIT_TIMEOUT)
			(*err)->exit_code = ST_EXIT_CHKPNT;
		return st_error_prefix(err, "suspend %s", ct->ctid);
	}
	/* CRIU killed the tasks: reap the init, then undo the start */
	if (ct->our_child)
		waitid((idtype_t)P_PIDFD, (id_t)ct->init_w.fd, &si, WEXITED);
	ct_cleanup_after_exit(d, ct);
	def = ct_dump_dir(d, ct);
	if (op->custom && def && symlink(op->dir, def) < 0)
		st_warn("suspend %s: link `%s` to `%s`: %s", ct->ctid, def, op->dir,
			strerror(errno));
	st_info("suspended container %s to %s (%.0f ms, frozen %.0f ms, synced in %.0f ms, "
		"%" PRIu64 " pages)",
		ct->ctid, op->dir, op->res.total_ms, op->res.frozen_ms, op->res.sync_ms,
		op->res.pages);
	return 0;
}

/* After a resume: remove the images, or with --keep move the default
 * checkpoint aside to dumps/CTID.kept (a checkpoint at dumps/CTID would make
 * the container look suspended again); drop the --dumpfile link. */
static void ckpt_after_resume(struct daemon *d, struct ct *ct, const char *dir, bool keep,
			      char **kept)
{
	_cleanup_error_ struct st_error *e = NULL;
	_cleanup_free_ char *def = ct_dump_dir(d, ct), *aside = NULL;
	struct stat st;

	if (!def)
		return;
	if (lstat(def, &st) == 0 && S_ISLNK(st.st_mode))
		unlink(def);
	if (!keep) {
		/* a resume returns without waiting for the unlink of the images */
		char *gone, *gone_tmp;

		if (ct_checkpoint_retire(dir, &gone, &gone_tmp, &e) < 0)
			st_warn("resume %s: %s", ct->ctid, e->msg);
		else {
			closer_remove(gone);
			closer_remove(gone_tmp);
		}
		return;
	}
	if (strcmp(dir, def) == 0 && asprintf(&aside, "%s.kept", def) >= 0) {
		if (ct_checkpoint_remove(aside, &e) < 0) {
			st_warn("resume %s: %s", ct->ctid, e->msg);
			st_error_freep(&e);
		}
		if (rename(def, aside) < 0)
			st_warn("resume %s: move `%s` to `%s`: %s", ct->ctid, def, aside,
				strerror(errno));
		else
			*kept = take_ptr(aside);
		return;
	}
	*kept = strdup(dir);
}

/* A resume that failed after its preparation began: undo it. */
static int resume_failed(struct daemon *d, struct ct *ct, struct st_error **err)
{
	if (!*err)
		st_error_setx(err, ST_EXIT_RESTORE, 0, "failed");
	if ((*err)->exit_code != ST_EXIT_TIMEOUT)
		(*err)->exit_code = ST_EXIT_RESTORE;
	st_error_prefix(err, "resume %s", ct->ctid);
	/* stratad made no host link yet and CRIU removed its own: a link by
	 * that name now is not ours to delete */
	free(ct->netdev);
	ct->netdev = NULL;
	ct_cleanup_after_exit(d, ct);
	return -1;
}

static int resume_begin(struct daemon *d, struct ckpt_op *op, struct st_error **err)
{
	struct ct *ct = op->ct;
	struct ct_ckpt_opts o = { .dumpfile = op->dumpfile };

	op->dir = ckpt_dir_for(d, ct, &o);
	if (!op->dir)
		return st_error_set(err, ENOMEM, "resume %s", ct->ctid);
	if (ct->run != CT_STOPPED)
		return st_error_setx(err, ST_EXIT_RUNNING, 0, "resume %s: container is running",
				     ct->ctid);
	if (!ct_checkpoint_exists(op->dir))
		return st_error_setx(err, ST_EXIT_RESTORE, 0,
				     "resume %s: no checkpoint in `%s` (suspend it first)",
				     ct->ctid, op->dir);
	/* root, cgroups with limits: what start makes before the init */
	if (ct_prepare_run(d, ct, err) < 0 || ct_console_open(d, ct, &op->slave, err) < 0)
		return resume_failed(d, ct, err);
	ckpt_params(d, ct, op->dir, &op->p);
	op->p.console_fd = op->slave;
	if (strcmp(ct_net_mode(ct), "none") && strcmp(ct_net_mode(ct), "host")) {
		/* the veth's host end is recreated by CRIU */
		if (asprintf(&ct->netdev, "veth%s", ct->ctid) < 0) {
			st_error_set(err, ENOMEM, "resume %s", ct->ctid);
			return resume_failed(d, ct, err);
		}
		op->p.veth_ct = "eth0";
		op->p.veth_host = ct->netdev;
	}
	ct->checkpointing = true;
	return 0;
}

static void resume_work(struct ckpt_op *op)
{
	op->r = ct_checkpoint_restore(&op->p, &op->res, &op->err);
}

/* A routed container's host side of its restored veth: routes, proxy ARP. */
static void resume_routed(struct ct *ct, const char *host_ifname)
{
	_cleanup_error_ struct st_error *e = NULL;
	const char *ips = ct_config_str(ct->conf, CT_IP_ADDRESS);
	struct ksal_ipaddr addrs[16];
	size_t n = 0;
	_cleanup_free_ char *copy = ips ? strdup(ips) : NULL;
	char *save = NULL;
	struct ksal_nl *nl = NULL;

	for (char *t = copy ? strtok_r(copy, " ", &save) : NULL; t && n < 16;
	     t = strtok_r(NULL, " ", &save))
		if (ksal_ipaddr_parse(t, &addrs[n], NULL) == 0)
			n++;
	struct ct_net_routed cfg = { .ctid = ct->ctid,
				     .host_ifname = host_ifname,
				     .ct_ifname = "eth0",
				     .addrs = addrs,
				     .n_addrs = n };
	if (ksal_nl_open(&nl, &e) < 0 || ct_net_routed_reattach(nl, &cfg, &e) < 0)
		st_warn("resume %s: %s", ct->ctid, e->msg);
	if (nl)
		ksal_nl_close(nl);
}

static int resume_end(struct daemon *d, struct ckpt_op *op, struct st_error **err)
{
	struct ct *ct = op->ct;

	ct->checkpointing = false;
	closep(&op->slave);
	if (op->r < 0) {
		*err = take_ptr(op->err);
		return resume_failed(d, ct, err);
	}
	if (op->p.veth_host && !strcmp(ct_net_mode(ct), "routed"))
		resume_routed(ct, op->p.veth_host);
	ct->pid = op->res.pid;
	ct->start_time = op->res.start_time;
	ct->init_w.fd = op->res.pidfd;
	op->res.pidfd = -1;
	/* restored detached: reparented to us, the child subreaper */
	ct->our_child = ppid_of(ct->pid) == getpid();
	ct->run = CT_RUNNING;
	watch_add(d, &ct->init_w, EPOLLIN);
	{
		_cleanup_error_ struct st_error *e2 = NULL;
		if (ct_state_write(d, ct, &e2) < 0)
			st_warn("resume %s: %s", ct->ctid, e2->msg);
	}
	keeper_put(d, ct);
	ckpt_after_resume(d, ct, op->dir, op->keep, &op->kept);
	st_info("resumed container %s (init pid %d, %.0f ms)", ct->ctid, (int)ct->pid,
		op->res.total_ms);
	return 0;
}

/* ---- the requests: CRIU on a start worker ---- */

static int op_begin(struct daemon *d, struct ckpt_op *op, struct st_error **err)
{
	return op->suspend ? suspend_begin(d, op, err) : resume_begin(d, op, err);
}

static void op_work(void *data)
{
	struct ckpt_op *op = data;

	if (op->suspend)
		suspend_work(op);
	else
		resume_work(op);
}

static int op_end(struct daemon *d, struct ckpt_op *op, struct st_error **err)
{
	return op->suspend ? suspend_end(d, op, err) : resume_end(d, op, err);
}

/* The whole of a suspend or resume on this thread (the loop's, with the
 * container locked): the op for its results, freed by the caller; *r. */
static struct ckpt_op *op_run_here(struct daemon *d, struct ct *ct, bool suspend,
				   const struct ct_ckpt_opts *o, int *r, struct st_error **err)
{
	struct ckpt_op *op = op_new(ct, suspend, o);

	if (!op) {
		*r = st_error_set(err, ENOMEM, "%s %s", suspend ? "suspend" : "resume", ct->ctid);
		return NULL;
	}
	*r = op_begin(d, op, err);
	if (*r == 0) {
		op_work(op);
		*r = op_end(d, op, err);
	}
	return op;
}

int ct_do_suspend_opts(struct daemon *d, struct ct *ct, struct ct_ckpt_opts *o,
		       struct st_error **err)
{
	int r;
	struct ckpt_op *op = op_run_here(d, ct, true, o, &r, err);

	if (op && r == 0 && o) {
		o->total_ms = op->res.total_ms;
		o->frozen_ms = op->res.frozen_ms;
		o->image_bytes = op->res.image_bytes;
	}
	op_free(op);
	return r;
}

int ct_do_suspend(struct daemon *d, struct ct *ct, struct st_error **err)
{
	return ct_do_suspend_opts(d, ct, NULL, err);
}

int ct_do_resume_opts(struct daemon *d, struct ct *ct, const struct ct_ckpt_opts *o, char **kept,
		      struct st_error **err)
{
	int r;
	struct ckpt_op *op = op_run_here(d, ct, false, o, &r, err);

	if (op && r == 0)
		*kept = take_ptr(op->kept);
	op_free(op);
	return r;
}

int ct_do_resume(struct daemon *d, struct ct *ct, struct st_error **err)
{
	_cleanup_free_ char *kept = NULL;

	return ct_do_resume_opts(d, ct, NULL, &kept, err);
}

static json_t *op_result(struct ckpt_op *op)
{
	if (!op->suspend)
		return json_pack("{s:s?}", "kept", op->kept);
	/* frozen_ms: from the freeze to the kill, what a migration is judged by */
	return json_pack("{s:s?, s:f, s:f, s:I}", "dumpfile", op->dir, "total_ms", op->res.total_ms,
			 "frozen_ms", op->res.frozen_ms, "image_bytes",
			 (json_int_t)op->res.image_bytes);
}

static void op_fin(struct daemon *d, void *data, bool ran)
{
	struct ckpt_op *op = data;
	_cleanup_error_ struct st_error *err = NULL;
	int r;

	if (!ran) {
		op->r = -1;
		st_error_setx(&op->err, ST_EXIT_FAILED, 0, "stratad is shutting down");
	}
	r = op_end(d, op, &err);
	op->done(d, op->ct, op->data, r, err, r == 0 ? op_result(op) : NULL);
	op_free(op);
}

int ct_ckpt_start(struct daemon *d, struct ct *ct, bool suspend, const struct ct_ckpt_opts *o,
		  ct_ckpt_done_fn *done, void *data, json_t **result, struct st_error **err)
{
	struct ckpt_op *op = op_new(ct, suspend, o);
	int r;

	if (!op)
		return st_error_set(err, ENOMEM, "%s %s", suspend ? "suspend" : "resume", ct->ctid);
	op->done = done;
	op->data = data;
	r = op_begin(d, op, err);
	if (r < 0) {
		op_free(op);
		return r;
	}
	if (pool_submit_work(d, op_work, op_fin, op))
		return 1;
	op_work(op); /* no worker (one CPU, or shutting down): on the loop */
	r = op_end(d, op, err);
	if (r == 0)
		*result = op_result(op);
	op_free(op);
	return r;
}

/* A client's request ends: the reply, the container to the next in line. */
static void request_done(struct daemon *d, struct ct *ct, void *data, int r, struct st_error *err,
			 json_t *result)
{
	struct conn *c = data;

	if (ct->owner == c)
		ct_unlock(d, ct);
	if (r < 0)
		reply_error(c, err);
	else
		reply_ok(c, result);
	conn_done(c);
	conn_unref(c);
}

int ct_ckpt_request(struct daemon *d, struct ct *ct, struct conn *c, bool suspend,
		    const struct ct_ckpt_opts *o, json_t **result, struct st_error **err)
{
	int r;

	c->refs++;
	r = ct_ckpt_start(d, ct, suspend, o, request_done, c, result, err);
	if (r != 1)
		c->refs--; /* answered by the caller */
	return r;
}
#else
int ct_do_suspend(struct daemon *d, struct ct *ct, struct st_error **err)
{
	(void)d;
	return st_error_setx(err, ST_EXIT_NOFEATURE, 0,
			     "suspend %s: this stratad was built without checkpoint/restore",
			     ct->ctid);
}

int ct_do_resume(struct daemon *d, struct ct *ct, struct st_error **err)
{
	(void)d;
	return st_error_setx(err, ST_EXIT_NOFEATURE, 0,
			     "resume %s: this stratad was built without checkpoint/restore",
			     ct->ctid);
}

int ct_do_suspend_opts(struct daemon *d, struct ct *ct, struct ct_ckpt_opts *o,
		       struct st_error **err)
{
	(void)o;
	return ct_do_suspend(d, ct, err);
}

int ct_do_resume_opts(struct daemon *d, struct ct *ct, const struct ct_ckpt_opts *o, char **kept,
		      struct st_error **err)
{
	(void)o;
	(void)kept;
	return ct_do_resume(d, ct, err);
}

int ct_ckpt_start(struct daemon *d, struct ct *ct, bool suspend, const struct ct_ckpt_opts *o,
		  ct_ckpt_done_fn *done, void *data, json_t **result, struct st_error **err)
{
	(void)o;
	(void)done;
	(void)data;
	(void)result;
	return suspend ? ct_do_suspend(d, ct, err) : ct_do_resume(d, ct, err);
}

int ct_ckpt_request(struct daemon *d, struct ct *ct, struct conn *c, bool suspend,
		    const struct ct_ckpt_opts *o, json_t **result, struct st_error **err)
{
	(void)c;
	return ct_ckpt_start(d, ct, suspend, o, NULL, NULL, result, err);
}
#endif
