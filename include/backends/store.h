/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Stores: where a target keeps the copies it received (`serve`, SPEC 6), and
 * where a backup host keeps what it pulls (SPEC 9). Under a root,
 * ROOT/VOLUME/NAME holds one copy and its info.json; ROOT/VOLUME/.incoming.NAME
 * is a copy being received, ROOT/VOLUME/.deleting.NAME one being removed.
 *
 * One store per kind of copy, the sink of each backend's stream source:
 *   - store_btrfs: a read-only subvolume NAME/snapshot, made by a confined
 *     `btrfs receive` (backends/receive.h) of a checked stream
 *     (format/sendcheck.h); the volume directory is a subvolume of its own;
 *   - store_block: a block stream (format/blockstream.h) kept as the file
 *     NAME/image or NAME/delta, on any filesystem; the volume directory is
 *     marked by a file ".block".
 * The transport hands a store the bytes of a stream and never asks which
 * kind it is. Every path is opened beneath the volume's directory, without
 * following a symlink (open_beneath()); no store removes a NAME it did not
 * stage, except through store_retire().
 */
#ifndef SNAPROTATE_STORE_H
#define SNAPROTATE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "backends/backend.h"
#include "base/err.h"
#include "model/snapshot.h"
#include "model/stamp.h"

#define STORE_INCOMING	".incoming."
#define STORE_DELETING	".deleting."
#define STORE_STAGING_MAX	(SNAP_NAME_MAX + sizeof(STORE_INCOMING))

/* Sees a stream as it passes (format/sendcheck.h is one). */
struct stream_filter {
	/* How many bytes come next, and whether they must be fed or may pass unseen. */
	size_t (*next)(void *user, bool *inspect);
	/* Look at the next @len bytes. Return: 0, or <0 to refuse the stream. */
	int (*feed)(void *user, const void *buf, size_t len);
	/* @len bytes passed unseen. */
	void (*pass)(void *user, size_t len);
	void *user;
};

/* The bytes of one incoming stream, as the transport hands them to a store. */
struct stream_in {
	/*
	 * Move the whole stream into @fd (< 0: read and drop it), through
	 * @filter if given. After a failed write (*@write_error set) or the
	 * filter's refusal (*@refused set) the rest is read and dropped.
	 * Return: 0 at the stream's proper end, or -errno when the connection
	 * failed (then @broken is set, and there is no one to answer).
	 */
	int (*copy)(struct stream_in *in, int fd, const struct stream_filter *filter,
		    uint64_t *bytes, int *write_error, bool *refused);
	void *user;		/* the transport's */
	bool taken;		/* copy() ran: the stream is consumed */
	int broken;		/* copy()'s error when the connection failed, else 0 */
};

/* One volume's directory in a store's root, open, and locked by the caller. */
struct store_dir {
	const char *root;		/* for messages and the receive's paths */
	int root_fd;
	bool btrfs;			/* the root is on btrfs: btrfs copies can be here */
	const char *volume;
	int vfd;			/* ROOT/VOLUME */
	/* A line for the log: what was repaired or converted. */
	void (*note)(const char *volume, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
};

struct store {
	const char *name;		/* "btrfs", "block" */

	/* Whether @d holds copies of this kind. */
	bool (*holds)(const struct store_dir *d);

	/*
	 * The copies in @d, complete or not, sorted oldest first; a NAME that
	 * is not one (a symlink, a stray file) is listed as foreign.
	 * Return: 0, or -errno with @e (a message without the volume's name).
	 */
	int (*list)(const struct store_dir *d, struct snapshot_list *ret, struct rerr *e);

	/*
	 * Receive the copy announced as @s into NAME @name (which does not
	 * exist): staged, checked, and given its name only once whole.
	 * Return: 0 with @ret_bytes; -errno with @e saying why, in words for the
	 * sender. A store that refuses before reading the stream leaves
	 * @in->taken false: the transport then drops the stream.
	 */
	int (*receive)(const struct store_dir *d, const char *name, struct snapshot *s,
		       struct stream_in *in, uint64_t *ret_bytes, struct rerr *e);

	/* Whether complete copy @s of @l may be deleted: 0, or -EPERM with @e saying why not. */
	int (*may_delete)(const struct store_dir *d, const struct snapshot_list *l,
			  const struct snapshot *s, struct rerr *e);

	/*
	 * The stored stream of complete copy @s, to be sent back (FETCH): a
	 * producer that writes it into a pipe (a block copy's file; a btrfs
	 * copy's whole send stream). Optional.
	 * Return: 0 with @ret (close_stored() it), or -errno with @e.
	 */
	int (*open_stored)(const struct store_dir *d, const struct snapshot *s,
			   struct stream_source *ret, struct rerr *e);
	void (*close_stored)(struct stream_source *src);

	/*
	 * Bring @d up to date once per session, after the leftovers of an
	 * interrupted transfer are gone (convert an old layout, wait for space
	 * being freed). Optional. Return: 0; 1 when @d's directory was replaced
	 * (the caller opens and locks it again, and calls this once more);
	 * -errno with @e.
	 */
	int (*prepare)(const struct store_dir *d, struct rerr *e);
};

extern const struct store store_btrfs;
extern const struct store store_block;

/**
 * store_of() - The store of @d's copies.
 * @d: The volume's directory.
 * Return: store_block when @d is marked ".block", else store_btrfs when the root is
 * on btrfs; NULL when none can be there (no block copy, not on btrfs).
 */
const struct store *store_of(const struct store_dir *d);

/**
 * store_for() - The store a copy announced as @s goes to in @d.
 * @d: The volume's directory.
 * @s: The copy as announced; one with an image is a block copy.
 * Return: store_block for a block copy or a directory marked ".block", else store_btrfs.
 */
const struct store *store_for(const struct store_dir *d, const struct snapshot *s);

/**
 * store_make_volume() - Make ROOT/@volume, mode 0700: on btrfs a subvolume,
 * so a receive can be confined to it. An existing one is fine.
 * @root_fd: The store's root.
 * @volume: The volume's name.
 * @btrfs: Make a subvolume (the root is on btrfs).
 * Return: 0 or -errno.
 */
int store_make_volume(int root_fd, const char *volume, bool btrfs);

/**
 * store_is_staged() - Whether @name is a staging entry (.incoming.*, .deleting.*).
 * @name: An entry of a volume's directory.
 * Return: true for a staging entry.
 */
bool store_is_staged(const char *name);

/**
 * store_repair() - Remove every staging entry of @d: what an interrupted transfer left.
 * @d: The volume's directory; each removal, and each failure, is told to @d->note.
 */
void store_repair(const struct store_dir *d);

/**
 * store_retire() - Take NAME @name out of @d's copies in one rename, then
 * remove it: a crash in between leaves only a .deleting.* entry, which the
 * next store_repair() removes.
 * @d: The volume's directory.
 * @name: The copy's NAME.
 * Return: 0 (a failed removal after the rename is only told to @d->note), or
 * -errno (the copy is still there when the rename failed).
 */
int store_retire(const struct store_dir *d, const char *name);

#endif
