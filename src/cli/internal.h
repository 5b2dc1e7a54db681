/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to the command line (src/cli/): the parsed options, the helpers
 * every verb prints through, and the verbs themselves, one file each (or a
 * few that belong together). A new command is an engine function plus a
 * verb here, in a small file of its own, and a line in the verb table.
 */
#ifndef SNAPROTATE_CLI_INTERNAL_H
#define SNAPROTATE_CLI_INTERNAL_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "base/err.h"
#include "base/util.h"
#include "cli/cli.h"
#include "engine/engine.h"
#include "engine/rotate.h"
#include "engine/run.h"
#include "engine/snapshots.h"
#include "format/meta.h"
#include "model/config.h"
#include "model/pkg.h"
#include "model/snapshot.h"
#include "model/stamp.h"
#include "policy/retention.h"

/* What argv said, for every verb. */
struct cli_args {
	const char *config;
	bool json;
	bool dry_run;
	int verbosity;			/* -1 quiet, 0 normal, 1 verbose */
	time_t now;			/* --now, SNAPROTATE_NOW, or the clock */
	bool wait;
	enum snap_kind kind;		/* _SNAP_KIND_INVALID: not given */
	const char *description;
	bool pin;
	const char *pre;
	bool force;
	const char *target;
	const char *root;
	const char *to;
	enum pkg_tool tool;		/* _PKG_TOOL_INVALID: not given */
	enum pkg_action operation;	/* PKG_CHANGE: not given */
	const char *fs;			/* --fs: rescue mode, btrfs */
	const char *vg;			/* --vg: rescue mode, LVM */
	int64_t warn;			/* check -w, seconds; 0 not given */
	int64_t crit;			/* check -c (after the command), seconds */
	bool prometheus;		/* check --prometheus */
	const char *output;		/* check --output FILE */
	bool checked;			/* check gave its verdict: the exit code is the plugin's */
	unsigned given;			/* OPT_* given, to refuse them where they mean nothing */
};

extern struct cli_args arg;

/* The options that belong to some verbs only, as bits of cli_args.given. */
enum {
	OPT_KIND = 1U << 0,
	OPT_DESCRIPTION = 1U << 1,
	OPT_PIN = 1U << 2,
	OPT_PRE = 1U << 3,
	OPT_FORCE = 1U << 4,
	OPT_TARGET = 1U << 5,
	OPT_ROOT = 1U << 6,
	OPT_TO = 1U << 7,
	OPT_TOOL = 1U << 8,
	OPT_OPERATION = 1U << 9,
	OPT_FS = 1U << 10,
	OPT_VG = 1U << 11,
	OPT_WARNING = 1U << 12,
	OPT_CRITICAL = 1U << 13,
	OPT_PROMETHEUS = 1U << 14,
	OPT_OUTPUT = 1U << 15,
};

/* --- output.c ----------------------------------------------------------------- */

/* "snaprotate: MESSAGE" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A progress line on stdout; nothing with -q or --json. */
void cli_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* What a command exists to print (a new snapshot's name) on stdout; -q keeps it, --json does not. */
void cli_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints @e as "MESSAGE: REASON". Return: the exit code, 3 for a held lock, else 1. */
int cli_report(int r, const struct rerr *e);

/* Prints @e's message, which names the caller's mistake. Return: 2. */
int cli_report_usage(const struct rerr *e);

/* The first message cli_error() printed, "" if none (check's UNKNOWN line). */
const char *cli_first_error(void);

/* Prints a usage error and the --help hint. Return: 2. */
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* {"format": 1, "volumes": []}; *ret_arr is borrowed. Return: 0 or -ENOMEM. */
int cli_json_envelope(struct json_object **ret_out, struct json_object **ret_arr);

/* Prints @o as the one JSON document of the command. Return: 0 or -ENOMEM. */
int cli_print_json(struct json_object *o);

/* @s with control characters escaped, in one of a few rotating static buffers. */
const char *cli_safe(const char *s);

/* @t as local "YYYY-MM-DD HH:MM:SS", with @zone " CEST". */
void cli_local_time(time_t t, bool zone, char *buf, size_t len);

/* The local zone's abbreviation at @t ("CET", "CEST", "+0530"); "" if unknown. */
void cli_zone_at(time_t t, char *buf, size_t len);

/* @s seconds as "45s", "12m", "3h 12m", "2d 4h". */
void cli_age(int64_t s, char *buf, size_t len);

/* The transfer progress callback: on a terminal only, not with -q or --json. */
rotate_progress_fn cli_progress(void);

/* --- volumes.c ---------------------------------------------------------------- */

/* The volumes (and, with @groups, groups' members) argv names; prints why not. */
int cli_select(struct engine *eng, int argc, char **argv, bool groups, struct volume ***ret,
	       size_t *ret_n);

/* Probes @v; prints the config error. Return: 0 or -EINVAL. */
int cli_probe(struct engine *eng, const struct volume *v);
int cli_probe_all(struct engine *eng, struct volume **vols, size_t n);

/* Locks @vols in name order. Return: 0, or an exit code after printing why. */
int cli_lock(struct engine *eng, struct volume **vols, size_t n);

/* The one volume called @name, probed. Return: 0, or an exit code after printing why. */
int cli_named_volume(struct engine *eng, const char *name, struct volume **ret);

/* --- report.c ----------------------------------------------------------------- */

/* What prune, run or send did to a volume and its targets, as text. */
void cli_print_report(const struct volume_report *r, bool run);
void cli_print_targets(const struct volume_report *r, bool decisions);

/* The same as JSON. Return: a new object, or NULL (ENOMEM). */
struct json_object *cli_report_json(const struct volume_report *r, bool run);
struct json_object *cli_targets_json(const struct volume_report *r);
struct json_object *cli_plan_json(const struct snapshot_list *l, const struct plan *p);

/* --- status.c ---------------------------------------------------------------- */

struct volume_status;

/* One volume's status as status --json and check --json print it. Return: new, or NULL. */
struct json_object *cli_status_json(const struct volume_status *st);

/* --- the verbs: argc and argv are the command's own arguments ------------------ */

int verb_snapshot(struct engine *eng, int argc, char **argv);
int verb_list(struct engine *eng, int argc, char **argv);
int verb_delete(struct engine *eng, int argc, char **argv);
int verb_pin(struct engine *eng, int argc, char **argv);
int verb_unpin(struct engine *eng, int argc, char **argv);
int verb_config_check(struct engine *eng, int argc, char **argv);
int verb_send(struct engine *eng, int argc, char **argv);
int verb_serve(struct engine *eng, int argc, char **argv);
int verb_prune(struct engine *eng, int argc, char **argv);
int verb_run(struct engine *eng, int argc, char **argv);
int verb_rollback(struct engine *eng, int argc, char **argv);
int verb_restore(struct engine *eng, int argc, char **argv);
int verb_status(struct engine *eng, int argc, char **argv);
int verb_check(struct engine *eng, int argc, char **argv);
int verb_pkg_pre(struct engine *eng, int argc, char **argv);
int verb_pkg_post(struct engine *eng, int argc, char **argv);

#endif
