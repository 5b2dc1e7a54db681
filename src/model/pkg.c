/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "model/pkg.h"

/* Names a description shows before "+N more", and the length it stops at. */
#define DESCRIBE_NAMES	3
#define DESCRIBE_CHARS	100

static const char *const tool_names[_PKG_TOOL_MAX] = {
	[PKG_APT] = "apt", [PKG_PACMAN] = "pacman", [PKG_DNF] = "dnf",
};

static const char *const action_names[_PKG_ACTION_MAX] = {
	[PKG_INSTALL] = "install", [PKG_UPGRADE] = "upgrade", [PKG_DOWNGRADE] = "downgrade",
	[PKG_REINSTALL] = "reinstall", [PKG_REMOVE] = "remove", [PKG_CHANGE] = "change",
};

enum pkg_tool pkg_tool_from_string(const char *s)
{
	for (int i = 0; i < _PKG_TOOL_MAX; i++)
		if (streq(s, tool_names[i]))
			return (enum pkg_tool)i;
	return _PKG_TOOL_INVALID;
}

const char *pkg_tool_to_string(enum pkg_tool t)
{
	return t >= 0 && t < _PKG_TOOL_MAX ? tool_names[t] : NULL;
}

enum pkg_action pkg_action_from_string(const char *s)
{
	for (int i = 0; i < _PKG_ACTION_MAX; i++)
		if (streq(s, action_names[i]))
			return (enum pkg_action)i;
	return _PKG_ACTION_INVALID;
}

const char *pkg_action_to_string(enum pkg_action a)
{
	return a >= 0 && a < _PKG_ACTION_MAX ? action_names[a] : NULL;
}

void pkg_txn_done(struct pkg_txn *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->items[i].name);
	free(t->items);
	free(t->root);
	*t = (struct pkg_txn){ 0 };
}

int pkg_txn_add(struct pkg_txn *t, enum pkg_action a, const char *name)
{
	struct pkg_change *grown;

	for (size_t i = 0; i < t->n; i++)
		if (streq(t->items[i].name, name))
			return 0;
	t->total++;
	if (t->n == PKG_CHANGES_MAX)
		return 0;
	grown = realloc(t->items, (t->n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	t->items = grown;
	t->items[t->n] = (struct pkg_change){ .action = a, .name = strdup(name) };
	if (!t->items[t->n].name)
		return -ENOMEM;
	t->n++;
	return 0;
}

int pkg_txn_merge(struct pkg_txn *into, const struct pkg_txn *from)
{
	for (size_t i = 0; i < from->n; i++)
		if (pkg_txn_add(into, from->items[i].action, from->items[i].name) < 0)
			return -ENOMEM;
	/* What @from only counted is new here too, as far as anyone can tell. */
	into->total += from->total - from->n;
	return 0;
}

/* A name as a package manager writes it: printable, no blanks, not too long. */
static bool pkg_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > PKG_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* Splits @line on blanks into at most @max words. Return: how many. */
static size_t pkg_words(char *line, char **w, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *tok = strtok_r(line, " \t", &save); tok && n < max;
	     tok = strtok_r(NULL, " \t", &save))
		w[n++] = tok;
	return n;
}

/* "%2F" and the like, in place. */
static void pkg_unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		unsigned v;

		if (s[0] == '%' && s[1] && s[2] && sscanf(s + 1, "%2x", &v) == 1) {
			*o++ = (char)v;
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* One package line of apt's VERSION 3 protocol. */
static int pkg_apt_line(struct pkg_txn *t, char *line)
{
	char *w[10];
	enum pkg_action a;

	if (pkg_words(line, w, 10) != 9 || !pkg_name_ok(w[0], strlen(w[0])))
		return 0;
	if (streq(w[8], "**CONFIGURE**"))
		return 0;	/* the second step of a package unpacked before */
	if (streq(w[8], "**REMOVE**"))
		a = PKG_REMOVE;
	else if (streq(w[4], "="))
		a = PKG_REINSTALL;
	else if (streq(w[4], ">"))
		a = streq(w[5], "-") ? PKG_REMOVE : PKG_DOWNGRADE;
	else
		a = streq(w[1], "-") ? PKG_INSTALL : PKG_UPGRADE;
	return pkg_txn_add(t, a, w[0]);
}

/* apt's configuration line "Key=value": only RootDir matters here. */
static int pkg_apt_config(struct pkg_txn *t, char *line)
{
	char *eq = strchr(line, '=');

	if (!eq || eq - line != 7 || strncmp(line, "RootDir", 7) != 0)
		return 0;
	pkg_unescape(eq + 1);
	if (!eq[1])
		return 0;
	free(t->root);
	t->root = strdup(eq + 1);
	return t->root ? 0 : -ENOMEM;
}

/* dnf's action names, as the plugin passes them; NULL: the outgoing half of a pair. */
static int pkg_dnf_action(const char *s, enum pkg_action *ret)
{
	static const struct { const char *dnf; int action; } map[] = {
		{ "Install", PKG_INSTALL }, { "Installed", PKG_INSTALL },
		{ "Upgrade", PKG_UPGRADE }, { "Downgrade", PKG_DOWNGRADE },
		{ "Reinstall", PKG_REINSTALL }, { "Removed", PKG_REMOVE }, { "Remove", PKG_REMOVE },
		{ "Erase", PKG_REMOVE }, { "Obsolete", PKG_INSTALL },
		{ "Upgraded", -1 }, { "Downgraded", -1 }, { "Reinstalled", -1 }, { "Obsoleted", -1 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (streq(s, map[i].dnf)) {
			if (map[i].action < 0)
				return 0;
			*ret = (enum pkg_action)map[i].action;
			return 1;
		}
	*ret = PKG_CHANGE;
	return 1;
}

static int pkg_line(enum pkg_tool tool, struct pkg_txn *t, char *line, bool *in_config,
		    enum pkg_action fallback)
{
	enum pkg_action a;
	char *w[3];

	switch (tool) {
	case PKG_APT:
		if (*in_config) {
			if (!*line)
				*in_config = false;
			return *in_config ? pkg_apt_config(t, line) : 0;
		}
		return pkg_apt_line(t, line);
	case PKG_PACMAN:
		if (pkg_words(line, w, 2) != 1 || !pkg_name_ok(w[0], strlen(w[0])))
			return 0;
		return pkg_txn_add(t, fallback, w[0]);
	case PKG_DNF:
		if (pkg_words(line, w, 3) != 2 || !pkg_name_ok(w[1], strlen(w[1])) ||
		    pkg_dnf_action(w[0], &a) == 0)
			return 0;
		return pkg_txn_add(t, a, w[1]);
	default:
		return 0;
	}
}

int pkg_parse(enum pkg_tool tool, const char *text, size_t len, enum pkg_action fallback,
	      struct pkg_txn *ret, struct rerr *e)
{
	_cleanup_free_ char *copy = strndup(text, len);
	struct pkg_txn t = { 0 };
	bool in_config = tool == PKG_APT;
	char *line, *next;
	int r = 0;

	if (!copy)
		return rerr_set(e, ENOMEM, "out of memory");
	line = copy;
	if (tool == PKG_APT) {
		next = strchr(line, '\n');
		if (next)
			*next = '\0';
		if (!streq(line, "VERSION 3"))
			return rerr_say(e, EPROTO, "apt's hook input does not start with 'VERSION 3' "
					"(DPkg::Tools::Options::/usr/sbin/snaprotate::Version \"3\" "
					"is missing from the apt configuration)");
		line = next ? next + 1 : copy + len;
	}
	for (; r == 0 && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else
			next = line + strlen(line);
		r = pkg_line(tool, &t, line, &in_config, fallback);
	}
	if (r < 0) {
		pkg_txn_done(&t);
		return rerr_set(e, ENOMEM, "out of memory");
	}
	*ret = t;
	return 0;
}

const char *pkg_describe(enum pkg_tool tool, const struct pkg_txn *t, char *buf, size_t len)
{
	size_t off = 0, shown = 0;
	int last = -1;

	off = (size_t)snprintf(buf, len, "%s:", pkg_tool_to_string(tool) ?: "?");
	for (int a = 0; a < _PKG_ACTION_MAX && shown < DESCRIBE_NAMES; a++)
		for (size_t i = 0; i < t->n && shown < DESCRIBE_NAMES; i++) {
			const struct pkg_change *c = &t->items[i];
			size_t need = strlen(c->name) + (last == a ? 2 : 12);

			if (c->action != (enum pkg_action)a)
				continue;
			if (shown && off + need > DESCRIBE_CHARS)
				goto done;
			if (off < len)
				off += (size_t)snprintf(buf + off, len - off, "%s%s%s %s",
							shown ? "," : "", last == a ? "" : " ",
							last == a ? "" : action_names[a], c->name);
			last = a;
			shown++;
		}
done:
	if (t->total == 0 && off < len)
		snprintf(buf + off, len - off, " no package named");
	else if (t->total > shown && off < len)
		snprintf(buf + off, len - off, " +%zu more", t->total - shown);
	return buf;
}
