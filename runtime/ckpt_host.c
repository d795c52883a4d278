/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Checkpoint at host level (checkpoint area): the suspend/resume requests
 * with their arguments, suspend --all / resume --all, VE_STOP_MODE=suspend
 * (suspend every running container when stratad stops for host shutdown,
 * resume them when it starts again), and stratad as child subreaper: a
 * restored init becomes its child, and children nobody waits for are reaped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "runtime/daemon.h"

static void ckpt_opts_from(json_t *args, struct ct_ckpt_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->dumpfile = json_string_value(json_object_get(args, "dumpfile"));
	o->keep = json_is_true(json_object_get(args, "keep"));
}

/* The images hold the container's memory and are written as root: a member
 * of group strata may not choose where. */
static int dumpfile_allowed(const char *verb, struct ct *ct, uid_t uid,
			    const struct ct_ckpt_opts *o, struct st_error **err)
{
	if (o->dumpfile && uid != 0)
		return st_error_setx(err, ST_EXIT_PERM, 0, "%s %s: only root may choose --dumpfile",
				     verb, ct->ctid);
	return 0;
}

int ct_req_suspend(struct daemon *d, struct ct *ct, struct conn *c, json_t *args, json_t **result,
		   struct st_error **err)
{
	struct ct_ckpt_opts o;

	ckpt_opts_from(args, &o);
	if (dumpfile_allowed("suspend", ct, c->uid, &o, err) < 0)
		return -1;
	return ct_ckpt_request(d, ct, c, true, &o, result, err);
}

int ct_req_resume(struct daemon *d, struct ct *ct, struct conn *c, json_t *args, json_t **result,
		  struct st_error **err)
{
	struct ct_ckpt_opts o;

	ckpt_opts_from(args, &o);
	if (dumpfile_allowed("resume", ct, c->uid, &o, err) < 0)
		return -1;
	return ct_ckpt_request(d, ct, c, false, &o, result, err);
}

static json_t *all_entry(struct ct *ct, const char *status, const struct st_error *e)
{
	json_t *o = json_pack("{s:s, s:s}", "ctid", ct->ctid, "status", status);

	if (o && e) {
		json_object_set_new(o, "error", json_string(e->msg));
		json_object_set_new(o, "exit", json_integer(st_error_exit(e)));
	}
	return o;
}

static bool all_wants(struct daemon *d, struct ct *ct, bool suspend)
{
	return suspend ? ct->run == CT_RUNNING : ct_is_suspended(d, ct);
}

/*
 * suspend-all / resume-all: every running / suspended container not locked
 * by another request, one after the other. {"containers": [{ctid, status:
 * suspended|resumed|failed, error, exit}]}. With start workers CRIU runs
 * on them, a container at a time, and the loop serves between and during.
 */
struct ckpt_all {
	struct conn *c;
	bool suspend;
	struct ct_ckpt_opts o;
	char **ctids; /* the containers there were at the request, in turn */
	size_t n, next;
	json_t *arr;
	bool waiting; /* for a worker */
	bool stepping;
};

static void all_free(struct ckpt_all *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->ctids[i]);
	free(a->ctids);
	json_decref(a->arr);
	free(a);
}

static void all_record(struct ckpt_all *a, struct ct *ct, int r, const struct st_error *e)
{
	json_array_append_new(a->arr, all_entry(ct,
						r < 0	     ? "failed"
						: a->suspend ? "suspended"
							     : "resumed",
						r < 0 ? e : NULL));
}

static void all_done(struct daemon *d, struct ct *ct, void *data, int r, struct st_error *err,
		     json_t *result);

/* Go on with the next containers; true once every one had its turn. */
static bool all_step(struct daemon *d, struct ckpt_all *a)
{
	const char *verb = a->suspend ? "suspend" : "resume";

	a->stepping = true;
	while (!a->waiting && a->next < a->n) {
		_cleanup_error_ struct st_error *e = NULL;
		struct ct *ct = ct_find(d, a->ctids[a->next++]);
		json_t *res = NULL;
		int r;

		if (!ct || ct->destroyed || !all_wants(d, ct, a->suspend))
			continue; /* gone, or done by someone else meanwhile */
		if (ct->locked) {
			st_error_setx(&e, ST_EXIT_LOCKED, 0,
				      "%s %s: container is locked by another operation", verb,
				      ct->ctid);
			all_record(a, ct, -1, e);
			continue;
		}
		ct->locked = true;
		a->waiting = true;
		r = ct_ckpt_start(d, ct, a->suspend, &a->o, all_done, a, &res, &e);
		if (r == 1)
			continue; /* all_done() goes on */
		a->waiting = false;
		json_decref(res);
		all_record(a, ct, r, e);
		ct_unlock(d, ct);
	}
	a->stepping = false;
	return !a->waiting && a->next >= a->n;
}

static void all_done(struct daemon *d, struct ct *ct, void *data, int r, struct st_error *err,
		     json_t *result)
{
	struct ckpt_all *a = data;
	struct conn *c = a->c;

	json_decref(result);
	all_record(a, ct, r, err);
	ct_unlock(d, ct);
	a->waiting = false;
	if (a->stepping || !all_step(d, a))
		return;
	reply_ok(c, json_pack("{s:O}", "containers", a->arr));
	all_free(a);
	conn_done(c);
	conn_unref(c);
}

int ct_req_ckpt_all(struct daemon *d, struct conn *c, bool suspend, json_t *args, json_t **result,
		    struct st_error **err)
{
	struct ckpt_all *a = calloc(1, sizeof(*a));
	size_t n = 0;

	if (a)
		a->arr = json_array();
	for (struct ct *ct = d->cts; ct; ct = ct->next)
		n++;
	if (!a || !a->arr || !(a->ctids = calloc(n + 1, sizeof(char *)))) {
		if (a)
			all_free(a);
		return st_error_set(err, ENOMEM, "%s --all", suspend ? "suspend" : "resume");
	}
	a->c = c;
	a->suspend = suspend;
	ckpt_opts_from(args, &a->o);
	a->o.dumpfile = NULL; /* per container: the default place */
	for (struct ct *ct = d->cts; ct; ct = ct->next)
		if (all_wants(d, ct, suspend) && (a->ctids[a->n] = strdup(ct->ctid)))
			a->n++;
	c->refs++;
	if (!all_step(d, a))
		return 1; /* all_done() answers */
	c->refs--;
	*result = json_pack("{s:O}", "containers", a->arr);
	all_free(a);
	return 0;
}

/* systemd's start or stop timeout, which VE_STOP_MODE=suspend's CRIU runs
 * are part of, covers one container at a time */
static void extend_timeout(struct daemon *d)
{
	daemon_notify(d, "EXTEND_TIMEOUT_USEC=%llu",
		      150ULL * 1000000ULL); /* a CRIU step's timeout (120 s) and more */
}

/* ---- VE_STOP_MODE=suspend ---- */

static char *shutdown_marker(struct daemon *d, struct ct *ct)
{
	char *s = NULL;

	if (asprintf(&s, "%s/dumps/%s.shutdown", d->g->state_dir, ct->ctid) < 0)
		return NULL;
	return s;
}

void ct_suspend_for_shutdown(struct daemon *d)
{
	struct ct_ckpt_opts o = { 0 };
	size_t n = 0, failed = 0;

	for (struct ct *ct = d->cts; ct; ct = ct->next) {
		_cleanup_error_ struct st_error *e = NULL;
		_cleanup_free_ char *marker = NULL;
		int fd;

		if (ct->run != CT_RUNNING)
			continue;
		if (ct->locked) {
			st_warn("shutdown: %s is busy with another operation: left running",
				ct->ctid);
			failed++;
			continue;
		}
		ct->locked = true;
		extend_timeout(d);
		if (ct_do_suspend_opts(d, ct, &o, &e) < 0) {
			st_warn("shutdown: %s (left running)", e->msg);
			failed++;
			ct->locked = false;
			continue;
		}
		ct->locked = false;
		n++;
		marker = shutdown_marker(d, ct);
		fd = marker ? open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600) : -1;
		if (fd < 0 || fsync(fd) < 0)
			st_warn("shutdown: %s: mark for resume `%s`: %s", ct->ctid,
				marker ? marker : "?", strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	st_info("shutdown: %zu container(s) suspended to disk, %zu left running", n, failed);
}

void ct_resume_after_shutdown(struct daemon *d)
{
	for (struct ct *ct = d->cts; ct; ct = ct->next) {
		_cleanup_error_ struct st_error *e = NULL;
		_cleanup_free_ char *marker = shutdown_marker(d, ct), *kept = NULL;

		if (!marker || access(marker, F_OK) < 0)
			continue;
		if (!ct_is_suspended(d, ct)) {
			unlink(marker);
			continue;
		}
		extend_timeout(d);
		if (ct_do_resume_opts(d, ct, NULL, &kept, &e) < 0) {
			st_warn("start: resume of %s suspended at shutdown: %s", ct->ctid, e->msg);
			continue;
		}
		unlink(marker);
		st_info("resumed container %s suspended at shutdown", ct->ctid);
	}
}

/* ---- child subreaper ---- */

int daemon_subreaper_init(struct st_error **err)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return st_error_set(err, errno, "prctl(PR_SET_CHILD_SUBREAPER)");
	return 0;
}

/* The pids behind the daemon's pidfds (container inits, exec jobs, workers,
 * lxcfs): their owners wait for them. */
static bool pid_has_pidfd(pid_t pid)
{
	_cleanup_closedir_ DIR *dir = opendir("/proc/self/fdinfo");
	struct dirent *de;

	if (!dir)
		return true; /* cannot tell: leave it alone */
	while ((de = readdir(dir))) {
		_cleanup_free_ char *path = NULL, *line = NULL;
		_cleanup_fclose_ FILE *f = NULL;
		size_t cap = 0;
		int p;

		if (de->d_name[0] == '.' || asprintf(&path, "/proc/self/fdinfo/%s", de->d_name) < 0)
			continue;
		f = fopen(path, "re");
		if (!f)
			continue;
		while (getline(&line, &cap, f) > 0)
			if (sscanf(line, "Pid: %d", &p) == 1 && p == (int)pid)
				return true;
	}
	return false;
}

static bool pid_is_known(struct daemon *d, pid_t pid)
{
	for (struct ct *ct = d->cts; ct; ct = ct->next)
		if (ct->pid == pid)
			return true;
	for (struct exec_job *j = d->execs; j; j = j->next)
		if (j->pid == pid)
			return true;
	return pid_has_pidfd(pid);
}

/* Reap exited children that no one waits for: orphans reparented to stratad
 * as subreaper (a CRIU helper's leftovers, processes of a container whose
 * init is gone), checked after every event batch. Only zombies, only pids
 * without an owner; never waitpid(-1), which would steal the statuses of the
 * daemon's own waits. */
void daemon_reap_strays(struct daemon *d)
{
	_cleanup_free_ char *path = NULL, *line = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	size_t cap = 0;
	char *save = NULL;
	siginfo_t any = { 0 };

	/* most batches leave no zombie at all (the owners reaped theirs): one
	 * peek instead of a waitid per child, which with hundreds of
	 * containers costs more than a start */
	if (waitid(P_ALL, 0, &any, WEXITED | WNOHANG | WNOWAIT) < 0 || any.si_pid == 0)
		return;
	if (asprintf(&path, "/proc/self/task/%d/children", (int)getpid()) < 0)
		return;
	f = fopen(path, "re");
	if (!f || getline(&line, &cap, f) < 0)
		return;
	for (char *t = strtok_r(line, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
		pid_t pid = (pid_t)atoi(t);
		siginfo_t si = { 0 };

		if (pid <= 0)
			continue;
		/* a zombie? (WNOWAIT: leaves it to its owner if it has one) */
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
		    si.si_pid != pid || pid_is_known(d, pid))
			continue;
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG) == 0 && si.si_pid == pid)
			st_debug("reaped stray child %d (%s %d)", (int)pid,
				 si.si_code == CLD_EXITED ? "exit" : "signal", si.si_status);
	}
}
