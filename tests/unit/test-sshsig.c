/* Unit tests of agent/ssh/sshsig.c and allowed-signers.c: SSHSIG blobs and armor, verification (plain, certified and security keys), allowed_signers lines and their refusals. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "assert.h"
#include "err.h"
#include "secret.h"
#include "ssh-key.h"
#include "sshsig.h"
#include "wire.h"

/* The fixtures of test-sshkey.c (made by ssh-keygen 9.2). */
#define FX_USER_SEED "EaKuMk8AFwSTpRFzpWAKlwOzfhVNAA1SSdOtimEUxyA="
#define FX_USER_B64 \
	"AAAAC3NzaC1lZDI1NTE5AAAAIAuht5XxcDVf5+oTA3EjPxBSV12rP8WsX54oAXfLO8D8"
#define FX_USER_FP "SHA256:U0iA7Us6eO7FsUdDeBGzmWarlkSSa9RjhBZS7W2LFIE"
/* -I fx-id -n alice,bob -V always:forever, signed by FX_CA. */
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
#define FX_CA_B64 \
	"AAAAC3NzaC1lZDI1NTE5AAAAIIuDtdFsDnArwF9RotbQKDWdW+oGeDU62mrQoj8pFtnB"

#define MSG "-----BEGIN JIT ACCESS REQUEST-----\nid: 1\n"
#define NS SSHSIG_NS_APPROVAL

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

/* An armored SSHSIG of msg by k, as jitctl approve makes one. */
static char *
sign_armored(const struct ssh_key *k, const char *ns, const char *msg)
{
	uint8_t *data = NULL, *sig = NULL, *blob = NULL;
	size_t datalen, siglen, bloblen, publen;
	const uint8_t *pub = ssh_key_blob(k, &publen);
	char *out = NULL;

	if (sshsig_signed_data(ns, SSHSIG_HASH, (const uint8_t *)msg,
		strlen(msg), &data, &datalen) == 0 &&
	    ssh_key_sign(k, data, datalen, 0, &sig, &siglen) == 0 &&
	    sshsig_build(pub, publen, ns, SSHSIG_HASH, sig, siglen, &blob,
		&bloblen) == 0)
		(void)sshsig_armor(blob, bloblen, &out);
	free(data);
	free(sig);
	free(blob);
	return out;
}

/* Verify armored text over msg: the error, and the signer on success. */
static int
verify_armored(const char *armored, const char *ns, const char *msg,
    struct sshsig_signer *ret)
{
	struct sshsig s;
	uint8_t *blob = NULL;
	size_t len;
	int r;

	memset(ret, 0, sizeof(*ret));
	if ((r = sshsig_dearmor(armored, strlen(armored), &blob, &len)) != 0)
		return r;
	if ((r = sshsig_parse(blob, len, &s)) == 0)
		r = sshsig_verify(
		    &s, ns, (const uint8_t *)msg, strlen(msg), ret);
	/* The signer points into the blob: keep only what the test reads. */
	ret->pub = NULL;
	ret->publen = 0;
	free(blob);
	return r;
}

TEST(ed25519_round_trip_and_refusals)
{
	struct ssh_key *k;
	struct sshsig_signer sg;
	char *a;

	ASSERT((k = ed25519_key(FX_USER_SEED)) != NULL);
	ASSERT((a = sign_armored(k, NS, MSG)) != NULL);
	ASSERT(strncmp(a, "-----BEGIN SSH SIGNATURE-----\n", 30) == 0);
	ASSERT(strstr(a, "\n-----END SSH SIGNATURE-----\n") != NULL);
	ASSERT_OK(verify_armored(a, NS, MSG, &sg));
	ASSERT_EQ_STR(sg.fp, FX_USER_FP);
	ASSERT(!sg.sk);
	sshsig_signer_reset(&sg);
	/* Another message, another namespace. */
	ASSERT_ERR(verify_armored(a, NS, MSG "x", &sg), JIT_E_AUTH);
	ASSERT_ERR(verify_armored(a, "file", MSG, &sg), JIT_E_DENIED);
	free(a);
	ASSERT((a = sign_armored(k, "git", MSG)) != NULL);
	ASSERT_ERR(verify_armored(a, NS, MSG, &sg), JIT_E_DENIED);
	free(a);
	ssh_key_free(k);
}

TEST(armor_is_strict)
{
	uint8_t *blob;
	size_t len;
	struct sshsig s;
	static const char good[] = "quoted text first\n"
				   "-----BEGIN SSH SIGNATURE-----\n"
				   "U1NIU0lH\n"
				   "-----END SSH SIGNATURE-----\n";

	ASSERT_OK(sshsig_dearmor(good, strlen(good), &blob, &len));
	ASSERT_EQ_UINT(len, 6);
	/* "SSHSIG" alone: no version. */
	ASSERT_ERR(sshsig_parse(blob, len, &s), JIT_E_FORMAT);
	free(blob);
	ASSERT_ERR(sshsig_dearmor("-----BEGIN SSH SIGNATURE-----\nU1NI\n", 36,
		       &blob, &len),
	    JIT_E_FORMAT);
	ASSERT_ERR(sshsig_dearmor("-----BEGIN SSH SIGNATURE-----\n%%%%\n"
				  "-----END SSH SIGNATURE-----\n",
		       64, &blob, &len),
	    JIT_E_FORMAT);
	ASSERT_ERR(sshsig_parse((const uint8_t *)"SSHSIG\0\0\0\2", 10, &s),
	    JIT_E_UNSUPPORTED);
}

TEST(trailing_bytes_refused)
{
	struct ssh_key *k;
	uint8_t *data, *sig, *blob, *longer;
	size_t datalen, siglen, bloblen, publen;
	const uint8_t *pub;
	struct sshsig s;

	ASSERT((k = ed25519_key(NULL)) != NULL);
	pub = ssh_key_blob(k, &publen);
	ASSERT_OK(sshsig_signed_data(
	    NS, "sha256", (const uint8_t *)MSG, 6, &data, &datalen));
	ASSERT_OK(ssh_key_sign(k, data, datalen, 0, &sig, &siglen));
	ASSERT_OK(sshsig_build(
	    pub, publen, NS, "sha256", sig, siglen, &blob, &bloblen));
	ASSERT_OK(sshsig_parse(blob, bloblen, &s));
	ASSERT_EQ_STR(s.hash, "sha256");
	ASSERT((longer = malloc(bloblen + 1)) != NULL);
	memcpy(longer, blob, bloblen);
	longer[bloblen] = 0;
	ASSERT_ERR(sshsig_parse(longer, bloblen + 1, &s), JIT_E_FORMAT);
	free(longer);
	free(data);
	free(sig);
	free(blob);
	ssh_key_free(k);
}

/*
 * A security key's signature, made here as an authenticator makes it:
 * ed25519 over SHA256(application) || flags || counter || SHA256(data).
 */
static char *
sk_sign(const uint8_t *pk, const uint8_t *sk, uint8_t flags, uint32_t counter,
    const char *msg, bool tamper)
{
	struct wire_writer kb, sb, tbs, inner;
	uint8_t *data = NULL, *blob = NULL, h[32], sig[64];
	size_t datalen, bloblen;
	char *out = NULL;

	wire_writer_init(&kb, 4096, false);
	wire_writer_init(&sb, 4096, false);
	wire_writer_init(&tbs, 4096, false);
	wire_writer_init(&inner, 4096, false);
	(void)inner;
	if (wire_put_cstring(&kb, "sk-ssh-ed25519@openssh.com") != 0 ||
	    wire_put_string(&kb, pk, 32) != 0 ||
	    wire_put_cstring(&kb, "ssh:") != 0)
		goto out;
	if (sshsig_signed_data(NS, SSHSIG_HASH, (const uint8_t *)msg,
		strlen(msg), &data, &datalen) != 0)
		goto out;
	crypto_hash_sha256(h, (const uint8_t *)"ssh:", 4);
	(void)wire_put_bytes(&tbs, h, 32);
	(void)wire_put_u8(&tbs, flags);
	(void)wire_put_u32(&tbs, counter);
	crypto_hash_sha256(h, data, datalen);
	(void)wire_put_bytes(&tbs, h, 32);
	crypto_sign_detached(
	    sig, NULL, wire_writer_data(&tbs), wire_writer_len(&tbs), sk);
	if (wire_put_cstring(&sb, "sk-ssh-ed25519@openssh.com") != 0 ||
	    wire_put_string(&sb, sig, sizeof(sig)) != 0 ||
	    wire_put_u8(&sb, flags) != 0 ||
	    wire_put_u32(&sb, tamper ? counter + 1 : counter) != 0)
		goto out;
	if (sshsig_build(wire_writer_data(&kb), wire_writer_len(&kb), NS,
		SSHSIG_HASH, wire_writer_data(&sb), wire_writer_len(&sb), &blob,
		&bloblen) == 0)
		(void)sshsig_armor(blob, bloblen, &out);
out:
	free(data);
	free(blob);
	wire_writer_reset(&kb);
	wire_writer_reset(&sb);
	wire_writer_reset(&tbs);
	wire_writer_reset(&inner);
	return out;
}

TEST(security_key_flags_and_counter)
{
	uint8_t pk[32], sk[64];
	struct sshsig_signer sg;
	char *a;

	crypto_sign_keypair(pk, sk);
	ASSERT((a = sk_sign(pk, sk, SSHSIG_SK_USER_PRESENT, 7, MSG, false)) !=
	    NULL);
	ASSERT_OK(verify_armored(a, NS, MSG, &sg));
	ASSERT(sg.sk);
	ASSERT_EQ_UINT(sg.sk_counter, 7);
	ASSERT_EQ_UINT(sg.sk_flags, SSHSIG_SK_USER_PRESENT);
	ASSERT(strncmp(sg.fp, "SHA256:", 7) == 0);
	sshsig_signer_reset(&sg);
	ASSERT_ERR(verify_armored(a, NS, MSG "edited", &sg), JIT_E_AUTH);
	free(a);
	/* Without the touch: refused though the signature is good. */
	ASSERT((a = sk_sign(pk, sk, 0, 8, MSG, false)) != NULL);
	ASSERT_ERR(verify_armored(a, NS, MSG, &sg), JIT_E_NO_TOUCH);
	free(a);
	/* The counter is signed: another one does not verify. */
	ASSERT((a = sk_sign(pk, sk, SSHSIG_SK_USER_PRESENT, 9, MSG, true)) !=
	    NULL);
	ASSERT_ERR(verify_armored(a, NS, MSG, &sg), JIT_E_AUTH);
	free(a);
}

static struct allowed_signers *
parse(const char *text, char *why, size_t whylen)
{
	struct allowed_signers *as = NULL;

	why[0] = '\0';
	if (allowed_signers_parse(
		(const uint8_t *)text, strlen(text), &as, why, whylen) != 0)
		return NULL;
	return as;
}

TEST(allowed_signers_lines)
{
	struct allowed_signers *as;
	char why[512];

	as = parse(
	    "# the team\n"
	    "\n"
	    "  alice@example.com ssh-ed25519 " FX_USER_B64 " a comment\n"
	    "\"bob@example.com,carol@example.com\" "
	    "namespaces=\"jit-approval@jit-agent,git\",valid-after=\"20200101\","
	    "valid-before=\"203001011200Z\" ssh-ed25519 " FX_USER_B64 "\n"
	    "*@example.com cert-authority ssh-ed25519 " FX_CA_B64 "\r\n",
	    why, sizeof(why));
	ASSERT_MSG(as != NULL, "%s", why);
	ASSERT_EQ_UINT(as->n, 3);
	ASSERT_EQ_STR(as->v[0].principals, "alice@example.com");
	ASSERT_EQ_INT(as->v[0].line, 3);
	ASSERT(as->v[0].namespaces == NULL && !as->v[0].cert_authority);
	ASSERT_EQ_STR(as->v[1].principals, "bob@example.com,carol@example.com");
	ASSERT_EQ_STR(as->v[1].namespaces, "jit-approval@jit-agent,git");
	ASSERT_EQ_INT(as->v[1].valid_before, 1893499200);
	ASSERT(as->v[1].valid_after > 0);
	ASSERT(as->v[2].cert_authority);
	allowed_signers_free(as);

	/* Each bad line is refused with its number and what is wrong. */
	ASSERT(parse("alice\n", why, sizeof(why)) == NULL);
	ASSERT(strstr(why, "line 1: no key type") != NULL);
	ASSERT(parse("#\nalice frobnicate ssh-ed25519 " FX_USER_B64 "\n", why,
		   sizeof(why)) == NULL);
	ASSERT(strstr(why, "line 2: an unknown option") != NULL);
	ASSERT(
	    parse("alice valid-before=\"2030\" ssh-ed25519 " FX_USER_B64 "\n",
		why, sizeof(why)) == NULL);
	ASSERT(strstr(why, "valid-before= is not a time") != NULL);
	ASSERT(
	    parse("alice ssh-rsa " FX_USER_B64 "\n", why, sizeof(why)) == NULL);
	ASSERT(strstr(why, "not of the type") != NULL);
	ASSERT(parse("alice ssh-ed25519 !!!!\n", why, sizeof(why)) == NULL);
	ASSERT(strstr(why, "not base64") != NULL);
}

static int
find(const char *signers, const struct sshsig_signer *sg, const char *ns,
    int64_t now, char *principal, char *why)
{
	struct allowed_signers *as;
	char pwhy[512];
	int r;

	if ((as = parse(signers, pwhy, sizeof(pwhy))) == NULL)
		return JIT_E_INTERNAL;
	r = allowed_signers_find(as, sg, ns, now, principal, 256, why, 512);
	allowed_signers_free(as);
	return r;
}

TEST(allowed_signers_find_plain)
{
	struct ssh_key *k, *other;
	struct sshsig_signer sg;
	char *a, principal[256], why[512];
	int64_t now = 1700000000;

	ASSERT((k = ed25519_key(FX_USER_SEED)) != NULL);
	ASSERT((other = ed25519_key(NULL)) != NULL);
	ASSERT((a = sign_armored(k, NS, MSG)) != NULL);
	ASSERT_OK(verify_armored(a, NS, MSG, &sg));
	sg.pub = ssh_key_blob(k, &sg.publen);
	ASSERT_OK(find("alice@example.com ssh-ed25519 " FX_USER_B64 "\n", &sg,
	    NS, now, principal, why));
	ASSERT_EQ_STR(principal, "alice@example.com");
	/* Not in the file. */
	ASSERT_ERR(find("bob ssh-ed25519 "
			"AAAAC3NzaC1lZDI1NTE5AAAAIIuDtdFsDnArwF9RotbQKDWdW+"
			"oGeDU62mrQoj8pFtnB\n",
		       &sg, NS, now, principal, why),
	    JIT_E_NOENT);
	ASSERT(strstr(why, "is not in the approvers' allowed_signers file") !=
	    NULL);
	/* Another namespace only. */
	ASSERT_ERR(
	    find("alice namespaces=\"git\" ssh-ed25519 " FX_USER_B64 "\n", &sg,
		NS, now, principal, why),
	    JIT_E_DENIED);
	ASSERT(strstr(why, "may sign only in namespaces git") != NULL);
	/* Outside valid-after / valid-before. */
	ASSERT_ERR(
	    find("alice valid-before=\"20200101Z\" ssh-ed25519 " FX_USER_B64
		 "\n",
		&sg, NS, now, principal, why),
	    JIT_E_EXPIRED);
	ASSERT(strstr(why, "outside its valid-after/valid-before") != NULL);
	ASSERT_ERR(
	    find("alice valid-after=\"20300101Z\" ssh-ed25519 " FX_USER_B64
		 "\n",
		&sg, NS, now, principal, why),
	    JIT_E_EXPIRED);
	ASSERT_OK(
	    find("alice valid-after=\"20200101Z\",valid-before=\"20300101Z\" "
		 "ssh-ed25519 " FX_USER_B64 "\n",
		&sg, NS, now, principal, why));
	/* A later line may still name it. */
	ASSERT_OK(find("old namespaces=\"git\" ssh-ed25519 " FX_USER_B64 "\n"
		       "new ssh-ed25519 " FX_USER_B64 "\n",
	    &sg, NS, now, principal, why));
	ASSERT_EQ_STR(principal, "new");
	/* A plain key is not a certificate authority. */
	ASSERT_ERR(find("alice cert-authority ssh-ed25519 " FX_USER_B64 "\n",
		       &sg, NS, now, principal, why),
	    JIT_E_NOENT);
	sshsig_signer_reset(&sg);
	free(a);
	ssh_key_free(k);
	ssh_key_free(other);
}

TEST(allowed_signers_find_certificate)
{
	struct ssh_key *k;
	struct sshsig_signer sg;
	uint8_t *blob;
	size_t len;
	char *a, principal[256], why[512];
	int64_t now = 1700000000;

	ASSERT((k = ed25519_key(FX_USER_SEED)) != NULL);
	ASSERT_OK(
	    ssh_key_line_blob(FX_USER_CERT, strlen(FX_USER_CERT), &blob, &len));
	ASSERT_OK(ssh_key_attach_cert(k, blob, len));
	free(blob);
	ASSERT((a = sign_armored(k, NS, MSG)) != NULL);
	ASSERT_OK(verify_armored(a, NS, MSG, &sg));
	ASSERT_EQ_STR(sg.fp, FX_USER_FP);
	ASSERT(ssh_key_cert(sg.key) != NULL);
	sg.pub = ssh_key_blob(k, &sg.publen);
	ASSERT_OK(find("b*,!carol cert-authority ssh-ed25519 " FX_CA_B64 "\n",
	    &sg, NS, now, principal, why));
	ASSERT_EQ_STR(principal, "bob");
	ASSERT_ERR(find("carol cert-authority ssh-ed25519 " FX_CA_B64 "\n", &sg,
		       NS, now, principal, why),
	    JIT_E_DENIED);
	ASSERT(strstr(why, "names none of the principals carol") != NULL);
	/* The CA's key on a line without cert-authority names no one. */
	ASSERT_ERR(find("alice ssh-ed25519 " FX_CA_B64 "\n", &sg, NS, now,
		       principal, why),
	    JIT_E_NOENT);
	/* Nor does the certified key itself: the certificate signed. */
	ASSERT_ERR(find("alice ssh-ed25519 " FX_USER_B64 "\n", &sg, NS, now,
		       principal, why),
	    JIT_E_NOENT);
	sshsig_signer_reset(&sg);
	free(a);
	ssh_key_free(k);
}

TEST(pattern_lists)
{
	ASSERT(sshsig_pattern_list("alice@example.com", "*@example.com"));
	ASSERT(
	    !sshsig_pattern_list("alice@example.com", "*@example.com,!alice*"));
	ASSERT(sshsig_pattern_list("bob", "alice,bob"));
	ASSERT(!sshsig_pattern_list("bob", "alice"));
	ASSERT(!sshsig_pattern_list("bob", "!alice"));
}

static const struct test_case tests[] = {
	TEST_ENTRY(ed25519_round_trip_and_refusals),
	TEST_ENTRY(armor_is_strict),
	TEST_ENTRY(trailing_bytes_refused),
	TEST_ENTRY(security_key_flags_and_counter),
	TEST_ENTRY(allowed_signers_lines),
	TEST_ENTRY(allowed_signers_find_plain),
	TEST_ENTRY(allowed_signers_find_certificate),
	TEST_ENTRY(pattern_lists),
};
TEST_MAIN(tests)
