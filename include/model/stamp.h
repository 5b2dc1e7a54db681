/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Names, timestamps and durations: the text forms of SPEC 2, 3 and 5.
 *
 * A snapshot NAME is VOLUME.YYYYMMDDTHHMMSSZ (UTC), followed by _2, _3, ... when
 * that second is taken already. Everything here is pure: no I/O, no clock.
 */
#ifndef SNAPROTATE_STAMP_H
#define SNAPROTATE_STAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define VOLUME_NAME_MAX	64
/* "." + "20261127T090512Z" + "_" + up to 5 digits */
#define SNAP_NAME_MAX	(VOLUME_NAME_MAX + 1 + 16 + 6)
#define ISO_TIME_LEN	sizeof("2026-11-27T09:05:12Z")
#define SEQ_MAX		99999U

/**
 * volume_name_valid() - Whether @name may name a volume, group or target.
 * @name: The name, NUL-terminated.
 *
 * The alphabet is [A-Za-z0-9_.-] (a subset of LVM's), at most VOLUME_NAME_MAX
 * characters, not "." or "..", and not starting with '-' so it cannot be taken
 * for an option by LVM or any other tool it reaches.
 *
 * Return: true when it is valid.
 */
bool volume_name_valid(const char *name);

#define LVM_NAME_MAX	127

/**
 * lvm_name_valid() - Whether the @len bytes at @s are a VG or LV name as LVM
 * takes it: [A-Za-z0-9+_.-], 1 to LVM_NAME_MAX bytes, not "." or "..", not
 * starting with '-' (an option to LVM's tools). Command lines for LVM are built
 * only from names that pass this.
 * @s: The name (need not be NUL-terminated).
 * @len: Its length in bytes.
 * Return: true when it is valid.
 */
bool lvm_name_valid(const char *s, size_t len);

/**
 * time_parse_iso() - Parse an ISO 8601 time.
 * @s: "2026-11-27T09:05:12Z", "2026-11-27T10:05:12+01:00", "2026-11-27 09:05",
 *     "2026-11-27" (midnight). Without a zone the time is local (TZ).
 * @ret: On success the time.
 * Return: 0 or -EINVAL.
 */
int time_parse_iso(const char *s, time_t *ret);

/**
 * time_format_iso() - Format @t as "2026-11-27T09:05:12Z" into @buf (ISO_TIME_LEN bytes).
 * @t: The time; one that cannot be formatted gives "1970-01-01T00:00:00Z".
 * @buf: Where the text goes.
 * Return: @buf.
 */
char *time_format_iso(time_t t, char buf[static ISO_TIME_LEN]);

/**
 * duration_parse() - Parse "90m", "1h", "7d", "2w", "30s" or "0".
 * @s: The text: digits and one unit letter.
 * @ret: On success seconds.
 * Return: 0 or -EINVAL (no unit, unknown unit, negative, overflow, more than a
 * century, trailing text).
 */
int duration_parse(const char *s, int64_t *ret);

/**
 * duration_format() - Format seconds with the largest unit that divides them exactly.
 * @secs: The duration ("0" for 0).
 * @buf: Where the text goes.
 * @len: The size of @buf.
 * Return: @buf.
 */
char *duration_format(int64_t secs, char *buf, size_t len);

/**
 * snap_name_format() - Build "VOLUME.YYYYMMDDTHHMMSSZ", with "_SEQ" when @seq > 1.
 * @volume: The volume's name.
 * @t: The time of the stamp (UTC).
 * @seq: The collision sequence, 1 to SEQ_MAX.
 * @buf: Where the name goes.
 * @len: The size of @buf.
 * Return: 0, -EINVAL for an invalid volume, sequence or time, -ENAMETOOLONG when
 * @buf is too small.
 */
int snap_name_format(const char *volume, time_t t, unsigned seq, char *buf, size_t len);

/**
 * snap_name_parse() - Whether @name is one of @volume's snapshot names.
 * @volume: The volume's name.
 * @name: The name to check.
 * @ret_time: On success the UTC time of the stamp (may be NULL).
 * @ret_seq: On success the collision sequence, 1 without a suffix (may be NULL).
 * Return: 0, or -EINVAL when @name is not VOLUME.STAMP[_N] (with N >= 2, no
 * leading zero) for this @volume, or the stamp is not a real UTC time.
 */
int snap_name_parse(const char *volume, const char *name, time_t *ret_time, unsigned *ret_seq);

/**
 * age_format() - An age for people: "45s", "12m", "3h 5m", "16d 2h".
 * @s: Seconds (negative counts as 0).
 * @buf: Where to write.
 * @len: Its size.
 * Return: @buf.
 */
char *age_format(int64_t s, char *buf, size_t len);

#endif
