/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What prune, run and send did, as text and as JSON: the retention decisions
 * (source and targets) and the transfers.
 */
#include "internal.h"

/*
 * One retention plan, as prune prints it: a line a decision (with all, kept
 * ones too) and the totals. @who is "VOLUME" or "VOLUME@TARGET"; with @pad
 * the names are padded to one width.
 */
static void print_plan(const char *who, const struct snapshot_list *l, const struct plan *p,
		       size_t n_deleted, bool all, bool pad)
{
	size_t w = 0, kept = 0;

	for (size_t i = 0; pad && i < l->n; i++)
		if (strlen(cli_safe(l->items[i].name)) > w)
			w = strlen(cli_safe(l->items[i].name));
	for (size_t i = 0; i < l->n; i++) {
		const struct decision *d = &p->d[i];

		kept += d->keep;
		if (d->keep && !all)
			continue;
		printf("%s  %-6s  %-*s", who, d->keep ? "keep" : arg.dry_run ? "DELETE" : "delete",
		       (int)w, cli_safe(l->items[i].name));
		for (unsigned k = 0; k < d->n_reasons; k++)
			printf("%s%s", k ? ", " : "  ", d->reasons[k]);
		putchar('\n');
	}
	printf("%s: kept %zu, %s %zu\n", who, kept, arg.dry_run ? "would delete" : "deleted",
	       arg.dry_run ? l->n - kept : n_deleted);
}

void cli_print_targets(const struct volume_report *r, bool decisions)
{
	for (size_t t = 0; t < r->n_targets; t++) {
		const struct target_report *tr = &r->targets[t];

		for (size_t i = 0; i < tr->n_sent; i++) {
			const struct transfer *x = &tr->sent[i];

			if (arg.dry_run)
				printf("%s: would send %s to %s (%s%s)\n", r->volume->name, x->name,
				       tr->target->name, x->parent ? "incremental from " : "full",
				       x->parent ?: "");
			else
				printf("%s: sent %s to %s (%s%s, %.1f MiB)\n", r->volume->name, x->name,
				       tr->target->name, x->parent ? "incremental from " : "full",
				       x->parent ?: "", (double)x->bytes / 1048576.0);
		}
		if (tr->plan) {
			char who[2 * VOLUME_NAME_MAX + 2];

			snprintf(who, sizeof(who), "%s@%s", r->volume->name, tr->target->name);
			print_plan(who, &tr->copies, tr->plan, tr->n_deleted, decisions, false);
		}
	}
}

struct json_object *cli_plan_json(const struct snapshot_list *l, const struct plan *p)
{
	struct json_object *dec = json_object_new_array();

	for (size_t i = 0; dec && p && i < l->n; i++) {
		const struct decision *d = &p->d[i];
		struct json_object *x = json_object_new_object(), *reasons = json_object_new_array();

		if (!x || !reasons) {
			json_object_put(x);
			json_object_put(reasons);
			json_object_put(dec);
			return NULL;
		}
		for (unsigned k = 0; k < d->n_reasons; k++)
			json_object_array_add(reasons, json_object_new_string(d->reasons[k]));
		if (meta_add(x, "name", json_object_new_string(l->items[i].name)) < 0 ||
		    meta_add(x, "action", json_object_new_string(d->keep ? "keep" : "delete")) < 0 ||
		    meta_add(x, "reasons", reasons) < 0 || json_object_array_add(dec, x) < 0) {
			json_object_put(x);
			json_object_put(dec);
			return NULL;
		}
	}
	return dec;
}

struct json_object *cli_targets_json(const struct volume_report *r)
{
	struct json_object *arr = json_object_new_array();

	for (size_t t = 0; arr && t < r->n_targets; t++) {
		const struct target_report *tr = &r->targets[t];
		struct json_object *o = json_object_new_object(), *sent = json_object_new_array();

		if (!o || !sent || meta_add(o, "target", json_object_new_string(tr->target->name)) < 0 ||
		    meta_add(o, "reached", json_object_new_boolean(tr->reached)) < 0 ||
		    meta_add(o, "failed", json_object_new_boolean(tr->failed)) < 0 ||
		    meta_add(o, "sent", sent) < 0 ||
		    meta_add(o, "decisions", cli_plan_json(&tr->copies, tr->plan)) < 0 ||
		    meta_add(o, "deleted", json_object_new_int64((int64_t)tr->n_deleted)) < 0 ||
		    json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			json_object_put(arr);
			return NULL;
		}
		for (size_t i = 0; i < tr->n_sent; i++) {
			struct json_object *x = json_object_new_object();

			if (!x || meta_add(x, "name", json_object_new_string(tr->sent[i].name)) < 0 ||
			    meta_add(x, "parent", tr->sent[i].parent ?
				     json_object_new_string(tr->sent[i].parent) : NULL) < 0 ||
			    meta_add(x, "bytes", json_object_new_int64((int64_t)tr->sent[i].bytes)) < 0 ||
			    json_object_array_add(sent, x) < 0) {
				json_object_put(x);
				json_object_put(arr);
				return NULL;
			}
		}
	}
	return arr;
}

void cli_print_report(const struct volume_report *r, bool run)
{
	if (arg.verbosity < 0)
		return;
	for (size_t i = 0; i < r->n_repaired; i++)
		printf("%s: %s incomplete %s (left by an interrupted run)\n", r->volume->name,
		       arg.dry_run ? "would remove" : "removed", r->repaired[i]);
	if (run) {
		if (r->created)
			printf("%s: %s %s\n", r->volume->name,
			       arg.dry_run ? "would take" : "took", r->created);
		else if (!r->due && r->decided)
			printf("%s: no timeline snapshot due\n", r->volume->name);
	}
	/* prune shows every decision; run only the deletions unless -v. */
	cli_print_targets(r, !run || arg.verbosity > 0);
	if (r->plan)
		print_plan(r->volume->name, &r->snaps, r->plan, r->n_deleted,
			   !run || arg.verbosity > 0, true);
}

struct json_object *cli_report_json(const struct volume_report *r, bool run)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	struct json_object *rep = json_object_new_array(), *errs = json_object_new_array();

	if (!o || meta_add(o, "volume", json_object_new_string(r->volume->name)) < 0 ||
	    meta_add(o, "decisions", cli_plan_json(&r->snaps, r->plan)) < 0 ||
	    meta_add(o, "repaired", rep) < 0 || meta_add(o, "errors", errs) < 0)
		return NULL;
	if (meta_add(o, "targets", cli_targets_json(r)) < 0)
		return NULL;
	if (run && (meta_add(o, "due", json_object_new_boolean(r->due)) < 0 ||
		    meta_add(o, "snapshot", r->created ? json_object_new_string(r->created)
						       : NULL) < 0))
		return NULL;
	for (size_t i = 0; i < r->n_repaired; i++)
		if (json_object_array_add(rep, json_object_new_string(r->repaired[i])) < 0)
			return NULL;
	for (size_t i = 0; i < r->n_errors; i++)
		if (json_object_array_add(errs, json_object_new_string(r->errors[i])) < 0)
			return NULL;
	return TAKE_PTR(o);
}
