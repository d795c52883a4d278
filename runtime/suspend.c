/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * suspend / resume: checkpoint a running container to
 * STATE_DIR/dumps/CTID with CRIU (runtime/checkpoint.c) and restore it.
 * The CRIU call itself runs in checkpoint.c's helper process with a timeout;
 * the daemon waits for it (a suspend or resume holds the loop for the
 * duration of that one CRIU call).
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

int ct_do_suspend_opts(struct daemon *d, struct ct *ct, struct ct_ckpt_opts *o,
		       struct st_error **err)
{
	_cleanup_free_ char *def = ct_dump_dir(d, ct), *parent = NULL, *dir = NULL;
	struct ct_ckpt_params p;
	struct ct_ckpt_result res = { .pidfd = -1 };
	bool custom = o && o->dumpfile && *o->dumpfile;
	struct stat st;
	siginfo_t si;

	if (!def)
		return st_error_set(err, ENOMEM, "suspend %s", ct->ctid);
	if (ct->run != CT_RUNNING)
		return st_error_setx(err, ST_EXIT_NOTRUNNING, 0,
				     "suspend %s: container is not running", ct->ctid);
	if (custom && o->dumpfile[0] != '/')
		return st_error_setx(err, ST_EXIT_BADARG, 0,
				     "suspend %s: --dumpfile `%s` is not an absolute path",
				     ct->ctid, o->dumpfile);
	if (asprintf(&parent, "%s/dumps", d->g->state_dir) < 0)
		return st_error_set(err, ENOMEM, "suspend %s", ct->ctid);
	if (mkdir(parent, 0700) < 0 && errno != EEXIST)
		return st_error_setx(err, ST_EXIT_CHKPNT, errno, "suspend %s: create `%s`",
				     ct->ctid, parent);
	dir = strdup(custom ? o->dumpfile : def);
	if (!dir)
		return st_error_set(err, ENOMEM, "suspend %s", ct->ctid);
	if (custom && ct_checkpoint_exists(dir))
		return st_error_setx(err, ST_EXIT_CHKPNT, EEXIST,
				     "suspend %s: `%s` already holds a checkpoint", ct->ctid, dir);
	/* a link left by an earlier --dumpfile suspend that was resumed elsewhere */
	if (lstat(def, &st) == 0 && S_ISLNK(st.st_mode))
		unlink(def);
	ckpt_params(d, ct, dir, &p);
	{ /* a systemd guest started without it has it after its next start */
		_cleanup_error_ struct st_error *e = NULL;

		if (ct->root &&
		    ct_checkpoint_guest_prepare(ct->root, ct->id_base, ct->id_base, &e) < 0)
			st_warn("suspend %s: %s", ct->ctid, e->msg);
	}
	if (ct_checkpoint_dump(&p, &res, err) < 0) {
		if (*err && (*err)->exit_code != ST_EXIT_TIMEOUT)
			(*err)->exit_code = ST_EXIT_CHKPNT;
		return st_error_prefix(err, "suspend %s", ct->ctid);
	}
	/* CRIU killed the tasks: reap the init, then undo the start */
	if (ct->our_child)
		waitid((idtype_t)P_PIDFD, (id_t)ct->init_w.fd, &si, WEXITED);
	ct_cleanup_after_exit(d, ct);
	if (custom && symlink(dir, def) < 0)
		st_warn("suspend %s: link `%s` to `%s`: %s", ct->ctid, def, dir, strerror(errno));
	st_info("suspended container %s to %s (%.0f ms, frozen %.0f ms, synced in %.0f ms, "
		"%" PRIu64 " pages)",
		ct->ctid, dir, res.total_ms, res.frozen_ms, res.sync_ms, res.pages);
	if (o) {
		o->total_ms = res.total_ms;
		o->frozen_ms = res.frozen_ms;
		o->image_bytes = res.image_bytes;
	}
	return 0;
}

int ct_do_suspend(struct daemon *d, struct ct *ct, struct st_error **err)
{
	return ct_do_suspend_opts(d, ct, NULL, err);
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
		if (ct_checkpoint_remove_async(dir, &e) < 0)
			st_warn("resume %s: %s", ct->ctid, e->msg);
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

int ct_do_resume_opts(struct daemon *d, struct ct *ct, const struct ct_ckpt_opts *o, char **kept,
		      struct st_error **err)
{
	_cleanup_free_ char *dir = ckpt_dir_for(d, ct, o);
	struct ct_ckpt_params p;
	struct ct_ckpt_result res = { .pidfd = -1 };
	int slave = -EBADF;

	if (!dir)
		return st_error_set(err, ENOMEM, "resume %s", ct->ctid);
	if (ct->run != CT_STOPPED)
		return st_error_setx(err, ST_EXIT_RUNNING, 0, "resume %s: container is running",
				     ct->ctid);
	if (!ct_checkpoint_exists(dir))
		return st_error_setx(err, ST_EXIT_RESTORE, 0,
				     "resume %s: no checkpoint in `%s` (suspend it first)",
				     ct->ctid, dir);
	/* root, cgroups with limits: what start makes before the init */
	if (ct_prepare_run(d, ct, err) < 0)
		goto fail;
	if (ct_console_open(d, ct, &slave, err) < 0)
		goto fail;
	ckpt_params(d, ct, dir, &p);
	p.console_fd = slave;
	if (strcmp(ct_net_mode(ct), "none") && strcmp(ct_net_mode(ct), "host")) {
		/* the veth's host end is recreated by CRIU */
		if (asprintf(&ct->netdev, "veth%s", ct->ctid) < 0) {
			st_error_set(err, ENOMEM, "resume %s", ct->ctid);
			goto fail;
		}
		p.veth_ct = "eth0";
		p.veth_host = ct->netdev;
	}
	if (ct_checkpoint_restore(&p, &res, err) < 0) {
		close(slave);
		goto fail;
	}
	close(slave);
	if (p.veth_host && !strcmp(ct_net_mode(ct), "routed")) {
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
					     .host_ifname = p.veth_host,
					     .ct_ifname = "eth0",
					     .addrs = addrs,
					     .n_addrs = n };
		if (ksal_nl_open(&nl, err) < 0 || ct_net_routed_reattach(nl, &cfg, err) < 0) {
			if (nl)
				ksal_nl_close(nl);
			st_warn("resume %s: %s", ct->ctid, (*err)->msg);
			st_error_freep(err);
		} else {
			ksal_nl_close(nl);
		}
	}
	ct->pid = res.pid;
	ct->start_time = res.start_time;
	ct->init_w.fd = res.pidfd;
	/* restored detached: reparented to us, the child subreaper */
	ct->our_child = ppid_of(res.pid) == getpid();
	ct->run = CT_RUNNING;
	watch_add(d, &ct->init_w, EPOLLIN);
	{
		_cleanup_error_ struct st_error *e2 = NULL;
		if (ct_state_write(d, ct, &e2) < 0)
			st_warn("resume %s: %s", ct->ctid, e2->msg);
	}
	ckpt_after_resume(d, ct, dir, o && o->keep, kept);
	st_info("resumed container %s (init pid %d, %.0f ms)", ct->ctid, (int)ct->pid,
		res.total_ms);
	return 0;
fail:
	if (*err && (*err)->exit_code != ST_EXIT_TIMEOUT)
		(*err)->exit_code = ST_EXIT_RESTORE;
	st_error_prefix(err, "resume %s", ct->ctid);
	/* stratad made no host link yet and CRIU removed its own: a link by
	 * that name now is not ours to delete */
	free(ct->netdev);
	ct->netdev = NULL;
	ct_cleanup_after_exit(d, ct);
	return -1;
}

int ct_do_resume(struct daemon *d, struct ct *ct, struct st_error **err)
{
	_cleanup_free_ char *kept = NULL;

	return ct_do_resume_opts(d, ct, NULL, &kept, err);
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
#endif
