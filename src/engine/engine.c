/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backend.h"
#include "base/util.h"
#include "engine/engine.h"
#include "engine/rotate.h"
#include "os/lock.h"

void engine_init(struct engine *eng, const struct config *cfg, time_t now, bool dry_run,
		 bool wait)
{
	*eng = (struct engine){ .cfg = cfg, .now = now, .dry_run = dry_run, .wait = wait };
}

void engine_unlock(struct engine *eng)
{
	while (eng->n_locks > 0)
		close(eng->locks[--eng->n_locks]);
}

void engine_done(struct engine *eng)
{
	engine_unlock(eng);
	eng->sessions = sessions_free(eng->sessions);
}

struct sessions *engine_sessions(struct engine *eng)
{
	if (!eng->sessions)
		eng->sessions = sessions_new(eng->cfg);
	return eng->sessions;
}

int engine_select(const struct engine *eng, char *const *names, size_t n_names, bool groups,
		  struct volume ***ret, size_t *ret_n, struct rerr *e)
{
	const struct config *cfg = eng->cfg;
	_cleanup_free_ struct volume **sel = NULL;
	size_t n = 0;

	sel = calloc(cfg->n_volumes + 1, sizeof(*sel));
	if (!sel)
		return rerr_set(e, ENOMEM, "out of memory");
	if (n_names == 0)
		for (size_t i = 0; i < cfg->n_volumes; i++)
			sel[n++] = &cfg->volumes[i];
	for (size_t a = 0; a < n_names; a++) {
		struct volume *v = config_volume(cfg, names[a]);
		struct group *g = groups ? config_group(cfg, names[a]) : NULL;
		struct volume *add[GROUP_MAX];
		size_t n_add = 0;

		if (v)
			add[n_add++] = v;
		else if (g)
			for (size_t m = 0; m < g->n_volumes && n_add < ARRAY_SIZE(add); m++)
				add[n_add++] = config_volume(cfg, g->volumes[m]);
		else
			return rerr_usage(e, EINVAL, "unknown %s '%s' (not in %s)",
					groups ? "volume or group" : "volume", names[a], cfg->path);
		for (size_t i = 0; i < n_add; i++) {
			bool dup = false;

			for (size_t j = 0; j < n; j++)
				dup |= sel[j] == add[i];
			if (!dup)
				sel[n++] = add[i];
		}
	}
	*ret = TAKE_PTR(sel);
	*ret_n = n;
	return 0;
}

int engine_probe(const struct engine *eng, const struct volume *v, struct rerr *e)
{
	enum volume_key key = VKEY_PATH;
	struct rerr pe = { 0 };
	char text[sizeof(pe.msg) + 64];
	int r;

	r = v->ops->probe(v, &key, &pe);
	if (r < 0)
		return rerr_usage(e, EINVAL, "%s:%u: %s", eng->cfg->path, config_volume_line(v, key),
				  rerr_text(&pe, r, text, sizeof(text)));
	return 0;
}

int engine_advise(const struct engine *eng, const struct volume *v, char *buf, size_t len)
{
	(void) eng;
	return v->ops->advise ? v->ops->advise(v, buf, len) : 0;
}

static int engine_name_cmp(const void *a, const void *b)
{
	return strcmp((*(struct volume *const *)a)->name, (*(struct volume *const *)b)->name);
}

int engine_lock(struct engine *eng, struct volume **vols, size_t n, struct rerr *e)
{
	qsort(vols, n, sizeof(*vols), engine_name_cmp);
	if (eng->dry_run)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int fd, r;

		if (eng->n_locks == ARRAY_SIZE(eng->locks))
			return rerr_set(e, EMFILE, "%s: too many volumes locked at once", vols[i]->name);
		r = lock_volume(eng->cfg->lock_dir, vols[i]->name, eng->wait, &fd, e);
		if (r < 0)
			return r;
		eng->locks[eng->n_locks++] = fd;
	}
	return 0;
}

static const char *engine_unit_key(const struct volume *v)
{
	return v->group ? v->group : v->name;
}

static int engine_unit_cmp(const void *a, const void *b)
{
	const struct volume *x = *(struct volume *const *)a, *y = *(struct volume *const *)b;
	int c = strcmp(engine_unit_key(x), engine_unit_key(y));

	return c ? c : strcmp(x->name, y->name);
}

void engine_units(struct volume **vols, size_t n)
{
	qsort(vols, n, sizeof(*vols), engine_unit_cmp);
}
