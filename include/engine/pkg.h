/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Package manager hooks (SPEC 8): a pre snapshot before a package transaction
 * and its post after, on every volume with pkg_snapshots = yes.
 *
 * The open pair of a volume lives in STATE_DIR/VOLUME.pkg.json (not /tmp): the
 * pre's name, when it was taken, what changed so far, and once closed, the
 * post. Several operations within pkg_dedupe share one pair: a pre while a
 * pre is open adds its packages to it; a pre soon after a pair was closed
 * reopens it, and its next post replaces the earlier post, so that
 * unattended-upgrades (dpkg once a step) gives one pair, not dozens.
 */
#ifndef SNAPROTATE_ENGINE_PKG_H
#define SNAPROTATE_ENGINE_PKG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "base/err.h"
#include "engine/engine.h"
#include "model/pkg.h"
#include "model/snapshot.h"

/* A pre open longer than this never gets its post: run closes it. */
#define PKG_STALE	(24 * 3600)

enum pkg_step {
	PKG_PRE,
	PKG_POST,
};

enum pkg_outcome {
	PKG_TOOK,		/* a snapshot was taken (a dry run: would be) */
	PKG_SHARED,		/* the pre open since an earlier operation covers this one */
	PKG_REOPENED,		/* the pair closed within pkg_dedupe covers this one too */
	PKG_NOTHING,		/* nothing to do: no package changed, or the pair is closed */
	PKG_SKIPPED,		/* not the running system: e.msg says why */
	PKG_FAILED,		/* e */
};

struct pkg_request {
	enum pkg_step step;
	enum pkg_tool tool;
	const struct pkg_txn *txn;	/* what the hook was told (pre: changes, if any) */
	const char *manager_root;	/* the package manager's root, NULL: "/" */
};

struct pkg_result {
	const struct volume *volume;
	enum pkg_outcome outcome;
	enum snap_kind kind;		/* TOOK: pre, post, or manual (a post without a pre) */
	char *name;			/* TOOK: the snapshot (NULL in a dry run); SHARED, REOPENED: the pre */
	char *description;		/* TOOK */
	char *dropped;			/* post: the earlier post of a reopened pair, deleted */
	char *abandoned;		/* pre: a pre that never got its post, left single */
	struct rerr e;			/* FAILED, SKIPPED */
};

/* The pair a volume has open, for status. */
struct pkg_open {
	char *pre;			/* NULL: none open */
	time_t opened;
	enum pkg_tool tool;
};

/**
 * pkg_results_free() - Free @n results and the array.
 * @r: The results.
 * @n: How many.
 */
void pkg_results_free(struct pkg_result *r, size_t n);

/**
 * engine_pkg() - The pre or post snapshots of one package operation, on every
 * volume with pkg_snapshots = yes. Volumes are probed, locked and snapshotted
 * independently: one that fails fails alone. Where / is not the running
 * system's (a chroot, an installer root) nothing is taken unless the volume
 * says pkg_in_chroot = yes.
 * @eng: The engine; locks are held until engine_done().
 * @rq: What the hook was told.
 * @ret: One result per such volume, in config order; pkg_results_free() it.
 * @ret_n: How many (0: no volume takes package snapshots).
 * @e: The error record, filled on failure.
 * Return: 0 (each volume's fate is in @ret), or -ENOMEM.
 */
int engine_pkg(struct engine *eng, const struct pkg_request *rq, struct pkg_result **ret,
	       size_t *ret_n, struct rerr *e);

/**
 * engine_pkg_open() - The pair @v has open, if any.
 * @eng: The engine.
 * @v: The volume.
 * @ret: Filled; pkg_open_done() it.
 * Return: 0, or -errno when the state cannot be read (none is not an error).
 */
int engine_pkg_open(const struct engine *eng, const struct volume *v, struct pkg_open *ret);

/**
 * pkg_open_done() - Free what @o owns and zero it.
 * @o: The open pair.
 */
void pkg_open_done(struct pkg_open *o);

/**
 * engine_pkg_close_stale() - Forget a pre of @v open longer than PKG_STALE (the
 * package manager was killed): it stays a single pre snapshot. Run calls it
 * with the volume locked.
 * @eng: The engine.
 * @v: The volume.
 * @ret_pre: Set to the pre closed (free() it), or NULL.
 * @e: The error record, filled on failure.
 * Return: 0, or -errno with @e.
 */
int engine_pkg_close_stale(struct engine *eng, const struct volume *v, char **ret_pre,
			   struct rerr *e);

#endif
