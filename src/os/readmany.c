/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Batches of READMANY_BATCH files: for each, an openat2 into a fixed file slot
 * linked to a read from that slot. A slot is reused by the next batch (opening
 * into an occupied slot replaces its file), and unregistering the slots at the
 * end closes whatever is left, so no close is queued at all. A read that fills its whole
 * buffer may be a larger file: that one is read again the plain way.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <liburing.h>

#include "base/debug.h"
#include "base/util.h"
#include "os/readmany.h"

#define READMANY_BATCH	64
#define READMANY_BUF	4096

/* O_NONBLOCK: a FIFO named like the file must not make a listing wait for a writer. */
static const struct open_how readmany_how = {
	.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
	.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_XDEV,
};

static int readmany_open(int dirfd, const char *path)
{
	struct open_how how = readmany_how;
	long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

/* One file the plain way. */
static int readmany_one(int dirfd, const char *path, size_t max, size_t index, readmany_fn fn,
			void *user)
{
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t len = 0;
	int fd, r;

	fd = readmany_open(dirfd, path);
	if (fd < 0)
		return fn(user, index, NULL, fd);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fn(user, index, NULL, -EINVAL);
	}
	r = read_all_fd(fd, max, &text, &len);
	close(fd);
	if (r < 0)
		return fn(user, index, NULL, r);
	return fn(user, index, text, (ssize_t)len);
}

static int readmany_plain(int dirfd, const char *const *paths, size_t n, size_t max,
			  readmany_fn fn, void *user)
{
	for (size_t i = 0; i < n; i++) {
		int r = readmany_one(dirfd, paths[i], max, i, fn, user);

		if (r < 0)
			return r;
	}
	return 0;
}

static int readmany_uring(struct io_uring *ring, int dirfd, const char *const *paths, size_t n,
			  size_t max, readmany_fn fn, void *user)
{
	static char bufs[READMANY_BATCH][READMANY_BUF];
	/* A fixed file is in no fd table: O_CLOEXEC is meaningless there and refused (EINVAL). */
	struct open_how how = { .flags = readmany_how.flags & ~(uint64_t)O_CLOEXEC,
				.resolve = readmany_how.resolve };
	int res_open[READMANY_BATCH], res_read[READMANY_BATCH];

	memset(res_open, 0, sizeof(res_open));

	for (size_t base = 0; base < n; base += READMANY_BATCH) {
		size_t m = n - base < READMANY_BATCH ? n - base : READMANY_BATCH;
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int r;

		for (size_t j = 0; j < m; j++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

			io_uring_prep_openat2_direct(sqe, dirfd, paths[base + j], &how, (unsigned)j);
			sqe->flags |= IOSQE_IO_LINK;
			io_uring_sqe_set_data64(sqe, j * 2);
			sqe = io_uring_get_sqe(ring);
			io_uring_prep_read(sqe, (int)j, bufs[j], READMANY_BUF - 1, 0);
			sqe->flags |= IOSQE_FIXED_FILE;
			io_uring_sqe_set_data64(sqe, j * 2 + 1);
		}
		r = io_uring_submit_and_wait(ring, (unsigned)(2 * m));
		if (r < 0)
			return r;
		io_uring_for_each_cqe(ring, head, cqe) {
			uint64_t d = io_uring_cqe_get_data64(cqe);

			if (d % 2 == 0)
				res_open[d / 2] = cqe->res;
			else
				res_read[d / 2] = cqe->res;
			seen++;
		}
		io_uring_cq_advance(ring, seen);
		if (seen != 2 * m)
			return -EIO;
		for (size_t j = 0; j < m; j++) {
			size_t i = base + j;

			if (res_open[j] < 0 || res_read[j] < 0 || res_read[j] >= READMANY_BUF - 1) {
				/*
				 * Any error, or maybe larger than the buffer: the plain way
				 * decides, so io_uring (or a kernel that lacks part of it)
				 * can never make a file look missing.
				 */
				r = readmany_one(dirfd, paths[i], max, i, fn, user);
			} else if ((size_t)res_read[j] > max) {
				r = fn(user, i, NULL, -EFBIG);
			} else {
				bufs[j][res_read[j]] = '\0';
				r = fn(user, i, bufs[j], res_read[j]);
			}
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int readmany_at(int dirfd, const char *const *paths, size_t n, size_t max, readmany_fn fn,
		void *user)
{
	struct io_uring ring;
	int r;

	/* A few files are cheaper without setting up a ring. */
	if (n < 16 || getenv("SNAPROTATE_NO_IO_URING"))
		return readmany_plain(dirfd, paths, n, max, fn, user);
	r = io_uring_queue_init(2 * READMANY_BATCH, &ring, 0);
	if (r < 0) {
		DBG(BTRFS, "io_uring unavailable (%s), reading files one by one", strerror(-r));
		return readmany_plain(dirfd, paths, n, max, fn, user);
	}
	r = io_uring_register_files_sparse(&ring, READMANY_BATCH);
	if (r < 0) {
		io_uring_queue_exit(&ring);
		DBG(BTRFS, "io_uring without fixed files (%s), reading files one by one",
		    strerror(-r));
		return readmany_plain(dirfd, paths, n, max, fn, user);
	}
	r = readmany_uring(&ring, dirfd, paths, n, max, fn, user);
	/*
	 * Tearing a ring down releases its files later, in a kernel worker: the
	 * filesystem would stay busy for a moment after we exit, and an umount
	 * right after `snaprotate list` would fail. Unregistering drops them now.
	 */
	(void) io_uring_unregister_files(&ring);
	io_uring_queue_exit(&ring);
	return r;
}
