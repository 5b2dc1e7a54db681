/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Block copies (LVM volumes): VOLUME/NAME/image (a whole block stream) or
 * VOLUME/NAME/delta (the changes since the copy its info.json names as
 * "base"), + info.json, in a volume directory marked by ".block", on any
 * filesystem. A stream is verified end to end (every checksum, and a delta's
 * parent uuid against its base's) before info.json appears and NAME gets its
 * name.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/store.h"
#include "base/util.h"
#include "format/blockstream.h"
#include "format/meta.h"
#include "model/stamp.h"

#include "store_internal.h"

/* The data file of a block copy, by its image kind. */
static const char *block_file(const char *image)
{
	return image && streq(image, "delta") ? "delta" : "image";
}

static bool block_holds(const struct store_dir *d)
{
	return store_block_marked(d->vfd);
}

/* One entry of the directory: a NAME with a valid info.json that says what it is, and that data file, is complete. */
static int block_entry(const struct store_dir *d, const char *name, struct snapshot *s)
{
	_cleanup_free_ char *text = NULL;
	char file[NAME_MAX + 16];	/* @name is a directory entry's */
	struct stat st;

	*s = (struct snapshot){ 0 };
	if (strlen(name) > SNAP_NAME_MAX || snap_name_parse(d->volume, name, &s->created, &s->seq) < 0 ||
	    fstatat(d->vfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
		/* Not ours (a symlink never is): listed, never used. */
		s->foreign = true;
	} else {
		snprintf(file, sizeof(file), "%s/" META_FILE, name);
		if (read_regular_beneath(d->vfd, file, META_MAX_SIZE, &text, NULL) == 0 &&
		    meta_parse_info(d->volume, name, text, s) == 0 && s->image) {
			_cleanup_close_ int fd = -1;

			snprintf(file, sizeof(file), "%s/%s", name, block_file(s->image));
			fd = open_beneath(d->vfd, file, O_PATH, 0);
			s->complete = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
		} else {
			snapshot_done(s);
			*s = (struct snapshot){ 0 };
			(void) snap_name_parse(d->volume, name, &s->created, &s->seq);
		}
	}
	s->name = s->name ?: strdup(name);
	return s->name ? 0 : -ENOMEM;
}

static int block_list(const struct store_dir *d, struct snapshot_list *ret, struct rerr *e)
{
	struct snapshot_list l = { 0 };
	struct dirent *de;
	DIR *x;

	x = store_opendir(d->vfd);
	if (!x)
		return rerr_set(e, errno, "cannot list '%s/%s'", d->root, d->volume);
	while ((de = readdir(x))) {
		struct snapshot s;

		if (de->d_name[0] == '.')
			continue;
		if (block_entry(d, de->d_name, &s) < 0 || snapshot_list_append(&l, &s) < 0) {
			snapshot_done(&s);
			snapshot_list_clear(&l);
			closedir(x);
			return rerr_set(e, ENOMEM, "cannot list '%s/%s'", d->root, d->volume);
		}
	}
	closedir(x);
	snapshot_list_sort(&l);
	*ret = l;
	return 0;
}

/* Why @s cannot be received here; NULL when it can. Sets *@ret_base_uuid for a delta. */
static const char *block_refusal(const struct store_dir *d, const struct snapshot *s,
				 char **ret_base_uuid)
{
	_cleanup_snapshot_list_ struct snapshot_list l = { 0 };
	struct rerr e = { 0 };

	if (!s->image)
		return "this volume holds block copies, not btrfs ones";
	if (!s->uuid)
		return "a block copy needs a uuid";
	if (!store_block_marked(d->vfd) && store_dir_used(d->vfd))
		return "this volume holds btrfs copies, not block ones";
	if (!s->base)
		return NULL;
	/* A delta is only useful on top of its base: refuse it without one. */
	if (block_list(d, &l, &e) == 0)
		for (size_t i = 0; i < l.n; i++)
			if (l.items[i].complete && streq(l.items[i].name, s->base))
				*ret_base_uuid = xstrdup_or_null(l.items[i].uuid);
	return *ret_base_uuid ? NULL : "its base is not here";
}

/*
 * Into VOLUME/.incoming.NAME/{image,delta}: stored, fsynced, then read back
 * and verified (checksums, and a delta's parent uuid against its base's copy)
 * before info.json is written and NAME appears.
 */
static int block_receive(const struct store_dir *d, const char *name, struct snapshot *s,
			 struct stream_in *in, uint64_t *ret_bytes, struct rerr *e)
{
	_cleanup_close_ int nfd = -1, fd = -1;
	_cleanup_free_ char *base_uuid = NULL;
	char staging[STORE_STAGING_MAX];
	struct blockstream_expect x = { .volume = d->volume, .uuid = s->uuid };
	struct rerr ae = { 0 };
	int r, write_error = 0;
	uint64_t bytes = 0;
	const char *why;
	bool refused = false;

	why = block_refusal(d, s, &base_uuid);
	if (why)
		return rerr_set(e, EINVAL, "%s: cannot receive '%s': %s", d->volume, name, why);
	x.parent_uuid = base_uuid;
	if (!store_block_marked(d->vfd)) {
		_cleanup_close_ int m = open_beneath(d->vfd, STORE_BLOCK_MARK, O_WRONLY | O_CREAT, 0600);

		if (m < 0)
			write_error = -m;
		else if (fsync(d->vfd) < 0)
			write_error = errno;
	}
	snprintf(staging, sizeof(staging), STORE_INCOMING "%s", name);
	if (!write_error) {
		nfd = store_stage(d, staging);
		fd = nfd < 0 ? nfd : open_beneath(nfd, block_file(s->image), O_RDWR | O_CREAT | O_EXCL,
						  0600);
		if (fd < 0)
			write_error = -fd;
	}
	r = in->copy(in, fd, NULL, &bytes, &write_error, &refused);
	if (r < 0) {
		store_remove_staged(d, staging);
		return r;
	}
	if (!write_error && fsync(fd) < 0)
		write_error = errno;
	if (write_error) {
		store_remove_staged(d, staging);
		return rerr_set(e, write_error, "%s: receiving '%s' failed: %s", d->volume, name,
				strerror(write_error));
	}
	if (lseek(fd, 0, SEEK_SET) < 0 ||
	    blockstream_apply(fd, -1, &x, 0, NULL, NULL, NULL, NULL, &ae) < 0) {
		store_remove_staged(d, staging);
		return rerr_set(e, EPROTO, "%s: '%s' arrived damaged or not as announced: %s",
				d->volume, name, ae.msg[0] ? ae.msg : strerror(errno));
	}
	r = store_commit(d, nfd, staging, name, s, false, e);
	if (r == 0)
		*ret_bytes = bytes;
	return r;
}

/* Received here by construction; but never break another copy's chain. */
static int block_may_delete(const struct store_dir *d, const struct snapshot_list *l,
			    const struct snapshot *s, struct rerr *e)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].complete && l->items[i].base && streq(l->items[i].base, s->name))
			return rerr_set(e, EPERM, "%s: '%s' is the base of '%s', not deleting it",
					d->volume, s->name, l->items[i].name);
	return 0;
}

/* Copies the stored file into the pipe, by splice where the kernel can. */
static int block_produce_stored(void *priv, int pipe_w)
{
	int fd = *(int *)priv;
	char buf[65536];

	for (;;) {
		ssize_t k = splice(fd, NULL, pipe_w, NULL, 1 << 20, SPLICE_F_MOVE);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EINVAL) {
			k = read(fd, buf, sizeof(buf));
			if (k > 0 && write_all(pipe_w, buf, (size_t)k) < 0)
				return -errno;
		}
		if (k < 0)
			return -errno;
		if (k == 0)
			return 0;
	}
}

static int block_open_stored(const struct store_dir *d, const struct snapshot *s,
			     struct stream_source *ret, struct rerr *e)
{
	char file[SNAP_NAME_MAX + 16];
	struct stat st;
	int fd, *p;

	snprintf(file, sizeof(file), "%s/%s", s->name, block_file(s->image));
	fd = open_beneath(d->vfd, file, O_RDONLY, 0);
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -EINVAL;
	}
	if (fd < 0)
		return rerr_say(e, -fd, "%s: cannot open '%s': %s", d->volume, file, strerror(-fd));
	p = malloc(sizeof(*p));
	if (!p) {
		close(fd);
		return rerr_set(e, ENOMEM, "out of memory");
	}
	*p = fd;
	*ret = (struct stream_source){ .produce = block_produce_stored, .priv = p };
	return 0;
}

static void block_close_stored(struct stream_source *src)
{
	if (src->priv) {
		close(*(int *)src->priv);
		free(src->priv);
	}
	*src = (struct stream_source){ 0 };
}

const struct store store_block = {
	.name = "block",
	.holds = block_holds,
	.list = block_list,
	.receive = block_receive,
	.may_delete = block_may_delete,
	.open_stored = block_open_stored,
	.close_stored = block_close_stored,
};
