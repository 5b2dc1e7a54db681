/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The block stream reader (LVM copies): verified and applied into a file, the
 * way a target and a restore read a stream they did not write.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "format/blockstream.h"
#include "fuzz.h"

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
