/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-engine.c: the engine's decisions around a failing volume,
 * snapshot or storage, over the in-memory backend of fake-backend.c (the
 * real storage is tested by tests/system). Each case sets up volumes, runs
 * one engine operation, and checks what it did to the storage and reported.
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "backends/backend.h"
#include "base/util.h"
#include "engine/engine.h"
#include "engine/run.h"
#include "model/config.h"
#include "model/stamp.h"

#include "fake-backend.h"

#define HOUR	3600
/* 2026-11-27T12:00:00Z */
#define NOW	((time_t)1795780800)

static char tmpdir[] = "/tmp/snaprotate-test-engine.XXXXXX";

/* A config of @sections (volumes of the fake backend), with state and locks in the test's directory. */
static struct config *setup_config(const char *sections)
{
	struct config *c = NULL;
	struct rerr e = { 0 };
	char *text;

	assert_true(asprintf(&text, "[global]\nstate_dir = %s/state\nlock_dir = %s/lock\n%s", tmpdir,
			     tmpdir, sections) > 0);
	if (config_parse_string("rotate.conf", text, &c, &e) < 0)
		fail_msg("config: %s\n%s", e.msg, text);
	free(text);
	for (size_t i = 0; i < c->n_volumes; i++)
		c->volumes[i].ops = &fake_backend;
	fake_reset();
	return c;
}

static int setup(void **state)
{
	char path[sizeof(tmpdir) + 16];

	(void) state;
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(path, sizeof(path), "%s/state", tmpdir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/lock", tmpdir);
	mkdir(path, 0700);
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return remove(path);
}

static int teardown(void **state)
{
	(void) state;
	return nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Collects what the engine hands over, unit by unit. */
struct seen {
	size_t n_units;
	size_t n_errors[4];
	char errors[4][512];		/* the first error of each volume */
	char notices[4][512];		/* the first notice of each volume */
	size_t n_deleted[4];
	char volume[4][VOLUME_NAME_MAX + 1];
	size_t n;
};

static void seen_unit(void *user, const struct volume_report *reps, size_t n,
		      const struct rerr *lock_error)
{
	struct seen *s = user;

	assert_null(lock_error);
	s->n_units++;
	for (size_t i = 0; i < n && s->n < 4; i++, s->n++) {
		snprintf(s->volume[s->n], sizeof(s->volume[0]), "%s", reps[i].volume->name);
		s->n_errors[s->n] = reps[i].n_errors;
		s->n_deleted[s->n] = reps[i].n_deleted;
		if (reps[i].n_errors)
			snprintf(s->errors[s->n], sizeof(s->errors[0]), "%s", reps[i].errors[0]);
		if (reps[i].n_notices)
			snprintf(s->notices[s->n], sizeof(s->notices[0]), "%s", reps[i].notices[0]);
	}
}

#define VOLUME(name) "[volume " name "]\nbackend = btrfs\npath = /" name "\n"
#define LVM_VOLUME(name) "[volume " name "]\nbackend = lvm\nlv = vg0/" name "\n"

/* A snapshot that cannot be deleted is reported; the others are deleted all the same. */
static void prune_goes_on_past_a_snapshot_it_cannot_delete(void **state)
{
	_cleanup_(config_freep) struct config *c = setup_config(VOLUME("a") "retain_manual = 2\n");
	struct volume *vols[] = { &c->volumes[0] };
	const char *names[5];
	struct engine eng;
	struct seen s = { 0 };

	(void) state;
	for (int i = 0; i < 5; i++)
		names[i] = fake_add("a", NOW - (5 - i) * HOUR, SNAP_MANUAL, false);
	snprintf(fake_volume("a")->remove_fails, SNAP_NAME_MAX + 1, "%s", names[1]);
	engine_init(&eng, c, NOW, false, false);
	assert_int_equal(engine_prune(&eng, vols, 1, seen_unit, &s), -EIO);
	engine_done(&eng);
	assert_int_equal(s.n_units, 1);
	assert_int_equal(s.n_errors[0], 1);
	assert_non_null(strstr(s.errors[0], names[1]));
	assert_int_equal(s.n_deleted[0], 2);
	assert_false(fake_has("a", names[0]));
	assert_true(fake_has("a", names[1]));
	assert_false(fake_has("a", names[2]));
	assert_true(fake_has("a", names[3]) && fake_has("a", names[4]));
}

/* An incomplete entry (a crash's leftover) is removed; a damaged one is kept, and said. */
static void prune_removes_leftovers_and_keeps_the_damaged(void **state)
{
	_cleanup_(config_freep) struct config *c = setup_config(VOLUME("a") "retain_manual = 1\n");
	struct volume *vols[] = { &c->volumes[0] };
	const char *left, *damaged, *kept;
	struct fake_volume *fv;
	struct engine eng;
	struct seen s = { 0 };

	(void) state;
	left = fake_add("a", NOW - 3 * HOUR, SNAP_MANUAL, true);
	damaged = fake_add("a", NOW - 2 * HOUR, SNAP_MANUAL, false);
	kept = fake_add("a", NOW - HOUR, SNAP_MANUAL, false);
	fv = fake_volume("a");
	fv->snaps[1].damaged = true;
	engine_init(&eng, c, NOW, false, false);
	assert_int_equal(engine_prune(&eng, vols, 1, seen_unit, &s), 0);
	engine_done(&eng);
	assert_false(fake_has("a", left));
	assert_true(fake_has("a", damaged));
	assert_true(fake_has("a", kept));
	assert_int_equal(s.n_errors[0], 0);
	assert_non_null(strstr(s.notices[0], "damaged"));
	assert_non_null(strstr(s.notices[0], damaged));
}

/* A plan over max_delete deletes nothing at all. */
static void prune_over_max_delete_deletes_nothing(void **state)
{
	_cleanup_(config_freep) struct config *c =
		setup_config(VOLUME("a") "retain_manual = 1\nmax_delete = 2\n");
	struct volume *vols[] = { &c->volumes[0] };
	struct engine eng;
	struct seen s = { 0 };

	(void) state;
	for (int i = 0; i < 5; i++)
		fake_add("a", NOW - (5 - i) * HOUR, SNAP_MANUAL, false);
	engine_init(&eng, c, NOW, false, false);
	assert_int_equal(engine_prune(&eng, vols, 1, seen_unit, &s), -EIO);
	engine_done(&eng);
	assert_int_equal(fake_volume("a")->n, 5);
	assert_int_equal(fake_volume("a")->n_removed, 0);
	assert_non_null(strstr(s.errors[0], "max_delete"));
}

/* run: a volume whose storage cannot be listed fails alone; the next one is done. */
static void run_one_failing_volume_does_not_stop_the_others(void **state)
{
	_cleanup_(config_freep) struct config *c =
		setup_config(VOLUME("a") "interval = 1h\n" VOLUME("b") "interval = 1h\n");
	struct volume *vols[] = { &c->volumes[0], &c->volumes[1] };
	const struct replicate_opts o = { .send = true, .prune_targets = true };
	struct run_summary sum;
	struct engine eng;
	struct seen s = { 0 };
	char state_file[sizeof(tmpdir) + 32];
	struct stat st;

	(void) state;
	fake_volume("a")->list_fails = true;
	engine_init(&eng, c, NOW, false, false);
	assert_int_equal(engine_run(&eng, vols, 2, &o, seen_unit, &s, &sum), -EIO);
	engine_done(&eng);
	assert_int_equal(s.n_units, 2);
	assert_string_equal(s.volume[0], "a");
	assert_true(s.n_errors[0] >= 1);
	assert_non_null(strstr(s.errors[0], "cannot list"));
	assert_string_equal(s.volume[1], "b");
	if (s.n_errors[1])
		fail_msg("b: %s", s.errors[1]);
	assert_int_equal(fake_volume("b")->n_created, 1);
	assert_int_equal(fake_volume("a")->n_created, 0);
	assert_int_equal(sum.n_failed, 1);
	assert_string_equal(sum.failed, "a");
	assert_false(sum.locked);
	/* Both runs are recorded, the failed one too. */
	snprintf(state_file, sizeof(state_file), "%s/state/a.json", tmpdir);
	assert_int_equal(stat(state_file, &st), 0);
	snprintf(state_file, sizeof(state_file), "%s/state/b.json", tmpdir);
	assert_int_equal(stat(state_file, &st), 0);
}

/* A group is taken whole or not at all: a member that fails takes the others' snapshots back. */
static void group_is_taken_whole_or_not_at_all(void **state)
{
	_cleanup_(config_freep) struct config *c = setup_config(
		LVM_VOLUME("a") LVM_VOLUME("b") "[group g]\nvolumes = a b\n");
	struct volume *vols[] = { &c->volumes[0], &c->volumes[1] };
	struct take takes[2] = { { .v = vols[0], .s = { .kind = SNAP_MANUAL } },
				 { .v = vols[1], .s = { .kind = SNAP_MANUAL } } };
	struct volume_report reps[2] = { 0 };
	struct engine eng;
	struct rerr e = { 0 };

	(void) state;
	fake_volume("b")->create_fails = true;
	engine_init(&eng, c, NOW, false, false);
	engine_units(vols, 2);
	assert_int_equal(engine_snapshot(&eng, takes, 2, reps, &e), -EIO);
	engine_done(&eng);
	assert_int_equal(fake_volume("a")->n_created, 1);
	assert_int_equal(fake_volume("a")->n, 0);	/* taken, then taken back */
	assert_int_equal(fake_volume("b")->n, 0);
	assert_false(takes[0].taken || takes[1].taken);
	assert_int_equal(reps[1].n_errors, 1);
	for (int i = 0; i < 2; i++) {
		snapshot_done(&takes[i].s);
		volume_report_done(&reps[i]);
	}
}

/* Where a member's storage cannot snapshot a frozen filesystem, the group is taken one by one, and says so. */
static void group_freeze_refused_takes_them_one_by_one(void **state)
{
	_cleanup_(config_freep) struct config *c = setup_config(
		LVM_VOLUME("a") LVM_VOLUME("b") "[group g]\nvolumes = a b\nfreeze = yes\n");
	struct volume *vols[] = { &c->volumes[0], &c->volumes[1] };
	struct take takes[2] = { { .v = vols[0], .s = { .kind = SNAP_MANUAL } },
				 { .v = vols[1], .s = { .kind = SNAP_MANUAL } } };
	struct volume_report reps[2] = { 0 };
	struct engine eng;
	struct rerr e = { 0 };

	(void) state;
	fake_volume("b")->frozen_refused = true;
	engine_init(&eng, c, NOW, false, false);
	engine_units(vols, 2);
	assert_int_equal(engine_snapshot(&eng, takes, 2, reps, &e), 0);
	engine_done(&eng);
	assert_true(takes[0].taken && takes[1].taken);
	assert_int_equal(fake_volume("a")->n, 1);
	assert_int_equal(fake_volume("b")->n, 1);
	assert_int_equal(reps[0].n_notices, 1);
	assert_non_null(strstr(reps[0].notices[0], "one by one"));
	for (int i = 0; i < 2; i++) {
		snapshot_done(&takes[i].s);
		volume_report_done(&reps[i]);
	}
}

/* A --pre that names nothing is a usage error, and no snapshot is taken. */
static void snapshot_with_an_unknown_pre_takes_nothing(void **state)
{
	_cleanup_(config_freep) struct config *c = setup_config(VOLUME("a"));
	struct volume *vols[] = { &c->volumes[0] };
	struct take t = { .v = vols[0], .s = { .kind = SNAP_POST, .pre = strdup("nosuch") } };
	struct volume_report rep = { 0 };
	struct engine eng;
	struct rerr e = { 0 };

	(void) state;
	fake_add("a", NOW - HOUR, SNAP_MANUAL, false);
	engine_init(&eng, c, NOW, false, false);
	assert_true(engine_snapshot(&eng, &t, 1, &rep, &e) < 0);
	engine_done(&eng);
	assert_true(e.usage);
	assert_int_equal(fake_volume("a")->n_created, 0);
	snapshot_done(&t.s);
	volume_report_done(&rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(prune_goes_on_past_a_snapshot_it_cannot_delete),
		cmocka_unit_test(prune_removes_leftovers_and_keeps_the_damaged),
		cmocka_unit_test(prune_over_max_delete_deletes_nothing),
		cmocka_unit_test(run_one_failing_volume_does_not_stop_the_others),
		cmocka_unit_test(group_is_taken_whole_or_not_at_all),
		cmocka_unit_test(group_freeze_refused_takes_them_one_by_one),
		cmocka_unit_test(snapshot_with_an_unknown_pre_takes_nothing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
