/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "engine/pkg.h"
#include "engine/status.h"
#include "policy/retention.h"

void volume_status_done(struct volume_status *s)
{
	free(s->newest);
	for (size_t t = 0; t < s->n_targets; t++)
		free(s->targets[t].newest);
	free(s->targets);
	free(s->pkg_open);
	if (s->last_run)
		json_object_put(s->last_run);
	*s = (struct volume_status){ 0 };
}

/* The last run recorded in STATE_DIR/VOLUME.json, or NULL. */
static struct json_object *engine_last_run(const struct config *cfg, const struct volume *v)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s.json", cfg->state_dir, v->name);
	if (access(path, R_OK) < 0)
		return NULL;
	return json_object_from_file(path);
}

int engine_status(struct engine *eng, const struct volume *v, struct volume_status *ret,
		  struct rerr *e)
{
	const struct backend *be = v->ops;
	struct volume_status st = { .volume = v, .backend = be->name };
	const struct snapshot *newest = NULL;
	_cleanup_snapshot_list_ struct snapshot_list l = { 0 };
	bool have_tl = false;
	time_t last_tl = 0;
	int k;

	k = be->list(v, &l, e);
	if (k < 0)
		return k;
	if (be->health && (k = be->health(v, &st.health, e)) < 0)
		return k;
	for (size_t i = 0; i < l.n; i++) {
		const struct snapshot *s = &l.items[i];

		st.invalid += s->invalid;
		if (s->foreign || !s->complete)
			continue;
		st.count++;
		newest = s;
		if (s->kind == SNAP_TIMELINE && s->created <= eng->now) {
			have_tl = true;
			last_tl = s->created;
		}
	}
	st.next_due = due_next(&v->policy, v->interval, have_tl, last_tl, eng->now);
	st.targets = calloc(v->n_targets + 1, sizeof(*st.targets));
	if (!st.targets || (newest && !(st.newest = strdup(newest->name))))
		goto oom;
	st.newest_created = newest ? newest->created : 0;
	for (size_t t = 0; t < v->n_targets; t++) {
		const struct snapshot *held = NULL;

		for (size_t i = 0; i < l.n; i++)
			for (size_t j = 0; j < l.items[i].n_sent; j++)
				if (l.items[i].complete && streq(l.items[i].sent[j].target, v->targets[t]))
					held = &l.items[i];
		st.targets[t].target = v->targets[t];
		st.n_targets++;
		if (held && !(st.targets[t].newest = strdup(held->name)))
			goto oom;
		st.targets[t].lag = held && newest ? (int64_t)(newest->created - held->created) : 0;
	}
	st.last_run = engine_last_run(eng->cfg, v);
	if (engine_advise(eng, v, st.advice, sizeof(st.advice)) <= 0)
		st.advice[0] = '\0';
	if (v->pkg_snapshots) {
		struct pkg_open po;

		if (engine_pkg_open(eng, v, &po) == 0) {
			st.pkg_open = TAKE_PTR(po.pre);
			st.pkg_opened = po.opened;
		}
		pkg_open_done(&po);
	}
	*ret = st;
	return 0;
oom:
	volume_status_done(&st);
	return rerr_set(e, ENOMEM, "out of memory");
}
