/* SPDX-License-Identifier: MIT */
/* The daemons' log (log.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_who;
static bool log_debug_on;

void log_init(const char *who, bool verbose)
{
	log_who = who;
	log_debug_on = verbose;
}

bool log_verbose(void)
{
	return log_debug_on;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	static const char *const tag[] = {
	        [LOG_LEVEL_ERROR] = "error: ",
	        [LOG_LEVEL_WARN] = "warning: ",
	        [LOG_LEVEL_INFO] = "",
	        [LOG_LEVEL_DEBUG] = "",
	};
	char line[1024];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int r;

	if (level == LOG_LEVEL_DEBUG && !log_debug_on)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	r = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld mt6d%s%s: %s", tm.tm_hour, tm.tm_min,
	             tm.tm_sec, ts.tv_nsec / 1000000, log_who ? " " : "", log_who ? log_who : "",
	             tag[level]);
	n = r < 0 ? 0 : (size_t)r;
	if (n < sizeof(line)) {
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		n += r < 0 ? 0 : (size_t)r;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2; /* cut, but still one line */
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to say it */
	}
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
