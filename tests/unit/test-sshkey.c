/* Unit tests of agent/ssh-key.c, ssh-dest.c and ssh-msg.c: keys, certificates, signatures, constraints, binds. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "assert.h"
#include "err.h"
#include "secret.h"
#include "ssh-dest.h"
#include "ssh-key.h"
#include "ssh-msg.h"
#include "wire.h"

/* Made by ssh-keygen 9.2 (OpenSSH's own encodings, fingerprints). */
#define FX_USER_PUB \
	"ssh-ed25519 " \
	"AAAAC3NzaC1lZDI1NTE5AAAAIAuht5XxcDVf5+" \
	"oTA3EjPxBSV12rP8WsX54oAXfLO8D8 fx-user"
#define FX_USER_FP "SHA256:U0iA7Us6eO7FsUdDeBGzmWarlkSSa9RjhBZS7W2LFIE"
#define FX_USER_SEED "EaKuMk8AFwSTpRFzpWAKlwOzfhVNAA1SSdOtimEUxyA="
/* -I fx-id -n alice,bob -z 42 -V always:forever, signed by FX_CA_PUB */
#define FX_USER_CERT \
	"ssh-ed25519-cert-v01@openssh.com " \
	"AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIKzE7qF+" \
	"TPONY1iKrIP9YV+9Wz90kUIBcZ+KvQxtxYZ4AAAAIAuht5XxcDVf5+" \
	"oTA3EjPxBSV12rP8WsX54oAXfLO8D8AAAAAAAAACoAAAABAAAABWZ4LWlkAAAAEAAAAA" \
	"VhbGljZQAAAANib2IAAAAAAAAAAP//////////" \
	"AAAAAAAAAIIAAAAVcGVybWl0LVgxMS1mb3J3YXJkaW5nAAAAAAAAABdwZXJtaXQtYWdl" \
	"bnQtZm9yd2FyZGluZwAAAAAAAAAWcGVybWl0LXBvcnQtZm9yd2FyZGluZwAAAAAAAAAK" \
	"cGVybWl0LXB0eQAAAAAAAAAOcGVybWl0LXVzZXItcmMAAAAAAAAAAAAAADMAAAALc3No" \
	"LWVkMjU1MTkAAAAgi4O10WwOcCvAX1Gi1tAoNZ1b6gZ4NTraatCiPykW2cEAAABTAAAA" \
	"C3NzaC1lZDI1NTE5AAAAQNTDN5kN1sS5s3+" \
	"eSVBUVC2xeIDwd2MCNSmYxpWMcJQFXwrcczGjjR8AIVLRf/" \
	"WxmLRG+Fbud15rxye8H6XWvQc= fx-user"
#define FX_CA_PUB \
	"ssh-ed25519 " \
	"AAAAC3NzaC1lZDI1NTE5AAAAIIuDtdFsDnArwF9RotbQKDWdW+" \
	"oGeDU62mrQoj8pFtnB fx-ca"
#define FX_ECDSA_PUB \
	"ecdsa-sha2-nistp256 " \
	"AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEt8T/" \
	"2FJtc9DlmlE6r0u1ZtjXQ4qRNQ6dWJufbw3aGGUYbK5oVFJlm2SsA/" \
	"xQZ2mOQIuM7IDfF6hwBd3zwSrfI= fx-ecdsa"
#define FX_ECDSA_FP "SHA256:oPRfzjC7I0IOrrKvGJlos0vA1EP499ceJmO6XD13O/U"
#define FX_RSA_PUB \
	"ssh-rsa " \
	"AAAAB3NzaC1yc2EAAAADAQABAAABAQDOYRaHg0/" \
	"ZgkvrhOBCzKoOySI3rHf5HgfDHvIuPtbe0BGwlMUm9Hvi5qGkysSzlaI4ukkqby8PNs9" \
	"iZh88f6CXaO+7MLhBzg+MJCkS7rXqe+Smt+MXKDearYW95zLEhujou0fBGn3/" \
	"Y+nQdByFUSHVQ7rTLwBKzTcJSeTzJ7bBrCmO8epfhoCK2J3MwXui0HjHwFs0Zy/" \
	"A+A6EI+" \
	"G7MfXBDz8Se9bP30PeMQB1cMTttBreHpIDZg7ZDO2cKToBLLr8728UsvSa46DMThwyaN" \
	"btJ3YR5ykZGBegspFahBKNDFRkOorvZRRqZmAileVeFFiamCmveYObYSvLL4d2yoal " \
	"fx-rsa"
#define FX_RSA_FP "SHA256:/El3FOCKhFEqPcLTmwSJaFKy/TA0g8F8IHRG2sV/008"
/* A host certificate for *.example.com by the same CA. */
#define FX_HOST_CERT \
	"ssh-ed25519-cert-v01@openssh.com " \
	"AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAILuuqlqu2obUx7cW" \
	"yfvkrtUCfyOhPxpbXRM01kFWmoXhAAAAIL63aZ/bOaIOw2Iiqb3S/shp8J4GVgl9/" \
	"TUugNyY5rijAAAAAAAAAAAAAAACAAAAB2hvc3QtaWQAAAARAAAADSouZXhhbXBsZS5jb" \
	"20AAAAAAAAAAP//////////" \
	"AAAAAAAAAAAAAAAAAAAAMwAAAAtzc2gtZWQyNTUxOQAAACCLg7XRbA5wK8BfUaLW0Cg1" \
	"nVvqBng1Otpq0KI/KRbZwQAAAFMAAAALc3NoLWVkMjU1MTkAAABAhi5ubiY/" \
	"gw8++cL2+yu90g9rdLZYU0mWZK2ZU5jUOFCv+pq/" \
	"U6Nbh0aayMUpVEMPX46gZJjgdOirrftZP1XbAg== fx-host"

static const uint8_t msg[] = "the data an ssh client asks to have signed";

/* A key from one of the lines above; NULL (and the test fails) if not. */
static struct ssh_key *
line_key(const char *line)
{
	struct ssh_key *k = NULL;
	uint8_t *blob;
	size_t len;

	if (ssh_key_line_blob(line, strlen(line), &blob, &len) != 0)
		return NULL;
	if (ssh_key_from_blob(blob, len, &k) != 0)
		k = NULL;
	free(blob);
	return k;
}

/* An ed25519 private key from a fixed or random seed. */
static struct ssh_key *
ed25519_key(const char *b64)
{
	struct secret *seed = NULL;
	struct ssh_key *k = NULL;
	size_t n;

	if (secret_new(32, &seed) != 0)
		return NULL;
	if (b64 != NULL)
		(void)sodium_base642bin(secret_ptr(seed), 32, b64, strlen(b64),
		    NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL);
	else
		randombytes_buf(secret_ptr(seed), 32);
	if (ssh_key_ed25519_from_seed(seed, &k) != 0)
		k = NULL;
	secret_free(seed);
	return k;
}

TEST(public_blobs_and_fingerprints)
{
	struct ssh_key *k;
	char fp[SSH_FP_LEN];

	ASSERT((k = line_key(FX_USER_PUB)) != NULL);
	ssh_key_fingerprint(k, fp);
	ASSERT_EQ_STR(fp, FX_USER_FP);
	ASSERT_EQ_STR(ssh_key_name(k), "ssh-ed25519");
	ASSERT(!ssh_key_is_private(k));
	ssh_key_free(k);
	ASSERT((k = line_key(FX_ECDSA_PUB)) != NULL);
	ssh_key_fingerprint(k, fp);
	ASSERT_EQ_STR(fp, FX_ECDSA_FP);
	ASSERT_EQ_UINT(ssh_key_bits(k), 256);
	ssh_key_free(k);
	ASSERT((k = line_key(FX_RSA_PUB)) != NULL);
	ssh_key_fingerprint(k, fp);
	ASSERT_EQ_STR(fp, FX_RSA_FP);
	ASSERT_EQ_UINT(ssh_key_bits(k), 2048);
	ASSERT_EQ_STR(ssh_key_family(k), "RSA");
	ssh_key_free(k);
}

TEST(the_seed_gives_the_fixture_key)
{
	struct ssh_key *k, *pub;
	char fp[SSH_FP_LEN];

	ASSERT((k = ed25519_key(FX_USER_SEED)) != NULL);
	ASSERT((pub = line_key(FX_USER_PUB)) != NULL);
	ASSERT(ssh_key_equal(k, pub));
	ssh_key_fingerprint(k, fp);
	ASSERT_EQ_STR(fp, FX_USER_FP);
	ssh_key_free(k);
	ssh_key_free(pub);
}

TEST(malformed_blobs_are_refused)
{
	struct ssh_key *k = NULL;
	struct wire_writer w;
	uint8_t *blob, pk[32] = { 0 };
	size_t len;

	ASSERT_OK(
	    ssh_key_line_blob(FX_USER_PUB, strlen(FX_USER_PUB), &blob, &len));
	/* Trailing byte, short key, unknown type, empty. */
	blob = realloc(blob, len + 1);
	ASSERT(blob != NULL);
	blob[len] = 0;
	ASSERT_ERR(ssh_key_from_blob(blob, len + 1, &k), JIT_E_FORMAT);
	ASSERT(ssh_key_from_blob(blob, len - 1, &k) != 0);
	ASSERT(ssh_key_from_blob(blob, 0, &k) != 0);
	free(blob);
	wire_writer_init(&w, 4096, false);
	ASSERT_OK(wire_put_cstring(&w, "ssh-dss"));
	ASSERT_OK(wire_put_string(&w, pk, sizeof(pk)));
	ASSERT_ERR(
	    ssh_key_from_blob(wire_writer_data(&w), wire_writer_len(&w), &k),
	    JIT_E_UNSUPPORTED);
	wire_writer_reset(&w);
	/* An ECDSA point off the curve. */
	ASSERT_OK(wire_put_cstring(&w, "ecdsa-sha2-nistp256"));
	ASSERT_OK(wire_put_cstring(&w, "nistp256"));
	{
		uint8_t q[65];

		memset(q, 0x11, sizeof(q));
		q[0] = 0x04;
		ASSERT_OK(wire_put_string(&w, q, sizeof(q)));
	}
	ASSERT_ERR(
	    ssh_key_from_blob(wire_writer_data(&w), wire_writer_len(&w), &k),
	    JIT_E_FORMAT);
	wire_writer_reset(&w);
	/* The wrong curve name for the type. */
	ASSERT_OK(wire_put_cstring(&w, "ecdsa-sha2-nistp256"));
	ASSERT_OK(wire_put_cstring(&w, "nistp384"));
	ASSERT_ERR(
	    ssh_key_from_blob(wire_writer_data(&w), wire_writer_len(&w), &k),
	    JIT_E_FORMAT);
	wire_writer_reset(&w);
	/* RSA: an even exponent, a negative mpint, a too-small modulus. */
	{
		uint8_t n[128], e2[1] = { 2 }, neg[2] = { 0x80, 1 };

		memset(n, 0xcd, sizeof(n));
		ASSERT_OK(wire_put_cstring(&w, "ssh-rsa"));
		ASSERT_OK(wire_put_string(&w, e2, 1));
		ASSERT_OK(wire_put_u32(&w, 129));
		ASSERT_OK(wire_put_u8(&w, 0));
		ASSERT_OK(wire_put_bytes(&w, n, sizeof(n)));
		ASSERT_ERR(ssh_key_from_blob(
			       wire_writer_data(&w), wire_writer_len(&w), &k),
		    JIT_E_FORMAT);
		wire_writer_reset(&w);
		ASSERT_OK(wire_put_cstring(&w, "ssh-rsa"));
		ASSERT_OK(wire_put_string(&w, neg, 2));
		ASSERT_OK(wire_put_string(&w, n, sizeof(n)));
		ASSERT_ERR(ssh_key_from_blob(
			       wire_writer_data(&w), wire_writer_len(&w), &k),
		    JIT_E_FORMAT);
		wire_writer_reset(&w);
		n[0] = 0x7f;
		ASSERT_OK(wire_put_cstring(&w, "ssh-rsa"));
		ASSERT_OK(wire_put_string(&w, (const uint8_t[]){ 1, 0, 1 }, 3));
		ASSERT_OK(wire_put_string(&w, n, 64)); /* 511 bits */
		ASSERT_ERR(ssh_key_from_blob(
			       wire_writer_data(&w), wire_writer_len(&w), &k),
		    JIT_E_LIMIT);
		wire_writer_reset(&w);
	}
	ASSERT(k == NULL);
}

TEST(ed25519_sign_and_verify)
{
	struct ssh_key *k;
	uint8_t *sig;
	size_t siglen;

	ASSERT((k = ed25519_key(NULL)) != NULL);
	ASSERT(ssh_key_is_private(k));
	ASSERT_OK(ssh_key_sign(k, msg, sizeof(msg), 0, &sig, &siglen));
	ASSERT_OK(ssh_key_verify(k, sig, siglen, msg, sizeof(msg)));
	ASSERT_ERR(
	    ssh_key_verify(k, sig, siglen, msg, sizeof(msg) - 1), JIT_E_AUTH);
	sig[siglen - 1] ^= 1;
	ASSERT_ERR(
	    ssh_key_verify(k, sig, siglen, msg, sizeof(msg)), JIT_E_AUTH);
	ASSERT_ERR(
	    ssh_key_verify(k, sig, siglen - 1, msg, sizeof(msg)), JIT_E_AUTH);
	free(sig);
	ssh_key_free(k);
}

TEST(a_real_certificate)
{
	struct ssh_key *c, *ca, *user;
	const struct ssh_cert *cert;
	char fp[SSH_FP_LEN];

	ASSERT((c = line_key(FX_USER_CERT)) != NULL);
	ASSERT((cert = ssh_key_cert(c)) != NULL);
	ASSERT_EQ_STR(ssh_key_name(c), "ssh-ed25519-cert-v01@openssh.com");
	ASSERT_EQ_UINT(cert->type, SSH_CERT_USER);
	ASSERT_EQ_UINT(cert->serial, 42);
	ASSERT_EQ_STR(cert->key_id, "fx-id");
	ASSERT_EQ_UINT(cert->nprincipals, 2);
	ASSERT_EQ_STR(cert->principals[0], "alice");
	ASSERT_EQ_STR(cert->principals[1], "bob");
	ASSERT_EQ_UINT(cert->valid_after, 0);
	ASSERT_EQ_UINT(cert->valid_before, UINT64_MAX);
	ASSERT_EQ_STR(cert->sig_alg, "ssh-ed25519");
	/* Its fingerprint is the certified key's, as ssh-add -l shows. */
	ssh_key_fingerprint(c, fp);
	ASSERT_EQ_STR(fp, FX_USER_FP);
	ASSERT((ca = line_key(FX_CA_PUB)) != NULL);
	ASSERT(ssh_key_equal_plain(cert->ca, ca));
	ASSERT((user = line_key(FX_USER_PUB)) != NULL);
	ASSERT(ssh_key_equal_plain(c, user));
	ASSERT(!ssh_key_equal(c, user));
	ASSERT(!ssh_key_same(c, user));
	ASSERT(ssh_key_alg_ok(c, "ssh-ed25519-cert-v01@openssh.com"));
	ASSERT(!ssh_key_alg_ok(c, "ssh-ed25519"));
	ssh_key_free(c);
	ssh_key_free(ca);
	ssh_key_free(user);
}

TEST(a_certificate_with_a_bad_signature_is_refused)
{
	struct ssh_key *c = NULL;
	uint8_t *blob;
	size_t len;

	ASSERT_OK(
	    ssh_key_line_blob(FX_USER_CERT, strlen(FX_USER_CERT), &blob, &len));
	blob[len - 3] ^= 0x40;
	ASSERT_ERR(ssh_key_from_blob(blob, len, &c), JIT_E_AUTH);
	blob[len - 3] ^= 0x40;
	blob[60] ^= 1; /* in the certified key: signed data */
	ASSERT_ERR(ssh_key_from_blob(blob, len, &c), JIT_E_AUTH);
	free(blob);
	ASSERT(c == NULL);
}

TEST(attach_a_certificate_to_its_key)
{
	struct ssh_key *k, *other;
	uint8_t *blob;
	size_t len, n;
	const uint8_t *b;

	ASSERT_OK(
	    ssh_key_line_blob(FX_USER_CERT, strlen(FX_USER_CERT), &blob, &len));
	ASSERT((other = ed25519_key(NULL)) != NULL);
	ASSERT_ERR(ssh_key_attach_cert(other, blob, len), JIT_E_AUTH);
	ASSERT((k = ed25519_key(FX_USER_SEED)) != NULL);
	ASSERT_OK(ssh_key_attach_cert(k, blob, len));
	b = ssh_key_blob(k, &n);
	ASSERT(n == len && memcmp(b, blob, len) == 0);
	ASSERT(ssh_key_cert(k) != NULL);
	ASSERT(ssh_key_is_private(k));
	free(blob);
	ssh_key_free(k);
	ssh_key_free(other);
}

/* Write an OpenSSL BIGNUM parameter of pkey as an SSH mpint. */
static int
put_bn(struct wire_writer *w, EVP_PKEY *pkey, const char *name)
{
	BIGNUM *bn = NULL;
	uint8_t buf[1024];
	int n, r;

	if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
		return JIT_E_CRYPTO;
	n = BN_bn2bin(bn, buf + 1);
	buf[0] = 0;
	BN_clear_free(bn);
	/* A leading zero when the top bit is set: a positive mpint. */
	if (buf[1] & 0x80)
		r = wire_put_string(w, buf, (size_t)n + 1);
	else
		r = wire_put_string(w, buf + 1, (size_t)n);
	return r;
}

/* ADD_IDENTITY's key fields for an OpenSSL ECDSA or RSA key. */
static int
agent_wire(EVP_PKEY *pkey, bool rsa, struct wire_writer *w)
{
	uint8_t q[133];
	size_t qlen;
	int r;

	if (rsa) {
		if ((r = wire_put_cstring(w, "ssh-rsa")) != 0 ||
		    (r = put_bn(w, pkey, OSSL_PKEY_PARAM_RSA_N)) != 0 ||
		    (r = put_bn(w, pkey, OSSL_PKEY_PARAM_RSA_E)) != 0 ||
		    (r = put_bn(w, pkey, OSSL_PKEY_PARAM_RSA_D)) != 0 ||
		    (r = put_bn(w, pkey, OSSL_PKEY_PARAM_RSA_COEFFICIENT1)) !=
			0 ||
		    (r = put_bn(w, pkey, OSSL_PKEY_PARAM_RSA_FACTOR1)) != 0 ||
		    (r = put_bn(w, pkey, OSSL_PKEY_PARAM_RSA_FACTOR2)) != 0)
			return r;
		return JIT_OK;
	}
	if (EVP_PKEY_get_octet_string_param(
		pkey, OSSL_PKEY_PARAM_PUB_KEY, q, sizeof(q), &qlen) != 1)
		return JIT_E_CRYPTO;
	if ((r = wire_put_cstring(w, "ecdsa-sha2-nistp256")) != 0 ||
	    (r = wire_put_cstring(w, "nistp256")) != 0 ||
	    (r = wire_put_string(w, q, qlen)) != 0 ||
	    (r = put_bn(w, pkey, OSSL_PKEY_PARAM_PRIV_KEY)) != 0)
		return r;
	return JIT_OK;
}

static void
sign_round_trip(bool rsa)
{
	struct wire_writer w, other;
	struct wire_reader r;
	EVP_PKEY *pkey, *pkey2;
	struct ssh_key *k = NULL, *pub = NULL;
	const uint8_t *blob;
	uint8_t *sig;
	size_t siglen, n;

	pkey = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
	pkey2 = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
	ASSERT(pkey != NULL && pkey2 != NULL);
	wire_writer_init(&w, 8192, true);
	wire_writer_init(&other, 8192, true);
	ASSERT_OK(agent_wire(pkey, rsa, &w));
	wire_reader_init(&r, wire_writer_data(&w), wire_writer_len(&w));
	ASSERT_OK(ssh_key_from_agent(&r, &k));
	ASSERT_OK(wire_end(&r));
	blob = ssh_key_blob(k, &n);
	ASSERT_OK(ssh_key_from_blob(blob, n, &pub));
	if (rsa) {
		ASSERT_ERR(ssh_key_sign(k, msg, sizeof(msg), 0, &sig, &siglen),
		    JIT_E_UNSUPPORTED);
		ASSERT_OK(ssh_key_sign(k, msg, sizeof(msg),
		    SSH_AGENT_RSA_SHA2_256, &sig, &siglen));
		ASSERT_OK(ssh_key_verify(pub, sig, siglen, msg, sizeof(msg)));
		free(sig);
	}
	ASSERT_OK(ssh_key_sign(
	    k, msg, sizeof(msg), SSH_AGENT_RSA_SHA2_512, &sig, &siglen));
	ASSERT_OK(ssh_key_verify(pub, sig, siglen, msg, sizeof(msg)));
	ASSERT_ERR(ssh_key_verify(pub, sig, siglen, msg, 3), JIT_E_AUTH);
	free(sig);
	ssh_key_free(k);
	k = NULL;
	/* The public half of one key with the private half of another. */
	ASSERT_OK(agent_wire(pkey2, rsa, &other));
	if (!rsa) {
		/* Splice: key 1's name, curve and point, key 2's scalar. */
		struct wire_reader a, b;
		struct wire_writer mix;
		const uint8_t *p;
		size_t len;

		wire_writer_init(&mix, 8192, true);
		wire_reader_init(&a, wire_writer_data(&w), wire_writer_len(&w));
		wire_reader_init(
		    &b, wire_writer_data(&other), wire_writer_len(&other));
		for (int i = 0; i < 3; i++) {
			ASSERT_OK(wire_get_string(&a, 8192, &p, &len));
			ASSERT_OK(wire_put_string(&mix, p, len));
			ASSERT_OK(wire_get_string(&b, 8192, &p, &len));
		}
		ASSERT_OK(wire_get_string(&b, 8192, &p, &len));
		ASSERT_OK(wire_put_string(&mix, p, len));
		wire_reader_init(
		    &r, wire_writer_data(&mix), wire_writer_len(&mix));
		ASSERT_ERR(ssh_key_from_agent(&r, &k), JIT_E_AUTH);
		wire_writer_reset(&mix);
	}
	ssh_key_free(pub);
	wire_writer_reset(&w);
	wire_writer_reset(&other);
	EVP_PKEY_free(pkey);
	EVP_PKEY_free(pkey2);
}

TEST(ecdsa_from_the_agent_wire)
{
	sign_round_trip(false);
	ASSERT_PASSING();
}

TEST(rsa_from_the_agent_wire)
{
	sign_round_trip(true);
	ASSERT_PASSING();
}

TEST(ed25519_from_the_agent_wire)
{
	struct wire_writer w;
	struct wire_reader r;
	struct ssh_key *k = NULL, *pub;
	uint8_t pk[32], sk[64];
	uint8_t *blob;
	size_t len;

	crypto_sign_keypair(pk, sk);
	wire_writer_init(&w, 4096, true);
	ASSERT_OK(wire_put_cstring(&w, "ssh-ed25519"));
	ASSERT_OK(wire_put_string(&w, pk, 32));
	ASSERT_OK(wire_put_string(&w, sk, 64));
	wire_reader_init(&r, wire_writer_data(&w), wire_writer_len(&w));
	ASSERT_OK(ssh_key_from_agent(&r, &k));
	ssh_key_free(k);
	k = NULL;
	/* The stated public key is not the secret key's. */
	pk[0] ^= 1;
	wire_writer_reset(&w);
	ASSERT_OK(wire_put_cstring(&w, "ssh-ed25519"));
	ASSERT_OK(wire_put_string(&w, pk, 32));
	ASSERT_OK(wire_put_string(&w, sk, 64));
	wire_reader_init(&r, wire_writer_data(&w), wire_writer_len(&w));
	ASSERT_ERR(ssh_key_from_agent(&r, &k), JIT_E_AUTH);
	wire_writer_reset(&w);
	/* A certificate with the wrong private key. */
	ASSERT_OK(
	    ssh_key_line_blob(FX_USER_CERT, strlen(FX_USER_CERT), &blob, &len));
	ASSERT((pub = line_key(FX_USER_PUB)) != NULL);
	ASSERT_OK(wire_put_cstring(&w, "ssh-ed25519-cert-v01@openssh.com"));
	ASSERT_OK(wire_put_string(&w, blob, len));
	ASSERT_OK(wire_put_string(&w, pk, 32));
	ASSERT_OK(wire_put_string(&w, sk, 64));
	wire_reader_init(&r, wire_writer_data(&w), wire_writer_len(&w));
	ASSERT_ERR(ssh_key_from_agent(&r, &k), JIT_E_AUTH);
	wire_writer_reset(&w);
	free(blob);
	ssh_key_free(pub);
	ASSERT(k == NULL);
	sodium_memzero(sk, sizeof(sk));
}

TEST(patterns)
{
	ASSERT(ssh_pattern_match("host.example.com", "*.example.com"));
	ASSERT(!ssh_pattern_match("example.com", "*.example.com"));
	ASSERT(ssh_pattern_match("root", "r??t"));
	ASSERT(ssh_pattern_match("", "*"));
	ASSERT(!ssh_pattern_match("rooted", "root"));
	ASSERT(ssh_pattern_match("aaaaaaaaaaaaaaaaaaaaaaaaab", "*a*a*a*a*a*b"));
	ASSERT(
	    !ssh_pattern_match("aaaaaaaaaaaaaaaaaaaaaaaaaa", "*a*a*a*a*a*b"));
}

/* A hop: user, host, then (key, is_ca) pairs, into w. */
static int
put_hop(struct wire_writer *w, const char *user, const char *host,
    const struct ssh_key *key, bool ca)
{
	struct wire_writer h;
	const uint8_t *b;
	size_t n;
	int r;

	wire_writer_init(&h, 65536, false);
	if ((r = wire_put_cstring(&h, user)) != 0 ||
	    (r = wire_put_cstring(&h, host)) != 0 ||
	    (r = wire_put_string(&h, NULL, 0)) != 0)
		goto out;
	if (key != NULL) {
		b = ssh_key_blob(key, &n);
		if ((r = wire_put_string(&h, b, n)) != 0 ||
		    (r = wire_put_u8(&h, ca ? 1 : 0)) != 0)
			goto out;
	}
	r = wire_put_string(w, wire_writer_data(&h), wire_writer_len(&h));
out:
	wire_writer_reset(&h);
	return r;
}

static int
put_dest(struct wire_writer *w, const char *fhost, const struct ssh_key *fkey,
    const char *tuser, const char *thost, const struct ssh_key *tkey, bool tca)
{
	struct wire_writer c;
	int r;

	wire_writer_init(&c, 65536, false);
	if ((r = put_hop(&c, "", fhost, fkey, false)) != 0 ||
	    (r = put_hop(&c, tuser, thost, tkey, tca)) != 0 ||
	    (r = wire_put_string(&c, NULL, 0)) != 0 ||
	    (r = wire_put_string(
		 w, wire_writer_data(&c), wire_writer_len(&c))) != 0)
		goto out;
out:
	wire_writer_reset(&c);
	return r;
}

static int
parse_dests(struct wire_writer *body, struct ssh_dests *d)
{
	struct wire_writer outer;
	struct wire_reader r;
	int rc;

	wire_writer_init(&outer, 1 << 20, false);
	if ((rc = wire_put_string(
		 &outer, wire_writer_data(body), wire_writer_len(body))) == 0) {
		wire_reader_init(
		    &r, wire_writer_data(&outer), wire_writer_len(&outer));
		if ((rc = ssh_dests_parse(&r, d)) == 0)
			rc = wire_end(&r);
	}
	wire_writer_reset(&outer);
	return rc;
}

TEST(destination_constraints_parse)
{
	struct wire_writer w;
	struct ssh_dests d;
	struct ssh_key *a;

	ASSERT((a = ed25519_key(NULL)) != NULL);
	memset(&d, 0, sizeof(d));
	wire_writer_init(&w, 1 << 20, false);
	ASSERT_OK(put_dest(&w, "", NULL, "", "hosta", a, false));
	ASSERT_OK(put_dest(&w, "hosta", a, "r*t", "hostb", a, false));
	ASSERT_OK(parse_dests(&w, &d));
	ASSERT_EQ_UINT(d.n, 2);
	ASSERT(d.v[0].from.hostname == NULL && d.v[0].to.user == NULL);
	ASSERT_EQ_STR(d.v[1].to.user, "r*t");
	ssh_dests_free(&d);
	/* A "to" hop without keys; a "from" host without keys. */
	wire_writer_reset(&w);
	ASSERT_OK(put_dest(&w, "", NULL, "", "hosta", NULL, false));
	ASSERT_ERR(parse_dests(&w, &d), JIT_E_FORMAT);
	ssh_dests_free(&d);
	wire_writer_reset(&w);
	ASSERT_OK(put_dest(&w, "hosta", NULL, "", "hostb", a, false));
	ASSERT_ERR(parse_dests(&w, &d), JIT_E_FORMAT);
	ssh_dests_free(&d);
	/* More constraints than the limit. */
	wire_writer_reset(&w);
	for (int i = 0; i <= SSH_DEST_MAX; i++)
		ASSERT_OK(put_dest(&w, "", NULL, "", "hosta", a, false));
	ASSERT_ERR(parse_dests(&w, &d), JIT_E_LIMIT);
	ssh_dests_free(&d);
	wire_writer_reset(&w);
	ssh_key_free(a);
}

/* A bind on b for host key h and a fresh session id. */
static int
do_bind(struct ssh_binds *b, const struct ssh_key *h, bool fwd, uint8_t sid[32],
    bool corrupt)
{
	struct wire_writer w;
	struct wire_reader r;
	const uint8_t *blob;
	uint8_t *sig;
	size_t n, siglen;
	int rc;

	randombytes_buf(sid, 32);
	if ((rc = ssh_key_sign(h, sid, 32, 0, &sig, &siglen)) != 0)
		return rc;
	if (corrupt)
		sig[siglen - 1] ^= 1;
	wire_writer_init(&w, 65536, false);
	blob = ssh_key_blob(h, &n);
	if ((rc = wire_put_string(&w, blob, n)) == 0 &&
	    (rc = wire_put_string(&w, sid, 32)) == 0 &&
	    (rc = wire_put_string(&w, sig, siglen)) == 0 &&
	    (rc = wire_put_u8(&w, fwd ? 1 : 0)) == 0) {
		wire_reader_init(&r, wire_writer_data(&w), wire_writer_len(&w));
		rc = ssh_bind_request(&r, b);
	}
	free(sig);
	wire_writer_reset(&w);
	return rc;
}

TEST(session_binds)
{
	struct ssh_binds b;
	struct ssh_key *h;
	uint8_t sid[32];
	int i;

	memset(&b, 0, sizeof(b));
	ASSERT((h = ed25519_key(NULL)) != NULL);
	ASSERT_ERR(do_bind(&b, h, true, sid, true), JIT_E_AUTH);
	ASSERT(b.attempted && b.n == 0);
	ASSERT_OK(do_bind(&b, h, true, sid, false));
	ASSERT_EQ_UINT(b.n, 1);
	for (i = 1; i < SSH_BIND_MAX; i++)
		ASSERT_OK(do_bind(&b, h, true, sid, false));
	ASSERT_ERR(do_bind(&b, h, true, sid, false), JIT_E_LIMIT);
	ssh_binds_free(&b);
	/* Nothing after a bind for authentication. */
	ASSERT_OK(do_bind(&b, h, false, sid, false));
	ASSERT_ERR(do_bind(&b, h, true, sid, false), JIT_E_DENIED);
	ssh_binds_free(&b);
	ssh_key_free(h);
}

/* OpenSSH's identity_permitted() over made-up hops. */
TEST(destination_permitted)
{
	struct ssh_key *ka, *kb, *kc, *hostcert, *ca;
	struct ssh_binds b;
	struct ssh_dests only_a, a_then_b, any_via_ca;
	struct wire_writer w;
	uint8_t sid[32];
	const char *host;

	memset(&b, 0, sizeof(b));
	memset(&only_a, 0, sizeof(only_a));
	memset(&a_then_b, 0, sizeof(a_then_b));
	memset(&any_via_ca, 0, sizeof(any_via_ca));
	ASSERT((ka = ed25519_key(NULL)) != NULL);
	ASSERT((kb = ed25519_key(NULL)) != NULL);
	ASSERT((kc = ed25519_key(NULL)) != NULL);
	wire_writer_init(&w, 1 << 20, false);
	ASSERT_OK(put_dest(&w, "", NULL, "", "hosta", ka, false));
	ASSERT_OK(parse_dests(&w, &only_a));
	ASSERT_OK(put_dest(&w, "hosta", ka, "root", "hostb", kb, false));
	ASSERT_OK(parse_dests(&w, &a_then_b));
	wire_writer_reset(&w);

	/* Used on this machine (no bind): allowed. */
	ASSERT_OK(ssh_dest_permitted(&only_a, &b, NULL, NULL));
	/* ssh to A: listed and signs, and names the host. */
	ASSERT_OK(do_bind(&b, ka, false, sid, false));
	ASSERT_OK(ssh_dest_permitted(&only_a, &b, NULL, NULL));
	ASSERT_OK(ssh_dest_permitted(&only_a, &b, "root", &host));
	ASSERT_EQ_STR(host, "hosta");
	ssh_binds_free(&b);
	/* ssh to C: neither. */
	ASSERT_OK(do_bind(&b, kc, false, sid, false));
	ASSERT_ERR(ssh_dest_permitted(&only_a, &b, NULL, NULL), JIT_E_DENIED);
	ASSERT_ERR(ssh_dest_permitted(&only_a, &b, "root", NULL), JIT_E_DENIED);
	ssh_binds_free(&b);
	/* Forwarded to A: only_a is hidden there, a_then_b is listed. */
	ASSERT_OK(do_bind(&b, ka, true, sid, false));
	ASSERT_ERR(ssh_dest_permitted(&only_a, &b, NULL, NULL), JIT_E_DENIED);
	ASSERT_OK(ssh_dest_permitted(&a_then_b, &b, NULL, NULL));
	/* Signing on a forwarding hop itself is refused. */
	ASSERT_ERR(
	    ssh_dest_permitted(&a_then_b, &b, "root", NULL), JIT_E_DENIED);
	/* From A on to B as root: allowed; as another user or to C: not. */
	ASSERT_OK(do_bind(&b, kb, false, sid, false));
	ASSERT_OK(ssh_dest_permitted(&a_then_b, &b, "root", NULL));
	ASSERT_ERR(
	    ssh_dest_permitted(&a_then_b, &b, "mallory", NULL), JIT_E_DENIED);
	ASSERT_ERR(ssh_dest_permitted(&only_a, &b, "root", NULL), JIT_E_DENIED);
	ssh_binds_free(&b);
	/* A failed bind: nothing constrained may be used. */
	ASSERT_ERR(do_bind(&b, ka, false, sid, true), JIT_E_AUTH);
	ASSERT_ERR(ssh_dest_permitted(&only_a, &b, NULL, NULL), JIT_E_DENIED);
	ssh_binds_free(&b);

	/* A host certificate by a CA named in the hop: the hop's host name
	 * is the pattern its principals must match (as OpenSSH). */
	ASSERT((hostcert = line_key(FX_HOST_CERT)) != NULL);
	ASSERT((ca = line_key(FX_CA_PUB)) != NULL);
	ASSERT_OK(put_dest(&w, "", NULL, "", "*.example.com", ca, true));
	ASSERT_OK(parse_dests(&w, &any_via_ca));
	b.n = 1;
	b.v[0].hostkey = hostcert;
	b.v[0].sidlen = 1;
	ASSERT_OK(ssh_dest_permitted(&any_via_ca, &b, "root", NULL));
	b.v[0].hostkey = kc;
	ASSERT_ERR(
	    ssh_dest_permitted(&any_via_ca, &b, "root", NULL), JIT_E_DENIED);
	memset(&b, 0, sizeof(b));
	ssh_dests_free(&any_via_ca);
	wire_writer_reset(&w);
	ASSERT_OK(put_dest(&w, "", NULL, "", "*.example.org", ca, true));
	ASSERT_OK(parse_dests(&w, &any_via_ca));
	b.n = 1;
	b.v[0].hostkey = hostcert;
	ASSERT_ERR(
	    ssh_dest_permitted(&any_via_ca, &b, "root", NULL), JIT_E_DENIED);
	memset(&b, 0, sizeof(b));

	wire_writer_reset(&w);
	ssh_dests_free(&only_a);
	ssh_dests_free(&a_then_b);
	ssh_dests_free(&any_via_ca);
	ssh_key_free(ka);
	ssh_key_free(kb);
	ssh_key_free(kc);
	ssh_key_free(hostcert);
	ssh_key_free(ca);
}

static int
put_userauth(struct wire_writer *w, const char *service, const char *method,
    const char *alg, const struct ssh_key *k, const struct ssh_key *host)
{
	const uint8_t *b;
	uint8_t sid[32] = { 7 };
	size_t n;
	int r;

	b = ssh_key_blob(k, &n);
	if ((r = wire_put_string(w, sid, sizeof(sid))) != 0 ||
	    (r = wire_put_u8(w, 50)) != 0 ||
	    (r = wire_put_cstring(w, "root")) != 0 ||
	    (r = wire_put_cstring(w, service)) != 0 ||
	    (r = wire_put_cstring(w, method)) != 0 ||
	    (r = wire_put_u8(w, 1)) != 0 ||
	    (r = wire_put_cstring(w, alg)) != 0 ||
	    (r = wire_put_string(w, b, n)) != 0)
		return r;
	if (host != NULL) {
		b = ssh_key_blob(host, &n);
		r = wire_put_string(w, b, n);
	}
	return r;
}

TEST(userauth_requests)
{
	struct ssh_key *k, *h, *other;
	struct ssh_userauth ua;
	struct wire_writer w;

	ASSERT((k = ed25519_key(NULL)) != NULL);
	ASSERT((h = ed25519_key(NULL)) != NULL);
	ASSERT((other = ed25519_key(NULL)) != NULL);
	wire_writer_init(&w, 65536, false);
	ASSERT_OK(put_userauth(
	    &w, "ssh-connection", "publickey", "ssh-ed25519", k, NULL));
	ASSERT_OK(ssh_userauth_parse(
	    wire_writer_data(&w), wire_writer_len(&w), k, &ua));
	ASSERT_EQ_STR(ua.user, "root");
	ASSERT(ua.hostkey == NULL && ua.sidlen == 32);
	ssh_userauth_free(&ua);
	ASSERT_ERR(ssh_userauth_parse(
		       wire_writer_data(&w), wire_writer_len(&w), other, &ua),
	    JIT_E_FORMAT);
	ASSERT_ERR(ssh_userauth_parse(
		       wire_writer_data(&w), wire_writer_len(&w) - 1, k, &ua),
	    JIT_E_FORMAT);
	wire_writer_reset(&w);
	ASSERT_OK(put_userauth(&w, "ssh-connection",
	    "publickey-hostbound-v00@openssh.com", "ssh-ed25519", k, h));
	ASSERT_OK(ssh_userauth_parse(
	    wire_writer_data(&w), wire_writer_len(&w), k, &ua));
	ASSERT(ua.hostkey != NULL && ssh_key_same(ua.hostkey, h));
	ssh_userauth_free(&ua);
	wire_writer_reset(&w);
	ASSERT_OK(put_userauth(
	    &w, "other-service", "publickey", "ssh-ed25519", k, NULL));
	ASSERT_ERR(ssh_userauth_parse(
		       wire_writer_data(&w), wire_writer_len(&w), k, &ua),
	    JIT_E_FORMAT);
	wire_writer_reset(&w);
	ASSERT_OK(put_userauth(
	    &w, "ssh-connection", "publickey", "ssh-rsa", k, NULL));
	ASSERT_ERR(ssh_userauth_parse(
		       wire_writer_data(&w), wire_writer_len(&w), k, &ua),
	    JIT_E_FORMAT);
	wire_writer_reset(&w);
	ssh_key_free(k);
	ssh_key_free(h);
	ssh_key_free(other);
}

static int
parse_constraints(
    const uint8_t *p, size_t n, bool smartcard, struct ssh_constraints *c)
{
	struct wire_reader r;

	memset(c, 0, sizeof(*c));
	wire_reader_init(&r, p, n);
	return ssh_constraints_parse(&r, smartcard, c);
}

TEST(key_constraints)
{
	struct ssh_constraints c;
	struct wire_writer w;
	static const uint8_t life[] = { 1, 0, 0, 0, 60, 2 };
	static const uint8_t twice[] = { 1, 0, 0, 0, 60, 1, 0, 0, 0, 1 };
	static const uint8_t confirm2[] = { 2, 2 };
	static const uint8_t unknown[] = { 9 };
	static const uint8_t short_life[] = { 1, 0, 0 };

	ASSERT_OK(parse_constraints(life, sizeof(life), false, &c));
	ASSERT(c.has_lifetime && c.lifetime_s == 60 && c.confirm);
	ssh_constraints_free(&c);
	ASSERT_ERR(
	    parse_constraints(twice, sizeof(twice), false, &c), JIT_E_FORMAT);
	ssh_constraints_free(&c);
	ASSERT_ERR(parse_constraints(confirm2, sizeof(confirm2), false, &c),
	    JIT_E_FORMAT);
	ssh_constraints_free(&c);
	ASSERT_ERR(parse_constraints(unknown, sizeof(unknown), false, &c),
	    JIT_E_UNSUPPORTED);
	ssh_constraints_free(&c);
	ASSERT_ERR(parse_constraints(short_life, sizeof(short_life), false, &c),
	    JIT_E_FORMAT);
	ssh_constraints_free(&c);
	/* Extensions: an unknown name; associated certs outside PKCS#11. */
	wire_writer_init(&w, 65536, false);
	ASSERT_OK(wire_put_u8(&w, SSH_AGENT_CONSTRAIN_EXTENSION));
	ASSERT_OK(wire_put_cstring(&w, "nonsense@example.com"));
	ASSERT_ERR(parse_constraints(
		       wire_writer_data(&w), wire_writer_len(&w), false, &c),
	    JIT_E_UNSUPPORTED);
	ssh_constraints_free(&c);
	wire_writer_reset(&w);
	ASSERT_OK(wire_put_u8(&w, SSH_AGENT_CONSTRAIN_EXTENSION));
	ASSERT_OK(wire_put_cstring(&w, SSH_EXT_ASSOC_CERTS));
	ASSERT_OK(wire_put_u8(&w, 1));
	ASSERT_OK(wire_put_string(&w, NULL, 0));
	ASSERT_ERR(parse_constraints(
		       wire_writer_data(&w), wire_writer_len(&w), false, &c),
	    JIT_E_FORMAT);
	ssh_constraints_free(&c);
	ASSERT_OK(parse_constraints(
	    wire_writer_data(&w), wire_writer_len(&w), true, &c));
	ASSERT(c.has_certs && c.certs_only && c.ncerts == 0);
	ssh_constraints_free(&c);
	wire_writer_reset(&w);
}

TEST(lock_and_sign_messages)
{
	struct ssh_sign_msg m;
	struct secret *pass = NULL;
	struct wire_writer w;
	struct wire_reader r;

	wire_writer_init(&w, 65536, true);
	ASSERT_OK(wire_put_cstring(&w, "hunter2"));
	wire_reader_init(&r, wire_writer_data(&w), wire_writer_len(&w));
	ASSERT_OK(ssh_msg_lock(&r, &pass));
	ASSERT_EQ_UINT(secret_len(pass), 7);
	secret_free(pass);
	pass = NULL;
	ASSERT_OK(wire_put_u8(&w, 0));
	wire_reader_init(&r, wire_writer_data(&w), wire_writer_len(&w));
	ASSERT_ERR(ssh_msg_lock(&r, &pass), JIT_E_FORMAT);
	ASSERT(pass == NULL);
	wire_writer_reset(&w);
	ASSERT_OK(wire_put_string(&w, "key", 3));
	ASSERT_OK(wire_put_string(&w, "data", 4));
	ASSERT_OK(wire_put_u32(&w, SSH_AGENT_RSA_SHA2_256));
	wire_reader_init(&r, wire_writer_data(&w), wire_writer_len(&w));
	ASSERT_OK(ssh_msg_sign(&r, &m));
	ASSERT(m.bloblen == 3 && m.datalen == 4 &&
	    m.flags == SSH_AGENT_RSA_SHA2_256);
	wire_reader_init(&r, wire_writer_data(&w), wire_writer_len(&w) - 1);
	ASSERT_ERR(ssh_msg_sign(&r, &m), JIT_E_FORMAT);
	wire_writer_reset(&w);
}

TEST(key_lines)
{
	uint8_t *blob = NULL;
	size_t len;

	ASSERT_ERR(
	    ssh_key_line_blob("ssh-ed25519", 11, &blob, &len), JIT_E_FORMAT);
	ASSERT_ERR(ssh_key_line_blob("ssh-ed25519 !!!! x", 18, &blob, &len),
	    JIT_E_FORMAT);
	ASSERT_ERR(ssh_key_line_blob(" AAAA", 5, &blob, &len), JIT_E_FORMAT);
	ASSERT_OK(ssh_key_line_blob("t AAAA\n", 7, &blob, &len));
	ASSERT_EQ_UINT(len, 3);
	free(blob);
}

static const struct test_case tests[] = {
	TEST_ENTRY(public_blobs_and_fingerprints),
	TEST_ENTRY(the_seed_gives_the_fixture_key),
	TEST_ENTRY(malformed_blobs_are_refused),
	TEST_ENTRY(ed25519_sign_and_verify),
	TEST_ENTRY(a_real_certificate),
	TEST_ENTRY(a_certificate_with_a_bad_signature_is_refused),
	TEST_ENTRY(attach_a_certificate_to_its_key),
	TEST_ENTRY(ecdsa_from_the_agent_wire),
	TEST_ENTRY(rsa_from_the_agent_wire),
	TEST_ENTRY(ed25519_from_the_agent_wire),
	TEST_ENTRY(patterns),
	TEST_ENTRY(destination_constraints_parse),
	TEST_ENTRY(session_binds),
	TEST_ENTRY(destination_permitted),
	TEST_ENTRY(userauth_requests),
	TEST_ENTRY(key_constraints),
	TEST_ENTRY(lock_and_sign_messages),
	TEST_ENTRY(key_lines),
};

TEST_MAIN(tests)
