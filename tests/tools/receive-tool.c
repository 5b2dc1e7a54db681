/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test driver for src/backends/btrfs_receive.c, serve's second layer alone:
 * `receive-tool DEST VOLUME_DIR` runs the confined `btrfs receive` into DEST
 * inside VOLUME_DIR (a subvolume) and
 * feeds it stdin unchecked, so a test can show what the confinement holds
 * without the stream checker in front. Prints "status N: LAST LINE".
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "backends/receive.h"

int main(int argc, char *argv[])
{
	struct receive rc;
	struct rerr e = { 0 };
	char buf[65536], why[512];
	int vfd = -1, status;
	ssize_t n;

	if (argc != 3) {
		fprintf(stderr, "usage: receive-tool DEST VOLUME_DIR\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	vfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (vfd < 0) {
		perror(argv[2]);
		return 2;
	}
	if (receive_start(&rc, argv[1], argv[2], vfd, &e) < 0) {
		fprintf(stderr, "receive-tool: %s: %s\n", e.msg, strerror(e.code));
		return 1;
	}
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
		if (write_all(rc.in, buf, (size_t)n) < 0)
			break;
	status = receive_finish(&rc, false, why, sizeof(why));
	printf("status %d: %s\n", status, why);
	return status == 0 ? 0 : 1;
}
