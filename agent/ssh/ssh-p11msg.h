/* OpenSSH's ssh-pkcs11-helper protocol: requests made and replies parsed whole, with no state. */
#ifndef JIT_SSH_P11MSG_H
#define JIT_SSH_P11MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct secret;
struct ssh_key;

/*
 * The helper (OpenSSH 9.2's) takes frames of at most 10 KiB; it answers
 * an add with every key the provider's tokens show.  Limits on what it
 * may answer:
 */
#define SSH_P11_KEYS_MAX 64 /* keys from one provider */
#define SSH_P11_LABEL_MAX 1024 /* a key's label (a comment) */
#define SSH_P11_SIG_MAX 1024 /* a raw signature: RSA 8192 bits */
#define SSH_P11_ADD_REPLY_MAX (256 * 1024)
#define SSH_P11_SIGN_REPLY_MAX (SSH_P11_SIG_MAX + 16)
#define SSH_P11_REQUEST_MAX (10 * 1024) /* what the helper reads */

/* OpenSSH's SSH_PKCS11_ERR_*, the number after a failed add. */
#define SSH_P11_ERR_GENERIC 1
#define SSH_P11_ERR_LOGIN_FAIL 2
#define SSH_P11_ERR_NO_SLOTS 3
#define SSH_P11_ERR_PIN_REQUIRED 4
#define SSH_P11_ERR_PIN_LOCKED 5

struct ssh_p11_key {
	struct ssh_key *key; /* plain RSA or ECDSA public key */
	char *label;
};

struct ssh_p11_keys {
	struct ssh_p11_key *v;
	size_t n;
};

/* SSH_AGENTC_ADD_SMARTCARD_KEY to the helper: provider, PIN; in guarded
 * memory (it carries the PIN). */
int ssh_p11_add_request(
    const char *provider, const struct secret *pin, struct secret **ret);
/* SSH2_AGENTC_SIGN_REQUEST to the helper: the key, what to sign. */
int ssh_p11_sign_request(const struct ssh_key *k, const uint8_t *tbs,
    size_t len, struct secret **ret);
/*
 * The answer to an add: JIT_OK and at least one key; JIT_E_DENIED and
 * the helper's failure number in *ret_code (0: no key found); else
 * JIT_E_FORMAT or JIT_E_LIMIT for a reply that breaks the protocol.
 */
int ssh_p11_add_reply(
    const uint8_t *p, size_t len, struct ssh_p11_keys *ret, uint32_t *ret_code);
void ssh_p11_keys_free(struct ssh_p11_keys *k);
/* The answer to a sign: the raw signature, pointing into p; JIT_E_DENIED
 * if the helper said it could not sign. */
int ssh_p11_sign_reply(
    const uint8_t *p, size_t len, const uint8_t **ret_sig, size_t *ret_len);
/* What a failure number means, as a sentence part ("the token refused
 * the PIN"). */
const char *ssh_p11_fail_text(uint32_t code);

#endif
