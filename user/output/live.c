// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The live view: a top-like screen of the latest report of each target.
 *
 *    memtrace live: pid 1234 (app) report #7 at 12:00:05             sort: bytes (b c g)
 *    rss 24.0 MiB ▁▁▂▃▅▆  traced 1.5 MiB ▁▂▃▄▅▇  count 1542  growth +512.0 KiB  4 of 9 groups
 *    processes: [1234 app]  1240 worker
 *           bytes     count      growth  site
 *    ^    1.5 MiB      1536  +512.0 KiB  app.c:42 make_buffer [app]
 *    ...
 *    q quit  space pause  b/c/g sort  </> process  up/down scroll
 *
 * The rows are the text report's own strings (mt_out_text__row), so the
 * view and the text output cannot disagree; only their order changes with
 * the sort key. The view keeps a copy of the last report of each target
 * (the model's rows are freed after each round) and the last
 * MT_LIVE_HISTORY values of RSS and traced bytes for the sparklines.
 * Paused, a target's newest report waits in `pending` and its history
 * keeps growing; resuming shows the newest.
 *
 * Terminal: ncursesw on copies of fds 0 and 1, so fds 0, 1 and 2 can be
 * moved away while the screen is up (see live.h); LC_CTYPE alone follows
 * the environment (block glyphs in a UTF-8 locale), number formatting stays
 * "C" for the other formats.
 */
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>
#include "output/live.h"
#include "output/output.h"

/* One report as the view shows it. */
struct live_view {
	bool valid;
	unsigned int seq;
	double time;
	bool final, exited;
	bool has_mem;
	__s64 rss, traced, count, growth;
	size_t nr_groups;
	struct mt_live_row *rows;
	size_t nr_rows;
};

struct live_target {
	__u32 pid;
	char comm[16];
	struct live_view shown, pending; /* pending: arrived while paused */
	__s64 hist_rss[MT_LIVE_HISTORY], hist_traced[MT_LIVE_HISTORY];
	size_t nr_hist;
};

struct mt_live {
	struct live_target *targets; /* in order of their first report */
	size_t nr_targets, cap_targets;
	size_t cur; /* the target shown */
	enum mt_live_sort sort;
	bool paused;
	size_t scroll; /* first row shown */
	char *status;
	/* the terminal, once started */
	SCREEN *scr;
	FILE *tty_in, *tty_out;
	int saved[3]; /* fds 0, 1, 2 as they were */
	int capture;  /* memfd behind fds 1 and 2 while the screen is up */
	bool utf8;
};

static const char *const sort_names[] = {[MT_LIVE_SORT_BYTES] = "bytes",
					 [MT_LIVE_SORT_COUNT] = "count",
					 [MT_LIVE_SORT_GROWTH] = "growth"};

/* ---- pure parts ---------------------------------------------------------- */

static __s64 sort_value(const struct mt_live_row *r, enum mt_live_sort key)
{
	switch (key) {
	case MT_LIVE_SORT_COUNT:
		return r->count;
	case MT_LIVE_SORT_GROWTH:
		return r->growth;
	default:
		return r->bytes;
	}
}

static int cmp_rows(const void *pa, const void *pb, void *ctx)
{
	const struct mt_live_row *a = pa, *b = pb;
	enum mt_live_sort key = *(const enum mt_live_sort *)ctx;
	__s64 va = sort_value(a, key), vb = sort_value(b, key);

	if (va != vb)
		return va > vb ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

void mt_live__sort(struct mt_live_row *rows, size_t n, enum mt_live_sort key)
{
	if (n > 1)
		qsort_r(rows, n, sizeof(*rows), cmp_rows, &key);
}

const char *mt_live__sparkline(char *buf, size_t size, const __s64 *v, size_t n, bool utf8)
{
	static const char ascii[] = "_.-:=+*#";
	__s64 lo = 0, hi = 0;
	size_t len = 0, glyph = utf8 ? 3 : 1;
	bool any = false;

	if (!size)
		return buf;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < 0)
			continue;
		if (!any || v[i] < lo)
			lo = v[i];
		if (!any || v[i] > hi)
			hi = v[i];
		any = true;
	}
	for (size_t i = 0; i < n && len + glyph < size; i++) {
		/* 0..7; (v - lo) * 7 computed in double: no overflow */
		int level = hi > lo ? (int)((double)(v[i] - lo) * 7 / (double)(hi - lo) + 0.5) : 0;

		if (v[i] < 0) {
			buf[len++] = ' ';
		} else if (utf8) {
			/* U+2581 + level: E2 96 81..88 */
			buf[len++] = (char)0xe2;
			buf[len++] = (char)0x96;
			buf[len++] = (char)(0x81 + level);
		} else {
			buf[len++] = ascii[level];
		}
	}
	buf[len] = 0;
	return buf;
}

/* ---- the model ----------------------------------------------------------- */

static void view_free(struct live_view *v)
{
	for (size_t i = 0; i < v->nr_rows; i++)
		free(v->rows[i].text);
	free(v->rows);
	memset(v, 0, sizeof(*v));
}

static int view_from(struct live_view *v, const struct mt_report *r)
{
	char buf[1024];

	memset(v, 0, sizeof(*v));
	v->rows = calloc(r->nr_rows ? r->nr_rows : 1, sizeof(*v->rows));
	if (!v->rows)
		return -ENOMEM;
	for (size_t i = 0; i < r->nr_rows; i++) {
		const struct mt_row *row = &r->rows[i];
		struct mt_live_row *lr = &v->rows[i];

		lr->text = strdup(mt_out_text__row(buf, sizeof(buf), row));
		if (!lr->text) {
			view_free(v);
			return -ENOMEM;
		}
		lr->bytes = row->bytes;
		lr->count = row->count;
		lr->growth = row->growth_bytes;
		lr->order = i;
		v->nr_rows++;
	}
	v->valid = true;
	v->seq = r->seq;
	v->time = r->time;
	v->final = r->final;
	v->exited = r->exited;
	v->has_mem = r->has_mem;
	v->rss = r->has_mem ? r->rss_bytes : -1;
	v->traced = r->total_bytes;
	v->count = r->total_count;
	v->growth = r->total_growth_bytes;
	v->nr_groups = r->nr_groups;
	return 0;
}

static void history_push(struct live_target *t, __s64 rss, __s64 traced)
{
	if (t->nr_hist == MT_LIVE_HISTORY) {
		memmove(t->hist_rss, t->hist_rss + 1, sizeof(t->hist_rss) - sizeof(__s64));
		memmove(t->hist_traced, t->hist_traced + 1, sizeof(t->hist_traced) - sizeof(__s64));
		t->nr_hist--;
	}
	t->hist_rss[t->nr_hist] = rss;
	t->hist_traced[t->nr_hist] = traced;
	t->nr_hist++;
}

static void show_pending(struct mt_live *lv, struct live_target *t)
{
	if (!t->pending.valid)
		return;
	view_free(&t->shown);
	t->shown = t->pending;
	memset(&t->pending, 0, sizeof(t->pending));
	mt_live__sort(t->shown.rows, t->shown.nr_rows, lv->sort);
}

static struct live_target *target_of(struct mt_live *lv, __u32 pid)
{
	struct live_target *t;

	for (size_t i = 0; i < lv->nr_targets; i++)
		if (lv->targets[i].pid == pid)
			return &lv->targets[i];
	if (lv->nr_targets == lv->cap_targets) {
		size_t cap = lv->cap_targets ? lv->cap_targets * 2 : 8;

		t = realloc(lv->targets, cap * sizeof(*t));
		if (!t)
			return NULL;
		lv->targets = t;
		lv->cap_targets = cap;
	}
	t = &lv->targets[lv->nr_targets++];
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	return t;
}

static struct live_target *current(const struct mt_live *lv)
{
	return lv->cur < lv->nr_targets ? &lv->targets[lv->cur] : NULL;
}

/* ---- drawing ------------------------------------------------------------- */

/* s on line y from column x, clipped to the screen's width. */
static void put_text(int y, int x, const char *s)
{
	wchar_t wbuf[1024];
	int w = COLS - x;
	size_t n;

	if (w <= 0 || y < 0 || y >= LINES)
		return;
	n = mbstowcs(wbuf, s, sizeof(wbuf) / sizeof(wbuf[0]) - 1);
	if (n == (size_t)-1) {
		mvaddnstr(y, x, s, w);
		return;
	}
	mvaddnwstr(y, x, wbuf, (int)n < w ? (int)n : w);
}

static void put_line(int y, attr_t attr, const char *s)
{
	attrset(attr);
	move(y, 0);
	clrtoeol();
	if (attr & A_REVERSE)
		mvhline(y, 0, ' ', COLS);
	put_text(y, 0, s);
	attrset(A_NORMAL);
}

static void safe_copy(char *dst, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n && src[i]; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
	dst[i] = 0;
}

/* Follow the terminal's size (ncurses learns of SIGWINCH only in getch). */
static void track_size(struct mt_live *lv)
{
	struct winsize ws;

	if (!ioctl(fileno(lv->tty_out), TIOCGWINSZ, &ws) && ws.ws_row && ws.ws_col &&
	    (ws.ws_row != LINES || ws.ws_col != COLS))
		resizeterm(ws.ws_row, ws.ws_col);
}

static void draw_header(struct mt_live *lv, const struct live_target *t)
{
	char line[1024], comm[17], tbuf[16] = "--:--:--", b1[32], b2[32], s1[256], s2[256];
	const struct live_view *v = t ? &t->shown : NULL;
	int spark = (COLS - 90) / 2;

	if (!t) {
		put_line(0, A_REVERSE, "memtrace live: waiting for the first report");
		return;
	}
	safe_copy(comm, t->comm, sizeof(comm));
	if (v->valid) {
		time_t tt = (time_t)v->time;
		struct tm tm;

		if (localtime_r(&tt, &tm))
			strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
	}
	snprintf(line, sizeof(line),
		 "memtrace live: pid %u (%s) report #%u at %s%s  sort: %s (b c g)%s", t->pid, comm,
		 v->seq, tbuf, v->exited ? ", process exited" : (v->final ? ", final" : ""),
		 sort_names[lv->sort], lv->paused ? "  PAUSED (space resumes)" : "");
	put_line(0, A_REVERSE, line);

	if (spark > MT_LIVE_HISTORY)
		spark = MT_LIVE_HISTORY;
	if (spark < 8)
		spark = 8;
	if ((size_t)spark > t->nr_hist)
		spark = (int)t->nr_hist;
	mt_live__sparkline(s1, sizeof(s1), t->hist_rss + t->nr_hist - spark, spark, lv->utf8);
	mt_live__sparkline(s2, sizeof(s2), t->hist_traced + t->nr_hist - spark, spark, lv->utf8);
	if (v->has_mem && v->rss >= 0)
		mt_bytes__format(b1, sizeof(b1), v->rss, false);
	else
		strcpy(b1, "?");
	mt_bytes__format(b2, sizeof(b2), v->traced, false);
	snprintf(line, sizeof(line), "rss %s %s  traced %s %s  count %lld  growth ", b1, s1, b2, s2,
		 (long long)v->count);
	mt_bytes__format(b1, sizeof(b1), v->growth, true);
	snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s  %zu of %zu groups", b1,
		 v->nr_rows, v->nr_groups);
	put_line(1, A_NORMAL, line);
}

static void draw_picker(struct mt_live *lv)
{
	int x;

	move(2, 0);
	clrtoeol();
	put_text(2, 0, "processes:");
	x = 10;
	for (size_t i = 0; i < lv->nr_targets && x < COLS; i++) {
		const struct live_target *t = &lv->targets[i];
		char item[64], comm[17];

		safe_copy(comm, t->comm, sizeof(comm));
		snprintf(item, sizeof(item), i == lv->cur ? "[%u %s%s]" : " %u %s%s ", t->pid, comm,
			 t->shown.exited ? " exited" : "");
		put_text(2, x, " ");
		if (i == lv->cur)
			attrset(A_REVERSE);
		put_text(2, x + 1, item);
		attrset(A_NORMAL);
		x += 1 + (int)strlen(item);
	}
}

static void draw(struct mt_live *lv)
{
	const struct live_target *t;
	char cols[128];
	int first = 4, last, y;

	if (!lv->scr)
		return;
	track_size(lv);
	erase();
	t = current(lv);
	draw_header(lv, t);
	draw_picker(lv);
	last = LINES - 2;
	if (t && t->shown.valid) {
		const struct live_view *v = &t->shown;

		put_line(3, A_BOLD, mt_out_text__columns(cols, sizeof(cols)));
		if (!v->nr_rows)
			put_text(first, 0, "no outstanding allocations");
		if (lv->scroll >= v->nr_rows)
			lv->scroll = v->nr_rows ? v->nr_rows - 1 : 0;
		y = first;
		for (size_t i = lv->scroll; i < v->nr_rows && y <= last; i++, y++)
			put_text(y, 0, v->rows[i].text);
	}
	put_line(LINES - 1, A_REVERSE,
		 lv->status ? lv->status
			    : "q quit  space pause  b/c/g sort by bytes/count/growth  </> process  "
			      "up/down scroll");
	refresh();
}

/* ---- API ----------------------------------------------------------------- */

struct mt_live *mt_live__new(void)
{
	struct mt_live *lv = calloc(1, sizeof(*lv));

	if (!lv)
		return NULL;
	lv->capture = -1;
	for (int i = 0; i < 3; i++)
		lv->saved[i] = -1;
	return lv;
}

int mt_live__start(struct mt_live *lv)
{
	int in = -1, out = -1, null = -1, err;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return -ENOTTY;
	setlocale(LC_CTYPE, "");
	lv->utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
	fflush(stdout);
	fflush(stderr);
	in = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
	out = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	for (int i = 0; i < 3; i++)
		lv->saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
	lv->capture = memfd_create("memtrace-live", MFD_CLOEXEC);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (in < 0 || out < 0 || lv->saved[0] < 0 || lv->saved[1] < 0 || lv->saved[2] < 0 ||
	    lv->capture < 0 || null < 0)
		goto err_errno;
	lv->tty_in = fdopen(in, "r");
	if (!lv->tty_in)
		goto err_errno;
	in = -1;
	lv->tty_out = fdopen(out, "w");
	if (!lv->tty_out)
		goto err_errno;
	out = -1;
	lv->scr = newterm(NULL, lv->tty_out, lv->tty_in);
	if (!lv->scr) {
		err = -ENOTTY; /* no terminal description for $TERM */
		goto err_out;
	}
	set_term(lv->scr);
	cbreak(); /* ^C and ^Z still signal */
	noecho();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);
	if (dup2(null, STDIN_FILENO) < 0 || dup2(lv->capture, STDOUT_FILENO) < 0 ||
	    dup2(lv->capture, STDERR_FILENO) < 0) {
		err = -errno;
		/* undo whatever moved */
		endwin();
		delscreen(lv->scr);
		lv->scr = NULL;
		for (int i = 0; i < 3; i++)
			dup2(lv->saved[i], i);
		goto err_out;
	}
	close(null);
	null = -1;
	draw(lv);
	return 0;
err_errno:
	err = -errno;
err_out:
	if (null >= 0)
		close(null);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (lv->tty_in)
		fclose(lv->tty_in);
	if (lv->tty_out)
		fclose(lv->tty_out);
	lv->tty_in = lv->tty_out = NULL;
	for (int i = 0; i < 3; i++) {
		if (lv->saved[i] >= 0)
			close(lv->saved[i]);
		lv->saved[i] = -1;
	}
	if (lv->capture >= 0)
		close(lv->capture);
	lv->capture = -1;
	return err;
}

int mt_live__fd(const struct mt_live *lv)
{
	return lv && lv->tty_in ? fileno(lv->tty_in) : -1;
}

int mt_live__report(struct mt_live *lv, const struct mt_report *r)
{
	struct live_target *t = target_of(lv, r->pid);
	struct live_view v;
	int err;

	if (!t)
		return -ENOMEM;
	memcpy(t->comm, r->comm, sizeof(t->comm));
	err = view_from(&v, r);
	if (err)
		return err;
	history_push(t, r->has_mem ? r->rss_bytes : -1, r->total_bytes);
	view_free(&t->pending);
	t->pending = v;
	if (!lv->paused) {
		show_pending(lv, t);
		draw(lv);
	}
	return 0;
}

static enum mt_live_action key(struct mt_live *lv, int ch)
{
	const struct live_target *t = current(lv);
	size_t page = lv->scr && LINES > 6 ? (size_t)LINES - 6 : 10;
	size_t rows = t ? t->shown.nr_rows : 0;

	switch (ch) {
	case 'q':
	case 'Q':
		return MT_LIVE_QUIT;
	case ' ':
		lv->paused = !lv->paused;
		if (!lv->paused)
			for (size_t i = 0; i < lv->nr_targets; i++)
				show_pending(lv, &lv->targets[i]);
		break;
	case 'b':
	case 'c':
	case 'g':
		lv->sort = ch == 'b' ? MT_LIVE_SORT_BYTES
				     : (ch == 'c' ? MT_LIVE_SORT_COUNT : MT_LIVE_SORT_GROWTH);
		for (size_t i = 0; i < lv->nr_targets; i++)
			mt_live__sort(lv->targets[i].shown.rows, lv->targets[i].shown.nr_rows,
				      lv->sort);
		lv->scroll = 0;
		break;
	case KEY_LEFT:
	case '<':
	case ',':
		if (lv->nr_targets)
			lv->cur = (lv->cur + lv->nr_targets - 1) % lv->nr_targets;
		lv->scroll = 0;
		break;
	case KEY_RIGHT:
	case '>':
	case '.':
		if (lv->nr_targets)
			lv->cur = (lv->cur + 1) % lv->nr_targets;
		lv->scroll = 0;
		break;
	case KEY_UP:
		lv->scroll -= lv->scroll > 0;
		break;
	case KEY_DOWN:
		lv->scroll += lv->scroll + 1 < rows;
		break;
	case KEY_PPAGE:
		lv->scroll = lv->scroll > page ? lv->scroll - page : 0;
		break;
	case KEY_NPAGE:
		lv->scroll = lv->scroll + page < rows ? lv->scroll + page : lv->scroll;
		break;
	case KEY_HOME:
		lv->scroll = 0;
		break;
	case 12: /* ^L */
		if (lv->scr)
			clearok(curscr, TRUE);
		break;
	default:
		break;
	}
	return MT_LIVE_NONE;
}

enum mt_live_action mt_live__key(struct mt_live *lv, int ch)
{
	enum mt_live_action a = key(lv, ch);

	draw(lv);
	return a;
}

enum mt_live_action mt_live__input(struct mt_live *lv)
{
	struct pollfd p = {.fd = mt_live__fd(lv), .events = POLLIN};
	int ch;

	if (!lv->scr)
		return MT_LIVE_NONE;
	/* the terminal went away: nothing can quit the view any more */
	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)))
		return MT_LIVE_QUIT;
	while ((ch = getch()) != ERR) {
		if (key(lv, ch) == MT_LIVE_QUIT)
			return MT_LIVE_QUIT;
	}
	draw(lv);
	return MT_LIVE_NONE;
}

void mt_live__status(struct mt_live *lv, const char *msg)
{
	free(lv->status);
	lv->status = msg ? strdup(msg) : NULL;
	draw(lv);
}

__u32 mt_live__pid(const struct mt_live *lv)
{
	const struct live_target *t = current(lv);

	return t ? t->pid : 0;
}

size_t mt_live__rows(const struct mt_live *lv, const struct mt_live_row **rows)
{
	const struct live_target *t = current(lv);

	*rows = t ? t->shown.rows : NULL;
	return t ? t->shown.nr_rows : 0;
}

bool mt_live__paused(const struct mt_live *lv)
{
	return lv->paused;
}

void mt_live__free(struct mt_live *lv)
{
	char buf[4096];
	ssize_t n;

	if (!lv)
		return;
	if (lv->scr) {
		endwin();
		delscreen(lv->scr);
		lv->scr = NULL;
	}
	if (lv->tty_in)
		fclose(lv->tty_in);
	if (lv->tty_out)
		fclose(lv->tty_out);
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < 3; i++) {
		if (lv->saved[i] >= 0) {
			dup2(lv->saved[i], i);
			close(lv->saved[i]);
		}
	}
	/* what was said while the screen was up */
	if (lv->capture >= 0) {
		if (!lseek(lv->capture, 0, SEEK_SET))
			while ((n = read(lv->capture, buf, sizeof(buf))) > 0)
				if (write(STDERR_FILENO, buf, (size_t)n) != n)
					break;
		close(lv->capture);
	}
	for (size_t i = 0; i < lv->nr_targets; i++) {
		view_free(&lv->targets[i].shown);
		view_free(&lv->targets[i].pending);
	}
	free(lv->targets);
	free(lv->status);
	free(lv);
}
