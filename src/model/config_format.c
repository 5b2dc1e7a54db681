/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A config written back out, every key with its value: what config-check prints. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/debug.h"
#include "base/util.h"
#include "model/config.h"
#include "model/stamp.h"

#include "config_internal.h"

/* Where a list value is wrapped (a line may hold 199 characters; a tab counts 8 here). */
#define FMT_WRAP	78

/*
 * "KEY = WORD ...", the words of a list key wrapped onto indented continuation
 * lines, which append to it: what was joined from several lines may not fit on
 * one. The first word stays on the key's line (an empty value is an error), and
 * a word that starts with '[' stays with the one before it (an indented '[' is a
 * misplaced section header): as the words stood in the file that was read.
 */
static void fmt_words(FILE *f, const char *key, const char *value)
{
	size_t col = (size_t)fprintf(f, "%s =", key), n = 0;
	_cleanup_free_ char *words = malloc(strlen(value) + 1);
	bool first = true;

	if (!words) {
		fprintf(f, " %s\n", value);
		return;
	}
	/* The words with one space between them: how long a unit is does not depend on blanks. */
	for (const char *c = value + strspn(value, " \t"); *c;) {
		size_t len = strcspn(c, " \t");

		memcpy(words + n, c, len);
		n += len;
		c += len;
		c += strspn(c, " \t");
		if (*c)
			words[n++] = ' ';
	}
	words[n] = '\0';
	for (const char *w = words; *w;) {
		const char *end = w + strcspn(w, " \t"), *next;

		/* One unit: the word and the '[' words right after it. */
		for (next = end + strspn(end, " \t"); *next == '['; next = end + strspn(end, " \t"))
			end = next + strcspn(next, " \t");
		if (col + 1 + (size_t)(end - w) > FMT_WRAP && !first) {
			fputs("\n\t", f);
			col = 8;
		} else {
			fputc(' ', f);
			col++;
		}
		fwrite(w, 1, (size_t)(end - w), f);
		col += (size_t)(end - w);
		first = false;
		w = end + strspn(end, " \t");
	}
	fputc('\n', f);
}

static void fmt_policy(FILE *f, const struct policy *p, bool full)
{
	fprintf(f, "retain =");
	for (int g = 0; g < _RETAIN_GRAN_MAX; g++)
		fprintf(f, " %s=%u", retain_gran_to_string((enum retain_gran)g), p->count[g]);
	fputc('\n', f);
	if (full) {
		char buf[32];

		fprintf(f, "retain_min = %s\n", duration_format(p->min_age, buf, sizeof(buf)));
		fprintf(f, "retain_pre_post = %u\n", p->pre_post);
		if (p->manual == RETAIN_ALL)
			fprintf(f, "retain_manual = all\n");
		else
			fprintf(f, "retain_manual = %d\n", p->manual);
	}
}

char *config_format(const struct config *c)
{
	char *out = NULL, buf[32];
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	fprintf(f, "[global]\n");
	fprintf(f, "hook_timeout = %s\n", duration_format(c->hook_timeout, buf, sizeof(buf)));
	fprintf(f, "freeze_timeout = %s\n", duration_format(c->freeze_timeout, buf, sizeof(buf)));
	fprintf(f, "pkg_dedupe = %s\n", duration_format(c->pkg_dedupe, buf, sizeof(buf)));
	fprintf(f, "state_dir = %s\n", c->state_dir);
	fprintf(f, "lock_dir = %s\n", c->lock_dir);
	for (size_t i = 0; i < c->n_volumes; i++) {
		const struct volume *v = &c->volumes[i];

		fprintf(f, "\n[volume %s]\n", v->name);
		fprintf(f, "backend = %s\n", cfg_backend_name(v->backend));
		if (v->backend == BACKEND_BTRFS) {
			fprintf(f, "path = %s\n", v->path);
			fprintf(f, "snapshot_dir = %s\n", v->snapshot_dir);
		} else {
			fprintf(f, "lv = %s\n", v->lv);
			if (v->snapshot_size)
				fprintf(f, "snapshot_size = %s\n", v->snapshot_size);
			fprintf(f, "thin_pool_max = %u%%\n", v->thin_pool_max);
		}
		if (v->n_pre_hooks) {
			_cleanup_free_ char *h = cfg_strv_join(v->pre_hooks, v->n_pre_hooks);

			fmt_words(f, "pre_hook", h ?: "");
		}
		if (v->n_post_hooks) {
			_cleanup_free_ char *h = cfg_strv_join(v->post_hooks, v->n_post_hooks);

			fmt_words(f, "post_hook", h ?: "");
		}
		fmt_policy(f, &v->policy, true);
		if (v->n_targets) {
			_cleanup_free_ char *t = cfg_strv_join(v->targets, v->n_targets);

			fmt_words(f, "targets", t ?: "");
		}
		fprintf(f, "rpo = %s\n", duration_format(v->rpo, buf, sizeof(buf)));
		fprintf(f, "interval = %s\n", duration_format(v->interval, buf, sizeof(buf)));
		if (v->max_delete >= 0)
			fprintf(f, "max_delete = %ld\n", v->max_delete);
		fprintf(f, "delete_batch = %u\n", v->delete_batch);
		if (v->min_free.unit == MIN_FREE_PERCENT)
			fprintf(f, "min_free = %" PRIu64 "%%\n", v->min_free.value);
		else if (v->min_free.unit == MIN_FREE_BYTES)
			fprintf(f, "min_free = %" PRIu64 "\n", v->min_free.value);
		fprintf(f, "pkg_snapshots = %s\n", v->pkg_snapshots ? "yes" : "no");
		if (v->pkg_snapshots) {
			fprintf(f, "pkg_required = %s\n", v->pkg_required ? "yes" : "no");
			fprintf(f, "pkg_in_chroot = %s\n", v->pkg_in_chroot ? "yes" : "no");
		}
	}
	for (size_t i = 0; i < c->n_groups; i++) {
		const struct group *g = &c->groups[i];
		_cleanup_free_ char *m = cfg_strv_join(g->volumes, g->n_volumes);

		fprintf(f, "\n[group %s]\n", g->name);
		fmt_words(f, "volumes", m ?: "");
		fprintf(f, "freeze = %s\n", g->freeze ? "yes" : "no");
	}
	for (size_t i = 0; i < c->n_targets; i++) {
		const struct target *t = &c->targets[i];

		fprintf(f, "\n[target %s]\n", t->name);
		fprintf(f, "url = %s\n", t->url);
		fmt_policy(f, &t->policy, false);
		fprintf(f, "rpo = %s\n", duration_format(t->rpo, buf, sizeof(buf)));
		fprintf(f, "send_pinned = %s\n", t->send_pinned ? "yes" : "no");
		if (t->require_mount)
			fprintf(f, "require_mount = %s\n", *t->require_mount ? t->require_mount : "yes");
		if (t->ssh_identity)
			fprintf(f, "ssh_identity = %s\n", t->ssh_identity);
		if (t->ssh_options)
			fmt_words(f, "ssh_options", t->ssh_options);
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}
