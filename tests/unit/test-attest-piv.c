/* Unit tests of lib/attest.c's PIV statements: certificates made here with
 * OpenSSL as a YubiKey and Yubico's CA make them, then checked, edited,
 * and given malformed Yubico extensions. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "assert.h"
#include "attest.h"
#include "err.h"
#include "tmpdir.h"

#define OID_FIRMWARE "1.3.6.1.4.1.41482.3.3"
#define OID_SERIAL "1.3.6.1.4.1.41482.3.7"
#define OID_POLICY "1.3.6.1.4.1.41482.3.8"
#define OID_FORM_FACTOR "1.3.6.1.4.1.41482.3.9"
#define ID "0123456789abcdef0123456789abcdef"

static void
setup(void)
{
	tmpdir_make("attest-piv");
}

struct ext {
	const char *oid;
	const uint8_t *v;
	size_t n;
};

/* Yubico's four, as a YubiKey 5 with serial 12345678 writes them. */
static const uint8_t fw[] = { 5, 4, 3 };
static const uint8_t serial_der[] = { 0x02, 0x04, 0x00, 0xbc, 0x61, 0x4e };
static const uint8_t pol[] = { 2, 3 };
static const uint8_t ff[] = { 0x83 }; /* USB-C keychain, a flag bit set */
static const struct ext yk_exts[] = {
	{ OID_FIRMWARE, fw, sizeof(fw) },
	{ OID_SERIAL, serial_der, sizeof(serial_der) },
	{ OID_POLICY, pol, sizeof(pol) },
	{ OID_FORM_FACTOR, ff, sizeof(ff) },
};

static int
add_ext(X509 *x, const struct ext *e)
{
	ASN1_OBJECT *o = OBJ_txt2obj(e->oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	int ok = o != NULL && os != NULL &&
	    ASN1_OCTET_STRING_set(os, e->v, (int)e->n) == 1 &&
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, o, 0, os)) != NULL &&
	    X509_add_ext(x, ext, -1) == 1;

	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(o);
	return ok ? 0 : -1;
}

static int
add_v3(X509 *x, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, nid, value);
	int ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;

	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* A certificate for key named org/cn, issued by issuer (NULL: itself) and
 * signed by signer; ca marks it a CA; exts are added as they are. */
static X509 *
cert(EVP_PKEY *key, const char *org, const char *cn, X509 *issuer,
    EVP_PKEY *signer, int ca, const struct ext *exts, size_t nexts)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *nm = X509_NAME_new();
	size_t i;
	int ok = x != NULL && nm != NULL &&
	    X509_set_version(x, X509_VERSION_3) == 1 &&
	    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++) == 1 &&
	    (org == NULL ||
		X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC,
		    (const unsigned char *)org, -1, -1, 0) == 1) &&
	    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
		(const unsigned char *)cn, -1, -1, 0) == 1 &&
	    X509_set_subject_name(x, nm) == 1 &&
	    X509_set_issuer_name(
		x, issuer != NULL ? X509_get_subject_name(issuer) : nm) == 1 &&
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 3600) != NULL &&
	    X509_set_pubkey(x, key) == 1 &&
	    (!ca ||
		(add_v3(x, NID_basic_constraints, "critical,CA:TRUE") == 0 &&
		    add_v3(x, NID_key_usage, "critical,keyCertSign") == 0));

	for (i = 0; ok && i < nexts; i++)
		ok = add_ext(x, &exts[i]) == 0;
	ok = ok && X509_sign(x, signer, EVP_sha256()) > 0;
	X509_NAME_free(nm);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* A card: Yubico's root, the card's f9 certified by it, a slot key. */
struct card {
	EVP_PKEY *root_key, *f9_key, *slot_key;
	X509 *root, *f9;
	char roots[128];
};

static int
card_new(struct card *c, int f9_is_ca, const char *roots)
{
	FILE *f;

	memset(c, 0, sizeof(*c));
	if ((c->root_key = EVP_EC_gen("P-256")) == NULL ||
	    (c->f9_key = EVP_EC_gen("P-256")) == NULL ||
	    (c->slot_key = EVP_EC_gen("P-256")) == NULL ||
	    (c->root = cert(c->root_key, "Test Vendor", "Test PIV Root CA",
		 NULL, c->root_key, 1, NULL, 0)) == NULL ||
	    (c->f9 = cert(c->f9_key, NULL, "Test PIV Attestation", c->root,
		 c->root_key, f9_is_ca, NULL, 0)) == NULL)
		return -1;
	snprintf(c->roots, sizeof(c->roots), "%s/%s", tmpdir, roots);
	if ((f = fopen(c->roots, "w")) == NULL)
		return -1;
	PEM_write_X509(f, c->root);
	return fclose(f) == 0 ? 0 : -1;
}

static void
card_free(struct card *c)
{
	EVP_PKEY_free(c->root_key);
	EVP_PKEY_free(c->f9_key);
	EVP_PKEY_free(c->slot_key);
	X509_free(c->root);
	X509_free(c->f9);
}

/* The statement: the slot's certificate (signed by slot_signer, with
 * exts), f9's, and signer's signature of the challenge of recipient. */
static int
statement(const struct card *c, EVP_PKEY *slot_signer, EVP_PKEY *signer,
    const struct ext *exts, size_t nexts, const uint8_t recipient[32],
    uint8_t **ret, size_t *ret_len)
{
	uint8_t chal[ATTEST_CHALLENGE_LEN], sig[128];
	unsigned char *der[2] = { NULL, NULL };
	const uint8_t *certs[2];
	size_t lens[2], siglen = sizeof(sig);
	EVP_PKEY_CTX *ctx = NULL;
	X509 *slot;
	int n0, n1, r = -1;

	if ((slot = cert(c->slot_key, NULL, "YubiKey PIV Attestation 9d", c->f9,
		 slot_signer, 0, exts, nexts)) == NULL)
		return -1;
	attest_challenge("piv", ID, recipient, chal);
	if ((n0 = i2d_X509(slot, &der[0])) <= 0 ||
	    (n1 = i2d_X509(c->f9, &der[1])) <= 0 ||
	    (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, signer, NULL)) == NULL ||
	    EVP_PKEY_sign_init(ctx) != 1 ||
	    EVP_PKEY_sign(ctx, sig, &siglen, chal, sizeof(chal)) != 1)
		goto out;
	certs[0] = der[0];
	certs[1] = der[1];
	lens[0] = (size_t)n0;
	lens[1] = (size_t)n1;
	r = attest_piv_blob(sig, siglen, certs, lens, 2, ret, ret_len);
out:
	EVP_PKEY_CTX_free(ctx);
	OPENSSL_free(der[0]);
	OPENSSL_free(der[1]);
	X509_free(slot);
	return r;
}

static const uint8_t rcpt[32] = { 1, 2, 3 };

/* A YubiKey's statement verifies to the roots and says what it proves. */
TMPDIR_TEST(piv_verified)
{
	struct card c;
	struct attest_info ai;
	uint8_t *blob = NULL;
	size_t len = 0;
	char why[ATTEST_WHY_MAX];

	ASSERT(card_new(&c, 1, "roots.pem") == 0);
	ASSERT_OK(
	    statement(&c, c.f9_key, c.slot_key, yk_exts, 4, rcpt, &blob, &len));
	ASSERT_OK(attest_verify(
	    blob, len, "piv", ID, rcpt, c.roots, &ai, why, sizeof(why)));
	ASSERT_EQ_STR(ai.format, "piv");
	ASSERT(ai.chained && ai.roots_checked);
	ASSERT_EQ_STR(ai.vendor, "Test Vendor");
	ASSERT_EQ_STR(ai.model, "YubiKey 5 (PIV), USB-C keychain");
	ASSERT_EQ_STR(ai.serial, "12345678");
	ASSERT_EQ_STR(ai.firmware, "5.4.3");
	ASSERT_EQ_STR(ai.policy, "PIN once, touch cached");
	/* Without roots: the same, not checked against roots. */
	ASSERT_OK(attest_verify(
	    blob, len, "piv", ID, rcpt, NULL, &ai, why, sizeof(why)));
	ASSERT(ai.chained && !ai.roots_checked);
	/* For a token of another type: not this format. */
	ASSERT_ERR(attest_verify(blob, len, "fido2", ID, rcpt, c.roots, &ai,
		       why, sizeof(why)),
	    JIT_E_UNSUPPORTED);
	/* Cut short anywhere: refused with a sentence. */
	for (size_t n = 0; n < len; n++) {
		why[0] = '\0';
		ASSERT(attest_verify(blob, n, "piv", ID, rcpt, NULL, &ai, why,
			   sizeof(why)) != 0);
		ASSERT(why[0] != '\0');
	}
	free(blob);
	card_free(&c);
}

/* Some YubiKey 4 f9 certificates are not marked as CAs: still accepted,
 * and a card without Yubico's extensions is a plain PIV card. */
TMPDIR_TEST(piv_f9_not_ca_and_no_extensions)
{
	struct card c;
	struct attest_info ai;
	uint8_t *blob = NULL;
	size_t len = 0;
	char why[ATTEST_WHY_MAX];

	ASSERT(card_new(&c, 0, "roots.pem") == 0);
	ASSERT_OK(
	    statement(&c, c.f9_key, c.slot_key, NULL, 0, rcpt, &blob, &len));
	ASSERT_OK(attest_verify(
	    blob, len, "piv", ID, rcpt, c.roots, &ai, why, sizeof(why)));
	ASSERT_EQ_STR(ai.model, "PIV card");
	ASSERT_EQ_STR(ai.firmware, "");
	ASSERT_EQ_STR(ai.policy, "");
	ASSERT(ai.serial[0] != '\0'); /* the certificate's */
	free(blob);
	card_free(&c);
}

/* Policies and form factors this version does not name are shown as
 * numbers, not refused. */
TMPDIR_TEST(piv_unknown_values)
{
	static const uint8_t pol2[] = { 7, 9 }, ff2[] = { 0x0e };
	static const struct ext exts[] = {
		{ OID_FIRMWARE, fw, sizeof(fw) },
		{ OID_POLICY, pol2, sizeof(pol2) },
		{ OID_FORM_FACTOR, ff2, sizeof(ff2) },
	};
	struct card c;
	struct attest_info ai;
	uint8_t *blob = NULL;
	size_t len = 0;
	char why[ATTEST_WHY_MAX];

	ASSERT(card_new(&c, 1, "roots.pem") == 0);
	ASSERT_OK(
	    statement(&c, c.f9_key, c.slot_key, exts, 3, rcpt, &blob, &len));
	ASSERT_OK(attest_verify(
	    blob, len, "piv", ID, rcpt, c.roots, &ai, why, sizeof(why)));
	ASSERT_EQ_STR(ai.policy, "PIN 0x07, touch 0x09");
	ASSERT_EQ_STR(ai.model, "YubiKey 5 (PIV), form factor 0x0e");
	free(blob);
	card_free(&c);
}

/* Each malformed Yubico extension refuses the statement with a sentence. */
TMPDIR_TEST(piv_malformed_extensions)
{
	static const uint8_t fw2[] = { 5, 4 }, neg[] = { 0x02, 0x01, 0xff },
			     trail[] = { 0x02, 0x01, 0x05, 0x00 },
			     notint[] = { 0x04, 0x01, 0x05 }, pol1[] = { 2 },
			     ff0[] = { 0 };
	static const struct ext bad[][2] = {
		{ { OID_FIRMWARE, fw2, sizeof(fw2) } },
		{ { OID_SERIAL, neg, sizeof(neg) } },
		{ { OID_SERIAL, trail, sizeof(trail) } },
		{ { OID_SERIAL, notint, sizeof(notint) } },
		{ { OID_SERIAL, notint, 0 } },
		{ { OID_POLICY, pol1, sizeof(pol1) } },
		{ { OID_FORM_FACTOR, ff0, 0 } },
		/* The same extension twice. */
		{ { OID_FIRMWARE, fw, sizeof(fw) },
		    { OID_FIRMWARE, fw, sizeof(fw) } },
	};
	struct card c;
	struct attest_info ai;
	uint8_t *blob;
	size_t i, len;
	char why[ATTEST_WHY_MAX];

	ASSERT(card_new(&c, 1, "roots.pem") == 0);
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		blob = NULL;
		ASSERT_OK(statement(&c, c.f9_key, c.slot_key, bad[i],
		    bad[i][1].oid != NULL ? 2 : 1, rcpt, &blob, &len));
		ASSERT_MSG(attest_verify(blob, len, "piv", ID, rcpt, c.roots,
			       &ai, why, sizeof(why)) == JIT_E_FORMAT,
		    "case %zu", i);
		ASSERT(strstr(why, "malformed Yubico extension") != NULL);
		free(blob);
	}
	card_free(&c);
}

/* A chain to another CA, a slot certificate f9 did not sign, a slot
 * certificate of another key than the one that signed, another recipient:
 * each refused, naming what failed. */
TMPDIR_TEST(piv_refused)
{
	struct card c, other;
	struct attest_info ai;
	EVP_PKEY *stranger;
	uint8_t *blob = NULL, rcpt2[32] = { 9 };
	size_t len = 0;
	char why[ATTEST_WHY_MAX];

	ASSERT(card_new(&c, 1, "roots.pem") == 0);
	ASSERT((stranger = EVP_EC_gen("P-256")) != NULL);
	ASSERT_OK(
	    statement(&c, c.f9_key, c.slot_key, yk_exts, 4, rcpt, &blob, &len));
	ASSERT(card_new(&other, 1, "other.pem") == 0);
	ASSERT_ERR(attest_verify(blob, len, "piv", ID, rcpt, other.roots, &ai,
		       why, sizeof(why)),
	    JIT_E_AUTH);
	ASSERT(strstr(why, "does not lead to the attestation roots") != NULL);
	ASSERT_ERR(attest_verify(blob, len, "piv", ID, rcpt2, NULL, &ai, why,
		       sizeof(why)),
	    JIT_E_AUTH);
	ASSERT(strstr(why, "did not sign this recipient") != NULL);
	free(blob);
	card_free(&other);
	/* The slot certificate signed by a stranger's key, not f9's. */
	ASSERT_OK(
	    statement(&c, stranger, c.slot_key, yk_exts, 4, rcpt, &blob, &len));
	ASSERT_ERR(attest_verify(blob, len, "piv", ID, rcpt, c.roots, &ai, why,
		       sizeof(why)),
	    JIT_E_AUTH);
	ASSERT(strstr(why, "not signed by the card's attestation key (f9)") !=
	    NULL);
	free(blob);
	/* The recipient signed by another key than the one attested. */
	ASSERT_OK(
	    statement(&c, c.f9_key, stranger, yk_exts, 4, rcpt, &blob, &len));
	ASSERT_ERR(attest_verify(blob, len, "piv", ID, rcpt, c.roots, &ai, why,
		       sizeof(why)),
	    JIT_E_AUTH);
	ASSERT(strstr(why, "did not sign this recipient") != NULL);
	free(blob);
	EVP_PKEY_free(stranger);
	card_free(&c);
}

/* A statement without its chain is refused as giving none. */
TEST(piv_no_chain)
{
	struct attest_info ai;
	uint8_t *blob = NULL;
	size_t len = 0;
	char why[ATTEST_WHY_MAX];

	ASSERT_OK(attest_piv_blob(
	    (const uint8_t *)"sig", 3, NULL, NULL, 0, &blob, &len));
	ASSERT_ERR(attest_verify(
		       blob, len, "piv", ID, rcpt, NULL, &ai, why, sizeof(why)),
	    JIT_E_AUTH);
	ASSERT(strstr(why, "it has no certificate chain") != NULL);
	ASSERT(!ai.chained);
	free(blob);
}

static const struct test_case tests[] = {
	TEST_ENTRY(piv_verified),
	TEST_ENTRY(piv_f9_not_ca_and_no_extensions),
	TEST_ENTRY(piv_unknown_values),
	TEST_ENTRY(piv_malformed_extensions),
	TEST_ENTRY(piv_refused),
	TEST_ENTRY(piv_no_chain),
};
TEST_MAIN(tests)
