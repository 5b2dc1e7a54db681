/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Rollback of a btrfs volume (SPEC 7) whose subvolume is not a mount point
 * (a nested subvolume such as /srv/data): the engine has snapshotted the
 * current state; here
 *   1. a writable snapshot of the target is made beside the volume, under a
 *      hidden name (.BASE.rollback-new);
 *   2. every subvolume nested in the volume (a nested snapshot directory,
 *      /var/lib/docker, ...) is moved into it, where the snapshot shows an
 *      empty directory in its place: nothing nested is lost, and a nested
 *      snapshot directory keeps the history listed. Users own directories on
 *      those paths, in the volume and in the snapshot: each is opened from
 *      the one above, and a symlink on the way refuses the rollback;
 *   3. one renameat2(RENAME_EXCHANGE) swaps the two: at no moment is the
 *      volume missing;
 *   4. what was the volume (now under the hidden name, its nested subvolumes
 *      gone, its content kept in the snapshot just taken) is deleted.
 * A journal beside the volume (.BASE.rollback.json, written before step 1)
 * names the plan and both subvolumes' uuids, so that after a kill at any
 * point btrfs_rollback_recover() completes the swap (the volume is the new
 * subvolume) or undoes it (the nested subvolumes go back; the new one goes).
 * A journal not written by us, or a hidden subvolume other than the one it
 * names, is not acted on.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>


#include <btrfsutil.h>
#include <json-c/json.h>

#include "backends/backend.h"
#include "base/fault.h"
#include "base/util.h"
#include "format/meta.h"
#include "os/mounts.h"

#include "btrfs_internal.h"

#define ROLLBACK_NESTED_MAX	256

/* What the last rollback made follow the new subvolume, for its words. */
static char rb_followed[200];

struct rb_plan {
	char dir[PATH_MAX];		/* the volume's parent directory */
	const char *base;		/* the volume's name in it */
	char journal[NAME_MAX + 1];	/* .BASE.rollback.json, in dir */
	char new_name[NAME_MAX + 1];	/* .BASE.rollback-new, in dir */
	char new_path[PATH_MAX];
	char old_uuid[UUID_STRING_LEN + 1];
	char new_uuid[UUID_STRING_LEN + 1];	/* "" until made */
	char target[SNAP_NAME_MAX + 1];
	char *nested[ROLLBACK_NESTED_MAX];	/* relative to the volume, outermost only */
	size_t n_nested;
};

/* "@a/@b" into @buf. Return: 0, or -ENAMETOOLONG. */
static int rb_path(char *buf, size_t len, const char *a, const char *b)
{
	return (size_t)snprintf(buf, len, "%s/%s", a, b) >= len ? -ENAMETOOLONG : 0;
}

static void rb_plan_done(struct rb_plan *p)
{
	for (size_t i = 0; i < p->n_nested; i++)
		free(p->nested[i]);
	p->n_nested = 0;
}

static int rb_names(const struct volume *v, struct rb_plan *p)
{
	const char *slash = strrchr(v->path, '/');

	if (!slash || !slash[1] || slash == v->path)
		return -EINVAL;
	snprintf(p->dir, sizeof(p->dir), "%.*s", (int)(slash - v->path), v->path);
	p->base = slash + 1;
	if ((size_t)snprintf(p->journal, sizeof(p->journal), ".%s.rollback.json", p->base) >=
		    sizeof(p->journal) ||
	    (size_t)snprintf(p->new_name, sizeof(p->new_name), ".%s.rollback-new", p->base) >=
		    sizeof(p->new_name))
		return -ENAMETOOLONG;
	return rb_path(p->new_path, sizeof(p->new_path), p->dir, p->new_name);
}

static int rb_uuid(const char *path, char out[UUID_STRING_LEN + 1])
{
	struct btrfs_util_subvolume_info info;

	if (btrfs_util_subvolume_info(path, 0, &info) != BTRFS_UTIL_OK)
		return -(errno ?: EIO);
	uuid_format(info.uuid, out);
	return 0;
}

static int rb_uuid_fd(int fd, char out[UUID_STRING_LEN + 1])
{
	struct btrfs_util_subvolume_info info;

	if (btrfs_util_subvolume_info_fd(fd, 0, &info) != BTRFS_UTIL_OK)
		return -(errno ?: EIO);
	uuid_format(info.uuid, out);
	return 0;
}

/* The subvolumes nested in @path, outermost only (the deeper ones move with them). */
static int rb_nested(const char *path, struct rb_plan *p, struct rerr *e)
{
	struct btrfs_util_subvolume_iterator *it;
	enum btrfs_util_error be;
	char *rel;
	uint64_t id;

	be = btrfs_util_create_subvolume_iterator(path, 0, 0, &it);
	if (be != BTRFS_UTIL_OK)
		return rerr_set(e, errno ?: EIO, "cannot list the subvolumes inside '%s' (%s)",
				path, btrfs_util_strerror(be));
	while ((be = btrfs_util_subvolume_iterator_next(it, &rel, &id)) == BTRFS_UTIL_OK) {
		bool inner = false;
		size_t n;

		for (size_t i = 0; i < p->n_nested; i++) {
			n = strlen(p->nested[i]);
			inner |= strncmp(rel, p->nested[i], n) == 0 && rel[n] == '/';
		}
		if (inner || p->n_nested == ROLLBACK_NESTED_MAX) {
			free(rel);
			if (!inner)
				break;
			continue;
		}
		p->nested[p->n_nested++] = rel;
	}
	btrfs_util_destroy_subvolume_iterator(it);
	if (be != BTRFS_UTIL_ERROR_STOP_ITERATION)
		return rerr_set(e, errno ?: E2BIG, "cannot list the subvolumes inside '%s'", path);
	return 0;
}

static int rb_journal_write(int dfd, const struct rb_plan *p, struct rerr *e)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	struct json_object *nested = json_object_new_array();
	const char *text;
	int r;

	if (!o || !nested || meta_add(o, "nested", nested) < 0) {
		if (!o)
			json_object_put(nested);
		return rerr_set(e, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < p->n_nested; i++)
		if (json_object_array_add(nested, json_object_new_string(p->nested[i])) < 0)
			return rerr_set(e, ENOMEM, "out of memory");
	if (meta_add(o, "format", json_object_new_int(1)) < 0 ||
	    meta_add(o, "target", json_object_new_string(p->target)) < 0 ||
	    meta_add(o, "old_uuid", json_object_new_string(p->old_uuid)) < 0 ||
	    meta_add(o, "new_uuid", json_object_new_string(p->new_uuid)) < 0)
		return rerr_set(e, ENOMEM, "out of memory");
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	r = write_file_atomic_at(dfd, p->journal, text, strlen(text), 0600);
	return r < 0 ? rerr_set(e, r, "cannot write '%s/%s'", p->dir, p->journal) : 0;
}

/* Return: 0, -EPERM for a journal that is not ours (then @st says whose), or -errno. */
static int rb_journal_read(int dfd, struct rb_plan *p, struct stat *st)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1;
	struct json_object *x, *nested;
	size_t len;
	int r;

	fd = openat(dfd, p->journal, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0)
		return -errno;
	if (!S_ISREG(st->st_mode))
		return -EINVAL;
	/* Planted (or linked) there by someone else, it would drive the moves of an undo. */
	if (st->st_uid != geteuid() || st->st_nlink != 1 || (st->st_mode & 022))
		return -EPERM;
	r = read_all_fd(fd, 1 << 20, &text, &len);
	if (r < 0)
		return r;
	o = json_tokener_parse(text);
	if (!o || !json_object_object_get_ex(o, "old_uuid", &x))
		return -EBADMSG;
	snprintf(p->old_uuid, sizeof(p->old_uuid), "%s", json_object_get_string(x));
	if (json_object_object_get_ex(o, "new_uuid", &x))
		snprintf(p->new_uuid, sizeof(p->new_uuid), "%s", json_object_get_string(x));
	if (json_object_object_get_ex(o, "target", &x))
		snprintf(p->target, sizeof(p->target), "%s", json_object_get_string(x));
	if (json_object_object_get_ex(o, "nested", &nested) &&
	    json_object_is_type(nested, json_type_array))
		for (size_t i = 0; i < json_object_array_length(nested) &&
				   p->n_nested < ROLLBACK_NESTED_MAX; i++) {
			const char *rel = json_object_get_string(json_object_array_get_idx(nested, i));

			/* Relative, without "..": the journal is ours, but checked all the same. */
			if (!rel || rel[0] == '/' || strstr(rel, ".."))
				return -EBADMSG;
			if (!(p->nested[p->n_nested++] = strdup(rel)))
				return -ENOMEM;
		}
	return 0;
}

/*
 * The directory that holds @rel's last component, opened beneath @root one
 * component at a time: no symlink, no "..", no mount on the way, so a path
 * through directories the volume's users own never leads elsewhere. With
 * @make, a missing directory is made. On failure @bad names the component
 * refused, or is "".
 * Return: an fd, or -errno (-ELOOP: a symlink; -ENOTDIR; -EXDEV: a mount point).
 */
static int rb_parent_at(int root, const char *rel, bool make, char *bad, size_t len)
{
	char buf[PATH_MAX];
	int fd;

	bad[0] = '\0';
	if ((size_t)snprintf(buf, sizeof(buf), "%s", rel) >= sizeof(buf))
		return -ENAMETOOLONG;
	fd = fcntl(root, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	for (char *comp = buf, *slash; (slash = strchr(comp, '/')); comp = slash + 1) {
		int next;

		*slash = '\0';
		next = open_beneath(fd, comp, O_RDONLY | O_DIRECTORY, 0);
		if (next == -ENOENT && make && (mkdirat(fd, comp, 0755) == 0 || errno == EEXIST))
			next = open_beneath(fd, comp, O_RDONLY | O_DIRECTORY, 0);
		if (next < 0) {
			struct stat st;

			/* O_DIRECTORY says ENOTDIR for a symlink it does not follow. */
			if (next == -ENOTDIR && fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode))
				next = -ELOOP;
			close(fd);
			snprintf(bad, len, "%s", buf);
			return next;
		}
		close(fd);
		*slash = '/';
		fd = next;
	}
	return fd;
}

/*
 * Moves the subvolume @rel beneath @from to the same place beneath @to, by fds
 * only. With @placeholder, an empty directory there (what a snapshot shows in
 * place of a nested subvolume) goes first; nothing else is ever replaced.
 * On failure @bad names what was refused and *@in_to says beneath which.
 * Return: 0 or -errno.
 */
static int rb_carry(int from, int to, const char *rel, bool placeholder, char *bad, size_t len,
		    bool *in_to)
{
	_cleanup_close_ int sp = -1, dp = -1;
	const char *slash = strrchr(rel, '/'), *base = slash ? slash + 1 : rel;
	struct stat st;

	*in_to = false;
	sp = rb_parent_at(from, rel, false, bad, len);
	if (sp < 0)
		return sp;
	if (fstatat(sp, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_ino != BTRFS_SUBVOL_INO) {
		snprintf(bad, len, "%s", rel);
		return S_ISLNK(st.st_mode) ? -ELOOP : -EINVAL;
	}
	*in_to = true;
	dp = rb_parent_at(to, rel, true, bad, len);
	if (dp < 0)
		return dp;
	/* Removes an empty directory only: never content, never through a symlink. */
	if (placeholder)
		(void) unlinkat(dp, base, AT_REMOVEDIR);
	if (renameat2(sp, base, dp, base, RENAME_NOREPLACE) < 0) {
		int r = -errno;

		if (fstatat(dp, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			snprintf(bad, len, "%s", rel);
			return S_ISLNK(st.st_mode) ? -ELOOP : -EEXIST;
		}
		return r;
	}
	return 0;
}

/*
 * Why the nested subvolume @rel could not be carried over (or @back): what
 * rb_carry() said (@r, @bad), @bad being in @where.
 */
static int rb_carry_fail(const struct volume *v, const char *rel, int r, const char *bad,
			 const char *where, bool back, struct rerr *e)
{
	const char *what;

	switch (-r) {
	case ELOOP:
		what = "is a symlink";
		break;
	case ENOTDIR:
		what = "is not a directory";
		break;
	case EXDEV:
		what = "is a mount point";
		break;
	case EEXIST:
		what = "is in the way";
		break;
	case EINVAL:
		what = "is not a subvolume";
		break;
	default:
		what = NULL;
	}
	if (what && bad[0])
		return rerr_say(e, -r, "%s: cannot carry the nested subvolume '%s' %s: '%s' %s in %s; "
				"%s", v->name, rel, back ? "back" : "over", bad, what, where,
				back ? "the interrupted rollback is left as it is" :
				"refusing to roll back");
	return rerr_set(e, r, "%s: cannot carry the nested subvolume '%s' %s", v->name, rel,
			back ? "back" : "over");
}

/*
 * "subvolid=@old" among @line's mount options becomes "subvolid=@new".
 * Return: whether it did.
 */
static bool rb_fstab_line(char *line, size_t cap, uint64_t old, uint64_t new)
{
	char want[40], *p = line;

	snprintf(want, sizeof(want), "subvolid=%llu", (unsigned long long)old);
	while ((p = strstr(p, want))) {
		char end = p[strlen(want)];

		if ((p == line || p[-1] == ',' || p[-1] == ' ' || p[-1] == '\t') &&
		    (end == ',' || end == ' ' || end == '\t' || end == '\n' || end == '\0')) {
			char rest[4096], rep[40];

			snprintf(rest, sizeof(rest), "%s", p + strlen(want));
			snprintf(rep, sizeof(rep), "subvolid=%llu", (unsigned long long)new);
			if ((size_t)(p - line) + strlen(rep) + strlen(rest) + 1 > cap)
				return false;
			sprintf(p, "%s%s", rep, rest);
			return true;
		}
		p += strlen(want);
	}
	return false;
}

/*
 * What would still mount the old subvolume follows the new one: the
 * filesystem's default subvolume (root mounted without subvol=), and a
 * subvolid= in the new content's own /etc/fstab (a root that pins its id).
 * Run after the exchange, again after a kill: each step is idempotent.
 */
static void rb_follow(const struct volume *v, int old_fd, char *said, size_t len)
{
	_cleanup_free_ char *text = NULL, *out = NULL;
	_cleanup_close_ int etc = -1;
	uint64_t old_id, new_id, def;
	size_t tlen, off = 0;
	bool changed = false;

	said[0] = '\0';
	if (btrfs_util_subvolume_id_fd(old_fd, &old_id) != BTRFS_UTIL_OK ||
	    btrfs_util_subvolume_id(v->path, &new_id) != BTRFS_UTIL_OK)
		return;
	if (btrfs_util_get_default_subvolume(v->path, &def) == BTRFS_UTIL_OK && def == old_id &&
	    btrfs_util_set_default_subvolume(v->path, new_id) == BTRFS_UTIL_OK)
		off += (size_t)snprintf(said + off, len - off, "; it is the default subvolume now");
	etc = open(v->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (etc >= 0) {
		/* The new content's own files: no symlink in it leads elsewhere. */
		int fd = open_beneath(etc, "etc", O_RDONLY | O_DIRECTORY, 0);

		close(etc);
		etc = fd;
	}
	if (etc < 0 || read_regular_beneath(etc, "fstab", 1 << 20, &text, &tlen) < 0 ||
	    !(out = malloc(tlen * 2 + 64)))
		return;
	out[0] = '\0';
	/* strsep keeps empty lines; a line too long for the buffer is left as it is. */
	for (char *rest = text, *line; (line = strsep(&rest, "\n")) && (rest || *line); ) {
		char buf[4096];

		if (strlen(line) < sizeof(buf) - 64 && line[0] != '#') {
			snprintf(buf, sizeof(buf), "%s", line);
			if (rb_fstab_line(buf, sizeof(buf), old_id, new_id)) {
				changed = true;
				line = buf;
			}
		}
		strcat(strcat(out, line), "\n");
	}
	if (changed && write_file_atomic_at(etc, "fstab", out, strlen(out), 0644) == 0 && off < len)
		snprintf(said + off, len - off, "; its /etc/fstab mounts subvolid=%llu now",
			 (unsigned long long)new_id);
}

/*
 * Complete or undo the rollback journalled beside @v->path. @keep_id: a
 * subvolume still mounted (the running root before its reboot), which stays,
 * with its journal, until a later run finds it unmounted.
 */
static int rb_recover(const struct volume *v, uint64_t keep_id, char *note, size_t len,
		      struct rerr *e)
{
	_cleanup_close_ int dfd = -1, hfd = -1;
	struct rb_plan p = { 0 };
	char now_uuid[UUID_STRING_LEN + 1] = "", hid_uuid[UUID_STRING_LEN + 1] = "";
	char followed[200] = "";
	const char *want;
	struct stat st;
	bool swapped;
	int r;

	note[0] = '\0';
	if (rb_names(v, &p) < 0)
		return 0;
	dfd = open(p.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return 0;
	{
		char tmp[NAME_MAX + 8];

		/* A journal whose writing a kill cut: never renamed, so never in force. */
		snprintf(tmp, sizeof(tmp), ".%.*s.tmp", NAME_MAX - 6, p.journal);
		(void) unlinkat(dfd, tmp, 0);
	}
	if (fstatat(dfd, p.journal, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	r = rb_journal_read(dfd, &p, &st);
	if (r == -EPERM) {
		rb_plan_done(&p);
		return rerr_say(e, EPERM, "%s: '%s/%s' is not a rollback journal of snaprotate's "
				"(owner uid %u, mode %04o, link count %lu), not acted on: remove it if no "
				"rollback of '%s' is under way", v->name, p.dir, p.journal,
				(unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
				(unsigned long)st.st_nlink, v->path);
	}
	if (r < 0) {
		rb_plan_done(&p);
		return rerr_set(e, -r, "%s: cannot read the rollback journal '%s/%s'", v->name,
				p.dir, p.journal);
	}
	(void) rb_uuid(v->path, now_uuid);
	swapped = p.new_uuid[0] && streq(now_uuid, p.new_uuid);
	/* The hidden subvolume: the old one once swapped, else the new one (if made). */
	if (fstatat(dfd, p.new_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		want = swapped ? p.old_uuid : p.new_uuid;
		hfd = open_beneath(dfd, p.new_name, O_RDONLY | O_DIRECTORY, 0);
		if (hfd < 0 || fstat(hfd, &st) < 0 || st.st_ino != BTRFS_SUBVOL_INO ||
		    rb_uuid_fd(hfd, hid_uuid) < 0 || (want[0] && !streq(hid_uuid, want))) {
			r = rerr_say(e, EINVAL, "%s: '%s' is not the subvolume the rollback journal "
				     "'%s/%s' names, not acted on: look at both, and remove them if no "
				     "rollback of '%s' is under way", v->name, p.new_path, p.dir, p.journal, v->path);
			rb_plan_done(&p);
			return r;
		}
	}
	if (swapped && hfd >= 0) {
		uint64_t old_id = 0;

		rb_follow(v, hfd, followed, sizeof(followed));
		FAULT("rollback.followed");
		snprintf(rb_followed, sizeof(rb_followed), "%s", followed);
		if (keep_id && btrfs_util_subvolume_id_fd(hfd, &old_id) == BTRFS_UTIL_OK &&
		    old_id == keep_id) {
			snprintf(note, len, "%s: rolled back to %s%s; the old subvolume is still "
				 "mounted: it is deleted by the first run after the next boot (or "
				 "remount)", v->name, p.target[0] ? p.target : "?", followed);
			rb_plan_done(&p);
			return 2;
		}
	}
	if (!swapped && hfd >= 0 && p.new_uuid[0]) {
		/* Undo: what was carried goes back (where nothing is now); then the new one goes. */
		_cleanup_close_ int vfd = open(v->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		r = vfd < 0 ? rerr_set(e, errno, "%s: cannot open '%s'", v->name, v->path) : 0;
		for (size_t i = 0; vfd >= 0 && i < p.n_nested; i++) {
			char bad[PATH_MAX], where[PATH_MAX + 2];
			bool in_to;
			int k = rb_carry(hfd, vfd, p.nested[i], false, bad, sizeof(bad), &in_to);

			/* Not in the new one (never carried): nothing to bring back. */
			if (k < 0 && in_to && r == 0) {
				snprintf(where, sizeof(where), "'%s'", v->path);
				r = rb_carry_fail(v, p.nested[i], k, bad, where, true, e);
			}
		}
		if (r < 0) {
			rb_plan_done(&p);
			return r;
		}
	}
	if (hfd >= 0 && btrfs_util_delete_subvolume_fd(dfd, p.new_name, 0) != BTRFS_UTIL_OK) {
		r = rerr_set(e, errno ?: EIO, "%s: cannot delete '%s' after an interrupted rollback",
			     v->name, p.new_path);
		rb_plan_done(&p);
		return r;
	}
	FAULT("rollback.deleted");
	if (unlinkat(dfd, p.journal, 0) < 0 || fsync(dfd) < 0)
		r = rerr_set(e, errno, "%s: cannot remove '%s/%s'", v->name, p.dir, p.journal);
	else
		snprintf(note, len, "%s: an interrupted rollback to %s was %s%s", v->name,
			 p.target[0] ? p.target : "?", swapped ? "completed" : "undone", followed);
	rb_plan_done(&p);
	return r < 0 ? r : 1;
}

static int rb_name_is(void *user, uint64_t child, uint64_t dirid, const char *name, size_t len)
{
	const char *want = user;

	(void) child;
	(void) dirid;
	return len == strlen(want) && memcmp(name, want, len) == 0;
}

/* Whether subvolume @parent_id has a child subvolume called @name. */
static bool rb_child_exists(int fd, uint64_t parent_id, const char *name)
{
	return btrfs_root_refs(fd, parent_id, rb_name_is, (void *)name) == 1;
}

/*
 * A mounted volume (the running root, /home) cannot be swapped under its
 * mount: the same steps run on its subvolume in the filesystem's top level,
 * mounted (subvolid=5) in a mount namespace of this process's own; @w is @v
 * with that path. The mount goes with the process.
 */
static char rb_top[] = "/run/snaprotate/top.XXXXXX";

static void rb_top_cleanup(void)
{
	(void) umount2(rb_top, MNT_DETACH);
	(void) rmdir(rb_top);
}

static int rb_top_level(const struct volume *v, const struct mount_info *m, struct volume *w,
			char *path, size_t len, struct rerr *e)
{
	char *top = rb_top;

	if (!strstr(rb_top, "XXXXXX")) {
		/* Mounted once already by this process (recovery, then the rollback). */
		goto named;
	}
	(void) mkdir("/run/snaprotate", 0700);
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return rerr_set(e, errno, "%s: cannot make a mount namespace of its own", v->name);
	if (!mkdtemp(top))
		return rerr_set(e, errno, "%s: cannot make '%s'", v->name, top);
	if (mount(m->source, top, "btrfs", 0, "subvolid=5") < 0) {
		int r = rerr_set(e, errno, "%s: cannot mount the top level of %s", v->name,
				 m->source);

		(void) rmdir(top);
		return r;
	}
	atexit(rb_top_cleanup);
named:
	if ((size_t)snprintf(path, len, "%s%s", top, m->root) >= len)
		return rerr_set(e, ENAMETOOLONG, "%s: path too long", v->name);
	*w = *v;
	w->path = path;
	return 0;
}

/*
 * The mounted subvolume's path from the top level, as the volume's: after a
 * swap, the mount table shows the old subvolume under the hidden name, which
 * means a rollback waits for the next mount (@pending).
 */
static int rb_mount_root(const struct mount_info *m, char *root, size_t len, bool *pending)
{
	const char *slash = strrchr(m->root, '/');
	const char *base = slash ? slash + 1 : m->root;
	size_t n = strlen(base), tail = strlen(".rollback-new");

	*pending = n > tail + 1 && base[0] == '.' && streq(base + n - tail, ".rollback-new");
	if (!*pending)
		return (size_t)snprintf(root, len, "%s", m->root) >= len ? -ENAMETOOLONG : 0;
	return (size_t)snprintf(root, len, "%.*s%.*s", (int)(base - m->root), m->root,
				(int)(n - tail - 1), base + 1) >= len ? -ENAMETOOLONG : 0;
}

int btrfs_rollback_recover(const struct volume *v, char *note, size_t len, struct rerr *e)
{
	struct mount_info m = { 0 };
	struct btrfs_util_subvolume_info info;
	char path[PATH_MAX], name[NAME_MAX + 1], root[PATH_MAX];
	_cleanup_close_ int fd = -1;
	const char *base;
	struct volume w;
	uint64_t mounted_id = 0;
	bool pending;
	int r;

	note[0] = '\0';
	if (mounts_find(v->path, &m, NULL) < 0 || !streq(m.target, v->path) || !m.root ||
	    streq(m.root, "/")) {
		mount_info_done(&m);
		return rb_recover(v, 0, note, len, e);
	}
	/*
	 * Mounted: the top level is mounted only when a rollback is under way, that
	 * is, when the mount shows the old subvolume's hidden name (it waits for the
	 * next mount), or when its parent holds that name (it was swapped since).
	 */
	if (rb_mount_root(&m, root, sizeof(root), &pending) < 0) {
		mount_info_done(&m);
		return 0;
	}
	base = strrchr(root, '/') + 1;
	fd = open(v->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || btrfs_util_subvolume_info_fd(fd, 0, &info) != BTRFS_UTIL_OK ||
	    (size_t)snprintf(name, sizeof(name), ".%s.rollback-new", base) >= sizeof(name) ||
	    (!pending && !rb_child_exists(fd, info.parent_id, name))) {
		mount_info_done(&m);
		return 0;
	}
	free(m.root);
	m.root = strdup(root);
	mounted_id = info.id;
	r = rb_top_level(v, &m, &w, path, sizeof(path), e);
	mount_info_done(&m);
	return r < 0 ? r : rb_recover(&w, mounted_id, note, len, e);
}

/* Steps 1-3 from @vfd (the volume) and @sfd (the target); journalled before each change. */
static int rb_swap(const struct volume *v, int vfd, int sfd, const char *src, struct rb_plan *p,
		   int dfd, struct rerr *e)
{
	_cleanup_close_ int nfd = -1;
	enum btrfs_util_error be;
	int r;

	r = rb_journal_write(dfd, p, e);
	if (r < 0)
		return r;
	be = btrfs_util_create_snapshot_fd2(sfd, dfd, p->new_name, 0, NULL, NULL);
	if (be != BTRFS_UTIL_OK)
		return rerr_set(e, errno ?: EIO, "%s: cannot snapshot '%s' as '%s' (%s)", v->name,
				src, p->new_path, btrfs_util_strerror(be));
	FAULT("rollback.snapshotted");
	nfd = open_beneath(dfd, p->new_name, O_RDONLY | O_DIRECTORY, 0);
	r = nfd < 0 ? nfd : rb_uuid_fd(nfd, p->new_uuid);
	if (r == 0)
		r = rb_journal_write(dfd, p, e);
	else
		r = rerr_set(e, -r, "%s: cannot read '%s'", v->name, p->new_path);
	for (size_t i = 0; r == 0 && i < p->n_nested; i++) {
		char bad[PATH_MAX];
		bool in_to;

		r = rb_carry(vfd, nfd, p->nested[i], true, bad, sizeof(bad), &in_to);
		if (r < 0) {
			char where[PATH_MAX + SNAP_NAME_MAX + 40];

			if (in_to)
				snprintf(where, sizeof(where), "%s, the snapshot rolled back to",
					 p->target);
			else
				snprintf(where, sizeof(where), "'%s'", v->path);
			r = rb_carry_fail(v, p->nested[i], r, bad, where, false, e);
		} else {
			FAULT("rollback.carried");
		}
	}
	if (r == 0 && renameat2(dfd, p->base, dfd, p->new_name, RENAME_EXCHANGE) < 0)
		r = rerr_set(e, errno, "%s: cannot exchange '%s' and '%s'", v->name, v->path,
			     p->new_path);
	if (r == 0)
		FAULT("rollback.exchanged");
	if (r == 0 && fsync(dfd) < 0)
		r = rerr_set(e, errno, "%s: cannot sync '%s'", v->name, p->dir);
	return r;
}

/*
 * The target's subvolume, opened from the snapshot directory's fd: a symlink
 * at NAME or NAME/snapshot, or another subvolume put in its place since it was
 * listed, is refused. Return: its fd, or -errno with @e.
 */
static int rb_open_target(const struct volume *v, const struct snapshot *s, const char *src,
			  struct rerr *e)
{
	_cleanup_close_ int dir = -1, fd = -1;
	char rel[SNAP_NAME_MAX + sizeof("/" SNAPSHOT_SUBVOL)], uuid[UUID_STRING_LEN + 1];
	struct stat st;
	int r;

	dir = btrfs_open_dir(v, false, e);
	if (dir == -ENOENT)
		return rerr_set(e, ENOENT, "%s: cannot open snapshot_dir '%s'", v->name,
				v->snapshot_dir);
	if (dir < 0)
		return dir;
	if ((size_t)snprintf(rel, sizeof(rel), "%s/%s", s->name, SNAPSHOT_SUBVOL) >= sizeof(rel))
		return rerr_set(e, ENAMETOOLONG, "%s: cannot open '%s'", v->name, src);
	fd = open_beneath(dir, rel, O_RDONLY | O_DIRECTORY, 0);
	if (fd == -ENOTDIR && fstatat(dir, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		fd = -ELOOP;
	if (fd == -ELOOP)
		return rerr_say(e, ELOOP, "%s: '%s' is or passes through a symlink: refusing to roll "
				"back to it", v->name, src);
	if (fd < 0)
		return rerr_set(e, -fd, "%s: cannot open '%s'", v->name, src);
	if (fstat(fd, &st) < 0)
		return rerr_set(e, errno, "%s: cannot open '%s'", v->name, src);
	if (st.st_ino != BTRFS_SUBVOL_INO)
		return rerr_say(e, EINVAL, "%s: '%s' is not a subvolume: refusing to roll back to it",
				v->name, src);
	r = rb_uuid_fd(fd, uuid);
	if (r < 0)
		return rerr_set(e, -r, "%s: cannot read '%s'", v->name, src);
	if (!s->uuid || strcasecmp(uuid, s->uuid) != 0)
		return rerr_say(e, EINVAL, "%s: '%s' is subvolume %s, not %s that %s was taken as: "
				"refusing to roll back to it", v->name, src, uuid,
				s->uuid ? s->uuid : "(none recorded)", s->name);
	return TAKE_FD(fd);
}

int btrfs_be_rollback(const struct volume *v, const struct snapshot *s,
		      enum rollback_result *ret, struct rerr *e)
{
	struct mount_info m = { 0 };
	_cleanup_close_ int dfd = -1, vfd = -1, sfd = -1;
	struct rb_plan p = { 0 };
	char src[PATH_MAX], note[400], top_path[PATH_MAX];
	struct volume w;
	uint64_t mounted_id = 0;
	int r;

	rb_followed[0] = '\0';
	r = btrfs_rollback_recover(v, note, sizeof(note), e);
	if (r < 0)
		return r;
	if (r == 2)
		return rerr_say(e, EBUSY, "%s: an earlier rollback waits for '%s' to be mounted again "
				"(reboot, or remount it); roll back after that", v->name, v->path);
	if (mounts_find(v->path, &m, NULL) == 0 && streq(m.target, v->path) && m.root) {
		bool pending;
		char root[PATH_MAX];

		if (rb_mount_root(&m, root, sizeof(root), &pending) == 0) {
			free(m.root);
			m.root = strdup(root);
		}
		if (!m.root || streq(m.root, "/")) {
			mount_info_done(&m);
			return rerr_say(e, EOPNOTSUPP, "%s: '%s' is the top level of its filesystem, "
					"which has no name to swap", v->name, v->path);
		}
		(void) btrfs_util_subvolume_id(v->path, &mounted_id);
		r = rb_top_level(v, &m, &w, top_path, sizeof(top_path), e);
		mount_info_done(&m);
		if (r < 0)
			return r;
		v = &w;
	} else {
		mount_info_done(&m);
	}
	if (rb_names(v, &p) < 0)
		return rerr_set(e, EINVAL, "%s: cannot roll back '%s'", v->name, v->path);
	snprintf(p.target, sizeof(p.target), "%s", s->name);
	snprintf(src, sizeof(src), "%s/%s/" SNAPSHOT_SUBVOL, v->snapshot_dir, s->name);
	sfd = rb_open_target(v, s, src, e);
	if (sfd < 0)
		return sfd;
	dfd = open(p.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return rerr_set(e, errno, "%s: cannot open '%s'", v->name, p.dir);
	vfd = open(v->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (vfd < 0)
		return rerr_set(e, errno, "%s: cannot open '%s'", v->name, v->path);
	r = rb_uuid_fd(vfd, p.old_uuid);
	if (r < 0)
		return rerr_set(e, -r, "%s: cannot read '%s'", v->name, v->path);
	r = rb_nested(v->path, &p, e);
	if (r == 0)
		r = rb_swap(v, vfd, sfd, src, &p, dfd, e);
	if (r < 0) {
		/* Undone now, as the next run would; the snapshot of the state before stays. */
		struct rerr ue = { 0 };

		(void) rb_recover(v, mounted_id, note, sizeof(note), &ue);
		rb_plan_done(&p);
		return r;
	}
	/* Step 4: the old volume, which the snapshot just taken holds (unless still mounted). */
	r = rb_recover(v, mounted_id, note, sizeof(note), e);
	rb_plan_done(&p);
	if (r < 0)
		return r;
	*ret = r == 2 ? ROLLBACK_AT_ACTIVATION : ROLLBACK_DONE;
	return 0;
}

void btrfs_be_rollback_words(const struct volume *v, const struct snapshot *s,
			     const enum rollback_result *result, char *buf, size_t len)
{
	struct rb_plan p = { 0 };
	struct rerr e = { 0 };

	(void) rb_nested(v->path, &p, &e);
	if (result && *result == ROLLBACK_AT_ACTIVATION) {
		snprintf(buf, len, "%s holds %s from its next mount on (reboot, or remount it): a "
			 "writable snapshot of it took the mounted subvolume's place in the top level; "
			 "the subvolumes nested in it were carried over%s", v->path, s->name,
			 rb_followed);
	} else if (result) {
		snprintf(buf, len, "%s now holds %s (a writable snapshot of it took its place; the "
			 "subvolumes nested in it were carried over)%s", v->path, s->name, rb_followed);
	} else {
		size_t off = (size_t)snprintf(buf, len, "make a writable snapshot of %s beside %s, "
					      "carry over the subvolumes nested in it", s->name,
					      v->path);

		for (size_t i = 0; i < p.n_nested && off < len; i++)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : " (",
						p.nested[i]);
		if (p.n_nested && off < len)
			off += (size_t)snprintf(buf + off, len - off, ")");
		if (off < len)
			snprintf(buf + off, len - off, ", exchange the two (renameat2 "
				 "RENAME_EXCHANGE), make the default subvolume and a subvolid= in its "
				 "/etc/fstab follow when they named the old one, delete the old one");
	}
	rb_plan_done(&p);
}
