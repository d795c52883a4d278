/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The resource area's pure helpers (runtime/res_util.c), no root: CPU lists
 * for the cpuset of CPUS, and the whole disk under a partition on a fake
 * sysfs tree (the I/O throttles' device).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "runtime/resources.h"

Test(res_cpulist, counts)
{
	cr_assert_eq(res_cpulist_count("0"), 1);
	cr_assert_eq(res_cpulist_count("0-1"), 2);
	cr_assert_eq(res_cpulist_count("0-3,8,10-11\n"), 7);
	cr_assert_lt(res_cpulist_count(""), 0);
	cr_assert_lt(res_cpulist_count("3-1"), 0);
	cr_assert_lt(res_cpulist_count("0,,1"), 0);
	cr_assert_lt(res_cpulist_count("a"), 0);
}

static void first(const char *list, unsigned n, const char *want)
{
	_cleanup_error_ struct st_error *err = NULL;
	_cleanup_free_ char *out = NULL;

	cr_assert_eq(res_cpulist_first(list, n, &out, &err), 0, "%s: %s", list,
		     err ? err->msg : "");
	cr_assert_str_eq(out, want, "first %u of %s", n, list);
}

Test(res_cpulist, first_n)
{
	_cleanup_error_ struct st_error *err = NULL;
	_cleanup_free_ char *out = NULL;

	first("0-1", 1, "0");
	first("0-3,8-11", 6, "0-3,8-9");
	first("2,4,6", 2, "2,4");
	first("0-1", 8, "0-1");
	first("5-7\n", 1, "5");
	cr_assert_lt(res_cpulist_first("0-1", 0, &out, &err), 0);
	cr_assert_null(out);
	st_error_freep(&err);
	cr_assert_lt(res_cpulist_first("x", 1, &out, &err), 0);
	cr_assert(strstr(err->msg, "`x`"), "%s", err->msg);
}

static char *fake;

static void mk(const char *rel, const char *content)
{
	_cleanup_free_ char *p = NULL;

	cr_assert_geq(asprintf(&p, "%s/%s", fake, rel), 0);
	if (!content) {
		_cleanup_free_ char *cmd = NULL;
		cr_assert_geq(asprintf(&cmd, "mkdir -p '%s'", p), 0);
		cr_assert_eq(system(cmd), 0);
		return;
	}
	FILE *f = fopen(p, "we");
	cr_assert_not_null(f, "%s", p);
	fputs(content, f);
	fclose(f);
}

static void fake_sysfs(void)
{
	char tmpl[] = "/tmp/stres-sysfs-XXXXXX";
	_cleanup_free_ char *link = NULL, *link2 = NULL;

	cr_assert_not_null(mkdtemp(tmpl));
	fake = strdup(tmpl);
	/* sda (8:0) with partition sda1 (8:1), nvme0n1 (259:0) whole */
	mk("devices/pci/block/sda/sda1", NULL);
	mk("devices/pci/block/sda/dev", "8:0\n");
	mk("devices/pci/block/sda/sda1/dev", "8:1\n");
	mk("devices/pci/block/sda/sda1/partition", "1\n");
	mk("devices/pci/block/nvme0n1", NULL);
	mk("devices/pci/block/nvme0n1/dev", "259:0\n");
	mk("dev/block", NULL);
	cr_assert_geq(asprintf(&link, "%s/dev/block/8:1", fake), 0);
	cr_assert_eq(symlink("../../devices/pci/block/sda/sda1", link), 0);
	cr_assert_geq(asprintf(&link2, "%s/dev/block/259:0", fake), 0);
	cr_assert_eq(symlink("../../devices/pci/block/nvme0n1", link2), 0);
}

static void fake_fini(void)
{
	_cleanup_free_ char *cmd = NULL;

	if (fake && asprintf(&cmd, "rm -rf '%s'", fake) >= 0)
		(void)!system(cmd);
	free(fake);
	fake = NULL;
}

TestSuite(res_disk, .init = fake_sysfs, .fini = fake_fini);

Test(res_disk, partition_maps_to_its_whole_disk)
{
	_cleanup_error_ struct st_error *err = NULL;
	unsigned maj = 0, min = 0;

	cr_assert_eq(res_whole_disk(fake, 8, 1, &maj, &min, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(maj, 8);
	cr_assert_eq(min, 0);
	cr_assert_eq(res_whole_disk(fake, 259, 0, &maj, &min, &err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(maj, 259);
	cr_assert_eq(min, 0);
}

Test(res_disk, not_a_block_device_is_said_clearly)
{
	_cleanup_error_ struct st_error *err = NULL;
	unsigned maj, min;

	/* tmpfs and overlayfs have anonymous devices (major 0) */
	cr_assert_lt(res_whole_disk(fake, 0, 45, &maj, &min, &err), 0);
	cr_assert_eq(err->exit_code, ST_EXIT_NOFEATURE);
	cr_assert(strstr(err->msg, "0:45") && strstr(err->msg, "not a block device"), "%s",
		  err->msg);
}
