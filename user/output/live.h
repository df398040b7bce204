/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * --live: a top-like terminal view (ncursesw) of the reports, an output
 * sink of the one report model. The session hands it every report (one per
 * target per round) and, when the terminal has input, calls
 * mt_live__input from its event loop; the view never reads the session.
 *
 *   mt_live__new     the view's state, no terminal yet (unit tests stop here)
 *   mt_live__start   take the terminal: the screen goes to a copy of
 *                    stdout, keys come from a copy of stdin; fds 1 and 2
 *                    then go to a capture file (memtrace's messages and a
 *                    -- command's output) and fd 0 to /dev/null, so that
 *                    nothing else draws on the screen or reads the keys
 *   mt_live__report  keep one report (rows as the text table has them,
 *                    RSS and traced bytes into the sparkline history), draw
 *   mt_live__input   read the pending keys, act on them, draw
 *   mt_live__free    give the terminal back clean (endwin), restore fds
 *                    0, 1, 2 and print what was captured to stderr
 *
 * Keys: b, c, g sort by bytes, count, growth (largest first); space pauses
 * (the view stops changing, reports keep coming: the latest of each
 * target is shown on resume); left/right or < > pick the process; up/down,
 * page up/down scroll; q quits (MT_LIVE_QUIT: the caller ends the run).
 */
#ifndef MT_OUTPUT_LIVE_H
#define MT_OUTPUT_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "report/report.h"

/* Reports of history kept per target for the sparklines. */
#define MT_LIVE_HISTORY 60

enum mt_live_sort {
	MT_LIVE_SORT_BYTES = 0,
	MT_LIVE_SORT_COUNT,
	MT_LIVE_SORT_GROWTH,
};

/* One row of the view: the text table's row and the numbers it sorts by. */
struct mt_live_row {
	char *text; /* mt_out_text__row's string, owned */
	__s64 bytes;
	__s64 count;
	__s64 growth; /* growth_bytes; a new row's growth is its bytes */
	size_t order; /* index in the report (ties keep the report's order) */
};

enum mt_live_action {
	MT_LIVE_NONE = 0,
	MT_LIVE_QUIT, /* q: end the run */
};

struct mt_live;

/* NULL with errno set (ENOMEM). */
struct mt_live *mt_live__new(void);
/*
 * Take the terminal (see above). 0, -ENOTTY when stdin or stdout is not a
 * terminal, or -errno; on failure nothing is left changed.
 */
int mt_live__start(struct mt_live *lv);
/* The terminal fd to poll for keys; -1 before mt_live__start. */
int mt_live__fd(const struct mt_live *lv);
/* Keep r (copied: r may be freed after) and redraw unless paused. 0 or -ENOMEM. */
int mt_live__report(struct mt_live *lv, const struct mt_report *r);
/* Read and act on every pending key, redraw. MT_LIVE_QUIT on q. */
enum mt_live_action mt_live__input(struct mt_live *lv);
/* Act on one key (ncurses key code or character), as mt_live__input does. */
enum mt_live_action mt_live__key(struct mt_live *lv, int key);
/* A one-line status for the bottom line (copied; NULL clears it), redraw. */
void mt_live__status(struct mt_live *lv, const char *msg);
/* Gives the terminal back (see above). Accepts NULL and a view never started. */
void mt_live__free(struct mt_live *lv);

/*
 * Inspection of the view, for tests: the pid shown (0 without reports),
 * its rows in the current order (valid until the next report or key),
 * whether the view is paused.
 */
__u32 mt_live__pid(const struct mt_live *lv);
size_t mt_live__rows(const struct mt_live *lv, const struct mt_live_row **rows);
bool mt_live__paused(const struct mt_live *lv);

/* Pure parts. */

/* Sort rows largest first by key; ties in report order. */
void mt_live__sort(struct mt_live_row *rows, size_t n, enum mt_live_sort key);
/*
 * A sparkline of n values, oldest first, one glyph each, into buf
 * (truncated to whole glyphs, always terminated): scaled from the smallest
 * value (lowest glyph) to the largest (highest); all equal: lowest; a
 * negative value (unknown) is a space. utf8: the block glyphs U+2581 to
 * U+2588, else the ASCII "_.-:=+*#". Returns buf.
 */
const char *mt_live__sparkline(char *buf, size_t size, const __s64 *v, size_t n, bool utf8);

#endif
