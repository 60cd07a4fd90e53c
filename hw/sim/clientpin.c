/* authenticatorClientPIN and the PIN/UV auth protocols 1 and 2 (CTAP 2.1). */
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "sim.h"

/* clientPIN request keys. */
#define CP_PROTOCOL 0x01
#define CP_SUBCOMMAND 0x02
#define CP_KEY_AGREEMENT 0x03
#define CP_PIN_UV_AUTH_PARAM 0x04
#define CP_NEW_PIN_ENC 0x05
#define CP_PIN_HASH_ENC 0x06
#define CP_PERMISSIONS 0x09
#define CP_RPID 0x0a
#define CP_NSLOTS 0x0b

/* clientPIN response keys. */
#define CP_RESP_KEY_AGREEMENT 0x01
#define CP_RESP_PUAT 0x02
#define CP_RESP_RETRIES 0x03

/* Subcommands. */
#define CP_GET_PIN_RETRIES 0x01
#define CP_GET_KEY_AGREEMENT 0x02
#define CP_SET_PIN 0x03
#define CP_CHANGE_PIN 0x04
#define CP_GET_PIN_TOKEN 0x05
#define CP_GET_PUAT_UV 0x06
#define CP_GET_UV_RETRIES 0x07
#define CP_GET_PUAT_PIN 0x09

#define COSE_ALG_ECDH_ES_HKDF_256 (-25)
#define PROTO2_IV_LEN 16
#define PROTO1_SIG_LEN 16
#define PROTO2_SIG_LEN 32
#define KDF_INFO_HMAC "CTAP2 HMAC key"
#define KDF_INFO_AES "CTAP2 AES key"

/* Byte strings clientPIN accepts: pinHashEnc, newPinEnc, pinUvAuthParam. */
#define CP_BSTR_MAX (SIM_PIN_PADDED_LEN + PROTO2_IV_LEN)

bool
pinproto_supported(uint64_t proto)
{
	return proto == 1 || proto == 2;
}

static int
regen_key_agreement(struct sim_dev *d)
{
	EVP_PKEY *k = NULL;
	int r;

	if ((r = sc_p256_generate(&k)) != 0)
		return r;
	EVP_PKEY_free(d->ka_key);
	d->ka_key = k;
	return JIT_OK;
}

/* resetPinUvAuthToken(): a new token, in use by no one. */
static void
reset_puat(struct sim_dev *d)
{
	randombytes_buf(d->sec->puat, SIM_PUAT_LEN);
	memset(&d->puat, 0, sizeof(d->puat));
}

int
clientpin_power_up(struct sim_dev *d)
{
	int r;

	if ((r = regen_key_agreement(d)) != 0)
		return r;
	reset_puat(d);
	d->pin_fails = 0;
	return JIT_OK;
}

static uint8_t
cose_coord(const cbor_item_t *cose, int64_t key, uint8_t out[32])
{
	const cbor_item_t *it;
	const uint8_t *p;
	size_t n;
	uint8_t st;

	if ((it = cb_map_int(cose, key)) == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if ((st = cb_get_bytes(it, 32, &p, &n)) != CTAP2_OK)
		return st;
	if (n != 32)
		return CTAP1_ERR_INVALID_PARAMETER;
	memcpy(out, p, 32);
	return CTAP2_OK;
}

static uint8_t
cose_expect(const cbor_item_t *cose, int64_t key, int64_t want)
{
	const cbor_item_t *it;
	int64_t v;
	uint8_t st;

	if ((it = cb_map_int(cose, key)) == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if ((st = cb_get_int(it, &v)) != CTAP2_OK)
		return st;
	return v == want ? CTAP2_OK : CTAP1_ERR_INVALID_PARAMETER;
}

uint8_t
pinproto_decapsulate(struct sim_dev *d, unsigned proto, const cbor_item_t *cose,
    uint8_t ss[SIM_SHARED_MAX], size_t *sslen)
{
	static const uint8_t zero_salt[32];
	EVP_PKEY *peer = NULL;
	uint8_t x[32], y[32], z[32];
	const cbor_item_t *alg;
	int64_t v;
	uint8_t st;

	if ((st = cb_check_map(cose)) != CTAP2_OK ||
	    (st = cose_expect(cose, 1, 2)) != CTAP2_OK || /* kty EC2 */
	    (st = cose_expect(cose, -1, 1)) != CTAP2_OK || /* P-256 */
	    (st = cose_coord(cose, -2, x)) != CTAP2_OK ||
	    (st = cose_coord(cose, -3, y)) != CTAP2_OK)
		return st;
	/* alg is -25 from every platform; only its type is checked. */
	if ((alg = cb_map_int(cose, 3)) != NULL &&
	    (st = cb_get_int(alg, &v)) != CTAP2_OK)
		return st;
	if (sc_p256_from_xy(x, y, &peer) != 0)
		return CTAP1_ERR_INVALID_PARAMETER;
	st = CTAP1_ERR_OTHER;
	if (sc_ecdh(d->ka_key, peer, z) != 0)
		goto out;
	if (proto == 1) {
		if (sc_sha256(z, sizeof(z), ss) != 0)
			goto out;
		*sslen = 32;
	} else {
		if (sc_hkdf_sha256(zero_salt, sizeof(zero_salt), z, sizeof(z),
			KDF_INFO_HMAC, ss, 32) != 0 ||
		    sc_hkdf_sha256(zero_salt, sizeof(zero_salt), z, sizeof(z),
			KDF_INFO_AES, ss + 32, 32) != 0)
			goto out;
		*sslen = 64;
	}
	st = CTAP2_OK;
out:
	sodium_memzero(z, sizeof(z));
	EVP_PKEY_free(peer);
	return st;
}

/* Protocol one: AES-256-CBC with a zero IV under the whole 32-byte key.
 * Protocol two: a random IV first, under the AES half of the key. */
uint8_t
pinproto_encrypt(unsigned proto, const uint8_t *key, size_t keylen,
    const uint8_t *pt, size_t n, uint8_t *ct, size_t cap, size_t *ctlen)
{
	static const uint8_t zero_iv[16];
	uint8_t iv[PROTO2_IV_LEN];

	if (n % 16 != 0)
		return CTAP1_ERR_OTHER;
	if (proto == 1) {
		if (keylen < 32 || cap < n ||
		    sc_aes256_cbc(true, key, zero_iv, pt, n, ct) != 0)
			return CTAP1_ERR_OTHER;
		*ctlen = n;
		return CTAP2_OK;
	}
	if (keylen != 64 || cap < n + PROTO2_IV_LEN)
		return CTAP1_ERR_OTHER;
	randombytes_buf(iv, sizeof(iv));
	memcpy(ct, iv, sizeof(iv));
	if (sc_aes256_cbc(true, key + 32, iv, pt, n, ct + PROTO2_IV_LEN) != 0)
		return CTAP1_ERR_OTHER;
	*ctlen = n + PROTO2_IV_LEN;
	return CTAP2_OK;
}

uint8_t
pinproto_decrypt(unsigned proto, const uint8_t *key, size_t keylen,
    const uint8_t *ct, size_t n, uint8_t *pt, size_t cap, size_t *ptlen)
{
	static const uint8_t zero_iv[16];

	if (proto == 1) {
		if (n == 0 || n % 16 != 0 || cap < n)
			return CTAP1_ERR_INVALID_PARAMETER;
		if (keylen < 32 ||
		    sc_aes256_cbc(false, key, zero_iv, ct, n, pt) != 0)
			return CTAP1_ERR_OTHER;
		*ptlen = n;
		return CTAP2_OK;
	}
	if (n <= PROTO2_IV_LEN || (n - PROTO2_IV_LEN) % 16 != 0 ||
	    cap < n - PROTO2_IV_LEN)
		return CTAP1_ERR_INVALID_PARAMETER;
	if (keylen != 64 ||
	    sc_aes256_cbc(false, key + 32, ct, ct + PROTO2_IV_LEN,
		n - PROTO2_IV_LEN, pt) != 0)
		return CTAP1_ERR_OTHER;
	*ptlen = n - PROTO2_IV_LEN;
	return CTAP2_OK;
}

/* verify(key, message, signature): HMAC-SHA-256 under the first 32 bytes
 * of key (the HMAC half of a protocol-two shared secret), truncated to 16
 * bytes for protocol one. */
bool
pinproto_verify(unsigned proto, const uint8_t *key, size_t keylen,
    const uint8_t *m1, size_t l1, const uint8_t *m2, size_t l2,
    const uint8_t *sig, size_t siglen)
{
	uint8_t mac[32];
	size_t want = proto == 1 ? PROTO1_SIG_LEN : PROTO2_SIG_LEN;
	bool ok;

	if (siglen != want || keylen < 32)
		return false;
	if (sc_hmac_sha256(key, 32, m1, l1, m2, l2, mac) != 0)
		return false;
	ok = sodium_memcmp(mac, sig, want) == 0;
	sodium_memzero(mac, sizeof(mac));
	return ok;
}

struct cp_req {
	unsigned proto;
	const cbor_item_t *ka;
	const uint8_t *auth; /* pinUvAuthParam */
	size_t auth_len;
	const uint8_t *new_pin; /* newPinEnc */
	size_t new_pin_len;
	const uint8_t *pin_hash; /* pinHashEnc */
	size_t pin_hash_len;
	bool has_perms;
	uint64_t perms;
	const char *rpid;
	size_t rpid_len;
};

static uint8_t
reply_bytes(int key, const uint8_t *p, size_t n, cbor_item_t **ret)
{
	cbor_item_t *map;

	if ((map = cbor_new_definite_map(1)) == NULL)
		return CTAP1_ERR_OTHER;
	if (!cb_put(map, cb_uint((uint64_t)key), cb_bytes(p, n))) {
		cbor_decref(&map);
		return CTAP1_ERR_OTHER;
	}
	*ret = map;
	return CTAP2_OK;
}

static uint8_t
save(struct sim_dev *d)
{
	return sim_state_save(d) == 0 ? CTAP2_OK : CTAP1_ERR_OTHER;
}

/* Check pinHashEnc against the stored hash, counting the try first so
 * that no crash or unplug can undo it. */
static uint8_t
check_pin_hash(
    struct sim_dev *d, const struct cp_req *q, const uint8_t *ss, size_t sslen)
{
	uint8_t pt[32];
	size_t ptlen = 0;
	size_t want = q->proto == 1 ? SIM_PIN_HASH_LEN :
				      SIM_PIN_HASH_LEN + PROTO2_IV_LEN;
	uint8_t st;
	bool match;

	if (q->pin_hash_len != want)
		return CTAP1_ERR_INVALID_PARAMETER;
	d->pin_retries--;
	if ((st = save(d)) != CTAP2_OK)
		return st;
	if ((st = pinproto_decrypt(q->proto, ss, sslen, q->pin_hash,
		 q->pin_hash_len, pt, sizeof(pt), &ptlen)) != CTAP2_OK)
		return st;
	match = ptlen == SIM_PIN_HASH_LEN &&
	    sodium_memcmp(pt, d->sec->pin_hash, SIM_PIN_HASH_LEN) == 0;
	sodium_memzero(pt, sizeof(pt));
	if (!match) {
		sim_debug(
		    d, "clientpin: wrong PIN, %u tries left", d->pin_retries);
		if (regen_key_agreement(d) != 0)
			return CTAP1_ERR_OTHER;
		d->pin_fails++;
		if (d->pin_retries == 0)
			return CTAP2_ERR_PIN_BLOCKED;
		if (d->pin_fails >= SIM_PIN_FAILS_MAX)
			return CTAP2_ERR_PIN_AUTH_BLOCKED;
		return CTAP2_ERR_PIN_INVALID;
	}
	d->pin_retries = SIM_PIN_RETRIES_MAX;
	d->pin_fails = 0;
	return save(d);
}

/* Blocked PINs are refused before any try is counted. */
static uint8_t
pin_usable(const struct sim_dev *d)
{
	if (!d->pin_set)
		return CTAP2_ERR_PIN_NOT_SET;
	if (d->pin_retries == 0)
		return CTAP2_ERR_PIN_BLOCKED;
	if (d->pin_fails >= SIM_PIN_FAILS_MAX)
		return CTAP2_ERR_PIN_AUTH_BLOCKED;
	return CTAP2_OK;
}

/* newPinEnc: 64 bytes of PIN padded with zeros, encrypted. */
static uint8_t
take_new_pin(
    struct sim_dev *d, const struct cp_req *q, const uint8_t *ss, size_t sslen)
{
	uint8_t padded[SIM_PIN_PADDED_LEN + PROTO2_IV_LEN];
	size_t len = 0, pinlen;
	uint8_t st;
	int r;

	if ((st = pinproto_decrypt(q->proto, ss, sslen, q->new_pin,
		 q->new_pin_len, padded, sizeof(padded), &len)) != CTAP2_OK)
		goto out;
	if (len != SIM_PIN_PADDED_LEN) {
		st = CTAP1_ERR_INVALID_PARAMETER;
		goto out;
	}
	for (pinlen = 0; pinlen < len && padded[pinlen] != 0; pinlen++)
		continue;
	if ((r = sim_set_pin(d, padded, pinlen)) != 0) {
		st = r == JIT_E_ARG ? CTAP2_ERR_PIN_POLICY_VIOLATION :
				      CTAP1_ERR_OTHER;
		goto out;
	}
	reset_puat(d);
	st = save(d);
out:
	sodium_memzero(padded, sizeof(padded));
	return st;
}

static uint8_t
cp_set_pin(struct sim_dev *d, const struct cp_req *q)
{
	uint8_t ss[SIM_SHARED_MAX];
	size_t sslen = 0;
	uint8_t st;

	if (q->ka == NULL || q->auth == NULL || q->new_pin == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if (d->pin_set)
		return CTAP2_ERR_NOT_ALLOWED;
	if ((st = pinproto_decapsulate(d, q->proto, q->ka, ss, &sslen)) !=
	    CTAP2_OK)
		return st;
	if (!pinproto_verify(q->proto, ss, sslen, q->new_pin, q->new_pin_len,
		NULL, 0, q->auth, q->auth_len)) {
		st = CTAP2_ERR_PIN_AUTH_INVALID;
		goto out;
	}
	st = take_new_pin(d, q, ss, sslen);
	if (st == CTAP2_OK)
		sim_debug(d, "clientpin: PIN set");
out:
	sodium_memzero(ss, sizeof(ss));
	return st;
}

static uint8_t
cp_change_pin(struct sim_dev *d, const struct cp_req *q)
{
	uint8_t ss[SIM_SHARED_MAX];
	size_t sslen = 0;
	uint8_t st;

	if (q->ka == NULL || q->auth == NULL || q->new_pin == NULL ||
	    q->pin_hash == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if ((st = pin_usable(d)) != CTAP2_OK)
		return st;
	if ((st = pinproto_decapsulate(d, q->proto, q->ka, ss, &sslen)) !=
	    CTAP2_OK)
		return st;
	if (!pinproto_verify(q->proto, ss, sslen, q->new_pin, q->new_pin_len,
		q->pin_hash, q->pin_hash_len, q->auth, q->auth_len)) {
		st = CTAP2_ERR_PIN_AUTH_INVALID;
		goto out;
	}
	if ((st = check_pin_hash(d, q, ss, sslen)) != CTAP2_OK)
		goto out;
	st = take_new_pin(d, q, ss, sslen);
	if (st == CTAP2_OK)
		sim_debug(d, "clientpin: PIN changed");
out:
	sodium_memzero(ss, sizeof(ss));
	return st;
}

/* getPinToken (permissions mc and ga, no RP) and
 * getPinUvAuthTokenUsingPinWithPermissions. */
static uint8_t
cp_get_token(struct sim_dev *d, const struct cp_req *q, bool with_perms,
    cbor_item_t **ret)
{
	uint8_t ss[SIM_SHARED_MAX], enc[SIM_PUAT_LEN + PROTO2_IV_LEN];
	size_t sslen = 0, enclen = 0;
	uint8_t st;

	if (q->ka == NULL || q->pin_hash == NULL ||
	    (with_perms && !q->has_perms))
		return CTAP2_ERR_MISSING_PARAMETER;
	if (!with_perms && (q->has_perms || q->rpid != NULL))
		return CTAP1_ERR_INVALID_PARAMETER;
	if (with_perms) {
		if (q->perms == 0)
			return CTAP1_ERR_INVALID_PARAMETER;
		if ((q->perms & ~(uint64_t)SIM_PERM_SUPPORTED) != 0)
			return CTAP2_ERR_UNAUTHORIZED_PERMISSION;
	}
	if ((st = pin_usable(d)) != CTAP2_OK)
		return st;
	if ((st = pinproto_decapsulate(d, q->proto, q->ka, ss, &sslen)) !=
	    CTAP2_OK)
		return st;
	if ((st = check_pin_hash(d, q, ss, sslen)) != CTAP2_OK)
		goto out;
	reset_puat(d);
	d->puat.in_use = true;
	d->puat.issued_ms = sim_now_ms();
	d->puat.permissions = with_perms ? (uint8_t)q->perms :
					   SIM_PERM_MC | SIM_PERM_GA;
	if (q->rpid != NULL) {
		memcpy(d->puat.rpid, q->rpid, q->rpid_len);
		d->puat.rpid[q->rpid_len] = '\0';
		d->puat.has_rpid = true;
	}
	if ((st = pinproto_encrypt(q->proto, ss, sslen, d->sec->puat,
		 SIM_PUAT_LEN, enc, sizeof(enc), &enclen)) != CTAP2_OK)
		goto out;
	st = reply_bytes(CP_RESP_PUAT, enc, enclen, ret);
	sim_debug(d, "clientpin: token issued, permissions 0x%02x",
	    d->puat.permissions);
out:
	sodium_memzero(ss, sizeof(ss));
	return st;
}

static uint8_t
parse_req(const cbor_item_t **p, struct cp_req *q)
{
	uint8_t st;

	memset(q, 0, sizeof(*q));
	if (p[CP_KEY_AGREEMENT] != NULL) {
		if ((st = cb_check_map(p[CP_KEY_AGREEMENT])) != CTAP2_OK)
			return st;
		q->ka = p[CP_KEY_AGREEMENT];
	}
	if (p[CP_PIN_UV_AUTH_PARAM] != NULL &&
	    (st = cb_get_bytes(p[CP_PIN_UV_AUTH_PARAM], CP_BSTR_MAX, &q->auth,
		 &q->auth_len)) != CTAP2_OK)
		return st;
	if (p[CP_NEW_PIN_ENC] != NULL &&
	    (st = cb_get_bytes(p[CP_NEW_PIN_ENC], CP_BSTR_MAX, &q->new_pin,
		 &q->new_pin_len)) != CTAP2_OK)
		return st;
	if (p[CP_PIN_HASH_ENC] != NULL &&
	    (st = cb_get_bytes(p[CP_PIN_HASH_ENC], CP_BSTR_MAX, &q->pin_hash,
		 &q->pin_hash_len)) != CTAP2_OK)
		return st;
	if (p[CP_PERMISSIONS] != NULL) {
		if ((st = cb_get_uint(p[CP_PERMISSIONS], &q->perms)) !=
		    CTAP2_OK)
			return st;
		q->has_perms = true;
	}
	if (p[CP_RPID] != NULL &&
	    (st = cb_get_text(
		 p[CP_RPID], SIM_RPID_MAX, &q->rpid, &q->rpid_len)) != CTAP2_OK)
		return st;
	return CTAP2_OK;
}

uint8_t
clientpin_handle(
    struct sim_dev *d, const cbor_item_t *params, cbor_item_t **ret)
{
	const cbor_item_t *p[CP_NSLOTS];
	struct cp_req q;
	cbor_item_t *map = NULL;
	uint64_t proto = 0, sub = 0;
	uint8_t st;

	*ret = NULL;
	if ((st = cb_map_slots(params, p, CP_NSLOTS)) != CTAP2_OK)
		return st;
	if (p[CP_SUBCOMMAND] == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if ((st = cb_get_uint(p[CP_SUBCOMMAND], &sub)) != CTAP2_OK)
		return st;
	if (p[CP_PROTOCOL] != NULL) {
		if ((st = cb_get_uint(p[CP_PROTOCOL], &proto)) != CTAP2_OK)
			return st;
		if (!pinproto_supported(proto))
			return CTAP1_ERR_INVALID_PARAMETER;
	} else if (sub != CP_GET_PIN_RETRIES && sub != CP_GET_UV_RETRIES)
		return CTAP2_ERR_MISSING_PARAMETER;
	if ((st = parse_req(p, &q)) != CTAP2_OK)
		return st;
	q.proto = (unsigned)proto;

	switch (sub) {
	case CP_GET_PIN_RETRIES:
		if ((map = cbor_new_definite_map(1)) == NULL ||
		    !cb_put(map, cb_uint(CP_RESP_RETRIES),
			cb_uint(d->pin_retries))) {
			if (map != NULL)
				cbor_decref(&map);
			return CTAP1_ERR_OTHER;
		}
		*ret = map;
		return CTAP2_OK;
	case CP_GET_KEY_AGREEMENT:
		if ((map = cbor_new_definite_map(1)) == NULL ||
		    !cb_put(map, cb_uint(CP_RESP_KEY_AGREEMENT),
			cb_cose_p256(d->ka_key, COSE_ALG_ECDH_ES_HKDF_256))) {
			if (map != NULL)
				cbor_decref(&map);
			return CTAP1_ERR_OTHER;
		}
		*ret = map;
		return CTAP2_OK;
	case CP_SET_PIN: return cp_set_pin(d, &q);
	case CP_CHANGE_PIN: return cp_change_pin(d, &q);
	case CP_GET_PIN_TOKEN: return cp_get_token(d, &q, false, ret);
	case CP_GET_PUAT_PIN: return cp_get_token(d, &q, true, ret);
	case CP_GET_PUAT_UV:
	case CP_GET_UV_RETRIES:
		/* No built-in user verification here. */
	default: return CTAP2_ERR_INVALID_SUBCOMMAND;
	}
}

static void
stop_using_puat(struct sim_dev *d)
{
	reset_puat(d);
}

uint8_t
puat_check(struct sim_dev *d, unsigned proto, const uint8_t *cdh, size_t cdhlen,
    const uint8_t *param, size_t paramlen, uint8_t perm, const char *rpid,
    size_t rpidlen)
{
	struct sim_puat_state *t = &d->puat;
	uint64_t age;

	if (!t->in_use)
		return CTAP2_ERR_PIN_AUTH_INVALID;
	age = sim_now_ms() - t->issued_ms;
	if (age > SIM_PUAT_MAX_USE_MS ||
	    (!t->used && age > SIM_PUAT_INITIAL_USE_MS)) {
		stop_using_puat(d);
		return CTAP2_ERR_PIN_AUTH_INVALID;
	}
	if (!pinproto_verify(proto, d->sec->puat, SIM_PUAT_LEN, cdh, cdhlen,
		NULL, 0, param, paramlen))
		return CTAP2_ERR_PIN_AUTH_INVALID;
	if ((t->permissions & perm) == 0)
		return CTAP2_ERR_PIN_AUTH_INVALID;
	if (t->has_rpid) {
		if (strlen(t->rpid) != rpidlen ||
		    memcmp(t->rpid, rpid, rpidlen) != 0)
			return CTAP2_ERR_PIN_AUTH_INVALID;
	} else if (rpidlen <= SIM_RPID_MAX) {
		memcpy(t->rpid, rpid, rpidlen);
		t->rpid[rpidlen] = '\0';
		t->has_rpid = true;
	}
	t->used = true;
	return CTAP2_OK;
}

/* clearUserPresentFlag, clearUserVerifiedFlag and
 * clearPinUvAuthTokenPermissionsExceptLbw (no lbw here). */
void
puat_spent(struct sim_dev *d)
{
	if (d->puat.in_use)
		d->puat.permissions = 0;
}
