/* Token attestation: building the blob a backend keeps, and checking it
 * offline with OpenSSL (X509_STORE, X509_verify_cert, EVP_DigestVerify). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "attest.h"
#include "err.h"
#include "wire.h"

#define ATTEST_LABEL "jit-attest v1"
#define CHALLENGE_LABEL "jit-agent attest v1"
#define FIDO2_AUTHDATA_MAX 2048
#define FIDO2_SIG_MAX 512
#define FIDO2_RPID_MAX 128
#define FIDO2_AD_FLAG_AT 0x40
#define FIDO2_AAGUID_LEN 16
#define FIDO2_OID_AAGUID "1.3.6.1.4.1.45724.1.1.4"

int
attest_challenge(const char *type, const char *id, const uint8_t recipient[32],
    uint8_t out[ATTEST_CHALLENGE_LEN])
{
	crypto_hash_sha256_state h;

	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(
	    &h, (const uint8_t *)CHALLENGE_LABEL, sizeof(CHALLENGE_LABEL));
	crypto_hash_sha256_update(&h, (const uint8_t *)type, strlen(type) + 1);
	crypto_hash_sha256_update(&h, (const uint8_t *)id, strlen(id) + 1);
	crypto_hash_sha256_update(&h, recipient, 32);
	crypto_hash_sha256_final(&h, out);
	return JIT_OK;
}

/* Every blob starts with the label and its format, and holds at most
 * ATTEST_CERTS_MAX certificates. */
static int
blob_start(struct wire_writer *w, const char *fmt, size_t ncerts)
{
	int r;

	wire_writer_init(w, ATTEST_MAX, false);
	if (ncerts > ATTEST_CERTS_MAX)
		return JIT_E_LIMIT;
	if ((r = wire_put_cstring(w, ATTEST_LABEL)) != 0)
		return r;
	return wire_put_cstring(w, fmt);
}

/* Every statement ends with its certificates; then the blob is taken. */
static int
blob_finish(struct wire_writer *w, const uint8_t *const *certs,
    const size_t *lens, size_t n, uint8_t **ret, size_t *ret_len)
{
	size_t i;
	int r;

	if ((r = wire_put_u32(w, (uint32_t)n)) != 0)
		return r;
	for (i = 0; i < n; i++)
		if ((r = wire_put_string(w, certs[i], lens[i])) != 0)
			return r;
	return wire_writer_take(w, ret, ret_len);
}

int
attest_fido2_blob(const char *fmt, const uint8_t *authdata, size_t adlen,
    const char *rp_id, int32_t alg, const uint8_t *sig, size_t siglen,
    const uint8_t *const *certs, const size_t *lens, size_t n, uint8_t **ret,
    size_t *ret_len)
{
	struct wire_writer w;
	int r;

	if ((r = blob_start(&w, fmt, n)) != 0 ||
	    (r = wire_put_string(&w, authdata, adlen)) != 0 ||
	    (r = wire_put_cstring(&w, rp_id)) != 0 ||
	    (r = wire_put_u32(&w, (uint32_t)alg)) != 0 ||
	    (r = wire_put_string(&w, sig, siglen)) != 0)
		goto out;
	r = blob_finish(&w, certs, lens, n, ret, ret_len);
out:
	wire_writer_reset(&w);
	return r;
}

/* ---- certificates ---- */

/* Text from a certificate, shown to people: no control bytes. */
static void
printable(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static void
name_entry(X509_NAME *nm, int nid, char *out, size_t outlen)
{
	if (nm == NULL ||
	    X509_NAME_get_text_by_NID(nm, nid, out, (int)outlen) < 0)
		out[0] = '\0';
	printable(out);
}

static void
leaf_info(X509 *leaf, struct attest_info *ai)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(leaf);
	BIGNUM *bn = sn != NULL ? ASN1_INTEGER_to_BN(sn, NULL) : NULL;
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

	name_entry(X509_get_subject_name(leaf), NID_organizationName,
	    ai->vendor, sizeof(ai->vendor));
	X509_NAME_oneline(
	    X509_get_subject_name(leaf), ai->subject, sizeof(ai->subject));
	printable(ai->subject);
	if (ai->serial[0] == '\0')
		snprintf(ai->serial, sizeof(ai->serial), "%s",
		    hex != NULL ? hex : "");
	OPENSSL_free(hex);
	BN_free(bn);
}

static X509 *
der_cert(const uint8_t *p, size_t n)
{
	const unsigned char *q = p;
	X509 *x;

	if (n > ATTEST_CERT_MAX)
		return NULL;
	x = d2i_X509(NULL, &q, (long)n);
	/* Exactly one certificate: no trailing bytes. */
	if (x != NULL && q != p + n) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* A statement's certificates: u32 n, n x string (DER), pointed into r. */
static int
chain_get(struct wire_reader *r, const uint8_t *certs[ATTEST_CERTS_MAX],
    size_t lens[ATTEST_CERTS_MAX], size_t *ret_n)
{
	uint32_t n, i;

	if (wire_get_u32(r, &n) != 0 || n > ATTEST_CERTS_MAX)
		return JIT_E_FORMAT;
	for (i = 0; i < n; i++)
		if (wire_get_string(r, ATTEST_CERT_MAX, &certs[i], &lens[i]) !=
		    0)
			return JIT_E_FORMAT;
	*ret_n = n;
	return JIT_OK;
}

int
attest_chain_verify(const uint8_t *const *certs, const size_t *lens, size_t n,
    const char *roots, void **ret_leaf, char *why, size_t whylen)
{
	STACK_OF(X509) *untrusted = NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509 *leaf = NULL, *x, *bad;
	char subj[256];
	size_t i;
	int r = JIT_E_AUTH, err;

	if (n == 0) {
		snprintf(why, whylen, "it has no certificate chain");
		return JIT_E_AUTH;
	}
	if ((leaf = der_cert(certs[0], lens[0])) == NULL) {
		snprintf(why, whylen,
		    "its leaf certificate is not one DER X.509 certificate");
		return JIT_E_FORMAT;
	}
	if ((untrusted = sk_X509_new_null()) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	for (i = 1; i < n; i++) {
		if ((x = der_cert(certs[i], lens[i])) == NULL) {
			snprintf(why, whylen,
			    "certificate %zu of its chain is not one DER X.509 certificate",
			    i + 1);
			r = JIT_E_FORMAT;
			goto out;
		}
		if (!sk_X509_push(untrusted, x)) {
			X509_free(x);
			r = JIT_E_NOMEM;
			goto out;
		}
	}
	if (roots != NULL) {
		if ((store = X509_STORE_new()) == NULL ||
		    X509_STORE_load_file(store, roots) != 1) {
			snprintf(why, whylen,
			    "the attestation roots %s cannot be read as PEM certificates",
			    roots);
			r = JIT_E_CONFIG;
			goto out;
		}
		if ((ctx = X509_STORE_CTX_new()) == NULL ||
		    X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
			r = JIT_E_NOMEM;
			goto out;
		}
		if (X509_verify_cert(ctx) != 1) {
			err = X509_STORE_CTX_get_error(ctx);
			bad = X509_STORE_CTX_get_current_cert(ctx);
			subj[0] = '\0';
			if (bad != NULL)
				X509_NAME_oneline(X509_get_subject_name(bad),
				    subj, sizeof(subj));
			printable(subj);
			snprintf(why, whylen,
			    "its certificate chain does not lead to the attestation roots in %s: %s (at %s)",
			    roots, X509_verify_cert_error_string(err),
			    subj[0] != '\0' ? subj : "the leaf");
			r = JIT_E_AUTH;
			goto out;
		}
	}
	if (ret_leaf != NULL) {
		*ret_leaf = leaf;
		leaf = NULL;
	}
	r = JIT_OK;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_pop_free(untrusted, X509_free);
	X509_free(leaf);
	return r;
}

/* sig over m1 || m2 with the certificate's key (SHA-256, or EdDSA). */
static int
cert_verify_sig(X509 *x, const uint8_t *m1, size_t l1, const uint8_t *m2,
    size_t l2, const uint8_t *sig, size_t siglen)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	EVP_MD_CTX *md = NULL;
	uint8_t *m = NULL;
	int r = JIT_E_AUTH;

	if (pk == NULL || (md = EVP_MD_CTX_new()) == NULL ||
	    (m = malloc(l1 + l2)) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	memcpy(m, m1, l1);
	memcpy(m + l1, m2, l2);
	if (EVP_DigestVerifyInit(md, NULL,
		EVP_PKEY_get_id(pk) == EVP_PKEY_ED25519 ? NULL : EVP_sha256(),
		NULL, pk) == 1 &&
	    EVP_DigestVerify(md, sig, siglen, m, l1 + l2) == 1)
		r = JIT_OK;
out:
	free(m);
	EVP_MD_CTX_free(md);
	return r;
}

/* ---- FIDO2 ---- */

/* The value (extnValue's bytes) of the extension oid, if x has it once. */
static int
cert_ext(X509 *x, const char *oid, const uint8_t **ret, size_t *ret_len,
    bool *ret_has)
{
	ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
	const ASN1_OCTET_STRING *os;
	X509_EXTENSION *ext;
	int i, again;

	*ret_has = false;
	if (o == NULL)
		return JIT_E_NOMEM;
	i = X509_get_ext_by_OBJ(x, o, -1);
	again = i < 0 ? -1 : X509_get_ext_by_OBJ(x, o, i);
	ASN1_OBJECT_free(o);
	if (i < 0)
		return JIT_OK;
	if (again >= 0 || (ext = X509_get_ext(x, i)) == NULL ||
	    (os = X509_EXTENSION_get_data(ext)) == NULL ||
	    ASN1_STRING_length(os) < 0)
		return JIT_E_FORMAT;
	*ret = ASN1_STRING_get0_data(os);
	*ret_len = (size_t)ASN1_STRING_length(os);
	*ret_has = true;
	return JIT_OK;
}

/* The AAGUID the certificate names (id-fido-gen-ce-aaguid), if any:
 * an OCTET STRING holding the DER of a 16-byte OCTET STRING. */
static int
cert_aaguid(X509 *x, uint8_t out[FIDO2_AAGUID_LEN], bool *ret_has)
{
	struct wire_reader r;
	const uint8_t *p = NULL;
	size_t n = 0;
	int e;

	if ((e = cert_ext(x, FIDO2_OID_AAGUID, &p, &n, ret_has)) != 0 ||
	    !*ret_has)
		return e;
	*ret_has = false;
	wire_reader_init(&r, p, n);
	if (wire_expect(&r, "\x04\x10", 2) != 0 ||
	    wire_get_bytes(&r, out, FIDO2_AAGUID_LEN) != 0 || wire_end(&r) != 0)
		return JIT_E_FORMAT;
	*ret_has = true;
	return JIT_OK;
}

static void
aaguid_text(const uint8_t a[FIDO2_AAGUID_LEN], char *out, size_t outlen)
{
	char hex[FIDO2_AAGUID_LEN * 2 + 1];

	sodium_bin2hex(hex, sizeof(hex), a, FIDO2_AAGUID_LEN);
	snprintf(out, outlen, "AAGUID %.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8,
	    hex + 12, hex + 16, hex + 20);
}

struct fido2_stmt {
	const uint8_t *ad, *sig;
	size_t adlen, siglen;
	char *rp_id;
	uint32_t alg;
	const uint8_t *certs[ATTEST_CERTS_MAX];
	size_t lens[ATTEST_CERTS_MAX];
	size_t n;
};

static int
fido2_parse(struct wire_reader *r, struct fido2_stmt *s)
{
	int e;

	if ((e = wire_get_string(r, FIDO2_AUTHDATA_MAX, &s->ad, &s->adlen)) !=
		0 ||
	    (e = wire_get_cstring(r, FIDO2_RPID_MAX, &s->rp_id)) != 0 ||
	    (e = wire_get_u32(r, &s->alg)) != 0 ||
	    (e = wire_get_string(r, FIDO2_SIG_MAX, &s->sig, &s->siglen)) != 0 ||
	    (e = chain_get(r, s->certs, s->lens, &s->n)) != 0)
		return e;
	return wire_end(r);
}

/* rpIdHash, flags, counter, then (AT) the AAGUID. */
static int
fido2_authdata(const struct fido2_stmt *s, uint8_t aaguid[FIDO2_AAGUID_LEN],
    char *why, size_t whylen)
{
	uint8_t rph[32], want[32], flags;
	struct wire_reader r;
	uint32_t counter;

	wire_reader_init(&r, s->ad, s->adlen);
	if (wire_get_bytes(&r, rph, sizeof(rph)) != 0 ||
	    wire_get_u8(&r, &flags) != 0 || wire_get_u32(&r, &counter) != 0 ||
	    (flags & FIDO2_AD_FLAG_AT) == 0 ||
	    wire_get_bytes(&r, aaguid, FIDO2_AAGUID_LEN) != 0) {
		snprintf(why, whylen,
		    "its authenticator data is cut short or holds no credential");
		return JIT_E_FORMAT;
	}
	crypto_hash_sha256(want, (const uint8_t *)s->rp_id, strlen(s->rp_id));
	if (sodium_memcmp(rph, want, sizeof(want)) != 0) {
		snprintf(why, whylen,
		    "its authenticator data is not for the relying party it names");
		return JIT_E_AUTH;
	}
	return JIT_OK;
}

static int
fido2_verify(struct wire_reader *r, const char *fmt,
    const uint8_t chal[ATTEST_CHALLENGE_LEN], const char *roots,
    struct attest_info *ai, char *why, size_t whylen)
{
	struct fido2_stmt s;
	uint8_t aaguid[FIDO2_AAGUID_LEN], cert_id[FIDO2_AAGUID_LEN];
	bool has_id;
	void *leafp = NULL;
	X509 *leaf;
	int e;

	memset(&s, 0, sizeof(s));
	if ((e = fido2_parse(r, &s)) != 0) {
		snprintf(why, whylen,
		    "its FIDO2 statement is cut short or malformed");
		goto out;
	}
	if ((e = fido2_authdata(&s, aaguid, why, whylen)) != 0)
		goto out;
	aaguid_text(aaguid, ai->model, sizeof(ai->model));
	if (strcmp(fmt, "fido2-packed") != 0 || s.n == 0) {
		/* none, or self: the credential's own key signed; libfido2
		 * checked it at enrollment, and it proves nothing about who
		 * made the token. */
		if (roots != NULL) {
			snprintf(why, whylen,
			    "the token gave %s attestation: no certificate chain proves who made it",
			    strcmp(fmt, "fido2-none") == 0 ? "no" :
							     "only self");
			e = JIT_E_AUTH;
			goto out;
		}
		e = JIT_OK;
		goto out;
	}
	ai->chained = true;
	if ((e = attest_chain_verify(
		 s.certs, s.lens, s.n, roots, &leafp, why, whylen)) != 0)
		goto out;
	leaf = leafp;
	ai->roots_checked = roots != NULL;
	leaf_info(leaf, ai);
	if ((e = cert_verify_sig(leaf, s.ad, s.adlen, chal,
		 ATTEST_CHALLENGE_LEN, s.sig, s.siglen)) != 0) {
		snprintf(why, whylen,
		    "its signature does not verify with its certificate for this recipient: it was made for another key, or edited");
		goto free_leaf;
	}
	if ((e = cert_aaguid(leaf, cert_id, &has_id)) != 0) {
		snprintf(why, whylen,
		    "its certificate's AAGUID extension is malformed");
		goto free_leaf;
	}
	if (has_id && sodium_memcmp(cert_id, aaguid, sizeof(aaguid)) != 0) {
		snprintf(why, whylen,
		    "its certificate is for another model (AAGUID) than the token says");
		e = JIT_E_AUTH;
		goto free_leaf;
	}
	e = JIT_OK;
free_leaf:
	X509_free(leaf);
out:
	free(s.rp_id);
	return e;
}

/* ---- TPM 2.0 ---- */

#define TPM_GENERATED_VALUE 0xff544347u
#define TPM_ST_ATTEST_CERTIFY 0x8017u
#define TPM_ALG_ECC 0x0023u
#define TPM_ALG_SHA256 0x000bu
#define TPM_ALG_NULL 0x0010u
#define TPM_ECC_NIST_P256 0x0003u
#define TPMA_FIXEDTPM (1u << 1)
#define TPMA_FIXEDPARENT (1u << 4)
#define TPMA_SENSITIVEDATAORIGIN (1u << 5)
#define TPMA_RESTRICTED (1u << 16)
#define TPMA_DECRYPT (1u << 17)
#define TPMA_SIGN (1u << 18)
#define TPM_PUBLIC_MAX 1024
#define TPM_ATTEST_MAX 1024
#define TPM_SIG_LEN 64
#define TPM_COORD_LEN 32
#define TPM_NAME_LEN (2 + 32) /* SHA-256 nameAlg || digest */
/* TCG EK Credential Profile: the TPM's manufacturer, model, version in
 * the EK certificate's subjectAltName (a directoryName). */
#define TCG_OID_MANUFACTURER "2.23.133.2.1"
#define TCG_OID_MODEL "2.23.133.2.2"
#define TCG_OID_VERSION "2.23.133.2.3"

int
attest_tpm2_blob(const uint8_t *info, size_t infolen, const uint8_t *sig,
    size_t siglen, const uint8_t *akpub, size_t akpublen, const uint8_t *keypub,
    size_t keypublen, const uint8_t *const *certs, const size_t *lens, size_t n,
    uint8_t **ret, size_t *ret_len)
{
	struct wire_writer w;
	int r;

	if ((r = blob_start(&w, "tpm2", n)) != 0 ||
	    (r = wire_put_string(&w, info, infolen)) != 0 ||
	    (r = wire_put_string(&w, sig, siglen)) != 0 ||
	    (r = wire_put_string(&w, akpub, akpublen)) != 0 ||
	    (r = wire_put_string(&w, keypub, keypublen)) != 0)
		goto out;
	r = blob_finish(&w, certs, lens, n, ret, ret_len);
out:
	wire_writer_reset(&w);
	return r;
}

/* A TPM2B: a u16 size, then the bytes (pointed into the input). */
static int
tpm2b(struct wire_reader *r, size_t max, const uint8_t **ret, size_t *ret_len)
{
	uint16_t n;
	const uint8_t *p = wire_cursor(r);

	if (wire_get_u16(r, &n) != 0 || n > max || wire_skip(r, n) != 0)
		return JIT_E_FORMAT;
	*ret = p + 2;
	*ret_len = n;
	return JIT_OK;
}

struct tpm_public {
	uint16_t type, name_alg;
	uint32_t attrs;
	uint16_t scheme, curve;
	const uint8_t *x, *y;
	size_t xlen, ylen;
};

/* An ECC TPMT_PUBLIC: the attributes, the scheme, the point. */
static int
tpm_public_parse(const uint8_t *p, size_t n, struct tpm_public *ret)
{
	struct wire_reader r;
	const uint8_t *skip;
	uint16_t alg, v;
	size_t len;

	wire_reader_init(&r, p, n);
	if (wire_get_u16(&r, &ret->type) != 0 || ret->type != TPM_ALG_ECC ||
	    wire_get_u16(&r, &ret->name_alg) != 0 ||
	    wire_get_u32(&r, &ret->attrs) != 0 ||
	    tpm2b(&r, 64, &skip, &len) != 0 || /* authPolicy */
	    wire_get_u16(&r, &alg) != 0 || /* symmetric */
	    (alg != TPM_ALG_NULL &&
		(wire_get_u16(&r, &v) != 0 || wire_get_u16(&r, &v) != 0)) ||
	    wire_get_u16(&r, &ret->scheme) != 0 ||
	    (ret->scheme != TPM_ALG_NULL && wire_get_u16(&r, &v) != 0) ||
	    wire_get_u16(&r, &ret->curve) != 0 ||
	    wire_get_u16(&r, &alg) != 0 || /* kdf */
	    (alg != TPM_ALG_NULL && wire_get_u16(&r, &v) != 0) ||
	    tpm2b(&r, TPM_COORD_LEN, &ret->x, &ret->xlen) != 0 ||
	    tpm2b(&r, TPM_COORD_LEN, &ret->y, &ret->ylen) != 0 ||
	    wire_end(&r) != 0)
		return JIT_E_FORMAT;
	return JIT_OK;
}

/* The AK's public key as OpenSSL's, from its point. */
static int
tpm_ak_key(const struct tpm_public *ak, EVP_PKEY **ret)
{
	uint8_t point[1 + 2 * TPM_COORD_LEN];
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	int r = JIT_E_FORMAT;

	if (ak->curve != TPM_ECC_NIST_P256 || ak->xlen > TPM_COORD_LEN ||
	    ak->ylen > TPM_COORD_LEN)
		return JIT_E_FORMAT;
	memset(point, 0, sizeof(point));
	point[0] = 0x04;
	memcpy(point + 1 + TPM_COORD_LEN - ak->xlen, ak->x, ak->xlen);
	memcpy(point + 1 + 2 * TPM_COORD_LEN - ak->ylen, ak->y, ak->ylen);
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, (char *)(uintptr_t) "prime256v1", 0);
	params[1] = OSSL_PARAM_construct_octet_string(
	    OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
	params[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) != NULL &&
	    EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, ret, EVP_PKEY_PUBLIC_KEY, params) == 1)
		r = JIT_OK;
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* ECDSA r || s over m (SHA-256) with the AK. */
static int
tpm_sig_verify(EVP_PKEY *pk, const uint8_t *sig, const uint8_t *m, size_t n)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *br, *bs;
	EVP_MD_CTX *md = NULL;
	unsigned char *der = NULL;
	int len, r = JIT_E_AUTH;

	br = BN_bin2bn(sig, TPM_COORD_LEN, NULL);
	bs = BN_bin2bn(sig + TPM_COORD_LEN, TPM_COORD_LEN, NULL);
	if (br == NULL || bs == NULL || (es = ECDSA_SIG_new()) == NULL ||
	    ECDSA_SIG_set0(es, br, bs) != 1) {
		BN_free(br);
		BN_free(bs);
		r = JIT_E_NOMEM;
		goto out;
	}
	if ((len = i2d_ECDSA_SIG(es, &der)) <= 0 ||
	    (md = EVP_MD_CTX_new()) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
	    EVP_DigestVerify(md, der, (size_t)len, m, n) == 1)
		r = JIT_OK;
out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	return r;
}

/* TPMS_ATTEST of a TPM2_Certify: the extra data and the certified name. */
static int
tpm_certify_parse(const uint8_t *p, size_t n, const uint8_t **extra,
    size_t *extralen, const uint8_t **name, size_t *namelen)
{
	struct wire_reader r;
	const uint8_t *skip;
	uint32_t magic;
	uint16_t type;
	size_t len;

	wire_reader_init(&r, p, n);
	if (wire_get_u32(&r, &magic) != 0 || magic != TPM_GENERATED_VALUE ||
	    wire_get_u16(&r, &type) != 0 || type != TPM_ST_ATTEST_CERTIFY ||
	    tpm2b(&r, 64, &skip, &len) != 0 || /* qualifiedSigner */
	    tpm2b(&r, 64, extra, extralen) != 0 ||
	    wire_skip(&r, 8 + 4 + 4 + 1 + 8) != 0 || /* clock, firmware */
	    tpm2b(&r, 64, name, namelen) != 0 ||
	    tpm2b(&r, 64, &skip, &len) != 0 || /* qualifiedName */
	    wire_end(&r) != 0)
		return JIT_E_FORMAT;
	return JIT_OK;
}

/* Manufacturer, model and version from the EK certificate's SAN. */
static void
tpm_ek_info(X509 *ek, struct attest_info *ai)
{
	static const char *const oids[] = { TCG_OID_MANUFACTURER, TCG_OID_MODEL,
		TCG_OID_VERSION };
	char val[3][32];
	GENERAL_NAMES *gens;
	GENERAL_NAME *g;
	ASN1_OBJECT *o;
	int i, k, at;

	memset(val, 0, sizeof(val));
	gens = X509_get_ext_d2i(ek, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_DIRNAME)
			continue;
		for (k = 0; k < 3; k++) {
			if ((o = OBJ_txt2obj(oids[k], 1)) == NULL)
				continue;
			at = X509_NAME_get_index_by_OBJ(g->d.dirn, o, -1);
			if (at >= 0)
				snprintf(val[k], sizeof(val[k]), "%.*s",
				    ASN1_STRING_length(X509_NAME_ENTRY_get_data(
					X509_NAME_get_entry(g->d.dirn, at))),
				    (const char *)ASN1_STRING_get0_data(
					X509_NAME_ENTRY_get_data(
					    X509_NAME_get_entry(
						g->d.dirn, at))));
			ASN1_OBJECT_free(o);
		}
	}
	GENERAL_NAMES_free(gens);
	for (k = 0; k < 3; k++)
		printable(val[k]);
	snprintf(ai->model, sizeof(ai->model),
	    "TPM manufacturer %.30s, model %.30s, version %.30s",
	    val[0][0] ? val[0] : "?", val[1][0] ? val[1] : "?",
	    val[2][0] ? val[2] : "?");
}

static int
tpm2_verify(struct wire_reader *r, const uint8_t chal[ATTEST_CHALLENGE_LEN],
    const char *roots, struct attest_info *ai, char *why, size_t whylen)
{
	const uint8_t *info, *sig, *akp, *keyp, *extra, *name;
	const uint8_t *certs[ATTEST_CERTS_MAX];
	size_t infolen, siglen, akplen, keyplen, extralen, namelen;
	size_t lens[ATTEST_CERTS_MAX], n;
	uint8_t want[TPM_NAME_LEN];
	struct tpm_public ak, key;
	EVP_PKEY *akkey = NULL;
	void *leafp = NULL;
	int e = JIT_E_FORMAT;

	if (wire_get_string(r, TPM_ATTEST_MAX, &info, &infolen) != 0 ||
	    wire_get_string(r, TPM_SIG_LEN, &sig, &siglen) != 0 ||
	    siglen != TPM_SIG_LEN ||
	    wire_get_string(r, TPM_PUBLIC_MAX, &akp, &akplen) != 0 ||
	    wire_get_string(r, TPM_PUBLIC_MAX, &keyp, &keyplen) != 0 ||
	    chain_get(r, certs, lens, &n) != 0 || n == 0 || wire_end(r) != 0 ||
	    tpm_public_parse(akp, akplen, &ak) != 0 ||
	    tpm_public_parse(keyp, keyplen, &key) != 0 ||
	    tpm_certify_parse(
		info, infolen, &extra, &extralen, &name, &namelen) != 0) {
		snprintf(
		    why, whylen, "its TPM statement is cut short or malformed");
		return JIT_E_FORMAT;
	}
	ai->chained = true;
	if ((e = attest_chain_verify(
		 certs, lens, n, roots, &leafp, why, whylen)) != 0)
		return e;
	ai->roots_checked = roots != NULL;
	leaf_info(leafp, ai);
	tpm_ek_info(leafp, ai);
	X509_free(leafp);
	e = JIT_E_AUTH;
	/* The AK: a restricted signing key that cannot leave its TPM. */
	if ((ak.attrs & (TPMA_FIXEDTPM | TPMA_RESTRICTED | TPMA_SIGN)) !=
		(TPMA_FIXEDTPM | TPMA_RESTRICTED | TPMA_SIGN) ||
	    (ak.attrs & TPMA_DECRYPT) != 0) {
		snprintf(why, whylen,
		    "its attestation key is not a restricted signing key fixed to its TPM");
		goto out;
	}
	if (tpm_ak_key(&ak, &akkey) != 0 ||
	    tpm_sig_verify(akkey, sig, info, infolen) != 0) {
		snprintf(why, whylen,
		    "its TPM2_Certify signature does not verify with its attestation key");
		goto out;
	}
	if (extralen != ATTEST_CHALLENGE_LEN ||
	    sodium_memcmp(extra, chal, ATTEST_CHALLENGE_LEN) != 0) {
		snprintf(why, whylen,
		    "its TPM2_Certify was made for another recipient");
		goto out;
	}
	/* The certified name is the wrapping key's: SHA-256 of its public. */
	want[0] = 0x00;
	want[1] = 0x0b;
	crypto_hash_sha256(want + 2, keyp, keyplen);
	if (key.name_alg != TPM_ALG_SHA256 || namelen != sizeof(want) ||
	    sodium_memcmp(name, want, sizeof(want)) != 0) {
		snprintf(why, whylen,
		    "its TPM2_Certify certifies another key than the one it names");
		goto out;
	}
	if ((key.attrs &
		(TPMA_FIXEDTPM | TPMA_FIXEDPARENT |
		    TPMA_SENSITIVEDATAORIGIN)) !=
	    (TPMA_FIXEDTPM | TPMA_FIXEDPARENT | TPMA_SENSITIVEDATAORIGIN)) {
		snprintf(why, whylen,
		    "its wrapping key could leave the TPM (not fixedTPM, fixedParent, sensitiveDataOrigin)");
		goto out;
	}
	e = JIT_OK;
out:
	EVP_PKEY_free(akkey);
	return e;
}

/* ---- PIV ---- */

#define PIV_SIG_MAX 80 /* DER ECDSA P-256: at most 72 bytes */
#define PIV_COORD_BITS 256
/* Yubico's PIV attestation extensions (developers.yubico.com, PIV
 * attestation): firmware (3 bytes), serial (a DER INTEGER), PIN and touch
 * policy (2 bytes), form factor (1 byte). */
#define YK_OID_FIRMWARE "1.3.6.1.4.1.41482.3.3"
#define YK_OID_SERIAL "1.3.6.1.4.1.41482.3.7"
#define YK_OID_POLICY "1.3.6.1.4.1.41482.3.8"
#define YK_OID_FORM_FACTOR "1.3.6.1.4.1.41482.3.9"
#define YK_SERIAL_DER_MAX 16
#define YK_FORM_FACTOR_MASK 0x0f /* the high bits are flags (FIPS...) */

int
attest_piv_blob(const uint8_t *sig, size_t siglen, const uint8_t *const *certs,
    const size_t *lens, size_t n, uint8_t **ret, size_t *ret_len)
{
	struct wire_writer w;
	int r;

	if ((r = blob_start(&w, "piv", n)) != 0 ||
	    (r = wire_put_string(&w, sig, siglen)) != 0)
		goto out;
	r = blob_finish(&w, certs, lens, n, ret, ret_len);
out:
	wire_writer_reset(&w);
	return r;
}

static const char *
yk_pin_policy(uint8_t v)
{
	static const char *const names[] = { "default", "never", "once",
		"always", "match-once", "match-always" };

	return v < sizeof(names) / sizeof(*names) ? names[v] : NULL;
}

static const char *
yk_touch_policy(uint8_t v)
{
	static const char *const names[] = { "default", "never", "always",
		"cached" };

	return v < sizeof(names) / sizeof(*names) ? names[v] : NULL;
}

static const char *
yk_form_factor(uint8_t v)
{
	static const char *const names[] = { "unknown form factor",
		"USB-A keychain", "USB-A nano", "USB-C keychain", "USB-C nano",
		"USB-C and Lightning", "USB-A Bio", "USB-C Bio" };

	v &= YK_FORM_FACTOR_MASK;
	return v < sizeof(names) / sizeof(*names) ? names[v] : NULL;
}

/* The card's serial: a non-negative DER INTEGER, all of the value. */
static int
yk_serial(const uint8_t *p, size_t n, uint64_t *ret)
{
	const unsigned char *q = p;
	ASN1_INTEGER *ai;
	int r = JIT_E_FORMAT;

	if (n == 0 || n > YK_SERIAL_DER_MAX ||
	    (ai = d2i_ASN1_INTEGER(NULL, &q, (long)n)) == NULL)
		return JIT_E_FORMAT;
	if (q == p + n && ASN1_INTEGER_get_uint64(ret, ai) == 1)
		r = JIT_OK;
	ASN1_INTEGER_free(ai);
	return r;
}

/* What Yubico's extensions on the slot's certificate say, into ai.  Each
 * is optional (another PIV card has none); one present must be well
 * formed. */
static int
yk_info(X509 *slot, struct attest_info *ai, char *why, size_t whylen)
{
	const uint8_t *p = NULL;
	const char *pin, *touch, *ff = NULL;
	char ffbuf[24], pinbuf[8], touchbuf[8];
	uint64_t serial;
	size_t n = 0;
	bool has;

	if (cert_ext(slot, YK_OID_FIRMWARE, &p, &n, &has) != 0 ||
	    (has && n != 3))
		goto bad;
	if (has)
		snprintf(ai->firmware, sizeof(ai->firmware), "%u.%u.%u", p[0],
		    p[1], p[2]);
	if (cert_ext(slot, YK_OID_SERIAL, &p, &n, &has) != 0 ||
	    (has && yk_serial(p, n, &serial) != 0))
		goto bad;
	if (has)
		snprintf(ai->serial, sizeof(ai->serial), "%llu",
		    (unsigned long long)serial);
	if (cert_ext(slot, YK_OID_POLICY, &p, &n, &has) != 0 || (has && n != 2))
		goto bad;
	if (has) {
		snprintf(pinbuf, sizeof(pinbuf), "0x%02x", p[0]);
		snprintf(touchbuf, sizeof(touchbuf), "0x%02x", p[1]);
		pin = yk_pin_policy(p[0]);
		touch = yk_touch_policy(p[1]);
		snprintf(ai->policy, sizeof(ai->policy), "PIN %s, touch %s",
		    pin != NULL ? pin : pinbuf,
		    touch != NULL ? touch : touchbuf);
	}
	if (cert_ext(slot, YK_OID_FORM_FACTOR, &p, &n, &has) != 0 ||
	    (has && n != 1))
		goto bad;
	if (has && (ff = yk_form_factor(p[0])) == NULL) {
		snprintf(ffbuf, sizeof(ffbuf), "form factor 0x%02x", p[0]);
		ff = ffbuf;
	}
	if (ai->firmware[0] != '\0')
		snprintf(ai->model, sizeof(ai->model), "YubiKey %c (PIV)%s%s",
		    ai->firmware[0], ff != NULL ? ", " : "",
		    ff != NULL ? ff : "");
	else
		snprintf(ai->model, sizeof(ai->model), "PIV card%s%s",
		    ff != NULL ? ", " : "", ff != NULL ? ff : "");
	return JIT_OK;
bad:
	snprintf(why, whylen,
	    "its slot certificate carries a malformed Yubico extension (firmware, serial, policy or form factor)");
	return JIT_E_FORMAT;
}

/* Who vouches for the card: the organisation (else the name) that issued
 * the f9 certificate. */
static void
piv_vendor(X509 *f9, struct attest_info *ai)
{
	X509_NAME *issuer = X509_get_issuer_name(f9);

	name_entry(
	    issuer, NID_organizationName, ai->vendor, sizeof(ai->vendor));
	if (ai->vendor[0] == '\0')
		name_entry(
		    issuer, NID_commonName, ai->vendor, sizeof(ai->vendor));
}

/* The challenge, as the digest, signed (ECDSA P-256) by the slot's key. */
static int
piv_sig_verify(X509 *slot, const uint8_t chal[ATTEST_CHALLENGE_LEN],
    const uint8_t *sig, size_t siglen)
{
	EVP_PKEY *pk = X509_get0_pubkey(slot);
	EVP_PKEY_CTX *ctx = NULL;
	int r = JIT_E_AUTH;

	if (pk == NULL || !EVP_PKEY_is_a(pk, "EC") ||
	    EVP_PKEY_get_bits(pk) != PIV_COORD_BITS)
		return JIT_E_AUTH;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL)
		return JIT_E_NOMEM;
	if (EVP_PKEY_verify_init(ctx) == 1 &&
	    EVP_PKEY_verify(ctx, sig, siglen, chal, ATTEST_CHALLENGE_LEN) == 1)
		r = JIT_OK;
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/*
 * The slot's certificate is signed by f9's key (checked here: some
 * YubiKey 4 f9 certificates are not marked as CAs, so OpenSSL would not
 * take f9 as an issuer); f9's certificate leads to the roots; the slot's
 * key signed this recipient's challenge.
 */
static int
piv_verify(struct wire_reader *r, const uint8_t chal[ATTEST_CHALLENGE_LEN],
    const char *roots, struct attest_info *ai, char *why, size_t whylen)
{
	const uint8_t *certs[ATTEST_CERTS_MAX], *sig;
	size_t lens[ATTEST_CERTS_MAX], siglen, n;
	X509 *slot = NULL, *f9 = NULL;
	EVP_PKEY *f9key;
	int e = JIT_E_FORMAT;

	if (wire_get_string(r, PIV_SIG_MAX, &sig, &siglen) != 0 ||
	    chain_get(r, certs, lens, &n) != 0 || wire_end(r) != 0) {
		snprintf(
		    why, whylen, "its PIV statement is cut short or malformed");
		return JIT_E_FORMAT;
	}
	if (n < 2) {
		snprintf(why, whylen,
		    "it has no certificate chain: a PIV attestation is the slot's certificate and the card's attestation certificate (f9)");
		return JIT_E_AUTH;
	}
	if ((slot = der_cert(certs[0], lens[0])) == NULL ||
	    (f9 = der_cert(certs[1], lens[1])) == NULL) {
		snprintf(why, whylen,
		    "its slot or f9 certificate is not one DER X.509 certificate");
		goto out;
	}
	ai->chained = true;
	e = JIT_E_AUTH;
	if ((f9key = X509_get0_pubkey(f9)) == NULL ||
	    X509_verify(slot, f9key) != 1) {
		snprintf(why, whylen,
		    "its slot certificate is not signed by the card's attestation key (f9): the chain was edited or put together from two cards");
		goto out;
	}
	if ((e = attest_chain_verify(
		 certs + 1, lens + 1, n - 1, roots, NULL, why, whylen)) != 0)
		goto out;
	ai->roots_checked = roots != NULL;
	if ((e = yk_info(slot, ai, why, whylen)) != 0)
		goto out;
	leaf_info(slot, ai);
	piv_vendor(f9, ai);
	if ((e = piv_sig_verify(slot, chal, sig, siglen)) != 0) {
		snprintf(why, whylen,
		    "the key its slot certificate attests did not sign this recipient: the certificate is for another key than the token's, or the recipient was swapped");
		goto out;
	}
	e = JIT_OK;
out:
	X509_free(slot);
	X509_free(f9);
	return e;
}

/* ---- the blob ---- */

int
attest_verify(const uint8_t *blob, size_t len, const char *type, const char *id,
    const uint8_t recipient[32], const char *roots, struct attest_info *ai,
    char *why, size_t whylen)
{
	uint8_t chal[ATTEST_CHALLENGE_LEN];
	struct wire_reader r;
	char *fmt = NULL;
	int e;

	memset(ai, 0, sizeof(*ai));
	why[0] = '\0';
	wire_reader_init(&r, blob, len);
	if (len > ATTEST_MAX ||
	    wire_expect(
		&r, "\0\0\0\x0d" ATTEST_LABEL, 4 + strlen(ATTEST_LABEL)) != 0 ||
	    wire_get_cstring(&r, sizeof(ai->format) - 1, &fmt) != 0) {
		snprintf(
		    why, whylen, "it is not an attestation of this version");
		e = JIT_E_FORMAT;
		goto out;
	}
	snprintf(ai->format, sizeof(ai->format), "%s", fmt);
	attest_challenge(type, id, recipient, chal);
	if (strncmp(fmt, "fido2-", 6) == 0 && strcmp(type, "fido2") == 0)
		e = fido2_verify(&r, fmt, chal, roots, ai, why, whylen);
	else if (strcmp(fmt, "tpm2") == 0 && strcmp(type, "tpm2") == 0)
		e = tpm2_verify(&r, chal, roots, ai, why, whylen);
	else if (strcmp(fmt, "piv") == 0 && strcmp(type, "piv") == 0)
		e = piv_verify(&r, chal, roots, ai, why, whylen);
	else {
		snprintf(why, whylen,
		    "its format %s is not one this version checks for a %s token",
		    fmt, type);
		e = JIT_E_UNSUPPORTED;
	}
out:
	free(fmt);
	return e;
}

void
attest_info_print(const struct attest_info *ai, FILE *f)
{
	fprintf(f, "  attestation: %s%s\n", ai->format,
	    !ai->chained ?
		" (no certificate chain: proves nothing about the maker)" :
		ai->roots_checked ? ", chain verified to the roots" :
				    ", chain not checked against roots here");
	if (ai->vendor[0] != '\0')
		fprintf(f, "  vendor: %s\n", ai->vendor);
	if (ai->model[0] != '\0')
		fprintf(f, "  model: %s\n", ai->model);
	if (ai->serial[0] != '\0')
		fprintf(f, "  serial: %s\n", ai->serial);
	if (ai->firmware[0] != '\0')
		fprintf(f, "  firmware: %s\n", ai->firmware);
	if (ai->policy[0] != '\0')
		fprintf(f, "  policies: %s\n", ai->policy);
	if (ai->subject[0] != '\0')
		fprintf(f, "  certificate: %s\n", ai->subject);
}
