/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * LVM backend: thick and thin snapshots through liblvm2cmd, metadata in LV tags.
 * Not built yet: every call says so, so that a config naming an LVM volume is
 * accepted and everything else keeps working.
 */
#include <errno.h>

#include "backend.h"

static int lvm_be_unavailable(const struct volume *v, struct rerr *e)
{
	return rerr_set(e, EOPNOTSUPP, "%s: the lvm backend is not available in this version",
			v->name);
}

static int lvm_be_probe(const struct volume *v, enum volume_key *ret_key, struct rerr *e)
{
	*ret_key = VKEY_BACKEND;
	return lvm_be_unavailable(v, e);
}

static int lvm_be_list(const struct volume *v, struct snapshot_list *ret, struct rerr *e)
{
	(void) ret;
	return lvm_be_unavailable(v, e);
}

static int lvm_be_create(const struct volume *v, struct snapshot *s, struct rerr *e)
{
	(void) s;
	return lvm_be_unavailable(v, e);
}

static int lvm_be_remove(const struct volume *v, const struct snapshot *s, struct rerr *e)
{
	(void) s;
	return lvm_be_unavailable(v, e);
}

static int lvm_be_space(const struct volume *v, struct fs_space *ret, struct rerr *e)
{
	(void) ret;
	return lvm_be_unavailable(v, e);
}

const struct backend backend_lvm = {
	.name = "lvm",
	.kind = BACKEND_LVM,
	.probe = lvm_be_probe,
	.list = lvm_be_list,
	.create = lvm_be_create,
	.remove = lvm_be_remove,
	.update = lvm_be_remove,
	.space = lvm_be_space,
};
