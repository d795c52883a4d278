/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The default seccomp filter of a system container, compiled once by
 * libseccomp into a BPF program in a sealed memfd. Every start and enter
 * maps that memfd and loads it with seccomp(2); nothing compiles per start.
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/spawn.h"

#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif

/* Refused with EPERM (as Docker's default profile does), so a full OS boots
 * and only sees the call fail. */
static const char *const refused_syscalls[] = {
	"kexec_load",	 "kexec_file_load",   "init_module",	 "finit_module",
	"delete_module", "open_by_handle_at", "perf_event_open", "bpf",
	"add_key",	 "request_key",	      "keyctl",
};

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
	*ctx = NULL;
}

/* The compat architectures a native process can still call into. */
static int add_compat_archs(scmp_filter_ctx ctx)
{
	static const struct {
		uint32_t native, compat;
	} compat[] = {
		{ SCMP_ARCH_X86_64, SCMP_ARCH_X86 },
		{ SCMP_ARCH_X86_64, SCMP_ARCH_X32 },
		{ SCMP_ARCH_AARCH64, SCMP_ARCH_ARM },
	};
	uint32_t native = seccomp_arch_native();

	for (size_t i = 0; i < ARRAY_SIZE(compat); i++) {
		if (compat[i].native != native)
			continue;
		int r = seccomp_arch_add(ctx, compat[i].compat);
		if (r < 0 && r != -EEXIST)
			return r;
	}
	return 0;
}

int ksal_seccomp_default(int *memfd, struct st_error **err)
{
	__attribute__((cleanup(seccomp_releasep))) scmp_filter_ctx ctx = NULL;
	_cleanup_close_ int fd = -EBADF;
	int r;

	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return st_error_set(err, ENOMEM, "seccomp: create the default filter");
	/* The filter is loaded by a process that may run setuid binaries
	 * later: no NO_NEW_PRIVS, the loader holds CAP_SYS_ADMIN in its
	 * user namespace instead. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (r < 0)
		return st_error_set(err, -r, "seccomp: clear no_new_privs of the default filter");
	r = add_compat_archs(ctx);
	if (r < 0)
		return st_error_set(err, -r, "seccomp: add compat architectures");
	for (size_t i = 0; i < ARRAY_SIZE(refused_syscalls); i++) {
		int nr = seccomp_syscall_resolve_name(refused_syscalls[i]);

		if (nr == __NR_SCMP_ERROR)
			continue; /* not a syscall anywhere here */
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (r < 0)
			return st_error_set(err, -r, "seccomp: refuse `%s`", refused_syscalls[i]);
	}

	fd = memfd_create("strata-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return st_error_set(err, errno, "seccomp: memfd_create");
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return st_error_set(err, -r, "seccomp: export the default filter as BPF");
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return st_error_set(err, errno, "seccomp: seal the filter memfd");
	*memfd = take_fd(fd);
	return 0;
}
