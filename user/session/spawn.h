/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Running a command traced from its first instruction.
 *
 * The child is started under ptrace and stepped from syscall to syscall
 * until the file that holds its allocator is mapped; ld.so runs no code
 * of that file before then, so probes attached at that point see every
 * allocation. Then ptrace lets it go: the command runs as any process
 * does (job control, strace and gdb work; memtrace's end does not end
 * it). What comes later (execs, Py_FinalizeEx, exit) memtrace follows by
 * BPF, as for -p.
 */
#ifndef MT_SPAWN_H
#define MT_SPAWN_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

/*
 * Called at each stop until it returns non-zero: 1 = ready (probes are
 * attached), negative errno = give up (the child is killed).
 */
typedef int (*mt_spawn_ready_fn)(pid_t pid, void *arg);

/*
 * Start argv[0] (PATH is searched) and step it until ready() says so.
 * Returns the child's pid, or a negative errno after an error message
 * (e.g. the command does not exist).
 */
pid_t mt_spawn__start(char **argv, mt_spawn_ready_fn ready, void *arg);

/*
 * Has the command ended? Reaps it without blocking: true and *status
 * (its wait status) when it has.
 */
bool mt_spawn__reap(pid_t pid, int *status);
/* Exit code that mirrors a wait status: the code, or 128 + signal. */
int mt_spawn__exit_code(int status);

#endif
