/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rotate.conf through inih. inih as Debian builds it passes no line numbers to
 * the handler and no callback for section headers, so the text is fed to
 * ini_parse_stream() by our own reader, which counts lines, recognises section
 * headers itself (to report a duplicate at the second header) and marks
 * continuation lines. The first error stops the parse; its line is reported.
 * The keys are in config_keys.c, the values' syntax in config_value.c.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ini.h>

#include "base/debug.h"
#include "base/util.h"
#include "model/config.h"
#include "model/stamp.h"

#include "config_internal.h"

#define CONFIG_MAX_SIZE		(1024 * 1024)

/* Whether @path is @dir or lies below it (both normalised, absolute). */
static bool path_is_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (streq(dir, "/"))
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static void *grow(void *base, size_t n, size_t size)
{
	void *p = realloc(base, (n + 1) * size);

	if (p)
		memset((char *)p + n * size, 0, size);
	return p;
}

static bool name_taken(const struct config *c, const char *name)
{
	return config_volume(c, name) || config_group(c, name);
}

/* A "[...]" line: start a section, or fail: a parser, with a message for each way to fail. */
static int start_section(struct parse_ctx *ctx, const char *line)
{
	struct config *c = ctx->cfg;
	char type[16], name[256], extra[2];	/* a line is shorter than name */
	const char *end = strrchr(line, ']');
	size_t len;
	char inner[CONFIG_LINE_MAX + 1];
	int n;

	if (!end || end[1] != '\0')
		return cfg_fail(ctx, ctx->line, "malformed section header");
	len = (size_t)(end - line - 1);
	memcpy(inner, line + 1, len);
	inner[len] = '\0';
	memset(ctx->seen_line, 0, sizeof(ctx->seen_line));
	ctx->have_key = false;
	free(ctx->retain_acc);
	ctx->retain_acc = NULL;
	n = sscanf(inner, "%15s %255s %1s", type, name, extra);
	if (n == 1 && streq(type, "global")) {
		if (ctx->global_line)
			return cfg_fail(ctx, ctx->line, "duplicate section [global] (first on line %u)",
					ctx->global_line);
		ctx->global_line = ctx->line;
		ctx->section = SECTION_GLOBAL;
		ctx->cur = c;
		return 0;
	}
	if (n != 2 || (!streq(type, "volume") && !streq(type, "group") && !streq(type, "target")))
		return cfg_fail(ctx, ctx->line,
				"unknown section [%s]; expected [global], [volume NAME], [group NAME] or [target NAME]",
				inner);
	if (!volume_name_valid(name))
		return cfg_fail(ctx, ctx->line,
				"%s name '%s' must be 1-%d characters of [A-Za-z0-9_.-], not starting with '-'",
				type, name, VOLUME_NAME_MAX);
	if (streq(type, "target")) {
		struct target *t;

		if (config_target(c, name))
			return cfg_fail(ctx, ctx->line, "duplicate section [target %s]", name);
		t = grow(c->targets, c->n_targets, sizeof(*t));
		if (!t)
			return -ENOMEM;
		c->targets = t;
		t = &c->targets[c->n_targets++];
		t->name = strdup(name);
		t->line = ctx->line;
		t->policy = cfg_default_policy;
		t->policy.pre_post = 0;
		t->policy.manual = 0;
		t->policy.keep_target_base = false;
		t->send_pinned = true;
		ctx->section = SECTION_TARGET;
		ctx->cur = t;
		return t->name ? 0 : -ENOMEM;
	}
	if (name_taken(c, name))
		return cfg_fail(ctx, ctx->line, "duplicate section [%s %s]: '%s' names a %s already",
				type, name, name, config_volume(c, name) ? "volume" : "group");
	if (streq(type, "volume")) {
		struct volume *v = grow(c->volumes, c->n_volumes, sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->volumes = v;
		v = &c->volumes[c->n_volumes++];
		v->name = strdup(name);
		v->line = ctx->line;
		v->backend = _BACKEND_KIND_MAX;
		v->policy = cfg_default_policy;
		v->max_delete = -1;
		v->delete_batch = 8;
		v->thin_pool_max = 95;
		ctx->section = SECTION_VOLUME;
		ctx->cur = v;
		return v->name ? 0 : -ENOMEM;
	} else {
		struct group *g = grow(c->groups, c->n_groups, sizeof(*g));

		if (!g)
			return -ENOMEM;
		c->groups = g;
		g = &c->groups[c->n_groups++];
		g->name = strdup(name);
		g->line = ctx->line;
		ctx->section = SECTION_GROUP;
		ctx->cur = g;
		return g->name ? 0 : -ENOMEM;
	}
}

/*
 * inih's reader: hands out one line at a time, and looks at it first. Returning
 * NULL ends the parse, which is how the first error stops it.
 */
static char *config_ini_reader(char *buf, int size, void *stream)
{
	struct parse_ctx *ctx = stream;
	const char *nl, *p;
	size_t len;
	int r;

	if (ctx->err || !*ctx->text)
		return NULL;
	nl = strchr(ctx->text, '\n');
	len = nl ? (size_t)(nl - ctx->text) : strlen(ctx->text);
	ctx->line++;
	if (len > 0 && ctx->text[len - 1] == '\r')
		len--;
	if (len > CONFIG_LINE_MAX || (int)len > size - 1) {
		cfg_fail(ctx, ctx->line, "line is longer than %d characters", CONFIG_LINE_MAX);
		return NULL;
	}
	memcpy(buf, ctx->text, len);
	buf[len] = '\0';
	ctx->text = nl ? nl + 1 : ctx->text + strlen(ctx->text);
	/* A carriage return or an escape inside a value would be written back as another line. */
	for (p = buf; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f) {
			cfg_fail(ctx, ctx->line, "a control character (0x%02x) at column %zu",
				 (unsigned char)*p, (size_t)(p - buf) + 1);
			return NULL;
		}

	for (p = buf; *p == ' ' || *p == '\t'; p++)
		;
	ctx->continuation = p > buf && *p != '\0' && *p != '#' && *p != ';';
	if (ctx->continuation && !ctx->have_key) {
		cfg_fail(ctx, ctx->line, "keys start at column 1 (an indented line continues a value)");
		return NULL;
	}
	/* inih would drop "; text" silently and keep "# text": both are mistakes here. */
	if (*p != '#' && *p != ';')
		for (const char *c = p + 1; *c; c++)
			/* "key =;x" too: written back as "key = ;x", it would be one. */
			if ((*c == '#' || *c == ';') && (c[-1] == ' ' || c[-1] == '\t' || c[-1] == '=')) {
				cfg_fail(ctx, ctx->line,
					 "comments must be whole lines: '%c' after a value is not a comment",
					 *c);
				return NULL;
			}
	if (*p == '[') {
		char line[CONFIG_LINE_MAX + 2];
		size_t l = strlen(p);

		memcpy(line, p, l + 1);
		while (l > 0 && isspace((unsigned char)line[l - 1]))
			line[--l] = '\0';
		if (p > buf) {
			cfg_fail(ctx, ctx->line, "section headers start at column 1");
			return NULL;
		}
		r = start_section(ctx, line);
		if (r < 0) {
			if (!ctx->err) {
				rerr_say(ctx->e, r, "%s:%u: %s", ctx->path, ctx->line, strerror(-r));
				ctx->err = r;
			}
			return NULL;
		}
	}
	return buf;
}

static void volume_free(struct volume *v)
{
	free(v->name);
	free(v->path);
	free(v->snapshot_dir);
	free(v->lv);
	free(v->snapshot_size);
	cfg_strv_free(v->pre_hooks, v->n_pre_hooks);
	cfg_strv_free(v->post_hooks, v->n_post_hooks);
	cfg_strv_free(v->targets, v->n_targets);
	free(v->target_list);
}

struct config *config_free(struct config *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n_volumes; i++)
		volume_free(&c->volumes[i]);
	for (size_t i = 0; i < c->n_groups; i++) {
		free(c->groups[i].name);
		cfg_strv_free(c->groups[i].volumes, c->groups[i].n_volumes);
	}
	for (size_t i = 0; i < c->n_targets; i++) {
		struct target *t = &c->targets[i];

		free(t->name);
		free(t->url);
		free(t->user);
		free(t->host);
		free(t->root);
		free(t->ssh_identity);
		free(t->ssh_options);
		free(t->require_mount);
	}
	free(c->volumes);
	free(c->groups);
	free(c->targets);
	free(c->path);
	free(c->state_dir);
	free(c->lock_dir);
	free(c);
	return NULL;
}

struct volume *config_volume(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->n_volumes; i++)
		if (streq(c->volumes[i].name, name))
			return &c->volumes[i];
	return NULL;
}

struct group *config_group(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->n_groups; i++)
		if (streq(c->groups[i].name, name))
			return &c->groups[i];
	return NULL;
}

struct target *config_target(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->n_targets; i++)
		if (streq(c->targets[i].name, name))
			return &c->targets[i];
	return NULL;
}

unsigned config_volume_line(const struct volume *v, enum volume_key key)
{
	return v->key_line[key] ? v->key_line[key] : v->line;
}

const char *cfg_backend_name(enum backend_kind b)
{
	return b == BACKEND_BTRFS ? "btrfs" : "lvm";
}

/* What the text alone can tell once every section is read. */
/* Names to pointers, once every section is parsed (the arrays move no more). */
static int config_resolve(struct config *c)
{
	for (size_t i = 0; i < c->n_volumes; i++) {
		struct volume *v = &c->volumes[i];

		v->grp = v->group ? config_group(c, v->group) : NULL;
		v->target_list = calloc(v->n_targets + 1, sizeof(*v->target_list));
		if (!v->target_list)
			return -ENOMEM;
		for (size_t t = 0; t < v->n_targets; t++)
			v->target_list[t] = config_target(c, v->targets[t]);
	}
	return 0;
}

/* The keys of one backend set on a volume of another. */
static int validate_backend_keys(struct parse_ctx *ctx, const struct volume *v)
{
	static const enum volume_key btrfs_only[] = { VKEY_PATH, VKEY_SNAPSHOT_DIR };
	static const enum volume_key lvm_only[] = { VKEY_LV, VKEY_SNAPSHOT_SIZE,
						    VKEY_THIN_POOL_MAX };

	if (v->backend == _BACKEND_KIND_MAX)
		return cfg_fail(ctx, v->line, "volume '%s' has no 'backend' (btrfs or lvm)", v->name);
	for (size_t k = 0; k < ARRAY_SIZE(btrfs_only); k++)
		if (v->backend != BACKEND_BTRFS && v->key_line[btrfs_only[k]])
			return cfg_fail(ctx, v->key_line[btrfs_only[k]],
					"'%s' is for btrfs volumes; volume '%s' is %s",
					cfg_volume_keys[btrfs_only[k]], v->name,
					cfg_backend_name(v->backend));
	for (size_t k = 0; k < ARRAY_SIZE(lvm_only); k++)
		if (v->backend != BACKEND_LVM && v->key_line[lvm_only[k]])
			return cfg_fail(ctx, v->key_line[lvm_only[k]],
					"'%s' is for lvm volumes; volume '%s' is %s",
					cfg_volume_keys[lvm_only[k]], v->name,
					cfg_backend_name(v->backend));
	return 0;
}

/* One volume: its backend's keys, its defaults, its name, its targets. */
static int validate_volume(struct parse_ctx *ctx, struct volume *v)
{
	const struct config *c = ctx->cfg;
	int r = validate_backend_keys(ctx, v);

	if (r < 0)
		return r;
	if (v->backend == BACKEND_BTRFS) {
		if (!v->path)
			return cfg_fail(ctx, v->line, "btrfs volume '%s' has no 'path'", v->name);
		if (!v->snapshot_dir &&
		    asprintf(&v->snapshot_dir, "%s%s.snapshots", v->path,
			     streq(v->path, "/") ? "" : "/") < 0)
			return -ENOMEM;
		if (strlen(v->snapshot_dir) > CFG_PATH_MAX)
			return cfg_fail(ctx, config_volume_line(v, VKEY_PATH), "path = '%s': its "
					"snapshot_dir '%s' would be longer than %d characters: set "
					"a shorter snapshot_dir", v->path, v->snapshot_dir,
					CFG_PATH_MAX);
		if (streq(v->snapshot_dir, v->path))
			return cfg_fail(ctx, config_volume_line(v, VKEY_SNAPSHOT_DIR),
					"snapshot_dir must not be the volume's path itself");
	} else if (!v->lv) {
		return cfg_fail(ctx, v->line, "lvm volume '%s' has no 'lv' (VG/LV)", v->name);
	} else {
		/* Snapshot LVs are named VOLUME.STAMP: words LVM reserves would be refused. */
		static const char *const reserved[] = { "_cdata", "_cmeta", "_corig", "_mimage",
			"_mlog", "_pmspare", "_rimage", "_rmeta", "_tdata", "_tmeta", "_vorigin",
			"_vdata" };

		if (startswith(v->name, "snapshot") || startswith(v->name, "pvmove"))
			return cfg_fail(ctx, v->line,
					"lvm volume name '%s' starts with a word LVM reserves", v->name);
		for (size_t k = 0; k < ARRAY_SIZE(reserved); k++)
			if (strstr(v->name, reserved[k]))
				return cfg_fail(ctx, v->line,
						"lvm volume name '%s' holds '%s', which LVM reserves",
						v->name, reserved[k]);
	}
	for (size_t t = 0; t < v->n_targets; t++) {
		if (!config_target(c, v->targets[t]))
			return cfg_fail(ctx, v->key_line[VKEY_TARGETS],
					"targets: no [target %s] section", v->targets[t]);
		for (size_t u = 0; u < t; u++)
			if (streq(v->targets[u], v->targets[t]))
				return cfg_fail(ctx, v->key_line[VKEY_TARGETS],
						"targets: '%s' is named twice", v->targets[t]);
	}
	return 0;
}

/* Two volumes on the same storage. */
static int validate_distinct(struct parse_ctx *ctx)
{
	const struct config *c = ctx->cfg;

	for (size_t i = 0; i < c->n_volumes; i++)
		for (size_t j = 0; j < i; j++) {
			const struct volume *a = &c->volumes[i], *b = &c->volumes[j];

			if (a->backend == BACKEND_BTRFS && b->backend == BACKEND_BTRFS &&
			    streq(a->snapshot_dir, b->snapshot_dir) && streq(a->path, b->path))
				return cfg_fail(ctx, a->line,
						"volume '%s' has the same path and snapshot_dir as '%s'",
						a->name, b->name);
			if (a->backend == BACKEND_LVM && b->backend == BACKEND_LVM &&
			    streq(a->lv, b->lv))
				return cfg_fail(ctx, config_volume_line(a, VKEY_LV),
						"lv '%s' is volume '%s' already", a->lv, b->name);
		}
	return 0;
}

/* One group: its members exist, once, in no other group; sets their group. */
static int validate_group(struct parse_ctx *ctx, struct group *g)
{
	const struct config *c = ctx->cfg;

	if (g->n_volumes == 0)
		return cfg_fail(ctx, g->line, "group '%s' has no 'volumes'", g->name);
	if (g->n_volumes > GROUP_MAX)
		return cfg_fail(ctx, g->volumes_line, "volumes: more than %d in group '%s'",
				GROUP_MAX, g->name);
	for (size_t m = 0; m < g->n_volumes; m++) {
		struct volume *v = config_volume(c, g->volumes[m]);

		for (size_t k = 0; k < m; k++)
			if (streq(g->volumes[k], g->volumes[m]))
				return cfg_fail(ctx, g->volumes_line, "volumes: '%s' is named twice",
						g->volumes[m]);
		if (!v)
			return cfg_fail(ctx, g->volumes_line,
					"volumes: no [volume %s] section (group '%s')", g->volumes[m],
					g->name);
		if (v->group)
			return cfg_fail(ctx, g->volumes_line,
					"volumes: volume '%s' is in group '%s' already", v->name,
					v->group);
		if (g->freeze && v->backend == BACKEND_BTRFS)
			return cfg_fail(ctx, g->freeze_line,
					"group '%s': freeze = yes with btrfs volume '%s' (a btrfs snapshot of a frozen filesystem hangs in the kernel)",
					g->name, v->name);
		v->group = g->name;
	}
	return 0;
}

static int config_validate(struct parse_ctx *ctx)
{
	struct config *c = ctx->cfg;
	int r = 0;

	for (size_t i = 0; i < c->n_volumes && r == 0; i++)
		r = validate_volume(ctx, &c->volumes[i]);
	if (r == 0)
		r = validate_distinct(ctx);
	for (size_t i = 0; i < c->n_groups && r == 0; i++)
		r = validate_group(ctx, &c->groups[i]);
	for (size_t i = 0; i < c->n_targets && r == 0; i++) {
		const struct target *t = &c->targets[i];

		if (!t->url)
			r = cfg_fail(ctx, t->line, "target '%s' has no 'url'", t->name);
		else if (t->require_mount && t->scheme != TARGET_FILE)
			r = cfg_fail(ctx, t->require_mount_line, "require_mount: target '%s' is not "
				     "a file:// target (an ssh host's mounts are its own)", t->name);
		else if (t->require_mount && *t->require_mount && !path_is_below(t->root,
									  t->require_mount))
			r = cfg_fail(ctx, t->require_mount_line, "require_mount = %s: the target's "
				     "directory '%s' is not on it", t->require_mount, t->root);
	}
	return r < 0 ? r : config_resolve(c);
}

static int config_parse_text(const char *path, const char *text, size_t len,
			     struct config **ret, struct rerr *e)
{
	struct config *c = calloc(1, sizeof(*c));
	_cleanup_(config_freep) struct config *owner = c;
	struct parse_ctx ctx = { .cfg = c, .path = path, .text = text, .e = e };
	int line, r;

	if (!c)
		return -ENOMEM;
	c->hook_timeout = 60;
	c->freeze_timeout = 30;
	c->pkg_dedupe = 300;
	c->path = strdup(path);
	c->state_dir = strdup("/var/lib/snaprotate");
	c->lock_dir = strdup("/run/snaprotate");
	if (!c->path || !c->state_dir || !c->lock_dir)
		return -ENOMEM;
	if (memchr(text, '\0', len) != NULL)
		return rerr_say(e, EINVAL, "%s: not a text file (it holds a NUL byte)", path);
	if (startswith(text, "\xef\xbb\xbf"))
		ctx.text = text + 3;

	line = ini_parse_stream(config_ini_reader, &ctx, cfg_ini_handler, &ctx);
	free(ctx.retain_acc);
	/* inih reads on after a bad line: an earlier syntax error is the first error. */
	if (line > 0 && ctx.err && (unsigned)line < ctx.err_line) {
		rerr_clear(e);
		ctx.err = 0;
	}
	if (ctx.err)
		return ctx.err;
	if (line > 0)
		return cfg_fail(&ctx, (unsigned)line,
				"expected 'key = value', '[section]' or a comment");
	if (line < 0)
		return rerr_set(e, ENOMEM, "%s: out of memory", path);
	r = config_validate(&ctx);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(owner);
	return 0;
}

int config_parse_string(const char *path, const char *text, struct config **ret,
			struct rerr *e)
{
	return config_parse_text(path, text, strlen(text), ret, e);
}

int config_load(const char *path, bool check_owner, struct config **ret, struct rerr *e)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t len;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return rerr_set(e, errno, "%s: cannot open", path);
	if (fstat(fd, &st) < 0)
		return rerr_set(e, errno, "%s: cannot stat", path);
	if (!S_ISREG(st.st_mode))
		return rerr_say(e, EINVAL, "%s: not a regular file", path);
	/* Whoever can write the config can make root run hooks: only root may. */
	if (check_owner && (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))))
		return rerr_say(e, EPERM,
				"%s: must be owned by root and not writable by group or others (owner %u, mode %04o)",
				path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	if (st.st_size > CONFIG_MAX_SIZE)
		return rerr_say(e, EFBIG, "%s: larger than %d bytes", path, CONFIG_MAX_SIZE);
	r = read_all_fd(fd, CONFIG_MAX_SIZE, &text, &len);
	if (r < 0)
		return rerr_set(e, r, "%s: cannot read", path);
	return config_parse_text(path, text, len, ret, e);
}
