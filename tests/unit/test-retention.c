/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for src/policy/retention.c: retention_plan() and due_timeline().
 *
 * Most cases are rows of one table (policy, now, snapshots with the expected
 * decision and reasons); each row is run in the given order and in two other
 * orders, which must not change a single decision. Date edge cases (ISO weeks at
 * the year boundary, the leap day, both DST changes in Europe/Vienna, identical
 * timestamps) are rows too; what needs loops (a 23- and a 25-hour day, a machine
 * that was off for a week, 10,000 snapshots, timers) is a function of its own.
 */

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
#include "policy/retention.h"


#define DAY	(24 * 3600)

/*
 * T() - "2026-11-27 09:00[:SS]" in local time (TZ), or the same with a 'Z' at
 * the end (or "2026-11-27T09:00Z") in UTC. Ambiguous local times are avoided
 * by the tests: around a DST change they use UTC.
 */
static time_t T(const char *s)
{
	struct tm tm = { .tm_isdst = -1 };
	int sec = 0, len = 0;
	time_t t;

	if (sscanf(s, "%d-%d-%d%*1[ T]%d:%d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &len) != 5)
		fail_msg("bad time '%s'", s);
	if (s[len] == ':') {
		int more = 0;

		if (sscanf(s + len, ":%d%n", &sec, &more) != 1)
			fail_msg("bad time '%s'", s);
		len += more;
	}
	tm.tm_sec = sec;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if (streq(s + len, "Z")) {
		t = timegm(&tm);
	} else {
		if (s[len] != '\0')
			fail_msg("bad time '%s'", s);
		t = mktime(&tm);
	}
	if (t == (time_t)-1)
		fail_msg("bad time '%s'", s);
	return t;
}

static void tz_set(const char *tz)
{
	assert_int_equal(setenv("TZ", tz, 1), 0);
	tzset();
}

/* ---- the table ---- */

#define F_PIN		(1U << 0)
#define F_INCOMPLETE	(1U << 1)
#define F_FOREIGN	(1U << 2)
#define F_INVALID	(1U << 3)	/* LVM: overflowed, so also incomplete */
#define F_MERGING	(1U << 4)	/* LVM: being merged into the origin */
#define F_DAMAGED	(1U << 5)	/* ours, in a state no crash leaves: kept */

struct tsnap {
	const char *when;	/* T() format */
	enum snap_kind kind;
	unsigned flags;
	const char *name;	/* NULL: "v.YYYYMMDDTHHMMSSZ[_SEQ]" */
	unsigned seq;		/* 0 is 1 */
	const char *pre;
	const char *sent;	/* "nas,usb" */
	/* "-": deleted without a reason, "-incomplete", else "reason|reason" (kept) */
	const char *expect;
};

#define TL(w, e)	{ .when = (w), .kind = SNAP_TIMELINE, .expect = (e) }
#define MAXSNAPS	16

struct rcase {
	const char *name;
	struct policy policy;
	const char *now;
	struct tsnap s[MAXSNAPS];
};

#define LONG_TARGET	"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd"

static const struct rcase rcases[] = {
	{
		/* the STYLE.md example, with an empty day in between */
		.name = "daily keeps the oldest of each non-empty day",
		.policy = { .count = { [RETAIN_DAILY] = 2 } },
		.now = "2026-11-28 00:00",
		.s = {
			TL("2026-11-25 01:00", "daily 2026-11-25"),
			TL("2026-11-27 01:00", "daily 2026-11-27"),
			TL("2026-11-27 13:00", "newest"),
			TL("2026-11-24 01:00", "-"),
		},
	}, {
		/* every timeline reason text; the fifth (yearly) is cut by REASON_MAX */
		.name = "timeline reason texts, finest first",
		.policy = { .count = { 2, 2, 1, 1, 1 } },
		.now = "2026-11-27 10:00",
		.s = {
			TL("2026-11-26 09:00", "hourly 2026-11-26 09:00|daily 2026-11-26|"
					       "weekly 2026-W48|monthly 2026-11"),
			TL("2026-11-27 09:30", "newest|hourly 2026-11-27 09:00|daily 2026-11-27"),
		},
	}, {
		.name = "yearly reason text",
		.policy = { .count = { [RETAIN_YEARLY] = 2 } },
		.now = "2026-07-01 00:00",
		.s = {
			TL("2024-06-01 12:00", "-"),
			TL("2025-06-01 12:00", "yearly 2025"),
			TL("2026-03-01 12:00", "yearly 2026"),
			TL("2026-06-01 12:00", "newest"),
		},
	}, {
		/* 2026-12-28 .. 2027-01-03 is 2026-W53; 2027-01-04 starts 2027-W01 */
		.name = "ISO week across the year boundary",
		.policy = { .count = { [RETAIN_WEEKLY] = 3, [RETAIN_YEARLY] = 2 } },
		.now = "2027-01-04 13:00",
		.s = {
			TL("2026-12-27 12:00", "weekly 2026-W52|yearly 2026"),
			TL("2026-12-28 12:00", "weekly 2026-W53"),
			TL("2026-12-31 12:00", "-"),
			TL("2027-01-01 12:00", "yearly 2027"),
			TL("2027-01-03 12:00", "-"),
			TL("2027-01-04 12:00", "newest|weekly 2027-W01"),
		},
	}, {
		.name = "2026-12-31 and 2027-01-01 share 2026-W53",
		.policy = { .count = { [RETAIN_WEEKLY] = 1 } },
		.now = "2027-01-02 00:00",
		.s = {
			TL("2026-12-31 23:00", "weekly 2026-W53"),
			TL("2027-01-01 01:00", "newest"),
		},
	}, {
		.name = "leap day 2028-02-29",
		.policy = { .count = { [RETAIN_DAILY] = 3, [RETAIN_WEEKLY] = 2,
				       [RETAIN_MONTHLY] = 2 } },
		.now = "2028-03-01 12:00",
		.s = {
			TL("2028-02-27 10:00", "weekly 2028-W08|monthly 2028-02"),
			TL("2028-02-28 10:00", "daily 2028-02-28|weekly 2028-W09"),
			TL("2028-02-29 10:00", "daily 2028-02-29"),
			TL("2028-02-29 20:00", "-"),
			TL("2028-03-01 10:00", "daily 2028-03-01|monthly 2028-03"),
			TL("2028-03-01 11:00", "newest"),
		},
	}, {
		/*
		 * Vienna, 2026-10-25: 03:00 CEST becomes 02:00 CET. 00:00Z-00:59Z and
		 * 01:00Z-01:59Z are both local 02:xx, one bucket; its oldest is kept,
		 * and a later snapshot of the repeated hour is not a bucket of its own.
		 */
		.name = "DST fall-back: the repeated 02:00 hour is one bucket",
		.policy = { .count = { [RETAIN_HOURLY] = 3 } },
		.now = "2026-10-25 02:10Z",
		.s = {
			TL("2026-10-24 22:30Z", "-"),
			TL("2026-10-24 23:30Z", "hourly 2026-10-25 01:00"),
			TL("2026-10-25 00:00Z", "hourly 2026-10-25 02:00"),
			TL("2026-10-25 00:30Z", "-"),
			TL("2026-10-25 01:00Z", "-"),
			TL("2026-10-25 01:30Z", "-"),
			TL("2026-10-25 02:00Z", "newest|hourly 2026-10-25 03:00"),
		},
	}, {
		/* Vienna, 2026-03-29: 02:00 CET becomes 03:00 CEST; there is no 02:00 bucket */
		.name = "DST spring-forward: no 02:00 hour",
		.policy = { .count = { [RETAIN_HOURLY] = 3 } },
		.now = "2026-03-29 02:05Z",
		.s = {
			TL("2026-03-28 23:59Z", "-"),
			TL("2026-03-29 00:30Z", "hourly 2026-03-29 01:00"),
			TL("2026-03-29 01:00Z", "hourly 2026-03-29 03:00"),
			TL("2026-03-29 01:30Z", "-"),
			TL("2026-03-29 02:00Z", "newest|hourly 2026-03-29 04:00"),
		},
	}, {
		/* the oldest of a bucket is the smallest (created, seq, name) */
		.name = "identical timestamps: seq decides",
		.policy = { .count = { [RETAIN_HOURLY] = 1 } },
		.now = "2026-11-27 10:00",
		.s = {
			{ .when = "2026-11-27 09:00", .kind = SNAP_TIMELINE, .seq = 3,
			  .expect = "newest" },
			{ .when = "2026-11-27 09:00", .kind = SNAP_TIMELINE, .seq = 1,
			  .expect = "hourly 2026-11-27 09:00" },
			{ .when = "2026-11-27 09:00", .kind = SNAP_TIMELINE, .seq = 2,
			  .expect = "-" },
		},
	}, {
		.name = "identical timestamps and seq: the name decides",
		.policy = { .count = { [RETAIN_HOURLY] = 1 } },
		.now = "2026-11-27 10:00",
		.s = {
			{ .when = "2026-11-27 09:00", .kind = SNAP_TIMELINE, .name = "v.b",
			  .expect = "newest" },
			{ .when = "2026-11-27 09:00", .kind = SNAP_TIMELINE, .name = "v.a",
			  .expect = "hourly 2026-11-27 09:00" },
		},
	}, {
		.name = "newest is kept with every count zero, whatever its kind",
		.policy = { .min_age = 0 },
		.now = "2026-11-27 12:00",
		.s = {
			TL("2026-11-27 09:00", "-"),
			{ .when = "2026-11-27 10:00", .kind = SNAP_MANUAL, .expect = "-" },
			{ .when = "2026-11-27 11:00", .kind = SNAP_BOOT, .expect = "newest" },
			{ .when = "2026-11-27 11:30", .kind = SNAP_TIMELINE,
			  .flags = F_INCOMPLETE, .expect = "-incomplete" },
		},
	}, {
		.name = "an empty list is an empty plan",
		.policy = { .count = { [RETAIN_DAILY] = 7 } },
		.now = "2026-11-27 12:00",
	}, {
		.name = "foreign is never deleted and never the newest",
		.policy = { .min_age = 0 },
		.now = "2026-11-27 12:00",
		.s = {
			{ .when = "1970-01-01 00:00Z", .flags = F_FOREIGN, .name = "backup-old",
			  .expect = "foreign" },
			{ .when = "2027-01-01 00:00Z", .flags = F_FOREIGN | F_PIN,
			  .name = "zzz", .expect = "foreign" },
			TL("2026-11-27 08:00", "-"),
			TL("2026-11-27 09:00", "newest"),
		},
	}, {
		.name = "incomplete is deleted, even pinned or newest",
		.policy = { .count = { [RETAIN_HOURLY] = 24 }, .manual = RETAIN_ALL },
		.now = "2026-11-27 12:00",
		.s = {
			TL("2026-11-27 08:00", "hourly 2026-11-27 08:00"),
			TL("2026-11-27 09:00", "newest|hourly 2026-11-27 09:00"),
			{ .when = "2026-11-27 10:00", .kind = SNAP_TIMELINE,
			  .flags = F_INCOMPLETE | F_PIN, .expect = "-incomplete" },
			{ .when = "2026-11-27 11:00", .flags = F_INCOMPLETE,
			  .expect = "-incomplete" },
		},
	}, {
		.name = "damaged is kept, and is neither the newest nor a bucket's",
		.policy = { .count = { [RETAIN_HOURLY] = 1 } },
		.now = "2026-11-27 12:00",
		.s = {
			{ .when = "2026-11-27 07:00", .kind = SNAP_TIMELINE, .flags = F_DAMAGED,
			  .expect = "damaged" },
			TL("2026-11-27 08:00", "-"),
			TL("2026-11-27 09:00", "newest|hourly 2026-11-27 09:00"),
			{ .when = "2026-11-27 09:30", .kind = SNAP_TIMELINE, .flags = F_DAMAGED,
			  .expect = "damaged" },
		},
	}, {
		.name = "an overflowed LVM snapshot is deleted, even pinned or newest",
		.policy = { .count = { [RETAIN_HOURLY] = 24 } },
		.now = "2026-11-27 12:00",
		.s = {
			TL("2026-11-27 08:00", "newest|hourly 2026-11-27 08:00"),
			{ .when = "2026-11-27 09:00", .kind = SNAP_TIMELINE,
			  .flags = F_INVALID | F_PIN, .expect = "-invalid (overflowed)" },
			{ .when = "2026-11-27 10:00", .kind = SNAP_TIMELINE, .flags = F_INVALID,
			  .expect = "-invalid (overflowed)" },
		},
	}, {
		/* LVM refuses to remove it, and it is the state the admin asked for */
		.name = "a snapshot being merged is kept, whatever its age",
		.policy = { .count = { [RETAIN_DAILY] = 1 } },
		.now = "2026-11-27 12:00",
		.s = {
			{ .when = "2026-01-01 00:00", .kind = SNAP_MANUAL, .flags = F_MERGING,
			  .expect = "merging (rollback)" },
			{ .when = "2026-03-01 00:00", .kind = SNAP_TIMELINE, .flags = F_MERGING | F_PIN,
			  .expect = "pinned|merging (rollback)" },
			TL("2026-11-26 09:00", "-"),
			TL("2026-11-27 09:00", "newest|daily 2026-11-27"),
		},
	}, {
		/* created > now - min_age, strictly; any kind, complete only */
		.name = "retain_min",
		.policy = { .min_age = DAY },
		.now = "2026-11-27 12:00",
		.s = {
			TL("2026-11-26 11:00", "-"),
			TL("2026-11-26 12:00", "-"),
			TL("2026-11-26 12:01", "retain_min"),
			{ .when = "2026-11-27 10:00", .kind = SNAP_MANUAL, .expect = "retain_min" },
			{ .when = "2026-11-27 10:30", .kind = SNAP_TIMELINE,
			  .flags = F_INCOMPLETE, .expect = "-incomplete" },
			TL("2026-11-27 11:00", "newest|retain_min"),
		},
	}, {
		.name = "retain_min larger than the epoch does not overflow",
		.policy = { .min_age = INT64_MAX },
		.now = "2026-11-27 12:00",
		.s = {
			TL("1971-01-01 00:00Z", "retain_min"),
			TL("2026-11-27 11:00", "newest|retain_min"),
		},
	}, {
		.name = "pinned",
		.policy = { .count = { [RETAIN_DAILY] = 1 } },
		.now = "2026-11-27 12:00",
		.s = {
			{ .when = "2020-01-01 00:00", .kind = SNAP_TIMELINE, .flags = F_PIN,
			  .expect = "pinned" },
			{ .when = "2026-11-27 09:00", .kind = SNAP_TIMELINE, .flags = F_PIN,
			  .expect = "pinned|daily 2026-11-27" },
			{ .when = "2026-11-27 10:00", .kind = SNAP_MANUAL, .flags = F_PIN,
			  .expect = "pinned|newest" },
		},
	}, {
		/* pinning a pre keeps it alone; a post whose pre is not kept goes */
		.name = "pre/post=1 with a pinned pre",
		.policy = { .pre_post = 1 },
		.now = "2026-11-27 13:00",
		.s = {
			{ .when = "2026-11-27 10:00", .kind = SNAP_PRE, .flags = F_PIN,
			  .name = "v.pre1", .expect = "pinned" },
			{ .when = "2026-11-27 10:05", .kind = SNAP_POST, .name = "v.post1",
			  .pre = "v.pre1", .expect = "-" },
			{ .when = "2026-11-27 11:00", .kind = SNAP_PRE, .name = "v.pre2",
			  .expect = "pre/post" },
			{ .when = "2026-11-27 11:05", .kind = SNAP_POST, .name = "v.post2",
			  .pre = "v.pre2", .expect = "pre/post" },
			{ .when = "2026-11-27 11:30", .kind = SNAP_POST, .name = "v.post3",
			  .pre = "v.gone", .expect = "-" },
			{ .when = "2026-11-27 11:40", .kind = SNAP_POST, .name = "v.post4",
			  .expect = "-" },
			TL("2026-11-27 12:00", "newest"),
		},
	}, {
		.name = "pre/post=2: pinned pres count, pinned posts stay alone",
		.policy = { .pre_post = 2 },
		.now = "2026-11-27 13:00",
		.s = {
			{ .when = "2026-11-27 09:00", .kind = SNAP_PRE, .name = "v.p1",
			  .expect = "-" },
			{ .when = "2026-11-27 09:05", .kind = SNAP_POST, .name = "v.q1",
			  .pre = "v.p1", .flags = F_PIN, .expect = "pinned" },
			{ .when = "2026-11-27 10:00", .kind = SNAP_PRE, .name = "v.p2",
			  .expect = "pre/post" },
			{ .when = "2026-11-27 10:05", .kind = SNAP_POST, .name = "v.q2",
			  .pre = "v.p2", .expect = "pre/post" },
			{ .when = "2026-11-27 11:00", .kind = SNAP_PRE, .name = "v.p3",
			  .flags = F_PIN, .expect = "pinned|pre/post" },
			{ .when = "2026-11-27 11:05", .kind = SNAP_POST, .name = "v.q3",
			  .pre = "v.p3", .expect = "newest|pre/post" },
			/* an incomplete pre is not one of the N newest */
			{ .when = "2026-11-27 11:10", .kind = SNAP_PRE, .name = "v.p4",
			  .flags = F_INCOMPLETE, .expect = "-incomplete" },
		},
	}, {
		.name = "manual=2 counts manual and boot together",
		.policy = { .manual = 2 },
		.now = "2026-11-27 14:00",
		.s = {
			{ .when = "2026-11-27 09:00", .kind = SNAP_MANUAL, .expect = "-" },
			{ .when = "2026-11-27 10:00", .kind = SNAP_BOOT, .expect = "manual" },
			{ .when = "2026-11-27 11:00", .kind = SNAP_MANUAL, .expect = "manual" },
			TL("2026-11-27 12:00", "newest"),
			{ .when = "2026-11-27 13:00", .kind = SNAP_MANUAL, .flags = F_INCOMPLETE,
			  .expect = "-incomplete" },
			{ .when = "2026-11-27 08:00", .kind = SNAP_PRE, .expect = "-" },
		},
	}, {
		.name = "manual=all",
		.policy = { .manual = RETAIN_ALL },
		.now = "2026-11-27 14:00",
		.s = {
			TL("2026-11-27 08:00", "-"),
			{ .when = "2026-11-27 09:00", .kind = SNAP_MANUAL, .expect = "manual" },
			{ .when = "2026-11-27 10:00", .kind = SNAP_BOOT, .expect = "manual" },
			{ .when = "2026-11-27 11:00", .kind = SNAP_MANUAL,
			  .expect = "newest|manual" },
		},
	}, {
		.name = "base for target: the newest snapshot each target holds",
		.policy = { .keep_target_base = true },
		.now = "2026-11-27 14:00",
		.s = {
			{ .when = "2026-11-27 08:00", .kind = SNAP_TIMELINE, .sent = "usb",
			  .expect = "-" },
			{ .when = "2026-11-27 09:00", .kind = SNAP_TIMELINE, .sent = "nas,usb",
			  .expect = "base for target usb" },
			{ .when = "2026-11-27 10:00", .kind = SNAP_TIMELINE, .sent = "nas",
			  .expect = "base for target nas" },
			TL("2026-11-27 11:00", "-"),
			TL("2026-11-27 12:00", "newest"),
		},
	}, {
		.name = "base for target: several targets on one snapshot, by name",
		.policy = { .keep_target_base = true },
		.now = "2026-11-27 14:00",
		.s = {
			{ .when = "2026-11-27 09:00", .kind = SNAP_TIMELINE, .sent = "usb,nas",
			  .expect = "newest|base for target nas|base for target usb" },
		},
	}, {
		.name = "base for target: off",
		.policy = { .keep_target_base = false },
		.now = "2026-11-27 14:00",
		.s = {
			{ .when = "2026-11-27 09:00", .kind = SNAP_TIMELINE, .sent = "nas",
			  .expect = "-" },
			TL("2026-11-27 12:00", "newest"),
		},
	}, {
		.name = "base for target: a long target name is cut to the reason buffer",
		.policy = { .keep_target_base = true },
		.now = "2026-11-27 14:00",
		.s = {
			{ .when = "2026-11-27 09:00", .kind = SNAP_TIMELINE, .sent = LONG_TARGET,
			  .expect = "base for target abcdefghijabcdefghijabcdefghija" },
			TL("2026-11-27 12:00", "newest"),
		},
	}, {
		/* reason order: pinned, newest, base for target, retain_min, pre/post, ... */
		.name = "at most REASON_MAX reasons, in the documented order",
		.policy = { .keep_target_base = true, .min_age = 3600, .pre_post = 1,
			    .manual = RETAIN_ALL },
		.now = "2026-11-27 12:00",
		.s = {
			{ .when = "2026-11-27 11:30", .kind = SNAP_PRE, .flags = F_PIN,
			  .name = "v.p", .sent = "nas",
			  .expect = "pinned|newest|base for target nas|retain_min" },
			{ .when = "2026-11-27 11:20", .kind = SNAP_MANUAL,
			  .expect = "retain_min|manual" },
		},
	}, {
		.name = "rules only look at their kind",
		.policy = { .count = { 24, 7, 4, 6, 1 } },
		.now = "2026-11-27 14:00",
		.s = {
			{ .when = "2026-11-27 09:00", .kind = SNAP_MANUAL, .expect = "-" },
			{ .when = "2026-11-27 09:30", .kind = SNAP_PRE, .expect = "-" },
			{ .when = "2026-11-27 09:35", .kind = SNAP_POST, .expect = "-" },
			{ .when = "2026-11-27 09:40", .kind = SNAP_BOOT, .expect = "-" },
			TL("2026-11-27 10:00", "hourly 2026-11-27 10:00|daily 2026-11-27|"
					       "weekly 2026-W48|monthly 2026-11"),
			{ .when = "2026-11-27 11:00", .kind = SNAP_MANUAL, .expect = "newest" },
		},
	},
};

struct built {
	size_t n;
	struct snapshot s[MAXSNAPS];
	char names[MAXSNAPS][64];
};

static void build(const struct rcase *c, struct built *b)
{
	memset(b, 0, sizeof(*b));
	for (size_t i = 0; i < MAXSNAPS && c->s[i].when; i++) {
		const struct tsnap *t = &c->s[i];
		struct snapshot *s = &b->s[i];
		char stamp[32];

		s->created = T(t->when);
		s->seq = t->seq ? t->seq : 1;
		s->kind = t->kind;
		s->pinned = t->flags & F_PIN;
		s->complete = !(t->flags & (F_INCOMPLETE | F_INVALID | F_DAMAGED));
		s->damaged = t->flags & F_DAMAGED;
		s->invalid = t->flags & F_INVALID;
		s->merging = t->flags & F_MERGING;
		s->foreign = t->flags & F_FOREIGN;
		s->pre = (char *)t->pre;
		if (t->name) {
			snprintf(b->names[i], sizeof(b->names[i]), "%s", t->name);
		} else {
			strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime(&s->created));
			if (s->seq > 1)
				snprintf(b->names[i], sizeof(b->names[i]), "v.%s_%u", stamp, s->seq);
			else
				snprintf(b->names[i], sizeof(b->names[i]), "v.%s", stamp);
		}
		s->name = b->names[i];
		if (t->sent) {
			_cleanup_free_ char *copy = strdup(t->sent);
			char *save = NULL;

			assert_non_null(copy);
			for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
				s->sent = realloc(s->sent, (s->n_sent + 1) * sizeof(*s->sent));
				assert_non_null(s->sent);
				s->sent[s->n_sent].target = strdup(w);
				assert_non_null(s->sent[s->n_sent].target);
				s->sent[s->n_sent++].when = s->created + 60;
			}
		}
		b->n++;
	}
}

static void built_done(struct built *b)
{
	for (size_t i = 0; i < b->n; i++) {
		for (size_t j = 0; j < b->s[i].n_sent; j++)
			free(b->s[i].sent[j].target);
		free(b->s[i].sent);
	}
}

static void decision_text(const struct decision *d, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	if (!d->keep)
		off += (size_t)snprintf(buf, len, "-");
	assert_true(d->n_reasons <= REASON_MAX);
	for (unsigned r = 0; r < d->n_reasons; r++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					r > 0 ? "|" : "", d->reasons[r]);
	assert_true(off < len);
}

/* Run @c with the snapshots in the order of @perm; check against the table. */
static void run_order(const struct rcase *c, const struct built *b, const size_t *perm)
{
	struct snapshot s[MAXSNAPS];
	_cleanup_(plan_freep) struct plan *p = NULL;
	size_t deleted = 0;

	for (size_t i = 0; i < b->n; i++)
		s[i] = b->s[perm[i]];
	assert_int_equal(retention_plan(s, b->n, &c->policy, T(c->now), &p), 0);
	assert_non_null(p);
	assert_int_equal(p->n, b->n);
	for (size_t i = 0; i < b->n; i++) {
		const struct decision *d = &p->d[i];
		const char *want = c->s[perm[i]].expect;
		char got[REASON_MAX * 50 + 2];

		decision_text(d, got, sizeof(got));
		if (!streq(got, want))
			fail_msg("%s: '%s' (%s): got '%s', want '%s'", c->name, s[i].name,
				 c->s[perm[i]].when, got, want);
		assert_int_equal(d->keep, want[0] != '-');
		deleted += !d->keep;
	}
	assert_int_equal(p->n_delete, deleted);
}

static void test_table_row(void **state)
{
	const struct rcase *c = *state;
	struct built b;
	size_t perm[MAXSNAPS];

	build(c, &b);
	/* as given, reversed, and rotated by one: the plan must not change */
	for (size_t i = 0; i < b.n; i++)
		perm[i] = i;
	run_order(c, &b, perm);
	for (size_t i = 0; i < b.n; i++)
		perm[i] = b.n - 1 - i;
	run_order(c, &b, perm);
	for (size_t i = 0; i < b.n; i++)
		perm[i] = (i + 1) % b.n;
	run_order(c, &b, perm);
	built_done(&b);
}

/* ---- loops ---- */

static struct snapshot tl_at(time_t t)
{
	return (struct snapshot) { .name = "v", .created = t, .seq = 1, .kind = SNAP_TIMELINE,
				   .complete = true };
}

static unsigned count_prefix(const struct plan *p, const char *prefix)
{
	unsigned n = 0;

	for (size_t i = 0; i < p->n; i++)
		for (unsigned r = 0; r < p->d[i].n_reasons; r++)
			n += startswith(p->d[i].reasons[r], prefix);
	return n;
}

static bool has_reason(const struct decision *d, const char *reason)
{
	for (unsigned r = 0; r < d->n_reasons; r++)
		if (streq(d->reasons[r], reason))
			return true;
	return false;
}

/* Weekly buckets and texts agree with strftime's %G-W%V for every day of 1995-2045. */
static void test_iso_week_matches_strftime(void **state)
{
	struct policy pol = { .count = { [RETAIN_WEEKLY] = 1 } };
	time_t t = T("1995-01-01 12:00");
	time_t end = T("2045-12-31 12:00");

	(void) state;
	for (; t <= end; t += DAY) {
		struct snapshot s = tl_at(t);
		_cleanup_(plan_freep) struct plan *p = NULL;
		char want[48], week[16], week_next[16];
		struct tm tm, tm_next;
		time_t next = t + DAY;

		localtime_r(&t, &tm);
		localtime_r(&next, &tm_next);
		strftime(week, sizeof(week), "%G-W%V", &tm);
		strftime(week_next, sizeof(week_next), "%G-W%V", &tm_next);
		snprintf(want, sizeof(want), "weekly %s", week);

		assert_int_equal(retention_plan(&s, 1, &pol, t, &p), 0);
		assert_int_equal(p->d[0].n_reasons, 2);
		assert_string_equal(p->d[0].reasons[1], want);
		assert_int_equal(retention_same_bucket(RETAIN_WEEKLY, t, next),
				 streq(week, week_next));
	}
}

static void test_same_bucket(void **state)
{
	(void) state;
	/* ISO week: Thursday 2026-12-31 and Friday 2027-01-01 */
	assert_true(retention_same_bucket(RETAIN_WEEKLY, T("2026-12-31 23:59"),
					  T("2027-01-01 00:00")));
	assert_false(retention_same_bucket(RETAIN_YEARLY, T("2026-12-31 23:59"),
					   T("2027-01-01 00:00")));
	assert_false(retention_same_bucket(RETAIN_WEEKLY, T("2027-01-03 23:59"),
					   T("2027-01-04 00:00")));
	/* leap day */
	assert_true(retention_same_bucket(RETAIN_DAILY, T("2028-02-29 00:00"),
					  T("2028-02-29 23:59")));
	assert_false(retention_same_bucket(RETAIN_DAILY, T("2028-02-28 23:59"),
					   T("2028-02-29 00:00")));
	assert_true(retention_same_bucket(RETAIN_MONTHLY, T("2028-02-01 00:00"),
					  T("2028-02-29 23:59")));
	/* 23-hour and 25-hour days are one day each */
	assert_true(retention_same_bucket(RETAIN_DAILY, T("2026-03-28 23:00Z"),
					  T("2026-03-29 21:59Z")));
	assert_true(retention_same_bucket(RETAIN_DAILY, T("2026-10-24 22:00Z"),
					  T("2026-10-25 22:59Z")));
	/* the repeated hour: 02:00 CEST and 02:59 CET */
	assert_true(retention_same_bucket(RETAIN_HOURLY, T("2026-10-25 00:00Z"),
					  T("2026-10-25 01:59Z")));
	assert_false(retention_same_bucket(RETAIN_HOURLY, T("2026-03-29 00:59Z"),
					   T("2026-03-29 01:00Z")));
	/* local, not UTC: 23:30 UTC on the 27th is already the 28th in Vienna */
	assert_true(retention_same_bucket(RETAIN_DAILY, T("2026-11-27 23:30Z"),
					  T("2026-11-28 12:00")));
}

/* Every half hour through the local day 2026-03-29 (23 hours): 23 hourly buckets. */
static void test_dst_spring_day(void **state)
{
	struct policy pol = { .count = { [RETAIN_HOURLY] = 100, [RETAIN_DAILY] = 5 } };
	time_t start = T("2026-03-29 00:00"), end = T("2026-03-30 00:00");
	struct snapshot s[64];
	_cleanup_(plan_freep) struct plan *p = NULL;
	size_t n = 0;

	(void) state;
	assert_int_equal(end - start, 23 * 3600);
	for (time_t t = start; t < end; t += 1800)
		s[n++] = tl_at(t);
	assert_int_equal(n, 46);
	assert_int_equal(retention_plan(s, n, &pol, end, &p), 0);
	assert_int_equal(count_prefix(p, "hourly 2026-03-29 "), 23);
	assert_int_equal(count_prefix(p, "hourly 2026-03-29 02:00"), 0);
	assert_int_equal(count_prefix(p, "daily "), 1);
	assert_true(has_reason(&p->d[0], "daily 2026-03-29"));
	assert_true(has_reason(&p->d[2], "hourly 2026-03-29 01:00"));
	assert_true(has_reason(&p->d[4], "hourly 2026-03-29 03:00"));
	/* 23 on the hour, plus the newest at 23:30 */
	assert_int_equal(n - p->n_delete, 24);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(p->d[i].keep, i % 2 == 0 || i == n - 1);
}

/* Every half hour through the local day 2026-10-25 (25 hours): 24 hourly buckets. */
static void test_dst_fall_day(void **state)
{
	struct policy pol = { .count = { [RETAIN_HOURLY] = 100, [RETAIN_DAILY] = 5 } };
	time_t start = T("2026-10-25 00:00"), end = T("2026-10-26 00:00");
	struct snapshot s[64];
	_cleanup_(plan_freep) struct plan *p = NULL;
	size_t n = 0;

	(void) state;
	assert_int_equal(end - start, 25 * 3600);
	for (time_t t = start; t < end; t += 1800)
		s[n++] = tl_at(t);
	assert_int_equal(n, 50);
	assert_int_equal(retention_plan(s, n, &pol, end, &p), 0);
	assert_int_equal(count_prefix(p, "hourly 2026-10-25 "), 24);
	assert_int_equal(count_prefix(p, "hourly 2026-10-25 02:00"), 1);
	assert_int_equal(count_prefix(p, "daily "), 1);
	/* s[4] is 02:00 CEST, s[6] 02:00 CET: the first of the repeated hour wins */
	assert_int_equal(s[4].created, T("2026-10-25 00:00Z"));
	assert_true(has_reason(&p->d[4], "hourly 2026-10-25 02:00"));
	assert_false(p->d[5].keep);
	assert_false(p->d[6].keep);
	assert_false(p->d[7].keep);
	assert_true(has_reason(&p->d[8], "hourly 2026-10-25 03:00"));
	/* 24 hours, plus the newest at 23:30 */
	assert_int_equal(n - p->n_delete, 25);
}

/* Daily at 10:00 for 1..10 June, off 11..17 June, on 18..20 June: daily=7 keeps 7. */
static void test_machine_off_for_a_week(void **state)
{
	struct policy pol = { .count = { [RETAIN_DAILY] = 7 } };
	static const int days[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 18, 19, 20 };
	struct snapshot s[ARRAY_SIZE(days)];
	_cleanup_(plan_freep) struct plan *p = NULL;

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(days); i++) {
		char when[32];

		snprintf(when, sizeof(when), "2026-06-%02d 10:00", days[i]);
		s[i] = tl_at(T(when));
	}
	assert_int_equal(retention_plan(s, ARRAY_SIZE(s), &pol, T("2026-06-20 12:00"), &p), 0);
	assert_int_equal(count_prefix(p, "daily "), 7);
	assert_int_equal(p->n_delete, 6);
	for (size_t i = 0; i < ARRAY_SIZE(days); i++)
		assert_int_equal(p->d[i].keep, days[i] >= 7);
	assert_true(has_reason(&p->d[6], "daily 2026-06-07"));
	assert_true(has_reason(&p->d[10], "daily 2026-06-18"));
}

/* 10,000 snapshots, shuffled, with every rule busy: fast and sane. */
static void test_ten_thousand(void **state)
{
	enum { N = 10000 };
	struct policy pol = { .count = { 24, 7, 4, 12, 10 }, .min_age = 3600, .pre_post = 3000,
			      .manual = 1000, .keep_target_base = true };
	_cleanup_free_ struct snapshot *s = calloc(N, sizeof(*s));
	_cleanup_free_ struct sent_record *sent = calloc(N, sizeof(*sent));
	_cleanup_free_ char *names = calloc(N, 16);
	_cleanup_(plan_freep) struct plan *p = NULL;
	time_t base = T("2026-01-01 00:00");
	unsigned seed = 1;
	clock_t c0;
	double secs;
	size_t kept = 0;

	(void) state;
	assert_non_null(s);
	assert_non_null(sent);
	assert_non_null(names);
	for (size_t i = 0; i < N; i++) {
		snprintf(names + 16 * i, 16, "v.%zu", i);
		s[i] = tl_at(base + (time_t)(i / 2) * 1800);	/* pairs share a time */
		s[i].name = names + 16 * i;
		s[i].seq = 1 + i % 2;
		switch (i % 5) {
		case 1:
			s[i].kind = SNAP_PRE;
			break;
		case 2:
			s[i].kind = SNAP_POST;
			s[i].pre = names + 16 * (i - 1);
			break;
		case 3:
			s[i].kind = SNAP_MANUAL;
			break;
		}
		/* every snapshot sent to a target of its own: 10,000 targets */
		sent[i].target = names + 16 * i;
		s[i].sent = &sent[i];
		s[i].n_sent = 1;
	}
	/* shuffle (deterministically) */
	for (size_t i = N - 1; i > 0; i--) {
		size_t j = (size_t)rand_r(&seed) % (i + 1);
		struct snapshot tmp = s[i];

		s[i] = s[j];
		s[j] = tmp;
	}
	c0 = clock();
	assert_int_equal(retention_plan(s, N, &pol, base + N * 900, &p), 0);
	secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
	assert_true(secs < 1.0);
	/* keep_target_base with a target per snapshot keeps them all */
	for (size_t i = 0; i < N; i++)
		kept += p->d[i].keep;
	assert_int_equal(kept, N);
	assert_int_equal(count_prefix(p, "base for target "), N);
	assert_int_equal(count_prefix(p, "newest"), 1);
	/* 2000 pres, all kept; each post with its pre */
	assert_int_equal(count_prefix(p, "pre/post"), 4000);
	assert_int_equal(count_prefix(p, "manual"), 1000);
	plan_free(TAKE_PTR(p));

	/* without the targets most go */
	pol.keep_target_base = false;
	pol.pre_post = 0;
	pol.manual = 0;
	c0 = clock();
	assert_int_equal(retention_plan(s, N, &pol, base + N * 900, &p), 0);
	secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
	assert_true(secs < 1.0);
	/*
	 * Timeline snapshots (i % 5 is 0 or 4, so every hour has some) from
	 * 2026-01-01 to mid-April: hourly 24 + daily 7 + weekly 4 + monthly 4 +
	 * yearly 1, overlapping, so at most 40; plus the newest and the two
	 * snapshots retain_min keeps (one of them the newest).
	 */
	assert_int_equal(count_prefix(p, "hourly "), 24);
	assert_int_equal(count_prefix(p, "daily "), 7);
	assert_int_equal(count_prefix(p, "weekly "), 4);
	assert_int_equal(count_prefix(p, "monthly "), 4);
	assert_int_equal(count_prefix(p, "yearly "), 1);
	assert_int_equal(count_prefix(p, "retain_min"), 2);
	assert_true(N - p->n_delete <= 42);
	assert_true(N - p->n_delete >= 24);
}

/* ---- due_timeline ---- */

struct dcase {
	const char *name;
	struct policy policy;
	int64_t interval;
	const char *last;	/* NULL: no timeline snapshot yet */
	const char *now;
	bool due;
};

/* policies for the due table */
#define P_NONE		{ .min_age = 0 }
#define P_HOURLY	{ .count = { [RETAIN_HOURLY] = 24 } }
#define P_DAILY		{ .count = { [RETAIN_DAILY] = 7 } }
#define P_DAILY_WEEKLY	{ .count = { [RETAIN_DAILY] = 7, [RETAIN_WEEKLY] = 4 } }
#define P_WEEKLY	{ .count = { [RETAIN_WEEKLY] = 4 } }
#define P_MONTHLY	{ .count = { [RETAIN_MONTHLY] = 6 } }
#define P_YEARLY	{ .count = { [RETAIN_YEARLY] = 6 } }

static const struct dcase dcases[] = {
	{ "no snapshot yet", P_HOURLY, 0, NULL, "2026-11-27 09:00", true },
	{ "no snapshot yet, interval", P_NONE, 3600, NULL, "2026-11-27 09:00", true },
	{ "interval not reached", P_HOURLY, 3600,
	  "2026-11-27 09:00", "2026-11-27 09:59:59", false },
	{ "interval reached", P_HOURLY, 3600, "2026-11-27 09:00", "2026-11-27 10:00", true },
	{ "interval ignores buckets", P_DAILY, 3600,
	  "2026-11-27 09:00", "2026-11-27 10:00", true },
	{ "interval, clock went back a little", P_NONE, 3600,
	  "2026-11-27 10:00:10", "2026-11-27 10:00", false },
	{ "interval, clock went back more than interval", P_NONE, 3600,
	  "2026-11-27 12:00", "2026-11-27 10:00", true },
	{ "interval across fall-back counts real seconds", P_NONE, 3600,
	  "2026-10-25 00:30Z", "2026-10-25 01:30Z", true },
	{ "hourly timer fires twice in an hour", P_HOURLY, 0,
	  "2026-11-27 09:05", "2026-11-27 09:55", false },
	{ "hourly, next hour", P_HOURLY, 0, "2026-11-27 09:55", "2026-11-27 10:00", true },
	{ "hourly, the repeated hour is the same bucket", P_HOURLY, 0,
	  "2026-10-25 00:10Z", "2026-10-25 01:10Z", false },
	{ "hourly, spring-forward 01:59 CET -> 03:00 CEST", P_HOURLY, 0,
	  "2026-03-29 00:59Z", "2026-03-29 01:00Z", true },
	{ "daily under an hourly timer, same day", P_DAILY, 0,
	  "2026-11-27 00:00", "2026-11-27 23:59", false },
	{ "daily under an hourly timer, next day", P_DAILY, 0,
	  "2026-11-27 23:00", "2026-11-28 00:00", true },
	{ "finest wins: daily over weekly", P_DAILY_WEEKLY, 0,
	  "2026-11-27 08:00", "2026-11-28 08:00", true },
	{ "weekly, Sunday to Monday", P_WEEKLY, 0, "2026-11-29 23:00", "2026-11-30 00:00", true },
	{ "weekly, Monday to Sunday", P_WEEKLY, 0, "2026-11-23 00:00", "2026-11-29 23:59", false },
	{ "weekly, across the year in 2026-W53", P_WEEKLY, 0,
	  "2026-12-31 12:00", "2027-01-03 12:00", false },
	{ "monthly, leap day to March", P_MONTHLY, 0,
	  "2028-02-29 23:00", "2028-03-01 00:00", true },
	{ "yearly, same year", P_YEARLY, 0, "2026-01-01 00:00", "2026-12-31 23:59", false },
	{ "all zero: once a day, same day", P_NONE, 0,
	  "2026-11-27 08:00", "2026-11-27 20:00", false },
	{ "all zero: once a day, next day", P_NONE, 0,
	  "2026-11-27 20:00", "2026-11-28 00:30", true },
	{ "bucket mode, last in the future, same bucket", P_HOURLY, 0,
	  "2026-11-27 09:50", "2026-11-27 09:40", false },
	{ "bucket mode, last in the future, other bucket", P_HOURLY, 0,
	  "2026-11-28 09:50", "2026-11-27 09:40", true },
};

static void test_due_table(void **state)
{
	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(dcases); i++) {
		const struct dcase *c = &dcases[i];
		bool got = due_timeline(&c->policy, c->interval, c->last != NULL,
					c->last ? T(c->last) : 0, T(c->now));

		if (got != c->due)
			fail_msg("%s: got %d, want %d", c->name, got, c->due);
	}
}

struct ncase {
	const char *name;
	struct policy policy;
	int64_t interval;
	const char *last;	/* NULL: no timeline snapshot yet */
	const char *now;
	const char *next;
};

static const struct ncase ncases[] = {
	{ "nothing yet: now", P_HOURLY, 0, NULL, "2026-11-27 09:10", "2026-11-27 09:10" },
	{ "due already: now", P_HOURLY, 0, "2026-11-27 07:10", "2026-11-27 09:10",
	  "2026-11-27 09:10" },
	{ "interval: last + interval", P_HOURLY, 5400, "2026-11-27 09:00", "2026-11-27 09:10",
	  "2026-11-27 10:30" },
	{ "hourly: the next full hour", P_HOURLY, 0, "2026-11-27 09:05", "2026-11-27 09:10",
	  "2026-11-27 10:00" },
	{ "daily: local midnight", P_DAILY, 0, "2026-11-27 09:05", "2026-11-27 09:10",
	  "2026-11-28 00:00" },
	{ "weekly: Monday 00:00", P_WEEKLY, 0, "2026-11-25 09:05", "2026-11-27 09:10",
	  "2026-11-30 00:00" },
	{ "monthly: the first, across a leap February", P_MONTHLY, 0, "2028-02-03 10:00",
	  "2028-02-10 10:00", "2028-03-01 00:00" },
	{ "hourly, the repeated hour ends at 03:00 CET", P_HOURLY, 0, "2026-10-25 00:10Z",
	  "2026-10-25 01:10Z", "2026-10-25 02:00Z" },
	{ "daily, last in the future: its next day", P_DAILY, 0, "2026-11-28 09:00",
	  "2026-11-28 08:00", "2026-11-29 00:00" },
};

static void test_due_next_table(void **state)
{
	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(ncases); i++) {
		const struct ncase *c = &ncases[i];
		time_t got = due_next(&c->policy, c->interval, c->last != NULL,
				      c->last ? T(c->last) : 0, T(c->now));

		if (got != T(c->next))
			fail_msg("%s: got %lld, want %lld", c->name, (long long)got,
				 (long long)T(c->next));
		/* the edge: due there, and not a second before (unless that is now) */
		assert_true(due_timeline(&c->policy, c->interval, c->last != NULL,
					 c->last ? T(c->last) : 0, got));
		if (got > T(c->now))
			assert_false(due_timeline(&c->policy, c->interval, c->last != NULL,
						  c->last ? T(c->last) : 0, got - 1));
	}
}

/* A target's block copies: full images and deltas, each delta naming its base. */
static void test_keep_chains(void **state)
{
	static const struct {
		const char *name, *base;	/* base NULL: a full image */
		bool keep_before;		/* what retention decided alone */
		bool keep_after;
	} rows[] = {
		{ "v.20261101T000000Z", NULL, false, true },	/* full, base of a kept chain */
		{ "v.20261102T000000Z", "v.20261101T000000Z", false, true },
		{ "v.20261103T000000Z", "v.20261102T000000Z", true, true },
		{ "v.20261104T000000Z", NULL, false, false },	/* full, nothing kept needs it */
		{ "v.20261105T000000Z", "v.20261104T000000Z", false, false },
		{ "v.20261106T000000Z", NULL, false, true },
		{ "v.20261107T000000Z", "v.20261106T000000Z", true, true },
		{ "v.20261108T000000Z", "v.20261107T000000Z", true, true },
	};
	struct snapshot snaps[ARRAY_SIZE(rows)] = { 0 };
	struct decision d[ARRAY_SIZE(rows)] = { 0 };
	struct plan p = { .n = ARRAY_SIZE(rows), .d = d };

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		snaps[i].name = (char *)rows[i].name;
		snaps[i].base = (char *)rows[i].base;
		snaps[i].complete = true;
		d[i].keep = rows[i].keep_before;
		p.n_delete += !d[i].keep;
	}
	retention_keep_chains(snaps, ARRAY_SIZE(rows), &p);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		if (d[i].keep != rows[i].keep_after)
			fail_msg("%s: keep %d, want %d", rows[i].name, d[i].keep, rows[i].keep_after);
		if (!rows[i].keep_before && rows[i].keep_after)
			assert_true(strncmp(d[i].reasons[0], "base of v.2026110", 17) == 0);
	}
	assert_int_equal(p.n_delete, 2);
}

/* Fire a timer from @start every @step seconds for @span; count snapshots taken. */
static unsigned simulate_timer(const struct policy *pol, int64_t interval, const char *start,
			       time_t step, time_t span)
{
	time_t t0 = T(start), last = 0;
	bool have_last = false;
	unsigned made = 0;

	for (time_t t = t0; t < t0 + span; t += step)
		if (due_timeline(pol, interval, have_last, last, t)) {
			have_last = true;
			last = t;
			made++;
		}
	return made;
}

static void test_due_timers(void **state)
{
	struct policy hourly = { .count = { [RETAIN_HOURLY] = 24, [RETAIN_DAILY] = 7 } };
	struct policy daily = { .count = { [RETAIN_DAILY] = 7, [RETAIN_MONTHLY] = 6 } };
	struct policy none = { .min_age = 0 };

	(void) state;
	/* an hourly config under a timer firing every 30 minutes: once an hour */
	assert_int_equal(simulate_timer(&hourly, 0, "2026-11-27 00:00", 1800, 2 * DAY), 48);
	/* the same, starting at :17 past */
	assert_int_equal(simulate_timer(&hourly, 0, "2026-11-27 00:17", 1800, DAY), 24);
	/* a daily config under an hourly timer: one a day */
	assert_int_equal(simulate_timer(&daily, 0, "2026-11-27 00:00", 3600, 3 * DAY), 3);
	assert_int_equal(simulate_timer(&daily, 0, "2026-11-27 05:00", 3600, 3 * DAY), 4);
	assert_int_equal(simulate_timer(&none, 0, "2026-11-27 00:00", 3600, 3 * DAY), 3);
	/* the 25-hour day: 24 hourly snapshots, the 23-hour day: 23 */
	assert_int_equal(simulate_timer(&hourly, 0, "2026-10-25 00:00", 900, 25 * 3600), 24);
	assert_int_equal(simulate_timer(&hourly, 0, "2026-03-29 00:00", 900, 23 * 3600), 23);
	/* interval=2h under an hourly timer */
	assert_int_equal(simulate_timer(&hourly, 7200, "2026-11-27 00:00", 3600, DAY), 12);
}

static void test_finest_and_names(void **state)
{
	(void) state;
	assert_int_equal(retention_finest(&(struct policy){ .min_age = 0 }), _RETAIN_GRAN_MAX);
	assert_int_equal(retention_finest(&(struct policy){ .count = { 24, 7, 4, 6, 1 } }),
			 RETAIN_HOURLY);
	assert_int_equal(retention_finest(&(struct policy){
				.count = { [RETAIN_WEEKLY] = 4, [RETAIN_YEARLY] = 1 } }),
			 RETAIN_WEEKLY);
	assert_int_equal(retention_finest(&(struct policy){ .count = { [RETAIN_YEARLY] = 1 } }),
			 RETAIN_YEARLY);
	assert_string_equal(retain_gran_to_string(RETAIN_HOURLY), "hourly");
	assert_string_equal(retain_gran_to_string(RETAIN_DAILY), "daily");
	assert_string_equal(retain_gran_to_string(RETAIN_WEEKLY), "weekly");
	assert_string_equal(retain_gran_to_string(RETAIN_MONTHLY), "monthly");
	assert_string_equal(retain_gran_to_string(RETAIN_YEARLY), "yearly");
	assert_null(retain_gran_to_string(_RETAIN_GRAN_MAX));
	assert_null(plan_free(NULL));
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iso_week_matches_strftime),
		cmocka_unit_test(test_same_bucket),
		cmocka_unit_test(test_dst_spring_day),
		cmocka_unit_test(test_dst_fall_day),
		cmocka_unit_test(test_machine_off_for_a_week),
		cmocka_unit_test(test_ten_thousand),
		cmocka_unit_test(test_due_table),
		cmocka_unit_test(test_keep_chains),
		cmocka_unit_test(test_due_next_table),
		cmocka_unit_test(test_due_timers),
		cmocka_unit_test(test_finest_and_names),
	};
	struct CMUnitTest rows[ARRAY_SIZE(rcases)];
	int failed;

	tz_set("Europe/Vienna");
	for (size_t i = 0; i < ARRAY_SIZE(rcases); i++)
		rows[i] = (struct CMUnitTest) { .name = rcases[i].name,
						.test_func = test_table_row,
						.initial_state = (void *)&rcases[i] };
	failed = _cmocka_run_group_tests("retention table", rows, ARRAY_SIZE(rows), NULL, NULL);
	failed += cmocka_run_group_tests_name("retention", tests, NULL, NULL);
	return failed ? 1 : 0;
}
