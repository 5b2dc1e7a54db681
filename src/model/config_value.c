/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The syntax of rotate.conf's values: numbers, sizes, paths, LVM names, lists, URLs, retain. */
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

int cfg_key_index(const char *const *keys, size_t n, const char *name)
{
	for (size_t i = 0; i < n && keys[i]; i++)
		if (streq(keys[i], name))
			return (int)i;
	return -1;
}

bool cfg_is_list_key(const char *name)
{
	return cfg_key_index(cfg_list_keys, SIZE_MAX, name) >= 0;
}

char **cfg_strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return NULL;
}

/* Splits @value on white space, appending to @v. Return: 0 or -ENOMEM. */
int cfg_strv_split_append(char ***v, size_t *n, const char *value)
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

char *cfg_strv_join(char *const *v, size_t n)
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

int cfg_parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
	uint64_t v = 0;
	int r = parse_u64(s, max, &v);

	*ret = r == 0 ? (unsigned long)v : 0;
	return r;
}

int cfg_parse_bool(const char *s, bool *ret)
{
	if (streq(s, "yes") || streq(s, "true") || streq(s, "1") || streq(s, "on"))
		*ret = true;
	else if (streq(s, "no") || streq(s, "false") || streq(s, "0") || streq(s, "off"))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

bool cfg_path_valid(const char *p)
{
	char norm[PATH_MAX];
	size_t n = strlen(p);
	const char *c;

	if (p[0] != '/' || n > CFG_PATH_MAX)
		return false;
	/* ".." would let a path leave where it seems to point. */
	for (c = p; (c = strstr(c, "/..")); c += 3)
		if (c[3] == '/' || c[3] == '\0')
			return false;
	for (c = p; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return false;
	/*
	 * A path that ends in a blank once normalised ("/x /.") could never be
	 * written back: the config format strips blanks at the end of a value.
	 */
	memcpy(norm, p, n + 1);
	cfg_path_normalize(norm);
	n = strlen(norm);
	return norm[n - 1] != ' ' && norm[n - 1] != '\t';
}

/*
 * One spelling per path: no repeated or trailing '/', no "." component. So
 * "/data/" and "/data/./" are "/data", and comparing paths compares places.
 */
void cfg_path_normalize(char *p)
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

bool cfg_lv_spec_valid(const char *s)
{
	const char *slash = strchr(s, '/');

	return slash && lvm_name_valid(s, (size_t)(slash - s)) &&
	       lvm_name_valid(slash + 1, strlen(slash + 1));
}

/* "20%ORIGIN", "%VG", "%FREE", "%PVS"; or a size: "10G", "512m", "1.5t". */
bool cfg_lvm_size_valid(const char *s)
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
	if (cfg_parse_uint(num, ULONG_MAX, &v) < 0)
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

int cfg_parse_min_free(const char *s, struct min_free *ret)
{
	size_t len = strlen(s);
	unsigned long v;
	char num[32];

	if (len > 1 && s[len - 1] == '%') {
		if (len - 1 >= sizeof(num))
			return -EINVAL;
		memcpy(num, s, len - 1);
		num[len - 1] = '\0';
		if (cfg_parse_uint(num, 100, &v) < 0 || v > 99)
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
		if (cfg_parse_uint(eq + 1, 100000, &v) < 0)
			return rerr_set(e, EINVAL, "'%s=%s': the count must be a number from 0 to 100000",
					word, eq + 1);
		seen[g] = true;
		count[g] = (unsigned)v;
	}
	memcpy(policy->count, count, sizeof(count));
	return 0;
}

/*
 * Parses ssh://[USER@]HOST[:PORT]/PATH or file:///PATH into @t: one pass over
 * the URL, each part checked where it is found, with its own message.
 */
int cfg_parse_url(struct target *t, const char *url, char *why, size_t why_len)
{
	const char *p, *slash, *at, *colon, *host_end;

	if (startswith(url, "file://")) {
		p = url + strlen("file://");
		if (!cfg_path_valid(p)) {
			snprintf(why, why_len, "a file:// URL needs an absolute path of at most 160 characters, without '..'");
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
	if (!slash || !cfg_path_valid(slash)) {
		snprintf(why, why_len, "an ssh:// URL needs an absolute path (at most 160 characters, without '..') after the host");
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
		if (cfg_parse_uint(num, 65535, &port) < 0 || port == 0) {
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
