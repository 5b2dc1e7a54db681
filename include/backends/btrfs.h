/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the receiving side of a target needs to know of btrfs beyond the
 * backend's vtable (include/backend.h): which subvolume `btrfs receive` takes
 * for a uuid.
 */
#ifndef SNAPROTATE_BTRFS_H
#define SNAPROTATE_BTRFS_H

#include <stdint.h>

#include "base/util.h"

/**
 * btrfs_received_owner() - The subvolume `btrfs receive` takes as the parent or
 * clone source announced with @uuid: the first one the filesystem's uuid tree
 * lists with that received uuid.
 * @fd: Any file on the filesystem.
 * @ret_id: Its subvolume id.
 * Return: 0, -ENOENT when no subvolume has that received uuid, or -errno.
 */
int btrfs_received_owner(int fd, const uint8_t uuid[UUID_SIZE], uint64_t *ret_id);

#endif
