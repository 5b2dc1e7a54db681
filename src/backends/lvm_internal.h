/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Private to src/backends/lvm*.c: liblvm2cmd and its reports (lvm_lib.c), shared by the LVM files. */
#ifndef SNAPROTATE_LVM_INTERNAL_H
#define SNAPROTATE_LVM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "backends/backend.h"
#include "base/err.h"

/**
 * lvm_run() - Run one LVM command line in this process (liblvm2cmd).
 * Return: 0, or -errno with @e quoting LVM's errors (-EIO when the command failed).
 */
int lvm_run(struct rerr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether @s is made only of LVM's name alphabet (and so safe on a command line). */
bool lvm_name_ok(const char *s);

/* Splits @v's "vg/lv" into @vg and @lv (each @len bytes), both checked. Return: 0 or -EINVAL. */
int lvm_split(const struct volume *v, char *vg, char *lv, size_t len, struct rerr *e);

/**
 * lvm_lvs() - Run lvs on @what ("VG" or "VG/LV"), with -a when @all (hidden LVs too).
 * Return: 0 with *@ret (json_object_put() it), or -errno with @e.
 */
int lvm_lvs(const char *what, bool all, struct json_object **ret, struct rerr *e);

/* The "lv" array of an lvs report (borrowed from @o), NULL when it is not one. */
struct json_object *lvm_report_lvs(struct json_object *o);

/* A string field of an lvs row, "" when it has none. */
const char *lvm_field(struct json_object *row, const char *key);

/* An LV's name without the brackets lvs -a puts around hidden LVs. */
void lvm_row_name(struct json_object *row, char *buf, size_t len);

/* The row of LV @name in @lvs (borrowed), or NULL. */
struct json_object *lvm_find_row(struct json_object *lvs, const char *name);

/**
 * lvm_scan() - The whole VG of @v in one report (lvs -a), with the origin's row.
 * @vg, @lv: @len bytes each, filled with @v's VG and LV names.
 * Return: 0 with *@ret_report (put it) and *@ret_origin (borrowed), or -errno with @e.
 */
int lvm_scan(const struct volume *v, char *vg, char *lv, size_t len,
	     struct json_object **ret_report, struct json_object **ret_origin, struct rerr *e);

/* The size and free bytes of VG @vg. Return: 0 or -errno with @e. */
int lvm_rescue_config(const char *vg, char **ret_text, char **ret_notes, struct rerr *e);

int lvm_vg_space(const char *vg, uint64_t *ret_size, uint64_t *ret_free, struct rerr *e);

/* backend_lvm's stream members and restore (lvm_send.c). */
int lvm_stream_open(const struct volume *v, const struct snapshot *s,
		    const struct snapshot *parent, struct stream_source *ret, struct rerr *e);
void lvm_stream_close(const struct volume *v, struct stream_source *src);
int lvm_restore_open(const struct volume *v, const char *to, bool open_it, struct stream_sink *ret,
		     struct rerr *e);
void lvm_restore_close(struct stream_sink *k);

#endif
