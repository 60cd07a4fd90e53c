/* jit-sim-piv's card: APDU framing (chaining, 61xx) and the PIV commands. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "simpiv.h"
#include "wire.h"

#define INS_VERIFY 0x20
#define INS_CHANGE_REF 0x24
#define INS_RESET_RETRY 0x2c
#define INS_GENERATE 0x47
#define INS_AUTHENTICATE 0x87
#define INS_SELECT 0xa4
#define INS_GET_RESPONSE 0xc0
#define INS_GET_DATA 0xcb
#define INS_PUT_DATA 0xdb
#define INS_GET_METADATA 0xf7
#define INS_GET_SERIAL 0xf8
#define INS_ATTEST 0xf9
#define INS_SET_PIN_RETRIES 0xfa
#define INS_RESET 0xfb
#define INS_GET_VERSION 0xfd
#define INS_SET_MGMKEY 0xff
#define INS_MGMT_READ_CONFIG 0x1d

#define CLA_CHAIN 0x10
#define SLOT_MGM 0x9b
#define KEY_PIN 0x80
#define KEY_PUK 0x81
#define OBJ_PROTECTED 0x5fc109
#define OBJ_DISCOVERY 0x7e
#define TLV_LEN_MAX 0xffff

static const uint8_t aid_piv[] = { 0xa0, 0x00, 0x00, 0x03, 0x08 };
static const uint8_t aid_mgmt[] = { 0xa0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11,
	0x17 };
/* What a YubiKey 5 answers to SELECT PIV: its application property
 * template (AID and the coexistent tag allocation authority). */
static const uint8_t piv_apt[] = { 0x61, 0x11, 0x4f, 0x06, 0x00, 0x00, 0x10,
	0x00, 0x01, 0x00, 0x79, 0x07, 0x4f, 0x05, 0xa0, 0x00, 0x00, 0x03,
	0x08 };
static const uint8_t discovery[] = { 0x4f, 0x0b, 0xa0, 0x00, 0x00, 0x03, 0x08,
	0x00, 0x00, 0x10, 0x00, 0x01, 0x00, 0x5f, 0x2f, 0x02, 0x40, 0x00 };
/* A YubiKey 5's ATR: T=1, and a T0 with F in its high nibble (ykman reads
 * that as USB). */
static const uint8_t atr[] = { 0x3b, 0xfd, 0x13, 0x00, 0x00, 0x81, 0x31, 0xfe,
	0x15, 0x80, 0x73, 0xc0, 0x21, 0xc0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4b,
	0x65, 0x79, 0x40 };

/* One command, parsed. */
struct apdu {
	uint8_t cla, ins, p1, p2;
	const uint8_t *data;
	size_t len;
};

size_t
piv_atr(const uint8_t **ret)
{
	*ret = atr;
	return sizeof(atr);
}

void
piv_debug(const struct piv_card *c, const char *fmt, ...)
{
	va_list ap;

	if (c == NULL || !c->verbose)
		return;
	va_start(ap, fmt);
	fputs("jit-sim-piv: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int
piv_slot_index(uint8_t slot)
{
	switch (slot) {
	case 0x9a: return 0;
	case 0x9c: return 1;
	case 0x9d: return 2;
	case 0x9e: return 3;
	case PIV_SLOT_ATTEST: return PIV_ATTEST_INDEX;
	default:
		if (slot >= 0x82 && slot <= 0x95)
			return 4 + (slot - 0x82);
		return -1;
	}
}

static void
clear_security(struct piv_card *c)
{
	c->pin_ok = false;
	c->mgm_ok = false;
	c->witness_pending = false;
	c->challenge_pending = false;
	c->chaining = false;
	c->cmd_len = 0;
	c->resp_len = c->resp_off = 0;
}

void
piv_power(struct piv_card *c, uint8_t event)
{
	piv_debug(c, "power %s",
	    event == PIV_POWER_OFF    ? "off" :
		event == PIV_POWER_ON ? "on" :
					"reset");
	clear_security(c);
	c->app = PIV_APP_NONE;
	c->touch_until_ms = 0;
}

void
piv_card_set_wait(struct piv_card *c, piv_wait_fn wait, void *ctx)
{
	c->wait = wait;
	c->wait_ctx = ctx;
}

/* BER-TLV with a one-byte tag, as every PIV command field is. */
static int
tlv_get(struct wire_reader *r, uint8_t *tag, struct wire_reader *val)
{
	uint8_t b, b2;
	size_t len;

	if (wire_get_u8(r, tag) != 0 || wire_get_u8(r, &b) != 0)
		return JIT_E_FORMAT;
	if (b < 0x80)
		len = b;
	else if (b == 0x81) {
		if (wire_get_u8(r, &b2) != 0)
			return JIT_E_FORMAT;
		len = b2;
	} else if (b == 0x82) {
		uint16_t l16;

		if (wire_get_u16(r, &l16) != 0)
			return JIT_E_FORMAT;
		len = l16;
	} else
		return JIT_E_FORMAT;
	if (wire_left(r) < len)
		return JIT_E_FORMAT;
	wire_reader_init(val, wire_cursor(r), len);
	return wire_skip(r, len);
}

/* The whole of r must be exactly one TLV with this tag. */
static int
tlv_only(struct wire_reader *r, uint8_t want, struct wire_reader *val)
{
	uint8_t tag;

	if (tlv_get(r, &tag, val) != 0 || tag != want || wire_end(r) != 0)
		return JIT_E_FORMAT;
	return JIT_OK;
}

static int
put_len(struct wire_writer *w, size_t n)
{
	if (n < 0x80)
		return wire_put_u8(w, (uint8_t)n);
	if (n <= 0xff)
		return wire_put_u8(w, 0x81) || wire_put_u8(w, (uint8_t)n) ?
		    JIT_E_LIMIT :
		    JIT_OK;
	if (n > TLV_LEN_MAX)
		return JIT_E_LIMIT;
	return wire_put_u8(w, 0x82) || wire_put_u16(w, (uint16_t)n) ?
	    JIT_E_LIMIT :
	    JIT_OK;
}

static int
put_tlv(struct wire_writer *w, uint8_t tag, const uint8_t *p, size_t n)
{
	if (wire_put_u8(w, tag) != 0 || put_len(w, n) != 0 ||
	    wire_put_bytes(w, p, n) != 0)
		return JIT_E_LIMIT;
	return JIT_OK;
}

static bool
pin_blocked(const struct piv_card *c)
{
	return c->pin_tries == 0;
}

/* A touch, as the script says: SW_OK or SW_SECURITY. */
static uint16_t
touch(struct piv_card *c)
{
	struct sim_touch t;
	uint64_t wait_ms = 0;
	bool ok = true;

	if (sim_touch_current(&c->touch, &t) != 0)
		piv_debug(c, "touch: the control file holds no valid mode");
	switch (t.mode) {
	case SIM_TOUCH_APPROVE: piv_debug(c, "touch: approved"); return SW_OK;
	case SIM_TOUCH_DENY: piv_debug(c, "touch: denied"); return SW_SECURITY;
	case SIM_TOUCH_TIMEOUT:
		wait_ms = (uint64_t)c->touch_timeout_ms;
		ok = false;
		break;
	case SIM_TOUCH_DELAY: wait_ms = (uint64_t)t.delay_ms; break;
	case SIM_TOUCH_ASK:
		if (c->wait == NULL)
			return SW_SECURITY;
		return sim_touch_ask(c->wait, c->wait_ctx) == SIM_ASK_TOUCHED ?
		    SW_OK :
		    SW_SECURITY;
	}
	piv_debug(c, "touch: waiting %llu ms", (unsigned long long)wait_ms);
	if (c->wait != NULL &&
	    c->wait(c->wait_ctx, wait_ms, -1) != SIM_WAIT_ELAPSED)
		return SW_SECURITY;
	return ok ? SW_OK : SW_SECURITY;
}

/* --- PIN, PUK ---------------------------------------------------------- */

static void
code_hash(const uint8_t code[PIV_PIN_LEN], uint8_t out[32])
{
	crypto_generichash(out, 32, code, PIV_PIN_LEN, NULL, 0);
}

/* A code is 6 to 8 bytes, padded with 0xff to 8. */
static bool
code_valid(const uint8_t code[PIV_PIN_LEN])
{
	size_t n = 0;

	while (n < PIV_PIN_LEN && code[n] != 0xff)
		n++;
	for (size_t i = n; i < PIV_PIN_LEN; i++)
		if (code[i] != 0xff)
			return false;
	return n >= 6;
}

/* Check a code against its hash and count the try. */
static uint16_t
code_check(struct piv_card *c, bool puk, const uint8_t code[PIV_PIN_LEN])
{
	uint8_t h[32];
	unsigned *tries = puk ? &c->puk_tries : &c->pin_tries;
	unsigned max = puk ? c->puk_max : c->pin_max;
	const uint8_t *want = puk ? c->sec->puk_hash : c->sec->pin_hash;

	if (*tries == 0)
		return SW_BLOCKED;
	code_hash(code, h);
	if (sodium_memcmp(h, want, sizeof(h)) != 0) {
		(*tries)--;
		if (!puk)
			c->pin_ok = false;
		(void)piv_state_save(c);
		return (uint16_t)(SW_VERIFY_FAIL | *tries);
	}
	if (*tries != max) {
		*tries = max;
		(void)piv_state_save(c);
	}
	return SW_OK;
}

static uint16_t
cmd_verify(struct piv_card *c, const struct apdu *a)
{
	uint16_t sw;

	if (a->p2 != KEY_PIN)
		return SW_REF_NOT_FOUND;
	if (a->p1 == 0xff && a->len == 0) {
		c->pin_ok = false;
		return SW_OK;
	}
	if (a->p1 != 0)
		return SW_WRONG_P1P2;
	if (a->len == 0) {
		if (c->pin_ok)
			return SW_OK;
		return pin_blocked(c) ?
		    SW_BLOCKED :
		    (uint16_t)(SW_VERIFY_FAIL | c->pin_tries);
	}
	if (a->len != PIV_PIN_LEN)
		return SW_WRONG_DATA;
	if ((sw = code_check(c, false, a->data)) == SW_OK)
		c->pin_ok = true;
	return sw;
}

/* CHANGE REFERENCE DATA (old || new) and RESET RETRY COUNTER (PUK || new
 * PIN). */
static uint16_t
cmd_change(struct piv_card *c, const struct apdu *a)
{
	bool puk = a->p2 == KEY_PUK, unblock = a->ins == INS_RESET_RETRY;
	uint16_t sw;

	if (a->p1 != 0 || (a->p2 != KEY_PIN && a->p2 != KEY_PUK) ||
	    (unblock && puk))
		return SW_WRONG_P1P2;
	if (a->len != 2 * PIV_PIN_LEN)
		return SW_WRONG_DATA;
	if ((sw = code_check(c, puk || unblock, a->data)) != SW_OK)
		return sw;
	if (!code_valid(a->data + PIV_PIN_LEN))
		return SW_WRONG_DATA;
	if (puk && !unblock) {
		code_hash(a->data + PIV_PIN_LEN, c->sec->puk_hash);
		c->puk_default = false;
	} else {
		code_hash(a->data + PIV_PIN_LEN, c->sec->pin_hash);
		c->pin_default = false;
		c->pin_tries = c->pin_max;
	}
	return piv_state_save(c) == 0 ? SW_OK : SW_CONDITIONS;
}

/* --- management key ------------------------------------------------------ */

static uint16_t
cmd_auth_mgm(struct piv_card *c, const struct apdu *a, struct wire_writer *w)
{
	struct wire_reader r, tpl, f;
	size_t bl = piv_mgm_block_len(c->mgm_alg);
	uint8_t tag, enc[16], mine[16];
	uint16_t sw;

	if (a->p1 != c->mgm_alg)
		return SW_WRONG_DATA;
	wire_reader_init(&r, a->data, a->len);
	if (tlv_only(&r, 0x7c, &tpl) != 0 || tlv_get(&tpl, &tag, &f) != 0)
		return SW_WRONG_DATA;
	if (tag == 0x80 && wire_left(&f) == 0 && wire_end(&tpl) == 0) {
		/* Mutual, step 1: the card's witness, encrypted. */
		randombytes_buf(c->sec->witness, bl);
		if (piv_mgm_encrypt(c->mgm_alg, c->sec->mgm_key, c->mgm_len,
			c->sec->witness, bl, enc) != 0)
			return SW_CONDITIONS;
		c->witness_pending = true;
		c->challenge_pending = false;
		if (wire_put_u8(w, 0x7c) != 0 || put_len(w, 2 + bl) != 0 ||
		    put_tlv(w, 0x80, enc, bl) != 0)
			return SW_CONDITIONS;
		return SW_OK;
	}
	if (tag == 0x81 && wire_left(&f) == 0 && wire_end(&tpl) == 0) {
		/* One-way, step 1: a challenge the host encrypts. */
		randombytes_buf(c->sec->challenge, bl);
		c->challenge_pending = true;
		c->witness_pending = false;
		if (wire_put_u8(w, 0x7c) != 0 || put_len(w, 2 + bl) != 0 ||
		    put_tlv(w, 0x81, c->sec->challenge, bl) != 0)
			return SW_CONDITIONS;
		return SW_OK;
	}
	if (tag == 0x82 && c->challenge_pending && wire_left(&f) == bl &&
	    wire_end(&tpl) == 0) {
		c->challenge_pending = false;
		if (piv_mgm_encrypt(c->mgm_alg, c->sec->mgm_key, c->mgm_len,
			c->sec->challenge, bl, mine) != 0 ||
		    sodium_memcmp(mine, wire_cursor(&f), bl) != 0)
			return SW_SECURITY;
		if (c->mgm_touch && (sw = touch(c)) != SW_OK)
			return sw;
		c->mgm_ok = true;
		return SW_OK;
	}
	if (tag == 0x80 && c->witness_pending && wire_left(&f) == bl) {
		/* Mutual, step 2: the decrypted witness and the host's
		 * challenge. */
		struct wire_reader chal;

		c->witness_pending = false;
		if (sodium_memcmp(wire_cursor(&f), c->sec->witness, bl) != 0)
			return SW_SECURITY;
		if (tlv_get(&tpl, &tag, &chal) != 0 || tag != 0x81 ||
		    wire_left(&chal) != bl || wire_end(&tpl) != 0)
			return SW_WRONG_DATA;
		if (c->mgm_touch && (sw = touch(c)) != SW_OK)
			return sw;
		if (piv_mgm_encrypt(c->mgm_alg, c->sec->mgm_key, c->mgm_len,
			wire_cursor(&chal), bl, enc) != 0)
			return SW_CONDITIONS;
		c->mgm_ok = true;
		if (wire_put_u8(w, 0x7c) != 0 || put_len(w, 2 + bl) != 0 ||
		    put_tlv(w, 0x82, enc, bl) != 0)
			return SW_CONDITIONS;
		return SW_OK;
	}
	c->witness_pending = c->challenge_pending = false;
	return SW_SECURITY;
}

static uint16_t
cmd_set_mgmkey(struct piv_card *c, const struct apdu *a)
{
	struct wire_reader r, key;
	uint8_t alg, tag;

	if (!c->mgm_ok)
		return SW_SECURITY;
	if (a->p1 != 0xff || (a->p2 != 0xff && a->p2 != 0xfe))
		return SW_WRONG_P1P2;
	wire_reader_init(&r, a->data, a->len);
	if (wire_get_u8(&r, &alg) != 0 || tlv_get(&r, &tag, &key) != 0 ||
	    tag != SLOT_MGM || wire_end(&r) != 0 || piv_mgm_key_len(alg) == 0 ||
	    wire_left(&key) != piv_mgm_key_len(alg))
		return SW_WRONG_DATA;
	c->mgm_alg = alg;
	c->mgm_len = wire_left(&key);
	memcpy(c->sec->mgm_key, wire_cursor(&key), c->mgm_len);
	c->mgm_touch = a->p2 == 0xfe;
	c->mgm_default = false;
	return piv_state_save(c) == 0 ? SW_OK : SW_CONDITIONS;
}

/* --- keys ---------------------------------------------------------------- */

static uint8_t
default_pin_policy(uint8_t slot)
{
	if (slot == 0x9c)
		return PIV_PIN_POLICY_ALWAYS;
	if (slot == 0x9e)
		return PIV_PIN_POLICY_NEVER;
	return PIV_PIN_POLICY_ONCE;
}

static int
put_point(struct wire_writer *w, EVP_PKEY *pk)
{
	uint8_t pt[97];
	size_t n = 0;

	if (piv_ec_point(pk, pt, sizeof(pt), &n) != 0)
		return JIT_E_CRYPTO;
	return put_tlv(w, 0x86, pt, n);
}

static uint16_t
cmd_generate(struct piv_card *c, const struct apdu *a, struct wire_writer *w)
{
	struct wire_reader r, tpl, f;
	struct piv_key k = { 0 };
	uint8_t tag, v, pin_pol = 0, touch_pol = 0;
	bool have_alg = false;
	int i;

	if (!c->mgm_ok)
		return SW_SECURITY;
	if (a->p1 != 0 || (i = piv_slot_index(a->p2)) < 0 ||
	    a->p2 == PIV_SLOT_ATTEST)
		return SW_WRONG_P1P2;
	wire_reader_init(&r, a->data, a->len);
	if (tlv_only(&r, 0xac, &tpl) != 0)
		return SW_WRONG_DATA;
	while (wire_left(&tpl) > 0) {
		if (tlv_get(&tpl, &tag, &f) != 0 || wire_get_u8(&f, &v) != 0 ||
		    wire_end(&f) != 0)
			return SW_WRONG_DATA;
		if (tag == 0x80) {
			k.alg = v;
			have_alg = true;
		} else if (tag == 0xaa && v <= PIV_PIN_POLICY_ALWAYS)
			pin_pol = v;
		else if (tag == 0xab && v <= PIV_TOUCH_POLICY_CACHED)
			touch_pol = v;
		else
			return SW_WRONG_DATA;
	}
	if (!have_alg || piv_ec_field_len(k.alg) == 0)
		return SW_WRONG_DATA;
	k.pin_policy = pin_pol ? pin_pol : default_pin_policy(a->p2);
	k.touch_policy = touch_pol ? touch_pol : PIV_TOUCH_POLICY_NEVER;
	k.origin = PIV_ORIGIN_GENERATED;
	if (piv_ec_generate(k.alg, &k.pk) != 0)
		return SW_CONDITIONS;
	k.present = true;
	if (wire_put_u8(w, 0x7f) != 0 || wire_put_u8(w, 0x49) != 0 ||
	    put_len(w, 2 + 1 + 2 * piv_ec_field_len(k.alg)) != 0 ||
	    put_point(w, k.pk) != 0) {
		EVP_PKEY_free(k.pk);
		return SW_CONDITIONS;
	}
	EVP_PKEY_free(c->keys[i].pk);
	c->keys[i] = k;
	piv_debug(c, "generated a key in slot %02x", a->p2);
	return piv_state_save(c) == 0 ? SW_OK : SW_CONDITIONS;
}

/* PIN and touch as the key's policies ask. */
static uint16_t
key_access(struct piv_card *c, struct piv_key *k)
{
	uint64_t now;
	uint16_t sw;

	if (k->pin_policy != PIV_PIN_POLICY_NEVER && !c->pin_ok)
		return SW_SECURITY;
	now = sim_touch_now_ms();
	if (k->touch_policy == PIV_TOUCH_POLICY_ALWAYS ||
	    (k->touch_policy == PIV_TOUCH_POLICY_CACHED &&
		now >= c->touch_until_ms)) {
		if ((sw = touch(c)) != SW_OK)
			return sw;
		if (k->touch_policy == PIV_TOUCH_POLICY_CACHED)
			c->touch_until_ms = sim_touch_now_ms() +
			    PIV_TOUCH_CACHE_MS;
	}
	if (k->pin_policy == PIV_PIN_POLICY_ALWAYS)
		c->pin_ok = false;
	return SW_OK;
}

/* Sign (81) or ECDH (85) with a slot's key. */
static uint16_t
cmd_auth_key(struct piv_card *c, const struct apdu *a, struct wire_writer *w)
{
	struct wire_reader r, tpl, resp, in;
	struct piv_key *k;
	uint8_t tag, out[128];
	size_t n = 0, field;
	uint16_t sw;
	int i, rc;

	if ((i = piv_slot_index(a->p2)) < 0 || a->p2 == PIV_SLOT_ATTEST)
		return SW_WRONG_P1P2;
	k = &c->keys[i];
	wire_reader_init(&r, a->data, a->len);
	if (tlv_only(&r, 0x7c, &tpl) != 0 || tlv_get(&tpl, &tag, &resp) != 0 ||
	    tag != 0x82 || wire_left(&resp) != 0 ||
	    tlv_get(&tpl, &tag, &in) != 0 || wire_end(&tpl) != 0 ||
	    (tag != 0x81 && tag != 0x85))
		return SW_WRONG_DATA;
	if (!k->present)
		return SW_REF_NOT_FOUND;
	if (a->p1 != k->alg)
		return SW_WRONG_DATA;
	field = piv_ec_field_len(k->alg);
	if ((tag == 0x81 && wire_left(&in) > field) ||
	    (tag == 0x85 && wire_left(&in) != 2 * field + 1))
		return SW_WRONG_DATA;
	if ((sw = key_access(c, k)) != SW_OK)
		return sw;
	if (tag == 0x81)
		rc = piv_ec_sign(k->pk, wire_cursor(&in), wire_left(&in), out,
		    sizeof(out), &n);
	else
		rc = piv_ec_dh(k->pk, wire_cursor(&in), wire_left(&in), out,
		    sizeof(out), &n);
	if (rc != 0) {
		sodium_memzero(out, sizeof(out));
		return SW_WRONG_DATA;
	}
	rc = wire_put_u8(w, 0x7c) != 0 || put_len(w, 2 + n) != 0 ||
	    put_tlv(w, 0x82, out, n) != 0;
	sodium_memzero(out, sizeof(out));
	return rc ? SW_CONDITIONS : SW_OK;
}

static uint16_t
cmd_authenticate(
    struct piv_card *c, const struct apdu *a, struct wire_writer *w)
{
	if (a->p2 == SLOT_MGM)
		return cmd_auth_mgm(c, a, w);
	return cmd_auth_key(c, a, w);
}

static uint16_t
cmd_attest(struct piv_card *c, const struct apdu *a, struct wire_writer *w)
{
	uint8_t *der = NULL;
	size_t n = 0;
	int i, r;

	if ((i = piv_slot_index(a->p1)) < 0 || a->p1 == PIV_SLOT_ATTEST ||
	    a->p2 != 0)
		return SW_WRONG_P1P2;
	if (!c->keys[i].present)
		return SW_REF_NOT_FOUND;
	if (c->keys[i].origin != PIV_ORIGIN_GENERATED)
		return SW_WRONG_DATA;
	if (!c->keys[PIV_ATTEST_INDEX].present)
		return SW_CONDITIONS;
	if ((r = piv_cert_attest(c, a->p1, &c->keys[i], &der, &n)) != 0)
		return SW_CONDITIONS;
	r = wire_put_bytes(w, der, n);
	free(der);
	return r == 0 ? SW_OK : SW_CONDITIONS;
}

static uint16_t
cmd_metadata(struct piv_card *c, const struct apdu *a, struct wire_writer *w)
{
	uint8_t v[2];
	int i, r = 0;

	if (a->p1 != 0)
		return SW_WRONG_P1P2;
	if (a->p2 == KEY_PIN || a->p2 == KEY_PUK) {
		bool puk = a->p2 == KEY_PUK;

		v[0] = 0xff;
		r |= put_tlv(w, 0x01, v, 1);
		v[0] = puk ? c->puk_default : c->pin_default;
		r |= put_tlv(w, 0x05, v, 1);
		v[0] = (uint8_t)(puk ? c->puk_max : c->pin_max);
		v[1] = (uint8_t)(puk ? c->puk_tries : c->pin_tries);
		r |= put_tlv(w, 0x06, v, 2);
	} else if (a->p2 == SLOT_MGM) {
		v[0] = c->mgm_alg;
		r |= put_tlv(w, 0x01, v, 1);
		v[0] = 0;
		v[1] = c->mgm_touch ? PIV_TOUCH_POLICY_ALWAYS :
				      PIV_TOUCH_POLICY_NEVER;
		r |= put_tlv(w, 0x02, v, 2);
		v[0] = c->mgm_default;
		r |= put_tlv(w, 0x05, v, 1);
	} else if ((i = piv_slot_index(a->p2)) >= 0) {
		struct piv_key *k = &c->keys[i];
		struct wire_writer pub;

		if (!k->present)
			return SW_REF_NOT_FOUND;
		v[0] = k->alg;
		r |= put_tlv(w, 0x01, v, 1);
		v[0] = k->pin_policy;
		v[1] = k->touch_policy;
		r |= put_tlv(w, 0x02, v, 2);
		v[0] = k->origin;
		r |= put_tlv(w, 0x03, v, 1);
		wire_writer_init(&pub, 128, false);
		r |= put_point(&pub, k->pk);
		if (r == 0)
			r |= put_tlv(w, 0x04, wire_writer_data(&pub),
			    wire_writer_len(&pub));
		wire_writer_reset(&pub);
	} else
		return SW_REF_NOT_FOUND;
	return r == 0 ? SW_OK : SW_CONDITIONS;
}

/* --- data objects ---------------------------------------------------------- */

static int
object_tag(struct wire_reader *r, uint32_t *ret)
{
	struct wire_reader t;
	uint8_t tag, b;
	uint32_t v = 0;

	if (tlv_get(r, &tag, &t) != 0 || tag != 0x5c)
		return JIT_E_FORMAT;
	if (wire_left(&t) == 1) {
		(void)wire_get_u8(&t, &b);
		if (b != OBJ_DISCOVERY)
			return JIT_E_FORMAT;
		*ret = OBJ_DISCOVERY;
		return JIT_OK;
	}
	if (wire_left(&t) != 3)
		return JIT_E_FORMAT;
	while (wire_get_u8(&t, &b) == 0)
		v = v << 8 | b;
	*ret = v;
	return JIT_OK;
}

static uint16_t
cmd_get_data(struct piv_card *c, const struct apdu *a, struct wire_writer *w)
{
	const struct piv_object *o;
	struct wire_reader r;
	uint32_t tag;

	if (a->p1 != 0x3f || a->p2 != 0xff)
		return SW_WRONG_P1P2;
	wire_reader_init(&r, a->data, a->len);
	if (object_tag(&r, &tag) != 0 || wire_end(&r) != 0)
		return SW_WRONG_DATA;
	if (tag == OBJ_DISCOVERY)
		return put_tlv(w, 0x7e, discovery, sizeof(discovery)) == 0 ?
		    SW_OK :
		    SW_CONDITIONS;
	if ((o = piv_object_get(c, tag)) == NULL)
		return SW_NOT_FOUND;
	if (tag == OBJ_PROTECTED && !c->pin_ok)
		return SW_SECURITY;
	return put_tlv(w, 0x53, o->data, o->len) == 0 ? SW_OK : SW_CONDITIONS;
}

static uint16_t
cmd_put_data(struct piv_card *c, const struct apdu *a)
{
	struct wire_reader r, val;
	uint32_t tag;
	uint8_t t;

	if (!c->mgm_ok)
		return SW_SECURITY;
	if (a->p1 != 0x3f || a->p2 != 0xff)
		return SW_WRONG_P1P2;
	wire_reader_init(&r, a->data, a->len);
	if (object_tag(&r, &tag) != 0 || tag == OBJ_DISCOVERY ||
	    tlv_get(&r, &t, &val) != 0 || t != 0x53 || wire_end(&r) != 0)
		return SW_WRONG_DATA;
	if (wire_left(&val) > PIV_OBJ_MAX)
		return SW_WRONG_LENGTH;
	if (piv_object_set(c, tag, wire_cursor(&val), wire_left(&val)) != 0)
		return SW_CONDITIONS; /* no room for another object */
	return piv_state_save(c) == 0 ? SW_OK : SW_CONDITIONS;
}

/* --- the rest ------------------------------------------------------------ */

static uint16_t
cmd_set_pin_retries(struct piv_card *c, const struct apdu *a)
{
	if (!c->mgm_ok || !c->pin_ok)
		return SW_SECURITY;
	if (a->p1 == 0 || a->p2 == 0 || a->p1 > PIV_TRIES_MAX ||
	    a->p2 > PIV_TRIES_MAX)
		return SW_WRONG_P1P2;
	c->pin_max = c->pin_tries = a->p1;
	c->puk_max = c->puk_tries = a->p2;
	{
		static const uint8_t pin[PIV_PIN_LEN] = { '1', '2', '3', '4',
			'5', '6', 0xff, 0xff };
		static const uint8_t puk[PIV_PIN_LEN] = { '1', '2', '3', '4',
			'5', '6', '7', '8' };

		code_hash(pin, c->sec->pin_hash);
		code_hash(puk, c->sec->puk_hash);
	}
	c->pin_default = c->puk_default = true;
	return piv_state_save(c) == 0 ? SW_OK : SW_CONDITIONS;
}

static uint16_t
cmd_reset(struct piv_card *c)
{
	if (c->pin_tries != 0 || c->puk_tries != 0)
		return SW_CONDITIONS;
	piv_factory_reset(c);
	clear_security(c);
	c->app = PIV_APP_PIV;
	piv_debug(c, "reset to factory defaults");
	return piv_state_save(c) == 0 ? SW_OK : SW_CONDITIONS;
}

static uint16_t
cmd_select(struct piv_card *c, const struct apdu *a, struct wire_writer *w)
{
	char text[64];
	int n;

	if (a->p1 != 0x04)
		return SW_WRONG_P1P2;
	if (a->len >= sizeof(aid_piv) &&
	    memcmp(a->data, aid_piv, sizeof(aid_piv)) == 0) {
		clear_security(c);
		c->app = PIV_APP_PIV;
		return wire_put_bytes(w, piv_apt, sizeof(piv_apt)) == 0 ?
		    SW_OK :
		    SW_CONDITIONS;
	}
	if (a->len == sizeof(aid_mgmt) &&
	    memcmp(a->data, aid_mgmt, sizeof(aid_mgmt)) == 0) {
		clear_security(c);
		c->app = PIV_APP_MGMT;
		n = snprintf(text, sizeof(text),
		    "jit-sim-piv - FW version %u.%u.%u", c->version[0],
		    c->version[1], c->version[2]);
		return wire_put_bytes(w, text, (size_t)n) == 0 ? SW_OK :
								 SW_CONDITIONS;
	}
	return SW_NOT_FOUND; /* the selection stays as it was */
}

/* Management READ CONFIG: what ykman needs to know this is a PIV-only
 * device with a serial. */
static uint16_t
cmd_read_config(struct piv_card *c, struct wire_writer *w)
{
	struct wire_writer t;
	uint8_t caps[2] = { 0x00, 0x10 }, ser[4], ff = 0x01;
	int r;

	ser[0] = (uint8_t)(c->serial >> 24);
	ser[1] = (uint8_t)(c->serial >> 16);
	ser[2] = (uint8_t)(c->serial >> 8);
	ser[3] = (uint8_t)c->serial;
	wire_writer_init(&t, 64, false);
	r = put_tlv(&t, 0x01, caps, 2) | put_tlv(&t, 0x02, ser, 4) |
	    put_tlv(&t, 0x03, caps, 2) | put_tlv(&t, 0x04, &ff, 1) |
	    put_tlv(&t, 0x05, c->version, 3);
	if (r == 0)
		r = wire_put_u8(w, (uint8_t)wire_writer_len(&t)) |
		    wire_put_bytes(
			w, wire_writer_data(&t), wire_writer_len(&t));
	wire_writer_reset(&t);
	return r == 0 ? SW_OK : SW_CONDITIONS;
}

static uint16_t
dispatch(struct piv_card *c, const struct apdu *a, struct wire_writer *w)
{
	if (a->ins == INS_SELECT)
		return cmd_select(c, a, w);
	if (c->app == PIV_APP_MGMT)
		return a->ins == INS_MGMT_READ_CONFIG ? cmd_read_config(c, w) :
							SW_INS;
	if (c->app != PIV_APP_PIV)
		return SW_INS;
	switch (a->ins) {
	case INS_VERIFY: return cmd_verify(c, a);
	case INS_CHANGE_REF:
	case INS_RESET_RETRY: return cmd_change(c, a);
	case INS_GENERATE: return cmd_generate(c, a, w);
	case INS_AUTHENTICATE: return cmd_authenticate(c, a, w);
	case INS_GET_DATA: return cmd_get_data(c, a, w);
	case INS_PUT_DATA: return cmd_put_data(c, a);
	case INS_GET_METADATA: return cmd_metadata(c, a, w);
	case INS_ATTEST: return cmd_attest(c, a, w);
	case INS_SET_PIN_RETRIES: return cmd_set_pin_retries(c, a);
	case INS_RESET: return cmd_reset(c);
	case INS_SET_MGMKEY: return cmd_set_mgmkey(c, a);
	case INS_GET_VERSION:
		return wire_put_bytes(w, c->version, 3) == 0 ? SW_OK :
							       SW_CONDITIONS;
	case INS_GET_SERIAL: {
		uint8_t s[4] = { (uint8_t)(c->serial >> 24),
			(uint8_t)(c->serial >> 16), (uint8_t)(c->serial >> 8),
			(uint8_t)c->serial };

		return wire_put_bytes(w, s, 4) == 0 ? SW_OK : SW_CONDITIONS;
	}
	default: return SW_INS;
	}
}

/* --- framing --------------------------------------------------------------- */

/* Short or extended, with or without Le; no client sends Le, but a
 * present one is accepted and ignored (the whole answer comes in
 * 256-byte pieces anyway). */
static int
apdu_parse(const uint8_t *p, size_t n, struct apdu *a)
{
	struct wire_reader r;
	uint8_t b;
	uint16_t lc;

	memset(a, 0, sizeof(*a));
	wire_reader_init(&r, p, n);
	if (wire_get_u8(&r, &a->cla) != 0 || wire_get_u8(&r, &a->ins) != 0 ||
	    wire_get_u8(&r, &a->p1) != 0 || wire_get_u8(&r, &a->p2) != 0)
		return JIT_E_FORMAT;
	if (wire_left(&r) <= 1) /* case 1, or case 2 short */
		return JIT_OK;
	(void)wire_peek_u8(&r, &b);
	if (b == 0 && wire_left(&r) >= 3) { /* extended */
		(void)wire_skip(&r, 1);
		if (wire_get_u16(&r, &lc) != 0)
			return JIT_E_FORMAT;
		if (wire_left(&r) == 0) /* case 2 extended */
			return JIT_OK;
	} else {
		(void)wire_get_u8(&r, &b);
		lc = b;
	}
	a->data = wire_cursor(&r);
	a->len = lc;
	if (wire_skip(&r, lc) != 0)
		return JIT_E_FORMAT;
	/* Le: none, one byte (short) or two (extended). */
	if (wire_left(&r) > 2)
		return JIT_E_FORMAT;
	return JIT_OK;
}

/* Hand out the next piece of a pending response. */
static size_t
reply_piece(struct piv_card *c, uint8_t out[PIV_REPLY_MAX])
{
	size_t left = c->resp_len - c->resp_off;
	size_t n = left > PIV_RESP_CHUNK ? PIV_RESP_CHUNK : left;

	memcpy(out, c->resp + c->resp_off, n);
	c->resp_off += n;
	left -= n;
	if (left == 0) {
		c->resp_len = c->resp_off = 0;
		out[n] = 0x90;
		out[n + 1] = 0x00;
	} else {
		out[n] = 0x61;
		out[n + 1] = left > 0xff ? 0x00 : (uint8_t)left;
	}
	return n + 2;
}

static size_t
reply_sw(uint8_t out[PIV_REPLY_MAX], uint16_t sw)
{
	out[0] = (uint8_t)(sw >> 8);
	out[1] = (uint8_t)sw;
	return 2;
}

size_t
piv_apdu(
    struct piv_card *c, const uint8_t *p, size_t n, uint8_t out[PIV_REPLY_MAX])
{
	struct wire_writer w;
	struct apdu a;
	uint16_t sw;
	size_t len;

	if (apdu_parse(p, n, &a) != 0)
		return reply_sw(out, SW_WRONG_LENGTH);
	piv_debug(c, "apdu %02x %02x %02x %02x, %zu bytes", a.cla, a.ins, a.p1,
	    a.p2, a.len);
	if ((a.cla & ~CLA_CHAIN) != 0)
		return reply_sw(out, SW_CLA);
	if (a.ins == INS_GET_RESPONSE) {
		if (c->resp_len == 0)
			return reply_sw(out, SW_CONDITIONS);
		return reply_piece(c, out);
	}
	c->resp_len = c->resp_off = 0;
	if (c->chaining &&
	    (a.ins != c->chain_ins || a.p1 != c->chain_p1 ||
		a.p2 != c->chain_p2)) {
		/* Another command ends an unfinished chain. */
		c->chaining = false;
		c->cmd_len = 0;
	}
	if ((a.cla & CLA_CHAIN) != 0 || c->chaining) {
		if (a.len > PIV_CMD_MAX - c->cmd_len) {
			c->chaining = false;
			c->cmd_len = 0;
			return reply_sw(out, SW_WRONG_LENGTH);
		}
		if (a.len > 0)
			memcpy(c->cmd + c->cmd_len, a.data, a.len);
		c->cmd_len += a.len;
		if ((a.cla & CLA_CHAIN) != 0) {
			c->chaining = true;
			c->chain_ins = a.ins;
			c->chain_p1 = a.p1;
			c->chain_p2 = a.p2;
			return reply_sw(out, SW_OK);
		}
		c->chaining = false;
		a.data = c->cmd;
		a.len = c->cmd_len;
		c->cmd_len = 0;
	}
	wire_writer_init(&w, PIV_RESP_MAX, true);
	sw = dispatch(c, &a, &w);
	piv_debug(c, "sw %04x, %zu bytes", sw, wire_writer_len(&w));
	if (sw != SW_OK || wire_writer_len(&w) == 0) {
		wire_writer_reset(&w);
		return reply_sw(out, sw);
	}
	len = wire_writer_len(&w);
	memcpy(c->resp, wire_writer_data(&w), len);
	wire_writer_reset(&w);
	c->resp_len = len;
	c->resp_off = 0;
	return reply_piece(c, out);
}

int
piv_card_new(const struct piv_config *cfg, struct piv_card **ret)
{
	static const uint8_t default_version[3] = { 5, 4, 3 };
	struct piv_card *c;
	bool found = false, dirty = false;
	EVP_PKEY *issuer_key = NULL;
	X509 *issuer_cert = NULL;
	int r;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return JIT_E_NOMEM;
	if ((c->sec = sodium_malloc(sizeof(*c->sec))) == NULL ||
	    (c->cmd = sodium_malloc(PIV_CMD_MAX)) == NULL ||
	    (c->resp = sodium_malloc(PIV_RESP_MAX)) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	sodium_memzero(c->sec, sizeof(*c->sec));
	c->touch = cfg->touch;
	c->verbose = cfg->verbose;
	c->touch_timeout_ms = cfg->touch_timeout_ms > 0 ?
	    cfg->touch_timeout_ms :
	    sim_touch_timeout_from_env();
	if (cfg->state_path != NULL &&
	    (c->state_path = strdup(cfg->state_path)) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	if (c->state_path != NULL && (r = piv_state_load(c, &found)) != 0)
		goto out;
	if (!found) {
		c->serial = 10000001;
		memcpy(c->version, default_version, 3);
		piv_factory_reset(c);
		if ((r = piv_attestation_ca_new(c, NULL, NULL)) != 0)
			goto out;
		dirty = true;
	}
	if (cfg->attest_ca_key != NULL) {
		if ((r = piv_load_issuer(cfg->attest_ca_key,
			 cfg->attest_ca_cert, &issuer_key, &issuer_cert)) !=
			0 ||
		    (r = piv_attestation_ca_new(c, issuer_key, issuer_cert)) !=
			0)
			goto out;
		dirty = true;
	}
	if (cfg->serial != 0 && cfg->serial != c->serial) {
		c->serial = cfg->serial;
		dirty = true;
	}
	if (cfg->version != NULL && memcmp(cfg->version, c->version, 3) != 0) {
		memcpy(c->version, cfg->version, 3);
		dirty = true;
	}
	if (dirty && (r = piv_state_save(c)) != 0)
		goto out;
	*ret = c;
	c = NULL;
	r = JIT_OK;
out:
	EVP_PKEY_free(issuer_key);
	X509_free(issuer_cert);
	piv_card_free(c);
	return r;
}

void
piv_card_free(struct piv_card *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < PIV_SLOTS; i++)
		EVP_PKEY_free(c->keys[i].pk);
	for (i = 0; i < c->nobjects; i++)
		free(c->objects[i].data);
	sodium_free(c->sec);
	sodium_free(c->cmd);
	sodium_free(c->resp);
	free(c->state_path);
	free(c);
}
