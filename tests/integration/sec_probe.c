/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sec_probe: what an attacker inside a container tries, one syscall per
 * verb, static so it runs in any template. Prints `VERB=ok` or
 * `VERB=<errno name>` and exits 0 when the call succeeded, 1 when it failed.
 *
 *   sec_probe finit_module FILE | init_module | add_key | keyctl | bpf
 *             | mknod PATH | open_read PATH | open_write PATH | kexec
 *             | perf | open_by_handle | settime
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static int report(const char *verb, long r)
{
	if (r < 0) {
		const char *name = strerrorname_np(errno);

		printf("%s=%s\n", verb, name ? name : "E?");
		return 1;
	}
	printf("%s=ok\n", verb);
	return 0;
}

static long read_some(const char *path)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -1;
	if (n == 0) {
		/* nothing to read is as good as no access: say so */
		errno = ENODATA;
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : "";
	const char *arg = argc > 2 ? argv[2] : "";

	if (!strcmp(verb, "finit_module")) {
		int fd = open(arg, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			return report("open", -1);
		return report(verb, syscall(SYS_finit_module, fd, "", 0));
	}
	if (!strcmp(verb, "init_module")) {
		static char image[64]; /* not an ELF module: the permission check comes first */

		return report(verb, syscall(SYS_init_module, image, sizeof(image), ""));
	}
	if (!strcmp(verb, "add_key"))
		return report(verb, syscall(SYS_add_key, "user", "stsec", "x", 1,
					    KEY_SPEC_PROCESS_KEYRING));
	if (!strcmp(verb, "keyctl"))
		return report(verb, syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID,
					    KEY_SPEC_SESSION_KEYRING, 1));
	if (!strcmp(verb, "bpf")) {
		union bpf_attr attr;

		memset(&attr, 0, sizeof(attr));
		attr.map_type = BPF_MAP_TYPE_ARRAY;
		attr.key_size = 4;
		attr.value_size = 4;
		attr.max_entries = 1;
		return report(verb, syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr)));
	}
	if (!strcmp(verb, "mknod"))
		return report(verb, mknod(arg, S_IFBLK | 0600, makedev(8, 0)));
	if (!strcmp(verb, "open_read"))
		return report(verb, read_some(arg));
	if (!strcmp(verb, "open_write")) {
		int fd = open(arg, O_WRONLY | O_CLOEXEC);

		if (fd >= 0)
			close(fd);
		return report(verb, fd);
	}
	if (!strcmp(verb, "kexec"))
		return report(verb, syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL));
	if (!strcmp(verb, "perf")) {
		struct perf_event_attr pa;

		memset(&pa, 0, sizeof(pa));
		pa.type = PERF_TYPE_SOFTWARE;
		pa.size = sizeof(pa);
		pa.config = PERF_COUNT_SW_CPU_CLOCK;
		pa.disabled = 1;
		return report(verb, syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0));
	}
	if (!strcmp(verb, "open_by_handle")) {
		struct {
			unsigned int handle_bytes;
			int handle_type;
			unsigned char f_handle[8];
		} h = { .handle_bytes = 8, .handle_type = 1 };

		return report(verb, syscall(SYS_open_by_handle_at, AT_FDCWD, &h, O_RDONLY));
	}
	if (!strcmp(verb, "settime")) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		return report(verb, clock_settime(CLOCK_REALTIME, &ts));
	}
	fprintf(stderr, "sec_probe: unknown verb `%s`\n", verb);
	return 2;
}
