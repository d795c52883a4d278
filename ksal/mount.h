/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Mount helpers: the new mount API (open_tree, move_mount, mount_setattr)
 * where the kernel has it, mount(2) otherwise, probed once and cached.
 *
 * They return 0 or -errno (errno is set too) and allocate nothing, so a
 * freshly cloned child may call them before exec. Targets are followed like
 * mount(2) follows them, so "/proc/self/fd/N" names the object an O_PATH fd
 * was opened on (how the container's root setup stays inside the root).
 */
#ifndef STRATA_KSAL_MOUNT_H
#define STRATA_KSAL_MOUNT_H

#include <stdbool.h>

enum {
	KSAL_MNT_REC = 1 << 0,	  /* recursive bind / attribute change */
	KSAL_MNT_RDONLY = 1 << 1, /* read-only */
	KSAL_MNT_NOSUID = 1 << 2,
	KSAL_MNT_NODEV = 1 << 3,
	KSAL_MNT_NOEXEC = 1 << 4,
};

/* true when open_tree, move_mount and mount_setattr all work (probed once;
 * call it before forking so children inherit the answer). */
bool ksal_mount_new_api(void);
/* Force the mount(2) path (tests of the fallback). */
void ksal_mount_force_legacy(bool legacy);

/* Bind `source` (a host path) on `target`. With the new API a read-only
 * bind never appears writable: the attribute is set on the detached tree. */
int ksal_mount_bind(const char *source, const char *target, unsigned int flags);
/* Bind what `fd` refers to (a file, a pty, an O_PATH fd) on `target`. */
int ksal_mount_bind_fd(int fd, const char *target, unsigned int flags);
/* Attach a detached tree (an open_tree(OPEN_TREE_CLONE) fd) on target after
 * setting the attributes in flags; the fd is consumed (closed) either way.
 * The tree may come from another mount namespace: this is how a source that
 * only the caller's namespace can see reaches a namespace being built. */
int ksal_mount_attach_tree(int tree, const char *target, unsigned int flags);
/* Set / clear KSAL_MNT_RDONLY|NOSUID|NODEV|NOEXEC on the mount at target,
 * keeping the other flags (a user namespace may not clear locked ones);
 * KSAL_MNT_REC in `set` applies it to the whole subtree (new API only). */
int ksal_mount_setattr(const char *target, unsigned int set, unsigned int clr);
/* A fresh filesystem (proc, sysfs, tmpfs, devpts...) with mount(2). */
int ksal_mount_fs(const char *fstype, const char *target, unsigned long msflags, const char *data);
/* Propagation type (MS_PRIVATE, MS_SLAVE, MS_SHARED) of target, recursive. */
int ksal_mount_propagation(const char *target, unsigned long type);

#endif
