/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `btrfs receive`, confined: the second of serve's two layers against a
 * hostile sender (the first is include/format/sendcheck.h). The child that becomes
 * `btrfs receive`:
 *   - runs in a mount namespace of its own, private, so nothing it mounts or
 *     changes there reaches the host;
 *   - sees the volume's directory (a subvolume: serve makes it one)
 *     bind-mounted onto itself, following no symlink, and every other mount
 *     read-only: receive finds parents and clone sources from the mount that
 *     holds its destination, so none outside the volume's subvolume is
 *     reachable;
 *   - is chrooted into the staging directory (`btrfs receive -C`), so a path
 *     of the stream resolves inside it, whatever symlinks it meets;
 *   - has no_new_privs and a capability bounding set cut to what receiving
 *     needs (file ownership and modes, mknod, chroot, subvolume ioctls);
 *   - under Landlock (where the kernel has it), may change files beneath the
 *     staging directory only, read the volume's copies, and read and run the
 *     system's programs: a clone whose source path climbs out of the volume,
 *     by ".." or a symlink, cannot open it.
 * Its stderr goes to a memory file, so it never blocks on a full pipe, and
 * its last line tells a failure's reason.
 */
#ifndef SNAPROTATE_RECEIVE_H
#define SNAPROTATE_RECEIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/err.h"

struct receive {
	pid_t pid;		/* 0: not running */
	int in;			/* the write end of its stdin; -1 once closed */
	int err_fd;		/* a memfd holding its stderr */
};

/**
 * receive_start() - Start a confined `btrfs receive` of one stream into @dest.
 * @rc: Filled on success (write the stream to @rc->in); reset also on failure.
 * @dest: The staging directory, an absolute path.
 * @volume_dir: The volume's directory, a subvolume holding @dest.
 * @volume_fd: That directory, open: its path must still lead to it.
 * @e: The error record, filled on failure.
 * Return: 0 with @rc filled, or -errno with @e.
 */
int receive_start(struct receive *rc, const char *dest, const char *volume_dir, int volume_fd,
		  struct rerr *e);

/**
 * receive_finish() - Close its stdin (after killing it, with @kill_it), wait for it.
 * @rc: The receive from receive_start(); its fds are closed.
 * @kill_it: SIGKILL it first.
 * @why: Its last line of complaint, for a failure's message ("" if none).
 * @why_len: The size of @why (0: not wanted).
 * Return: its exit status (0-255; 0 when it was not running), 128+N when killed by
 * signal N, or -ECHILD when it could not be waited for.
 */
int receive_finish(struct receive *rc, bool kill_it, char *why, size_t why_len);

#endif
