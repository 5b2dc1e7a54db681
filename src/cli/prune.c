/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * prune and run: retention, and the timer job.
 */
#include "internal.h"

int verb_prune(struct engine *eng, int argc, char **argv)
{
	_cleanup_free_ struct volume **vols = NULL;
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	struct json_object *arr;
	size_t n;
	int r, ret = EXIT_OK;

	if (cli_select(eng, argc, argv, true, &vols, &n) < 0)
		return EXIT_USAGE;
	if (cli_probe_all(eng, vols, n) < 0)
		return EXIT_USAGE;
	r = cli_lock(eng, vols, n);
	if (r > 0)
		return r;
	if (cli_json_envelope(&out, &arr) < 0)
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	for (size_t i = 0; i < n; i++) {
		struct volume_report rep = { 0 };

		if (rotate_prune(vols[i], arg.now, arg.dry_run, engine_sessions(eng), &rep) < 0)
			ret = EXIT_FAILED;
		for (size_t k = 0; k < rep.n_errors; k++)
			cli_error("%s", rep.errors[k]);
		for (size_t k = 0; k < rep.n_notices; k++)
			cli_error("%s", rep.notices[k]);
		if (arg.json) {
			struct json_object *o = cli_report_json(&rep, false);

			if (!o || json_object_array_add(arr, o) < 0) {
				json_object_put(o);
				volume_report_done(&rep);
				return cli_report(-ENOMEM, &(struct rerr){ 0 });
			}
		} else {
			cli_print_report(&rep, false);
		}
		volume_report_done(&rep);
	}
	if (arg.json && cli_print_json(out) < 0)
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	return ret;
}

/*
 * One unit of run: a volume, or a group's members together. Probe, lock, run
 * the engine, record and print. Return: EXIT_OK, EXIT_FAILED, or EXIT_LOCKED
 * when another snaprotate holds a lock (then nothing is recorded: the volume
 * did not fail, it is busy).
 */
static int run_unit(struct engine *eng, struct volume **unit, size_t m,
		    struct json_object *arr, char *failed, size_t failed_len, size_t *n_failed)
{
	const struct config *cfg = eng->cfg;
	struct volume_report reps[GROUP_MAX];
	bool ok = true;
	int ret = EXIT_OK, r;

	memset(reps, 0, sizeof(reps));
	for (size_t u = 0; u < m; u++) {
		struct rerr e = { 0 };

		reps[u].volume = unit[u];
		if (engine_probe(eng, unit[u], &e) < 0) {
			cli_error("%s", e.msg);
			volume_report_fail(&reps[u], e.msg);
			ok = false;
		}
	}
	if (ok) {
		r = cli_lock(eng, unit, m);
		if (r == EXIT_LOCKED)
			return EXIT_LOCKED;
		if (r > 0) {
			for (size_t u = 0; u < m; u++)
				volume_report_fail(&reps[u], "cannot take the volume's lock");
			ok = false;
		}
	}
	if (ok && rotate_run(cfg, unit, m, arg.now, arg.dry_run, engine_sessions(eng),
			     &(struct replicate_opts){ .send = true, .prune_targets = true,
						       .dry_run = arg.dry_run,
						       .progress = cli_progress() },
			     reps) < 0)
		ok = false;
	for (size_t u = 0; u < m; u++) {
		struct rerr e = { 0 };

		for (size_t k = 0; k < reps[u].n_notices; k++)
			cli_error("%s", reps[u].notices[k]);
		for (size_t k = 0; k < reps[u].n_errors; k++)
			if (!startswith(reps[u].errors[k], cfg->path))	/* probe printed it */
				cli_error("%s", reps[u].errors[k]);
		if (!arg.dry_run && rotate_save_state(cfg, &reps[u], arg.now, &e) < 0) {
			cli_report(-e.code, &e);
			ok = false;
		}
		if (arg.json) {
			struct json_object *o = cli_report_json(&reps[u], true);

			if (!o || json_object_array_add(arr, o) < 0)
				json_object_put(o);
		} else {
			cli_print_report(&reps[u], true);
		}
		if (reps[u].n_errors) {
			size_t len = strlen(failed);

			snprintf(failed + len, failed_len - len, "%s%s", *n_failed ? " " : "",
				 unit[u]->name);
			(*n_failed)++;
			ok = false;
		}
		volume_report_done(&reps[u]);
	}
	/* Locks are per unit: release them before the next one. */
	engine_unlock(eng);
	if (!ok)
		ret = EXIT_FAILED;
	return ret;
}

/*
 * run: each volume, or each group as a whole, independently; one failing does
 * not stop the others. Exit 1 if any failed, else 3 if any was locked.
 */
int verb_run(struct engine *eng, int argc, char **argv)
{
	const struct config *cfg = eng->cfg;
	_cleanup_free_ struct volume **vols = NULL;
	_cleanup_free_ bool *done = NULL;
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	struct json_object *arr;
	size_t n, n_failed = 0;
	char failed[512] = "";
	bool any_failed = false, any_locked = false;

	if (cli_select(eng, argc, argv, true, &vols, &n) < 0)
		return EXIT_USAGE;
	done = calloc(n + 1, sizeof(*done));
	if (!done || cli_json_envelope(&out, &arr) < 0)
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	for (size_t i = 0; i < n; i++) {
		struct volume *unit[GROUP_MAX];
		const struct group *g;
		size_t m = 0;
		int r;

		if (done[i])
			continue;
		g = vols[i]->group ? vols[i]->grp : NULL;
		if (g) {
			for (size_t k = 0; k < g->n_volumes; k++)
				unit[m++] = config_volume(cfg, g->volumes[k]);
		} else {
			unit[m++] = vols[i];
		}
		for (size_t k = 0; k < n; k++)
			for (size_t u = 0; u < m; u++)
				if (vols[k] == unit[u])
					done[k] = true;
		r = run_unit(eng, unit, m, arr, failed, sizeof(failed), &n_failed);
		any_failed |= r == EXIT_FAILED;
		any_locked |= r == EXIT_LOCKED;
	}
	if (n_failed)
		cli_error("run failed for %zu volume%s: %s", n_failed, n_failed == 1 ? "" : "s",
			  failed);
	if (arg.json && cli_print_json(out) < 0)
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	return any_failed ? EXIT_FAILED : any_locked ? EXIT_LOCKED : EXIT_OK;
}
