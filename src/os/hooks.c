/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hooks. The contract (SPEC 7):
 *   - argv array, no shell; SNAPROTATE_PHASE, _VOLUME, _PATH, _SNAPSHOT, _KIND
 *     and (post) _RESULT in an environment of its own: a fixed PATH, HOME and
 *     LOGNAME of the user, the caller's locale and TZ, and the caller's
 *     SNAPROTATE_* settings; nothing else of the caller's (a package manager's
 *     environment, LD_PRELOAD, IFS, ...) reaches a hook run as root;
 *   - hook_timeout = 0 means no limit;
 *   - a hook runs in a process group of its own; past hook_timeout the whole
 *     group is SIGKILLed, so a hook's children cannot outlive a timeout;
 *   - a failed pre hook means no snapshot; the post hooks run whenever the pre
 *     hooks ran (the caller's part);
 *   - only root-owned files that nobody else can write are run.
 * Waiting uses a pidfd and poll() on the hook's stderr, with the timeout as the
 * poll deadline: no sleeping, no signal handler.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/debug.h"
#include "base/util.h"
#include "os/hooks.h"
#include "os/process.h"

extern char **environ;

/* The PATH a hook runs with, whatever the caller's was. */
#define HOOK_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#define HOOK_TAIL	1024	/* bytes of stderr kept for the error message */
#define HOOK_ENV_MAX	12

static const char *const hook_phase_table[_HOOK_PHASE_MAX] = {
	[HOOK_PRE] = "pre",
	[HOOK_POST] = "post",
};

const char *hook_phase_to_string(enum hook_phase p)
{
	return (unsigned)p < _HOOK_PHASE_MAX ? hook_phase_table[p] : NULL;
}

/*
 * Every directory above @path must be root's and writable by nobody else (or
 * sticky, like /tmp): whoever can write one could swap the hook between the
 * check and the start.
 */
static int hooks_check_dirs(const char *path, struct rerr *e)
{
	_cleanup_free_ char *dir = NULL;
	char *slash;

	dir = realpath(path, NULL);
	if (!dir)
		return rerr_set(e, errno, "hook '%s'", path);
	while ((slash = strrchr(dir, '/'))) {
		struct stat st;

		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(dir, &st) < 0)
			return rerr_set(e, errno, "hook '%s': cannot check '%s'", path, dir);
		if (st.st_uid != 0 ||
		    ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)))
			return rerr_say(e, EPERM,
					"hook '%s': directory '%s' must be owned by root and not writable by group or others",
					path, dir);
		if (slash == dir)
			break;
	}
	return 0;
}

int hooks_check(char *const *hooks, size_t n, struct rerr *e)
{
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		int r;

		if (lstat(hooks[i], &st) < 0)
			return rerr_set(e, errno, "hook '%s'", hooks[i]);
		if (!S_ISREG(st.st_mode))
			return rerr_say(e, EPERM, "hook '%s' is not a regular file", hooks[i]);
		if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
			return rerr_say(e, EPERM,
					"hook '%s' must be owned by root and not writable by group or others (owner %u, mode %04o)",
					hooks[i], (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		if (!(st.st_mode & S_IXUSR))
			return rerr_say(e, EACCES, "hook '%s' is not executable", hooks[i]);
		r = hooks_check_dirs(hooks[i], e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Keeps the last HOOK_TAIL bytes written to the hook's stderr. */
struct hook_tail {
	char buf[HOOK_TAIL];
	size_t len;
};

/* @n is at most one read, smaller than the tail. */
static void hook_tail_add(struct hook_tail *t, const char *p, size_t n)
{
	assert(n < sizeof(t->buf));
	if (t->len + n > sizeof(t->buf)) {
		size_t drop = t->len + n - sizeof(t->buf);

		memmove(t->buf, t->buf + drop, t->len - drop);
		t->len -= drop;
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
}

/* The last lines of the tail, on one line: "a | b | c". */
static void hook_tail_format(const struct hook_tail *t, char *out, size_t len)
{
	size_t o = 0;
	const char *p = t->buf, *end = t->buf + t->len;

	while (p < end && (*p == '\n' || *p == ' '))
		p++;
	for (; p < end && o + 4 < len; p++) {
		if (*p == '\n') {
			if (p + 1 < end) {
				memcpy(out + o, " | ", 3);
				o += 3;
			}
		} else if ((unsigned char)*p >= 0x20) {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

static int64_t hook_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* At most this much is read after the hook exited. */
#define HOOK_DRAIN_MAX	(64 * 1024)

static int hook_run_one(const char *hook, enum hook_phase phase, char **envp, int64_t timeout,
			struct rerr *e)
{
	char *argv[] = { (char *)hook, (char *)hook_phase_to_string(phase), NULL };
	struct hook_tail tail = { .len = 0 };
	struct spawn_fds fds;
	int err_fd, pidfd = -1, status = 0, r;
	bool exited = false, timed_out = false, eof = false;
	/* hook_timeout = 0: no limit. */
	int64_t deadline = timeout > 0 ? hook_now_ms() + timeout * 1000 : INT64_MAX;
	pid_t pid;
	char msg[HOOK_TAIL + 1];

	/* A group of its own: a timeout kills everything the hook started. */
	r = spawn_full(argv, envp, SPAWN_STDIN_NULL | SPAWN_STDOUT_TO_STDERR | SPAWN_STDERR_PIPE |
		       SPAWN_NEW_PGROUP, &fds, &pid, NULL);
	if (r < 0)
		return rerr_set(e, r, "hook '%s': cannot start it", hook);
	err_fd = fds.err;
	DBG(HOOKS, "started '%s %s' as %d", hook, hook_phase_to_string(phase), (int)pid);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	while (!exited) {
		struct pollfd pfd[2] = {
			{ .fd = pidfd, .events = POLLIN },
			{ .fd = eof ? -1 : err_fd, .events = POLLIN },
		};
		int64_t left = deadline - hook_now_ms();
		int k;

		if (timeout > 0 && left <= 0 && !timed_out) {
			timed_out = true;
			(void) kill(-pid, SIGKILL);
		}
		/* Without a pidfd (very old kernels), check on the child every 50 ms. */
		k = poll(pfd, 2, timed_out ? -1 : pidfd < 0 ? (left < 50 ? (int)left : 50)
				     : (left > 1000000 ? 1000000 : (int)left));
		if (k < 0 && errno != EINTR)
			break;
		if (!eof && (pfd[1].revents & (POLLIN | POLLHUP))) {
			char buf[512];
			ssize_t n = read(err_fd, buf, sizeof(buf));

			if (n > 0) {
				hook_tail_add(&tail, buf, (size_t)n);
				/* The user sees what the hook says, as it says it. */
				(void) write_all(STDERR_FILENO, buf, (size_t)n);
			} else if (n == 0 || errno != EINTR) {
				eof = true;
			}
		}
		if (pidfd < 0 || (pfd[0].revents & POLLIN)) {
			pid_t w = waitpid(pid, &status, pidfd < 0 ? WNOHANG : 0);

			if (w == pid)
				exited = true;
			else if (w < 0 && errno != EINTR)
				break;
		}
	}
	if (!exited) {
		(void) kill(-pid, SIGKILL);
		(void) waitpid(pid, &status, 0);
	}
	/*
	 * What the hook said just before it exited, and no more: a daemon it left
	 * may hold the pipe open (and write on) for ever.
	 */
	if (!eof && fcntl(err_fd, F_SETFL, O_NONBLOCK) == 0)
		for (size_t drained = 0; drained < HOOK_DRAIN_MAX;) {
			char buf[512];
			ssize_t n = read(err_fd, buf, sizeof(buf));

			if (n <= 0)
				break;
			hook_tail_add(&tail, buf, (size_t)n);
			(void) write_all(STDERR_FILENO, buf, (size_t)n);
			drained += (size_t)n;
		}
	/* The hook is gone; children it left in its group die with a timeout only. */
	if (timed_out)
		(void) kill(-pid, SIGKILL);
	if (pidfd >= 0)
		close(pidfd);
	close(err_fd);
	hook_tail_format(&tail, msg, sizeof(msg));
	if (timed_out)
		return rerr_say(e, ETIMEDOUT, "%s hook '%s' ran longer than hook_timeout (%llds) and was killed%s%s",
				hook_phase_to_string(phase), hook, (long long)timeout, *msg ? ": " : "",
				msg);
	if (WIFSIGNALED(status))
		return rerr_say(e, EIO, "%s hook '%s' was killed by signal %d%s%s",
				hook_phase_to_string(phase), hook, WTERMSIG(status), *msg ? ": " : "", msg);
	if (WEXITSTATUS(status) != 0)
		return rerr_say(e, EIO, "%s hook '%s' failed with exit status %d%s%s",
				hook_phase_to_string(phase), hook, WEXITSTATUS(status), *msg ? ": " : "",
				msg);
	return 0;
}

/* What of the caller's environment a hook sees: its locale, its zone, its settings for hooks. */
static bool hook_env_kept(const char *var)
{
	return startswith(var, "LANG=") || startswith(var, "LANGUAGE=") ||
	       startswith(var, "LC_") || startswith(var, "TZ=") ||
	       (startswith(var, "SNAPROTATE_") && !startswith(var, "SNAPROTATE_PHASE=") &&
		!startswith(var, "SNAPROTATE_VOLUME=") && !startswith(var, "SNAPROTATE_PATH=") &&
		!startswith(var, "SNAPROTATE_SNAPSHOT=") && !startswith(var, "SNAPROTATE_KIND=") &&
		!startswith(var, "SNAPROTATE_RESULT="));
}

int hooks_run(char *const *hooks, size_t n, enum hook_phase phase, const struct hook_env *env,
	      int64_t timeout, struct rerr *e)
{
	_cleanup_free_ char **envp = NULL;
	char vars[HOOK_ENV_MAX][600];
	struct passwd *pw = getpwuid(getuid());
	size_t n_env = 0, k = 0;
	int r;

	if (n == 0)
		return 0;
	r = hooks_check(hooks, n, e);
	if (r < 0)
		return r;
	snprintf(vars[k++], sizeof(vars[0]), "PATH=" HOOK_PATH);
	snprintf(vars[k++], sizeof(vars[0]), "HOME=%s", pw && pw->pw_dir ? pw->pw_dir : "/");
	snprintf(vars[k++], sizeof(vars[0]), "LOGNAME=%s", pw && pw->pw_name ? pw->pw_name : "root");
	snprintf(vars[k++], sizeof(vars[0]), "USER=%s", pw && pw->pw_name ? pw->pw_name : "root");
	snprintf(vars[k++], sizeof(vars[0]), "SNAPROTATE_PHASE=%s", hook_phase_to_string(phase));
	snprintf(vars[k++], sizeof(vars[0]), "SNAPROTATE_VOLUME=%s", env->volume ?: "");
	snprintf(vars[k++], sizeof(vars[0]), "SNAPROTATE_PATH=%s", env->path ?: "");
	snprintf(vars[k++], sizeof(vars[0]), "SNAPROTATE_SNAPSHOT=%s", env->snapshot ?: "");
	snprintf(vars[k++], sizeof(vars[0]), "SNAPROTATE_KIND=%s", env->kind ?: "");
	if (phase == HOOK_POST)
		snprintf(vars[k++], sizeof(vars[0]), "SNAPROTATE_RESULT=%s", env->result ?: "");
	assert(k <= HOOK_ENV_MAX);
	for (char **p = environ; *p; p++)
		n_env++;
	envp = calloc(n_env + k + 1, sizeof(*envp));
	if (!envp)
		return rerr_set(e, ENOMEM, "out of memory");
	n_env = 0;
	for (char **p = environ; *p; p++)
		if (hook_env_kept(*p))
			envp[n_env++] = *p;
	for (size_t i = 0; i < k; i++)
		envp[n_env++] = vars[i];
	for (size_t i = 0; i < n; i++) {
		r = hook_run_one(hooks[i], phase, envp, timeout, e);
		if (r < 0)
			return r;
	}
	return 0;
}
