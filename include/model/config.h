/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rotate.conf (SPEC 3), parsed with inih into struct config. Parsing checks
 * everything that can be checked from the text; config_probe() adds what needs
 * the machine (mounts, same filesystem). Every error names FILE:LINE.
 */
#ifndef SNAPROTATE_CONFIG_H
#define SNAPROTATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/util.h"
#include "model/policy.h"

#define CONFIG_DEFAULT_PATH	"/etc/snaprotate/rotate.conf"
#define GROUP_MAX		64	/* volumes in one group */

enum backend_kind {
	BACKEND_BTRFS,
	BACKEND_LVM,
	_BACKEND_KIND_MAX,
};

enum min_free_unit {
	MIN_FREE_NONE,
	MIN_FREE_PERCENT,
	MIN_FREE_BYTES,
};

struct min_free {
	enum min_free_unit unit;
	uint64_t value;		/* percent (0-100) or bytes */
};

/* Keys of a [volume] section; key_line[] remembers where each was set. */
enum volume_key {
	VKEY_BACKEND,
	VKEY_PATH,
	VKEY_SNAPSHOT_DIR,
	VKEY_LV,
	VKEY_SNAPSHOT_SIZE,
	VKEY_PRE_HOOK,
	VKEY_POST_HOOK,
	VKEY_RETAIN,
	VKEY_RETAIN_MIN,
	VKEY_RETAIN_PRE_POST,
	VKEY_RETAIN_MANUAL,
	VKEY_TARGETS,
	VKEY_RPO,
	VKEY_INTERVAL,
	VKEY_MAX_DELETE,
	VKEY_DELETE_BATCH,
	VKEY_MIN_FREE,
	VKEY_THIN_POOL_MAX,
	VKEY_PKG_SNAPSHOTS,
	VKEY_PKG_REQUIRED,
	VKEY_PKG_IN_CHROOT,
	_VKEY_MAX,
};

struct backend;		/* backends/backend.h */
struct group;
struct target;

struct volume {
	char *name;
	unsigned line;			/* of the section header */
	enum backend_kind backend;
	char *path;			/* btrfs: the mounted subvolume */
	char *snapshot_dir;		/* btrfs: default PATH/.snapshots */
	char *lv;			/* lvm: "vg0/data" */
	char *snapshot_size;		/* lvm thick: "20%ORIGIN", "10G" */
	char **pre_hooks;		/* run in order before the snapshot */
	size_t n_pre_hooks;
	char **post_hooks;		/* after it, whenever the pre hooks ran */
	size_t n_post_hooks;
	struct policy policy;
	char **targets;
	size_t n_targets;
	int64_t rpo;			/* seconds, 0 none */
	int64_t interval;		/* seconds, 0: by the finest bucket */
	long max_delete;		/* -1 no cap */
	unsigned delete_batch;		/* 0: no pacing */
	struct min_free min_free;
	unsigned thin_pool_max;		/* lvm thin: percent of pool data or metadata */
	bool pkg_snapshots;		/* package manager hooks take pre/post pairs */
	bool pkg_required;		/* a failed pre aborts the package transaction */
	bool pkg_in_chroot;		/* snapshot also where / is not PID 1's root */
	char *group;			/* borrowed from struct group, NULL if none */
	unsigned key_line[_VKEY_MAX];	/* 0: not set in the file */
	/* Resolved once the config is whole (borrowed): */
	const struct group *grp;	/* its group, NULL if none */
	const struct target **target_list; /* n_targets entries, in the order of "targets" */
	const struct backend *ops;	/* its backend: set by backend_resolve() */
};

struct group {
	char *name;
	unsigned line;
	unsigned volumes_line;		/* 0: not set */
	unsigned freeze_line;
	char **volumes;
	size_t n_volumes;
	bool freeze;
};

enum target_scheme {
	TARGET_FILE,
	TARGET_SSH,
};

struct target {
	char *name;
	unsigned line;
	char *url;
	enum target_scheme scheme;
	char *user;			/* ssh, may be NULL */
	char *host;			/* ssh */
	unsigned port;			/* ssh, 0: ssh's default */
	char *root;			/* the directory on the target */
	struct policy policy;		/* retain only; newest copy always kept */
	bool retain_set;
	bool send_pinned;		/* default yes: the target gets and keeps what the source pins */
	int64_t rpo;
	/*
	 * file://: the mount the directory needs, or the empty string for "any
	 * filesystem but the one that holds /"; NULL: no requirement.
	 */
	char *require_mount;
	unsigned require_mount_line;
	char *ssh_identity;
	char *ssh_options;		/* split on spaces into ssh's argv */
};

struct config {
	char *path;
	int64_t hook_timeout;		/* default 60s */
	int64_t freeze_timeout;		/* default 30s */
	int64_t pkg_dedupe;		/* default 5m */
	char *state_dir;		/* default /var/lib/snaprotate */
	char *lock_dir;			/* default /run/snaprotate */
	struct volume *volumes;
	size_t n_volumes;
	struct group *groups;
	size_t n_groups;
	struct target *targets;
	size_t n_targets;
};

/**
 * config_load() - Read and validate a config file.
 * @path: The file.
 * @check_owner: Refuse a file writable by anyone but root, or not owned by root.
 * @ret: On success a config; free with config_free().
 * @e: On failure "FILE:LINE: message" (or "FILE: message").
 * Return: 0 or negative errno; -EINVAL for any content error, -EPERM for a bad
 * owner or mode, -EFBIG for a file over 1 MiB.
 */
int config_load(const char *path, bool check_owner, struct config **ret, struct rerr *e);

/**
 * config_parse_string() - As config_load() for text in memory (tests); @path names it in errors.
 * @path: The name to give in messages.
 * @text: The config text, NUL-terminated.
 * @ret: On success a config; free with config_free().
 * @e: On failure "FILE:LINE: message" (or "FILE: message").
 * Return: 0 or negative errno; -EINVAL for any content error.
 */
int config_parse_string(const char *path, const char *text, struct config **ret,
			struct rerr *e);

/**
 * config_free() - Free @c and everything it owns.
 * @c: The config, or NULL.
 * Return: NULL.
 */
struct config *config_free(struct config *c);

DEFINE_CLEANUP_FUNC(struct config *, config_free)

/**
 * config_volume_line() - The line to blame for a problem with @key of @v: the
 * key's own line, or the section header when the key took its default.
 * @v: The volume.
 * @key: The key.
 * Return: the line number.
 */
unsigned config_volume_line(const struct volume *v, enum volume_key key);

/**
 * config_volume() - The volume called @name.
 * @c: The config.
 * @name: The volume's name.
 * Return: the volume (borrowed from @c), or NULL.
 */
struct volume *config_volume(const struct config *c, const char *name);

/**
 * config_group() - The group called @name.
 * @c: The config.
 * @name: The group's name.
 * Return: the group (borrowed from @c), or NULL.
 */
struct group *config_group(const struct config *c, const char *name);

/**
 * config_target() - The target called @name.
 * @c: The config.
 * @name: The target's name.
 * Return: the target (borrowed from @c), or NULL.
 */
struct target *config_target(const struct config *c, const char *name);

/**
 * config_parse_retain() - Parse "hourly=24 daily=7" into @policy's counts (all others 0).
 * @value: The text: GRANULARITY=N words separated by white space, N from 0 to 100000.
 * @policy: Its counts are set on success; nothing else of it is touched.
 * @e: The error record, filled on failure.
 * Return: 0 or -EINVAL with @e saying which word is wrong.
 */
int config_parse_retain(const char *value, struct policy *policy, struct rerr *e);

/**
 * config_format() - The normalised config, as config-check prints it.
 * @c: The config.
 * Return: a string the caller must free(), or NULL on ENOMEM.
 */
char *config_format(const struct config *c);

#endif
