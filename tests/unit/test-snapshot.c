/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-snapshot.c: snapshot lists and arguments (include/snapshot.h),
 * info.json (include/meta.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/util.h"
#include "base/version.h"
#include "format/meta.h"
#include "model/snapshot.h"
#include "model/stamp.h"

/* 2026-11-27T09:05:12Z */
#define T0	((time_t)1795770312)

DEFINE_CLEANUP_FUNC(struct snapshot_list *, snapshot_list_free)

static time_t T(const char *iso)
{
	time_t t = 0;

	assert_int_equal(time_parse_iso(iso, &t), 0);
	return t;
}

/* Appends a snaprotate snapshot whose time and sequence come from its name. */
static void add_snap(struct snapshot_list *l, const char *volume, const char *name,
		     bool complete)
{
	struct snapshot s = { 0 };

	assert_int_equal(snap_name_parse(volume, name, &s.created, &s.seq), 0);
	s.name = strdup(name);
	assert_non_null(s.name);
	s.complete = complete;
	s.kind = SNAP_TIMELINE;
	if (complete) {
		s.description = strdup("");
		assert_non_null(s.description);
	}
	assert_int_equal(snapshot_list_append(l, &s), 0);
	assert_null(s.name);
}

static void add_foreign(struct snapshot_list *l, const char *name)
{
	struct snapshot s = { .foreign = true };

	s.name = strdup(name);
	assert_non_null(s.name);
	assert_int_equal(snapshot_list_append(l, &s), 0);
}

static struct snapshot_list *new_list(void)
{
	struct snapshot_list *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	return l;
}

static void resolve_table(void **state)
{
	static const struct {
		const char *arg;
		int r;
		size_t idx;
	} cases[] = {
		/* Full names, exact: wins over being a prefix of "_2". */
		{ "root.20261127T090512Z", 0, 0 },
		{ "root.20261127T090512Z_2", 0, 1 },
		{ "root.20261127T100000Z", 0, 2 },
		{ "root.20261129T000000Z", 0, 4 },
		/* Unique stamp prefixes. */
		{ "20261127T10", 0, 2 },
		{ "20261127T1", 0, 2 },
		{ "20261128", 0, 3 },
		{ "20261128T000000Z", 0, 3 },
		{ "20261127T090512Z_", 0, 1 },
		{ "20261127T090512Z_2", 0, 1 },
		/* An incomplete snapshot is still named (to delete it). */
		{ "20261129", 0, 4 },
		/* Unique prefixes of the full name. */
		{ "root.20261128", 0, 3 },
		{ "root.20261127T1", 0, 2 },
		{ "root.20261127T090512Z_", 0, 1 },
		/* "latest": newest complete, not foreign. */
		{ "latest", 0, 3 },
		/* Ambiguous. */
		{ "20261127", -ENOTUNIQ, 0 },
		{ "20261127T0905", -ENOTUNIQ, 0 },
		{ "2026", -ENOTUNIQ, 0 },
		{ "root.", -ENOTUNIQ, 0 },
		{ "root", -ENOTUNIQ, 0 },
		{ "r", -ENOTUNIQ, 0 },
		/* Nothing. */
		{ "", -ENOENT, 0 },
		{ "2025", -ENOENT, 0 },
		{ "20261130", -ENOENT, 0 },
		{ "root.2025", -ENOENT, 0 },
		{ "root.20261127T090512Z_3", -ENOENT, 0 },
		{ "data.20261127T090512Z", -ENOENT, 0 },
		{ "Latest", -ENOENT, 0 },
		{ "x", -ENOENT, 0 },
		/* Foreign entries take no part in prefix matching. */
		{ "manual", -ENOENT, 0 },
		{ "root-old", -ENOENT, 0 },
	};
	_cleanup_(snapshot_list_freep) struct snapshot_list *l = new_list();

	(void) state;
	add_snap(l, "root", "root.20261127T090512Z", true);
	add_snap(l, "root", "root.20261127T090512Z_2", true);
	add_snap(l, "root", "root.20261127T100000Z", true);
	add_snap(l, "root", "root.20261128T000000Z", true);
	add_snap(l, "root", "root.20261129T000000Z", false);
	add_foreign(l, "manual-backup");
	add_foreign(l, "root-old.20261201T000000Z");
	snapshot_list_sort(l);
	assert_string_equal(l->items[4].name, "root.20261129T000000Z");
	assert_true(l->items[6].foreign);

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct rerr e = { 0 };
		size_t idx = SIZE_MAX;
		int r = snapshot_resolve(l, "root", cases[i].arg, &idx, &e);

		if (r != cases[i].r)
			fail_msg("snapshot_resolve(\"%s\") = %d, expected %d", cases[i].arg, r,
				 cases[i].r);
		if (r == 0) {
			if (idx != cases[i].idx)
				fail_msg("snapshot_resolve(\"%s\"): index %zu, expected %zu",
					 cases[i].arg, idx, cases[i].idx);
			assert_int_equal(e.code, 0);
			continue;
		}
		assert_int_equal(idx, SIZE_MAX);
		assert_int_equal(e.code, -cases[i].r);
		/* The message names the volume and what was asked for. */
		assert_non_null(strstr(e.msg, "root"));
		if (!strstr(e.msg, cases[i].arg))
			fail_msg("snapshot_resolve(\"%s\"): message '%s' does not name it",
				 cases[i].arg, e.msg);
	}
}

static void resolve_dotted_volume(void **state)
{
	_cleanup_(snapshot_list_freep) struct snapshot_list *l = new_list();
	struct rerr e = { 0 };
	size_t idx = SIZE_MAX;

	(void) state;
	add_snap(l, "my.vol", "my.vol.20261127T090512Z", true);
	add_snap(l, "my.vol", "my.vol.20261128T090512Z", true);
	snapshot_list_sort(l);
	assert_int_equal(snapshot_resolve(l, "my.vol", "20261128", &idx, &e), 0);
	assert_int_equal(idx, 1);
	assert_int_equal(snapshot_resolve(l, "my.vol", "my.vol.20261127", &idx, &e), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(snapshot_resolve(l, "my.vol", "latest", &idx, &e), 0);
	assert_int_equal(idx, 1);
	assert_int_equal(snapshot_resolve(l, "my.vol", "vol.2026", &idx, &e), -ENOENT);
	assert_int_equal(e.code, ENOENT);
}

static void resolve_latest_none(void **state)
{
	_cleanup_(snapshot_list_freep) struct snapshot_list *l = new_list();
	struct rerr e = { 0 };
	size_t idx = SIZE_MAX;

	(void) state;
	/* Empty list. */
	assert_int_equal(snapshot_resolve(l, "root", "latest", &idx, &e), -ENOENT);
	assert_int_equal(e.code, ENOENT);
	assert_non_null(strstr(e.msg, "latest"));
	rerr_clear(&e);
	assert_int_equal(snapshot_resolve(l, "root", "2026", &idx, &e), -ENOENT);
	rerr_clear(&e);

	/* Only incomplete and foreign entries. */
	add_snap(l, "root", "root.20261127T090512Z", false);
	add_foreign(l, "zzz");
	snapshot_list_sort(l);
	assert_int_equal(snapshot_resolve(l, "root", "latest", &idx, &e), -ENOENT);
	assert_int_equal(idx, SIZE_MAX);
	rerr_clear(&e);

	/* The newest complete one, even with newer incomplete ones after it. */
	add_snap(l, "root", "root.20261120T000000Z", true);
	add_snap(l, "root", "root.20261130T000000Z", false);
	snapshot_list_sort(l);
	assert_int_equal(snapshot_resolve(l, "root", "latest", &idx, &e), 0);
	assert_string_equal(l->items[idx].name, "root.20261120T000000Z");
}

static void list_sort_order(void **state)
{
	static const char *const expected[] = {
		"root.20261126T000000Z",
		"root.20261127T090512Z",
		"root.20261127T090512Z_2",
		"root.20261127T090512Z_10",
		"root.20261127T100000Z",
		"root.20270101T000000Z",
		"aaa",
		"lost+found",
		"zzz",
	};
	_cleanup_(snapshot_list_freep) struct snapshot_list *l = new_list();
	struct snapshot s = { 0 };

	(void) state;
	add_foreign(l, "zzz");
	add_snap(l, "root", "root.20261127T090512Z_10", true);
	add_snap(l, "root", "root.20270101T000000Z", false);
	add_snap(l, "root", "root.20261127T100000Z", true);
	add_foreign(l, "aaa");
	add_snap(l, "root", "root.20261127T090512Z_2", true);
	add_snap(l, "root", "root.20261127T090512Z", true);
	/* A foreign entry's time is ignored: it still sorts last. */
	s.name = strdup("lost+found");
	s.foreign = true;
	s.created = 1;
	assert_int_equal(snapshot_list_append(l, &s), 0);
	add_snap(l, "root", "root.20261126T000000Z", true);

	assert_int_equal(l->n, ARRAY_SIZE(expected));
	snapshot_list_sort(l);
	for (size_t i = 0; i < l->n; i++)
		assert_string_equal(l->items[i].name, expected[i]);
	/* Sorting a sorted list changes nothing. */
	snapshot_list_sort(l);
	for (size_t i = 0; i < l->n; i++)
		assert_string_equal(l->items[i].name, expected[i]);
}

static void list_sort_ties_by_name(void **state)
{
	_cleanup_(snapshot_list_freep) struct snapshot_list *l = new_list();
	static const char *const names[] = { "c", "a", "b" };

	(void) state;
	/* Same time and sequence: by name. */
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct snapshot s = { .created = T0, .seq = 1 };

		s.name = strdup(names[i]);
		assert_non_null(s.name);
		assert_int_equal(snapshot_list_append(l, &s), 0);
	}
	snapshot_list_sort(l);
	assert_string_equal(l->items[0].name, "a");
	assert_string_equal(l->items[1].name, "b");
	assert_string_equal(l->items[2].name, "c");
}

static void list_append_grows(void **state)
{
	_cleanup_(snapshot_list_freep) struct snapshot_list *l = new_list();
	char name[SNAP_NAME_MAX + 1];

	(void) state;
	/* Past several doublings, appended newest first. */
	for (unsigned i = 0; i < 300; i++) {
		assert_int_equal(snap_name_format("root", T0 + 3600 * (time_t)(300 - i), 1, name,
						  sizeof(name)), 0);
		add_snap(l, "root", name, true);
	}
	assert_int_equal(l->n, 300);
	snapshot_list_sort(l);
	for (size_t i = 1; i < l->n; i++)
		assert_true(l->items[i - 1].created < l->items[i].created);
	snapshot_list_clear(l);
	assert_int_equal(l->n, 0);
	assert_null(l->items);
	add_snap(l, "root", "root.20261127T090512Z", true);
	assert_int_equal(l->n, 1);
}

static void sent_set_remove(void **state)
{
	struct snapshot s = { 0 };

	(void) state;
	assert_int_equal(snapshot_sent_remove(&s, "nas"), 0);
	assert_int_equal(snapshot_sent_set(&s, "nas", T0), 0);
	assert_int_equal(snapshot_sent_set(&s, "usb", T0 + 10), 0);
	assert_int_equal(snapshot_sent_set(&s, "cloud", T0 + 20), 0);
	assert_int_equal(s.n_sent, 3);

	/* A second record for the same target replaces the first. */
	assert_int_equal(snapshot_sent_set(&s, "nas", T0 + 100), 0);
	assert_int_equal(s.n_sent, 3);
	assert_string_equal(s.sent[0].target, "nas");
	assert_int_equal(s.sent[0].when, T0 + 100);

	/* Removing from the middle keeps the others in order. */
	assert_int_equal(snapshot_sent_remove(&s, "usb"), 1);
	assert_int_equal(s.n_sent, 2);
	assert_string_equal(s.sent[0].target, "nas");
	assert_string_equal(s.sent[1].target, "cloud");
	assert_int_equal(s.sent[1].when, T0 + 20);
	assert_int_equal(snapshot_sent_remove(&s, "usb"), 0);
	assert_int_equal(snapshot_sent_remove(&s, "NAS"), 0);
	assert_int_equal(s.n_sent, 2);

	assert_int_equal(snapshot_sent_remove(&s, "cloud"), 1);
	assert_int_equal(snapshot_sent_remove(&s, "nas"), 1);
	assert_int_equal(s.n_sent, 0);
	assert_int_equal(snapshot_sent_set(&s, "usb", T0), 0);
	assert_int_equal(s.n_sent, 1);
	snapshot_done(&s);
	assert_int_equal(s.n_sent, 0);
	assert_null(s.sent);
}

/* The first free name, whatever else the directory holds. */
static void free_name_table(void **state)
{
	static const struct {
		const char *taken[4];
		unsigned from;
		const char *want;
		unsigned seq;
	} cases[] = {
		{ { NULL }, 1, "root.20261127T090512Z", 1 },
		{ { "root.20261127T090512Z" }, 1, "root.20261127T090512Z_2", 2 },
		{ { "root.20261127T090512Z", "root.20261127T090512Z_2", "root.20261127T090512Z_3" }, 1,
		  "root.20261127T090512Z_4", 4 },
		{ { "root.20261127T090512Z", "root.20261127T090512Z_3" }, 1,
		  "root.20261127T090512Z_2", 2 },
		{ { "root.20261127T090512Z" }, 3, "root.20261127T090512Z_3", 3 },
		{ { "root.20261127T090511Z", "root.20261127T090513Z" }, 1,
		  "root.20261127T090512Z", 1 },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct snapshot_list l = { 0 };
		char name[SNAP_NAME_MAX + 1];
		unsigned seq = 0;

		for (size_t k = 0; k < ARRAY_SIZE(cases[i].taken) && cases[i].taken[k]; k++)
			add_snap(&l, "root", cases[i].taken[k], true);
		assert_int_equal(snapshot_free_name(&l, "root", T0, cases[i].from, name,
						    sizeof(name), &seq), 0);
		assert_string_equal(name, cases[i].want);
		assert_int_equal(seq, cases[i].seq);
		snapshot_list_clear(&l);
	}
}

static void kind_round_trip(void **state)
{
	static const struct {
		enum snap_kind k;
		const char *s;
	} cases[] = {
		{ SNAP_MANUAL, "manual" },
		{ SNAP_TIMELINE, "timeline" },
		{ SNAP_PRE, "pre" },
		{ SNAP_POST, "post" },
		{ SNAP_BOOT, "boot" },
	};
	static const char *const bad[] = { "", "Manual", "weekly", "pre ", "timelin", "boots" };

	(void) state;
	assert_int_equal(ARRAY_SIZE(cases), _SNAP_KIND_MAX);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_string_equal(snap_kind_to_string(cases[i].k), cases[i].s);
		assert_int_equal(snap_kind_from_string(cases[i].s), cases[i].k);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(snap_kind_from_string(bad[i]), _SNAP_KIND_INVALID);
	assert_null(snap_kind_to_string(_SNAP_KIND_MAX));
	assert_null(snap_kind_to_string(_SNAP_KIND_INVALID));
}

static void assert_same_snapshot(const struct snapshot *a, const struct snapshot *b)
{
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->created, b->created);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->pinned, b->pinned);
	assert_string_equal(a->description, b->description);
	if (a->pre || b->pre)
		assert_string_equal(a->pre, b->pre);
	if (a->uuid || b->uuid)
		assert_string_equal(a->uuid, b->uuid);
	if (a->parent_uuid || b->parent_uuid)
		assert_string_equal(a->parent_uuid, b->parent_uuid);
	assert_string_equal(a->creator, b->creator);
	assert_int_equal(a->n_sent, b->n_sent);
	for (size_t i = 0; i < a->n_sent; i++) {
		assert_string_equal(a->sent[i].target, b->sent[i].target);
		assert_int_equal(a->sent[i].when, b->sent[i].when);
	}
}

static void meta_round_trip(void **state)
{
	static const struct {
		const char *name;
		enum snap_kind kind;
		bool pinned;
		const char *description;
		const char *pre;
		const char *uuid;
		const char *parent_uuid;
		unsigned n_sent;
	} cases[] = {
		{ "root.20261127T090512Z", SNAP_TIMELINE, false, "", NULL, NULL, NULL, 0 },
		{ "root.20261127T090512Z_2", SNAP_MANUAL, true, "before upgrade", NULL,
		  "0b1c2d3e-0000-4000-8000-000000000001", NULL, 1 },
		{ "root.20261127T090512Z_10", SNAP_POST, false, "apt: install vim",
		  "root.20261127T090500Z", "0b1c2d3e-0000-4000-8000-000000000002",
		  "0b1c2d3e-0000-4000-8000-000000000003", 2 },
		{ "root.20280229T000000Z", SNAP_PRE, false,
		  "quotes \" back\\slash / slash\ttab\nnewline \xc3\xa9", NULL, NULL, NULL, 0 },
		{ "root.20261127T090512Z", SNAP_BOOT, true, "", NULL, NULL, NULL, 3 },
	};
	static const char *const targets[] = { "nas", "usb", "cloud.eu" };

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct snapshot in = { 0 }, out = { .seq = 77 };
		_cleanup_free_ char *text = NULL;

		assert_int_equal(snap_name_parse("root", cases[i].name, &in.created, &in.seq), 0);
		in.name = strdup(cases[i].name);
		in.kind = cases[i].kind;
		in.pinned = cases[i].pinned;
		in.description = strdup(cases[i].description);
		in.pre = xstrdup_or_null(cases[i].pre);
		in.uuid = xstrdup_or_null(cases[i].uuid);
		in.parent_uuid = xstrdup_or_null(cases[i].parent_uuid);
		in.creator = strdup(SNAPROTATE_CREATOR);
		in.complete = true;
		for (unsigned t = 0; t < cases[i].n_sent; t++)
			assert_int_equal(snapshot_sent_set(&in, targets[t], in.created + 60 * (t + 1)),
					 0);

		text = meta_format_info(&in, "root");
		assert_non_null(text);
		assert_int_equal(text[strlen(text) - 1], '\n');
		assert_non_null(strstr(text, "\"format\": 1"));
		assert_non_null(strstr(text, "\"volume\": \"root\""));
		assert_int_equal(meta_parse_info("root", cases[i].name, text, &out), 0);
		assert_true(out.complete);
		assert_false(out.foreign);
		assert_same_snapshot(&in, &out);
		snapshot_done(&in);
		snapshot_done(&out);
	}
}

static void meta_defaults(void **state)
{
	struct snapshot in = { .kind = SNAP_MANUAL }, out = { 0 };
	_cleanup_free_ char *text = NULL;

	(void) state;
	/* No description and no creator: "" and this program. */
	in.name = strdup("data.20261127T090512Z_3");
	in.created = T0;
	text = meta_format_info(&in, "data");
	assert_non_null(text);
	assert_non_null(strstr(text, "\"created\": \"2026-11-27T09:05:12Z\""));
	assert_non_null(strstr(text, "\"pre\": null"));
	assert_int_equal(meta_parse_info("data", "data.20261127T090512Z_3", text, &out), 0);
	assert_string_equal(out.description, "");
	assert_string_equal(out.creator, SNAPROTATE_CREATOR);
	assert_null(out.pre);
	assert_null(out.uuid);
	assert_int_equal(out.seq, 3);
	assert_int_equal(out.created, T0);
	assert_int_equal(out.n_sent, 0);
	snapshot_done(&in);
	snapshot_done(&out);
}

/* A valid info.json of root.20261127T090512Z with the fields tests vary. */
#define INFO(fmt, vol, name, created, kind, desc, pinned, pre, sent)			\
	"{ \"format\": " fmt ", \"volume\": " vol ", \"name\": " name			\
	", \"created\": " created ", \"kind\": " kind ", \"description\": " desc	\
	", \"pinned\": " pinned ", \"pre\": " pre ", \"uuid\": null,"			\
	" \"creator\": \"snaprotate 0.1.0\", \"sent_to\": " sent " }"

#define GOOD_NAME	"\"root.20261127T090512Z\""
#define GOOD_CREATED	"\"2026-11-27T09:05:12Z\""
#define GOOD_SENT	"{ \"nas\": \"2026-11-27T09:06:40Z\" }"

static const char good_info[] = INFO("1", "\"root\"", GOOD_NAME, GOOD_CREATED, "\"timeline\"",
				     "\"\"", "false", "null", GOOD_SENT);

static void meta_parse_good(void **state)
{
	struct snapshot s = { 0 };

	(void) state;
	assert_int_equal(meta_parse_info("root", "root.20261127T090512Z", good_info, &s), 0);
	assert_string_equal(s.name, "root.20261127T090512Z");
	assert_int_equal(s.created, T0);
	assert_int_equal(s.seq, 1);
	assert_int_equal(s.kind, SNAP_TIMELINE);
	assert_false(s.pinned);
	assert_int_equal(s.n_sent, 1);
	assert_string_equal(s.sent[0].target, "nas");
	assert_int_equal(s.sent[0].when, T("2026-11-27T09:06:40Z"));
	snapshot_done(&s);
}

static void meta_parse_reject_table(void **state)
{
	static const struct {
		const char *what;
		const char *volume;
		const char *name;
		const char *text;
	} cases[] = {
		{ "format 2", "root", "root.20261127T090512Z",
		  INFO("2", "\"root\"", GOOD_NAME, GOOD_CREATED, "\"timeline\"", "\"\"", "false",
		       "null", GOOD_SENT) },
		{ "format 0", "root", "root.20261127T090512Z",
		  INFO("0", "\"root\"", GOOD_NAME, GOOD_CREATED, "\"timeline\"", "\"\"", "false",
		       "null", GOOD_SENT) },
		{ "format as a string", "root", "root.20261127T090512Z",
		  INFO("\"1\"", "\"root\"", GOOD_NAME, GOOD_CREATED, "\"timeline\"", "\"\"",
		       "false", "null", GOOD_SENT) },
		{ "format as a double", "root", "root.20261127T090512Z",
		  INFO("1.5", "\"root\"", GOOD_NAME, GOOD_CREATED, "\"timeline\"", "\"\"", "false",
		       "null", GOOD_SENT) },
		{ "no format", "root", "root.20261127T090512Z",
		  "{ \"volume\": \"root\", \"name\": " GOOD_NAME ", \"created\": " GOOD_CREATED
		  ", \"kind\": \"timeline\", \"description\": \"\", \"pinned\": false }" },
		{ "wrong volume", "root", "root.20261127T090512Z",
		  INFO("1", "\"data\"", GOOD_NAME, GOOD_CREATED, "\"timeline\"", "\"\"", "false",
		       "null", GOOD_SENT) },
		{ "volume null", "root", "root.20261127T090512Z",
		  INFO("1", "null", GOOD_NAME, GOOD_CREATED, "\"timeline\"", "\"\"", "false",
		       "null", GOOD_SENT) },
		{ "volume a number", "root", "root.20261127T090512Z",
		  INFO("1", "7", GOOD_NAME, GOOD_CREATED, "\"timeline\"", "\"\"", "false", "null",
		       GOOD_SENT) },
		{ "called as another volume", "data", "root.20261127T090512Z", good_info },
		{ "name mismatch", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", "\"root.20261127T090513Z\"", GOOD_CREATED, "\"timeline\"",
		       "\"\"", "false", "null", GOOD_SENT) },
		{ "directory of another name", "root", "root.20261127T090512Z_2", good_info },
		{ "name not a snapshot name", "root", "root.latest",
		  INFO("1", "\"root\"", "\"root.latest\"", GOOD_CREATED, "\"timeline\"", "\"\"",
		       "false", "null", GOOD_SENT) },
		{ "name null", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", "null", GOOD_CREATED, "\"timeline\"", "\"\"", "false",
		       "null", GOOD_SENT) },
		{ "created month 13", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, "\"2026-13-27T09:05:12Z\"", "\"timeline\"",
		       "\"\"", "false", "null", GOOD_SENT) },
		{ "created junk", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, "\"yesterday\"", "\"timeline\"", "\"\"",
		       "false", "null", GOOD_SENT) },
		{ "created a number", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, "1795770312", "\"timeline\"", "\"\"", "false",
		       "null", GOOD_SENT) },
		{ "created null", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, "null", "\"timeline\"", "\"\"", "false", "null",
		       GOOD_SENT) },
		{ "unknown kind", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, GOOD_CREATED, "\"weekly\"", "\"\"", "false",
		       "null", GOOD_SENT) },
		{ "kind empty", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, GOOD_CREATED, "\"\"", "\"\"", "false", "null",
		       GOOD_SENT) },
		{ "kind a number", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, GOOD_CREATED, "1", "\"\"", "false", "null",
		       GOOD_SENT) },
		{ "pinned a string", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, GOOD_CREATED, "\"timeline\"", "\"\"", "\"no\"",
		       "null", GOOD_SENT) },
		{ "pinned a number", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, GOOD_CREATED, "\"timeline\"", "\"\"", "0",
		       "null", GOOD_SENT) },
		{ "pinned null", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, GOOD_CREATED, "\"timeline\"", "\"\"", "null",
		       "null", GOOD_SENT) },
		{ "description a number", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, GOOD_CREATED, "\"timeline\"", "5", "false",
		       "null", GOOD_SENT) },
		{ "pre a number", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, GOOD_CREATED, "\"timeline\"", "\"\"", "false",
		       "5", GOOD_SENT) },
		{ "sent_to a bad time", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, GOOD_CREATED, "\"timeline\"", "\"\"", "false",
		       "null", "{ \"nas\": \"2026-11-27T25:06:40Z\" }") },
		{ "sent_to junk time", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, GOOD_CREATED, "\"timeline\"", "\"\"", "false",
		       "null", "{ \"usb\": \"2026-11-27T09:06:40Z\", \"nas\": \"soon\" }") },
		{ "sent_to time a number", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, GOOD_CREATED, "\"timeline\"", "\"\"", "false",
		       "null", "{ \"nas\": 1795770400 }") },
		{ "sent_to bad target name", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, GOOD_CREATED, "\"timeline\"", "\"\"", "false",
		       "null", "{ \"-nas\": \"2026-11-27T09:06:40Z\" }") },
		{ "sent_to an array", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, GOOD_CREATED, "\"timeline\"", "\"\"", "false",
		       "null", "[ \"nas\" ]") },
		{ "created a second after the name", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, "\"2026-11-27T09:05:13Z\"", "\"timeline\"",
		       "\"\"", "false", "null", GOOD_SENT) },
		{ "created in 9999", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, "\"9999-11-27T09:05:12Z\"", "\"timeline\"",
		       "\"\"", "false", "null", GOOD_SENT) },
		{ "sent_to a target twice", "root", "root.20261127T090512Z",
		  INFO("1", "\"root\"", GOOD_NAME, GOOD_CREATED, "\"timeline\"", "\"\"", "false",
		       "null", "{ \"nas\": \"2026-11-27T09:06:40Z\", \"usb\": \"2026-11-27T09:06:40Z\","
		       " \"nas\": \"2026-11-27T09:07:40Z\" }") },
		{ "a trailing comma", "root", "root.20261127T090512Z",
		  "{ \"format\": 1, \"volume\": \"root\", \"name\": " GOOD_NAME ", \"created\": "
		  GOOD_CREATED ", \"kind\": \"timeline\", \"description\": \"\", \"pinned\": true, }" },
		{ "not an object", "root", "root.20261127T090512Z", "[ 1 ]" },
		{ "null", "root", "root.20261127T090512Z", "null" },
		{ "empty", "root", "root.20261127T090512Z", "" },
		{ "truncated", "root", "root.20261127T090512Z",
		  "{ \"format\": 1, \"volume\": \"root\", \"name\": \"root.20261127T090512Z\", " },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct snapshot s = { .seq = 77 };
		int r = meta_parse_info(cases[i].volume, cases[i].name, cases[i].text, &s);

		if (r != -EINVAL)
			fail_msg("%s: meta_parse_info() = %d, expected -EINVAL", cases[i].what, r);
		/* Untouched on failure. */
		assert_int_equal(s.seq, 77);
		assert_null(s.name);
		assert_null(s.description);
		assert_int_equal(s.n_sent, 0);
	}
}

/* What was wrong is said, for the listing of a damaged snapshot. */
static void meta_parse_why(void **state)
{
	static const struct {
		const char *text;
		const char *why;
	} cases[] = {
		{ INFO("1", "\"root\"", GOOD_NAME, "\"2026-11-27T09:05:13Z\"", "\"timeline\"", "\"\"",
		       "false", "null", GOOD_SENT), "its created time is not the one in its name" },
		{ INFO("1", "\"root\"", "\"root.20261127T090513Z\"", GOOD_CREATED, "\"timeline\"",
		       "\"\"", "false", "null", GOOD_SENT), "it names another snapshot" },
		{ "{ \"format\": 1, }", "it is not a JSON object" },
		{ "{ \"format\": 1 }", "a required member is missing" },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct snapshot s = { 0 };
		const char *why = NULL;

		assert_int_equal(meta_parse_info_why("root", "root.20261127T090512Z", cases[i].text,
						     &s, &why), -EINVAL);
		assert_string_equal(why, cases[i].why);
	}
}

/* sent_to: at most META_SENT_MAX records, found duplicate or not in O(n log n). */
static void meta_parse_many_sent(void **state)
{
	for (size_t n = META_SENT_MAX; n <= META_SENT_MAX + 1; n++) {
		size_t cap = 4096 + n * 48, len;
		_cleanup_free_ char *text = malloc(cap);
		struct snapshot s = { 0 };
		int r;

		(void) state;
		assert_non_null(text);
		len = (size_t)snprintf(text, cap, "{ \"format\": 1, \"volume\": \"root\", \"name\": "
				       GOOD_NAME ", \"created\": " GOOD_CREATED ", \"kind\": \"timeline\","
				       " \"description\": \"\", \"pinned\": false, \"sent_to\": {");
		for (size_t i = 0; i < n; i++)
			len += (size_t)snprintf(text + len, cap - len,
						"%s \"t%zu\": \"2026-11-27T09:06:40Z\"", i ? "," : "", i);
		snprintf(text + len, cap - len, " } }");
		r = meta_parse_info("root", "root.20261127T090512Z", text, &s);
		if (n <= META_SENT_MAX) {
			assert_int_equal(r, 0);
			assert_int_equal(s.n_sent, n);
			assert_string_equal(s.sent[n - 1].target, "t1023");
		} else {
			assert_int_equal(r, -EINVAL);
		}
		snapshot_done(&s);
	}
}

static void meta_parse_truncated(void **state)
{
	_cleanup_free_ char *text = NULL;
	struct snapshot in = { .kind = SNAP_POST, .created = T0, .seq = 1 };
	size_t len;

	(void) state;
	in.name = strdup("root.20261127T090512Z");
	in.description = strdup("x");
	in.pre = strdup("root.20261127T090500Z");
	assert_int_equal(snapshot_sent_set(&in, "nas", T0 + 60), 0);
	text = meta_format_info(&in, "root");
	assert_non_null(text);
	snapshot_done(&in);

	/* Every proper prefix that cuts into the object fails cleanly. */
	len = strlen(text);
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
		len--;
	for (size_t cut = 0; cut < len; cut++) {
		struct snapshot s = { 0 };
		char *part = strndup(text, cut);

		assert_non_null(part);
		if (meta_parse_info("root", "root.20261127T090512Z", part, &s) != -EINVAL)
			fail_msg("a prefix of %zu bytes parsed", cut);
		assert_null(s.name);
		free(part);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(resolve_table),
		cmocka_unit_test(resolve_dotted_volume),
		cmocka_unit_test(resolve_latest_none),
		cmocka_unit_test(list_sort_order),
		cmocka_unit_test(list_sort_ties_by_name),
		cmocka_unit_test(list_append_grows),
		cmocka_unit_test(sent_set_remove),
		cmocka_unit_test(kind_round_trip),
		cmocka_unit_test(free_name_table),
		cmocka_unit_test(meta_round_trip),
		cmocka_unit_test(meta_defaults),
		cmocka_unit_test(meta_parse_good),
		cmocka_unit_test(meta_parse_reject_table),
		cmocka_unit_test(meta_parse_truncated),
		cmocka_unit_test(meta_parse_why),
		cmocka_unit_test(meta_parse_many_sent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
