/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Private to src/backends/store*.c: what the stores share (store.c). */
#ifndef SNAPROTATE_STORE_INTERNAL_H
#define SNAPROTATE_STORE_INTERNAL_H

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>

#include "backends/store.h"

/* The file that marks a volume directory of block copies. */
#define STORE_BLOCK_MARK	".block"

/* A directory stream of its own for @fd (a dup() would share the offset). NULL with errno. */
DIR *store_opendir(int fd);

/* Whether @vfd is marked as a directory of block copies. */
bool store_block_marked(int vfd);

/* Whether @vfd holds anything but dot entries. */
bool store_dir_used(int vfd);

/* Removes a staging entry of @d, whatever it turned out to be (noted when it cannot). */
void store_remove_staged(const struct store_dir *d, const char *name);

/* Makes @staging (.incoming.NAME) afresh in @d and opens it. Return: its fd or -errno. */
int store_stage(const struct store_dir *d, const char *staging);

/**
 * store_commit() - The last step of a receive: @s's info.json into @nfd (the
 * staging directory @staging, with the btrfs-aware writer when @btrfs), then
 * the one rename that gives the copy its NAME. On failure @staging is removed.
 * Return: 0, or -errno with @e.
 */
int store_commit(const struct store_dir *d, int nfd, const char *staging, const char *name,
		 struct snapshot *s, bool btrfs, struct rerr *e);

#endif
