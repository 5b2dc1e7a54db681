/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Debug mask, libmount style: SNAPROTATE_DEBUG=retention,btrfs,lvm,hooks or all.
 * DBG() costs one branch when the mask is off.
 */
#ifndef SNAPROTATE_DEBUG_H
#define SNAPROTATE_DEBUG_H

#define DEBUG_CONFIG	(1U << 0)
#define DEBUG_BTRFS	(1U << 1)
#define DEBUG_LVM	(1U << 2)
#define DEBUG_RETENTION	(1U << 3)
#define DEBUG_HOOKS	(1U << 4)
#define DEBUG_LOCK	(1U << 5)
#define DEBUG_SEND	(1U << 6)
#define DEBUG_MASK	((1U << 7) - 1)

extern unsigned debug_mask;

/**
 * debug_init() - Read SNAPROTATE_DEBUG once; unknown words are ignored.
 */
void debug_init(void);

/**
 * debug_print() - Print "snaprotate: [@area] MESSAGE" and a newline to stderr; DBG() calls it.
 * @area: The debug area's name, as DBG() gives it ("BTRFS").
 * @fmt: printf() format of the message.
 * @...: Its arguments.
 */
void debug_print(const char *area, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define DBG(area, ...)							\
	do {								\
		if (debug_mask & DEBUG_##area)				\
			debug_print(#area, __VA_ARGS__);		\
	} while (0)

#endif
