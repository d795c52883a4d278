/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The builder: recipe -> root tree -> squashfs image + manifest, and
 * template update (version N+1 from N by the distribution's upgrade).
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cow-fs/cowfs.h"
#include "cow-fs/fsutil.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "templates/recipe.h"
#include "templates/store-internal.h"

#define BUSYBOX_PATH "/bin/busybox"

static const char BUSYBOX_INITTAB[] =
	"# Strata busybox: run /etc/strata/rc if present, halt on the stop signal.\n"
	"::sysinit:/bin/sh -c 'test -x /etc/strata/rc && exec /etc/strata/rc'\n"
	"::shutdown:/bin/sh -c 'kill -TERM -1; sleep 1; kill -KILL -1'\n";

static int tree_file(const char *tree, const char *rel, const char *text, mode_t mode,
		     struct st_error **err)
{
	_cleanup_free_ char *p = NULL;

	if (asprintf(&p, "%s/%s", tree, rel) < 0)
		return st_error_set(err, ENOMEM, "write `%s`", rel);
	return cowfs_write_file(p, text, mode, err);
}

static int busybox_tree(const char *tree, struct st_error **err)
{
	static const char *const dirs[] = { "bin",     "sbin",	     "usr",  "usr/bin", "usr/sbin",
					    "etc",     "etc/strata", "proc", "sys",	"dev",
					    "tmp",     "root",	     "run",  "var",	"var/log",
					    "var/tmp", "home",	     "mnt" };
	_cleanup_fclose_ FILE *list = tmpfile();
	_cleanup_free_ char *line = NULL, *bb = NULL;
	const char *argv[] = { BUSYBOX_PATH, "--list-full", NULL };
	size_t cap = 0;

	if (access(BUSYBOX_PATH, X_OK) < 0)
		return st_error_setx(err, ST_EXIT_NOFEATURE, errno,
				     "build busybox template: `%s` (install busybox-static)",
				     BUSYBOX_PATH);
	if (mkdir(tree, 0755) < 0)
		return st_error_set(err, errno, "create `%s`", tree);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		_cleanup_free_ char *d = NULL;
		mode_t mode = !strcmp(dirs[i], "tmp") || !strcmp(dirs[i], "var/tmp") ? 01777
			      : !strcmp(dirs[i], "root")			     ? 0700
										     : 0755;

		if (asprintf(&d, "%s/%s", tree, dirs[i]) < 0)
			return st_error_set(err, ENOMEM, "build busybox tree");
		if (mkdir(d, mode) < 0 || chmod(d, mode) < 0)
			return st_error_set(err, errno, "create `%s`", d);
	}
	if (asprintf(&bb, "%s/bin/busybox", tree) < 0)
		return st_error_set(err, ENOMEM, "build busybox tree");
	if (cowfs_copy_file(BUSYBOX_PATH, bb, 0755, err) < 0)
		return -1;
	if (!list || cowfs_run(argv, fileno(list), err) < 0)
		return st_error_prefix(err, "list busybox applets: ");
	rewind(list);
	while (getline(&line, &cap, list) > 0) {
		_cleanup_free_ char *link = NULL;

		line[strcspn(line, "\n")] = '\0';
		if (!*line || line[0] == '/' || strstr(line, "..") || !strcmp(line, "bin/busybox"))
			continue;
		if (asprintf(&link, "%s/%s", tree, line) < 0)
			return st_error_set(err, ENOMEM, "build busybox tree");
		if (symlink("/bin/busybox", link) < 0 && errno != EEXIST)
			return st_error_set(err, errno, "link applet `%s`", link);
	}
	if (tree_file(tree, "etc/passwd",
		      "root:x:0:0:root:/root:/bin/sh\n"
		      "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		      0644, err) < 0 ||
	    tree_file(tree, "etc/group", "root:x:0:\nnogroup:x:65534:\n", 0644, err) < 0 ||
	    tree_file(tree, "etc/shadow", "root:*:19000:0:99999:7:::\n", 0600, err) < 0 ||
	    tree_file(tree, "etc/hostname", "strata\n", 0644, err) < 0 ||
	    tree_file(tree, "etc/hosts", "127.0.0.1 localhost\n::1 localhost\n", 0644, err) < 0 ||
	    tree_file(tree, "etc/os-release",
		      "NAME=\"Strata busybox\"\nID=strata-busybox\nPRETTY_NAME=\"Strata busybox\"\n"
		      "HOME_URL=\"https://busybox.net/\"\n",
		      0644, err) < 0 ||
	    tree_file(tree, "etc/inittab", BUSYBOX_INITTAB, 0644, err) < 0)
		return -1;
	{
		/* /sbin/init is in --list-full; make sure it is there */
		_cleanup_free_ char *init = NULL;

		if (asprintf(&init, "%s/sbin/init", tree) < 0)
			return st_error_set(err, ENOMEM, "build busybox tree");
		if (symlink("/bin/busybox", init) < 0 && errno != EEXIST)
			return st_error_set(err, errno, "link `%s`", init);
	}
	return 0;
}

/* The first deb URI of the host's apt sources (deb822 first, then one-line). */
static char *host_mirror(void)
{
	glob_t g = { 0 };
	char *uri = NULL;

	if (glob("/etc/apt/sources.list.d/*.sources", 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc && !uri; i++) {
			_cleanup_fclose_ FILE *f = fopen(g.gl_pathv[i], "re");
			_cleanup_free_ char *line = NULL;
			size_t cap = 0;

			while (f && !uri && getline(&line, &cap, f) > 0) {
				char u[512];

				if (sscanf(line, "URIs: %511s", u) == 1 &&
				    !strstr(line, "security"))
					uri = strdup(u);
			}
		}
	}
	globfree(&g);
	if (!uri) {
		_cleanup_fclose_ FILE *f = fopen("/etc/apt/sources.list", "re");
		_cleanup_free_ char *line = NULL;
		size_t cap = 0;

		while (f && !uri && getline(&line, &cap, f) > 0) {
			char u[512];

			if (sscanf(line, "deb %511s", u) == 1 && u[0] != '[' &&
			    !strstr(u, "security"))
				uri = strdup(u);
		}
	}
	return uri;
}

static char *join_packages(char *const *p)
{
	size_t len = 1;
	char *s;

	for (char *const *q = p; *q; q++)
		len += strlen(*q) + 1;
	s = calloc(1, len);
	for (char *const *q = p; s && *q; q++) {
		if (q != p)
			strcat(s, ",");
		strcat(s, *q);
	}
	return s;
}

static int run_post(const char *tree, const char *post, struct st_error **err)
{
	const char *argv[] = { "/bin/sh", "-c", post, NULL };

	if (cowfs_run_chroot(tree, argv, -1, err) < 0)
		return st_error_prefix(err, "POST in `%s`: ", tree);
	return 0;
}

/* The cached debootstrap tree for this recipe, made if missing. */
static int debian_tree(struct tmpl_store *s, const char *name, const struct tmpl_recipe *r,
		       char **out, tmpl_progress_fn progress, void *data, struct st_error **err)
{
	_cleanup_free_ char *cache = NULL, *tmp = NULL, *mirror = NULL, *pk = NULL, *variant = NULL,
			    *include = NULL;
	struct stat st;

	if (asprintf(&cache, "%s/rootfs/%s-%.16s", s->cache_dir, name, r->hash) < 0)
		return st_error_set(err, ENOMEM, "build %s", name);
	if (stat(cache, &st) == 0 && S_ISDIR(st.st_mode)) {
		progress_step(progress, data, "using cached rootfs", 60);
		*out = take_ptr(cache);
		return 0;
	}
	mirror = host_mirror();
	if (!mirror)
		return st_error_setx(err, ST_EXIT_CONFIG, 0,
				     "build %s: no deb URI in /etc/apt/sources.list(.d)", name);
	if (asprintf(&tmp, "%s.tmp-%d", cache, (int)getpid()) < 0 ||
	    asprintf(&variant, "--variant=%s", r->variant) < 0)
		return st_error_set(err, ENOMEM, "build %s", name);
	if (cowfs_rm_rf(tmp, err) < 0 || cowfs_mkdir_p(tmp, 0755, err) < 0)
		return -1;
	pk = join_packages(r->packages);
	if (pk && *pk && asprintf(&include, "--include=%s", pk) < 0)
		return st_error_set(err, ENOMEM, "build %s", name);
	progress_step(progress, data, "debootstrap", 10);
	{
		const char *argv[8];
		size_t a = 0;

		argv[a++] = "debootstrap";
		argv[a++] = variant;
		if (include)
			argv[a++] = include;
		argv[a++] = r->suite;
		argv[a++] = tmp;
		argv[a++] = mirror;
		argv[a] = NULL;
		/* its own mount namespace: debootstrap's /proc mounts never leak */
		if (cowfs_run_private(argv, -1, err) < 0) {
			cowfs_rm_rf(tmp, NULL);
			return st_error_prefix(err, "build %s: debootstrap %s from %s: ", name,
					       r->suite, mirror);
		}
	}
	if (r->post) {
		progress_step(progress, data, "post-install script", 55);
		if (run_post(tmp, r->post, err) < 0) {
			cowfs_rm_rf(tmp, NULL);
			return st_error_prefix(err, "build %s: ", name);
		}
	}
	if (rename(tmp, cache) < 0) {
		int e = errno;
		cowfs_rm_rf(tmp, NULL);
		return st_error_set(err, e, "rename `%s` to `%s`", tmp, cache);
	}
	*out = take_ptr(cache);
	return 0;
}

/* An image without an init gets an empty /sbin/strata-init (0755), the
 * target the runtime bind-mounts Strata's minimal init on at start; or the
 * init itself when the store was opened with init_path. */
static int add_init_target(struct tmpl_store *s, const char *tree, struct st_error **err)
{
	_cleanup_free_ char *sbin = NULL, *target = NULL;
	struct stat st;

	if (asprintf(&sbin, "%s/sbin", tree) < 0)
		return st_error_set(err, ENOMEM, "add init");
	if (lstat(sbin, &st) == 0 && S_ISLNK(st.st_mode)) { /* merged /usr */
		free(sbin);
		if (asprintf(&sbin, "%s/usr/sbin", tree) < 0)
			return st_error_set(err, ENOMEM, "add init");
	}
	if (asprintf(&target, "%s/strata-init", sbin) < 0)
		return st_error_set(err, ENOMEM, "add init");
	if (s->init_path)
		return cowfs_copy_file(s->init_path, target, 0755, err);
	return cowfs_write_file(target, "", 0755, err);
}

int tmpl_build(struct tmpl_store *s, const char *name, tmpl_progress_fn progress, void *data,
	       struct tmpl_manifest *out, struct st_error **err)
{
	_cleanup_free_ char *path = NULL, *stage = NULL, *img = NULL, *tree = NULL;
	_cleanup_close_ int lock = -EBADF;
	struct tmpl_recipe r = { 0 };
	struct tmpl_manifest m = { 0 };
	bool busybox;
	unsigned latest;
	int ret = 0;

	if (tmpl_name_validate(name, "template", err) < 0)
		return -EINVAL;
	if (asprintf(&path, "%s/%s.recipe", s->recipes_dir, name) < 0)
		return st_error_set(err, ENOMEM, "build %s", name);
	if (tmpl_recipe_load(path, &r, err) < 0)
		return st_error_prefix(err, "build %s: ", name);
	busybox = r.base == TMPL_BASE_BUSYBOX;
	progress_step(progress, data, "recipe read", 1);
	lock = store_lock_name(s, name, err);
	if (lock < 0 || store_latest(s, name, &latest, err) < 0 ||
	    !(stage = store_stage(s, name, err))) {
		tmpl_recipe_clear(&r);
		return st_error_prefix(err, "build %s: ", name);
	}
	if (asprintf(&img, "%s/image.sqfs", stage) < 0) {
		ret = st_error_set(err, ENOMEM, "build %s", name);
	} else if (busybox) {
		if (asprintf(&tree, "%s/rootfs", stage) < 0)
			ret = st_error_set(err, ENOMEM, "build %s", name);
		else
			ret = busybox_tree(tree, err);
		if (ret == 0 && r.post)
			ret = run_post(tree, r.post, err);
	} else {
		ret = debian_tree(s, name, &r, &tree, progress, data, err);
	}
	if (ret == 0) {
		_cleanup_free_ char *target = store_tree_init_target(tree);

		m.has_init = store_tree_has_init(tree);
		m.halt_signal = strdup(store_halt_signal(m.has_init, target));
		if (!m.has_init)
			ret = add_init_target(s, tree, err);
	}
	if (ret == 0) {
		progress_step(progress, data, "mksquashfs", 70);
		ret = store_mksquashfs(tree, img, busybox, err);
	}
	if (ret == 0 && busybox) {
		ret = cowfs_rm_rf(tree, err);
		m.packages = calloc(2, sizeof(char *));
		if (m.packages) {
			_cleanup_fclose_ FILE *f = tmpfile();
			const char *argv[] = {
				"dpkg-query",	  "-W", "-f", "${Package} ${Version}",
				"busybox-static", NULL
			};
			char buf[256] = "busybox-static";

			if (f && cowfs_run(argv, fileno(f), NULL) == 0) {
				rewind(f);
				if (!fgets(buf, sizeof(buf), f))
					snprintf(buf, sizeof(buf), "busybox-static");
			}
			m.packages[0] = strdup(buf);
		}
	} else if (ret == 0) {
		m.packages = store_tree_packages(tree);
	}
	if (ret == 0) {
		progress_step(progress, data, "hash and install", 90);
		m.name = strdup(name);
		m.base = strdup(tmpl_base_name(r.base));
		m.recipe_hash = strdup(r.hash);
		m.version = latest + 1;
		if (!m.packages)
			m.packages = calloc(1, sizeof(char *));
		ret = store_install(s, stage, &m, err);
	}
	tmpl_recipe_clear(&r);
	if (ret < 0) {
		cowfs_rm_rf(stage, NULL);
		store_prune_name(s, name);
		tmpl_manifest_clear(&m);
		return st_error_prefix(err, "build %s: ", name);
	}
	progress_step(progress, data, "done", 100);
	if (out) {
		tmpl_manifest_clear(out);
		*out = m;
	} else {
		tmpl_manifest_clear(&m);
	}
	return 0;
}

/* Unpack cur into stage/rootfs, upgrade it, pack stage/image.sqfs, fill m. */
static int update_stage(struct tmpl_store *s, const struct tmpl_manifest *cur, const char *stage,
			struct tmpl_manifest *m, tmpl_progress_fn progress, void *data,
			struct st_error **err)
{
	_cleanup_free_ char *img = NULL, *tree = NULL, *resolv = NULL;
	const char *unpack[] = { "unsquashfs", "-d", NULL, "-no-progress", cur->image, NULL };
	const char *upgrade[] = {
		"/bin/sh", "-c",
		"apt-get update -qq && apt-get -y -qq -o Dpkg::Options::=--force-confold "
		"upgrade && apt-get clean && rm -rf /var/lib/apt/lists/*",
		NULL
	};
	unsigned latest;
	int r;

	if (asprintf(&img, "%s/image.sqfs", stage) < 0 || asprintf(&tree, "%s/rootfs", stage) < 0 ||
	    asprintf(&resolv, "%s/rootfs/etc/resolv.conf", stage) < 0)
		return st_error_set(err, ENOMEM, "update %s", cur->name);
	unpack[2] = tree;
	progress_step(progress, data, "unpack current version", 5);
	if (cowfs_run(unpack, -1, err) < 0)
		return -1;
	/* name resolution for apt, removed again after */
	unlink(resolv);
	if (cowfs_copy_file("/etc/resolv.conf", resolv, 0644, err) < 0)
		return -1;
	progress_step(progress, data, "apt-get upgrade", 20);
	r = cowfs_run_chroot(tree, upgrade, -1, err);
	unlink(resolv);
	if (r < 0)
		return r;
	m->has_init = store_tree_has_init(tree);
	{
		_cleanup_free_ char *target = store_tree_init_target(tree);
		m->halt_signal = strdup(store_halt_signal(m->has_init, target));
	}
	m->packages = store_tree_packages(tree);
	progress_step(progress, data, "mksquashfs", 70);
	if (store_mksquashfs(tree, img, false, err) < 0 || cowfs_rm_rf(tree, err) < 0)
		return -1;
	if (store_latest(s, cur->name, &latest, err) < 0)
		return -1;
	m->name = strdup(cur->name);
	m->base = strdup(cur->base);
	m->recipe_hash = cur->recipe_hash ? strdup(cur->recipe_hash) : NULL;
	m->version = latest + 1;
	m->parent_version = cur->version;
	if (!m->name || !m->base)
		return st_error_set(err, ENOMEM, "update %s", cur->name);
	progress_step(progress, data, "hash and install", 90);
	return store_install(s, stage, m, err);
}

int tmpl_update(struct tmpl_store *s, const char *name, tmpl_progress_fn progress, void *data,
		struct tmpl_manifest *out, struct st_error **err)
{
	_cleanup_free_ char *stage = NULL;
	_cleanup_close_ int lock = -EBADF;
	struct tmpl_manifest cur = { 0 }, m = { 0 };
	int ret;

	if (tmpl_find(s, name, &cur, err) < 0)
		return st_error_prefix(err, "update %s: ", name);
	if (strcmp(cur.base, "debootstrap") != 0) {
		ret = st_error_setx(err, ST_EXIT_BADARG, 0,
				    "update %s: %s@%u is not a Debian template (base %s); rebuild "
				    "it instead",
				    name, cur.name, cur.version, cur.base);
		tmpl_manifest_clear(&cur);
		return ret;
	}
	lock = store_lock_name(s, cur.name, err);
	if (lock >= 0)
		stage = store_stage(s, cur.name, err);
	ret = stage ? update_stage(s, &cur, stage, &m, progress, data, err) : -1;
	tmpl_manifest_clear(&cur);
	if (ret < 0) {
		if (stage)
			cowfs_rm_rf(stage, NULL);
		tmpl_manifest_clear(&m);
		return st_error_prefix(err, "update %s: ", name);
	}
	progress_step(progress, data, "done", 100);
	if (out) {
		tmpl_manifest_clear(out);
		*out = m;
	} else {
		tmpl_manifest_clear(&m);
	}
	return 0;
}
