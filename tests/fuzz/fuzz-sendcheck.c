/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The btrfs send stream checker that stands between a sender and `btrfs
 * receive` in serve: fed the way serve feeds it (what it asks to inspect, the
 * rest passed unseen). It must never crash, and never accept what it refused.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "format/sendcheck.h"
#include "fuzz.h"

static const uint8_t want_uuid[SENDCHECK_UUID_SIZE] = {
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
	0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00,
};

/* Sources whose uuid starts with 0x11 are this root's copies; others are refused. */
static int source_ok(void *user, const uint8_t uuid[SENDCHECK_UUID_SIZE], bool parent,
		     struct rerr *e)
{
	(void) user;
	(void) parent;
	return uuid[0] == 0x11 ? 0 : rerr_set(e, EPERM, "not a copy here");
}

static int clone_path_ok(void *user, const uint8_t uuid[SENDCHECK_UUID_SIZE], const char *path,
			 struct rerr *e)
{
	(void) user;
	(void) uuid;
	return sendcheck_path_valid(path, strlen(path)) ? 0 : rerr_set(e, EPERM, "bad path");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct sendcheck_opts o = { .uuid = want_uuid, .subvol = "snapshot",
					  .source_ok = source_ok, .clone_path_ok = clone_path_ok };
	struct sendcheck *c = sendcheck_new(&o);
	struct rerr e = { 0 };
	size_t at = 0;
	int r = 0;

	if (!c)
		abort();
	while (at < size && r == 0) {
		bool inspect;
		size_t k = sendcheck_next(c, &inspect);

		if (k == 0)
			abort();
		if (k > size - at)
			k = size - at;
		if (inspect)
			r = sendcheck_feed(c, data + at, k, &e);
		else
			sendcheck_pass(c, k);
		at += k;
	}
	if (r == 0)
		r = sendcheck_finish(c, &e);
	else if (sendcheck_finish(c, &e) == 0)
		abort();	/* refused once, refused for good */
	sendcheck_free(c);
	return 0;
}
