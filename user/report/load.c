// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Saved reports read back; see load.h.
 *
 * A schema-directed recursive-descent parser over one line: each object
 * of the format (report, site, stack, frame) has its own function that
 * walks its keys and checks each value's type and range; values of
 * unknown keys are skipped by a generic skipper with a depth limit.
 * Strings are decoded (escapes, \u surrogate pairs to UTF-8) into a
 * scratch buffer and interned in the set's string table. The first error
 * stops the line and is reported with its byte offset.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "report/load.h"

/* Values of unknown keys nest at most this deep. */
#define LOAD_MAX_DEPTH 32

struct jp {
	const char *start, *p, *end;
	struct mt_strtab *strs;
	char *sbuf; /* decoded string */
	size_t scap;
	char *err;
	size_t err_len;
	int rc; /* first error */
};

static int jp_fail(struct jp *j, int rc, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (j->rc)
		return j->rc;
	j->rc = rc;
	if (rc == -EINVAL && j->err_len) {
		n = snprintf(j->err, j->err_len, "byte %zu: ", (size_t)(j->p - j->start) + 1);
		if (n >= 0 && (size_t)n < j->err_len) {
			va_start(ap, fmt);
			vsnprintf(j->err + n, j->err_len - n, fmt, ap);
			va_end(ap);
		}
	}
	return rc;
}

#define BAD(j, ...) jp_fail(j, -EINVAL, __VA_ARGS__)

static void ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n'))
		j->p++;
}

static int peek(struct jp *j)
{
	ws(j);
	return j->p < j->end ? (unsigned char)*j->p : -1;
}

static int expect(struct jp *j, char c)
{
	if (peek(j) != c)
		return j->p < j->end ? BAD(j, "expected '%c'", c)
				     : BAD(j, "truncated: expected '%c'", c);
	j->p++;
	return 0;
}

static int literal(struct jp *j, const char *word)
{
	size_t n = strlen(word);

	ws(j);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n))
		return BAD(j, "expected %s", word);
	j->p += n;
	return 0;
}

static bool is_null(struct jp *j)
{
	if (peek(j) != 'n')
		return false;
	return !literal(j, "null");
}

static int sbuf_put(struct jp *j, size_t *len, const void *s, size_t n)
{
	if (*len + n + 1 > j->scap) {
		size_t cap = j->scap ? j->scap : 256;
		char *nb;

		while (cap < *len + n + 1)
			cap *= 2;
		nb = realloc(j->sbuf, cap);
		if (!nb)
			return jp_fail(j, -ENOMEM, "out of memory");
		j->sbuf = nb;
		j->scap = cap;
	}
	memcpy(j->sbuf + *len, s, n);
	*len += n;
	j->sbuf[*len] = 0;
	return 0;
}

static int hex4(struct jp *j, unsigned int *v)
{
	*v = 0;
	if (j->end - j->p < 4)
		return BAD(j, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		char c = *j->p++;

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (unsigned int)(c - 'A' + 10);
		else
			return BAD(j, "bad \\u escape");
	}
	return 0;
}

/* A \u escape (after the 'u'), as UTF-8. */
static int uescape(struct jp *j, size_t *len)
{
	unsigned int cp, lo;
	unsigned char u[4];
	size_t n;

	if (hex4(j, &cp))
		return j->rc;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
			return BAD(j, "unpaired surrogate");
		j->p += 2;
		if (hex4(j, &lo))
			return j->rc;
		if (lo < 0xdc00 || lo > 0xdfff)
			return BAD(j, "unpaired surrogate");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	} else if (cp >= 0xdc00 && cp <= 0xdfff) {
		return BAD(j, "unpaired surrogate");
	}
	if (!cp)
		return BAD(j, "NUL in a string");
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return sbuf_put(j, len, u, n);
}

/* A JSON string decoded into j->sbuf (NUL-terminated); *out_len its length. */
static int string_raw(struct jp *j, size_t *out_len)
{
	size_t len = 0;

	if (expect(j, '"'))
		return j->rc;
	if (sbuf_put(j, &len, "", 0))
		return j->rc;
	for (;;) {
		const char *q = j->p;
		unsigned char c;

		while (q < j->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
			q++;
		if (q > j->p && sbuf_put(j, &len, j->p, (size_t)(q - j->p)))
			return j->rc;
		j->p = q;
		if (j->p >= j->end)
			return BAD(j, "truncated string");
		c = (unsigned char)*j->p++;
		if (c == '"')
			break;
		if (c < 0x20) {
			j->p--;
			return BAD(j, "control character in a string");
		}
		if (j->p >= j->end)
			return BAD(j, "truncated escape");
		c = (unsigned char)*j->p++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			break;
		case 'b':
			c = '\b';
			break;
		case 'f':
			c = '\f';
			break;
		case 'n':
			c = '\n';
			break;
		case 'r':
			c = '\r';
			break;
		case 't':
			c = '\t';
			break;
		case 'u':
			if (uescape(j, &len))
				return j->rc;
			continue;
		default:
			return BAD(j, "bad escape");
		}
		if (sbuf_put(j, &len, &c, 1))
			return j->rc;
	}
	*out_len = len;
	return 0;
}

/* A string (interned) or null. */
static int string(struct jp *j, const char **out)
{
	size_t len;

	if (is_null(j)) {
		*out = NULL;
		return 0;
	}
	if (string_raw(j, &len))
		return j->rc;
	*out = mt_strtab__intern(j->strs, j->sbuf);
	if (!*out)
		return jp_fail(j, -ENOMEM, "out of memory");
	return 0;
}

/* An integer in [lo, hi] (JSON grammar: -?(0|[1-9][0-9]*), no fraction). */
static int integer(struct jp *j, long long lo, unsigned long long hi, long long *out_s,
		   unsigned long long *out_u)
{
	bool neg = false;
	unsigned long long v = 0;
	const char *d;

	ws(j);
	if (j->p < j->end && *j->p == '-') {
		neg = true;
		j->p++;
	}
	d = j->p;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
		unsigned int digit = (unsigned int)(*j->p - '0');

		if (v > (ULLONG_MAX - digit) / 10)
			return BAD(j, "number out of range");
		v = v * 10 + digit;
		j->p++;
	}
	if (j->p == d || (*d == '0' && j->p - d > 1))
		return BAD(j, "expected an integer");
	if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
		return BAD(j, "expected an integer");
	if (neg) {
		if (v > (unsigned long long)LLONG_MAX + 1 || (v && lo >= 0) ||
		    (v && -(long long)(v - 1) - 1 < lo))
			return BAD(j, "number out of range");
		if (out_s)
			*out_s = v ? -(long long)(v - 1) - 1 : 0;
		if (out_u)
			*out_u = 0;
		return 0;
	}
	if (v > hi)
		return BAD(j, "number out of range");
	if (out_s)
		*out_s = (long long)v;
	if (out_u)
		*out_u = v;
	return 0;
}

static int s64(struct jp *j, __s64 *out)
{
	long long v;

	if (integer(j, LLONG_MIN, LLONG_MAX, &v, NULL))
		return j->rc;
	*out = v;
	return 0;
}

static int u64(struct jp *j, __u64 *out)
{
	unsigned long long v;

	if (integer(j, 0, ULLONG_MAX, NULL, &v))
		return j->rc;
	*out = v;
	return 0;
}

static int bounded(struct jp *j, unsigned long long hi, unsigned long long *out)
{
	return integer(j, 0, hi, NULL, out);
}

static int boolean(struct jp *j, bool *out)
{
	if (peek(j) == 't') {
		*out = true;
		return literal(j, "true");
	}
	*out = false;
	return literal(j, "false");
}

/* A JSON number (any), for "time"; null as NaN. */
static int number(struct jp *j, double *out)
{
	char buf[64], *e;
	size_t n = 0;

	if (is_null(j)) {
		*out = NAN;
		return 0;
	}
	while (j->p + n < j->end && n < sizeof(buf) - 1 && strchr("+-.0123456789eE", j->p[n]))
		n++;
	memcpy(buf, j->p, n);
	buf[n] = 0;
	*out = strtod(buf, &e);
	if (!n || e != buf + n || !isfinite(*out))
		return BAD(j, "expected a number");
	j->p += n;
	return 0;
}

static int skip_value(struct jp *j, int depth)
{
	int c = peek(j);
	size_t len;

	if (depth > LOAD_MAX_DEPTH)
		return BAD(j, "nested too deep");
	switch (c) {
	case '"':
		return string_raw(j, &len);
	case 't':
		return literal(j, "true");
	case 'f':
		return literal(j, "false");
	case 'n':
		return literal(j, "null");
	case '{':
	case '[':
		j->p++;
		if (peek(j) == (c == '{' ? '}' : ']')) {
			j->p++;
			return 0;
		}
		for (;;) {
			if (c == '{' && (string_raw(j, &len) || expect(j, ':')))
				return j->rc;
			if (skip_value(j, depth + 1))
				return j->rc;
			if (peek(j) == ',') {
				j->p++;
				continue;
			}
			return expect(j, c == '{' ? '}' : ']');
		}
	default: {
		double d;

		return number(j, &d);
	}
	}
}

/*
 * Walk an object: call fn for each key (in j->sbuf, copied to key) with the
 * parser at its value; fn parses or skips it.
 */
typedef int (*member_fn)(struct jp *j, const char *key, void *ctx);

static int object(struct jp *j, member_fn fn, void *ctx)
{
	char key[64];
	size_t len;

	if (expect(j, '{'))
		return j->rc;
	if (peek(j) == '}') {
		j->p++;
		return 0;
	}
	for (;;) {
		if (string_raw(j, &len))
			return j->rc;
		snprintf(key, sizeof(key), "%s", len < sizeof(key) ? j->sbuf : "");
		if (expect(j, ':') || fn(j, key, ctx))
			return j->rc;
		if (peek(j) == ',') {
			j->p++;
			continue;
		}
		return expect(j, '}');
	}
}

/* Walk an array: call fn for each element with its index. */
typedef int (*element_fn)(struct jp *j, size_t i, void *ctx);

static int array(struct jp *j, element_fn fn, void *ctx)
{
	if (expect(j, '['))
		return j->rc;
	if (peek(j) == ']') {
		j->p++;
		return 0;
	}
	for (size_t i = 0;; i++) {
		if (fn(j, i, ctx))
			return j->rc;
		if (peek(j) == ',') {
			j->p++;
			continue;
		}
		return expect(j, ']');
	}
}

/* Room for element i of a growing array of size sz. */
static int grow(struct jp *j, void **v, size_t *cap, size_t i, size_t sz)
{
	size_t ncap = *cap ? *cap * 2 : 8;
	void *nv;

	if (i < *cap)
		return 0;
	if (ncap > SIZE_MAX / sz || !(nv = realloc(*v, ncap * sz)))
		return jp_fail(j, -ENOMEM, "out of memory");
	memset((char *)nv + *cap * sz, 0, (ncap - *cap) * sz);
	*v = nv;
	*cap = ncap;
	return 0;
}

/* ---- frames ---- */

static int frame_member(struct jp *j, const char *key, void *ctx)
{
	struct mt_frame *f = ctx;
	unsigned long long v;
	const char *s;

	if (!strcmp(key, "function"))
		return string(j, &f->function);
	if (!strcmp(key, "file"))
		return string(j, &f->file);
	if (!strcmp(key, "module"))
		return string(j, &f->module);
	if (!strcmp(key, "build_id"))
		return string(j, &f->build_id);
	if (!strcmp(key, "line")) {
		if (bounded(j, INT_MAX, &v))
			return j->rc;
		f->line = (int)v;
		return 0;
	}
	if (!strcmp(key, "inlined"))
		return boolean(j, &f->inlined);
	if (!strcmp(key, "addr") || !strcmp(key, "elf_addr")) {
		bool elf = key[0] == 'e';

		if (string(j, &s))
			return j->rc;
		if (!s && elf)
			return 0; /* null: unknown */
		if (!s || strncmp(s, "0x", 2) || !s[2] || strlen(s) > 18 ||
		    s[2 + strspn(s + 2, "0123456789abcdefABCDEF")])
			return BAD(j, "bad addr");
		*(elf ? &f->elf_addr : &f->addr) = strtoull(s + 2, NULL, 16);
		return 0;
	}
	if (!strcmp(key, "kind")) {
		if (string(j, &s))
			return j->rc;
		if (s && !strcmp(s, "python"))
			f->kind = MT_FRAME_PYTHON;
		else if (s && !strcmp(s, "native"))
			f->kind = MT_FRAME_NATIVE;
		else
			return BAD(j, "bad kind");
		return 0;
	}
	return skip_value(j, 1);
}

struct frames_ctx {
	struct mt_frame *v;
	size_t nr, cap;
};

static int frame_element(struct jp *j, size_t i, void *ctx)
{
	struct frames_ctx *c = ctx;

	if (grow(j, (void **)&c->v, &c->cap, i, sizeof(*c->v)))
		return j->rc;
	c->nr = i + 1;
	return object(j, frame_member, &c->v[i]);
}

/* A frame array into (*v, *nr), replacing (and freeing) what was there. */
static int frames(struct jp *j, struct mt_frame **v, size_t *nr)
{
	struct frames_ctx c = {0};

	if (array(j, frame_element, &c)) {
		free(c.v);
		return j->rc;
	}
	free(*v);
	*v = c.v;
	*nr = c.nr;
	return 0;
}

/* ---- stacks and sites ---- */

static int stack_member(struct jp *j, const char *key, void *ctx)
{
	struct mt_row_stack *st = ctx;
	unsigned long long v;

	if (!strcmp(key, "bytes"))
		return s64(j, &st->bytes);
	if (!strcmp(key, "count"))
		return s64(j, &st->count);
	if (!strcmp(key, "site")) {
		if (bounded(j, SIZE_MAX, &v))
			return j->rc;
		st->site = (size_t)v;
		return 0;
	}
	if (!strcmp(key, "frames"))
		return frames(j, &st->frames, &st->nr_frames);
	return skip_value(j, 1);
}

struct stacks_ctx {
	struct mt_row_stack *v;
	size_t nr, cap;
};

static int stack_element(struct jp *j, size_t i, void *ctx)
{
	struct stacks_ctx *c = ctx;
	struct mt_row_stack *st;

	if (grow(j, (void **)&c->v, &c->cap, i, sizeof(*c->v)))
		return j->rc;
	c->nr = i + 1;
	st = &c->v[i];
	if (object(j, stack_member, st))
		return j->rc;
	if (st->site && st->site >= st->nr_frames)
		return BAD(j, "stack site %zu outside its %zu frames", st->site, st->nr_frames);
	return 0;
}

static void stacks_free(struct mt_row_stack *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].frames);
	free(v);
}

/* A site kind by name; a kind this version does not know is an error. */
static int site_kind(struct jp *j, enum mt_site_kind *out)
{
	const char *s;

	if (string(j, &s))
		return j->rc;
	for (int k = 0; s && k < MT_SITE__MAX; k++) {
		if (!strcmp(s, mt_site_kind__name(k))) {
			*out = (enum mt_site_kind)k;
			return 0;
		}
	}
	return BAD(j, "bad site kind");
}

static int row_member(struct jp *j, const char *key, void *ctx)
{
	struct mt_row *row = ctx;
	unsigned long long v;

	if (!strcmp(key, "kind"))
		return site_kind(j, &row->kind);
	if (!strcmp(key, "file"))
		return string(j, &row->file);
	if (!strcmp(key, "function"))
		return string(j, &row->function);
	if (!strcmp(key, "module"))
		return string(j, &row->module);
	if (!strcmp(key, "line")) {
		if (bounded(j, INT_MAX, &v))
			return j->rc;
		row->line = (int)v;
		return 0;
	}
	if (!strcmp(key, "bytes"))
		return s64(j, &row->bytes);
	if (!strcmp(key, "count"))
		return s64(j, &row->count);
	if (!strcmp(key, "growth_bytes"))
		return s64(j, &row->growth_bytes);
	if (!strcmp(key, "alloc_bytes"))
		return u64(j, &row->alloc_bytes);
	if (!strcmp(key, "alloc_count"))
		return u64(j, &row->alloc_count);
	if (!strcmp(key, "growth_streak")) {
		if (bounded(j, UINT_MAX, &v))
			return j->rc;
		row->growth_streak = (unsigned int)v;
		return 0;
	}
	if (!strcmp(key, "new"))
		return boolean(j, &row->is_new);
	if (!strcmp(key, "runtime"))
		return boolean(j, &row->runtime);
	if (!strcmp(key, "stack"))
		return frames(j, &row->stack, &row->nr_stack);
	if (!strcmp(key, "site")) {
		if (bounded(j, SIZE_MAX, &v))
			return j->rc;
		row->site = (size_t)v;
		return 0;
	}
	if (!strcmp(key, "stacks")) {
		struct stacks_ctx c = {0};

		if (array(j, stack_element, &c)) {
			stacks_free(c.v, c.nr);
			return j->rc;
		}
		stacks_free(row->stacks, row->nr_stacks);
		row->stacks = c.v;
		row->nr_stacks = c.nr;
		return 0;
	}
	return skip_value(j, 1);
}

struct rows_ctx {
	struct mt_report *r;
	size_t cap;
};

static int row_element(struct jp *j, size_t i, void *ctx)
{
	struct rows_ctx *c = ctx;
	struct mt_row *row;

	if (grow(j, (void **)&c->r->rows, &c->cap, i, sizeof(*c->r->rows)))
		return j->rc;
	c->r->nr_rows = i + 1;
	row = &c->r->rows[i];
	if (object(j, row_member, row))
		return j->rc;
	if (row->site && row->site >= row->nr_stack)
		return BAD(j, "site %zu outside its %zu-frame stack", row->site, row->nr_stack);
	return 0;
}

/* ---- the report ---- */

static int counter_member(struct jp *j, const char *key, void *ctx)
{
	struct mt_report *r = ctx;

	for (int c = 0; c < MT_CNT__MAX; c++) {
		if (!strcmp(key, mt_counter__name(c)))
			return u64(j, &r->counters[c]);
	}
	return skip_value(j, 1); /* a counter of another version */
}

static int kind_total_member(struct jp *j, const char *key, void *ctx)
{
	struct mt_kind_total *t = ctx;

	if (!strcmp(key, "bytes"))
		return s64(j, &t->bytes);
	if (!strcmp(key, "count"))
		return s64(j, &t->count);
	return skip_value(j, 1);
}

static int kinds_member(struct jp *j, const char *key, void *ctx)
{
	struct mt_report *r = ctx;

	for (int k = 0; k < MT_SITE__MAX; k++) {
		if (!strcmp(key, mt_site_kind__name(k)))
			return object(j, kind_total_member, &r->kinds[k]);
	}
	return skip_value(j, 1); /* a kind of another version */
}

/* ---- --py-objects ---- */

static int obj_member(struct jp *j, const char *key, void *ctx)
{
	struct mt_obj_row *o = ctx;
	const char *s;

	if (!strcmp(key, "type")) {
		if (string(j, &s))
			return j->rc;
		free(o->type);
		o->type = strdup(s ? s : "?");
		return o->type ? 0 : jp_fail(j, -ENOMEM, "out of memory");
	}
	if (!strcmp(key, "count"))
		return s64(j, &o->count);
	if (!strcmp(key, "bytes"))
		return s64(j, &o->bytes);
	if (!strcmp(key, "growth"))
		return s64(j, &o->growth);
	if (!strcmp(key, "growth_bytes"))
		return s64(j, &o->growth_bytes);
	return skip_value(j, 1);
}

static int obj_element(struct jp *j, size_t i, void *ctx)
{
	struct rows_ctx *c = ctx;
	struct mt_obj_row *o;

	if (i >= MT_OBJ_ROWS_MAX)
		return BAD(j, "more than %d object types", MT_OBJ_ROWS_MAX);
	if (grow(j, (void **)&c->r->objects, &c->cap, i, sizeof(*c->r->objects)))
		return j->rc;
	c->r->nr_objects = i + 1;
	o = &c->r->objects[i];
	if (object(j, obj_member, o))
		return j->rc;
	if (!o->type)
		return BAD(j, "an object type without \"type\"");
	return 0;
}

static int obj_total_member(struct jp *j, const char *key, void *ctx)
{
	struct mt_report *r = ctx;

	if (!strcmp(key, "count"))
		return s64(j, &r->objects_count);
	if (!strcmp(key, "bytes"))
		return s64(j, &r->objects_bytes);
	if (!strcmp(key, "permanent"))
		return s64(j, &r->objects_permanent);
	if (!strcmp(key, "untracked"))
		return s64(j, &r->objects_untracked);
	if (!strcmp(key, "untracked_bytes"))
		return s64(j, &r->objects_untracked_bytes);
	if (!strcmp(key, "untracked_dropped"))
		return u64(j, &r->objects_untracked_dropped);
	if (!strcmp(key, "failures"))
		return u64(j, &r->objects_failures);
	if (!strcmp(key, "walk_us"))
		return u64(j, &r->objects_walk_us);
	if (!strcmp(key, "pause_us"))
		return u64(j, &r->objects_pause_us);
	return skip_value(j, 1);
}

static void free_objects(struct mt_report *r)
{
	for (size_t i = 0; i < r->nr_objects; i++)
		free(r->objects[i].type);
	free(r->objects);
	r->objects = NULL;
	r->nr_objects = 0;
}

struct report_ctx {
	struct mt_report *r;
	const char **sampling;
	bool has_pid, has_sites;
};

static int mem_field(struct jp *j, struct report_ctx *c, __s64 *v)
{
	if (is_null(j)) {
		*v = -1;
		return 0;
	}
	if (s64(j, v))
		return j->rc;
	if (*v < 0)
		return BAD(j, "negative memory size");
	c->r->has_mem = true;
	return 0;
}

static int report_member(struct jp *j, const char *key, void *ctx)
{
	struct report_ctx *c = ctx;
	struct mt_report *r = c->r;
	unsigned long long v;
	const char *s;

	if (!strcmp(key, "pid")) {
		c->has_pid = true;
		if (bounded(j, UINT32_MAX, &v))
			return j->rc;
		r->pid = (__u32)v;
		return 0;
	}
	if (!strcmp(key, "comm")) {
		if (string(j, &s))
			return j->rc;
		memset(r->comm, 0, sizeof(r->comm));
		if (s)
			memcpy(r->comm, s, strnlen(s, sizeof(r->comm)));
		return 0;
	}
	if (!strcmp(key, "cgroup"))
		return string(j, &r->cgroup);
	if (!strcmp(key, "time"))
		return number(j, &r->time);
	if (!strcmp(key, "seq")) {
		if (bounded(j, UINT_MAX, &v))
			return j->rc;
		r->seq = (unsigned int)v;
		return 0;
	}
	if (!strcmp(key, "final"))
		return boolean(j, &r->final);
	if (!strcmp(key, "exited"))
		return boolean(j, &r->exited);
	if (!strcmp(key, "group_by")) {
		if (string(j, &s))
			return j->rc;
		for (int g = MT_GROUP_LINE; s && g <= MT_GROUP_STACK; g++) {
			if (!strcmp(s, mt_group_by__name(g))) {
				r->group_by = (enum mt_group_by)g;
				return 0;
			}
		}
		return BAD(j, "bad group_by");
	}
	if (!strcmp(key, "sampling"))
		return string(j, c->sampling);
	if (!strcmp(key, "total_bytes"))
		return s64(j, &r->total_bytes);
	if (!strcmp(key, "total_count"))
		return s64(j, &r->total_count);
	if (!strcmp(key, "total_growth_bytes"))
		return s64(j, &r->total_growth_bytes);
	if (!strcmp(key, "groups")) {
		if (bounded(j, SIZE_MAX, &v))
			return j->rc;
		r->nr_groups = (size_t)v;
		return 0;
	}
	if (!strcmp(key, "drops") || !strcmp(key, "events"))
		return object(j, counter_member, r);
	if (!strcmp(key, "rss_bytes"))
		return mem_field(j, c, &r->rss_bytes);
	if (!strcmp(key, "rss_anon_bytes"))
		return mem_field(j, c, &r->rss_anon_bytes);
	if (!strcmp(key, "swap_bytes"))
		return mem_field(j, c, &r->swap_bytes);
	if (!strcmp(key, "untraced_growth_bytes"))
		return s64(j, &r->untraced_growth_bytes);
	if (!strcmp(key, "kinds"))
		return object(j, kinds_member, r);
	if (!strcmp(key, "sites")) {
		struct rows_ctx rc = {.r = r};
		struct mt_obj_row *objects = r->objects;
		size_t nr_objects = r->nr_objects;

		c->has_sites = true;
		/* a repeated key: the last one counts (the objects stay) */
		r->objects = NULL;
		r->nr_objects = 0;
		mt_report__free(r);
		r->objects = objects;
		r->nr_objects = nr_objects;
		return array(j, row_element, &rc);
	}
	if (!strcmp(key, "objects")) {
		struct rows_ctx rc = {.r = r};

		r->has_objects = true;
		free_objects(r);
		return array(j, obj_element, &rc);
	}
	if (!strcmp(key, "objects_total")) {
		r->has_objects = true;
		return object(j, obj_total_member, r);
	}
	return skip_value(j, 1);
}

int mt_report__parse(struct mt_report *r, const char **sampling, struct mt_strtab *strs,
		     const char *line, size_t len, char *err, size_t err_len)
{
	struct jp j = {.start = line,
		       .p = line,
		       .end = line + len,
		       .strs = strs,
		       .err = err,
		       .err_len = err_len};
	struct report_ctx c = {.r = r, .sampling = sampling};

	memset(r, 0, sizeof(*r));
	r->rss_bytes = r->rss_anon_bytes = r->swap_bytes = -1;
	*sampling = NULL;
	if (!object(&j, report_member, &c) && peek(&j) != -1)
		BAD(&j, "text after the report");
	if (!j.rc && (!c.has_pid || !c.has_sites))
		BAD(&j, "not a memtrace report: no \"%s\"", c.has_pid ? "sites" : "pid");
	/* null is "unknown": any one null makes the output null, as it was */
	if (!j.rc && r->has_mem && r->rss_bytes < 0)
		BAD(&j, "rss_anon_bytes or swap_bytes without rss_bytes");
	free(j.sbuf);
	if (j.rc)
		mt_report__free(r);
	return j.rc;
}

int mt_report_set__load(struct mt_report_set *set, FILE *f, char *err, size_t err_len)
{
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int rc = 0;

	while ((n = getline(&line, &cap, f)) >= 0) {
		struct mt_report r;
		const char *note;
		char msg[256];
		void *nv;

		lineno++;
		if (n && line[n - 1] == '\n')
			n--;
		if ((size_t)n > MT_LOAD_MAX_LINE) {
			snprintf(err, err_len, "line %zu: longer than %u bytes", lineno,
				 MT_LOAD_MAX_LINE);
			rc = -EINVAL;
			goto out;
		}
		if (strspn(line, " \t\r") == (size_t)n)
			continue;
		if (memchr(line, 0, (size_t)n)) {
			snprintf(err, err_len, "line %zu: NUL byte", lineno);
			rc = -EINVAL;
			goto out;
		}
		rc = mt_report__parse(&r, &note, &set->strs, line, (size_t)n, msg, sizeof(msg));
		if (rc) {
			if (rc == -EINVAL)
				snprintf(err, err_len, "line %zu: %s", lineno, msg);
			else
				snprintf(err, err_len, "line %zu: %s", lineno, strerror(-rc));
			goto out;
		}
		nv = realloc(set->reports, (set->nr + 1) * sizeof(*set->reports));
		if (nv)
			set->reports = nv;
		nv = nv ? realloc(set->sampling, (set->nr + 1) * sizeof(*set->sampling)) : NULL;
		if (!nv) {
			mt_report__free(&r);
			snprintf(err, err_len, "line %zu: %s", lineno, strerror(ENOMEM));
			rc = -ENOMEM;
			goto out;
		}
		set->sampling = nv;
		set->reports[set->nr] = r;
		set->sampling[set->nr] = note;
		set->nr++;
	}
	if (ferror(f)) {
		snprintf(err, err_len, "line %zu: read error", lineno + 1);
		rc = -EIO;
	}
out:
	free(line);
	return rc;
}

void mt_report_set__free(struct mt_report_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->nr; i++)
		mt_report__free(&set->reports[i]);
	free(set->reports);
	free(set->sampling);
	mt_strtab__clear(&set->strs);
	memset(set, 0, sizeof(*set));
}
