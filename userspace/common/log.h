/* SPDX-License-Identifier: GPL-2.0-only */
/* One small logging interface for penstockd and penstock (stderr). */
#ifndef PS_LOG_H
#define PS_LOG_H

enum ps_log_level {
	PS_LOG_WARN = 0,
	PS_LOG_INFO,
	PS_LOG_DEBUG,
};

void ps_log_set_level(enum ps_log_level level);
enum ps_log_level ps_log_get_level(void);
/* Route libbpf's messages through ps_log, one level lower than ours. */
void ps_log_libbpf(void);
void ps_log(enum ps_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_warn(fmt, ...)  ps_log(PS_LOG_WARN, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)  ps_log(PS_LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) ps_log(PS_LOG_DEBUG, fmt, ##__VA_ARGS__)

#endif
