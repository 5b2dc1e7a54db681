/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The commands that change volumes: snapshot, prune and run (SPEC 4). Each
 * works unit by unit, a volume or a group's members together, so that one
 * failing unit never stops the others; the reports of a unit are handed to
 * the caller as soon as it is done.
 */
#ifndef SNAPROTATE_ENGINE_RUN_H
#define SNAPROTATE_ENGINE_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "engine/engine.h"
#include "engine/replicate.h"
#include "engine/report.h"
#include "engine/rotate.h"

/*
 * One unit's reports, @n of them (@reps[i].volume says whose), handed over
 * before the next unit starts. @lock_error: the unit's locks could not be
 * taken (EAGAIN: another snaprotate holds one; then the unit was skipped and
 * @reps hold nothing else).
 */
typedef void (*engine_unit_fn)(void *user, const struct volume_report *reps, size_t n,
			       const struct rerr *lock_error);

struct run_summary {
	size_t n_failed;		/* volumes with an error */
	char failed[512];		/* their names, separated by spaces */
	bool locked;			/* a unit was skipped: locked by another snaprotate */
};

/**
 * engine_snapshot() - Take the snapshots @takes (one per volume of @eng's
 * selection, @n of them, with kind, description, pin set; a post snapshot's
 * @takes[i].s.pre names its pre snapshot as the user wrote it), the members of
 * a group together. The volumes must be locked. A dry run resolves the pre
 * snapshots and takes nothing.
 * @eng: The engine.
 * @takes: The snapshots, in engine_units() order: a group's members are taken
 *         together only where they stand side by side.
 * @n: How many.
 * @reps: @n reports, filled (not in a dry run).
 * @e: The error record, filled when a --pre cannot be resolved.
 * Return: 0 when every snapshot was taken; -EIO when one failed (see @reps);
 * -errno with @e when a --pre named nothing (@e->usage), before any snapshot.
 */
int engine_snapshot(struct engine *eng, struct take *takes, size_t n, struct volume_report *reps,
		    struct rerr *e);

/**
 * engine_prune() - Retention for each of @vols (locked), one after the other,
 * each report handed to @fn.
 * @eng: The engine; its targets are pruned too, through its sessions.
 * @vols: The volumes.
 * @n: How many.
 * @fn: Gets each volume's report as soon as it is done (one at a time, no lock error).
 * @user: Passed to @fn.
 * Return: 0, or -EIO when a volume had an error.
 */
int engine_prune(struct engine *eng, struct volume **vols, size_t n, engine_unit_fn fn,
		 void *user);

/**
 * engine_run() - The timer's job for @vols: each volume, or each group as a
 * whole, probed, locked, repaired, snapshotted when due, sent, pruned, and
 * its state recorded; units are independent.
 * @eng: The engine; each unit's locks are released before the next.
 * @vols: The volumes; a member of a group brings the whole group.
 * @n: How many.
 * @o: What to do with targets (send, prune them, progress).
 * @fn: Gets each unit's reports as soon as it is done.
 * @user: Passed to @fn.
 * @sum: Reset, then filled: which volumes failed, and whether a unit was locked.
 * Return: 0, or -EIO when a unit failed (a unit skipped because another
 * snaprotate holds its lock is no failure); -ENOMEM.
 */
int engine_run(struct engine *eng, struct volume **vols, size_t n,
	       const struct replicate_opts *o, engine_unit_fn fn, void *user,
	       struct run_summary *sum);

#endif
