/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rollback and restore.
 */
#include "engine/restore.h"
#include "engine/rollback.h"
#include "internal.h"

int verb_rollback(struct engine *eng, int argc, char **argv)
{
	struct rollback_report r;
	struct rerr e = { 0 };
	struct volume *v;
	int k, ret = EXIT_OK;

	(void) argc;
	k = cli_named_volume(eng, argv[0], &v);
	if (k > 0)
		return k;
	k = engine_lock(eng, &v, 1, &e);
	if (k < 0)
		return cli_report(k, &e);
	k = rollback_volume(v, argv[1], arg.now, arg.dry_run, &r, &e);
	if (k < 0)
		ret = r.bad_arg ? cli_report_usage(&e) : cli_report(k, &e);
	if (arg.json) {
		_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
		struct json_object *steps = json_object_new_array();
		char why[sizeof(e.msg) + 64];
		const char *result = k < 0 ? "failed" : arg.dry_run ? "dry run"
				     : r.result == ROLLBACK_DONE ? "done" : "at next activation";

		for (unsigned i = 0; steps && i < r.n_steps; i++)
			json_object_array_add(steps, json_object_new_string(r.steps[i]));
		if (!o || meta_add(o, "format", json_object_new_int(1)) < 0 ||
		    meta_add(o, "volume", json_object_new_string(v->name)) < 0 ||
		    meta_add(o, "snapshot", r.target ? json_object_new_string(r.target) : NULL) < 0 ||
		    meta_add(o, "saved", r.saved ? json_object_new_string(r.saved) : NULL) < 0 ||
		    meta_add(o, "result", json_object_new_string(result)) < 0 ||
		    meta_add(o, "error", k < 0 ? json_object_new_string(
				     rerr_text(&e, k, why, sizeof(why))) : NULL) < 0 ||
		    meta_add(o, "steps", steps) < 0 || cli_print_json(o) < 0)
			ret = EXIT_FAILED;
	} else if (arg.verbosity >= 0) {
		for (unsigned i = 0; i < r.n_steps; i++)
			printf("%s: %s%s\n", v->name, arg.dry_run ? "would " : "", r.steps[i]);
	}
	rollback_report_done(&r);
	return ret;
}

int verb_restore(struct engine *eng, int argc, char **argv)
{
	const struct config *cfg = eng->cfg;
	_cleanup_free_ struct volume **vols = NULL;
	struct restore_report r;
	struct rerr e = { 0 };
	struct volume *v;
	size_t n;
	int k, ret = EXIT_OK;

	(void) argc;
	/* Not probed: restoring is for when the volume may be gone. */
	if (cli_select(eng, 1, argv, false, &vols, &n) < 0)
		return EXIT_USAGE;
	v = vols[0];
	if (!arg.to)
		return cli_usage("restore needs --to: the path of a new subvolume (btrfs), or VG/LV "
				 "(LVM)");
	if (arg.target && !config_target(cfg, arg.target))
		return cli_usage("unknown target '%s'", arg.target);
	k = engine_restore(v, engine_sessions(eng), arg.target, argv[1], arg.to, arg.dry_run, &r, &e);
	if (k < 0)
		ret = r.bad_arg ? cli_report_usage(&e) : cli_report(k, &e);
	if (arg.json) {
		_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
		struct json_object *chain = json_object_new_array();
		char why[sizeof(e.msg) + 64];

		for (unsigned i = 0; chain && i < r.n_chain; i++) {
			struct json_object *x = json_object_new_object();

			if (!x || json_object_array_add(chain, x) < 0 ||
			    meta_add(x, "name", json_object_new_string(r.chain[i])) < 0 ||
			    meta_add(x, "bytes", json_object_new_int64((int64_t)r.bytes[i])) < 0)
				ret = EXIT_FAILED;
		}
		if (!o || meta_add(o, "format", json_object_new_int(1)) < 0 ||
		    meta_add(o, "volume", json_object_new_string(v->name)) < 0 ||
		    meta_add(o, "target", r.target ? json_object_new_string(r.target->name) : NULL) < 0 ||
		    meta_add(o, "snapshot", r.snapshot ? json_object_new_string(r.snapshot) : NULL) < 0 ||
		    meta_add(o, "to", json_object_new_string(arg.to)) < 0 ||
		    meta_add(o, "success", json_object_new_boolean(k == 0)) < 0 ||
		    meta_add(o, "error", k < 0 ? json_object_new_string(
				     rerr_text(&e, k, why, sizeof(why))) : NULL) < 0 ||
		    meta_add(o, "chain", chain) < 0 || cli_print_json(o) < 0)
			ret = EXIT_FAILED;
	} else if (k == 0 && arg.verbosity >= 0) {
		for (unsigned i = 0; i < r.n_chain; i++)
			printf("%s: %s %s from %s (%s)\n", v->name, arg.dry_run ? "would apply" : "applied",
			       r.chain[i], r.target->name, i ? "delta" : "full image");
		if (!arg.dry_run)
			printf("%s: %s restored into %s\n", v->name, r.snapshot, arg.to);
	}
	restore_report_done(&r);
	return ret;
}
