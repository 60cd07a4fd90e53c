/* The cryptography of the store: data keys, AEAD and X25519 wraps. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sodium.h>

#include "err.h"
#include "seal.h"
#include "secret.h"

#define WRAP_INFO "jit-agent wrap v1 "
#define CONTEXT_MAX 256

int
seal_random_key(struct secret **ret)
{
	struct secret *k;
	int r;

	if ((r = secret_new(SEAL_KEY_LEN, &k)) != 0)
		return r;
	crypto_aead_xchacha20poly1305_ietf_keygen(secret_ptr(k));
	*ret = k;
	return JIT_OK;
}

int
seal_aead(const struct secret *key, const uint8_t *ad, size_t adlen,
    const struct secret *plain, uint8_t nonce[SEAL_NONCE_LEN], uint8_t **ret_ct,
    size_t *ret_ctlen)
{
	unsigned long long clen;
	uint8_t *ct;

	if (secret_len(key) != SEAL_KEY_LEN)
		return JIT_E_ARG;
	if ((ct = malloc(secret_len(plain) + SEAL_TAG_LEN)) == NULL)
		return JIT_E_NOMEM;
	randombytes_buf(nonce, SEAL_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, secret_ptr(plain),
	    secret_len(plain), ad, adlen, NULL, nonce, secret_ptr(key));
	*ret_ct = ct;
	*ret_ctlen = (size_t)clen;
	return JIT_OK;
}

int
seal_aead_open(const struct secret *key, const uint8_t *ad, size_t adlen,
    const uint8_t nonce[SEAL_NONCE_LEN], const uint8_t *ct, size_t ctlen,
    struct secret **ret_plain)
{
	struct secret *p = NULL;
	unsigned long long plen;
	int r;

	if (secret_len(key) != SEAL_KEY_LEN)
		return JIT_E_ARG;
	if (ctlen < SEAL_TAG_LEN)
		return JIT_E_FORMAT;
	if ((r = secret_new(ctlen - SEAL_TAG_LEN, &p)) != 0)
		return r;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(secret_ptr(p), &plen,
		NULL, ct, ctlen, ad, adlen, nonce, secret_ptr(key)) != 0) {
		secret_free(p);
		return JIT_E_AUTH;
	}
	*ret_plain = p;
	return JIT_OK;
}

/* Fetched once: a fetch per derivation costs more than the HKDF itself. */
static pthread_once_t hkdf_once = PTHREAD_ONCE_INIT;
static EVP_KDF *hkdf;

static void
hkdf_fetch(void)
{
	hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
}

int
seal_hkdf(const uint8_t *ikm, size_t ikmlen, const uint8_t *salt,
    size_t saltlen, const char *info, size_t outlen, struct secret **ret)
{
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[5], *p = params;
	struct secret *out = NULL;
	int r;

	if ((r = secret_new(outlen, &out)) != 0)
		return r;
	pthread_once(&hkdf_once, hkdf_fetch);
	if (hkdf == NULL || (kctx = EVP_KDF_CTX_new(hkdf)) == NULL) {
		r = JIT_E_CRYPTO;
		goto out;
	}
	*p++ = OSSL_PARAM_construct_utf8_string(
	    OSSL_KDF_PARAM_DIGEST, (char *)(uintptr_t) "SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_KEY, (void *)(uintptr_t)ikm, ikmlen);
	/* No salt means HashLen zeros (RFC 5869), OpenSSL's default. */
	if (saltlen > 0)
		*p++ = OSSL_PARAM_construct_octet_string(
		    OSSL_KDF_PARAM_SALT, (void *)(uintptr_t)salt, saltlen);
	if (info[0] != '\0')
		*p++ = OSSL_PARAM_construct_octet_string(
		    OSSL_KDF_PARAM_INFO, (void *)(uintptr_t)info, strlen(info));
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, secret_ptr(out), outlen, params) != 1) {
		r = JIT_E_CRYPTO;
		goto out;
	}
	*ret = out;
	out = NULL;
	r = JIT_OK;
out:
	EVP_KDF_CTX_free(kctx);
	secret_free(out);
	return r;
}

int
seal_x25519_keypair(uint8_t pk[SEAL_X25519_LEN], struct secret **ret_sk)
{
	struct secret *sk;
	int r;

	if ((r = secret_new(SEAL_X25519_LEN, &sk)) != 0)
		return r;
	randombytes_buf(secret_ptr(sk), SEAL_X25519_LEN);
	if (crypto_scalarmult_base(pk, secret_ptr(sk)) != 0) {
		secret_free(sk);
		return JIT_E_CRYPTO;
	}
	*ret_sk = sk;
	return JIT_OK;
}

/* KEK = HKDF(X25519(sk, pk), salt = epk || recipient, info = label ctx). */
static int
wrap_key(const uint8_t *sk, const uint8_t pk[SEAL_X25519_LEN],
    const uint8_t epk[SEAL_X25519_LEN], const uint8_t rcpt[SEAL_X25519_LEN],
    const char *context, struct secret **ret)
{
	struct secret *z = NULL;
	uint8_t salt[2 * SEAL_X25519_LEN];
	char info[sizeof(WRAP_INFO) + CONTEXT_MAX];
	int r;

	if (strlen(context) > CONTEXT_MAX)
		return JIT_E_LIMIT;
	if ((r = secret_new(SEAL_X25519_LEN, &z)) != 0)
		return r;
	/* Refuses low-order points (an all-zero shared secret). */
	if (crypto_scalarmult(secret_ptr(z), sk, pk) != 0) {
		r = JIT_E_CRYPTO;
		goto out;
	}
	memcpy(salt, epk, SEAL_X25519_LEN);
	memcpy(salt + SEAL_X25519_LEN, rcpt, SEAL_X25519_LEN);
	snprintf(info, sizeof(info), "%s%s", WRAP_INFO, context);
	r = seal_hkdf(secret_ptr(z), SEAL_X25519_LEN, salt, sizeof(salt), info,
	    SEAL_KEY_LEN, ret);
out:
	secret_free(z);
	return r;
}

int
seal_wrap(const uint8_t recipient[SEAL_X25519_LEN], const struct secret *key,
    const char *context, struct seal_wrap *out)
{
	struct secret *esk = NULL, *kek = NULL;
	struct seal_wrap w;
	int r;

	if (secret_len(key) != SEAL_KEY_LEN)
		return JIT_E_ARG;
	if ((r = seal_x25519_keypair(w.epk, &esk)) != 0 ||
	    (r = wrap_key(secret_ptr(esk), recipient, w.epk, recipient, context,
		 &kek)) != 0)
		goto out;
	randombytes_buf(w.nonce, sizeof(w.nonce));
	crypto_aead_xchacha20poly1305_ietf_encrypt(w.box, NULL, secret_ptr(key),
	    SEAL_KEY_LEN, (const uint8_t *)context, strlen(context), NULL,
	    w.nonce, secret_ptr(kek));
	*out = w;
	r = JIT_OK;
out:
	secret_free(esk);
	secret_free(kek);
	return r;
}

int
seal_unwrap(const struct secret *identity_sk,
    const uint8_t recipient[SEAL_X25519_LEN], const struct seal_wrap *w,
    const char *context, struct secret **ret_key)
{
	struct secret *kek = NULL, *key = NULL;
	int r;

	if (secret_len(identity_sk) != SEAL_X25519_LEN)
		return JIT_E_ARG;
	if ((r = wrap_key(secret_ptr(identity_sk), w->epk, w->epk, recipient,
		 context, &kek)) != 0 ||
	    (r = secret_new(SEAL_KEY_LEN, &key)) != 0)
		goto out;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(secret_ptr(key), NULL,
		NULL, w->box, sizeof(w->box), (const uint8_t *)context,
		strlen(context), w->nonce, secret_ptr(kek)) != 0) {
		r = JIT_E_AUTH;
		goto out;
	}
	*ret_key = key;
	key = NULL;
	r = JIT_OK;
out:
	secret_free(kek);
	secret_free(key);
	return r;
}
