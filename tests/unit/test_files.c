// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * files: a target's files are opened without blocking, only when regular,
 * and only when they are the mapped file (or, for readers, a live one).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include "proc/files.h"
#include "test.h"

MT_TEST(files_refuse_non_regular)
{
	char dir[] = "/tmp/mt-files-XXXXXX", fifo[64];

	ASSERT_EQ(mt_files__open("/dev/null"), -ENXIO, "a device");
	ASSERT_EQ(mt_files__open("/"), -ENXIO, "a directory");
	ASSERT_EQ(mt_files__open("/nonexistent/x"), -ENOENT, "missing");
	if (!ASSERT_TRUE(mkdtemp(dir) != NULL, "mkdtemp"))
		return;
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	/* a FIFO without a writer would block a plain open forever */
	if (ASSERT_OK(mkfifo(fifo, 0600), "mkfifo"))
		ASSERT_EQ(mt_files__open(fifo), -ENXIO, "a FIFO");
	unlink(fifo);
	rmdir(dir);
}

/* One module of a made-up maps snapshot: file at path, identity (dev, ino). */
static void one_module(struct mt_maps *maps, struct mt_map *map, struct mt_module *mod, char *path,
		       dev_t dev, __u64 ino, bool gone)
{
	static char shown[300];

	snprintf(shown, sizeof(shown), "%s%s", path, gone ? " (deleted)" : "");
	*map = (struct mt_map){
	    .start = 0x1000, .end = 0x2000, .inode = ino, .dev = dev, .path = shown};
	*mod = (struct mt_module){
	    .path = path, .start = 0x1000, .end = 0x2000, .inode = ino, .dev = dev};
	*maps = (struct mt_maps){.maps = map, .nr_maps = 1, .mods = mod, .nr_mods = 1};
}

MT_TEST(files_identity)
{
	char path[] = "/tmp/mt-files-XXXXXX", got[256];
	struct mt_maps maps;
	struct mt_map map;
	struct mt_module mod;
	struct stat st;
	int fd = mkstemp(path);

	if (!ASSERT_TRUE(fd >= 0, "mkstemp") || !ASSERT_OK(fstat(fd, &st), "fstat"))
		return;
	close(fd);
	/* the mapped file: accepted, its path given back */
	one_module(&maps, &map, &mod, path, st.st_dev, st.st_ino, false);
	fd = mt_files__open_module(0, &maps, &mod, "", MT_FILES_SAME, got, sizeof(got));
	if (ASSERT_TRUE(fd >= 0, "same file"))
		close(fd);
	ASSERT_STREQ(got, path, "path opened");
	/* another file at the path: only a reader takes it, and not when deleted */
	one_module(&maps, &map, &mod, path, st.st_dev, st.st_ino + 1, false);
	ASSERT_EQ(mt_files__open_module(0, &maps, &mod, "", MT_FILES_SAME, NULL, 0), -ENOENT,
		  "other inode, same required");
	fd = mt_files__open_module(0, &maps, &mod, "", MT_FILES_LIVE, NULL, 0);
	if (ASSERT_TRUE(fd >= 0, "other inode, live accepted"))
		close(fd);
	one_module(&maps, &map, &mod, path, st.st_dev, st.st_ino + 1, true);
	ASSERT_EQ(mt_files__open_module(0, &maps, &mod, "", MT_FILES_LIVE, NULL, 0), -ENOENT,
		  "deleted: the path is another file");
	unlink(path);
}
