/* Unit tests of lib/seal.c: AEAD tampering, X25519 wraps, HKDF vectors. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "assert.h"
#include "err.h"
#include "seal.h"
#include "secret.h"

static int
hex_to_bin(const char *hex, uint8_t *out, size_t max, size_t *ret_len)
{
	return sodium_hex2bin(out, max, hex, strlen(hex), NULL, ret_len, NULL);
}

/* Seal then open gives the plaintext back; ct is plaintext + tag long. */
TEST(aead_round_trip)
{
	static const uint8_t ad[] = "name=pg-prod;not_after=1700000000";
	struct secret *key, *plain, *back = NULL, *empty;
	uint8_t nonce[SEAL_NONCE_LEN], nonce2[SEAL_NONCE_LEN], *ct, *ct2;
	size_t ctlen, ctlen2;

	ASSERT_OK(seal_random_key(&key));
	ASSERT_EQ_UINT(secret_len(key), SEAL_KEY_LEN);
	ASSERT_OK(secret_from("hunter2 is not a password", 25, &plain));
	ASSERT_OK(seal_aead(key, ad, sizeof(ad), plain, nonce, &ct, &ctlen));
	ASSERT_EQ_UINT(ctlen, 25 + SEAL_TAG_LEN);
	ASSERT(memcmp(ct, "hunter2", 7) != 0);
	ASSERT_OK(seal_aead_open(key, ad, sizeof(ad), nonce, ct, ctlen, &back));
	ASSERT(secret_equal(plain, back));
	secret_free(back);

	/* A fresh nonce every time: same input, different ciphertext. */
	ASSERT_OK(seal_aead(key, ad, sizeof(ad), plain, nonce2, &ct2, &ctlen2));
	ASSERT(memcmp(nonce, nonce2, SEAL_NONCE_LEN) != 0);
	ASSERT(memcmp(ct, ct2, ctlen) != 0);
	free(ct2);

	/* Empty plaintext and no associated data work too. */
	ASSERT_OK(secret_new(0, &empty));
	ASSERT_OK(seal_aead(key, NULL, 0, empty, nonce2, &ct2, &ctlen2));
	ASSERT_EQ_UINT(ctlen2, SEAL_TAG_LEN);
	ASSERT_OK(seal_aead_open(key, NULL, 0, nonce2, ct2, ctlen2, &back));
	ASSERT_EQ_UINT(secret_len(back), 0);
	secret_free(back);
	free(ct2);
	secret_free(empty);

	free(ct);
	secret_free(plain);
	secret_free(key);
}

/* Flipping any byte of ciphertext, associated data or nonce is caught. */
TEST(aead_tamper)
{
	uint8_t ad[40], nonce[SEAL_NONCE_LEN], *ct;
	struct secret *key, *other, *plain, *back = NULL, *badkey;
	size_t ctlen, i;

	for (i = 0; i < sizeof(ad); i++)
		ad[i] = (uint8_t)(i * 3);
	ASSERT_OK(seal_random_key(&key));
	ASSERT_OK(secret_from("a credential's fields", 21, &plain));
	ASSERT_OK(seal_aead(key, ad, sizeof(ad), plain, nonce, &ct, &ctlen));
	for (i = 0; i < ctlen; i++) {
		ct[i] ^= 0x01;
		ASSERT_ERR(seal_aead_open(
			       key, ad, sizeof(ad), nonce, ct, ctlen, &back),
		    JIT_E_AUTH);
		ct[i] ^= 0x01;
		ct[i] ^= 0x80;
		ASSERT_ERR(seal_aead_open(
			       key, ad, sizeof(ad), nonce, ct, ctlen, &back),
		    JIT_E_AUTH);
		ct[i] ^= 0x80;
	}
	for (i = 0; i < sizeof(ad); i++) {
		ad[i] ^= 0x01;
		ASSERT_ERR(seal_aead_open(
			       key, ad, sizeof(ad), nonce, ct, ctlen, &back),
		    JIT_E_AUTH);
		ad[i] ^= 0x01;
	}
	for (i = 0; i < SEAL_NONCE_LEN; i++) {
		nonce[i] ^= 0x01;
		ASSERT_ERR(seal_aead_open(
			       key, ad, sizeof(ad), nonce, ct, ctlen, &back),
		    JIT_E_AUTH);
		nonce[i] ^= 0x01;
	}
	/* Shortened associated data, truncated or extended ciphertext. */
	ASSERT_ERR(
	    seal_aead_open(key, ad, sizeof(ad) - 1, nonce, ct, ctlen, &back),
	    JIT_E_AUTH);
	ASSERT_ERR(
	    seal_aead_open(key, ad, sizeof(ad), nonce, ct, ctlen - 1, &back),
	    JIT_E_AUTH);
	ASSERT_ERR(seal_aead_open(
		       key, ad, sizeof(ad), nonce, ct, SEAL_TAG_LEN - 1, &back),
	    JIT_E_FORMAT);
	ASSERT_ERR(seal_aead_open(key, ad, sizeof(ad), nonce, ct, 0, &back),
	    JIT_E_FORMAT);
	/* Another key. */
	ASSERT_OK(seal_random_key(&other));
	ASSERT_ERR(
	    seal_aead_open(other, ad, sizeof(ad), nonce, ct, ctlen, &back),
	    JIT_E_AUTH);
	/* A key of the wrong length is an argument error, both ways. */
	ASSERT_OK(secret_new(16, &badkey));
	ASSERT_ERR(
	    seal_aead_open(badkey, ad, sizeof(ad), nonce, ct, ctlen, &back),
	    JIT_E_ARG);
	{
		uint8_t *ct2 = NULL;
		size_t n2 = 0;

		ASSERT_ERR(
		    seal_aead(badkey, ad, sizeof(ad), plain, nonce, &ct2, &n2),
		    JIT_E_ARG);
		ASSERT(ct2 == NULL);
	}
	ASSERT(back == NULL);
	/* Untouched, it still opens. */
	ASSERT_OK(seal_aead_open(key, ad, sizeof(ad), nonce, ct, ctlen, &back));
	ASSERT(secret_equal(back, plain));
	secret_free(back);
	secret_free(badkey);
	secret_free(other);
	free(ct);
	secret_free(plain);
	secret_free(key);
}

/* A wrapped key unwraps with its identity and context, and only so. */
TEST(wrap_unwrap)
{
	uint8_t pk[SEAL_X25519_LEN], pk2[SEAL_X25519_LEN];
	struct secret *sk, *sk2, *key, *back = NULL, *badkey;
	struct seal_wrap w, w2, t;
	char longctx[300];
	size_t i;

	ASSERT_OK(seal_x25519_keypair(pk, &sk));
	ASSERT_OK(seal_x25519_keypair(pk2, &sk2));
	ASSERT_EQ_UINT(secret_len(sk), SEAL_X25519_LEN);
	ASSERT(memcmp(pk, pk2, sizeof(pk)) != 0);
	{
		uint8_t check[SEAL_X25519_LEN];

		ASSERT(crypto_scalarmult_base(check, secret_ptr(sk)) == 0);
		ASSERT_EQ_MEM(check, pk, sizeof(pk));
	}
	ASSERT_OK(seal_random_key(&key));
	ASSERT_OK(seal_wrap(pk, key, "0123456789abcdef0123456789abcdef", &w));
	ASSERT_OK(
	    seal_unwrap(sk, pk, &w, "0123456789abcdef0123456789abcdef", &back));
	ASSERT(secret_equal(key, back));
	secret_free(back);
	back = NULL;

	/* Wrapping twice gives different ephemeral keys and nonces. */
	ASSERT_OK(seal_wrap(pk, key, "ctx", &w2));
	ASSERT(memcmp(w.epk, w2.epk, sizeof(w.epk)) != 0);
	ASSERT(memcmp(w.nonce, w2.nonce, sizeof(w.nonce)) != 0);
	ASSERT_OK(seal_unwrap(sk, pk, &w2, "ctx", &back));
	ASSERT(secret_equal(key, back));
	secret_free(back);
	back = NULL;

	/* Another identity cannot open it. */
	ASSERT_ERR(seal_unwrap(sk2, pk2, &w2, "ctx", &back), JIT_E_AUTH);
	ASSERT_ERR(seal_unwrap(sk2, pk, &w2, "ctx", &back), JIT_E_AUTH);
	/* The right identity under the wrong recipient (salt) fails. */
	ASSERT_ERR(seal_unwrap(sk, pk2, &w2, "ctx", &back), JIT_E_AUTH);
	/* The context binds it. */
	ASSERT_ERR(seal_unwrap(sk, pk, &w2, "ctx2", &back), JIT_E_AUTH);
	ASSERT_ERR(seal_unwrap(sk, pk, &w2, "", &back), JIT_E_AUTH);
	ASSERT_ERR(seal_unwrap(sk, pk, &w2, "Ctx", &back), JIT_E_AUTH);
	/* Any flipped byte of the wrap is caught. */
	for (i = 0; i < sizeof(w2); i++) {
		t = w2;
		((uint8_t *)&t)[i] ^= 0x04;
		ASSERT_MSG(seal_unwrap(sk, pk, &t, "ctx", &back) < 0,
		    "byte %zu of the wrap flipped, still opens", i);
	}
	ASSERT(back == NULL);

	/* An empty context is a context. */
	ASSERT_OK(seal_wrap(pk, key, "", &w2));
	ASSERT_ERR(seal_unwrap(sk, pk, &w2, "x", &back), JIT_E_AUTH);
	ASSERT_OK(seal_unwrap(sk, pk, &w2, "", &back));
	ASSERT(secret_equal(key, back));
	secret_free(back);
	back = NULL;

	/* Limits and arguments. */
	memset(longctx, 'c', sizeof(longctx) - 1);
	longctx[sizeof(longctx) - 1] = '\0';
	ASSERT_ERR(seal_wrap(pk, key, longctx, &w2), JIT_E_LIMIT);
	ASSERT_OK(secret_new(31, &badkey));
	ASSERT_ERR(seal_wrap(pk, badkey, "ctx", &w2), JIT_E_ARG);
	ASSERT_ERR(seal_unwrap(badkey, pk, &w, "ctx", &back), JIT_E_ARG);
	secret_free(badkey);
	/* A low-order point as recipient is refused, not wrapped to. */
	{
		uint8_t zero[SEAL_X25519_LEN] = { 0 };

		ASSERT(seal_wrap(zero, key, "ctx", &w2) < 0);
	}
	ASSERT(back == NULL);
	secret_free(key);
	secret_free(sk);
	secret_free(sk2);
}

/* HKDF-SHA256 against RFC 5869, test case 1. */
TEST(hkdf_rfc5869_case1)
{
	static const char okm1_hex[] =
	    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
	    "34007208d5b887185865";
	uint8_t ikm[22], salt[13], okm[42];
	char info[11];
	struct secret *out = NULL;
	size_t n, i;

	memset(ikm, 0x0b, sizeof(ikm));
	for (i = 0; i < sizeof(salt); i++)
		salt[i] = (uint8_t)i;
	for (i = 0; i < 10; i++)
		info[i] = (char)(0xf0 + i);
	info[10] = '\0';

	ASSERT_EQ_INT(hex_to_bin(okm1_hex, okm, sizeof(okm), &n), 0);
	ASSERT_EQ_UINT(n, 42);
	ASSERT_OK(
	    seal_hkdf(ikm, sizeof(ikm), salt, sizeof(salt), info, 42, &out));
	ASSERT_EQ_UINT(secret_len(out), 42);
	ASSERT_EQ_MEM(secret_ptr(out), okm, 42);
	secret_free(out);
	out = NULL;

	/* A shorter output is a prefix of the longer one. */
	ASSERT_OK(
	    seal_hkdf(ikm, sizeof(ikm), salt, sizeof(salt), info, 16, &out));
	ASSERT_EQ_UINT(secret_len(out), 16);
	ASSERT_EQ_MEM(secret_ptr(out), okm, 16);
	secret_free(out);
	out = NULL;

	/* Another info, salt or key gives another output. */
	ASSERT_OK(
	    seal_hkdf(ikm, sizeof(ikm), salt, sizeof(salt), "other", 42, &out));
	ASSERT(memcmp(secret_ptr(out), okm, 42) != 0);
	secret_free(out);
	ASSERT_OK(seal_hkdf(
	    ikm, sizeof(ikm), salt, sizeof(salt) - 1, info, 42, &out));
	ASSERT(memcmp(secret_ptr(out), okm, 42) != 0);
	secret_free(out);
	ASSERT_OK(seal_hkdf(
	    ikm, sizeof(ikm) - 1, salt, sizeof(salt), info, 42, &out));
	ASSERT(memcmp(secret_ptr(out), okm, 42) != 0);
	secret_free(out);
}

/*
 * RFC 5869 test case 3: no salt and no info.  The salt is optional in the
 * RFC and seal.h does not say otherwise.
 * Regression: seal_hkdf() once failed with JIT_E_CRYPTO for salt == NULL,
 * saltlen == 0 (a NULL octet-string parameter for OpenSSL); fixed in
 * 87e16d7.
 */
TEST(hkdf_rfc5869_case3_no_salt)
{
	static const char okm3_hex[] =
	    "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
	    "9d201395faa4b61a96c8";
	static const uint8_t nosalt[1] = { 0 };
	uint8_t ikm[22], okm[42];
	struct secret *out = NULL;
	size_t n;

	memset(ikm, 0x0b, sizeof(ikm));
	ASSERT_EQ_INT(hex_to_bin(okm3_hex, okm, sizeof(okm), &n), 0);
	ASSERT_EQ_UINT(n, 42);
	/* The same empty salt at a real address: this much works. */
	ASSERT_OK(seal_hkdf(ikm, sizeof(ikm), nosalt, 0, "", 42, &out));
	ASSERT_EQ_MEM(secret_ptr(out), okm, 42);
	secret_free(out);
	out = NULL;
	/* No salt at all. */
	ASSERT_OK(seal_hkdf(ikm, sizeof(ikm), NULL, 0, "", 42, &out));
	ASSERT_EQ_MEM(secret_ptr(out), okm, 42);
	secret_free(out);
}

static const struct test_case tests[] = {
	TEST_ENTRY(aead_round_trip),
	TEST_ENTRY(aead_tamper),
	TEST_ENTRY(wrap_unwrap),
	TEST_ENTRY(hkdf_rfc5869_case1),
	TEST_ENTRY(hkdf_rfc5869_case3_no_salt),
};

TEST_MAIN(tests)
