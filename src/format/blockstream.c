/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Block streams (layout in include/blockstream.h).
 *
 * The contract:
 * - The writer never seeks on its output, so every checksum it writes covers
 *   bytes that come before it: a DATA record carries the CRC of the payload that
 *   follows (the payload is in memory when the record is written), and END the
 *   CRC of the whole stream before it. That stream CRC is not computed a second
 *   time over the payloads: it is combined from the CRCs already known
 *   (blockstream_crc32c_combine(), a few dozen multiplications per record).
 * - The reader checks each record before acting on it and each payload before
 *   writing it, and accepts the stream only at a matching END followed by end of
 *   file. A header that does not match what the caller expects is refused before
 *   anything is written; after that, a failure leaves the target undefined and
 *   the caller must say so (the image chain on that target is broken).
 * - A ZERO extent must leave zeros on the target, whatever was there: a full image
 *   may be restored over an old LV. Writing zeros into a thin LV allocates its
 *   blocks, so zeros are punched or discarded first, and written only over
 *   blocks that still do not read as zeros.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/fs.h>

#include "base/debug.h"
#include "base/util.h"
#include "format/blockstream.h"

#include "blockstream_internal.h"

static const char *const kind_table[_BLOCKSTREAM_KIND_MAX] = {
	[BLOCKSTREAM_FULL] = "full",
	[BLOCKSTREAM_DELTA] = "delta",
};

const char *blockstream_kind_to_string(enum blockstream_kind k)
{
	if (k <= _BLOCKSTREAM_KIND_INVALID || k >= _BLOCKSTREAM_KIND_MAX)
		return NULL;
	return kind_table[k];
}

/* ---------------------------------------------------------------- helpers */

bool bs_is_zero(const unsigned char *p, size_t n)
{
	static const unsigned char z[16];

	/* The first 16 bytes against zeros, then the buffer against itself shifted by 16. */
	if (n <= 16)
		return memcmp(p, z, n) == 0;
	return memcmp(p, z, 16) == 0 && memcmp(p, p + 16, n - 16) == 0;
}

static bool bs_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

unsigned char *bs_alloc(size_t n)
{
	void *p = NULL;

	if (posix_memalign(&p, BS_ALIGN, n) != 0)
		return NULL;
	return p;
}

int blockstream_fd_size(int fd, uint64_t *ret_size, struct rerr *e)
{
	struct stat st;
	uint64_t size;

	if (fstat(fd, &st) < 0)
		return rerr_set(e, errno, "cannot stat the device");
	if (S_ISREG(st.st_mode)) {
		*ret_size = (uint64_t)st.st_size;
		return 0;
	}
	if (!S_ISBLK(st.st_mode))
		return rerr_set(e, ENOTBLK, "not a block device or a regular file");
	if (ioctl(fd, BLKGETSIZE64, &size) < 0)
		return rerr_set(e, errno, "cannot read the size of the block device");
	*ret_size = size;
	return 0;
}

/* ---------------------------------------------------------------- header */

static bool bs_str_ok(const char *s, bool empty_ok)
{
	size_t n = strnlen(s, BLOCKSTREAM_STR_MAX + 1);

	if (n > BLOCKSTREAM_STR_MAX || (n == 0 && !empty_ok))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static int bs_header_valid(const struct blockstream_header *h, uint32_t block_size)
{
	bool delta = h->kind == BLOCKSTREAM_DELTA;

	if ((h->kind != BLOCKSTREAM_FULL && !delta) || !bs_pow2(block_size) ||
	    block_size < BLOCKSTREAM_BLOCK_MIN || block_size > BLOCKSTREAM_BLOCK_MAX)
		return -EINVAL;
	if (!bs_str_ok(h->volume, false) || !bs_str_ok(h->name, false) ||
	    !bs_str_ok(h->uuid, false) || !bs_str_ok(h->parent_name, !delta) ||
	    !bs_str_ok(h->parent_uuid, !delta))
		return -EINVAL;
	if (!delta && (h->parent_name[0] || h->parent_uuid[0]))
		return -EINVAL;
	return 0;
}

static void bs_header_encode(const struct blockstream_header *h, uint32_t block_size,
			     unsigned char *b)
{
	memset(b, 0, BLOCKSTREAM_HEADER_SIZE);
	memcpy(b, BS_MAGIC, 8);
	put_le32(b + H_VERSION, BLOCKSTREAM_VERSION);
	put_le32(b + H_SIZE, BLOCKSTREAM_HEADER_SIZE);
	put_le32(b + H_KIND, (uint32_t)h->kind);
	put_le32(b + H_BLOCK, block_size);
	put_le64(b + H_DEVSIZE, h->device_size);
	put_le64(b + H_FLAGS, 0);
	/* bs_str_ok() checked every length: each fits with its NUL. */
	memcpy(b + H_VOLUME, h->volume, strlen(h->volume));
	memcpy(b + H_NAME, h->name, strlen(h->name));
	memcpy(b + H_UUID, h->uuid, strlen(h->uuid));
	memcpy(b + H_PNAME, h->parent_name, strlen(h->parent_name));
	memcpy(b + H_PUUID, h->parent_uuid, strlen(h->parent_uuid));
	put_le32(b + H_CRC, blockstream_crc32c(0, b, H_CRC));
}

/* A string field: printable, NUL-terminated inside the field, zeros after. */
static bool bs_field_get(const unsigned char *f, char *out)
{
	size_t n = strnlen((const char *)f, H_STRLEN);

	if (n >= H_STRLEN || !bs_is_zero(f + n, H_STRLEN - n))
		return false;
	memcpy(out, f, n);
	out[n] = '\0';
	return bs_str_ok(out, true);
}

static int bs_header_decode(const unsigned char *b, struct blockstream_header *ret,
			    struct rerr *e)
{
	struct blockstream_header h = { 0 };
	uint32_t version;

	if (memcmp(b, BS_MAGIC, 8) != 0)
		return rerr_set(e, EPROTONOSUPPORT, "not a snaprotate block stream (bad magic)");
	version = get_le32(b + H_VERSION);
	if (version != BLOCKSTREAM_VERSION)
		return rerr_set(e, EPROTONOSUPPORT,
				"block stream format version %" PRIu32 ", this build reads %d",
				version, BLOCKSTREAM_VERSION);
	if (get_le32(b + H_CRC) != blockstream_crc32c(0, b, H_CRC))
		return rerr_set(e, EBADMSG, "block stream header checksum does not match");
	h.version = version;
	h.kind = (enum blockstream_kind)get_le32(b + H_KIND);
	h.block_size = get_le32(b + H_BLOCK);
	h.device_size = get_le64(b + H_DEVSIZE);
	if (get_le32(b + H_SIZE) != BLOCKSTREAM_HEADER_SIZE || get_le64(b + H_FLAGS) != 0 ||
	    !bs_is_zero(b + H_RESERVED, H_CRC - H_RESERVED) ||
	    !bs_field_get(b + H_VOLUME, h.volume) || !bs_field_get(b + H_NAME, h.name) ||
	    !bs_field_get(b + H_UUID, h.uuid) || !bs_field_get(b + H_PNAME, h.parent_name) ||
	    !bs_field_get(b + H_PUUID, h.parent_uuid) || bs_header_valid(&h, h.block_size) < 0)
		return rerr_set(e, EBADMSG, "block stream header has impossible fields");
	*ret = h;
	return 0;
}

int bs_header_read(int fd, unsigned char *b, struct blockstream_header *ret,
			  struct rerr *e)
{
	ssize_t k = read_full(fd, b, BLOCKSTREAM_HEADER_SIZE);

	if (k < 0)
		return rerr_set(e, (int)k, "cannot read the block stream");
	if (k == 0)
		return rerr_set(e, EBADMSG, "the block stream is empty");
	if (k < BLOCKSTREAM_HEADER_SIZE)
		return rerr_set(e, EBADMSG,
				"the block stream is truncated in its header (%zd bytes)", k);
	return bs_header_decode(b, ret, e);
}

int blockstream_read_header(int fd, struct blockstream_header *ret, struct rerr *e)
{
	unsigned char b[BLOCKSTREAM_HEADER_SIZE];

	return bs_header_read(fd, b, ret, e);
}

static void bs_record_encode(unsigned char *r, uint32_t type, uint64_t a, uint64_t b, uint32_t crc)
{
	memset(r, 0, BLOCKSTREAM_RECORD_SIZE);
	put_le32(r, type);
	put_le64(r + 8, a);
	put_le64(r + 16, b);
	put_le32(r + 24, crc);
	put_le32(r + 28, blockstream_crc32c(0, r, 28));
}

/* ---------------------------------------------------------------- writer */

struct bs_writer {
	int fd;
	const char *name;		/* borrowed: the snapshot, for messages */
	uint64_t size;			/* of the device */
	unsigned char *out;		/* BS_OUTBUF bytes collected for one write() */
	size_t out_len;
	uint32_t crc;			/* of everything emitted so far */
	uint64_t zero_off, zero_len;	/* a ZERO extent still growing */
	struct blockstream_stats st;
	blockstream_progress_fn progress;
	void *user;
};

static int bs_flush(struct bs_writer *w, struct rerr *e)
{
	int r;

	if (w->out_len == 0)
		return 0;
	r = write_all(w->fd, w->out, w->out_len);
	if (r < 0)
		return rerr_set(e, r, "cannot write the stream of '%s'", w->name);
	w->out_len = 0;
	return 0;
}

/* Appends @n bytes whose CRC is @crc to the stream. */
static int bs_emit(struct bs_writer *w, const void *p, size_t n, uint32_t crc, struct rerr *e)
{
	int r;

	w->crc = blockstream_crc32c_combine(w->crc, crc, n);
	w->st.stream_bytes += n;
	if (n > BS_OUTBUF - w->out_len) {
		r = bs_flush(w, e);
		if (r < 0)
			return r;
	}
	if (n >= BS_OUTBUF) {
		r = write_all(w->fd, p, n);
		if (r < 0)
			return rerr_set(e, r, "cannot write the stream of '%s'", w->name);
		return 0;
	}
	memcpy(w->out + w->out_len, p, n);
	w->out_len += n;
	return 0;
}

static int bs_emit_record(struct bs_writer *w, uint32_t type, uint64_t a, uint64_t b, uint32_t crc,
			  struct rerr *e)
{
	unsigned char rec[BLOCKSTREAM_RECORD_SIZE];

	bs_record_encode(rec, type, a, b, crc);
	return bs_emit(w, rec, sizeof(rec), blockstream_crc32c(0, rec, sizeof(rec)), e);
}

/* The counts so far, with the ZERO extent still growing, so that progress moves over zeros too. */
static int bs_progress(struct bs_writer *w, struct rerr *e)
{
	struct blockstream_stats now = w->st;
	int r;

	if (!w->progress)
		return 0;
	now.zero_bytes += w->zero_len;
	r = w->progress(w->user, &now);
	if (r < 0)
		return rerr_set(e, r, "sending '%s' was interrupted", w->name);
	return 0;
}

static int bs_flush_zero(struct bs_writer *w, struct rerr *e)
{
	int r;

	if (w->zero_len == 0)
		return 0;
	r = bs_emit_record(w, BS_ZERO, w->zero_off, w->zero_len, 0, e);
	if (r < 0)
		return r;
	w->st.zero_bytes += w->zero_len;
	w->st.extents++;
	w->zero_len = 0;
	return 0;
}

static int bs_add_zero(struct bs_writer *w, uint64_t off, uint64_t len, struct rerr *e)
{
	int r;

	if (w->zero_len && w->zero_off + w->zero_len == off) {
		w->zero_len += len;
		return 0;
	}
	r = bs_flush_zero(w, e);
	if (r < 0)
		return r;
	w->zero_off = off;
	w->zero_len = len;
	return 0;
}

static int bs_add_data(struct bs_writer *w, uint64_t off, const unsigned char *p, size_t len,
		       struct rerr *e)
{
	uint32_t crc = blockstream_crc32c(0, p, len);
	int r;

	r = bs_flush_zero(w, e);
	if (r < 0)
		return r;
	r = bs_emit_record(w, BS_DATA, off, len, crc, e);
	if (r < 0)
		return r;
	r = bs_emit(w, p, len, crc, e);
	if (r < 0)
		return r;
	w->st.data_bytes += len;
	w->st.extents++;
	return 0;
}

/* Sends [@start, @end) of the device: runs of zero blocks as ZERO, the rest as DATA. */
static int bs_send_range(struct bs_writer *w, int dev_fd, unsigned char *buf, uint32_t bsize,
			 uint64_t start, uint64_t end, struct rerr *e)
{
	for (uint64_t pos = start; pos < end;) {
		uint64_t lim = (pos / BS_BUF + 1) * BS_BUF;
		size_t n = (size_t)((end < lim ? end : lim) - pos), run = 0;
		bool run_zero = false;
		int r;

		r = pread_all(dev_fd, buf, n, pos);
		if (r == -ENODATA)
			return rerr_set(e, EIO, "'%s' ends before byte %" PRIu64 " of %" PRIu64,
					w->name, pos + n, w->size);
		if (r < 0)
			return rerr_set(e, r, "cannot read '%s' at byte %" PRIu64, w->name, pos);
		/* Blocks are aligned to the device, not to the range. */
		for (size_t i = 0; i < n;) {
			size_t blen = bsize - (size_t)((pos + i) % bsize);
			bool z;

			if (blen > n - i)
				blen = n - i;
			z = bs_is_zero(buf + i, blen);
			if (run > 0 && z != run_zero) {
				r = run_zero ? bs_add_zero(w, pos + i - run, run, e) :
					       bs_add_data(w, pos + i - run, buf + i - run, run, e);
				if (r < 0)
					return r;
				run = 0;
			}
			run_zero = z;
			run += blen;
			i += blen;
		}
		if (run > 0) {
			r = run_zero ? bs_add_zero(w, pos + n - run, run, e) :
				       bs_add_data(w, pos + n - run, buf + n - run, run, e);
			if (r < 0)
				return r;
		}
		/* A backup reads each block once: do not push everything else out of the cache. */
		(void) posix_fadvise(dev_fd, (off_t)pos, (off_t)n, POSIX_FADV_DONTNEED);
		pos += n;
		r = bs_progress(w, e);
		if (r < 0)
			return r;
	}
	return 0;
}

int blockstream_write(int dev_fd, const struct blockstream_header *h,
		      const struct blockstream_range *ranges, size_t n_ranges, int out_fd,
		      blockstream_progress_fn progress, void *user,
		      struct blockstream_stats *ret_stats, struct rerr *e)
{
	_cleanup_free_ unsigned char *buf = NULL;
	_cleanup_free_ unsigned char *out = NULL;
	unsigned char hb[BLOCKSTREAM_HEADER_SIZE];
	uint32_t bsize = h->block_size ?: BLOCKSTREAM_BLOCK_DEFAULT;
	struct blockstream_range whole = { 0, h->device_size };
	struct bs_writer w = { .fd = out_fd, .name = h->name, .size = h->device_size,
			       .progress = progress, .user = user };
	int r;

	if (bs_header_valid(h, bsize) < 0)
		return rerr_set(e, EINVAL, "bad block stream header for '%.*s'",
				BLOCKSTREAM_STR_MAX, h->name);
	if (h->kind == BLOCKSTREAM_FULL) {
		if (ranges || n_ranges)
			return rerr_set(e, EINVAL, "'%s': a full image takes no ranges", h->name);
		ranges = &whole;
		n_ranges = h->device_size ? 1 : 0;
	} else if (n_ranges && !ranges) {
		return rerr_set(e, EINVAL, "'%s': no ranges given", h->name);
	}
	for (size_t i = 0; i < n_ranges; i++) {
		const struct blockstream_range *g = &ranges[i];

		if (g->length == 0 || g->offset > h->device_size ||
		    g->length > h->device_size - g->offset ||
		    (i > 0 && g->offset < ranges[i - 1].offset + ranges[i - 1].length))
			return rerr_set(e, EINVAL,
					"'%s': range %zu (%" PRIu64 "+%" PRIu64 ") is empty, "
					"out of order or outside the device", h->name, i, g->offset,
					g->length);
	}
	buf = bs_alloc(BS_BUF);
	out = malloc(BS_OUTBUF);
	if (!buf || !out)
		return rerr_set(e, ENOMEM, "out of memory");
	w.out = out;
	(void) posix_fadvise(dev_fd, 0, 0, POSIX_FADV_SEQUENTIAL);

	bs_header_encode(h, bsize, hb);
	r = bs_emit(&w, hb, sizeof(hb), blockstream_crc32c(0, hb, sizeof(hb)), e);
	for (size_t i = 0; r == 0 && i < n_ranges; i++)
		r = bs_send_range(&w, dev_fd, buf, bsize, ranges[i].offset,
				  ranges[i].offset + ranges[i].length, e);
	if (r == 0)
		r = bs_flush_zero(&w, e);
	if (r == 0) {
		unsigned char rec[BLOCKSTREAM_RECORD_SIZE];

		bs_record_encode(rec, BS_END, w.st.extents, w.st.data_bytes, w.crc);
		w.crc = 0;
		r = bs_emit(&w, rec, sizeof(rec), 0, e);
	}
	if (r == 0)
		r = bs_flush(&w, e);
	if (r < 0)
		return r;
	DBG(SEND, "stream of '%s': %" PRIu64 " bytes, %" PRIu64 " extents, %" PRIu64 " data, %"
	    PRIu64 " zero", h->name, w.st.stream_bytes, w.st.extents, w.st.data_bytes,
	    w.st.zero_bytes);
	if (ret_stats)
		*ret_stats = w.st;
	return 0;
}
