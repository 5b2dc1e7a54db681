/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/util.h"
#include "transport/proto.h"

#define CONN_BUF	(256 * 1024)
/* Read size for a line expected to be short (a "DATA <n>" header). */
#define CONN_SHORT_LINE	64
/* Read-ahead when a filter must see the next bytes: a command's headers. */
#define CONN_PEEK	512

int conn_init(struct conn *c, int in, int out)
{
	*c = (struct conn){ .in = in, .out = out, .cap = CONN_BUF, .line_max = PROTO_LINE_MAX };
	c->buf = malloc(c->cap);
	return c->buf ? 0 : -ENOMEM;
}

void conn_done(struct conn *c)
{
	free(c->buf);
	c->buf = NULL;
}

/* Reads up to @max more into the buffer. Return: bytes read, 0 at the end, -errno. */
static ssize_t conn_fill(struct conn *c, size_t max)
{
	ssize_t n;

	if (c->start > 0 && c->start == c->end)
		c->start = c->end = 0;
	if (c->end == c->cap) {
		if (c->start > 0) {
			memmove(c->buf, c->buf + c->start, c->end - c->start);
			c->end -= c->start;
			c->start = 0;
		} else {
			size_t cap = c->cap ? c->cap * 2 : CONN_BUF;
			char *nb;

			if (c->cap >= c->line_max)
				return -E2BIG;
			nb = realloc(c->buf, cap);
			if (!nb)
				return -ENOMEM;
			c->buf = nb;
			c->cap = cap;
		}
	}
	if (max > c->cap - c->end)
		max = c->cap - c->end;
	do
		n = read(c->in, c->buf + c->end, max);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	c->end += (size_t)n;
	return n;
}

static int conn_read_line_by(struct conn *c, char **ret, size_t short_len)
{
	size_t scanned = 0;

	for (;;) {
		char *nl = memchr(c->buf + c->start + scanned, '\n', c->end - c->start - scanned);
		ssize_t n;

		if (nl) {
			*nl = '\0';
			*ret = c->buf + c->start;
			c->start = (size_t)(nl - c->buf) + 1;
			return 0;
		}
		scanned = c->end - c->start;
		/* A short line that turns out long is read on in full-size pieces. */
		n = conn_fill(c, scanned < short_len ? short_len : c->cap);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EPIPE;
	}
}

int conn_read_line(struct conn *c, char **ret)
{
	return conn_read_line_by(c, ret, c->cap);
}

int conn_read_short_line(struct conn *c, char **ret)
{
	return conn_read_line_by(c, ret, CONN_SHORT_LINE);
}

int conn_read_exact(struct conn *c, void *buf, size_t len)
{
	char *p = buf;
	size_t have = c->end - c->start;

	if (have > len)
		have = len;
	memcpy(p, c->buf + c->start, have);
	c->start += have;
	if (len > have) {
		ssize_t n = read_full(c->in, p + have, len - have);

		if (n < 0)
			return (int)n;
		if ((size_t)n < len - have)
			return -EPIPE;
	}
	return 0;
}

int conn_write(struct conn *c, const void *buf, size_t len)
{
	return write_all(c->out, buf, len);
}

int conn_printf(struct conn *c, const char *fmt, ...)
{
	_cleanup_free_ char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	return conn_write(c, s, (size_t)n);
}

int conn_write_chunk(struct conn *c, const void *buf, size_t len)
{
	char head[32];
	int n = snprintf(head, sizeof(head), "DATA %zu\n", len);
	struct iovec iov[2] = {
		{ .iov_base = head, .iov_len = (size_t)n },
		{ .iov_base = (void *)buf, .iov_len = len },
	};
	size_t total = (size_t)n + len;

	/* One writev for header and data; finish with write_all on a short write. */
	for (;;) {
		ssize_t k = writev(c->out, iov, len ? 2 : 1);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if ((size_t)k == total)
			return 0;
		if ((size_t)k < (size_t)n) {
			int r = write_all(c->out, head + k, (size_t)n - (size_t)k);

			return r < 0 ? r : write_all(c->out, buf, len);
		}
		return write_all(c->out, (const char *)buf + ((size_t)k - (size_t)n),
				 total - (size_t)k);
	}
}

/* @len bytes from @in to @out: spliced where both allow, else copied. */
static int conn_splice_chunk_body(int in, int out, size_t len)
{
	char buf[65536];
	int r;

	while (len > 0) {
		ssize_t k = splice(in, NULL, out, NULL, len, SPLICE_F_MOVE | SPLICE_F_MORE);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EINVAL || errno == ENOSYS)) {
			/* Not a pipe on one side: copy. */
			k = read(in, buf, len < sizeof(buf) ? len : sizeof(buf));
			if (k > 0 && (r = write_all(out, buf, (size_t)k)) < 0)
				return r;
		}
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EPIPE;
		len -= (size_t)k;
	}
	return 0;
}

int conn_splice_chunk(struct conn *c, int fd, size_t len)
{
	char head[32];
	int n = snprintf(head, sizeof(head), "DATA %zu\n", len), r;

	r = write_all(c->out, head, (size_t)n);
	return r < 0 ? r : conn_splice_chunk_body(fd, c->out, len);
}

int conn_relay_chunk(struct conn *from, struct conn *to, size_t len)
{
	char head[32];
	int n = snprintf(head, sizeof(head), "DATA %zu\n", len), r;
	size_t have = from->end - from->start;

	r = write_all(to->out, head, (size_t)n);
	if (r < 0)
		return r;
	if (have > len)
		have = len;
	/* What the line reader took in already, then the rest without a copy. */
	r = write_all(to->out, from->buf + from->start, have);
	if (r < 0)
		return r;
	from->start += have;
	len -= have;
	if (len == 0)
		return 0;
	r = conn_splice_chunk_body(from->in, to->out, len);
	return r;
}

/* Reads and drops the next @len bytes from the peer (buffered bytes first). */
static int conn_skip(struct conn *c, size_t len)
{
	char buf[65536];

	while (len > 0) {
		size_t k = len < sizeof(buf) ? len : sizeof(buf);
		int r = conn_read_exact(c, buf, k);

		if (r < 0)
			return r;
		len -= k;
	}
	return 0;
}

/*
 * Moves the next @len bytes from the peer to @fd, with nothing buffered here:
 * spliced when the two fds allow it, else copied. After a failed write to @fd
 * (*write_error set) the rest is read and dropped.
 */
static int conn_splice_direct(struct conn *c, int fd, size_t len, int *write_error)
{
	bool copy = false;
	char buf[65536];
	int r;

	while (len > 0) {
		ssize_t k = -1;

		if (!copy) {
			k = splice(c->in, NULL, fd, NULL, len, SPLICE_F_MOVE | SPLICE_F_MORE);
			if (k < 0 && errno == EINTR)
				continue;
			if (k == 0)
				return -EPIPE;
			if (k > 0) {
				len -= (size_t)k;
				continue;
			}
			/* These two can't splice (neither is a pipe, say): copy the rest. */
			if (errno == EINVAL || errno == ENOSYS)
				copy = true;
		}
		/*
		 * Copy this piece: also after any other splice error, since only
		 * a read and a write tell a failing peer from a failing @fd.
		 */
		k = read(c->in, buf, len < sizeof(buf) ? len : sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EPIPE;
		len -= (size_t)k;
		r = write_all(fd, buf, (size_t)k);
		if (r < 0) {
			*write_error = -r;
			return conn_skip(c, len);
		}
	}
	return 0;
}

int conn_splice_out(struct conn *c, int fd, size_t len, int *write_error)
{
	size_t have = c->end - c->start;
	int r;

	if (fd < 0 || *write_error)
		return conn_skip(c, len);
	/* What the line reader buffered already goes first. */
	if (have > len)
		have = len;
	if (have) {
		r = write_all(fd, c->buf + c->start, have);
		c->start += have;
		len -= have;
		if (r < 0) {
			*write_error = -r;
			return conn_skip(c, len);
		}
	}
	return conn_splice_direct(c, fd, len, write_error);
}

/*
 * The buffer holds, from c->start: @pending bytes the filter has passed and
 * that are not written yet, then bytes it has not seen. Writing the pending
 * bytes in one go, just before a splice or at the end, keeps the number of
 * writes to one or two a command, whatever the filter's small steps.
 */
static int conn_flush_pending(struct conn *c, int fd, size_t *pending, int *write_error)
{
	int r = *pending ? write_all(fd, c->buf + c->start, *pending) : 0;

	c->start += *pending;
	*pending = 0;
	if (r < 0)
		*write_error = -r;
	return r;
}

int conn_splice_out_filtered(struct conn *c, int fd, size_t len, const struct stream_filter *f,
			     int *write_error, bool *refused)
{
	size_t pending = 0;

	while (len > 0) {
		size_t k, avail;
		bool inspect;
		ssize_t n;

		if (fd < 0 || *write_error || *refused) {
			/* Drop what is pending (a refused stream must not go on) and the rest. */
			c->start += pending;
			return conn_skip(c, len);
		}
		k = f->next(f->user, &inspect);
		if (k > len)
			k = len;
		avail = c->end - c->start - pending;
		if (inspect) {
			while (avail < k) {
				/* Read ahead a little: the next header usually follows at once. */
				size_t want = k - avail > CONN_PEEK ? k - avail : CONN_PEEK;

				n = conn_fill(c, want);
				if (n < 0)
					return (int)n;
				if (n == 0)
					return -EPIPE;
				avail += (size_t)n;
			}
			if (f->feed(f->user, c->buf + c->start + pending, k) < 0) {
				*refused = true;
				pending += k;
				len -= k;
				continue;
			}
			pending += k;
			len -= k;
			if (pending >= CONN_BUF / 2)
				(void) conn_flush_pending(c, fd, &pending, write_error);
			continue;
		}
		if (avail > 0) {
			size_t t = k < avail ? k : avail;

			f->pass(f->user, t);
			pending += t;
			len -= t;
			continue;
		}
		if (conn_flush_pending(c, fd, &pending, write_error) < 0)
			continue;
		f->pass(f->user, k);
		n = conn_splice_direct(c, fd, k, write_error);
		if (n < 0)
			return (int)n;
		len -= k;
	}
	if (*refused || *write_error || fd < 0) {
		c->start += pending;
		return 0;
	}
	(void) conn_flush_pending(c, fd, &pending, write_error);
	return 0;
}
