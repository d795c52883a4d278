/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer: the probe's /proc/self/mounts and /proc/self/cgroup parsers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ksal/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ksal_cgroup_info ci;
	char *text = malloc(size + 1);
	char *self;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (ksal_parse_cgroup_mounts(text, &ci) == 0) {
		/* what the probe does with the result */
		if (ci.found)
			(void)ksal_probe_layout_name(ci.layout);
		(void)ksal_list_has(ci.v1_controllers, "memory");
		if (ci.unified && !ci.found)
			abort();
	}
	ksal_cgroup_info_clear(&ci);
	self = ksal_parse_self_cgroup2(text);
	free(self);
	free(text);
	return 0;
}
