/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Trace event ids: what perf_event_open needs to attach to a tracepoint.
 * Read from tracefs; where none is mounted, from one mounted for a moment
 * in a private mount namespace (a child process), so the host's mounts
 * stay as they were.
 */
#ifndef MT_TRACEFS_H
#define MT_TRACEFS_H

#include <stddef.h>
#include <linux/types.h>

/*
 * The ids of n events ("syscalls/sys_enter_mmap", ...) into ids. 0 or a
 * negative errno: -ENOENT when the kernel has no such event, -EPERM when
 * no tracefs is mounted and mounting one takes CAP_SYS_ADMIN.
 */
int mt_tracefs__event_ids(const char *const *events, size_t n, __u64 *ids);

#endif
