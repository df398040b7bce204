/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A memtrace session: one object that owns everything a run holds (the
 * BPF side, the traced processes, the symbolizers, the output) from
 * memtrace__new to memtrace__free.
 *
 *   memtrace__new   load BPF, open the output, attach what the options
 *                   name (-p pids, the -- command, -a the whole host)
 *   memtrace__run   the event loop: lifecycle events (fork, exec, exit),
 *                   reports every interval, signals; returns when every
 *                   target has exited, the --count is reached or a
 *                   signal ends the run (after a final report)
 *   memtrace__free  detach, resume anything memtrace stopped, free
 *
 * Only the session attaches and retires; reports only read it.
 */
#ifndef MT_SESSION_H
#define MT_SESSION_H

struct memtrace;
struct mt_opts;

/* NULL with errno set, after an error message. opts must outlive the session. */
struct memtrace *memtrace__new(const struct mt_opts *opts);
/* 0 or a negative errno (after a message). */
int memtrace__run(struct memtrace *mt);
/* memtrace's exit code once run: the command's (-- mode), else 0. */
int memtrace__exit_code(const struct memtrace *mt);
/* Accepts NULL and a session whose new or run failed half way. */
void memtrace__free(struct memtrace *mt);

#endif
