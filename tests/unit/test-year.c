/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One year of `run`, in the spirit of sanoid's one-year test: TZ=Europe/Vienna,
 * a clock stepping hourly (in real seconds) through all of 2026 from local
 * 2026-01-01 00:00; at every step a timeline snapshot is taken when
 * due_timeline() says so, then retention_plan() runs and the deleted snapshots
 * are dropped.
 *
 * At every step the survivors must be exactly what the rules ask for, computed
 * independently: the first snapshot created in each bucket is that bucket's
 * oldest (bucket labels from strftime, %G-W%V for weeks), so the survivors are
 * the first snapshots of the last N buckets of each granularity, plus the
 * newest. On top, a few checkpoints carry counts reasoned out by hand below.
 *
 * 2026 in Vienna: Jan 1 is a Thursday; clocks go forward on Sunday 03-29
 * (02:00 CET -> 03:00 CEST, a 23-hour day) and back on Sunday 10-25 (03:00 CEST
 * -> 02:00 CET, a 25-hour day); 12-28 .. 12-31 are in 2026-W53.
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


/* Local "2026-03-29 23:00", or UTC with a trailing 'Z'. */
static time_t T(const char *s)
{
	struct tm tm = { .tm_isdst = -1 };
	int len = 0;
	time_t t;

	if (sscanf(s, "%d-%d-%d %d:%d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &len) != 5)
		fail_msg("bad time '%s'", s);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = streq(s + len, "Z") ? timegm(&tm) : mktime(&tm);
	if (t == (time_t)-1)
		fail_msg("bad time '%s'", s);
	return t;
}

/* Bucket labels as the reasons print them, from strftime (not from retention.c). */
static void label(enum retain_gran g, time_t t, char *buf, size_t len)
{
	struct tm tm;
	size_t r = 0;

	assert_non_null(localtime_r(&t, &tm));
	switch (g) {
	case RETAIN_HOURLY:
		r = strftime(buf, len, "%Y-%m-%d %H:00", &tm);
		break;
	case RETAIN_DAILY:
		r = strftime(buf, len, "%Y-%m-%d", &tm);
		break;
	case RETAIN_WEEKLY:
		r = strftime(buf, len, "%G-W%V", &tm);
		break;
	case RETAIN_MONTHLY:
		r = strftime(buf, len, "%Y-%m", &tm);
		break;
	case RETAIN_YEARLY:
		r = strftime(buf, len, "%Y", &tm);
		break;
	default:
		fail();
	}
	assert_true(r > 0);
}

#define SKIP	(-1)

struct checkpoint {
	const char *when;
	size_t total;				/* survivors */
	int count[_RETAIN_GRAN_MAX];		/* snapshots kept per granularity, or SKIP */
	const char *day;			/* local date ... */
	int on_day;				/* ... and how many survivors it has, or SKIP */
};

struct first {
	time_t t;
	char label[24];
};

#define CAP		128
#define STEPS_MAX	(366 * 24 + 2)

struct sim {
	const struct policy *pol;
	int64_t interval;
	struct snapshot s[CAP];
	size_t n;
	unsigned created;
	/* per granularity, in creation order: each bucket's first (= oldest) snapshot */
	struct first *first[_RETAIN_GRAN_MAX];
	size_t n_first[_RETAIN_GRAN_MAX];
};

static void sim_free(struct sim *sim)
{
	for (size_t i = 0; i < sim->n; i++)
		free(sim->s[i].name);
	for (int g = 0; g < _RETAIN_GRAN_MAX; g++)
		free(sim->first[g]);
	free(sim);
}

static struct sim *sim_new(const struct policy *pol, int64_t interval)
{
	struct sim *sim = calloc(1, sizeof(*sim));

	assert_non_null(sim);
	sim->pol = pol;
	sim->interval = interval;
	for (int g = 0; g < _RETAIN_GRAN_MAX; g++) {
		sim->first[g] = calloc(STEPS_MAX, sizeof(*sim->first[g]));
		assert_non_null(sim->first[g]);
	}
	return sim;
}

static bool sim_newest(const struct sim *sim, time_t *ret)
{
	bool have = false;

	for (size_t i = 0; i < sim->n; i++)
		if (!have || sim->s[i].created > *ret) {
			*ret = sim->s[i].created;
			have = true;
		}
	return have;
}

static void sim_take(struct sim *sim, time_t t)
{
	char name[64], stamp[32];
	struct tm tm;

	assert_true(sim->n < CAP);
	assert_non_null(gmtime_r(&t, &tm));
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(name, sizeof(name), "v.%s", stamp);
	sim->s[sim->n] = (struct snapshot) { .name = strdup(name), .created = t, .seq = 1,
					     .kind = SNAP_TIMELINE, .complete = true };
	assert_non_null(sim->s[sim->n].name);
	sim->n++;
	sim->created++;

	for (int g = 0; g < _RETAIN_GRAN_MAX; g++) {
		char l[24];

		label(g, t, l, sizeof(l));
		if (sim->n_first[g] > 0 && streq(sim->first[g][sim->n_first[g] - 1].label, l))
			continue;
		assert_true(sim->n_first[g] < STEPS_MAX);
		sim->first[g][sim->n_first[g]].t = t;
		snprintf(sim->first[g][sim->n_first[g]].label, sizeof(l), "%s", l);
		sim->n_first[g]++;
	}
}

static const struct decision *sim_find(const struct sim *sim, const struct plan *p, time_t t)
{
	for (size_t i = 0; i < sim->n; i++)
		if (sim->s[i].created == t)
			return &p->d[i];
	return NULL;
}

static bool has_reason(const struct decision *d, const char *reason)
{
	for (unsigned r = 0; r < d->n_reasons; r++)
		if (streq(d->reasons[r], reason))
			return true;
	return false;
}

/* Whether @t is the first snapshot of one of the N most recent buckets of @g. */
static bool sim_expected_by(const struct sim *sim, enum retain_gran g, time_t t)
{
	size_t nf = sim->n_first[g], keep = sim->pol->count[g];

	for (size_t k = nf > keep ? nf - keep : 0; k < nf; k++)
		if (sim->first[g][k].t == t)
			return true;
	return false;
}

static void sim_check(const struct sim *sim, const struct plan *p, time_t now)
{
	time_t newest = 0;
	size_t kept = 0, max = 1;
	char hourly[CAP][48];
	size_t n_hourly = 0;
	char when[32];
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%F %T %Z", &tm);
	assert_int_equal(p->n, sim->n);
	assert_true(sim_newest(sim, &newest));
	for (int g = 0; g < _RETAIN_GRAN_MAX; g++)
		max += sim->pol->count[g];

	for (size_t i = 0; i < sim->n; i++) {
		const struct decision *d = &p->d[i];
		time_t t = sim->s[i].created;
		bool want = t == newest;

		for (int g = 0; g < _RETAIN_GRAN_MAX; g++)
			want = want || sim_expected_by(sim, g, t);
		if (d->keep != want)
			fail_msg("%s: snapshot %s: keep=%d, want %d", when, sim->s[i].name,
				 d->keep, want);
		kept += d->keep;
		if (t == newest)
			assert_true(has_reason(d, "newest"));
		for (unsigned r = 0; r < d->n_reasons; r++)
			if (startswith(d->reasons[r], "hourly "))
				snprintf(hourly[n_hourly++], sizeof(hourly[0]), "%s", d->reasons[r]);
	}
	/* never more than the counts and the newest */
	assert_true(kept <= max);
	assert_int_equal(sim->n - p->n_delete, kept);
	/* no two survivors kept by the same hourly bucket */
	assert_true(n_hourly <= sim->pol->count[RETAIN_HOURLY]);
	for (size_t a = 0; a < n_hourly; a++)
		for (size_t b = a + 1; b < n_hourly; b++)
			if (streq(hourly[a], hourly[b]))
				fail_msg("%s: two survivors for '%s'", when, hourly[a]);
	/* each expected bucket names its snapshot (unless REASON_MAX cut it) */
	for (int g = 0; g < _RETAIN_GRAN_MAX; g++) {
		size_t nf = sim->n_first[g], keep = sim->pol->count[g];

		for (size_t k = nf > keep ? nf - keep : 0; k < nf; k++) {
			const struct decision *d = sim_find(sim, p, sim->first[g][k].t);
			char reason[48];

			assert_non_null(d);
			snprintf(reason, sizeof(reason), "%s %s", retain_gran_to_string(g),
				 sim->first[g][k].label);
			if (!has_reason(d, reason) && d->n_reasons < REASON_MAX)
				fail_msg("%s: missing '%s'", when, reason);
		}
	}
}

static void sim_checkpoint(const struct sim *sim, const struct plan *p,
			   const struct checkpoint *c)
{
	size_t kept = 0;
	int on_day = 0;

	for (size_t i = 0; i < sim->n; i++) {
		char day[16];
		struct tm tm;

		if (!p->d[i].keep)
			continue;
		kept++;
		localtime_r(&sim->s[i].created, &tm);
		strftime(day, sizeof(day), "%F", &tm);
		on_day += c->day && streq(day, c->day);
	}
	if (kept != c->total)
		fail_msg("%s: %zu survivors, want %zu", c->when, kept, c->total);
	for (int g = 0; g < _RETAIN_GRAN_MAX; g++) {
		char prefix[16];
		int n = 0;

		if (c->count[g] == SKIP)
			continue;
		snprintf(prefix, sizeof(prefix), "%s ", retain_gran_to_string(g));
		for (size_t i = 0; i < p->n; i++)
			for (unsigned r = 0; r < p->d[i].n_reasons; r++)
				n += startswith(p->d[i].reasons[r], prefix);
		if (n != c->count[g])
			fail_msg("%s: %d %s, want %d", c->when, n, prefix, c->count[g]);
	}
	if (c->on_day != SKIP && on_day != c->on_day)
		fail_msg("%s: %d survivors on %s, want %d", c->when, on_day, c->day, c->on_day);
}

/* Step hourly through 2026; return the number of snapshots taken. */
static unsigned simulate_year(const struct policy *pol, int64_t interval,
			      const struct checkpoint *cps, size_t n_cps)
{
	struct sim *sim = sim_new(pol, interval);
	time_t start = T("2026-01-01 00:00"), end = T("2026-12-31 23:00");
	size_t next_cp = 0;
	unsigned created;

	/* 365 days of 24 hours: the lost and the repeated hour cancel out */
	assert_int_equal(end - start, (365 * 24 - 1) * 3600);
	for (time_t t = start; t <= end; t += 3600) {
		_cleanup_(plan_freep) struct plan *p = NULL;
		time_t last = 0;
		bool have_last = sim_newest(sim, &last);
		size_t w = 0;

		if (due_timeline(pol, interval, have_last, last, t))
			sim_take(sim, t);
		assert_int_equal(retention_plan(sim->s, sim->n, pol, t, &p), 0);
		sim_check(sim, p, t);
		if (next_cp < n_cps && t == T(cps[next_cp].when))
			sim_checkpoint(sim, p, &cps[next_cp++]);

		for (size_t i = 0; i < sim->n; i++) {
			if (p->d[i].keep)
				sim->s[w++] = sim->s[i];
			else
				free(sim->s[i].name);
		}
		sim->n = w;
	}
	assert_int_equal(next_cp, n_cps);
	created = sim->created;
	sim_free(sim);
	return created;
}

/*
 * Policy A: hourly=24 daily=7 weekly=4 monthly=6 yearly=1, no interval, so one
 * snapshot per local hour at :00. Survivors = H u D u W u M u Y with
 *   H: the last 24 snapshots (one per hour bucket),
 *   D: 00:00 of today and the 6 days before (today's is in H),
 *   W: Monday 00:00 of this ISO week and the 3 before (Jan 1 00:00 for W01),
 *   M: the 1st 00:00 of this month and up to 5 before,
 *   Y: Jan 1 00:00.
 */
static const struct checkpoint year_a[] = {
	/* H = 01-01 01:00 .. 01-02 00:00; 01-01 00:00 is D, W01, M and Y at once */
	{ "2026-01-02 00:00", 25, { 24, 2, 1, 1, 1 }, "2026-01-01", 24 },
	/*
	 * End of the 23-hour day (Sunday, W13). H: its 23 snapshots (no 02:00)
	 * and 03-28 23:00. D adds 03-23..03-28 (6). W: 03-23 (in D) + 03-16,
	 * 03-09, 03-02 (3). M: 01-01, 02-01, 03-01 (3; 03-01 is a Sunday).
	 * 24 + 6 + 3 + 3 = 36.
	 */
	{ "2026-03-29 23:00", 36, { 24, 7, 4, 3, 1 }, "2026-03-29", 23 },
	/*
	 * End of March (Tuesday, W14). H: 03-31 00..23. D adds 03-25..03-30 (6).
	 * W: 03-30 (in D) + 03-23, 03-16, 03-09 (3). M: 3. 24 + 6 + 3 + 3 = 36.
	 * Of the 23-hour day only its 00:00 is left (daily).
	 */
	{ "2026-03-31 23:00", 36, { 24, 7, 4, 3, 1 }, "2026-03-29", 1 },
	/*
	 * End of June (Tuesday, W27). H: 06-30 00..23. D adds 06-24..06-29 (6).
	 * W: 06-29 (in D) + 06-22, 06-15, 06-08 (3). M: 01-01 .. 06-01 (6; 06-01
	 * is a Monday, but of W23, too old for W). 24 + 6 + 3 + 6 = 39.
	 */
	{ "2026-06-30 23:00", 39, { 24, 7, 4, 6, 1 }, "2026-06-30", 24 },
	/*
	 * 10-25 03:00 CEST became 02:00 CET an hour ago (00:00Z); now it is 02:00
	 * CET again: the 02:00 bucket has its snapshot, nothing is due, nothing
	 * changes. 10-25 has 00:00, 01:00 and 02:00 CEST. H: those 3 + 10-24
	 * 03..23 (21). D adds 10-19..10-24 (6). W (Sunday, W43): 10-19 (in D) +
	 * 10-12, 10-05, 09-28 (3). M: 05-01 .. 10-01 (6). Y: 01-01 (1). 40.
	 */
	{ "2026-10-25 01:00Z", 40, { 24, 7, 4, 6, 1 }, "2026-10-25", 3 },
	/* End of the 25-hour day: 24 snapshots on it (one per local hour); as above, 40. */
	{ "2026-10-25 23:00", 40, { 24, 7, 4, 6, 1 }, "2026-10-25", 24 },
	/*
	 * New Year's Eve (Thursday, 2026-W53). H: 12-31 00..23. D adds 12-25..12-30
	 * (6). W: 12-28 (in D) + 12-21, 12-14, 12-07 (3). M: 07-01 .. 12-01 (6).
	 * Y: 01-01 (1). 24 + 6 + 3 + 6 + 1 = 40.
	 */
	{ "2026-12-31 23:00", 40, { 24, 7, 4, 6, 1 }, "2026-12-31", 24 },
};

static void test_year_hourly(void **state)
{
	struct policy pol = { .count = { 24, 7, 4, 6, 1 } };

	(void) state;
	/* one per hour: 365 * 24, less the repeated 02:00 hour on 10-25 */
	assert_int_equal(simulate_year(&pol, 0, year_a, ARRAY_SIZE(year_a)), 365 * 24 - 1);
}

/*
 * Policy B: daily=10 weekly=8 monthly=12 yearly=2 under the hourly timer: one
 * snapshot a day, at 00:00.
 */
static const struct checkpoint year_b[] = {
	/*
	 * End of June. D: 06-21..06-30 (10). W (8 Mondays): 06-29, 06-22 (in D)
	 * + 06-15, 06-08, 06-01, 05-25, 05-18, 05-11 (6). M: 01-01 .. 05-01 (5;
	 * 06-01 is in W). Y: 01-01 (in M). 10 + 6 + 5 = 21.
	 */
	{ "2026-06-30 23:00", 21, { 0, 10, 8, 6, 1 }, "2026-06-30", 1 },
	/*
	 * New Year's Eve. D: 12-22..12-31 (10). W: 12-28 (in D) + 12-21, 12-14,
	 * 12-07, 11-30, 11-23, 11-16, 11-09 (7). M: 01-01 .. 12-01 (12, none of
	 * them in W or D). Y: only 2026 so far, 01-01 (in M). 10 + 7 + 12 = 29.
	 */
	{ "2026-12-31 23:00", 29, { 0, 10, 8, 12, 1 }, "2026-12-31", 1 },
};

static void test_year_daily(void **state)
{
	struct policy pol = { .count = { 0, 10, 8, 12, 2 } };

	(void) state;
	assert_int_equal(simulate_year(&pol, 0, year_b, ARRAY_SIZE(year_b)), 365);
}

/*
 * Policy C: interval=1h, hourly=24 daily=7. The interval counts real seconds, so
 * on 10-25 the repeated hour gets a second snapshot; it is not the oldest of its
 * bucket, so it lives only while it is the newest.
 */
static const struct checkpoint year_c[] = {
	/*
	 * 02:00 CET, just taken. Hour buckets: 10-25 02 (oldest 02:00 CEST), 01,
	 * 00, 10-24 23..03 (21): 24 snapshots, plus the newest. D adds
	 * 10-19..10-24 (6). 24 + 1 + 6 = 31.
	 */
	{ "2026-10-25 01:00Z", 31, { 24, 7, 0, 0, 0 }, "2026-10-25", 4 },
	/* 03:00 CET: the 02:00 CET snapshot is gone; buckets 03, 02, 01, 00, 10-24 23..04. 30. */
	{ "2026-10-25 02:00Z", 30, { 24, 7, 0, 0, 0 }, "2026-10-25", 4 },
	/* H: 12-31 00..23, D adds 12-25..12-30: 30. */
	{ "2026-12-31 23:00", 30, { 24, 7, 0, 0, 0 }, "2026-12-31", 24 },
};

static void test_year_interval(void **state)
{
	struct policy pol = { .count = { 24, 7, 0, 0, 0 } };

	(void) state;
	assert_int_equal(simulate_year(&pol, 3600, year_c, ARRAY_SIZE(year_c)), 365 * 24);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_year_hourly),
		cmocka_unit_test(test_year_daily),
		cmocka_unit_test(test_year_interval),
	};

	if (setenv("TZ", "Europe/Vienna", 1) < 0)
		return 1;
	tzset();
	return cmocka_run_group_tests_name("one year", tests, NULL, NULL);
}
