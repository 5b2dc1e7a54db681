/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "backends/backend.h"
#include "base/util.h"
#include "engine/pkg.h"
#include "engine/run.h"
#include "engine/snapshots.h"
#include "format/meta.h"
#include "model/stamp.h"
#include "os/sysroot.h"

#define PKG_STATE_MAX	(1 << 20)

/* STATE_DIR/VOLUME.pkg.json: the pair a volume has open, or last closed. */
struct pkg_state {
	enum pkg_tool tool;
	char *pre;			/* NULL: no pair */
	time_t opened;
	char *post;			/* NULL while open */
	time_t closed;			/* 0 while open */
	char *replaces;			/* a reopened pair's earlier post, deleted by the next */
	struct pkg_txn txn;		/* what changed since the pre */
};

/* The work on one volume. */
struct pkg_work {
	struct volume *v;
	struct pkg_result *res;
	struct pkg_state st;
	bool take;
	struct take t;
};

static void pkg_state_done(struct pkg_state *s)
{
	free(s->pre);
	free(s->post);
	free(s->replaces);
	pkg_txn_done(&s->txn);
	*s = (struct pkg_state){ 0 };
}

void pkg_results_free(struct pkg_result *r, size_t n)
{
	for (size_t i = 0; r && i < n; i++) {
		free(r[i].name);
		free(r[i].description);
		free(r[i].dropped);
		free(r[i].abandoned);
	}
	free(r);
}

void pkg_open_done(struct pkg_open *o)
{
	free(o->pre);
	*o = (struct pkg_open){ 0 };
}

static const char *pkg_json_string(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static time_t pkg_json_time(struct json_object *o, const char *key)
{
	const char *s = pkg_json_string(o, key);
	time_t t;

	return s && time_parse_iso(s, &t) == 0 ? t : 0;
}

/* Fills @s from the parsed file; what does not parse is left out. */
static int pkg_state_from_json(struct json_object *o, struct pkg_state *s)
{
	const char *tool = pkg_json_string(o, "tool"), *p;
	struct json_object *changes, *total;

	s->tool = tool ? pkg_tool_from_string(tool) : PKG_APT;
	if (s->tool == _PKG_TOOL_INVALID)
		s->tool = PKG_APT;
	if (((p = pkg_json_string(o, "pre")) && !(s->pre = strdup(p))) ||
	    ((p = pkg_json_string(o, "post")) && !(s->post = strdup(p))) ||
	    ((p = pkg_json_string(o, "replaces")) && !(s->replaces = strdup(p))))
		return -ENOMEM;
	s->opened = pkg_json_time(o, "opened");
	s->closed = pkg_json_time(o, "closed");
	if (json_object_object_get_ex(o, "changes", &changes) &&
	    json_object_is_type(changes, json_type_array))
		for (size_t i = 0; i < json_object_array_length(changes); i++) {
			struct json_object *c = json_object_array_get_idx(changes, i);
			const char *a = pkg_json_string(c, "action"), *name = pkg_json_string(c, "name");
			enum pkg_action act = a ? pkg_action_from_string(a) : _PKG_ACTION_INVALID;

			if (name && act != _PKG_ACTION_INVALID && pkg_txn_add(&s->txn, act, name) < 0)
				return -ENOMEM;
		}
	if (json_object_object_get_ex(o, "total", &total) &&
	    json_object_is_type(total, json_type_int) &&
	    json_object_get_int64(total) > (int64_t)s->txn.total)
		s->txn.total = (size_t)json_object_get_int64(total);
	return 0;
}

/* A missing or unreadable file is no pair: the worst it costs is one extra pre. */
static int pkg_state_read(const struct config *cfg, const struct volume *v, struct pkg_state *s)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int dirfd = -1;
	char file[VOLUME_NAME_MAX + 16];
	size_t len;

	*s = (struct pkg_state){ 0 };
	dirfd = open(cfg->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return errno == ENOENT ? 0 : -errno;
	snprintf(file, sizeof(file), "%s.pkg.json", v->name);
	if (read_all_at(dirfd, file, PKG_STATE_MAX, &text, &len) < 0)
		return 0;
	o = json_tokener_parse(text);
	if (!o || !json_object_is_type(o, json_type_object))
		return 0;
	return pkg_state_from_json(o, s);
}

static struct json_object *pkg_state_to_json(const struct volume *v, const struct pkg_state *s)
{
	struct json_object *o = json_object_new_object(), *changes = json_object_new_array();
	char opened[ISO_TIME_LEN], closed[ISO_TIME_LEN];
	bool ok = o && changes;

	ok = ok && meta_add(o, "format", json_object_new_int(1)) == 0 &&
	     meta_add(o, "volume", json_object_new_string(v->name)) == 0 &&
	     meta_add(o, "tool", json_object_new_string(pkg_tool_to_string(s->tool))) == 0 &&
	     meta_add(o, "pre", s->pre ? json_object_new_string(s->pre) : NULL) == 0 &&
	     meta_add(o, "opened", s->opened ? json_object_new_string(time_format_iso(s->opened, opened)) : NULL) == 0 &&
	     meta_add(o, "post", s->post ? json_object_new_string(s->post) : NULL) == 0 &&
	     meta_add(o, "closed", s->closed ? json_object_new_string(time_format_iso(s->closed, closed)) : NULL) == 0 &&
	     meta_add(o, "replaces", s->replaces ? json_object_new_string(s->replaces) : NULL) == 0;
	for (size_t i = 0; ok && i < s->txn.n; i++) {
		struct json_object *c = json_object_new_object();

		ok = c && meta_add(c, "action", json_object_new_string(
				   pkg_action_to_string(s->txn.items[i].action))) == 0 &&
		     meta_add(c, "name", json_object_new_string(s->txn.items[i].name)) == 0 &&
		     json_object_array_add(changes, c) == 0;
		if (!ok)
			json_object_put(c);
	}
	ok = ok && meta_add(o, "total", json_object_new_int64((int64_t)s->txn.total)) == 0;
	if (ok && meta_add(o, "changes", changes) == 0)
		return o;
	if (!ok)
		json_object_put(changes);
	json_object_put(o);
	return NULL;
}

static int pkg_state_write(const struct config *cfg, const struct volume *v,
			   const struct pkg_state *s, struct rerr *e)
{
	_cleanup_(json_object_putp) struct json_object *o = pkg_state_to_json(v, s);
	_cleanup_close_ int dirfd = -1;
	char file[VOLUME_NAME_MAX + 16];
	const char *text;
	int k;

	if (!o)
		return rerr_set(e, ENOMEM, "out of memory");
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
	k = mkdir_parents(cfg->state_dir, 0755);
	if (k < 0)
		return rerr_set(e, k, "%s: cannot create state_dir '%s'", v->name, cfg->state_dir);
	dirfd = open(cfg->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return rerr_set(e, errno, "%s: cannot open state_dir '%s'", v->name, cfg->state_dir);
	snprintf(file, sizeof(file), "%s.pkg.json", v->name);
	k = write_file_atomic_at(dirfd, file, text, strlen(text), 0644);
	if (k < 0)
		return rerr_set(e, k, "%s: cannot write '%s/%s'", v->name, cfg->state_dir, file);
	return 0;
}

/* What the pair's pre and post are on disk now: one lookup each, not a listing. */
struct pkg_found {
	struct snapshot pre, post;
	bool have_pre, have_post;
};

static bool pkg_lookup(struct engine *eng, const struct volume *v, const char *name,
		       struct snapshot *ret)
{
	if (!name || engine_get(eng, v, name, ret, &(struct rerr){ 0 }) < 0)
		return false;
	if (ret->complete && !ret->foreign)
		return true;
	snapshot_done(ret);
	return false;
}

static int pkg_set_take(struct pkg_work *w, enum snap_kind kind, const char *pre,
			const char *description)
{
	w->take = true;
	w->res->kind = kind;
	w->t = (struct take){ .v = w->v, .s = { .kind = kind, .description = strdup(description),
					       .pre = pre ? strdup(pre) : NULL } };
	w->res->description = strdup(description);
	return w->t.s.description && w->res->description && (!pre || w->t.s.pre) ? 0 : -ENOMEM;
}

/* The pre of a shared or reopened pair names every package since. */
static void pkg_redescribe(const struct engine *eng, struct pkg_work *w, const struct snapshot *pre)
{
	struct snapshot copy = *pre;
	struct rerr e = { 0 };
	char desc[256];

	pkg_describe(w->st.tool, &w->st.txn, desc, sizeof(desc));
	if (eng->dry_run || (pre->description && streq(pre->description, desc)))
		return;
	copy.description = desc;
	(void) w->v->ops->update(w->v, &copy, &e);
}

/*
 * A pre: share the open one, reopen one closed within pkg_dedupe, or take a
 * new one (leaving a pre that never got its post as a single snapshot).
 */
static int pkg_plan_pre(const struct engine *eng, const struct pkg_request *rq,
			struct pkg_work *w, const struct pkg_found *f)
{
	struct pkg_state *st = &w->st;
	const int64_t window = eng->cfg->pkg_dedupe;
	bool have_pre = f->have_pre;
	char desc[256];

	if (have_pre && !st->closed && eng->now - st->opened <= window) {
		w->res->outcome = PKG_SHARED;
	} else if (have_pre && st->closed && f->have_post && eng->now - st->closed <= window) {
		w->res->outcome = PKG_REOPENED;
		free(st->replaces);
		st->replaces = TAKE_PTR(st->post);
		st->closed = 0;
	} else {
		if (have_pre && !st->closed && !(w->res->abandoned = strdup(st->pre)))
			return -ENOMEM;
		w->res->outcome = PKG_TOOK;
		return pkg_set_take(w, SNAP_PRE, NULL, pkg_describe(rq->tool, rq->txn, desc,
								    sizeof(desc)));
	}
	if (!(w->res->name = strdup(st->pre)) || pkg_txn_merge(&st->txn, rq->txn) < 0)
		return -ENOMEM;
	pkg_redescribe(eng, w, &f->pre);
	return 0;
}

/*
 * A post: for the open pre, with every change since; nothing for a pair
 * closed within pkg_dedupe (a second post of one operation); else a single
 * snapshot, since its pre is missing.
 */
static int pkg_plan_post(const struct engine *eng, const struct pkg_request *rq,
			 struct pkg_work *w, const struct pkg_found *f)
{
	struct pkg_state *st = &w->st;
	char desc[256], single[300];

	if (st->pre && !st->closed && f->have_pre) {
		if (pkg_txn_merge(&st->txn, rq->txn) < 0)
			return -ENOMEM;
		w->res->outcome = PKG_TOOK;
		return pkg_set_take(w, SNAP_POST, st->pre,
				    pkg_describe(st->tool, &st->txn, desc, sizeof(desc)));
	}
	if (st->closed && f->have_post && eng->now - st->closed <= eng->cfg->pkg_dedupe) {
		w->res->outcome = PKG_NOTHING;
		return 0;
	}
	if (rq->txn->total)
		pkg_describe(rq->tool, rq->txn, desc, sizeof(desc));
	else
		snprintf(desc, sizeof(desc), "%s: after a package operation",
			 pkg_tool_to_string(rq->tool));
	snprintf(single, sizeof(single), "%s (no pre snapshot)", desc);
	w->res->outcome = PKG_TOOK;
	return pkg_set_take(w, SNAP_MANUAL, NULL, single);
}

/* Probe, lock, read the pair and decide. Return: 0 (the fate is in @w->res), or -ENOMEM. */
static int pkg_prepare(struct engine *eng, const struct pkg_request *rq, struct pkg_work *w)
{
	struct pkg_result *res = w->res;
	struct pkg_found f = { 0 };
	int r;

	if (engine_probe(eng, w->v, &res->e) < 0 || engine_lock(eng, &w->v, 1, &res->e) < 0) {
		res->outcome = PKG_FAILED;
		return 0;
	}
	if (pkg_state_read(eng->cfg, w->v, &w->st) == -ENOMEM)
		return -ENOMEM;
	f.have_pre = pkg_lookup(eng, w->v, w->st.pre, &f.pre);
	f.have_post = pkg_lookup(eng, w->v, w->st.post, &f.post);
	r = rq->step == PKG_PRE ? pkg_plan_pre(eng, rq, w, &f) : pkg_plan_post(eng, rq, w, &f);
	snapshot_done(&f.pre);
	snapshot_done(&f.post);
	return r;
}

/* The earlier post of a reopened pair, now that the new one stands. */
static void pkg_drop_replaced(struct engine *eng, struct pkg_work *w)
{
	struct snapshot old = { 0 };
	struct rerr e = { 0 };

	if (!pkg_lookup(eng, w->v, w->st.replaces, &old))
		return;
	/* Only a post of this very pair, never anything else that took its name. */
	if (old.kind == SNAP_POST && old.pre && streq(old.pre, w->st.pre) && !old.pinned &&
	    w->v->ops->remove(w->v, &old, &e) == 0)
		w->res->dropped = strdup(old.name);
	snapshot_done(&old);
}

/* After the snapshot: the new pair state (and the replaced post gone). */
static void pkg_finish(struct engine *eng, const struct pkg_request *rq, struct pkg_work *w)
{
	struct pkg_state *st = &w->st;
	struct rerr e = { 0 };

	w->res->name = TAKE_PTR(w->t.s.name);
	if (w->res->kind == SNAP_PRE) {
		pkg_state_done(st);
		st->tool = rq->tool;
		st->opened = eng->now;
		if (!(st->pre = strdup(w->res->name)) || pkg_txn_merge(&st->txn, rq->txn) < 0) {
			rerr_set(&w->res->e, ENOMEM, "out of memory");
			return;
		}
	} else {
		if (w->res->kind == SNAP_POST && st->replaces)
			pkg_drop_replaced(eng, w);
		free(st->replaces);
		st->replaces = NULL;
		free(st->post);
		st->post = strdup(w->res->name);
		st->closed = eng->now;
	}
	if (pkg_state_write(eng->cfg, w->v, st, &e) < 0)
		w->res->e = e;	/* the snapshot stands; the next operation takes a new pre */
}

/* Takes every planned snapshot, groups together, and records each pair. */
static void pkg_take_all(struct engine *eng, const struct pkg_request *rq, struct pkg_work *w,
			 size_t n)
{
	_cleanup_free_ struct take *takes = calloc(n + 1, sizeof(*takes));
	_cleanup_free_ struct volume_report *reps = calloc(n + 1, sizeof(*reps));
	_cleanup_free_ struct pkg_work **of = calloc(n + 1, sizeof(*of));
	struct rerr e = { 0 };
	size_t m = 0;
	int r;

	if (!takes || !reps || !of) {
		for (size_t i = 0; i < n; i++)
			if (w[i].take) {
				w[i].res->outcome = PKG_FAILED;
				rerr_set(&w[i].res->e, ENOMEM, "out of memory");
			}
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (w[i].take) {
			of[m] = &w[i];
			takes[m++] = w[i].t;
			w[i].t = (struct take){ 0 };
		}
	r = engine_snapshot(eng, takes, m, reps, &e);
	for (size_t i = 0; i < m; i++) {
		struct pkg_work *x = of[i];

		x->t = takes[i];
		if (r < 0 && r != -EIO) {
			x->res->outcome = PKG_FAILED;
			x->res->e = e;
		} else if (!eng->dry_run && !takes[i].taken) {
			x->res->outcome = PKG_FAILED;
			rerr_say(&x->res->e, EIO, "%s", reps[i].n_errors ? reps[i].errors[0] :
				 "the snapshot failed");
		} else if (!eng->dry_run) {
			pkg_finish(eng, rq, x);
		}
		volume_report_done(&reps[i]);
	}
}

/* Shares and reopens change only the pair state. */
static void pkg_record(struct engine *eng, struct pkg_work *w)
{
	if (eng->dry_run || (w->res->outcome != PKG_SHARED && w->res->outcome != PKG_REOPENED))
		return;
	if (pkg_state_write(eng->cfg, w->v, &w->st, &w->res->e) < 0)
		w->res->outcome = PKG_FAILED;
}

int engine_pkg(struct engine *eng, const struct pkg_request *rq, struct pkg_result **ret,
	       size_t *ret_n, struct rerr *e)
{
	const struct config *cfg = eng->cfg;
	struct pkg_result *res = calloc(cfg->n_volumes + 1, sizeof(*res));
	_cleanup_free_ struct pkg_work *w = calloc(cfg->n_volumes + 1, sizeof(*w));
	_cleanup_free_ struct volume **order = calloc(cfg->n_volumes + 1, sizeof(*order));
	enum sysroot root;
	char why[300];
	size_t n = 0;
	int r = 0;

	if (!res || !w || !order) {
		free(res);
		return rerr_set(e, ENOMEM, "out of memory");
	}
	root = sysroot_detect(rq->manager_root, why, sizeof(why));
	for (size_t i = 0; i < cfg->n_volumes; i++)
		if (cfg->volumes[i].pkg_snapshots)
			order[n++] = (struct volume *)&cfg->volumes[i];
	/* Locks in name order, groups side by side: as every other command takes them. */
	engine_units(order, n);
	for (size_t i = 0; i < n && r == 0; i++) {
		w[i] = (struct pkg_work){ .v = order[i], .res = &res[i] };
		res[i].volume = order[i];
		if (rq->step == PKG_PRE && rq->txn->total == 0)
			res[i].outcome = PKG_NOTHING;
		else if (root >= SYSROOT_CHROOT && !order[i]->pkg_in_chroot) {
			res[i].outcome = PKG_SKIPPED;
			rerr_say(&res[i].e, EPERM, "%s", why);
		} else
			r = pkg_prepare(eng, rq, &w[i]);
	}
	if (r == 0)
		pkg_take_all(eng, rq, w, n);
	for (size_t i = 0; i < n; i++) {
		if (r == 0)
			pkg_record(eng, &w[i]);
		pkg_state_done(&w[i].st);
		snapshot_done(&w[i].t.s);
	}
	if (r < 0) {
		pkg_results_free(res, n);
		return rerr_set(e, r, "out of memory");
	}
	*ret = res;
	*ret_n = n;
	return 0;
}

int engine_pkg_open(const struct engine *eng, const struct volume *v, struct pkg_open *ret)
{
	struct pkg_state st;
	int r = pkg_state_read(eng->cfg, v, &st);

	*ret = (struct pkg_open){ 0 };
	if (r < 0)
		return r;
	if (st.pre && !st.closed) {
		ret->pre = TAKE_PTR(st.pre);
		ret->opened = st.opened;
		ret->tool = st.tool;
	}
	pkg_state_done(&st);
	return 0;
}

int engine_pkg_close_stale(struct engine *eng, const struct volume *v, char **ret_pre,
			   struct rerr *e)
{
	struct pkg_state st;
	int r = pkg_state_read(eng->cfg, v, &st);

	*ret_pre = NULL;
	if (r < 0)
		return rerr_set(e, r, "%s: cannot read its package state", v->name);
	if (st.pre && !st.closed && eng->now - st.opened > PKG_STALE) {
		*ret_pre = TAKE_PTR(st.pre);
		st.closed = eng->now;
		r = eng->dry_run ? 0 : pkg_state_write(eng->cfg, v, &st, e);
	}
	pkg_state_done(&st);
	return r;
}
