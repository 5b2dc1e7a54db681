/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The strict JSON reader and the streaming writer (include/jsontext.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "base/util.h"
#include "format/jsontext.h"

struct seen {
	char text[1024];
};

/* Records "key=type:value;" for every member. */
static int record(void *user, const char *key, const struct jt_value *v)
{
	struct seen *s = user;
	size_t n = strlen(s->text);
	char *p = s->text + n;
	size_t room = sizeof(s->text) - n;

	switch (v->type) {
	case JT_NULL:
		snprintf(p, room, "%s=null;", key);
		break;
	case JT_BOOL:
		snprintf(p, room, "%s=%s;", key, v->boolean ? "true" : "false");
		break;
	case JT_NUMBER:
		if (v->is_integer)
			snprintf(p, room, "%s=int:%lld;", key, (long long)v->integer);
		else
			snprintf(p, room, "%s=num:%.*s;", key, (int)v->raw_len, v->raw);
		break;
	case JT_STRING:
		snprintf(p, room, "%s=str:%s;", key, v->str);
		break;
	case JT_OBJECT:
	case JT_ARRAY:
		snprintf(p, room, "%s=%s:%.*s;", key, v->type == JT_OBJECT ? "obj" : "arr",
			 (int)v->raw_len, v->raw);
		break;
	}
	return 0;
}

static void reader_table(void **state)
{
	static const struct {
		const char *in;
		int r;
		const char *out;
	} cases[] = {
		{ "{}", 0, "" },
		{ " \n\t{ } \r\n", 0, "" },
		{ "{\"a\":1}", 0, "a=int:1;" },
		{ "{\"a\": -12, \"b\": 0}", 0, "a=int:-12;b=int:0;" },
		{ "{\"a\": 1.5e3}", 0, "a=num:1.5e3;" },
		{ "{\"a\": 99999999999999999999}", 0, "a=num:99999999999999999999;" },
		{ "{\"a\":true,\"b\":false,\"c\":null}", 0, "a=true;b=false;c=null;" },
		{ "{\"s\":\"x\\\"y\\\\z\\/\\n\"}", 0, "s=str:x\"y\\z/\n;" },
		{ "{\"s\":\"\\u00e9\\u20ac\\ud83d\\ude00\"}", 0, "s=str:\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80;" },
		{ "{\"o\":{\"x\":[1,{\"y\":[]}]},\"z\":1}", 0, "o=obj:{\"x\":[1,{\"y\":[]}]};z=int:1;" },
		{ "{\"a\":[ ]}", 0, "a=arr:[ ];" },
		/* Not JSON, or not one object. */
		{ "", -EINVAL, NULL },
		{ "[]", -EINVAL, NULL },
		{ "{", -EINVAL, NULL },
		{ "{\"a\"", -EINVAL, NULL },
		{ "{\"a\":", -EINVAL, NULL },
		{ "{\"a\":1", -EINVAL, NULL },
		{ "{\"a\":1,}", -EINVAL, NULL },
		{ "{,}", -EINVAL, NULL },
		{ "{\"a\":1}{}", -EINVAL, NULL },
		{ "{\"a\":1} x", -EINVAL, NULL },
		{ "{a:1}", -EINVAL, NULL },
		{ "{'a':1}", -EINVAL, NULL },
		{ "{\"a\":01}", -EINVAL, NULL },
		{ "{\"a\":+1}", -EINVAL, NULL },
		{ "{\"a\":1.}", -EINVAL, NULL },
		{ "{\"a\":.5}", -EINVAL, NULL },
		{ "{\"a\":1e}", -EINVAL, NULL },
		{ "{\"a\":NaN}", -EINVAL, NULL },
		{ "{\"a\":tru}", -EINVAL, NULL },
		{ "{\"a\":nul}", -EINVAL, NULL },
		{ "{\"a\":\"x}", -EINVAL, NULL },
		{ "{\"a\":\"\\x\"}", -EINVAL, NULL },
		{ "{\"a\":\"\\u12\"}", -EINVAL, NULL },
		{ "{\"a\":\"\\u0000\"}", -EINVAL, NULL },
		{ "{\"a\":\"\\ud83d\"}", -EINVAL, NULL },
		{ "{\"a\":\"\\ude00\"}", -EINVAL, NULL },
		{ "{\"a\":\"tab\there\"}", -EINVAL, NULL },
		{ "{\"a\":[1,]}", -EINVAL, NULL },
		{ "{\"a\":[1 2]}", -EINVAL, NULL },
		{ "{\"a\":{\"b\"}}", -EINVAL, NULL },
		{ "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
		  -EINVAL, NULL },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct seen s = { "" };
		int r = jt_parse_object(cases[i].in, strlen(cases[i].in), record, &s);

		if (r != cases[i].r)
			fail_msg("case %zu '%s': %d, expected %d", i, cases[i].in, r, cases[i].r);
		if (cases[i].out && !streq(s.text, cases[i].out))
			fail_msg("case %zu '%s': '%s', expected '%s'", i, cases[i].in, s.text,
				 cases[i].out);
	}
}

static int stop_at_b(void *user, const char *key, const struct jt_value *v)
{
	(void) user;
	(void) v;
	return streq(key, "b") ? -ENOTSUP : 0;
}

static void callback_error_stops(void **state)
{
	(void) state;
	assert_int_equal(jt_parse_object("{\"a\":1,\"b\":2}", 13, stop_at_b, NULL), -ENOTSUP);
}

static void never_reads_past_len(void **state)
{
	/* The buffer holds more than len: only len bytes may count. */
	static const char text[] = "{\"a\":1}garbage";

	(void) state;
	assert_int_equal(jt_parse_object(text, 7, record, &(struct seen){ "" }), 0);
	for (size_t n = 0; n < 7; n++)
		assert_int_equal(jt_parse_object(text, n, record, &(struct seen){ "" }), -EINVAL);
}

static int count(void *user, const char *key, const struct jt_value *v)
{
	(void) key;
	(void) v;
	(*(int *)user)++;
	return 0;
}

/*
 * Mutations of a real info.json: the reader never crashes (run under ASan by
 * `make asan`), and whatever it accepts, json-c in strict mode accepts too.
 */
static void mutations_agree_with_json_c(void **state)
{
	static const char base[] =
		"{ \"format\": 1, \"volume\": \"root\", \"name\": \"root.20261127T090512Z\",\n"
		"  \"created\": \"2026-11-27T09:05:12Z\", \"kind\": \"timeline\", \"description\": "
		"\"caf\\u00e9 \\\"x\\\"\", \"pinned\": false, \"pre\": null, \"uuid\": \"u\", "
		"\"sent_to\": { \"nas\": \"2026-11-27T09:06:40Z\" }, \"list\": [1, 2.5e-3, true] }";
	static const char alphabet[] = "{}[]\":,\\ eu0019-+.tfnl";
	unsigned seed = 20261127;
	char buf[sizeof(base) + 8];

	(void) state;
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = sizeof(base) - 1;
		struct json_tokener *tok;
		struct json_object *o;
		int n = 0, r;

		memcpy(buf, base, sizeof(base));
		for (int k = 0; k < 1 + iter % 3 && len > 0; k++) {
			seed = seed * 1103515245 + 12345;
			size_t pos = (seed >> 8) % len;

			seed = seed * 1103515245 + 12345;
			switch ((seed >> 8) % 3) {
			case 0:
				buf[pos] = alphabet[(seed >> 12) % (sizeof(alphabet) - 1)];
				break;
			case 1:
				memmove(buf + pos, buf + pos + 1, len - pos);
				len--;
				break;
			default:
				len = pos;
			}
		}
		buf[len] = '\0';
		r = jt_parse_object(buf, len, count, &n);
		if (r != 0)
			continue;
		tok = json_tokener_new();
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
		o = json_tokener_parse_ex(tok, buf, (int)len);
		if (!o || json_tokener_get_error(tok) != json_tokener_success ||
		    !json_object_is_type(o, json_type_object))
			fail_msg("accepted what json-c rejects: '%s'", buf);
		json_object_put(o);
		json_tokener_free(tok);
	}
}

static void writer_layout(void **state)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	struct jt_writer w = { .f = f };
	struct json_object *o;

	(void) state;
	jt_begin_object(&w);
	jt_key(&w, "format");
	jt_int(&w, 1);
	jt_key(&w, "list");
	jt_begin_array(&w);
	jt_string(&w, "a\"b\\c\n\x01");
	jt_null(&w);
	jt_bool(&w, true);
	jt_begin_object(&w);
	jt_end_object(&w);
	jt_end_array(&w);
	jt_key(&w, "empty");
	jt_begin_array(&w);
	jt_end_array(&w);
	jt_key(&w, "s");
	jt_string(&w, NULL);
	jt_end_object(&w);
	fclose(f);
	assert_string_equal(out,
			    "{\n"
			    "  \"format\": 1,\n"
			    "  \"list\": [\n"
			    "    \"a\\\"b\\\\c\\n\\u0001\",\n"
			    "    null,\n"
			    "    true,\n"
			    "    {}\n"
			    "  ],\n"
			    "  \"empty\": [],\n"
			    "  \"s\": null\n"
			    "}\n");
	o = json_tokener_parse(out);
	assert_non_null(o);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(
				    json_object_object_get(o, "list"), 0)), "a\"b\\c\n\x01");
	json_object_put(o);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reader_table),
		cmocka_unit_test(callback_error_stops),
		cmocka_unit_test(never_reads_past_len),
		cmocka_unit_test(mutations_agree_with_json_c),
		cmocka_unit_test(writer_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
