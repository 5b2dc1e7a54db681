/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "base/debug.h"
#include "base/util.h"
#include "os/lock.h"

int lock_volume(const char *lock_dir, const char *volume, bool wait, int *ret_fd,
		struct rerr *e)
{
	_cleanup_close_ int fd = -1;
	char path[PATH_MAX];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (mkdir(lock_dir, 0755) < 0 && errno != EEXIST)
		return rerr_set(e, errno, "%s: cannot create lock directory '%s'", volume, lock_dir);
	if (snprintf(path, sizeof(path), "%s/%s.lock", lock_dir, volume) >= (int)sizeof(path))
		return rerr_set(e, ENAMETOOLONG, "%s: lock path too long", volume);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
	if (fd < 0)
		return rerr_set(e, errno, "%s: cannot open lock '%s'", volume, path);
	for (;;) {
		if (fcntl(fd, wait ? F_SETLKW : F_SETLK, &fl) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EACCES) {
			struct flock who = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

			if (fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK)
				return rerr_set(e, EAGAIN,
						"%s: locked by another snaprotate (PID %ld); use --wait to wait for it",
						volume, (long)who.l_pid);
			/* Released between the two calls: try again. */
			continue;
		}
		return rerr_set(e, errno, "%s: cannot lock '%s'", volume, path);
	}
	DBG(LOCK, "locked '%s'", path);
	*ret_fd = TAKE_FD(fd);
	return 0;
}
