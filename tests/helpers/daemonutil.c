/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A private stratad per test process (daemonutil.h): the one harness the
 * daemon-driven integration tests share.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/client.h"
#include "ksal/cleanup.h"
#include "tests/helpers/daemonutil.h"
#include "tests/helpers/testutil.h"

struct du_state du = { .pid = -1 };

/* The guard: a child that cleans up for this process if it dies without
 * du_teardown() (a Criterion timeout kills a test, and its .fini never
 * runs). -1: none. */
static pid_t guard = -1;

/* json_decrefp() is jansson's (json_auto_t) */
#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

/* The test plays the host in namespaces of its own. */
static void isolate(const struct du_opts *opts)
{
	int flags = (opts->netns ? CLONE_NEWNET : 0) | (opts->mntns ? CLONE_NEWNS : 0);

	if (!flags)
		return;
	cr_assert_eq(unshare(flags), 0, "unshare(%s%s): %s", opts->netns ? "net " : "",
		     opts->mntns ? "mnt" : "", strerror(errno));
	if (opts->mntns)
		cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL), 0,
			     "make / a slave mount: %s", strerror(errno));
	if (opts->netns) {
		const char *lo_up[] = { "ip", "link", "set", "lo", "up", NULL };
		_cleanup_free_ char *out = NULL;

		cr_assert_eq(tu_run(lo_up, &out), 0, "ip link set lo up: %s", out ? out : "");
	}
}

/* The pid of whoever listens on du.sock (the daemon, when the caller did
 * not start it itself); -1 if none answers. */
static pid_t socket_owner(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cr = { .pid = -1 };
	socklen_t l = sizeof(cr);
	int fd;

	if (!du.sock || strlen(du.sock) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, du.sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) < 0)
		cr.pid = -1;
	close(fd);
	return cr.pid > 1 ? cr.pid : -1;
}

static void guard_start(void)
{
	int pfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	pid_t pid;

	if (pfd < 0)
		return;
	pid = fork();
	if (pid == 0) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };

		prctl(PR_SET_NAME, "du-guard");
		/* nothing of the test's (Criterion's pipes) is held open */
		close_range(3, (unsigned)pfd - 1, 0);
		close_range((unsigned)pfd + 1, ~0U, 0);
		while (poll(&p, 1, -1) < 0 && errno == EINTR)
			;
		fprintf(stderr, "du-guard: test process died before its teardown: removing %s\n",
			du.tmp);
		du.pid = socket_owner();
		du_teardown();
		_exit(0);
	}
	close(pfd);
	guard = pid;
}

static void guard_stop(void)
{
	if (guard <= 0)
		return;
	kill(guard, SIGKILL);
	waitpid(guard, NULL, 0);
	guard = -1;
}

void du_setup(const struct du_opts *opts)
{
	_cleanup_free_ char *text = NULL;

	cr_assert_not_null(opts);
	cr_assert_not_null(opts->prefix);
	cr_assert(!opts->sysfs || opts->mntns, "du_opts.sysfs needs mntns");
	if (!tu_is_root())
		cr_skip_test("needs root");
	if (access(STRATAD_PATH, X_OK) < 0)
		cr_skip_test("stratad not built (%s)", STRATAD_PATH);
	isolate(opts);
	du.tmp = tu_tmpdir(opts->prefix);
	cr_assert_not_null(du.tmp, "make /tmp/%s-XXXXXX", opts->prefix);
	/* the container's root (an unprivileged host uid) walks down to its
	 * root directory, as it does through /var/lib/strata */
	cr_assert_eq(chmod(du.tmp, 0755), 0);
	if (opts->sysfs) {
		cr_assert_geq(asprintf(&du.sysfs, "%s/sys", du.tmp), 0);
		cr_assert_eq(mkdir(du.sysfs, 0755), 0);
		cr_assert_eq(mount("sysfs", du.sysfs, "sysfs", MS_RDONLY, NULL), 0,
			     "mount sysfs on `%s`: %s", du.sysfs, strerror(errno));
	}
	cr_assert_lt(snprintf(du.subtree, sizeof(du.subtree), "%s-%d",
			      opts->cgroup_prefix ? opts->cgroup_prefix : opts->prefix,
			      (int)getpid()),
		     (int)sizeof(du.subtree), "cgroup prefix too long");
	cr_assert_geq(asprintf(&du.log, "/tmp/%s-daemon.log", opts->prefix), 0);
	cr_assert_geq(asprintf(&du.sock, "%s/run/strata.sock", du.tmp), 0);
	cr_assert_geq(asprintf(&du.conf, "%s/strata.conf", du.tmp), 0);
	cr_assert_geq(asprintf(&text,
			       "CONF_DIR=%1$s/ct\nSTATE_DIR=%1$s/state\nRUN_DIR=%1$s/run\n"
			       "TEMPLATE_DIR=%1$s/templates\nPRIVATE_DIR=%1$s/private\n"
			       "ROOT_DIR=%1$s/root\nSOCKET=%2$s\nSAMPLES_DIR=%1$s/samples\n"
			       "CGROUP_SUBTREE=%3$s\nINIT_PATH=%4$s\nSTOP_TIMEOUT=10\nLXCFS=no\n"
			       "LOG_FILE=%1$s/stratad.log\n",
			       du.tmp, du.sock, du.subtree, STRATA_INIT_PATH),
		      0);
	cr_assert_eq(tu_write_file(du.conf, text), 0, "write `%s`", du.conf);
	guard_start();
}

void du_conf_addf(const char *fmt, ...)
{
	_cleanup_free_ char *old = NULL, *more = NULL, *text = NULL;
	va_list ap;
	int r;

	cr_assert_not_null(du.conf, "du_conf_addf before du_setup");
	old = tu_read_file(du.conf);
	cr_assert_not_null(old, "read `%s`", du.conf);
	va_start(ap, fmt);
	r = vasprintf(&more, fmt, ap);
	va_end(ap);
	cr_assert_geq(r, 0);
	cr_assert_geq(asprintf(&text, "%s%s", old, more), 0);
	cr_assert_eq(tu_write_file(du.conf, text), 0, "write `%s`", du.conf);
}

void du_daemon_start(void)
{
	pid_t pid;

	cr_assert_not_null(du.conf, "du_daemon_start before du_setup");
	pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(du.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(STRATAD_PATH, "stratad", "--config", du.conf, "--foreground", "--log-level",
		      "debug", (char *)NULL);
		_exit(127);
	}
	du.pid = pid;
	/* wait until it answers */
	for (int i = 0; i < 500; i++) {
		_cleanup_error_ struct st_error *err = NULL;
		_cleanup_json_ json_t *req = json_pack("{s:s}", "verb", "ping");

		if (st_client_call(du.sock, req, NULL, 0, NULL, NULL, NULL, &err) == 0)
			return;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			du.pid = -1;
			cr_assert_fail("stratad exited at start (see %s)", du.log);
		}
		usleep(10000);
	}
	cr_assert_fail("stratad did not answer within 5 s (see %s)", du.log);
}

void du_daemon_kill9(void)
{
	if (du.pid > 0) {
		kill(du.pid, SIGKILL);
		/* the guard is not its parent: it waits for it to be gone */
		if (waitpid(du.pid, NULL, 0) < 0)
			for (int i = 0; i < 100 && kill(du.pid, 0) == 0; i++)
				usleep(20000);
	}
	du.pid = -1;
}

int du_call(const char *verb, const char *ctid, json_t *args, json_t **result, char **msg)
{
	_cleanup_error_ struct st_error *err = NULL;
	_cleanup_json_ json_t *req = json_pack("{s:s}", "verb", verb);
	_cleanup_close_ int in = -EBADF, out = -EBADF;
	int fds[3], r;
	bool with_fds = !strcmp(verb, "exec");

	if (ctid)
		json_object_set_new(req, "ctid", json_string(ctid));
	if (args)
		json_object_set_new(req, "args", args);
	if (with_fds) {
		in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		out = open("/dev/null", O_WRONLY | O_CLOEXEC);
		cr_assert(in >= 0 && out >= 0, "open /dev/null: %s", strerror(errno));
		fds[0] = in;
		fds[1] = fds[2] = out;
	}
	r = st_client_call(du.sock, req, with_fds ? fds : NULL, with_fds ? 3 : 0, NULL, NULL,
			   result, &err);
	snprintf(du.last_msg, sizeof(du.last_msg), "%s", err && err->msg ? err->msg : "");
	if (msg)
		*msg = du.last_msg;
	return r == 0 ? 0 : st_error_exit(err);
}

/* All of fd until EOF (or a NUL byte), malloc'd; takes fd. */
static char *read_all(int fd)
{
	_cleanup_fclose_ FILE *f = fdopen(fd, "r");
	_cleanup_free_ char *buf = NULL;
	size_t cap = 0;

	if (!f) {
		close(fd);
		cr_assert_fail("fdopen: %s", strerror(errno));
	}
	if (getdelim(&buf, &cap, '\0', f) < 0)
		return strdup("");
	return take_ptr(buf);
}

/* argv as one line, for messages. */
static char *join(const char *const argv[])
{
	_cleanup_free_ char *line = NULL;
	size_t len = 0;
	_cleanup_fclose_ FILE *f = open_memstream(&line, &len);

	cr_assert_not_null(f);
	for (const char *const *x = argv; *x; x++)
		fprintf(f, "%s%s", x == argv ? "" : " ", *x);
	fclose(take_ptr(f));
	return take_ptr(line);
}

int du_exec_out(const char *ctid, const char *const argv[], char **out)
{
	_cleanup_error_ struct st_error *err = NULL;
	_cleanup_json_ json_t *req = NULL, *result = NULL;
	_cleanup_close_ int in = -EBADF, rd = -EBADF, wr = -EBADF;
	_cleanup_free_ char *text = NULL;
	json_t *a = json_array();
	int p[2], fds[3], r;

	for (const char *const *x = argv; *x; x++)
		json_array_append_new(a, json_string(*x));
	req = json_pack("{s:s,s:s,s:{s:o}}", "verb", "exec", "ctid", ctid, "args", "argv", a);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	rd = p[0];
	wr = p[1];
	in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(in, 0, "open /dev/null: %s", strerror(errno));
	fds[0] = in;
	fds[1] = wr;
	fds[2] = wr;
	r = st_client_call(du.sock, req, fds, 3, NULL, NULL, &result, &err);
	close(take_fd(wr));
	text = read_all(take_fd(rd));
	if (r != 0) {
		_cleanup_free_ char *line = join(argv);

		cr_assert_fail("exec `%s` in %s: %s", line, ctid, err && err->msg ? err->msg : "");
	}
	if (out)
		*out = take_ptr(text);
	return (int)json_integer_value(json_object_get(result, "exit_code"));
}

int du_sh(const char *ctid, const char *cmd, char **out)
{
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };

	return du_exec_out(ctid, argv, out);
}

int du_cli(const char *const args[], char **out)
{
	const char *argv[64] = { STRATA_CLI_PATH, "--socket", du.sock };
	size_t n = 3;

	for (const char *const *a = args; *a; a++) {
		cr_assert_lt(n, sizeof(argv) / sizeof(argv[0]) - 1,
			     "too many arguments for strata");
		argv[n++] = *a;
	}
	argv[n] = NULL;
	return tu_run(argv, out);
}

bool du_running(const char *ctid)
{
	_cleanup_json_ json_t *res = NULL;

	cr_assert_eq(du_call("status", ctid, NULL, &res, NULL), 0, "status %s: %s", ctid,
		     du.last_msg);
	return json_is_true(json_object_get(res, "running"));
}

pid_t du_ct_pid(const char *ctid)
{
	_cleanup_json_ json_t *res = NULL;
	json_t *c;
	size_t i;
	pid_t pid = -1;

	cr_assert_eq(du_call("list", NULL, json_pack("{s:b}", "all", 1), &res, NULL), 0, "list: %s",
		     du.last_msg);
	json_array_foreach (json_object_get(res, "containers"), i, c) {
		if (!strcmp(json_string_value(json_object_get(c, "ctid")), ctid) &&
		    json_is_integer(json_object_get(c, "pid")))
			pid = (pid_t)json_integer_value(json_object_get(c, "pid"));
	}
	return pid;
}

bool du_pid_gone(pid_t pid)
{
	for (int i = 0; i < 200; i++) {
		char p[64];
		_cleanup_free_ char *st = NULL;
		char *rp;

		waitpid(pid, NULL, WNOHANG);
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return true;
		snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
		st = tu_read_file(p);
		if (!st || ((rp = strrchr(st, ')')) && rp[1] == ' ' && rp[2] == 'Z'))
			return true;
		usleep(10000);
	}
	return false;
}

int du_private_count(const char *marker)
{
	_cleanup_free_ char *privd = du_path("/private");
	_cleanup_closedir_ DIR *d = opendir(privd);
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d, "open `%s`: %s", privd, strerror(errno));
	while ((e = readdir(d)))
		n += strstr(e->d_name, marker) != NULL;
	return n;
}

bool du_mounted_under(const char *prefix)
{
	_cleanup_free_ char *m = tu_read_file("/proc/self/mounts");

	return m && strstr(m, prefix);
}

char *du_path(const char *fmt, ...)
{
	_cleanup_free_ char *rest = NULL;
	char *p = NULL;
	va_list ap;
	int r;

	cr_assert_not_null(du.tmp, "du_path before du_setup");
	va_start(ap, fmt);
	r = vasprintf(&rest, fmt, ap);
	va_end(ap);
	cr_assert_geq(r, 0);
	cr_assert_geq(asprintf(&p, "%s%s", du.tmp, rest), 0);
	return p;
}

void du_make_template(const char *name, const char *init_script)
{
	_cleanup_free_ char *root = NULL, *img = NULL, *out = NULL;
	_cleanup_json_ json_t *res = NULL;
	char *msg = NULL;

	cr_assert_geq(asprintf(&root, "%s/rootfs-%s", du.tmp, name), 0);
	cr_assert_geq(asprintf(&img, "%s/%s.sqfs", du.tmp, name), 0);
	cr_assert_eq(tu_mkrootfs(root), 0, "make rootfs `%s`", root);
	if (init_script) {
		_cleanup_free_ char *init = NULL;

		cr_assert_geq(asprintf(&init, "%s/sbin/init", root), 0);
		unlink(init);
		cr_assert_eq(tu_write_file(init, init_script), 0);
		cr_assert_eq(chmod(init, 0755), 0);
	}
	const char *argv[] = { "mksquashfs", root, img, "-noappend", "-quiet", "-all-root", NULL };
	cr_assert_eq(tu_run(argv, &out), 0, "mksquashfs: %s", out ? out : "");
	cr_assert_eq(du_call("template-import", NULL,
			     json_pack("{s:s,s:s}", "name", name, "file", img), &res, &msg),
		     0, "template-import %s: %s", name, msg ? msg : "");
}

int du_daemon_term(void)
{
	int st;

	cr_assert_gt(du.pid, 0, "no daemon to stop");
	kill(du.pid, SIGTERM);
	cr_assert_eq(waitpid(du.pid, &st, 0), du.pid, "wait for stratad: %s", strerror(errno));
	du.pid = -1;
	return st;
}

/* ---- teardown: best effort, never asserts ---- */

/* Ask the daemon to stop every container. */
static void stop_all(void)
{
	_cleanup_json_ json_t *res = NULL;
	json_t *c;
	size_t i;

	if (du.pid <= 0 || du_call("list", NULL, json_pack("{s:b}", "all", 1), &res, NULL) != 0)
		return;
	json_array_foreach (json_object_get(res, "containers"), i, c) {
		const char *id = json_string_value(json_object_get(c, "ctid"));

		if (id)
			du_call("stop", id, json_pack("{s:b}", "fast", 1), NULL, NULL);
	}
}

/* An lxcfs the daemon started (LXCFS=yes tests). */
static void kill_lxcfs(void)
{
	_cleanup_free_ char *pf = NULL, *pid = NULL;

	if (asprintf(&pf, "%s/run/lxcfs.pid", du.tmp) >= 0 && (pid = tu_read_file(pf)) &&
	    atoi(pid) > 1) {
		kill(atoi(pid), SIGKILL);
		usleep(100000);
	}
}

/* The console keeper (runtime/keeper.c) ends by itself once its daemon
 * and its consoles are gone; one still there after a second is killed. Its
 * pid: the peer of its listening socket. */
static void kill_keeper(void)
{
	_cleanup_free_ char *path = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cr = { 0 };
	socklen_t l = sizeof(cr);
	int fd;

	if (asprintf(&path, "%s/run/consoles.sock", du.tmp) < 0 ||
	    strlen(path) >= sizeof(sa.sun_path))
		return;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) == 0 && cr.pid > 1) {
		close(fd);
		for (int i = 0; i < 20 && kill(cr.pid, 0) == 0; i++)
			usleep(50000);
		kill(cr.pid, SIGKILL);
	} else {
		close(fd);
	}
}

/* Any init the state files still name. */
static void kill_inits(void)
{
	_cleanup_free_ char *statedir = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *e;

	if (asprintf(&statedir, "%s/run/ct", du.tmp) < 0 || !(d = opendir(statedir)))
		return;
	while ((e = readdir(d))) {
		_cleanup_free_ char *p = NULL;
		_cleanup_json_ json_t *j = NULL;

		if (!strstr(e->d_name, ".state") || asprintf(&p, "%s/%s", statedir, e->d_name) < 0)
			continue;
		j = json_load_file(p, 0, NULL);
		if (j && json_integer_value(json_object_get(j, "pid")) > 1)
			kill((pid_t)json_integer_value(json_object_get(j, "pid")), SIGKILL);
	}
	usleep(100000);
}

/* Everything mounted under the temp dir, deepest first (detached). */
static void unmount_all(void)
{
	size_t n = strlen(du.tmp);

	for (int pass = 0; pass < 10 && du_mounted_under(du.tmp); pass++) {
		_cleanup_free_ char *m = tu_read_file("/proc/self/mounts");
		char *save = NULL;

		for (char *line = m ? strtok_r(m, "\n", &save) : NULL; line;
		     line = strtok_r(NULL, "\n", &save)) {
			char dev[512], mnt[512];

			if (sscanf(line, "%511s %511s", dev, mnt) == 2 &&
			    !strncmp(mnt, du.tmp, n) && (mnt[n] == '\0' || mnt[n] == '/'))
				umount2(mnt, MNT_DETACH);
		}
	}
}

/* Every hierarchy's <subtree> and its children. */
static int rmdir_cgroup(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	if (type == FTW_DP)
		rmdir(path); /* a cgroup's control files go with it */
	return 0;
}

/* The daemon's subtree in every hierarchy, deepest first: a systemd guest
 * makes slices and scopes of its own below its container's cgroup. */
static void remove_cgroups(void)
{
	_cleanup_closedir_ DIR *d = opendir("/sys/fs/cgroup");
	struct dirent *e;

	if (!d || !du.subtree[0])
		return;
	while ((e = readdir(d))) {
		_cleanup_free_ char *top = NULL;

		if (e->d_name[0] == '.' ||
		    asprintf(&top, "/sys/fs/cgroup/%s/%s", e->d_name, du.subtree) < 0)
			continue;
		if (access(top, F_OK) == 0)
			nftw(top, rmdir_cgroup, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	}
}

void du_teardown(void)
{
	guard_stop();
	if (!du.tmp)
		return;
	if (du.sysfs)
		umount2(du.sysfs, MNT_DETACH);
	stop_all();
	du_daemon_kill9();
	kill_lxcfs();
	kill_inits();
	kill_keeper();
	unmount_all();
	remove_cgroups();
	tu_rm_rf(du.tmp);
	free(du.tmp);
	free(du.sock);
	free(du.conf);
	free(du.sysfs);
	free(du.log);
	du.tmp = du.sock = du.conf = du.sysfs = du.log = NULL;
	du.subtree[0] = '\0';
	/* namespaces of the test's own go with the test process */
}
