/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/debug.h"
#include "base/util.h"
#include "format/meta.h"
#include "os/mounts.h"
#include "os/process.h"
#include "transport/send.h"
#include "transport/target.h"

#define SSH_ARGV_MAX	64
/* The pipes to and from a serve (or ssh): see target_open(). */
#define TARGET_PIPE	(1024 * 1024)

static int target_fail(struct target_conn *tc, struct rerr *e, int r, const char *what)
{
	if (r == -EPIPE || r == -ECONNRESET)
		tc->broken = true;
	return rerr_set(e, r, "target '%s': %s", tc->target->name, what);
}

/*
 * The peer ended (or broke) before its greeting. ssh exits 255 for its own
 * failures (no route, refused, a key not accepted) and says why on stderr;
 * any other status is the remote command's: an old snaprotate that does not
 * know an option, a forced command that runs something else.
 */
static int target_no_greeting(struct target_conn *tc, int r, struct rerr *e)
{
	const struct target *t = tc->target;
	int status;

	tc->broken = true;
	close(TAKE_FD(tc->to_peer));
	close(TAKE_FD(tc->from_peer));
	status = tc->pid > 0 ? spawn_wait(tc->pid) : -ECHILD;
	tc->pid = -1;
	target_close(tc);
	if (r != -EPIPE)
		return rerr_set(e, -r, "target '%s': no session", t->name);
	if (t->scheme == TARGET_SSH && status == 255)
		return rerr_say(e, EHOSTUNREACH, "target '%s' could not be reached: ssh to %s "
				"failed (what ssh said is above)", t->name, t->host);
	if (status >= 0)
		return rerr_say(e, ECONNREFUSED, "target '%s': '%ssnaprotate serve --root %s' "
				"ended (exit status %d) without starting a session; what it "
				"printed is above", t->name, t->scheme == TARGET_SSH ? "ssh ... " : "",
				t->root, status);
	return rerr_set(e, -status, "target '%s': no session", t->name);
}

/*
 * file://: whether the target's directory is there, before a serve is
 * started. A missing directory or a required mount that is not there means
 * the disk is absent (-EHOSTDOWN), and nothing is ever created in its place:
 * an unplugged USB disk's empty mount point stays empty.
 */
static int target_file_present(const struct target *t, struct rerr *e)
{
	struct mount_info m = { 0 };
	struct rerr me = { 0 };
	struct stat st;
	int r = 0;

	if (t->require_mount && *t->require_mount) {
		if (mounts_find(t->require_mount, &m, &me) < 0 || !streq(m.target, t->require_mount))
			r = rerr_say(e, EHOSTDOWN, "target '%s' is offline: '%s' is not mounted",
				     t->name, t->require_mount);
	} else if (t->require_mount) {
		if (mounts_find(t->root, &m, &me) == 0 && streq(m.target, "/"))
			r = rerr_say(e, EHOSTDOWN, "target '%s' is offline: '%s' is on the filesystem "
				     "of / (require_mount = yes: is its disk mounted?)", t->name, t->root);
	}
	mount_info_done(&m);
	if (r < 0)
		return r;
	/* Anything else wrong with it, serve says. */
	if (stat(t->root, &st) < 0 && errno == ENOENT)
		return rerr_say(e, EHOSTDOWN, "target '%s' is offline: '%s' does not exist (is its "
				"disk mounted? snaprotate never creates it)", t->name, t->root);
	return 0;
}

int target_open(const struct target *t, struct target_conn *ret, struct rerr *e)
{
	struct target_conn tc = { .target = t, .to_peer = -1, .from_peer = -1, .pid = -1 };
	char *argv[SSH_ARGV_MAX + 8], self[PATH_MAX], dest[300], port[16];
	_cleanup_free_ char *opts = NULL;
	size_t n = 0;
	char *line, *save = NULL;
	ssize_t k;
	int r;

	if (t->scheme == TARGET_FILE) {
		const char *bundle = getenv("SNAPROTATE_SELF");

		r = target_file_present(t, e);
		if (r < 0)
			return r;

		/* The rescue bundle's launcher: this process is its dynamic loader. */
		if (bundle && bundle[0] == '/') {
			snprintf(self, sizeof(self), "%s", bundle);
		} else {
			k = readlink("/proc/self/exe", self, sizeof(self) - 1);
			if (k < 0)
				return rerr_set(e, errno, "target '%s': cannot find my own executable",
						t->name);
			self[k] = '\0';
		}
		argv[n++] = self;
	} else {
		argv[n++] = "ssh";
		argv[n++] = "-o";
		argv[n++] = "BatchMode=yes";
		if (t->port) {
			snprintf(port, sizeof(port), "%u", t->port);
			argv[n++] = "-p";
			argv[n++] = port;
		}
		if (t->ssh_identity) {
			argv[n++] = "-i";
			argv[n++] = t->ssh_identity;
		}
		if (t->ssh_options) {
			opts = strdup(t->ssh_options);
			if (!opts)
				return rerr_set(e, ENOMEM, "out of memory");
			for (char *w = strtok_r(opts, " \t", &save); w && n < SSH_ARGV_MAX;
			     w = strtok_r(NULL, " \t", &save))
				argv[n++] = w;
		}
		/* "--" ends ssh's options: the destination can never be taken for one. */
		argv[n++] = "--";
		snprintf(dest, sizeof(dest), "%s%s%s", t->user ?: "", t->user ? "@" : "", t->host);
		argv[n++] = dest;
		argv[n++] = "snaprotate";
	}
	argv[n++] = "serve";
	argv[n++] = "--root";
	argv[n++] = t->root;
	argv[n] = NULL;
	r = spawn_argv(argv, SPAWN_STDIN_PIPE | SPAWN_STDOUT_PIPE, &tc.to_peer, &tc.from_peer,
		       &tc.pid, e);
	if (r < 0)
		return r;
	/* Streams pass both ways in chunks of up to a MiB: fewer wakeups; failure only costs speed. */
	(void) fcntl(tc.to_peer, F_SETPIPE_SZ, TARGET_PIPE);
	(void) fcntl(tc.from_peer, F_SETPIPE_SZ, TARGET_PIPE);
	r = conn_init(&tc.c, tc.from_peer, tc.to_peer);
	if (r < 0) {
		target_close(&tc);
		return rerr_set(e, r, "out of memory");
	}
	r = conn_read_line(&tc.c, &line);
	if (r < 0)
		return target_no_greeting(&tc, r, e);
	if (!startswith(line, PROTO_GREETING " ") || atoi(line + strlen(PROTO_GREETING) + 1) !=
	    PROTO_VERSION) {
		r = rerr_set(e, EPROTO, "target '%s': not a snaprotate serve of protocol %d: '%.60s'",
			     t->name, PROTO_VERSION, line);
		target_close(&tc);
		return r;
	}
	*ret = tc;
	return 0;
}

void target_close(struct target_conn *tc)
{
	if (tc->to_peer >= 0) {
		if (!tc->broken)
			(void) conn_printf(&tc->c, "QUIT\n");
		close(tc->to_peer);
		tc->to_peer = -1;
	}
	if (tc->from_peer >= 0) {
		close(tc->from_peer);
		tc->from_peer = -1;
	}
	if (tc->pid > 0) {
		(void) spawn_wait(tc->pid);
		tc->pid = -1;
	}
	conn_done(&tc->c);
}

/* Reads "OK {json}" or "ERR message". Return: 0 with the object, or -errno with @e. */
static int target_reply(struct target_conn *tc, struct json_object **ret, struct rerr *e)
{
	char *line;
	int r = conn_read_line(&tc->c, &line);

	if (r < 0)
		return target_fail(tc, e, r, "the connection was lost");
	if (startswith(line, "ERR "))
		return rerr_say(e, EREMOTEIO, "target '%s': %s", tc->target->name, line + 4);
	if (!startswith(line, "OK ")) {
		tc->broken = true;
		return rerr_set(e, EPROTO, "target '%s': unexpected reply '%.60s'",
				tc->target->name, line);
	}
	*ret = json_tokener_parse(line + 3);
	if (!*ret || !json_object_is_type(*ret, json_type_object)) {
		json_object_put(*ret);
		tc->broken = true;
		return rerr_set(e, EPROTO, "target '%s': a reply that is not JSON", tc->target->name);
	}
	return 0;
}

int target_list(struct target_conn *tc, const char *volume, struct snapshot_list *ret,
		struct rerr *e)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct snapshot_list l = { 0 };
	struct json_object *arr;
	int r;

	if (tc->broken)
		return rerr_set(e, EPIPE, "target '%s': the session was lost", tc->target->name);
	r = conn_printf(&tc->c, "LIST %s\n", volume);
	if (r < 0)
		return target_fail(tc, e, r, "cannot send a request");
	r = target_reply(tc, &o, e);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(o, "snapshots", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return rerr_set(e, EPROTO, "target '%s': a LIST reply without snapshots",
				tc->target->name);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *info = json_object_array_get_idx(arr, i), *name;
		struct snapshot s = { 0 };

		if (!json_object_object_get_ex(info, "name", &name) ||
		    !json_object_is_type(name, json_type_string) ||
		    meta_parse_info(volume, json_object_get_string(name),
				    json_object_to_json_string_ext(info, JSON_C_TO_STRING_PLAIN),
				    &s) < 0) {
			snapshot_list_clear(&l);
			return rerr_set(e, EPROTO, "target '%s': an invalid copy in LIST %s",
					tc->target->name, volume);
		}
		if (snapshot_list_append(&l, &s) < 0) {
			snapshot_done(&s);
			snapshot_list_clear(&l);
			return rerr_set(e, ENOMEM, "out of memory");
		}
	}
	snapshot_list_sort(&l);
	*ret = l;
	return 0;
}

struct target_stream {
	struct target_conn *tc;
	const char *name;
	progress_fn progress;
	void *user;
	uint64_t bytes;
	struct timespec last;
	int error;		/* the connection failed while streaming */
};

static int target_chunk(void *user, int fd, size_t len)
{
	struct target_stream *ts = user;
	struct timespec now;
	int r;

	r = conn_splice_chunk(&ts->tc->c, fd, len);
	if (r < 0) {
		ts->error = r;
		return r;
	}
	ts->bytes += len;
	if (ts->progress) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - ts->last.tv_sec) * 1000 + (now.tv_nsec - ts->last.tv_nsec) / 1000000 >=
		    250) {
			ts->progress(ts->user, ts->name, ts->bytes, false);
			ts->last = now;
		}
	}
	return 0;
}

/* Runs one sender, which hands its stream to target_chunk(). */
typedef int (*target_sender_fn)(void *ctx, struct target_stream *ts, uint64_t *bytes,
				struct rerr *e);

static int target_receive_with(struct target_conn *tc, const char *volume,
			       const struct snapshot *s, target_sender_fn sender, void *ctx,
			       progress_fn progress, void *user, uint64_t *ret_bytes,
			       struct rerr *e)
{
	_cleanup_(json_object_putp) struct json_object *info = NULL, *o = NULL;
	struct target_stream ts = { .tc = tc, .name = s->name, .progress = progress, .user = user };
	struct rerr send_err = { 0 };
	uint64_t bytes = 0;
	int r, sr;

	if (tc->broken)
		return rerr_set(e, EPIPE, "target '%s': the session was lost", tc->target->name);
	info = meta_info_object(s, volume);
	if (!info)
		return rerr_set(e, ENOMEM, "out of memory");
	r = conn_printf(&tc->c, "RECEIVE %s %s %s\n", volume, s->name,
			json_object_to_json_string_ext(info, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	if (r < 0)
		return target_fail(tc, e, r, "cannot send a request");
	clock_gettime(CLOCK_MONOTONIC, &ts.last);
	sr = sender(ctx, &ts, &bytes, &send_err);
	if (ts.error)
		return target_fail(tc, e, ts.error, "the connection was lost while sending");
	/* Ends the stream also after a failed send: the target then refuses the partial copy. */
	r = conn_write_chunk(&tc->c, NULL, 0);
	if (r < 0)
		return target_fail(tc, e, r, "the connection was lost while sending");
	r = target_reply(tc, &o, e);
	if (progress)
		progress(user, s->name, ts.bytes, true);
	if (sr < 0) {
		*e = send_err;
		return rerr_prefix(e, sr, "target '%s'", tc->target->name);
	}
	if (r < 0)
		return r;
	*ret_bytes = ts.bytes;
	return 0;
}

struct target_produced {
	send_producer_fn produce;
	void *arg;
	const char *what;
};

static int target_send_produced(void *ctx, struct target_stream *ts, uint64_t *bytes,
				struct rerr *e)
{
	struct target_produced *p = ctx;

	return send_stream(p->produce, p->arg, p->what, target_chunk, ts, bytes, e);
}

int target_receive(struct target_conn *tc, const char *volume, const struct snapshot *s,
		   send_producer_fn produce, void *arg, progress_fn progress, void *user,
		   uint64_t *ret_bytes, struct rerr *e)
{
	struct target_produced p = { .produce = produce, .arg = arg, .what = s->name };

	return target_receive_with(tc, volume, s, target_send_produced, &p, progress, user,
				   ret_bytes, e);
}

/* The relay of a FETCH from @from into the RECEIVE under way on @ts (restore). */
struct target_relay {
	struct target_conn *from;
	const char *volume;
	const char *name;
	struct rerr fetch_err;
};

static int target_relay_sender(void *ctx, struct target_stream *ts, uint64_t *bytes,
			       struct rerr *e)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct target_relay *x = ctx;
	struct target_conn *from = x->from;
	int r;

	(void) e;
	r = conn_printf(&from->c, "FETCH %s %s\n", x->volume, x->name);
	if (r < 0)
		return target_fail(from, &x->fetch_err, r, "cannot send a request");
	r = target_reply(from, &o, &x->fetch_err);
	if (r < 0)
		return r;
	for (;;) {
		char *line;
		uint64_t n;

		/* Short reads for the header: the data after it is spliced, not copied. */
		r = conn_read_short_line(&from->c, &line);
		if (r < 0)
			return target_fail(from, &x->fetch_err, r,
					   "the connection was lost while fetching");
		if (startswith(line, "ERR "))
			return rerr_say(&x->fetch_err, EREMOTEIO, "target '%s': %s",
					from->target->name, line + 4);
		if (!startswith(line, "DATA ") || parse_u64(line + 5, PROTO_CHUNK_MAX, &n) < 0) {
			from->broken = true;
			return rerr_set(&x->fetch_err, EPROTO, "target '%s': unexpected '%.60s'",
					from->target->name, line);
		}
		if (n == 0)
			break;
		r = conn_relay_chunk(&from->c, &ts->tc->c, (size_t)n);
		if (r < 0) {
			/* Which side broke is not told by splice: both are done for. */
			from->broken = true;
			ts->error = r;
			return r;
		}
		ts->bytes += n;
	}
	*bytes = ts->bytes;
	return 0;
}

int target_receive_from(struct target_conn *to, const char *volume, const struct snapshot *s,
			struct target_conn *from, uint64_t *ret_bytes, struct rerr *e)
{
	struct target_relay x = { .from = from, .volume = volume, .name = s->name };
	int r;

	if (from->broken)
		return rerr_set(e, EPIPE, "target '%s': the session was lost", from->target->name);
	r = target_receive_with(to, volume, s, target_relay_sender, &x, NULL, NULL, ret_bytes, e);
	if (r < 0 && x.fetch_err.code) {
		*e = x.fetch_err;
		return -e->code;
	}
	return r;
}

int target_fetch(struct target_conn *tc, const char *volume, const char *name, int out_fd,
		 uint64_t *ret_bytes, struct rerr *e)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	_cleanup_free_ char *buf = NULL;
	uint64_t bytes = 0;
	int write_error = 0;
	int r;

	if (tc->broken)
		return rerr_set(e, EPIPE, "target '%s': the session was lost", tc->target->name);
	r = conn_printf(&tc->c, "FETCH %s %s\n", volume, name);
	if (r < 0)
		return target_fail(tc, e, r, "cannot send a request");
	r = target_reply(tc, &o, e);
	if (r < 0)
		return r;
	buf = malloc(PROTO_CHUNK_MAX);
	if (!buf) {
		tc->broken = true;
		return rerr_set(e, ENOMEM, "out of memory");
	}
	for (;;) {
		char *line;
		uint64_t n;

		r = conn_read_line(&tc->c, &line);
		if (r < 0)
			return target_fail(tc, e, r, "the connection was lost while fetching");
		if (startswith(line, "ERR ")) {
			rerr_say(e, EREMOTEIO, "target '%s': %s", tc->target->name, line + 4);
			return -EREMOTEIO;
		}
		if (!startswith(line, "DATA ") || parse_u64(line + 5, PROTO_CHUNK_MAX, &n) < 0) {
			tc->broken = true;
			return rerr_set(e, EPROTO, "target '%s': unexpected '%.60s'",
					tc->target->name, line);
		}
		if (n == 0)
			break;
		r = conn_read_exact(&tc->c, buf, (size_t)n);
		if (r < 0)
			return target_fail(tc, e, r, "the connection was lost while fetching");
		bytes += n;
		/* Keep reading after a local failure: the session stays usable. */
		if (!write_error && write_all(out_fd, buf, (size_t)n) < 0)
			write_error = errno ?: EIO;
	}
	if (write_error)
		return rerr_set(e, write_error, "target '%s': cannot pass on '%s'",
				tc->target->name, name);
	*ret_bytes = bytes;
	return 0;
}

int target_delete(struct target_conn *tc, const char *volume, const char *name,
		  struct rerr *e)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	int r;

	if (tc->broken)
		return rerr_set(e, EPIPE, "target '%s': the session was lost", tc->target->name);
	r = conn_printf(&tc->c, "DELETE %s %s\n", volume, name);
	if (r < 0)
		return target_fail(tc, e, r, "cannot send a request");
	return target_reply(tc, &o, e);
}
