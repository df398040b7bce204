/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Subcommands: what memtrace does with saved reports, without root,
 * without BPF and without a session. main() looks argv[1] up in the table
 * before anything else; a new subcommand is one entry and its function.
 *
 *   memtrace report FILE [--format FMT] [-o OUT] [--all]
 *   memtrace diff A B [--format text|json] [--group-by line|stack] [-o OUT]
 */
#ifndef MT_COMMANDS_H
#define MT_COMMANDS_H

struct mt_command {
	const char *name;
	const char *summary;
	/* argv[0] is the subcommand's name; returns the exit code */
	int (*run)(int argc, char **argv);
};

/* The subcommand named name, or NULL. */
const struct mt_command *mt_command__find(const char *name);

#endif
