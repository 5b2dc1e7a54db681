/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Replication to targets (SPEC 4 and 6), for one volume and each of its
 * targets, over one shared session per target:
 *   1. list the target's copies; a copy belongs to the source snapshot whose
 *      uuid it carries, and sent_to records are brought in line with that;
 *   2. send, oldest first, every snapshot newer than the target's newest copy
 *      that the target's own retention would keep (so always the newest),
 *      each incremental from the newest older snapshot the target holds;
 *   3. apply the target's retention there (never its newest copy), and
 *      forget sent_to records of the copies deleted.
 * sent_to is written to the source only after the target confirmed a
 * complete copy, so a crash can only make snaprotate send something again.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "base/debug.h"
#include "base/fault.h"
#include "base/util.h"
#include "engine/replicate.h"
#include "engine/snapshots.h"
#include "model/stamp.h"
#include "policy/freshness.h"
#include "policy/replication.h"

struct session {
	const struct target *target;
	bool tried;
	int error;
	struct rerr err;
	struct target_conn conn;
};

struct sessions {
	struct session *s;
	size_t n;
};

struct sessions *sessions_new(const struct config *cfg)
{
	struct sessions *ss = calloc(1, sizeof(*ss));

	if (!ss)
		return NULL;
	ss->s = calloc(cfg->n_targets + 1, sizeof(*ss->s));
	if (!ss->s) {
		free(ss);
		return NULL;
	}
	ss->n = cfg->n_targets;
	for (size_t i = 0; i < ss->n; i++)
		ss->s[i].target = &cfg->targets[i];
	return ss;
}

struct sessions *sessions_free(struct sessions *ss)
{
	if (!ss)
		return NULL;
	for (size_t i = 0; i < ss->n; i++)
		if (ss->s[i].tried && !ss->s[i].error)
			target_close(&ss->s[i].conn);
	free(ss->s);
	free(ss);
	return NULL;
}

/* The session to @t, opened on first use; a failure is remembered, not retried. */
int sessions_get(struct sessions *ss, const struct target *t, struct target_conn **ret,
			struct rerr *e)
{
	for (size_t i = 0; i < ss->n; i++) {
		struct session *s = &ss->s[i];

		if (s->target != t)
			continue;
		if (!s->tried) {
			s->tried = true;
			s->error = target_open(t, &s->conn, &s->err);
		}
		if (s->error < 0) {
			*e = s->err;
			return s->error;
		}
		if (s->conn.broken)
			return rerr_set(e, EPIPE, "target '%s': the session was lost", t->name);
		*ret = &s->conn;
		return 0;
	}
	return rerr_set(e, ENOENT, "target '%s' is not configured", t->name);
}

static bool replicate_has_record(const struct snapshot *s, const char *target)
{
	for (size_t i = 0; i < s->n_sent; i++)
		if (streq(s->sent[i].target, target))
			return true;
	return false;
}

static int replicate_update(const struct volume *v, struct snapshot *s, bool dry_run,
			    struct volume_report *r)
{
	struct rerr e = { 0 };
	int k;

	if (dry_run)
		return 0;
	k = v->ops->update(v, s, &e);
	if (k < 0)
		volume_report_error(r, k, &e);
	return k;
}

/* Makes sent_to say what the target holds: a record per copy, none for the rest. */
static void replicate_reconcile(const struct volume *v, struct snapshot_list *src,
				const struct snapshot_list *copies, const char *target,
				time_t now, bool dry_run, struct volume_report *r)
{
	for (size_t i = 0; i < src->n; i++) {
		struct snapshot *s = &src->items[i];
		bool held, recorded;

		if (s->foreign || !s->complete)
			continue;
		held = replication_held(copies, s);
		recorded = replicate_has_record(s, target);
		if (held == recorded)
			continue;
		if (held && snapshot_sent_set(s, target, now) < 0)
			continue;
		if (!held)
			snapshot_sent_remove(s, target);
		DBG(SEND, "%s: sent_to '%s' %s for '%s'", v->name, target,
		    held ? "added" : "removed", s->name);
		(void) replicate_update(v, s, dry_run, r);
	}
}

static int replicate_add_transfer(struct target_report *tr, const char *name, const char *parent,
				  uint64_t bytes)
{
	struct transfer *n = realloc(tr->sent, (tr->n_sent + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	tr->sent = n;
	n = &tr->sent[tr->n_sent];
	*n = (struct transfer){ .name = strdup(name), .parent = xstrdup_or_null(parent),
				.bytes = bytes };
	if (!n->name || (parent && !n->parent)) {
		free(n->name);
		free(n->parent);
		return -ENOMEM;
	}
	tr->n_sent++;
	return 0;
}

struct replicate_progress {
	const struct replicate_opts *o;
	const char *volume;
	const char *target;
};

static void replicate_progress(void *user, const char *name, uint64_t bytes, bool done)
{
	struct replicate_progress *p = user;

	p->o->progress(p->o->user, p->volume, p->target, name, bytes, done);
}

/*
 * One snapshot to @tc, against @parent where the storage can send only what
 * changed since (the backend decides: btrfs always, a thin LV's delta, a
 * thick LV never). Return: 0 with @copy (the target's new copy, as it records
 * it), the parent used and @ret_bytes, or -errno with @e.
 */
static int replicate_one(const struct volume *v, struct target_conn *tc, const struct snapshot *s,
			 const struct snapshot *parent, const struct replicate_opts *o,
			 struct replicate_progress *rp, struct snapshot *copy, const char **ret_parent,
			 uint64_t *ret_bytes, struct rerr *e)
{
	struct stream_source src = { 0 };
	struct snapshot info;
	int k;

	k = v->ops->stream_open(v, s, parent, &src, e);
	if (k < 0)
		return k;
	info = *s;
	info.image = (char *)src.image;
	info.base = (char *)src.base;
	k = target_receive(tc, v->name, &info, src.produce, src.priv,
			   o->progress ? replicate_progress : NULL, rp, ret_bytes, e);
	*ret_parent = src.parent;	/* @parent's name, or NULL */
	if (k == 0 && ((src.image && !(copy->image = strdup(src.image))) ||
		       (src.base && !(copy->base = strdup(src.base)))))
		k = rerr_set(e, ENOMEM, "out of memory");
	v->ops->stream_close(v, &src);
	return k;
}

/* Records a failure with a target as "VOLUME: target 'T': ...": one target serves many volumes. */
static void replicate_fail(struct volume_report *r, const struct volume *v, int k,
			   const struct rerr *e)
{
	struct rerr named = *e;
	size_t n = strlen(v->name);

	if (e->msg[0] && strncmp(e->msg, v->name, n) == 0 && e->msg[n] == ':') {
		volume_report_error(r, k, e);
		return;
	}
	rerr_prefix(&named, k, "%s", v->name);
	volume_report_error(r, k, &named);
}

static int replicate_send(const struct volume *v, struct target_conn *tc, struct snapshot_list *src,
			  struct snapshot_list *copies, time_t now, const struct replicate_opts *o,
			  struct target_report *tr, struct volume_report *r)
{
	const struct backend *be = v->ops;
	const struct target *t = tc->target;
	_cleanup_free_ bool *want = NULL;
	int k;

	if (!be->stream_open) {
		struct rerr e = { 0 };

		volume_report_error(r, rerr_set(&e, EOPNOTSUPP, "%s: target '%s': sending %s volumes is not available yet",
						v->name, t->name, be->name), &e);
		return -EOPNOTSUPP;
	}
	want = calloc(src->n + 1, sizeof(*want));
	if (!want)
		return -ENOMEM;
	k = replication_choose(&t->policy, src, copies, t->send_pinned, now, want);
	if (k < 0)
		return k;
	for (size_t i = 0; i < src->n; i++) {
		struct snapshot *s = &src->items[i];
		struct replicate_progress rp = { .o = o, .volume = v->name, .target = t->name };
		const struct snapshot *parent;
		const char *used = NULL;
		struct rerr e = { 0 };
		uint64_t bytes = 0;
		struct snapshot copy = { 0 };

		if (!want[i])
			continue;
		parent = replication_parent(src, copies, s,
					    be->copies_chain ? REPLICATION_CHAIN_MAX : 0);
		DBG(SEND, "%s: '%s' to '%s': parent '%s'", v->name, s->name, t->name,
		    parent ? parent->name : "none");
		if (o->dry_run) {
			k = replicate_add_transfer(tr, s->name, parent ? parent->name : NULL, 0);
		} else {
			k = replicate_one(v, tc, s, parent, o, &rp, &copy, &used, &bytes, &e);
			if (k < 0) {
				snapshot_done(&copy);
				replicate_fail(r, v, k, &e);
				/* What follows would build on this one: stop here. */
				return k;
			}
			k = replicate_add_transfer(tr, s->name, used, bytes);
		}
		if (k < 0) {
			snapshot_done(&copy);
			return k;
		}
		/* From now on the target holds it: later ones can build on it. */
		copy.name = strdup(s->name);
		copy.uuid = xstrdup_or_null(s->uuid);
		copy.description = strdup("");
		copy.created = s->created;
		copy.seq = s->seq;
		copy.kind = s->kind;
		copy.pinned = t->send_pinned && s->pinned;
		copy.complete = true;
		if (!copy.name || !copy.description || snapshot_list_append(copies, &copy) < 0) {
			snapshot_done(&copy);
			return -ENOMEM;
		}
		if (!o->dry_run)
			FAULT("send.done");
		if (!o->dry_run && snapshot_sent_set(s, t->name, now) == 0)
			(void) replicate_update(v, s, false, r);
	}
	snapshot_list_sort(copies);
	return 0;
}

static int replicate_prune_target(const struct volume *v, struct target_conn *tc,
				  struct snapshot_list *src, time_t now,
				  const struct replicate_opts *o, struct target_report *tr,
				  struct volume_report *r)
{
	const struct target *t = tc->target;
	int k, ret = 0;

	k = retention_plan(tr->copies.items, tr->copies.n, &t->policy, now, &tr->plan);
	if (k < 0)
		return k;
	retention_keep_chains(tr->copies.items, tr->copies.n, tr->plan);
	for (size_t i = 0; i < tr->copies.n; i++) {
		struct snapshot *copy = &tr->copies.items[i], *s;
		struct rerr e = { 0 };

		if (tr->plan->d[i].keep || o->dry_run)
			continue;
		k = target_delete(tc, v->name, copy->name, &e);
		if (k < 0) {
			replicate_fail(r, v, k, &e);
			ret = k;
			if (tc->broken)
				break;
			continue;
		}
		tr->n_deleted++;
		s = replication_source_of(src, copy);
		if (s && snapshot_sent_remove(s, t->name))
			(void) replicate_update(v, s, false, r);
	}
	return ret;
}

/*
 * A target that is absent (its disk not mounted, its host not answering) is,
 * for run (@offline_ok), no failure while its newest copy of @v is within the
 * target's rpo: said, and the run goes on. Past the rpo, with no copy at all,
 * or for a send asked by hand, it fails.
 * Return: 0 or -EIO (recorded in @r).
 */
static int replicate_offline(const struct volume *v, const struct target *t,
			     const struct snapshot_list *src, time_t now, bool offline_ok,
			     const struct rerr *e, struct volume_report *r)
{
	struct freshness lim = freshness_limits(freshness_period(&v->policy, v->interval), t->rpo,
						0, 0);
	const struct snapshot *held = NULL;
	char age[32], rpo[32], msg[sizeof(e->msg) + 300];

	r->targets[r->n_targets - 1].problem = strdup(e->msg);
	if (!offline_ok) {
		replicate_fail(r, v, -e->code, e);
		return -EIO;
	}
	for (size_t i = 0; i < src->n; i++)
		if (src->items[i].complete && replicate_has_record(&src->items[i], t->name))
			held = &src->items[i];
	if (!held) {
		volume_report_errorf(r, "%s: %s; it holds no copy of this volume yet", v->name,
				     e->msg);
		return -EIO;
	}
	age_format(lim.crit, rpo, sizeof(rpo));
	age_format(now - held->created, age, sizeof(age));
	if (now - held->created >= lim.crit) {
		volume_report_errorf(r, "%s: %s; its newest copy, %s, is %s old, past the target's "
				     "rpo of %s", v->name, e->msg, held->name, age, rpo);
		return -EIO;
	}
	snprintf(msg, sizeof(msg), "%s: %s; its newest copy, %s, is %s old, within the target's "
		 "rpo of %s: not a failure yet", v->name, e->msg, held->name, age, rpo);
	volume_report_notice(r, msg);
	return 0;
}

int replicate_volume(const struct volume *v, struct sessions *ss,
		     time_t now, const struct replicate_opts *o, struct volume_report *r)
{
	const struct backend *be = v->ops;
	bool failed = false;
	int k;

	r->volume = v;
	if (r->snaps.n == 0) {
		struct rerr e = { 0 };
		struct snapshot_list all = { 0 };

		k = be->list(v, &all, &e);
		if (k < 0) {
			volume_report_error(r, k, &e);
			return -EIO;
		}
		r->snaps = all;
	}
	for (size_t ti = 0; ti < v->n_targets; ti++) {
		const struct target *t = v->target_list[ti];
		struct target_report *tr, *grown;
		struct target_conn *tc = NULL;
		struct rerr e = { 0 };
		size_t before;

		if (!t || (o->only_target && !streq(o->only_target, t->name)))
			continue;
		grown = realloc(r->targets, (r->n_targets + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		r->targets = grown;
		tr = &r->targets[r->n_targets++];
		*tr = (struct target_report){ .target = t };
		before = r->n_errors;
		k = sessions_get(ss, t, &tc, &e);
		if (k == -EHOSTDOWN || k == -EHOSTUNREACH) {
			tr->offline = true;
			if (replicate_offline(v, t, &r->snaps, now, o->offline_ok, &e, r) < 0)
				tr->failed = failed = true;
			continue;
		}
		if (k == 0)
			k = target_list(tc, v->name, &tr->copies, &e);
		if (k < 0) {
			replicate_fail(r, v, k, &e);
			tr->failed = failed = true;
		} else {
			tr->reached = true;
			replication_mirror_pins(&r->snaps, &tr->copies, t->send_pinned);
			replicate_reconcile(v, &r->snaps, &tr->copies, t->name, now, o->dry_run, r);
			if (o->send && replicate_send(v, tc, &r->snaps, &tr->copies, now, o, tr, r) < 0)
				tr->failed = failed = true;
			if (o->prune_targets &&
			    replicate_prune_target(v, tc, &r->snaps, now, o, tr, r) < 0)
				tr->failed = failed = true;
		}
		if (tr->failed && r->n_errors > before && !(tr->problem = strdup(r->errors[before])))
			return -ENOMEM;
	}
	return failed ? -EIO : 0;
}

int engine_list_target(struct engine *eng, const struct volume *v, const struct target *t,
		       struct snapshot_list *ret, struct rerr *e)
{
	struct sessions *ss = engine_sessions(eng);
	struct target_conn *tc;
	int k;

	if (!ss)
		return rerr_set(e, ENOMEM, "out of memory");
	k = sessions_get(ss, t, &tc, e);
	return k < 0 ? k : target_list(tc, v->name, ret, e);
}
