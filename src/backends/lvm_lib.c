/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * liblvm2cmd, loaded with dlopen() on first use (it pulls in a dozen
 * libraries, device-mapper, udev, systemd, that a btrfs-only run should not
 * pay for at every start), and its reports. Every LVM command of the backend
 * runs here, in this process: reports come back through the log callback as
 * JSON (`--reportformat json`) and are parsed with json-c. Command lines are
 * built only from names that passed the LVM alphabet check and from tags
 * encoded into LVM's tag alphabet, so lvm2_run()'s own splitting on white
 * space never sees an argument it did not expect.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlfcn.h>
#include <json-c/json.h>
#include <lvm2cmd.h>

#include "base/debug.h"
#include "base/util.h"
#include "format/meta.h"
#include "model/stamp.h"

#include "lvm_internal.h"

#define LVM_CMD_MAX	8192
#define LVM_LIB		"liblvm2cmd.so.2.03"

static struct {
	void (*log_fn)(lvm2_log_fn_t fn);
	void *(*init)(void);
	void (*log_level)(void *handle, int level);
	int (*run)(void *handle, const char *cmdline);
} lvm_lib;

static void *lvm_handle;
static char *lvm_output;	/* what the last command printed (reports) */
static size_t lvm_output_len;
static char lvm_last_error[1024];	/* every error of the last command, joined */

static void lvm_log(int level, const char *file, int line, int dm_errno, const char *message)
{
	(void) file;
	(void) line;
	(void) dm_errno;
	if (level == LVM2_LOG_PRINT) {
		size_t n = strlen(message);
		char *b = realloc(lvm_output, lvm_output_len + n + 2);

		if (!b)
			return;
		lvm_output = b;
		memcpy(lvm_output + lvm_output_len, message, n);
		lvm_output_len += n;
		lvm_output[lvm_output_len++] = '\n';
		lvm_output[lvm_output_len] = '\0';
	} else if (level <= LVM2_LOG_ERROR) {
		/* All of a command's errors: the cause often comes before the last word. */
		size_t n = strlen(lvm_last_error);

		/* LVM's generic follow-up to a cause it has said already. */
		if (n && strncmp(message, "Cannot process volume group ", 28) == 0)
			return;
		snprintf(lvm_last_error + n, sizeof(lvm_last_error) - n, "%s%s", n ? "; " : "",
			 message);
	}
	DBG(LVM, "lvm[%d]: %s", level, message);
}

static int lvm_load(struct rerr *e)
{
	void *lib;

	if (lvm_lib.run)
		return 0;
	lib = dlopen(LVM_LIB, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return rerr_set(e, ENOENT, "cannot load %s (install liblvm2cmd2.03): %s", LVM_LIB,
				dlerror());
	/* POSIX: a function pointer travels through dlsym's void * by memcpy. */
	{
		void *f[4] = { dlsym(lib, "lvm2_log_fn"), dlsym(lib, "lvm2_init"),
			       dlsym(lib, "lvm2_log_level"), dlsym(lib, "lvm2_run") };

		for (size_t i = 0; i < 4; i++)
			if (!f[i])
				return rerr_set(e, ENOENT, "%s lacks a function: %s", LVM_LIB, dlerror());
		memcpy(&lvm_lib.log_fn, &f[0], sizeof(f[0]));
		memcpy(&lvm_lib.init, &f[1], sizeof(f[1]));
		memcpy(&lvm_lib.log_level, &f[2], sizeof(f[2]));
		memcpy(&lvm_lib.run, &f[3], sizeof(f[3]));
	}
	return 0;
}

int lvm_run(struct rerr *e, const char *fmt, ...)
{
	char cmd[LVM_CMD_MAX];
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return rerr_set(e, E2BIG, "lvm command too long");
	if (!lvm_handle) {
		r = lvm_load(e);
		if (r < 0)
			return r;
		lvm_lib.log_fn(lvm_log);
		lvm_handle = lvm_lib.init();
		if (!lvm_handle)
			return rerr_set(e, EIO, "cannot initialise liblvm2cmd");
		lvm_lib.log_level(lvm_handle, LVM2_LOG_PRINT);
	}
	lvm_output_len = 0;
	if (lvm_output)
		lvm_output[0] = '\0';
	lvm_last_error[0] = '\0';
	DBG(LVM, "lvm %s", cmd);
	r = lvm_lib.run(lvm_handle, cmd);
	/* LVM's own words say the cause ("Volume group "vg0" not found"). */
	if (r != LVM2_COMMAND_SUCCEEDED)
		return rerr_say(e, EIO, "%.*s: %s", (int)strcspn(cmd, " "), cmd,
				lvm_last_error[0] ? lvm_last_error : "failed without a message");
	return 0;
}

bool lvm_name_ok(const char *s)
{
	return lvm_name_valid(s, strlen(s));
}

/* Splits "vg/lv". */
int lvm_split(const struct volume *v, char *vg, char *lv, size_t len, struct rerr *e)
{
	const char *slash = strchr(v->lv, '/');

	if (!slash || (size_t)(slash - v->lv) >= len || strlen(slash + 1) >= len)
		return rerr_set(e, EINVAL, "%s: lv '%s' is not VG/LV", v->name, v->lv);
	memcpy(vg, v->lv, (size_t)(slash - v->lv));
	vg[slash - v->lv] = '\0';
	strcpy(lv, slash + 1);
	if (!lvm_name_ok(vg) || !lvm_name_ok(lv))
		return rerr_set(e, EINVAL, "%s: lv '%s' has characters LVM does not allow", v->name,
				v->lv);
	return 0;
}

const char *lvm_field(struct json_object *lv, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(lv, key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

/* The "lv" array of an lvs JSON report (borrowed from @o). */
struct json_object *lvm_report_lvs(struct json_object *o)
{
	struct json_object *report, *first, *lvs;

	if (!o || !json_object_object_get_ex(o, "report", &report) ||
	    !json_object_is_type(report, json_type_array) || json_object_array_length(report) < 1)
		return NULL;
	first = json_object_array_get_idx(report, 0);
	if (!json_object_object_get_ex(first, "lv", &lvs) ||
	    !json_object_is_type(lvs, json_type_array))
		return NULL;
	return lvs;
}

#define LVS_FIELDS \
	"lv_name,lv_attr,lv_tags,origin,pool_lv,lv_uuid,lv_size,snap_percent,data_percent," \
	"metadata_percent,lv_merging,thin_id"

/* Runs lvs on @what ("vg" or "vg/lv") and parses it. Return: 0 with *ret (put it), or -errno. */
int lvm_lvs(const char *what, bool all, struct json_object **ret, struct rerr *e)
{
	struct json_object *o;
	int r;

	/* -a: a snapshot being merged into its origin is hidden ("[NAME]") without it. */
	r = lvm_run(e, "lvs%s --reportformat json --units b --nosuffix -o " LVS_FIELDS " %s",
		    all ? " -a" : "", what);
	if (r < 0)
		return r;
	o = json_tokener_parse(lvm_output ?: "");
	if (!lvm_report_lvs(o)) {
		json_object_put(o);
		return rerr_set(e, EPROTO, "cannot read the lvs report of '%s'", what);
	}
	*ret = o;
	return 0;
}

/* An LV's name without the brackets lvs -a puts around hidden LVs. */
void lvm_row_name(struct json_object *row, char *buf, size_t len)
{
	const char *n = lvm_field(row, "lv_name");
	size_t l = strlen(n);

	if (l >= 2 && n[0] == '[' && n[l - 1] == ']')
		snprintf(buf, len, "%.*s", (int)(l - 2), n + 1);
	else
		snprintf(buf, len, "%s", n);
}

struct json_object *lvm_find_row(struct json_object *lvs, const char *name)
{
	char n[256];

	for (size_t i = 0; i < json_object_array_length(lvs); i++) {
		struct json_object *x = json_object_array_get_idx(lvs, i);

		lvm_row_name(x, n, sizeof(n));
		if (streq(n, name))
			return x;
	}
	return NULL;
}

/*
 * The whole VG of @v in one report (lvs -a), with the origin's row.
 * Return: 0 with *@ret_report (put it) and *@ret_origin (borrowed), or -errno.
 */
int lvm_scan(const struct volume *v, char *vg, char *lv, size_t len,
		    struct json_object **ret_report, struct json_object **ret_origin,
		    struct rerr *e)
{
	struct json_object *o = NULL, *row;
	int r;

	r = lvm_split(v, vg, lv, len, e);
	if (r < 0)
		return r;
	r = lvm_lvs(vg, true, &o, e);
	if (r < 0)
		return r;
	row = lvm_find_row(lvm_report_lvs(o), lv);
	if (!row) {
		json_object_put(o);
		return rerr_set(e, ENOENT, "volume '%s': no LV '%s'", v->name, v->lv);
	}
	*ret_report = o;
	*ret_origin = row;
	return 0;
}


int lvm_vg_space(const char *vg, uint64_t *ret_size, uint64_t *ret_free, struct rerr *e)
{
	_cleanup_(json_object_putp) struct json_object *g = NULL;
	struct json_object *report, *first, *vgs, *x;
	int r;

	r = lvm_run(e, "vgs --reportformat json --units b --nosuffix -o vg_size,vg_free %s", vg);
	if (r < 0)
		return r;
	g = json_tokener_parse(lvm_output ?: "");
	if (!g || !json_object_object_get_ex(g, "report", &report) ||
	    !(first = json_object_array_get_idx(report, 0)) ||
	    !json_object_object_get_ex(first, "vg", &vgs) ||
	    !(x = json_object_array_get_idx(vgs, 0)))
		return rerr_set(e, EPROTO, "cannot read the vgs report of '%s'", vg);
	*ret_size = strtoull(lvm_field(x, "vg_size"), NULL, 10);
	*ret_free = strtoull(lvm_field(x, "vg_free"), NULL, 10);
	return 0;
}
