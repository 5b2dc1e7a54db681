/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The command line: argv, verbs, printing and exit codes. The only module
 * that prints.
 */
#ifndef SNAPROTATE_CLI_H
#define SNAPROTATE_CLI_H

/* Exit codes of SPEC 2 (check has its own, Nagios-style). */
enum exit_code {
	EXIT_OK = 0,
	EXIT_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_LOCKED = 3,
};

/**
 * cli_main() - Run one command line: parse the options, load the config when
 * the command needs one, run the command and print its results.
 * @argc: The number of arguments.
 * @argv: The arguments, as main() gets them.
 * Return: the process exit code (enum exit_code; check's own for check).
 */
int cli_main(int argc, char *argv[]);

#endif
