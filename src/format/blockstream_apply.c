/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The block stream reader (include/format/blockstream.h): every record is
 * checked before it is acted on and every payload before it is written; the
 * stream counts only at a matching END followed by end of file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/fs.h>

#include "base/debug.h"
#include "base/fault.h"
#include "base/util.h"
#include "format/blockstream.h"

#include "blockstream_internal.h"

/*
 * Makes [@off, @off + @len) of the target read as zeros. A file gets a hole, a
 * block device with write-zeroes unmapped zeros (both guaranteed by the
 * kernel). Otherwise (dm-thin has no write-zeroes) the range is discarded,
 * which unmaps whole thin chunks, and zeros are written over the blocks that
 * still do not read as zeros: a discard promises nothing.
 */
static int bs_zero_target(int fd, bool blk, uint64_t off, uint64_t len, unsigned char *buf,
			  unsigned char **zeros, uint32_t bsize)
{
	uint64_t range[2] = { off, len };

	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	if (!blk && errno != EOPNOTSUPP)
		return -errno;
	if (blk)
		(void) ioctl(fd, BLKDISCARD, range);
	for (uint64_t pos = off, end = off + len; pos < end;) {
		uint64_t lim = (pos / BS_BUF + 1) * BS_BUF;
		size_t n = (size_t)((end < lim ? end : lim) - pos), run = 0;
		int r;

		r = pread_all(fd, buf, n, pos);
		if (r < 0)
			return r == -ENODATA ? -EIO : r;
		if (!bs_is_zero(buf, n)) {
			if (!*zeros) {
				*zeros = calloc(1, BS_BUF);
				if (!*zeros)
					return -ENOMEM;
			}
			/* Runs of non-zero blocks, aligned to the device. */
			for (size_t i = 0; i <= n;) {
				size_t blen = 0;
				bool z = true;

				if (i < n) {
					blen = bsize - (size_t)((pos + i) % bsize);
					if (blen > n - i)
						blen = n - i;
					z = bs_is_zero(buf + i, blen);
				}
				if (z && run > 0) {
					r = pwrite_all(fd, *zeros, run, pos + i - run);
					if (r < 0)
						return r;
					run = 0;
				}
				if (i == n)
					break;
				if (!z)
					run += blen;
				i += blen;
			}
		}
		pos += n;
	}
	return 0;
}

static int bs_expect(const struct blockstream_header *h, const struct blockstream_expect *x,
		     struct rerr *e)
{
	if (!x)
		return 0;
	if (x->volume && !streq(x->volume, h->volume))
		return rerr_set(e, EMEDIUMTYPE, "'%s' is a stream of volume '%s', not '%s'",
				h->name, h->volume, x->volume);
	if (x->uuid && !streq(x->uuid, h->uuid))
		return rerr_set(e, EMEDIUMTYPE, "'%s' has uuid %s, expected %s", h->name, h->uuid,
				x->uuid);
	if (!x->parent_uuid && h->kind != BLOCKSTREAM_FULL)
		return rerr_set(e, EMEDIUMTYPE, "'%s' is a delta on '%s', expected a full image",
				h->name, h->parent_name);
	if (x->parent_uuid && h->kind != BLOCKSTREAM_DELTA)
		return rerr_set(e, EMEDIUMTYPE, "'%s' is a full image, expected a delta on %s",
				h->name, x->parent_uuid);
	if (x->parent_uuid && !streq(x->parent_uuid, h->parent_uuid))
		return rerr_set(e, EMEDIUMTYPE,
				"'%s' is a delta on '%s' (%s), but the target holds %s", h->name,
				h->parent_name, h->parent_uuid, x->parent_uuid);
	return 0;
}

/* Sizes the target for @h. Return: 1 block device, 0 regular file, or -errno. */
static int bs_target_prepare(int fd, const struct blockstream_header *h, struct rerr *e)
{
	struct stat st;
	uint64_t size;

	if (fstat(fd, &st) < 0)
		return rerr_set(e, errno, "cannot stat the target of '%s'", h->name);
	if (S_ISREG(st.st_mode)) {
		if (ftruncate(fd, (off_t)h->device_size) < 0)
			return rerr_set(e, errno, "cannot size the target file of '%s' to %" PRIu64
					" bytes", h->name, h->device_size);
		return 0;
	}
	if (!S_ISBLK(st.st_mode))
		return rerr_set(e, ENOTBLK, "the target of '%s' is not a block device or a file",
				h->name);
	if (ioctl(fd, BLKGETSIZE64, &size) < 0)
		return rerr_set(e, errno, "cannot read the size of the target of '%s'", h->name);
	if (size < h->device_size)
		return rerr_set(e, ENOSPC, "the target (%" PRIu64 " bytes) is smaller than '%s' (%"
				PRIu64 " bytes)", size, h->name, h->device_size);
	return 1;
}

/* One application of a stream: where it reads and writes, and what it has seen. */
struct bs_reader {
	int in_fd;
	int dev_fd;			/* < 0: verify only */
	bool blk;			/* the target is a block device */
	bool skip_zero;			/* ZERO extents need no writing */
	unsigned char *buf;
	size_t buf_size;
	unsigned char *zeros;		/* bs_zero_target()'s */
	struct blockstream_header h;
	struct blockstream_stats st;
	uint64_t end;			/* where the last extent ended */
	uint32_t crc;			/* of the stream so far */
};

/* A DATA extent's payload: read, checked, written. */
static int bs_apply_data(struct bs_reader *rd, uint64_t off, uint64_t len, uint32_t c,
			 struct rerr *e)
{
	const char *n = rd->h.name;
	ssize_t k;
	int r;

	/* Ours fit BS_BUF; longer ones, up to the format's limit, are valid. */
	if (len > rd->buf_size) {
		free(rd->buf);
		rd->buf = bs_alloc(BLOCKSTREAM_EXTENT_MAX);
		if (!rd->buf)
			return rerr_set(e, ENOMEM, "out of memory");
		rd->buf_size = BLOCKSTREAM_EXTENT_MAX;
	}
	k = read_full(rd->in_fd, rd->buf, (size_t)len);
	if (k < 0)
		return rerr_set(e, (int)k, "cannot read the stream of '%s'", n);
	if ((uint64_t)k < len)
		return rerr_set(e, EBADMSG, "the stream of '%s' is truncated after %" PRIu64
				" bytes (in a payload)", n, rd->st.stream_bytes + (uint64_t)k);
	if (blockstream_crc32c(0, rd->buf, (size_t)len) != c)
		return rerr_set(e, EBADMSG, "the stream of '%s' is corrupt: payload at byte %"
				PRIu64 " for device bytes %" PRIu64 "+%" PRIu64, n,
				rd->st.stream_bytes, off, len);
	rd->crc = blockstream_crc32c_combine(rd->crc, c, len);
	rd->st.stream_bytes += len;
	if (rd->dev_fd >= 0) {
		r = pwrite_all(rd->dev_fd, rd->buf, (size_t)len, off);
		if (r < 0)
			return rerr_set(e, r, "cannot write '%s' at byte %" PRIu64, n, off);
	}
	rd->st.data_bytes += len;
	return 0;
}

/*
 * The next record, its checksum checked. Return: 1 for END (matching what
 * came before), 0 for an extent (@type, @off, @len, @c set and sane), or
 * -errno with @e.
 */
static int bs_next_record(struct bs_reader *rd, uint32_t *type, uint64_t *off, uint64_t *len,
			  uint32_t *c, struct rerr *e)
{
	unsigned char rec[BLOCKSTREAM_RECORD_SIZE];
	const struct blockstream_header *h = &rd->h;
	const char *n = h->name;
	ssize_t k = read_full(rd->in_fd, rec, sizeof(rec));

	if (k < 0)
		return rerr_set(e, (int)k, "cannot read the stream of '%s'", n);
	if (k < (ssize_t)sizeof(rec))
		return rerr_set(e, EBADMSG, "the stream of '%s' is truncated after %" PRIu64
				" bytes (no end record)", n, rd->st.stream_bytes + (uint64_t)k);
	if (get_le32(rec + 28) != blockstream_crc32c(0, rec, 28) || get_le32(rec + 4) != 0)
		return rerr_set(e, EBADMSG, "the stream of '%s' is corrupt at byte %" PRIu64
				" (record checksum)", n, rd->st.stream_bytes);
	*type = get_le32(rec);
	*off = get_le64(rec + 8);
	*len = get_le64(rec + 16);
	*c = get_le32(rec + 24);
	if (*type == BS_END) {
		if (*off != rd->st.extents || *len != rd->st.data_bytes || *c != rd->crc)
			return rerr_set(e, EBADMSG, "the stream of '%s' is corrupt: its end record "
					"does not match what came before", n);
		if (h->kind == BLOCKSTREAM_FULL && rd->end != h->device_size)
			return rerr_set(e, EBADMSG, "the full image '%s' covers %" PRIu64 " of %"
					PRIu64 " bytes", n, rd->end, h->device_size);
		rd->st.stream_bytes += sizeof(rec);
		return 1;
	}
	if ((*type != BS_DATA && *type != BS_ZERO) || *len == 0 || *off < rd->end ||
	    *off > h->device_size || *len > h->device_size - *off ||
	    (h->kind == BLOCKSTREAM_FULL && *off != rd->end) ||
	    (*type == BS_DATA && *len > BLOCKSTREAM_EXTENT_MAX) || (*type == BS_ZERO && *c != 0))
		return rerr_set(e, EBADMSG, "the stream of '%s' is corrupt at byte %" PRIu64
				" (impossible record)", n, rd->st.stream_bytes);
	rd->crc = blockstream_crc32c_combine(rd->crc, blockstream_crc32c(0, rec, sizeof(rec)),
					     sizeof(rec));
	rd->st.stream_bytes += sizeof(rec);
	return 0;
}

/* The header, checked against @x, and the target made ready. */
static int bs_apply_start(struct bs_reader *rd, const struct blockstream_expect *x,
			  unsigned flags, struct rerr *e)
{
	unsigned char hb[BLOCKSTREAM_HEADER_SIZE];
	int r;

	r = bs_header_read(rd->in_fd, hb, &rd->h, e);
	if (r < 0)
		return r;
	r = bs_expect(&rd->h, x, e);
	if (r < 0)
		return r;
	if (rd->dev_fd >= 0) {
		r = bs_target_prepare(rd->dev_fd, &rd->h, e);
		if (r < 0)
			return r;
		rd->blk = r > 0;
	}
	rd->skip_zero = rd->dev_fd < 0 ||
			((flags & BLOCKSTREAM_APPLY_ZEROED) && rd->h.kind == BLOCKSTREAM_FULL);
	rd->buf = bs_alloc(BS_BUF);
	if (!rd->buf)
		return rerr_set(e, ENOMEM, "out of memory");
	rd->buf_size = BS_BUF;
	rd->crc = blockstream_crc32c(0, hb, sizeof(hb));
	rd->st.stream_bytes = sizeof(hb);
	return 0;
}

/* After END: nothing more (unless the caller reads on), and the target flushed. */
static int bs_apply_finish(struct bs_reader *rd, unsigned flags, struct rerr *e)
{
	const char *n = rd->h.name;

	if (!(flags & BLOCKSTREAM_APPLY_NO_EOF)) {
		unsigned char c;
		ssize_t k = read_full(rd->in_fd, &c, 1);

		if (k < 0)
			return rerr_set(e, (int)k, "cannot read the stream of '%s'", n);
		if (k > 0)
			return rerr_set(e, EBADMSG, "the stream of '%s' has data after its end", n);
	}
	if (rd->dev_fd >= 0 && fdatasync(rd->dev_fd) < 0)
		return rerr_set(e, errno, "cannot flush the target of '%s'", n);
	return 0;
}

static int bs_apply(struct bs_reader *rd, const struct blockstream_expect *x, unsigned flags,
		    blockstream_progress_fn progress, void *user, struct rerr *e)
{
	const char *n = rd->h.name;
	int r = bs_apply_start(rd, x, flags, e);

	while (r == 0) {
		uint64_t off = 0, len = 0;
		uint32_t type = 0, c = 0;

		r = bs_next_record(rd, &type, &off, &len, &c, e);
		if (r != 0)
			break;
		if (type == BS_DATA) {
			r = bs_apply_data(rd, off, len, c, e);
		} else if (!rd->skip_zero) {
			r = bs_zero_target(rd->dev_fd, rd->blk, off, len, rd->buf, &rd->zeros,
					   rd->h.block_size);
			if (r < 0)
				rerr_set(e, r, "cannot zero bytes %" PRIu64 "+%" PRIu64 " of '%s'",
					 off, len, n);
		}
		if (r < 0)
			break;
		if (type == BS_ZERO)
			rd->st.zero_bytes += len;
		rd->st.extents++;
		rd->end = off + len;
		FAULT("apply.extent");
		if (progress) {
			int stop = progress(user, &rd->st);

			if (stop < 0)
				r = rerr_set(e, stop, "receiving '%s' was interrupted", n);
		}
	}
	return r < 0 ? r : bs_apply_finish(rd, flags, e);
}

int blockstream_apply(int in_fd, int dev_fd, const struct blockstream_expect *x, unsigned flags,
		      blockstream_progress_fn progress, void *user,
		      struct blockstream_header *ret_header, struct blockstream_stats *ret_stats,
		      struct rerr *e)
{
	struct bs_reader rd = { .in_fd = in_fd, .dev_fd = dev_fd };
	int r;

	if (flags & ~BLOCKSTREAM_APPLY_MASK)
		return rerr_set(e, EINVAL, "bad block stream apply flags");
	r = bs_apply(&rd, x, flags, progress, user, e);
	free(rd.buf);
	free(rd.zeros);
	if (r < 0)
		return r;
	DBG(SEND, "applied '%s' (%s): %" PRIu64 " bytes, %" PRIu64 " extents", rd.h.name,
	    blockstream_kind_to_string(rd.h.kind), rd.st.stream_bytes, rd.st.extents);
	if (ret_header)
		*ret_header = rd.h;
	if (ret_stats)
		*ret_stats = rd.st;
	return 0;
}
