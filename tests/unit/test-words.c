/* Unit tests of lib/words.c: the words of a command line, and its limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "err.h"
#include "words.h"

/* Split len bytes at s into at most max words; the words joined with '|',
 * or the error phrase. */
static int
split(const void *s, size_t len, size_t max, char *out, size_t outlen)
{
	struct words w = { NULL, 0 };
	char why[128];
	size_t i, used = 0;
	int r;

	out[0] = '\0';
	why[0] = '\0';
	if ((r = words_split(s, len, max, &w, why, sizeof(why))) != 0) {
		snprintf(out, outlen, "%s", why);
		words_free(&w);
		return r;
	}
	for (i = 0; i < w.n; i++)
		used += (size_t)snprintf(out + used, outlen - used, "%s%s",
		    i > 0 ? "|" : "", w.v[i]);
	if (w.n > 0 && w.v[w.n] != NULL)
		r = JIT_E_INTERNAL; /* must stay NULL-terminated */
	words_free(&w);
	return r;
}

static int
split_str(const char *s, size_t max, char *out, size_t outlen)
{
	return split(s, strlen(s), max, out, outlen);
}

TEST(words_accepted)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "/bin/a b  c", "/bin/a|b|c" }, { "\t/bin/a\tb ", "/bin/a|b" },
		{ "   ", "" }, { "", "" },
		{ "'/my issuers/x' y", "/my issuers/x|y" },
		{ "\"/a b\" \"q\\\"u\" \"b\\\\s\"", "/a b|q\"u|b\\s" },
		{ "\"a\\nb\"", "a\\nb" }, /* only \" and \\ inside "" */
		{ "'a\\b'", "a\\b" }, /* nothing inside '' */
		{ "my\\ issuer", "my issuer" }, { "\\'x\\\"", "'x\"" },
		{ "a'b c'\"d\"e", "ab cde" }, { "'' x", "|x" },
		{ "\"\"", "" }, /* one empty word (joined: nothing) */
		{ "'$HOME ~ * ; | >'", "$HOME ~ * ; | >" },
		{ "$HOME `id` a;b", "$HOME|`id`|a;b" }, { "'it''s'", "its" },
		{ "'tab\tin' \"quo\ttes\"", "tab\tin|quo\ttes" },
		{ "\\\tx", "\tx" }, /* an escaped tab is not a blank */
		{ "caf\xc3\xa9 \x7f", "caf\xc3\xa9|\x7f" }, /* any other byte */
	};
	char out[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_MSG(
		    split_str(cases[i].in, 8, out, sizeof(out)) == JIT_OK,
		    "[%s] refused: %s", cases[i].in, out);
		ASSERT_MSG(strcmp(out, cases[i].want) == 0,
		    "[%s] gave [%s], want [%s]", cases[i].in, out,
		    cases[i].want);
	}
}

TEST(words_refused)
{
	static const struct {
		const char *in;
		int rc;
		const char *why;
	} cases[] = {
		{ "'open", JIT_E_FORMAT, "a single quote is not closed" },
		{ "a \"open", JIT_E_FORMAT, "a double quote is not closed" },
		{ "\"a\\\"", JIT_E_FORMAT, "a double quote is not closed" },
		{ "a\\", JIT_E_FORMAT, "a backslash ends the value" },
		{ "a\001b", JIT_E_FORMAT, "a control character" },
		{ "'a\nb'", JIT_E_FORMAT, "a control character" },
		{ "\"a\rb\"", JIT_E_FORMAT, "a control character" },
		{ "\\\n", JIT_E_FORMAT, "a control character" },
		{ "a b c d e", JIT_E_LIMIT, "more than 4 words" },
		{ "a b c d ''", JIT_E_LIMIT, "more than 4 words" },
	};
	char out[256];
	size_t i;
	int r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = split_str(cases[i].in, 4, out, sizeof(out));
		ASSERT_MSG(r == cases[i].rc, "[%s] gave %d, want %d",
		    cases[i].in, r, cases[i].rc);
		ASSERT_MSG(strcmp(out, cases[i].why) == 0,
		    "[%s]: [%s], want [%s]", cases[i].in, out, cases[i].why);
	}
}

/* The input is len bytes: a NUL inside is refused, nothing past it read. */
TEST(words_bytes)
{
	static const char nul[] = { 'a', ' ', 0, 'b' };
	static const char unterminated[] = { 'a', ' ', 'b', 'c' };
	char out[64];

	ASSERT_ERR(split(nul, sizeof(nul), 8, out, sizeof(out)), JIT_E_FORMAT);
	ASSERT_EQ_STR(out, "a control character");
	ASSERT_OK(split(unterminated, 3, 8, out, sizeof(out)));
	ASSERT_EQ_STR(out, "a|b");
	ASSERT_OK(split(NULL, 0, 8, out, sizeof(out)));
	ASSERT_EQ_STR(out, "");
}

/* A word of WORDS_WORD_MAX bytes passes; one byte more is refused. */
TEST(words_word_max)
{
	char in[WORDS_WORD_MAX + 8], out[WORDS_WORD_MAX + 64];

	memset(in, 'x', sizeof(in));
	in[0] = '\'';
	in[WORDS_WORD_MAX + 1] = '\'';
	ASSERT_OK(split(in, WORDS_WORD_MAX + 2, 1, out, sizeof(out)));
	ASSERT_EQ_UINT(strlen(out), WORDS_WORD_MAX);
	/* Quotes and escapes do not count, the bytes they give do. */
	memset(in, 'x', sizeof(in));
	in[0] = '\\';
	ASSERT_OK(split(in, WORDS_WORD_MAX + 1, 1, out, sizeof(out)));
	ASSERT_EQ_UINT(strlen(out), WORDS_WORD_MAX);
	ASSERT_ERR(
	    split(in, WORDS_WORD_MAX + 2, 1, out, sizeof(out)), JIT_E_LIMIT);
	ASSERT_EQ_STR(out, "a word is longer than 1024 bytes");
}

/* Words are appended; max counts them all, and an error keeps the words
 * before it. */
TEST(words_append)
{
	struct words w = { NULL, 0 }, d = { NULL, 0 };
	char why[64];

	ASSERT_OK(words_split("/bin/x a", 8, 3, &w, why, sizeof(why)));
	ASSERT_EQ_UINT(w.n, 2);
	ASSERT_OK(words_split("b", 1, 3, &w, why, sizeof(why)));
	ASSERT_EQ_UINT(w.n, 3);
	ASSERT_EQ_STR(w.v[2], "b");
	ASSERT(w.v[3] == NULL);
	ASSERT_ERR(words_split("c", 1, 3, &w, why, sizeof(why)), JIT_E_LIMIT);
	ASSERT_EQ_STR(why, "more than 3 words");
	ASSERT_EQ_UINT(w.n, 3);
	ASSERT_ERR(
	    words_split("d 'e", 4, 8, &w, why, sizeof(why)), JIT_E_FORMAT);
	ASSERT_EQ_UINT(w.n, 4); /* d came before the error */
	ASSERT_EQ_STR(w.v[3], "d");
	ASSERT(w.v[4] == NULL);
	/* No why buffer: the code still says what went wrong. */
	ASSERT_ERR(words_split("'", 1, 8, &w, NULL, 0), JIT_E_FORMAT);

	ASSERT_OK(words_dup(&w, &d));
	ASSERT_EQ_UINT(d.n, 4);
	ASSERT(d.v != w.v && d.v[0] != w.v[0]);
	ASSERT_EQ_STR(d.v[0], "/bin/x");
	ASSERT_EQ_STR(d.v[3], "d");
	ASSERT(d.v[4] == NULL);
	words_free(&w);
	ASSERT(w.v == NULL && w.n == 0);
	ASSERT_EQ_STR(d.v[1], "a"); /* the copy outlives the original */
	words_free(&d);
	words_free(&d); /* twice is fine */
	words_free(NULL);

	/* A copy of nothing is nothing. */
	ASSERT_OK(words_dup(&w, &d));
	ASSERT(d.v == NULL && d.n == 0);
	ASSERT_OK(words_push(&d, "", 0));
	ASSERT_EQ_UINT(d.n, 1);
	ASSERT_EQ_STR(d.v[0], "");
	words_free(&d);
}

static const struct test_case tests[] = {
	TEST_ENTRY(words_accepted),
	TEST_ENTRY(words_refused),
	TEST_ENTRY(words_bytes),
	TEST_ENTRY(words_word_max),
	TEST_ENTRY(words_append),
};

TEST_MAIN(tests)
