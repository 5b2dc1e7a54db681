/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The command line: parses argv (GNU order: options anywhere after the
 * command), loads the config, and runs one verb. The only module that prints:
 * results to stdout (one JSON document with --json), errors to stderr as
 * "snaprotate: VOLUME: what failed: why".
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends/backend.h"
#include "base/debug.h"
#include "base/util.h"
#include "base/version.h"
#include "cli/cli.h"
#include "engine/engine.h"
#include "engine/restore.h"
#include "engine/rollback.h"
#include "engine/rotate.h"
#include "engine/snapshots.h"
#include "engine/status.h"
#include "format/meta.h"
#include "model/config.h"
#include "model/stamp.h"
#include "os/hooks.h"
#include "policy/retention.h"
#include "transport/serve.h"

#define DESCRIPTION_MAX	1024

static const char *arg_config = CONFIG_DEFAULT_PATH;
static bool arg_json;
static bool arg_dry_run;
static int arg_verbosity;		/* -1 quiet, 0 normal, 1 verbose */
static time_t arg_now;
static bool arg_wait;
static enum snap_kind arg_kind = _SNAP_KIND_INVALID;
static const char *arg_description;
static bool arg_pin;
static const char *arg_pre;
static bool arg_force;
static const char *arg_target;
static const char *arg_root;
static const char *arg_to;

/* Which verb-specific options were given, to refuse them elsewhere. */
enum {
	OPT_KIND = 1U << 0,
	OPT_DESCRIPTION = 1U << 1,
	OPT_PIN = 1U << 2,
	OPT_PRE = 1U << 3,
	OPT_FORCE = 1U << 4,
	OPT_TARGET = 1U << 5,
	OPT_ROOT = 1U << 6,
	OPT_TO = 1U << 7,
};
static unsigned arg_given;

struct verb {
	const char *name;
	int min_args;
	int max_args;		/* -1: any number */
	unsigned options;	/* OPT_* it accepts */
	bool needs_config;
	int (*run)(struct engine *eng, int argc, char **argv);
};

static void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void log_error(const char *fmt, ...)
{
	va_list ap;

	fputs("snaprotate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Human progress lines: stdout, silenced by -q and by --json (stdout is the document). */
static void log_info(const char *fmt, ...)
{
	va_list ap;

	if (arg_verbosity < 0 || arg_json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Prints @e and maps its errno to an exit code: 3 for a held lock, else 1. */
static int report(int r, const struct rerr *e)
{
	int code = e->code ? e->code : -r;

	if (e->msg[0])
		log_error("%s: %s", e->msg, strerror(code));
	else
		log_error("%s", strerror(code));
	return code == EAGAIN ? EXIT_LOCKED : EXIT_FAILED;
}

/* For input that names something wrong (an unknown or ambiguous snapshot): exit 2. */
static int report_usage(const struct rerr *e)
{
	log_error("%s", e->msg);
	return EXIT_USAGE;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("snaprotate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'snaprotate --help'.\n", stderr);
	return EXIT_USAGE;
}

/* The {"format": 1, "volumes": []} every JSON report starts from; *ret_arr is borrowed. */
static int json_envelope(struct json_object **ret_out, struct json_object **ret_arr)
{
	struct json_object *out = json_object_new_object(), *arr = json_object_new_array();

	if (!out || !arr || meta_add(out, "format", json_object_new_int(1)) < 0 ||
	    meta_add(out, "volumes", arr) < 0) {
		json_object_put(out);
		return -ENOMEM;
	}
	*ret_out = out;
	*ret_arr = arr;
	return 0;
}

static int print_json(struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!s)
		return -ENOMEM;
	puts(s);
	return 0;
}

static void help(void)
{
	printf("Usage: snaprotate [OPTIONS] COMMAND [ARGS]\n"
	       "\n"
	       "Snapshot and rotation manager for btrfs and LVM.\n"
	       "\n"
	       "Commands:\n"
	       "  snapshot [--kind K] [--description TEXT] [--pin] [--pre NAME] VOLUME|GROUP...\n"
	       "                       take a snapshot now (K: manual, timeline, pre, post, boot)\n"
	       "  list [VOLUME...]     every snapshot, oldest first\n"
	       "  prune [VOLUME...]    apply retention; print each decision and its reason\n"
	       "  run [VOLUME...]      the timer job: a timeline snapshot if due, then prune\n"
	       "  delete [--force] VOLUME SNAPSHOT...\n"
	       "                       delete snapshots (--force: pinned ones too)\n"
	       "  pin VOLUME SNAPSHOT  never prune this snapshot\n"
	       "  unpin VOLUME SNAPSHOT\n"
	       "  send [--target NAME] VOLUME...\n"
	       "                       send what the targets miss, incrementally\n"
	       "  serve --root DIR     the receiving side of a target (an ssh forced command)\n"
	       "  rollback VOLUME SNAPSHOT\n"
	       "                       make the volume's content that of SNAPSHOT (LVM: merge),\n"
	       "                       keeping the current state as a new snapshot\n"
	       "  status [VOLUME...]   a line a volume: newest, count, next due, targets, health\n"
	       "  restore [--target NAME] VOLUME SNAPSHOT --to VG/LV\n"
	       "                       write a snapshot back from a target (LVM: into an LV)\n"
	       "  config-check         validate the config and print it normalised\n"
	       "\n"
	       "A SNAPSHOT is a full name, a unique prefix of its stamp, or 'latest'.\n"
	       "\n"
	       "Options:\n"
	       "  -c, --config FILE    config file (default %s)\n"
	       "      --json           machine-readable output on stdout\n"
	       "  -n, --dry-run        say what would be done, change nothing\n"
	       "  -v, --verbose        more detail\n"
	       "  -q, --quiet          errors only\n"
	       "      --now TIME       act as if it were TIME (ISO 8601); also SNAPROTATE_NOW\n"
	       "      --wait           wait for a volume's lock instead of exiting 3\n"
	       "  -h, --help           this help\n"
	       "  -V, --version        the version\n"
	       "\n"
	       "Exit: 0 success, 1 failed or refused, 2 usage or config error, 3 locked.\n",
	       CONFIG_DEFAULT_PATH);
}

/* --- volumes ------------------------------------------------------------ */

/* Resolves VOLUME|GROUP arguments (all volumes if none); says why not. */
static int select_volumes(struct engine *eng, int argc, char **argv, bool groups,
			  struct volume ***ret, size_t *ret_n)
{
	struct rerr e = { 0 };
	int r = engine_select(eng, argv, (size_t)argc, groups, ret, ret_n, &e);

	if (r < 0)
		log_error("%s", e.msg);
	return r;
}

/* A volume that does not probe is a config error: printed, FILE:LINE of the key to blame. */
static int probe_volume(struct engine *eng, const struct volume *v)
{
	struct rerr e = { 0 };
	int r = engine_probe(eng, v, &e);

	if (r < 0)
		log_error("%s", e.msg);
	return r;
}

static int probe_volumes(struct engine *eng, struct volume **vols, size_t n)
{
	int r = 0;

	for (size_t i = 0; i < n; i++)
		if (probe_volume(eng, vols[i]) < 0)
			r = -EINVAL;
	return r;
}

/* Locks every volume of @vols in name order. Return: 0, or an exit code after printing why. */
static int lock_sorted(struct engine *eng, struct volume **vols, size_t n)
{
	struct rerr e = { 0 };
	int r = engine_lock(eng, vols, n, &e);

	return r < 0 ? report(r, &e) : 0;
}

static int description_valid(const char *s)
{
	if (strlen(s) > DESCRIPTION_MAX)
		return usage_error("--description: longer than %d bytes", DESCRIPTION_MAX);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return usage_error("--description: control characters are not allowed");
	return 0;
}

/* --- verbs -------------------------------------------------------------- */

static int verb_snapshot(struct engine *eng, int argc, char **argv)
{
	const struct config *cfg = eng->cfg;
	_cleanup_free_ struct volume **vols = NULL;
	_cleanup_free_ struct take *takes = NULL;
	_cleanup_free_ struct volume_report *reps = NULL;
	_cleanup_(json_object_putp) struct json_object *out = NULL, *arr = NULL;
	enum snap_kind kind = arg_kind;
	size_t n;
	int r, ret = EXIT_OK;

	if (arg_pre) {
		if (kind != _SNAP_KIND_INVALID && kind != SNAP_POST)
			return usage_error("--pre goes with --kind post");
		kind = SNAP_POST;
	} else if (kind == SNAP_POST) {
		return usage_error("--kind post needs --pre NAME (the pre snapshot it belongs to)");
	}
	if (kind == _SNAP_KIND_INVALID)
		kind = SNAP_MANUAL;
	if (arg_description && description_valid(arg_description))
		return EXIT_USAGE;
	r = select_volumes(eng, argc, argv, true, &vols, &n);
	if (r < 0)
		return r == -EINVAL ? EXIT_USAGE : report(r, &(struct rerr){ 0 });
	if (probe_volumes(eng, vols, n) < 0)
		return EXIT_USAGE;

	r = lock_sorted(eng, vols, n);
	if (r > 0)
		return r;
	engine_units(vols, n);

	out = json_object_new_object();
	arr = json_object_new_array();
	takes = calloc(n + 1, sizeof(*takes));
	reps = calloc(n + 1, sizeof(*reps));
	if (!out || !arr || !takes || !reps)
		return report(-ENOMEM, &(struct rerr){ 0 });
	/* Resolve every --pre first: a wrong name takes no snapshot at all. */
	for (size_t i = 0; i < n; i++) {
		const struct volume *v = vols[i];
		struct rerr e = { 0 };

		takes[i].v = v;
		takes[i].s = (struct snapshot){ .kind = kind, .pinned = arg_pin,
						.description = strdup(arg_description ?: "") };
		if (!takes[i].s.description)
			ret = report(-ENOMEM, &e);
		if (arg_pre) {
			r = engine_find_pre(eng, v, arg_pre, &takes[i].s.pre, &e);
			if (r < 0) {
				ret = e.usage ? report_usage(&e) : report(r, &e);
				goto out;
			}
		}
		if (arg_dry_run)
			log_info("would snapshot %s (%s%s)", v->name, snap_kind_to_string(kind),
				 arg_pin ? ", pinned" : "");
	}
	if (ret != EXIT_OK || arg_dry_run)
		goto out;
	/*
	 * Each volume is a unit of its own, but the members of a group, adjacent
	 * after the sort in unit_order(), are taken together (one instant, hooks
	 * around all of them).
	 */
	for (size_t i = 0, m; i < n; i += m) {
		for (m = 1; i + m < n && vols[i]->group && vols[i + m]->group &&
			    streq(vols[i]->group, vols[i + m]->group); m++)
			;
		if (rotate_take(cfg, takes + i, m, arg_now, reps + i) < 0)
			ret = EXIT_FAILED;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < reps[i].n_notices; k++)
			log_error("%s", reps[i].notices[k]);
		for (size_t k = 0; k < reps[i].n_errors; k++)
			log_error("%s", reps[i].errors[k]);
		if (!takes[i].taken)
			continue;
		log_info("%s", takes[i].s.name);
		{
			struct json_object *o = json_object_new_object();

			if (!o || meta_add(o, "volume", json_object_new_string(vols[i]->name)) < 0 ||
			    meta_add(o, "name", json_object_new_string(takes[i].s.name)) < 0 ||
			    meta_add(o, "kind", json_object_new_string(snap_kind_to_string(kind))) < 0 ||
			    json_object_array_add(arr, o) < 0) {
				json_object_put(o);
				ret = report(-ENOMEM, &(struct rerr){ 0 });
				goto out;
			}
		}
	}
	if (arg_json) {
		if (meta_add(out, "format", json_object_new_int(1)) < 0 ||
		    meta_add(out, "snapshots", TAKE_PTR(arr)) < 0 || print_json(out) < 0)
			ret = report(-ENOMEM, &(struct rerr){ 0 });
	}
out:
	for (size_t i = 0; takes && i < n; i++) {
		snapshot_done(&takes[i].s);
		volume_report_done(&reps[i]);
	}
	return ret;
}

/*
 * @s made safe for a terminal: control characters, DEL, C1 controls and bytes
 * that are not UTF-8 are written as \xHH (and a backslash as \\), so a name
 * found on disk can neither fake a row nor send an escape sequence. Return:
 * one of a few rotating static buffers, so a printf() can take several.
 */
static const char *term_safe(const char *s)
{
	static char bufs[6][1024];
	static unsigned next;
	char *out = bufs[next++ % ARRAY_SIZE(bufs)];
	const unsigned char *p = (const unsigned char *)(s ?: "");
	size_t k = 0, cap = sizeof(bufs[0]) - 8;

	while (*p && k < cap) {
		unsigned c = *p;
		size_t n = 0;

		/* The length of a well-formed UTF-8 sequence starting here, 0 if none. */
		if (c >= 0xc2 && c <= 0xdf)
			n = 2;
		else if (c >= 0xe0 && c <= 0xef)
			n = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 4;
		for (size_t i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				n = 0;
		if (n == 2 && c == 0xc2 && p[1] < 0xa0)
			n = 0;		/* U+0080-U+009F: the C1 controls */
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			out[k++] = (char)c;
			p++;
		} else if (n > 0 && k + n < cap) {
			memcpy(out + k, p, n);
			k += n;
			p += n;
		} else {
			k += (size_t)snprintf(out + k, 8, c == '\\' ? "\\\\" : "\\x%02x", c);
			p++;
		}
	}
	if (*p)
		memcpy(out + k, "...", 4);
	else
		out[k] = '\0';
	return out;
}

static void format_local(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (!localtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "?");
}

static void print_table(const struct volume *v, const struct snapshot_list *l)
{
	const struct backend *be = backend_find(v->backend);
	size_t w = strlen("NAME");

	for (size_t i = 0; i < l->n; i++)
		if (strlen(term_safe(l->items[i].name)) > w)
			w = strlen(term_safe(l->items[i].name));
	printf("%s (%s, %s)\n", v->name, be->name, be->where(v));
	if (l->n == 0) {
		printf("  no snapshots\n");
		return;
	}
	printf("  %-*s  %-19s  %-10s  %-3s  %-12s  %s\n", (int)w, "NAME", "CREATED", "KIND", "PIN",
	       "SENT TO", "DESCRIPTION");
	for (size_t i = 0; i < l->n; i++) {
		const struct snapshot *s = &l->items[i];
		char when[32] = "-", sent[64] = "-";
		const char *kind;
		size_t off = 0;

		if (s->foreign)
			kind = "foreign";
		else if (s->damaged)
			kind = "DAMAGED";
		else if (s->invalid)
			kind = "INVALID";
		else if (!s->complete)
			kind = "incomplete";
		else
			kind = snap_kind_to_string(s->kind);
		if (!s->foreign)
			format_local(s->created, when, sizeof(when));
		for (size_t j = 0; j < s->n_sent && off < sizeof(sent); j++)
			off += (size_t)snprintf(sent + off, sizeof(sent) - off, "%s%s", j ? "," : "",
						s->sent[j].target);
		printf("  %-*s  %-19s  %-10s  %-3s  %-12s  %s", (int)w, term_safe(s->name), when, kind,
		       s->pinned ? "yes" : "", sent, term_safe(s->description));
		if (s->pre)
			printf("%s(pre %s)", s->description && *s->description ? " " : "",
			       term_safe(s->pre));
		if (s->cow_known)
			printf(" [cow %.1f%%]", s->cow_percent);
		if (s->merging)
			printf(" [merging into %s: rollback pending]", v->lv);
		if (s->damaged)
			printf("[%s]", term_safe(s->problem));
		putchar('\n');
	}
}

static void write_volume(struct jt_writer *w, const struct volume *v,
			 const struct snapshot_list *l)
{
	jt_begin_object(w);
	jt_key(w, "volume");
	jt_string(w, v->name);
	jt_key(w, "backend");
	jt_string(w, backend_find(v->backend)->name);
	jt_key(w, "snapshots");
	jt_begin_array(w);
	for (size_t i = 0; i < l->n; i++)
		meta_write_snapshot(w, &l->items[i]);
	jt_end_array(w);
	jt_end_object(w);
}

/* Streams --json: 10,000 snapshots are written as they are formatted, not built as a tree. */
static int verb_list(struct engine *eng, int argc, char **argv)
{
	_cleanup_free_ struct volume **vols = NULL;
	struct jt_writer w = { .f = NULL };	/* stdout, whatever liblvm2cmd does to it */
	size_t n;
	int r, ret = EXIT_OK;

	r = select_volumes(eng, argc, argv, true, &vols, &n);
	if (r < 0)
		return EXIT_USAGE;
	if (probe_volumes(eng, vols, n) < 0)
		return EXIT_USAGE;
	if (arg_json) {
		jt_begin_object(&w);
		jt_key(&w, "format");
		jt_int(&w, 1);
		jt_key(&w, "volumes");
		jt_begin_array(&w);
	}
	for (size_t i = 0; i < n; i++) {
		struct snapshot_list l = { 0 };
		struct rerr e = { 0 };

		r = engine_list(eng, vols[i], &l, &e);
		if (r < 0) {
			ret = report(r, &e);
			continue;
		}
		if (arg_json) {
			write_volume(&w, vols[i], &l);
		} else {
			if (i > 0)
				putchar('\n');
			print_table(vols[i], &l);
		}
		snapshot_list_clear(&l);
	}
	if (arg_json) {
		jt_end_array(&w);
		jt_end_object(&w);
	}
	return ret;
}

/* delete, pin, unpin: the volume named by argv[0], probed. Return: 0, or an exit code. */
static int named_volume(struct engine *eng, const char *name, struct volume **ret)
{
	_cleanup_free_ struct volume **vols = NULL;
	char *names[] = { (char *)name };
	size_t n;

	if (select_volumes(eng, 1, names, false, &vols, &n) < 0 || probe_volume(eng, vols[0]) < 0)
		return EXIT_USAGE;
	*ret = vols[0];
	return 0;
}

static int verb_delete(struct engine *eng, int argc, char **argv)
{
	struct snap_results res = { 0 };
	struct rerr e = { 0 };
	struct volume *v;
	int r, ret = EXIT_OK;

	r = named_volume(eng, argv[0], &v);
	if (r > 0)
		return r;
	r = engine_delete(eng, v, argv + 1, (size_t)argc - 1, arg_force, &res, &e);
	if (r < 0)
		return e.usage ? report_usage(&e) : report(r, &e);
	for (size_t i = 0; i < res.n; i++) {
		const struct snap_result *x = &res.items[i];

		if (x->outcome == SNAP_WOULD) {
			log_info("would delete %s", x->name);
		} else if (x->outcome == SNAP_DONE) {
			log_info("deleted %s", x->name);
		} else if (x->outcome == SNAP_REFUSED) {
			log_error("%s", x->e.msg);
			ret = EXIT_FAILED;
		} else {
			ret = report(-x->e.code, &x->e);
		}
	}
	snap_results_done(&res);
	return ret;
}

static int set_pinned(struct engine *eng, char **argv, bool pinned)
{
	struct snap_result x = { 0 };
	struct rerr e = { 0 };
	struct volume *v;
	int r;

	r = named_volume(eng, argv[0], &v);
	if (r > 0)
		return r;
	r = engine_pin(eng, v, argv[1], pinned, &x, &e);
	if (r < 0)
		return e.usage ? report_usage(&e) : report(r, &e);
	if (x.outcome == SNAP_UNCHANGED)
		log_info("%s is %s already", x.name, pinned ? "pinned" : "not pinned");
	else if (x.outcome == SNAP_WOULD)
		log_info("would %s %s", pinned ? "pin" : "unpin", x.name);
	else if (x.outcome == SNAP_DONE)
		log_info("%s %s", pinned ? "pinned" : "unpinned", x.name);
	else
		r = report(-x.e.code, &x.e);
	free(x.name);
	return r > 0 ? r : EXIT_OK;
}

static int verb_pin(struct engine *eng, int argc, char **argv)
{
	(void) argc;
	return set_pinned(eng, argv, true);
}

static int verb_unpin(struct engine *eng, int argc, char **argv)
{
	(void) argc;
	return set_pinned(eng, argv, false);
}

static int verb_config_check(struct engine *eng, int argc, char **argv)
{
	const struct config *cfg = eng->cfg;
	_cleanup_free_ struct volume **vols = NULL;
	_cleanup_free_ char *text = NULL;
	size_t n;

	if (select_volumes(eng, argc, argv, false, &vols, &n) < 0)
		return EXIT_USAGE;
	if (probe_volumes(eng, vols, n) < 0)
		return EXIT_USAGE;
	for (size_t i = 0; i < n; i++) {
		struct rerr e = { 0 };
		bool pre = hooks_check(vols[i]->pre_hooks, vols[i]->n_pre_hooks, &e) < 0;

		if (pre || hooks_check(vols[i]->post_hooks, vols[i]->n_post_hooks, &e) < 0) {
			/* As snapshot says it: the reason, unless the message is one already. */
			log_error("%s:%u: %s%s%s", cfg->path,
				  config_volume_line(vols[i], pre ? VKEY_PRE_HOOK : VKEY_POST_HOOK),
				  e.msg, e.code == EPERM ? "" : ": ",
				  e.code == EPERM ? "" : strerror(e.code));
			return EXIT_USAGE;
		}
	}
	text = config_format(cfg);
	if (!text)
		return report(-ENOMEM, &(struct rerr){ 0 });
	fputs(text, stdout);
	return EXIT_OK;
}

/* --- targets ------------------------------------------------------------ */

static bool progress_shown;

/* On a terminal: the transfer under way, its size and rate, on one line. */
static void show_progress(void *user, const char *volume, const char *target, const char *name,
			  uint64_t bytes, bool done)
{
	static struct timespec start;
	static const char *current;
	struct timespec now;
	double secs;

	(void) user;
	(void) volume;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (current != name) {
		current = name;
		start = now;
	}
	secs = (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9;
	fprintf(stderr, "\r\033[K%s %s to %s: %.1f MiB, %.1f MiB/s", done ? "sent" : "sending",
		name, target, (double)bytes / 1048576.0,
		secs > 0 ? (double)bytes / 1048576.0 / secs : 0.0);
	if (done) {
		fputc('\n', stderr);
		current = NULL;
	}
	progress_shown = true;
}

static rotate_progress_fn progress_callback(void)
{
	return isatty(STDERR_FILENO) && arg_verbosity >= 0 && !arg_json ? show_progress : NULL;
}

static void print_targets(const struct volume_report *r, bool decisions)
{
	for (size_t t = 0; t < r->n_targets; t++) {
		const struct target_report *tr = &r->targets[t];
		size_t kept = 0;

		for (size_t i = 0; i < tr->n_sent; i++) {
			const struct transfer *x = &tr->sent[i];

			if (arg_dry_run)
				printf("%s: would send %s to %s (%s%s)\n", r->volume->name, x->name,
				       tr->target->name, x->parent ? "incremental from " : "full",
				       x->parent ?: "");
			else
				printf("%s: sent %s to %s (%s%s, %.1f MiB)\n", r->volume->name, x->name,
				       tr->target->name, x->parent ? "incremental from " : "full",
				       x->parent ?: "", (double)x->bytes / 1048576.0);
		}
		if (!tr->plan)
			continue;
		for (size_t i = 0; i < tr->copies.n; i++) {
			const struct decision *d = &tr->plan->d[i];

			kept += d->keep;
			if (d->keep && !decisions)
				continue;
			printf("%s@%s  %-6s  %s", r->volume->name, tr->target->name,
			       d->keep ? "keep" : arg_dry_run ? "DELETE" : "delete",
			       tr->copies.items[i].name);
			for (unsigned k = 0; k < d->n_reasons; k++)
				printf("%s%s", k ? ", " : "  ", d->reasons[k]);
			putchar('\n');
		}
		printf("%s@%s: kept %zu, %s %zu\n", r->volume->name, tr->target->name, kept,
		       arg_dry_run ? "would delete" : "deleted",
		       arg_dry_run ? tr->copies.n - kept : tr->n_deleted);
	}
}

static struct json_object *plan_json(const struct snapshot_list *l, const struct plan *p)
{
	struct json_object *dec = json_object_new_array();

	for (size_t i = 0; dec && p && i < l->n; i++) {
		const struct decision *d = &p->d[i];
		struct json_object *x = json_object_new_object(), *reasons = json_object_new_array();

		if (!x || !reasons) {
			json_object_put(x);
			json_object_put(reasons);
			json_object_put(dec);
			return NULL;
		}
		for (unsigned k = 0; k < d->n_reasons; k++)
			json_object_array_add(reasons, json_object_new_string(d->reasons[k]));
		if (meta_add(x, "name", json_object_new_string(l->items[i].name)) < 0 ||
		    meta_add(x, "action", json_object_new_string(d->keep ? "keep" : "delete")) < 0 ||
		    meta_add(x, "reasons", reasons) < 0 || json_object_array_add(dec, x) < 0) {
			json_object_put(x);
			json_object_put(dec);
			return NULL;
		}
	}
	return dec;
}

static struct json_object *targets_json(const struct volume_report *r)
{
	struct json_object *arr = json_object_new_array();

	for (size_t t = 0; arr && t < r->n_targets; t++) {
		const struct target_report *tr = &r->targets[t];
		struct json_object *o = json_object_new_object(), *sent = json_object_new_array();

		if (!o || !sent || meta_add(o, "target", json_object_new_string(tr->target->name)) < 0 ||
		    meta_add(o, "reached", json_object_new_boolean(tr->reached)) < 0 ||
		    meta_add(o, "failed", json_object_new_boolean(tr->failed)) < 0 ||
		    meta_add(o, "sent", sent) < 0 ||
		    meta_add(o, "decisions", plan_json(&tr->copies, tr->plan)) < 0 ||
		    meta_add(o, "deleted", json_object_new_int64((int64_t)tr->n_deleted)) < 0 ||
		    json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			json_object_put(arr);
			return NULL;
		}
		for (size_t i = 0; i < tr->n_sent; i++) {
			struct json_object *x = json_object_new_object();

			if (!x || meta_add(x, "name", json_object_new_string(tr->sent[i].name)) < 0 ||
			    meta_add(x, "parent", tr->sent[i].parent ?
				     json_object_new_string(tr->sent[i].parent) : NULL) < 0 ||
			    meta_add(x, "bytes", json_object_new_int64((int64_t)tr->sent[i].bytes)) < 0 ||
			    json_object_array_add(sent, x) < 0) {
				json_object_put(x);
				json_object_put(arr);
				return NULL;
			}
		}
	}
	return arr;
}

static int verb_send(struct engine *eng, int argc, char **argv)
{
	const struct config *cfg = eng->cfg;
	_cleanup_free_ struct volume **vols = NULL;
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	struct json_object *arr;
	struct replicate_opts o = { .only_target = arg_target, .send = true,
				    .dry_run = arg_dry_run, .progress = progress_callback() };
	size_t n;
	int ret = EXIT_OK, r;

	if (arg_target && !config_target(cfg, arg_target)) {
		log_error("unknown target '%s' (not in %s)", arg_target, cfg->path);
		return EXIT_USAGE;
	}
	if (select_volumes(eng, argc, argv, true, &vols, &n) < 0)
		return EXIT_USAGE;
	if (probe_volumes(eng, vols, n) < 0)
		return EXIT_USAGE;
	for (size_t i = 0; i < n; i++) {
		bool has = false;

		for (size_t t = 0; t < vols[i]->n_targets; t++)
			has |= !arg_target || streq(vols[i]->targets[t], arg_target);
		if (!has) {
			log_error("volume '%s' has no target%s%s%s", vols[i]->name,
				  arg_target ? " '" : "", arg_target ?: "", arg_target ? "'" : "");
			return EXIT_USAGE;
		}
	}
	r = lock_sorted(eng, vols, n);
	if (r > 0)
		return r;
	if (json_envelope(&out, &arr) < 0 || !engine_sessions(eng))
		return report(-ENOMEM, &(struct rerr){ 0 });
	for (size_t i = 0; i < n; i++) {
		struct volume_report rep = { .volume = vols[i] };

		if (rotate_replicate(cfg, vols[i], engine_sessions(eng), arg_now, &o, &rep) < 0)
			ret = EXIT_FAILED;
		for (size_t k = 0; k < rep.n_errors; k++)
			log_error("%s", rep.errors[k]);
		if (arg_json) {
			struct json_object *x = json_object_new_object();

			if (!x || meta_add(x, "volume", json_object_new_string(vols[i]->name)) < 0 ||
			    meta_add(x, "targets", targets_json(&rep)) < 0 ||
			    json_object_array_add(arr, x) < 0)
				json_object_put(x);
		} else if (arg_verbosity >= 0) {
			print_targets(&rep, false);
			for (size_t t = 0; t < rep.n_targets; t++)
				if (rep.targets[t].reached && !rep.targets[t].failed &&
				    rep.targets[t].n_sent == 0)
					printf("%s: %s holds the newest already, nothing to send\n",
					       vols[i]->name, rep.targets[t].target->name);
		}
		volume_report_done(&rep);
	}
	if (arg_json && print_json(out) < 0)
		return report(-ENOMEM, &(struct rerr){ 0 });
	return ret;
}

static int verb_serve(struct engine *eng, int argc, char **argv)
{
	struct rerr e = { 0 };
	int r;

	(void) eng;
	(void) argv;
	(void) argc;
	if (!arg_root)
		return usage_error("serve needs --root DIR");
	if (arg_root[0] != '/')
		return usage_error("serve --root '%s': the root must be an absolute path", arg_root);
	r = serve_main(arg_root, STDIN_FILENO, STDOUT_FILENO, &e);
	if (r < 0) {
		log_error("%s: %s", e.msg, strerror(-r));
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

/* --- prune and run ------------------------------------------------------ */

static void print_decisions(const struct volume_report *r, bool all)
{
	size_t w = 0;

	if (!r->plan)
		return;
	for (size_t i = 0; i < r->snaps.n; i++)
		if (strlen(term_safe(r->snaps.items[i].name)) > w)
			w = strlen(term_safe(r->snaps.items[i].name));
	for (size_t i = 0; i < r->snaps.n; i++) {
		const struct decision *d = &r->plan->d[i];

		if (d->keep && !all)
			continue;
		printf("%s  %-6s  %-*s", r->volume->name,
		       d->keep ? "keep" : arg_dry_run ? "DELETE" : "delete", (int)w,
		       term_safe(r->snaps.items[i].name));
		for (unsigned k = 0; k < d->n_reasons; k++)
			printf("%s%s", k ? ", " : "  ", d->reasons[k]);
		putchar('\n');
	}
}

static void print_report(const struct volume_report *r, bool run)
{
	size_t kept = 0;

	if (arg_verbosity < 0)
		return;
	for (size_t i = 0; i < r->n_repaired; i++)
		printf("%s: %s incomplete %s (left by an interrupted run)\n", r->volume->name,
		       arg_dry_run ? "would remove" : "removed", r->repaired[i]);
	if (run) {
		if (r->created)
			printf("%s: %s %s\n", r->volume->name,
			       arg_dry_run ? "would take" : "took", r->created);
		else if (!r->due)
			printf("%s: no timeline snapshot due\n", r->volume->name);
	}
	/* prune shows every decision; run only the deletions unless -v. */
	print_targets(r, !run || arg_verbosity > 0);
	print_decisions(r, !run || arg_verbosity > 0);
	if (r->plan) {
		for (size_t i = 0; i < r->snaps.n; i++)
			kept += r->plan->d[i].keep;
		printf("%s: kept %zu, %s %zu\n", r->volume->name, kept,
		       arg_dry_run ? "would delete" : "deleted",
		       arg_dry_run ? r->snaps.n - kept : r->n_deleted);
	}
}

static struct json_object *report_json(const struct volume_report *r, bool run)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	struct json_object *dec = json_object_new_array(), *rep = json_object_new_array(),
			   *errs = json_object_new_array();

	if (!o || meta_add(o, "volume", json_object_new_string(r->volume->name)) < 0 ||
	    meta_add(o, "decisions", dec) < 0 || meta_add(o, "repaired", rep) < 0 ||
	    meta_add(o, "errors", errs) < 0)
		return NULL;
	if (meta_add(o, "targets", targets_json(r)) < 0)
		return NULL;
	if (run && (meta_add(o, "due", json_object_new_boolean(r->due)) < 0 ||
		    meta_add(o, "snapshot", r->created ? json_object_new_string(r->created)
						       : NULL) < 0))
		return NULL;
	for (size_t i = 0; i < r->n_repaired; i++)
		if (json_object_array_add(rep, json_object_new_string(r->repaired[i])) < 0)
			return NULL;
	for (size_t i = 0; i < r->n_errors; i++)
		if (json_object_array_add(errs, json_object_new_string(r->errors[i])) < 0)
			return NULL;
	for (size_t i = 0; r->plan && i < r->snaps.n; i++) {
		const struct decision *d = &r->plan->d[i];
		struct json_object *x = json_object_new_object(), *reasons = json_object_new_array();

		if (!x || !reasons || meta_add(x, "name",
					       json_object_new_string(r->snaps.items[i].name)) < 0 ||
		    meta_add(x, "action", json_object_new_string(d->keep ? "keep" : "delete")) < 0 ||
		    meta_add(x, "reasons", reasons) < 0 || json_object_array_add(dec, x) < 0) {
			json_object_put(x);
			return NULL;
		}
		reasons = NULL;
		for (unsigned k = 0; k < d->n_reasons; k++)
			if (json_object_array_add(json_object_object_get(x, "reasons"),
						  json_object_new_string(d->reasons[k])) < 0)
				return NULL;
	}
	return TAKE_PTR(o);
}

static int verb_prune(struct engine *eng, int argc, char **argv)
{
	const struct config *cfg = eng->cfg;
	_cleanup_free_ struct volume **vols = NULL;
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	struct json_object *arr;
	size_t n;
	int r, ret = EXIT_OK;

	if (select_volumes(eng, argc, argv, true, &vols, &n) < 0)
		return EXIT_USAGE;
	if (probe_volumes(eng, vols, n) < 0)
		return EXIT_USAGE;
	r = lock_sorted(eng, vols, n);
	if (r > 0)
		return r;
	if (json_envelope(&out, &arr) < 0)
		return report(-ENOMEM, &(struct rerr){ 0 });
	for (size_t i = 0; i < n; i++) {
		struct volume_report rep = { 0 };

		if (rotate_prune(cfg, vols[i], arg_now, arg_dry_run, engine_sessions(eng), &rep) < 0)
			ret = EXIT_FAILED;
		for (size_t k = 0; k < rep.n_errors; k++)
			log_error("%s", rep.errors[k]);
		for (size_t k = 0; k < rep.n_notices; k++)
			log_error("%s", rep.notices[k]);
		if (arg_json) {
			struct json_object *o = report_json(&rep, false);

			if (!o || json_object_array_add(arr, o) < 0) {
				json_object_put(o);
				volume_report_done(&rep);
				return report(-ENOMEM, &(struct rerr){ 0 });
			}
		} else {
			print_report(&rep, false);
		}
		volume_report_done(&rep);
	}
	if (arg_json && print_json(out) < 0)
		return report(-ENOMEM, &(struct rerr){ 0 });
	return ret;
}

/*
 * One unit of run: a volume, or a group's members together. Probe, lock, run
 * the engine, record and print. Return: EXIT_OK, EXIT_FAILED, or EXIT_LOCKED
 * when another snaprotate holds a lock (then nothing is recorded: the volume
 * did not fail, it is busy).
 */
static int run_unit(struct engine *eng, struct volume **unit, size_t m,
		    struct json_object *arr, char *failed, size_t failed_len, size_t *n_failed)
{
	const struct config *cfg = eng->cfg;
	struct volume_report reps[GROUP_MAX];
	bool ok = true;
	int ret = EXIT_OK, r;

	memset(reps, 0, sizeof(reps));
	for (size_t u = 0; u < m; u++) {
		struct rerr e = { 0 };

		reps[u].volume = unit[u];
		if (engine_probe(eng, unit[u], &e) < 0) {
			log_error("%s", e.msg);
			volume_report_fail(&reps[u], e.msg);
			ok = false;
		}
	}
	if (ok) {
		r = lock_sorted(eng, unit, m);
		if (r == EXIT_LOCKED)
			return EXIT_LOCKED;
		if (r > 0) {
			for (size_t u = 0; u < m; u++)
				volume_report_fail(&reps[u], "cannot take the volume's lock");
			ok = false;
		}
	}
	if (ok && rotate_run(cfg, unit, m, arg_now, arg_dry_run, engine_sessions(eng),
			     &(struct replicate_opts){ .send = true, .prune_targets = true,
						       .dry_run = arg_dry_run,
						       .progress = progress_callback() },
			     reps) < 0)
		ok = false;
	for (size_t u = 0; u < m; u++) {
		struct rerr e = { 0 };

		for (size_t k = 0; k < reps[u].n_notices; k++)
			log_error("%s", reps[u].notices[k]);
		for (size_t k = 0; k < reps[u].n_errors; k++)
			if (!startswith(reps[u].errors[k], cfg->path))	/* probe printed it */
				log_error("%s", reps[u].errors[k]);
		if (!arg_dry_run && rotate_save_state(cfg, &reps[u], arg_now, &e) < 0) {
			report(-e.code, &e);
			ok = false;
		}
		if (arg_json) {
			struct json_object *o = report_json(&reps[u], true);

			if (!o || json_object_array_add(arr, o) < 0)
				json_object_put(o);
		} else {
			print_report(&reps[u], true);
		}
		if (reps[u].n_errors) {
			size_t len = strlen(failed);

			snprintf(failed + len, failed_len - len, "%s%s", *n_failed ? " " : "",
				 unit[u]->name);
			(*n_failed)++;
			ok = false;
		}
		volume_report_done(&reps[u]);
	}
	/* Locks are per unit: release them before the next one. */
	engine_unlock(eng);
	if (!ok)
		ret = EXIT_FAILED;
	return ret;
}

/*
 * run: each volume, or each group as a whole, independently; one failing does
 * not stop the others. Exit 1 if any failed, else 3 if any was locked.
 */
static int verb_run(struct engine *eng, int argc, char **argv)
{
	const struct config *cfg = eng->cfg;
	_cleanup_free_ struct volume **vols = NULL;
	_cleanup_free_ bool *done = NULL;
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	struct json_object *arr;
	size_t n, n_failed = 0;
	char failed[512] = "";
	bool any_failed = false, any_locked = false;

	if (select_volumes(eng, argc, argv, true, &vols, &n) < 0)
		return EXIT_USAGE;
	done = calloc(n + 1, sizeof(*done));
	if (!done || json_envelope(&out, &arr) < 0)
		return report(-ENOMEM, &(struct rerr){ 0 });
	for (size_t i = 0; i < n; i++) {
		struct volume *unit[GROUP_MAX];
		const struct group *g;
		size_t m = 0;
		int r;

		if (done[i])
			continue;
		g = vols[i]->group ? config_group(cfg, vols[i]->group) : NULL;
		if (g) {
			for (size_t k = 0; k < g->n_volumes; k++)
				unit[m++] = config_volume(cfg, g->volumes[k]);
		} else {
			unit[m++] = vols[i];
		}
		for (size_t k = 0; k < n; k++)
			for (size_t u = 0; u < m; u++)
				if (vols[k] == unit[u])
					done[k] = true;
		r = run_unit(eng, unit, m, arr, failed, sizeof(failed), &n_failed);
		any_failed |= r == EXIT_FAILED;
		any_locked |= r == EXIT_LOCKED;
	}
	if (n_failed)
		log_error("run failed for %zu volume%s: %s", n_failed, n_failed == 1 ? "" : "s",
			  failed);
	if (arg_json && print_json(out) < 0)
		return report(-ENOMEM, &(struct rerr){ 0 });
	return any_failed ? EXIT_FAILED : any_locked ? EXIT_LOCKED : EXIT_OK;
}

static int verb_rollback(struct engine *eng, int argc, char **argv)
{
	const struct config *cfg = eng->cfg;
	struct volume *v = config_volume(cfg, argv[0]);
	struct rollback_report r;
	struct rerr e = { 0 };
	int k, ret = EXIT_OK;

	(void) argc;
	if (!v) {
		log_error("unknown volume '%s' (not in %s)", argv[0], cfg->path);
		return EXIT_USAGE;
	}
	if (probe_volume(eng, v) < 0)
		return EXIT_USAGE;
	k = engine_lock(eng, &v, 1, &e);
	if (k < 0)
		return report(k, &e);
	k = rollback_volume(v, argv[1], arg_now, arg_dry_run, &r, &e);
	if (k < 0)
		ret = r.bad_arg ? report_usage(&e) : report(k, &e);
	if (arg_json) {
		_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
		struct json_object *steps = json_object_new_array();
		const char *result = k < 0 ? "failed" : arg_dry_run ? "dry run"
				     : r.result == ROLLBACK_DONE ? "done" : "at next activation";

		for (unsigned i = 0; steps && i < r.n_steps; i++)
			json_object_array_add(steps, json_object_new_string(r.steps[i]));
		if (!o || meta_add(o, "format", json_object_new_int(1)) < 0 ||
		    meta_add(o, "volume", json_object_new_string(v->name)) < 0 ||
		    meta_add(o, "snapshot", r.target ? json_object_new_string(r.target) : NULL) < 0 ||
		    meta_add(o, "saved", r.saved ? json_object_new_string(r.saved) : NULL) < 0 ||
		    meta_add(o, "result", json_object_new_string(result)) < 0 ||
		    meta_add(o, "steps", steps) < 0 || print_json(o) < 0)
			ret = EXIT_FAILED;
	} else if (arg_verbosity >= 0) {
		for (unsigned i = 0; i < r.n_steps; i++)
			printf("%s: %s%s\n", v->name, arg_dry_run ? "would " : "", r.steps[i]);
	}
	rollback_report_done(&r);
	return ret;
}

static int verb_restore(struct engine *eng, int argc, char **argv)
{
	const struct config *cfg = eng->cfg;
	struct volume *v = config_volume(cfg, argv[0]);
	struct restore_report r;
	struct rerr e = { 0 };
	int k, ret = EXIT_OK;

	(void) argc;
	if (!v) {
		log_error("unknown volume '%s' (not in %s)", argv[0], cfg->path);
		return EXIT_USAGE;
	}
	if (!arg_to)
		return usage_error("restore needs --to VG/LV");
	if (arg_target && !config_target(cfg, arg_target))
		return usage_error("unknown target '%s'", arg_target);
	if (v->backend != BACKEND_LVM) {
		log_error("%s: restore of btrfs volumes is not available yet", v->name);
		return EXIT_FAILED;
	}
	k = restore_lvm(cfg, v, engine_sessions(eng), arg_target, argv[1], arg_to, arg_dry_run, &r, &e);
	if (k < 0)
		ret = r.bad_arg ? report_usage(&e) : report(k, &e);
	if (arg_json) {
		_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
		struct json_object *chain = json_object_new_array();

		for (unsigned i = 0; chain && i < r.n_chain; i++) {
			struct json_object *x = json_object_new_object();

			if (!x || json_object_array_add(chain, x) < 0 ||
			    meta_add(x, "name", json_object_new_string(r.chain[i])) < 0 ||
			    meta_add(x, "bytes", json_object_new_int64((int64_t)r.bytes[i])) < 0)
				ret = EXIT_FAILED;
		}
		if (!o || meta_add(o, "format", json_object_new_int(1)) < 0 ||
		    meta_add(o, "volume", json_object_new_string(v->name)) < 0 ||
		    meta_add(o, "target", r.target ? json_object_new_string(r.target->name) : NULL) < 0 ||
		    meta_add(o, "snapshot", r.snapshot ? json_object_new_string(r.snapshot) : NULL) < 0 ||
		    meta_add(o, "to", json_object_new_string(arg_to)) < 0 ||
		    meta_add(o, "success", json_object_new_boolean(k == 0)) < 0 ||
		    meta_add(o, "chain", chain) < 0 || print_json(o) < 0)
			ret = EXIT_FAILED;
	} else if (k == 0 && arg_verbosity >= 0) {
		for (unsigned i = 0; i < r.n_chain; i++)
			printf("%s: %s %s from %s (%s)\n", v->name, arg_dry_run ? "would apply" : "applied",
			       r.chain[i], r.target->name, i ? "delta" : "full image");
		if (!arg_dry_run)
			printf("%s: %s restored into %s\n", v->name, r.snapshot, arg_to);
	}
	restore_report_done(&r);
	return ret;
}

/* "3h 12m", "2d 4h", "45s": a short age for status lines. */
static void format_age(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm", (long long)(s / 60));
	else if (s < 86400)
		snprintf(buf, len, "%lldh %lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%lldd %lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

/* One volume's status as status --json prints it. Return: a new object, or NULL (ENOMEM). */
static struct json_object *status_json(const struct volume_status *st)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	struct json_object *targets = json_object_new_object();
	char when[ISO_TIME_LEN];

	if (!o || meta_add(o, "volume", json_object_new_string(st->volume->name)) < 0 ||
	    meta_add(o, "backend", json_object_new_string(st->backend)) < 0 ||
	    meta_add(o, "count", json_object_new_int64((int64_t)st->count)) < 0 ||
	    meta_add(o, "newest", st->newest ? json_object_new_string(st->newest) : NULL) < 0 ||
	    meta_add(o, "newest_created", st->newest ?
		     json_object_new_string(time_format_iso(st->newest_created, when)) : NULL) < 0 ||
	    meta_add(o, "next_due", json_object_new_string(time_format_iso(st->next_due, when))) < 0 ||
	    meta_add(o, "invalid", json_object_new_int64((int64_t)st->invalid)) < 0 ||
	    meta_add(o, "merge_pending", json_object_new_boolean(st->health.merge_pending)) < 0 ||
	    meta_add(o, "merging", *st->health.merging ?
		     json_object_new_string(st->health.merging) : NULL) < 0) {
		json_object_put(targets);
		return NULL;
	}
	if (st->health.pool_known) {
		struct json_object *p = json_object_new_object();

		if (!p || meta_add(o, "pool", p) < 0 ||
		    meta_add(p, "name", json_object_new_string(st->health.pool)) < 0 ||
		    meta_add(p, "data_percent", json_object_new_double(st->health.pool_data_percent)) < 0 ||
		    meta_add(p, "metadata_percent",
			     json_object_new_double(st->health.pool_metadata_percent)) < 0) {
			json_object_put(targets);
			return NULL;
		}
	} else if (meta_add(o, "pool", NULL) < 0) {
		json_object_put(targets);
		return NULL;
	}
	if (meta_add(o, "targets", targets) < 0)
		return NULL;
	for (size_t t = 0; t < st->n_targets; t++) {
		const struct target_status *ts = &st->targets[t];
		struct json_object *x = json_object_new_object();

		if (!x || meta_add(targets, ts->target, x) < 0 ||
		    meta_add(x, "newest", ts->newest ? json_object_new_string(ts->newest) : NULL) < 0 ||
		    meta_add(x, "lag_seconds", ts->newest && st->newest ?
			     json_object_new_int64(ts->lag) : NULL) < 0)
			return NULL;
	}
	if (meta_add(o, "last_run", st->last_run ? json_object_get(st->last_run) : NULL) < 0)
		return NULL;
	return TAKE_PTR(o);
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *x;

	return json_object_object_get_ex(o, key, &x) && json_object_is_type(x, json_type_string)
		       ? json_object_get_string(x) : NULL;
}

static void print_status(const struct volume_status *st)
{
	char buf[64], due_local[32] = "now";

	printf("%s: ", st->volume->name);
	if (st->newest) {
		format_age(arg_now - st->newest_created, buf, sizeof(buf));
		printf("newest %s (%s ago), ", st->newest, buf);
	} else {
		printf("no snapshots, ");
	}
	printf("%lld in all", (long long)st->count);
	if (st->next_due > arg_now)
		format_local(st->next_due, due_local, sizeof(due_local));
	printf(", next due %s", due_local);
	for (size_t t = 0; t < st->n_targets; t++) {
		const struct target_status *ts = &st->targets[t];

		if (!ts->newest) {
			printf("; %s: nothing yet", ts->target);
			continue;
		}
		format_age(ts->lag, buf, sizeof(buf));
		printf("; %s: %s (lag %s)", ts->target, ts->newest, ts->lag ? buf : "none");
	}
	if (st->health.pool_known)
		printf("; pool %s %.1f%% data %.1f%% metadata", st->health.pool,
		       st->health.pool_data_percent, st->health.pool_metadata_percent);
	if (st->invalid > 0)
		printf("; %lld INVALID (overflowed)", (long long)st->invalid);
	if (st->health.merge_pending)
		printf("; MERGE PENDING%s%s (rollback at the next activation)",
		       *st->health.merging ? ": " : "", st->health.merging);
	if (st->last_run) {
		struct json_object *ok;

		json_object_object_get_ex(st->last_run, "success", &ok);
		printf("; last run %s %s", jstr(st->last_run, "time") ?: "?",
		       json_object_get_boolean(ok) ? "ok" : "FAILED");
	}
	putchar('\n');
}

/* status never takes a lock and changes nothing. */
static int verb_status(struct engine *eng, int argc, char **argv)
{
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	_cleanup_free_ struct volume **vols = NULL;
	struct json_object *arr;
	size_t n;
	int ret = EXIT_OK;

	if (select_volumes(eng, argc, argv, true, &vols, &n) < 0 || probe_volumes(eng, vols, n) < 0)
		return EXIT_USAGE;
	if (json_envelope(&out, &arr) < 0)
		return report(-ENOMEM, &(struct rerr){ 0 });
	for (size_t i = 0; i < n; i++) {
		struct volume_status st = { 0 };
		struct rerr e = { 0 };
		struct json_object *o;
		int k = engine_status(eng, vols[i], &st, &e);

		if (k < 0) {
			ret = report(k, &e);
			continue;
		}
		if (!arg_json)
			print_status(&st);
		o = status_json(&st);
		if (!o || json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			ret = report(-ENOMEM, &(struct rerr){ 0 });
		}
		volume_status_done(&st);
	}
	if (arg_json && print_json(out) < 0)
		return EXIT_FAILED;
	return ret;
}

static const struct verb verbs[] = {
	{ "snapshot", 1, -1, OPT_KIND | OPT_DESCRIPTION | OPT_PIN | OPT_PRE, true, verb_snapshot },
	{ "list", 0, -1, 0, true, verb_list },
	{ "prune", 0, -1, 0, true, verb_prune },
	{ "run", 0, -1, 0, true, verb_run },
	{ "send", 1, -1, OPT_TARGET, true, verb_send },
	{ "serve", 0, 0, OPT_ROOT, false, verb_serve },
	{ "delete", 2, -1, OPT_FORCE, true, verb_delete },
	{ "pin", 2, 2, 0, true, verb_pin },
	{ "unpin", 2, 2, 0, true, verb_unpin },
	{ "config-check", 0, 0, 0, true, verb_config_check },
	{ "rollback", 2, 2, 0, true, verb_rollback },
	{ "restore", 2, 2, OPT_TARGET | OPT_TO, true, verb_restore },
	{ "status", 0, -1, 0, true, verb_status },
	{ .name = NULL },
};

/* --- argv --------------------------------------------------------------- */

static const char *const opt_names[] = { "--kind", "--description", "--pin", "--pre", "--force",
					 "--target", "--root", "--to" };

/* Return: <0 error (exit 2), 0 done (help/version), >0 go on. */
static int parse_argv(int argc, char *argv[])
{
	enum { ARG_JSON = 0x100, ARG_NOW, ARG_WAIT, ARG_KIND, ARG_DESCRIPTION, ARG_PIN, ARG_PRE,
	       ARG_FORCE, ARG_TARGET, ARG_ROOT, ARG_TO };
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, ARG_JSON },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "now", required_argument, NULL, ARG_NOW },
		{ "wait", no_argument, NULL, ARG_WAIT },
		{ "kind", required_argument, NULL, ARG_KIND },
		{ "description", required_argument, NULL, ARG_DESCRIPTION },
		{ "pin", no_argument, NULL, ARG_PIN },
		{ "pre", required_argument, NULL, ARG_PRE },
		{ "force", no_argument, NULL, ARG_FORCE },
		{ "target", required_argument, NULL, ARG_TARGET },
		{ "root", required_argument, NULL, ARG_ROOT },
		{ "to", required_argument, NULL, ARG_TO },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ .name = NULL },
	};
	const char *now = getenv("SNAPROTATE_NOW");
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:nvqhV", options, NULL)) >= 0) {
		switch (c) {
		case 'c':
			arg_config = optarg;
			break;
		case ARG_JSON:
			arg_json = true;
			break;
		case 'n':
			arg_dry_run = true;
			break;
		case 'v':
			arg_verbosity = 1;
			break;
		case 'q':
			arg_verbosity = -1;
			break;
		case ARG_NOW:
			now = optarg;
			break;
		case ARG_WAIT:
			arg_wait = true;
			break;
		case ARG_KIND:
			arg_kind = snap_kind_from_string(optarg);
			if (arg_kind == _SNAP_KIND_INVALID)
				return usage_error("--kind '%s': expected manual, timeline, pre, post or boot",
						   optarg), -EINVAL;
			arg_given |= OPT_KIND;
			break;
		case ARG_DESCRIPTION:
			arg_description = optarg;
			arg_given |= OPT_DESCRIPTION;
			break;
		case ARG_PIN:
			arg_pin = true;
			arg_given |= OPT_PIN;
			break;
		case ARG_PRE:
			arg_pre = optarg;
			arg_given |= OPT_PRE;
			break;
		case ARG_FORCE:
			arg_force = true;
			arg_given |= OPT_FORCE;
			break;
		case ARG_TARGET:
			arg_target = optarg;
			arg_given |= OPT_TARGET;
			break;
		case ARG_TO:
			arg_to = optarg;
			arg_given |= OPT_TO;
			break;
		case ARG_ROOT:
			arg_root = optarg;
			arg_given |= OPT_ROOT;
			break;
		case 'h':
			help();
			return 0;
		case 'V':
			printf("%s\n", SNAPROTATE_CREATOR);
			return 0;
		case '?':
			if (optopt)
				return usage_error("invalid option '-%c'", optopt), -EINVAL;
			return usage_error("invalid option '%s'", argv[optind - 1]), -EINVAL;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]), -EINVAL;
		default:
			return usage_error("invalid option"), -EINVAL;
		}
	}
	if (now && *now) {
		if (time_parse_iso(now, &arg_now) < 0)
			return usage_error("%s '%s': expected an ISO 8601 time such as 2026-11-27T09:05:12Z",
					   getenv("SNAPROTATE_NOW") == now ? "SNAPROTATE_NOW" : "--now",
					   now), -EINVAL;
	} else {
		arg_now = time(NULL);
	}
	return 1;
}

int cli_main(int argc, char *argv[])
{
	_cleanup_(config_freep) struct config *cfg = NULL;
	const struct verb *verb = NULL;
	struct engine eng;
	struct rerr e = { 0 };
	int r, nargs;

	debug_init();
	/* A peer that goes away must be an EPIPE to handle, not a death. */
	signal(SIGPIPE, SIG_IGN);
	r = parse_argv(argc, argv);
	if (r <= 0)
		return r < 0 ? EXIT_USAGE : EXIT_OK;
	if (optind >= argc)
		return usage_error("no command given");
	for (const struct verb *vb = verbs; vb->name; vb++)
		if (streq(vb->name, argv[optind]))
			verb = vb;
	if (!verb)
		return usage_error("unknown command '%s'", argv[optind]);
	nargs = argc - optind - 1;
	if (nargs < verb->min_args || (verb->max_args >= 0 && nargs > verb->max_args))
		return usage_error("%s: wrong number of arguments", verb->name);
	for (size_t i = 0; i < ARRAY_SIZE(opt_names); i++)
		if ((arg_given & (1U << i)) && !(verb->options & (1U << i)))
			return usage_error("%s does not take %s", verb->name, opt_names[i]);

	if (verb->needs_config) {
		r = config_load(arg_config, true, &cfg, &e);
		if (r < 0) {
			if (r == -EINVAL)
				log_error("%s", e.msg);
			else
				log_error("%s: %s", e.msg, strerror(-r));
			return EXIT_USAGE;
		}
	}
	engine_init(&eng, cfg, arg_now, arg_dry_run, arg_wait);
	r = verb->run(&eng, nargs, argv + optind + 1);
	engine_done(&eng);
	if (fflush(stdout) != 0 && r == EXIT_OK) {
		log_error("cannot write output: %m");
		return EXIT_FAILED;
	}
	return r;
}
