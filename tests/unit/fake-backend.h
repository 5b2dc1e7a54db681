/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A backend without storage, for unit tests of the engine: each volume's
 * snapshots live in memory, and a test can make one operation fail.
 */
#ifndef SNAPROTATE_FAKE_BACKEND_H
#define SNAPROTATE_FAKE_BACKEND_H

#include <stdbool.h>
#include <time.h>

#include "backends/backend.h"

#define FAKE_SNAPS_MAX	64

struct fake_snap {
	char name[SNAP_NAME_MAX + 1];
	time_t created;
	enum snap_kind kind;
	bool complete;
	bool damaged;
	char pre[SNAP_NAME_MAX + 1];
};

/* One volume as the fake storage holds it, found by the volume's name. */
struct fake_volume {
	char volume[VOLUME_NAME_MAX + 1];
	struct fake_snap snaps[FAKE_SNAPS_MAX];
	size_t n;
	bool list_fails;		/* list() fails with EIO */
	bool create_fails;		/* create() fails with EIO */
	bool frozen_refused;		/* snapshot_frozen_ok() says no */
	char remove_fails[SNAP_NAME_MAX + 1];	/* remove() of this name fails */
	unsigned n_created, n_removed;
};

extern const struct backend fake_backend;

/* Forgets every volume. */
void fake_reset(void);

/* The state of volume @name, made empty on first use. */
struct fake_volume *fake_volume(const char *name);

/* Adds a snapshot of @volume taken at @t (complete, unless @incomplete). Return: its name (kept until fake_reset()). */
const char *fake_add(const char *volume, time_t t, enum snap_kind kind, bool incomplete);

/* Whether @volume holds a snapshot named @name. */
bool fake_has(const char *volume, const char *name);

#endif
