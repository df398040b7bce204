// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * memtrace: outstanding bytes per source line of running processes.
 *
 * Data flows one way:
 *   probes (bpf/) -> maps -> reader -> symbolizer -> aggregator -> report
 *   model -> output format.
 * The session (user/session/) owns a run; this file parses the command
 * line and hands it over. A subcommand on saved reports (memtrace report,
 * memtrace diff: commands.h) runs instead, before any session exists.
 */
#include <errno.h>
#include "commands.h"
#include "lib/log.h"
#include "opts.h"
#include "session/session.h"

int main(int argc, char **argv)
{
	struct memtrace *mt;
	const struct mt_command *cmd = argc > 1 ? mt_command__find(argv[1]) : NULL;
	struct mt_opts opts;
	int err;

	if (cmd)
		return cmd->run(argc - 1, argv + 1);
	err = mt_opts__parse(&opts, argc, argv);
	if (err)
		return 64; /* EX_USAGE, as argp's own usage errors */
	mt_log__set_level(MT_LOG_INFO + opts.verbose);
	mt_log__hook_libbpf();

	mt = memtrace__new(&opts);
	if (!mt)
		return 1;
	err = memtrace__run(mt);
	if (!err)
		err = memtrace__exit_code(mt);
	else
		err = 1;
	memtrace__free(mt);
	return err;
}
