/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "os/process.h"

extern char **environ;

int spawn_argv(char *const argv[], unsigned flags, int *ret_in, int *ret_out, pid_t *ret_pid,
	       struct rerr *e)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, r;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t def;
	pid_t pid;

	if (flags & ~SPAWN_MASK)
		return rerr_set(e, EINVAL, "bad spawn flags");
	if ((flags & SPAWN_STDIN_PIPE) && pipe2(in, O_CLOEXEC) < 0)
		return rerr_set(e, errno, "cannot create a pipe for '%s'", argv[0]);
	if ((flags & SPAWN_STDOUT_PIPE) && pipe2(out, O_CLOEXEC) < 0) {
		r = rerr_set(e, errno, "cannot create a pipe for '%s'", argv[0]);
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
	if (flags & SPAWN_STDIN_PIPE)
		posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	if (flags & SPAWN_STDOUT_PIPE)
		posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	else if (flags & SPAWN_STDOUT_TO_STDERR)
		posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
	r = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r != 0) {
		r = rerr_set(e, r, "cannot start '%s'", argv[0]);
		goto fail;
	}
	if (flags & SPAWN_STDIN_PIPE) {
		close(in[0]);
		*ret_in = in[1];
	}
	if (flags & SPAWN_STDOUT_PIPE) {
		close(out[1]);
		*ret_out = out[0];
	}
	*ret_pid = pid;
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	return r;
}

int spawn_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
