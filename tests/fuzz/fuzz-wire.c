/* libFuzzer harness: a script of lib/wire.c reads, and what they read. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "secret.h"
#include "wire.h"

#define FUZZ_NAME "fuzz-wire"
#include "fuzz.h"

/*
 * Each step reads an op byte from the input, then the op reads its
 * operands (a maximum, a count) and its value from the same input, so the
 * fuzzer controls lengths, maxima and contents together.  After every
 * call the harness checks wire.c's promises: on error the cursor has not
 * moved; on success it moved by exactly what was read, within the maximum,
 * and a C string has no NUL.  Whatever was read is written again, in its
 * canonical encoding, to a plain and to a secure writer with a cap chosen
 * by the input; the two must agree, and a refused write changes nothing.
 *
 * Op bytes below OP_TEXT are op % 14, as when the corpus was saved (255
 * is in it too, so it stays a bool); OP_TEXT and the two after it came
 * later: a text line, truncating the writers, and expect, the spans and
 * until.
 */

#define DEPTH_MAX 4
#define STEPS_MAX 4096
#define OP_TEXT 252 /* 252 line, 253 truncate, 254 expect, spans, until */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	struct wire_writer plain, secure;
	size_t cap; /* both writers' */
	size_t steps;
};

/* Both writers hold the same bytes. */
static void
same(const struct run *run)
{
	size_t n = wire_writer_len(&run->plain);

	CHECK(n == wire_writer_len(&run->secure));
	CHECK(n <= run->cap);
	CHECK(n == 0 ||
	    memcmp(wire_writer_data(&run->plain),
		wire_writer_data(&run->secure), n) == 0);
}

/* Append the same bytes to both writers; both must agree on the outcome. */
static void
mirror(struct run *run, const void *p, size_t n, bool as_string)
{
	size_t before = wire_writer_len(&run->plain);
	int rp, rs;

	if (as_string) {
		rp = wire_put_string(&run->plain, p, n);
		rs = wire_put_string(&run->secure, p, n);
	} else {
		rp = wire_put_bytes(&run->plain, p, n);
		rs = wire_put_bytes(&run->secure, p, n);
	}
	CHECK(rp == rs);
	if (rp != 0) {
		CHECK(rp == JIT_E_LIMIT);
		CHECK(wire_writer_len(&run->plain) == before);
	} else
		CHECK(wire_writer_len(&run->plain) ==
		    before + n + (as_string ? 4 : 0));
	same(run);
}

/* A maximum from one input byte: small ones, and unlimited. */
static size_t
max_of(uint8_t m)
{
	if (m == 0xff)
		return SIZE_MAX;
	return (size_t)m * 3;
}

static bool
in_set(const char *set, uint8_t c)
{
	return c != '\0' && strchr(set, c) != NULL;
}

/* A line: its bytes are the input's, up to a newline or the end. */
static void
line_step(struct run *run, struct wire_reader *r, uint8_t m)
{
	const uint8_t *at = wire_cursor(r), *p = NULL, *nl;
	size_t left = wire_left(r), n = 0, max;
	bool text = (m & 1) == 0, ended = false;
	int rc;

	max = (m >> 1) == 0x7f ? SIZE_MAX : (size_t)(m >> 1);
	if (text)
		rc = wire_get_line(r, max, &p, &n, &ended);
	else
		rc = wire_get_line_bytes(r, max, &p, &n, &ended);
	nl = left > 0 ? memchr(at, '\n', left) : NULL;
	if (rc == 0) {
		CHECK(p == at && n <= max);
		CHECK(memchr(p, '\n', n) == NULL);
		CHECK(!text || n == 0 || memchr(p, '\0', n) == NULL);
		CHECK(ended == (nl != NULL));
		CHECK(ended ? nl == at + n : n == left);
		CHECK(wire_left(r) == left - n - (ended ? 1 : 0));
		mirror(run, p, n, true);
		return;
	}
	CHECK(wire_left(r) == left);
	if (rc == JIT_E_LIMIT) {
		/* No newline within max + 1 bytes, and more than max left. */
		CHECK(left > max);
		CHECK(memchr(at, '\n', max + 1) == NULL);
	} else {
		CHECK(rc == JIT_E_FORMAT);
		/* Nothing left, or a NUL in a text line. */
		n = nl != NULL ? (size_t)(nl - at) : left;
		CHECK(left == 0 ||
		    (text && n <= max && memchr(at, '\0', n) != NULL));
	}
}

/* Cut both writers to m bytes; what is dropped is wiped. */
static void
truncate_step(struct run *run, uint8_t m)
{
	struct wire_writer *w[2] = { &run->plain, &run->secure };
	size_t n = wire_writer_len(&run->plain), keep = n < m ? n : m;
	uint8_t *d;

	for (int i = 0; i < 2; i++) {
		wire_writer_truncate(w[i], m);
		CHECK(wire_writer_len(w[i]) == keep);
		if (keep == n)
			continue;
		/* The buffer holds n bytes already: reserving them again
		 * hands out the same, wiped, memory. */
		CHECK(wire_reserve(w[i], n - keep, &d) == 0);
		CHECK(d == wire_writer_data(w[i]) + keep);
		for (size_t k = 0; k < n - keep; k++)
			CHECK(d[k] == 0);
		wire_writer_truncate(w[i], keep);
	}
	same(run);
}

/* expect a literal taken from the input, skip a span, take the bytes up
 * to a stop byte, trim the end. */
static void
span_step(struct run *run, struct wire_reader *r, uint8_t m)
{
	static const char *const sets[] = { " ", " \t", "\r\n", "a\n" };
	const char *set = sets[(m / 4) % 4];
	const uint8_t *at, *p;
	uint8_t lit[8];
	size_t left, n, k;
	int rc;

	switch (m % 4) {
	case 0:
		n = (m / 4) % sizeof(lit);
		if (wire_get_bytes(r, lit, n) != 0)
			return;
		at = wire_cursor(r);
		left = wire_left(r);
		rc = wire_expect(r, lit, n);
		if (rc == 0) {
			CHECK(left >= n && wire_left(r) == left - n);
			CHECK(n == 0 || memcmp(at, lit, n) == 0);
			mirror(run, lit, n, false);
		} else {
			CHECK(rc == JIT_E_FORMAT && wire_left(r) == left);
			CHECK(left < n || memcmp(at, lit, n) != 0);
		}
		return;
	case 1:
		at = wire_cursor(r);
		left = wire_left(r);
		k = wire_skip_span(r, set);
		CHECK(k <= left && wire_left(r) == left - k);
		for (n = 0; n < k; n++)
			CHECK(in_set(set, at[n]));
		CHECK(k == left || !in_set(set, at[k]));
		return;
	case 2:
		at = wire_cursor(r);
		left = wire_left(r);
		k = wire_get_until(r, set, &p);
		CHECK(p == at && k <= left && wire_left(r) == left - k);
		for (n = 0; n < k; n++)
			CHECK(!in_set(set, at[n]));
		CHECK(k == left || in_set(set, at[k]));
		mirror(run, p, k, true);
		return;
	default:
		at = wire_cursor(r);
		left = wire_left(r);
		n = m / 16;
		k = wire_trim_end(r, set, n);
		CHECK(k <= n && k <= left);
		CHECK(wire_cursor(r) == at && wire_left(r) == left - k);
		for (size_t i = left - k; i < left; i++)
			CHECK(in_set(set, at[i]));
		CHECK(k == n || k == left || !in_set(set, at[left - k - 1]));
		return;
	}
}

static void
text_step(struct run *run, struct wire_reader *r, uint8_t op)
{
	uint8_t m;

	if (wire_get_u8(r, &m) != 0)
		return;
	if (op == OP_TEXT)
		line_step(run, r, m);
	else if (op == OP_TEXT + 1)
		truncate_step(run, m);
	else if (op == OP_TEXT + 2)
		span_step(run, r, m);
}

static void script(struct run *run, struct wire_reader *r, int depth);

static void
step(struct run *run, struct wire_reader *r, uint8_t op, int depth)
{
	struct wire_reader sub;
	struct secret *s = NULL;
	const uint8_t *p;
	char *cs = NULL;
	uint8_t u8, m = 0, buf[32], enc[8];
	uint32_t u32;
	uint64_t u64;
	const uint8_t *at = wire_cursor(r);
	size_t left = wire_left(r), n, max;
	bool b;
	int rc;

	if (op >= OP_TEXT && op < OP_TEXT + 3) {
		text_step(run, r, op);
		return;
	}
	switch (op % 14) {
	case 0:
		if ((rc = wire_get_u8(r, &u8)) == 0)
			mirror(run, &u8, 1, false);
		n = 1;
		break;
	case 1:
		if ((rc = wire_get_u32(r, &u32)) == 0) {
			enc[0] = (uint8_t)(u32 >> 24);
			enc[1] = (uint8_t)(u32 >> 16);
			enc[2] = (uint8_t)(u32 >> 8);
			enc[3] = (uint8_t)u32;
			CHECK(memcmp(enc, at, 4) == 0);
			mirror(run, enc, 4, false);
		}
		n = 4;
		break;
	case 2:
		if ((rc = wire_get_u64(r, &u64)) == 0) {
			for (int i = 0; i < 8; i++)
				enc[i] = (uint8_t)(u64 >> (56 - 8 * i));
			CHECK(memcmp(enc, at, 8) == 0);
			mirror(run, enc, 8, false);
		}
		n = 8;
		break;
	case 3:
		if ((rc = wire_get_bool(r, &b)) == 0) {
			CHECK(at[0] == (b ? 1 : 0));
			u8 = b;
			mirror(run, &u8, 1, false);
		} else if (left >= 1)
			CHECK(at[0] > 1);
		n = 1;
		break;
	case 4:
		rc = wire_peek_u8(r, &u8);
		CHECK(wire_left(r) == left);
		if (rc == 0)
			CHECK(u8 == at[0]);
		else
			CHECK(left == 0);
		return;
	case 5:
	case 6:
		if (wire_get_u8(r, &m) != 0)
			return;
		at = wire_cursor(r);
		left = wire_left(r);
		n = m % sizeof(buf);
		if (op % 14 == 5) {
			if ((rc = wire_get_bytes(r, buf, n)) == 0)
				mirror(run, buf, n, false);
		} else
			rc = wire_skip(r, n);
		break;
	case 7:
	case 8:
	case 9:
	case 10:
		if (wire_get_u8(r, &m) != 0)
			return;
		at = wire_cursor(r);
		left = wire_left(r);
		max = max_of(m);
		if (op % 14 == 7)
			rc = wire_get_string(r, max, &p, &n);
		else if (op % 14 == 8) {
			if ((rc = wire_get_cstring(r, max, &cs)) == 0) {
				n = strlen(cs);
				p = (const uint8_t *)cs;
			}
		} else if (op % 14 == 9) {
			if ((rc = wire_get_secret(r, max, &s)) == 0) {
				n = secret_len(s);
				p = secret_ptr(s);
			}
		} else {
			if ((rc = wire_get_sub(r, max, &sub)) == 0) {
				n = wire_left(&sub);
				p = wire_cursor(&sub);
			}
		}
		if (rc == 0) {
			CHECK(n <= max);
			CHECK(wire_left(r) == left - 4 - n);
			/* The bytes are the input's own, after the length. */
			CHECK(n == 0 || memcmp(p, at + 4, n) == 0);
			if (op % 14 == 8)
				CHECK(memchr(at + 4, '\0', n) == NULL);
			mirror(run, p, n, true);
			if (op % 14 == 10 && depth < DEPTH_MAX)
				script(run, &sub, depth + 1);
		} else {
			CHECK(rc == JIT_E_FORMAT || rc == JIT_E_LIMIT ||
			    rc == JIT_E_NOMEM || rc == JIT_E_MLOCK);
			if (rc == JIT_E_LIMIT)
				CHECK(left >= 4);
			if (op % 14 == 8 && rc == JIT_E_FORMAT && left >= 4) {
				/* Short, or a NUL inside. */
				u32 = (uint32_t)at[0] << 24 |
				    (uint32_t)at[1] << 16 |
				    (uint32_t)at[2] << 8 | at[3];
				CHECK(u32 > left - 4 ||
				    memchr(at + 4, '\0', u32) != NULL);
			}
		}
		free(cs);
		secret_free(s);
		CHECK(rc != 0 || wire_left(r) < left);
		if (rc != 0)
			CHECK(wire_left(r) == left);
		return;
	case 11:
		rc = wire_end(r);
		CHECK((rc == 0) == (left == 0));
		CHECK(wire_left(r) == left);
		return;
	case 12:
		/* Drop some bytes from the front of the writers. */
		if (wire_get_u8(r, &m) != 0)
			return;
		n = wire_writer_len(&run->plain);
		wire_writer_consume(&run->plain, m);
		wire_writer_consume(&run->secure, m);
		CHECK(wire_writer_len(&run->plain) == (n > m ? n - m : 0));
		same(run);
		return;
	default:
		/* Patch a u32 somewhere in the writers. */
		if (wire_get_u8(r, &m) != 0)
			return;
		rc = wire_patch_u32(&run->plain, m, 0xdeadbeef);
		CHECK(rc == wire_patch_u32(&run->secure, m, 0xdeadbeef));
		CHECK((rc == 0) ==
		    ((size_t)m + 4 <= wire_writer_len(&run->plain)));
		return;
	}
	/* Fixed-size reads and skips. */
	if (rc == 0)
		CHECK(left >= n && wire_left(r) == left - n);
	else {
		CHECK(rc == JIT_E_FORMAT);
		CHECK(wire_left(r) == left);
		CHECK(left < n || (op % 14 == 3 && at[0] > 1));
	}
}

static void
script(struct run *run, struct wire_reader *r, int depth)
{
	uint8_t op;

	while (run->steps++ < STEPS_MAX && wire_get_u8(r, &op) == 0)
		step(run, r, op, depth);
	CHECK(wire_left(r) == 0 || run->steps > STEPS_MAX);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct secret_stats before, after;
	struct wire_reader r;
	struct run run;
	struct secret *taken = NULL;
	uint8_t *plain = NULL, capbyte;
	size_t plainlen = 0, cap;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		ready = true;
	}
	secret_stats(&before);
	wire_reader_init(&r, data, size);
	/* The writers' cap: the first byte, in steps of 7 bytes. */
	if (wire_get_u8(&r, &capbyte) != 0)
		return 0;
	cap = (size_t)capbyte * 7;
	memset(&run, 0, sizeof(run));
	run.cap = cap;
	wire_writer_init(&run.plain, cap, false);
	wire_writer_init(&run.secure, cap, true);
	script(&run, &r, 0);

	/* Both hand over the same bytes. */
	CHECK(wire_writer_take(&run.plain, &plain, &plainlen) == 0);
	CHECK(wire_writer_take_secret(&run.secure, &taken) == 0);
	CHECK(secret_len(taken) == plainlen);
	CHECK(plainlen == 0 || memcmp(plain, secret_ptr(taken), plainlen) == 0);
	CHECK(wire_writer_take(&run.secure, &plain, &plainlen) == JIT_E_ARG);
	free(plain);
	secret_free(taken);
	wire_writer_reset(&run.plain);
	wire_writer_reset(&run.secure);
	/* Nothing guarded is left behind. */
	secret_stats(&after);
	CHECK(after.live == before.live);
	return 0;
}
