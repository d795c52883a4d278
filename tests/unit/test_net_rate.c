/* SPDX-License-Identifier: GPL-2.0-or-later */
/* RATE (vzctl's per-container bandwidth) and the network keys of a config. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "ksal/cleanup.h"
#include "runtime/ctconfig.h"

Test(net_rate, vzctl_syntax_gives_the_lowest_rate_in_kbit)
{
	uint64_t k = 1;

	cr_assert_eq(ct_rate_kbit("eth0:1:8000", &k), 0);
	cr_assert_eq(k, 8000);
	cr_assert_eq(ct_rate_kbit("eth0:1:8000 venet0:2:500", &k), 0);
	cr_assert_eq(k, 500);
	cr_assert_eq(ct_rate_kbit("*:1:100000000", &k), 0);
	cr_assert_eq(k, 100000000);
	cr_assert_eq(ct_rate_kbit("", &k), 0);
	cr_assert_eq(k, 0, "empty RATE: no limit");
	cr_assert_eq(ct_rate_kbit(NULL, &k), 0);
	cr_assert_eq(k, 0);
}

Test(net_rate, malformed_rates_are_refused_and_named)
{
	static const char *const bad[] = { "8000",	"eth0:8000",  "eth0:1:0",
					   "eth0:x:10", "eth0:1:10k", ":1:10",
					   "eth0::10",	"eth0:1:",    "eth0:1:100000001",
					   "a/b:1:10",	"eth0:1:-5",  "averyveryverylongdev:1:10" };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_error_ struct st_error *err = NULL;
		uint64_t k;

		cr_assert_lt(ct_rate_kbit(bad[i], &k), 0, "`%s` accepted", bad[i]);
		cr_assert_lt(ct_validate_rate(bad[i], &err), 0);
		cr_assert(strstr(err->msg, bad[i]), "message does not name `%s`: %s", bad[i],
			  err->msg);
		cr_assert_eq(st_error_exit(err), ST_EXIT_BADVALUE);
	}
}

Test(net_rate, rate_key_parses_sets_and_renders)
{
	_cleanup_ct_config_ struct ct_config *c = ct_config_new();
	_cleanup_error_ struct st_error *err = NULL;
	_cleanup_free_ char *text = NULL;

	cr_assert_eq(ct_config_parse(c, "t.conf", "RATE=\"eth0:1:8000\"\n", &err), 0, "%s",
		     err ? err->msg : "");
	cr_assert_str_eq(ct_config_str(c, CT_RATE), "eth0:1:8000");
	cr_assert_eq(ct_config_set(c, "rate", "eth0:1:20000", &err), 0);
	text = ct_config_render(c);
	cr_assert(strstr(text, "RATE=\"eth0:1:20000\""), "%s", text);
	cr_assert_lt(ct_config_set(c, "rate", "fast", &err), 0);
	cr_assert(strstr(err->msg, "RATE") && strstr(err->msg, "fast"), "%s", err->msg);
	cr_assert_eq(ct_keys[CT_RATE].apply, CT_APPLY_NET, "RATE must apply live");
}
