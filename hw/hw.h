/* The one interface between jit-agent and its token backends. */
#ifndef JIT_HW_H
#define JIT_HW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

struct secret;

/*
 * Every token has an X25519 *identity*: its public half is the token's
 * recipient (credentials' data keys are wrapped to it with no hardware),
 * its secret half is stored only sealed under a key-encryption key (KEK)
 * that the hardware alone can reproduce:
 *   fido2: HKDF(hmac-secret(credential, salt))  - one touch
 *   tpm2:  HKDF(ECDH_ZGen(tpm key, stored ephemeral point)) - PIN
 *   piv:   HKDF(ECDH on the card, slot 9d)  - touch and PIN
 * So one hardware operation per token opens the identity, and the identity
 * opens every credential asked for, in software, in guarded memory.
 *
 * A backend implements two calls, both blocking (they are run off the event
 * loop).  Arguments are plain data so that hardware access could move into
 * a helper process.  Only hw/<backend>.c includes vendor headers.
 */

#define HW_KEK_LEN 32
#define HW_ID_LEN 32 /* hex of 16 random bytes */
#define HW_LABEL_MAX 64
#define HW_DEVICE_MAX 512
#define HW_MSG_MAX 512
#define HW_TPM2_PIN_MIN 6 /* characters of a new TPM PIN, at least */

struct hw_token { /* tokens/<id>.json: public data only */
	char id[HW_ID_LEN + 1];
	char *label;
	char *type; /* "tpm2", "fido2", "piv" */
	char *device; /* TCTI string, hidraw path, sim:SOCKET, reader */
	bool simulated;
	bool uv; /* fido2: UV chosen at enrollment */
	int64_t created; /* unix seconds */
	uint8_t recipient[32]; /* X25519 public key */
	uint8_t id_nonce[24]; /* identity sealed under the KEK */
	uint8_t id_box[32 + 16];
	struct json_object *backend; /* backend's own public data */
};

struct hw_enroll_args {
	const char *type;
	const char *label;
	const char *device; /* NULL: the backend's default */
	const struct secret *pin; /* NULL: none */
	bool uv;
	bool allow_simulated;
	int touch_timeout_ms;
	const char *slot; /* piv: key slot in hex, NULL: 9d */
	const char *touch; /* piv: always, cached, never; NULL: always */
	/* Attestation: roots (a PEM file, or NULL) a token's certificate
	 * chain must lead to; require: refuse a token with none. */
	const char *attestation_roots;
	bool require_attestation;
	/* Set by hw_enroll for the backend: the 32-byte challenge its
	 * attestation signs (lib/attest.h), binding the new recipient. */
	const uint8_t *challenge;
};

struct hw_auth {
	const struct secret *pin; /* NULL: none given */
	int touch_timeout_ms;
	const volatile int *cancel; /* set non-zero to abandon a wait */
};

/* What a backend says beyond the error code, for the user and the log. */
struct hw_status {
	int retries; /* PIN tries left, -1 unknown */
	long raw_rc; /* the library's own code, for the log */
	char msg[HW_MSG_MAX]; /* a sentence, or empty */
};

struct hw_backend {
	const char *type;
	/* Make the hardware key; return its public data, whether the device is
	 * a simulator, and the KEK. */
	int (*enroll)(const struct hw_enroll_args *a,
	    struct json_object **ret_backend, bool *ret_simulated,
	    struct secret **ret_kek, struct hw_status *st);
	/* Reproduce the KEK with one hardware operation. */
	int (*derive)(const struct hw_token *t, const struct hw_auth *auth,
	    struct secret **ret_kek, struct hw_status *st);
	/* Optional: is the token there, asking nothing of the person (no
	 * touch, no PIN)?  JIT_OK, or JIT_E_NODEV with a sentence. */
	int (*probe)(const struct hw_token *t, struct hw_status *st);
	/* Optional: does opening t ask for a touch (without it, no)? */
	bool (*wants_touch)(const struct hw_token *t);
};

/* hw.c: the dispatcher and the identity layer common to every backend. */
const struct hw_backend *hw_backend_find(const char *type);
/* Comma-separated list of built backends, for messages. */
const char *hw_backend_list(void);
/* ret_sk (if not NULL) gets the new identity's secret half, for sealing
 * the token set's key to it (tokenset.c). */
int hw_enroll(const struct hw_enroll_args *a, struct hw_token **ret,
    struct secret **ret_sk, struct hw_status *st);
/* A simulator (sim:SOCKET) or a software TPM (swtpm:, mssim:): tests and
 * demos only, whatever a token file says. */
bool hw_device_simulated(const char *device);
/* One hardware operation: the identity's X25519 secret key (32 bytes). */
int hw_open_identity(const struct hw_token *t, const struct hw_auth *auth,
    struct secret **ret_sk, struct hw_status *st);
/* Blocking, but asks nothing of the person: is t plugged in (a backend
 * without a probe says yes)?  Which token to ask is chosen with it. */
bool hw_token_present(const struct hw_token *t, struct hw_status *st);
/* Does opening t ask for a touch (a PIV slot's policy may say never)?  For
 * jitctl's prompt only: the token, not this, decides. */
bool hw_token_wants_touch(const struct hw_token *t);
void hw_token_free(struct hw_token *t);
int hw_token_dup(const struct hw_token *t, struct hw_token **ret);
int hw_token_from_json(struct json_object *o, struct hw_token **ret);
int hw_token_to_json(const struct hw_token *t, struct json_object **ret);
/* Write a sentence into st->msg (printf-style) if it is still empty. */
void hw_status_set(struct hw_status *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Backends, present when built. */
extern const struct hw_backend hw_tpm2;
extern const struct hw_backend hw_fido2;
extern const struct hw_backend hw_piv;

#endif
