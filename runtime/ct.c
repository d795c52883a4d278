/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The container registry, runtime state files, id ranges and re-adoption. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cow-fs/cowfs.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/spawn.h"
#include "ksal/syscalls.h"
#include "runtime/ct_create.h"
#include "runtime/daemon.h"
#include "runtime/resources.h"
#include "runtime/net.h"

struct ct *ct_find(struct daemon *d, const char *ctid_or_name)
{
	for (struct ct *ct = d->cts; ct; ct = ct->next)
		if (strcmp(ct->ctid, ctid_or_name) == 0)
			return ct;
	for (struct ct *ct = d->cts; ct; ct = ct->next) {
		const char *name = ct->conf ? ct_config_str(ct->conf, CT_NAME) : NULL;
		if (name && strcmp(name, ctid_or_name) == 0)
			return ct;
	}
	return NULL;
}

struct ct *ct_new(struct daemon *d, const char *ctid)
{
	struct ct *ct = calloc(1, sizeof(*ct));

	if (!ct)
		return NULL;
	ct->ctid = strdup(ctid);
	if (!ct->ctid) {
		free(ct);
		return NULL;
	}
	ct->init_w = (struct watch){ W_CT_INIT, -EBADF, ct };
	ct->con_w = (struct watch){ W_CT_CONSOLE, -EBADF, ct };
	ct->timer_w = (struct watch){ W_CT_TIMER, -EBADF, ct };
	ct->console_log = -EBADF;
	ct->console_slave = -EBADF;
	ct->run = CT_STOPPED;
	ct->next = d->cts;
	d->cts = ct;
	return ct;
}

static void ct_clear_running(struct ct *ct)
{
	if (ct->cg)
		ksal_cgroup_free(ct->cg);
	ct->cg = NULL;
	free(ct->layer_dir);
	free(ct->image);
	free(ct->sha256);
	free(ct->root);
	free(ct->netdev);
	ct->layer_dir = ct->image = ct->sha256 = ct->root = ct->netdev = NULL;
}

void ct_forget(struct daemon *d, struct ct *ct)
{
	for (struct ct **p = &d->cts; *p; p = &(*p)->next)
		if (*p == ct) {
			*p = ct->next;
			break;
		}
	if (ct->init_w.fd >= 0) {
		watch_del(d, &ct->init_w);
		close(ct->init_w.fd);
	}
	if (ct->timer_w.fd >= 0) {
		watch_del(d, &ct->timer_w);
		close(ct->timer_w.fd);
	}
	ct_console_close(d, ct);
	ct_clear_running(ct);
	ct_config_free(ct->conf);
	if (ct->ring)
		munmap(ct->ring, CT_CONSOLE_RING); /* mmap()ed in console.c */
	free(ct->ctid);
	free(ct);
}

int ct_reload_config(struct daemon *d, struct ct *ct, struct st_error **err)
{
	_cleanup_free_ char *path = g_ct_conf_path(d->g, ct->ctid);
	struct ct_config *c = NULL;

	if (!path)
		return st_error_set(err, ENOMEM, "config of %s", ct->ctid);
	if (ct_config_load(path, &c, err) < 0)
		return -1;
	ct_config_merge_defaults(c, d->g->ct_defaults);
	ct_config_free(ct->conf);
	ct->conf = c;
	return 0;
}

/* Read every CTID.conf in CONF_DIR into the registry (new ones added,
 * configs of known ones reloaded). A broken config is logged, and the
 * container stays listed so it can be fixed or destroyed. */
int ct_registry_load(struct daemon *d, struct st_error **err)
{
	_cleanup_closedir_ DIR *dir = opendir(d->g->conf_dir);
	struct dirent *e;

	if (!dir)
		return st_error_set(err, errno, "open config directory `%s`", d->g->conf_dir);
	ct_create_recover(d); /* what a crash in a create left */
	while ((e = readdir(dir))) {
		_cleanup_error_ struct st_error *e2 = NULL;
		_cleanup_free_ char *ctid = NULL;
		size_t len = strlen(e->d_name);
		struct ct *ct;

		if (len < 6 || strcmp(e->d_name + len - 5, ".conf"))
			continue;
		ctid = strndup(e->d_name, len - 5);
		if (!ctid || ct_validate_ctid(ctid, NULL) < 0 ||
		    strspn(ctid, "0123456789") != strlen(ctid))
			continue;
		ct = ct_find(d, ctid);
		if (!ct || strcmp(ct->ctid, ctid)) {
			ct = ct_new(d, ctid);
			if (!ct)
				return st_error_set(err, ENOMEM, "registry");
		}
		if (ct->starting)
			continue; /* a start worker reads its config: the start reloaded it */
		if (ct_reload_config(d, ct, &e2) < 0)
			st_warn("container %s: %s", ctid, e2->msg);
	}
	return 0;
}

bool ct_is_mounted(struct daemon *d, struct ct *ct)
{
	_cleanup_free_ char *root = g_ct_root_path(d->g, ct->conf, ct->ctid);

	return root && cowfs_root_is_mounted(root);
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The first ID_RANGE_START + k * CT_ID_RANGE_SIZE range no container's
 * ID_BASE overlaps: the used bases sorted once, then one pass (a create
 * among thousands of containers stays O(n log n)). */
static int used_add(uint64_t **used, size_t *n, size_t *cap, uint64_t v)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		uint64_t *nu = realloc(*used, c * sizeof(*nu));

		if (!nu)
			return -1;
		*used = nu;
		*cap = c;
	}
	(*used)[(*n)++] = v;
	return 0;
}

int ct_alloc_id_base(struct daemon *d, const struct ct *self, uint32_t *out, struct st_error **err)
{
	uint64_t start = d->g->id_range_start, end = start + d->g->id_range_count;
	uint64_t base = start;
	_cleanup_free_ uint64_t *used = NULL;
	size_t n = 0, cap = 0;

	/* the ranges of every container, and of the clones in flight */
	for (struct ct *ct = d->cts; ct; ct = ct->next)
		if (ct != self && ct->conf && ct->conf->v[CT_ID_BASE].set &&
		    used_add(&used, &n, &cap, ct->conf->v[CT_ID_BASE].u) < 0)
			return st_error_set(err, ENOMEM, "allocate an id range");
	for (size_t i = 0; i < d->n_clone_bases; i++)
		if (used_add(&used, &n, &cap, d->clone_bases[i]) < 0)
			return st_error_set(err, ENOMEM, "allocate an id range");
	if (n)
		qsort(used, n, sizeof(*used), u64_cmp);
	for (size_t i = 0; i < n; i++) {
		uint64_t b = used[i];

		if (b + CT_ID_RANGE_SIZE <= base)
			continue; /* wholly below the candidate */
		if (b >= base + CT_ID_RANGE_SIZE)
			break; /* the candidate fits below b */
		/* overlap: the next range boundary at or above b's end */
		base = start + (b + CT_ID_RANGE_SIZE - start + CT_ID_RANGE_SIZE - 1) /
				       CT_ID_RANGE_SIZE * CT_ID_RANGE_SIZE;
	}
	if (base + CT_ID_RANGE_SIZE <= end) {
		*out = (uint32_t)base;
		return 0;
	}
	return st_error_setx(err, ST_EXIT_NORESOURCE, 0,
			     "no free user-namespace id range left in %" PRIu64 "..%" PRIu64
			     " (ID_RANGE_START, ID_RANGE_COUNT in strata.conf)",
			     start, end - 1);
}

/* ---- state files: <run>/ct/CTID.state ---- */

static char *state_path(struct daemon *d, const char *ctid)
{
	char *s = NULL;

	if (asprintf(&s, "%s/ct/%s.state", d->g->run_dir, ctid) < 0)
		return NULL;
	return s;
}

static const char *init_kind_name(enum ct_init_kind k)
{
	switch (k) {
	case INIT_SYSTEMD:
		return "systemd";
	case INIT_BUSYBOX:
		return "busybox";
	case INIT_STRATA:
		return "strata-init";
	case INIT_OTHER:
		break;
	}
	return "other";
}

static enum ct_init_kind init_kind_parse(const char *s)
{
	if (!s)
		return INIT_OTHER;
	if (!strcmp(s, "systemd"))
		return INIT_SYSTEMD;
	if (!strcmp(s, "busybox"))
		return INIT_BUSYBOX;
	if (!strcmp(s, "strata-init"))
		return INIT_STRATA;
	return INIT_OTHER;
}

int ct_state_write(struct daemon *d, struct ct *ct, struct st_error **err)
{
	_cleanup_free_ char *path = state_path(d, ct->ctid), *text = NULL;
	json_t *j;

	if (!path)
		return st_error_set(err, ENOMEM, "state of %s", ct->ctid);
	j = json_pack("{s:s,s:I,s:I,s:s,s:s*,s:s*,s:s*,s:s*,s:I,s:b,s:s,s:[]}", "ctid", ct->ctid,
		      "pid", (json_int_t)ct->pid, "start_time", (json_int_t)ct->start_time,
		      "cgroup", ct->ctid, "root", ct->root, "layer_dir", ct->layer_dir, "image",
		      ct->image, "sha256", ct->sha256, "id_base", (json_int_t)ct->id_base,
		      "privileged", ct->privileged, "init", init_kind_name(ct->init_kind),
		      "netdevs");
	if (!j)
		return st_error_set(err, ENOMEM, "state of %s", ct->ctid);
	if (ct->netdev)
		json_array_append_new(json_object_get(j, "netdevs"), json_string(ct->netdev));
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!text)
		return st_error_set(err, ENOMEM, "state of %s", ct->ctid);
	return st_write_file_atomic(path, text, strlen(text), 0600, false, err);
}

void ct_state_remove(struct daemon *d, struct ct *ct)
{
	_cleanup_free_ char *path = state_path(d, ct->ctid);

	if (path && unlink(path) < 0 && errno != ENOENT)
		st_warn("remove `%s`: %s", path, strerror(errno));
}

static char *jstrdup(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? strdup(s) : NULL;
}

/* Undo what a start left behind for a container whose init is gone:
 * every task of its cgroup, the cgroup, the veth, the root mount and the
 * template layer reference. Each step is best effort and logged. */

void ct_cleanup_after_exit(struct daemon *d, struct ct *ct)
{
	_cleanup_error_ struct st_error *err = NULL;

	if (!ct->cg)
		ksal_cgroup_open(d->cg, ct->ctid, &ct->cg, NULL);
	if (ct->cg) {
		if (ksal_cgroup_kill_all(ct->cg, 5000, &err) < 0) {
			st_warn("stop %s: %s", ct->ctid, err->msg);
			st_error_freep(&err);
		}
		if (ksal_cgroup_destroy(ct->cg, &err) < 0 && err->errnum == EBUSY) {
			/* a task in another hierarchy than the one kill_all
			 * swept: kill it wherever it is, then remove again */
			st_info("stop %s: %s; killing every task left", ct->ctid, err->msg);
			st_error_freep(&err);
			if (ksal_cgroup_kill_everywhere(ct->cg, 2000, &err) == 0)
				ksal_cgroup_destroy(ct->cg, &err);
		}
		if (err) {
			st_warn("stop %s: %s", ct->ctid, err->msg);
			st_error_freep(&err);
		}
		ksal_cgroup_free(ct->cg);
		ct->cg = NULL;
	}
	res_ksm_release(d, ct); /* resources area: ksmd back when no MEMORY_MERGE is left */
	ct_network_teardown(d, ct);
	if (ct->root && cowfs_root_is_mounted(ct->root)) {
		if (ct_root_let_go(d, ct, ct->root, &err) < 0) {
			st_warn("stop %s: %s", ct->ctid, err->msg);
			st_error_freep(&err);
		}
	}
	ct_private_close(d, ct);
	if (ct->layer_dir && ct->image) {
		struct cowfs_layer_ref ref = { .image = ct->image,
					       .sha256 = NULL,
					       .mnt_dir = ct->layer_dir,
					       .user = ct->ctid,
					       .mode = COWFS_MOUNT_AUTO };
		if (cowfs_layer_release(&ref, &err) < 0) {
			st_warn("stop %s: %s", ct->ctid, err->msg);
			st_error_freep(&err);
		}
	}
	ct_state_remove(d, ct);
	ct_console_close(d, ct);
	if (ct->init_w.fd >= 0) {
		watch_del(d, &ct->init_w);
		close(ct->init_w.fd);
		ct->init_w.fd = -EBADF;
	}
	if (ct->timer_w.fd >= 0) {
		watch_del(d, &ct->timer_w);
		close(ct->timer_w.fd);
		ct->timer_w.fd = -EBADF;
	}
	ct_clear_running(ct);
	ct->pid = 0;
	ct->run = CT_STOPPED;
}

/* At startup: every state file is a container that was running when the
 * last daemon went away. Re-adopt the live ones by pidfd (guarded by the
 * start time against pid reuse); clean up after the dead ones. */
void ct_adopt_all(struct daemon *d)
{
	_cleanup_free_ char *dirpath = NULL;
	_cleanup_closedir_ DIR *dir = NULL;
	struct dirent *e;

	if (asprintf(&dirpath, "%s/ct", d->g->run_dir) < 0)
		return;
	dir = opendir(dirpath);
	if (!dir)
		return;
	while ((e = readdir(dir))) {
		_cleanup_error_ struct st_error *err = NULL;
		_cleanup_free_ char *path = NULL, *ctid = NULL;
		size_t len = strlen(e->d_name);
		json_error_t jerr;
		json_t *j, *devs;
		struct ct *ct;
		int pidfd = -EBADF;

		if (len < 7 || strcmp(e->d_name + len - 6, ".state"))
			continue;
		ctid = strndup(e->d_name, len - 6);
		if (!ctid || asprintf(&path, "%s/%s", dirpath, e->d_name) < 0)
			continue;
		j = json_load_file(path, 0, &jerr);
		if (!j) {
			st_warn("state `%s`: %s; removed", path, jerr.text);
			unlink(path);
			continue;
		}
		ct = ct_find(d, ctid);
		if (!ct || strcmp(ct->ctid, ctid)) {
			/* config gone: still clean up what runs */
			ct = ct_new(d, ctid);
			if (!ct) {
				json_decref(j);
				continue;
			}
		}
		ct->pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
		ct->start_time = (uint64_t)json_integer_value(json_object_get(j, "start_time"));
		ct->root = jstrdup(j, "root");
		ct->layer_dir = jstrdup(j, "layer_dir");
		ct->image = jstrdup(j, "image");
		ct->sha256 = jstrdup(j, "sha256");
		ct->id_base = (uint32_t)json_integer_value(json_object_get(j, "id_base"));
		ct->privileged = json_is_true(json_object_get(j, "privileged"));
		ct->init_kind = init_kind_parse(json_string_value(json_object_get(j, "init")));
		devs = json_object_get(j, "netdevs");
		if (json_is_string(json_array_get(devs, 0)))
			ct->netdev = strdup(json_string_value(json_array_get(devs, 0)));
		json_decref(j);

		if (ct->pid > 0 && ksal_pidfd_adopt(ct->pid, ct->start_time, &pidfd, &err) == 0) {
			ct->init_w.fd = pidfd;
			ct->our_child = false;
			ct->run = CT_RUNNING;
			if (ksal_cgroup_open(d->cg, ct->ctid, &ct->cg, &err) < 0) {
				st_warn("adopt %s: %s", ct->ctid, err->msg);
				st_error_freep(&err);
			}
			watch_add(d, &ct->init_w, EPOLLIN);
			keeper_claim(d, ct); /* its console, if the keeper kept it */
			st_info("adopted container %s (init pid %d)", ct->ctid, (int)ct->pid);
		} else {
			st_info("container %s stopped while stratad was down: cleaning up",
				ct->ctid);
			ct_cleanup_after_exit(d, ct);
			if (!ct->conf)
				ct_forget(d, ct);
		}
	}
}
