/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * strata-tmplctl: a developer's handle on the template store and cow-fs
 * without the daemon (for bench/create.sh and by hand). Not installed.
 *
 *   strata-tmplctl [-T templates] [-C cache] [-R recipes] [-r rundir] VERB ...
 *     build NAME | list | find REF | import NAME FILE | export REF FILE
 *     remove REF [USER...] | update NAME
 *     create PRIVATE | create-image PRIVATE BYTES | destroy PRIVATE | clone SRC DST | usage PRIVATE
 *     mount REF CTID PRIVATE TARGET [BASE COUNT] | umount REF CTID TARGET [PRIVATE]
 *     shadows REF PRIVATE...  files each private layer shadows in REF (rebase report)
 *     bench REF N DIR   create+compose N containers under DIR, print timings,
 *                       then decompose (the private areas stay for du)
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cow-fs/cowfs.h"
#include "ksal/cleanup.h"
#include "templates/template.h"

static const char *run_dir = "/run/strata";

static void progress(const char *step, unsigned pct, void *data)
{
	fprintf(stderr, "[%3u%%] %s\n", pct, step);
}

static void print_manifest(const struct tmpl_manifest *m)
{
	size_t np = 0;

	while (m->packages && m->packages[np])
		np++;
	printf("%s@%u\tparent=%u\tsha256=%s\tsize=%llu\tinit=%s\thalt=%s\tbase=%s\tpackages=%zu"
	       "\t%s\n",
	       m->name, m->version, m->parent_version, m->sha256, (unsigned long long)m->size,
	       m->has_init ? "yes" : "no", m->halt_signal ? m->halt_signal : "SIGTERM", m->base, np,
	       m->image);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int layer(struct tmpl_store *s, const char *ref, const char *user, bool up,
		 struct tmpl_manifest *m, char **mnt, struct st_error **err)
{
	struct cowfs_layer_ref r = { 0 };
	enum cowfs_mount_mode mode = COWFS_MOUNT_AUTO;

	if (tmpl_find(s, ref, m, err) < 0)
		return -1;
	cowfs_mount_mode_parse(getenv("TEMPLATE_MOUNT"), &mode);
	*mnt = tmpl_mount_dir(run_dir, m);
	r.image = m->image, r.sha256 = m->sha256, r.mnt_dir = *mnt, r.user = user, r.mode = mode;
	return up ? cowfs_layer_acquire(&r, err) : cowfs_layer_release(&r, err);
}

static int bench(struct tmpl_store *s, const char *ref, int n, const char *dir,
		 struct st_error **err)
{
	struct tmpl_manifest m = { 0 };
	_cleanup_free_ char *mnt = NULL;
	double t0, t1, t2, t3;
	int r = 0;

	if (layer(s, ref, "bench", true, &m, &mnt, err) < 0)
		return -1;
	t0 = now_ms();
	for (int i = 0; i < n && r == 0; i++) {
		_cleanup_free_ char *p = NULL;

		if (asprintf(&p, "%s/private/%d", dir, i) < 0)
			return -ENOMEM;
		r = cowfs_private_create(p, err);
	}
	t1 = now_ms();
	for (int i = 0; i < n && r == 0; i++) {
		_cleanup_free_ char *p = NULL, *t = NULL;
		const char *lowers[] = { mnt, NULL };
		struct cowfs_compose c = { .lowers = lowers };

		if (asprintf(&p, "%s/private/%d", dir, i) < 0 ||
		    asprintf(&t, "%s/root/%d", dir, i) < 0)
			return -ENOMEM;
		c.private_dir = p, c.target = t;
		r = cowfs_root_compose(&c, err);
	}
	t2 = now_ms();
	if (r == 0) {
		_cleanup_free_ char *p = NULL;

		if (asprintf(&p, "%s/private", dir) < 0)
			return -ENOMEM;
		r = cowfs_private_sync(p, err);
	}
	t3 = now_ms();
	printf("create %d: %.3f ms each; compose: %.3f ms each; one syncfs: %.1f ms\n", n,
	       (t1 - t0) / n, (t2 - t1) / n, t3 - t2);
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *t = NULL;

		if (asprintf(&t, "%s/root/%d", dir, i) >= 0)
			cowfs_root_decompose(t, NULL);
	}
	printf("decompose %d: %.3f ms each\n", n, (now_ms() - t3) / n);
	layer(s, ref, "bench", false, &m, &mnt, NULL);
	tmpl_manifest_clear(&m);
	return r;
}

int main(int argc, char **argv)
{
	struct tmpl_store_opts o = { .recipes_dir = getenv("STRATA_RECIPES") };
	_cleanup_tmpl_store_ struct tmpl_store *s = NULL;
	_cleanup_error_ struct st_error *err = NULL;
	struct tmpl_manifest m = { 0 };
	const char *verb;
	int c, r = -1;

	while ((c = getopt(argc, argv, "+T:C:R:r:")) != -1) {
		switch (c) {
		case 'T':
			o.templates_dir = optarg;
			break;
		case 'C':
			o.cache_dir = optarg;
			break;
		case 'R':
			o.recipes_dir = optarg;
			break;
		case 'r':
			run_dir = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr,
			"usage: strata-tmplctl [-T dir] [-C dir] [-R dir] [-r dir] VERB ...\n");
		return 2;
	}
	if (!o.recipes_dir)
		o.recipes_dir = STRATA_RECIPES_SRC;
	verb = argv[optind++];
	argc -= optind, argv += optind;
	if (tmpl_store_open(&o, &s, &err) < 0)
		goto out;
#define NEED(k)                                                                                    \
	do {                                                                                       \
		if (argc < (k)) {                                                                  \
			fprintf(stderr, "%s: needs %d arguments\n", verb, k);                      \
			return 2;                                                                  \
		}                                                                                  \
	} while (0)
	if (!strcmp(verb, "build")) {
		NEED(1);
		r = tmpl_build(s, argv[0], progress, NULL, &m, &err);
		if (r == 0)
			print_manifest(&m);
	} else if (!strcmp(verb, "update")) {
		NEED(1);
		r = tmpl_update(s, argv[0], progress, NULL, &m, &err);
		if (r == 0)
			print_manifest(&m);
	} else if (!strcmp(verb, "list")) {
		struct tmpl_manifest *v = NULL;
		size_t n = 0;

		r = tmpl_list(s, &v, &n, &err);
		for (size_t i = 0; r == 0 && i < n; i++)
			print_manifest(&v[i]);
		tmpl_manifests_free(v, n);
	} else if (!strcmp(verb, "find")) {
		NEED(1);
		r = tmpl_find(s, argv[0], &m, &err);
		if (r == 0)
			print_manifest(&m);
	} else if (!strcmp(verb, "import")) {
		NEED(2);
		r = tmpl_import(s, argv[0], argv[1], &m, &err);
		if (r == 0)
			print_manifest(&m);
	} else if (!strcmp(verb, "export")) {
		NEED(2);
		r = tmpl_export(s, argv[0], argv[1], &err);
	} else if (!strcmp(verb, "remove")) {
		NEED(1);
		r = tmpl_remove(s, argv[0], (const char *const *)argv + 1, &err);
	} else if (!strcmp(verb, "create")) {
		NEED(1);
		r = cowfs_private_create(argv[0], &err);
	} else if (!strcmp(verb, "create-image")) {
		NEED(2);
		r = cowfs_private_create_image(argv[0], strtoull(argv[1], NULL, 10), &err);
	} else if (!strcmp(verb, "destroy")) {
		NEED(1);
		r = cowfs_private_destroy(argv[0], &err);
	} else if (!strcmp(verb, "clone")) {
		NEED(2);
		r = cowfs_private_clone(argv[0], argv[1], &err);
	} else if (!strcmp(verb, "usage")) {
		uint64_t b = 0, i = 0;

		NEED(1);
		r = cowfs_private_usage(argv[0], &b, &i, &err);
		if (r == 0)
			printf("%llu bytes %llu inodes\n", (unsigned long long)b,
			       (unsigned long long)i);
	} else if (!strcmp(verb, "mount")) {
		_cleanup_free_ char *mnt = NULL;

		NEED(4);
		r = layer(s, argv[0], argv[1], true, &m, &mnt, &err);
		if (r == 0) {
			const char *lowers[] = { mnt, NULL };
			struct cowfs_compose cc = {
				.lowers = lowers,
				.private_dir = argv[2],
				.target = argv[3],
				.idmap_base = argc > 5 ? (uint32_t)strtoul(argv[4], NULL, 10) : 0,
				.idmap_count = argc > 5 ? (uint32_t)strtoul(argv[5], NULL, 10) : 0,
			};
			r = cowfs_root_compose(&cc, &err);
			if (r < 0)
				layer(s, argv[0], argv[1], false, &m, &mnt, NULL);
		}
	} else if (!strcmp(verb, "umount")) {
		_cleanup_free_ char *mnt = NULL;

		NEED(3);
		r = cowfs_root_decompose(argv[2], &err);
		if (r == 0)
			r = layer(s, argv[0], argv[1], false, &m, &mnt, &err);
		if (r == 0 && argc > 3) /* PRIVATE: close an image-layout area */
			r = cowfs_private_close(argv[3], &err);
	} else if (!strcmp(verb, "shadows")) {
		_cleanup_free_ char *mnt = NULL;

		NEED(2);
		r = layer(s, argv[0], "shadows", true, &m, &mnt, &err);
		for (int i = 1; r == 0 && i < argc; i++) {
			const char *lowers[] = { mnt, NULL };
			char **paths = NULL;
			size_t n = 0;

			r = cowfs_private_shadows(argv[i], lowers, &paths, &n, &err);
			for (size_t k = 0; r == 0 && k < n; k++)
				printf("%s\t%s\n", argv[i], paths[k]);
			strv_free(paths);
		}
		if (mnt)
			layer(s, argv[0], "shadows", false, &m, &mnt, NULL);
	} else if (!strcmp(verb, "bench")) {
		NEED(3);
		r = bench(s, argv[0], atoi(argv[1]), argv[2], &err);
	} else {
		fprintf(stderr, "unknown verb `%s`\n", verb);
		return 2;
	}
out:
	tmpl_manifest_clear(&m);
	if (r < 0) {
		fprintf(stderr, "strata-tmplctl: %s\n", err ? err->msg : "failed");
		return st_error_exit(err);
	}
	return 0;
}
