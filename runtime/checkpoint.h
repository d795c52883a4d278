/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Checkpoint and restore of a running container with CRIU (libcriu, its
 * service binary from ksal_criu_path()). Plain functions over plain
 * parameters: they know no daemon structure.
 *
 * Dump (suspend): once CRIU has started (its pre-dump notification) the
 * container's freezer cgroup is frozen (here: CRIU polls freezer.state only
 * every 100 ms), the tree is dumped from its init with
 * cgroups (soft mode), established TCP, file locks, link-remap and its
 * network namespace (lo must be up in the caller's: CRIU probes TCP repair
 * there); the veth's container end is
 * declared as an external pair; every mount whose source lies outside the
 * container (device-node binds, /dev/null over masked files, host binds such
 * as the init) is declared external, found from /proc/PID/mountinfo and
 * recorded in the images (file `strata-ext`) so the restore needs no list.
 * Images go to `<images_dir>.tmp`. In CRIU's post-dump notification, with
 * every image written and the tasks still frozen, the marker `strata-ckpt`
 * is added, the images' filesystem and the container's upper layer are
 * synced (syncfs), the dir is renamed to images_dir and its parent fsynced;
 * only then does CRIU kill the tasks: a crash at any moment leaves either a
 * running container or a complete checkpoint on disk.
 * On failure the tasks are thawed and keep running, the temporary images are
 * removed, CRIU's log is kept as `<images_dir>.dump.log` and the error
 * carries its last error lines.
 *
 * Restore (resume): from images_dir into the composed root (must be
 * mounted), into the same cgroup paths (pre-create them: soft mode restores
 * properties only on cgroups CRIU had to create), with the veth's host end
 * recreated as veth_host (its addresses and routes are the caller's job:
 * CRIU creates it down and bare). Restored detached: the restored init is
 * reparented to the nearest child subreaper, so the daemon should be one
 * (prctl(PR_SET_CHILD_SUBREAPER)) to read its exit status; a pidfd is
 * returned either way. On failure the images stay and a retry works.
 *
 * Every CRIU step runs in a forked helper in its own process group, killed
 * with SIGKILL (and the container's cgroup emptied on a restore) when it
 * overruns timeout_ms.
 */
#ifndef STRATA_RUNTIME_CHECKPOINT_H
#define STRATA_RUNTIME_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ksal/cgroup.h"
#include "ksal/error.h"

#define CT_CKPT_TIMEOUT_MS_DEFAULT 120000
#define CT_CKPT_MARKER "strata-ckpt"  /* present only in a complete image dir */
#define CT_CKPT_EXT_FILE "strata-ext" /* external mounts: key, mountpoint, host path */
#define CT_CKPT_DUMP_LOG "dump.log"   /* CRIU's logs, inside the image dir */
#define CT_CKPT_RESTORE_LOG "restore.log"
#define CT_CKPT_CONSOLE_FILE "strata-console" /* CRIU's key of the external console tty */

/* An extra external bind mount: where it is in the container, and what host
 * path to bind there on restore. Normally not needed (found automatically). */
struct ct_ckpt_mount {
	const char *mountpoint; /* inside the container, e.g. "/sbin/init" */
	const char *host_path;	/* e.g. "/usr/lib/strata/init" */
};

struct ct_ckpt_params {
	const char *ctid;	/* for messages */
	pid_t init_pid;		/* dump: host pid of the container's init */
	const char *root;	/* restore: the composed root, mounted */
	struct ksal_cgroup *cg; /* the container's cgroups: freezer path, thaw, emptiness */
	const char *images_dir; /* final image dir, e.g. /var/lib/strata/dumps/101 */
	const char *criu_path;	/* NULL: ksal_criu_path(NULL) */

	/* veth: container end ct_ifname ("eth0"), host end host_ifname
	 * ("veth101"); on restore the host end goes into bridge if set.
	 * NULL: the container has no veth. */
	const char *veth_ct, *veth_host, *veth_bridge;

	/* The console: a pty slave whose master stays outside the container.
	 * Dump: the slave the container has (its stdio and /dev/console),
	 * declared an external tty; 0 or -1: none (a zeroed struct has none).
	 * Restore: the slave of a new pty (needed when the dump had one),
	 * handed to the restored tasks in place of the old one and bound on
	 * /dev/console. */
	int console_fd;

	const struct ct_ckpt_mount *ext_mounts; /* extra ones, rarely needed */
	size_t n_ext_mounts;

	int timeout_ms;	    /* each CRIU step; 0: CT_CKPT_TIMEOUT_MS_DEFAULT */
	int log_level;	    /* CRIU's, 0: 4 (debug: what a field problem needs) */
	bool leave_running; /* dump only: keep the container running (no kill) */
};

struct ct_ckpt_result {
	/* restore */
	pid_t pid;	     /* host pid of the restored init */
	int pidfd;	     /* owned by the caller (-1 after a dump) */
	uint64_t start_time; /* /proc/PID/stat field 22, for the state file */

	/* figures */
	double total_ms;      /* the whole call */
	double criu_ms;	      /* the CRIU request itself */
	double freeze_ms;     /* dump: freezing the cgroup */
	double frozen_ms;     /* dump: from the freeze until the killed tree is thawed */
	double sync_ms;	      /* dump: making the images durable (within frozen_ms) */
	uint64_t freezing_us; /* CRIU stats: time to freeze */
	uint64_t frozen_us;   /* dump: frozen until killed; restore: restore time */
	uint64_t memdump_us;  /* dump: memory dump */
	uint64_t memwrite_us; /* dump: memory write */
	uint64_t pages;	      /* pages written (dump) / restored (restore) */
	uint64_t image_bytes; /* size of the image dir after a dump */
};

/* Suspend: dump the container (kills it unless p->leave_running). */
int ct_checkpoint_dump(const struct ct_ckpt_params *p, struct ct_ckpt_result *r,
		       struct st_error **err);
/* Resume: restore from p->images_dir; r->pid/pidfd/start_time are the init's. */
int ct_checkpoint_restore(const struct ct_ckpt_params *p, struct ct_ckpt_result *r,
			  struct st_error **err);
/*
 * Before a systemd guest boots (its composed root, owned by uid:gid on the
 * host): a drop-in etc/systemd/system/service.d/10-strata-checkpoint.conf
 * with ProtectHostname=no, so no service gets a UTS namespace of its own,
 * which CRIU cannot dump. Not a systemd guest, or the file there already:
 * nothing done. 0, or -1 with err.
 */
int ct_checkpoint_guest_prepare(const char *root, uid_t uid, gid_t gid, struct st_error **err);
/* Is there a complete checkpoint in images_dir? */
bool ct_checkpoint_exists(const char *images_dir);
/* Remove a checkpoint (and a stale `.tmp`); a missing one is not an error. */
int ct_checkpoint_remove(const char *images_dir, struct st_error **err);
/* The same without waiting: images_dir (and its `.tmp`) renamed away at
 * once to *gone (*gone_tmp), NULL where there was none, whose removal is the
 * caller's (stratad's closer thread). A name that cannot be renamed is an
 * error and stays where it is. */
int ct_checkpoint_retire(const char *images_dir, char **gone, char **gone_tmp,
			 struct st_error **err);

/* The tail of a CRIU log: its last `max` lines starting with "Error", else
 * its last `max` lines, joined with "; ". malloc'd, NULL if unreadable. */
char *ct_checkpoint_log_tail(const char *log_path, int max);

#endif
