// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "report/aggregate.h"
#include "session/targets.h"

struct target *mt_targets__add(struct mt_targets *tt, pid_t pid, __u64 start)
{
	struct target *t;

	if (tt->nr == tt->cap) {
		size_t cap = tt->cap ? tt->cap * 2 : 16;
		struct target **n = realloc(tt->v, cap * sizeof(*n));

		if (!n)
			return NULL;
		tt->v = n;
		tt->cap = cap;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->pid = pid;
	t->start = start;
	t->py_checks = 3;
	strcpy(t->comm, "?");
	tt->v[tt->nr++] = t;
	return t;
}

struct target *mt_targets__find(const struct mt_targets *tt, pid_t pid, __u64 start)
{
	for (size_t i = 0; i < tt->nr; i++) {
		struct target *t = tt->v[i];

		if (t->pid == pid && (!start || !t->start || t->start == start))
			return t;
	}
	return NULL;
}

void mt_targets__remove(struct mt_targets *tt, struct target *t)
{
	for (size_t i = 0; i < tt->nr; i++) {
		if (tt->v[i] != t)
			continue;
		/* keep the order: reports come out in the order targets were found */
		memmove(&tt->v[i], &tt->v[i + 1], (tt->nr - i - 1) * sizeof(*tt->v));
		tt->nr--;
		mt_agg__free(t->agg);
		mt_target__free_py_prev(t);
		free(t);
		return;
	}
}

void mt_target__free_py_prev(struct target *t)
{
	for (size_t i = 0; i < t->nr_py_prev; i++)
		free(t->py_prev[i].type);
	free(t->py_prev);
	t->py_prev = NULL;
	t->nr_py_prev = 0;
}

void mt_targets__free(struct mt_targets *tt)
{
	for (size_t i = 0; i < tt->nr; i++) {
		mt_agg__free(tt->v[i]->agg);
		mt_target__free_py_prev(tt->v[i]);
		free(tt->v[i]);
	}
	free(tt->v);
	memset(tt, 0, sizeof(*tt));
}
