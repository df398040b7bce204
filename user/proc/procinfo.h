/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What /proc says about a process: its name, its cgroup, and its start
 * time, which with the pid names one process for its whole life (a pid
 * reused later starts later).
 *
 * Everything read here is controlled by the process (its name) or by
 * whoever runs it: strings are bounded and made printable.
 */
#ifndef MT_PROCINFO_H
#define MT_PROCINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

/* comm (at most 15 bytes), non-printable bytes as '?'; "?" when unreadable. */
void mt_proc__comm(pid_t pid, char comm[16]);
/* The cgroup v2 path, or the v1 memory controller's; "" when unknown. */
void mt_proc__cgroup(pid_t pid, char *buf, size_t len);
/*
 * Start time in clock ticks since boot (field 22 of /proc/PID/stat).
 * 0 or -errno (-ESRCH: no such process).
 */
int mt_proc__start_time(pid_t pid, __u64 *ticks);
/* A start time from BPF (task->start_boottime, ns) in the same ticks. */
__u64 mt_proc__ticks_of_ns(__u64 ns);
/*
 * The children of pid (of all its threads, /proc/PID/task/TID/children),
 * at most max into out. Count, or -errno (-ESRCH: no such process).
 */
int mt_proc__children(pid_t pid, pid_t *out, size_t max);
/* Does pid still name the process that started at ticks, and has it not exited? */
bool mt_proc__alive(pid_t pid, __u64 ticks);
/* Threads of pid not stopped (state other than T or t), or -ESRCH / -errno */
int mt_proc__running_threads(pid_t pid);
/* Has pid exited: no such process, or a zombie (state Z or X)? */
bool mt_proc__exited(pid_t pid);

/* A process's memory, in bytes; -1 for a field its kernel does not show. */
struct mt_proc_mem {
	__s64 rss;	/* VmRSS: resident set */
	__s64 rss_anon; /* RssAnon: its anonymous part (Linux 4.5+) */
	__s64 swap;	/* VmSwap */
};

/*
 * The memory fields of the text of /proc/PID/status (len bytes, need not
 * end with NUL). 0, or -ENOENT when it has no VmRSS (a kernel thread, a
 * zombie); lines that do not parse are skipped.
 */
int mt_proc__parse_status_mem(const char *text, size_t len, struct mt_proc_mem *m);
/* Read /proc/PID/status. 0, -ESRCH (no such process), -ENOENT (no VmRSS) or -errno. */
int mt_proc__mem(pid_t pid, struct mt_proc_mem *m);

#endif
