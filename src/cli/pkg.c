/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pkg-pre, pkg-post: what a package manager's hook runs (SPEC 8). The packages
 * come on stdin as the manager hands them to its hook. Whatever fails, the
 * exit status is 0 unless a volume that failed says pkg_required = yes: no
 * upgrade is ever blocked by snaprotate otherwise.
 */
#include <sys/stat.h>

#include "engine/pkg.h"
#include "internal.h"

/* apt's hook input carries its whole configuration: generous. */
#define PKG_INPUT_MAX	(32 << 20)

static const char *const outcome_names[] = {
	[PKG_TOOK] = "took", [PKG_SHARED] = "shared", [PKG_REOPENED] = "reopened",
	[PKG_NOTHING] = "nothing", [PKG_SKIPPED] = "skipped", [PKG_FAILED] = "failed",
};

/* What the manager wrote: a terminal (a person trying it) is not read. */
static void pkg_read_input(struct pkg_txn *txn)
{
	_cleanup_free_ char *buf = NULL;
	struct rerr e = { 0 };
	size_t len = 0;

	if (!isatty(STDIN_FILENO) && read_all_fd(STDIN_FILENO, PKG_INPUT_MAX, &buf, &len) < 0)
		cli_error("cannot read the package list on stdin: %m");
	/* Nothing at all (apt's Post-Invoke gets /dev/null): no package named. */
	if (len == 0)
		return;
	if (pkg_parse(arg.tool, buf ?: "", len, arg.operation, txn, &e) < 0) {
		cli_error("%s", e.msg);
		/* Packages change all the same: a pair without their names. */
		(void) pkg_txn_add(txn, PKG_CHANGE, "packages");
	}
}

static void pkg_print(const struct pkg_result *x, bool *said_why)
{
	const char *v = x->volume->name;
	char text[sizeof(x->e.msg) + 64];

	switch (x->outcome) {
	case PKG_TOOK:
		if (!x->name)
			cli_info("%s: would take a %s snapshot (%s)", v, snap_kind_to_string(x->kind),
				 x->description);
		else
			cli_out("%s: %s %s (%s)", v, x->kind == SNAP_MANUAL ? "single" :
				snap_kind_to_string(x->kind), x->name, x->description);
		if (x->dropped)
			cli_info("%s: %s replaces %s, the post of the same pair", v, x->name, x->dropped);
		if (x->abandoned)
			cli_error("%s: pre %s never got its post (was the package manager "
				  "interrupted?): it stays a single snapshot", v, x->abandoned);
		break;
	case PKG_SHARED:
		cli_info("%s: pre %s covers this operation too", v, x->name);
		break;
	case PKG_REOPENED:
		cli_info("%s: the pair of pre %s covers this operation too; its post follows it", v,
			 x->name);
		break;
	case PKG_NOTHING:
		if (arg.verbosity > 0)
			cli_info("%s: nothing to do", v);
		break;
	case PKG_SKIPPED:
		if (!*said_why)
			cli_error("no package snapshots: %s", x->e.msg);
		*said_why = true;
		break;
	case PKG_FAILED:
		cli_error("%s: no snapshot: %s", v, rerr_text(&x->e, EIO, text, sizeof(text)));
		break;
	}
}

static int pkg_print_json(const struct pkg_result *res, size_t n)
{
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	struct json_object *arr;
	char text[sizeof(res->e.msg) + 64];

	if (cli_json_envelope(&out, &arr) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct pkg_result *x = &res[i];
		struct json_object *o = json_object_new_object();
		bool took = x->outcome == PKG_TOOK, err = x->outcome >= PKG_SKIPPED;

		if (!o || meta_add(o, "volume", json_object_new_string(x->volume->name)) < 0 ||
		    meta_add(o, "outcome", json_object_new_string(outcome_names[x->outcome])) < 0 ||
		    meta_add(o, "kind", took ? json_object_new_string(snap_kind_to_string(x->kind)) : NULL) < 0 ||
		    meta_add(o, "name", x->name ? json_object_new_string(x->name) : NULL) < 0 ||
		    meta_add(o, "description", x->description ? json_object_new_string(x->description) : NULL) < 0 ||
		    meta_add(o, "replaced", x->dropped ? json_object_new_string(x->dropped) : NULL) < 0 ||
		    meta_add(o, "error", err ? json_object_new_string(rerr_text(&x->e, EIO, text, sizeof(text))) : NULL) < 0 ||
		    json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			return -ENOMEM;
		}
	}
	return cli_print_json(out);
}

static int pkg_verb(struct engine *eng, enum pkg_step step)
{
	struct pkg_txn txn = { 0 };
	struct pkg_result *res = NULL;
	struct pkg_request rq = { .step = step, .tool = arg.tool, .txn = &txn };
	struct rerr e = { 0 };
	bool said_why = false, failed = false, required = false;
	size_t n = 0;
	int r;

	if (arg.tool == _PKG_TOOL_INVALID)
		return cli_usage("%s needs --tool apt, pacman or dnf",
				 step == PKG_PRE ? "pkg-pre" : "pkg-post");
	pkg_read_input(&txn);
	rq.manager_root = arg.root ?: txn.root;
	r = engine_pkg(eng, &rq, &res, &n, &e);
	pkg_txn_done(&txn);
	if (r < 0) {
		cli_report(r, &e);
		return EXIT_OK;
	}
	for (size_t i = 0; i < n; i++) {
		if (!arg.json)
			pkg_print(&res[i], &said_why);
		if (res[i].outcome == PKG_FAILED) {
			failed = true;
			required |= res[i].volume->pkg_required;
		}
	}
	if (arg.json && pkg_print_json(res, n) < 0)
		cli_report(-ENOMEM, &e);
	pkg_results_free(res, n);
	if (failed && !required && !arg.json)
		cli_error("the package manager goes on (pkg_required = no)");
	return required ? EXIT_FAILED : EXIT_OK;
}

int verb_pkg_pre(struct engine *eng, int argc, char **argv)
{
	(void) argc;
	(void) argv;
	return pkg_verb(eng, PKG_PRE);
}

int verb_pkg_post(struct engine *eng, int argc, char **argv)
{
	(void) argc;
	(void) argv;
	return pkg_verb(eng, PKG_POST);
}
