/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Operations on the snapshots of one volume, for the command line: list,
 * delete, pin and unpin, and finding a post snapshot's pre partner. Each
 * takes the volume's lock where it changes something (not in a dry run) and
 * returns what it did; nothing here prints.
 */
#ifndef SNAPROTATE_ENGINE_SNAPSHOTS_H
#define SNAPROTATE_ENGINE_SNAPSHOTS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "engine/engine.h"
#include "model/snapshot.h"

/* What became of one snapshot an operation was asked about. */
enum snap_outcome {
	SNAP_DONE,		/* deleted, pinned, unpinned */
	SNAP_WOULD,		/* a dry run: it would have been */
	SNAP_UNCHANGED,		/* it was so already */
	SNAP_REFUSED,		/* not done, by rule: why is in e.msg, a whole sentence */
	SNAP_FAILED,		/* tried and failed: e */
};

struct snap_result {
	char *name;
	enum snap_outcome outcome;
	struct rerr e;
};

struct snap_results {
	struct snap_result *items;
	size_t n;
};

/**
 * snap_results_done() - Free what @r owns and zero it.
 * @r: The results.
 */
void snap_results_done(struct snap_results *r);

/**
 * engine_list() - Every snapshot of @v: complete, incomplete, damaged and
 * foreign, oldest first; takes no lock.
 * @eng: The engine.
 * @v: The volume.
 * @ret: Filled on success; snapshot_list_clear() it.
 * @e: The error record, filled on failure.
 * Return: 0 or -errno with @e.
 */
int engine_list(struct engine *eng, const struct volume *v, struct snapshot_list *ret,
		struct rerr *e);

/**
 * engine_list_target() - What target @t holds of @v: its copies, oldest first.
 * @eng: The engine; the target's session is opened on first use and shared.
 * @v: The volume.
 * @t: The target (any of the config's).
 * @ret: Filled on success; snapshot_list_clear() it.
 * @e: The error record, filled on failure.
 * Return: 0 or -errno with @e.
 */
int engine_list_target(struct engine *eng, const struct volume *v, const struct target *t,
		       struct snapshot_list *ret, struct rerr *e);

/**
 * engine_get() - The entry of @v called @name (a full name), as engine_list()
 * shows it, without reading the others where the backend can; takes no lock.
 * @eng: The engine.
 * @v: The volume.
 * @name: The full name.
 * @ret: Filled on success; snapshot_done() it.
 * @e: The error record, filled on failure other than -ENOENT.
 * Return: 0, -ENOENT when there is no such entry, or -errno with @e.
 */
int engine_get(struct engine *eng, const struct volume *v, const char *name,
	       struct snapshot *ret, struct rerr *e);

/**
 * engine_delete() - Delete the snapshots of @v that @args name (full names,
 * stamp prefixes, "latest"). Every name is resolved first, so that a typo
 * deletes nothing. Foreign entries are refused; pinned and damaged ones
 * without @force.
 * @eng: The engine; @v's lock is taken and held (not in a dry run).
 * @v: The volume.
 * @args: The SNAPSHOT arguments.
 * @n_args: How many.
 * @force: Also delete pinned and damaged snapshots.
 * @ret: One result per snapshot named (a snapshot named twice, once);
 *       snap_results_done() it.
 * @e: The error record, filled on failure.
 * Return: 0 (failures are in @ret), or -errno with @e when nothing was tried:
 * the lock, the listing, or a name (@e->usage); -ENOMEM, also part way.
 */
int engine_delete(struct engine *eng, const struct volume *v, char *const *args, size_t n_args,
		  bool force, struct snap_results *ret, struct rerr *e);

/**
 * engine_pin() - Pin (or unpin) the complete snapshot of @v that @arg names.
 * @eng: The engine; @v's lock is taken and held (not in a dry run).
 * @v: The volume.
 * @arg: A SNAPSHOT argument.
 * @pinned: Pin (true) or unpin (false).
 * @ret: Filled also on failure after the name was resolved; free its name.
 * @e: The error record, filled on failure.
 * Return: 0 (the outcome is in @ret), or -errno with @e (@e->usage for @arg).
 */
int engine_pin(struct engine *eng, const struct volume *v, const char *arg, bool pinned,
	       struct snap_result *ret, struct rerr *e);

/**
 * engine_find_pre() - The pre snapshot of @v that @arg names, for a post snapshot.
 * @eng: The engine (no lock is taken).
 * @v: The volume.
 * @arg: A SNAPSHOT argument.
 * @ret_name: On success its name; free() it.
 * @e: The error record, filled on failure.
 * Return: 0, or -errno with @e (@e->usage when @arg names none, or one that is
 * not a pre snapshot).
 */
int engine_find_pre(struct engine *eng, const struct volume *v, const char *arg,
		    char **ret_name, struct rerr *e);

#endif
