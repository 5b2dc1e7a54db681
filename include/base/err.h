/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Error record: a function that fails returns a negative errno and fills one
 * struct rerr with the context it knows (paths, names). The first error wins;
 * only the command line prints it.
 */
#ifndef SNAPROTATE_ERR_H
#define SNAPROTATE_ERR_H

#include <stdbool.h>
#include <stddef.h>

struct rerr {
	int code;		/* positive errno of the first failure, 0 if none */
	bool usage;		/* the caller's input is wrong (a name that names nothing): exit 2 */
	bool whole;		/* msg says the cause itself: shown without strerror(code) */
	char msg[512];		/* "cannot snapshot '/srv' as '/srv/.snap/x'" */
};

/**
 * rerr_set() - Record an error unless one is recorded already.
 * @e: The record (may be NULL: then nothing is recorded).
 * @errnum: errno value, either sign; 0 is taken as EIO.
 * @fmt: printf() format of the message.
 * @...: Its arguments.
 * Return: -abs(@errnum), so that callers can `return rerr_set(...)`.
 */
int rerr_set(struct rerr *e, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * rerr_usage() - As rerr_set(), for input that names nothing usable (an unknown
 * volume, a snapshot argument that resolves to none or to several): also sets
 * @e->usage, and the command line exits 2 for it.
 * @e: The record (may be NULL: then nothing is recorded).
 * @errnum: errno value, either sign; 0 is taken as EINVAL.
 * @fmt: printf() format of the message.
 * @...: Its arguments.
 * Return: -abs(@errnum).
 */
int rerr_usage(struct rerr *e, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * rerr_say() - As rerr_set(), for a message that says the cause in its own words
 * ("path '/home' is not mounted"): it is shown without the errno's text.
 * @e: The record (may be NULL: then nothing is recorded).
 * @errnum: errno value, either sign; 0 is taken as EIO.
 * @fmt: printf() format of the message.
 * @...: Its arguments.
 * Return: -abs(@errnum).
 */
int rerr_say(struct rerr *e, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * rerr_text() - An error as a person reads it: the message and, unless it says
 * the cause itself (rerr_say(), rerr_usage()), ": " and the errno's text; one
 * cause, said once.
 * @e: The record (may hold nothing).
 * @err: The error returned with it (either sign), for a record without a code.
 * @buf: Where the text goes.
 * @len: Its size.
 * Return: @buf.
 */
const char *rerr_text(const struct rerr *e, int err, char *buf, size_t len);

/**
 * rerr_prefix() - Put context in front of a recorded message: "@fmt: MSG".
 * @e: The record; when nothing is recorded yet, records @errnum with "@fmt".
 * @errnum: The error to record or return when @e holds none (either sign; 0 is
 *          taken as EIO).
 * @fmt: printf() format of the context.
 * @...: Its arguments.
 * Return: -(@e's code), so that callers can `return rerr_prefix(...)`; -abs(@errnum)
 * when @e is NULL.
 */
int rerr_prefix(struct rerr *e, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * rerr_clear() - Forget a recorded error, so the record can be reused for the next item.
 * @e: The record (not NULL).
 */
void rerr_clear(struct rerr *e);

#ifdef __clang_analyzer__
/*
 * For clang-tidy's analyzer (make lint) only: what these functions guarantee,
 * a negative return, so that it does not follow error paths as successes.
 */
#define RERR_NEGATIVE_(x)	({ int r_ = (x); if (r_ >= 0) __builtin_unreachable(); r_; })
#define rerr_set(...)		RERR_NEGATIVE_(rerr_set(__VA_ARGS__))
#define rerr_usage(...)		RERR_NEGATIVE_(rerr_usage(__VA_ARGS__))
#define rerr_say(...)		RERR_NEGATIVE_(rerr_say(__VA_ARGS__))
#define rerr_prefix(...)	RERR_NEGATIVE_(rerr_prefix(__VA_ARGS__))
#endif

#endif
