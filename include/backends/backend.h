/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The storage interface: one const struct of function pointers per backend
 * (btrfs, LVM). A backend knows its storage and where it keeps metadata, and
 * nothing of policy: which snapshots to take or delete is decided above it.
 */
#ifndef SNAPROTATE_BACKEND_H
#define SNAPROTATE_BACKEND_H

#include <stdint.h>

#include "base/err.h"
#include "model/config.h"
#include "model/snapshot.h"
#include "model/stamp.h"

struct fs_space {
	uint64_t size;		/* bytes */
	uint64_t avail;		/* bytes a new snapshot can still use */
};

/* What a volume's storage says about itself, beyond its snapshots. */
struct volume_health {
	bool pool_known;		/* LVM thin: the pool's fields are set */
	char pool[256];			/* "vg0/pool" */
	double pool_data_percent;
	double pool_metadata_percent;
	bool merge_pending;		/* a rollback waits for the origin's next activation */
	char merging[SNAP_NAME_MAX + 1];	/* the snapshot being merged, "" if unknown */
};

enum rollback_result {
	ROLLBACK_DONE,			/* the volume holds the snapshot's content now */
	ROLLBACK_AT_ACTIVATION,		/* LVM: merged when the origin is next activated */
};

/*
 * A snapshot opened to be sent (SPEC 6): @produce writes its whole stream, a
 * btrfs send stream or a block stream, into @pipe_w, from a thread of its own
 * (transport/send.h); the target keeps it as one copy.
 */
struct stream_source {
	int (*produce)(void *priv, int pipe_w);	/* Return: 0 or -errno */
	void *priv;			/* the backend's: stream_close() frees it */
	const char *parent;		/* the snapshot the stream was made against; NULL: whole */
	const char *image;		/* recorded in the copy's info.json: "full", "delta"; NULL */
	const char *base;		/* likewise: the copy a "delta" needs; NULL */
};

/*
 * Where a restore writes (SPEC 2 restore): a copy's stored stream, and the
 * ones it builds on before it, are applied in order.
 */
struct stream_sink {
	/* Whether the target's copy @c can be restored here: 0, or -errno with @e. */
	int (*check)(struct stream_sink *k, const struct snapshot *c, struct rerr *e);
	/*
	 * Apply the stored stream of copy @c from @in_fd, on top of the copy
	 * applied before it (@parent_uuid, NULL for the first).
	 * Return: 0, or -errno with @e.
	 */
	int (*apply)(struct stream_sink *k, int in_fd, const struct snapshot *c,
		     const char *parent_uuid, struct rerr *e);
	const struct volume *v;
	int fd;				/* where it writes; -1 until opened */
};

struct backend {
	const char *name;		/* "btrfs", "lvm": matches backend= in rotate.conf */
	enum backend_kind kind;

	/*
	 * Whether the volume can be used as configured: 0 yes; <0 no, with
	 * @ret_key set to the config key to blame.
	 */
	int (*probe)(const struct volume *v, enum volume_key *ret_key, struct rerr *e);

	/* Every snapshot of @v, foreign and incomplete ones included, sorted oldest first. */
	int (*list)(const struct volume *v, struct snapshot_list *ret, struct rerr *e);

	/*
	 * Optional: the one entry called @name, as list() would show it, without
	 * reading the others (a package hook checks its pre in a volume of
	 * thousands). 0 with @ret filled (snapshot_done() it); -ENOENT when there
	 * is none. Without it, the engine lists.
	 */
	int (*get)(const struct volume *v, const char *name, struct snapshot *ret, struct rerr *e);

	/*
	 * Optional: advice on a layout that works but will hurt (btrfs: a
	 * snapshot_dir that is a plain directory inside the volume). 1 with a
	 * sentence in @buf, 0 when there is none.
	 */
	int (*advise)(const struct volume *v, char *buf, size_t len);

	/*
	 * Take a snapshot with @s's metadata (created, kind, description, pinned,
	 * pre); fills in @s->name, @s->seq and @s->uuid. The snapshot is complete
	 * only once its metadata is durable; a failure leaves nothing behind.
	 */
	int (*create)(const struct volume *v, struct snapshot *s, struct rerr *e);

	/* Delete one of our snapshots (complete or incomplete); refuses a foreign one. */
	int (*remove)(const struct volume *v, const struct snapshot *s, struct rerr *e);

	/* Rewrite the metadata of a complete snapshot (pin, unpin, sent_to). */
	int (*update)(const struct volume *v, const struct snapshot *s, struct rerr *e);

	/*
	 * Pace deletions: wait until fewer than @max_pending deleted snapshots
	 * are still being cleaned up by the storage (btrfs cleaner). Optional.
	 * Return: how many are still pending (< @max_pending, or any number when
	 * the cleaner stalls), or <0.
	 */
	int (*settle)(const struct volume *v, unsigned max_pending, struct rerr *e);

	/*
	 * Open complete snapshot @s for sending, against @parent (a snapshot the
	 * target holds, or NULL) where the storage can tell what changed since;
	 * else whole. Optional (NULL: this storage cannot be sent yet).
	 * Return: 0 with @ret, or -errno with @e.
	 */
	int (*stream_open)(const struct volume *v, const struct snapshot *s,
			   const struct snapshot *parent, struct stream_source *ret, struct rerr *e);
	void (*stream_close)(const struct volume *v, struct stream_source *src);

	/*
	 * A copy made against a parent needs that parent's copy to be restored
	 * (block deltas), so chains of them are kept short; false when every copy
	 * stands alone (btrfs: the parent only saves bytes on the wire).
	 */
	bool copies_chain;

	/* Where @v's snapshots are, for people: its snapshot_dir, its VG. */
	const char *(*where)(const struct volume *v);

	/*
	 * Check @to (a place of this backend's kind: VG/LV for LVM) for a restore
	 * of a copy of @v into it and, with @open, open it for writing: it must
	 * exist, and not be in use. Optional (NULL: no restore yet).
	 * Return: 0 with @ret (its fd -1 without @open; restore_close() it), or
	 * -errno with @e; @e->usage when @to names nothing usable.
	 */
	int (*restore_open)(const struct volume *v, const char *to, bool open,
			    struct stream_sink *ret, struct rerr *e);
	void (*restore_close)(struct stream_sink *k);

	/*
	 * Restore by way of a store (btrfs): the copy is received, checked and
	 * confined as serve receives any copy, into a store beside @to, then
	 * made @to. restore_stage() checks @to (a path that does not exist yet,
	 * on a filesystem of this kind) and names that store's root (@root, made
	 * if missing); restore_place() makes @to from the copy @c received there,
	 * writable, with TO.info.json beside it, and removes what the store kept.
	 * Optional. Return: 0, or -errno with @e (@e->usage for a wrong @to).
	 */
	int (*restore_stage)(const struct volume *v, const char *to, char *root, size_t len,
			     bool make, struct rerr *e);
	int (*restore_place)(const struct volume *v, const char *root, const struct snapshot *c,
			     const char *to, struct rerr *e);

	/* What a hook is told the volume is (SNAPROTATE_PATH): its path, its VG/LV. */
	const char *(*origin)(const struct volume *v);

	/*
	 * The mount point to freeze for a group snapshot with freeze = yes.
	 * Return: 1 with *@ret_mount (free() it), 0 when there is none (not
	 * mounted, or a storage that is never frozen), or -errno with @e.
	 */
	int (*freeze_target)(const struct volume *v, char **ret_mount, struct rerr *e);

	/*
	 * Whether a snapshot can be taken while the volume's filesystem is
	 * frozen (a group with freeze = yes). Optional (NULL: it can).
	 */
	bool (*snapshot_frozen_ok)(const struct volume *v);

	/* Free space where new snapshots go. */
	int (*space)(const struct volume *v, struct fs_space *ret, struct rerr *e);

	/*
	 * Whether a new snapshot has room: min_free, for every storage
	 * (backend_min_free()), and what the storage adds (LVM: thin_pool_max).
	 * Return: 1 yes; 0 no, with @why; -errno with @e.
	 */
	int (*room)(const struct volume *v, char *why, size_t why_len, struct rerr *e);

	/* Pool usage and pending merges. Optional. */
	int (*health)(const struct volume *v, struct volume_health *ret, struct rerr *e);

	/*
	 * Make the volume's content that of @s (SPEC 7); the caller has already
	 * snapshotted the current state. Optional.
	 */
	int (*rollback)(const struct volume *v, const struct snapshot *s,
			enum rollback_result *ret, struct rerr *e);

	/*
	 * Optional: complete or undo what a kill interrupted (a rollback), from
	 * what the backend recorded before it began. Run and prune call it first.
	 * Return: 1 with a sentence in @note, 0 when there was nothing, or
	 * -errno with @e (then nothing was changed that could be lost).
	 */
	int (*recover)(const struct volume *v, char *note, size_t len, struct rerr *e);

	/*
	 * The rollback to @s in words, into @buf: what rollback() would do
	 * (@result NULL), or what it did. With rollback.
	 */
	void (*rollback_words)(const struct volume *v, const struct snapshot *s,
			       const enum rollback_result *result, char *buf, size_t len);
};

extern const struct backend backend_btrfs;
extern const struct backend backend_lvm;

/**
 * backend_find() - The backend of a kind.
 * @kind: BACKEND_BTRFS or BACKEND_LVM.
 * Return: the backend for @kind (never NULL for a valid kind; NULL for another).
 */
const struct backend *backend_find(enum backend_kind kind);

/**
 * backend_min_free() - Whether @v's storage has min_free available (1), or
 * not (0, with @why saying how much it has); -errno with @e. A backend's room.
 * @v: The volume; its ops must be set (backend_resolve()).
 * @why: With 0, how much is free and what min_free asks for.
 * @why_len: The size of @why.
 * @e: The error record, filled when the backend's space() fails.
 * Return: 1 when there is room (or no min_free is set), 0 when not, or -errno
 * with @e.
 */
int backend_min_free(const struct volume *v, char *why, size_t why_len, struct rerr *e);

/**
 * backend_rescue_config() - Rescue mode (SPEC 7): the config of the volumes
 * whose snapshots are on the btrfs whose top level is mounted at @fs, found
 * from their info.json alone; or, without @fs, in the active LVM VG @vg, from
 * their LV tags.
 * @fs: The mount point of the top level (subvolid 5), or NULL.
 * @vg: The VG, when @fs is NULL.
 * @ret_text: On success the config's text; free() it.
 * @ret_notes: On success what was left out and why, one line each ("" if
 *             nothing); free() it.
 * @e: The error record, filled on failure (@e->usage for a wrong @fs).
 * Return: 0 or -errno with @e.
 */
int backend_rescue_config(const char *fs, const char *vg, char **ret_text, char **ret_notes,
			  struct rerr *e);

/**
 * backend_resolve() - Set each volume's ops to its backend, once the config is loaded.
 * @cfg: The config whose volumes get their ops.
 */
void backend_resolve(struct config *cfg);

#endif
