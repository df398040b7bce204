// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* RSS growth that the traced bytes do not explain; see untraced.h. */
#include "report/untraced.h"

__s64 mt_untraced__update(struct mt_untraced *u, bool rss_known, __s64 rss, __s64 traced)
{
	__s64 d_rss, d_traced;

	if (!rss_known) {
		*u = (struct mt_untraced){0};
		return 0;
	}
	d_rss = rss - u->prev_rss;
	d_traced = traced - u->prev_traced;
	if (u->has_prev && d_rss > 0 && d_traced < d_rss / 2) {
		u->steps++;
		u->excess += d_rss - (d_traced > 0 ? d_traced : 0);
	} else {
		u->steps = 0;
		u->excess = 0;
	}
	u->has_prev = true;
	u->prev_rss = rss;
	u->prev_traced = traced;
	return u->steps >= MT_UNTRACED_STEPS && u->excess >= MT_UNTRACED_MIN_BYTES ? u->excess : 0;
}
