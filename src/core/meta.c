/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "meta.h"
#include "stamp.h"
#include "version.h"

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

char *meta_format_info(const struct snapshot *s, const char *volume)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	const char *text;

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
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		return NULL;
	/* One trailing newline, like any text file an administrator may cat. */
	{
		size_t n = strlen(text);
		char *out = malloc(n + 2);

		if (!out)
			return NULL;
		memcpy(out, text, n);
		out[n] = '\n';
		out[n + 1] = '\0';
		return out;
	}
}

/* Absent and null are the same; @ok turns false for a wrong type or a missing required key. */
static const char *meta_get_string(struct json_object *o, const char *key, bool nullable,
				   bool *ok)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || !v) {
		if (!nullable)
			*ok = false;
		return NULL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		*ok = false;
		return NULL;
	}
	return json_object_get_string(v);
}

int meta_parse_info(const char *volume, const char *name, const char *text, struct snapshot *s)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct snapshot n = { 0 };
	struct json_object *v;
	const char *str;
	bool ok = true;
	int r = -EINVAL;

	o = json_tokener_parse(text);
	if (!o || !json_object_is_type(o, json_type_object))
		return -EINVAL;
	if (!json_object_object_get_ex(o, "format", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int(v) != META_FORMAT)
		return -EINVAL;
	str = meta_get_string(o, "volume", false, &ok);
	if (!ok || !streq(str, volume))
		return -EINVAL;
	str = meta_get_string(o, "name", false, &ok);
	if (!ok || !streq(str, name) || snap_name_parse(volume, name, NULL, &n.seq) < 0)
		return -EINVAL;
	str = meta_get_string(o, "created", false, &ok);
	if (!ok || time_parse_iso(str, &n.created) < 0)
		return -EINVAL;
	str = meta_get_string(o, "kind", false, &ok);
	if (!ok || (n.kind = snap_kind_from_string(str)) == _SNAP_KIND_INVALID)
		return -EINVAL;
	if (!json_object_object_get_ex(o, "pinned", &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return -EINVAL;
	n.pinned = json_object_get_boolean(v);

	n.name = strdup(name);
	str = meta_get_string(o, "description", false, &ok);
	n.description = strdup(ok ? str : "");
	if (!n.name || !n.description)
		goto nomem;
	if (!ok)
		goto out;
	/* Optional fields: null or absent is fine, a wrong type is not. */
	str = meta_get_string(o, "pre", true, &ok);
	if (str && !(n.pre = strdup(str)))
		goto nomem;
	str = meta_get_string(o, "uuid", true, &ok);
	if (str && !(n.uuid = strdup(str)))
		goto nomem;
	str = meta_get_string(o, "parent_uuid", true, &ok);
	if (str && !(n.parent_uuid = strdup(str)))
		goto nomem;
	str = meta_get_string(o, "creator", true, &ok);
	if (str && !(n.creator = strdup(str)))
		goto nomem;
	if (!ok)
		goto out;
	if (json_object_object_get_ex(o, "sent_to", &v) && v) {
		if (!json_object_is_type(v, json_type_object))
			goto out;
		json_object_object_foreach(v, key, val) {
			time_t when;

			if (!json_object_is_type(val, json_type_string) ||
			    time_parse_iso(json_object_get_string(val), &when) < 0 ||
			    !volume_name_valid(key))
				goto out;
			if (snapshot_sent_set(&n, key, when) < 0)
				goto nomem;
		}
	}
	n.complete = true;
	*s = n;
	return 0;
nomem:
	r = -ENOMEM;
out:
	snapshot_done(&n);
	return r;
}

struct json_object *meta_snapshot_json(const struct snapshot *s)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	bool known = s->complete && !s->foreign;

	if (!o ||
	    meta_add(o, "name", json_object_new_string(s->name)) < 0 ||
	    meta_add(o, "created", s->foreign ? NULL : meta_time(s->created)) < 0 ||
	    meta_add(o, "kind", known ? json_object_new_string(snap_kind_to_string(s->kind))
				      : NULL) < 0 ||
	    meta_add(o, "pinned", json_object_new_boolean(s->pinned)) < 0 ||
	    meta_add(o, "description", json_object_new_string(s->description ?: "")) < 0 ||
	    meta_add(o, "pre", meta_string_or_null(s->pre)) < 0 ||
	    meta_add(o, "complete", json_object_new_boolean(s->complete)) < 0 ||
	    meta_add(o, "foreign", json_object_new_boolean(s->foreign)) < 0 ||
	    meta_add(o, "sent_to", meta_sent_to(s)) < 0)
		return NULL;
	return TAKE_PTR(o);
}
