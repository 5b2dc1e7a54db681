/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Listing a btrfs volume's snapshots (SPEC 5): one readdir of SNAPSHOT_DIR,
 * one search of the tree of subvolumes for which NAME/snapshot are snapshots,
 * and one batched read of every info.json (os/readmany.h): no ioctl per
 * snapshot, no walk of the content. What a crash leaves is incomplete; what
 * it cannot leave is damaged (kept, and said).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <btrfsutil.h>
#include <endian.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>

#include "backends/backend.h"
#include "base/debug.h"
#include "base/util.h"
#include "format/meta.h"
#include "model/stamp.h"
#include "os/readmany.h"

#include "btrfs_internal.h"

#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

static int btrfs_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int btrfs_root_refs(int fd, uint64_t parent, btrfs_root_ref_fn fn, void *user)
{
	union {
		struct btrfs_ioctl_search_args_v2 args;
		char raw[sizeof(struct btrfs_ioctl_search_args_v2) + 64 * 1024];
	} u;
	struct btrfs_ioctl_search_args_v2 *a = &u.args;

	memset(&a->key, 0, sizeof(a->key));
	a->key.tree_id = BTRFS_ROOT_TREE_OBJECTID;
	a->key.min_objectid = a->key.max_objectid = parent;
	a->key.min_type = a->key.max_type = BTRFS_ROOT_REF_KEY;
	a->key.max_offset = UINT64_MAX;
	a->key.max_transid = UINT64_MAX;
	for (;;) {
		size_t off = 0;
		uint64_t last = 0;

		a->key.nr_items = UINT32_MAX;
		a->buf_size = sizeof(u.raw) - sizeof(*a);
		if (ioctl(fd, BTRFS_IOC_TREE_SEARCH_V2, a) < 0)
			return -errno;
		/* memcheck knows the 112-byte header of this ioctl, not that the kernel fills buf[]. */
		(void) VALGRIND_MAKE_MEM_DEFINED(a->buf, sizeof(u.raw) - sizeof(*a));
		if (a->key.nr_items == 0)
			break;
		for (uint32_t i = 0; i < a->key.nr_items; i++) {
			struct btrfs_ioctl_search_header h;
			struct btrfs_root_ref ref;
			int r;

			memcpy(&h, a->buf + off, sizeof(h));
			off += sizeof(h);
			last = h.offset;
			if (h.type == BTRFS_ROOT_REF_KEY && h.len >= sizeof(ref)) {
				memcpy(&ref, a->buf + off, sizeof(ref));
				if (sizeof(ref) + le16toh(ref.name_len) <= h.len) {
					r = fn(user, h.offset, le64toh(ref.dirid),
					       (const char *)a->buf + off + sizeof(ref),
					       le16toh(ref.name_len));
					if (r != 0)
						return r;
				}
			}
			off += h.len;
		}
		if (last == UINT64_MAX)
			break;
		a->key.min_offset = last + 1;
	}
	return 0;
}

struct btrfs_dir_ids {
	uint64_t *ids;
	size_t n, cap;
};

static int btrfs_collect_snapshot_dir(void *user, uint64_t child, uint64_t dirid,
				      const char *name, size_t len)
{
	struct btrfs_dir_ids *x = user;

	(void) child;
	if (len != strlen(SNAPSHOT_SUBVOL) || memcmp(name, SNAPSHOT_SUBVOL, len) != 0)
		return 0;
	if (x->n == x->cap) {
		uint64_t *g;

		x->cap = x->cap ? x->cap * 2 : 256;
		g = realloc(x->ids, x->cap * sizeof(*g));
		if (!g)
			return -ENOMEM;
		x->ids = g;
	}
	x->ids[x->n++] = dirid;
	return 0;
}

/*
 * The inode numbers of the directories (in the subvolume holding @dirfd) that
 * hold a subvolume named "snapshot": one tree search of the root tree's
 * ROOT_REF items instead of one fstatat() per snapshot. Needs CAP_SYS_ADMIN;
 * the caller falls back to fstatat() on -EPERM.
 * Return: 0 with a sorted array the caller must free(), or -errno.
 */
static int btrfs_snapshot_dirs(int dirfd, uint64_t **ret, size_t *ret_n)
{
	struct btrfs_dir_ids x = { 0 };
	uint64_t parent;
	int r;

	if (btrfs_util_subvolume_id_fd(dirfd, &parent) != BTRFS_UTIL_OK)
		return -(errno ?: EIO);
	r = btrfs_root_refs(dirfd, parent, btrfs_collect_snapshot_dir, &x);
	if (r < 0) {
		free(x.ids);
		return r;
	}
	if (x.n > 1)
		qsort(x.ids, x.n, sizeof(*x.ids), btrfs_cmp_u64);
	*ret = x.ids;
	*ret_n = x.n;
	return 0;
}

struct btrfs_subvol_dirs {
	uint64_t *ids;		/* sorted; NULL: unknown, ask fstatat() */
	size_t n;
};

/*
 * fstatat(AT_SYMLINK_NOFOLLOW) of "NAME/snapshot" that follows no symlink on
 * the way either: NAME was a directory at readdir, but may be one no more.
 * Return: 0 or -errno (-ELOOP: a symlink on the way).
 */
static int btrfs_stat_beneath(int dirfd, const char *path, struct stat *st)
{
	_cleanup_close_ int fd = open_beneath(dirfd, path, O_PATH, 0);

	if (fd < 0)
		return fd;
	return fstat(fd, st) < 0 ? -errno : 0;
}

static bool btrfs_has_snapshot(const struct btrfs_subvol_dirs *dirs, int dirfd,
			       const char *name, ino_t ino)
{
	char path[SNAP_NAME_MAX + sizeof("/" SNAPSHOT_SUBVOL)];
	uint64_t key = ino;
	struct stat st;

	if (dirs->ids)
		return bsearch(&key, dirs->ids, dirs->n, sizeof(*dirs->ids), btrfs_cmp_u64);
	snprintf(path, sizeof(path), "%s/%s", name, SNAPSHOT_SUBVOL);
	return btrfs_stat_beneath(dirfd, path, &st) == 0 && S_ISDIR(st.st_mode) &&
	       st.st_ino == BTRFS_SUBVOL_INO;
}

/* An entry with our NAME pattern, waiting for its info.json. */
struct btrfs_candidate {
	char path[SNAP_NAME_MAX + sizeof("/" META_FILE)];	/* "NAME/info.json" */
	size_t name_len;
	ino_t ino;
	time_t t;
	unsigned seq;
};

struct btrfs_list_ctx {
	const struct volume *v;
	int dirfd;
	struct btrfs_candidate *cand;
	struct btrfs_subvol_dirs dirs;
	struct snapshot_list *l;
	struct rerr *e;
};

/*
 * Whether directory @name (in @dir) holds nothing but, with @leftovers, what
 * an interrupted create or delete leaves: the snapshot subvolume and a
 * temporary info.json. Return: 1 yes; 0 no, with the first other entry in
 * @other; <0 error.
 */
static int btrfs_only_entries(int dir, const char *name, bool leftovers, char *other,
			      size_t other_len)
{
	int fd = open_beneath(dir, name, O_RDONLY | O_DIRECTORY, 0);
	struct dirent *de;
	DIR *d;
	int r = 1;

	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	while (r == 1 && (de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (leftovers &&
		    ((streq(de->d_name, SNAPSHOT_SUBVOL) && btrfs_is_subvol_at(dirfd(d), de->d_name)) ||
		     streq(de->d_name, "." META_FILE ".tmp")))
			continue;
		snprintf(other, other_len, "%s", de->d_name);
		r = 0;
	}
	closedir(d);
	return r;
}

/* Whether directory @path (in @dir) holds nothing. Return: 1, 0, or -errno. */
static int btrfs_dir_empty_at(int dir, const char *path)
{
	char other[NAME_MAX + 1];

	return btrfs_only_entries(dir, path, false, other, sizeof(other));
}

/* Marks @n damaged: ours by its name, but in a state no crash leaves. */
static int btrfs_damaged(struct snapshot *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int btrfs_damaged(struct snapshot *n, const char *fmt, ...)
{
	va_list ap;
	char *p = NULL;
	int k;

	va_start(ap, fmt);
	k = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (k < 0)
		return -ENOMEM;
	/* Shown on a terminal: a name is printable whatever the entry held. */
	for (char *x = p; *x; x++)
		if ((unsigned char)*x < 0x20 || *x == 0x7f)
			*x = '?';
	n->damaged = true;
	n->problem = p;
	return 0;
}

/*
 * One info.json read. Complete: a valid info.json and the subvolume.
 * Incomplete (what a crash leaves, removed by repair): no info.json and
 * nothing but the subvolume or the temporary file, or a valid info.json
 * whose subvolume is gone. Anything else is damaged: listed, reported, never
 * removed by repair (an info.json that does not parse may well sit beside a
 * whole snapshot). A read error other than those fails the listing, so a
 * transient EIO or EMFILE never changes what an entry looks like.
 */
static int btrfs_list_entry(void *user, size_t index, const char *text, ssize_t len)
{
	struct btrfs_list_ctx *c = user;
	struct btrfs_candidate *cand = &c->cand[index];
	char name[SNAP_NAME_MAX + 1], other[NAME_MAX + 1], path[SNAP_NAME_MAX + 16];
	struct snapshot n = { 0 };
	const char *why = NULL;
	struct stat st;
	int r = -EINVAL, k = 0;

	memcpy(name, cand->path, cand->name_len);
	name[cand->name_len] = '\0';
	if (text) {
		r = meta_parse_info_why(c->v->name, name, text, &n, &why);
		if (r == -ENOMEM)
			return rerr_set(c->e, ENOMEM, "%s: out of memory", c->v->name);
	} else if (len != -ENOENT && len != -ELOOP && len != -EFBIG && len != -ENOTDIR &&
		   len != -EINVAL) {
		return rerr_set(c->e, (int)len, "%s: cannot read '%s/%s'", c->v->name,
				c->v->snapshot_dir, cand->path);
	}
	if (r == 0 && btrfs_has_snapshot(&c->dirs, c->dirfd, name, cand->ino)) {
		/* complete */
	} else {
		snapshot_done(&n);
		n = (struct snapshot){ .name = strdup(name), .created = cand->t, .seq = cand->seq };
		if (!n.name)
			return rerr_set(c->e, ENOMEM, "%s: out of memory", c->v->name);
		snprintf(path, sizeof(path), "%s/%s", name, SNAPSHOT_SUBVOL);
		if (r == 0) {
			/*
			 * A valid info.json without its subvolume: nothing left to keep, unless
			 * something else is there. An empty plain directory is what a snapshot
			 * of the volume carries in place of a nested subvolume: a stale copy.
			 */
			if (btrfs_stat_beneath(c->dirfd, path, &st) < 0)
				;
			else if (S_ISDIR(st.st_mode) && btrfs_dir_empty_at(c->dirfd, path) == 1)
				n.stale = true;
			else
				k = btrfs_damaged(&n, "'%s' is not a subvolume", SNAPSHOT_SUBVOL);
		} else if (text) {
			k = btrfs_damaged(&n, "%s: %s", META_FILE, why);
		} else if (len == -ELOOP) {
			k = btrfs_damaged(&n, "%s is a symlink", META_FILE);
		} else if (len == -EFBIG) {
			k = btrfs_damaged(&n, "%s is larger than %d bytes", META_FILE, META_MAX_SIZE);
		} else if (len != -ENOENT) {
			k = btrfs_damaged(&n, "%s is not a regular file", META_FILE);
		} else {
			int o = btrfs_only_entries(c->dirfd, name, true, other, sizeof(other));

			if (o == 0)
				k = btrfs_damaged(&n, "no %s, and it holds '%s'", META_FILE, other);
			else if (o < 0 && o != -ENOENT)
				k = btrfs_damaged(&n, "cannot look inside it: %s", strerror(-o));
		}
		if (k < 0) {
			snapshot_done(&n);
			return rerr_set(c->e, ENOMEM, "%s: out of memory", c->v->name);
		}
	}
	r = snapshot_list_append(c->l, &n);
	if (r < 0) {
		snapshot_done(&n);
		return rerr_set(c->e, ENOMEM, "%s: out of memory", c->v->name);
	}
	return 0;
}

/*
 * One readdir: a directory with our NAME pattern is a candidate, anything else
 * is foreign. Then all the candidates' info.json in one batch (readmany).
 */
/* Appends @name to @l as a foreign entry. Return: 0 or -ENOMEM. */
static int btrfs_list_foreign(struct snapshot_list *l, const char *name)
{
	struct snapshot s = { .name = strdup(name), .foreign = true };

	if (!s.name || snapshot_list_append(l, &s) < 0) {
		free(s.name);
		return -ENOMEM;
	}
	return 0;
}

/*
 * One readdir of the snapshot directory: NAME directories become candidates
 * (@cand, @n_cand: their info.json is read next), anything else is foreign.
 */
static int btrfs_list_scan(const struct volume *v, DIR *d, struct btrfs_candidate **cand,
			   size_t *n_cand, struct snapshot_list *l, struct rerr *e)
{
	size_t cap = 0;
	struct dirent *de;

	while ((errno = 0, de = readdir(d))) {
		struct btrfs_candidate *x;
		time_t t;
		unsigned seq;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		/* Only a directory can be one of ours; a symlink never is. */
		if (!(de->d_type == DT_DIR ||
		      (de->d_type == DT_UNKNOWN && btrfs_is_dir_at(dirfd(d), de->d_name))) ||
		    snap_name_parse(v->name, de->d_name, &t, &seq) < 0) {
			if (btrfs_list_foreign(l, de->d_name) < 0)
				return rerr_set(e, ENOMEM, "%s: out of memory", v->name);
			continue;
		}
		if (*n_cand == cap) {
			cap = cap ? cap * 2 : 64;
			x = realloc(*cand, cap * sizeof(**cand));
			if (!x)
				return rerr_set(e, ENOMEM, "%s: out of memory", v->name);
			*cand = x;
		}
		x = &(*cand)[(*n_cand)++];
		x->name_len = strlen(de->d_name);
		/* snap_name_parse() bounds the name by SNAP_NAME_MAX. */
		snprintf(x->path, sizeof(x->path), "%.*s/%s", SNAP_NAME_MAX, de->d_name, META_FILE);
		x->ino = de->d_ino;
		x->t = t;
		x->seq = seq;
	}
	if (errno != 0)
		return rerr_set(e, errno, "%s: cannot read '%s'", v->name, v->snapshot_dir);
	return 0;
}

/* Every candidate's info.json in one batch, checked against the subvolumes found. */
static int btrfs_list_read(const struct volume *v, int fd, struct btrfs_candidate *cand,
			   size_t n_cand, struct snapshot_list *l, struct rerr *e)
{
	struct btrfs_list_ctx c = { .v = v, .l = l, .e = e, .dirfd = fd, .cand = cand };
	_cleanup_free_ const char **paths = NULL;
	int r;

	r = btrfs_snapshot_dirs(fd, &c.dirs.ids, &c.dirs.n);
	if (r < 0)
		DBG(BTRFS, "%s: cannot search subvolumes (%s), checking each one", v->name,
		    strerror(-r));
	paths = calloc(n_cand, sizeof(*paths));
	if (!paths) {
		r = rerr_set(e, ENOMEM, "%s: out of memory", v->name);
	} else {
		for (size_t i = 0; i < n_cand; i++)
			paths[i] = cand[i].path;
		r = readmany_at(fd, paths, n_cand, META_MAX_SIZE, btrfs_list_entry, &c);
		if (r < 0)
			r = rerr_set(e, r, "%s: cannot read '%s'", v->name, v->snapshot_dir);
	}
	free(c.dirs.ids);
	return r;
}

int btrfs_list_at(const struct volume *v, int fd, struct snapshot_list *ret, struct rerr *e)
{
	struct snapshot_list l = { 0 };
	_cleanup_free_ struct btrfs_candidate *cand = NULL;
	size_t n_cand = 0;
	DIR *d;
	int r;

	d = fdopendir(fd);
	if (!d) {
		r = rerr_set(e, errno, "%s: cannot read '%s'", v->name, v->snapshot_dir);
		close(fd);
		return r;
	}
	r = btrfs_list_scan(v, d, &cand, &n_cand, &l, e);
	if (r == 0 && n_cand > 0)
		r = btrfs_list_read(v, fd, cand, n_cand, &l, e);
	closedir(d);
	if (r < 0) {
		snapshot_list_clear(&l);
		return r;
	}
	snapshot_list_sort(&l);
	*ret = l;
	return 0;
}

int btrfs_be_list(const struct volume *v, struct snapshot_list *ret, struct rerr *e)
{
	int fd = btrfs_open_dir(v, false, e);

	if (fd == -ENOENT) {
		*ret = (struct snapshot_list){ 0 };
		return 0;
	}
	return fd < 0 ? fd : btrfs_list_at(v, fd, ret, e);
}

/* The entry list() reads, for one name: the same checks, no other entry read. */
int btrfs_be_get(const struct volume *v, const char *name, struct snapshot *ret, struct rerr *e)
{
	struct btrfs_candidate cand = { 0 };
	struct snapshot_list l = { 0 };
	_cleanup_close_ int fd = -1;
	const char *path = cand.path;
	struct stat st;
	int r;

	if (snap_name_parse(v->name, name, &cand.t, &cand.seq) < 0)
		return -ENOENT;
	fd = btrfs_open_dir(v, false, e);
	if (fd < 0)
		return fd;
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return -ENOENT;
	cand.name_len = strlen(name);
	cand.ino = st.st_ino;
	snprintf(cand.path, sizeof(cand.path), "%.*s/%s", SNAP_NAME_MAX, name, META_FILE);
	{
		struct btrfs_list_ctx c = { .v = v, .l = &l, .e = e, .dirfd = fd, .cand = &cand };

		/* No tree search for one entry: btrfs_has_snapshot() asks fstatat(). */
		r = readmany_at(fd, &path, 1, META_MAX_SIZE, btrfs_list_entry, &c);
		if (r < 0)
			r = rerr_set(e, r, "%s: cannot read '%s'", v->name, v->snapshot_dir);
	}
	if (r < 0 || l.n != 1) {
		snapshot_list_clear(&l);
		return r < 0 ? r : -ENOENT;
	}
	*ret = l.items[0];
	l.n = 0;
	snapshot_list_clear(&l);
	return 0;
}
