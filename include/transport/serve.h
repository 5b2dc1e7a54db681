/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The receiving side of a target (SPEC 6): `snaprotate serve --root DIR`.
 */
#ifndef SNAPROTATE_SERVE_H
#define SNAPROTATE_SERVE_H

#include "base/err.h"

/**
 * serve_main() - Speak the target protocol (include/proto.h) on @in/@out until
 * the client quits or goes away, keeping everything under @root.
 * Return: 0, or -errno with @e when @root cannot be served at all.
 */
int serve_main(const char *root, int in, int out, struct rerr *e);

#endif
