/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stddef.h>

#include "model/policy.h"

static const char *const retain_gran_names[_RETAIN_GRAN_MAX] = {
	[RETAIN_HOURLY] = "hourly",
	[RETAIN_DAILY] = "daily",
	[RETAIN_WEEKLY] = "weekly",
	[RETAIN_MONTHLY] = "monthly",
	[RETAIN_YEARLY] = "yearly",
};

const char *retain_gran_to_string(enum retain_gran g)
{
	if ((unsigned)g >= _RETAIN_GRAN_MAX)
		return NULL;
	return retain_gran_names[g];
}
