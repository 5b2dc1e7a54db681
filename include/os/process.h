/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Child processes from an argv array (never a shell), with pipes to their
 * stdin and stdout, and default signal dispositions restored (snaprotate
 * ignores SIGPIPE; its children must not inherit that).
 */
#ifndef SNAPROTATE_PROCESS_H
#define SNAPROTATE_PROCESS_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "base/err.h"

#define SPAWN_STDIN_PIPE	(1U << 0)	/* *ret_in: write end of the child's stdin */
#define SPAWN_STDOUT_PIPE	(1U << 1)	/* *ret_out: read end of the child's stdout */
#define SPAWN_STDOUT_TO_STDERR	(1U << 2)	/* the child's stdout goes where its stderr
							 * goes: into the pipe with STDERR_PIPE */
#define SPAWN_STDIN_NULL	(1U << 3)	/* the child's stdin is /dev/null */
#define SPAWN_STDERR_PIPE	(1U << 4)	/* err: read end of the child's stderr */
#define SPAWN_NEW_PGROUP	(1U << 5)	/* a process group of its own (kill -PID takes all) */
#define SPAWN_MASK		((1U << 6) - 1)

/* The pipe ends spawn_full() returns, -1 where none was asked for. */
struct spawn_fds {
	int in;
	int out;
	int err;
};

/**
 * spawn_full() - Start @argv[0] (searched in PATH when it has no '/') with
 * @envp (NULL: ours), the pipes and settings @flags ask for.
 * @argv: The command and its arguments, NULL-terminated.
 * @envp: The environment, NULL-terminated; NULL: ours.
 * @flags: SPAWN_*; an unknown bit is -EINVAL.
 * @ret_fds: On success the pipe ends asked for, -1 for the others.
 * @ret_pid: On success the child's pid.
 * @e: The error record, filled on failure (may be NULL).
 * Return: 0 with the child's pid and @ret_fds (O_CLOEXEC), or -errno with @e.
 */
int spawn_full(char *const argv[], char *const envp[], unsigned flags,
	       struct spawn_fds *ret_fds, pid_t *ret_pid, struct rerr *e);

/**
 * spawn_argv() - Start @argv[0] (searched in PATH when it has no '/').
 * @argv: The command and its arguments, NULL-terminated.
 * @flags: SPAWN_*.
 * @ret_in: With SPAWN_STDIN_PIPE, the write end of the child's stdin; else untouched.
 * @ret_out: With SPAWN_STDOUT_PIPE, the read end of the child's stdout; else untouched.
 * @ret_pid: On success the child's pid.
 * @e: The error record, filled on failure (may be NULL).
 * Return: 0 with the child's pid (and the requested pipe ends, O_CLOEXEC), or -errno
 * with @e.
 */
int spawn_argv(char *const argv[], unsigned flags, int *ret_in, int *ret_out, pid_t *ret_pid,
	       struct rerr *e);

/**
 * signals_hold() - Hold off SIGINT, SIGTERM, SIGHUP and SIGQUIT (for the
 * calling thread) across a step that must finish once begun: a freeze, a
 * reserved thin-pool metadata snapshot. They are delivered at signals_release().
 * @old: Where the mask in force is kept, for signals_release().
 */
void signals_hold(sigset_t *old);

/**
 * signals_release() - Put back the mask signals_hold() saved in @old.
 * @old: The mask signals_hold() saved.
 */
void signals_release(const sigset_t *old);

/**
 * spawn_wait() - Wait for @pid.
 * @pid: A child of ours.
 * Return: its exit status (0-255), 128+N when killed by signal N, or -errno.
 */
int spawn_wait(pid_t pid);

#endif
