/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Python objects by type, read from outside the process: walks every list
 * of the interpreter's cyclic garbage collector (the generations and the
 * permanent generation: every GC-tracked object) and counts objects and
 * bytes per type. Pure: target memory comes through a read callback, so a
 * fake target tests it; every byte read is hostile (bounded walks, checked
 * links, sanitized names). GIL builds, CPython 3.10-3.15.
 *
 * Objects the collector does not track (str, bytes, int and float) are
 * counted through the tracked containers that hold them, one level deep,
 * as pympler does: the items of every list, tuple, dict (keys and values)
 * and set (subclasses included), each object once (by address), sized as
 * sys.getsizeof() sizes it (a str's UTF-8 and, before 3.12, wchar_t copies
 * included). They have types of their own in .types (no GC header in
 * their bytes) and are also summed in .untracked.
 *
 * A racy walk (the process runs) checks each link (next->_gc_prev == cur)
 * and each node's type (a type object with the GC flag, whose own type is
 * a type): a node that fails is read again once, uncached; if it fails
 * again the rest of that list is dropped and counted in .failures (a node
 * that is no object is another list's head: the list moved meanwhile).
 */
#ifndef MT_PY_OBJECTS_H
#define MT_PY_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "mt_python.h"

/* Read len bytes at addr of the target: 0, or a negative errno (all or nothing). */
typedef int (*mt_py_read_fn)(void *ctx, __u64 addr, void *buf, size_t len);

#define MT_PY_TYPE_NAME 64		  /* bytes kept of a tp_name, NUL included */
#define MT_PY_MAX_TYPES 16384		  /* distinct types counted; more go to .dropped_types */
#define MT_PY_MAX_OBJECTS (64ULL << 20)	  /* nodes walked over all lists */
#define MT_PY_MAX_UNTRACKED (16ULL << 20) /* distinct untracked objects counted */
#define MT_PY_MAX_ITEMS (64ULL << 20)	  /* items read in one container */

struct mt_py_type_count {
	__u64 type; /* the type object's address */
	char name[MT_PY_TYPE_NAME];
	__u64 count;
	__u64 bytes;
};

struct mt_py_objects {
	struct mt_py_type_count *types; /* unordered; see mt_py_objects__sort */
	size_t nr_types;
	__u64 objects, bytes; /* over every type, untracked ones included */
	/* str, bytes, int, float reached through containers (in objects, bytes) */
	__u64 untracked, untracked_bytes;
	/* untracked objects not counted: past MT_PY_MAX_UNTRACKED, unreadable */
	__u64 untracked_dropped;
	__u64 containers_cut; /* containers whose items could not all be read */
	__u64 permanent;      /* objects in the permanent generation */
	unsigned int lists;   /* GC lists found and walked */
	__u64 retries;	      /* links read again after a failed check */
	__u64 failures;	      /* lists cut short by a link failing twice */
	__u64 bad_types;      /* nodes whose type pointer was not a GC type object */
	__u64 dropped_types;  /* objects of types past MT_PY_MAX_TYPES */
	/* private */
	void *priv;
};

/*
 * Address of the main interpreter's GC state (interp->gc) in the target,
 * from the detected layout *off (mt_py__detect). 0, -EOPNOTSUPP (version
 * unknown here), -EPROTO (implausible values) or the reader's errno.
 */
int mt_py_objects__gc_state(const struct mt_py_offsets *off, mt_py_read_fn read, void *ctx,
			    __u64 *gc);

/*
 * Walk every GC list of the state at gc (interpreter version `version`,
 * PY_VERSION_HEX) and fill *out (zeroed first; free it with
 * mt_py_objects__free). Returns 0 (counted failures included), -ENOENT when
 * no list head is found at gc, -ENOMEM.
 */
int mt_py_objects__walk(__u32 version, __u64 gc, mt_py_read_fn read, void *ctx,
			struct mt_py_objects *out);

/* Sort .types by bytes, then count, largest first. */
void mt_py_objects__sort(struct mt_py_objects *o);

/* Frees what *o holds (not o). NULL-safe. */
void mt_py_objects__free(struct mt_py_objects *o);

/* One PyGC_Head, where gc lists begin: 16 bytes in front of the object. */
#define MT_PY_GC_HEAD 16

#endif
