/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A strict JSON reader for flat objects and a streaming writer. The reader
 * works on a byte range with an explicit end: every access checks it, so a
 * truncated or hostile file can only ever be rejected.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "format/jsontext.h"

#define JT_MAX_DEPTH	32

struct jt_in {
	const char *p;
	const char *end;
};

static void jt_ws(struct jt_in *in)
{
	while (in->p < in->end &&
	       (*in->p == ' ' || *in->p == '\t' || *in->p == '\n' || *in->p == '\r'))
		in->p++;
}

static int jt_hex4(const char *p, unsigned *ret)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*ret = v;
	return 0;
}

static size_t jt_utf8(unsigned cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Reads a string at in->p (the opening quote). With @out (at least as large as
 * the rest of the input, plus one), stores it decoded and NUL-terminated.
 * The decoded form is never longer than the escaped one.
 */
static int jt_string_in(struct jt_in *in, char *out, size_t *ret_len)
{
	size_t n = 0;

	if (in->p >= in->end || *in->p != '"')
		return -EINVAL;
	in->p++;
	for (;;) {
		unsigned char c;

		if (in->p >= in->end)
			return -EINVAL;
		c = (unsigned char)*in->p++;
		if (c == '"')
			break;
		if (c < 0x20)
			return -EINVAL;
		if (c != '\\') {
			if (out)
				out[n] = (char)c;
			n++;
			continue;
		}
		if (in->p >= in->end)
			return -EINVAL;
		c = (unsigned char)*in->p++;
		switch (c) {
		case '"': case '\\': case '/':
			break;
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u': {
			unsigned cp, lo;
			char buf[4];
			size_t k;

			if (in->end - in->p < 4 || jt_hex4(in->p, &cp) < 0)
				return -EINVAL;
			in->p += 4;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (in->end - in->p < 6 || in->p[0] != '\\' || in->p[1] != 'u' ||
				    jt_hex4(in->p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
					return -EINVAL;
				in->p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				return -EINVAL;
			}
			/* A NUL would cut the C string short: refuse it. */
			if (cp == 0)
				return -EINVAL;
			k = jt_utf8(cp, buf);
			if (out)
				memcpy(out + n, buf, k);
			n += k;
			continue;
		}
		default:
			return -EINVAL;
		}
		if (out)
			out[n] = (char)c;
		n++;
	}
	if (out)
		out[n] = '\0';
	*ret_len = n;
	return 0;
}

static int jt_number_in(struct jt_in *in, struct jt_value *v)
{
	const char *s = in->p;
	bool neg = false, frac = false;
	uint64_t mag = 0;
	bool overflow = false;

	if (in->p < in->end && *in->p == '-') {
		neg = true;
		in->p++;
	}
	if (in->p >= in->end || *in->p < '0' || *in->p > '9')
		return -EINVAL;
	if (*in->p == '0') {
		in->p++;
	} else {
		while (in->p < in->end && *in->p >= '0' && *in->p <= '9') {
			unsigned d = (unsigned)(*in->p++ - '0');

			if (mag > (UINT64_MAX - d) / 10)
				overflow = true;
			else
				mag = mag * 10 + d;
		}
	}
	if (in->p < in->end && *in->p == '.') {
		frac = true;
		in->p++;
		if (in->p >= in->end || *in->p < '0' || *in->p > '9')
			return -EINVAL;
		while (in->p < in->end && *in->p >= '0' && *in->p <= '9')
			in->p++;
	}
	if (in->p < in->end && (*in->p == 'e' || *in->p == 'E')) {
		frac = true;
		in->p++;
		if (in->p < in->end && (*in->p == '+' || *in->p == '-'))
			in->p++;
		if (in->p >= in->end || *in->p < '0' || *in->p > '9')
			return -EINVAL;
		while (in->p < in->end && *in->p >= '0' && *in->p <= '9')
			in->p++;
	}
	v->type = JT_NUMBER;
	v->raw = s;
	v->raw_len = (size_t)(in->p - s);
	v->is_integer = !frac && !overflow && mag <= (uint64_t)INT64_MAX;
	v->integer = v->is_integer ? (neg ? -(int64_t)mag : (int64_t)mag) : 0;
	return 0;
}

static int jt_literal_in(struct jt_in *in, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(in->end - in->p) < n || memcmp(in->p, word, n) != 0)
		return -EINVAL;
	in->p += n;
	return 0;
}

/* Validates one value of any type, and moves past it. */
static int jt_skip_value(struct jt_in *in, unsigned depth)
{
	size_t len;

	if (depth > JT_MAX_DEPTH)
		return -EINVAL;
	jt_ws(in);
	if (in->p >= in->end)
		return -EINVAL;
	switch (*in->p) {
	case '"':
		return jt_string_in(in, NULL, &len);
	case 't':
		return jt_literal_in(in, "true");
	case 'f':
		return jt_literal_in(in, "false");
	case 'n':
		return jt_literal_in(in, "null");
	case '{':
	case '[': {
		char close = *in->p == '{' ? '}' : ']';
		bool object = close == '}';

		in->p++;
		jt_ws(in);
		if (in->p < in->end && *in->p == close) {
			in->p++;
			return 0;
		}
		for (;;) {
			jt_ws(in);
			if (object) {
				if (jt_string_in(in, NULL, &len) < 0)
					return -EINVAL;
				jt_ws(in);
				if (in->p >= in->end || *in->p++ != ':')
					return -EINVAL;
			}
			if (jt_skip_value(in, depth + 1) < 0)
				return -EINVAL;
			jt_ws(in);
			if (in->p >= in->end)
				return -EINVAL;
			if (*in->p == ',') {
				in->p++;
				continue;
			}
			if (*in->p++ != close)
				return -EINVAL;
			return 0;
		}
	}
	default: {
		struct jt_value v;

		return jt_number_in(in, &v);
	}
	}
}

/* A state machine over one object's members: long, as parsers are. */
int jt_parse_object(const char *text, size_t len, jt_member_fn fn, void *user)
{
	struct jt_in in = { .p = text, .end = text + len };
	_cleanup_free_ char *key = NULL, *str = NULL;
	int r;

	/* Decoded strings are never longer than the input: one buffer each suffices. */
	key = malloc(len + 1);
	str = malloc(len + 1);
	if (!key || !str)
		return -ENOMEM;
	jt_ws(&in);
	if (in.p >= in.end || *in.p++ != '{')
		return -EINVAL;
	jt_ws(&in);
	if (in.p < in.end && *in.p == '}') {
		in.p++;
		goto done;
	}
	for (;;) {
		struct jt_value v = { 0 };
		size_t klen;
		const char *start;

		jt_ws(&in);
		if (jt_string_in(&in, key, &klen) < 0 || strlen(key) != klen)
			return -EINVAL;
		jt_ws(&in);
		if (in.p >= in.end || *in.p++ != ':')
			return -EINVAL;
		jt_ws(&in);
		if (in.p >= in.end)
			return -EINVAL;
		start = in.p;
		switch (*in.p) {
		case '"':
			if (jt_string_in(&in, str, &v.len) < 0)
				return -EINVAL;
			v.type = JT_STRING;
			v.str = str;
			break;
		case 't':
		case 'f':
			if (jt_literal_in(&in, *in.p == 't' ? "true" : "false") < 0)
				return -EINVAL;
			v.type = JT_BOOL;
			v.boolean = *start == 't';
			break;
		case 'n':
			if (jt_literal_in(&in, "null") < 0)
				return -EINVAL;
			v.type = JT_NULL;
			break;
		case '{':
		case '[':
			if (jt_skip_value(&in, 1) < 0)
				return -EINVAL;
			v.type = *start == '{' ? JT_OBJECT : JT_ARRAY;
			v.raw = start;
			v.raw_len = (size_t)(in.p - start);
			break;
		default:
			if (jt_number_in(&in, &v) < 0)
				return -EINVAL;
		}
		r = fn(user, key, &v);
		if (r < 0)
			return r;
		jt_ws(&in);
		if (in.p >= in.end)
			return -EINVAL;
		if (*in.p == ',') {
			in.p++;
			continue;
		}
		if (*in.p++ != '}')
			return -EINVAL;
		break;
	}
done:
	jt_ws(&in);
	return in.p == in.end ? 0 : -EINVAL;
}

/* --- writer ------------------------------------------------------------- */

/*
 * NULL means stdout as it is at each write: liblvm2cmd reopens stdout when it
 * initialises, and a FILE * taken before would then point at a closed stream.
 */
static FILE *jt_file(const struct jt_writer *w)
{
	return w->f ? w->f : stdout;
}

static void jt_indent(struct jt_writer *w)
{
	fputc('\n', jt_file(w));
	for (unsigned i = 0; i < w->depth; i++)
		fputs("  ", jt_file(w));
}

/* Whatever goes before a value: nothing after a key, a separator in an array. */
static void jt_before_value(struct jt_writer *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth == 0)
		return;
	if (!w->first)
		fputc(',', jt_file(w));
	jt_indent(w);
	w->first = false;
}

static void jt_open(struct jt_writer *w, char c)
{
	jt_before_value(w);
	fputc(c, jt_file(w));
	w->depth++;
	w->first = true;
}

static void jt_close(struct jt_writer *w, char c)
{
	w->depth--;
	if (!w->first)
		jt_indent(w);
	fputc(c, jt_file(w));
	/* The container just closed was a member or an element of its parent. */
	w->first = false;
	if (w->depth == 0)
		fputc('\n', jt_file(w));
}

void jt_begin_object(struct jt_writer *w)
{
	jt_open(w, '{');
}

void jt_end_object(struct jt_writer *w)
{
	jt_close(w, '}');
}

void jt_begin_array(struct jt_writer *w)
{
	jt_open(w, '[');
}

void jt_end_array(struct jt_writer *w)
{
	jt_close(w, ']');
}

static void jt_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

void jt_key(struct jt_writer *w, const char *key)
{
	if (!w->first)
		fputc(',', jt_file(w));
	jt_indent(w);
	w->first = false;
	jt_quoted(jt_file(w), key);
	fputs(": ", jt_file(w));
	w->after_key = true;
}

void jt_string(struct jt_writer *w, const char *s)
{
	jt_before_value(w);
	if (s)
		jt_quoted(jt_file(w), s);
	else
		fputs("null", jt_file(w));
}

void jt_bool(struct jt_writer *w, bool b)
{
	jt_before_value(w);
	fputs(b ? "true" : "false", jt_file(w));
}

void jt_int(struct jt_writer *w, int64_t v)
{
	jt_before_value(w);
	fprintf(jt_file(w), "%" PRId64, v);
}

void jt_percent(struct jt_writer *w, double v)
{
	jt_before_value(w);
	/* Two decimals, as LVM reports them; a non-finite value is not JSON. */
	if (v == v && v >= -1e15 && v <= 1e15)
		fprintf(jt_file(w), "%.2f", v);
	else
		fputs("null", jt_file(w));
}

void jt_null(struct jt_writer *w)
{
	jt_before_value(w);
	fputs("null", jt_file(w));
}
