/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CRC-32C (Castagnoli) for block streams: slicing-by-8 in software, the SSE
 * 4.2 instruction where the CPU has it (chosen once), and the combination of
 * two CRCs without the bytes (for a stream's CRC made of its records').
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/util.h"
#include "format/blockstream.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define BS_HAVE_SSE42	1
#endif

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

