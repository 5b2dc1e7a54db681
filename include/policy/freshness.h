/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * How old the newest snapshot, or a target's newest copy, may grow before
 * `check` warns or turns critical (SPEC 4, rpo): pure functions of the
 * policy, the config's rpo and a plugin's -w/-c. No I/O, no clock reads.
 */
#ifndef SNAPROTATE_FRESHNESS_H
#define SNAPROTATE_FRESHNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "model/policy.h"

/* The states of the Nagios plugin API, in order of severity (UNKNOWN aside). */
enum check_state {
	CHECK_OK = 0,
	CHECK_WARNING = 1,
	CHECK_CRITICAL = 2,
	CHECK_UNKNOWN = 3,
};

/**
 * check_state_to_string() - "OK", "WARNING", "CRITICAL", "UNKNOWN".
 * @s: The state.
 * Return: a static string ("UNKNOWN" for anything out of range).
 */
const char *check_state_to_string(enum check_state s);

/**
 * check_state_worse() - The more severe of @a and @b: CRITICAL > WARNING >
 * UNKNOWN > OK (a known problem outranks an unknown one, as plugins do).
 * @a: One state.
 * @b: The other.
 * Return: the worse.
 */
enum check_state check_state_worse(enum check_state a, enum check_state b);

/* Ages in seconds at which a thing turns WARNING and CRITICAL. */
struct freshness {
	int64_t warn;
	int64_t crit;
};

/**
 * freshness_period() - The period at which `run` takes timeline snapshots:
 * @interval, else the length of the finest granularity @policy keeps (an
 * hour, a day, a week, 31 days, 366 days), a day when it keeps none (as
 * due_timeline() does).
 * @policy: The volume's retention.
 * @interval: The volume's interval, 0 if none.
 * Return: seconds, > 0.
 */
int64_t freshness_period(const struct policy *policy, int64_t interval);

/**
 * freshness_limits() - The limits for a period and an rpo.
 * @period: From freshness_period().
 * @rpo: The config's rpo (CRITICAL), 0 for the default: two periods plus
 *       half of one, so one missed run is not yet critical.
 * @warn: A -w override, 0 for none: else halfway between the period and
 *        CRITICAL (90 minutes for an rpo of 2h on an hourly timeline), or
 *        three quarters of CRITICAL when that is not above the period.
 * @crit: A -c override, 0 for none.
 * Return: the limits.
 */
struct freshness freshness_limits(int64_t period, int64_t rpo, int64_t warn, int64_t crit);

/**
 * freshness_state() - The state of something @age seconds old.
 * @f: The limits.
 * @age: Seconds; negative (from the future) is not judged here.
 * Return: CRITICAL at or past @f->crit, WARNING at or past @f->warn, else OK.
 */
enum check_state freshness_state(const struct freshness *f, int64_t age);

#endif
