/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The view from inside: start, adopt, watch, restart and stop Debian's
 * lxcfs, and the binds that show its files inside a container. What
 * happens when lxcfs dies is described in lxcfs.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/syscalls.h"
#include "runtime/lxcfs.h"

#ifndef FUSE_SUPER_MAGIC
#define FUSE_SUPER_MAGIC 0x65735546
#endif

#define LXCFS_START_TIMEOUT_MS 10000
#define LXCFS_STOP_TIMEOUT_MS 5000

/* Files lxcfs 5.0 serves that a container reads, relative to its mount and
 * to the container's root. */
static const char *const view_files[] = {
	"proc/meminfo", "proc/cpuinfo", "proc/stat",	  "proc/uptime",
	"proc/loadavg", "proc/swaps",	"proc/diskstats", "sys/devices/system/cpu/online",
};
#define N_VIEW ARRAY_SIZE(view_files)

struct lxcfs {
	char *mnt;
	char *pidfile;
	char *logfile;
	char *bin;
	char *src[N_VIEW];    /* <mnt>/<view_files[i]> */
	char *target[N_VIEW]; /* /<view_files[i]> */
	/* O_PATH fds of the files served, cloned at a start with no path walk:
	 * each lookup on the FUSE mount is a round trip to lxcfs (0.6 ms of a
	 * 4 ms start for the eight) */
	int fd[N_VIEW];
	/* the binds for the files this instance serves: scanned once when it
	 * is started, adopted or restarted (the set does not change while it
	 * runs), copied out by lxcfs_binds */
	struct ksal_bind bind[N_VIEW];
	size_t nbind;
	pid_t pid;
	int pidfd;
	bool child; /* our child: reaped with waitpid */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The lxcfs binary: the first executable `lxcfs` in PATH, then /usr/bin. */
static char *find_lxcfs(void)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *dirs = NULL;
	char *save = NULL;

	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	if (asprintf(&dirs, "%s:/usr/bin", path) < 0)
		return NULL;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *p;

		if (*d != '/')
			continue;
		if (asprintf(&p, "%s/lxcfs", d) < 0)
			return NULL;
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

int lxcfs_available(struct st_error **err)
{
	_cleanup_free_ char *bin = find_lxcfs();
	_cleanup_close_ int fd = -EBADF;

	if (!bin)
		return st_error_setx(err, ST_EXIT_NOFEATURE, ENOENT,
				     "the view from inside is off: lxcfs not found in PATH or "
				     "/usr/bin (install Debian's lxcfs package)");
	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return st_error_setx(err, ST_EXIT_NOFEATURE, errno,
				     "the view from inside is off: open `/dev/fuse` (no FUSE in "
				     "this kernel or no device node?)");
	return 0;
}

/* 1: a FUSE mount answering on mnt; 0: none there; -ENOTCONN: a dead one
 * (its server gone); other -errno: mnt unusable. */
static int mount_state(const struct lxcfs *l)
{
	struct statfs sfs;
	_cleanup_close_ int fd = -EBADF;
	char c;

	if (statfs(l->mnt, &sfs) < 0)
		return -errno;
	if ((unsigned long)sfs.f_type != FUSE_SUPER_MAGIC)
		return 0;
	fd = open(l->src[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTCONN ? -ENOTCONN : 0;
	if (read(fd, &c, 1) < 0)
		return -errno;
	return 1;
}

static bool pidfd_exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return pidfd < 0 || poll(&p, 1, 0) != 0;
}

pid_t lxcfs_pid(const struct lxcfs *l)
{
	return l->pid;
}

int lxcfs_pidfd(const struct lxcfs *l)
{
	return l->pidfd;
}

const char *lxcfs_mountpoint(const struct lxcfs *l)
{
	return l->mnt;
}

bool lxcfs_healthy(const struct lxcfs *l)
{
	return !pidfd_exited(l->pidfd) && mount_state(l) == 1;
}

void lxcfs_free(struct lxcfs *l)
{
	if (!l)
		return;
	closep(&l->pidfd);
	for (size_t i = 0; i < N_VIEW; i++) {
		closep(&l->fd[i]);
		free(l->src[i]);
		free(l->target[i]);
	}
	free(l->mnt);
	free(l->pidfile);
	free(l->logfile);
	free(l->bin);
	free(l);
}

static void lxcfs_freep(struct lxcfs **l)
{
	lxcfs_free(*l);
	*l = NULL;
}

/* Wait until the process is gone (reaping it if it is our child). */
static bool wait_gone(struct lxcfs *l, int timeout_ms)
{
	struct pollfd p = { .fd = l->pidfd, .events = POLLIN };

	if (l->pidfd >= 0) {
		int r;

		do
			r = poll(&p, 1, timeout_ms);
		while (r < 0 && errno == EINTR);
		if (r == 0)
			return false;
	}
	if (l->child) {
		while (waitpid(l->pid, NULL, 0) < 0 && errno == EINTR)
			;
		l->child = false;
	}
	return true;
}

/* End the process (SIGTERM: lxcfs unmounts itself; SIGKILL if it hangs). */
static void end_process(struct lxcfs *l, int sig)
{
	if (l->pid <= 0)
		return;
	if (l->pidfd >= 0 && !pidfd_exited(l->pidfd)) {
		pidfd_send_signal(l->pidfd, sig, NULL, 0);
		if (!wait_gone(l, LXCFS_STOP_TIMEOUT_MS)) {
			st_warn("lxcfs %d ignored signal %d for %d ms; killing it", (int)l->pid,
				sig, LXCFS_STOP_TIMEOUT_MS);
			pidfd_send_signal(l->pidfd, SIGKILL, NULL, 0);
			wait_gone(l, -1);
		}
	}
	wait_gone(l, -1);
	closep(&l->pidfd);
	l->pid = 0;
}

/* Detach whatever FUSE mount is left on the mountpoint (a dead one). */
static int detach_mount(struct lxcfs *l, struct st_error **err)
{
	if (umount2(l->mnt, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return st_error_setx(err, ST_EXIT_UMOUNTFAIL, errno, "detach lxcfs mount `%s`",
				     l->mnt);
	st_debug("lxcfs: detached the mount on %s", l->mnt);
	return 0;
}

/* The last non-empty line of lxcfs's log, for error messages. */
static char *log_tail(const struct lxcfs *l)
{
	_cleanup_fclose_ FILE *f = fopen(l->logfile, "re");
	_cleanup_free_ char *line = NULL;
	char *last = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return NULL;
	while ((n = getline(&line, &cap, f)) > 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
			line[--n] = '\0';
		if (n == 0)
			continue;
		free(last);
		last = strdup(line);
	}
	return last;
}

static int spawn_lxcfs(struct lxcfs *l, struct st_error **err)
{
	char *const argv[] = { l->bin,
			       "--enable-cfs",
			       "--enable-loadavg",
			       "--enable-pidfd",
			       "-p",
			       l->pidfile,
			       l->mnt,
			       NULL };
	_cleanup_close_ int logfd = -EBADF, nullfd = -EBADF;
	_cleanup_kill_ pid_t pid = -1;
	int64_t deadline;
	int st;

	logfd = open(l->logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (logfd < 0)
		return st_error_set(err, errno, "open lxcfs log `%s`", l->logfile);
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nullfd < 0)
		return st_error_set(err, errno, "open `/dev/null`");
	pid = fork();
	if (pid < 0)
		return st_error_set(err, errno, "fork for lxcfs");
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		setsid();
		if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(127);
		close_range(3, ~0U, 0);
		execv(l->bin, argv);
		_exit(127);
	}
	l->pidfd = pidfd_open(pid, 0);
	if (l->pidfd < 0)
		return st_error_set(err, errno, "open pidfd of lxcfs %d", (int)pid);
	l->pid = pid;
	l->child = true;
	st_debug("lxcfs: started %d on %s (log %s)", (int)pid, l->mnt, l->logfile);

	deadline = now_ms() + LXCFS_START_TIMEOUT_MS;
	for (;;) {
		pid_t w;

		if (mount_state(l) == 1) {
			take_pid(pid);
			st_info("lxcfs %d serves the view from inside on %s", (int)l->pid, l->mnt);
			return 0;
		}
		w = waitpid(pid, &st, WNOHANG);
		if (w == pid) {
			_cleanup_free_ char *tail = log_tail(l);

			take_pid(pid);
			closep(&l->pidfd);
			l->pid = 0;
			l->child = false;
			return st_error_setx(err, ST_EXIT_MOUNTFAIL, 0,
					     "start lxcfs on `%s`: it exited with %s %d before "
					     "mounting (%s; log `%s`)",
					     l->mnt, WIFEXITED(st) ? "status" : "signal",
					     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
					     tail ? tail : "no output", l->logfile);
		}
		if (now_ms() >= deadline)
			break;
		sleep_ms(10);
	}
	/* _cleanup_kill_ kills and reaps it */
	closep(&l->pidfd);
	l->pid = 0;
	l->child = false;
	return st_error_setx(err, ST_EXIT_TIMEOUT, ETIMEDOUT,
			     "start lxcfs on `%s`: no mount after %d ms (log `%s`)", l->mnt,
			     LXCFS_START_TIMEOUT_MS, l->logfile);
}

/* The parent pid of pid (/proc/PID/stat field 4), -1 if unknown. */
static pid_t parent_of(pid_t pid)
{
	_cleanup_fclose_ FILE *f = NULL;
	char path[64], buf[512], *p;
	int ppid;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f || !fgets(buf, sizeof(buf), f))
		return -1;
	/* comm may hold spaces and parentheses: parse after the last ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

/* Which view files this lxcfs instance serves: fills l->bind once per
 * instance so that lxcfs_binds does not stat them on every container start. */
static int scan_binds(struct lxcfs *l, struct st_error **err)
{
	size_t cnt = 0;

	l->nbind = 0;
	for (size_t i = 0; i < N_VIEW; i++)
		closep(&l->fd[i]); /* a restarted lxcfs: the old mount's */
	for (size_t i = 0; i < N_VIEW; i++) {
		l->fd[i] = open(l->src[i], O_PATH | O_CLOEXEC);
		if (l->fd[i] < 0) {
			int e = errno;

			l->fd[i] = -EBADF;
			if (e == ENOENT)
				continue; /* not provided by this lxcfs */
			return st_error_set(err, e, "open `%s`", l->src[i]);
		}
		l->bind[cnt++] = (struct ksal_bind){
			.source = l->src[i],
			.target = l->target[i],
			.readonly = true,
			.create_file = true,
			.use_fd = true,
			.source_fd = l->fd[i],
		};
	}
	l->nbind = cnt;
	return 0;
}

/* A live lxcfs already serving on mnt (daemon restart): take it over. */
static bool adopt(struct lxcfs *l)
{
	_cleanup_fclose_ FILE *f = fopen(l->pidfile, "re");
	_cleanup_free_ char *path = NULL, *cmd = NULL;
	_cleanup_close_ int fd = -EBADF;
	char comm[32];
	ssize_t n;
	int pid = 0;
	bool found = false;

	if (!f || fscanf(f, "%d", &pid) != 1 || pid <= 0)
		return false;
	if (asprintf(&path, "/proc/%d/cmdline", pid) < 0)
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	cmd = calloc(1, 8192);
	if (!cmd)
		return false;
	n = read(fd, cmd, 8191);
	if (n <= 0)
		return false;
	/* argv[0] ends in "lxcfs" and one argument is our mountpoint */
	snprintf(comm, sizeof(comm), "%s", strrchr(cmd, '/') ? strrchr(cmd, '/') + 1 : cmd);
	if (strcmp(comm, "lxcfs") != 0)
		return false;
	for (char *p = cmd; p < cmd + n; p += strlen(p) + 1)
		if (strcmp(p, l->mnt) == 0)
			found = true;
	if (!found)
		return false;
	if (mount_state(l) != 1) {
		/* ours, but not answering: a hung lxcfs would hold the mount */
		st_warn("lxcfs %d on %s does not answer; killing it", pid, l->mnt);
		kill(pid, SIGKILL);
		return false;
	}
	l->pidfd = pidfd_open(pid, 0);
	if (l->pidfd < 0) {
		l->pidfd = -EBADF;
		return false;
	}
	l->pid = pid;
	l->child = parent_of(pid) == getpid();
	st_info("lxcfs: adopted %d serving on %s", pid, l->mnt);
	return true;
}

int lxcfs_start(const char *mountpoint, struct lxcfs **out, struct st_error **err)
{
	_cleanup_(lxcfs_freep) struct lxcfs *l = NULL;
	size_t len;
	int r;

	if (!mountpoint || mountpoint[0] != '/')
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL,
				     "lxcfs mountpoint `%s` (an absolute path)",
				     mountpoint ? mountpoint : "(null)");
	r = lxcfs_available(err);
	if (r < 0)
		return r;
	l = calloc(1, sizeof(*l));
	if (!l)
		return st_error_set(err, ENOMEM, "start lxcfs");
	l->pidfd = -EBADF;
	for (size_t i = 0; i < N_VIEW; i++)
		l->fd[i] = -EBADF;
	l->mnt = strdup(mountpoint);
	if (!l->mnt)
		return st_error_set(err, ENOMEM, "start lxcfs");
	while ((len = strlen(l->mnt)) > 1 && l->mnt[len - 1] == '/')
		l->mnt[len - 1] = '\0';
	l->bin = find_lxcfs();
	if (!l->bin || asprintf(&l->pidfile, "%s.pid", l->mnt) < 0 ||
	    asprintf(&l->logfile, "%s.log", l->mnt) < 0)
		return st_error_set(err, ENOMEM, "start lxcfs");
	for (size_t i = 0; i < N_VIEW; i++) {
		if (asprintf(&l->src[i], "%s/%s", l->mnt, view_files[i]) < 0 ||
		    asprintf(&l->target[i], "/%s", view_files[i]) < 0)
			return st_error_set(err, ENOMEM, "start lxcfs");
	}

	if (mkdir(l->mnt, 0755) < 0 && errno != EEXIST) {
		/* a dead FUSE mount there answers ENOTCONN */
		if (errno != ENOTCONN)
			return st_error_set(err, errno, "create lxcfs mountpoint `%s`", l->mnt);
	}
	if (adopt(l)) {
		r = scan_binds(l, err);
		if (r < 0)
			return r; /* the adopted lxcfs keeps serving */
		*out = take_ptr(l);
		return 0;
	}
	r = mount_state(l);
	if (r == 1)
		return st_error_setx(err, ST_EXIT_MOUNTED, EBUSY,
				     "start lxcfs on `%s`: a FUSE filesystem not started by us "
				     "is mounted there",
				     l->mnt);
	if (r == -ENOTCONN) {
		st_warn("lxcfs: a dead mount (lxcfs gone) is on %s; detaching it", l->mnt);
		r = detach_mount(l, err);
		if (r < 0)
			return r;
	} else if (r < 0) {
		return st_error_set(err, -r, "check lxcfs mountpoint `%s`", l->mnt);
	}
	r = spawn_lxcfs(l, err);
	if (r < 0)
		return r;
	r = scan_binds(l, err);
	if (r < 0) {
		lxcfs_stop(take_ptr(l));
		return r;
	}
	*out = take_ptr(l);
	return 0;
}

int lxcfs_restart(struct lxcfs *l, struct st_error **err)
{
	int r;

	st_warn("lxcfs: restarting on %s (old process %d)", l->mnt, (int)l->pid);
	end_process(l, SIGKILL);
	if (mount_state(l) != 0) {
		r = detach_mount(l, err);
		if (r < 0)
			return st_error_prefix(err, "restart lxcfs: ");
	}
	r = spawn_lxcfs(l, err);
	if (r < 0)
		return st_error_prefix(err, "restart lxcfs: ");
	r = scan_binds(l, err);
	if (r < 0)
		return st_error_prefix(err, "restart lxcfs: ");
	return 0;
}

int lxcfs_binds(const struct lxcfs *l, struct ksal_bind **binds, size_t *n, struct st_error **err)
{
	struct ksal_bind *b = calloc(N_VIEW, sizeof(*b));

	if (!b)
		return st_error_set(err, ENOMEM, "list lxcfs binds");
	memcpy(b, l->bind, l->nbind * sizeof(*b));
	for (size_t i = 0; i < l->nbind; i++) {
		/* the caller's copy: a restart of lxcfs closes l's */
		b[i].source_fd = fcntl(l->bind[i].source_fd, F_DUPFD_CLOEXEC, 3);
		b[i].use_fd = b[i].source_fd >= 0; /* else: the path */
	}
	*binds = b;
	*n = l->nbind;
	return 0;
}

void lxcfs_binds_free(struct ksal_bind *binds, size_t n)
{
	for (size_t i = 0; binds && i < n; i++)
		if (binds[i].use_fd)
			close(binds[i].source_fd);
	free(binds);
}

struct rebind_fail {
	int step; /* 0 setns, 1 move_mount */
	int idx;
	int errnum;
};

static void trees_close(int (*t)[N_VIEW])
{
	for (size_t i = 0; i < N_VIEW; i++)
		closep(&(*t)[i]);
}

/* In the forked child: report what failed to the parent and exit. */
static _Noreturn void rebind_child_fail(int wr, int step, int idx, int errnum)
{
	struct rebind_fail f = { step, idx, errnum };

	if (write(wr, &f, sizeof(f)) != sizeof(f))
		_exit(2);
	_exit(1);
}

int lxcfs_rebind(const struct lxcfs *l, pid_t pid, struct st_error **err)
{
	_cleanup_(trees_close) int tree[N_VIEW];
	_cleanup_close_ int pidfd = -EBADF, rd = -EBADF, wr = -EBADF;
	_cleanup_kill_ pid_t child = -1;
	struct rebind_fail fail = { 0 };
	int pfd[2], st;
	ssize_t n;

	for (size_t i = 0; i < N_VIEW; i++)
		tree[i] = -EBADF;
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0)
		return st_error_setx(err, ST_EXIT_NOTRUNNING, errno,
				     "refresh lxcfs binds in container init %d", (int)pid);
	for (size_t i = 0; i < N_VIEW; i++) {
		struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
						       MOUNT_ATTR_NODEV };

		tree[i] = open_tree(AT_FDCWD, l->src[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (tree[i] < 0) {
			int e = errno;

			tree[i] = -EBADF;
			if (e == ENOENT)
				continue; /* not provided by this lxcfs */
			return st_error_set(err, e, "clone lxcfs file `%s`", l->src[i]);
		}
		if (mount_setattr(tree[i], "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
			return st_error_set(err, errno, "make a clone of `%s` read-only",
					    l->src[i]);
	}
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return st_error_set(err, errno, "create a pipe to refresh lxcfs binds");
	rd = pfd[0];
	wr = pfd[1];
	child = fork();
	if (child < 0)
		return st_error_set(err, errno, "fork to enter container init %d", (int)pid);
	if (child == 0) {
		if (setns(pidfd, CLONE_NEWNS) < 0)
			rebind_child_fail(wr, 0, -1, errno);
		for (size_t i = 0; i < N_VIEW; i++) {
			if (tree[i] < 0)
				continue;
			/* the old (dead) bind, if there is one; where the
			 * container's mounts are locked (stratad(8)) it cannot
			 * go and the new one covers it */
			umount2(l->target[i], MNT_DETACH);
			if (move_mount(tree[i], "", AT_FDCWD, l->target[i],
				       MOVE_MOUNT_F_EMPTY_PATH) < 0)
				rebind_child_fail(wr, 1, (int)i, errno);
		}
		_exit(0);
	}
	closep(&wr);
	do
		n = read(rd, &fail, sizeof(fail));
	while (n < 0 && errno == EINTR);
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	take_pid(child);
	if (n == sizeof(fail)) {
		if (fail.step == 0)
			return st_error_set(err, fail.errnum,
					    "enter the mount namespace of container init %d",
					    (int)pid);
		return st_error_set(err, fail.errnum, "bind `%s` on `%s` in container init %d",
				    l->src[fail.idx], l->target[fail.idx], (int)pid);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return st_error_set(err, EIO, "refresh lxcfs binds in container init %d", (int)pid);
	st_info("lxcfs: refreshed the view's binds in container init %d", (int)pid);
	return 0;
}

void lxcfs_stop(struct lxcfs *l)
{
	if (!l)
		return;
	/* SIGTERM takes lxcfs 5.0 1.5-6 s (its loadavg thread sleeps in 5 s
	 * steps); it keeps no state worth a clean exit, so kill it and detach
	 * the mount ourselves. */
	end_process(l, SIGKILL);
	if (mount_state(l) != 0)
		detach_mount(l, NULL);
	unlink(l->pidfile);
	st_debug("lxcfs: stopped on %s", l->mnt);
	lxcfs_free(l);
}
