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

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define BS_HAVE_SSE42	1
#endif

#define BS_MAGIC	"SRBLKSTR"
#define BS_TAG(a, b, c, d) \
	((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define BS_DATA		BS_TAG('D', 'A', 'T', 'A')
#define BS_ZERO		BS_TAG('Z', 'E', 'R', 'O')
#define BS_END		BS_TAG('E', 'N', 'D', '\0')

/* Device bytes read at once (a multiple of any block size); records collected per write. */
#define BS_BUF		(1U << 20)
#define BS_OUTBUF	(256U << 10)
#define BS_ALIGN	4096

/* Header field offsets. */
#define H_VERSION	8
#define H_SIZE		12
#define H_KIND		16
#define H_BLOCK		20
#define H_DEVSIZE	24
#define H_FLAGS		32
#define H_VOLUME	40
#define H_NAME		168
#define H_UUID		296
#define H_PNAME		424
#define H_PUUID		552
#define H_STRLEN	128
#define H_RESERVED	680
#define H_CRC		1020

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

/* ---------------------------------------------------------------- bytes */

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const unsigned char *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* ---------------------------------------------------------------- CRC-32C */

#define CRC32C_POLY	0x82f63b78U	/* reflected 0x1edc6f41 */

static uint32_t crc_table[8][256];
static uint32_t crc_x2n[32];		/* x^(2^n) mod P, for combining */
static uint32_t (*crc_impl)(uint32_t crc, const unsigned char *p, size_t n);
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* Raw CRC state in, raw state out (no pre/post inversion). */
static uint32_t crc_sw_raw(uint32_t c, const unsigned char *p, size_t n)
{
	while (n > 0 && ((uintptr_t)p & 7)) {
		c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
		n--;
	}
	while (n >= 8) {
		c ^= get_le32(p);
		c = crc_table[7][c & 0xff] ^ crc_table[6][(c >> 8) & 0xff] ^
		    crc_table[5][(c >> 16) & 0xff] ^ crc_table[4][c >> 24] ^ crc_table[3][p[4]] ^
		    crc_table[2][p[5]] ^ crc_table[1][p[6]] ^ crc_table[0][p[7]];
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

#ifdef BS_HAVE_SSE42
__attribute__((target("sse4.2")))
static uint32_t crc_hw_raw(uint32_t c32, const unsigned char *p, size_t n)
{
	uint64_t c = c32;

	while (n > 0 && ((uintptr_t)p & 7)) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		n--;
	}
	while (n >= 8) {
		uint64_t v;

		memcpy(&v, p, sizeof(v));
		c = _mm_crc32_u64(c, v);
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return (uint32_t)c;
}
#endif

/* a * b modulo P, both as reflected polynomials (zlib's multmodp()). */
static uint32_t crc_multmodp(uint32_t a, uint32_t b)
{
	uint32_t m = 1U << 31, p = 0;

	for (;;) {
		if (a & m) {
			p ^= b;
			if ((a & (m - 1)) == 0)
				break;
		}
		m >>= 1;
		b = b & 1 ? (b >> 1) ^ CRC32C_POLY : b >> 1;
	}
	return p;
}

static void crc_init(void)
{
	uint32_t p;

	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
					  crc_table[0][crc_table[t - 1][i] & 0xff];
	p = 1U << 30;	/* x^1 */
	crc_x2n[0] = p;
	for (int n = 1; n < 32; n++)
		crc_x2n[n] = p = crc_multmodp(p, p);
	crc_impl = crc_sw_raw;
#ifdef BS_HAVE_SSE42
	if (__builtin_cpu_supports("sse4.2"))
		crc_impl = crc_hw_raw;
#endif
}

uint32_t blockstream_crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc_once, crc_init);
	return ~crc_impl(~crc, buf, len);
}

uint32_t blockstream_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc_once, crc_init);
	return ~crc_sw_raw(~crc, buf, len);
}

uint32_t blockstream_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
	uint32_t x = 1U << 31;	/* x^0 */

	pthread_once(&crc_once, crc_init);
	/* x^(8 * len_b) mod P: one factor x^(2^k) per set bit of len_b, k from 3. */
	for (unsigned k = 3; len_b; len_b >>= 1, k++)
		if (len_b & 1)
			x = crc_multmodp(crc_x2n[k & 31], x);
	return crc_multmodp(x, crc_a) ^ crc_b;
}

/* ---------------------------------------------------------------- helpers */

static bool bs_is_zero(const unsigned char *p, size_t n)
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

static unsigned char *bs_alloc(size_t n)
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

static int bs_header_read(int fd, unsigned char *b, struct blockstream_header *ret,
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

/* ---------------------------------------------------------------- reader */

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

int blockstream_apply(int in_fd, int dev_fd, const struct blockstream_expect *x, unsigned flags,
		      blockstream_progress_fn progress, void *user,
		      struct blockstream_header *ret_header, struct blockstream_stats *ret_stats,
		      struct rerr *e)
{
	_cleanup_free_ unsigned char *buf = NULL;
	_cleanup_free_ unsigned char *zeros = NULL;
	unsigned char hb[BLOCKSTREAM_HEADER_SIZE], rec[BLOCKSTREAM_RECORD_SIZE];
	struct blockstream_stats st = { 0 };
	struct blockstream_header h;
	uint64_t end = 0;	/* where the last extent ended */
	size_t buf_size = BS_BUF;
	bool blk = false, skip_zero;
	const char *n;
	uint32_t crc;
	int r;

	if (flags & ~BLOCKSTREAM_APPLY_MASK)
		return rerr_set(e, EINVAL, "bad block stream apply flags");
	r = bs_header_read(in_fd, hb, &h, e);
	if (r < 0)
		return r;
	n = h.name;
	r = bs_expect(&h, x, e);
	if (r < 0)
		return r;
	if (dev_fd >= 0) {
		r = bs_target_prepare(dev_fd, &h, e);
		if (r < 0)
			return r;
		blk = r > 0;
	}
	skip_zero = dev_fd < 0 ||
		    ((flags & BLOCKSTREAM_APPLY_ZEROED) && h.kind == BLOCKSTREAM_FULL);
	buf = bs_alloc(BS_BUF);
	if (!buf)
		return rerr_set(e, ENOMEM, "out of memory");
	crc = blockstream_crc32c(0, hb, sizeof(hb));
	st.stream_bytes = sizeof(hb);

	for (;;) {
		uint64_t off, len;
		uint32_t type, c;
		ssize_t k;

		k = read_full(in_fd, rec, sizeof(rec));
		if (k < 0)
			return rerr_set(e, (int)k, "cannot read the stream of '%s'", n);
		if (k < (ssize_t)sizeof(rec))
			return rerr_set(e, EBADMSG, "the stream of '%s' is truncated after %" PRIu64
					" bytes (no end record)", n, st.stream_bytes + (uint64_t)k);
		if (get_le32(rec + 28) != blockstream_crc32c(0, rec, 28) || get_le32(rec + 4) != 0)
			return rerr_set(e, EBADMSG, "the stream of '%s' is corrupt at byte %" PRIu64
					" (record checksum)", n, st.stream_bytes);
		type = get_le32(rec);
		off = get_le64(rec + 8);
		len = get_le64(rec + 16);
		c = get_le32(rec + 24);
		if (type == BS_END) {
			if (off != st.extents || len != st.data_bytes || c != crc)
				return rerr_set(e, EBADMSG, "the stream of '%s' is corrupt: its "
						"end record does not match what came before", n);
			if (h.kind == BLOCKSTREAM_FULL && end != h.device_size)
				return rerr_set(e, EBADMSG, "the full image '%s' covers %" PRIu64
						" of %" PRIu64 " bytes", n, end, h.device_size);
			st.stream_bytes += sizeof(rec);
			break;
		}
		if ((type != BS_DATA && type != BS_ZERO) || len == 0 || off < end ||
		    off > h.device_size || len > h.device_size - off ||
		    (h.kind == BLOCKSTREAM_FULL && off != end) ||
		    (type == BS_DATA && len > BLOCKSTREAM_EXTENT_MAX) ||
		    (type == BS_ZERO && c != 0))
			return rerr_set(e, EBADMSG, "the stream of '%s' is corrupt at byte %" PRIu64
					" (impossible record)", n, st.stream_bytes);
		crc = blockstream_crc32c_combine(crc, blockstream_crc32c(0, rec, sizeof(rec)),
						 sizeof(rec));
		st.stream_bytes += sizeof(rec);

		if (type == BS_DATA) {
			/* Ours fit BS_BUF; longer ones, up to the format's limit, are valid. */
			if (len > buf_size) {
				free(buf);
				buf = bs_alloc(BLOCKSTREAM_EXTENT_MAX);
				if (!buf)
					return rerr_set(e, ENOMEM, "out of memory");
				buf_size = BLOCKSTREAM_EXTENT_MAX;
			}
			k = read_full(in_fd, buf, (size_t)len);
			if (k < 0)
				return rerr_set(e, (int)k, "cannot read the stream of '%s'", n);
			if ((uint64_t)k < len)
				return rerr_set(e, EBADMSG, "the stream of '%s' is truncated "
						"after %" PRIu64 " bytes (in a payload)", n,
						st.stream_bytes + (uint64_t)k);
			if (blockstream_crc32c(0, buf, (size_t)len) != c)
				return rerr_set(e, EBADMSG, "the stream of '%s' is corrupt: "
						"payload at byte %" PRIu64 " for device bytes %"
						PRIu64 "+%" PRIu64, n, st.stream_bytes, off, len);
			crc = blockstream_crc32c_combine(crc, c, len);
			st.stream_bytes += len;
			if (dev_fd >= 0) {
				r = pwrite_all(dev_fd, buf, (size_t)len, off);
				if (r < 0)
					return rerr_set(e, r, "cannot write '%s' at byte %"
							PRIu64, n, off);
			}
			st.data_bytes += len;
		} else {
			if (!skip_zero) {
				r = bs_zero_target(dev_fd, blk, off, len, buf, &zeros,
						   h.block_size);
				if (r < 0)
					return rerr_set(e, r, "cannot zero bytes %" PRIu64 "+%"
							PRIu64 " of '%s'", off, len, n);
			}
			st.zero_bytes += len;
		}
		st.extents++;
		end = off + len;
		if (progress) {
			r = progress(user, &st);
			if (r < 0)
				return rerr_set(e, r, "receiving '%s' was interrupted", n);
		}
	}
	if (!(flags & BLOCKSTREAM_APPLY_NO_EOF)) {
		ssize_t k = read_full(in_fd, rec, 1);

		if (k < 0)
			return rerr_set(e, (int)k, "cannot read the stream of '%s'", n);
		if (k > 0)
			return rerr_set(e, EBADMSG, "the stream of '%s' has data after its end", n);
	}
	if (dev_fd >= 0 && fdatasync(dev_fd) < 0)
		return rerr_set(e, errno, "cannot flush the target of '%s'", n);
	DBG(SEND, "applied '%s' (%s): %" PRIu64 " bytes, %" PRIu64 " extents", n,
	    blockstream_kind_to_string(h.kind), st.stream_bytes, st.extents);
	if (ret_header)
		*ret_header = h;
	if (ret_stats)
		*ret_stats = st;
	return 0;
}
