/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test driver for src/core/freeze.c: `freeze-tool TIMEOUT MOUNT...` freezes the
 * mounts through freeze_begin(), prints "frozen", and thaws through
 * freeze_end() when a line arrives on stdin. A test SIGKILLs it instead to
 * check that the watchdog thaws on its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os/freeze.h"

int main(int argc, char *argv[])
{
	struct freeze *f = NULL;
	struct rerr e = { 0 };
	char line[16];

	if (argc < 3) {
		fprintf(stderr, "usage: freeze-tool TIMEOUT MOUNT...\n");
		return 2;
	}
	if (freeze_begin(argv + 2, (size_t)(argc - 2), atoll(argv[1]), &f, &e) < 0) {
		fprintf(stderr, "freeze-tool: %s: %s\n", e.msg, strerror(e.code));
		return 1;
	}
	printf("frozen\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = '\0';
	if (freeze_end(f, &e) < 0) {
		fprintf(stderr, "freeze-tool: %s: %s\n", e.msg, strerror(e.code));
		return 1;
	}
	printf("thawed\n");
	return 0;
}
