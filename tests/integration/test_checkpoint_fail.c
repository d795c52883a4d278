/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Checkpoint and restore (runtime/checkpoint.c) when things go wrong, and a
 * systemd guest: a dump that fails or cannot be committed leaves the
 * container running, a restore that fails keeps the images, a CRIU past its
 * timeout is killed, a debian-12 container with systemd goes through two
 * cycles. Harness: test_checkpoint_common.h.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/netlink.h"
#include "ksal/spawn.h"
#include "tests/helpers/testutil.h"
#include "tests/integration/test_checkpoint_common.h"

TestSuite(checkpoint, .init = ck_setup, .fini = ck_teardown, .timeout = 240);

/* ---- a dump that fails ---- */

Test(checkpoint, failed_dump_leaves_it_running_and_a_retry_works)
{
	_cleanup_free_ char *small = path_in(g_dir, "small");
	_cleanup_free_ char *bad = path_in(small, g_ctid);
	_cleanup_free_ char *good = path_in(g_dumps, g_ctid);
	struct ct_ckpt_params p;
	struct ct_ckpt_result r;
	struct st_error *e = NULL;
	long c0, c1;

	/* an image dir that fills up half way through the memory */
	cr_assert_eq(mkdir(small, 0755), 0);
	cr_assert_eq(mount("tmpfs", small, "tmpfs", 0, "size=8m"), 0);
	g_tmpfs = true;
	start_ct(64, false, false);
	wait_ready(3);

	params_init(&p, bad, false);
	cr_assert_lt(ct_checkpoint_dump(&p, &r, &e), 0, "a dump into 8 MiB succeeded");
	cr_assert_not_null(e);
	cr_log_info("expected failure: %s", e->msg);
	cr_assert_eq(e->exit_code, ST_EXIT_CHKPNT);
	cr_assert(strstr(e->msg, "CRIU dump failed"), "%s", e->msg);
	cr_assert(!ct_checkpoint_exists(bad));
	st_error_free(e);
	e = NULL;

	/* still running, thawed, nothing lost */
	cr_assert(!pidfd_exited(g_pidfd, 0), "the container died with the failed dump");
	c0 = read_counter();
	sleep_ms(400);
	c1 = read_counter();
	cr_assert_gt(c1, c0, "the counter stopped after a failed dump (frozen?)");
	assert_memory_intact();

	/* a second failure: the image dir's parent is read-only */
	cr_assert_eq(mount(NULL, small, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);
	cr_assert_lt(ct_checkpoint_dump(&p, &r, &e), 0);
	cr_log_info("expected failure: %s", e->msg);
	st_error_free(e);
	e = NULL;
	cr_assert(!pidfd_exited(g_pidfd, 0));

	/* and the retry somewhere sane works */
	cycle(good, false, 1);
}

/* ---- a dump whose images cannot be committed ---- */

/* CRIU wrote every image, but they cannot be put in place (the image dir is
 * a mount point: the rename fails): nothing was killed, the container runs
 * on, the error says what failed, no checkpoint is left. */
Test(checkpoint, a_dump_that_cannot_be_committed_leaves_it_running)
{
	_cleanup_free_ char *images = path_in(g_dumps, g_ctid);
	struct ct_ckpt_params p;
	struct ct_ckpt_result r;
	struct st_error *e = NULL;
	long c0, c1;
	int ret;

	start_ct(32, false, false);
	wait_ready(3);
	cr_assert_eq(mkdir(g_dumps, 0700), 0);
	cr_assert_eq(mkdir(images, 0700), 0);
	cr_assert_eq(mount("stck-busy", images, "tmpfs", 0, "size=64k"), 0);
	params_init(&p, images, false);
	ret = ct_checkpoint_dump(&p, &r, &e);
	umount2(images, MNT_DETACH);
	cr_assert_lt(ret, 0, "a dump over a mount point succeeded");
	cr_log_info("expected failure: %s", e->msg);
	cr_assert_eq(e->exit_code, ST_EXIT_CHKPNT, "%s", e->msg);
	cr_assert(strstr(e->msg, "runs on"), "%s", e->msg);
	st_error_free(e);
	e = NULL;
	cr_assert(!ct_checkpoint_exists(images));
	cr_assert(!pidfd_exited(g_pidfd, 0), "the container died with the failed commit");
	c0 = read_counter();
	sleep_ms(400);
	c1 = read_counter();
	cr_assert_gt(c1, c0, "the counter stopped after a failed commit (frozen?)");
	assert_memory_intact();
	/* and the next dump goes through */
	cycle(images, false, 1);
}

/* ---- a restore that fails, then works ---- */

Test(checkpoint, failed_restore_keeps_images_and_a_retry_works)
{
	_cleanup_free_ char *images = path_in(g_dumps, g_ctid);
	struct ct_ckpt_params p;
	struct ct_ckpt_result r;
	struct st_error *e = NULL;
	struct ksal_nl *nl = NULL;
	_cleanup_close_ int s = -EBADF;

	start_ct(16, true, false);
	wait_ready(3);
	s = connect_ct();
	ping(s, "one");
	do_suspend(images, true, &r);

	/* the host end's name is taken: CRIU cannot create the veth */
	if (ksal_nl_open(&nl, &e) < 0 || ksal_veth_create(nl, g_veth, "stcrtmp", -1, &e) < 0)
		die_msg(e);
	params_init(&p, images, true);
	cr_assert_lt(ct_checkpoint_restore(&p, &r, &e), 0, "restore over a taken veth name");
	cr_log_info("expected failure: %s", e->msg);
	cr_assert_eq(e->exit_code, ST_EXIT_RESTORE);
	st_error_free(e);
	e = NULL;
	cr_assert(ct_checkpoint_exists(images), "the images went with the failed restore");
	cr_assert(ksal_cgroup_is_empty(g_cg), "a half-restored tree was left behind");
	if (ksal_link_del(nl, g_veth, &e) < 0)
		die_msg(e);
	ksal_nl_close(nl);

	do_resume(images, true, &r);
	reconnect_host_side();
	ping(s, "two");
	assert_memory_intact();
}

/* ---- a systemd container (debian-12 template image) ---- */

/* `argv` run inside the container; its stdout, trimmed. */
static char *ct_run(char *const *argv)
{
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	struct ksal_enter_cfg cfg = { 0 };
	struct ksal_spawned sp = { 0 };
	struct st_error *e = NULL;
	char buf[512];
	size_t got = 0;
	ssize_t n;
	int p[2], null = open("/dev/null", O_RDWR | O_CLOEXEC);

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cfg.init_pidfd = g_pidfd;
	cfg.init_pid = g_pid;
	cfg.argv = argv;
	cfg.envp = envp;
	cfg.stdio[0] = null;
	cfg.stdio[1] = p[1];
	cfg.stdio[2] = null;
	cfg.seccomp_fd = -1;
	cfg.cgroup_procs_fd = -1;
	if (ksal_enter(&cfg, &sp, &e) < 0)
		die_msg(e);
	close(p[1]);
	close(null);
	while (got < sizeof(buf) - 1 && (n = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(p[0]);
	waitpid(sp.pid, NULL, 0);
	close(sp.pidfd);
	while (got && (buf[got - 1] == '\n' || buf[got - 1] == ' '))
		buf[--got] = '\0';
	return strdup(buf);
}

static char *wait_systemd(int seconds)
{
	char *argv[] = { "/bin/systemctl", "is-system-running", NULL };
	char *st = NULL;

	for (int i = 0; i < seconds * 4; i++) {
		free(st);
		st = ct_run(argv);
		if (st && (!strcmp(st, "running") || !strcmp(st, "degraded")))
			return st;
		sleep_ms(250);
	}
	return st;
}

Test(checkpoint, systemd_container)
{
	const char *img = getenv("STCRIU_DEBIAN_IMAGE");
	_cleanup_free_ char *copy = path_in(g_dir, "debian-12.sqfs");
	_cleanup_free_ char *priv = path_in(g_dir, "private");
	_cleanup_free_ char *st = NULL;
	_cleanup_free_ char *images = path_in(g_dumps, g_ctid);
	char *argv[] = { "/sbin/init", NULL };
	char *envp[] = { "container=strata", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	struct ksal_spawn_cfg cfg = { 0 };
	struct ksal_spawned sp = { 0 };
	struct ct_ckpt_result r;
	struct st_error *e = NULL;
	int m2, s2;

	if (!img)
		img = "/var/cache/strata/images/debian-12.sqfs"; /* scripts/template-cache.sh */
	if (access(img, R_OK) < 0)
		cr_skip_test("no debian-12 image at %s (STCRIU_DEBIAN_IMAGE)", img);
	cr_assert_eq(copy_file(img, copy, 0644), 0);
	/* the busybox overlay of setup() makes way for the template's */
	cr_assert_eq(umount2(g_root, 0), 0);
	g_layer_ref.image = strdup(copy);
	g_layer_ref.mnt_dir = path_in(g_dir, "layer");
	g_layer_ref.user = g_ctid;
	g_layer_ref.mode = COWFS_MOUNT_AUTO;
	if (cowfs_layer_acquire(&g_layer_ref, &e) < 0)
		die_msg(e);
	/* as the daemon does it: private area, idmapped template layer */
	{
		const char *lowers[] = { g_layer_ref.mnt_dir, NULL };
		struct cowfs_compose comp = { .lowers = lowers,
					      .private_dir = priv,
					      .target = g_root,
					      .idmap_base = USERNS_BASE,
					      .idmap_count = USERNS_COUNT };

		if (cowfs_private_create(priv, &e) < 0 || cowfs_root_compose(&comp, &e) < 0)
			die_msg(e);
		g_composed = true;
	}
	/* CRIU cannot dump a nested UTS namespace (ProtectHostname=yes of
	 * systemd-logind and others): what the template must carry */
	{
		_cleanup_free_ char *dropin = path_in(g_root, "etc/systemd/system/service.d");
		_cleanup_free_ char *conf = path_in(dropin, "10-strata-checkpoint.conf");
		_cleanup_free_ char *cmd = NULL;

		cr_assert(asprintf(&cmd, "%s", dropin) > 0);
		for (char *q = strchr(cmd + strlen(g_root) + 1, '/'); q; q = strchr(q + 1, '/')) {
			*q = '\0';
			mkdir(cmd, 0755);
			*q = '/';
		}
		mkdir(dropin, 0755);
		cr_assert_eq(tu_write_file(conf, "[Service]\nProtectHostname=no\n"), 0);
	}
	if (ksal_cgroup_delegate(g_cg, USERNS_BASE, USERNS_BASE, &e) < 0)
		die_msg(e);

	new_pty(&g_console);
	cfg.rootfs = g_root;
	cfg.hostname = "ct9301";
	cfg.argv = argv;
	cfg.envp = envp;
	cfg.new_net = true;
	cfg.cgroupfs = true;
	cfg.userns = true;
	cfg.uid_map = cfg.gid_map = &(struct ksal_idmap){ 0, USERNS_BASE, USERNS_COUNT };
	cfg.n_uid_map = cfg.n_gid_map = 1;
	cfg.cgroup_fd = ksal_cgroup_clone_fd(g_cg);
	cfg.parent_hook = parent_hook;
	cfg.hook_data = &(struct hook){ .net = false };
	cfg.cap_drop = ksal_cap_default_drop();
	cfg.seccomp_fd = g_seccomp;
	cfg.stdio[0] = cfg.stdio[1] = cfg.stdio[2] = g_console;
	cfg.console_fd = g_console;
	if (ksal_spawn(&cfg, &sp, &e) < 0)
		die_msg(e);
	g_pid = sp.pid;
	g_pidfd = sp.pidfd;
	st = wait_systemd(60);
	cr_log_info("systemd before: %s", st);
	cr_assert(st && (!strcmp(st, "running") || !strcmp(st, "degraded")),
		  "systemd did not boot: %s", st ? st : "?");

	for (int i = 1; i <= 2; i++) {
		do_suspend(images, false, &r);
		cr_log_info("systemd: suspend %.0f ms, %llu bytes", r.total_ms,
			    (unsigned long long)r.image_bytes);
		m2 = new_pty(&s2);
		(void)m2;
		g_console = s2;
		do_resume(images, false, &r);
		cr_log_info("systemd: resume %.0f ms", r.total_ms);
		free(st);
		st = wait_systemd(10);
		cr_log_info("systemd after cycle %d: %s", i, st);
		cr_assert(st && (!strcmp(st, "running") || !strcmp(st, "degraded")),
			  "systemctl is-system-running after resume %d: %s", i, st ? st : "?");
	}
}

/* ---- a CRIU that overruns its timeout ---- */

Test(checkpoint, a_dump_past_its_timeout_is_killed_and_the_container_runs_on)
{
	_cleanup_free_ char *images = path_in(g_dumps, g_ctid);
	struct ct_ckpt_params p;
	struct ct_ckpt_result r;
	struct st_error *e = NULL;
	long c0, c1;

	start_ct(256, false, false);
	wait_ready(3);
	params_init(&p, images, false);
	p.timeout_ms = 120; /* killed in the middle of the memory dump */
	cr_assert_lt(ct_checkpoint_dump(&p, &r, &e), 0, "a 256 MiB dump within 120 ms");
	cr_log_info("expected failure: %s", e->msg);
	cr_assert_eq(e->exit_code, ST_EXIT_TIMEOUT, "%s", e->msg);
	{
		_cleanup_free_ char *logp = NULL, *text = NULL;
		char *last;
		cr_assert(asprintf(&logp, "%s.dump.log", images) > 0);
		text = tu_read_file(logp);
		cr_assert_not_null(text, "no log kept of the killed dump");
		while (*text && text[strlen(text) - 1] == '\n')
			text[strlen(text) - 1] = '\0';
		last = strrchr(text, '\n');
		cr_log_info("CRIU was killed after: %s", last ? last + 1 : text);
	}
	st_error_free(e);
	e = NULL;
	cr_assert(!ct_checkpoint_exists(images));
	cr_assert(!pidfd_exited(g_pidfd, 0), "the container died with the killed CRIU");
	c0 = read_counter();
	sleep_ms(400);
	c1 = read_counter();
	cr_assert_gt(c1, c0, "the counter stopped after a killed dump (frozen?)");
	assert_memory_intact();
	/* no CRIU left behind, and the next one works */
	cycle(images, false, 1);
}

Test(checkpoint, a_restore_past_its_timeout_leaves_nothing_and_a_retry_works)
{
	_cleanup_free_ char *images = path_in(g_dumps, g_ctid);
	struct ct_ckpt_params p;
	struct ct_ckpt_result r;
	struct st_error *e = NULL;

	start_ct(256, true, false);
	wait_ready(3);
	do_suspend(images, true, &r);
	params_init(&p, images, true);
	p.timeout_ms = 100; /* killed while it maps the memory back */
	cr_assert_lt(ct_checkpoint_restore(&p, &r, &e), 0, "a 256 MiB restore within 100 ms");
	cr_log_info("expected failure: %s", e->msg);
	cr_assert_eq(e->exit_code, ST_EXIT_TIMEOUT, "%s", e->msg);
	st_error_free(e);
	e = NULL;
	cr_assert(ct_checkpoint_exists(images), "the images went with the killed restore");
	cr_assert(ksal_cgroup_is_empty(g_cg), "a half-restored tree was left behind");
	do_resume(images, true, &r);
	sleep_ms(300);
	assert_memory_intact();
}
