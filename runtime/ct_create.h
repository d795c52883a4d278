/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The commit of `strata create` and the clean-up of an interrupted one
 * (runtime/ct_create.c, the create-speed area). */
#ifndef STRATA_RUNTIME_CT_CREATE_H
#define STRATA_RUNTIME_CT_CREATE_H

#include "ksal/error.h"
#include "runtime/ctconfig.h"

struct daemon;

/*
 * Write config c of a new container to conf_path, whose private area priv
 * the caller has just made (not synced): the config goes to a temporary
 * file, ONE syncfs makes it and the private area durable, then a rename
 * publishes it. On failure nothing is left of the config (the caller
 * removes priv).
 */
int ct_create_commit(const struct ct_config *c, const char *conf_path, const char *priv,
		     struct st_error **err);

/*
 * At daemon start (and registry reload): finish or drop what a crash in the
 * middle of a create left. CTID.conf.tmp.PID without CTID.conf: renamed to
 * CTID.conf when it parses, names an OSTEMPLATE and its private area has
 * upper/ (the sync came before the crash), else removed with its private
 * area if that is still fresh (only empty upper/ and work/). A fresh
 * private area under PRIVATE_DIR with no config is removed too. Data is
 * never removed: anything else is left and logged by the registry.
 */
void ct_create_recover(struct daemon *d);

#endif
