/* SPDX-License-Identifier: MIT */
/*
 * The daemons' log (mt6d server, mt6d client, mt6d tunnel): one line per
 * message on standard error,
 *   HH:MM:SS.mmm mt6d WHO: message
 *   HH:MM:SS.mmm mt6d WHO: warning: message
 *   HH:MM:SS.mmm mt6d WHO: error: message
 * WHO is the daemon (log_init), "mt6d:" alone before it is set. Debug lines
 * (what -v asks for) are printed only when log_init was told verbose.
 *
 * Rules this file keeps:
 *  - A message is formatted whole and written with one write(2), so lines
 *    of several threads never interleave.
 *  - No secret is ever passed here (STYLE: no key material in a log line).
 *  - Not async-signal-safe: a signal handler writes its own line.
 */
#ifndef MT6D_LOG_H
#define MT6D_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR, /* what stops the daemon, or an operation that failed */
	LOG_LEVEL_WARN,  /* something is off; the daemon goes on */
	LOG_LEVEL_INFO,  /* what an operator wants to see: up, sessions, stats */
	LOG_LEVEL_DEBUG, /* every slot, with -v */
};

/* who: "server", "client", "tunnel"; kept by pointer (a string literal). */
void log_init(const char *who, bool verbose);
bool log_verbose(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
