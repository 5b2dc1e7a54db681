/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to src/format/blockstream*.c: the byte layout (include/format/blockstream.h
 * describes it) and what the writer (blockstream.c) and the reader
 * (blockstream_apply.c) share.
 */
#ifndef SNAPROTATE_BLOCKSTREAM_INTERNAL_H
#define SNAPROTATE_BLOCKSTREAM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "format/blockstream.h"

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

/* Whether @n bytes at @p are all zero. */
bool bs_is_zero(const unsigned char *p, size_t n);

/* @n bytes aligned for O_DIRECT-friendly I/O, or NULL. */
unsigned char *bs_alloc(size_t n);

/*
 * Reads the header from @fd into @b (BLOCKSTREAM_HEADER_SIZE bytes) and checks it.
 * Return: 0 with @ret, or -errno with @e.
 */
int bs_header_read(int fd, unsigned char *b, struct blockstream_header *ret, struct rerr *e);

#endif
