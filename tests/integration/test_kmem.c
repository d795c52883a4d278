/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a running container costs the kernel (issue 4's density): the mounts
 * ksal_spawn gives it, against the real kernel (root only). Uses the spawn
 * tests' harness (a busybox rootfs in /tmp/stspawn-*, userns 0 -> 200000,
 * undone by .fini pass or fail).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/spawn.h"
#include "tests/integration/test_spawn_util.h"

TestSuite(kmem, .init = spawn_setup, .fini = spawn_teardown);

struct mnt {
	char point[256], fstype[64], dev[32], opts[256];
};

/* The mounts in pid's mount namespace, in table order; returns the count. */
static size_t read_mounts(pid_t pid, struct mnt *m, size_t max)
{
	char path[64], line[4096];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
	f = fopen(path, "re");
	cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");

		cr_assert_lt(n, max, "more than %zu mounts in %s", max, path);
		cr_assert_not_null(sep, "%s", line);
		cr_assert_eq(sscanf(line, "%*s %*s %31s %*s %255s %255s", m[n].dev, m[n].point,
				    m[n].opts),
			     3, "%s", line);
		cr_assert_eq(sscanf(sep + 3, "%63s", m[n].fstype), 1, "%s", line);
		n++;
	}
	fclose(f);
	return n;
}

static const struct mnt *find_mount(const struct mnt *m, size_t n, const char *point)
{
	const struct mnt *found = NULL;

	for (size_t i = 0; i < n; i++)
		if (!strcmp(m[i].point, point))
			found = &m[i]; /* the top one */
	return found;
}

/* Masked directories (/sys/firmware, /proc/acpi where the host has it) are
 * clones of one read-only tmpfs: no superblock of their own per container,
 * whatever the number of containers, and still nothing a container can
 * write to or remount. */
Test(kmem, masked_dirs_share_one_readonly_superblock)
{
	static const char *const dirs[] = { "/sys/firmware", "/proc/acpi" };
	struct running a, b;
	struct mnt ma[128], mb[128];
	size_t na, nb, checked = 0;
	const char *dev = NULL;

	if (!ksal_spawn_locked_supported())
		cr_skip_test("the masks are the init's own without the new mount API");
	start_idle(&a);
	start_idle(&b);
	na = read_mounts(a.sp.pid, ma, 128);
	nb = read_mounts(b.sp.pid, mb, 128);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		struct stat st;

		if (stat(dirs[i], &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		const struct mnt *x = find_mount(ma, na, dirs[i]);
		const struct mnt *y = find_mount(mb, nb, dirs[i]);

		cr_assert_not_null(x, "%s is not masked in the first container", dirs[i]);
		cr_assert_not_null(y, "%s is not masked in the second container", dirs[i]);
		cr_assert_str_eq(x->fstype, "tmpfs", "%s", dirs[i]);
		if (!dev)
			dev = x->dev;
		cr_assert_str_eq(x->dev, dev, "%s is on %s, another mask on %s", dirs[i], x->dev,
				 dev);
		cr_assert_str_eq(y->dev, dev, "%s of the second container is on %s, not %s",
				 dirs[i], y->dev, dev);
		checked++;
	}
	cr_assert_gt(checked, 0, "no masked directory to check on this host");

	char *argv[] = {
		"/bin/sh", "-c",
		"touch /sys/firmware/x 2>/dev/null && echo write=ok || echo write=refused\n"
		"mkdir /sys/firmware/d 2>/dev/null && echo mkdir=ok || echo mkdir=refused\n"
		"mount -o remount,rw /sys/firmware 2>/dev/null && echo remount=ok || "
		"echo remount=refused\n"
		"umount /sys/firmware 2>/dev/null && echo umount=ok || echo umount=refused\n"
		"echo entries=$(ls -A /sys/firmware | wc -l)\n",
		NULL
	};
	int status = -1;
	_cleanup_free_ char *out = enter_run(&a, argv, NULL, &status);

	cr_assert_eq(status, 0, "%s", out);
	assert_field(out, "write", "refused");
	assert_field(out, "mkdir", "refused");
	assert_field(out, "remount", "refused");
	assert_field(out, "umount", "refused");
	assert_field(out, "entries", "0");
	stop_idle(&a);
	stop_idle(&b);
}

/* Every mount point of a container is mounted once: nothing made twice
 * (say once by the parent in the build namespace and again by the init),
 * nothing of the build namespace left in the container's table. */
Test(kmem, every_mount_point_mounted_once)
{
	struct running a;
	struct mnt m[128];
	size_t n;

	start_idle(&a);
	n = read_mounts(a.sp.pid, m, 128);
	cr_assert_gt(n, 5, "only %zu mounts", n);
	cr_assert_str_eq(m[0].point, "/", "the first mount is on %s", m[0].point);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++)
			cr_assert_str_neq(m[i].point, m[j].point, "`%s` is mounted twice (%s, %s)",
					  m[i].point, m[i].fstype, m[j].fstype);
		cr_assert(strncmp(m[i].point, "/tmp/", 5) != 0 && strcmp(m[i].point, "/tmp") != 0,
			  "a mount of the build namespace stayed: `%s`", m[i].point);
	}
	stop_idle(&a);
}

static bool has_opt(const char *opts, const char *o)
{
	size_t len = strlen(o);

	for (const char *p = opts; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, o, len) && (p[len] == ',' || p[len] == '\0'))
			return true;
	return false;
}

/* /dev/shm is a mount point on /dev's tmpfs, not a superblock of its own,
 * and still what a guest expects: sticky and world-writable, nosuid, nodev,
 * executable, writable by container root. */
Test(kmem, dev_shm_is_on_the_dev_tmpfs)
{
	struct running a;
	struct mnt m[128];
	const struct mnt *dev, *shm;
	size_t n;

	start_idle(&a);
	n = read_mounts(a.sp.pid, m, 128);
	dev = find_mount(m, n, "/dev");
	shm = find_mount(m, n, "/dev/shm");
	cr_assert_not_null(dev);
	cr_assert_not_null(shm, "/dev/shm is not a mount point");
	cr_assert_str_eq(shm->fstype, "tmpfs");
	cr_assert_str_eq(shm->dev, dev->dev, "/dev/shm is on %s, /dev on %s", shm->dev, dev->dev);
	cr_assert(has_opt(shm->opts, "nosuid"), "/dev/shm: %s", shm->opts);
	cr_assert(has_opt(shm->opts, "nodev"), "/dev/shm: %s", shm->opts);
	cr_assert_not(has_opt(shm->opts, "noexec"), "/dev/shm: %s", shm->opts);

	char *argv[] = { "/bin/sh", "-c",
			 "echo mode=$(stat -c %a /dev/shm)\n"
			 "echo x > /dev/shm/f && echo write=ok || echo write=refused\n"
			 "rm -f /dev/shm/f\n",
			 NULL };
	int status = -1;
	_cleanup_free_ char *out = enter_run(&a, argv, NULL, &status);

	cr_assert_eq(status, 0, "%s", out);
	assert_field(out, "mode", "1777");
	assert_field(out, "write", "ok");
	stop_idle(&a);
}
