/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-freshness.c: the limits `check` judges ages by
 * (policy/freshness.h): periods, default and configured rpo, -w/-c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy/freshness.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define M	60
#define H	3600
#define D	86400

struct period_case {
	const char *what;
	struct policy policy;
	int64_t interval;
	int64_t want;
};

static const struct period_case period_cases[] = {
	{ "hourly is the finest", { .count = { 24, 7, 4, 6, 0 } }, 0, H },
	{ "daily when no hourly", { .count = { 0, 7, 4 } }, 0, D },
	{ "weekly alone", { .count = { 0, 0, 4 } }, 0, 7 * D },
	{ "monthly alone", { .count = { 0, 0, 0, 6 } }, 0, 31 * D },
	{ "yearly alone", { .count = { 0, 0, 0, 0, 2 } }, 0, 366 * D },
	{ "nothing kept: a day, as due_timeline()", { .count = { 0 } }, 0, D },
	{ "an interval wins over the buckets", { .count = { 24 } }, 15 * M, 15 * M },
};

static void test_period(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(period_cases) / sizeof(*period_cases); i++) {
		const struct period_case *c = &period_cases[i];

		print_message("  %s\n", c->what);
		assert_int_equal(freshness_period(&c->policy, c->interval), c->want);
	}
}

struct limits_case {
	const char *what;
	int64_t period, rpo, warn, crit;
	int64_t want_warn, want_crit;
};

static const struct limits_case limits_cases[] = {
	{ "hourly default: 2.5 periods critical, halfway warning", H, 0, 0, 0, 105 * M, 150 * M },
	{ "daily default", D, 0, 0, 0, D + 3 * D / 4, 2 * D + D / 2 },
	{ "rpo 2h on hourly warns at 90 minutes, like sanoid", H, 2 * H, 0, 0, 90 * M, 2 * H },
	{ "an rpo at the period: three quarters", H, H, 0, 0, 45 * M, H },
	{ "an rpo below the period: three quarters", H, 40 * M, 0, 0, 30 * M, 40 * M },
	{ "-c replaces the rpo, -w derives from it", H, 2 * H, 0, 5 * H, 3 * H, 5 * H },
	{ "-w alone", H, 2 * H, 70 * M, 0, 70 * M, 2 * H },
	{ "-w and -c", D, 0, 26 * H, 30 * H, 26 * H, 30 * H },
};

static void test_limits(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(limits_cases) / sizeof(*limits_cases); i++) {
		const struct limits_case *c = &limits_cases[i];
		struct freshness f = freshness_limits(c->period, c->rpo, c->warn, c->crit);

		print_message("  %s\n", c->what);
		assert_int_equal(f.warn, c->want_warn);
		assert_int_equal(f.crit, c->want_crit);
	}
}

struct state_case {
	int64_t age;
	enum check_state want;
};

static void test_state(void **state)
{
	static const struct state_case cases[] = {
		{ 0, CHECK_OK }, { 90 * M - 1, CHECK_OK }, { 90 * M, CHECK_WARNING },
		{ 2 * H - 1, CHECK_WARNING }, { 2 * H, CHECK_CRITICAL }, { 400 * D, CHECK_CRITICAL },
	};
	struct freshness f = freshness_limits(H, 2 * H, 0, 0);

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		assert_int_equal(freshness_state(&f, cases[i].age), cases[i].want);
}

static void test_worse(void **state)
{
	static const enum check_state order[] = { CHECK_OK, CHECK_UNKNOWN, CHECK_WARNING,
						  CHECK_CRITICAL };

	(void) state;
	for (size_t a = 0; a < 4; a++)
		for (size_t b = 0; b < 4; b++)
			assert_int_equal(check_state_worse(order[a], order[b]),
					 order[a > b ? a : b]);
	assert_string_equal(check_state_to_string(CHECK_CRITICAL), "CRITICAL");
	assert_string_equal(check_state_to_string((enum check_state)7), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_period),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_worse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
