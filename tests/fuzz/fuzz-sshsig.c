/* libFuzzer harness: agent/ssh/sshsig.c and allowed-signers.c, an approval's signature and the approvers' file. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "sshsig.h"

#define FUZZ_NAME "fuzz-sshsig"
#include "fuzz.h"

/*
 * The first byte chooses: even, the rest is an allowed_signers file;
 * odd, an armored signature over the fixed request below.  A file that
 * parses has at most SIGNERS_LINES_MAX lines, each with principals and a
 * key; one that does not says why.  A signature that dearmors gives a
 * blob that armors and dearmors to the same bytes; one that verifies
 * names a signer with a fingerprint.
 */

#define REQUEST "-----BEGIN JIT ACCESS REQUEST-----\nid: 0\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
signers(const uint8_t *p, size_t n)
{
	struct allowed_signers *as = NULL;
	char why[512] = "";
	size_t i;

	if (allowed_signers_parse(p, n, &as, why, sizeof(why)) != 0) {
		CHECK(why[0] != '\0');
		return;
	}
	CHECK(as->n <= SIGNERS_LINES_MAX);
	for (i = 0; i < as->n; i++) {
		CHECK(as->v[i].principals != NULL &&
		    as->v[i].principals[0] != '\0');
		CHECK(as->v[i].key != NULL && as->v[i].keylen > 0);
		CHECK(as->v[i].line >= 1);
	}
	allowed_signers_free(as);
}

static void
signature(const uint8_t *p, size_t n)
{
	struct sshsig_signer sg;
	struct sshsig s;
	uint8_t *blob = NULL, *again = NULL;
	size_t len, len2;
	char *armored = NULL;

	if (sshsig_dearmor(p, n, &blob, &len) != 0)
		return;
	CHECK(len <= SSHSIG_BLOB_MAX);
	CHECK(sshsig_armor(blob, len, &armored) == 0);
	CHECK(sshsig_dearmor(armored, strlen(armored), &again, &len2) == 0);
	CHECK(len2 == len && memcmp(again, blob, len) == 0);
	if (sshsig_parse(blob, len, &s) == 0 &&
	    sshsig_verify(&s, s.ns, (const uint8_t *)REQUEST, strlen(REQUEST),
		&sg) == 0) {
		CHECK(strncmp(sg.fp, "SHA256:", 7) == 0);
		sshsig_signer_reset(&sg);
	}
	free(blob);
	free(again);
	free(armored);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if ((data[0] & 1) == 0)
		signers(data + 1, size - 1);
	else
		signature(data + 1, size - 1);
	return 0;
}
