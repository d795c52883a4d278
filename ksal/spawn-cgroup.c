/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ksal_cgroup_join_prepare(): the fds with which a new init joins its
 * container's cgroups by itself (CLONE_INTO_CGROUP for cgroup2, a write of
 * "0" to each v1 `tasks` file by the child, see ksal_spawn_cfg). The
 * parent's write of the child's pid to cgroup.procs takes the global
 * cgroup_threadgroup_rwsem for writing, whose RCU grace period cost 5-16 ms
 * per start on this hybrid host; a task moving itself does not take it.
 * Uses only the public cgroup interface.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ksal/cgroup.h"
#include "ksal/cleanup.h"
#include "ksal/spawn.h"

void ksal_cgroup_join_clear(struct ksal_cgroup_join *j)
{
	for (size_t i = 0; j->tasks_fds && i < j->n_tasks_fds; i++)
		closep(&j->tasks_fds[i]);
	free(j->tasks_fds);
	closep(&j->clone_fd);
	*j = (struct ksal_cgroup_join){ .clone_fd = -EBADF };
}

static int join_add_tasks(struct ksal_cgroup_join *j, const char *dir, struct st_error **err)
{
	_cleanup_free_ char *path = NULL;
	int *n, fd;

	if (asprintf(&path, "%s/tasks", dir) < 0)
		return st_error_set(err, ENOMEM, "join cgroup `%s`", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return st_error_set(err, errno, "open `%s`", path);
	n = realloc(j->tasks_fds, (j->n_tasks_fds + 1) * sizeof(*n));
	if (!n) {
		close(fd);
		return st_error_set(err, ENOMEM, "join cgroup `%s`", dir);
	}
	j->tasks_fds = n;
	j->tasks_fds[j->n_tasks_fds++] = fd;
	return 0;
}

/* The hierarchies are the lines of /proc/self/cgroup ("ID:ctrls:path", an
 * empty ctrls for cgroup2); the manager names its directory in each one it
 * uses by the line's first controller. */
int ksal_cgroup_join_prepare(struct ksal_cgroup_mgr *m, struct ksal_cgroup *cg,
			     struct ksal_cgroup_join *out, struct st_error **err)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;

	*out = (struct ksal_cgroup_join){ .clone_fd = -EBADF };
	if (ksal_cgroup_mgr_layout(m) == KSAL_CG_V2) {
		int fd = ksal_cgroup_clone_fd(cg);

		if (fd >= 0 && (out->clone_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
			return st_error_set(err, errno, "duplicate the cgroup2 fd of `%s`",
					    ksal_cgroup_path(cg, NULL));
		return 0;
	}
	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return st_error_set(err, errno, "open `/proc/self/cgroup`");
	while (getline(&line, &cap, f) > 0) {
		char *ctrls = strchr(line, ':'), *end;
		const char *dir;

		if (!ctrls || !(end = strchr(++ctrls, ':')))
			continue;
		*end = '\0';
		if (!*ctrls) {
			dir = ksal_cgroup_path(cg, "unified");
			if (!dir || out->clone_fd >= 0)
				continue;
			out->clone_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (out->clone_fd < 0) {
				int e = errno;

				ksal_cgroup_join_clear(out);
				return st_error_set(err, e, "open cgroup `%s`", dir);
			}
			continue;
		}
		ctrls[strcspn(ctrls, ",")] = '\0';
		dir = ksal_cgroup_path(cg, ctrls);
		if (dir && join_add_tasks(out, dir, err) < 0) {
			ksal_cgroup_join_clear(out);
			return -1;
		}
	}
	return 0;
}
