/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-blockstream.c: the block stream format (include/blockstream.h)
 * on memfd "devices", and the pure parts of include/lvmthin.h (thin_delta's XML,
 * device-mapper names) that produce its ranges.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "backends/lvmthin.h"
#include "base/util.h"
#include "format/blockstream.h"

#define KiB	(1024ULL)
#define MiB	(1024ULL * 1024)

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static void fill_random(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rnd();

		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

static int mem_fd(const char *name, uint64_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void put(int fd, uint64_t off, const void *p, size_t n)
{
	assert_int_equal(pwrite(fd, p, n, (off_t)off), (ssize_t)n);
}

static void put_random(int fd, uint64_t off, size_t n)
{
	unsigned char *b = malloc(n);

	assert_non_null(b);
	fill_random(b, n);
	put(fd, off, b, n);
	free(b);
}

static void put_byte_pattern(int fd, uint64_t off, size_t n, int c)
{
	unsigned char *b = malloc(n);

	assert_non_null(b);
	memset(b, c, n);
	put(fd, off, b, n);
	free(b);
}

static uint64_t fd_size(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return (uint64_t)st.st_size;
}

static bool same_content(int a, int b)
{
	uint64_t n = fd_size(a);
	unsigned char *x, *y;
	bool same;

	if (fd_size(b) != n)
		return false;
	x = malloc(n + 1);
	y = malloc(n + 1);
	assert_true(x && y);
	assert_int_equal(pread(a, x, n, 0), (ssize_t)n);
	assert_int_equal(pread(b, y, n, 0), (ssize_t)n);
	same = memcmp(x, y, n) == 0;
	free(x);
	free(y);
	return same;
}

static int copy_fd(int src)
{
	uint64_t n = fd_size(src);
	int dst = mem_fd("copy", n);
	unsigned char *b = malloc(n + 1);

	assert_non_null(b);
	assert_int_equal(pread(src, b, n, 0), (ssize_t)n);
	put(dst, 0, b, n);
	free(b);
	return dst;
}

static void header_init(struct blockstream_header *h, enum blockstream_kind kind, uint64_t size,
			const char *name, const char *parent)
{
	*h = (struct blockstream_header){ .kind = kind, .device_size = size };
	strcpy(h->volume, "data");
	snprintf(h->name, sizeof(h->name), "%s", name);
	snprintf(h->uuid, sizeof(h->uuid), "uuid-%s", name);
	if (parent) {
		snprintf(h->parent_name, sizeof(h->parent_name), "%s", parent);
		snprintf(h->parent_uuid, sizeof(h->parent_uuid), "uuid-%s", parent);
	}
}

/* The stream of @dev in a new memfd, positioned at 0. */
static int stream_of(int dev, const struct blockstream_header *h,
		     const struct blockstream_range *ranges, size_t n,
		     struct blockstream_stats *ret_st)
{
	struct blockstream_stats st;
	struct rerr e = { 0 };
	int out = mem_fd("stream", 0), r;

	r = blockstream_write(dev, h, ranges, n, out, NULL, NULL, &st, &e);
	if (r < 0)
		fail_msg("blockstream_write: %s: %s", e.msg, strerror(-r));
	assert_int_equal(st.stream_bytes, fd_size(out));
	assert_int_equal(lseek(out, 0, SEEK_SET), 0);
	if (ret_st)
		*ret_st = st;
	return out;
}

static int apply(int stream, int dev, const struct blockstream_expect *x, unsigned flags,
		 struct rerr *e)
{
	assert_int_equal(lseek(stream, 0, SEEK_SET), 0);
	return blockstream_apply(stream, dev, x, flags, NULL, NULL, NULL, NULL, e);
}

/* ---------------------------------------------------------------- CRC-32C */

static void crc32c_known_vectors(void **state)
{
	static const struct {
		const char *what;
		unsigned char fill;	/* 0, 0xff, or 1: bytes 0, 1, 2, ... */
		size_t len;
		uint32_t crc;
	} cases[] = {
		/* RFC 3720 B.4, and the usual check value. */
		{ "32 zeros", 0x00, 32, 0x8a9136aa },
		{ "32 x 0xff", 0xff, 32, 0x62a8ab43 },
		{ "0..31", 1, 32, 0x46dd794e },
		{ "nothing", 0x00, 0, 0 },
	};
	unsigned char b[64];

	(void) state;
	assert_int_equal(blockstream_crc32c(0, "123456789", 9), 0xe3069283);
	assert_int_equal(blockstream_crc32c_sw(0, "123456789", 9), 0xe3069283);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		for (size_t k = 0; k < cases[i].len; k++)
			b[k] = cases[i].fill == 1 ? (unsigned char)k : cases[i].fill;
		if (blockstream_crc32c(0, b, cases[i].len) != cases[i].crc ||
		    blockstream_crc32c_sw(0, b, cases[i].len) != cases[i].crc)
			fail_msg("crc32c(%s) != %08" PRIx32, cases[i].what, cases[i].crc);
	}
}

static void crc32c_hw_matches_sw_and_continues(void **state)
{
	unsigned char b[4096 + 16];

	(void) state;
	fill_random(b, sizeof(b));
	for (int i = 0; i < 2000; i++) {
		size_t off = rnd() % 16, len = rnd() % 4096, cut = len ? rnd() % len : 0;
		uint32_t whole = blockstream_crc32c_sw(0, b + off, len);

		assert_int_equal(blockstream_crc32c(0, b + off, len), whole);
		/* Continuing a CRC over a split buffer gives the same value. */
		uint32_t head = blockstream_crc32c(0, b + off, cut);

		assert_int_equal(blockstream_crc32c(head, b + off + cut, len - cut), whole);
		head = blockstream_crc32c_sw(0, b + off, cut);
		assert_int_equal(blockstream_crc32c_sw(head, b + off + cut, len - cut), whole);
	}
}

static void crc32c_combine_matches_concatenation(void **state)
{
	static const size_t lens[] = { 0, 1, 7, 8, 32, 1023, 4096, 65536, 1 << 20 };
	unsigned char *b = malloc(2 << 20);

	(void) state;
	assert_non_null(b);
	fill_random(b, 2 << 20);
	for (size_t i = 0; i < ARRAY_SIZE(lens); i++)
		for (size_t k = 0; k < ARRAY_SIZE(lens); k++) {
			uint32_t a = blockstream_crc32c(0, b, lens[i]);
			uint32_t c = blockstream_crc32c(0, b + lens[i], lens[k]);

			if (blockstream_crc32c_combine(a, c, lens[k]) !=
			    blockstream_crc32c(0, b, lens[i] + lens[k]))
				fail_msg("combine(%zu, %zu) is wrong", lens[i], lens[k]);
		}
	free(b);
}

/* ---------------------------------------------------------------- round trips */

struct extent {
	uint64_t off;
	uint64_t len;
	int fill;		/* -1 random, else this byte */
};

static void full_round_trip_table(void **state)
{
	static const struct {
		const char *what;
		uint64_t size;
		uint32_t block;
		struct extent data[4];
		uint64_t max_stream;	/* 0: no limit */
		uint64_t data_bytes;	/* expected payload bytes */
	} cases[] = {
		{ "empty device", 0, 0, { { 0 } }, 1024 + 32, 0 },
		{ "all zeros", 8 * MiB, 0, { { 0 } }, 1024 + 2 * 32, 0 },
		{ "all data", 3 * MiB, 0, { { 0, 3 * MiB, -1 } }, 0, 3 * MiB },
		{ "sparse 64 MiB", 64 * MiB, 0,
		  { { 4 * KiB, 100, -1 }, { 10 * MiB + 8 * KiB, 8 * KiB, -1 },
		    { 63 * MiB, 3 * MiB / 2, 0x5a } },
		  1024 + 16 * 32 + 12 * KiB + 3 * MiB / 2, 4 * KiB + 8 * KiB + MiB },
		{ "size not a block multiple", MiB + 1234, 0,
		  { { MiB, 1234, 0x11 }, { 0, 1, 0x22 } }, 0, 4 * KiB + 1234 },
		{ "512-byte blocks", 2 * MiB, 512, { { 700, 100, -1 }, { MiB, 512, 0x33 } }, 0,
		  1024 },
		{ "1 MiB blocks", 3 * MiB, 1 << 20, { { 5, 5, -1 } }, 0, MiB },
		{ "data across the read buffer", 5 * MiB, 0, { { MiB - 4 * KiB, 2 * MiB, -1 } }, 0,
		  2 * MiB },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct blockstream_header h, got;
		struct blockstream_stats st;
		struct rerr e = { 0 };
		int dev, s, target, fresh, r;

		dev = mem_fd("dev", cases[i].size);
		for (size_t k = 0; k < ARRAY_SIZE(cases[i].data) && cases[i].data[k].len; k++) {
			const struct extent *x = &cases[i].data[k];
			uint64_t len = x->len;

			if (x->off + len > cases[i].size)
				len = cases[i].size - x->off;

			if (x->fill < 0)
				put_random(dev, x->off, len);
			else
				put_byte_pattern(dev, x->off, len, x->fill);
		}
		header_init(&h, BLOCKSTREAM_FULL, cases[i].size, "full", NULL);
		h.block_size = cases[i].block;
		s = stream_of(dev, &h, NULL, 0, &st);
		if (cases[i].max_stream && st.stream_bytes > cases[i].max_stream)
			fail_msg("%s: stream of %" PRIu64 " bytes, expected at most %" PRIu64,
				 cases[i].what, st.stream_bytes, cases[i].max_stream);
		if (st.data_bytes != cases[i].data_bytes ||
		    st.data_bytes + st.zero_bytes != cases[i].size)
			fail_msg("%s: %" PRIu64 " data + %" PRIu64 " zero bytes", cases[i].what,
				 st.data_bytes, st.zero_bytes);

		/* Over old content of another size: the image must replace all of it. */
		target = mem_fd("target", 7 * MiB);
		put_byte_pattern(target, 0, 7 * MiB, 0xab);
		r = blockstream_apply(s, target, NULL, 0, NULL, NULL, &got, NULL, &e);
		if (r < 0)
			fail_msg("%s: %s: %s", cases[i].what, e.msg, strerror(-r));
		if (!same_content(dev, target))
			fail_msg("%s: the target differs", cases[i].what);
		assert_int_equal(got.block_size, cases[i].block ?: BLOCKSTREAM_BLOCK_DEFAULT);
		assert_int_equal(got.device_size, cases[i].size);

		/* A fresh target may skip the zero extents. */
		fresh = mem_fd("fresh", 0);
		assert_int_equal(apply(s, fresh, NULL, BLOCKSTREAM_APPLY_ZEROED, &e), 0);
		if (!same_content(dev, fresh))
			fail_msg("%s: the zeroed target differs", cases[i].what);
		close(dev);
		close(s);
		close(target);
		close(fresh);
	}
}

struct pipe_job {
	int dev, out;
	struct blockstream_header h;
	int r;
};

static void *pipe_writer(void *arg)
{
	struct pipe_job *j = arg;
	struct rerr e = { 0 };

	j->r = blockstream_write(j->dev, &j->h, NULL, 0, j->out, NULL, NULL, NULL, &e);
	close(j->out);
	return NULL;
}

static void full_round_trip_through_a_pipe(void **state)
{
	struct pipe_job j = { 0 };
	struct blockstream_stats st;
	struct rerr e = { 0 };
	pthread_t t;
	int p[2], target;

	(void) state;
	j.dev = mem_fd("dev", 16 * MiB);
	put_random(j.dev, 0, 5 * MiB);
	put_random(j.dev, 9 * MiB + 512, 3 * MiB);
	header_init(&j.h, BLOCKSTREAM_FULL, 16 * MiB, "piped", NULL);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	j.out = p[1];
	assert_int_equal(pthread_create(&t, NULL, pipe_writer, &j), 0);
	target = mem_fd("target", 0);
	assert_int_equal(blockstream_apply(p[0], target, NULL, 0, NULL, NULL, NULL, &st, &e), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(j.r, 0);
	assert_true(same_content(j.dev, target));
	assert_int_equal(st.data_bytes, 5 * MiB + 3 * MiB + 4 * KiB);
	close(p[0]);
	close(j.dev);
	close(target);
}

/* Parent, then a newer device with rewritten, zeroed, unchanged-but-listed and tail ranges. */
static void delta_round_trip_with_zero_extents(void **state)
{
	const uint64_t size = 8 * MiB, chunk = 64 * KiB;
	const struct blockstream_range ranges[] = {
		{ 0, chunk },			/* rewritten */
		{ 3 * chunk, 2 * chunk },	/* became zero */
		{ 10 * chunk, chunk },		/* listed, unchanged: sent again */
		{ 20 * chunk, 3 * chunk },	/* half rewritten, half zeroed */
		{ size - chunk, chunk },	/* rewritten at the very end */
	};
	struct blockstream_header h;
	struct blockstream_stats st;
	struct blockstream_expect x = { .volume = "data", .parent_uuid = "uuid-A" };
	struct rerr e = { 0 };
	int parent, newer, s, target, r;

	(void) state;
	parent = mem_fd("A", size);
	put_random(parent, 0, size);
	newer = copy_fd(parent);
	put_random(newer, 0, chunk);
	put_byte_pattern(newer, 3 * chunk, 2 * chunk, 0);
	put_random(newer, 20 * chunk, chunk + chunk / 2);
	put_byte_pattern(newer, 21 * chunk + chunk / 2, chunk + chunk / 2, 0);
	put_random(newer, size - chunk, chunk);

	header_init(&h, BLOCKSTREAM_DELTA, size, "B", "A");
	s = stream_of(newer, &h, ranges, ARRAY_SIZE(ranges), &st);
	assert_int_equal(st.zero_bytes, 2 * chunk + chunk + chunk / 2);
	assert_int_equal(st.data_bytes, 4 * chunk + chunk / 2);
	assert_true(st.stream_bytes < st.data_bytes + 1024 + 16 * 32);

	target = copy_fd(parent);
	r = apply(s, target, &x, 0, &e);
	if (r < 0)
		fail_msg("%s: %s", e.msg, strerror(-r));
	assert_true(same_content(newer, target));

	/* ZEROED means nothing for a delta: its zero extents are changes. */
	close(target);
	target = copy_fd(parent);
	assert_int_equal(apply(s, target, &x, BLOCKSTREAM_APPLY_ZEROED, &e), 0);
	assert_true(same_content(newer, target));

	/* Nothing changed: a delta without extents. */
	close(s);
	s = stream_of(newer, &h, NULL, 0, &st);
	assert_int_equal(st.stream_bytes, 1024 + 32);
	assert_int_equal(apply(s, target, &x, 0, &e), 0);
	assert_true(same_content(newer, target));
	close(parent);
	close(newer);
	close(s);
	close(target);
}

/* A small full image and a delta, for the corruption tests. */
static int small_stream(bool delta, uint64_t *ret_len)
{
	struct blockstream_range r[] = { { 0, 8 * KiB }, { 40 * KiB, 12 * KiB } };
	struct blockstream_header h;
	int dev = mem_fd("dev", 64 * KiB), s;

	put_random(dev, 4 * KiB, 4 * KiB);
	put_random(dev, 44 * KiB, 100);
	put_random(dev, 60 * KiB, 4 * KiB);
	header_init(&h, delta ? BLOCKSTREAM_DELTA : BLOCKSTREAM_FULL, 64 * KiB, "s",
		    delta ? "p" : NULL);
	s = delta ? stream_of(dev, &h, r, ARRAY_SIZE(r), NULL) : stream_of(dev, &h, NULL, 0, NULL);
	close(dev);
	*ret_len = fd_size(s);
	return s;
}

static void every_flipped_byte_is_refused(void **state)
{
	static const unsigned char flips[] = { 0x01, 0x80, 0xff };

	(void) state;
	for (int delta = 0; delta < 2; delta++) {
		uint64_t len;
		int s = small_stream(delta, &len), target = mem_fd("t", 0);
		struct rerr e = { 0 };

		assert_int_equal(apply(s, target, NULL, 0, &e), 0);
		for (uint64_t i = 0; i < len; i++) {
			unsigned char c, bad, flip = flips[i % ARRAY_SIZE(flips)];
			int r;

			assert_int_equal(pread(s, &c, 1, (off_t)i), 1);
			bad = c ^ flip;
			put(s, i, &bad, 1);
			rerr_clear(&e);
			r = apply(s, target, NULL, 0, &e);
			if (r != -EBADMSG && r != -EPROTONOSUPPORT)
				fail_msg("%s: byte %" PRIu64 " ^ %02x: %d (%s)",
					 delta ? "delta" : "full", i, flip, r, e.msg);
			put(s, i, &c, 1);
		}
		close(s);
		close(target);
	}
}

static void every_truncation_is_refused(void **state)
{
	(void) state;
	for (int delta = 0; delta < 2; delta++) {
		uint64_t len;
		int s = small_stream(delta, &len), target = mem_fd("t", 0);

		/* Shorter and shorter: every length from len - 1 down to 0. */
		for (uint64_t k = len; k-- > 0;) {
			struct rerr e = { 0 };
			int r;

			assert_int_equal(ftruncate(s, (off_t)k), 0);
			r = apply(s, target, NULL, 0, &e);
			if (r != -EBADMSG)
				fail_msg("cut at %" PRIu64 " of %" PRIu64 ": %d (%s)", k, len, r,
					 e.msg);
			if (k > BLOCKSTREAM_HEADER_SIZE && !strstr(e.msg, "truncated"))
				fail_msg("cut at %" PRIu64 ": '%s' does not say truncated", k,
					 e.msg);
		}
		close(s);
		close(target);
	}
}

static void data_after_the_end(void **state)
{
	struct rerr e = { 0 };
	uint64_t len;
	int s = small_stream(false, &len), target = mem_fd("t", 0);
	char tail[] = "more", got[8] = "";

	(void) state;
	put(s, len, tail, 4);
	assert_int_equal(apply(s, target, NULL, 0, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "after its end"));
	/* Embedded in something else: stops at END and leaves the rest to read. */
	assert_int_equal(apply(s, target, NULL, BLOCKSTREAM_APPLY_NO_EOF, &e), 0);
	assert_int_equal(read(s, got, sizeof(got)), 4);
	assert_memory_equal(got, tail, 4);
	rerr_clear(&e);
	assert_int_equal(apply(s, target, NULL, 1U << 7, &e), -EINVAL);
	close(s);
	close(target);
}

static void header_mismatch_leaves_the_target_untouched(void **state)
{
	static const struct {
		const char *what;
		bool delta;
		struct blockstream_expect x;
	} cases[] = {
		{ "other volume", false, { .volume = "root" } },
		{ "other snapshot", false, { .uuid = "uuid-x" } },
		{ "full where a delta is expected", false, { .parent_uuid = "uuid-p" } },
		{ "delta where a full image is expected", true, { .volume = "data" } },
		{ "delta on another parent", true, { .parent_uuid = "uuid-q" } },
		{ "delta of another volume", true, { .volume = "x", .parent_uuid = "uuid-p" } },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t len;
		int s = small_stream(cases[i].delta, &len), target = mem_fd("t", 5000), before, r;
		struct rerr e = { 0 };

		put_byte_pattern(target, 0, 5000, 0x77);
		before = copy_fd(target);
		r = apply(s, target, &cases[i].x, 0, &e);
		if (r != -EMEDIUMTYPE)
			fail_msg("%s: %d (%s)", cases[i].what, r, e.msg);
		if (!same_content(before, target))
			fail_msg("%s: the target was changed", cases[i].what);
		close(s);
		close(target);
		close(before);
	}
	/* And the matching expectations pass. */
	{
		uint64_t len;
		int s = small_stream(true, &len), target = mem_fd("t", 0);
		struct blockstream_expect x = { "data", "uuid-s", "uuid-p" };
		struct rerr e = { 0 };

		assert_int_equal(apply(s, target, &x, 0, &e), 0);
		close(s);
		close(target);
	}
}

static void read_header_and_verify_only(void **state)
{
	struct blockstream_header h;
	struct blockstream_stats st;
	struct rerr e = { 0 };
	unsigned char b[BLOCKSTREAM_HEADER_SIZE];
	uint64_t len;
	int s = small_stream(true, &len), other;

	(void) state;
	assert_int_equal(blockstream_read_header(s, &h, &e), 0);
	assert_int_equal(lseek(s, 0, SEEK_CUR), BLOCKSTREAM_HEADER_SIZE);
	assert_int_equal(h.kind, BLOCKSTREAM_DELTA);
	assert_int_equal(h.version, BLOCKSTREAM_VERSION);
	assert_int_equal(h.device_size, 64 * KiB);
	assert_string_equal(h.volume, "data");
	assert_string_equal(h.name, "s");
	assert_string_equal(h.uuid, "uuid-s");
	assert_string_equal(h.parent_name, "p");
	assert_string_equal(h.parent_uuid, "uuid-p");
	assert_string_equal(blockstream_kind_to_string(h.kind), "delta");
	assert_null(blockstream_kind_to_string(_BLOCKSTREAM_KIND_MAX));

	/* Verify only: reads it all, writes nothing. */
	assert_int_equal(lseek(s, 0, SEEK_SET), 0);
	assert_int_equal(blockstream_apply(s, -1, NULL, 0, NULL, NULL, NULL, &st, &e), 0);
	assert_int_equal(st.stream_bytes, len);

	/* Not a stream at all, and a stream of a later version. */
	other = mem_fd("other", 0);
	put_byte_pattern(other, 0, 2000, 'x');
	assert_int_equal(lseek(other, 0, SEEK_SET), 0);
	assert_int_equal(blockstream_read_header(other, &h, &e), -EPROTONOSUPPORT);
	assert_int_equal(pread(s, b, sizeof(b), 0), (ssize_t)sizeof(b));
	b[8] = 2;
	/* Even with a valid checksum: the version decides first. */
	b[1020] = b[1021] = b[1022] = b[1023] = 0;
	{
		uint32_t c = blockstream_crc32c(0, b, 1020);

		for (int i = 0; i < 4; i++)
			b[1020 + i] = (unsigned char)(c >> (8 * i));
	}
	put(other, 0, b, sizeof(b));
	assert_int_equal(lseek(other, 0, SEEK_SET), 0);
	rerr_clear(&e);
	assert_int_equal(blockstream_read_header(other, &h, &e), -EPROTONOSUPPORT);
	assert_non_null(strstr(e.msg, "version 2"));
	close(other);
	close(s);
}

static void write_refuses_bad_arguments(void **state)
{
	static const struct blockstream_range one = { 0, 4096 };
	static const struct {
		const char *what;
		enum blockstream_kind kind;
		const char *name, *parent;
		uint32_t block;
		struct blockstream_range r[2];
		size_t n;
	} cases[] = {
		{ "bad kind", 7, "n", NULL, 0, { { 0 } }, 0 },
		{ "full with ranges", BLOCKSTREAM_FULL, "n", NULL, 0, { { 0, 4096 } }, 1 },
		{ "full with a parent", BLOCKSTREAM_FULL, "n", "p", 0, { { 0 } }, 0 },
		{ "delta without a parent", BLOCKSTREAM_DELTA, "n", NULL, 0, { { 0, 4096 } }, 1 },
		{ "empty name", BLOCKSTREAM_FULL, "", NULL, 0, { { 0 } }, 0 },
		{ "control character", BLOCKSTREAM_FULL, "a\nb", NULL, 0, { { 0 } }, 0 },
		{ "non-ASCII", BLOCKSTREAM_FULL, "caf\xc3\xa9", NULL, 0, { { 0 } }, 0 },
		{ "block size not a power of 2", BLOCKSTREAM_FULL, "n", NULL, 3000, { { 0 } }, 0 },
		{ "block size too small", BLOCKSTREAM_FULL, "n", NULL, 256, { { 0 } }, 0 },
		{ "block size too large", BLOCKSTREAM_FULL, "n", NULL, 2 << 20, { { 0 } }, 0 },
		{ "empty range", BLOCKSTREAM_DELTA, "n", "p", 0, { { 0, 0 } }, 1 },
		{ "range past the end", BLOCKSTREAM_DELTA, "n", "p", 0, { { 60 * KiB, 8 * KiB } },
		  1 },
		{ "overlapping ranges", BLOCKSTREAM_DELTA, "n", "p", 0,
		  { { 0, 8 * KiB }, { 4 * KiB, 4 * KiB } }, 2 },
		{ "unsorted ranges", BLOCKSTREAM_DELTA, "n", "p", 0,
		  { { 8 * KiB, 4 * KiB }, { 0, 4 * KiB } }, 2 },
	};
	int dev = mem_fd("dev", 64 * KiB);

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct blockstream_header h;
		struct rerr e = { 0 };
		int out = mem_fd("out", 0), r;

		header_init(&h, cases[i].kind, 64 * KiB, "x", cases[i].parent);
		snprintf(h.name, sizeof(h.name), "%s", cases[i].name);
		h.block_size = cases[i].block;
		r = blockstream_write(dev, &h, cases[i].n ? cases[i].r : NULL, cases[i].n, out,
				      NULL, NULL, NULL, &e);
		if (r != -EINVAL)
			fail_msg("%s: %d", cases[i].what, r);
		if (fd_size(out) != 0)
			fail_msg("%s: wrote something", cases[i].what);
		close(out);
	}
	/* A name of the longest length passes; one more byte does not. */
	{
		struct blockstream_header h;
		struct rerr e = { 0 };
		int out = mem_fd("out", 0);

		header_init(&h, BLOCKSTREAM_DELTA, 64 * KiB, "x", "p");
		memset(h.name, 'n', BLOCKSTREAM_STR_MAX);
		h.name[BLOCKSTREAM_STR_MAX] = '\0';
		assert_int_equal(blockstream_write(dev, &h, &one, 1, out, NULL, NULL, NULL, &e), 0);
		assert_int_equal(lseek(out, 0, SEEK_SET), 0);
		assert_int_equal(apply(out, -1, NULL, 0, &e), 0);
		close(out);
	}
	close(dev);
}

static void short_device_is_an_error(void **state)
{
	struct blockstream_header h;
	struct rerr e = { 0 };
	int dev = mem_fd("dev", MiB), out = mem_fd("out", 0);

	(void) state;
	header_init(&h, BLOCKSTREAM_FULL, 2 * MiB, "short", NULL);
	assert_int_equal(blockstream_write(dev, &h, NULL, 0, out, NULL, NULL, NULL, &e), -EIO);
	assert_non_null(strstr(e.msg, "ends before"));
	close(dev);
	close(out);
}

static int stop_after_two(void *user, const struct blockstream_stats *so_far)
{
	int *calls = user;

	(*calls)++;
	return so_far->extents >= 2 ? -ECANCELED : 0;
}

static void progress_can_stop_a_write(void **state)
{
	struct blockstream_header h;
	struct rerr e = { 0 };
	int dev = mem_fd("dev", 4 * MiB), out = mem_fd("out", 0), calls = 0;

	(void) state;
	put_random(dev, 0, 4 * MiB);
	header_init(&h, BLOCKSTREAM_FULL, 4 * MiB, "p", NULL);
	assert_int_equal(blockstream_write(dev, &h, NULL, 0, out, stop_after_two, &calls, NULL, &e),
			 -ECANCELED);
	assert_int_equal(calls, 2);
	close(dev);
	close(out);
}

/* ---------------------------------------------------------------- lvmthin */

/* What thin_delta 0.9 printed in the VM for a 64 KiB-chunk pool. */
static const char thin_delta_out[] =
	"<superblock uuid=\"\" time=\"2\" transaction=\"3\" data_block_size=\"128\" "
	"nr_data_blocks=\"0\">\n"
	"  <diff left=\"2\" right=\"3\">\n"
	"    <same begin=\"0\" length=\"3\"/>\n"
	"    <different begin=\"3\" length=\"1\"/>\n"
	"    <same begin=\"4\" length=\"60\"/>\n"
	"    <left_only begin=\"64\" length=\"16\"/>\n"
	"    <same begin=\"80\" length=\"48\"/>\n"
	"    <right_only begin=\"128\" length=\"32\"/>\n"
	"  </diff>\n"
	"</superblock>\n";

/* Around the ranges of a diff of ids 2 and 3 in a 64 KiB-chunk pool. */
#define XML_HEAD \
	"<superblock uuid=\"\" time=\"1\" transaction=\"1\" data_block_size=\"128\">\n" \
	"<diff left=\"2\" right=\"3\">\n"
#define XML_TAIL "</diff>\n</superblock>\n"

static int parse(const char *xml, uint64_t old_size, uint64_t new_size, struct lvmthin_delta *d,
		 struct rerr *e)
{
	FILE *f = fmemopen((void *)xml, strlen(xml), "r");
	int r;

	assert_non_null(f);
	r = lvmthin_delta_parse(f, 2, 3, old_size, new_size, d, e);
	fclose(f);
	return r;
}

static void thin_delta_xml_to_ranges(void **state)
{
	static const struct {
		const char *what;
		const char *body;	/* between <diff> and </diff> */
		uint64_t old_size, new_size;
		size_t n;
		struct blockstream_range r[3];
	} cases[] = {
		{ "nothing changed", "<same begin=\"0\" length=\"9\"/>\n", 128 * MiB, 128 * MiB, 0,
		  { { 0 } } },
		{ "touching ranges merge", "<different begin=\"1\" length=\"2\"/>\n"
		  "<right_only begin=\"3\" length=\"1\"/>\n<left_only begin=\"4\" length=\"1\"/>\n",
		  128 * MiB, 128 * MiB, 1, { { 64 * KiB, 4 * 64 * KiB } } },
		{ "cut at a shrunk end", "<left_only begin=\"10\" length=\"100\"/>\n", 8 * MiB,
		  MiB, 1, { { 640 * KiB, MiB - 640 * KiB } } },
		{ "wholly past the end", "<left_only begin=\"100\" length=\"10\"/>\n", 8 * MiB,
		  MiB, 0, { { 0 } } },
		{ "grown: the new part is sent", "<right_only begin=\"1\" length=\"1\"/>\n"
		  "<right_only begin=\"20\" length=\"1\"/>\n", MiB, 2 * MiB, 2,
		  { { 64 * KiB, 64 * KiB }, { MiB, MiB } } },
	};
	struct lvmthin_delta d;
	struct rerr e = { 0 };
	char xml[1024];

	(void) state;
	assert_int_equal(parse(thin_delta_out, 128 * MiB, 128 * MiB, &d, &e), 0);
	assert_int_equal(d.chunk_size, 64 * KiB);
	assert_int_equal(d.n, 3);
	assert_int_equal(d.ranges[0].offset, 3 * 64 * KiB);
	assert_int_equal(d.ranges[0].length, 64 * KiB);
	assert_int_equal(d.ranges[1].offset, 4 * MiB);
	assert_int_equal(d.ranges[1].length, MiB);
	assert_int_equal(d.ranges[2].offset, 8 * MiB);
	assert_int_equal(d.ranges[2].length, 2 * MiB);
	assert_int_equal(d.changed, 49 * 64 * KiB);
	lvmthin_delta_done(&d);

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(xml, sizeof(xml), XML_HEAD "%s" XML_TAIL, cases[i].body);
		if (parse(xml, cases[i].old_size, cases[i].new_size, &d, &e) < 0)
			fail_msg("%s: %s", cases[i].what, e.msg);
		if (d.n != cases[i].n)
			fail_msg("%s: %zu ranges", cases[i].what, d.n);
		for (size_t k = 0; k < d.n; k++)
			if (d.ranges[k].offset != cases[i].r[k].offset ||
			    d.ranges[k].length != cases[i].r[k].length)
				fail_msg("%s: range %zu is %" PRIu64 "+%" PRIu64, cases[i].what, k,
					 d.ranges[k].offset, d.ranges[k].length);
		lvmthin_delta_done(&d);
	}
}

static void thin_delta_xml_refused(void **state)
{
	static const struct {
		const char *what;
		const char *xml;
	} cases[] = {
		{ "empty", "" },
		{ "no superblock end", XML_HEAD "</diff>\n" },
		{ "other ids", "<superblock data_block_size=\"128\">\n"
		  "<diff left=\"1\" right=\"3\">\n" XML_TAIL },
		{ "swapped ids", "<superblock data_block_size=\"128\">\n"
		  "<diff left=\"3\" right=\"2\">\n" XML_TAIL },
		{ "no block size", "<superblock>\n<diff left=\"2\" right=\"3\">\n" XML_TAIL },
		{ "zero block size", "<superblock data_block_size=\"0\">\n"
		  "<diff left=\"2\" right=\"3\">\n" XML_TAIL },
		{ "verbose format", XML_HEAD "<different>\n<range begin=\"3\" "
		  "left_data_begin=\"3\" right_data_begin=\"160\" length=\"1\"/>\n"
		  "</different>\n" XML_TAIL },
		{ "out of order", XML_HEAD "<different begin=\"10\" length=\"2\"/>\n"
		  "<right_only begin=\"5\" length=\"1\"/>\n" XML_TAIL },
		{ "unknown element", XML_HEAD "<moved begin=\"1\" length=\"1\"/>\n" XML_TAIL },
		{ "negative number", XML_HEAD "<different begin=\"-1\" length=\"1\"/>\n" XML_TAIL },
		{ "overflow", XML_HEAD "<different begin=\"18446744073709551615\" length=\"1\"/>\n"
		  XML_TAIL },
		{ "an error message", "Unable to find mapping tree for snap2 (99)\n" },
		{ "trailing junk", XML_HEAD XML_TAIL "<superblock>\n" },
	};

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct lvmthin_delta d = { .n = 42 };
		struct rerr e = { 0 };
		int r;

		r = parse(cases[i].xml, MiB, MiB, &d, &e);
		if (r != -EPROTO)
			fail_msg("%s: %d", cases[i].what, r);
		if (d.n != 42)
			fail_msg("%s: wrote its output", cases[i].what);
	}
}

static void thin_dm_names(void **state)
{
	static const struct {
		const char *vg, *lv, *layer, *dm;
	} cases[] = {
		{ "vg0", "pool", "tpool", "vg0-pool-tpool" },
		{ "v-g", "po-ol", "tpool", "v--g-po--ol-tpool" },
		{ "vg0", "pool_tmeta", NULL, "vg0-pool_tmeta" },
		{ "a--b", "c-", NULL, "a----b-c--" },
		{ "vg+1", "x.y_z", NULL, "vg+1-x.y_z" },
		{ "vg", "-x", NULL, NULL },
		{ "", "x", NULL, NULL },
		{ "vg", "a b", NULL, NULL },
		{ "vg", "a/b", NULL, NULL },
		{ "vg", "..", NULL, NULL },
		{ "vg", "$(x)", NULL, NULL },
	};
	char buf[300], small[8];

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int r = lvmthin_dm_name(cases[i].vg, cases[i].lv, cases[i].layer, buf, sizeof(buf));

		if (cases[i].dm ? r != 0 || !streq(buf, cases[i].dm) : r != -EINVAL)
			fail_msg("'%s' '%s': %d '%s'", cases[i].vg, cases[i].lv, r, r ? "" : buf);
	}
	assert_int_equal(lvmthin_dev_path("my-vg", "thin", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/dev/mapper/my--vg-thin");
	assert_int_equal(lvmthin_dm_name("vg0", "pool", "tpool", small, sizeof(small)),
			 -ENAMETOOLONG);
	assert_int_equal(lvmthin_dm_name("vg0", "pool", NULL, small, sizeof(small)),
			 -ENAMETOOLONG);
	assert_int_equal(lvmthin_dm_name("vg", "pool", NULL, small, sizeof(small)), 0);
	assert_string_equal(small, "vg-pool");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc32c_known_vectors),
		cmocka_unit_test(crc32c_hw_matches_sw_and_continues),
		cmocka_unit_test(crc32c_combine_matches_concatenation),
		cmocka_unit_test(full_round_trip_table),
		cmocka_unit_test(full_round_trip_through_a_pipe),
		cmocka_unit_test(delta_round_trip_with_zero_extents),
		cmocka_unit_test(every_flipped_byte_is_refused),
		cmocka_unit_test(every_truncation_is_refused),
		cmocka_unit_test(data_after_the_end),
		cmocka_unit_test(header_mismatch_leaves_the_target_untouched),
		cmocka_unit_test(read_header_and_verify_only),
		cmocka_unit_test(write_refuses_bad_arguments),
		cmocka_unit_test(short_device_is_an_error),
		cmocka_unit_test(progress_can_stop_a_write),
		cmocka_unit_test(thin_delta_xml_to_ranges),
		cmocka_unit_test(thin_delta_xml_refused),
		cmocka_unit_test(thin_dm_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
