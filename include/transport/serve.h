/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The receiving side of a target (SPEC 6): `snaprotate serve --root DIR`.
 */
#ifndef SNAPROTATE_SERVE_H
#define SNAPROTATE_SERVE_H

#include "base/err.h"

/**
 * serve_main() - Speak the target protocol (transport/proto.h) on @in/@out until
 * the client quits or goes away, keeping everything under @root.
 * @root: The directory served, an absolute path.
 * @in: What the client writes.
 * @out: What the client reads.
 * @e: The error record, filled on failure.
 * Return: 0 (also when the client went away), or -errno with @e when @root
 * cannot be served at all or the session ended with an error (a request line
 * too long, a failed write to the client).
 */
int serve_main(const char *root, int in, int out, struct rerr *e);

#endif
