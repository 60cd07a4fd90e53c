/* libFuzzer harness: what a PIV card answers at enrollment, as hw/piv.c checks it. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "hw.h"
#include "piv.h"
#include "wire.h"

#define FUZZ_NAME "fuzz-piv-reply"
#include "fuzz.h"

/*
 * Input: three fields, each a 2-byte big-endian length and its bytes: the
 * generated key's point, the slot's attestation certificate, f9's
 * certificate (libykpiv hands hw/piv.c exactly these).  The corpus holds
 * jit-sim-piv's real answers and altered ones (another key attested, a
 * certificate signed by another key, a point off the curve).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
field(struct wire_reader *r, const uint8_t **p, size_t *n)
{
	uint16_t len;

	if (wire_get_u16(r, &len) != 0 || wire_left(r) < len)
		return -1;
	*p = wire_cursor(r);
	*n = len;
	return wire_skip(r, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_reader r;
	struct hw_status st = { .retries = -1 };
	const uint8_t *point = NULL, *att = NULL, *f9 = NULL;
	size_t plen = 0, alen = 0, flen = 0;
	bool simulated = false;
	int rc;

	wire_reader_init(&r, data, size);
	if (field(&r, &point, &plen) != 0 || field(&r, &att, &alen) != 0 ||
	    field(&r, &f9, &flen) != 0)
		return 0;
	rc = hw_piv_check_enrollment(
	    point, plen, att, alen, f9, flen, &simulated, &st);
	/* A refusal says why; an acceptance needs a P-256 point. */
	if (rc != JIT_OK)
		CHECK(st.msg[0] != '\0');
	else
		CHECK(plen == HW_PIV_POINT_LEN && point[0] == 0x04);
	CHECK(memchr(st.msg, '\0', sizeof(st.msg)) != NULL);
	return 0;
}
