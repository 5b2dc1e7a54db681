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
#include <sys/ioctl.h>
#include <unistd.h>

#include <btrfsutil.h>
#include <linux/btrfs.h>

#include "backends/backend.h"
#include "base/util.h"
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

static int btrfs_send_path(const struct volume *v, const struct snapshot *s, char *buf, size_t len,
			   struct rerr *e)
{
	int n = snprintf(buf, len, "%s/%s/" SNAPSHOT_SUBVOL, v->snapshot_dir, s->name);

	if (n < 0 || (size_t)n >= len)
		return rerr_set(e, ENAMETOOLONG, "%s: the path of '%s' is too long", v->name, s->name);
	return 0;
}

int btrfs_stream_open(const struct volume *v, const struct snapshot *s,
		      const struct snapshot *parent, struct stream_source *ret, struct rerr *e)
{
	_cleanup_free_ struct btrfs_send *j = calloc(1, sizeof(*j));
	char path[PATH_MAX];
	int r;

	if (!j)
		return rerr_set(e, ENOMEM, "out of memory");
	if (parent) {
		enum btrfs_util_error be;

		r = btrfs_send_path(v, parent, path, sizeof(path), e);
		if (r < 0)
			return r;
		be = btrfs_util_subvolume_id(path, &j->parent_id);
		if (be != BTRFS_UTIL_OK)
			return rerr_set(e, errno ?: EIO, "cannot find the parent '%s' (%s)", path,
					btrfs_util_strerror(be));
	}
	r = btrfs_send_path(v, s, path, sizeof(path), e);
	if (r < 0)
		return r;
	j->snap_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->snap_fd < 0)
		return rerr_set(e, errno, "cannot open '%s'", path);
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
