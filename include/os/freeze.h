/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Freezing filesystems for the instant of a group's snapshots (SPEC 7), with a
 * guaranteed thaw: a watchdog process thaws them when the timeout passes or
 * when snaprotate dies, even by SIGKILL.
 */
#ifndef SNAPROTATE_FREEZE_H
#define SNAPROTATE_FREEZE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct freeze;

/**
 * freeze_begin() - FIFREEZE each of @mounts (mount points), in order.
 * @mounts: The mount points.
 * @n: How many.
 * @timeout: Seconds after which the watchdog thaws them all, whatever happens
 *           (0: only when snaprotate ends or dies).
 * @ret: On success the frozen set; end it with freeze_end().
 * @e: The error record, filled on failure.
 *
 * Never give it a btrfs that is about to be snapshotted: that hangs in the kernel.
 * On failure nothing is left frozen. From just before the first freeze until freeze_end(),
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT are held (signals_hold()).
 *
 * Return: 0 or -errno with @e naming the mount (or the watchdog that could not
 * be started).
 */
int freeze_begin(char *const *mounts, size_t n, int64_t timeout, struct freeze **ret,
		 struct rerr *e);

/**
 * freeze_end() - FITHAW everything @f froze and stop its watchdog; frees @f.
 * @f: The frozen set from freeze_begin(); freed also on failure.
 * @e: The error record, filled on failure.
 *
 * The signals held since freeze_begin() are released.
 *
 * Return: 0, or -errno (@e) if a thaw failed (the watchdog still thaws then).
 */
int freeze_end(struct freeze *f, struct rerr *e);

#endif
