/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Opening the files a target process maps, as that process sees them.
 *
 * A path in /proc/PID/maps is in the target's mount namespace: it is
 * opened here as /proc/PID/root/<path> (containers, chroots) and accepted
 * when its (st_dev, st_ino) is the pair the maps line gives. When it is
 * not (the file was replaced or deleted since it was mapped, or the path
 * names another file here) the mapping itself is opened through
 * /proc/PID/map_files/<start>-<end> (root only). Callers that only read the
 * file may also accept the file now at the path, unless the maps line says
 * the mapped one was deleted: overlayfs and btrfs report other device
 * numbers in maps than stat does.
 *
 * A target can map anything, and a path can be swapped for a FIFO or a
 * device between the maps read and the open: every open here is
 * O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY and refuses what fstat says
 * is not a regular file, so nothing blocks or talks to a device.
 */
#ifndef MT_FILES_H
#define MT_FILES_H

#include <stddef.h>
#include <sys/types.h>
#include "proc/procmaps.h"

/* What a file opened by its path must be to be accepted. */
enum mt_files_match {
	MT_FILES_SAME, /* the mapped file: device and inode as in the maps line */
	MT_FILES_LIVE, /* else also the file at the path, unless it was deleted */
};

/*
 * Open a regular file by path, without blocking on anything else. Returns
 * a descriptor or a negative errno (-ENXIO: not a regular file).
 */
int mt_files__open(const char *path);

/*
 * Open the file of module mod of process pid (maps: its mappings, which
 * hold mod). root is prepended to mod->path: NULL means "/proc/PID/root",
 * "" the paths as they are. pid <= 0 disables map_files. When path is not
 * NULL it receives the path that was opened (a uprobe is attached by path),
 * truncated to path_sz. Returns a descriptor of a regular file or a
 * negative errno: -ENOENT when no acceptable file was found,
 * -ENAMETOOLONG, or what open(2) said.
 */
int mt_files__open_module(pid_t pid, const struct mt_maps *maps, const struct mt_module *mod,
			  const char *root, enum mt_files_match match, char *path, size_t path_sz);

/*
 * Open the file of the module of pid that maps addr, the mapped file itself
 * (MT_FILES_SAME). A descriptor, -ENOENT (no module there, or no way to its
 * file) or another negative errno. Attach through the descriptor
 * ("/proc/self/fd/N"), never by a path string: a target can swap a path
 * for a symlink to another file between a check and the attach.
 */
int mt_maps__module_open(pid_t pid, const struct mt_maps *maps, __u64 addr);

#endif
