/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Issue 4's "How it will be checked", through a private stratad (root): what
 * an attacker inside a container can see and do, what the host sees of it,
 * the PRIVILEGED=yes opt-out, and the Debian 12 systemd boot (stop with the
 * halt signal, reboot inside). Containers 9900-9949, a private daemon from
 * tests/helpers/daemonutil (state under /tmp/stsec-XXXXXX, log appended to
 * /tmp/stsec-daemon.log, cgroup subtree stsec-<pid>); the test plays the host
 * in network and mount namespaces of its own, and .fini removes everything
 * even when an assertion failed.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/spawn.h"
#include "tests/helpers/daemonutil.h"
#include "tests/helpers/testutil.h"

/* Where scripts/test.sh's "templates" stage caches the debian-12 image. */
#define DEBIAN_IMAGE_CACHED "/var/cache/strata/images/debian-12.sqfs"

/* The harness's daemon log is appended to across runs: where this test's
 * part of it begins. */
static size_t log_start;

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* `sh -c script` in the container: its output (malloc'd), exit code in *code. */
static char *sh(const char *ctid, const char *script, int *code)
{
	char *out = NULL;
	int c = du_sh(ctid, script, &out);

	if (code)
		*code = c;
	return out;
}

/* One sec_probe verb in the container: its `VERB=result` value (malloc'd). */
static char *probe(const char *ctid, const char *verb, const char *arg)
{
	const char *argv[] = { "/bin/sec_probe", verb, arg, NULL };
	_cleanup_free_ char *out = NULL;
	char *eq, *nl;

	du_exec_out(ctid, argv, &out);
	eq = out ? strchr(out, '=') : NULL;
	cr_assert_not_null(eq, "sec_probe %s: `%s`", verb, out ? out : "");
	nl = strchr(eq, '\n');
	if (nl)
		*nl = '\0';
	return strdup(eq + 1);
}

static json_t *ct_entry(json_t *list, const char *ctid)
{
	size_t i;
	json_t *c;

	json_array_foreach (json_object_get(list, "containers"), i, c) {
		if (!strcmp(json_string_value(json_object_get(c, "ctid")), ctid))
			return c;
	}
	return NULL;
}

/* A field of the host's /proc/PID/status ("Uid", "CapBnd"...): malloc'd. */
static char *host_status(pid_t pid, const char *field)
{
	char p[64];
	_cleanup_free_ char *st = NULL;
	char *line, *end;
	size_t fl = strlen(field);

	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	st = tu_read_file(p);
	cr_assert_not_null(st, "read %s", p);
	for (line = st; line && *line; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		if (end)
			*end = '\0';
		if (!strncmp(line, field, fl) && line[fl] == ':')
			return strdup(line + fl + 1);
	}
	cr_assert_fail("no %s in %s", field, p);
	return NULL;
}

static char *sha256_of(const char *path)
{
	const char *argv[] = { "sha256sum", path, NULL };
	char *out = NULL;

	cr_assert_eq(tu_run(argv, &out), 0, "sha256sum %s: %s", path, out ? out : "");
	out[strcspn(out, " ")] = '\0';
	return out;
}

/* The test template: testinit + busybox + sec_probe + an empty "module". */
static void make_template(const char *name)
{
	_cleanup_free_ char *root = du_path("/rootfs-%s", name);
	_cleanup_free_ char *img = du_path("/%s.sqfs", name);
	_cleanup_free_ char *bin = du_path("/rootfs-%s/bin/sec_probe", name);
	_cleanup_free_ char *ko = du_path("/rootfs-%s/empty.ko", name);
	_cleanup_free_ char *out = NULL;
	char *msg = NULL;
	json_t *res = NULL;

	cr_assert_eq(tu_mkrootfs(root), 0);
	const char *cp[] = { "cp", SEC_PROBE_PATH, bin, NULL };
	cr_assert_eq(tu_run(cp, &out), 0, "cp sec_probe: %s", out ? out : "");
	cr_assert_eq(tu_write_file(ko, ""), 0);
	free(out);
	out = NULL;
	const char *argv[] = { "mksquashfs", root, img, "-noappend", "-quiet", "-all-root", NULL };
	cr_assert_eq(tu_run(argv, &out), 0, "mksquashfs: %s", out ? out : "");
	cr_assert_eq(du_call("template-import", NULL,
			     json_pack("{s:s,s:s}", "name", name, "file", img), &res, &msg),
		     0, "template-import: %s", msg ? msg : "");
	json_decref(res);
}

/* Every hierarchy's <subtree>, deepest first: systemd makes cgroups of its
 * own inside a container's, which du_teardown() leaves behind. */
static void remove_cgroup_trees(const char *subtree)
{
	_cleanup_closedir_ DIR *d = opendir("/sys/fs/cgroup");
	struct dirent *e;

	if (!d || !subtree[0])
		return;
	while ((e = readdir(d))) {
		_cleanup_free_ char *top = NULL;

		if (e->d_name[0] == '.' ||
		    asprintf(&top, "/sys/fs/cgroup/%s/%s", e->d_name, subtree) < 0 ||
		    access(top, F_OK) < 0)
			continue;
		const char *rm[] = { "find",  top,     "-depth", "-type", "d",
				     "-exec", "rmdir", "{}",	 ";",	  NULL };
		tu_run(rm, NULL);
	}
}

static void setup(void)
{
	/* the test plays the host in network and mount namespaces of its own */
	du_setup(&(struct du_opts){ .prefix = "stsec", .netns = true, .mntns = true });
	/* the debian test tells a halt from a kill by the stop's duration */
	du_conf_addf("STOP_TIMEOUT=60\n");
	{
		_cleanup_free_ char *old = tu_read_file(du.log);

		log_start = old ? strlen(old) : 0;
	}
	du_daemon_start();
}

static void teardown(void)
{
	char subtree[sizeof(du.subtree)];

	snprintf(subtree, sizeof(subtree), "%s", du.subtree);
	du_teardown();
	remove_cgroup_trees(subtree);
}

TestSuite(security, .init = setup, .fini = teardown, .timeout = 120);

#define skip_test(why)                                                                             \
	do {                                                                                       \
		teardown();                                                                        \
		cr_skip_test(why);                                                                 \
	} while (0)

static void create_start(const char *ctid, json_t *options)
{
	char *msg = NULL;
	json_t *args = json_pack("{s:s}", "ostemplate", "sec");

	if (options)
		json_object_set_new(args, "options", options);
	cr_assert_eq(du_call("create", ctid, args, NULL, &msg), 0, "create %s: %s", ctid, msg);
	cr_assert_eq(du_call("start", ctid, NULL, NULL, &msg), 0, "start %s: %s", ctid, msg);
}

#define assert_refused(ctid, verb, arg, want)                                                      \
	do {                                                                                       \
		_cleanup_free_ char *r_ = probe(ctid, verb, arg);                                  \
		cr_assert_str_eq(r_, want, "%s %s inside the container: %s, not %s", verb, arg,    \
				 r_, want);                                                        \
	} while (0)

Test(security, host_is_invisible_and_proc_is_masked)
{
	_cleanup_free_ char *ps = NULL, *n = NULL, *kc = NULL, *sq = NULL, *self = NULL;

	if (!tu_have_busybox())
		skip_test("no static busybox for a shell inside");
	make_template("sec");
	create_start("9900", NULL);
	/* ps shows the container's init and the ps itself, not the host's */
	ps = sh("9900", "ps -o pid,comm", NULL);
	cr_assert(strstr(ps, "init"), "no init in ps: %s", ps);
	cr_assert_null(strstr(ps, "stratad"), "the host's daemon is visible: %s", ps);
	n = sh("9900", "ls /proc | grep -c '^[0-9]'", NULL);
	cr_assert_leq(atoi(n), 5, "%d processes visible inside:\n%s", atoi(n), ps);
	/* no HOSTNAME: the container is called 9900, not by the host's name */
	{
		_cleanup_free_ char *hn = sh("9900", "hostname", NULL);
		char host[256] = "";

		cr_assert_eq(gethostname(host, sizeof(host) - 1), 0);
		cr_assert_str_eq(hn, "9900\n", "hostname inside: %s (the host is `%s`)", hn, host);
	}
	self = sh("9900", "cat /proc/1/comm; readlink /proc/self/ns/pid", NULL);
	{
		char hostns[64] = "";
		ssize_t l = readlink("/proc/self/ns/pid", hostns, sizeof(hostns) - 1);

		cr_assert_gt(l, 0);
		cr_assert_null(strstr(self, hostns), "same pid namespace as the host: %s", self);
	}
	/* /proc/kcore gives nothing, sysrq cannot be triggered (where this
	 * kernel has them at all), the host's timers and keys are not shown */
	if (access("/proc/kcore", F_OK) == 0) {
		kc = probe("9900", "open_read", "/proc/kcore");
		cr_assert_str_neq(kc, "ok", "/proc/kcore is readable inside");
	} else {
		fprintf(stderr, "security: this kernel has no /proc/kcore\n");
	}
	if (access("/proc/sysrq-trigger", F_OK) == 0) {
		sq = probe("9900", "open_write", "/proc/sysrq-trigger");
		cr_assert_str_neq(sq, "ok", "/proc/sysrq-trigger is writable inside");
	} else {
		fprintf(stderr, "security: this kernel has no /proc/sysrq-trigger\n");
	}
	free(kc);
	kc = probe("9900", "open_read", "/proc/keys");
	cr_assert_str_neq(kc, "ok", "/proc/keys is readable inside");
	free(kc);
	kc = probe("9900", "open_read", "/proc/timer_list");
	cr_assert_str_neq(kc, "ok", "/proc/timer_list (the host's timers) is readable inside");
	/* root inside may not remount /proc/sys or /sys read-write (where the
	 * kernel lets stratad lock the mounts), and the host's kernel settings
	 * stay out of reach either way: writes are checked against the host's
	 * root */
	{
		int code = 0;
		_cleanup_free_ char *o1 =
			sh("9900",
			   "mount -o remount,rw /proc/sys 2>&1 && echo PROCSYS-RW; "
			   "mount -o remount,rw /sys 2>&1 && echo SYS-RW; "
			   "echo 1 > /proc/sys/kernel/sysrq && echo WROTE-SYSRQ; "
			   "echo 1 > /proc/sys/vm/drop_caches && echo WROTE-VM; "
			   "echo 0 > /proc/sys/kernel/panic && echo WROTE-PANIC; "
			   "echo 0 > /proc/sys/fs/protected_symlinks && echo WROTE-FS; "
			   "echo 2 > /sys/kernel/mm/ksm/run && echo WROTE-SYS; "
			   "mkdir -p /tmp/p; mount -t proc proc /tmp/p 2>&1 && { echo NEW-PROC; "
			   "echo h > /tmp/p/sysrq-trigger && echo WROTE-TRIGGER; "
			   "echo 1 > /tmp/p/sys/vm/drop_caches && echo WROTE-VM2; }; true",
			   &code);
		fprintf(stderr, "security: remount attempts inside:\n%s", o1);
		/* the masks are locked to /proc: root inside cannot unmount them
		 * (and where they are not, what lies beneath stays closed) */
		_cleanup_free_ char *o5 =
			sh("9900",
			   "umount /proc/timer_list 2>&1 && echo UNMASKED-TIMERS; "
			   "umount /proc/keys 2>&1 && echo UNMASKED-KEYS; "
			   "umount /proc/sys 2>&1 && echo UNMASKED-SYS; "
			   "[ $(head -c 64 /proc/timer_list 2>/dev/null | wc -c) -gt 0 ] && "
			   "echo READ-TIMERS; "
			   "echo keys=$(grep -c . /proc/keys); true",
			   &code);
		fprintf(stderr, "security: unmasking inside:\n%s", o5);
		cr_assert_null(strstr(o5, "READ-TIMERS"), "the host's timers are readable: %s", o5);
		cr_assert(strstr(o5, "keys=0"), "keys visible after unmasking /proc/keys: %s", o5);
		cr_assert_null(strstr(o1, "WROTE-"), "a host kernel setting was written: %s", o1);
		if (ksal_spawn_locked_supported()) {
			cr_assert_null(strstr(o5, "UNMASKED"), "a mask could be unmounted: %s", o5);
			cr_assert_null(strstr(o1, "PROCSYS-RW"), "/proc/sys became writable: %s",
				       o1);
			cr_assert_null(strstr(o1, "SYS-RW"), "/sys became writable: %s", o1);
		} else {
			fprintf(stderr, "security: this kernel cannot lock the container's mounts "
					"(no proc pidns= option): the masks are not locked\n");
		}
	}
}

/* NESTING=yes: containers inside need a fresh proc of their own pid
 * namespace, which locked masks forbid; the host's settings stay refused */
Test(security, nesting_allows_a_fresh_proc)
{
	_cleanup_free_ char *o = NULL, *o2 = NULL;
	int code = 0;

	if (!tu_have_busybox())
		skip_test("no static busybox for a shell inside");
	make_template("sec");
	create_start("9906", json_pack("{s:s}", "nesting", "yes"));
	o = sh("9906",
	       "mkdir -p /tmp/p; mount -t proc proc /tmp/p 2>&1 && { echo NEW-PROC; "
	       "echo h > /tmp/p/sysrq-trigger && echo WROTE-TRIGGER; "
	       "echo 1 > /tmp/p/sys/vm/drop_caches && echo WROTE-VM; umount /tmp/p; }; true",
	       &code);
	fprintf(stderr, "security: NESTING=yes, a fresh proc inside:\n%s", o);
	cr_assert(strstr(o, "NEW-PROC"), "no fresh proc with NESTING=yes: %s", o);
	cr_assert_null(strstr(o, "WROTE-"), "a host kernel setting was written: %s", o);
	if (!ksal_spawn_locked_supported())
		return;
	create_start("9907", NULL);
	o2 = sh("9907", "mkdir -p /tmp/p; mount -t proc proc /tmp/p 2>&1 && echo NEW-PROC; true",
		&code);
	cr_assert_null(strstr(o2, "NEW-PROC"), "a fresh proc over the locked masks: %s", o2);
}

Test(security, template_cannot_be_written)
{
	_cleanup_free_ char *img = NULL, *before = NULL, *after = NULL, *upper = NULL;
	_cleanup_free_ char *lower = NULL, *text = NULL, *ltext = NULL, *out = NULL;
	int code = 0;

	if (!tu_have_busybox())
		skip_test("no static busybox for a shell inside");
	make_template("sec");
	img = du_path("/templates/%s/1/image.sqfs", "sec");
	before = sha256_of(img);
	create_start("9902", NULL);
	out = sh("9902",
		 "echo attacker >> /etc/os-release && rm /bin/ls && "
		 "touch /new-at-root && cat /etc/os-release",
		 &code);
	cr_assert_eq(code, 0, "root inside cannot write its own root: %s", out);
	cr_assert(strstr(out, "attacker"), "%s", out);
	/* every remount of the root or of a mount inside fails or stays an overlay */
	free(out);
	out = sh(
		"9902",
		"cat /proc/mounts; "
		"for m in $(sed -n 's/^[^ ]* \\([^ ]*\\) [^ ]* ro[,\\ ].*/\\1/p' /proc/mounts); do "
		"  mount -o remount,rw $m 2>/dev/null && echo RW:$m; "
		"done; echo squashfs=$(grep -c squashfs /proc/mounts); true",
		&code);
	/* Without locked mounts (older kernels) /proc/sys is a mount of the
	 * container's own user namespace, so its root can remount it
	 * read-write; only the namespaced settings then become writable, the
	 * host's stay refused (host_is_invisible_and_proc_is_masked). */
	if (!ksal_spawn_locked_supported()) {
		char *rw = strstr(out, "RW:/proc/sys\n");

		if (rw)
			memmove(rw, rw + 13, strlen(rw + 13) + 1);
	}
	cr_assert_null(strstr(out, "RW:"), "a mount became writable: %s", out);
	cr_assert(strstr(out, "squashfs=0\n"), "the template's squashfs is visible inside: %s",
		  out);
	/* the writes landed in the private area's upper layer */
	upper = du_path("/private/%s/upper/etc/os-release", "9902");
	text = tu_read_file(upper);
	cr_assert(text && strstr(text, "attacker"), "no copy-up in the upper layer");
	free(upper);
	upper = du_path("/private/%s/upper/new-at-root", "9902");
	cr_assert_eq(access(upper, F_OK), 0, "a new file is not in the upper layer");
	/* the template layer and its image are untouched */
	lower = du_path("/run/templates/%s@1/etc/os-release", "sec");
	ltext = tu_read_file(lower);
	cr_assert_not_null(ltext, "no template layer at %s", lower);
	cr_assert_null(strstr(ltext, "attacker"), "the template layer was written");
	free(lower);
	lower = du_path("/run/templates/%s@1/bin/ls", "sec");
	cr_assert_eq(access(lower, F_OK), 0, "a delete inside removed the template's file");
	cr_assert_eq(du_call("stop", "9902", NULL, NULL, NULL), 0);
	after = sha256_of(img);
	cr_assert_str_eq(before, after, "the template image changed");
}

Test(security, devices_modules_keys_bpf_are_refused)
{
	_cleanup_free_ char *devs = NULL, *full = NULL;
	int code = 0;

	if (!tu_have_busybox())
		skip_test("no static busybox for a shell inside");
	make_template("sec");
	create_start("9903", NULL);
	/* a disk node cannot be made, in /tmp or in /dev */
	assert_refused("9903", "mknod", "/tmp/sda", "EPERM");
	assert_refused("9903", "mknod", "/dev/sda", "EPERM");
	/* /dev holds the allowlist only */
	devs = sh("9903", "ls /dev | tr '\\n' ' '", NULL);
	{
		static const char *const allowed[] = { "null",	  "zero",   "full",    "random",
						       "urandom", "tty",    "console", "ptmx",
						       "pts",	  "shm",    "fd",      "stdin",
						       "stdout",  "stderr", "mqueue",  "core" };
		char *save = NULL, *copy = strdup(devs);

		for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
			bool ok = false;

			for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
				ok = ok || !strcmp(w, allowed[i]);
			cr_assert(ok, "/dev/%s inside (not in the allowlist): %s", w, devs);
		}
		free(copy);
	}
	/* the host enforces the allowlist in the devices cgroup: no wildcard,
	 * no block device at all */
	{
		char p[512];
		_cleanup_free_ char *list = NULL;

		snprintf(p, sizeof(p), "/sys/fs/cgroup/devices/%s/9903/devices.list", du.subtree);
		list = tu_read_file(p);
		cr_assert_not_null(list, "no devices cgroup at %s", p);
		cr_assert_null(strstr(list, "a *:* rwm"), "every device allowed: %s", list);
		cr_assert(list[0] == 'c' && !strstr(list, "\nb "), "block devices allowed: %s",
			  list);
	}
	/* the allowed ones work */
	full = sh("9903", "echo x > /dev/full; echo $?; head -c 4 /dev/zero | wc -c", &code);
	cr_assert(strstr(full, "1\n4"), "/dev/full or /dev/zero misbehave: %s", full);
	/* kernel modules, keyrings, bpf, kexec, perf, handles, the clock */
	assert_refused("9903", "finit_module", "/empty.ko", "EPERM");
	assert_refused("9903", "init_module", "", "EPERM");
	assert_refused("9903", "add_key", "", "EPERM");
	assert_refused("9903", "keyctl", "", "EPERM");
	assert_refused("9903", "bpf", "", "EPERM");
	assert_refused("9903", "kexec", "", "EPERM");
	assert_refused("9903", "perf", "", "EPERM");
	assert_refused("9903", "open_by_handle", "", "EPERM");
	assert_refused("9903", "settime", "", "EPERM");
}

Test(security, root_inside_is_an_unprivileged_host_uid)
{
	_cleanup_free_ char *uid = NULL, *gid = NULL, *capbnd = NULL, *inside = NULL;
	json_t *res = NULL, *c;
	unsigned long base, u[4], g[4];
	unsigned long long bnd;
	pid_t pid;

	make_template("sec");
	create_start("9904", NULL);
	pid = du_ct_pid("9904");
	cr_assert_gt(pid, 1);
	cr_assert_eq(du_call("list", NULL, json_pack("{s:b}", "all", 1), &res, NULL), 0);
	c = ct_entry(res, "9904");
	cr_assert_not_null(c);
	base = strtoul(json_string_value(json_object_get(c, "id_base")), NULL, 10);
	json_decref(res);
	cr_assert_gt(base, 0, "no id range");
	uid = host_status(pid, "Uid");
	gid = host_status(pid, "Gid");
	cr_assert_eq(sscanf(uid, "%lu %lu %lu %lu", &u[0], &u[1], &u[2], &u[3]), 4);
	cr_assert_eq(sscanf(gid, "%lu %lu %lu %lu", &g[0], &g[1], &g[2], &g[3]), 4);
	for (int i = 0; i < 4; i++) {
		cr_assert(u[i] >= base && u[i] < base + 65536,
			  "the init's host uid %lu is outside [%lu, +65536)", u[i], base);
		cr_assert(g[i] >= base && g[i] < base + 65536,
			  "the init's host gid %lu is outside [%lu, +65536)", g[i], base);
	}
	/* while inside it is root */
	const char *id[] = { "/bin/testinit", "getuid", NULL };
	cr_assert_eq(du_exec_out("9904", id, &inside), 0);
	cr_assert_eq(atoi(inside), 0, "not root inside: %s", inside);
	/* the bounding set lacks what a container must never have */
	capbnd = host_status(pid, "CapBnd");
	bnd = strtoull(capbnd, NULL, 16);
	cr_assert_not(bnd & (1ULL << 16), "CAP_SYS_MODULE in the bounding set: %llx", bnd);
	cr_assert_not(bnd & (1ULL << 17), "CAP_SYS_RAWIO in the bounding set: %llx", bnd);
	cr_assert_not(bnd & (1ULL << 25), "CAP_SYS_TIME in the bounding set: %llx", bnd);
	cr_assert_not(bnd & (1ULL << 32), "CAP_MAC_OVERRIDE in the bounding set: %llx", bnd);
	cr_assert_not(bnd & (1ULL << 33), "CAP_MAC_ADMIN in the bounding set: %llx", bnd);
	/* a user namespace of its own */
	{
		char mine[64] = "", its[64] = "", p[64];
		ssize_t l;

		snprintf(p, sizeof(p), "/proc/%d/ns/user", (int)pid);
		l = readlink(p, its, sizeof(its) - 1);
		cr_assert_gt(l, 0);
		l = readlink("/proc/self/ns/user", mine, sizeof(mine) - 1);
		cr_assert_gt(l, 0);
		cr_assert_str_neq(mine, its, "the container shares the host's user namespace");
	}
}

Test(security, privileged_opt_out_is_host_root_but_still_fenced)
{
	_cleanup_free_ char *uid = NULL, *mk = NULL, *op = NULL;
	unsigned long u[4];
	pid_t pid;

	make_template("sec");
	create_start("9905", json_pack("{s:s}", "privileged", "yes"));
	pid = du_ct_pid("9905");
	cr_assert_gt(pid, 1);
	uid = host_status(pid, "Uid");
	cr_assert_eq(sscanf(uid, "%lu %lu %lu %lu", &u[0], &u[1], &u[2], &u[3]), 4);
	cr_assert(u[0] == 0 && u[1] == 0, "PRIVILEGED=yes: the init is host uid %lu, not 0", u[0]);
	{
		char mine[64] = "", its[64] = "", p[64];

		snprintf(p, sizeof(p), "/proc/%d/ns/user", (int)pid);
		cr_assert_gt(readlink(p, its, sizeof(its) - 1), 0);
		cr_assert_gt(readlink("/proc/self/ns/user", mine, sizeof(mine) - 1), 0);
		cr_assert_str_eq(mine, its, "PRIVILEGED=yes still got a user namespace");
	}
	/* host root inside, yet a disk node made inside cannot be opened
	 * (device allowlist) and modules stay out (bounding set, seccomp) */
	mk = probe("9905", "mknod", "/tmp/sda");
	fprintf(stderr, "security: PRIVILEGED=yes: mknod of a disk: %s\n", mk);
	if (!strcmp(mk, "ok")) {
		op = probe("9905", "open_read", "/tmp/sda");
		cr_assert_str_eq(op, "EPERM", "a disk node opened in a privileged container: %s",
				 op);
	}
	assert_refused("9905", "finit_module", "/empty.ko", "EPERM");
	assert_refused("9905", "init_module", "", "EPERM");
}

Test(security, names_and_ids_that_are_refused)
{
	char *msg = NULL;

	make_template("sec");
	cr_assert_eq(du_call("create", "9906",
			     json_pack("{s:s,s:s}", "ostemplate", "sec", "name", "web/1"), NULL,
			     &msg),
		     21, "a name with '/': %s", msg);
	cr_assert(strstr(msg, "web/1"), "the message does not name it: %s", msg);
	cr_assert_eq(du_call("status", "9906", NULL, NULL, NULL), 14, "the refused create left it");
	cr_assert_eq(du_call("status", "0", NULL, NULL, &msg), 20, "CTID 0: %s", msg);
	cr_assert_eq(du_call("status", "no-such-ct", NULL, NULL, &msg), 14, "unknown name: %s",
		     msg);
	cr_assert_eq(du_call("start", "9949", NULL, NULL, &msg), 14, "unknown CTID: %s", msg);
	cr_assert(strstr(msg, "9949"), "%s", msg);
}

/* ---- Debian 12 with systemd as PID 1 ---- */

static const char *debian_image(void)
{
	const char *img = getenv("STRATA_TEST_DEBIAN_IMAGE");

	if (!img || !*img)
		img = DEBIAN_IMAGE_CACHED;
	return access(img, R_OK) == 0 ? img : NULL;
}

static char *wait_system_running(const char *ctid, double seconds)
{
	const char *isr[] = { "/bin/systemctl", "is-system-running", NULL };
	char *out = NULL;
	double t0 = now_s();

	while (now_s() - t0 < seconds) {
		free(out);
		out = NULL;
		du_exec_out(ctid, isr, &out);
		if (!strncmp(out, "running", 7) || !strncmp(out, "degraded", 8))
			break;
		usleep(100000);
	}
	out[strcspn(out, "\n")] = '\0';
	return out;
}

Test(security, debian_systemd_boots_halts_and_reboots, .timeout = 240)
{
	const char *img = debian_image();
	_cleanup_free_ char *st = NULL, *uid = NULL, *log = NULL, *line = NULL, *st2 = NULL;
	const char *mine;
	char *msg = NULL;
	json_t *res = NULL, *c;
	unsigned long base, u0;
	pid_t pid, pid2 = -1;
	double t0, boot, stop;

	if (!img)
		skip_test("no debian-12 image: run scripts/test.sh's templates stage "
			  "(" DEBIAN_IMAGE_CACHED ") or set STRATA_TEST_DEBIAN_IMAGE");
	cr_assert_eq(du_call("template-import", NULL,
			     json_pack("{s:s,s:s}", "name", "debian-12", "file", img), &res, &msg),
		     0, "%s", msg);
	json_decref(res);
	cr_assert_eq(
		du_call("create", "9910",
			json_pack("{s:s,s:s}", "ostemplate", "debian-12", "hostname", "deb9910"),
			NULL, &msg),
		0, "%s", msg);
	t0 = now_s();
	cr_assert_eq(du_call("start", "9910", NULL, NULL, &msg), 0, "%s", msg);
	st = wait_system_running("9910", 60);
	boot = now_s() - t0;
	fprintf(stderr, "security: debian-12 start to `%s`: %.2f s\n", st, boot);
	if (!strcmp(st, "degraded")) {
		const char *failed[] = { "/bin/systemctl", "--failed", "--no-legend", NULL };
		_cleanup_free_ char *f = NULL;

		du_exec_out("9910", failed, &f);
		cr_assert_fail("systemd is degraded; failed units: %s", f);
	}
	cr_assert_str_eq(st, "running", "systemd did not reach running in 60 s");
	/* in a user namespace: root of the container is not host root */
	pid = du_ct_pid("9910");
	cr_assert_eq(du_call("list", NULL, json_pack("{s:b}", "all", 1), &res, NULL), 0);
	c = ct_entry(res, "9910");
	base = strtoul(json_string_value(json_object_get(c, "id_base")), NULL, 10);
	json_decref(res);
	uid = host_status(pid, "Uid");
	u0 = strtoul(uid, NULL, 10);
	cr_assert(u0 >= base && u0 < base + 65536 && base > 0,
		  "systemd runs as host uid %lu (id base %lu)", u0, base);

	/* reboot inside: the daemon starts it again, and it boots again */
	const char *rb[] = { "/bin/systemctl", "reboot", NULL };
	du_exec_out("9910", rb, NULL);
	for (int i = 0; i < 600; i++) {
		pid2 = du_ct_pid("9910");
		if (pid2 > 0 && pid2 != pid)
			break;
		usleep(50000);
	}
	cr_assert(pid2 > 0 && pid2 != pid, "not restarted after reboot inside");
	st2 = wait_system_running("9910", 60);
	cr_assert_str_eq(st2, "running", "after the reboot: %s", st2);

	/* the daemon takes the halt signal from the template's manifest */
	{
		_cleanup_free_ char *mp = du_path("/templates/debian-12/1/manifest.json");
		json_t *m = json_load_file(mp, 0, NULL);

		cr_assert_not_null(m, "no manifest at %s", mp);
		cr_assert_str_eq(json_string_value(json_object_get(m, "halt_signal")), "SIGRTMIN+3",
				 "debian-12's halt signal is not systemd's");
		json_decref(m);
	}
	/* stop: the halt signal (SIGRTMIN+3) makes systemd power off by itself,
	 * long before STOP_TIMEOUT (60 s here) would have it killed */
	t0 = now_s();
	cr_assert_eq(du_call("stop", "9910", NULL, NULL, &msg), 0, "%s", msg);
	stop = now_s() - t0;
	fprintf(stderr, "security: debian-12 stop: %.2f s\n", stop);
	cr_assert_lt(stop, 10.0, "stop took %.1f s: the halt signal was not acted on", stop);
	log = tu_read_file(du.log);
	cr_assert(log && strlen(log) >= log_start, "no daemon log at %s", du.log);
	mine = log + log_start;
	cr_assert_null(strstr(mine, "stop 9910: no halt after"), "systemd was killed, not halted");
	cr_assert_geq(asprintf(&line, "container 9910: init exited (signal %d)", SIGKILL), 0);
	cr_assert_null(strstr(mine, line), "systemd died of SIGKILL, not of its own poweroff");
	/* the daemon saw two ends of systemd: the reboot, then the poweroff */
	{
		int ends = 0;

		for (const char *l = strstr(mine, "container 9910: init exited"); l;
		     l = strstr(l + 1, "container 9910: init exited")) {
			fprintf(stderr, "security: %.*s\n", (int)strcspn(l, "\n"), l);
			ends++;
		}
		cr_assert_eq(ends, 2, "systemd's init ended %d times, not twice", ends);
	}
}
