/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "fake-backend.h"

#define FAKE_VOLUMES_MAX	8

static struct fake_volume volumes[FAKE_VOLUMES_MAX];
static size_t n_volumes;
/* The names fake_add() gave out: they stay while snapshots come and go. */
static char issued[256][SNAP_NAME_MAX + 1];
static size_t n_issued;

void fake_reset(void)
{
	memset(volumes, 0, sizeof(volumes));
	n_volumes = 0;
	n_issued = 0;
}

struct fake_volume *fake_volume(const char *name)
{
	for (size_t i = 0; i < n_volumes; i++)
		if (streq(volumes[i].volume, name))
			return &volumes[i];
	if (n_volumes == FAKE_VOLUMES_MAX)
		abort();
	snprintf(volumes[n_volumes].volume, sizeof(volumes[0].volume), "%s", name);
	return &volumes[n_volumes++];
}

static struct fake_snap *fake_push(struct fake_volume *fv, time_t t, enum snap_kind kind)
{
	struct fake_snap *x;
	unsigned seq = 1;

	if (fv->n == FAKE_SNAPS_MAX)
		abort();
	x = &fv->snaps[fv->n];
	*x = (struct fake_snap){ .created = t, .kind = kind, .complete = true };
	for (;;) {
		bool taken = false;

		snap_name_format(fv->volume, t, seq, x->name, sizeof(x->name));
		for (size_t i = 0; i < fv->n; i++)
			taken |= streq(fv->snaps[i].name, x->name);
		if (!taken)
			break;
		seq++;
	}
	fv->n++;
	return x;
}

const char *fake_add(const char *volume, time_t t, enum snap_kind kind, bool incomplete)
{
	struct fake_snap *x = fake_push(fake_volume(volume), t, kind);

	x->complete = !incomplete;
	if (n_issued == ARRAY_SIZE(issued))
		abort();
	return strcpy(issued[n_issued++], x->name);
}

bool fake_has(const char *volume, const char *name)
{
	struct fake_volume *fv = fake_volume(volume);

	for (size_t i = 0; i < fv->n; i++)
		if (streq(fv->snaps[i].name, name))
			return true;
	return false;
}

static int fake_probe(const struct volume *v, enum volume_key *ret_key, struct rerr *e)
{
	(void) v;
	(void) ret_key;
	(void) e;
	return 0;
}

static int fake_list(const struct volume *v, struct snapshot_list *ret, struct rerr *e)
{
	struct fake_volume *fv = fake_volume(v->name);
	struct snapshot_list l = { 0 };

	if (fv->list_fails)
		return rerr_set(e, EIO, "%s: cannot list (fake)", v->name);
	for (size_t i = 0; i < fv->n; i++) {
		const struct fake_snap *x = &fv->snaps[i];
		struct snapshot s = { .name = strdup(x->name), .created = x->created, .seq = 1,
				      .kind = x->kind, .complete = x->complete && !x->damaged,
				      .damaged = x->damaged, .description = strdup(""),
				      .pre = x->pre[0] ? strdup(x->pre) : NULL };

		if (x->damaged)
			s.problem = strdup("damaged on purpose");
		(void) snap_name_parse(v->name, x->name, NULL, &s.seq);
		if (!s.name || !s.description || snapshot_list_append(&l, &s) < 0)
			abort();
	}
	snapshot_list_sort(&l);
	*ret = l;
	return 0;
}

static int fake_create(const struct volume *v, struct snapshot *s, struct rerr *e)
{
	struct fake_volume *fv = fake_volume(v->name);
	struct fake_snap *x;

	if (fv->create_fails)
		return rerr_set(e, EIO, "%s: cannot create (fake)", v->name);
	x = fake_push(fv, s->created, s->kind);
	if (s->pre)
		snprintf(x->pre, sizeof(x->pre), "%s", s->pre);
	free(s->name);
	s->name = strdup(x->name);
	s->complete = true;
	fv->n_created++;
	return s->name ? 0 : -ENOMEM;
}

static int fake_remove(const struct volume *v, const struct snapshot *s, struct rerr *e)
{
	struct fake_volume *fv = fake_volume(v->name);

	if (streq(fv->remove_fails, s->name))
		return rerr_set(e, EIO, "%s: cannot delete '%s' (fake)", v->name, s->name);
	for (size_t i = 0; i < fv->n; i++)
		if (streq(fv->snaps[i].name, s->name)) {
			fv->snaps[i] = fv->snaps[--fv->n];
			fv->n_removed++;
			return 0;
		}
	return rerr_set(e, ENOENT, "%s: no '%s'", v->name, s->name);
}

static int fake_update(const struct volume *v, const struct snapshot *s, struct rerr *e)
{
	(void) v;
	(void) s;
	(void) e;
	return 0;
}

static const char *fake_where(const struct volume *v)
{
	return v->name;
}

static bool fake_frozen_ok(const struct volume *v)
{
	return !fake_volume(v->name)->frozen_refused;
}

/* Never mounted: nothing to freeze. */
static int fake_freeze_target(const struct volume *v, char **ret_mount, struct rerr *e)
{
	(void) v;
	(void) ret_mount;
	(void) e;
	return 0;
}

static int fake_space(const struct volume *v, struct fs_space *ret, struct rerr *e)
{
	(void) v;
	(void) e;
	*ret = (struct fs_space){ .size = 100ULL << 30, .avail = 50ULL << 30 };
	return 0;
}

const struct backend fake_backend = {
	.name = "fake",
	.kind = BACKEND_BTRFS,
	.probe = fake_probe,
	.list = fake_list,
	.create = fake_create,
	.remove = fake_remove,
	.update = fake_update,
	.where = fake_where,
	.origin = fake_where,
	.snapshot_frozen_ok = fake_frozen_ok,
	.freeze_target = fake_freeze_target,
	.space = fake_space,
	.room = backend_min_free,
};
