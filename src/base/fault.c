/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Named fault points (include/base/fault.h); compiled in test builds only. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fault.h"

#ifdef SNAPROTATE_FAULTS
static const char *fault_prefix = "";

void fault_role(const char *role)
{
	static char prefix[32];

	snprintf(prefix, sizeof(prefix), "%s:", role);
	fault_prefix = prefix;
}

void fault_point(const char *name)
{
	static unsigned hits;
	const char *want = getenv("SNAPROTATE_FAULT");
	const char *log = getenv("SNAPROTATE_FAULT_LOG");
	char full[128];
	size_t len;

	snprintf(full, sizeof(full), "%s%s", fault_prefix, name);
	len = strlen(full);
	if (log && *log) {
		int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

		if (fd >= 0) {
			char line[160];
			int n = snprintf(line, sizeof(line), "%s\n", full);

			/* One write with O_APPEND: lines of concurrent processes never mix. */
			if (n > 0 && (size_t)n < sizeof(line) && write(fd, line, (size_t)n) < 0)
				n = -1;
			close(fd);
		}
	}
	if (!want || strncmp(want, full, len) != 0 || (want[len] != '\0' && want[len] != '@'))
		return;
	if (++hits < (want[len] == '@' ? strtoul(want + len + 1, NULL, 10) : 1))
		return;
	raise(SIGKILL);
}
#endif
