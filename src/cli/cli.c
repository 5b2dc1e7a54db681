/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The command line: parses argv (GNU order: options anywhere after the
 * command), loads the config, and runs one verb from the table below. The
 * only module that prints: results to stdout (one JSON document with --json),
 * errors to stderr as "snaprotate: VOLUME: what failed: why".
 */
#include <getopt.h>
#include <signal.h>
#include <sys/syscall.h>

#include <linux/capability.h>

#include "backends/backend.h"
#include "base/debug.h"
#include "base/version.h"

#include "internal.h"

struct cli_args arg = { .config = CONFIG_DEFAULT_PATH, .kind = _SNAP_KIND_INVALID,
			 .tool = _PKG_TOOL_INVALID, .operation = PKG_CHANGE };

struct verb {
	const char *name;
	int min_args;
	int max_args;		/* -1: any number */
	unsigned options;	/* OPT_* it accepts */
	bool needs_config;
	int (*run)(struct engine *eng, int argc, char **argv);
	bool hook;		/* run by a package manager: never blocks it over the config */
};

static void help(void)
{
	printf("Usage: snaprotate [OPTIONS] COMMAND [ARGS]\n"
	       "\n"
	       "Snapshot and rotation manager for btrfs and LVM.\n"
	       "\n"
	       "Commands:\n"
	       "  snapshot [--kind K] [--description TEXT] [--pin] [--pre NAME] VOLUME|GROUP...\n"
	       "                       take a snapshot now (K: manual, timeline, pre, post, boot)\n"
	       "  list [--target NAME] [VOLUME...]\n"
	       "                       every snapshot, oldest first (on a target: its copies)\n"
	       "  prune [VOLUME...]    apply retention; print each decision and its reason\n"
	       "  run [VOLUME...]      the timer job: a timeline snapshot if due, then prune\n"
	       "  delete [--force] VOLUME SNAPSHOT...\n"
	       "                       delete snapshots (--force: pinned ones too)\n"
	       "  pin VOLUME SNAPSHOT  never prune this snapshot\n"
	       "  unpin VOLUME SNAPSHOT\n"
	       "  send [--target NAME] VOLUME...\n"
	       "                       send what the targets miss, incrementally\n"
	       "  serve --root DIR     the receiving side of a target (an ssh forced command)\n"
	       "  rollback VOLUME SNAPSHOT\n"
	       "                       make the volume's content that of SNAPSHOT (LVM: merge),\n"
	       "                       keeping the current state as a new snapshot\n"
	       "  status [VOLUME...]   a line a volume: newest, count, next due, targets, health,\n"
	       "                       and a line for each problem (exit 1 when there is one)\n"
	       "  check [-w AGE] [-c AGE] [--prometheus [--output FILE]] [VOLUME...]\n"
	       "                       for monitoring: a Nagios plugin (exit 0 OK, 1 WARNING,\n"
	       "                       2 CRITICAL, 3 UNKNOWN), or Prometheus metrics; after\n"
	       "                       check, -c is its critical age, not the config\n"
	       "  restore [--target NAME] VOLUME SNAPSHOT --to PATH|VG/LV\n"
	       "                       bring a snapshot back from a target (btrfs: as the new\n"
	       "                       subvolume PATH; LVM: into an LV)\n"
	       "  config-check         validate the config and print it normalised\n"
	       "  list, status, rollback, config-check --fs DIR | --vg VG\n"
	       "                       rescue mode: no config, the volumes of the btrfs whose\n"
	       "                       top level is mounted at DIR, or of the active VG, from\n"
	       "                       their snapshots\n"
	       "  pkg-pre --tool apt|pacman|dnf [--operation OP] [--root DIR]\n"
	       "                       package hook: a pre snapshot, packages read from stdin\n"
	       "  pkg-post --tool apt|pacman|dnf [--operation OP] [--root DIR]\n"
	       "                       package hook: the post snapshot of the open pre\n"
	       "\n"
	       "A SNAPSHOT is a full name, a unique prefix of its stamp, or 'latest'.\n"
	       "\n"
	       "Options:\n"
	       "  -c, --config FILE    config file (default %s)\n"
	       "      --json           machine-readable output on stdout\n"
	       "  -n, --dry-run        say what would be done, change nothing\n"
	       "  -v, --verbose        more detail\n"
	       "  -q, --quiet          errors only\n"
	       "      --now TIME       act as if it were TIME (ISO 8601); also SNAPROTATE_NOW\n"
	       "      --wait           wait for a volume's lock instead of exiting 3\n"
	       "  -h, --help           this help\n"
	       "  -V, --version        the version\n"
	       "\n"
	       "Exit: 0 success, 1 failed or refused, 2 usage or config error, 3 locked.\n",
	       CONFIG_DEFAULT_PATH);
}

/* --- volumes ------------------------------------------------------------ */

static const struct verb verbs[] = {
	{ "snapshot", 1, -1, OPT_KIND | OPT_DESCRIPTION | OPT_PIN | OPT_PRE, true, verb_snapshot, false },
	{ "list", 0, -1, OPT_TARGET | OPT_FS | OPT_VG, true, verb_list, false },
	{ "prune", 0, -1, 0, true, verb_prune, false },
	{ "run", 0, -1, 0, true, verb_run, false },
	{ "send", 1, -1, OPT_TARGET, true, verb_send, false },
	{ "serve", 0, 0, OPT_ROOT, false, verb_serve, false },
	{ "delete", 2, -1, OPT_FORCE, true, verb_delete, false },
	{ "pin", 2, 2, 0, true, verb_pin, false },
	{ "unpin", 2, 2, 0, true, verb_unpin, false },
	{ "config-check", 0, 0, OPT_FS | OPT_VG, true, verb_config_check, false },
	{ "rollback", 2, 2, OPT_FS | OPT_VG, true, verb_rollback, false },
	{ "restore", 2, 2, OPT_TARGET | OPT_TO, true, verb_restore, false },
	{ "status", 0, -1, OPT_FS | OPT_VG, true, verb_status, false },
	{ "check", 0, -1, OPT_WARNING | OPT_CRITICAL | OPT_PROMETHEUS | OPT_OUTPUT, true, verb_check,
	  false },
	{ "pkg-pre", 0, 0, OPT_TOOL | OPT_ROOT | OPT_OPERATION, true, verb_pkg_pre, true },
	{ "pkg-post", 0, 0, OPT_TOOL | OPT_ROOT | OPT_OPERATION, true, verb_pkg_post, true },
	{ .name = NULL },
};

/* --- argv --------------------------------------------------------------- */

static const char *const opt_names[] = { "--kind", "--description", "--pin", "--pre", "--force",
					 "--target", "--root", "--to", "--tool", "--operation", "--fs", "--vg",
					 "--warning", "--critical", "--prometheus", "--output" };

/* The options that take their value as the next argument. */
static const char *const opts_with_value[] = { "-c", "--config", "--now", "--kind", "--description",
					       "--pre", "--target", "--root", "--to", "--tool",
					       "--operation", "--fs", "--vg", "-w", "--warning",
					       "--critical", "--output", NULL };

/* The index of the command in @argv, or @argc. */
static int find_command(int argc, char *argv[])
{
	for (int i = 1; i < argc; i++) {
		bool takes = false;

		if (streq(argv[i], "--"))
			return i + 1;
		if (argv[i][0] != '-' || !argv[i][1])
			return i;
		for (size_t k = 0; opts_with_value[k]; k++)
			takes |= streq(argv[i], opts_with_value[k]);
		i += takes;
	}
	return argc;
}

/*
 * Monitoring plugins take -w and -c; after `check`, -c is its critical limit
 * (the config is -c before the command, or --config).
 */
static bool check_argv(int argc, char *argv[])
{
	int cmd = find_command(argc, argv);

	if (cmd >= argc || !streq(argv[cmd], "check"))
		return false;
	for (int i = cmd + 1; i < argc && !streq(argv[i], "--"); i++)
		if (streq(argv[i], "-c"))
			argv[i] = (char *)"--critical";
	return true;
}

/*
 * One getopt loop with a case per option: long, but each case is a line or
 * two, and reading them in one place is what keeps the options consistent.
 * Return: <0 error (exit 2), 0 done (help/version), >0 go on.
 */
static int parse_argv(int argc, char *argv[])
{
	enum { ARG_JSON = 0x100, ARG_NOW, ARG_WAIT, ARG_KIND, ARG_DESCRIPTION, ARG_PIN, ARG_PRE,
	       ARG_FORCE, ARG_TARGET, ARG_ROOT, ARG_TO, ARG_TOOL, ARG_OPERATION, ARG_FS, ARG_VG,
	       ARG_CRITICAL, ARG_PROMETHEUS, ARG_OUTPUT };
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, ARG_JSON },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "now", required_argument, NULL, ARG_NOW },
		{ "wait", no_argument, NULL, ARG_WAIT },
		{ "kind", required_argument, NULL, ARG_KIND },
		{ "description", required_argument, NULL, ARG_DESCRIPTION },
		{ "pin", no_argument, NULL, ARG_PIN },
		{ "pre", required_argument, NULL, ARG_PRE },
		{ "force", no_argument, NULL, ARG_FORCE },
		{ "target", required_argument, NULL, ARG_TARGET },
		{ "root", required_argument, NULL, ARG_ROOT },
		{ "to", required_argument, NULL, ARG_TO },
		{ "tool", required_argument, NULL, ARG_TOOL },
		{ "operation", required_argument, NULL, ARG_OPERATION },
		{ "fs", required_argument, NULL, ARG_FS },
		{ "vg", required_argument, NULL, ARG_VG },
		{ "warning", required_argument, NULL, 'w' },
		{ "critical", required_argument, NULL, ARG_CRITICAL },
		{ "prometheus", no_argument, NULL, ARG_PROMETHEUS },
		{ "output", required_argument, NULL, ARG_OUTPUT },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ .name = NULL },
	};
	const char *now = getenv("SNAPROTATE_NOW");
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:w:nvqhV", options, NULL)) >= 0) {
		switch (c) {
		case 'c':
			arg.config = optarg;
			break;
		case ARG_JSON:
			arg.json = true;
			break;
		case 'n':
			arg.dry_run = true;
			break;
		case 'v':
			arg.verbosity = 1;
			break;
		case 'q':
			arg.verbosity = -1;
			break;
		case ARG_NOW:
			now = optarg;
			break;
		case ARG_WAIT:
			arg.wait = true;
			break;
		case ARG_KIND:
			arg.kind = snap_kind_from_string(optarg);
			if (arg.kind == _SNAP_KIND_INVALID)
				return cli_usage("--kind '%s': expected manual, timeline, pre, post or boot",
						   optarg), -EINVAL;
			arg.given |= OPT_KIND;
			break;
		case ARG_DESCRIPTION:
			arg.description = optarg;
			arg.given |= OPT_DESCRIPTION;
			break;
		case ARG_PIN:
			arg.pin = true;
			arg.given |= OPT_PIN;
			break;
		case ARG_PRE:
			arg.pre = optarg;
			arg.given |= OPT_PRE;
			break;
		case ARG_FORCE:
			arg.force = true;
			arg.given |= OPT_FORCE;
			break;
		case ARG_TARGET:
			arg.target = optarg;
			arg.given |= OPT_TARGET;
			break;
		case ARG_TO:
			arg.to = optarg;
			arg.given |= OPT_TO;
			break;
		case ARG_ROOT:
			arg.root = optarg;
			arg.given |= OPT_ROOT;
			break;
		case ARG_TOOL:
			arg.tool = pkg_tool_from_string(optarg);
			if (arg.tool == _PKG_TOOL_INVALID)
				return cli_usage("--tool '%s': expected apt, pacman or dnf", optarg),
				       -EINVAL;
			arg.given |= OPT_TOOL;
			break;
		case ARG_FS:
			arg.fs = optarg;
			arg.given |= OPT_FS;
			break;
		case ARG_VG:
			arg.vg = optarg;
			arg.given |= OPT_VG;
			break;
		case ARG_OPERATION:
			arg.operation = pkg_action_from_string(optarg);
			if (arg.operation == _PKG_ACTION_INVALID || arg.operation == PKG_CHANGE)
				return cli_usage("--operation '%s': expected install, upgrade, "
						 "downgrade, reinstall or remove", optarg), -EINVAL;
			arg.given |= OPT_OPERATION;
			break;
		case 'w':
		case ARG_CRITICAL:
			if (duration_parse(optarg, c == 'w' ? &arg.warn : &arg.crit) < 0 ||
			    (c == 'w' ? arg.warn : arg.crit) <= 0)
				return cli_usage("%s '%s': expected an age such as 90m, 2h or 1d",
						 c == 'w' ? "-w" : "-c", optarg), -EINVAL;
			arg.given |= c == 'w' ? OPT_WARNING : OPT_CRITICAL;
			break;
		case ARG_PROMETHEUS:
			arg.prometheus = true;
			arg.given |= OPT_PROMETHEUS;
			break;
		case ARG_OUTPUT:
			arg.output = optarg;
			arg.given |= OPT_OUTPUT;
			break;
		case 'h':
			help();
			return 0;
		case 'V':
			printf("%s\n", SNAPROTATE_CREATOR);
			return 0;
		case '?':
			if (optopt)
				return cli_usage("invalid option '-%c'", optopt), -EINVAL;
			return cli_usage("invalid option '%s'", argv[optind - 1]), -EINVAL;
		case ':':
			return cli_usage("option '%s' needs an argument", argv[optind - 1]), -EINVAL;
		default:
			return cli_usage("invalid option"), -EINVAL;
		}
	}
	if (now && *now) {
		if (time_parse_iso(now, &arg.now) < 0)
			return cli_usage("%s '%s': expected an ISO 8601 time such as 2026-11-27T09:05:12Z",
					   getenv("SNAPROTATE_NOW") == now ? "SNAPROTATE_NOW" : "--now",
					   now), -EINVAL;
	} else {
		arg.now = time(NULL);
	}
	return 1;
}

/* Whether this process may do what snaprotate does: root, or CAP_SYS_ADMIN in effect. */
static bool cli_privileged(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = { { 0 } };

	if (geteuid() == 0)
		return true;
	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return d[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective & CAP_TO_MASK(CAP_SYS_ADMIN);
}

/* --fs: no config file; the volumes of the disk, from their snapshots' info.json. */
static int cli_rescue_config(struct config **ret)
{
	_cleanup_free_ char *text = NULL, *notes = NULL, *name = NULL;
	struct rerr e = { 0 };
	int r;

	r = backend_rescue_config(arg.fs, arg.vg, &text, &notes, &e);
	if (r < 0)
		return e.usage ? cli_report_usage(&e) : cli_report(r, &e);
	if (*notes && arg.verbosity >= 0)
		fputs(notes, stderr);
	if (asprintf(&name, "(%s %s)", arg.fs ? "--fs" : "--vg", arg.fs ?: arg.vg) < 0)
		return cli_report(-ENOMEM, &e);
	r = config_parse_string(name, text, ret, &e);
	if (r < 0)
		return cli_report(r, &e);
	return EXIT_OK;
}

static int cli_main_verb(int argc, char *argv[]);

int cli_main(int argc, char *argv[])
{
	bool check = check_argv(argc, argv);
	int r = cli_main_verb(argc, argv);

	/* A plugin's trouble of its own is UNKNOWN, said on stdout where the monitor reads. */
	if (check && !arg.checked && r == EXIT_USAGE) {
		printf("SNAPROTATE UNKNOWN - %s\n", cli_first_error());
		fflush(stdout);
		return 3;
	}
	return r;
}

static int cli_main_verb(int argc, char *argv[])
{
	_cleanup_(config_freep) struct config *cfg = NULL;
	const struct verb *verb = NULL;
	struct engine eng;
	struct rerr e = { 0 };
	int r, nargs;

	debug_init();
	/* A peer that goes away must be an EPIPE to handle, not a death. */
	signal(SIGPIPE, SIG_IGN);
	r = parse_argv(argc, argv);
	if (r <= 0)
		return r < 0 ? EXIT_USAGE : EXIT_OK;
	if (optind >= argc)
		return cli_usage("no command given");
	for (const struct verb *vb = verbs; vb->name; vb++)
		if (streq(vb->name, argv[optind]))
			verb = vb;
	if (!verb)
		return cli_usage("unknown command '%s'", argv[optind]);
	nargs = argc - optind - 1;
	if (nargs < verb->min_args || (verb->max_args >= 0 && nargs > verb->max_args))
		return cli_usage("%s: wrong number of arguments", verb->name);
	for (size_t i = 0; i < ARRAY_SIZE(opt_names); i++)
		if ((arg.given & (1U << i)) && !(verb->options & (1U << i)))
			return cli_usage("%s does not take %s", verb->name, opt_names[i]);

	/* Said once, first: else every volume would blame its config line for EACCES. */
	if (verb->needs_config && !cli_privileged()) {
		cli_error("'%s' needs root (or CAP_SYS_ADMIN): snapshots, their filesystems and "
			  "LVM are root's to read and change", verb->name);
		return EXIT_USAGE;
	}
	if (verb->needs_config && (arg.fs || arg.vg)) {
		if (arg.fs && arg.vg)
			return cli_usage("--fs and --vg: one at a time");
		r = cli_rescue_config(&cfg);
		if (r != EXIT_OK)
			return r;
	} else if (verb->needs_config) {
		r = config_load(arg.config, true, &cfg, &e);
		/* Installed but not configured: the package hooks have nothing to do. */
		if (r == -ENOENT && verb->hook && streq(arg.config, CONFIG_DEFAULT_PATH))
			return EXIT_OK;
		if (r < 0) {
			char text[sizeof(e.msg) + 64];

			cli_error("%s", rerr_text(&e, r, text, sizeof(text)));
			if (verb->hook)
				cli_error("no package snapshots: fix the configuration; the package "
					  "manager goes on");
			return verb->hook ? EXIT_OK : EXIT_USAGE;
		}
	}
	if (cfg)
		backend_resolve(cfg);
	engine_init(&eng, cfg, arg.now, arg.dry_run, arg.wait);
	r = verb->run(&eng, nargs, argv + optind + 1);
	engine_done(&eng);
	if (fflush(stdout) != 0 && r == EXIT_OK) {
		cli_error("cannot write output: %m");
		return EXIT_FAILED;
	}
	return r;
}
