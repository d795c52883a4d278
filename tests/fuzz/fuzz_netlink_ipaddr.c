/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ksal_ipaddr_parse: never crashes, and what it accepts prints and parses back
 * to the same address and prefix. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ksal/error.h"
#include "ksal/netlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	char buf[INET6_ADDRSTRLEN + 8];
	struct st_error *err = NULL;
	struct ksal_ipaddr a, b;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (ksal_ipaddr_parse(s, &a, &err) == 0) {
		ksal_ipaddr_str_prefix(&a, buf, sizeof(buf));
		if (ksal_ipaddr_parse(buf, &b, NULL) < 0 || a.family != b.family)
			abort();
		if (memcmp(&a.v6, &b.v6, a.family == AF_INET6 ? 16 : 4) != 0)
			abort();
		if ((a.prefix < 0 ? ksal_ipaddr_host_prefix(&a) : a.prefix) != b.prefix)
			abort();
	} else if (!err || !err->msg) {
		abort();
	}
	st_error_free(err);
	free(s);
	return 0;
}
