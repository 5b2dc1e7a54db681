/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `snaprotate serve --root DIR`: the receiving side of a target, run by ssh
 * as an authorized_keys forced command (or locally for file:// targets). It is
 * a trust boundary: whatever the client sends, nothing outside DIR is
 * created, written, read into a copy or removed.
 *
 * Layout under DIR: VOLUME/NAME/snapshot + VOLUME/NAME/info.json, as on a
 * source; VOLUME/.incoming.NAME while a receive is under way,
 * VOLUME/.deleting.NAME while a copy is removed; VOLUME/.lock. On btrfs,
 * VOLUME is a subvolume of its own (made so when serve creates it), which is
 * what lets a receive be confined to it.
 *
 * What must never happen:
 *   - a path outside DIR: every name is checked (volume alphabet, NAME
 *     pattern) before it is used, and everything is opened relative to DIR
 *     with open_beneath(): no symlink, no "..", no other mount on the way;
 *   - a stream acting outside its copy: the stream is checked as it passes
 *     (include/sendcheck.h), and `btrfs receive` runs confined
 *     (include/receive.h); afterwards the staging directory must hold exactly
 *     the announced, read-only subvolume, on the announced parent;
 *   - a NAME that looks complete but is not: a copy is staged in
 *     .incoming.NAME and gets its info.json and its NAME (one rename) only
 *     once it is whole;
 *   - removing what serve did not stage: a deletion first renames NAME to
 *     .deleting.NAME; the repair of an interrupted transfer removes only
 *     .incoming.* and .deleting.* entries, never a NAME.
 *
 * Block copies (LVM volumes) live in a volume directory marked by a file
 * ".block": VOLUME/NAME/image (a full block stream) or VOLUME/NAME/delta (the
 * changes since the copy its info.json names as "base"), + info.json. A
 * stream is verified end to end (every checksum, and a delta's parent uuid
 * against its base's) before info.json appears and NAME gets its name. Such a
 * root need not be on btrfs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <btrfsutil.h>
#include <linux/magic.h>

#include "backends/backend.h"
#include "backends/btrfs.h"
#include "base/debug.h"
#include "base/util.h"
#include "base/version.h"
#include "format/blockstream.h"
#include "format/meta.h"
#include "format/sendcheck.h"
#include "model/stamp.h"
#include "transport/proto.h"
#include "transport/receive.h"
#include "transport/serve.h"

#define INCOMING_PREFIX	".incoming."
#define DELETING_PREFIX	".deleting."
#define STAGING_MAX	(SNAP_NAME_MAX + sizeof(INCOMING_PREFIX))
/*
 * Pipe size for the stream: the connection (when it is a pipe) and the pipe
 * into `btrfs receive`. With the default 64 KiB every hop wakes its reader
 * and writer every 16 pages; failure only costs speed.
 */
#define SERVE_PIPE	(1024 * 1024)
#define BLOCK_MARK	".block"
/* A request is one line; the longest is RECEIVE with an info.json (META_MAX_SIZE). */
#define SERVE_LINE_MAX	(256 * 1024)
/* How deep serve goes when it removes what it staged. */
#define SERVE_TREE_DEPTH	64
/* The root directory of every btrfs subvolume has this inode number. */
#define BTRFS_SUBVOL_INO	256

/* The data file of a block copy, by its image kind. */
static const char *serve_block_file(const char *image)
{
	return streq(image, "delta") ? "delta" : "image";
}

struct serve {
	const char *root;
	int root_fd;
	struct conn c;
	char locked_volume[VOLUME_NAME_MAX + 1];
	int lock_fd;
	bool repaired;			/* leftovers of locked_volume removed */
	bool btrfs;			/* the root is on btrfs: btrfs copies possible */
};

static int serve_reply_err(struct serve *sv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int serve_reply_err(struct serve *sv, const char *fmt, ...)
{
	char msg[800];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One line of text: a control character in a message would end or garble it. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return conn_printf(&sv->c, "ERR %s\n", msg);
}

static int serve_reply_ok(struct serve *sv, struct json_object *o)
{
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						      JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!text)
		return -ENOMEM;
	return conn_printf(&sv->c, "OK %s\n", text);
}

static void serve_note(const char *volume, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A line for the log (ssh passes serve's stderr to the client, which shows it). */
static void serve_note(const char *volume, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "snaprotate serve: %s: ", volume);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The target side of a volume, as the btrfs backend sees a source. */
static void serve_volume(struct serve *sv, const char *volume, struct volume *v, char *dir,
			 size_t dir_len)
{
	snprintf(dir, dir_len, "%s/%s", sv->root, volume);
	*v = (struct volume){ .name = (char *)volume, .backend = BACKEND_BTRFS,
			      .path = (char *)sv->root, .snapshot_dir = dir };
}

static int serve_open_volume(struct serve *sv, const char *volume)
{
	return open_beneath(sv->root_fd, volume, O_RDONLY | O_DIRECTORY, 0);
}

/*
 * A directory stream of its own for @fd: a dup() would share the offset, and a
 * second listing of the same fd would start where the first one ended.
 */
static DIR *serve_opendir(int fd)
{
	int d = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *x = d >= 0 ? fdopendir(d) : NULL;

	if (!x && d >= 0)
		close(d);
	return x;
}

/* Removes @name in @dfd and all it holds, subvolumes too, never leaving @dfd's mount. */
static int serve_remove_tree(int dfd, const char *name, int depth)
{
	_cleanup_close_ int fd = -1;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int r = 0;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) < 0 ? -errno : 0;
	if (st.st_ino == BTRFS_SUBVOL_INO) {
		enum btrfs_util_error be = btrfs_util_delete_subvolume_fd(
			dfd, name, BTRFS_UTIL_DELETE_SUBVOLUME_RECURSIVE);

		if (be == BTRFS_UTIL_OK)
			return 0;
		if (be != BTRFS_UTIL_ERROR_NOT_SUBVOLUME && be != BTRFS_UTIL_ERROR_NOT_BTRFS)
			return -(errno ?: EIO);
	}
	if (depth >= SERVE_TREE_DEPTH)
		return -ELOOP;
	fd = open_beneath(dfd, name, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (!d)
		return -errno;
	fd = -1;
	while ((de = readdir(d))) {
		int k;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		k = serve_remove_tree(dirfd(d), de->d_name, depth + 1);
		if (k < 0 && r == 0)
			r = k;
	}
	closedir(d);
	if (r == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0)
		r = -errno;
	return r;
}

/* Removes a staging entry (.incoming.* or .deleting.*), whatever it turned out to be. */
static void serve_remove_staged(int vfd, const char *volume, const char *name)
{
	int r = serve_remove_tree(vfd, name, 0);

	if (r < 0)
		serve_note(volume, "cannot remove '%s': %s", name, strerror(-r));
}

static bool serve_is_staged(const char *name)
{
	return startswith(name, INCOMING_PREFIX) || startswith(name, DELETING_PREFIX);
}

static bool serve_is_block(int vfd)
{
	struct stat st;

	return fstatat(vfd, BLOCK_MARK, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

/* A volume directory that is a subvolume can be the receive's own mount. */
static bool serve_is_subvolume(int vfd)
{
	struct stat st;

	return fstat(vfd, &st) == 0 && st.st_ino == BTRFS_SUBVOL_INO;
}

/*
 * The block copies in @vfd: a NAME with a valid info.json that says what it
 * is, and that data file, is complete. Return: 0 or -errno.
 */
static int serve_list_block(int vfd, const char *volume, struct snapshot_list *ret)
{
	struct snapshot_list l = { 0 };
	struct dirent *de;
	DIR *d;

	d = serve_opendir(vfd);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct snapshot s = { 0 };
		_cleanup_free_ char *text = NULL;
		char file[sizeof(de->d_name) + 16];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (snap_name_parse(volume, de->d_name, &s.created, &s.seq) < 0 ||
		    fstatat(vfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
			/* Not ours (a symlink never is): listed, never used. */
			s.foreign = true;
		} else {
			snprintf(file, sizeof(file), "%s/" META_FILE, de->d_name);
			if (read_regular_beneath(vfd, file, META_MAX_SIZE, &text, NULL) == 0 &&
			    meta_parse_info(volume, de->d_name, text, &s) == 0 && s.image) {
				_cleanup_close_ int fd = -1;

				snprintf(file, sizeof(file), "%s/%s", de->d_name,
					 serve_block_file(s.image));
				fd = open_beneath(vfd, file, O_PATH, 0);
				s.complete = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
			} else {
				snapshot_done(&s);
				s = (struct snapshot){ 0 };
				(void) snap_name_parse(volume, de->d_name, &s.created, &s.seq);
			}
		}
		s.name = s.name ?: strdup(de->d_name);
		if (!s.name || snapshot_list_append(&l, &s) < 0) {
			snapshot_done(&s);
			snapshot_list_clear(&l);
			closedir(d);
			return -ENOMEM;
		}
	}
	closedir(d);
	snapshot_list_sort(&l);
	*ret = l;
	return 0;
}

/*
 * Takes @name out of the volume's copies in one rename, then removes it: a
 * crash in between leaves only a .deleting.* entry, which the next session
 * removes. Return: 0 or -errno (the copy is still there when the rename failed).
 */
static int serve_retire(int vfd, const char *volume, const char *name)
{
	char staged[STAGING_MAX];

	snprintf(staged, sizeof(staged), DELETING_PREFIX "%s", name);
	serve_remove_staged(vfd, volume, staged);
	if (renameat(vfd, name, vfd, staged) < 0)
		return -errno;
	if (fsync(vfd) < 0)
		return -errno;
	serve_remove_staged(vfd, volume, staged);
	return 0;
}

/* Takes the volume's lock (.lock in its directory). Return: 0, or -errno with ERR sent. */
static int serve_lock(struct serve *sv, int vfd, const char *volume)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	for (int tries = 0;; tries++) {
		fd = open_beneath(vfd, ".lock", O_RDWR | O_CREAT, 0600);
		if (fd != -ELOOP || tries > 0)
			break;
		/* A symlink where serve keeps its lock: not serve's, and in the way. */
		serve_note(volume, "'.lock' is a symlink, replacing it with a lock file");
		if (unlinkat(vfd, ".lock", 0) < 0 && errno != ENOENT)
			break;
	}
	if (fd < 0) {
		serve_reply_err(sv, "%s: cannot open the lock '%s/%s/.lock': %s", volume, sv->root,
				volume, strerror(-fd));
		return fd;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		serve_reply_err(sv, "%s: '%s/%s/.lock' is not a regular file", volume, sv->root,
				volume);
		return -EINVAL;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int r = -errno;

		if (r == -EWOULDBLOCK)
			serve_reply_err(sv, "%s: another transfer to this target is under way", volume);
		else
			serve_reply_err(sv, "%s: cannot lock '%s/%s/.lock': %s", volume, sv->root,
					volume, strerror(-r));
		return r;
	}
	sv->lock_fd = TAKE_FD(fd);
	return 0;
}

/* Makes the volume's directory: on btrfs a subvolume, so a receive can be confined to it. */
static int serve_make_volume(struct serve *sv, const char *volume)
{
	if (sv->btrfs) {
		enum btrfs_util_error be = btrfs_util_create_subvolume_fd(sv->root_fd, volume, 0, NULL,
									  NULL);
		_cleanup_close_ int fd = -1;

		if (be == BTRFS_UTIL_OK) {
			fd = serve_open_volume(sv, volume);
			if (fd < 0 || fchmod(fd, 0700) < 0)
				return fd < 0 ? fd : -errno;
			return fsync(sv->root_fd) < 0 ? -errno : 0;
		}
		return errno == EEXIST ? 0 : -(errno ?: EIO);
	}
	if (mkdirat(sv->root_fd, volume, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

#define CONVERT_PREFIX	".snaprotate-convert."

/* Moves one NAME of a plain volume directory into the new subvolume. */
static int serve_convert_entry(int vfd, int nfd, const char *volume, const char *name)
{
	_cleanup_close_ int ofd = -1, cfd = -1;
	_cleanup_free_ char *info = NULL;
	size_t len = 0;
	struct stat st;
	int r;

	ofd = open_beneath(vfd, name, O_RDONLY | O_DIRECTORY, 0);
	if (ofd < 0)
		return ofd;
	if (mkdirat(nfd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	cfd = open_beneath(nfd, name, O_RDONLY | O_DIRECTORY, 0);
	if (cfd < 0)
		return cfd;
	/* info.json first: a crash then leaves the old entry whole, and this is redone. */
	r = read_regular_beneath(ofd, META_FILE, META_MAX_SIZE, &info, &len);
	if (r == 0 && fstatat(cfd, META_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0)
		r = write_file_atomic_at(cfd, META_FILE, info, len, 0644);
	if (r < 0 && r != -ENOENT)
		return r;
	if (fstatat(ofd, "snapshot", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
	    st.st_ino == BTRFS_SUBVOL_INO) {
		_cleanup_close_ int snap = open_beneath(ofd, "snapshot", O_RDONLY | O_DIRECTORY, 0);

		/*
		 * btrfs moves a read-only subvolume only once it is writable again; the
		 * kernel keeps its received uuid through both flips, and the pass in
		 * serve_convert() makes it read-only again, also after a crash.
		 */
		if (snap < 0)
			return snap;
		if (btrfs_util_set_subvolume_read_only_fd(snap, false) != BTRFS_UTIL_OK ||
		    renameat(ofd, "snapshot", cfd, "snapshot") < 0)
			return -(errno ?: EIO);
	}
	(void) unlinkat(ofd, META_FILE, 0);
	(void) unlinkat(ofd, "." META_FILE ".tmp", 0);
	if (unlinkat(vfd, name, AT_REMOVEDIR) < 0)
		serve_note(volume, "'%s' holds more than a copy; leaving that behind", name);
	return 0;
}

/*
 * A btrfs volume directory made by an older version is a plain directory, and
 * a receive is confined to its volume only when that is a subvolume
 * (include/receive.h). So it is converted, under the volume's lock: a new
 * subvolume CONVERT_PREFIX VOLUME gets every copy (its info.json copied, its
 * snapshot subvolume moved by rename) and then takes the directory's place in
 * one exchange. Every step can be redone, so the next session finishes what a
 * crash interrupted. Return: 1 converted (the caller locks the new directory),
 * 0 nothing to do, -errno.
 */
static int serve_convert(struct serve *sv, int vfd, const char *volume)
{
	_cleanup_close_ int nfd = -1;
	char tmp[sizeof(CONVERT_PREFIX) + VOLUME_NAME_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int r = 0;

	snprintf(tmp, sizeof(tmp), CONVERT_PREFIX "%s", volume);
	if (serve_is_subvolume(vfd)) {
		/* Converted: what may be left is the old directory, under the temporary name. */
		if (fstatat(sv->root_fd, tmp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
		    st.st_ino != BTRFS_SUBVOL_INO) {
			_cleanup_close_ int ofd = open_beneath(sv->root_fd, tmp, O_RDONLY | O_DIRECTORY,
							       0);

			if (ofd >= 0)
				(void) unlinkat(ofd, ".lock", 0);
			if (unlinkat(sv->root_fd, tmp, AT_REMOVEDIR) < 0)
				serve_note(volume, "kept '%s/%s': it holds entries serve did not make",
					   sv->root, tmp);
		}
		return 0;
	}
	if (!sv->btrfs || serve_is_block(vfd))
		return 0;
	serve_note(volume, "converting '%s/%s' into a subvolume of its own", sv->root, volume);
	if (fstatat(sv->root_fd, tmp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		enum btrfs_util_error be = btrfs_util_create_subvolume_fd(sv->root_fd, tmp, 0, NULL,
									  NULL);

		if (be != BTRFS_UTIL_OK)
			return -(errno ?: EIO);
	}
	nfd = open_beneath(sv->root_fd, tmp, O_RDONLY | O_DIRECTORY, 0);
	if (nfd < 0)
		return nfd;
	if (!serve_is_subvolume(nfd) || fchmod(nfd, 0700) < 0)
		return -ENOTDIR;
	d = serve_opendir(vfd);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && r == 0) {
		if (snap_name_parse(volume, de->d_name, NULL, NULL) < 0 ||
		    fstatat(vfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		r = serve_convert_entry(vfd, nfd, volume, de->d_name);
	}
	closedir(d);
	if (r < 0)
		return r;
	/* Every copy read-only again (its move made it writable for a moment). */
	d = serve_opendir(nfd);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && r == 0) {
		_cleanup_close_ int snap = -1;
		char path[sizeof(de->d_name) + 16];

		if (snap_name_parse(volume, de->d_name, NULL, NULL) < 0)
			continue;
		snprintf(path, sizeof(path), "%s/snapshot", de->d_name);
		snap = open_beneath(nfd, path, O_RDONLY | O_DIRECTORY, 0);
		if (snap >= 0 && serve_is_subvolume(snap) &&
		    btrfs_util_set_subvolume_read_only_fd(snap, true) != BTRFS_UTIL_OK)
			r = -(errno ?: EIO);
	}
	closedir(d);
	if (r < 0)
		return r;
	if (fsync(nfd) < 0 || renameat2(sv->root_fd, volume, sv->root_fd, tmp, RENAME_EXCHANGE) < 0 ||
	    fsync(sv->root_fd) < 0)
		return -errno;
	return 1;
}

/*
 * Locks @volume for the rest of the session (one volume at a time). With
 * @repair, also removes what an interrupted transfer staged (once per
 * session): only requests that change the target repair, so a LIST changes
 * nothing. Return: 0, or -errno with an ERR reply already sent (not for -ENOENT).
 */
static int serve_session(struct serve *sv, const char *volume, bool create, bool repair)
{
	_cleanup_close_ int vfd = -1;
	struct dirent *de;
	DIR *d;
	int r;

	if (!streq(sv->locked_volume, volume)) {
		if (sv->lock_fd >= 0) {
			close(sv->lock_fd);
			sv->lock_fd = -1;
			sv->locked_volume[0] = '\0';
		}
		sv->repaired = false;
		if (create && (r = serve_make_volume(sv, volume)) < 0) {
			serve_reply_err(sv, "%s: cannot create '%s/%s': %s", volume, sv->root, volume,
					strerror(-r));
			return r;
		}
		vfd = serve_open_volume(sv, volume);
		if (vfd < 0) {
			if (vfd != -ENOENT)
				serve_reply_err(sv, "%s: cannot open '%s/%s': %s", volume, sv->root,
						volume, strerror(-vfd));
			return vfd;
		}
		r = serve_lock(sv, vfd, volume);
		if (r < 0)
			return r;
		snprintf(sv->locked_volume, sizeof(sv->locked_volume), "%s", volume);
	}
	if (!repair || sv->repaired)
		return 0;
	sv->repaired = true;
	if (vfd < 0)
		vfd = serve_open_volume(sv, volume);
	d = vfd >= 0 ? serve_opendir(vfd) : NULL;
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (serve_is_staged(de->d_name)) {
			serve_note(volume, "removing '%s', left by an interrupted transfer",
				   de->d_name);
			serve_remove_staged(vfd, volume, de->d_name);
		}
	closedir(d);
	r = serve_convert(sv, vfd, volume);
	if (r < 0) {
		serve_reply_err(sv, "%s: cannot convert '%s/%s' into a subvolume: %s", volume,
				sv->root, volume, strerror(-r));
		return r;
	}
	if (r > 0) {
		/* The directory is a new one now, and so is its lock. */
		close(vfd);
		close(sv->lock_fd);
		sv->lock_fd = -1;
		sv->locked_volume[0] = '\0';
		vfd = serve_open_volume(sv, volume);
		r = vfd < 0 ? vfd : serve_lock(sv, vfd, volume);
		if (r < 0) {
			if (vfd < 0)
				serve_reply_err(sv, "%s: cannot open '%s/%s': %s", volume, sv->root,
						volume, strerror(-vfd));
			return r;
		}
		snprintf(sv->locked_volume, sizeof(sv->locked_volume), "%s", volume);
		(void) serve_convert(sv, vfd, volume);
	}
	if (sv->btrfs && !serve_is_block(vfd)) {
		char dir[PATH_MAX];
		struct volume v;
		struct rerr e = { 0 };

		/*
		 * A transfer cut by a full disk leaves a large deleted subvolume (removed
		 * just now, or when that receive failed) whose space comes back only once
		 * the btrfs cleaner is through with it: wait for that, or the next receive
		 * fails for want of the same space.
		 */
		serve_volume(sv, volume, &v, dir, sizeof(dir));
		if (backend_btrfs.settle(&v, 1, &e) < 0)
			serve_note(volume, "%s: %s", e.msg, strerror(e.code));
	}
	return 0;
}

/* The copies of @volume, complete or not. Return: 0, or -errno with an ERR sent. */
static int serve_list_volume(struct serve *sv, int vfd, const char *volume,
			     struct snapshot_list *l)
{
	char dir[PATH_MAX];
	struct volume v;
	struct rerr e = { 0 };
	int r;

	if (serve_is_block(vfd)) {
		r = serve_list_block(vfd, volume, l);
		if (r < 0)
			serve_reply_err(sv, "%s: cannot list '%s/%s': %s", volume, sv->root, volume,
					strerror(-r));
		return r;
	}
	if (!sv->btrfs) {
		*l = (struct snapshot_list){ 0 };	/* nothing of btrfs can be here */
		return 0;
	}
	serve_volume(sv, volume, &v, dir, sizeof(dir));
	r = backend_btrfs.list(&v, l, &e);
	if (r < 0)
		serve_reply_err(sv, "%s: %s: %s", volume, e.msg, strerror(-r));
	return r;
}

/*
 * The start of LIST, DELETE and FETCH: @volume locked (and, with @repair, its
 * leftovers removed), opened and listed.
 * Return: 1 with *@ret_vfd and @l; 0 when the volume has no directory here
 * (nothing replied); -errno with an ERR reply sent.
 */
static int serve_open_listed(struct serve *sv, const char *volume, bool repair, int *ret_vfd,
			     struct snapshot_list *l)
{
	int vfd, r = serve_session(sv, volume, false, repair);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	vfd = serve_open_volume(sv, volume);
	if (vfd < 0)
		return serve_reply_err(sv, "%s: cannot open '%s/%s': %s", volume, sv->root, volume,
				       strerror(-vfd)) < 0 ? -EPIPE : vfd;
	r = serve_list_volume(sv, vfd, volume, l);
	if (r < 0) {
		close(vfd);
		return r;
	}
	*ret_vfd = vfd;
	return 1;
}

static int serve_cmd_list(struct serve *sv, const char *volume)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	_cleanup_close_ int vfd = -1;
	struct snapshot_list l = { 0 };
	struct json_object *arr = json_object_new_array();
	int r;

	if (!o || !arr || meta_add(o, "volume", json_object_new_string(volume)) < 0 ||
	    meta_add(o, "snapshots", arr) < 0)
		return -ENOMEM;
	r = serve_open_listed(sv, volume, false, &vfd, &l);
	if (r == 0)
		return serve_reply_ok(sv, o);	/* nothing received yet */
	if (r < 0)
		return r == -EPIPE ? r : 0;
	for (size_t i = 0; i < l.n; i++) {
		struct json_object *info;

		if (!l.items[i].complete || l.items[i].foreign)
			continue;
		info = meta_info_object(&l.items[i], volume);
		if (!info || json_object_array_add(arr, info) < 0) {
			json_object_put(info);
			snapshot_list_clear(&l);
			return -ENOMEM;
		}
	}
	snapshot_list_clear(&l);
	return serve_reply_ok(sv, o);
}

/*
 * Reads the chunks of one stream, passing them on to @fd while it takes them
 * (fd < 0: discard), through @filter if given: spliced from the connection to
 * @fd where both allow it, so the stream's pages are moved, not copied through
 * this process. After a failed write (*write_error set) or a refusal of the
 * filter (*refused set) the rest of the stream is read and dropped.
 * Return: 0 when the stream ended properly (DATA 0), or -errno: -EPROTO for a
 * malformed chunk, -EPIPE when the client is gone.
 */
static int serve_copy_stream(struct serve *sv, int fd, const struct conn_filter *filter,
			     uint64_t *bytes, int *write_error, bool *refused)
{
	for (;;) {
		char *line, *end;
		unsigned long long n;
		int r;

		r = conn_read_short_line(&sv->c, &line);
		if (r < 0)
			return r;
		if (!startswith(line, "DATA "))
			return -EPROTO;
		errno = 0;
		n = strtoull(line + 5, &end, 10);
		if (errno || *end || end == line + 5 || line[5] == '-' || n > PROTO_CHUNK_MAX)
			return -EPROTO;
		if (n == 0)
			return 0;
		if (filter)
			r = conn_splice_out_filtered(&sv->c, fd, (size_t)n, filter, write_error,
						     refused);
		else
			r = conn_splice_out(&sv->c, fd, (size_t)n, write_error);
		if (r < 0)
			return r;
		*bytes += n;
	}
}

/* Reads and drops a stream that is refused anyway. Return: as serve_copy_stream(). */
static int serve_drop_stream(struct serve *sv)
{
	uint64_t bytes = 0;
	int write_error = 0;
	bool refused = false;

	return serve_copy_stream(sv, -1, NULL, &bytes, &write_error, &refused);
}

/*
 * The last step of a receive: info.json into the staging directory, then the
 * one rename that gives the copy its NAME, and the reply.
 */
static int serve_commit(struct serve *sv, int vfd, int nfd, const char *staging,
			const char *volume, const char *name, struct snapshot *s, uint64_t bytes)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	_cleanup_free_ char *info = NULL;
	int r;

	/* sent_to is the source's business; the copy records what it is. */
	while (s->n_sent > 0)
		snapshot_sent_remove(s, s->sent[0].target);
	info = meta_format_info(s, volume);
	if (!info)
		return -ENOMEM;
	/* On btrfs, beside a received subvolume, the btrfs-aware writer (one commit). */
	r = s->image ? write_file_atomic_at(nfd, META_FILE, info, strlen(info), 0644)
		     : write_file_atomic_btrfs_at(nfd, META_FILE, info, strlen(info), 0644);
	if (r == 0 && renameat(vfd, staging, vfd, name) < 0)
		r = -errno;
	if (r == 0 && fsync(vfd) < 0)
		r = -errno;
	if (r < 0) {
		serve_remove_staged(vfd, volume, staging);
		return serve_reply_err(sv, "%s: cannot store '%s': %s", volume, name, strerror(-r));
	}
	o = json_object_new_object();
	if (!o || meta_add(o, "name", json_object_new_string(name)) < 0 ||
	    meta_add(o, "bytes", json_object_new_int64((int64_t)bytes)) < 0)
		return -ENOMEM;
	return serve_reply_ok(sv, o);
}

/* Whether @vfd holds anything but dot entries (copies of another kind). */
static bool serve_volume_used(int vfd)
{
	DIR *d = serve_opendir(vfd);
	struct dirent *de;
	bool used = false;

	if (!d)
		return true;
	while (!used && (de = readdir(d)))
		used = de->d_name[0] != '.';
	closedir(d);
	return used;
}

/* Makes .incoming.NAME afresh and opens it. Return: its fd or -errno. */
static int serve_stage(int vfd, const char *volume, const char *staging)
{
	serve_remove_staged(vfd, volume, staging);
	if (mkdirat(vfd, staging, 0700) < 0)
		return -errno;
	return open_beneath(vfd, staging, O_RDONLY | O_DIRECTORY, 0);
}

/*
 * RECEIVE of a block stream into VOLUME/.incoming.NAME/{image,delta}: stored,
 * fsynced, then read back and verified (checksums, and a delta's parent uuid
 * against its base's copy) before info.json is written and NAME appears.
 */
static int serve_receive_block(struct serve *sv, int vfd, const char *volume, const char *name,
			       struct snapshot *s)
{
	_cleanup_close_ int nfd = -1, fd = -1;
	_cleanup_free_ char *base_uuid = NULL;
	char staging[STAGING_MAX];
	const char *file = s->image ? serve_block_file(s->image) : "image";
	struct blockstream_expect x = { .volume = volume, .uuid = s->uuid };
	struct rerr e = { 0 };
	int r, write_error = 0;
	uint64_t bytes = 0;
	const char *why = NULL;
	bool refused = false;

	if (!s->image)
		why = "this volume holds block copies, not btrfs ones";
	else if (!s->uuid)
		why = "a block copy needs a uuid";
	else if (!serve_is_block(vfd) && serve_volume_used(vfd))
		why = "this volume holds btrfs copies, not block ones";
	if (!why && s->base) {
		struct snapshot_list l = { 0 };

		/* A delta is only useful on top of its base: refuse it without one. */
		if (serve_list_block(vfd, volume, &l) == 0)
			for (size_t i = 0; i < l.n; i++)
				if (l.items[i].complete && streq(l.items[i].name, s->base))
					base_uuid = xstrdup_or_null(l.items[i].uuid);
		snapshot_list_clear(&l);
		if (!base_uuid)
			why = "its base is not here";
		x.parent_uuid = base_uuid;
	}
	if (why) {
		r = serve_drop_stream(sv);
		return r < 0 ? r : serve_reply_err(sv, "%s: cannot receive '%s': %s", volume, name,
						   why);
	}
	if (!serve_is_block(vfd)) {
		_cleanup_close_ int m = open_beneath(vfd, BLOCK_MARK, O_WRONLY | O_CREAT, 0600);

		if (m < 0)
			write_error = -m;
		else if (fsync(vfd) < 0)
			write_error = errno;
	}
	snprintf(staging, sizeof(staging), INCOMING_PREFIX "%s", name);
	if (!write_error) {
		nfd = serve_stage(vfd, volume, staging);
		fd = nfd < 0 ? nfd : open_beneath(nfd, file, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd < 0)
			write_error = -fd;
	}
	r = serve_copy_stream(sv, fd, NULL, &bytes, &write_error, &refused);
	if (r < 0) {
		serve_remove_staged(vfd, volume, staging);
		return r;
	}
	if (!write_error && fsync(fd) < 0)
		write_error = errno;
	if (write_error) {
		serve_remove_staged(vfd, volume, staging);
		return serve_reply_err(sv, "%s: receiving '%s' failed: %s", volume, name,
				       strerror(write_error));
	}
	if (lseek(fd, 0, SEEK_SET) < 0 ||
	    blockstream_apply(fd, -1, &x, 0, NULL, NULL, NULL, NULL, &e) < 0) {
		serve_remove_staged(vfd, volume, staging);
		return serve_reply_err(sv, "%s: '%s' arrived damaged or not as announced: %s",
				       volume, name, e.msg[0] ? e.msg : strerror(errno));
	}
	return serve_commit(sv, vfd, nfd, staging, volume, name, s, bytes);
}

/* A copy here that a stream may take a parent or clone source from, as checked. */
struct serve_source {
	uint8_t uuid[UUID_SIZE];	/* its source's uuid: its received uuid */
	int fd;				/* its subvolume; -1 when refused */
	uint8_t own_uuid[UUID_SIZE];	/* the subvolume's own uuid */
	char why[200];			/* why it may not be used; "" when it may */
};

/* One btrfs RECEIVE under way. */
struct serve_rx {
	int vfd;
	const struct snapshot_list *copies;	/* borrowed: this volume's copies */
	struct serve_source *src;
	size_t n_src;
	struct sendcheck *check;
	struct rerr refusal;			/* the checker's reason */
};

static void serve_rx_done(struct serve_rx *rx)
{
	for (size_t i = 0; i < rx->n_src; i++)
		if (rx->src[i].fd >= 0)
			close(rx->src[i].fd);
	free(rx->src);
	rx->src = NULL;
	rx->n_src = 0;
	rx->check = sendcheck_free(rx->check);
}

/*
 * The copy received as @uuid, checked once: complete, here, and the one
 * `btrfs receive` would find for that uuid (the first subvolume of the whole
 * filesystem with it as received uuid, which could be another's).
 * Return: the entry (also for a refused one), or NULL (ENOMEM).
 */
static struct serve_source *serve_rx_source(struct serve_rx *rx, const uint8_t uuid[UUID_SIZE])
{
	struct btrfs_util_subvolume_info si;
	struct serve_source *x, *grown;
	const struct snapshot *copy = NULL;
	char u[UUID_STRING_LEN + 1], path[SNAP_NAME_MAX + 16];
	uint64_t owner;
	int r;

	for (size_t i = 0; i < rx->n_src; i++)
		if (memcmp(rx->src[i].uuid, uuid, UUID_SIZE) == 0)
			return &rx->src[i];
	grown = realloc(rx->src, (rx->n_src + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	rx->src = grown;
	x = &rx->src[rx->n_src++];
	*x = (struct serve_source){ .fd = -1 };
	memcpy(x->uuid, uuid, UUID_SIZE);
	uuid_format(uuid, u);
	for (size_t i = 0; i < rx->copies->n; i++) {
		const struct snapshot *c = &rx->copies->items[i];

		if (c->complete && !c->foreign && c->uuid && strcasecmp(c->uuid, u) == 0)
			copy = c;
	}
	if (!copy) {
		snprintf(x->why, sizeof(x->why), "not a copy of this volume here");
		return x;
	}
	snprintf(path, sizeof(path), "%s/snapshot", copy->name);
	x->fd = open_beneath(rx->vfd, path, O_RDONLY | O_DIRECTORY, 0);
	if (x->fd < 0) {
		snprintf(x->why, sizeof(x->why), "cannot open its copy '%s': %s", copy->name,
			 strerror(-x->fd));
	} else if (btrfs_util_subvolume_info_fd(x->fd, 0, &si) != BTRFS_UTIL_OK) {
		snprintf(x->why, sizeof(x->why), "its copy '%s' is not a subvolume", copy->name);
	} else if (memcmp(si.received_uuid, uuid, UUID_SIZE) != 0) {
		snprintf(x->why, sizeof(x->why), "its copy '%s' was received as another snapshot",
			 copy->name);
	} else if ((r = btrfs_received_owner(x->fd, uuid, &owner)) < 0) {
		snprintf(x->why, sizeof(x->why), "cannot look it up on this filesystem: %s",
			 strerror(-r));
	} else if (owner != si.id) {
		snprintf(x->why, sizeof(x->why), "another subvolume of this filesystem was "
			 "received as the same snapshot, and btrfs receive would take that one");
	} else {
		memcpy(x->own_uuid, si.uuid, UUID_SIZE);
		return x;
	}
	if (x->fd >= 0) {
		close(x->fd);
		x->fd = -1;
	}
	return x;
}

static int serve_rx_source_ok(void *user, const uint8_t uuid[UUID_SIZE], bool parent,
			      struct rerr *e)
{
	struct serve_source *x = serve_rx_source(user, uuid);

	(void) parent;
	if (!x)
		return rerr_set(e, ENOMEM, "out of memory");
	return x->why[0] ? rerr_set(e, EPERM, "%s", x->why) : 0;
}

/* A CLONE may read a regular file of the source copy, reached without any symlink. */
static int serve_rx_clone_path_ok(void *user, const uint8_t uuid[UUID_SIZE], const char *path,
				  struct rerr *e)
{
	struct serve_source *x = serve_rx_source(user, uuid);
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (!x)
		return rerr_set(e, ENOMEM, "out of memory");
	if (x->why[0])
		return rerr_set(e, EPERM, "%s", x->why);
	fd = open_beneath(x->fd, path, O_PATH, 0);
	if (fd < 0)
		return rerr_set(e, -fd, "not a file of that copy (%s)", fd == -ELOOP ?
				"through a symlink" : strerror(-fd));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return rerr_set(e, EPERM, "not a regular file of that copy");
	return 0;
}

static size_t serve_rx_next(void *user, bool *inspect)
{
	struct serve_rx *rx = user;

	return sendcheck_next(rx->check, inspect);
}

static int serve_rx_feed(void *user, const void *buf, size_t len)
{
	struct serve_rx *rx = user;

	return sendcheck_feed(rx->check, buf, len, &rx->refusal);
}

static void serve_rx_pass(void *user, size_t len)
{
	struct serve_rx *rx = user;

	sendcheck_pass(rx->check, len);
}

/*
 * What `btrfs receive` left in the staging directory must be exactly the
 * announced copy: one read-only subvolume named "snapshot", received as @uuid,
 * a snapshot of the announced parent's copy. Return: NULL, or why not (in @buf).
 */
static const char *serve_rx_verify(struct serve_rx *rx, int nfd, const uint8_t uuid[UUID_SIZE],
				   char *buf, size_t len)
{
	const uint8_t *parent = sendcheck_parent(rx->check);
	_cleanup_close_ int fd = -1;
	struct btrfs_util_subvolume_info si;
	char got[UUID_STRING_LEN + 1], want[UUID_STRING_LEN + 1];
	struct dirent *de;
	bool ro = false;
	DIR *d;

	d = serve_opendir(nfd);
	if (!d) {
		snprintf(buf, len, "cannot read its staging directory: %m");
		return buf;
	}
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
		    !streq(de->d_name, "snapshot")) {
			snprintf(buf, len, "the stream left '%.100s' beside its subvolume",
				 de->d_name);
			closedir(d);
			return buf;
		}
	closedir(d);
	fd = open_beneath(nfd, "snapshot", O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0 || btrfs_util_subvolume_info_fd(fd, 0, &si) != BTRFS_UTIL_OK ||
	    !serve_is_subvolume(fd))
		return "the stream held no subvolume 'snapshot'";
	if (memcmp(si.received_uuid, uuid, UUID_SIZE) != 0) {
		uuid_format(si.received_uuid, got);
		uuid_format(uuid, want);
		snprintf(buf, len, "it arrived with received_uuid %s, expected %s", got, want);
		return buf;
	}
	if (btrfs_util_get_subvolume_read_only_fd(fd, &ro) != BTRFS_UTIL_OK || !ro)
		return "its subvolume was not made read-only: the receive did not finish";
	if (parent) {
		struct serve_source *x = serve_rx_source(rx, parent);

		if (!x || x->why[0] || memcmp(si.parent_uuid, x->own_uuid, UUID_SIZE) != 0)
			return "it was received on another parent than the one it announced";
	}
	return NULL;
}

/*
 * RECEIVE of a btrfs stream: checked as it passes, into a confined `btrfs
 * receive` in .incoming.NAME, verified, then committed.
 */
static int serve_receive_btrfs(struct serve *sv, int vfd, const char *volume, const char *name,
			       struct snapshot *s)
{
	struct serve_rx rx = { .vfd = vfd };
	struct snapshot_list copies = { 0 };
	const struct conn_filter filter = { .next = serve_rx_next, .feed = serve_rx_feed,
					    .pass = serve_rx_pass, .user = &rx };
	struct sendcheck_opts opts = { .subvol = "snapshot", .source_ok = serve_rx_source_ok,
				       .clone_path_ok = serve_rx_clone_path_ok, .user = &rx };
	char staging[STAGING_MAX], dest[PATH_MAX + STAGING_MAX], vdir[PATH_MAX], why[300], msg[400];
	_cleanup_close_ int nfd = -1;
	uint8_t uuid[UUID_SIZE];
	struct receive rc = { .in = -1, .err_fd = -1 };
	struct rerr e = { 0 };
	int r, status, write_error = 0;
	bool refused = false, started = false;
	uint64_t bytes = 0;
	const char *bad = NULL;

	if (!s->uuid || uuid_parse(s->uuid, uuid) < 0) {
		r = serve_drop_stream(sv);
		return r < 0 ? r : serve_reply_err(sv, "%s: cannot receive '%s': a btrfs copy "
						   "needs the uuid of its source", volume, name);
	}
	if (serve_list_volume(sv, vfd, volume, &copies) < 0) {
		r = serve_drop_stream(sv);
		return r < 0 ? r : 0;	/* ERR sent */
	}
	for (size_t i = 0; i < copies.n && !bad; i++)
		if (copies.items[i].complete && copies.items[i].uuid &&
		    strcasecmp(copies.items[i].uuid, s->uuid) == 0)
			bad = copies.items[i].name;
	if (bad) {
		snprintf(msg, sizeof(msg), "%s: cannot receive '%s': '%s' is a copy of the same "
			 "snapshot", volume, name, bad);
		snapshot_list_clear(&copies);
		r = serve_drop_stream(sv);
		return r < 0 ? r : serve_reply_err(sv, "%s", msg);
	}
	rx.copies = &copies;
	opts.uuid = uuid;
	rx.check = sendcheck_new(&opts);
	snprintf(staging, sizeof(staging), INCOMING_PREFIX "%s", name);
	snprintf(vdir, sizeof(vdir), "%s/%s", sv->root, volume);
	snprintf(dest, sizeof(dest), "%s/%s", vdir, staging);
	nfd = rx.check ? serve_stage(vfd, volume, staging) : -ENOMEM;
	if (nfd < 0)
		write_error = -nfd;
	else if (!serve_is_subvolume(vfd))	/* serve_session() made it one */
		write_error = -rerr_set(&e, ENOTDIR, "'%s' is not a subvolume", vdir);
	else if (receive_start(&rc, dest, vdir, vfd, &e) < 0)
		write_error = e.code ?: EIO;
	else
		started = true;
	if (started)
		(void) fcntl(rc.in, F_SETPIPE_SZ, SERVE_PIPE);
	r = serve_copy_stream(sv, started ? rc.in : -1, rx.check ? &filter : NULL, &bytes,
			      &write_error, &refused);
	if (r == 0 && !refused && !write_error && rx.check &&
	    sendcheck_finish(rx.check, &rx.refusal) < 0)
		refused = true;
	/* A refused stream must not finish: the receive is killed, not told the end. */
	status = started ? receive_finish(&rc, r < 0 || refused, why, sizeof(why)) : -1;
	if (r < 0 || refused || write_error || status != 0) {
		serve_remove_staged(vfd, volume, staging);
		if (r < 0)
			; /* the client is gone or broke the protocol: nothing to reply to */
		else if (refused)
			r = serve_reply_err(sv, "%s: refused the stream of '%s': %s", volume, name,
					    rx.refusal.msg);
		else if (!started)
			r = serve_reply_err(sv, "%s: cannot receive '%s': %s%s%s", volume, name,
					    e.msg[0] ? e.msg : "", e.msg[0] ? ": " : "",
					    strerror(write_error));
		else if (status != 0)
			r = serve_reply_err(sv, "%s: btrfs receive of '%s' failed (exit status %d)%s%s",
					    volume, name, status, why[0] ? ": " : "", why);
		else
			r = serve_reply_err(sv, "%s: receiving '%s' failed: %s", volume, name,
					    strerror(write_error));
		serve_rx_done(&rx);
		snapshot_list_clear(&copies);
		return r;
	}
	bad = serve_rx_verify(&rx, nfd, uuid, msg, sizeof(msg));
	if (bad) {
		serve_remove_staged(vfd, volume, staging);
		r = serve_reply_err(sv, "%s: refused '%s': %s", volume, name, bad);
	} else {
		r = serve_commit(sv, vfd, nfd, staging, volume, name, s, bytes);
	}
	serve_rx_done(&rx);
	snapshot_list_clear(&copies);
	return r;
}

static int serve_cmd_receive(struct serve *sv, const char *volume_arg, const char *name_arg,
			     const char *info_arg)
{
	/* The request line lives in the connection's buffer, which the stream reuses. */
	char volume[VOLUME_NAME_MAX + 1], name[SNAP_NAME_MAX + 1];
	_cleanup_free_ char *info_text = NULL;
	_cleanup_close_ int vfd = -1;
	struct snapshot s = { 0 };
	int r, parse = -EINVAL;
	struct stat st;

	snprintf(volume, sizeof(volume), "%s", volume_arg);
	snprintf(name, sizeof(name), "%s", name_arg);
	if (strlen(info_arg) <= META_MAX_SIZE) {
		info_text = strdup(info_arg);
		if (!info_text)
			return -ENOMEM;
		parse = meta_parse_info(volume, name, info_text, &s);
	}
	r = parse < 0 ? parse : serve_session(sv, volume, true, true);
	if (r < 0) {
		snapshot_done(&s);
		/* Stay in step with the client: take its stream, then refuse. */
		r = serve_drop_stream(sv);
		if (r < 0)
			return r;
		if (parse < 0)
			return serve_reply_err(sv, "%s: '%s': the info.json sent is not valid", volume,
					       name);
		return 0;	/* serve_session replied */
	}
	vfd = serve_open_volume(sv, volume);
	if (vfd < 0 || fstatat(vfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		int err = vfd < 0 ? -vfd : EEXIST;

		snapshot_done(&s);
		r = serve_drop_stream(sv);
		if (r < 0)
			return r;
		return serve_reply_err(sv, "%s: cannot receive '%s': %s", volume, name,
				       strerror(err));
	}
	if (s.image || serve_is_block(vfd)) {
		r = serve_receive_block(sv, vfd, volume, name, &s);
	} else if (!sv->btrfs) {
		r = serve_drop_stream(sv);
		if (r == 0)
			r = serve_reply_err(sv, "%s: cannot receive '%s': --root %s is not on btrfs",
					    volume, name, sv->root);
	} else {
		r = serve_receive_btrfs(sv, vfd, volume, name, &s);
	}
	snapshot_done(&s);
	return r;
}

static int serve_cmd_delete(struct serve *sv, const char *volume, const char *name)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	_cleanup_close_ int vfd = -1, snap = -1;
	struct snapshot_list l = { 0 };
	struct btrfs_util_subvolume_info si;
	char path[SNAP_NAME_MAX + 16];
	const struct snapshot *s = NULL;
	const char *needed_by = NULL;
	bool foreign = false;
	int r;

	if (!o)
		return -ENOMEM;
	r = serve_open_listed(sv, volume, true, &vfd, &l);
	if (r == 0)
		return serve_reply_err(sv, "%s: no copy '%s' here", volume, name);
	if (r < 0)
		return r == -EPIPE ? r : 0;
	r = 0;
	for (size_t i = 0; i < l.n; i++)
		if (streq(l.items[i].name, name) && l.items[i].complete && !l.items[i].foreign)
			s = &l.items[i];
	if (serve_is_block(vfd)) {
		/* Received here by construction; but never break another copy's chain. */
		for (size_t i = 0; i < l.n; i++)
			if (l.items[i].complete && l.items[i].base && streq(l.items[i].base, name))
				needed_by = l.items[i].name;
	} else if (s) {
		snprintf(path, sizeof(path), "%s/snapshot", name);
		snap = open_beneath(vfd, path, O_RDONLY | O_DIRECTORY, 0);
		if (snap < 0 || btrfs_util_subvolume_info_fd(snap, 0, &si) != BTRFS_UTIL_OK ||
		    memcmp(si.received_uuid, (uint8_t[UUID_SIZE]){ 0 }, UUID_SIZE) == 0)
			foreign = true;
	}
	if (!s)
		r = serve_reply_err(sv, "%s: no copy '%s' here", volume, name);
	else if (foreign)
		r = serve_reply_err(sv, "%s: '%s' was not received here, not deleting it", volume,
				    name);
	else if (needed_by)
		r = serve_reply_err(sv, "%s: '%s' is the base of '%s', not deleting it", volume,
				    name, needed_by);
	else if ((r = serve_retire(vfd, volume, name)) < 0)
		r = serve_reply_err(sv, "%s: cannot delete '%s': %s", volume, name, strerror(-r));
	else if (meta_add(o, "deleted", json_object_new_string(name)) < 0)
		r = -ENOMEM;
	else
		r = serve_reply_ok(sv, o);
	snapshot_list_clear(&l);
	return r;
}

/* FETCH VOLUME NAME: "OK {info}", then the stored stream of a block copy in chunks. */
static int serve_cmd_fetch(struct serve *sv, const char *volume, const char *name)
{
	_cleanup_(json_object_putp) struct json_object *info = NULL;
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int vfd = -1, fd = -1;
	struct snapshot_list l = { 0 };
	const struct snapshot *s = NULL;
	char file[SNAP_NAME_MAX + 16];
	struct stat st;
	int r;

	r = serve_open_listed(sv, volume, false, &vfd, &l);
	if (r < 0)
		return r == -EPIPE ? r : 0;
	if (r == 0 || !serve_is_block(vfd)) {
		snapshot_list_clear(&l);
		return serve_reply_err(sv, "%s: no block copy '%s' here", volume, name);
	}
	for (size_t i = 0; i < l.n; i++)
		if (l.items[i].complete && streq(l.items[i].name, name))
			s = &l.items[i];
	if (s) {
		snprintf(file, sizeof(file), "%s/%s", name, serve_block_file(s->image));
		fd = open_beneath(vfd, file, O_RDONLY, 0);
		if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
			close(fd);
			fd = -EINVAL;
		}
		info = meta_info_object(s, volume);
	}
	snapshot_list_clear(&l);
	if (!s)
		return serve_reply_err(sv, "%s: no block copy '%s' here", volume, name);
	if (fd < 0)
		return serve_reply_err(sv, "%s: cannot open '%s': %s", volume, file, strerror(-fd));
	buf = malloc(PROTO_CHUNK_MAX);
	if (!info || !buf)
		return -ENOMEM;
	r = serve_reply_ok(sv, info);
	for (ssize_t n; r >= 0; ) {
		n = read(fd, buf, PROTO_CHUNK_MAX);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			/* The client's blockstream reader sees a truncated stream and refuses it. */
			return serve_reply_err(sv, "%s: reading '%s' failed: %m", volume, file);
		r = conn_write_chunk(&sv->c, buf, (size_t)n);
		if (n == 0)
			break;
	}
	return r;
}

static int serve_cmd_info(struct serve *sv)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	struct statvfs st;

	if (!o || fstatvfs(sv->root_fd, &st) < 0)
		return -ENOMEM;
	if (meta_add(o, "protocol", json_object_new_int(PROTO_VERSION)) < 0 ||
	    meta_add(o, "version", json_object_new_string(SNAPROTATE_VERSION)) < 0 ||
	    meta_add(o, "root", json_object_new_string(sv->root)) < 0 ||
	    meta_add(o, "avail", json_object_new_int64((int64_t)(st.f_bavail * st.f_frsize))) < 0)
		return -ENOMEM;
	return serve_reply_ok(sv, o);
}

/* Splits "WORD WORD ..." in place; the last word takes the rest of the line. */
static size_t serve_split(char *line, char **words, size_t max)
{
	size_t n = 0;

	while (*line && n < max) {
		words[n++] = line;
		if (n == max)
			break;
		line = strchr(line, ' ');
		if (!line)
			break;
		*line++ = '\0';
	}
	return n;
}

static bool serve_names_valid(const char *volume, const char *name)
{
	return volume_name_valid(volume) && (!name || snap_name_parse(volume, name, NULL, NULL) == 0);
}

int serve_main(const char *root, int in, int out, struct rerr *e)
{
	struct serve sv = { .root = root, .root_fd = -1, .lock_fd = -1 };
	struct statfs sf;
	int r = 0;

	if (root[0] != '/')
		return rerr_set(e, EINVAL, "--root '%s' must be an absolute path", root);
	sv.root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sv.root_fd < 0)
		return rerr_set(e, errno, "cannot open --root '%s'", root);
	if (fstatfs(sv.root_fd, &sf) < 0) {
		close(sv.root_fd);
		return rerr_set(e, errno, "cannot stat --root '%s'", root);
	}
	/* Block copies (LVM) can live on any filesystem; btrfs ones need btrfs. */
	sv.btrfs = sf.f_type == BTRFS_SUPER_MAGIC;
	if (conn_init(&sv.c, in, out) < 0) {
		close(sv.root_fd);
		return rerr_set(e, ENOMEM, "out of memory");
	}
	sv.c.line_max = SERVE_LINE_MAX;
	(void) fcntl(in, F_SETPIPE_SZ, SERVE_PIPE);	/* EBADF unless a pipe */
	r = conn_printf(&sv.c, PROTO_GREETING " %d\n", PROTO_VERSION);
	while (r >= 0) {
		char *line, *w[4];
		size_t n;

		r = conn_read_line(&sv.c, &line);
		if (r == -EPIPE) {
			r = 0;
			break;
		}
		if (r == -E2BIG) {
			/* Where the next request would start is lost: say why, and end. */
			r = serve_reply_err(&sv, "request longer than %d bytes, ending the session",
					    SERVE_LINE_MAX);
			if (r >= 0)
				r = -E2BIG;
			break;
		}
		if (r < 0)
			break;
		n = serve_split(line, w, ARRAY_SIZE(w));
		DBG(SEND, "serve: %s", n ? w[0] : "(empty)");
		if (n == 1 && streq(w[0], "QUIT")) {
			break;
		} else if (n == 1 && streq(w[0], "INFO")) {
			r = serve_cmd_info(&sv);
		} else if (n == 2 && streq(w[0], "LIST")) {
			r = serve_names_valid(w[1], NULL) ? serve_cmd_list(&sv, w[1])
			    : serve_reply_err(&sv, "bad volume name");
		} else if (n == 4 && streq(w[0], "RECEIVE")) {
			if (serve_names_valid(w[1], w[2])) {
				r = serve_cmd_receive(&sv, w[1], w[2], w[3]);
			} else {
				/* Refused, but the stream must still be read to stay in step. */
				r = serve_drop_stream(&sv);
				if (r >= 0)
					r = serve_reply_err(&sv, "bad volume or snapshot name");
			}
		} else if (n == 3 && streq(w[0], "FETCH")) {
			r = serve_names_valid(w[1], w[2]) ? serve_cmd_fetch(&sv, w[1], w[2])
			    : serve_reply_err(&sv, "bad volume or snapshot name");
		} else if (n == 3 && streq(w[0], "DELETE")) {
			r = serve_names_valid(w[1], w[2]) ? serve_cmd_delete(&sv, w[1], w[2])
			    : serve_reply_err(&sv, "bad volume or snapshot name");
		} else {
			r = serve_reply_err(&sv, "unknown request");
		}
	}
	if (sv.lock_fd >= 0)
		close(sv.lock_fd);
	close(sv.root_fd);
	conn_done(&sv.c);
	if (r < 0 && r != -EPIPE)
		return rerr_set(e, r, "serve: the session ended with an error");
	return 0;
}
