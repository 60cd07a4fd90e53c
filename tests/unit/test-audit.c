/* Unit tests of lib/audit.c and lib/fss.c: edited, dropped, reordered and
 * torn lines, writes that fail, seals and their keys. */
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assert.h"
#include "tmpdir.h"
#include "audit.h"
#include "err.h"
#include "fss.h"
#include "fsutil.h"
#include "jsonx.h"
#include "log.h"
#include "secret.h"

#define LINES_MAX 64

static char logpath[128];

static char fsspath[128];

/* A fresh, empty log path in a private directory. */
static void
setup(void)
{
	tmpdir_make("audit");
	snprintf(logpath, sizeof(logpath), "%s/audit.log", tmpdir);
	snprintf(fsspath, sizeof(fsspath), "%s/" AUDIT_FSS_NAME, tmpdir);
}

/* Where the sealing key of the log at logpath is. */
static const char *
audit_fss_path_for_test(void)
{
	return fsspath;
}

/* Append n events numbered from first to the log at logpath. */
static void
append_events(int first, int n)
{
	struct audit_log *a = NULL;
	struct json_object *ev;
	int i;

	ASSERT_OK(audit_open(logpath, &a));
	for (i = first; i < first + n; i++) {
		ASSERT((ev = json_object_new_object()) != NULL);
		ASSERT_OK(jsonx_add_str(ev, "event", "test"));
		ASSERT_OK(jsonx_add_int(ev, "i", i));
		ASSERT_OK(jsonx_add_str(ev, "name", "pg-prod"));
		ASSERT_OK(audit_append(a, ev));
		json_object_put(ev);
	}
	audit_close(a);
}

/* The log as lines (without their newlines); returns the count. */
struct lines {
	char *buf;
	char *line[LINES_MAX];
	size_t len[LINES_MAX];
	size_t n;
	int torn; /* no newline at the end */
};

static void
read_lines(struct lines *l)
{
	size_t len, i, start = 0;

	memset(l, 0, sizeof(*l));
	ASSERT_OK(fs_read_file(logpath, 1 << 20, &l->buf, &len));
	for (i = 0; i < len; i++) {
		if (l->buf[i] != '\n')
			continue;
		ASSERT(l->n < LINES_MAX);
		l->line[l->n] = l->buf + start;
		l->len[l->n] = i - start;
		l->n++;
		start = i + 1;
	}
	if (start < len) {
		ASSERT(l->n < LINES_MAX);
		l->line[l->n] = l->buf + start;
		l->len[l->n] = len - start;
		l->n++;
		l->torn = 1;
	}
}

/* Write lines back in the order given by idx (n of them). */
static void
write_lines(const struct lines *l, const size_t *idx, size_t n, int torn)
{
	FILE *f;
	size_t i;

	ASSERT((f = fopen(logpath, "w")) != NULL);
	for (i = 0; i < n; i++) {
		ASSERT(fwrite(l->line[idx[i]], 1, l->len[idx[i]], f) ==
		    l->len[idx[i]]);
		if (!(torn && i + 1 == n))
			fputc('\n', f);
	}
	ASSERT(fclose(f) == 0);
}

static void
free_lines(struct lines *l)
{
	free(l->buf);
	l->buf = NULL;
}

/* verify fails with JIT_E_AUTH, naming line bad in both number and text. */
static void
expect_bad(uint64_t head_seq, const char *head_hash, uint64_t bad)
{
	struct audit_verdict v;
	char want[32];

	ASSERT_ERR(audit_verify(logpath, head_seq, head_hash, &v), JIT_E_AUTH);
	ASSERT_MSG(v.bad_line == bad, "bad_line %llu, want %llu (%s)",
	    (unsigned long long)v.bad_line, (unsigned long long)bad, v.why);
	ASSERT(v.why[0] != '\0');
	snprintf(want, sizeof(want), "line %llu", (unsigned long long)bad);
	/* "the last line is torn" names it by position, not number. */
	ASSERT_MSG(strstr(v.why, want) != NULL ||
		strstr(v.why, "last line") != NULL ||
		strstr(v.why, "end") != NULL,
	    "verdict \"%s\" does not name line %llu", v.why,
	    (unsigned long long)bad);
}

/* Five events verify; the head matches. */
TMPDIR_TEST(append_then_verify)
{
	struct audit_verdict v;
	struct audit_log *a = NULL;
	struct lines l;
	char hash[AUDIT_HASH_HEX + 1];
	uint64_t seq;
	size_t i;

	append_events(1, 5);
	ASSERT_PASSING();
	ASSERT_OK(audit_verify(logpath, 0, NULL, &v));
	ASSERT_EQ_UINT(v.lines, 5);
	ASSERT_EQ_UINT(v.bad_line, 0);

	ASSERT_OK(audit_open(logpath, &a));
	audit_head(a, &seq, hash);
	audit_close(a);
	ASSERT_EQ_UINT(seq, 5);
	ASSERT_EQ_UINT(strlen(hash), AUDIT_HASH_HEX);
	ASSERT_OK(audit_verify(logpath, 5, hash, &v));
	ASSERT_OK(audit_verify(logpath, 5, NULL, &v));
	/* A head from elsewhere does not match. */
	ASSERT_ERR(audit_verify(logpath, 6, NULL, &v), JIT_E_AUTH);
	/* Lines appended after the head was taken are fine... */
	ASSERT_OK(audit_verify(logpath, 4, NULL, &v));
	/* ...but the head's own line must be the one the agent wrote. */
	ASSERT_ERR(audit_verify(logpath, 5,
		       "0000000000000000000000000000000000000000000000000000000"
		       "000000000",
		       &v),
	    JIT_E_AUTH);
	ASSERT_EQ_UINT(v.bad_line, 5);
	/* A head taken earlier, at line 4, with line 4's hash: the same
	 * first four lines in a log of their own give that hash. */
	{
		char hash4[AUDIT_HASH_HEX + 1], path5[sizeof(logpath)];
		size_t idx4[4] = { 0, 1, 2, 3 };
		uint64_t seq4;

		read_lines(&l);
		ASSERT_PASSING();
		memcpy(path5, logpath, sizeof(path5));
		snprintf(logpath, sizeof(logpath), "%s/four.log", tmpdir);
		write_lines(&l, idx4, 4, 0);
		free_lines(&l);
		if (audit_open(logpath, &a) == JIT_OK) {
			audit_head(a, &seq4, hash4);
			audit_close(a);
		} else
			seq4 = 0;
		unlink(logpath);
		memcpy(logpath, path5, sizeof(logpath));
		ASSERT_PASSING();
		ASSERT_EQ_UINT(seq4, 4);
		ASSERT_OK(audit_verify(logpath, 4, hash4, &v));
		ASSERT_ERR(audit_verify(logpath, 4, hash, &v), JIT_E_AUTH);
		ASSERT_EQ_UINT(v.bad_line, 4);
		ASSERT(strstr(v.why, "line 4") != NULL);
	}

	/* Each line is one JSON object with seq, time, prev and the event. */
	read_lines(&l);
	ASSERT_PASSING();
	ASSERT_EQ_UINT(l.n, 5);
	ASSERT(!l.torn);
	for (i = 0; i < l.n; i++) {
		struct json_object *o = NULL;
		const char *s;
		int64_t n;

		ASSERT_OK(jsonx_parse(l.line[i], l.len[i], &o));
		ASSERT_OK(jsonx_get_int(o, "seq", 1, 100, &n));
		ASSERT_EQ_INT(n, (int64_t)i + 1);
		ASSERT_OK(jsonx_get_int(o, "i", 1, 100, &n));
		ASSERT_EQ_INT(n, (int64_t)i + 1);
		ASSERT_OK(jsonx_get_str(o, "prev", AUDIT_HASH_HEX, &s));
		ASSERT_EQ_UINT(strlen(s), AUDIT_HASH_HEX);
		if (i == 0)
			ASSERT_EQ_STR(s,
			    "0000000000000000000000000000000000000000"
			    "000000000000000000000000");
		ASSERT_OK(jsonx_get_str(o, "time", 64, &s));
		ASSERT(strchr(s, 'T') != NULL && s[strlen(s) - 1] == 'Z');
		ASSERT_OK(jsonx_get_str(o, "event", 64, &s));
		ASSERT_EQ_STR(s, "test");
		json_object_put(o);
	}
	free_lines(&l);
	{
		struct stat st;

		ASSERT(stat(logpath, &st) == 0);
		ASSERT_EQ_UINT(st.st_mode & 077, 0); /* private */
	}
}

/* Changing one character of a middle line breaks the chain there. */
TMPDIR_TEST(edited_middle_line)
{
	struct lines l;
	size_t idx[5] = { 0, 1, 2, 3, 4 };
	char *p;

	append_events(1, 5);
	ASSERT_PASSING();
	read_lines(&l);
	ASSERT_PASSING();
	/* Still valid JSON: pg-prod becomes pg-prox on line 3. */
	ASSERT((p = memmem(l.line[2], l.len[2], "pg-prod", 7)) != NULL);
	p[6] = 'x';
	write_lines(&l, idx, 5, 0);
	ASSERT_PASSING();
	expect_bad(0, NULL, 3);
	ASSERT_PASSING();

	/* An edit that breaks the JSON is named too. */
	p[6] = 'd';
	l.line[1][0] = '[';
	write_lines(&l, idx, 5, 0);
	ASSERT_PASSING();
	expect_bad(0, NULL, 2);
	ASSERT_PASSING();

	/* An edit of the sequence number. */
	l.line[1][0] = '{';
	ASSERT((p = memmem(l.line[3], l.len[3], "\"seq\":4", 7)) != NULL);
	p[6] = '9';
	write_lines(&l, idx, 5, 0);
	ASSERT_PASSING();
	expect_bad(0, NULL, 4);
	ASSERT_PASSING();
	free_lines(&l);
}

/* The first line edited (its prev no longer the genesis) is caught. */
TMPDIR_TEST(edited_first_line)
{
	struct lines l;
	size_t idx[3] = { 0, 1, 2 };
	char *p;

	append_events(1, 3);
	ASSERT_PASSING();
	read_lines(&l);
	ASSERT_PASSING();
	ASSERT((p = memmem(l.line[0], l.len[0], "\"prev\":\"0", 9)) != NULL);
	p[8] = '1';
	write_lines(&l, idx, 3, 0);
	ASSERT_PASSING();
	expect_bad(0, NULL, 1);
	ASSERT_PASSING();
	free_lines(&l);
}

/* A deleted line is named. */
TMPDIR_TEST(deleted_line)
{
	struct lines l;
	size_t idx[4] = { 0, 1, 3, 4 }; /* line 3 gone */
	size_t first_gone[4] = { 1, 2, 3, 4 }; /* line 1 gone */

	append_events(1, 5);
	ASSERT_PASSING();
	read_lines(&l);
	ASSERT_PASSING();
	write_lines(&l, idx, 4, 0);
	ASSERT_PASSING();
	expect_bad(0, NULL, 3);
	ASSERT_PASSING();
	write_lines(&l, first_gone, 4, 0);
	ASSERT_PASSING();
	expect_bad(0, NULL, 1);
	ASSERT_PASSING();
	free_lines(&l);
}

/* Two lines swapped are caught at the first of them. */
TMPDIR_TEST(swapped_lines)
{
	struct lines l;
	size_t idx[5] = { 0, 2, 1, 3, 4 };
	size_t last[5] = { 0, 1, 2, 4, 3 };

	append_events(1, 5);
	ASSERT_PASSING();
	read_lines(&l);
	ASSERT_PASSING();
	write_lines(&l, idx, 5, 0);
	ASSERT_PASSING();
	expect_bad(0, NULL, 2);
	ASSERT_PASSING();
	write_lines(&l, last, 5, 0);
	ASSERT_PASSING();
	expect_bad(0, NULL, 4);
	ASSERT_PASSING();
	free_lines(&l);
}

/* Dropping lines from the end is caught against the agent's head. */
TMPDIR_TEST(truncated_tail_with_head)
{
	struct audit_log *a = NULL;
	struct audit_verdict v;
	struct lines l;
	char hash[AUDIT_HASH_HEX + 1];
	size_t idx[4] = { 0, 1, 2, 3 };
	uint64_t seq;
	char *p;

	append_events(1, 5);
	ASSERT_PASSING();
	ASSERT_OK(audit_open(logpath, &a));
	audit_head(a, &seq, hash);
	audit_close(a);
	read_lines(&l);
	ASSERT_PASSING();
	write_lines(&l, idx, 4, 0);
	ASSERT_PASSING();
	/* Without the head, a shorter log is still a valid log. */
	ASSERT_OK(audit_verify(logpath, 0, NULL, &v));
	ASSERT_EQ_UINT(v.lines, 4);
	expect_bad(seq, hash, 5);
	ASSERT_PASSING();
	expect_bad(seq, NULL, 5);
	ASSERT_PASSING();

	/* An edited last line is caught by the head's hash. */
	{
		size_t all[5] = { 0, 1, 2, 3, 4 };

		ASSERT((p = memmem(l.line[4], l.len[4], "pg-prod", 7)) != NULL);
		p[0] = 'P';
		write_lines(&l, all, 5, 0);
		ASSERT_PASSING();
		ASSERT_OK(audit_verify(logpath, 0, NULL, &v));
		ASSERT_ERR(audit_verify(logpath, seq, hash, &v), JIT_E_AUTH);
		ASSERT(v.bad_line == 5);
	}
	free_lines(&l);
}

/* A missing or empty log is an error, never "intact: 0 lines". */
TMPDIR_TEST(missing_or_empty_log)
{
	struct audit_verdict v;
	FILE *f;

	ASSERT_ERR(audit_verify(logpath, 0, NULL, &v), JIT_E_NOENT);
	ASSERT(strstr(v.why, "no audit log at") != NULL);
	ASSERT(strstr(v.why, logpath) != NULL);
	ASSERT_ERR(audit_verify(logpath, 5, NULL, &v), JIT_E_NOENT);
	ASSERT((f = fopen(logpath, "w")) != NULL);
	ASSERT(fclose(f) == 0);
	ASSERT_ERR(audit_verify(logpath, 0, NULL, &v), JIT_E_AUTH);
	ASSERT(v.empty);
	ASSERT_EQ_STR(v.why, "the audit log is empty");
	ASSERT_EQ_UINT(v.lines, 0);
	ASSERT_ERR(audit_verify(logpath, 5, NULL, &v), JIT_E_AUTH);
	ASSERT(v.empty);
}

/* Reopening continues the chain and the numbering. */
TMPDIR_TEST(reopen_continues)
{
	struct audit_log *a = NULL;
	struct audit_verdict v;
	struct lines l;
	char hash[AUDIT_HASH_HEX + 1];
	uint64_t seq;

	append_events(1, 3);
	ASSERT_PASSING();
	append_events(4, 2);
	ASSERT_PASSING();
	ASSERT_OK(audit_verify(logpath, 0, NULL, &v));
	ASSERT_EQ_UINT(v.lines, 5);
	ASSERT_OK(audit_open(logpath, &a));
	audit_head(a, &seq, hash);
	audit_close(a);
	ASSERT_EQ_UINT(seq, 5);
	ASSERT_OK(audit_verify(logpath, seq, hash, &v));
	read_lines(&l);
	ASSERT_PASSING();
	ASSERT_EQ_UINT(l.n, 5);
	ASSERT(memmem(l.line[3], l.len[3], "\"seq\":4,", 8) != NULL);
	ASSERT(memmem(l.line[4], l.len[4], "\"seq\":5,", 8) != NULL);
	free_lines(&l);
}

/*
 * A torn last line is the agent stopping while writing it: reported, and
 * every line before it checks.  Text that no crash could have left there
 * (not the start of the next record) is an edit.
 */
TMPDIR_TEST(torn_last_line)
{
	struct audit_verdict v;
	struct lines l;
	size_t idx[3] = { 0, 1, 2 };
	FILE *f;

	append_events(1, 3);
	ASSERT_PASSING();
	read_lines(&l);
	ASSERT_PASSING();
	/* A whole record without its newline is whole. */
	write_lines(&l, idx, 3, 1);
	ASSERT_PASSING();
	ASSERT_OK(audit_verify(logpath, 0, NULL, &v));
	ASSERT_EQ_UINT(v.records, 3);
	ASSERT_EQ_UINT(v.torn_final, 0);
	/* Half a record after good ones. */
	write_lines(&l, idx, 3, 0);
	ASSERT_PASSING();
	ASSERT((f = fopen(logpath, "a")) != NULL);
	fputs("{\"seq\":4,\"ti", f);
	ASSERT(fclose(f) == 0);
	ASSERT_OK(audit_verify(logpath, 0, NULL, &v));
	ASSERT_EQ_UINT(v.torn_final, 4);
	ASSERT_EQ_UINT(v.records, 3);
	ASSERT_EQ_UINT(v.lines, 4);
	/* The same with its newline (the agent terminated it, then
	 * stopped before writing more). */
	ASSERT((f = fopen(logpath, "a")) != NULL);
	fputc('\n', f);
	ASSERT(fclose(f) == 0);
	ASSERT_OK(audit_verify(logpath, 0, NULL, &v));
	ASSERT_EQ_UINT(v.torn_final, 4);
	/* Not the start of record 4: edited, not torn. */
	write_lines(&l, idx, 3, 0);
	ASSERT_PASSING();
	ASSERT((f = fopen(logpath, "a")) != NULL);
	fputs("{\"seq\":9,\"ti", f);
	ASSERT(fclose(f) == 0);
	ASSERT_ERR(audit_verify(logpath, 0, NULL, &v), JIT_E_AUTH);
	ASSERT_EQ_UINT(v.bad_line, 4);
	ASSERT(strstr(v.why, "line 4") != NULL);
	ASSERT(strstr(v.why, "edited") != NULL);
	free_lines(&l);
}

/*
 * After a crash tore the last line, the next record still gets a line of
 * its own (verify names the torn line; the new record is not lost).
 * Regression: audit_open() once appended the next record straight after
 * the fragment, gluing it onto the torn line; fixed in 87e16d7.
 */
TMPDIR_TEST(append_after_torn_line_keeps_record)
{
	struct json_object *ev, *o = NULL;
	struct audit_log *a = NULL;
	struct lines l;
	const char *s;
	FILE *f;
	int r, torn;

	append_events(1, 3);
	ASSERT_PASSING();
	ASSERT((f = fopen(logpath, "a")) != NULL);
	fputs("{\"seq\":4,\"ti", f);
	ASSERT(fclose(f) == 0);
	log_set_level(LOG_LVL_ERROR); /* the expected warnings */
	ASSERT_OK(audit_open(logpath, &a));
	log_set_level(LOG_LVL_INFO);
	ASSERT((ev = json_object_new_object()) != NULL);
	ASSERT_OK(jsonx_add_str(ev, "event", "after-crash"));
	ASSERT_OK(audit_append(a, ev));
	json_object_put(ev);
	audit_close(a);
	read_lines(&l);
	ASSERT_PASSING();
	r = jsonx_parse(l.line[l.n - 1], l.len[l.n - 1], &o);
	if (r != JIT_OK)
		fprintf(stderr, "last line: %.*s\n", (int)l.len[l.n - 1],
		    l.line[l.n - 1]);
	torn = l.torn;
	free_lines(&l);
	ASSERT(!torn);
	ASSERT_MSG(r == JIT_OK,
	    "the record after a torn line is not a line of its own");
	r = jsonx_get_str(o, "event", 64, &s);
	if (r == JIT_OK && strcmp(s, "after-crash") != 0)
		r = JIT_E_FORMAT;
	json_object_put(o);
	ASSERT_OK(r);
}

/*
 * The chain's own members cannot be overridden by an event.
 * Regression: audit_append() once copied the event's members over seq,
 * time and prev, so such an event broke the chain; since 87e16d7 it is
 * refused with JIT_E_ARG.
 */
TMPDIR_TEST(event_cannot_override_chain)
{
	static const char *const reserved[] = { "seq", "prev", "time" };
	struct audit_log *a = NULL;
	struct audit_verdict v;
	struct json_object *ev;
	size_t i;
	int r;

	append_events(1, 2);
	ASSERT_PASSING();
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		ASSERT_OK(audit_open(logpath, &a));
		ASSERT((ev = json_object_new_object()) != NULL);
		ASSERT_OK(jsonx_add_str(ev, "event", "test"));
		ASSERT_OK(jsonx_add_int(ev, reserved[i], 99));
		r = audit_append(a, ev);
		json_object_put(ev);
		audit_close(a);
		/* Refused, and nothing written. */
		ASSERT_MSG(r == JIT_E_ARG, "an event with \"%s\": %s",
		    reserved[i], jit_errname(r));
		ASSERT_OK(audit_verify(logpath, 0, NULL, &v));
		ASSERT_EQ_UINT(v.lines, 2);
	}
}

/* A line over AUDIT_LINE_MAX is refused, and the log stays intact. */
TMPDIR_TEST(line_limit)
{
	struct audit_log *a = NULL;
	struct audit_verdict v;
	struct json_object *ev;
	char *big;

	ASSERT((big = malloc(AUDIT_LINE_MAX + 1)) != NULL);
	memset(big, 'x', AUDIT_LINE_MAX);
	big[AUDIT_LINE_MAX] = '\0';
	ASSERT_OK(audit_open(logpath, &a));
	ASSERT((ev = json_object_new_object()) != NULL);
	ASSERT_OK(jsonx_add_str(ev, "reason", big));
	ASSERT_ERR(audit_append(a, ev), JIT_E_LIMIT);
	json_object_put(ev);
	free(big);
	ASSERT((ev = json_object_new_object()) != NULL);
	ASSERT_OK(jsonx_add_str(ev, "event", "small"));
	ASSERT_OK(audit_append(a, ev));
	json_object_put(ev);
	audit_close(a);
	ASSERT_OK(audit_verify(logpath, 0, NULL, &v));
	ASSERT_EQ_UINT(v.lines, 1);
}

static int
count_line(const char *line, size_t len, void *arg)
{
	size_t *n = arg;

	(void)line;
	(void)len;
	(*n)++;
	return 0;
}

static int
stop_at_two(const char *line, size_t len, void *arg)
{
	size_t *n = arg;

	(void)line;
	(void)len;
	return ++(*n) == 2 ? JIT_E_CANCELLED : 0;
}

/* audit_read hands every line over and stops when asked. */
TMPDIR_TEST(read_lines_callback)
{
	size_t n = 0;

	append_events(1, 4);
	ASSERT_PASSING();
	ASSERT_OK(audit_read(logpath, count_line, &n));
	ASSERT_EQ_UINT(n, 4);
	n = 0;
	ASSERT_ERR(audit_read(logpath, stop_at_two, &n), JIT_E_CANCELLED);
	ASSERT_EQ_UINT(n, 2);
	unlink(logpath);
	ASSERT_ERR(audit_read(logpath, count_line, &n), JIT_E_NOENT);
}

/* ---- writes that fail ---- */

static off_t
file_size(void)
{
	struct stat st;

	return stat(logpath, &st) == 0 ? st.st_size : -1;
}

/* Append one small event, each different; returns audit_append's result. */
static int
try_append(struct audit_log *a, const char *event)
{
	static int64_t n;
	struct json_object *ev;
	int r;

	if ((ev = json_object_new_object()) == NULL)
		return JIT_E_NOMEM;
	if ((r = jsonx_add_str(ev, "event", event)) == 0 &&
	    (r = jsonx_add_int(ev, "n", ++n)) == 0)
		r = jsonx_add_str(ev, "name", "pg-prod");
	if (r == 0)
		r = audit_append(a, ev);
	json_object_put(ev);
	return r;
}

/* try_append with RLIMIT_FSIZE at limit bytes (SIGXFSZ ignored, as the
 * agent does), then the limit as it was. */
static int
append_limited(struct audit_log *a, const char *event, off_t limit)
{
	struct rlimit old, rl;
	int r;

	if (getrlimit(RLIMIT_FSIZE, &old) != 0)
		return JIT_E_INTERNAL;
	rl = old;
	rl.rlim_cur = (rlim_t)limit;
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
		return JIT_E_INTERNAL;
	r = try_append(a, event);
	if (setrlimit(RLIMIT_FSIZE, &old) != 0)
		abort();
	return r;
}

/*
 * A write that fails, or comes up short (the file size limit falls in the
 * middle of the line), leaves nothing behind: the file ends on its last
 * whole line, the head does not move, and the next append chains on.
 */
TMPDIR_TEST(failed_write_rolled_back)
{
	struct audit_log *a = NULL;
	struct audit_verdict v;
	char hash[AUDIT_HASH_HEX + 1], hash2[AUDIT_HASH_HEX + 1];
	uint64_t seq;
	off_t size;
	int r;

	signal(SIGXFSZ, SIG_IGN);
	append_events(1, 3);
	ASSERT_PASSING();
	ASSERT_OK(audit_open(logpath, &a));
	audit_head(a, &seq, hash);
	size = file_size();
	ASSERT(size > 0);
	/* Short: ten bytes fit, the rest does not. */
	r = append_limited(a, "use", size + 10);
	ASSERT_ERR(r, JIT_E_IO);
	ASSERT_EQ_STR(audit_why(a), "the file size limit is reached");
	ASSERT_EQ_INT(file_size(), size);
	audit_head(a, &seq, hash2);
	ASSERT_EQ_UINT(seq, 3);
	ASSERT_EQ_STR(hash2, hash);
	/* Nothing fits. */
	ASSERT_ERR(append_limited(a, "use", size), JIT_E_IO);
	ASSERT_EQ_INT(file_size(), size);
	/* Space again: the chain goes on from the last whole line. */
	ASSERT_OK(try_append(a, "use"));
	audit_head(a, &seq, hash2);
	audit_close(a);
	ASSERT_EQ_UINT(seq, 4);
	ASSERT_OK(audit_verify(logpath, seq, hash2, &v));
	ASSERT_EQ_UINT(v.lines, 4);
	ASSERT_EQ_UINT(v.torn_final, 0);
}

static int
read_torn(
    struct json_object *o, int64_t *line, int64_t *length, const char **sha)
{
	struct json_object *t;

	if (!json_object_object_get_ex(o, "torn", &t))
		return JIT_E_NOENT;
	if (jsonx_get_int(t, "line", 1, 1000, line) != 0 ||
	    jsonx_get_int(t, "length", 0, 1000, length) != 0 ||
	    jsonx_get_str(t, "sha256", AUDIT_HASH_HEX, sha) != 0)
		return JIT_E_FORMAT;
	return JIT_OK;
}

/*
 * A line torn by a crash is recorded by the next agent's first record
 * (line, length, SHA-256), and the log verifies through it; a torn line
 * in the middle that nobody recorded, or that was changed since, is an
 * edit.  The record survives a first attempt that failed (a full disk).
 */
TMPDIR_TEST(torn_line_recorded_by_next_record)
{
	static const char frag[] = "{\"seq\":4,\"ti";
	struct audit_log *a = NULL;
	struct audit_verdict v;
	struct json_object *o = NULL;
	struct lines l;
	char sha[AUDIT_HASH_HEX + 1];
	uint8_t h[32];
	const char *s;
	int64_t line, length;
	size_t idx[5] = { 0, 1, 2, 3, 4 }, noack[5] = { 0, 1, 2, 3, 5 };
	FILE *f;
	int r;

	signal(SIGXFSZ, SIG_IGN);
	append_events(1, 3);
	ASSERT_PASSING();
	ASSERT((f = fopen(logpath, "a")) != NULL);
	fputs(frag, f);
	ASSERT(fclose(f) == 0);
	crypto_hash_sha256(h, (const uint8_t *)frag, strlen(frag));
	sodium_bin2hex(sha, sizeof(sha), h, sizeof(h));
	log_set_level(LOG_LVL_ERROR); /* the expected warnings */
	ASSERT_OK(audit_open(logpath, &a));
	/* The disk is full when the agent starts: nothing is written... */
	r = append_limited(a, "start", file_size());
	log_set_level(LOG_LVL_INFO);
	ASSERT_ERR(r, JIT_E_IO);
	/* ...and the next record that is carries the torn line. */
	ASSERT_OK(try_append(a, "start"));
	ASSERT_OK(try_append(a, "use"));
	audit_close(a);
	ASSERT_OK(audit_verify(logpath, 0, NULL, &v));
	ASSERT_EQ_UINT(v.lines, 6);
	ASSERT_EQ_UINT(v.records, 5);
	ASSERT_EQ_UINT(v.torn_acked, 1);
	ASSERT_EQ_UINT(v.torn_first, 4);
	ASSERT_EQ_UINT(v.torn_final, 0);
	read_lines(&l);
	ASSERT_PASSING();
	ASSERT_EQ_UINT(l.n, 6);
	r = jsonx_parse(l.line[4], l.len[4], &o);
	if (r == 0 && (r = read_torn(o, &line, &length, &s)) == 0 &&
	    (line != 4 || length != (int64_t)strlen(frag) ||
		strcmp(s, sha) != 0))
		r = JIT_E_AUTH;
	if (r == 0 &&
	    (jsonx_get_str(o, "event", 32, &s) != 0 || strcmp(s, "start") != 0))
		r = JIT_E_FORMAT;
	json_object_put(o);
	ASSERT_OK(r);
	/* The record after it chains to line 3, the last whole one. */
	ASSERT(memmem(l.line[4], l.len[4], "\"seq\":4,", 8) != NULL);
	/* The torn line changed afterwards: its SHA-256 no longer matches. */
	l.line[3][11] = 'X';
	write_lines(&l, idx, 5, 0);
	ASSERT_PASSING();
	ASSERT_ERR(audit_verify(logpath, 0, NULL, &v), JIT_E_AUTH);
	ASSERT_EQ_UINT(v.bad_line, 4);
	ASSERT(strstr(v.why, "edited") != NULL);
	l.line[3][11] = 'i';
	/* The recording record dropped: the torn line stands unexplained. */
	write_lines(&l, noack, 5, 0);
	ASSERT_PASSING();
	ASSERT_ERR(audit_verify(logpath, 0, NULL, &v), JIT_E_AUTH);
	ASSERT_EQ_UINT(v.bad_line, 4);
	free_lines(&l);
}

/* ---- seals ---- */

#define T0_MS ((int64_t)1700000000000) /* 2023-11-14T22:13:20Z */

static int64_t fake_ms;

static int64_t
fake_clock(void *arg)
{
	(void)arg;
	return fake_ms;
}

static void
open_fake(struct audit_log **a)
{
	ASSERT_OK(audit_open(logpath, a));
	audit_set_clock(*a, fake_clock, NULL);
}

/* Seal the log with a new key; the verification key comes back parsed. */
static void
setup_keys(
    struct audit_log *a, uint32_t interval, bool replace, struct fss_key **ret)
{
	struct secret *vk = NULL;
	int r;

	ASSERT_OK(audit_setup_keys(a, interval, replace, NULL, &vk));
	r = fss_vkey_parse(secret_ptr(vk), secret_len(vk), ret);
	secret_free(vk);
	ASSERT_OK(r);
}

/*
 * What someone who can write the file does after dropping or editing
 * lines: number them again and recompute every "prev".  The SHA-256
 * chain is then intact; only a seal can tell.
 */
static void
rechain(void)
{
	struct json_object *o;
	struct lines l;
	char prev[AUDIT_HASH_HEX + 1];
	uint8_t h[32];
	const char *s;
	size_t i;
	FILE *f;

	read_lines(&l);
	ASSERT_PASSING();
	memset(prev, '0', AUDIT_HASH_HEX);
	prev[AUDIT_HASH_HEX] = '\0';
	ASSERT((f = fopen(logpath, "w")) != NULL);
	for (i = 0; i < l.n; i++) {
		o = NULL;
		ASSERT(jsonx_parse(l.line[i], l.len[i], &o) == 0);
		json_object_object_add(
		    o, "seq", json_object_new_int64((int64_t)i + 1));
		json_object_object_add(o, "prev", json_object_new_string(prev));
		s = json_object_to_json_string_ext(
		    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		fprintf(f, "%s\n", s);
		crypto_hash_sha256(h, (const uint8_t *)s, strlen(s));
		sodium_bin2hex(prev, sizeof(prev), h, sizeof(h));
		json_object_put(o);
	}
	ASSERT(fclose(f) == 0);
	free_lines(&l);
}

static void
expect_sealed_bad(struct fss_key *vk, uint64_t bad, const char *words)
{
	struct audit_verdict v;

	ASSERT_ERR(
	    audit_verify_sealed(logpath, 0, NULL, &vk, 1, &v), JIT_E_AUTH);
	ASSERT_MSG(v.bad_line == bad, "bad_line %llu, want %llu (%s)",
	    (unsigned long long)v.bad_line, (unsigned long long)bad, v.why);
	ASSERT_MSG(strstr(v.why, words) != NULL, "\"%s\" does not say \"%s\"",
	    v.why, words);
}

/*
 * Lines 1-3, the set-up at 4, lines 5-6, the epoch's seal at 7, line 8.
 * Dropping line 2 and recomputing the chain passes the chain alone, and
 * fails at the seal with the key, also after an agent adopted the forged
 * log and went on sealing it.
 */
TMPDIR_TEST(seal_catches_a_recomputed_chain)
{
	struct audit_log *a = NULL;
	struct audit_verdict v;
	struct audit_sealing st;
	struct fss_key *vk = NULL, *onfile = NULL, *want = NULL;
	size_t drop2[7] = { 0, 2, 3, 4, 5, 6, 7 };
	struct lines l;
	int i;

	fake_ms = T0_MS;
	open_fake(&a);
	ASSERT_PASSING();
	for (i = 0; i < 3; i++)
		ASSERT_OK(try_append(a, "use"));
	setup_keys(a, 10, false, &vk);
	ASSERT_PASSING();
	ASSERT_EQ_UINT(vk->start, T0_MS / 1000);
	ASSERT_EQ_UINT(vk->interval, 10);
	fake_ms += 1000;
	ASSERT_OK(try_append(a, "use"));
	ASSERT_OK(try_append(a, "use"));
	/* The epoch is not over: nothing is due. */
	ASSERT_OK(audit_seal_due(a));
	ASSERT_EQ_INT(audit_seal_wait_ms(a), 9000);
	fake_ms = T0_MS + 10500;
	ASSERT_OK(audit_seal_due(a));
	audit_sealing(a, &st);
	ASSERT(st.on);
	ASSERT_EQ_UINT(st.epoch, 1);
	ASSERT_EQ_UINT(st.sealed_seq, 7);
	ASSERT_EQ_STR(st.key_id, vk->id);
	fake_ms += 1000;
	ASSERT_OK(try_append(a, "use"));
	audit_close(a);
	a = NULL;

	/* The key file holds K1 = evolve(K0): not K0. */
	ASSERT_OK(fss_load(audit_fss_path_for_test(), &onfile));
	ASSERT_OK(fss_dup(vk, &want));
	ASSERT_OK(fss_evolve(want, 1));
	ASSERT_EQ_UINT(onfile->epoch, 1);
	ASSERT_EQ_MEM(secret_ptr(onfile->key), secret_ptr(want->key), 32);
	ASSERT(memcmp(secret_ptr(onfile->key), secret_ptr(vk->key), 32) != 0);
	fss_free(onfile);
	fss_free(want);

	ASSERT_OK(audit_verify(logpath, 0, NULL, &v));
	ASSERT(v.sealed);
	ASSERT_EQ_UINT(v.seals, 1);
	ASSERT_EQ_UINT(v.seals_checked, 0);
	ASSERT_OK(audit_verify_sealed(logpath, 0, NULL, &vk, 1, &v));
	ASSERT_EQ_UINT(v.seals_checked, 1);
	ASSERT_EQ_UINT(v.setup_line, 4);
	ASSERT_EQ_UINT(v.unsealed_from, 8);
	ASSERT_EQ_UINT(v.unsealed_to, 8);
	ASSERT_EQ_UINT(v.late_lines, 0);

	/* Drop line 2 and recompute the chain. */
	read_lines(&l);
	ASSERT_PASSING();
	write_lines(&l, drop2, 7, 0);
	free_lines(&l);
	ASSERT_PASSING();
	rechain();
	ASSERT_PASSING();
	ASSERT_OK(audit_verify(logpath, 0, NULL, &v));
	expect_sealed_bad(vk, 6, "seal at line 6 does not match");
	ASSERT_PASSING();

	/* An agent starts on the forged log, adopts its head, goes on. */
	open_fake(&a);
	ASSERT_PASSING();
	ASSERT_OK(try_append(a, "start"));
	fake_ms = T0_MS + 20500;
	ASSERT_OK(audit_seal_due(a));
	audit_close(a);
	ASSERT_OK(audit_verify(logpath, 0, NULL, &v));
	ASSERT_EQ_UINT(v.seals, 2);
	expect_sealed_bad(vk, 6, "does not match");
	ASSERT_PASSING();
	fss_free(vk);
}

/* The same for an edited line and for two lines swapped. */
TMPDIR_TEST(seal_catches_edits_and_reorders)
{
	struct audit_log *a = NULL;
	struct audit_verdict v;
	struct fss_key *vk = NULL;
	struct lines l;
	size_t all[6] = { 0, 1, 2, 3, 4, 5 }, swap[6] = { 0, 2, 1, 3, 4, 5 };
	char *p;
	int i;

	fake_ms = T0_MS;
	open_fake(&a);
	ASSERT_PASSING();
	setup_keys(a, 10, false, &vk);
	ASSERT_PASSING();
	for (i = 0; i < 4; i++)
		ASSERT_OK(try_append(a, "use"));
	fake_ms = T0_MS + 11000;
	ASSERT_OK(audit_seal_due(a));
	audit_close(a);
	ASSERT_OK(audit_verify_sealed(logpath, 0, NULL, &vk, 1, &v));
	read_lines(&l);
	ASSERT_PASSING();
	ASSERT_EQ_UINT(l.n, 6);
	ASSERT((p = memmem(l.line[2], l.len[2], "pg-prod", 7)) != NULL);
	p[6] = 'x';
	write_lines(&l, all, 6, 0);
	ASSERT_PASSING();
	p[6] = 'd';
	rechain();
	ASSERT_PASSING();
	ASSERT_OK(audit_verify(logpath, 0, NULL, &v));
	expect_sealed_bad(vk, 6, "does not match");
	ASSERT_PASSING();
	write_lines(&l, swap, 6, 0);
	ASSERT_PASSING();
	rechain();
	ASSERT_PASSING();
	ASSERT_OK(audit_verify(logpath, 0, NULL, &v));
	expect_sealed_bad(vk, 6, "does not match");
	ASSERT_PASSING();
	/* The seal's own epoch edited: another key, no match either. */
	write_lines(&l, all, 6, 0);
	ASSERT_PASSING();
	ASSERT((p = memmem(l.line[5], l.len[5], "\"epoch\":0", 9)) != NULL);
	p[8] = '1';
	write_lines(&l, all, 6, 0);
	ASSERT_PASSING();
	expect_sealed_bad(vk, 6, "does not match");
	ASSERT_PASSING();
	free_lines(&l);
	fss_free(vk);
}

/*
 * The key: each epoch's is the hash of the one before, in place; a clock
 * that goes back never moves it back; one that jumps ahead moves it as
 * far in one step; never past FSS_EPOCH_MAX.
 */
TMPDIR_TEST(key_evolution_and_the_clock)
{
	static const uint8_t k0[32] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
		12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
		28, 29, 30, 31 };
	struct audit_log *a = NULL;
	struct audit_verdict v;
	struct audit_sealing st;
	struct fss_key *k = NULL, *k2 = NULL, *vk = NULL;
	uint8_t want[32];
	char mac[FSS_MAC_HEX + 1];

	/* Known answers (see docs/SECURITY.md for the formulas). */
	ASSERT_OK(fss_new(0x6553f100, 60, &k));
	memcpy(secret_ptr(k->key), k0, 32);
	k->epoch = 5;
	ASSERT_OK(fss_mac(k, 7,
	    "abababababababababababababababababababababababababababababababab",
	    "2023-11-14T22:13:20.000Z", mac));
	ASSERT_EQ_STR(mac,
	    "21ecaa96a19d7ebb5e5e6a394e34b6cd843ded3548b7a7cd5a4d269d3efbe8ae");
	ASSERT_ERR(fss_mac(k, 7, "abab", "2023-11-14T22:13:20.000Z", mac),
	    JIT_E_FORMAT);
	k->epoch = 0;
	ASSERT_OK(fss_evolve(k, 1));
	ASSERT(
	    sodium_hex2bin(want, 32,
		"56759305e6baa9dcc73dc6cf44ce0c49e8c335307de80398b9359bfa8d496a93",
		64, NULL, NULL, NULL) == 0);
	ASSERT_EQ_MEM(secret_ptr(k->key), want, 32);
	/* Evolving three times is evolving to 3; never backwards. */
	ASSERT_OK(fss_dup(k, &k2));
	ASSERT_OK(fss_evolve(k, 4));
	ASSERT_OK(fss_evolve(k2, 2));
	ASSERT_OK(fss_evolve(k2, 3));
	ASSERT_OK(fss_evolve(k2, 4));
	ASSERT_OK(fss_evolve(k2, 1));
	ASSERT_EQ_UINT(k2->epoch, 4);
	ASSERT_EQ_MEM(secret_ptr(k->key), secret_ptr(k2->key), 32);
	ASSERT_ERR(fss_evolve(k2, FSS_EPOCH_MAX + 1), JIT_E_LIMIT);
	ASSERT_EQ_UINT(k2->epoch, 4);
	ASSERT_EQ_UINT(fss_epoch_at(k, 0x6553f100 - 5), 0);
	ASSERT_EQ_UINT(fss_epoch_at(k, 0x6553f100 + 5 * 60 + 59), 5);
	fss_free(k);
	fss_free(k2);

	fake_ms = T0_MS;
	open_fake(&a);
	ASSERT_PASSING();
	setup_keys(a, 10, false, &vk);
	ASSERT_PASSING();
	ASSERT_OK(try_append(a, "use"));
	/* Epoch 2: epoch 0 is sealed, the key goes straight to 2. */
	fake_ms = T0_MS + 25000;
	ASSERT_OK(audit_seal_due(a));
	audit_sealing(a, &st);
	ASSERT_EQ_UINT(st.epoch, 2);
	/* The clock goes back to epoch 0: the key stays at 2. */
	fake_ms = T0_MS + 5000;
	ASSERT_OK(audit_seal_due(a));
	ASSERT_OK(try_append(a, "use"));
	audit_sealing(a, &st);
	ASSERT_EQ_UINT(st.epoch, 2);
	/* A stop seals with epoch 2 whatever the clock says, then 3. */
	ASSERT_OK(audit_seal_now(a));
	audit_sealing(a, &st);
	ASSERT_EQ_UINT(st.epoch, 3);
	ASSERT_OK(audit_seal_now(a)); /* nothing new: nothing to seal */
	audit_sealing(a, &st);
	ASSERT_EQ_UINT(st.epoch, 3);
	/* A jump of a thousand epochs ahead. */
	fake_ms = T0_MS + 10000 * 1000 + 1;
	ASSERT_OK(try_append(a, "use"));
	ASSERT_OK(audit_seal_due(a));
	audit_sealing(a, &st);
	ASSERT_EQ_UINT(st.epoch, 1000);
	audit_close(a);
	ASSERT_OK(fss_load(audit_fss_path_for_test(), &k));
	ASSERT_EQ_UINT(k->epoch, 1000);
	fss_free(k);
	ASSERT_OK(audit_verify_sealed(logpath, 0, NULL, &vk, 1, &v));
	ASSERT_EQ_UINT(v.seals_checked, 3);
	ASSERT_EQ_UINT(v.unsealed_from, 0);
	fss_free(vk);
}

/*
 * The agent was killed before the epoch's end: the next agent seals those
 * lines, with the key still on file for that epoch, and they are reported
 * as sealed late.
 */
TMPDIR_TEST(seal_after_a_crash_is_late)
{
	struct audit_log *a = NULL;
	struct audit_verdict v;
	struct fss_key *vk = NULL;

	fake_ms = T0_MS;
	open_fake(&a);
	ASSERT_PASSING();
	ASSERT_OK(try_append(a, "start"));
	setup_keys(a, 10, false, &vk);
	ASSERT_PASSING();
	ASSERT_OK(try_append(a, "use"));
	ASSERT_OK(try_append(a, "use"));
	audit_close(a); /* killed: no seal */
	fake_ms = T0_MS + 60000;
	open_fake(&a);
	ASSERT_PASSING();
	ASSERT_OK(try_append(a, "start"));
	ASSERT_OK(audit_seal_due(a));
	ASSERT_OK(try_append(a, "use"));
	fake_ms = T0_MS + 70500;
	ASSERT_OK(audit_seal_due(a));
	audit_close(a);
	ASSERT_OK(audit_verify_sealed(logpath, 0, NULL, &vk, 1, &v));
	ASSERT_EQ_UINT(v.seals_checked, 2);
	ASSERT_EQ_UINT(v.late_lines, 4); /* set-up, use, use, start */
	ASSERT_EQ_UINT(v.late_first, 2);
	ASSERT_EQ_UINT(v.late_last, 5);
	fss_free(vk);
}

/*
 * A second set-up needs replace; the old key seals what it had first.  The
 * old verification key alone says the key was replaced; both keys, or the
 * new one, verify; a key of another log, or a log never sealed, fail.
 */
TMPDIR_TEST(replaced_and_wrong_keys)
{
	struct audit_log *a = NULL;
	struct audit_verdict v;
	struct fss_key *k1 = NULL, *k2 = NULL, *other = NULL, *both[2];
	struct secret *vk = NULL;

	fake_ms = T0_MS;
	open_fake(&a);
	ASSERT_PASSING();
	ASSERT_OK(try_append(a, "start"));
	setup_keys(a, 10, false, &k1); /* line 2 */
	ASSERT_PASSING();
	ASSERT_OK(try_append(a, "use"));
	ASSERT_ERR(audit_setup_keys(a, 10, false, NULL, &vk), JIT_E_EXISTS);
	fake_ms += 1000;
	setup_keys(a, 10, true, &k2); /* seal at 4, set-up at 5 */
	ASSERT_PASSING();
	ASSERT(strcmp(k1->id, k2->id) != 0);
	ASSERT_OK(try_append(a, "use"));
	fake_ms += 10000;
	ASSERT_OK(audit_seal_due(a));
	audit_close(a);
	ASSERT_OK(audit_verify(logpath, 0, NULL, &v));
	expect_sealed_bad(k1, 5, "another sealing key");
	ASSERT_PASSING();
	ASSERT_OK(audit_verify_sealed(logpath, 0, NULL, &k2, 1, &v));
	ASSERT_EQ_UINT(v.earlier_key_line, 2);
	ASSERT_EQ_UINT(v.setup_line, 5);
	ASSERT_EQ_UINT(v.seals_checked, 1);
	both[0] = k1;
	both[1] = k2;
	ASSERT_OK(audit_verify_sealed(logpath, 0, NULL, both, 2, &v));
	ASSERT_EQ_UINT(v.seals_checked, 2);
	ASSERT_OK(fss_new(T0_MS / 1000, 10, &other));
	expect_sealed_bad(other, 5, "not with the verification key given");
	ASSERT_PASSING();
	unlink(logpath);
	append_events(1, 2);
	ASSERT_PASSING();
	expect_sealed_bad(k1, 1, "no fss-setup line");
	ASSERT_PASSING();
	fss_free(k1);
	fss_free(k2);
	fss_free(other);
}

/* Dropping the set-up line (and recomputing) hides nothing. */
TMPDIR_TEST(dropped_setup_line)
{
	struct audit_log *a = NULL;
	struct fss_key *vk = NULL;
	struct lines l;
	size_t idx[4] = { 0, 2, 3, 4 };

	fake_ms = T0_MS;
	open_fake(&a);
	ASSERT_PASSING();
	ASSERT_OK(try_append(a, "start"));
	setup_keys(a, 10, false, &vk);
	ASSERT_PASSING();
	ASSERT_OK(try_append(a, "use"));
	ASSERT_OK(try_append(a, "use"));
	fake_ms += 10000;
	ASSERT_OK(audit_seal_due(a));
	audit_close(a);
	read_lines(&l);
	ASSERT_PASSING();
	write_lines(&l, idx, 4, 0);
	free_lines(&l);
	ASSERT_PASSING();
	rechain();
	ASSERT_PASSING();
	expect_sealed_bad(vk, 4, "missing");
	ASSERT_PASSING();
	fss_free(vk);
}

/*
 * The key file: 0600, refused when others may read it or when damaged;
 * a set-up whose line cannot be written leaves no key file behind.
 */
TMPDIR_TEST(key_file_rules)
{
	struct audit_log *a = NULL;
	struct audit_sealing st;
	struct secret *vk = NULL;
	struct fss_key *k = NULL;
	struct stat sb;
	FILE *f;
	int r;

	signal(SIGXFSZ, SIG_IGN);
	append_events(1, 2);
	ASSERT_PASSING();
	ASSERT_OK(audit_open(logpath, &a));
	/* The disk is full: no set-up line, so no key file either. */
	{
		struct rlimit old, rl;

		ASSERT(getrlimit(RLIMIT_FSIZE, &old) == 0);
		rl = old;
		rl.rlim_cur = (rlim_t)file_size();
		ASSERT(setrlimit(RLIMIT_FSIZE, &rl) == 0);
		log_set_level(LOG_LVL_ERROR);
		r = audit_setup_keys(a, 10, false, NULL, &vk);
		log_set_level(LOG_LVL_INFO);
		ASSERT(setrlimit(RLIMIT_FSIZE, &old) == 0);
	}
	ASSERT_ERR(r, JIT_E_IO);
	ASSERT(vk == NULL);
	ASSERT(stat(audit_fss_path(a), &sb) != 0);
	audit_sealing(a, &st);
	ASSERT(!st.on);
	ASSERT_OK(audit_setup_keys(a, 10, false, NULL, &vk));
	secret_free(vk);
	ASSERT(stat(audit_fss_path(a), &sb) == 0);
	ASSERT_EQ_UINT(sb.st_mode & 0777, 0600);
	audit_close(a);
	ASSERT(chmod(audit_fss_path_for_test(), 0640) == 0);
	ASSERT_ERR(audit_open(logpath, &a), JIT_E_DENIED);
	ASSERT(chmod(audit_fss_path_for_test(), 0600) == 0);
	ASSERT_OK(fss_load(audit_fss_path_for_test(), &k));
	fss_free(k);
	ASSERT((f = fopen(audit_fss_path_for_test(), "a")) != NULL);
	fputc('x', f);
	ASSERT(fclose(f) == 0);
	ASSERT_ERR(audit_open(logpath, &a), JIT_E_FORMAT);
}

/* The verification key as text: round trip, and what is not one. */
TEST(verification_key_text)
{
	static const char *const bad[] = {
		"",
		"fss1-",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f/6553f100-3c",
		"fss2-000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f/6553f100-3c",
		"fss1-000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g/6553f100-3c",
		"fss1-000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f/6553f100-0",
		"fss1-000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f/6553f100-",
		"fss1-000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f/-3c",
		"fss1-000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f/6553f100-3c x",
		"fss1-000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f/6553f100-3c-1",
		"fss1-000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f/6553f100-93a81",
	};
	static const char good[] =
	    "  fss1-000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f/6553f100-3c\n";
	struct fss_key *k = NULL, *k2 = NULL;
	struct secret *txt = NULL;
	size_t i;
	int r;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = fss_vkey_parse((const uint8_t *)bad[i], strlen(bad[i]), &k);
		ASSERT_MSG(r == JIT_E_FORMAT, "\"%s\" parsed: %s", bad[i],
		    jit_errname(r));
	}
	ASSERT_OK(fss_vkey_parse((const uint8_t *)good, strlen(good), &k));
	ASSERT_EQ_UINT(k->start, 0x6553f100);
	ASSERT_EQ_UINT(k->interval, 60);
	ASSERT_EQ_UINT(k->epoch, 0);
	ASSERT_EQ_STR(k->id, "a50742ec0ebaeeee4f7b7ed40ebbf055");
	ASSERT_OK(fss_vkey_format(k, &txt));
	ASSERT_EQ_UINT(secret_len(txt), strlen(good) - 3);
	ASSERT_EQ_MEM(secret_ptr(txt), good + 2, strlen(good) - 3);
	ASSERT_OK(fss_vkey_parse(secret_ptr(txt), secret_len(txt), &k2));
	ASSERT_EQ_STR(k2->id, k->id);
	ASSERT(fss_vkey_like(good + 2));
	ASSERT(fss_vkey_like(bad[2]));
	ASSERT(!fss_vkey_like("key.txt"));
	ASSERT(!fss_vkey_like("-"));
	secret_free(txt);
	fss_free(k);
	fss_free(k2);
}

static const struct test_case tests[] = {
	TEST_ENTRY(append_then_verify),
	TEST_ENTRY(edited_middle_line),
	TEST_ENTRY(edited_first_line),
	TEST_ENTRY(deleted_line),
	TEST_ENTRY(swapped_lines),
	TEST_ENTRY(truncated_tail_with_head),
	TEST_ENTRY(reopen_continues),
	TEST_ENTRY(torn_last_line),
	TEST_ENTRY(append_after_torn_line_keeps_record),
	TEST_ENTRY(event_cannot_override_chain),
	TEST_ENTRY(line_limit),
	TEST_ENTRY(read_lines_callback),
	TEST_ENTRY(missing_or_empty_log),
	TEST_ENTRY(failed_write_rolled_back),
	TEST_ENTRY(torn_line_recorded_by_next_record),
	TEST_ENTRY(seal_catches_a_recomputed_chain),
	TEST_ENTRY(seal_catches_edits_and_reorders),
	TEST_ENTRY(key_evolution_and_the_clock),
	TEST_ENTRY(seal_after_a_crash_is_late),
	TEST_ENTRY(replaced_and_wrong_keys),
	TEST_ENTRY(dropped_setup_line),
	TEST_ENTRY(key_file_rules),
	TEST_ENTRY(verification_key_text),
};

TEST_MAIN(tests)
