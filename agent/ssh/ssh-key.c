/* SSH keys and certificates: their wire formats, fingerprints, signatures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "err.h"
#include "log.h"
#include "secret.h"
#include "ssh-key.h"

/*
 * Private halves live in a struct secret: an ed25519 key as libsodium's
 * 64-byte secret key (seed || public key), ECDSA's scalar and RSA's
 * d, p, q, d mod (p-1), d mod (q-1), q^-1 mod p in the host's byte order,
 * ready for OSSL_PARAM_construct_BN.  For an ECDSA or RSA signature an
 * EVP_PKEY is built from them and freed at once: for those microseconds
 * OpenSSL's heap holds the key in its BIGNUMs, which it clears when the
 * key is freed (BN_clear_free).  OpenSSL has no way to sign from memory it
 * does not own, and keeping EVP_PKEYs around would keep those copies for
 * the key's whole life instead.  One exception: once the process has
 * OpenSSL's secure heap (CRYPTO_secure_malloc_init(), mlock'd, guard
 * pages, kept out of core dumps), an ECDSA key keeps its EVP_PKEY, whose
 * scalar OpenSSL then holds there (BN_secure_new), saving a rebuild
 * (about 15 us of a 40 us signature).
 */

#define ED25519_PK_LEN 32
#define ED25519_SK_LEN 64
#define ED25519_SIG_LEN 64
#define EC_FIELD_MAX 66 /* P-521 */
#define EC_POINT_MAX (1 + 2 * EC_FIELD_MAX)
#define RSA_E_MAX 64 /* bytes of the public exponent */
#define RSA_N_MAX (SSH_RSA_BITS_MAX / 8)
#define NONCE_MAX 256
#define RESERVED_MAX 1024
#define DER_SIG_MAX 256
#define CURVE_NAME_MAX 16

enum rsa_part { RSA_D, RSA_P, RSA_Q, RSA_DMP1, RSA_DMQ1, RSA_IQMP, RSA_NPARTS };

struct key_kind {
	enum ssh_key_type type;
	const char *name;
	const char *cert_name;
	const char *curve; /* the SSH curve name */
	const char *group; /* OpenSSL's */
	const char *digest; /* ECDSA's hash */
	size_t field; /* ECDSA field bytes */
	const char *family;
};

static const struct key_kind kinds[] = {
	{ SSH_KEY_ED25519, "ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com",
	    NULL, NULL, NULL, 0, "ED25519" },
	{ SSH_KEY_ECDSA_P256, "ecdsa-sha2-nistp256",
	    "ecdsa-sha2-nistp256-cert-v01@openssh.com", "nistp256", "P-256",
	    "SHA256", 32, "ECDSA" },
	{ SSH_KEY_ECDSA_P384, "ecdsa-sha2-nistp384",
	    "ecdsa-sha2-nistp384-cert-v01@openssh.com", "nistp384", "P-384",
	    "SHA384", 48, "ECDSA" },
	{ SSH_KEY_ECDSA_P521, "ecdsa-sha2-nistp521",
	    "ecdsa-sha2-nistp521-cert-v01@openssh.com", "nistp521", "P-521",
	    "SHA512", 66, "ECDSA" },
	{ SSH_KEY_RSA, "ssh-rsa", "ssh-rsa-cert-v01@openssh.com", NULL, NULL,
	    NULL, 0, "RSA" },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

struct ssh_key {
	const struct key_kind *kind;
	uint8_t *blob; /* as listed */
	size_t bloblen;
	uint8_t *plain; /* the plain public key */
	size_t plainlen;
	uint8_t ed_pk[ED25519_PK_LEN];
	uint8_t *ec_q; /* uncompressed point */
	size_t ec_qlen;
	uint8_t *rsa_n, *rsa_e; /* big-endian, minimal */
	size_t rsa_nlen, rsa_elen;
	uint8_t *rsa_n_host, *rsa_e_host; /* host order */
	unsigned bits;
	struct ssh_cert *cert;
	struct secret *priv;
	EVP_PKEY *evp; /* ECDSA, with a secure heap */
	size_t part_off[RSA_NPARTS];
	size_t part_len[RSA_NPARTS];
};

static int key_from_blob(
    const uint8_t *blob, size_t len, bool allow_cert, struct ssh_key **ret);

static const struct key_kind *
kind_by_name(const char *name, bool *ret_cert)
{
	size_t i;

	for (i = 0; i < NKINDS; i++) {
		if (strcmp(name, kinds[i].name) == 0) {
			*ret_cert = false;
			return &kinds[i];
		}
		if (strcmp(name, kinds[i].cert_name) == 0) {
			*ret_cert = true;
			return &kinds[i];
		}
	}
	return NULL;
}

static bool
is_ecdsa(const struct ssh_key *k)
{
	return k->kind->curve != NULL;
}

/* Big-endian bytes into the host's order, in place. */
static void
to_host_order(uint8_t *p, size_t n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	size_t i;
	uint8_t t;

	for (i = 0; i < n / 2; i++) {
		t = p[i];
		p[i] = p[n - 1 - i];
		p[n - 1 - i] = t;
	}
#else
	(void)p;
	(void)n;
#endif
}

static void
cert_free(struct ssh_cert *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->key_id);
	for (i = 0; i < c->nprincipals; i++)
		free(c->principals[i]);
	free(c->principals);
	ssh_key_free(c->ca);
	free(c);
}

void
ssh_key_free(struct ssh_key *k)
{
	if (k == NULL)
		return;
	free(k->blob);
	free(k->plain);
	free(k->ec_q);
	free(k->rsa_n);
	free(k->rsa_e);
	free(k->rsa_n_host);
	free(k->rsa_e_host);
	cert_free(k->cert);
	secret_free(k->priv);
	EVP_PKEY_free(k->evp);
	free(k);
}

/*
 * An SSH mpint as a reader over its magnitude: negative numbers are
 * refused, leading zeros skipped, at most max bytes of magnitude.
 */
static int
get_mpint(struct wire_reader *r, size_t max, struct wire_reader *ret)
{
	struct wire_reader m;
	uint8_t b;
	int rc;

	if ((rc = wire_get_sub(r, max + 1, &m)) != 0)
		return rc;
	if (wire_peek_u8(&m, &b) == 0 && (b & 0x80) != 0)
		return JIT_E_FORMAT;
	while (wire_peek_u8(&m, &b) == 0 && b == 0)
		(void)wire_skip(&m, 1);
	if (wire_left(&m) > max)
		return JIT_E_LIMIT;
	*ret = m;
	return JIT_OK;
}

/* A copy of a whole reader's bytes (public data). */
static int
copy_out(struct wire_reader *m, uint8_t **ret, size_t *ret_len)
{
	size_t n = wire_left(m);
	uint8_t *p;

	if ((p = malloc(n > 0 ? n : 1)) == NULL)
		return JIT_E_NOMEM;
	(void)wire_get_bytes(m, p, n);
	*ret = p;
	*ret_len = n;
	return JIT_OK;
}

static int
put_mpint(struct wire_writer *w, const uint8_t *p, size_t n)
{
	size_t i = 0;
	bool pad;
	int rc;

	while (i < n && p[i] == 0)
		i++;
	pad = i < n && (p[i] & 0x80) != 0;
	if ((rc = wire_put_u32(w, (uint32_t)(n - i + (pad ? 1 : 0)))) != 0 ||
	    (pad && (rc = wire_put_u8(w, 0)) != 0) ||
	    (rc = wire_put_bytes(w, p + i, n - i)) != 0)
		return rc;
	return JIT_OK;
}

static unsigned
bits_of(const uint8_t *p, size_t n)
{
	unsigned bits;
	uint8_t top;

	if (n == 0)
		return 0;
	bits = (unsigned)(n - 1) * 8;
	for (top = p[0]; top != 0; top >>= 1)
		bits++;
	return bits;
}

static int
host_copy(const uint8_t *be, size_t n, uint8_t **ret)
{
	uint8_t *p;

	if ((p = malloc(n > 0 ? n : 1)) == NULL)
		return JIT_E_NOMEM;
	if (n > 0)
		memcpy(p, be, n);
	to_host_order(p, n);
	*ret = p;
	return JIT_OK;
}

/*
 * The OpenSSL key of k, public or with its private half, for one
 * operation: the caller frees it at once.
 */
static int
ossl_key(const struct ssh_key *k, bool with_private, EVP_PKEY **ret)
{
	static const char *rsa_names[RSA_NPARTS] = {
		OSSL_PKEY_PARAM_RSA_D,
		OSSL_PKEY_PARAM_RSA_FACTOR1,
		OSSL_PKEY_PARAM_RSA_FACTOR2,
		OSSL_PKEY_PARAM_RSA_EXPONENT1,
		OSSL_PKEY_PARAM_RSA_EXPONENT2,
		OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
	};
	OSSL_PARAM params[RSA_NPARTS + 4];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	char group[CURVE_NAME_MAX];
	uint8_t *priv;
	size_t n = 0, i;
	int r = JIT_E_CRYPTO;

	if (with_private && k->priv == NULL)
		return JIT_E_ARG;
	priv = with_private ? secret_ptr(k->priv) : NULL;
	if (is_ecdsa(k)) {
		snprintf(group, sizeof(group), "%s", k->kind->group);
		params[n++] = OSSL_PARAM_construct_utf8_string(
		    OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
		params[n++] = OSSL_PARAM_construct_octet_string(
		    OSSL_PKEY_PARAM_PUB_KEY, k->ec_q, k->ec_qlen);
		if (with_private)
			params[n++] = OSSL_PARAM_construct_BN(
			    OSSL_PKEY_PARAM_PRIV_KEY, priv + k->part_off[0],
			    k->part_len[0]);
	} else if (k->kind->type == SSH_KEY_RSA) {
		params[n++] = OSSL_PARAM_construct_BN(
		    OSSL_PKEY_PARAM_RSA_N, k->rsa_n_host, k->rsa_nlen);
		params[n++] = OSSL_PARAM_construct_BN(
		    OSSL_PKEY_PARAM_RSA_E, k->rsa_e_host, k->rsa_elen);
		for (i = 0; with_private && i < RSA_NPARTS; i++)
			params[n++] = OSSL_PARAM_construct_BN(rsa_names[i],
			    priv + k->part_off[i], k->part_len[i]);
	} else
		return JIT_E_ARG;
	params[n] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(
		 NULL, is_ecdsa(k) ? "EC" : "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey,
		with_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
		params) != 1)
		goto out;
	*ret = pkey;
	pkey = NULL;
	r = JIT_OK;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* OpenSSL's own consistency check of a whole key pair (at add time). */
static int
ossl_check_pair(const struct ssh_key *k)
{
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	int r;

	if ((r = ossl_key(k, true, &pkey)) != 0)
		return r;
	r = JIT_E_CRYPTO;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL)
		goto out;
	/* An ECDSA scalar must also lie in [1, order - 1]. */
	r = EVP_PKEY_pairwise_check(ctx) == 1 &&
		(!is_ecdsa(k) || EVP_PKEY_private_check(ctx) == 1) ?
	    JIT_OK :
	    JIT_E_AUTH;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return r;
}

static int
make_plain(struct ssh_key *k)
{
	struct wire_writer w;
	int r;

	wire_writer_init(&w, SSH_KEY_BLOB_MAX, false);
	if ((r = wire_put_cstring(&w, k->kind->name)) != 0)
		goto fail;
	if (k->kind->type == SSH_KEY_ED25519)
		r = wire_put_string(&w, k->ed_pk, sizeof(k->ed_pk));
	else if (is_ecdsa(k)) {
		if ((r = wire_put_cstring(&w, k->kind->curve)) == 0)
			r = wire_put_string(&w, k->ec_q, k->ec_qlen);
	} else {
		if ((r = put_mpint(&w, k->rsa_e, k->rsa_elen)) == 0)
			r = put_mpint(&w, k->rsa_n, k->rsa_nlen);
	}
	if (r != 0 || (r = wire_writer_take(&w, &k->plain, &k->plainlen)) != 0)
		goto fail;
	return JIT_OK;
fail:
	wire_writer_reset(&w);
	return r;
}

static int
dup_bytes(const uint8_t *p, size_t n, uint8_t **ret, size_t *ret_len)
{
	if ((*ret = malloc(n > 0 ? n : 1)) == NULL)
		return JIT_E_NOMEM;
	if (n > 0)
		memcpy(*ret, p, n);
	*ret_len = n;
	return JIT_OK;
}

/* RSA's public numbers, e and n, in whichever order the format has. */
static int
rsa_set_public(struct ssh_key *k, struct wire_reader *e, struct wire_reader *n)
{
	uint8_t b;
	int r;

	if (wire_left(e) == 0 || wire_peek_u8(n, &b) != 0)
		return JIT_E_FORMAT;
	if ((r = copy_out(e, &k->rsa_e, &k->rsa_elen)) != 0 ||
	    (r = copy_out(n, &k->rsa_n, &k->rsa_nlen)) != 0)
		return r;
	k->bits = bits_of(k->rsa_n, k->rsa_nlen);
	if (k->bits < SSH_RSA_BITS_MIN || k->bits > SSH_RSA_BITS_MAX)
		return JIT_E_LIMIT;
	/* An even modulus or exponent is no RSA key. */
	if ((k->rsa_n[k->rsa_nlen - 1] & 1) == 0 ||
	    (k->rsa_e[k->rsa_elen - 1] & 1) == 0 ||
	    (k->rsa_elen == 1 && k->rsa_e[0] == 1))
		return JIT_E_FORMAT;
	if ((r = host_copy(k->rsa_n, k->rsa_nlen, &k->rsa_n_host)) != 0 ||
	    (r = host_copy(k->rsa_e, k->rsa_elen, &k->rsa_e_host)) != 0)
		return r;
	return JIT_OK;
}

/* The key's public numbers as the public blob orders them. */
static int
parse_public(struct wire_reader *r, struct ssh_key *k)
{
	struct wire_reader e, n, q;
	char *curve = NULL;
	uint8_t b;
	int rc;

	switch (k->kind->type) {
	case SSH_KEY_ED25519:
		if ((rc = wire_get_sub(r, ED25519_PK_LEN, &q)) != 0)
			return rc;
		if (wire_left(&q) != ED25519_PK_LEN)
			return JIT_E_FORMAT;
		(void)wire_get_bytes(&q, k->ed_pk, ED25519_PK_LEN);
		k->bits = 256;
		return JIT_OK;
	case SSH_KEY_RSA:
		if ((rc = get_mpint(r, RSA_E_MAX, &e)) != 0 ||
		    (rc = get_mpint(r, RSA_N_MAX, &n)) != 0)
			return rc;
		return rsa_set_public(k, &e, &n);
	default: break;
	}
	if ((rc = wire_get_cstring(r, CURVE_NAME_MAX, &curve)) != 0)
		return rc;
	rc = strcmp(curve, k->kind->curve) == 0 ? JIT_OK : JIT_E_FORMAT;
	free(curve);
	if (rc != 0 || (rc = wire_get_sub(r, EC_POINT_MAX, &q)) != 0)
		return rc;
	if (wire_left(&q) != 1 + 2 * k->kind->field ||
	    wire_peek_u8(&q, &b) != 0 || b != 0x04)
		return JIT_E_FORMAT;
	if ((rc = copy_out(&q, &k->ec_q, &k->ec_qlen)) != 0)
		return rc;
	k->bits = k->kind->type == SSH_KEY_ECDSA_P256 ? 256 :
	    k->kind->type == SSH_KEY_ECDSA_P384       ? 384 :
							521;
	return JIT_OK;
}

/* An ECDSA point must be on its curve: OpenSSL checks while decoding. */
static int
check_public(const struct ssh_key *k)
{
	EVP_PKEY *pkey = NULL;
	int r;

	if (!is_ecdsa(k))
		return JIT_OK;
	if ((r = ossl_key(k, false, &pkey)) != 0)
		return JIT_E_FORMAT;
	EVP_PKEY_free(pkey);
	return JIT_OK;
}

/* Critical options or extensions: (string name, string data) pairs. */
static int
count_options(struct wire_reader *r, size_t *ret)
{
	const uint8_t *p;
	size_t n = 0, len;
	int rc;

	while (wire_left(r) > 0) {
		if (n >= SSH_CERT_OPTIONS_MAX)
			return JIT_E_LIMIT;
		if ((rc = wire_get_string(r, SSH_CERT_STR_MAX, &p, &len)) !=
			0 ||
		    (rc = wire_get_string(r, SSH_KEY_BLOB_MAX, &p, &len)) != 0)
			return rc;
		n++;
	}
	*ret = n;
	return JIT_OK;
}

static int
sig_alg_name(const uint8_t *sig, size_t siglen, char *out, size_t outlen)
{
	struct wire_reader r;
	char *name = NULL;
	int rc;

	wire_reader_init(&r, sig, siglen);
	if ((rc = wire_get_cstring(&r, SSH_KEY_NAME_MAX - 1, &name)) != 0)
		return rc;
	snprintf(out, outlen, "%s", name);
	free(name);
	return JIT_OK;
}

/*
 * The certificate's fields after its nonce and public key, to the end of
 * the blob; the CA's signature covers everything before the signature.
 */
static int
parse_cert(struct wire_reader *r, const uint8_t *blob, size_t bloblen,
    struct ssh_key *k)
{
	struct wire_reader princ, crit, exts;
	struct ssh_cert *c;
	const uint8_t *p, *ca, *sig;
	size_t n, calen, siglen, signed_len, nexts;
	char **np;
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return JIT_E_NOMEM;
	k->cert = c;
	if ((rc = wire_get_u64(r, &c->serial)) != 0 ||
	    (rc = wire_get_u32(r, &c->type)) != 0 ||
	    (rc = wire_get_cstring(r, SSH_CERT_STR_MAX, &c->key_id)) != 0 ||
	    (rc = wire_get_sub(r, SSH_KEY_BLOB_MAX, &princ)) != 0 ||
	    (rc = wire_get_u64(r, &c->valid_after)) != 0 ||
	    (rc = wire_get_u64(r, &c->valid_before)) != 0 ||
	    (rc = wire_get_sub(r, SSH_KEY_BLOB_MAX, &crit)) != 0 ||
	    (rc = wire_get_sub(r, SSH_KEY_BLOB_MAX, &exts)) != 0 ||
	    (rc = wire_get_string(r, RESERVED_MAX, &p, &n)) != 0 ||
	    (rc = wire_get_string(r, SSH_KEY_BLOB_MAX, &ca, &calen)) != 0)
		return rc;
	signed_len = bloblen - wire_left(r);
	if ((rc = wire_get_string(r, SSH_SIG_BLOB_MAX, &sig, &siglen)) != 0 ||
	    (rc = wire_end(r)) != 0)
		return rc;
	if (c->type != SSH_CERT_USER && c->type != SSH_CERT_HOST)
		return JIT_E_FORMAT;
	while (wire_left(&princ) > 0) {
		if (c->nprincipals >= SSH_CERT_PRINCIPALS_MAX)
			return JIT_E_LIMIT;
		if ((np = reallocarray(c->principals, c->nprincipals + 1,
			 sizeof(*np))) == NULL)
			return JIT_E_NOMEM;
		c->principals = np;
		if ((rc = wire_get_cstring(&princ, SSH_CERT_STR_MAX,
			 &c->principals[c->nprincipals])) != 0)
			return rc;
		c->nprincipals++;
	}
	if ((rc = count_options(&crit, &c->ncritical)) != 0 ||
	    (rc = count_options(&exts, &nexts)) != 0)
		return rc;
	if ((rc = key_from_blob(ca, calen, false, &c->ca)) != 0)
		return rc;
	if ((rc = sig_alg_name(sig, siglen, c->sig_alg, sizeof(c->sig_alg))) !=
	    0)
		return rc;
	if ((rc = ssh_key_verify(c->ca, sig, siglen, blob, signed_len)) != 0) {
		log_debug("certificate: the CA's signature does not verify");
		return JIT_E_AUTH;
	}
	return JIT_OK;
}

static int
key_new(const struct key_kind *kind, struct ssh_key **ret)
{
	struct ssh_key *k;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return JIT_E_NOMEM;
	k->kind = kind;
	*ret = k;
	return JIT_OK;
}

static int
key_from_blob(
    const uint8_t *blob, size_t len, bool allow_cert, struct ssh_key **ret)
{
	const struct key_kind *kind;
	struct wire_reader r;
	struct ssh_key *k = NULL;
	const uint8_t *nonce;
	size_t noncelen;
	char *name = NULL;
	bool cert = false;
	int rc;

	if (len > SSH_KEY_BLOB_MAX)
		return JIT_E_LIMIT;
	wire_reader_init(&r, blob, len);
	if ((rc = wire_get_cstring(&r, SSH_KEY_NAME_MAX, &name)) != 0)
		goto out;
	if ((kind = kind_by_name(name, &cert)) == NULL ||
	    (cert && !allow_cert)) {
		rc = JIT_E_UNSUPPORTED;
		goto out;
	}
	if ((rc = key_new(kind, &k)) != 0)
		goto out;
	if (cert &&
	    (rc = wire_get_string(&r, NONCE_MAX, &nonce, &noncelen)) != 0)
		goto out;
	if ((rc = parse_public(&r, k)) != 0)
		goto out;
	if (cert)
		rc = parse_cert(&r, blob, len, k);
	else
		rc = wire_end(&r);
	if (rc != 0 || (rc = check_public(k)) != 0 ||
	    (rc = make_plain(k)) != 0 ||
	    (rc = dup_bytes(blob, len, &k->blob, &k->bloblen)) != 0)
		goto out;
	*ret = k;
	k = NULL;
out:
	ssh_key_free(k);
	free(name);
	return rc;
}

int
ssh_key_from_blob(const uint8_t *blob, size_t len, struct ssh_key **ret)
{
	return key_from_blob(blob, len, true, ret);
}

/* ed25519: the public key again, then the 64-byte secret key. */
static int
priv_ed25519(struct wire_reader *r, struct ssh_key *k)
{
	uint8_t pk[ED25519_PK_LEN], check[ED25519_PK_LEN];
	struct secret *tmp = NULL;
	struct wire_reader q;
	uint8_t *sk;
	int rc;

	if ((rc = wire_get_sub(r, ED25519_PK_LEN, &q)) != 0)
		return rc;
	if (wire_left(&q) != ED25519_PK_LEN)
		return JIT_E_FORMAT;
	(void)wire_get_bytes(&q, pk, sizeof(pk));
	if ((rc = wire_get_sub(r, ED25519_SK_LEN, &q)) != 0)
		return rc;
	if (wire_left(&q) != ED25519_SK_LEN)
		return JIT_E_FORMAT;
	/* A plain key's public half comes only here. */
	if (k->cert == NULL) {
		memcpy(k->ed_pk, pk, sizeof(pk));
		k->bits = 256;
	}
	if ((rc = secret_new(ED25519_SK_LEN, &k->priv)) != 0)
		return rc;
	sk = secret_ptr(k->priv);
	(void)wire_get_bytes(&q, sk, ED25519_SK_LEN);
	/* The seed must give the public key, stated twice. */
	if (crypto_sign_ed25519_sk_to_pk(check, sk) != 0 ||
	    sodium_memcmp(check, pk, sizeof(pk)) != 0 ||
	    sodium_memcmp(pk, k->ed_pk, sizeof(pk)) != 0)
		return JIT_E_AUTH;
	/* Derive into a scratch key: the seed must not alias the output. */
	if ((rc = secret_new(ED25519_SK_LEN, &tmp)) != 0)
		return rc;
	if (crypto_sign_seed_keypair(check, secret_ptr(tmp), sk) != 0 ||
	    sodium_memcmp(check, pk, sizeof(pk)) != 0)
		rc = JIT_E_AUTH;
	secret_free(tmp);
	return rc;
}

static int
priv_ecdsa(struct wire_reader *r, struct ssh_key *k)
{
	struct wire_reader d;
	int rc;

	if ((rc = get_mpint(r, k->kind->field, &d)) != 0)
		return rc;
	if (wire_left(&d) == 0)
		return JIT_E_FORMAT;
	if ((rc = secret_new(wire_left(&d), &k->priv)) != 0)
		return rc;
	k->part_off[0] = 0;
	k->part_len[0] = wire_left(&d);
	(void)wire_get_bytes(&d, secret_ptr(k->priv), k->part_len[0]);
	to_host_order(secret_ptr(k->priv), k->part_len[0]);
	if ((rc = ossl_check_pair(k)) != 0)
		return rc;
	/* See the top of the file: only where OpenSSL locks it too. */
	if (CRYPTO_secure_malloc_initialized() &&
	    ossl_key(k, true, &k->evp) != 0)
		k->evp = NULL;
	return JIT_OK;
}

static BIGNUM *
bn_from(struct wire_reader *m)
{
	BIGNUM *b;

	if ((b = BN_secure_new()) == NULL)
		return NULL;
	if (BN_bin2bn(wire_cursor(m), (int)wire_left(m), b) == NULL) {
		BN_clear_free(b);
		return NULL;
	}
	return b;
}

/* RSA: d, q^-1 mod p, p, q; the CRT exponents are computed here. */
static int
priv_rsa(struct wire_reader *r, struct ssh_key *k)
{
	struct wire_reader m[4];
	BIGNUM *bn[RSA_NPARTS] = { NULL }, *tmp = NULL;
	BN_CTX *ctx = NULL;
	size_t i, total = 0, len;
	int rc = JIT_E_CRYPTO;

	/* Wire order: d, iqmp, p, q. */
	for (i = 0; i < 4; i++) {
		if ((rc = get_mpint(r, k->rsa_nlen, &m[i])) != 0)
			return rc;
		if (wire_left(&m[i]) == 0)
			return JIT_E_FORMAT;
	}
	rc = JIT_E_CRYPTO;
	if ((ctx = BN_CTX_secure_new()) == NULL ||
	    (tmp = BN_secure_new()) == NULL ||
	    (bn[RSA_D] = bn_from(&m[0])) == NULL ||
	    (bn[RSA_IQMP] = bn_from(&m[1])) == NULL ||
	    (bn[RSA_P] = bn_from(&m[2])) == NULL ||
	    (bn[RSA_Q] = bn_from(&m[3])) == NULL ||
	    (bn[RSA_DMP1] = BN_secure_new()) == NULL ||
	    (bn[RSA_DMQ1] = BN_secure_new()) == NULL)
		goto out;
	BN_set_flags(bn[RSA_D], BN_FLG_CONSTTIME);
	if (BN_copy(tmp, bn[RSA_P]) == NULL || !BN_sub_word(tmp, 1) ||
	    !BN_mod(bn[RSA_DMP1], bn[RSA_D], tmp, ctx) ||
	    BN_copy(tmp, bn[RSA_Q]) == NULL || !BN_sub_word(tmp, 1) ||
	    !BN_mod(bn[RSA_DMQ1], bn[RSA_D], tmp, ctx))
		goto out;
	for (i = 0; i < RSA_NPARTS; i++) {
		len = (size_t)BN_num_bytes(bn[i]);
		k->part_off[i] = total;
		k->part_len[i] = len > 0 ? len : 1;
		total += k->part_len[i];
	}
	if ((rc = secret_new(total, &k->priv)) != 0)
		goto out;
	rc = JIT_E_CRYPTO;
	for (i = 0; i < RSA_NPARTS; i++)
		if (BN_bn2nativepad(bn[i], secret_ptr(k->priv) + k->part_off[i],
			(int)k->part_len[i]) < 0)
			goto out;
	rc = ossl_check_pair(k);
out:
	for (i = 0; i < RSA_NPARTS; i++)
		BN_clear_free(bn[i]);
	BN_clear_free(tmp);
	BN_CTX_free(ctx);
	return rc;
}

int
ssh_key_from_agent(struct wire_reader *r, struct ssh_key **ret)
{
	const struct key_kind *kind;
	struct wire_reader e, n;
	struct ssh_key *k = NULL;
	const uint8_t *blob;
	size_t bloblen;
	char *name = NULL;
	bool cert = false;
	int rc;

	if ((rc = wire_get_cstring(r, SSH_KEY_NAME_MAX, &name)) != 0)
		goto out;
	if ((kind = kind_by_name(name, &cert)) == NULL) {
		rc = JIT_E_UNSUPPORTED;
		goto out;
	}
	if (cert) {
		if ((rc = wire_get_string(
			 r, SSH_KEY_BLOB_MAX, &blob, &bloblen)) != 0 ||
		    (rc = ssh_key_from_blob(blob, bloblen, &k)) != 0)
			goto out;
		if (k->cert == NULL || k->kind != kind) {
			rc = JIT_E_FORMAT;
			goto out;
		}
	} else {
		if ((rc = key_new(kind, &k)) != 0)
			goto out;
		if (kind->type == SSH_KEY_RSA) {
			/* n before e here, unlike the public blob. */
			if ((rc = get_mpint(r, RSA_N_MAX, &n)) != 0 ||
			    (rc = get_mpint(r, RSA_E_MAX, &e)) != 0 ||
			    (rc = rsa_set_public(k, &e, &n)) != 0)
				goto out;
		} else if (kind->type != SSH_KEY_ED25519 &&
		    (rc = parse_public(r, k)) != 0)
			goto out;
		if ((rc = check_public(k)) != 0)
			goto out;
	}
	if (kind->type == SSH_KEY_ED25519)
		rc = priv_ed25519(r, k);
	else if (kind->type == SSH_KEY_RSA)
		rc = priv_rsa(r, k);
	else
		rc = priv_ecdsa(r, k);
	if (rc != 0)
		goto out;
	if (!cert &&
	    ((rc = make_plain(k)) != 0 ||
		(rc = dup_bytes(
		     k->plain, k->plainlen, &k->blob, &k->bloblen)) != 0))
		goto out;
	*ret = k;
	k = NULL;
out:
	ssh_key_free(k);
	free(name);
	return rc;
}

int
ssh_key_ed25519_from_seed(const struct secret *seed, struct ssh_key **ret)
{
	struct ssh_key *k = NULL;
	int r;

	if (secret_len(seed) != crypto_sign_SEEDBYTES)
		return JIT_E_FORMAT;
	if ((r = key_new(&kinds[0], &k)) != 0 ||
	    (r = secret_new(ED25519_SK_LEN, &k->priv)) != 0)
		goto out;
	if (crypto_sign_seed_keypair(
		k->ed_pk, secret_ptr(k->priv), secret_ptr(seed)) != 0) {
		r = JIT_E_CRYPTO;
		goto out;
	}
	k->bits = 256;
	if ((r = make_plain(k)) != 0 ||
	    (r = dup_bytes(k->plain, k->plainlen, &k->blob, &k->bloblen)) != 0)
		goto out;
	*ret = k;
	k = NULL;
out:
	ssh_key_free(k);
	return r;
}

int
ssh_key_attach_cert(struct ssh_key *k, const uint8_t *blob, size_t len)
{
	struct ssh_key *c = NULL;
	int r;

	if ((r = ssh_key_from_blob(blob, len, &c)) != 0)
		return r;
	if (c->cert == NULL || k->cert != NULL || c->kind != k->kind ||
	    !ssh_key_equal_plain(c, k)) {
		ssh_key_free(c);
		return JIT_E_AUTH;
	}
	free(k->blob);
	k->blob = c->blob;
	k->bloblen = c->bloblen;
	k->cert = c->cert;
	c->blob = NULL;
	c->cert = NULL;
	ssh_key_free(c);
	return JIT_OK;
}

int
ssh_key_line_blob(
    const char *line, size_t len, uint8_t **ret_blob, size_t *ret_len)
{
	struct wire_reader r;
	const uint8_t *type, *b64;
	size_t typelen, b64len, blen;
	uint8_t *blob;

	if (len > SSH_CERT_LINE_MAX)
		return JIT_E_LIMIT;
	/* TYPE, one or more spaces, BASE64, then an optional comment. */
	wire_reader_init(&r, line, len);
	typelen = wire_get_until(&r, " \t", &type);
	(void)wire_skip_span(&r, " \t");
	b64len = wire_get_until(&r, " \t\n\r", &b64);
	if (typelen == 0 || b64len == 0)
		return JIT_E_FORMAT;
	if ((blob = malloc(b64len / 4 * 3 + 3)) == NULL)
		return JIT_E_NOMEM;
	if (sodium_base642bin(blob, b64len / 4 * 3 + 3, (const char *)b64,
		b64len, NULL, &blen, NULL,
		sodium_base64_VARIANT_ORIGINAL) != 0) {
		free(blob);
		return JIT_E_FORMAT;
	}
	*ret_blob = blob;
	*ret_len = blen;
	return JIT_OK;
}

enum ssh_key_type
ssh_key_type(const struct ssh_key *k)
{
	return k->kind->type;
}

bool
ssh_key_is_private(const struct ssh_key *k)
{
	return k->priv != NULL;
}

const uint8_t *
ssh_key_blob(const struct ssh_key *k, size_t *ret_len)
{
	*ret_len = k->bloblen;
	return k->blob;
}

const uint8_t *
ssh_key_plain_blob(const struct ssh_key *k, size_t *ret_len)
{
	*ret_len = k->plainlen;
	return k->plain;
}

const struct ssh_cert *
ssh_key_cert(const struct ssh_key *k)
{
	return k->cert;
}

const char *
ssh_key_name(const struct ssh_key *k)
{
	return k->cert != NULL ? k->kind->cert_name : k->kind->name;
}

const char *
ssh_key_family(const struct ssh_key *k)
{
	return k->kind->family;
}

unsigned
ssh_key_bits(const struct ssh_key *k)
{
	return k->bits;
}

void
ssh_key_fingerprint(const struct ssh_key *k, char out[SSH_FP_LEN])
{
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, k->plain, k->plainlen);
	memcpy(out, "SHA256:", 7);
	sodium_bin2base64(out + 7, SSH_FP_LEN - 7, h, sizeof(h),
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

/* ssh-keygen -E md5's form, for jit-agent -E md5: MD5:hex:hex... */
void
ssh_key_fingerprint_md5(const struct ssh_key *k, char out[SSH_FP_LEN])
{
	uint8_t h[16];
	unsigned int hlen = sizeof(h);
	size_t i, o;

	if (EVP_Digest(k->plain, k->plainlen, h, &hlen, EVP_md5(), NULL) != 1 ||
	    hlen != sizeof(h))
		return; /* the SHA-256 form stays */
	o = (size_t)snprintf(out, SSH_FP_LEN, "MD5:");
	for (i = 0; i < sizeof(h); i++)
		o += (size_t)snprintf(
		    out + o, SSH_FP_LEN - o, i == 0 ? "%02x" : ":%02x", h[i]);
}

bool
ssh_key_equal(const struct ssh_key *a, const struct ssh_key *b)
{
	return a->bloblen == b->bloblen &&
	    memcmp(a->blob, b->blob, a->bloblen) == 0;
}

bool
ssh_key_equal_plain(const struct ssh_key *a, const struct ssh_key *b)
{
	return a->plainlen == b->plainlen &&
	    memcmp(a->plain, b->plain, a->plainlen) == 0;
}

bool
ssh_key_alg_ok(const struct ssh_key *k, const char *alg)
{
	if (k->kind->type != SSH_KEY_RSA)
		return strcmp(alg, ssh_key_name(k)) == 0;
	if (k->cert != NULL)
		return strcmp(alg, "ssh-rsa-cert-v01@openssh.com") == 0 ||
		    strcmp(alg, "rsa-sha2-256-cert-v01@openssh.com") == 0 ||
		    strcmp(alg, "rsa-sha2-512-cert-v01@openssh.com") == 0;
	return strcmp(alg, "ssh-rsa") == 0 ||
	    strcmp(alg, "rsa-sha2-256") == 0 ||
	    strcmp(alg, "rsa-sha2-512") == 0;
}

static int
evp_sign(EVP_PKEY *pkey, const char *md, const uint8_t *data, size_t len,
    uint8_t *out, size_t *outlen)
{
	EVP_MD_CTX *m;
	int r = JIT_E_CRYPTO;

	if ((m = EVP_MD_CTX_new()) == NULL)
		return JIT_E_NOMEM;
	if (EVP_DigestSignInit_ex(m, NULL, md, NULL, NULL, pkey, NULL) == 1 &&
	    EVP_DigestSign(m, out, outlen, data, len) == 1)
		r = JIT_OK;
	EVP_MD_CTX_free(m);
	return r;
}

static int
evp_verify(EVP_PKEY *pkey, const char *md, const uint8_t *sig, size_t siglen,
    const uint8_t *data, size_t len)
{
	EVP_MD_CTX *m;
	int r = JIT_E_AUTH;

	if ((m = EVP_MD_CTX_new()) == NULL)
		return JIT_E_NOMEM;
	if (EVP_DigestVerifyInit_ex(m, NULL, md, NULL, NULL, pkey, NULL) == 1 &&
	    EVP_DigestVerify(m, sig, siglen, data, len) == 1)
		r = JIT_OK;
	EVP_MD_CTX_free(m);
	return r;
}

/* ECDSA's DER signature as SSH writes it: string(mpint r, mpint s). */
static int
put_ecdsa_sig(struct wire_writer *w, const uint8_t *der, size_t derlen)
{
	struct wire_writer inner;
	const unsigned char *p = der;
	const BIGNUM *br, *bs;
	ECDSA_SIG *es;
	uint8_t num[EC_FIELD_MAX + 1];
	int n, r = JIT_E_CRYPTO;

	wire_writer_init(&inner, SSH_SIG_BLOB_MAX, false);
	if ((es = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL)
		goto out;
	ECDSA_SIG_get0(es, &br, &bs);
	if ((n = BN_bn2binpad(br, num, sizeof(num))) < 0 ||
	    (r = put_mpint(&inner, num, (size_t)n)) != 0)
		goto out;
	r = JIT_E_CRYPTO;
	if ((n = BN_bn2binpad(bs, num, sizeof(num))) < 0 ||
	    (r = put_mpint(&inner, num, (size_t)n)) != 0)
		goto out;
	r = wire_put_string(
	    w, wire_writer_data(&inner), wire_writer_len(&inner));
out:
	ECDSA_SIG_free(es);
	wire_writer_reset(&inner);
	return r;
}

int
ssh_key_sign(const struct ssh_key *k, const uint8_t *data, size_t len,
    uint32_t flags, uint8_t **ret_sig, size_t *ret_siglen)
{
	struct wire_writer w;
	EVP_PKEY *pkey = NULL;
	uint8_t sig[RSA_N_MAX + DER_SIG_MAX];
	size_t siglen = sizeof(sig);
	const char *alg, *md;
	int r;

	if (k->priv == NULL)
		return JIT_E_ARG;
	wire_writer_init(&w, SSH_SIG_BLOB_MAX, false);
	switch (k->kind->type) {
	case SSH_KEY_ED25519:
		if (crypto_sign_detached(
			sig, NULL, data, len, secret_ptr(k->priv)) != 0) {
			r = JIT_E_CRYPTO;
			goto out;
		}
		if ((r = wire_put_cstring(&w, k->kind->name)) != 0 ||
		    (r = wire_put_string(&w, sig, ED25519_SIG_LEN)) != 0)
			goto out;
		break;
	case SSH_KEY_RSA:
		if (flags & SSH_AGENT_RSA_SHA2_256) {
			alg = "rsa-sha2-256";
			md = "SHA256";
		} else if (flags & SSH_AGENT_RSA_SHA2_512) {
			alg = "rsa-sha2-512";
			md = "SHA512";
		} else if (flags & SSH_KEY_SIGN_SHA1) {
			alg = "ssh-rsa";
			md = "SHA1";
		} else {
			r = JIT_E_UNSUPPORTED;
			goto out;
		}
		if ((r = ossl_key(k, true, &pkey)) != 0 ||
		    (r = evp_sign(pkey, md, data, len, sig, &siglen)) != 0 ||
		    (r = wire_put_cstring(&w, alg)) != 0 ||
		    (r = wire_put_string(&w, sig, siglen)) != 0)
			goto out;
		break;
	default:
		if ((k->evp == NULL && (r = ossl_key(k, true, &pkey)) != 0) ||
		    (r = evp_sign(k->evp != NULL ? k->evp : pkey,
			 k->kind->digest, data, len, sig, &siglen)) != 0 ||
		    (r = wire_put_cstring(&w, k->kind->name)) != 0 ||
		    (r = put_ecdsa_sig(&w, sig, siglen)) != 0)
			goto out;
		break;
	}
	r = wire_writer_take(&w, ret_sig, ret_siglen);
out:
	EVP_PKEY_free(pkey);
	sodium_memzero(sig, sizeof(sig));
	wire_writer_reset(&w);
	return r;
}

/* SSH's (mpint r, mpint s) as the DER OpenSSL verifies. */
static int
ecdsa_der(const struct ssh_key *k, struct wire_reader *s, uint8_t *der,
    size_t *derlen)
{
	struct wire_reader mr, ms;
	ECDSA_SIG *es = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	unsigned char *p = der;
	int n, r = JIT_E_AUTH;

	if (get_mpint(s, k->kind->field, &mr) != 0 ||
	    get_mpint(s, k->kind->field, &ms) != 0 || wire_end(s) != 0)
		return JIT_E_AUTH;
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (br = BN_bin2bn(wire_cursor(&mr), (int)wire_left(&mr), NULL)) ==
		NULL ||
	    (bs = BN_bin2bn(wire_cursor(&ms), (int)wire_left(&ms), NULL)) ==
		NULL)
		goto out;
	if (ECDSA_SIG_set0(es, br, bs) != 1)
		goto out;
	br = bs = NULL;
	if ((n = i2d_ECDSA_SIG(es, NULL)) <= 0 || (size_t)n > *derlen ||
	    i2d_ECDSA_SIG(es, &p) != n)
		goto out;
	*derlen = (size_t)n;
	r = JIT_OK;
out:
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(es);
	return r;
}

int
ssh_key_verify(const struct ssh_key *k, const uint8_t *sig, size_t siglen,
    const uint8_t *data, size_t len)
{
	struct wire_reader r, s;
	EVP_PKEY *pkey = NULL;
	uint8_t buf[RSA_N_MAX + DER_SIG_MAX];
	size_t n = sizeof(buf), slen, modlen;
	const char *md = NULL;
	char *alg = NULL;
	int rc = JIT_E_AUTH;

	wire_reader_init(&r, sig, siglen);
	if (wire_get_cstring(&r, SSH_KEY_NAME_MAX, &alg) != 0 ||
	    wire_get_sub(&r, SSH_SIG_BLOB_MAX, &s) != 0 || wire_end(&r) != 0)
		goto out;
	switch (k->kind->type) {
	case SSH_KEY_ED25519:
		if (strcmp(alg, k->kind->name) != 0 ||
		    wire_left(&s) != ED25519_SIG_LEN)
			goto out;
		(void)wire_get_bytes(&s, buf, ED25519_SIG_LEN);
		if (crypto_sign_verify_detached(buf, data, len, k->ed_pk) == 0)
			rc = JIT_OK;
		goto out;
	case SSH_KEY_RSA:
		/* SHA-1 (plain ssh-rsa) is not accepted: see ssh_key_sign. */
		if (strcmp(alg, "rsa-sha2-256") == 0)
			md = "SHA256";
		else if (strcmp(alg, "rsa-sha2-512") == 0)
			md = "SHA512";
		modlen = k->rsa_nlen;
		if (md == NULL || (slen = wire_left(&s)) > modlen || slen == 0)
			goto out;
		/* A short signature is padded on the left, as OpenSSH does. */
		memset(buf, 0, modlen - slen);
		(void)wire_get_bytes(&s, buf + (modlen - slen), slen);
		n = modlen;
		break;
	default:
		if (strcmp(alg, k->kind->name) != 0 ||
		    ecdsa_der(k, &s, buf, &n) != 0)
			goto out;
		md = k->kind->digest;
		break;
	}
	if ((rc = ossl_key(k, false, &pkey)) != 0)
		goto out;
	rc = evp_verify(pkey, md, buf, n, data, len);
out:
	EVP_PKEY_free(pkey);
	free(alg);
	return rc == JIT_OK ? JIT_OK : rc == JIT_E_NOMEM ? rc : JIT_E_AUTH;
}

/* Iterative glob with one saved star, so a pattern cannot explode. */
bool
ssh_pattern_match(const char *s, const char *pattern)
{
	size_t si = 0, pi = 0, star_p = (size_t)-1, star_s = 0;

	while (s[si] != '\0') {
		if (pattern[pi] == '*') {
			star_p = pi++;
			star_s = si;
		} else if (pattern[pi] != '\0' &&
		    (pattern[pi] == '?' || pattern[pi] == s[si])) {
			pi++;
			si++;
		} else if (star_p != (size_t)-1) {
			pi = star_p + 1;
			si = ++star_s;
		} else
			return false;
	}
	while (pattern[pi] == '*')
		pi++;
	return pattern[pi] == '\0';
}

/*
 * Keys whose private half is on a token (PKCS#11, through OpenSSH's
 * helper): the agent hashes, the token signs the hash (RSA: inside a
 * DigestInfo, PKCS#1 v1.5; ECDSA: the bare hash, a DER answer), and the
 * agent checks the answer against the public key before it writes SSH's
 * blob, so a confused helper's bytes never reach a client.
 */
static const uint8_t digestinfo_sha1[] = { 0x30, 0x21, 0x30, 0x09, 0x06, 0x05,
	0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14 };
static const uint8_t digestinfo_sha256[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09,
	0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
	0x20 };
static const uint8_t digestinfo_sha512[] = { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09,
	0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04,
	0x40 };

/* The algorithm name, hash and DigestInfo an RSA signature uses. */
static int
rsa_scheme(uint32_t flags, const char **alg, const char **md,
    const uint8_t **prefix, size_t *prefixlen)
{
	if (flags & SSH_AGENT_RSA_SHA2_256) {
		*alg = "rsa-sha2-256";
		*md = "SHA256";
		*prefix = digestinfo_sha256;
		*prefixlen = sizeof(digestinfo_sha256);
	} else if (flags & SSH_AGENT_RSA_SHA2_512) {
		*alg = "rsa-sha2-512";
		*md = "SHA512";
		*prefix = digestinfo_sha512;
		*prefixlen = sizeof(digestinfo_sha512);
	} else if (flags & SSH_KEY_SIGN_SHA1) {
		*alg = "ssh-rsa";
		*md = "SHA1";
		*prefix = digestinfo_sha1;
		*prefixlen = sizeof(digestinfo_sha1);
	} else
		return JIT_E_UNSUPPORTED;
	return JIT_OK;
}

int
ssh_key_ext_tbs(const struct ssh_key *k, const uint8_t *data, size_t len,
    uint32_t flags, uint8_t out[SSH_KEY_TBS_MAX], size_t *ret_len)
{
	const char *alg, *md;
	const uint8_t *prefix = NULL;
	size_t prefixlen = 0;
	unsigned int n = 0;
	int r;

	if (k->cert != NULL)
		return JIT_E_UNSUPPORTED;
	switch (k->kind->type) {
	case SSH_KEY_RSA:
		if ((r = rsa_scheme(flags, &alg, &md, &prefix, &prefixlen)) !=
		    0)
			return r;
		break;
	case SSH_KEY_ED25519: return JIT_E_UNSUPPORTED;
	default: md = k->kind->digest; break;
	}
	if (prefixlen + EVP_MAX_MD_SIZE > SSH_KEY_TBS_MAX)
		return JIT_E_INTERNAL;
	if (prefixlen > 0)
		memcpy(out, prefix, prefixlen);
	if (EVP_Digest(data, len, out + prefixlen, &n, EVP_get_digestbyname(md),
		NULL) != 1)
		return JIT_E_CRYPTO;
	*ret_len = prefixlen + n;
	return JIT_OK;
}

int
ssh_key_ext_sig(const struct ssh_key *k, uint32_t flags, const uint8_t *tbs,
    size_t tbslen, const uint8_t *raw, size_t rawlen, uint8_t **ret_sig,
    size_t *ret_siglen)
{
	struct wire_writer w;
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t padded[RSA_N_MAX];
	const uint8_t *prefix, *sig = raw;
	const char *alg = NULL, *md;
	size_t prefixlen, siglen = rawlen;
	int r;

	wire_writer_init(&w, SSH_SIG_BLOB_MAX, false);
	if (k->cert != NULL || k->kind->type == SSH_KEY_ED25519)
		return JIT_E_UNSUPPORTED;
	if (k->kind->type == SSH_KEY_RSA) {
		if ((r = rsa_scheme(flags, &alg, &md, &prefix, &prefixlen)) !=
		    0)
			return r;
		/* A short signature is padded on the left, as OpenSSH does. */
		if (rawlen == 0 || rawlen > k->rsa_nlen)
			return JIT_E_AUTH;
		memset(padded, 0, k->rsa_nlen - rawlen);
		memcpy(padded + (k->rsa_nlen - rawlen), raw, rawlen);
		sig = padded;
		siglen = k->rsa_nlen;
	} else if (rawlen == 0 || rawlen > DER_SIG_MAX)
		return JIT_E_AUTH;
	r = JIT_E_AUTH;
	if (ossl_key(k, false, &pkey) != 0 ||
	    (ctx = EVP_PKEY_CTX_new(pkey, NULL)) == NULL ||
	    EVP_PKEY_verify_init(ctx) != 1)
		goto out;
	if (k->kind->type == SSH_KEY_RSA &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)
		goto out;
	/* No digest set: the token's answer must cover exactly tbs. */
	if (EVP_PKEY_verify(ctx, sig, siglen, tbs, tbslen) != 1)
		goto out;
	if (k->kind->type == SSH_KEY_RSA) {
		if ((r = wire_put_cstring(&w, alg)) != 0 ||
		    (r = wire_put_string(&w, sig, siglen)) != 0)
			goto out;
	} else if ((r = wire_put_cstring(&w, k->kind->name)) != 0 ||
	    (r = put_ecdsa_sig(&w, raw, rawlen)) != 0)
		goto out;
	r = wire_writer_take(&w, ret_sig, ret_siglen);
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	wire_writer_reset(&w);
	return r;
}
