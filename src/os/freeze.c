/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * FIFREEZE / FITHAW with a guaranteed thaw. What must hold (util-linux
 * fsfreeze.c for the ioctls; the rest is ours):
 *   - a watchdog process is started BEFORE the first freeze. It holds its own
 *     fds of the mounts and waits on a pipe whose write end only snaprotate
 *     holds: when snaprotate dies (any signal, SIGKILL included) the pipe
 *     reads EOF, and when the timeout passes poll() returns: either way the
 *     watchdog thaws every mount and exits. It runs in a session of its own,
 *     so a signal to snaprotate's process group does not take it along;
 *   - snaprotate blocks SIGINT, SIGTERM, SIGHUP and SIGQUIT between freeze and
 *     thaw, so an impatient ^C cannot leave the window half done;
 *   - nothing slow and no write to a frozen filesystem between freeze and
 *     thaw (the caller's part: only the snapshot ioctls/lvcreate);
 *   - a freeze that fails half-way thaws what it froze before it returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/debug.h"
#include "base/util.h"
#include "os/freeze.h"
#include "os/process.h"

struct freeze {
	size_t n;
	size_t frozen;		/* how many of fds[] are frozen */
	int pipe_w;		/* closing it (or dying) releases the watchdog */
	pid_t watchdog;
	sigset_t saved;		/* the signal mask to restore */
	int fds[];
};

static void freeze_thaw_fds(const int *fds, size_t n)
{
	for (size_t i = n; i > 0; i--)
		(void) ioctl(fds[i - 1], FITHAW, 0);
}

/* The watchdog's whole life: wait for the word, the end of snaprotate, or the timeout. */
static void freeze_watchdog(const int *fds, size_t n, int pipe_r, int64_t timeout)
{
	struct pollfd p = { .fd = pipe_r, .events = POLLIN };
	char c = 0;
	int k;

	(void) setsid();
	/* No TERM or INT reaches the watchdog through the terminal either. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	do
		k = poll(&p, 1, timeout > 0 ? (int)(timeout * 1000) : -1);
	while (k < 0 && errno == EINTR);
	/* "d": snaprotate thawed and is done; anything else (EOF, timeout): thaw. */
	if (k == 1 && read(pipe_r, &c, 1) == 1 && c == 'd')
		_exit(0);
	freeze_thaw_fds(fds, n);
	_exit(k == 0 ? 2 : 1);
}

int freeze_begin(char *const *mounts, size_t n, int64_t timeout, struct freeze **ret,
		 struct rerr *e)
{
	struct freeze *f;
	int p[2], r = 0;
	pid_t pid;

	f = calloc(1, sizeof(*f) + n * sizeof(int));
	if (!f)
		return rerr_set(e, ENOMEM, "out of memory");
	f->n = n;
	for (size_t i = 0; i < n; i++)
		f->fds[i] = -1;
	for (size_t i = 0; i < n; i++) {
		f->fds[i] = open(mounts[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (f->fds[i] < 0) {
			r = rerr_set(e, errno, "cannot open mount '%s' to freeze it", mounts[i]);
			goto fail;
		}
	}
	/* A socket pair rather than a pipe: MSG_NOSIGNAL, no SIGPIPE if the watchdog is gone. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0) {
		r = rerr_set(e, errno, "cannot create the watchdog's channel");
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		r = rerr_set(e, errno, "cannot start the thaw watchdog");
		close(p[0]);
		close(p[1]);
		goto fail;
	}
	if (pid == 0) {
		close(p[1]);
		freeze_watchdog(f->fds, n, p[0], timeout);
	}
	close(p[0]);
	f->pipe_w = p[1];
	f->watchdog = pid;
	signals_hold(&f->saved);
	for (size_t i = 0; i < n; i++) {
		if (ioctl(f->fds[i], FIFREEZE, 0) < 0) {
			struct rerr ignore = { 0 };

			r = rerr_set(e, errno, "cannot freeze '%s'", mounts[i]);
			(void) freeze_end(f, &ignore);
			return r;
		}
		f->frozen = i + 1;
		DBG(HOOKS, "froze '%s'", mounts[i]);
	}
	*ret = f;
	return 0;
fail:
	for (size_t i = 0; i < n; i++)
		if (f->fds[i] >= 0)
			close(f->fds[i]);
	free(f);
	return r;
}

int freeze_end(struct freeze *f, struct rerr *e)
{
	int r = 0;

	for (size_t i = f->frozen; i > 0; i--)
		if (ioctl(f->fds[i - 1], FITHAW, 0) < 0 && errno != EINVAL && r == 0)
			r = rerr_set(e, errno, "cannot thaw a frozen filesystem");
	/* Only after a clean thaw may the watchdog stand down; else it thaws too. */
	(void) send(f->pipe_w, r == 0 ? "d" : "t", 1, MSG_NOSIGNAL);
	close(f->pipe_w);
	while (waitpid(f->watchdog, NULL, 0) < 0 && errno == EINTR)
		;
	signals_release(&f->saved);
	for (size_t i = 0; i < f->n; i++)
		close(f->fds[i]);
	free(f);
	return r;
}
