/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Leveled logging to stderr, also carrying libbpf's messages. Messages are
 * git-style: lower case, no full stop, the problem first. A message is one
 * line: control characters in it (from a target's names) are escaped
 * (lib/printable.h).
 */
#ifndef MT_LOG_H
#define MT_LOG_H

enum mt_log_level {
	MT_LOG_ERROR = 0,
	MT_LOG_WARN,
	MT_LOG_INFO,
	MT_LOG_DEBUG,
};

/* Messages above level are dropped; MT_LOG_DEBUG + 1 also shows libbpf debug output. */
void mt_log__set_level(int level);
int mt_log__level(void);
void mt_log(enum mt_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Route libbpf's output through mt_log (debug messages only at -vv). */
void mt_log__hook_libbpf(void);

#define pr_err(fmt, ...) mt_log(MT_LOG_ERROR, fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...) mt_log(MT_LOG_WARN, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...) mt_log(MT_LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) mt_log(MT_LOG_DEBUG, fmt, ##__VA_ARGS__)

#endif
