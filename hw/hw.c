/* Backend dispatch and the X25519 identity layer every token shares. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "attest.h"
#include "config.h"
#include "err.h"
#include "hw.h"
#include "jsonx.h"
#include "seal.h"
#include "secret.h"

#define TOKEN_VERSION 1
#define ID_AD_LABEL "jit-agent identity v1"

static const struct hw_backend *const backends[] = {
#if HAVE_TPM2 && defined(JIT_HAVE_TPM2_SRC)
	&hw_tpm2,
#endif
#if HAVE_FIDO2 && defined(JIT_HAVE_FIDO2_SRC)
	&hw_fido2,
#endif
#if HAVE_PIV && defined(JIT_HAVE_PIV_SRC)
	&hw_piv,
#endif
	NULL
};

const struct hw_backend *
hw_backend_find(const char *type)
{
	size_t i;

	for (i = 0; backends[i] != NULL; i++)
		if (strcmp(backends[i]->type, type) == 0)
			return backends[i];
	return NULL;
}

const char *
hw_backend_list(void)
{
	static char list[64];
	size_t i;

	if (list[0] != '\0')
		return list;
	for (i = 0; backends[i] != NULL; i++) {
		if (i > 0)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
		strncat(
		    list, backends[i]->type, sizeof(list) - strlen(list) - 1);
	}
	return list;
}

void
hw_status_set(struct hw_status *st, const char *fmt, ...)
{
	va_list ap;

	if (st == NULL || st->msg[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
	va_end(ap);
}

/* The identity box is bound to the token it belongs to. */
static void
identity_ad(const struct hw_token *t, uint8_t *ad, size_t *adlen)
{
	size_t n = 0, l;

	memcpy(ad, ID_AD_LABEL, sizeof(ID_AD_LABEL));
	n += sizeof(ID_AD_LABEL);
	memcpy(ad + n, t->id, HW_ID_LEN);
	n += HW_ID_LEN;
	l = strlen(t->type);
	memcpy(ad + n, t->type, l + 1);
	n += l + 1;
	memcpy(ad + n, t->recipient, sizeof(t->recipient));
	n += sizeof(t->recipient);
	*adlen = n;
}

#define ID_AD_MAX (sizeof(ID_AD_LABEL) + HW_ID_LEN + 17 + 32)

static int
dup_str(const char *s, size_t max, char **ret)
{
	if (s == NULL || strlen(s) > max)
		return JIT_E_ARG;
	if ((*ret = strdup(s)) == NULL)
		return JIT_E_NOMEM;
	return JIT_OK;
}

static int
valid_label(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > HW_LABEL_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '-' || c == '_' ||
			c == '.'))
			return 0;
	}
	return 1;
}

bool
hw_device_simulated(const char *device)
{
	static const char *const prefixes[] = { "sim:", "swtpm", "mssim" };
	size_t i;

	for (i = 0; device != NULL && i < sizeof(prefixes) / sizeof(*prefixes);
	     i++)
		if (strncmp(device, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

/*
 * What the token attested, against the enrollment's policy: with roots,
 * a chain must lead to them; with require, a token without one is
 * refused.  The statement stays in the token's record either way.
 */
static int
hw_attestation_check(const struct hw_token *t, const struct hw_enroll_args *a,
    struct hw_status *st)
{
	struct attest_info ai;
	uint8_t *blob = NULL;
	size_t len = 0;
	char why[ATTEST_WHY_MAX];
	int r;

	if (a->attestation_roots == NULL && !a->require_attestation)
		return JIT_OK;
	r = jsonx_get_b64(t->backend, "attestation", ATTEST_MAX, &blob, &len);
	if (r == JIT_E_FORMAT && !a->require_attestation)
		return JIT_OK; /* none: only a chain given is checked */
	if (r != 0) {
		hw_status_set(st,
		    "token %s gave no attestation, and [enroll] require_attestation is on: it is not enrolled",
		    a->label);
		return JIT_E_AUTH;
	}
	r = attest_verify(blob, len, t->type, t->id, t->recipient,
	    a->attestation_roots, &ai, why, sizeof(why));
	free(blob);
	if (r != 0 && !a->require_attestation && !ai.chained && r == JIT_E_AUTH)
		return JIT_OK; /* self or none, and not required */
	if (r != 0) {
		hw_status_set(st,
		    "token %s's attestation (%s) is refused: %s; it is not enrolled",
		    a->label, ai.format[0] != '\0' ? ai.format : "?", why);
		return r == JIT_E_CONFIG ? JIT_E_CONFIG : JIT_E_AUTH;
	}
	return JIT_OK;
}

int
hw_enroll(const struct hw_enroll_args *a, struct hw_token **ret,
    struct secret **ret_sk, struct hw_status *st)
{
	const struct hw_backend *be;
	struct hw_token *t = NULL;
	struct secret *kek = NULL, *sk = NULL;
	uint8_t rnd[HW_ID_LEN / 2], ad[ID_AD_MAX], chal[ATTEST_CHALLENGE_LEN];
	struct hw_enroll_args ba;
	size_t adlen;
	bool simulated = false;
	int r;

	if (a->type == NULL || (be = hw_backend_find(a->type)) == NULL) {
		hw_status_set(st,
		    "unknown token type '%s' (this build has: %s)",
		    a->type ? a->type : "", hw_backend_list());
		return JIT_E_UNSUPPORTED;
	}
	if (a->label == NULL || !valid_label(a->label)) {
		hw_status_set(st,
		    "a label is 1 to %d letters, digits, '-', '_' or '.'",
		    HW_LABEL_MAX);
		return JIT_E_ARG;
	}
	if (a->device != NULL && strlen(a->device) > HW_DEVICE_MAX)
		return JIT_E_LIMIT;
	/* Refuse a simulator (a FIDO2 simulator, a software TPM) before it
	 * costs anyone a touch. */
	if (hw_device_simulated(a->device) && !a->allow_simulated)
		return JIT_E_SIMULATED;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return JIT_E_NOMEM;
	/* The id and the identity first: the token's attestation signs a
	 * challenge that names them (lib/attest.h). */
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(t->id, sizeof(t->id), rnd, sizeof(rnd));
	if ((r = seal_x25519_keypair(t->recipient, &sk)) != 0)
		goto out;
	attest_challenge(a->type, t->id, t->recipient, chal);
	ba = *a;
	ba.challenge = chal;
	if ((r = be->enroll(&ba, &t->backend, &simulated, &kek, st)) != 0)
		goto out;
	simulated = simulated || hw_device_simulated(a->device);
	if (simulated && !a->allow_simulated) {
		r = JIT_E_SIMULATED;
		goto out;
	}
	if (secret_len(kek) != HW_KEK_LEN) {
		r = JIT_E_INTERNAL;
		goto out;
	}
	if ((r = dup_str(a->label, HW_LABEL_MAX, &t->label)) != 0 ||
	    (r = dup_str(a->type, 16, &t->type)) != 0)
		goto out;
	if (a->device != NULL &&
	    (r = dup_str(a->device, HW_DEVICE_MAX, &t->device)) != 0)
		goto out;
	t->simulated = simulated;
	t->uv = a->uv;
	t->created = (int64_t)time(NULL);
	if ((r = hw_attestation_check(t, a, st)) != 0)
		goto out;
	identity_ad(t, ad, &adlen);
	randombytes_buf(t->id_nonce, sizeof(t->id_nonce));
	crypto_aead_xchacha20poly1305_ietf_encrypt(t->id_box, NULL,
	    secret_ptr(sk), secret_len(sk), ad, adlen, NULL, t->id_nonce,
	    secret_ptr(kek));
	*ret = t;
	t = NULL;
	if (ret_sk != NULL) {
		*ret_sk = sk;
		sk = NULL;
	}
	r = JIT_OK;
out:
	secret_free(kek);
	secret_free(sk);
	hw_token_free(t);
	return r;
}

bool
hw_token_present(const struct hw_token *t, struct hw_status *st)
{
	const struct hw_backend *be;

	if ((be = hw_backend_find(t->type)) == NULL)
		return false;
	return be->probe == NULL || be->probe(t, st) == JIT_OK;
}

bool
hw_token_wants_touch(const struct hw_token *t)
{
	const struct hw_backend *be;

	if ((be = hw_backend_find(t->type)) == NULL)
		return false;
	return be->wants_touch != NULL && be->wants_touch(t);
}

int
hw_open_identity(const struct hw_token *t, const struct hw_auth *auth,
    struct secret **ret_sk, struct hw_status *st)
{
	const struct hw_backend *be;
	struct secret *kek = NULL, *sk = NULL;
	uint8_t ad[ID_AD_MAX], pk[32];
	size_t adlen;
	int r;

	if ((be = hw_backend_find(t->type)) == NULL) {
		hw_status_set(st,
		    "token %s is of type %s, which this build does not have",
		    t->label, t->type);
		return JIT_E_UNSUPPORTED;
	}
	if ((r = be->derive(t, auth, &kek, st)) != 0)
		goto out;
	if (secret_len(kek) != HW_KEK_LEN) {
		r = JIT_E_INTERNAL;
		goto out;
	}
	if ((r = secret_new(32, &sk)) != 0)
		goto out;
	identity_ad(t, ad, &adlen);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(secret_ptr(sk), NULL,
		NULL, t->id_box, sizeof(t->id_box), ad, adlen, t->id_nonce,
		secret_ptr(kek)) != 0) {
		hw_status_set(st,
		    "token %s answered, but its key does not open this enrollment (wrong token, or the token file was altered)",
		    t->label);
		r = JIT_E_AUTH;
		goto out;
	}
	if (crypto_scalarmult_base(pk, secret_ptr(sk)) != 0 ||
	    sodium_memcmp(pk, t->recipient, sizeof(pk)) != 0) {
		r = JIT_E_AUTH;
		goto out;
	}
	*ret_sk = sk;
	sk = NULL;
	r = JIT_OK;
out:
	secret_free(kek);
	secret_free(sk);
	return r;
}

void
hw_token_free(struct hw_token *t)
{
	if (t == NULL)
		return;
	free(t->label);
	free(t->type);
	free(t->device);
	json_object_put(t->backend);
	free(t);
}

int
hw_token_from_json(struct json_object *o, struct hw_token **ret)
{
	struct hw_token *t;
	struct json_object *be;
	const char *id, *label, *type, *device = NULL;
	int64_t version;
	int r;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return JIT_E_NOMEM;
	if ((r = jsonx_get_int(
		 o, "version", TOKEN_VERSION, TOKEN_VERSION, &version)) != 0 ||
	    (r = jsonx_get_str(o, "id", HW_ID_LEN, &id)) != 0 ||
	    (r = jsonx_get_str(o, "label", HW_LABEL_MAX, &label)) != 0 ||
	    (r = jsonx_get_str(o, "type", 16, &type)) != 0 ||
	    (r = jsonx_get_bool(o, "simulated", &t->simulated)) != 0 ||
	    (r = jsonx_get_bool(o, "uv", &t->uv)) != 0 ||
	    (r = jsonx_get_int(o, "created", 0, INT64_MAX, &t->created)) != 0 ||
	    (r = jsonx_get_b64_fixed(
		 o, "recipient", t->recipient, sizeof(t->recipient))) != 0 ||
	    (r = jsonx_get_b64_fixed(
		 o, "identity_nonce", t->id_nonce, sizeof(t->id_nonce))) != 0 ||
	    (r = jsonx_get_b64_fixed(
		 o, "identity", t->id_box, sizeof(t->id_box))) != 0)
		goto out;
	r = jsonx_opt_str(o, "device", HW_DEVICE_MAX, &device);
	if (r != 0 && r != JIT_E_NOENT)
		goto out;
	if (strlen(id) != HW_ID_LEN ||
	    strspn(id, "0123456789abcdef") != HW_ID_LEN ||
	    !valid_label(label)) {
		r = JIT_E_FORMAT;
		goto out;
	}
	memcpy(t->id, id, HW_ID_LEN + 1);
	/* What the device string says wins over what the file says. */
	t->simulated = t->simulated || hw_device_simulated(device);
	if ((r = dup_str(label, HW_LABEL_MAX, &t->label)) != 0 ||
	    (r = dup_str(type, 16, &t->type)) != 0 ||
	    (device != NULL &&
		(r = dup_str(device, HW_DEVICE_MAX, &t->device)) != 0))
		goto out;
	if (!json_object_object_get_ex(o, "backend", &be) ||
	    !json_object_is_type(be, json_type_object)) {
		r = JIT_E_FORMAT;
		goto out;
	}
	t->backend = json_object_get(be);
	*ret = t;
	t = NULL;
	r = JIT_OK;
out:
	hw_token_free(t);
	return r;
}

int
hw_token_to_json(const struct hw_token *t, struct json_object **ret)
{
	struct json_object *o;
	int r;

	if ((o = json_object_new_object()) == NULL)
		return JIT_E_NOMEM;
	if ((r = jsonx_add_int(o, "version", TOKEN_VERSION)) != 0 ||
	    (r = jsonx_add_str(o, "id", t->id)) != 0 ||
	    (r = jsonx_add_str(o, "label", t->label)) != 0 ||
	    (r = jsonx_add_str(o, "type", t->type)) != 0 ||
	    (t->device != NULL &&
		(r = jsonx_add_str(o, "device", t->device)) != 0) ||
	    (r = jsonx_add_bool(o, "simulated", t->simulated)) != 0 ||
	    (r = jsonx_add_bool(o, "uv", t->uv)) != 0 ||
	    (r = jsonx_add_int(o, "created", t->created)) != 0 ||
	    (r = jsonx_add_b64(
		 o, "recipient", t->recipient, sizeof(t->recipient))) != 0 ||
	    (r = jsonx_add_b64(
		 o, "identity_nonce", t->id_nonce, sizeof(t->id_nonce))) != 0 ||
	    (r = jsonx_add_b64(o, "identity", t->id_box, sizeof(t->id_box))) !=
		0)
		goto out;
	if (json_object_object_add(o, "backend", json_object_get(t->backend)) !=
	    0) {
		r = JIT_E_NOMEM;
		goto out;
	}
	*ret = o;
	o = NULL;
	r = JIT_OK;
out:
	json_object_put(o);
	return r;
}

int
hw_token_dup(const struct hw_token *t, struct hw_token **ret)
{
	struct json_object *o = NULL;
	int r;

	if ((r = hw_token_to_json(t, &o)) == 0)
		r = hw_token_from_json(o, ret);
	json_object_put(o);
	return r;
}
