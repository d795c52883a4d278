/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which of a container's mounts CRIU must be told are external: a bind whose
 * source lies outside the container (a device node bound from the host's
 * /dev, /dev/null over a masked file, a host file such as the init), found
 * by comparing the container's /proc/PID/mountinfo with the daemon's own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/mountinfo.h"
#include "runtime/checkpoint_internal.h"

/* Filesystems CRIU mounts afresh on restore (a mount of their root is not
 * external). Anything else mounted at its root (ext4, squashfs...) is. */
static const char *const own_fs[] = { "proc",	"sysfs",   "tmpfs",	  "devpts", "mqueue",
				      "cgroup", "cgroup2", "binfmt_misc", "fusectl" };

struct mnt {
	unsigned major, minor;
	char *root, *mountpoint, *fstype;
};

static void mnts_free(struct mnt *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].root);
		free(m[i].mountpoint);
		free(m[i].fstype);
	}
	free(m);
}

static int mountinfo_read(const char *path, struct mnt **out, size_t *n, struct st_error **err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0, len = 0, lcap = 0;
	struct mnt *v = NULL;

	if (!f)
		return st_error_set(err, errno, "open `%s`", path);
	while (getline(&line, &lcap, f) > 0) {
		struct ksal_mountinfo e;
		int r = ksal_mountinfo_parse(line, &e);

		if (r == -EINVAL)
			continue;
		if (r == 0 && len == cap) {
			struct mnt *nv = realloc(v, (cap ? cap * 2 : 32) * sizeof(*v));

			if (nv) {
				v = nv;
				cap = cap ? cap * 2 : 32;
			} else {
				ksal_mountinfo_clear(&e);
				r = -ENOMEM;
			}
		}
		if (r < 0) {
			mnts_free(v, len);
			return st_error_set(err, -r, "read `%s`", path);
		}
		free(e.super_opts);
		v[len++] = (struct mnt){ e.major, e.minor, e.root, e.mountpoint, e.fstype };
	}
	*out = v;
	*n = len;
	return 0;
}

/* Is root a path prefix of path ("/" of everything, "/a" of "/a/b")? */
static size_t prefix_len(const char *root, const char *path)
{
	size_t l = strlen(root);

	if (!strcmp(root, "/"))
		return 1;
	if (strncmp(root, path, l) || (path[l] && path[l] != '/'))
		return 0;
	return l;
}

static bool is_own_fs(const char *fstype)
{
	for (size_t i = 0; i < ARRAY_SIZE(own_fs); i++)
		if (!strcmp(fstype, own_fs[i]))
			return true;
	return false;
}

/* The host path showing what container mount m shows, from the daemon's
 * own mount table: the mount of the same device whose root is the longest
 * prefix of m's root. */
static char *host_source(const struct mnt *m, const struct mnt *host, size_t nhost)
{
	const struct mnt *best = NULL;
	size_t best_len = 0;
	const char *rest;
	char *out;

	for (size_t i = 0; i < nhost; i++) {
		size_t l;

		if (host[i].major != m->major || host[i].minor != m->minor)
			continue;
		l = prefix_len(host[i].root, m->root);
		if (l && l > best_len) {
			best = &host[i];
			best_len = l;
		}
	}
	if (!best)
		return NULL;
	/* what of m's root lies below best's root: "" or "/..." */
	rest = !strcmp(best->root, "/") ? m->root : m->root + strlen(best->root);
	if (!strcmp(rest, "/"))
		rest = "";
	if (!strcmp(best->mountpoint, "/"))
		return strdup(*rest ? rest : "/");
	if (asprintf(&out, "%s%s", best->mountpoint, rest) < 0)
		return NULL;
	return out;
}

void ckpt_ext_free(struct ckpt_ext *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].key);
		free(e[i].mountpoint);
		free(e[i].host_path);
	}
	free(e);
}

static int ext_add(struct ckpt_ext **v, size_t *n, const char *mp, const char *host,
		   struct st_error **err)
{
	struct ckpt_ext *nv;

	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i].mountpoint, mp))
			return 0;
	if (strpbrk(mp, "\t\n") || strpbrk(host, "\t\n"))
		return st_error_setx(err, ST_EXIT_CHKPNT, EINVAL,
				     "external mount `%s`: tab or newline in a path", mp);
	nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return st_error_set(err, ENOMEM, "external mounts");
	*v = nv;
	nv[*n] = (struct ckpt_ext){ NULL, strdup(mp), strdup(host) };
	if (asprintf(&nv[*n].key, "ext%zu", *n) < 0)
		nv[*n].key = NULL;
	(*n)++;
	if (!nv[*n - 1].key || !nv[*n - 1].mountpoint || !nv[*n - 1].host_path)
		return st_error_set(err, ENOMEM, "external mounts");
	return 0;
}

int ckpt_ext_find(pid_t pid, const struct ct_ckpt_mount *extra, size_t n_extra,
		  struct ckpt_ext **out, size_t *n_out, struct st_error **err)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "/proc/%d/mountinfo", (int)pid) < 0)
		return st_error_set(err, ENOMEM, "external mounts");
	return ckpt_ext_find_in(path, "/proc/self/mountinfo", extra, n_extra, out, n_out, err);
}

int ckpt_ext_find_in(const char *ct_mountinfo, const char *host_mountinfo,
		     const struct ct_ckpt_mount *extra, size_t n_extra, struct ckpt_ext **out,
		     size_t *n_out, struct st_error **err)
{
	struct mnt *ct = NULL, *host = NULL;
	size_t nct = 0, nhost = 0, n = 0;
	struct ckpt_ext *v = NULL;
	int r = 0;

	if (mountinfo_read(ct_mountinfo, &ct, &nct, err) < 0)
		return -1;
	if (mountinfo_read(host_mountinfo, &host, &nhost, err) < 0) {
		mnts_free(ct, nct);
		return -1;
	}
	for (size_t i = 0; i < n_extra && r == 0; i++)
		r = ext_add(&v, &n, extra[i].mountpoint, extra[i].host_path, err);
	for (size_t i = 0; i < nct && r == 0; i++) {
		const struct mnt *m = &ct[i];
		bool inside = false;
		_cleanup_free_ char *src = NULL;

		if (!strcmp(m->mountpoint, "/"))
			continue; /* the container's root: CRIU's --root */
		if (!strcmp(m->root, "/") && is_own_fs(m->fstype))
			continue;
		/* a bind of something another mount of the container shows whole */
		for (size_t j = 0; j < nct && !inside; j++)
			inside = j != i && ct[j].major == m->major && ct[j].minor == m->minor &&
				 !strcmp(ct[j].root, "/") && strcmp(ct[j].mountpoint, "/") &&
				 is_own_fs(ct[j].fstype);
		if (inside)
			continue;
		src = host_source(m, host, nhost);
		if (!src && !strcmp(m->root, "/"))
			continue; /* a filesystem of its own (hugetlbfs, mqueue...) */
		if (!src) {
			r = st_error_setx(err, ST_EXIT_CHKPNT, 0,
					  "mount `%s` (%s, %u:%u `%s`) of container comes from "
					  "outside it and its source is not visible to stratad",
					  m->mountpoint, m->fstype, m->major, m->minor, m->root);
			break;
		}
		st_trace("checkpoint: external mount %s <- %s (%s)", m->mountpoint, src, m->fstype);
		r = ext_add(&v, &n, m->mountpoint, src, err);
	}
	mnts_free(ct, nct);
	mnts_free(host, nhost);
	if (r < 0) {
		ckpt_ext_free(v, n);
		return r;
	}
	*out = v;
	*n_out = n;
	return 0;
}

int ckpt_ext_save(int dirfd, const struct ckpt_ext *e, size_t n, struct st_error **err)
{
	_cleanup_fclose_ FILE *f = NULL;
	int fd = openat(dirfd, CT_CKPT_EXT_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return st_error_set(err, errno, "write `%s`", CT_CKPT_EXT_FILE);
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return st_error_set(err, errno, "write `%s`", CT_CKPT_EXT_FILE);
	}
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\t%s\t%s\n", e[i].key, e[i].mountpoint, e[i].host_path);
	if (fflush(f) != 0 || ferror(f))
		return st_error_set(err, errno ? errno : EIO, "write `%s`", CT_CKPT_EXT_FILE);
	return 0;
}

int ckpt_ext_load(int dirfd, struct ckpt_ext **out, size_t *n_out, struct st_error **err)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	struct ckpt_ext *v = NULL;
	size_t n = 0, cap = 0;
	int fd = openat(dirfd, CT_CKPT_EXT_FILE, O_RDONLY | O_CLOEXEC);

	*out = NULL;
	*n_out = 0;
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return st_error_set(err, errno, "read `%s`", CT_CKPT_EXT_FILE);
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return st_error_set(err, errno, "read `%s`", CT_CKPT_EXT_FILE);
	}
	while (getline(&line, &cap, f) > 0) {
		char *t1, *t2, *nl;
		struct ckpt_ext *nv;

		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		t1 = strchr(line, '\t');
		t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (!t2) {
			ckpt_ext_free(v, n);
			return st_error_setx(err, ST_EXIT_RESTORE, EINVAL, "`%s`: malformed line",
					     CT_CKPT_EXT_FILE);
		}
		*t1 = *t2 = '\0';
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv) {
			ckpt_ext_free(v, n);
			return st_error_set(err, ENOMEM, "read `%s`", CT_CKPT_EXT_FILE);
		}
		v = nv;
		v[n++] = (struct ckpt_ext){ strdup(line), strdup(t1 + 1), strdup(t2 + 1) };
		if (!v[n - 1].key || !v[n - 1].mountpoint || !v[n - 1].host_path) {
			ckpt_ext_free(v, n);
			return st_error_set(err, ENOMEM, "read `%s`", CT_CKPT_EXT_FILE);
		}
	}
	*out = v;
	*n_out = n;
	return 0;
}
