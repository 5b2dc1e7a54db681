/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Rescue mode (SPEC 7): with a btrfs top level (subvolid 5) mounted and no
 * config, the volumes and their snapshot directories are found from the
 * snapshots' info.json alone, in any layout (flat @/@home/@snapshots, nested
 * .snapshots, Fedora's root/home): every subvolume NAME/snapshot beside a
 * NAME/info.json of ours is a snapshot; its directory is the volume's
 * snapshot_dir, and the volume's subvolume is the one info.json names
 * ("source", or else the subvolume whose uuid is the snapshot's parent_uuid).
 * A target's copies (received subvolumes) are not volumes and are left out.
 * The result is the text of a config, so that every command then works as
 * with one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <btrfsutil.h>
#include <json-c/json.h>
#include <linux/btrfs_tree.h>

#include "backends/backend.h"
#include "base/util.h"
#include "format/meta.h"
#include "model/stamp.h"

#include "btrfs_internal.h"

#define RESCUE_MAX	4096

struct rescue_subvol {
	char *path;			/* from the top level */
	char uuid[UUID_STRING_LEN + 1];
};

struct rescue_volume {
	char name[VOLUME_NAME_MAX + 1];
	char *snapshot_dir;		/* from the top level */
	char *source;			/* from the newest snapshot that names it */
	char parent_uuid[UUID_STRING_LEN + 1];
	time_t newest;
};

struct rescue {
	struct rescue_subvol sub[RESCUE_MAX];
	size_t n_sub;
	struct rescue_volume vol[256];
	size_t n_vol;
};

static bool rescue_uuid_null(const uint8_t u[16])
{
	for (int i = 0; i < 16; i++)
		if (u[i])
			return false;
	return true;
}

/*
 * One snapshot: NAME/info.json beside the subvolume @rel ("DIR/NAME/snapshot"),
 * read beneath the top level @mfd: users make subvolumes and directories
 * anywhere, so no symlink is followed and only a small regular file is read
 * (a FIFO there never blocks the scan).
 */
static void rescue_snapshot(struct rescue *x, int mfd, const char *rel)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	_cleanup_free_ char *text = NULL;
	char path[PATH_MAX], dir[PATH_MAX];
	struct json_object *f;
	const char *vol, *src, *slash, *created;
	struct rescue_volume *v = NULL;
	time_t t = 0;

	if ((size_t)snprintf(path, sizeof(path), "%.*s/" META_FILE,
			     (int)(strlen(rel) - strlen("/" SNAPSHOT_SUBVOL)), rel) >= sizeof(path))
		return;
	if (read_regular_beneath(mfd, path, META_MAX_SIZE, &text, NULL) < 0)
		return;
	o = json_tokener_parse(text);
	if (!o || !json_object_object_get_ex(o, "volume", &f) || !(vol = json_object_get_string(f)) ||
	    strlen(vol) > VOLUME_NAME_MAX)
		return;
	snprintf(dir, sizeof(dir), "%.*s", (int)(strlen(rel) - strlen("/" SNAPSHOT_SUBVOL)), rel);
	slash = strrchr(dir, '/');
	if (!slash || snap_name_parse(vol, slash + 1, NULL, NULL) < 0)
		return;
	dir[slash - dir] = '\0';
	for (size_t i = 0; i < x->n_vol; i++)
		if (streq(x->vol[i].name, vol) && streq(x->vol[i].snapshot_dir, dir))
			v = &x->vol[i];
	if (!v) {
		if (x->n_vol == ARRAY_SIZE(x->vol) || !(x->vol[x->n_vol].snapshot_dir = strdup(dir)))
			return;
		v = &x->vol[x->n_vol++];
		snprintf(v->name, sizeof(v->name), "%s", vol);
	}
	if (json_object_object_get_ex(o, "created", &f) && (created = json_object_get_string(f)))
		(void) time_parse_iso(created, &t);
	if (v->source && t < v->newest)
		return;
	v->newest = t;
	if (json_object_object_get_ex(o, "source", &f) && (src = json_object_get_string(f))) {
		free(v->source);
		v->source = strdup(src);
	}
	if (json_object_object_get_ex(o, "parent_uuid", &f) && json_object_get_string(f))
		snprintf(v->parent_uuid, sizeof(v->parent_uuid), "%s", json_object_get_string(f));
}

/* Every subvolume below the top level; the snapshots among them are read. */
static int rescue_scan(struct rescue *x, const char *mnt, struct rerr *e)
{
	struct btrfs_util_subvolume_iterator *it;
	struct btrfs_util_subvolume_info info;
	_cleanup_close_ int mfd = -1;
	enum btrfs_util_error be;
	char *rel;

	mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return rerr_set(e, errno, "--fs '%s': cannot open it", mnt);
	be = btrfs_util_create_subvolume_iterator_fd(mfd, BTRFS_FS_TREE_OBJECTID, 0, &it);
	if (be != BTRFS_UTIL_OK)
		return rerr_set(e, errno ?: EIO, "--fs '%s': cannot list its subvolumes (%s)", mnt,
				btrfs_util_strerror(be));
	while ((be = btrfs_util_subvolume_iterator_next_info(it, &rel, &info)) == BTRFS_UTIL_OK) {
		size_t n = strlen(rel);
		bool snap = n > strlen("/" SNAPSHOT_SUBVOL) &&
			    streq(rel + n - strlen("/" SNAPSHOT_SUBVOL), "/" SNAPSHOT_SUBVOL);

		/* A received subvolume is a target's copy, not a snapshot of a volume here. */
		if (snap && rescue_uuid_null(info.received_uuid))
			rescue_snapshot(x, mfd, rel);
		if (x->n_sub < RESCUE_MAX) {
			x->sub[x->n_sub].path = rel;
			uuid_format(info.uuid, x->sub[x->n_sub++].uuid);
		} else {
			free(rel);
		}
	}
	btrfs_util_destroy_subvolume_iterator(it);
	/* A listing cut short would hide volumes: said, not taken for the whole. */
	if (be != BTRFS_UTIL_ERROR_STOP_ITERATION)
		return rerr_set(e, errno ?: EIO, "--fs '%s': cannot list its subvolumes (%s)", mnt,
				btrfs_util_strerror(be));
	return 0;
}

static const char *rescue_source(const struct rescue *x, const struct rescue_volume *v)
{
	for (size_t i = 0; v->source && i < x->n_sub; i++)
		if (streq(x->sub[i].path, v->source))
			return v->source;
	for (size_t i = 0; v->parent_uuid[0] && i < x->n_sub; i++)
		if (streq(x->sub[i].uuid, v->parent_uuid))
			return x->sub[i].path;
	return NULL;
}

int btrfs_rescue_config(const char *fs, char **ret_text, char **ret_notes, struct rerr *e)
{
	_cleanup_free_ struct rescue *x = calloc(1, sizeof(*x));
	char mnt[PATH_MAX];
	uint64_t id;
	size_t tlen = 0, nlen = 0;
	char *text = NULL, *notes = NULL;
	FILE *t, *n;

	if (!x)
		return rerr_set(e, ENOMEM, "out of memory");
	if (!realpath(fs, mnt))
		return rerr_usage(e, errno, "--fs '%s' %s", fs,
				  errno == ENOENT ? "does not exist" : "cannot be resolved");
	if (btrfs_util_subvolume_id(mnt, &id) != BTRFS_UTIL_OK)
		return rerr_usage(e, ENOTTY, "--fs '%s' is not on btrfs", fs);
	if (id != BTRFS_FS_TREE_OBJECTID)
		return rerr_usage(e, EINVAL, "--fs '%s' is subvolume %llu, not the top level: mount "
				  "it with -o subvolid=5", fs, (unsigned long long)id);
	if (rescue_scan(x, mnt, e) < 0)
		return -e->code;
	t = open_memstream(&text, &tlen);
	n = open_memstream(&notes, &nlen);
	if (!t || !n) {
		if (t)
			fclose(t);
		free(text);
		return rerr_set(e, ENOMEM, "out of memory");
	}
	/* Nothing is written on the rescued disk but what a command does to its volumes. */
	fprintf(t, "[global]\nlock_dir = /run/snaprotate\nstate_dir = /run/snaprotate/rescue\n");
	for (size_t i = 0; i < x->n_vol; i++) {
		const struct rescue_volume *v = &x->vol[i];
		const char *src = rescue_source(x, v);
		bool dup = false;

		for (size_t k = 0; k < i; k++)
			dup |= streq(x->vol[k].name, v->name);
		if (dup || !src) {
			fprintf(n, "--fs: snapshots of '%s' in '%s' left out: %s\n", v->name,
				v->snapshot_dir, dup ? "another directory holds a volume of that name"
						      : "its subvolume is not there any more");
			continue;
		}
		fprintf(t, "\n[volume %s]\nbackend = btrfs\npath = %s/%s\nsnapshot_dir = %s/%s\n",
			v->name, mnt, src, mnt, v->snapshot_dir);
	}
	for (size_t i = 0; i < x->n_vol; i++) {
		free(x->vol[i].snapshot_dir);
		free(x->vol[i].source);
	}
	for (size_t i = 0; i < x->n_sub; i++)
		free(x->sub[i].path);
	if (fclose(t) != 0 || fclose(n) != 0) {
		free(text);
		free(notes);
		return rerr_set(e, ENOMEM, "out of memory");
	}
	*ret_text = text;
	*ret_notes = notes;
	return 0;
}
