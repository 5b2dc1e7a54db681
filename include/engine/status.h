/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `status`: what a volume looks like now, from its snapshots, its storage's
 * health and its last run, without a lock and without contacting a target.
 */
#ifndef SNAPROTATE_ENGINE_STATUS_H
#define SNAPROTATE_ENGINE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>

#include "backends/backend.h"
#include "base/err.h"
#include "engine/engine.h"

/* A target's newest copy, as the source last recorded it (sent_to). */
struct target_status {
	const char *target;		/* borrowed from the config */
	char *newest;			/* NULL: nothing recorded yet */
	int64_t lag;			/* seconds behind the newest snapshot */
};

struct volume_status {
	const struct volume *volume;	/* borrowed */
	const char *backend;		/* "btrfs", "lvm" */
	size_t count;			/* complete snapshots */
	char *newest;			/* the newest complete one, NULL if none */
	time_t newest_created;
	time_t next_due;		/* when run takes the next timeline snapshot */
	size_t invalid;			/* LVM: overflowed snapshots */
	struct volume_health health;
	struct target_status *targets;	/* one per target of the volume, in config order */
	size_t n_targets;
	struct json_object *last_run;	/* STATE_DIR/VOLUME.json, NULL if none */
	char *pkg_open;			/* a package pre snapshot still without its post */
	char advice[600];		/* a layout that will hurt, "" if none */
	time_t pkg_opened;
};

/**
 * engine_status() - The status of @v at @eng->now.
 * @eng: The engine.
 * @v: The volume.
 * @ret: Filled on success.
 * @e: The error record, filled on failure.
 * Return: 0 with @ret filled (volume_status_done() it), or -errno with @e.
 */
int engine_status(struct engine *eng, const struct volume *v, struct volume_status *ret,
		  struct rerr *e);

/**
 * volume_status_done() - Free what @s owns and zero it.
 * @s: The status.
 */
void volume_status_done(struct volume_status *s);

#endif
