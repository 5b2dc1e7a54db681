/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "base/fault.h"
#include "base/util.h"

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

	struct stat st;

	/* Never a symlink; never a FIFO or device to block on or to read from. */
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
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
		k = read_full(fd, buf + len, cap - len - 1);
		if (k < 0)
			return (int)k;
		len += (size_t)k;
		if (len + 1 < cap)
			break;		/* short: the end of the file */
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
	/*
	 * Always a new file: one found under that name (left by a kill, or planted)
	 * is never reused, so never owned by another user nor a FIFO to block on.
	 */
	(void) unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	/* The mode asked for, whatever the umask (the service's is 0077). */
	r = fchmod(fd, mode) < 0 ? -errno : write_all(fd, buf, len);
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
	FAULT("atomic.written");
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
	FAULT("atomic.renamed");
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
	FAULT("atomic.written");
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		(void) unlinkat(dirfd, tmp, 0);
		return r;
	}
	FAULT("atomic.renamed");
	/* The rename is durable only once the directory is. */
	if (fsync(dirfd) < 0)
		return -errno;
	return 0;
}

int open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_NO_XDEV,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : (int)fd;
}

int read_regular_beneath(int dirfd, const char *path, size_t max, char **ret_buf,
			 size_t *ret_len)
{
	_cleanup_close_ int fd = open_beneath(dirfd, path, O_RDONLY | O_NONBLOCK, 0);
	struct stat st;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	return read_all_fd(fd, max, ret_buf, ret_len);
}

void uuid_format(const uint8_t u[UUID_SIZE], char out[static UUID_STRING_LEN + 1])
{
	snprintf(out, UUID_STRING_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

static int uuid_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int uuid_parse(const char *s, uint8_t ret[UUID_SIZE])
{
	uint8_t u[UUID_SIZE];
	size_t k = 0;

	for (size_t i = 0; i < UUID_STRING_LEN; i++) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
			continue;
		}
		hi = uuid_hex(s[i]);
		lo = hi < 0 ? -1 : uuid_hex(s[i + 1]);
		if (lo < 0)
			return -EINVAL;
		u[k++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	if (s[UUID_STRING_LEN] != '\0')
		return -EINVAL;
	memcpy(ret, u, UUID_SIZE);
	return 0;
}

int mkdir_parents(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (c == '\0')
			return 0;
	}
}

ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t k = read(fd, (char *)buf + got, len - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	for (size_t got = 0; got < len;) {
		ssize_t k = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -ENODATA;
		got += (size_t)k;
	}
	return 0;
}

int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	for (size_t done = 0; done < len;) {
		ssize_t k = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		done += (size_t)k;
	}
	return 0;
}

int parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return 0;
}
