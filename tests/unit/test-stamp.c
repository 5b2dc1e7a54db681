/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-stamp.c: names, timestamps and durations (include/stamp.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/util.h"
#include "model/stamp.h"

/* 2026-11-27T09:05:12Z */
#define T0	((time_t)1795770312)

static char long_name[VOLUME_NAME_MAX + 2];

static const char *name_of_len(size_t n)
{
	memset(long_name, 'a', n);
	long_name[n] = '\0';
	return long_name;
}

static void volume_name_valid_table(void **state)
{
	static const struct {
		const char *name;
		bool valid;
	} cases[] = {
		{ "root", true },
		{ "a", true },
		{ "my.vol", true },
		{ "data_01", true },
		{ "A-Z.0_9", true },
		{ "x-", true },
		{ "...", true },
		{ ".hidden", true },
		{ "", false },
		{ ".", false },
		{ "..", false },
		{ "-x", false },
		{ "-", false },
		{ "a/b", false },
		{ "/", false },
		{ "a b", false },
		{ " a", false },
		{ "a\tb", false },
		{ "caf\xc3\xa9", false },
		{ "\xff", false },
		{ "a:b", false },
		{ "a@b", false },
		{ "a+b", false },
		{ "a%b", false },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (volume_name_valid(cases[i].name) != cases[i].valid)
			fail_msg("volume_name_valid(\"%s\") should be %d", cases[i].name,
				 cases[i].valid);
	}
}

static void volume_name_length_limit(void **state)
{
	(void) state;
	assert_true(volume_name_valid(name_of_len(1)));
	assert_true(volume_name_valid(name_of_len(VOLUME_NAME_MAX - 1)));
	assert_true(volume_name_valid(name_of_len(VOLUME_NAME_MAX)));
	assert_false(volume_name_valid(name_of_len(VOLUME_NAME_MAX + 1)));
	assert_int_equal(VOLUME_NAME_MAX, 64);
}

static void time_parse_iso_valid_table(void **state)
{
	static const struct {
		const char *s;
		time_t t;
	} cases[] = {
		{ "2026-11-27T09:05:12Z", T0 },
		{ "2026-11-27T10:05:12+01:00", T0 },
		{ "2026-11-27T10:05:12+0100", T0 },
		{ "2026-11-27T04:05:12-05:00", T0 },
		{ "2026-11-27T04:05:12-0500", T0 },
		{ "2026-11-27T14:35:12+05:30", T0 },
		{ "2026-11-27T09:05:12+00:00", T0 },
		{ "2026-11-27T09:05:12-00:00", T0 },
		{ "2026-11-27 09:05:12Z", T0 },
		{ "2026-11-27T09:05Z", T0 - 12 },
		{ "2026-11-27 09:05Z", T0 - 12 },
		{ "2026-11-27Z", 1795737600 },
		{ "2026-11-28T00:05:12+15:00", T0 },
		{ "2026-11-26T23:05:12-10:00", T0 },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2028-02-29T00:00:00Z", 1835395200 },
		{ "2000-02-29T00:00:00Z", 951782400 },
		{ "2026-12-31T23:59:59Z", 1798761599 },
		{ "9999-12-31T23:59:59Z", 253402300799 },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		time_t t = 42;
		int r = time_parse_iso(cases[i].s, &t);

		if (r != 0)
			fail_msg("time_parse_iso(\"%s\") = %d", cases[i].s, r);
		if (t != cases[i].t)
			fail_msg("time_parse_iso(\"%s\"): %lld, expected %lld", cases[i].s,
				 (long long)t, (long long)cases[i].t);
	}
}

static void time_parse_iso_invalid_table(void **state)
{
	static const char *const cases[] = {
		"",
		"2026",
		"2026-11",
		"2026-13-01T00:00:00Z",
		"2026-00-10T00:00:00Z",
		"2026-11-00T00:00:00Z",
		"2026-11-31T00:00:00Z",
		"2027-02-29T00:00:00Z",
		"2100-02-29T00:00:00Z",
		"2026-11-27T24:00:00Z",
		"2026-11-27T24:00Z",
		"2026-11-27T23:60:00Z",
		"2026-11-27T23:59:60Z",
		"2026-11-27T09:05:12Zx",
		"2026-11-27T09:05:12Z ",
		"2026-11-27T09:05:12+01:00x",
		"2026-11-27T09:05:12 ",
		"2026-11-27x",
		"2026-11-27T",
		"2026-11-27T9:05:12Z",
		"2026-11-27T09:5:12Z",
		"2026-11-27T09:05:1Z",
		"2026-11-27T09:05:12.5Z",
		"2026-11-27T09Z",
		"2026-11-27T09:05:12+01",
		"2026-11-27T09:05:12+1:00",
		"2026-11-27T09:05:12+24:00",
		"2026-11-27T09:05:12+01:60",
		"2026-11-27T09:05:12z",
		"2026-11-27t09:05:12Z",
		"20261127T090512Z",
		"26-11-27T09:05:12Z",
		"2026/11/27T09:05:12Z",
		"1969-12-31T23:59:59Z",
		"+2026-11-27T09:05:12Z",
		" 2026-11-27T09:05:12Z",
		"2026-11-27T09:05:12ZZ",
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		time_t t = 42;
		int r = time_parse_iso(cases[i], &t);

		if (r != -EINVAL)
			fail_msg("time_parse_iso(\"%s\") = %d, expected -EINVAL", cases[i], r);
		if (t != 42)
			fail_msg("time_parse_iso(\"%s\") wrote *ret on failure", cases[i]);
	}
}

/* Sets TZ for one test; the group teardown restores UTC. */
static void set_tz(const char *tz)
{
	assert_int_equal(setenv("TZ", tz, 1), 0);
	tzset();
}

static int tz_utc(void **state)
{
	(void) state;
	if (setenv("TZ", "UTC", 1) < 0)
		return -1;
	tzset();
	return 0;
}

static void time_parse_iso_local_time(void **state)
{
	static const struct {
		const char *tz;
		const char *s;
		time_t t;
	} cases[] = {
		{ "UTC", "2026-11-27T09:05:12", T0 },
		{ "UTC", "2026-11-27", 1795737600 },
		/* POSIX zone strings: no tzdata needed. "XXX-2" is UTC+2. */
		{ "XXX-2", "2026-11-27T11:05:12", T0 },
		{ "XXX-2", "2026-11-27 11:05", T0 - 12 },
		{ "XXX+5", "2026-11-27T04:05:12", T0 },
		{ "XXX+5", "2026-11-27", 1795737600 + 5 * 3600 },
		/* Vienna: CET in November, CEST in July. */
		{ "Europe/Vienna", "2026-11-27T10:05:12", T0 },
		{ "Europe/Vienna", "2026-11-27", 1795734000 },
		{ "Europe/Vienna", "2026-07-01 12:00", 1782900000 },
		/* An explicit zone ignores TZ. */
		{ "Europe/Vienna", "2026-11-27T09:05:12Z", T0 },
		{ "XXX+5", "2026-11-27T10:05:12+01:00", T0 },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		time_t t = 0;

		set_tz(cases[i].tz);
		if (time_parse_iso(cases[i].s, &t) != 0)
			fail_msg("TZ=%s time_parse_iso(\"%s\") failed", cases[i].tz, cases[i].s);
		if (t != cases[i].t)
			fail_msg("TZ=%s time_parse_iso(\"%s\"): %lld, expected %lld", cases[i].tz,
				 cases[i].s, (long long)t, (long long)cases[i].t);
	}
	set_tz("UTC");
}

static void time_format_iso_table(void **state)
{
	static const struct {
		time_t t;
		const char *s;
	} cases[] = {
		{ T0, "2026-11-27T09:05:12Z" },
		{ 0, "1970-01-01T00:00:00Z" },
		{ 1835395200, "2028-02-29T00:00:00Z" },
		{ 1798761599, "2026-12-31T23:59:59Z" },
		{ 253402300799, "9999-12-31T23:59:59Z" },
	};
	char buf[ISO_TIME_LEN];

	(void) state;
	set_tz("Europe/Vienna");
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		time_t back = 0;

		assert_ptr_equal(time_format_iso(cases[i].t, buf), buf);
		assert_string_equal(buf, cases[i].s);
		assert_int_equal(time_parse_iso(buf, &back), 0);
		assert_int_equal(back, cases[i].t);
	}
	set_tz("UTC");
}

static void time_format_iso_round_trip(void **state)
{
	char buf[ISO_TIME_LEN];

	(void) state;
	/* Every 7 hours and 13 seconds over five years, leap day included. */
	for (time_t t = 1767225600; t < 1767225600 + 5LL * 366 * 86400; t += 7 * 3600 + 13) {
		time_t back = 0;

		time_format_iso(t, buf);
		assert_int_equal(strlen(buf), ISO_TIME_LEN - 1);
		assert_int_equal(time_parse_iso(buf, &back), 0);
		assert_int_equal(back, t);
	}
}

static void duration_parse_valid_table(void **state)
{
	static const struct {
		const char *s;
		int64_t secs;
	} cases[] = {
		{ "0", 0 },
		{ "0s", 0 },
		{ "0h", 0 },
		{ "30s", 30 },
		{ "1s", 1 },
		{ "90m", 5400 },
		{ "1h", 3600 },
		{ "25h", 90000 },
		{ "7d", 604800 },
		{ "2w", 1209600 },
		{ "007d", 604800 },
		/* A century (of 366-day years) is the limit, inclusive. */
		{ "3162240000s", 3162240000LL },
		{ "36600d", 3162240000LL },
		{ "5228w", 5228LL * 604800 },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t v = -1;
		int r = duration_parse(cases[i].s, &v);

		if (r != 0)
			fail_msg("duration_parse(\"%s\") = %d", cases[i].s, r);
		if (v != cases[i].secs)
			fail_msg("duration_parse(\"%s\"): %lld, expected %lld", cases[i].s,
				 (long long)v, (long long)cases[i].secs);
	}
}

static void duration_parse_invalid_table(void **state)
{
	static const char *const cases[] = {
		"",
		"1",
		"00",
		"h",
		"-1h",
		"+1h",
		"1x",
		"1y",
		"1H",
		"1D",
		"1h2",
		"1h30m",
		"1.5h",
		"1 h",
		" 1h",
		"1h ",
		"1hh",
		"0x10s",
		"99999999999999999999s",
		"9223372036854775807s",
		"9223372036854775808s",
		"3162240001s",
		"36601d",
		"5229w",
		"878401h",
		"52704001m",
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t v = -1;
		int r = duration_parse(cases[i], &v);

		if (r != -EINVAL)
			fail_msg("duration_parse(\"%s\") = %d, expected -EINVAL", cases[i], r);
		if (v != -1)
			fail_msg("duration_parse(\"%s\") wrote *ret on failure", cases[i]);
	}
}

static void duration_format_table(void **state)
{
	static const struct {
		int64_t secs;
		const char *s;
	} cases[] = {
		{ 0, "0" },
		{ 1, "1s" },
		{ 30, "30s" },
		{ 61, "61s" },
		{ 60, "1m" },
		{ 300, "5m" },
		{ 5400, "90m" },
		{ 3600, "1h" },
		{ 90000, "25h" },
		{ 129600, "36h" },
		{ 86400, "1d" },
		{ 691200, "8d" },
		{ 604800, "1w" },
		{ 1209600, "2w" },
		{ 3162240000LL, "36600d" },
	};
	char buf[32];

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t back = -1;

		assert_ptr_equal(duration_format(cases[i].secs, buf, sizeof(buf)), buf);
		assert_string_equal(buf, cases[i].s);
		/* What is printed parses back to the same value. */
		assert_int_equal(duration_parse(buf, &back), 0);
		assert_int_equal(back, cases[i].secs);
	}
}

static void snap_name_format_table(void **state)
{
	static const struct {
		const char *volume;
		time_t t;
		unsigned seq;
		const char *name;
	} cases[] = {
		{ "root", T0, 1, "root.20261127T090512Z" },
		{ "root", T0, 2, "root.20261127T090512Z_2" },
		{ "root", T0, 3, "root.20261127T090512Z_3" },
		{ "root", T0, 10, "root.20261127T090512Z_10" },
		{ "root", T0, SEQ_MAX, "root.20261127T090512Z_99999" },
		{ "my.vol", T0, 1, "my.vol.20261127T090512Z" },
		{ "data", 0, 1, "data.19700101T000000Z" },
		{ "data", 1835395200, 1, "data.20280229T000000Z" },
	};
	char buf[SNAP_NAME_MAX + 1];

	(void) state;
	set_tz("Europe/Vienna");
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		time_t t = 0;
		unsigned seq = 0;

		assert_int_equal(snap_name_format(cases[i].volume, cases[i].t, cases[i].seq, buf,
						  sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].name);
		assert_int_equal(snap_name_parse(cases[i].volume, buf, &t, &seq), 0);
		assert_int_equal(t, cases[i].t);
		assert_int_equal(seq, cases[i].seq);
	}
	set_tz("UTC");
}

static void snap_name_format_errors(void **state)
{
	char buf[SNAP_NAME_MAX + 1];
	char small[sizeof("root.20261127T090512Z")];

	(void) state;
	assert_int_equal(snap_name_format("root", T0, 0, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(snap_name_format("root", T0, SEQ_MAX + 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(snap_name_format("-x", T0, 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(snap_name_format("", T0, 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(snap_name_format("a/b", T0, 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(snap_name_format("..", T0, 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(snap_name_format(name_of_len(VOLUME_NAME_MAX + 1), T0, 1, buf,
					  sizeof(buf)), -EINVAL);

	/* Exactly fits, then one byte short. */
	assert_int_equal(snap_name_format("root", T0, 1, small, sizeof(small)), 0);
	assert_string_equal(small, "root.20261127T090512Z");
	assert_int_equal(snap_name_format("root", T0, 2, small, sizeof(small)), -ENAMETOOLONG);
	assert_int_equal(snap_name_format("root", T0, 1, small, sizeof(small) - 1), -ENAMETOOLONG);

	/* The longest name fits SNAP_NAME_MAX. */
	assert_int_equal(snap_name_format(name_of_len(VOLUME_NAME_MAX), T0, SEQ_MAX, buf,
					  sizeof(buf)), 0);
	assert_int_equal(strlen(buf), SNAP_NAME_MAX);
}

static void snap_name_collision_sequence(void **state)
{
	char buf[SNAP_NAME_MAX + 1];

	(void) state;
	/* Every sequence a collision can produce parses back to itself. */
	for (unsigned seq = 1; seq <= 1200; seq++) {
		unsigned back = 0;

		assert_int_equal(snap_name_format("root", T0, seq, buf, sizeof(buf)), 0);
		assert_int_equal(snap_name_parse("root", buf, NULL, &back), 0);
		assert_int_equal(back, seq);
	}
}

static void snap_name_parse_valid_table(void **state)
{
	static const struct {
		const char *volume;
		const char *name;
		time_t t;
		unsigned seq;
	} cases[] = {
		{ "root", "root.20261127T090512Z", T0, 1 },
		{ "root", "root.20261127T090512Z_2", T0, 2 },
		{ "root", "root.20261127T090512Z_9", T0, 9 },
		{ "root", "root.20261127T090512Z_10", T0, 10 },
		{ "root", "root.20261127T090512Z_11", T0, 11 },
		{ "root", "root.20261127T090512Z_20", T0, 20 },
		{ "root", "root.20261127T090512Z_99999", T0, 99999 },
		{ "my.vol", "my.vol.20261127T090512Z", T0, 1 },
		{ "my.vol", "my.vol.20261127T090512Z_3", T0, 3 },
		{ "rootfs", "rootfs.20261127T090512Z", T0, 1 },
		{ "r", "r.20280229T000000Z", 1835395200, 1 },
		{ "a.20261127T090512Z", "a.20261127T090512Z.20261127T090512Z", T0, 1 },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		time_t t = 0;
		unsigned seq = 0;
		int r = snap_name_parse(cases[i].volume, cases[i].name, &t, &seq);

		if (r != 0)
			fail_msg("snap_name_parse(\"%s\", \"%s\") = %d", cases[i].volume,
				 cases[i].name, r);
		assert_int_equal(t, cases[i].t);
		assert_int_equal(seq, cases[i].seq);
		/* Both outputs may be NULL. */
		assert_int_equal(snap_name_parse(cases[i].volume, cases[i].name, NULL, NULL), 0);
	}
}

static void snap_name_parse_invalid_table(void **state)
{
	static const struct {
		const char *volume;
		const char *name;
	} cases[] = {
		{ "root", "" },
		{ "root", "root" },
		{ "root", "root." },
		{ "root", "data.20261127T090512Z" },
		{ "root", "Root.20261127T090512Z" },
		{ "root", "root.20261127T090512Z_1" },
		{ "root", "root.20261127T090512Z_0" },
		{ "root", "root.20261127T090512Z_01" },
		{ "root", "root.20261127T090512Z_02" },
		{ "root", "root.20261127T090512Z_002" },
		{ "root", "root.20261127T090512Z_" },
		{ "root", "root.20261127T090512Z__2" },
		{ "root", "root.20261127T090512Z_-2" },
		{ "root", "root.20261127T090512Z_+2" },
		{ "root", "root.20261127T090512Z_2x" },
		{ "root", "root.20261127T090512Z_1x" },
		{ "root", "root.20261127T090512Z_100000" },
		{ "root", "root.20261127T090512Z_4294967298" },
		{ "root", "root.20261332T000000Z" },
		{ "root", "root.20261300T000000Z" },
		{ "root", "root.20261100T000000Z" },
		{ "root", "root.20261131T000000Z" },
		{ "root", "root.20270229T000000Z" },
		{ "root", "root.20261127T240000Z" },
		{ "root", "root.20261127T236000Z" },
		{ "root", "root.20261127T235960Z" },
		{ "root", "root.19691231T235959Z" },
		{ "root", "root.20261127T090512" },
		{ "root", "root.20261127T090512_2" },
		{ "root", "root.20261127t090512Z" },
		{ "root", "root.20261127T090512z" },
		{ "root", "root.20261127 090512Z" },
		{ "root", "root.2026-11-27T09:05:12Z" },
		{ "root", "root.2026112T090512Z" },
		{ "root", "root.20261127T09051Z" },
		{ "root", "root.20261127T090512Zx" },
		{ "root", "root.20261127T090512Z " },
		{ "root", "root.20261127T090512Z.bak" },
		{ "root", "root.20261127T090512Z/snapshot" },
		{ "root", "root..20261127T090512Z" },
		{ "root", ".root.20261127T090512Z" },
		{ "root", "root_20261127T090512Z" },
		{ "root", "root-20261127T090512Z" },
		/* Another volume whose name has ours as a prefix. */
		{ "root", "rootfs.20261127T090512Z" },
		{ "root", "root2.20261127T090512Z" },
		/* Dotted names: a dot is not a stamp. */
		{ "my", "my.vol.20261127T090512Z" },
		{ "my.vol", "my.20261127T090512Z" },
		{ "my.vol", "my.vol2.20261127T090512Z" },
		{ "a", "a.20261127T090512Z.20261127T090512Z" },
		{ "my.vol", "myxvol.20261127T090512Z" },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		time_t t = 42;
		unsigned seq = 42;
		int r = snap_name_parse(cases[i].volume, cases[i].name, &t, &seq);

		if (r != -EINVAL)
			fail_msg("snap_name_parse(\"%s\", \"%s\") = %d, expected -EINVAL",
				 cases[i].volume, cases[i].name, r);
		if (t != 42 || seq != 42)
			fail_msg("snap_name_parse(\"%s\", \"%s\") wrote outputs on failure",
				 cases[i].volume, cases[i].name);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(volume_name_valid_table),
		cmocka_unit_test(volume_name_length_limit),
		cmocka_unit_test(time_parse_iso_valid_table),
		cmocka_unit_test(time_parse_iso_invalid_table),
		cmocka_unit_test(time_parse_iso_local_time),
		cmocka_unit_test(time_format_iso_table),
		cmocka_unit_test(time_format_iso_round_trip),
		cmocka_unit_test(duration_parse_valid_table),
		cmocka_unit_test(duration_parse_invalid_table),
		cmocka_unit_test(duration_format_table),
		cmocka_unit_test(snap_name_format_table),
		cmocka_unit_test(snap_name_format_errors),
		cmocka_unit_test(snap_name_collision_sequence),
		cmocka_unit_test(snap_name_parse_valid_table),
		cmocka_unit_test(snap_name_parse_invalid_table),
	};

	return cmocka_run_group_tests(tests, tz_utc, NULL);
}
