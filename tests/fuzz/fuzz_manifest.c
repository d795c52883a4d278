/* SPDX-License-Identifier: GPL-2.0-or-later */
/* manifest.json: read whatever is there; what is accepted writes back equal. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "templates/template.h"

static char dir[] = "/tmp/stcow-fuzz-XXXXXX";
static int ready;

__attribute__((destructor)) static void cleanup(void)
{
	char p[64];

	if (!ready)
		return;
	snprintf(p, sizeof(p), "%s/in.json", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/out.json", dir);
	unlink(p);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tmpl_manifest m = { 0 }, again = { 0 };
	char path[64], out[64];
	FILE *f;

	if (!ready && !mkdtemp(dir))
		return 0;
	ready = 1;
	snprintf(path, sizeof(path), "%s/in.json", dir);
	snprintf(out, sizeof(out), "%s/out.json", dir);
	f = fopen(path, "w");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	if (tmpl_manifest_read(path, &m, NULL) == 0) {
		if (tmpl_manifest_write(out, &m, NULL) < 0 ||
		    tmpl_manifest_read(out, &again, NULL) < 0)
			abort();
		if (strcmp(m.name, again.name) || m.version != again.version ||
		    strcmp(m.sha256, again.sha256) || m.size != again.size)
			abort();
	}
	tmpl_manifest_clear(&m);
	tmpl_manifest_clear(&again);
	return 0;
}
