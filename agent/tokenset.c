/* The authenticated set of enrolled tokens: tokens.json, its key and seals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "jsonx.h"
#include "seal.h"
#include "secret.h"
#include "tokenset.h"
#include "wire.h"

#define TOKENSET_VERSION 1
#define TOKENSET_FILE_MAX (1024 * 1024)
#define BOX_INFO "jit-agent token set box v1"
#define BOX_AD "jit-agent token set key v1"
#define TOKEN_MAC_LABEL "jit-agent token record v1"
#define SET_MAC_LABEL "jit-agent token set v1"
#define RECORD_MAX (64 * 1024)

void
tokenset_free(struct tokenset *ts)
{
	size_t i;

	if (ts == NULL)
		return;
	for (i = 0; i < ts->n; i++)
		hw_token_free(ts->e[i].tok);
	free(ts);
}

int
tokenset_new(struct tokenset **ret)
{
	if ((*ret = calloc(1, sizeof(**ret))) == NULL)
		return JIT_E_NOMEM;
	return JIT_OK;
}

int
tokenset_dup(const struct tokenset *ts, struct tokenset **ret)
{
	struct tokenset *d;
	size_t i;
	int r;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return JIT_E_NOMEM;
	d->generation = ts->generation;
	memcpy(d->mac, ts->mac, sizeof(d->mac));
	for (i = 0; i < ts->n; i++) {
		d->e[i] = ts->e[i];
		d->e[i].tok = NULL;
		if ((r = hw_token_dup(ts->e[i].tok, &d->e[i].tok)) != 0) {
			tokenset_free(d);
			return r;
		}
		d->n++;
	}
	*ret = d;
	return JIT_OK;
}

const struct hw_token *
tokenset_by_label(const struct tokenset *ts, const char *label)
{
	size_t i;

	for (i = 0; ts != NULL && i < ts->n; i++)
		if (strcmp(ts->e[i].tok->label, label) == 0)
			return ts->e[i].tok;
	return NULL;
}

const struct hw_token *
tokenset_by_id(const struct tokenset *ts, const char *id)
{
	size_t i;

	for (i = 0; ts != NULL && i < ts->n; i++)
		if (strcmp(ts->e[i].tok->id, id) == 0)
			return ts->e[i].tok;
	return NULL;
}

/* Everything a token record says, in one unambiguous encoding. */
static int
record_mac(const struct hw_token *t, const struct secret *key,
    uint8_t out[TOKENSET_MAC_LEN])
{
	struct json_object *o = NULL;
	struct wire_writer w;
	const char *js;
	int r;

	wire_writer_init(&w, RECORD_MAX, false);
	if ((r = hw_token_to_json(t, &o)) != 0)
		goto out;
	js = json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if ((r = wire_put_cstring(&w, TOKEN_MAC_LABEL)) != 0 ||
	    (r = wire_put_cstring(&w, t->id)) != 0 ||
	    (r = wire_put_cstring(&w, t->label)) != 0 ||
	    (r = wire_put_cstring(&w, t->type)) != 0 ||
	    (r = wire_put_cstring(&w, t->device ? t->device : "")) != 0 ||
	    (r = wire_put_u8(&w, t->simulated)) != 0 ||
	    (r = wire_put_u8(&w, t->uv)) != 0 ||
	    (r = wire_put_cstring(&w, js)) != 0)
		goto out;
	crypto_auth_hmacsha256(
	    out, wire_writer_data(&w), wire_writer_len(&w), secret_ptr(key));
	r = JIT_OK;
out:
	json_object_put(o);
	wire_writer_reset(&w);
	return r;
}

static int
set_mac(const struct tokenset *ts, const struct secret *key,
    uint8_t out[TOKENSET_MAC_LEN])
{
	struct wire_writer w;
	size_t i;
	int r;

	wire_writer_init(&w, 4096, false);
	if ((r = wire_put_cstring(&w, SET_MAC_LABEL)) != 0 ||
	    (r = wire_put_u64(&w, ts->generation)) != 0 ||
	    (r = wire_put_u32(&w, (uint32_t)ts->n)) != 0)
		goto out;
	for (i = 0; i < ts->n; i++)
		if ((r = wire_put_cstring(&w, ts->e[i].tok->id)) != 0)
			goto out;
	crypto_auth_hmacsha256(
	    out, wire_writer_data(&w), wire_writer_len(&w), secret_ptr(key));
	r = JIT_OK;
out:
	wire_writer_reset(&w);
	return r;
}

/* The key of a token's box: only its identity secret derives it. */
static int
box_key(const struct secret *identity_sk, struct secret **ret)
{
	return seal_hkdf(secret_ptr(identity_sk), secret_len(identity_sk), NULL,
	    0, BOX_INFO, SEAL_KEY_LEN, ret);
}

static void
box_ad(const struct hw_token *t, uint8_t *ad, size_t *adlen)
{
	memcpy(ad, BOX_AD, sizeof(BOX_AD));
	memcpy(ad + sizeof(BOX_AD), t->id, HW_ID_LEN);
	*adlen = sizeof(BOX_AD) + HW_ID_LEN;
}

static int
box_seal(struct tokenset_entry *e, const struct secret *identity_sk,
    const struct secret *key)
{
	struct secret *bk = NULL;
	uint8_t ad[sizeof(BOX_AD) + HW_ID_LEN];
	size_t adlen;
	int r;

	if ((r = box_key(identity_sk, &bk)) != 0)
		return r;
	box_ad(e->tok, ad, &adlen);
	randombytes_buf(e->box_nonce, sizeof(e->box_nonce));
	crypto_aead_xchacha20poly1305_ietf_encrypt(e->box, NULL,
	    secret_ptr(key), TOKENSET_KEY_LEN, ad, adlen, NULL, e->box_nonce,
	    secret_ptr(bk));
	secret_free(bk);
	return JIT_OK;
}

static int
box_open(const struct tokenset_entry *e, const struct secret *identity_sk,
    struct secret **ret)
{
	struct secret *bk = NULL, *key = NULL;
	uint8_t ad[sizeof(BOX_AD) + HW_ID_LEN];
	size_t adlen;
	int r;

	if ((r = box_key(identity_sk, &bk)) != 0 ||
	    (r = secret_new(TOKENSET_KEY_LEN, &key)) != 0)
		goto out;
	box_ad(e->tok, ad, &adlen);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(secret_ptr(key), NULL,
		NULL, e->box, sizeof(e->box), ad, adlen, e->box_nonce,
		secret_ptr(bk)) != 0) {
		r = JIT_E_AUTH;
		goto out;
	}
	*ret = key;
	key = NULL;
out:
	secret_free(bk);
	secret_free(key);
	return r;
}

/* Seal every record and the list again under K, one generation on. */
static int
reseal(struct tokenset *ts, const struct secret *key)
{
	size_t i;
	int r;

	ts->generation++;
	for (i = 0; i < ts->n; i++)
		if ((r = record_mac(ts->e[i].tok, key, ts->e[i].mac)) != 0)
			return r;
	return set_mac(ts, key, ts->mac);
}

/* "token L (type, device) WHAT", appended to why. */
static void
why_add(char *why, size_t whylen, const struct hw_token *t, const char *what)
{
	size_t used = strlen(why);

	if (used + 3 >= whylen)
		return;
	if (used > 0) {
		memcpy(why + used, "; ", 3);
		used += 2;
	}
	snprintf(why + used, whylen - used, "token %s (%s, %s) %s", t->label,
	    t->type, t->device != NULL ? t->device : "default device", what);
}

int
tokenset_verify(const struct tokenset *ts, const char *id,
    const struct secret *identity_sk, const char *except,
    struct secret **ret_key, struct tokenset_verdict *v)
{
	struct secret *key = NULL;
	uint8_t mac[TOKENSET_MAC_LEN];
	size_t i, own = ts->n;
	bool list_ok;
	int r;

	memset(v, 0, sizeof(*v));
	v->result = JIT_E_AUTH;
	for (i = 0; i < ts->n; i++)
		if (strcmp(ts->e[i].tok->id, id) == 0)
			own = i;
	if (own == ts->n) {
		snprintf(v->why, sizeof(v->why),
		    "the token that answered is not in %s", TOKENSET_FILE);
		return v->result;
	}
	if ((r = box_open(&ts->e[own], identity_sk, &key)) != 0) {
		if (r != JIT_E_AUTH)
			v->result = r;
		why_add(v->why, sizeof(v->why), ts->e[own].tok,
		    "holds no key to the token set: it was added outside jit-agent");
		goto out;
	}
	v->records_ok = true;
	for (i = 0; i < ts->n; i++) {
		if ((r = record_mac(ts->e[i].tok, key, mac)) != 0) {
			v->result = r;
			goto out;
		}
		if (sodium_memcmp(mac, ts->e[i].mac, sizeof(mac)) == 0) {
			v->own_ok = v->own_ok || i == own;
			continue;
		}
		why_add(v->why, sizeof(v->why), ts->e[i].tok,
		    "was added or edited outside jit-agent");
		if (except == NULL || strcmp(ts->e[i].tok->label, except) != 0)
			v->records_ok = false;
	}
	if ((r = set_mac(ts, key, mac)) != 0) {
		v->result = r;
		goto out;
	}
	list_ok = sodium_memcmp(mac, ts->mac, sizeof(mac)) == 0;
	if (!list_ok && v->why[0] == '\0')
		snprintf(v->why, sizeof(v->why),
		    "the list of tokens in %s was changed outside jit-agent: a token was removed or reordered",
		    TOKENSET_FILE);
	if (list_ok && v->why[0] == '\0')
		v->result = JIT_OK;
	/* The answering token's own word: K, to change or repair the set. */
	if (v->own_ok && ret_key != NULL) {
		*ret_key = key;
		key = NULL;
	}
out:
	secret_free(key);
	return v->result;
}

int
tokenset_add(struct tokenset *ts, struct hw_token *t,
    const struct secret *identity_sk, const struct secret *key)
{
	struct tokenset_entry *e;
	int r;

	if (ts->n >= TOKENSET_MAX)
		return JIT_E_LIMIT;
	if (tokenset_by_label(ts, t->label) != NULL ||
	    tokenset_by_id(ts, t->id) != NULL)
		return JIT_E_EXISTS;
	e = &ts->e[ts->n];
	memset(e, 0, sizeof(*e));
	e->tok = t;
	if ((r = box_seal(e, identity_sk, key)) != 0) {
		e->tok = NULL;
		return r;
	}
	ts->n++;
	if ((r = reseal(ts, key)) != 0) {
		ts->n--;
		e->tok = NULL;
		return r;
	}
	return JIT_OK;
}

int
tokenset_remove(
    struct tokenset *ts, const char *label, const struct secret *key)
{
	size_t i;

	for (i = 0; i < ts->n; i++)
		if (strcmp(ts->e[i].tok->label, label) == 0)
			break;
	if (i == ts->n)
		return JIT_E_NOENT;
	hw_token_free(ts->e[i].tok);
	memmove(&ts->e[i], &ts->e[i + 1], (ts->n - i - 1) * sizeof(ts->e[0]));
	ts->n--;
	return reseal(ts, key);
}

/* ---- the file ---- */

static int
entry_to_json(const struct tokenset_entry *e, struct json_object **ret)
{
	struct json_object *o = NULL;
	int r;

	if ((r = hw_token_to_json(e->tok, &o)) != 0)
		return r;
	if ((r = jsonx_add_b64(
		 o, "set_nonce", e->box_nonce, sizeof(e->box_nonce))) != 0 ||
	    (r = jsonx_add_b64(o, "set_box", e->box, sizeof(e->box))) != 0 ||
	    (r = jsonx_add_b64(o, "set_mac", e->mac, sizeof(e->mac))) != 0) {
		json_object_put(o);
		return r;
	}
	*ret = o;
	return JIT_OK;
}

int
tokenset_save(const struct tokenset *ts, const char *path)
{
	struct json_object *o, *arr, *eo;
	size_t i;
	int r = JIT_E_NOMEM;

	if ((o = json_object_new_object()) == NULL)
		return JIT_E_NOMEM;
	if ((r = jsonx_add_int(o, "version", TOKENSET_VERSION)) != 0 ||
	    (r = jsonx_add_int(o, "generation", (int64_t)ts->generation)) !=
		0 ||
	    (r = jsonx_add_b64(o, "mac", ts->mac, sizeof(ts->mac))) != 0)
		goto out;
	r = JIT_E_NOMEM;
	if ((arr = json_object_new_array()) == NULL)
		goto out;
	json_object_object_add(o, "tokens", arr);
	for (i = 0; i < ts->n; i++) {
		if ((r = entry_to_json(&ts->e[i], &eo)) != 0)
			goto out;
		json_object_array_add(arr, eo);
	}
	r = jsonx_save_file(path, o);
out:
	json_object_put(o);
	return r;
}

int
tokenset_load(const char *path, struct tokenset **ret, char *why, size_t whylen)
{
	struct json_object *o = NULL, *arr, *eo;
	struct tokenset *ts = NULL;
	struct tokenset_entry *e;
	int64_t v;
	size_t i, n;
	int r;

	why[0] = '\0';
	if ((r = jsonx_load_file(path, TOKENSET_FILE_MAX, &o)) != 0) {
		if (r != JIT_E_NOENT)
			snprintf(why, whylen, "%s cannot be read: %s", path,
			    jit_strerror(r));
		return r;
	}
	if ((r = tokenset_new(&ts)) != 0)
		goto out;
	r = JIT_E_FORMAT;
	if (jsonx_get_int(
		o, "version", TOKENSET_VERSION, TOKENSET_VERSION, &v) != 0 ||
	    jsonx_get_int(o, "generation", 1, INT64_MAX, &v) != 0 ||
	    jsonx_get_b64_fixed(o, "mac", ts->mac, sizeof(ts->mac)) != 0 ||
	    !json_object_object_get_ex(o, "tokens", &arr) ||
	    !json_object_is_type(arr, json_type_array) ||
	    (n = json_object_array_length(arr)) > TOKENSET_MAX) {
		snprintf(why, whylen,
		    "%s is not a token set of this version (version, generation, mac or tokens is missing or malformed)",
		    path);
		goto out;
	}
	ts->generation = (uint64_t)v;
	for (i = 0; i < n; i++) {
		eo = json_object_array_get_idx(arr, i);
		e = &ts->e[ts->n];
		if (hw_token_from_json(eo, &e->tok) != 0) {
			snprintf(why, whylen, "token %zu of %s is malformed",
			    i + 1, path);
			goto out;
		}
		ts->n++;
		if (jsonx_get_b64_fixed(eo, "set_nonce", e->box_nonce,
			sizeof(e->box_nonce)) != 0 ||
		    jsonx_get_b64_fixed(
			eo, "set_box", e->box, sizeof(e->box)) != 0 ||
		    jsonx_get_b64_fixed(
			eo, "set_mac", e->mac, sizeof(e->mac)) != 0) {
			snprintf(why, whylen,
			    "token %s in %s has no seal (set_nonce, set_box, set_mac)",
			    e->tok->label, path);
			goto out;
		}
		if (tokenset_by_label(ts, e->tok->label) != e->tok ||
		    tokenset_by_id(ts, e->tok->id) != e->tok) {
			snprintf(why, whylen, "%s names token %s twice", path,
			    e->tok->label);
			goto out;
		}
	}
	*ret = ts;
	ts = NULL;
	r = JIT_OK;
out:
	tokenset_free(ts);
	json_object_put(o);
	return r;
}
