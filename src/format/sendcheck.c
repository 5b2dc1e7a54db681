/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The btrfs send stream checker (include/sendcheck.h): a state machine fed
 * the stream in pieces of any size. It keeps the attributes it needs and the
 * set of symlinks the stream made (renamed and linked along with them), so a
 * later path through one of them is refused before `btrfs receive` could
 * follow it. A refusal is final: every later call fails the same way.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/debug.h"
#include "base/util.h"
#include "format/sendcheck.h"

#include "sendcheck_internal.h"

/* The stream format, from btrfs-progs' send.h (a documented on-disk format). */
#define SC_MAGIC		"btrfs-stream"		/* with its NUL: 13 bytes */
#define SC_MAGIC_SIZE		13
#define SC_STREAM_HEADER	(SC_MAGIC_SIZE + 4)
#define SC_CMD_HEADER		10			/* le32 len, le16 cmd, le32 crc */
#define SC_VERSION_MAX		3
/* Version 1 commands fit the 64 KiB send buffer; later ones are kept sane. */
#define SC_CMD_MAX_V1		(64 * 1024 - SC_CMD_HEADER)
#define SC_CMD_MAX		(1024 * 1024)

enum {
	SC_C_SUBVOL = 1, SC_C_SNAPSHOT, SC_C_MKFILE, SC_C_MKDIR, SC_C_MKNOD, SC_C_MKFIFO,
	SC_C_MKSOCK, SC_C_SYMLINK, SC_C_RENAME, SC_C_LINK, SC_C_UNLINK, SC_C_RMDIR,
	SC_C_SET_XATTR, SC_C_REMOVE_XATTR, SC_C_WRITE, SC_C_CLONE, SC_C_TRUNCATE, SC_C_CHMOD,
	SC_C_CHOWN, SC_C_UTIMES, SC_C_END, SC_C_UPDATE_EXTENT,	/* 22: the last of version 1 */
	SC_C_FALLOCATE, SC_C_FILEATTR, SC_C_ENCODED_WRITE,	/* 25: version 2 */
	SC_C_ENABLE_VERITY,					/* 26: version 3 */
};

enum {
	SC_A_UUID = 1, SC_A_CTRANSID, SC_A_INO, SC_A_SIZE, SC_A_MODE, SC_A_UID, SC_A_GID,
	SC_A_RDEV, SC_A_CTIME, SC_A_MTIME, SC_A_ATIME, SC_A_OTIME, SC_A_XATTR_NAME,
	SC_A_XATTR_DATA, SC_A_PATH, SC_A_PATH_TO, SC_A_PATH_LINK, SC_A_FILE_OFFSET, SC_A_DATA,
	SC_A_CLONE_UUID, SC_A_CLONE_CTRANSID, SC_A_CLONE_PATH, SC_A_CLONE_OFFSET,
	SC_A_CLONE_LEN,						/* 24: the last of version 1 */
	SC_A_MAX = 35,						/* version 2 and 3 */
};

static const unsigned sc_cmd_max[SC_VERSION_MAX + 1] = { 0, 22, 25, 26 };
static const unsigned sc_attr_max[SC_VERSION_MAX + 1] = { 0, 24, 31, SC_A_MAX };

/* Commands that open their path and so would follow a symlink in its last component. */
static bool sc_follows(unsigned cmd)
{
	switch (cmd) {
	case SC_C_MKFILE: case SC_C_WRITE: case SC_C_CLONE: case SC_C_TRUNCATE: case SC_C_CHMOD:
	case SC_C_UPDATE_EXTENT: case SC_C_FALLOCATE: case SC_C_FILEATTR: case SC_C_ENCODED_WRITE:
	case SC_C_ENABLE_VERITY:
		return true;
	default:
		return false;
	}
}

enum sc_state { SC_HEADER, SC_CMD, SC_TLV_TYPE, SC_TLV_LEN, SC_VALUE, SC_SKIP, SC_DONE, SC_FAILED };

struct sendcheck {
	struct sendcheck_opts o;
	enum sc_state st;
	uint32_t version;
	unsigned n_cmds;
	/* The command under way. */
	unsigned cmd;
	uint32_t cmd_len, cmd_pos;	/* body length; bytes of the body taken */
	uint64_t seen;			/* attributes it had, a bit each */
	unsigned tlv_type;
	uint32_t tlv_len;
	uint64_t skip;			/* SC_SKIP: bytes left to pass unseen */
	uint8_t *buf;			/* a header or value being gathered */
	size_t have, want;
	/* Attributes kept for the end of the command. */
	char path[PATH_MAX], path2[PATH_MAX];
	bool have_path, have_path2;
	uint8_t clone_uuid[SENDCHECK_UUID_SIZE];
	bool have_clone_uuid, clone_self;
	uint8_t parent[SENDCHECK_UUID_SIZE];
	bool have_parent;
	struct sc_map links;
	int error;
	struct rerr why;		/* repeated by every call after a failure */
};

static int sc_fail(struct sendcheck *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int sc_fail(struct sendcheck *c, int err, const char *fmt, ...)
{
	va_list ap;
	char msg[sizeof(c->why.msg)];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->st = SC_FAILED;
	c->error = -abs(err);
	c->why = (struct rerr){ .code = abs(err) };
	snprintf(c->why.msg, sizeof(c->why.msg), "%s", msg);
	DBG(SEND, "stream refused: %s", msg);
	return c->error;
}

/* A path for display: printable, cut short. */
static const char *sc_show(const char *p, size_t len, char out[static 80])
{
	size_t k = 0;

	for (size_t i = 0; i < len && k < 72; i++)
		out[k++] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : '?';
	if (len > 72) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
	return out;
}

static const char *sc_cmd_name(unsigned cmd)
{
	static const char *const names[] = {
		[SC_C_SUBVOL] = "SUBVOL", [SC_C_SNAPSHOT] = "SNAPSHOT", [SC_C_MKFILE] = "MKFILE",
		[SC_C_MKDIR] = "MKDIR", [SC_C_MKNOD] = "MKNOD", [SC_C_MKFIFO] = "MKFIFO",
		[SC_C_MKSOCK] = "MKSOCK", [SC_C_SYMLINK] = "SYMLINK", [SC_C_RENAME] = "RENAME",
		[SC_C_LINK] = "LINK", [SC_C_UNLINK] = "UNLINK", [SC_C_RMDIR] = "RMDIR",
		[SC_C_SET_XATTR] = "SET_XATTR", [SC_C_REMOVE_XATTR] = "REMOVE_XATTR",
		[SC_C_WRITE] = "WRITE", [SC_C_CLONE] = "CLONE", [SC_C_TRUNCATE] = "TRUNCATE",
		[SC_C_CHMOD] = "CHMOD", [SC_C_CHOWN] = "CHOWN", [SC_C_UTIMES] = "UTIMES",
		[SC_C_END] = "END", [SC_C_UPDATE_EXTENT] = "UPDATE_EXTENT",
		[SC_C_FALLOCATE] = "FALLOCATE", [SC_C_FILEATTR] = "FILEATTR",
		[SC_C_ENCODED_WRITE] = "ENCODED_WRITE", [SC_C_ENABLE_VERITY] = "ENABLE_VERITY",
	};

	return cmd < ARRAY_SIZE(names) && names[cmd] ? names[cmd] : "command";
}

/* Whether the checker must see attribute @type of the current command. */
static bool sc_inspects(const struct sendcheck *c, unsigned type)
{
	switch (type) {
	case SC_A_PATH:
	case SC_A_UUID:
		return true;
	case SC_A_PATH_TO:
		return c->cmd == SC_C_RENAME;
	case SC_A_PATH_LINK:
		return c->cmd == SC_C_LINK;	/* a SYMLINK's target is only its content */
	case SC_A_CLONE_UUID:
		return c->cmd == SC_C_SNAPSHOT || c->cmd == SC_C_CLONE;
	case SC_A_CLONE_PATH:
		return c->cmd == SC_C_CLONE;
	default:
		return false;
	}
}

/* A path of the current command, for any command but the subvolume's. */
static int sc_check_path(struct sendcheck *c, const char *what, const char *p, size_t len,
			 bool follows)
{
	char show[80];

	if (!sendcheck_path_valid(p, len))
		return sc_fail(c, EPERM, "%s with %s '%s': not a path inside the subvolume",
			       sc_cmd_name(c->cmd), what, sc_show(p, len, show));
	if (sc_through_link(&c->links, p, len))
		return sc_fail(c, EPERM, "%s with %s '%s': through a symlink the stream made",
			       sc_cmd_name(c->cmd), what, sc_show(p, len, show));
	if (follows && sc_is_link(&c->links, p, len))
		return sc_fail(c, EPERM, "%s of '%s': a symlink the stream made",
			       sc_cmd_name(c->cmd), sc_show(p, len, show));
	return 0;
}

/* Keeps a checked path for the end of the command. */
static void sc_keep(char dst[static PATH_MAX], bool *have, const char *v, size_t len)
{
	memcpy(dst, v, len);
	dst[len] = '\0';
	*have = true;
}

/* One whole inspected attribute value in c->buf. */
static int sc_value(struct sendcheck *c)
{
	const char *v = (const char *)c->buf;
	size_t len = c->tlv_len;
	bool subvol = c->cmd == SC_C_SUBVOL || c->cmd == SC_C_SNAPSHOT;
	char show[80], u[37];
	struct rerr e = { 0 };
	int r;

	switch (c->tlv_type) {
	case SC_A_PATH:
		if (subvol) {
			if (len != strlen(c->o.subvol) || memcmp(v, c->o.subvol, len) != 0)
				return sc_fail(c, EPERM, "its subvolume is named '%s', not '%s'",
					       sc_show(v, len, show), c->o.subvol);
			return 0;
		}
		r = sc_check_path(c, "path", v, len, sc_follows(c->cmd));
		if (r == 0)
			sc_keep(c->path, &c->have_path, v, len);
		return r;
	case SC_A_PATH_TO:
	case SC_A_PATH_LINK:
		r = sc_check_path(c, c->tlv_type == SC_A_PATH_TO ? "destination" : "link target",
				  v, len, false);
		if (r == 0)
			sc_keep(c->path2, &c->have_path2, v, len);
		return r;
	case SC_A_UUID:
		if (!subvol)
			return 0;
		if (len != SENDCHECK_UUID_SIZE)
			return sc_fail(c, EPROTO, "%s with a uuid of %zu bytes", sc_cmd_name(c->cmd),
				       len);
		if (memcmp(v, c->o.uuid, SENDCHECK_UUID_SIZE) != 0) {
			uuid_format(c->buf, u);
			return sc_fail(c, EPERM, "its subvolume announces uuid %s, not the one sent "
				       "with RECEIVE", u);
		}
		return 0;
	case SC_A_CLONE_UUID:
		if (len != SENDCHECK_UUID_SIZE)
			return sc_fail(c, EPROTO, "%s with a clone uuid of %zu bytes",
				       sc_cmd_name(c->cmd), len);
		uuid_format(c->buf, u);
		if (c->cmd == SC_C_CLONE && memcmp(v, c->o.uuid, SENDCHECK_UUID_SIZE) == 0) {
			c->clone_self = true;
		} else if (!c->o.source_ok ||
			   c->o.source_ok(c->o.user, c->buf, c->cmd == SC_C_SNAPSHOT, &e) < 0) {
			return sc_fail(c, EPERM, "%s from %s: %s",
				       c->cmd == SC_C_SNAPSHOT ? "its parent" : "a clone source", u,
				       e.msg[0] ? e.msg : "not a copy of this volume here");
		}
		if (c->cmd == SC_C_SNAPSHOT) {
			memcpy(c->parent, c->buf, SENDCHECK_UUID_SIZE);
			c->have_parent = true;
		} else {
			memcpy(c->clone_uuid, c->buf, SENDCHECK_UUID_SIZE);
			c->have_clone_uuid = true;
		}
		return 0;
	case SC_A_CLONE_PATH:
		/* Which subvolume the path is in must be known first (the kernel sends it so). */
		if (!c->have_clone_uuid)
			return sc_fail(c, EPERM, "CLONE with its source path before its source uuid");
		if (c->clone_self)
			return sc_check_path(c, "source", v, len, true);
		if (!sendcheck_path_valid(v, len))
			return sc_fail(c, EPERM, "CLONE with source '%s': not a path inside the "
				       "subvolume", sc_show(v, len, show));
		sc_keep(c->path2, &c->have_path2, v, len);
		if (!c->o.clone_path_ok || c->o.clone_path_ok(c->o.user, c->clone_uuid, c->path2,
							       &e) < 0)
			return sc_fail(c, EPERM, "CLONE from '%s': %s", sc_show(v, len, show),
				       e.msg[0] ? e.msg : "refused");
		return 0;
	}
	return 0;
}

/* The whole command has passed: what it did to the names. */
static int sc_end_command(struct sendcheck *c)
{
	bool subvol = c->cmd == SC_C_SUBVOL || c->cmd == SC_C_SNAPSHOT;
	int r = 0;

	if (subvol && (!(c->seen & (1ULL << SC_A_PATH)) || !(c->seen & (1ULL << SC_A_UUID)) ||
		       (c->cmd == SC_C_SNAPSHOT && !c->have_parent)))
		return sc_fail(c, EPROTO, "%s without its name, uuid or parent", sc_cmd_name(c->cmd));
	switch (c->cmd) {
	case SC_C_SYMLINK:
		if (c->have_path)
			r = sc_link_add(&c->links, c->path, strlen(c->path));
		break;
	case SC_C_LINK:
		if (c->have_path && c->have_path2 && sc_is_link(&c->links, c->path2,
								   strlen(c->path2)))
			r = sc_link_add(&c->links, c->path, strlen(c->path));
		break;
	case SC_C_RENAME:
		if (c->have_path && c->have_path2)
			r = sc_links_rename(&c->links, c->path, c->path2);
		break;
	case SC_C_UNLINK:
		if (c->have_path)
			sc_link_remove(&c->links, c->path, strlen(c->path));
		break;
	case SC_C_END:
		c->st = SC_DONE;
		break;
	}
	if (r < 0)
		return sc_fail(c, ENOMEM, "out of memory");
	c->n_cmds++;
	if (c->st != SC_DONE) {
		c->st = SC_CMD;
		c->want = SC_CMD_HEADER;
	}
	return 0;
}

/* The attribute just finished: on to the next one, or the command's end. */
static int sc_next_attr(struct sendcheck *c)
{
	c->cmd_pos += c->tlv_len;
	if (c->cmd_pos == c->cmd_len)
		return sc_end_command(c);
	if (c->cmd_len - c->cmd_pos < 2)
		return sc_fail(c, EPROTO, "%s with a truncated attribute", sc_cmd_name(c->cmd));
	c->st = SC_TLV_TYPE;
	c->want = 2;
	return 0;
}

/* The attribute's length is known: gather it, or let it pass. */
static int sc_begin_value(struct sendcheck *c)
{
	if (c->tlv_len > c->cmd_len - c->cmd_pos)
		return sc_fail(c, EPROTO, "%s with an attribute longer than the command",
			       sc_cmd_name(c->cmd));
	if (!sc_inspects(c, c->tlv_type)) {
		c->st = SC_SKIP;
		c->skip = c->tlv_len;
		return c->skip ? 0 : sc_next_attr(c);
	}
	if (c->tlv_len >= PATH_MAX)
		return sc_fail(c, EPERM, "%s with an attribute of %u bytes", sc_cmd_name(c->cmd),
			       (unsigned)c->tlv_len);
	c->st = SC_VALUE;
	c->want = c->tlv_len;
	if (c->want)
		return 0;
	return sc_value(c) < 0 ? c->error : sc_next_attr(c);
}

/* One gathered unit (c->want bytes in c->buf) is complete. */
static int sc_unit(struct sendcheck *c)
{
	uint32_t len;
	unsigned cmd;

	switch (c->st) {
	case SC_HEADER:
		if (memcmp(c->buf, SC_MAGIC, SC_MAGIC_SIZE) != 0)
			return sc_fail(c, EPROTO, "not a btrfs send stream");
		c->version = get_le32(c->buf + SC_MAGIC_SIZE);
		if (c->version < 1 || c->version > SC_VERSION_MAX)
			return sc_fail(c, EPROTO, "send stream version %u is not supported",
				       (unsigned)c->version);
		c->st = SC_CMD;
		c->want = SC_CMD_HEADER;
		return 0;
	case SC_CMD:
		len = get_le32(c->buf);
		cmd = get_le16(c->buf + 4);
		if (cmd == 0 || cmd > sc_cmd_max[c->version])
			return sc_fail(c, EPROTO, "unknown command %u", cmd);
		if (c->n_cmds == 0 && cmd != SC_C_SUBVOL && cmd != SC_C_SNAPSHOT)
			return sc_fail(c, EPERM, "the stream starts with %s, not its subvolume",
				       sc_cmd_name(cmd));
		if (c->n_cmds > 0 && (cmd == SC_C_SUBVOL || cmd == SC_C_SNAPSHOT))
			return sc_fail(c, EPERM, "a second subvolume in one stream");
		if (len > (c->version == 1 ? SC_CMD_MAX_V1 : SC_CMD_MAX))
			return sc_fail(c, EPROTO, "%s of %u bytes", sc_cmd_name(cmd), (unsigned)len);
		c->cmd = cmd;
		c->cmd_len = len;
		c->cmd_pos = 0;
		c->seen = 0;
		c->have_path = c->have_path2 = false;
		c->have_clone_uuid = c->clone_self = false;
		if (len == 0)
			return sc_end_command(c);
		if (len < 2)
			return sc_fail(c, EPROTO, "%s with a truncated attribute", sc_cmd_name(cmd));
		c->st = SC_TLV_TYPE;
		c->want = 2;
		return 0;
	case SC_TLV_TYPE:
		c->tlv_type = get_le16(c->buf);
		c->cmd_pos += 2;
		if (c->tlv_type == 0 || c->tlv_type > sc_attr_max[c->version])
			return sc_fail(c, EPROTO, "%s with unknown attribute %u", sc_cmd_name(c->cmd),
				       c->tlv_type);
		if (c->seen & (1ULL << c->tlv_type))
			return sc_fail(c, EPROTO, "%s with attribute %u twice", sc_cmd_name(c->cmd),
				       c->tlv_type);
		c->seen |= 1ULL << c->tlv_type;
		if (c->version >= 2 && c->tlv_type == SC_A_DATA) {
			/* From version 2, DATA has no length: it is the rest of the command. */
			c->tlv_len = c->cmd_len - c->cmd_pos;
			return sc_begin_value(c);
		}
		if (c->cmd_len - c->cmd_pos < 2)
			return sc_fail(c, EPROTO, "%s with a truncated attribute", sc_cmd_name(c->cmd));
		c->st = SC_TLV_LEN;
		c->want = 2;
		return 0;
	case SC_TLV_LEN:
		c->tlv_len = get_le16(c->buf);
		c->cmd_pos += 2;
		return sc_begin_value(c);
	case SC_VALUE:
		if (sc_value(c) < 0)
			return c->error;
		return sc_next_attr(c);
	default:
		return 0;
	}
}

struct sendcheck *sendcheck_new(const struct sendcheck_opts *o)
{
	struct sendcheck *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->buf = malloc(PATH_MAX);
	if (!c->buf) {
		free(c);
		return NULL;
	}
	c->o = *o;
	c->st = SC_HEADER;
	c->want = SC_STREAM_HEADER;
	return c;
}

struct sendcheck *sendcheck_free(struct sendcheck *c)
{
	if (c) {
		sc_map_clear(&c->links);
		free(c->buf);
		free(c);
	}
	return NULL;
}

size_t sendcheck_next(const struct sendcheck *c, bool *inspect)
{
	if (c->st == SC_SKIP) {
		*inspect = false;
		return c->skip > SIZE_MAX ? SIZE_MAX : (size_t)c->skip;
	}
	*inspect = true;
	if (c->st == SC_DONE || c->st == SC_FAILED)
		return 1;	/* any byte more is refused */
	return c->want - c->have;
}

void sendcheck_pass(struct sendcheck *c, size_t len)
{
	if (c->st != SC_SKIP)
		return;
	c->skip -= len < c->skip ? len : c->skip;
	if (c->skip == 0)
		(void) sc_next_attr(c);
}

int sendcheck_feed(struct sendcheck *c, const void *buf, size_t len, struct rerr *e)
{
	const uint8_t *p = buf;

	while (len > 0) {
		size_t k;

		if (c->st == SC_FAILED)
			break;
		if (c->st == SC_DONE) {
			sc_fail(c, EPROTO, "data after the end of the stream");
			break;
		}
		if (c->st == SC_SKIP) {
			k = len < c->skip ? len : (size_t)c->skip;
			p += k;
			len -= k;
			sendcheck_pass(c, k);
			continue;
		}
		k = c->want - c->have;
		if (k > len)
			k = len;
		memcpy(c->buf + c->have, p, k);
		c->have += k;
		p += k;
		len -= k;
		if (c->have == c->want) {
			c->have = 0;
			(void) sc_unit(c);
		}
	}
	if (c->st == SC_FAILED) {
		if (e)
			rerr_set(e, c->why.code, "%s", c->why.msg);
		return c->error;
	}
	return 0;
}

int sendcheck_finish(struct sendcheck *c, struct rerr *e)
{
	if (c->st == SC_DONE)
		return 0;
	if (c->st != SC_FAILED)
		sc_fail(c, EPROTO, "the stream ended before its END command");
	return rerr_set(e, c->why.code, "%s", c->why.msg);
}

const uint8_t *sendcheck_parent(const struct sendcheck *c)
{
	return c->have_parent ? c->parent : NULL;
}
