/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "engine/pkg.h"
#include "engine/status.h"
#include "model/stamp.h"
#include "policy/retention.h"

void volume_status_done(struct volume_status *s)
{
	free(s->error);
	free(s->newest);
	free(s->newest_any);
	for (size_t t = 0; t < s->n_targets; t++)
		free(s->targets[t].newest);
	free(s->targets);
	run_record_done(&s->run);
	free(s->pkg_open);
	for (size_t i = 0; i < s->n_problems; i++)
		free(s->problems[i].text);
	free(s->problems);
	*s = (struct volume_status){ 0 };
}

static __attribute__((format(printf, 3, 4)))
int problem(struct volume_status *st, enum check_state state, const char *fmt, ...)
{
	struct status_problem *grown = realloc(st->problems, (st->n_problems + 1) * sizeof(*grown));
	va_list ap;
	char *text;
	int k;

	if (!grown)
		return -ENOMEM;
	st->problems = grown;
	va_start(ap, fmt);
	k = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (k < 0)
		return -ENOMEM;
	st->problems[st->n_problems++] = (struct status_problem){ .state = state, .text = text };
	st->state = check_state_worse(st->state, state);
	return 0;
}

static int status_unreadable(struct volume_status *st, const struct rerr *e, int k)
{
	char text[sizeof(e->msg) + 64];

	st->error = strdup(rerr_text(e, k, text, sizeof(text)));
	if (!st->error)
		return -ENOMEM;
	return problem(st, CHECK_CRITICAL, "cannot be read: %s", st->error);
}

/* The snapshots: counts, the newest of each sort; future times are counted, never trusted. */
static int status_snapshots(struct volume_status *st, const struct snapshot_list *l, time_t now)
{
	const struct snapshot *tl = NULL, *any = NULL;

	for (size_t i = 0; i < l->n; i++) {
		const struct snapshot *s = &l->items[i];

		if (s->foreign) {
			st->foreign++;
			continue;
		}
		if (s->invalid || s->stale || s->damaged || !s->complete) {
			st->invalid += s->invalid;
			st->stale += s->stale && !s->invalid;
			st->damaged += s->damaged && !s->invalid && !s->stale;
			st->incomplete += !s->invalid && !s->stale && !s->damaged;
			continue;
		}
		st->count++;
		st->by_kind[s->kind]++;
		if (s->cow_known && s->cow_percent > st->cow_worst)
			st->cow_worst = s->cow_percent;
		if (s->created > now) {
			st->future++;
			continue;
		}
		if (!any || s->created >= any->created)
			any = s;
		if (s->kind == SNAP_TIMELINE && (!tl || s->created >= tl->created))
			tl = s;
	}
	if (tl) {
		st->newest_created = tl->created;
		if (!(st->newest = strdup(tl->name)))
			return -ENOMEM;
	}
	if (any) {
		st->newest_any_created = any->created;
		st->newest_any_kind = any->kind;
		if (!(st->newest_any = strdup(any->name)))
			return -ENOMEM;
	}
	st->next_due = due_next(&st->volume->policy, st->volume->interval, tl != NULL,
				tl ? tl->created : 0, now);
	return 0;
}

static int status_targets(struct volume_status *st, const struct snapshot_list *l,
			  const struct status_opts *o, int64_t period, time_t now)
{
	const struct volume *v = st->volume;

	st->targets = calloc(v->n_targets + 1, sizeof(*st->targets));
	if (!st->targets)
		return -ENOMEM;
	for (size_t t = 0; t < v->n_targets; t++) {
		struct target_status *ts = &st->targets[st->n_targets++];
		const struct target *tg = v->target_list[t];
		const struct snapshot *held = NULL;

		ts->target = v->targets[t];
		ts->limits = freshness_limits(period, tg ? tg->rpo : 0, o->warn, o->crit);
		for (size_t i = 0; i < l->n; i++) {
			const struct snapshot *s = &l->items[i];

			if (!s->complete || s->created > now)
				continue;
			for (size_t j = 0; j < s->n_sent; j++)
				if (streq(s->sent[j].target, ts->target) &&
				    (!held || s->created >= held->created))
					held = s;
		}
		for (size_t i = 0; st->run_known && i < st->run.n_targets; i++)
			if (streq(st->run.targets[i].target, ts->target))
				ts->run = &st->run.targets[i];
		if (!held)
			continue;
		ts->newest_created = held->created;
		ts->lag = st->newest_any ? (int64_t)(st->newest_any_created - held->created) : 0;
		if (!(ts->newest = strdup(held->name)))
			return -ENOMEM;
	}
	return 0;
}

static int status_judge_run(struct volume_status *st)
{
	const char *why = st->run.error ?: "no error recorded";
	size_t n = strlen(st->volume->name);
	char when[ISO_TIME_LEN];

	/* Said of this volume already: without its "VOLUME: ". */
	if (strncmp(why, st->volume->name, n) == 0 && startswith(why + n, ": "))
		why += n + 2;
	return problem(st, CHECK_CRITICAL, "last run (%s) failed: %s",
		       time_format_iso(st->run.time, when), why);
}

/* Every condition of SPEC 4 that the snapshots, the storage and the last run show. */
static int status_judge(struct volume_status *st, time_t now)
{
	char age[32], lim[32];
	enum check_state s;
	int k = 0;

	if (!st->newest) {
		k = problem(st, CHECK_CRITICAL, "no timeline snapshot%s", st->future ?
			    " (but some dated in the future)" : " yet");
	} else if ((s = freshness_state(&st->limits, now - st->newest_created)) != CHECK_OK) {
		k = problem(st, s, "newest timeline snapshot %s is %s old (%s at %s)", st->newest,
			    age_format(now - st->newest_created, age, sizeof(age)),
			    s == CHECK_CRITICAL ? "rpo" : "warning",
			    age_format(s == CHECK_CRITICAL ? st->limits.crit : st->limits.warn, lim,
				       sizeof(lim)));
	}
	if (k == 0 && st->future)
		k = problem(st, CHECK_WARNING, "%zu snapshot%s dated in the future (is the clock "
			    "right?): not counted as newest", st->future, st->future == 1 ? "" : "s");
	if (k == 0 && st->run_known && !st->run.success)
		k = status_judge_run(st);
	if (k == 0 && st->incomplete)
		k = problem(st, CHECK_WARNING, "%zu incomplete snapshot%s (an interrupted operation; "
			    "the next run or prune repairs them)", st->incomplete,
			    st->incomplete == 1 ? "" : "s");
	if (k == 0 && st->stale)
		k = problem(st, CHECK_WARNING, "%zu stale entr%s (copies a snapshot of the volume "
			    "carried; prune removes them)", st->stale, st->stale == 1 ? "y" : "ies");
	if (k == 0 && st->damaged)
		k = problem(st, CHECK_WARNING, "%zu damaged entr%s (see list; left alone)",
			    st->damaged, st->damaged == 1 ? "y" : "ies");
	if (k == 0 && st->invalid)
		k = problem(st, CHECK_CRITICAL, "%zu snapshot%s overflowed (INVALID: the content is "
			    "lost)", st->invalid, st->invalid == 1 ? "" : "s");
	if (k == 0 && st->cow_worst > STATUS_USAGE_WARN)
		k = problem(st, CHECK_WARNING, "a thick snapshot's copy-on-write space is %.1f%% full",
			    st->cow_worst);
	if (k == 0 && st->health.pool_known &&
	    (st->health.pool_data_percent > STATUS_USAGE_WARN ||
	     st->health.pool_metadata_percent > STATUS_USAGE_WARN))
		k = problem(st, CHECK_WARNING, "thin pool %s is %.1f%% data, %.1f%% metadata full",
			    st->health.pool, st->health.pool_data_percent,
			    st->health.pool_metadata_percent);
	if (k == 0 && st->no_room)
		k = problem(st, CHECK_CRITICAL, "no room for a new snapshot: %s", st->room_why);
	if (k == 0 && st->pkg_open && now - st->pkg_opened >= PKG_STALE)
		k = problem(st, CHECK_WARNING, "package pre %s has had no post for %s", st->pkg_open,
			    age_format(now - st->pkg_opened, age, sizeof(age)));
	for (size_t t = 0; k == 0 && t < st->n_targets; t++) {
		const struct target_status *ts = &st->targets[t];

		if (!ts->newest) {
			k = problem(st, CHECK_CRITICAL, "target %s holds no copy yet", ts->target);
			continue;
		}
		s = freshness_state(&ts->limits, now - ts->newest_created);
		if (s != CHECK_OK)
			k = problem(st, s, "target %s: newest copy %s is %s old (%s at %s)", ts->target,
				    ts->newest, age_format(now - ts->newest_created, age, sizeof(age)),
				    s == CHECK_CRITICAL ? "rpo" : "warning",
				    age_format(s == CHECK_CRITICAL ? ts->limits.crit : ts->limits.warn,
					       lim, sizeof(lim)));
		if (k == 0 && ts->run && ts->run->state == RUN_TARGET_OFFLINE)
			k = problem(st, CHECK_WARNING, "target %s was offline at the last run: %s",
				    ts->target, ts->run->message ?: "not reached");
	}
	return k;
}

int engine_status(struct engine *eng, const struct volume *v, const struct status_opts *o,
		  struct volume_status *ret)
{
	static const struct status_opts none = { 0 };
	const struct backend *be = v->ops;
	struct volume_status st = { .volume = v, .backend = be->name, .cow_worst = -1 };
	_cleanup_snapshot_list_ struct snapshot_list l = { 0 };
	int64_t period = freshness_period(&v->policy, v->interval);
	struct rerr e = { 0 }, re = { 0 };
	int k, rk;

	o = o ?: &none;
	*ret = st;
	st.limits = freshness_limits(period, v->rpo, o->warn, o->crit);
	/* The last run is on record whether or not the volume can be read now. */
	rk = run_record_load(eng->cfg, v->name, &st.run, &re);
	st.run_known = rk > 0;
	if (rk == -ENOMEM) {
		k = rk;
		goto out;
	}
	k = engine_probe(eng, v, &e);
	if (k == 0)
		k = be->list(v, &l, &e);
	if (k < 0) {
		k = status_unreadable(&st, &e, k);
		if (k == 0 && rk < 0)
			k = problem(&st, CHECK_WARNING, "%s", re.msg);
		if (k == 0 && st.run_known && !st.run.success)
			k = status_judge_run(&st);
		goto out;
	}
	if (rk < 0)
		k = problem(&st, CHECK_WARNING, "%s", re.msg);
	if (k == 0)
		k = status_snapshots(&st, &l, eng->now);
	if (k < 0)
		goto out;
	if (be->health && be->health(v, &st.health, &e) < 0)
		k = problem(&st, CHECK_UNKNOWN, "its storage's health cannot be read: %s", e.msg);
	if (k == 0 && be->space(v, &st.space, &(struct rerr){ 0 }) == 0)
		st.space_known = true;
	if (k == 0 && be->room) {
		int r = be->room(v, st.room_why, sizeof(st.room_why), &e);

		st.no_room = r == 0;
		if (r < 0)
			k = problem(&st, CHECK_UNKNOWN, "its free space cannot be read: %s", e.msg);
	}
	if (k == 0)
		k = status_targets(&st, &l, o, period, eng->now);
	if (k == 0 && engine_advise(eng, v, st.advice, sizeof(st.advice)) <= 0)
		st.advice[0] = '\0';
	if (k == 0 && v->pkg_snapshots) {
		struct pkg_open po;

		if (engine_pkg_open(eng, v, &po) == 0) {
			st.pkg_open = TAKE_PTR(po.pre);
			st.pkg_opened = po.opened;
		}
		pkg_open_done(&po);
	}
	if (k == 0)
		k = status_judge(&st, eng->now);
out:
	if (k < 0) {
		volume_status_done(&st);
		return -ENOMEM;
	}
	*ret = st;
	return 0;
}
