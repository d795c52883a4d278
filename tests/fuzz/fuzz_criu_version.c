/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer: `criu --version` output parsing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ksal/criu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char buf[32];
	int v = -1;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (ksal_criu_parse_version(text, &v) == 0) {
		/* a parsed version is in range and formats back */
		if (v < 10000 || v > 999999)
			abort();
		ksal_criu_version_str(v, buf, sizeof(buf));
		if (!buf[0])
			abort();
	}
	free(text);
	return 0;
}
