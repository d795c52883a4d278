/* SPDX-License-Identifier: GPL-2.0-or-later */
/* exec/enter (enter's pty goes to the client) and template jobs in forked workers;
 * the console is in console.c. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/spawn.h"
#include "ksal/syscalls.h"
#include "runtime/daemon.h"
#include "runtime/resources.h"
#include "templates/template.h"

/* ---- exec / enter ---- */

/*
 * enter's terminal. The shell gets a pty of the container's own devpts
 * instance, so tty(1), ttyname(3) and /dev/pts/N work inside as on a login.
 * Its master goes to the client (an event with the fd), which relays it to
 * the user's terminal: the daemon is not in the data path, so a daemon
 * restart leaves the session running and a busy session costs the event
 * loop nothing. The slave gets the modes and window size of the client's
 * terminal. Where the container has no devpts of its own, the client's
 * terminal (a pty of the client's, never the user's real one) is the
 * shell's, as for exec.
 */

/* A new pty of the container's devpts (its /dev/pts/ptmx, resolved inside
 * its root, so no symlink planted there leads out): the master, and the
 * slave owned by root inside and group tty. */
static int ct_pty_open(struct ct *ct, int *master, int *slave, struct st_error **err)
{
	_cleanup_close_ int root = -EBADF, m = -EBADF, s = -EBADF;
	struct open_how how = {
		.flags = O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	char path[64];

	if (snprintf(path, sizeof(path), "/proc/%d/root", (int)ct->pid) >= (int)sizeof(path))
		return st_error_setx(err, ST_EXIT_SYSTEM, ENAMETOOLONG, "pty");
	root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return st_error_set(err, errno, "open `%s`", path);
	/* the pid is still the container's init (not reused) */
	if (pidfd_send_signal(ct->init_w.fd, 0, NULL, 0) < 0)
		return st_error_set(err, errno, "the init of %s", ct->ctid);
	m = (int)syscall(SYS_openat2, root, "dev/pts/ptmx", &how, sizeof(how));
	if (m < 0)
		return st_error_set(err, errno, "open the container's /dev/pts/ptmx");
	if (unlockpt(m) < 0)
		return st_error_set(err, errno, "unlock a pty of the container");
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return st_error_set(err, errno, "open a pty slave of the container");
	if (ct->id_base && fchown(s, ct->id_base, ct->id_base + 5) < 0)
		st_debug("enter %s: chown the pty: %s", ct->ctid, strerror(errno));
	*master = take_fd(m);
	*slave = take_fd(s);
	return 0;
}

/* The pty of enter, when the client's stdin is a terminal and the container
 * has a devpts of its own: its master (*master) and slave (*slave), set up
 * as the client's terminal is. False: use the client's fds as they are. */
static bool tty_setup(struct ct *ct, int client_tty, int *master, int *slave)
{
	_cleanup_close_ int m = -EBADF, s = -EBADF;
	_cleanup_error_ struct st_error *e = NULL;
	struct termios tio;
	struct winsize ws;

	if (!isatty(client_tty) || tcgetattr(client_tty, &tio) < 0)
		return false;
	if (ct_pty_open(ct, &m, &s, &e) < 0) {
		st_debug("enter %s: the client's terminal as it is: %s", ct->ctid, e ? e->msg : "");
		return false;
	}
	tcsetattr(s, TCSANOW, &tio);
	if (ioctl(client_tty, TIOCGWINSZ, &ws) == 0)
		ioctl(m, TIOCSWINSZ, &ws);
	*master = take_fd(m);
	*slave = take_fd(s);
	return true;
}

static char **json_strv(json_t *a, const char *what, struct st_error **err)
{
	_cleanup_strv_ char **v = NULL;
	size_t i;
	json_t *x;

	if (!a)
		return calloc(1, sizeof(char *));
	if (!json_is_array(a)) {
		st_error_setx(err, ST_EXIT_BADARG, 0, "`%s`: array of strings expected", what);
		return NULL;
	}
	v = calloc(json_array_size(a) + 1, sizeof(char *));
	if (!v) {
		st_error_set(err, ENOMEM, "%s", what);
		return NULL;
	}
	json_array_foreach (a, i, x) {
		if (!json_is_string(x)) {
			st_error_setx(err, ST_EXIT_BADARG, 0, "`%s`: array of strings expected",
				      what);
			return NULL;
		}
		v[i] = strdup(json_string_value(x));
		if (!v[i]) {
			st_error_set(err, ENOMEM, "%s", what);
			return NULL;
		}
	}
	return take_ptr(v);
}

/*
 * The command could not be exec'd (no such command in the container, not
 * executable): answered as a shell would, "nosuch: not found" on the
 * caller's stderr and exit code 127 (126 when it is there but cannot run),
 * not as a failure of strata's own.
 */
static int exec_not_started(struct conn *c, const char *cmd, struct st_error **err)
{
	int errnum = (*err)->errnum, code = errnum == ENOENT ? 127 : 126;

	st_debug("exec: %s", (*err)->msg);
	if (errnum == ENOENT)
		dprintf(c->fds[2], "%s: not found\n", cmd);
	else
		dprintf(c->fds[2], "%s: %s\n", cmd, strerror(errnum));
	st_error_freep(err);
	reply_ok(c, json_pack("{s:i}", "exit_code", code));
	conn_done(c);
	return 1; /* answered */
}

int ct_do_exec(struct daemon *d, struct ct *ct, struct conn *c, json_t *args, bool enter,
	       struct st_error **err)
{
	const char *verb = enter ? "enter" : "exec";
	_cleanup_strv_ char **argv = NULL, **env = NULL;
	json_t *jcwd = args ? json_object_get(args, "cwd") : NULL;
	bool tty = enter || (args && json_is_true(json_object_get(args, "tty")));
	struct ksal_enter_cfg cfg = { 0 };
	struct ksal_spawned sp = { 0 };
	_cleanup_close_ int pty_master = -EBADF, pty_slave = -EBADF;
	struct exec_job *j;
	int r_enter;
	static char *default_env[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm",
		"HOME=/root", NULL
	};

	if (ct->run != CT_RUNNING)
		return st_error_setx(err, ST_EXIT_NOTRUNNING, 0, "%s %s: container is not running",
				     verb, ct->ctid);
	if (ct->checkpointing)
		return st_error_setx(err, ST_EXIT_LOCKED, 0, "%s %s: container is being suspended",
				     verb, ct->ctid);
	if (c->nfds != 3)
		return st_error_setx(err, ST_EXIT_PROTOCOL, 0,
				     "%s %s: the request must carry 3 fds (stdin, stdout, stderr) "
				     "by SCM_RIGHTS, got %zu",
				     verb, ct->ctid, c->nfds);
	argv = json_strv(args ? json_object_get(args, "argv") : NULL, "argv", err);
	if (!argv)
		return st_error_prefix(err, "%s %s", verb, ct->ctid);
	if (!argv[0]) {
		if (!enter)
			return st_error_setx(err, ST_EXIT_BADARG, 0, "exec %s: no command given",
					     ct->ctid);
		/* vzctl's enter: root's login shell, bash where the guest has it */
		static const char *const login[] = {
			"/bin/sh", "-c", "[ -x /bin/bash ] && exec /bin/bash -l; exec /bin/sh -l",
			NULL
		};

		strv_free(argv);
		argv = calloc(ARRAY_SIZE(login), sizeof(char *));
		if (!argv)
			return st_error_set(err, ENOMEM, "enter");
		for (size_t i = 0; login[i]; i++)
			if (!(argv[i] = strdup(login[i])))
				return st_error_set(err, ENOMEM, "enter");
	}
	env = json_strv(args ? json_object_get(args, "env") : NULL, "env", err);
	if (!env)
		return st_error_prefix(err, "%s %s", verb, ct->ctid);
	if (jcwd && !json_is_string(jcwd))
		return st_error_setx(err, ST_EXIT_BADARG, 0, "%s %s: `cwd`: string expected", verb,
				     ct->ctid);
	cfg.init_pidfd = ct->init_w.fd;
	cfg.init_pid = ct->pid;
	cfg.argv = argv;
	cfg.envp = env[0] ? env : default_env;
	cfg.cwd = jcwd ? json_string_value(jcwd) : NULL;
	for (int i = 0; i < 3; i++)
		cfg.stdio[i] = c->fds[i];
	cfg.setsid_ctty = tty;
	if (tty && tty_setup(ct, c->fds[0], &pty_master, &pty_slave))
		cfg.stdio[0] = cfg.stdio[1] = cfg.stdio[2] = pty_slave;
	cfg.cap_drop = ct->conf ? ksal_cap_default_drop() : ksal_cap_default_drop();
	if (ct->conf && ct->conf->v[CT_CAPABILITY].set) {
		cfg.cap_drop &= ~ct->conf->v[CT_CAPABILITY].cap_on;
		cfg.cap_drop |= ct->conf->v[CT_CAPABILITY].cap_off;
	}
	cfg.seccomp_fd = d->seccomp_fd;
	cfg.cgroup_procs_fd = -1;
	/* resources area: the command joins the container's cgroups (limits,
	 * accounting, kill on stop) before its namespaces */
	int cg_fds[RES_MAX_CGROUP_FDS];
	size_t n_cg_fds = 0;
	if (res_cgroup_procs_fds(d, ct, cg_fds, &n_cg_fds, err) < 0)
		return st_error_prefix(err, "%s %s", verb, ct->ctid);
	cfg.cgroup_procs_fds = cg_fds;
	cfg.n_cgroup_procs_fds = n_cg_fds;
	cfg.memory_merge = ct->conf && ct_config_bool(ct->conf, CT_MEMORY_MERGE, false);
	r_enter = ksal_enter(&cfg, &sp, err);
	res_close_fds(cg_fds, n_cg_fds);
	closep(&pty_slave); /* the shell has it */
	if (r_enter < 0 && err && *err && (*err)->exit_code == ST_EXIT_EXEC)
		return exec_not_started(c, argv[0], err);
	if (r_enter < 0)
		return st_error_prefix(err, "%s %s", verb, ct->ctid);
	j = calloc(1, sizeof(*j));
	if (!j) {
		kill(sp.pid, SIGKILL);
		waitpid(sp.pid, NULL, 0);
		close(sp.pidfd);
		return st_error_set(err, ENOMEM, "%s %s", verb, ct->ctid);
	}
	j->w = (struct watch){ W_EXEC, sp.pidfd, j };
	j->c = c;
	j->ct = ct;
	j->pid = sp.pid;
	if (watch_add(d, &j->w, EPOLLIN) < 0) {
		int e = errno;

		kill(sp.pid, SIGKILL);
		waitpid(sp.pid, NULL, 0);
		close(sp.pidfd);
		free(j);
		return st_error_set(err, e, "%s %s: epoll", verb, ct->ctid);
	}
	j->next = d->execs;
	d->execs = j;
	/* a tty request learns which terminal the shell has: the container's
	 * (its master comes along, the client relays it) or the client's own */
	if (tty && reply_event_fd(c, json_pack("{s:s,s:b}", "event", "tty", "pty", pty_master >= 0),
				  pty_master) < 0)
		st_debug("%s %s: the client went away", verb, ct->ctid);
	closep(&pty_master); /* the client's alone: its end hangs the shell up */
	c->refs++;
	/* the client's fds are the process's now; ours are not needed */
	conn_done(c);
	c->busy = true;
	st_debug("%s %s: pid %d %s", verb, ct->ctid, (int)sp.pid, argv[0]);
	return 1;
}

int ct_start_wait(struct daemon *d, struct ct *ct, struct conn *c, struct st_error **err)
{
	/* --wait returns at once while systemd does not answer yet: retry */
	char *argv[] = { "/bin/sh", "-c",
			 "i=0; while [ $i -lt 6000 ]; do "
			 "s=$(systemctl is-system-running --wait 2>/dev/null); "
			 "case \"$s\" in running) exit 0;; degraded) exit 1;; esac; "
			 "i=$((i+1)); sleep 0.02; done; exit 2",
			 NULL };
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	struct ksal_enter_cfg cfg = { 0 };
	struct ksal_spawned sp = { 0 };
	struct exec_job *j;

	if (ct->init_kind != INIT_SYSTEMD)
		return 0; /* other inits are up once they run */
	cfg.init_pidfd = ct->init_w.fd;
	cfg.init_pid = ct->pid;
	cfg.argv = argv;
	cfg.envp = envp;
	cfg.stdio[0] = cfg.stdio[1] = cfg.stdio[2] = -1;
	cfg.cap_drop = ksal_cap_default_drop();
	cfg.seccomp_fd = d->seccomp_fd;
	cfg.cgroup_procs_fd = -1;
	if (ksal_enter(&cfg, &sp, err) < 0)
		return st_error_prefix(err, "start %s: wait for boot", ct->ctid);
	j = calloc(1, sizeof(*j));
	if (!j) {
		kill(sp.pid, SIGKILL);
		waitpid(sp.pid, NULL, 0);
		close(sp.pidfd);
		return st_error_set(err, ENOMEM, "start %s", ct->ctid);
	}
	j->w = (struct watch){ W_EXEC, sp.pidfd, j };
	j->c = c;
	j->ct = ct;
	j->pid = sp.pid;
	j->boot_wait = true;
	watch_add(d, &j->w, EPOLLIN);
	j->next = d->execs;
	d->execs = j;
	c->refs++;
	c->busy = true;
	return 1;
}

void exec_on_exit(struct daemon *d, struct exec_job *j)
{
	siginfo_t si = { 0 };
	int code = -1;

	if (waitid((idtype_t)P_PIDFD, (id_t)j->w.fd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return; /* not yet */
	if (si.si_code == CLD_EXITED)
		code = si.si_status;
	else
		code = 128 + si.si_status;
	watch_del(d, &j->w);
	close(j->w.fd);
	for (struct exec_job **p = &d->execs; *p; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			break;
		}
	if (j->done) {
		j->done(d, j, code);
	} else if (j->w.kind == W_EXEC && j->boot_wait) {
		/* 0: running; 1: degraded (or stopping...); the container runs */
		if (!j->c->closed)
			reply_ok(j->c,
				 json_pack("{s:b,s:s}", "booted", code == 0 || code == 1, "state",
					   code == 0   ? "running"
					   : code == 1 ? "degraded"
						       : "unknown"));
	} else if (j->w.kind == W_EXEC) {
		if (!j->c->closed)
			reply_ok(j->c, json_pack("{s:i}", "exit_code", code));
	} else if (code != 0) {
		st_debug("template worker %d exited with %d", (int)j->pid, code);
	}
	conn_done(j->c);
	conn_unref(j->c);
	free(j);
}

int exec_fork_job(struct daemon *d, struct conn *c, pid_t pid,
		  void (*done)(struct daemon *d, struct exec_job *j, int code), void *data,
		  struct st_error **err)
{
	int pidfd = pidfd_open(pid, 0);
	struct exec_job *j = pidfd < 0 ? NULL : calloc(1, sizeof(*j));

	if (!j) {
		int e = pidfd < 0 ? errno : ENOMEM;

		waitpid(pid, NULL, 0); /* unwatched: its job done here */
		if (pidfd >= 0)
			close(pidfd);
		return st_error_set(err, e, "watch worker %d", (int)pid);
	}
	j->w = (struct watch){ W_WORKER, pidfd, j };
	j->c = c;
	j->pid = pid;
	j->done = done;
	j->data = data;
	watch_add(d, &j->w, EPOLLIN);
	j->next = d->execs;
	d->execs = j;
	c->refs++;
	return 0;
}

/* ---- templates ---- */

static json_t *manifest_json(const struct tmpl_manifest *m)
{
	json_t *pk = json_array();

	for (char **p = m->packages; p && *p; p++)
		json_array_append_new(pk, json_string(*p));
	return json_pack("{s:s,s:i,s:i,s:s,s:I,s:I,s:s?,s:s?,s:o,s:b,s:s?}", "name", m->name,
			 "version", (int)m->version, "parent_version", (int)m->parent_version,
			 "sha256", m->sha256, "size", (json_int_t)m->size, "created",
			 (json_int_t)m->created, "base", m->base, "recipe_hash", m->recipe_hash,
			 "packages", pk, "has_init", m->has_init, "image", m->image);
}

struct worker_ctx {
	int fd;
};

static void worker_progress(const char *step, unsigned percent, void *data)
{
	struct worker_ctx *w = data;
	json_t *e = json_pack("{s:s,s:s,s:i}", "event", "progress", "message", step ? step : "",
			      "percent", (int)percent);
	char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;

	if (s) {
		dprintf(w->fd, "%s\n", s);
		free(s);
	}
	json_decref(e);
}

static void worker_reply(int fd, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	if (s)
		dprintf(fd, "%s\n", s);
	free(s);
	json_decref(j);
}

static const char *arg_str(json_t *args, const char *key)
{
	return args ? json_string_value(json_object_get(args, key)) : NULL;
}

int do_template(struct daemon *d, struct conn *c, const char *verb, json_t *args, json_t **result,
		struct st_error **err)
{
	const char *name = arg_str(args, "name"), *file = arg_str(args, "file");
	pid_t pid;

	if (!strcmp(verb, "template-list")) {
		struct tmpl_manifest *ms = NULL;
		size_t n = 0;
		json_t *arr;

		if (tmpl_list(d->store, &ms, &n, err) < 0)
			return st_error_prefix(err, "template-list");
		arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, manifest_json(&ms[i]));
		tmpl_manifests_free(ms, n);
		*result = json_pack("{s:o}", "templates", arr);
		return 0;
	}
	if (!name)
		return st_error_setx(err, ST_EXIT_BADARG, 0, "%s: no template name given", verb);
	if (!strcmp(verb, "template-remove")) {
		_cleanup_free_ char *tname = NULL;
		_cleanup_free_ const char **users = NULL;
		size_t n = 0;
		unsigned ver = 0;

		if (tmpl_ref_parse(name, &tname, &ver, err) < 0)
			return st_error_prefix(err, "template-remove");
		for (struct ct *ct = d->cts; ct; ct = ct->next)
			n++;
		users = calloc(n + 1, sizeof(*users));
		if (!users)
			return st_error_set(err, ENOMEM, "template-remove");
		n = 0;
		for (struct ct *ct = d->cts; ct; ct = ct->next) {
			_cleanup_free_ char *cname = NULL;
			unsigned cver = 0;
			const char *ref = ct->conf ? ct_config_str(ct->conf, CT_OSTEMPLATE) : NULL;

			if (!ref || tmpl_ref_parse(ref, &cname, &cver, NULL) < 0)
				continue;
			if (strcmp(cname, tname) == 0 && (ver == 0 || cver == 0 || cver == ver))
				users[n++] = ct->ctid;
		}
		/* the daemon's own hold must not keep the image mounted */
		if (n == 0)
			layer_unhold(d, tname, ver);
		if (tmpl_remove(d->store, name, users, err) < 0)
			return st_error_prefix(err, "template-remove");
		return 0;
	}
	if ((!strcmp(verb, "template-import") || !strcmp(verb, "template-export")) && !file)
		return st_error_setx(err, ST_EXIT_BADARG, 0, "%s: no file given", verb);

	/* a long job: a forked worker writes progress and the reply itself */
	pid = fork();
	if (pid < 0)
		return st_error_set(err, errno, "%s: fork", verb);
	if (pid == 0) {
		struct worker_ctx w = { c->w.fd };
		struct tmpl_manifest m = { 0 };
		struct st_error *e = NULL;
		int r;

		signal(SIGPIPE, SIG_IGN);
		if (!strcmp(verb, "template-build"))
			r = tmpl_build(d->store, name, worker_progress, &w, &m, &e);
		else if (!strcmp(verb, "template-import"))
			r = tmpl_import(d->store, name, file, &m, &e);
		else if (!strcmp(verb, "template-update"))
			r = tmpl_update(d->store, name, worker_progress, &w, &m, &e);
		else
			r = tmpl_export(d->store, name, file, &e);
		if (r < 0)
			worker_reply(w.fd, json_pack("{s:b,s:s,s:i}", "ok", 0, "error",
						     e && e->msg ? e->msg : "failed", "exit",
						     st_error_exit(e)));
		else
			worker_reply(w.fd, json_pack("{s:b,s:o}", "ok", 1, "result",
						     m.name ? manifest_json(&m) : json_object()));
		_exit(r < 0 ? 1 : 0);
	}
	if (exec_fork_job(d, c, pid, NULL, NULL, NULL) < 0)
		return 0; /* the worker replied */
	return 1;
}
