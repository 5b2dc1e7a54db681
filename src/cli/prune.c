/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * prune and run: retention, and the timer job.
 */
#include "internal.h"

/* Prints one unit's reports as they come, and keeps their JSON for the end. */
struct cli_units {
	struct json_object *arr;	/* borrowed */
	bool run;			/* the report of run: due, created */
	bool oom;
};

static void cli_unit(void *user, const struct volume_report *reps, size_t n,
		     const struct rerr *lock_error)
{
	struct cli_units *u = user;

	if (lock_error) {
		cli_report(-lock_error->code, lock_error);
		if (lock_error->code == EAGAIN)
			return;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < reps[i].n_notices; k++)
			cli_error("%s", reps[i].notices[k]);
		for (size_t k = 0; k < reps[i].n_errors; k++)
			cli_error("%s", reps[i].errors[k]);
		if (arg.json) {
			struct json_object *o = cli_report_json(&reps[i], u->run);

			if (!o || json_object_array_add(u->arr, o) < 0) {
				json_object_put(o);
				u->oom = true;
			}
		} else {
			cli_print_report(&reps[i], u->run);
		}
	}
}

int verb_prune(struct engine *eng, int argc, char **argv)
{
	_cleanup_free_ struct volume **vols = NULL;
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	struct cli_units u = { 0 };
	size_t n;
	int r, ret;

	if (cli_select(eng, argc, argv, true, &vols, &n) < 0)
		return EXIT_USAGE;
	if (cli_probe_all(eng, vols, n) < 0)
		return EXIT_USAGE;
	r = cli_lock(eng, vols, n);
	if (r > 0)
		return r;
	if (cli_json_envelope(&out, &u.arr) < 0)
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	ret = engine_prune(eng, vols, n, cli_unit, &u) < 0 ? EXIT_FAILED : EXIT_OK;
	if (u.oom || (arg.json && cli_print_json(out) < 0))
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	return ret;
}

/*
 * run: each volume, or each group as a whole, independently; one failing does
 * not stop the others. Exit 1 if any failed, else 3 if any was locked.
 */
int verb_run(struct engine *eng, int argc, char **argv)
{
	_cleanup_free_ struct volume **vols = NULL;
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	const struct replicate_opts o = { .send = true, .prune_targets = true,
					  .dry_run = arg.dry_run, .offline_ok = true,
					  .progress = cli_progress() };
	struct cli_units u = { .run = true };
	struct run_summary sum;
	size_t n;
	int r;

	if (cli_select(eng, argc, argv, true, &vols, &n) < 0)
		return EXIT_USAGE;
	if (cli_json_envelope(&out, &u.arr) < 0)
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	r = engine_run(eng, vols, n, &o, cli_unit, &u, &sum);
	if (r == -ENOMEM)
		return cli_report(r, &(struct rerr){ 0 });
	if (sum.n_failed)
		cli_error("run failed for %zu volume%s: %s", sum.n_failed,
			  sum.n_failed == 1 ? "" : "s", sum.failed);
	if (u.oom || (arg.json && cli_print_json(out) < 0))
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	return r < 0 ? EXIT_FAILED : sum.locked ? EXIT_LOCKED : EXIT_OK;
}
