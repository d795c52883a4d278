/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ksal/mountinfo: the one parser of the kernel's mount tables. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ksal/mountinfo.h"

Test(mountinfo, kernel_documentation_example)
{
	struct ksal_mountinfo m;

	cr_assert_eq(ksal_mountinfo_parse("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 "
					  "/dev/root rw,errors=continue\n",
					  &m),
		     0);
	cr_assert_eq(m.major, 98);
	cr_assert_eq(m.minor, 0);
	cr_assert_str_eq(m.root, "/mnt1");
	cr_assert_str_eq(m.mountpoint, "/mnt2");
	cr_assert_str_eq(m.fstype, "ext3");
	cr_assert_str_eq(m.super_opts, "rw,errors=continue");
	ksal_mountinfo_clear(&m);
	cr_assert_null(m.root);
}

Test(mountinfo, no_optional_fields_and_cgroup_v1)
{
	struct ksal_mountinfo m;

	cr_assert_eq(ksal_mountinfo_parse("30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - "
					  "cgroup cgroup rw,cpu,cpuacct",
					  &m),
		     0);
	cr_assert_str_eq(m.mountpoint, "/sys/fs/cgroup/cpu,cpuacct");
	cr_assert_str_eq(m.fstype, "cgroup");
	cr_assert_str_eq(m.super_opts, "rw,cpu,cpuacct");
	ksal_mountinfo_clear(&m);
}

Test(mountinfo, escaped_paths_are_unescaped)
{
	struct ksal_mountinfo m;

	cr_assert_eq(ksal_mountinfo_parse("40 30 8:1 /a\\040b /mnt/x\\011y\\134z rw shared:2 - "
					  "ext4 /dev/sda1 rw",
					  &m),
		     0);
	cr_assert_str_eq(m.root, "/a b");
	cr_assert_str_eq(m.mountpoint, "/mnt/x\ty\\z");
	ksal_mountinfo_clear(&m);
}

Test(mountinfo, malformed_lines_are_refused)
{
	static const char *const bad[] = {
		"",
		"36 35 98:0 /mnt1 /mnt2 rw",			  /* no " - " */
		"36 35 98:0 /mnt1 - ext3 /dev/root rw",		  /* too few fields */
		"36 35 nodev /mnt1 /mnt2 rw - ext3 /dev/root rw", /* no major:minor */
		"36 35 98:0 /mnt1 /mnt2 rw - ",			  /* no fstype */
	};
	struct ksal_mountinfo m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(ksal_mountinfo_parse(bad[i], &m), -EINVAL, "`%s` accepted", bad[i]);
		cr_assert_null(m.root);
	}
}

Test(mountinfo, unescape_in_place_leaves_lone_backslashes)
{
	char s[] = "a\\040b\\9c\\04";

	ksal_mount_unescape(s);
	cr_assert_str_eq(s, "a b\\9c\\04");
}
