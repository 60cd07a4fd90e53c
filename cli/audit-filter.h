/* jitctl audit's filters (--since, --name, --event) and --follow. */
#ifndef JITCTL_AUDIT_FILTER_H
#define JITCTL_AUDIT_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_FILTER_EVENTS_MAX 8

struct audit_filter {
	int64_t since; /* unix seconds; 0: from the start */
	const char *name; /* the credential or token, or NULL */
	const char *events[AUDIT_FILTER_EVENTS_MAX];
	size_t nevents;
};

/* --since: ISO 8601 ("2026-05-01T10:00:00+02:00", "...Z", a date) or a
 * duration back from now ("1h"); a usage error has been reported. */
int audit_filter_since(struct audit_filter *f, const char *arg);
/* Is the line one the filters keep?  Lines that do not parse are kept
 * (the printer says what is wrong with them). */
bool audit_filter_keep(
    const struct audit_filter *f, const char *line, size_t len);
/*
 * Every complete line of the log at path from its start, then each line
 * appended, as it is appended, until SIGINT or SIGTERM (exit 0).  A line
 * over AUDIT_LINE_MAX is cut there.
 */
int audit_follow(const char *path,
    int (*fn)(const char *line, size_t len, void *arg), void *arg);

#endif
