/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Capability names, the default drop mask and the seccomp memfd (spawn area). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ksal/spawn.h"

Test(caps, names_both_ways)
{
	cr_assert_eq(ksal_cap_from_name("net_admin"), CAP_NET_ADMIN);
	cr_assert_eq(ksal_cap_from_name("CAP_NET_ADMIN"), CAP_NET_ADMIN);
	cr_assert_eq(ksal_cap_from_name("Cap_Sys_Admin"), CAP_SYS_ADMIN);
	cr_assert_eq(ksal_cap_from_name("chown"), CAP_CHOWN);
	cr_assert_str_eq(ksal_cap_name(CAP_NET_ADMIN), "net_admin");
	cr_assert_str_eq(ksal_cap_name(CAP_SYS_MODULE), "sys_module");
	cr_assert_str_eq(ksal_cap_name(CAP_CHOWN), "chown");
	for (int c = 0; c <= CAP_LAST_CAP; c++) {
		const char *n = ksal_cap_name(c);

		cr_assert_not_null(n, "no name for capability %d", c);
		cr_assert_eq(ksal_cap_from_name(n), c, "%s", n);
	}
}

Test(caps, bad_names_refused)
{
	cr_assert_lt(ksal_cap_from_name("net_admim"), 0);
	cr_assert_lt(ksal_cap_from_name(""), 0);
	cr_assert_lt(ksal_cap_from_name("CAP_"), 0);
	cr_assert_lt(ksal_cap_from_name("12"), 0);
	cr_assert_lt(ksal_cap_from_name("sys admin"), 0);
	cr_assert_lt(ksal_cap_from_name(NULL), 0);
	cr_assert_null(ksal_cap_name(-1));
	cr_assert_null(ksal_cap_name(64));
}

Test(caps, default_drop_mask)
{
	uint64_t m = ksal_cap_default_drop();
	static const int dropped[] = { CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_TIME, CAP_MAC_ADMIN,
				       CAP_MAC_OVERRIDE };

	for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
		cr_assert_neq(m & (1ULL << dropped[i]), 0, "%s kept", ksal_cap_name(dropped[i]));
	/* a full OS needs these */
	cr_assert_eq(m & (1ULL << CAP_SYS_BOOT), 0);
	cr_assert_eq(m & (1ULL << CAP_SYS_ADMIN), 0);
	cr_assert_eq(m & (1ULL << CAP_NET_ADMIN), 0);
	cr_assert_eq(m & (1ULL << CAP_SETUID), 0);
	cr_assert_eq(__builtin_popcountll(m), 5);
}

Test(caps, seccomp_filter_is_a_sealed_bpf_program)
{
	struct st_error *err = NULL;
	struct stat st;
	int fd = -1;

	cr_assert_eq(ksal_seccomp_default(&fd, &err), 0, "%s", err ? err->msg : "");
	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_gt(st.st_size, 0);
	cr_assert_eq(st.st_size % sizeof(struct sock_filter), 0);
	int seals = fcntl(fd, F_GET_SEALS);
	cr_assert_eq(seals & (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
		     F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	cr_assert_lt(pwrite(fd, "x", 1, 0), 0, "sealed memfd was writable");
	cr_assert_lt(ftruncate(fd, 0), 0);
	cr_assert_neq(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	/* first instruction loads the arch (offset 4 of seccomp_data) */
	struct sock_filter first;
	cr_assert_eq(pread(fd, &first, sizeof(first), 0), (ssize_t)sizeof(first));
	cr_assert_eq(first.code, BPF_LD | BPF_W | BPF_ABS);
	cr_assert_eq(first.k, 4);
#if defined(__x86_64__)
	/* the native and the 32-bit x86 ABI are both checked */
	bool native = false, i386 = false;
	struct sock_filter ins;
	for (off_t off = 0; pread(fd, &ins, sizeof(ins), off) == (ssize_t)sizeof(ins);
	     off += sizeof(ins)) {
		native |= ins.k == AUDIT_ARCH_X86_64;
		i386 |= ins.k == AUDIT_ARCH_I386;
	}
	cr_assert(native, "no AUDIT_ARCH_X86_64 check in the filter");
	cr_assert(i386, "no AUDIT_ARCH_I386 check in the filter");
#endif
	close(fd);
}
