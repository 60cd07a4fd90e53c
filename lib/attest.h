/* Token attestation: what a token proved at enrollment, kept with its record
 * and its exported recipient, and checked against roots offline. */
#ifndef JIT_ATTEST_H
#define JIT_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * The blob (lib/wire.c encoding):
 *   string "jit-attest v1", string format, then the format's statement:
 *   fido2-packed, fido2-self, fido2-none:
 *     string authData, string rp_id, u32 alg (COSE, two's complement),
 *     string sig, u32 n, n x string certificate (DER, leaf first)
 *   tpm2:
 *     string TPMS_ATTEST (TPM2_Certify of the wrapping key by the AK),
 *     string its signature (ECDSA P-256 SHA-256, r || s), string the
 *     AK's TPMT_PUBLIC, string the wrapping key's TPMT_PUBLIC, u32 n,
 *     n x certificate (DER: the EK certificate, then its issuers)
 *   piv:
 *     string sig (ECDSA P-256, DER, by the slot's key with the challenge
 *     as its digest), u32 n, n x certificate (DER: the slot's attestation
 *     certificate, f9's certificate, then f9's issuers if the card has
 *     them)
 * Each statement signs a challenge that binds the token's type, id and
 * X25519 recipient (attest_challenge), so an attestation cannot be moved
 * to another recipient.
 */
#define ATTEST_MAX (24 * 1024)
#define ATTEST_CERTS_MAX 8
#define ATTEST_CERT_MAX 4096
#define ATTEST_WHY_MAX 512
#define ATTEST_CHALLENGE_LEN 32

struct attest_info {
	char format[24]; /* fido2-packed, fido2-self, fido2-none, tpm2, piv */
	bool chained; /* a certificate chain came with it */
	bool roots_checked; /* ... and it leads to the roots given */
	char vendor[128]; /* the leaf's subject organisation */
	char model[128]; /* AAGUID, TPM manufacturer and model, YubiKey */
	char serial[128]; /* the certificate's serial number; PIV: the card's */
	char firmware[16]; /* PIV: the card's firmware, X.Y.Z */
	char policy[64]; /* PIV: the slot's PIN and touch policies */
	char subject[256]; /* the leaf's subject, one line */
};

/* SHA-256("jit-agent attest v1" 0 type 0 id 0 recipient). */
int attest_challenge(const char *type, const char *id,
    const uint8_t recipient[32], uint8_t out[ATTEST_CHALLENGE_LEN]);

/*
 * Check blob: its statement signs the challenge of (type, id, recipient)
 * and, when roots (a PEM file) is given, its certificate chain leads to
 * one of them.  A statement with no chain (none, self) fails when roots
 * are given.  why names what failed.
 */
int attest_verify(const uint8_t *blob, size_t len, const char *type,
    const char *id, const uint8_t recipient[32], const char *roots,
    struct attest_info *info, char *why, size_t whylen);

/* The lines of tokens --verbose and recipient verify. */
void attest_info_print(const struct attest_info *ai, FILE *f);

/*
 * Any backend whose attestation is a chain of X.509 certificates (FIDO2
 * x5c, the TPM's EK certificate, PIV's f9 and slot certificates): certs
 * are DER, leaf first; the chain must lead to a root in the PEM file.
 * ret_leaf (if not NULL) gets the parsed leaf (X509 *, the caller frees).
 */
int attest_chain_verify(const uint8_t *const *certs, const size_t *lens,
    size_t n, const char *roots, void **ret_leaf, char *why, size_t whylen);

/* Build a FIDO2 blob from makeCredential's answer (hw/fido2.c, malloc'd). */
int attest_fido2_blob(const char *fmt, const uint8_t *authdata, size_t adlen,
    const char *rp_id, int32_t alg, const uint8_t *sig, size_t siglen,
    const uint8_t *const *certs, const size_t *lens, size_t n, uint8_t **ret,
    size_t *ret_len);

/* Build a TPM blob from TPM2_Certify (hw/tpm2.c, malloc'd). */
int attest_tpm2_blob(const uint8_t *info, size_t infolen, const uint8_t *sig,
    size_t siglen, const uint8_t *akpub, size_t akpublen, const uint8_t *keypub,
    size_t keypublen, const uint8_t *const *certs, const size_t *lens, size_t n,
    uint8_t **ret, size_t *ret_len);

/* Build a PIV blob: the slot's signature of the challenge, and its
 * attestation chain [slot certificate, f9 certificate] (hw/piv.c). */
int attest_piv_blob(const uint8_t *sig, size_t siglen,
    const uint8_t *const *certs, const size_t *lens, size_t n, uint8_t **ret,
    size_t *ret_len);

#endif
