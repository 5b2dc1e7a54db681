/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Restore (SPEC 2, disaster recovery): bring a snapshot back from a target.
 * For an LVM volume the target holds a chain of block streams (a full image,
 * then deltas); each is fetched and applied in order into an existing LV, and
 * every one is verified against the one before it.
 */
#ifndef SNAPROTATE_RESTORE_H
#define SNAPROTATE_RESTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/rotate.h"
#include "model/config.h"

#define RESTORE_CHAIN_MAX 64

struct restore_report {
	const struct target *target;	/* borrowed: where it came from */
	char *snapshot;			/* the copy restored */
	char *chain[RESTORE_CHAIN_MAX];	/* the streams applied, full image first */
	uint64_t bytes[RESTORE_CHAIN_MAX];
	unsigned n_chain;
	bool bad_arg;			/* SNAPSHOT or --to named nothing usable */
};

/**
 * engine_restore() - Write the copy @arg of @v from a target into @to (for LVM an LV, "VG/LV").
 * @target: Which target; NULL: the first of @v's targets that holds the copy.
 * @dry_run: Find the chain, write nothing.
 * The LV must exist, be active, not be open (mounted), and be at least as large
 * as the snapshot's device.
 * Return: 0, or -errno with @e (@r->bad_arg for a usage error).
 */
int engine_restore(const struct volume *v, struct sessions *ss,
		const char *target, const char *arg, const char *to, bool dry_run,
		struct restore_report *r, struct rerr *e);

void restore_report_done(struct restore_report *r);

#endif
