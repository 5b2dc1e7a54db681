/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Changed blocks between two thin LVs of one pool, for incremental sends.
 *
 * The pool's metadata is read with thin_delta (thin-provisioning-tools) from a
 * metadata snapshot that this module reserves in the running pool and always
 * releases again, on every path. The result is a list of byte ranges of the
 * newer LV to send with blockstream_write() (hence the shared range type);
 * a thick or non-thin LV has no such list and is sent as a full image.
 *
 * External commands (lvs, dmsetup, thin_delta) run from argv arrays built only
 * from names that passed lvmthin_name_valid(), found in PATH or else in
 * /usr/sbin and /sbin (cron's PATH has no sbin).
 */
#ifndef SNAPROTATE_LVMTHIN_H
#define SNAPROTATE_LVMTHIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "format/blockstream.h"
#include "model/stamp.h"

#define LVMTHIN_NAME_MAX	LVM_NAME_MAX
#define LVMTHIN_UUID_MAX	63

/* One LV as lvs reports it. */
struct lvmthin_lv {
	char name[LVMTHIN_NAME_MAX + 1];
	char uuid[LVMTHIN_UUID_MAX + 1];	/* LVM's, "xxxxxx-xxxx-...-xxxxxx" */
	char pool[LVMTHIN_NAME_MAX + 1];	/* the thin pool, "" when not a thin LV */
	char origin[LVMTHIN_NAME_MAX + 1];	/* what it is a snapshot of, "" for none */
	uint64_t size;				/* bytes */
	int64_t thin_id;			/* device id in the pool, -1 when not thin */
	bool external_origin;			/* thin, reading unmapped blocks from a
						 * non-thin LV up its chain of origins */
};

struct lvmthin_delta {
	struct blockstream_range *ranges;	/* sorted, disjoint, not adjacent */
	size_t n;
	uint64_t changed;			/* bytes in @ranges */
	uint64_t chunk_size;			/* the pool's data block size, bytes */
	uint64_t size;				/* the newer LV's size, bytes */
};

/**
 * lvmthin_name_valid() - A VG or LV name in LVM's alphabet ([A-Za-z0-9+_.-], not
 * starting with '-', not "." or "..", at most LVMTHIN_NAME_MAX bytes).
 * @s: The name, NUL-terminated.
 * Return: true when it is valid.
 */
bool lvmthin_name_valid(const char *s);

/**
 * lvmthin_dm_name() - The device-mapper name of @vg/@lv: every '-' doubled, then
 * joined with '-', as LVM does ("my-vg", "thin" -> "my--vg-thin"); @layer
 * ("tpool") is appended as "-tpool" when not NULL.
 * @vg: The VG's name.
 * @lv: The LV's name.
 * @layer: A layer suffix, or NULL.
 * @buf: Where the name goes.
 * @len: The size of @buf.
 * Return: 0, -EINVAL for a bad name, -ENAMETOOLONG when @buf is too small.
 */
int lvmthin_dm_name(const char *vg, const char *lv, const char *layer, char *buf, size_t len);

/**
 * lvmthin_dev_path() - "/dev/mapper/" + lvmthin_dm_name(@vg, @lv, NULL): the device of
 * an active LV, without relying on udev's /dev/VG/LV links.
 * @vg: The VG's name.
 * @lv: The LV's name.
 * @buf: Where the path goes.
 * @len: The size of @buf.
 * Return: 0, -EINVAL for a bad name, -ENAMETOOLONG when @buf is too small.
 */
int lvmthin_dev_path(const char *vg, const char *lv, char *buf, size_t len);

/**
 * lvmthin_lv_query() - What lvs says of @vg/@lv.
 * @vg: The VG's name.
 * @lv: The LV's name.
 * @ret: On success what lvs reports.
 * @e: The error record, filled on failure.
 * Return: 0 with *@ret; -EINVAL (bad name), -ENOENT (no such VG or LV), or
 * -errno, with @e.
 */
int lvmthin_lv_query(const char *vg, const char *lv, struct lvmthin_lv *ret, struct rerr *e);

/**
 * lvmthin_changed_ranges() - The byte ranges of @vg/@new_lv that differ from @vg/@old_lv.
 * @vg: The VG of both LVs.
 * @old_lv, @new_lv: Thin LVs of the same pool (typically two thin snapshots of one
 *                   origin, @old_lv the one the target holds). They need not be
 *                   active; the pool must be. Neither may be written while their
 *                   blocks are sent, or the stream will not match.
 * @ret: On success the ranges; free with lvmthin_delta_done().
 * @e: The error record, filled on failure.
 *
 * Ranges are whole pool chunks, cut at the newer LV's size; a chunk that was
 * written (thin_delta "different", "right_only") or discarded ("left_only", it
 * reads as zeros now) is included, one mapped to the same data block in both is
 * not. When the LV grew, everything past the old size is included. This is exact
 * for any two thin LVs of a pool, related or not; but a thin LV on an external
 * origin is refused, as its unmapped blocks read from that origin, not as zeros.
 *
 * The metadata snapshot is released on every path; signals that end the process
 * (SIGINT, SIGTERM, SIGHUP, SIGQUIT) are held back while it is reserved. One that
 * was left reserved (a crash) is released and the reservation retried once.
 *
 * Return: 0, or -errno with @e: -EINVAL (bad name, not thin, an external origin,
 *         not one pool), -ENOENT (no such VG or LV), -ENXIO (the pool is not active),
 *         -EPROTO (thin_delta said something unexpected), -EIO (a command failed; its
 *         own message went to stderr).
 */
int lvmthin_changed_ranges(const char *vg, const char *old_lv, const char *new_lv,
			   struct lvmthin_delta *ret, struct rerr *e);

/**
 * lvmthin_delta_parse() - Read thin_delta's (non-verbose) XML into byte ranges.
 * @f: Its output.
 * @old_id, @new_id: The ids given as --snap1 and --snap2; the output must name them.
 * @old_size, @new_size: The LVs' sizes in bytes.
 * @ret: On success; free with lvmthin_delta_done().
 * @e: The error record, filled on failure.
 * Return: 0, -EPROTO for output it does not understand, -EIO when @f cannot be
 * read, -ENOMEM; with @e.
 */
int lvmthin_delta_parse(FILE *f, uint64_t old_id, uint64_t new_id, uint64_t old_size,
			uint64_t new_size, struct lvmthin_delta *ret, struct rerr *e);

/**
 * lvmthin_delta_done() - Free the ranges of @d and empty it.
 * @d: The delta (NULL is fine).
 */
void lvmthin_delta_done(struct lvmthin_delta *d);

#endif
