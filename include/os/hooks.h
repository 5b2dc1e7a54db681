/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pre and post hooks (SPEC 7): executables run around a snapshot, from an argv
 * array (never a shell), each in a process group of its own that is killed
 * whole when it runs past hook_timeout.
 */
#ifndef SNAPROTATE_HOOKS_H
#define SNAPROTATE_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum hook_phase {
	HOOK_PRE,
	HOOK_POST,
	_HOOK_PHASE_MAX,
};

/**
 * hook_phase_to_string() - The name of a phase, as a hook gets it in argv[1]: "pre", "post".
 * @p: The phase.
 * Return: a static string, or NULL when @p is out of range.
 */
const char *hook_phase_to_string(enum hook_phase p);

/* What a hook is told, as SNAPROTATE_* variables. */
struct hook_env {
	const char *volume;	/* SNAPROTATE_VOLUME */
	const char *path;	/* SNAPROTATE_PATH: the subvolume, or VG/LV */
	const char *snapshot;	/* SNAPROTATE_SNAPSHOT: the name (pre: the one it will get) */
	const char *kind;	/* SNAPROTATE_KIND */
	const char *result;	/* SNAPROTATE_RESULT, post only: "success" or "failure" */
};

/**
 * hooks_check() - Refuse hooks that anyone but root could change: each must be
 * a regular file (not a symlink), owned by root, not writable by group or
 * others, and executable; every directory above it must be root's and not
 * writable by group or others unless sticky.
 * @hooks: The hooks' paths.
 * @n: How many.
 * @e: The error record, filled on failure.
 * Return: 0 or -EPERM/-EACCES (not executable)/-errno with @e naming the file.
 */
int hooks_check(char *const *hooks, size_t n, struct rerr *e);

/**
 * hooks_run() - Run @hooks in order, as `HOOK pre|post`, with @env.
 * @hooks: The hooks' paths; checked with hooks_check() first.
 * @n: How many (0: nothing to do).
 * @phase: HOOK_PRE or HOOK_POST.
 * @env: What the hooks are told, as SNAPROTATE_* variables; of our environment
 *       they keep only the locale, TZ and other SNAPROTATE_* variables.
 * @timeout: Seconds each may run, then its whole process group is killed; 0: no limit.
 * @e: The error record, filled on failure.
 *
 * Stops at the first hook that fails. Its stdout goes to our stderr.
 *
 * Return: 0 when every hook exited 0; -ETIMEDOUT or -EIO (non-zero exit, or
 * killed by a signal) or -errno with @e naming the hook and holding the last
 * lines it wrote to stderr.
 */
int hooks_run(char *const *hooks, size_t n, enum hook_phase phase, const struct hook_env *env,
	      int64_t timeout, struct rerr *e);

#endif
