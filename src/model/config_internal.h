/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to src/model/config*.c: the parser's state and what its files share.
 * config.c reads the text and its sections and checks the whole; config_keys.c
 * knows every key; config_value.c parses values; config_format.c writes a
 * config back out.
 */
#ifndef SNAPROTATE_CONFIG_INTERNAL_H
#define SNAPROTATE_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <ini.h>

#include "base/err.h"
#include "model/config.h"

enum section_type {
	SECTION_NONE,
	SECTION_GLOBAL,
	SECTION_VOLUME,
	SECTION_GROUP,
	SECTION_TARGET,
};

struct parse_ctx {
	struct config *cfg;
	const char *path;
	const char *text;		/* the rest still to read */
	unsigned line;			/* of the line just handed to inih */
	bool continuation;		/* that line is an indented continuation */
	enum section_type section;
	void *cur;			/* the struct of the current section */
	unsigned global_line;
	unsigned seen_line[32];		/* line each key of the current section was set on */
	bool have_key;			/* a key was set in this section: continuations may follow */
	unsigned err_line;		/* line of ctx->err */
	char *retain_acc;		/* a retain value so far, with its continuation lines */
	struct rerr *e;
	int err;
};


extern const char *const cfg_volume_keys[_VKEY_MAX];
extern const char *const cfg_global_keys[];
extern const char *const cfg_group_keys[];
extern const char *const cfg_target_keys[];
/* Keys whose value is a space-separated list, so a continuation line appends. */
extern const char *const cfg_list_keys[];
extern const struct policy cfg_default_policy;

/* Records "PATH:LINE: message" as the parse's error (the first one wins). Return: -EINVAL. */
int cfg_fail(struct parse_ctx *ctx, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* inih's handler for one "key = value" (config_keys.c). Return: 1, or 0 to stop. */
int cfg_ini_handler(void *user, const char *section, const char *name, const char *value);

/* Values (config_value.c): 0 or -EINVAL unless said otherwise. */
int cfg_key_index(const char *const *keys, size_t n, const char *name);
bool cfg_is_list_key(const char *name);
char **cfg_strv_free(char **v, size_t n);
int cfg_strv_split_append(char ***v, size_t *n, const char *value);
char *cfg_strv_join(char *const *v, size_t n);
int cfg_parse_uint(const char *s, unsigned long max, unsigned long *ret);
int cfg_parse_bool(const char *s, bool *ret);
/*
 * Paths in the config are short enough that the longest line config-check
 * prints ("snapshot_dir = PATH/.snapshots") fits the 199 characters of a line.
 */
#define CFG_PATH_MAX		160

/* inih's line buffer holds INI_MAX_LINE bytes with the NUL: 199 characters and the newline. */
#define CONFIG_LINE_MAX		(INI_MAX_LINE - 1)
#define CFG_PATH_WANTED		"expected an absolute path of at most 160 characters, without '..'"

bool cfg_path_valid(const char *p);
void cfg_path_normalize(char *p);
bool cfg_lv_spec_valid(const char *s);
bool cfg_lvm_size_valid(const char *s);
int cfg_parse_min_free(const char *s, struct min_free *ret);
int cfg_parse_url(struct target *t, const char *url, char *why, size_t why_len);

/* "btrfs", "lvm". */
const char *cfg_backend_name(enum backend_kind b);

#endif
