/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

int rerr_set(struct rerr *e, int errnum, const char *fmt, ...)
{
	va_list ap;

	errnum = abs(errnum);
	if (errnum == 0)
		errnum = EIO;
	if (e && e->code == 0) {
		e->code = errnum;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return -errnum;
}

int rerr_usage(struct rerr *e, int errnum, const char *fmt, ...)
{
	va_list ap;

	errnum = abs(errnum);
	if (errnum == 0)
		errnum = EINVAL;
	if (e && e->code == 0) {
		e->code = errnum;
		e->usage = true;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return -errnum;
}

int rerr_prefix(struct rerr *e, int errnum, const char *fmt, ...)
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
	e->msg[0] = '\0';
}
