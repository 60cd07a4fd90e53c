/* jit-sim-piv's cryptography over OpenSSL 3: EC keys, 3DES/AES, certificates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "err.h"
#include "simpiv.h"

#define CERT_DAYS 3650
#define ATTEST_CA_NAME "jit-sim-piv Attestation CA"
/* Yubico's PIV attestation extensions. */
#define OID_FIRMWARE "1.3.6.1.4.1.41482.3.3"
#define OID_SERIAL "1.3.6.1.4.1.41482.3.7"
#define OID_POLICY "1.3.6.1.4.1.41482.3.8"
#define OID_FORM_FACTOR "1.3.6.1.4.1.41482.3.9"

static const char *
curve_name(uint8_t alg)
{
	switch (alg) {
	case PIV_ALG_ECCP256: return "P-256";
	case PIV_ALG_ECCP384: return "P-384";
	default: return NULL;
	}
}

size_t
piv_ec_field_len(uint8_t alg)
{
	switch (alg) {
	case PIV_ALG_ECCP256: return 32;
	case PIV_ALG_ECCP384: return 48;
	default: return 0;
	}
}

int
piv_ec_generate(uint8_t alg, EVP_PKEY **ret)
{
	const char *name = curve_name(alg);
	EVP_PKEY *pk;

	if (name == NULL)
		return JIT_E_UNSUPPORTED;
	if ((pk = EVP_EC_gen(name)) == NULL)
		return JIT_E_CRYPTO;
	*ret = pk;
	return JIT_OK;
}

int
piv_ec_point(EVP_PKEY *pk, uint8_t *out, size_t cap, size_t *ret_len)
{
	size_t n = 0;

	if (EVP_PKEY_get_octet_string_param(
		pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out, cap, &n) != 1 ||
	    n == 0 || out[0] != 0x04)
		return JIT_E_CRYPTO;
	*ret_len = n;
	return JIT_OK;
}

int
piv_ec_sign(EVP_PKEY *pk, const uint8_t *dgst, size_t n, uint8_t *sig,
    size_t cap, size_t *ret_len)
{
	EVP_PKEY_CTX *ctx;
	size_t len = cap;
	int r = JIT_E_CRYPTO;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL)
		return JIT_E_NOMEM;
	if (EVP_PKEY_sign_init(ctx) != 1 ||
	    EVP_PKEY_sign(ctx, sig, &len, dgst, n) != 1)
		goto out;
	*ret_len = len;
	r = JIT_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	return r;
}

int
piv_ec_dh(EVP_PKEY *pk, const uint8_t *point, size_t n, uint8_t *out,
    size_t cap, size_t *ret_len)
{
	EVP_PKEY *peer = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = cap;
	int r = JIT_E_CRYPTO;

	if ((peer = EVP_PKEY_new()) == NULL ||
	    EVP_PKEY_copy_parameters(peer, pk) != 1 ||
	    EVP_PKEY_set1_encoded_public_key(peer, point, n) != 1)
		goto out;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL ||
	    EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer_ex(ctx, peer, 1) != 1 ||
	    EVP_PKEY_derive(ctx, out, &len) != 1)
		goto out;
	*ret_len = len;
	r = JIT_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	return r;
}

int
piv_key_to_der(EVP_PKEY *pk, uint8_t **ret, size_t *ret_len)
{
	unsigned char *der = NULL;
	int n;

	if ((n = i2d_PrivateKey(pk, &der)) <= 0)
		return JIT_E_CRYPTO;
	*ret = der;
	*ret_len = (size_t)n;
	return JIT_OK;
}

int
piv_key_from_der(const uint8_t *p, size_t n, uint8_t alg, EVP_PKEY **ret)
{
	const unsigned char *q = p;
	EVP_PKEY *pk;
	char group[32];
	size_t glen = 0;
	const char *want = alg == PIV_ALG_ECCP256 ? "prime256v1" :
	    alg == PIV_ALG_ECCP384                ? "secp384r1" :
						    NULL;

	if (want == NULL)
		return JIT_E_FORMAT;
	if ((pk = d2i_AutoPrivateKey(NULL, &q, (long)n)) == NULL)
		return JIT_E_FORMAT;
	if (q != p + n ||
	    EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
		group, sizeof(group), &glen) != 1 ||
	    strcmp(group, want) != 0) {
		EVP_PKEY_free(pk);
		return JIT_E_FORMAT;
	}
	*ret = pk;
	return JIT_OK;
}

size_t
piv_mgm_block_len(uint8_t alg)
{
	return alg == PIV_ALG_3DES ? 8 : piv_mgm_key_len(alg) ? 16 : 0;
}

size_t
piv_mgm_key_len(uint8_t alg)
{
	switch (alg) {
	case PIV_ALG_3DES: return 24;
	case PIV_ALG_AES128: return 16;
	case PIV_ALG_AES192: return 24;
	case PIV_ALG_AES256: return 32;
	default: return 0;
	}
}

int
piv_mgm_encrypt(uint8_t alg, const uint8_t *key, size_t keylen,
    const uint8_t *in, size_t n, uint8_t *out)
{
	const EVP_CIPHER *ciph;
	EVP_CIPHER_CTX *ctx;
	int len = 0, fin = 0, r = JIT_E_CRYPTO;

	switch (alg) {
	case PIV_ALG_3DES: ciph = EVP_des_ede3_ecb(); break;
	case PIV_ALG_AES128: ciph = EVP_aes_128_ecb(); break;
	case PIV_ALG_AES192: ciph = EVP_aes_192_ecb(); break;
	case PIV_ALG_AES256: ciph = EVP_aes_256_ecb(); break;
	default: return JIT_E_UNSUPPORTED;
	}
	if (keylen != piv_mgm_key_len(alg) || n != piv_mgm_block_len(alg))
		return JIT_E_ARG;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return JIT_E_NOMEM;
	if (EVP_EncryptInit_ex(ctx, ciph, NULL, key, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
	    EVP_EncryptUpdate(ctx, out, &len, in, (int)n) != 1 ||
	    EVP_EncryptFinal_ex(ctx, out + len, &fin) != 1 ||
	    (size_t)(len + fin) != n)
		goto out;
	r = JIT_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

/* --- certificates ---------------------------------------------------------- */

static int
add_ext(X509 *x, const char *oid, const uint8_t *p, size_t n)
{
	ASN1_OBJECT *obj = NULL;
	ASN1_OCTET_STRING *os = NULL;
	X509_EXTENSION *ext = NULL;
	int r = JIT_E_CRYPTO;

	if ((obj = OBJ_txt2obj(oid, 1)) == NULL ||
	    (os = ASN1_OCTET_STRING_new()) == NULL ||
	    ASN1_OCTET_STRING_set(os, p, (int)n) != 1 ||
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) == NULL ||
	    X509_add_ext(x, ext, -1) != 1)
		goto out;
	r = JIT_OK;
out:
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
	return r;
}

static int
add_basic(X509 *x, const char *name, const char *value)
{
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	int r;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf(NULL, &v3, name, value)) == NULL)
		return JIT_E_CRYPTO;
	r = X509_add_ext(x, ext, -1) == 1 ? JIT_OK : JIT_E_CRYPTO;
	X509_EXTENSION_free(ext);
	return r;
}

/* A certificate with a random serial for pub, signed by signer. */
static int
cert_new(
    EVP_PKEY *pub, const char *subject, const X509_NAME *issuer, X509 **ret)
{
	X509 *x;
	X509_NAME *name = NULL;
	ASN1_INTEGER *sn = NULL;
	BIGNUM *bn = NULL;
	uint8_t rnd[16];
	int r = JIT_E_CRYPTO;

	if ((x = X509_new()) == NULL)
		return JIT_E_NOMEM;
	randombytes_buf(rnd, sizeof(rnd));
	rnd[0] &= 0x7f;
	rnd[0] |= 0x01;
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    (bn = BN_bin2bn(rnd, sizeof(rnd), NULL)) == NULL ||
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    X509_set_serialNumber(x, sn) != 1 ||
	    (name = X509_NAME_new()) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
		(const unsigned char *)subject, -1, -1, 0) != 1 ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, issuer != NULL ? issuer : name) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), CERT_DAYS, 0, NULL) ==
		NULL ||
	    X509_set_pubkey(x, pub) != 1)
		goto out;
	*ret = x;
	x = NULL;
	r = JIT_OK;
out:
	X509_free(x);
	X509_NAME_free(name);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	return r;
}

static int
cert_finish(X509 *x, EVP_PKEY *signer, uint8_t **ret, size_t *ret_len)
{
	unsigned char *der = NULL;
	int n;

	if (X509_sign(x, signer, EVP_sha256()) <= 0 ||
	    (n = i2d_X509(x, &der)) <= 0)
		return JIT_E_CRYPTO;
	*ret = der;
	*ret_len = (size_t)n;
	return JIT_OK;
}

int
piv_cert_ca(EVP_PKEY *ca, uint32_t serial, EVP_PKEY *issuer_key,
    X509 *issuer_cert, uint8_t **ret, size_t *ret_len)
{
	char subject[80];
	X509 *x = NULL;
	int r;

	snprintf(subject, sizeof(subject), "%s %u", ATTEST_CA_NAME, serial);
	if ((r = cert_new(ca, subject,
		 issuer_cert != NULL ? X509_get_subject_name(issuer_cert) :
				       NULL,
		 &x)) != 0)
		return r;
	if ((r = add_basic(x, "basicConstraints", "critical,CA:TRUE")) != 0 ||
	    (r = add_basic(x, "keyUsage", "critical,keyCertSign")) != 0)
		goto out;
	r = cert_finish(x, issuer_key != NULL ? issuer_key : ca, ret, ret_len);
out:
	X509_free(x);
	return r;
}

int
piv_load_issuer(const char *key_path, const char *cert_path, EVP_PKEY **ret_key,
    X509 **ret_cert)
{
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	FILE *f;

	if ((f = fopen(key_path, "re")) != NULL) {
		pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if ((f = fopen(cert_path, "re")) != NULL) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (pk == NULL || x == NULL || X509_check_private_key(x, pk) != 1) {
		EVP_PKEY_free(pk);
		X509_free(x);
		return JIT_E_FORMAT;
	}
	*ret_key = pk;
	*ret_cert = x;
	return JIT_OK;
}

/* The f9 certificate, from its container in 5fff01. */
static int
ca_cert(const struct piv_card *c, X509 **ret)
{
	const struct piv_object *o = piv_object_get(c, 0x5fff01);
	const unsigned char *p;
	size_t len;

	/* 70 82 LL LL <DER> 71 01 00 fe 00, as piv_attestation_ca_new()
	 * wrote it. */
	if (o == NULL || o->len < 4 || o->data[0] != 0x70 || o->data[1] != 0x82)
		return JIT_E_FORMAT;
	len = (size_t)o->data[2] << 8 | o->data[3];
	if (len > o->len - 4)
		return JIT_E_FORMAT;
	p = o->data + 4;
	if ((*ret = d2i_X509(NULL, &p, (long)len)) == NULL)
		return JIT_E_FORMAT;
	return JIT_OK;
}

int
piv_cert_attest(const struct piv_card *c, uint8_t slot, const struct piv_key *k,
    uint8_t **ret, size_t *ret_len)
{
	char subject[64];
	X509 *ca = NULL, *x = NULL;
	ASN1_INTEGER *sn = NULL;
	unsigned char *snder = NULL;
	uint8_t pol[2] = { k->pin_policy, k->touch_policy }, ff = 0x01;
	int n, r;

	if ((r = ca_cert(c, &ca)) != 0)
		return r;
	snprintf(
	    subject, sizeof(subject), "YubiKey PIV Attestation %02x", slot);
	if ((r = cert_new(k->pk, subject, X509_get_subject_name(ca), &x)) != 0)
		goto out;
	r = JIT_E_CRYPTO;
	if ((sn = ASN1_INTEGER_new()) == NULL ||
	    ASN1_INTEGER_set_uint64(sn, c->serial) != 1 ||
	    (n = i2d_ASN1_INTEGER(sn, &snder)) <= 0)
		goto out;
	if ((r = add_ext(x, OID_FIRMWARE, c->version, 3)) != 0 ||
	    (r = add_ext(x, OID_SERIAL, snder, (size_t)n)) != 0 ||
	    (r = add_ext(x, OID_POLICY, pol, 2)) != 0 ||
	    (r = add_ext(x, OID_FORM_FACTOR, &ff, 1)) != 0)
		goto out;
	r = cert_finish(x, c->keys[PIV_ATTEST_INDEX].pk, ret, ret_len);
out:
	OPENSSL_free(snder);
	ASN1_INTEGER_free(sn);
	X509_free(x);
	X509_free(ca);
	return r;
}
