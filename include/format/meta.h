/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Snapshot metadata as JSON: the info.json of SPEC 5 and the per-snapshot
 * objects of `list --json` (SPEC 2). The encoding lives here once, so a target's
 * info.json and the source's are the same document.
 */
#ifndef SNAPROTATE_META_H
#define SNAPROTATE_META_H

#include <json-c/json.h>

#include "base/err.h"
#include "base/util.h"
#include "format/jsontext.h"
#include "model/snapshot.h"

#define META_FILE	"info.json"
#define META_FORMAT	1
#define META_MAX_SIZE	(64 * 1024)
/* More sent_to records than any config has targets make an info.json invalid. */
#define META_SENT_MAX	1024

DEFINE_CLEANUP_FUNC(struct json_object *, json_object_put)

/**
 * meta_format_info() - Serialise @s as info.json for @volume.
 * @s: The snapshot.
 * @volume: The volume's name.
 * Return: a string (with a trailing newline) the caller must free(), or NULL on ENOMEM.
 */
char *meta_format_info(const struct snapshot *s, const char *volume);

/**
 * meta_info_object() - The info.json document of @s as a json-c object.
 * @s: The snapshot.
 * @volume: The volume's name.
 * Return: a new object (the caller puts it), or NULL on ENOMEM.
 */
struct json_object *meta_info_object(const struct snapshot *s, const char *volume);

/**
 * meta_parse_info() - Fill @s from the text of an info.json.
 * @volume: The volume the file must name.
 * @name: The directory's name, which the file must name too.
 * @text: The file's content.
 * @s: Filled on success (name, created, seq, kind, ...); untouched on failure.
 * A valid one names @volume and @name, has every required member with the
 * right type, a created time equal to the one in @name (to the second), and
 * at most META_SENT_MAX sent_to records, each target once.
 * Return: 0, -EINVAL for a file that is not a valid info.json of @name, -ENOMEM.
 */
int meta_parse_info(const char *volume, const char *name, const char *text, struct snapshot *s);

/**
 * meta_parse_info_why() - meta_parse_info(), saying what was wrong.
 * @volume: The volume the file must name.
 * @name: The directory's name, which the file must name too.
 * @text: The file's content.
 * @s: Filled on success; untouched on failure.
 * @ret_why: On failure, a static phrase: "it names another snapshot", ...,
 *           "out of memory" (may be NULL).
 * Return: as meta_parse_info().
 */
int meta_parse_info_why(const char *volume, const char *name, const char *text,
			struct snapshot *s, const char **ret_why);

/**
 * meta_write_snapshot() - Write the `list --json` object of one snapshot (SPEC 2).
 * @w: The writer.
 * @s: The snapshot.
 */
void meta_write_snapshot(struct jt_writer *w, const struct snapshot *s);

/**
 * meta_add() - json_object_object_add() that owns @val on failure too.
 * @obj: The object.
 * @key: The member's key.
 * @val: Its value (taken over; NULL adds null).
 * Return: 0 or -ENOMEM.
 */
int meta_add(struct json_object *obj, const char *key, struct json_object *val);

#endif
