/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a retention policy says (the retain, retain_min, retain_pre_post and
 * retain_manual keys of SPEC 3, for a volume or a target): data, which the
 * config fills and policy/retention.h applies.
 */
#ifndef SNAPROTATE_POLICY_H
#define SNAPROTATE_POLICY_H

#include <stdbool.h>
#include <stdint.h>

enum retain_gran {
	RETAIN_HOURLY,
	RETAIN_DAILY,
	RETAIN_WEEKLY,
	RETAIN_MONTHLY,
	RETAIN_YEARLY,
	_RETAIN_GRAN_MAX,
};

/**
 * retain_gran_to_string() - The name of a granularity: "hourly", "daily", ...
 * @g: The granularity.
 * Return: a static string, or NULL when @g is out of range.
 */
const char *retain_gran_to_string(enum retain_gran g);

#define RETAIN_ALL	(-1)

struct policy {
	unsigned count[_RETAIN_GRAN_MAX];	/* timeline buckets per granularity */
	int64_t min_age;		/* seconds; every snapshot younger is kept; 0 none */
	unsigned pre_post;		/* N newest pre snapshots and their post partners */
	int manual;			/* manual and boot: RETAIN_ALL or the N newest */
	bool keep_target_base;		/* source side: keep the newest copy each target holds */
};

#endif
