/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libmount.h>

#include "base/util.h"
#include "os/mounts.h"

DEFINE_CLEANUP_FUNC(struct libmnt_table *, mnt_unref_table)

int mounts_find(const char *path, struct mount_info *ret, struct rerr *e)
{
	_cleanup_(mnt_unref_tablep) struct libmnt_table *tb = NULL;
	struct libmnt_fs *fs;
	struct mount_info m = { 0 };

	tb = mnt_new_table_from_file("/proc/self/mountinfo");
	if (!tb)
		return rerr_set(e, errno ?: EIO, "cannot read the mount table");
	fs = mnt_table_find_mountpoint(tb, path, MNT_ITER_BACKWARD);
	if (!fs)
		return rerr_set(e, ENOENT, "cannot find the mount of '%s'", path);
	m.target = xstrdup_or_null(mnt_fs_get_target(fs));
	m.fstype = xstrdup_or_null(mnt_fs_get_fstype(fs));
	m.source = xstrdup_or_null(mnt_fs_get_srcpath(fs) ?: mnt_fs_get_source(fs));
	m.root = xstrdup_or_null(mnt_fs_get_root(fs));
	if (!m.target || !m.fstype) {
		mount_info_done(&m);
		return rerr_set(e, ENOMEM, "out of memory");
	}
	*ret = m;
	return 0;
}

void mount_info_done(struct mount_info *m)
{
	free(m->target);
	free(m->fstype);
	free(m->source);
	free(m->root);
	memset(m, 0, sizeof(*m));
}

DEFINE_CLEANUP_FUNC(struct libmnt_cache *, mnt_unref_cache)

int mounts_find_device(const char *dev, char **ret_target, struct rerr *e)
{
	_cleanup_(mnt_unref_tablep) struct libmnt_table *tb = NULL;
	_cleanup_(mnt_unref_cachep) struct libmnt_cache *cache = NULL;
	struct libmnt_fs *fs;

	tb = mnt_new_table_from_file("/proc/self/mountinfo");
	cache = mnt_new_cache();
	if (!tb || !cache)
		return rerr_set(e, errno ?: ENOMEM, "cannot read the mount table");
	/* The cache resolves symlinks, so /dev/VG/LV matches /dev/mapper/VG-LV. */
	mnt_table_set_cache(tb, cache);
	fs = mnt_table_find_source(tb, dev, MNT_ITER_BACKWARD);
	if (!fs)
		return 0;
	*ret_target = xstrdup_or_null(mnt_fs_get_target(fs));
	return *ret_target ? 1 : rerr_set(e, ENOMEM, "out of memory");
}
