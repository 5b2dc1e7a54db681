/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "policy/freshness.h"
#include "policy/retention.h"

const char *check_state_to_string(enum check_state s)
{
	static const char *const names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };

	return (unsigned)s < 4 ? names[s] : "UNKNOWN";
}

enum check_state check_state_worse(enum check_state a, enum check_state b)
{
	static const int rank[] = { 0, 2, 3, 1 };

	return rank[(unsigned)a & 3] >= rank[(unsigned)b & 3] ? a : b;
}

int64_t freshness_period(const struct policy *policy, int64_t interval)
{
	static const int64_t len[_RETAIN_GRAN_MAX] = {
		[RETAIN_HOURLY] = 3600,
		[RETAIN_DAILY] = 86400,
		[RETAIN_WEEKLY] = 7 * 86400,
		[RETAIN_MONTHLY] = 31 * 86400,
		[RETAIN_YEARLY] = 366 * 86400,
	};
	enum retain_gran g;

	if (interval > 0)
		return interval;
	g = retention_finest(policy);
	return g == _RETAIN_GRAN_MAX ? len[RETAIN_DAILY] : len[g];
}

struct freshness freshness_limits(int64_t period, int64_t rpo, int64_t warn, int64_t crit)
{
	struct freshness f;

	f.crit = crit > 0 ? crit : rpo > 0 ? rpo : 2 * period + period / 2;
	if (warn > 0)
		f.warn = warn;
	else if (f.crit > period)
		f.warn = period + (f.crit - period) / 2;
	else
		f.warn = f.crit / 4 * 3;
	return f;
}

enum check_state freshness_state(const struct freshness *f, int64_t age)
{
	if (age >= f->crit)
		return CHECK_CRITICAL;
	if (age >= f->warn)
		return CHECK_WARNING;
	return CHECK_OK;
}
