/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "os/sysroot.h"

/* "/", "//" and "/./" are the root; anything else is another tree. */
static int sysroot_is_slash(const char *p)
{
	for (; *p; p++)
		if (*p != '/' && !(*p == '.' && (p[1] == '/' || !p[1])))
			return 0;
	return 1;
}

enum sysroot sysroot_detect(const char *manager_root, char *why, size_t len)
{
	struct stat self, init, proc;

	why[0] = '\0';
	if (manager_root && *manager_root && !sysroot_is_slash(manager_root)) {
		snprintf(why, len, "the package manager works on '%s', an installer root, not on "
			 "this system", manager_root);
		return SYSROOT_INSTALLER;
	}
	if (stat("/", &self) < 0)
		return SYSROOT_UNKNOWN;
	if (stat("/proc/1/root", &init) == 0) {
		if (self.st_dev == init.st_dev && self.st_ino == init.st_ino)
			return SYSROOT_REAL;
		snprintf(why, len, "running in a chroot (/ is not the root of PID 1)");
		return SYSROOT_CHROOT;
	}
	if (errno == ENOENT && stat("/proc/self", &proc) < 0) {
		snprintf(why, len, "no /proc: an installer root or a chroot, not the running "
			 "system");
		return SYSROOT_INSTALLER;
	}
	return SYSROOT_UNKNOWN;
}
