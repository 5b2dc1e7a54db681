/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rotation engine. Order of every prune and run:
 *   1. repair: remove the incomplete entries an interrupted run left behind;
 *   2. (run) take a timeline snapshot if one is due and space permits;
 *   3. plan retention over the complete and foreign snapshots;
 *   4. refuse the whole plan if it deletes more than max_delete;
 *   5. delete, paced by delete_batch.
 * A failure on one snapshot is recorded and the rest go on; nothing here
 * prints, and nothing deletes a snapshot that retention did not mark.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/backend.h"
#include "base/debug.h"
#include "base/fault.h"
#include "base/util.h"
#include "engine/rotate.h"
#include "format/meta.h"
#include "model/stamp.h"
#include "os/freeze.h"
#include "os/hooks.h"

/*
 * Lists @v, removes the incomplete entries, and keeps the rest (complete and
 * foreign) in @r->snaps. An entry that cannot be removed is reported and left
 * out of retention, so it is never counted or deleted twice.
 * Return: 0; -EIO when an entry could not be removed; -ENODATA when @v could
 * not be listed at all (then nothing is known of it); -ENOMEM.
 */
static int rotate_repair(const struct volume *v, bool dry_run, struct volume_report *r)
{
	const struct backend *be = v->ops;
	_cleanup_snapshot_list_ struct snapshot_list all = { 0 };
	struct rerr e = { 0 };
	int ret = 0;

	if (be->recover && !dry_run) {
		char note[400];
		int k = be->recover(v, note, sizeof(note), &e);

		if (k > 0)
			volume_report_notice(r, note);
		if (k < 0) {
			volume_report_error(r, k, &e);
			return -ENODATA;
		}
	}
	ret = be->list(v, &all, &e);
	if (ret < 0) {
		volume_report_error(r, ret, &e);
		return -ENODATA;
	}
	for (size_t i = 0; i < all.n; i++) {
		struct snapshot *s = &all.items[i];

		if (s->damaged) {
			char msg[800];

			/* Not what a crash leaves: it may hold a whole snapshot. Kept, and said. */
			snprintf(msg, sizeof(msg), "%s: %s is damaged (%s); keeping it: repair it, or "
				 "remove it with 'snaprotate delete --force %s %s'", v->name, s->name,
				 s->problem ?: "?", v->name, s->name);
			volume_report_notice(r, msg);
		} else if (!s->complete && !s->foreign) {
			int k = 0;

			rerr_clear(&e);
			if (!dry_run)
				k = be->remove(v, s, &e);
			if (k < 0) {
				volume_report_error(r, k, &e);
				ret = -EIO;
			} else if (s->invalid || s->stale) {
				char msg[512];

				/* Not a crash leftover: the admin should know where it came from. */
				if (s->invalid)
					snprintf(msg, sizeof(msg),
						 "%s: %s %s: it overflowed its copy-on-write space and "
						 "LVM invalidated it (raise snapshot_size)",
						 v->name, dry_run ? "would remove" : "removed", s->name);
				else
					snprintf(msg, sizeof(msg),
						 "%s: %s stale entry %s: a copy of its info.json that a "
						 "snapshot of the volume carried (its snapshot directory is "
						 "a plain directory inside the volume)",
						 v->name, dry_run ? "would remove" : "removed", s->name);
				volume_report_notice(r, msg);
			} else if (volume_report_repaired(r, s->name) < 0) {
				ret = -ENOMEM;
			}
			continue;
		}
		if (snapshot_list_append(&r->snaps, s) < 0) {
			ret = -ENOMEM;
			break;
		}
	}
	if (ret == -ENOMEM)
		volume_report_error(r, ret, NULL);
	return ret;
}

static int rotate_apply(const struct volume *v, time_t now, bool dry_run,
			struct volume_report *r)
{
	const struct backend *be = v->ops;
	struct policy policy = v->policy;
	long budget = -1;
	int ret = 0, k;

	policy.keep_target_base = true;
	k = retention_plan(r->snaps.items, r->snaps.n, &policy, now, &r->plan);
	if (k < 0) {
		volume_report_error(r, k, NULL);
		return k;
	}
	if (v->max_delete >= 0 && r->plan->n_delete > (size_t)v->max_delete) {
		volume_report_errorf(r, "%s: retention would delete %zu snapshots, more than max_delete = %ld; deleted none",
			      v->name, r->plan->n_delete, v->max_delete);
		return -EIO;
	}
	if (dry_run)
		return 0;
	for (size_t i = 0; i < r->snaps.n; i++) {
		struct rerr e = { 0 };

		if (r->plan->d[i].keep)
			continue;
		/* Never more than delete_batch deleted snapshots waiting for the cleaner. */
		if (v->delete_batch > 0 && be->settle && budget <= 0) {
			k = be->settle(v, v->delete_batch, &e);
			if (k < 0) {
				volume_report_error(r, k, &e);
				rerr_clear(&e);
				budget = 1;
			} else {
				budget = (long)v->delete_batch - k;
				if (budget <= 0)
					budget = 1;
			}
		}
		k = be->remove(v, &r->snaps.items[i], &e);
		if (k < 0) {
			volume_report_error(r, k, &e);
			ret = -EIO;
			continue;
		}
		budget--;
		r->n_deleted++;
		DBG(RETENTION, "deleted '%s'", r->snaps.items[i].name);
	}
	return ret;
}

int rotate_prune(const struct volume *v, time_t now, bool dry_run,
		 struct sessions *ss, struct volume_report *r)
{
	struct replicate_opts o = { .prune_targets = true, .dry_run = dry_run };
	int k, t = 0, ret;

	r->volume = v;
	ret = rotate_repair(v, dry_run, r);
	if (ret < 0 && r->snaps.n == 0 && r->n_errors && !r->n_repaired)
		return -EIO;
	/* Targets first: the copies they delete stop protecting a base on the source. */
	if (ss && v->n_targets)
		t = replicate_volume(v, ss, now, &o, r);
	k = rotate_apply(v, now, dry_run, r);
	return ret < 0 || k < 0 || t < 0 ? -EIO : 0;
}

/* The newest timeline snapshot not after @now (a clock that went back must not make one due per firing). */
static bool rotate_last_timeline(const struct snapshot_list *l, time_t now, time_t *ret)
{
	for (size_t i = l->n; i > 0; i--) {
		const struct snapshot *s = &l->items[i - 1];

		if (!s->foreign && s->complete && s->kind == SNAP_TIMELINE && s->created <= now) {
			*ret = s->created;
			return true;
		}
	}
	return false;
}

/* Adds what a dry run would have created, so that its plan shows the real outcome. */
static int rotate_add_planned(const struct volume *v, time_t now, struct volume_report *r)
{
	char name[SNAP_NAME_MAX + 1];
	struct snapshot s = { .created = now, .seq = 1, .kind = SNAP_TIMELINE, .complete = true };

	if (snap_name_format(v->name, now, 1, name, sizeof(name)) < 0)
		return -EINVAL;
	s.name = strdup(name);
	s.description = strdup("");
	r->created = strdup(name);
	if (!s.name || !s.description || !r->created || snapshot_list_append(&r->snaps, &s) < 0) {
		snapshot_done(&s);
		return -ENOMEM;
	}
	snapshot_list_sort(&r->snaps);
	return 0;
}

/* The first collision sequence free for a snapshot of @v at @now (1 when unknown). */
static unsigned rotate_free_seq(const struct volume *v, time_t now)
{
	_cleanup_snapshot_list_ struct snapshot_list l = { 0 };
	char name[SNAP_NAME_MAX + 1];
	struct rerr e = { 0 };
	unsigned seq = 1;

	if (v->ops->list(v, &l, &e) < 0)
		return 1;
	if (snapshot_free_name(&l, v->name, now, 1, name, sizeof(name), &seq) < 0)
		seq = 1;
	return seq;
}

/* What a hook is told about a volume. */
static struct hook_env rotate_hook_env(const struct volume *v, const char *name,
				       enum snap_kind kind, const char *result)
{
	return (struct hook_env){ .volume = v->name,
				  .path = v->ops->origin(v),
				  .snapshot = name, .kind = snap_kind_to_string(kind),
				  .result = result };
}

/* The mount points to freeze of the group's members (btrfs is never frozen). */
static int rotate_freeze_mounts(const struct take *t, size_t n, char **mounts, size_t *ret_n,
				struct rerr *e)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		char *target = NULL;
		int k;

		if (!t[i].v->ops->freeze_target)
			continue;
		k = t[i].v->ops->freeze_target(t[i].v, &target, e);
		if (k < 0)
			return k;
		if (k > 0)
			mounts[m++] = target;
	}
	*ret_n = m;
	return 0;
}

static bool rotate_create_one(struct take *t, struct volume_report *r)
{
	struct rerr e = { 0 };
	int k = t->v->ops->create(t->v, &t->s, &e);

	if (k < 0) {
		volume_report_error(r, k, &e);
		return false;
	}
	t->taken = true;
	return true;
}

/* Undoes what was taken of a group: a group is taken whole or not at all. */
static void rotate_untake(struct take *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct rerr re = { 0 };

		if (t[i].taken && t[i].v->ops->remove(t[i].v, &t[i].s, &re) == 0)
			t[i].taken = false;
	}
}

/*
 * The snapshots of one unit. A group with freeze = yes freezes its mounted
 * members around them (SPEC 7); where a member's storage cannot snapshot a
 * frozen filesystem (LVM before Linux 6.6), it takes them one by one with
 * LVM's own suspend, and says so.
 */
static bool rotate_create_all(const struct config *cfg, struct take *t, size_t n, time_t now,
			      struct volume_report *reports)
{
	const struct group *g = n > 1 && t[0].v->group ? t[0].v->grp : NULL;
	char *mounts[GROUP_MAX] = { NULL };
	struct freeze *fz = NULL;
	size_t n_mounts = 0;
	bool ok = true, frozen_ok = true;
	struct rerr e = { 0 };

	for (size_t i = 0; i < n; i++) {
		t[i].s.created = now;
		if (!t[i].s.description && !(t[i].s.description = strdup("")))
			return false;
		if (t[i].v->ops->snapshot_frozen_ok && !t[i].v->ops->snapshot_frozen_ok(t[i].v))
			frozen_ok = false;
	}
	if (g && g->freeze && !frozen_ok) {
		char msg[300];

		snprintf(msg, sizeof(msg),
			 "%s: the kernel refuses a snapshot of a frozen filesystem (before Linux 6.6): took the group's snapshots one by one, each with LVM's own suspend",
			 g->name);
		volume_report_notice(&reports[0], msg);
	} else if (g && g->freeze) {
		if (rotate_freeze_mounts(t, n, mounts, &n_mounts, &e) < 0 ||
		    (n_mounts && freeze_begin(mounts, n_mounts, cfg->freeze_timeout, &fz, &e) < 0)) {
			volume_report_error(&reports[0], -e.code, &e);
			ok = false;
		}
	}
	if (fz)
		FAULT("freeze.frozen");
	for (size_t i = 0; i < n && ok; i++) {
		ok = rotate_create_one(&t[i], &reports[i]);
		if (ok && n > 1)
			FAULT("group.taken");
	}
	if (fz && freeze_end(fz, &e) < 0) {
		volume_report_error(&reports[0], -e.code, &e);
		ok = false;
	}
	for (size_t i = 0; i < n_mounts; i++)
		free(mounts[i]);
	if (!ok)
		rotate_untake(t, n);
	return ok;
}

int rotate_take(const struct config *cfg, struct take *t, size_t n, time_t now,
		struct volume_report *reports)
{
	bool ok = true, pre_ran[GROUP_MAX] = { false };
	int k;

	assert(n <= GROUP_MAX);
	/* Refuse unsafe hooks and a full disk before anything runs. */
	for (size_t i = 0; i < n; i++) {
		const struct volume *v = t[i].v;
		struct rerr e = { 0 };
		char why[400] = "";

		reports[i].volume = v;
		k = hooks_check(v->pre_hooks, v->n_pre_hooks, &e);
		if (k == 0)
			k = hooks_check(v->post_hooks, v->n_post_hooks, &e);
		if (k < 0) {
			char text[sizeof(e.msg) + 64];

			volume_report_errorf(&reports[i], "%s: no snapshot: %s", v->name,
					     rerr_text(&e, k, text, sizeof(text)));
			ok = false;
			continue;
		}
		k = v->ops->room(v, why, sizeof(why), &e);
		if (k < 0) {
			volume_report_error(&reports[i], k, &e);
			ok = false;
		} else if (k == 0) {
			volume_report_errorf(&reports[i], "%s: not enough free space for a snapshot (%s)",
				      v->name, why);
			ok = false;
		}
	}
	if (!ok)
		return -EIO;
	/* Every pre hook, then every snapshot, then every post hook: a group is one instant. */
	for (size_t i = 0; i < n && ok; i++) {
		const struct volume *v = t[i].v;
		char name[SNAP_NAME_MAX + 1] = "";
		struct hook_env env;
		struct rerr e = { 0 };

		/* The name it will get: claimed now (we hold the lock), so the pre hook is told right. */
		if (v->n_pre_hooks)
			t[i].s.seq = rotate_free_seq(v, now);
		(void) snap_name_format(v->name, now, t[i].s.seq ? t[i].s.seq : 1, name, sizeof(name));
		env = rotate_hook_env(v, name, t[i].s.kind, NULL);
		pre_ran[i] = true;
		k = hooks_run(v->pre_hooks, v->n_pre_hooks, HOOK_PRE, &env, cfg->hook_timeout, &e);
		if (k < 0) {
			/* The hook's own words say why; errno would only blur them. */
			volume_report_errorf(&reports[i], "%s: no snapshot: %s", v->name, e.msg);
			ok = false;
		}
	}
	if (ok)
		ok = rotate_create_all(cfg, t, n, now, reports);
	for (size_t i = 0; i < n; i++) {
		const struct volume *v = t[i].v;
		char name[SNAP_NAME_MAX + 1] = "";
		struct hook_env env;
		struct rerr e = { 0 };

		if (!pre_ran[i])
			continue;
		if (t[i].taken)
			snprintf(name, sizeof(name), "%s", t[i].s.name);
		env = rotate_hook_env(v, name, t[i].s.kind, t[i].taken ? "success" : "failure");
		k = hooks_run(v->post_hooks, v->n_post_hooks, HOOK_POST, &env, cfg->hook_timeout, &e);
		if (k < 0) {
			/* The snapshot stands; the failure is still reported. */
			volume_report_errorf(&reports[i], "%s: %s", v->name, e.msg);
			ok = false;
		}
	}
	return ok ? 0 : -EIO;
}

int rotate_run(const struct config *cfg, struct volume *const *vols, size_t n, time_t now,
	       bool dry_run, struct sessions *ss, const struct replicate_opts *o,
	       struct volume_report *reports)
{
	bool due = false, failed = false, unknown = false;

	for (size_t i = 0; i < n; i++) {
		struct volume_report *r = &reports[i];
		time_t last = 0;
		bool have;
		int k;

		r->volume = vols[i];
		k = rotate_repair(vols[i], dry_run, r);
		if (k < 0)
			failed = true;
		/* A volume that cannot be listed would look due at every run, unpruned. */
		unknown |= k == -ENODATA;
		have = rotate_last_timeline(&r->snaps, now, &last);
		r->due = due_timeline(&vols[i]->policy, vols[i]->interval, have, last, now);
		r->decided = k != -ENODATA;
		due |= r->due;
	}
	if (unknown) {
		due = false;
		for (size_t i = 0; i < n; i++)
			reports[i].due = reports[i].decided = false;
	}
	if (due && dry_run) {
		for (size_t i = 0; i < n; i++) {
			reports[i].due = true;
			if (rotate_add_planned(vols[i], now, &reports[i]) < 0)
				failed = true;
		}
	} else if (due) {
		struct take takes[GROUP_MAX];

		memset(takes, 0, sizeof(takes));
		for (size_t i = 0; i < n; i++) {
			reports[i].due = true;
			takes[i].v = vols[i];
			takes[i].s.kind = SNAP_TIMELINE;
		}
		if (rotate_take(cfg, takes, n, now, reports) < 0)
			failed = true;
		for (size_t i = 0; i < n; i++) {
			if (takes[i].taken) {
				reports[i].created = strdup(takes[i].s.name);
				if (snapshot_list_append(&reports[i].snaps, &takes[i].s) < 0)
					failed = true;
			}
			snapshot_done(&takes[i].s);
		}
	}
	/*
	 * Send before pruning the source: what the targets then hold is recorded
	 * (sent_to), so the source keeps the right base. A target that cannot be
	 * reached fails alone; the source is still pruned.
	 */
	for (size_t i = 0; i < n; i++)
		if (vols[i]->n_targets && replicate_volume(vols[i], ss, now, o, &reports[i]) < 0)
			failed = true;
	for (size_t i = 0; i < n; i++)
		if (rotate_apply(vols[i], now, dry_run, &reports[i]) < 0)
			failed = true;
	for (size_t i = 0; i < n; i++)
		if (reports[i].n_errors)
			failed = true;
	return failed ? -EIO : 0;
}
