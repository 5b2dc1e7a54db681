/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * How the command line says things: messages and exit codes, JSON documents,
 * names made safe for a terminal, times and ages, transfer progress.
 */
#include "internal.h"

static char first_error[512];

void cli_error(const char *fmt, ...)
{
	va_list ap;

	if (!first_error[0]) {
		va_start(ap, fmt);
		vsnprintf(first_error, sizeof(first_error), fmt, ap);
		va_end(ap);
	}
	fputs("snaprotate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *cli_first_error(void)
{
	return first_error;
}

/* Human progress lines: stdout, silenced by -q and by --json (stdout is the document). */
void cli_info(const char *fmt, ...)
{
	va_list ap;

	if (arg.verbosity < 0 || arg.json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void cli_out(const char *fmt, ...)
{
	va_list ap;

	if (arg.json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Prints @e and maps its errno to an exit code: 3 for a held lock, else 1. */
int cli_report(int r, const struct rerr *e)
{
	int code = e->code ? e->code : -r;
	char text[sizeof(e->msg) + 64];

	cli_error("%s", rerr_text(e, r, text, sizeof(text)));
	return code == EAGAIN ? EXIT_LOCKED : EXIT_FAILED;
}

/* For input that names something wrong (an unknown or ambiguous snapshot): exit 2. */
int cli_report_usage(const struct rerr *e)
{
	cli_error("%s", e->msg);
	return EXIT_USAGE;
}

int cli_usage(const char *fmt, ...)
{
	va_list ap;

	if (!first_error[0]) {
		va_start(ap, fmt);
		vsnprintf(first_error, sizeof(first_error), fmt, ap);
		va_end(ap);
	}
	fputs("snaprotate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'snaprotate --help'.\n", stderr);
	return EXIT_USAGE;
}

/* The {"format": 1, "volumes": []} every JSON report starts from; *ret_arr is borrowed. */
int cli_json_envelope(struct json_object **ret_out, struct json_object **ret_arr)
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

int cli_print_json(struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!s)
		return -ENOMEM;
	puts(s);
	return 0;
}

/*
 * @s made safe for a terminal: control characters, DEL, C1 controls and bytes
 * that are not UTF-8 are written as \xHH (and a backslash as \\), so a name
 * found on disk can neither fake a row nor send an escape sequence. Return:
 * one of a few rotating static buffers, so a printf() can take several.
 */
const char *cli_safe(const char *s)
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

void cli_local_time(time_t t, bool zone, char *buf, size_t len)
{
	struct tm tm;

	if (!localtime_r(&t, &tm) ||
	    strftime(buf, len, zone ? "%Y-%m-%d %H:%M:%S %Z" : "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "?");
}

void cli_zone_at(time_t t, char *buf, size_t len)
{
	struct tm tm;

	buf[0] = '\0';
	if (!localtime_r(&t, &tm))
		return;
	/* Where the zone has no abbreviation, tzdata gives the offset ("+0530"). */
	if (strftime(buf, len, "%Z", &tm) == 0 && strftime(buf, len, "%z", &tm) == 0)
		buf[0] = '\0';
}

/* "3h 12m", "2d 4h", "45s": a short age for status lines. */
void cli_age(int64_t s, char *buf, size_t len)
{
	age_format(s, buf, len);
}

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
}

rotate_progress_fn cli_progress(void)
{
	return isatty(STDERR_FILENO) && arg.verbosity >= 0 && !arg.json ? show_progress : NULL;
}
