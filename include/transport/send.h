/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The pump of every outgoing stream: a backend's producer (BTRFS_IOC_SEND, a
 * block stream writer) writes into a pipe from a thread of its own, and this
 * loop hands the pipe's content on in chunks, counting bytes for progress.
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
 * @produce: Writes the stream into the pipe it is given.
 * @arg: Passed to @produce.
 * @what: Names the stream in messages.
 * @fn: Takes each chunk from the pipe.
 * @user: Passed to @fn.
 * @ret_bytes: On success the stream's size in bytes.
 * @e: The error record, filled on failure (not when @fn fails: @e is left to it).
 * Return: 0 with @ret_bytes; -errno with @e (the pipe, the thread, or a producer's
 * failure); or what @fn returned.
 */
int send_stream(send_producer_fn produce, void *arg, const char *what, send_chunk_fn fn,
		void *user, uint64_t *ret_bytes, struct rerr *e);

#endif
