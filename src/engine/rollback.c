/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "engine/rollback.h"

static void rollback_step(struct rollback_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void rollback_step(struct rollback_report *r, const char *fmt, ...)
{
	va_list ap;

	if (r->n_steps >= ROLLBACK_STEPS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(r->steps[r->n_steps++], sizeof(r->steps[0]), fmt, ap);
	va_end(ap);
}

int rollback_volume(const struct volume *v, const char *arg, time_t now, bool dry_run,
		    struct rollback_report *r, struct rerr *e)
{
	const struct backend *be = v->ops;
	_cleanup_snapshot_list_ struct snapshot_list l = { 0 };
	/* Pinned until the next successful run: the way back stays until the new state proves itself. */
	struct snapshot saved = { .created = now, .seq = 1, .kind = SNAP_MANUAL, .pinned = true };
	const struct snapshot *s;
	struct volume_health h = { 0 };
	char words[sizeof(r->steps[0])];
	size_t idx;
	int k;

	*r = (struct rollback_report){ 0 };
	if (!be->rollback)
		return rerr_set(e, EOPNOTSUPP, "%s: rollback of %s volumes is not available yet",
				v->name, be->name);
	k = be->list(v, &l, e);
	if (k < 0)
		return k;
	k = snapshot_resolve(&l, v->name, arg, &idx, e);
	if (k < 0) {
		r->bad_arg = true;
		goto out;
	}
	s = &l.items[idx];
	if (s->foreign || !s->complete) {
		k = rerr_set(e, EINVAL, "%s: '%s' is %s, not a snapshot to roll back to", v->name,
			     s->name, s->foreign ? "not snaprotate's" :
			     s->invalid ? "invalid (it overflowed)" : "incomplete");
		goto out;
	}
	if (s->merging) {
		k = rerr_set(e, EBUSY, "%s: '%s' is already being merged into %s", v->name, s->name,
			     be->origin(v));
		goto out;
	}
	if (be->health) {
		k = be->health(v, &h, e);
		if (k < 0)
			goto out;
		if (h.merge_pending) {
			k = rerr_set(e, EBUSY, "%s: a rollback%s%s is already pending", v->name,
				     *h.merging ? " to " : "", h.merging);
			goto out;
		}
	}
	r->target = strdup(s->name);
	saved.description = malloc(strlen(s->name) + 32);
	if (!r->target || !saved.description) {
		k = rerr_set(e, ENOMEM, "out of memory");
		goto out;
	}
	sprintf(saved.description, ROLLBACK_SAVED_PREFIX "%s", s->name);
	if (dry_run) {
		rollback_step(r, "snapshot %s as it is now (manual, \"%s\", pinned until the "
			      "next successful run)", be->origin(v), saved.description);
		be->rollback_words(v, s, NULL, words, sizeof(words));
		rollback_step(r, "%s", words);
		k = 0;
		goto out;
	}
	/* The current state is kept first: a failed snapshot means no rollback. */
	k = be->create(v, &saved, e);
	if (k < 0)
		goto out;
	r->saved = strdup(saved.name);
	rollback_step(r, "took %s (\"%s\")", saved.name, saved.description);
	k = be->rollback(v, s, &r->result, e);
	if (k < 0)
		goto out;
	be->rollback_words(v, s, &r->result, words, sizeof(words));
	rollback_step(r, "%s", words);
out:
	snapshot_done(&saved);
	return k;
}

void rollback_report_done(struct rollback_report *r)
{
	free(r->target);
	free(r->saved);
	*r = (struct rollback_report){ 0 };
}
