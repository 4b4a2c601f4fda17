// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>

#include "common/log.h"

static enum ps_log_level cur_level = PS_LOG_INFO;

void ps_log_set_level(enum ps_log_level level)
{
	cur_level = level;
}

enum ps_log_level ps_log_get_level(void)
{
	return cur_level;
}

void ps_log(enum ps_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > cur_level)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's warnings are our info, its info our debug, its debug dropped. */
	enum ps_log_level ours = level == LIBBPF_WARN ? PS_LOG_INFO : PS_LOG_DEBUG;

	if (level == LIBBPF_DEBUG || ours > cur_level)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void ps_log_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
