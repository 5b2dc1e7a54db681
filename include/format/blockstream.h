/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Block streams: the image of a block device (full) or of the blocks that
 * changed since a parent image (delta), as one self-describing, checksummed
 * byte stream. It is written front to back with no seeking, so it can go into
 * a pipe (ssh, a file:// target), and it is verified while it is read. The
 * module knows nothing of LVM: the caller says which byte ranges changed.
 *
 * Layout, version 1. All integers are little-endian and fixed-size; strings
 * are printable ASCII (0x20-0x7e), NUL-padded to their field, at most 127
 * bytes. CRC is CRC-32C (Castagnoli, as in iSCSI and ext4: init and final
 * xor 0xffffffff, reflected), crc32c("123456789") = 0xe3069283.
 *
 * Header, 1024 bytes:
 *	   0   8  magic "SRBLKSTR"
 *	   8   4  format version (1)
 *	  12   4  header size (1024)
 *	  16   4  kind: 1 full, 2 delta
 *	  20   4  block size: the zero-detection granularity, a power of two,
 *		  512 to 1 MiB
 *	  24   8  device size in bytes
 *	  32   8  flags, 0 (a reader refuses any bit it does not know)
 *	  40 128  volume name
 *	 168 128  snapshot name
 *	 296 128  snapshot uuid
 *	 424 128  parent snapshot name (delta), all zero (full)
 *	 552 128  parent snapshot uuid (delta), all zero (full)
 *	 680 340  reserved, zero
 *	1020   4  CRC of bytes 0-1019
 *
 * Then records of 32 bytes, a data record followed by its payload:
 *	   0   4  type: "DATA", "ZERO" or "END\0" (the four ASCII bytes)
 *	   4   4  reserved, zero
 *	   8   8  DATA/ZERO: device offset in bytes;  END: number of extents
 *	  16   8  DATA/ZERO: length in bytes (> 0);   END: payload bytes in all
 *	  24   4  DATA: CRC of the payload; ZERO: 0;  END: CRC of every byte of
 *		  the stream before the END record (header, records, payloads)
 *	  28   4  CRC of bytes 0-27 of this record
 *	  32      DATA only: the payload, length bytes (at most 4 MiB)
 *
 * A ZERO extent carries no payload and means "these bytes read as zeros": a
 * full image sends zero blocks that way, and so does a delta, because a block
 * that became zero has changed. Extents are in increasing offset order and do
 * not overlap; a full image's extents cover the device from 0 to its size
 * without a gap. The stream ends with the END record and nothing after it.
 */
#ifndef SNAPROTATE_BLOCKSTREAM_H
#define SNAPROTATE_BLOCKSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define BLOCKSTREAM_VERSION		1
#define BLOCKSTREAM_HEADER_SIZE		1024
#define BLOCKSTREAM_RECORD_SIZE		32
#define BLOCKSTREAM_STR_MAX		127		/* a name or uuid, without its NUL */
#define BLOCKSTREAM_BLOCK_DEFAULT	4096
#define BLOCKSTREAM_BLOCK_MIN		512
#define BLOCKSTREAM_BLOCK_MAX		(1U << 20)
#define BLOCKSTREAM_EXTENT_MAX		(4U << 20)	/* payload of one DATA record */

enum blockstream_kind {
	_BLOCKSTREAM_KIND_INVALID = 0,
	BLOCKSTREAM_FULL = 1,
	BLOCKSTREAM_DELTA = 2,
	_BLOCKSTREAM_KIND_MAX,
};

/**
 * blockstream_kind_to_string() - The name of a stream kind.
 * @k: The kind.
 * Return: "full", "delta", or NULL for an invalid kind.
 */
const char *blockstream_kind_to_string(enum blockstream_kind k);

struct blockstream_header {
	enum blockstream_kind kind;
	uint32_t version;		/* filled in by reading; writing always uses the current */
	uint32_t block_size;		/* 0 when writing: BLOCKSTREAM_BLOCK_DEFAULT */
	uint64_t device_size;		/* bytes */
	char volume[BLOCKSTREAM_STR_MAX + 1];
	char name[BLOCKSTREAM_STR_MAX + 1];
	char uuid[BLOCKSTREAM_STR_MAX + 1];
	char parent_name[BLOCKSTREAM_STR_MAX + 1];	/* delta only, else "" */
	char parent_uuid[BLOCKSTREAM_STR_MAX + 1];	/* delta only, else "" */
};

struct blockstream_range {
	uint64_t offset;		/* bytes */
	uint64_t length;
};

struct blockstream_stats {
	uint64_t stream_bytes;		/* the whole stream, header and END included */
	uint64_t data_bytes;		/* device bytes carried as payload */
	uint64_t zero_bytes;		/* device bytes covered by ZERO extents */
	uint64_t extents;		/* DATA and ZERO extents */
};

/*
 * Called with the counts so far: by the writer after each MiB of the device it
 * read, by the reader after each extent. Return 0 to go on, or <0 to stop: the
 * call then fails with that error, as "interrupted".
 */
typedef int (*blockstream_progress_fn)(void *user, const struct blockstream_stats *so_far);

/**
 * blockstream_write() - Write the stream of a device into a pipe or file.
 * @dev_fd: The device (or image file) to read, with pread(); it may be opened
 *          O_DIRECT when the ranges are aligned to its logical block size.
 * @h: What the header says. A full image has empty parent fields; a delta names its
 *     parent. @h->device_size bytes of @dev_fd must be readable.
 * @ranges: Delta: the byte ranges that changed, sorted, not overlapping, inside the
 *          device; every block in them is sent, as DATA or as ZERO when it reads
 *          as zeros. Full: must be NULL, the whole device is sent and its zero
 *          blocks become ZERO extents (a mostly empty device gives a small image).
 * @n_ranges: Entries in @ranges (0 for a delta means: nothing changed).
 * @out_fd: Where the stream goes, written sequentially (never seeks). SIGPIPE must be
 *          ignored by the caller when this is a pipe.
 * @progress: Optional, with @user.
 * @user: Passed to @progress.
 * @ret_stats: On success, what was written (may be NULL).
 * @e: The error record, filled on failure.
 * Return: 0, -EINVAL for a bad header or bad ranges, -ENOMEM, the error @progress
 *         stopped with, or -errno of a failed read or write, with @e naming it.
 */
int blockstream_write(int dev_fd, const struct blockstream_header *h,
		      const struct blockstream_range *ranges, size_t n_ranges, int out_fd,
		      blockstream_progress_fn progress, void *user,
		      struct blockstream_stats *ret_stats, struct rerr *e);

/* What blockstream_apply() insists on; NULL fields are not checked. */
struct blockstream_expect {
	const char *volume;
	const char *uuid;		/* the stream must be this snapshot */
	/*
	 * NULL: the stream must be a full image. Otherwise it must be a delta whose
	 * parent uuid is this one: the uuid of the image last applied to the target.
	 */
	const char *parent_uuid;
};

#define BLOCKSTREAM_APPLY_ZEROED	(1U << 0)	/* the target reads as zeros now: a
							 * full image skips its ZERO extents */
#define BLOCKSTREAM_APPLY_NO_EOF	(1U << 1)	/* more data follows the stream on
							 * @in_fd: stop right after END */
#define BLOCKSTREAM_APPLY_MASK		((1U << 2) - 1)

/**
 * blockstream_apply() - Read a stream, verify it, and write it into a device or file.
 * @in_fd: The stream, read sequentially (a pipe is fine).
 * @dev_fd: The target: a block device at least as large as the device in the header,
 *          or a regular file, which is truncated or extended to that size. -1 only
 *          verifies the stream and writes nothing.
 * @x: Expectations, checked against the header before anything is written; NULL
 *     accepts any stream.
 * @flags: BLOCKSTREAM_APPLY_*.
 * @progress: Optional, with @user.
 * @user: Passed to @progress.
 * @ret_header: On success, the stream's header (may be NULL).
 * @ret_stats: On success, what was read (may be NULL).
 * @e: The error record, filled on failure.
 *
 * ZERO extents are punched out of a regular file; on a block device they become
 * write-zeroes or discards, and zeros are written only over blocks that do not read
 * as zeros after that, so a thin LV stays thin. On success the target has been
 * flushed (fdatasync).
 *
 * Return: 0, or -errno with @e:
 *   -EMEDIUMTYPE  the header is not what @x asks for (the target is untouched);
 *   -EPROTONOSUPPORT  not a block stream, or an unknown version (untouched);
 *   -ENOSPC       the block device is smaller than the stream's device (untouched);
 *   -EBADMSG      a checksum does not match, a field is impossible, the stream is
 *                 truncated, or data follows it. When this happens after the header,
 *                 the target's content is undefined and must not be used.
 *   other         a failed read or write; the target's content is undefined.
 */
int blockstream_apply(int in_fd, int dev_fd, const struct blockstream_expect *x, unsigned flags,
		      blockstream_progress_fn progress, void *user,
		      struct blockstream_header *ret_header, struct blockstream_stats *ret_stats,
		      struct rerr *e);

/**
 * blockstream_read_header() - Read and check the header of a stored stream.
 * @fd: Read from its current position; exactly BLOCKSTREAM_HEADER_SIZE bytes are
 *      consumed on success.
 * @ret: On success the header.
 * @e: The error record, filled on failure.
 * Return: 0 with *@ret, -EPROTONOSUPPORT, -EBADMSG (bad checksum, impossible
 * field, short file), or -errno of the read, with @e.
 */
int blockstream_read_header(int fd, struct blockstream_header *ret, struct rerr *e);

/**
 * blockstream_fd_size() - Size of a block device or a regular file.
 * @fd: The open device or file.
 * @ret_size: On success its size in bytes.
 * @e: The error record, filled on failure.
 * Return: 0 with *@ret_size in bytes, or -errno (-ENOTBLK for anything else) with @e.
 */
int blockstream_fd_size(int fd, uint64_t *ret_size, struct rerr *e);

/**
 * blockstream_crc32c() - CRC-32C of @len bytes, continuing from @crc (0 to start).
 * @crc: The CRC so far, 0 to start.
 * @buf: The bytes.
 * @len: How many.
 *
 * Uses the SSE 4.2 instruction when the CPU has it, slicing-by-8 otherwise.
 *
 * Return: the CRC of everything so far.
 */
uint32_t blockstream_crc32c(uint32_t crc, const void *buf, size_t len);

/**
 * blockstream_crc32c_sw() - The portable slicing-by-8 implementation; tests compare the two.
 * @crc: The CRC so far, 0 to start.
 * @buf: The bytes.
 * @len: How many.
 * Return: the CRC of everything so far.
 */
uint32_t blockstream_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/**
 * blockstream_crc32c_combine() - CRC of A followed by B, from the CRC of A, the CRC of
 * B and the length of B, without reading either (as zlib's crc32_combine()).
 * @crc_a: The CRC of A.
 * @crc_b: The CRC of B.
 * @len_b: The length of B in bytes.
 * Return: the CRC of A followed by B.
 */
uint32_t blockstream_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

#endif
