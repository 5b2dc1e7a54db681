/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The volumes a command names: selected, probed and locked through the engine,
 * with every error printed.
 */
#include "internal.h"

/* Resolves VOLUME|GROUP arguments (all volumes if none); says why not. */
int cli_select(struct engine *eng, int argc, char **argv, bool groups,
			  struct volume ***ret, size_t *ret_n)
{
	struct rerr e = { 0 };
	int r = engine_select(eng, argv, (size_t)argc, groups, ret, ret_n, &e);

	if (r < 0)
		cli_error("%s", e.msg);
	return r;
}

/* A volume that does not probe is a config error: printed, FILE:LINE of the key to blame. */
int cli_probe(struct engine *eng, const struct volume *v)
{
	struct rerr e = { 0 };
	int r = engine_probe(eng, v, &e);

	if (r < 0)
		cli_error("%s", e.msg);
	return r;
}

int cli_probe_all(struct engine *eng, struct volume **vols, size_t n)
{
	int r = 0;

	for (size_t i = 0; i < n; i++)
		if (cli_probe(eng, vols[i]) < 0)
			r = -EINVAL;
	return r;
}

/* Locks every volume of @vols in name order. Return: 0, or an exit code after printing why. */
int cli_lock(struct engine *eng, struct volume **vols, size_t n)
{
	struct rerr e = { 0 };
	int r = engine_lock(eng, vols, n, &e);

	return r < 0 ? cli_report(r, &e) : 0;
}

/* delete, pin, unpin: the volume named by argv[0], probed. Return: 0, or an exit code. */
int cli_named_volume(struct engine *eng, const char *name, struct volume **ret)
{
	_cleanup_free_ struct volume **vols = NULL;
	char *names[] = { (char *)name };
	size_t n;

	if (cli_select(eng, 1, names, false, &vols, &n) < 0 || cli_probe(eng, vols[0]) < 0)
		return EXIT_USAGE;
	*ret = vols[0];
	return 0;
}
