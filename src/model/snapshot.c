/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "model/snapshot.h"
#include "model/stamp.h"

static const char *const snap_kind_table[_SNAP_KIND_MAX] = {
	[SNAP_MANUAL] = "manual",
	[SNAP_TIMELINE] = "timeline",
	[SNAP_PRE] = "pre",
	[SNAP_POST] = "post",
	[SNAP_BOOT] = "boot",
};

const char *snap_kind_to_string(enum snap_kind k)
{
	if (k < 0 || k >= _SNAP_KIND_MAX)
		return NULL;
	return snap_kind_table[k];
}

enum snap_kind snap_kind_from_string(const char *s)
{
	for (int k = 0; k < _SNAP_KIND_MAX; k++)
		if (streq(s, snap_kind_table[k]))
			return (enum snap_kind)k;
	return _SNAP_KIND_INVALID;
}

void snapshot_done(struct snapshot *s)
{
	free(s->name);
	free(s->description);
	free(s->pre);
	free(s->uuid);
	free(s->parent_uuid);
	free(s->source);
	free(s->creator);
	free(s->image);
	free(s->base);
	free(s->problem);
	for (size_t i = 0; i < s->n_sent; i++)
		free(s->sent[i].target);
	free(s->sent);
	memset(s, 0, sizeof(*s));
}

void snapshot_list_clear(struct snapshot_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		snapshot_done(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

struct snapshot_list *snapshot_list_free(struct snapshot_list *l)
{
	if (l) {
		snapshot_list_clear(l);
		free(l);
	}
	return NULL;
}

int snapshot_list_append(struct snapshot_list *l, struct snapshot *s)
{
	/* Grow by doubling: the capacity is implied by n (powers of two from 16). */
	if (l->n == 0 || (l->n >= 16 && (l->n & (l->n - 1)) == 0)) {
		size_t cap = l->n < 16 ? 16 : l->n * 2;
		struct snapshot *items = realloc(l->items, cap * sizeof(*items));

		if (!items)
			return -ENOMEM;
		l->items = items;
	}
	l->items[l->n++] = *s;
	memset(s, 0, sizeof(*s));
	return 0;
}

static int snapshot_cmp(const void *pa, const void *pb)
{
	const struct snapshot *a = pa, *b = pb;

	if (a->foreign != b->foreign)
		return a->foreign ? 1 : -1;
	if (!a->foreign) {
		if (a->created != b->created)
			return a->created < b->created ? -1 : 1;
		if (a->seq != b->seq)
			return a->seq < b->seq ? -1 : 1;
	}
	return strcmp(a->name, b->name);
}

void snapshot_list_sort(struct snapshot_list *l)
{
	if (l->n > 1)
		qsort(l->items, l->n, sizeof(*l->items), snapshot_cmp);
}

int snapshot_sent_set(struct snapshot *s, const char *target, time_t when)
{
	struct sent_record *n;
	char *t;

	for (size_t i = 0; i < s->n_sent; i++)
		if (streq(s->sent[i].target, target)) {
			s->sent[i].when = when;
			return 0;
		}
	t = strdup(target);
	if (!t)
		return -ENOMEM;
	n = realloc(s->sent, (s->n_sent + 1) * sizeof(*n));
	if (!n) {
		free(t);
		return -ENOMEM;
	}
	s->sent = n;
	s->sent[s->n_sent++] = (struct sent_record){ .target = t, .when = when };
	return 0;
}

int snapshot_sent_remove(struct snapshot *s, const char *target)
{
	for (size_t i = 0; i < s->n_sent; i++)
		if (streq(s->sent[i].target, target)) {
			free(s->sent[i].target);
			memmove(&s->sent[i], &s->sent[i + 1], (s->n_sent - i - 1) * sizeof(*s->sent));
			s->n_sent--;
			return 1;
		}
	return 0;
}

int snapshot_resolve(const struct snapshot_list *l, const char *volume, const char *arg,
		     size_t *ret, struct rerr *e)
{
	size_t vl = strlen(volume), al = strlen(arg), found = SIZE_MAX, matches = 0;

	if (streq(arg, "latest")) {
		for (size_t i = l->n; i > 0; i--)
			if (l->items[i - 1].complete && !l->items[i - 1].foreign) {
				*ret = i - 1;
				return 0;
			}
		return rerr_usage(e, ENOENT, "%s: no snapshot yet, so no 'latest'", volume);
	}
	for (size_t i = 0; i < l->n; i++)
		if (streq(l->items[i].name, arg)) {
			*ret = i;
			return 0;
		}
	if (al == 0)
		return rerr_usage(e, ENOENT, "%s: empty snapshot name", volume);
	for (size_t i = 0; i < l->n; i++) {
		const char *name = l->items[i].name;

		if (l->items[i].foreign)
			continue;
		/* A prefix of the full name, or of the stamp after "VOLUME.". */
		if (strncmp(name, arg, al) == 0 ||
		    (strncmp(name, volume, vl) == 0 && name[vl] == '.' &&
		     strncmp(name + vl + 1, arg, al) == 0)) {
			found = i;
			matches++;
		}
	}
	if (matches == 0)
		return rerr_usage(e, ENOENT, "%s: no snapshot '%s'", volume, arg);
	if (matches > 1)
		return rerr_usage(e, ENOTUNIQ, "%s: '%s' matches %zu snapshots, give more of the name",
				volume, arg, matches);
	*ret = found;
	return 0;
}

int snapshot_free_name(const struct snapshot_list *l, const char *volume, time_t t, unsigned from,
		       char *ret, size_t len, unsigned *ret_seq)
{
	for (unsigned seq = from > 1 ? from : 1;; seq++) {
		bool taken = false;
		int r = snap_name_format(volume, t, seq, ret, len);

		if (r < 0)
			return r;
		for (size_t i = 0; i < l->n && !taken; i++)
			taken = streq(l->items[i].name, ret);
		if (!taken) {
			*ret_seq = seq;
			return 0;
		}
	}
}
