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
#include "format/blockstream.h"
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

/* A snapshot's block device, opened to be sent as a block stream (LVM). */
struct block_source {
	int fd;
	uint64_t size;			/* bytes */
	bool delta;			/* ranges are the changes since the base */
	struct blockstream_range *ranges;
	size_t n_ranges;
	uint64_t changed;		/* bytes in ranges */
	bool deactivate;		/* activated for this: block_close deactivates it */
	char lv[300];			/* "vg/name" */
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
	 * The path of a complete snapshot's data, for sending: a read-only
	 * subvolume (btrfs). NULL for a backend that sends another way.
	 */
	int (*snapshot_path)(const struct volume *v, const struct snapshot *s, char *buf,
			     size_t len);

	/*
	 * Open @s for sending as a block stream: the changes since @base (a
	 * snapshot the target holds) when the storage can tell them (thin), else
	 * the whole device. Optional (NULL: the backend sends by path).
	 */
	int (*block_open)(const struct volume *v, const struct snapshot *s,
			  const struct snapshot *base, struct block_source *ret, struct rerr *e);
	void (*block_close)(const struct volume *v, struct block_source *b);

	/* Where @v's snapshots are, for people: its snapshot_dir, its VG. */
	const char *(*where)(const struct volume *v);

	/*
	 * Check @to (a place of this backend's kind: VG/LV for LVM) for a restore
	 * of a block copy of @v into it and, with @open, open it for writing: it
	 * must exist, and not be in use. Optional (NULL: no restore yet).
	 * Return: 0 with *@ret_fd (-1 without @open), or -errno with @e;
	 * @e->usage when @to names nothing usable.
	 */
	int (*restore_open)(const struct volume *v, const char *to, bool open, int *ret_fd,
			    struct rerr *e);

	/* What a hook is told the volume is (SNAPROTATE_PATH): its path, its VG/LV. */
	const char *(*origin)(const struct volume *v);

	/*
	 * The mount point to freeze for a group snapshot with freeze = yes.
	 * Return: 1 with *@ret_mount (free() it), 0 when there is none (not
	 * mounted, or a storage that is never frozen), or -errno with @e.
	 */
	int (*freeze_target)(const struct volume *v, char **ret_mount, struct rerr *e);

	/* Free space where new snapshots go. */
	int (*space)(const struct volume *v, struct fs_space *ret, struct rerr *e);

	/* Pool usage and pending merges. Optional. */
	int (*health)(const struct volume *v, struct volume_health *ret, struct rerr *e);

	/*
	 * Make the volume's content that of @s (SPEC 7); the caller has already
	 * snapshotted the current state. Optional.
	 */
	int (*rollback)(const struct volume *v, const struct snapshot *s,
			enum rollback_result *ret, struct rerr *e);
};

extern const struct backend backend_btrfs;
extern const struct backend backend_lvm;

/* Return: the backend for @kind (never NULL for a valid kind). */
const struct backend *backend_find(enum backend_kind kind);

/* Sets each volume's ops to its backend, once the config is loaded. */
void backend_resolve(struct config *cfg);

#endif
