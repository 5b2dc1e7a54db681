/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libmount queries: which mount backs a path. Read-only; never changes a mount.
 */
#ifndef SNAPROTATE_MOUNTS_H
#define SNAPROTATE_MOUNTS_H

#include "base/err.h"

struct mount_info {
	char *target;		/* mount point */
	char *fstype;		/* "btrfs" */
	char *source;		/* "/dev/loop0" */
	char *root;		/* the fs root mounted there: "/@home" for a btrfs subvolume */
};

/**
 * mounts_find() - The mount that @path is on, from /proc/self/mountinfo.
 * @path: An existing path.
 * @ret: On success filled; release with mount_info_done().
 * @e: The error record, filled on failure.
 * Return: 0 or -errno with @e naming @path (-ENOENT: no mount found).
 */
int mounts_find(const char *path, struct mount_info *ret, struct rerr *e);

/**
 * mount_info_done() - Free what @m holds and zero it.
 * @m: Filled by mounts_find().
 */
void mount_info_done(struct mount_info *m);

/**
 * mounts_find_device() - Where the block device @dev (any name of it: /dev/VG/LV,
 * /dev/mapper/VG-LV) is mounted, if anywhere.
 * @dev: The device's path.
 * @ret_target: With 1, the mount point (the last mount of @dev).
 * @e: The error record, filled on failure.
 * Return: 1 with *@ret_target (free() it), 0 when not mounted, -errno with @e.
 */
int mounts_find_device(const char *dev, char **ret_target, struct rerr *e);

#endif
