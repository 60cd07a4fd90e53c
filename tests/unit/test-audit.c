/* Unit tests of lib/audit.c: edited, dropped, reordered and torn lines. */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assert.h"
#include "tmpdir.h"
#include "audit.h"
#include "err.h"
#include "fsutil.h"
#include "jsonx.h"
#include "log.h"

#define LINES_MAX 32

static char logpath[128];

/* A fresh, empty log path in a private directory. */
static void
setup(void)
{
	tmpdir_make("audit");
	snprintf(logpath, sizeof(logpath), "%s/audit.log", tmpdir);
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
	/* An empty or missing log against a head. */
	unlink(logpath);
	ASSERT_OK(audit_verify(logpath, 0, NULL, &v));
	ASSERT_ERR(audit_verify(logpath, seq, hash, &v), JIT_E_AUTH);
	free_lines(&l);
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

/* A torn last line is reported. */
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
	/* A whole record without its newline. */
	write_lines(&l, idx, 3, 1);
	ASSERT_PASSING();
	ASSERT_ERR(audit_verify(logpath, 0, NULL, &v), JIT_E_AUTH);
	ASSERT_EQ_UINT(v.bad_line, 3);
	ASSERT(strstr(v.why, "torn") != NULL);
	/* Half a record after good ones. */
	write_lines(&l, idx, 3, 0);
	ASSERT_PASSING();
	ASSERT((f = fopen(logpath, "a")) != NULL);
	fputs("{\"seq\":4,\"ti", f);
	ASSERT(fclose(f) == 0);
	ASSERT_ERR(audit_verify(logpath, 0, NULL, &v), JIT_E_AUTH);
	ASSERT_EQ_UINT(v.bad_line, 4);
	ASSERT(strstr(v.why, "line 4") != NULL);
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
};

TEST_MAIN(tests)
