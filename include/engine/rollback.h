/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Rollback (SPEC 7): make a volume's content that of one of its snapshots,
 * keeping the current state as a new snapshot first. The engine decides the
 * steps; the backend knows how (LVM: lvconvert --merge). The caller holds the
 * volume's lock and prints.
 */
#ifndef SNAPROTATE_ROLLBACK_H
#define SNAPROTATE_ROLLBACK_H

#include <stdbool.h>
#include <time.h>

#include "backends/backend.h"
#include "base/err.h"
#include "model/config.h"

#define ROLLBACK_STEPS_MAX 4

/* The description of the snapshot a rollback takes of the state before it. */
#define ROLLBACK_SAVED_PREFIX	"before rollback to "

struct rollback_report {
	char *target;			/* the snapshot rolled back to */
	char *saved;			/* the snapshot of the state before, NULL if none was taken */
	enum rollback_result result;
	bool bad_arg;			/* the SNAPSHOT argument named no single snapshot */
	/* The steps, in order: what was done, or in a dry run what would be. */
	char steps[ROLLBACK_STEPS_MAX][320];
	unsigned n_steps;
};

/**
 * rollback_volume() - Roll @v back to the snapshot @arg names.
 * @v: The volume (locked).
 * @arg: A SNAPSHOT argument (full name, unique stamp prefix, "latest").
 * @now: The time of the snapshot of the current state.
 * @dry_run: Only fill @r->steps.
 * @r: Reset, then filled.
 * @e: The error record, filled on failure.
 *
 * Return: 0; -ENOENT/-ENOTUNIQ when @arg names no single snapshot (a usage
 * error, @r->bad_arg), -EOPNOTSUPP when the backend cannot roll back, -EINVAL
 * for a foreign or incomplete snapshot, -EBUSY when a merge is already under
 * way, other -errno when a step failed (@r says which steps were done); with @e.
 */
int rollback_volume(const struct volume *v, const char *arg, time_t now, bool dry_run,
		    struct rollback_report *r, struct rerr *e);

/**
 * rollback_report_done() - Free what @r owns and zero it.
 * @r: The report.
 */
void rollback_report_done(struct rollback_report *r);

#endif
