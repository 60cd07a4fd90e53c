/* The TPM 2.0 backend: a PIN-guarded P-256 key whose ECDH gives the KEK. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "attest.h"
#include "err.h"
#include "hw.h"
#include "jsonx.h"
#include "log.h"
#include "seal.h"
#include "secret.h"
#include "wire.h"

/*
 * Enrollment makes, under the storage primary key (SRK: the standard ECC
 * template, recreated from the owner seed each time; its name is kept and
 * checked at every use), an ECC P-256 decrypt key whose only authorisation
 * is PolicyAuthValue: the PIN, proven by a session HMAC, never sent.  In
 * software, an ephemeral P-256 key does ECDH with the TPM key's public
 * point; the ephemeral secret is dropped and its public point (epk) kept.
 * Later ECDH_ZGen(tpm key, epk) in the TPM gives the same shared point, so
 *	KEK = HKDF-SHA256(Z, salt = epk || tpm point, info = TPM2_KEK_INFO)
 * can be recomputed only by this TPM, with the PIN, under its
 * dictionary-attack protection.  Every session that carries the PIN's
 * proof or Z is salted with the SRK and encrypts its parameters.
 *
 * The PIN is hashed (SHA-256) into the key's authValue: a TPM caps
 * authValue at the size of the name algorithm's digest and drops trailing
 * zero bytes, so a raw PIN would be limited to 32 bytes.
 */

#define TPM2_DEFAULT_DEVICE "device:/dev/tpmrm0"
#define TPM2_KEK_INFO "jit-agent tpm2 kek v1"
#define TPM2_PIN_MAX 256 /* bytes; the PIN is hashed */
/* A new PIN's minimum (an enrolled key's PIN is taken as it is): the TPM
 * counts wrong guesses, but a 1-character PIN falls in a few. */
#define TPM2_PIN_MIN HW_TPM2_PIN_MIN
#define TPM2_COORD_LEN 32 /* a P-256 coordinate */
/* A P-256 point, SEC1 uncompressed: 04 || x || y. */
#define TPM2_POINT_LEN (1 + 2 * TPM2_COORD_LEN)
#define TPM2_AUTH_LEN crypto_hash_sha256_BYTES
/* Where systemd-tpm2-setup and the TCG guidance keep the SRK. */
#define TPM2_SRK_PERSISTENT 0x81000001u

/* The ECDH key's attributes: usable only through its policy. */
#define TPM2_KEY_ATTRS \
	(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | \
	    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_DECRYPT)

/* What was being done when the TPM answered, to read its codes right. */
enum tpm2_step {
	TPM2_STEP_CONNECT, /* loading the TCTI, starting ESYS */
	TPM2_STEP_PRIMARY, /* CreatePrimary under the owner hierarchy */
	TPM2_STEP_CREATE, /* Create of the ECDH key */
	TPM2_STEP_LOAD, /* Load of the stored key */
	TPM2_STEP_PIN, /* ECDH_ZGen, authorised by the PIN */
	TPM2_STEP_OTHER,
};

static const char *const tpm2_step_name[] = {
	[TPM2_STEP_CONNECT] = "connect",
	[TPM2_STEP_PRIMARY] = "CreatePrimary",
	[TPM2_STEP_CREATE] = "Create",
	[TPM2_STEP_LOAD] = "Load",
	[TPM2_STEP_PIN] = "ECDH_ZGen",
	[TPM2_STEP_OTHER] = "session",
};

struct tpm2_conn {
	const char *device;
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR primary;
	bool persistent; /* primary: close, not flush */
};

#define TPM2_CONN_INIT \
	{ \
		.device = NULL, .tcti = NULL, .esys = NULL, \
		.primary = ESYS_TR_NONE, .persistent = false \
	}

/* The dictionary-attack state (TPM2_PT_LOCKOUT_*), in tries and seconds. */
struct tpm2_da {
	uint32_t counter;
	uint32_t max_tries;
	uint32_t interval;
	uint32_t recovery;
};

static const TPMT_SYM_DEF tpm2_session_sym = {
	.algorithm = TPM2_ALG_AES,
	.keyBits.aes = 128,
	.mode.aes = TPM2_ALG_CFB,
};

/* The TPM's own code, without layer and handle/session/parameter number. */
static TSS2_RC
tpm2_rc_base(TSS2_RC rc)
{
	rc &= ~TSS2_RC_LAYER_MASK;
	if ((rc & TPM2_RC_FMT1) != 0)
		rc &= ~(TPM2_RC_N_MASK | TPM2_RC_P);
	return rc;
}

static int
tpm2_get_da(ESYS_CONTEXT *esys, struct tpm2_da *ret)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	struct tpm2_da da;
	unsigned int found = 0;
	uint32_t i;
	TSS2_RC rc;

	if (esys == NULL)
		return JIT_E_HW;
	rc = Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	    TPM2_CAP_TPM_PROPERTIES, TPM2_PT_LOCKOUT_COUNTER, 4, &more, &cap);
	if (rc != TSS2_RC_SUCCESS) {
		log_debug("tpm2: reading the lockout state failed: %s",
		    Tss2_RC_Decode(rc));
		return JIT_E_HW;
	}
	memset(&da, 0, sizeof(da));
	for (i = 0;
	     i < cap->data.tpmProperties.count && i < TPM2_MAX_TPM_PROPERTIES;
	     i++) {
		const TPMS_TAGGED_PROPERTY *p =
		    &cap->data.tpmProperties.tpmProperty[i];

		switch (p->property) {
		case TPM2_PT_LOCKOUT_COUNTER:
			da.counter = p->value;
			found |= 1;
			break;
		case TPM2_PT_MAX_AUTH_FAIL:
			da.max_tries = p->value;
			found |= 2;
			break;
		case TPM2_PT_LOCKOUT_INTERVAL:
			da.interval = p->value;
			found |= 4;
			break;
		case TPM2_PT_LOCKOUT_RECOVERY:
			da.recovery = p->value;
			found |= 8;
			break;
		default: break;
		}
	}
	Esys_Free(cap);
	if (found != 15)
		return JIT_E_HW;
	*ret = da;
	return JIT_OK;
}

/* When a locked-out TPM lets the PIN be tried again, for a sentence. */
static void
tpm2_lockout_wait(const struct tpm2_da *da, char *buf, size_t len)
{
	uint32_t secs = da->interval;

	/* The TPM forgets one failure per interval; 0: it never does. */
	if (secs == 0)
		snprintf(buf, len, "only once an admin clears it");
	else if (secs < 120)
		snprintf(
		    buf, len, "within %u second%s", secs, secs == 1 ? "" : "s");
	else if (secs < 2 * 3600)
		snprintf(buf, len, "within %u minutes", (secs + 59) / 60);
	else if (secs < 2 * 86400)
		snprintf(buf, len, "within %u hours", (secs + 3599) / 3600);
	else
		snprintf(buf, len, "within %u days", (secs + 86399) / 86400);
}

/*
 * The one mapping from TSS2_RC onto err.h.  The raw code goes to the log
 * and st->raw_rc; the user gets a sentence.  An authorisation failure is a
 * wrong PIN only for the command the PIN authorises.
 */
static int
tpm2_error(ESYS_CONTEXT *esys, const char *device, enum tpm2_step step,
    TSS2_RC rc, struct hw_status *st)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK, base = tpm2_rc_base(rc);
	bool from_tpm = layer == TSS2_TPM_RC_LAYER ||
	    layer == TSS2_RESMGR_TPM_RC_LAYER;
	struct tpm2_da da;
	char wait[48];
	int retries;

	log_debug("tpm2: %s at %s failed: 0x%08x (%s)", tpm2_step_name[step],
	    device, (unsigned int)rc, Tss2_RC_Decode(rc));
	st->raw_rc = (long)rc;

	if (step == TPM2_STEP_CONNECT || layer == TSS2_TCTI_RC_LAYER ||
	    (!from_tpm &&
		(base == TSS2_BASE_RC_IO_ERROR ||
		    base == TSS2_BASE_RC_NO_CONNECTION))) {
		hw_status_set(st, "no TPM at %s: %s%s", device,
		    Tss2_RC_Decode(rc),
		    strncmp(device, "device:", 7) == 0 ?
			" (is there a TPM, and may this user open it? on Debian, join the tss group)" :
			"");
		return JIT_E_NODEV;
	}
	/* A command cut short (the TPM went away or hung in the middle)
	 * leaves ESAPI out of step: say that, not its state machine's words. */
	if (!from_tpm &&
	    (base == TSS2_BASE_RC_BAD_SEQUENCE ||
		base == TSS2_BASE_RC_TRY_AGAIN)) {
		hw_status_set(st,
		    "the TPM at %s stopped answering in the middle of a command: check that it is there, then try again",
		    device);
		return JIT_E_NODEV;
	}
	if (from_tpm && base == TPM2_RC_LOCKOUT) {
		if (tpm2_get_da(esys, &da) != 0)
			snprintf(wait, sizeof(wait), "after a while");
		else {
			tpm2_lockout_wait(&da, wait, sizeof(wait));
			log_debug(
			    "tpm2: lockout: %u/%u failures, one forgotten every %u s, lockout auth recovery %u s",
			    da.counter, da.max_tries, da.interval, da.recovery);
		}
		hw_status_set(st,
		    "the TPM is locked out after too many wrong PINs, counted for everything that uses this TPM (disk unlocking, other keys), and it refuses every PIN, the right one too; it takes one PIN again %s, as it forgets one failure per interval; an admin can clear it at once with 'tpm2_dictionarylockout --clear-lockout'",
		    wait);
		st->retries = 0;
		return JIT_E_PIN_BLOCKED;
	}
	if (from_tpm &&
	    (base == TPM2_RC_AUTH_FAIL || base == TPM2_RC_BAD_AUTH)) {
		if (step == TPM2_STEP_PRIMARY) {
			hw_status_set(st,
			    "the TPM at %s refused its owner hierarchy: it has an owner password, and jit-agent needs it empty to make its storage key (or, once enrolled, that key persistent at 0x81000001)",
			    device);
			return JIT_E_HW;
		}
		if (step != TPM2_STEP_PIN) {
			hw_status_set(st,
			    "the TPM at %s refused an authorisation: %s",
			    device, Tss2_RC_Decode(rc));
			return JIT_E_HW;
		}
		if (tpm2_get_da(esys, &da) != 0) {
			st->retries = -1;
			hw_status_set(st, "wrong PIN");
			return JIT_E_PIN;
		}
		retries = da.counter >= da.max_tries ?
		    0 :
		    (int)(da.max_tries - da.counter);
		st->retries = retries;
		if (retries == 0) {
			tpm2_lockout_wait(&da, wait, sizeof(wait));
			hw_status_set(st,
			    "wrong PIN: the TPM is now locked out, for everything that uses it (disk unlocking, other keys); it takes one PIN again %s, and a wrong one then locks it out again; an admin can clear it at once with 'tpm2_dictionarylockout --clear-lockout'",
			    wait);
		} else
			hw_status_set(st,
			    "wrong PIN: %d more wrong PIN%s the TPM out; the count is shared with everything that uses this TPM, and a correct PIN does not reset it (the TPM forgets one failure per interval)",
			    retries, retries == 1 ? " locks" : "s lock");
		return JIT_E_PIN;
	}
	if (from_tpm && step == TPM2_STEP_LOAD) {
		hw_status_set(st,
		    "the TPM at %s cannot load the enrolled key (%s): it is another TPM, its owner hierarchy was cleared, or the token file was altered",
		    device, Tss2_RC_Decode(rc));
		return JIT_E_WRONG_TOKEN;
	}
	if (from_tpm &&
	    (base == TPM2_RC_OBJECT_MEMORY || base == TPM2_RC_SESSION_MEMORY)) {
		hw_status_set(st,
		    "the TPM at %s has no free slots: use the kernel's resource manager (device:/dev/tpmrm0)",
		    device);
		return JIT_E_BUSY;
	}
	hw_status_set(
	    st, "the TPM at %s failed: %s", device, Tss2_RC_Decode(rc));
	return JIT_E_HW;
}

/* The SRK template of the TCG provisioning guidance (ECC P-256), which
 * tpm2-tools and systemd use too: same template, same key. */
static const TPM2B_PUBLIC tpm2_srk_template = {
	.publicArea = {
		.type = TPM2_ALG_ECC,
		.nameAlg = TPM2_ALG_SHA256,
		.objectAttributes = TPMA_OBJECT_FIXEDTPM |
		    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
		    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA |
		    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
		.parameters.eccDetail = {
			.symmetric = {
				.algorithm = TPM2_ALG_AES,
				.keyBits.aes = 128,
				.mode.aes = TPM2_ALG_CFB,
			},
			.scheme.scheme = TPM2_ALG_NULL,
			.curveID = TPM2_ECC_NIST_P256,
			.kdf.scheme = TPM2_ALG_NULL,
		},
	},
};

/* policyDigest after PolicyAuthValue: H(zeros || TPM_CC_PolicyAuthValue). */
static int
tpm2_policy_digest(TPM2B_DIGEST *ret)
{
	uint8_t buf[TPM2_SHA256_DIGEST_SIZE + sizeof(TPM2_CC)];
	size_t off = TPM2_SHA256_DIGEST_SIZE;

	memset(buf, 0, sizeof(buf));
	if (Tss2_MU_TPM2_CC_Marshal(TPM2_CC_PolicyAuthValue, buf, sizeof(buf),
		&off) != TSS2_RC_SUCCESS)
		return JIT_E_INTERNAL;
	ret->size = TPM2_SHA256_DIGEST_SIZE;
	crypto_hash_sha256(ret->buffer, buf, sizeof(buf));
	return JIT_OK;
}

static void
tpm2_key_template(const TPM2B_DIGEST *policy, TPM2B_PUBLIC *t)
{
	TPMS_ECC_PARMS *ecc = &t->publicArea.parameters.eccDetail;

	memset(t, 0, sizeof(*t));
	t->publicArea.type = TPM2_ALG_ECC;
	t->publicArea.nameAlg = TPM2_ALG_SHA256;
	t->publicArea.objectAttributes = TPM2_KEY_ATTRS;
	t->publicArea.authPolicy = *policy;
	ecc->symmetric.algorithm = TPM2_ALG_NULL;
	ecc->scheme.scheme = TPM2_ALG_ECDH;
	ecc->scheme.details.ecdh.hashAlg = TPM2_ALG_SHA256;
	ecc->curveID = TPM2_ECC_NIST_P256;
	ecc->kdf.scheme = TPM2_ALG_NULL;
}

/* The key's authValue from the PIN, in guarded memory. */
static int
tpm2_pin_auth(
    const struct secret *pin, struct secret **ret, struct hw_status *st)
{
	struct secret *auth = NULL;
	int r;

	if (pin == NULL || secret_len(pin) == 0) {
		hw_status_set(st,
		    "a TPM token needs a PIN: it is the TPM key's only guard against whoever else uses this machine");
		return JIT_E_PIN_REQUIRED;
	}
	if (secret_len(pin) > TPM2_PIN_MAX) {
		hw_status_set(
		    st, "the PIN is longer than %d bytes", TPM2_PIN_MAX);
		return JIT_E_LIMIT;
	}
	if ((r = secret_new(TPM2_AUTH_LEN, &auth)) != 0)
		return r;
	crypto_hash_sha256(secret_ptr(auth), secret_ptr(pin), secret_len(pin));
	*ret = auth;
	return JIT_OK;
}

/* Hand the authValue to ESYS, as the TPM will store it (no trailing 0s). */
static TSS2_RC
tpm2_set_auth(ESYS_CONTEXT *esys, ESYS_TR tr, const struct secret *auth)
{
	TPM2B_AUTH a;
	TSS2_RC rc;

	memset(&a, 0, sizeof(a));
	if (auth != NULL) {
		memcpy(a.buffer, secret_ptr(auth), secret_len(auth));
		a.size = (UINT16)secret_len(auth);
		while (a.size > 0 && a.buffer[a.size - 1] == 0)
			a.size--;
	}
	/* With a zeroed TPM2B, ESYS's copy of the previous value is wiped. */
	rc = Esys_TR_SetAuth(esys, tr, &a);
	sodium_memzero(&a, sizeof(a));
	return rc;
}

static void
tpm2_flush(ESYS_CONTEXT *esys, ESYS_TR *tr)
{
	TSS2_RC rc;

	if (*tr == ESYS_TR_NONE)
		return;
	if ((rc = Esys_FlushContext(esys, *tr)) != TSS2_RC_SUCCESS) {
		log_debug(
		    "tpm2: flushing a handle failed: %s", Tss2_RC_Decode(rc));
		Esys_TR_Close(esys, tr);
	}
	*tr = ESYS_TR_NONE;
}

static void
tpm2_close(struct tpm2_conn *c)
{
	if (c->esys != NULL) {
		if (c->persistent)
			Esys_TR_Close(c->esys, &c->primary);
		else
			tpm2_flush(c->esys, &c->primary);
		Esys_Finalize(&c->esys);
	}
	if (c->tcti != NULL)
		Tss2_TctiLdr_Finalize(&c->tcti);
}

/* The SRK's name, as ESYS computes it from the public area it holds. */
static int
tpm2_primary_name(struct tpm2_conn *c, TPM2B_NAME *ret)
{
	TPM2B_NAME *name = NULL;

	if (Esys_TR_GetName(c->esys, c->primary, &name) != TSS2_RC_SUCCESS)
		return JIT_E_HW;
	*ret = *name;
	free(name);
	return JIT_OK;
}

static bool
tpm2_name_equal(const TPM2B_NAME *a, const TPM2B_NAME *b)
{
	return a->size == b->size && a->size <= sizeof(a->name) &&
	    memcmp(a->name, b->name, a->size) == 0;
}

/*
 * Use the persistent SRK if it is the very key the token was enrolled
 * under: no CreatePrimary (quicker, and it works when the owner hierarchy
 * has a password).  Any doubt falls back to CreatePrimary.
 */
static bool
tpm2_use_persistent(struct tpm2_conn *c, const TPM2B_NAME *want)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	TPM2B_NAME name;
	ESYS_TR tr = ESYS_TR_NONE;
	bool present;

	/* Ask first: ReadPublic of an absent handle makes ESYS log errors. */
	if (Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE,
		ESYS_TR_NONE, TPM2_CAP_HANDLES, TPM2_SRK_PERSISTENT, 1, &more,
		&cap) != TSS2_RC_SUCCESS)
		return false;
	present = cap->data.handles.count > 0 &&
	    cap->data.handles.handle[0] == TPM2_SRK_PERSISTENT;
	Esys_Free(cap);
	if (!present ||
	    Esys_TR_FromTPMPublic(c->esys, TPM2_SRK_PERSISTENT, ESYS_TR_NONE,
		ESYS_TR_NONE, ESYS_TR_NONE, &tr) != TSS2_RC_SUCCESS)
		return false;
	c->primary = tr;
	c->persistent = true;
	if (tpm2_primary_name(c, &name) != 0 || !tpm2_name_equal(&name, want)) {
		Esys_TR_Close(c->esys, &c->primary);
		c->primary = ESYS_TR_NONE;
		c->persistent = false;
		return false;
	}
	log_debug(
	    "tpm2: using the persistent SRK at 0x%08x", TPM2_SRK_PERSISTENT);
	return true;
}

/*
 * Connect, and get the storage primary key: recreated from the owner seed,
 * or, given the name it must have, the persistent one if that matches.
 * With a name, the SRK is checked before it salts any session: a TPM (or
 * an interposer on the bus) offering another key would learn the session
 * keys, and from them could test PINs offline.
 */
static int
tpm2_open(const char *device, const TPM2B_NAME *want, struct tpm2_conn *c,
    struct hw_status *st)
{
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_DATA outside;
	TPML_PCR_SELECTION pcrs;
	TPM2B_NAME name;
	TSS2_RC rc;
	int r;

	c->device = device;
	c->tcti = NULL;
	c->esys = NULL;
	c->primary = ESYS_TR_NONE;
	c->persistent = false;
	if ((rc = Tss2_TctiLdr_Initialize(device, &c->tcti)) !=
	    TSS2_RC_SUCCESS) {
		c->tcti = NULL;
		return tpm2_error(NULL, device, TPM2_STEP_CONNECT, rc, st);
	}
	if ((rc = Esys_Initialize(&c->esys, c->tcti, NULL)) !=
	    TSS2_RC_SUCCESS) {
		c->esys = NULL;
		return tpm2_error(NULL, device, TPM2_STEP_CONNECT, rc, st);
	}
	if (want != NULL && tpm2_use_persistent(c, want))
		return JIT_OK;
	memset(&sens, 0, sizeof(sens));
	memset(&outside, 0, sizeof(outside));
	memset(&pcrs, 0, sizeof(pcrs));
	if ((rc = Esys_CreatePrimary(c->esys, ESYS_TR_RH_OWNER,
		 ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
		 &tpm2_srk_template, &outside, &pcrs, &c->primary, NULL, NULL,
		 NULL, NULL)) != TSS2_RC_SUCCESS) {
		c->primary = ESYS_TR_NONE;
		return tpm2_error(c->esys, device, TPM2_STEP_PRIMARY, rc, st);
	}
	if (want != NULL) {
		if ((r = tpm2_primary_name(c, &name)) != 0)
			return r;
		if (!tpm2_name_equal(&name, want)) {
			hw_status_set(st,
			    "the TPM at %s is not the one this token was enrolled on (its storage key differs; was it cleared?)",
			    device);
			return JIT_E_WRONG_TOKEN;
		}
	}
	return JIT_OK;
}

/* A session salted with the SRK, encrypting the first parameter each way. */
static int
tpm2_session(struct tpm2_conn *c, TPM2_SE type, ESYS_TR bind,
    TPMA_SESSION attrs, ESYS_TR *ret, struct hw_status *st)
{
	ESYS_TR session = ESYS_TR_NONE;
	TSS2_RC rc;

	if ((rc = Esys_StartAuthSession(c->esys, c->primary, bind, ESYS_TR_NONE,
		 ESYS_TR_NONE, ESYS_TR_NONE, NULL, type, &tpm2_session_sym,
		 TPM2_ALG_SHA256, &session)) != TSS2_RC_SUCCESS)
		return tpm2_error(c->esys, c->device, TPM2_STEP_OTHER, rc, st);
	if ((rc = Esys_TRSess_SetAttributes(c->esys, session,
		 attrs | TPMA_SESSION_CONTINUESESSION, 0xff)) !=
	    TSS2_RC_SUCCESS) {
		tpm2_flush(c->esys, &session);
		return tpm2_error(c->esys, c->device, TPM2_STEP_OTHER, rc, st);
	}
	*ret = session;
	return JIT_OK;
}

/* Create the PIN-guarded ECDH key under the SRK. */
static int
tpm2_create_key(struct tpm2_conn *c, const struct secret *auth,
    TPM2B_PUBLIC **ret_pub, TPM2B_PRIVATE **ret_priv, struct hw_status *st)
{
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_PUBLIC *tmpl = NULL, *pub = NULL;
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_DIGEST policy;
	TPM2B_DATA outside;
	TPML_PCR_SELECTION pcrs;
	ESYS_TR session = ESYS_TR_NONE;
	TSS2_RC rc;
	int r;

	memset(&sens, 0, sizeof(sens));
	memset(&outside, 0, sizeof(outside));
	memset(&pcrs, 0, sizeof(pcrs));
	if ((tmpl = malloc(sizeof(*tmpl))) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	if ((r = tpm2_policy_digest(&policy)) != 0)
		goto out;
	tpm2_key_template(&policy, tmpl);
	/* The session's DECRYPT hides inSensitive (the PIN's hash). */
	if ((r = tpm2_session(c, TPM2_SE_HMAC, c->primary, TPMA_SESSION_DECRYPT,
		 &session, st)) != 0)
		goto out;
	memcpy(
	    sens.sensitive.userAuth.buffer, secret_ptr(auth), secret_len(auth));
	sens.sensitive.userAuth.size = (UINT16)secret_len(auth);
	while (sens.sensitive.userAuth.size > 0 &&
	    sens.sensitive.userAuth.buffer[sens.sensitive.userAuth.size - 1] ==
		0)
		sens.sensitive.userAuth.size--;
	if ((rc = Esys_Create(c->esys, c->primary, session, ESYS_TR_NONE,
		 ESYS_TR_NONE, &sens, tmpl, &outside, &pcrs, &priv, &pub, NULL,
		 NULL, NULL)) != TSS2_RC_SUCCESS) {
		r = tpm2_error(c->esys, c->device, TPM2_STEP_CREATE, rc, st);
		goto out;
	}
	*ret_pub = pub;
	*ret_priv = priv;
	pub = NULL;
	priv = NULL;
	r = JIT_OK;
out:
	sodium_memzero(&sens, sizeof(sens));
	tpm2_flush(c->esys, &session);
	free(tmpl);
	Esys_Free(pub);
	Esys_Free(priv);
	return r;
}

/* The key's public point, SEC1 uncompressed; refuse any other kind. */
static int
tpm2_public_point(const TPM2B_PUBLIC *pub, uint8_t out[TPM2_POINT_LEN])
{
	const TPMT_PUBLIC *p = &pub->publicArea;
	const TPMS_ECC_POINT *q = &p->unique.ecc;

	if (p->type != TPM2_ALG_ECC || p->nameAlg != TPM2_ALG_SHA256 ||
	    p->objectAttributes != TPM2_KEY_ATTRS ||
	    p->parameters.eccDetail.curveID != TPM2_ECC_NIST_P256 ||
	    q->x.size > TPM2_COORD_LEN || q->y.size > TPM2_COORD_LEN)
		return JIT_E_FORMAT;
	memset(out, 0, TPM2_POINT_LEN);
	out[0] = 0x04;
	memcpy(out + 1 + TPM2_COORD_LEN - q->x.size, q->x.buffer, q->x.size);
	memcpy(out + TPM2_POINT_LEN - q->y.size, q->y.buffer, q->y.size);
	return JIT_OK;
}

/* A stored SEC1 point, 0x04 || x || y, as the TPM takes it. */
static int
tpm2_point_read(const uint8_t epk[TPM2_POINT_LEN], TPMS_ECC_POINT *ret)
{
	struct wire_reader r;
	uint8_t form;

	memset(ret, 0, sizeof(*ret));
	wire_reader_init(&r, epk, TPM2_POINT_LEN);
	if (wire_get_u8(&r, &form) != 0 || form != 0x04 ||
	    wire_get_bytes(&r, ret->x.buffer, TPM2_COORD_LEN) != 0 ||
	    wire_get_bytes(&r, ret->y.buffer, TPM2_COORD_LEN) != 0 ||
	    wire_end(&r) != 0)
		return JIT_E_FORMAT;
	ret->x.size = TPM2_COORD_LEN;
	ret->y.size = TPM2_COORD_LEN;
	return JIT_OK;
}

/* A P-256 public key from a SEC1 point (OpenSSL checks it is on the curve). */
static int
tpm2_peer_key(const uint8_t point[TPM2_POINT_LEN], EVP_PKEY **ret)
{
	uint8_t pt[TPM2_POINT_LEN];
	char group[] = "P-256";
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *peer = NULL;
	int r = JIT_E_CRYPTO;

	memcpy(pt, point, sizeof(pt));
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(
	    OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt));
	params[2] = OSSL_PARAM_construct_end();
	if ((pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &peer, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	*ret = peer;
	peer = NULL;
	r = JIT_OK;
out:
	EVP_PKEY_free(peer);
	EVP_PKEY_CTX_free(pctx);
	return r;
}

/* Ephemeral-static ECDH in software: epk and Z; the ephemeral secret dies. */
static int
tpm2_soft_ecdh(const uint8_t tpm_point[TPM2_POINT_LEN],
    uint8_t ret_epk[TPM2_POINT_LEN], struct secret **ret_z)
{
	uint8_t epk[TPM2_POINT_LEN];
	EVP_PKEY *eph = NULL, *peer = NULL;
	EVP_PKEY_CTX *dctx = NULL;
	struct secret *z = NULL;
	size_t len;
	int r;

	if ((r = tpm2_peer_key(tpm_point, &peer)) != 0)
		goto out;
	r = JIT_E_CRYPTO;
	if ((eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    EVP_PKEY_get_octet_string_param(eph,
		OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, epk, sizeof(epk),
		&len) != 1 ||
	    len != sizeof(epk) || epk[0] != 0x04)
		goto out;
	if ((r = secret_new(TPM2_COORD_LEN, &z)) != 0)
		goto out;
	r = JIT_E_CRYPTO;
	len = TPM2_COORD_LEN;
	if ((dctx = EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL)) == NULL ||
	    EVP_PKEY_derive_init(dctx) != 1 ||
	    EVP_PKEY_derive_set_peer(dctx, peer) != 1 ||
	    EVP_PKEY_derive(dctx, secret_ptr(z), &len) != 1 ||
	    len != TPM2_COORD_LEN)
		goto out;
	memcpy(ret_epk, epk, sizeof(epk));
	*ret_z = z;
	z = NULL;
	r = JIT_OK;
out:
	secret_free(z);
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_free(eph); /* clears the ephemeral secret */
	EVP_PKEY_free(peer);
	return r;
}

static int
tpm2_kek(const struct secret *z, const uint8_t epk[TPM2_POINT_LEN],
    const uint8_t tpm_point[TPM2_POINT_LEN], struct secret **ret)
{
	uint8_t salt[2 * TPM2_POINT_LEN];

	memcpy(salt, epk, TPM2_POINT_LEN);
	memcpy(salt + TPM2_POINT_LEN, tpm_point, TPM2_POINT_LEN);
	return seal_hkdf(secret_ptr(z), secret_len(z), salt, sizeof(salt),
	    TPM2_KEK_INFO, HW_KEK_LEN, ret);
}

/*
 * Load the key, prove the PIN through PolicyAuthValue, and have the TPM
 * compute Z = x(d * epk).  One policy session, salted and encrypting both
 * ways: epk in, the shared point out.
 */
/* Load the stored key under the SRK, its authValue set for sessions. */
static int
tpm2_load_key(struct tpm2_conn *c, const TPM2B_PUBLIC *pub,
    const TPM2B_PRIVATE *priv, const struct secret *auth, ESYS_TR *ret,
    struct hw_status *st)
{
	ESYS_TR key = ESYS_TR_NONE;
	TSS2_RC rc;

	if ((rc = Esys_Load(c->esys, c->primary, ESYS_TR_PASSWORD, ESYS_TR_NONE,
		 ESYS_TR_NONE, priv, pub, &key)) != TSS2_RC_SUCCESS)
		return tpm2_error(c->esys, c->device, TPM2_STEP_LOAD, rc, st);
	if ((rc = tpm2_set_auth(c->esys, key, auth)) != TSS2_RC_SUCCESS) {
		tpm2_flush(c->esys, &key);
		return tpm2_error(c->esys, c->device, TPM2_STEP_OTHER, rc, st);
	}
	*ret = key;
	return JIT_OK;
}

static int
tpm2_zgen(struct tpm2_conn *c, const TPM2B_PUBLIC *pub,
    const TPM2B_PRIVATE *priv, const uint8_t epk[TPM2_POINT_LEN],
    const struct secret *auth, struct secret **ret_z, struct hw_status *st)
{
	ESYS_TR key = ESYS_TR_NONE, session = ESYS_TR_NONE;
	TPM2B_ECC_POINT in, *out = NULL;
	const TPM2B_ECC_PARAMETER *x;
	struct secret *z = NULL;
	TSS2_RC rc;
	int r;

	memset(&in, 0, sizeof(in));
	if ((r = tpm2_point_read(epk, &in.point)) != 0)
		goto out;
	if ((r = tpm2_load_key(c, pub, priv, auth, &key, st)) != 0)
		goto out;
	if ((r = tpm2_session(c, TPM2_SE_POLICY, ESYS_TR_NONE,
		 TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT, &session, st)) !=
	    0)
		goto out;
	if ((rc = Esys_PolicyAuthValue(c->esys, session, ESYS_TR_NONE,
		 ESYS_TR_NONE, ESYS_TR_NONE)) != TSS2_RC_SUCCESS) {
		r = tpm2_error(c->esys, c->device, TPM2_STEP_OTHER, rc, st);
		goto out;
	}
	if ((rc = Esys_ECDH_ZGen(c->esys, key, session, ESYS_TR_NONE,
		 ESYS_TR_NONE, &in, &out)) != TSS2_RC_SUCCESS) {
		out = NULL;
		r = tpm2_error(c->esys, c->device, TPM2_STEP_PIN, rc, st);
		goto out;
	}
	x = &out->point.x;
	if (x->size == 0 || x->size > TPM2_COORD_LEN) {
		hw_status_set(
		    st, "the TPM at %s returned a malformed point", c->device);
		r = JIT_E_HW;
		goto out;
	}
	if ((r = secret_new(TPM2_COORD_LEN, &z)) != 0)
		goto out;
	memcpy(secret_ptr(z) + TPM2_COORD_LEN - x->size, x->buffer, x->size);
	*ret_z = z;
	z = NULL;
	r = JIT_OK;
out:
	if (out != NULL) {
		sodium_memzero(out, sizeof(*out));
		Esys_Free(out);
	}
	secret_free(z);
	tpm2_flush(c->esys, &session);
	if (key != ESYS_TR_NONE) {
		tpm2_set_auth(c->esys, key, NULL);
		tpm2_flush(c->esys, &key);
	}
	return r;
}

/*
 * The TCTI string comes from the command line or a token file, and the
 * loader would dlopen any library it names ("/tmp/x.so:...") or run any
 * command ("cmd:..."): only TPM transports are let through.  "pcap:"
 * records the bus of the TCTI it wraps (for debugging and tests).
 */
static bool
tpm2_tcti_allowed(const char *device, int depth)
{
	static const char *const names[] = { "device", "swtpm", "mssim",
		"tabrmd", NULL };
	size_t i, n = strcspn(device, ":");

	if (depth < 1 && n == 4 && strncmp(device, "pcap", 4) == 0 &&
	    device[n] == ':')
		return tpm2_tcti_allowed(device + n + 1, depth + 1);
	for (i = 0; names[i] != NULL; i++)
		if (strlen(names[i]) == n && strncmp(device, names[i], n) == 0)
			return true;
	return false;
}

static int
tpm2_device(const char *given, const char **ret, struct hw_status *st)
{
	const char *device = given != NULL ? given : TPM2_DEFAULT_DEVICE;
	size_t len = strnlen(device, HW_DEVICE_MAX + 1);

	if (len == 0 || len > HW_DEVICE_MAX) {
		hw_status_set(st,
		    "the TPM device must be a TCTI string of 1 to %d bytes, such as %s",
		    HW_DEVICE_MAX, TPM2_DEFAULT_DEVICE);
		return JIT_E_ARG;
	}
	if (!tpm2_tcti_allowed(device, 0)) {
		hw_status_set(st,
		    "'%s' is not a TPM device jit-agent uses: give device:/dev/tpmrm0, swtpm:host=H,port=P, mssim:host=H,port=P or tabrmd:",
		    device);
		return JIT_E_ARG;
	}
	*ret = device;
	return JIT_OK;
}

/* The backend's public data, in base64: the key ("public", "private"),
 * "epk", and the name of the SRK it lives under ("srk"). */
static int
tpm2_backend_json(const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv,
    const uint8_t epk[TPM2_POINT_LEN], const TPM2B_NAME *srk,
    struct json_object **ret)
{
	struct json_object *o = NULL;
	uint8_t *buf = NULL;
	size_t publen = 0, privlen = 0;
	int r = JIT_E_NOMEM;

	if ((buf = malloc(sizeof(*pub) + sizeof(*priv))) == NULL ||
	    (o = json_object_new_object()) == NULL)
		goto out;
	r = JIT_E_INTERNAL;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(*pub), &publen) !=
		TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(
		priv, buf + publen, sizeof(*priv), &privlen) != TSS2_RC_SUCCESS)
		goto out;
	if ((r = jsonx_add_b64(o, "public", buf, publen)) != 0 ||
	    (r = jsonx_add_b64(o, "private", buf + publen, privlen)) != 0 ||
	    (r = jsonx_add_b64(o, "epk", epk, TPM2_POINT_LEN)) != 0 ||
	    (r = jsonx_add_b64(o, "srk", srk->name, srk->size)) != 0)
		goto out;
	*ret = o;
	o = NULL;
	r = JIT_OK;
out:
	json_object_put(o);
	free(buf);
	return r;
}

static int
tpm2_backend_parse(struct json_object *o, TPM2B_PUBLIC *pub,
    TPM2B_PRIVATE *priv, uint8_t epk[TPM2_POINT_LEN], TPM2B_NAME *srk)
{
	TPMS_ECC_POINT q;
	EVP_PKEY *point = NULL;
	uint8_t *buf = NULL;
	size_t len, off;
	int r;

	if (o == NULL || !json_object_is_type(o, json_type_object))
		return JIT_E_FORMAT;
	if ((r = jsonx_get_b64(o, "public", sizeof(*pub), &buf, &len)) != 0)
		goto out;
	off = 0;
	r = JIT_E_FORMAT;
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, pub) !=
		TSS2_RC_SUCCESS ||
	    off != len)
		goto out;
	free(buf);
	buf = NULL;
	if ((r = jsonx_get_b64(o, "private", sizeof(*priv), &buf, &len)) != 0)
		goto out;
	off = 0;
	r = JIT_E_FORMAT;
	if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(buf, len, &off, priv) !=
		TSS2_RC_SUCCESS ||
	    off != len)
		goto out;
	if ((r = jsonx_get_b64_fixed(o, "epk", epk, TPM2_POINT_LEN)) != 0)
		goto out;
	/* A point off the curve is refused here, not by the TPM. */
	if (tpm2_point_read(epk, &q) != 0 || tpm2_peer_key(epk, &point) != 0) {
		r = JIT_E_FORMAT;
		goto out;
	}
	free(buf);
	buf = NULL;
	if ((r = jsonx_get_b64(o, "srk", sizeof(srk->name), &buf, &len)) != 0)
		goto out;
	/* A name here is a hash algorithm and a digest. */
	if (len < 2 + TPM2_SHA256_DIGEST_SIZE) {
		r = JIT_E_FORMAT;
		goto out;
	}
	memcpy(srk->name, buf, len);
	srk->size = (UINT16)len;
	r = JIT_OK;
out:
	EVP_PKEY_free(point);
	free(buf);
	return r;
}

/* ---- attestation: the EK certificate and TPM2_Certify of the key ---- */

/* Where TPMs keep EK certificates (TCG EK Credential Profile): RSA 2048,
 * ECC P-256, ECC P-384 (high range). */
static const TPM2_HANDLE tpm2_ek_cert_indices[] = { 0x01c00002, 0x01c0000a,
	0x01c00016 };
#define TPM2_NV_CHUNK 512
#define TPM2_EK_CERT_MAX 4096

/* The first EK certificate the TPM holds (DER, malloc'd); JIT_E_NOENT if
 * it holds none. */
static int
tpm2_ek_cert(struct tpm2_conn *c, uint8_t **ret, size_t *ret_len)
{
	TPM2B_NV_PUBLIC *nvpub = NULL;
	TPM2B_MAX_NV_BUFFER *data = NULL;
	ESYS_TR nv = ESYS_TR_NONE;
	uint8_t *buf = NULL;
	size_t i, off, size;
	UINT16 n;
	int r = JIT_E_NOENT;

	for (i = 0;
	     i < sizeof(tpm2_ek_cert_indices) / sizeof(*tpm2_ek_cert_indices);
	     i++) {
		if (Esys_TR_FromTPMPublic(c->esys, tpm2_ek_cert_indices[i],
			ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
			&nv) != TSS2_RC_SUCCESS)
			continue;
		if (Esys_NV_ReadPublic(c->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE,
			ESYS_TR_NONE, &nvpub, NULL) != TSS2_RC_SUCCESS) {
			Esys_TR_Close(c->esys, &nv);
			continue;
		}
		size = nvpub->nvPublic.dataSize;
		Esys_Free(nvpub);
		nvpub = NULL;
		if (size == 0 || size > TPM2_EK_CERT_MAX ||
		    (buf = malloc(size)) == NULL) {
			Esys_TR_Close(c->esys, &nv);
			continue;
		}
		for (off = 0; off < size; off += n) {
			n = (UINT16)(size - off > TPM2_NV_CHUNK ?
				TPM2_NV_CHUNK :
				size - off);
			if (Esys_NV_Read(c->esys, nv, nv, ESYS_TR_PASSWORD,
				ESYS_TR_NONE, ESYS_TR_NONE, n, (UINT16)off,
				&data) != TSS2_RC_SUCCESS ||
			    data->size != n)
				break;
			memcpy(buf + off, data->buffer, n);
			Esys_Free(data);
			data = NULL;
		}
		Esys_Free(data);
		data = NULL;
		Esys_TR_Close(c->esys, &nv);
		if (off == size) {
			*ret = buf;
			*ret_len = size;
			return JIT_OK;
		}
		free(buf);
		buf = NULL;
	}
	return r;
}

/* An attestation key: a restricted ECDSA P-256 signing primary of the
 * endorsement hierarchy, made from the seed the EK comes from. */
static const TPM2B_PUBLIC tpm2_ak_template = {
	.publicArea = {
		.type = TPM2_ALG_ECC,
		.nameAlg = TPM2_ALG_SHA256,
		.objectAttributes = TPMA_OBJECT_FIXEDTPM |
		    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
		    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED |
		    TPMA_OBJECT_SIGN_ENCRYPT,
		.parameters.eccDetail = {
			.symmetric.algorithm = TPM2_ALG_NULL,
			.scheme = {
				.scheme = TPM2_ALG_ECDSA,
				.details.ecdsa.hashAlg = TPM2_ALG_SHA256,
			},
			.curveID = TPM2_ECC_NIST_P256,
			.kdf.scheme = TPM2_ALG_NULL,
		},
	},
};

/* Big-endian r || s, each left-padded to 32 bytes. */
static int
tpm2_sig_bytes(const TPMT_SIGNATURE *sig, uint8_t out[2 * TPM2_COORD_LEN])
{
	const TPM2B_ECC_PARAMETER *rr = &sig->signature.ecdsa.signatureR,
				  *ss = &sig->signature.ecdsa.signatureS;

	if (sig->sigAlg != TPM2_ALG_ECDSA || rr->size > TPM2_COORD_LEN ||
	    ss->size > TPM2_COORD_LEN)
		return JIT_E_HW;
	memset(out, 0, 2 * TPM2_COORD_LEN);
	memcpy(out + TPM2_COORD_LEN - rr->size, rr->buffer, rr->size);
	memcpy(out + 2 * TPM2_COORD_LEN - ss->size, ss->buffer, ss->size);
	return JIT_OK;
}

/*
 * The statement for lib/attest.h: TPM2_Certify of the wrapping key by the
 * AK over the challenge, and the EK certificate.  A TPM without an EK
 * certificate gives none (*ret stays NULL).  That the AK shares the EK's
 * TPM is vouched for by this machine (both are read in one connection);
 * docs/ADMIN.md says so.
 */
static int
tpm2_attest(struct tpm2_conn *c, const TPM2B_PUBLIC *pub,
    const TPM2B_PRIVATE *priv, const struct secret *auth,
    const uint8_t *challenge, uint8_t **ret, size_t *ret_len,
    struct hw_status *st)
{
	/* Nothing sensitive, nothing outside, no PCRs: kept off the stack,
	 * which enrollment's frame must not outgrow. */
	static const TPM2B_SENSITIVE_CREATE sens;
	static const TPM2B_DATA outside;
	static const TPML_PCR_SELECTION pcrs;
	ESYS_TR key = ESYS_TR_NONE, ak = ESYS_TR_NONE, session = ESYS_TR_NONE;
	TPM2B_DATA qualifying;
	TPMT_SIG_SCHEME scheme;
	TPM2B_PUBLIC *akpub = NULL;
	TPM2B_ATTEST *info = NULL;
	TPMT_SIGNATURE *sig = NULL;
	uint8_t *ek = NULL, sigb[2 * TPM2_COORD_LEN];
	uint8_t *akb = NULL, *keyb;
	size_t eklen = 0, aklen = 0, keylen = 0;
	const uint8_t *certs[1];
	size_t lens[1];
	TSS2_RC rc;
	int r;

	*ret = NULL;
	if (challenge == NULL ||
	    (r = tpm2_ek_cert(c, &ek, &eklen)) == JIT_E_NOENT) {
		log_debug("tpm2: no EK certificate in the TPM: no attestation");
		return JIT_OK;
	}
	if ((akb = malloc(2 * sizeof(TPMT_PUBLIC))) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	keyb = akb + sizeof(TPMT_PUBLIC);
	if ((rc = Esys_CreatePrimary(c->esys, ESYS_TR_RH_ENDORSEMENT,
		 ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
		 &tpm2_ak_template, &outside, &pcrs, &ak, &akpub, NULL, NULL,
		 NULL)) != TSS2_RC_SUCCESS) {
		ak = ESYS_TR_NONE;
		r = tpm2_error(c->esys, c->device, TPM2_STEP_PRIMARY, rc, st);
		goto out;
	}
	/* Certify wants the key's ADMIN role: its authValue (the PIN's
	 * hash), proven by a salted HMAC session, never sent. */
	if ((r = tpm2_load_key(c, pub, priv, auth, &key, st)) != 0)
		goto out;
	if ((r = tpm2_session(
		 c, TPM2_SE_HMAC, ESYS_TR_NONE, 0, &session, st)) != 0)
		goto out;
	memset(&qualifying, 0, sizeof(qualifying));
	qualifying.size = 32;
	memcpy(qualifying.buffer, challenge, 32);
	memset(&scheme, 0, sizeof(scheme));
	scheme.scheme = TPM2_ALG_NULL; /* the AK's own: ECDSA SHA-256 */
	if ((rc = Esys_Certify(c->esys, key, ak, session, ESYS_TR_PASSWORD,
		 ESYS_TR_NONE, &qualifying, &scheme, &info, &sig)) !=
	    TSS2_RC_SUCCESS) {
		r = tpm2_error(c->esys, c->device, TPM2_STEP_PIN, rc, st);
		goto out;
	}
	r = JIT_E_HW;
	if (tpm2_sig_bytes(sig, sigb) != 0 ||
	    Tss2_MU_TPMT_PUBLIC_Marshal(&akpub->publicArea, akb,
		sizeof(TPMT_PUBLIC), &aklen) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPMT_PUBLIC_Marshal(&pub->publicArea, keyb,
		sizeof(TPMT_PUBLIC), &keylen) != TSS2_RC_SUCCESS) {
		hw_status_set(st,
		    "the TPM at %s certified the key in a form this version does not read",
		    c->device);
		goto out;
	}
	certs[0] = ek;
	lens[0] = eklen;
	r = attest_tpm2_blob(info->attestationData, info->size, sigb,
	    sizeof(sigb), akb, aklen, keyb, keylen, certs, lens, 1, ret,
	    ret_len);
out:
	tpm2_flush(c->esys, &session);
	tpm2_flush(c->esys, &key);
	tpm2_flush(c->esys, &ak);
	Esys_Free(akpub);
	Esys_Free(info);
	Esys_Free(sig);
	free(ek);
	free(akb);
	return r;
}

static int
tpm2_enroll(const struct hw_enroll_args *a, struct json_object **ret_backend,
    bool *ret_simulated, struct secret **ret_kek, struct hw_status *st)
{
	struct tpm2_conn c = TPM2_CONN_INIT;
	struct secret *auth = NULL, *z = NULL, *kek = NULL, *check = NULL;
	uint8_t tpm_point[TPM2_POINT_LEN], epk[TPM2_POINT_LEN];
	TPM2B_NAME srk;
	TPM2B_PUBLIC *pub = NULL;
	TPM2B_PRIVATE *priv = NULL;
	struct json_object *o = NULL;
	const char *device;
	struct hw_status ast = { .retries = -1 };
	uint8_t *att = NULL;
	size_t attlen = 0;
	int r;

	if (a->pin != NULL && secret_len(a->pin) > 0 &&
	    secret_len(a->pin) < TPM2_PIN_MIN) {
		hw_status_set(st,
		    "a TPM PIN has at least %d characters: the TPM counts wrong PINs, but a short one falls to a few guesses",
		    TPM2_PIN_MIN);
		return JIT_E_ARG;
	}
	if ((r = tpm2_device(a->device, &device, st)) != 0 ||
	    (r = tpm2_pin_auth(a->pin, &auth, st)) != 0)
		goto out;
	if ((r = tpm2_open(device, NULL, &c, st)) != 0 ||
	    (r = tpm2_primary_name(&c, &srk)) != 0 ||
	    (r = tpm2_create_key(&c, auth, &pub, &priv, st)) != 0)
		goto out;
	if ((r = tpm2_public_point(pub, tpm_point)) != 0) {
		hw_status_set(st,
		    "the TPM at %s made a key of another kind than asked",
		    device);
		r = JIT_E_HW;
		goto out;
	}
	if ((r = tpm2_soft_ecdh(tpm_point, epk, &z)) != 0 ||
	    (r = tpm2_kek(z, epk, tpm_point, &kek)) != 0)
		goto out;
	secret_free(z);
	z = NULL;
	/* Prove now, not at the first unlock, that the PIN opens the key. */
	if ((r = tpm2_zgen(&c, pub, priv, epk, auth, &z, st)) != 0 ||
	    (r = tpm2_kek(z, epk, tpm_point, &check)) != 0)
		goto out;
	if (!secret_equal(kek, check)) {
		hw_status_set(st,
		    "the TPM at %s did not reproduce the key it was given: it cannot be used",
		    device);
		r = JIT_E_HW;
		goto out;
	}
	/* A TPM that cannot attest (an endorsement hierarchy with a
	 * password, say) still enrolls; [enroll] require_attestation then
	 * refuses it, saying it gave none. */
	if (tpm2_attest(
		&c, pub, priv, auth, a->challenge, &att, &attlen, &ast) != 0) {
		log_warn("tpm2: %s: enrolled without attestation: %s", device,
		    ast.msg[0] != '\0' ? ast.msg : "the TPM refused");
		free(att);
		att = NULL;
	}
	if ((r = tpm2_backend_json(pub, priv, epk, &srk, &o)) != 0)
		goto out;
	if (att != NULL &&
	    (r = jsonx_add_b64(o, "attestation", att, attlen)) != 0)
		goto out;
	log_debug("tpm2: enrolled a P-256 key at %s", device);
	*ret_backend = o;
	*ret_simulated = false;
	*ret_kek = kek;
	o = NULL;
	kek = NULL;
	r = JIT_OK;
out:
	json_object_put(o);
	secret_free(check);
	secret_free(kek);
	secret_free(z);
	secret_free(auth);
	Esys_Free(pub);
	Esys_Free(priv);
	free(att);
	tpm2_close(&c);
	return r;
}

static int
tpm2_derive(const struct hw_token *t, const struct hw_auth *auth,
    struct secret **ret_kek, struct hw_status *st)
{
	struct tpm2_conn c = TPM2_CONN_INIT;
	struct secret *pin_auth = NULL, *z = NULL, *kek = NULL;
	uint8_t tpm_point[TPM2_POINT_LEN], epk[TPM2_POINT_LEN];
	TPM2B_NAME srk;
	TPM2B_PUBLIC *pub = NULL;
	TPM2B_PRIVATE *priv = NULL;
	const char *device;
	int r;

	if ((r = tpm2_device(t->device, &device, st)) != 0 ||
	    (r = tpm2_pin_auth(
		 auth != NULL ? auth->pin : NULL, &pin_auth, st)) != 0)
		goto out;
	if ((pub = calloc(1, sizeof(*pub))) == NULL ||
	    (priv = calloc(1, sizeof(*priv))) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	if ((r = tpm2_backend_parse(t->backend, pub, priv, epk, &srk)) != 0 ||
	    (r = tpm2_public_point(pub, tpm_point)) != 0) {
		if (r == JIT_E_FORMAT)
			hw_status_set(st,
			    "the token's TPM data is malformed: enroll the token again");
		goto out;
	}
	if (auth->cancel != NULL && *auth->cancel != 0) {
		r = JIT_E_CANCELLED;
		goto out;
	}
	if ((r = tpm2_open(device, &srk, &c, st)) != 0 ||
	    (r = tpm2_zgen(&c, pub, priv, epk, pin_auth, &z, st)) != 0 ||
	    (r = tpm2_kek(z, epk, tpm_point, &kek)) != 0)
		goto out;
	log_debug("tpm2: derived the key of token %s at %s", t->id, device);
	*ret_kek = kek;
	kek = NULL;
	r = JIT_OK;
out:
	secret_free(kek);
	secret_free(z);
	secret_free(pin_auth);
	free(pub);
	free(priv);
	tpm2_close(&c);
	return r;
}

/* Present: its TCTI connects (the device opens, swtpm answers); no
 * command is sent, so nothing counts against the PIN. */
static int
tpm2_probe(const struct hw_token *t, struct hw_status *st)
{
	TSS2_TCTI_CONTEXT *tcti = NULL;
	const char *device;
	TSS2_RC rc;
	int r;

	if ((r = tpm2_device(t->device, &device, st)) != 0)
		return r;
	if ((rc = Tss2_TctiLdr_Initialize(device, &tcti)) != TSS2_RC_SUCCESS)
		return tpm2_error(NULL, device, TPM2_STEP_CONNECT, rc, st);
	Tss2_TctiLdr_Finalize(&tcti);
	return JIT_OK;
}

const struct hw_backend hw_tpm2 = {
	.type = "tpm2",
	.enroll = tpm2_enroll,
	.derive = tpm2_derive,
	.probe = tpm2_probe,
};
