/* The cryptography of the store: data keys, AEAD, and X25519 wraps. */
#ifndef JIT_SEAL_H
#define JIT_SEAL_H

#include <stddef.h>
#include <stdint.h>

struct secret;

#define SEAL_KEY_LEN 32 /* XChaCha20-Poly1305 key */
#define SEAL_NONCE_LEN 24
#define SEAL_TAG_LEN 16
#define SEAL_X25519_LEN 32

/* A data key wrapped to one X25519 recipient: ephemeral-static ECDH, then
 * HKDF-SHA256(Z, salt = epk || recipient, info = label || context) gives
 * the key that seals the data key with XChaCha20-Poly1305. */
struct seal_wrap {
	uint8_t epk[SEAL_X25519_LEN];
	uint8_t nonce[SEAL_NONCE_LEN];
	uint8_t box[SEAL_KEY_LEN + SEAL_TAG_LEN];
};

int seal_random_key(struct secret **ret);
/* Seal/open plaintext under key with associated data.  The output of seal
 * is ciphertext || tag (malloc'd, not secret). */
int seal_aead(const struct secret *key, const uint8_t *ad, size_t adlen,
    const struct secret *plain, uint8_t nonce[SEAL_NONCE_LEN], uint8_t **ret_ct,
    size_t *ret_ctlen);
int seal_aead_open(const struct secret *key, const uint8_t *ad, size_t adlen,
    const uint8_t nonce[SEAL_NONCE_LEN], const uint8_t *ct, size_t ctlen,
    struct secret **ret_plain);
/* Wrap a 32-byte key to a recipient; context binds the wrap (token id). */
int seal_wrap(const uint8_t recipient[SEAL_X25519_LEN],
    const struct secret *key, const char *context, struct seal_wrap *out);
int seal_unwrap(const struct secret *identity_sk,
    const uint8_t recipient[SEAL_X25519_LEN], const struct seal_wrap *w,
    const char *context, struct secret **ret_key);
/* A fresh X25519 key pair; the secret half in guarded memory. */
int seal_x25519_keypair(uint8_t pk[SEAL_X25519_LEN], struct secret **ret_sk);
/* HKDF-SHA256 into guarded memory. */
int seal_hkdf(const uint8_t *ikm, size_t ikmlen, const uint8_t *salt,
    size_t saltlen, const char *info, size_t outlen, struct secret **ret);

#endif
