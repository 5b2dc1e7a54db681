/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>

#include "base/util.h"
#include "policy/replication.h"
#include "policy/retention.h"

bool replication_held(const struct snapshot_list *copies, const struct snapshot *s)
{
	if (!s->uuid)
		return false;
	for (size_t i = 0; i < copies->n; i++)
		if (copies->items[i].uuid && streq(copies->items[i].uuid, s->uuid))
			return true;
	return false;
}

struct snapshot *replication_source_of(const struct snapshot_list *src,
				       const struct snapshot *copy)
{
	if (!copy->uuid)
		return NULL;
	for (size_t i = 0; i < src->n; i++)
		if (src->items[i].uuid && streq(src->items[i].uuid, copy->uuid))
			return &src->items[i];
	return NULL;
}

void replication_mirror_pins(const struct snapshot_list *src, struct snapshot_list *copies,
			     bool send_pinned)
{
	for (size_t i = 0; i < copies->n; i++) {
		const struct snapshot *s = replication_source_of(src, &copies->items[i]);

		copies->items[i].pinned = send_pinned && s && s->pinned;
	}
}

/*
 * Whether @s may be sent at all: ours, whole, not there, and newer than what
 * the target has, or pinned when the target takes pins (a "known good" one
 * pinned after newer snapshots were sent).
 */
static bool replication_candidate(const struct snapshot_list *copies, const struct snapshot *s,
				  bool have, time_t newest, bool send_pinned)
{
	if (s->foreign || !s->complete || replication_held(copies, s))
		return false;
	return !(have && s->created <= newest) || (send_pinned && s->pinned);
}

int replication_choose(const struct policy *policy, const struct snapshot_list *src,
		       const struct snapshot_list *copies, bool send_pinned, time_t now,
		       bool *want)
{
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ struct snapshot *all = NULL;
	time_t newest = 0;
	bool have = false;
	size_t n = 0;
	int k;

	for (size_t i = 0; i < copies->n; i++)
		if (!have || copies->items[i].created > newest) {
			newest = copies->items[i].created;
			have = true;
		}
	all = calloc(copies->n + src->n + 1, sizeof(*all));
	if (!all)
		return -ENOMEM;
	/* Shallow copies: the plan only reads them. */
	for (size_t i = 0; i < copies->n; i++)
		all[n++] = copies->items[i];
	for (size_t i = 0; i < src->n; i++) {
		want[i] = false;
		if (!replication_candidate(copies, &src->items[i], have, newest, send_pinned))
			continue;
		all[n] = src->items[i];
		/* Judged as the target's copy would be: its pin only if the target takes pins. */
		all[n].pinned = send_pinned && src->items[i].pinned;
		all[n].n_sent = 0;
		n++;
	}
	k = retention_plan(all, n, policy, now, &p);
	if (k < 0)
		return k;
	for (size_t i = 0, j = copies->n; i < src->n; i++)
		if (replication_candidate(copies, &src->items[i], have, newest, send_pinned))
			want[i] = p->d[j++].keep;
	return 0;
}

unsigned replication_chain_depth(const struct snapshot_list *copies, const struct snapshot *s)
{
	const struct snapshot *c = NULL;
	unsigned depth = 0;

	for (size_t i = 0; i < copies->n; i++)
		if (s->uuid && copies->items[i].uuid && streq(copies->items[i].uuid, s->uuid))
			c = &copies->items[i];
	/* Bounded by the list's length: a broken or circular chain ends the walk. */
	while (c && c->base && depth <= copies->n) {
		const struct snapshot *next = NULL;

		for (size_t i = 0; i < copies->n; i++)
			if (streq(copies->items[i].name, c->base))
				next = &copies->items[i];
		c = next;
		depth++;
	}
	return depth;
}

const struct snapshot *replication_parent(const struct snapshot_list *src,
					  const struct snapshot_list *copies,
					  const struct snapshot *s, unsigned chain_max)
{
	const struct snapshot *best = NULL, *any = NULL, *p;

	for (size_t i = 0; i < src->n; i++) {
		p = &src->items[i];
		if (p == s || p->foreign || !p->complete || !replication_held(copies, p))
			continue;
		if (!any || p->created > any->created)
			any = p;
		if (p->created < s->created && (!best || p->created > best->created))
			best = p;
	}
	p = best ? best : any;
	/* A block copy needs its whole chain to be restored: keep chains short. */
	if (p && chain_max && replication_chain_depth(copies, p) + 1 > chain_max)
		return NULL;
	return p;
}
