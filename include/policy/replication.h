/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Replication decisions (SPEC 4 and 6) as pure functions, beside retention:
 * which of a volume's snapshots a target should get, which copy each is sent
 * on top of, how long a chain of block deltas may grow. A copy belongs to the
 * source snapshot whose uuid it carries. No I/O, no clock reads.
 */
#ifndef SNAPROTATE_REPLICATION_H
#define SNAPROTATE_REPLICATION_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "model/policy.h"
#include "model/snapshot.h"

/* Deltas in a row before a block volume's next full image. */
#define REPLICATION_CHAIN_MAX	7

/**
 * replication_held() - Whether @copies hold a copy of @s (by uuid).
 * @copies: A target's copies.
 * @s: A source snapshot.
 * Return: true when one of @copies has @s's uuid; false also when @s has none.
 */
bool replication_held(const struct snapshot_list *copies, const struct snapshot *s);

/**
 * replication_source_of() - The source snapshot that @copy is a copy of (by uuid).
 * @src: The volume's snapshots.
 * @copy: A target's copy.
 * Return: the snapshot (borrowed from @src), or NULL (also when @copy has no uuid).
 */
struct snapshot *replication_source_of(const struct snapshot_list *src,
				       const struct snapshot *copy);

/**
 * replication_mirror_pins() - Give each copy the pin of its source snapshot
 * when the target takes pins, none otherwise: a pin belongs to the source, and
 * the target keeps the copy of a pinned snapshot while the source pins it.
 * @src: The volume's snapshots.
 * @copies: A target's copies, changed in place.
 * @send_pinned: The target's send_pinned.
 */
void replication_mirror_pins(const struct snapshot_list *src, struct snapshot_list *copies,
			     bool send_pinned);

/**
 * replication_choose() - Which source snapshots to send to a target: the
 * complete ones it does not hold that are newer than its newest copy, or
 * pinned when it takes pins, and that its own retention would keep, judged
 * together with its copies (so its newest, always, and with @send_pinned the
 * pinned ones).
 * @policy: The target's retention.
 * @src: The volume's snapshots (borrowed).
 * @copies: The target's copies (borrowed), their pins mirrored already.
 * @send_pinned: Whether the target gets, and keeps, what the source pins.
 * @now: Reference time for the target's retention.
 * @want: One flag per entry of @src, set on success.
 * Return: 0 or -ENOMEM.
 */
int replication_choose(const struct policy *policy, const struct snapshot_list *src,
		       const struct snapshot_list *copies, bool send_pinned, time_t now,
		       bool *want);

/**
 * replication_parent() - What @s is best sent on top of: the newest snapshot
 * of @src older than @s whose copy the target holds, else the newest held one
 * at all. With @chain_max (block copies), one whose copy is the end of a chain
 * of @chain_max deltas or more is not taken: the next is a full image again.
 * @src: The volume's snapshots (only complete ones of ours are parents).
 * @copies: The target's copies.
 * @s: The snapshot to send.
 * @chain_max: The longest chain of deltas; 0: no limit (copies that stand alone, btrfs).
 * Return: the parent (borrowed from @src), or NULL: a full stream.
 */
const struct snapshot *replication_parent(const struct snapshot_list *src,
					  const struct snapshot_list *copies,
					  const struct snapshot *s, unsigned chain_max);

/**
 * replication_chain_depth() - How many deltas lead from a full image to the
 * copy of @s in @copies (0: a full image, or no copy). A broken chain ends
 * the count.
 * @copies: The target's copies; a delta names its base by NAME.
 * @s: The source snapshot whose copy is looked at (by uuid).
 * Return: the number of deltas.
 */
unsigned replication_chain_depth(const struct snapshot_list *copies, const struct snapshot *s);

#endif
