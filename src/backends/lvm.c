/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * LVM backend through liblvm2cmd: thick and thin snapshots of one LV, named
 * VG/VOLUME.STAMP, with all metadata in LV tags (SPEC 5), so nothing is
 * written anywhere else.
 Every LVM command runs in this
 * process through liblvm2cmd (lvm_lib.c); sending and restoring are in
 * lvm_send.c.
 *
 * Tags: "snaprotate" marks our LVs (nothing else is ever removed), then
 * "sr.kind=KIND", "sr.pinned", "sr.pre=NAME", "sr.desc=ENCODED" and
 * "sr.sent.TARGET=STAMP". All are given to lvcreate at once, so an LV either
 * has them all or was never created. A thick snapshot is complete only when
 * its LV really is a snapshot of the origin (lv_attr 's'); a half-made one
 * (lvcreate failed during the suspend) is incomplete and removed by repair.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/utsname.h>
#include <unistd.h>

#include <json-c/json.h>

#include "backends/backend.h"
#include "backends/lvmthin.h"
#include "os/mounts.h"
#include "base/debug.h"
#include "base/fault.h"
#include "base/util.h"
#include "base/version.h"
#include "format/meta.h"
#include "model/stamp.h"

#include "lvm_internal.h"

#define LVM_TAG_MARK	"snaprotate"
#define LVM_DESC_MAX	900	/* encoded; an LVM tag holds up to 1024 characters */

static int lvm_be_probe(const struct volume *v, enum volume_key *ret_key, struct rerr *e)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	char vg[128], lv[128];
	struct json_object *lvs;
	const char *attr;
	int r;

	*ret_key = VKEY_LV;
	r = lvm_split(v, vg, lv, sizeof(vg), e);
	if (r < 0)
		return r;
	r = lvm_lvs(v->lv, false, &o, e);
	if (r < 0)
		return rerr_prefix(e, r, "volume '%s'", v->name);
	lvs = lvm_report_lvs(o);
	if (!lvs || json_object_array_length(lvs) != 1)
		return rerr_set(e, ENOENT, "volume '%s': no LV '%s'", v->name, v->lv);
	attr = lvm_field(json_object_array_get_idx(lvs, 0), "lv_attr");
	if (strchr("sSV", attr[0]) && *lvm_field(json_object_array_get_idx(lvs, 0), "origin"))
		return rerr_set(e, EINVAL, "volume '%s': '%s' is a snapshot itself", v->name, v->lv);
	return 0;
}

/* Description <-> tag: [A-Za-z0-9_.-] stay, every other byte is &XX. */
static void lvm_desc_encode(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < len; p++) {
		if (isalnum(*p) || strchr("_.-", *p))
			out[o++] = (char)*p;
		else
			o += (size_t)snprintf(out + o, len - o, "&%02X", *p);
	}
	out[o] = '\0';
}

static char *lvm_desc_decode(const char *in)
{
	char *out = malloc(strlen(in) + 1), *o = out;

	if (!out)
		return NULL;
	for (const char *p = in; *p; p++) {
		unsigned v;

		if (*p == '&' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]) &&
		    sscanf(p + 1, "%2x", &v) == 1) {
			*o++ = (char)v;
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/*
 * Fills @s from one LV of the report, a parser of its tags and attributes.
 * @origin is the volume's own row. Return: 1 ours, 0 foreign, -ENOMEM.
 */
static int lvm_parse_lv(const struct volume *v, struct json_object *origin, struct json_object *lv,
			struct snapshot *s)
{
	const char *attr = lvm_field(lv, "lv_attr"), *tags = lvm_field(lv, "lv_tags");
	const char *pool = lvm_field(origin, "pool_lv");
	_cleanup_free_ char *copy = strdup(tags);
	struct snapshot n = { .kind = _SNAP_KIND_INVALID };
	char name[256], origin_name[256];
	bool marked = false, thick, thin;
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	lvm_row_name(lv, name, sizeof(name));
	lvm_row_name(origin, origin_name, sizeof(origin_name));
	if (snap_name_parse(v->name, name, &n.created, &n.seq) < 0)
		return 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (streq(t, LVM_TAG_MARK))
			marked = true;
		else if (startswith(t, "sr.kind="))
			n.kind = snap_kind_from_string(t + strlen("sr.kind="));
		else if (streq(t, "sr.pinned"))
			n.pinned = true;
		else if (startswith(t, "sr.pre=") && !n.pre)
			n.pre = strdup(t + strlen("sr.pre="));
		else if (startswith(t, "sr.desc=") && !n.description)
			n.description = lvm_desc_decode(t + strlen("sr.desc="));
		else if (startswith(t, "sr.sent.")) {
			char *eq = strchr(t, '=');
			time_t when;
			char iso[32];

			if (!eq)
				continue;
			*eq = '\0';
			/* STAMP is YYYYMMDDTHHMMSSZ: reuse the snapshot name parser. */
			snprintf(iso, sizeof(iso), "x.%s", eq + 1);
			if (snap_name_parse("x", iso, &when, NULL) == 0 &&
			    volume_name_valid(t + strlen("sr.sent.")))
				(void) snapshot_sent_set(&n, t + strlen("sr.sent."), when);
		}
	}
	if (!marked) {
		snapshot_done(&n);
		return 0;
	}
	n.name = strdup(name);
	n.uuid = strdup(lvm_field(lv, "lv_uuid"));
	if (!n.description)
		n.description = strdup("");
	if (!n.name || !n.uuid || !n.description) {
		snapshot_done(&n);
		return -ENOMEM;
	}
	/*
	 * Thick: a real snapshot of our origin ('s', 'S' while merging). Thin: a
	 * thin volume ('V') in the origin's pool; its origin field is not checked,
	 * since LVM clears it on every other thin snapshot when one is merged.
	 */
	thick = !*pool && strchr("sS", attr[0]) && streq(lvm_field(lv, "origin"), origin_name);
	thin = *pool && strchr("VS", attr[0]) && streq(lvm_field(lv, "pool_lv"), pool);
	n.merging = attr[0] == 'S' || streq(lvm_field(lv, "lv_merging"), "merging");
	/* State 'I' invalid, 'S' invalid and suspended: the snapshot overflowed. */
	n.invalid = thick && (attr[4] == 'I' || attr[4] == 'S');
	if (thick && *lvm_field(lv, "snap_percent")) {
		n.cow_known = true;
		n.cow_percent = strtod(lvm_field(lv, "snap_percent"), NULL);
	}
	n.complete = n.kind != _SNAP_KIND_INVALID && (thick || thin) && !n.invalid;
	/*
	 * lvcreate sets every tag at once: a marked LV without a valid kind was
	 * changed since, and may hold a whole snapshot. Kept and reported.
	 */
	if (n.kind == _SNAP_KIND_INVALID && (thick || thin) && !n.invalid) {
		n.damaged = true;
		n.problem = strdup("its LV tags name no snapshot kind snaprotate knows");
		if (!n.problem) {
			snapshot_done(&n);
			return -ENOMEM;
		}
	}
	if (n.kind == _SNAP_KIND_INVALID)
		n.kind = SNAP_MANUAL;
	*s = n;
	return 1;
}

/* The snapshots of @v in the report @lvs; @origin is @v's row. */
static int lvm_collect(const struct volume *v, struct json_object *lvs, struct json_object *origin,
		       struct snapshot_list *ret, struct rerr *e)
{
	struct snapshot_list l = { 0 };
	int r;

	for (size_t i = 0; i < json_object_array_length(lvs); i++) {
		struct json_object *x = json_object_array_get_idx(lvs, i);
		struct snapshot s = { 0 };
		char name[256];

		r = lvm_parse_lv(v, origin, x, &s);
		if (r == 0) {
			/* Only LVs with this volume's name pattern are listed (as foreign if unmarked). */
			lvm_row_name(x, name, sizeof(name));
			if (snap_name_parse(v->name, name, NULL, NULL) < 0)
				continue;
			s = (struct snapshot){ .name = strdup(name), .foreign = true };
			r = s.name ? 1 : -ENOMEM;
		}
		if (r < 0 || snapshot_list_append(&l, &s) < 0) {
			snapshot_done(&s);
			snapshot_list_clear(&l);
			return rerr_set(e, ENOMEM, "%s: out of memory", v->name);
		}
	}
	snapshot_list_sort(&l);
	*ret = l;
	return 0;
}

static int lvm_be_list(const struct volume *v, struct snapshot_list *ret, struct rerr *e)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct json_object *origin;
	char vg[128], lv[128];
	int r;

	r = lvm_scan(v, vg, lv, sizeof(vg), &o, &origin, e);
	if (r < 0)
		return r;
	return lvm_collect(v, lvm_report_lvs(o), origin, ret, e);
}

/* Health from one report: pool usage and a pending merge. */
static void lvm_health_from(const struct volume *v, const char *vg, struct json_object *lvs,
			    struct json_object *origin, struct volume_health *h)
{
	const char *pool = lvm_field(origin, "pool_lv");
	char origin_name[256];

	*h = (struct volume_health){ 0 };
	lvm_row_name(origin, origin_name, sizeof(origin_name));
	if (*pool) {
		struct json_object *p = lvm_find_row(lvs, pool);

		if (p) {
			h->pool_known = true;
			snprintf(h->pool, sizeof(h->pool), "%s/%s", vg, pool);
			h->pool_data_percent = strtod(lvm_field(p, "data_percent"), NULL);
			h->pool_metadata_percent = strtod(lvm_field(p, "metadata_percent"), NULL);
		}
	}
	/* 'O': an origin with a merging snapshot (thick, or thin waiting for activation). */
	h->merge_pending = lvm_field(origin, "lv_attr")[0] == 'O' ||
			   streq(lvm_field(origin, "lv_merging"), "merging");
	if (!h->merge_pending)
		return;
	for (size_t i = 0; i < json_object_array_length(lvs); i++) {
		struct json_object *x = json_object_array_get_idx(lvs, i);
		char name[256];

		lvm_row_name(x, name, sizeof(name));
		if (streq(lvm_field(x, "origin"), origin_name) &&
		    (lvm_field(x, "lv_attr")[0] == 'S' ||
		     streq(lvm_field(x, "lv_merging"), "merging")) &&
		    snap_name_parse(v->name, name, NULL, NULL) == 0)
			snprintf(h->merging, sizeof(h->merging), "%.*s", (int)sizeof(h->merging) - 1, name);
	}
}

static int lvm_be_health(const struct volume *v, struct volume_health *ret, struct rerr *e)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct json_object *origin;
	char vg[128], lv[128];
	int r;

	r = lvm_scan(v, vg, lv, sizeof(vg), &o, &origin, e);
	if (r < 0)
		return r;
	lvm_health_from(v, vg, lvm_report_lvs(o), origin, ret);
	return 0;
}

/* The tags of @s, each as " --addtag TAG" (or --deltag with @verb). */
static int lvm_tags(const struct snapshot *s, const char *verb, char *buf, size_t len)
{
	char desc[LVM_DESC_MAX + 1];
	size_t o = 0;
	int n;

#define ADD(...) \
	do {                                                                      \
		n = snprintf(buf + o, len - o, __VA_ARGS__);                      \
		if (n < 0 || (size_t)n >= len - o)                                \
			return -E2BIG;                                            \
		o += (size_t)n;                                                   \
	} while (0)

	buf[0] = '\0';
	ADD(" --%s %s --%s sr.kind=%s", verb, LVM_TAG_MARK, verb, snap_kind_to_string(s->kind));
	if (s->pinned)
		ADD(" --%s sr.pinned", verb);
	if (s->pre)
		ADD(" --%s sr.pre=%s", verb, s->pre);
	if (s->description && *s->description) {
		lvm_desc_encode(s->description, desc, sizeof(desc));
		ADD(" --%s sr.desc=%s", verb, desc);
	}
	for (size_t i = 0; i < s->n_sent; i++) {
		char name[SNAP_NAME_MAX + 1];

		if (snap_name_format("x", s->sent[i].when, 1, name, sizeof(name)) < 0)
			return -EINVAL;
		ADD(" --%s sr.sent.%s=%s", verb, s->sent[i].target, name + 2);
	}
#undef ADD
	return 0;
}

/*
 * The " --VERB TAG" of every tag in @from (lvm_tags() output, " --t TAG ...")
 * that @other lacks. Return: 0 or -E2BIG.
 */
static int lvm_tags_diff(const char *from, const char *other, const char *verb, char *buf,
			 size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (const char *p = strstr(from, " --t "); p; ) {
		const char *tag = p + 5, *end = strstr(tag, " --t ");
		size_t n = end ? (size_t)(end - tag) : strlen(tag);
		bool found = false;

		for (const char *q = strstr(other, " --t "); q && !found; ) {
			const char *t2 = q + 5, *e2 = strstr(t2, " --t ");
			size_t n2 = e2 ? (size_t)(e2 - t2) : strlen(t2);

			found = n == n2 && memcmp(tag, t2, n) == 0;
			q = e2;
		}
		if (!found) {
			int k = snprintf(buf + o, len - o, " --%s %.*s", verb, (int)n, tag);

			if (k < 0 || (size_t)k >= len - o)
				return -E2BIG;
			o += (size_t)k;
		}
		p = end;
	}
	return 0;
}

/* Whether @v's thin pool is at or above thin_pool_max: then @why says how full. */
static bool lvm_pool_full(const struct volume *v, const struct volume_health *h, char *why,
			  size_t why_len)
{
	double worst = h->pool_data_percent > h->pool_metadata_percent ? h->pool_data_percent
								       : h->pool_metadata_percent;

	/* A full pool turns every thin LV in it read-only (or errors): refuse early. */
	if (!h->pool_known || worst < (double)v->thin_pool_max)
		return false;
	snprintf(why, why_len, "thin pool %s is %.1f%% full (data %.1f%%, metadata %.1f%%), "
		 "at or above thin_pool_max %u%%", h->pool, worst, h->pool_data_percent,
		 h->pool_metadata_percent, v->thin_pool_max);
	return true;
}

/* Why a new snapshot of @v must not be taken now, from its health; 0 if it may. */
static int lvm_refuse_create(const struct volume *v, const struct volume_health *h,
			     struct rerr *e)
{
	char why[400];

	if (h->merge_pending)
		return rerr_set(e, EBUSY,
				"%s: a rollback%s%s is pending (merged at the next activation of %s): "
				"LVM takes no snapshot of an origin until then",
				v->name, *h->merging ? " to " : "", h->merging, v->lv);
	if (lvm_pool_full(v, h, why, sizeof(why)))
		return rerr_set(e, ENOSPC, "%s: %s: no snapshot taken", v->name, why);
	return 0;
}

static int lvm_be_create(const struct volume *v, struct snapshot *s, struct rerr *e)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	_cleanup_snapshot_list_ struct snapshot_list l = { 0 };
	char vg[128], lv[128], name[SNAP_NAME_MAX + 1], tags[4096], size[160] = "";
	struct json_object *origin = NULL;
	struct volume_health h;
	bool thin;
	int r;

	if (s->pre && !lvm_name_ok(s->pre))
		return rerr_set(e, EINVAL, "%s: bad pre name '%s'", v->name, s->pre);
	r = lvm_scan(v, vg, lv, sizeof(vg), &o, &origin, e);
	if (r < 0)
		return r;
	thin = *lvm_field(origin, "pool_lv") != '\0';
	lvm_health_from(v, vg, lvm_report_lvs(o), origin, &h);
	r = lvm_refuse_create(v, &h, e);
	if (r < 0)
		return r;
	r = lvm_collect(v, lvm_report_lvs(o), origin, &l, e);
	if (r < 0)
		return r;
	/* The first free name: LVM refuses a duplicate, but say so clearly before. */
	r = snapshot_free_name(&l, v->name, s->created, s->seq, name, sizeof(name), &s->seq);
	if (r < 0)
		return rerr_set(e, r, "%s: cannot name a snapshot", v->name);
	free(s->name);
	s->name = strdup(name);
	if (!s->name)
		return rerr_set(e, ENOMEM, "out of memory");
	r = lvm_tags(s, "addtag", tags, sizeof(tags));
	if (r < 0)
		return rerr_set(e, r, "%s: too much metadata for LV tags", v->name);
	if (!thin) {
		const char *sz = v->snapshot_size ?: "20%ORIGIN";

		snprintf(size, sizeof(size), " %s %s", strchr(sz, '%') ? "--extents" : "--size", sz);
	}
	FAULT("snapshot.begin");
	r = lvm_run(e, "lvcreate --snapshot --name %s%s%s %s/%s", name, size, tags, vg, lv);
	if (r < 0) {
		/* A half-made LV (suspend refused) carries our tags: take it away now. */
		struct rerr e2 = { 0 };

		(void) lvm_run(&e2, "lvremove --yes --force %s/%s", vg, name);
		return r;
	}
	FAULT("snapshot.created");
	{
		_cleanup_(json_object_putp) struct json_object *x = NULL;
		char what[300];

		snprintf(what, sizeof(what), "%s/%s", vg, name);
		if (lvm_lvs(what, false, &x, e) == 0 &&
		    json_object_array_length(lvm_report_lvs(x)) == 1) {
			free(s->uuid);
			s->uuid = strdup(lvm_field(json_object_array_get_idx(lvm_report_lvs(x), 0),
						   "lv_uuid"));
		}
	}
	s->complete = true;
	FAULT("snapshot.done");
	return 0;
}

static int lvm_be_remove(const struct volume *v, const struct snapshot *s, struct rerr *e)
{
	char vg[128], lv[128];
	int r;

	if (s->foreign || snap_name_parse(v->name, s->name, NULL, NULL) < 0 || !lvm_name_ok(s->name))
		return rerr_set(e, EPERM, "%s: '%s' was not made by snaprotate, not deleting it",
				v->name, s->name);
	if (s->merging)
		return rerr_set(e, EBUSY, "%s: '%s' is being merged into %s (a rollback): not deleting it",
				v->name, s->name, v->lv);
	r = lvm_split(v, vg, lv, sizeof(vg), e);
	if (r < 0)
		return r;
	/* list() only calls an LV ours when it carries the marker tag. */
	FAULT("remove.begin");
	r = lvm_run(e, "lvremove --yes %s/%s", vg, s->name);
	if (r == 0)
		FAULT("remove.done");
	return r;
}

static int lvm_be_update(const struct volume *v, const struct snapshot *s, struct rerr *e)
{
	_cleanup_snapshot_list_ struct snapshot_list l = { 0 };
	char vg[128], lv[128], del[4096], add[4096], cmd_del[4096] = "", cmd_add[4096] = "";
	const struct snapshot *cur = NULL;
	int r;

	if (!s->complete || s->foreign)
		return rerr_set(e, EINVAL, "%s: '%s' is not a complete snapshot", v->name, s->name);
	r = lvm_split(v, vg, lv, sizeof(vg), e);
	if (r < 0)
		return r;
	r = lvm_be_list(v, &l, e);
	if (r < 0)
		return r;
	for (size_t i = 0; i < l.n; i++)
		if (streq(l.items[i].name, s->name))
			cur = &l.items[i];
	if (!cur)
		return rerr_set(e, ENOENT, "%s: no snapshot '%s'", v->name, s->name);
	/*
	 * One lvchange, so old and new tags change in one metadata commit. Only
	 * the difference: LVM applies --deltag after --addtag, so a tag named
	 * in both would be lost (the mark with it, and the LV would turn foreign).
	 */
	r = lvm_tags(cur, "t", del, sizeof(del));
	if (r == 0)
		r = lvm_tags(s, "t", add, sizeof(add));
	if (r == 0)
		r = lvm_tags_diff(del, add, "deltag", cmd_del, sizeof(cmd_del));
	if (r == 0)
		r = lvm_tags_diff(add, del, "addtag", cmd_add, sizeof(cmd_add));
	if (r < 0)
		return rerr_set(e, -r, "%s: too much metadata for LV tags", v->name);
	if (!cmd_del[0] && !cmd_add[0])
		return 0;
	FAULT("update.begin");
	r = lvm_run(e, "lvchange%s%s %s/%s", cmd_del, cmd_add, vg, s->name);
	if (r == 0)
		FAULT("update.done");
	return r;
}

static int lvm_be_space(const struct volume *v, struct fs_space *ret, struct rerr *e)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	char vg[128], lv[128];
	struct json_object *row;
	const char *pool;
	int r;

	r = lvm_scan(v, vg, lv, sizeof(vg), &o, &row, e);
	if (r < 0)
		return r;
	pool = lvm_field(row, "pool_lv");
	if (*pool) {
		struct json_object *x = lvm_find_row(lvm_report_lvs(o), pool);
		double used;

		/* Thin: what is left in the pool. */
		if (!x)
			return rerr_set(e, ENOENT, "%s: no pool '%s/%s'", v->name, vg, pool);
		ret->size = strtoull(lvm_field(x, "lv_size"), NULL, 10);
		used = strtod(lvm_field(x, "data_percent"), NULL);
		ret->avail = (uint64_t)((double)ret->size * (100.0 - used) / 100.0);
		return 0;
	}
	r = lvm_vg_space(vg, &ret->size, &ret->avail, e);
	if (r < 0)
		return rerr_prefix(e, r, "%s", v->name);
	return 0;
}

static int lvm_be_room(const struct volume *v, char *why, size_t why_len, struct rerr *e)
{
	struct volume_health h;
	int r = backend_min_free(v, why, why_len, e);

	if (r <= 0)
		return r;
	r = lvm_be_health(v, &h, e);
	if (r < 0)
		return r;
	return lvm_pool_full(v, &h, why, why_len) ? 0 : 1;
}

/*
 * lvconvert --merge: at once when the origin is not open (a thick merge is
 * waited for, and LVM removes the snapshot), else at the origin's next
 * activation; the origin then shows 'O' until it happens.
 */
static int lvm_be_rollback(const struct volume *v, const struct snapshot *s,
			   enum rollback_result *ret, struct rerr *e)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct json_object *origin;
	char vg[128], lv[128];
	struct volume_health h;
	int r;

	if (!s->complete || s->foreign || !lvm_name_ok(s->name))
		return rerr_set(e, EINVAL, "%s: '%s' is not a complete snapshot", v->name, s->name);
	r = lvm_scan(v, vg, lv, sizeof(vg), &o, &origin, e);
	if (r < 0)
		return r;
	lvm_health_from(v, vg, lvm_report_lvs(o), origin, &h);
	if (h.merge_pending)
		return rerr_set(e, EBUSY, "%s: a rollback%s%s is already pending", v->name,
				*h.merging ? " to " : "", h.merging);
	FAULT("rollback.begin");
	r = lvm_run(e, "lvconvert --merge --interval 1 %s/%s", vg, s->name);
	if (r < 0)
		return r;
	FAULT("rollback.merged");
	json_object_put(o);
	o = NULL;
	r = lvm_scan(v, vg, lv, sizeof(vg), &o, &origin, e);
	if (r < 0)
		return r;
	lvm_health_from(v, vg, lvm_report_lvs(o), origin, &h);
	*ret = h.merge_pending ? ROLLBACK_AT_ACTIVATION : ROLLBACK_DONE;
	return 0;
}

static void lvm_be_rollback_words(const struct volume *v, const struct snapshot *s,
				  const enum rollback_result *result, char *buf, size_t len)
{
	if (!result)
		snprintf(buf, len, "lvconvert --merge of %s: at once if %s is not open (mounted), "
			 "else at its next activation (reboot, or umount and lvchange -an/-ay)",
			 s->name, v->lv);
	else if (*result == ROLLBACK_DONE)
		snprintf(buf, len, "merged %s into %s", s->name, v->lv);
	else
		snprintf(buf, len, "%s is open: %s is merged into it at its next activation "
			 "(reboot, or umount and lvchange -an/-ay %s)", v->lv, s->name, v->lv);
}

/*
 * A snapshot needs DM to suspend the origin, which freezes its filesystem:
 * before Linux 6.6 that fails with EBUSY when the filesystem is frozen
 * already (by a group's freeze); 6.6 counts who froze it ("freeze holders").
 */
static bool lvm_be_snapshot_frozen_ok(const struct volume *v)
{
	static int ok = -1;
	struct utsname u;
	unsigned major = 0, minor = 0;

	(void) v;
	if (ok < 0)
		ok = uname(&u) == 0 && sscanf(u.release, "%u.%u", &major, &minor) == 2 &&
		     (major > 6 || (major == 6 && minor >= 6));
	return ok;
}

/* The LV as "/dev/VG/LV" would show it: where a mounted one is found in the mount table. */
static int lvm_be_freeze_target(const struct volume *v, char **ret_mount, struct rerr *e)
{
	char dev[300];

	snprintf(dev, sizeof(dev), "/dev/%s", v->lv);
	return mounts_find_device(dev, ret_mount, e);
}

static const char *lvm_be_origin(const struct volume *v)
{
	return v->lv;
}

static const char *lvm_be_where(const struct volume *v)
{
	return v->lv;
}

const struct backend backend_lvm = {
	.where = lvm_be_where,
	.origin = lvm_be_origin,
	.freeze_target = lvm_be_freeze_target,
	.restore_open = lvm_restore_open,
	.restore_close = lvm_restore_close,
	.name = "lvm",
	.kind = BACKEND_LVM,
	.probe = lvm_be_probe,
	.list = lvm_be_list,
	.create = lvm_be_create,
	.remove = lvm_be_remove,
	.update = lvm_be_update,
	.space = lvm_be_space,
	.room = lvm_be_room,
	.health = lvm_be_health,
	.rollback = lvm_be_rollback,
	.rollback_words = lvm_be_rollback_words,
	.snapshot_frozen_ok = lvm_be_snapshot_frozen_ok,
	.stream_open = lvm_stream_open,
	.stream_close = lvm_stream_close,
	.copies_chain = true,
};
