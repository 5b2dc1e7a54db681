/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cli/cli.h"

#ifdef __SANITIZE_ADDRESS__
/*
 * make asan: LeakSanitizer cannot run where the tests run snaprotate under
 * strace or in a chroot without /proc, and package managers clean the
 * environment that would say so; leaks are valgrind's to find there.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}
#endif

int main(int argc, char *argv[])
{
	return cli_main(argc, argv);
}
