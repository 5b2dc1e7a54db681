/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * info.json as a snapshot directory or a target holds it: what parses is
 * written back (meta_info_object) and parses to the same snapshot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "format/meta.h"
#include "fuzz.h"
#include "model/snapshot.h"

#define VOL	"v"
#define NAME	"v.20261127T090512Z"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size);
	struct snapshot s = { 0 }, s2 = { 0 };
	const char *why = NULL;

	if (!text)
		return 0;
	if (meta_parse_info_why(VOL, NAME, text, &s, &why) == 0) {
		struct json_object *o = meta_info_object(&s, VOL);
		const char *again = o ? json_object_to_json_string(o) : NULL;

		if (!again || meta_parse_info(VOL, NAME, again, &s2) != 0) {
			fprintf(stderr, "what it wrote does not parse: %s\n", again ?: "(ENOMEM)");
			abort();
		}
		if (s.created != s2.created || s.kind != s2.kind || s.pinned != s2.pinned ||
		    s.n_sent != s2.n_sent || strcmp(s.description, s2.description) != 0)
			abort();
		json_object_put(o);
	} else if (!why) {
		abort();
	}
	snapshot_done(&s2);
	snapshot_done(&s);
	free(text);
	return 0;
}
