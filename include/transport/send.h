/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * btrfs send without a `btrfs send` process: BTRFS_IOC_SEND writes the stream
 * of a read-only snapshot (incremental from a parent) into a pipe, and a
 * forwarding loop hands it on in chunks, counting bytes for progress.
 */
#ifndef SNAPROTATE_SEND_H
#define SNAPROTATE_SEND_H

#include <stdint.h>

#include "base/err.h"

/*
 * Called for each chunk of the stream, in order: exactly @len bytes are waiting
 * in the pipe @fd, and the callback must take them all (splice them on, or
 * read them). Return 0 to go on, <0 to abort the send with that error.
 */
typedef int (*send_chunk_fn)(void *user, int fd, size_t len);

/* Writes a whole stream into @pipe_w (from a thread of its own). Return: 0 or -errno. */
typedef int (*send_producer_fn)(void *arg, int pipe_w);

/**
 * send_stream() - Run @produce in a thread and hand its output to @fn in chunks.
 * @what: Names the stream in messages.
 * Return: 0 with @ret_bytes, or -errno with @e (a producer's failure, or @fn's).
 */
int send_stream(send_producer_fn produce, void *arg, const char *what, send_chunk_fn fn,
		void *user, uint64_t *ret_bytes, struct rerr *e);

/**
 * send_btrfs() - Stream @snap_path (a read-only subvolume) through @fn.
 * @parent_path: A read-only snapshot the receiver holds, to send only the
 *               difference; NULL for a full stream.
 * @ret_bytes: On success the stream's length.
 * Return: 0 or -errno with @e.
 */
int send_btrfs(const char *snap_path, const char *parent_path, send_chunk_fn fn, void *user,
	       uint64_t *ret_bytes, struct rerr *e);

#endif
