/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The harness of the cgroup integration tests (test_cgroup.c: v1 on this
 * hybrid host; test_cgroup_v2.c: the real cgroup2 mount), included by both:
 * the subtree "stcg-test-<pid>" in every hierarchy, tracked children, and a
 * .fini that kills and removes whatever a failed test left.
 */

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "ksal/cgroup.h"
#include "ksal/cleanup.h"
#include "ksal/error.h"
#include "ksal/syscalls.h"

#define CGROOT "/sys/fs/cgroup"
#define UNIFIED CGROOT "/unified"

static char sub[64];
static struct ksal_cgroup_mgr *mgr;
static struct ksal_cgroup *cg;
static struct st_error *err;
static pid_t kids[64];
static size_t nkids;
static char io_file[128]; /* a test file, removed by .fini */

#define OK(call)                                                                                   \
	do {                                                                                       \
		int r_ = (call);                                                                   \
		cr_assert_eq(r_, 0, "%s: %d: %s", #call, r_, err ? err->msg : "(no message)");     \
	} while (0)

/* ---- cleanup: whatever a failed test left, in every hierarchy ---- */

static __attribute__((unused)) void kill_tree(const char *dir)
{
	char p[4096];
	DIR *d;
	struct dirent *de;
	FILE *f;

	snprintf(p, sizeof(p), "%s/freezer.state", dir);
	if ((f = fopen(p, "we"))) {
		fputs("THAWED", f);
		fclose(f);
	}
	snprintf(p, sizeof(p), "%s/cgroup.freeze", dir);
	if ((f = fopen(p, "we"))) {
		fputs("0", f);
		fclose(f);
	}
	snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
	if ((f = fopen(p, "re"))) {
		int pid;
		while (fscanf(f, "%d", &pid) == 1)
			kill(pid, SIGKILL);
		fclose(f);
	}
	if (!(d = opendir(dir)))
		return;
	while ((de = readdir(d)))
		if (de->d_type == DT_DIR && de->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			kill_tree(p);
		}
	closedir(d);
}

static __attribute__((unused)) void rmdir_tree(const char *dir)
{
	char p[4096];
	DIR *d;
	struct dirent *de;

	if (!(d = opendir(dir)))
		return;
	while ((de = readdir(d)))
		if (de->d_type == DT_DIR && de->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			rmdir_tree(p);
		}
	closedir(d);
	for (int i = 0; i < 100 && rmdir(dir) < 0 && errno == EBUSY; i++)
		usleep(20000);
}

static __attribute__((unused)) void reap_all(void)
{
	for (size_t i = 0; i < nkids; i++) {
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
	}
	nkids = 0;
	/* orphaned grandchildren came to us (subreaper) */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static __attribute__((unused)) void cleanup_subtrees(void)
{
	char p[4096];
	DIR *d = opendir(CGROOT);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), CGROOT "/%s/%s", de->d_name, sub);
		if (access(p, F_OK) == 0)
			kill_tree(p);
	}
	rewinddir(d);
	usleep(50000);
	reap_all();
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), CGROOT "/%s/%s", de->d_name, sub);
		if (access(p, F_OK) == 0)
			rmdir_tree(p);
	}
	closedir(d);
}

static __attribute__((unused)) void setup(void)
{
	snprintf(sub, sizeof(sub), "stcg-test-%d", (int)getpid());
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* a write to a killed child's pipe must fail, not end the test
	 * before .fini can clean up */
	signal(SIGPIPE, SIG_IGN);
}

static __attribute__((unused)) void teardown(void)
{
	ksal_cgroup_free(cg);
	cg = NULL;
	ksal_cgroup_mgr_free(mgr);
	mgr = NULL;
	st_error_free(err);
	err = NULL;
	reap_all();
	cleanup_subtrees();
	if (io_file[0])
		unlink(io_file);
}

static __attribute__((unused)) void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root");
}

/* ---- helpers ---- */

static __attribute__((unused)) pid_t track(pid_t pid)
{
	cr_assert_gt(pid, 0, "fork: %s", strerror(errno));
	if (nkids < ARRAY_SIZE(kids))
		kids[nkids++] = pid;
	return pid;
}

static __attribute__((unused)) void untrack(pid_t pid)
{
	for (size_t i = 0; i < nkids; i++)
		if (kids[i] == pid)
			kids[i] = -1;
}

/* A child blocked on a pipe until released; then runs fn and exits with its
 * return value. */
static __attribute__((unused)) pid_t spawn_held(int (*fn)(void), int *go)
{
	int p[2];
	pid_t pid;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	if (pid == 0) {
		char c;
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(100);
		_exit(fn());
	}
	track(pid);
	close(p[0]);
	*go = p[1];
	return pid;
}

static __attribute__((unused)) void release(int go)
{
	cr_assert_eq(write(go, "x", 1), 1);
	close(go);
}

static __attribute__((unused)) int status_of(pid_t pid)
{
	int st = -1;

	cr_assert_eq(waitpid(pid, &st, 0), pid);
	untrack(pid);
	return st;
}

static __attribute__((unused)) char *slurp(const char *path)
{
	static char buf[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

static __attribute__((unused)) char *cgfile(const char *hier, const char *name, const char *file)
{
	static char p[4096];

	snprintf(p, sizeof(p), CGROOT "/%s/%s/%s%s%s", hier, sub, name, *file ? "/" : "", file);
	return p;
}

static __attribute__((unused)) unsigned long utime_of(pid_t pid)
{
	char path[64], *s, *p;
	unsigned long ut = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	s = slurp(path);
	cr_assert_not_null(s);
	p = strrchr(s, ')');
	cr_assert_not_null(p);
	/* after ") ": state(3) ... utime is field 14 */
	cr_assert_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu", &ut), 1);
	return ut;
}

static __attribute__((unused)) void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static __attribute__((unused)) int do_spin(void)
{
	for (volatile unsigned long i = 0;; i++)
		;
	return 0;
}

static __attribute__((unused)) int do_pause(void)
{
	for (;;)
		pause();
	return 0;
}

static __attribute__((unused)) int do_memhog(void)
{
	size_t len = 128UL << 20;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return 2;
	for (size_t i = 0; i < len; i += 4096)
		m[i] = 1;
	return 0; /* survived: the limit did not hold */
}

/* Fork until the kernel says no; 0 if that was EAGAIN before 20 tasks. */
static __attribute__((unused)) int do_forkbomb(void)
{
	int n = 0;

	for (;;) {
		pid_t p = fork();
		if (p == 0)
			do_pause();
		if (p < 0)
			return errno == EAGAIN && n < 20 ? 0 : 3;
		if (++n > 200)
			return 4;
	}
}

static __attribute__((unused)) int do_devices(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return 10; /* allowed device refused */
	close(fd);
	fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return 11; /* device outside the list opened */
	return errno == EPERM ? 0 : 12;
}
