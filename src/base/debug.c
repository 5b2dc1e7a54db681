/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/debug.h"
#include "base/util.h"

unsigned debug_mask;

static const struct {
	const char *name;
	unsigned mask;
} debug_areas[] = {
	{ "config", DEBUG_CONFIG },
	{ "btrfs", DEBUG_BTRFS },
	{ "lvm", DEBUG_LVM },
	{ "retention", DEBUG_RETENTION },
	{ "hooks", DEBUG_HOOKS },
	{ "lock", DEBUG_LOCK },
	{ "send", DEBUG_SEND },
	{ "all", DEBUG_MASK },
};

void debug_init(void)
{
	const char *env = getenv("SNAPROTATE_DEBUG");
	char buf[256], *save = NULL, *w;

	if (!env || strlen(env) >= sizeof(buf))
		return;
	strcpy(buf, env);
	for (w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save))
		for (size_t i = 0; i < ARRAY_SIZE(debug_areas); i++)
			if (streq(w, debug_areas[i].name))
				debug_mask |= debug_areas[i].mask;
}

void debug_print(const char *area, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "snaprotate: [%s] ", area);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
