/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * MEMORY_MERGE (issue 5) against the real kernel: two processes each
 * holding the same 64 MiB get their pages merged by ksmd when they called
 * ksal_ksm_enable_self(), and not otherwise. ksmd's knobs (run,
 * pages_to_scan, sleep_millisecs) are host settings: saved in .init and
 * restored in .fini even after a failed assertion.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ksal/error.h"
#include "ksal/ksm.h"

#define MAP_SIZE (64UL << 20)
#define PAGE 4096UL
#define NPAGES (MAP_SIZE / PAGE)

static uint64_t saved[3];
static bool saved_ok;
static const char *const knob_names[3] = { "run", "pages_to_scan", "sleep_millisecs" };
static pid_t kids[2];

static void setup(void)
{
	saved_ok = false;
	if (geteuid() != 0 || !ksal_ksm_available())
		return;
	for (int i = 0; i < 3; i++)
		if (ksal_ksm_get(knob_names[i], &saved[i], NULL) < 0)
			return;
	saved_ok = true;
}

static void teardown(void)
{
	for (int i = 0; i < 2; i++) {
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
		kids[i] = 0;
	}
	if (!saved_ok)
		return;
	/* back to the host's settings (run 0 stops ksmd; holders are gone) */
	for (int i = 0; i < 3; i++)
		ksal_ksm_set(knob_names[i], saved[i], NULL);
}

static void need(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root");
	if (!ksal_ksm_available())
		cr_skip_test("no KSM or no PR_SET_MEMORY_MERGE (Linux 6.4+) here");
	cr_assert(saved_ok, "could not read ksmd's settings");
}

/* ksmd as fast as it goes for the test (restored in .fini). */
static void ksmd_fast(void)
{
	struct st_error *err = NULL;
	int old = -1;

	cr_assert_eq(ksal_ksm_set("pages_to_scan", 20000, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(ksal_ksm_set("sleep_millisecs", 10, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(ksal_ksm_set_run(1, &old, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(old, (int)saved[0]);
}

/* A process holding 64 MiB whose page i is the same in every such process
 * (distinct within one process: only cross-process sharing counts). */
static pid_t holder(bool merge)
{
	int p[2];
	pid_t pid;
	char c = 0;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		unsigned char *m;

		if (merge && ksal_ksm_enable_self(NULL) < 0)
			_exit(2);
		m = mmap(NULL, MAP_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			 0);
		if (m == MAP_FAILED)
			_exit(3);
		for (size_t i = 0; i < NPAGES; i++) {
			memset(m + i * PAGE, 0x5a, PAGE);
			memcpy(m + i * PAGE, &i, sizeof(i));
		}
		if (write(p[1], &c, 1) != 1)
			_exit(4);
		for (;;)
			pause();
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1, "holder %d did not fill its memory", (int)pid);
	close(p[0]);
	return pid;
}

static uint64_t merging(pid_t pid)
{
	struct st_error *err = NULL;
	uint64_t v = 0;

	cr_assert_eq(ksal_ksm_process_merging(pid, &v, &err), 0, "%s", err ? err->msg : "gone");
	return v;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TestSuite(ksm, .init = setup, .fini = teardown, .timeout = 60);

Test(ksm, merges_with_prctl)
{
	uint64_t shared0, sharing0, shared, sharing, a = 0, b = 0, sum = 0;
	double t0, t;

	need();
	cr_assert_eq(ksal_ksm_pages_shared(&shared0, &sharing0), 0);
	ksmd_fast();
	kids[0] = holder(true);
	kids[1] = holder(true);
	t0 = now_s();
	/* every page of each is merged with its twin in the other */
	while ((t = now_s() - t0) < 20) {
		a = merging(kids[0]);
		b = merging(kids[1]);
		if (a >= NPAGES * 9 / 10 && b >= NPAGES * 9 / 10)
			break;
		usleep(100000);
	}
	cr_assert_eq(ksal_ksm_pages_shared(&shared, &sharing), 0);
	cr_log_info("ksm: %" PRIu64 " + %" PRIu64 " of %lu pages merged after %.1f s; "
		    "pages_sharing %" PRIu64 " -> %" PRIu64,
		    a, b, NPAGES, t, sharing0, sharing);
	cr_assert_geq(a, NPAGES * 9 / 10, "pages merged in holder 1: %" PRIu64 " of %lu", a,
		      NPAGES);
	cr_assert_geq(b, NPAGES * 9 / 10, "pages merged in holder 2: %" PRIu64 " of %lu", b,
		      NPAGES);
	cr_assert_eq(ksal_ksm_merging_sum(kids, 2, &sum, NULL), 0);
	cr_assert_geq(sum, a + b, "sum over both holders %" PRIu64, sum);
	cr_assert_geq(sharing, sharing0 + NPAGES * 9 / 10, "pages_sharing %" PRIu64 " -> %" PRIu64,
		      sharing0, sharing);
}

Test(ksm, nothing_merged_without_prctl)
{
	uint64_t a, b;

	need();
	ksmd_fast();
	kids[0] = holder(false);
	kids[1] = holder(false);
	/* ksmd at this speed merges the prctl case in well under 3 s */
	sleep(3);
	a = merging(kids[0]);
	b = merging(kids[1]);
	cr_assert_eq(a, 0, "pages merged without the prctl: %" PRIu64, a);
	cr_assert_eq(b, 0, "pages merged without the prctl: %" PRIu64, b);
}

Test(ksm, run_refuses_unmerge)
{
	struct st_error *err = NULL;

	need();
	cr_assert_lt(ksal_ksm_set("run", 2, &err), 0);
	cr_assert_not_null(err);
	cr_assert(strstr(err->msg, "unmerge"), "%s", err->msg);
	st_error_free(err);
	err = NULL;
	cr_assert_lt(ksal_ksm_set("max_page_sharing", 1, &err), 0, "only the three knobs");
	st_error_free(err);
}

static bool merge_any_after_exec(void)
{
	char line[128];
	bool yes = false;
	FILE *f = popen("cat /proc/self/ksm_stat", "re");

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (strcmp(line, "ksm_merge_any: yes\n") == 0)
			yes = true;
	pclose(f);
	return yes;
}

/* The spawn child calls it and then execs the container's init: the
 * setting must reach the exec'd program and its children. */
Test(ksm, survives_fork_and_exec)
{
	struct st_error *err = NULL;

	need();
	cr_assert_not(merge_any_after_exec(), "merge-any set before the prctl");
	cr_assert_eq(ksal_ksm_enable_self(&err), 0, "%s", err ? err->msg : "");
	cr_assert(merge_any_after_exec(), "merge-any lost across fork + exec");
}
