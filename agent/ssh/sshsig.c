/* OpenSSH's detached signatures (SSHSIG): armor, blob, signed data, verification. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "sshsig.h"
#include "wire.h"

#define MAGIC "SSHSIG"
#define MAGIC_LEN 6
#define SIG_VERSION 1
#define ARMOR_BEGIN "-----BEGIN SSH SIGNATURE-----"
#define ARMOR_END "-----END SSH SIGNATURE-----"
#define ARMOR_COLS 70 /* as ssh-keygen wraps it */
#define RESERVED_MAX 1024
#define HASH_MAX 64 /* sha512 */
#define SK_APP_MAX 1024
#define SK_ED25519 "sk-ssh-ed25519@openssh.com"
#define SK_ECDSA "sk-ecdsa-sha2-nistp256@openssh.com"

int
sshsig_dearmor(
    const void *text, size_t len, uint8_t **ret_blob, size_t *ret_len)
{
	struct wire_reader r;
	const uint8_t *line, *b64 = NULL;
	size_t n, b64len = 0, cap, blen;
	uint8_t *blob = NULL;
	bool began = false, ended = false;

	if (len > SSHSIG_ARMOR_MAX)
		return JIT_E_LIMIT;
	wire_reader_init(&r, text, len);
	while (wire_left(&r) > 0) {
		if (wire_get_line(&r, SSHSIG_ARMOR_MAX, &line, &n, NULL) != 0)
			return JIT_E_FORMAT;
		while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' '))
			n--;
		if (!began) {
			/* Text before the armor (a mail's quote) is passed. */
			began = n == strlen(ARMOR_BEGIN) &&
			    memcmp(line, ARMOR_BEGIN, n) == 0;
			continue;
		}
		if (n == strlen(ARMOR_END) && memcmp(line, ARMOR_END, n) == 0) {
			ended = true;
			break;
		}
		/* The base64 lines follow one another in the input. */
		if (b64 == NULL)
			b64 = line;
		b64len = (size_t)(line - b64) + n;
	}
	if (!began || !ended || b64 == NULL)
		return JIT_E_FORMAT;
	cap = b64len / 4 * 3 + 3;
	if ((blob = malloc(cap)) == NULL)
		return JIT_E_NOMEM;
	if (sodium_base642bin(blob, cap, (const char *)b64, b64len, "\r\n ",
		&blen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    blen == 0 || blen > SSHSIG_BLOB_MAX) {
		free(blob);
		return JIT_E_FORMAT;
	}
	*ret_blob = blob;
	*ret_len = blen;
	return JIT_OK;
}

int
sshsig_armor(const uint8_t *blob, size_t len, char **ret)
{
	size_t b64cap, b64len, i, o = 0, outcap;
	char *b64, *out;

	if (len > SSHSIG_BLOB_MAX)
		return JIT_E_LIMIT;
	b64cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	if ((b64 = malloc(b64cap)) == NULL)
		return JIT_E_NOMEM;
	sodium_bin2base64(
	    b64, b64cap, blob, len, sodium_base64_VARIANT_ORIGINAL);
	b64len = strlen(b64);
	outcap = sizeof(ARMOR_BEGIN) + sizeof(ARMOR_END) + b64len +
	    b64len / ARMOR_COLS + 4;
	if ((out = malloc(outcap)) == NULL) {
		free(b64);
		return JIT_E_NOMEM;
	}
	o += (size_t)snprintf(out + o, outcap - o, "%s\n", ARMOR_BEGIN);
	for (i = 0; i < b64len; i += ARMOR_COLS)
		o += (size_t)snprintf(out + o, outcap - o, "%.*s\n",
		    (int)(b64len - i < ARMOR_COLS ? b64len - i : ARMOR_COLS),
		    b64 + i);
	(void)snprintf(out + o, outcap - o, "%s\n", ARMOR_END);
	free(b64);
	*ret = out;
	return JIT_OK;
}

/* A string member copied into a fixed buffer: no NUL, must fit. */
static int
get_name(struct wire_reader *r, char *out, size_t outlen)
{
	const uint8_t *p;
	size_t n;
	int rc;

	if ((rc = wire_get_string(r, outlen - 1, &p, &n)) != 0)
		return rc;
	if (memchr(p, '\0', n) != NULL)
		return JIT_E_FORMAT;
	memcpy(out, p, n);
	out[n] = '\0';
	return JIT_OK;
}

int
sshsig_parse(const uint8_t *blob, size_t len, struct sshsig *ret)
{
	struct wire_reader r;
	struct sshsig s;
	const uint8_t *p;
	uint32_t version;
	size_t n;
	int rc;

	memset(&s, 0, sizeof(s));
	if (len > SSHSIG_BLOB_MAX)
		return JIT_E_LIMIT;
	wire_reader_init(&r, blob, len);
	if ((rc = wire_expect(&r, MAGIC, MAGIC_LEN)) != 0 ||
	    (rc = wire_get_u32(&r, &version)) != 0)
		return JIT_E_FORMAT;
	if (version != SIG_VERSION)
		return JIT_E_UNSUPPORTED;
	if ((rc = wire_get_string(&r, SSH_KEY_BLOB_MAX, &s.pub, &s.publen)) !=
		0 ||
	    (rc = get_name(&r, s.ns, sizeof(s.ns))) != 0 ||
	    (rc = wire_get_string(&r, RESERVED_MAX, &p, &n)) != 0 ||
	    (rc = get_name(&r, s.hash, sizeof(s.hash))) != 0 ||
	    (rc = wire_get_string(&r, SSH_SIG_BLOB_MAX, &s.sig, &s.siglen)) !=
		0 ||
	    (rc = wire_end(&r)) != 0)
		return rc == JIT_E_LIMIT ? rc : JIT_E_FORMAT;
	*ret = s;
	return JIT_OK;
}

/* H(msg) with the signature's hash; JIT_E_UNSUPPORTED for another. */
static int
hash_msg(const char *hash, const uint8_t *msg, size_t len, uint8_t *out,
    size_t *outlen)
{
	if (strcmp(hash, "sha512") == 0) {
		crypto_hash_sha512(out, msg, len);
		*outlen = crypto_hash_sha512_BYTES;
	} else if (strcmp(hash, "sha256") == 0) {
		crypto_hash_sha256(out, msg, len);
		*outlen = crypto_hash_sha256_BYTES;
	} else
		return JIT_E_UNSUPPORTED;
	return JIT_OK;
}

int
sshsig_signed_data(const char *ns, const char *hash, const uint8_t *msg,
    size_t msglen, uint8_t **ret, size_t *ret_len)
{
	struct wire_writer w;
	uint8_t h[HASH_MAX];
	size_t hlen;
	int r;

	if ((r = hash_msg(hash, msg, msglen, h, &hlen)) != 0)
		return r;
	wire_writer_init(&w, SSHSIG_NS_MAX + HASH_MAX + 64, false);
	if ((r = wire_put_bytes(&w, MAGIC, MAGIC_LEN)) != 0 ||
	    (r = wire_put_cstring(&w, ns)) != 0 ||
	    (r = wire_put_string(&w, "", 0)) != 0 ||
	    (r = wire_put_cstring(&w, hash)) != 0 ||
	    (r = wire_put_string(&w, h, hlen)) != 0 ||
	    (r = wire_writer_take(&w, ret, ret_len)) != 0)
		wire_writer_reset(&w);
	return r;
}

int
sshsig_build(const uint8_t *pub, size_t publen, const char *ns,
    const char *hash, const uint8_t *sig, size_t siglen, uint8_t **ret,
    size_t *ret_len)
{
	struct wire_writer w;
	int r;

	wire_writer_init(&w, SSHSIG_BLOB_MAX, false);
	if ((r = wire_put_bytes(&w, MAGIC, MAGIC_LEN)) != 0 ||
	    (r = wire_put_u32(&w, SIG_VERSION)) != 0 ||
	    (r = wire_put_string(&w, pub, publen)) != 0 ||
	    (r = wire_put_cstring(&w, ns)) != 0 ||
	    (r = wire_put_string(&w, "", 0)) != 0 ||
	    (r = wire_put_cstring(&w, hash)) != 0 ||
	    (r = wire_put_string(&w, sig, siglen)) != 0 ||
	    (r = wire_writer_take(&w, ret, ret_len)) != 0)
		wire_writer_reset(&w);
	return r;
}

void
sshsig_signer_reset(struct sshsig_signer *s)
{
	ssh_key_free(s->key);
	memset(s, 0, sizeof(*s));
}

/* "SHA256:..." of a blob, as OpenSSH prints a fingerprint. */
static void
blob_fingerprint(const uint8_t *blob, size_t len, char out[SSH_FP_LEN])
{
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, blob, len);
	memcpy(out, "SHA256:", 7);
	sodium_bin2base64(out + 7, SSH_FP_LEN - 7, h, sizeof(h),
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

/*
 * A security key: its plain twin (ssh-ed25519 or ecdsa-sha2-nistp256 with
 * the same public numbers) checks the authenticator's signature, which
 * covers SHA256(application) || flags || counter || SHA256(data).
 */
static int
verify_sk(const struct sshsig *s, const char *name, struct wire_reader *kr,
    const uint8_t *data, size_t datalen, struct sshsig_signer *ret)
{
	struct wire_reader sr;
	struct wire_writer plain, psig, signed_w;
	const uint8_t *pk, *curve = NULL, *app, *sigbytes;
	size_t pklen, curvelen = 0, applen, sigbyteslen;
	uint8_t flags, h[crypto_hash_sha256_BYTES];
	uint32_t counter;
	char *alg = NULL;
	bool ed = strcmp(name, SK_ED25519) == 0;
	int rc = JIT_E_AUTH;

	wire_writer_init(&plain, SSH_KEY_BLOB_MAX, false);
	wire_writer_init(&psig, SSH_SIG_BLOB_MAX, false);
	wire_writer_init(&signed_w, 256, false);
	if ((!ed && wire_get_string(kr, 16, &curve, &curvelen) != 0) ||
	    wire_get_string(kr, SSH_KEY_BLOB_MAX, &pk, &pklen) != 0 ||
	    wire_get_string(kr, SK_APP_MAX, &app, &applen) != 0 ||
	    wire_end(kr) != 0) {
		rc = JIT_E_FORMAT;
		goto out;
	}
	if ((rc = wire_put_cstring(
		 &plain, ed ? "ssh-ed25519" : "ecdsa-sha2-nistp256")) != 0 ||
	    (!ed && (rc = wire_put_string(&plain, curve, curvelen)) != 0) ||
	    (rc = wire_put_string(&plain, pk, pklen)) != 0)
		goto out;
	if ((rc = ssh_key_from_blob(wire_writer_data(&plain),
		 wire_writer_len(&plain), &ret->key)) != 0) {
		rc = JIT_E_FORMAT;
		goto out;
	}
	rc = JIT_E_AUTH;
	wire_reader_init(&sr, s->sig, s->siglen);
	if (wire_get_cstring(&sr, SSH_KEY_NAME_MAX, &alg) != 0 ||
	    strcmp(alg, name) != 0 ||
	    wire_get_string(&sr, SSH_SIG_BLOB_MAX, &sigbytes, &sigbyteslen) !=
		0 ||
	    wire_get_u8(&sr, &flags) != 0 || wire_get_u32(&sr, &counter) != 0 ||
	    wire_end(&sr) != 0)
		goto out;
	if (wire_put_cstring(
		&psig, ed ? "ssh-ed25519" : "ecdsa-sha2-nistp256") != 0 ||
	    wire_put_string(&psig, sigbytes, sigbyteslen) != 0)
		goto out;
	crypto_hash_sha256(h, app, applen);
	if (wire_put_bytes(&signed_w, h, sizeof(h)) != 0 ||
	    wire_put_u8(&signed_w, flags) != 0 ||
	    wire_put_u32(&signed_w, counter) != 0)
		goto out;
	crypto_hash_sha256(h, data, datalen);
	if (wire_put_bytes(&signed_w, h, sizeof(h)) != 0)
		goto out;
	if ((rc = ssh_key_verify(ret->key, wire_writer_data(&psig),
		 wire_writer_len(&psig), wire_writer_data(&signed_w),
		 wire_writer_len(&signed_w))) != 0)
		goto out;
	/* The security key's own key is not a plain key: no ssh_key. */
	ssh_key_free(ret->key);
	ret->key = NULL;
	ret->sk = true;
	ret->sk_flags = flags;
	ret->sk_counter = counter;
	blob_fingerprint(s->pub, s->publen, ret->fp);
	rc = JIT_OK;
out:
	free(alg);
	wire_writer_reset(&plain);
	wire_writer_reset(&psig);
	wire_writer_reset(&signed_w);
	return rc;
}

int
sshsig_verify(const struct sshsig *s, const char *ns, const uint8_t *msg,
    size_t msglen, struct sshsig_signer *ret)
{
	struct sshsig_signer out;
	struct wire_reader kr;
	uint8_t *data = NULL;
	size_t datalen;
	char *name = NULL;
	int rc;

	memset(&out, 0, sizeof(out));
	if (strcmp(s->ns, ns) != 0)
		return JIT_E_DENIED;
	if ((rc = sshsig_signed_data(
		 ns, s->hash, msg, msglen, &data, &datalen)) != 0)
		return rc;
	out.pub = s->pub;
	out.publen = s->publen;
	wire_reader_init(&kr, s->pub, s->publen);
	if ((rc = wire_get_cstring(&kr, SSH_KEY_NAME_MAX, &name)) != 0) {
		rc = JIT_E_FORMAT;
		goto out;
	}
	if (strcmp(name, SK_ED25519) == 0 || strcmp(name, SK_ECDSA) == 0) {
		if ((rc = verify_sk(s, name, &kr, data, datalen, &out)) != 0)
			goto out;
		if ((out.sk_flags & SSHSIG_SK_USER_PRESENT) == 0) {
			rc = JIT_E_NO_TOUCH;
			goto out;
		}
	} else {
		if ((rc = ssh_key_from_blob(s->pub, s->publen, &out.key)) != 0)
			goto out;
		/* SHA-1 RSA (ssh-rsa) is refused by ssh_key_verify. */
		if ((rc = ssh_key_verify(
			 out.key, s->sig, s->siglen, data, datalen)) != 0)
			goto out;
		ssh_key_fingerprint(out.key, out.fp);
	}
	*ret = out;
	memset(&out, 0, sizeof(out));
	rc = JIT_OK;
out:
	sshsig_signer_reset(&out);
	free(name);
	free(data);
	return rc;
}
