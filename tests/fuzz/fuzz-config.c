/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The configuration parser (inih and every key's value). What config-check
 * prints of a valid config is itself a valid config that prints the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "model/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size), *once = NULL, *twice = NULL;
	struct config *c = NULL, *c2 = NULL;
	struct rerr e = { 0 };

	if (!text)
		return 0;
	if (config_parse_string("fuzz.conf", text, &c, &e) == 0) {
		once = config_format(c);
		if (!once)
			abort();
		if (config_parse_string("normalised.conf", once, &c2, &e) < 0) {
			fprintf(stderr, "config-check's output does not parse: %s\n%s", e.msg, once);
			abort();
		}
		twice = config_format(c2);
		if (!twice || strcmp(once, twice) != 0) {
			fprintf(stderr, "not a fixed point:\n%s\n---\n%s", once, twice ?: "");
			abort();
		}
	}
	free(twice);
	free(once);
	config_free(c2);
	config_free(c);
	free(text);
	return 0;
}
