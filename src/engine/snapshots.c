/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "base/util.h"
#include "engine/snapshots.h"

void snap_results_done(struct snap_results *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->items[i].name);
	free(r->items);
	*r = (struct snap_results){ 0 };
}

int engine_list(struct engine *eng, const struct volume *v, struct snapshot_list *ret,
		struct rerr *e)
{
	(void) eng;
	return v->ops->list(v, ret, e);
}

int engine_get(struct engine *eng, const struct volume *v, const char *name,
	       struct snapshot *ret, struct rerr *e)
{
	_cleanup_snapshot_list_ struct snapshot_list l = { 0 };
	int r;

	if (v->ops->get)
		return v->ops->get(v, name, ret, e);
	r = engine_list(eng, v, &l, e);
	if (r < 0)
		return r;
	for (size_t i = 0; i < l.n; i++)
		if (streq(l.items[i].name, name)) {
			*ret = l.items[i];
			l.items[i] = l.items[--l.n];
			return 0;
		}
	return -ENOENT;
}

/* Locks @v (not in a dry run) and lists it. */
static int engine_open(struct engine *eng, const struct volume *v, struct snapshot_list *ret,
		       struct rerr *e)
{
	struct volume *one = (struct volume *)v;
	int r = engine_lock(eng, &one, 1, e);

	return r < 0 ? r : engine_list(eng, v, ret, e);
}

static struct snap_result *engine_result(struct snap_results *r, const char *name)
{
	struct snap_result *x = realloc(r->items, (r->n + 1) * sizeof(*x));

	if (!x)
		return NULL;
	r->items = x;
	x = &r->items[r->n];
	*x = (struct snap_result){ .name = strdup(name) };
	if (!x->name)
		return NULL;
	r->n++;
	return x;
}

int engine_delete(struct engine *eng, const struct volume *v, char *const *args, size_t n_args,
		  bool force, struct snap_results *ret, struct rerr *e)
{
	const struct backend *be = v->ops;
	_cleanup_snapshot_list_ struct snapshot_list l = { 0 };
	struct snap_results res = { 0 };
	_cleanup_free_ size_t *idx = NULL;
	int r;

	r = engine_open(eng, v, &l, e);
	if (r < 0)
		return r;
	idx = calloc(n_args + 1, sizeof(*idx));
	if (!idx)
		return rerr_set(e, ENOMEM, "out of memory");
	/* Resolve every name first: a typo deletes nothing. */
	for (size_t a = 0; a < n_args; a++) {
		r = snapshot_resolve(&l, v->name, args[a], &idx[a], e);
		if (r < 0)
			return r;
	}
	for (size_t a = 0; a < n_args; a++) {
		const struct snapshot *s = &l.items[idx[a]];
		struct snap_result *x;
		bool dup = false;

		for (size_t b = 0; b < a; b++)
			dup |= idx[b] == idx[a];
		if (dup)
			continue;
		x = engine_result(&res, s->name);
		if (!x) {
			r = rerr_set(e, ENOMEM, "out of memory");
			break;
		}
		x->outcome = SNAP_REFUSED;
		if (s->foreign)
			rerr_set(&x->e, EPERM, "%s: '%s' was not made by snaprotate, refusing to "
				 "delete it", v->name, s->name);
		else if (s->pinned && !force)
			rerr_set(&x->e, EPERM, "%s: '%s' is pinned, refusing to delete it (unpin "
				 "it, or use --force)", v->name, s->name);
		else if (s->damaged && !force)
			rerr_set(&x->e, EPERM, "%s: '%s' is damaged (%s) and may hold a whole "
				 "snapshot, refusing to delete it without --force", v->name, s->name,
				 s->problem ?: "?");
		else if (eng->dry_run)
			x->outcome = SNAP_WOULD;
		else
			x->outcome = be->remove(v, s, &x->e) < 0 ? SNAP_FAILED : SNAP_DONE;
	}
	if (r < 0) {
		snap_results_done(&res);
		return r;
	}
	*ret = res;
	return 0;
}

int engine_pin(struct engine *eng, const struct volume *v, const char *arg, bool pinned,
	       struct snap_result *ret, struct rerr *e)
{
	_cleanup_snapshot_list_ struct snapshot_list l = { 0 };
	struct snapshot *s;
	size_t idx = 0;
	int r;

	r = engine_open(eng, v, &l, e);
	if (r == 0)
		r = snapshot_resolve(&l, v->name, arg, &idx, e);
	if (r < 0)
		return r;
	s = &l.items[idx];
	*ret = (struct snap_result){ .name = strdup(s->name) };
	if (!ret->name)
		return rerr_set(e, ENOMEM, "out of memory");
	if (!s->complete || s->foreign) {
		ret->outcome = SNAP_FAILED;
		rerr_set(&ret->e, EINVAL, "%s: '%s' is %s, it cannot be %s", v->name, s->name,
			 s->foreign ? "foreign" : s->damaged ? "damaged" : "incomplete",
			 pinned ? "pinned" : "unpinned");
	} else if (s->pinned == pinned) {
		ret->outcome = SNAP_UNCHANGED;
	} else if (eng->dry_run) {
		ret->outcome = SNAP_WOULD;
	} else {
		s->pinned = pinned;
		ret->outcome = v->ops->update(v, s, &ret->e) < 0 ? SNAP_FAILED
										    : SNAP_DONE;
	}
	return 0;
}

int engine_find_pre(struct engine *eng, const struct volume *v, const char *arg,
		    char **ret_name, struct rerr *e)
{
	_cleanup_snapshot_list_ struct snapshot_list l = { 0 };
	struct snapshot one = { 0 };
	size_t idx = 0;
	int r;

	/* A full name (what the package hooks give) is one lookup, not a listing. */
	if (v->ops->get && engine_get(eng, v, arg, &one, &(struct rerr){ 0 }) == 0) {
		bool pre = one.complete && !one.foreign && one.kind == SNAP_PRE;

		*ret_name = pre ? TAKE_PTR(one.name) : NULL;
		snapshot_done(&one);
		if (pre)
			return 0;
	}
	r = engine_list(eng, v, &l, e);
	if (r == 0)
		r = snapshot_resolve(&l, v->name, arg, &idx, e);
	if (r == 0 && l.items[idx].kind != SNAP_PRE)
		r = rerr_usage(e, ENOENT, "%s: '%s' is a %s snapshot, not a pre snapshot", v->name,
			       l.items[idx].name, l.items[idx].complete ?
			       snap_kind_to_string(l.items[idx].kind) : "incomplete");
	if (r == 0 && !(*ret_name = strdup(l.items[idx].name)))
		r = rerr_set(e, ENOMEM, "out of memory");
	return r;
}
