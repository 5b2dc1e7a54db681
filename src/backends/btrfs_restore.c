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

int btrfs_restore_stage(const struct volume *v, const char *to, char *root, size_t len,
			bool make, struct rerr *e)
{
	char dir[PATH_MAX];
	const char *base;
	struct statfs sf;
	struct stat st;

	(void) v;
	if (restore_split(to, dir, sizeof(dir), &base) < 0)
		return rerr_usage(e, EINVAL, "--to '%s': expected the absolute path of a new subvolume",
				  to);
	if (lstat(to, &st) == 0)
		return rerr_usage(e, EEXIST, "--to '%s' exists already: restore makes it", to);
	if (statfs(dir, &sf) < 0)
		return rerr_usage(e, errno, "--to '%s': its directory '%s' %s", to, dir,
				  errno == ENOENT ? "does not exist" : "cannot be read");
	if (sf.f_type != BTRFS_SUPER_MAGIC)
		return rerr_usage(e, ENOTTY, "--to '%s': '%s' is not on btrfs", to, dir);
	if ((size_t)snprintf(root, len, "%s%s" RESTORE_STORE, dir, streq(dir, "/") ? "" : "/") >= len)
		return rerr_usage(e, ENAMETOOLONG, "--to '%s': too long", to);
	if (make && mkdir(root, 0700) < 0 && errno != EEXIST)
		return rerr_set(e, errno, "cannot create '%s'", root);
	return 0;
}

/* The copy the store holds (NAME/snapshot, NAME/info.json, NAME), then the store itself. */
static void restore_unstage(const struct volume *v, const char *root, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s/%s/" SNAPSHOT_SUBVOL, root, v->name, name);
	(void) btrfs_util_delete_subvolume(path, 0);
	snprintf(path, sizeof(path), "%s/%s/%s/%s", root, v->name, name, META_FILE);
	(void) unlink(path);
	snprintf(path, sizeof(path), "%s/%s/%s", root, v->name, name);
	(void) rmdir(path);
	snprintf(path, sizeof(path), "%s/%s/.lock", root, v->name);
	(void) unlink(path);
	snprintf(path, sizeof(path), "%s/%s", root, v->name);
	(void) btrfs_util_delete_subvolume(path, 0);
	(void) rmdir(root);
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
	char dir[PATH_MAX], src[PATH_MAX], tmp[PATH_MAX], info[PATH_MAX];
	_cleanup_free_ char *text = meta_format_info(c, v->name);
	_cleanup_close_ int dfd = -1, sfd = -1;
	enum btrfs_util_error be;
	const char *base, *hidden;
	struct stat st;
	int r = 0;

	if (!text)
		return rerr_set(e, ENOMEM, "out of memory");
	if (restore_split(to, dir, sizeof(dir), &base) < 0)
		return rerr_usage(e, EINVAL, "--to '%s': not an absolute path", to);
	if ((size_t)snprintf(src, sizeof(src), "%s/%s/%s/" SNAPSHOT_SUBVOL, root, v->name,
			     c->name) >= sizeof(src) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.restoring", dir, base) >= sizeof(tmp) ||
	    (size_t)snprintf(info, sizeof(info), "%s.%s", base, META_FILE) >= sizeof(info))
		return rerr_usage(e, ENAMETOOLONG, "--to '%s': too long", to);
	hidden = strrchr(tmp, '/') + 1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return rerr_set(e, errno, "cannot open '%s'", dir);
	/* What an interrupted restore left under the hidden name goes first. */
	(void) btrfs_util_delete_subvolume(tmp, 0);
	{
		char stale[NAME_MAX + 8];

		/* write_file_atomic_at()'s temporary, if a kill cut the writing of the last one. */
		if ((size_t)snprintf(stale, sizeof(stale), ".%s.tmp", info) < sizeof(stale))
			(void) unlinkat(dfd, stale, 0);
	}
	sfd = open(src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return rerr_set(e, errno, "cannot open '%s'", src);
	if (fstat(sfd, &st) < 0 || st.st_ino != BTRFS_SUBVOL_INO)
		return rerr_set(e, ENOTDIR, "'%s' is not a subvolume", src);
	/* btrfs moves a read-only subvolume to another directory only once it is writable. */
	be = btrfs_util_set_subvolume_read_only_fd(sfd, false);
	if (be != BTRFS_UTIL_OK)
		return rerr_set(e, errno ?: EIO, "cannot make '%s' writable (%s)", src,
				btrfs_util_strerror(be));
	FAULT("restore.writable");
	if (renameat(AT_FDCWD, src, dfd, hidden) < 0) {
		r = rerr_set(e, errno, "cannot move '%s' to '%s'", src, tmp);
		(void) btrfs_util_set_subvolume_read_only_fd(sfd, true);
		return r;
	}
	FAULT("restore.moved");
	/* The store's rest goes now: a kill from here on leaves only the hidden name. */
	restore_unstage(v, root, c->name);
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
		(void) btrfs_util_delete_subvolume(tmp, 0);
		return r;
	}
	FAULT("restore.done");
	return 0;
}
