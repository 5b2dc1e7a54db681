/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A btrfs snapshot as a send stream, without a `btrfs send` process:
 * BTRFS_IOC_SEND writes the whole stream from inside the kernel, into the
 * pipe transport/send.c reads (incremental from a parent the target holds).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <btrfsutil.h>
#include <linux/btrfs.h>

#include "backends/backend.h"
#include "base/util.h"
#include "format/meta.h"
#include "model/stamp.h"
#include "btrfs_internal.h"

int btrfs_send_produce(void *priv, int pipe_w)
{
	struct btrfs_send *j = priv;
	__u64 clone = j->parent_id;
	struct btrfs_ioctl_send_args a = {
		.send_fd = pipe_w,
		.clone_sources_count = j->parent_id ? 1 : 0,
		.clone_sources = j->parent_id ? &clone : NULL,
		.parent_root = j->parent_id,
	};

	return ioctl(j->snap_fd, BTRFS_IOC_SEND, &a) < 0 ? -errno : 0;
}

/*
 * NAME/snapshot of @s, opened beneath snapshot_dir @dfd (no symlink followed,
 * not even NAME) and checked to be the subvolume its info.json names: a
 * swapped entry never sends (or serves as the parent of) another subvolume.
 * Return: its fd, or -errno with @e.
 */
static int btrfs_send_open(const struct volume *v, int dfd, const struct snapshot *s,
			   struct rerr *e)
{
	char rel[SNAP_NAME_MAX + sizeof("/" SNAPSHOT_SUBVOL)];
	struct btrfs_util_subvolume_info info;
	uint8_t want[UUID_SIZE];
	enum btrfs_util_error be;
	struct stat st;
	_cleanup_close_ int fd = -1;
	int n;

	n = snprintf(rel, sizeof(rel), "%s/" SNAPSHOT_SUBVOL, s->name);
	if (n < 0 || (size_t)n >= sizeof(rel))
		return rerr_set(e, ENAMETOOLONG, "%s: the name '%s' is too long", v->name, s->name);
	if (!s->uuid || uuid_parse(s->uuid, want) < 0)
		return rerr_set(e, EINVAL, "%s: '%s' has no valid uuid in its %s", v->name, s->name,
				META_FILE);
	fd = open_beneath(dfd, rel, O_RDONLY | O_DIRECTORY, 0);
	/* A symlink on the way is ELOOP, or ENOTDIR as the last component. */
	if (fd == -ELOOP || fd == -ENOTDIR)
		return rerr_set(e, -fd, "%s: '%s/%s' is not a subvolume (a symlink?): not sending it",
				v->name, v->snapshot_dir, rel);
	if (fd < 0)
		return rerr_set(e, -fd, "%s: cannot open '%s/%s'", v->name, v->snapshot_dir, rel);
	if (fstat(fd, &st) < 0)
		return rerr_set(e, errno, "%s: cannot read '%s/%s'", v->name, v->snapshot_dir, rel);
	if (st.st_ino != BTRFS_SUBVOL_INO)
		return rerr_set(e, ENOTDIR, "%s: '%s/%s' is not a subvolume: not sending it",
				v->name, v->snapshot_dir, rel);
	be = btrfs_util_subvolume_info_fd(fd, 0, &info);
	if (be != BTRFS_UTIL_OK)
		return rerr_set(e, errno ?: EIO, "%s: cannot read '%s/%s' (%s)", v->name,
				v->snapshot_dir, rel, btrfs_util_strerror(be));
	if (memcmp(info.uuid, want, UUID_SIZE) != 0) {
		char got[UUID_STRING_LEN + 1];

		uuid_format(info.uuid, got);
		return rerr_set(e, EINVAL, "%s: '%s/%s' is subvolume %s, not %s as its %s says: "
				"not sending it", v->name, v->snapshot_dir, rel, got, s->uuid,
				META_FILE);
	}
	return TAKE_FD(fd);
}

int btrfs_stream_open(const struct volume *v, const struct snapshot *s,
		      const struct snapshot *parent, struct stream_source *ret, struct rerr *e)
{
	_cleanup_free_ struct btrfs_send *j = calloc(1, sizeof(*j));
	_cleanup_close_ int dfd = -1, pfd = -1;

	if (!j)
		return rerr_set(e, ENOMEM, "out of memory");
	dfd = btrfs_open_dir(v, false, e);
	if (dfd < 0)
		return dfd == -ENOENT ? rerr_set(e, ENOENT, "%s: no snapshot_dir '%s'", v->name,
						  v->snapshot_dir) : dfd;
	if (parent) {
		enum btrfs_util_error be;

		pfd = btrfs_send_open(v, dfd, parent, e);
		if (pfd < 0)
			return pfd;
		be = btrfs_util_subvolume_id_fd(pfd, &j->parent_id);
		if (be != BTRFS_UTIL_OK)
			return rerr_set(e, errno ?: EIO, "%s: cannot find the parent '%s' (%s)",
					v->name, parent->name, btrfs_util_strerror(be));
	}
	j->snap_fd = btrfs_send_open(v, dfd, s, e);
	if (j->snap_fd < 0)
		return j->snap_fd;
	*ret = (struct stream_source){ .produce = btrfs_send_produce, .priv = TAKE_PTR(j),
				       .parent = parent ? parent->name : NULL };
	return 0;
}

void btrfs_stream_close(const struct volume *v, struct stream_source *src)
{
	struct btrfs_send *j = src->priv;

	(void) v;
	if (j) {
		close(j->snap_fd);
		free(j);
	}
	*src = (struct stream_source){ 0 };
}
