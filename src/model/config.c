/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rotate.conf through inih. inih as Debian builds it passes no line numbers to
 * the handler and no callback for section headers, so the text is fed to
 * ini_parse_stream() by our own reader, which counts lines, recognises section
 * headers itself (to report a duplicate at the second header) and marks
 * continuation lines. The first error stops the parse; its line is reported.
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

#define CONFIG_MAX_SIZE		(1024 * 1024)
/* inih's line buffer holds INI_MAX_LINE bytes with the NUL: 199 characters and the newline. */
#define CONFIG_LINE_MAX		(INI_MAX_LINE - 1)

enum section_type {
	SECTION_NONE,
	SECTION_GLOBAL,
	SECTION_VOLUME,
	SECTION_GROUP,
	SECTION_TARGET,
};

struct parse_ctx {
	struct config *cfg;
	const char *path;
	const char *text;		/* the rest still to read */
	unsigned line;			/* of the line just handed to inih */
	bool continuation;		/* that line is an indented continuation */
	enum section_type section;
	void *cur;			/* the struct of the current section */
	unsigned global_line;
	unsigned seen_line[32];		/* line each key of the current section was set on */
	bool have_key;			/* a key was set in this section: continuations may follow */
	unsigned err_line;		/* line of ctx->err */
	char *retain_acc;		/* a retain value so far, with its continuation lines */
	struct rerr *e;
	int err;
};

static const char *const volume_keys[_VKEY_MAX] = {
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
};

static const char *const global_keys[] = {
	"hook_timeout", "freeze_timeout", "pkg_dedupe", "state_dir", "lock_dir", NULL,
};
static const char *const group_keys[] = { "volumes", "freeze", NULL };
static const char *const target_keys[] = {
	"url", "retain", "rpo", "ssh_identity", "ssh_options", NULL,
};

/* Keys whose value is a space-separated list, so a continuation line appends. */
static const char *const list_keys[] = { "retain", "targets", "volumes", "ssh_options", "pre_hook",
					 "post_hook", NULL };

static const struct policy default_policy = {
	.count = { [RETAIN_HOURLY] = 24, [RETAIN_DAILY] = 7, [RETAIN_WEEKLY] = 4,
		   [RETAIN_MONTHLY] = 6, [RETAIN_YEARLY] = 0 },
	.min_age = 0,
	.pre_post = 10,
	.manual = RETAIN_ALL,
	.keep_target_base = true,
};

static int ctx_fail(struct parse_ctx *ctx, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int ctx_fail(struct parse_ctx *ctx, unsigned line, const char *fmt, ...)
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
		rerr_set(ctx->e, EINVAL, "%s:%u: %s", ctx->path, line, msg);
	else
		rerr_set(ctx->e, EINVAL, "%s: %s", ctx->path, msg);
	ctx->err = -EINVAL;
	return ctx->err;
}

static int key_index(const char *const *keys, size_t n, const char *name)
{
	for (size_t i = 0; i < n && keys[i]; i++)
		if (streq(keys[i], name))
			return (int)i;
	return -1;
}

static bool is_list_key(const char *name)
{
	return key_index(list_keys, SIZE_MAX, name) >= 0;
}

static char **strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return NULL;
}

/* Splits @value on white space, appending to @v. Return: 0 or -ENOMEM. */
static int strv_split_append(char ***v, size_t *n, const char *value)
{
	const char *p = value;

	while (*p) {
		size_t len;
		char **nv, *w;

		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		for (len = 0; p[len] && !isspace((unsigned char)p[len]); len++)
			;
		w = strndup(p, len);
		if (!w)
			return -ENOMEM;
		nv = realloc(*v, (*n + 1) * sizeof(**v));
		if (!nv) {
			free(w);
			return -ENOMEM;
		}
		*v = nv;
		(*v)[(*n)++] = w;
		p += len;
	}
	return 0;
}

static char *strv_join(char *const *v, size_t n)
{
	size_t len = 1;
	char *out, *p;

	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	out = malloc(len);
	if (!out)
		return NULL;
	p = out;
	*p = '\0';
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? " " : "", v[i]);
	return out;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
	unsigned long v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		if (v > (max - (unsigned long)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	*ret = v;
	return 0;
}

static int parse_bool(const char *s, bool *ret)
{
	if (streq(s, "yes") || streq(s, "true") || streq(s, "1") || streq(s, "on"))
		*ret = true;
	else if (streq(s, "no") || streq(s, "false") || streq(s, "0") || streq(s, "off"))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

static bool path_valid(const char *p)
{
	const char *c;

	if (p[0] != '/' || strlen(p) >= PATH_MAX)
		return false;
	/* ".." would let a path leave where it seems to point. */
	for (c = p; (c = strstr(c, "/..")); c += 3)
		if (c[3] == '/' || c[3] == '\0')
			return false;
	return true;
}

/*
 * One spelling per path: no repeated or trailing '/', no "." component. So
 * "/data/" and "/data/./" are "/data", and comparing paths compares places.
 */
static void path_normalize(char *p)
{
	char *out = p;

	for (const char *in = p; *in;) {
		if (in[0] == '/' && (in[1] == '/' || (in[1] == '.' && (in[2] == '/' || !in[2])))) {
			in += in[1] == '/' ? 1 : 2;
			continue;
		}
		*out++ = *in++;
	}
	while (out > p + 1 && out[-1] == '/')
		out--;
	if (out == p)
		*out++ = '/';
	*out = '\0';
}

static bool lv_spec_valid(const char *s)
{
	const char *slash = strchr(s, '/');

	return slash && lvm_name_valid(s, (size_t)(slash - s)) &&
	       lvm_name_valid(slash + 1, strlen(slash + 1));
}

/* "20%ORIGIN", "%VG", "%FREE", "%PVS"; or a size: "10G", "512m", "1.5t". */
static bool lvm_size_valid(const char *s)
{
	const char *p = s;
	bool dot = false;

	if (!isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p) || (*p == '.' && !dot)) {
		dot |= *p == '.';
		p++;
	}
	if (*p == '%')
		return !dot && (streq(p + 1, "ORIGIN") || streq(p + 1, "VG") ||
				streq(p + 1, "FREE") || streq(p + 1, "PVS"));
	if (*p == '\0')
		return true;
	return strchr("bBsSkKmMgGtTpPeE", *p) && p[1] == '\0';
}

static int parse_size(const char *s, uint64_t *ret)
{
	static const char units[] = "KMGTP";
	unsigned long v;
	char num[32];
	size_t len = strspn(s, "0123456789");
	const char *u;
	uint64_t mult = 1;

	if (len == 0 || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, len);
	num[len] = '\0';
	if (parse_uint(num, ULONG_MAX, &v) < 0)
		return -EINVAL;
	if (s[len]) {
		u = strchr(units, toupper((unsigned char)s[len]));
		if (!u || s[len + 1])
			return -EINVAL;
		for (const char *x = units; x <= u; x++)
			mult *= 1024;
	}
	if (v > UINT64_MAX / mult)
		return -EINVAL;
	*ret = v * mult;
	return 0;
}

static int parse_min_free(const char *s, struct min_free *ret)
{
	size_t len = strlen(s);
	unsigned long v;
	char num[32];

	if (len > 1 && s[len - 1] == '%') {
		if (len - 1 >= sizeof(num))
			return -EINVAL;
		memcpy(num, s, len - 1);
		num[len - 1] = '\0';
		if (parse_uint(num, 100, &v) < 0 || v > 99)
			return -EINVAL;
		*ret = (struct min_free){ .unit = MIN_FREE_PERCENT, .value = v };
		return 0;
	}
	if (parse_size(s, &ret->value) < 0)
		return -EINVAL;
	ret->unit = MIN_FREE_BYTES;
	return 0;
}

int config_parse_retain(const char *value, struct policy *policy, struct rerr *e)
{
	unsigned count[_RETAIN_GRAN_MAX] = { 0 };
	bool seen[_RETAIN_GRAN_MAX] = { false };
	const char *p = value;

	while (*p) {
		char word[64], *eq;
		size_t len;
		unsigned long v;
		int g;

		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		for (len = 0; p[len] && !isspace((unsigned char)p[len]); len++)
			;
		if (len >= sizeof(word))
			return rerr_set(e, EINVAL, "'%.*s...' is not GRANULARITY=N", 20, p);
		memcpy(word, p, len);
		word[len] = '\0';
		p += len;
		eq = strchr(word, '=');
		if (!eq)
			return rerr_set(e, EINVAL, "'%s' is not GRANULARITY=N", word);
		*eq = '\0';
		for (g = 0; g < _RETAIN_GRAN_MAX; g++)
			if (streq(word, retain_gran_to_string((enum retain_gran)g)))
				break;
		if (g == _RETAIN_GRAN_MAX)
			return rerr_set(e, EINVAL,
					"unknown granularity '%s' (hourly, daily, weekly, monthly, yearly)",
					word);
		if (seen[g])
			return rerr_set(e, EINVAL, "'%s' is given twice", word);
		if (parse_uint(eq + 1, 100000, &v) < 0)
			return rerr_set(e, EINVAL, "'%s=%s': the count must be a number from 0 to 100000",
					word, eq + 1);
		seen[g] = true;
		count[g] = (unsigned)v;
	}
	memcpy(policy->count, count, sizeof(count));
	return 0;
}

/* Parses ssh://[USER@]HOST[:PORT]/PATH or file:///PATH into @t. */
static int parse_url(struct target *t, const char *url, char *why, size_t why_len)
{
	const char *p, *slash, *at, *colon, *host_end;

	if (startswith(url, "file://")) {
		p = url + strlen("file://");
		if (!path_valid(p)) {
			snprintf(why, why_len, "a file:// URL needs an absolute path without '..'");
			return -EINVAL;
		}
		t->scheme = TARGET_FILE;
		t->root = strdup(p);
		return t->root ? 0 : -ENOMEM;
	}
	if (!startswith(url, "ssh://")) {
		snprintf(why, why_len, "the URL must start with ssh:// or file://");
		return -EINVAL;
	}
	p = url + strlen("ssh://");
	slash = strchr(p, '/');
	if (!slash || !path_valid(slash)) {
		snprintf(why, why_len, "an ssh:// URL needs an absolute path without '..' after the host");
		return -EINVAL;
	}
	at = memchr(p, '@', (size_t)(slash - p));
	if (at) {
		if (at == p || p[0] == '-') {
			snprintf(why, why_len, "bad user name");
			return -EINVAL;
		}
		for (const char *c = p; c < at; c++)
			if (!isalnum((unsigned char)*c) && !strchr("._-", *c)) {
				snprintf(why, why_len, "bad user name");
				return -EINVAL;
			}
		t->user = strndup(p, (size_t)(at - p));
		if (!t->user)
			return -ENOMEM;
		p = at + 1;
	}
	if (*p == '[') {
		host_end = memchr(p, ']', (size_t)(slash - p));
		if (!host_end) {
			snprintf(why, why_len, "unterminated '[' in the host");
			return -EINVAL;
		}
		for (const char *c = p + 1; c < host_end; c++)
			if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.') {
				snprintf(why, why_len, "bad IPv6 address");
				return -EINVAL;
			}
		t->host = strndup(p + 1, (size_t)(host_end - p - 1));
		host_end++;
	} else {
		colon = memchr(p, ':', (size_t)(slash - p));
		host_end = colon ? colon : slash;
		for (const char *c = p; c < host_end; c++)
			if (!isalnum((unsigned char)*c) && !strchr(".-_", *c)) {
				snprintf(why, why_len, "bad host name");
				return -EINVAL;
			}
		t->host = strndup(p, (size_t)(host_end - p));
	}
	if (!t->host)
		return -ENOMEM;
	if (t->host[0] == '\0' || t->host[0] == '-') {
		snprintf(why, why_len, "bad host name");
		return -EINVAL;
	}
	if (*host_end == ':') {
		char num[8];
		unsigned long port;
		size_t len = (size_t)(slash - host_end - 1);

		if (len == 0 || len >= sizeof(num)) {
			snprintf(why, why_len, "bad port");
			return -EINVAL;
		}
		memcpy(num, host_end + 1, len);
		num[len] = '\0';
		if (parse_uint(num, 65535, &port) < 0 || port == 0) {
			snprintf(why, why_len, "bad port '%s'", num);
			return -EINVAL;
		}
		t->port = (unsigned)port;
	} else if (host_end != slash) {
		snprintf(why, why_len, "bad host name");
		return -EINVAL;
	}
	/* The remote side reads the path through a shell (ssh joins its arguments): plain characters only. */
	for (const char *c = slash; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("/._+-", *c)) {
			snprintf(why, why_len, "the path of an ssh:// URL may hold only [A-Za-z0-9/._+-]");
			return -EINVAL;
		}
	t->scheme = TARGET_SSH;
	t->root = strdup(slash);
	return t->root ? 0 : -ENOMEM;
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
		return ctx_fail(ctx, ctx->line,
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
			return ctx_fail(ctx, ctx->line, "retain: %s", e.msg);
	} else if (streq(key, "retain_min")) {
		return handle_duration(ctx, key, value, &policy->min_age);
	} else if (streq(key, "retain_pre_post")) {
		if (parse_uint(value, 100000, &v) < 0)
			return ctx_fail(ctx, ctx->line,
					"retain_pre_post = '%s': expected a number from 0 to 100000",
					value);
		policy->pre_post = (unsigned)v;
	} else if (streq(key, "retain_manual")) {
		if (streq(value, "all"))
			policy->manual = RETAIN_ALL;
		else if (parse_uint(value, 100000, &v) == 0)
			policy->manual = (int)v;
		else
			return ctx_fail(ctx, ctx->line,
					"retain_manual = '%s': expected 'all' or a number", value);
	}
	return 0;
}

static int handle_volume(struct parse_ctx *ctx, struct volume *v, int k, const char *value)
{
	const char *key = volume_keys[k];
	unsigned long n;
	int r = 0;

	switch ((enum volume_key)k) {
	case VKEY_BACKEND:
		if (streq(value, "btrfs"))
			v->backend = BACKEND_BTRFS;
		else if (streq(value, "lvm"))
			v->backend = BACKEND_LVM;
		else
			return ctx_fail(ctx, ctx->line, "backend = '%s': expected btrfs or lvm", value);
		break;
	case VKEY_PATH:
	case VKEY_SNAPSHOT_DIR:
		if (!path_valid(value))
			return ctx_fail(ctx, ctx->line, "%s = '%s': expected an absolute path without '..'",
					key, value);
		r = set_string(k == VKEY_PATH ? &v->path : &v->snapshot_dir, value);
		if (r == 0)
			path_normalize(k == VKEY_PATH ? v->path : v->snapshot_dir);
		break;
	case VKEY_PRE_HOOK:
	case VKEY_POST_HOOK: {
		char ***list = k == VKEY_PRE_HOOK ? &v->pre_hooks : &v->post_hooks;
		size_t *count = k == VKEY_PRE_HOOK ? &v->n_pre_hooks : &v->n_post_hooks;
		size_t before = *count;

		r = strv_split_append(list, count, value);
		for (size_t i = before; r == 0 && i < *count; i++)
			if (!path_valid((*list)[i]))
				return ctx_fail(ctx, ctx->line,
						"%s: '%s' is not an absolute path without '..'", key,
						(*list)[i]);
		break;
	}
	case VKEY_LV:
		if (!lv_spec_valid(value))
			return ctx_fail(ctx, ctx->line,
					"lv = '%s': expected VG/LV with names of [A-Za-z0-9+_.-]", value);
		r = set_string(&v->lv, value);
		break;
	case VKEY_SNAPSHOT_SIZE:
		if (!lvm_size_valid(value))
			return ctx_fail(ctx, ctx->line,
					"snapshot_size = '%s': expected an LVM size (10G) or N%%ORIGIN", value);
		r = set_string(&v->snapshot_size, value);
		break;
	case VKEY_RETAIN:
	case VKEY_RETAIN_MIN:
	case VKEY_RETAIN_PRE_POST:
	case VKEY_RETAIN_MANUAL:
		return handle_policy_key(ctx, &v->policy, key, value);
	case VKEY_TARGETS:
		r = strv_split_append(&v->targets, &v->n_targets, value);
		break;
	case VKEY_RPO:
		return handle_duration(ctx, key, value, &v->rpo);
	case VKEY_INTERVAL:
		return handle_duration(ctx, key, value, &v->interval);
	case VKEY_MAX_DELETE:
		if (parse_uint(value, 1000000, &n) < 0)
			return ctx_fail(ctx, ctx->line, "max_delete = '%s': expected a number", value);
		v->max_delete = (long)n;
		break;
	case VKEY_DELETE_BATCH:
		if (parse_uint(value, 10000, &n) < 0)
			return ctx_fail(ctx, ctx->line,
					"delete_batch = '%s': expected a number (0 turns pacing off)", value);
		v->delete_batch = (unsigned)n;
		break;
	case VKEY_MIN_FREE:
		if (parse_min_free(value, &v->min_free) < 0)
			return ctx_fail(ctx, ctx->line,
					"min_free = '%s': expected a percentage (10%%) or a size (20G)", value);
		break;
	case VKEY_THIN_POOL_MAX: {
		size_t len = strlen(value);
		_cleanup_free_ char *num = len > 1 && value[len - 1] == '%' ? strndup(value, len - 1) : NULL;

		if (!num || parse_uint(num, 100, &n) < 0 || n == 0)
			return ctx_fail(ctx, ctx->line,
					"thin_pool_max = '%s': expected a percentage of the pool (1%% to 100%%)",
					value);
		v->thin_pool_max = (unsigned)n;
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
	if (!path_valid(value))
		return ctx_fail(ctx, ctx->line, "%s = '%s': expected an absolute path without '..'",
				key, value);
	return set_string(streq(key, "state_dir") ? &c->state_dir : &c->lock_dir, value);
}

static int handle_group(struct parse_ctx *ctx, struct group *g, const char *key,
			const char *value)
{
	if (streq(key, "freeze")) {
		g->freeze_line = ctx->line;
		if (parse_bool(value, &g->freeze) < 0)
			return ctx_fail(ctx, ctx->line, "freeze = '%s': expected yes or no", value);
		return 0;
	}
	if (!ctx->continuation)
		g->volumes_line = ctx->line;
	return strv_split_append(&g->volumes, &g->n_volumes, value);
}

static int handle_target(struct parse_ctx *ctx, struct target *t, const char *key,
			 const char *value)
{
	char why[128];
	int r;

	if (streq(key, "url")) {
		r = parse_url(t, value, why, sizeof(why));
		if (r == -EINVAL)
			return ctx_fail(ctx, ctx->line, "url = '%s': %s", value, why);
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
	if (streq(key, "ssh_identity")) {
		if (!path_valid(value))
			return ctx_fail(ctx, ctx->line,
					"ssh_identity = '%s': expected an absolute path without '..'",
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

static int config_ini_handler(void *user, const char *section, const char *name, const char *value)
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
		ctx_fail(ctx, ctx->line, "'%s' is outside a section; start with [global] or [volume NAME]",
			 name);
		return 0;
	case SECTION_GLOBAL:
		keys = global_keys;
		nkeys = ARRAY_SIZE(global_keys);
		break;
	case SECTION_VOLUME:
		keys = volume_keys;
		nkeys = ARRAY_SIZE(volume_keys);
		break;
	case SECTION_GROUP:
		keys = group_keys;
		nkeys = ARRAY_SIZE(group_keys);
		break;
	case SECTION_TARGET:
		keys = target_keys;
		nkeys = ARRAY_SIZE(target_keys);
		break;
	default:
		return 0;
	}
	k = key_index(keys, nkeys, name);
	if (k < 0) {
		ctx_fail(ctx, ctx->line, "unknown key '%s'", name);
		return 0;
	}
	if (ctx->continuation) {
		if (!is_list_key(name)) {
			ctx_fail(ctx, ctx->line, "'%s' takes one value; keys start at column 1", name);
			return 0;
		}
	} else if (ctx->seen_line[k]) {
		ctx_fail(ctx, ctx->line, "duplicate key '%s' (first set on line %u)", name,
			 ctx->seen_line[k]);
		return 0;
	} else {
		ctx->seen_line[k] = ctx->line;
	}
	if (!*value) {
		ctx_fail(ctx, ctx->line, "'%s' has no value", name);
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
		rerr_set(ctx->e, r, "%s:%u: %s", ctx->path, ctx->line, strerror(-r));
		ctx->err = r;
	}
	return r < 0 ? 0 : 1;
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

/* A "[...]" line: start a section, or fail. */
static int start_section(struct parse_ctx *ctx, const char *line)
{
	struct config *c = ctx->cfg;
	char type[16], name[256], extra[2];	/* a line is shorter than name */
	const char *end = strrchr(line, ']');
	size_t len;
	char inner[CONFIG_LINE_MAX + 1];
	int n;

	if (!end || end[1] != '\0')
		return ctx_fail(ctx, ctx->line, "malformed section header");
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
			return ctx_fail(ctx, ctx->line, "duplicate section [global] (first on line %u)",
					ctx->global_line);
		ctx->global_line = ctx->line;
		ctx->section = SECTION_GLOBAL;
		ctx->cur = c;
		return 0;
	}
	if (n != 2 || (!streq(type, "volume") && !streq(type, "group") && !streq(type, "target")))
		return ctx_fail(ctx, ctx->line,
				"unknown section [%s]; expected [global], [volume NAME], [group NAME] or [target NAME]",
				inner);
	if (!volume_name_valid(name))
		return ctx_fail(ctx, ctx->line,
				"%s name '%s' must be 1-%d characters of [A-Za-z0-9_.-], not starting with '-'",
				type, name, VOLUME_NAME_MAX);
	if (streq(type, "target")) {
		struct target *t;

		if (config_target(c, name))
			return ctx_fail(ctx, ctx->line, "duplicate section [target %s]", name);
		t = grow(c->targets, c->n_targets, sizeof(*t));
		if (!t)
			return -ENOMEM;
		c->targets = t;
		t = &c->targets[c->n_targets++];
		t->name = strdup(name);
		t->line = ctx->line;
		t->policy = default_policy;
		t->policy.pre_post = 0;
		t->policy.manual = 0;
		t->policy.keep_target_base = false;
		ctx->section = SECTION_TARGET;
		ctx->cur = t;
		return t->name ? 0 : -ENOMEM;
	}
	if (name_taken(c, name))
		return ctx_fail(ctx, ctx->line, "duplicate section [%s %s]: '%s' names a %s already",
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
		v->policy = default_policy;
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
		ctx_fail(ctx, ctx->line, "line is longer than %d characters", CONFIG_LINE_MAX);
		return NULL;
	}
	memcpy(buf, ctx->text, len);
	buf[len] = '\0';
	ctx->text = nl ? nl + 1 : ctx->text + strlen(ctx->text);

	for (p = buf; *p == ' ' || *p == '\t'; p++)
		;
	ctx->continuation = p > buf && *p != '\0' && *p != '#' && *p != ';';
	if (ctx->continuation && !ctx->have_key) {
		ctx_fail(ctx, ctx->line, "keys start at column 1 (an indented line continues a value)");
		return NULL;
	}
	/* inih would drop "; text" silently and keep "# text": both are mistakes here. */
	if (*p != '#' && *p != ';')
		for (const char *c = p + 1; *c; c++)
			if ((*c == '#' || *c == ';') && (c[-1] == ' ' || c[-1] == '\t')) {
				ctx_fail(ctx, ctx->line,
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
			ctx_fail(ctx, ctx->line, "section headers start at column 1");
			return NULL;
		}
		r = start_section(ctx, line);
		if (r < 0) {
			if (!ctx->err) {
				rerr_set(ctx->e, r, "%s:%u: %s", ctx->path, ctx->line, strerror(-r));
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
	strv_free(v->pre_hooks, v->n_pre_hooks);
	strv_free(v->post_hooks, v->n_post_hooks);
	strv_free(v->targets, v->n_targets);
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
		strv_free(c->groups[i].volumes, c->groups[i].n_volumes);
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

static const char *backend_kind_name(enum backend_kind b)
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

static int config_validate(struct parse_ctx *ctx)
{
	struct config *c = ctx->cfg;

	for (size_t i = 0; i < c->n_volumes; i++) {
		struct volume *v = &c->volumes[i];
		static const enum volume_key btrfs_only[] = { VKEY_PATH, VKEY_SNAPSHOT_DIR };
		static const enum volume_key lvm_only[] = { VKEY_LV, VKEY_SNAPSHOT_SIZE,
							    VKEY_THIN_POOL_MAX };

		if (v->backend == _BACKEND_KIND_MAX)
			return ctx_fail(ctx, v->line, "volume '%s' has no 'backend' (btrfs or lvm)",
					v->name);
		for (size_t k = 0; k < ARRAY_SIZE(btrfs_only); k++)
			if (v->backend != BACKEND_BTRFS && v->key_line[btrfs_only[k]])
				return ctx_fail(ctx, v->key_line[btrfs_only[k]],
						"'%s' is for btrfs volumes; volume '%s' is %s",
						volume_keys[btrfs_only[k]], v->name,
						backend_kind_name(v->backend));
		for (size_t k = 0; k < ARRAY_SIZE(lvm_only); k++)
			if (v->backend != BACKEND_LVM && v->key_line[lvm_only[k]])
				return ctx_fail(ctx, v->key_line[lvm_only[k]],
						"'%s' is for lvm volumes; volume '%s' is %s",
						volume_keys[lvm_only[k]], v->name,
						backend_kind_name(v->backend));
		if (v->backend == BACKEND_BTRFS) {
			if (!v->path)
				return ctx_fail(ctx, v->line, "btrfs volume '%s' has no 'path'", v->name);
			if (!v->snapshot_dir &&
			    asprintf(&v->snapshot_dir, "%s%s.snapshots", v->path,
				     streq(v->path, "/") ? "" : "/") < 0)
				return -ENOMEM;
			if (streq(v->snapshot_dir, v->path))
				return ctx_fail(ctx, config_volume_line(v, VKEY_SNAPSHOT_DIR),
						"snapshot_dir must not be the volume's path itself");
		} else if (!v->lv) {
			return ctx_fail(ctx, v->line, "lvm volume '%s' has no 'lv' (VG/LV)", v->name);
		} else {
			/* Snapshot LVs are named VOLUME.STAMP: words LVM reserves would be refused. */
			static const char *const reserved[] = { "_cdata", "_cmeta", "_corig", "_mimage",
				"_mlog", "_pmspare", "_rimage", "_rmeta", "_tdata", "_tmeta", "_vorigin",
				"_vdata" };

			if (startswith(v->name, "snapshot") || startswith(v->name, "pvmove"))
				return ctx_fail(ctx, v->line,
						"lvm volume name '%s' starts with a word LVM reserves",
						v->name);
			for (size_t k = 0; k < ARRAY_SIZE(reserved); k++)
				if (strstr(v->name, reserved[k]))
					return ctx_fail(ctx, v->line,
							"lvm volume name '%s' holds '%s', which LVM reserves",
							v->name, reserved[k]);
		}
		for (size_t t = 0; t < v->n_targets; t++) {
			if (!config_target(c, v->targets[t]))
				return ctx_fail(ctx, v->key_line[VKEY_TARGETS],
						"targets: no [target %s] section", v->targets[t]);
			for (size_t u = 0; u < t; u++)
				if (streq(v->targets[u], v->targets[t]))
					return ctx_fail(ctx, v->key_line[VKEY_TARGETS],
							"targets: '%s' is named twice", v->targets[t]);
		}
	}
	for (size_t i = 0; i < c->n_volumes; i++)
		for (size_t j = 0; j < i; j++) {
			struct volume *a = &c->volumes[i], *b = &c->volumes[j];

			if (a->backend == BACKEND_BTRFS && b->backend == BACKEND_BTRFS &&
			    streq(a->snapshot_dir, b->snapshot_dir) && streq(a->path, b->path))
				return ctx_fail(ctx, a->line,
						"volume '%s' has the same path and snapshot_dir as '%s'",
						a->name, b->name);
			if (a->backend == BACKEND_LVM && b->backend == BACKEND_LVM &&
			    streq(a->lv, b->lv))
				return ctx_fail(ctx, config_volume_line(a, VKEY_LV),
						"lv '%s' is volume '%s' already", a->lv, b->name);
		}
	for (size_t i = 0; i < c->n_groups; i++) {
		struct group *g = &c->groups[i];

		if (g->n_volumes == 0)
			return ctx_fail(ctx, g->line, "group '%s' has no 'volumes'", g->name);
		if (g->n_volumes > GROUP_MAX)
			return ctx_fail(ctx, g->volumes_line, "volumes: more than %d in group '%s'",
					GROUP_MAX, g->name);
		for (size_t m = 0; m < g->n_volumes; m++) {
			struct volume *v = config_volume(c, g->volumes[m]);

			for (size_t k = 0; k < m; k++)
				if (streq(g->volumes[k], g->volumes[m]))
					return ctx_fail(ctx, g->volumes_line,
							"volumes: '%s' is named twice", g->volumes[m]);
			if (!v)
				return ctx_fail(ctx, g->volumes_line,
						"volumes: no [volume %s] section (group '%s')",
						g->volumes[m], g->name);
			if (v->group)
				return ctx_fail(ctx, g->volumes_line,
						"volumes: volume '%s' is in group '%s' already",
						v->name, v->group);
			if (g->freeze && v->backend == BACKEND_BTRFS)
				return ctx_fail(ctx, g->freeze_line,
						"group '%s': freeze = yes with btrfs volume '%s' (a btrfs snapshot of a frozen filesystem hangs in the kernel)",
						g->name, v->name);
			v->group = g->name;
		}
	}
	for (size_t i = 0; i < c->n_targets; i++)
		if (!c->targets[i].url)
			return ctx_fail(ctx, c->targets[i].line, "target '%s' has no 'url'",
					c->targets[i].name);
	return config_resolve(c);
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
		return rerr_set(e, EINVAL, "%s: not a text file (it holds a NUL byte)", path);
	if (startswith(text, "\xef\xbb\xbf"))
		ctx.text = text + 3;

	line = ini_parse_stream(config_ini_reader, &ctx, config_ini_handler, &ctx);
	free(ctx.retain_acc);
	/* inih reads on after a bad line: an earlier syntax error is the first error. */
	if (line > 0 && ctx.err && (unsigned)line < ctx.err_line) {
		rerr_clear(e);
		ctx.err = 0;
	}
	if (ctx.err)
		return ctx.err;
	if (line > 0)
		return ctx_fail(&ctx, (unsigned)line,
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
		return rerr_set(e, EINVAL, "%s: not a regular file", path);
	/* Whoever can write the config can make root run hooks: only root may. */
	if (check_owner && (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))))
		return rerr_set(e, EPERM,
				"%s: must be owned by root and not writable by group or others (owner %u, mode %04o)",
				path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	if (st.st_size > CONFIG_MAX_SIZE)
		return rerr_set(e, EFBIG, "%s: larger than %d bytes", path, CONFIG_MAX_SIZE);
	r = read_all_fd(fd, CONFIG_MAX_SIZE, &text, &len);
	if (r < 0)
		return rerr_set(e, r, "%s: cannot read", path);
	return config_parse_text(path, text, len, ret, e);
}

static void fmt_policy(FILE *f, const struct policy *p, bool full)
{
	fprintf(f, "retain =");
	for (int g = 0; g < _RETAIN_GRAN_MAX; g++)
		fprintf(f, " %s=%u", retain_gran_to_string((enum retain_gran)g), p->count[g]);
	fputc('\n', f);
	if (full) {
		char buf[32];

		fprintf(f, "retain_min = %s\n", duration_format(p->min_age, buf, sizeof(buf)));
		fprintf(f, "retain_pre_post = %u\n", p->pre_post);
		if (p->manual == RETAIN_ALL)
			fprintf(f, "retain_manual = all\n");
		else
			fprintf(f, "retain_manual = %d\n", p->manual);
	}
}

char *config_format(const struct config *c)
{
	char *out = NULL, buf[32];
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	fprintf(f, "[global]\n");
	fprintf(f, "hook_timeout = %s\n", duration_format(c->hook_timeout, buf, sizeof(buf)));
	fprintf(f, "freeze_timeout = %s\n", duration_format(c->freeze_timeout, buf, sizeof(buf)));
	fprintf(f, "pkg_dedupe = %s\n", duration_format(c->pkg_dedupe, buf, sizeof(buf)));
	fprintf(f, "state_dir = %s\n", c->state_dir);
	fprintf(f, "lock_dir = %s\n", c->lock_dir);
	for (size_t i = 0; i < c->n_volumes; i++) {
		const struct volume *v = &c->volumes[i];

		fprintf(f, "\n[volume %s]\n", v->name);
		fprintf(f, "backend = %s\n", backend_kind_name(v->backend));
		if (v->backend == BACKEND_BTRFS) {
			fprintf(f, "path = %s\n", v->path);
			fprintf(f, "snapshot_dir = %s\n", v->snapshot_dir);
		} else {
			fprintf(f, "lv = %s\n", v->lv);
			if (v->snapshot_size)
				fprintf(f, "snapshot_size = %s\n", v->snapshot_size);
			fprintf(f, "thin_pool_max = %u%%\n", v->thin_pool_max);
		}
		if (v->n_pre_hooks) {
			_cleanup_free_ char *h = strv_join(v->pre_hooks, v->n_pre_hooks);

			fprintf(f, "pre_hook = %s\n", h ?: "");
		}
		if (v->n_post_hooks) {
			_cleanup_free_ char *h = strv_join(v->post_hooks, v->n_post_hooks);

			fprintf(f, "post_hook = %s\n", h ?: "");
		}
		fmt_policy(f, &v->policy, true);
		if (v->n_targets) {
			_cleanup_free_ char *t = strv_join(v->targets, v->n_targets);

			fprintf(f, "targets = %s\n", t ?: "");
		}
		fprintf(f, "rpo = %s\n", duration_format(v->rpo, buf, sizeof(buf)));
		fprintf(f, "interval = %s\n", duration_format(v->interval, buf, sizeof(buf)));
		if (v->max_delete >= 0)
			fprintf(f, "max_delete = %ld\n", v->max_delete);
		fprintf(f, "delete_batch = %u\n", v->delete_batch);
		if (v->min_free.unit == MIN_FREE_PERCENT)
			fprintf(f, "min_free = %" PRIu64 "%%\n", v->min_free.value);
		else if (v->min_free.unit == MIN_FREE_BYTES)
			fprintf(f, "min_free = %" PRIu64 "\n", v->min_free.value);
	}
	for (size_t i = 0; i < c->n_groups; i++) {
		const struct group *g = &c->groups[i];
		_cleanup_free_ char *m = strv_join(g->volumes, g->n_volumes);

		fprintf(f, "\n[group %s]\n", g->name);
		fprintf(f, "volumes = %s\n", m ?: "");
		fprintf(f, "freeze = %s\n", g->freeze ? "yes" : "no");
	}
	for (size_t i = 0; i < c->n_targets; i++) {
		const struct target *t = &c->targets[i];

		fprintf(f, "\n[target %s]\n", t->name);
		fprintf(f, "url = %s\n", t->url);
		fmt_policy(f, &t->policy, false);
		fprintf(f, "rpo = %s\n", duration_format(t->rpo, buf, sizeof(buf)));
		if (t->ssh_identity)
			fprintf(f, "ssh_identity = %s\n", t->ssh_identity);
		if (t->ssh_options)
			fprintf(f, "ssh_options = %s\n", t->ssh_options);
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}
