// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>
#include "kernel/tracefs.h"

#define MT_TRACEFS "/sys/kernel/tracing"

static int read_ids(const char *root, const char *const *events, size_t n, __u64 *ids)
{
	char path[PATH_MAX], buf[32];

	for (size_t i = 0; i < n; i++) {
		ssize_t len;
		int fd;

		snprintf(path, sizeof(path), "%s/events/%s/id", root, events[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			return -EIO;
		buf[len] = 0;
		ids[i] = strtoull(buf, NULL, 10);
	}
	return 0;
}

static int read_full(int fd, void *buf, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t got = read(fd, (char *)buf + off, len - off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -EIO;
		off += got;
	}
	return 0;
}

/* In a child: a private mount namespace, tracefs mounted in it, the ids sent back. */
static int read_ids_privately(const char *const *events, size_t n, __u64 *ids)
{
	int p[2], err;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(p[0]);
		close(p[1]);
		return err;
	}
	if (pid == 0) {
		err = 0;
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("tracefs", MT_TRACEFS, "tracefs", 0, NULL))
			err = -errno;
		else
			err = read_ids(MT_TRACEFS, events, n, ids);
		if (write(p[1], &err, sizeof(err)) == sizeof(err) && !err &&
		    write(p[1], ids, n * sizeof(*ids)) != (ssize_t)(n * sizeof(*ids)))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (read_full(p[0], &err, sizeof(err)) || (!err && read_full(p[0], ids, n * sizeof(*ids))))
		err = -EIO;
	close(p[0]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return err;
}

int mt_tracefs__event_ids(const char *const *events, size_t n, __u64 *ids)
{
	static const char *const roots[] = {MT_TRACEFS, "/sys/kernel/debug/tracing"};

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/events", roots[i]);
		if (!access(path, F_OK))
			return read_ids(roots[i], events, n, ids);
	}
	return read_ids_privately(events, n, ids);
}
