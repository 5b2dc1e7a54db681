/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config-check: the config validated, with the volumes and hooks it names,
 * and printed normalised.
 */
#include "os/hooks.h"
#include "internal.h"

int verb_config_check(struct engine *eng, int argc, char **argv)
{
	const struct config *cfg = eng->cfg;
	_cleanup_free_ struct volume **vols = NULL;
	_cleanup_free_ char *text = NULL;
	size_t n;

	if (cli_select(eng, argc, argv, false, &vols, &n) < 0)
		return EXIT_USAGE;
	if (cli_probe_all(eng, vols, n) < 0)
		return EXIT_USAGE;
	for (size_t i = 0; i < n; i++) {
		struct rerr e = { 0 };
		bool pre = hooks_check(vols[i]->pre_hooks, vols[i]->n_pre_hooks, &e) < 0;

		if (pre || hooks_check(vols[i]->post_hooks, vols[i]->n_post_hooks, &e) < 0) {
			char why[sizeof(e.msg) + 64];

			/* As snapshot says it. */
			cli_error("%s:%u: %s", cfg->path,
				  config_volume_line(vols[i], pre ? VKEY_PRE_HOOK : VKEY_POST_HOOK),
				  rerr_text(&e, -EIO, why, sizeof(why)));
			return EXIT_USAGE;
		}
	}
	text = config_format(cfg);
	if (!text)
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	fputs(text, stdout);
	for (size_t i = 0; i < n; i++) {
		char advice[600];

		if (engine_advise(eng, vols[i], advice, sizeof(advice)) > 0)
			cli_error("warning: %s", advice);
	}
	return EXIT_OK;
}

/* --- targets ------------------------------------------------------------ */
