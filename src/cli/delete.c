/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * delete, pin, unpin: one volume's snapshots, by name.
 */
#include "engine/snapshots.h"
#include "internal.h"

int verb_delete(struct engine *eng, int argc, char **argv)
{
	struct snap_results res = { 0 };
	struct rerr e = { 0 };
	struct volume *v;
	int r, ret = EXIT_OK;

	r = cli_named_volume(eng, argv[0], &v);
	if (r > 0)
		return r;
	r = engine_delete(eng, v, argv + 1, (size_t)argc - 1, arg.force, &res, &e);
	if (r < 0)
		return e.usage ? cli_report_usage(&e) : cli_report(r, &e);
	for (size_t i = 0; i < res.n; i++) {
		const struct snap_result *x = &res.items[i];

		if (x->outcome == SNAP_WOULD) {
			cli_info("would delete %s", x->name);
		} else if (x->outcome == SNAP_DONE) {
			cli_info("deleted %s", x->name);
		} else if (x->outcome == SNAP_REFUSED) {
			cli_error("%s", x->e.msg);
			ret = EXIT_FAILED;
		} else {
			ret = cli_report(-x->e.code, &x->e);
		}
	}
	snap_results_done(&res);
	return ret;
}

static int set_pinned(struct engine *eng, char **argv, bool pinned)
{
	struct snap_result x = { 0 };
	struct rerr e = { 0 };
	struct volume *v;
	int r;

	r = cli_named_volume(eng, argv[0], &v);
	if (r > 0)
		return r;
	r = engine_pin(eng, v, argv[1], pinned, &x, &e);
	if (r < 0)
		return e.usage ? cli_report_usage(&e) : cli_report(r, &e);
	if (x.outcome == SNAP_UNCHANGED)
		cli_info("%s is %s already", x.name, pinned ? "pinned" : "not pinned");
	else if (x.outcome == SNAP_WOULD)
		cli_info("would %s %s", pinned ? "pin" : "unpin", x.name);
	else if (x.outcome == SNAP_DONE)
		cli_info("%s %s", pinned ? "pinned" : "unpinned", x.name);
	else
		r = cli_report(-x.e.code, &x.e);
	free(x.name);
	return r > 0 ? r : EXIT_OK;
}

int verb_pin(struct engine *eng, int argc, char **argv)
{
	(void) argc;
	return set_pinned(eng, argv, true);
}

int verb_unpin(struct engine *eng, int argc, char **argv)
{
	(void) argc;
	return set_pinned(eng, argv, false);
}
