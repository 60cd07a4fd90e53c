/* The PIV backend: a P-256 key on a YubiKey (or any PIV card) via libykpiv. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <ykpiv.h>

#include "attest.h"
#include "err.h"
#include "hw.h"
#include "jsonx.h"
#include "log.h"
#include "piv.h"
#include "seal.h"
#include "secret.h"

/*
 * Enrollment generates a P-256 key in a slot of the card (9d by default)
 * with PIN policy "once" and the chosen touch policy, keeps its public key
 * and its attestation (the slot's certificate signed by f9, f9's
 * certificate, and the slot key's signature of the enrollment's challenge:
 * lib/attest.h) in the token record, and makes an ephemeral P-256 key whose
 * public half is kept too.  Then
 *	Z   = x(card key * ephemeral point), computed by the card (ECDH)
 *	KEK = HKDF-SHA256(Z, salt = ephemeral point || card point, PIV_KEK_INFO)
 * so one PIN and one touch on the card reproduce the KEK.
 *
 * The card is opened for one operation and released (ykpiv_done resets
 * and disconnects): the agent never holds it between operations, so
 * yubico-piv-tool and ykman keep working beside it.
 *
 * A card still using the default management key gets a random one, stored
 * on the card in the PIN-protected object as yubikey-agent and ykman do,
 * so nobody without the PIN can replace the key in the slot.
 */
#define PIV_KEK_INFO "jit-agent piv kek v1"
#define PIV_POINT_LEN 65 /* 04 || X || Y, P-256 */
#define PIV_COORD_LEN 32
#define PIV_PIN_MAX 8
#define PIV_CERT_MAX 3072
#define PIV_SIG_MAX 80 /* DER ECDSA P-256 */
#define PIV_READERS_MAX 4096
#define PIV_DEFAULT_SLOT 0x9d
#define PIV_SIM_CA_MARK "jit-sim-piv"
#define PIV_YUBICO_CA_MARK "Yubico"

struct piv_card {
	ykpiv_state *st;
	char reader[HW_DEVICE_MAX + 1];
	uint32_t serial;
	char label[HW_LABEL_MAX + 1];
};

/* After a failed exchange: is the same card still in its reader?  (libykpiv
 * reports a card pulled out mid-command as a generic error.) */
static bool
piv_still_there(const struct piv_card *c)
{
	ykpiv_state *ys = NULL;
	char exact[HW_DEVICE_MAX + 2];
	uint32_t serial = 0;
	bool there;

	if (ykpiv_init(&ys, 0) != YKPIV_OK)
		return true;
	snprintf(exact, sizeof(exact), "@%s", c->reader);
	there = ykpiv_connect(ys, exact) == YKPIV_OK &&
	    ykpiv_get_serial(ys, &serial) == YKPIV_OK && serial == c->serial;
	ykpiv_done(ys);
	return there;
}

/*
 * The one mapping from libykpiv's codes to ours, with a sentence.  what
 * says which step failed.
 */
static int
piv_map(const struct piv_card *c, ykpiv_rc rc, int tries, const char *what,
    struct hw_status *st)
{
	const char *label = c != NULL && c->label[0] != '\0' ? c->label :
							       "the PIV token";

	st->raw_rc = rc;
	if (rc == YKPIV_OK)
		return JIT_OK;
	log_debug("piv: %s: %s (%d)", what, ykpiv_strerror(rc), (int)rc);
	if (rc == YKPIV_GENERIC_ERROR && c != NULL && c->reader[0] != '\0' &&
	    !piv_still_there(c))
		rc = YKPIV_PCSC_ERROR;
	switch (rc) {
	case YKPIV_WRONG_PIN:
		st->retries = tries;
		hw_status_set(st,
		    "wrong PIN for %s: %d tries left before it is blocked",
		    label, tries);
		return JIT_E_PIN;
	case YKPIV_PIN_LOCKED:
		st->retries = 0;
		hw_status_set(st,
		    "the PIN of %s is blocked: unblock it with the PUK (yubico-piv-tool -a unblock-pin or ykman piv access unblock-pin)",
		    label);
		return JIT_E_PIN_BLOCKED;
	case YKPIV_PCSC_ERROR:
		hw_status_set(st,
		    "%s stopped answering during %s (was it removed?): insert it and try again",
		    label, what);
		return JIT_E_NODEV;
	case YKPIV_AUTHENTICATION_ERROR:
		hw_status_set(st,
		    "%s refused %s: it was not touched in time, or the PIN is not verified",
		    label, what);
		return JIT_E_NO_TOUCH;
	case YKPIV_MEMORY_ERROR: return JIT_E_NOMEM;
	default:
		hw_status_set(st, "%s failed during %s: %s", label, what,
		    ykpiv_strerror(rc));
		return JIT_E_HW;
	}
}

static void
piv_close(struct piv_card *c)
{
	if (c == NULL)
		return;
	if (c->st != NULL)
		ykpiv_done(c->st); /* resets the card: the PIN is forgotten */
	free(c);
}

/* The readers pcscd lists, as one "a\0b\0\0" block. */
static int
piv_readers(ykpiv_state *ys, char *buf, size_t cap, struct hw_status *st)
{
	size_t len = cap;
	ykpiv_rc rc;

	if ((rc = ykpiv_list_readers(ys, buf, &len)) != YKPIV_OK || len <= 1 ||
	    buf[0] == '\0') {
		st->raw_rc = rc;
		hw_status_set(st,
		    "no smart-card reader is available: is pcscd running, and the token plugged in?");
		return JIT_E_NODEV;
	}
	buf[cap - 1] = '\0';
	if (len < cap)
		buf[len] = '\0';
	return JIT_OK;
}

static bool
all_digits(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* Connect to exactly the reader named, and read the card's serial. */
static ykpiv_rc
piv_try_reader(struct piv_card *c, const char *name)
{
	char exact[HW_DEVICE_MAX + 2];
	ykpiv_rc rc;

	if (strlen(name) > HW_DEVICE_MAX)
		return YKPIV_SIZE_ERROR;
	snprintf(exact, sizeof(exact), "@%s", name);
	ykpiv_disconnect(c->st);
	if ((rc = ykpiv_connect(c->st, exact)) != YKPIV_OK)
		return rc;
	if ((rc = ykpiv_get_serial(c->st, &c->serial)) != YKPIV_OK)
		c->serial = 0;
	snprintf(c->reader, sizeof(c->reader), "%s", name);
	return YKPIV_OK;
}

/*
 * Open the card: want_serial (0: any) in the reader whose name contains
 * device (NULL: any), else in any reader.  A card in another reader with
 * the right serial is found; a card of another serial is named.
 */
static int
piv_open(const char *device, uint32_t want_serial, const char *label,
    struct piv_card **ret, struct hw_status *st)
{
	struct piv_card *c;
	char *readers = NULL, *p;
	char other[HW_DEVICE_MAX + 1] = "";
	uint32_t other_serial = 0;
	bool any_card = false;
	ykpiv_rc rc;
	int r;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return JIT_E_NOMEM;
	snprintf(c->label, sizeof(c->label), "%s", label != NULL ? label : "");
	if (ykpiv_init(&c->st, 0) != YKPIV_OK) {
		r = JIT_E_NOMEM;
		goto out;
	}
	if ((readers = malloc(PIV_READERS_MAX)) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	if ((r = piv_readers(c->st, readers, PIV_READERS_MAX, st)) != 0)
		goto out;
	/* The reader named first, then the others. */
	for (int pass = 0; pass < 2; pass++) {
		for (p = readers; *p != '\0'; p += strlen(p) + 1) {
			bool named = device != NULL && !all_digits(device) &&
			    strstr(p, device) != NULL;

			if ((pass == 0) != named)
				continue;
			if (pass == 1 && want_serial == 0 && device != NULL &&
			    !all_digits(device))
				continue; /* a reader was named: only it */
			if ((rc = piv_try_reader(c, p)) != YKPIV_OK)
				continue;
			any_card = true;
			if (want_serial == 0 || c->serial == want_serial) {
				*ret = c;
				c = NULL;
				r = JIT_OK;
				goto out;
			}
			snprintf(other, sizeof(other), "%s", p);
			other_serial = c->serial;
		}
	}
	if (other[0] != '\0') {
		hw_status_set(st,
		    "the card in reader %s has serial %u, not %u as %s: insert %s",
		    other, other_serial, want_serial, label, label);
		r = JIT_E_WRONG_TOKEN;
	} else if (want_serial == 0 && device != NULL && !all_digits(device) &&
	    !any_card) {
		hw_status_set(st,
		    "no card in a reader named like '%s': insert %s", device,
		    label);
		r = JIT_E_NODEV;
	} else if (want_serial == 0) {
		hw_status_set(st,
		    "no PIV card is inserted in any reader: insert the one to enroll");
		r = JIT_E_NODEV;
	} else {
		hw_status_set(st,
		    "%s (PIV, serial %u) is not inserted: insert it", label,
		    want_serial);
		r = JIT_E_NODEV;
	}
out:
	free(readers);
	piv_close(c);
	return r;
}

static int
piv_verify_pin(
    struct piv_card *c, const struct secret *pin, struct hw_status *st)
{
	char buf[PIV_PIN_MAX + 1];
	int tries = -1, r;
	ykpiv_rc rc;

	if (pin == NULL || secret_len(pin) == 0) {
		hw_status_set(st, "%s needs its PIN", c->label);
		return JIT_E_PIN_REQUIRED;
	}
	if (secret_len(pin) > PIV_PIN_MAX ||
	    memchr(secret_ptr(pin), '\0', secret_len(pin)) != NULL) {
		hw_status_set(st, "a PIV PIN is 6 to 8 characters");
		return JIT_E_PIN;
	}
	memcpy(buf, secret_ptr(pin), secret_len(pin));
	buf[secret_len(pin)] = '\0';
	rc = ykpiv_verify(c->st, buf, &tries);
	sodium_memzero(buf, sizeof(buf));
	if (rc == YKPIV_WRONG_PIN && tries == 0)
		rc = YKPIV_PIN_LOCKED;
	r = piv_map(c, rc, tries, "PIN verification", st);
	return r;
}

static int
slot_parse(const char *s, uint8_t *ret)
{
	unsigned v;
	char tail;

	if (s == NULL) {
		*ret = PIV_DEFAULT_SLOT;
		return JIT_OK;
	}
	if (sscanf(s, "%2x%c", &v, &tail) != 1 || strlen(s) != 2)
		return JIT_E_ARG;
	if (!(v == 0x9a || v == 0x9c || v == 0x9d || v == 0x9e ||
		(v >= 0x82 && v <= 0x95)))
		return JIT_E_ARG;
	*ret = (uint8_t)v;
	return JIT_OK;
}

static int
touch_parse(const char *s, uint8_t *ret)
{
	if (s == NULL || strcmp(s, "always") == 0)
		*ret = YKPIV_TOUCHPOLICY_ALWAYS;
	else if (strcmp(s, "cached") == 0)
		*ret = YKPIV_TOUCHPOLICY_CACHED;
	else if (strcmp(s, "never") == 0)
		*ret = YKPIV_TOUCHPOLICY_NEVER;
	else
		return JIT_E_ARG;
	return JIT_OK;
}

static const char *
touch_name(uint8_t p)
{
	return p == YKPIV_TOUCHPOLICY_CACHED ? "cached" :
	    p == YKPIV_TOUCHPOLICY_NEVER     ? "never" :
					       "always";
}

/* Authenticate with the management key: the default one (then replaced by
 * a random key stored PIN-protected on the card), or the one the card
 * keeps PIN-protected.  The PIN is verified already. */
static int
piv_admin(struct piv_card *c, struct hw_status *st)
{
	ykpiv_mgm mgm;
	ykpiv_rc rc;
	int r;

	memset(&mgm, 0, sizeof(mgm));
	if (ykpiv_authenticate(c->st, NULL) == YKPIV_OK) {
		/* The default key: replace it (all zeroes = make one). */
		rc = ykpiv_util_set_protected_mgm(c->st, &mgm);
		sodium_memzero(&mgm, sizeof(mgm));
		if ((r = piv_map(c, rc, -1,
			 "replacing the default management key", st)) != 0)
			return r;
		log_info(
		    "piv: %s had the default management key; it now has a random one stored PIN-protected on the card",
		    c->label);
		return JIT_OK;
	}
	if ((rc = ykpiv_util_get_protected_mgm(c->st, &mgm)) != YKPIV_OK) {
		st->raw_rc = rc;
		hw_status_set(st,
		    "%s has a management key that is neither the default nor stored PIN-protected on the card: set it with ykman piv access change-management-key --protect, then enroll again",
		    c->label);
		return JIT_E_DENIED;
	}
	rc = ykpiv_authenticate(c->st, mgm.data);
	sodium_memzero(&mgm, sizeof(mgm));
	return piv_map(c, rc, -1, "management key authentication", st);
}

/* The card's answer to ECDH with point: x of the shared point. */
static int
piv_ecdh(struct piv_card *c, uint8_t slot, const uint8_t point[PIV_POINT_LEN],
    struct secret **ret, struct hw_status *st)
{
	unsigned char out[PIV_POINT_LEN];
	size_t len = sizeof(out);
	struct secret *z = NULL;
	ykpiv_rc rc;
	int r;

	rc = ykpiv_decipher_data(
	    c->st, point, PIV_POINT_LEN, out, &len, YKPIV_ALGO_ECCP256, slot);
	if ((r = piv_map(c, rc, -1, "the key agreement (PIN and touch)", st)) !=
	    0)
		goto out;
	if (len != PIV_COORD_LEN) {
		hw_status_set(st,
		    "%s answered the key agreement with %zu bytes, not %d",
		    c->label, len, PIV_COORD_LEN);
		r = JIT_E_HW;
		goto out;
	}
	if ((r = secret_new(PIV_COORD_LEN, &z)) != 0)
		goto out;
	memcpy(secret_ptr(z), out, PIV_COORD_LEN);
	*ret = z;
	r = JIT_OK;
out:
	sodium_memzero(out, sizeof(out));
	return r;
}

static EVP_PKEY *
p256_from_point(const uint8_t *point, size_t n)
{
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	OSSL_PARAM params[3];
	char group[] = "prime256v1";

	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(
	    OSSL_PKEY_PARAM_PUB_KEY, (void *)(uintptr_t)point, n);
	params[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

/* An ephemeral key: its point, and Z with the card's point, in software. */
static int
piv_ephemeral(const uint8_t card[PIV_POINT_LEN], uint8_t epk[PIV_POINT_LEN],
    struct secret **ret_z)
{
	EVP_PKEY *eph = NULL, *peer = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	struct secret *z = NULL;
	size_t len = 0;
	int r = JIT_E_CRYPTO;

	if ((eph = EVP_EC_gen("P-256")) == NULL ||
	    (peer = p256_from_point(card, PIV_POINT_LEN)) == NULL ||
	    EVP_PKEY_get_octet_string_param(eph,
		OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, epk, PIV_POINT_LEN,
		&len) != 1 ||
	    len != PIV_POINT_LEN)
		goto out;
	if ((r = secret_new(PIV_COORD_LEN, &z)) != 0)
		goto out;
	r = JIT_E_CRYPTO;
	len = PIV_COORD_LEN;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL)) == NULL ||
	    EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer(ctx, peer) != 1 ||
	    EVP_PKEY_derive(ctx, secret_ptr(z), &len) != 1 ||
	    len != PIV_COORD_LEN)
		goto out;
	*ret_z = z;
	z = NULL;
	r = JIT_OK;
out:
	secret_free(z);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(eph);
	EVP_PKEY_free(peer);
	return r;
}

static int
piv_kek(const struct secret *z, const uint8_t epk[PIV_POINT_LEN],
    const uint8_t card[PIV_POINT_LEN], struct secret **ret)
{
	uint8_t salt[2 * PIV_POINT_LEN];

	memcpy(salt, epk, PIV_POINT_LEN);
	memcpy(salt + PIV_POINT_LEN, card, PIV_POINT_LEN);
	return seal_hkdf(secret_ptr(z), secret_len(z), salt, sizeof(salt),
	    PIV_KEK_INFO, HW_KEK_LEN, ret);
}

/*
 * The attestation: the slot's certificate must carry the generated key
 * and be signed by f9's key.  Whether f9 is Yubico's (real hardware) or
 * our simulator's is read from its names: without Yubico's root here the
 * chain proves the key was generated on the card that holds f9, not that
 * the card is a YubiKey, so anything but a Yubico-issued f9 counts as
 * simulated.
 */
static int
piv_check_attestation(const uint8_t *att, size_t attlen, const uint8_t *f9,
    size_t f9len, const uint8_t point[PIV_POINT_LEN], bool *ret_simulated,
    const char *label, struct hw_status *st)
{
	const unsigned char *p;
	X509 *a = NULL, *ca = NULL;
	EVP_PKEY *capk = NULL, *apk = NULL;
	uint8_t got[PIV_POINT_LEN];
	size_t len = 0;
	char issuer[256];
	int r = JIT_E_AUTH;

	p = att;
	if ((a = d2i_X509(NULL, &p, (long)attlen)) == NULL ||
	    p != att + attlen) {
		hw_status_set(st,
		    "%s gave an attestation that is not a certificate", label);
		goto out;
	}
	p = f9;
	if ((ca = d2i_X509(NULL, &p, (long)f9len)) == NULL || p != f9 + f9len) {
		hw_status_set(st,
		    "%s's attestation certificate (f9) cannot be read", label);
		goto out;
	}
	if ((capk = X509_get0_pubkey(ca)) == NULL ||
	    X509_verify(a, capk) != 1) {
		hw_status_set(st,
		    "%s's attestation is not signed by its attestation key (f9): refused",
		    label);
		goto out;
	}
	if ((apk = X509_get0_pubkey(a)) == NULL ||
	    EVP_PKEY_get_octet_string_param(apk,
		OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, got, sizeof(got),
		&len) != 1 ||
	    len != PIV_POINT_LEN || memcmp(got, point, PIV_POINT_LEN) != 0) {
		hw_status_set(st,
		    "%s attested another key than the one it generated: refused",
		    label);
		goto out;
	}
	X509_NAME_oneline(X509_get_issuer_name(ca), issuer, sizeof(issuer));
	*ret_simulated = strstr(issuer, PIV_YUBICO_CA_MARK) == NULL ||
	    strstr(issuer, PIV_SIM_CA_MARK) != NULL;
	r = JIT_OK;
out:
	X509_free(a);
	X509_free(ca);
	return r;
}

int
hw_piv_check_enrollment(const uint8_t *point, size_t point_len,
    const uint8_t *att, size_t attlen, const uint8_t *f9, size_t f9len,
    bool *ret_simulated, struct hw_status *st)
{
	EVP_PKEY *pk;

	if (point_len != PIV_POINT_LEN || point[0] != 0x04 ||
	    (pk = p256_from_point(point, point_len)) == NULL) {
		hw_status_set(st,
		    "the card generated a key that is not an uncompressed P-256 point");
		return JIT_E_HW;
	}
	EVP_PKEY_free(pk);
	return piv_check_attestation(
	    att, attlen, f9, f9len, point, ret_simulated, "the card", st);
}

/*
 * The attestation kept (lib/attest.h, format piv): the slot's key signs
 * the enrollment's challenge, which names the token's id and X25519
 * recipient, so the chain [slot certificate, f9 certificate] vouches for
 * that recipient and no other.  One touch (the slot's touch policy).
 */
static int
piv_attest_blob(struct piv_card *c, uint8_t slot,
    const uint8_t chal[ATTEST_CHALLENGE_LEN], const uint8_t *att, size_t attlen,
    const uint8_t *f9, size_t f9len, uint8_t **ret, size_t *ret_len,
    struct hw_status *st)
{
	const uint8_t *certs[2] = { att, f9 };
	size_t lens[2] = { attlen, f9len };
	unsigned char sig[PIV_SIG_MAX];
	size_t siglen = sizeof(sig);
	ykpiv_rc rc;
	int r;

	rc = ykpiv_sign_data(c->st, chal, ATTEST_CHALLENGE_LEN, sig, &siglen,
	    YKPIV_ALGO_ECCP256, slot);
	if ((r = piv_map(c, rc, -1,
		 "signing the enrollment's challenge (PIN and touch)", st)) !=
	    0)
		return r;
	return attest_piv_blob(sig, siglen, certs, lens, 2, ret, ret_len);
}

static int
piv_backend_json(const struct piv_card *c, uint8_t slot, uint8_t touch,
    const uint8_t point[PIV_POINT_LEN], const uint8_t epk[PIV_POINT_LEN],
    const uint8_t *blob, size_t bloblen, const char *version,
    struct json_object **ret)
{
	struct json_object *o = NULL;
	char slot_hex[3];
	int r = JIT_E_NOMEM;

	snprintf(slot_hex, sizeof(slot_hex), "%02x", slot);
	if ((o = json_object_new_object()) == NULL)
		goto out;
	if ((r = jsonx_add_int(o, "serial", c->serial)) != 0 ||
	    (r = jsonx_add_str(o, "slot", slot_hex)) != 0 ||
	    (r = jsonx_add_str(o, "touch", touch_name(touch))) != 0 ||
	    (r = jsonx_add_str(o, "pin_policy", "once")) != 0 ||
	    (r = jsonx_add_str(o, "firmware", version)) != 0 ||
	    (r = jsonx_add_b64(o, "public_key", point, PIV_POINT_LEN)) != 0 ||
	    (r = jsonx_add_b64(o, "ephemeral", epk, PIV_POINT_LEN)) != 0 ||
	    (r = jsonx_add_b64(o, "attestation", blob, bloblen)) != 0)
		goto out;
	*ret = o;
	o = NULL;
	r = JIT_OK;
out:
	json_object_put(o);
	return r;
}

static int
piv_enroll(const struct hw_enroll_args *a, struct json_object **ret_backend,
    bool *ret_simulated, struct secret **ret_kek, struct hw_status *st)
{
	struct piv_card *c = NULL;
	struct secret *z = NULL, *zc = NULL, *kek = NULL;
	uint8_t slot, touch, epk[PIV_POINT_LEN], *point = NULL, *f9 = NULL;
	uint8_t *blob = NULL;
	unsigned char *att = NULL;
	size_t point_len = 0, f9len = 0, attlen = PIV_CERT_MAX, bloblen = 0;
	char version[16] = "";
	bool simulated = false;
	ykpiv_rc rc;
	int r;

	if (slot_parse(a->slot, &slot) != 0) {
		hw_status_set(st,
		    "--slot takes a PIV key slot in hex: 9a, 9c, 9d, 9e or 82 to 95");
		return JIT_E_ARG;
	}
	if (touch_parse(a->touch, &touch) != 0) {
		hw_status_set(st, "--touch takes always, cached or never");
		return JIT_E_ARG;
	}
	if (a->challenge == NULL)
		return JIT_E_INTERNAL;
	if ((r = piv_open(a->device,
		 all_digits(a->device) ?
		     (uint32_t)strtoul(a->device, NULL, 10) :
		     0,
		 a->label, &c, st)) != 0)
		return r;
	if (c->serial == 0) {
		hw_status_set(st,
		    "the card in %s does not tell its serial number: it cannot be told apart from another card",
		    c->reader);
		r = JIT_E_UNSUPPORTED;
		goto out;
	}
	if ((att = malloc(PIV_CERT_MAX)) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	(void)ykpiv_get_version(c->st, version, sizeof(version));
	if ((r = piv_verify_pin(c, a->pin, st)) != 0 ||
	    (r = piv_admin(c, st)) != 0)
		goto out;
	rc = ykpiv_util_generate_key(c->st, slot, YKPIV_ALGO_ECCP256,
	    YKPIV_PINPOLICY_ONCE, touch, NULL, NULL, NULL, NULL, &point,
	    &point_len);
	if ((r = piv_map(c, rc, -1, "key generation", st)) != 0)
		goto out;
	if (point_len != PIV_POINT_LEN || point[0] != 0x04) {
		hw_status_set(st,
		    "%s generated a key that is not an uncompressed P-256 point",
		    a->label);
		r = JIT_E_HW;
		goto out;
	}
	if ((rc = ykpiv_attest(c->st, slot, att, &attlen)) != YKPIV_OK ||
	    (rc = ykpiv_util_read_cert(
		 c->st, YKPIV_KEY_ATTESTATION, &f9, &f9len)) != YKPIV_OK) {
		st->raw_rc = rc;
		hw_status_set(st,
		    "%s cannot attest the key it generated (%s): a PIV card without attestation cannot be enrolled",
		    a->label, ykpiv_strerror(rc));
		r = JIT_E_UNSUPPORTED;
		goto out;
	}
	if ((r = hw_piv_check_enrollment(point, point_len, att, attlen, f9,
		 f9len, &simulated, st)) != 0)
		goto out;
	if (simulated && !a->allow_simulated) {
		r = JIT_E_SIMULATED;
		goto out;
	}
	if ((r = piv_attest_blob(c, slot, a->challenge, att, attlen, f9, f9len,
		 &blob, &bloblen, st)) != 0)
		goto out;
	/* The card must reproduce Z: one touch now proves the slot works
	 * with the policy chosen. */
	if ((r = piv_ephemeral(point, epk, &z)) != 0 ||
	    (r = piv_ecdh(c, slot, epk, &zc, st)) != 0)
		goto out;
	if (!secret_equal(z, zc)) {
		hw_status_set(st,
		    "%s computed another key agreement than its public key predicts: refused",
		    a->label);
		r = JIT_E_AUTH;
		goto out;
	}
	if ((r = piv_kek(z, epk, point, &kek)) != 0 ||
	    (r = piv_backend_json(c, slot, touch, point, epk, blob, bloblen,
		 version, ret_backend)) != 0)
		goto out;
	*ret_simulated = simulated;
	*ret_kek = kek;
	kek = NULL;
	r = JIT_OK;
out:
	if (c != NULL) {
		if (point != NULL)
			ykpiv_util_free(c->st, point);
		if (f9 != NULL)
			ykpiv_util_free(c->st, f9);
	}
	free(att);
	free(blob);
	secret_free(z);
	secret_free(zc);
	secret_free(kek);
	piv_close(c);
	return r;
}

static int
piv_derive(const struct hw_token *t, const struct hw_auth *auth,
    struct secret **ret_kek, struct hw_status *st)
{
	struct hw_status scratch = { .retries = -1 };
	struct piv_card *c = NULL;
	struct secret *z = NULL, *kek = NULL;
	uint8_t point[PIV_POINT_LEN], epk[PIV_POINT_LEN], slot;
	const char *slot_hex;
	int64_t serial;
	int r;

	if (st == NULL)
		st = &scratch;
	if (t == NULL || auth == NULL)
		return JIT_E_ARG;
	if (jsonx_get_int(t->backend, "serial", 1, UINT32_MAX, &serial) != 0 ||
	    jsonx_get_str(t->backend, "slot", 2, &slot_hex) != 0 ||
	    slot_parse(slot_hex, &slot) != 0 ||
	    jsonx_get_b64_fixed(
		t->backend, "public_key", point, sizeof(point)) != 0 ||
	    jsonx_get_b64_fixed(t->backend, "ephemeral", epk, sizeof(epk)) !=
		0) {
		hw_status_set(
		    st, "the record of token %s is damaged", t->label);
		return JIT_E_FORMAT;
	}
	if ((r = piv_open(t->device, (uint32_t)serial, t->label, &c, st)) != 0)
		goto out;
	if ((r = piv_verify_pin(c, auth->pin, st)) != 0 ||
	    (r = piv_ecdh(c, slot, epk, &z, st)) != 0 ||
	    (r = piv_kek(z, epk, point, &kek)) != 0)
		goto out;
	*ret_kek = kek;
	kek = NULL;
	r = JIT_OK;
out:
	secret_free(z);
	secret_free(kek);
	piv_close(c);
	return r;
}

/* The slot's touch policy, as enrolled; a record without one: always. */
static bool
piv_wants_touch(const struct hw_token *t)
{
	const char *touch;

	return t->backend == NULL ||
	    jsonx_get_str(t->backend, "touch", 16, &touch) != 0 ||
	    strcmp(touch, touch_name(YKPIV_TOUCHPOLICY_NEVER)) != 0;
}

const struct hw_backend hw_piv = {
	.type = "piv",
	.enroll = piv_enroll,
	.derive = piv_derive,
	.wants_touch = piv_wants_touch,
};
