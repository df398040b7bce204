// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Output dispatch and the counter facts every format shares (from the X-macro list). */
#include <errno.h>
#include "output/output.h"

#define MT_CNT_HELP(id, name, drop, help) [MT_CNT_##id] = help,
static const char *const counter_helps[MT_CNT__MAX] = {MT_COUNTERS(MT_CNT_HELP)};
#undef MT_CNT_HELP

#define MT_CNT_DROP(id, name, drop, help) [MT_CNT_##id] = drop,
static const bool counter_drops[MT_CNT__MAX] = {MT_COUNTERS(MT_CNT_DROP)};
#undef MT_CNT_DROP

int mt_output__report(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r)
{
	switch (cfg->format) {
	case MT_FORMAT_TEXT:
		return mt_out_text__report(f, cfg, r);
	case MT_FORMAT_JSON:
		return mt_out_json__report(f, cfg, r);
	}
	return -EINVAL;
}

const char *mt_counter__help(enum mt_counter c)
{
	return (unsigned int)c < MT_CNT__MAX ? counter_helps[c] : NULL;
}

bool mt_counter__is_drop(enum mt_counter c)
{
	return (unsigned int)c < MT_CNT__MAX && counter_drops[c];
}
