// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Output dispatch and the names every format shares (from the X-macro lists). */
#include <errno.h>
#include "output/output.h"

#define MT_CNT_NAME(id, name, drop, help) [MT_CNT_##id] = name,
static const char *const counter_names[MT_CNT__MAX] = {MT_COUNTERS(MT_CNT_NAME)};
#undef MT_CNT_NAME

#define MT_CNT_HELP(id, name, drop, help) [MT_CNT_##id] = help,
static const char *const counter_helps[MT_CNT__MAX] = {MT_COUNTERS(MT_CNT_HELP)};
#undef MT_CNT_HELP

#define MT_CNT_DROP(id, name, drop, help) [MT_CNT_##id] = drop,
static const bool counter_drops[MT_CNT__MAX] = {MT_COUNTERS(MT_CNT_DROP)};
#undef MT_CNT_DROP

static const char *const group_by_names[] = {
    [MT_GROUP_LINE] = "line",
    [MT_GROUP_FUNCTION] = "function",
    [MT_GROUP_FILE] = "file",
    [MT_GROUP_STACK] = "stack",
};

int mt_output__report(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r)
{
	switch (cfg->format) {
	case MT_FORMAT_TEXT:
		return mt_out_text__report(f, cfg, r);
	case MT_FORMAT_JSON:
		return mt_out_json__report(f, cfg, r);
	case MT_FORMAT_PPROF:
		return mt_out_pprof__report(f, cfg, r);
	}
	return -EINVAL;
}

const char *mt_counter__name(enum mt_counter c)
{
	return (unsigned int)c < MT_CNT__MAX ? counter_names[c] : NULL;
}

const char *mt_counter__help(enum mt_counter c)
{
	return (unsigned int)c < MT_CNT__MAX ? counter_helps[c] : NULL;
}

bool mt_counter__is_drop(enum mt_counter c)
{
	return (unsigned int)c < MT_CNT__MAX && counter_drops[c];
}

const char *mt_group_by__name(enum mt_group_by g)
{
	if ((unsigned int)g >= sizeof(group_by_names) / sizeof(group_by_names[0]))
		return NULL;
	return group_by_names[g];
}
