/* SPDX-License-Identifier: GPL-2.0-or-later */
/* thin_delta's XML, as lvmthin_changed_ranges() reads it. */
#include <stdio.h>
#include <stdlib.h>

#include "backends/lvmthin.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fmemopen((void *)data, size, "r");
	struct lvmthin_delta d = { 0 };
	struct rerr e = { 0 };

	if (!f)
		return 0;
	if (lvmthin_delta_parse(f, 1, 2, 64ULL << 20, 64ULL << 20, &d, &e) == 0) {
		uint64_t end = 0, sum = 0;

		/* Sorted, disjoint, not adjacent, inside the device, adding up. */
		for (size_t i = 0; i < d.n; i++) {
			if ((i && d.ranges[i].offset <= end) || d.ranges[i].length == 0 ||
			    d.ranges[i].offset + d.ranges[i].length > d.size)
				abort();
			end = d.ranges[i].offset + d.ranges[i].length;
			sum += d.ranges[i].length;
		}
		if (sum != d.changed)
			abort();
	}
	lvmthin_delta_done(&d);
	fclose(f);
	return 0;
}
