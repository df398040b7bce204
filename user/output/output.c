// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Output dispatch and the counter facts every format shares (from the X-macro list). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "output/output.h"

#define MT_CNT_HELP(id, name, drop, help) [MT_CNT_##id] = help,
static const char *const counter_helps[MT_CNT__MAX] = {MT_COUNTERS(MT_CNT_HELP)};
#undef MT_CNT_HELP

#define MT_CNT_DROP(id, name, drop, help) [MT_CNT_##id] = drop,
static const bool counter_drops[MT_CNT__MAX] = {MT_COUNTERS(MT_CNT_DROP)};
#undef MT_CNT_DROP

static const struct mt_format_desc formats[MT_FORMAT__MAX] = {
    [MT_FORMAT_TEXT] = {"text", "a table per report (default)", mt_out_text__report,
			mt_out_text__diff},
    [MT_FORMAT_JSON] = {"json", "one JSON object per report and line", mt_out_json__report,
			mt_out_json__diff},
    [MT_FORMAT_PPROF] = {"pprof", "gzipped profile.proto (-o FILE)", mt_out_pprof__report},
    [MT_FORMAT_FOLDED] = {"folded", "folded stacks for flame graphs", mt_out_folded__report},
    [MT_FORMAT_HTML] = {"html", "a flame graph page (-o FILE)", mt_out_html__report},
};

const struct mt_format_desc *mt_format__desc(enum mt_format fmt)
{
	return (unsigned int)fmt < MT_FORMAT__MAX && formats[fmt].name ? &formats[fmt] : NULL;
}

int mt_format__parse(const char *name, enum mt_format *fmt)
{
	for (int i = 0; i < MT_FORMAT__MAX; i++) {
		if (formats[i].name && !strcmp(formats[i].name, name)) {
			*fmt = (enum mt_format)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *mt_format__list(char *buf, size_t size)
{
	size_t n = 0;

	if (size)
		buf[0] = 0;
	for (int i = 0; i < MT_FORMAT__MAX && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s",
				      i ? (i + 1 < MT_FORMAT__MAX ? ", " : " or ") : "",
				      formats[i].name);
	return buf;
}

int mt_output__report(FILE *f, const struct mt_output_cfg *cfg, const struct mt_report *r)
{
	const struct mt_format_desc *d = mt_format__desc(cfg->format);

	return d ? d->report(f, cfg, r) : -EINVAL;
}

int mt_output__diff(FILE *f, const struct mt_output_cfg *cfg, const struct mt_diff *d)
{
	const struct mt_format_desc *fd = mt_format__desc(cfg->format);

	if (!fd)
		return -EINVAL;
	return fd->diff ? fd->diff(f, cfg, d) : -EOPNOTSUPP;
}

const char *mt_counter__help(enum mt_counter c)
{
	return (unsigned int)c < MT_CNT__MAX ? counter_helps[c] : NULL;
}

bool mt_counter__is_drop(enum mt_counter c)
{
	return (unsigned int)c < MT_CNT__MAX && counter_drops[c];
}
