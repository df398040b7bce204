// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The report model: ownership and the names of its enums; see report.h. */
#include <stdio.h>
#include <stdlib.h>
#include "report/report.h"

#define MT_CNT_NAME(id, name, drop, help) [MT_CNT_##id] = name,
static const char *const counter_names[MT_CNT__MAX] = {MT_COUNTERS(MT_CNT_NAME)};
#undef MT_CNT_NAME

#define MT_SITE_NAME(id, name, summary) [MT_SITE_##id] = name,
static const char *const site_kind_names[MT_SITE__MAX] = {MT_SITE_KINDS(MT_SITE_NAME)};
#undef MT_SITE_NAME
#define MT_SITE_SUMMARY(id, name, summary) [MT_SITE_##id] = summary,
static const char *const site_kind_summaries[MT_SITE__MAX] = {MT_SITE_KINDS(MT_SITE_SUMMARY)};
#undef MT_SITE_SUMMARY

static const char *const group_by_names[] = {
    [MT_GROUP_LINE] = "line",
    [MT_GROUP_FUNCTION] = "function",
    [MT_GROUP_FILE] = "file",
    [MT_GROUP_STACK] = "stack",
};

const char *mt_counter__name(enum mt_counter c)
{
	return (unsigned int)c < MT_CNT__MAX ? counter_names[c] : NULL;
}

const char *mt_frame__where(const struct mt_frame *fr, char *buf, size_t len)
{
	const char *mod = fr->module ? fr->module : "unknown";

	if (fr->elf_addr)
		snprintf(buf, len, "%s+0x%llx", mod, (unsigned long long)fr->elf_addr);
	else
		snprintf(buf, len, "%s 0x%llx", mod, (unsigned long long)fr->addr);
	return buf;
}

const char *mt_site_kind__name(enum mt_site_kind k)
{
	return (unsigned int)k < MT_SITE__MAX ? site_kind_names[k] : NULL;
}

const char *mt_site_kind__summary(enum mt_site_kind k)
{
	return (unsigned int)k < MT_SITE__MAX ? site_kind_summaries[k] : NULL;
}

bool mt_site_kind__is_runtime(enum mt_site_kind k)
{
	return k == MT_SITE_ARENA || k == MT_SITE_RUNTIME;
}

const char *mt_group_by__name(enum mt_group_by g)
{
	if ((unsigned int)g >= sizeof(group_by_names) / sizeof(group_by_names[0]))
		return NULL;
	return group_by_names[g];
}

void mt_report__free(struct mt_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nr_rows; i++) {
		struct mt_row *row = &r->rows[i];

		for (size_t j = 0; j < row->nr_stacks; j++)
			free(row->stacks[j].frames);
		free(row->stacks);
		free(row->stack);
	}
	free(r->rows);
	r->rows = NULL;
	r->nr_rows = 0;
	for (size_t i = 0; i < r->nr_objects; i++)
		free(r->objects[i].type);
	free(r->objects);
	r->objects = NULL;
	r->nr_objects = 0;
}
