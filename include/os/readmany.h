/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading many small files at once: the info.json of every snapshot. With
 * io_uring the open and read of a batch of files cost one system call instead
 * of three each; where io_uring is not available (an old kernel, a sandbox
 * that forbids it), plain openat2/read/close do the same work.
 */
#ifndef SNAPROTATE_READMANY_H
#define SNAPROTATE_READMANY_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Called once per file, in order. @text is NUL-terminated and valid only
 * during the call; on failure it is NULL and @len is -errno (-ENOENT for a
 * missing file, -ELOOP for a symbolic link, -EFBIG beyond the maximum size).
 * Return 0 to go on, <0 to stop with that error.
 */
typedef int (*readmany_fn)(void *user, size_t index, const char *text, ssize_t len);

/**
 * readmany_at() - Read @paths (relative to @dirfd, never leaving it, never
 * following a symbolic link) and hand each one to @fn.
 * @dirfd: The directory the paths are relative to.
 * @paths: The files' paths.
 * @n: How many.
 * @max: Files larger than this are reported as -EFBIG.
 * @fn: Called once per file, in order; a file that cannot be read is reported
 *      to it, not returned.
 * @user: Passed to @fn.
 * Return: 0, or what @fn returned, or -errno when io_uring fails (-EIO when
 * completions are missing).
 */
int readmany_at(int dirfd, const char *const *paths, size_t n, size_t max, readmany_fn fn,
		void *user);

#endif
