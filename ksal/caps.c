/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Capability names and the system container's default bounding-set drops. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>

#include "ksal/cleanup.h"
#include "ksal/spawn.h"

#define CAP_TABLE_SIZE 64

/* "net_admin" for each capability libcap knows, NULL elsewhere. */
static char *cap_names[CAP_TABLE_SIZE];
static pthread_once_t cap_names_once = PTHREAD_ONCE_INIT;

static void cap_names_init(void)
{
	for (int c = 0; c < CAP_TABLE_SIZE && c <= CAP_LAST_CAP; c++) {
		char *n = cap_to_name(c);

		if (!n)
			continue;
		/* libcap names unknown numbers by the number itself */
		if (strncasecmp(n, "cap_", 4) == 0)
			cap_names[c] = strdup(n + 4);
		cap_free(n);
	}
}

const char *ksal_cap_name(int cap)
{
	if (cap < 0 || cap >= CAP_TABLE_SIZE)
		return NULL;
	pthread_once(&cap_names_once, cap_names_init);
	return cap_names[cap];
}

int ksal_cap_from_name(const char *name)
{
	char buf[64];
	cap_value_t v;
	size_t len;
	int n;

	if (!name || !*name)
		return -EINVAL;
	if (strncasecmp(name, "cap_", 4) == 0)
		name += 4;
	len = strlen(name);
	if (len == 0 || len > 40)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!isalpha((unsigned char)name[i]) && name[i] != '_')
			return -EINVAL; /* names only, no numbers */
	n = snprintf(buf, sizeof(buf), "cap_%s", name);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -EINVAL;
	for (char *p = buf; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (cap_from_name(buf, &v) < 0 || v < 0 || v >= CAP_TABLE_SIZE)
		return -EINVAL;
	return v;
}

uint64_t ksal_cap_default_drop(void)
{
	/* sys_boot stays: in a pid namespace reboot(2) only ends the
	 * container's init, which the daemon turns into a restart. */
	return (1ULL << CAP_SYS_MODULE) | (1ULL << CAP_SYS_RAWIO) | (1ULL << CAP_SYS_TIME) |
	       (1ULL << CAP_MAC_ADMIN) | (1ULL << CAP_MAC_OVERRIDE);
}
