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

#include "model/config.h"
#include "model/snapshot.h"
#include "policy/retention.h"
#include "transport/target.h"

/* One snapshot sent to a target. */
struct transfer {
	char *name;
	char *parent;			/* NULL: a full stream */
	uint64_t bytes;
};

/* What happened between one volume and one target. */
struct target_report {
	const struct target *target;	/* borrowed */
	bool reached;			/* a session was had */
	bool failed;			/* a send or a deletion there failed (see errors) */
	struct transfer *sent;
	size_t n_sent;
	struct snapshot_list copies;	/* the target's copies retention saw */
	struct plan *plan;		/* target retention, parallel to copies; NULL if none */
	size_t n_deleted;
};

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
	char **notices;			/* worth saying, not failures */
	size_t n_notices;
	struct target_report *targets;	/* one per target of the volume that was worked on */
	size_t n_targets;
};

/*
 * Target sessions of one command: one per target, opened when first needed
 * and shared by every volume (one ssh login per run and target).
 */
struct sessions;

struct sessions *sessions_new(const struct config *cfg);
/* The session to @t, opened on first use. Return: 0 or -errno with @e. */
int sessions_get(struct sessions *ss, const struct target *t, struct target_conn **ret,
		 struct rerr *e);
/* Closes every session. Return: NULL. */
struct sessions *sessions_free(struct sessions *s);

/* Progress of a transfer, for the command line to show. */
typedef void (*rotate_progress_fn)(void *user, const char *volume, const char *target,
				   const char *name, uint64_t bytes, bool done);

struct replicate_opts {
	const char *only_target;	/* NULL: every target of the volume */
	bool send;			/* send what is missing */
	bool prune_targets;		/* apply each target's retention there */
	bool dry_run;
	rotate_progress_fn progress;
	void *user;
};

/**
 * rotate_replicate() - Send @v's snapshots to its targets and/or prune them
 * there, per @o. @r->snaps (the source's complete snapshots) is used when
 * filled, else listed. sent_to records are brought in line with what each
 * target holds. A target that fails is recorded in @r and the others go on.
 * Return: 0, or -EIO when anything failed.
 */
int rotate_replicate(const struct config *cfg, const struct volume *v, struct sessions *ss,
		     time_t now, const struct replicate_opts *o, struct volume_report *r);

void volume_report_done(struct volume_report *r);

/* Records a failure found outside the engine (probe, lock): copies @msg. */
void volume_report_fail(struct volume_report *r, const char *msg);

/**
 * rotate_prune() - Repair @v, apply each target's retention there (with @ss),
 * then apply @v's retention.
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
		 struct sessions *ss, struct volume_report *r);

/* Return: the bytes sent to all targets in @r. */
uint64_t rotate_bytes_sent(const struct volume_report *r);

/* Internal to the engine: record a failure as "MSG: strerror". */
void volume_report_error(struct volume_report *r, int err, const struct rerr *e);

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
 * @reports: One per volume; failures are recorded there.
 * Return: 0, or -EIO when anything failed.
 */
int rotate_take(const struct config *cfg, struct take *t, size_t n, time_t now,
		struct volume_report *reports);

/**
 * rotate_run() - The timer job for one volume or one group's members: repair,
 * take a timeline snapshot of every member if one is due for any of them
 * (min_free permitting), then prune each.
 * @vols: The members (one entry for a volume outside a group).
 * @reports: One per member, filled.
 * Return: 0 when nothing failed, else -EIO.
 */
int rotate_run(const struct config *cfg, struct volume *const *vols, size_t n, time_t now,
	       bool dry_run, struct sessions *ss, const struct replicate_opts *o,
	       struct volume_report *reports);

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
