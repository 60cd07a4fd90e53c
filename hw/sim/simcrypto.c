/* The simulator's cryptographic primitives over OpenSSL 3 EVP (no EC_KEY). */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "err.h"
#include "sim.h"

#define P256_GROUP_NAME "prime256v1"
#define P256_POINT_LEN 65 /* 0x04 || x || y */

int
sc_sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned int len = 0;

	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != 32)
		return JIT_E_CRYPTO;
	return JIT_OK;
}

/* HMAC-SHA-256 over m1 || m2 (m2 may be NULL). */
int
sc_hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *m1, size_t l1,
    const uint8_t *m2, size_t l2, uint8_t out[32])
{
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	char digest[] = "SHA256";
	size_t outlen = 0;
	int r = JIT_E_CRYPTO;

	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (ctx = EVP_MAC_CTX_new(mac)) == NULL ||
	    EVP_MAC_init(ctx, key, keylen, params) != 1 ||
	    (l1 > 0 && EVP_MAC_update(ctx, m1, l1) != 1) ||
	    (l2 > 0 && EVP_MAC_update(ctx, m2, l2) != 1) ||
	    EVP_MAC_final(ctx, out, &outlen, 32) != 1 || outlen != 32)
		goto out;
	r = JIT_OK;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return r;
}

int
sc_hkdf_sha256(const uint8_t *salt, size_t saltlen, const uint8_t *ikm,
    size_t ikmlen, const char *info, uint8_t *out, size_t outlen)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[5], *p = params;
	char digest[] = "SHA256";
	uint8_t nosalt[1] = { 0 };
	int r = JIT_E_CRYPTO;

	*p++ = OSSL_PARAM_construct_utf8_string(
	    OSSL_KDF_PARAM_DIGEST, digest, 0);
	/* The params API takes non-const pointers but only reads them. */
	*p++ = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_KEY, (void *)(uintptr_t)ikm, ikmlen);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    saltlen > 0 ? (void *)(uintptr_t)salt : nosalt, saltlen);
	*p++ = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_INFO, (void *)(uintptr_t)info, strlen(info));
	*p = OSSL_PARAM_construct_end();
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
	    (ctx = EVP_KDF_CTX_new(kdf)) == NULL ||
	    EVP_KDF_derive(ctx, out, outlen, params) != 1)
		goto out;
	r = JIT_OK;
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return r;
}

/* AES-256-CBC without padding: n must be a multiple of 16. */
int
sc_aes256_cbc(bool encrypt, const uint8_t key[32], const uint8_t iv[16],
    const uint8_t *in, size_t n, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	int len = 0, fin = 0, r = JIT_E_CRYPTO;

	if (n % 16 != 0 || n > INT32_MAX)
		return JIT_E_ARG;
	if (n == 0)
		return JIT_OK;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_CipherInit_ex(
		ctx, EVP_aes_256_cbc(), NULL, key, iv, encrypt ? 1 : 0) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
	    EVP_CipherUpdate(ctx, out, &len, in, (int)n) != 1 ||
	    EVP_CipherFinal_ex(ctx, out + len, &fin) != 1 ||
	    (size_t)len + (size_t)fin != n)
		goto out;
	r = JIT_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int
sc_p256_generate(EVP_PKEY **ret)
{
	EVP_PKEY *pk;

	if ((pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		return JIT_E_CRYPTO;
	*ret = pk;
	return JIT_OK;
}

static int
pkey_from_params(OSSL_PARAM_BLD *bld, int selection, EVP_PKEY **ret)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *check = NULL;
	EVP_PKEY *pk = NULL;
	int r = JIT_E_CRYPTO;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, selection, params) != 1)
		goto out;
	/* A peer's point must be on the curve (and not the identity). */
	if ((check = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL ||
	    EVP_PKEY_public_check(check) != 1) {
		r = JIT_E_FORMAT;
		goto out;
	}
	*ret = pk;
	pk = NULL;
	r = JIT_OK;
out:
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return r;
}

/* Rebuild a key pair from its private scalar (credential ids carry it). */
int
sc_p256_from_priv(const uint8_t d[32], EVP_PKEY **ret)
{
	EC_GROUP *group = NULL;
	EC_POINT *pub = NULL;
	BN_CTX *bnctx = NULL;
	BIGNUM *priv = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	uint8_t point[P256_POINT_LEN];
	int r = JIT_E_CRYPTO;

	if ((group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)) ==
		NULL ||
	    (pub = EC_POINT_new(group)) == NULL ||
	    (bnctx = BN_CTX_new()) == NULL ||
	    (priv = BN_secure_new()) == NULL || BN_bin2bn(d, 32, priv) == NULL)
		goto out;
	if (BN_is_zero(priv) || BN_cmp(priv, EC_GROUP_get0_order(group)) >= 0) {
		r = JIT_E_FORMAT;
		goto out;
	}
	if (EC_POINT_mul(group, pub, priv, NULL, NULL, bnctx) != 1 ||
	    EC_POINT_point2oct(group, pub, POINT_CONVERSION_UNCOMPRESSED, point,
		sizeof(point), bnctx) != sizeof(point))
		goto out;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(
		bld, OSSL_PKEY_PARAM_GROUP_NAME, P256_GROUP_NAME, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(
		bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv) != 1)
		goto out;
	r = pkey_from_params(bld, EVP_PKEY_KEYPAIR, ret);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(priv);
	BN_CTX_free(bnctx);
	EC_POINT_free(pub);
	EC_GROUP_free(group);
	return r;
}

int
sc_p256_priv(const EVP_PKEY *pk, uint8_t d[32])
{
	BIGNUM *priv = NULL;
	int r = JIT_E_CRYPTO;

	if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &priv) != 1 ||
	    BN_bn2binpad(priv, d, 32) != 32)
		goto out;
	r = JIT_OK;
out:
	BN_clear_free(priv);
	return r;
}

int
sc_p256_from_xy(const uint8_t x[32], const uint8_t y[32], EVP_PKEY **ret)
{
	OSSL_PARAM_BLD *bld = NULL;
	uint8_t point[P256_POINT_LEN];
	int r = JIT_E_CRYPTO;

	point[0] = POINT_CONVERSION_UNCOMPRESSED;
	memcpy(point + 1, x, 32);
	memcpy(point + 33, y, 32);
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(
		bld, OSSL_PKEY_PARAM_GROUP_NAME, P256_GROUP_NAME, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(
		bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) != 1)
		goto out;
	if ((r = pkey_from_params(bld, EVP_PKEY_PUBLIC_KEY, ret)) != 0) {
		ERR_clear_error(); /* a bad peer point is not our failure */
		r = JIT_E_FORMAT;
	}
out:
	OSSL_PARAM_BLD_free(bld);
	return r;
}

int
sc_p256_xy(const EVP_PKEY *pk, uint8_t x[32], uint8_t y[32])
{
	BIGNUM *bx = NULL, *by = NULL;
	int r = JIT_E_CRYPTO;

	if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
	    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1 ||
	    BN_bn2binpad(bx, x, 32) != 32 || BN_bn2binpad(by, y, 32) != 32)
		goto out;
	r = JIT_OK;
out:
	BN_free(bx);
	BN_free(by);
	return r;
}

/* ECDH: Z is the x coordinate of the shared point. */
int
sc_ecdh(EVP_PKEY *ours, EVP_PKEY *peer, uint8_t z[32])
{
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = 32;
	int r = JIT_E_CRYPTO;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, ours, NULL)) == NULL ||
	    EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer(ctx, peer) != 1 ||
	    EVP_PKEY_derive(ctx, z, &len) != 1 || len != 32)
		goto out;
	r = JIT_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* ES256 (DER-encoded ECDSA over SHA-256) of m1 || m2. */
int
sc_es256_sign(EVP_PKEY *pk, const uint8_t *m1, size_t l1, const uint8_t *m2,
    size_t l2, uint8_t *sig, size_t *siglen)
{
	EVP_MD_CTX *ctx = NULL;
	size_t len = SIM_ES256_SIG_MAX;
	int r = JIT_E_CRYPTO;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, pk, NULL) !=
		1 ||
	    EVP_DigestSignUpdate(ctx, m1, l1) != 1 ||
	    (l2 > 0 && EVP_DigestSignUpdate(ctx, m2, l2) != 1) ||
	    EVP_DigestSignFinal(ctx, sig, &len) != 1)
		goto out;
	*siglen = len;
	r = JIT_OK;
out:
	EVP_MD_CTX_free(ctx);
	return r;
}

int
sc_load_attestation(const char *key_path, const char *cert_path,
    EVP_PKEY **ret_key, uint8_t **ret_der, size_t *ret_len)
{
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	FILE *f = NULL;
	unsigned char *der = NULL;
	int len, r = JIT_E_FORMAT;

	if ((f = fopen(key_path, "re")) == NULL)
		return JIT_E_IO;
	pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (pk == NULL || !EVP_PKEY_is_a(pk, "EC"))
		goto out;
	if ((f = fopen(cert_path, "re")) == NULL) {
		r = JIT_E_IO;
		goto out;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL || (len = i2d_X509(x, &der)) <= 0)
		goto out;
	*ret_key = pk;
	pk = NULL;
	*ret_der = der;
	*ret_len = (size_t)len;
	r = JIT_OK;
out:
	EVP_PKEY_free(pk);
	X509_free(x);
	return r;
}
