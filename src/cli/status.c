/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * status: a line a volume and a line for each problem, or one JSON document;
 * no lock, no change. Exit 1 when anything is wrong (what check would not
 * call OK), so a script can tell.
 */
#include "engine/status.h"
#include "internal.h"

static struct json_object *json_time(time_t t)
{
	char when[ISO_TIME_LEN];

	return json_object_new_string(time_format_iso(t, when));
}

static int status_json_targets(struct json_object *o, const struct volume_status *st)
{
	struct json_object *targets = json_object_new_object();

	if (meta_add(o, "targets", targets) < 0)
		return -ENOMEM;
	for (size_t t = 0; t < st->n_targets; t++) {
		const struct target_status *ts = &st->targets[t];
		struct json_object *x = json_object_new_object();

		if (!x || meta_add(targets, ts->target, x) < 0 ||
		    meta_add(x, "newest", ts->newest ? json_object_new_string(ts->newest) : NULL) < 0 ||
		    meta_add(x, "newest_created", ts->newest ? json_time(ts->newest_created) : NULL) < 0 ||
		    meta_add(x, "lag_seconds", ts->newest && st->newest_any ?
			     json_object_new_int64(ts->lag) : NULL) < 0 ||
		    meta_add(x, "rpo_seconds", json_object_new_int64(ts->limits.crit)) < 0 ||
		    meta_add(x, "last_run", ts->run ? json_object_new_string(
				     run_target_state_to_string(ts->run->state)) : NULL) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int status_json_health(struct json_object *o, const struct volume_status *st)
{
	struct json_object *p;

	if (meta_add(o, "invalid", json_object_new_int64((int64_t)st->invalid)) < 0 ||
	    meta_add(o, "merge_pending", json_object_new_boolean(st->health.merge_pending)) < 0 ||
	    meta_add(o, "merging", *st->health.merging ?
		     json_object_new_string(st->health.merging) : NULL) < 0)
		return -ENOMEM;
	if (!st->health.pool_known)
		return meta_add(o, "pool", NULL);
	p = json_object_new_object();
	if (!p || meta_add(o, "pool", p) < 0 ||
	    meta_add(p, "name", json_object_new_string(st->health.pool)) < 0 ||
	    meta_add(p, "data_percent", json_object_new_double(st->health.pool_data_percent)) < 0 ||
	    meta_add(p, "metadata_percent",
		     json_object_new_double(st->health.pool_metadata_percent)) < 0)
		return -ENOMEM;
	return 0;
}

static int status_json_problems(struct json_object *o, const struct volume_status *st)
{
	struct json_object *arr = json_object_new_array();

	if (meta_add(o, "state", json_object_new_string(check_state_to_string(st->state))) < 0 ||
	    meta_add(o, "problems", arr) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < st->n_problems; i++) {
		struct json_object *x = json_object_new_object();

		if (!x || json_object_array_add(arr, x) < 0) {
			json_object_put(x);
			return -ENOMEM;
		}
		if (meta_add(x, "state", json_object_new_string(
				     check_state_to_string(st->problems[i].state))) < 0 ||
		    meta_add(x, "text", json_object_new_string(st->problems[i].text)) < 0)
			return -ENOMEM;
	}
	return 0;
}

struct json_object *cli_status_json(const struct volume_status *st)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	struct json_object *kinds = json_object_new_object();

	if (!o || meta_add(o, "volume", json_object_new_string(st->volume->name)) < 0 ||
	    meta_add(o, "backend", json_object_new_string(st->backend)) < 0 ||
	    meta_add(o, "error", st->error ? json_object_new_string(st->error) : NULL) < 0 ||
	    meta_add(o, "kinds", kinds) < 0 || status_json_problems(o, st) < 0)
		return NULL;
	if (st->error)
		return TAKE_PTR(o);
	for (int k = 0; k < _SNAP_KIND_MAX; k++)
		if (meta_add(kinds, snap_kind_to_string(k),
			     json_object_new_int64((int64_t)st->by_kind[k])) < 0)
			return NULL;
	if (meta_add(o, "count", json_object_new_int64((int64_t)st->count)) < 0 ||
	    meta_add(o, "newest", st->newest ? json_object_new_string(st->newest) : NULL) < 0 ||
	    meta_add(o, "newest_created", st->newest ? json_time(st->newest_created) : NULL) < 0 ||
	    meta_add(o, "newest_any", st->newest_any ? json_object_new_string(st->newest_any)
						     : NULL) < 0 ||
	    meta_add(o, "newest_any_created", st->newest_any ? json_time(st->newest_any_created)
							     : NULL) < 0 ||
	    meta_add(o, "rpo_seconds", json_object_new_int64(st->limits.crit)) < 0 ||
	    meta_add(o, "next_due", json_time(st->next_due)) < 0 ||
	    meta_add(o, "incomplete", json_object_new_int64((int64_t)st->incomplete)) < 0 ||
	    meta_add(o, "stale", json_object_new_int64((int64_t)st->stale)) < 0 ||
	    meta_add(o, "future", json_object_new_int64((int64_t)st->future)) < 0 ||
	    meta_add(o, "free_bytes", st->space_known ?
		     json_object_new_int64((int64_t)st->space.avail) : NULL) < 0 ||
	    meta_add(o, "size_bytes", st->space_known ?
		     json_object_new_int64((int64_t)st->space.size) : NULL) < 0 ||
	    status_json_health(o, st) < 0 || status_json_targets(o, st) < 0 ||
	    meta_add(o, "last_run", st->run_known ? json_object_get(st->run.json) : NULL) < 0 ||
	    meta_add(o, "pkg_open", st->pkg_open ? json_object_new_string(st->pkg_open) : NULL) < 0 ||
	    meta_add(o, "warning", *st->advice ? json_object_new_string(st->advice) : NULL) < 0)
		return NULL;
	return TAKE_PTR(o);
}

static void print_targets(const struct volume_status *st)
{
	char buf[64];

	for (size_t t = 0; t < st->n_targets; t++) {
		const struct target_status *ts = &st->targets[t];
		const char *state = ts->run && ts->run->state != RUN_TARGET_OK ?
			run_target_state_to_string(ts->run->state) : NULL;

		if (!ts->newest) {
			printf("; %s: nothing yet", ts->target);
		} else {
			cli_age(ts->lag, buf, sizeof(buf));
			printf("; %s: %s (lag %s)", ts->target, ts->newest, ts->lag ? buf : "none");
		}
		if (state)
			printf(" %s at the last run", state);
	}
}

/* A line a problem, from the @from'th (an unreadable volume's first is said already). */
static void print_problems(const struct volume_status *st, size_t from)
{
	for (size_t i = from; i < st->n_problems; i++)
		printf("  %s: %s\n", check_state_to_string(st->problems[i].state),
		       cli_safe(st->problems[i].text));
}

static void print_status(const struct volume_status *st)
{
	char buf[64], due_local[32] = "now";

	printf("%s: ", st->volume->name);
	if (st->error) {
		printf("CANNOT BE READ: %s\n", cli_safe(st->error));
		print_problems(st, 1);
		return;
	}
	if (st->newest) {
		cli_age(arg.now - st->newest_created, buf, sizeof(buf));
		printf("newest timeline %s (%s ago), ", st->newest, buf);
	} else {
		printf("no timeline snapshot, ");
	}
	printf("%zu in all", st->count);
	if (st->next_due > arg.now)
		cli_local_time(st->next_due, true, due_local, sizeof(due_local));
	printf(", next due %s", due_local);
	if (st->newest_any && (!st->newest || !streq(st->newest_any, st->newest))) {
		cli_age(arg.now - st->newest_any_created, buf, sizeof(buf));
		printf("; newest of any kind %s (%s, %s ago)", st->newest_any,
		       snap_kind_to_string(st->newest_any_kind), buf);
	}
	print_targets(st);
	if (st->health.pool_known)
		printf("; pool %s %.1f%% data %.1f%% metadata", st->health.pool,
		       st->health.pool_data_percent, st->health.pool_metadata_percent);
	if (st->health.merge_pending)
		printf("; MERGE PENDING%s%s (rollback at the next activation)",
		       *st->health.merging ? ": " : "", st->health.merging);
	if (st->pkg_open) {
		cli_age(arg.now - st->pkg_opened, buf, sizeof(buf));
		printf("; package pre %s still without its post (%s)", st->pkg_open, buf);
	}
	if (st->run_known) {
		char when[ISO_TIME_LEN];

		printf("; last run %s %s", time_format_iso(st->run.time, when),
		       st->run.success ? "ok" : "FAILED");
	}
	putchar('\n');
	print_problems(st, 0);
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

	if (cli_select(eng, argc, argv, true, &vols, &n) < 0)
		return EXIT_USAGE;
	if (cli_json_envelope(&out, &arr) < 0)
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	for (size_t i = 0; i < n; i++) {
		struct volume_status st;
		struct json_object *o;

		if (engine_status(eng, vols[i], NULL, &st) < 0)
			return cli_report(-ENOMEM, &(struct rerr){ 0 });
		if (st.state != CHECK_OK)
			ret = EXIT_FAILED;
		if (st.error && arg.json)
			cli_error("%s: cannot be read: %s", st.volume->name, st.error);
		if (!arg.json)
			print_status(&st);
		o = cli_status_json(&st);
		volume_status_done(&st);
		if (!o || json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			return cli_report(-ENOMEM, &(struct rerr){ 0 });
		}
	}
	if (arg.json && cli_print_json(out) < 0)
		return EXIT_FAILED;
	return ret;
}
