/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Native symbolizer on elfutils libdwfl: address -> function, file:line
 * and inline chain. One Dwfl per ELF file, cached by build-id (or path and
 * inode when there is none), shared by every process that maps the file.
 * Separate debug files are found through the standard build-id paths
 * (/usr/lib/debug/.build-id/xx/yyyy.debug) and .gnu_debuglink.
 */
#ifndef MT_SYM_NATIVE_H
#define MT_SYM_NATIVE_H

#include <sys/types.h>
#include "proc/procmaps.h"
#include "symbolize/symbolize.h"

struct mt_sym_native;

struct mt_sym_native *mt_sym_native__new(void);
void mt_sym_native__free(struct mt_sym_native *s);

/*
 * Ask debuginfod servers (a DEBUGINFOD_URLS value; NULL or "": none) for
 * the debug files of modules that have none on the local disk, through
 * libdebuginfod with its cache; each request gives up after 10 s. The
 * variable is kept out of the environment otherwise, so libdw never asks
 * on its own.
 */
void mt_sym_native__use_debuginfod(struct mt_sym_native *s, const char *urls);

/*
 * Make a process's modules known (call again after it maps new files).
 * Files are opened through /proc/PID/root so containers work, and kept
 * open, so addresses still resolve after the process has exited.
 * Returns 0 or a negative errno (-ESRCH: process gone).
 */
int mt_sym_native__add_pid(struct mt_sym_native *s, pid_t pid);
/* Same, from an already parsed maps snapshot; root is e.g. "/proc/PID/root" or "". */
int mt_sym_native__add_maps(struct mt_sym_native *s, pid_t pid, const struct mt_maps *maps,
			    const char *root);
void mt_sym_native__forget_pid(struct mt_sym_native *s, pid_t pid);

/*
 * Resolve one address of pid. is_return: addr is a return address (look up
 * addr - 1, as the call instruction is the line that allocated). Writes up
 * to max frames, innermost first, and returns how many (>= 1: an unknown
 * address still yields one frame with module and/or addr only), or a
 * negative errno.
 */
int mt_sym_native__resolve(struct mt_sym_native *s, pid_t pid, __u64 addr, bool is_return,
			   struct mt_frame *frames, int max);

/* Module (file basename) containing addr in pid, or NULL. */
const char *mt_sym_native__module(struct mt_sym_native *s, pid_t pid, __u64 addr);

#endif
