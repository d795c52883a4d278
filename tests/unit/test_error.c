/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The error chain of ksal/error.h: messages, context, exit codes. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "ksal/error.h"

Test(error, names_operation_object_and_errno_text)
{
	_cleanup_error_ struct st_error *err = NULL;
	int r = st_error_set(&err, ENOSPC, "mount overlay on `%s`", "/var/lib/strata/root/101");

	cr_assert_eq(r, -ENOSPC);
	cr_assert_not_null(err);
	cr_assert_str_eq(err->msg,
			 "mount overlay on `/var/lib/strata/root/101`: No space left on device");
	cr_assert_eq(err->errnum, ENOSPC);
	cr_assert_eq(st_error_exit(err), ST_EXIT_SYSTEM);
	cr_assert_eq(st_error_ret(err), -ENOSPC);
}

Test(error, without_errno_is_generic_failure)
{
	_cleanup_error_ struct st_error *err = NULL;

	cr_assert_eq(st_error_set(&err, 0, "bad value `%s` for %s", "12x", "RAM"), -1);
	cr_assert_str_eq(err->msg, "bad value `12x` for RAM");
	cr_assert_eq(err->errnum, 0);
	cr_assert_eq(st_error_exit(err), ST_EXIT_FAILED);
	cr_assert_eq(st_error_ret(err), -1);
}

Test(error, explicit_exit_code_is_kept)
{
	_cleanup_error_ struct st_error *err = NULL;

	cr_assert_eq(st_error_setx(&err, ST_EXIT_NOPRIVATE, ENOENT, "private area `%s`", "/p/101"),
		     -ENOENT);
	cr_assert_eq(st_error_exit(err), ST_EXIT_NOPRIVATE);
	cr_assert_str_eq(err->msg, "private area `/p/101`: No such file or directory");
}

Test(error, context_is_prepended_outermost_first)
{
	_cleanup_error_ struct st_error *err = NULL;

	st_error_set(&err, EBUSY, "umount `%s`", "/var/lib/strata/root/101");
	cr_assert_eq(st_error_prefix(&err, "stop %d", 101), -EBUSY);
	cr_assert_eq(st_error_prefix(&err, "destroy %d", 101), -EBUSY);
	cr_assert_str_eq(err->msg, "destroy 101: stop 101: umount `/var/lib/strata/root/101`: "
				   "Device or resource busy");
	/* context does not change the code */
	cr_assert_eq(st_error_exit(err), ST_EXIT_SYSTEM);
}

Test(error, first_innermost_error_wins)
{
	_cleanup_error_ struct st_error *err = NULL;

	st_error_setx(&err, ST_EXIT_LOCKED, EAGAIN, "lock container %d", 101);
	cr_assert_eq(st_error_set(&err, EIO, "something later"), -EIO);
	cr_assert_eq(st_error_exit(err), ST_EXIT_LOCKED);
	cr_assert_eq(err->errnum, EAGAIN);
	cr_assert(strstr(err->msg, "lock container 101") == err->msg);
}

Test(error, null_error_pointer_is_safe)
{
	struct st_error *none = NULL;

	cr_assert_eq(st_error_set(NULL, EPERM, "x"), -EPERM);
	cr_assert_eq(st_error_prefix(NULL, "ctx"), -1);
	cr_assert_eq(st_error_prefix(&none, "ctx"), -1);
	cr_assert_null(none);
	cr_assert_eq(st_error_exit(NULL), ST_EXIT_FAILED);
	cr_assert_eq(st_error_ret(NULL), -1);
	st_error_free(NULL);
}

Test(error, exit_codes_match_vzctl)
{
	/* These numbers are a public contract (strata(8)); never renumber. */
	cr_assert_eq(ST_EXIT_SYSTEM, 3);
	cr_assert_eq(ST_EXIT_LOCKED, 9);
	cr_assert_eq(ST_EXIT_NOCONFIG, 14);
	cr_assert_eq(ST_EXIT_CHKPNT, 16);
	cr_assert_eq(ST_EXIT_RESTORE, 17);
	cr_assert_eq(ST_EXIT_NOTRUNNING, 31);
	cr_assert_eq(ST_EXIT_RUNNING, 32);
	cr_assert_eq(ST_EXIT_NOPRIVATE, 43);
	cr_assert_eq(ST_EXIT_PRIVATE_EXISTS, 44);
	cr_assert_eq(ST_EXIT_NOSPACE, 46);
	cr_assert_eq(ST_EXIT_IPINUSE, 78);
	cr_assert_eq(ST_EXIT_NOTEMPLATE, 91);
	cr_assert_eq(ST_EXIT_NOFEATURE, 100);
}
