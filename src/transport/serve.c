/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `snaprotate serve --root DIR`: the receiving side of a target, run by ssh
 * as an authorized_keys forced command (or locally for file:// targets).
 *
 * Layout under DIR: VOLUME/NAME/snapshot + VOLUME/NAME/info.json, as on a
 * source; VOLUME/.incoming.NAME while a receive is under way; VOLUME/.lock.
 *
 * What must never happen:
 *   - a path outside DIR: every name is checked (volume alphabet, NAME
 *     pattern) before it is used, and everything is opened relative to DIR;
 *   - a NAME that looks complete but is not: `btrfs receive` writes into
 *     .incoming.NAME, the result must carry the received_uuid the client
 *     announced, and only then does info.json appear and the directory get
 *     its NAME (one rename);
 *   - deleting what was not received here: DELETE takes only complete NAMEs
 *     whose subvolume has a received_uuid.
 * Leftovers of an interrupted receive are removed when the volume is next
 * used, under its lock.
 *
 * Block copies (LVM volumes) live in a volume directory marked by a file
 * ".block": VOLUME/NAME/image (a full block stream) or VOLUME/NAME/delta (the
 * changes since the copy its info.json names as "base"), + info.json. A
 * stream is verified end to end (every checksum, and a delta's parent uuid
 * against its base's) before info.json appears and NAME gets its name. Such a
 * root need not be on btrfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <btrfsutil.h>
#include <dirent.h>
#include <linux/magic.h>

#include "backend.h"
#include "blockstream.h"
#include "debug.h"
#include "meta.h"
#include "proto.h"
#include "serve.h"
#include "process.h"
#include "stamp.h"
#include "util.h"
#include "version.h"

#define INCOMING_PREFIX	".incoming."
/*
 * Pipe size for the stream: the connection (when it is a pipe) and the pipe
 * into `btrfs receive`. With the default 64 KiB every hop wakes its reader
 * and writer every 16 pages; failure only costs speed.
 */
#define SERVE_PIPE	(1024 * 1024)
#define BLOCK_MARK	".block"

/* The data file of a block copy, by its image kind. */
static const char *serve_block_file(const char *image)
{
	return streq(image, "delta") ? "delta" : "image";
}

struct serve {
	const char *root;
	int root_fd;
	struct conn c;
	char locked_volume[VOLUME_NAME_MAX + 1];
	int lock_fd;
	bool repaired;			/* leftovers of locked_volume removed */
	bool btrfs;			/* the root is on btrfs: btrfs copies possible */
};

static int serve_reply_err(struct serve *sv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int serve_reply_err(struct serve *sv, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One line: a newline in a message would end the reply early. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return conn_printf(&sv->c, "ERR %s\n", msg);
}

static int serve_reply_ok(struct serve *sv, struct json_object *o)
{
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						      JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!text)
		return -ENOMEM;
	return conn_printf(&sv->c, "OK %s\n", text);
}

/* The target side of a volume, as the btrfs backend sees a source. */
static void serve_volume(struct serve *sv, const char *volume, struct volume *v, char *dir,
			 size_t dir_len)
{
	snprintf(dir, dir_len, "%s/%s", sv->root, volume);
	*v = (struct volume){ .name = (char *)volume, .backend = BACKEND_BTRFS,
			      .path = (char *)sv->root, .snapshot_dir = dir };
}

static void serve_remove_incoming(int vfd, const char *name)
{
	_cleanup_close_ int nfd = openat(vfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
					 O_NOFOLLOW);
	struct stat st;

	if (nfd >= 0) {
		(void) unlinkat(nfd, META_FILE, 0);
		(void) unlinkat(nfd, "." META_FILE ".tmp", 0);
		(void) unlinkat(nfd, "image", 0);
		(void) unlinkat(nfd, "delta", 0);
		if (fstatat(nfd, "snapshot", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
			(void) btrfs_util_delete_subvolume_fd(nfd, "snapshot", 0);
	}
	if (unlinkat(vfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		fprintf(stderr, "snaprotate serve: cannot remove '%s': %m\n", name);
}

static bool serve_is_block(struct serve *sv, const char *volume)
{
	char path[VOLUME_NAME_MAX + sizeof(BLOCK_MARK) + 2];

	snprintf(path, sizeof(path), "%s/" BLOCK_MARK, volume);
	return faccessat(sv->root_fd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/*
 * The block copies of @volume: a NAME with a valid info.json that says what
 * it is, and that data file, is complete. Return: 0 or -errno.
 */
static int serve_list_block(struct serve *sv, const char *volume, struct snapshot_list *ret)
{
	_cleanup_close_ int vfd = openat(sv->root_fd, volume, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
					 O_NOFOLLOW);
	struct snapshot_list l = { 0 };
	struct dirent *de;
	DIR *d;

	d = vfd >= 0 ? fdopendir(dup(vfd)) : NULL;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct snapshot s = { 0 };
		_cleanup_free_ char *text = NULL;
		char file[sizeof(de->d_name) + 16];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (snap_name_parse(volume, de->d_name, &s.created, &s.seq) < 0) {
			s.foreign = true;
		} else {
			snprintf(file, sizeof(file), "%s/" META_FILE, de->d_name);
			if (read_all_at(vfd, file, 1 << 20, &text, NULL) == 0 &&
			    meta_parse_info(volume, de->d_name, text, &s) == 0 && s.image) {
				snprintf(file, sizeof(file), "%s/%s", de->d_name,
					 serve_block_file(s.image));
				s.complete = fstatat(vfd, file, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
					     S_ISREG(st.st_mode);
			} else {
				snapshot_done(&s);
				(void) snap_name_parse(volume, de->d_name, &s.created, &s.seq);
			}
		}
		s.name = s.name ?: strdup(de->d_name);
		if (!s.name || snapshot_list_append(&l, &s) < 0) {
			snapshot_done(&s);
			snapshot_list_clear(&l);
			closedir(d);
			return -ENOMEM;
		}
	}
	closedir(d);
	snapshot_list_sort(&l);
	*ret = l;
	return 0;
}

/* Removes a block copy's directory and what is in it. */
static int serve_remove_block(struct serve *sv, const char *volume, const char *name)
{
	_cleanup_close_ int vfd = openat(sv->root_fd, volume, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
					 O_NOFOLLOW);
	_cleanup_close_ int nfd = vfd >= 0 ? openat(vfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
						    O_NOFOLLOW) : -1;

	if (nfd < 0)
		return -errno;
	/* info.json first: from then on the copy is incomplete, whatever else fails. */
	(void) unlinkat(nfd, META_FILE, 0);
	(void) unlinkat(nfd, "." META_FILE ".tmp", 0);
	(void) unlinkat(nfd, "image", 0);
	(void) unlinkat(nfd, "delta", 0);
	if (unlinkat(vfd, name, AT_REMOVEDIR) < 0)
		return -errno;
	return fsync(vfd) < 0 ? -errno : 0;
}

/*
 * Locks @volume for the rest of the session (one volume at a time). With
 * @repair, also removes what an interrupted transfer left (once per session):
 * only requests that change the target repair, so a LIST changes nothing.
 * Return: 0, or -errno with an ERR reply already sent (not for -ENOENT).
 */
static int serve_session(struct serve *sv, const char *volume, bool create, bool repair)
{
	_cleanup_close_ int vfd = -1;
	struct snapshot_list l = { 0 };
	char dir[PATH_MAX];
	struct volume v;
	struct rerr e = { 0 };
	DIR *d;
	struct dirent *de;

	if (!streq(sv->locked_volume, volume)) {
		if (sv->lock_fd >= 0) {
			close(sv->lock_fd);
			sv->lock_fd = -1;
			sv->locked_volume[0] = '\0';
		}
		sv->repaired = false;
		if (create && mkdirat(sv->root_fd, volume, 0700) < 0 && errno != EEXIST) {
			serve_reply_err(sv, "%s: cannot create '%s/%s': %m", volume, sv->root, volume);
			return -errno;
		}
		vfd = openat(sv->root_fd, volume, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (vfd < 0) {
			int r = -errno;

			if (r != -ENOENT)
				serve_reply_err(sv, "%s: cannot open '%s/%s': %s", volume, sv->root,
						volume, strerror(-r));
			return r;
		}
		sv->lock_fd = openat(vfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (sv->lock_fd < 0 || flock(sv->lock_fd, LOCK_EX | LOCK_NB) < 0) {
			int r = -errno;

			serve_reply_err(sv, "%s: another transfer to this target is under way (%s)",
					volume, strerror(-r));
			if (sv->lock_fd >= 0)
				close(sv->lock_fd);
			sv->lock_fd = -1;
			return r;
		}
		snprintf(sv->locked_volume, sizeof(sv->locked_volume), "%s", volume);
	}
	if (!repair || sv->repaired)
		return 0;
	sv->repaired = true;
	if (vfd < 0)
		vfd = openat(sv->root_fd, volume, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	d = vfd >= 0 ? fdopendir(dup(vfd)) : NULL;
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (startswith(de->d_name, INCOMING_PREFIX)) {
			fprintf(stderr, "snaprotate serve: %s: removing '%s', left by an interrupted transfer\n",
				volume, de->d_name);
			serve_remove_incoming(vfd, de->d_name);
		}
	closedir(d);
	if (serve_is_block(sv, volume)) {
		if (serve_list_block(sv, volume, &l) == 0)
			for (size_t i = 0; i < l.n; i++)
				if (!l.items[i].complete && !l.items[i].foreign) {
					fprintf(stderr, "snaprotate serve: %s: removing incomplete '%s'\n",
						volume, l.items[i].name);
					(void) serve_remove_block(sv, volume, l.items[i].name);
				}
		snapshot_list_clear(&l);
		return 0;
	}
	if (!sv->btrfs)
		return 0;
	/* A NAME without info.json is a leftover too: nothing can use it. */
	serve_volume(sv, volume, &v, dir, sizeof(dir));
	if (backend_btrfs.list(&v, &l, &e) == 0)
		for (size_t i = 0; i < l.n; i++)
			if (!l.items[i].complete && !l.items[i].foreign) {
				struct rerr e2 = { 0 };

				fprintf(stderr, "snaprotate serve: %s: removing incomplete '%s'\n",
					volume, l.items[i].name);
				if (backend_btrfs.remove(&v, &l.items[i], &e2) < 0)
					fprintf(stderr, "snaprotate serve: %s: %s\n", e2.msg,
						strerror(e2.code));
			}
	snapshot_list_clear(&l);
	/*
	 * A transfer cut by a full disk leaves a large deleted subvolume (removed
	 * just now, or when that receive failed) whose space comes back only once
	 * the btrfs cleaner is through with it: wait for that, or the next receive
	 * fails for want of the same space.
	 */
	rerr_clear(&e);
	if (backend_btrfs.settle(&v, 1, &e) < 0)
		fprintf(stderr, "snaprotate serve: %s: %s\n", e.msg, strerror(e.code));
	return 0;
}

/* The copies of @volume, complete or not. Return: 0, or -errno with an ERR sent. */
static int serve_list_volume(struct serve *sv, const char *volume, struct snapshot_list *l)
{
	char dir[PATH_MAX];
	struct volume v;
	struct rerr e = { 0 };
	int r;

	if (serve_is_block(sv, volume)) {
		r = serve_list_block(sv, volume, l);
		if (r < 0)
			serve_reply_err(sv, "%s: cannot list '%s/%s': %s", volume, sv->root, volume,
					strerror(-r));
		return r;
	}
	if (!sv->btrfs) {
		*l = (struct snapshot_list){ 0 };	/* nothing of btrfs can be here */
		return 0;
	}
	serve_volume(sv, volume, &v, dir, sizeof(dir));
	r = backend_btrfs.list(&v, l, &e);
	if (r < 0)
		serve_reply_err(sv, "%s: %s", e.msg, strerror(-r));
	return r;
}

static int serve_cmd_list(struct serve *sv, const char *volume)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	struct snapshot_list l = { 0 };
	struct json_object *arr = json_object_new_array();
	int r;

	if (!o || !arr || meta_add(o, "volume", json_object_new_string(volume)) < 0 ||
	    meta_add(o, "snapshots", arr) < 0)
		return -ENOMEM;
	r = serve_session(sv, volume, false, false);
	if (r == -ENOENT)
		return serve_reply_ok(sv, o);	/* nothing received yet */
	if (r < 0)
		return 0;
	r = serve_list_volume(sv, volume, &l);
	if (r < 0)
		return 0;
	for (size_t i = 0; i < l.n; i++) {
		struct json_object *info;

		if (!l.items[i].complete || l.items[i].foreign)
			continue;
		info = meta_info_object(&l.items[i], volume);
		if (!info || json_object_array_add(arr, info) < 0) {
			json_object_put(info);
			snapshot_list_clear(&l);
			return -ENOMEM;
		}
	}
	snapshot_list_clear(&l);
	return serve_reply_ok(sv, o);
}

/*
 * Reads the chunks of one stream, passing them on to @fd while it takes them
 * (fd < 0: discard): spliced from the connection to @fd where both allow it,
 * so the stream's pages are moved, not copied through this process. After a
 * failed write (*write_error set) the rest of the stream is read and dropped.
 * Return: 0 when the stream ended properly (DATA 0), or -errno: -EPROTO for a
 * malformed chunk, -EPIPE when the client is gone.
 */
static int serve_copy_stream(struct serve *sv, int fd, uint64_t *bytes, int *write_error)
{
	for (;;) {
		char *line, *end;
		unsigned long long n;
		int r;

		r = conn_read_short_line(&sv->c, &line);
		if (r < 0)
			return r;
		if (!startswith(line, "DATA "))
			return -EPROTO;
		errno = 0;
		n = strtoull(line + 5, &end, 10);
		if (errno || *end || end == line + 5 || n > PROTO_CHUNK_MAX)
			return -EPROTO;
		if (n == 0)
			return 0;
		r = conn_splice_out(&sv->c, fd, (size_t)n, write_error);
		if (r < 0)
			return r;
		*bytes += n;
	}
}

/*
 * The last step of a receive: info.json into the staging directory, then the
 * one rename that gives the copy its NAME, and the reply.
 */
static int serve_commit(struct serve *sv, int vfd, int nfd, const char *staging,
			const char *volume, const char *name, struct snapshot *s, uint64_t bytes)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	_cleanup_free_ char *info = NULL;
	int r;

	/* sent_to is the source's business; the copy records what it is. */
	while (s->n_sent > 0)
		snapshot_sent_remove(s, s->sent[0].target);
	info = meta_format_info(s, volume);
	if (!info)
		return -ENOMEM;
	/* On btrfs, beside a received subvolume, the btrfs-aware writer (one commit). */
	r = s->image ? write_file_atomic_at(nfd, META_FILE, info, strlen(info), 0644)
		     : write_file_atomic_btrfs_at(nfd, META_FILE, info, strlen(info), 0644);
	if (r == 0 && renameat(vfd, staging, vfd, name) < 0)
		r = -errno;
	if (r == 0 && fsync(vfd) < 0)
		r = -errno;
	if (r < 0) {
		serve_remove_incoming(vfd, staging);
		return serve_reply_err(sv, "%s: cannot store '%s': %s", volume, name, strerror(-r));
	}
	o = json_object_new_object();
	if (!o || meta_add(o, "name", json_object_new_string(name)) < 0 ||
	    meta_add(o, "bytes", json_object_new_int64((int64_t)bytes)) < 0)
		return -ENOMEM;
	return serve_reply_ok(sv, o);
}

/* Whether @vfd holds anything but dot entries (copies of another kind). */
static bool serve_volume_used(int vfd)
{
	DIR *d = fdopendir(dup(vfd));
	struct dirent *de;
	bool used = false;

	if (!d)
		return true;
	while (!used && (de = readdir(d)))
		used = de->d_name[0] != '.';
	closedir(d);
	return used;
}

/*
 * RECEIVE of a block stream into VOLUME/.incoming.NAME/{image,delta}: stored,
 * fsynced, then read back and verified (checksums, and a delta's parent uuid
 * against its base's copy) before info.json is written and NAME appears.
 */
static int serve_receive_block(struct serve *sv, int vfd, const char *volume, const char *name,
			       struct snapshot *s)
{
	_cleanup_close_ int nfd = -1, fd = -1;
	_cleanup_free_ char *base_uuid = NULL;
	char staging[SNAP_NAME_MAX + sizeof(INCOMING_PREFIX)];
	const char *file = s->image ? serve_block_file(s->image) : "image";
	struct blockstream_expect x = { .volume = volume, .uuid = s->uuid };
	struct rerr e = { 0 };
	int r, write_error = 0;
	uint64_t bytes = 0;
	const char *why = NULL;

	if (!s->image)
		why = "this volume holds block copies, not btrfs ones";
	else if (!s->uuid)
		why = "a block copy needs a uuid";
	else if (!serve_is_block(sv, volume) && serve_volume_used(vfd))
		why = "this volume holds btrfs copies, not block ones";
	if (!why && s->base) {
		struct snapshot_list l = { 0 };

		/* A delta is only useful on top of its base: refuse it without one. */
		if (serve_list_block(sv, volume, &l) == 0)
			for (size_t i = 0; i < l.n; i++)
				if (l.items[i].complete && streq(l.items[i].name, s->base))
					base_uuid = xstrdup_or_null(l.items[i].uuid);
		snapshot_list_clear(&l);
		if (!base_uuid)
			why = "its base is not here";
		x.parent_uuid = base_uuid;
	}
	if (why) {
		r = serve_copy_stream(sv, -1, &bytes, &write_error);
		return r < 0 ? r : serve_reply_err(sv, "%s: cannot receive '%s': %s", volume, name,
						   why);
	}
	if (!serve_is_block(sv, volume)) {
		_cleanup_close_ int m = openat(vfd, BLOCK_MARK, O_WRONLY | O_CREAT | O_CLOEXEC |
					       O_NOFOLLOW, 0600);

		if (m < 0 || fsync(vfd) < 0)
			write_error = errno ?: EIO;
	}
	snprintf(staging, sizeof(staging), INCOMING_PREFIX "%s", name);
	serve_remove_incoming(vfd, staging);
	if (!write_error && mkdirat(vfd, staging, 0700) < 0)
		write_error = errno;
	if (!write_error) {
		nfd = openat(vfd, staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		fd = nfd < 0 ? -1 : openat(nfd, file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
					   O_NOFOLLOW, 0600);
		if (fd < 0)
			write_error = errno;
	}
	r = serve_copy_stream(sv, fd, &bytes, &write_error);
	if (r < 0) {
		serve_remove_incoming(vfd, staging);
		return r;
	}
	if (!write_error && fsync(fd) < 0)
		write_error = errno;
	if (write_error) {
		serve_remove_incoming(vfd, staging);
		return serve_reply_err(sv, "%s: receiving '%s' failed: %s", volume, name,
				       strerror(write_error));
	}
	if (lseek(fd, 0, SEEK_SET) < 0 ||
	    blockstream_apply(fd, -1, &x, 0, NULL, NULL, NULL, NULL, &e) < 0) {
		serve_remove_incoming(vfd, staging);
		return serve_reply_err(sv, "%s: '%s' arrived damaged or not as announced: %s",
				       volume, name, e.msg[0] ? e.msg : strerror(errno));
	}
	return serve_commit(sv, vfd, nfd, staging, volume, name, s, bytes);
}

static int serve_cmd_receive(struct serve *sv, const char *volume_arg, const char *name_arg,
			     const char *info_arg)
{
	/* The request line lives in the connection's buffer, which the stream reuses. */
	char volume[VOLUME_NAME_MAX + 1], name[SNAP_NAME_MAX + 1];
	_cleanup_free_ char *info_text = strdup(info_arg);
	_cleanup_close_ int vfd = -1, nfd = -1;
	struct snapshot s = { 0 };
	struct btrfs_util_subvolume_info si;
	char staging[SNAP_NAME_MAX + sizeof(INCOMING_PREFIX)], dir[PATH_MAX], uuid[37];
	char *argv[] = { "btrfs", "receive", "-q", "-e", dir, NULL };
	int in = -1, r, status, write_error = 0, parse;
	uint64_t bytes = 0;
	pid_t pid = -1;
	struct stat st;

	snprintf(volume, sizeof(volume), "%s", volume_arg);
	snprintf(name, sizeof(name), "%s", name_arg);
	if (!info_text)
		return -ENOMEM;
	parse = meta_parse_info(volume, name, info_text, &s);
	r = parse < 0 ? parse : serve_session(sv, volume, true, true);
	if (r < 0) {
		/* Stay in step with the client: take its stream, then refuse. */
		r = serve_copy_stream(sv, -1, &bytes, &write_error);
		if (r < 0)
			return r;
		if (parse < 0)
			return serve_reply_err(sv, "%s: '%s': the info.json sent is not valid", volume,
					       name);
		return 0;	/* serve_session replied */
	}
	vfd = openat(sv->root_fd, volume, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (vfd < 0 || fstatat(vfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		int err = vfd < 0 ? errno : EEXIST;

		snapshot_done(&s);
		r = serve_copy_stream(sv, -1, &bytes, &write_error);
		if (r < 0)
			return r;
		return serve_reply_err(sv, "%s: cannot receive '%s': %s", volume, name,
				       strerror(err));
	}
	if (s.image || serve_is_block(sv, volume)) {
		r = serve_receive_block(sv, vfd, volume, name, &s);
		snapshot_done(&s);
		return r;
	}
	if (!sv->btrfs) {
		snapshot_done(&s);
		r = serve_copy_stream(sv, -1, &bytes, &write_error);
		return r < 0 ? r : serve_reply_err(sv, "%s: cannot receive '%s': --root %s is not on "
						   "btrfs", volume, name, sv->root);
	}
	snprintf(staging, sizeof(staging), INCOMING_PREFIX "%s", name);
	serve_remove_incoming(vfd, staging);
	snprintf(dir, sizeof(dir), "%s/%s/%s", sv->root, volume, staging);
	if (mkdirat(vfd, staging, 0700) < 0 ||
	    spawn_argv(argv, SPAWN_STDIN_PIPE | SPAWN_STDOUT_TO_STDERR, &in, NULL, &pid, NULL) < 0)
		write_error = errno ?: EIO;
	if (in >= 0)
		(void) fcntl(in, F_SETPIPE_SZ, SERVE_PIPE);
	r = serve_copy_stream(sv, in, &bytes, &write_error);
	if (in >= 0)
		close(in);
	status = pid > 0 ? spawn_wait(pid) : -1;
	if (r < 0) {
		/* The client is gone or broke the protocol: nothing to reply to. */
		serve_remove_incoming(vfd, staging);
		snapshot_done(&s);
		return r;
	}
	if (write_error || status != 0) {
		serve_remove_incoming(vfd, staging);
		snapshot_done(&s);
		if (write_error)
			return serve_reply_err(sv, "%s: receiving '%s' failed: %s", volume, name,
					       strerror(write_error));
		return serve_reply_err(sv, "%s: btrfs receive of '%s' failed (exit status %d)",
				       volume, name, status);
	}
	/* Complete only if the receive finished: btrfs receive sets received_uuid last. */
	nfd = openat(vfd, staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	{
		_cleanup_close_ int snap = nfd >= 0 ? openat(nfd, "snapshot", O_RDONLY | O_DIRECTORY |
							     O_CLOEXEC | O_NOFOLLOW) : -1;

		if (snap < 0 || btrfs_util_subvolume_info_fd(snap, 0, &si) != BTRFS_UTIL_OK) {
			serve_remove_incoming(vfd, staging);
			snapshot_done(&s);
			return serve_reply_err(sv, "%s: '%s': the stream held no subvolume 'snapshot'",
					       volume, name);
		}
	}
	snprintf(uuid, sizeof(uuid),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 si.received_uuid[0], si.received_uuid[1], si.received_uuid[2], si.received_uuid[3],
		 si.received_uuid[4], si.received_uuid[5], si.received_uuid[6], si.received_uuid[7],
		 si.received_uuid[8], si.received_uuid[9], si.received_uuid[10],
		 si.received_uuid[11], si.received_uuid[12], si.received_uuid[13],
		 si.received_uuid[14], si.received_uuid[15]);
	if (!s.uuid || !streq(s.uuid, uuid)) {
		serve_remove_incoming(vfd, staging);
		snapshot_done(&s);
		return serve_reply_err(sv, "%s: '%s' arrived with received_uuid %s, expected %s",
				       volume, name, uuid, s.uuid ?: "(none)");
	}
	r = serve_commit(sv, vfd, nfd, staging, volume, name, &s, bytes);
	snapshot_done(&s);
	return r;
}

static int serve_cmd_delete(struct serve *sv, const char *volume, const char *name)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	struct snapshot_list l = { 0 };
	struct btrfs_util_subvolume_info si;
	char dir[PATH_MAX], path[PATH_MAX + SNAP_NAME_MAX + 16];
	struct volume v;
	struct rerr e = { 0 };
	const struct snapshot *s = NULL;
	int r;

	if (!o)
		return -ENOMEM;
	r = serve_session(sv, volume, false, true);
	if (r == -ENOENT)
		return serve_reply_err(sv, "%s: no copy '%s' here", volume, name);
	if (r < 0)
		return 0;
	if (serve_list_volume(sv, volume, &l) < 0)
		return 0;
	for (size_t i = 0; i < l.n; i++)
		if (streq(l.items[i].name, name) && l.items[i].complete && !l.items[i].foreign)
			s = &l.items[i];
	if (serve_is_block(sv, volume)) {
		const char *needed_by = NULL;

		/* Received here by construction; but never break another copy's chain. */
		for (size_t i = 0; i < l.n; i++)
			if (l.items[i].complete && l.items[i].base && streq(l.items[i].base, name))
				needed_by = l.items[i].name;
		if (!s)
			r = serve_reply_err(sv, "%s: no copy '%s' here", volume, name);
		else if (needed_by)
			r = serve_reply_err(sv, "%s: '%s' is the base of '%s', not deleting it", volume,
					    name, needed_by);
		else if ((r = serve_remove_block(sv, volume, name)) < 0)
			r = serve_reply_err(sv, "%s: cannot delete '%s': %s", volume, name,
					    strerror(-r));
		else if (meta_add(o, "deleted", json_object_new_string(name)) < 0)
			r = -ENOMEM;
		else
			r = serve_reply_ok(sv, o);
		snapshot_list_clear(&l);
		return r;
	}
	serve_volume(sv, volume, &v, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s/snapshot", dir, name);
	if (!s)
		r = serve_reply_err(sv, "%s: no copy '%s' here", volume, name);
	else if (btrfs_util_subvolume_info(path, 0, &si) != BTRFS_UTIL_OK ||
		 memcmp(si.received_uuid, (uint8_t[16]){ 0 }, 16) == 0)
		r = serve_reply_err(sv, "%s: '%s' was not received here, not deleting it", volume,
				    name);
	else if (backend_btrfs.remove(&v, s, &e) < 0)
		r = serve_reply_err(sv, "%s: %s", e.msg, strerror(e.code));
	else if (meta_add(o, "deleted", json_object_new_string(name)) < 0)
		r = -ENOMEM;
	else
		r = serve_reply_ok(sv, o);
	snapshot_list_clear(&l);
	return r;
}

/* FETCH VOLUME NAME: "OK {info}", then the stored stream of a block copy in chunks. */
static int serve_cmd_fetch(struct serve *sv, const char *volume, const char *name)
{
	_cleanup_(json_object_putp) struct json_object *info = NULL;
	_cleanup_free_ char *buf = NULL;
	struct snapshot_list l = { 0 };
	const struct snapshot *s = NULL;
	char file[VOLUME_NAME_MAX + SNAP_NAME_MAX + 16];
	_cleanup_close_ int fd = -1;
	int r;

	r = serve_session(sv, volume, false, false);
	if (r == -ENOENT || (r == 0 && !serve_is_block(sv, volume)))
		return serve_reply_err(sv, "%s: no block copy '%s' here", volume, name);
	if (r < 0 || serve_list_volume(sv, volume, &l) < 0)
		return 0;
	for (size_t i = 0; i < l.n; i++)
		if (l.items[i].complete && streq(l.items[i].name, name))
			s = &l.items[i];
	if (s) {
		snprintf(file, sizeof(file), "%s/%s/%s", volume, name, serve_block_file(s->image));
		fd = openat(sv->root_fd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		info = meta_info_object(s, volume);
	}
	snapshot_list_clear(&l);
	if (!s)
		return serve_reply_err(sv, "%s: no block copy '%s' here", volume, name);
	if (fd < 0)
		return serve_reply_err(sv, "%s: cannot open '%s': %m", volume, file);
	buf = malloc(PROTO_CHUNK_MAX);
	if (!info || !buf)
		return -ENOMEM;
	r = serve_reply_ok(sv, info);
	for (ssize_t n; r >= 0; ) {
		n = read(fd, buf, PROTO_CHUNK_MAX);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			/* The client's blockstream reader sees a truncated stream and refuses it. */
			return serve_reply_err(sv, "%s: reading '%s' failed: %m", volume, file);
		r = conn_write_chunk(&sv->c, buf, (size_t)n);
		if (n == 0)
			break;
	}
	return r;
}

static int serve_cmd_info(struct serve *sv)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	struct statvfs st;

	if (!o || fstatvfs(sv->root_fd, &st) < 0)
		return -ENOMEM;
	if (meta_add(o, "protocol", json_object_new_int(PROTO_VERSION)) < 0 ||
	    meta_add(o, "version", json_object_new_string(SNAPROTATE_VERSION)) < 0 ||
	    meta_add(o, "root", json_object_new_string(sv->root)) < 0 ||
	    meta_add(o, "avail", json_object_new_int64((int64_t)(st.f_bavail * st.f_frsize))) < 0)
		return -ENOMEM;
	return serve_reply_ok(sv, o);
}

/* Splits "WORD WORD ..." in place; the last word takes the rest of the line. */
static size_t serve_split(char *line, char **words, size_t max)
{
	size_t n = 0;

	while (*line && n < max) {
		words[n++] = line;
		if (n == max)
			break;
		line = strchr(line, ' ');
		if (!line)
			break;
		*line++ = '\0';
	}
	return n;
}

static bool serve_names_valid(const char *volume, const char *name)
{
	return volume_name_valid(volume) && (!name || snap_name_parse(volume, name, NULL, NULL) == 0);
}

int serve_main(const char *root, int in, int out, struct rerr *e)
{
	struct serve sv = { .root = root, .root_fd = -1, .lock_fd = -1 };
	struct statfs sf;
	int r = 0;

	if (root[0] != '/')
		return rerr_set(e, EINVAL, "--root '%s' must be an absolute path", root);
	sv.root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sv.root_fd < 0)
		return rerr_set(e, errno, "cannot open --root '%s'", root);
	if (fstatfs(sv.root_fd, &sf) < 0) {
		close(sv.root_fd);
		return rerr_set(e, errno, "cannot stat --root '%s'", root);
	}
	/* Block copies (LVM) can live on any filesystem; btrfs ones need btrfs. */
	sv.btrfs = sf.f_type == BTRFS_SUPER_MAGIC;
	if (conn_init(&sv.c, in, out) < 0) {
		close(sv.root_fd);
		return rerr_set(e, ENOMEM, "out of memory");
	}
	(void) fcntl(in, F_SETPIPE_SZ, SERVE_PIPE);	/* EBADF unless a pipe */
	r = conn_printf(&sv.c, PROTO_GREETING " %d\n", PROTO_VERSION);
	while (r >= 0) {
		char *line, *w[4];
		size_t n;

		r = conn_read_line(&sv.c, &line);
		if (r == -EPIPE) {
			r = 0;
			break;
		}
		if (r < 0)
			break;
		n = serve_split(line, w, ARRAY_SIZE(w));
		DBG(SEND, "serve: %s", n ? w[0] : "(empty)");
		if (n == 1 && streq(w[0], "QUIT")) {
			break;
		} else if (n == 1 && streq(w[0], "INFO")) {
			r = serve_cmd_info(&sv);
		} else if (n == 2 && streq(w[0], "LIST")) {
			r = serve_names_valid(w[1], NULL) ? serve_cmd_list(&sv, w[1])
			    : serve_reply_err(&sv, "bad volume name");
		} else if (n == 4 && streq(w[0], "RECEIVE")) {
			if (serve_names_valid(w[1], w[2])) {
				r = serve_cmd_receive(&sv, w[1], w[2], w[3]);
			} else {
				/* Refused, but the stream must still be read to stay in step. */
				uint64_t b = 0;
				int we = 0;

				r = serve_copy_stream(&sv, -1, &b, &we);
				if (r >= 0)
					r = serve_reply_err(&sv, "bad volume or snapshot name");
			}
		} else if (n == 3 && streq(w[0], "FETCH")) {
			r = serve_names_valid(w[1], w[2]) ? serve_cmd_fetch(&sv, w[1], w[2])
			    : serve_reply_err(&sv, "bad volume or snapshot name");
		} else if (n == 3 && streq(w[0], "DELETE")) {
			r = serve_names_valid(w[1], w[2]) ? serve_cmd_delete(&sv, w[1], w[2])
			    : serve_reply_err(&sv, "bad volume or snapshot name");
		} else {
			r = serve_reply_err(&sv, "unknown request");
		}
	}
	if (sv.lock_fd >= 0)
		close(sv.lock_fd);
	close(sv.root_fd);
	conn_done(&sv.c);
	if (r < 0 && r != -EPIPE)
		return rerr_set(e, r, "serve: the session ended with an error");
	return 0;
}
