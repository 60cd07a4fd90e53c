/* CTAP2 commands: getInfo, makeCredential, getAssertion, reset, selection. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "sim.h"
#include "wire.h"

/* makeCredential request keys. */
#define MC_CDH 0x01
#define MC_RP 0x02
#define MC_USER 0x03
#define MC_PUBKEY_PARAMS 0x04
#define MC_EXCLUDE_LIST 0x05
#define MC_EXTENSIONS 0x06
#define MC_OPTIONS 0x07
#define MC_PIN_UV_AUTH_PARAM 0x08
#define MC_PIN_UV_PROTOCOL 0x09
#define MC_ENTERPRISE_ATT 0x0a
#define MC_NSLOTS 0x0b

/* getAssertion request keys. */
#define GA_RPID 0x01
#define GA_CDH 0x02
#define GA_ALLOW_LIST 0x03
#define GA_EXTENSIONS 0x04
#define GA_OPTIONS 0x05
#define GA_PIN_UV_AUTH_PARAM 0x06
#define GA_PIN_UV_PROTOCOL 0x07
#define GA_NSLOTS 0x08

/* hmac-secret getAssertion input keys. */
#define HS_KEY_AGREEMENT 0x01
#define HS_SALT_ENC 0x02
#define HS_SALT_AUTH 0x03
#define HS_PROTOCOL 0x04

/* authData flags. */
#define AD_FLAG_UP 0x01
#define AD_FLAG_UV 0x04
#define AD_FLAG_AT 0x40
#define AD_FLAG_ED 0x80

#define COSE_ALG_ES256 (-7)
#define SIM_MIN_PIN_LENGTH SIM_PIN_MIN_CODEPOINTS
#define USER_ID_MAX 64
#define AUTHDATA_MAX 512
#define COSE_KEY_MAX 128
#define EXT_OUT_MAX 128
#define HS_SALTS_MAX 64
#define HS_SALT_ENC_MAX (HS_SALTS_MAX + 16)

/*
 * A credential id is the credential itself, sealed so that only this
 * authenticator, for this RP, can open it (nothing is stored per
 * credential):
 *   version (1) || nonce (24) || XChaCha20-Poly1305(flags (1) || d (32))
 * under wrap_key (HKDF of the master secret), with version || rpIdHash as
 * associated data.  d is the P-256 private scalar.
 */
#define CRED_ID_VERSION 1
#define CRED_NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define CRED_PLAIN_LEN (1 + 32)
#define CRED_ID_LEN \
	(1 + CRED_NONCE_LEN + CRED_PLAIN_LEN + \
	    crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define CRED_AD_LEN (1 + 32)
#define CRED_FLAG_HMAC_SECRET 0x01

struct cred {
	uint8_t id[CRED_ID_LEN];
	uint8_t flags;
	EVP_PKEY *key;
};

static void
cred_clear(struct cred *c)
{
	EVP_PKEY_free(c->key);
	sodium_memzero(c, sizeof(*c));
}

static void
cred_ad(const uint8_t rpid_hash[32], uint8_t ad[CRED_AD_LEN])
{
	ad[0] = CRED_ID_VERSION;
	memcpy(ad + 1, rpid_hash, 32);
}

static uint8_t
cred_new(struct sim_dev *d, const uint8_t rpid_hash[32], uint8_t flags,
    struct cred *c)
{
	uint8_t plain[CRED_PLAIN_LEN], ad[CRED_AD_LEN];
	unsigned long long clen = 0;
	uint8_t st = CTAP1_ERR_OTHER;

	memset(c, 0, sizeof(*c));
	if (sc_p256_generate(&c->key) != 0 ||
	    sc_p256_priv(c->key, plain + 1) != 0)
		goto out;
	plain[0] = flags;
	c->flags = flags;
	cred_ad(rpid_hash, ad);
	c->id[0] = CRED_ID_VERSION;
	randombytes_buf(c->id + 1, CRED_NONCE_LEN);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(
		c->id + 1 + CRED_NONCE_LEN, &clen, plain, sizeof(plain), ad,
		sizeof(ad), NULL, c->id + 1, d->sec->wrap_key) != 0 ||
	    1 + CRED_NONCE_LEN + clen != CRED_ID_LEN)
		goto out;
	st = CTAP2_OK;
out:
	sodium_memzero(plain, sizeof(plain));
	if (st != CTAP2_OK)
		cred_clear(c);
	return st;
}

/* Open a credential id from the request; false if it is not ours or not
 * for this RP. */
static bool
cred_open(struct sim_dev *d, const uint8_t rpid_hash[32], const uint8_t *id,
    size_t len, struct cred *c)
{
	struct wire_reader r;
	uint8_t version, nonce[CRED_NONCE_LEN], plain[CRED_PLAIN_LEN];
	uint8_t ad[CRED_AD_LEN];
	unsigned long long plen = 0;
	bool ok = false;

	memset(c, 0, sizeof(*c));
	if (len != CRED_ID_LEN)
		return false;
	wire_reader_init(&r, id, len);
	if (wire_get_u8(&r, &version) != 0 || version != CRED_ID_VERSION ||
	    wire_get_bytes(&r, nonce, sizeof(nonce)) != 0)
		return false;
	cred_ad(rpid_hash, ad);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL,
		wire_cursor(&r), wire_left(&r), ad, sizeof(ad), nonce,
		d->sec->wrap_key) != 0 ||
	    plen != sizeof(plain))
		goto out;
	/* flags || the private scalar */
	wire_reader_init(&r, plain, sizeof(plain));
	if (wire_get_u8(&r, &c->flags) != 0 ||
	    wire_left(&r) != CRED_PLAIN_LEN - 1 ||
	    sc_p256_from_priv(wire_cursor(&r), &c->key) != 0)
		goto out;
	memcpy(c->id, id, CRED_ID_LEN);
	ok = true;
out:
	sodium_memzero(plain, sizeof(plain));
	return ok;
}

/* CredRandom, one with UV and one without, from the master secret and
 * the credential: nothing to store, stable across restarts. */
static int
cred_random(struct sim_dev *d, const struct cred *c, bool uv,
    uint8_t out[SIM_CRED_RANDOM_LEN])
{
	uint8_t which = uv ? 1 : 0;

	return sc_hmac_sha256(d->sec->cred_random_key, SIM_KEY_LEN, c->id,
	    CRED_ID_LEN, &which, 1, out);
}

static uint8_t
bump_counter(struct sim_dev *d)
{
	if (d->sign_count < UINT32_MAX)
		d->sign_count++;
	return sim_state_save(d) == 0 ? CTAP2_OK : CTAP1_ERR_OTHER;
}

/* rpIdHash || flags || signCount || [attested data] || [extensions] */
static uint8_t
auth_data(const struct sim_dev *d, const uint8_t rpid_hash[32], uint8_t flags,
    const uint8_t *att, size_t attlen, const uint8_t *ext, size_t extlen,
    uint8_t **ret, size_t *ret_len)
{
	struct wire_writer w;

	wire_writer_init(&w, AUTHDATA_MAX, false);
	if (wire_put_bytes(&w, rpid_hash, 32) != 0 ||
	    wire_put_u8(&w, flags) != 0 ||
	    wire_put_u32(&w, d->sign_count) != 0 ||
	    wire_put_bytes(&w, att, attlen) != 0 ||
	    wire_put_bytes(&w, ext, extlen) != 0 ||
	    wire_writer_take(&w, ret, ret_len) != 0) {
		wire_writer_reset(&w);
		return CTAP1_ERR_OTHER;
	}
	return CTAP2_OK;
}

/* aaguid || credentialIdLength || credentialId || COSE public key */
static uint8_t
attested_data(const struct sim_dev *d, const struct cred *c, uint8_t **ret,
    size_t *ret_len)
{
	struct wire_writer w;
	cbor_item_t *cose;
	uint8_t enc[COSE_KEY_MAX];
	size_t enclen = 0;
	uint8_t st = CTAP1_ERR_OTHER;

	if ((cose = cb_cose_p256(c->key, COSE_ALG_ES256)) == NULL)
		return CTAP1_ERR_OTHER;
	wire_writer_init(&w, AUTHDATA_MAX, false);
	if (cb_serialize(cose, enc, sizeof(enc), &enclen) != CTAP2_OK ||
	    wire_put_bytes(&w, d->aaguid, SIM_AAGUID_LEN) != 0 ||
	    wire_put_u16(&w, CRED_ID_LEN) != 0 ||
	    wire_put_bytes(&w, c->id, CRED_ID_LEN) != 0 ||
	    wire_put_bytes(&w, enc, enclen) != 0 ||
	    wire_writer_take(&w, ret, ret_len) != 0)
		goto out;
	st = CTAP2_OK;
out:
	wire_writer_reset(&w);
	cbor_decref(&cose);
	return st;
}

/* A map under construction: every builder below returns a whole item or
 * NULL, and cb_put() takes over what it is given, so one failure frees
 * everything. */
static cbor_item_t *
finish(cbor_item_t *map, bool ok)
{
	if (!ok && map != NULL)
		cbor_decref(&map);
	return ok ? map : NULL;
}

/* packed attStmt: {"alg": -7, "sig": bytes}, and "x5c": [cert] when an
 * attestation certificate signed instead of the credential key. */
static cbor_item_t *
att_stmt(const struct sim_dev *d, const uint8_t *sig, size_t siglen)
{
	cbor_item_t *m = cbor_new_definite_map(d->attest_key != NULL ? 3 : 2);
	cbor_item_t *x5c = NULL;

	/* Canonical order: "alg", "sig", "x5c". */
	if (m == NULL || !cb_put(m, cb_text("alg"), cb_int(COSE_ALG_ES256)) ||
	    !cb_put(m, cb_text("sig"), cb_bytes(sig, siglen)))
		return finish(m, false);
	if (d->attest_key == NULL)
		return m;
	if ((x5c = cbor_new_definite_array(1)) == NULL ||
	    !cb_push(x5c, cb_bytes(d->attest_cert, d->attest_cert_len))) {
		if (x5c != NULL)
			cbor_decref(&x5c);
		return finish(m, false);
	}
	/* cb_put takes x5c over, failing or not. */
	return finish(m, cb_put(m, cb_text("x5c"), x5c));
}

/* PublicKeyCredentialDescriptor: {"id": bytes, "type": "public-key"} */
static cbor_item_t *
cred_descriptor(const struct cred *c)
{
	cbor_item_t *m = cbor_new_definite_map(2);

	return finish(m,
	    m != NULL &&
		cb_put(m, cb_text("id"), cb_bytes(c->id, CRED_ID_LEN)) &&
		cb_put(m, cb_text("type"), cb_text("public-key")));
}

/* The extensions map of authData: {"hmac-secret": value}. */
static uint8_t
ext_map(cbor_item_t *value, uint8_t *out, size_t cap, size_t *ret_len)
{
	cbor_item_t *map;
	uint8_t st;

	if ((map = cbor_new_definite_map(1)) == NULL) {
		if (value != NULL)
			cbor_decref(&value);
		return CTAP1_ERR_OTHER;
	}
	st = cb_put(map, cb_text("hmac-secret"), value) ?
	    cb_serialize(map, out, cap, ret_len) :
	    CTAP1_ERR_OTHER;
	cbor_decref(&map);
	return st;
}

/* A PublicKeyCredentialDescriptor: {"id": bytes, "type": text, ...}. */
static uint8_t
descriptor(
    const cbor_item_t *it, const uint8_t **id, size_t *idlen, bool *public_key)
{
	const cbor_item_t *type, *idit;
	const char *s;
	size_t n;
	uint8_t st;

	if ((st = cb_check_map(it)) != CTAP2_OK)
		return st;
	if ((type = cb_map_text(it, "type")) == NULL ||
	    (idit = cb_map_text(it, "id")) == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if ((st = cb_get_text(type, SIM_BSTR_MAX, &s, &n)) != CTAP2_OK ||
	    (st = cb_get_bytes(idit, SIM_BSTR_MAX, id, idlen)) != CTAP2_OK)
		return st;
	*public_key = cb_text_is(type, "public-key");
	return CTAP2_OK;
}

/* Check every descriptor of a list; open the first one that is ours. */
static uint8_t
find_credential(struct sim_dev *d, const cbor_item_t *list,
    const uint8_t rpid_hash[32], struct cred *c, bool *found)
{
	cbor_item_t **items;
	const uint8_t *id;
	size_t idlen;
	bool pk;
	uint8_t st;

	*found = false;
	if ((st = cb_check_array(list)) != CTAP2_OK)
		return st;
	items = cbor_array_handle(list);
	for (size_t i = 0; i < cbor_array_size(list); i++) {
		if ((st = descriptor(items[i], &id, &idlen, &pk)) != CTAP2_OK)
			return st;
		if (!*found && pk && cred_open(d, rpid_hash, id, idlen, c))
			*found = true;
	}
	return CTAP2_OK;
}

/* Options map: rk, up, uv (booleans); others are treated as absent. */
struct options {
	int rk; /* -1: absent */
	int up;
	int uv;
};

static uint8_t
parse_options(const cbor_item_t *it, struct options *o)
{
	static const char *const names[] = { "rk", "up", "uv" };
	int *slots[] = { &o->rk, &o->up, &o->uv };
	const cbor_item_t *v;
	bool b;
	uint8_t st;

	o->rk = o->up = o->uv = -1;
	if (it == NULL)
		return CTAP2_OK;
	if ((st = cb_check_map(it)) != CTAP2_OK)
		return st;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((v = cb_map_text(it, names[i])) == NULL)
			continue;
		if ((st = cb_get_bool(v, &b)) != CTAP2_OK)
			return st;
		*slots[i] = b ? 1 : 0;
	}
	return CTAP2_OK;
}

/* pubKeyCredParams: ES256 or nothing. */
static uint8_t
choose_alg(const cbor_item_t *list)
{
	cbor_item_t **items;
	const cbor_item_t *type, *alg;
	const char *s;
	size_t n;
	int64_t v;
	bool es256 = false;
	uint8_t st;

	if ((st = cb_check_array(list)) != CTAP2_OK)
		return st;
	items = cbor_array_handle(list);
	for (size_t i = 0; i < cbor_array_size(list); i++) {
		if ((st = cb_check_map(items[i])) != CTAP2_OK)
			return st;
		if ((type = cb_map_text(items[i], "type")) == NULL ||
		    (alg = cb_map_text(items[i], "alg")) == NULL)
			return CTAP2_ERR_MISSING_PARAMETER;
		if ((st = cb_get_text(type, SIM_BSTR_MAX, &s, &n)) !=
			CTAP2_OK ||
		    (st = cb_get_int(alg, &v)) != CTAP2_OK)
			return st;
		if (cb_text_is(type, "public-key") && v == COSE_ALG_ES256)
			es256 = true;
	}
	return es256 ? CTAP2_OK : CTAP2_ERR_UNSUPPORTED_ALGORITHM;
}

static uint8_t
optional_text(const cbor_item_t *map, const char *key)
{
	const cbor_item_t *it;
	const char *s;
	size_t n;

	if ((it = cb_map_text(map, key)) == NULL)
		return CTAP2_OK;
	return cb_get_text(it, SIM_BSTR_MAX, &s, &n);
}

static uint8_t
rpid_hash_of(const char *rpid, size_t len, uint8_t out[32])
{
	return sc_sha256(rpid, len, out) == 0 ? CTAP2_OK : CTAP1_ERR_OTHER;
}

/* A zero-length pinUvAuthParam asks "is a PIN set?" after a touch
 * (platforms use it to pick a token). */
static uint8_t
pin_probe(struct sim_dev *d)
{
	uint8_t st;

	if ((st = sim_user_presence(d)) != CTAP2_OK)
		return st;
	return d->pin_set ? CTAP2_ERR_PIN_INVALID : CTAP2_ERR_PIN_NOT_SET;
}

/* The pinUvAuthParam and pinUvAuthProtocol pair, when present. */
struct uv_param {
	const uint8_t *param;
	size_t len;
	bool present;
	uint64_t proto;
};

static uint8_t
parse_uv_param(
    const cbor_item_t *param, const cbor_item_t *proto, struct uv_param *u)
{
	uint8_t st;

	memset(u, 0, sizeof(*u));
	if (proto != NULL && (st = cb_get_uint(proto, &u->proto)) != CTAP2_OK)
		return st;
	if (param == NULL)
		return CTAP2_OK;
	if ((st = cb_get_bytes(param, SIM_BSTR_MAX, &u->param, &u->len)) !=
	    CTAP2_OK)
		return st;
	u->present = true;
	return CTAP2_OK;
}

static uint8_t
check_uv_protocol(const struct uv_param *u, const cbor_item_t *proto)
{
	if (!u->present)
		return CTAP2_OK;
	if (proto == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if (!pinproto_supported(u->proto))
		return CTAP1_ERR_INVALID_PARAMETER;
	return CTAP2_OK;
}

/* A pinUvAuthParam to a token without a PIN cannot be from a token we
 * issued: say so (CTAP 2.0's answer) rather than "wrong MAC". */
static uint8_t
check_uv_param(const struct sim_dev *d, const struct uv_param *u)
{
	return u->present && !d->pin_set ? CTAP2_ERR_PIN_NOT_SET : CTAP2_OK;
}

/* uv=true: no built-in user verification here.  With a PIN set that
 * means "use the PIN" (PUAT_REQUIRED), without one it is an option we do
 * not have.  A pinUvAuthParam makes the uv option moot. */
static uint8_t
check_uv_option(
    const struct sim_dev *d, const struct options *o, const struct uv_param *u)
{
	if (o->uv != 1 || u->present)
		return CTAP2_OK;
	return d->pin_set ? CTAP2_ERR_PIN_REQUIRED : CTAP2_ERR_INVALID_OPTION;
}

static uint8_t
make_credential(struct sim_dev *d, const cbor_item_t *params, cbor_item_t **ret)
{
	const cbor_item_t *p[MC_NSLOTS], *it;
	struct options o;
	struct uv_param u;
	struct cred c, excluded;
	const uint8_t *cdh, *uid;
	const char *rpid;
	size_t cdhlen, uidlen, rpidlen, attlen = 0, adlen = 0, extlen = 0;
	size_t siglen = 0;
	uint8_t rpid_hash[32], ext[EXT_OUT_MAX], sig[SIM_ES256_SIG_MAX];
	uint8_t *att = NULL, *ad = NULL, flags, st;
	cbor_item_t *resp = NULL;
	bool hmac_secret = false, found = false, uv = false;
	uint64_t ea;

	memset(&c, 0, sizeof(c));
	memset(&excluded, 0, sizeof(excluded));
	if ((st = cb_map_slots(params, p, MC_NSLOTS)) != CTAP2_OK)
		return st;
	if (p[MC_CDH] == NULL || p[MC_RP] == NULL || p[MC_USER] == NULL ||
	    p[MC_PUBKEY_PARAMS] == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if ((st = cb_get_bytes(p[MC_CDH], SIM_BSTR_MAX, &cdh, &cdhlen)) !=
	    CTAP2_OK)
		return st;
	if (cdhlen != SIM_CDH_LEN)
		return CTAP1_ERR_INVALID_PARAMETER;
	/* rp: {"id": text, "name": text} */
	if ((st = cb_check_map(p[MC_RP])) != CTAP2_OK)
		return st;
	if ((it = cb_map_text(p[MC_RP], "id")) == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if ((st = cb_get_text(it, SIM_RPID_MAX, &rpid, &rpidlen)) != CTAP2_OK ||
	    (st = optional_text(p[MC_RP], "name")) != CTAP2_OK)
		return st;
	/* user: {"id": bytes, "name": text, "displayName": text} */
	if ((st = cb_check_map(p[MC_USER])) != CTAP2_OK)
		return st;
	if ((it = cb_map_text(p[MC_USER], "id")) == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if ((st = cb_get_bytes(it, USER_ID_MAX, &uid, &uidlen)) != CTAP2_OK ||
	    (st = optional_text(p[MC_USER], "name")) != CTAP2_OK ||
	    (st = optional_text(p[MC_USER], "displayName")) != CTAP2_OK)
		return st;
	if ((st = rpid_hash_of(rpid, rpidlen, rpid_hash)) != CTAP2_OK)
		return st;
	if (p[MC_EXCLUDE_LIST] != NULL &&
	    (st = find_credential(d, p[MC_EXCLUDE_LIST], rpid_hash, &excluded,
		 &found)) != CTAP2_OK)
		goto out;
	if (p[MC_EXTENSIONS] != NULL) {
		if ((st = cb_check_map(p[MC_EXTENSIONS])) != CTAP2_OK)
			goto out;
		if ((it = cb_map_text(p[MC_EXTENSIONS], "hmac-secret")) !=
			NULL &&
		    (st = cb_get_bool(it, &hmac_secret)) != CTAP2_OK)
			goto out;
	}
	if ((st = parse_options(p[MC_OPTIONS], &o)) != CTAP2_OK ||
	    (st = parse_uv_param(p[MC_PIN_UV_AUTH_PARAM], p[MC_PIN_UV_PROTOCOL],
		 &u)) != CTAP2_OK)
		goto out;
	if (p[MC_ENTERPRISE_ATT] != NULL &&
	    (st = cb_get_uint(p[MC_ENTERPRISE_ATT], &ea)) != CTAP2_OK)
		goto out;

	/* CTAP 2.1 section 6.1.2, in its order. */
	if (u.present && u.len == 0) {
		st = pin_probe(d);
		goto out;
	}
	if ((st = check_uv_protocol(&u, p[MC_PIN_UV_PROTOCOL])) != CTAP2_OK ||
	    (st = choose_alg(p[MC_PUBKEY_PARAMS])) != CTAP2_OK)
		goto out;
	if (o.rk == 1) {
		st = CTAP2_ERR_UNSUPPORTED_OPTION; /* no resident keys */
		goto out;
	}
	if (o.up == 0) {
		st = CTAP2_ERR_INVALID_OPTION;
		goto out;
	}
	/* makeCredUvNotRqd: without uv=true no PIN is demanded for these
	 * non-resident credentials, even when one is set. */
	if ((st = check_uv_option(d, &o, &u)) != CTAP2_OK)
		goto out;
	/* Not enterprise attestation capable. */
	if (p[MC_ENTERPRISE_ATT] != NULL) {
		st = CTAP1_ERR_INVALID_PARAMETER;
		goto out;
	}
	if ((st = check_uv_param(d, &u)) != CTAP2_OK)
		goto out;
	if (u.present) {
		if ((st = puat_check(d, (unsigned)u.proto, cdh, cdhlen, u.param,
			 u.len, SIM_PERM_MC, rpid, rpidlen)) != CTAP2_OK)
			goto out;
		uv = true;
	}
	if (found) {
		/* Wait for the user; touched or not, the answer is that
		 * the token is already enrolled (unless the host gave up). */
		if ((st = sim_user_presence(d)) != CTAP2_ERR_KEEPALIVE_CANCEL)
			st = CTAP2_ERR_CREDENTIAL_EXCLUDED;
		goto out;
	}
	if ((st = sim_user_presence(d)) != CTAP2_OK)
		goto out;
	if (u.present)
		puat_spent(d);

	if ((st = cred_new(d, rpid_hash,
		 hmac_secret ? CRED_FLAG_HMAC_SECRET : 0, &c)) != CTAP2_OK ||
	    (st = attested_data(d, &c, &att, &attlen)) != CTAP2_OK)
		goto out;
	if (hmac_secret &&
	    (st = ext_map(cb_bool(true), ext, sizeof(ext), &extlen)) !=
		CTAP2_OK)
		goto out;
	flags = AD_FLAG_UP | AD_FLAG_AT | (uv ? AD_FLAG_UV : 0) |
	    (hmac_secret ? AD_FLAG_ED : 0);
	if ((st = bump_counter(d)) != CTAP2_OK ||
	    (st = auth_data(d, rpid_hash, flags, att, attlen, ext, extlen, &ad,
		 &adlen)) != CTAP2_OK)
		goto out;
	/* packed: the attestation key signs, or (self) the credential's. */
	st = CTAP1_ERR_OTHER;
	if (sc_es256_sign(d->attest_key != NULL ? d->attest_key : c.key, ad,
		adlen, cdh, cdhlen, sig, &siglen) != 0)
		goto out;
	resp = cbor_new_definite_map(3);
	if ((resp = finish(resp,
		 resp != NULL && cb_put(resp, cb_uint(1), cb_text("packed")) &&
		     cb_put(resp, cb_uint(2), cb_bytes(ad, adlen)) &&
		     cb_put(resp, cb_uint(3), att_stmt(d, sig, siglen)))) ==
	    NULL)
		goto out;
	sim_debug(d, "makeCredential: done, hmac-secret %s, uv %s",
	    hmac_secret ? "yes" : "no", uv ? "yes" : "no");
	*ret = resp;
	resp = NULL;
	st = CTAP2_OK;
out:
	if (resp != NULL)
		cbor_decref(&resp);
	free(att);
	free(ad);
	cred_clear(&c);
	cred_clear(&excluded);
	return st;
}

/* hmac-secret for getAssertion (CTAP 2.1 section 12.5): one or two
 * salts in, HMAC-SHA-256(CredRandom, salt) out, encrypted. */
static uint8_t
hmac_secret(struct sim_dev *d, const cbor_item_t *in, const struct cred *c,
    bool uv, uint8_t *out, size_t cap, size_t *outlen)
{
	const cbor_item_t *ka, *se, *sa, *pp;
	const uint8_t *salt_enc, *salt_auth;
	size_t selen, salen, sslen = 0, slen = 0;
	uint8_t ss[SIM_SHARED_MAX], salts[HS_SALT_ENC_MAX];
	uint8_t cr[SIM_CRED_RANDOM_LEN], hs[HS_SALTS_MAX];
	uint64_t proto = 1;
	uint8_t st;

	if ((st = cb_check_map(in)) != CTAP2_OK)
		return st;
	ka = cb_map_int(in, HS_KEY_AGREEMENT);
	se = cb_map_int(in, HS_SALT_ENC);
	sa = cb_map_int(in, HS_SALT_AUTH);
	pp = cb_map_int(in, HS_PROTOCOL);
	if (ka == NULL || se == NULL || sa == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if ((pp != NULL && (st = cb_get_uint(pp, &proto)) != CTAP2_OK) ||
	    (st = cb_get_bytes(se, HS_SALT_ENC_MAX, &salt_enc, &selen)) !=
		CTAP2_OK ||
	    (st = cb_get_bytes(sa, 32, &salt_auth, &salen)) != CTAP2_OK)
		return st;
	if (!pinproto_supported(proto))
		return CTAP1_ERR_INVALID_PARAMETER;
	if ((st = pinproto_decapsulate(d, (unsigned)proto, ka, ss, &sslen)) !=
	    CTAP2_OK)
		goto out;
	if (!pinproto_verify((unsigned)proto, ss, sslen, salt_enc, selen, NULL,
		0, salt_auth, salen)) {
		st = CTAP2_ERR_PIN_AUTH_INVALID;
		goto out;
	}
	if ((st = pinproto_decrypt((unsigned)proto, ss, sslen, salt_enc, selen,
		 salts, sizeof(salts), &slen)) != CTAP2_OK ||
	    (slen != 32 && slen != 64)) {
		st = CTAP1_ERR_INVALID_PARAMETER;
		goto out;
	}
	st = CTAP1_ERR_OTHER;
	if (cred_random(d, c, uv, cr) != 0 ||
	    sc_hmac_sha256(cr, sizeof(cr), salts, 32, NULL, 0, hs) != 0 ||
	    (slen == 64 &&
		sc_hmac_sha256(
		    cr, sizeof(cr), salts + 32, 32, NULL, 0, hs + 32) != 0))
		goto out;
	st = pinproto_encrypt(
	    (unsigned)proto, ss, sslen, hs, slen, out, cap, outlen);
out:
	sodium_memzero(ss, sizeof(ss));
	sodium_memzero(salts, sizeof(salts));
	sodium_memzero(cr, sizeof(cr));
	sodium_memzero(hs, sizeof(hs));
	return st;
}

static uint8_t
get_assertion(struct sim_dev *d, const cbor_item_t *params, cbor_item_t **ret)
{
	const cbor_item_t *p[GA_NSLOTS], *hs_in = NULL;
	struct options o;
	struct uv_param u;
	struct cred c;
	const uint8_t *cdh;
	const char *rpid;
	size_t cdhlen, rpidlen, adlen = 0, extlen = 0, hslen = 0, siglen = 0;
	uint8_t rpid_hash[32], ext[EXT_OUT_MAX], hs[HS_SALT_ENC_MAX];
	uint8_t sig[SIM_ES256_SIG_MAX], *ad = NULL, flags = 0, st;
	cbor_item_t *resp = NULL;
	bool found = false, uv = false, up;

	memset(&c, 0, sizeof(c));
	if ((st = cb_map_slots(params, p, GA_NSLOTS)) != CTAP2_OK)
		return st;
	if (p[GA_RPID] == NULL || p[GA_CDH] == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if ((st = cb_get_text(p[GA_RPID], SIM_RPID_MAX, &rpid, &rpidlen)) !=
		CTAP2_OK ||
	    (st = cb_get_bytes(p[GA_CDH], SIM_BSTR_MAX, &cdh, &cdhlen)) !=
		CTAP2_OK)
		return st;
	if (cdhlen != SIM_CDH_LEN)
		return CTAP1_ERR_INVALID_PARAMETER;
	if ((st = rpid_hash_of(rpid, rpidlen, rpid_hash)) != CTAP2_OK)
		return st;
	if (p[GA_ALLOW_LIST] != NULL &&
	    (st = find_credential(
		 d, p[GA_ALLOW_LIST], rpid_hash, &c, &found)) != CTAP2_OK)
		goto out;
	if (p[GA_EXTENSIONS] != NULL) {
		if ((st = cb_check_map(p[GA_EXTENSIONS])) != CTAP2_OK)
			goto out;
		hs_in = cb_map_text(p[GA_EXTENSIONS], "hmac-secret");
	}
	if ((st = parse_options(p[GA_OPTIONS], &o)) != CTAP2_OK ||
	    (st = parse_uv_param(p[GA_PIN_UV_AUTH_PARAM], p[GA_PIN_UV_PROTOCOL],
		 &u)) != CTAP2_OK)
		goto out;

	/* CTAP 2.1 section 6.2.2, in its order. */
	if (u.present && u.len == 0) {
		st = pin_probe(d);
		goto out;
	}
	if ((st = check_uv_protocol(&u, p[GA_PIN_UV_PROTOCOL])) != CTAP2_OK)
		goto out;
	if (o.rk != -1) {
		st = CTAP2_ERR_UNSUPPORTED_OPTION;
		goto out;
	}
	if ((st = check_uv_option(d, &o, &u)) != CTAP2_OK)
		goto out;
	up = o.up != 0;
	if ((st = check_uv_param(d, &u)) != CTAP2_OK)
		goto out;
	if (u.present) {
		if ((st = puat_check(d, (unsigned)u.proto, cdh, cdhlen, u.param,
			 u.len, SIM_PERM_GA, rpid, rpidlen)) != CTAP2_OK)
			goto out;
		uv = true;
	}
	/* No resident keys: without an allowList nothing can be found. */
	if (!found) {
		st = CTAP2_ERR_NO_CREDENTIALS;
		goto out;
	}
	if (up) {
		if ((st = sim_user_presence(d)) != CTAP2_OK)
			goto out;
		flags |= AD_FLAG_UP;
		if (u.present)
			puat_spent(d);
	}
	if (uv)
		flags |= AD_FLAG_UV;
	if (hs_in != NULL && (c.flags & CRED_FLAG_HMAC_SECRET) != 0) {
		if ((st = hmac_secret(d, hs_in, &c, uv, hs, sizeof(hs),
			 &hslen)) != CTAP2_OK ||
		    (st = ext_map(cb_bytes(hs, hslen), ext, sizeof(ext),
			 &extlen)) != CTAP2_OK)
			goto out;
		flags |= AD_FLAG_ED;
	}
	if ((st = bump_counter(d)) != CTAP2_OK ||
	    (st = auth_data(d, rpid_hash, flags, NULL, 0, ext, extlen, &ad,
		 &adlen)) != CTAP2_OK)
		goto out;
	st = CTAP1_ERR_OTHER;
	if (sc_es256_sign(c.key, ad, adlen, cdh, cdhlen, sig, &siglen) != 0)
		goto out;
	resp = cbor_new_definite_map(3);
	if ((resp = finish(resp,
		 resp != NULL &&
		     cb_put(resp, cb_uint(1), cred_descriptor(&c)) &&
		     cb_put(resp, cb_uint(2), cb_bytes(ad, adlen)) &&
		     cb_put(resp, cb_uint(3), cb_bytes(sig, siglen)))) == NULL)
		goto out;
	sim_debug(d, "getAssertion: done, up %s, uv %s, hmac-secret %s",
	    up ? "yes" : "no", uv ? "yes" : "no",
	    (flags & AD_FLAG_ED) ? "yes" : "no");
	*ret = resp;
	resp = NULL;
	st = CTAP2_OK;
out:
	sodium_memzero(hs, sizeof(hs));
	if (resp != NULL)
		cbor_decref(&resp);
	free(ad);
	cred_clear(&c);
	return st;
}

static cbor_item_t *
text_array(const char *const *v, size_t n)
{
	cbor_item_t *a;

	if ((a = cbor_new_definite_array(n)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!cb_push(a, cb_text(v[i]))) {
			cbor_decref(&a);
			return NULL;
		}
	return a;
}

static cbor_item_t *
info_options(const struct sim_dev *d)
{
	cbor_item_t *m = cbor_new_definite_map(6);

	/* Text keys in canonical order: by length, then bytes. */
	return finish(m,
	    m != NULL && cb_put(m, cb_text("rk"), cb_bool(false)) &&
		cb_put(m, cb_text("up"), cb_bool(true)) &&
		cb_put(m, cb_text("plat"), cb_bool(false)) &&
		cb_put(m, cb_text("clientPin"), cb_bool(d->pin_set)) &&
		cb_put(m, cb_text("pinUvAuthToken"), cb_bool(true)) &&
		cb_put(m, cb_text("makeCredUvNotRqd"), cb_bool(true)));
}

static cbor_item_t *
info_es256(void)
{
	cbor_item_t *m = cbor_new_definite_map(2);

	return finish(m,
	    m != NULL && cb_put(m, cb_text("alg"), cb_int(COSE_ALG_ES256)) &&
		cb_put(m, cb_text("type"), cb_text("public-key")));
}

static cbor_item_t *
info_algorithms(void)
{
	cbor_item_t *a = cbor_new_definite_array(1);

	return finish(a, a != NULL && cb_push(a, info_es256()));
}

static cbor_item_t *
info_protocols(void)
{
	cbor_item_t *a = cbor_new_definite_array(2);

	/* Preferred first. */
	return finish(
	    a, a != NULL && cb_push(a, cb_uint(2)) && cb_push(a, cb_uint(1)));
}

static uint8_t
get_info(struct sim_dev *d, cbor_item_t **ret)
{
	static const char *const versions[] = { "FIDO_2_0", "FIDO_2_1" };
	static const char *const extensions[] = { "hmac-secret" };
	static const char *const transports[] = { "usb" };
	cbor_item_t *m = cbor_new_definite_map(9);

	m = finish(m,
	    m != NULL && cb_put(m, cb_uint(0x01), text_array(versions, 2)) &&
		cb_put(m, cb_uint(0x02), text_array(extensions, 1)) &&
		cb_put(m, cb_uint(0x03), cb_bytes(d->aaguid, SIM_AAGUID_LEN)) &&
		cb_put(m, cb_uint(0x04), info_options(d)) &&
		cb_put(m, cb_uint(0x05), cb_uint(SIM_MSG_MAX)) &&
		cb_put(m, cb_uint(0x06), info_protocols()) &&
		cb_put(m, cb_uint(0x09), text_array(transports, 1)) &&
		cb_put(m, cb_uint(0x0a), info_algorithms()) &&
		cb_put(m, cb_uint(0x0d), cb_uint(SIM_MIN_PIN_LENGTH)));
	if (m == NULL)
		return CTAP1_ERR_OTHER;
	*ret = m;
	return CTAP2_OK;
}

static uint8_t
reset(struct sim_dev *d)
{
	uint8_t st;

	if ((st = sim_user_presence(d)) != CTAP2_OK)
		return st;
	if (sim_state_rotate(d) != 0)
		return CTAP1_ERR_OTHER;
	sim_debug(d, "reset: new master secret, no PIN");
	return CTAP2_OK;
}

static const char *
command_name(uint8_t cmd)
{
	switch (cmd) {
	case CTAP2_MAKE_CREDENTIAL: return "makeCredential";
	case CTAP2_GET_ASSERTION: return "getAssertion";
	case CTAP2_GET_INFO: return "getInfo";
	case CTAP2_CLIENT_PIN: return "clientPIN";
	case CTAP2_RESET: return "reset";
	case CTAP2_GET_NEXT_ASSERTION: return "getNextAssertion";
	case CTAP2_SELECTION: return "selection";
	default: return "unknown";
	}
}

size_t
ctap2_handle(struct sim_dev *d, const uint8_t *req, size_t len, uint8_t *resp,
    size_t cap)
{
	struct wire_reader r;
	cbor_item_t *params = NULL, *out = NULL;
	const uint8_t *body;
	size_t bodylen, n = 0;
	uint8_t cmd, st;

	if (cap < 1)
		return 0;
	wire_reader_init(&r, req, len);
	if (wire_get_u8(&r, &cmd) != 0) {
		resp[0] = CTAP1_ERR_INVALID_LENGTH;
		return 1;
	}
	body = wire_cursor(&r);
	bodylen = wire_left(&r);
	switch (cmd) {
	case CTAP2_GET_INFO:
		st = bodylen != 0 ? CTAP1_ERR_INVALID_LENGTH :
				    get_info(d, &out);
		break;
	case CTAP2_MAKE_CREDENTIAL:
	case CTAP2_GET_ASSERTION:
	case CTAP2_CLIENT_PIN:
		if (bodylen == 0) {
			st = CTAP2_ERR_MISSING_PARAMETER;
			break;
		}
		if ((st = cb_load_map(body, bodylen, &params)) != CTAP2_OK)
			break;
		if (cmd == CTAP2_MAKE_CREDENTIAL)
			st = make_credential(d, params, &out);
		else if (cmd == CTAP2_GET_ASSERTION)
			st = get_assertion(d, params, &out);
		else
			st = clientpin_handle(d, params, &out);
		break;
	case CTAP2_RESET:
		st = bodylen != 0 ? CTAP1_ERR_INVALID_LENGTH : reset(d);
		break;
	case CTAP2_SELECTION:
		st = bodylen != 0 ? CTAP1_ERR_INVALID_LENGTH :
				    sim_user_presence(d);
		break;
	case CTAP2_GET_NEXT_ASSERTION:
		st = CTAP2_ERR_NOT_ALLOWED; /* one credential per call */
		break;
	default: st = CTAP1_ERR_INVALID_COMMAND; break;
	}
	if (st == CTAP2_OK && out != NULL &&
	    (st = cb_serialize(out, resp + 1, cap - 1, &n)) != CTAP2_OK)
		n = 0;
	if (st != CTAP2_OK)
		n = 0;
	resp[0] = st;
	sim_debug(
	    d, "ctap2: %s (0x%02x): status 0x%02x", command_name(cmd), cmd, st);
	if (out != NULL)
		cbor_decref(&out);
	if (params != NULL)
		cbor_decref(&params);
	return 1 + n;
}
