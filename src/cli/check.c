/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check: freshness and health for monitoring (SPEC 4). A Nagios plugin's
 * output and exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), the same as
 * one JSON document, or the Prometheus text exposition format, to stdout or
 * written atomically for node_exporter's textfile collector.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "engine/status.h"
#include "internal.h"

struct checked {
	struct volume_status *st;
	size_t n;
	enum check_state state;
};

static void checked_done(struct checked *c)
{
	for (size_t i = 0; i < c->n; i++)
		volume_status_done(&c->st[i]);
	free(c->st);
}

/* Plugin output is one line per item and '|' starts perfdata: neither may slip into a text. */
static void plugin_text(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(*s == '|' ? '/' : *s == '\n' ? ' ' : *s, f);
}

/* 'label'=value[UOM];[warn];[crit];[min];[max], as the plugin guidelines write it. */
static void perf_age(FILE *f, const char *volume, const char *target, bool have, int64_t age,
		     const struct freshness *lim)
{
	fprintf(f, " '%s%s%s age'=", volume, target ? " " : "", target ?: "");
	if (have)
		fprintf(f, "%llds", (long long)(age > 0 ? age : 0));
	else
		fputc('U', f);
	fprintf(f, ";%lld;%lld;0", (long long)lim->warn, (long long)lim->crit);
}

static void perfdata(FILE *f, const struct checked *c)
{
	fputs(" |", f);
	for (size_t i = 0; i < c->n; i++) {
		const struct volume_status *st = &c->st[i];
		const char *v = st->volume->name;

		if (st->error)
			continue;
		perf_age(f, v, NULL, st->newest != NULL, arg.now - st->newest_created, &st->limits);
		fprintf(f, " '%s snapshots'=%zu;;;0", v, st->count);
		fprintf(f, " '%s broken'=%zu;;;0", v,
			st->incomplete + st->stale + st->damaged + st->invalid);
		if (st->space_known)
			fprintf(f, " '%s free'=%lluB;;;0;%llu", v,
				(unsigned long long)st->space.avail,
				(unsigned long long)st->space.size);
		if (st->run_known && st->run.seconds_known)
			fprintf(f, " '%s last run'=%.3fs;;;0", v, st->run.seconds);
		for (size_t t = 0; t < st->n_targets; t++) {
			const struct target_status *ts = &st->targets[t];

			perf_age(f, v, ts->target, ts->newest != NULL, arg.now - ts->newest_created,
				 &ts->limits);
		}
	}
	fputc('\n', f);
}

/* The status line: the problems of the worst state, or what is fine; then every problem. */
static void print_plugin(FILE *f, const struct checked *c)
{
	size_t shown = 0, others = 0;

	fprintf(f, "SNAPROTATE %s - ", check_state_to_string(c->state));
	for (size_t i = 0; i < c->n; i++)
		for (size_t k = 0; k < c->st[i].n_problems; k++) {
			const struct status_problem *p = &c->st[i].problems[k];

			if (p->state != c->state) {
				others++;
				continue;
			}
			fprintf(f, "%s%s: ", shown++ ? "; " : "", c->st[i].volume->name);
			plugin_text(f, p->text);
		}
	if (c->state == CHECK_OK) {
		fprintf(f, "%zu volume%s fresh", c->n, c->n == 1 ? "" : "s");
		for (size_t i = 0; i < c->n; i++) {
			char age[32];

			fprintf(f, "%s %s %s", i ? "," : ":", c->st[i].volume->name,
				age_format(arg.now - c->st[i].newest_created, age, sizeof(age)));
		}
	} else if (others) {
		fprintf(f, " (and %zu more)", others);
	}
	perfdata(f, c);
	for (int s = CHECK_CRITICAL; s >= CHECK_WARNING; s--)
		for (size_t i = 0; i < c->n; i++)
			for (size_t k = 0; k < c->st[i].n_problems; k++)
				if ((int)c->st[i].problems[k].state == s) {
					fprintf(f, "%s %s: ", check_state_to_string(s),
						c->st[i].volume->name);
					plugin_text(f, c->st[i].problems[k].text);
					fputc('\n', f);
				}
	for (size_t i = 0; i < c->n; i++)
		for (size_t k = 0; k < c->st[i].n_problems; k++)
			if (c->st[i].problems[k].state == CHECK_UNKNOWN) {
				fprintf(f, "UNKNOWN %s: ", c->st[i].volume->name);
				plugin_text(f, c->st[i].problems[k].text);
				fputc('\n', f);
			}
}

/* --- Prometheus --------------------------------------------------------------- */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

#define FOR_READABLE(c, st)							\
	for (const struct volume_status *st = (c)->st; st < (c)->st + (c)->n; st++)	\
		if (!st->error)

static void prom_volumes(FILE *f, const struct checked *c)
{
	static const char *const broken[] = { "incomplete", "stale", "damaged", "invalid", "future" };

	family(f, "snaprotate_volume_readable", "gauge",
	       "Whether the volume and its snapshots could be read (1) or not (0).");
	for (size_t i = 0; i < c->n; i++)
		fprintf(f, "snaprotate_volume_readable{volume=\"%s\"} %d\n", c->st[i].volume->name,
			!c->st[i].error);
	family(f, "snaprotate_check_state", "gauge",
	       "The check's verdict: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.");
	for (size_t i = 0; i < c->n; i++)
		fprintf(f, "snaprotate_check_state{volume=\"%s\"} %d\n", c->st[i].volume->name,
			(int)c->st[i].state);
	family(f, "snaprotate_snapshots", "gauge", "Complete snapshots, by kind.");
	FOR_READABLE(c, st)
		for (int k = 0; k < _SNAP_KIND_MAX; k++)
			fprintf(f, "snaprotate_snapshots{volume=\"%s\",kind=\"%s\"} %zu\n",
				st->volume->name, snap_kind_to_string(k), st->by_kind[k]);
	family(f, "snaprotate_broken_snapshots", "gauge",
	       "Entries that are not complete snapshots, or dated in the future, by state.");
	FOR_READABLE(c, st) {
		const size_t n[] = { st->incomplete, st->stale, st->damaged, st->invalid, st->future };

		for (size_t k = 0; k < ARRAY_SIZE(broken); k++)
			fprintf(f, "snaprotate_broken_snapshots{volume=\"%s\",state=\"%s\"} %zu\n",
				st->volume->name, broken[k], n[k]);
	}
	family(f, "snaprotate_newest_snapshot_timestamp_seconds", "gauge",
	       "When the newest timeline snapshot was taken (absent: none).");
	FOR_READABLE(c, st)
		if (st->newest)
			fprintf(f, "snaprotate_newest_snapshot_timestamp_seconds{volume=\"%s\"} %lld\n",
				st->volume->name, (long long)st->newest_created);
	family(f, "snaprotate_rpo_seconds", "gauge",
	       "The age at which the newest timeline snapshot is critical.");
	FOR_READABLE(c, st)
		fprintf(f, "snaprotate_rpo_seconds{volume=\"%s\"} %lld\n", st->volume->name,
			(long long)st->limits.crit);
	family(f, "snaprotate_free_bytes", "gauge", "Free space where new snapshots go.");
	FOR_READABLE(c, st)
		if (st->space_known)
			fprintf(f, "snaprotate_free_bytes{volume=\"%s\"} %llu\n", st->volume->name,
				(unsigned long long)st->space.avail);
	family(f, "snaprotate_size_bytes", "gauge", "Size of the storage where snapshots go.");
	FOR_READABLE(c, st)
		if (st->space_known)
			fprintf(f, "snaprotate_size_bytes{volume=\"%s\"} %llu\n", st->volume->name,
				(unsigned long long)st->space.size);
	family(f, "snaprotate_pool_usage_ratio", "gauge", "LVM thin pool use, data and metadata.");
	FOR_READABLE(c, st)
		if (st->health.pool_known)
			fprintf(f, "snaprotate_pool_usage_ratio{volume=\"%s\",pool=\"%s\",part=\"data\"} "
				"%.4f\nsnaprotate_pool_usage_ratio{volume=\"%s\",pool=\"%s\","
				"part=\"metadata\"} %.4f\n", st->volume->name, st->health.pool,
				st->health.pool_data_percent / 100, st->volume->name,
				st->health.pool, st->health.pool_metadata_percent / 100);
	family(f, "snaprotate_cow_usage_max_ratio", "gauge",
	       "LVM thick: the fullest snapshot's copy-on-write space in use.");
	FOR_READABLE(c, st)
		if (st->cow_worst >= 0)
			fprintf(f, "snaprotate_cow_usage_max_ratio{volume=\"%s\"} %.4f\n",
				st->volume->name, st->cow_worst / 100);
}

#define FOR_RUN(c, st)								\
	for (const struct volume_status *st = (c)->st; st < (c)->st + (c)->n; st++)	\
		if (st->run_known)

static void prom_runs(FILE *f, const struct checked *c)
{
	family(f, "snaprotate_last_run_timestamp_seconds", "gauge", "When the last run was.");
	FOR_RUN(c, st)
		fprintf(f, "snaprotate_last_run_timestamp_seconds{volume=\"%s\"} %lld\n",
			st->volume->name, (long long)st->run.time);
	family(f, "snaprotate_last_run_success", "gauge", "Whether the last run succeeded.");
	FOR_RUN(c, st)
		fprintf(f, "snaprotate_last_run_success{volume=\"%s\"} %d\n", st->volume->name,
			st->run.success);
	family(f, "snaprotate_last_run_duration_seconds", "gauge", "How long the last run took.");
	FOR_RUN(c, st)
		if (st->run.seconds_known)
			fprintf(f, "snaprotate_last_run_duration_seconds{volume=\"%s\"} %.3f\n",
				st->volume->name, st->run.seconds);
	family(f, "snaprotate_bytes_sent_total", "counter", "Bytes sent to a target by runs.");
	FOR_RUN(c, st)
		for (size_t t = 0; t < st->run.n_targets; t++)
			fprintf(f, "snaprotate_bytes_sent_total{volume=\"%s\",target=\"%s\"} %llu\n",
				st->volume->name, st->run.targets[t].target,
				(unsigned long long)st->run.targets[t].bytes_sent_total);
}

static void prom_targets(FILE *f, const struct checked *c)
{
	family(f, "snaprotate_target_newest_copy_timestamp_seconds", "gauge",
	       "When the snapshot of a target's newest copy was taken (absent: no copy).");
	FOR_READABLE(c, st)
		for (size_t t = 0; t < st->n_targets; t++)
			if (st->targets[t].newest)
				fprintf(f, "snaprotate_target_newest_copy_timestamp_seconds{volume=\"%s\","
					"target=\"%s\"} %lld\n", st->volume->name,
					st->targets[t].target, (long long)st->targets[t].newest_created);
	family(f, "snaprotate_target_lag_seconds", "gauge",
	       "How far a target's newest copy is behind the volume's newest snapshot.");
	FOR_READABLE(c, st)
		for (size_t t = 0; t < st->n_targets; t++)
			if (st->targets[t].newest && st->newest_any)
				fprintf(f, "snaprotate_target_lag_seconds{volume=\"%s\",target=\"%s\"} "
					"%lld\n", st->volume->name, st->targets[t].target,
					(long long)st->targets[t].lag);
	family(f, "snaprotate_target_rpo_seconds", "gauge",
	       "The age at which a target's newest copy is critical.");
	FOR_READABLE(c, st)
		for (size_t t = 0; t < st->n_targets; t++)
			fprintf(f, "snaprotate_target_rpo_seconds{volume=\"%s\",target=\"%s\"} %lld\n",
				st->volume->name, st->targets[t].target,
				(long long)st->targets[t].limits.crit);
	family(f, "snaprotate_target_reachable", "gauge",
	       "Whether the last run reached the target (0: it was offline).");
	FOR_READABLE(c, st)
		for (size_t t = 0; t < st->n_targets; t++)
			if (st->targets[t].run)
				fprintf(f, "snaprotate_target_reachable{volume=\"%s\",target=\"%s\"} %d\n",
					st->volume->name, st->targets[t].target,
					st->targets[t].run->state != RUN_TARGET_OFFLINE);
}

/* Next to @path, under a name of its own (two writers never share one), then renamed over it. */
static int write_atomically(const char *path, const char *text, size_t len)
{
	_cleanup_free_ char *tmp = NULL;
	const char *slash = strrchr(path, '/');
	int fd, r = 0;

	if (asprintf(&tmp, "%.*s.%s.XXXXXX", slash ? (int)(slash - path + 1) : 0, path,
		     slash ? slash + 1 : path) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* node_exporter reads it as another user, whatever the umask. */
	if (fchmod(fd, 0644) < 0 || (r = write_all(fd, text, len)) < 0 || fsync(fd) < 0)
		r = r ?: -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		(void) unlink(tmp);
	return r;
}

static int print_prometheus(const struct checked *c)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int r;

	if (!f)
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	prom_volumes(f, c);
	prom_runs(f, c);
	prom_targets(f, c);
	if (fclose(f) != 0)
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	if (!arg.output) {
		fwrite(text, 1, len, stdout);
		return CHECK_OK;
	}
	r = write_atomically(arg.output, text, len);
	if (r < 0) {
		cli_error("--output '%s': cannot write it: %s", arg.output, strerror(-r));
		return CHECK_UNKNOWN;
	}
	return CHECK_OK;
}

static int print_json(const struct checked *c)
{
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	_cleanup_free_ char *summary = NULL;
	struct json_object *arr;
	size_t len = 0;
	FILE *f;

	if (cli_json_envelope(&out, &arr) < 0 || !(f = open_memstream(&summary, &len)))
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	print_plugin(f, c);
	if (fclose(f) != 0)
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	summary[strcspn(summary, "|\n")] = '\0';
	if (meta_add(out, "state", json_object_new_string(check_state_to_string(c->state))) < 0 ||
	    meta_add(out, "exit", json_object_new_int((int)c->state)) < 0 ||
	    meta_add(out, "summary", json_object_new_string(summary)) < 0)
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	for (size_t i = 0; i < c->n; i++) {
		struct json_object *o = cli_status_json(&c->st[i]);

		if (!o || json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			return cli_report(-ENOMEM, &(struct rerr){ 0 });
		}
	}
	return cli_print_json(out) < 0 ? CHECK_UNKNOWN : (int)c->state;
}

/* check never takes a lock, changes nothing and contacts no target. */
int verb_check(struct engine *eng, int argc, char **argv)
{
	_cleanup_free_ struct volume **vols = NULL;
	const struct status_opts o = { .warn = arg.warn, .crit = arg.crit };
	struct checked c = { .state = CHECK_OK };
	size_t n;
	int ret;

	if (arg.output && !arg.prometheus)
		return cli_usage("check: --output goes with --prometheus");
	if (cli_select(eng, argc, argv, true, &vols, &n) < 0)
		return EXIT_USAGE;
	c.st = calloc(n + 1, sizeof(*c.st));
	if (!c.st)
		return cli_report(-ENOMEM, &(struct rerr){ 0 });
	for (; c.n < n; c.n++) {
		if (engine_status(eng, vols[c.n], &o, &c.st[c.n]) < 0) {
			checked_done(&c);
			return cli_report(-ENOMEM, &(struct rerr){ 0 });
		}
		c.state = check_state_worse(c.state, c.st[c.n].state);
	}
	arg.checked = true;
	if (arg.prometheus)
		ret = print_prometheus(&c);
	else if (arg.json)
		ret = print_json(&c);
	else
		print_plugin(stdout, &c), ret = (int)c.state;
	checked_done(&c);
	return ret;
}
