/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "engine/pkg.h"
#include "engine/rollback.h"
#include "engine/run.h"
#include "engine/runstate.h"
#include "engine/snapshots.h"

int engine_snapshot(struct engine *eng, struct take *takes, size_t n, struct volume_report *reps,
		    struct rerr *e)
{
	int ret = 0;

	/* Resolve every --pre first: a wrong name takes no snapshot at all. */
	for (size_t i = 0; i < n; i++) {
		char *pre = takes[i].s.pre;
		int r;

		if (!pre)
			continue;
		takes[i].s.pre = NULL;
		r = engine_find_pre(eng, takes[i].v, pre, &takes[i].s.pre, e);
		free(pre);
		if (r < 0)
			return r;
	}
	if (eng->dry_run)
		return 0;
	/*
	 * Each volume is a unit of its own, but the members of a group, adjacent
	 * after engine_units(), are taken together (one instant, hooks around all
	 * of them).
	 */
	for (size_t i = 0, m; i < n; i += m) {
		for (m = 1; i + m < n && takes[i].v->group && takes[i + m].v->group &&
			    streq(takes[i].v->group, takes[i + m].v->group); m++)
			;
		if (rotate_take(eng->cfg, takes + i, m, eng->now, reps + i) < 0)
			ret = -EIO;
	}
	return ret;
}

int engine_prune(struct engine *eng, struct volume **vols, size_t n, engine_unit_fn fn,
		 void *user)
{
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		struct volume_report rep = { 0 };

		if (rotate_prune(vols[i], eng->now, eng->dry_run, engine_sessions(eng), &rep) < 0)
			ret = -EIO;
		fn(user, &rep, 1, NULL);
		volume_report_done(&rep);
	}
	return ret;
}

static void run_failed(struct run_summary *sum, const char *name)
{
	size_t len = strlen(sum->failed);

	snprintf(sum->failed + len, sizeof(sum->failed) - len, "%s%s", sum->n_failed ? " " : "",
		 name);
	sum->n_failed++;
}

/* A package pre that never got its post (the manager was killed) is closed, and said. */
static void run_close_stale_pairs(struct engine *eng, struct volume **unit, size_t m,
				  struct volume_report *reps)
{
	for (size_t u = 0; u < m; u++) {
		char *pre = NULL, msg[300];
		struct rerr e = { 0 };

		if (!unit[u]->pkg_snapshots)
			continue;
		if (engine_pkg_close_stale(eng, unit[u], &pre, &e) < 0) {
			volume_report_error(&reps[u], -e.code, &e);
		} else if (pre) {
			snprintf(msg, sizeof(msg), "%s: package pre %s never got its post (was the "
				 "package manager killed?): closed, it stays a single snapshot",
				 unit[u]->name, pre);
			volume_report_notice(&reps[u], msg);
		}
		free(pre);
	}
}

/* After a successful run, the pins a rollback put on the state before it are released. */
static void run_release_rollback_pins(struct engine *eng, struct volume **unit, size_t m,
				      struct volume_report *reps)
{
	for (size_t u = 0; u < m && !eng->dry_run; u++) {
		if (reps[u].n_errors)
			continue;
		for (size_t i = 0; i < reps[u].snaps.n; i++) {
			struct snapshot *s = &reps[u].snaps.items[i];
			struct rerr e = { 0 };
			char msg[300];

			if (!s->complete || !s->pinned || s->kind != SNAP_MANUAL || !s->description ||
			    !startswith(s->description, ROLLBACK_SAVED_PREFIX) || s->created >= eng->now)
				continue;
			s->pinned = false;
			if (unit[u]->ops->update(unit[u], s, &e) < 0) {
				s->pinned = true;
				continue;
			}
			snprintf(msg, sizeof(msg), "%s: unpinned %s, the state before a rollback: this "
				 "run succeeded", unit[u]->name, s->name);
			volume_report_notice(&reps[u], msg);
		}
	}
}

/*
 * One unit of run: a volume, or a group's members together. Probe, lock, run,
 * record the state. A unit whose lock another snaprotate holds is skipped and
 * records nothing: the volume did not fail, it is busy.
 */
static int run_unit(struct engine *eng, struct volume **unit, size_t m,
		    const struct replicate_opts *o, engine_unit_fn fn, void *user,
		    struct run_summary *sum)
{
	struct volume_report reps[GROUP_MAX];
	struct rerr le = { 0 };
	struct timespec t0, t1;
	bool ok = true, locked = false;

	memset(reps, 0, sizeof(reps));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t u = 0; u < m; u++) {
		struct rerr e = { 0 };

		reps[u].volume = unit[u];
		if (engine_probe(eng, unit[u], &e) < 0) {
			volume_report_fail(&reps[u], e.msg);
			ok = false;
		}
	}
	if (ok && engine_lock(eng, unit, m, &le) < 0) {
		ok = false;
		locked = le.code == EAGAIN;
		for (size_t u = 0; u < m && !locked; u++)
			volume_report_fail(&reps[u], "cannot take the volume's lock");
	}
	if (ok)
		run_close_stale_pairs(eng, unit, m, reps);
	if (ok && rotate_run(eng->cfg, unit, m, eng->now, eng->dry_run, engine_sessions(eng), o,
			     reps) < 0)
		ok = false;
	if (ok)
		run_release_rollback_pins(eng, unit, m, reps);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (size_t u = 0; u < m && !locked; u++) {
		struct rerr e = { 0 };

		reps[u].seconds = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (!eng->dry_run && run_record_save(eng->cfg, &reps[u], eng->now, &e) < 0) {
			volume_report_error(&reps[u], -e.code, &e);
			ok = false;
		}
	}
	fn(user, reps, m, le.code ? &le : NULL);
	for (size_t u = 0; u < m; u++) {
		if (reps[u].n_errors && !locked)
			run_failed(sum, unit[u]->name);
		volume_report_done(&reps[u]);
	}
	/* Locks are per unit: release them before the next one. */
	engine_unlock(eng);
	sum->locked |= locked;
	return ok || locked ? 0 : -EIO;
}

int engine_run(struct engine *eng, struct volume **vols, size_t n,
	       const struct replicate_opts *o, engine_unit_fn fn, void *user,
	       struct run_summary *sum)
{
	_cleanup_free_ bool *done = calloc(n + 1, sizeof(*done));
	int ret = 0;

	*sum = (struct run_summary){ 0 };
	if (!done)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct volume *unit[GROUP_MAX];
		const struct group *g;
		size_t m = 0;

		if (done[i])
			continue;
		g = vols[i]->group ? vols[i]->grp : NULL;
		if (g) {
			for (size_t k = 0; k < g->n_volumes; k++)
				unit[m++] = config_volume(eng->cfg, g->volumes[k]);
		} else {
			unit[m++] = vols[i];
		}
		for (size_t k = 0; k < n; k++)
			for (size_t u = 0; u < m; u++)
				if (vols[k] == unit[u])
					done[k] = true;
		if (run_unit(eng, unit, m, o, fn, user, sum) < 0)
			ret = -EIO;
	}
	return ret;
}
