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

#include "config.h"
#include "retention.h"
#include "snapshot.h"

struct volume_report {
	const struct volume *volume;	/* borrowed */
	char **repaired;		/* incomplete entries removed (or, dry run, to remove) */
	size_t n_repaired;
	struct snapshot_list snaps;	/* what retention saw: complete and foreign, oldest first */
	struct plan *plan;		/* parallel to snaps; NULL when no plan was made */
	size_t n_deleted;		/* deletions done (dry run: 0) */
	bool due;			/* run: a timeline snapshot was due */
	char *created;			/* run: the snapshot taken, or NULL */
	char **errors;			/* "VOLUME: what failed: why", in order */
	size_t n_errors;
};

void volume_report_done(struct volume_report *r);

/* Records a failure found outside the engine (probe, lock): copies @msg. */
void volume_report_fail(struct volume_report *r, const char *msg);

/**
 * rotate_prune() - Repair @v, then apply its retention.
 * @now: Reference time for retention.
 * @dry_run: Decide and report, change nothing.
 * @r: Filled; errors are collected in it, one broken snapshot never stops the rest.
 *
 * A plan that would delete more than max_delete deletes nothing and is an error.
 * Deletions are paced by delete_batch (the backend's settle).
 *
 * Return: 0 when nothing failed, else -EIO (the details are in @r->errors).
 */
int rotate_prune(const struct config *cfg, const struct volume *v, time_t now, bool dry_run,
		 struct volume_report *r);

/**
 * rotate_run() - The timer job for one volume or one group's members: repair,
 * take a timeline snapshot of every member if one is due for any of them
 * (min_free permitting), then prune each.
 * @vols: The members (one entry for a volume outside a group).
 * @reports: One per member, filled.
 * Return: 0 when nothing failed, else -EIO.
 */
int rotate_run(const struct config *cfg, struct volume *const *vols, size_t n, time_t now,
	       bool dry_run, struct volume_report *reports);

/**
 * rotate_save_state() - Record a run's result in STATE_DIR/VOLUME.json for check and status.
 * Return: 0 or -errno (with @e).
 */
int rotate_save_state(const struct config *cfg, const struct volume_report *r, time_t now,
		      struct rerr *e);

/**
 * rotate_free_space_ok() - Whether @v has at least min_free available.
 * Return: 1 yes, 0 no (@why says how much there is), <0 error.
 */
int rotate_free_space_ok(const struct volume *v, char *why, size_t why_len, struct rerr *e);

#endif
