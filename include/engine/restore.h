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
 * @v: The volume.
 * @ss: The target sessions.
 * @target: Which target; NULL: the first of @v's targets that holds the copy (a
 *          target that cannot be reached ends the search with its error).
 * @arg: A SNAPSHOT argument naming the copy (full name, unique stamp prefix, "latest").
 * @to: Where to write: checked before any target is asked.
 * @dry_run: Find the chain, write nothing.
 * @r: Reset, then filled: the target, the copy, the chain applied and its bytes.
 * @e: The error record, filled on failure.
 *
 * The LV must exist, be active, not be open (mounted), and be at least as large
 * as the snapshot's device.
 *
 * Return: 0, or -errno with @e (@r->bad_arg for a usage error); -EOPNOTSUPP when
 * @v's backend cannot restore.
 */
int engine_restore(const struct volume *v, struct sessions *ss,
		const char *target, const char *arg, const char *to, bool dry_run,
		struct restore_report *r, struct rerr *e);

/**
 * restore_report_done() - Free what @r owns and zero it.
 * @r: The report.
 */
void restore_report_done(struct restore_report *r);

#endif
