/* Internal interfaces of jit-sim-fido2, the software CTAP 2.1 authenticator. */
#ifndef JIT_SIM_FIDO2_H
#define JIT_SIM_FIDO2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cbor.h>
#include <openssl/evp.h>

#include "simtouch.h"

/*
 * The simulator is one struct sim_dev driven from outside: the socket
 * server (sim-fido2.c), a unit test or a fuzz harness feeds it 64-byte
 * CTAPHID reports with ctaphid_packet() and hears its answers through the
 * send hook of struct sim_io.  While a command waits for a touch it reads
 * further reports itself through the recv hook (CANCEL, INIT, busy
 * answers to other channels), so everything runs on one thread.
 */

/* CTAPHID framing (CTAP 2.1 section 11.2.4). */
#define CTAPHID_REPORT_LEN 64
#define CTAPHID_INIT_HDR_LEN 7 /* CID, CMD, BCNTH, BCNTL */
#define CTAPHID_CONT_HDR_LEN 5 /* CID, SEQ */
#define CTAPHID_INIT_DATA_LEN (CTAPHID_REPORT_LEN - CTAPHID_INIT_HDR_LEN)
#define CTAPHID_CONT_DATA_LEN (CTAPHID_REPORT_LEN - CTAPHID_CONT_HDR_LEN)
#define CTAPHID_SEQ_COUNT 128 /* continuation sequence 0..0x7f */
/* The largest message 64-byte reports can carry: 57 + 128 * 59 = 7609. */
#define SIM_MSG_MAX \
	(CTAPHID_INIT_DATA_LEN + CTAPHID_SEQ_COUNT * CTAPHID_CONT_DATA_LEN)
#define CTAPHID_BROADCAST_CID 0xffffffffU
#define CTAPHID_NONCE_LEN 8
#define CTAPHID_INIT_RESP_LEN 17
/* How often a pending touch sends KEEPALIVE(UPNEEDED). */
#define CTAPHID_KEEPALIVE_MS 100
/* A message must be complete this long after its init packet. */
#define CTAPHID_TRANSACTION_TIMEOUT_MS 3000

#define CTAPHID_PING 0x81
#define CTAPHID_MSG 0x83
#define CTAPHID_LOCK 0x84
#define CTAPHID_INIT 0x86
#define CTAPHID_WINK 0x88
#define CTAPHID_CBOR 0x90
#define CTAPHID_CANCEL 0x91
#define CTAPHID_KEEPALIVE 0xbb
#define CTAPHID_ERROR 0xbf

#define CTAPHID_ERR_INVALID_CMD 0x01
#define CTAPHID_ERR_INVALID_PAR 0x02
#define CTAPHID_ERR_INVALID_LEN 0x03
#define CTAPHID_ERR_INVALID_SEQ 0x04
#define CTAPHID_ERR_MSG_TIMEOUT 0x05
#define CTAPHID_ERR_CHANNEL_BUSY 0x06
#define CTAPHID_ERR_INVALID_CHANNEL 0x0b
#define CTAPHID_ERR_OTHER 0x7f

#define CTAPHID_STATUS_PROCESSING 1
#define CTAPHID_STATUS_UPNEEDED 2

#define CTAPHID_CAP_WINK 0x01
#define CTAPHID_CAP_CBOR 0x04
#define CTAPHID_CAP_NMSG 0x08
/* CBOR and WINK; NMSG is left clear as the design asks, although
 * CTAPHID_MSG (U2F) is answered with ERR_INVALID_CMD. */
#define SIM_CAPABILITIES (CTAPHID_CAP_WINK | CTAPHID_CAP_CBOR)
#define SIM_PROTOCOL_VERSION 2
#define SIM_VERSION_MAJOR 0
#define SIM_VERSION_MINOR 1
#define SIM_VERSION_BUILD 0

/* CTAP2 commands. */
#define CTAP2_MAKE_CREDENTIAL 0x01
#define CTAP2_GET_ASSERTION 0x02
#define CTAP2_GET_INFO 0x04
#define CTAP2_CLIENT_PIN 0x06
#define CTAP2_RESET 0x07
#define CTAP2_GET_NEXT_ASSERTION 0x08
#define CTAP2_SELECTION 0x0b

/* CTAP2 status codes: the simulator's wire answers. */
#define CTAP2_OK 0x00
#define CTAP1_ERR_INVALID_COMMAND 0x01
#define CTAP1_ERR_INVALID_PARAMETER 0x02
#define CTAP1_ERR_INVALID_LENGTH 0x03
#define CTAP2_ERR_CBOR_UNEXPECTED_TYPE 0x11
#define CTAP2_ERR_INVALID_CBOR 0x12
#define CTAP2_ERR_MISSING_PARAMETER 0x14
#define CTAP2_ERR_LIMIT_EXCEEDED 0x15
#define CTAP2_ERR_CREDENTIAL_EXCLUDED 0x19
#define CTAP2_ERR_UNSUPPORTED_ALGORITHM 0x26
#define CTAP2_ERR_OPERATION_DENIED 0x27
#define CTAP2_ERR_UNSUPPORTED_OPTION 0x2b
#define CTAP2_ERR_INVALID_OPTION 0x2c
#define CTAP2_ERR_KEEPALIVE_CANCEL 0x2d
#define CTAP2_ERR_NO_CREDENTIALS 0x2e
#define CTAP2_ERR_USER_ACTION_TIMEOUT 0x2f
#define CTAP2_ERR_NOT_ALLOWED 0x30
#define CTAP2_ERR_PIN_INVALID 0x31
#define CTAP2_ERR_PIN_BLOCKED 0x32
#define CTAP2_ERR_PIN_AUTH_INVALID 0x33
#define CTAP2_ERR_PIN_AUTH_BLOCKED 0x34
#define CTAP2_ERR_PIN_NOT_SET 0x35
#define CTAP2_ERR_PIN_REQUIRED 0x36 /* PUAT_REQUIRED in 2.1 */
#define CTAP2_ERR_PIN_POLICY_VIOLATION 0x37
#define CTAP2_ERR_REQUEST_TOO_LARGE 0x39
#define CTAP2_ERR_INVALID_SUBCOMMAND 0x3e
#define CTAP2_ERR_UNAUTHORIZED_PERMISSION 0x40
#define CTAP1_ERR_OTHER 0x7f

/* Sizes and limits. */
#define SIM_AAGUID_LEN 16
#define SIM_MASTER_LEN 32
#define SIM_KEY_LEN 32
#define SIM_PIN_HASH_LEN 16
#define SIM_PIN_RETRIES_MAX 8
#define SIM_PIN_FAILS_MAX 3 /* consecutive, then power cycle */
#define SIM_PIN_MIN_CODEPOINTS 4
#define SIM_PIN_PADDED_LEN 64
#define SIM_PIN_MAX_LEN 63
#define SIM_PUAT_LEN 32
#define SIM_RPID_MAX 255
#define SIM_CDH_LEN 32
#define SIM_SHARED_MAX 64 /* protocol 2: HMAC key || AES key */
#define SIM_CRED_RANDOM_LEN 32
#define SIM_ES256_SIG_MAX 72
/* Any byte string in a request (credential ids, encrypted PINs) past
 * this is refused before anything is done with it. */
#define SIM_BSTR_MAX 1024
/* pinUvAuthToken: unused for this long after issue, or this old, it is
 * no longer accepted (CTAP 2.1 section 6.5.2.1, USB values). */
#define SIM_PUAT_INITIAL_USE_MS 30000
#define SIM_PUAT_MAX_USE_MS 600000

/* pinUvAuthToken permissions (CTAP 2.1 section 6.5.5.7). */
#define SIM_PERM_MC 0x01
#define SIM_PERM_GA 0x02
#define SIM_PERM_SUPPORTED (SIM_PERM_MC | SIM_PERM_GA)

/* What a recv hook reports. */
enum sim_io_result {
	SIM_IO_TIMEOUT = 0, /* nothing within the time given */
	SIM_IO_PACKET, /* one report in pkt */
	SIM_IO_FD, /* watch_fd became readable */
	SIM_IO_CLOSED, /* the client went away */
	SIM_IO_STOP, /* the simulator was asked to exit */
};

struct sim_io {
	void *ctx;
	/* Send one report; failures are the transport's business. */
	void (*send)(void *ctx, const uint8_t pkt[CTAPHID_REPORT_LEN]);
	/* Wait at most timeout_ms for one report, or for watch_fd (-1:
	 * none) to become readable. */
	enum sim_io_result (*recv)(void *ctx, uint8_t pkt[CTAPHID_REPORT_LEN],
	    int timeout_ms, int watch_fd);
};

struct sim_config {
	const char *state_path; /* NULL: fresh secrets, nothing kept */
	struct sim_touch touch;
	const uint8_t *pin; /* set at first start if no PIN yet */
	size_t pin_len;
	const uint8_t *aaguid; /* SIM_AAGUID_LEN bytes, NULL: keep */
	/* packed attestation with a certificate (the test's own CA), PEM
	 * files; NULL: self attestation */
	const char *attest_key_path;
	const char *attest_cert_path;
	bool verbose;
	int hid_timeout_ms; /* 0: the default */
	int touch_timeout_ms; /* 0: env, else the default */
};

/* Key material, in one sodium_malloc'd block (locked, guarded, wiped). */
struct sim_secrets {
	uint8_t master[SIM_MASTER_LEN];
	uint8_t wrap_key[SIM_KEY_LEN]; /* credential ids */
	uint8_t cred_random_key[SIM_KEY_LEN]; /* hmac-secret CredRandom */
	uint8_t pin_hash[SIM_PIN_HASH_LEN];
	uint8_t puat[SIM_PUAT_LEN]; /* pinUvAuthToken */
};

struct sim_puat_state {
	bool in_use;
	uint8_t permissions;
	bool has_rpid;
	char rpid[SIM_RPID_MAX + 1];
	uint64_t issued_ms;
	bool used;
};

struct ctaphid {
	uint32_t next_cid; /* channels 1 .. next_cid - 1 exist */
	/* the message being assembled */
	bool assembling;
	uint32_t cid;
	uint8_t cmd;
	size_t want;
	size_t have;
	uint8_t seq;
	uint64_t deadline_ms;
	uint8_t *msg; /* SIM_MSG_MAX */
	uint8_t *resp; /* SIM_MSG_MAX */
	/* the command being run */
	bool busy;
	uint32_t busy_cid;
	bool cancelled; /* CANCEL seen: answer KEEPALIVE_CANCEL */
	bool aborted; /* INIT or link lost: answer nothing */
	bool stop; /* the transport said SIM_IO_STOP */
};

struct sim_dev {
	char *state_path;
	struct sim_touch touch;
	bool verbose;
	int hid_timeout_ms;
	int touch_timeout_ms;
	struct sim_secrets *sec;
	uint8_t aaguid[SIM_AAGUID_LEN];
	bool pin_set;
	unsigned pin_retries;
	uint32_t sign_count;
	/* power-cycle state */
	unsigned pin_fails; /* consecutive wrong PINs */
	EVP_PKEY *ka_key; /* key agreement key */
	EVP_PKEY *attest_key; /* NULL: self attestation */
	uint8_t *attest_cert; /* its certificate, DER */
	size_t attest_cert_len;
	struct sim_puat_state puat;
	struct ctaphid hid;
	const struct sim_io *io;
};

/* simstate.c: life cycle and the state file. */
int sim_dev_new(const struct sim_config *cfg, struct sim_dev **ret);
void sim_dev_free(struct sim_dev *d);
void sim_dev_set_io(struct sim_dev *d, const struct sim_io *io);
int sim_state_save(struct sim_dev *d);
/* authenticatorReset: new master secret, no PIN. */
int sim_state_rotate(struct sim_dev *d);
int sim_set_pin(struct sim_dev *d, const uint8_t *pin, size_t len);
uint64_t sim_now_ms(void);
void sim_debug(const struct sim_dev *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ctaphid.c: framing, channels, and waiting while busy. */
int ctaphid_new(struct ctaphid *h);
void ctaphid_free(struct ctaphid *h);
void ctaphid_packet(struct sim_dev *d, const uint8_t pkt[CTAPHID_REPORT_LEN]);
/* Expire a half-received message whose time is up. */
void ctaphid_tick(struct sim_dev *d);
/* Milliseconds until ctaphid_tick() has work, -1 for none. */
int ctaphid_timeout_ms(const struct sim_dev *d);
/* The link dropped: forget a half-received message. */
void ctaphid_link_reset(struct sim_dev *d);

/* While a command runs: wait up to ms, serving other reports. */
enum sim_wait_result ctaphid_wait(struct sim_dev *d, int ms, int watch_fd);
void ctaphid_keepalive(struct sim_dev *d, uint8_t status);

/* touch.c */
/* User presence: CTAP2_OK or the status to answer. */
uint8_t sim_user_presence(struct sim_dev *d);

/* ctap2.c: one CBOR request in, status byte and CBOR out; returns the
 * length written to resp (at least 1). */
size_t ctap2_handle(struct sim_dev *d, const uint8_t *req, size_t len,
    uint8_t *resp, size_t cap);

/* clientpin.c */
int clientpin_power_up(struct sim_dev *d);
uint8_t clientpin_handle(
    struct sim_dev *d, const cbor_item_t *params, cbor_item_t **ret);
bool pinproto_supported(uint64_t proto);
/* decapsulate(): ECDH with our key agreement key, then the protocol's
 * KDF into ss (32 bytes for protocol 1, 64 for 2). */
uint8_t pinproto_decapsulate(struct sim_dev *d, unsigned proto,
    const cbor_item_t *cose, uint8_t ss[SIM_SHARED_MAX], size_t *sslen);
uint8_t pinproto_encrypt(unsigned proto, const uint8_t *key, size_t keylen,
    const uint8_t *pt, size_t n, uint8_t *ct, size_t cap, size_t *ctlen);
uint8_t pinproto_decrypt(unsigned proto, const uint8_t *key, size_t keylen,
    const uint8_t *ct, size_t n, uint8_t *pt, size_t cap, size_t *ptlen);
bool pinproto_verify(unsigned proto, const uint8_t *key, size_t keylen,
    const uint8_t *m1, size_t l1, const uint8_t *m2, size_t l2,
    const uint8_t *sig, size_t siglen);
/* Check a pinUvAuthParam over clientDataHash for makeCredential or
 * getAssertion (permission perm, rp rpid); binds the token to rpid. */
uint8_t puat_check(struct sim_dev *d, unsigned proto, const uint8_t *cdh,
    size_t cdhlen, const uint8_t *param, size_t paramlen, uint8_t perm,
    const char *rpid, size_t rpidlen);
/* After a touch collected with a token: its permissions are spent. */
void puat_spent(struct sim_dev *d);

/* simcrypto.c: primitives over OpenSSL 3 EVP and libsodium. */
int sc_sha256(const void *p, size_t n, uint8_t out[32]);
int sc_hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *m1,
    size_t l1, const uint8_t *m2, size_t l2, uint8_t out[32]);
int sc_hkdf_sha256(const uint8_t *salt, size_t saltlen, const uint8_t *ikm,
    size_t ikmlen, const char *info, uint8_t *out, size_t outlen);
int sc_aes256_cbc(bool encrypt, const uint8_t key[32], const uint8_t iv[16],
    const uint8_t *in, size_t n, uint8_t *out);
int sc_p256_generate(EVP_PKEY **ret);
int sc_p256_from_priv(const uint8_t d[32], EVP_PKEY **ret);
int sc_p256_priv(const EVP_PKEY *pk, uint8_t d[32]);
int sc_p256_from_xy(const uint8_t x[32], const uint8_t y[32], EVP_PKEY **ret);
int sc_p256_xy(const EVP_PKEY *pk, uint8_t x[32], uint8_t y[32]);
int sc_ecdh(EVP_PKEY *ours, EVP_PKEY *peer, uint8_t z[32]);
/* The attestation key and certificate (PEM files): the key, and the
 * certificate as DER (malloc'd). */
int sc_load_attestation(const char *key_path, const char *cert_path,
    EVP_PKEY **ret_key, uint8_t **ret_der, size_t *ret_len);
int sc_es256_sign(EVP_PKEY *pk, const uint8_t *m1, size_t l1, const uint8_t *m2,
    size_t l2, uint8_t *sig, size_t *siglen);

/* simcbor.c: strict reading and canonical writing. */
/* Load exactly len bytes of canonical CBOR whose top is a map. */
uint8_t cb_load_map(const uint8_t *p, size_t len, cbor_item_t **ret);
/* Spread a map with unsigned keys into slots[key] for key < nslots;
 * larger keys are ignored, other key types refused. */
uint8_t cb_map_slots(
    const cbor_item_t *map, const cbor_item_t **slots, size_t nslots);
const cbor_item_t *cb_map_text(const cbor_item_t *map, const char *key);
const cbor_item_t *cb_map_int(const cbor_item_t *map, int64_t key);
uint8_t cb_get_bytes(
    const cbor_item_t *it, size_t max, const uint8_t **ret, size_t *ret_len);
uint8_t cb_get_text(
    const cbor_item_t *it, size_t max, const char **ret, size_t *ret_len);
uint8_t cb_get_uint(const cbor_item_t *it, uint64_t *ret);
uint8_t cb_get_int(const cbor_item_t *it, int64_t *ret);
uint8_t cb_get_bool(const cbor_item_t *it, bool *ret);
uint8_t cb_check_map(const cbor_item_t *it);
uint8_t cb_check_array(const cbor_item_t *it);
bool cb_text_is(const cbor_item_t *it, const char *s);
cbor_item_t *cb_uint(uint64_t v);
cbor_item_t *cb_int(int64_t v);
cbor_item_t *cb_text(const char *s);
cbor_item_t *cb_bytes(const uint8_t *p, size_t n);
cbor_item_t *cb_bool(bool v);
/* Add key and value (both may be NULL after a failed build: then false);
 * the map takes them over. */
bool cb_put(cbor_item_t *map, cbor_item_t *key, cbor_item_t *value);
bool cb_push(cbor_item_t *array, cbor_item_t *value);
/* An EC2 P-256 COSE key with alg (-7 ES256, -25 ECDH-ES+HKDF-256). */
cbor_item_t *cb_cose_p256(const EVP_PKEY *pk, int64_t alg);
uint8_t cb_serialize(
    const cbor_item_t *it, uint8_t *out, size_t cap, size_t *ret_len);

#endif
