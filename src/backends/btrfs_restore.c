/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Restore of a btrfs copy (SPEC 2, disaster recovery) onto any btrfs: the
 * engine receives the target's copy into a store beside --to, exactly as serve
 * receives any copy (checked stream, confined receive, given its name only
 * once whole); here --to is checked, and then made of that copy itself: made
 * writable, moved out of the store under a hidden name, no longer marked as
 * received, made durable (syncfs), TO.info.json beside it, one rename.
 * A crash leaves the store's staging (removed by the next restore's session)
 * or the hidden name (removed by the next restore), never a TO that is not whole.
 * The store is root's alone (--to's directory and those above it writable by
 * root only, the store a directory of root's, 0700), and all in it is reached
 * by fd and name: nothing there is another's to plant or swap.
 *
 * Not a snapshot of the copy and then a delete of it: that delete has the kernel
 * drop every cached page of the copy's files on the spot (some 150 ms a GiB),
 * and the snapshot's own flush is no cheaper than the syncfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <btrfsutil.h>
#include <linux/btrfs.h>
#include <linux/magic.h>

#include "backends/backend.h"
#include "backends/store.h"
#include "base/fault.h"
#include "base/util.h"
#include "format/meta.h"

#include "btrfs_internal.h"

#define RESTORE_STORE	".snaprotate-restore"

/* TO split into its directory and its last component. */
static int restore_split(const char *to, char *dir, size_t len, const char **base)
{
	const char *slash = strrchr(to, '/');

	if (to[0] != '/' || !slash || !slash[1] || streq(slash + 1, ".") ||
	    streq(slash + 1, "..") || (size_t)(slash - to) + 2 > len)
		return -EINVAL;
	snprintf(dir, len, "%.*s", slash == to ? 1 : (int)(slash - to), to);
	*base = slash + 1;
	return 0;
}

/*
 * The store is made in @dir and its path is handed to the local serve, so
 * nobody but root may plant or swap anything on that path: @dir and every
 * directory above it root's and writable by nobody else (above @dir, sticky
 * will do, as /tmp is; in @dir itself anyone could plant the store first).
 */
static int restore_check_dirs(const char *to, const char *dir, struct rerr *e)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s", dir);
	for (bool parent = true;; parent = false) {
		struct stat st;
		char *slash;

		if (stat(p, &st) < 0)
			return rerr_set(e, errno, "--to '%s': cannot check '%s'", to, p);
		if (st.st_uid != 0 || ((st.st_mode & (S_IWGRP | S_IWOTH)) &&
				       (parent || !(st.st_mode & S_ISVTX))))
			return rerr_usage(e, EPERM, "--to '%s': directory '%s' must be owned by root "
					  "and not writable by group or others (owner %u, mode %04o)",
					  to, p, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		if (streq(p, "/"))
			return 0;
		slash = strrchr(p, '/');
		if (slash == p)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
}

/*
 * The directory of --to, resolved (@dir, PATH_MAX) and checked, and its last
 * component (@base). Return: 0 or -errno with @e.
 */
static int restore_dir(const char *to, char dir[static PATH_MAX], const char **base,
		       struct rerr *e)
{
	char given[PATH_MAX];

	if (restore_split(to, given, sizeof(given), base) < 0)
		return rerr_usage(e, EINVAL, "--to '%s': expected the absolute path of a new subvolume",
				  to);
	if (!realpath(given, dir))
		return rerr_usage(e, errno, "--to '%s': its directory '%s' %s", to, given,
				  errno == ENOENT ? "does not exist" : "cannot be read");
	return restore_check_dirs(to, dir, e);
}

/*
 * The store in @dfd, opened: a directory of root's that nobody else may enter
 * (what restore made), never a symlink or another's, which would make all it
 * holds another's to swap. Return: its fd; -ENOENT when missing; -errno with @e.
 */
static int restore_open_store(int dfd, const char *root, struct rerr *e)
{
	_cleanup_close_ int fd = openat(dfd, RESTORE_STORE,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0 && errno == ENOENT)
		return -ENOENT;
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
		return rerr_say(e, errno, "'%s' is in the way: not a directory (a symlink?); remove it",
				root);
	if (fd < 0)
		return rerr_set(e, errno, "cannot open '%s'", root);
	if (fstat(fd, &st) < 0)
		return rerr_set(e, errno, "cannot read '%s'", root);
	if (st.st_uid != 0 || (st.st_mode & 077))
		return rerr_say(e, EPERM, "'%s' is in the way: not restore's (owner %u, mode %04o, "
				"not root and 0700); remove it", root, (unsigned)st.st_uid,
				(unsigned)(st.st_mode & 07777));
	return TAKE_FD(fd);
}

int btrfs_restore_stage(const struct volume *v, const char *to, char *root, size_t len,
			bool make, struct rerr *e)
{
	_cleanup_close_ int dfd = -1, rfd = -1;
	char given[PATH_MAX], dir[PATH_MAX];
	const char *base;
	struct statfs sf;
	struct stat st;
	int r;

	(void) v;
	if (restore_split(to, given, sizeof(given), &base) < 0)
		return rerr_usage(e, EINVAL, "--to '%s': expected the absolute path of a new subvolume",
				  to);
	if (lstat(to, &st) == 0)
		return rerr_usage(e, EEXIST, "--to '%s' exists already: restore makes it", to);
	if (statfs(given, &sf) < 0)
		return rerr_usage(e, errno, "--to '%s': its directory '%s' %s", to, given,
				  errno == ENOENT ? "does not exist" : "cannot be read");
	if (sf.f_type != BTRFS_SUPER_MAGIC)
		return rerr_usage(e, ENOTTY, "--to '%s': '%s' is not on btrfs", to, given);
	r = restore_dir(to, dir, &base, e);
	if (r < 0)
		return r;
	if ((size_t)snprintf(root, len, "%s%s" RESTORE_STORE, dir, streq(dir, "/") ? "" : "/") >= len)
		return rerr_usage(e, ENAMETOOLONG, "--to '%s': too long", to);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return rerr_set(e, errno, "cannot open '%s'", dir);
	if (make && mkdirat(dfd, RESTORE_STORE, 0700) < 0 && errno != EEXIST)
		return rerr_set(e, errno, "cannot create '%s'", root);
	/* One found there (what an interrupted restore left) must be restore's own. */
	rfd = restore_open_store(dfd, root, e);
	if (rfd == -ENOENT && !make)
		return 0;
	if (rfd == -ENOENT)
		return rerr_set(e, ENOENT, "cannot open '%s'", root);
	return rfd < 0 ? rfd : 0;
}

/*
 * The copy the store holds (NAME/snapshot, NAME/info.json, NAME in @vfd), then
 * the store itself (@rfd in @dfd): each by its directory's fd and its name.
 */
static void restore_unstage(int dfd, int rfd, int vfd, int nfd, const char *vol,
			    const char *name)
{
	(void) btrfs_util_delete_subvolume_fd(nfd, SNAPSHOT_SUBVOL, 0);
	(void) unlinkat(nfd, META_FILE, 0);
	(void) unlinkat(vfd, name, AT_REMOVEDIR);
	(void) unlinkat(vfd, ".lock", 0);
	(void) btrfs_util_delete_subvolume_fd(rfd, vol, 0);
	(void) unlinkat(dfd, RESTORE_STORE, AT_REMOVEDIR);
}

/*
 * The copy's subvolume @sfd, moved out of the store already, made an ordinary
 * writable subvolume: no received uuid (what `btrfs property set -f ro false`
 * clears too), so nothing ever takes it for the unchanged copy it came from.
 */
static int restore_unreceive(int sfd)
{
	struct btrfs_ioctl_received_subvol_args args;

	memset(&args, 0, sizeof(args));
	return ioctl(sfd, BTRFS_IOC_SET_RECEIVED_SUBVOL, &args) < 0 ? -errno : 0;
}

int btrfs_restore_place(const struct volume *v, const char *root, const struct snapshot *c,
			const char *to, struct rerr *e)
{
	char dir[PATH_MAX], src[PATH_MAX], tmp[PATH_MAX], hidden[NAME_MAX + 1], info[NAME_MAX + 1];
	char staged[STORE_STAGING_MAX];
	_cleanup_free_ char *text = meta_format_info(c, v->name);
	_cleanup_close_ int dfd = -1, rfd = -1, vfd = -1, nfd = -1, sfd = -1;
	enum btrfs_util_error be;
	struct stat st, moved;
	const char *base;
	int r = 0;

	if (!text)
		return rerr_set(e, ENOMEM, "out of memory");
	r = restore_dir(to, dir, &base, e);
	if (r < 0)
		return r;
	if ((size_t)snprintf(src, sizeof(src), "%s/%s/%s/" SNAPSHOT_SUBVOL, root, v->name,
			     c->name) >= sizeof(src) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.restoring", dir, base) >= sizeof(tmp) ||
	    (size_t)snprintf(hidden, sizeof(hidden), ".%s.restoring", base) >= sizeof(hidden) ||
	    (size_t)snprintf(info, sizeof(info), "%s.%s", base, META_FILE) >= sizeof(info))
		return rerr_usage(e, ENAMETOOLONG, "--to '%s': too long", to);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return rerr_set(e, errno, "cannot open '%s'", dir);
	rfd = restore_open_store(dfd, root, e);
	if (rfd == -ENOENT)
		return rerr_set(e, ENOENT, "cannot open '%s'", root);
	if (rfd < 0)
		return rfd;
	vfd = open_beneath(rfd, v->name, O_RDONLY | O_DIRECTORY, 0);
	if (vfd < 0)
		return rerr_set(e, -vfd, "cannot open '%s/%s'", root, v->name);
	nfd = open_beneath(vfd, c->name, O_RDONLY | O_DIRECTORY, 0);
	if (nfd < 0)
		return rerr_set(e, -nfd, "cannot open '%s/%s/%s'", root, v->name, c->name);
	/* What an interrupted restore left under the hidden name goes first. */
	(void) btrfs_util_delete_subvolume_fd(dfd, hidden, 0);
	{
		char stale[NAME_MAX + 8];

		/* write_file_atomic_at()'s temporary, if a kill cut the writing of the last one. */
		if ((size_t)snprintf(stale, sizeof(stale), ".%s.tmp", info) < sizeof(stale))
			(void) unlinkat(dfd, stale, 0);
	}
	/*
	 * Out of the copies' names first: a kill from here on leaves a staged name,
	 * which the store's next session removes, never a copy that is not whole.
	 */
	snprintf(staged, sizeof(staged), STORE_DELETING "%s", c->name);
	if (renameat(vfd, c->name, vfd, staged) < 0)
		return rerr_set(e, errno, "cannot stage '%s/%s/%s'", root, v->name, c->name);
	sfd = open_beneath(nfd, SNAPSHOT_SUBVOL, O_RDONLY | O_DIRECTORY, 0);
	if (sfd < 0)
		return rerr_set(e, -sfd, "cannot open '%s'", src);
	if (fstat(sfd, &st) < 0 || st.st_ino != BTRFS_SUBVOL_INO)
		return rerr_set(e, ENOTDIR, "'%s' is not a subvolume", src);
	/* btrfs moves a read-only subvolume to another directory only once it is writable. */
	be = btrfs_util_set_subvolume_read_only_fd(sfd, false);
	if (be != BTRFS_UTIL_OK)
		return rerr_set(e, errno ?: EIO, "cannot make '%s' writable (%s)", src,
				btrfs_util_strerror(be));
	FAULT("restore.writable");
	if (renameat(nfd, SNAPSHOT_SUBVOL, dfd, hidden) < 0) {
		r = rerr_set(e, errno, "cannot move '%s' to '%s'", src, tmp);
		(void) btrfs_util_set_subvolume_read_only_fd(sfd, true);
		return r;
	}
	/* What moved is what was checked and made writable (each subvolume has its own st_dev). */
	if (fstatat(dfd, hidden, &moved, AT_SYMLINK_NOFOLLOW) < 0 || moved.st_dev != st.st_dev ||
	    moved.st_ino != st.st_ino) {
		r = rerr_set(e, EIO, "'%s' changed while it was moved to '%s'", src, tmp);
		(void) renameat(dfd, hidden, nfd, SNAPSHOT_SUBVOL);
		(void) btrfs_util_set_subvolume_read_only_fd(sfd, true);
		return r;
	}
	FAULT("restore.moved");
	/* The store's rest goes now: a kill from here on leaves only the hidden name. */
	restore_unstage(dfd, rfd, vfd, nfd, v->name, staged);
	FAULT("restore.unstaged");
	if ((r = restore_unreceive(sfd)) < 0)
		r = rerr_set(e, -r, "cannot clear the received uuid of '%s'", tmp);
	/* Its files' data, its move and its flags on disk before any name says it is whole. */
	else if (syncfs(dfd) < 0)
		r = rerr_set(e, errno, "cannot sync '%s'", dir);
	if (r == 0) {
		FAULT("restore.synced");
		if ((r = write_file_atomic_at(dfd, info, text, strlen(text), 0600)) < 0)
			r = rerr_set(e, -r, "cannot write '%s/%s'", dir, info);
	}
	if (r == 0 && renameat2(dfd, hidden, dfd, base, RENAME_NOREPLACE) < 0)
		r = rerr_set(e, errno, "cannot rename '%s' to '%s'", tmp, to);
	if (r == 0) {
		FAULT("restore.renamed");
		if (fsync(dfd) < 0)
			r = rerr_set(e, errno, "cannot sync '%s'", dir);
	}
	if (r < 0) {
		/* The next restore fetches the copy again, into a store made anew. */
		(void) btrfs_util_delete_subvolume_fd(dfd, hidden, 0);
		return r;
	}
	FAULT("restore.done");
	return 0;
}
