/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `snaprotate serve --root DIR`: the receiving side of a target, run by ssh
 * as an authorized_keys forced command (or locally for file:// targets). It is
 * a trust boundary: whatever the client sends, nothing outside DIR is
 * created, written, read into a copy or removed.
 *
 * This file is the protocol (include/transport/proto.h): one request line,
 * one reply, and for RECEIVE a stream in between. What a copy is and how it
 * is kept belongs to the stores (include/backends/store.h: btrfs subvolumes,
 * block streams), which serve asks without knowing which one it has. Serve
 * itself sees to:
 *   - names: every volume and NAME is checked (volume alphabet, NAME pattern)
 *     before it is used, and everything is opened relative to DIR with
 *     open_beneath(): no symlink, no "..", no other mount on the way;
 *   - one session per volume at a time: VOLUME/.lock, taken for the rest of
 *     the session;
 *   - repair before change: the first request that changes a volume removes
 *     what an interrupted transfer staged (.incoming.*, .deleting.*, never a
 *     NAME), then lets the store bring the directory up to date;
 *   - staying in step with the client: a refused RECEIVE still reads the
 *     whole stream before it answers.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "backends/store.h"
#include "base/debug.h"
#include "base/util.h"
#include "base/version.h"
#include "format/meta.h"
#include "model/stamp.h"
#include "transport/proto.h"
#include "transport/send.h"
#include "transport/serve.h"

/*
 * Pipe size for the stream when the connection is a pipe: with the default
 * 64 KiB every hop wakes its reader and writer every 16 pages; failure only
 * costs speed.
 */
#define SERVE_PIPE	(1024 * 1024)
/* A request is one line; the longest is RECEIVE with an info.json (META_MAX_SIZE). */
#define SERVE_LINE_MAX	(256 * 1024)

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
	char msg[800];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One line of text: a control character in a message would end or garble it. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
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

static void serve_note(const char *volume, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A line for the log (ssh passes serve's stderr to the client, which shows it). */
static void serve_note(const char *volume, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "snaprotate serve: %s: ", volume);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int serve_open_volume(struct serve *sv, const char *volume)
{
	return open_beneath(sv->root_fd, volume, O_RDONLY | O_DIRECTORY, 0);
}

/* @volume's directory @vfd, as a store sees it. */
static void serve_dir(struct serve *sv, const char *volume, int vfd, struct store_dir *d)
{
	*d = (struct store_dir){ .root = sv->root, .root_fd = sv->root_fd, .btrfs = sv->btrfs,
				 .volume = volume, .vfd = vfd, .note = serve_note };
}

/* Takes the volume's lock (.lock in its directory). Return: 0, or -errno with ERR sent. */
static int serve_lock(struct serve *sv, int vfd, const char *volume)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	for (int tries = 0;; tries++) {
		fd = open_beneath(vfd, ".lock", O_RDWR | O_CREAT, 0600);
		if (fd != -ELOOP || tries > 0)
			break;
		/* A symlink where serve keeps its lock: not serve's, and in the way. */
		serve_note(volume, "'.lock' is a symlink, replacing it with a lock file");
		if (unlinkat(vfd, ".lock", 0) < 0 && errno != ENOENT)
			break;
	}
	if (fd < 0) {
		serve_reply_err(sv, "%s: cannot open the lock '%s/%s/.lock': %s", volume, sv->root,
				volume, strerror(-fd));
		return fd;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		serve_reply_err(sv, "%s: '%s/%s/.lock' is not a regular file", volume, sv->root,
				volume);
		return -EINVAL;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int r = -errno;

		if (r == -EWOULDBLOCK)
			serve_reply_err(sv, "%s: another transfer to this target is under way", volume);
		else
			serve_reply_err(sv, "%s: cannot lock '%s/%s/.lock': %s", volume, sv->root,
					volume, strerror(-r));
		return r;
	}
	sv->lock_fd = TAKE_FD(fd);
	return 0;
}

/*
 * Locks @volume for the rest of the session (one volume at a time). With
 * @repair, also removes what an interrupted transfer staged and lets the store
 * bring the directory up to date (once per session): only requests that
 * change the target repair, so a LIST changes nothing.
 * Return: 0, or -errno with an ERR reply already sent (not for -ENOENT).
 */
static int serve_session(struct serve *sv, const char *volume, bool create, bool repair)
{
	_cleanup_close_ int vfd = -1;
	struct store_dir d;
	int r;

	if (!streq(sv->locked_volume, volume)) {
		if (sv->lock_fd >= 0) {
			close(sv->lock_fd);
			sv->lock_fd = -1;
			sv->locked_volume[0] = '\0';
		}
		sv->repaired = false;
		if (create && (r = store_make_volume(sv->root_fd, volume, sv->btrfs)) < 0) {
			serve_reply_err(sv, "%s: cannot create '%s/%s': %s", volume, sv->root, volume,
					strerror(-r));
			return r;
		}
		vfd = serve_open_volume(sv, volume);
		if (vfd < 0) {
			if (vfd != -ENOENT)
				serve_reply_err(sv, "%s: cannot open '%s/%s': %s", volume, sv->root,
						volume, strerror(-vfd));
			return vfd;
		}
		r = serve_lock(sv, vfd, volume);
		if (r < 0)
			return r;
		snprintf(sv->locked_volume, sizeof(sv->locked_volume), "%s", volume);
	}
	if (!repair || sv->repaired)
		return 0;
	sv->repaired = true;
	if (vfd < 0)
		vfd = serve_open_volume(sv, volume);
	if (vfd < 0)
		return 0;
	serve_dir(sv, volume, vfd, &d);
	store_repair(&d);
	for (int round = 0; round < 2; round++) {
		const struct store *st = store_of(&d);
		struct rerr e = { 0 };

		r = st && st->prepare ? st->prepare(&d, &e) : 0;
		if (r < 0) {
			serve_reply_err(sv, "%s", e.msg);
			return r;
		}
		if (r == 0)
			break;
		/* The directory is a new one now, and so is its lock. */
		close(vfd);
		close(sv->lock_fd);
		sv->lock_fd = -1;
		sv->locked_volume[0] = '\0';
		vfd = serve_open_volume(sv, volume);
		r = vfd < 0 ? vfd : serve_lock(sv, vfd, volume);
		if (r < 0) {
			if (vfd < 0)
				serve_reply_err(sv, "%s: cannot open '%s/%s': %s", volume, sv->root,
						volume, strerror(-vfd));
			return r;
		}
		snprintf(sv->locked_volume, sizeof(sv->locked_volume), "%s", volume);
		d.vfd = vfd;
	}
	return 0;
}

/* The copies of @volume, complete or not. Return: 0, or -errno with an ERR sent. */
static int serve_list_volume(struct serve *sv, int vfd, const char *volume,
			     struct snapshot_list *l)
{
	const struct store *st;
	struct store_dir d;
	struct rerr e = { 0 };
	int r;

	serve_dir(sv, volume, vfd, &d);
	st = store_of(&d);
	if (!st) {
		*l = (struct snapshot_list){ 0 };	/* no copy of any kind can be here */
		return 0;
	}
	r = st->list(&d, l, &e);
	if (r < 0) {
		char text[sizeof(e.msg) + 64];

		serve_reply_err(sv, "%s: %s", volume, rerr_text(&e, r, text, sizeof(text)));
	}
	return r;
}

/*
 * The start of LIST, DELETE and FETCH: @volume locked (and, with @repair, its
 * leftovers removed), opened and listed.
 * Return: 1 with *@ret_vfd and @l; 0 when the volume has no directory here
 * (nothing replied); -errno with an ERR reply sent.
 */
static int serve_open_listed(struct serve *sv, const char *volume, bool repair, int *ret_vfd,
			     struct snapshot_list *l)
{
	int vfd, r = serve_session(sv, volume, false, repair);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	vfd = serve_open_volume(sv, volume);
	if (vfd < 0)
		return serve_reply_err(sv, "%s: cannot open '%s/%s': %s", volume, sv->root, volume,
				       strerror(-vfd)) < 0 ? -EPIPE : vfd;
	r = serve_list_volume(sv, vfd, volume, l);
	if (r < 0) {
		close(vfd);
		return r;
	}
	*ret_vfd = vfd;
	return 1;
}

static int serve_cmd_list(struct serve *sv, const char *volume)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	_cleanup_close_ int vfd = -1;
	_cleanup_snapshot_list_ struct snapshot_list l = { 0 };
	struct json_object *arr = json_object_new_array();
	int r;

	if (!o || !arr || meta_add(o, "volume", json_object_new_string(volume)) < 0 ||
	    meta_add(o, "snapshots", arr) < 0)
		return -ENOMEM;
	r = serve_open_listed(sv, volume, false, &vfd, &l);
	if (r == 0)
		return serve_reply_ok(sv, o);	/* nothing received yet */
	if (r < 0)
		return r == -EPIPE ? r : 0;
	for (size_t i = 0; i < l.n; i++) {
		struct json_object *info;

		if (!l.items[i].complete || l.items[i].foreign)
			continue;
		info = meta_info_object(&l.items[i], volume);
		if (!info || json_object_array_add(arr, info) < 0) {
			json_object_put(info);
			return -ENOMEM;
		}
	}
	return serve_reply_ok(sv, o);
}

/*
 * Reads the chunks of one stream, passing them on to @fd while it takes them
 * (fd < 0: discard), through @filter if given: spliced from the connection to
 * @fd where both allow it, so the stream's pages are moved, not copied through
 * this process. After a failed write (*write_error set) or a refusal of the
 * filter (*refused set) the rest of the stream is read and dropped.
 * Return: 0 when the stream ended properly (DATA 0), or -errno: -EPROTO for a
 * malformed chunk, -EPIPE when the client is gone.
 */
static int serve_copy_stream(struct serve *sv, int fd, const struct stream_filter *filter,
			     uint64_t *bytes, int *write_error, bool *refused)
{
	for (;;) {
		char *line;
		uint64_t n;
		int r;

		r = conn_read_short_line(&sv->c, &line);
		if (r < 0)
			return r;
		if (!startswith(line, "DATA "))
			return -EPROTO;
		if (parse_u64(line + 5, PROTO_CHUNK_MAX, &n) < 0)
			return -EPROTO;
		if (n == 0)
			return 0;
		if (filter)
			r = conn_splice_out_filtered(&sv->c, fd, (size_t)n, filter, write_error,
						     refused);
		else
			r = conn_splice_out(&sv->c, fd, (size_t)n, write_error);
		if (r < 0)
			return r;
		*bytes += n;
	}
}

/* Reads and drops a stream that is refused anyway. Return: as serve_copy_stream(). */
static int serve_drop_stream(struct serve *sv)
{
	uint64_t bytes = 0;
	int write_error = 0;
	bool refused = false;

	return serve_copy_stream(sv, -1, NULL, &bytes, &write_error, &refused);
}

/* The stream of a RECEIVE, as a store takes it. */
static int serve_stream_copy(struct stream_in *in, int fd, const struct stream_filter *filter,
			     uint64_t *bytes, int *write_error, bool *refused)
{
	int r = serve_copy_stream(in->user, fd, filter, bytes, write_error, refused);

	in->taken = true;
	if (r < 0)
		in->broken = r;
	return r;
}

static int serve_cmd_receive(struct serve *sv, const char *volume_arg, const char *name_arg,
			     const char *info_arg)
{
	/* The request line lives in the connection's buffer, which the stream reuses. */
	char volume[VOLUME_NAME_MAX + 1], name[SNAP_NAME_MAX + 1];
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	_cleanup_free_ char *info_text = NULL;
	_cleanup_close_ int vfd = -1;
	struct stream_in in = { .copy = serve_stream_copy, .user = sv };
	struct snapshot s = { 0 };
	struct store_dir d;
	struct rerr e = { 0 };
	uint64_t bytes = 0;
	int r, parse = -EINVAL;
	struct stat st;

	snprintf(volume, sizeof(volume), "%s", volume_arg);
	snprintf(name, sizeof(name), "%s", name_arg);
	if (strlen(info_arg) <= META_MAX_SIZE) {
		info_text = strdup(info_arg);
		if (!info_text)
			return -ENOMEM;
		parse = meta_parse_info(volume, name, info_text, &s);
	}
	r = parse < 0 ? parse : serve_session(sv, volume, true, true);
	if (r < 0) {
		snapshot_done(&s);
		/* Stay in step with the client: take its stream, then refuse. */
		r = serve_drop_stream(sv);
		if (r < 0)
			return r;
		if (parse < 0)
			return serve_reply_err(sv, "%s: '%s': the info.json sent is not valid", volume,
					       name);
		return 0;	/* serve_session replied */
	}
	vfd = serve_open_volume(sv, volume);
	if (vfd < 0 || fstatat(vfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		int err = vfd < 0 ? -vfd : EEXIST;

		snapshot_done(&s);
		r = serve_drop_stream(sv);
		if (r < 0)
			return r;
		return serve_reply_err(sv, "%s: cannot receive '%s': %s", volume, name,
				       strerror(err));
	}
	serve_dir(sv, volume, vfd, &d);
	r = store_for(&d, &s)->receive(&d, name, &s, &in, &bytes, &e);
	snapshot_done(&s);
	if (in.broken)
		return in.broken;	/* the client is gone or broke the protocol */
	if (!in.taken) {
		int k = serve_drop_stream(sv);

		if (k < 0)
			return k;
	}
	if (r < 0)
		return serve_reply_err(sv, "%s", e.msg);
	o = json_object_new_object();
	if (!o || meta_add(o, "name", json_object_new_string(name)) < 0 ||
	    meta_add(o, "bytes", json_object_new_int64((int64_t)bytes)) < 0)
		return -ENOMEM;
	return serve_reply_ok(sv, o);
}

static int serve_cmd_delete(struct serve *sv, const char *volume, const char *name)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	_cleanup_close_ int vfd = -1;
	_cleanup_snapshot_list_ struct snapshot_list l = { 0 };
	const struct snapshot *s = NULL;
	struct store_dir d;
	struct rerr e = { 0 };
	int r;

	if (!o)
		return -ENOMEM;
	r = serve_open_listed(sv, volume, true, &vfd, &l);
	if (r == 0)
		return serve_reply_err(sv, "%s: no copy '%s' here", volume, name);
	if (r < 0)
		return r == -EPIPE ? r : 0;
	for (size_t i = 0; i < l.n; i++)
		if (streq(l.items[i].name, name) && l.items[i].complete && !l.items[i].foreign)
			s = &l.items[i];
	serve_dir(sv, volume, vfd, &d);
	if (!s)
		r = serve_reply_err(sv, "%s: no copy '%s' here", volume, name);
	else if (store_of(&d)->may_delete(&d, &l, s, &e) < 0)
		r = serve_reply_err(sv, "%s", e.msg);
	else if ((r = store_retire(&d, name)) < 0)
		r = serve_reply_err(sv, "%s: cannot delete '%s': %s", volume, name, strerror(-r));
	else if (meta_add(o, "deleted", json_object_new_string(name)) < 0)
		r = -ENOMEM;
	else
		r = serve_reply_ok(sv, o);
	return r;
}

static int serve_fetch_chunk(void *user, int fd, size_t len)
{
	struct serve *sv = user;

	return conn_splice_chunk(&sv->c, fd, len);
}

/* FETCH VOLUME NAME: "OK {info}", then the stored stream of the copy in chunks. */
static int serve_cmd_fetch(struct serve *sv, const char *volume, const char *name)
{
	_cleanup_(json_object_putp) struct json_object *info = NULL;
	_cleanup_close_ int vfd = -1;
	_cleanup_snapshot_list_ struct snapshot_list l = { 0 };
	const struct snapshot *s = NULL;
	const struct store *st = NULL;
	struct stream_source src = { 0 };
	struct store_dir d;
	struct rerr e = { 0 };
	uint64_t bytes = 0;
	int r;

	r = serve_open_listed(sv, volume, false, &vfd, &l);
	if (r < 0)
		return r == -EPIPE ? r : 0;
	if (r > 0) {
		serve_dir(sv, volume, vfd, &d);
		st = store_of(&d);
	}
	for (size_t i = 0; st && st->open_stored && i < l.n; i++)
		if (l.items[i].complete && streq(l.items[i].name, name))
			s = &l.items[i];
	if (!s)
		return serve_reply_err(sv, "%s: no copy '%s' here", volume, name);
	if (st->open_stored(&d, s, &src, &e) < 0)
		return serve_reply_err(sv, "%s", e.msg);
	info = meta_info_object(s, volume);
	r = info ? serve_reply_ok(sv, info) : -ENOMEM;
	if (r >= 0)
		r = send_stream(src.produce, src.priv, name, serve_fetch_chunk, sv, &bytes, &e);
	st->close_stored(&src);
	if (r >= 0)
		return conn_write_chunk(&sv->c, NULL, 0);
	/* The client's reader sees the stream end without its last chunk, and refuses it. */
	if (r != -EPIPE && e.msg[0])
		return serve_reply_err(sv, "%s: reading '%s' failed: %s", volume, name, e.msg);
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
	sv.c.line_max = SERVE_LINE_MAX;
	(void) fcntl(in, F_SETPIPE_SZ, SERVE_PIPE);	/* EBADF unless a pipe */
	(void) fcntl(out, F_SETPIPE_SZ, SERVE_PIPE);	/* a FETCH's stream goes out this way */
	r = conn_printf(&sv.c, PROTO_GREETING " %d\n", PROTO_VERSION);
	while (r >= 0) {
		char *line, *w[4];
		size_t n;

		r = conn_read_line(&sv.c, &line);
		if (r == -EPIPE) {
			r = 0;
			break;
		}
		if (r == -E2BIG) {
			/* Where the next request would start is lost: say why, and end. */
			r = serve_reply_err(&sv, "request longer than %d bytes, ending the session",
					    SERVE_LINE_MAX);
			if (r >= 0)
				r = -E2BIG;
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
				r = serve_drop_stream(&sv);
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
