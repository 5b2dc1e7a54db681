/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thin_delta's output as changed ranges (include/backends/lvmthin.h): a
 * small, strict reader of the XML it prints (format in lvmthin.c), which
 * refuses anything it does not expect rather than guess.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/lvmthin.h"
#include "base/debug.h"
#include "base/util.h"

#define XML_ATTRS	8

struct xml_el {
	char name[24];
	bool closing;			/* </name> */
	bool empty;			/* <name ... /> */
	size_t n;
	struct {
		char key[24];
		char val[48];
	} a[XML_ATTRS];
};

static bool xml_namechar(char c)
{
	return (c >= 'a' && c <= 'z') || c == '_';
}

static int xml_word(const char **pp, char *out, size_t len)
{
	const char *p = *pp;
	size_t n = 0;

	while (xml_namechar(*p)) {
		if (n + 1 >= len)
			return -EPROTO;
		out[n++] = *p++;
	}
	out[n] = '\0';
	*pp = p;
	return n ? 0 : -EPROTO;
}

/* One element at *@pp (thin_delta writes one per line). Return: 1, 0 at end of line, -EPROTO. */
static int xml_next(const char **pp, struct xml_el *el)
{
	const char *p = *pp;

	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (!*p) {
		*pp = p;
		return 0;
	}
	memset(el, 0, sizeof(*el));
	if (*p++ != '<')
		return -EPROTO;
	if (*p == '/') {
		el->closing = true;
		p++;
	}
	if (xml_word(&p, el->name, sizeof(el->name)) < 0)
		return -EPROTO;
	for (;;) {
		const char *q;
		size_t n;

		while (*p == ' ')
			p++;
		if (*p == '>' || (p[0] == '/' && p[1] == '>' && !el->closing))
			break;
		if (el->closing || el->n >= XML_ATTRS ||
		    xml_word(&p, el->a[el->n].key, sizeof(el->a[0].key)) < 0 || *p++ != '=' ||
		    *p++ != '"')
			return -EPROTO;
		q = strchr(p, '"');
		if (!q || (n = (size_t)(q - p)) >= sizeof(el->a[0].val))
			return -EPROTO;
		memcpy(el->a[el->n].val, p, n);
		el->a[el->n].val[n] = '\0';
		el->n++;
		p = q + 1;
	}
	el->empty = *p == '/';
	p += el->empty ? 2 : 1;
	*pp = p;
	return 1;
}

static int xml_u64(const struct xml_el *el, const char *key, uint64_t *ret)
{
	for (size_t i = 0; i < el->n; i++)
		if (streq(el->a[i].key, key))
			return parse_u64(el->a[i].val, UINT64_MAX, ret);
	return -EPROTO;
}

static int thin_range_cmp(const void *a, const void *b)
{
	const struct blockstream_range *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Appends [@off, @off + @len), merged into the last range when it starts in or right after it. */
static int thin_range_add(struct lvmthin_delta *d, size_t *cap, uint64_t off, uint64_t len)
{
	if (d->n > 0) {
		struct blockstream_range *last = &d->ranges[d->n - 1];

		if (off >= last->offset && off <= last->offset + last->length) {
			if (off + len > last->offset + last->length)
				last->length = off + len - last->offset;
			return 0;
		}
	}
	if (d->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct blockstream_range *nr = realloc(d->ranges, nc * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		d->ranges = nr;
		*cap = nc;
	}
	d->ranges[d->n++] = (struct blockstream_range){ off, len };
	return 0;
}

void lvmthin_delta_done(struct lvmthin_delta *d)
{
	if (!d)
		return;
	free(d->ranges);
	*d = (struct lvmthin_delta){ 0 };
}

enum thin_state { TS_START, TS_SUPER, TS_DIFF, TS_END_DIFF, TS_DONE };

static bool thin_range_name(const char *s)
{
	return streq(s, "same") || streq(s, "different") || streq(s, "left_only") ||
	       streq(s, "right_only");
}

/* A state machine over thin_delta's elements (enum thin_state): long, as parsers are. */
int lvmthin_delta_parse(FILE *f, uint64_t old_id, uint64_t new_id, uint64_t old_size,
			uint64_t new_size, struct lvmthin_delta *ret, struct rerr *e)
{
	_cleanup_(lvmthin_delta_done) struct lvmthin_delta d = { .size = new_size };
	_cleanup_free_ char *line = NULL;
	enum thin_state s = TS_START;
	uint64_t chunk = 0, next_block = 0;
	size_t cap = 0, len = 0, lineno = 0;
	struct xml_el el;
	int r;

#define BAD(fmt, ...) rerr_set(e, EPROTO, "thin_delta output line %zu: " fmt, lineno, ##__VA_ARGS__)
	while (getline(&line, &len, f) >= 0) {
		const char *p = line;

		lineno++;
		while ((r = xml_next(&p, &el)) > 0) {
			uint64_t a, b, begin, length;

			switch (s) {
			case TS_START:
				if (el.closing || el.empty || !streq(el.name, "superblock") ||
				    xml_u64(&el, "data_block_size", &a) < 0 || a == 0 ||
				    a > (UINT64_MAX >> 9))
					return BAD("expected <superblock data_block_size=...>");
				chunk = a << 9;
				s = TS_SUPER;
				break;
			case TS_SUPER:
				if (el.closing || el.empty || !streq(el.name, "diff") ||
				    xml_u64(&el, "left", &a) < 0 || xml_u64(&el, "right", &b) < 0)
					return BAD("expected <diff left=... right=...>");
				if (a != old_id || b != new_id)
					return BAD("diff of %" PRIu64 " and %" PRIu64 ", asked "
						   "for %" PRIu64 " and %" PRIu64, a, b, old_id,
						   new_id);
				s = TS_DIFF;
				break;
			case TS_DIFF:
				if (el.closing && streq(el.name, "diff")) {
					s = TS_END_DIFF;
					break;
				}
				if (el.closing || !el.empty || !thin_range_name(el.name) ||
				    xml_u64(&el, "begin", &begin) < 0 ||
				    xml_u64(&el, "length", &length) < 0 || length == 0)
					return BAD("unexpected element <%s%s>",
						   el.closing ? "/" : "", el.name);
				if (begin < next_block ||
				    __builtin_add_overflow(begin, length, &b) ||
				    __builtin_mul_overflow(b, chunk, &a))
					return BAD("range %" PRIu64 "+%" PRIu64 " out of order",
						   begin, length);
				next_block = b;
				if (streq(el.name, "same"))
					break;
				/* Cut at the newer LV's end: thin_delta goes past a shrunk LV. */
				a = begin * chunk;
				b = a + length * chunk;
				if (b > new_size)
					b = new_size;
				if (a < b && thin_range_add(&d, &cap, a, b - a) < 0)
					return rerr_set(e, ENOMEM, "out of memory");
				break;
			case TS_END_DIFF:
				if (!el.closing || !streq(el.name, "superblock"))
					return BAD("expected </superblock>");
				s = TS_DONE;
				break;
			case TS_DONE:
				return BAD("data after </superblock>");
			}
		}
		if (r < 0)
			return BAD("cannot parse '%.60s'", line);
	}
	if (ferror(f))
		return rerr_set(e, EIO, "cannot read the output of thin_delta");
	if (s != TS_DONE)
		return rerr_set(e, EPROTO, "thin_delta output ends early (after %zu lines)",
				lineno);
#undef BAD
	/* Past the old end nothing on the target can be trusted to be zero. */
	if (new_size > old_size) {
		if (thin_range_add(&d, &cap, old_size, new_size - old_size) < 0)
			return rerr_set(e, ENOMEM, "out of memory");
		qsort(d.ranges, d.n, sizeof(d.ranges[0]), thin_range_cmp);
		{
			size_t k = 0;

			for (size_t i = 1; i < d.n; i++) {
				struct blockstream_range *last = &d.ranges[k];

				if (d.ranges[i].offset <= last->offset + last->length) {
					uint64_t end = d.ranges[i].offset + d.ranges[i].length;

					if (end > last->offset + last->length)
						last->length = end - last->offset;
				} else {
					d.ranges[++k] = d.ranges[i];
				}
			}
			if (d.n)
				d.n = k + 1;
		}
	}
	for (size_t i = 0; i < d.n; i++)
		d.changed += d.ranges[i].length;
	d.chunk_size = chunk;
	*ret = d;
	d = (struct lvmthin_delta){ 0 };
	return 0;
}

