/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * /proc/PID/maps parsing: the file-backed modules a process maps.
 *
 * A module is one file with its lowest mapping address and the mapping
 * that holds its code; addresses of that process translate to ELF virtual
 * addresses as   elf_vaddr = addr - bias   where the symbolizer derives bias
 * from exec_start/exec_offset and the file's PT_LOAD program headers.
 *
 * Every mapping with an absolute path belongs to a module; pseudo-paths
 * ([heap], [stack], [vdso], [anon:...]) and anonymous mappings do not.
 * A module's path has the " (deleted)" suffix of an unlinked file removed;
 * mt_map.path keeps the line's text as is. Modules are sorted by start.
 */
#ifndef MT_PROCMAPS_H
#define MT_PROCMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

struct mt_map {
	__u64 start, end, offset;
	__u64 inode;
	dev_t dev;
	unsigned int prot; /* PROT_READ | PROT_WRITE | PROT_EXEC */
	char *path;	   /* NULL for anonymous mappings */
};

struct mt_module {
	char *path;  /* as in the maps file (target's mount namespace) */
	__u64 start; /* lowest address of any mapping of the file */
	__u64 end;   /* highest address of any mapping of the file */
	__u64 exec_start, exec_end, exec_offset; /* the r-x mapping */
	__u64 inode;
	dev_t dev;
};

struct mt_maps {
	struct mt_map *maps;
	size_t nr_maps;
	struct mt_module *mods;
	size_t nr_mods;
};

/*
 * Parse text in /proc/PID/maps format into *out (overwritten, not freed;
 * empty on error). Returns 0 or a negative errno. Lines that do not parse
 * are -EINVAL (the file is kernel-generated); blank lines are skipped.
 */
int mt_maps__parse(const char *text, size_t len, struct mt_maps *out);
/* Read and parse /proc/PID/maps. -ESRCH when the process is gone. */
int mt_maps__read(pid_t pid, struct mt_maps *out);
/* Free what parse/read allocated and empty *m; accepts NULL. */
void mt_maps__free(struct mt_maps *m);

/* Module containing addr, or NULL. */
const struct mt_module *mt_maps__find(const struct mt_maps *m, __u64 addr);
/* First module whose file name (basename) starts with prefix, or NULL. */
const struct mt_module *mt_maps__find_name(const struct mt_maps *m, const char *prefix);

#endif
