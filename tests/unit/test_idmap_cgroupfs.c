/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The /sys/fs/cgroup plan a container gets from the host's mountinfo (spawn area). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ksal/spawn-internal.h"

static const char hybrid[] =
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup "
	"rw,memory,clone_children,release_agent=/bin/true\n"
	"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n"
	"50 23 0:40 / /mnt/elsewhere rw - cgroup cgroup rw,pids\n"
	"51 31 0:41 / /sys/fs/cgroup/cpu/deeper rw - cgroup cgroup rw,blkio\n";

static void parse(const char *text, struct ksal_cgroupfs_plan *plan)
{
	struct st_error *err = NULL;
	FILE *f = fmemopen((void *)text, strlen(text), "r");

	cr_assert_not_null(f);
	cr_assert_eq(ksal_cgroupfs_plan_parse(f, plan, &err), 0, "%s", err ? err->msg : "");
	fclose(f);
}

Test(cgroupfs_plan, hybrid_host)
{
	static struct ksal_cgroupfs_plan plan;

	parse(hybrid, &plan);
	cr_assert_not(plan.v2_only);
	cr_assert_eq(plan.n, 4, "only the hierarchies right under /sys/fs/cgroup");
	cr_assert_str_eq(plan.h[0].dir, "cpu");
	cr_assert_str_eq(plan.h[0].data, "cpu");
	cr_assert(plan.h[0].ro, "controllers are read-only");
	cr_assert_str_eq(plan.h[1].dir, "memory");
	cr_assert_str_eq(plan.h[1].data, "memory", "release_agent and clone_children kept");
	cr_assert_str_eq(plan.h[2].dir, "systemd");
	cr_assert_str_eq(plan.h[2].data, "xattr,name=systemd");
	cr_assert_not(plan.h[2].ro, "a named hierarchy is the container's to write");
	cr_assert_str_eq(plan.h[3].dir, "unified");
	cr_assert(plan.h[3].v2);
	cr_assert_not(plan.h[3].ro);
	cr_assert_str_eq(plan.h[3].data, "");
}

Test(cgroupfs_plan, pure_v2_host)
{
	static struct ksal_cgroupfs_plan plan;

	parse("30 23 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n", &plan);
	cr_assert(plan.v2_only);
	cr_assert_eq(plan.n, 1);
	cr_assert_str_eq(plan.h[0].dir, "");
	cr_assert(plan.h[0].v2);
}

Test(cgroupfs_plan, no_cgroups)
{
	static struct ksal_cgroupfs_plan plan;

	parse("22 1 0:21 / /proc rw - proc proc rw\n", &plan);
	cr_assert_eq(plan.n, 0);
}
