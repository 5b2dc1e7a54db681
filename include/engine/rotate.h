/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rotation engine: repair, prune and run for one volume (or one group),
 * tying retention (policy) to a backend (storage). It prints nothing: it
 * returns a report per volume that the command line prints. The caller holds
 * the volumes' locks.
 */
#ifndef SNAPROTATE_ROTATE_H
#define SNAPROTATE_ROTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "engine/replicate.h"
#include "engine/report.h"
#include "model/config.h"
#include "model/snapshot.h"
#include "policy/retention.h"

/**
 * rotate_prune() - Repair @v, apply each target's retention there (with @ss),
 * then apply @v's retention.
 * @v: The volume (locked).
 * @now: Reference time for retention.
 * @dry_run: Decide and report, change nothing.
 * @ss: The target sessions; NULL leaves the targets alone.
 * @r: Filled; errors are collected in it, one broken snapshot never stops the rest.
 *
 * A plan that would delete more than max_delete deletes nothing and is an error.
 * Deletions are paced by delete_batch (the backend's settle).
 *
 * Return: 0 when nothing failed, else -EIO (the details are in @r->errors).
 */
int rotate_prune(const struct volume *v, time_t now, bool dry_run,
		 struct sessions *ss, struct volume_report *r);

/* One snapshot to take: @s holds its kind, description, pin and pre partner. */
struct take {
	const struct volume *v;		/* borrowed */
	struct snapshot s;		/* on success also name, uuid: the caller frees it */
	bool taken;
};

/**
 * rotate_take() - Take one snapshot of each of @n volumes at @now as one unit
 * (a volume, or a group's members), SPEC 7: hooks and free space are checked
 * before anything runs; then every pre hook, every snapshot, every post hook.
 * A failed pre hook means no snapshot of the unit; the post hooks of every
 * volume whose pre hooks ran still run, told SNAPROTATE_RESULT=failure.
 * A group is taken whole or not at all: when one snapshot fails, those taken
 * are removed again (one that cannot be removed keeps @t[i].taken).
 * @cfg: The config (hook_timeout, freeze_timeout).
 * @t: The snapshots to take, one per volume; @t[i].taken says which were, and
 *     their @t[i].s (name, uuid) is the caller's to free either way.
 * @n: How many (at most GROUP_MAX).
 * @now: The snapshots' time.
 * @reports: One per volume; failures are recorded there.
 * Return: 0, or -EIO when anything failed.
 */
int rotate_take(const struct config *cfg, struct take *t, size_t n, time_t now,
		struct volume_report *reports);

/**
 * rotate_run() - The timer job for one volume or one group's members: repair,
 * take a timeline snapshot of every member if one is due for any of them
 * (min_free permitting), then prune each.
 * @cfg: The config.
 * @vols: The members (one entry for a volume outside a group).
 * @n: How many.
 * @now: Reference time.
 * @dry_run: Decide and report, change nothing (a due snapshot is only planned).
 * @ss: The target sessions.
 * @o: What to do with each member's targets, after the snapshot and before the
 *     member is pruned (send, prune them).
 * @reports: One per member, filled.
 * Return: 0 when nothing failed, else -EIO.
 */
int rotate_run(const struct config *cfg, struct volume *const *vols, size_t n, time_t now,
	       bool dry_run, struct sessions *ss, const struct replicate_opts *o,
	       struct volume_report *reports);

#endif
