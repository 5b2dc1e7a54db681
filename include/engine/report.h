/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What an operation of the engine did to one volume and its targets: the
 * snapshots it saw and the retention plan, repairs, what was sent, errors and
 * notices. The engine records; the command line prints.
 */
#ifndef SNAPROTATE_ENGINE_REPORT_H
#define SNAPROTATE_ENGINE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "model/config.h"
#include "model/snapshot.h"
#include "policy/retention.h"

/* One snapshot sent to a target. */
struct transfer {
	char *name;
	char *parent;			/* NULL: a full stream */
	uint64_t bytes;
};

/* What happened between one volume and one target. */
struct target_report {
	const struct target *target;	/* borrowed */
	bool reached;			/* a session was had */
	bool failed;			/* a send or a deletion there failed (see errors) */
	bool offline;			/* absent (not mounted, host not answering), not broken */
	char *problem;			/* offline or failed: the first message, else NULL */
	struct transfer *sent;
	size_t n_sent;
	struct snapshot_list copies;	/* the target's copies retention saw */
	struct plan *plan;		/* target retention, parallel to copies; NULL if none */
	size_t n_deleted;
};

struct volume_report {
	const struct volume *volume;	/* borrowed */
	char **repaired;		/* incomplete entries removed (or, dry run, to remove) */
	size_t n_repaired;
	struct snapshot_list snaps;	/* what retention saw: complete and foreign, oldest first */
	struct plan *plan;		/* parallel to snaps; NULL when no plan was made */
	size_t n_deleted;		/* deletions done (dry run: 0) */
	bool due;			/* run: a timeline snapshot was due */
	bool decided;			/* run: @due was decided (the volume could be listed) */
	char *created;			/* run: the snapshot taken, or NULL */
	char **errors;			/* "VOLUME: what failed: why", in order */
	size_t n_errors;
	char **notices;			/* worth saying, not failures */
	size_t n_notices;
	struct target_report *targets;	/* one per target of the volume that was worked on */
	size_t n_targets;
	double seconds;			/* run: how long the volume's unit took */
};

/**
 * volume_report_done() - Free everything @r owns and zero it.
 * @r: The report.
 */
void volume_report_done(struct volume_report *r);

/**
 * volume_report_fail() - Record a failure found outside the engine (probe, lock): copies @msg.
 * @r: The report.
 * @msg: The whole message (dropped when out of memory, as with every record here).
 */
void volume_report_fail(struct volume_report *r, const char *msg);

/**
 * volume_report_error() - Record a failure as "MSG: strerror": @e's message, or the volume's name.
 * @r: The report; its volume must be set.
 * @err: The error, either sign; @e's code takes precedence.
 * @e: The error record (may be NULL).
 */
void volume_report_error(struct volume_report *r, int err, const struct rerr *e);

/**
 * volume_report_errorf() - Record a failure whose message is whole already.
 * @r: The report.
 * @fmt: printf() format of the message.
 * @...: Its arguments.
 */
void volume_report_errorf(struct volume_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * volume_report_notice() - Record something worth saying that is not a failure.
 * @r: The report.
 * @msg: The notice, copied.
 */
void volume_report_notice(struct volume_report *r, const char *msg);

/**
 * volume_report_repaired() - Record an incomplete entry removed (or, in a dry run, to be).
 * @r: The report.
 * @name: The entry's name, copied.
 * Return: 0 or -ENOMEM.
 */
int volume_report_repaired(struct volume_report *r, const char *name);

/**
 * volume_report_bytes_sent() - The bytes sent to all targets in @r.
 * @r: The report.
 * Return: the sum of its transfers' bytes.
 */
uint64_t volume_report_bytes_sent(const struct volume_report *r);

#endif
