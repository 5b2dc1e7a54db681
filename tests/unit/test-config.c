/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-config.c: rotate.conf (include/config.h, SPEC 3).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#include "base/util.h"
#include "model/config.h"
#include "policy/retention.h"

#define CONF	"rotate.conf"

/* A valid btrfs volume on lines 1-3, and an lvm one on lines 1-3. */
#define VOL_A	"[volume a]\nbackend = btrfs\npath = /a\n"
#define LVM_A	"[volume a]\nbackend = lvm\nlv = vg0/a\n"

static struct config *parse_ok(const char *text)
{
	struct config *c = NULL;
	struct rerr e = { 0 };
	int r = config_parse_string(CONF, text, &c, &e);

	if (r != 0)
		fail_msg("config_parse_string() = %d: %s\n--- text:\n%s", r, e.msg, text);
	assert_int_equal(e.code, 0);
	assert_non_null(c);
	return c;
}

static void assert_policy(const struct policy *p, unsigned h, unsigned d, unsigned w, unsigned m,
			  unsigned y)
{
	assert_int_equal(p->count[RETAIN_HOURLY], h);
	assert_int_equal(p->count[RETAIN_DAILY], d);
	assert_int_equal(p->count[RETAIN_WEEKLY], w);
	assert_int_equal(p->count[RETAIN_MONTHLY], m);
	assert_int_equal(p->count[RETAIN_YEARLY], y);
}

static void global_defaults(void **state)
{
	_cleanup_(config_freep) struct config *c = parse_ok("");

	(void) state;
	assert_string_equal(c->path, CONF);
	assert_int_equal(c->hook_timeout, 60);
	assert_int_equal(c->freeze_timeout, 30);
	assert_int_equal(c->pkg_dedupe, 300);
	assert_string_equal(c->state_dir, "/var/lib/snaprotate");
	assert_string_equal(c->lock_dir, "/run/snaprotate");
	assert_int_equal(c->n_volumes, 0);
	assert_int_equal(c->n_groups, 0);
	assert_int_equal(c->n_targets, 0);
}

static void global_keys(void **state)
{
	_cleanup_(config_freep) struct config *c = parse_ok(
		"# comment\n"
		"; another\n"
		"[global]\n"
		"hook_timeout = 2m\n"
		"freeze_timeout=45s\n"
		"pkg_dedupe =  1h  \n"
		"state_dir = /srv/state\n"
		"lock_dir = /run/lock/snaprotate\n");

	(void) state;
	assert_int_equal(c->hook_timeout, 120);
	assert_int_equal(c->freeze_timeout, 45);
	assert_int_equal(c->pkg_dedupe, 3600);
	assert_string_equal(c->state_dir, "/srv/state");
	assert_string_equal(c->lock_dir, "/run/lock/snaprotate");
}

static void volume_btrfs_defaults(void **state)
{
	_cleanup_(config_freep) struct config *c = parse_ok("\n" VOL_A);
	struct volume *v;

	(void) state;
	assert_int_equal(c->n_volumes, 1);
	v = config_volume(c, "a");
	assert_ptr_equal(v, &c->volumes[0]);
	assert_string_equal(v->name, "a");
	assert_int_equal(v->line, 2);
	assert_int_equal(v->backend, BACKEND_BTRFS);
	assert_string_equal(v->path, "/a");
	assert_string_equal(v->snapshot_dir, "/a/.snapshots");
	assert_null(v->lv);
	assert_null(v->snapshot_size);
	assert_int_equal(v->n_pre_hooks, 0);
	assert_int_equal(v->n_post_hooks, 0);
	assert_policy(&v->policy, 24, 7, 4, 6, 0);
	assert_int_equal(v->policy.min_age, 0);
	assert_int_equal(v->policy.pre_post, 10);
	assert_int_equal(v->policy.manual, RETAIN_ALL);
	assert_true(v->policy.keep_target_base);
	assert_int_equal(v->n_targets, 0);
	assert_int_equal(v->rpo, 0);
	assert_int_equal(v->interval, 0);
	assert_int_equal(v->max_delete, -1);
	assert_int_equal(v->delete_batch, 8);
	assert_int_equal(v->min_free.unit, MIN_FREE_NONE);
	assert_null(v->group);
	assert_int_equal(v->key_line[VKEY_BACKEND], 3);
	assert_int_equal(v->key_line[VKEY_PATH], 4);
	assert_int_equal(v->key_line[VKEY_SNAPSHOT_DIR], 0);
	assert_int_equal(v->key_line[VKEY_RETAIN], 0);
	/* A default is blamed on the section header. */
	assert_int_equal(config_volume_line(v, VKEY_SNAPSHOT_DIR), 2);
	assert_int_equal(config_volume_line(v, VKEY_PATH), 4);
	assert_null(config_volume(c, "b"));
	assert_null(config_group(c, "a"));
	assert_null(config_target(c, "a"));
}

static void volume_btrfs_snapshot_dir_default(void **state)
{
	static const struct {
		const char *path;
		const char *snapshot_dir;
	} cases[] = {
		{ "/", "/.snapshots" },
		{ "/srv", "/srv/.snapshots" },
		{ "/srv/data", "/srv/data/.snapshots" },
		{ "/home/my.vol", "/home/my.vol/.snapshots" },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char text[256];
		_cleanup_(config_freep) struct config *c = NULL;

		snprintf(text, sizeof(text), "[volume v]\nbackend = btrfs\npath = %s\n",
			 cases[i].path);
		c = parse_ok(text);
		assert_string_equal(c->volumes[0].snapshot_dir, cases[i].snapshot_dir);
	}
}

static void volume_btrfs_all_keys(void **state)
{
	_cleanup_(config_freep) struct config *c = parse_ok(
		"[global]\n"
		"\n"
		"[volume root]\n"
		"backend = btrfs\n"
		"path = /\n"
		"snapshot_dir = /.snap\n"
		"pre_hook = /etc/snaprotate/hooks/pre\n"
		"post_hook = /etc/snaprotate/hooks/post\n"
		"retain = hourly=48 daily=14 weekly=8 monthly=12 yearly=3\n"
		"retain_min = 1h\n"
		"retain_pre_post = 5\n"
		"retain_manual = 3\n"
		"targets = nas usb\n"
		"rpo = 2h\n"
		"interval = 30m\n"
		"max_delete = 20\n"
		"delete_batch = 0\n"
		"min_free = 10%\n"
		"\n"
		"[target nas]\n"
		"url = ssh://nas/srv\n"
		"[target usb]\n"
		"url = file:///mnt/usb\n");
	struct volume *v = config_volume(c, "root");

	(void) state;
	assert_non_null(v);
	assert_int_equal(v->line, 3);
	assert_int_equal(v->backend, BACKEND_BTRFS);
	assert_string_equal(v->path, "/");
	assert_string_equal(v->snapshot_dir, "/.snap");
	assert_int_equal(v->n_pre_hooks, 1);
	assert_string_equal(v->pre_hooks[0], "/etc/snaprotate/hooks/pre");
	assert_string_equal(v->post_hooks[0], "/etc/snaprotate/hooks/post");
	assert_policy(&v->policy, 48, 14, 8, 12, 3);
	assert_int_equal(v->policy.min_age, 3600);
	assert_int_equal(v->policy.pre_post, 5);
	assert_int_equal(v->policy.manual, 3);
	assert_true(v->policy.keep_target_base);
	assert_int_equal(v->n_targets, 2);
	assert_string_equal(v->targets[0], "nas");
	assert_string_equal(v->targets[1], "usb");
	assert_int_equal(v->rpo, 7200);
	assert_int_equal(v->interval, 1800);
	assert_int_equal(v->max_delete, 20);
	assert_int_equal(v->delete_batch, 0);
	assert_int_equal(v->min_free.unit, MIN_FREE_PERCENT);
	assert_int_equal(v->min_free.value, 10);
	for (int k = VKEY_BACKEND; k < _VKEY_MAX; k++) {
		static const unsigned lines[_VKEY_MAX] = {
			[VKEY_BACKEND] = 4, [VKEY_PATH] = 5, [VKEY_SNAPSHOT_DIR] = 6,
			[VKEY_PRE_HOOK] = 7, [VKEY_POST_HOOK] = 8, [VKEY_RETAIN] = 9,
			[VKEY_RETAIN_MIN] = 10, [VKEY_RETAIN_PRE_POST] = 11,
			[VKEY_RETAIN_MANUAL] = 12, [VKEY_TARGETS] = 13, [VKEY_RPO] = 14,
			[VKEY_INTERVAL] = 15, [VKEY_MAX_DELETE] = 16, [VKEY_DELETE_BATCH] = 17,
			[VKEY_MIN_FREE] = 18,
		};

		assert_int_equal(v->key_line[k], lines[k]);
	}
}

static void volume_lvm_all_keys(void **state)
{
	_cleanup_(config_freep) struct config *c = parse_ok(
		"[volume data]\n"
		"backend = lvm\n"
		"lv = vg0/data\n"
		"snapshot_size = 20%ORIGIN\n"
		"pre_hook = /etc/snaprotate/hooks/mysql\n"
		"post_hook = /etc/snaprotate/hooks/mysql\n"
		"retain = daily=7 weekly=4 monthly=3\n"
		"retain_manual = all\n"
		"max_delete = 0\n"
		"delete_batch = 100\n"
		"min_free = 20G\n"
		"thin_pool_max = 80%\n"
		"[volume wal]\n"
		"backend = lvm\n"
		"lv = vg_0.x/wal+log-1\n");
	struct volume *v = config_volume(c, "data"), *w = config_volume(c, "wal");

	(void) state;
	assert_non_null(v);
	assert_int_equal(v->backend, BACKEND_LVM);
	assert_string_equal(v->lv, "vg0/data");
	assert_string_equal(v->snapshot_size, "20%ORIGIN");
	assert_null(v->path);
	assert_null(v->snapshot_dir);
	assert_string_equal(v->pre_hooks[0], "/etc/snaprotate/hooks/mysql");
	assert_string_equal(v->post_hooks[0], "/etc/snaprotate/hooks/mysql");
	/* A retain line replaces the whole default: unnamed counts are 0. */
	assert_policy(&v->policy, 0, 7, 4, 3, 0);
	assert_int_equal(v->policy.manual, RETAIN_ALL);
	assert_int_equal(v->policy.pre_post, 10);
	assert_int_equal(v->max_delete, 0);
	assert_int_equal(v->delete_batch, 100);
	assert_int_equal(v->min_free.unit, MIN_FREE_BYTES);
	assert_int_equal(v->min_free.value, 20ULL << 30);
	assert_int_equal(v->thin_pool_max, 80);

	assert_non_null(w);
	assert_int_equal(w->line, 13);
	assert_int_equal(w->thin_pool_max, 95);
	assert_string_equal(w->lv, "vg_0.x/wal+log-1");
	assert_null(w->snapshot_size);
	assert_policy(&w->policy, 24, 7, 4, 6, 0);
}

static void volume_value_table(void **state)
{
	static const struct {
		const char *line;
		int key;
		int64_t value;
	} cases[] = {
		{ "retain_min = 0", VKEY_RETAIN_MIN, 0 },
		{ "retain_min = 90m", VKEY_RETAIN_MIN, 5400 },
		{ "retain_min = 2w", VKEY_RETAIN_MIN, 1209600 },
		{ "retain_pre_post = 0", VKEY_RETAIN_PRE_POST, 0 },
		{ "retain_pre_post = 100000", VKEY_RETAIN_PRE_POST, 100000 },
		{ "retain_manual = 0", VKEY_RETAIN_MANUAL, 0 },
		{ "retain_manual = 7", VKEY_RETAIN_MANUAL, 7 },
		{ "retain_manual = all", VKEY_RETAIN_MANUAL, RETAIN_ALL },
		{ "rpo = 0", VKEY_RPO, 0 },
		{ "rpo = 25h", VKEY_RPO, 90000 },
		{ "interval = 1d", VKEY_INTERVAL, 86400 },
		{ "max_delete = 1000000", VKEY_MAX_DELETE, 1000000 },
		{ "delete_batch = 10000", VKEY_DELETE_BATCH, 10000 },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char text[256];
		_cleanup_(config_freep) struct config *c = NULL;
		const struct volume *v;
		int64_t got = 0;

		snprintf(text, sizeof(text), VOL_A "%s\n", cases[i].line);
		c = parse_ok(text);
		v = &c->volumes[0];
		switch (cases[i].key) {
		case VKEY_RETAIN_MIN:
			got = v->policy.min_age;
			break;
		case VKEY_RETAIN_PRE_POST:
			got = v->policy.pre_post;
			break;
		case VKEY_RETAIN_MANUAL:
			got = v->policy.manual;
			break;
		case VKEY_RPO:
			got = v->rpo;
			break;
		case VKEY_INTERVAL:
			got = v->interval;
			break;
		case VKEY_MAX_DELETE:
			got = v->max_delete;
			break;
		case VKEY_DELETE_BATCH:
			got = v->delete_batch;
			break;
		}
		if (got != cases[i].value)
			fail_msg("'%s': %lld, expected %lld", cases[i].line, (long long)got,
				 (long long)cases[i].value);
		assert_int_equal(v->key_line[cases[i].key], 4);
	}
}

static void volume_min_free_table(void **state)
{
	static const struct {
		const char *value;
		enum min_free_unit unit;
		uint64_t v;
	} cases[] = {
		{ "0%", MIN_FREE_PERCENT, 0 },
		{ "10%", MIN_FREE_PERCENT, 10 },
		{ "99%", MIN_FREE_PERCENT, 99 },
		{ "1024", MIN_FREE_BYTES, 1024 },
		{ "1K", MIN_FREE_BYTES, 1024 },
		{ "512m", MIN_FREE_BYTES, 512ULL << 20 },
		{ "20G", MIN_FREE_BYTES, 20ULL << 30 },
		{ "2t", MIN_FREE_BYTES, 2ULL << 40 },
		{ "1P", MIN_FREE_BYTES, 1ULL << 50 },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char text[256];
		_cleanup_(config_freep) struct config *c = NULL;

		snprintf(text, sizeof(text), VOL_A "min_free = %s\n", cases[i].value);
		c = parse_ok(text);
		assert_int_equal(c->volumes[0].min_free.unit, cases[i].unit);
		assert_int_equal(c->volumes[0].min_free.value, cases[i].v);
	}
}

static void volume_snapshot_size_table(void **state)
{
	static const char *const good[] = {
		"20%ORIGIN", "5%VG", "100%FREE", "10%PVS", "10G", "512m", "1.5t", "4096", "100s",
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		char text[256];
		_cleanup_(config_freep) struct config *c = NULL;

		snprintf(text, sizeof(text), LVM_A "snapshot_size = %s\n", good[i]);
		c = parse_ok(text);
		assert_string_equal(c->volumes[0].snapshot_size, good[i]);
	}
}

static void group_keys(void **state)
{
	_cleanup_(config_freep) struct config *c = parse_ok(
		"[volume data]\nbackend = lvm\nlv = vg0/data\n"
		"[volume wal]\nbackend = lvm\nlv = vg0/wal\n"
		"[volume root]\nbackend = btrfs\npath = /\n"
		"[group db]\n"
		"volumes = data wal\n"
		"freeze = yes\n"
		"[group sys]\n"
		"volumes = root\n");
	struct group *g = config_group(c, "db"), *s = config_group(c, "sys");

	(void) state;
	assert_non_null(g);
	assert_int_equal(g->line, 10);
	assert_int_equal(g->n_volumes, 2);
	assert_string_equal(g->volumes[0], "data");
	assert_string_equal(g->volumes[1], "wal");
	assert_true(g->freeze);
	assert_non_null(s);
	assert_false(s->freeze);
	assert_string_equal(config_volume(c, "data")->group, "db");
	assert_string_equal(config_volume(c, "wal")->group, "db");
	assert_string_equal(config_volume(c, "root")->group, "sys");
	assert_null(config_volume(c, "db"));
}

static void group_freeze_values(void **state)
{
	static const struct {
		const char *value;
		bool freeze;
	} cases[] = {
		{ "yes", true }, { "true", true }, { "1", true }, { "on", true },
		{ "no", false }, { "false", false }, { "0", false }, { "off", false },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char text[256];
		_cleanup_(config_freep) struct config *c = NULL;

		snprintf(text, sizeof(text), LVM_A "[group g]\nvolumes = a\nfreeze = %s\n",
			 cases[i].value);
		c = parse_ok(text);
		assert_int_equal(c->groups[0].freeze, cases[i].freeze);
	}
}

static void target_url_table(void **state)
{
	static const struct {
		const char *url;
		enum target_scheme scheme;
		const char *user;
		const char *host;
		unsigned port;
		const char *root;
	} cases[] = {
		{ "ssh://snaprotate@nas.example.org/srv/snaprotate", TARGET_SSH, "snaprotate",
		  "nas.example.org", 0, "/srv/snaprotate" },
		{ "ssh://nas/srv", TARGET_SSH, NULL, "nas", 0, "/srv" },
		{ "ssh://nas:2222/srv", TARGET_SSH, NULL, "nas", 2222, "/srv" },
		{ "ssh://backup.user-1@10.0.0.5:22/", TARGET_SSH, "backup.user-1", "10.0.0.5", 22,
		  "/" },
		{ "ssh://u@host_1:65535/a/b/c", TARGET_SSH, "u", "host_1", 65535, "/a/b/c" },
		{ "ssh://[::1]/srv", TARGET_SSH, NULL, "::1", 0, "/srv" },
		{ "ssh://root@[fe80::1]:2222/srv/x", TARGET_SSH, "root", "fe80::1", 2222,
		  "/srv/x" },
		{ "ssh://[2001:db8::10]:22/backup", TARGET_SSH, NULL, "2001:db8::10", 22,
		  "/backup" },
		{ "ssh://[::ffff:10.0.0.1]/b", TARGET_SSH, NULL, "::ffff:10.0.0.1", 0, "/b" },
		{ "file:///mnt/usb/snaprotate", TARGET_FILE, NULL, NULL, 0, "/mnt/usb/snaprotate" },
		{ "file:///", TARGET_FILE, NULL, NULL, 0, "/" },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char text[256];
		_cleanup_(config_freep) struct config *c = NULL;
		const struct target *t;

		snprintf(text, sizeof(text), "[target t]\nurl = %s\n", cases[i].url);
		c = parse_ok(text);
		t = config_target(c, "t");
		assert_non_null(t);
		assert_string_equal(t->url, cases[i].url);
		assert_int_equal(t->scheme, cases[i].scheme);
		if (cases[i].user)
			assert_string_equal(t->user, cases[i].user);
		else
			assert_null(t->user);
		if (cases[i].host)
			assert_string_equal(t->host, cases[i].host);
		else
			assert_null(t->host);
		assert_int_equal(t->port, cases[i].port);
		assert_string_equal(t->root, cases[i].root);
	}
}

static void target_keys(void **state)
{
	_cleanup_(config_freep) struct config *c = parse_ok(
		"[target nas]\n"
		"url = ssh://snaprotate@nas.example.org/srv/snaprotate\n"
		"retain = daily=30 weekly=12 monthly=24 yearly=5\n"
		"rpo = 25h\n"
		"ssh_identity = /etc/snaprotate/id_ed25519\n"
		"ssh_options = -o ConnectTimeout=10\n"
		"[target usb]\n"
		"url = file:///mnt/usb/snaprotate\n");
	const struct target *t = config_target(c, "nas"), *u = config_target(c, "usb");

	(void) state;
	assert_int_equal(c->n_targets, 2);
	assert_non_null(t);
	assert_int_equal(t->line, 1);
	assert_true(t->retain_set);
	assert_policy(&t->policy, 0, 30, 12, 24, 5);
	assert_int_equal(t->policy.pre_post, 0);
	assert_int_equal(t->policy.manual, 0);
	assert_false(t->policy.keep_target_base);
	assert_int_equal(t->rpo, 90000);
	assert_string_equal(t->ssh_identity, "/etc/snaprotate/id_ed25519");
	assert_string_equal(t->ssh_options, "-o ConnectTimeout=10");

	/* Without retain: the default counts, nothing else. */
	assert_non_null(u);
	assert_int_equal(u->line, 7);
	assert_false(u->retain_set);
	assert_policy(&u->policy, 24, 7, 4, 6, 0);
	assert_int_equal(u->policy.pre_post, 0);
	assert_int_equal(u->policy.manual, 0);
	assert_int_equal(u->rpo, 0);
	assert_null(u->ssh_identity);
	assert_null(u->ssh_options);
}

static void multiline_values(void **state)
{
	_cleanup_(config_freep) struct config *c = parse_ok(
		"[volume a]\n"
		"backend = lvm\n"
		"lv = vg0/a\n"
		"retain = hourly=1\n"
		"\tdaily=2\n"
		"# a comment inside the value\n"
		"    weekly=3 monthly=4\n"
		"targets = nas\n"
		"  usb\n"
		"\tcloud\n"
		"rpo = 1h\n"
		"[volume b]\n"
		"backend = lvm\n"
		"lv = vg0/b\n"
		"[group g]\n"
		"volumes = a\n"
		"  b\n"
		"[target nas]\n"
		"url = file:///n\n"
		"retain = daily=1\n"
		"  weekly=2\n"
		"ssh_options = -o A=1\n"
		"  -o B=2\n"
		"[target usb]\n"
		"url = file:///u\n"
		"[target cloud]\n"
		"url = file:///c\n");
	const struct volume *a = config_volume(c, "a");
	const struct group *g = config_group(c, "g");
	const struct target *t = config_target(c, "nas");

	(void) state;
	assert_policy(&a->policy, 1, 2, 3, 4, 0);
	/* A continued key is blamed on its first line. */
	assert_int_equal(a->key_line[VKEY_RETAIN], 4);
	assert_int_equal(a->n_targets, 3);
	assert_string_equal(a->targets[0], "nas");
	assert_string_equal(a->targets[1], "usb");
	assert_string_equal(a->targets[2], "cloud");
	assert_int_equal(a->key_line[VKEY_TARGETS], 8);
	assert_int_equal(a->rpo, 3600);
	assert_int_equal(a->key_line[VKEY_RPO], 11);
	assert_int_equal(g->n_volumes, 2);
	assert_string_equal(g->volumes[1], "b");
	assert_policy(&t->policy, 0, 1, 2, 0, 0);
	assert_string_equal(t->ssh_options, "-o A=1 -o B=2");
}

static void crlf_and_no_final_newline(void **state)
{
	_cleanup_(config_freep) struct config *c = parse_ok(
		"[volume a]\r\nbackend = btrfs\r\npath = /a\r\nrpo = 1h");

	(void) state;
	assert_string_equal(c->volumes[0].path, "/a");
	assert_int_equal(c->volumes[0].rpo, 3600);
	assert_int_equal(c->volumes[0].key_line[VKEY_RPO], 4);
}

#define X10	"xxxxxxxxxx"
#define X150	X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define X161	X150 X10 "x"

static void parse_errors_table(void **state)
{
	static const struct {
		const char *text;
		unsigned line;
		const char *needle;	/* names the key (or section) */
	} cases[] = {
		/* Unknown keys and sections. */
		{ "[global]\nhook_timeout = 1m\nfoo = 1\n", 3, "unknown key 'foo'" },
		{ VOL_A "retian = daily=1\n", 4, "unknown key 'retian'" },
		{ VOL_A "freeze = yes\n", 4, "unknown key 'freeze'" },
		{ "[target n]\nurl = file:///x\npath = /x\n", 3, "unknown key 'path'" },
		{ "[global]\npath = /x\n", 2, "unknown key 'path'" },
		{ LVM_A "[group g]\nvolumes = a\nlv = vg/x\n", 6, "unknown key 'lv'" },
		{ LVM_A "thin_pool_max = 95\n", 4, "thin_pool_max = '95': expected a percentage" },
		{ LVM_A "thin_pool_max = 0%\n", 4, "thin_pool_max = '0%': expected a percentage" },
		{ LVM_A "thin_pool_max = 101%\n", 4, "thin_pool_max = '101%': expected" },
		{ LVM_A "thin_pool_max = %\n", 4, "thin_pool_max = '%': expected" },
		{ VOL_A "thin_pool_max = 90%\n", 4, "'thin_pool_max' is for lvm volumes" },
		{ "[global]\n\n[volumes a]\n", 3, "unknown section [volumes a]" },
		{ "[volume]\n", 1, "unknown section [volume]" },
		{ "[global x]\n", 1, "unknown section [global x]" },
		{ "[volume a b]\n", 1, "unknown section [volume a b]" },
		{ "[volume a\n", 1, "malformed section header" },
		{ "[volume a] x\n", 1, "malformed section header" },
		{ VOL_A " [volume b]\n", 4, "section headers start at column 1" },
		{ "# comment\nhook_timeout = 1m\n", 2, "'hook_timeout' is outside a section" },
		/* Duplicates: the second header, the second key. */
		{ VOL_A "\n[volume a]\n", 5, "duplicate section [volume a]" },
		{ VOL_A "[group a]\nvolumes = a\n", 4, "duplicate section [group a]" },
		{ "[target n]\nurl = file:///x\n[target n]\n", 3, "duplicate section [target n]" },
		{ "[global]\n[volume a]\n[global]\n", 3, "duplicate section [global]" },
		{ VOL_A "retain = daily=1\nrpo = 1h\nretain = daily=2\n", 6,
		  "duplicate key 'retain' (first set on line 4)" },
		{ "[global]\nhook_timeout = 1m\nhook_timeout = 2m\n", 3,
		  "duplicate key 'hook_timeout'" },
		{ "[target n]\nurl = file:///x\nurl = file:///y\n", 3, "duplicate key 'url'" },
		/* Durations. */
		{ VOL_A "rpo = 2x\n", 4, "rpo = '2x'" },
		{ VOL_A "interval = 1\n", 4, "interval = '1'" },
		{ VOL_A "retain_min = 1.5h\n", 4, "retain_min = '1.5h'" },
		{ "[global]\nfreeze_timeout = 30\n", 2, "freeze_timeout = '30'" },
		{ "[global]\nhook_timeout = -1m\n", 2, "hook_timeout = '-1m'" },
		{ "[global]\npkg_dedupe = 101y\n", 2, "pkg_dedupe = '101y'" },
		{ "[target n]\nurl = file:///x\nrpo = 1 d\n", 3, "rpo = '1 d'" },
		/* Retain. */
		{ VOL_A "retain = daily=7 fortnightly=2\n", 4,
		  "retain: unknown granularity 'fortnightly'" },
		{ VOL_A "retain = daily\n", 4, "retain: 'daily' is not GRANULARITY=N" },
		{ VOL_A "retain = daily=x\n", 4, "retain: 'daily=x'" },
		{ VOL_A "retain = daily=-1\n", 4, "retain: 'daily=-1'" },
		{ VOL_A "retain = daily=100001\n", 4, "retain: 'daily=100001'" },
		{ VOL_A "retain = daily=7 daily=3\n", 4, "retain: 'daily' is given twice" },
		{ VOL_A "retain = Daily=7\n", 4, "retain: unknown granularity 'Daily'" },
		{ VOL_A "retain = daily=7 # a week\n", 4, "comments must be whole lines: '#'" },
		{ VOL_A "retain = daily=7 ; a week\n", 4, "comments must be whole lines: ';'" },
		{ VOL_A "pre_hook = /a # x\n", 4, "comments must be whole lines" },
		/* What config-check could not write back (found by tests/fuzz/fuzz-config.c). */
		{ "[target n]\nurl = ssh://h/x\nssh_options =;x\n", 3, "comments must be whole lines: ';'" },
		{ "[global]\nstate_dir = /a\r/b\n", 2, "a control character (0x0d) at column 15" },
		{ "[global]\nstate_dir = /a\x1b[2J\n", 2, "a control character (0x1b) at column 15" },
		{ "[global]\nstate_dir = /x /.\n", 2, "state_dir = '/x /.': expected an absolute path" },
		{ "[global]\nlock_dir = /" X161 "\n", 2, "expected an absolute path of at most 160" },
		{ "[target n]\nurl = file:///srv/sr\nrequire_mount = /mnt/usb\n", 3,
		  "require_mount = /mnt/usb: the target's directory '/srv/sr' is not on it" },
		{ "[target n]\nurl = ssh://h/x\nrequire_mount = yes\n", 3,
		  "require_mount: target 'n' is not a file:// target" },
		{ "[target n]\nurl=ssh://" X150 X10 X10 X10 "xxxxxx/x\n", 2,
		  "'url': a value of 194 characters is too long (a line \"url = VALUE\" holds 199)" },
		{ "[volume a]\nbackend = btrfs\npath = /" X150 "\n", 3,
		  "its snapshot_dir '/" X150 "/.snapshots' would be longer than 160 characters" },
		{ "[volume a]\n  backend = btrfs\n", 2, "keys start at column 1" },
		{ "[volume a]\nbackend = btrfs\npath = /a\nretain = daily=3\n[volume b]\n"
		  "  retain = weekly=2\n", 6, "keys start at column 1" },
		{ "[global]\ngarbage\nfoo = 1\n", 2, "expected 'key = value'" },
		{ VOL_A "retain = hourly=1\n  daily=2\n  hourly=3\n", 6,
		  "retain: 'hourly' is given twice" },
		{ "[target n]\nurl = file:///x\nretain = weekly=52 decades=1\n", 3,
		  "retain: unknown granularity 'decades'" },
		{ VOL_A "retain_pre_post = x\n", 4, "retain_pre_post = 'x'" },
		{ VOL_A "retain_pre_post = 100001\n", 4, "retain_pre_post = '100001'" },
		{ VOL_A "retain_manual = some\n", 4, "retain_manual = 'some'" },
		{ VOL_A "retain_manual = -1\n", 4, "retain_manual = '-1'" },
		/* Names. */
		{ "[volume -x]\n", 1, "volume name '-x'" },
		{ "[volume a/b]\n", 1, "volume name 'a/b'" },
		{ "\n[volume ..]\n", 2, "volume name '..'" },
		{ "[volume caf\xc3\xa9]\n", 1, "volume name 'caf" },
		{ "[volume aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n", 1,
		  "volume name 'aaaa" },
		{ "[volume " "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n", 1,
		  "volume name 'aaaa" },
		{ "[group -g]\n", 1, "group name '-g'" },
		{ "[target t@x]\n", 1, "target name 't@x'" },
		/* Backends. */
		{ "[volume a]\npath = /a\n", 1, "volume 'a' has no 'backend'" },
		{ "[volume a]\nbackend = zfs\n", 2, "backend = 'zfs'" },
		{ "[volume a]\nbackend = btrfs\n", 1, "btrfs volume 'a' has no 'path'" },
		{ "\n[volume a]\nbackend = lvm\n", 2, "lvm volume 'a' has no 'lv'" },
		{ VOL_A "lv = vg0/a\n", 4, "'lv' is for lvm volumes; volume 'a' is btrfs" },
		{ VOL_A "snapshot_size = 10G\n", 4, "'snapshot_size' is for lvm volumes" },
		{ LVM_A "path = /a\n", 4, "'path' is for btrfs volumes; volume 'a' is lvm" },
		{ LVM_A "snapshot_dir = /a/.s\n", 4, "'snapshot_dir' is for btrfs volumes" },
		{ "[volume a]\nbackend = lvm\nlv = vg0/-x\n", 3, "lv = 'vg0/-x'" },
		{ "[volume a]\nbackend = lvm\nlv = vg0\n", 3, "lv = 'vg0'" },
		{ "[volume a]\nbackend = lvm\nlv = vg0/\n", 3, "lv = 'vg0/'" },
		{ "[volume a]\nbackend = lvm\nlv = /a\n", 3, "lv = '/a'" },
		{ "[volume a]\nbackend = lvm\nlv = -vg/a\n", 3, "lv = '-vg/a'" },
		{ "[volume a]\nbackend = lvm\nlv = vg0/a/b\n", 3, "lv = 'vg0/a/b'" },
		{ "[volume a]\nbackend = lvm\nlv = vg0/..\n", 3, "lv = 'vg0/..'" },
		{ "[volume a]\nbackend = lvm\nlv = vg0/a:b\n", 3, "lv = 'vg0/a:b'" },
		{ LVM_A "snapshot_size = 20%SIZE\n", 4, "snapshot_size = '20%SIZE'" },
		{ LVM_A "snapshot_size = 1.5%ORIGIN\n", 4, "snapshot_size = '1.5%ORIGIN'" },
		{ LVM_A "snapshot_size = 10GB\n", 4, "snapshot_size = '10GB'" },
		{ LVM_A "snapshot_size = G\n", 4, "snapshot_size = 'G'" },
		/* Paths. */
		{ "[volume a]\nbackend = btrfs\npath = a\n", 3, "path = 'a'" },
		{ "[volume a]\nbackend = btrfs\npath = /a/../b\n", 3, "path = '/a/../b'" },
		{ "[volume a]\nbackend = btrfs\npath = /a/..\n", 3, "path = '/a/..'" },
		{ VOL_A "snapshot_dir = .snapshots\n", 4, "snapshot_dir = '.snapshots'" },
		{ VOL_A "snapshot_dir = /a\n", 4, "snapshot_dir must not be the volume's path" },
		{ VOL_A "snapshot_dir = /a/\n", 4, "snapshot_dir must not be the volume's path" },
		{ VOL_A "snapshot_dir = //a//\n", 4, "snapshot_dir must not be the volume's path" },
		{ VOL_A "snapshot_dir = /a/.\n", 4, "snapshot_dir must not be the volume's path" },
		{ "[volume a]\nbackend = btrfs\npath = /x/\nsnapshot_dir = /x/./\n", 4,
		  "snapshot_dir must not be the volume's path" },
		{ "[volume a]\nbackend = btrfs\npath = /\nsnapshot_dir = /\n", 4,
		  "snapshot_dir must not be the volume's path" },
		{ VOL_A "pre_hook = hooks/pre\n", 4, "pre_hook: 'hooks/pre' is not an absolute path" },
		{ VOL_A "post_hook = ../post\n", 4, "post_hook: '../post' is not an absolute path" },
		{ "[global]\nstate_dir = var/lib\n", 2, "state_dir = 'var/lib'" },
		{ "[global]\nlock_dir = /run/../tmp\n", 2, "lock_dir = '/run/../tmp'" },
		{ "[target n]\nurl = file:///x\nssh_identity = id\n", 3, "ssh_identity = 'id'" },
		{ VOL_A "[volume b]\nbackend = btrfs\npath = /a\n", 4,
		  "volume 'b' has the same path and snapshot_dir as 'a'" },
		{ LVM_A "[volume b]\nbackend = lvm\nlv = vg0/a\n", 6,
		  "lv 'vg0/a' is volume 'a' already" },
		/* Other values. */
		{ VOL_A "max_delete = -1\n", 4, "max_delete = '-1'" },
		{ VOL_A "max_delete = 1000001\n", 4, "max_delete = '1000001'" },
		{ VOL_A "delete_batch = 10001\n", 4, "delete_batch = '10001'" },
		{ VOL_A "delete_batch = x\n", 4, "delete_batch = 'x'" },
		{ VOL_A "min_free = 100%\n", 4, "min_free = '100%'" },
		{ VOL_A "min_free = %\n", 4, "min_free = '%'" },
		{ VOL_A "min_free = 1.5G\n", 4, "min_free = '1.5G'" },
		{ VOL_A "min_free = 10X\n", 4, "min_free = '10X'" },
		{ VOL_A "min_free = 99999999999P\n", 4, "min_free = '99999999999P'" },
		{ VOL_A "rpo =\n", 4, "'rpo' has no value" },
		{ VOL_A "targets =\n", 4, "'targets' has no value" },
		{ VOL_A "  /b\n", 4, "'path' takes one value; keys start at column 1" },
		{ VOL_A "rpo = 1h\n\t2h\n", 5, "'rpo' takes one value" },
		{ VOL_A "pkg_snapshots = sometimes\n", 4, "pkg_snapshots = 'sometimes': expected yes or no" },
		{ VOL_A "pkg_required = 2\n", 4, "pkg_required = '2': expected yes or no" },
		{ VOL_A "pkg_in_chroot =\n", 4, "'pkg_in_chroot' has no value" },
		{ VOL_A "[target t]\nurl = file:///t\nsend_pinned = always\n", 6,
		  "send_pinned = 'always': expected yes or no" },
		/* Groups. */
		{ LVM_A "[group g]\nvolumes = a\nfreeze = maybe\n", 6, "freeze = 'maybe'" },
		{ VOL_A "[group g]\nvolumes = a\nfreeze = yes\n", 6,
		  "group 'g': freeze = yes with btrfs volume 'a'" },
		{ LVM_A "[group g1]\nvolumes = a\n[group g2]\nvolumes = a\n", 7,
		  "volumes: volume 'a' is in group 'g1' already" },
		{ LVM_A "[group g]\nvolumes = a a\n", 5, "volumes: 'a' is named twice" },
		{ VOL_A "[group g]\nvolumes = a b\n", 5, "volumes: no [volume b] section" },
		{ "[group g]\nfreeze = no\n", 1, "group 'g' has no 'volumes'" },
		/* Targets. */
		{ VOL_A "targets = nas\n[target usb]\nurl = file:///u\n", 4,
		  "targets: no [target nas] section" },
		{ VOL_A "targets = nas\n  usb\n[target nas]\nurl = file:///n\n", 4,
		  "targets: no [target usb] section" },
		{ VOL_A "targets = nas nas\n[target nas]\nurl = file:///n\n", 4,
		  "targets: 'nas' is named twice" },
		{ "[target n]\nrpo = 1h\n", 1, "target 'n' has no 'url'" },
		{ "[target n]\nurl = http://x/y\n", 2, "url = 'http://x/y'" },
		{ "[target n]\nurl = /srv/x\n", 2, "url = '/srv/x'" },
		{ "[target n]\nurl = ssh://host\n", 2, "url = 'ssh://host'" },
		{ "[target n]\nurl = ssh://host:22\n", 2, "url = 'ssh://host:22'" },
		{ "[target n]\nurl = ssh://host/a/../b\n", 2, "url = 'ssh://host/a/../b'" },
		{ "[target n]\nurl = ssh:///srv\n", 2, "url = 'ssh:///srv'" },
		{ "[target n]\nurl = ssh://@host/srv\n", 2, "url = 'ssh://@host/srv'" },
		{ "[target n]\nurl = ssh://-u@host/srv\n", 2, "url = 'ssh://-u@host/srv'" },
		{ "[target n]\nurl = ssh://u;x@host/srv\n", 2, "url = 'ssh://u;x@host/srv'" },
		{ "[target n]\nurl = ssh://-host/srv\n", 2, "url = 'ssh://-host/srv'" },
		{ "[target n]\nurl = ssh://ho$t/srv\n", 2, "url = 'ssh://ho$t/srv'" },
		{ "[target n]\nurl = ssh://host:0/srv\n", 2, "url = 'ssh://host:0/srv'" },
		{ "[target n]\nurl = ssh://host:65536/srv\n", 2, "url = 'ssh://host:65536/srv'" },
		{ "[target n]\nurl = ssh://host:/srv\n", 2, "url = 'ssh://host:/srv'" },
		{ "[target n]\nurl = ssh://host:22x/srv\n", 2, "url = 'ssh://host:22x/srv'" },
		{ "[target n]\nurl = ssh://host:1:2/srv\n", 2, "url = 'ssh://host:1:2/srv'" },
		{ "[target n]\nurl = ssh://[fe80::1/srv\n", 2, "url = 'ssh://[fe80::1/srv'" },
		{ "[target n]\nurl = ssh://[fe80::zz]/srv\n", 2, "url = 'ssh://[fe80::zz]/srv'" },
		{ "[target n]\nurl = ssh://[]/srv\n", 2, "url = 'ssh://[]/srv'" },
		{ "[target n]\nurl = ssh://[::1]x/srv\n", 2, "url = 'ssh://[::1]x/srv'" },
		{ "[target n]\nurl = file://srv/x\n", 2, "url = 'file://srv/x'" },
		{ "[target n]\nurl = file:///srv/..\n", 2, "url = 'file:///srv/..'" },
		{ "[target n]\nurl = FILE:///srv\n", 2, "url = 'FILE:///srv'" },
		/* Syntax. */
		{ "[global]\nhook_timeout 60s\n", 2, "expected 'key = value'" },
		{ VOL_A "\n\nrpo\n", 6, "expected 'key = value'" },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct config *c = NULL;
		struct rerr e = { 0 };
		char prefix[64];
		int r = config_parse_string(CONF, cases[i].text, &c, &e);

		snprintf(prefix, sizeof(prefix), CONF ":%u: ", cases[i].line);
		if (r != -EINVAL || c)
			fail_msg("case %zu: config_parse_string() = %d, expected -EINVAL\n%s", i, r,
				 cases[i].text);
		assert_int_equal(e.code, EINVAL);
		if (!startswith(e.msg, prefix))
			fail_msg("case %zu: '%s' does not start with '%s'\n%s", i, e.msg, prefix,
				 cases[i].text);
		if (!strstr(e.msg, cases[i].needle))
			fail_msg("case %zu: '%s' does not say '%s'", i, e.msg, cases[i].needle);
		/* One line. */
		assert_null(strchr(e.msg, '\n'));
	}
}

/* "[global]\nstate_dir = /xxx...\n" with the second line @len characters long. */
/* A config whose last line holds @len characters: a long ssh_options (paths stop at 160). */
#define LONG_LINE_HEAD	"[target t]\nurl = ssh://h/srv\n"

static char *long_line_config(size_t len)
{
	static const char key[] = "ssh_options = -";
	size_t pad = len - (sizeof(key) - 1);
	char *text = malloc(sizeof(LONG_LINE_HEAD) + len + 2);

	assert_non_null(text);
	strcpy(text, LONG_LINE_HEAD);
	strcat(text, key);
	memset(text + strlen(text), 'x', pad);
	strcpy(text + sizeof(LONG_LINE_HEAD) - 1 + len, "\n");
	return text;
}

static void line_length_limit(void **state)
{
	static const struct {
		size_t len;
		bool ok;
	} cases[] = {
		{ 100, true },
		{ 198, true },
		{ 199, true },
		{ 200, false },
		{ 201, false },
		{ 250, false },
		{ 4000, false },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *text = long_line_config(cases[i].len);
		_cleanup_(config_freep) struct config *c = NULL;
		struct rerr e = { 0 };
		int r = config_parse_string(CONF, text, &c, &e);

		assert_int_equal(strlen(text) - strlen(LONG_LINE_HEAD), cases[i].len + 1);
		if (cases[i].ok) {
			if (r != 0)
				fail_msg("a line of %zu characters: %s", cases[i].len, e.msg);
			assert_int_equal(strlen(c->targets[0].ssh_options),
					 cases[i].len - strlen("ssh_options = "));
			continue;
		}
		assert_int_equal(r, -EINVAL);
		assert_null(c);
		assert_true(startswith(e.msg, CONF ":3: line is longer than "));
	}
}

static void parse_retain_direct(void **state)
{
	static const struct {
		const char *value;
		int r;
		unsigned count[_RETAIN_GRAN_MAX];
	} cases[] = {
		{ "", 0, { 0 } },
		{ "   ", 0, { 0 } },
		{ "hourly=24 daily=7 weekly=4 monthly=6 yearly=0", 0, { 24, 7, 4, 6, 0 } },
		{ "yearly=5 hourly=1", 0, { 1, 0, 0, 0, 5 } },
		{ "  weekly=52  ", 0, { 0, 0, 52, 0, 0 } },
		{ "daily=0100000", 0, { 0, 100000, 0, 0, 0 } },
		{ "daily=", -EINVAL, { 0 } },
		{ "=7", -EINVAL, { 0 } },
		{ "daily=7=8", -EINVAL, { 0 } },
		{ "daily = 7", -EINVAL, { 0 } },
		{ "secondly=1", -EINVAL, { 0 } },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1",
		  -EINVAL, { 0 } },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct policy p = { .count = { 9, 9, 9, 9, 9 }, .pre_post = 3, .manual = 2 };
		struct rerr e = { 0 };
		int r = config_parse_retain(cases[i].value, &p, &e);

		if (r != cases[i].r)
			fail_msg("config_parse_retain(\"%s\") = %d", cases[i].value, r);
		/* Only the counts change. */
		assert_int_equal(p.pre_post, 3);
		assert_int_equal(p.manual, 2);
		if (r == 0) {
			assert_memory_equal(p.count, cases[i].count, sizeof(p.count));
			assert_int_equal(e.code, 0);
		} else {
			assert_int_equal(p.count[0], 9);
			assert_int_equal(e.code, EINVAL);
			assert_true(e.msg[0] != '\0');
		}
	}
}

static const char format_input[] =
	"[global]\n"
	"hook_timeout = 2m\n"
	"\n"
	"[volume root]\n"
	"backend = btrfs\n"
	"path = /\n"
	"retain = daily=7 weekly=4\n"
	"retain_min = 1h\n"
	"targets = nas\n"
	"rpo = 2h\n"
	"pkg_snapshots = yes\n"
	"pkg_required = yes\n"
	"\n"
	"[volume data]\n"
	"backend = lvm\n"
	"lv = vg0/data\n"
	"snapshot_size = 20%ORIGIN\n"
	"thin_pool_max = 95%\n"
	"pre_hook = /etc/h\n"
	"post_hook = /etc/h\n"
	"retain_manual = 5\n"
	"max_delete = 3\n"
	"delete_batch = 0\n"
	"min_free = 10%\n"
	"pkg_snapshots = no\n"
	"\n"
	"[volume wal]\n"
	"backend = lvm\n"
	"lv = vg0/wal\n"
	"interval = 90m\n"
	"min_free = 1G\n"
	"\n"
	"[group db]\n"
	"volumes = data\n"
	"  wal\n"
	"freeze = yes\n"
	"\n"
	"[target nas]\n"
	"url = ssh://snaprotate@nas.example.org:2222/srv/snaprotate\n"
	"retain = daily=30 yearly=5\n"
	"rpo = 25h\n"
	"ssh_identity = /etc/snaprotate/id\n"
	"ssh_options = -o ConnectTimeout=10\n"
	"\n"
	"[target usb]\n"
	"url = file:///mnt/usb\n"
	"send_pinned = no\n";

static const char format_expected[] =
	"[global]\n"
	"hook_timeout = 2m\n"
	"freeze_timeout = 30s\n"
	"pkg_dedupe = 5m\n"
	"state_dir = /var/lib/snaprotate\n"
	"lock_dir = /run/snaprotate\n"
	"\n"
	"[volume root]\n"
	"backend = btrfs\n"
	"path = /\n"
	"snapshot_dir = /.snapshots\n"
	"retain = hourly=0 daily=7 weekly=4 monthly=0 yearly=0\n"
	"retain_min = 1h\n"
	"retain_pre_post = 10\n"
	"retain_manual = all\n"
	"targets = nas\n"
	"rpo = 2h\n"
	"interval = 0\n"
	"delete_batch = 8\n"
	"pkg_snapshots = yes\n"
	"pkg_required = yes\n"
	"pkg_in_chroot = no\n"
	"\n"
	"[volume data]\n"
	"backend = lvm\n"
	"lv = vg0/data\n"
	"snapshot_size = 20%ORIGIN\n"
	"thin_pool_max = 95%\n"
	"pre_hook = /etc/h\n"
	"post_hook = /etc/h\n"
	"retain = hourly=24 daily=7 weekly=4 monthly=6 yearly=0\n"
	"retain_min = 0\n"
	"retain_pre_post = 10\n"
	"retain_manual = 5\n"
	"rpo = 0\n"
	"interval = 0\n"
	"max_delete = 3\n"
	"delete_batch = 0\n"
	"min_free = 10%\n"
	"pkg_snapshots = no\n"
	"\n"
	"[volume wal]\n"
	"backend = lvm\n"
	"lv = vg0/wal\n"
	"thin_pool_max = 95%\n"
	"retain = hourly=24 daily=7 weekly=4 monthly=6 yearly=0\n"
	"retain_min = 0\n"
	"retain_pre_post = 10\n"
	"retain_manual = all\n"
	"rpo = 0\n"
	"interval = 90m\n"
	"delete_batch = 8\n"
	"min_free = 1073741824\n"
	"pkg_snapshots = no\n"
	"\n"
	"[group db]\n"
	"volumes = data wal\n"
	"freeze = yes\n"
	"\n"
	"[target nas]\n"
	"url = ssh://snaprotate@nas.example.org:2222/srv/snaprotate\n"
	"retain = hourly=0 daily=30 weekly=0 monthly=0 yearly=5\n"
	"rpo = 25h\n"
	"send_pinned = yes\n"
	"ssh_identity = /etc/snaprotate/id\n"
	"ssh_options = -o ConnectTimeout=10\n"
	"\n"
	"[target usb]\n"
	"url = file:///mnt/usb\n"
	"retain = hourly=24 daily=7 weekly=4 monthly=6 yearly=0\n"
	"rpo = 0\n"
	"send_pinned = no\n";

static void format_expected_output(void **state)
{
	_cleanup_(config_freep) struct config *c = parse_ok(format_input);
	_cleanup_free_ char *out = config_format(c);

	(void) state;
	assert_non_null(out);
	assert_string_equal(out, format_expected);
}

static void format_round_trip(void **state)
{
	_cleanup_(config_freep) struct config *c = parse_ok(format_input);
	_cleanup_(config_freep) struct config *again = NULL;
	_cleanup_free_ char *out = config_format(c), *out2 = NULL;

	(void) state;
	/* The normalised form is a valid config that normalises to itself. */
	again = parse_ok(out);
	out2 = config_format(again);
	assert_non_null(out2);
	assert_string_equal(out, out2);
}

static void format_empty(void **state)
{
	_cleanup_(config_freep) struct config *c = parse_ok("");
	_cleanup_free_ char *out = config_format(c);

	(void) state;
	assert_string_equal(out,
			    "[global]\n"
			    "hook_timeout = 1m\n"
			    "freeze_timeout = 30s\n"
			    "pkg_dedupe = 5m\n"
			    "state_dir = /var/lib/snaprotate\n"
			    "lock_dir = /run/snaprotate\n");
}

/* config_load() on real files, in a private directory. */
struct tmp {
	char dir[64];
	char path[128];
};

static int tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	strcpy(t->dir, "/tmp/test-config.XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s/rotate.conf", t->dir);
	*state = t;
	return 0;
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;
	DIR *d = opendir(t->dir);
	struct dirent *de;
	int r = 0;

	if (d) {
		while ((de = readdir(d)))
			if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
				(void) unlinkat(dirfd(d), de->d_name,
						de->d_type == DT_DIR ? AT_REMOVEDIR : 0);
		closedir(d);
	}
	if (rmdir(t->dir) < 0)
		r = -1;
	free(t);
	return r;
}

static void write_conf(const char *path, const char *text, mode_t mode)
{
	FILE *f;

	(void) unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void load_file_permissions(void **state)
{
	static const struct {
		mode_t mode;
		uid_t uid;
		gid_t gid;
		bool ok;
	} cases[] = {
		{ 0600, 0, 0, true },
		{ 0644, 0, 0, true },
		{ 0640, 0, 65534, true },
		{ 0400, 0, 0, true },
		{ 0620, 0, 0, false },
		{ 0660, 0, 65534, false },
		{ 0602, 0, 0, false },
		{ 0666, 0, 0, false },
		{ 0600, 65534, 0, false },
		{ 0400, 65534, 65534, false },
	};
	struct tmp *t = *state;

	if (geteuid() != 0)
		skip();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_(config_freep) struct config *c = NULL;
		struct rerr e = { 0 };
		int r;

		write_conf(t->path, "[global]\nhook_timeout = 5m\n" VOL_A, cases[i].mode);
		assert_int_equal(chown(t->path, cases[i].uid, cases[i].gid), 0);
		r = config_load(t->path, true, &c, &e);
		if (cases[i].ok) {
			if (r != 0)
				fail_msg("mode %04o uid %u: %s", (unsigned)cases[i].mode,
					 (unsigned)cases[i].uid, e.msg);
			assert_string_equal(c->path, t->path);
			assert_int_equal(c->hook_timeout, 300);
			assert_int_equal(c->n_volumes, 1);
			continue;
		}
		if (r != -EPERM)
			fail_msg("mode %04o uid %u: config_load() = %d, expected -EPERM",
				 (unsigned)cases[i].mode, (unsigned)cases[i].uid, r);
		assert_null(c);
		assert_int_equal(e.code, EPERM);
		/* Names the file. */
		assert_true(startswith(e.msg, t->path));
		assert_non_null(strstr(e.msg, "must be owned by root"));

		/* Without the check the same file loads. */
		rerr_clear(&e);
		assert_int_equal(config_load(t->path, false, &c, &e), 0);
		assert_int_equal(c->hook_timeout, 300);
	}
	assert_int_equal(unlink(t->path), 0);
}

static void load_errors(void **state)
{
	struct tmp *t = *state;
	struct config *c = NULL;
	struct rerr e = { 0 };
	char sub[160];

	/* Missing. */
	assert_int_equal(config_load(t->path, false, &c, &e), -ENOENT);
	assert_null(c);
	assert_true(startswith(e.msg, t->path));

	/* A directory. */
	snprintf(sub, sizeof(sub), "%s/dir.conf", t->dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	rerr_clear(&e);
	assert_int_equal(config_load(sub, false, &c, &e), -EINVAL);
	assert_true(startswith(e.msg, sub));
	assert_null(c);
	assert_int_equal(rmdir(sub), 0);

	/* A content error names FILE:LINE with the real path. */
	write_conf(t->path, VOL_A "rpo = soon\n", 0600);
	rerr_clear(&e);
	assert_int_equal(config_load(t->path, false, &c, &e), -EINVAL);
	assert_null(c);
	snprintf(sub, sizeof(sub), "%s:4: rpo = 'soon'", t->path);
	assert_true(startswith(e.msg, sub));
	assert_int_equal(unlink(t->path), 0);

	/* A NUL byte is not cut off silently: the whole file is refused. */
	{
		static const char nul[] = "[global]\nhook_timeout = 5m\n\0garbage = 1\n";
		FILE *f = fopen(t->path, "w");

		assert_non_null(f);
		assert_int_equal(fwrite(nul, 1, sizeof(nul) - 1, f), sizeof(nul) - 1);
		assert_int_equal(fclose(f), 0);
		rerr_clear(&e);
		assert_int_equal(config_load(t->path, false, &c, &e), -EINVAL);
		assert_null(c);
		assert_non_null(strstr(e.msg, "NUL"));
		assert_int_equal(unlink(t->path), 0);
	}
}

static void utf8_bom_is_skipped(void **state)
{
	_cleanup_(config_freep) struct config *c = parse_ok("\xef\xbb\xbf" VOL_A);

	(void) state;
	assert_int_equal(c->n_volumes, 1);
	assert_string_equal(c->volumes[0].path, "/a");
	assert_int_equal(c->volumes[0].line, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(global_defaults),
		cmocka_unit_test(utf8_bom_is_skipped),
		cmocka_unit_test(global_keys),
		cmocka_unit_test(volume_btrfs_defaults),
		cmocka_unit_test(volume_btrfs_snapshot_dir_default),
		cmocka_unit_test(volume_btrfs_all_keys),
		cmocka_unit_test(volume_lvm_all_keys),
		cmocka_unit_test(volume_value_table),
		cmocka_unit_test(volume_min_free_table),
		cmocka_unit_test(volume_snapshot_size_table),
		cmocka_unit_test(group_keys),
		cmocka_unit_test(group_freeze_values),
		cmocka_unit_test(target_url_table),
		cmocka_unit_test(target_keys),
		cmocka_unit_test(multiline_values),
		cmocka_unit_test(crlf_and_no_final_newline),
		cmocka_unit_test(parse_errors_table),
		cmocka_unit_test(line_length_limit),
		cmocka_unit_test(parse_retain_direct),
		cmocka_unit_test(format_expected_output),
		cmocka_unit_test(format_round_trip),
		cmocka_unit_test(format_empty),
		cmocka_unit_test_setup_teardown(load_file_permissions, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(load_errors, tmp_setup, tmp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
