/* Unit tests of lib/wire.c: bounds, limits, NULs and the capped writers. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "err.h"
#include "secret.h"
#include "wire.h"

/* Every getter, given too few bytes, refuses and leaves the cursor alone. */
TEST(getters_refuse_short_input)
{
	uint8_t buf[16], u8 = 0, out[16];
	uint16_t u16 = 0;
	uint32_t u32 = 0;
	uint64_t u64 = 0;
	bool b = false;
	struct wire_reader r, sub;
	const uint8_t *p;
	struct secret *s = NULL;
	char *cs = NULL;
	size_t n, have, lead;

	memset(buf, 0xee, sizeof(buf));
	/* lead = bytes consumed before the test, so the cursor is not at 0. */
	for (lead = 0; lead < 2; lead++) {
		for (have = 0; have < 8; have++) {
			wire_reader_init(&r, buf, lead + have);
			ASSERT_OK(wire_skip(&r, lead));
			if (have < 1) {
				ASSERT_ERR(wire_get_u8(&r, &u8), JIT_E_FORMAT);
				ASSERT_ERR(wire_peek_u8(&r, &u8), JIT_E_FORMAT);
				ASSERT_ERR(wire_get_bool(&r, &b), JIT_E_FORMAT);
				ASSERT_EQ_UINT(wire_left(&r), have);
			}
			if (have < 2) {
				ASSERT_ERR(
				    wire_get_u16(&r, &u16), JIT_E_FORMAT);
				ASSERT_EQ_UINT(wire_left(&r), have);
			}
			if (have < 4) {
				ASSERT_ERR(
				    wire_get_u32(&r, &u32), JIT_E_FORMAT);
				ASSERT_EQ_UINT(wire_left(&r), have);
				ASSERT_ERR(wire_get_string(&r, 100, &p, &n),
				    JIT_E_FORMAT);
				ASSERT_EQ_UINT(wire_left(&r), have);
				ASSERT_ERR(wire_get_cstring(&r, 100, &cs),
				    JIT_E_FORMAT);
				ASSERT_EQ_UINT(wire_left(&r), have);
				ASSERT_ERR(
				    wire_get_secret(&r, 100, &s), JIT_E_FORMAT);
				ASSERT_EQ_UINT(wire_left(&r), have);
				ASSERT_ERR(
				    wire_get_sub(&r, 100, &sub), JIT_E_FORMAT);
				ASSERT_EQ_UINT(wire_left(&r), have);
			}
			/* u64 may read its first half and then fail. */
			ASSERT_ERR(wire_get_u64(&r, &u64), JIT_E_FORMAT);
			ASSERT_EQ_UINT(wire_left(&r), have);
			ASSERT_ERR(
			    wire_get_bytes(&r, out, have + 1), JIT_E_FORMAT);
			ASSERT_EQ_UINT(wire_left(&r), have);
			ASSERT_ERR(wire_skip(&r, have + 1), JIT_E_FORMAT);
			ASSERT_EQ_UINT(wire_left(&r), have);
			ASSERT_EQ_UINT(wire_left(&r), have);
		}
	}
	ASSERT(s == NULL);
	ASSERT(cs == NULL);
}

/* A string whose length prefix promises more than is there. */
TEST(string_longer_than_input)
{
	static const uint8_t in[] = { 0, 0, 0, 5, 'a', 'b', 'c', 'd' };
	struct wire_reader r, sub;
	struct secret *s = NULL;
	const uint8_t *p;
	char *cs = NULL;
	size_t n;

	wire_reader_init(&r, in, sizeof(in));
	ASSERT_ERR(wire_get_string(&r, 100, &p, &n), JIT_E_FORMAT);
	ASSERT_ERR(wire_get_cstring(&r, 100, &cs), JIT_E_FORMAT);
	ASSERT_ERR(wire_get_secret(&r, 100, &s), JIT_E_FORMAT);
	ASSERT_ERR(wire_get_sub(&r, 100, &sub), JIT_E_FORMAT);
	ASSERT_EQ_UINT(wire_left(&r), sizeof(in));
	ASSERT(s == NULL && cs == NULL);
	/* A huge length is a format error or a limit, never a read. */
	{
		static const uint8_t big[] = { 0xff, 0xff, 0xff, 0xff, 'x' };

		wire_reader_init(&r, big, sizeof(big));
		ASSERT_ERR(wire_get_string(&r, SIZE_MAX, &p, &n), JIT_E_FORMAT);
		ASSERT_ERR(wire_get_string(&r, 1, &p, &n), JIT_E_LIMIT);
		ASSERT_EQ_UINT(wire_left(&r), sizeof(big));
	}
}

/* Strings over the caller's maximum are JIT_E_LIMIT; at it they pass. */
TEST(string_max)
{
	static const uint8_t in[] = { 0, 0, 0, 4, 'a', 'b', 'c', 'd' };
	struct wire_reader r, sub;
	struct secret *s = NULL;
	const uint8_t *p;
	char *cs = NULL;
	size_t n;

	wire_reader_init(&r, in, sizeof(in));
	ASSERT_ERR(wire_get_string(&r, 3, &p, &n), JIT_E_LIMIT);
	ASSERT_ERR(wire_get_cstring(&r, 3, &cs), JIT_E_LIMIT);
	ASSERT_ERR(wire_get_secret(&r, 3, &s), JIT_E_LIMIT);
	ASSERT_ERR(wire_get_sub(&r, 3, &sub), JIT_E_LIMIT);
	ASSERT_ERR(wire_get_string(&r, 0, &p, &n), JIT_E_LIMIT);
	ASSERT_EQ_UINT(wire_left(&r), sizeof(in));
	ASSERT(s == NULL && cs == NULL);

	ASSERT_OK(wire_get_string(&r, 4, &p, &n));
	ASSERT_EQ_UINT(n, 4);
	ASSERT(p == in + 4); /* no copy */
	ASSERT_OK(wire_end(&r));

	wire_reader_init(&r, in, sizeof(in));
	ASSERT_OK(wire_get_cstring(&r, 4, &cs));
	ASSERT_EQ_STR(cs, "abcd");
	free(cs);
	ASSERT_OK(wire_end(&r));

	wire_reader_init(&r, in, sizeof(in));
	ASSERT_OK(wire_get_secret(&r, 4, &s));
	ASSERT_EQ_UINT(secret_len(s), 4);
	ASSERT_EQ_MEM(secret_ptr(s), "abcd", 4);
	secret_free(s);
	ASSERT_OK(wire_end(&r));

	wire_reader_init(&r, in, sizeof(in));
	ASSERT_OK(wire_get_sub(&r, 4, &sub));
	ASSERT_OK(wire_end(&r));
	ASSERT_EQ_UINT(wire_left(&sub), 4);
	/* The nested reader stops at its own end. */
	ASSERT_OK(wire_skip(&sub, 4));
	ASSERT_ERR(wire_skip(&sub, 1), JIT_E_FORMAT);
}

/* A C string with an embedded NUL is refused; empty is fine. */
TEST(cstring_embedded_nul)
{
	static const uint8_t nul_mid[] = { 0, 0, 0, 3, 'a', 0, 'b' };
	static const uint8_t nul_end[] = { 0, 0, 0, 2, 'a', 0 };
	static const uint8_t nul_only[] = { 0, 0, 0, 1, 0 };
	static const uint8_t empty[] = { 0, 0, 0, 0 };
	struct wire_reader r;
	char *cs = NULL;

	wire_reader_init(&r, nul_mid, sizeof(nul_mid));
	ASSERT_ERR(wire_get_cstring(&r, 100, &cs), JIT_E_FORMAT);
	ASSERT_EQ_UINT(wire_left(&r), sizeof(nul_mid));
	wire_reader_init(&r, nul_end, sizeof(nul_end));
	ASSERT_ERR(wire_get_cstring(&r, 100, &cs), JIT_E_FORMAT);
	ASSERT_EQ_UINT(wire_left(&r), sizeof(nul_end));
	wire_reader_init(&r, nul_only, sizeof(nul_only));
	ASSERT_ERR(wire_get_cstring(&r, 100, &cs), JIT_E_FORMAT);
	ASSERT_EQ_UINT(wire_left(&r), sizeof(nul_only));
	ASSERT(cs == NULL);

	wire_reader_init(&r, empty, sizeof(empty));
	ASSERT_OK(wire_get_cstring(&r, 100, &cs));
	ASSERT(cs != NULL);
	ASSERT_EQ_STR(cs, "");
	free(cs);
	ASSERT_OK(wire_end(&r));
}

/* wire_end refuses any trailing byte. */
TEST(end_refuses_trailing)
{
	static const uint8_t in[] = { 1, 2, 3 };
	struct wire_reader r;
	uint8_t v;

	wire_reader_init(&r, in, sizeof(in));
	ASSERT_ERR(wire_end(&r), JIT_E_FORMAT);
	ASSERT_OK(wire_get_u8(&r, &v));
	ASSERT_OK(wire_get_u8(&r, &v));
	ASSERT_ERR(wire_end(&r), JIT_E_FORMAT);
	ASSERT_OK(wire_get_u8(&r, &v));
	ASSERT_EQ_UINT(v, 3);
	ASSERT_OK(wire_end(&r));

	wire_reader_init(&r, NULL, 10); /* NULL input has no bytes */
	ASSERT_EQ_UINT(wire_left(&r), 0);
	ASSERT_OK(wire_end(&r));
}

/* Booleans are exactly 0 or 1. */
TEST(bool_values)
{
	static const uint8_t in[] = { 0, 1, 2 };
	struct wire_reader r;
	bool b;

	wire_reader_init(&r, in, sizeof(in));
	ASSERT_OK(wire_get_bool(&r, &b));
	ASSERT(!b);
	ASSERT_OK(wire_get_bool(&r, &b));
	ASSERT(b);
	ASSERT_ERR(wire_get_bool(&r, &b), JIT_E_FORMAT);
	ASSERT_EQ_UINT(wire_left(&r), 1);
}

/* Integers are big-endian on the wire and round-trip exactly. */
TEST(integers_big_endian)
{
	/* clang-format off */
	static const uint8_t want[] = {
		0x01, 0x02, 0x03, 0x04,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
		0x00, 0x00, 0x00, 0x00,
		0x7f, 0x01,
		0x01, 0x02,
		0xff, 0xfe,
		0x00, 0x00,
	};
	/* clang-format on */
	struct wire_writer w;
	struct wire_reader r;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	uint8_t u8;
	bool b;

	wire_writer_init(&w, 1024, false);
	ASSERT_OK(wire_put_u32(&w, 0x01020304));
	ASSERT_OK(wire_put_u64(&w, 0x0102030405060708ULL));
	ASSERT_OK(wire_put_u32(&w, UINT32_MAX));
	ASSERT_OK(wire_put_u64(&w, UINT64_MAX - 1));
	ASSERT_OK(wire_put_u32(&w, 0));
	ASSERT_OK(wire_put_u8(&w, 0x7f));
	ASSERT_OK(wire_put_bool(&w, true));
	ASSERT_OK(wire_put_u16(&w, 0x0102));
	ASSERT_OK(wire_put_u16(&w, UINT16_MAX - 1));
	ASSERT_OK(wire_put_u16(&w, 0));
	ASSERT_EQ_UINT(wire_writer_len(&w), sizeof(want));
	ASSERT_EQ_MEM(wire_writer_data(&w), want, sizeof(want));

	wire_reader_init(&r, wire_writer_data(&w), wire_writer_len(&w));
	ASSERT_OK(wire_get_u32(&r, &u32));
	ASSERT_EQ_UINT(u32, 0x01020304);
	ASSERT_OK(wire_get_u64(&r, &u64));
	ASSERT_EQ_UINT(u64, 0x0102030405060708ULL);
	ASSERT_OK(wire_get_u32(&r, &u32));
	ASSERT_EQ_UINT(u32, UINT32_MAX);
	ASSERT_OK(wire_get_u64(&r, &u64));
	ASSERT_EQ_UINT(u64, UINT64_MAX - 1);
	ASSERT_OK(wire_get_u32(&r, &u32));
	ASSERT_EQ_UINT(u32, 0);
	ASSERT_OK(wire_peek_u8(&r, &u8));
	ASSERT_EQ_UINT(u8, 0x7f);
	ASSERT_EQ_UINT(
	    wire_left(&r), sizeof(want) - 28); /* peek does not move */
	ASSERT_OK(wire_get_u8(&r, &u8));
	ASSERT_EQ_UINT(u8, 0x7f);
	ASSERT_OK(wire_get_bool(&r, &b));
	ASSERT(b);
	ASSERT_OK(wire_get_u16(&r, &u16));
	ASSERT_EQ_UINT(u16, 0x0102);
	ASSERT_OK(wire_get_u16(&r, &u16));
	ASSERT_EQ_UINT(u16, UINT16_MAX - 1);
	ASSERT_OK(wire_get_u16(&r, &u16));
	ASSERT_EQ_UINT(u16, 0);
	ASSERT_OK(wire_end(&r));
	wire_writer_reset(&w);
}

/* Strings written are read back with the same bytes. */
TEST(string_round_trip)
{
	static const uint8_t bin[] = { 0, 1, 2, 0xff };
	struct wire_writer w;
	struct wire_reader r;
	const uint8_t *p;
	char *cs;
	size_t n;

	wire_writer_init(&w, 1024, false);
	ASSERT_OK(wire_put_cstring(&w, "hello"));
	ASSERT_OK(wire_put_string(&w, bin, sizeof(bin)));
	ASSERT_OK(wire_put_cstring(&w, NULL)); /* an empty string */
	ASSERT_OK(wire_put_string(&w, NULL, 0));
	ASSERT_EQ_UINT(wire_writer_len(&w), 4 + 5 + 4 + 4 + 4 + 4);
	ASSERT_EQ_MEM(wire_writer_data(&w), "\0\0\0\5hello", 9);

	wire_reader_init(&r, wire_writer_data(&w), wire_writer_len(&w));
	ASSERT_OK(wire_get_cstring(&r, 5, &cs));
	ASSERT_EQ_STR(cs, "hello");
	free(cs);
	ASSERT_OK(wire_get_string(&r, 4, &p, &n));
	ASSERT_EQ_UINT(n, sizeof(bin));
	ASSERT_EQ_MEM(p, bin, sizeof(bin));
	ASSERT_OK(wire_get_string(&r, 0, &p, &n));
	ASSERT_EQ_UINT(n, 0);
	ASSERT_OK(wire_get_cstring(&r, 0, &cs));
	ASSERT_EQ_STR(cs, "");
	free(cs);
	ASSERT_OK(wire_end(&r));
	wire_writer_reset(&w);
}

/* The writer's cap is hard: a write that would pass it writes nothing. */
TEST(writer_cap)
{
	struct wire_writer w;
	uint8_t *d;

	wire_writer_init(&w, 8, false);
	ASSERT_OK(wire_put_u32(&w, 1));
	ASSERT_ERR(wire_put_u64(&w, 2), JIT_E_LIMIT);
	ASSERT_EQ_UINT(wire_writer_len(&w), 4);
	ASSERT_ERR(wire_put_string(&w, "a", 1), JIT_E_LIMIT);
	ASSERT_EQ_UINT(wire_writer_len(&w), 4);
	ASSERT_ERR(wire_put_bytes(&w, "12345", 5), JIT_E_LIMIT);
	ASSERT_EQ_UINT(wire_writer_len(&w), 4);
	ASSERT_ERR(wire_reserve(&w, 5, &d), JIT_E_LIMIT);
	ASSERT_EQ_UINT(wire_writer_len(&w), 4);
	ASSERT_ERR(wire_reserve(&w, SIZE_MAX, &d), JIT_E_LIMIT);
	ASSERT_EQ_UINT(wire_writer_len(&w), 4);
	ASSERT_OK(wire_put_string(&w, NULL, 0)); /* exactly at the cap */
	ASSERT_EQ_UINT(wire_writer_len(&w), 8);
	ASSERT_ERR(wire_put_u8(&w, 0), JIT_E_LIMIT);
	ASSERT_ERR(wire_put_u16(&w, 0), JIT_E_LIMIT);
	ASSERT_ERR(wire_put_bool(&w, true), JIT_E_LIMIT);
	ASSERT_ERR(wire_put_cstring(&w, ""), JIT_E_LIMIT);
	ASSERT_EQ_UINT(wire_writer_len(&w), 8);
	ASSERT_EQ_MEM(wire_writer_data(&w), "\0\0\0\1\0\0\0\0", 8);
	wire_writer_reset(&w);
	ASSERT_EQ_UINT(wire_writer_len(&w), 0);
	/* reset keeps the cap */
	ASSERT_OK(wire_put_u64(&w, 7));
	ASSERT_ERR(wire_put_u8(&w, 0), JIT_E_LIMIT);
	wire_writer_reset(&w);

	/* A secure writer has the same cap. */
	wire_writer_init(&w, 3, true);
	ASSERT_ERR(wire_put_u32(&w, 1), JIT_E_LIMIT);
	ASSERT_EQ_UINT(wire_writer_len(&w), 0);
	ASSERT_OK(wire_put_bytes(&w, "ab", 2));
	ASSERT_ERR(wire_put_u16(&w, 1), JIT_E_LIMIT);
	ASSERT_EQ_UINT(wire_writer_len(&w), 2);
	ASSERT_OK(wire_put_u8(&w, 'c'));
	ASSERT_ERR(wire_put_u8(&w, 1), JIT_E_LIMIT);
	wire_writer_reset(&w);
}

/* Patching a u32 in place: inside the written bytes only. */
TEST(writer_patch)
{
	struct wire_writer w;

	wire_writer_init(&w, 64, false);
	ASSERT_OK(wire_put_u32(&w, 0));
	ASSERT_OK(wire_put_u8(&w, 9));
	ASSERT_OK(wire_patch_u32(&w, 0, 0xa1b2c3d4));
	ASSERT_EQ_MEM(wire_writer_data(&w), "\xa1\xb2\xc3\xd4\x09", 5);
	ASSERT_OK(wire_patch_u32(&w, 1, 0x01020304));
	ASSERT_EQ_MEM(wire_writer_data(&w), "\xa1\x01\x02\x03\x04", 5);
	ASSERT_ERR(wire_patch_u32(&w, 2, 1), JIT_E_ARG);
	ASSERT_ERR(wire_patch_u32(&w, 5, 1), JIT_E_ARG);
	ASSERT_ERR(wire_patch_u32(&w, SIZE_MAX, 1), JIT_E_ARG);
	ASSERT_EQ_MEM(wire_writer_data(&w), "\xa1\x01\x02\x03\x04", 5);
	wire_writer_reset(&w);
}

/* A secure writer that grows keeps every byte, in guarded memory. */
TEST(secure_writer_growth)
{
	struct secret_stats before, after;
	struct wire_writer w;
	struct secret *s = NULL;
	uint8_t chunk[333];
	const uint8_t *last = NULL;
	size_t i, k, caps = 0;

	secret_stats(&before);
	wire_writer_init(&w, 64 * 1024, true);
	for (k = 0; k < 150; k++) {
		for (i = 0; i < sizeof(chunk); i++)
			chunk[i] = (uint8_t)(k * 7 + i);
		ASSERT_OK(wire_put_bytes(&w, chunk, sizeof(chunk)));
		/* One guarded region holds it, however often it grew. */
		secret_stats(&after);
		ASSERT_EQ_UINT(after.live, before.live + 1);
		if (wire_writer_data(&w) != last) {
			caps++;
			last = wire_writer_data(&w);
		}
		/* Everything written so far is still there. */
		for (size_t j = 0; j <= k; j++)
			for (i = 0; i < sizeof(chunk); i++)
				ASSERT_MSG(wire_writer_data(
					       &w)[j * sizeof(chunk) + i] ==
					(uint8_t)(j * 7 + i),
				    "byte %zu of chunk %zu lost after %zu "
				    "growths",
				    i, j, caps);
	}
	ASSERT(caps >= 4); /* it did grow several times */
	ASSERT_EQ_UINT(wire_writer_len(&w), 150 * sizeof(chunk));
	/* Old regions were released (wiped) as it grew. */
	secret_stats(&after);
	ASSERT_EQ_UINT(after.live, before.live + 1);
	ASSERT_OK(wire_writer_take_secret(&w, &s));
	ASSERT_EQ_UINT(secret_len(s), 150 * sizeof(chunk));
	ASSERT_EQ_UINT(
	    secret_ptr(s)[sizeof(chunk) * 149 + 5], (uint8_t)(149 * 7 + 5));
	ASSERT_EQ_UINT(wire_writer_len(&w), 0);
	secret_stats(&after);
	ASSERT_EQ_UINT(after.live, before.live + 1); /* the taken one only */
	secret_free(s);
	secret_stats(&after);
	ASSERT_EQ_UINT(after.live, before.live);

	/* Past the cap a secure writer fails without losing what it had. */
	wire_writer_init(&w, 1000, true);
	ASSERT_OK(wire_put_bytes(&w, chunk, 333));
	ASSERT_OK(wire_put_bytes(&w, chunk, 333));
	ASSERT_OK(wire_put_bytes(&w, chunk, 333));
	ASSERT_ERR(wire_put_bytes(&w, chunk, 2), JIT_E_LIMIT);
	ASSERT_EQ_UINT(wire_writer_len(&w), 999);
	ASSERT_EQ_MEM(wire_writer_data(&w) + 666, chunk, 333);
	wire_writer_reset(&w);
	secret_stats(&after);
	ASSERT_EQ_UINT(after.live, before.live);
}

/* consume drops bytes from the front and wipes what it frees. */
static void
check_consume(bool secure)
{
	struct wire_writer w;
	uint8_t *d;

	wire_writer_init(&w, 1024, secure);
	ASSERT_OK(wire_put_bytes(&w, "abcdef", 6));
	wire_writer_consume(&w, 2);
	ASSERT_EQ_UINT(wire_writer_len(&w), 4);
	ASSERT_EQ_MEM(wire_writer_data(&w), "cdef", 4);
	/* The two bytes past the end that held "ef" are wiped: the buffer
	 * did not move, and reserving hands them out again. */
	ASSERT_OK(wire_reserve(&w, 2, &d));
	ASSERT(d == wire_writer_data(&w) + 4);
	ASSERT_EQ_MEM(d, "\0\0", 2);
	wire_writer_truncate(&w, 4);
	wire_writer_consume(&w, 0);
	ASSERT_EQ_UINT(wire_writer_len(&w), 4);
	ASSERT_EQ_MEM(wire_writer_data(&w), "cdef", 4);
	ASSERT_OK(wire_put_bytes(&w, "gh", 2));
	ASSERT_EQ_MEM(wire_writer_data(&w), "cdefgh", 6);
	wire_writer_consume(&w, 6);
	ASSERT_EQ_UINT(wire_writer_len(&w), 0);
	ASSERT_OK(wire_reserve(&w, 6, &d));
	ASSERT_EQ_MEM(d, "\0\0\0\0\0\0", 6);
	wire_writer_truncate(&w, 0);
	ASSERT_OK(wire_put_bytes(&w, "xyz", 3));
	wire_writer_consume(&w, 100); /* more than there is */
	ASSERT_EQ_UINT(wire_writer_len(&w), 0);
	ASSERT_OK(wire_reserve(&w, 3, &d));
	ASSERT_EQ_MEM(d, "\0\0\0", 3);
	wire_writer_reset(&w);

	wire_writer_init(&w, 16, secure);
	wire_writer_consume(&w, 5); /* nothing there yet */
	ASSERT_EQ_UINT(wire_writer_len(&w), 0);
	wire_writer_reset(&w);
}

TEST(writer_consume)
{
	check_consume(false);
	ASSERT_PASSING();
	check_consume(true);
	ASSERT_PASSING();
}

/* take hands plain bytes over; take_secret hands guarded ones over. */
TEST(writer_take)
{
	struct secret_stats before, after;
	struct wire_writer w;
	struct secret *s = NULL;
	uint8_t *d = NULL;
	size_t n = 99;

	secret_stats(&before);
	wire_writer_init(&w, 100, false);
	ASSERT_OK(wire_put_cstring(&w, "abc"));
	ASSERT_ERR(wire_writer_take_secret(&w, &s), JIT_E_ARG);
	ASSERT(s == NULL);
	ASSERT_EQ_UINT(wire_writer_len(&w), 7); /* a refused take leaves it */
	ASSERT_OK(wire_writer_take(&w, &d, &n));
	ASSERT_EQ_UINT(n, 7);
	ASSERT_EQ_MEM(d, "\0\0\0\3abc", 7);
	ASSERT_EQ_UINT(wire_writer_len(&w), 0);
	free(d);

	/* An empty writer still gives a valid pointer. */
	ASSERT_OK(wire_writer_take(&w, &d, &n));
	ASSERT(d != NULL);
	ASSERT_EQ_UINT(n, 0);
	free(d);
	/* It keeps its cap. */
	ASSERT_OK(wire_reserve(&w, 100, &d));
	ASSERT_ERR(wire_put_u8(&w, 0), JIT_E_LIMIT);
	wire_writer_reset(&w);

	wire_writer_init(&w, 100, true);
	ASSERT_OK(wire_put_bytes(&w, "secret", 6));
	d = NULL;
	ASSERT_ERR(wire_writer_take(&w, &d, &n), JIT_E_ARG);
	ASSERT(d == NULL);
	ASSERT_OK(wire_writer_take_secret(&w, &s));
	ASSERT_EQ_UINT(secret_len(s), 6); /* exactly len visible */
	ASSERT_EQ_MEM(secret_ptr(s), "secret", 6);
	ASSERT_EQ_UINT(wire_writer_len(&w), 0);
	ASSERT_ERR(wire_writer_take(&w, &d, &n), JIT_E_ARG); /* still secure */
	secret_free(s);

	s = NULL;
	ASSERT_OK(wire_writer_take_secret(&w, &s)); /* empty */
	ASSERT(s != NULL);
	ASSERT_EQ_UINT(secret_len(s), 0);
	secret_free(s);
	secret_stats(&after);
	ASSERT_EQ_UINT(after.live, before.live);
}

/*
 * Zero-length writes to a writer that has nothing yet succeed and write
 * nothing, with no arithmetic on its NULL buffer (clang's UBSan stops at
 * that; found by fuzz-wire: corpus/wire/crash-put-bytes-zero-on-empty).
 */
TEST(zero_length_on_empty_writer)
{
	struct wire_writer w;
	uint8_t *d = NULL;

	wire_writer_init(&w, 16, false);
	ASSERT_OK(wire_put_bytes(&w, "", 0));
	ASSERT_OK(wire_reserve(&w, 0, &d));
	ASSERT_EQ_UINT(wire_writer_len(&w), 0);
	wire_writer_reset(&w);
	wire_writer_init(&w, 16, true);
	ASSERT_OK(wire_put_bytes(&w, "", 0));
	ASSERT_EQ_UINT(wire_writer_len(&w), 0);
	wire_writer_reset(&w);
}

/* wire_cursor points at the next unread byte. */
TEST(reader_cursor)
{
	static const uint8_t in[] = { 9, 8, 7, 6 };
	struct wire_reader r;
	uint8_t two[2];

	wire_reader_init(&r, in, sizeof(in));
	ASSERT(wire_cursor(&r) == in);
	ASSERT_OK(wire_get_bytes(&r, two, 2));
	ASSERT_EQ_MEM(two, in, 2);
	ASSERT(wire_cursor(&r) == in + 2);
	ASSERT_EQ_UINT(wire_left(&r), 2);
	ASSERT_OK(wire_get_bytes(&r, two, 0));
	ASSERT_EQ_UINT(wire_left(&r), 2);
}

/* Lines: up to '\n', which is eaten; the last may lack one. */
TEST(line_reader)
{
	static const char in[] = "one\n\ntwo\r\nlast";
	struct wire_reader r;
	const uint8_t *p;
	size_t n;
	bool ended = false;

	wire_reader_init(&r, in, sizeof(in) - 1);
	ASSERT_OK(wire_get_line(&r, 100, &p, &n, &ended));
	ASSERT_EQ_UINT(n, 3);
	ASSERT(p == (const uint8_t *)in); /* no copy */
	ASSERT(ended);
	ASSERT_OK(wire_get_line(&r, 100, &p, &n, &ended));
	ASSERT_EQ_UINT(n, 0); /* an empty line is a line */
	ASSERT(ended);
	ASSERT_OK(wire_get_line(&r, 100, &p, &n, NULL));
	ASSERT_EQ_UINT(n, 4);
	ASSERT_EQ_MEM(p, "two\r", 4); /* a CR is the caller's */
	ASSERT_OK(wire_get_line(&r, 100, &p, &n, &ended));
	ASSERT_EQ_UINT(n, 4);
	ASSERT_EQ_MEM(p, "last", 4);
	ASSERT(!ended); /* no newline at the end */
	ASSERT_OK(wire_end(&r));
	/* Nothing left: no line, not even an empty one. */
	ASSERT_ERR(wire_get_line(&r, 100, &p, &n, &ended), JIT_E_FORMAT);
	ASSERT_ERR(wire_get_line_bytes(&r, 100, &p, &n, &ended), JIT_E_FORMAT);

	/* A lone newline is one empty line, ended. */
	wire_reader_init(&r, "\n", 1);
	ended = false;
	ASSERT_OK(wire_get_line(&r, 0, &p, &n, &ended));
	ASSERT_EQ_UINT(n, 0);
	ASSERT(ended);
	ASSERT_OK(wire_end(&r));

	/* A reader over nothing has no line. */
	wire_reader_init(&r, NULL, 0);
	ASSERT_ERR(wire_get_line(&r, 100, &p, &n, &ended), JIT_E_FORMAT);
}

/* The maximum counts the line's bytes, not its newline. */
TEST(line_reader_max)
{
	static const char in[] = "abcd\nabcde";
	struct wire_reader r;
	const uint8_t *p;
	size_t n;
	bool ended;

	wire_reader_init(&r, in, sizeof(in) - 1);
	ASSERT_ERR(wire_get_line(&r, 3, &p, &n, &ended), JIT_E_LIMIT);
	ASSERT_ERR(wire_get_line_bytes(&r, 3, &p, &n, &ended), JIT_E_LIMIT);
	ASSERT_ERR(wire_get_line(&r, 0, &p, &n, &ended), JIT_E_LIMIT);
	ASSERT_EQ_UINT(wire_left(&r), sizeof(in) - 1); /* unmoved */
	ASSERT_OK(wire_get_line(&r, 4, &p, &n, &ended));
	ASSERT_EQ_UINT(n, 4);
	ASSERT(ended);
	/* The last line, without a newline, is held to the same maximum. */
	ASSERT_ERR(wire_get_line(&r, 4, &p, &n, &ended), JIT_E_LIMIT);
	ASSERT_EQ_UINT(wire_left(&r), 5);
	ASSERT_OK(wire_get_line(&r, 5, &p, &n, &ended));
	ASSERT_EQ_UINT(n, 5);
	ASSERT(!ended);
	ASSERT_OK(wire_end(&r));

	/* No limit at all. */
	wire_reader_init(&r, in, sizeof(in) - 1);
	ASSERT_OK(wire_get_line(&r, SIZE_MAX, &p, &n, &ended));
	ASSERT_EQ_UINT(n, 4);
	ASSERT_OK(wire_get_line(&r, SIZE_MAX, &p, &n, &ended));
	ASSERT_EQ_UINT(n, 5);
	ASSERT(!ended);
}

/* A text line with a NUL is refused; the bytes variant lets it through. */
TEST(line_reader_nul)
{
	static const uint8_t in[] = { 'a', 0, 'b', '\n', 0, 0 };
	struct wire_reader r;
	const uint8_t *p;
	size_t n;
	bool ended;

	wire_reader_init(&r, in, sizeof(in));
	ASSERT_ERR(wire_get_line(&r, 100, &p, &n, &ended), JIT_E_FORMAT);
	ASSERT_EQ_UINT(wire_left(&r), sizeof(in));
	ASSERT_OK(wire_get_line_bytes(&r, 100, &p, &n, &ended));
	ASSERT_EQ_UINT(n, 3);
	ASSERT_EQ_MEM(p, "a\0b", 3);
	ASSERT(ended);
	/* The zeros a crash leaves at the end of a file. */
	ASSERT_ERR(wire_get_line(&r, 100, &p, &n, &ended), JIT_E_FORMAT);
	ASSERT_OK(wire_get_line_bytes(&r, 100, &p, &n, &ended));
	ASSERT_EQ_UINT(n, 2);
	ASSERT(!ended);
	ASSERT_OK(wire_end(&r));
	/* The limit is checked before the NUL. */
	wire_reader_init(&r, in, sizeof(in));
	ASSERT_ERR(wire_get_line(&r, 2, &p, &n, &ended), JIT_E_LIMIT);
}

/* expect consumes exactly the bytes given, or nothing. */
TEST(reader_expect)
{
	static const char in[] = "key=value";
	struct wire_reader r;

	wire_reader_init(&r, in, sizeof(in) - 1);
	ASSERT_ERR(wire_expect(&r, "kex", 3), JIT_E_FORMAT);
	ASSERT_ERR(wire_expect(&r, "key=value!", 10), JIT_E_FORMAT);
	ASSERT_EQ_UINT(wire_left(&r), 9);
	ASSERT_OK(wire_expect(&r, "", 0));
	ASSERT_OK(wire_expect(&r, "key", 3));
	ASSERT_OK(wire_expect(&r, "=", 1));
	ASSERT_EQ_UINT(wire_left(&r), 5);
	ASSERT_OK(wire_expect(&r, "value", 5));
	ASSERT_OK(wire_end(&r));
	ASSERT_ERR(wire_expect(&r, "x", 1), JIT_E_FORMAT);
}

/* Spans: skipped at the front, trimmed at the end, never a NUL. */
TEST(reader_spans)
{
	static const uint8_t in[] = { ' ', ' ', 'a', ' ', 0, ' ', '\r', ' ' };
	struct wire_reader r;
	uint8_t c;

	wire_reader_init(&r, in, sizeof(in));
	ASSERT_EQ_UINT(wire_skip_span(&r, "x"), 0);
	ASSERT_EQ_UINT(wire_skip_span(&r, " "), 2);
	ASSERT_OK(wire_peek_u8(&r, &c));
	ASSERT_EQ_UINT(c, 'a');
	/* At most max from the end, only bytes of the set. */
	ASSERT_EQ_UINT(wire_trim_end(&r, " ", 0), 0);
	ASSERT_EQ_UINT(wire_trim_end(&r, " ", 5), 1);
	ASSERT_EQ_UINT(wire_trim_end(&r, "\r ", 1), 1);
	ASSERT_EQ_UINT(wire_trim_end(&r, "\r ", 5), 1);
	/* A NUL is in no set (a C string's terminator is not a member). */
	ASSERT_EQ_UINT(wire_trim_end(&r, "\r ", 5), 0);
	ASSERT_EQ_UINT(wire_left(&r), 3);
	ASSERT_OK(wire_skip(&r, 1));
	ASSERT_EQ_UINT(wire_skip_span(&r, " "), 1);
	ASSERT_EQ_UINT(wire_skip_span(&r, " "), 0);
	ASSERT_EQ_UINT(wire_left(&r), 1);
	ASSERT_OK(wire_get_u8(&r, &c));
	ASSERT_EQ_UINT(c, 0);
	ASSERT_OK(wire_end(&r));
	/* Nothing left: nothing to skip or trim. */
	ASSERT_EQ_UINT(wire_skip_span(&r, " "), 0);
	ASSERT_EQ_UINT(wire_trim_end(&r, " ", 9), 0);

	/* Trimming everything leaves an empty reader. */
	wire_reader_init(&r, "  \r\n", 4);
	ASSERT_EQ_UINT(wire_trim_end(&r, " \r\n", SIZE_MAX), 4);
	ASSERT_OK(wire_end(&r));
}

/* until takes the bytes before a stop byte, perhaps none. */
TEST(reader_until)
{
	static const uint8_t in[] = { 's', 's', 'h', ' ', 'A', 0, 'B', '\t' };
	struct wire_reader r;
	const uint8_t *p = NULL;

	wire_reader_init(&r, in, sizeof(in));
	ASSERT_EQ_UINT(wire_get_until(&r, " \t", &p), 3);
	ASSERT(p == in);
	ASSERT_EQ_UINT(wire_get_until(&r, " \t", &p), 0); /* at a stop */
	ASSERT(p == in + 3);
	ASSERT_EQ_UINT(wire_skip_span(&r, " "), 1);
	/* A NUL is no stop byte. */
	ASSERT_EQ_UINT(wire_get_until(&r, " \t", &p), 3);
	ASSERT_EQ_MEM(p, "A\0B", 3);
	ASSERT_EQ_UINT(wire_get_until(&r, "x", &p), 1); /* to the end */
	ASSERT_OK(wire_end(&r));
	ASSERT_EQ_UINT(wire_get_until(&r, "x", &p), 0);
	wire_reader_init(&r, NULL, 0);
	ASSERT_EQ_UINT(wire_get_until(&r, "x", &p), 0);
}

/* The writer's bytes through its accessors; an empty one is not NULL. */
TEST(writer_accessors)
{
	struct wire_writer w;

	wire_writer_init(&w, 16, false);
	ASSERT_EQ_UINT(wire_writer_len(&w), 0);
	ASSERT(wire_writer_data(&w) != NULL);
	ASSERT_OK(wire_put_u16(&w, 0x4142));
	ASSERT_EQ_UINT(wire_writer_len(&w), 2);
	ASSERT_EQ_MEM(wire_writer_data(&w), "AB", 2);
	wire_writer_reset(&w);
	ASSERT_EQ_UINT(wire_writer_len(&w), 0);
	ASSERT(wire_writer_data(&w) != NULL);

	wire_writer_init(&w, 16, true);
	ASSERT(wire_writer_data(&w) != NULL);
	ASSERT_OK(wire_put_bytes(&w, "xyz", 3));
	ASSERT_EQ_UINT(wire_writer_len(&w), 3);
	ASSERT_EQ_MEM(wire_writer_data(&w), "xyz", 3);
	wire_writer_reset(&w);
}

/* truncate keeps a prefix and wipes the bytes it drops. */
static void
check_truncate(bool secure)
{
	struct wire_writer w;
	uint8_t *d;

	wire_writer_init(&w, 1024, secure);
	wire_writer_truncate(&w, 0); /* nothing there yet */
	ASSERT_EQ_UINT(wire_writer_len(&w), 0);
	ASSERT_OK(wire_put_bytes(&w, "abcdef", 6));
	wire_writer_truncate(&w, 6); /* not shorter: left alone */
	wire_writer_truncate(&w, 100);
	ASSERT_EQ_UINT(wire_writer_len(&w), 6);
	ASSERT_EQ_MEM(wire_writer_data(&w), "abcdef", 6);
	wire_writer_truncate(&w, 2);
	ASSERT_EQ_UINT(wire_writer_len(&w), 2);
	ASSERT_EQ_MEM(wire_writer_data(&w), "ab", 2);
	/* The same buffer is handed out again: the dropped bytes are zero. */
	ASSERT_OK(wire_reserve(&w, 4, &d));
	ASSERT(d == wire_writer_data(&w) + 2);
	ASSERT_EQ_MEM(d, "\0\0\0\0", 4);
	memcpy(d, "CDEF", 4);
	ASSERT_EQ_MEM(wire_writer_data(&w), "abCDEF", 6);
	wire_writer_truncate(&w, 0);
	ASSERT_EQ_UINT(wire_writer_len(&w), 0);
	ASSERT_OK(wire_reserve(&w, 6, &d));
	ASSERT_EQ_MEM(d, "\0\0\0\0\0\0", 6);
	wire_writer_reset(&w);
}

TEST(writer_truncate)
{
	check_truncate(false);
	ASSERT_PASSING();
	check_truncate(true);
	ASSERT_PASSING();
}

static const struct test_case tests[] = {
	TEST_ENTRY(getters_refuse_short_input),
	TEST_ENTRY(string_longer_than_input),
	TEST_ENTRY(string_max),
	TEST_ENTRY(cstring_embedded_nul),
	TEST_ENTRY(end_refuses_trailing),
	TEST_ENTRY(bool_values),
	TEST_ENTRY(integers_big_endian),
	TEST_ENTRY(string_round_trip),
	TEST_ENTRY(writer_cap),
	TEST_ENTRY(writer_patch),
	TEST_ENTRY(secure_writer_growth),
	TEST_ENTRY(writer_consume),
	TEST_ENTRY(writer_take),
	TEST_ENTRY(zero_length_on_empty_writer),
	TEST_ENTRY(reader_cursor),
	TEST_ENTRY(line_reader),
	TEST_ENTRY(line_reader_max),
	TEST_ENTRY(line_reader_nul),
	TEST_ENTRY(reader_expect),
	TEST_ENTRY(reader_spans),
	TEST_ENTRY(reader_until),
	TEST_ENTRY(writer_accessors),
	TEST_ENTRY(writer_truncate),
};

TEST_MAIN(tests)
