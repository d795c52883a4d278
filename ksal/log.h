/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Levels error / warning / info / debug / trace. Trace lines at every
 * kernel-facing step, off by default. Output goes to stderr (the journal
 * under systemd) or to a file set with st_log_open().
 */
#ifndef STRATA_KSAL_LOG_H
#define STRATA_KSAL_LOG_H

enum st_log_level { ST_LOG_ERROR, ST_LOG_WARN, ST_LOG_INFO, ST_LOG_DEBUG, ST_LOG_TRACE };

void st_log_set_level(enum st_log_level lvl);
enum st_log_level st_log_get_level(void);
/* Parse "error", "warning", "info", "debug", "trace"; -1 if unknown. */
int st_log_level_parse(const char *s);
/* Log to this file (appending) instead of stderr. */
int st_log_open(const char *path);
/* Prefix each line with "<n>" for the journal (sd-daemon levels). */
void st_log_set_journal(int on);
void st_log(enum st_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define st_error_log(...) st_log(ST_LOG_ERROR, __VA_ARGS__)
#define st_warn(...) st_log(ST_LOG_WARN, __VA_ARGS__)
#define st_info(...) st_log(ST_LOG_INFO, __VA_ARGS__)
#define st_debug(...)                                                                              \
	do {                                                                                       \
		if (st_log_get_level() >= ST_LOG_DEBUG)                                            \
			st_log(ST_LOG_DEBUG, __VA_ARGS__);                                         \
	} while (0)
#define st_trace(...)                                                                              \
	do {                                                                                       \
		if (st_log_get_level() >= ST_LOG_TRACE)                                            \
			st_log(ST_LOG_TRACE, __VA_ARGS__);                                         \
	} while (0)

#endif
