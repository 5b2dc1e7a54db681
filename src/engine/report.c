/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/report.h"

/* Takes @msg (or drops it when out of memory: the exit code still says failure). */
static void report_push(struct volume_report *r, char *msg)
{
	char **n;

	if (!msg)
		return;
	n = realloc(r->errors, (r->n_errors + 1) * sizeof(*n));
	if (!n) {
		free(msg);
		return;
	}
	r->errors = n;
	r->errors[r->n_errors++] = msg;
}

void volume_report_notice(struct volume_report *r, const char *msg)
{
	char **n = realloc(r->notices, (r->n_notices + 1) * sizeof(*n));
	char *m = strdup(msg);

	if (!n || !m) {
		free(m);
		if (n)
			r->notices = n;
		return;
	}
	r->notices = n;
	r->notices[r->n_notices++] = m;
}

void volume_report_fail(struct volume_report *r, const char *msg)
{
	report_push(r, strdup(msg));
}

void volume_report_error(struct volume_report *r, int err, const struct rerr *e)
{
	char text[sizeof(e->msg) + 64];
	char *msg;

	if (e && e->msg[0])
		rerr_text(e, err, text, sizeof(text));
	else
		snprintf(text, sizeof(text), "%s: %s", r->volume->name, strerror(abs(err) ?: EIO));
	msg = strdup(text);
	report_push(r, msg);
}

void volume_report_errorf(struct volume_report *r, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	report_push(r, msg);
}

int volume_report_repaired(struct volume_report *r, const char *name)
{
	char **n = realloc(r->repaired, (r->n_repaired + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	r->repaired = n;
	r->repaired[r->n_repaired] = strdup(name);
	if (!r->repaired[r->n_repaired])
		return -ENOMEM;
	r->n_repaired++;
	return 0;
}

void volume_report_done(struct volume_report *r)
{
	for (size_t i = 0; i < r->n_repaired; i++)
		free(r->repaired[i]);
	free(r->repaired);
	for (size_t i = 0; i < r->n_errors; i++)
		free(r->errors[i]);
	free(r->errors);
	for (size_t i = 0; i < r->n_notices; i++)
		free(r->notices[i]);
	free(r->notices);
	snapshot_list_clear(&r->snaps);
	plan_free(r->plan);
	free(r->created);
	for (size_t t = 0; t < r->n_targets; t++) {
		struct target_report *tr = &r->targets[t];

		for (size_t i = 0; i < tr->n_sent; i++) {
			free(tr->sent[i].name);
			free(tr->sent[i].parent);
		}
		free(tr->sent);
		snapshot_list_clear(&tr->copies);
		plan_free(tr->plan);
		free(tr->problem);
	}
	free(r->targets);
	memset(r, 0, sizeof(*r));
}


uint64_t volume_report_bytes_sent(const struct volume_report *r)
{
	uint64_t sum = 0;

	for (size_t t = 0; t < r->n_targets; t++)
		for (size_t i = 0; i < r->targets[t].n_sent; i++)
			sum += r->targets[t].sent[i].bytes;
	return sum;
}
