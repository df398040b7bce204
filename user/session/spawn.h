/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Running a command traced from its first instruction.
 *
 * The child is started under ptrace and stepped from syscall to syscall
 * until the file that holds its allocator is mapped; ld.so runs no code
 * of that file before then, so probes attached at that point see every
 * allocation. The child then runs freely; ptrace stays attached only to
 * stop it once at exit, while its mappings still exist, so the last
 * report can be symbolized. Signals are passed through unchanged.
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

enum mt_child_event {
	MT_CHILD_NONE = 0, /* nothing happened */
	MT_CHILD_EXITING,  /* stopped at exit: mappings still there; call __resume */
	MT_CHILD_GONE,	   /* exited or killed: *status is its wait status */
	MT_CHILD_SIGNAL,   /* stopped to receive signal *status: call __resume_signal */
	MT_CHILD_EXEC,	   /* stopped after an exec: call __follow_exec */
};

/*
 * Handle pending wait events of the child without blocking. Signals in
 * intercept (a sigset) are reported as MT_CHILD_SIGNAL; others are passed
 * on at once.
 */
enum mt_child_event mt_spawn__poll(pid_t pid, const sigset_t *intercept, int *status);
/* Resume a child stopped for a signal: deliver sig (0: suppress it). */
void mt_spawn__resume_signal(pid_t pid, int sig);
/*
 * The child, stopped right after it executed a new program, is stepped
 * again until ready() says its allocator is probed, then let go. 0 or a
 * negative errno.
 */
int mt_spawn__follow_exec(pid_t pid, mt_spawn_ready_fn ready, void *arg);
/* Let a child stopped at exit go on. */
void mt_spawn__resume(pid_t pid);
/* Exit code that mirrors a wait status: the code, or 128 + signal. */
int mt_spawn__exit_code(int status);

#endif
