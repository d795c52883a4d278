/* SPDX-License-Identifier: GPL-2.0-or-later */
/* strata stat CTID [-j] and strata top [-b] [-n N] [-d SEC]: accounting. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "ksal/cleanup.h"

/* "12.3 MiB" */
static void fmt_bytes(char *buf, size_t len, json_t *v)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double x;
	size_t u = 0;

	if (!json_is_integer(v)) {
		snprintf(buf, len, "-");
		return;
	}
	x = (double)json_integer_value(v);
	while (x >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		x /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f B", x);
	else
		snprintf(buf, len, "%.1f %s", x, units[u]);
}

static void fmt_duration(char *buf, size_t len, json_int_t s)
{
	if (s >= 86400)
		snprintf(buf, len, "%lldd %02lldh %02lldm", (long long)s / 86400,
			 (long long)s % 86400 / 3600, (long long)s % 3600 / 60);
	else if (s >= 3600)
		snprintf(buf, len, "%lldh %02lldm %02llds", (long long)s / 3600,
			 (long long)s % 3600 / 60, (long long)s % 60);
	else
		snprintf(buf, len, "%lldm %02llds", (long long)s / 60, (long long)s % 60);
}

static json_int_t jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static double jreal(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

/* The human form of a stat result. */
static void stat_print(FILE *out, json_t *r)
{
	char a[32], b[32], c[32], up[32];
	json_t *lim = json_object_get(r, "mem_limit_bytes");
	json_t *nlim = json_object_get(r, "numproc_limit");

	fmt_duration(up, sizeof(up), jint(r, "uptime"));
	fprintf(out, "CTID %s %s, up %s, init pid %lld\n",
		json_string_value(json_object_get(r, "ctid")),
		json_string_value(json_object_get(r, "status")), up, (long long)jint(r, "pid"));
	fprintf(out, "CPU        %.1f s used, %.1f%% of one CPU now (over %.1f s)\n",
		(double)jint(r, "cpu_ns") / 1e9, jreal(r, "cpu_pct"), jreal(r, "cpu_pct_window"));
	fmt_bytes(a, sizeof(a), json_object_get(r, "mem_bytes"));
	fmt_bytes(b, sizeof(b), json_object_get(r, "mem_max_bytes"));
	if (json_is_integer(lim))
		fmt_bytes(c, sizeof(c), lim);
	else
		snprintf(c, sizeof(c), "unlimited");
	fprintf(out, "Memory     %s used, %s at most, limit %s\n", a, b, c);
	fprintf(out, "Limit hits %lld (failcnt), OOM kills %lld\n", (long long)jint(r, "failcnt"),
		(long long)jint(r, "oom_kills"));
	fmt_bytes(a, sizeof(a), json_object_get(r, "swap_bytes"));
	fprintf(out, "Swap       %s\n", a);
	if (json_is_integer(nlim))
		fprintf(out, "Tasks      %lld (limit %lld)\n", (long long)jint(r, "numproc"),
			(long long)json_integer_value(nlim));
	else
		fprintf(out, "Tasks      %lld (no limit)\n", (long long)jint(r, "numproc"));
	fmt_bytes(a, sizeof(a), json_object_get(r, "io_read_bytes"));
	fmt_bytes(b, sizeof(b), json_object_get(r, "io_write_bytes"));
	fprintf(out, "Block I/O  read %s in %lld ops, written %s in %lld ops\n", a,
		(long long)jint(r, "io_read_ops"), b, (long long)jint(r, "io_write_ops"));
	if (json_is_true(json_object_get(r, "memory_merge"))) {
		fmt_bytes(a, sizeof(a), json_object_get(r, "ksm_bytes"));
		fprintf(out, "KSM        %lld pages merged (%s)\n", (long long)jint(r, "ksm_pages"),
			a);
	}
}

static int stat_run(struct cli_cmd *cmd, struct st_error **err)
{
	json_t *res = NULL;
	int r = cli_call(cmd, NULL, 0, &res, err);

	if (r < 0)
		return r;
	if (cmd->json) {
		json_dumpf(res, stdout, CLI_JSON_FLAGS);
		fputc('\n', stdout);
	} else {
		stat_print(stdout, res);
	}
	json_decref(res);
	return 0;
}

static const struct cli_opt stat_opts[] = { { NULL, 0, false } };

const struct cli_verb cli_verb_stat = {
	.name = "stat",
	.summary = "a running container's resource usage (CPU, memory, OOM kills, tasks, I/O)",
	.usage = "strata stat CTID [-j]\n"
		 "\n"
		 "CPU time and the current CPU % (over the time since the previous sample,\n"
		 "or 0.2 s), memory used and its maximum, the limit, failcnt and OOM kills,\n"
		 "swap, tasks, block I/O bytes and operations, uptime, and with\n"
		 "MEMORY_MERGE=yes the pages KSM merged. -j prints the daemon's JSON object.\n",
	.opts = stat_opts,
	.parse = cli_parse_ctid_flags,
	.run = stat_run,
};

/* --- top ---------------------------------------------------------------- */

static const struct cli_opt top_opts[] = {
	{ "batch", 'b', false },
	{ "iterations", 'n', true },
	{ "delay", 'd', true },
	{ NULL, 0, false },
};

static long top_iterations; /* 0: until interrupted */
static double top_delay = 1.0;
static bool top_batch;

static int top_parse(struct cli_cmd *cmd, int argc, char **argv, struct st_error **err)
{
	struct cli_args a;
	const struct cli_opt *o;
	const char *val;
	json_t *args;
	int r;

	args = cli_req_new(cmd, "list", NULL);
	if (!args)
		return st_error_set(err, ENOMEM, "top");
	cli_args_init(&a, "top", argc, argv);
	while ((r = cli_args_next(&a, cmd, top_opts, &o, &val, err)) > 0) {
		char *end = NULL;

		if (r == CLI_ARG_POS)
			return st_error_setx(err, ST_EXIT_BADARG, 0,
					     "top: unexpected argument `%s`", val);
		switch (o->short_name) {
		case 'b':
			top_batch = true;
			break;
		case 'n':
			errno = 0;
			top_iterations = strtol(val, &end, 10);
			if (errno || !*val || *end || top_iterations < 1)
				return st_error_setx(err, ST_EXIT_BADARG, 0,
						     "top: invalid -n `%s` (a count of 1 or more)",
						     val);
			break;
		case 'd':
			errno = 0;
			top_delay = strtod(val, &end);
			if (errno || !*val || *end || top_delay < 0.1 || top_delay > 3600)
				return st_error_setx(
					err, ST_EXIT_BADARG, 0,
					"top: invalid -d `%s` (seconds between 0.1 and 3600)", val);
			break;
		}
	}
	return r;
}

static int by_cpu(const void *pa, const void *pb)
{
	json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
	double x = jreal(a, "cpupct"), y = jreal(b, "cpupct");

	if (x != y)
		return x < y ? 1 : -1;
	return strcmp(json_string_value(json_object_get(a, "ctid")),
		      json_string_value(json_object_get(b, "ctid")));
}

static void top_print(FILE *out, json_t *res, bool clear)
{
	json_t *cts = json_object_get(res, "containers"), *c;
	_cleanup_free_ json_t **v = NULL;
	size_t n = 0, i;
	double total = 0;
	char now[32];
	time_t t = time(NULL);
	struct tm tm;

	v = calloc(json_array_size(cts) + 1, sizeof(*v));
	if (!v)
		return;
	json_array_foreach (cts, i, c) {
		if (!json_is_object(c) || !json_is_string(json_object_get(c, "ctid")))
			continue;
		v[n++] = c;
		total += jreal(c, "cpupct");
	}
	qsort(v, n, sizeof(*v), by_cpu);
	strftime(now, sizeof(now), "%H:%M:%S", localtime_r(&t, &tm));
	if (clear)
		fputs("\033[H\033[2J", out);
	fprintf(out, "strata top - %s, %zu running, %.1f%% CPU in all\n\n", now, n, total);
	fprintf(out, "%10s %-12s %6s %9s %10s %10s %10s %6s %5s %10s %7s %12s\n", "CTID", "NAME",
		"CPU%", "CPU(s)", "MEM", "MAXMEM", "RAM", "NPROC", "OOM", "IO", "IOPS", "UPTIME");
	for (i = 0; i < n; i++) {
		char mem[32], maxmem[32], io[32], up[32];
		const char *name = json_string_value(json_object_get(v[i], "name"));
		const char *ram = json_string_value(json_object_get(v[i], "ram"));

		fmt_bytes(mem, sizeof(mem), json_object_get(v[i], "mem"));
		fmt_bytes(maxmem, sizeof(maxmem), json_object_get(v[i], "maxmem"));
		fmt_bytes(io, sizeof(io), json_object_get(v[i], "iobytes"));
		fmt_duration(up, sizeof(up), jint(v[i], "uptime"));
		fprintf(out,
			"%10s %-12.12s %6.1f %9.1f %10s %10s %10s %6lld %5lld %10s %7lld %12s\n",
			json_string_value(json_object_get(v[i], "ctid")), name ? name : "-",
			jreal(v[i], "cpupct"), jreal(v[i], "cpu"), mem, maxmem,
			ram && *ram ? ram : "-", (long long)jint(v[i], "numproc"),
			(long long)jint(v[i], "oomkills"), io, (long long)jint(v[i], "ioops"), up);
	}
	if (!clear)
		fputc('\n', out);
	fflush(out);
}

static int top_run(struct cli_cmd *cmd, struct st_error **err)
{
	bool clear = !top_batch && !cmd->json && isatty(STDOUT_FILENO);

	for (long it = 0; top_iterations == 0 || it < top_iterations; it++) {
		json_t *res = NULL;
		int r;

		if (it > 0) {
			struct timespec ts = { (time_t)top_delay,
					       (long)((top_delay - (double)(time_t)top_delay) *
						      1e9) };
			nanosleep(&ts, NULL);
		}
		r = cli_call(cmd, NULL, 0, &res, err);
		if (r < 0)
			return r;
		if (cmd->json) {
			json_dumpf(json_object_get(res, "containers"), stdout,
				   JSON_COMPACT | CLI_JSON_REAL_PRECISION);
			fputc('\n', stdout);
			fflush(stdout);
		} else {
			top_print(stdout, res, clear);
		}
		json_decref(res);
	}
	return 0;
}

const struct cli_verb cli_verb_top = {
	.name = "top",
	.summary = "running containers by CPU use, refreshed every second",
	.usage = "strata top [-b] [-n N] [-d SEC] [-j]\n"
		 "\n"
		 "A view of every running container, sorted by CPU use over the last interval:\n"
		 "CPU %, CPU seconds, memory used and at most, RAM limit, tasks, OOM kills,\n"
		 "block I/O and uptime. On a terminal the screen is redrawn in place.\n"
		 "\n"
		 "  -b, --batch         plain frames one after another (for scripts and logs)\n"
		 "  -n, --iterations N  stop after N frames (default: until interrupted)\n"
		 "  -d, --delay SEC     seconds between frames (default 1)\n"
		 "  -j, --json          one JSON array of containers per line and frame\n",
	.opts = top_opts,
	.parse = top_parse,
	.run = top_run,
};
