// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * /proc/PID/maps parser.
 *
 * Each line is "start-end perms offset major:minor inode [path]", numbers in
 * hex except the inode. The path is the rest of the line: it may contain
 * spaces, ends in " (deleted)" when the file was unlinked, and is a
 * pseudo-name in brackets ([heap], [stack], [vdso], [anon:name], ...) or
 * empty for anonymous memory. mt_map keeps the path exactly as given.
 *
 * Modules are the files behind the mappings: every mapping whose path is
 * absolute belongs to one. Mappings of the same (dev, inode, path) join the
 * module seen last for that file, unless they map file offset 0 again and
 * that module already has a mapping at offset 0: then the file was mapped a
 * second time (dlmopen, or a plain mmap of the file) and a new module starts.
 * This keeps module ranges apart so that they can be binary searched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include "proc/procmaps.h"

#define DELETED_SUFFIX " (deleted)"

/* Growable array helper: make room for one more element of size sz. */
static int grow(void **arr, size_t *cap, size_t nr, size_t sz)
{
	size_t ncap;
	void *p;

	if (nr < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	p = realloc(*arr, ncap * sz);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Parse a hex number at *p (at most 16 digits); advance *p. */
static int parse_hex(const char **p, const char *end, __u64 *val)
{
	const char *s = *p;
	__u64 v = 0;
	int n = 0;

	for (; s < end; s++, n++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (n == 16)
			return -EINVAL;
		v = v << 4 | d;
	}
	if (!n)
		return -EINVAL;
	*p = s;
	*val = v;
	return 0;
}

static int parse_dec(const char **p, const char *end, __u64 *val)
{
	const char *s = *p;
	__u64 v = 0;
	int n = 0;

	for (; s < end && *s >= '0' && *s <= '9'; s++, n++) {
		if (v > (~0ULL - 9) / 10)
			return -EINVAL;
		v = v * 10 + (*s - '0');
	}
	if (!n)
		return -EINVAL;
	*p = s;
	*val = v;
	return 0;
}

static int expect(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return -EINVAL;
	(*p)++;
	return 0;
}

/* Parse one line [p, end) (without its newline) into m. */
static int parse_line(const char *p, const char *end, struct mt_map *m)
{
	static const char perm_chars[3] = {'r', 'w', 'x'};
	static const unsigned int perm_bits[3] = {PROT_READ, PROT_WRITE, PROT_EXEC};
	__u64 major, minor;
	int i;

	memset(m, 0, sizeof(*m));
	if (parse_hex(&p, end, &m->start) || expect(&p, end, '-') || parse_hex(&p, end, &m->end) ||
	    expect(&p, end, ' '))
		return -EINVAL;
	if (m->end < m->start || end - p < 5)
		return -EINVAL;
	for (i = 0; i < 3; i++) {
		if (p[i] == perm_chars[i])
			m->prot |= perm_bits[i];
		else if (p[i] != '-')
			return -EINVAL;
	}
	if (p[3] != 'p' && p[3] != 's')
		return -EINVAL;
	p += 4;
	if (expect(&p, end, ' ') || parse_hex(&p, end, &m->offset) || expect(&p, end, ' ') ||
	    parse_hex(&p, end, &major) || expect(&p, end, ':') || parse_hex(&p, end, &minor) ||
	    expect(&p, end, ' ') || parse_dec(&p, end, &m->inode))
		return -EINVAL;
	if (major > 0xfff || minor > 0xfffff)
		return -EINVAL;
	m->dev = makedev(major, minor);
	if (p == end)
		return 0;
	if (*p != ' ')
		return -EINVAL;
	while (p < end && *p == ' ')
		p++;
	if (p == end)
		return 0;
	m->path = strndup(p, end - p);
	return m->path ? 0 : -ENOMEM;
}

static bool is_file_backed(const struct mt_map *m)
{
	return m->path && m->path[0] == '/';
}

/* Module path: the map path without " (deleted)". */
static char *module_path(const char *path)
{
	size_t len = strlen(path), slen = strlen(DELETED_SUFFIX);

	if (len > slen && !strcmp(path + len - slen, DELETED_SUFFIX))
		len -= slen;
	return strndup(path, len);
}

static int cmp_map(const void *a, const void *b)
{
	const struct mt_map *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int cmp_mod(const void *a, const void *b)
{
	const struct mt_module *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int build_modules(struct mt_maps *out)
{
	size_t cap = 0, i;
	bool *has_zero = NULL; /* module i has a mapping at file offset 0 */
	int err = 0;

	for (i = 0; i < out->nr_maps; i++) {
		const struct mt_map *m = &out->maps[i];
		struct mt_module *mod = NULL;
		char *path;
		size_t j;

		if (!is_file_backed(m))
			continue;
		path = module_path(m->path);
		if (!path) {
			err = -ENOMEM;
			goto cleanup;
		}
		for (j = out->nr_mods; j-- > 0;) {
			struct mt_module *c = &out->mods[j];

			if (c->dev == m->dev && c->inode == m->inode && !strcmp(c->path, path)) {
				if (!(m->offset == 0 && has_zero[j]))
					mod = c;
				break;
			}
		}
		if (mod) {
			free(path);
		} else {
			size_t old_cap = cap;
			bool *hz;

			err = grow((void **)&out->mods, &cap, out->nr_mods, sizeof(*out->mods));
			if (!err && cap != old_cap) {
				hz = realloc(has_zero, cap * sizeof(*has_zero));
				if (!hz)
					err = -ENOMEM;
				else
					has_zero = hz;
			}
			if (err) {
				free(path);
				goto cleanup;
			}
			mod = &out->mods[out->nr_mods];
			memset(mod, 0, sizeof(*mod));
			mod->path = path;
			mod->start = m->start;
			mod->end = m->end;
			mod->dev = m->dev;
			mod->inode = m->inode;
			has_zero[out->nr_mods] = false;
			out->nr_mods++;
		}
		if (m->offset == 0)
			has_zero[mod - out->mods] = true;
		if (m->start < mod->start)
			mod->start = m->start;
		if (m->end > mod->end)
			mod->end = m->end;
		if ((m->prot & PROT_EXEC) && mod->exec_end == mod->exec_start) {
			mod->exec_start = m->start;
			mod->exec_end = m->end;
			mod->exec_offset = m->offset;
		}
	}
	if (out->nr_mods > 1)
		qsort(out->mods, out->nr_mods, sizeof(*out->mods), cmp_mod);
cleanup:
	free(has_zero);
	return err;
}

int mt_maps__parse(const char *text, size_t len, struct mt_maps *out)
{
	const char *p = text, *end = text + len;
	size_t cap = 0, i;
	bool sorted = true;
	int err = 0;

	if (!out || (!text && len))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		const char *eol = nl ? nl : end;

		if (eol == p) { /* blank line */
			p = eol + 1;
			continue;
		}
		err = grow((void **)&out->maps, &cap, out->nr_maps, sizeof(*out->maps));
		if (err)
			goto cleanup;
		err = parse_line(p, eol, &out->maps[out->nr_maps]);
		if (err)
			goto cleanup;
		out->nr_maps++;
		p = nl ? nl + 1 : end;
	}
	for (i = 1; i < out->nr_maps; i++)
		if (out->maps[i].start < out->maps[i - 1].start)
			sorted = false;
	if (!sorted)
		qsort(out->maps, out->nr_maps, sizeof(*out->maps), cmp_map);
	err = build_modules(out);
cleanup:
	if (err)
		mt_maps__free(out);
	return err;
}

int mt_maps__read(pid_t pid, struct mt_maps *out)
{
	char path[64], *buf = NULL, *nbuf;
	size_t len = 0, cap = 0;
	int fd = -1, err;
	ssize_t n;

	if (!out || pid <= 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno == ENOENT ? -ESRCH : -errno;
		goto cleanup;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 16384;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				err = -ENOMEM;
				goto cleanup;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno == ENOENT ? -ESRCH : -errno;
			goto cleanup;
		}
		if (n == 0)
			break;
		len += n;
	}
	err = mt_maps__parse(buf, len, out);
cleanup:
	if (fd >= 0)
		close(fd);
	free(buf);
	return err;
}

void mt_maps__free(struct mt_maps *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nr_maps; i++)
		free(m->maps[i].path);
	for (i = 0; i < m->nr_mods; i++)
		free(m->mods[i].path);
	free(m->maps);
	free(m->mods);
	memset(m, 0, sizeof(*m));
}

/* Index of the last element with start <= addr, or -1; elements sorted by start. */
#define LAST_LE(arr, nr, addr)                                       \
	({                                                           \
		size_t ___lo = 0, ___hi = (nr);                      \
		while (___lo < ___hi) {                              \
			size_t ___mid = ___lo + (___hi - ___lo) / 2; \
			if ((arr)[___mid].start <= (addr))           \
				___lo = ___mid + 1;                  \
			else                                         \
				___hi = ___mid;                      \
		}                                                    \
		(long)___lo - 1;                                     \
	})

const struct mt_module *mt_maps__find(const struct mt_maps *m, __u64 addr)
{
	const struct mt_map *map;
	long i;

	if (!m || !m->nr_mods)
		return NULL;
	/* the mapping holding addr decides whether it is in a file at all */
	i = LAST_LE(m->maps, m->nr_maps, addr);
	if (i < 0)
		return NULL;
	map = &m->maps[i];
	if (addr >= map->end || !is_file_backed(map))
		return NULL;
	/* then the module of that file whose range holds addr */
	for (i = LAST_LE(m->mods, m->nr_mods, addr); i >= 0; i--) {
		const struct mt_module *mod = &m->mods[i];

		if (mod->dev == map->dev && mod->inode == map->inode && addr < mod->end)
			return mod;
	}
	return NULL;
}

const struct mt_module *mt_maps__find_name(const struct mt_maps *m, const char *prefix)
{
	size_t i, plen;

	if (!m || !prefix)
		return NULL;
	plen = strlen(prefix);
	for (i = 0; i < m->nr_mods; i++) {
		const char *slash = strrchr(m->mods[i].path, '/');
		const char *base = slash ? slash + 1 : m->mods[i].path;

		if (!strncmp(base, prefix, plen))
			return &m->mods[i];
	}
	return NULL;
}
