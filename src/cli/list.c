/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * list: every snapshot of the volumes, as a table or one JSON document
 * (streamed: 10,000 snapshots are written as they are formatted).
 */
#include "backends/backend.h"
#include "engine/snapshots.h"
#include "internal.h"

/*
 * The zone local times are in: "CREATED (CET)" when every row shares it; when
 * they span a clock change, each time says its own ("... CEST") and @*mixed.
 */
static void time_header(const struct snapshot_list *l, char *buf, size_t len, bool *mixed)
{
	char zone[16] = "", z[16];

	*mixed = false;
	for (size_t i = 0; i < l->n && !*mixed; i++) {
		if (l->items[i].foreign)
			continue;
		cli_zone_at(l->items[i].created, z, sizeof(z));
		if (!zone[0])
			memcpy(zone, z, sizeof(zone));
		else if (!streq(z, zone))
			*mixed = true;
	}
	if (!zone[0])
		cli_zone_at(time(NULL), zone, sizeof(zone));
	if (*mixed || !zone[0])
		snprintf(buf, len, "CREATED");
	else
		snprintf(buf, len, "CREATED (%s)", zone);
}

static void print_table(const struct volume *v, const struct target *t,
			const struct snapshot_list *l)
{
	const struct backend *be = v->ops;
	size_t w = strlen("NAME");
	char header[40];
	bool mixed;
	int tw;

	for (size_t i = 0; i < l->n; i++)
		if (strlen(cli_safe(l->items[i].name)) > w)
			w = strlen(cli_safe(l->items[i].name));
	if (t)
		printf("%s on target %s (%s)\n", v->name, t->name, t->url);
	else
		printf("%s (%s, %s)\n", v->name, be->name, be->where(v));
	if (l->n == 0) {
		printf("  no snapshots\n");
		return;
	}
	time_header(l, header, sizeof(header), &mixed);
	tw = mixed ? 25 : 19;
	printf("  %-*s  %-*s  %-10s  %-3s  %-12s  %s\n", (int)w, "NAME", tw, header, "KIND", "PIN",
	       "SENT TO", "DESCRIPTION");
	for (size_t i = 0; i < l->n; i++) {
		const struct snapshot *s = &l->items[i];
		char when[32] = "-", sent[64] = "-";
		const char *kind;
		size_t off = 0;

		if (s->foreign)
			kind = "foreign";
		else if (s->damaged)
			kind = "DAMAGED";
		else if (s->invalid)
			kind = "INVALID";
		else if (s->stale)
			kind = "stale";
		else if (!s->complete)
			kind = "incomplete";
		else
			kind = snap_kind_to_string(s->kind);
		if (!s->foreign)
			cli_local_time(s->created, mixed, when, sizeof(when));
		for (size_t j = 0; j < s->n_sent && off < sizeof(sent); j++)
			off += (size_t)snprintf(sent + off, sizeof(sent) - off, "%s%s", j ? "," : "",
						s->sent[j].target);
		printf("  %-*s  %-*s  %-10s  %-3s  %-12s  %s", (int)w, cli_safe(s->name), tw, when, kind,
		       s->pinned ? "yes" : "", sent, cli_safe(s->description));
		if (s->pre)
			printf("%s(pre %s)", s->description && *s->description ? " " : "",
			       cli_safe(s->pre));
		if (s->cow_known)
			printf(" [cow %.1f%%]", s->cow_percent);
		if (s->merging)
			printf(" [merging into %s: rollback pending]", v->ops->origin(v));
		if (s->damaged)
			printf("[%s]", cli_safe(s->problem));
		putchar('\n');
	}
}

/* One volume of list --json; one that could not be read has its @error and no snapshots. */
static void write_volume(struct jt_writer *w, const struct volume *v,
			 const struct snapshot_list *l, const char *error)
{
	jt_begin_object(w);
	jt_key(w, "volume");
	jt_string(w, v->name);
	jt_key(w, "backend");
	jt_string(w, v->ops->name);
	if (error) {
		jt_key(w, "error");
		jt_string(w, error);
	}
	jt_key(w, "snapshots");
	jt_begin_array(w);
	for (size_t i = 0; l && i < l->n; i++)
		meta_write_snapshot(w, &l->items[i]);
	jt_end_array(w);
	jt_end_object(w);
}

/* Streams --json: 10,000 snapshots are written as they are formatted, not built as a tree. */
int verb_list(struct engine *eng, int argc, char **argv)
{
	_cleanup_free_ struct volume **vols = NULL;
	struct jt_writer w = { .f = NULL };	/* stdout, whatever liblvm2cmd does to it */
	const struct target *t = NULL;
	size_t n;
	int r, ret = EXIT_OK;

	if (arg.target && !(t = config_target(eng->cfg, arg.target))) {
		cli_error("unknown target '%s' (not in %s)", arg.target, eng->cfg->path);
		return EXIT_USAGE;
	}
	r = cli_select(eng, argc, argv, true, &vols, &n);
	if (r < 0)
		return EXIT_USAGE;
	if (arg.json) {
		jt_begin_object(&w);
		jt_key(&w, "format");
		jt_int(&w, 1);
		jt_key(&w, "volumes");
		jt_begin_array(&w);
	}
	for (size_t i = 0; i < n; i++) {
		struct snapshot_list l = { 0 };
		struct rerr e = { 0 };

		/* One volume that cannot be read is said on its own; the others are listed. */
		r = engine_probe(eng, vols[i], &e);
		if (r == 0)
			r = t ? engine_list_target(eng, vols[i], t, &l, &e)
			      : engine_list(eng, vols[i], &l, &e);
		if (r < 0) {
			char text[sizeof(e.msg) + 64];

			ret = cli_report(r, &e) == EXIT_LOCKED ? EXIT_LOCKED : EXIT_FAILED;
			if (arg.json)
				write_volume(&w, vols[i], NULL, rerr_text(&e, r, text, sizeof(text)));
			else
				printf("%s%s: CANNOT BE READ: %s\n", i ? "\n" : "", vols[i]->name,
				       cli_safe(rerr_text(&e, r, text, sizeof(text))));
			continue;
		}
		if (arg.json) {
			write_volume(&w, vols[i], &l, NULL);
		} else {
			if (i > 0)
				putchar('\n');
			print_table(vols[i], t, &l);
		}
		snapshot_list_clear(&l);
	}
	if (arg.json) {
		jt_end_array(&w);
		jt_end_object(&w);
	}
	return ret;
}
