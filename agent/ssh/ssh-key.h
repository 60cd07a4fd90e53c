/* SSH keys and certificates: their wire formats, fingerprints, signatures. */
#ifndef JIT_SSH_KEY_H
#define JIT_SSH_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

struct secret;

/*
 * Limits a client controls.  OpenSSH's own bounds are close: it takes RSA
 * moduli of 1024 to 16384 bits and 256 principals per certificate; we stop
 * RSA at 8192 bits (what ssh-keygen offers short of the extreme, and what
 * keeps a hostile key's checks cheap).
 */
#define SSH_KEY_BLOB_MAX (16 * 1024) /* a public key or certificate */
#define SSH_SIG_BLOB_MAX (2 * 1024) /* a signature blob */
#define SSH_KEY_NAME_MAX 64 /* "ssh-ed25519-cert-v01@..." */
#define SSH_RSA_BITS_MIN 1024
#define SSH_RSA_BITS_MAX 8192
#define SSH_CERT_PRINCIPALS_MAX 256
#define SSH_CERT_OPTIONS_MAX 64 /* critical options, extensions */
#define SSH_CERT_STR_MAX 1024 /* key id, a principal, a name */
#define SSH_CERT_LINE_MAX (32 * 1024) /* "TYPE BASE64 COMMENT" */
/* A flag of ssh_key_sign() that never comes from the wire (the sign
 * request's own flags are cleared of it): plain ssh-rsa, SHA-1, allowed. */
#define SSH_KEY_SIGN_SHA1 0x80000000u
#define SSH_FP_LEN 64 /* "SHA256:" + 43 + NUL, padded */

#define SSH_CERT_USER 1
#define SSH_CERT_HOST 2

/* SSH_AGENTC_SIGN_REQUEST flags (draft-miller-ssh-agent). */
#define SSH_AGENT_RSA_SHA2_256 0x02
#define SSH_AGENT_RSA_SHA2_512 0x04

enum ssh_key_type {
	SSH_KEY_ED25519 = 1,
	SSH_KEY_ECDSA_P256,
	SSH_KEY_ECDSA_P384,
	SSH_KEY_ECDSA_P521,
	SSH_KEY_RSA,
};

/* A certificate's fields, as parsed (its CA signature already checked). */
struct ssh_cert {
	uint32_t type; /* SSH_CERT_USER or SSH_CERT_HOST */
	uint64_t serial;
	char *key_id;
	char **principals;
	size_t nprincipals;
	uint64_t valid_after; /* unix seconds */
	uint64_t valid_before;
	size_t ncritical; /* critical options present */
	struct ssh_key *ca; /* the signing key */
	char sig_alg[SSH_KEY_NAME_MAX];
};

struct ssh_key;

/*
 * A public key or certificate from its blob.  A certificate's CA
 * signature is verified here, as OpenSSH does when it parses one.  The
 * blob must be consumed exactly.
 */
int ssh_key_from_blob(const uint8_t *blob, size_t len, struct ssh_key **ret);
/*
 * A private key as SSH_AGENTC_ADD_IDENTITY carries it (the type name, the
 * type's fields; not the comment).  The private half goes to guarded
 * memory and must match the public half.
 */
int ssh_key_from_agent(struct wire_reader *r, struct ssh_key **ret);
/* An ed25519 private key from its 32-byte seed. */
int ssh_key_ed25519_from_seed(const struct secret *seed, struct ssh_key **ret);
/* Make k (private, plain) the certified key of the certificate blob. */
int ssh_key_attach_cert(struct ssh_key *k, const uint8_t *blob, size_t len);
/* The blob of an OpenSSH public key line "TYPE BASE64 [COMMENT]". */
int ssh_key_line_blob(
    const char *line, size_t len, uint8_t **ret_blob, size_t *ret_len);
void ssh_key_free(struct ssh_key *k);

enum ssh_key_type ssh_key_type(const struct ssh_key *k);
bool ssh_key_is_private(const struct ssh_key *k);
/* The blob as listed: the certificate's for a certificate. */
const uint8_t *ssh_key_blob(const struct ssh_key *k, size_t *ret_len);
/* The plain public key (of a certificate, the certified key). */
const uint8_t *ssh_key_plain_blob(const struct ssh_key *k, size_t *ret_len);
const struct ssh_cert *ssh_key_cert(const struct ssh_key *k);
/* "ssh-ed25519", "ecdsa-sha2-nistp256-cert-v01@openssh.com", ... */
const char *ssh_key_name(const struct ssh_key *k);
/* "ED25519", "ECDSA", "RSA" (ssh-add -l's words), and the size in bits. */
const char *ssh_key_family(const struct ssh_key *k);
unsigned ssh_key_bits(const struct ssh_key *k);
/* "SHA256:base64", of the plain key, as ssh-add -l and ssh-keygen -l. */
void ssh_key_fingerprint_md5(const struct ssh_key *k, char out[SSH_FP_LEN]);
void ssh_key_fingerprint(const struct ssh_key *k, char out[SSH_FP_LEN]);
/* Same listed blob / same plain key. */
bool ssh_key_equal(const struct ssh_key *a, const struct ssh_key *b);
bool ssh_key_equal_plain(const struct ssh_key *a, const struct ssh_key *b);
/* Whether a userauth request's algorithm name fits the key. */
bool ssh_key_alg_ok(const struct ssh_key *k, const char *alg);

/*
 * Sign data: a signature blob (string algorithm, string signature), which
 * is not secret.  RSA signs with SHA-256 or SHA-512 as flags ask; flags
 * with neither (plain ssh-rsa, SHA-1) get JIT_E_UNSUPPORTED.
 */
int ssh_key_sign(const struct ssh_key *k, const uint8_t *data, size_t len,
    uint32_t flags, uint8_t **ret_sig, size_t *ret_siglen);
/* JIT_OK if sig is k's signature of data; JIT_E_AUTH if not. */
int ssh_key_verify(const struct ssh_key *k, const uint8_t *sig, size_t siglen,
    const uint8_t *data, size_t len);

/*
 * A key whose private half is on a token (PKCS#11): what the token must
 * sign for data (RSA: the DigestInfo of the hash flags choose; ECDSA: the
 * hash), and the token's raw answer (RSA: PKCS#1 v1.5; ECDSA: DER) as
 * SSH's signature blob, once it verifies against k and tbs (JIT_E_AUTH
 * if not).  Plain RSA and ECDSA keys only (JIT_E_UNSUPPORTED).
 */
#define SSH_KEY_TBS_MAX 128
int ssh_key_ext_tbs(const struct ssh_key *k, const uint8_t *data, size_t len,
    uint32_t flags, uint8_t out[SSH_KEY_TBS_MAX], size_t *ret_len);
int ssh_key_ext_sig(const struct ssh_key *k, uint32_t flags, const uint8_t *tbs,
    size_t tbslen, const uint8_t *raw, size_t rawlen, uint8_t **ret_sig,
    size_t *ret_siglen);

/* Shell-style pattern (* and ?) match of a whole string, as OpenSSH's
 * match_pattern(). */
bool ssh_pattern_match(const char *s, const char *pattern);

#endif
