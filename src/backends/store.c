/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What every store does the same way: staging, committing, retiring, repairing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <btrfsutil.h>

#include "backends/store.h"
#include "base/fault.h"
#include "base/util.h"
#include "format/meta.h"

#include "btrfs_internal.h"
#include "store_internal.h"

/* How deep a store goes when it removes what it staged. */
#define STORE_TREE_DEPTH	64

const struct store *store_of(const struct store_dir *d)
{
	if (store_block.holds(d))
		return &store_block;
	return store_btrfs.holds(d) ? &store_btrfs : NULL;
}

const struct store *store_for(const struct store_dir *d, const struct snapshot *s)
{
	/* A block copy says what it is; a btrfs one does not. */
	return s->image || store_block.holds(d) ? &store_block : &store_btrfs;
}

DIR *store_opendir(int fd)
{
	int d = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *x = d >= 0 ? fdopendir(d) : NULL;

	if (!x && d >= 0)
		close(d);
	return x;
}

bool store_block_marked(int vfd)
{
	struct stat st;

	return fstatat(vfd, STORE_BLOCK_MARK, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

bool store_dir_used(int vfd)
{
	DIR *d = store_opendir(vfd);
	struct dirent *de;
	bool used = false;

	if (!d)
		return true;
	while (!used && (de = readdir(d)))
		used = de->d_name[0] != '.';
	closedir(d);
	return used;
}

/*
 * Deletes subvolume @name in @dfd, never recursively: libbtrfsutil's recursive
 * delete opens @name following a symlink (one swapped in since the caller's
 * fstatat) and deletes what is nested in whatever it leads to. The ioctl looks
 * @name up itself, following nothing. Return: 0; -ENOTEMPTY when subvolumes
 * are nested in it; -ENOTTY when it is no subvolume; -errno.
 */
static int store_delete_subvol(int dfd, const char *name)
{
	enum btrfs_util_error be = btrfs_util_delete_subvolume_fd(dfd, name, 0);

	if (be == BTRFS_UTIL_OK)
		return 0;
	/* Not btrfs (ENOTTY), or not a subvolume (EINVAL, ENOTDIR): a plain directory. */
	if (errno == ENOTTY || errno == EINVAL || errno == ENOTDIR)
		return -ENOTTY;
	return -(errno ?: EIO);
}

/*
 * Removes @name in @dfd and all it holds, subvolumes too, never leaving @dfd's
 * mount. With @nested (inside a subvolume being deleted) only the subvolumes
 * nested in it go: the rest goes with it.
 */
static int store_remove_tree(int dfd, const char *name, bool nested, int depth)
{
	_cleanup_close_ int fd = -1;
	struct dirent *de;
	struct stat st;
	bool subvol;
	DIR *d;
	int r = 0;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode) && nested)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) < 0 ? -errno : 0;
	subvol = st.st_ino == BTRFS_SUBVOL_INO;
	if (subvol) {
		r = store_delete_subvol(dfd, name);
		if (r != -ENOTEMPTY && r != -ENOTTY)
			return r;
		subvol = r == -ENOTEMPTY;
		r = 0;
	}
	if (depth >= STORE_TREE_DEPTH)
		return -ELOOP;
	fd = open_beneath(dfd, name, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (!d)
		return -errno;
	(void) TAKE_FD(fd);	/* closedir() closes it now */
	while ((de = readdir(d))) {
		int k;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		k = store_remove_tree(dirfd(d), de->d_name, nested || subvol, depth + 1);
		if (k < 0 && r == 0)
			r = k;
	}
	closedir(d);
	if (r < 0)
		return r;
	/* Its nested subvolumes gone, the subvolume itself (the kernel looks it up again). */
	if (subvol)
		return store_delete_subvol(dfd, name);
	if (nested)
		return 0;
	return unlinkat(dfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

void store_remove_staged(const struct store_dir *d, const char *name)
{
	int r = store_remove_tree(d->vfd, name, false, 0);

	if (r < 0)
		d->note(d->volume, "cannot remove '%s': %s", name, strerror(-r));
}

bool store_is_staged(const char *name)
{
	return startswith(name, STORE_INCOMING) || startswith(name, STORE_DELETING);
}

void store_repair(const struct store_dir *d)
{
	struct dirent *de;
	DIR *x = store_opendir(d->vfd);

	if (!x)
		return;
	while ((de = readdir(x)))
		if (store_is_staged(de->d_name)) {
			d->note(d->volume, "removing '%s', left by an interrupted transfer",
				de->d_name);
			store_remove_staged(d, de->d_name);
		}
	closedir(x);
}

int store_retire(const struct store_dir *d, const char *name)
{
	char staged[STORE_STAGING_MAX];

	snprintf(staged, sizeof(staged), STORE_DELETING "%s", name);
	store_remove_staged(d, staged);
	FAULT("retire.begin");
	if (renameat(d->vfd, name, d->vfd, staged) < 0)
		return -errno;
	if (fsync(d->vfd) < 0)
		return -errno;
	FAULT("retire.staged");
	store_remove_staged(d, staged);
	FAULT("retire.done");
	return 0;
}

int store_make_volume(int root_fd, const char *volume, bool btrfs)
{
	if (btrfs) {
		enum btrfs_util_error be = btrfs_util_create_subvolume_fd(root_fd, volume, 0, NULL,
									  NULL);
		_cleanup_close_ int fd = -1;

		if (be == BTRFS_UTIL_OK) {
			fd = open_beneath(root_fd, volume, O_RDONLY | O_DIRECTORY, 0);
			if (fd < 0 || fchmod(fd, 0700) < 0)
				return fd < 0 ? fd : -errno;
			return fsync(root_fd) < 0 ? -errno : 0;
		}
		return errno == EEXIST ? 0 : -(errno ?: EIO);
	}
	if (mkdirat(root_fd, volume, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int store_stage(const struct store_dir *d, const char *staging)
{
	store_remove_staged(d, staging);
	if (mkdirat(d->vfd, staging, 0700) < 0)
		return -errno;
	FAULT("receive.staged");
	return open_beneath(d->vfd, staging, O_RDONLY | O_DIRECTORY, 0);
}

int store_commit(const struct store_dir *d, int nfd, const char *staging, const char *name,
		 struct snapshot *s, bool btrfs, struct rerr *e)
{
	_cleanup_free_ char *info = NULL;
	int r;

	FAULT("receive.received");
	/* sent_to is the source's business; the copy records what it is. */
	while (s->n_sent > 0)
		snapshot_sent_remove(s, s->sent[0].target);
	info = meta_format_info(s, d->volume);
	if (!info)
		return rerr_set(e, ENOMEM, "out of memory");
	/* Beside a received subvolume, the btrfs-aware writer (one commit). */
	r = btrfs ? write_file_atomic_btrfs_at(nfd, META_FILE, info, strlen(info), 0644)
		  : write_file_atomic_at(nfd, META_FILE, info, strlen(info), 0644);
	if (r == 0 && renameat(d->vfd, staging, d->vfd, name) < 0)
		r = -errno;
	if (r == 0)
		FAULT("receive.committed");
	if (r == 0 && fsync(d->vfd) < 0)
		r = -errno;
	if (r < 0) {
		store_remove_staged(d, staging);
		return rerr_say(e, r, "%s: cannot store '%s': %s", d->volume, name, strerror(-r));
	}
	FAULT("receive.done");
	return 0;
}
