// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The target's files: path through /proc/PID/root with one identity check,
 * else the mapping through /proc/PID/map_files, else (readers only) the
 * live path unless the mapped file was deleted.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "proc/files.h"

#define DELETED_SUFFIX " (deleted)"

/* Open path if it is a regular file; *st is its fstat. fd or -errno. */
static int open_regular(const char *path, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
		close(fd);
		return -ENXIO;
	}
	return fd;
}

int mt_files__open(const char *path)
{
	struct stat st;

	return path ? open_regular(path, &st) : -EINVAL;
}

static bool deleted(const char *path)
{
	size_t len = path ? strlen(path) : 0, slen = strlen(DELETED_SUFFIX);

	return len > slen && !strcmp(path + len - slen, DELETED_SUFFIX);
}

static bool maps_file(const struct mt_map *map, const struct mt_module *mod)
{
	return map->path && map->inode == mod->inode && map->dev == mod->dev &&
	       map->start >= mod->start && map->end <= mod->end;
}

/* Was the file mod maps deleted since (its maps lines say so)? */
static bool mod_deleted(const struct mt_maps *maps, const struct mt_module *mod)
{
	for (size_t i = 0; i < maps->nr_maps; i++)
		if (maps_file(&maps->maps[i], mod) && deleted(maps->maps[i].path))
			return true;
	return false;
}

/* The map_files entry of [start, end) of pid, copied to path. fd or -errno. */
static int open_map_file(pid_t pid, __u64 start, __u64 end, char *path, size_t path_sz)
{
	char mf[64];
	struct stat st;
	int fd;

	snprintf(mf, sizeof(mf), "/proc/%d/map_files/%llx-%llx", (int)pid,
		 (unsigned long long)start, (unsigned long long)end);
	fd = open_regular(mf, &st);
	if (fd >= 0 && path)
		snprintf(path, path_sz, "%s", mf);
	return fd;
}

/* The code mapping of mod first, then any other mapping of its file. */
static int open_mapping(pid_t pid, const struct mt_maps *maps, const struct mt_module *mod,
			char *path, size_t path_sz)
{
	int fd = -ENOENT;

	if (mod->exec_end > mod->exec_start)
		fd = open_map_file(pid, mod->exec_start, mod->exec_end, path, path_sz);
	for (size_t i = 0; fd < 0 && i < maps->nr_maps; i++) {
		const struct mt_map *m = &maps->maps[i];

		if (maps_file(m, mod) && m->start != mod->exec_start)
			fd = open_map_file(pid, m->start, m->end, path, path_sz);
	}
	return fd;
}

int mt_files__open_module(pid_t pid, const struct mt_maps *maps, const struct mt_module *mod,
			  const char *root, enum mt_files_match match, char *path, size_t path_sz)
{
	char buf[PATH_MAX + 64], proc_root[32];
	struct stat st;
	int fd, fd2;

	if (!maps || !mod || !mod->path)
		return -EINVAL;
	if (!root) {
		snprintf(proc_root, sizeof(proc_root), "/proc/%d/root", (int)pid);
		root = proc_root;
	}
	if ((size_t)snprintf(buf, sizeof(buf), "%s%s", root, mod->path) >= sizeof(buf))
		return -ENAMETOOLONG;
	fd = open_regular(buf, &st);
	/* the one identity check: is the file at the path the mapped one? */
	if (fd >= 0 && st.st_dev == mod->dev && st.st_ino == mod->inode)
		goto found;
	if (pid > 0) {
		fd2 = open_mapping(pid, maps, mod, path, path_sz);
		if (fd2 >= 0) {
			if (fd >= 0)
				close(fd);
			return fd2;
		}
	}
	if (fd >= 0 && match == MT_FILES_LIVE && !mod_deleted(maps, mod))
		goto found;
	if (fd < 0)
		return fd;
	close(fd);
	return -ENOENT;
found:
	if (path)
		snprintf(path, path_sz, "%s", buf);
	return fd;
}

int mt_maps__module_open(pid_t pid, const struct mt_maps *maps, __u64 addr)
{
	const struct mt_module *mod = mt_maps__find(maps, addr);

	if (!mod)
		return -ENOENT;
	return mt_files__open_module(pid, maps, mod, NULL, MT_FILES_SAME, NULL, 0);
}
