/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Reading another process's memory: process_vm_readv, else (seccomp, old
 * kernels, no ptrace permission for that call) pread on /proc/PID/mem.
 * The reader needs the same ptrace access as a debugger (root, or
 * CAP_SYS_PTRACE).
 */
#ifndef MT_PROCMEM_H
#define MT_PROCMEM_H

#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

/*
 * Read len bytes at addr of pid into buf; all of them or none counts.
 * Returns 0 (also for len 0), -EINVAL (pid <= 0 or buf NULL), -EFAULT (not
 * all of the range is mapped, or it wraps), -ESRCH (process gone), -EPERM,
 * or another negative errno.
 */
int mt_procmem__read(pid_t pid, __u64 addr, void *buf, size_t len);

#endif
