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

/* Sets up @eng for @cfg (borrowed, must outlive it). */
void engine_init(struct engine *eng, const struct config *cfg, time_t now, bool dry_run,
		 bool wait);

/* Releases every lock and closes every target session. */
void engine_done(struct engine *eng);

/**
 * engine_select() - The volumes that VOLUME (or, with @groups, GROUP) arguments name.
 * @names: The arguments; none means every volume of the config.
 * @ret: On success an array of @ret_n borrowed volumes, in argument order,
 *       each once (a group adds its members); free() the array.
 * Return: 0; -EINVAL with @e for a name the config does not know; -ENOMEM.
 */
int engine_select(const struct engine *eng, char *const *names, size_t n_names, bool groups,
		  struct volume ***ret, size_t *ret_n, struct rerr *e);

/**
 * engine_probe() - Whether @v can be used as configured (mounted, on btrfs, an
 * existing LV, ...).
 * Return: 0, or -EINVAL with @e as "FILE:LINE: what: why" (the line of the key
 * to blame): a configuration error.
 */
int engine_probe(const struct engine *eng, const struct volume *v, struct rerr *e);

/**
 * engine_lock() - Take the locks of @vols, sorted by name first (so that two
 * commands that wait never deadlock); nothing in a dry run.
 * Return: 0, or -errno with @e: -EAGAIN when another snaprotate holds one.
 */
int engine_lock(struct engine *eng, struct volume **vols, size_t n, struct rerr *e);

/* Releases the locks taken so far (run: after each volume or group). */
void engine_unlock(struct engine *eng);

/**
 * engine_units() - Orders @vols so that the members of a group stand together:
 * groups and lone volumes by name, members by name within.
 */
void engine_units(struct volume **vols, size_t n);

/* Return: the target sessions of @eng, made on first use, or NULL (ENOMEM). */
struct sessions *engine_sessions(struct engine *eng);

#endif
