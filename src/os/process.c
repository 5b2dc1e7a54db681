/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "os/process.h"

extern char **environ;

static void spawn_close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0)
			close(p[i]);
}

int spawn_full(char *const argv[], char *const envp[], unsigned flags,
	       struct spawn_fds *ret_fds, pid_t *ret_pid, struct rerr *e)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, r;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	short attr_flags = POSIX_SPAWN_SETSIGDEF;
	sigset_t def;
	pid_t pid;

	if (flags & ~SPAWN_MASK)
		return rerr_set(e, EINVAL, "bad spawn flags");
	if (((flags & SPAWN_STDIN_PIPE) && pipe2(in, O_CLOEXEC) < 0) ||
	    ((flags & SPAWN_STDOUT_PIPE) && pipe2(out, O_CLOEXEC) < 0) ||
	    ((flags & SPAWN_STDERR_PIPE) && pipe2(err, O_CLOEXEC) < 0)) {
		r = rerr_set(e, errno, "cannot create a pipe for '%s'", argv[0]);
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigdefault(&attr, &def);
	if (flags & SPAWN_NEW_PGROUP) {
		posix_spawnattr_setpgroup(&attr, 0);
		attr_flags |= POSIX_SPAWN_SETPGROUP;
	}
	posix_spawnattr_setflags(&attr, attr_flags);
	if (flags & SPAWN_STDIN_PIPE)
		posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	else if (flags & SPAWN_STDIN_NULL)
		posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (flags & SPAWN_STDERR_PIPE)
		posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
	/*
	 * After stderr: into the same pipe, never our own stdout or stderr, which
	 * a daemon the child leaves behind would hold open for whoever reads them.
	 */
	if (flags & SPAWN_STDOUT_PIPE)
		posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	else if (flags & SPAWN_STDOUT_TO_STDERR)
		posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
	r = posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r != 0) {
		r = rerr_set(e, r, "cannot start '%s'", argv[0]);
		goto fail;
	}
	*ret_fds = (struct spawn_fds){ .in = in[1], .out = out[0], .err = err[0] };
	if (in[0] >= 0)
		close(in[0]);
	if (out[1] >= 0)
		close(out[1]);
	if (err[1] >= 0)
		close(err[1]);
	*ret_pid = pid;
	return 0;
fail:
	spawn_close_pair(in);
	spawn_close_pair(out);
	spawn_close_pair(err);
	return r;
}

int spawn_argv(char *const argv[], unsigned flags, int *ret_in, int *ret_out, pid_t *ret_pid,
	       struct rerr *e)
{
	struct spawn_fds fds;
	int r = spawn_full(argv, NULL, flags, &fds, ret_pid, e);

	if (r < 0)
		return r;
	if (flags & SPAWN_STDIN_PIPE)
		*ret_in = fds.in;
	if (flags & SPAWN_STDOUT_PIPE)
		*ret_out = fds.out;
	return 0;
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

void signals_hold(sigset_t *old)
{
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &block, old);
}

void signals_release(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}
