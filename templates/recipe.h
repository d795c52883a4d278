/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Recipes: templates/recipes/NAME.recipe, lines of KEY=value (the value may
 * be "double-quoted" with \" and \\ escapes, or 'single-quoted'), '#'
 * comments. Keys:
 *   BASE=busybox|debootstrap  (required)
 *   SUITE=bookworm            (debootstrap: required)
 *   VARIANT=minbase           (debootstrap: default minbase)
 *   PACKAGES="a b c"          (debootstrap: extra packages)
 *   POST="shell command"      (run with /bin/sh -c in a chroot of the tree)
 *   DESCRIPTION="..."
 */
#ifndef STRATA_TEMPLATES_RECIPE_H
#define STRATA_TEMPLATES_RECIPE_H

#include <stddef.h>

#include "ksal/error.h"

enum tmpl_base { TMPL_BASE_BUSYBOX = 1, TMPL_BASE_DEBOOTSTRAP };

struct tmpl_recipe {
	enum tmpl_base base;
	char *suite;
	char *variant;
	char **packages; /* NULL-terminated, never NULL after a parse */
	char *post;
	char *description;
	char hash[65]; /* sha256 of the recipe text */
};
void tmpl_recipe_clear(struct tmpl_recipe *r);
/* `origin` names the text in errors (a path). */
int tmpl_recipe_parse(const char *text, size_t len, const char *origin, struct tmpl_recipe *r,
		      struct st_error **err);
int tmpl_recipe_load(const char *path, struct tmpl_recipe *r, struct st_error **err);
const char *tmpl_base_name(enum tmpl_base b);

#endif
