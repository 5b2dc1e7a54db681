/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every layer knows of a snapshot: the metadata of SPEC 5, whatever the
 * backend stores it in (info.json on btrfs, LV tags on LVM).
 */
#ifndef SNAPROTATE_SNAPSHOT_H
#define SNAPROTATE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/err.h"

enum snap_kind {
	SNAP_MANUAL,
	SNAP_TIMELINE,
	SNAP_PRE,
	SNAP_POST,
	SNAP_BOOT,
	_SNAP_KIND_MAX,
	_SNAP_KIND_INVALID = -1,
};

/**
 * snap_kind_to_string() - The name of a kind: "manual", "timeline", "pre", "post", "boot".
 * @k: The kind.
 * Return: a static string, or NULL when @k is out of range.
 */
const char *snap_kind_to_string(enum snap_kind k);

/**
 * snap_kind_from_string() - The kind that snap_kind_to_string() names @s.
 * @s: The name.
 * Return: the kind, or _SNAP_KIND_INVALID.
 */
enum snap_kind snap_kind_from_string(const char *s);

/* One target that holds a copy, and when it confirmed the copy. */
struct sent_record {
	char *target;
	time_t when;
};

struct snapshot {
	char *name;		/* "root.20261127T090512Z"; foreign: the entry's name */
	time_t created;		/* UTC; incomplete: from the name; foreign: 0 */
	unsigned seq;		/* collision suffix, 1 for none */
	enum snap_kind kind;	/* foreign and incomplete: SNAP_MANUAL, not shown */
	bool pinned;
	bool complete;		/* snapshot and valid metadata both exist */
	bool foreign;		/* not made by snaprotate: never deleted */
	bool damaged;		/* ours, but not what a crash leaves: kept, never removed by repair */
	char *problem;		/* damaged: what is wrong ("info.json: it names another snapshot") */
	bool invalid;		/* LVM thick: overflowed, its content is lost (not complete) */
	bool stale;		/* btrfs: a copy of an entry that a snapshot of the volume carried
				 * (its snapshot is an empty plain directory): not complete */
	bool merging;		/* LVM: being merged into its origin (a rollback) */
	bool cow_known;		/* LVM thick: cow_percent is set */
	double cow_percent;	/* share of its copy-on-write space in use */
	char *description;	/* never NULL for a complete snapshot */
	char *pre;		/* a post's pre partner (its name), else NULL */
	char *uuid;		/* backend identity, may be NULL */
	char *parent_uuid;
	char *source;		/* btrfs: the volume's subvolume from its filesystem's top level
				 * ("@home"), when taken: what rescue mode finds the volume by */
	char *creator;		/* "snaprotate 0.1.0" */
	char *image;		/* a target's block copy (LVM): "full" or "delta"; else NULL */
	char *base;		/* a delta's base: the copy it applies on */
	struct sent_record *sent;
	size_t n_sent;
};

struct snapshot_list {
	struct snapshot *items;
	size_t n;
};

/**
 * snapshot_done() - Free what @s owns, not @s itself, and zero it.
 * @s: The snapshot.
 */
void snapshot_done(struct snapshot *s);

/**
 * snapshot_list_free() - Free the list and every item.
 * @l: A list from malloc(), or NULL.
 * Return: NULL, for `l = snapshot_list_free(l)`.
 */
struct snapshot_list *snapshot_list_free(struct snapshot_list *l);

/**
 * snapshot_list_clear() - Empty @l in place (frees items, keeps @l itself).
 * @l: The list; empty and reusable on return.
 */
void snapshot_list_clear(struct snapshot_list *l);

/* A list on the stack, emptied when it goes out of scope. */
#define _cleanup_snapshot_list_	__attribute__((cleanup(snapshot_list_clear)))

/**
 * snapshot_list_append() - Move @s into @l (on success @s is zeroed).
 * @l: The list.
 * @s: The snapshot; still the caller's on failure.
 * Return: 0 or -ENOMEM.
 */
int snapshot_list_append(struct snapshot_list *l, struct snapshot *s);

/**
 * snapshot_list_sort() - Oldest first: by time, then collision sequence, then
 * name; foreign entries last, by name.
 * @l: The list, sorted in place.
 */
void snapshot_list_sort(struct snapshot_list *l);

/**
 * snapshot_sent_set() - Record that @target holds a copy since @when (replaces an older record).
 * @s: The snapshot.
 * @target: The target's name (copied).
 * @when: When the target confirmed the copy.
 * Return: 0 or -ENOMEM.
 */
int snapshot_sent_set(struct snapshot *s, const char *target, time_t when);

/**
 * snapshot_sent_remove() - Forget @target's copy.
 * @s: The snapshot.
 * @target: The target's name.
 * Return: 1 when a record was removed, 0 when there was none.
 */
int snapshot_sent_remove(struct snapshot *s, const char *target);

/**
 * snapshot_free_name() - The first name VOLUME.STAMP(_SEQ) for time @t, from
 * sequence @from on, that no entry of @l has.
 * @l: The names already taken.
 * @volume: The volume's name.
 * @t: The time of the stamp.
 * @from: The first sequence to try (0 and 1: without a suffix).
 * @ret: The name (SNAP_NAME_MAX + 1 bytes).
 * @len: The size of @ret.
 * @ret_seq: The name's sequence (1: no suffix).
 * Return: 0, or -EINVAL when @volume is not a volume name or the sequences run out;
 * -ENAMETOOLONG when @len is too small.
 */
int snapshot_free_name(const struct snapshot_list *l, const char *volume, time_t t, unsigned from,
		       char *ret, size_t len, unsigned *ret_seq);

/**
 * snapshot_resolve() - Find the snapshot a SNAPSHOT argument names.
 * @l: Snapshots of @volume, sorted (borrowed).
 * @volume: The volume's name.
 * @arg: A full name, a unique prefix of the stamp ("20261127T09") or of the full
 *       name, or "latest" (the newest complete snapshot). A prefix never matches
 *       a foreign entry.
 * @ret: On success the index into @l->items.
 * @e: The error record, filled on failure (with @e->usage set).
 * Return: 0; -ENOENT when nothing matches, -ENOTUNIQ when a prefix is ambiguous,
 * with @e naming @arg.
 */
int snapshot_resolve(const struct snapshot_list *l, const char *volume, const char *arg,
		     size_t *ret, struct rerr *e);

#endif
