/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The template store: list, find, import, export, remove. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "cow-fs/cowfs.h"
#include "cow-fs/fsutil.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "templates/store-internal.h"

void progress_step(tmpl_progress_fn fn, void *data, const char *step, unsigned pct)
{
	st_debug("template: %s (%u%%)", step, pct);
	if (fn)
		fn(step, pct, data);
}

int tmpl_store_open(const struct tmpl_store_opts *opts, struct tmpl_store **out,
		    struct st_error **err)
{
	struct tmpl_store *s = calloc(1, sizeof(*s));
	const struct tmpl_store_opts none = { 0 };

	if (!opts)
		opts = &none;
	if (!s)
		return st_error_set(err, ENOMEM, "open template store");
	s->templates_dir =
		strdup(opts->templates_dir ? opts->templates_dir : TMPL_DEFAULT_TEMPLATES_DIR);
	s->cache_dir = strdup(opts->cache_dir ? opts->cache_dir : TMPL_DEFAULT_CACHE_DIR);
	s->recipes_dir = strdup(opts->recipes_dir ? opts->recipes_dir : STRATA_DATADIR "/recipes");
	s->init_path = opts->init_path ? strdup(opts->init_path) : NULL;
	if (!s->templates_dir || !s->cache_dir || !s->recipes_dir ||
	    (opts->init_path && !s->init_path)) {
		tmpl_store_free(s);
		return st_error_set(err, ENOMEM, "open template store");
	}
	*out = s;
	return 0;
}

void tmpl_store_free(struct tmpl_store *s)
{
	if (!s)
		return;
	free(s->templates_dir);
	free(s->cache_dir);
	free(s->recipes_dir);
	free(s->init_path);
	free(s);
}

int store_lock_name(struct tmpl_store *s, const char *name, struct st_error **err)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int fd = -EBADF;

	if (asprintf(&dir, "%s/%s", s->templates_dir, name) < 0)
		return st_error_set(err, ENOMEM, "lock template %s", name);
	if (cowfs_mkdir_p(dir, 0755, err) < 0)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return st_error_set(err, errno, "open `%s`", dir);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return st_error_set(err, errno, "lock `%s`", dir);
	return take_fd(fd);
}

void store_prune_name(struct tmpl_store *s, const char *name)
{
	_cleanup_free_ char *dir = NULL;

	if (asprintf(&dir, "%s/%s", s->templates_dir, name) >= 0)
		rmdir(dir);
}

static bool all_digits(const char *s)
{
	if (!*s || *s == '0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return strlen(s) < 8;
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return x < y ? -1 : x > y;
}

/* Sorted versions of a template; *n = 0 when it has none. */
static int store_versions(struct tmpl_store *s, const char *name, unsigned **out, size_t *n,
			  struct st_error **err)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_free_ unsigned *v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;

	if (asprintf(&dir, "%s/%s", s->templates_dir, name) < 0)
		return st_error_set(err, ENOMEM, "list template %s", name);
	d = opendir(dir);
	if (!d) {
		if (errno == ENOENT) {
			*out = NULL, *n = 0;
			return 0;
		}
		return st_error_set(err, errno, "list `%s`", dir);
	}
	while ((de = readdir(d))) {
		if (!all_digits(de->d_name))
			continue;
		if (cnt == cap) {
			unsigned *nv = realloc(v, (cap = cap ? cap * 2 : 8) * sizeof(*v));
			if (!nv)
				return st_error_set(err, ENOMEM, "list `%s`", dir);
			v = nv;
		}
		v[cnt++] = (unsigned)strtoul(de->d_name, NULL, 10);
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_uint);
	*out = take_ptr(v);
	*n = cnt;
	return 0;
}

int store_latest(struct tmpl_store *s, const char *name, unsigned *ver, struct st_error **err)
{
	_cleanup_free_ unsigned *v = NULL;
	size_t n;

	if (store_versions(s, name, &v, &n, err) < 0)
		return -1;
	*ver = n ? v[n - 1] : 0;
	return 0;
}

static int load_version(struct tmpl_store *s, const char *name, unsigned ver,
			struct tmpl_manifest *m, struct st_error **err)
{
	_cleanup_free_ char *mf = NULL, *img = NULL;

	if (asprintf(&mf, "%s/%s/%u/manifest.json", s->templates_dir, name, ver) < 0 ||
	    asprintf(&img, "%s/%s/%u/image.sqfs", s->templates_dir, name, ver) < 0)
		return st_error_set(err, ENOMEM, "load template %s@%u", name, ver);
	if (tmpl_manifest_read(mf, m, err) < 0)
		return -1;
	if (strcmp(m->name, name) != 0 || m->version != ver) {
		tmpl_manifest_clear(m);
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "manifest `%s` says %s@%u, not %s@%u", mf, m->name, m->version,
				     name, ver);
	}
	free(m->image);
	m->image = take_ptr(img);
	return 0;
}

int tmpl_find(struct tmpl_store *s, const char *ref, struct tmpl_manifest *out,
	      struct st_error **err)
{
	_cleanup_free_ char *name = NULL, *dir = NULL;
	unsigned ver;
	struct stat st;

	if (tmpl_ref_parse(ref, &name, &ver, err) < 0)
		return -EINVAL;
	if (ver == 0 && store_latest(s, name, &ver, err) < 0)
		return -1;
	if (ver == 0)
		return st_error_setx(err, ST_EXIT_NOTEMPLATE, ENOENT,
				     "template %s not found in `%s`", name, s->templates_dir);
	if (asprintf(&dir, "%s/%s/%u", s->templates_dir, name, ver) < 0)
		return st_error_set(err, ENOMEM, "find %s", ref);
	if (stat(dir, &st) < 0)
		return st_error_setx(err, ST_EXIT_NOTEMPLATE, ENOENT, "template %s@%u not found",
				     name, ver);
	return load_version(s, name, ver, out, err);
}

void tmpl_manifests_free(struct tmpl_manifest *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		tmpl_manifest_clear(&v[i]);
	free(v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int tmpl_list(struct tmpl_store *s, struct tmpl_manifest **out, size_t *nout, struct st_error **err)
{
	_cleanup_closedir_ DIR *d = opendir(s->templates_dir);
	_cleanup_strv_ char **names = NULL;
	struct tmpl_manifest *list = NULL;
	size_t nn = 0, n = 0;
	struct dirent *de;

	*out = NULL, *nout = 0;
	if (!d)
		return errno == ENOENT ? 0
				       : st_error_set(err, errno, "list `%s`", s->templates_dir);
	names = calloc(1, sizeof(char *));
	while (names && (de = readdir(d))) {
		char **nv;

		if (tmpl_name_validate(de->d_name, "template", NULL) < 0)
			continue;
		nv = realloc(names, (nn + 2) * sizeof(char *));
		if (!nv)
			return st_error_set(err, ENOMEM, "list templates");
		names = nv;
		names[nn++] = strdup(de->d_name);
		names[nn] = NULL;
	}
	if (!names)
		return st_error_set(err, ENOMEM, "list templates");
	qsort(names, nn, sizeof(char *), cmp_str);
	for (size_t i = 0; i < nn; i++) {
		_cleanup_free_ unsigned *v = NULL;
		size_t nv;

		if (!names[i] || store_versions(s, names[i], &v, &nv, err) < 0) {
			tmpl_manifests_free(list, n);
			return st_error_set(err, ENOMEM, "list templates");
		}
		for (size_t j = 0; j < nv; j++) {
			struct tmpl_manifest *nl = realloc(list, (n + 1) * sizeof(*list));
			_cleanup_error_ struct st_error *e = NULL;

			if (!nl) {
				tmpl_manifests_free(list, n);
				return st_error_set(err, ENOMEM, "list templates");
			}
			list = nl;
			memset(&list[n], 0, sizeof(list[n]));
			if (load_version(s, names[i], v[j], &list[n], &e) < 0) {
				st_warn("skipping template %s@%u: %s", names[i], v[j], e->msg);
				continue;
			}
			n++;
		}
	}
	*out = list, *nout = n;
	return 0;
}

char *store_stage(struct tmpl_store *s, const char *name, struct st_error **err)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s/.stage-XXXXXX", s->templates_dir, name) < 0) {
		st_error_set(err, ENOMEM, "stage template %s", name);
		return NULL;
	}
	if (!mkdtemp(p)) {
		st_error_set(err, errno, "create staging directory `%s`", p);
		free(p);
		return NULL;
	}
	return p;
}

int store_install(struct tmpl_store *s, const char *stage, struct tmpl_manifest *m,
		  struct st_error **err)
{
	_cleanup_free_ char *img = NULL, *mf = NULL, *final = NULL, *namedir = NULL;
	_cleanup_close_ int dfd = -EBADF;
	struct stat st;

	if (asprintf(&img, "%s/image.sqfs", stage) < 0 ||
	    asprintf(&mf, "%s/manifest.json", stage) < 0 ||
	    asprintf(&namedir, "%s/%s", s->templates_dir, m->name) < 0 ||
	    asprintf(&final, "%s/%u", namedir, m->version) < 0)
		return st_error_set(err, ENOMEM, "install template %s", m->name);
	if (cowfs_squashfs_check(img, err) < 0)
		return -1;
	if (stat(img, &st) < 0)
		return st_error_set(err, errno, "stat `%s`", img);
	if (cowfs_sha256_file(img, m->sha256, err) < 0)
		return -1;
	m->size = (uint64_t)st.st_size;
	m->created = (int64_t)time(NULL);
	/* one syncfs makes the image durable; the manifest fsyncs itself */
	dfd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || syncfs(dfd) < 0)
		return st_error_set(err, errno, "sync `%s`", stage);
	if (tmpl_manifest_write(mf, m, err) < 0)
		return -1;
	if (chmod(stage, 0755) < 0)
		return st_error_set(err, errno, "chmod `%s`", stage);
	if (rename(stage, final) < 0)
		return st_error_set(err, errno, "rename `%s` to `%s`", stage, final);
	closep(&dfd);
	dfd = open(namedir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
	free(m->image);
	if (asprintf(&m->image, "%s/image.sqfs", final) < 0)
		m->image = NULL;
	st_info("template %s@%u installed (%s, %llu bytes)", m->name, m->version, m->sha256,
		(unsigned long long)m->size);
	return 0;
}

int store_mksquashfs(const char *tree, const char *image, bool all_root, struct st_error **err)
{
	const char *argv[] = { "mksquashfs",
			       tree,
			       image,
			       "-comp",
			       "zstd",
			       "-noappend",
			       "-no-progress",
			       "-quiet",
			       all_root ? "-all-root" : NULL,
			       NULL };

	if (cowfs_run(argv, -1, err) < 0)
		return st_error_prefix(err, "make image `%s` from `%s`: ", image, tree);
	return 0;
}

bool store_tree_has_init(const char *tree)
{
	static const char *const cands[] = { "sbin/init", "usr/sbin/init" };
	struct stat st;

	for (size_t i = 0; i < ARRAY_SIZE(cands); i++) {
		_cleanup_free_ char *p = NULL;

		if (asprintf(&p, "%s/%s", tree, cands[i]) >= 0 && lstat(p, &st) == 0 &&
		    !S_ISDIR(st.st_mode))
			return true;
	}
	return false;
}

const char *store_halt_signal(bool has_init, const char *target)
{
	if (!has_init || !target)
		return "SIGTERM";
	if (strstr(target, "systemd"))
		return "SIGRTMIN+3";
	if (strstr(target, "busybox"))
		return "SIGUSR2";
	return "SIGTERM";
}

char *store_tree_init_target(const char *tree)
{
	static const char *const cands[] = { "sbin/init", "usr/sbin/init" };

	for (size_t i = 0; i < ARRAY_SIZE(cands); i++) {
		_cleanup_free_ char *p = NULL;
		char buf[4096];
		ssize_t n;

		if (asprintf(&p, "%s/%s", tree, cands[i]) < 0)
			return NULL;
		n = readlink(p, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = '\0';
			return strdup(buf);
		}
	}
	return NULL;
}

char **store_tree_packages(const char *tree)
{
	_cleanup_free_ char *admin = NULL, *buf = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	char **list = calloc(1, sizeof(char *));
	size_t n = 0, cap = 0;
	const char *argv[] = { "dpkg-query", NULL, "-W", "-f", "${Package} ${Version}\\n", NULL };

	if (!list || asprintf(&admin, "--admindir=%s/var/lib/dpkg", tree) < 0)
		return list;
	argv[1] = admin;
	f = tmpfile();
	if (!f || cowfs_run(argv, fileno(f), NULL) < 0)
		return list;
	rewind(f);
	while (getline(&buf, &cap, f) > 0) {
		char **nl = realloc(list, (n + 2) * sizeof(char *));

		if (!nl)
			break;
		list = nl;
		buf[strcspn(buf, "\n")] = '\0';
		list[n++] = strdup(buf);
		list[n] = NULL;
	}
	return list;
}

/* Is `file` a squashfs image (by its magic)? */
static bool is_squashfs(const char *file)
{
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
	char magic[4];

	return fd >= 0 && pread(fd, magic, 4, 0) == 4 && memcmp(magic, "hsqs", 4) == 0;
}

/* Does the image have sbin/init? Its link target in *target (unsquashfs -lls). */
static bool image_has_init(const char *image, char **target)
{
	_cleanup_fclose_ FILE *f = tmpfile();
	_cleanup_free_ char *line = NULL;
	const char *argv[] = { "unsquashfs", "-lls", "-no-progress", image, NULL };
	size_t cap = 0;

	*target = NULL;
	if (!f || cowfs_run(argv, fileno(f), NULL) < 0)
		return false;
	rewind(f);
	while (getline(&line, &cap, f) > 0) {
		char *p, *arrow;

		line[strcspn(line, "\n")] = '\0';
		p = strstr(line, " squashfs-root/");
		if (!p)
			continue;
		p += strlen(" squashfs-root/");
		arrow = strstr(p, " -> ");
		if (arrow)
			*arrow = '\0';
		if (strcmp(p, "sbin/init") != 0 && strcmp(p, "usr/sbin/init") != 0)
			continue;
		if (arrow)
			*target = strdup(arrow + 4);
		return true;
	}
	return false;
}

int tmpl_import(struct tmpl_store *s, const char *name, const char *file, struct tmpl_manifest *out,
		struct st_error **err)
{
	_cleanup_close_ int lock = -EBADF;
	_cleanup_free_ char *stage = NULL, *img = NULL, *tree = NULL;
	struct tmpl_manifest m = { 0 };
	unsigned latest;
	int r;

	if (tmpl_name_validate(name, "template", err) < 0)
		return -EINVAL;
	if (access(file, R_OK) < 0)
		return st_error_setx(err, ST_EXIT_BADARG, errno, "import `%s`", file);
	lock = store_lock_name(s, name, err);
	if (lock < 0 || store_latest(s, name, &latest, err) < 0)
		return st_error_prefix(err, "import `%s`: ", file);
	stage = store_stage(s, name, err);
	if (!stage)
		return -1;
	if (asprintf(&img, "%s/image.sqfs", stage) < 0 || asprintf(&tree, "%s/rootfs", stage) < 0) {
		cowfs_rm_rf(stage, NULL);
		return st_error_set(err, ENOMEM, "import `%s`", file);
	}
	if (is_squashfs(file)) {
		r = cowfs_squashfs_check(file, err);
		if (r == 0)
			r = cowfs_copy_file(file, img, 0644, err);
		if (r == 0) {
			const char *argv[] = { "unsquashfs", "-s", img, NULL };
			/* a superblock unsquashfs can read */
			r = cowfs_run(argv, -1, err);
		}
		_cleanup_free_ char *target = NULL;

		m.has_init = r == 0 && image_has_init(img, &target);
		m.halt_signal = strdup(store_halt_signal(m.has_init, target));
	} else {
		const char *argv[] = { "tar",	   "-xpf",
				       file,	   "-C",
				       tree,	   "--numeric-owner",
				       "--xattrs", "--xattrs-include=*",
				       NULL };

		r = mkdir(tree, 0755) < 0 ? st_error_set(err, errno, "create `%s`", tree) : 0;
		if (r == 0)
			r = cowfs_run(argv, -1, err);
		if (r == 0)
			r = store_mksquashfs(tree, img, false, err);
		m.has_init = store_tree_has_init(tree);
		{
			_cleanup_free_ char *target = store_tree_init_target(tree);
			m.halt_signal = strdup(store_halt_signal(m.has_init, target));
		}
		if (r == 0)
			m.packages = store_tree_packages(tree);
		if (r == 0)
			r = cowfs_rm_rf(tree, err);
	}
	if (r == 0) {
		m.name = strdup(name);
		m.base = strdup("import");
		if (!m.packages)
			m.packages = calloc(1, sizeof(char *));
		m.version = latest + 1;
		r = store_install(s, stage, &m, err);
	}
	if (r < 0) {
		cowfs_rm_rf(stage, NULL);
		store_prune_name(s, name);
		tmpl_manifest_clear(&m);
		return st_error_prefix(err, "import `%s` as template %s: ", file, name);
	}
	if (out) {
		tmpl_manifest_clear(out);
		*out = m;
	} else {
		tmpl_manifest_clear(&m);
	}
	return 0;
}

int tmpl_export(struct tmpl_store *s, const char *ref, const char *file, struct st_error **err)
{
	struct tmpl_manifest m = { 0 };
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (tmpl_find(s, ref, &m, err) < 0)
		return -1;
	if (asprintf(&tmp, "%s.tmp-XXXXXX", file) < 0) {
		tmpl_manifest_clear(&m);
		return st_error_set(err, ENOMEM, "export %s", ref);
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = st_error_set(err, errno, "export %s to `%s`", ref, file);
		tmpl_manifest_clear(&m);
		return r;
	}
	r = cowfs_copy_file(m.image, tmp, 0644, err);
	if (r == 0 && (fsync(fd) < 0 || rename(tmp, file) < 0))
		r = st_error_set(err, errno, "export %s to `%s`", ref, file);
	if (r < 0)
		unlink(tmp);
	tmpl_manifest_clear(&m);
	return r;
}

int tmpl_remove(struct tmpl_store *s, const char *ref, const char *const *users,
		struct st_error **err)
{
	_cleanup_free_ char *name = NULL, *namedir = NULL, *who = NULL;
	_cleanup_free_ unsigned *v = NULL;
	_cleanup_close_ int lock = -EBADF;
	unsigned ver;
	size_t n = 0, len = 1;

	if (tmpl_ref_parse(ref, &name, &ver, err) < 0)
		return -EINVAL;
	if (users && users[0]) {
		for (size_t i = 0; users[i]; i++)
			len += strlen(users[i]) + 2;
		who = calloc(1, len);
		if (!who)
			return st_error_set(err, ENOMEM, "remove template %s", ref);
		for (size_t i = 0; users[i]; i++) {
			if (i)
				strcat(who, ", ");
			strcat(who, users[i]);
		}
		return st_error_setx(err, ST_EXIT_LOCKED, 0,
				     "remove template %s: used by container%s %s", ref,
				     users[1] ? "s" : "", who);
	}
	lock = store_lock_name(s, name, err);
	if (lock < 0 || store_versions(s, name, &v, &n, err) < 0)
		return st_error_prefix(err, "remove template %s: ", ref);
	if (asprintf(&namedir, "%s/%s", s->templates_dir, name) < 0)
		return st_error_set(err, ENOMEM, "remove template %s", ref);
	{
		bool found = false;

		for (size_t i = 0; i < n; i++) {
			_cleanup_free_ char *dir = NULL, *trash = NULL;

			if (ver && v[i] != ver)
				continue;
			found = true;
			if (asprintf(&dir, "%s/%u", namedir, v[i]) < 0 ||
			    asprintf(&trash, "%s/.trash-%u-%d", namedir, v[i], (int)getpid()) < 0)
				return st_error_set(err, ENOMEM, "remove template %s", ref);
			/* rename first: a half-removed version is never listed */
			if (rename(dir, trash) < 0)
				return st_error_set(err, errno, "remove template `%s`", dir);
			if (cowfs_rm_rf(trash, err) < 0)
				return st_error_prefix(err, "remove template %s: ", ref);
		}
		if (!found && n == 0)
			store_prune_name(s, name);
		if (!found)
			return st_error_setx(err, ST_EXIT_NOTEMPLATE, ENOENT,
					     "remove template %s: not found", ref);
	}
	free(v);
	v = NULL;
	if (store_versions(s, name, &v, &n, NULL) == 0 && n == 0) {
		closep(&lock);
		if (rmdir(namedir) < 0 && errno != ENOTEMPTY && errno != ENOENT)
			st_debug("remove `%s`: %m", namedir);
	}
	st_info("template %s removed", ref);
	return 0;
}
