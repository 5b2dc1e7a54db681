/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stddef.h>

#include "backends/backend.h"

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
