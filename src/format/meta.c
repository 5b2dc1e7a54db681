/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "base/version.h"
#include "format/jsontext.h"
#include "format/meta.h"
#include "model/stamp.h"

int meta_add(struct json_object *obj, const char *key, struct json_object *val)
{
	if (json_object_object_add(obj, key, val) < 0) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *meta_string_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static struct json_object *meta_time(time_t t)
{
	char buf[ISO_TIME_LEN];

	return json_object_new_string(time_format_iso(t, buf));
}

static struct json_object *meta_sent_to(const struct snapshot *s)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	for (size_t i = 0; i < s->n_sent; i++)
		if (meta_add(o, s->sent[i].target, meta_time(s->sent[i].when)) < 0)
			return NULL;
	return TAKE_PTR(o);
}

struct json_object *meta_info_object(const struct snapshot *s, const char *volume)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();

	if (!o ||
	    meta_add(o, "format", json_object_new_int(META_FORMAT)) < 0 ||
	    meta_add(o, "volume", json_object_new_string(volume)) < 0 ||
	    meta_add(o, "name", json_object_new_string(s->name)) < 0 ||
	    meta_add(o, "created", meta_time(s->created)) < 0 ||
	    meta_add(o, "kind", json_object_new_string(snap_kind_to_string(s->kind))) < 0 ||
	    meta_add(o, "description", json_object_new_string(s->description ?: "")) < 0 ||
	    meta_add(o, "pinned", json_object_new_boolean(s->pinned)) < 0 ||
	    meta_add(o, "pre", meta_string_or_null(s->pre)) < 0 ||
	    meta_add(o, "uuid", meta_string_or_null(s->uuid)) < 0 ||
	    meta_add(o, "parent_uuid", meta_string_or_null(s->parent_uuid)) < 0 ||
	    meta_add(o, "creator", json_object_new_string(s->creator ?: SNAPROTATE_CREATOR)) < 0 ||
	    meta_add(o, "sent_to", meta_sent_to(s)) < 0)
		return NULL;
	if (s->source && meta_add(o, "source", json_object_new_string(s->source)) < 0)
		return NULL;
	if (s->image && (meta_add(o, "image", json_object_new_string(s->image)) < 0 ||
			 meta_add(o, "base", meta_string_or_null(s->base)) < 0))
		return NULL;
	return TAKE_PTR(o);
}

char *meta_format_info(const struct snapshot *s, const char *volume)
{
	_cleanup_(json_object_putp) struct json_object *o = meta_info_object(s, volume);
	const char *text;
	size_t n;
	char *out;

	if (!o)
		return NULL;
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		return NULL;
	/* One trailing newline, like any text file an administrator may cat. */
	n = strlen(text);
	out = malloc(n + 2);
	if (!out)
		return NULL;
	memcpy(out, text, n);
	out[n] = '\n';
	out[n + 1] = '\0';
	return out;
}

/* Which required members an info.json has shown so far. */
enum {
	META_HAVE_FORMAT = 1U << 0,
	META_HAVE_VOLUME = 1U << 1,
	META_HAVE_NAME = 1U << 2,
	META_HAVE_CREATED = 1U << 3,
	META_HAVE_KIND = 1U << 4,
	META_HAVE_PINNED = 1U << 5,
	META_HAVE_DESCRIPTION = 1U << 6,
	META_HAVE_ALL = (1U << 7) - 1,
};

struct meta_parse {
	const char *volume;
	const char *name;
	struct snapshot *s;
	unsigned have;
	const char *why;	/* what was wrong, for the message */
};

static int meta_bad(struct meta_parse *m, const char *why)
{
	m->why = why;
	return -EINVAL;
}

/* A string member that may also be null (or absent). Return: 0, -EINVAL, -ENOMEM. */
static int meta_opt_string(const struct jt_value *v, char **field)
{
	char *c = NULL;

	if (v->type == JT_NULL) {
		free(*field);
		*field = NULL;
		return 0;
	}
	if (v->type != JT_STRING)
		return -EINVAL;
	c = strdup(v->str);
	if (!c)
		return -ENOMEM;
	free(*field);
	*field = c;
	return 0;
}

static int meta_sent_member(void *user, const char *key, const struct jt_value *v)
{
	struct meta_parse *m = user;
	struct snapshot *s = m->s;
	struct sent_record *n;
	time_t when;
	char *t;

	if (v->type != JT_STRING || time_parse_iso(v->str, &when) < 0 || !volume_name_valid(key))
		return meta_bad(m, "a sent_to record is not a target and a time");
	if (s->n_sent >= META_SENT_MAX)
		return meta_bad(m, "sent_to names more targets than any config can have");
	/* Appended as they come; meta_sent_check() finds duplicates once, sorted. */
	if (s->n_sent == 0 || (s->n_sent & (s->n_sent - 1)) == 0) {
		n = realloc(s->sent, (s->n_sent ? s->n_sent * 2 : 4) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->sent = n;
	}
	t = strdup(key);
	if (!t)
		return -ENOMEM;
	s->sent[s->n_sent++] = (struct sent_record){ .target = t, .when = when };
	return 0;
}

static int meta_sent_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Each target named once: found on a sorted copy, O(n log n), the records keep their order. */
static int meta_sent_check(struct meta_parse *m)
{
	const struct snapshot *s = m->s;
	_cleanup_free_ char **t = NULL;

	if (s->n_sent < 2)
		return 0;
	t = malloc(s->n_sent * sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_sent; i++)
		t[i] = s->sent[i].target;
	qsort(t, s->n_sent, sizeof(*t), meta_sent_cmp);
	for (size_t i = 1; i < s->n_sent; i++)
		if (streq(t[i - 1], t[i]))
			return meta_bad(m, "sent_to names a target twice");
	return 0;
}

static int meta_member(void *user, const char *key, const struct jt_value *v)
{
	struct meta_parse *m = user;
	struct snapshot *s = m->s;

	if (streq(key, "format")) {
		if (v->type != JT_NUMBER || !v->is_integer || v->integer != META_FORMAT)
			return meta_bad(m, "its format is not 1");
		m->have |= META_HAVE_FORMAT;
	} else if (streq(key, "volume")) {
		if (v->type != JT_STRING || !streq(v->str, m->volume))
			return meta_bad(m, "it names another volume");
		m->have |= META_HAVE_VOLUME;
	} else if (streq(key, "name")) {
		if (v->type != JT_STRING || !streq(v->str, m->name))
			return meta_bad(m, "it names another snapshot");
		m->have |= META_HAVE_NAME;
	} else if (streq(key, "created")) {
		if (v->type != JT_STRING || time_parse_iso(v->str, &s->created) < 0)
			return meta_bad(m, "its created time is not a time");
		m->have |= META_HAVE_CREATED;
	} else if (streq(key, "kind")) {
		if (v->type != JT_STRING ||
		    (s->kind = snap_kind_from_string(v->str)) == _SNAP_KIND_INVALID)
			return meta_bad(m, "its kind is not one snaprotate knows");
		m->have |= META_HAVE_KIND;
	} else if (streq(key, "pinned")) {
		if (v->type != JT_BOOL)
			return meta_bad(m, "pinned is not true or false");
		s->pinned = v->boolean;
		m->have |= META_HAVE_PINNED;
	} else if (streq(key, "description")) {
		if (v->type != JT_STRING)
			return meta_bad(m, "its description is not a string");
		m->have |= META_HAVE_DESCRIPTION;
		return meta_opt_string(v, &s->description);
	} else if (streq(key, "pre")) {
		return meta_opt_string(v, &s->pre);
	} else if (streq(key, "uuid")) {
		return meta_opt_string(v, &s->uuid);
	} else if (streq(key, "parent_uuid")) {
		return meta_opt_string(v, &s->parent_uuid);
	} else if (streq(key, "creator")) {
		return meta_opt_string(v, &s->creator);
	} else if (streq(key, "source")) {
		return meta_opt_string(v, &s->source);
	} else if (streq(key, "image")) {
		if (v->type != JT_STRING || (!streq(v->str, "full") && !streq(v->str, "delta")))
			return -EINVAL;
		return meta_opt_string(v, &s->image);
	} else if (streq(key, "base")) {
		if (v->type == JT_STRING && snap_name_parse(m->volume, v->str, NULL, NULL) < 0)
			return -EINVAL;
		return meta_opt_string(v, &s->base);
	} else if (streq(key, "sent_to")) {
		if (v->type == JT_NULL)
			return 0;
		if (v->type != JT_OBJECT)
			return meta_bad(m, "sent_to is not an object");
		while (s->n_sent > 0)
			free(s->sent[--s->n_sent].target);
		return jt_parse_object(v->raw, v->raw_len, meta_sent_member, m);
	}
	/* Members a newer version added are ignored: the format only grows. */
	return 0;
}

int meta_parse_info_why(const char *volume, const char *name, const char *text,
			struct snapshot *s, const char **ret_why)
{
	struct snapshot n = { 0 };
	struct meta_parse m = { .volume = volume, .name = name, .s = &n };
	time_t stamp;
	int r;

	if (snap_name_parse(volume, name, &stamp, &n.seq) < 0)
		r = meta_bad(&m, "its directory is not named like a snapshot");
	else
		r = jt_parse_object(text, strlen(text), meta_member, &m);
	if (r == -EINVAL && !m.why)
		m.why = "it is not a JSON object";
	if (r == 0 && m.have != META_HAVE_ALL)
		r = meta_bad(&m, "a required member is missing");
	/* The name says when it was taken: a created time that differs is not this snapshot's. */
	if (r == 0 && n.created != stamp)
		r = meta_bad(&m, "its created time is not the one in its name");
	if (r == 0)
		r = meta_sent_check(&m);
	/* A delta names its base; a full image and a btrfs copy name none. */
	if (r == 0 && (n.image ? streq(n.image, "delta") != !!n.base : !!n.base))
		r = meta_bad(&m, "its base does not match its image");
	if (r == 0 && !(n.name = strdup(name)))
		r = -ENOMEM;
	if (r < 0) {
		snapshot_done(&n);
		if (ret_why)
			*ret_why = r == -ENOMEM ? "out of memory" : m.why;
		return r;
	}
	n.complete = true;
	*s = n;
	return 0;
}

int meta_parse_info(const char *volume, const char *name, const char *text, struct snapshot *s)
{
	return meta_parse_info_why(volume, name, text, s, NULL);
}

void meta_write_snapshot(struct jt_writer *w, const struct snapshot *s)
{
	bool known = s->complete && !s->foreign;
	char when[ISO_TIME_LEN];

	jt_begin_object(w);
	jt_key(w, "name");
	jt_string(w, s->name);
	jt_key(w, "created");
	jt_string(w, s->foreign ? NULL : time_format_iso(s->created, when));
	jt_key(w, "kind");
	jt_string(w, known ? snap_kind_to_string(s->kind) : NULL);
	jt_key(w, "pinned");
	jt_bool(w, s->pinned);
	jt_key(w, "description");
	jt_string(w, s->description ?: "");
	jt_key(w, "pre");
	jt_string(w, s->pre);
	jt_key(w, "complete");
	jt_bool(w, s->complete);
	jt_key(w, "foreign");
	jt_bool(w, s->foreign);
	jt_key(w, "damaged");
	jt_bool(w, s->damaged);
	jt_key(w, "problem");
	jt_string(w, s->problem);
	jt_key(w, "invalid");
	jt_bool(w, s->invalid);
	jt_key(w, "stale");
	jt_bool(w, s->stale);
	jt_key(w, "merging");
	jt_bool(w, s->merging);
	jt_key(w, "cow_percent");
	if (s->cow_known)
		jt_percent(w, s->cow_percent);
	else
		jt_null(w);
	jt_key(w, "sent_to");
	jt_begin_object(w);
	for (size_t i = 0; i < s->n_sent; i++) {
		jt_key(w, s->sent[i].target);
		jt_string(w, time_format_iso(s->sent[i].when, when));
	}
	jt_end_object(w);
	jt_end_object(w);
}
