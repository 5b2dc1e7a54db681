/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Rescue mode for LVM (SPEC 7, --vg VG): with the VG active and no config, the
 * volumes are found from their snapshots' LV tags: every LV marked as ours and
 * named VOLUME.STAMP is a snapshot of VOLUME, whose LV is the snapshots'
 * origin (the newest that still names one: a merge clears the origin of the
 * other thin snapshots), or else the LV called VOLUME. The result is the text
 * of a config, as for btrfs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "backends/backend.h"
#include "base/util.h"
#include "format/meta.h"
#include "model/stamp.h"

#include "lvm_internal.h"

struct rescue_lv_volume {
	char name[VOLUME_NAME_MAX + 1];
	char origin[256];
	char newest[SNAP_NAME_MAX + 1];
};

/* Whether the comma-separated @tags hold "snaprotate" itself. */
static bool rescue_ours(const char *tags)
{
	size_t n = strlen("snaprotate");

	for (const char *p = tags; (p = strstr(p, "snaprotate")); p += n)
		if ((p == tags || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

static void rescue_row(struct rescue_lv_volume *vols, size_t *n, size_t max,
		       struct json_object *row)
{
	char name[256], vol[VOLUME_NAME_MAX + 1];
	const char *dot, *origin = lvm_field(row, "origin");
	struct rescue_lv_volume *v = NULL;

	lvm_row_name(row, name, sizeof(name));
	dot = strrchr(name, '.');
	if (!rescue_ours(lvm_field(row, "lv_tags")) || !dot ||
	    (size_t)(dot - name) > VOLUME_NAME_MAX)
		return;
	snprintf(vol, sizeof(vol), "%.*s", (int)(dot - name), name);
	if (snap_name_parse(vol, name, NULL, NULL) < 0)
		return;
	for (size_t i = 0; i < *n; i++)
		if (streq(vols[i].name, vol))
			v = &vols[i];
	if (!v) {
		if (*n == max)
			return;
		v = &vols[(*n)++];
		*v = (struct rescue_lv_volume){ 0 };
		snprintf(v->name, sizeof(v->name), "%s", vol);
	}
	/* Names sort by time: the newest snapshot that names an origin decides. */
	if (*origin && strcmp(name, v->newest) > 0 && strlen(name) < sizeof(v->newest) &&
	    strlen(origin) < sizeof(v->origin)) {
		memcpy(v->newest, name, strlen(name) + 1);
		memcpy(v->origin, origin, strlen(origin) + 1);
	}
}

int lvm_rescue_config(const char *vg, char **ret_text, char **ret_notes, struct rerr *e)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	_cleanup_free_ struct rescue_lv_volume *vols = calloc(256, sizeof(*vols));
	struct json_object *lvs;
	char *text = NULL, *notes = NULL;
	size_t n = 0, tlen = 0, nlen = 0;
	FILE *t, *m;
	int r;

	if (!vols)
		return rerr_set(e, ENOMEM, "out of memory");
	if (!lvm_name_ok(vg))
		return rerr_usage(e, EINVAL, "--vg '%s': not an LVM name", vg);
	r = lvm_lvs(vg, true, &o, e);
	if (r < 0) {
		e->usage = true;
		return r;
	}
	lvs = lvm_report_lvs(o);
	for (size_t i = 0; i < json_object_array_length(lvs); i++)
		rescue_row(vols, &n, 256, json_object_array_get_idx(lvs, i));
	t = open_memstream(&text, &tlen);
	m = open_memstream(&notes, &nlen);
	if (!t || !m) {
		if (t)
			fclose(t);
		free(text);
		return rerr_set(e, ENOMEM, "out of memory");
	}
	fprintf(t, "[global]\nlock_dir = /run/snaprotate\nstate_dir = /run/snaprotate/rescue\n");
	for (size_t i = 0; i < n; i++) {
		const char *origin = vols[i].origin;

		if (!*origin && lvm_find_row(lvs, vols[i].name))
			origin = vols[i].name;
		if (!*origin) {
			fprintf(m, "--vg: snapshots of '%s' left out: none names its LV\n",
				vols[i].name);
			continue;
		}
		fprintf(t, "\n[volume %s]\nbackend = lvm\nlv = %s/%s\n", vols[i].name, vg, origin);
	}
	if (fclose(t) != 0 || fclose(m) != 0) {
		free(text);
		free(notes);
		return rerr_set(e, ENOMEM, "out of memory");
	}
	*ret_text = text;
	*ret_notes = notes;
	return 0;
}
