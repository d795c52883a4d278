/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * strata check [--json] [--criu PATH] [--state-dir DIR] [--config FILE]
 *
 * What this host can do and what Strata will use, from the ksal feature
 * probe. Runs in the client itself: no daemon needed. Exit 0 when every
 * required feature is there, ST_EXIT_NOFEATURE naming what is missing
 * otherwise. CRIU_PATH and STATE_DIR come from strata.conf (as the daemon
 * reads them) unless given on the command line.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "cli/commands.h"
#include "ksal/cleanup.h"
#include "ksal/criu.h"
#include "ksal/error.h"
#include "ksal/probe.h"

static void check_usage(FILE *out)
{
	fputs("Usage: strata check [--json] [--criu PATH] [--state-dir DIR] [--config FILE]\n"
	      "\n"
	      "Probe this host's kernel features and print what Strata will use.\n"
	      "Exits 0 when every required feature is present, 100 otherwise.\n"
	      "\n"
	      "  --json           one JSON object, one entry per feature\n"
	      "  --criu PATH      the CRIU binary to check (default: $CRIU_PATH or " STRATA_CRIU_DEFAULT
	      ")\n"
	      "  --state-dir DIR  where idmapped mounts are tried (default: STATE_DIR or " STRATA_LOCALSTATEDIR
	      ")\n"
	      "  --config FILE    strata.conf to read CRIU_PATH and STATE_DIR from\n"
	      "                   (default: " STRATA_SYSCONFDIR "/strata.conf, if present)\n",
	      out);
}

/*
 * The value of KEY in a strata.conf (KEY=value or KEY="value" lines, #
 * comments), malloc'd; NULL if the file or the key is not there.
 */
static char *conf_value(const char *path, const char *key)
{
	_cleanup_fclose_ FILE *fp = fopen(path, "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0, klen = strlen(key);
	char *val = NULL;

	if (!fp)
		return NULL;
	while (getline(&line, &cap, fp) > 0) {
		char *p = line + strspn(line, " \t"), *end;

		if (strncmp(p, key, klen) != 0 || p[klen] != '=')
			continue;
		p += klen + 1;
		p[strcspn(p, "\n")] = '\0';
		end = p + strlen(p);
		if (end - p >= 2 && (*p == '"' || *p == '\'') && end[-1] == *p) {
			p++;
			end[-1] = '\0';
		}
		free(val);
		val = strdup(p); /* the last one wins, as in the daemon */
	}
	if (val && !*val) {
		free(val);
		val = NULL;
	}
	return val;
}

/* What Strata will use on this host, derived from the probe: one line per
 * mechanism chosen at start (STYLE.md: a backend is chosen once, by the
 * probe). */
struct use {
	const char *what;
	char text[256];
};

enum {
	USE_CGROUPS,
	USE_START,
	USE_MOUNTS,
	USE_TEMPLATES,
	USE_USERNS,
	USE_CHECKPOINT,
	USE_MIGRATION,
	USE__COUNT
};

static void set_use(struct use *u, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_use(struct use *u, const char *what, const char *fmt, ...)
{
	va_list ap;
	int r;

	u->what = what;
	va_start(ap, fmt);
	r = vsnprintf(u->text, sizeof(u->text), fmt, ap);
	va_end(ap);
	if (r < 0)
		u->text[0] = '\0';
}

/* CRIU reads other uids' rlimits only with CAP_SYS_RESOURCE (checkpoint area). */
static bool have_cap_sys_resource(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned long long eff;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			return eff & (1ULL << 24); /* CAP_SYS_RESOURCE */
	return false;
}

static void compute_uses(const struct ksal_features *f, struct use u[USE__COUNT])
{
	const struct ksal_cgroup_info *cg = &f->cgroup;
	char vs[32];

	if (!cg->found)
		set_use(&u[USE_CGROUPS], "cgroups", "none (no cgroup hierarchy)");
	else if (cg->layout == KSAL_CG_V2)
		set_use(&u[USE_CGROUPS], "cgroups", "v2 backend at %s", cg->unified);
	else
		set_use(&u[USE_CGROUPS], "cgroups", "v1 backend (%s)%s%s",
			ksal_probe_layout_name(cg->layout),
			cg->layout == KSAL_CG_HYBRID ? ", plus the cgroup2 hierarchy at " : "",
			cg->layout == KSAL_CG_HYBRID ? cg->unified : "");
	set_use(&u[USE_START], "start", "%s%s",
		ksal_has(f, KSAL_FEAT_CLONE3) ? "clone3 with CLONE_PIDFD" : "clone + pidfd_open",
		ksal_has(f, KSAL_FEAT_CLONE_INTO_CGROUP) && cg->layout == KSAL_CG_V2
			? " and CLONE_INTO_CGROUP"
			: ", then cgroup.procs writes");
	set_use(&u[USE_MOUNTS], "mounts", "%s",
		ksal_has(f, KSAL_FEAT_MOUNT_API) ? "new mount API (fsopen, open_tree, move_mount)"
						 : "mount(2)");
	set_use(&u[USE_TEMPLATES], "templates", "%s",
		ksal_has(f, KSAL_FEAT_SQUASHFS)	    ? "kernel squashfs on a loop device"
		: ksal_has(f, KSAL_FEAT_SQUASHFUSE) ? "squashfuse"
						    : "none: cannot mount templates");
	set_use(&u[USE_USERNS], "user namespaces", "%s",
		!ksal_has(f, KSAL_FEAT_NS_USER)		? "unavailable: privileged containers only"
		: ksal_has(f, KSAL_FEAT_IDMAP_SQUASHFS) ? "idmapped template mounts"
							: "a chowned copy of the template");
	/* checkpoint area: can containers be suspended here, and with what limit */
	if (ksal_has(f, KSAL_FEAT_CRIU) && !ksal_has(f, KSAL_FEAT_CGROUP_FREEZER))
		set_use(&u[USE_CHECKPOINT], "checkpoint",
			"unavailable for containers: CRIU %s works but there is no freezer "
			"cgroup to stop them consistently",
			ksal_criu_version_str(f->criu_version, vs, sizeof(vs)));
	else if (ksal_has(f, KSAL_FEAT_CRIU))
		set_use(&u[USE_CHECKPOINT], "checkpoint",
			"suspend/resume of containers with CRIU %s at %s%s",
			ksal_criu_version_str(f->criu_version, vs, sizeof(vs)), f->criu_path,
			have_cap_sys_resource()
				? ""
				: "; without CAP_SYS_RESOURCE, services running as non-root "
				  "users checkpoint only in user-namespaced containers");
	else
		set_use(&u[USE_CHECKPOINT], "checkpoint", "unavailable (no working CRIU 4.2+)");
	if (!ksal_has(f, KSAL_FEAT_CRIU))
		set_use(&u[USE_MIGRATION], "migration", "unavailable (no working CRIU 4.2+)");
	else if (ksal_has(f, KSAL_FEAT_USERFAULTFD) && ksal_has(f, KSAL_FEAT_PIPE_MAX_SIZE))
		set_use(&u[USE_MIGRATION], "migration", "post-copy (lazy pages)%s",
			ksal_has(f, KSAL_FEAT_SOFT_DIRTY) ? " or iterative pre-copy" : "");
	else if (ksal_has(f, KSAL_FEAT_USERFAULTFD))
		set_use(&u[USE_MIGRATION], "migration",
			"dump, copy, restore (post-copy after sysctl fs.pipe-max-size=4194304)");
	else
		set_use(&u[USE_MIGRATION], "migration", "dump, copy, restore%s",
			ksal_has(f, KSAL_FEAT_SOFT_DIRTY) ? " with iterative pre-copy" : "");
}

static json_t *features_json(const struct ksal_features *f, const struct st_error *missing)
{
	json_t *root = json_object(), *feats = json_object(), *miss = json_array();
	json_t *uses = json_object();
	struct use u[USE__COUNT];
	char vs[32];

	if (!root || !feats || !miss || !uses) {
		json_decref(root);
		json_decref(feats);
		json_decref(miss);
		json_decref(uses);
		return NULL;
	}
	compute_uses(f, u);
	for (int i = 0; i < USE__COUNT; i++)
		json_object_set_new(uses, u[i].what, json_string(u[i].text));
	for (int i = 0; i < KSAL_FEAT__COUNT; i++) {
		const struct ksal_feature *e = &f->entry[i];

		json_object_set_new(feats, e->key,
				    json_pack("{s:s, s:b, s:b, s:s}", "name", e->name, "available",
					      e->available, "required", e->required, "detail",
					      e->detail));
		if (e->required && !e->available)
			json_array_append_new(miss, json_string(e->key));
	}
	json_object_set_new(root, "ok", json_boolean(!missing));
	json_object_set_new(root, "features", feats);
	json_object_set_new(root, "missing", miss);
	json_object_set_new(root, "uses", uses);
	json_object_set_new(root, "cgroup_layout",
			    f->cgroup.found ? json_string(ksal_probe_layout_name(f->cgroup.layout))
					    : json_null());
	json_object_set_new(root, "criu",
			    json_pack("{s:s, s:s, s:i, s:b}", "path",
				      f->criu_path ? f->criu_path : "", "version",
				      ksal_criu_version_str(f->criu_version, vs, sizeof(vs)),
				      "version_code", f->criu_version, "check", f->criu_check_ok));
	json_object_set_new(root, "state_dir", json_string(f->state_dir));
	json_object_set_new(root, "elapsed_ms", json_real(f->elapsed_ms));
	return root;
}

static void print_table(FILE *out, const struct ksal_features *f)
{
	struct use u[USE__COUNT];
	int w = (int)strlen("FEATURE");

	for (int i = 0; i < KSAL_FEAT__COUNT; i++)
		if ((int)strlen(f->entry[i].key) > w)
			w = (int)strlen(f->entry[i].key);
	fprintf(out, "%-*s  %-8s  %s\n", w, "FEATURE", "STATUS", "DETAIL");
	for (int i = 0; i < KSAL_FEAT__COUNT; i++) {
		const struct ksal_feature *e = &f->entry[i];
		const char *status = e->available ? "yes" : e->required ? "MISSING" : "no";

		fprintf(out, "%-*s  %-8s  %s: %s\n", w, e->key, status, e->name, e->detail);
	}
	compute_uses(f, u);
	fputs("\nStrata will use:\n", out);
	for (int i = 0; i < USE__COUNT; i++)
		fprintf(out, "  %-16s %s\n", u[i].what, u[i].text);
	fprintf(out, "\ncgroup layout: %s; probed in %.0f ms\n",
		f->cgroup.found ? ksal_probe_layout_name(f->cgroup.layout) : "none", f->elapsed_ms);
}

int cmd_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "criu", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ksal_probe_opts opts = { 0 };
	_cleanup_features_ struct ksal_features *f = NULL;
	_cleanup_error_ struct st_error *err = NULL;
	_cleanup_free_ char *conf_criu = NULL, *conf_state = NULL;
	const char *config = STRATA_SYSCONFDIR "/strata.conf";
	bool json = false;
	int c;

	optind = 0; /* callers may have run getopt already; 0 also resets GNU state */
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'c':
			opts.criu_path = optarg;
			break;
		case 's':
			opts.state_dir = optarg;
			break;
		case 'f':
			config = optarg;
			if (access(config, R_OK) < 0) {
				fprintf(stderr, "strata check: config `%s`: %s\n", config,
					strerror(errno));
				return ST_EXIT_NOGLOBALCONF;
			}
			break;
		case 'h':
			check_usage(stdout);
			return ST_EXIT_OK;
		default:
			check_usage(stderr);
			return ST_EXIT_BADARG;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "strata check: unexpected argument `%s`\n", argv[optind]);
		check_usage(stderr);
		return ST_EXIT_BADARG;
	}

	if (!opts.criu_path)
		opts.criu_path = conf_criu = conf_value(config, "CRIU_PATH");
	if (!opts.state_dir)
		opts.state_dir = conf_state = conf_value(config, "STATE_DIR");
	f = ksal_probe_run(&opts);
	ksal_features_check_required(f, &err);
	if (json) {
		json_auto_t *j = features_json(f, err);

		if (!j || json_dumpf(j, stdout, CLI_JSON_FLAGS) < 0) {
			fputs("strata check: cannot write JSON\n", stderr);
			return ST_EXIT_SYSTEM;
		}
		fputc('\n', stdout);
	} else {
		print_table(stdout, f);
	}
	fflush(stdout);
	if (err) {
		fprintf(stderr, "strata check: %s\n", err->msg);
		return st_error_exit(err);
	}
	return ST_EXIT_OK;
}
