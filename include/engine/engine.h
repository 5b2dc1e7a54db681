/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every operation of the engine runs with: the config, the clock and
 * what was asked (dry run, wait for locks), the volume locks it holds and the
 * target sessions it opened. The command line makes one for a command, hands
 * it to engine functions, and prints what they return; nothing here prints.
 */
#ifndef SNAPROTATE_ENGINE_H
#define SNAPROTATE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "base/err.h"
#include "model/config.h"

#define ENGINE_LOCKS_MAX	64

struct sessions;

struct engine {
	const struct config *cfg;	/* borrowed */
	time_t now;			/* --now, or the clock */
	bool dry_run;			/* decide and report, change nothing */
	bool wait;			/* wait for a volume's lock instead of failing */
	int locks[ENGINE_LOCKS_MAX];	/* held until engine_unlock() or engine_done() */
	size_t n_locks;
	struct sessions *sessions;	/* target sessions, opened on first use */
};

/**
 * engine_init() - Set up @eng for @cfg (borrowed, must outlive it).
 * @eng: The engine, filled; end it with engine_done().
 * @cfg: The config.
 * @now: The reference time (--now, or the clock).
 * @dry_run: Decide and report, change nothing.
 * @wait: Wait for a volume's lock instead of failing.
 */
void engine_init(struct engine *eng, const struct config *cfg, time_t now, bool dry_run,
		 bool wait);

/**
 * engine_done() - Release every lock and close every target session.
 * @eng: The engine.
 */
void engine_done(struct engine *eng);

/**
 * engine_select() - The volumes that VOLUME (or, with @groups, GROUP) arguments name.
 * @eng: The engine.
 * @names: The arguments; none means every volume of the config.
 * @n_names: How many.
 * @groups: Whether a name may also be a group's.
 * @ret: On success an array of @ret_n borrowed volumes, in argument order,
 *       each once (a group adds its members); free() the array.
 * @ret_n: On success the number of volumes in @ret.
 * @e: The error record, filled on failure.
 * Return: 0; -EINVAL with @e (@e->usage) for a name the config does not know;
 * -ENOMEM with @e.
 */
int engine_select(const struct engine *eng, char *const *names, size_t n_names, bool groups,
		  struct volume ***ret, size_t *ret_n, struct rerr *e);

/**
 * engine_probe() - Whether @v can be used as configured (mounted, on btrfs, an
 * existing LV, ...).
 * @eng: The engine.
 * @v: The volume; its ops must be set.
 * @e: The error record, filled on failure.
 * Return: 0, or -EINVAL with @e as "FILE:LINE: what: why" (the line of the key
 * to blame): a configuration error (@e->usage).
 */
int engine_probe(const struct engine *eng, const struct volume *v, struct rerr *e);

/**
 * engine_advise() - Advice on @v's layout: one that works but will hurt.
 * @eng: The engine.
 * @v: The volume (probed).
 * @buf: Filled with a sentence when there is advice.
 * @len: Its size.
 * Return: 1 with @buf filled, 0 when there is none.
 */
int engine_advise(const struct engine *eng, const struct volume *v, char *buf, size_t len);

/**
 * engine_lock() - Take the locks of @vols, sorted by name first (so that two
 * commands that wait never deadlock); nothing in a dry run.
 * @eng: The engine; it holds the locks until engine_unlock() or engine_done(),
 *       also those taken before a failure.
 * @vols: The volumes; sorted by name in place (also in a dry run).
 * @n: How many.
 * @e: The error record, filled on failure.
 * Return: 0, or -errno with @e: -EAGAIN when another snaprotate holds one,
 * -EMFILE beyond ENGINE_LOCKS_MAX locks.
 */
int engine_lock(struct engine *eng, struct volume **vols, size_t n, struct rerr *e);

/**
 * engine_unlock() - Release the locks taken so far (run: after each volume or group).
 * @eng: The engine.
 */
void engine_unlock(struct engine *eng);

/**
 * engine_units() - Orders @vols so that the members of a group stand together:
 * groups and lone volumes by name, members by name within.
 * @vols: The volumes, sorted in place.
 * @n: How many.
 */
void engine_units(struct volume **vols, size_t n);

/**
 * engine_sessions() - The target sessions of @eng, made on first use.
 * @eng: The engine; engine_done() frees the sessions.
 * Return: the sessions, or NULL (ENOMEM).
 */
struct sessions *engine_sessions(struct engine *eng);

#endif
