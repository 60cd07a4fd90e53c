/* Unit tests of lib/fields.c: builder, validation rules and lookups. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "err.h"
#include "fields.h"
#include "secret.h"
#include "wire.h"

static int
add_str(struct fields_builder *b, const char *name, const char *val)
{
	return fields_add(
	    b, name, strlen(name), (const uint8_t *)val, strlen(val));
}

/* A raw encoding: count, then (name, value) pairs, as given. */
static int
raw_encoding(uint32_t count, const char *const *pairs, size_t npairs,
    struct secret **ret)
{
	struct wire_writer w;
	size_t i;
	int r;

	wire_writer_init(&w, FIELDS_TOTAL_MAX * 2, true);
	if ((r = wire_put_u32(&w, count)) != 0)
		goto out;
	for (i = 0; i < npairs * 2; i++)
		if ((r = wire_put_cstring(&w, pairs[i])) != 0)
			goto out;
	r = wire_writer_take_secret(&w, ret);
out:
	wire_writer_reset(&w);
	return r;
}

/* Build, finish, iterate and look up. */
TEST(builder_round_trip)
{
	static const uint8_t bin[] = { 1, 2, 0xff, 0x7f, '\n' };
	struct fields_builder b;
	struct fields_iter it;
	struct secret *f = NULL;
	struct field x;
	uint32_t n = 0;

	ASSERT_OK(fields_begin(&b));
	ASSERT_OK(add_str(&b, "user", "alice"));
	ASSERT_OK(fields_add(&b, "pass.word", 9, bin, sizeof(bin)));
	ASSERT_OK(add_str(&b, "EMPTY_1-x", ""));
	ASSERT_EQ_UINT(b.n, 3);
	ASSERT_OK(fields_finish(&b, &f));
	ASSERT(f != NULL);
	ASSERT_EQ_UINT(wire_writer_len(&b.w), 0); /* the builder was reset */

	ASSERT_OK(fields_validate(f, &n));
	ASSERT_EQ_UINT(n, 3);

	ASSERT_OK(fields_iter_init(&it, f));
	ASSERT_EQ_INT(fields_next(&it, &x), 1);
	ASSERT_EQ_UINT(x.namelen, 4);
	ASSERT_EQ_MEM(x.name, "user", 4);
	ASSERT_EQ_UINT(x.vallen, 5);
	ASSERT_EQ_MEM(x.val, "alice", 5);
	/* Values point into the guarded encoding, not a copy. */
	ASSERT(x.val > secret_ptr(f) && x.val < secret_ptr(f) + secret_len(f));
	ASSERT_EQ_INT(fields_next(&it, &x), 1);
	ASSERT_EQ_MEM(x.name, "pass.word", 9);
	ASSERT_EQ_UINT(x.vallen, sizeof(bin));
	ASSERT_EQ_MEM(x.val, bin, sizeof(bin));
	ASSERT_EQ_INT(fields_next(&it, &x), 1);
	ASSERT_EQ_MEM(x.name, "EMPTY_1-x", 9);
	ASSERT_EQ_UINT(x.vallen, 0);
	ASSERT_EQ_INT(fields_next(&it, &x), 0);
	ASSERT_EQ_INT(fields_next(&it, &x), 0);

	ASSERT_OK(fields_get(f, "pass.word", &x));
	ASSERT_EQ_MEM(x.val, bin, sizeof(bin));
	ASSERT_OK(fields_get(f, "user", &x));
	ASSERT_EQ_MEM(x.val, "alice", 5);
	ASSERT_OK(fields_get(f, "EMPTY_1-x", &x));
	ASSERT_EQ_UINT(x.vallen, 0);
	ASSERT_ERR(fields_get(f, "nope", &x), JIT_E_NOENT);
	ASSERT_ERR(fields_get(f, "use", &x), JIT_E_NOENT); /* prefix */
	ASSERT_ERR(fields_get(f, "users", &x), JIT_E_NOENT);
	ASSERT_ERR(fields_get(f, "USER", &x), JIT_E_NOENT);
	ASSERT_ERR(fields_get(f, "", &x), JIT_E_NOENT);
	secret_free(f);
}

/* The exact encoding: u32 count, then string pairs. */
TEST(encoding_layout)
{
	static const uint8_t want[] = {
		0,
		0,
		0,
		1,
		0,
		0,
		0,
		1,
		'k',
		0,
		0,
		0,
		2,
		'v',
		'w',
	};
	struct fields_builder b;
	struct secret *f = NULL;

	ASSERT_OK(fields_begin(&b));
	ASSERT_OK(add_str(&b, "k", "vw"));
	ASSERT_OK(fields_finish(&b, &f));
	ASSERT_EQ_UINT(secret_len(f), sizeof(want));
	ASSERT_EQ_MEM(secret_ptr(f), want, sizeof(want));
	secret_free(f);
}

/* Two fields of one name are refused when finishing and validating. */
TEST(duplicates_refused)
{
	static const char *const dup[] = { "a", "1", "b", "2", "a", "3" };
	struct fields_builder b;
	struct secret *f = NULL;

	ASSERT_OK(fields_begin(&b));
	ASSERT_OK(add_str(&b, "a", "1"));
	ASSERT_OK(add_str(&b, "b", "2"));
	ASSERT_OK(add_str(&b, "a", "3"));
	ASSERT_ERR(fields_finish(&b, &f), JIT_E_EXISTS);
	ASSERT(f == NULL);
	ASSERT_EQ_UINT(wire_writer_len(&b.w), 0); /* reset either way */

	ASSERT_OK(raw_encoding(3, dup, 3, &f));
	ASSERT_ERR(fields_validate(f, NULL), JIT_E_EXISTS);
	secret_free(f);
}

/* Names are 1..FIELD_NAME_MAX of [A-Za-z0-9_.-]. */
TEST(invalid_names_refused)
{
	static const char *const bad[] = {
		"",
		"a b",
		"a/b",
		"a:b",
		"a\tb",
		"\xc3\xa9",
		"a\"",
		"a=b",
		"a@b",
		"*",
	};
	static const char *const badpair[] = { "a b", "x" };
	char name[FIELD_NAME_MAX + 2];
	struct fields_builder b;
	struct secret *f = NULL;
	size_t i;

	ASSERT_OK(fields_begin(&b));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_MSG(add_str(&b, bad[i], "v") == JIT_E_FORMAT,
		    "name \"%s\" accepted", bad[i]);
		ASSERT(!fields_valid_name(
		    (const uint8_t *)bad[i], strlen(bad[i])));
	}
	/* A NUL inside the name is not a terminator. */
	ASSERT_ERR(
	    fields_add(&b, "ab\0c", 4, (const uint8_t *)"v", 1), JIT_E_FORMAT);
	memset(name, 'n', sizeof(name));
	ASSERT_ERR(
	    fields_add(&b, name, FIELD_NAME_MAX + 1, (const uint8_t *)"v", 1),
	    JIT_E_FORMAT);
	ASSERT_EQ_UINT(b.n, 0);
	ASSERT_OK(
	    fields_add(&b, name, FIELD_NAME_MAX, (const uint8_t *)"v", 1));
	ASSERT(fields_valid_name((const uint8_t *)"Az09_.-", 7));
	ASSERT_OK(fields_finish(&b, &f));
	ASSERT_OK(fields_validate(f, NULL));
	secret_free(f);

	/* Validation applies the same rule to an encoding from elsewhere. */
	ASSERT_OK(raw_encoding(1, badpair, 1, &f));
	ASSERT_ERR(fields_validate(f, NULL), JIT_E_FORMAT);
	secret_free(f);
}

/* At most FIELDS_MAX fields. */
TEST(count_limit)
{
	struct fields_builder b;
	struct secret *f = NULL;
	char name[16];
	uint32_t n;
	int i;

	ASSERT_OK(fields_begin(&b));
	for (i = 0; i < FIELDS_MAX; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ASSERT_OK(add_str(&b, name, "v"));
	}
	ASSERT_ERR(add_str(&b, "one-more", "v"), JIT_E_LIMIT);
	ASSERT_EQ_UINT(b.n, FIELDS_MAX);
	ASSERT_OK(fields_finish(&b, &f));
	ASSERT_OK(fields_validate(f, &n));
	ASSERT_EQ_UINT(n, FIELDS_MAX);
	secret_free(f);

	/* An encoding that claims FIELDS_MAX + 1 is refused as such. */
	{
		const char *pairs[2 * (FIELDS_MAX + 1)];
		char names[FIELDS_MAX + 1][8];

		for (i = 0; i <= FIELDS_MAX; i++) {
			snprintf(names[i], sizeof(names[i]), "f%d", i);
			pairs[2 * i] = names[i];
			pairs[2 * i + 1] = "v";
		}
		ASSERT_OK(
		    raw_encoding(FIELDS_MAX + 1, pairs, FIELDS_MAX + 1, &f));
		ASSERT_ERR(fields_validate(f, NULL), JIT_E_LIMIT);
		secret_free(f);
		ASSERT_OK(raw_encoding(UINT32_MAX, pairs, 1, &f));
		ASSERT_ERR(fields_validate(f, NULL), JIT_E_LIMIT);
		secret_free(f);
	}
	/* And zero fields is not a credential. */
	ASSERT_OK(raw_encoding(0, NULL, 0, &f));
	ASSERT_ERR(fields_validate(f, NULL), JIT_E_FORMAT);
	secret_free(f);
	ASSERT_OK(fields_begin(&b));
	ASSERT_ERR(fields_finish(&b, &f), JIT_E_FORMAT);
}

/* Sizes: a value over FIELD_VALUE_MAX, a total over FIELDS_TOTAL_MAX. */
TEST(size_limits)
{
	struct fields_builder b;
	struct secret *f = NULL;
	uint8_t *big;

	ASSERT((big = malloc(FIELD_VALUE_MAX + 1)) != NULL);
	memset(big, 'x', FIELD_VALUE_MAX + 1);
	ASSERT_OK(fields_begin(&b));
	ASSERT_ERR(
	    fields_add(&b, "a", 1, big, FIELD_VALUE_MAX + 1), JIT_E_FORMAT);
	ASSERT_OK(fields_add(&b, "a", 1, big, FIELD_VALUE_MAX));
	ASSERT_OK(fields_add(&b, "b", 1, big, FIELD_VALUE_MAX - 100));
	ASSERT_OK(fields_finish(&b, &f));
	ASSERT_OK(fields_validate(f, NULL));
	secret_free(f);

	/* The third would pass FIELDS_TOTAL_MAX. */
	ASSERT_OK(fields_begin(&b));
	ASSERT_OK(fields_add(&b, "a", 1, big, FIELD_VALUE_MAX));
	ASSERT_OK(fields_add(&b, "b", 1, big, FIELD_VALUE_MAX - 100));
	ASSERT_ERR(fields_add(&b, "c", 1, big, 200), JIT_E_LIMIT);
	ASSERT_EQ_UINT(b.n, 2);
	fields_abort(&b);
	free(big);
}

/*
 * A refused add leaves the builder as it was, so what was added before
 * can still be finished.
 * Regression: fields_add() once left the name of a refused pair in the
 * encoding, so fields_finish() failed with JIT_E_FORMAT; fixed in 87e16d7.
 */
TEST(failed_add_keeps_encoding)
{
	struct fields_builder b;
	struct secret *f = NULL;
	uint8_t *big;
	uint32_t n = 0;

	ASSERT((big = malloc(FIELD_VALUE_MAX)) != NULL);
	memset(big, 'x', FIELD_VALUE_MAX);
	ASSERT_OK(fields_begin(&b));
	ASSERT_OK(fields_add(&b, "a", 1, big, FIELD_VALUE_MAX));
	ASSERT_OK(fields_add(&b, "b", 1, big, FIELD_VALUE_MAX - 100));
	ASSERT_ERR(fields_add(&b, "c", 1, big, 200), JIT_E_LIMIT);
	free(big);
	ASSERT_OK(fields_finish(&b, &f));
	ASSERT_OK(fields_validate(f, &n));
	ASSERT_EQ_UINT(n, 2);
	secret_free(f);
}

/*
 * An encoding larger than FIELDS_TOTAL_MAX is refused by validation, as the
 * builder would refuse to make it.
 * Regression: fields_validate() once checked the count, names, value
 * sizes and NULs but not the total, so the agent's add verb (payload up to
 * 256 KiB) took 192 KiB of fields; fixed in 87e16d7.
 */
TEST(validate_total_limit)
{
	struct wire_writer w;
	struct secret *f = NULL;
	uint8_t *big;
	int i, r;

	ASSERT((big = malloc(FIELD_VALUE_MAX)) != NULL);
	memset(big, 'x', FIELD_VALUE_MAX);
	wire_writer_init(&w, 4 * FIELD_VALUE_MAX, true);
	ASSERT_OK(wire_put_u32(&w, 3));
	for (i = 0; i < 3; i++) {
		char name[2] = { (char)('a' + i), '\0' };

		ASSERT_OK(wire_put_cstring(&w, name));
		ASSERT_OK(wire_put_string(&w, big, FIELD_VALUE_MAX));
	}
	free(big);
	ASSERT_OK(wire_writer_take_secret(&w, &f));
	ASSERT(secret_len(f) > FIELDS_TOTAL_MAX);
	r = fields_validate(f, NULL);
	secret_free(f);
	ASSERT_ERR(r, JIT_E_LIMIT);
}

/* A NUL inside a value is refused by validation (and so by finish). */
TEST(nul_in_value_refused)
{
	static const uint8_t in[] = {
		0,
		0,
		0,
		1,
		0,
		0,
		0,
		1,
		'k',
		0,
		0,
		0,
		3,
		'a',
		0,
		'b',
	};
	struct fields_builder b;
	struct secret *f = NULL;

	ASSERT_OK(fields_begin(&b));
	ASSERT_OK(fields_add(&b, "k", 1, (const uint8_t *)"a\0b", 3));
	ASSERT_ERR(fields_finish(&b, &f), JIT_E_FORMAT);
	ASSERT(f == NULL);

	ASSERT_OK(secret_from(in, sizeof(in), &f));
	ASSERT_ERR(fields_validate(f, NULL), JIT_E_FORMAT);
	secret_free(f);
}

/* Every proper prefix of a valid encoding is refused, so is any excess. */
TEST(truncated_refused)
{
	struct fields_builder b;
	struct secret *f = NULL, *t;
	struct field x;
	size_t len, i;
	uint8_t *p;

	ASSERT_OK(fields_begin(&b));
	ASSERT_OK(add_str(&b, "user", "alice"));
	ASSERT_OK(add_str(&b, "password", "s3cret"));
	ASSERT_OK(fields_finish(&b, &f));
	len = secret_len(f);
	p = secret_ptr(f);
	for (i = 0; i < len; i++) {
		ASSERT_OK(secret_from(p, i, &t));
		ASSERT_MSG(fields_validate(t, NULL) == JIT_E_FORMAT,
		    "a %zu-byte prefix of %zu validates", i, len);
		/* Lookups on it fail cleanly, they do not read past it. */
		ASSERT(fields_get(t, "password", &x) != JIT_OK);
		secret_free(t);
	}
	{
		uint8_t more[256];

		ASSERT(len + 1 <= sizeof(more));
		memcpy(more, p, len);
		more[len] = 0;
		ASSERT_OK(secret_from(more, len + 1, &t));
		ASSERT_ERR(fields_validate(t, NULL), JIT_E_FORMAT);
		secret_free(t);
	}
	/* A length field pointing past the end. */
	{
		uint8_t bad[64];

		ASSERT(len <= sizeof(bad));
		memcpy(bad, p, len);
		bad[4 + 3] = 0x7f; /* first name's length */
		ASSERT_OK(secret_from(bad, len, &t));
		ASSERT_ERR(fields_validate(t, NULL), JIT_E_FORMAT);
		ASSERT(fields_get(t, "user", &x) != JIT_OK);
		secret_free(t);
	}
	secret_free(f);
}

/* fields_abort throws a half-built encoding away. */
TEST(abort_resets)
{
	struct secret_stats before, after;
	struct fields_builder b;

	secret_stats(&before);
	ASSERT_OK(fields_begin(&b));
	ASSERT_OK(add_str(&b, "a", "b"));
	fields_abort(&b);
	ASSERT_EQ_UINT(b.n, 0);
	ASSERT_EQ_UINT(wire_writer_len(&b.w), 0);
	fields_abort(&b); /* twice is fine */
	secret_stats(&after);
	ASSERT_EQ_UINT(after.live, before.live);
}

static const struct test_case tests[] = {
	TEST_ENTRY(builder_round_trip),
	TEST_ENTRY(encoding_layout),
	TEST_ENTRY(duplicates_refused),
	TEST_ENTRY(invalid_names_refused),
	TEST_ENTRY(count_limit),
	TEST_ENTRY(size_limits),
	TEST_ENTRY(failed_add_keeps_encoding),
	TEST_ENTRY(validate_total_limit),
	TEST_ENTRY(nul_in_value_refused),
	TEST_ENTRY(truncated_refused),
	TEST_ENTRY(abort_resets),
};

TEST_MAIN(tests)
