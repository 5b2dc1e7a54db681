/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The target protocol, version 1: lines of text over a pair of pipes (a local
 * `snaprotate serve`, or ssh to one), with the send stream in length-prefixed
 * chunks. Both sides use these helpers; the grammar is in README.md.
 *
 *   server:  SNAPROTATE 1
 *   client:  INFO | LIST VOLUME | RECEIVE VOLUME NAME {info.json} | FETCH VOLUME NAME
 *            | DELETE VOLUME NAME | QUIT
 *            after RECEIVE: DATA <n> and n bytes, ..., DATA 0
 *   server:  OK {json} | ERR message; after FETCH's OK, the stored stream in DATA chunks
 */
#ifndef SNAPROTATE_PROTO_H
#define SNAPROTATE_PROTO_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "backends/store.h"
#include "base/err.h"

#define PROTO_VERSION		1
#define PROTO_GREETING		"SNAPROTATE"
#define PROTO_LINE_MAX		(64U * 1024 * 1024)
#define PROTO_CHUNK_MAX		(16U * 1024 * 1024)

struct conn {
	int in;			/* what the peer writes */
	int out;		/* what the peer reads */
	char *buf;		/* read buffer */
	size_t start, end, cap;
	size_t line_max;	/* longer lines are refused (PROTO_LINE_MAX unless set lower) */
};

/**
 * conn_init() - Set up @c over two fds (not owned).
 * @c: The connection, filled.
 * @in: What the peer writes.
 * @out: What the peer reads.
 * Return: 0 or -ENOMEM.
 */
int conn_init(struct conn *c, int in, int out);

/**
 * conn_done() - Free @c's buffer; the fds stay open.
 * @c: The connection.
 */
void conn_done(struct conn *c);

/**
 * conn_read_line() - The next line, without its newline.
 * @c: The connection.
 * @ret: Points into @c's buffer, valid until the next read; NUL-terminated.
 * Return: 0, -EPIPE at end of input (a line cut short counts as the end),
 * -E2BIG for a line longer than @c->line_max (about: the buffer doubles up to
 * it), or -errno.
 */
int conn_read_line(struct conn *c, char **ret);

/**
 * conn_read_short_line() - As conn_read_line(), for a line expected to be
 * short ("DATA <n>"): reads in small pieces, so that the bytes after it stay
 * in the kernel for conn_splice_out() instead of being copied into the buffer.
 * @c: The connection.
 * @ret: Points into @c's buffer, valid until the next read; NUL-terminated.
 * Return: as conn_read_line().
 */
int conn_read_short_line(struct conn *c, char **ret);

/**
 * conn_read_exact() - Read exactly @len bytes (buffered ones first).
 * @c: The connection.
 * @buf: Where they go.
 * @len: How many.
 * Return: 0, -EPIPE at a premature end, or -errno.
 */
int conn_read_exact(struct conn *c, void *buf, size_t len);

/**
 * conn_write() - Write @len bytes to the peer.
 * @c: The connection.
 * @buf: The bytes.
 * @len: How many.
 * Return: 0 or -errno (-EPIPE when the peer is gone).
 */
int conn_write(struct conn *c, const void *buf, size_t len);

/**
 * conn_printf() - Write formatted text to the peer.
 * @c: The connection.
 * @fmt: printf() format.
 * @...: Its arguments.
 * Return: 0 or -errno (-EPIPE when the peer is gone, -ENOMEM).
 */
int conn_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * conn_write_chunk() - Write one chunk of a stream: "DATA <len>\n" and the bytes.
 * @c: The connection.
 * @buf: The bytes (may be NULL when @len is 0).
 * @len: How many; 0 ends the stream.
 * Return: 0 or -errno (-EPIPE when the peer is gone).
 */
int conn_write_chunk(struct conn *c, const void *buf, size_t len);

/**
 * conn_relay_chunk() - Pass a chunk of @len bytes that @from's peer is sending
 * on to @to's peer as a chunk: what @from buffered first, the rest by splice.
 * @from: The connection the chunk's bytes come from (its "DATA" line read).
 * @to: The connection it goes to.
 * @len: The chunk's length.
 * Return: 0, or -errno (-EPIPE when @from ended early).
 */
int conn_relay_chunk(struct conn *from, struct conn *to, size_t len);

/**
 * conn_splice_chunk() - A chunk of @len bytes taken from the pipe @fd: the
 * header, then the bytes spliced (moved, not copied) to the peer.
 * @c: The connection.
 * @fd: The pipe (any other fd is read and copied instead).
 * @len: How many bytes; @fd must hold them.
 * Return: 0, -EPIPE when @fd ends early, or -errno.
 */
int conn_splice_chunk(struct conn *c, int fd, size_t len);

/**
 * conn_splice_out() - Pass the next @len bytes from the peer on to @fd:
 * buffered bytes first, then spliced (in the kernel, not through a buffer
 * here) when the two fds allow it, read and written otherwise.
 * @c: The connection.
 * @fd: Where the bytes go; < 0 to drop them.
 * @len: How many bytes.
 * @write_error: In and out: 0, or the errno of a failed write to @fd. Once it
 * is set, the rest of the bytes are read and dropped, so that the peer's
 * stream stays in step.
 * Return: 0 when all @len bytes were taken from the peer, -EPIPE at a
 * premature end, or -errno of reading from the peer.
 */
int conn_splice_out(struct conn *c, int fd, size_t len, int *write_error);

/**
 * conn_splice_out_filtered() - As conn_splice_out(), with @f on the way: the
 * bytes @f must inspect are read here, fed to it, and written to @fd only once
 * it has taken them; the others are spliced past it. Once @f refuses,
 * *@refused is set and nothing more reaches @fd (not even what it had taken
 * but not yet written): the rest of the @len bytes are read and dropped.
 * @c: The connection.
 * @fd: Where the bytes go; < 0 to drop them.
 * @len: How many bytes.
 * @f: The filter.
 * @write_error: In and out: as for conn_splice_out().
 * @refused: In and out: set once @f refuses; when set, the bytes are dropped.
 * Return: 0 when all @len bytes were taken from the peer, -EPIPE at a
 * premature end, or -errno of reading from the peer.
 */
int conn_splice_out_filtered(struct conn *c, int fd, size_t len, const struct stream_filter *f,
			     int *write_error, bool *refused);

#endif
