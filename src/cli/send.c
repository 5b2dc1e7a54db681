/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * send and serve: the two ends of a target.
 */
#include "base/fault.h"
#include "transport/serve.h"
#include "internal.h"

int verb_send(struct engine *eng, int argc, char **argv)
{
	const struct config *cfg = eng->cfg;
	_cleanup_free_ struct volume **vols = NULL;
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	struct json_object *arr;
	struct replicate_opts o = { .only_target = arg.target, .send = true,
				    .dry_run = arg.dry_run, .progress = cli_progress() };
	size_t n;
	int ret = EXIT_OK, r;

	if (arg.target && !config_target(cfg, arg.target)) {
		cli_error("unknown target '%s' (not in %s)", arg.target, cfg->path);
		return EXIT_USAGE;
	}
	if (cli_select(eng, argc, argv, true, &vols, &n) < 0)
		return EXIT_USAGE;
	if (cli_probe_all(eng, vols, n) < 0)
		return EXIT_USAGE;
	for (size_t i = 0; i < n; i++) {
		bool has = false;

		for (size_t t = 0; t < vols[i]->n_targets; t++)
			has |= !arg.target || streq(vols[i]->targets[t], arg.target);
		if (!has) {
			cli_error("volume '%s' has no target%s%s%s", vols[i]->name,
				  arg.target ? " '" : "", arg.target ?: "", arg.target ? "'" : "");
			return EXIT_USAGE;
		}
	}
	r = cli_lock(eng, vols, n);
	if (r > 0)
		return r;
	if (cli_json_envelope(&out, &arr) < 0 || !engine_sessions(eng))
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	for (size_t i = 0; i < n; i++) {
		struct volume_report rep = { .volume = vols[i] };

		if (replicate_volume(vols[i], engine_sessions(eng), arg.now, &o, &rep) < 0)
			ret = EXIT_FAILED;
		for (size_t k = 0; k < rep.n_errors; k++)
			cli_error("%s", rep.errors[k]);
		if (arg.json) {
			struct json_object *x = json_object_new_object();

			if (!x || meta_add(x, "volume", json_object_new_string(vols[i]->name)) < 0 ||
			    meta_add(x, "targets", cli_targets_json(&rep)) < 0 ||
			    json_object_array_add(arr, x) < 0)
				json_object_put(x);
		} else if (arg.verbosity >= 0) {
			cli_print_targets(&rep, false);
			for (size_t t = 0; t < rep.n_targets; t++)
				if (rep.targets[t].reached && !rep.targets[t].failed &&
				    rep.targets[t].n_sent == 0)
					printf("%s: %s holds the newest already, nothing to send\n",
					       vols[i]->name, rep.targets[t].target->name);
		}
		volume_report_done(&rep);
	}
	if (arg.json && cli_print_json(out) < 0)
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	return ret;
}

int verb_serve(struct engine *eng, int argc, char **argv)
{
	struct rerr e = { 0 };
	int r;

	(void) eng;
	(void) argv;
	(void) argc;
	if (!arg.root)
		return cli_usage("serve needs --root DIR");
	if (arg.root[0] != '/')
		return cli_usage("serve --root '%s': the root must be an absolute path", arg.root);
	FAULT_ROLE("serve");
	r = serve_main(arg.root, STDIN_FILENO, STDOUT_FILENO, &e);
	if (r < 0) {
		char text[sizeof(e.msg) + 64];

		cli_error("%s", rerr_text(&e, r, text, sizeof(text)));
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

/* --- prune and run ------------------------------------------------------ */
