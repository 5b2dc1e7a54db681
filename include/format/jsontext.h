/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * JSON text on the hot paths, without building object trees: a strict reader
 * for flat objects (info.json is read 10,000 times by one `list`) and a
 * streaming writer (`list --json` of 10,000 snapshots). json-c stays for
 * everything small. The reader accepts exactly RFC 8259 JSON and never reads
 * past the end of its input, whatever it is given.
 */
#ifndef SNAPROTATE_JSONTEXT_H
#define SNAPROTATE_JSONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum jt_type {
	JT_NULL,
	JT_BOOL,
	JT_NUMBER,
	JT_STRING,
	JT_OBJECT,
	JT_ARRAY,
};

/* One member's value, as the member callback sees it. */
struct jt_value {
	enum jt_type type;
	bool boolean;		/* JT_BOOL */
	int64_t integer;	/* JT_NUMBER that is an integer in range */
	bool is_integer;
	const char *str;	/* JT_STRING: decoded, NUL-terminated, valid during the callback */
	size_t len;
	const char *raw;	/* JT_OBJECT / JT_ARRAY: the text of the value */
	size_t raw_len;
};

/*
 * Called for each member of an object, in order. Return 0 to go on, <0 to stop
 * with that error.
 */
typedef int (*jt_member_fn)(void *user, const char *key, const struct jt_value *v);

/**
 * jt_parse_object() - Parse @len bytes of @text that must be one JSON object
 * (white space around it allowed, nothing else).
 * @text: The text; need not be NUL-terminated.
 * @len: Its length in bytes.
 * @fn: Called for each member; nested objects and arrays are validated and
 *      passed as raw text (parse them again with jt_parse_object()).
 * @user: Passed to @fn.
 * Return: 0; -EINVAL for text that is not exactly one valid JSON object (or a
 * key holding a NUL); -ENOMEM; or what @fn returned.
 */
int jt_parse_object(const char *text, size_t len, jt_member_fn fn, void *user);

/* Streaming writer with the same layout as json-c's pretty, spaced output. */
struct jt_writer {
	FILE *f;		/* NULL: stdout, looked up at each write */
	unsigned depth;
	bool first;		/* no member written yet at this depth */
	bool after_key;
};

/**
 * jt_begin_object() - Write "{" as the next value (after a key, in an array, or at the top).
 * @w: The writer.
 */
void jt_begin_object(struct jt_writer *w);

/**
 * jt_end_object() - Write the "}" that closes the object jt_begin_object() opened.
 * @w: The writer; a newline follows when this closes the top level.
 */
void jt_end_object(struct jt_writer *w);

/**
 * jt_begin_array() - Write "[" as the next value.
 * @w: The writer.
 */
void jt_begin_array(struct jt_writer *w);

/**
 * jt_end_array() - Write the "]" that closes the array jt_begin_array() opened.
 * @w: The writer; a newline follows when this closes the top level.
 */
void jt_end_array(struct jt_writer *w);

/**
 * jt_key() - Write the key of the next member of an object; its value follows.
 * @w: The writer.
 * @key: The key, escaped as a JSON string.
 */
void jt_key(struct jt_writer *w, const char *key);

/**
 * jt_string() - Write a string value, escaped.
 * @w: The writer.
 * @s: The string; NULL writes null.
 */
void jt_string(struct jt_writer *w, const char *s);

/**
 * jt_bool() - Write true or false.
 * @w: The writer.
 * @b: The value.
 */
void jt_bool(struct jt_writer *w, bool b);

/**
 * jt_int() - Write an integer value.
 * @w: The writer.
 * @v: The value.
 */
void jt_int(struct jt_writer *w, int64_t v);

/**
 * jt_percent() - Write a number with two decimals (12.34), as LVM reports percentages.
 * @w: The writer.
 * @v: The value; NaN, an infinity or a magnitude above 1e15 writes null.
 */
void jt_percent(struct jt_writer *w, double v);

/**
 * jt_null() - Write null.
 * @w: The writer.
 */
void jt_null(struct jt_writer *w);

#endif
