/* Unit tests of lib/mask.c: values concealed however the output is cut. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "err.h"
#include "fields.h"
#include "mask.h"
#include "secret.h"

#define R MASK_REPLACEMENT

struct sink {
	char buf[1024];
	size_t len;
};

static int
sink_out(void *ctx, const void *p, size_t n)
{
	struct sink *s = ctx;

	if (n > sizeof(s->buf) - 1 - s->len)
		return JIT_E_LIMIT;
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return JIT_OK;
}

/* A fields encoding of the NULL-terminated values (names f0, f1...). */
static struct secret *
fields_of(const char *const *vals)
{
	struct fields_builder b;
	struct secret *f = NULL;
	char name[24];
	size_t i;

	if (fields_begin(&b) != 0)
		return NULL;
	for (i = 0; vals[i] != NULL; i++) {
		snprintf(name, sizeof(name), "f%zu", i);
		if (fields_add(&b, name, strlen(name), (const uint8_t *)vals[i],
			strlen(vals[i])) != 0) {
			fields_abort(&b);
			return NULL;
		}
	}
	return fields_finish(&b, &f) == 0 ? f : NULL;
}

/* Feed text cut at the given offsets (ascending, 0-terminated), then
 * flush; the output in s. */
static int
run(const char *const *vals, const char *text, const size_t *cuts,
    struct sink *s)
{
	struct secret *f = fields_of(vals);
	const struct secret *fs[1] = { f };
	struct mask_set *ms = NULL;
	struct mask_stream *st = NULL;
	size_t at = 0, len = strlen(text), i;
	int r;

	memset(s, 0, sizeof(*s));
	if (f == NULL)
		return JIT_E_INTERNAL;
	if ((r = mask_set_new(fs, 1, &ms)) != 0 ||
	    (r = mask_stream_new(ms, sink_out, s, &st)) != 0)
		goto out;
	for (i = 0; cuts != NULL && cuts[i] != 0; i++) {
		if ((r = mask_stream_feed(st, text + at, cuts[i] - at)) != 0)
			goto out;
		at = cuts[i];
	}
	if ((r = mask_stream_feed(st, text + at, len - at)) != 0)
		goto out;
	r = mask_stream_flush(st);
	if (r == 0 && mask_stream_held(st) != 0)
		r = JIT_E_INTERNAL;
out:
	mask_stream_free(st);
	mask_set_free(ms);
	secret_free(f);
	return r;
}

TEST(mask_whole_value)
{
	static const char *const v[] = { "s3cret-pass", NULL };
	struct sink s;

	ASSERT_OK(run(v, "PGPASSWORD=s3cret-pass\nok\n", NULL, &s));
	ASSERT_EQ_STR(s.buf, "PGPASSWORD=" R "\nok\n");
	ASSERT_OK(run(v, "s3cret-passs3cret-pass", NULL, &s));
	ASSERT_EQ_STR(s.buf, R R);
}

/* Every place a value can be cut by two writes, and byte by byte. */
TEST(mask_split_everywhere)
{
	static const char *const v[] = { "AKIAEXAMPLE1234", NULL };
	const char *text = "key=AKIAEXAMPLE1234;";
	size_t cut[2] = { 0, 0 }, bytes[32], i, len = strlen(text);
	struct sink s;

	for (i = 1; i < len; i++) {
		cut[0] = i;
		ASSERT_OK(run(v, text, cut, &s));
		ASSERT_EQ_STR(s.buf, "key=" R ";");
	}
	for (i = 0; i + 1 < len; i++)
		bytes[i] = i + 1;
	bytes[len - 1] = 0;
	ASSERT_OK(run(v, text, bytes, &s));
	ASSERT_EQ_STR(s.buf, "key=" R ";");
}

/* Held back is at most the longest value less one byte, and only while
 * it could still be a value. */
TEST(mask_holds_little)
{
	static const char *const v[] = { "abcdef", NULL };
	struct secret *f = fields_of(v);
	const struct secret *fs[1] = { f };
	struct mask_set *ms = NULL;
	struct mask_stream *st = NULL;
	struct sink s;

	memset(&s, 0, sizeof(s));
	ASSERT(f != NULL);
	ASSERT_OK(mask_set_new(fs, 1, &ms));
	ASSERT_OK(mask_stream_new(ms, sink_out, &s, &st));
	ASSERT_OK(mask_stream_feed(st, "xxabcde", 7));
	ASSERT_EQ_STR(s.buf, "xx");
	ASSERT_EQ_UINT(mask_stream_held(st), 5);
	ASSERT_OK(mask_stream_feed(st, "X", 1));
	ASSERT_EQ_STR(s.buf, "xxabcdeX");
	ASSERT_EQ_UINT(mask_stream_held(st), 0);
	ASSERT_OK(mask_stream_feed(st, "ab", 2));
	ASSERT_EQ_UINT(mask_stream_held(st), 2);
	/* Idle: what was held goes out as it is. */
	ASSERT_OK(mask_stream_flush(st));
	ASSERT_EQ_STR(s.buf, "xxabcdeXab");
	mask_stream_free(st);
	mask_set_free(ms);
	secret_free(f);
}

/* Where values overlap: the longer wins, a shorter one inside what was
 * held is still caught at the flush. */
TEST(mask_overlaps)
{
	static const char *const v[] = { "abc", "abcdef", "cdx", NULL };
	static const size_t cut[] = { 3, 0 };
	struct sink s;

	ASSERT_OK(run(v, "abcdef", cut, &s));
	ASSERT_EQ_STR(s.buf, R);
	ASSERT_OK(run(v, "abcdeg", cut, &s));
	ASSERT_EQ_STR(s.buf, R "deg");
	ASSERT_OK(run(v, "abcd", NULL, &s));
	ASSERT_EQ_STR(s.buf, R "d");
	ASSERT_OK(run(v, "abcdx", NULL, &s));
	ASSERT_EQ_STR(s.buf, R "dx");
	ASSERT_OK(run(v, "zcdx", NULL, &s));
	ASSERT_EQ_STR(s.buf, "z" R);
}

TEST(mask_short_values_and_plain_text)
{
	static const char *const v[] = { "ab", "x", "long-value", NULL };
	struct sink s;

	ASSERT_OK(run(v, "ab x abx long-valu", NULL, &s));
	ASSERT_EQ_STR(s.buf, "ab x abx long-valu");
}

TEST(mask_limits)
{
	struct fields_builder b;
	struct secret *f = NULL, *fs[20];
	struct mask_set *ms = NULL;
	char name[24], val[48];
	size_t i, j;

	/* 20 credentials of 60 values: more than MASK_VALUES_MAX. */
	for (j = 0; j < 20; j++) {
		ASSERT_OK(fields_begin(&b));
		for (i = 0; i < 60; i++) {
			snprintf(name, sizeof(name), "n%zu", i);
			snprintf(val, sizeof(val), "value-%zu-%zu", j, i);
			ASSERT_OK(fields_add(&b, name, strlen(name),
			    (const uint8_t *)val, strlen(val)));
		}
		ASSERT_OK(fields_finish(&b, &f));
		fs[j] = f;
	}
	ASSERT_OK(mask_set_new((const struct secret *const *)fs, 17, &ms));
	ASSERT_EQ_UINT(mask_set_count(ms), 1020);
	mask_set_free(ms);
	ms = NULL;
	ASSERT_ERR(mask_set_new((const struct secret *const *)fs, 18, &ms),
	    JIT_E_LIMIT);
	ASSERT(ms == NULL);
	for (j = 0; j < 20; j++)
		secret_free(fs[j]);
}

static const struct test_case tests[] = {
	TEST_ENTRY(mask_whole_value),
	TEST_ENTRY(mask_split_everywhere),
	TEST_ENTRY(mask_holds_little),
	TEST_ENTRY(mask_overlaps),
	TEST_ENTRY(mask_short_values_and_plain_text),
	TEST_ENTRY(mask_limits),
};

TEST_MAIN(tests)
