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
#include <sys/epoll.h>
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

int ct_do_suspend(struct daemon *d, struct ct *ct, struct st_error **err)
{
	_cleanup_free_ char *dir = ct_dump_dir(d, ct), *parent = NULL;
	struct ct_ckpt_params p;
	struct ct_ckpt_result res = { .pidfd = -1 };
	siginfo_t si;

	if (!dir)
		return st_error_set(err, ENOMEM, "suspend %s", ct->ctid);
	if (ct->run != CT_RUNNING)
		return st_error_setx(err, ST_EXIT_NOTRUNNING, 0,
				     "suspend %s: container is not running", ct->ctid);
	if (asprintf(&parent, "%s/dumps", d->g->state_dir) < 0)
		return st_error_set(err, ENOMEM, "suspend %s", ct->ctid);
	if (mkdir(parent, 0700) < 0 && errno != EEXIST)
		return st_error_setx(err, ST_EXIT_CHKPNT, errno, "suspend %s: create `%s`",
				     ct->ctid, parent);
	ckpt_params(d, ct, dir, &p);
	if (ct_checkpoint_dump(&p, &res, err) < 0) {
		if (*err)
			(*err)->exit_code = ST_EXIT_CHKPNT;
		return st_error_prefix(err, "suspend %s", ct->ctid);
	}
	/* CRIU killed the tasks: reap the init, then undo the start */
	if (ct->our_child)
		waitid((idtype_t)P_PIDFD, (id_t)ct->init_w.fd, &si, WEXITED);
	ct_cleanup_after_exit(d, ct);
	st_info("suspended container %s to %s (%.0f ms, %" PRIu64 " pages)", ct->ctid, dir,
		res.total_ms, res.pages);
	return 0;
}

int ct_do_resume(struct daemon *d, struct ct *ct, struct st_error **err)
{
	_cleanup_free_ char *dir = ct_dump_dir(d, ct);
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
		struct ct_net_routed cfg = { .ctid = ct->ctid, .host_ifname = p.veth_host,
					     .ct_ifname = "eth0", .addrs = addrs, .n_addrs = n };
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
	ct->our_child = false; /* restored detached */
	ct->run = CT_RUNNING;
	watch_add(d, &ct->init_w, EPOLLIN);
	{
		_cleanup_error_ struct st_error *e2 = NULL;
		if (ct_state_write(d, ct, &e2) < 0)
			st_warn("resume %s: %s", ct->ctid, e2->msg);
		if (ct_checkpoint_remove(dir, &e2) < 0)
			st_warn("resume %s: %s", ct->ctid, e2->msg);
	}
	st_info("resumed container %s (init pid %d, %.0f ms)", ct->ctid, (int)ct->pid,
		res.total_ms);
	return 0;
fail:
	if (*err)
		(*err)->exit_code = ST_EXIT_RESTORE;
	st_error_prefix(err, "resume %s", ct->ctid);
	ct_cleanup_after_exit(d, ct);
	return -1;
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
#endif
