/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>

#include "backends/backend.h"

#include "btrfs_internal.h"
#include "lvm_internal.h"

static const struct backend *const backends[] = {
	&backend_btrfs,
	&backend_lvm,
	NULL,
};

const struct backend *backend_find(enum backend_kind kind)
{
	for (size_t i = 0; backends[i]; i++)
		if (backends[i]->kind == kind)
			return backends[i];
	return NULL;
}

void backend_resolve(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_volumes; i++)
		cfg->volumes[i].ops = backend_find(cfg->volumes[i].backend);
}

int backend_min_free(const struct volume *v, char *why, size_t why_len, struct rerr *e)
{
	struct fs_space sp;
	int r;

	if (v->min_free.unit == MIN_FREE_NONE)
		return 1;
	r = v->ops->space(v, &sp, e);
	if (r < 0)
		return r;
	if (v->min_free.unit == MIN_FREE_PERCENT) {
		/* avail/size < value/100, in integers */
		if (sp.size > 0 && sp.avail * 100 < v->min_free.value * sp.size) {
			snprintf(why, why_len, "%" PRIu64 "%% free, min_free is %" PRIu64 "%%",
				 sp.avail * 100 / sp.size, v->min_free.value);
			return 0;
		}
	} else if (sp.avail < v->min_free.value) {
		snprintf(why, why_len, "%" PRIu64 " MiB free, min_free is %" PRIu64 " MiB",
			 sp.avail >> 20, v->min_free.value >> 20);
		return 0;
	}
	return 1;
}

int backend_rescue_config(const char *fs, const char *vg, char **ret_text, char **ret_notes,
			  struct rerr *e)
{
	return fs ? btrfs_rescue_config(fs, ret_text, ret_notes, e)
		  : lvm_rescue_config(vg, ret_text, ret_notes, e);
}
