/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A package transaction as a package manager's hook describes it (SPEC 8):
 * which packages change and how, read from what apt, pacman and dnf hand
 * their hooks, and the short description a pre/post pair carries
 * ("apt: upgrade linux-image-amd64, systemd +12 more"). Pure: no I/O.
 */
#ifndef SNAPROTATE_PKG_H
#define SNAPROTATE_PKG_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* The changes a transaction keeps by name; beyond, only counted. */
#define PKG_CHANGES_MAX		64
#define PKG_NAME_MAX		255

enum pkg_tool {
	PKG_APT,
	PKG_PACMAN,
	PKG_DNF,
	_PKG_TOOL_MAX,
	_PKG_TOOL_INVALID = -1,
};

/* In the order a description lists them. */
enum pkg_action {
	PKG_INSTALL,
	PKG_UPGRADE,
	PKG_DOWNGRADE,
	PKG_REINSTALL,
	PKG_REMOVE,
	PKG_CHANGE,		/* the hook was not told how (pacman without --operation) */
	_PKG_ACTION_MAX,
	_PKG_ACTION_INVALID = -1,
};

struct pkg_change {
	enum pkg_action action;
	char *name;
};

struct pkg_txn {
	struct pkg_change *items;	/* each name once, the first PKG_CHANGES_MAX */
	size_t n;
	size_t total;			/* every distinct change seen, kept or not */
	char *root;			/* the manager's root (apt RootDir), NULL: "/" */
};

/**
 * pkg_tool_from_string() - "apt", "pacman" or "dnf".
 * @s: The name.
 * Return: the tool, or _PKG_TOOL_INVALID.
 */
enum pkg_tool pkg_tool_from_string(const char *s);

/**
 * pkg_tool_to_string() - The name of @t.
 * @t: The tool.
 * Return: a static string, or NULL when out of range.
 */
const char *pkg_tool_to_string(enum pkg_tool t);

/**
 * pkg_action_from_string() - "install", "upgrade", "downgrade", "reinstall",
 * "remove" or "change".
 * @s: The name.
 * Return: the action, or _PKG_ACTION_INVALID.
 */
enum pkg_action pkg_action_from_string(const char *s);

/**
 * pkg_action_to_string() - The name of @a.
 * @a: The action.
 * Return: a static string, or NULL when out of range.
 */
const char *pkg_action_to_string(enum pkg_action a);

/**
 * pkg_txn_add() - Record that @name changes by @a; a name seen already keeps
 * its first action.
 * @t: The transaction.
 * @a: The action.
 * @name: The package (copied).
 * Return: 0, or -ENOMEM.
 */
int pkg_txn_add(struct pkg_txn *t, enum pkg_action a, const char *name);

/**
 * pkg_txn_merge() - Add every change of @from to @into (several package
 * operations that share one pre snapshot).
 * @into: The transaction that grows.
 * @from: The one added.
 * Return: 0, or -ENOMEM.
 */
int pkg_txn_merge(struct pkg_txn *into, const struct pkg_txn *from);

/**
 * pkg_txn_done() - Free what @t owns and zero it.
 * @t: The transaction.
 */
void pkg_txn_done(struct pkg_txn *t);

/**
 * pkg_parse() - Read what @tool's hook was given on stdin.
 *   apt: the Pre-Install-Pkgs protocol, VERSION 3: apt's configuration as
 *        "Key=value" lines (values %-encoded; RootDir is taken), a blank line,
 *        then one line a package: "NAME OLDVER OLDARCH OLDMA DIR NEWVER NEWARCH
 *        NEWMA ACTION" (DIR "<", ">" or "="; ACTION a .deb, **CONFIGURE** or
 *        **REMOVE**).
 *   pacman: NeedsTargets, one package name a line; each gets @fallback.
 *   dnf: "ACTION NAME" lines as the plugin writes them, ACTION dnf's own
 *        (Install, Upgrade, Downgrade, Reinstall, Removed, ...); the
 *        outgoing halves (Upgraded, Downgraded, Reinstalled, Obsoleted) are
 *        skipped.
 * Lines that are empty, or names with control characters or over
 * PKG_NAME_MAX bytes, are skipped.
 * @tool: The package manager.
 * @text: What it wrote (need not end in a newline).
 * @len: Its length.
 * @fallback: The action of a name that comes without one.
 * @ret: Filled on success (possibly with no change); pkg_txn_done() it.
 * @e: The error record, filled on failure.
 * Return: 0; -EPROTO with @e for apt input that is not VERSION 3; -ENOMEM.
 */
int pkg_parse(enum pkg_tool tool, const char *text, size_t len, enum pkg_action fallback,
	      struct pkg_txn *ret, struct rerr *e);

/**
 * pkg_describe() - "apt: upgrade linux-image-amd64, systemd +12 more": the
 * tool, then the first names grouped by action, the rest counted.
 * @tool: The package manager.
 * @t: The transaction.
 * @buf: Where the text goes; at least 64 bytes to say anything useful.
 * @len: Its size.
 * Return: @buf.
 */
const char *pkg_describe(enum pkg_tool tool, const struct pkg_txn *t, char *buf, size_t len);

#endif
