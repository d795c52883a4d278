/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The view from inside: LXCFS (Debian's lxcfs 5.0.x), managed by the daemon,
 * so that /proc/meminfo, cpuinfo, stat, uptime, loadavg, swaps, diskstats
 * and /sys/devices/system/cpu/online inside a container show the
 * container's own limits and usage.
 *
 * lxcfs decides what to show by the cgroups of the *reading* process
 * (/proc/PID/cgroup of the reader): a container's processes must sit in
 * their own memory, cpu, cpuacct and cpuset cgroups, which Strata's do.
 * It works on this hybrid host (it reads the v1 controllers).
 *
 * One lxcfs process per daemon serves every container: it runs in the
 * foreground (lxcfs 5 does not daemonize), in its own session, with its
 * pidfile at "<mountpoint>.pid" and its log at "<mountpoint>.log", so it
 * outlives a daemon restart and the next lxcfs_start adopts it.
 *
 * When lxcfs dies the FUSE mount stays but every read on it fails with
 * ENOTCONN (`Transport endpoint is not connected`), and so does every read
 * of a bind of it inside a running container (`free` then fails there).
 * lxcfs_restart detaches the dead mount and starts a new lxcfs on the same
 * mountpoint: containers started afterwards are served. Running ones still
 * hold binds of the dead connection until lxcfs_rebind replaces them in
 * their mount namespace (the daemon calls it for every running container
 * after a restart).
 */
#ifndef STRATA_RUNTIME_LXCFS_H
#define STRATA_RUNTIME_LXCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ksal/error.h"
#include "ksal/spawn.h"

struct lxcfs;

/*
 * Whether the view from inside can be on here: an lxcfs binary (PATH, then
 * /usr/bin) and a usable /dev/fuse. 0 if so; otherwise a negative value
 * and err says what is missing ("the view from inside is off: lxcfs not
 * found ..."), exit code ST_EXIT_NOFEATURE. The daemon logs that once and
 * starts containers without the binds rather than failing them.
 */
int lxcfs_available(struct st_error **err);

/*
 * Serve lxcfs on mountpoint (e.g. /run/strata/lxcfs; made if missing, its
 * parent must exist). Adopts an lxcfs already serving there (its pidfile
 * names a live lxcfs and the mount answers); detaches a dead mount left
 * there; otherwise starts one (--enable-cfs --enable-loadavg
 * --enable-pidfd) and waits up to 10 s until the mount answers.
 */
int lxcfs_start(const char *mountpoint, struct lxcfs **out, struct st_error **err);

/* The process serving the mount and a pidfd that turns readable when it
 * exits (for the daemon's epoll). The handle owns the pidfd. */
pid_t lxcfs_pid(const struct lxcfs *l);
int lxcfs_pidfd(const struct lxcfs *l);
const char *lxcfs_mountpoint(const struct lxcfs *l);

/* The process is alive and a read of <mnt>/proc/meminfo succeeds. */
bool lxcfs_healthy(const struct lxcfs *l);

/* Reap or kill the old process, detach its (dead) mount, start a new
 * lxcfs on the same mountpoint. Running containers need lxcfs_rebind. */
int lxcfs_restart(struct lxcfs *l, struct st_error **err);

/*
 * The read-only bind mounts that put the view inside a container, for
 * ksal_spawn_cfg.binds: source <mnt>/proc/meminfo -> target /proc/meminfo
 * and the same for cpuinfo, stat, uptime, loadavg, swaps, diskstats, and
 * <mnt>/sys/devices/system/cpu/online. Only files lxcfs provides are
 * listed: which ones is found once per lxcfs instance (lxcfs_start,
 * lxcfs_restart; an open error other than ENOENT fails those), and each
 * comes with an O_PATH fd of its source (use_fd) that the locked spawn
 * clones without a walk of the FUSE mount. *binds and those fds are the
 * caller's (lxcfs_binds_free); its strings belong to l and stay valid until
 * lxcfs_stop.
 */
int lxcfs_binds(const struct lxcfs *l, struct ksal_bind **binds, size_t *n, struct st_error **err);
void lxcfs_binds_free(struct ksal_bind *binds, size_t n);

/*
 * Replace the view's binds inside the running container whose init is pid
 * (its mount namespace) with binds of the current mount: after
 * lxcfs_restart, a container's /proc/meminfo etc. work again without a
 * restart of the container. Each target is detached (the dead bind) and a
 * fresh read-only clone of the source is moved onto it.
 */
int lxcfs_rebind(const struct lxcfs *l, pid_t pid, struct st_error **err);

/* Stop lxcfs (SIGKILL: it keeps no state; SIGTERM would take up to 6 s),
 * detach its mount, remove its pidfile, free the handle. Containers still
 * running lose their view (reads fail with ENOTCONN): call it only when no
 * container runs; at daemon exit use lxcfs_free. */
void lxcfs_stop(struct lxcfs *l);
/* Free the handle only; lxcfs keeps serving (daemon exit: the next daemon
 * adopts it). */
void lxcfs_free(struct lxcfs *l);

#endif
