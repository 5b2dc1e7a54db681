/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test driver for src/transport/blockstream.c and src/backends/lvmthin.c:
 *
 *   blockstream-tool full DEV OUT NAME UUID     full image of a device or file
 *   blockstream-tool full-lv VG LV OUT          full image of an active LV
 *   blockstream-tool delta VG OLD NEW OUT       thin delta OLD -> NEW (NEW active),
 *                                               with its ranges as range=OFFSET+LENGTH
 *   blockstream-tool ranges VG OLD NEW          the changed ranges, "OFFSET LENGTH"
 *   blockstream-tool apply [--zeroed] IN DEV [PARENT_UUID]
 *                                               a full image, or a delta on PARENT_UUID
 *   blockstream-tool verify IN                  check a stream, write nothing
 *   blockstream-tool header IN                  print a stream's header
 *
 * OUT and IN may be "-". Results are "key=value" lines on stdout; errors one
 * line on stderr and exit status 1 (2 for usage).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/lvmthin.h"
#include "base/util.h"
#include "format/blockstream.h"

static int fail(const struct rerr *e, int r)
{
	fprintf(stderr, "blockstream-tool: %s: %s\n", e->msg[0] ? e->msg : "error", strerror(-r));
	return 1;
}

static int open_in(const char *path)
{
	return streq(path, "-") ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3) :
				  open(path, O_RDONLY | O_CLOEXEC);
}

static int open_out(const char *path)
{
	return streq(path, "-") ? fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3) :
				  open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

static void print_stats(const struct blockstream_stats *st)
{
	printf("stream_bytes=%" PRIu64 "\ndata_bytes=%" PRIu64 "\nzero_bytes=%" PRIu64
	       "\nextents=%" PRIu64 "\n", st->stream_bytes, st->data_bytes, st->zero_bytes,
	       st->extents);
}

static void print_header(const struct blockstream_header *h)
{
	printf("kind=%s\nversion=%" PRIu32 "\nblock_size=%" PRIu32 "\ndevice_size=%" PRIu64
	       "\nvolume=%s\nname=%s\nuuid=%s\nparent_name=%s\nparent_uuid=%s\n",
	       blockstream_kind_to_string(h->kind), h->version, h->block_size, h->device_size,
	       h->volume, h->name, h->uuid, h->parent_name, h->parent_uuid);
}

/* Streams @dev_path to @out (stdout when "-") with header @h. */
static int send_stream(const char *dev_path, struct blockstream_header *h,
		const struct blockstream_range *ranges, size_t n, const char *out)
{
	_cleanup_close_ int dev = -1, fd = -1;
	struct blockstream_stats st;
	struct rerr e = { 0 };
	int r;

	dev = open(dev_path, O_RDONLY | O_CLOEXEC);
	if (dev < 0)
		return fail(&e, rerr_set(&e, errno, "cannot open '%s'", dev_path));
	r = blockstream_fd_size(dev, &h->device_size, &e);
	if (r < 0)
		return fail(&e, r);
	fd = open_out(out);
	if (fd < 0)
		return fail(&e, rerr_set(&e, errno, "cannot create '%s'", out));
	r = blockstream_write(dev, h, ranges, n, fd, NULL, NULL, &st, &e);
	if (r < 0)
		return fail(&e, r);
	if (fsync(fd) < 0 && errno != EINVAL)
		return fail(&e, rerr_set(&e, errno, "cannot flush '%s'", out));
	if (!streq(out, "-"))
		print_stats(&st);
	return 0;
}

static int lv_header(const char *vg, const char *lv, struct blockstream_header *h,
		     struct lvmthin_lv *ret)
{
	struct rerr e = { 0 };
	int r;

	r = lvmthin_lv_query(vg, lv, ret, &e);
	if (r < 0)
		return fail(&e, r);
	snprintf(h->volume, sizeof(h->volume), "%s", vg);
	snprintf(h->name, sizeof(h->name), "%s", ret->name);
	snprintf(h->uuid, sizeof(h->uuid), "%s", ret->uuid);
	return 0;
}

static int cmd_full_lv(char **argv)
{
	struct blockstream_header h = { .kind = BLOCKSTREAM_FULL };
	struct lvmthin_lv lv;
	char dev[300];

	if (lv_header(argv[0], argv[1], &h, &lv))
		return 1;
	if (lvmthin_dev_path(argv[0], argv[1], dev, sizeof(dev)) < 0)
		return 2;
	return send_stream(dev, &h, NULL, 0, argv[2]);
}

static int cmd_delta(char **argv, bool only_ranges)
{
	_cleanup_(lvmthin_delta_done) struct lvmthin_delta d = { 0 };
	struct blockstream_header h = { .kind = BLOCKSTREAM_DELTA };
	struct lvmthin_lv old, lv;
	struct rerr e = { 0 };
	char dev[300];
	int r;

	r = lvmthin_changed_ranges(argv[0], argv[1], argv[2], &d, &e);
	if (r < 0)
		return fail(&e, r);
	if (only_ranges) {
		for (size_t i = 0; i < d.n; i++)
			printf("%" PRIu64 " %" PRIu64 "\n", d.ranges[i].offset, d.ranges[i].length);
		return 0;
	}
	if (lv_header(argv[0], argv[1], &h, &old) || lv_header(argv[0], argv[2], &h, &lv))
		return 1;
	snprintf(h.parent_name, sizeof(h.parent_name), "%s", old.name);
	snprintf(h.parent_uuid, sizeof(h.parent_uuid), "%s", old.uuid);
	if (lvmthin_dev_path(argv[0], argv[2], dev, sizeof(dev)) < 0)
		return 2;
	if (!streq(argv[3], "-")) {
		printf("changed=%" PRIu64 "\nchunk_size=%" PRIu64 "\nranges=%zu\n", d.changed,
		       d.chunk_size, d.n);
		for (size_t i = 0; i < d.n; i++)
			printf("range=%" PRIu64 "+%" PRIu64 "\n", d.ranges[i].offset,
			       d.ranges[i].length);
	}
	return send_stream(dev, &h, d.ranges, d.n, argv[3]);
}

static int cmd_apply(int argc, char **argv)
{
	_cleanup_close_ int in = -1, dev = -1;
	struct blockstream_expect x = { 0 };
	struct blockstream_header h;
	struct blockstream_stats st;
	struct rerr e = { 0 };
	unsigned flags = 0;
	int r;

	if (argc > 0 && streq(argv[0], "--zeroed")) {
		flags |= BLOCKSTREAM_APPLY_ZEROED;
		argc--;
		argv++;
	}
	if (argc < 2 || argc > 3)
		return 2;
	x.parent_uuid = argc == 3 ? argv[2] : NULL;
	in = open_in(argv[0]);
	if (in < 0)
		return fail(&e, rerr_set(&e, errno, "cannot open '%s'", argv[0]));
	dev = open(argv[1], O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return fail(&e, rerr_set(&e, errno, "cannot open '%s'", argv[1]));
	r = blockstream_apply(in, dev, &x, flags, NULL, NULL, &h, &st, &e);
	if (r < 0)
		return fail(&e, r);
	print_header(&h);
	print_stats(&st);
	return 0;
}

static int cmd_verify(char **argv, bool header_only)
{
	_cleanup_close_ int in = -1;
	struct blockstream_header h;
	struct blockstream_stats st;
	struct rerr e = { 0 };
	int r;

	in = open_in(argv[0]);
	if (in < 0)
		return fail(&e, rerr_set(&e, errno, "cannot open '%s'", argv[0]));
	if (header_only) {
		r = blockstream_read_header(in, &h, &e);
		if (r < 0)
			return fail(&e, r);
		print_header(&h);
		return 0;
	}
	r = blockstream_apply(in, -1, NULL, 0, NULL, NULL, &h, &st, &e);
	if (r < 0)
		return fail(&e, r);
	print_header(&h);
	print_stats(&st);
	return 0;
}

int main(int argc, char *argv[])
{
	const char *cmd = argc > 1 ? argv[1] : "";
	int r = 2, n = argc - 2;

	signal(SIGPIPE, SIG_IGN);
	if (streq(cmd, "full") && n == 4) {
		struct blockstream_header h = { .kind = BLOCKSTREAM_FULL };

		snprintf(h.volume, sizeof(h.volume), "test");
		snprintf(h.name, sizeof(h.name), "%s", argv[4]);
		snprintf(h.uuid, sizeof(h.uuid), "%s", argv[5]);
		r = send_stream(argv[2], &h, NULL, 0, argv[3]);
	} else if (streq(cmd, "full-lv") && n == 3) {
		r = cmd_full_lv(argv + 2);
	} else if (streq(cmd, "delta") && n == 4) {
		r = cmd_delta(argv + 2, false);
	} else if (streq(cmd, "ranges") && n == 3) {
		r = cmd_delta(argv + 2, true);
	} else if (streq(cmd, "apply")) {
		r = cmd_apply(n, argv + 2);
	} else if (streq(cmd, "verify") && n == 1) {
		r = cmd_verify(argv + 2, false);
	} else if (streq(cmd, "header") && n == 1) {
		r = cmd_verify(argv + 2, true);
	}
	if (r == 2)
		fprintf(stderr, "usage: blockstream-tool full DEV OUT NAME UUID | "
			"full-lv VG LV OUT | delta VG OLD NEW OUT | ranges VG OLD NEW | "
			"apply [--zeroed] IN DEV [PARENT_UUID] | verify IN | header IN\n");
	if (fflush(stdout) != 0)
		r = 1;
	return r;
}
