/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

/* Records the first error only; every setter goes through here. */
static int rerr_vrecord(struct rerr *e, int errnum, bool usage, bool whole, const char *fmt,
			va_list ap)
{
	if (e && e->code == 0) {
		e->code = errnum;
		e->usage = usage;
		e->whole = whole;
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	}
	return -errnum;
}

int (rerr_set)(struct rerr *e, int errnum, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = rerr_vrecord(e, abs(errnum) ?: EIO, false, false, fmt, ap);
	va_end(ap);
	return r;
}

int (rerr_usage)(struct rerr *e, int errnum, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = rerr_vrecord(e, abs(errnum) ?: EINVAL, true, false, fmt, ap);
	va_end(ap);
	return r;
}

int (rerr_say)(struct rerr *e, int errnum, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = rerr_vrecord(e, abs(errnum) ?: EIO, false, true, fmt, ap);
	va_end(ap);
	return r;
}

const char *rerr_text(const struct rerr *e, int err, char *buf, size_t len)
{
	int code = e && e->code ? e->code : abs(err) ?: EIO;

	if (e && e->msg[0] && (e->whole || e->usage))
		snprintf(buf, len, "%s", e->msg);
	else if (e && e->msg[0])
		snprintf(buf, len, "%s: %s", e->msg, strerror(code));
	else
		snprintf(buf, len, "%s", strerror(code));
	return buf;
}

int (rerr_prefix)(struct rerr *e, int errnum, const char *fmt, ...)
{
	const size_t cap = sizeof(e->msg) - 1;
	char head[sizeof(e->msg)];
	size_t hl, tl;
	va_list ap;

	errnum = abs(errnum) ?: EIO;
	if (!e)
		return -errnum;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	if (e->code == 0)
		e->code = errnum;
	tl = strlen(e->msg);
	hl = strlen(head);
	if (tl == 0) {
		memcpy(e->msg, head, hl + 1);
		return -e->code;
	}
	if (hl > cap - 2)
		hl = cap - 2;
	if (tl > cap - 2 - hl)
		tl = cap - 2 - hl;	/* the end of the old message gives way */
	memmove(e->msg + hl + 2, e->msg, tl);
	memcpy(e->msg, head, hl);
	memcpy(e->msg + hl, ": ", 2);
	e->msg[hl + 2 + tl] = '\0';
	return -e->code;
}

void rerr_clear(struct rerr *e)
{
	e->code = 0;
	e->usage = false;
	e->whole = false;
	e->msg[0] = '\0';
}
