/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A tiny static program run inside test containers (spawn area): calls the
 * syscalls the default seccomp filter refuses and prints what each
 * returned, e.g. "keyctl=EPERM perf_event_open=EPERM".
 *
 *   test_spawn_probe syscalls
 *   test_spawn_probe true
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *errname(long r, int e)
{
	if (r >= 0)
		return "OK";
	switch (e) {
	case EPERM:
		return "EPERM";
	case EFAULT:
		return "EFAULT";
	case EINVAL:
		return "EINVAL";
	case ENOKEY:
		return "ENOKEY";
	case ENOSYS:
		return "ENOSYS";
	case EACCES:
		return "EACCES";
	default:
		return "OTHER";
	}
}

int main(int argc, char **argv)
{
	long r;

	if (argc < 2 || !strcmp(argv[1], "true"))
		return 0;
	if (strcmp(argv[1], "syscalls") != 0)
		return 2;
	/* KEYCTL_GET_KEYRING_ID (0) of the session keyring (-3), no create */
	r = syscall(__NR_keyctl, 0, -3, 0);
	printf("keyctl=%s ", errname(r, errno));
	/* a NULL attr: EFAULT when the call gets through */
	r = syscall(__NR_perf_event_open, NULL, 0, -1, -1, 0);
	printf("perf_event_open=%s ", errname(r, errno));
	r = syscall(__NR_bpf, 0, NULL, 0);
	printf("bpf=%s\n", errname(r, errno));
	return 0;
}
