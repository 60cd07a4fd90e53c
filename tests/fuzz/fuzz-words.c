/* libFuzzer harness: lib/words.c's splitting of a command line. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "wire.h"
#include "words.h"

#define FUZZ_NAME "fuzz-words"
#include "fuzz.h"

/*
 * The input is one command line.  Whatever it gives must be words of at
 * most WORDS_WORD_MAX bytes without a control byte (tab aside), at most
 * MAX of them, NULL-terminated.  A refusal says why, and only input with
 * a quote, a backslash or a control byte can be malformed.  The words,
 * quoted again, must split into the same words; split twice into one
 * list, they come twice; and a line with no quote, backslash or control
 * byte splits exactly at its blanks.
 */

#define MAX 32 /* CONF_ARGV_MAX */
#define QUOTED_MAX (MAX * (4 * WORDS_WORD_MAX + 3))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
special(uint8_t c)
{
	return c == '\'' || c == '"' || c == '\\' || (c < 0x20 && c != '\t');
}

/* Each word in single quotes, a quote inside as '\'' */
static void
requote(const struct words *w, struct wire_writer *out)
{
	for (size_t i = 0; i < w->n; i++) {
		CHECK(wire_put_bytes(out, i > 0 ? " '" : "'", i > 0 ? 2 : 1) ==
		    0);
		for (const char *c = w->v[i]; *c != '\0'; c++) {
			if (*c == '\'')
				CHECK(wire_put_bytes(out, "'\\''", 4) == 0);
			else
				CHECK(wire_put_u8(out, (uint8_t)*c) == 0);
		}
		CHECK(wire_put_u8(out, '\'') == 0);
	}
}

static void
same_words(const struct words *a, size_t from, const struct words *b)
{
	CHECK(a->n - from == b->n);
	for (size_t i = 0; i < b->n; i++)
		CHECK(strcmp(a->v[from + i], b->v[i]) == 0);
}

/* A line with nothing special: the fields between blanks, however many
 * and however long; *ret_long says if one is over WORDS_WORD_MAX. */
static void
plain_fields(
    const uint8_t *data, size_t size, struct words *ret, bool *ret_long)
{
	struct wire_reader r;
	struct wire_writer f;
	uint8_t c;

	*ret_long = false;
	wire_reader_init(&r, data, size);
	wire_writer_init(&f, SIZE_MAX, false);
	for (;;) {
		(void)wire_skip_span(&r, " \t");
		if (wire_left(&r) == 0)
			break;
		wire_writer_truncate(&f, 0);
		while (wire_peek_u8(&r, &c) == 0 && c != ' ' && c != '\t') {
			(void)wire_skip(&r, 1);
			CHECK(wire_put_u8(&f, c) == 0);
		}
		*ret_long |= wire_writer_len(&f) > WORDS_WORD_MAX;
		CHECK(words_push(
			  ret, wire_writer_data(&f), wire_writer_len(&f)) == 0);
	}
	wire_writer_reset(&f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct words w = { NULL, 0 }, again = { NULL, 0 };
	struct wire_writer q;
	char why[128];
	bool has_special = false, too_long;
	size_t i;
	int rc;

	for (i = 0; i < size; i++)
		has_special |= special(data[i]);
	why[0] = '\0';
	rc = words_split(data, size, MAX, &w, why, sizeof(why));
	/* Nothing special: exactly the fields, or too many or too long. */
	if (!has_special) {
		plain_fields(data, size, &again, &too_long);
		if (too_long || again.n > MAX)
			CHECK(rc == JIT_E_LIMIT);
		else {
			CHECK(rc == 0);
			same_words(&again, 0, &w);
		}
		words_free(&again);
	}
	CHECK(w.n <= MAX);
	CHECK(w.n == 0 || w.v[w.n] == NULL);
	for (i = 0; i < w.n; i++) {
		CHECK(strlen(w.v[i]) <= WORDS_WORD_MAX);
		for (const char *c = w.v[i]; *c != '\0'; c++)
			CHECK((uint8_t)*c >= 0x20 || *c == '\t');
	}
	if (rc != 0) {
		CHECK(rc == JIT_E_FORMAT || rc == JIT_E_LIMIT ||
		    rc == JIT_E_NOMEM);
		CHECK(why[0] != '\0');
		CHECK(rc != JIT_E_FORMAT || has_special);
		CHECK(rc != JIT_E_LIMIT || w.n == MAX || size > WORDS_WORD_MAX);
		words_free(&w);
		return 0;
	}
	/* Quoted again, the same words. */
	wire_writer_init(&q, QUOTED_MAX, false);
	requote(&w, &q);
	CHECK(words_split(wire_writer_data(&q), wire_writer_len(&q), MAX,
		  &again, why, sizeof(why)) == 0);
	same_words(&again, 0, &w);
	wire_writer_reset(&q);

	/* Appended to a list that has them already: twice. */
	CHECK(words_split(data, size, 2 * MAX, &again, why, sizeof(why)) == 0);
	CHECK(again.n == 2 * w.n);
	same_words(&again, w.n, &w);
	words_free(&again);
	words_free(&w);
	return 0;
}
