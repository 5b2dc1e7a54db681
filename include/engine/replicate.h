/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Replication to targets (SPEC 4 and 6) for one volume: one session per
 * target, shared by every volume of a command; what to send and on top of
 * what comes from policy/replication.h.
 */
#ifndef SNAPROTATE_ENGINE_REPLICATE_H
#define SNAPROTATE_ENGINE_REPLICATE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "engine/report.h"
#include "model/config.h"
#include "transport/target.h"

/*
 * Target sessions of one command: one per target, opened when first needed
 * and shared by every volume (one ssh login per run and target).
 */
struct sessions;

/**
 * sessions_new() - No session yet, one place for each target of @cfg.
 * @cfg: The config (borrowed: must outlive the sessions).
 * Return: the sessions (free with sessions_free()), or NULL (ENOMEM).
 */
struct sessions *sessions_new(const struct config *cfg);

/**
 * sessions_get() - The session to @t, opened on first use; a failure to open
 * it is remembered and returned again, not retried.
 * @ss: The sessions.
 * @t: A target of the config.
 * @ret: On success the session (borrowed from @ss).
 * @e: The error record, filled on failure.
 * Return: 0 or -errno with @e (-EPIPE when the session was lost, -ENOENT for a
 * target not in the config).
 */
int sessions_get(struct sessions *ss, const struct target *t, struct target_conn **ret,
		 struct rerr *e);

/**
 * sessions_free() - Close every session and free @s.
 * @s: The sessions, or NULL.
 * Return: NULL.
 */
struct sessions *sessions_free(struct sessions *s);

/* Progress of a transfer, for the command line to show. */
typedef void (*rotate_progress_fn)(void *user, const char *volume, const char *target,
				   const char *name, uint64_t bytes, bool done);

struct replicate_opts {
	const char *only_target;	/* NULL: every target of the volume */
	bool send;			/* send what is missing */
	bool prune_targets;		/* apply each target's retention there */
	bool dry_run;
	bool offline_ok;		/* run: an absent target within its rpo is no failure */
	rotate_progress_fn progress;
	void *user;
};

/**
 * replicate_volume() - Send @v's snapshots to its targets and/or prune them
 * there, per @o. @r->snaps (the source's complete snapshots) is used when
 * filled, else listed. sent_to records are brought in line with what each
 * target holds. A target that fails is recorded in @r and the others go on.
 * @v: The volume.
 * @ss: The target sessions.
 * @now: Reference time for the targets' retention.
 * @o: What to do.
 * @r: The volume's report; filled (one target_report per target worked on).
 * Return: 0, or -EIO when anything failed (see @r->errors); -ENOMEM when @r
 * cannot grow.
 */
int replicate_volume(const struct volume *v, struct sessions *ss,
		     time_t now, const struct replicate_opts *o, struct volume_report *r);

#endif
