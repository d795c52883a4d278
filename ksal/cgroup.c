/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The cgroup manager: layout probe, Strata's subtree, handles and the public
 * dispatch. File helpers live in cgroup_fs.c, value checks and unit
 * conversions in cgroup_limits.c, v1/hybrid in cgroup_v1.c, v2 in
 * cgroup_v2.c; nothing here tests for the version except the probe.
 *
 * The kernel's files are read and written directly (openat relative to a
 * directory fd held per hierarchy), which is what libcgroup would do for us
 * minus its global configuration state.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ksal/cgroup.h"
#include "ksal/cgroup_internal.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/mountinfo.h"

#define CG_DEFAULT_ROOT "/sys/fs/cgroup"

static const char *const v1_known[] = { "cpu",	   "cpuacct", "cpuset",	  "memory", "devices",
					"freezer", "net_cls", "net_prio", "blkio",  "perf_event",
					"hugetlb", "pids",    "rdma",	  "misc",   "debug" };

/* ---- manager ---- */

int cg_hier_find(const struct ksal_cgroup_mgr *m, const char *controller)
{
	bool want_v2 = !controller || !*controller || strcmp(controller, "unified") == 0;
	if (!want_v2 && strcmp(controller, "systemd") == 0)
		controller = "name=systemd";
	for (size_t i = 0; i < m->nhier; i++) {
		const struct ksal_cg_hier *h = &m->hier[i];
		size_t len;

		if (h->v2) {
			if (want_v2 || m->layout == KSAL_CG_V2)
				return (int)i;
			continue;
		}
		if (want_v2)
			continue;
		len = strlen(controller);
		for (const char *p = h->ctrls; p && *p;) {
			const char *c = strchr(p, ',');
			size_t l = c ? (size_t)(c - p) : strlen(p);
			if (l == len && strncmp(p, controller, len) == 0)
				return (int)i;
			p = c ? c + 1 : NULL;
		}
	}
	return -1;
}

static void hier_clear(struct ksal_cg_hier *h)
{
	free(h->mnt);
	free(h->ctrls);
	closep(&h->subtree_fd);
	h->mnt = h->ctrls = NULL;
}

void ksal_cgroup_mgr_free(struct ksal_cgroup_mgr *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nhier; i++)
		hier_clear(&m->hier[i]);
	free(m->root);
	free(m->subtree);
	free(m->controllers);
	free(m);
}

int ksal_cgroup_mgr_remove_subtree(struct ksal_cgroup_mgr *m)
{
	int left = 0;

	if (!m || m->fake)
		return 0;
	for (size_t i = 0; i < m->nhier; i++) {
		struct ksal_cg_hier *h = &m->hier[i];
		_cleanup_free_ char *p = NULL;

		closep(&h->subtree_fd);
		if (asprintf(&p, "%s/%s", h->mnt, m->subtree) < 0 ||
		    (rmdir(p) < 0 && errno != ENOENT))
			left++; /* still holds a container's cgroup: stays */
		else
			st_trace("cgroup: removed %s", p);
	}
	m->subtree_ready = false;
	return left;
}

static void mgr_freep(struct ksal_cgroup_mgr **m)
{
	ksal_cgroup_mgr_free(*m);
	*m = NULL;
}

enum ksal_cgroup_layout ksal_cgroup_mgr_layout(const struct ksal_cgroup_mgr *m)
{
	return m->layout;
}

const char *ksal_cgroup_mgr_controllers(const struct ksal_cgroup_mgr *m)
{
	return m->controllers ? m->controllers : "";
}

static int hier_add(struct ksal_cgroup_mgr *m, const char *mnt, const char *ctrls, bool v2,
		    struct st_error **err)
{
	struct ksal_cg_hier *h;

	for (size_t i = 0; i < m->nhier; i++) {
		/* one hierarchy mounted twice (bind mounts): keep the first */
		if (m->hier[i].v2 == v2 && strcmp(m->hier[i].ctrls, ctrls) == 0)
			return 0;
		if (strcmp(m->hier[i].mnt, mnt) == 0)
			return 0;
	}
	if (m->nhier == KSAL_CG_MAX_HIER)
		return st_error_set(err, E2BIG,
				    "probe cgroups under `%s`: more than %d hierarchies", m->root,
				    KSAL_CG_MAX_HIER);
	h = &m->hier[m->nhier];
	h->subtree_fd = -EBADF;
	h->mnt = strdup(mnt);
	h->ctrls = strdup(ctrls);
	h->v2 = v2;
	if (!h->mnt || !h->ctrls) {
		hier_clear(h);
		return st_error_set(err, ENOMEM, "probe cgroups under `%s`", m->root);
	}
	m->nhier++;
	return 0;
}

/* The controllers in a v1 mount's super options ("rw,cpu,cpuacct"). */
static char *v1_ctrls_from_opts(const char *opts)
{
	_cleanup_free_ char *copy = strdup(opts);
	_cleanup_free_ char *out = NULL;
	size_t len = 0;
	char *save = NULL;

	if (!copy)
		return NULL;
	out = calloc(1, strlen(opts) + 1);
	if (!out)
		return NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		bool keep = strncmp(tok, "name=", 5) == 0;
		for (size_t i = 0; !keep && i < ARRAY_SIZE(v1_known); i++)
			keep = strcmp(tok, v1_known[i]) == 0;
		if (!keep)
			continue;
		if (len)
			out[len++] = ',';
		strcpy(out + len, tok);
		len += strlen(tok);
	}
	return take_ptr(out);
}

static void mountinfo_clearp(struct ksal_mountinfo *m)
{
	ksal_mountinfo_clear(m);
}

/* Mounts of cgroup/cgroup2 at root or directly below it. */
static int probe_mountinfo(struct ksal_cgroup_mgr *m, struct st_error **err)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0, rlen = strlen(m->root);

	if (!f)
		return st_error_set(err, errno, "open `/proc/self/mountinfo`");
	while (getline(&line, &cap, f) > 0) {
		__attribute__((cleanup(mountinfo_clearp))) struct ksal_mountinfo e = { 0 };
		const char *mnt;
		bool at_root, below_root;
		int r;

		r = ksal_mountinfo_parse(line, &e);
		if (r == -ENOMEM)
			return st_error_set(err, ENOMEM, "probe cgroups");
		if (r < 0 || !*e.super_opts)
			continue;
		if (strcmp(e.fstype, "cgroup") != 0 && strcmp(e.fstype, "cgroup2") != 0)
			continue;
		mnt = e.mountpoint;
		at_root = strcmp(mnt, m->root) == 0;
		below_root = strncmp(mnt, m->root, rlen) == 0 && mnt[rlen] == '/' &&
			     !strchr(mnt + rlen + 1, '/');
		if (!at_root && !below_root)
			continue;
		if (strcmp(e.fstype, "cgroup2") == 0) {
			r = hier_add(m, mnt, "", true, err);
		} else {
			_cleanup_free_ char *ctrls = v1_ctrls_from_opts(e.super_opts);
			if (!ctrls)
				return st_error_set(err, ENOMEM, "probe cgroups");
			if (!*ctrls)
				continue;
			r = hier_add(m, mnt, ctrls, false, err);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * No cgroup mount at or under root: a plain directory tree mimicking
 * cgroupfs (tests). root/cgroup.controllers means v2 at root; otherwise each
 * subdirectory holding cgroup.controllers is a cgroup2 hierarchy and each
 * holding `tasks` a v1 one whose controllers are its name ("cpu,cpuacct";
 * "systemd" stands for name=systemd).
 */
static int probe_fake(struct ksal_cgroup_mgr *m, struct st_error **err)
{
	_cleanup_close_ int rfd = -EBADF;
	_cleanup_closedir_ DIR *d = NULL;
	char *names[KSAL_CG_MAX_HIER * 2];
	size_t n = 0;
	struct dirent *de;
	int r = 0;

	rfd = open(m->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return st_error_set(err, errno, "open cgroup root `%s`", m->root);
	if (cg_file_exists(rfd, "cgroup.controllers"))
		return hier_add(m, m->root, "", true, err);
	d = opendir(m->root);
	if (!d)
		return st_error_set(err, errno, "open cgroup root `%s`", m->root);
	while ((de = readdir(d)) && n < ARRAY_SIZE(names)) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		names[n] = strdup(de->d_name);
		if (!names[n])
			break;
		n++;
	}
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *mnt = NULL, *ctrl = NULL;
		_cleanup_close_ int hfd = -EBADF;

		if (r < 0)
			goto next;
		if (asprintf(&mnt, "%s/%s", m->root, names[i]) < 0) {
			mnt = NULL;
			r = st_error_set(err, ENOMEM, "probe cgroups");
			goto next;
		}
		hfd = openat(rfd, names[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (hfd < 0)
			goto next;
		if (cg_file_exists(hfd, "cgroup.controllers")) {
			r = hier_add(m, mnt, "", true, err);
		} else if (cg_file_exists(hfd, "tasks")) {
			if (strcmp(names[i], "systemd") == 0)
				ctrl = strdup("name=systemd");
			else
				ctrl = strdup(names[i]);
			if (!ctrl)
				r = st_error_set(err, ENOMEM, "probe cgroups");
			else
				r = hier_add(m, mnt, ctrl, false, err);
		}
	next:
		free(names[i]);
	}
	return r;
}

static int mgr_controllers(struct ksal_cgroup_mgr *m, struct st_error **err)
{
	_cleanup_free_ char *s = NULL;
	size_t len = 0;

	s = calloc(1, 1);
	if (!s)
		return st_error_set(err, ENOMEM, "probe cgroups");
	for (size_t i = 0; i < m->nhier; i++) {
		struct ksal_cg_hier *h = &m->hier[i];
		_cleanup_free_ char *v2 = NULL;
		const char *add = h->ctrls;
		char *ns;

		if (h->v2) {
			_cleanup_close_ int fd = open(h->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (m->layout != KSAL_CG_V2 || fd < 0)
				continue;
			if (cg_read(fd, h->mnt, "cgroup.controllers", &v2, true, NULL) < 0)
				continue;
			for (char *p = v2; *p; p++)
				if (*p == ' ' || *p == '\n')
					*p = ',';
			while (len = strlen(v2), len && v2[len - 1] == ',')
				v2[len - 1] = '\0';
			add = v2;
		}
		len = strlen(s);
		for (const char *p = add; p && *p;) {
			const char *c = strchr(p, ',');
			size_t l = c ? (size_t)(c - p) : strlen(p);
			if (l && strncmp(p, "name=", 5) != 0) {
				ns = realloc(s, len + l + 2);
				if (!ns)
					return st_error_set(err, ENOMEM, "probe cgroups");
				s = ns;
				if (len)
					s[len++] = ',';
				memcpy(s + len, p, l);
				len += l;
				s[len] = '\0';
			}
			p = c ? c + 1 : NULL;
		}
	}
	m->controllers = take_ptr(s);
	return 0;
}

static bool valid_name(const char *s)
{
	return s && *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
	       strlen(s) < 200;
}

int ksal_cgroup_mgr_new(const char *root, const char *subtree, struct ksal_cgroup_mgr **out,
			struct st_error **err)
{
	_cleanup_(mgr_freep) struct ksal_cgroup_mgr *m = NULL;
	bool v1 = false, v2_at_root = false, v2 = false;
	size_t len;
	int r;

	if (!valid_name(subtree))
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL, "cgroup subtree name `%s`",
				     subtree ? subtree : "(null)");
	m = calloc(1, sizeof(*m));
	if (!m)
		return st_error_set(err, ENOMEM, "allocate cgroup manager");
	m->root = strdup(root ? root : CG_DEFAULT_ROOT);
	m->subtree = strdup(subtree);
	if (!m->root || !m->subtree)
		return st_error_set(err, ENOMEM, "allocate cgroup manager");
	while ((len = strlen(m->root)) > 1 && m->root[len - 1] == '/')
		m->root[len - 1] = '\0';

	r = probe_mountinfo(m, err);
	if (r < 0)
		return r;
	if (m->nhier == 0) {
		m->fake = true;
		r = probe_fake(m, err);
		if (r < 0)
			return r;
	}
	if (m->nhier == 0)
		return st_error_setx(err, ST_EXIT_NOFEATURE, 0,
				     "probe cgroups: no cgroup hierarchy mounted at or under `%s`",
				     m->root);
	for (size_t i = 0; i < m->nhier; i++) {
		if (!m->hier[i].v2)
			v1 = true;
		else if (strcmp(m->hier[i].mnt, m->root) == 0)
			v2_at_root = true;
		else
			v2 = true;
	}
	if (v2_at_root || !v1) {
		/* keep only the cgroup2 hierarchy */
		struct ksal_cg_hier keep = { .subtree_fd = -EBADF };
		for (size_t i = 0; i < m->nhier; i++) {
			if (m->hier[i].v2 && !keep.mnt)
				keep = m->hier[i];
			else
				hier_clear(&m->hier[i]);
		}
		m->hier[0] = keep;
		m->nhier = 1;
		m->layout = KSAL_CG_V2;
		m->ops = &ksal_cgroup_v2_ops;
	} else {
		m->layout = v2 ? KSAL_CG_HYBRID : KSAL_CG_V1;
		m->ops = &ksal_cgroup_v1_ops;
	}
	r = mgr_controllers(m, err);
	if (r < 0)
		return r;
	st_debug("cgroup: layout %s under %s%s, controllers %s", ksal_cgroup_layout_name(m->layout),
		 m->root, m->fake ? " (plain directory tree)" : "", m->controllers);
	*out = take_ptr(m);
	return 0;
}

/* Make <mnt>/<subtree> in every hierarchy (once). */
static int mgr_subtree(struct ksal_cgroup_mgr *m, bool make, struct st_error **err)
{
	bool made = false;
	int r;

	for (size_t i = 0; i < m->nhier; i++) {
		struct ksal_cg_hier *h = &m->hier[i];
		_cleanup_close_ int mfd = -EBADF;

		if (h->subtree_fd >= 0)
			continue;
		mfd = open(h->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (mfd < 0)
			return st_error_set(err, errno, "open cgroup hierarchy `%s`", h->mnt);
		if (make) {
			if (mkdirat(mfd, m->subtree, 0755) < 0) {
				if (errno != EEXIST)
					return st_error_set(err, errno, "create cgroup `%s/%s`",
							    h->mnt, m->subtree);
			} else {
				made = true;
				st_trace("cgroup: created %s/%s", h->mnt, m->subtree);
			}
		}
		h->subtree_fd = openat(mfd, m->subtree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (h->subtree_fd < 0) {
			int e = errno;
			h->subtree_fd = -EBADF;
			if (e == ENOENT && !make)
				continue;
			return st_error_set(err, e, "open cgroup `%s/%s`", h->mnt, m->subtree);
		}
	}
	if (!make || m->subtree_ready)
		return 0;
	if (made)
		st_debug("cgroup: created subtree %s under %s", m->subtree, m->root);
	r = m->ops->subtree_init(m, err);
	if (r < 0)
		return r;
	m->subtree_ready = true;
	return 0;
}

int ksal_cgroup_mgr_prepare(struct ksal_cgroup_mgr *m, struct st_error **err)
{
	return mgr_subtree(m, true, err);
}

void ksal_cgroup_free(struct ksal_cgroup *cg)
{
	if (!cg)
		return;
	for (size_t i = 0; i < KSAL_CG_MAX_HIER; i++) {
		free(cg->path[i]);
		closep(&cg->fd[i]);
	}
	free(cg->name);
	free(cg);
}

int ksal_cg_fd(struct ksal_cgroup *cg, size_t h)
{
	if (!cg->present[h])
		return -EBADF;
	if (cg->fd[h] < 0 && cg->path[h]) {
		cg->fd[h] = open(cg->path[h], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cg->fd[h] < 0) {
			int e = errno;

			st_debug("cgroup: reopen `%s`: %s", cg->path[h], strerror(e));
			cg->fd[h] = -EBADF;
			errno = e;
		}
	}
	return cg->fd[h];
}

void ksal_cgroup_close_fds(struct ksal_cgroup *cg)
{
	if (!cg)
		return;
	for (size_t i = 0; i < KSAL_CG_MAX_HIER; i++)
		closep(&cg->fd[i]);
}

static void cg_freep(struct ksal_cgroup **cg)
{
	ksal_cgroup_free(*cg);
	*cg = NULL;
}

static int cg_get(struct ksal_cgroup_mgr *m, const char *name, bool make, struct ksal_cgroup **out,
		  struct st_error **err)
{
	_cleanup_(cg_freep) struct ksal_cgroup *cg = NULL;
	bool made[KSAL_CG_MAX_HIER] = { false };
	bool any_made = false;
	size_t found = 0;
	int r;

	if (!valid_name(name))
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL, "cgroup name `%s`",
				     name ? name : "(null)");
	r = mgr_subtree(m, make, err);
	if (r < 0)
		return r;
	cg = calloc(1, sizeof(*cg));
	if (!cg)
		return st_error_set(err, ENOMEM, "allocate cgroup %s", name);
	for (size_t i = 0; i < KSAL_CG_MAX_HIER; i++)
		cg->fd[i] = -EBADF;
	cg->mgr = m;
	cg->name = strdup(name);
	if (!cg->name)
		return st_error_set(err, ENOMEM, "allocate cgroup %s", name);

	for (size_t i = 0; i < m->nhier; i++) {
		struct ksal_cg_hier *h = &m->hier[i];

		if (asprintf(&cg->path[i], "%s/%s/%s", h->mnt, m->subtree, name) < 0) {
			cg->path[i] = NULL;
			r = st_error_set(err, ENOMEM, "allocate cgroup %s", name);
			goto rollback;
		}
		if (h->subtree_fd < 0)
			continue;
		if (make) {
			if (mkdirat(h->subtree_fd, name, 0755) == 0) {
				made[i] = any_made = true;
				st_trace("cgroup: created %s", cg->path[i]);
			} else if (errno != EEXIST) {
				r = st_error_set(err, errno, "create cgroup `%s`", cg->path[i]);
				goto rollback;
			}
		}
		cg->fd[i] = openat(h->subtree_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cg->fd[i] < 0) {
			int e = errno;
			cg->fd[i] = -EBADF;
			if (e == ENOENT && !make)
				continue;
			r = st_error_set(err, e, "open cgroup `%s`", cg->path[i]);
			goto rollback;
		}
		cg->present[i] = true;
		found++;
	}
	if (found == 0) {
		st_error_setx(err, ST_EXIT_FAILED, ENOENT, "open cgroup `%s/%s`", m->subtree, name);
		return -ENOENT;
	}
	r = m->ops->cg_init(cg, any_made, err);
	if (r < 0)
		goto rollback;
	*out = take_ptr(cg);
	return 0;

rollback:
	/* undo only the directories this call made */
	for (size_t i = 0; i < m->nhier; i++) {
		if (made[i] && cg->path[i])
			cg_rmtree(m, cg->path[i], NULL);
	}
	st_error_prefix(err, "%s cgroup %s/%s: ", make ? "create" : "open", m->subtree, name);
	return r;
}

int ksal_cgroup_create(struct ksal_cgroup_mgr *m, const char *name, struct ksal_cgroup **out,
		       struct st_error **err)
{
	return cg_get(m, name, true, out, err);
}

int ksal_cgroup_open(struct ksal_cgroup_mgr *m, const char *name, struct ksal_cgroup **out,
		     struct st_error **err)
{
	return cg_get(m, name, false, out, err);
}

int ksal_cgroup_clone_fd(struct ksal_cgroup *cg)
{
	return cg->mgr->ops->clone_fd(cg);
}

int ksal_cgroup_attach(struct ksal_cgroup *cg, pid_t pid, struct st_error **err)
{
	if (pid <= 0)
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL, "attach pid %d to cgroup %s",
				     (int)pid, cg->name);
	return cg->mgr->ops->attach(cg, pid, err);
}

int ksal_cgroup_delegate(struct ksal_cgroup *cg, uid_t uid, gid_t gid, struct st_error **err)
{
	return cg->mgr->ops->delegate(cg, uid, gid, err);
}

int ksal_cgroup_devices_set(struct ksal_cgroup *cg, const struct ksal_cgroup_dev *allow, size_t n,
			    struct st_error **err)
{
	int r = cg_validate_devices(allow, n, err);

	if (r < 0)
		return r;
	return cg->mgr->ops->devices_set(cg, allow, n, err);
}

int ksal_cgroup_apply(struct ksal_cgroup *cg, const struct ksal_cgroup_limits *l,
		      struct st_error **err)
{
	int r = cg_validate_limits(l, err);

	if (r < 0)
		return r;
	r = cg->mgr->ops->apply(cg, l, err);
	if (r < 0) {
		st_error_prefix(err, "apply limits to cgroup %s: ", cg->name);
		return r;
	}
	return 0;
}

int ksal_cgroup_stats(struct ksal_cgroup *cg, struct ksal_cgroup_stats *out, struct st_error **err)
{
	memset(out, 0, sizeof(*out));
	return cg->mgr->ops->stats(cg, out, err);
}

int ksal_cgroup_pids(struct ksal_cgroup *cg, pid_t **pids, size_t *n, struct st_error **err)
{
	*pids = NULL;
	*n = 0;
	return cg->mgr->ops->pids(cg, pids, n, err);
}

bool ksal_cgroup_is_empty(struct ksal_cgroup *cg)
{
	return cg->mgr->ops->is_empty(cg) > 0;
}

int ksal_cgroup_freeze(struct ksal_cgroup *cg, bool frozen, struct st_error **err)
{
	return cg->mgr->ops->freeze(cg, frozen, err);
}

int ksal_cgroup_kill_all(struct ksal_cgroup *cg, int timeout_ms, struct st_error **err)
{
	/* an empty cgroup (and subtree) has nothing that could fork into it:
	 * the common case after a container's init is gone, which then costs
	 * one read instead of a freeze, a list and a thaw */
	if (ksal_cgroup_is_empty(cg))
		return 0;
	return cg->mgr->ops->kill_all(cg, timeout_ms, err);
}

int ksal_cgroup_kill_everywhere(struct ksal_cgroup *cg, int timeout_ms, struct st_error **err)
{
	for (size_t i = 0; i < cg->mgr->nhier; i++) {
		int r;

		if (!cg->path[i] || cg->mgr->fake || ksal_cg_fd(cg, i) < 0)
			continue;
		r = cg_kill_loop(cg, (int)i, "cgroup.procs", timeout_ms, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int ksal_cgroup_destroy(struct ksal_cgroup *cg, struct st_error **err)
{
	int ret = 0;

	/* keep going: remove what can be removed, report the first failure */
	for (size_t i = 0; i < cg->mgr->nhier; i++) {
		int r;

		if (!cg->path[i])
			continue;
		closep(&cg->fd[i]);
		r = cg_rmtree(cg->mgr, cg->path[i], err);
		if (r < 0 && ret == 0)
			ret = r;
	}
	if (ret < 0) {
		st_error_prefix(err, "destroy cgroup %s: ", cg->name);
		return ret;
	}
	st_debug("cgroup: destroyed %s/%s", cg->mgr->subtree, cg->name);
	return 0;
}

const char *ksal_cgroup_path(struct ksal_cgroup *cg, const char *controller)
{
	int h = cg_hier_find(cg->mgr, controller);

	if (h < 0 && (!controller || !*controller) && cg->mgr->nhier)
		h = 0;
	return h < 0 ? NULL : cg->path[h];
}
