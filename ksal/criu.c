/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criu/criu.h>

#include "config.h"
#include "ksal/cleanup.h"
#include "ksal/criu.h"
#include "ksal/log.h"
#include "ksal/syscalls.h"

#define CRIU_CHECK_TIMEOUT_MS 30000

const char *ksal_criu_path(const char *override)
{
	const char *env;

	if (override && *override)
		return override;
	env = getenv("CRIU_PATH");
	if (env && *env)
		return env;
	return STRATA_CRIU_DEFAULT;
}

/* Parse up to 3 dot-separated numbers at s; the rest of the line is ignored. */
static int parse_dotted(const char *s, int *version)
{
	long part[3] = { 0, 0, 0 };
	int n = 0;

	while (n < 3) {
		char *end;

		if (!isdigit((unsigned char)*s))
			break;
		errno = 0;
		part[n] = strtol(s, &end, 10);
		if (errno || part[n] > 99 || end == s)
			return -EINVAL;
		n++;
		s = end;
		if (*s != '.')
			break;
		s++;
	}
	if (n < 2 || part[0] < 1 || part[0] > 99)
		return -EINVAL;
	*version = (int)(part[0] * 10000 + part[1] * 100 + part[2]);
	return 0;
}

int ksal_criu_parse_version(const char *text, int *version)
{
	const char *line = text;

	if (!text || !version)
		return -EINVAL;
	while (line && *line) {
		if (strncmp(line, "Version:", 8) == 0) {
			const char *p = line + 8;

			while (*p == ' ' || *p == '\t')
				p++;
			return parse_dotted(p, version);
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -EINVAL;
}

char *ksal_criu_version_str(int version, char *buf, size_t len)
{
	int r;

	if (version <= 0)
		r = snprintf(buf, len, "unknown");
	else
		r = snprintf(buf, len, "%d.%d.%d", version / 10000, version / 100 % 100,
			     version % 100);
	if (r < 0 || (size_t)r >= len) {
		if (len)
			buf[0] = '\0';
	}
	return buf;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void criu_opts_freep(criu_opts **o)
{
	if (*o)
		criu_local_free_opts(*o);
	*o = NULL;
}

static int criu_opts_for(const char *path, criu_opts **out, struct st_error **err)
{
	criu_opts *o = NULL;

	if (access(path, X_OK) < 0)
		return st_error_set(err, errno, "CRIU binary `%s`", path);
	if (criu_local_init_opts(&o) < 0)
		return st_error_set(err, ENOMEM, "libcriu: init options");
	if (criu_local_set_service_binary(o, path) < 0) {
		criu_local_free_opts(o);
		return st_error_set(err, ENOMEM, "libcriu: set service binary `%s`", path);
	}
	*out = o;
	return 0;
}

int ksal_criu_in_helper(criu_opts *o, int (*call)(criu_opts *o), const struct ksal_criu_helper *h,
			int *result)
{
	_cleanup_close_ int rd = -EBADF, wr = -EBADF;
	long long deadline = now_ms() + h->timeout_ms;
	int p[2], status;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	rd = p[0];
	wr = p[1];
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		int r;

		setpgid(0, 0);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(2);
		/* criu swrk gets nothing of the caller's (sockets, pidfds...) */
		close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
		if (h->prepare) {
			r = h->prepare(h->data);
			if (r)
				_exit(r);
		}
		r = call(o);
		/* libcriu may return before criu swrk is done (a failed
		 * notification closes the socket, and CRIU then resumes the
		 * tasks and puts back the freezer state it found): answer
		 * only when it has exited */
		while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
			;
		_exit(write(wr, &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
	}
	setpgid(pid, pid); /* also here: no window where a kill misses swrk */
	closep(&wr);
	for (;;) {
		struct pollfd pfd = { .fd = rd, .events = POLLIN };
		long long left = deadline - now_ms();
		int n;

		if (left <= 0) {
			st_warn("CRIU %s: no answer after %d ms, killing it", h->what,
				h->timeout_ms);
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return -ETIMEDOUT;
		}
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno != EINTR) {
			int e = errno;

			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -e;
		}
		if (n > 0)
			break;
	}
	{
		ssize_t n = read(rd, result, sizeof(*result));

		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (n != (ssize_t)sizeof(*result))
			return -EIO; /* helper died without an answer */
	}
	return 0;
}

/* A check or version query: bounded, quiet ("Looks good." must not end up
 * in `strata check --json`). */
static int libcriu_quiet(criu_opts *o, int (*call)(criu_opts *o), const char *what, int *result)
{
	const struct ksal_criu_helper h = { .what = what, .timeout_ms = CRIU_CHECK_TIMEOUT_MS };

	return ksal_criu_in_helper(o, call, &h, result);
}

int ksal_criu_version(const char *path, int *version, struct st_error **err)
{
	__attribute__((cleanup(criu_opts_freep))) criu_opts *o = NULL;
	int r, v = 0;

	r = criu_opts_for(path, &o, err);
	if (r < 0)
		return r;
	st_trace("libcriu: version of %s", path);
	r = libcriu_quiet(o, criu_local_get_version, "get version", &v);
	if (r == -ETIMEDOUT)
		return st_error_setx(err, ST_EXIT_TIMEOUT, ETIMEDOUT, "CRIU `%s`: get version",
				     path);
	if (r < 0 || v <= 0)
		return st_error_set(err,
				    r < 0   ? -r
				    : v < 0 ? -v
					    : EIO,
				    "CRIU `%s`: get version", path);
	*version = v;
	return 0;
}

/* The last non-empty line of text, trimmed, into a new string. */
static char *last_line(const char *text)
{
	const char *end = text + strlen(text), *start;

	while (end > text && isspace((unsigned char)end[-1]))
		end--;
	start = end;
	while (start > text && start[-1] != '\n')
		start--;
	return strndup(start, (size_t)(end - start));
}

int ksal_criu_check(const char *path, struct st_error **err)
{
	__attribute__((cleanup(criu_opts_freep))) criu_opts *o = NULL;
	_cleanup_free_ char *out = NULL, *line = NULL;
	const char *argv[] = { path, "check", NULL };
	int r, res = -1;

	r = criu_opts_for(path, &o, err);
	if (r < 0)
		return r;
	st_trace("libcriu: check with %s", path);
	r = libcriu_quiet(o, criu_local_check, "check", &res);
	if (r == 0 && res == 0)
		return 0;
	if (r == -ETIMEDOUT)
		return st_error_setx(err, ST_EXIT_TIMEOUT, ETIMEDOUT, "`%s check`", path);

	/* libcriu says only "failed": run it once more to learn why. */
	if (ksal_run_capture(argv, CRIU_CHECK_TIMEOUT_MS, &out, NULL) < 0 || !out)
		return st_error_setx(err, ST_EXIT_SYSTEM, 0, "`%s check` failed", path);
	line = last_line(out);
	return st_error_setx(err, ST_EXIT_SYSTEM, 0, "`%s check` failed: %s", path,
			     line && *line ? line : "(no output)");
}

/* In the forked child: stdin from /dev/null, stdout+stderr to wr, exec. */
static __attribute__((noreturn)) void exec_child(const char *const argv[], int wr)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (null < 0 || dup2(null, 0) < 0 || dup2(wr, 1) < 0 || dup2(wr, 2) < 0)
		_exit(127);
	/* the program gets a clean signal mask, whatever the caller blocks */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(argv[0], (char *const *)argv);
	_exit(127);
}

int ksal_run_capture(const char *const argv[], int timeout_ms, char **out, struct st_error **err)
{
	_cleanup_close_ int rd = -EBADF, wr = -EBADF;
	_cleanup_kill_ pid_t pid = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;
	long long deadline = now_ms() + timeout_ms;
	int p[2], status, r;

	if (pipe2(p, O_CLOEXEC) < 0)
		return st_error_set(err, errno, "run `%s`: pipe", argv[0]);
	rd = p[0];
	wr = p[1];
	pid = fork();
	if (pid < 0)
		return st_error_set(err, errno, "run `%s`: fork", argv[0]);
	if (pid == 0)
		exec_child(argv, wr);
	closep(&wr);

	for (;;) {
		struct pollfd pfd = { .fd = rd, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0)
			return st_error_setx(err, ST_EXIT_TIMEOUT, ETIMEDOUT, "run `%s`", argv[0]);
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return st_error_set(err, errno, "run `%s`: poll", argv[0]);
		if (r == 0)
			continue;
		if (cap - len < 4096) {
			char *nb;

			if (cap > (16u << 20))
				return st_error_set(err, EFBIG, "run `%s`: output", argv[0]);
			nb = realloc(buf, cap + 65536);
			if (!nb)
				return st_error_set(err, ENOMEM, "run `%s`: output", argv[0]);
			buf = nb;
			cap += 65536;
		}
		n = read(rd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return st_error_set(err, errno, "run `%s`: read output", argv[0]);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return st_error_set(err, errno, "run `%s`: wait", argv[0]);
	}
	pid = -1;
	if (!buf) {
		buf = strdup("");
		if (!buf)
			return st_error_set(err, ENOMEM, "run `%s`: output", argv[0]);
	} else {
		buf[len] = '\0';
	}
	if (out)
		*out = take_ptr(buf);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
