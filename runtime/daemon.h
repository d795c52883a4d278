/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stratad internals: one event loop (epoll) owns every fd; a container is a
 * struct ct in the registry, supervised through its init's pidfd. No thread
 * and no helper process per container; long jobs (template builds) run in a
 * forked worker that writes its progress straight to the client. The
 * blocking part of a start runs on a small pool of threads (START_WORKERS,
 * runtime/startpool.c), under the rules written there.
 */
#ifndef STRATA_RUNTIME_DAEMON_H
#define STRATA_RUNTIME_DAEMON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ksal/cgroup.h"
#include "ksal/error.h"
#include "ksal/spawn.h"
#include "runtime/ctconfig.h"

#define CT_CONSOLE_RING (64 * 1024)

enum watch_kind {
	W_LISTEN,
	W_SIGNAL,
	W_CONN,
	W_CT_INIT,    /* the container's init pidfd */
	W_CT_CONSOLE, /* the console pty master */
	W_CT_TIMER,   /* stop timeout */
	W_EXEC,	      /* pidfd of an exec'd process */
	W_WORKER,     /* pidfd of a forked job worker */
	W_WATCHDOG,
	W_LXCFS,      /* pidfd of the lxcfs serving the view from inside */
	W_START_DONE, /* eventfd: a start worker finished a job */
};

struct daemon;
struct ct;

/* What epoll_event.data.ptr points at. */
struct watch {
	enum watch_kind kind;
	int fd;
	void *obj;
};

struct conn {
	struct watch w;
	struct daemon *d;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool authorized; /* root or group strata */
	char *buf;	 /* bytes read, not yet a whole line */
	size_t len, cap;
	int fds[3]; /* fds that came with the current request */
	size_t nfds;
	bool busy;	      /* an asynchronous request is in progress */
	bool closed;	      /* peer went away; freed when no longer referenced */
	int refs;	      /* exec/stop/park references besides the loop */
	json_t *parked;	      /* request waiting for a container lock */
	struct ct *console;   /* console mode: raw bytes to/from this ct */
	struct conn *next;    /* daemon's list */
	struct conn *next_in; /* ct wait queue / console clients */
	bool dead;	      /* freed at the end of the event batch */
	bool kick;	      /* lines buffered while busy: process after the batch */
};

struct exec_job {
	struct watch w;
	struct conn *c;
	struct ct *ct;
	pid_t pid;
	bool boot_wait; /* start --wait: reply {"booted": bool} instead of exit_code */
	/* a forked job of the loop's own (clone): called on the loop with the
	 * worker's exit code; it answers j->c (exec_on_exit ends the conn) */
	void (*done)(struct daemon *d, struct exec_job *j, int code);
	void *data;
	struct exec_job *next;
};

enum ct_run { CT_STOPPED, CT_RUNNING, CT_STOPPING };
enum ct_init_kind { INIT_SYSTEMD, INIT_BUSYBOX, INIT_STRATA, INIT_OTHER };

struct ct {
	char *ctid;
	struct ct_config *conf; /* merged with the global defaults */
	struct ct *next;

	/* lock: the conn whose request owns the container, and a queue */
	struct conn *owner;
	bool locked;
	struct conn *waiters;

	/* running */
	enum ct_run run;
	struct watch init_w;
	pid_t pid;
	uint64_t start_time;
	bool our_child; /* we can read its exit status (reboot detection) */
	enum ct_init_kind init_kind;
	struct ksal_cgroup *cg;
	char *layer_dir, *image, *sha256, *root;
	/* the last stop's root, closed by the closer: the next mount waits */
	uint64_t root_ticket;
	uint32_t id_base; /* 0 with PRIVILEGED */
	bool privileged;
	bool has_init; /* the template has /sbin/init */
	int halt_sig;  /* the template manifest's halt signal, 0: by init kind */
	char *netdev;  /* host side of the veth, NULL: none */

	/* console */
	struct watch con_w;
	char *ring;
	size_t ring_head, ring_len;
	int console_log;
	int console_slave; /* kept open: no hangup while the ct reopens it */
	struct conn *console_clients;

	/* stop in progress */
	struct watch timer_w;
	struct conn *stop_conn;
	bool restart_after;
	bool fast;
	double stop_deadline; /* CLOCK_MONOTONIC seconds */
	bool destroyed;	      /* removed from the registry, free when unreferenced */
	/* a start worker is on it (the container is locked): a SIGHUP reload
	 * leaves its config alone */
	bool starting;
	bool checkpointing; /* a suspend or resume runs CRIU (on a worker) */
};

struct tmpl_store;
struct ksal_cgroup_mgr;
struct start_pool;

/* A template layer the daemon keeps mounted between containers. */
struct layer_hold {
	char *layer_dir, *image;
	struct layer_hold *next;
};
struct lxcfs;

struct daemon {
	bool reap_pending; /* SIGCHLD seen: look for stray children */
	/* id ranges of clones in flight (their configs are not written yet) */
	uint32_t clone_bases[16];
	size_t n_clone_bases;
	struct g_config *g;
	int epfd;
	struct watch listen_w, signal_w, watchdog_w;
	struct ksal_cgroup_mgr *cg;
	struct tmpl_store *store;
	int seccomp_fd;
	struct ct *cts;
	struct conn *conns;
	struct conn *dead_conns; /* freed after the current event batch */
	struct exec_job *execs;
	bool quit;
	bool stop_all; /* stop every container on the way out */
	gid_t strata_gid;
	bool have_strata_gid;
	bool notify; /* NOTIFY_SOCKET set */
	char *init_path;
	struct lxcfs *lxcfs;	  /* NULL: the view from inside is off */
	struct layer_hold *holds; /* template layers kept mounted by the daemon */
	struct watch lxcfs_w;
	struct start_pool *pool; /* NULL: every start on the loop */
	int keeper_fd;		 /* the console keeper (keeper.c), -1: none */
	struct kept_con *kept;	 /* consoles it gave back, not yet re-adopted */
	struct kept_con *puts;	 /* consoles to hand it when the loop is idle */
	double puts_since;	 /* CLOCK_MONOTONIC ms of the oldest of them */
};

/* server.c */
int daemon_init(struct daemon *d, struct g_config *g, struct st_error **err);
int daemon_run(struct daemon *d);
void daemon_fini(struct daemon *d);
int watch_add(struct daemon *d, struct watch *w, uint32_t events);
void watch_del(struct daemon *d, struct watch *w);
/* conn.c: connections of the API socket (the loop's W_LISTEN, W_CONN) */
void on_accept(struct daemon *d);
void on_conn(struct daemon *d, struct conn *c, uint32_t events);
void conn_free(struct daemon *d, struct conn *c);
void free_dead_conns(struct daemon *d);
/* After an event batch: the requests that arrived while their connection
 * was busy. */
void conns_kick(struct daemon *d);
int reply_ok(struct conn *c, json_t *result); /* steals result (may be NULL) */
int reply_error(struct conn *c, const struct st_error *err);
int reply_event(struct conn *c, json_t *event);
/* an event line with fd (the caller keeps its own copy) by SCM_RIGHTS */
int reply_event_fd(struct conn *c, json_t *event, int fd);
void conn_unref(struct conn *c);
/* The request is finished: release fds, the busy flag, and read on. */
void conn_done(struct conn *c);
void daemon_notify(struct daemon *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* dispatch.c: one request line, already parsed */
void api_handle_request(struct daemon *d, struct conn *c, json_t *req);

/* ct.c: registry, lock, state */
struct ct *ct_find(struct daemon *d, const char *ctid_or_name);
int ct_registry_load(struct daemon *d, struct st_error **err);
struct ct *ct_new(struct daemon *d, const char *ctid);
void ct_forget(struct daemon *d, struct ct *ct);
int ct_reload_config(struct daemon *d, struct ct *ct, struct st_error **err);
int ct_state_write(struct daemon *d, struct ct *ct, struct st_error **err);
void ct_state_remove(struct daemon *d, struct ct *ct);
void ct_adopt_all(struct daemon *d);
bool ct_is_mounted(struct daemon *d, struct ct *ct);
void ct_unlock(struct daemon *d, struct ct *ct);
int ct_alloc_id_base(struct daemon *d, const struct ct *self, uint32_t *out, struct st_error **err);

/* lifecycle.c */
int ct_do_create(struct daemon *d, const char *ctid, json_t *args, struct st_error **err);
int ct_do_destroy(struct daemon *d, struct ct *ct, struct st_error **err);
int ct_do_start(struct daemon *d, struct ct *ct, struct st_error **err);
/* ct_do_start() in three steps, for the start workers. On the loop: may
 * it start (not running, not suspended; a pending rebase applied)? */
int ct_start_check(struct daemon *d, struct ct *ct, struct st_error **err);
/* On a worker (or the loop): everything up to a running init, in *sp. On
 * failure the loop undoes it with ct_cleanup_after_exit(). *later: an fd
 * (or -1) to close once the answer is on its way (ksal_spawn_cfg.defer_fd). */
int ct_start_run(struct daemon *d, struct ct *ct, struct ksal_spawned *sp, int *later,
		 struct st_error **err);
/* On the loop: the init is the container's (watch, state file). */
void ct_start_commit(struct daemon *d, struct ct *ct, const struct ksal_spawned *sp);
/* Start ONBOOT=yes containers once per host boot. */
void ct_start_onboot(struct daemon *d);
/* Send the halt signal (or kill at once with fast); completion is async:
 * ct_on_init_exit() finishes and answers stop_conn. */
int ct_do_stop(struct daemon *d, struct ct *ct, bool fast, struct st_error **err);
void ct_on_init_exit(struct daemon *d, struct ct *ct);
void ct_on_stop_timeout(struct daemon *d, struct ct *ct);
json_t *ct_status_json(struct daemon *d, struct ct *ct);
json_t *ct_list_json(struct daemon *d, struct ct *ct);
int ct_do_set(struct daemon *d, struct ct *ct, json_t *args, json_t **result,
	      struct st_error **err);

/* "routed", "bridged", "none" or "host" (IP_ADDRESS set: routed). */
const char *ct_net_mode(struct ct *ct);
/* A create/set argument (string, bool, integer or array) into a config. */
int ct_apply_arg(struct ct_config *c, const char *key, json_t *v, struct st_error **err);

/* ct_mount.c: the root (template layer + overlay) and the mount/umount verbs */
int ct_do_mount(struct daemon *d, struct ct *ct, struct st_error **err);
int ct_do_umount(struct daemon *d, struct ct *ct, struct st_error **err);
/* What ct_mount_root() mounted: the paths kept in the state file. */
struct ct_mounted {
	char *root, *layer_dir, *image, *sha256;
	bool has_init;
};
void ct_mounted_clear(struct ct_mounted *m);
/* Acquire the template layer and compose the overlay root at id_base (0:
 * no id mapping); already mounted roots are left as they are. */
int ct_mount_root(struct daemon *d, struct ct *ct, uint32_t id_base, struct ct_mounted *out,
		  struct st_error **err);
/* Undo a (partial) ct_mount_root(); errors are ignored. */
void ct_unmount_root(struct ct_mounted *m, const char *ctid);
/* The container's first host uid/gid: 0 when privileged. */
uint32_t ct_id_base(struct ct *ct);

/* netpolicy.c */
int ct_network_setup(struct daemon *d, struct ct *ct, int pidfd, struct st_error **err);
void ct_network_teardown(struct daemon *d, struct ct *ct);
int ct_set_addresses(struct daemon *d, struct ct *ct, const char *want, struct st_error **err);
int ct_prepare_run(struct daemon *d, struct ct *ct, struct st_error **err);
void ct_cleanup_after_exit(struct daemon *d, struct ct *ct);

/* startpool.c: starts on worker threads (START_WORKERS) */
/* The number of workers START_WORKERS asks for (0: online CPUs). */
unsigned start_workers_count(const struct g_config *g);
/* Make the pool (nothing with one worker); the loop then holds the daemon
 * lock. After daemon_init: the workers inherit its signal mask. */
int start_pool_start(struct daemon *d, struct st_error **err);
/* Join the workers (after every job is finished: start_pool_idle()). */
void start_pool_stop(struct daemon *d);
/* Queue a start of a locked, checked container for c: 1 (the reply comes
 * from the loop when it is done) or -1. */
int start_pool_submit(struct daemon *d, struct ct *ct, struct conn *c, bool wait,
		      struct st_error **err);
void start_pool_on_done(struct daemon *d);
/* Run work(data) on a worker, then fin(d, data, ran) on the loop (ran
 * false: cancelled at shutdown before a worker took it). False, nothing
 * queued: no pool (one worker), or shutting down; the caller runs it. */
bool pool_submit_work(struct daemon *d, void (*work)(void *data),
		      void (*fin)(struct daemon *d, void *data, bool ran), void *data);
/* Answer the starts no worker has begun: the daemon is shutting down. */
void start_pool_cancel_queued(struct daemon *d);
bool start_pool_idle(struct daemon *d);
/* A worker's section on state the loop shares (no-op on the loop). */
void daemon_lock(struct daemon *d);
void daemon_unlock(struct daemon *d);
/* The loop gives the lock up only while it waits for events. */
void daemon_loop_lock(struct daemon *d);
void daemon_loop_unlock(struct daemon *d);

/* ct_mount.c: unmount the container's root: detached, its overlay's last
 * reference (and the sync of its upper filesystem) left to the closer
 * with a plain private area (ct->root_ticket); at once with an image. */
int ct_root_let_go(struct daemon *d, struct ct *ct, const char *root, struct st_error **err);

/* closer.c: slow last closes and removals off the loop. closer_put takes
 * fd (closed at once where no thread can be had: ticket 0) and returns a
 * ticket that closer_wait waits for; closer_remove takes a malloc'd path
 * and removes the tree; closer_stop does what is queued and ends. */
uint64_t closer_put(int fd);
void closer_remove(char *path);
/* At start: what destroys of an earlier daemon left in PRIVATE_DIR, and
 * destroys and resumes in STATE_DIR/dumps (`*.gone.*`). */
void closer_sweep_retired(const char *private_dir, const char *dumps_dir);
void closer_wait(uint64_t ticket);
void closer_stop(void);

/* view.c: lxcfs */
void view_start(struct daemon *d);
void view_on_exit(struct daemon *d);
void view_stop(struct daemon *d);
/* The read-only binds of the view for a start (may be NULL/0), with fds of
 * their sources: the caller's, under the daemon lock; view_binds_free. */
int view_binds(struct daemon *d, struct ksal_bind **binds, size_t *n);
void view_binds_free(struct ksal_bind *binds, size_t n);

/* layers.c: template layers stay mounted once used (DESIGN: once per host) */
void layer_hold(struct daemon *d, const char *layer_dir, const char *image);
/* Drop the daemon's hold on every version of template `name` (version 0:
 * all) so a template-remove can unmount it; all of them with name NULL. */
void layer_unhold(struct daemon *d, const char *name, unsigned version);
void layer_holds_load(struct daemon *d);

/* tmplops.c: rebase, clone, private-area layout and usage (templates area) */
int ct_do_rebase(struct daemon *d, struct ct *ct, json_t *args, json_t **result,
		 struct st_error **err);
int ct_do_rebase_all(struct daemon *d, json_t *args, json_t **result, struct st_error **err);
/* A rebase recorded with --on-restart: applied by the next start. */
int ct_rebase_pending_apply(struct daemon *d, struct ct *ct, struct st_error **err);
void ct_rebase_pending_drop(struct daemon *d, struct ct *ct);
int ct_do_clone(struct daemon *d, struct ct *ct, json_t *args, json_t **result,
		struct st_error **err);
/* The private area of a new container: LAYOUT=image (DISKSPACE-sized ext4
 * image) or a directory (DISKSPACE not enforceable: refused when the create
 * request gives it, else a warning). */
int ct_private_create(struct daemon *d, const struct ct_config *c, json_t *args, const char *ctid,
		      const char *priv, struct st_error **err);
/* Unmount a LAYOUT=image private area after the root is down (no-op for dir). */
void ct_private_close(struct daemon *d, struct ct *ct);
/* Used KiB of the private area (null if unknown), for list's "diskspace". */
json_t *ct_diskspace_json(struct daemon *d, struct ct *ct);
int ct_halt_signal_parse(const char *s);
int ct_template_halt_signal(struct daemon *d, struct ct *ct);

/* suspend.c */
int ct_do_suspend(struct daemon *d, struct ct *ct, struct st_error **err);
int ct_do_resume(struct daemon *d, struct ct *ct, struct st_error **err);
bool ct_is_suspended(struct daemon *d, struct ct *ct);
char *ct_dump_dir(struct daemon *d, struct ct *ct);
/* checkpoint area: --dumpfile DIR, --keep (every dump is synced before the
 * container's tasks are killed) */
struct ct_ckpt_opts {
	const char *dumpfile;
	bool keep;
	/* out, suspend: the whole dump and its frozen part (from the
	 * freeze to the kill), ms; the images' size, bytes */
	double total_ms, frozen_ms;
	uint64_t image_bytes;
};
int ct_do_suspend_opts(struct daemon *d, struct ct *ct, struct ct_ckpt_opts *o,
		       struct st_error **err);
/* *kept: where the images were kept (--keep), else NULL */
int ct_do_resume_opts(struct daemon *d, struct ct *ct, const struct ct_ckpt_opts *o, char **kept,
		      struct st_error **err);

/* A suspend or resume of locked ct with CRIU on a start worker: 1, and
 * done() on the loop when it has ended (r, err, and result, which done()
 * owns); without a worker it runs here: 0 with *result, or -1. -1 also for
 * a refusal before CRIU (not running, no checkpoint...): nothing to undo. */
typedef void ct_ckpt_done_fn(struct daemon *d, struct ct *ct, void *data, int r,
			     struct st_error *err, json_t *result);
int ct_ckpt_start(struct daemon *d, struct ct *ct, bool suspend, const struct ct_ckpt_opts *o,
		  ct_ckpt_done_fn *done, void *data, json_t **result, struct st_error **err);
/* A client's suspend or resume of locked ct: CRIU on a start worker, 1 (the
 * reply and the unlock come from the loop when it is done); without a pool,
 * done here: 0 with *result, or -1. */
int ct_ckpt_request(struct daemon *d, struct ct *ct, struct conn *c, bool suspend,
		    const struct ct_ckpt_opts *o, json_t **result, struct st_error **err);

/* ckpt_host.c (checkpoint area): requests, --all, VE_STOP_MODE=suspend,
 * child subreaper */
/* only root may name a --dumpfile directory; 1: answered later
 * (ct_ckpt_request) */
int ct_req_suspend(struct daemon *d, struct ct *ct, struct conn *c, json_t *args, json_t **result,
		   struct st_error **err);
int ct_req_resume(struct daemon *d, struct ct *ct, struct conn *c, json_t *args, json_t **result,
		  struct st_error **err);
int ct_req_ckpt_all(struct daemon *d, struct conn *c, bool suspend, json_t *args, json_t **result,
		    struct st_error **err);
void ct_suspend_for_shutdown(struct daemon *d);
void ct_resume_after_shutdown(struct daemon *d);
int daemon_subreaper_init(struct st_error **err);
void daemon_reap_strays(struct daemon *d);

/* console.c and exec.c */
int ct_console_open(struct daemon *d, struct ct *ct, int *slave, struct st_error **err);
/* A re-adopted container's console, from the keeper: its master (taken),
 * and what it wrote while no daemon was there (ring and log). */
int ct_console_adopt(struct daemon *d, struct ct *ct, int master, const char *bytes, size_t len,
		     struct st_error **err);

/* keeper.c: the console keeper, which holds every console's master across
 * a daemon restart. keeper_connect at start (spawning it if none answers;
 * the consoles it kept wait in d->kept), keeper_claim when a container is
 * re-adopted, keeper_release_unclaimed after; keeper_put once a container
 * runs (start, resume). keeper_main is `stratad --console-keeper SOCKET`. */
struct kept_con;
void keeper_connect(struct daemon *d);
bool keeper_claim(struct daemon *d, struct ct *ct);
void keeper_release_unclaimed(struct daemon *d);
void keeper_put(struct daemon *d, struct ct *ct);
/* keeper_put only notes the container: the loop hands the keeper what it
 * noted once it has been idle for 20 ms, or 200 ms after the oldest note
 * (keeper_timeout: for epoll_wait; keeper_after_wait: with its result). */
int keeper_timeout(const struct daemon *d);
void keeper_after_wait(struct daemon *d, int n);
void keeper_flush(struct daemon *d);
int keeper_main(const char *path);
void ct_console_close(struct daemon *d, struct ct *ct);
void ct_on_console(struct daemon *d, struct ct *ct, uint32_t events);
int ct_console_attach(struct daemon *d, struct ct *ct, struct conn *c, struct st_error **err);
void ct_console_detach(struct conn *c);
void conn_console_input(struct conn *c, const char *buf, size_t len);
int ct_do_exec(struct daemon *d, struct ct *ct, struct conn *c, json_t *args, bool enter,
	       struct st_error **err);
void exec_on_exit(struct daemon *d, struct exec_job *j);
/* Watch a forked worker pid for conn c (which it holds a reference of until
 * done, if any, has run); 0, or -1 after waiting for the worker to end. */
int exec_fork_job(struct daemon *d, struct conn *c, pid_t pid,
		  void (*done)(struct daemon *d, struct exec_job *j, int code), void *data,
		  struct st_error **err);
/* start --wait on a systemd container: answer c when systemd finished
 * booting (`systemctl is-system-running --wait` in the container). 1: the
 * reply comes later; 0: nothing to wait for (reply now). */
int ct_start_wait(struct daemon *d, struct ct *ct, struct conn *c, struct st_error **err);
int do_template(struct daemon *d, struct conn *c, const char *verb, json_t *args, json_t **result,
		struct st_error **err);

#endif
