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
 */

#define DEPTH_MAX 4
#define STEPS_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	struct wire_writer plain, secure;
	size_t steps;
};

/* Append the same bytes to both writers; both must agree on the outcome. */
static void
mirror(struct run *run, const void *p, size_t n, bool as_string)
{
	size_t before_p = run->plain.len, before_s = run->secure.len;
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
		CHECK(run->plain.len == before_p);
		CHECK(run->secure.len == before_s);
	} else {
		CHECK(run->plain.len == before_p + n + (as_string ? 4 : 0));
		CHECK(run->plain.len <= run->plain.max);
	}
	CHECK(run->plain.len == run->secure.len);
	CHECK(run->plain.len == 0 ||
	    memcmp(run->plain.d, run->secure.d, run->plain.len) == 0);
}

/* A maximum from one input byte: small ones, and unlimited. */
static size_t
max_of(uint8_t m)
{
	if (m == 0xff)
		return SIZE_MAX;
	return (size_t)m * 3;
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
	size_t off = r->off, left = wire_left(r), n, max;
	bool b;
	int rc;

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
			CHECK(memcmp(enc, r->p + off, 4) == 0);
			mirror(run, enc, 4, false);
		}
		n = 4;
		break;
	case 2:
		if ((rc = wire_get_u64(r, &u64)) == 0) {
			for (int i = 0; i < 8; i++)
				enc[i] = (uint8_t)(u64 >> (56 - 8 * i));
			CHECK(memcmp(enc, r->p + off, 8) == 0);
			mirror(run, enc, 8, false);
		}
		n = 8;
		break;
	case 3:
		if ((rc = wire_get_bool(r, &b)) == 0) {
			CHECK(r->p[off] == (b ? 1 : 0));
			u8 = b;
			mirror(run, &u8, 1, false);
		} else if (left >= 1)
			CHECK(r->p[off] > 1);
		n = 1;
		break;
	case 4:
		rc = wire_peek_u8(r, &u8);
		CHECK(r->off == off);
		if (rc == 0)
			CHECK(u8 == r->p[off]);
		else
			CHECK(left == 0);
		return;
	case 5:
	case 6:
		if (wire_get_u8(r, &m) != 0)
			return;
		off = r->off;
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
		off = r->off;
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
			CHECK(r->off == off + 4 + n);
			/* The bytes are the input's own, after the length. */
			CHECK(n == 0 || memcmp(p, r->p + off + 4, n) == 0);
			if (op % 14 == 8)
				CHECK(memchr(r->p + off + 4, '\0', n) == NULL);
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
				u32 = (uint32_t)r->p[off] << 24 |
				    (uint32_t)r->p[off + 1] << 16 |
				    (uint32_t)r->p[off + 2] << 8 |
				    r->p[off + 3];
				CHECK(u32 > left - 4 ||
				    memchr(r->p + off + 4, '\0', u32) != NULL);
			}
		}
		free(cs);
		secret_free(s);
		CHECK(rc != 0 || r->off > off);
		if (rc != 0)
			CHECK(r->off == off);
		return;
	case 11:
		rc = wire_end(r);
		CHECK((rc == 0) == (left == 0));
		CHECK(r->off == off);
		return;
	case 12:
		/* Drop some bytes from the front of the writers. */
		if (wire_get_u8(r, &m) != 0)
			return;
		n = run->plain.len;
		wire_writer_consume(&run->plain, m);
		wire_writer_consume(&run->secure, m);
		CHECK(run->plain.len == (n > m ? n - m : 0));
		CHECK(run->plain.len == run->secure.len);
		CHECK(run->plain.len == 0 ||
		    memcmp(run->plain.d, run->secure.d, run->plain.len) == 0);
		return;
	default:
		/* Patch a u32 somewhere in the writers. */
		if (wire_get_u8(r, &m) != 0)
			return;
		rc = wire_patch_u32(&run->plain, m, 0xdeadbeef);
		CHECK(rc == wire_patch_u32(&run->secure, m, 0xdeadbeef));
		CHECK((rc == 0) == ((size_t)m + 4 <= run->plain.len));
		return;
	}
	/* Fixed-size reads and skips. */
	if (rc == 0)
		CHECK(r->off == off + n && left >= n);
	else {
		CHECK(rc == JIT_E_FORMAT);
		CHECK(r->off == off);
		CHECK(left < n || (op % 14 == 3 && r->p[off] > 1));
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
