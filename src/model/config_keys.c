/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Every key of rotate.conf: which section has it, and what its value sets. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/debug.h"
#include "base/util.h"
#include "model/config.h"
#include "model/stamp.h"

#include "config_internal.h"

#include <ini.h>

const char *const cfg_volume_keys[_VKEY_MAX] = {
	[VKEY_BACKEND] = "backend",
	[VKEY_PATH] = "path",
	[VKEY_SNAPSHOT_DIR] = "snapshot_dir",
	[VKEY_LV] = "lv",
	[VKEY_SNAPSHOT_SIZE] = "snapshot_size",
	[VKEY_PRE_HOOK] = "pre_hook",
	[VKEY_POST_HOOK] = "post_hook",
	[VKEY_RETAIN] = "retain",
	[VKEY_RETAIN_MIN] = "retain_min",
	[VKEY_RETAIN_PRE_POST] = "retain_pre_post",
	[VKEY_RETAIN_MANUAL] = "retain_manual",
	[VKEY_TARGETS] = "targets",
	[VKEY_RPO] = "rpo",
	[VKEY_INTERVAL] = "interval",
	[VKEY_MAX_DELETE] = "max_delete",
	[VKEY_DELETE_BATCH] = "delete_batch",
	[VKEY_MIN_FREE] = "min_free",
	[VKEY_THIN_POOL_MAX] = "thin_pool_max",
	[VKEY_PKG_SNAPSHOTS] = "pkg_snapshots",
	[VKEY_PKG_REQUIRED] = "pkg_required",
	[VKEY_PKG_IN_CHROOT] = "pkg_in_chroot",
};

const char *const cfg_global_keys[] = {
	"hook_timeout", "freeze_timeout", "pkg_dedupe", "state_dir", "lock_dir", NULL,
};
const char *const cfg_group_keys[] = { "volumes", "freeze", NULL };
const char *const cfg_target_keys[] = {
	"url", "retain", "rpo", "send_pinned", "require_mount", "ssh_identity", "ssh_options", NULL,
};

/* Keys whose value is a space-separated list, so a continuation line appends. */
const char *const cfg_list_keys[] = { "retain", "targets", "volumes", "ssh_options", "pre_hook",
					 "post_hook", NULL };

const struct policy cfg_default_policy = {
	.count = { [RETAIN_HOURLY] = 24, [RETAIN_DAILY] = 7, [RETAIN_WEEKLY] = 4,
		   [RETAIN_MONTHLY] = 6, [RETAIN_YEARLY] = 0 },
	.min_age = 0,
	.pre_post = 10,
	.manual = RETAIN_ALL,
	.keep_target_base = true,
};

int cfg_fail(struct parse_ctx *ctx, unsigned line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	if (ctx->err)
		return ctx->err;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->err_line = line;
	if (line)
		rerr_say(ctx->e, EINVAL, "%s:%u: %s", ctx->path, line, msg);
	else
		rerr_say(ctx->e, EINVAL, "%s: %s", ctx->path, msg);
	ctx->err = -EINVAL;
	return ctx->err;
}

static int set_string(char **field, const char *value)
{
	char *s = strdup(value);

	if (!s)
		return -ENOMEM;
	free(*field);
	*field = s;
	return 0;
}

static int handle_duration(struct parse_ctx *ctx, const char *key, const char *value,
			   int64_t *ret)
{
	if (duration_parse(value, ret) < 0)
		return cfg_fail(ctx, ctx->line,
				"%s = '%s': expected a duration such as 30s, 90m, 1h, 7d, 2w, or 0",
				key, value);
	return 0;
}

static int handle_policy_key(struct parse_ctx *ctx, struct policy *policy, const char *key,
			     const char *value)
{
	struct rerr e = { 0 };
	unsigned long v;

	if (streq(key, "retain")) {
		char *acc;

		/* A continued retain is parsed again as a whole, so a repeat across lines is seen. */
		if (ctx->continuation && ctx->retain_acc) {
			if (asprintf(&acc, "%s %s", ctx->retain_acc, value) < 0)
				return -ENOMEM;
		} else if (!(acc = strdup(value))) {
			return -ENOMEM;
		}
		free(ctx->retain_acc);
		ctx->retain_acc = acc;
		if (config_parse_retain(acc, policy, &e) < 0)
			return cfg_fail(ctx, ctx->line, "retain: %s", e.msg);
	} else if (streq(key, "retain_min")) {
		return handle_duration(ctx, key, value, &policy->min_age);
	} else if (streq(key, "retain_pre_post")) {
		if (cfg_parse_uint(value, 100000, &v) < 0)
			return cfg_fail(ctx, ctx->line,
					"retain_pre_post = '%s': expected a number from 0 to 100000",
					value);
		policy->pre_post = (unsigned)v;
	} else if (streq(key, "retain_manual")) {
		if (streq(value, "all"))
			policy->manual = RETAIN_ALL;
		else if (cfg_parse_uint(value, 100000, &v) == 0)
			policy->manual = (int)v;
		else
			return cfg_fail(ctx, ctx->line,
					"retain_manual = '%s': expected 'all' or a number", value);
	}
	return 0;
}

/* One switch over the volume keys (enum volume_key), a few lines each. */
static int handle_volume(struct parse_ctx *ctx, struct volume *v, int k, const char *value)
{
	const char *key = cfg_volume_keys[k];
	unsigned long n;
	int r = 0;

	switch ((enum volume_key)k) {
	case VKEY_BACKEND:
		if (streq(value, "btrfs"))
			v->backend = BACKEND_BTRFS;
		else if (streq(value, "lvm"))
			v->backend = BACKEND_LVM;
		else
			return cfg_fail(ctx, ctx->line, "backend = '%s': expected btrfs or lvm", value);
		break;
	case VKEY_PATH:
	case VKEY_SNAPSHOT_DIR:
		if (!cfg_path_valid(value))
			return cfg_fail(ctx, ctx->line, "%s = '%s': " CFG_PATH_WANTED, key, value);
		r = set_string(k == VKEY_PATH ? &v->path : &v->snapshot_dir, value);
		if (r == 0)
			cfg_path_normalize(k == VKEY_PATH ? v->path : v->snapshot_dir);
		break;
	case VKEY_PRE_HOOK:
	case VKEY_POST_HOOK: {
		char ***list = k == VKEY_PRE_HOOK ? &v->pre_hooks : &v->post_hooks;
		size_t *count = k == VKEY_PRE_HOOK ? &v->n_pre_hooks : &v->n_post_hooks;
		size_t before = *count;

		r = cfg_strv_split_append(list, count, value);
		for (size_t i = before; r == 0 && i < *count; i++)
			if (!cfg_path_valid((*list)[i]))
				return cfg_fail(ctx, ctx->line,
						"%s: '%s' is not an absolute path without '..'", key,
						(*list)[i]);
		break;
	}
	case VKEY_LV:
		if (!cfg_lv_spec_valid(value))
			return cfg_fail(ctx, ctx->line,
					"lv = '%s': expected VG/LV with names of [A-Za-z0-9+_.-]", value);
		r = set_string(&v->lv, value);
		break;
	case VKEY_SNAPSHOT_SIZE:
		if (!cfg_lvm_size_valid(value))
			return cfg_fail(ctx, ctx->line,
					"snapshot_size = '%s': expected an LVM size (10G) or N%%ORIGIN", value);
		r = set_string(&v->snapshot_size, value);
		break;
	case VKEY_RETAIN:
	case VKEY_RETAIN_MIN:
	case VKEY_RETAIN_PRE_POST:
	case VKEY_RETAIN_MANUAL:
		return handle_policy_key(ctx, &v->policy, key, value);
	case VKEY_TARGETS:
		r = cfg_strv_split_append(&v->targets, &v->n_targets, value);
		break;
	case VKEY_RPO:
		return handle_duration(ctx, key, value, &v->rpo);
	case VKEY_INTERVAL:
		return handle_duration(ctx, key, value, &v->interval);
	case VKEY_MAX_DELETE:
		if (cfg_parse_uint(value, 1000000, &n) < 0)
			return cfg_fail(ctx, ctx->line, "max_delete = '%s': expected a number", value);
		v->max_delete = (long)n;
		break;
	case VKEY_DELETE_BATCH:
		if (cfg_parse_uint(value, 10000, &n) < 0)
			return cfg_fail(ctx, ctx->line,
					"delete_batch = '%s': expected a number (0 turns pacing off)", value);
		v->delete_batch = (unsigned)n;
		break;
	case VKEY_MIN_FREE:
		if (cfg_parse_min_free(value, &v->min_free) < 0)
			return cfg_fail(ctx, ctx->line,
					"min_free = '%s': expected a percentage (10%%) or a size (20G)", value);
		break;
	case VKEY_THIN_POOL_MAX: {
		size_t len = strlen(value);
		_cleanup_free_ char *num = len > 1 && value[len - 1] == '%' ? strndup(value, len - 1) : NULL;

		if (!num || cfg_parse_uint(num, 100, &n) < 0 || n == 0)
			return cfg_fail(ctx, ctx->line,
					"thin_pool_max = '%s': expected a percentage of the pool (1%% to 100%%)",
					value);
		v->thin_pool_max = (unsigned)n;
		break;
	}
	case VKEY_PKG_SNAPSHOTS:
	case VKEY_PKG_REQUIRED:
	case VKEY_PKG_IN_CHROOT: {
		bool *flag = k == VKEY_PKG_SNAPSHOTS ? &v->pkg_snapshots :
			     k == VKEY_PKG_REQUIRED ? &v->pkg_required : &v->pkg_in_chroot;

		if (cfg_parse_bool(value, flag) < 0)
			return cfg_fail(ctx, ctx->line, "%s = '%s': expected yes or no", key, value);
		break;
	}
	case _VKEY_MAX:
		break;
	}
	return r;
}

static int handle_global(struct parse_ctx *ctx, const char *key, const char *value)
{
	struct config *c = ctx->cfg;

	if (streq(key, "hook_timeout"))
		return handle_duration(ctx, key, value, &c->hook_timeout);
	if (streq(key, "freeze_timeout"))
		return handle_duration(ctx, key, value, &c->freeze_timeout);
	if (streq(key, "pkg_dedupe"))
		return handle_duration(ctx, key, value, &c->pkg_dedupe);
	if (!cfg_path_valid(value))
		return cfg_fail(ctx, ctx->line, "%s = '%s': " CFG_PATH_WANTED,
				key, value);
	return set_string(streq(key, "state_dir") ? &c->state_dir : &c->lock_dir, value);
}

static int handle_group(struct parse_ctx *ctx, struct group *g, const char *key,
			const char *value)
{
	if (streq(key, "freeze")) {
		g->freeze_line = ctx->line;
		if (cfg_parse_bool(value, &g->freeze) < 0)
			return cfg_fail(ctx, ctx->line, "freeze = '%s': expected yes or no", value);
		return 0;
	}
	if (!ctx->continuation)
		g->volumes_line = ctx->line;
	return cfg_strv_split_append(&g->volumes, &g->n_volumes, value);
}

static int handle_target(struct parse_ctx *ctx, struct target *t, const char *key,
			 const char *value)
{
	char why[128];
	int r;

	if (streq(key, "url")) {
		r = cfg_parse_url(t, value, why, sizeof(why));
		if (r == -EINVAL)
			return cfg_fail(ctx, ctx->line, "url = '%s': %s", value, why);
		if (r < 0)
			return r;
		return set_string(&t->url, value);
	}
	if (streq(key, "retain")) {
		t->retain_set = true;
		return handle_policy_key(ctx, &t->policy, key, value);
	}
	if (streq(key, "rpo"))
		return handle_duration(ctx, key, value, &t->rpo);
	if (streq(key, "send_pinned")) {
		if (cfg_parse_bool(value, &t->send_pinned) < 0)
			return cfg_fail(ctx, ctx->line, "send_pinned = '%s': expected yes or no",
					value);
		return 0;
	}
	if (streq(key, "require_mount")) {
		bool yes;

		t->require_mount_line = ctx->line;
		if (cfg_parse_bool(value, &yes) == 0)
			return yes ? set_string(&t->require_mount, "") : 0;
		if (!cfg_path_valid(value))
			return cfg_fail(ctx, ctx->line, "require_mount = '%s': expected yes, no or "
					"the absolute path of a mount point", value);
		if (set_string(&t->require_mount, value) < 0)
			return -ENOMEM;
		cfg_path_normalize(t->require_mount);
		return 0;
	}
	if (streq(key, "ssh_identity")) {
		if (!cfg_path_valid(value))
			return cfg_fail(ctx, ctx->line,
					"ssh_identity = '%s': " CFG_PATH_WANTED,
					value);
		return set_string(&t->ssh_identity, value);
	}
	/* ssh_options */
	{
		char *joined;

		if (!t->ssh_options)
			return set_string(&t->ssh_options, value);
		if (asprintf(&joined, "%s %s", t->ssh_options, value) < 0)
			return -ENOMEM;
		free(t->ssh_options);
		t->ssh_options = joined;
		return 0;
	}
}

/* The dispatch of every "key = value" to its section's handler, continuation lines included. */
int cfg_ini_handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;
	const char *const *keys;
	size_t nkeys;
	int k, r;

	(void) section;
	if (ctx->err)
		return 0;
	switch (ctx->section) {
	case SECTION_NONE:
		cfg_fail(ctx, ctx->line, "'%s' is outside a section; start with [global] or [volume NAME]",
			 name);
		return 0;
	case SECTION_GLOBAL:
		keys = cfg_global_keys;
		nkeys = ARRAY_SIZE(cfg_global_keys);
		break;
	case SECTION_VOLUME:
		keys = cfg_volume_keys;
		nkeys = ARRAY_SIZE(cfg_volume_keys);
		break;
	case SECTION_GROUP:
		keys = cfg_group_keys;
		nkeys = ARRAY_SIZE(cfg_group_keys);
		break;
	case SECTION_TARGET:
		keys = cfg_target_keys;
		nkeys = ARRAY_SIZE(cfg_target_keys);
		break;
	default:
		return 0;
	}
	k = cfg_key_index(keys, nkeys, name);
	if (k < 0) {
		cfg_fail(ctx, ctx->line, "unknown key '%s'", name);
		return 0;
	}
	if (ctx->continuation) {
		if (!cfg_is_list_key(name)) {
			cfg_fail(ctx, ctx->line, "'%s' takes one value; keys start at column 1", name);
			return 0;
		}
	} else if (ctx->seen_line[k]) {
		cfg_fail(ctx, ctx->line, "duplicate key '%s' (first set on line %u)", name,
			 ctx->seen_line[k]);
		return 0;
	} else {
		ctx->seen_line[k] = ctx->line;
	}
	if (!*value) {
		cfg_fail(ctx, ctx->line, "'%s' has no value", name);
		return 0;
	}
	/* "key=value" fits where "key = value", as config-check writes it, would not. */
	if (!cfg_is_list_key(name) && strlen(name) + 3 + strlen(value) > CONFIG_LINE_MAX) {
		cfg_fail(ctx, ctx->line, "'%s': a value of %zu characters is too long (a line "
			 "\"%s = VALUE\" holds %d)", name, strlen(value), name, CONFIG_LINE_MAX);
		return 0;
	}
	ctx->have_key = true;
	DBG(CONFIG, "%s:%u: %s = '%s'", ctx->path, ctx->line, name, value);
	switch (ctx->section) {
	case SECTION_GLOBAL:
		r = handle_global(ctx, name, value);
		break;
	case SECTION_VOLUME: {
		struct volume *v = ctx->cur;

		if (!ctx->continuation)
			v->key_line[k] = ctx->line;
		r = handle_volume(ctx, v, k, value);
		break;
	}
	case SECTION_GROUP:
		r = handle_group(ctx, ctx->cur, name, value);
		break;
	case SECTION_TARGET:
		r = handle_target(ctx, ctx->cur, name, value);
		break;
	default:
		r = 0;
	}
	if (r < 0 && !ctx->err) {
		rerr_say(ctx->e, r, "%s:%u: %s", ctx->path, ctx->line, strerror(-r));
		ctx->err = r;
	}
	return r < 0 ? 0 : 1;
}
