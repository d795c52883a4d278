/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ksal_spawn against the real kernel (root only): a throw-away busybox
 * rootfs in /tmp/stspawn-*, a user namespace mapping 0 -> 200000, a new net
 * ns, the default seccomp filter and bounding set. Every test kills its
 * processes and removes its directories in .fini, pass or fail.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ksal/syscalls.h"
#include "ksal/cleanup.h"
#include "ksal/mount.h"
#include "ksal/spawn.h"
#include "ksal/spawn-internal.h"
#include "tests/integration/test_spawn_util.h"

TestSuite(spawn, .init = spawn_setup, .fini = spawn_teardown);

static const char isolation_script[] =
	"echo pid=$$\n"
	"echo host=$(hostname)\n"
	"echo uid=$(id -u)\n"
	"echo kcore=$(cat /proc/kcore 2>/dev/null | wc -c)\n"
	"echo h > /proc/sysrq-trigger 2>/dev/null && echo sysrq=writable || echo sysrq=refused\n"
	"echo x > /proc/sys/kernel/hostname 2>/dev/null && echo kh=writable || echo kh=refused\n"
	"echo 1 > /proc/sys/net/ipv4/ip_forward 2>/dev/null && echo net=writable || echo "
	"net=refused\n"
	"mknod /tmp/sda b 8 0 2>/dev/null && echo mknod=ok || echo mknod=refused\n"
	"echo x > /dev/null && echo devnull=ok\n"
	"echo dev=$(ls /dev)\n"
	"echo links=$(ip -o link | wc -l)\n"
	"echo lo=$(ip -o link | grep -c ': lo:')\n"
	"echo capbnd=$(grep CapBnd /proc/self/status | cut -f2)\n"
	"echo sid=$(cut -d' ' -f6 /proc/1/stat)\n"
	"echo firmware=$(ls -A /sys/firmware | wc -l)\n"
	"echo keys=$(cat /proc/keys 2>/dev/null | wc -c)\n"
	"echo nofile=$(ulimit -n)\n"
	"echo sigblk=$(grep SigBlk /proc/self/status | cut -f2)\n"
	"umount /proc/keys 2>/dev/null && echo umask=ok || echo umask=refused\n"
	"mount -o remount,rw /proc/sys 2>/dev/null && echo procsys=rw || echo procsys=ro\n"
	"mount -o remount,rw /sys 2>/dev/null && echo sysrw=rw || echo sysrw=ro\n"
	"probe syscalls | tr ' ' '\\n'\n"
	"echo END\n"
	"read x\n"
	"exit 0\n";

/* locked: the masks and read-only mounts were made by the parent and cannot
 * be undone by root inside (ksal_spawn_locked_supported) */
static void check_isolation(bool locked)
{
	char *argv[] = { "/bin/sh", "-c", (char *)isolation_script, NULL };
	_cleanup_close_ int in_r = -EBADF, in_w = -EBADF, out_r = -EBADF, out_w = -EBADF;
	struct st_error *err = NULL;
	struct ksal_spawn_cfg cfg;
	struct ksal_spawned sp;
	_cleanup_free_ char *out = NULL, *uid = NULL, *sc = NULL, *capbnd = NULL;
	int p[2];

	default_cfg(&cfg, argv);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	in_r = p[0], in_w = p[1];
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	out_r = p[0], out_w = p[1];
	cfg.stdio[0] = in_r;
	cfg.stdio[1] = out_w;
	cfg.stdio[2] = out_w;
	static const struct ksal_rlimit rl[] = { { RLIMIT_NOFILE, { 1000, 2000 } } };
	cfg.rlimits = rl;
	cfg.n_rlimits = 1;
	/* like a daemon's event loop: the init must not inherit these */
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, NULL);

	cr_assert_eq(ksal_spawn(&cfg, &sp, &err), 0, "spawn: %s", err ? err->msg : "");
	track_pidfd(sp.pidfd);
	closep(&in_r);
	closep(&out_w);
	cr_assert_gt(sp.start_time, 0);

	out = read_until(out_r, "END\n");
	assert_field(out, "pid", "1");
	assert_field(out, "host", "stspawn-ct");
	assert_field(out, "uid", "0");
	assert_field(out, "kcore", "0");
	assert_field(out, "keys", "0");
	assert_field(out, "nofile", "1000");
	assert_field(out, "sigblk", "0000000000000000");
	if (locked) {
		assert_field(out, "umask", "refused");
		assert_field(out, "procsys", "ro");
		assert_field(out, "sysrw", "ro");
	} else {
		/* the init's own mounts: its root may undo them */
		assert_field(out, "umask", "ok");
	}
	assert_field(out, "sysrq", "refused");
	assert_field(out, "kh", "refused");
	assert_field(out, "net", "writable");
	assert_field(out, "mknod", "refused");
	assert_field(out, "devnull", "ok");
	assert_field(out, "dev",
		     "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero");
	assert_field(out, "links", "1");
	assert_field(out, "lo", "1");
	assert_field(out, "sid", "1");
	assert_field(out, "firmware", "0");
	assert_field(out, "keyctl", "EPERM");
	assert_field(out, "perf_event_open", "EPERM");
	assert_field(out, "bpf", "EPERM");

	capbnd = field(out, "capbnd");
	cr_assert_not_null(capbnd, "%s", out);
	unsigned long long bnd = strtoull(capbnd, NULL, 16);
	cr_assert_eq(bnd & (1ULL << 16), 0, "CapBnd %s keeps sys_module", capbnd);
	cr_assert_eq(bnd & (1ULL << 25), 0, "CapBnd %s keeps sys_time", capbnd);
	cr_assert_neq(bnd & (1ULL << 21), 0, "CapBnd %s lost sys_admin", capbnd);
	cr_assert_neq(bnd & (1ULL << 22), 0, "CapBnd %s lost sys_boot", capbnd);

	/* the host's view of the same process */
	uid = host_status_line(sp.pid, "Uid");
	cr_assert_not_null(uid);
	cr_assert_eq(strtol(uid, NULL, 10), HOST_BASE, "host sees uid %s", uid);
	sc = host_status_line(sp.pid, "Seccomp");
	cr_assert_not_null(sc);
	cr_assert_eq(strtol(sc, NULL, 10), 2, "Seccomp: %s", sc);
	cr_assert_not(same_ns(sp.pid, "net"));
	cr_assert_not(same_ns(sp.pid, "time"),
		      "clone3(CLONE_NEWTIME) left the init in our time ns");
	cr_assert_not(same_ns(sp.pid, "user"));
	cr_assert_not(same_ns(sp.pid, "cgroup"));
	/* nothing of ours leaks in: only stdio (CRIU refuses launcher fds) */
	{
		char fddir[64];
		struct dirent *de;
		snprintf(fddir, sizeof(fddir), "/proc/%d/fd", (int)sp.pid);
		DIR *d = opendir(fddir);
		cr_assert_not_null(d);
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				cr_assert_lt(atoi(de->d_name), 3, "init holds fd %s", de->d_name);
		closedir(d);
	}
	/* session leader in the host's numbering too */
	pid_t sid = getsid(sp.pid);
	cr_assert_eq(sid, sp.pid);
	cr_assert_eq(ksal_pid_start_time(sp.pid, &(uint64_t){ 0 }), 0);

	closep(&in_w); /* `read x` ends, so does the init */
	cr_assert_eq(wait_exit(sp.pidfd), 0);
	untrack_close(sp.pidfd);
}

Test(spawn, isolation_of_a_system_container)
{
	cr_assert(ksal_mount_new_api(), "this kernel has the new mount API");
	if (!ksal_spawn_locked_supported())
		cr_log_warn("this kernel cannot lock a container's mounts (proc pidns=)");
	check_isolation(ksal_spawn_locked_supported());
}

Test(spawn, isolation_built_by_the_init)
{
	ksal_spawn_force_legacy(true);
	cr_assert_not(ksal_spawn_locked_supported());
	check_isolation(false);
}

Test(spawn, isolation_with_the_mount2_fallback)
{
	ksal_mount_force_legacy(true);
	cr_assert_not(ksal_mount_new_api());
	cr_assert_not(ksal_spawn_locked_supported());
	check_isolation(false);
}

Test(spawn, devpts_without_a_mapped_tty_group)
{
	/* gid 5 (tty) unmapped: devpts must be mounted without gid=5 */
	static const struct ksal_idmap one[] = { { 0, HOST_BASE, 1 } };
	char *argv[] = { "/bin/sh", "-c", "ls /dev/pts/ptmx", NULL };
	_cleanup_free_ char *out = NULL;
	struct ksal_spawn_cfg cfg;
	struct ksal_spawned sp;

	default_cfg(&cfg, argv);
	cfg.gid_map = one;
	cfg.n_gid_map = 1;
	out = spawn_output(&cfg, &sp, false);
	cr_assert_str_eq(out, "/dev/pts/ptmx\n");
	cr_assert_eq(wait_exit(sp.pidfd), 0);
	untrack_close(sp.pidfd);
}

Test(spawn, on_an_overlayfs_root)
{
	/* the runtime's shape: the root is overlayfs over a read-only layer */
	static const char script[] = "echo hi > /tmp/made-inside && cat /tmp/made-inside\n"
				     "echo id=$(id -u)\n";
	char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	_cleanup_free_ char *out = NULL, *opts = NULL;
	char tmpl[] = "/tmp/stspawn-ovl-XXXXXX", path[256], merged[256];
	struct ksal_spawn_cfg cfg;
	struct ksal_spawned sp;
	struct stat st;

	cr_assert_not_null(mkdtemp(tmpl));
	g_ovl = strdup(tmpl);
	chmod(g_ovl, 0755);
	static const char *const sub[] = { "upper", "work", "merged" };
	for (size_t i = 0; i < ARRAY_SIZE(sub); i++) {
		snprintf(path, sizeof(path), "%s/%s", g_ovl, sub[i]);
		cr_assert_eq(mkdir(path, 0755), 0);
		cr_assert_eq(chown(path, HOST_BASE, HOST_BASE), 0);
	}
	snprintf(merged, sizeof(merged), "%s/merged", g_ovl);
	cr_assert_geq(asprintf(&opts, "lowerdir=%s,upperdir=%s/upper,workdir=%s/work", g_root,
			       g_ovl, g_ovl),
		      0);
	cr_assert_eq(mount("overlay", merged, "overlay", 0, opts), 0, "mount overlay: %m");

	default_cfg(&cfg, argv);
	cfg.rootfs = merged;
	out = spawn_output(&cfg, &sp, true);
	cr_assert_eq(wait_exit(sp.pidfd), 0, "%s", out);
	untrack_close(sp.pidfd);
	cr_assert_str_eq(out, "hi\nid=0\n");
	/* the write went to the upper layer, owned by the container's root */
	snprintf(path, sizeof(path), "%s/upper/tmp/made-inside", g_ovl);
	cr_assert_eq(stat(path, &st), 0, "not in the upper layer");
	cr_assert_eq(st.st_uid, HOST_BASE);
	snprintf(path, sizeof(path), "%s/tmp/made-inside", g_root);
	cr_assert_neq(access(path, F_OK), 0, "the lower layer was written");
}

Test(spawn, probe_sees_no_filter_on_the_host)
{
	/* the probe tells EPERM from a call that got through: on the host,
	 * with no filter, keyctl and perf_event_open are not refused with EPERM
	 * as root */
	const char *probe = getenv("STSPAWN_PROBE");
	char cmd[600];
	char line[256] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s syscalls", probe);
	f = popen(cmd, "re");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	pclose(f);
	cr_assert_null(strstr(line, "keyctl=EPERM"), "%s", line);
	cr_assert_null(strstr(line, "perf_event_open=EPERM"), "%s", line);
}

Test(spawn, missing_init_fails_naming_it_and_leaves_no_process)
{
	char *argv[] = { "/sbin/no-such-init", NULL };
	struct st_error *err = NULL;
	struct ksal_spawn_cfg cfg;
	struct ksal_spawned sp = { .pid = -1, .pidfd = -1 };

	default_cfg(&cfg, argv);
	cr_assert_lt(ksal_spawn(&cfg, &sp, &err), 0);
	cr_assert_not_null(err);
	cr_assert_not_null(strstr(err->msg, "/sbin/no-such-init"), "%s", err->msg);
	cr_assert_eq(err->errnum, ENOENT, "%s", err->msg);
	cr_assert_eq(err->exit_code, ST_EXIT_BROKEN);
	cr_assert_eq(sp.pidfd, -1);
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "a child was left behind");
	cr_assert_eq(errno, ECHILD);
	st_error_free(err);
}

static int hook_fails(pid_t pid, int pidfd, void *data, struct st_error **err)
{
	char path[64];
	_cleanup_free_ char *m = NULL;
	FILE *f;
	char line[128] = "";

	/* the maps are written before the hook runs */
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
	}
	*(bool *)data = strtoul(line, NULL, 10) == 0 && strstr(line, "200000");
	return st_error_set(err, EADDRINUSE, "move veth `stspawn0` into pid %d", (int)pid);
}

Test(spawn, hook_failure_aborts_the_start)
{
	char *argv[] = { "/bin/true", NULL };
	struct st_error *err = NULL;
	struct ksal_spawn_cfg cfg;
	struct ksal_spawned sp;
	bool maps_seen = false;

	default_cfg(&cfg, argv);
	cfg.parent_hook = hook_fails;
	cfg.hook_data = &maps_seen;
	cr_assert_lt(ksal_spawn(&cfg, &sp, &err), 0);
	cr_assert_not_null(err);
	cr_assert_not_null(strstr(err->msg, "stspawn0"), "%s", err->msg);
	cr_assert(maps_seen, "uid_map was not written before the hook");
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "a child was left behind");
	st_error_free(err);
}

Test(spawn, bad_mount_is_reported_with_its_path)
{
	char *argv[] = { "/bin/true", NULL };
	static const struct ksal_bind binds[] = {
		{ .source = "/nonexistent/stspawn-src", .target = "/mnt/x" },
	};
	struct st_error *err = NULL;
	struct ksal_spawn_cfg cfg;
	struct ksal_spawned sp;

	default_cfg(&cfg, argv);
	cfg.binds = binds;
	cfg.n_binds = 1;
	cr_assert_lt(ksal_spawn(&cfg, &sp, &err), 0);
	cr_assert_not_null(strstr(err->msg, "/nonexistent/stspawn-src"), "%s", err->msg);
	cr_assert_not_null(strstr(err->msg, "/mnt/x"), "%s", err->msg);
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1);
	st_error_free(err);
}

static void check_binds(void)
{
	static const char script[] = "echo bind=$(cat /mnt/in/hello)\n"
				     "echo hi > /mnt/in/new 2>/dev/null && echo rw=yes || echo "
				     "rw=no\n"
				     "echo console=$(ls /dev/console)\n"
				     "touch /etc/x 2>/dev/null && echo etc=rw || echo etc=ro\n"
				     "echo masked=$(ls /tmp/hostdir | wc -l)\n"
				     "echo END\n";
	char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	static const char *const ro[] = { "/etc", NULL };
	_cleanup_close_ int out_r = -EBADF, out_w = -EBADF, ptm = -EBADF, pts = -EBADF;
	struct st_error *err = NULL;
	struct ksal_spawn_cfg cfg;
	struct ksal_spawned sp;
	struct ksal_bind binds[1];
	char src[512], file[600];
	_cleanup_free_ char *out = NULL;
	int p[2];

	snprintf(src, sizeof(src), "%s/tmp/hostdir", g_root);
	cr_assert_eq(mkdir(src, 0755), 0);
	snprintf(file, sizeof(file), "%s/hello", src);
	FILE *f = fopen(file, "we");
	cr_assert_not_null(f);
	fputs("world\n", f);
	fclose(f);
	binds[0] = (struct ksal_bind){ .source = src, .target = "/mnt/in", .readonly = true };

	ptm = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert_geq(ptm, 0);
	cr_assert_eq(grantpt(ptm), 0);
	cr_assert_eq(unlockpt(ptm), 0);
	pts = open(ptsname(ptm), O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert_geq(pts, 0);

	default_cfg(&cfg, argv);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	out_r = p[0], out_w = p[1];
	cfg.stdio[1] = out_w;
	cfg.binds = binds;
	cfg.n_binds = 1;
	cfg.readonly_paths = ro;
	static const char *const masked[] = { "/tmp/hostdir", NULL };
	cfg.masked_paths = masked;
	cfg.console_fd = pts;
	cr_assert_eq(ksal_spawn(&cfg, &sp, &err), 0, "spawn: %s", err ? err->msg : "");
	track_pidfd(sp.pidfd);
	closep(&out_w);
	out = read_until(out_r, NULL);
	assert_field(out, "bind", "world");
	assert_field(out, "rw", "no");
	assert_field(out, "console", "/dev/console");
	assert_field(out, "etc", "ro");
	assert_field(out, "masked", "0");
	cr_assert_eq(wait_exit(sp.pidfd), 0);
	untrack_close(sp.pidfd);
}

Test(spawn, binds_console_and_readonly_paths)
{
	check_binds();
}

Test(spawn, binds_with_the_mount2_fallback)
{
	ksal_mount_force_legacy(true);
	check_binds();
}

Test(spawn, into_a_cgroup2)
{
	char *argv[] = { "/bin/sh", "-c", "read x; exit 0", NULL };
	_cleanup_close_ int cg = -EBADF, in_r = -EBADF, in_w = -EBADF;
	struct st_error *err = NULL;
	struct ksal_spawn_cfg cfg;
	struct ksal_spawned sp;
	char path[128], line[256], want[128];
	int p[2];
	bool found = false;

	if (access("/sys/fs/cgroup/unified/cgroup.procs", F_OK) < 0)
		cr_skip_test("no cgroup2 at /sys/fs/cgroup/unified");
	snprintf(path, sizeof(path), "/sys/fs/cgroup/unified/stspawn-%d", (int)getpid());
	cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s: %m", path);
	g_cgroup = strdup(path);
	cg = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	cr_assert_geq(cg, 0);

	default_cfg(&cfg, argv);
	cfg.cgroup_fd = cg;
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	in_r = p[0], in_w = p[1];
	cfg.stdio[0] = in_r;
	cr_assert_eq(ksal_spawn(&cfg, &sp, &err), 0, "spawn: %s", err ? err->msg : "");
	track_pidfd(sp.pidfd);

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)sp.pid);
	snprintf(want, sizeof(want), "0::/stspawn-%d\n", (int)getpid());
	FILE *f = fopen(path, "re");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strcmp(line, want))
			found = true;
	fclose(f);
	cr_assert(found, "init not in %s", want);
	closep(&in_w);
	cr_assert_eq(wait_exit(sp.pidfd), 0);
	untrack_close(sp.pidfd);
}

/* A v1 attach in the hook (as the runtime does on a hybrid host): the
 * container's cgroup ns is rooted at that cgroup. */
static int hook_attach_v1(pid_t pid, int pidfd, void *data, struct st_error **err)
{
	char buf[32];
	int fd = *(int *)data, n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);

	if (write(fd, buf, (size_t)n) != n)
		return st_error_set(err, errno, "attach %d to the v1 pids cgroup", (int)pid);
	return 0;
}

Test(spawn, cgroup_ns_is_rooted_after_the_hook)
{
	static const char script[] = "echo pids=$(grep :pids: /proc/self/cgroup | cut -d: -f3)\n"
				     "echo END\n";
	char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	_cleanup_close_ int procs = -EBADF;
	_cleanup_free_ char *out = NULL;
	struct ksal_spawn_cfg cfg;
	struct ksal_spawned sp;
	char path[160];

	if (access("/sys/fs/cgroup/pids/cgroup.procs", F_OK) < 0)
		cr_skip_test("no v1 pids hierarchy");
	snprintf(path, sizeof(path), "/sys/fs/cgroup/pids/stspawn-%d", (int)getpid());
	cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s: %m", path);
	g_cgroup_v1 = strdup(path);
	snprintf(path, sizeof(path), "%s/cgroup.procs", g_cgroup_v1);
	procs = open(path, O_WRONLY | O_CLOEXEC);
	cr_assert_geq(procs, 0);

	default_cfg(&cfg, argv);
	cfg.parent_hook = hook_attach_v1;
	cfg.hook_data = &procs;
	out = spawn_output(&cfg, &sp, false);
	assert_field(out, "pids", "/");
	cr_assert_eq(wait_exit(sp.pidfd), 0);
	untrack_close(sp.pidfd);
}

Test(spawn, cgroupfs_like_nspawn)
{
	static const char script[] =
		"echo cg=$(ls /sys/fs/cgroup)\n"
		"echo self=$(grep '^0::' /proc/self/cgroup)\n"
		"mkdir /sys/fs/cgroup/unified/sub 2>/dev/null && echo v2=rw || echo v2=ro\n"
		"mkdir /sys/fs/cgroup/memory/sub 2>/dev/null && echo mem=rw || echo mem=ro\n"
		"touch /sys/fs/cgroup/x 2>/dev/null && echo tmpfs=rw || echo tmpfs=ro\n"
		"echo first=$(head -n1 /sys/fs/cgroup/unified/cgroup.procs)\n"
		"echo END\n";
	char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	_cleanup_close_ int cg = -EBADF;
	_cleanup_free_ char *out = NULL, *want = NULL;
	struct ksal_spawn_cfg cfg;
	struct ksal_spawned sp;
	char path[160];

	if (access("/sys/fs/cgroup/unified/cgroup.procs", F_OK) < 0 ||
	    access("/sys/fs/cgroup/memory/cgroup.procs", F_OK) < 0)
		cr_skip_test("not this host's hybrid layout");
	snprintf(path, sizeof(path), "/sys/fs/cgroup/unified/stspawn-%d", (int)getpid());
	cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s: %m", path);
	g_cgroup = strdup(path);
	/* delegated to the container's root, as the runtime does */
	cr_assert_eq(chown(path, HOST_BASE, HOST_BASE), 0);
	cg = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	cr_assert_geq(cg, 0);

	default_cfg(&cfg, argv);
	cfg.cgroupfs = true;
	cfg.cgroup_fd = cg;
	out = spawn_output(&cfg, &sp, true);
	/* the same hierarchies as the host's */
	struct dirent **ents;
	int nents = scandir("/sys/fs/cgroup", &ents, NULL, alphasort);
	char hostls[512] = "";
	cr_assert_gt(nents, 0);
	for (int i = 0; i < nents; i++) {
		if (ents[i]->d_name[0] != '.') {
			if (hostls[0])
				strcat(hostls, " ");
			strncat(hostls, ents[i]->d_name, sizeof(hostls) - strlen(hostls) - 2);
		}
		free(ents[i]);
	}
	free(ents);
	assert_field(out, "cg", hostls);
	assert_field(out, "self", "0::/");
	assert_field(out, "v2", "rw");
	assert_field(out, "mem", "ro");
	assert_field(out, "tmpfs", "ro");
	assert_field(out, "first", "1");
	cr_assert_eq(wait_exit(sp.pidfd), 0);
	untrack_close(sp.pidfd);
	snprintf(path, sizeof(path), "%s/sub", g_cgroup);
	cr_assert_eq(access(path, F_OK), 0, "the container's mkdir did not land in its cgroup");
}

Test(spawn, pidfd_adopt_checks_the_start_time)
{
	char *argv[] = { "/bin/sh", "-c", "read x; exit 0", NULL };
	_cleanup_close_ int in_r = -EBADF, in_w = -EBADF, fd = -EBADF;
	struct st_error *err = NULL;
	struct ksal_spawn_cfg cfg;
	struct ksal_spawned sp;
	int p[2];

	default_cfg(&cfg, argv);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	in_r = p[0], in_w = p[1];
	cfg.stdio[0] = in_r;
	cr_assert_eq(ksal_spawn(&cfg, &sp, &err), 0, "spawn: %s", err ? err->msg : "");
	track_pidfd(sp.pidfd);
	cr_assert_eq(ksal_pidfd_adopt(sp.pid, sp.start_time, &fd, &err), 0, "%s",
		     err ? err->msg : "");
	cr_assert_lt(ksal_pidfd_adopt(sp.pid, sp.start_time + 1, &(int){ -1 }, &err), 0);
	cr_assert_not_null(strstr(err->msg, "reused"), "%s", err->msg);
	st_error_free(err);
	closep(&in_w);
	cr_assert_eq(wait_exit(sp.pidfd), 0);
	untrack_close(sp.pidfd);
}

Test(spawn, privileged_container_without_userns)
{
	static const char script[] =
		"echo pid=$$\n"
		"echo kcore=$(cat /proc/kcore 2>/dev/null | wc -c)\n"
		"echo h > /proc/sysrq-trigger 2>/dev/null && echo sysrq=writable || "
		"echo sysrq=refused\n"
		"echo capbnd=$(grep CapBnd /proc/self/status | cut -f2)\n"
		"v=$(cat /proc/sys/net/ipv4/ip_forward); echo $v > /proc/sys/net/ipv4/ip_forward "
		"2>/dev/null && echo hostnet=writable || echo hostnet=refused\n"
		"echo END\n"
		"read x; exit 0\n";
	char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	_cleanup_close_ int out_r = -EBADF, out_w = -EBADF, in_r = -EBADF, in_w = -EBADF;
	_cleanup_free_ char *out = NULL, *capbnd = NULL;
	struct st_error *err = NULL;
	struct ksal_spawn_cfg cfg;
	struct ksal_spawned sp;
	int p[2];

	default_cfg(&cfg, argv);
	cfg.userns = false;
	cfg.new_net = false;
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	out_r = p[0], out_w = p[1];
	cfg.stdio[1] = out_w;
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	in_r = p[0], in_w = p[1];
	cfg.stdio[0] = in_r;
	cr_assert_eq(ksal_spawn(&cfg, &sp, &err), 0, "spawn: %s", err ? err->msg : "");
	track_pidfd(sp.pidfd);
	closep(&out_w);
	out = read_until(out_r, "END\n");
	assert_field(out, "pid", "1");
	assert_field(out, "kcore", "0");
	assert_field(out, "hostnet", "refused");
	assert_field(out, "sysrq", "refused");
	capbnd = field(out, "capbnd");
	cr_assert_not_null(capbnd, "%s", out);
	cr_assert_eq(strtoull(capbnd, NULL, 16) & (1ULL << 16), 0, "CapBnd %s", capbnd);
	cr_assert(same_ns(sp.pid, "net"));
	cr_assert(same_ns(sp.pid, "user"));
	/* enter works without a user namespace to join */
	{
		char *eargv[] = { "hostname", NULL };
		struct running r = { .sp = sp, .in_w = -1 };
		int status;
		_cleanup_free_ char *eout = enter_run(&r, eargv, NULL, &status);
		cr_assert_eq(status, 0);
		cr_assert_str_eq(eout, "stspawn-ct\n");
	}
	closep(&in_w);
	cr_assert_eq(wait_exit(sp.pidfd), 0);
	untrack_close(sp.pidfd);
}
