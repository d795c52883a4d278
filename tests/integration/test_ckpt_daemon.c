/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * suspend / resume end to end (checkpoint area): the real CLI against a
 * private stratad (tests/helpers/daemonutil.h: its own strata.conf and
 * directories under /tmp/stck-XXXXXX, cgroup subtree stck-PID), the test
 * process playing the
 * host in a network namespace of its own (so the container's routed veth
 * never touches the real host). The container's init is ckpt_guest: a
 * counter, N MiB of checksummed memory and a TCP echo server. CTIDs 9350-9399.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ksal/cleanup.h"
#include "ksal/error.h"
#include "tests/helpers/daemonutil.h"
#include "tests/helpers/testutil.h"

#include "test_ckpt_daemon_util.h"

TestSuite(ckpt_daemon, .init = ckd_setup, .fini = ckd_teardown, .timeout = 120);

/* 256 MiB, 3 cycles: processes gone, cgroup empty, status suspended; then
 * the counter continues, memory intact, the TCP connection carries on. */
Test(ckpt_daemon, three_cycles_counter_memory_tcp)
{
	int fd;

	need_root();
	start_daemon("keep");
	make_ct(256);
	wait_guest();
	fd = tcp_connect();
	tcp_echo(fd, "before");
	for (int cycle = 0; cycle < 3; cycle++) {
		_cleanup_free_ char *out = NULL;
		long c0;
		double t0;

		cr_assert_gt(cg_tasks(), 0);
		t0 = now_s();
		cr_assert_eq(strata(&out, "suspend", CT), 0, "cycle %d: suspend: %s", cycle, out);
		cr_log_info("cycle %d: suspend %.0f ms", cycle, (now_s() - t0) * 1000);
		{ /* the reply's figures: frozen within the whole, 256 MiB written */
			double total = 0, frozen = 0, mib = 0;
			const char *l = strstr(out, " ms, frozen ");

			cr_assert_not_null(l, "no figures in: %s", out);
			while (l > out && l[-1] != '\n')
				l--;
			cr_assert_eq(
				sscanf(l, " %lf ms, frozen %lf ms, %lf MiB", &total, &frozen, &mib),
				3, "%s", out);
			cr_assert(frozen > 0 && frozen <= total, "%s", out);
			cr_assert_geq(mib, 256, "%s", out);
		}
		c0 = counter();
		cr_assert_leq(cg_tasks(), 0, "tasks left in the cgroup after suspend");
		assert_status("down suspended");
		free(out);
		cr_assert_eq(strata(&out, "list", "-a", "-H", "-o", "ctid,status"), 0, "%s", out);
		cr_assert_not_null(strstr(out, "suspended"), "list: %s", out);
		usleep(300000);
		cr_assert_eq(counter(), c0, "counter moved while suspended");
		free(out);
		t0 = now_s();
		cr_assert_eq(strata(&out, "restore", CT), 0, "cycle %d: resume: %s", cycle, out);
		cr_log_info("cycle %d: resume %.0f ms", cycle, (now_s() - t0) * 1000);
		assert_status("running");
		assert_counter_continues(c0);
		assert_counter_moves(c0);
		assert_memory_intact();
		assert_init_is_daemon_child();
		assert_no_zombie_children();
		tcp_echo(fd, cycle == 0 ? "after-1" : cycle == 1 ? "after-2" : "after-3");
	}
	close(fd);
	assert_images_removed();
}

/* A dump that cannot be written: the container keeps running, exit 16, the
 * error says why; then a dump that fails inside CRIU (no space for the
 * images) names CRIU's log. */
Test(ckpt_daemon, failed_dump_keeps_running)
{
	_cleanup_free_ char *ro = du_path("/ro"), *small = du_path("/small");
	_cleanup_free_ char *out = NULL, *dir = NULL;
	long c0;

	need_root();
	start_daemon("keep");
	make_ct(64);
	wait_guest();
	cr_assert_eq(mkdir(ro, 0700), 0);
	cr_assert_eq(mount("stck-ro", ro, "tmpfs", MS_RDONLY, "size=1m"), 0);
	dir = du_path("/ro/img");
	cr_assert_eq(strata(&out, "suspend", CT, "--dumpfile", dir), 16, "%s", out);
	cr_assert_not_null(strstr(out, "Read-only file system"), "%s", out);
	assert_status("running");
	c0 = counter();
	assert_counter_moves(c0);
	assert_memory_intact();

	cr_assert_eq(mkdir(small, 0700), 0);
	cr_assert_eq(mount("stck-small", small, "tmpfs", 0, "size=8m"), 0);
	free(dir);
	free(out);
	dir = du_path("/small/img");
	cr_assert_eq(strata(&out, "chkpnt", CT, "--dumpfile", dir), 16, "%s", out);
	cr_log_info("failed dump: %s", out);
	cr_assert_not_null(strstr(out, "rror"), "no CRIU error in: %s", out);
	assert_status("running");
	c0 = counter();
	assert_counter_moves(c0);
	assert_memory_intact();
	umount2(small, MNT_DETACH);
	umount2(ro, MNT_DETACH);
}

/* A restore that fails (the veth's host name is taken): the images stay,
 * the container is still suspended, exit 17; a retry works. */
Test(ckpt_daemon, failed_restore_keeps_images_and_retry_works)
{
	_cleanup_free_ char *out = NULL, *ckpt = du_path("/state/dumps/%s/strata-ckpt", CT);
	long c0;

	need_root();
	start_daemon("keep");
	make_ct(32);
	wait_guest();
	cr_assert_eq(strata(&out, "suspend", CT), 0, "%s", out);
	c0 = counter();
	sh("ip link add veth" CT " type veth peer name stckp" CT);
	free(out);
	cr_assert_eq(strata(&out, "resume", CT), 17, "%s", out);
	cr_log_info("failed restore: %s", out);
	assert_status("down suspended");
	cr_assert_eq(access(ckpt, F_OK), 0, "images gone after a failed restore");
	sh("ip link del veth" CT);
	free(out);
	cr_assert_eq(strata(&out, "resume", CT), 0, "retry: %s", out);
	assert_status("running");
	assert_counter_continues(c0);
	assert_counter_moves(c0);
	assert_memory_intact();
}

/* --dumpfile and --keep; suspend --all / resume --all. */
Test(ckpt_daemon, dumpfile_keep_all)
{
	_cleanup_free_ char *out = NULL, *dir = du_path("/mydump/img"), *marker = NULL;
	_cleanup_free_ char *kept = du_path("/state/dumps/%s.kept/strata-ckpt", CT);
	long c0;

	need_root();
	start_daemon("keep");
	make_ct(16);
	wait_guest();
	marker = du_path("/mydump/img/strata-ckpt");
	cr_assert_eq(strata(&out, "suspend", CT, "--dumpfile", dir), 0, "%s", out);
	cr_assert_eq(access(marker, F_OK), 0, "no checkpoint in --dumpfile DIR");
	assert_status("down suspended");
	c0 = counter();
	free(out);
	cr_assert_eq(strata(&out, "resume", CT, "--keep"), 0, "%s", out);
	assert_status("running");
	cr_assert_eq(access(marker, F_OK), 0, "--keep removed the images");
	assert_counter_continues(c0);
	assert_counter_moves(c0);

	free(out);
	cr_assert_eq(strata(&out, "suspend", "--all"), 0, "%s", out);
	cr_assert_not_null(strstr(out, "Container " CT " suspended"), "%s", out);
	assert_status("down suspended");
	free(out);
	cr_assert_eq(strata(&out, "resume", "--all", "--keep"), 0, "%s", out);
	cr_assert_not_null(strstr(out, "Container " CT " resumed"), "%s", out);
	assert_status("running");
	cr_assert_eq(access(kept, F_OK), 0, "--keep: no checkpoint at %s", kept);
	free(out);
	/* kept images do not make a later stop look suspended */
	cr_assert_eq(strata(&out, "stop", "--fast", CT), 0, "%s", out);
	assert_status("down");
	free(out);
	cr_assert_eq(strata(&out, "status", CT), 0);
	cr_assert_null(strstr(out, "suspended"), "%s", out);
	free(out);
	cr_assert_eq(strata(&out, "resume", CT), 17, "resume without checkpoint: %s", out);
	free(out);
	cr_assert_eq(strata(&out, "suspend", CT), 31, "suspend of a stopped one: %s", out);
}

/* VE_STOP_MODE=suspend: SIGTERM to stratad suspends to disk, the next
 * stratad resumes it; ONBOOT=yes containers start after a host boot. */
Test(ckpt_daemon, stop_mode_suspend)
{
	_cleanup_free_ char *ckpt = du_path("/state/dumps/%s/strata-ckpt", CT);
	_cleanup_free_ char *onboot_done = du_path("/run/onboot.done"), *out = NULL;
	int status;
	long c0;

	need_root();
	start_daemon("suspend");
	make_ct(64);
	wait_guest();
	cr_assert_eq(strata(&out, "create", CT_ONBOOT, "--ostemplate", TEMPLATE, "--onboot", "yes"),
		     0, "create: %s", out);
	free(out);
	out = NULL;
	status = du_daemon_term();
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "stratad status %d", status);
	cr_assert_eq(access(ckpt, F_OK), 0, "no checkpoint after the daemon stopped");
	cr_assert_leq(cg_tasks(), 0, "container still running after shutdown");
	c0 = counter();
	/* a host reboot: RUN_DIR is empty again, ONBOOT=yes containers start */
	cr_assert_eq(unlink(onboot_done), 0);
	start_daemon("suspend");
	assert_status("running");
	cr_assert_eq(strata(&out, "status", CT_ONBOOT), 0);
	cr_assert_not_null(strstr(out, "running"), "ONBOOT container: %s", out);
	assert_counter_continues(c0);
	assert_counter_moves(c0);
	assert_memory_intact();
	cr_assert_neq(access(ckpt, F_OK), 0, "checkpoint left after the resume");
}

/* One suspend + resume through the CLI: the counter goes on, memory is
 * intact, the TCP connection fd carries on, stratad is the init's parent. */
static void suspend_resume_cycle(int fd, const char *tag)
{
	_cleanup_free_ char *out = NULL;
	long c0;

	cr_assert_eq(strata(&out, "suspend", CT), 0, "%s: suspend: %s", tag, out);
	c0 = counter();
	cr_assert_leq(cg_tasks(), 0, "%s: tasks left in the cgroup after suspend", tag);
	assert_status("down suspended");
	free(out);
	cr_assert_eq(strata(&out, "resume", CT), 0, "%s: resume: %s", tag, out);
	assert_status("running");
	assert_counter_continues(c0);
	assert_counter_moves(c0);
	assert_memory_intact();
	assert_init_is_daemon_child();
	tcp_echo(fd, tag);
}

/* The daemon serves while CRIU writes 512 MiB: `list` answers within
 * 300 ms all along (the dump takes about a second; on the loop, a list
 * waited for all of it), an exec meanwhile is refused as locked (9), and
 * the resume finds everything as it was. */
Test(ckpt_daemon, the_loop_serves_while_criu_runs)
{
	_cleanup_free_ char *outp = du_path("/suspend.out"), *out = NULL;
	double worst = 0;
	int lists = 0, refused = 0, status;
	pid_t pid;
	long c0;
	int fd;

	need_root();
	start_daemon("keep");
	make_ct(512);
	wait_guest();
	fd = tcp_connect();
	tcp_echo(fd, "before");
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(o, 1);
		dup2(o, 2);
		alarm(60);
		execl(STRATA_CLI_PATH, "strata", "--socket", du.sock, "suspend", CT, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, WNOHANG) == 0) {
		_cleanup_free_ char *l = NULL, *e = NULL;
		double t0 = now_s(), dt;
		int r = strata(&l, "list", "-a", "-H", "-o", "ctid");

		dt = now_s() - t0;
		cr_assert_eq(r, 0, "list during the suspend: %s", l);
		if (dt > worst)
			worst = dt;
		lists++;
		r = strata(&e, "exec", CT, "true");
		/* still suspending once exec answered: it was refused, not run */
		if (waitpid(pid, &status, WNOHANG) == 0) {
			cr_assert_eq(r, ST_EXIT_LOCKED, "exec during the suspend: %d %s", r, e);
			cr_assert_not_null(strstr(e, "being suspended"), "%s", e);
			refused++;
		} else {
			break;
		}
		usleep(20000);
	}
	out = tu_read_file(outp);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "suspend: %d %s", status, out);
	cr_log_info("%d lists during the suspend, the slowest %.0f ms", lists, worst * 1000);
	cr_assert_geq(lists, 2, "the suspend was over before a second list (%s)", out);
	cr_assert_geq(refused, 1);
	cr_assert_lt(worst, 0.3, "a list waited %.0f ms for the suspend", worst * 1000);
	c0 = counter();
	assert_status("down suspended");
	free(out);
	cr_assert_eq(strata(&out, "resume", CT), 0, "resume: %s", out);
	assert_status("running");
	assert_counter_continues(c0);
	assert_counter_moves(c0);
	assert_memory_intact();
	assert_init_is_daemon_child();
	tcp_echo(fd, "after");
	close(fd);
}

/* suspend --all and resume --all go through every container, one after
 * the other on a worker: both are suspended, then both run again, and the
 * first one's memory and counter are intact. */
Test(ckpt_daemon, all_of_them_in_turn)
{
	_cleanup_free_ char *out = NULL;
	long c0;

	need_root();
	start_daemon("keep");
	make_ct(64);
	cr_assert_eq(strata(&out, "create", CT_ONBOOT, "--ostemplate", TEMPLATE), 0, "%s", out);
	free(out);
	cr_assert_eq(strata(&out, "start", CT_ONBOOT), 0, "%s", out);
	free(out);
	wait_guest();
	cr_assert_eq(strata(&out, "suspend", "--all"), 0, "%s", out);
	cr_assert_not_null(strstr(out, "Container " CT " suspended"), "%s", out);
	cr_assert_not_null(strstr(out, "Container " CT_ONBOOT " suspended"), "%s", out);
	c0 = counter();
	assert_status("down suspended");
	free(out);
	cr_assert_eq(strata(&out, "status", CT_ONBOOT), 0);
	cr_assert_not_null(strstr(out, "suspended"), "%s", out);
	free(out);
	cr_assert_eq(strata(&out, "resume", "--all"), 0, "%s", out);
	cr_assert_not_null(strstr(out, "Container " CT " resumed"), "%s", out);
	cr_assert_not_null(strstr(out, "Container " CT_ONBOOT " resumed"), "%s", out);
	free(out);
	cr_assert_eq(strata(&out, "status", CT_ONBOOT), 0);
	cr_assert_not_null(strstr(out, "running"), "%s", out);
	assert_status("running");
	assert_counter_continues(c0);
	assert_memory_intact();
	assert_no_zombie_children();
}

/* kill -9 of stratad, a new one re-adopts the container: its init's console
 * is the old daemon's pty (hung up, the master died with that daemon), which
 * only the init's own fds tell; suspend and resume work as before, twice. */
Test(ckpt_daemon, suspend_resume_after_daemon_kill9)
{
	_cleanup_free_ char *out = NULL;
	pid_t pid;
	int fd;

	need_root();
	start_daemon("keep");
	make_ct(32);
	wait_guest();
	fd = tcp_connect();
	tcp_echo(fd, "before");
	pid = du_ct_pid(CT);
	du_daemon_kill9();
	cr_assert_eq(kill(pid, 0), 0, "the container died with stratad");
	du_daemon_start();
	assert_status("running");
	cr_assert_eq(du_ct_pid(CT), pid, "not the same init after the restart");
	suspend_resume_cycle(fd, "after-restart-1");
	suspend_resume_cycle(fd, "after-restart-2");
	close(fd);
}

/* systemctl is-system-running in CT says running (or degraded) within 60 s. */
static void wait_systemd(const char *when)
{
	const char *const argv[] = { "systemctl", "is-system-running", NULL };
	double end = now_s() + 60;

	for (;;) {
		_cleanup_free_ char *st = NULL;

		du_exec_out(CT, argv, &st);
		if (st && (!strncmp(st, "running", 7) || !strncmp(st, "degraded", 8)))
			return;
		cr_assert_lt(now_s(), end, "%s: systemd not up in 60 s: %s", when, st ? st : "?");
		usleep(250000);
	}
}

/* A debian-12 (systemd) container with --ipadd (routed veth, nftables
 * network lock): systemd-logind's ProtectHostname=yes gives it a UTS
 * namespace of its own, which CRIU cannot dump. A suspend of a container
 * booted without stratad's drop-in says so and leaves it running; booted
 * with it (after a restart), suspend and resume work, twice. */
Test(ckpt_daemon, systemd_routed_suspend_resume, .timeout = 240)
{
	const char *img = getenv("STCRIU_DEBIAN_IMAGE");
	_cleanup_free_ char *out = NULL;
	_cleanup_free_ char *dropin = du_path(
		"/private/%s/upper/etc/systemd/system/service.d/10-strata-checkpoint.conf", CT);
	_cleanup_free_ char *text = NULL;
	int rc;

	need_root();
	if (!img)
		img = "/var/cache/strata/images/debian-12.sqfs"; /* scripts/template-cache.sh */
	if (access(img, R_OK) < 0)
		cr_skip_test("no debian-12 image at %s (STCRIU_DEBIAN_IMAGE)", img);
	start_daemon("keep");
	cr_assert_eq(strata(&out, "-q", "template", "import", "stck-debian", img), 0, "import: %s",
		     out);
	free(out);
	cr_assert_eq(strata(&out, "create", CT, "--ostemplate", "stck-debian", "--ipadd", CT_IP), 0,
		     "create: %s", out);
	free(out);
	cr_assert_eq(strata(&out, "start", CT), 0, "start: %s", out);
	wait_systemd("first boot");
	free(out);
	rc = strata(&out, "suspend", CT);
	if (rc != 0) { /* booted without the drop-in: a clear error, still running */
		cr_assert_eq(rc, 16, "suspend: %s", out);
		cr_assert_not_null(strstr(out, "UTS namespace of its own"), "suspend: %s", out);
		cr_assert_not_null(strstr(out, "ProtectHostname"), "suspend: %s", out);
		assert_status("running");
		cr_assert_gt(cg_tasks(), 1,
			     "the container's tasks are gone after a failed suspend");
		text = tu_read_file(dropin);
		cr_assert_not_null(text, "no drop-in `%s` after the failed suspend", dropin);
		cr_assert_not_null(strstr(text, "ProtectHostname=no"), "%s", text);
		free(out);
		cr_assert_eq(strata(&out, "restart", CT), 0, "restart: %s", out);
		wait_systemd("after the restart");
		free(out);
		cr_assert_eq(strata(&out, "suspend", CT), 0, "suspend after restart: %s", out);
	}
	for (int cycle = 0;; cycle++) {
		cr_assert_leq(cg_tasks(), 0, "cycle %d: tasks left in the cgroup after suspend",
			      cycle);
		assert_status("down suspended");
		free(out);
		cr_assert_eq(strata(&out, "resume", CT), 0, "cycle %d: resume: %s", cycle, out);
		assert_status("running");
		wait_systemd("after resume");
		if (cycle == 1)
			break;
		free(out);
		cr_assert_eq(strata(&out, "suspend", CT), 0, "cycle %d: suspend: %s", cycle + 1,
			     out);
	}
	/* a kill -9 of stratad: systemd holds its console on /dev/console only */
	du_daemon_kill9();
	du_daemon_start();
	assert_status("running");
	free(out);
	cr_assert_eq(strata(&out, "suspend", CT), 0, "suspend after a restart of stratad: %s", out);
	assert_status("down suspended");
	free(out);
	cr_assert_eq(strata(&out, "resume", CT), 0, "resume after a restart of stratad: %s", out);
	assert_status("running");
	wait_systemd("resume after a restart of stratad");
}
