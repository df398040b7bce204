// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "proc/procinfo.h"

void mt_proc__comm(pid_t pid, char comm[16])
{
	char path[64], buf[64];
	FILE *f;

	snprintf(comm, 16, "?");
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(buf, sizeof(buf), f)) {
		size_t n = strcspn(buf, "\n");

		if (n > 15)
			n = 15;
		for (size_t i = 0; i < n; i++)
			comm[i] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '?';
		comm[n] = 0;
	}
	fclose(f);
}

void mt_proc__cgroup(pid_t pid, char *buf, size_t len)
{
	char path[64], line[512];
	FILE *f;

	if (len)
		buf[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':'), *q = p ? strchr(p + 1, ':') : NULL;

		if (!q)
			continue;
		*q = 0;
		/* "0::/path" (v2), or the memory controller's line (v1) */
		if (!strcmp(p + 1, "") || strstr(p + 1, "memory")) {
			q[1 + strcspn(q + 1, "\n")] = 0;
			snprintf(buf, len, "%s", q + 1);
			break;
		}
	}
	fclose(f);
}

/*
 * The fields of /proc/PID/stat after the name (from field 3, the state),
 * into buf. 0 or -errno (-ESRCH: no such process).
 */
static int stat_fields(pid_t pid, char *buf, size_t size, char **fields)
{
	char path[64], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = 0;
	/* the name may hold spaces and parentheses: fields start after the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	*fields = p + 1;
	return 0;
}

bool mt_proc__exited(pid_t pid)
{
	char buf[1024], *p;
	int err = stat_fields(pid, buf, sizeof(buf), &p);

	if (err)
		return err == -ESRCH;
	p += strspn(p, " ");
	return *p == 'Z' || *p == 'X';
}

int mt_proc__start_time(pid_t pid, __u64 *ticks)
{
	char buf[1024], *p;
	unsigned long long v;
	int err = stat_fields(pid, buf, sizeof(buf), &p);

	if (err)
		return err;
	/* fields 3..21 to skip, then starttime (22) */
	for (int field = 3; field <= 22; field++) {
		p += strspn(p, " ");
		if (field == 22)
			break;
		p += strcspn(p, " ");
	}
	if (sscanf(p, "%llu", &v) != 1)
		return -EINVAL;
	*ticks = v;
	return 0;
}

__u64 mt_proc__ticks_of_ns(__u64 ns)
{
	long hz = sysconf(_SC_CLK_TCK);

	/* as the kernel's nsec_to_clock_t for USER_HZ dividing a second */
	return ns / (1000000000ULL / (__u64)(hz > 0 ? hz : 100));
}

bool mt_proc__alive(pid_t pid, __u64 ticks)
{
	__u64 now;

	return !mt_proc__start_time(pid, &now) && now == ticks;
}
