/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The block stream reader (LVM copies): verified and applied into a file, the
 * way a target and a restore read a stream they did not write.
 *
 * Every header and record carries a CRC-32C, so nearly every mutation fails the
 * first check. Under libFuzzer a custom mutator mutates, then (7 times in 8)
 * sets every CRC right again, so the reader's later checks are reached too.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "format/blockstream.h"
#include "fuzz.h"

#ifdef SNAPROTATE_LIBFUZZER
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

static uint64_t le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* The CRCs of the header, of each record and payload, and END's of all before it. */
static void fix_crcs(uint8_t *d, size_t size)
{
	size_t pos = BLOCKSTREAM_HEADER_SIZE;
	uint32_t all;

	if (size < BLOCKSTREAM_HEADER_SIZE)
		return;
	put32(d + 1020, blockstream_crc32c(0, d, 1020));
	all = blockstream_crc32c(0, d, BLOCKSTREAM_HEADER_SIZE);
	while (pos + BLOCKSTREAM_RECORD_SIZE <= size) {
		uint8_t *r = d + pos;
		uint64_t len = le64(r + 16);
		bool data = memcmp(r, "DATA", 4) == 0;

		if (memcmp(r, "END", 4) == 0)
			put32(r + 24, all);
		else if (data && len <= size - pos - BLOCKSTREAM_RECORD_SIZE)
			put32(r + 24, blockstream_crc32c(0, r + BLOCKSTREAM_RECORD_SIZE, len));
		put32(r + 28, blockstream_crc32c(0, r, 28));
		if (memcmp(r, "END", 4) == 0)
			return;
		all = blockstream_crc32c(all, r, BLOCKSTREAM_RECORD_SIZE);
		if (data) {
			if (len > size - pos - BLOCKSTREAM_RECORD_SIZE)
				return;
			all = blockstream_crc32c(all, r + BLOCKSTREAM_RECORD_SIZE, len);
			pos += len;
		}
		pos += BLOCKSTREAM_RECORD_SIZE;
	}
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	size = LLVMFuzzerMutate(data, size, max_size);
	if (seed % 8)
		fix_crcs(data, size);
	return size;
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int in = memfd_create("stream", MFD_CLOEXEC), dev = memfd_create("dev", MFD_CLOEXEC);
	struct blockstream_header h;
	struct rerr e = { 0 };

	if (in < 0 || dev < 0 || write(in, data, size) != (ssize_t)size || lseek(in, 0, SEEK_SET))
		abort();
	(void) blockstream_read_header(in, &h, &e);
	if (lseek(in, 0, SEEK_SET) != 0)
		abort();
	/* A device larger than 64 MiB would only cost time: the header is checked first. */
	(void) blockstream_apply(in, -1, NULL, 0, NULL, NULL, &h, NULL, &e);
	if (lseek(in, 0, SEEK_SET) != 0)
		abort();
	if (blockstream_read_header(in, &h, &e) == 0 && h.device_size <= (64U << 20) &&
	    lseek(in, 0, SEEK_SET) == 0)
		(void) blockstream_apply(in, dev, NULL, BLOCKSTREAM_APPLY_ZEROED, NULL, NULL, NULL,
					 NULL, &e);
	close(in);
	close(dev);
	return 0;
}
