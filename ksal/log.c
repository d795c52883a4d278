/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ksal/log.h"

static enum st_log_level log_level = ST_LOG_INFO;
static int log_fd = STDERR_FILENO;
static int log_journal;

static const char *const level_names[] = { "error", "warning", "info", "debug", "trace" };
static const int journal_prio[] = { 3, 4, 6, 7, 7 };

void st_log_set_level(enum st_log_level lvl)
{
	log_level = lvl;
}

enum st_log_level st_log_get_level(void)
{
	return log_level;
}

int st_log_level_parse(const char *s)
{
	for (int i = 0; i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	if (strcmp(s, "warn") == 0)
		return ST_LOG_WARN;
	return -1;
}

int st_log_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return -errno;
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	return 0;
}

void st_log_set_journal(int on)
{
	log_journal = on;
}

void st_log(enum st_log_level lvl, const char *fmt, ...)
{
	char line[4096];
	int n = 0, saved = errno;
	va_list ap;

	if (lvl > log_level)
		return;
	if (log_journal) {
		n = snprintf(line, sizeof(line), "<%d>", journal_prio[lvl]);
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n = snprintf(line, sizeof(line),
			     "%04d-%02d-%02d %02d:%02d:%02d.%03ld %s[%d] %s: ", tm.tm_year + 1900,
			     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			     ts.tv_nsec / 1000000, program_invocation_short_name, (int)getpid(),
			     level_names[lvl]);
	}
	if (n < 0 || n >= (int)sizeof(line))
		n = 0;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(log_fd, line, n);
	errno = saved;
}
