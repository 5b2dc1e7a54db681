/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The client side of a target: one session per run and target, to a local
 * `snaprotate serve` (file://) or to one over ssh (ssh://), speaking the
 * protocol of proto.h. It decides nothing; the engine says what to send and
 * delete.
 */
#ifndef SNAPROTATE_TARGET_H
#define SNAPROTATE_TARGET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"
#include "model/config.h"
#include "model/snapshot.h"
#include "transport/proto.h"
#include "transport/send.h"

/* Progress of one transfer: called now and then, and once with @done. */
typedef void (*progress_fn)(void *user, const char *name, uint64_t bytes, bool done);

struct target_conn {
	const struct target *target;	/* borrowed */
	struct conn c;
	int to_peer;
	int from_peer;
	pid_t pid;
	bool broken;			/* the session cannot be used any more */
};

/**
 * target_open() - Start a session: spawn serve (locally or through ssh) and
 * check its greeting.
 * @t: The target (borrowed: must outlive the session).
 * @ret: On success the session; end it with target_close().
 * @e: The error record, filled on failure.
 * Return: 0 or -errno with @e naming the target (-EHOSTUNREACH or -ECONNREFUSED
 * when no serve answered, -EPROTO for a wrong greeting).
 */
int target_open(const struct target *t, struct target_conn *ret, struct rerr *e);

/**
 * target_close() - End the session (QUIT unless it is broken, then wait for the peer).
 * @tc: The session.
 */
void target_close(struct target_conn *tc);

/**
 * target_list() - The complete copies of @volume on the target, oldest first;
 * each one's uuid is the uuid of the source snapshot it is a copy of.
 * @tc: The session.
 * @volume: The volume's name.
 * @ret: On success the copies; snapshot_list_clear() it.
 * @e: The error record, filled on failure.
 * Return: 0, or -errno with @e: -EPIPE when the session was lost, -EREMOTEIO
 * when the target refused, -EPROTO for a reply it cannot read.
 */
int target_list(struct target_conn *tc, const char *volume, struct snapshot_list *ret,
		struct rerr *e);

/**
 * target_receive() - Send @s to the target (RECEIVE) as one stream, written by
 * @produce(@arg, pipe) in a thread of its own: a backend's stream_source.
 * @s's image and base say what the copy is (NULL for a btrfs copy).
 * @tc: The session.
 * @volume: The volume's name.
 * @s: The snapshot; its info.json is announced with the stream.
 * @produce: Writes the stream into the pipe it is given.
 * @arg: Passed to @produce.
 * @progress: Called now and then, and once when done (may be NULL).
 * @user: Passed to @progress.
 * @ret_bytes: The stream's size.
 * @e: The error record, filled on failure.
 * Return: 0 once the target confirmed a complete copy; -errno with @e.
 */
int target_receive(struct target_conn *tc, const char *volume, const struct snapshot *s,
		   send_producer_fn produce, void *arg, progress_fn progress, void *user,
		   uint64_t *ret_bytes, struct rerr *e);

/**
 * target_receive_from() - Restore's relay: FETCH copy @s of @volume from
 * @from and RECEIVE it on @to, each chunk passed on as it comes (spliced, no
 * copy into this process), so that @to checks and stores it as any copy.
 * @to: The session that receives (a local serve's).
 * @volume: The volume.
 * @s: The copy, as @from lists it (announced to @to as is).
 * @from: The session that holds it.
 * @ret_bytes: On success the stream's size.
 * @e: The error record, filled on failure (the fetching side's error first).
 * Return: 0 or -errno with @e.
 */
int target_receive_from(struct target_conn *to, const char *volume, const struct snapshot *s,
			struct target_conn *from, uint64_t *ret_bytes, struct rerr *e);

/**
 * target_fetch() - Copy the stored stream of the block copy @name into @out_fd.
 * @tc: The session.
 * @volume: The volume's name.
 * @name: The copy's name.
 * @out_fd: Where the stream goes; after a failed write the rest is read and
 *          dropped, so the session stays usable.
 * @ret_bytes: On success the stream's size.
 * @e: The error record, filled on failure.
 * Return: 0 once all of it was written; -errno with @e (-EREMOTEIO when the
 * target refused).
 */
int target_fetch(struct target_conn *tc, const char *volume, const char *name, int out_fd,
		 uint64_t *ret_bytes, struct rerr *e);

/**
 * target_delete() - Delete the target's copy @name of @volume.
 * @tc: The session.
 * @volume: The volume's name.
 * @name: The copy's name.
 * @e: The error record, filled on failure.
 * Return: 0, or -errno with @e (-EREMOTEIO when the target refused, -EPIPE when
 * the session was lost).
 */
int target_delete(struct target_conn *tc, const char *volume, const char *name,
		  struct rerr *e);

#endif
