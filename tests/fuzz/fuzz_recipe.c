/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Template recipes, template names and NAME@VERSION references. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "templates/recipe.h"
#include "templates/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tmpl_recipe r = { 0 };
	struct st_error *err = NULL;
	char *s, *name = NULL;
	unsigned v;

	if (tmpl_recipe_parse((const char *)data, size, "fuzz", &r, &err) == 0) {
		if (!r.base || !r.packages)
			abort();
		for (char **p = r.packages; *p; p++)
			if (!**p || strchr(*p, ' ') || strchr(*p, ';'))
				abort();
	} else if (!err || !err->msg) {
		abort();
	}
	tmpl_recipe_clear(&r);
	st_error_free(err);
	err = NULL;

	s = strndup((const char *)data, size > 80 ? 80 : size);
	if (!s)
		return 0;
	if (tmpl_name_validate(s, "template", NULL) == 0 &&
	    (strchr(s, '/') || strstr(s, "..") || s[0] == '.'))
		abort();
	if (tmpl_ref_parse(s, &name, &v, &err) == 0) {
		if (strchr(name, '/') || strstr(name, ".."))
			abort();
		free(name);
	}
	st_error_free(err);
	free(s);
	return 0;
}
