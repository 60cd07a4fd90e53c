/* libFuzzer harness: lib/recipient.c's lines and lib/attest.c's statements,
 * both read from files a team publishes. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest.h"
#include "err.h"
#include "recipient.h"

#define FUZZ_NAME "fuzz-recipient"
#include "fuzz.h"

/*
 * The input is a recipient line.  A refusal says why; a line that parses
 * formats back to exactly itself, and its attestation (if any) is checked
 * with no roots, for both token types: refused with a sentence, or
 * accepted, never a crash.  The same bytes are also read as a bare
 * attestation statement.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_attest(const uint8_t *p, size_t n, const uint8_t key[32])
{
	static const char *const types[] = { "fido2", "tpm2", "piv" };
	struct attest_info ai;
	char why[ATTEST_WHY_MAX];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(types) / sizeof(*types); i++) {
		why[0] = '\0';
		rc = attest_verify(p, n, types[i],
		    "0123456789abcdef0123456789abcdef", key, NULL, &ai, why,
		    sizeof(why));
		CHECK(rc == 0 || why[0] != '\0');
		CHECK(memchr(ai.vendor, '\0', sizeof(ai.vendor)) != NULL);
		CHECK(memchr(ai.model, '\0', sizeof(ai.model)) != NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zero[32];
	struct recipient rc;
	char why[RECIPIENT_WHY_MAX], *back = NULL;

	check_attest(data, size, zero);
	why[0] = '\0';
	if (recipient_parse(data, size, &rc, why, sizeof(why)) != 0) {
		CHECK(why[0] != '\0');
		return 0;
	}
	CHECK(recipient_format(&rc, &back) == 0);
	CHECK(strlen(back) == size && memcmp(back, data, size) == 0);
	if (rc.attest != NULL)
		check_attest(rc.attest, rc.attestlen, rc.key);
	free(back);
	recipient_reset(&rc);
	return 0;
}
