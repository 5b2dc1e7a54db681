/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One lock per volume: a POSIX record lock on LOCK_DIR/VOLUME.lock, held for a
 * whole operation, hooks included. The kernel drops it when the process dies,
 * so a crash never leaves a volume locked; F_GETLK names the holder.
 */
#ifndef SNAPROTATE_LOCK_H
#define SNAPROTATE_LOCK_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/err.h"

/**
 * lock_volume() - Take @volume's lock.
 * @lock_dir: Directory of the lock files (created 0755 if missing).
 * @volume: The volume's name; its lock is LOCK_DIR/VOLUME.lock.
 * @wait: Block until the lock is free instead of failing.
 * @ret_fd: On success the fd that holds the lock; close it to release.
 * @e: The error record, filled on failure.
 * Return: 0; -EAGAIN when another process holds it (@e names its PID); -errno with @e.
 */
int lock_volume(const char *lock_dir, const char *volume, bool wait, int *ret_fd,
		struct rerr *e);

#endif
