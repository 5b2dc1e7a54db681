/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A btrfs send stream checked as it passes, before `btrfs receive` sees a
 * byte of it: the first of serve's two layers against a hostile sender (the
 * second is the confined receive, include/backends/receive.h).
 *
 * The stream (btrfs-progs' send.h): a 17-byte header ("btrfs-stream\0",
 * le32 version), then commands: le32 length, le16 command, le32 crc, and
 * attributes (le16 type, le16 length, value; from version 2 the DATA
 * attribute has no length and runs to the end of its command). `btrfs
 * receive` applies every path relative to the subvolume it creates, without
 * confinement; a CLONE or SNAPSHOT names its source by uuid, found anywhere
 * on the filesystem. So the checker refuses, before the bytes are passed on:
 *   - any path that is absolute, has an empty, "." or ".." component or a NUL,
 *     or goes through a symlink the stream itself made (or, for a command that
 *     follows its last component, names one: MKFILE, WRITE, CLONE, TRUNCATE,
 *     CHMOD, FALLOCATE, ...);
 *   - a first command other than SUBVOL or SNAPSHOT, a subvolume not named as
 *     required or announcing another uuid than the one announced to serve, a
 *     second subvolume, any byte after END;
 *   - a SNAPSHOT parent or a CLONE source other than the subvolume being
 *     received, unless the caller's source_ok() accepts its uuid, and a clone
 *     path in another subvolume that the caller's clone_path_ok() refuses;
 *   - unknown commands and attributes, a repeated attribute, a length that
 *     does not fit its command, a command larger than the version allows.
 * The checker looks at command headers, attribute headers and the attributes
 * it needs (paths, uuids); file data passes unseen (sendcheck_next() says
 * which bytes are which), so the stream can still be spliced.
 */
#ifndef SNAPROTATE_SENDCHECK_H
#define SNAPROTATE_SENDCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define SENDCHECK_UUID_SIZE	16

struct sendcheck_opts {
	const uint8_t *uuid;		/* the uuid the subvolume must announce (16 bytes) */
	const char *subvol;		/* the name its subvolume must have */
	/*
	 * May the stream take a SNAPSHOT parent (@parent) or a CLONE source with
	 * @uuid? Return 0 yes, or -errno with @e saying why not.
	 */
	int (*source_ok)(void *user, const uint8_t uuid[SENDCHECK_UUID_SIZE], bool parent,
			 struct rerr *e);
	/* May a CLONE read @path inside the source @uuid? Return 0 or -errno with @e. */
	int (*clone_path_ok)(void *user, const uint8_t uuid[SENDCHECK_UUID_SIZE], const char *path,
			     struct rerr *e);
	void *user;
};

struct sendcheck;

/**
 * sendcheck_new() - A new checker at the start of a stream.
 * @o: The options, copied (what they point to must outlive the checker).
 * Return: the checker (free with sendcheck_free()), or NULL (ENOMEM).
 */
struct sendcheck *sendcheck_new(const struct sendcheck_opts *o);

/**
 * sendcheck_free() - Free a checker.
 * @c: The checker, or NULL.
 * Return: NULL.
 */
struct sendcheck *sendcheck_free(struct sendcheck *c);

/**
 * sendcheck_next() - What the next bytes of the stream are.
 * @c: The checker.
 * @inspect: Set to true when they must go through sendcheck_feed() before they
 *           are passed on, false when they may pass unseen (sendcheck_pass()).
 * Return: how many bytes that is (at least 1).
 */
size_t sendcheck_next(const struct sendcheck *c, bool *inspect);

/**
 * sendcheck_feed() - Look at the next @len bytes (at most what sendcheck_next() said).
 * @c: The checker.
 * @buf: The bytes.
 * @len: How many.
 * @e: The error record, filled on failure (may be NULL).
 * Return: 0, or -EPERM (refused) / -EPROTO (malformed) / -ENOMEM with @e; after
 * a failure every further call fails the same way.
 */
int sendcheck_feed(struct sendcheck *c, const void *buf, size_t len, struct rerr *e);

/**
 * sendcheck_pass() - Count @len bytes that passed unseen (at most what sendcheck_next() said).
 * @c: The checker; ignored unless sendcheck_next() said the bytes may pass unseen.
 * @len: How many bytes passed.
 */
void sendcheck_pass(struct sendcheck *c, size_t len);

/**
 * sendcheck_finish() - The stream is over: it must have ended with its END command.
 * @c: The checker.
 * @e: The error record, filled on failure.
 * Return: 0; -EPROTO with @e, or the error of an earlier failure again.
 */
int sendcheck_finish(struct sendcheck *c, struct rerr *e);

/**
 * sendcheck_parent() - The parent of a SNAPSHOT stream.
 * @c: The checker.
 * Return: the parent's uuid (valid while @c lives), NULL for a full stream (or
 * before the stream named its parent).
 */
const uint8_t *sendcheck_parent(const struct sendcheck *c);

/**
 * sendcheck_path_valid() - Whether @path is a path the checker lets through:
 * relative, no empty, "." or ".." component ("" alone, the subvolume's root, is valid).
 * @path: The path (need not be NUL-terminated; one holding a NUL is invalid).
 * @len: Its length; PATH_MAX or more is invalid.
 * Return: true when it is valid.
 */
bool sendcheck_path_valid(const char *path, size_t len);

#endif
