/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one parser of the kernel's mount tables: a line of
 * /proc/PID/mountinfo, and the octal escapes (\040 for a space...) that
 * /proc/PID/mountinfo and /proc/mounts put in paths. Used by the cgroup
 * manager, the feature probe and the checkpoint code.
 */
#ifndef STRATA_KSAL_MOUNTINFO_H
#define STRATA_KSAL_MOUNTINFO_H

struct ksal_mountinfo {
	unsigned int major, minor;
	char *root;	  /* of the mount within its filesystem, unescaped */
	char *mountpoint; /* unescaped */
	char *fstype;	  /* "ext4", "cgroup2"... */
	char *super_opts; /* "rw,cpu,cpuacct"; "" if the line has none */
};

/*
 * One mountinfo line ("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3
 * /dev/root rw,errors=continue", the trailing newline optional) into *m,
 * whose strings are malloc'd (ksal_mountinfo_clear()). Returns 0, -EINVAL
 * if the line is malformed, or -ENOMEM (then *m holds no strings).
 */
int ksal_mountinfo_parse(const char *line, struct ksal_mountinfo *m);
void ksal_mountinfo_clear(struct ksal_mountinfo *m);

/* Undo the \ooo escapes of a mount table's path, in place. */
void ksal_mount_unescape(char *s);

#endif
