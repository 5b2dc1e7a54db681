/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * btrfs copies: VOLUME/NAME/snapshot, a read-only subvolume received by a
 * confined `btrfs receive` (backends/receive.h) from a stream checked as it
 * passes (format/sendcheck.h), + info.json. VOLUME is a subvolume of its own
 * (store_make_volume() makes it so, and a plain directory of an older
 * version is converted), which is what confines a receive to it.
 *
 * What must never happen:
 *   - a stream acting outside its copy: afterwards the staging directory must
 *     hold exactly the announced, read-only subvolume, on the announced parent;
 *   - a parent or clone source that is not this volume's copy: every source
 *     the stream names is looked up here (the copy received as that uuid, and
 *     the one `btrfs receive` itself would find for it);
 *   - removing a copy that was not received here (DELETE of a subvolume
 *     without a received uuid is refused).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <btrfsutil.h>

#include "backends/backend.h"
#include "backends/receive.h"
#include "backends/store.h"
#include "base/fault.h"
#include "base/util.h"
#include "format/meta.h"
#include "format/sendcheck.h"
#include "model/stamp.h"

#include "btrfs_internal.h"
#include "store_internal.h"

/*
 * The pipe into `btrfs receive`: with the default 64 KiB every hop wakes its
 * reader and writer every 16 pages; failure only costs speed.
 */
#define BTRFS_RECEIVE_PIPE	(1024 * 1024)

/* A volume directory that is a subvolume can be the receive's own mount. */
static bool btrfs_is_subvolume_fd(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_ino == BTRFS_SUBVOL_INO;
}

static bool btrfs_store_holds(const struct store_dir *d)
{
	return d->btrfs && !store_block_marked(d->vfd);
}

/*
 * The copies of @d, listed as the btrfs backend lists a source's snapshot_dir:
 * the directory serve opened and checked (@d->vfd), never its path again.
 */
static int btrfs_store_list(const struct store_dir *d, struct snapshot_list *ret, struct rerr *e)
{
	char dir[PATH_MAX];
	struct volume v = { .name = (char *)d->volume, .backend = BACKEND_BTRFS,
			    .path = (char *)d->root, .snapshot_dir = dir, .ops = &backend_btrfs };
	int fd;

	if (!d->btrfs) {
		*ret = (struct snapshot_list){ 0 };	/* nothing of btrfs can be here */
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s/%s", d->root, d->volume);
	fd = openat(d->vfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return rerr_set(e, errno, "%s: cannot open '%s'", d->volume, dir);
	return btrfs_list_at(&v, fd, ret, e);
}

#define BTRFS_CONVERT_PREFIX	".snaprotate-convert."

/* Moves one NAME of a plain volume directory into the new subvolume. */
static int btrfs_convert_entry(const struct store_dir *sd, int vfd, int nfd, const char *volume,
			       const char *name)
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
		 * btrfs_convert() makes it read-only again, also after a crash.
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
		sd->note(volume, "'%s' holds more than a copy; leaving that behind", name);
	return 0;
}

/*
 * A btrfs volume directory made by an older version is a plain directory, and
 * a receive is confined to its volume only when that is a subvolume
 * (backends/receive.h). So it is converted, under the volume's lock: a new
 * subvolume BTRFS_CONVERT_PREFIX VOLUME gets every copy (its info.json copied, its
 * snapshot subvolume moved by rename) and then takes the directory's place in
 * one exchange. Every step can be redone, so the next session finishes what a
 * crash interrupted. Return: 1 converted (the caller locks the new directory),
 * 0 nothing to do, -errno.
 */
static int btrfs_convert(const struct store_dir *sd, int vfd, const char *volume)
{
	_cleanup_close_ int nfd = -1;
	char tmp[sizeof(BTRFS_CONVERT_PREFIX) + VOLUME_NAME_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int r = 0;

	snprintf(tmp, sizeof(tmp), BTRFS_CONVERT_PREFIX "%s", volume);
	if (btrfs_is_subvolume_fd(vfd)) {
		/* Converted: what may be left is the old directory, under the temporary name. */
		if (fstatat(sd->root_fd, tmp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
		    st.st_ino != BTRFS_SUBVOL_INO) {
			_cleanup_close_ int ofd = open_beneath(sd->root_fd, tmp, O_RDONLY | O_DIRECTORY,
							       0);

			if (ofd >= 0)
				(void) unlinkat(ofd, ".lock", 0);
			if (unlinkat(sd->root_fd, tmp, AT_REMOVEDIR) < 0)
				sd->note(volume, "kept '%s/%s': it holds entries serve did not make",
					   sd->root, tmp);
		}
		return 0;
	}
	if (!sd->btrfs || store_block_marked(vfd))
		return 0;
	sd->note(volume, "converting '%s/%s' into a subvolume of its own", sd->root, volume);
	if (fstatat(sd->root_fd, tmp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		enum btrfs_util_error be = btrfs_util_create_subvolume_fd(sd->root_fd, tmp, 0, NULL,
									  NULL);

		if (be != BTRFS_UTIL_OK)
			return -(errno ?: EIO);
	}
	nfd = open_beneath(sd->root_fd, tmp, O_RDONLY | O_DIRECTORY, 0);
	if (nfd < 0)
		return nfd;
	if (!btrfs_is_subvolume_fd(nfd) || fchmod(nfd, 0700) < 0)
		return -ENOTDIR;
	d = store_opendir(vfd);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && r == 0) {
		if (snap_name_parse(volume, de->d_name, NULL, NULL) < 0 ||
		    fstatat(vfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		r = btrfs_convert_entry(sd, vfd, nfd, volume, de->d_name);
	}
	closedir(d);
	if (r < 0)
		return r;
	/* Every copy read-only again (its move made it writable for a moment). */
	d = store_opendir(nfd);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && r == 0) {
		_cleanup_close_ int snap = -1;
		char path[sizeof(de->d_name) + 16];

		if (snap_name_parse(volume, de->d_name, NULL, NULL) < 0)
			continue;
		snprintf(path, sizeof(path), "%s/snapshot", de->d_name);
		snap = open_beneath(nfd, path, O_RDONLY | O_DIRECTORY, 0);
		if (snap >= 0 && btrfs_is_subvolume_fd(snap) &&
		    btrfs_util_set_subvolume_read_only_fd(snap, true) != BTRFS_UTIL_OK)
			r = -(errno ?: EIO);
	}
	closedir(d);
	if (r < 0)
		return r;
	if (fsync(nfd) < 0 || renameat2(sd->root_fd, volume, sd->root_fd, tmp, RENAME_EXCHANGE) < 0 ||
	    fsync(sd->root_fd) < 0)
		return -errno;
	return 1;
}

/* A copy here that a stream may take a parent or clone source from, as checked. */
struct rx_source {
	uint8_t uuid[UUID_SIZE];	/* its source's uuid: its received uuid */
	int fd;				/* its subvolume; -1 when refused */
	uint8_t own_uuid[UUID_SIZE];	/* the subvolume's own uuid */
	char why[200];			/* why it may not be used; "" when it may */
};

/* One btrfs RECEIVE under way. */
struct btrfs_rx {
	int vfd;
	const struct snapshot_list *copies;	/* borrowed: this volume's copies */
	struct rx_source *src;
	size_t n_src;
	struct sendcheck *check;
	struct rerr refusal;			/* the checker's reason */
};

static void rx_done(struct btrfs_rx *rx)
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
static struct rx_source *rx_source(struct btrfs_rx *rx, const uint8_t uuid[UUID_SIZE])
{
	struct btrfs_util_subvolume_info si;
	struct rx_source *x, *grown;
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
	*x = (struct rx_source){ .fd = -1 };
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

static int rx_source_ok(void *user, const uint8_t uuid[UUID_SIZE], bool parent,
			      struct rerr *e)
{
	struct rx_source *x = rx_source(user, uuid);

	(void) parent;
	if (!x)
		return rerr_set(e, ENOMEM, "out of memory");
	return x->why[0] ? rerr_set(e, EPERM, "%s", x->why) : 0;
}

/* A CLONE may read a regular file of the source copy, reached without any symlink. */
static int rx_clone_path_ok(void *user, const uint8_t uuid[UUID_SIZE], const char *path,
				  struct rerr *e)
{
	struct rx_source *x = rx_source(user, uuid);
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

static size_t rx_next(void *user, bool *inspect)
{
	struct btrfs_rx *rx = user;

	return sendcheck_next(rx->check, inspect);
}

static int rx_feed(void *user, const void *buf, size_t len)
{
	struct btrfs_rx *rx = user;

	FAULT("receive.chunk");
	return sendcheck_feed(rx->check, buf, len, &rx->refusal);
}

static void rx_pass(void *user, size_t len)
{
	struct btrfs_rx *rx = user;

	sendcheck_pass(rx->check, len);
}

/*
 * What `btrfs receive` left in the staging directory must be exactly the
 * announced copy: one read-only subvolume named "snapshot", received as @uuid,
 * a snapshot of the announced parent's copy. Return: NULL, or why not (in @buf).
 */
static const char *rx_verify(struct btrfs_rx *rx, int nfd, const uint8_t uuid[UUID_SIZE],
				   char *buf, size_t len)
{
	const uint8_t *parent = sendcheck_parent(rx->check);
	_cleanup_close_ int fd = -1;
	struct btrfs_util_subvolume_info si;
	char got[UUID_STRING_LEN + 1], want[UUID_STRING_LEN + 1];
	struct dirent *de;
	bool ro = false;
	DIR *d;

	d = store_opendir(nfd);
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
	    !btrfs_is_subvolume_fd(fd))
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
		struct rx_source *x = rx_source(rx, parent);

		if (!x || x->why[0] || memcmp(si.parent_uuid, x->own_uuid, UUID_SIZE) != 0)
			return "it was received on another parent than the one it announced";
	}
	return NULL;
}

/*
 * Whether @s may be received here: it names its source's uuid (into @uuid),
 * and no copy here is of the same snapshot. Return: 0 with @copies (this
 * volume's), or -errno with @e.
 */
static int btrfs_rx_admit(const struct store_dir *d, const char *name, const struct snapshot *s,
			  uint8_t uuid[UUID_SIZE], struct snapshot_list *copies, struct rerr *e)
{
	struct rerr le = { 0 };
	int r;

	if (!d->btrfs)
		return rerr_set(e, EINVAL, "%s: cannot receive '%s': --root %s is not on btrfs",
				d->volume, name, d->root);
	if (!s->uuid || uuid_parse(s->uuid, uuid) < 0)
		return rerr_set(e, EINVAL, "%s: cannot receive '%s': a btrfs copy needs the uuid of "
				"its source", d->volume, name);
	r = btrfs_store_list(d, copies, &le);
	if (r < 0)
		return rerr_say(e, r, "%s: %s: %s", d->volume, le.msg, strerror(-r));
	for (size_t i = 0; i < copies->n; i++)
		if (copies->items[i].complete && copies->items[i].uuid &&
		    strcasecmp(copies->items[i].uuid, s->uuid) == 0) {
			rerr_set(e, EEXIST, "%s: cannot receive '%s': '%s' is a copy of the same "
				 "snapshot", d->volume, name, copies->items[i].name);
			snapshot_list_clear(copies);
			return -EEXIST;
		}
	return 0;
}

/* How a receive went wrong, in words for the sender. Return: -errno. */
static int btrfs_rx_failed(const struct store_dir *d, const char *name, const struct btrfs_rx *rx,
			   bool refused, bool started, int status, int write_error,
			   const struct rerr *le, const char *why, struct rerr *e)
{
	if (refused)
		return rerr_set(e, EPERM, "%s: refused the stream of '%s': %s", d->volume, name,
				rx->refusal.msg);
	if (!started)
		return rerr_set(e, write_error, "%s: cannot receive '%s': %s%s%s", d->volume, name,
				le->msg[0] ? le->msg : "", le->msg[0] ? ": " : "",
				strerror(write_error));
	if (status != 0)
		return rerr_set(e, EIO, "%s: btrfs receive of '%s' failed (exit status %d)%s%s",
				d->volume, name, status, why[0] ? ": " : "", why);
	return rerr_set(e, write_error, "%s: receiving '%s' failed: %s", d->volume, name,
			strerror(write_error));
}

/*
 * A btrfs stream: checked as it passes, into a confined `btrfs receive` in
 * .incoming.NAME, verified, then committed.
 */
static int btrfs_store_receive(const struct store_dir *d, const char *name, struct snapshot *s,
			       struct stream_in *in, uint64_t *ret_bytes, struct rerr *e)
{
	struct btrfs_rx rx = { .vfd = d->vfd };
	_cleanup_snapshot_list_ struct snapshot_list copies = { 0 };
	const struct stream_filter filter = { .next = rx_next, .feed = rx_feed, .pass = rx_pass,
					      .user = &rx };
	struct sendcheck_opts opts = { .subvol = SNAPSHOT_SUBVOL, .source_ok = rx_source_ok,
				       .clone_path_ok = rx_clone_path_ok, .user = &rx };
	char staging[STORE_STAGING_MAX], dest[PATH_MAX + STORE_STAGING_MAX], vdir[PATH_MAX];
	char why[300], msg[400];
	_cleanup_close_ int nfd = -1;
	uint8_t uuid[UUID_SIZE];
	struct receive rc = { .in = -1, .err_fd = -1 };
	struct rerr le = { 0 };
	int r, status, write_error = 0;
	bool refused = false, started = false;
	uint64_t bytes = 0;
	const char *bad;

	r = btrfs_rx_admit(d, name, s, uuid, &copies, e);
	if (r < 0)
		return r;
	rx.copies = &copies;
	opts.uuid = uuid;
	rx.check = sendcheck_new(&opts);
	snprintf(staging, sizeof(staging), STORE_INCOMING "%s", name);
	snprintf(vdir, sizeof(vdir), "%s/%s", d->root, d->volume);
	snprintf(dest, sizeof(dest), "%s/%s", vdir, staging);
	nfd = rx.check ? store_stage(d, staging) : -ENOMEM;
	if (nfd < 0)
		write_error = -nfd;
	else if (!btrfs_is_subvolume_fd(d->vfd))	/* store_make_volume() made it one */
		write_error = -rerr_set(&le, ENOTDIR, "'%s' is not a subvolume", vdir);
	else if (receive_start(&rc, dest, vdir, d->vfd, &le) < 0)
		write_error = le.code ?: EIO;
	else
		started = true;
	if (started)
		(void) fcntl(rc.in, F_SETPIPE_SZ, BTRFS_RECEIVE_PIPE);
	r = in->copy(in, started ? rc.in : -1, rx.check ? &filter : NULL, &bytes, &write_error,
		     &refused);
	if (r == 0 && !refused && !write_error && rx.check &&
	    sendcheck_finish(rx.check, &rx.refusal) < 0)
		refused = true;
	/* A refused stream must not finish: the receive is killed, not told the end. */
	status = started ? receive_finish(&rc, r < 0 || refused, why, sizeof(why)) : -1;
	bad = r < 0 || refused || write_error || status != 0 ? NULL
	      : rx_verify(&rx, nfd, uuid, msg, sizeof(msg));
	if (r < 0 || refused || write_error || status != 0 || bad) {
		store_remove_staged(d, staging);
		/* r < 0: the client is gone or broke the protocol, nothing to reply to. */
		if (r >= 0 && bad)
			r = rerr_set(e, EPERM, "%s: refused '%s': %s", d->volume, name, bad);
		else if (r >= 0)
			r = btrfs_rx_failed(d, name, &rx, refused, started, status, write_error, &le,
					    why, e);
	} else {
		r = store_commit(d, nfd, staging, name, s, true, e);
		if (r == 0)
			*ret_bytes = bytes;
	}
	rx_done(&rx);
	return r;
}

/* Only a copy received here: a subvolume with a received uuid. */
static int btrfs_store_may_delete(const struct store_dir *d, const struct snapshot_list *l,
				  const struct snapshot *s, struct rerr *e)
{
	_cleanup_close_ int snap = -1;
	struct btrfs_util_subvolume_info si;
	char path[SNAP_NAME_MAX + 16];

	(void) l;
	snprintf(path, sizeof(path), "%s/" SNAPSHOT_SUBVOL, s->name);
	snap = open_beneath(d->vfd, path, O_RDONLY | O_DIRECTORY, 0);
	if (snap < 0 || btrfs_util_subvolume_info_fd(snap, 0, &si) != BTRFS_UTIL_OK ||
	    memcmp(si.received_uuid, (uint8_t[UUID_SIZE]){ 0 }, UUID_SIZE) == 0)
		return rerr_set(e, EPERM, "%s: '%s' was not received here, not deleting it",
				d->volume, s->name);
	return 0;
}

/*
 * Once per session: an old plain volume directory converted, and the space of
 * removed copies given back. A transfer cut by a full disk leaves a large
 * deleted subvolume (removed just now, or when that receive failed) whose
 * space comes back only once the btrfs cleaner is through with it: wait for
 * that, or the next receive fails for want of the same space.
 */
static int btrfs_store_prepare(const struct store_dir *d, struct rerr *e)
{
	char dir[PATH_MAX];
	struct volume v = { .name = (char *)d->volume, .backend = BACKEND_BTRFS,
			    .path = (char *)d->root, .snapshot_dir = dir, .ops = &backend_btrfs };
	struct rerr se = { 0 };
	int r = btrfs_convert(d, d->vfd, d->volume);

	if (r < 0)
		return rerr_set(e, r, "%s: cannot convert '%s/%s' into a subvolume: %s", d->volume,
				d->root, d->volume, strerror(-r));
	if (r > 0)
		return 1;
	if (!btrfs_store_holds(d))
		return 0;
	snprintf(dir, sizeof(dir), "%s/%s", d->root, d->volume);
	if (backend_btrfs.settle(&v, 1, &se) < 0)
		d->note(d->volume, "%s: %s", se.msg, strerror(se.code));
	return 0;
}

/* A copy's whole send stream, from its received read-only subvolume (FETCH). */
static int btrfs_store_open_stored(const struct store_dir *d, const struct snapshot *s,
				   struct stream_source *ret, struct rerr *e)
{
	char path[SNAP_NAME_MAX + sizeof("/" SNAPSHOT_SUBVOL)];
	struct btrfs_send *j = calloc(1, sizeof(*j));
	int fd;

	if (!j)
		return rerr_set(e, ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "%s/%s", s->name, SNAPSHOT_SUBVOL);
	fd = open_beneath(d->vfd, path, O_RDONLY | O_DIRECTORY, 0);
	if (fd >= 0 && !btrfs_is_subvolume_fd(fd)) {
		close(fd);
		fd = -ENOTDIR;
	}
	if (fd < 0) {
		free(j);
		return rerr_say(e, -fd, "%s: cannot open '%s': %s", d->volume, path, strerror(-fd));
	}
	j->snap_fd = fd;
	*ret = (struct stream_source){ .produce = btrfs_send_produce, .priv = j };
	return 0;
}

static void btrfs_store_close_stored(struct stream_source *src)
{
	struct btrfs_send *j = src->priv;

	if (j) {
		close(j->snap_fd);
		free(j);
	}
	*src = (struct stream_source){ 0 };
}

const struct store store_btrfs = {
	.name = "btrfs",
	.holds = btrfs_store_holds,
	.list = btrfs_store_list,
	.receive = btrfs_store_receive,
	.may_delete = btrfs_store_may_delete,
	.prepare = btrfs_store_prepare,
	.open_stored = btrfs_store_open_stored,
	.close_stored = btrfs_store_close_stored,
};
