/* Logging to stderr or syslog, with every line escaped. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

#define LOG_LINE_MAX 1024

static int log_stderr = 1;
static enum log_level log_level = LOG_LVL_INFO;
static const char *log_ident = "jit";

void
log_init(const char *ident, int to_stderr, enum log_level level)
{
	log_ident = ident;
	log_stderr = to_stderr;
	log_level = level;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

void
log_escape(const char *in, size_t inlen, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;
	unsigned char c;

	if (outlen == 0)
		return;
	for (i = 0; i < inlen && in[i] != '\0'; i++) {
		c = (unsigned char)in[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= outlen)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 4 >= outlen)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *const name[] = { "error", "warning", "info",
		"debug" };
	char raw[LOG_LINE_MAX], line[LOG_LINE_MAX * 2];
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* Whatever a client put in a string cannot forge a line. */
	log_escape(raw, sizeof(raw), line, sizeof(line));
	if (log_stderr)
		fprintf(stderr, "%s: %s: %s\n", log_ident, name[level], line);
	else
		syslog(prio[level], "%s", line);
}
