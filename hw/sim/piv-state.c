/* jit-sim-piv's state file (its simulated secure element) and defaults. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "err.h"
#include "fsutil.h"
#include "jsonx.h"
#include "simpiv.h"

/*
 * Like jit-sim-fido2's, the state file holds what a card's chip would:
 * private keys, the management key, hashes of the PIN and PUK.  It is
 * written 0600 and only ever belongs in a test directory.
 */
#define STATE_VERSION 1
#define STATE_MAX (256 * 1024)
#define KEY_DER_MAX 512
#define OBJ_ATTEST_CERT 0x5fff01
#define DEFAULT_TRIES 3

static const uint8_t default_pin[PIV_PIN_LEN] = { '1', '2', '3', '4', '5', '6',
	0xff, 0xff };
static const uint8_t default_puk[PIV_PIN_LEN] = { '1', '2', '3', '4', '5', '6',
	'7', '8' };
static const uint8_t default_mgm[24] = { 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5,
	6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8 };

static const uint8_t slot_ids[PIV_SLOTS] = { 0x9a, 0x9c, 0x9d, 0x9e, 0x82, 0x83,
	0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
	0x90, 0x91, 0x92, 0x93, 0x94, 0x95, PIV_SLOT_ATTEST };

const struct piv_object *
piv_object_get(const struct piv_card *c, uint32_t tag)
{
	for (size_t i = 0; i < c->nobjects; i++)
		if (c->objects[i].tag == tag)
			return &c->objects[i];
	return NULL;
}

static void
object_drop(struct piv_card *c, size_t i)
{
	free(c->objects[i].data);
	c->objects[i] = c->objects[c->nobjects - 1];
	c->nobjects--;
}

/* An empty value deletes the object. */
int
piv_object_set(struct piv_card *c, uint32_t tag, const uint8_t *p, size_t len)
{
	uint8_t *copy = NULL;
	size_t i;

	for (i = 0; i < c->nobjects && c->objects[i].tag != tag; i++)
		;
	if (len == 0) {
		if (i < c->nobjects)
			object_drop(c, i);
		return JIT_OK;
	}
	if (len > PIV_OBJ_MAX)
		return JIT_E_LIMIT;
	if (i == c->nobjects && c->nobjects == PIV_OBJECTS_MAX)
		return JIT_E_LIMIT;
	if ((copy = malloc(len)) == NULL)
		return JIT_E_NOMEM;
	memcpy(copy, p, len);
	if (i == c->nobjects) {
		c->objects[i].tag = tag;
		c->nobjects++;
	} else
		free(c->objects[i].data);
	c->objects[i].data = copy;
	c->objects[i].len = len;
	return JIT_OK;
}

void
piv_factory_reset(struct piv_card *c)
{
	size_t i;

	crypto_generichash(
	    c->sec->pin_hash, 32, default_pin, PIV_PIN_LEN, NULL, 0);
	crypto_generichash(
	    c->sec->puk_hash, 32, default_puk, PIV_PIN_LEN, NULL, 0);
	c->pin_tries = c->pin_max = DEFAULT_TRIES;
	c->puk_tries = c->puk_max = DEFAULT_TRIES;
	c->pin_default = c->puk_default = c->mgm_default = true;
	c->mgm_alg = PIV_ALG_3DES;
	c->mgm_len = sizeof(default_mgm);
	memcpy(c->sec->mgm_key, default_mgm, sizeof(default_mgm));
	c->mgm_touch = false;
	for (i = 0; i < PIV_SLOTS; i++) {
		if (i == PIV_ATTEST_INDEX)
			continue;
		EVP_PKEY_free(c->keys[i].pk);
		memset(&c->keys[i], 0, sizeof(c->keys[i]));
	}
	for (i = c->nobjects; i > 0; i--)
		if (c->objects[i - 1].tag != OBJ_ATTEST_CERT)
			object_drop(c, i - 1);
}

int
piv_attestation_ca_new(
    struct piv_card *c, EVP_PKEY *issuer_key, X509 *issuer_cert)
{
	struct piv_key *k = &c->keys[PIV_ATTEST_INDEX];
	uint8_t *der = NULL, *obj = NULL;
	size_t n = 0, len;
	int r;

	EVP_PKEY_free(k->pk);
	memset(k, 0, sizeof(*k));
	if ((r = piv_ec_generate(PIV_ALG_ECCP256, &k->pk)) != 0)
		return r;
	k->present = true;
	k->alg = PIV_ALG_ECCP256;
	k->pin_policy = PIV_PIN_POLICY_NEVER;
	k->touch_policy = PIV_TOUCH_POLICY_NEVER;
	k->origin = PIV_ORIGIN_GENERATED;
	if ((r = piv_cert_ca(
		 k->pk, c->serial, issuer_key, issuer_cert, &der, &n)) != 0)
		return r;
	/* The certificate container: 70 (certificate) 71 (info) fe (EDC). */
	len = 4 + n + 5;
	if (n > 0xffff || (obj = malloc(len)) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	obj[0] = 0x70;
	obj[1] = 0x82;
	obj[2] = (uint8_t)(n >> 8);
	obj[3] = (uint8_t)n;
	memcpy(obj + 4, der, n);
	memcpy(obj + 4 + n, "\x71\x01\x00\xfe\x00", 5);
	r = piv_object_set(c, OBJ_ATTEST_CERT, obj, len);
out:
	OPENSSL_free(der);
	free(obj);
	return r;
}

/* --- the file ---------------------------------------------------------- */

static int
save_key(struct json_object *keys, const struct piv_key *k, uint8_t slot)
{
	struct json_object *o;
	uint8_t *der = NULL;
	size_t n = 0;
	char name[4];
	int r;

	if ((o = json_object_new_object()) == NULL)
		return JIT_E_NOMEM;
	if ((r = piv_key_to_der(k->pk, &der, &n)) != 0 ||
	    (r = jsonx_add_int(o, "alg", k->alg)) != 0 ||
	    (r = jsonx_add_int(o, "pin_policy", k->pin_policy)) != 0 ||
	    (r = jsonx_add_int(o, "touch_policy", k->touch_policy)) != 0 ||
	    (r = jsonx_add_int(o, "origin", k->origin)) != 0 ||
	    (r = jsonx_add_b64(o, "key", der, n)) != 0)
		goto out;
	snprintf(name, sizeof(name), "%02x", slot);
	if (json_object_object_add(keys, name, o) != 0) {
		r = JIT_E_NOMEM;
		goto out;
	}
	o = NULL;
	r = JIT_OK;
out:
	if (der != NULL)
		OPENSSL_clear_free(der, n);
	json_object_put(o);
	return r;
}

int
piv_state_save(struct piv_card *c)
{
	struct json_object *o = NULL, *keys = NULL, *objs = NULL;
	char name[8], ver[16];
	size_t i;
	int r;

	if (c->state_path == NULL)
		return JIT_OK;
	if ((o = json_object_new_object()) == NULL ||
	    (keys = json_object_new_object()) == NULL ||
	    (objs = json_object_new_object()) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	snprintf(ver, sizeof(ver), "%u.%u.%u", c->version[0], c->version[1],
	    c->version[2]);
	if ((r = jsonx_add_int(o, "version", STATE_VERSION)) != 0 ||
	    (r = jsonx_add_int(o, "serial", c->serial)) != 0 ||
	    (r = jsonx_add_str(o, "firmware", ver)) != 0 ||
	    (r = jsonx_add_b64(o, "pin_hash", c->sec->pin_hash, 32)) != 0 ||
	    (r = jsonx_add_b64(o, "puk_hash", c->sec->puk_hash, 32)) != 0 ||
	    (r = jsonx_add_bool(o, "pin_default", c->pin_default)) != 0 ||
	    (r = jsonx_add_bool(o, "puk_default", c->puk_default)) != 0 ||
	    (r = jsonx_add_int(o, "pin_tries", c->pin_tries)) != 0 ||
	    (r = jsonx_add_int(o, "pin_max", c->pin_max)) != 0 ||
	    (r = jsonx_add_int(o, "puk_tries", c->puk_tries)) != 0 ||
	    (r = jsonx_add_int(o, "puk_max", c->puk_max)) != 0 ||
	    (r = jsonx_add_int(o, "mgm_alg", c->mgm_alg)) != 0 ||
	    (r = jsonx_add_b64(o, "mgm_key", c->sec->mgm_key, c->mgm_len)) !=
		0 ||
	    (r = jsonx_add_bool(o, "mgm_touch", c->mgm_touch)) != 0 ||
	    (r = jsonx_add_bool(o, "mgm_default", c->mgm_default)) != 0)
		goto out;
	for (i = 0; i < PIV_SLOTS; i++)
		if (c->keys[i].present &&
		    (r = save_key(keys, &c->keys[i], slot_ids[i])) != 0)
			goto out;
	for (i = 0; i < c->nobjects; i++) {
		snprintf(name, sizeof(name), "%06x", c->objects[i].tag);
		if ((r = jsonx_add_b64(objs, name, c->objects[i].data,
			 c->objects[i].len)) != 0)
			goto out;
	}
	if (json_object_object_add(o, "keys", keys) != 0) {
		r = JIT_E_NOMEM;
		goto out;
	}
	keys = NULL;
	if (json_object_object_add(o, "objects", objs) != 0) {
		r = JIT_E_NOMEM;
		goto out;
	}
	objs = NULL;
	r = jsonx_save_file(c->state_path, o);
out:
	json_object_put(keys);
	json_object_put(objs);
	json_object_put(o);
	if (r != 0)
		piv_debug(c, "cannot save the state: %s", jit_strerror(r));
	return r;
}

static int
hex_u32(const char *s, size_t digits, uint32_t *ret)
{
	uint8_t b[4] = { 0 };
	size_t len = 0;
	const char *end = NULL;

	if (strlen(s) != digits ||
	    sodium_hex2bin(b + 4 - digits / 2, digits / 2, s, digits, NULL,
		&len, &end) != 0 ||
	    len != digits / 2 || *end != '\0')
		return JIT_E_FORMAT;
	*ret = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
	return JIT_OK;
}

static int
load_key(struct piv_card *c, const char *name, struct json_object *o)
{
	struct piv_key k = { 0 };
	uint32_t slot;
	int64_t alg, pin, touch, origin;
	uint8_t *der = NULL;
	size_t n = 0;
	int i, r;

	if ((r = hex_u32(name, 2, &slot)) != 0 ||
	    (i = piv_slot_index((uint8_t)slot)) < 0)
		return JIT_E_FORMAT;
	if ((r = jsonx_get_int(o, "alg", 0, 255, &alg)) != 0 ||
	    (r = jsonx_get_int(o, "pin_policy", 1, 3, &pin)) != 0 ||
	    (r = jsonx_get_int(o, "touch_policy", 1, 3, &touch)) != 0 ||
	    (r = jsonx_get_int(o, "origin", 1, 2, &origin)) != 0 ||
	    (r = jsonx_get_b64(o, "key", KEY_DER_MAX, &der, &n)) != 0)
		goto out;
	if ((r = piv_key_from_der(der, n, (uint8_t)alg, &k.pk)) != 0)
		goto out;
	k.present = true;
	k.alg = (uint8_t)alg;
	k.pin_policy = (uint8_t)pin;
	k.touch_policy = (uint8_t)touch;
	k.origin = (uint8_t)origin;
	EVP_PKEY_free(c->keys[i].pk);
	c->keys[i] = k;
	r = JIT_OK;
out:
	if (der != NULL) {
		sodium_memzero(der, n);
		free(der);
	}
	return r;
}

int
piv_state_load(struct piv_card *c, bool *ret_found)
{
	struct json_object *o = NULL, *keys, *objs;
	const char *ver;
	unsigned v0, v1, v2;
	int64_t v, serial, pin_tries, pin_max, puk_tries, puk_max, alg;
	uint8_t *data = NULL, *mgm = NULL;
	size_t n = 0, mgm_len = 0;
	char tail;
	int r;

	*ret_found = false;
	if ((r = jsonx_load_file(c->state_path, STATE_MAX, &o)) != 0)
		return r == JIT_E_NOENT ? JIT_OK : r;
	if ((r = jsonx_get_int(
		 o, "version", STATE_VERSION, STATE_VERSION, &v)) != 0 ||
	    (r = jsonx_get_int(o, "serial", 1, UINT32_MAX, &serial)) != 0 ||
	    (r = jsonx_get_str(o, "firmware", 11, &ver)) != 0 ||
	    (r = jsonx_get_b64_fixed(o, "pin_hash", c->sec->pin_hash, 32)) !=
		0 ||
	    (r = jsonx_get_b64_fixed(o, "puk_hash", c->sec->puk_hash, 32)) !=
		0 ||
	    (r = jsonx_get_bool(o, "pin_default", &c->pin_default)) != 0 ||
	    (r = jsonx_get_bool(o, "puk_default", &c->puk_default)) != 0 ||
	    (r = jsonx_get_int(o, "pin_max", 1, PIV_TRIES_MAX, &pin_max)) !=
		0 ||
	    (r = jsonx_get_int(o, "pin_tries", 0, pin_max, &pin_tries)) != 0 ||
	    (r = jsonx_get_int(o, "puk_max", 1, PIV_TRIES_MAX, &puk_max)) !=
		0 ||
	    (r = jsonx_get_int(o, "puk_tries", 0, puk_max, &puk_tries)) != 0 ||
	    (r = jsonx_get_int(o, "mgm_alg", 0, 255, &alg)) != 0 ||
	    (r = jsonx_get_b64(o, "mgm_key", 32, &mgm, &mgm_len)) != 0 ||
	    (r = jsonx_get_bool(o, "mgm_touch", &c->mgm_touch)) != 0 ||
	    (r = jsonx_get_bool(o, "mgm_default", &c->mgm_default)) != 0)
		goto out;
	r = JIT_E_FORMAT;
	if (sscanf(ver, "%u.%u.%u%c", &v0, &v1, &v2, &tail) != 3 || v0 > 255 ||
	    v1 > 255 || v2 > 255 || piv_mgm_key_len((uint8_t)alg) != mgm_len)
		goto out;
	c->serial = (uint32_t)serial;
	c->version[0] = (uint8_t)v0;
	c->version[1] = (uint8_t)v1;
	c->version[2] = (uint8_t)v2;
	c->pin_tries = (unsigned)pin_tries;
	c->pin_max = (unsigned)pin_max;
	c->puk_tries = (unsigned)puk_tries;
	c->puk_max = (unsigned)puk_max;
	c->mgm_alg = (uint8_t)alg;
	c->mgm_len = mgm_len;
	memcpy(c->sec->mgm_key, mgm, mgm_len);
	if (!json_object_object_get_ex(o, "keys", &keys) ||
	    !json_object_is_type(keys, json_type_object) ||
	    !json_object_object_get_ex(o, "objects", &objs) ||
	    !json_object_is_type(objs, json_type_object))
		goto out;
	json_object_object_foreach(keys, kname, kval)
	{
		if (!json_object_is_type(kval, json_type_object) ||
		    (r = load_key(c, kname, kval)) != 0)
			goto out;
	}
	json_object_object_foreach(objs, oname, oval)
	{
		uint32_t tag;

		(void)oval;
		if ((r = hex_u32(oname, 6, &tag)) != 0 ||
		    (r = jsonx_get_b64(objs, oname, PIV_OBJ_MAX, &data, &n)) !=
			0 ||
		    (r = piv_object_set(c, tag, data, n)) != 0)
			goto out;
		free(data);
		data = NULL;
	}
	if (!c->keys[PIV_ATTEST_INDEX].present ||
	    piv_object_get(c, OBJ_ATTEST_CERT) == NULL) {
		r = JIT_E_FORMAT;
		goto out;
	}
	*ret_found = true;
	r = JIT_OK;
out:
	free(data);
	if (mgm != NULL) {
		sodium_memzero(mgm, mgm_len);
		free(mgm);
	}
	json_object_put(o);
	return r;
}
