/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel same-page merging for MEMORY_MERGE containers (issue 5).
 *
 * prctl(PR_SET_MEMORY_MERGE, 1) (Linux 6.4+) makes every anonymous mapping
 * of the calling process, and of the children it forks afterwards,
 * KSM-mergeable; the spawn child calls ksal_ksm_enable_self() before exec.
 * Merging happens only while ksmd runs (/sys/kernel/mm/ksm/run = 1), a host
 * setting: the daemon turns it on with ksal_ksm_set_run() when a
 * MEMORY_MERGE container starts and, if it was the one that turned it on,
 * restores the old value when the last one stops. Never writes run = 2
 * (that unmerges everything).
 */
#ifndef STRATA_KSAL_KSM_H
#define STRATA_KSAL_KSM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ksal/error.h"

#define KSAL_KSM_DIR "/sys/kernel/mm/ksm"

/* 1 if KSM can be used here (/sys/kernel/mm/ksm exists, `run` is writable,
 * the kernel knows PR_SET_MEMORY_MERGE), 0 if not. */
int ksal_ksm_available(void);

/* prctl(PR_SET_MEMORY_MERGE, 1) on the calling process. ST_EXIT_NOFEATURE
 * with a clear message on kernels before 6.4 or without CONFIG_KSM. Safe
 * in a forked child (no allocation unless it fails). */
int ksal_ksm_enable_self(struct st_error **err);

/* Host-wide counters: pages_shared (KSM pages in use) and pages_sharing
 * (how many more sites share them: the pages saved). */
int ksal_ksm_pages_shared(uint64_t *shared, uint64_t *sharing);

/* Pages of one process merged by KSM (/proc/PID/ksm_merging_pages).
 * -ESRCH (quietly) if the process is gone. */
int ksal_ksm_process_merging(pid_t pid, uint64_t *pages, struct st_error **err);

/* Sum of ksal_ksm_process_merging over pids (a container's, from
 * ksal_cgroup_pids), skipping those that exited meanwhile. */
int ksal_ksm_merging_sum(const pid_t *pids, size_t n, uint64_t *pages, struct st_error **err);

/* ksmd tuning knobs under /sys/kernel/mm/ksm: "run", "pages_to_scan",
 * "sleep_millisecs" (no other name is accepted). */
int ksal_ksm_get(const char *knob, uint64_t *val, struct st_error **err);
int ksal_ksm_set(const char *knob, uint64_t val, struct st_error **err);
/* Set run to 0 or 1; *old (if non-NULL) gets the value before. */
int ksal_ksm_set_run(int run, int *old, struct st_error **err);

#endif
