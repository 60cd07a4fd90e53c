/* Which audit lines jitctl audit shows, and following the log as it grows. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "audit-filter.h"
#include "audit.h"
#include "duration.h"
#include "err.h"
#include "isotime.h"
#include "jitctl.h"
#include "jsonx.h"

int
audit_filter_since(struct audit_filter *f, const char *arg)
{
	int64_t d;

	if (isotime_parse(arg, &f->since) == 0)
		return JIT_OK;
	if (duration_parse(arg, &d) == 0) {
		f->since = (int64_t)time(NULL) - d;
		return JIT_OK;
	}
	return cli_usage_error(
	    "--since takes an ISO 8601 time (2026-05-01T10:00:00+02:00, 2026-05-01T08:00:00Z, 2026-05-01) or a duration back from now (1h)");
}

/* The line's "time" (2026-05-01T08:00:00.123Z) in unix seconds, or -1. */
static int64_t
line_time(const char *s)
{
	char whole[32];
	int64_t t;

	if (s == NULL || strlen(s) < 20 || s[19] != '.')
		return -1;
	memcpy(whole, s, 19);
	memcpy(whole + 19, "Z", 2);
	return isotime_parse(whole, &t) == 0 ? t : -1;
}

bool
audit_filter_keep(const struct audit_filter *f, const char *line, size_t len)
{
	struct json_object *o = NULL;
	const char *v;
	bool keep = true;
	size_t i;

	if (f->since == 0 && f->name == NULL && f->nevents == 0)
		return true;
	if (jsonx_parse(line, len, &o) != 0)
		return true;
	if (f->since != 0 && line_time(cli_jstr(o, "time")) < f->since)
		keep = false;
	if (keep && f->name != NULL) {
		v = cli_jstr(o, "name");
		if (v == NULL)
			v = cli_jstr(o, "token");
		keep = v != NULL && strcmp(v, f->name) == 0;
	}
	if (keep && f->nevents > 0) {
		v = cli_jstr(o, "event");
		keep = false;
		for (i = 0; v != NULL && i < f->nevents; i++)
			if (strcmp(v, f->events[i]) == 0)
				keep = true;
	}
	json_object_put(o);
	return keep;
}

static volatile sig_atomic_t follow_stop;

static void
follow_catch(int signo)
{
	(void)signo;
	follow_stop = 1;
}

int
audit_follow(const char *path,
    int (*fn)(const char *line, size_t len, void *arg), void *arg)
{
	struct sigaction sa;
	char *buf = NULL, ev[1024];
	size_t have = 0, i, start;
	ssize_t k;
	int fd = -1, in = -1, r = JIT_OK;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = follow_catch; /* no SA_RESTART: read returns */
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	if ((buf = malloc(AUDIT_LINE_MAX + 1)) == NULL)
		return JIT_E_NOMEM;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		r = errno == ENOENT ? JIT_E_NOENT : JIT_E_IO;
		goto out;
	}
	/* Watch before reading: nothing appended in between is missed. */
	if ((in = inotify_init1(IN_CLOEXEC)) < 0 ||
	    inotify_add_watch(in, path, IN_MODIFY) < 0) {
		r = JIT_E_IO;
		goto out;
	}
	while (!follow_stop) {
		k = read(fd, buf + have, AUDIT_LINE_MAX - have);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = JIT_E_IO;
			goto out;
		}
		if (k == 0) {
			if (fflush(stdout) != 0) {
				r = JIT_E_IO;
				goto out;
			}
			/* The end for now: wait until the agent appends. */
			if (read(in, ev, sizeof(ev)) < 0 && errno != EINTR) {
				r = JIT_E_IO;
				goto out;
			}
			continue;
		}
		have += (size_t)k;
		for (start = 0, i = 0; i < have; i++) {
			if (buf[i] != '\n')
				continue;
			if ((r = fn(buf + start, i - start, arg)) != 0)
				goto out;
			start = i + 1;
		}
		if (start == 0 && have == AUDIT_LINE_MAX) {
			/* Longer than any line the agent writes: cut it. */
			if ((r = fn(buf, have, arg)) != 0)
				goto out;
			start = have;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
	}
out:
	if (fd >= 0)
		close(fd);
	if (in >= 0)
		close(in);
	free(buf);
	(void)fflush(stdout);
	return r;
}
