/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "engine/runstate.h"
#include "format/meta.h"
#include "model/stamp.h"

/* A record is a few hundred bytes a target. */
#define RUN_RECORD_MAX	(1 << 20)

static const char *const target_states[_RUN_TARGET_STATE_MAX] = {
	[RUN_TARGET_OK] = "ok",
	[RUN_TARGET_OFFLINE] = "offline",
	[RUN_TARGET_FAILED] = "failed",
};

const char *run_target_state_to_string(enum run_target_state s)
{
	return (unsigned)s < _RUN_TARGET_STATE_MAX ? target_states[s] : "failed";
}

void run_record_done(struct run_record *rec)
{
	free(rec->error);
	free(rec->snapshot);
	for (size_t i = 0; i < rec->n_targets; i++) {
		free(rec->targets[i].target);
		free(rec->targets[i].message);
	}
	free(rec->targets);
	if (rec->json)
		json_object_put(rec->json);
	*rec = (struct run_record){ 0 };
}

static const char *jstring(struct json_object *o, const char *key)
{
	struct json_object *x;

	return json_object_object_get_ex(o, key, &x) && json_object_is_type(x, json_type_string)
		       ? json_object_get_string(x) : NULL;
}

static uint64_t juint(struct json_object *o, const char *key)
{
	struct json_object *x;
	int64_t v;

	if (!json_object_object_get_ex(o, key, &x) || !json_object_is_type(x, json_type_int))
		return 0;
	v = json_object_get_int64(x);
	return v > 0 ? (uint64_t)v : 0;
}

static int strdup_opt(const char *s, char **ret)
{
	*ret = s ? strdup(s) : NULL;
	return s && !*ret ? -ENOMEM : 0;
}

static int record_targets(struct json_object *o, struct run_record *rec)
{
	struct json_object *ts;

	if (!json_object_object_get_ex(o, "targets", &ts) || !json_object_is_type(ts, json_type_object))
		return 0;
	rec->targets = calloc((size_t)json_object_object_length(ts) + 1, sizeof(*rec->targets));
	if (!rec->targets)
		return -ENOMEM;
	json_object_object_foreach(ts, name, t) {
		struct run_target_record *x = &rec->targets[rec->n_targets];
		const char *state;

		if (!json_object_is_type(t, json_type_object))
			continue;
		state = jstring(t, "state");
		x->state = RUN_TARGET_FAILED;
		for (int s = 0; s < _RUN_TARGET_STATE_MAX; s++)
			if (state && streq(state, target_states[s]))
				x->state = s;
		x->bytes_sent = juint(t, "bytes_sent");
		x->bytes_sent_total = juint(t, "bytes_sent_total");
		if (!(x->target = strdup(name)) || strdup_opt(jstring(t, "message"), &x->message) < 0) {
			free(x->target);
			*x = (struct run_target_record){ 0 };
			return -ENOMEM;
		}
		rec->n_targets++;
	}
	return 0;
}

int run_record_load(const struct config *cfg, const char *volume, struct run_record *ret,
		    struct rerr *e)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	_cleanup_close_ int dirfd = -1;
	_cleanup_free_ char *text = NULL;
	struct run_record rec = { 0 };
	char file[VOLUME_NAME_MAX + 8];
	struct json_object *x;
	const char *when;
	size_t len;
	int k;

	dirfd = open(cfg->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 && errno == ENOENT)
		return 0;
	if (dirfd < 0)
		return rerr_set(e, errno, "%s: cannot open state_dir '%s'", volume, cfg->state_dir);
	snprintf(file, sizeof(file), "%s.json", volume);
	/* A regular file only: a symlink is not followed, a FIFO does not block. */
	k = read_regular_beneath(dirfd, file, RUN_RECORD_MAX, &text, &len);
	if (k == -ENOENT)
		return 0;
	if (k == -ENOMEM)
		return rerr_set(e, ENOMEM, "out of memory");
	if (k < 0)
		return rerr_say(e, -k, "%s: cannot read '%s/%s': %s", volume, cfg->state_dir, file,
				k == -EINVAL ? "not a regular file" : k == -ELOOP ?
				"a symbolic link" : strerror(-k));
	o = json_tokener_parse(text);
	if (!o || !json_object_is_type(o, json_type_object) || !(when = jstring(o, "time")) ||
	    time_parse_iso(when, &rec.time) < 0 || !json_object_object_get_ex(o, "success", &x))
		return rerr_say(e, EBADMSG, "%s: '%s/%s' is not a run record", volume,
				cfg->state_dir, file);
	rec.success = json_object_get_boolean(x);
	if (json_object_object_get_ex(o, "duration_seconds", &x) &&
	    (json_object_is_type(x, json_type_double) || json_object_is_type(x, json_type_int))) {
		rec.seconds = json_object_get_double(x);
		rec.seconds_known = rec.seconds >= 0;
	}
	rec.bytes_sent = juint(o, "bytes_sent");
	k = strdup_opt(jstring(o, "error"), &rec.error);
	if (k == 0)
		k = strdup_opt(jstring(o, "snapshot"), &rec.snapshot);
	if (k == 0)
		k = record_targets(o, &rec);
	if (k < 0) {
		run_record_done(&rec);
		return rerr_set(e, ENOMEM, "out of memory");
	}
	rec.json = TAKE_PTR(o);
	*ret = rec;
	return 1;
}

static uint64_t target_bytes(const struct target_report *tr)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < tr->n_sent; i++)
		sum += tr->sent[i].bytes;
	return sum;
}

/* The "targets" object: this run's state of each target and the running totals. */
static struct json_object *record_targets_json(const struct volume_report *r,
					       const struct run_record *prev)
{
	_cleanup_(json_object_putp) struct json_object *ts = json_object_new_object();

	for (size_t i = 0; ts && i < r->volume->n_targets; i++) {
		const struct target *t = r->volume->target_list[i];
		const struct target_report *tr = NULL;
		uint64_t total = 0, bytes;
		struct json_object *x;
		enum run_target_state st;

		if (!t)
			continue;
		for (size_t k = 0; k < r->n_targets; k++)
			if (r->targets[k].target == t)
				tr = &r->targets[k];
		for (size_t k = 0; k < prev->n_targets; k++)
			if (prev->targets[k].target && streq(prev->targets[k].target, t->name))
				total = prev->targets[k].bytes_sent_total;
		if (!tr) {
			/* Not worked on in this run (the volume failed before): totals carry on. */
			if (!total)
				continue;
			bytes = 0;
			st = RUN_TARGET_FAILED;
		} else {
			bytes = target_bytes(tr);
			st = tr->offline ? RUN_TARGET_OFFLINE : tr->failed ? RUN_TARGET_FAILED
									   : RUN_TARGET_OK;
		}
		x = json_object_new_object();
		if (!x || meta_add(ts, t->name, x) < 0 ||
		    meta_add(x, "state", json_object_new_string(run_target_state_to_string(st))) < 0 ||
		    meta_add(x, "message", tr && tr->problem ? json_object_new_string(tr->problem)
							     : NULL) < 0 ||
		    meta_add(x, "bytes_sent", json_object_new_int64((int64_t)bytes)) < 0 ||
		    meta_add(x, "bytes_sent_total", json_object_new_int64((int64_t)(total + bytes))) < 0)
			return NULL;
	}
	return TAKE_PTR(ts);
}

int run_record_save(const struct config *cfg, const struct volume_report *r, time_t now,
		    struct rerr *e)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	_cleanup_close_ int dirfd = -1;
	char when[ISO_TIME_LEN], file[VOLUME_NAME_MAX + 8];
	struct run_record prev = { 0 };
	struct rerr ignored = { 0 };
	struct json_object *ts;
	const char *text;
	int k;

	/* A record that cannot be read is replaced: only the totals are lost. */
	(void) run_record_load(cfg, r->volume->name, &prev, &ignored);
	ts = o ? record_targets_json(r, &prev) : NULL;
	run_record_done(&prev);
	if (!o || !ts ||
	    meta_add(o, "format", json_object_new_int(1)) < 0 ||
	    meta_add(o, "volume", json_object_new_string(r->volume->name)) < 0 ||
	    meta_add(o, "time", json_object_new_string(time_format_iso(now, when))) < 0 ||
	    meta_add(o, "success", json_object_new_boolean(r->n_errors == 0)) < 0 ||
	    meta_add(o, "error", r->n_errors ? json_object_new_string(r->errors[0]) : NULL) < 0 ||
	    meta_add(o, "duration_seconds", json_object_new_double(r->seconds)) < 0 ||
	    meta_add(o, "snapshot", r->created ? json_object_new_string(r->created) : NULL) < 0 ||
	    meta_add(o, "deleted", json_object_new_int64((int64_t)r->n_deleted)) < 0 ||
	    meta_add(o, "bytes_sent", json_object_new_int64((int64_t)volume_report_bytes_sent(r))) < 0 ||
	    meta_add(o, "targets", ts) < 0)
		return rerr_set(e, ENOMEM, "%s: out of memory", r->volume->name);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
	k = mkdir_parents(cfg->state_dir, 0755);
	if (k < 0)
		return rerr_set(e, k, "%s: cannot create state_dir '%s'", r->volume->name,
				cfg->state_dir);
	dirfd = open(cfg->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return rerr_set(e, errno, "%s: cannot open state_dir '%s'", r->volume->name,
				cfg->state_dir);
	snprintf(file, sizeof(file), "%s.json", r->volume->name);
	k = write_file_atomic_at(dirfd, file, text, strlen(text), 0644);
	if (k < 0)
		return rerr_set(e, k, "%s: cannot write '%s/%s'", r->volume->name, cfg->state_dir,
				file);
	return 0;
}
