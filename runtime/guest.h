/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Files written into a container's root before its init runs. */
#ifndef STRATA_RUNTIME_GUEST_H
#define STRATA_RUNTIME_GUEST_H

#include <sys/types.h>

#include "ksal/error.h"

/* openat2 of rel inside the tree at rootfd: symlinks resolved within it,
 * no magic links, no crossing of mounts; O_CLOEXEC added. */
int guest_open_in_root(int rootfd, const char *rel, int flags, mode_t mode);
/* Write text to rel (e.g. "etc/hostname") resolved inside root, owned by
 * uid:gid (the container's root on the host). */
int guest_write_file(const char *root, const char *rel, const char *text, uid_t uid, gid_t gid,
		     struct st_error **err);
/* The text of /etc/resolv.conf for NAMESERVER and SEARCHDOMAIN (malloc'd). */
char *guest_resolv_conf(const char *nameservers, const char *search);

#endif
