/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `status` and `check` (SPEC 4): what a volume looks like now, from its
 * snapshots, its storage's health and its last run, without a lock and
 * without contacting a target; and every problem found, each with the
 * Nagios state it earns. The command line renders it as a status line, a
 * plugin's output or Prometheus metrics.
 */
#ifndef SNAPROTATE_ENGINE_STATUS_H
#define SNAPROTATE_ENGINE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "backends/backend.h"
#include "base/err.h"
#include "engine/engine.h"
#include "engine/runstate.h"
#include "policy/freshness.h"

/* Usage past which an LVM snapshot's COW space or a thin pool is a warning. */
#define STATUS_USAGE_WARN	80.0

/* A target's newest copy, as the source last recorded it (sent_to), and its last run. */
struct target_status {
	const char *target;		/* borrowed from the config */
	char *newest;			/* NULL: nothing recorded yet */
	time_t newest_created;
	int64_t lag;			/* seconds behind the newest snapshot */
	struct freshness limits;	/* for the newest copy's age */
	const struct run_target_record *run;	/* in the last run's record, or NULL */
};

/* One thing wrong, and how wrong. */
struct status_problem {
	enum check_state state;
	char *text;			/* "newest timeline snapshot data.… is 3h 2m old (rpo 2h 30m)" */
};

/* -w/-c: overrides of every age limit, 0 for none. */
struct status_opts {
	int64_t warn;
	int64_t crit;
};

struct volume_status {
	const struct volume *volume;	/* borrowed */
	const char *backend;		/* "btrfs", "lvm" */
	char *error;			/* the volume could not be read: why (then little else is set) */
	size_t count;			/* complete snapshots */
	size_t by_kind[_SNAP_KIND_MAX];	/* complete snapshots of each kind */
	size_t incomplete, stale, damaged, foreign, future;
	size_t invalid;			/* LVM: overflowed snapshots */
	double cow_worst;		/* LVM thick: the fullest snapshot's COW use, percent; -1 none */
	char *newest;			/* the newest complete timeline snapshot, NULL if none */
	time_t newest_created;
	char *newest_any;		/* the newest complete snapshot of any kind, NULL if none */
	time_t newest_any_created;
	enum snap_kind newest_any_kind;
	time_t next_due;		/* when run takes the next timeline snapshot */
	struct freshness limits;	/* for the newest timeline snapshot's age */
	bool space_known;
	struct fs_space space;
	bool no_room;			/* min_free (or the thin pool's limit) reached */
	char room_why[300];
	struct volume_health health;
	struct target_status *targets;	/* one per target of the volume, in config order */
	size_t n_targets;
	bool run_known;
	struct run_record run;		/* the last run, if run_known */
	char *pkg_open;			/* a package pre snapshot still without its post */
	time_t pkg_opened;
	char advice[600];		/* a layout that will hurt, "" if none */
	struct status_problem *problems;
	size_t n_problems;
	enum check_state state;		/* the worst of the problems, OK without any */
};

/**
 * engine_status() - The status of @v at @eng->now. A volume that cannot be
 * probed or listed is a status too (error set, CRITICAL), never a failure.
 * @eng: The engine.
 * @v: The volume.
 * @o: Limit overrides (may be NULL).
 * @ret: Filled (volume_status_done() it).
 * Return: 0, or -ENOMEM.
 */
int engine_status(struct engine *eng, const struct volume *v, const struct status_opts *o,
		  struct volume_status *ret);

/**
 * volume_status_done() - Free what @s owns and zero it.
 * @s: The status.
 */
void volume_status_done(struct volume_status *s);

#endif
