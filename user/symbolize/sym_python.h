/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Python symbolizer: (code object address, bytecode offset, co_firstlineno)
 * as BPF records them (struct mt_py_frame) -> file, function and line.
 *
 * Code objects are read from the target's memory once, on first sight, and
 * cached per (pid, address, co_firstlineno); lines are cached per (code
 * object, offset). Strings are interned and owned by the symbolizer: valid
 * until mt_sym_python__free. Frames already cached keep resolving after
 * the process has exited (until mt_sym_python__forget_pid). Not
 * thread-safe.
 */
#ifndef MT_SYM_PYTHON_H
#define MT_SYM_PYTHON_H

#include <sys/types.h>
#include <linux/types.h>
#include "mt_python.h"
#include "symbolize/symbolize.h"

struct mt_sym_python;

/* NULL with errno set on failure. */
struct mt_sym_python *mt_sym_python__new(void);
/* Accepts NULL. */
void mt_sym_python__free(struct mt_sym_python *s);

/*
 * Make a Python process known, with the offsets mt_py__detect found for it
 * (copied). Adding a known pid again with other offsets (it exec'd)
 * drops its caches. Returns 0, -EOPNOTSUPP for a version we cannot read,
 * -EINVAL, or -ENOMEM.
 */
int mt_sym_python__add_pid(struct mt_sym_python *s, pid_t pid, const struct mt_py_offsets *off);
/* Drop a process and its caches (its strings stay valid). */
void mt_sym_python__forget_pid(struct mt_sym_python *s, pid_t pid);

/*
 * Resolve one recorded frame of pid into *out: kind MT_FRAME_PYTHON, file
 * = co_filename, function = co_qualname (co_name on 3.10), line from the
 * line table at f->offset (0 when that offset has no line), module NULL,
 * addr = f->code. f->offset is a byte offset into the bytecode on every
 * version (3.10: 2 * f_lasti).
 *
 * Returns 0, or a negative errno with *out zeroed except kind and addr:
 *   -ENOENT      pid not added
 *   -ESTALE      the object at f->code is no longer that code object (its
 *                co_firstlineno differs from f->firstlineno, or it is not
 *                a code object): freed and its memory reused
 *   -EFAULT      unreadable memory; -ESRCH: the process is gone and the
 *                code object was not cached
 *   -EBADMSG     a string or line table that is not well formed
 *   -EINVAL, -ENOMEM
 */
int mt_sym_python__resolve(struct mt_sym_python *s, pid_t pid, const struct mt_py_frame *f,
			   struct mt_frame *out);

#endif
