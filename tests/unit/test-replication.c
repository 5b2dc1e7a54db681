/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-replication.c: the replication decisions (policy/replication.h):
 * what a target gets, on top of which copy, and how long block chains grow.
 * Snapshots are written "KIND@HOUR[:UUID][!FLAGS]" relative to a day, in UTC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/util.h"
#include "model/stamp.h"
#include "policy/replication.h"

/* The tables below leave trailing fields zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define DAY0	((time_t)1795737600)	/* 2026-11-27T00:00:00Z */
#define H	3600

/* "t@5" timeline at hour 5 (uuid "u5"); "m@5" manual; "!p" pinned; "!i" incomplete;
 * "!f" foreign; "~u3" a copy's base (block delta) is the snapshot of uuid u3. */
static void add(struct snapshot_list *l, const char *spec)
{
	struct snapshot s = { .complete = true, .seq = 1 };
	char kind = spec[0], name[SNAP_NAME_MAX + 1], uuid[16];
	long hour = strtol(spec + 2, NULL, 10);
	const char *base = strchr(spec, '~');

	s.kind = kind == 't' ? SNAP_TIMELINE : kind == 'p' ? SNAP_PRE : SNAP_MANUAL;
	s.created = DAY0 + hour * H;
	s.pinned = strstr(spec, "!p") != NULL;
	s.complete = strstr(spec, "!i") == NULL;
	s.foreign = strstr(spec, "!f") != NULL;
	assert_int_equal(snap_name_format("v", s.created, 1, name, sizeof(name)), 0);
	snprintf(uuid, sizeof(uuid), "u%ld", hour);
	s.name = strdup(name);
	s.uuid = strdup(uuid);
	s.description = strdup("");
	if (base) {
		char bname[SNAP_NAME_MAX + 1];

		assert_int_equal(snap_name_format("v", DAY0 + strtol(base + 2, NULL, 10) * H, 1,
						  bname, sizeof(bname)), 0);
		s.base = strdup(bname);
		s.image = strdup("delta");
	}
	assert_int_equal(snapshot_list_append(l, &s), 0);
}

static void build(struct snapshot_list *l, const char *const *specs)
{
	for (size_t i = 0; specs[i]; i++)
		add(l, specs[i]);
}

struct choose_case {
	const char *what;
	struct policy policy;
	const char *src[16];
	const char *copies[16];
	long now_hour;
	const char *want;		/* one 'x' (sent) or '.' per source snapshot */
	bool no_pins;			/* send_pinned = no */
};

static const struct choose_case choose_cases[] = {
	{ "an empty target gets what its retention keeps, the newest always",
	  { .count = { [RETAIN_DAILY] = 2 } },
	  { "t@1", "t@5", "t@25", "t@29", "t@49", "t@53" }, { NULL }, 60, "..x.xx" },
	{ "only what is newer than the target's newest copy",
	  { .count = { [RETAIN_HOURLY] = 24 } },
	  { "t@1", "t@2", "t@3", "t@4" }, { "t@2" }, 5, "..xx" },
	{ "never what it holds already, nor an incomplete or foreign entry",
	  { .count = { [RETAIN_HOURLY] = 24 } },
	  { "t@1", "t@2!i", "t@3!f", "t@4" }, { "t@1" }, 5, "...x" },
	{ "a source pin does not bind a target that takes no pins",
	  { .count = { [RETAIN_DAILY] = 1 } },
	  { "m@1!p", "t@2", "t@3" }, { NULL }, 5, ".xx", true },
	{ "a target that takes pins gets the pinned one too",
	  { .count = { [RETAIN_DAILY] = 1 } },
	  { "m@1!p", "t@2", "t@3" }, { NULL }, 5, "xxx" },
	{ "a pin older than the target's newest copy is sent",
	  { .count = { [RETAIN_DAILY] = 1 } },
	  { "t@1", "m@2!p", "t@3" }, { "t@3" }, 5, ".x." },
	{ "but not to a target that takes no pins",
	  { .count = { [RETAIN_DAILY] = 1 } },
	  { "t@1", "m@2!p", "t@3" }, { "t@3" }, 5, "...", true },
	{ "a pinned copy already there is not sent again",
	  { .count = { [RETAIN_DAILY] = 1 } },
	  { "m@2!p", "t@3" }, { "m@2", "t@3" }, 5, ".." },
	{ "nothing newer: nothing to send",
	  { .count = { [RETAIN_DAILY] = 7 } },
	  { "t@1", "t@2" }, { "t@1", "t@2" }, 5, ".." },
	{ "retention with nothing kept but the newest",
	  { .count = { 0 } },
	  { "t@1", "t@2", "t@3" }, { NULL }, 5, "..x" },
};

static void choose_table(void **state)
{
	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(choose_cases); i++) {
		const struct choose_case *c = &choose_cases[i];
		struct snapshot_list src = { 0 }, copies = { 0 };
		bool want[16];
		char got[17] = "";

		build(&src, c->src);
		build(&copies, c->copies);
		replication_mirror_pins(&src, &copies, !c->no_pins);
		assert_int_equal(replication_choose(&c->policy, &src, &copies, !c->no_pins,
						    DAY0 + c->now_hour * H, want), 0);
		for (size_t k = 0; k < src.n; k++)
			got[k] = want[k] ? 'x' : '.';
		if (strcmp(got, c->want) != 0)
			fail_msg("%s: sent '%s', expected '%s'", c->what, got, c->want);
		snapshot_list_clear(&src);
		snapshot_list_clear(&copies);
	}
}

struct parent_case {
	const char *what;
	const char *src[8];
	const char *copies[8];
	long of;		/* the hour of the snapshot to send */
	unsigned chain_max;
	long parent;		/* its hour, -1: a full stream */
};

static const struct parent_case parent_cases[] = {
	{ "the newest older copy", { "t@1", "t@2", "t@3", "t@4" }, { "t@1", "t@2" }, 4, 0, 2 },
	{ "not a newer one, when an older one is there", { "t@1", "t@2", "t@3" },
	  { "t@1", "t@3" }, 2, 0, 1 },
	{ "else the newest copy at all", { "t@1", "t@2", "t@3" }, { "t@2", "t@3" }, 1, 0, 3 },
	{ "nothing held: a full stream", { "t@1", "t@2" }, { NULL }, 2, 0, -1 },
	{ "an incomplete source is no parent", { "t@1", "t@2!i", "t@3" }, { "t@1", "t@2" }, 3, 0,
	  1 },
	{ "a short chain goes on", { "t@1", "t@2", "t@3" }, { "t@1", "t@2~u1" }, 3, 3, 2 },
	{ "a long chain ends: a full image", { "t@1", "t@2", "t@3", "t@4" },
	  { "t@1", "t@2~u1", "t@3~u2" }, 4, 2, -1 },
	{ "chain_max 0: no limit", { "t@1", "t@2", "t@3", "t@4" },
	  { "t@1", "t@2~u1", "t@3~u2" }, 4, 0, 3 },
};

static void parent_table(void **state)
{
	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(parent_cases); i++) {
		const struct parent_case *c = &parent_cases[i];
		struct snapshot_list src = { 0 }, copies = { 0 };
		const struct snapshot *s = NULL, *p;

		build(&src, c->src);
		build(&copies, c->copies);
		for (size_t k = 0; k < src.n; k++)
			if (src.items[k].created == DAY0 + c->of * H)
				s = &src.items[k];
		assert_non_null(s);
		p = replication_parent(&src, &copies, s, c->chain_max);
		if (c->parent < 0 && p)
			fail_msg("%s: parent %s, expected none", c->what, p->name);
		if (c->parent >= 0 && (!p || p->created != DAY0 + c->parent * H))
			fail_msg("%s: parent %s, expected the one at hour %ld", c->what,
				 p ? p->name : "none", c->parent);
		snapshot_list_clear(&src);
		snapshot_list_clear(&copies);
	}
}

static void chain_depth(void **state)
{
	static const char *const chain[] = { "t@1", "t@2~u1", "t@3~u2", "t@4~u3", NULL };
	static const char *const broken[] = { "t@2~u1", "t@3~u2", NULL };
	static const char *const circle[] = { "t@1~u2", "t@2~u1", NULL };
	struct snapshot_list l = { 0 };
	struct snapshot probe = { 0 };

	(void) state;
	build(&l, chain);
	for (unsigned k = 0; k < 4; k++) {
		char uuid[8];

		snprintf(uuid, sizeof(uuid), "u%u", k + 1);
		probe.uuid = uuid;
		assert_int_equal(replication_chain_depth(&l, &probe), k);
	}
	probe.uuid = (char *)"u9";
	assert_int_equal(replication_chain_depth(&l, &probe), 0);
	snapshot_list_clear(&l);

	build(&l, broken);
	probe.uuid = (char *)"u3";
	assert_int_equal(replication_chain_depth(&l, &probe), 2);
	snapshot_list_clear(&l);

	/* A circle (damaged metadata) ends, bounded by the number of copies. */
	build(&l, circle);
	probe.uuid = (char *)"u1";
	assert_true(replication_chain_depth(&l, &probe) <= 3);
	snapshot_list_clear(&l);
}

/* A copy is pinned exactly while its source is, and only on a target that takes pins. */
static void mirror_pins(void **state)
{
	static const char *const src_specs[] = { "m@1!p", "t@2", NULL };
	static const char *const copy_specs[] = { "m@1!p", "t@2!p", "t@7!p", NULL };
	struct snapshot_list src = { 0 }, copies = { 0 };

	(void) state;
	build(&src, src_specs);
	build(&copies, copy_specs);
	replication_mirror_pins(&src, &copies, true);
	assert_true(copies.items[0].pinned);
	assert_false(copies.items[1].pinned);
	assert_false(copies.items[2].pinned);	/* its source is gone */
	replication_mirror_pins(&src, &copies, false);
	assert_false(copies.items[0].pinned);
	snapshot_list_clear(&src);
	snapshot_list_clear(&copies);
}

static void held_and_source(void **state)
{
	static const char *const src_specs[] = { "t@1", "t@2", NULL };
	static const char *const copy_specs[] = { "t@2", NULL };
	struct snapshot_list src = { 0 }, copies = { 0 };
	struct snapshot nouuid = { 0 };

	(void) state;
	build(&src, src_specs);
	build(&copies, copy_specs);
	assert_false(replication_held(&copies, &src.items[0]));
	assert_true(replication_held(&copies, &src.items[1]));
	assert_false(replication_held(&copies, &nouuid));
	assert_ptr_equal(replication_source_of(&src, &copies.items[0]), &src.items[1]);
	assert_null(replication_source_of(&src, &nouuid));
	snapshot_list_clear(&src);
	snapshot_list_clear(&copies);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(choose_table),
		cmocka_unit_test(parent_table),
		cmocka_unit_test(mirror_pins),
		cmocka_unit_test(chain_depth),
		cmocka_unit_test(held_and_source),
	};

	setenv("TZ", "UTC", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
