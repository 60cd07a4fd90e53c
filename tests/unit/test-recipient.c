/* Unit tests of lib/recipient.c, lib/credhdr.c and lib/attest.c's parsing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "assert.h"
#include "attest.h"
#include "credhdr.h"
#include "err.h"
#include "recipient.h"
#include "wire.h"

static const char line_ok[] =
    "jit-recipient1 fido2 0123456789abcdef0123456789abcdef yk-1.a "
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

/* A line parses into its words, and formats back to the same line. */
TEST(recipient_round_trip)
{
	struct recipient rc;
	char why[RECIPIENT_WHY_MAX], *back = NULL;
	size_t i;

	ASSERT_OK(recipient_parse(
	    (const uint8_t *)line_ok, strlen(line_ok), &rc, why, sizeof(why)));
	ASSERT_EQ_STR(rc.type, "fido2");
	ASSERT_EQ_STR(rc.id, "0123456789abcdef0123456789abcdef");
	ASSERT_EQ_STR(rc.label, "yk-1.a");
	for (i = 0; i < RECIPIENT_KEY_LEN; i++)
		ASSERT_EQ_UINT(rc.key[i], i);
	ASSERT(rc.attest == NULL);
	ASSERT_OK(recipient_format(&rc, &back));
	ASSERT_EQ_STR(back, line_ok);
	free(back);

	/* With an attestation: kept as bytes, formatted back. */
	rc.attest = malloc(3);
	ASSERT(rc.attest != NULL);
	memcpy(rc.attest, "\x01\x02\xff", 3);
	rc.attestlen = 3;
	ASSERT_OK(recipient_format(&rc, &back));
	recipient_reset(&rc);
	ASSERT_OK(recipient_parse(
	    (const uint8_t *)back, strlen(back), &rc, why, sizeof(why)));
	ASSERT_EQ_UINT(rc.attestlen, 3);
	ASSERT(memcmp(rc.attest, "\x01\x02\xff", 3) == 0);
	recipient_reset(&rc);
	free(back);
}

/* Every malformed line is refused with a sentence. */
TEST(recipient_refused)
{
	static const char *const bad[] = {
		"",
		"jit-recipient2 fido2 0123456789abcdef0123456789abcdef l AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
		"jit-recipient1 FIDO2 0123456789abcdef0123456789abcdef l AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
		"jit-recipient1 fido2 0123456789abcdef0123456789abcdeF l AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
		"jit-recipient1 fido2 0123456789abcdef0123456789abcde l AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
		"jit-recipient1 fido2 0123456789abcdef0123456789abcdef l/x AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
		"jit-recipient1 fido2 0123456789abcdef0123456789abcdef l AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh",
		"jit-recipient1 fido2 0123456789abcdef0123456789abcdef l AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8 a b",
		"jit-recipient1 fido2 0123456789abcdef0123456789abcdef l AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8 a=",
		"jit-recipient1  fido2 0123456789abcdef0123456789abcdef l AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
		"jit-recipient1 fido2 0123456789abcdef0123456789abcdef l AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8 ",
	};
	struct recipient rc;
	char why[RECIPIENT_WHY_MAX];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		why[0] = '\0';
		ASSERT_ERR(recipient_parse((const uint8_t *)bad[i],
			       strlen(bad[i]), &rc, why, sizeof(why)),
		    JIT_E_FORMAT);
		ASSERT(why[0] != '\0');
	}
	/* An embedded NUL. */
	ASSERT_ERR(recipient_parse((const uint8_t *)"jit-recipient1\0 x", 17,
		       &rc, why, sizeof(why)),
	    JIT_E_FORMAT);
}

/*
 * The associated data of a header is what the store wrote before
 * credhdr.c existed (built here by hand), and sealed_by then ssh_cert come
 * last, only when set: credentials on disk keep opening.
 */
TEST(credhdr_ad_stable)
{
	char n1[] = "PGUSER", n2[] = "PGPASSWORD";
	char *names[] = { n1, n2 };
	static const uint8_t cert[] = { 0, 1, 'c', 'e', 'r', 't' };
	struct credhdr h = {
		.name = "pg",
		.kind = "env",
		.field_names = names,
		.nfields = 2,
		.created = 1700000000,
		.not_after = 1700000900,
		.stepup = "session",
	};
	struct wire_writer w;
	uint8_t *ad = NULL;
	size_t adlen;

	wire_writer_init(&w, 4096, false);
	ASSERT_OK(wire_put_cstring(&w, "jit-agent credential v1"));
	ASSERT_OK(wire_put_u32(&w, 1));
	ASSERT_OK(wire_put_cstring(&w, "pg"));
	ASSERT_OK(wire_put_cstring(&w, "env"));
	ASSERT_OK(wire_put_u32(&w, 2));
	ASSERT_OK(wire_put_cstring(&w, "PGUSER"));
	ASSERT_OK(wire_put_cstring(&w, "PGPASSWORD"));
	ASSERT_OK(wire_put_u64(&w, 1700000000));
	ASSERT_OK(wire_put_u64(&w, 1700000900));
	ASSERT_OK(wire_put_cstring(&w, "session"));
	ASSERT_OK(credhdr_ad(&h, &ad, &adlen));
	ASSERT_EQ_UINT(adlen, wire_writer_len(&w));
	ASSERT(memcmp(ad, wire_writer_data(&w), adlen) == 0);
	free(ad);

	h.sealed_by = "admin@ops";
	ASSERT_OK(wire_put_cstring(&w, "sealed_by"));
	ASSERT_OK(wire_put_cstring(&w, "admin@ops"));
	ASSERT_OK(credhdr_ad(&h, &ad, &adlen));
	ASSERT_EQ_UINT(adlen, wire_writer_len(&w));
	ASSERT(memcmp(ad, wire_writer_data(&w), adlen) == 0);
	free(ad);

	/* An ssh-cert's certificate comes after it, bound like the rest. */
	h.ssh_cert = cert;
	h.ssh_certlen = sizeof(cert);
	ASSERT_OK(wire_put_cstring(&w, "ssh_cert"));
	ASSERT_OK(wire_put_string(&w, cert, sizeof(cert)));
	ASSERT_OK(credhdr_ad(&h, &ad, &adlen));
	ASSERT_EQ_UINT(adlen, wire_writer_len(&w));
	ASSERT(memcmp(ad, wire_writer_data(&w), adlen) == 0);
	free(ad);
	wire_writer_reset(&w);

	ASSERT(credhdr_sealed_by_ok("a@b"));
	ASSERT(!credhdr_sealed_by_ok(""));
	ASSERT(!credhdr_sealed_by_ok("a\nb"));
}

/* The challenge names type, id and recipient: any change changes it. */
TEST(attest_challenge_binds)
{
	uint8_t k[32] = { 0 }, a[32], b[32];

	attest_challenge("fido2", "00", k, a);
	attest_challenge("tpm2", "00", k, b);
	ASSERT(memcmp(a, b, 32) != 0);
	attest_challenge("fido2", "01", k, b);
	ASSERT(memcmp(a, b, 32) != 0);
	k[31] = 1;
	attest_challenge("fido2", "00", k, b);
	ASSERT(memcmp(a, b, 32) != 0);
}

/* Blobs that are not statements: refused with a sentence, no crash. */
TEST(attest_refused)
{
	static const uint8_t authdata[37 + 16] = { 0 };
	struct attest_info ai;
	uint8_t k[32] = { 0 }, *blob = NULL;
	size_t len;
	char why[ATTEST_WHY_MAX];

	ASSERT_ERR(attest_verify((const uint8_t *)"xx", 2, "fido2", "00", k,
		       NULL, &ai, why, sizeof(why)),
	    JIT_E_FORMAT);
	ASSERT(why[0] != '\0');
	ASSERT_OK(attest_fido2_blob("fido2-none", authdata, sizeof(authdata),
	    "jit-agent", -7, (const uint8_t *)"", 0, NULL, NULL, 0, &blob,
	    &len));
	/* A FIDO2 statement for a TPM token. */
	ASSERT_ERR(attest_verify(
		       blob, len, "tpm2", "00", k, NULL, &ai, why, sizeof(why)),
	    JIT_E_UNSUPPORTED);
	/* Its authenticator data holds no credential (AT clear). */
	ASSERT_ERR(attest_verify(blob, len, "fido2", "00", k, NULL, &ai, why,
		       sizeof(why)),
	    JIT_E_FORMAT);
	ASSERT(strstr(why, "authenticator data") != NULL);
	/* Cut short anywhere: refused. */
	for (size_t n = 0; n < len; n++)
		ASSERT(attest_verify(blob, n, "fido2", "00", k, NULL, &ai, why,
			   sizeof(why)) != 0);
	free(blob);
}

static const struct test_case tests[] = {
	TEST_ENTRY(recipient_round_trip),
	TEST_ENTRY(recipient_refused),
	TEST_ENTRY(credhdr_ad_stable),
	TEST_ENTRY(attest_challenge_binds),
	TEST_ENTRY(attest_refused),
};
TEST_MAIN(tests)
