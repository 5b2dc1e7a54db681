/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backend.h"
#include "base/fault.h"
#include "base/util.h"
#include "engine/restore.h"
#include "transport/target.h"

struct restore_apply {
	struct stream_sink *k;
	int in_fd;
	const struct snapshot *c;
	const char *parent_uuid;
	struct rerr e;
	int r;
};

static void *restore_apply_thread(void *arg)
{
	struct restore_apply *a = arg;

	a->r = a->k->apply(a->k, a->in_fd, a->c, a->parent_uuid, &a->e);
	/* Unblocks the fetch when apply stopped early: its writes get EPIPE. */
	close(a->in_fd);
	return NULL;
}

/* One stored stream from the target into the sink, through a pipe. */
static int restore_one(struct target_conn *tc, const struct volume *v, const struct snapshot *c,
		       const char *parent_uuid, struct stream_sink *k, uint64_t *ret_bytes,
		       struct rerr *e)
{
	struct restore_apply a = { .k = k, .c = c, .parent_uuid = parent_uuid };
	int p[2], r, fr;
	pthread_t t;

	if (pipe2(p, O_CLOEXEC) < 0)
		return rerr_set(e, errno, "cannot create a pipe");
	a.in_fd = p[0];
	r = pthread_create(&t, NULL, restore_apply_thread, &a);
	if (r != 0) {
		close(p[0]);
		close(p[1]);
		return rerr_set(e, r, "cannot start a thread");
	}
	fr = target_fetch(tc, v->name, c->name, p[1], ret_bytes, e);
	close(p[1]);
	pthread_join(t, NULL);
	if (a.r < 0) {
		*e = a.e;
		return rerr_prefix(e, a.r, "%s: '%s' from target '%s'", v->name, c->name,
				   tc->target->name);
	}
	if (fr == 0)
		FAULT("restore.applied");
	return fr;
}

static const struct snapshot *restore_find(const struct snapshot_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].complete && streq(l->items[i].name, name))
			return &l->items[i];
	return NULL;
}

/*
 * The first target (of @v's, or the one named @target) that holds the copy
 * @arg names. Return: 0 with *@ret_tc, @copies (its list) and *@ret_idx; -errno
 * with @e (@r->bad_arg when @arg or @target names nothing).
 */
static int restore_find_copy(const struct volume *v, struct sessions *ss, const char *target,
			     const char *arg, struct target_conn **ret_tc,
			     struct snapshot_list *copies, size_t *ret_idx,
			     struct restore_report *r, struct rerr *e)
{
	for (size_t ti = 0; ti < v->n_targets; ti++) {
		const struct target *t = v->target_list[ti];
		struct rerr e2 = { 0 };
		int k;

		if (!t || (target && !streq(target, t->name)))
			continue;
		snapshot_list_clear(copies);
		k = sessions_get(ss, t, ret_tc, e);
		if (k == 0)
			k = target_list(*ret_tc, v->name, copies, e);
		if (k < 0)
			return k;
		if (snapshot_resolve(copies, v->name, arg, ret_idx, &e2) == 0) {
			r->target = t;
			return 0;
		}
		if (target || ti + 1 == v->n_targets) {
			*e = e2;
			r->bad_arg = true;
			return -ENOENT;
		}
	}
	r->bad_arg = true;
	return rerr_set(e, ENOENT, "%s: %s", v->name,
			target ? "no such target for this volume" : "the volume has no targets");
}

/* The copies to apply for @copies[@idx], walking the bases back to the whole image: @chain, newest first. */
static int restore_chain(const struct volume *v, const struct snapshot_list *copies, size_t idx,
			 const struct snapshot *chain[RESTORE_CHAIN_MAX], unsigned *ret_n,
			 const struct restore_report *r, struct rerr *e)
{
	unsigned n = 0;

	for (const struct snapshot *c = &copies->items[idx]; c; ) {
		if (n == RESTORE_CHAIN_MAX)
			return rerr_set(e, E2BIG, "%s: the chain of '%s' is too long", v->name,
					copies->items[idx].name);
		chain[n++] = c;
		if (!c->base)
			break;
		if (!(c = restore_find(copies, c->base)))
			return rerr_set(e, ENOENT, "%s: target '%s' lacks '%s', the base of '%s'",
					v->name, r->target->name, chain[n - 1]->base,
					chain[n - 1]->name);
	}
	*ret_n = n;
	return 0;
}

/*
 * Restore by way of a store (btrfs): the copy goes from the target into a
 * local serve's store beside @to (the same checks and confinement as any
 * copy a serve receives), and the backend makes @to from it.
 */
static int restore_by_store(const struct volume *v, struct sessions *ss, const char *target,
			    const char *arg, const char *to, bool dry_run,
			    struct restore_report *r, struct rerr *e)
{
	const struct backend *be = v->ops;
	_cleanup_snapshot_list_ struct snapshot_list copies = { 0 };
	struct target_conn *tc = NULL, ltc;
	struct target local;
	const struct snapshot *c;
	char root[PATH_MAX];
	size_t idx = 0;
	int k;

	k = be->restore_stage(v, to, root, sizeof(root), false, e);
	if (k == 0)
		k = restore_find_copy(v, ss, target, arg, &tc, &copies, &idx, r, e);
	if (k != 0) {
		r->bad_arg |= e->usage;
		return k;
	}
	c = &copies.items[idx];
	r->snapshot = strdup(c->name);
	r->chain[0] = strdup(c->name);
	r->n_chain = 1;
	if (dry_run)
		return 0;
	k = be->restore_stage(v, to, root, sizeof(root), true, e);
	local = (struct target){ .name = (char *)"restore", .url = root, .scheme = TARGET_FILE,
				 .root = root };
	if (k == 0)
		k = target_open(&local, &ltc, e);
	if (k < 0)
		return k;
	{
		_cleanup_snapshot_list_ struct snapshot_list held = { 0 };
		struct rerr de = { 0 };

		/* A copy that a killed restore left whole in the store is fetched anew. */
		if (target_list(&ltc, v->name, &held, &de) == 0 && restore_find(&held, c->name))
			(void) target_delete(&ltc, v->name, c->name, &de);
	}
	k = target_receive_from(&ltc, v->name, c, tc, &r->bytes[0], e);
	target_close(&ltc);
	if (k < 0)
		return rerr_prefix(e, k, "%s: '%s' from target '%s'", v->name, c->name,
				   r->target->name);
	return be->restore_place(v, root, c, to, e);
}

int engine_restore(const struct volume *v, struct sessions *ss,
		const char *target, const char *arg, const char *to, bool dry_run,
		struct restore_report *r, struct rerr *e)
{
	const struct snapshot *chain[RESTORE_CHAIN_MAX];
	_cleanup_snapshot_list_ struct snapshot_list copies = { 0 };
	struct target_conn *tc = NULL;
	struct stream_sink sink = { .fd = -1 };
	unsigned n = 0;
	size_t idx = 0;
	int k;

	*r = (struct restore_report){ 0 };
	if (v->ops->restore_stage)
		return restore_by_store(v, ss, target, arg, to, dry_run, r, e);
	if (!v->ops->restore_open)
		return rerr_set(e, EOPNOTSUPP, "%s: restore of %s volumes is not available yet",
				v->name, v->ops->name);
	/* Where it goes first: a wrong --to is found before any target is asked. */
	k = v->ops->restore_open(v, to, false, &sink, e);
	if (k < 0) {
		r->bad_arg = e->usage;
		return k;
	}
	k = restore_find_copy(v, ss, target, arg, &tc, &copies, &idx, r, e);
	if (k == 0 && (k = sink.check(&sink, &copies.items[idx], e)) < 0)
		rerr_prefix(e, k, "%s: on target '%s'", v->name, r->target->name);
	if (k == 0)
		k = restore_chain(v, &copies, idx, chain, &n, r, e);
	if (k < 0)
		goto out;
	r->snapshot = strdup(copies.items[idx].name);
	for (unsigned i = 0; i < n; i++)
		r->chain[i] = strdup(chain[n - 1 - i]->name);
	r->n_chain = n;
	if (dry_run)
		goto out;
	v->ops->restore_close(&sink);
	k = v->ops->restore_open(v, to, true, &sink, e);
	for (unsigned i = 0; k == 0 && i < n; i++)
		k = restore_one(tc, v, chain[n - 1 - i], i ? chain[n - i]->uuid : NULL, &sink,
				&r->bytes[i], e);
out:
	if (sink.fd >= 0)
		v->ops->restore_close(&sink);
	return k;
}

void restore_report_done(struct restore_report *r)
{
	free(r->snapshot);
	for (unsigned i = 0; i < r->n_chain; i++)
		free(r->chain[i]);
	*r = (struct restore_report){ 0 };
}
