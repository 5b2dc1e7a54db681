/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Child processes from an argv array (never a shell), with pipes to their
 * stdin and stdout, and default signal dispositions restored (snaprotate
 * ignores SIGPIPE; its children must not inherit that).
 */
#ifndef SNAPROTATE_PROCESS_H
#define SNAPROTATE_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/err.h"

#define SPAWN_STDIN_PIPE	(1U << 0)	/* *ret_in: write end of the child's stdin */
#define SPAWN_STDOUT_PIPE	(1U << 1)	/* *ret_out: read end of the child's stdout */
#define SPAWN_STDOUT_TO_STDERR	(1U << 2)	/* the child's stdout goes to our stderr */
#define SPAWN_MASK		((1U << 3) - 1)

/**
 * spawn_argv() - Start @argv[0] (searched in PATH when it has no '/').
 * Return: 0 with the child's pid (and the requested pipe ends, O_CLOEXEC), or -errno.
 */
int spawn_argv(char *const argv[], unsigned flags, int *ret_in, int *ret_out, pid_t *ret_pid,
	       struct rerr *e);

/**
 * spawn_wait() - Wait for @pid.
 * Return: its exit status (0-255), 128+N when killed by signal N, or -errno.
 */
int spawn_wait(pid_t pid);

#endif
