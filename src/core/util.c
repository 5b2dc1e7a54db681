/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t k = write(fd, p, len);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

int read_all_at(int dirfd, const char *name, size_t max, char **ret_buf, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	return read_all_fd(fd, max, ret_buf, ret_len);
}

int read_all_fd(int fd, size_t max, char **ret_buf, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 4096;

	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t k;

		if (len + 1 >= cap) {
			char *nb;

			if (cap > max)
				return -EFBIG;
			nb = realloc(buf, cap * 2);
			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap *= 2;
		}
		k = read(fd, buf + len, cap - len - 1);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	if (len > max)
		return -EFBIG;
	buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	*ret_buf = TAKE_PTR(buf);
	return 0;
}

/* Writes @buf into a new ".NAME.tmp" in @dirfd. Return: its fd, or -errno (nothing left). */
static int atomic_tmp_write(int dirfd, const char *name, const void *buf, size_t len,
			    mode_t mode, char tmp[static NAME_MAX + 1])
{
	int fd, r;

	r = snprintf(tmp, NAME_MAX + 1, ".%s.tmp", name);
	if (r < 0 || r > NAME_MAX)
		return -ENAMETOOLONG;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	r = write_all(fd, buf, len);
	if (r < 0) {
		close(fd);
		(void) unlinkat(dirfd, tmp, 0);
		return r;
	}
	return fd;
}

int write_file_atomic_btrfs_at(int dirfd, const char *name, const void *buf, size_t len,
			       mode_t mode)
{
	_cleanup_close_ int fd = -1;
	char tmp[NAME_MAX + 1];

	fd = atomic_tmp_write(dirfd, name, buf, len, mode, tmp);
	if (fd < 0)
		return fd;
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		int r = -errno;

		(void) unlinkat(dirfd, tmp, 0);
		return r;
	}
	/*
	 * On btrfs, fsync of a file renamed in the running transaction also logs
	 * its new name: one log commit makes data and name durable. A crash
	 * before it leaves no file, or an empty or partial one, which readers
	 * take for invalid.
	 */
	return fsync(fd) < 0 ? -errno : 0;
}

int write_file_atomic_at(int dirfd, const char *name, const void *buf, size_t len, mode_t mode)
{
	_cleanup_close_ int fd = -1;
	char tmp[NAME_MAX + 1];
	int r = 0;

	fd = atomic_tmp_write(dirfd, name, buf, len, mode, tmp);
	if (fd < 0)
		return fd;
	if (fsync(fd) < 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		(void) unlinkat(dirfd, tmp, 0);
		return r;
	}
	/* The rename is durable only once the directory is. */
	if (fsync(dirfd) < 0)
		return -errno;
	return 0;
}
