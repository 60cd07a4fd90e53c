/* Strict CBOR for the simulator: canonical-only reading and minimal writing. */
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "sim.h"
#include "wire.h"

/* CTAP2 messages nest four or five levels; refuse anything deeper. */
#define CB_DEPTH_MAX 8
/* Encoded map keys longer than this are refused (CTAP keys are short). */
#define CB_KEY_ENC_MAX 128

/* Major types (RFC 8949 section 3.1). */
#define CB_MAJOR_UINT 0
#define CB_MAJOR_NEGINT 1
#define CB_MAJOR_BYTES 2
#define CB_MAJOR_TEXT 3
#define CB_MAJOR_ARRAY 4
#define CB_MAJOR_MAP 5
#define CB_MAJOR_SIMPLE 7
#define CB_SIMPLE_FALSE 20
#define CB_SIMPLE_NULL 22

static uint8_t check_item(const cbor_item_t *it, int depth);

/* An integer must use the smallest width that holds it. */
static bool
int_is_minimal(const cbor_item_t *it)
{
	uint64_t v = cbor_get_int(it);

	switch (cbor_int_get_width(it)) {
	case CBOR_INT_8: return true;
	case CBOR_INT_16: return v > UINT8_MAX;
	case CBOR_INT_32: return v > UINT16_MAX;
	case CBOR_INT_64: return v > UINT32_MAX;
	}
	return false;
}

/* Canonical CBOR (CTAP2 section 8): keys ordered by encoded length, then
 * by their bytes; no duplicates. */
static uint8_t
check_map_order(const cbor_item_t *map)
{
	struct cbor_pair *pairs = cbor_map_handle(map);
	size_t n = cbor_map_size(map);
	uint8_t prev[CB_KEY_ENC_MAX], cur[CB_KEY_ENC_MAX];
	size_t prevlen = 0, curlen;

	for (size_t i = 0; i < n; i++) {
		if ((curlen = cbor_serialize(pairs[i].key, cur, sizeof(cur))) ==
		    0)
			return CTAP2_ERR_INVALID_CBOR;
		if (i > 0 &&
		    (curlen < prevlen ||
			(curlen == prevlen && memcmp(cur, prev, curlen) <= 0)))
			return CTAP2_ERR_INVALID_CBOR;
		memcpy(prev, cur, curlen);
		prevlen = curlen;
	}
	return CTAP2_OK;
}

static uint8_t
check_item(const cbor_item_t *it, int depth)
{
	uint8_t st;

	if (depth > CB_DEPTH_MAX)
		return CTAP2_ERR_INVALID_CBOR;
	switch (cbor_typeof(it)) {
	case CBOR_TYPE_UINT:
	case CBOR_TYPE_NEGINT:
		return int_is_minimal(it) ? CTAP2_OK : CTAP2_ERR_INVALID_CBOR;
	case CBOR_TYPE_BYTESTRING:
		return cbor_bytestring_is_definite(it) ? CTAP2_OK :
							 CTAP2_ERR_INVALID_CBOR;
	case CBOR_TYPE_STRING:
		return cbor_string_is_definite(it) ? CTAP2_OK :
						     CTAP2_ERR_INVALID_CBOR;
	case CBOR_TYPE_ARRAY:
		if (!cbor_array_is_definite(it))
			return CTAP2_ERR_INVALID_CBOR;
		for (size_t i = 0; i < cbor_array_size(it); i++) {
			cbor_item_t **items = cbor_array_handle(it);

			if ((st = check_item(items[i], depth + 1)) != 0)
				return st;
		}
		return CTAP2_OK;
	case CBOR_TYPE_MAP:
		if (!cbor_map_is_definite(it))
			return CTAP2_ERR_INVALID_CBOR;
		for (size_t i = 0; i < cbor_map_size(it); i++) {
			struct cbor_pair *pairs = cbor_map_handle(it);

			if ((st = check_item(pairs[i].key, depth + 1)) != 0 ||
			    (st = check_item(pairs[i].value, depth + 1)) != 0)
				return st;
		}
		return check_map_order(it);
	case CBOR_TYPE_FLOAT_CTRL:
		/* true, false and null; no floats, no undefined. */
		if (cbor_float_get_width(it) != CBOR_FLOAT_0)
			return CTAP2_ERR_INVALID_CBOR;
		switch (cbor_ctrl_value(it)) {
		case CBOR_CTRL_FALSE:
		case CBOR_CTRL_TRUE:
		case CBOR_CTRL_NULL: return CTAP2_OK;
		default: return CTAP2_ERR_INVALID_CBOR;
		}
	case CBOR_TYPE_TAG:
	default: return CTAP2_ERR_INVALID_CBOR;
	}
}

/*
 * Walk the encoding before libcbor sees it: libcbor allocates arrays and
 * maps by their declared count, so a count is refused unless the bytes
 * left could hold that many items.  Only definite lengths, no tags, no
 * floats or simple values but false, true and null, at most
 * CB_DEPTH_MAX levels.
 */
static uint8_t
prescan_item(struct wire_reader *r, int depth)
{
	uint8_t ib, major, ai, b8;
	uint16_t b16;
	uint32_t b32;
	uint64_t arg = 0;
	uint8_t st;

	if (depth > CB_DEPTH_MAX || wire_get_u8(r, &ib) != 0)
		return CTAP2_ERR_INVALID_CBOR;
	major = ib >> 5;
	ai = ib & 0x1f;
	if (ai < 24)
		arg = ai;
	else if (ai == 24) {
		if (wire_get_u8(r, &b8) != 0)
			return CTAP2_ERR_INVALID_CBOR;
		arg = b8;
	} else if (ai == 25) {
		if (wire_get_u16(r, &b16) != 0)
			return CTAP2_ERR_INVALID_CBOR;
		arg = b16;
	} else if (ai == 26) {
		if (wire_get_u32(r, &b32) != 0)
			return CTAP2_ERR_INVALID_CBOR;
		arg = b32;
	} else if (ai == 27) {
		if (wire_get_u64(r, &arg) != 0)
			return CTAP2_ERR_INVALID_CBOR;
	} else
		return CTAP2_ERR_INVALID_CBOR; /* indefinite, reserved */
	switch (major) {
	case CB_MAJOR_UINT:
	case CB_MAJOR_NEGINT: return CTAP2_OK;
	case CB_MAJOR_BYTES:
	case CB_MAJOR_TEXT:
		if (arg > wire_left(r) || wire_skip(r, (size_t)arg) != 0)
			return CTAP2_ERR_INVALID_CBOR;
		return CTAP2_OK;
	case CB_MAJOR_ARRAY:
	case CB_MAJOR_MAP:
		if (major == CB_MAJOR_MAP) {
			if (arg > wire_left(r) / 2)
				return CTAP2_ERR_INVALID_CBOR;
			arg *= 2;
		}
		if (arg > wire_left(r))
			return CTAP2_ERR_INVALID_CBOR;
		for (uint64_t i = 0; i < arg; i++)
			if ((st = prescan_item(r, depth + 1)) != CTAP2_OK)
				return st;
		return CTAP2_OK;
	case CB_MAJOR_SIMPLE:
		return ai >= CB_SIMPLE_FALSE && ai <= CB_SIMPLE_NULL ?
		    CTAP2_OK :
		    CTAP2_ERR_INVALID_CBOR;
	default: return CTAP2_ERR_INVALID_CBOR; /* tags */
	}
}

static uint8_t
prescan(const uint8_t *p, size_t len)
{
	struct wire_reader r;
	uint8_t st;

	wire_reader_init(&r, p, len);
	if ((st = prescan_item(&r, 0)) != CTAP2_OK)
		return st;
	return wire_left(&r) == 0 ? CTAP2_OK : CTAP2_ERR_INVALID_CBOR;
}

uint8_t
cb_load_map(const uint8_t *p, size_t len, cbor_item_t **ret)
{
	struct cbor_load_result res;
	cbor_item_t *it = NULL;
	uint8_t *again = NULL;
	uint8_t st = CTAP2_ERR_INVALID_CBOR;

	if (len == 0 || len > SIM_MSG_MAX)
		return CTAP2_ERR_INVALID_CBOR;
	if ((st = prescan(p, len)) != CTAP2_OK)
		return st;
	st = CTAP2_ERR_INVALID_CBOR;
	memset(&res, 0, sizeof(res));
	if ((it = cbor_load(p, len, &res)) == NULL ||
	    res.error.code != CBOR_ERR_NONE || res.read != len)
		goto out;
	if ((st = check_item(it, 0)) != CTAP2_OK)
		goto out;
	/* Encoding it again must give the same bytes: this refuses long
	 * forms of short integers and lengths. */
	st = CTAP2_ERR_INVALID_CBOR;
	if ((again = malloc(len)) == NULL) {
		st = CTAP1_ERR_OTHER;
		goto out;
	}
	if (cbor_serialize(it, again, len) != len || memcmp(again, p, len) != 0)
		goto out;
	if (!cbor_isa_map(it)) {
		st = CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
		goto out;
	}
	*ret = it;
	it = NULL;
	st = CTAP2_OK;
out:
	free(again);
	if (it != NULL)
		cbor_decref(&it);
	return st;
}

uint8_t
cb_map_slots(const cbor_item_t *map, const cbor_item_t **slots, size_t nslots)
{
	struct cbor_pair *pairs;
	uint64_t key;

	for (size_t i = 0; i < nslots; i++)
		slots[i] = NULL;
	if (!cbor_isa_map(map))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	pairs = cbor_map_handle(map);
	for (size_t i = 0; i < cbor_map_size(map); i++) {
		if (!cbor_isa_uint(pairs[i].key))
			return CTAP2_ERR_INVALID_CBOR;
		key = cbor_get_int(pairs[i].key);
		if (key < nslots)
			slots[key] = pairs[i].value;
	}
	return CTAP2_OK;
}

const cbor_item_t *
cb_map_text(const cbor_item_t *map, const char *key)
{
	struct cbor_pair *pairs;

	if (!cbor_isa_map(map))
		return NULL;
	pairs = cbor_map_handle(map);
	for (size_t i = 0; i < cbor_map_size(map); i++)
		if (cb_text_is(pairs[i].key, key))
			return pairs[i].value;
	return NULL;
}

const cbor_item_t *
cb_map_int(const cbor_item_t *map, int64_t key)
{
	struct cbor_pair *pairs;
	int64_t v;

	if (!cbor_isa_map(map))
		return NULL;
	pairs = cbor_map_handle(map);
	for (size_t i = 0; i < cbor_map_size(map); i++)
		if (cb_get_int(pairs[i].key, &v) == CTAP2_OK && v == key)
			return pairs[i].value;
	return NULL;
}

uint8_t
cb_get_bytes(
    const cbor_item_t *it, size_t max, const uint8_t **ret, size_t *ret_len)
{
	if (!cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	if (cbor_bytestring_length(it) > max)
		return CTAP1_ERR_INVALID_LENGTH;
	*ret = cbor_bytestring_handle(it);
	*ret_len = cbor_bytestring_length(it);
	return CTAP2_OK;
}

/* Text without an embedded NUL; not NUL-terminated. */
uint8_t
cb_get_text(
    const cbor_item_t *it, size_t max, const char **ret, size_t *ret_len)
{
	const char *s;
	size_t n;

	if (!cbor_isa_string(it) || !cbor_string_is_definite(it))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	if ((n = cbor_string_length(it)) > max)
		return CTAP1_ERR_INVALID_LENGTH;
	s = (const char *)cbor_string_handle(it);
	if (n > 0 && memchr(s, '\0', n) != NULL)
		return CTAP1_ERR_INVALID_PARAMETER;
	*ret = n > 0 ? s : "";
	*ret_len = n;
	return CTAP2_OK;
}

uint8_t
cb_get_uint(const cbor_item_t *it, uint64_t *ret)
{
	if (!cbor_isa_uint(it))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	*ret = cbor_get_int(it);
	return CTAP2_OK;
}

uint8_t
cb_get_int(const cbor_item_t *it, int64_t *ret)
{
	uint64_t v;

	if (!cbor_isa_uint(it) && !cbor_isa_negint(it))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	if ((v = cbor_get_int(it)) > INT64_MAX)
		return CTAP1_ERR_INVALID_PARAMETER;
	*ret = cbor_isa_uint(it) ? (int64_t)v : -1 - (int64_t)v;
	return CTAP2_OK;
}

uint8_t
cb_get_bool(const cbor_item_t *it, bool *ret)
{
	if (!cbor_is_bool(it))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	*ret = cbor_get_bool(it);
	return CTAP2_OK;
}

uint8_t
cb_check_map(const cbor_item_t *it)
{
	return cbor_isa_map(it) ? CTAP2_OK : CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
}

uint8_t
cb_check_array(const cbor_item_t *it)
{
	return cbor_isa_array(it) ? CTAP2_OK : CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
}

bool
cb_text_is(const cbor_item_t *it, const char *s)
{
	size_t n = strlen(s);

	return cbor_isa_string(it) && cbor_string_is_definite(it) &&
	    cbor_string_length(it) == n &&
	    (n == 0 || memcmp(cbor_string_handle(it), s, n) == 0);
}

cbor_item_t *
cb_uint(uint64_t v)
{
	if (v <= UINT8_MAX)
		return cbor_build_uint8((uint8_t)v);
	if (v <= UINT16_MAX)
		return cbor_build_uint16((uint16_t)v);
	if (v <= UINT32_MAX)
		return cbor_build_uint32((uint32_t)v);
	return cbor_build_uint64(v);
}

cbor_item_t *
cb_int(int64_t v)
{
	uint64_t m;

	if (v >= 0)
		return cb_uint((uint64_t)v);
	m = (uint64_t)(-1 - v);
	if (m <= UINT8_MAX)
		return cbor_build_negint8((uint8_t)m);
	if (m <= UINT16_MAX)
		return cbor_build_negint16((uint16_t)m);
	if (m <= UINT32_MAX)
		return cbor_build_negint32((uint32_t)m);
	return cbor_build_negint64(m);
}

cbor_item_t *
cb_text(const char *s)
{
	return cbor_build_string(s);
}

cbor_item_t *
cb_bytes(const uint8_t *p, size_t n)
{
	return cbor_build_bytestring(p, n);
}

cbor_item_t *
cb_bool(bool v)
{
	return cbor_build_bool(v);
}

bool
cb_put(cbor_item_t *map, cbor_item_t *key, cbor_item_t *value)
{
	bool ok = false;

	if (map != NULL && key != NULL && value != NULL)
		ok = cbor_map_add(
		    map, (struct cbor_pair){ .key = key, .value = value });
	if (key != NULL)
		cbor_decref(&key);
	if (value != NULL)
		cbor_decref(&value);
	return ok;
}

bool
cb_push(cbor_item_t *array, cbor_item_t *value)
{
	bool ok = false;

	if (array != NULL && value != NULL)
		ok = cbor_array_push(array, value);
	if (value != NULL)
		cbor_decref(&value);
	return ok;
}

/* COSE_Key (RFC 8152): kty EC2 (2), alg, crv P-256 (1), x, y; the keys
 * in canonical order 1, 3, -1, -2, -3. */
cbor_item_t *
cb_cose_p256(const EVP_PKEY *pk, int64_t alg)
{
	cbor_item_t *map;
	uint8_t x[32], y[32];

	if (sc_p256_xy(pk, x, y) != 0 ||
	    (map = cbor_new_definite_map(5)) == NULL)
		return NULL;
	if (!cb_put(map, cb_int(1), cb_int(2)) ||
	    !cb_put(map, cb_int(3), cb_int(alg)) ||
	    !cb_put(map, cb_int(-1), cb_int(1)) ||
	    !cb_put(map, cb_int(-2), cb_bytes(x, sizeof(x))) ||
	    !cb_put(map, cb_int(-3), cb_bytes(y, sizeof(y)))) {
		cbor_decref(&map);
		return NULL;
	}
	return map;
}

uint8_t
cb_serialize(const cbor_item_t *it, uint8_t *out, size_t cap, size_t *ret_len)
{
	size_t n;

	if ((n = cbor_serialize(it, out, cap)) == 0)
		return CTAP1_ERR_OTHER;
	*ret_len = n;
	return CTAP2_OK;
}
