/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "tests/helpers/testutil.h"

#ifndef TU_TESTINIT_PATH
#error "TU_TESTINIT_PATH must be set by meson"
#endif

#define BUSYBOX "/bin/busybox"

static const char *const busybox_applets[] = {
	"sh",	    "ash",  "cat",  "ls",    "echo",	 "sleep", "ps",	   "mount",    "umount",
	"hostname", "id",   "true", "false", "env",	 "grep",  "mkdir", "rm",       "touch",
	"head",	    "tail", "wc",   "ip",    "ifconfig", "ping",  "kill",  "uname",    "df",
	"dd",	    "sync", "stat", "chown", "chmod",	 "cp",	  "mv",	   "ln",       "sed",
	"free",	    "top",  "nc",   "wget",  "vi",	 "init",  "halt",  "poweroff", "reboot",
};

const char *tu_testinit_path(void)
{
	const char *env = getenv("STRATA_TESTINIT");

	return env && *env ? env : TU_TESTINIT_PATH;
}

bool tu_is_root(void)
{
	return geteuid() == 0;
}

char *tu_tmpdir(const char *prefix)
{
	char *p = NULL;

	if (asprintf(&p, "/tmp/%s-XXXXXX", prefix && *prefix ? prefix : "strata-test") < 0)
		return NULL;
	if (!mkdtemp(p)) {
		fprintf(stderr, "tu_tmpdir %s: %s\n", p, strerror(errno));
		free(p);
		return NULL;
	}
	return p;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	int r = type == FTW_DP ? rmdir(path) : unlink(path);

	if (r < 0 && errno != ENOENT)
		fprintf(stderr, "tu_rm_rf: remove %s: %s\n", path, strerror(errno));
	return 0;
}

int tu_rm_rf(const char *path)
{
	struct stat st;

	if (!path || lstat(path, &st) < 0)
		return 0;
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return -errno;
	return lstat(path, &st) == 0 ? -ENOTEMPTY : 0;
}

int tu_write_file(const char *path, const char *text)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
		int e = errno;

		fprintf(stderr, "tu_write_file %s: %s\n", path, strerror(e));
		return -e;
	}
	return 0;
}

char *tu_read_file(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	buf = malloc(1);
	if (!buf)
		return NULL;
	for (;;) {
		char chunk[8192];
		size_t n = fread(chunk, 1, sizeof(chunk), f);
		char *nb;

		if (n == 0)
			break;
		nb = realloc(buf, len + n + 1);
		if (!nb)
			return NULL;
		buf = nb;
		memcpy(buf + len, chunk, n);
		len += n;
	}
	buf[len] = '\0';
	return take_ptr(buf);
}

static int copy_fail(const char *src, const char *dst)
{
	int e = errno ? errno : EIO;

	fprintf(stderr, "tu_mkrootfs: copy %s to %s: %s\n", src, dst, strerror(e));
	return -e;
}

/* Copy a regular file with its mode (a real copy: tests may chown it). */
static int copy_file(const char *src, const char *dst)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = -EBADF;
	struct stat st;

	if (in < 0 || fstat(in, &st) < 0)
		return copy_fail(src, dst);
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 07777);
	if (out < 0)
		return copy_fail(src, dst);
	for (off_t left = st.st_size; left > 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);

		if (n <= 0) {
			char buf[65536];

			n = read(in, buf, sizeof(buf));
			if (n <= 0 || write(out, buf, (size_t)n) != n)
				return copy_fail(src, dst);
		}
		left -= n;
	}
	return 0;
}

static int mkdir_in(const char *dir, const char *sub, mode_t mode)
{
	_cleanup_free_ char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, sub) < 0)
		return -ENOMEM;
	if (mkdir(p, mode) < 0 && errno != EEXIST) {
		fprintf(stderr, "tu_mkrootfs: mkdir %s: %s\n", p, strerror(errno));
		return -errno;
	}
	return 0;
}

static int write_in(const char *dir, const char *sub, const char *text)
{
	_cleanup_free_ char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, sub) < 0)
		return -ENOMEM;
	return tu_write_file(p, text);
}

bool tu_have_busybox(void)
{
	return access(BUSYBOX, X_OK) == 0;
}

int tu_mkrootfs(const char *dir)
{
	static const char *const dirs[] = { "bin",     "sbin", "proc",	 "sys", "dev",
					    "tmp",     "etc",  "root",	 "run", "var",
					    "var/tmp", "usr",  "usr/bin" };
	static const struct {
		const char *path, *text;
	} files[] = {
		{ "etc/os-release", "NAME=\"Strata test rootfs\"\nID=strata-test\n"
				    "PRETTY_NAME=\"Strata test rootfs\"\n" },
		{ "etc/hostname", "strata-test\n" },
		{ "etc/passwd",
		  "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n" },
		{ "etc/group", "root:x:0:\nnogroup:x:65534:\n" },
	};
	_cleanup_free_ char *init = NULL, *bb = NULL, *ti = NULL;
	int r;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "tu_mkrootfs: mkdir %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		r = mkdir_in(dir, dirs[i], 0755);
		if (r < 0)
			return r;
	}
	r = mkdir_in(dir, "tmp", 01777);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		r = write_in(dir, files[i].path, files[i].text);
		if (r < 0)
			return r;
	}
	if (asprintf(&init, "%s/sbin/init", dir) < 0 || asprintf(&ti, "%s/bin/testinit", dir) < 0)
		return -ENOMEM;
	r = copy_file(tu_testinit_path(), init);
	if (r < 0)
		return r;
	if (symlink("/sbin/init", ti) < 0 && errno != EEXIST)
		return -errno;

	if (!tu_have_busybox())
		return 0;
	if (asprintf(&bb, "%s/bin/busybox", dir) < 0)
		return -ENOMEM;
	r = copy_file(BUSYBOX, bb);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(busybox_applets); i++) {
		_cleanup_free_ char *link = NULL;

		if (asprintf(&link, "%s/bin/%s", dir, busybox_applets[i]) < 0)
			return -ENOMEM;
		if (symlink("busybox", link) < 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

int tu_run(const char *const argv[], char **out)
{
	_cleanup_close_ int rd = -EBADF, wr = -EBADF;
	_cleanup_kill_ pid_t pid = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;
	int p[2], status;

	if (out)
		*out = NULL;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	rd = p[0];
	wr = p[1];
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (null < 0 || dup2(null, 0) < 0 || dup2(wr, 1) < 0 || dup2(wr, 2) < 0)
			_exit(127);
		alarm(120);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "tu_run: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	closep(&wr);
	for (;;) {
		ssize_t n;

		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);

			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap += 65536;
		}
		n = read(rd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	pid = -1;
	if (out)
		*out = take_ptr(buf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
