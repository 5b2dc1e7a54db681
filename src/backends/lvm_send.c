/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An LV snapshot as a block stream (include/format/blockstream.h): a thin
 * snapshot as the changes since a base the target holds (thin_delta, through
 * lvmthin.c), anything else as a whole, sparse image; and the LV a stream is
 * restored into.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backend.h"
#include "backends/lvmthin.h"
#include "base/debug.h"
#include "base/util.h"
#include "format/meta.h"
#include "format/blockstream.h"

#include "lvm_internal.h"

/* A snapshot's block device, opened to be sent. */
struct lvm_block {
	int fd;
	uint64_t size;			/* bytes */
	bool delta;			/* ranges are the changes since the base */
	struct blockstream_range *ranges;
	size_t n_ranges;
	uint64_t changed;		/* bytes in ranges */
	bool deactivate;		/* activated for this: lvm_block_close deactivates it */
	char lv[300];			/* "vg/name" */
	struct blockstream_header h;	/* what the stream says it is */
};

static void lvm_block_close(const struct volume *v, struct lvm_block *b)
{
	struct rerr e = { 0 };

	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	free(b->ranges);
	b->ranges = NULL;
	if (b->deactivate && lvm_run(&e, "lvchange --activate n %s", b->lv) < 0)
		DBG(LVM, "%s: cannot deactivate '%s' again: %s", v->name, b->lv, e.msg);
	b->deactivate = false;
}

/*
 * Thin snapshots are made with the activation-skip flag: activate one (-K)
 * for reading, and deactivate it again afterwards. A thick snapshot is
 * active with its origin.
 */
static int lvm_block_open(const struct volume *v, const struct snapshot *s,
			  const struct snapshot *base, struct lvm_block *ret, struct rerr *e)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct lvm_block b = { .fd = -1 };
	struct json_object *origin, *row;
	char vg[128], lv[128], dev[300];
	bool thin;
	int r;

	if (!s->complete || s->foreign || !lvm_name_ok(s->name) || (base && !lvm_name_ok(base->name)))
		return rerr_set(e, EINVAL, "%s: '%s' is not a complete snapshot", v->name, s->name);
	r = lvm_scan(v, vg, lv, sizeof(vg), &o, &origin, e);
	if (r < 0)
		return r;
	row = lvm_find_row(lvm_report_lvs(o), s->name);
	if (!row)
		return rerr_set(e, ENOENT, "%s: no LV '%s/%s'", v->name, vg, s->name);
	thin = *lvm_field(origin, "pool_lv") != '\0';
	snprintf(b.lv, sizeof(b.lv), "%s/%s", vg, s->name);
	if (thin && base) {
		struct lvmthin_delta d = { 0 };

		r = lvmthin_changed_ranges(vg, base->name, s->name, &d, e);
		if (r < 0)
			return r;
		b.delta = true;
		b.ranges = d.ranges;
		b.n_ranges = d.n;
		b.changed = d.changed;
	}
	if (lvm_field(row, "lv_attr")[4] != 'a') {
		r = lvm_run(e, "lvchange --activate y --ignoreactivationskip %s", b.lv);
		if (r < 0)
			goto fail;
		b.deactivate = true;
	}
	r = lvmthin_dev_path(vg, s->name, dev, sizeof(dev));
	if (r < 0) {
		rerr_set(e, -r, "%s: no device path for '%s'", v->name, b.lv);
		goto fail;
	}
	b.fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (b.fd < 0) {
		r = rerr_set(e, errno, "%s: cannot open '%s'", v->name, dev);
		goto fail;
	}
	r = blockstream_fd_size(b.fd, &b.size, e);
	if (r < 0)
		goto fail;
	*ret = b;
	return 0;
fail:
	lvm_block_close(v, &b);
	return r;
}

/* --to VG/LV: an existing LV, opened with O_EXCL (refused while mounted or held). */
static int lvm_restore_check(struct stream_sink *k, const struct snapshot *c, struct rerr *e)
{
	(void) k;
	if (!c->image)
		return rerr_set(e, EINVAL, "'%s' is not a block copy", c->name);
	return 0;
}

static int lvm_restore_apply(struct stream_sink *k, int in_fd, const struct snapshot *c,
			     const char *parent_uuid, struct rerr *e)
{
	struct blockstream_expect x = { .volume = k->v->name, .uuid = c->uuid,
					.parent_uuid = parent_uuid };

	return blockstream_apply(in_fd, k->fd, &x, 0, NULL, NULL, NULL, NULL, e);
}

void lvm_restore_close(struct stream_sink *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

int lvm_restore_open(const struct volume *v, const char *to, bool open_it, struct stream_sink *ret,
		     struct rerr *e)
{
	char vg[LVMTHIN_NAME_MAX + 1], lv[LVMTHIN_NAME_MAX + 1], dev[512];
	const char *slash = strchr(to, '/');
	struct lvmthin_lv info;
	int fd, r;

	*ret = (struct stream_sink){ .check = lvm_restore_check, .apply = lvm_restore_apply,
				     .v = v, .fd = -1 };
	if (!slash || (size_t)(slash - to) > LVMTHIN_NAME_MAX || strlen(slash + 1) > LVMTHIN_NAME_MAX)
		return rerr_usage(e, EINVAL, "--to '%s': expected VG/LV", to);
	snprintf(vg, sizeof(vg), "%.*s", (int)(slash - to), to);
	snprintf(lv, sizeof(lv), "%s", slash + 1);
	if (!lvmthin_name_valid(vg) || !lvmthin_name_valid(lv))
		return rerr_usage(e, EINVAL, "--to '%s': not an LVM name", to);
	r = lvmthin_lv_query(vg, lv, &info, e);
	if (r < 0) {
		e->usage = r == -ENOENT;
		return r;
	}
	if (lvmthin_dev_path(vg, lv, dev, sizeof(dev)) < 0)
		return rerr_set(e, ENAMETOOLONG, "--to '%s': no device path", to);
	if (!open_it)
		return 0;
	fd = open(dev, O_RDWR | O_EXCL | O_CLOEXEC);
	if (fd < 0)
		return rerr_set(e, errno, "--to '%s': cannot open %s for writing%s", to, dev,
				errno == EBUSY ? " (it is in use: unmount it)" :
				errno == ENOENT ? " (is the LV active?)" : "");
	ret->fd = fd;
	return 0;
}


static int lvm_block_produce(void *priv, int pipe_w)
{
	struct lvm_block *b = priv;
	struct rerr e = { 0 };
	int r;

	r = blockstream_write(b->fd, &b->h, b->delta ? b->ranges : NULL, b->n_ranges, pipe_w, NULL,
			      NULL, NULL, &e);
	if (r < 0)
		DBG(SEND, "block stream of '%s': %s", b->h.name, e.msg);
	return r;
}

int lvm_stream_open(const struct volume *v, const struct snapshot *s,
		    const struct snapshot *parent, struct stream_source *ret, struct rerr *e)
{
	struct lvm_block *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return rerr_set(e, ENOMEM, "out of memory");
	r = lvm_block_open(v, s, parent, b, e);
	if (r < 0) {
		free(b);
		return r;
	}
	b->h.kind = b->delta ? BLOCKSTREAM_DELTA : BLOCKSTREAM_FULL;
	b->h.device_size = b->size;
	snprintf(b->h.volume, sizeof(b->h.volume), "%s", v->name);
	snprintf(b->h.name, sizeof(b->h.name), "%s", s->name);
	snprintf(b->h.uuid, sizeof(b->h.uuid), "%s", s->uuid ?: "");
	if (b->delta) {
		snprintf(b->h.parent_name, sizeof(b->h.parent_name), "%s", parent->name);
		snprintf(b->h.parent_uuid, sizeof(b->h.parent_uuid), "%s", parent->uuid ?: "");
	}
	/* The target stores the snapshot and how to rebuild it: an image, or a delta on a base. */
	*ret = (struct stream_source){ .produce = lvm_block_produce, .priv = b,
				       .parent = b->delta ? parent->name : NULL,
				       .image = b->delta ? "delta" : "full",
				       .base = b->delta ? parent->name : NULL };
	return 0;
}

void lvm_stream_close(const struct volume *v, struct stream_source *src)
{
	struct lvm_block *b = src->priv;

	if (b) {
		lvm_block_close(v, b);
		free(b);
	}
	*src = (struct stream_source){ 0 };
}
