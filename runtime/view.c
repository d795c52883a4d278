/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The view from inside: one lxcfs per host serving every container's
 * /proc/meminfo, cpuinfo, stat, uptime... (runtime/lxcfs.c, the lxcfs area).
 * Started at daemon start when LXCFS=yes (the default) and lxcfs is
 * there; restarted (and re-bound into running containers) if it dies. A
 * missing lxcfs is logged once and containers start without the view.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "runtime/daemon.h"

#ifdef HAVE_LXCFS
#include "runtime/lxcfs.h"

static void view_watch(struct daemon *d)
{
	d->lxcfs_w = (struct watch){ W_LXCFS, lxcfs_pidfd(d->lxcfs), d };
	if (d->lxcfs_w.fd >= 0 && watch_add(d, &d->lxcfs_w, EPOLLIN) < 0)
		st_warn("lxcfs: watch: %s", strerror(errno));
}

void view_start(struct daemon *d)
{
	_cleanup_error_ struct st_error *err = NULL;
	_cleanup_free_ char *mnt = NULL;

	d->lxcfs_w.fd = -EBADF;
	if (!d->g->lxcfs)
		return;
	if (lxcfs_available(&err) < 0) {
		st_warn("%s", err->msg);
		return;
	}
	if (asprintf(&mnt, "%s/lxcfs", d->g->run_dir) < 0)
		return;
	if (lxcfs_start(mnt, &d->lxcfs, &err) < 0) {
		st_warn("the view from inside is off: %s", err->msg);
		d->lxcfs = NULL;
		return;
	}
	st_info("lxcfs serving the view from inside on %s (pid %d)", mnt, (int)lxcfs_pid(d->lxcfs));
	view_watch(d);
}

void view_on_exit(struct daemon *d)
{
	_cleanup_error_ struct st_error *err = NULL;

	if (!d->lxcfs)
		return;
	watch_del(d, &d->lxcfs_w);
	st_warn("lxcfs (pid %d) died: restarting it", (int)lxcfs_pid(d->lxcfs));
	if (lxcfs_restart(d->lxcfs, &err) < 0) {
		st_warn("the view from inside is off: %s", err->msg);
		lxcfs_stop(d->lxcfs);
		d->lxcfs = NULL;
		return;
	}
	view_watch(d);
	for (struct ct *ct = d->cts; ct; ct = ct->next) {
		if (ct->run != CT_RUNNING)
			continue;
		if (lxcfs_rebind(d->lxcfs, ct->pid, &err) < 0) {
			st_warn("lxcfs: container %s: %s", ct->ctid, err->msg);
			st_error_freep(&err);
		}
	}
}

void view_stop(struct daemon *d)
{
	bool running = false;

	if (!d->lxcfs)
		return;
	for (struct ct *ct = d->cts; ct; ct = ct->next)
		if (ct->run != CT_STOPPED)
			running = true;
	watch_del(d, &d->lxcfs_w);
	/* containers still running keep their view; the next stratad adopts it */
	if (running)
		lxcfs_free(d->lxcfs);
	else
		lxcfs_stop(d->lxcfs);
	d->lxcfs = NULL;
}

int view_binds(struct daemon *d, struct ksal_bind **binds, size_t *n)
{
	_cleanup_error_ struct st_error *err = NULL;

	*binds = NULL;
	*n = 0;
	if (!d->lxcfs)
		return 0;
	if (lxcfs_binds(d->lxcfs, binds, n, &err) < 0) {
		st_warn("lxcfs: %s", err->msg);
		*binds = NULL;
		*n = 0;
	}
	return 0;
}

void view_binds_free(struct ksal_bind *binds, size_t n)
{
	lxcfs_binds_free(binds, n);
}
#else
void view_start(struct daemon *d)
{
	d->lxcfs_w.fd = -EBADF;
}

void view_on_exit(struct daemon *d)
{
	(void)d;
}

void view_stop(struct daemon *d)
{
	(void)d;
}

int view_binds(struct daemon *d, struct ksal_bind **binds, size_t *n)
{
	(void)d;
	*binds = NULL;
	*n = 0;
	return 0;
}

void view_binds_free(struct ksal_bind *binds, size_t n)
{
	(void)n;
	free(binds);
}
#endif
