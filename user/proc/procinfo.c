// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
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
static int stat_fields_at(const char *path, char *buf, size_t size, char **fields)
{
	char *p;
	FILE *f;
	size_t n;

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

static int stat_fields(pid_t pid, char *buf, size_t size, char **fields)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	return stat_fields_at(path, buf, size, fields);
}

/* The state (field 3) and start time (field 22) of pid. 0 or -errno (-ESRCH: none). */
static int stat_state_start(pid_t pid, char *state, __u64 *ticks)
{
	char buf[1024], *p = buf;
	unsigned long long v;
	int err = stat_fields(pid, buf, sizeof(buf), &p);

	if (err)
		return err;
	p += strspn(p, " ");
	*state = *p;
	/* fields 3..21 to skip, then starttime (22) */
	for (int field = 3; field < 22; field++) {
		p += strcspn(p, " ");
		p += strspn(p, " ");
	}
	if (sscanf(p, "%llu", &v) != 1)
		return -EINVAL;
	*ticks = v;
	return 0;
}

static bool state_exited(char state)
{
	return state == 'Z' || state == 'X';
}

bool mt_proc__exited(pid_t pid)
{
	__u64 ticks;
	char state;
	int err = stat_state_start(pid, &state, &ticks);

	if (err)
		return err == -ESRCH;
	return state_exited(state);
}

int mt_proc__start_time(pid_t pid, __u64 *ticks)
{
	char state;

	return stat_state_start(pid, &state, ticks);
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
	char state;

	return !stat_state_start(pid, &state, &now) && now == ticks && !state_exited(state);
}

int mt_proc__running_threads(pid_t pid)
{
	char path[64], buf[512];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((de = readdir(d))) {
		char *p;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/stat", pid, de->d_name);
		if (!stat_fields_at(path, buf, sizeof(buf), &p) && p[0] == ' ' && p[1] != 'T' &&
		    p[1] != 't')
			n++;
	}
	closedir(d);
	return n;
}

int mt_proc__children(pid_t pid, pid_t *out, size_t max)
{
	char path[64];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((de = readdir(d)) && n < max) {
		long tid = strtol(de->d_name, NULL, 10), c;
		FILE *f;

		if (tid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%ld/children", pid, tid);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (n < max && fscanf(f, "%ld", &c) == 1)
			if (c > 0)
				out[n++] = (pid_t)c;
		fclose(f);
	}
	closedir(d);
	return (int)n;
}

/* "Key:   1234 kB" at line p: the value in bytes, or -1. */
static __s64 status_kb(const char *p, const char *end)
{
	unsigned long long v = 0;
	bool digits = false;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (v > (1ULL << 40)) /* 1 EiB in kB: no real process */
			return -1;
		v = v * 10 + (unsigned long long)(*p - '0');
		digits = true;
	}
	if (!digits || end - p < 3 || memcmp(p, " kB", 3))
		return -1;
	return (__s64)v * 1024;
}

/* One line of /proc/PID/status, [p, eol), into m if it is a memory field. */
static void status_line(struct mt_proc_mem *m, const char *p, const char *eol)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
	    {"VmRSS:", offsetof(struct mt_proc_mem, rss)},
	    {"RssAnon:", offsetof(struct mt_proc_mem, rss_anon)},
	    {"VmSwap:", offsetof(struct mt_proc_mem, swap)},
	};

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		size_t n = strlen(keys[k].key);

		if ((size_t)(eol - p) > n && !memcmp(p, keys[k].key, n))
			*(__s64 *)((char *)m + keys[k].off) = status_kb(p + n, eol);
	}
}

int mt_proc__parse_status_mem(const char *text, size_t len, struct mt_proc_mem *m)
{
	const char *p = text, *end = text + len;

	m->rss = m->rss_anon = m->swap = -1;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (!eol)
			eol = end;
		status_line(m, p, eol);
		p = eol + 1;
	}
	return m->rss >= 0 ? 0 : -ENOENT;
}

int mt_proc__mem(pid_t pid, struct mt_proc_mem *m)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	m->rss = m->rss_anon = m->swap = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	/* line by line: a Groups line can be long */
	while ((n = getline(&line, &cap, f)) > 0)
		status_line(m, line, line + n - (line[n - 1] == '\n'));
	free(line);
	fclose(f);
	return m->rss >= 0 ? 0 : -ENOENT;
}
