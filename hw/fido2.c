/* The FIDO2 backend: hmac-secret of a non-resident ES256 credential gives the KEK. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <fido.h>
#include <fido/es256.h>
#include <sodium.h>

#include "attest.h"
#include "err.h"
#include "fido2-io.h"
#include "fido2.h"
#include "hw.h"
#include "jsonx.h"
#include "log.h"
#include "seal.h"
#include "secret.h"
#include "wire.h"

#define FIDO2_RP_ID "jit-agent"
#define FIDO2_KEK_INFO "jit-agent fido2 kek v1"
#define FIDO2_CRED_ID_MAX 1024
#define FIDO2_SALT_LEN 32
#define FIDO2_HMAC_LEN 32
#define FIDO2_USER_ID_LEN 32
#define FIDO2_AAGUID_LEN 16
#define FIDO2_PIN_MAX 63 /* bytes, CTAP2 clientPIN */
#define FIDO2_DEVICES_MAX 16
#define FIDO2_OPEN_TIMEOUT_MS 5000
#define FIDO2_PREFLIGHT_TIMEOUT_MS 3000
#define FIDO2_CANCEL_TIMEOUT_MS 500
#define FIDO2_TOUCH_TIMEOUT_MS 30000 /* when the caller gives none */
#define FIDO2_MSG_NAME_MAX 128 /* escaped label or path in messages */

#define FIDO2_FLAG_UP 0x01
#define FIDO2_FLAG_UV 0x04

struct fido2_dev {
	fido_dev_t *dev;
	bool simulated;
	bool waiting_touch; /* a timeout now means: no touch */
	int touch_timeout_ms;
	int64_t touch_start_ms;
	char path[FIDO2_MSG_NAME_MAX]; /* escaped, for messages */
	char label[FIDO2_MSG_NAME_MAX]; /* escaped, for messages */
};

/* What enrollment stored: public data only. */
struct fido2_cred {
	uint8_t *id;
	size_t id_len;
	uint8_t pk[FIDO2_PK_LEN];
	uint8_t salt[FIDO2_SALT_LEN];
};

enum fido2_preflight {
	FIDO2_HOLDS, /* the token knows our credential */
	FIDO2_NOT_HERE, /* it said CTAP2_ERR_NO_CREDENTIALS */
	FIDO2_UNKNOWN, /* it would not say */
};

static pthread_once_t fido2_once = PTHREAD_ONCE_INIT;

/* libfido2's debug log dumps whole frames, PIN and hmac-secret exchanges
 * included (encrypted, but still): none of it reaches our log. */
static void
fido2_log_drop(const char *line)
{
	(void)line;
}

static void
fido2_init_once(void)
{
	fido_init(0);
	fido_set_log_handler(fido2_log_drop);
}

static int
fido2_timeout(int ms)
{
	return ms > 0 ? ms : FIDO2_TOUCH_TIMEOUT_MS;
}

/*
 * The one mapping from libfido2/CTAP codes to ours, with a sentence for the
 * user.  FIDO_ERR_RX/TX carry no reason: the I/O hooks kept it.
 */
static int
fido2_map(
    const struct fido2_dev *d, int rc, const char *what, struct hw_status *st)
{
	const char *label = d != NULL && d->label[0] != '\0' ?
	    d->label :
	    "the enrolled token";
	const char *path = d != NULL ? d->path : "the token";
	int64_t waited = d != NULL ? fido2_io_now_ms() - d->touch_start_ms : 0;
	int secs = d != NULL ? (d->touch_timeout_ms + 999) / 1000 : 0;
	int tries = -1, err = 0;

	st->raw_rc = rc;
	if (rc == FIDO_OK)
		return JIT_OK;
	log_debug("fido2: %s: %s (%d)", what, fido_strerr(rc), rc);
	switch (rc) {
	case FIDO_ERR_ACTION_TIMEOUT:
	case FIDO_ERR_USER_ACTION_TIMEOUT:
		/* The token gave up before our deadline: say when. */
		if (d != NULL && d->waiting_touch)
			secs = waited < 1500 ? 1 : (int)((waited + 500) / 1000);
		hw_status_set(st, "no touch within %d s", secs);
		return JIT_E_NO_TOUCH;
	case FIDO_ERR_OPERATION_DENIED:
		hw_status_set(st, "the touch was denied on the token");
		return JIT_E_DENIED;
	case FIDO_ERR_PIN_INVALID:
		if (d != NULL && d->dev != NULL &&
		    fido_dev_get_retry_count(d->dev, &tries) != FIDO_OK)
			tries = -1;
		st->retries = tries;
		if (tries >= 0)
			hw_status_set(st, "wrong PIN: %d tries left", tries);
		else
			hw_status_set(st, "wrong PIN");
		return JIT_E_PIN;
	case FIDO_ERR_UV_INVALID:
		if (d != NULL && d->dev != NULL &&
		    fido_dev_get_uv_retry_count(d->dev, &tries) != FIDO_OK)
			tries = -1;
		st->retries = tries;
		hw_status_set(st, "user verification failed on the token");
		return JIT_E_PIN;
	case FIDO_ERR_PIN_AUTH_BLOCKED:
		hw_status_set(
		    st, "too many wrong PINs: remove and re-insert the token");
		return JIT_E_PIN_BLOCKED;
	case FIDO_ERR_PIN_BLOCKED:
		st->retries = 0;
		hw_status_set(
		    st, "the PIN is blocked: the token must be reset");
		return JIT_E_PIN_BLOCKED;
	case FIDO_ERR_UV_BLOCKED:
		hw_status_set(st,
		    "built-in user verification is blocked: give the PIN instead");
		return JIT_E_PIN_BLOCKED;
	case FIDO_ERR_PIN_REQUIRED:
		hw_status_set(st, "the token needs its PIN");
		return JIT_E_PIN_REQUIRED;
	case FIDO_ERR_PIN_NOT_SET:
		hw_status_set(st,
		    "the token has no PIN: set one first (fido2-token -S) or enroll without user verification");
		return JIT_E_UNSUPPORTED;
	case FIDO_ERR_NO_CREDENTIALS:
		hw_status_set(st, "the token plugged in is not %s", label);
		return JIT_E_WRONG_TOKEN;
	case FIDO_ERR_KEEPALIVE_CANCEL:
		hw_status_set(st, "the request was cancelled");
		return JIT_E_CANCELLED;
	case FIDO_ERR_CHANNEL_BUSY:
		hw_status_set(st, "the token is busy with another request");
		return JIT_E_BUSY;
	case FIDO_ERR_UNSUPPORTED_EXTENSION:
	case FIDO_ERR_UNSUPPORTED_ALGORITHM:
	case FIDO_ERR_UNSUPPORTED_OPTION:
		hw_status_set(st,
		    "the token does not support what jit-agent needs: %s",
		    fido_strerr(rc));
		return JIT_E_UNSUPPORTED;
	case FIDO_ERR_TX:
	case FIDO_ERR_RX:
	case FIDO_ERR_INTERNAL: break;
	default:
		hw_status_set(
		    st, "the token reported an error: %s", fido_strerr(rc));
		return JIT_E_HW;
	}

	switch (fido2_io_failure(&err)) {
	case FIDO2_IO_OK:
		hw_status_set(st,
		    "the token sent a reply jit-agent cannot read: %s",
		    fido_strerr(rc));
		return JIT_E_HW;
	case FIDO2_IO_TIMEOUT:
		if (d != NULL && d->waiting_touch) {
			hw_status_set(st, "no touch within %d s", secs);
			return JIT_E_NO_TOUCH;
		}
		hw_status_set(st, "%s does not answer", path);
		return JIT_E_NODEV;
	case FIDO2_IO_GONE:
		hw_status_set(st,
		    "%s at %s went away (was it removed?): plug it in and try again",
		    label, path);
		return JIT_E_NODEV;
	case FIDO2_IO_CANCELLED:
		hw_status_set(st, "the request was cancelled");
		return JIT_E_CANCELLED;
	case FIDO2_IO_NOENT:
		if (d != NULL && d->simulated)
			hw_status_set(
			    st, "no simulated token is running at %s", path);
		else
			hw_status_set(st, "no token at %s: plug it in", path);
		return JIT_E_NODEV;
	case FIDO2_IO_BUSY:
		hw_status_set(st, "%s is in use by another program", path);
		return JIT_E_BUSY;
	case FIDO2_IO_ACCESS:
		hw_status_set(st,
		    "no permission to open %s: install jit-agent's udev rules",
		    path);
		return JIT_E_IO;
	case FIDO2_IO_ERROR: break;
	}
	hw_status_set(st, "cannot talk to %s: %s", path, strerror(err));
	return JIT_E_NODEV;
}

static void
fido2_dev_free(struct fido2_dev *d)
{
	if (d == NULL)
		return;
	if (d->dev != NULL) {
		fido2_io_begin(NULL);
		fido_dev_close(d->dev);
		fido_dev_free(&d->dev);
	}
	free(d);
}

static int
fido2_dev_open(const char *path, const char *label, int touch_timeout_ms,
    const volatile int *cancel, struct fido2_dev **ret, struct hw_status *st)
{
	struct fido2_dev *d = NULL;
	int r, rc;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	d->simulated = fido2_io_is_simulated(path);
	d->touch_timeout_ms = fido2_timeout(touch_timeout_ms);
	log_escape(path, strlen(path), d->path, sizeof(d->path));
	if (label != NULL)
		log_escape(label, strlen(label), d->label, sizeof(d->label));
	if ((d->dev = fido_dev_new()) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	if ((rc = fido_dev_set_io_functions(d->dev, &fido2_io)) != FIDO_OK ||
	    (rc = fido_dev_set_timeout(d->dev, FIDO2_OPEN_TIMEOUT_MS)) !=
		FIDO_OK) {
		r = fido2_map(d, rc, "setup", st);
		goto out;
	}
	fido2_io_begin(cancel);
	if ((rc = fido_dev_open(d->dev, path)) != FIDO_OK) {
		r = fido2_map(d, rc, "open", st);
		fido_dev_free(&d->dev);
		goto out;
	}
	if (!fido_dev_is_fido2(d->dev)) {
		hw_status_set(st,
		    "%s speaks only U2F: jit-agent needs a FIDO2 token with hmac-secret",
		    d->path);
		r = JIT_E_UNSUPPORTED;
		goto out;
	}
	*ret = d;
	d = NULL;
	r = JIT_OK;
out:
	fido2_dev_free(d);
	return r;
}

/* The FIDO HID devices present (libfido2 reads their report descriptors). */
static int
fido2_manifest(fido_dev_info_t **ret, size_t *ret_n, struct hw_status *st)
{
	fido_dev_info_t *list;
	size_t n = 0;
	int rc;

	if ((list = fido_dev_info_new(FIDO2_DEVICES_MAX)) == NULL)
		return JIT_E_NOMEM;
	if ((rc = fido_dev_info_manifest(list, FIDO2_DEVICES_MAX, &n)) !=
	    FIDO_OK) {
		fido_dev_info_free(&list, FIDO2_DEVICES_MAX);
		return fido2_map(NULL, rc, "manifest", st);
	}
	*ret = list;
	*ret_n = n;
	return JIT_OK;
}

static bool
fido2_listed(const fido_dev_info_t *list, size_t n, const char *path)
{
	const char *p;
	size_t i;

	for (i = 0; i < n; i++)
		if ((p = fido_dev_info_path(fido_dev_info_ptr(list, i))) !=
			NULL &&
		    strcmp(p, path) == 0)
			return true;
	return false;
}

/* Enrollment: the device named, if libfido2 lists it as a FIDO token, else
 * the first FIDO2 token plugged in. */
static int
fido2_dev_open_enroll(const char *device, const char *label,
    int touch_timeout_ms, struct fido2_dev **ret, struct hw_status *st)
{
	fido_dev_info_t *list = NULL;
	struct hw_status quiet = { .retries = -1 };
	const char *path;
	char where[FIDO2_MSG_NAME_MAX];
	size_t n = 0, i;
	int r;

	if (fido2_io_is_simulated(device))
		return fido2_dev_open(
		    device, label, touch_timeout_ms, NULL, ret, st);
	if ((r = fido2_manifest(&list, &n, st)) != JIT_OK)
		goto out;
	if (device != NULL) {
		if (!fido2_listed(list, n, device)) {
			log_escape(
			    device, strlen(device), where, sizeof(where));
			hw_status_set(st, "no FIDO token at %s", where);
			r = JIT_E_NODEV;
			goto out;
		}
		r = fido2_dev_open(
		    device, label, touch_timeout_ms, NULL, ret, st);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((path = fido_dev_info_path(fido_dev_info_ptr(list, i))) ==
		    NULL)
			continue;
		quiet.msg[0] = '\0';
		r = fido2_dev_open(
		    path, label, touch_timeout_ms, NULL, ret, &quiet);
		if (r == JIT_OK || r == JIT_E_NOMEM)
			goto out;
		log_debug("fido2: skipping a device: %s", quiet.msg);
	}
	hw_status_set(
	    st, "no FIDO2 token found: plug one in or name it with --device");
	r = JIT_E_NODEV;
out:
	fido_dev_info_free(&list, FIDO2_DEVICES_MAX);
	return r;
}

/* A NUL-terminated copy of the PIN, in guarded memory, for libfido2. */
static int
fido2_pin_cstr(
    const struct secret *pin, struct secret **ret, struct hw_status *st)
{
	struct secret *s = NULL;
	size_t len = secret_len(pin);
	int r;

	if (len == 0 || len > FIDO2_PIN_MAX ||
	    memchr(secret_ptr(pin), '\0', len) != NULL) {
		hw_status_set(st, "a FIDO2 PIN is 1 to %d bytes with no NUL",
		    FIDO2_PIN_MAX);
		return JIT_E_ARG;
	}
	if ((r = secret_new(len + 1, &s)) != JIT_OK)
		return r;
	memcpy(secret_ptr(s), secret_ptr(pin), len);
	*ret = s;
	return JIT_OK;
}

static const char *
fido2_pin_arg(const struct secret *pin)
{
	return pin != NULL ? (const char *)secret_ptr(pin) : NULL;
}

int
hw_fido2_verify_assertion(const struct fido2_assertion *a, uint8_t *ret_flags)
{
	fido_assert_t *fa = NULL;
	es256_pk_t *pk = NULL;
	cbor_item_t *item = NULL;
	struct cbor_load_result res;
	struct wire_reader wr;
	uint8_t want[crypto_hash_sha256_BYTES],
	    rp_hash[crypto_hash_sha256_BYTES];
	uint8_t flags;
	uint32_t sign_count;
	int r, rc;

	if (a == NULL || a->authdata == NULL || a->sig == NULL)
		return JIT_E_ARG;
	if ((pk = es256_pk_new()) == NULL || (fa = fido_assert_new()) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	if ((rc = es256_pk_from_ptr(pk, a->pk, sizeof(a->pk))) != FIDO_OK) {
		log_debug("fido2: stored public key: %s", fido_strerr(rc));
		r = JIT_E_FORMAT;
		goto out;
	}
	if ((rc = fido_assert_set_clientdata_hash(
		 fa, a->cdh, sizeof(a->cdh))) != FIDO_OK ||
	    (rc = fido_assert_set_rp(fa, FIDO2_RP_ID)) != FIDO_OK ||
	    (rc = fido_assert_set_count(fa, 1)) != FIDO_OK ||
	    (rc = fido_assert_set_extensions(fa, a->ext)) != FIDO_OK ||
	    (rc = fido_assert_set_up(fa, FIDO_OPT_TRUE)) != FIDO_OK ||
	    (rc = fido_assert_set_uv(
		 fa, a->uv ? FIDO_OPT_TRUE : FIDO_OPT_OMIT)) != FIDO_OK) {
		log_debug("fido2: verify setup: %s", fido_strerr(rc));
		r = JIT_E_NOMEM;
		goto out;
	}
	r = JIT_E_AUTH;
	if ((rc = fido_assert_set_authdata(
		 fa, 0, a->authdata, a->authdata_len)) != FIDO_OK ||
	    (rc = fido_assert_set_sig(fa, 0, a->sig, a->sig_len)) != FIDO_OK ||
	    (rc = fido_assert_verify(fa, 0, COSE_ES256, pk)) != FIDO_OK) {
		log_debug("fido2: assertion refused: %s", fido_strerr(rc));
		goto out;
	}

	/* fido_assert_verify checked these already; check them here too so
	 * that no library change can silently drop them. */
	if ((item = cbor_load(a->authdata, a->authdata_len, &res)) == NULL ||
	    res.error.code != CBOR_ERR_NONE || res.read != a->authdata_len ||
	    !cbor_isa_bytestring(item) || !cbor_bytestring_is_definite(item)) {
		log_debug("fido2: authData is not one CBOR byte string");
		goto out;
	}
	wire_reader_init(
	    &wr, cbor_bytestring_handle(item), cbor_bytestring_length(item));
	if (wire_get_bytes(&wr, rp_hash, sizeof(rp_hash)) != 0 ||
	    wire_get_u8(&wr, &flags) != 0 ||
	    wire_get_u32(&wr, &sign_count) != 0) {
		log_debug("fido2: authData too short");
		goto out;
	}
	crypto_hash_sha256(
	    want, (const unsigned char *)FIDO2_RP_ID, strlen(FIDO2_RP_ID));
	if (sodium_memcmp(rp_hash, want, sizeof(want)) != 0) {
		log_debug("fido2: rpIdHash is not that of " FIDO2_RP_ID);
		goto out;
	}
	if ((flags & FIDO2_FLAG_UP) == 0) {
		log_debug("fido2: user presence flag missing");
		goto out;
	}
	if (a->uv && (flags & FIDO2_FLAG_UV) == 0) {
		log_debug("fido2: user verification flag missing");
		goto out;
	}
	if (ret_flags != NULL)
		*ret_flags = flags;
	r = JIT_OK;
out:
	if (item != NULL)
		cbor_decref(&item);
	fido_assert_free(&fa);
	es256_pk_free(&pk);
	return r;
}

/* After a timeout or a cancel, tell the token to stop waiting for a touch
 * so it does not blink on for a request nobody reads. */
static void
fido2_abandon(struct fido2_dev *d)
{
	enum fido2_io_fail why = fido2_io_failure(NULL);

	if (why != FIDO2_IO_TIMEOUT && why != FIDO2_IO_CANCELLED)
		return;
	fido2_io_begin(NULL);
	fido_dev_set_timeout(d->dev, FIDO2_CANCEL_TIMEOUT_MS);
	if (fido_dev_cancel(d->dev) != FIDO_OK)
		log_debug("fido2: could not send a cancel to the token");
}

/* Does this token hold our credential?  An assertion without user
 * presence answers that with no touch. */
static int
fido2_preflight(struct fido2_dev *d, const struct fido2_cred *c,
    const volatile int *cancel, enum fido2_preflight *ret)
{
	fido_assert_t *fa = NULL;
	uint8_t cdh[FIDO2_CDH_LEN];
	int r, rc;

	randombytes_buf(cdh, sizeof(cdh));
	if ((fa = fido_assert_new()) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	if (fido_assert_set_rp(fa, FIDO2_RP_ID) != FIDO_OK ||
	    fido_assert_set_clientdata_hash(fa, cdh, sizeof(cdh)) != FIDO_OK ||
	    fido_assert_allow_cred(fa, c->id, c->id_len) != FIDO_OK ||
	    fido_assert_set_up(fa, FIDO_OPT_FALSE) != FIDO_OK) {
		r = JIT_E_NOMEM;
		goto out;
	}
	fido_dev_set_timeout(d->dev, FIDO2_PREFLIGHT_TIMEOUT_MS);
	fido2_io_begin(cancel);
	rc = fido_dev_get_assert(d->dev, fa, NULL);
	if (rc != FIDO_OK)
		log_debug("fido2: preflight: %s (%d)", fido_strerr(rc), rc);
	if (rc != FIDO_OK && fido2_io_failure(NULL) == FIDO2_IO_CANCELLED) {
		r = JIT_E_CANCELLED;
		goto out;
	}
	if (rc == FIDO_OK)
		*ret = FIDO2_HOLDS;
	else if (rc == FIDO_ERR_NO_CREDENTIALS)
		*ret = FIDO2_NOT_HERE;
	else
		*ret = FIDO2_UNKNOWN;
	r = JIT_OK;
out:
	fido_assert_free(&fa);
	return r;
}

/*
 * The touch: one getAssertion with user presence, UV if asked, and
 * hmac-secret(salt).  The answer is verified before its hmac output is
 * used, and the output leaves libfido2's memory at once.
 */
static int
fido2_touch(struct fido2_dev *d, const struct fido2_cred *c, bool uv,
    const struct secret *pin, const volatile int *cancel,
    struct secret **ret_hmac, struct hw_status *st)
{
	fido_assert_t *fa = NULL;
	struct fido2_assertion chk;
	struct secret *hmac = NULL;
	uint8_t *authdata = NULL, *sig = NULL;
	const unsigned char *p;
	uint8_t flags = 0;
	int r, rc;

	memset(&chk, 0, sizeof(chk));
	randombytes_buf(chk.cdh, sizeof(chk.cdh));
	if ((fa = fido_assert_new()) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	if ((rc = fido_assert_set_rp(fa, FIDO2_RP_ID)) != FIDO_OK ||
	    (rc = fido_assert_set_clientdata_hash(
		 fa, chk.cdh, sizeof(chk.cdh))) != FIDO_OK ||
	    (rc = fido_assert_allow_cred(fa, c->id, c->id_len)) != FIDO_OK ||
	    (rc = fido_assert_set_extensions(fa, FIDO_EXT_HMAC_SECRET)) !=
		FIDO_OK ||
	    (rc = fido_assert_set_hmac_salt(fa, c->salt, sizeof(c->salt))) !=
		FIDO_OK ||
	    (rc = fido_assert_set_up(fa, FIDO_OPT_TRUE)) != FIDO_OK ||
	    (rc = fido_assert_set_uv(fa, uv ? FIDO_OPT_TRUE : FIDO_OPT_OMIT)) !=
		FIDO_OK) {
		r = fido2_map(d, rc, "getAssertion setup", st);
		goto out;
	}
	fido_dev_set_timeout(d->dev, d->touch_timeout_ms);
	fido2_io_begin(cancel);
	d->waiting_touch = true;
	d->touch_start_ms = fido2_io_now_ms();
	rc = fido_dev_get_assert(d->dev, fa, uv ? fido2_pin_arg(pin) : NULL);
	if (rc != FIDO_OK) {
		r = fido2_map(d, rc, "getAssertion", st);
		d->waiting_touch = false;
		fido2_abandon(d);
		goto out;
	}
	d->waiting_touch = false;

	if (fido_assert_count(fa) != 1 ||
	    fido_assert_hmac_secret_len(fa, 0) != FIDO2_HMAC_LEN ||
	    (p = fido_assert_hmac_secret_ptr(fa, 0)) == NULL) {
		hw_status_set(st, "the token returned no hmac-secret output");
		r = JIT_E_UNSUPPORTED;
		goto out;
	}
	if ((r = secret_from(p, FIDO2_HMAC_LEN, &hmac)) != JIT_OK)
		goto out;
	/* Keep the public parts only, and let the assertion go now. */
	if (fido_assert_id_len(fa, 0) != 0 &&
	    (fido_assert_id_len(fa, 0) != c->id_len ||
		memcmp(fido_assert_id_ptr(fa, 0), c->id, c->id_len) != 0)) {
		hw_status_set(st, "the token answered for another credential");
		r = JIT_E_AUTH;
		goto out;
	}
	chk.authdata_len = fido_assert_authdata_len(fa, 0);
	chk.sig_len = fido_assert_sig_len(fa, 0);
	if (chk.authdata_len == 0 || chk.sig_len == 0) {
		hw_status_set(st, "the token's answer is not signed");
		r = JIT_E_AUTH;
		goto out;
	}
	if ((authdata = malloc(chk.authdata_len)) == NULL ||
	    (sig = malloc(chk.sig_len)) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	memcpy(authdata, fido_assert_authdata_ptr(fa, 0), chk.authdata_len);
	memcpy(sig, fido_assert_sig_ptr(fa, 0), chk.sig_len);
	fido_assert_free(&fa);

	chk.authdata = authdata;
	chk.sig = sig;
	memcpy(chk.pk, c->pk, sizeof(chk.pk));
	chk.uv = uv;
	chk.ext = FIDO_EXT_HMAC_SECRET;
	if ((r = hw_fido2_verify_assertion(&chk, &flags)) != JIT_OK) {
		if (r == JIT_E_AUTH)
			hw_status_set(st,
			    "the token's answer does not verify (forged, replayed or without a touch): refused");
		goto out;
	}
	/* hmac-secret differs with and without UV: a token that verified
	 * the user unasked would give a KEK that opens nothing. */
	if (!uv && (flags & FIDO2_FLAG_UV) != 0) {
		hw_status_set(st,
		    "the token verified the user although this enrollment does not use it: enroll it again with UV");
		r = JIT_E_HW;
		goto out;
	}
	*ret_hmac = hmac;
	hmac = NULL;
	r = JIT_OK;
out:
	fido_assert_free(&fa);
	secret_free(hmac);
	free(authdata);
	free(sig);
	return r;
}

static int
fido2_kek(
    const struct secret *hmac, const struct fido2_cred *c, struct secret **ret)
{
	return seal_hkdf(secret_ptr(hmac), secret_len(hmac), c->id, c->id_len,
	    FIDO2_KEK_INFO, HW_KEK_LEN, ret);
}

static bool
fido2_has_extension(const fido_cbor_info_t *ci, const char *name)
{
	char *const *ext = fido_cbor_info_extensions_ptr(ci);
	size_t i, n = fido_cbor_info_extensions_len(ci);

	for (i = 0; i < n; i++)
		if (ext[i] != NULL && strcmp(ext[i], name) == 0)
			return true;
	return false;
}

/* The attestation statement, kept (lib/attest.h): packed with its
 * certificate, or flagged as self or none. */
static int
fido2_attestation(const fido_cred_t *cred, uint8_t **ret, size_t *ret_len)
{
	const char *fmt = fido_cred_fmt(cred);
	const uint8_t *x5c = fido_cred_x5c_ptr(cred);
	size_t x5clen = fido_cred_x5c_len(cred);

	return attest_fido2_blob(x5clen > 0             ? "fido2-packed" :
		fmt != NULL && strcmp(fmt, "none") == 0 ? "fido2-none" :
							  "fido2-self",
	    fido_cred_authdata_raw_ptr(cred), fido_cred_authdata_raw_len(cred),
	    FIDO2_RP_ID, fido_cred_type(cred), fido_cred_sig_ptr(cred),
	    fido_cred_sig_len(cred), &x5c, &x5clen, x5clen > 0 ? 1 : 0, ret,
	    ret_len);
}

/* Make the credential and check its attestation; fills c->id and c->pk,
 * and *ret_att with the statement. */
static int
fido2_make_cred(struct fido2_dev *d, const struct hw_enroll_args *a,
    const struct secret *pin, struct fido2_cred *c, char *aaguid_hex,
    size_t aaguid_hex_len, uint8_t **ret_att, size_t *ret_attlen,
    struct hw_status *st)
{
	fido_cred_t *cred = NULL;
	uint8_t cdh[FIDO2_CDH_LEN], user_id[FIDO2_USER_ID_LEN];
	bool builtin_uv = a->uv && pin == NULL;
	int r, rc;

	/* The attestation signs the challenge that names the recipient. */
	if (a->challenge != NULL)
		memcpy(cdh, a->challenge, sizeof(cdh));
	else
		randombytes_buf(cdh, sizeof(cdh));
	randombytes_buf(user_id, sizeof(user_id));
	if ((cred = fido_cred_new()) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	if ((rc = fido_cred_set_type(cred, COSE_ES256)) != FIDO_OK ||
	    (rc = fido_cred_set_clientdata_hash(cred, cdh, sizeof(cdh))) !=
		FIDO_OK ||
	    (rc = fido_cred_set_rp(cred, FIDO2_RP_ID, FIDO2_RP_ID)) !=
		FIDO_OK ||
	    (rc = fido_cred_set_user(cred, user_id, sizeof(user_id),
		 FIDO2_RP_ID, NULL, NULL)) != FIDO_OK ||
	    (rc = fido_cred_set_extensions(cred, FIDO_EXT_HMAC_SECRET)) !=
		FIDO_OK ||
	    (rc = fido_cred_set_rk(cred, FIDO_OPT_FALSE)) != FIDO_OK ||
	    (rc = fido_cred_set_uv(cred,
		 builtin_uv ? FIDO_OPT_TRUE : FIDO_OPT_OMIT)) != FIDO_OK) {
		r = fido2_map(d, rc, "makeCredential setup", st);
		goto out;
	}
	fido_dev_set_timeout(d->dev, d->touch_timeout_ms);
	fido2_io_begin(NULL);
	d->waiting_touch = true;
	d->touch_start_ms = fido2_io_now_ms();
	/* A CTAP 2.0 token with a PIN wants it for makeCredential even
	 * without UV; it does not change the hmac-secret of assertions. */
	rc = fido_dev_make_cred(
	    d->dev, cred, fido_dev_has_pin(d->dev) ? fido2_pin_arg(pin) : NULL);
	if (rc != FIDO_OK) {
		r = fido2_map(d, rc, "makeCredential", st);
		d->waiting_touch = false;
		fido2_abandon(d);
		goto out;
	}
	d->waiting_touch = false;

	rc = fido_cred_x5c_len(cred) > 0 ? fido_cred_verify(cred) :
					   fido_cred_verify_self(cred);
	if (rc != FIDO_OK) {
		log_debug("fido2: attestation (%s): %s",
		    fido_cred_fmt(cred) != NULL ? fido_cred_fmt(cred) : "?",
		    fido_strerr(rc));
		st->raw_rc = rc;
		hw_status_set(st, "the token's attestation does not verify");
		r = JIT_E_AUTH;
		goto out;
	}
	if ((fido_cred_flags(cred) & FIDO2_FLAG_UP) == 0 ||
	    (a->uv && (fido_cred_flags(cred) & FIDO2_FLAG_UV) == 0)) {
		hw_status_set(st, "the token made the credential without %s",
		    a->uv ? "user verification" : "a touch");
		r = JIT_E_AUTH;
		goto out;
	}
	if (fido_cred_type(cred) != COSE_ES256 ||
	    fido_cred_pubkey_len(cred) != FIDO2_PK_LEN ||
	    fido_cred_id_len(cred) == 0 ||
	    fido_cred_id_len(cred) > FIDO2_CRED_ID_MAX) {
		hw_status_set(st, "the token made an unusable credential");
		r = JIT_E_HW;
		goto out;
	}
	if ((c->id = malloc(fido_cred_id_len(cred))) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	c->id_len = fido_cred_id_len(cred);
	memcpy(c->id, fido_cred_id_ptr(cred), c->id_len);
	memcpy(c->pk, fido_cred_pubkey_ptr(cred), FIDO2_PK_LEN);
	if (fido_cred_aaguid_len(cred) == FIDO2_AAGUID_LEN)
		sodium_bin2hex(aaguid_hex, aaguid_hex_len,
		    fido_cred_aaguid_ptr(cred), FIDO2_AAGUID_LEN);
	if ((r = fido2_attestation(cred, ret_att, ret_attlen)) != JIT_OK)
		goto out;
	r = JIT_OK;
out:
	fido_cred_free(&cred);
	return r;
}

static int
fido2_backend_json(const struct fido2_cred *c, const char *aaguid_hex,
    const uint8_t *att, size_t attlen, struct json_object **ret)
{
	struct json_object *o;
	int r;

	if ((o = json_object_new_object()) == NULL)
		return JIT_E_NOMEM;
	if ((r = jsonx_add_b64(o, "cred_id", c->id, c->id_len)) != JIT_OK ||
	    (r = jsonx_add_b64(o, "pubkey", c->pk, sizeof(c->pk))) != JIT_OK ||
	    (r = jsonx_add_b64(o, "salt", c->salt, sizeof(c->salt))) !=
		JIT_OK ||
	    (r = jsonx_add_str(o, "rp_id", FIDO2_RP_ID)) != JIT_OK ||
	    (r = jsonx_add_str(o, "aaguid", aaguid_hex)) != JIT_OK ||
	    (r = jsonx_add_b64(o, "attestation", att, attlen)) != JIT_OK) {
		json_object_put(o);
		return r;
	}
	*ret = o;
	return JIT_OK;
}

static int
fido2_enroll(const struct hw_enroll_args *a, struct json_object **ret_backend,
    bool *ret_simulated, struct secret **ret_kek, struct hw_status *st)
{
	struct hw_status scratch = { .retries = -1 };
	struct fido2_dev *d = NULL;
	struct fido2_cred c;
	fido_cbor_info_t *ci = NULL;
	struct secret *pin = NULL, *hmac = NULL, *kek = NULL;
	struct json_object *backend = NULL;
	char aaguid_hex[FIDO2_AAGUID_LEN * 2 + 1] = "";
	char where[FIDO2_MSG_NAME_MAX];
	uint8_t *att = NULL;
	size_t attlen = 0;
	int r, rc;

	memset(&c, 0, sizeof(c));
	if (st == NULL)
		st = &scratch;
	pthread_once(&fido2_once, fido2_init_once);
	if (a == NULL) {
		r = JIT_E_ARG;
		goto out;
	}
	if (a->device != NULL && strlen(a->device) > HW_DEVICE_MAX) {
		hw_status_set(st, "the device name is too long");
		r = JIT_E_LIMIT;
		goto out;
	}
	if (fido2_io_is_simulated(a->device) && !a->allow_simulated) {
		log_escape(a->device, strlen(a->device), where, sizeof(where));
		hw_status_set(st,
		    "%s is a simulated token: enroll it with --allow-simulated, for tests only",
		    where);
		r = JIT_E_SIMULATED;
		goto out;
	}
	if (a->pin != NULL && (r = fido2_pin_cstr(a->pin, &pin, st)) != JIT_OK)
		goto out;
	if ((r = fido2_dev_open_enroll(
		 a->device, a->label, a->touch_timeout_ms, &d, st)) != JIT_OK)
		goto out;

	if ((ci = fido_cbor_info_new()) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	fido2_io_begin(NULL);
	if ((rc = fido_dev_get_cbor_info(d->dev, ci)) != FIDO_OK) {
		r = fido2_map(d, rc, "getInfo", st);
		goto out;
	}
	if (!fido2_has_extension(ci, "hmac-secret")) {
		hw_status_set(st, "%s has no hmac-secret extension", d->path);
		r = JIT_E_UNSUPPORTED;
		goto out;
	}
	if (a->uv && pin == NULL && !fido_dev_has_uv(d->dev)) {
		if (fido_dev_has_pin(d->dev)) {
			hw_status_set(
			    st, "user verification needs the token's PIN");
			r = JIT_E_PIN_REQUIRED;
		} else {
			hw_status_set(st,
			    "the token has no PIN: set one first (fido2-token -S) or enroll without UV");
			r = JIT_E_UNSUPPORTED;
		}
		goto out;
	}
	if (aaguid_hex[0] == '\0' &&
	    fido_cbor_info_aaguid_len(ci) == FIDO2_AAGUID_LEN)
		sodium_bin2hex(aaguid_hex, sizeof(aaguid_hex),
		    fido_cbor_info_aaguid_ptr(ci), FIDO2_AAGUID_LEN);

	if ((r = fido2_make_cred(d, a, pin, &c, aaguid_hex, sizeof(aaguid_hex),
		 &att, &attlen, st)) != JIT_OK)
		goto out;
	randombytes_buf(c.salt, sizeof(c.salt));
	/* The second touch: the KEK comes from the same operation that
	 * derive will repeat, with the same UV mode. */
	if ((r = fido2_touch(d, &c, a->uv, pin, NULL, &hmac, st)) != JIT_OK ||
	    (r = fido2_kek(hmac, &c, &kek)) != JIT_OK ||
	    (r = fido2_backend_json(&c, aaguid_hex, att, attlen, &backend)) !=
		JIT_OK)
		goto out;
	log_debug("fido2: enrolled a credential on %s", d->path);

	*ret_backend = backend;
	backend = NULL;
	*ret_simulated = d->simulated;
	*ret_kek = kek;
	kek = NULL;
	r = JIT_OK;
out:
	if (backend != NULL)
		json_object_put(backend);
	fido_cbor_info_free(&ci);
	fido2_dev_free(d);
	secret_free(pin);
	secret_free(hmac);
	secret_free(kek);
	free(att);
	free(c.id);
	return r;
}

static int
fido2_cred_from_json(
    struct json_object *o, struct fido2_cred *c, struct hw_status *st)
{
	const char *rp_id;
	int r;

	if (o == NULL) {
		r = JIT_E_FORMAT;
		goto out;
	}
	if ((r = jsonx_get_b64(o, "cred_id", FIDO2_CRED_ID_MAX, &c->id,
		 &c->id_len)) != JIT_OK ||
	    (r = jsonx_get_b64_fixed(o, "pubkey", c->pk, sizeof(c->pk))) !=
		JIT_OK ||
	    (r = jsonx_get_b64_fixed(o, "salt", c->salt, sizeof(c->salt))) !=
		JIT_OK ||
	    (r = jsonx_get_str(o, "rp_id", 64, &rp_id)) != JIT_OK)
		goto out;
	if (c->id_len == 0 || strcmp(rp_id, FIDO2_RP_ID) != 0)
		r = JIT_E_FORMAT;
out:
	if (r != JIT_OK)
		hw_status_set(st, "the token's enrollment record is damaged");
	return r;
}

/* Open a device and ask whether it holds the credential. */
static int
fido2_try(const char *path, const struct hw_token *t,
    const struct fido2_cred *c, const struct hw_auth *auth,
    struct fido2_dev **ret, enum fido2_preflight *ret_pf, struct hw_status *st)
{
	struct fido2_dev *d = NULL;
	enum fido2_preflight pf = FIDO2_UNKNOWN;
	int r;

	if ((r = fido2_dev_open(path, t->label, auth->touch_timeout_ms,
		 auth->cancel, &d, st)) != JIT_OK ||
	    (r = fido2_preflight(d, c, auth->cancel, &pf)) != JIT_OK)
		goto out;
	*ret = d;
	d = NULL;
	*ret_pf = pf;
out:
	fido2_dev_free(d);
	return r;
}

/*
 * Find the token that holds our credential: the device named at enrollment
 * first, then every FIDO device present, since hidraw numbers change when
 * tokens are plugged in again.  Only devices that libfido2 lists as FIDO
 * are opened: an old hidraw path may now be a keyboard.
 */
static int
fido2_find(const struct hw_token *t, const struct fido2_cred *c,
    const struct hw_auth *auth, struct fido2_dev **ret, struct hw_status *st)
{
	fido_dev_info_t *list = NULL;
	struct fido2_dev *d = NULL, *fallback = NULL;
	struct hw_status quiet = { .retries = -1 };
	enum fido2_preflight pf = FIDO2_UNKNOWN;
	const char *path;
	char label[FIDO2_MSG_NAME_MAX] = "the enrolled token";
	size_t n = 0, i;
	bool seen = false, named;
	int r, pass, named_r = JIT_OK;

	if (t->label != NULL)
		log_escape(t->label, strlen(t->label), label, sizeof(label));
	/* A simulator is only ever where it was enrolled. */
	if (fido2_io_is_simulated(t->device)) {
		if ((r = fido2_try(t->device, t, c, auth, &d, &pf, st)) !=
		    JIT_OK)
			goto out;
		if (pf != FIDO2_NOT_HERE)
			goto found;
		hw_status_set(st, "the token plugged in is not %s", label);
		r = JIT_E_WRONG_TOKEN;
		goto out;
	}

	if ((r = fido2_manifest(&list, &n, st)) != JIT_OK)
		goto out;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			if ((path = fido_dev_info_path(
				 fido_dev_info_ptr(list, i))) == NULL)
				continue;
			named = t->device != NULL &&
			    strcmp(path, t->device) == 0;
			if (named != (pass == 0))
				continue;
			quiet.msg[0] = '\0';
			r = fido2_try(
			    path, t, c, auth, &d, &pf, named ? st : &quiet);
			if (r == JIT_E_CANCELLED || r == JIT_E_NOMEM)
				goto out;
			if (r != JIT_OK) {
				if (named)
					named_r = r;
				continue;
			}
			seen = true;
			if (pf == FIDO2_HOLDS)
				goto found;
			if (pf == FIDO2_UNKNOWN && fallback == NULL) {
				fallback = d;
				d = NULL;
			}
			fido2_dev_free(d);
			d = NULL;
		}
	}
	if (fallback != NULL) {
		d = fallback;
		fallback = NULL;
		goto found;
	}
	if (!seen && (named_r == JIT_E_BUSY || named_r == JIT_E_IO)) {
		r = named_r; /* the named token is there but not ours to use */
		goto out;
	}
	st->msg[0] = '\0';
	if (seen) {
		hw_status_set(st, "the token plugged in is not %s", label);
		r = JIT_E_WRONG_TOKEN;
	} else {
		hw_status_set(
		    st, "no FIDO2 token is plugged in: insert %s", label);
		r = JIT_E_NODEV;
	}
	goto out;
found:
	st->msg[0] = '\0';
	*ret = d;
	d = NULL;
	r = JIT_OK;
out:
	fido_dev_info_free(&list, FIDO2_DEVICES_MAX);
	fido2_dev_free(d);
	fido2_dev_free(fallback);
	return r;
}

static int
fido2_derive(const struct hw_token *t, const struct hw_auth *auth,
    struct secret **ret_kek, struct hw_status *st)
{
	struct hw_status scratch = { .retries = -1 };
	struct hw_auth noauth = { .pin = NULL };
	struct fido2_dev *d = NULL;
	struct fido2_cred c;
	struct secret *pin = NULL, *hmac = NULL, *kek = NULL;
	int r;

	memset(&c, 0, sizeof(c));
	if (st == NULL)
		st = &scratch;
	if (auth == NULL)
		auth = &noauth;
	pthread_once(&fido2_once, fido2_init_once);
	if (t == NULL) {
		r = JIT_E_ARG;
		goto out;
	}
	if ((r = fido2_cred_from_json(t->backend, &c, st)) != JIT_OK)
		goto out;
	if (fido2_io_is_simulated(t->device) && !t->simulated) {
		hw_status_set(st,
		    "a token enrolled as real hardware now names a simulator: refused");
		r = JIT_E_SIMULATED;
		goto out;
	}
	/* The PIN only when the enrollment used UV: with UV the token gives
	 * a different hmac-secret, so the KEK would not match. */
	if (t->uv && auth->pin != NULL &&
	    (r = fido2_pin_cstr(auth->pin, &pin, st)) != JIT_OK)
		goto out;
	if ((r = fido2_find(t, &c, auth, &d, st)) != JIT_OK)
		goto out;
	if (t->uv && pin == NULL && !fido_dev_has_uv(d->dev) &&
	    fido_dev_has_pin(d->dev)) {
		hw_status_set(st, "%s needs its PIN",
		    d->label[0] != '\0' ? d->label : "the token");
		r = JIT_E_PIN_REQUIRED;
		goto out;
	}
	if ((r = fido2_touch(d, &c, t->uv, pin, auth->cancel, &hmac, st)) !=
		JIT_OK ||
	    (r = fido2_kek(hmac, &c, &kek)) != JIT_OK)
		goto out;
	*ret_kek = kek;
	kek = NULL;
	r = JIT_OK;
out:
	fido2_dev_free(d);
	secret_free(pin);
	secret_free(hmac);
	secret_free(kek);
	free(c.id);
	return r;
}

/* Present: a simulator answers on its socket; otherwise some FIDO device
 * is plugged in (which one holds the credential takes an assertion). */
static int
fido2_probe(const struct hw_token *t, struct hw_status *st)
{
	fido_dev_info_t *list = NULL;
	struct fido2_dev *d = NULL;
	char label[FIDO2_MSG_NAME_MAX] = "the enrolled token";
	size_t n = 0;
	int r;

	pthread_once(&fido2_once, fido2_init_once);
	if (t->device != NULL && fido2_io_is_simulated(t->device)) {
		r = fido2_dev_open(t->device, t->label, 0, NULL, &d, st);
		fido2_dev_free(d);
		return r == JIT_OK ? JIT_OK : JIT_E_NODEV;
	}
	if ((r = fido2_manifest(&list, &n, st)) == JIT_OK && n == 0) {
		if (t->label != NULL)
			log_escape(
			    t->label, strlen(t->label), label, sizeof(label));
		hw_status_set(
		    st, "no FIDO2 token is plugged in: insert %s", label);
		r = JIT_E_NODEV;
	}
	fido_dev_info_free(&list, FIDO2_DEVICES_MAX);
	return r == JIT_OK ? JIT_OK : JIT_E_NODEV;
}

/* Every assertion asks for user presence (fido2_derive). */
static bool
fido2_wants_touch(const struct hw_token *t)
{
	(void)t;
	return true;
}

const struct hw_backend hw_fido2 = {
	.type = "fido2",
	.enroll = fido2_enroll,
	.derive = fido2_derive,
	.probe = fido2_probe,
	.wants_touch = fido2_wants_touch,
};
