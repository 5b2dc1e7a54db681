/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The record of a volume's last `run` (SPEC 4): STATE_DIR/VOLUME.json,
 * written atomically at the end of each run, read by `check` and `status`.
 * Byte counters per target add up across runs, for Prometheus counters.
 */
#ifndef SNAPROTATE_ENGINE_RUNSTATE_H
#define SNAPROTATE_ENGINE_RUNSTATE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>

#include "base/err.h"
#include "engine/report.h"
#include "model/config.h"

/* How a target fared in a run. */
enum run_target_state {
	RUN_TARGET_OK,
	RUN_TARGET_OFFLINE,		/* absent (unmounted, host not answering): not broken */
	RUN_TARGET_FAILED,
	_RUN_TARGET_STATE_MAX,
};

const char *run_target_state_to_string(enum run_target_state s);

struct run_target_record {
	char *target;
	enum run_target_state state;
	char *message;			/* offline or failed: why; else NULL */
	uint64_t bytes_sent;		/* this run */
	uint64_t bytes_sent_total;	/* every run recorded in this file */
};

struct run_record {
	time_t time;			/* when the run was (--now respected) */
	bool success;
	char *error;			/* the first error, NULL on success */
	double seconds;			/* how long it took */
	bool seconds_known;
	char *snapshot;			/* taken by it, or NULL */
	uint64_t bytes_sent;
	struct run_target_record *targets;
	size_t n_targets;
	struct json_object *json;	/* the file as read, for --json */
};

/**
 * run_record_load() - The last run of @volume.
 * @cfg: The config (state_dir).
 * @volume: The volume's name.
 * @ret: With 1, filled; run_record_done() it.
 * @e: The error record, filled on failure.
 * Return: 1, 0 when no run was recorded, -errno with @e when the file cannot
 * be read or is not a record (named in the message).
 */
int run_record_load(const struct config *cfg, const char *volume, struct run_record *ret,
		    struct rerr *e);

/**
 * run_record_save() - Record a run's result for @r's volume.
 * @cfg: The config (state_dir, made if missing).
 * @r: The volume's report of the run (r->seconds: how long it took).
 * @now: The time of the run.
 * @e: The error record, filled on failure.
 * Return: 0 or -errno (with @e).
 */
int run_record_save(const struct config *cfg, const struct volume_report *r, time_t now,
		    struct rerr *e);

/**
 * run_record_done() - Free what @rec owns and zero it.
 * @rec: The record.
 */
void run_record_done(struct run_record *rec);

#endif
