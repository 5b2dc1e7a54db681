/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Retention (SPEC 4) as a pure function: snapshots + policy + now -> one
 * decision with its reasons per snapshot. No I/O, no logging, no clock reads;
 * local time comes from TZ through localtime_r(). The command line prints the
 * plan, or hands the deletions to a backend.
 */
#ifndef SNAPROTATE_RETENTION_H
#define SNAPROTATE_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/util.h"
#include "model/policy.h"
#include "model/snapshot.h"

#define REASON_MAX 4

struct decision {
	bool keep;
	unsigned n_reasons;
	/* "daily 2026-11-27", "newest", "pinned", "base for target nas", ... */
	char reasons[REASON_MAX][48];
};

struct plan {
	size_t n;
	struct decision *d;		/* parallel to the snapshots passed in */
	size_t n_delete;		/* decisions with keep = false */
};

/**
 * retention_plan() - Decide which snapshots of one volume to keep.
 * @snaps: Snapshots of one volume in any order (borrowed).
 * @n: Number of entries in @snaps.
 * @policy: The rules.
 * @now: Reference time; tests pass a constant.
 * @ret_plan: On success one decision per snapshot; free with plan_free().
 *
 * Foreign snapshots are always kept ("foreign"); incomplete ones are marked
 * for deletion ("incomplete"). The newest complete snapshot is always kept.
 *
 * Return: 0 or -ENOMEM.
 */
int retention_plan(const struct snapshot *snaps, size_t n, const struct policy *policy,
		   time_t now, struct plan **ret_plan);

/**
 * retention_keep_chains() - Also keep every copy that a kept block copy (LVM,
 * on a target) is a delta of, transitively: "base of NAME". Foreign and
 * incomplete entries are never bases.
 * @snaps: A target's copies, as given to retention_plan().
 * @n: Number of entries in @snaps.
 * @p: The plan retention_plan() made for them; updated in place.
 */
void retention_keep_chains(const struct snapshot *snaps, size_t n, struct plan *p);

/**
 * plan_free() - Free a plan.
 * @p: The plan, or NULL.
 * Return: NULL.
 */
struct plan *plan_free(struct plan *p);

DEFINE_CLEANUP_FUNC(struct plan *, plan_free)

/**
 * retention_finest() - The finest granularity with a non-zero count.
 * @policy: The policy.
 * Return: it, or _RETAIN_GRAN_MAX when every count is zero.
 */
enum retain_gran retention_finest(const struct policy *policy);

/**
 * retention_same_bucket() - Whether @a and @b fall into the same local-time bucket of @g.
 * @g: The granularity (not _RETAIN_GRAN_MAX).
 * @a: One time.
 * @b: The other.
 * Return: true when they share the bucket; a time localtime_r() cannot convert is
 * only in its own.
 */
bool retention_same_bucket(enum retain_gran g, time_t a, time_t b);

/**
 * due_timeline() - Whether `run` should take a timeline snapshot now (SPEC 4).
 * @policy: The volume's retention (for the finest granularity).
 * @interval: Seconds; 0 means "when the current finest bucket is empty".
 * @have_last: Whether there is any timeline snapshot at all.
 * @last: The newest timeline snapshot's creation time.
 * @now: Reference time.
 *
 * Without @interval and with every count zero, a snapshot is due once a day.
 *
 * Return: true when a snapshot is due: there is none yet, @interval seconds lie
 * between @last and @now (either way, should the clock have gone back), or
 * without @interval, @last is in another bucket than @now.
 */
bool due_timeline(const struct policy *policy, int64_t interval, bool have_last, time_t last,
		  time_t now);

/**
 * due_next() - When due_timeline() first says yes, from @now on.
 * @policy: As for due_timeline().
 * @interval: As for due_timeline().
 * @have_last: As for due_timeline().
 * @last: As for due_timeline().
 * @now: Reference time.
 * Return: @now when a snapshot is due already, else the first second after
 * @now when one will be (local bucket edges follow TZ; at most 400 days on).
 */
time_t due_next(const struct policy *policy, int64_t interval, bool have_last, time_t last,
		time_t now);

#endif
