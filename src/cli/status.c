/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * status: a line a volume, or one JSON document; no lock, no change.
 */
#include "engine/status.h"
#include "internal.h"

/* One volume's status as status --json prints it. Return: a new object, or NULL (ENOMEM). */
static struct json_object *status_json(const struct volume_status *st)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	struct json_object *targets = json_object_new_object();
	char when[ISO_TIME_LEN];

	if (!o || meta_add(o, "volume", json_object_new_string(st->volume->name)) < 0 ||
	    meta_add(o, "backend", json_object_new_string(st->backend)) < 0 ||
	    meta_add(o, "count", json_object_new_int64((int64_t)st->count)) < 0 ||
	    meta_add(o, "newest", st->newest ? json_object_new_string(st->newest) : NULL) < 0 ||
	    meta_add(o, "newest_created", st->newest ?
		     json_object_new_string(time_format_iso(st->newest_created, when)) : NULL) < 0 ||
	    meta_add(o, "next_due", json_object_new_string(time_format_iso(st->next_due, when))) < 0 ||
	    meta_add(o, "invalid", json_object_new_int64((int64_t)st->invalid)) < 0 ||
	    meta_add(o, "merge_pending", json_object_new_boolean(st->health.merge_pending)) < 0 ||
	    meta_add(o, "merging", *st->health.merging ?
		     json_object_new_string(st->health.merging) : NULL) < 0) {
		json_object_put(targets);
		return NULL;
	}
	if (st->health.pool_known) {
		struct json_object *p = json_object_new_object();

		if (!p || meta_add(o, "pool", p) < 0 ||
		    meta_add(p, "name", json_object_new_string(st->health.pool)) < 0 ||
		    meta_add(p, "data_percent", json_object_new_double(st->health.pool_data_percent)) < 0 ||
		    meta_add(p, "metadata_percent",
			     json_object_new_double(st->health.pool_metadata_percent)) < 0) {
			json_object_put(targets);
			return NULL;
		}
	} else if (meta_add(o, "pool", NULL) < 0) {
		json_object_put(targets);
		return NULL;
	}
	if (meta_add(o, "targets", targets) < 0)
		return NULL;
	for (size_t t = 0; t < st->n_targets; t++) {
		const struct target_status *ts = &st->targets[t];
		struct json_object *x = json_object_new_object();

		if (!x || meta_add(targets, ts->target, x) < 0 ||
		    meta_add(x, "newest", ts->newest ? json_object_new_string(ts->newest) : NULL) < 0 ||
		    meta_add(x, "lag_seconds", ts->newest && st->newest ?
			     json_object_new_int64(ts->lag) : NULL) < 0)
			return NULL;
	}
	if (meta_add(o, "last_run", st->last_run ? json_object_get(st->last_run) : NULL) < 0 ||
	    meta_add(o, "pkg_open", st->pkg_open ? json_object_new_string(st->pkg_open) : NULL) < 0 ||
	    meta_add(o, "warning", *st->advice ? json_object_new_string(st->advice) : NULL) < 0)
		return NULL;
	return TAKE_PTR(o);
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *x;

	return json_object_object_get_ex(o, key, &x) && json_object_is_type(x, json_type_string)
		       ? json_object_get_string(x) : NULL;
}

static void print_status(const struct volume_status *st)
{
	char buf[64], due_local[32] = "now";

	printf("%s: ", st->volume->name);
	if (st->newest) {
		cli_age(arg.now - st->newest_created, buf, sizeof(buf));
		printf("newest %s (%s ago), ", st->newest, buf);
	} else {
		printf("no snapshots, ");
	}
	printf("%lld in all", (long long)st->count);
	if (st->next_due > arg.now)
		cli_local_time(st->next_due, true, due_local, sizeof(due_local));
	printf(", next due %s", due_local);
	for (size_t t = 0; t < st->n_targets; t++) {
		const struct target_status *ts = &st->targets[t];

		if (!ts->newest) {
			printf("; %s: nothing yet", ts->target);
			continue;
		}
		cli_age(ts->lag, buf, sizeof(buf));
		printf("; %s: %s (lag %s)", ts->target, ts->newest, ts->lag ? buf : "none");
	}
	if (st->health.pool_known)
		printf("; pool %s %.1f%% data %.1f%% metadata", st->health.pool,
		       st->health.pool_data_percent, st->health.pool_metadata_percent);
	if (st->invalid > 0)
		printf("; %lld INVALID (overflowed)", (long long)st->invalid);
	if (st->health.merge_pending)
		printf("; MERGE PENDING%s%s (rollback at the next activation)",
		       *st->health.merging ? ": " : "", st->health.merging);
	if (st->pkg_open) {
		cli_age(arg.now - st->pkg_opened, buf, sizeof(buf));
		printf("; package pre %s still without its post (%s)", st->pkg_open, buf);
	}
	if (st->last_run) {
		struct json_object *ok;

		json_object_object_get_ex(st->last_run, "success", &ok);
		printf("; last run %s %s", jstr(st->last_run, "time") ?: "?",
		       json_object_get_boolean(ok) ? "ok" : "FAILED");
	}
	putchar('\n');
	if (*st->advice)
		cli_error("warning: %s", st->advice);
}

/* status never takes a lock and changes nothing. */
int verb_status(struct engine *eng, int argc, char **argv)
{
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	_cleanup_free_ struct volume **vols = NULL;
	struct json_object *arr;
	size_t n;
	int ret = EXIT_OK;

	if (cli_select(eng, argc, argv, true, &vols, &n) < 0 || cli_probe_all(eng, vols, n) < 0)
		return EXIT_USAGE;
	if (cli_json_envelope(&out, &arr) < 0)
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	for (size_t i = 0; i < n; i++) {
		struct volume_status st = { 0 };
		struct rerr e = { 0 };
		struct json_object *o;
		int k = engine_status(eng, vols[i], &st, &e);

		if (k < 0) {
			ret = cli_report(k, &e);
			continue;
		}
		if (!arg.json)
			print_status(&st);
		o = status_json(&st);
		if (!o || json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			ret = cli_report(-ENOMEM, &(struct rerr){ 0 });
		}
		volume_status_done(&st);
	}
	if (arg.json && cli_print_json(out) < 0)
		return EXIT_FAILED;
	return ret;
}
