/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the CTID.conf and strata.conf parsers, the config
 * renderer (what parses must render and parse back to the same values) and
 * `set` by option name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ctconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct ct_config *c = ct_config_new(), *c2 = NULL;
	struct g_config *g = g_config_new();
	struct st_error *err = NULL;

	if (!text || !c || !g)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';

	if (ct_config_parse(c, "fuzz.conf", text, &err) == 0) {
		char *out = ct_config_render(c);

		c2 = ct_config_new();
		if (!out || !c2 || ct_config_parse(c2, "render", out, &err) < 0)
			abort(); /* what we write we must read back */
		for (int i = 0; i < CT_KEY_COUNT; i++) {
			char *a = ct_value_format(i, &c->v[i]);
			char *b = ct_value_format(i, &c2->v[i]);
			if ((a == NULL) != (b == NULL) || (a && strcmp(a, b)))
				abort();
			free(a);
			free(b);
		}
		free(out);
	}
	st_error_free(err);
	err = NULL;

	/* The same bytes as "option=value" through set. */
	{
		char *eq = strchr(text, '=');
		if (eq) {
			*eq = '\0';
			ct_config_set(c, text, eq + 1, &err);
			st_error_free(err);
			err = NULL;
			*eq = '=';
		}
	}

	g_config_parse(g, "strata.conf", text, &err);
	st_error_free(err);

	ct_config_free(c);
	ct_config_free(c2);
	g_config_free(g);
	free(text);
	return 0;
}
