/* OpenSSH's detached signatures (SSHSIG) and allowed_signers files. */
#ifndef JIT_SSHSIG_H
#define JIT_SSHSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ssh-key.h"

/*
 * The format is OpenSSH's PROTOCOL.sshsig: what `ssh-keygen -Y sign`
 * writes and `ssh-keygen -Y verify` reads, so that a person may approve
 * with either tool.  Every input is read through lib/wire and bounded.
 */
#define SSHSIG_NS_APPROVAL "jit-approval@jit-agent"
#define SSHSIG_HASH "sha512" /* what we sign with; sha256 is also read */
#define SSHSIG_ARMOR_MAX (32 * 1024)
#define SSHSIG_BLOB_MAX (SSH_KEY_BLOB_MAX + SSH_SIG_BLOB_MAX + 1024)
#define SSHSIG_NS_MAX 256
#define SSHSIG_PRINCIPAL_MAX 256
/* allowed_signers: the file, its lines, one line's text. */
#define SIGNERS_FILE_MAX (256 * 1024)
#define SIGNERS_LINES_MAX 1024
#define SIGNERS_LINE_MAX (SSH_CERT_LINE_MAX + 4096)

/* Security keys (sk-*): the authenticator's flags in a signature. */
#define SSHSIG_SK_USER_PRESENT 0x01
#define SSHSIG_SK_USER_VERIFIED 0x04

/* A parsed signature; the blobs point into the caller's bytes. */
struct sshsig {
	const uint8_t *pub; /* the signer's key or certificate blob */
	size_t publen;
	char ns[SSHSIG_NS_MAX];
	char hash[16];
	const uint8_t *sig; /* SSH signature blob */
	size_t siglen;
};

/* Who signed, once the signature verified. */
struct sshsig_signer {
	struct ssh_key *key; /* NULL for a security key */
	const uint8_t *pub; /* the blob as signed (as in struct sshsig) */
	size_t publen;
	char fp[SSH_FP_LEN]; /* of the key (a certificate: its key) */
	bool sk;
	uint8_t sk_flags;
	uint32_t sk_counter;
};

/* "-----BEGIN SSH SIGNATURE-----" armor to the binary blob, and back. */
int sshsig_dearmor(
    const void *text, size_t len, uint8_t **ret_blob, size_t *ret_len);
int sshsig_armor(const uint8_t *blob, size_t len, char **ret);
/* The blob's fields; refuses anything but version 1 and trailing bytes. */
int sshsig_parse(const uint8_t *blob, size_t len, struct sshsig *ret);
/* What the signer signs for msg: the preamble, namespace and H(msg). */
int sshsig_signed_data(const char *ns, const char *hash, const uint8_t *msg,
    size_t msglen, uint8_t **ret, size_t *ret_len);
/* A signature blob from the signer's key blob and its signature. */
int sshsig_build(const uint8_t *pub, size_t publen, const char *ns,
    const char *hash, const uint8_t *sig, size_t siglen, uint8_t **ret,
    size_t *ret_len);
/*
 * Whether s is a signature of msg in namespace ns: JIT_OK and the signer
 * (release with sshsig_signer_reset), JIT_E_AUTH if it does not verify,
 * JIT_E_DENIED for another namespace, JIT_E_UNSUPPORTED for a key type or
 * hash we do not take.  A security key's signature must carry its touch.
 */
int sshsig_verify(const struct sshsig *s, const char *ns, const uint8_t *msg,
    size_t msglen, struct sshsig_signer *ret);
void sshsig_signer_reset(struct sshsig_signer *s);

/* ---- allowed_signers (ssh-keygen(1), ALLOWED SIGNERS) ---- */

struct signer_line {
	char *principals; /* a pattern list */
	bool cert_authority;
	char *namespaces; /* a pattern list; NULL: any */
	int64_t valid_after; /* unix seconds; 0: unset */
	int64_t valid_before;
	uint8_t *key; /* the key blob */
	size_t keylen;
	int line;
};

struct allowed_signers {
	struct signer_line *v;
	size_t n;
};

/*
 * Parse the text of an allowed_signers file.  On error why holds "line N:
 * what is wrong" and nothing is returned.
 */
int allowed_signers_parse(const uint8_t *text, size_t len,
    struct allowed_signers **ret, char *why, size_t whylen);
/* The same from a file (at most SIGNERS_FILE_MAX bytes). */
int allowed_signers_load(
    const char *path, struct allowed_signers **ret, char *why, size_t whylen);
void allowed_signers_free(struct allowed_signers *as);
/*
 * The principal the file names for a verified signer in namespace ns at
 * time now: JIT_OK with the principal, or why not (in why, a sentence):
 * JIT_E_NOENT not in the file, JIT_E_EXPIRED outside the line's (or the
 * certificate's) valid-after/valid-before, JIT_E_DENIED not for this
 * namespace or (a certificate) for none of the line's principals.
 */
int allowed_signers_find(const struct allowed_signers *as,
    const struct sshsig_signer *s, const char *ns, int64_t now, char *principal,
    size_t plen, char *why, size_t whylen);
/* OpenSSH's pattern lists: "a,b*,!c": a negated match excludes. */
bool sshsig_pattern_list(const char *s, const char *list);

#endif
