/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small helpers shared by every module: scope-bound cleanup (systemd style, kept
 * C17-clean like bubblewrap) and a few string and fd helpers.
 */
#ifndef SNAPROTATE_UTIL_H
#define SNAPROTATE_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define _cleanup_(f)	__attribute__((cleanup(f)))
#define _unused_	__attribute__((unused))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/** freep() - free() the pointer that @p points to (for _cleanup_free_). */
static inline void freep(void *p)
{
	free(*(void **)p);
}

/**
 * closep() - close() *@fd unless it is < 0 (for _cleanup_close_); keeps errno intact, so an
 * error path can close and still report errno.
 */
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;

		(void) close(*fd);
		errno = saved;
	}
}

#define _cleanup_free_	_cleanup_(freep)
#define _cleanup_close_	_cleanup_(closep)

/* DEFINE_CLEANUP_FUNC(struct foo *, foo_free) defines foo_freep() for _cleanup_. */
#define DEFINE_CLEANUP_FUNC(type, func)			\
	static inline void func##p(type *p)		\
	{						\
		if (*p)					\
			func(*p);			\
	}

/** take_ptr_() - Return the pointer that @pp points to and set it to NULL (TAKE_PTR()). */
static inline void *take_ptr_(void *pp)
{
	void **p = pp;
	void *v = *p;

	*p = NULL;
	return v;
}

/** take_fd_() - Return *@fd and set it to -1 (TAKE_FD()). */
static inline int take_fd_(int *fd)
{
	int v = *fd;

	*fd = -1;
	return v;
}

#define TAKE_PTR(p)	(0 ? (p) : take_ptr_(&(p)))
#define TAKE_FD(fd)	take_fd_(&(fd))

/** streq() - Whether strings @a and @b are equal. */
static inline bool streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/** startswith() - Whether @s begins with @prefix. */
static inline bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/**
 * xstrdup_or_null() - strdup() that maps NULL to NULL.
 * @s: The string, or NULL.
 * Return: a copy the caller must free(), NULL for NULL; sets errno on failure.
 */
static inline char *xstrdup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/**
 * parse_u64() - A decimal number, digits only (no sign, no space), at most @max.
 * @s: The text (NULL or "" is -EINVAL).
 * @max: The largest value accepted.
 * @ret: On success the number.
 * Return: 0 with *@ret; -EINVAL for anything else; -ERANGE above @max.
 */
int parse_u64(const char *s, uint64_t max, uint64_t *ret);

/* Little-endian integers in byte buffers (on-disk and wire formats). */

/** get_le16() - The little-endian 16-bit integer at @p. */
static inline uint16_t get_le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/** get_le32() - The little-endian 32-bit integer at @p. */
static inline uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/** get_le64() - The little-endian 64-bit integer at @p. */
static inline uint64_t get_le64(const unsigned char *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/** put_le32() - Store @v at @p as a little-endian 32-bit integer. */
static inline void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/** put_le64() - Store @v at @p as a little-endian 64-bit integer. */
static inline void put_le64(unsigned char *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/**
 * write_all() - write() until done, retrying on EINTR.
 * @fd: Where to write.
 * @buf: The bytes.
 * @len: How many.
 * Return: 0 or -errno.
 */
int write_all(int fd, const void *buf, size_t len);

/**
 * read_all_at() - Read a whole small file relative to a directory fd.
 * @dirfd: Directory the @name is relative to.
 * @name: File name; a symlink is not followed (-ELOOP), anything but a regular file
 *        is refused (-EINVAL) without blocking on it.
 * @max: Larger files are refused with -EFBIG.
 * @ret_buf: On success a NUL-terminated buffer the caller must free().
 * @ret_len: On success its length, without the NUL (may be NULL).
 * Return: 0 or -errno.
 */
int read_all_at(int dirfd, const char *name, size_t max, char **ret_buf, size_t *ret_len);

/**
 * read_all_fd() - As read_all_at() for an open fd, read from its current offset.
 * @fd: The file.
 * @max: Larger content is refused with -EFBIG.
 * @ret_buf: On success a NUL-terminated buffer the caller must free().
 * @ret_len: On success its length, without the NUL (may be NULL).
 * Return: 0 or -errno.
 */
int read_all_fd(int fd, size_t max, char **ret_buf, size_t *ret_len);

/**
 * write_file_atomic_at() - Replace @name in @dirfd: temporary file, fsync, rename, fsync dir.
 * @dirfd: The directory.
 * @name: The file; the temporary file is ".@name.tmp" beside it.
 * @buf: The new content.
 * @len: Its length.
 * @mode: The mode of a new file.
 * Return: 0 or -errno; on failure @name is untouched and no temporary file is left
 * (except when only the final fsync of @dirfd fails: @name is replaced already).
 */
int write_file_atomic_at(int dirfd, const char *name, const void *buf, size_t len, mode_t mode);

/**
 * write_file_atomic_btrfs_at() - The same on btrfs with one fsync: write, rename,
 * fsync (btrfs logs the new name with the file). Only for files whose readers
 * refuse an empty or partial content, as info.json's do.
 * @dirfd: The directory.
 * @name: The file; the temporary file is ".@name.tmp" beside it.
 * @buf: The new content.
 * @len: Its length.
 * @mode: The mode of a new file.
 * Return: 0 or -errno.
 */
int write_file_atomic_btrfs_at(int dirfd, const char *name, const void *buf, size_t len,
			       mode_t mode);

/**
 * open_beneath() - openat2() of @path under @dirfd that follows no symlink (not
 * even its last component), no "..", and stays on @dirfd's mount: a name that
 * came from outside can never lead elsewhere.
 * @dirfd: The directory @path must stay beneath.
 * @path: A relative path.
 * @flags: open() flags; O_CLOEXEC and O_NOFOLLOW are added.
 * @mode: The mode of a file made with O_CREAT.
 * Return: an fd (O_CLOEXEC) or -errno (-ELOOP: a symlink on the way, -EXDEV).
 */
int open_beneath(int dirfd, const char *path, int flags, mode_t mode);

/**
 * read_regular_beneath() - read_all_at() through open_beneath(), for a regular
 * file only: a FIFO, device or socket is refused with -EINVAL without waiting
 * for a writer (opened O_NONBLOCK).
 * @dirfd: The directory @path must stay beneath.
 * @path: A relative path.
 * @max: Larger files are refused with -EFBIG.
 * @ret_buf: On success a NUL-terminated buffer the caller must free().
 * @ret_len: On success its length, without the NUL (may be NULL).
 * Return: 0 or -errno.
 */
int read_regular_beneath(int dirfd, const char *path, size_t max, char **ret_buf,
			 size_t *ret_len);

/**
 * mkdir_parents() - Make @path and every missing directory above it, with @mode.
 * @path: The directory (shorter than PATH_MAX, else -ENAMETOOLONG).
 * @mode: The mode of each directory made.
 * Return: 0 (also when it all existed), or -errno.
 */
int mkdir_parents(const char *path, mode_t mode);

/**
 * read_full() - read() until @len bytes or the end of the file, retrying on EINTR.
 * @fd: Where to read.
 * @buf: Where the bytes go.
 * @len: How many to read.
 * Return: the bytes read (fewer only at the end), or -errno.
 */
ssize_t read_full(int fd, void *buf, size_t len);

/**
 * pread_all() - pread() exactly @len bytes at @off, retrying on EINTR.
 * @fd: Where to read.
 * @buf: Where the bytes go.
 * @len: How many to read.
 * @off: The offset in @fd.
 * Return: 0, -ENODATA when the file ends before, or -errno.
 */
int pread_all(int fd, void *buf, size_t len, uint64_t off);

/**
 * pwrite_all() - pwrite() all @len bytes at @off, retrying on EINTR.
 * @fd: Where to write.
 * @buf: The bytes.
 * @len: How many.
 * @off: The offset in @fd.
 * Return: 0 or -errno.
 */
int pwrite_all(int fd, const void *buf, size_t len, uint64_t off);

#define UUID_SIZE	16
#define UUID_STRING_LEN	36

/**
 * uuid_format() - Write @u as "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" into @out.
 * @u: The UUID_SIZE bytes.
 * @out: UUID_STRING_LEN + 1 (37) bytes, NUL-terminated on return.
 */
void uuid_format(const uint8_t u[UUID_SIZE], char out[static UUID_STRING_LEN + 1]);

/**
 * uuid_parse() - Parse the form uuid_format() writes (hex digits in either case).
 * @s: The text; nothing may follow the uuid.
 * @ret: On success the UUID_SIZE bytes; untouched on failure.
 * Return: 0 or -EINVAL.
 */
int uuid_parse(const char *s, uint8_t ret[UUID_SIZE]);

#endif
