/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-sendcheck.c: the btrfs send stream checker (include/sendcheck.h),
 * on streams built here command by command. Each case is fed three ways (whole,
 * a byte at a time, and as serve does: inspected pieces fed, the rest passed
 * unseen), and every way must reach the same verdict.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The tables below leave trailing fields zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include "base/util.h"
#include "format/sendcheck.h"

enum { C_SUBVOL = 1, C_SNAPSHOT, C_MKFILE, C_MKDIR, C_MKNOD, C_MKFIFO, C_MKSOCK, C_SYMLINK,
       C_RENAME, C_LINK, C_UNLINK, C_RMDIR, C_SET_XATTR, C_REMOVE_XATTR, C_WRITE, C_CLONE,
       C_TRUNCATE, C_CHMOD, C_CHOWN, C_UTIMES, C_END, C_UPDATE_EXTENT, C_FALLOCATE,
       C_FILEATTR, C_ENCODED_WRITE };
enum { A_UUID = 1, A_CTRANSID, A_INO, A_SIZE, A_MODE, A_UID, A_GID, A_RDEV, A_CTIME, A_MTIME,
       A_ATIME, A_OTIME, A_XATTR_NAME, A_XATTR_DATA, A_PATH, A_PATH_TO, A_PATH_LINK,
       A_FILE_OFFSET, A_DATA, A_CLONE_UUID, A_CLONE_CTRANSID, A_CLONE_PATH, A_CLONE_OFFSET,
       A_CLONE_LEN };

#define OWN	"UUUUUUUUUUUUUUUU"	/* the uuid announced with RECEIVE */
#define PARENT	"PPPPPPPPPPPPPPPP"	/* a copy of this volume held here */
#define OTHER	"XXXXXXXXXXXXXXXX"	/* anything else */

struct tattr {
	unsigned type;
	const char *val;	/* NULL ends the list */
	size_t len;		/* 0: strlen(val) */
};

struct tcmd {
	unsigned cmd;		/* 0 ends the stream */
	struct tattr a[6];
};

#define SUBVOL(name, uuid)	{ C_SUBVOL, { { A_PATH, name }, { A_UUID, uuid }, \
					      { A_CTRANSID, "\1\0\0\0\0\0\0\0", 8 } } }
#define SNAPSHOT(uuid, parent)	{ C_SNAPSHOT, { { A_PATH, "snapshot" }, { A_UUID, uuid }, \
						{ A_CTRANSID, "\1\0\0\0\0\0\0\0", 8 }, \
						{ A_CLONE_UUID, parent }, \
						{ A_CLONE_CTRANSID, "\1\0\0\0\0\0\0\0", 8 } } }
#define INO			{ A_INO, "\1\1\0\0\0\0\0\0", 8 }
#define MKFILE(p)		{ C_MKFILE, { { A_PATH, p }, INO } }
#define MKDIR(p)		{ C_MKDIR, { { A_PATH, p }, INO } }
#define SYMLINK(p, to)		{ C_SYMLINK, { { A_PATH, p }, INO, { A_PATH_LINK, to } } }
#define RENAME(f, t)		{ C_RENAME, { { A_PATH, f }, { A_PATH_TO, t } } }
#define LINK(p, existing)	{ C_LINK, { { A_PATH, p }, { A_PATH_LINK, existing } } }
#define UNLINK(p)		{ C_UNLINK, { { A_PATH, p } } }
#define WRITE(p)		{ C_WRITE, { { A_PATH, p }, { A_FILE_OFFSET, "\0\0\0\0\0\0\0\0", 8 }, \
					     { A_DATA, "hello, world" } } }
#define CHOWN(p)		{ C_CHOWN, { { A_PATH, p }, { A_UID, "\0\0\0\0\0\0\0\0", 8 }, \
					     { A_GID, "\0\0\0\0\0\0\0\0", 8 } } }
#define CHMOD(p)		{ C_CHMOD, { { A_PATH, p }, { A_MODE, "\244\1\0\0\0\0\0\0", 8 } } }
#define XATTR(p)		{ C_SET_XATTR, { { A_PATH, p }, { A_XATTR_NAME, "user.x" }, \
						 { A_XATTR_DATA, "v" } } }
#define CLONE(p, uuid, from)	{ C_CLONE, { { A_PATH, p }, { A_CLONE_LEN, "\0\20\0\0\0\0\0\0", 8 }, \
					     { A_CLONE_UUID, uuid }, { A_CLONE_PATH, from }, \
					     { A_CLONE_OFFSET, "\0\0\0\0\0\0\0\0", 8 } } }
#define END			{ C_END, { { 0 } } }

struct tcase {
	const char *what;
	unsigned version;
	struct tcmd cmds[16];
	const char *refused;	/* NULL: accepted; else a part of the message */
	const char *trailer;	/* bytes after the last command */
	bool have_parent;
};

static const struct tcase cases[] = {
	{ "a full stream", 1, { SUBVOL("snapshot", OWN), MKDIR("o257-1-0"),
	  RENAME("o257-1-0", "dir"), MKFILE("o258-1-0"), RENAME("o258-1-0", "dir/f"), WRITE("dir/f"),
	  SYMLINK("o259-1-0", "/etc/passwd"), RENAME("o259-1-0", "dir/l"), CHOWN("dir/l"),
	  { C_UTIMES, { { A_PATH, "" } } }, XATTR("dir/f"), END } },
	{ "an incremental stream with clones", 1, { SNAPSHOT(OWN, PARENT), CLONE("dir/f", PARENT,
	  "dir/g"), CLONE("dir/h", OWN, "dir/f"), UNLINK("dir/g"), END }, .have_parent = true },
	{ "a symlink's target may be anything", 1, { SUBVOL("snapshot", OWN),
	  SYMLINK("a", "../../../../etc"), SYMLINK("b", "/"), END } },
	{ "write out of the root", 1, { SUBVOL("snapshot", OWN), MKFILE("../../../../tmp/x"),
	  WRITE("../../../../tmp/x"), END }, "not a path inside" },
	{ "an absolute path", 1, { SUBVOL("snapshot", OWN), MKFILE("/tmp/x"), END },
	  "not a path inside" },
	{ "a .. in the middle", 1, { SUBVOL("snapshot", OWN), MKDIR("a"), MKFILE("a/../../x"),
	  END }, "not a path inside" },
	{ "through a symlink the stream made", 1, { SUBVOL("snapshot", OWN),
	  SYMLINK("lnk", "/some/dir"), MKFILE("lnk/f"), WRITE("lnk/f"), END },
	  "through a symlink the stream made" },
	{ "write into a symlink the stream made", 1, { SUBVOL("snapshot", OWN),
	  SYMLINK("lnk", "/etc/passwd"), WRITE("lnk"), END }, "a symlink the stream made" },
	{ "create over a symlink the stream made", 1, { SUBVOL("snapshot", OWN),
	  SYMLINK("lnk", "/etc/cron.d/x"), MKFILE("lnk"), END }, "a symlink the stream made" },
	{ "chmod follows, chown does not", 1, { SUBVOL("snapshot", OWN),
	  SYMLINK("lnk", "/etc/shadow"), CHOWN("lnk"), CHMOD("lnk"), END },
	  "CHMOD of 'lnk': a symlink" },
	{ "unlink out of the root", 1, { SUBVOL("snapshot", OWN), UNLINK("../../x"), END },
	  "not a path inside" },
	{ "rename out of the root", 1, { SUBVOL("snapshot", OWN), MKFILE("f"),
	  RENAME("f", "../../x"), END }, "destination '../../x'" },
	{ "rename in from out of the root", 1, { SUBVOL("snapshot", OWN),
	  RENAME("../../etc/shadow", "f"), END }, "not a path inside" },
	{ "link to a file out of the root", 1, { SUBVOL("snapshot", OWN),
	  LINK("f", "../../etc/shadow"), END }, "link target '../../etc/shadow'" },
	{ "xattr out of the root", 1, { SUBVOL("snapshot", OWN), XATTR("../../etc/passwd"), END },
	  "not a path inside" },
	{ "clone out of the root from itself", 1, { SUBVOL("snapshot", OWN), MKFILE("f"),
	  CLONE("f", OWN, "../../../etc/shadow"), END }, "not a path inside" },
	{ "clone from another subvolume", 1, { SUBVOL("snapshot", OWN), MKFILE("f"),
	  CLONE("f", OTHER, "etc/shadow"), END }, "a clone source" },
	{ "clone through a symlink of another copy", 1, { SNAPSHOT(OWN, PARENT),
	  CLONE("f", PARENT, "evil/shadow"), END }, "CLONE from 'evil/shadow'" },
	{ "clone path before clone uuid", 1, { SUBVOL("snapshot", OWN), { C_CLONE, {
	  { A_PATH, "f" }, { A_CLONE_PATH, "g" }, { A_CLONE_UUID, OWN } } }, END },
	  "before its source uuid" },
	{ "clone from a symlink of its own", 1, { SUBVOL("snapshot", OWN), MKFILE("f"),
	  SYMLINK("s", "/etc/shadow"), CLONE("f", OWN, "s"), END }, "a symlink the stream made" },
	{ "a parent that is not a copy here", 1, { SNAPSHOT(OWN, OTHER), END }, "its parent" },
	{ "its own uuid as parent", 1, { SNAPSHOT(OWN, OWN), END }, "its parent" },
	{ "a subvolume of another name", 1, { SUBVOL("other", OWN), END }, "named 'other'" },
	{ "a subvolume path out of the root", 1, { SUBVOL("../../x", OWN), END }, "named" },
	{ "another uuid than announced", 1, { SUBVOL("snapshot", OTHER), END }, "announces uuid" },
	{ "two subvolumes", 1, { SUBVOL("snapshot", OWN), SUBVOL("snapshot", OWN), END },
	  "a second subvolume" },
	{ "no subvolume first", 1, { MKFILE("f"), END }, "not its subvolume" },
	{ "data after END", 1, { SUBVOL("snapshot", OWN), END }, "after the end",
	  .trailer = "\0\0\0\0\3\0\0\0\0\0" },
	{ "no END", 1, { SUBVOL("snapshot", OWN), MKFILE("f") }, "before its END" },
	{ "a renamed symlink", 1, { SUBVOL("snapshot", OWN), SYMLINK("o1", "/etc"), MKDIR("a"),
	  RENAME("o1", "a/b"), MKFILE("a/b/c"), END }, "'a/b/c': through a symlink" },
	{ "a symlink in a renamed directory", 1, { SUBVOL("snapshot", OWN), MKDIR("d"),
	  SYMLINK("d/l", "/etc"), RENAME("d", "e"), MKFILE("e/l/x"), END },
	  "'e/l/x': through a symlink" },
	{ "the old name of a moved symlink is free", 1, { SUBVOL("snapshot", OWN), MKDIR("d"),
	  SYMLINK("d/l", "/etc"), RENAME("d", "e"), MKDIR("d"), MKDIR("d/l"), MKFILE("d/l/x"),
	  END } },
	{ "a hard link of a symlink", 1, { SUBVOL("snapshot", OWN), SYMLINK("s", "/etc"),
	  LINK("h", "s"), UNLINK("s"), MKFILE("h/x"), END }, "'h/x': through a symlink" },
	{ "an unlinked symlink's name is free", 1, { SUBVOL("snapshot", OWN), SYMLINK("s", "/etc"),
	  UNLINK("s"), MKDIR("s"), MKFILE("s/x"), WRITE("s/x"), END } },
	{ "a renamed-over symlink is gone", 1, { SUBVOL("snapshot", OWN), SYMLINK("s", "/etc"),
	  MKDIR("o2"), RENAME("o2", "s"), MKFILE("s/x"), END } },
	{ "a NUL inside a path", 1, { SUBVOL("snapshot", OWN), { C_MKFILE, { { A_PATH,
	  "a\0/../../x", 10 } } }, END }, "not a path inside" },
	{ "an empty component", 1, { SUBVOL("snapshot", OWN), MKFILE("a//b"), END },
	  "not a path inside" },
	{ "a dot component", 1, { SUBVOL("snapshot", OWN), MKFILE("./a"), END },
	  "not a path inside" },
	{ "a trailing slash", 1, { SUBVOL("snapshot", OWN), MKDIR("a/"), END },
	  "not a path inside" },
	{ "an attribute twice", 1, { SUBVOL("snapshot", OWN), { C_MKFILE, { { A_PATH, "a" },
	  { A_PATH, "../b" } } }, END }, "twice" },
	{ "an unknown command", 1, { SUBVOL("snapshot", OWN), { 99, { { A_PATH, "a" } } }, END },
	  "unknown command 99" },
	{ "a version 2 command in version 1", 1, { SUBVOL("snapshot", OWN),
	  { C_FALLOCATE, { { A_PATH, "a" } } }, END }, "unknown command 23" },
	{ "an unknown attribute", 1, { SUBVOL("snapshot", OWN), { C_MKFILE, { { A_PATH, "a" },
	  { 30, "x" } } }, END }, "unknown attribute 30" },
	{ "version 2: DATA runs to the end", 2, { SUBVOL("snapshot", OWN), MKFILE("f"),
	  { C_WRITE, { { A_PATH, "f" }, { A_FILE_OFFSET, "\0\0\0\0\0\0\0\0", 8 },
	    { A_DATA, "rest of the command, no length" } } },
	  { C_FALLOCATE, { { A_PATH, "f" } } }, END } },
	{ "version 2: encoded write out of the root", 2, { SUBVOL("snapshot", OWN),
	  { C_ENCODED_WRITE, { { A_PATH, "../x" }, { A_DATA, "zz" } } }, END },
	  "not a path inside" },
};

/* --- building streams ----------------------------------------------------- */

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void put_le(struct buf *b, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t x = (uint8_t)(v >> (8 * i));

		put(b, &x, 1);
	}
}

static void build(const struct tcase *t, struct buf *b)
{
	put(b, "btrfs-stream", 13);
	put_le(b, t->version, 4);
	for (const struct tcmd *c = t->cmds; c < t->cmds + ARRAY_SIZE(t->cmds) && c->cmd; c++) {
		struct buf body = { 0 };

		for (const struct tattr *a = c->a; a < c->a + ARRAY_SIZE(c->a) && a->val; a++) {
			size_t len = a->len ? a->len : strlen(a->val);

			put_le(&body, a->type, 2);
			if (!(t->version >= 2 && a->type == A_DATA))
				put_le(&body, len, 2);
			put(&body, a->val, len);
		}
		put_le(b, body.n, 4);
		put_le(b, c->cmd, 2);
		put_le(b, 0, 4);	/* crc: `btrfs receive` checks it, the checker need not */
		if (body.n)
			put(b, body.p, body.n);
		free(body.p);
	}
	if (t->trailer)
		put(b, t->trailer, 10);
}

/* --- the checker's callbacks ----------------------------------------------- */

static int source_ok(void *user, const uint8_t uuid[SENDCHECK_UUID_SIZE], bool parent,
		     struct rerr *e)
{
	(void) user;
	(void) parent;
	if (memcmp(uuid, PARENT, SENDCHECK_UUID_SIZE) == 0)
		return 0;
	return rerr_set(e, EPERM, "not a copy of this volume here");
}

static int clone_path_ok(void *user, const uint8_t uuid[SENDCHECK_UUID_SIZE], const char *path,
			 struct rerr *e)
{
	(void) user;
	assert_memory_equal(uuid, PARENT, SENDCHECK_UUID_SIZE);
	if (strstr(path, "evil"))
		return rerr_set(e, ELOOP, "through a symlink of that copy");
	return 0;
}

static const struct sendcheck_opts opts = {
	.uuid = (const uint8_t *)OWN, .subvol = "snapshot", .source_ok = source_ok,
	.clone_path_ok = clone_path_ok,
};

/* --- feeding ---------------------------------------------------------------- */

enum feed_way { WHOLE, BYTES, LIKE_SERVE };

/* Return: 0 accepted, else the refusal's message in @why. */
static int check(const struct buf *b, enum feed_way way, bool want_parent, struct rerr *why)
{
	struct sendcheck *c = sendcheck_new(&opts);
	size_t pos = 0;
	int r = 0;

	assert_non_null(c);
	if (way == WHOLE) {
		r = sendcheck_feed(c, b->p, b->n, why);
	} else if (way == BYTES) {
		for (; pos < b->n && r == 0; pos++)
			r = sendcheck_feed(c, b->p + pos, 1, why);
	} else {
		while (pos < b->n && r == 0) {
			bool inspect;
			size_t k = sendcheck_next(c, &inspect);

			assert_true(k > 0);
			if (k > b->n - pos)
				k = b->n - pos;
			if (inspect)
				r = sendcheck_feed(c, b->p + pos, k, why);
			else
				sendcheck_pass(c, k);
			pos += k;
		}
	}
	if (r == 0)
		r = sendcheck_finish(c, why);
	if (r == 0)
		assert_true(!!sendcheck_parent(c) == want_parent);
	if (r == 0 && want_parent)
		assert_memory_equal(sendcheck_parent(c), PARENT, SENDCHECK_UUID_SIZE);
	sendcheck_free(c);
	return r;
}

static void each_case(void **state)
{
	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct tcase *t = &cases[i];
		struct buf b = { 0 };

		build(t, &b);
		for (enum feed_way w = WHOLE; w <= LIKE_SERVE; w++) {
			struct rerr why = { 0 };
			int r = check(&b, w, t->have_parent, &why);

			if (!t->refused && r != 0)
				fail_msg("%s (way %d): refused: %s", t->what, w, why.msg);
			if (t->refused && r == 0)
				fail_msg("%s (way %d): accepted", t->what, w);
			if (t->refused && !strstr(why.msg, t->refused))
				fail_msg("%s (way %d): '%s' does not say '%s'", t->what, w, why.msg,
					 t->refused);
		}
		free(b.p);
	}
}

static void bad_header(void **state)
{
	static const char *const headers[] = { "btrfs-streaX\0\1\0\0\0", "btrfs-stream\0\4\0\0\0",
					       "btrfs-stream\0\0\0\0\0" };

	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(headers); i++) {
		struct sendcheck *c = sendcheck_new(&opts);
		struct rerr e = { 0 };

		assert_true(sendcheck_feed(c, headers[i], 17, &e) < 0);
		assert_true(strstr(e.msg, "stream") != NULL);
		/* Refused for good. */
		assert_true(sendcheck_feed(c, "x", 1, NULL) < 0);
		sendcheck_free(c);
	}
}

static void too_long_or_short(void **state)
{
	struct buf b = { 0 };
	struct sendcheck *c = sendcheck_new(&opts);
	struct rerr e = { 0 };

	(void) state;
	put(&b, "btrfs-stream", 13);
	put_le(&b, 1, 4);
	/* A version 1 command larger than the 64 KiB send buffer. */
	put_le(&b, 70000, 4);
	put_le(&b, C_SUBVOL, 2);
	put_le(&b, 0, 4);
	assert_true(sendcheck_feed(c, b.p, b.n, &e) < 0);
	assert_non_null(strstr(e.msg, "70000 bytes"));
	sendcheck_free(c);

	/* An attribute that claims more than its command holds. */
	b.n = 17;
	put_le(&b, 8, 4);
	put_le(&b, C_SUBVOL, 2);
	put_le(&b, 0, 4);
	put_le(&b, A_PATH, 2);
	put_le(&b, 100, 2);
	put(&b, "snap", 4);
	c = sendcheck_new(&opts);
	rerr_clear(&e);
	assert_true(sendcheck_feed(c, b.p, b.n, &e) < 0);
	assert_non_null(strstr(e.msg, "longer than the command"));
	sendcheck_free(c);
	free(b.p);
}

/* Feeds one command (without a stream header) built from @t's first command. */
static int feed_one(struct sendcheck *c, struct tcmd cmd, struct rerr *e)
{
	struct tcase t = { .version = 1 };
	struct buf x = { 0 };
	int r;

	t.cmds[0] = cmd;
	build(&t, &x);
	r = sendcheck_feed(c, x.p + 17, x.n - 17, e);
	free(x.p);
	return r;
}

/* 3,000 symlinks in 50 directories, half unlinked, one directory moved. */
static struct sendcheck *many_links(void)
{
	struct sendcheck *c = sendcheck_new(&opts);
	char p[64];

	assert_int_equal(sendcheck_feed(c, "btrfs-stream\0\1\0\0\0", 17, NULL), 0);
	assert_int_equal(feed_one(c, (struct tcmd)SUBVOL("snapshot", OWN), NULL), 0);
	for (int i = 0; i < 3000; i++) {
		snprintf(p, sizeof(p), "d%d/s%d", i % 50, i);
		assert_int_equal(feed_one(c, (struct tcmd)SYMLINK(p, "/"), NULL), 0);
	}
	for (int i = 0; i < 3000; i += 2) {
		snprintf(p, sizeof(p), "d%d/s%d", i % 50, i);
		assert_int_equal(feed_one(c, (struct tcmd)UNLINK(p), NULL), 0);
	}
	assert_int_equal(feed_one(c, (struct tcmd)RENAME("d7", "moved"), NULL), 0);
	return c;
}

static void many_symlinks(void **state)
{
	struct sendcheck *c = many_links();
	struct rerr e = { 0 };
	char p[64];

	(void) state;
	/* Unlinked ones, and the old places of the moved ones, are plain names again. */
	for (int i = 0; i < 3000; i++) {
		if (i % 2 && i % 50 != 7)
			continue;
		snprintf(p, sizeof(p), "d%d/s%d/x", i % 50, i);
		assert_int_equal(feed_one(c, (struct tcmd)MKFILE(p), &e), 0);
	}
	/* A moved one, at its new place, is still a symlink. */
	assert_true(feed_one(c, (struct tcmd)MKFILE("moved/s57/x"), &e) < 0);
	assert_non_null(strstr(e.msg, "'moved/s57/x': through a symlink"));
	sendcheck_free(c);

	c = many_links();
	rerr_clear(&e);
	assert_true(feed_one(c, (struct tcmd)MKFILE("d49/s2999/x"), &e) < 0);
	assert_non_null(strstr(e.msg, "through a symlink"));
	sendcheck_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(each_case),
		cmocka_unit_test(bad_header),
		cmocka_unit_test(too_long_or_short),
		cmocka_unit_test(many_symlinks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
