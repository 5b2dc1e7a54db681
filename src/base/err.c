/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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

void rerr_clear(struct rerr *e)
{
	e->code = 0;
	e->usage = false;
	e->msg[0] = '\0';
}
