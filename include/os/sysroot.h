/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Whether this process runs on the system itself or inside a chroot, an
 * installer root or a container root that a package manager works on (SPEC 8):
 * package hooks snapshot only the real system. snaprotate's own test, not
 * systemd-detect-virt's, which fails open when /proc/1/root is unreadable
 * or /proc is missing.
 */
#ifndef SNAPROTATE_SYSROOT_H
#define SNAPROTATE_SYSROOT_H

#include <stddef.h>

enum sysroot {
	SYSROOT_REAL,		/* / is PID 1's root */
	SYSROOT_UNKNOWN,	/* /proc/1/root cannot be read (some containers): taken as real */
	SYSROOT_CHROOT,		/* / is not PID 1's root */
	SYSROOT_INSTALLER,	/* no /proc, or the package manager works on another root */
};

/**
 * sysroot_detect() - Compare / with /proc/1/root by device and inode.
 * @manager_root: The package manager's own root (apt RootDir, dnf
 *                --installroot), or NULL; anything but "/" is an installer root.
 * @why: Filled with the reason, a clause for "no snapshot: ...", unless real.
 * @len: Its size.
 * Return: what this root is.
 */
enum sysroot sysroot_detect(const char *manager_root, char *why, size_t len);

#endif
