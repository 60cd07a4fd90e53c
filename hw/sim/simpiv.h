/* Internal interfaces of jit-sim-piv, the software PIV card. */
#ifndef JIT_SIM_PIV_H
#define JIT_SIM_PIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "simtouch.h"

/*
 * The card is one struct piv_card driven from outside: the vpcd client
 * (sim-piv.c), a unit test or a fuzz harness hands it command APDUs with
 * piv_apdu() and power events with piv_power().  A touch waits through
 * the wait hook, so everything runs on one thread.
 */

/* The largest command APDU (extended, with chaining assembled) and the
 * largest object: libykpiv's own limit is 3063 bytes of encoded object. */
#define PIV_OBJ_MAX 3072
#define PIV_CMD_MAX (PIV_OBJ_MAX + 64)
#define PIV_RESP_MAX (PIV_OBJ_MAX + 64)
/* Every response carries at most this much data; the rest comes with
 * 61xx and GET RESPONSE (libykpiv reads into a 261-byte buffer). */
#define PIV_RESP_CHUNK 256
/* The reply buffer piv_apdu() needs: a chunk and SW1 SW2. */
#define PIV_REPLY_MAX (PIV_RESP_CHUNK + 2)
#define PIV_OBJECTS_MAX 40
#define PIV_PIN_LEN 8 /* padded with 0xff */
#define PIV_TRIES_MAX 15
#define PIV_TOUCH_CACHE_MS 15000

/* Algorithms (SP 800-78-4 and Yubico's management key ids). */
#define PIV_ALG_3DES 0x03
#define PIV_ALG_AES128 0x08
#define PIV_ALG_AES192 0x0a
#define PIV_ALG_AES256 0x0c
#define PIV_ALG_RSA1024 0x06
#define PIV_ALG_RSA2048 0x07
#define PIV_ALG_ECCP256 0x11
#define PIV_ALG_ECCP384 0x14

#define PIV_PIN_POLICY_DEFAULT 0
#define PIV_PIN_POLICY_NEVER 1
#define PIV_PIN_POLICY_ONCE 2
#define PIV_PIN_POLICY_ALWAYS 3
#define PIV_TOUCH_POLICY_DEFAULT 0
#define PIV_TOUCH_POLICY_NEVER 1
#define PIV_TOUCH_POLICY_ALWAYS 2
#define PIV_TOUCH_POLICY_CACHED 3

#define PIV_ORIGIN_GENERATED 1
#define PIV_ORIGIN_IMPORTED 2

/* Key slots: 9a 9c 9d 9e, the 20 retired ones 82..95, and f9. */
#define PIV_SLOTS 25
#define PIV_SLOT_ATTEST 0xf9
#define PIV_ATTEST_INDEX 24

/* Status words. */
#define SW_OK 0x9000
#define SW_BYTES_LEFT 0x6100
#define SW_WRONG_LENGTH 0x6700
#define SW_SECURITY 0x6982
#define SW_BLOCKED 0x6983
#define SW_CONDITIONS 0x6985
#define SW_WRONG_DATA 0x6a80
#define SW_NOT_FOUND 0x6a82
#define SW_REF_NOT_FOUND 0x6a88
#define SW_WRONG_P1P2 0x6b00
#define SW_INS 0x6d00
#define SW_CLA 0x6e00
#define SW_VERIFY_FAIL 0x63c0

/* vpcd control messages (one byte). */
#define PIV_POWER_OFF 0
#define PIV_POWER_ON 1
#define PIV_RESET 2

struct piv_key {
	bool present;
	uint8_t alg;
	uint8_t pin_policy; /* effective, never DEFAULT */
	uint8_t touch_policy;
	uint8_t origin;
	EVP_PKEY *pk;
};

struct piv_object {
	uint32_t tag; /* 3 bytes, or 0x7e for discovery */
	uint8_t *data; /* the value inside 53 */
	size_t len;
};

/* Key material and codes, in one sodium_malloc'd block. */
struct piv_secrets {
	uint8_t pin_hash[32];
	uint8_t puk_hash[32];
	uint8_t mgm_key[32];
	uint8_t witness[16];
	uint8_t challenge[16];
};

/* Waits up to ms (or until watch_fd is readable) during a touch;
 * SIM_WAIT_CANCEL: the simulator is stopping (the command is refused). */
typedef enum sim_wait_result (*piv_wait_fn)(
    void *ctx, uint64_t ms, int watch_fd);

struct piv_config {
	const char *state_path; /* NULL: fresh card, nothing kept */
	struct sim_touch touch;
	uint32_t serial; /* 0: keep or default */
	const uint8_t *version; /* 3 bytes, NULL: keep or default */
	bool verbose;
	int touch_timeout_ms; /* 0: env, else the default */
	/* PEM files: f9's key is made anew at start and its certificate
	 * issued by this CA (as Yubico's CA issues a YubiKey's); NULL: a
	 * self-signed f9 certificate, made once with the card. */
	const char *attest_ca_key, *attest_ca_cert;
};

struct piv_card {
	char *state_path;
	struct sim_touch touch;
	bool verbose;
	int touch_timeout_ms;
	piv_wait_fn wait;
	void *wait_ctx;
	/* persistent */
	uint32_t serial;
	uint8_t version[3];
	struct piv_secrets *sec;
	bool pin_default, puk_default, mgm_default;
	unsigned pin_tries, pin_max, puk_tries, puk_max;
	uint8_t mgm_alg;
	size_t mgm_len;
	bool mgm_touch;
	struct piv_key keys[PIV_SLOTS];
	struct piv_object objects[PIV_OBJECTS_MAX];
	size_t nobjects;
	/* volatile: cleared by power events and SELECT */
	enum { PIV_APP_NONE, PIV_APP_PIV, PIV_APP_MGMT } app;
	bool pin_ok, mgm_ok;
	bool witness_pending, challenge_pending;
	uint64_t touch_until_ms;
	uint8_t *cmd; /* PIV_CMD_MAX: a chained command being assembled */
	size_t cmd_len;
	bool chaining;
	uint8_t chain_ins, chain_p1, chain_p2;
	uint8_t *resp; /* PIV_RESP_MAX: what GET RESPONSE still has */
	size_t resp_len, resp_off;
};

/* piv-card.c: life cycle, APDUs and power. */
int piv_card_new(const struct piv_config *cfg, struct piv_card **ret);
void piv_card_free(struct piv_card *c);
void piv_card_set_wait(struct piv_card *c, piv_wait_fn wait, void *ctx);
/* One command APDU in, response data and SW1 SW2 out (at most
 * PIV_REPLY_MAX bytes). */
size_t piv_apdu(struct piv_card *c, const uint8_t *apdu, size_t len,
    uint8_t out[PIV_REPLY_MAX]);
void piv_power(struct piv_card *c, uint8_t event);
/* The ATR (a YubiKey 5's, T=1). */
size_t piv_atr(const uint8_t **ret);
void piv_debug(const struct piv_card *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int piv_slot_index(uint8_t slot);

/* piv-state.c: the state file and factory defaults. */
int piv_state_load(struct piv_card *c, bool *ret_found);
int piv_state_save(struct piv_card *c);
/* PIN 123456, PUK 12345678, 3 tries each, default 3DES management key;
 * keys and objects gone, except the attestation key (f9) and its
 * certificate. */
void piv_factory_reset(struct piv_card *c);
/* The f9 key and a self-signed attestation CA certificate in 5fff01. */
int piv_attestation_ca_new(
    struct piv_card *c, EVP_PKEY *issuer_key, X509 *issuer_cert);
int piv_object_set(
    struct piv_card *c, uint32_t tag, const uint8_t *p, size_t len);
const struct piv_object *piv_object_get(const struct piv_card *c, uint32_t tag);

/* piv-crypto.c: keys, signatures, ECDH, block ciphers and certificates. */
int piv_ec_generate(uint8_t alg, EVP_PKEY **ret);
size_t piv_ec_field_len(uint8_t alg);
/* The uncompressed point 04 || X || Y. */
int piv_ec_point(EVP_PKEY *pk, uint8_t *out, size_t cap, size_t *ret_len);
/* ECDSA over a digest given as a big-endian integer; DER signature. */
int piv_ec_sign(EVP_PKEY *pk, const uint8_t *dgst, size_t n, uint8_t *sig,
    size_t cap, size_t *ret_len);
/* The X coordinate of our key times the peer's point. */
int piv_ec_dh(EVP_PKEY *pk, const uint8_t *point, size_t n, uint8_t *out,
    size_t cap, size_t *ret_len);
int piv_key_to_der(EVP_PKEY *pk, uint8_t **ret, size_t *ret_len);
int piv_key_from_der(const uint8_t *p, size_t n, uint8_t alg, EVP_PKEY **ret);
/* ECB encryption of one block of the management key's algorithm. */
int piv_mgm_encrypt(uint8_t alg, const uint8_t *key, size_t keylen,
    const uint8_t *in, size_t n, uint8_t *out);
size_t piv_mgm_block_len(uint8_t alg);
size_t piv_mgm_key_len(uint8_t alg);
/* Certificates, DER: the attestation CA (self-signed by f9), and the
 * attestation of a slot's key signed by f9. */
/* f9's certificate: self-signed, or issued by issuer (key and cert). */
int piv_cert_ca(EVP_PKEY *ca, uint32_t serial, EVP_PKEY *issuer_key,
    X509 *issuer_cert, uint8_t **ret, size_t *ret_len);
/* A CA's key and certificate from PEM files. */
int piv_load_issuer(const char *key_path, const char *cert_path,
    EVP_PKEY **ret_key, X509 **ret_cert);
int piv_cert_attest(const struct piv_card *c, uint8_t slot,
    const struct piv_key *k, uint8_t **ret, size_t *ret_len);

#endif
