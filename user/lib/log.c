// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>
#include "lib/log.h"
#include "lib/printable.h"

static int cur_level = MT_LOG_INFO;

static const char *const prefix[] = {
    [MT_LOG_ERROR] = "memtrace: error: ",
    [MT_LOG_WARN] = "memtrace: warning: ",
    [MT_LOG_INFO] = "memtrace: ",
    [MT_LOG_DEBUG] = "memtrace: debug: ",
};

void mt_log__set_level(int level)
{
	cur_level = level;
}

int mt_log__level(void)
{
	return cur_level;
}

void mt_log(enum mt_log_level level, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	if ((int)level > cur_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* messages carry targets' paths and names: printed as lib/printable.h says */
	fputs(prefix[level], stderr);
	mt_printable__put(stderr, msg, sizeof(msg));
	fputc('\n', stderr);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	int mine = level == LIBBPF_WARN ? MT_LOG_DEBUG : MT_LOG_DEBUG + 1;

	/* libbpf's warnings are context for our own error messages: shown at -v */
	if (mine > cur_level)
		return 0;
	fputs("libbpf: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

void mt_log__hook_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
