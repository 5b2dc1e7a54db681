/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * btrfs backend through libbtrfsutil.
 *
 * Layout (SPEC 5): SNAPSHOT_DIR/NAME/snapshot is the read-only snapshot and
 * SNAPSHOT_DIR/NAME/info.json its metadata. The order of steps is the whole
 * crash-safety argument:
 *   create: mkdir NAME (claims the name atomically) -> snapshot (atomic, born
 *           read-only) -> info.json (tmp, fsync, rename, fsync dir).
 *   remove: unlink info.json and fsync (now it is visibly incomplete) ->
 *           delete the subvolume -> rmdir NAME.
 * So at every instant a NAME with a valid info.json has a whole snapshot, and
 * anything else with our NAME pattern is incomplete and safe to remove.
 *
 * Listing is in btrfs_list.c, sending in btrfs_send.c; a target's copies are
 * kept by store_btrfs.c (backends/store.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <btrfsutil.h>
#include <endian.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/magic.h>
#include <time.h>

#include "backends/backend.h"
#include "base/debug.h"
#include "base/fault.h"
#include "base/util.h"
#include "base/version.h"
#include "format/meta.h"
#include "model/stamp.h"
#include "os/mounts.h"
#include "os/readmany.h"

#include "btrfs_internal.h"

#define BTRFS_SETTLE_STALL_SEC	60

static int btrfs_fail(struct rerr *e, enum btrfs_util_error be, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * libbtrfsutil reports an enum and errno: keep errno before anything can
 * change it. Where the enum is the cause (not btrfs, not a subvolume), its
 * words are the message's; otherwise errno says why.
 */
static int btrfs_fail(struct rerr *e, enum btrfs_util_error be, const char *fmt, ...)
{
	int saved = be == BTRFS_UTIL_ERROR_NO_MEMORY ? ENOMEM : errno;
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (be == BTRFS_UTIL_ERROR_NOT_BTRFS)
		return rerr_say(e, ENOTTY, "%s: not on btrfs", msg);
	if (be == BTRFS_UTIL_ERROR_NOT_SUBVOLUME)
		return rerr_say(e, EINVAL, "%s: not a btrfs subvolume", msg);
	if (saved == 0)
		return rerr_say(e, EIO, "%s (%s)", msg, btrfs_util_strerror(be));
	return rerr_set(e, saved, "%s", msg);
}

bool btrfs_is_subvol_at(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
	       st.st_ino == BTRFS_SUBVOL_INO;
}

bool btrfs_is_dir_at(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* The filesystem UUID of the btrfs that @path is on. */
static int btrfs_fsid(const char *path, unsigned char fsid[BTRFS_FSID_SIZE])
{
	_cleanup_close_ int fd = -1;
	struct btrfs_ioctl_fs_info_args args = { 0 };

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, BTRFS_IOC_FS_INFO, &args) < 0)
		return -errno;
	memcpy(fsid, args.fsid, BTRFS_FSID_SIZE);
	return 0;
}

/* The longest existing prefix of @path (where a missing snapshot_dir will be made). */
static void btrfs_existing_ancestor(const char *path, char *buf, size_t len)
{
	struct stat st;
	char *slash;

	snprintf(buf, len, "%s", path);
	while (stat(buf, &st) < 0 && (slash = strrchr(buf, '/'))) {
		if (slash == buf) {
			buf[1] = '\0';
			break;
		}
		*slash = '\0';
	}
}

/* The name of a filesystem type by its statfs() magic, for messages. */
static const char *btrfs_fs_name(__fsword_t magic)
{
	static const struct { __fsword_t magic; const char *name; } known[] = {
		{ EXT4_SUPER_MAGIC, "ext4" }, { XFS_SUPER_MAGIC, "xfs" },
		{ TMPFS_MAGIC, "tmpfs" }, { OVERLAYFS_SUPER_MAGIC, "overlay" },
		{ 0x2011BAB0, "exfat" }, { MSDOS_SUPER_MAGIC, "vfat" },
		{ 0x6969, "nfs" }, { ZONEFS_MAGIC, "zonefs" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (known[i].magic == magic)
			return known[i].name;
	return "another filesystem";
}

/*
 * Whether @v's path is a btrfs subvolume, and if not, why not in words a
 * person can act on: on another filesystem, or a plain directory where a
 * subvolume should be mounted. Without a mount table to read (a chroot
 * whose / is not a mount point) statfs() still tells the filesystem.
 */
static int btrfs_probe_mount(const struct volume *v, struct rerr *e)
{
	struct mount_info m = { 0 };
	struct statfs sf;
	enum btrfs_util_error be;
	bool mountpoint;
	int r;

	if (statfs(v->path, &sf) < 0)
		return rerr_set(e, errno, "volume '%s': cannot read the filesystem of '%s'", v->name,
				v->path);
	r = mounts_find(v->path, &m, NULL);
	if (sf.f_type != BTRFS_SUPER_MAGIC) {
		if (r == 0)
			r = rerr_say(e, ENOTTY, "volume '%s': path '%s' is on %s (mounted at '%s'), "
				     "not btrfs", v->name, v->path, m.fstype, m.target);
		else
			r = rerr_say(e, ENOTTY, "volume '%s': path '%s' is on %s, not btrfs", v->name,
				     v->path, btrfs_fs_name(sf.f_type));
		mount_info_done(&m);
		return r;
	}
	mountpoint = r == 0 && streq(m.target, v->path);
	be = btrfs_util_is_subvolume(v->path);
	if (be == BTRFS_UTIL_OK) {
		r = 0;
	} else if (be == BTRFS_UTIL_ERROR_NOT_SUBVOLUME && r == 0 && !mountpoint) {
		r = rerr_say(e, EINVAL, "volume '%s': path '%s' is not a btrfs subvolume but a "
			     "plain directory of the btrfs mounted at '%s': is its subvolume not "
			     "mounted?", v->name, v->path, m.target);
	} else if (be == BTRFS_UTIL_ERROR_NOT_SUBVOLUME) {
		r = rerr_say(e, EINVAL, "volume '%s': path '%s' is not a btrfs subvolume",
			     v->name, v->path);
	} else {
		r = btrfs_fail(e, be, "volume '%s': cannot tell whether '%s' is a subvolume",
			       v->name, v->path);
	}
	mount_info_done(&m);
	return r;
}

static int btrfs_be_probe(const struct volume *v, enum volume_key *ret_key, struct rerr *e)
{
	unsigned char fsid_path[BTRFS_FSID_SIZE], fsid_dir[BTRFS_FSID_SIZE];
	char dir[PATH_MAX];
	struct stat st;
	int r;

	*ret_key = VKEY_PATH;
	if (stat(v->path, &st) < 0)
		return errno == ENOENT
		       ? rerr_say(e, ENOENT, "volume '%s': path '%s' does not exist", v->name, v->path)
		       : rerr_set(e, errno, "volume '%s': cannot read path '%s'", v->name, v->path);
	r = btrfs_probe_mount(v, e);
	if (r < 0)
		return r;
	r = btrfs_fsid(v->path, fsid_path);
	if (r < 0)
		return rerr_set(e, r, "volume '%s': cannot read the filesystem of '%s'", v->name,
				v->path);

	*ret_key = VKEY_SNAPSHOT_DIR;
	btrfs_existing_ancestor(v->snapshot_dir, dir, sizeof(dir));
	r = btrfs_fsid(dir, fsid_dir);
	if (r == -ENOTTY || (r == 0 && memcmp(fsid_path, fsid_dir, BTRFS_FSID_SIZE) != 0))
		return rerr_set(e, EXDEV,
				"volume '%s': snapshot_dir '%s' is not on the btrfs filesystem of '%s'",
				v->name, v->snapshot_dir, v->path);
	if (r < 0)
		return rerr_set(e, r, "volume '%s': cannot read the filesystem of '%s'", v->name, dir);
	if (stat(v->snapshot_dir, &st) == 0 && !S_ISDIR(st.st_mode))
		return rerr_set(e, ENOTDIR, "volume '%s': snapshot_dir '%s' is not a directory",
				v->name, v->snapshot_dir);
	return 0;
}

/*
 * Opens snapshot_dir; with @create, makes the missing components (mode 0700),
 * the last one a subvolume: a snapshot of the volume then never carries the
 * snapshot tree (it shows a nested subvolume as an empty directory), and the
 * history moves with the volume in a rollback (SPEC 5).
 */
int btrfs_open_dir(const struct volume *v, bool create, struct rerr *e)
{
	char parent[PATH_MAX], *slash;
	enum btrfs_util_error be;
	int fd, r;

	fd = open(v->snapshot_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 || errno != ENOENT || !create) {
		if (fd < 0 && !(errno == ENOENT && !create))
			return rerr_set(e, errno, "%s: cannot open snapshot_dir '%s'", v->name,
					v->snapshot_dir);
		return fd < 0 ? -ENOENT : fd;
	}
	snprintf(parent, sizeof(parent), "%s", v->snapshot_dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		r = mkdir_parents(parent, 0700);
		if (r < 0)
			return rerr_set(e, r, "%s: cannot create snapshot_dir '%s'", v->name,
					v->snapshot_dir);
	}
	be = btrfs_util_create_subvolume(v->snapshot_dir, 0, NULL, NULL);
	if (be != BTRFS_UTIL_OK && errno != EEXIST)
		return btrfs_fail(e, be, "%s: cannot create snapshot_dir '%s' as a subvolume",
				  v->name, v->snapshot_dir);
	/* A concurrent snaprotate may have made it: its mode is then its own. */
	if (be == BTRFS_UTIL_OK && chmod(v->snapshot_dir, 0700) < 0)
		return rerr_set(e, errno, "%s: cannot set the mode of '%s'", v->name,
				v->snapshot_dir);
	fd = open(v->snapshot_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return rerr_set(e, errno, "%s: cannot open snapshot_dir '%s'", v->name,
				v->snapshot_dir);
	return fd;
}

/* A snapshot_dir that is a plain directory of the volume's own subvolume. */
static int btrfs_be_advise(const struct volume *v, char *buf, size_t len)
{
	uint64_t vol_id, dir_id;
	struct stat st;

	if (stat(v->snapshot_dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_ino == BTRFS_SUBVOL_INO ||
	    btrfs_util_subvolume_id(v->path, &vol_id) != BTRFS_UTIL_OK ||
	    btrfs_util_subvolume_id(v->snapshot_dir, &dir_id) != BTRFS_UTIL_OK || vol_id != dir_id)
		return 0;
	snprintf(buf, len, "volume '%s': snapshot_dir '%s' is a plain directory inside the volume: "
		 "every snapshot of the volume carries a copy of the snapshot tree, and a rollback "
		 "leaves the history behind; make it a subvolume (README: snapshot directory "
		 "layouts)", v->name, v->snapshot_dir);
	return 1;
}

static bool btrfs_uuid_is_null(const uint8_t u[16])
{
	for (int i = 0; i < 16; i++)
		if (u[i])
			return false;
	return true;
}

static int btrfs_write_info(const struct volume *v, int nfd, const struct snapshot *s,
			    struct rerr *e)
{
	_cleanup_free_ char *text = meta_format_info(s, v->name);
	int r;

	if (!text)
		return rerr_set(e, ENOMEM, "%s: out of memory", v->name);
	r = write_file_atomic_btrfs_at(nfd, META_FILE, text, strlen(text), 0644);
	if (r < 0)
		return rerr_set(e, r, "%s: cannot write '%s/%s/%s'", v->name, v->snapshot_dir,
				s->name, META_FILE);
	return 0;
}

/* Undo a half-made NAME (best effort; the first error is reported already). */
static void btrfs_discard(const struct volume *v, int dirfd, int nfd, const char *name)
{
	enum btrfs_util_error be;

	(void) unlinkat(nfd, META_FILE, 0);
	if (btrfs_is_subvol_at(nfd, SNAPSHOT_SUBVOL)) {
		be = btrfs_util_delete_subvolume_fd(nfd, SNAPSHOT_SUBVOL, 0);
		if (be != BTRFS_UTIL_OK)
			DBG(BTRFS, "%s: cannot delete '%s/%s': %s", v->name, name, SNAPSHOT_SUBVOL,
			    btrfs_util_strerror(be));
	}
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
		DBG(BTRFS, "%s: cannot remove '%s': %m", v->name, name);
}

static int btrfs_be_create(const struct volume *v, struct snapshot *s, struct rerr *e)
{
	_cleanup_close_ int dirfd = -1, nfd = -1, srcfd = -1, snapfd = -1;
	struct btrfs_util_subvolume_info info;
	char name[SNAP_NAME_MAX + 1], uuid[37], puuid[37];
	enum btrfs_util_error be;
	unsigned seq;
	int r;

	dirfd = btrfs_open_dir(v, true, e);
	if (dirfd < 0)
		return dirfd;
	srcfd = open(v->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (srcfd < 0)
		return rerr_set(e, errno, "%s: cannot open '%s'", v->name, v->path);

	FAULT("snapshot.begin");
	/* mkdir claims a name atomically, also against a concurrent snaprotate. */
	/* From the sequence the caller picked (and told a pre hook), if any. */
	for (seq = s->seq > 1 ? s->seq : 1;; seq++) {
		r = snap_name_format(v->name, s->created, seq, name, sizeof(name));
		if (r < 0)
			return rerr_set(e, r, "%s: cannot name a snapshot", v->name);
		if (mkdirat(dirfd, name, 0700) == 0)
			break;
		if (errno != EEXIST || seq == SEQ_MAX)
			return rerr_set(e, errno, "%s: cannot create '%s/%s'", v->name,
					v->snapshot_dir, name);
	}
	nfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (nfd < 0) {
		r = rerr_set(e, errno, "%s: cannot open '%s/%s'", v->name, v->snapshot_dir, name);
		(void) unlinkat(dirfd, name, AT_REMOVEDIR);
		return r;
	}
	be = btrfs_util_create_snapshot_fd2(srcfd, nfd, SNAPSHOT_SUBVOL,
					    BTRFS_UTIL_CREATE_SNAPSHOT_READ_ONLY, NULL, NULL);
	if (be != BTRFS_UTIL_OK) {
		r = btrfs_fail(e, be, "%s: cannot snapshot '%s' as '%s/%s/%s'", v->name, v->path,
			       v->snapshot_dir, name, SNAPSHOT_SUBVOL);
		btrfs_discard(v, dirfd, nfd, name);
		return r;
	}
	FAULT("snapshot.created");
	snapfd = openat(nfd, SNAPSHOT_SUBVOL, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (snapfd < 0) {
		r = rerr_set(e, errno, "%s: cannot open the new snapshot '%s'", v->name, name);
		btrfs_discard(v, dirfd, nfd, name);
		return r;
	}
	be = btrfs_util_subvolume_info_fd(snapfd, 0, &info);
	if (be != BTRFS_UTIL_OK) {
		r = btrfs_fail(e, be, "%s: cannot read the new snapshot '%s'", v->name, name);
		btrfs_discard(v, dirfd, nfd, name);
		return r;
	}
	uuid_format(info.uuid, uuid);
	uuid_format(info.parent_uuid, puuid);

	free(s->name);
	free(s->uuid);
	free(s->parent_uuid);
	s->name = strdup(name);
	s->uuid = strdup(uuid);
	s->parent_uuid = btrfs_uuid_is_null(info.parent_uuid) ? NULL : strdup(puuid);
	s->seq = seq;
	/* Where the volume is in its filesystem, for rescue mode; unknown is no failure. */
	free(s->source);
	s->source = NULL;
	if (btrfs_util_subvolume_path(v->path, 0, &s->source) != BTRFS_UTIL_OK)
		s->source = NULL;
	if (!s->description)
		s->description = strdup("");
	if (!s->name || !s->uuid || !s->description) {
		r = rerr_set(e, ENOMEM, "%s: out of memory", v->name);
		btrfs_discard(v, dirfd, nfd, name);
		return r;
	}
	r = btrfs_write_info(v, nfd, s, e);
	if (r < 0) {
		btrfs_discard(v, dirfd, nfd, name);
		return r;
	}
	s->complete = true;
	FAULT("snapshot.done");
	DBG(BTRFS, "%s: created '%s/%s'", v->name, v->snapshot_dir, name);
	return 0;
}

static int btrfs_be_remove(const struct volume *v, const struct snapshot *s, struct rerr *e)
{
	_cleanup_close_ int dirfd = -1, nfd = -1;
	enum btrfs_util_error be;
	struct stat st;

	if (s->foreign || snap_name_parse(v->name, s->name, NULL, NULL) < 0)
		return rerr_set(e, EPERM, "%s: '%s' was not made by snaprotate, not deleting it",
				v->name, s->name);
	dirfd = btrfs_open_dir(v, false, e);
	if (dirfd < 0)
		return dirfd == -ENOENT ? rerr_set(e, ENOENT, "%s: no snapshot_dir '%s'", v->name,
						    v->snapshot_dir) : dirfd;
	nfd = openat(dirfd, s->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (nfd < 0)
		return rerr_set(e, errno, "%s: cannot open '%s/%s'", v->name, v->snapshot_dir,
				s->name);
	/*
	 * First make it visibly incomplete, so a crash from here on cannot leave a
	 * fake. No fsync is needed: btrfs commits metadata operations in transaction
	 * order, so the subvolume deletion below never becomes durable before this
	 * unlink does (and 1,000 fsyncs would dominate a large prune).
	 */
	FAULT("remove.begin");
	if (unlinkat(nfd, META_FILE, 0) < 0 && errno != ENOENT)
		return rerr_set(e, errno, "%s: cannot remove '%s/%s/%s'", v->name, v->snapshot_dir,
				s->name, META_FILE);
	(void) unlinkat(nfd, "." META_FILE ".tmp", 0);
	FAULT("remove.uncommitted");
	if (fstatat(nfd, SNAPSHOT_SUBVOL, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		bool subvol = S_ISDIR(st.st_mode) && st.st_ino == BTRFS_SUBVOL_INO;

		/* A stale entry's empty plain directory goes; rmdir never removes content. */
		if (!subvol && !(S_ISDIR(st.st_mode) && unlinkat(nfd, SNAPSHOT_SUBVOL, AT_REMOVEDIR) == 0))
			return rerr_say(e, ENOTEMPTY,
					"%s: '%s/%s/%s' is neither a subvolume nor empty, leaving "
					"it alone", v->name, v->snapshot_dir, s->name, SNAPSHOT_SUBVOL);
		be = subvol ? btrfs_util_delete_subvolume_fd(nfd, SNAPSHOT_SUBVOL, 0) : BTRFS_UTIL_OK;
		if (be != BTRFS_UTIL_OK)
			return btrfs_fail(e, be, "%s: cannot delete '%s/%s/%s'", v->name,
					  v->snapshot_dir, s->name, SNAPSHOT_SUBVOL);
		FAULT("remove.deleted");
	}
	if (unlinkat(dirfd, s->name, AT_REMOVEDIR) < 0)
		return rerr_set(e, errno, "%s: cannot remove '%s/%s'", v->name, v->snapshot_dir,
				s->name);
	FAULT("remove.done");
	DBG(BTRFS, "%s: deleted '%s/%s'", v->name, v->snapshot_dir, s->name);
	return 0;
}

static int btrfs_be_update(const struct volume *v, const struct snapshot *s, struct rerr *e)
{
	_cleanup_close_ int dirfd = -1, nfd = -1;
	int r;

	if (!s->complete || s->foreign)
		return rerr_set(e, EINVAL, "%s: '%s' is not a complete snapshot", v->name, s->name);
	dirfd = btrfs_open_dir(v, false, e);
	if (dirfd < 0)
		return dirfd;
	nfd = openat(dirfd, s->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (nfd < 0)
		return rerr_set(e, errno, "%s: cannot open '%s/%s'", v->name, v->snapshot_dir,
				s->name);
	FAULT("update.begin");
	r = btrfs_write_info(v, nfd, s, e);
	if (r == 0)
		FAULT("update.done");
	return r;
}

/*
 * Deleted subvolumes are freed later by the btrfs cleaner, which starts at a
 * transaction commit. Deleting hundreds at once queues all that work and can
 * stall the machine; so wait, committing to wake the cleaner and polling its
 * queue briefly, until fewer than @max_pending are left.
 */
static int btrfs_be_settle(const struct volume *v, unsigned max_pending, struct rerr *e)
{
	_cleanup_close_ int fd = -1;
	struct timespec poll = { .tv_nsec = 5 * 1000 * 1000 };
	enum btrfs_util_error be;
	bool committed = false;
	time_t committed_at = 0;

	fd = open(v->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return rerr_set(e, errno, "%s: cannot open '%s'", v->name, v->path);
	size_t last = SIZE_MAX;
	struct timespec progress = { 0 }, now;

	for (;;) {
		_cleanup_free_ uint64_t *ids = NULL;
		size_t n = 0;

		be = btrfs_util_deleted_subvolumes_fd(fd, &ids, &n);
		if (be != BTRFS_UTIL_OK)
			return btrfs_fail(e, be, "%s: cannot list deleted subvolumes", v->name);
		if (n < max_pending)
			return (int)n;
		/*
		 * A deleted snapshot that something still holds open stays queued until
		 * it is closed: pace while the cleaner makes progress, not forever.
		 */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (n < last) {
			last = n;
			progress = now;
		} else if (now.tv_sec - progress.tv_sec > BTRFS_SETTLE_STALL_SEC) {
			DBG(BTRFS, "%s: the cleaner made no progress for %ds, not pacing", v->name,
			    BTRFS_SETTLE_STALL_SEC);
			return (int)n;
		}
		/*
		 * The cleaner wakes at a commit. One that a subvolume was still held open
		 * at (a killed receive's mount namespace going away) leaves it for the
		 * next periodic commit, 30 s away: commit again after a second without
		 * progress.
		 */
		if (!committed || (now.tv_sec - committed_at >= 1 &&
				   now.tv_sec - progress.tv_sec >= 1)) {
			be = btrfs_util_sync_fd(fd);
			if (be != BTRFS_UTIL_OK)
				return btrfs_fail(e, be, "%s: cannot commit '%s'", v->name, v->path);
			committed = true;
			committed_at = now.tv_sec;
		}
		DBG(BTRFS, "%s: %zu deleted subvolumes await the cleaner", v->name, n);
		(void) nanosleep(&poll, NULL);
		if (poll.tv_nsec < 100 * 1000 * 1000)
			poll.tv_nsec *= 2;
	}
}

static int btrfs_be_space(const struct volume *v, struct fs_space *ret, struct rerr *e)
{
	struct statvfs sv;

	if (statvfs(v->path, &sv) < 0)
		return rerr_set(e, errno, "%s: cannot read free space of '%s'", v->name, v->path);
	ret->size = (uint64_t)sv.f_blocks * sv.f_frsize;
	ret->avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	return 0;
}

int btrfs_received_owner(int fd, const uint8_t uuid[UUID_SIZE], uint64_t *ret_id)
{
	struct btrfs_ioctl_search_args a = { 0 };
	struct btrfs_ioctl_search_header h;
	uint64_t objectid, offset, id;

	/* The uuid tree's key: the uuid's two halves as little-endian numbers. */
	memcpy(&objectid, uuid, 8);
	memcpy(&offset, uuid + 8, 8);
	a.key.tree_id = BTRFS_UUID_TREE_OBJECTID;
	a.key.min_objectid = a.key.max_objectid = le64toh(objectid);
	a.key.min_offset = a.key.max_offset = le64toh(offset);
	a.key.min_type = a.key.max_type = BTRFS_UUID_KEY_RECEIVED_SUBVOL;
	a.key.max_transid = UINT64_MAX;
	a.key.nr_items = 1;
	if (ioctl(fd, BTRFS_IOC_TREE_SEARCH, &a) < 0)
		return -errno;
	if (a.key.nr_items < 1)
		return -ENOENT;
	memcpy(&h, a.buf, sizeof(h));
	if (h.len < sizeof(id) || h.len % sizeof(id))
		return -EIO;
	memcpy(&id, a.buf + sizeof(h), sizeof(id));
	*ret_id = le64toh(id);
	return 0;
}

static const char *btrfs_be_where(const struct volume *v)
{
	return v->snapshot_dir;
}

static const char *btrfs_be_origin(const struct volume *v)
{
	return v->path;
}

const struct backend backend_btrfs = {
	.name = "btrfs",
	.kind = BACKEND_BTRFS,
	.probe = btrfs_be_probe,
	.list = btrfs_be_list,
	.get = btrfs_be_get,
	.advise = btrfs_be_advise,
	.restore_stage = btrfs_restore_stage,
	.restore_place = btrfs_restore_place,
	.rollback = btrfs_be_rollback,
	.rollback_words = btrfs_be_rollback_words,
	.recover = btrfs_rollback_recover,
	.create = btrfs_be_create,
	.remove = btrfs_be_remove,
	.update = btrfs_be_update,
	.settle = btrfs_be_settle,
	.stream_open = btrfs_stream_open,
	.stream_close = btrfs_stream_close,
	.where = btrfs_be_where,
	.origin = btrfs_be_origin,
	.space = btrfs_be_space,
	.room = backend_min_free,
};
