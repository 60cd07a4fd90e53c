/* libFuzzer harness: a credential's fields encoding, as fields.c reads it. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "fields.h"
#include "secret.h"

#define FUZZ_NAME "fuzz-fields"
#include "fuzz.h"

/*
 * The input goes into guarded memory and through fields_validate().  When
 * it validates, every rule of fields.h must hold for what the iterator
 * yields, fields_get() must find each name at its own value, and building
 * the same fields again must give back exactly the input (the encoding is
 * canonical).  When it does not validate, the iterator and fields_get()
 * must still stop cleanly inside the input.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
inside(const struct secret *f, const uint8_t *p, size_t n)
{
	const uint8_t *base = secret_ptr(f);

	return p >= base && n <= secret_len(f) &&
	    (size_t)(p - base) <= secret_len(f) - n;
}

static void
check_valid(const struct secret *f, uint32_t count)
{
	struct fields_builder b;
	struct fields_iter it;
	struct secret *again = NULL;
	struct field x, y;
	char name[FIELD_NAME_MAX + 1];
	uint32_t seen = 0;
	int r;

	CHECK(count >= 1 && count <= FIELDS_MAX);
	/* The builder's total cap is a rule too (see test-fields.c). */
	CHECK(secret_len(f) <= FIELDS_TOTAL_MAX);
	CHECK(fields_begin(&b) == 0);
	CHECK(fields_iter_init(&it, f) == 0);
	while ((r = fields_next(&it, &x)) == 1) {
		seen++;
		CHECK(inside(f, x.name, x.namelen));
		CHECK(inside(f, x.val, x.vallen));
		CHECK(fields_valid_name(x.name, x.namelen));
		CHECK(x.vallen <= FIELD_VALUE_MAX);
		CHECK(memchr(x.val, '\0', x.vallen) == NULL);
		memcpy(name, x.name, x.namelen);
		name[x.namelen] = '\0';
		CHECK(fields_get(f, name, &y) == 0);
		CHECK(y.val == x.val && y.vallen == x.vallen);
		CHECK(fields_add(&b, name, x.namelen, x.val, x.vallen) == 0);
	}
	CHECK(r == 0);
	CHECK(seen == count);
	CHECK(fields_get(f, "no such field, spaces are invalid", &y) ==
	    JIT_E_NOENT);
	CHECK(fields_finish(&b, &again) == 0);
	CHECK(secret_equal(f, again));
	secret_free(again);
}

static void
check_invalid(const struct secret *f, int vr)
{
	struct fields_iter it;
	struct field x;
	size_t steps = 0;
	int r;

	CHECK(vr == JIT_E_FORMAT || vr == JIT_E_LIMIT || vr == JIT_E_EXISTS);
	if (fields_iter_init(&it, f) != 0)
		return;
	while ((r = fields_next(&it, &x)) == 1) {
		CHECK(inside(f, x.name, x.namelen));
		CHECK(inside(f, x.val, x.vallen));
		CHECK(++steps <= secret_len(f)); /* it ends */
	}
	CHECK(r == 0 || r == JIT_E_FORMAT);
	r = fields_get(f, "secret", &x);
	CHECK(r == 0 || r == JIT_E_NOENT || r == JIT_E_FORMAT);
	if (r == 0)
		CHECK(inside(f, x.val, x.vallen));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct secret_stats before, after;
	struct secret *f;
	uint32_t count = 0;
	int r;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		ready = true;
	}
	if (size > SECRET_MAX)
		return 0;
	secret_stats(&before);
	CHECK(secret_from(data, size, &f) == 0);
	if ((r = fields_validate(f, &count)) == 0)
		check_valid(f, count);
	else
		check_invalid(f, r);
	secret_free(f);
	secret_stats(&after);
	CHECK(after.live == before.live);
	return 0;
}
