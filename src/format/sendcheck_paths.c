/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The symlinks a btrfs send stream made, by path (src/format/sendcheck_internal.h):
 * a hash map with a count, per path, of the symlinks below it, so that a
 * rename of a directory moves only what it holds.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "format/sendcheck.h"

#include "sendcheck_internal.h"



static uint64_t sc_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static struct sc_entry *sc_map_find(const struct sc_map *m, const char *s, size_t len)
{
	uint64_t h;

	if (!m->cap)
		return NULL;
	h = sc_hash(s, len);
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct sc_entry *x = &m->slots[i];

		if (!x->path)
			return NULL;
		if (x->hash == h && x->len == len && memcmp(x->path, s, len) == 0)
			return x;
	}
}

static int sc_map_grow(struct sc_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct sc_entry *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		struct sc_entry *x = &m->slots[i];
		size_t j;

		if (!x->path)
			continue;
		for (j = x->hash & (cap - 1); slots[j].path; j = (j + 1) & (cap - 1))
			;
		slots[j] = *x;
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

/* The entry for @s, made if missing. Return: it, or NULL (ENOMEM). */
static struct sc_entry *sc_map_get(struct sc_map *m, const char *s, size_t len)
{
	struct sc_entry *x = sc_map_find(m, s, len);
	uint64_t h;
	size_t i;

	if (x)
		return x;
	if ((m->n + 1) * 2 > m->cap && sc_map_grow(m) < 0)
		return NULL;
	h = sc_hash(s, len);
	for (i = h & (m->cap - 1); m->slots[i].path; i = (i + 1) & (m->cap - 1))
		;
	x = &m->slots[i];
	x->path = strndup(s, len);
	if (!x->path)
		return NULL;
	x->len = len;
	x->hash = h;
	x->symlink = false;
	x->below = 0;
	m->n++;
	return x;
}

/* Drops @x when it no longer says anything. */
static void sc_map_tidy(struct sc_map *m, struct sc_entry *x)
{
	size_t i = (size_t)(x - m->slots), j = i;

	if (x->symlink || x->below)
		return;
	free(x->path);
	m->n--;
	for (;;) {
		size_t home;

		j = (j + 1) & (m->cap - 1);
		if (!m->slots[j].path)
			break;
		home = m->slots[j].hash & (m->cap - 1);
		/* An entry whose home lies cyclically in (i, j] stays where it is. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		m->slots[i] = m->slots[j];
		i = j;
	}
	m->slots[i] = (struct sc_entry){ 0 };
}

void sc_map_clear(struct sc_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].path);
	free(m->slots);
	*m = (struct sc_map){ 0 };
}

/* Adds @delta to the count of every directory above @path. Return: 0 or -ENOMEM. */
static int sc_links_below(struct sc_map *m, const char *path, size_t len, int delta)
{
	for (size_t i = 0; i < len; i++) {
		struct sc_entry *x;

		if (path[i] != '/')
			continue;
		x = delta > 0 ? sc_map_get(m, path, i) : sc_map_find(m, path, i);
		if (!x) {
			if (delta > 0)
				return -ENOMEM;
			continue;
		}
		x->below += (uint32_t)delta;
		if (delta < 0)
			sc_map_tidy(m, x);
	}
	return 0;
}

int sc_link_add(struct sc_map *m, const char *path, size_t len)
{
	struct sc_entry *x = sc_map_get(m, path, len);

	if (!x)
		return -ENOMEM;
	if (x->symlink)
		return 0;
	x->symlink = true;
	return sc_links_below(m, path, len, +1);
}

void sc_link_remove(struct sc_map *m, const char *path, size_t len)
{
	struct sc_entry *x = sc_map_find(m, path, len);

	if (!x || !x->symlink)
		return;
	x->symlink = false;
	sc_map_tidy(m, x);
	(void) sc_links_below(m, path, len, -1);
}

bool sc_is_link(const struct sc_map *m, const char *path, size_t len)
{
	const struct sc_entry *x = sc_map_find(m, path, len);

	return x && x->symlink;
}

/* Whether a directory above @path is a symlink the stream made. */
bool sc_through_link(const struct sc_map *m, const char *path, size_t len)
{
	if (!m->n)
		return false;
	for (size_t i = 0; i < len; i++)
		if (path[i] == '/' && sc_is_link(m, path, i))
			return true;
	return false;
}

/* RENAME @from @to: the symlinks at and under @from move with it. */
int sc_links_rename(struct sc_map *m, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	const struct sc_entry *f;
	char **moved = NULL;
	int r = 0;

	/* A rename replaces what @to was (a directory only if empty). */
	sc_link_remove(m, to, tl);
	if (sc_is_link(m, from, fl)) {
		sc_link_remove(m, from, fl);
		r = sc_link_add(m, to, tl);
	}
	f = sc_map_find(m, from, fl);
	if (r < 0 || !f || !f->below)
		return r;
	/* Rare: a directory holding symlinks of the stream moved. Collect, then move each. */
	moved = calloc(m->n, sizeof(*moved));
	if (!moved)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap && r == 0; i++) {
		const struct sc_entry *x = &m->slots[i];

		if (x->path && x->symlink && x->len > fl && x->path[fl] == '/' &&
		    memcmp(x->path, from, fl) == 0 && asprintf(&moved[n++], "%s%s", to,
								 x->path + fl) < 0) {
			moved[--n] = NULL;
			r = -ENOMEM;
		}
	}
	for (size_t i = 0; i < n; i++) {
		size_t rest = strlen(moved[i]) - tl;

		/* The old name is @from followed by the same rest. */
		if (r == 0) {
			char *old = NULL;

			if (asprintf(&old, "%s%s", from, moved[i] + tl) < 0) {
				r = -ENOMEM;
			} else {
				sc_link_remove(m, old, fl + rest);
				r = sc_link_add(m, moved[i], tl + rest);
			}
			free(old);
		}
		free(moved[i]);
	}
	free(moved);
	return r;
}

bool sendcheck_path_valid(const char *path, size_t len)
{
	size_t start = 0;

	if (len == 0)
		return true;	/* the subvolume's own root */
	if (len >= PATH_MAX || memchr(path, '\0', len))
		return false;
	for (size_t i = 0; i <= len; i++) {
		size_t n;

		if (i < len && path[i] != '/')
			continue;
		n = i - start;
		if (n == 0 || (n == 1 && path[start] == '.') ||
		    (n == 2 && path[start] == '.' && path[start + 1] == '.'))
			return false;
		start = i + 1;
	}
	return true;
}
