/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * snapshot: take snapshots now, of volumes and of groups as one.
 */
#include "engine/snapshots.h"
#include "internal.h"

#define DESCRIPTION_MAX	1024

static int description_valid(const char *s)
{
	if (strlen(s) > DESCRIPTION_MAX)
		return cli_usage("--description: longer than %d bytes", DESCRIPTION_MAX);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return cli_usage("--description: control characters are not allowed");
	return 0;
}

/* The kind --kind and --pre ask for. Return: the kind, or _SNAP_KIND_INVALID after a usage message. */
static enum snap_kind snapshot_kind(void)
{
	enum snap_kind kind = arg.kind;

	if (arg.pre) {
		if (kind != _SNAP_KIND_INVALID && kind != SNAP_POST) {
			cli_usage("--pre goes with --kind post");
			return _SNAP_KIND_INVALID;
		}
		return SNAP_POST;
	}
	if (kind == SNAP_POST) {
		cli_usage("--kind post needs --pre NAME (the pre snapshot it belongs to)");
		return _SNAP_KIND_INVALID;
	}
	return kind == _SNAP_KIND_INVALID ? SNAP_MANUAL : kind;
}

/* The index in @takes of volume @v. */
static size_t snapshot_find(const struct take *takes, size_t n, const struct volume *v)
{
	size_t i = 0;

	while (i < n - 1 && takes[i].v != v)
		i++;
	return i;
}

/*
 * What was taken, in the order the volumes were given: errors and notices,
 * each name, and the JSON list. Return: an exit code.
 */
static int snapshot_print(struct volume *const *given, const struct take *takes,
			  const struct volume_report *reps, size_t n, enum snap_kind kind, int ret)
{
	_cleanup_(json_object_putp) struct json_object *out = json_object_new_object();
	struct json_object *arr = json_object_new_array();

	if (!out || !arr || meta_add(out, "format", json_object_new_int(1)) < 0 ||
	    meta_add(out, "snapshots", arr) < 0) {
		json_object_put(arr);
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	}
	for (size_t g = 0; g < n; g++) {
		size_t i = snapshot_find(takes, n, given[g]);
		struct json_object *o;

		for (size_t k = 0; k < reps[i].n_notices; k++)
			cli_error("%s", reps[i].notices[k]);
		for (size_t k = 0; k < reps[i].n_errors; k++)
			cli_error("%s", reps[i].errors[k]);
		if (!takes[i].taken)
			continue;
		cli_out("%s", takes[i].s.name);
		o = json_object_new_object();
		if (!o || meta_add(o, "volume", json_object_new_string(takes[i].v->name)) < 0 ||
		    meta_add(o, "name", json_object_new_string(takes[i].s.name)) < 0 ||
		    meta_add(o, "kind", json_object_new_string(snap_kind_to_string(kind))) < 0 ||
		    json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			return cli_report(-ENOMEM, &(struct rerr){ 0 });
		}
	}
	if (arg.json && cli_print_json(out) < 0)
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	return ret;
}

int verb_snapshot(struct engine *eng, int argc, char **argv)
{
	_cleanup_free_ struct volume **vols = NULL, **given = NULL;
	_cleanup_free_ struct take *takes = NULL;
	_cleanup_free_ struct volume_report *reps = NULL;
	enum snap_kind kind = snapshot_kind();
	struct rerr e = { 0 };
	size_t n;
	int r, ret = EXIT_OK;

	if (kind == _SNAP_KIND_INVALID)
		return EXIT_USAGE;
	if (arg.description && description_valid(arg.description))
		return EXIT_USAGE;
	r = cli_select(eng, argc, argv, true, &vols, &n);
	if (r < 0)
		return r == -EINVAL ? EXIT_USAGE : cli_report(r, &(struct rerr){ 0 });
	if (cli_probe_all(eng, vols, n) < 0)
		return EXIT_USAGE;
	/* Locking and grouping reorder @vols; what is printed follows the arguments. */
	given = calloc(n + 1, sizeof(*given));
	if (!given)
		return cli_report(-ENOMEM, &e);
	memcpy(given, vols, n * sizeof(*given));
	r = cli_lock(eng, vols, n);
	if (r > 0)
		return r;
	engine_units(vols, n);
	takes = calloc(n + 1, sizeof(*takes));
	reps = calloc(n + 1, sizeof(*reps));
	if (!takes || !reps)
		return cli_report(-ENOMEM, &e);
	for (size_t i = 0; i < n; i++) {
		takes[i].v = vols[i];
		takes[i].s = (struct snapshot){ .kind = kind, .pinned = arg.pin,
						.description = strdup(arg.description ?: ""),
						.pre = xstrdup_or_null(arg.pre) };
		if (!takes[i].s.description || (arg.pre && !takes[i].s.pre))
			ret = cli_report(-ENOMEM, &e);
	}
	r = ret == EXIT_OK ? engine_snapshot(eng, takes, n, reps, &e) : 0;
	if (ret != EXIT_OK)
		;
	else if (r < 0 && r != -EIO)
		ret = e.usage ? cli_report_usage(&e) : cli_report(r, &e);
	else if (arg.dry_run)
		for (size_t i = 0; i < n; i++)
			cli_info("would snapshot %s (%s%s)", given[i]->name, snap_kind_to_string(kind),
				 arg.pin ? ", pinned" : "");
	else
		ret = snapshot_print(given, takes, reps, n, kind, r < 0 ? EXIT_FAILED : EXIT_OK);
	for (size_t i = 0; i < n; i++) {
		snapshot_done(&takes[i].s);
		volume_report_done(&reps[i]);
	}
	return ret;
}
