/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A stream's producer (a backend's stream_source: the btrfs send ioctl, which
 * writes the whole stream from inside the kernel, or a block stream writer) runs in a
 * thread of its own writing into a pipe, and this thread reads the pipe. If
 * the reader stops (the target failed), closing the read end makes the
 * producer's next write fail with EPIPE and it returns: nothing is left
 * blocked. SIGPIPE is ignored for the process by the caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/debug.h"
#include "base/util.h"
#include "transport/send.h"

#define SEND_BUF	(1024 * 1024)

struct send_job {
	send_producer_fn produce;
	void *arg;
	int pipe_w;
	int error;		/* what the producer returned */
};

static void *send_thread(void *arg)
{
	struct send_job *j = arg;

	j->error = j->produce(j->arg, j->pipe_w);
	/* End of stream for the reader. */
	close(j->pipe_w);
	j->pipe_w = -1;
	return NULL;
}

int send_stream(send_producer_fn produce, void *arg, const char *what, send_chunk_fn fn,
		void *user, uint64_t *ret_bytes, struct rerr *e)
{
	_cleanup_close_ int pipe_r = -1;
	struct send_job job = { .produce = produce, .arg = arg, .pipe_w = -1 };
	int p[2], r = 0, k;
	uint64_t bytes = 0;
	pthread_t t;

	if (pipe2(p, O_CLOEXEC) < 0)
		return rerr_set(e, errno, "cannot create a pipe");
	pipe_r = p[0];
	job.pipe_w = p[1];
	/* A bigger pipe means fewer wakeups; failure only costs speed. */
	(void) fcntl(pipe_r, F_SETPIPE_SZ, SEND_BUF);
	k = pthread_create(&t, NULL, send_thread, &job);
	if (k != 0) {
		close(job.pipe_w);
		return rerr_set(e, k, "cannot start the send thread");
	}
	/*
	 * Hand on whatever the pipe holds, as one chunk: the consumer splices it
	 * on, so the stream's pages are moved, never copied through this process.
	 */
	for (;;) {
		struct pollfd pfd = { .fd = pipe_r, .events = POLLIN };
		int avail = 0;

		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = rerr_set(e, errno, "cannot wait for the stream of '%s'", what);
			break;
		}
		if (ioctl(pipe_r, FIONREAD, &avail) < 0) {
			r = rerr_set(e, errno, "cannot read the stream of '%s'", what);
			break;
		}
		if (avail == 0) {
			if (pfd.revents & (POLLHUP | POLLERR))
				break;		/* the producer is done and the pipe empty */
			continue;
		}
		bytes += (uint64_t)avail;
		r = fn(user, pipe_r, (size_t)avail);
		if (r < 0)
			break;
	}
	/* On an early stop the producer's next write gets EPIPE and it returns. */
	close(TAKE_FD(pipe_r));
	pthread_join(t, NULL);
	if (r < 0)
		return r;
	if (job.error < 0)
		return rerr_set(e, -job.error, "the stream of '%s' failed", what);
	*ret_bytes = bytes;
	return 0;
}
