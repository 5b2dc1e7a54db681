/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Private to src/backends/btrfs*.c: what the btrfs files share. */
#ifndef SNAPROTATE_BTRFS_INTERNAL_H
#define SNAPROTATE_BTRFS_INTERNAL_H

#include <stdint.h>

#include "backends/backend.h"
#include "base/util.h"

/* A snapshot's subvolume inside its NAME directory (SPEC 5). */
#define SNAPSHOT_SUBVOL		"snapshot"
/* The root directory of every btrfs subvolume has this inode number. */
#define BTRFS_SUBVOL_INO	256

/* Whether @name in @dirfd is a subvolume; a directory (not following a symlink). */
bool btrfs_is_subvol_at(int dirfd, const char *name);
bool btrfs_is_dir_at(int dirfd, const char *name);

/*
 * Opens @v's snapshot_dir (made first, with @create). Return: its fd;
 * -ENOENT when it does not exist and !@create; -errno with @e.
 */
int btrfs_open_dir(const struct volume *v, bool create, struct rerr *e);

/* backend_btrfs.list (btrfs_list.c). */
/* One send: BTRFS_IOC_SEND of @snap_fd into a pipe, whole or against @parent_id. */
struct btrfs_send {
	int snap_fd;
	uint64_t parent_id;	/* 0: whole stream */
};

/* A stream_source producer: runs the send of @priv (a struct btrfs_send) into @pipe_w. */
int btrfs_send_produce(void *priv, int pipe_w);

int btrfs_restore_stage(const struct volume *v, const char *to, char *root, size_t len,
			bool make, struct rerr *e);
int btrfs_restore_place(const struct volume *v, const char *root, const struct snapshot *c,
			const char *to, struct rerr *e);

int btrfs_be_rollback(const struct volume *v, const struct snapshot *s,
		      enum rollback_result *ret, struct rerr *e);
void btrfs_be_rollback_words(const struct volume *v, const struct snapshot *s,
			     const enum rollback_result *result, char *buf, size_t len);
int btrfs_rollback_recover(const struct volume *v, char *note, size_t len, struct rerr *e);

int btrfs_rescue_config(const char *fs, char **ret_text, char **ret_notes, struct rerr *e);

/* One child subvolume of a ROOT_REF walk; nonzero stops the walk with that value. */
typedef int (*btrfs_root_ref_fn)(void *user, uint64_t child, uint64_t dirid, const char *name,
				 size_t len);

/*
 * The child subvolumes of subvolume @parent (ROOT_REF items of the root tree,
 * one search; needs CAP_SYS_ADMIN), each handed to @fn.
 * Return: 0, what @fn returned, or -errno.
 */
int btrfs_root_refs(int fd, uint64_t parent, btrfs_root_ref_fn fn, void *user);

int btrfs_be_list(const struct volume *v, struct snapshot_list *ret, struct rerr *e);
/* The same for the directory open as @fd (taken, closed on return), as @v's snapshot_dir. */
int btrfs_list_at(const struct volume *v, int fd, struct snapshot_list *ret, struct rerr *e);
int btrfs_be_get(const struct volume *v, const char *name, struct snapshot *ret, struct rerr *e);

/* backend_btrfs.stream_open and .stream_close (btrfs_send.c). */
int btrfs_stream_open(const struct volume *v, const struct snapshot *s,
		      const struct snapshot *parent, struct stream_source *ret, struct rerr *e);
void btrfs_stream_close(const struct volume *v, struct stream_source *src);

/**
 * btrfs_received_owner() - The subvolume `btrfs receive` takes as the parent or
 * clone source announced with @uuid: the first one the filesystem's uuid tree
 * lists with that received uuid.
 * @fd: Any file on the filesystem.
 * @ret_id: Its subvolume id.
 * Return: 0, -ENOENT when no subvolume has that received uuid, or -errno.
 */
int btrfs_received_owner(int fd, const uint8_t uuid[UUID_SIZE], uint64_t *ret_id);

#endif
