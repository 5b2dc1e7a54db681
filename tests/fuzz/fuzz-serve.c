/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * serve, the trust boundary: a whole session from a hostile sender (request
 * lines and the streams that follow them) against a root on a plain
 * filesystem (block copies). Afterwards nothing may exist outside the root: a
 * marker directory beside it stays empty, and the root holds only regular
 * files and directories. The root is emptied between inputs.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "transport/serve.h"

static char base[64], root[96], beside[96];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void) st;
	(void) flag;
	if (f->level > 0)
		(void) remove(path);
	return 0;
}

static int check_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void) f;
	if (flag == FTW_SL || !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))) {
		fprintf(stderr, "serve left '%s' (mode %o) in its root\n", path, st->st_mode);
		abort();
	}
	return 0;
}

static void setup(void)
{
	snprintf(base, sizeof(base), "/tmp/fuzz-serve.XXXXXX");
	if (!mkdtemp(base))
		abort();
	snprintf(root, sizeof(root), "%s/root", base);
	snprintf(beside, sizeof(beside), "%s/beside", base);
	if (mkdir(root, 0700) < 0 || mkdir(beside, 0700) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int in = memfd_create("session", MFD_CLOEXEC), out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct rerr e = { 0 };
	DIR *d;
	struct dirent *de;

	if (!base[0])
		setup();
	if (in < 0 || out < 0 || write(in, data, size) != (ssize_t)size || lseek(in, 0, SEEK_SET))
		abort();
	(void) serve_main(root, in, out, &e);
	close(in);
	close(out);
	d = opendir(beside);
	if (!d)
		abort();
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			abort();
	closedir(d);
	if (nftw(base, check_entry, 16, FTW_PHYS) < 0)
		abort();
	(void) nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
