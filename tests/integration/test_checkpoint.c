/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Checkpoint and restore (runtime/checkpoint.c), the cycles: memory and a
 * counter through three cycles, an established TCP connection, a user
 * namespace, the console pty. Harness: test_checkpoint_common.h.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "tests/integration/test_checkpoint_common.h"

TestSuite(checkpoint, .init = ck_setup, .fini = ck_teardown, .timeout = 240);

Test(checkpoint, counter_and_256mib_survive_three_cycles)
{
	_cleanup_free_ char *images = path_in(g_dumps, g_ctid);

	start_ct(256, false, false);
	wait_ready(5);
	for (int i = 1; i <= 3; i++)
		cycle(images, false, i);
}

Test(checkpoint, established_tcp_survives)
{
	_cleanup_free_ char *images = path_in(g_dumps, g_ctid);
	struct ct_ckpt_result r;
	_cleanup_close_ int s = -EBADF;

	start_ct(16, true, false);
	wait_ready(1);
	s = connect_ct();
	ping(s, "before");
	for (int i = 1; i <= 2; i++) {
		char msg[32];

		do_suspend(images, true, &r);
		do_resume(images, true, &r);
		reconnect_host_side();
		snprintf(msg, sizeof(msg), "after-%d", i);
		ping(s, msg);
	}
	assert_memory_intact();
}

/* ---- a user namespace ---- */

Test(checkpoint, user_namespace_container)
{
	_cleanup_free_ char *images = path_in(g_dumps, g_ctid);

	start_ct(32, false, true);
	wait_ready(3);
	cycle(images, false, 1);
	cycle(images, false, 2);
}

/* ---- the console ---- */

Test(checkpoint, console_pty_is_replaced_on_resume)
{
	_cleanup_free_ char *images = path_in(g_dumps, g_ctid);
	struct ct_ckpt_result r;
	int m1, m2, s2;

	m1 = new_pty(&g_console);
	start_ct(16, false, false);
	wait_ready(3);
	cr_assert(console_says(m1, "counter", 3000), "no output on the first console");
	do_suspend(images, false, &r);

	/* the daemon gives the resumed container a console of its own */
	m2 = new_pty(&s2);
	g_console = s2;
	do_resume(images, false, &r);
	cr_assert(console_says(m2, "counter", 3000), "no output on the new console");
	sleep_ms(300);
	assert_memory_intact();
	/* and once more, from the resumed one */
	do_suspend(images, false, &r);
	do_resume(images, false, &r);
	cr_assert(console_says(m2, "counter", 3000), "no output after a second cycle");
	(void)m1;
}
