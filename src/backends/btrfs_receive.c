/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The confined `btrfs receive` (include/backends/receive.h). Everything between fork()
 * and exec() happens in the child; serve is single-threaded, so the child may
 * call what it likes. A step that fails ends the child (exit 125) with one
 * line on its stderr: a receive that cannot be confined does not run.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/landlock.h>

#include "base/debug.h"
#include "base/util.h"
#include "backends/receive.h"

#define RECEIVE_CHILD_FAILED	125

/* Landlock rights newer than the oldest headers this builds with. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV	(1ULL << 15)
#endif
#define LL_READ		(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_RUN		(LL_READ | LANDLOCK_ACCESS_FS_EXECUTE)

/* Only the first member of struct landlock_ruleset_attr, which every ABI knows. */
struct receive_ll_ruleset {
	uint64_t handled_access_fs;
};

struct receive_ll_path {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

/* Where the programs and libraries `btrfs receive` runs from are, and what it reads. */
static const struct {
	const char *path;
	uint64_t access;
} receive_ll_system[] = {
	{ "/usr", LL_RUN }, { "/bin", LL_RUN }, { "/sbin", LL_RUN }, { "/lib", LL_RUN },
	{ "/lib64", LL_RUN }, { "/lib32", LL_RUN }, { "/libx32", LL_RUN },
	{ "/etc/ld.so.cache", LANDLOCK_ACCESS_FS_READ_FILE },
	{ "/etc/ld.so.preload", LANDLOCK_ACCESS_FS_READ_FILE },
	{ "/proc", LL_READ },
};

/* What receiving a stream needs; every other capability leaves the bounding set. */
static const int receive_caps[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_MKNOD,
	CAP_SETFCAP, CAP_SYS_ADMIN, CAP_SYS_CHROOT,
};

static bool receive_cap_kept(int cap)
{
	for (size_t i = 0; i < ARRAY_SIZE(receive_caps); i++)
		if (receive_caps[i] == cap)
			return true;
	return false;
}

static void __attribute__((noreturn)) receive_child_fail(const char *what)
{
	dprintf(STDERR_FILENO, "snaprotate serve: cannot confine btrfs receive: %s: %s\n", what,
		strerror(errno));
	_exit(RECEIVE_CHILD_FAILED);
}

static bool receive_same_dir(int a, int b)
{
	struct stat x, y;

	return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

static void receive_ll_allow(int ruleset, const char *path, uint64_t access, uint64_t handled,
			     bool required)
{
	struct receive_ll_path rule = { .allowed_access = access & handled };
	struct stat st;
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd < 0) {
		if (!required && errno == ENOENT)
			return;
		receive_child_fail(path);
	}
	/* A file takes file rights only. */
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		rule.allowed_access &= LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_EXECUTE;
	rule.parent_fd = fd;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) < 0)
		receive_child_fail("a landlock rule");
	close(fd);
}

/*
 * Landlock, where the kernel has it (ABI 2 or later: before it, a rename
 * across directories is always refused, and receive needs those): the stream
 * may change things beneath @dest only, read the volume's copies (clone
 * sources, the parent), and run its program. Whatever path tricks get past
 * the rest, nothing else can be opened.
 */
static void receive_landlock(const char *dest, const char *volume_dir)
{
	struct receive_ll_ruleset attr = { 0 };
	int abi, ruleset;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 2)
		return;
	attr.handled_access_fs = ((1ULL << 13) - 1) | LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0)
		receive_child_fail("a landlock ruleset");
	receive_ll_allow(ruleset, dest, attr.handled_access_fs, attr.handled_access_fs, true);
	receive_ll_allow(ruleset, volume_dir, LL_READ, attr.handled_access_fs, true);
	for (size_t i = 0; i < ARRAY_SIZE(receive_ll_system); i++)
		receive_ll_allow(ruleset, receive_ll_system[i].path, receive_ll_system[i].access,
				 attr.handled_access_fs, false);
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
		receive_child_fail("landlock");
	close(ruleset);
}

static void __attribute__((noreturn)) receive_child(int in, int err_fd, const char *dest,
						    const char *volume_dir, int volume_fd)
{
	char *argv[] = { "btrfs", "receive", "-q", "-e", "-C", (char *)dest, NULL };
	sigset_t none;

	if (dup2(in, STDIN_FILENO) < 0 || dup2(err_fd, STDOUT_FILENO) < 0 ||
	    dup2(err_fd, STDERR_FILENO) < 0)
		_exit(RECEIVE_CHILD_FAILED);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (unshare(CLONE_NEWNS) < 0)
		receive_child_fail("a mount namespace");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		receive_child_fail("making its mounts private");
	{
		struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
		struct mount_attr rw = { .attr_clr = MOUNT_ATTR_RDONLY,
					 .attr_set = MOUNT_ATTR_NOSYMFOLLOW };
		_cleanup_close_ int top = -1;

		/*
		 * An fd of the old namespace cannot be a mount's source here: go by
		 * the path, and make sure it is the directory serve checked.
		 */
		if (chdir(volume_dir) < 0)
			receive_child_fail("the volume's directory");
		top = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (top < 0 || !receive_same_dir(top, volume_fd)) {
			errno = ESTALE;
			receive_child_fail("the volume's directory");
		}
		if (mount(".", ".", NULL, MS_BIND, NULL) < 0)
			receive_child_fail("the volume's directory as its mount");
		/* Into the new mount (the old cwd is beneath it). */
		if (chdir(volume_dir) < 0)
			receive_child_fail("the volume's mount");
		/*
		 * Every other mount read-only; the volume's writable, and following no
		 * symlink (a legitimate stream never goes through one). Kernels
		 * before 5.12 lack mount_setattr(): then only the bind mount confines.
		 */
		if (mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof(ro)) < 0) {
			if (errno != ENOSYS)
				receive_child_fail("every other mount read-only");
		} else if (mount_setattr(AT_FDCWD, ".", 0, &rw, sizeof(rw)) < 0) {
			receive_child_fail("the volume's mount writable");
		}
		if (chdir("/") < 0)
			receive_child_fail("chdir");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		receive_child_fail("no_new_privs");
	for (int cap = 0; cap <= 63; cap++) {
		if (receive_cap_kept(cap))
			continue;
		/* EINVAL past the last capability this kernel knows. */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			receive_child_fail("dropping capabilities");
	}
	receive_landlock(dest, volume_dir);
	execvp(argv[0], argv);
	dprintf(STDERR_FILENO, "snaprotate serve: cannot run btrfs receive: %s\n", strerror(errno));
	_exit(127);
}

int receive_start(struct receive *rc, const char *dest, const char *volume_dir, int volume_fd,
		  struct rerr *e)
{
	int p[2], err_fd;
	pid_t pid;

	*rc = (struct receive){ .in = -1, .err_fd = -1 };
	err_fd = memfd_create("btrfs-receive-stderr", MFD_CLOEXEC);
	if (err_fd < 0)
		return rerr_set(e, errno, "cannot create a file for btrfs receive's messages");
	if (pipe2(p, O_CLOEXEC) < 0) {
		close(err_fd);
		return rerr_set(e, errno, "cannot create a pipe for btrfs receive");
	}
	pid = fork();
	if (pid < 0) {
		int r = rerr_set(e, errno, "cannot start btrfs receive");

		close(p[0]);
		close(p[1]);
		close(err_fd);
		return r;
	}
	if (pid == 0)
		receive_child(p[0], err_fd, dest, volume_dir, volume_fd);
	close(p[0]);
	rc->pid = pid;
	rc->in = p[1];
	rc->err_fd = err_fd;
	DBG(SEND, "btrfs receive into '%s' as %d", dest, (int)pid);
	return 0;
}

/* The last line of @text that says something (not receive's "Chroot to" notice). */
static void receive_last_line(char *text, char *why, size_t why_len)
{
	char *save = NULL;

	why[0] = '\0';
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (!*l || startswith(l, "Chroot to "))
			continue;
		snprintf(why, why_len, "%s", l);
	}
	for (char *c = why; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
}

int receive_finish(struct receive *rc, bool kill_it, char *why, size_t why_len)
{
	char text[4096];
	int status = 0;
	ssize_t n;

	if (why_len)
		why[0] = '\0';
	if (rc->pid > 0 && kill_it)
		(void) kill(rc->pid, SIGKILL);
	if (rc->in >= 0) {
		close(rc->in);
		rc->in = -1;
	}
	if (rc->pid > 0) {
		while (waitpid(rc->pid, &status, 0) < 0)
			if (errno != EINTR) {
				status = -1;
				break;
			}
		rc->pid = 0;
	}
	if (rc->err_fd >= 0) {
		off_t size = lseek(rc->err_fd, 0, SEEK_END);
		off_t from = size > (off_t)sizeof(text) - 1 ? size - (off_t)sizeof(text) + 1 : 0;

		n = pread(rc->err_fd, text, sizeof(text) - 1, from);
		text[n > 0 ? n : 0] = '\0';
		if (why_len)
			receive_last_line(text, why, why_len);
		close(rc->err_fd);
		rc->err_fd = -1;
	}
	if (status < 0)
		return -ECHILD;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
