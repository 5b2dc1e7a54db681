/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to src/format/sendcheck*.c: the set of paths a stream made
 * symlinks, kept up to date through renames and links (sendcheck_paths.c),
 * so that a later path through one is refused.
 */
#ifndef SNAPROTATE_SENDCHECK_INTERNAL_H
#define SNAPROTATE_SENDCHECK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A path known to the map: a symlink the stream made, or a directory above some. */
struct sc_entry {
	char *path;		/* NULL: a free slot */
	size_t len;
	uint64_t hash;
	bool symlink;
	uint32_t below;		/* symlinks tracked under this path */
};

/* Open addressing, linear probing, deletion by backward shift. */
struct sc_map {
	struct sc_entry *slots;
	size_t cap, n;		/* cap is a power of two */
};

/* Frees every entry; @m is empty and usable again. */
void sc_map_clear(struct sc_map *m);

/* Records @path as a symlink. Return: 0 or -ENOMEM. */
int sc_link_add(struct sc_map *m, const char *path, size_t len);

/* Forgets @path as a symlink (unlinked). */
void sc_link_remove(struct sc_map *m, const char *path, size_t len);

/* Whether @path itself is a recorded symlink. */
bool sc_is_link(const struct sc_map *m, const char *path, size_t len);

/* Whether a proper prefix of @path (a directory on the way) is a recorded symlink. */
bool sc_through_link(const struct sc_map *m, const char *path, size_t len);

/* Moves every recorded symlink at or under @from to @to. Return: 0 or -ENOMEM. */
int sc_links_rename(struct sc_map *m, const char *from, const char *to);

#endif
