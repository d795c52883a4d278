/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RATE, vzctl's per-container bandwidth: "DEV:CLASS:RATE [DEV:CLASS:RATE ...]"
 * with RATE in kbit/s (RATE="eth0:1:8000" is 8 Mbit/s). Strata shapes the
 * container's own veth, so DEV and CLASS are checked and kept for vzctl
 * compatibility and the lowest RATE of the list is the container's limit.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ksal/cleanup.h"
#include "runtime/ctconfig.h"

/* One "dev:class:rate" entry; rate in kbit/s. */
static int rate_entry(const char *e, uint64_t *kbit)
{
	const char *c1 = strchr(e, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	char *end = NULL;
	uint64_t v;

	if (!c1 || !c2 || c1 == e || (size_t)(c1 - e) > 15 || c2 == c1 + 1)
		return -EINVAL;
	for (const char *p = e; p < c1; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.*", *p))
			return -EINVAL;
	for (const char *p = c1 + 1; p < c2; p++)
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
	if (!isdigit((unsigned char)c2[1]))
		return -EINVAL;
	errno = 0;
	v = strtoull(c2 + 1, &end, 10);
	if (errno || *end || v == 0 || v > 100000000ULL) /* 100 Gbit/s */
		return -EINVAL;
	*kbit = v;
	return 0;
}

int ct_rate_kbit(const char *s, uint64_t *kbit)
{
	_cleanup_free_ char *copy = s ? strdup(s) : NULL;
	uint64_t lowest = 0;
	char *save = NULL;

	*kbit = 0;
	if (!s)
		return 0;
	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		uint64_t k;

		if (rate_entry(t, &k) < 0)
			return -EINVAL;
		if (!lowest || k < lowest)
			lowest = k;
	}
	*kbit = lowest;
	return 0;
}

int ct_validate_rate(const char *s, struct st_error **err)
{
	uint64_t k;

	if (ct_rate_kbit(s, &k) < 0)
		return st_error_setx(err, ST_EXIT_BADVALUE, 0,
				     "invalid RATE `%s` (DEV:CLASS:KBITS, e.g. eth0:1:8000 for 8 "
				     "Mbit/s, 1 to 100000000 kbit/s)",
				     s);
	return 0;
}
