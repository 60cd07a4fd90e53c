/* libFuzzer harness: secret-carrying JSON, as lib/sjson.c parses it. */
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
#include "sjson.h"
#include "wire.h"

#define FUZZ_NAME "fuzz-sjson"
#include "fuzz.h"

/*
 * The input goes into guarded memory and through sjson_to_fields().  What
 * it accepts must be a valid fields encoding; written back as flat JSON
 * (dotted names as keys, values through sjson_put_string()) and parsed
 * again, it must give exactly the same encoding.  What it refuses must be
 * refused with one of the parser's codes, and nothing guarded may leak
 * either way.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fields as flat JSON, in a secure writer's guarded memory. */
static void
round_trip(const struct secret *f)
{
	struct wire_writer w;
	struct fields_iter it;
	struct secret *json = NULL, *again = NULL;
	struct field x;
	bool first = true;
	int r;

	wire_writer_init(&w, 8 * FIELDS_TOTAL_MAX, true);
	CHECK(wire_put_u8(&w, '{') == 0);
	CHECK(fields_iter_init(&it, f) == 0);
	while ((r = fields_next(&it, &x)) == 1) {
		if (!first)
			CHECK(wire_put_u8(&w, ',') == 0);
		first = false;
		CHECK(sjson_put_string(&w, x.name, x.namelen) == 0);
		CHECK(wire_put_u8(&w, ':') == 0);
		CHECK(sjson_put_string(&w, x.val, x.vallen) == 0);
	}
	CHECK(r == 0);
	CHECK(wire_put_u8(&w, '}') == 0);
	CHECK(wire_writer_take_secret(&w, &json) == 0);
	r = sjson_to_fields(json, &again);
	if (r != 0)
		fail("its own output refused (%s): %.*s", jit_errname(r),
		    (int)secret_len(json), (const char *)secret_ptr(json));
	CHECK(secret_equal(f, again));
	secret_free(again);
	secret_free(json);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct secret_stats before, after;
	struct secret *in, *f = NULL;
	uint32_t n;
	int r;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		ready = true;
	}
	if (size > SECRET_MAX)
		return 0;
	secret_stats(&before);
	CHECK(secret_from(data, size, &in) == 0);
	r = sjson_to_fields(in, &f);
	if (r == 0) {
		CHECK(fields_validate(f, &n) == 0);
		CHECK(n >= 1 && n <= FIELDS_MAX);
		/* The input was an object. */
		CHECK(size >= 2 && memchr(data, '{', size) != NULL);
		round_trip(f);
		secret_free(f);
	} else {
		CHECK(
		    r == JIT_E_FORMAT || r == JIT_E_LIMIT || r == JIT_E_EXISTS);
		CHECK(f == NULL);
	}
	secret_free(in);
	secret_stats(&after);
	CHECK(after.live == before.live);
	return 0;
}
