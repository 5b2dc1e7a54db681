/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Changed ranges between two thin LVs (include/lvmthin.h).
 *
 * thin_delta cannot read live pool metadata; it reads a metadata snapshot
 * that the kernel keeps for us ("reserve_metadata_snap", which also commits
 * the pool's open transaction, so both LVs' mappings are current):
 *
 *	dmsetup message VG-POOL-tpool 0 reserve_metadata_snap
 *	thin_delta --metadata-snap --snap1 ID1 --snap2 ID2 /dev/mapper/VG-POOL_tmeta
 *	dmsetup message VG-POOL-tpool 0 release_metadata_snap
 *
 * (device-mapper names with every '-' of VG and LV doubled). What must never
 * happen: the reservation outliving this call. While it is held the pool keeps
 * the old metadata blocks, and the next reservation fails with EBUSY. So the
 * release runs on every path, terminating signals are blocked meanwhile, and a
 * reservation left by a crash (the held root in `dmsetup status` is not "-")
 * is released before trying again once.
 *
 * thin_delta 0.9 output (data blocks of data_block_size sectors, in order):
 *	<superblock uuid="" time="2" transaction="3" data_block_size="128" ...>
 *	  <diff left="2" right="3">
 *	    <same begin="0" length="3"/>	both map the same data block: unchanged
 *	    <different begin="3" length="1"/>	both mapped, to different blocks: written
 *	    <left_only begin="64" length="16"/>	unmapped in the newer: discarded, zeros now
 *	    <right_only begin="128" length="32"/>	mapped only in the newer: written
 *	  </diff>
 *	</superblock>
 * Blocks mapped in neither are not listed: zeros in both.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "backends/lvmthin.h"
#include "base/debug.h"
#include "base/util.h"
#include "format/meta.h"
#include "os/process.h"

#include "lvm_internal.h"

#define THIN_OUT_MAX	(16U << 20)	/* dmsetup output we read */
#define THIN_TOOL_MAX	256

bool lvmthin_name_valid(const char *s)
{
	return lvm_name_valid(s, strnlen(s, LVMTHIN_NAME_MAX + 1));
}

static size_t thin_escaped_len(const char *s)
{
	size_t n = strlen(s);

	for (; *s; s++)
		n += *s == '-';
	return n;
}

static char *thin_escape(char *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '-')
			*out++ = '-';
		*out++ = *s;
	}
	return out;
}

int lvmthin_dm_name(const char *vg, const char *lv, const char *layer, char *buf, size_t len)
{
	size_t need;
	char *p;

	if (!lvmthin_name_valid(vg) || !lvmthin_name_valid(lv))
		return -EINVAL;
	need = thin_escaped_len(vg) + 1 + thin_escaped_len(lv) + (layer ? 1 + strlen(layer) : 0);
	if (need >= len)
		return -ENAMETOOLONG;
	/* The separators stay single: the only lone '-' in the result. */
	p = thin_escape(buf, vg);
	*p++ = '-';
	p = thin_escape(p, lv);
	if (layer) {
		*p++ = '-';
		p = stpcpy(p, layer);
	}
	*p = '\0';
	return 0;
}

int lvmthin_dev_path(const char *vg, const char *lv, char *buf, size_t len)
{
	static const char dir[] = "/dev/mapper/";

	if (len <= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(buf, dir, sizeof(dir));
	return lvmthin_dm_name(vg, lv, NULL, buf + sizeof(dir) - 1, len - (sizeof(dir) - 1));
}

/* ---------------------------------------------------------------- commands */

/* @name as found in PATH, else in /usr/sbin or /sbin, into @buf. */
static int thin_tool(const char *name, char *buf, size_t len, struct rerr *e)
{
	static const char *const fallback[] = { "/usr/sbin", "/sbin" };
	const char *path = getenv("PATH");

	while (path && *path) {
		size_t n = strcspn(path, ":");

		if (n > 0 && (size_t)snprintf(buf, len, "%.*s/%s", (int)n, path, name) < len &&
		    access(buf, X_OK) == 0)
			return 0;
		path += n + (path[n] == ':');
	}
	for (size_t i = 0; i < ARRAY_SIZE(fallback); i++) {
		snprintf(buf, len, "%s/%s", fallback[i], name);
		if (access(buf, X_OK) == 0)
			return 0;
	}
	return rerr_set(e, ENOENT, "'%s' not found (install %s)", name,
			streq(name, "thin_delta") ? "thin-provisioning-tools" : "lvm2");
}

/* "lvs --reportformat ..." for messages: the first words of @argv. */
static const char *thin_cmdline(char *const argv[], char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; argv[i] && o + 1 < len; i++) {
		const char *a = argv[i], *slash = strrchr(a, '/');
		int n;

		if (i == 0 && slash)
			a = slash + 1;
		n = snprintf(buf + o, len - o, "%s%s", i ? " " : "", a);

		if (n < 0)
			break;
		o += (size_t)n;
	}
	return buf;
}

/*
 * Runs @argv (its stderr is ours), with its stdout in *@ret_out (free(); may be
 * NULL). Return: 0 when it exited 0, -EIO otherwise, or -errno, with @e.
 */
static int thin_run(char *const argv[], char **ret_out, struct rerr *e)
{
	_cleanup_close_ int out = -1;
	_cleanup_free_ char *buf = NULL;
	char cmd[200];
	pid_t pid;
	int r, st;

	r = spawn_argv(argv, SPAWN_STDOUT_PIPE, NULL, &out, &pid, e);
	if (r < 0)
		return r;
	r = read_all_fd(out, THIN_OUT_MAX, &buf, NULL);
	/* Closed before waiting: a child with more to say gets SIGPIPE instead of blocking. */
	close(TAKE_FD(out));
	st = spawn_wait(pid);
	thin_cmdline(argv, cmd, sizeof(cmd));
	if (st < 0)
		return rerr_set(e, st, "cannot wait for '%s'", cmd);
	if (st != 0)
		return rerr_set(e, EIO, "'%s' failed (exit status %d)", cmd, st);
	if (r < 0)
		return rerr_set(e, r, "cannot read the output of '%s'", cmd);
	if (ret_out)
		*ret_out = TAKE_PTR(buf);
	return 0;
}

static int thin_parse_row(struct json_object *row, const char *vg, struct lvmthin_lv *ret,
			  struct rerr *e)
{
	const char *name = lvm_field(row, "lv_name"), *uuid = lvm_field(row, "lv_uuid");
	const char *size = lvm_field(row, "lv_size"), *attr = lvm_field(row, "lv_attr");
	const char *pool = lvm_field(row, "pool_lv"), *id = lvm_field(row, "thin_id");
	const char *origin = lvm_field(row, "origin");
	struct lvmthin_lv lv = { .thin_id = -1 };
	uint64_t v;

	if (!*name || !*uuid || !*attr ||
	    strlen(name) > LVMTHIN_NAME_MAX || strlen(uuid) > LVMTHIN_UUID_MAX ||
	    strlen(pool) > LVMTHIN_NAME_MAX || strlen(origin) > LVMTHIN_NAME_MAX ||
	    parse_u64(size, UINT64_MAX, &lv.size) < 0)
		return rerr_set(e, EPROTO, "cannot read the lvs report of VG '%s'", vg);
	strcpy(lv.name, name);
	strcpy(lv.uuid, uuid);
	strcpy(lv.origin, origin);
	/* A thin volume ('V') in a pool, with a device id. */
	if (attr[0] == 'V' && *pool && *id) {
		if (parse_u64(id, UINT64_MAX, &v) < 0 || v > INT64_MAX || !lvmthin_name_valid(pool))
			return rerr_set(e, EPROTO, "lvs reports an odd thin LV '%s/%s'", vg, name);
		strcpy(lv.pool, pool);
		lv.thin_id = (int64_t)v;
	}
	*ret = lv;
	return 0;
}

/*
 * Whether the thin LV @lv reads its unmapped blocks from an LV outside the pool:
 * somewhere up its chain of origins is an LV that is not thin.
 */
static int thin_external(struct json_object *lvs, const char *vg, struct lvmthin_lv *lv,
			 struct rerr *e)
{
	struct lvmthin_lv cur = *lv;

	for (int depth = 0; cur.origin[0]; depth++) {
		struct json_object *row = lvm_find_row(lvs, cur.origin);
		int r;

		/* A chain that long, or an origin lvs does not list: assume the worst. */
		if (!row || depth > 1000) {
			lv->external_origin = true;
			return 0;
		}
		r = thin_parse_row(row, vg, &cur, e);
		if (r < 0)
			return r;
		if (cur.thin_id < 0) {
			lv->external_origin = true;
			return 0;
		}
	}
	return 0;
}

/* One lvs for all of @vg (through liblvm2cmd, as every LVM command), then the @n LVs @names of it. */
static int thin_query(const char *vg, const char *const names[], size_t n,
		      struct lvmthin_lv *ret, struct rerr *e)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct json_object *lvs;
	struct rerr le = { 0 };
	int r;

	if (!lvmthin_name_valid(vg))
		return rerr_set(e, EINVAL, "bad VG name '%s'", vg);
	for (size_t i = 0; i < n; i++)
		if (!lvmthin_name_valid(names[i]))
			return rerr_set(e, EINVAL, "bad LV name '%s'", names[i]);
	r = lvm_lvs(vg, false, &o, &le);
	/* The command failed: for a VG that does not exist, LVM said so. */
	if (r == -EIO)
		return rerr_set(e, ENOENT, "no VG '%s' (%s)", vg, le.msg);
	if (r < 0)
		return rerr_set(e, r, "%s", le.msg);
	lvs = lvm_report_lvs(o);
	for (size_t i = 0; i < n; i++) {
		struct json_object *row = lvm_find_row(lvs, names[i]);

		if (!row)
			return rerr_set(e, ENOENT, "no LV '%s/%s'", vg, names[i]);
		r = thin_parse_row(row, vg, &ret[i], e);
		if (r == 0 && ret[i].thin_id >= 0)
			r = thin_external(lvs, vg, &ret[i], e);
		if (r < 0)
			return r;
	}
	return 0;
}

int lvmthin_lv_query(const char *vg, const char *lv, struct lvmthin_lv *ret, struct rerr *e)
{
	return thin_query(vg, &lv, 1, ret, e);
}

/* ---------------------------------------------------------------- pool */

/* The active thin-pool target of @vg/@pool: "VG-POOL-tpool", or "VG-POOL" alone. */
static int thin_pool_dm(const char *vg, const char *pool, char *buf, size_t len, struct rerr *e)
{
	_cleanup_free_ char *out = NULL;
	char tool[THIN_TOOL_MAX], layered[2 * LVMTHIN_NAME_MAX + 16], plain[sizeof(layered)];
	char *argv[] = { tool, "ls", "--target", "thin-pool", NULL };
	bool has_layered = false, has_plain = false;
	char *save = NULL;
	int r;

	if (lvmthin_dm_name(vg, pool, "tpool", layered, sizeof(layered)) < 0 ||
	    lvmthin_dm_name(vg, pool, NULL, plain, sizeof(plain)) < 0)
		return rerr_set(e, EINVAL, "bad pool name '%s/%s'", vg, pool);
	r = thin_tool("dmsetup", tool, sizeof(tool), e);
	if (r < 0)
		return r;
	r = thin_run(argv, &out, e);
	if (r < 0)
		return r;
	/* "NAME\t(253:2)" per line, or "No devices found". */
	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		l[strcspn(l, " \t")] = '\0';
		has_layered |= streq(l, layered);
		has_plain |= streq(l, plain);
	}
	if (!has_layered && !has_plain)
		return rerr_set(e, ENXIO, "thin pool '%s/%s' is not active", vg, pool);
	if ((size_t)snprintf(buf, len, "%s", has_layered ? layered : plain) >= len)
		return rerr_set(e, ENAMETOOLONG, "pool name '%s/%s' too long", vg, pool);
	return 0;
}

/* Whether the pool holds a metadata snapshot: the held root field is not "-". */
static int thin_pool_held(const char *pool_dm, bool *ret_held, struct rerr *e)
{
	_cleanup_free_ char *out = NULL;
	char tool[THIN_TOOL_MAX], *tok[8], *save = NULL, *p;
	char *argv[] = { tool, "status", (char *)pool_dm, NULL };
	size_t n = 0;
	int r;

	r = thin_tool("dmsetup", tool, sizeof(tool), e);
	if (r < 0)
		return r;
	r = thin_run(argv, &out, e);
	if (r < 0)
		return r;
	/* "0 614400 thin-pool TRANSACTION META/META DATA/DATA HELD_ROOT rw ..." */
	for (p = strtok_r(out, " \t\n", &save); p && n < ARRAY_SIZE(tok);
	     p = strtok_r(NULL, " \t\n", &save))
		tok[n++] = p;
	if (n < 7 || !streq(tok[2], "thin-pool"))
		return rerr_set(e, EPROTO, "unexpected status of thin pool '%s' (failed?)",
				pool_dm);
	*ret_held = !streq(tok[6], "-");
	return 0;
}

static int thin_message(const char *pool_dm, const char *msg, struct rerr *e)
{
	char tool[THIN_TOOL_MAX];
	char *argv[] = { tool, "message", (char *)pool_dm, "0", (char *)msg, NULL };
	int r;

	r = thin_tool("dmsetup", tool, sizeof(tool), e);
	if (r < 0)
		return r;
	DBG(LVM, "dmsetup message %s 0 %s", pool_dm, msg);
	return thin_run(argv, NULL, e);
}

static int thin_reserve(const char *pool_dm, struct rerr *e)
{
	struct rerr first = { 0 };
	bool held = false;
	int r;

	if (thin_message(pool_dm, "reserve_metadata_snap", &first) == 0)
		return 0;
	r = thin_pool_held(pool_dm, &held, e);
	if (r < 0)
		return r;
	if (!held)
		return rerr_set(e, first.code,
				"cannot reserve a metadata snapshot of pool '%s': %s", pool_dm,
				first.msg);
	DBG(LVM, "pool '%s' holds a stale metadata snapshot, releasing it", pool_dm);
	r = thin_message(pool_dm, "release_metadata_snap", e);
	if (r < 0)
		return r;
	return thin_message(pool_dm, "reserve_metadata_snap", e);
}

/* ---------------------------------------------------------------- the delta */

static int thin_delta_run(const char *tmeta, int64_t old_id, int64_t new_id, uint64_t old_size,
			  uint64_t new_size, struct lvmthin_delta *ret, struct rerr *e)
{
	char tool[THIN_TOOL_MAX], s1[24], s2[24];
	char *argv[] = { tool, "--metadata-snap", "--snap1", s1, "--snap2", s2, (char *)tmeta,
			 NULL };
	struct rerr pe = { 0 };
	FILE *f;
	pid_t pid;
	int fd = -1, r, st;

	r = thin_tool("thin_delta", tool, sizeof(tool), e);
	if (r < 0)
		return r;
	snprintf(s1, sizeof(s1), "%" PRId64, old_id);
	snprintf(s2, sizeof(s2), "%" PRId64, new_id);
	DBG(LVM, "thin_delta --metadata-snap --snap1 %s --snap2 %s %s", s1, s2, tmeta);
	r = spawn_argv(argv, SPAWN_STDOUT_PIPE, NULL, &fd, &pid, e);
	if (r < 0)
		return r;
	f = fdopen(fd, "r");
	if (!f) {
		r = rerr_set(e, errno, "cannot read the output of thin_delta");
		close(fd);
		(void) spawn_wait(pid);
		return r;
	}
	r = lvmthin_delta_parse(f, (uint64_t)old_id, (uint64_t)new_id, old_size, new_size, ret,
				&pe);
	/* Closing our end first: a thin_delta we stopped reading gets SIGPIPE. */
	fclose(f);
	st = spawn_wait(pid);
	if (r < 0 && (st == 0 || st == 128 + SIGPIPE))
		return rerr_set(e, r, "%s", pe.msg);
	if (st != 0) {
		if (r == 0)
			lvmthin_delta_done(ret);
		if (st < 0)
			return rerr_set(e, st, "cannot wait for thin_delta");
		/* Its own message (e.g. "Unable to find mapping tree") went to stderr. */
		return rerr_set(e, EIO, "thin_delta failed (exit status %d)", st);
	}
	return 0;
}

int lvmthin_changed_ranges(const char *vg, const char *old_lv, const char *new_lv,
			   struct lvmthin_delta *ret, struct rerr *e)
{
	const char *names[2] = { old_lv, new_lv };
	struct lvmthin_lv lv[2];
	char pool_dm[2 * LVMTHIN_NAME_MAX + 16], tmeta[2 * LVMTHIN_NAME_MAX + 32];
	char meta_lv[LVMTHIN_NAME_MAX + 8];
	sigset_t old;
	struct stat st;
	struct rerr re = { 0 };
	int r, k;

	r = thin_query(vg, names, 2, lv, e);
	if (r < 0)
		return r;
	for (int i = 0; i < 2; i++) {
		if (lv[i].thin_id < 0)
			return rerr_set(e, EINVAL, "'%s/%s' is not a thin LV", vg, names[i]);
		/* Unmapped blocks are not zeros there: thin_delta cannot see their changes. */
		if (lv[i].external_origin)
			return rerr_set(e, EINVAL, "'%s/%s' has an external origin, send it whole",
					vg, names[i]);
	}
	if (!streq(lv[0].pool, lv[1].pool))
		return rerr_set(e, EINVAL, "'%s/%s' and '%s/%s' are in different thin pools", vg,
				old_lv, vg, new_lv);
	r = thin_pool_dm(vg, lv[0].pool, pool_dm, sizeof(pool_dm), e);
	if (r < 0)
		return r;
	snprintf(meta_lv, sizeof(meta_lv), "%s_tmeta", lv[0].pool);
	if (lvmthin_dev_path(vg, meta_lv, tmeta, sizeof(tmeta)) < 0)
		return rerr_set(e, EINVAL, "pool name '%s' too long", lv[0].pool);
	if (stat(tmeta, &st) < 0 || !S_ISBLK(st.st_mode))
		return rerr_set(e, ENXIO, "no metadata device '%s' for pool '%s/%s'", tmeta, vg,
				lv[0].pool);

	signals_hold(&old);
	r = thin_reserve(pool_dm, e);
	if (r == 0) {
		r = thin_delta_run(tmeta, lv[0].thin_id, lv[1].thin_id, lv[0].size, lv[1].size, ret,
				   e);
		k = thin_message(pool_dm, "release_metadata_snap", &re);
		if (k < 0 && r == 0) {
			lvmthin_delta_done(ret);
			r = rerr_set(e, k, "%s", re.msg);
		} else if (k < 0) {
			DBG(LVM, "releasing the metadata snapshot of '%s' failed too: %s", pool_dm,
			    re.msg);
		}
	}
	signals_release(&old);
	if (r < 0)
		return r;
	DBG(LVM, "%s/%s -> %s: %zu ranges, %" PRIu64 " bytes changed (chunk %" PRIu64 ")", vg,
	    old_lv, new_lv, ret->n, ret->changed, ret->chunk_size);
	return 0;
}
