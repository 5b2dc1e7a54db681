/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Retention: which snapshots of one volume to keep (SPEC 4).
 *
 * Contract
 *   retention_plan() is a pure function of (snapshots, policy, now): no I/O, no
 *   logging, no clock reads. The only outside input is the local time zone, read
 *   through localtime_r() (TZ respected). The same input always gives the same
 *   plan, whatever order the snapshots come in: snapshots are ranked once by
 *   (created, seq, name), so duplicate timestamps are decided deterministically.
 *   Everything is O(n log n) (a few sorts of index arrays), fine for 10,000
 *   snapshots.
 *
 * Rules, and the order their reasons are recorded in (at most REASON_MAX; when
 * more rules keep a snapshot, the first REASON_MAX in this order win):
 *   1. "pinned"                 pinned snapshots
 *      "merging (rollback)"     one being merged into its origin (LVM)
 *   2. "newest"                 the newest complete snapshot, whatever its kind
 *   3. "base for target NAME"   per target, the newest snapshot it holds (by name)
 *   4. "retain_min"             created > now - min_age
 *   5. "pre/post"               the N newest pre snapshots and their posts
 *   6. "manual"                 manual and boot snapshots, all or the N newest
 *   7. "hourly ..", "daily ..", "weekly ..", "monthly ..", "yearly .."
 *                               timeline buckets, finest first
 *   Foreign snapshots get "foreign" and damaged ones "damaged" (kept, and
 *   nothing else: what is wrong with them is for an administrator to see);
 *   incomplete ones get
 *   "incomplete" and keep=false, whatever else they claim (their metadata,
 *   including a pin, is not trustworthy), or "invalid (overflowed)" for an
 *   LVM snapshot whose content is lost. Neither takes part in any other rule.
 *
 * Timeline buckets are keyed by local calendar fields (Y-M-D H, Y-M-D, ISO year
 * and week, Y-M, Y), so the hour repeated when the clocks go back is one bucket
 * and the 23-hour day is one day. For count N, the N most recent non-empty
 * buckets (by key, not by position in time) each keep their oldest snapshot.
 *
 * Must never happen
 *   - the newest complete snapshot, a pinned, foreign or damaged one marked
 *     for deletion;
 *   - a post kept by pre/post without its pre being kept by the same rule;
 *   - a decision that depends on the order of @snaps (entries equal in created,
 *     seq and name are indistinguishable; which of them is "oldest" then
 *     follows their position, which changes nothing a caller can tell).
 */

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "policy/retention.h"

/* The local calendar fields a snapshot is bucketed by. */
struct retention_cal {
	int year;	/* full year */
	int mon;	/* 1..12 */
	int mday;	/* 1..31 */
	int hour;	/* 0..23 */
	int iso_year;
	int iso_week;	/* 1..53 */
};

static bool retention_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Same result as strftime's %G and %V: weeks start on Monday, week 1 holds January 4th. */
static void retention_iso_week(const struct tm *tm, int *ret_year, int *ret_week)
{
	int64_t year = (int64_t)tm->tm_year + 1900;
	int wday = (tm->tm_wday + 6) % 7;	/* Monday 0 */
	int thursday = tm->tm_yday - wday + 3;	/* day of year of this week's Thursday */

	if (thursday < 0) {
		year--;
		thursday += retention_leap(year) ? 366 : 365;
	} else if (thursday >= (retention_leap(year) ? 366 : 365)) {
		thursday -= retention_leap(year) ? 366 : 365;
		year++;
	}
	*ret_year = (int)year;
	*ret_week = thursday / 7 + 1;
}

static int retention_cal_get(time_t t, struct retention_cal *ret)
{
	struct tm tm;

	if (!localtime_r(&t, &tm))
		return -EOVERFLOW;
	/* keep tm_year + 1900 and the bucket keys far from overflowing */
	if (tm.tm_year > 1000000 || tm.tm_year < -1000000)
		return -EOVERFLOW;
	ret->year = tm.tm_year + 1900;
	ret->mon = tm.tm_mon + 1;
	ret->mday = tm.tm_mday;
	ret->hour = tm.tm_hour;
	retention_iso_week(&tm, &ret->iso_year, &ret->iso_week);
	return 0;
}

/* Ordered like the calendar: a larger key is a later bucket. */
static int64_t retention_cal_key(const struct retention_cal *c, enum retain_gran g)
{
	switch (g) {
	case RETAIN_HOURLY:
		return (((int64_t)c->year * 100 + c->mon) * 100 + c->mday) * 100 + c->hour;
	case RETAIN_DAILY:
		return ((int64_t)c->year * 100 + c->mon) * 100 + c->mday;
	case RETAIN_WEEKLY:
		return (int64_t)c->iso_year * 100 + c->iso_week;
	case RETAIN_MONTHLY:
		return (int64_t)c->year * 100 + c->mon;
	case RETAIN_YEARLY:
		return c->year;
	default:
		assert(!"bad granularity");
		return 0;
	}
}

static void retention_cal_reason(const struct retention_cal *c, enum retain_gran g,
				 char *buf, size_t len)
{
	switch (g) {
	case RETAIN_HOURLY:
		snprintf(buf, len, "hourly %04d-%02d-%02d %02d:00", c->year, c->mon, c->mday,
			 c->hour);
		break;
	case RETAIN_DAILY:
		snprintf(buf, len, "daily %04d-%02d-%02d", c->year, c->mon, c->mday);
		break;
	case RETAIN_WEEKLY:
		snprintf(buf, len, "weekly %04d-W%02d", c->iso_year, c->iso_week);
		break;
	case RETAIN_MONTHLY:
		snprintf(buf, len, "monthly %04d-%02d", c->year, c->mon);
		break;
	case RETAIN_YEARLY:
		snprintf(buf, len, "yearly %04d", c->year);
		break;
	default:
		assert(!"bad granularity");
		break;
	}
}

/* Rules beyond the first REASON_MAX still keep the snapshot; only their text is dropped. */
static void retention_keep(struct decision *d, const char *reason)
{
	d->keep = true;
	if (d->n_reasons >= REASON_MAX)
		return;
	snprintf(d->reasons[d->n_reasons], sizeof(d->reasons[0]), "%s", reason);
	d->n_reasons++;
}

static const char *retention_name(const struct snapshot *s)
{
	return s->name ? s->name : "";
}

static int retention_cmp_snap(const void *pa, const void *pb)
{
	const struct snapshot *a = *(const struct snapshot *const *)pa;
	const struct snapshot *b = *(const struct snapshot *const *)pb;
	int r;

	if (a->created != b->created)
		return a->created < b->created ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	r = strcmp(retention_name(a), retention_name(b));
	if (r != 0)
		return r;
	/* identical entries: input position, only so that qsort() is deterministic */
	return a < b ? -1 : a > b;
}

struct retention_bucket_entry {
	int64_t key;
	size_t rank;	/* position in the oldest-first order */
};

static int retention_cmp_bucket(const void *pa, const void *pb)
{
	const struct retention_bucket_entry *a = pa, *b = pb;

	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return a->rank < b->rank ? -1 : a->rank > b->rank;
}

struct retention_target_entry {
	const char *target;	/* borrowed */
	size_t rank;
};

/* By target name, newest first within a target. */
static int retention_cmp_target(const void *pa, const void *pb)
{
	const struct retention_target_entry *a = pa, *b = pb;
	int r;

	r = strcmp(a->target, b->target);
	if (r != 0)
		return r;
	return a->rank > b->rank ? -1 : a->rank < b->rank;
}

static int retention_cmp_str(const void *pa, const void *pb)
{
	return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

/* Rule 3: per target, the newest snapshot whose sent[] names it. */
static int retention_rule_targets(const struct snapshot *snaps, const size_t *order, size_t m,
				  struct decision *d)
{
	_cleanup_free_ struct retention_target_entry *t = NULL;
	size_t nt = 0, i;

	for (i = 0; i < m; i++)
		nt += snaps[order[i]].n_sent;
	if (nt == 0)
		return 0;
	t = calloc(nt, sizeof(*t));
	if (!t)
		return -ENOMEM;
	nt = 0;
	for (i = 0; i < m; i++) {
		const struct snapshot *s = &snaps[order[i]];

		for (size_t j = 0; j < s->n_sent; j++)
			if (s->sent && s->sent[j].target)
				t[nt++] = (struct retention_target_entry) {
					.target = s->sent[j].target, .rank = i };
	}
	qsort(t, nt, sizeof(*t), retention_cmp_target);
	for (i = 0; i < nt; i++) {
		char reason[sizeof(d->reasons[0])];

		if (i > 0 && streq(t[i].target, t[i - 1].target))
			continue;
		snprintf(reason, sizeof(reason), "base for target %s", t[i].target);
		retention_keep(&d[order[t[i].rank]], reason);
	}
	return 0;
}

/* Rule 5: the N newest pre snapshots, and the posts that name one of them. */
static int retention_rule_pre_post(const struct snapshot *snaps, const size_t *order, size_t m,
				   unsigned count, struct decision *d)
{
	_cleanup_free_ const char **kept = NULL;
	size_t nk = 0, left = count, i;

	if (count == 0 || m == 0)
		return 0;
	kept = calloc(count < m ? count : m, sizeof(*kept));
	if (!kept)
		return -ENOMEM;
	for (i = m; i-- > 0 && left > 0;) {
		const struct snapshot *s = &snaps[order[i]];

		if (s->kind != SNAP_PRE)
			continue;
		retention_keep(&d[order[i]], "pre/post");
		left--;
		if (s->name)
			kept[nk++] = s->name;
	}
	if (nk == 0)
		return 0;
	qsort(kept, nk, sizeof(*kept), retention_cmp_str);
	for (i = 0; i < m; i++) {
		const struct snapshot *s = &snaps[order[i]];

		if (s->kind == SNAP_POST && s->pre &&
		    bsearch(&s->pre, kept, nk, sizeof(*kept), retention_cmp_str))
			retention_keep(&d[order[i]], "pre/post");
	}
	return 0;
}

/* Rule 7: timeline buckets, one granularity at a time, finest first. */
static int retention_rule_timeline(const struct snapshot *snaps, const size_t *order, size_t m,
				   const struct policy *policy, struct decision *d)
{
	_cleanup_free_ struct retention_cal *cal = NULL;
	_cleanup_free_ struct retention_bucket_entry *b = NULL;
	_cleanup_free_ size_t *rank = NULL;
	size_t nt = 0, i;
	bool any = false;

	for (int g = 0; g < _RETAIN_GRAN_MAX; g++)
		any = any || policy->count[g] > 0;
	if (!any || m == 0)
		return 0;

	cal = calloc(m, sizeof(*cal));
	b = calloc(m, sizeof(*b));
	rank = calloc(m, sizeof(*rank));
	if (!cal || !b || !rank)
		return -ENOMEM;

	/* localtime_r() once per snapshot; a time it cannot convert takes no bucket */
	for (i = 0; i < m; i++) {
		if (snaps[order[i]].kind != SNAP_TIMELINE)
			continue;
		if (retention_cal_get(snaps[order[i]].created, &cal[nt]) < 0)
			continue;
		rank[nt++] = i;
	}

	for (int g = 0; g < _RETAIN_GRAN_MAX; g++) {
		unsigned left = policy->count[g];

		if (left == 0)
			continue;
		for (i = 0; i < nt; i++)
			b[i] = (struct retention_bucket_entry) {
				.key = retention_cal_key(&cal[i], g), .rank = i };
		/*
		 * Sorted by key, then oldest first. Walking the groups from the
		 * latest key down, a group's first entry is its oldest snapshot.
		 */
		qsort(b, nt, sizeof(*b), retention_cmp_bucket);
		for (i = nt; i-- > 0 && left > 0;) {
			char reason[sizeof(d->reasons[0])];

			if (i > 0 && b[i - 1].key == b[i].key)
				continue;
			retention_cal_reason(&cal[b[i].rank], g, reason, sizeof(reason));
			retention_keep(&d[order[rank[b[i].rank]]], reason);
			left--;
		}
	}
	return 0;
}

static void retention_rule_pinned(const struct snapshot *snaps, const size_t *order, size_t m,
				  struct decision *d)
{
	for (size_t i = 0; i < m; i++) {
		if (snaps[order[i]].pinned)
			retention_keep(&d[order[i]], "pinned");
		if (snaps[order[i]].merging)
			retention_keep(&d[order[i]], "merging (rollback)");
	}
}

/* created > now - min_age, without overflowing. */
static void retention_rule_min_age(const struct snapshot *snaps, const size_t *order, size_t m,
				   int64_t min_age, time_t now, struct decision *d)
{
	int64_t limit;
	bool all;

	if (min_age <= 0)
		return;
	all = __builtin_sub_overflow((int64_t)now, min_age, &limit);
	for (size_t i = 0; i < m; i++)
		if (all || (int64_t)snaps[order[i]].created > limit)
			retention_keep(&d[order[i]], "retain_min");
}

/* The @manual newest manual and boot snapshots; any negative count means all. */
static void retention_rule_manual(const struct snapshot *snaps, const size_t *order, size_t m,
				  int manual, struct decision *d)
{
	size_t left = manual < 0 ? SIZE_MAX : (size_t)manual;

	for (size_t i = m; i-- > 0 && left > 0;) {
		enum snap_kind k = snaps[order[i]].kind;

		if (k != SNAP_MANUAL && k != SNAP_BOOT)
			continue;
		retention_keep(&d[order[i]], "manual");
		left--;
	}
}

int retention_plan(const struct snapshot *snaps, size_t n, const struct policy *policy,
		   time_t now, struct plan **ret_plan)
{
	_cleanup_free_ struct plan *p = NULL;
	_cleanup_free_ struct decision *d = NULL;
	_cleanup_free_ const struct snapshot **sorted = NULL;
	_cleanup_free_ size_t *order = NULL;
	size_t m = 0, i;
	int r;

	assert(snaps || n == 0);
	assert(policy);
	assert(ret_plan);

	p = calloc(1, sizeof(*p));
	d = calloc(n > 0 ? n : 1, sizeof(*d));
	sorted = calloc(n > 0 ? n : 1, sizeof(*sorted));
	order = calloc(n > 0 ? n : 1, sizeof(*order));
	if (!p || !d || !sorted || !order)
		return -ENOMEM;

	for (i = 0; i < n; i++) {
		if (snaps[i].foreign)
			retention_keep(&d[i], "foreign");
		else if (snaps[i].damaged)
			retention_keep(&d[i], "damaged");
		else if (!snaps[i].complete)
			snprintf(d[i].reasons[d[i].n_reasons++], sizeof(d[i].reasons[0]), "%s",
				 snaps[i].invalid ? "invalid (overflowed)" :
				 snaps[i].stale ? "stale" : "incomplete");
		else
			sorted[m++] = &snaps[i];
	}
	/* the rules below only see complete snapshots of ours, oldest first */
	qsort(sorted, m, sizeof(*sorted), retention_cmp_snap);
	for (i = 0; i < m; i++)
		order[i] = (size_t)(sorted[i] - snaps);

	/* 1. pinned, and one being merged into its origin (LVM refuses to remove it) */
	retention_rule_pinned(snaps, order, m, d);

	/* 2. newest */
	if (m > 0)
		retention_keep(&d[order[m - 1]], "newest");

	/* 3. base for target */
	if (policy->keep_target_base) {
		r = retention_rule_targets(snaps, order, m, d);
		if (r < 0)
			return r;
	}

	/* 4. retain_min */
	retention_rule_min_age(snaps, order, m, policy->min_age, now, d);

	/* 5. pre/post */
	r = retention_rule_pre_post(snaps, order, m, policy->pre_post, d);
	if (r < 0)
		return r;

	/* 6. manual and boot */
	retention_rule_manual(snaps, order, m, policy->manual, d);

	/* 7. timeline */
	r = retention_rule_timeline(snaps, order, m, policy, d);
	if (r < 0)
		return r;

	p->n = n;
	for (i = 0; i < n; i++)
		if (!d[i].keep)
			p->n_delete++;
	p->d = TAKE_PTR(d);
	*ret_plan = TAKE_PTR(p);
	return 0;
}

struct plan *plan_free(struct plan *p)
{
	if (p) {
		free(p->d);
		free(p);
	}
	return NULL;
}

enum retain_gran retention_finest(const struct policy *policy)
{
	for (int g = 0; g < _RETAIN_GRAN_MAX; g++)
		if (policy->count[g] > 0)
			return g;
	return _RETAIN_GRAN_MAX;
}

bool retention_same_bucket(enum retain_gran g, time_t a, time_t b)
{
	struct retention_cal ca, cb;

	assert((unsigned)g < _RETAIN_GRAN_MAX);
	/* a time localtime_r() cannot convert is only in its own bucket */
	if (retention_cal_get(a, &ca) < 0 || retention_cal_get(b, &cb) < 0)
		return a == b;
	return retention_cal_key(&ca, g) == retention_cal_key(&cb, g);
}

/*
 * A @last in the future means the clock went back (or was wrong when @last was
 * taken). Going back by less than @interval, or within the same bucket, creates
 * nothing; going back further makes a snapshot due: the future snapshot says
 * nothing about the present, and an extra snapshot (which pruning removes) is
 * better than none for as long as the clock needs to catch up.
 */
bool due_timeline(const struct policy *policy, int64_t interval, bool have_last, time_t last,
		  time_t now)
{
	enum retain_gran g;
	int64_t since;

	if (!have_last)
		return true;
	if (interval > 0) {
		if (__builtin_sub_overflow((int64_t)now, (int64_t)last, &since))
			return true;
		if (since < 0 && __builtin_sub_overflow(0, since, &since))
			return true;
		return since >= interval;
	}
	g = retention_finest(policy);
	if (g == _RETAIN_GRAN_MAX)
		g = RETAIN_DAILY;
	return !retention_same_bucket(g, last, now);
}

time_t due_next(const struct policy *policy, int64_t interval, bool have_last, time_t last,
		time_t now)
{
	time_t lo, hi;

	if (due_timeline(policy, interval, have_last, last, now))
		return now;
	if (interval > 0)
		return last + (time_t)interval;
	/* From @last on, "another bucket" stays true once it is: search for the edge. */
	lo = last > now ? last : now;
	hi = lo + 400 * 86400;
	if (!due_timeline(policy, interval, true, last, hi))
		return hi;
	while (hi - lo > 1) {
		time_t mid = lo + (hi - lo) / 2;

		if (due_timeline(policy, interval, true, last, mid))
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

void retention_keep_chains(const struct snapshot *snaps, size_t n, struct plan *p)
{
	bool changed = true;

	/* Each pass reaches one more link back; a chain is at most n long. */
	for (size_t pass = 0; changed && pass < n; pass++) {
		changed = false;
		for (size_t i = 0; i < n; i++) {
			if (!p->d[i].keep || !snaps[i].base)
				continue;
			for (size_t j = 0; j < n; j++) {
				char why[48];

				if (j == i || p->d[j].keep || !snaps[j].name || !snaps[j].complete ||
				    snaps[j].foreign ||
				    !streq(snaps[j].name, snaps[i].base))
					continue;
				snprintf(why, sizeof(why), "base of %s", snaps[i].name);
				retention_keep(&p->d[j], why);
				p->n_delete--;
				changed = true;
			}
		}
	}
}
