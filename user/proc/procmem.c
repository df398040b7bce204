// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Target memory: one process_vm_readv, which fails as a whole when part of
 * the range is unmapped; /proc/PID/mem when that system call is not
 * allowed here.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/uio.h>
#include "proc/procmem.h"

static int read_proc_mem(pid_t pid, __u64 addr, void *buf, size_t len)
{
	char path[64];
	size_t done = 0;
	int fd, err = 0;

	if (addr > (__u64)LLONG_MAX - len)
		return -EFAULT;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(addr + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n == 0 || errno == EIO ? -EFAULT : -errno;
			break;
		}
		done += n;
	}
	close(fd);
	return err;
}

int mt_procmem__read(pid_t pid, __u64 addr, void *buf, size_t len)
{
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(unsigned long)addr, .iov_len = len};
	ssize_t n;

	if (!len)
		return 0;
	if (pid <= 0 || !buf)
		return -EINVAL;
	if (addr + len < addr)
		return -EFAULT;
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n >= 0)
		return -EFAULT; /* partial: the range crosses into unmapped memory */
	if (errno != ENOSYS && errno != EPERM && errno != EACCES)
		return -errno;
	return read_proc_mem(pid, addr, buf, len);
}
