/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Internals of runtime/checkpoint*.c. */
#ifndef STRATA_RUNTIME_CHECKPOINT_INTERNAL_H
#define STRATA_RUNTIME_CHECKPOINT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ksal/cgroup.h"
#include "runtime/checkpoint.h"

/* One external mount: CRIU's key, where it is inside, its host source. */
struct ckpt_ext {
	char *key;
	char *mountpoint;
	char *host_path;
};

void ckpt_ext_free(struct ckpt_ext *e, size_t n);
/* Every external mount of the container whose init is pid (plus extra). */
int ckpt_ext_find(pid_t pid, const struct ct_ckpt_mount *extra, size_t n_extra,
		  struct ckpt_ext **out, size_t *n_out, struct st_error **err);
/* The same from two mountinfo files (the container's, the daemon's). */
int ckpt_ext_find_in(const char *ct_mountinfo, const char *host_mountinfo,
		     const struct ct_ckpt_mount *extra, size_t n_extra, struct ckpt_ext **out,
		     size_t *n_out, struct st_error **err);
/* Kept in the image dir as CT_CKPT_EXT_FILE, one "key\tmountpoint\thost\n" a line. */
int ckpt_ext_save(int dirfd, const struct ckpt_ext *e, size_t n, struct st_error **err);
int ckpt_ext_load(int dirfd, struct ckpt_ext **out, size_t *n_out, struct st_error **err);

struct stat;
/* CRIU's name of an external tty: "tty[rdev:dev]", both in hex. */
int ckpt_tty_key(const struct stat *st, char *buf, size_t len);
/*
 * The console to declare external in a dump of the container whose init is
 * pid: the pty slave on the init's stdio, else on the container's
 * /dev/console, that is not of a devpts the container mounted itself (the
 * pty of the stratad that started it, alive or not: after a restart of
 * stratad it is the only record of it), else the slave console_fd (> 0)
 * stratad holds. Its key into buf: 1; none: 0;
 * -1 with err.
 */
int ckpt_console_find(pid_t pid, int console_fd, char *buf, size_t len, struct st_error **err);
/*
 * Before a restore onto the new console console_fd: an external tty the
 * dump found hung up (its termios unreadable: the pty of a stratad that
 * was killed) gets the new console's termios, locked termios and window
 * size in the images' tty-info.img, which CRIU needs to restore it; an
 * external mount CRIU saw deleted (the bind of that pty on /dev/console)
 * is bound from the new source as it is, not re-created (mountpoints-*.img).
 * 0 (also when there is nothing to do), or -1 with err.
 */
int ckpt_console_images_fix(int dirfd, int console_fd, struct st_error **err);

/* checkpoint_guest.c: the systemd drop-in (see ct_checkpoint_guest_prepare),
 * relative to the guest's root. */
#define CKPT_DROPIN_DIR "etc/systemd/system/service.d"
#define CKPT_DROPIN_NAME "10-strata-checkpoint.conf"
/* Before a dump: a task of the container in a UTS or IPC namespace other
 * than its init's (CRIU cannot dump one) is an error naming it; 0 if there
 * is none. */
int ckpt_nested_ns_check(pid_t init, struct st_error **err);
/* The cgroups the guest made (cgroup2 and name=systemd), kept in the image
 * dir as CT_CKPT_CGDIRS_FILE at the dump (0 or -errno), made again before
 * the restore (a failure only warns: CRIU then says what is missing). */
#define CT_CKPT_CGDIRS_FILE "strata-cgdirs"
int ckpt_cgdirs_save(struct ksal_cgroup *cg, int dirfd);
void ckpt_cgdirs_make(struct ksal_cgroup *cg, int dirfd, const char *ctid);

/* checkpoint_images.c: the image directory. */
/* What the forked helper tells the parent (a MAP_SHARED page). */
struct ckpt_shared {
	double frozen_at; /* CLOCK_MONOTONIC ms when the cgroup was frozen, 0: not */
	double freeze_ms; /* how long the freeze took */
	double sync_ms;	  /* post-dump: syncing the images and the upper layer */
	int committed;	  /* post-dump: the images are durable under images_dir */
	int err;	  /* post-dump: errno of a failed commit */
	char msg[512];	  /* and what failed */
};

/* The dump's commit, done by the helper in CRIU's post-dump notification:
 * after CRIU wrote every image, before it kills the tasks. */
struct ckpt_commit {
	struct ksal_cgroup *cg; /* pre-dump: frozen here, NULL: not at all */
	int dirfd;		/* the temporary image dir */
	const char *tmp, *final, *old;
	const char *root;   /* the container's root: syncfs reaches its upper layer */
	const char *marker; /* the marker's text */
	struct ckpt_shared *sh;
};
/* post-dump, in the helper: marker, syncfs of the images and of the upper
 * layer, rename into place, fsync of the parent. 0, or -1 with c->sh->err
 * and msg set (nothing renamed). Stops the writeback kicker first. */
int ckpt_commit_images(const struct ckpt_commit *c);
/* In the helper during the dump: start the writeback of the memory images
 * every few ms (a thread), so the commit's sync waits only for the tail. */
void ckpt_wb_kick_start(int dirfd);
void ckpt_wb_kick_stop(void);
double ckpt_now_ms(void); /* CLOCK_MONOTONIC */

int ckpt_rm_rf(const char *path);	  /* 0 or -errno; a missing path is fine */
uint64_t ckpt_dir_bytes(int dirfd);	  /* bytes of its regular files */
int ckpt_mkdir_parents(const char *path); /* mkdir -p of path's parents */
/* Images readable by the restored tasks (the container's root). */
void ckpt_images_open_up(int dirfd);
/* CRIU's stats-dump (dump) or stats-restore image into r's timings. */
void ckpt_stats_read(int dirfd, bool dump, struct ct_ckpt_result *r);
/* A small file of the image dir: write text; read its first line
 * (malloc'd, NULL if there is none). */
int ckpt_write_small(int dirfd, const char *name, const char *text);
char *ckpt_read_small(int dirfd, const char *name);

#endif
