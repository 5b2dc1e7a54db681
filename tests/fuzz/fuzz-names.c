/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Names and times, as they come from directory entries, LV names, serve
 * requests and the command line: what parses formats back to itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "model/config.h"
#include "model/stamp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size), buf[300];
	struct policy p = { 0 };
	struct rerr e = { 0 };
	unsigned seq;
	int64_t d;
	time_t t;

	if (!s)
		return 0;
	if (time_parse_iso(s, &t) == 0)
		(void) time_format_iso(t, buf);
	if (duration_parse(s, &d) == 0 && d < 0)
		abort();
	(void) volume_name_valid(s);
	(void) lvm_name_valid(s, strlen(s));
	(void) config_parse_retain(s, &p, &e);
	if (snap_name_parse("v", s, &t, &seq) == 0) {
		if (snap_name_format("v", t, seq, buf, sizeof(buf)) < 0 || strcmp(buf, s) != 0) {
			fprintf(stderr, "'%s' parses, but formats as '%s'\n", s, buf);
			abort();
		}
	}
	free(s);
	return 0;
}
