/* The store on disk: enrolled tokens and sealed credentials, and their crypto. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "err.h"
#include "fields.h"
#include "fsutil.h"
#include "jsonx.h"
#include "log.h"
#include "secret.h"
#include "store.h"
#include "tokenset.h"
#include "wire.h"

#define CRED_VERSION 1
#define CRED_CT_MAX (FIELDS_TOTAL_MAX + SEAL_TAG_LEN)

struct store {
	char *dir;
	char *tokens_dir; /* before the token set: ignored, named in the log */
	char *creds_dir;
	char *set_path;
	struct tokenset *ts; /* never NULL once open */
	bool set_file; /* tokens.json exists (or existed when opened) */
	enum store_set_state set_state;
	char set_why[TOKENSET_WHY_MAX];
	struct cred **creds; /* for iteration */
	size_t ncreds, capcreds;
	struct cred **buckets;
	size_t nbuckets;
	size_t nlisted_locked; /* creds with a public certificate, on use */
	/* Deferred reading: a file found at start is an entry with only its
	 * name (unread) until a request or the background pass reads it. */
	int creds_fd; /* creds_dir, for openat */
	size_t nunread;
	size_t read_cursor; /* the background pass's */
	char *readbuf; /* one file at a time */
	struct store_damaged damaged[STORE_DAMAGED_KEEP];
	size_t ndamaged; /* all of them; the first STORE_DAMAGED_KEEP kept */
};

static bool
listed_locked(const struct cred *c)
{
	return c->ssh_cert != NULL && c->unlock_on_use;
}

static uint64_t
name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s != '\0')
		h = (h ^ (uint8_t)*s++) * 1099511628211ULL;
	return h;
}

static void
cred_free(struct cred *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->name);
	free(c->kind);
	for (i = 0; i < c->nfields; i++)
		free(c->field_names[i]);
	free(c->field_names);
	free(c->ct);
	free(c->ad);
	free(c->wraps);
	free(c->profile);
	free(c->reason);
	for (i = 0; i < c->npub; i++) {
		free(c->pub[i].name);
		free(c->pub[i].value);
	}
	free(c->pub);
	free(c->sealed_by);
	free(c->ssh_cert);
	free(c->last_exe);
	free(c);
}

static int
pub_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cred_pub *)a)->name,
	    ((const struct cred_pub *)b)->name);
}

static bool
pub_value_ok(const char *v)
{
	return strlen(v) <= CRED_PUBLIC_VALUE_MAX;
}

/* The request's members: copied, checked, public fields sorted by name so
 * that the associated data does not depend on their order in the file. */
static int
cred_set_request(struct cred *c, const char *profile, const char *reason,
    const struct cred_pub *pub, size_t npub)
{
	size_t i;

	if (npub > CRED_PUBLIC_MAX ||
	    (profile != NULL && !policy_name_ok(profile)) ||
	    (reason != NULL && strlen(reason) > CRED_REASON_MAX))
		return JIT_E_FORMAT;
	if ((profile != NULL && (c->profile = strdup(profile)) == NULL) ||
	    (reason != NULL && (c->reason = strdup(reason)) == NULL) ||
	    (npub > 0 && (c->pub = calloc(npub, sizeof(*c->pub))) == NULL))
		return JIT_E_NOMEM;
	for (i = 0; i < npub; i++) {
		if (!fields_valid_name(
			(const uint8_t *)pub[i].name, strlen(pub[i].name)) ||
		    !pub_value_ok(pub[i].value))
			return JIT_E_FORMAT;
		if ((c->pub[i].name = strdup(pub[i].name)) == NULL ||
		    (c->pub[i].value = strdup(pub[i].value)) == NULL) {
			free(c->pub[i].name);
			return JIT_E_NOMEM;
		}
		c->npub++;
	}
	if (c->npub > 1)
		qsort(c->pub, c->npub, sizeof(*c->pub), pub_cmp);
	for (i = 1; i < c->npub; i++)
		if (strcmp(c->pub[i - 1].name, c->pub[i].name) == 0)
			return JIT_E_FORMAT;
	return JIT_OK;
}

/* The header the AEAD authenticates: editing any of it on disk breaks it. */
static int
cred_make_ad(struct cred *c)
{
	struct credhdr h = {
		.name = c->name,
		.kind = c->kind,
		.field_names = c->field_names,
		.nfields = c->nfields,
		.created = c->created,
		.not_after = c->not_after,
		.stepup = stepup_name(c->stepup),
		.profile = c->profile,
		.reason = c->reason,
		.pub = c->pub,
		.npub = c->npub,
		.unlock_on_use = c->unlock_on_use,
		.sealed_by = c->sealed_by,
		.ssh_cert = c->ssh_cert,
		.ssh_certlen = c->ssh_certlen,
	};

	free(c->ad);
	c->ad = NULL;
	return credhdr_ad(&h, &c->ad, &c->adlen);
}

static int
index_grow(struct store *s)
{
	struct cred **nb, *c, *next;
	size_t nn, i, b;

	if (s->ncreds < s->nbuckets)
		return JIT_OK;
	nn = s->nbuckets == 0 ? 256 : s->nbuckets * 2;
	if ((nb = calloc(nn, sizeof(*nb))) == NULL)
		return JIT_E_NOMEM;
	for (i = 0; i < s->nbuckets; i++) {
		for (c = s->buckets[i]; c != NULL; c = next) {
			next = c->hnext;
			b = name_hash(c->name) & (nn - 1);
			c->hnext = nb[b];
			nb[b] = c;
		}
	}
	free(s->buckets);
	s->buckets = nb;
	s->nbuckets = nn;
	return JIT_OK;
}

static int
index_insert(struct store *s, struct cred *c)
{
	struct cred **nc;
	size_t b;
	int r;

	if (s->ncreds >= STORE_CREDS_MAX)
		return JIT_E_LIMIT;
	if ((r = index_grow(s)) != 0)
		return r;
	if (s->ncreds == s->capcreds) {
		size_t ncap = s->capcreds == 0 ? 64 : s->capcreds * 2;

		if ((nc = reallocarray(s->creds, ncap, sizeof(*nc))) == NULL)
			return JIT_E_NOMEM;
		s->creds = nc;
		s->capcreds = ncap;
	}
	b = name_hash(c->name) & (s->nbuckets - 1);
	c->hnext = s->buckets[b];
	s->buckets[b] = c;
	s->creds[s->ncreds++] = c;
	if (listed_locked(c))
		s->nlisted_locked++;
	return JIT_OK;
}

static void
index_remove(struct store *s, struct cred *c)
{
	struct cred **pp;
	size_t i;

	pp = &s->buckets[name_hash(c->name) & (s->nbuckets - 1)];
	for (; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	}
	for (i = 0; i < s->ncreds; i++) {
		if (s->creds[i] == c) {
			s->creds[i] = s->creds[--s->ncreds];
			if (listed_locked(c))
				s->nlisted_locked--;
			if (c->unread)
				s->nunread--;
			break;
		}
	}
}

size_t
store_nlisted_locked(struct store *s)
{
	/* Any unread file could be one. */
	store_read_all(s);
	return s->nlisted_locked;
}

static struct cred *
index_find(const struct store *s, const char *name)
{
	struct cred *c;

	if (s->nbuckets == 0)
		return NULL;
	for (c = s->buckets[name_hash(name) & (s->nbuckets - 1)]; c != NULL;
	     c = c->hnext)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static int cred_read(struct store *s, struct cred *c);

struct cred *
store_cred(struct store *s, const char *name)
{
	struct cred *c;

	if ((c = index_find(s, name)) == NULL || !c->unread)
		return c;
	return cred_read(s, c) == JIT_OK ? c : NULL;
}

size_t
store_ncreds(struct store *s)
{
	store_read_all(s);
	return s->ncreds;
}

size_t
store_nknown(const struct store *s)
{
	return s->ncreds;
}

size_t
store_nunread(const struct store *s)
{
	return s->nunread;
}

struct cred *
store_cred_at(struct store *s, size_t i)
{
	/* A damaged file leaves the index, the last entry taking its
	 * place: read that one then. */
	while (i < s->ncreds && s->creds[i]->unread)
		if (cred_read(s, s->creds[i]) == JIT_E_NOMEM)
			return NULL;
	return i < s->ncreds ? s->creds[i] : NULL;
}

struct cred *
store_cred_peek(const struct store *s, size_t i)
{
	return i < s->ncreds && !s->creds[i]->unread ? s->creds[i] : NULL;
}

const char *
store_dir(const struct store *s)
{
	return s->dir;
}

size_t
store_ntokens(const struct store *s)
{
	return s->ts->n;
}

struct hw_token *
store_token_at(const struct store *s, size_t i)
{
	return i < s->ts->n ? s->ts->e[i].tok : NULL;
}

struct hw_token *
store_token_by_label(const struct store *s, const char *label)
{
	return (struct hw_token *)(uintptr_t)tokenset_by_label(s->ts, label);
}

struct hw_token *
store_token_by_id(const struct store *s, const char *id)
{
	return (struct hw_token *)(uintptr_t)tokenset_by_id(s->ts, id);
}

const struct tokenset *
store_tokenset(const struct store *s)
{
	return s->ts;
}

enum store_set_state
store_set_state(const struct store *s, const char **ret_why)
{
	if (ret_why != NULL)
		*ret_why = s->set_why;
	return s->set_state;
}

void
store_set_verified(
    struct store *s, uint64_t generation, int result, const char *why)
{
	/* A verdict on a set that has changed since says nothing. */
	if (generation != s->ts->generation || s->set_state == SET_EMPTY ||
	    s->set_state == SET_BROKEN)
		return;
	if (result == JIT_OK) {
		/* One token that disagrees is enough: it stays failed until
		 * the set is repaired through the agent. */
		if (s->set_state == SET_UNVERIFIED)
			s->set_state = SET_VERIFIED;
		return;
	}
	s->set_state = SET_FAILED;
	snprintf(s->set_why, sizeof(s->set_why), "%s", why);
}

int
store_first_enroll_ok(const struct store *s)
{
	if (s->set_state == SET_BROKEN)
		return JIT_E_AUTH;
	if (s->ts->n > 0)
		return JIT_E_EXISTS;
	/* With the set gone but credentials left, someone deleted it: a
	 * first enrollment now would hand them every later credential. */
	if (s->ncreds > 0)
		return JIT_E_DENIED;
	return JIT_OK;
}

int
store_replace_tokenset(struct store *s, struct tokenset *ts)
{
	int r;

	if ((r = tokenset_save(ts, s->set_path)) != 0)
		return r;
	tokenset_free(s->ts);
	s->ts = ts;
	s->set_file = true;
	s->set_state = ts->n > 0 ? SET_VERIFIED : SET_EMPTY;
	s->set_why[0] = '\0';
	return JIT_OK;
}

static int
path_of(const char *dir, const char *leaf, char **ret)
{
	if (asprintf(ret, "%s/%s.json", dir, leaf) < 0)
		return JIT_E_NOMEM;
	return JIT_OK;
}

/* ---- credential files ---- */

static int
cred_to_json(const struct cred *c, struct json_object **ret)
{
	struct json_object *o, *arr = NULL, *wo;
	size_t i;
	int r = JIT_E_NOMEM;

	if ((o = json_object_new_object()) == NULL)
		return JIT_E_NOMEM;
	if ((r = jsonx_add_int(o, "version", CRED_VERSION)) != 0 ||
	    (r = jsonx_add_str(o, "name", c->name)) != 0 ||
	    (r = jsonx_add_str(o, "kind", c->kind)) != 0)
		goto out;
	if ((arr = json_object_new_array()) == NULL)
		goto out;
	for (i = 0; i < c->nfields; i++)
		json_object_array_add(
		    arr, json_object_new_string(c->field_names[i]));
	json_object_object_add(o, "fields", arr);
	if ((r = jsonx_add_int(o, "created", c->created)) != 0 ||
	    (r = jsonx_add_int(o, "not_after", c->not_after)) != 0 ||
	    (r = jsonx_add_str(o, "stepup", stepup_name(c->stepup))) != 0 ||
	    (r = jsonx_add_b64(o, "nonce", c->nonce, sizeof(c->nonce))) != 0 ||
	    (r = jsonx_add_b64(o, "ciphertext", c->ct, c->ctlen)) != 0)
		goto out;
	if ((c->profile != NULL &&
		(r = jsonx_add_str(o, "profile", c->profile)) != 0) ||
	    (c->reason != NULL &&
		(r = jsonx_add_str(o, "reason", c->reason)) != 0) ||
	    (c->unlock_on_use &&
		(r = jsonx_add_bool(o, "unlock_on_use", true)) != 0) ||
	    (c->sealed_by != NULL &&
		(r = jsonx_add_str(o, "sealed_by", c->sealed_by)) != 0) ||
	    (c->ssh_cert != NULL &&
		(r = jsonx_add_b64(
		     o, "ssh_cert", c->ssh_cert, c->ssh_certlen)) != 0))
		goto out;
	if (c->npub > 0) {
		r = JIT_E_NOMEM;
		if ((arr = json_object_new_object()) == NULL)
			goto out;
		json_object_object_add(o, "public", arr);
		for (i = 0; i < c->npub; i++)
			if ((r = jsonx_add_str(
				 arr, c->pub[i].name, c->pub[i].value)) != 0)
				goto out;
	}
	r = JIT_E_NOMEM;
	if ((arr = json_object_new_array()) == NULL)
		goto out;
	json_object_object_add(o, "wraps", arr);
	for (i = 0; i < c->nwraps; i++) {
		const struct cred_wrap *cw = &c->wraps[i];

		if ((wo = json_object_new_object()) == NULL)
			goto out;
		json_object_array_add(arr, wo);
		if ((r = jsonx_add_str(wo, "token", cw->token_id)) != 0 ||
		    (r = jsonx_add_b64(
			 wo, "epk", cw->w.epk, sizeof(cw->w.epk))) != 0 ||
		    (r = jsonx_add_b64(
			 wo, "nonce", cw->w.nonce, sizeof(cw->w.nonce))) != 0 ||
		    (r = jsonx_add_b64(
			 wo, "box", cw->w.box, sizeof(cw->w.box))) != 0)
			goto out;
	}
	*ret = o;
	o = NULL;
	r = JIT_OK;
out:
	json_object_put(o);
	return r;
}

/* The optional members of a requested credential. */
static int
cred_request_from_json(struct json_object *o, struct cred *c)
{
	struct cred_pub pub[CRED_PUBLIC_MAX];
	struct json_object *po;
	const char *profile = NULL, *reason = NULL;
	size_t n = 0;
	int r;

	if ((r = jsonx_opt_str(o, "profile", CRED_NAME_MAX, &profile)) != 0 &&
	    r != JIT_E_NOENT)
		return r;
	if ((r = jsonx_opt_str(o, "reason", CRED_REASON_MAX, &reason)) != 0 &&
	    r != JIT_E_NOENT)
		return r;
	if ((r = jsonx_opt_bool(o, "unlock_on_use", &c->unlock_on_use)) != 0 &&
	    r != JIT_E_NOENT)
		return r;
	if (json_object_object_get_ex(o, "public", &po)) {
		if (!json_object_is_type(po, json_type_object) ||
		    json_object_object_length(po) > CRED_PUBLIC_MAX)
			return JIT_E_FORMAT;
		json_object_object_foreach(po, k, v)
		{
			if (!json_object_is_type(v, json_type_string))
				return JIT_E_FORMAT;
			pub[n].name = k;
			pub[n].value = (char *)(uintptr_t)
			    json_object_get_string(v);
			n++;
		}
	}
	return cred_set_request(c, profile, reason, pub, n);
}

/* Made by jitctl seal: who sealed it, part of the header. */
static int
cred_sealed_by_from_json(struct json_object *o, struct cred *c)
{
	const char *by;
	int r;

	r = jsonx_opt_str(o, "sealed_by", CREDHDR_SEALED_BY_MAX, &by);
	if (r == JIT_E_NOENT)
		return JIT_OK;
	if (r != 0)
		return r;
	if (!credhdr_sealed_by_ok(by))
		return JIT_E_FORMAT;
	if ((c->sealed_by = strdup(by)) == NULL)
		return JIT_E_NOMEM;
	return JIT_OK;
}

/* An ssh-cert's certificate, kept public in the header (unlock on use). */
static int
cred_ssh_cert_from_json(struct json_object *o, struct cred *c)
{
	int r;

	if (!json_object_object_get_ex(o, "ssh_cert", NULL))
		return JIT_OK;
	if ((r = jsonx_get_b64(o, "ssh_cert", CREDHDR_SSH_CERT_MAX,
		 &c->ssh_cert, &c->ssh_certlen)) != 0)
		return r;
	return c->ssh_certlen > 0 ? JIT_OK : JIT_E_FORMAT;
}

static int
cred_set_ssh_cert(struct cred *c, const uint8_t *cert, size_t len)
{
	if (cert == NULL || len == 0)
		return JIT_OK;
	if (len > CREDHDR_SSH_CERT_MAX)
		return JIT_E_LIMIT;
	if ((c->ssh_cert = malloc(len)) == NULL)
		return JIT_E_NOMEM;
	memcpy(c->ssh_cert, cert, len);
	c->ssh_certlen = len;
	return JIT_OK;
}

static int
cred_from_json(struct json_object *o, struct cred **ret)
{
	struct json_object *arr, *e;
	struct cred *c;
	const char *s;
	int64_t v;
	size_t i, n;
	int r;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return JIT_E_NOMEM;
	c->last_uid = -1;
	if ((r = jsonx_get_int(o, "version", CRED_VERSION, CRED_VERSION, &v)) !=
	    0)
		goto out;
	r = JIT_E_NOMEM;
	if ((r = jsonx_get_str(o, "name", CRED_NAME_MAX, &s)) != 0)
		goto out;
	if (!policy_name_ok(s) || (c->name = strdup(s)) == NULL) {
		r = JIT_E_FORMAT;
		goto out;
	}
	if ((r = jsonx_get_str(o, "kind", CRED_KIND_MAX, &s)) != 0)
		goto out;
	if ((c->kind = strdup(s)) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	r = JIT_E_FORMAT;
	if (!json_object_object_get_ex(o, "fields", &arr) ||
	    !json_object_is_type(arr, json_type_array) ||
	    (n = json_object_array_length(arr)) == 0 || n > FIELDS_MAX)
		goto out;
	if ((c->field_names = calloc(n, sizeof(char *))) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(e, json_type_string))
			goto out;
		s = json_object_get_string(e);
		if (!fields_valid_name((const uint8_t *)s, strlen(s)) ||
		    (c->field_names[i] = strdup(s)) == NULL)
			goto out;
		c->nfields++;
	}
	if ((r = jsonx_get_int(o, "created", 0, INT64_MAX, &c->created)) != 0 ||
	    (r = jsonx_get_int(o, "not_after", 0, INT64_MAX, &c->not_after)) !=
		0 ||
	    (r = jsonx_get_str(o, "stepup", 16, &s)) != 0 ||
	    (r = stepup_parse(s, &c->stepup)) != 0 ||
	    (r = jsonx_get_b64_fixed(o, "nonce", c->nonce, sizeof(c->nonce))) !=
		0 ||
	    (r = jsonx_get_b64(
		 o, "ciphertext", CRED_CT_MAX, &c->ct, &c->ctlen)) != 0)
		goto out;
	r = JIT_E_FORMAT;
	if (!json_object_object_get_ex(o, "wraps", &arr) ||
	    !json_object_is_type(arr, json_type_array) ||
	    (n = json_object_array_length(arr)) > CRED_WRAPS_MAX)
		goto out;
	if (n > 0 && (c->wraps = calloc(n, sizeof(*c->wraps))) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct cred_wrap *cw = &c->wraps[i];

		e = json_object_array_get_idx(arr, i);
		if ((r = jsonx_get_str(e, "token", HW_ID_LEN, &s)) != 0 ||
		    strlen(s) != HW_ID_LEN ||
		    (r = jsonx_get_b64_fixed(
			 e, "epk", cw->w.epk, sizeof(cw->w.epk))) != 0 ||
		    (r = jsonx_get_b64_fixed(
			 e, "nonce", cw->w.nonce, sizeof(cw->w.nonce))) != 0 ||
		    (r = jsonx_get_b64_fixed(
			 e, "box", cw->w.box, sizeof(cw->w.box))) != 0) {
			r = JIT_E_FORMAT;
			goto out;
		}
		memcpy(cw->token_id, s, HW_ID_LEN + 1);
		c->nwraps++;
	}
	if ((r = cred_request_from_json(o, c)) != 0 ||
	    (r = cred_sealed_by_from_json(o, c)) != 0 ||
	    (r = cred_ssh_cert_from_json(o, c)) != 0 ||
	    (r = cred_make_ad(c)) != 0)
		goto out;
	*ret = c;
	c = NULL;
	r = JIT_OK;
out:
	cred_free(c);
	return r;
}

/* NAME.json was written again: it is no longer damaged (the list held it
 * until a restart). */
static void
forget_damaged(struct store *s, const char *name)
{
	size_t i,
	    n = s->ndamaged < STORE_DAMAGED_KEEP ? s->ndamaged :
						   STORE_DAMAGED_KEEP;
	size_t len = strlen(name);

	for (i = 0; i < n; i++) {
		if (strncmp(s->damaged[i].file, name, len) != 0 ||
		    strcmp(s->damaged[i].file + len, ".json") != 0)
			continue;
		memmove(&s->damaged[i], &s->damaged[i + 1],
		    (n - i - 1) * sizeof(s->damaged[0]));
		s->ndamaged--;
		return;
	}
}

static int
cred_save(struct store *s, const struct cred *c)
{
	struct json_object *o = NULL;
	char *path = NULL;
	int r;

	if ((r = cred_to_json(c, &o)) != 0 ||
	    (r = path_of(s->creds_dir, c->name, &path)) != 0)
		goto out;
	if ((r = jsonx_save_file(path, o)) == 0)
		forget_damaged(s, c->name);
out:
	free(path);
	json_object_put(o);
	return r;
}

bool
cred_wrapped_to(const struct cred *c, const char *token_id)
{
	size_t i;

	for (i = 0; i < c->nwraps; i++)
		if (strcmp(c->wraps[i].token_id, token_id) == 0)
			return true;
	return false;
}

int
store_put_cred(struct store *s, const struct cred_new *a,
    const struct secret *fields, struct cred **ret)
{
	struct cred *c = NULL, *old;
	struct secret *dek = NULL;
	struct fields_iter it;
	struct field f;
	uint32_t n, i;
	int r;

	if (!policy_name_ok(a->name))
		return JIT_E_ARG;
	if (s->ts->n == 0)
		return JIT_E_NOTOKEN;
	/* Wrap only to a set that a token of the set vouched for. */
	if (s->set_state != SET_VERIFIED)
		return JIT_E_UNVERIFIED;
	old = store_cred(s, a->name);
	if (old != NULL && !a->replace)
		return JIT_E_EXISTS;
	if ((r = fields_validate(fields, &n)) != 0)
		return r;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return JIT_E_NOMEM;
	c->last_uid = -1;
	r = JIT_E_NOMEM;
	if ((c->name = strdup(a->name)) == NULL ||
	    (c->kind = strdup(a->kind)) == NULL ||
	    (c->field_names = calloc(n, sizeof(char *))) == NULL ||
	    (c->wraps = calloc(s->ts->n, sizeof(*c->wraps))) == NULL)
		goto out;
	if ((r = fields_iter_init(&it, fields)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (fields_next(&it, &f) != 1 ||
		    (c->field_names[i] = strndup(
			 (const char *)f.name, f.namelen)) == NULL) {
			r = JIT_E_NOMEM;
			goto out;
		}
		c->nfields++;
	}
	c->created = (int64_t)time(NULL);
	c->not_after = c->created + a->ttl_s;
	c->stepup = a->stepup;
	c->unlock_on_use = a->unlock_on_use;
	if ((r = cred_set_request(c, a->profile, a->reason, a->pub, a->npub)) !=
		0 ||
	    (r = cred_set_ssh_cert(c, a->ssh_cert, a->ssh_certlen)) != 0)
		goto out;
	if ((r = cred_make_ad(c)) != 0 || (r = seal_random_key(&dek)) != 0 ||
	    (r = seal_aead(dek, c->ad, c->adlen, fields, c->nonce, &c->ct,
		 &c->ctlen)) != 0)
		goto out;
	for (i = 0; i < s->ts->n; i++) {
		struct cred_wrap *cw = &c->wraps[i];
		const struct hw_token *t = s->ts->e[i].tok;

		memcpy(cw->token_id, t->id, HW_ID_LEN + 1);
		if ((r = seal_wrap(t->recipient, dek, cw->token_id, &cw->w)) !=
		    0)
			goto out;
		c->nwraps++;
	}
	if ((r = cred_save(s, c)) != 0)
		goto out;
	if (old != NULL) {
		index_remove(s, old);
		cred_free(old);
	}
	if ((r = index_insert(s, c)) != 0)
		goto out;
	*ret = c;
	c = NULL;
	r = JIT_OK;
out:
	secret_free(dek);
	cred_free(c);
	return r;
}

int
store_delete_cred(struct store *s, const char *name)
{
	struct cred *c;
	char *path;
	bool gone;
	int r;

	if ((c = store_cred(s, name)) == NULL)
		return JIT_E_NOENT;
	if ((r = path_of(s->creds_dir, c->name, &path)) != 0)
		return r;
	r = fs_unlink(path);
	/* Unlinked, but its directory could not be synced: the file is gone,
	 * so the credential is too (a power cut may bring the file back, and
	 * the next start then shows it again: nothing is lost). */
	gone = r == JIT_OK || r == JIT_E_NOENT ||
	    (access(path, F_OK) != 0 && errno == ENOENT);
	if (gone && r == JIT_E_IO)
		log_warn(
		    "deleted %s, but its directory could not be synced: a power cut may bring it back",
		    path);
	free(path);
	if (!gone)
		return r;
	index_remove(s, c);
	cred_free(c);
	return JIT_OK;
}

int
cred_snapshot(const struct cred *c, struct cred_sealed **ret)
{
	struct cred_sealed *cs;

	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		return JIT_E_NOMEM;
	cs->created = c->created;
	memcpy(cs->nonce, c->nonce, sizeof(cs->nonce));
	if ((cs->name = strdup(c->name)) == NULL ||
	    (cs->ct = malloc(c->ctlen)) == NULL ||
	    (cs->ad = malloc(c->adlen)) == NULL ||
	    (c->nwraps > 0 &&
		(cs->wraps = calloc(c->nwraps, sizeof(*cs->wraps))) == NULL)) {
		cred_sealed_free(cs);
		return JIT_E_NOMEM;
	}
	memcpy(cs->ct, c->ct, c->ctlen);
	cs->ctlen = c->ctlen;
	memcpy(cs->ad, c->ad, c->adlen);
	cs->adlen = c->adlen;
	if (c->nwraps > 0)
		memcpy(cs->wraps, c->wraps, c->nwraps * sizeof(*cs->wraps));
	cs->nwraps = c->nwraps;
	*ret = cs;
	return JIT_OK;
}

void
cred_sealed_free(struct cred_sealed *cs)
{
	if (cs == NULL)
		return;
	free(cs->name);
	free(cs->ct);
	free(cs->ad);
	free(cs->wraps);
	free(cs);
}

const struct seal_wrap *
cred_sealed_wrap(const struct cred_sealed *cs, const char *token_id)
{
	size_t i;

	for (i = 0; i < cs->nwraps; i++)
		if (strcmp(cs->wraps[i].token_id, token_id) == 0)
			return &cs->wraps[i].w;
	return NULL;
}

/* cs's data key and plaintext: dk's cached key if it opens the
 * ciphertext, else the key unwrapped with the identity (then kept in
 * dk->unwrapped for the cache).  Whichever key, the ciphertext under this
 * header must open with it: a wrap that yields another key, or an edited
 * file, opens nothing. */
static int
sealed_key(const struct cred_sealed *cs, const char *token_id,
    const struct secret *identity_sk, const uint8_t recipient[32],
    struct cred_dek *dk, struct secret **ret_dek, struct secret **ret_plain)
{
	const struct seal_wrap *w = cred_sealed_wrap(cs, token_id);
	struct secret *dek = NULL;
	int r;

	if (w == NULL)
		return JIT_E_NOENT;
	if (dk != NULL && dk->cached != NULL) {
		if ((r = secret_from(dk->cached, SEAL_KEY_LEN, &dek)) != 0)
			return r;
		if (seal_aead_open(dek, cs->ad, cs->adlen, cs->nonce, cs->ct,
			cs->ctlen, ret_plain) == JIT_OK) {
			*ret_dek = dek;
			return JIT_OK;
		}
		secret_free(dek);
		dek = NULL;
	}
	if ((r = seal_unwrap(identity_sk, recipient, w, token_id, &dek)) != 0 ||
	    (r = seal_aead_open(dek, cs->ad, cs->adlen, cs->nonce, cs->ct,
		 cs->ctlen, ret_plain)) != 0) {
		secret_free(dek);
		return r;
	}
	if (dk != NULL &&
	    (r = secret_from(
		 secret_ptr(dek), secret_len(dek), &dk->unwrapped)) != 0) {
		secret_free(dek);
		secret_free(*ret_plain);
		*ret_plain = NULL;
		return r;
	}
	*ret_dek = dek;
	return JIT_OK;
}

int
cred_sealed_open(const struct cred_sealed *cs, const char *token_id,
    const struct secret *identity_sk, const uint8_t recipient[32],
    struct cred_dek *dk, struct secret **ret_fields)
{
	struct secret *dek = NULL, *plain = NULL;
	int r;

	if ((r = sealed_key(
		 cs, token_id, identity_sk, recipient, dk, &dek, &plain)) != 0)
		return r;
	if ((r = fields_validate(plain, NULL)) != 0)
		goto out;
	*ret_fields = plain;
	plain = NULL;
out:
	secret_free(dek);
	secret_free(plain);
	return r;
}

int
cred_sealed_rewrap(const struct cred_sealed *cs, const char *token_id,
    const struct secret *identity_sk, const uint8_t recipient[32],
    struct cred_dek *dk, struct hw_token *const *to, size_t nto,
    struct cred_wrap **ret, size_t *ret_n)
{
	struct secret *dek = NULL, *plain = NULL;
	struct cred_wrap *w = NULL;
	size_t i, k, n = 0;
	int r;

	*ret = NULL;
	*ret_n = 0;
	if ((r = sealed_key(
		 cs, token_id, identity_sk, recipient, dk, &dek, &plain)) != 0)
		return r;
	secret_free(plain);
	plain = NULL;
	if (nto > 0 && (w = calloc(nto, sizeof(*w))) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	for (k = 0; k < nto; k++) {
		for (i = 0; i < cs->nwraps; i++)
			if (strcmp(cs->wraps[i].token_id, to[k]->id) == 0)
				break;
		if (i < cs->nwraps)
			continue; /* wrapped to it already */
		memcpy(w[n].token_id, to[k]->id, HW_ID_LEN + 1);
		if ((r = seal_wrap(
			 to[k]->recipient, dek, w[n].token_id, &w[n].w)) != 0)
			goto out;
		n++;
	}
	*ret = w;
	*ret_n = n;
	w = NULL;
	r = JIT_OK;
out:
	free(w);
	secret_free(dek);
	secret_free(plain);
	return r;
}

int
store_add_wraps(struct store *s, struct cred *c, const struct cred_wrap *w,
    size_t n, size_t *ret_added)
{
	struct cred_wrap *grown;
	size_t i, keep = c->nwraps, added = 0;
	int r;

	*ret_added = 0;
	if (s->set_state != SET_VERIFIED)
		return JIT_E_UNVERIFIED;
	if ((grown = realloc(c->wraps, (c->nwraps + n + 1) * sizeof(*grown))) ==
	    NULL)
		return JIT_E_NOMEM;
	c->wraps = grown;
	for (i = 0; i < n; i++) {
		/* Only to a token still enrolled, and once. */
		if (store_token_by_id(s, w[i].token_id) == NULL ||
		    cred_wrapped_to(c, w[i].token_id))
			continue;
		c->wraps[c->nwraps++] = w[i];
		added++;
	}
	if (added == 0)
		return JIT_OK;
	/* Atomically: the file has the new wraps, or the old ones. */
	if ((r = cred_save(s, c)) != 0) {
		c->nwraps = keep;
		return r;
	}
	*ret_added = added;
	return JIT_OK;
}

/* ---- credentials sealed elsewhere ---- */

int
store_cred_parse(struct json_object *o, struct cred **ret)
{
	return cred_from_json(o, ret);
}

void
store_cred_free(struct cred *c)
{
	cred_free(c);
}

void
store_cred_keep_wraps(struct cred *c, const char *const *ids, size_t n)
{
	size_t i, j, kept = 0;

	for (i = 0; i < c->nwraps; i++) {
		for (j = 0; j < n; j++)
			if (strcmp(c->wraps[i].token_id, ids[j]) == 0)
				break;
		if (j < n)
			c->wraps[kept++] = c->wraps[i];
	}
	c->nwraps = kept;
}

int
store_add_parsed(struct store *s, struct cred *c, bool replace)
{
	struct cred *old;
	int r;

	if (!policy_name_ok(c->name))
		return JIT_E_ARG;
	old = store_cred(s, c->name);
	if (old != NULL && !replace)
		return JIT_E_EXISTS;
	if ((r = cred_save(s, c)) != 0)
		return r;
	if (old != NULL) {
		index_remove(s, old);
		cred_free(old);
	}
	return index_insert(s, c);
}

/* ---- tokens ---- */

int
store_drop_wraps(struct store *s, const char *token_id, bool force,
    size_t *ret_rewrapped, size_t *ret_orphans)
{
	struct cred *c;
	size_t i, j, rewrapped = 0, orphans = 0;
	int r;

	store_read_all(s);
	for (i = 0; i < s->ncreds; i++)
		if (cred_wrapped_to(s->creds[i], token_id) &&
		    s->creds[i]->nwraps == 1)
			orphans++;
	*ret_orphans = orphans;
	*ret_rewrapped = 0;
	if (orphans > 0 && !force)
		return JIT_E_DENIED;
	/* Each credential file is rewritten atomically; an interruption
	 * leaves some with the extra wrap to a token still enrolled. */
	for (i = 0; i < s->ncreds;) {
		c = s->creds[i];
		if (!cred_wrapped_to(c, token_id)) {
			i++;
			continue;
		}
		if (c->nwraps == 1) {
			if ((r = store_delete_cred(s, c->name)) != 0)
				return r;
			continue; /* the array was compacted */
		}
		for (j = 0; j < c->nwraps; j++) {
			if (strcmp(c->wraps[j].token_id, token_id) == 0) {
				c->wraps[j] = c->wraps[--c->nwraps];
				break;
			}
		}
		if ((r = cred_save(s, c)) != 0)
			return r;
		rewrapped++;
		i++;
	}
	*ret_rewrapped = rewrapped;
	return JIT_OK;
}

/* ---- loading ---- */

static void
note_damaged(struct store *s, const char *file, const char *why)
{
	struct store_damaged *d;

	log_warn("skipping credential file %s/%s: %s", s->creds_dir, file, why);
	if (s->ndamaged++ >= STORE_DAMAGED_KEEP)
		return;
	d = &s->damaged[s->ndamaged - 1];
	snprintf(d->file, sizeof(d->file), "%s", file);
	snprintf(d->why, sizeof(d->why), "%s", why);
}

/* One file, by name from the directory: one open, reads into a bounded
 * buffer (no fstat: a file over the limit is caught by the read), close. */
static int
read_cred_file(struct store *s, const char *file, size_t *ret_len)
{
	size_t len = 0;
	ssize_t n;
	int fd, r = JIT_OK;

	if (s->readbuf == NULL &&
	    (s->readbuf = malloc(STORE_FILE_MAX + 1)) == NULL)
		return JIT_E_NOMEM;
	/* Non-blocking: a FIFO put there must not stall the agent. */
	if ((fd = openat(s->creds_fd, file,
		 O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)) <
	    0)
		return errno == ENOENT ? JIT_E_NOENT : JIT_E_IO;
	while (len <= STORE_FILE_MAX) {
		n = read(fd, s->readbuf + len, STORE_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = JIT_E_IO;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (r == JIT_OK && len > STORE_FILE_MAX)
		r = JIT_E_LIMIT;
	*ret_len = len;
	return r;
}

/* Read, parse and check an unread entry; the checks are those every file
 * had at start before (the header rebuilt as the AEAD's data). */
static int
cred_read(struct store *s, struct cred *c)
{
	struct json_object *o = NULL;
	struct cred *parsed = NULL, *hnext;
	char file[CRED_NAME_MAX + sizeof(".json")];
	const char *why = NULL;
	size_t len;
	int r;

	snprintf(file, sizeof(file), "%s.json", c->name);
	if ((r = read_cred_file(s, file, &len)) != 0 ||
	    (r = jsonx_parse(s->readbuf, len, &o)) != 0)
		why = jit_strerror(r);
	else if ((r = cred_from_json(o, &parsed)) != 0)
		why = jit_strerror(r);
	else if (strcmp(parsed->name, c->name) != 0) {
		why = "its name does not match the file";
		r = JIT_E_FORMAT;
	}
	json_object_put(o);
	if (r != JIT_OK) {
		cred_free(parsed);
		if (r == JIT_E_NOMEM)
			return r; /* not the file's fault: it stays */
		note_damaged(s, file, why);
		index_remove(s, c);
		cred_free(c);
		return r;
	}
	hnext = c->hnext;
	free(c->name);
	*c = *parsed;
	c->hnext = hnext;
	free(parsed);
	s->nunread--;
	if (listed_locked(c))
		s->nlisted_locked++;
	return JIT_OK;
}

size_t
store_read_some(struct store *s, size_t max)
{
	struct cred *c;

	while (max > 0 && s->nunread > 0) {
		if (s->read_cursor >= s->ncreds)
			s->read_cursor = 0; /* a delete moved one back */
		c = s->creds[s->read_cursor];
		if (!c->unread) {
			s->read_cursor++;
			continue;
		}
		max--;
		/* Damaged: the last entry took its place, read it next. */
		if (cred_read(s, c) == JIT_E_NOMEM)
			break;
	}
	return s->nunread;
}

void
store_read_all(struct store *s)
{
	(void)store_read_some(s, SIZE_MAX);
}

size_t
store_ndamaged(const struct store *s)
{
	return s->ndamaged;
}

const struct store_damaged *
store_damaged_at(const struct store *s, size_t i)
{
	return i < s->ndamaged && i < STORE_DAMAGED_KEEP ? &s->damaged[i] :
							   NULL;
}

/* Names only: one directory pass, no file opened. */
static int
load_dir(struct store *s)
{
	struct dirent *de;
	struct cred *c;
	size_t n;
	DIR *d;
	int fd, r;

	if ((s->creds_fd = open(s->creds_dir,
		 O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return JIT_E_IO;
	if ((fd = dup(s->creds_fd)) < 0)
		return JIT_E_IO;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return JIT_E_IO;
	}
	/* readdir has the directory's own offset: rewind the shared one. */
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (de->d_name[0] == '.' || n < 6 ||
		    strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		if (n - 5 > CRED_NAME_MAX) {
			note_damaged(s, de->d_name,
			    "its name is not a credential's name");
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->name = strndup(de->d_name, n - 5)) == NULL) {
			free(c);
			closedir(d);
			return JIT_E_NOMEM;
		}
		c->unread = true;
		c->last_uid = -1;
		if (!policy_name_ok(c->name)) {
			note_damaged(s, de->d_name,
			    "its name is not a credential's name");
			cred_free(c);
			continue;
		}
		if ((r = index_insert(s, c)) != 0) {
			note_damaged(s, de->d_name, jit_strerror(r));
			cred_free(c);
			continue;
		}
		s->nunread++;
	}
	closedir(d);
	return JIT_OK;
}

/* Token files of the time before the token set are no tokens: say so. */
static void
legacy_tokens_note(const struct store *s)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if ((d = opendir(s->tokens_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	if (n > 0)
		log_warn(
		    "%s holds %zu file(s) that are not enrolled tokens and are ignored: enrolled tokens live in %s, sealed by the tokens themselves",
		    s->tokens_dir, n, s->set_path);
}

static int
load_tokens(struct store *s)
{
	int r;

	legacy_tokens_note(s);
	r = tokenset_load(s->set_path, &s->ts, s->set_why, sizeof(s->set_why));
	if (r == JIT_OK) {
		s->set_file = true;
		s->set_state = s->ts->n > 0 ? SET_UNVERIFIED : SET_EMPTY;
		return JIT_OK;
	}
	if ((r = tokenset_new(&s->ts)) != 0)
		return r;
	if (s->set_why[0] != '\0') {
		/* Unreadable: nothing enrolls, nothing is wrapped, until a
		 * person looks at it. */
		log_error("%s", s->set_why);
		s->set_file = true;
		s->set_state = SET_BROKEN;
		return JIT_OK;
	}
	s->set_state = SET_EMPTY;
	return JIT_OK;
}

int
store_lock(
    const char *dir, const char *note, int *ret_fd, char *why, size_t whylen)
{
	char *path = NULL, held[256];
	ssize_t n;
	size_t i;
	int fd = -1, r;

	if (asprintf(&path, "%s/" STORE_LOCK_FILE, dir) < 0)
		return JIT_E_NOMEM;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) <
	    0) {
		snprintf(
		    why, whylen, "cannot open %s: %s", path, strerror(errno));
		r = JIT_E_IO;
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK) {
			snprintf(why, whylen, "cannot lock %s: %s", path,
			    strerror(errno));
			r = JIT_E_IO;
			goto out;
		}
		/* The holder wrote who it is; a file of ours, but shown
		 * with no byte that could move a terminal's cursor. */
		n = pread(fd, held, sizeof(held) - 1, 0);
		held[n > 0 ? n : 0] = '\0';
		for (i = 0; held[i] != '\0'; i++)
			if ((unsigned char)held[i] < 0x20 || held[i] == 0x7f)
				held[i] = held[i] == '\n' ? '\0' : '?';
		snprintf(why, whylen,
		    "another jit-agent uses the data directory %s (%s): use that one (JIT_AGENT_SOCK), or stop it first",
		    dir, held[0] != '\0' ? held : "it did not say who it is");
		r = JIT_E_BUSY;
		goto out;
	}
	if (ftruncate(fd, 0) != 0 ||
	    pwrite(fd, note, strlen(note), 0) != (ssize_t)strlen(note)) {
		snprintf(
		    why, whylen, "cannot write %s: %s", path, strerror(errno));
		r = JIT_E_IO;
		goto out;
	}
	*ret_fd = fd;
	fd = -1;
	r = JIT_OK;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return r;
}

int
store_open(const char *dir, struct store **ret)
{
	struct store *s;
	int r;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return JIT_E_NOMEM;
	s->creds_fd = -1;
	if ((s->dir = strdup(dir)) == NULL ||
	    asprintf(&s->tokens_dir, "%s/tokens", dir) < 0 ||
	    asprintf(&s->creds_dir, "%s/creds", dir) < 0 ||
	    asprintf(&s->set_path, "%s/" TOKENSET_FILE, dir) < 0) {
		r = JIT_E_NOMEM;
		goto out;
	}
	if ((r = fs_mkdir_private(s->dir)) != 0 ||
	    (r = fs_mkdir_private(s->creds_dir)) != 0 ||
	    (r = load_tokens(s)) != 0 || (r = load_dir(s)) != 0)
		goto out;
	fs_remove_stale_tmp(
	    (const char *const[]){ s->dir, s->tokens_dir, s->creds_dir }, 3);
	*ret = s;
	s = NULL;
out:
	store_free(s);
	return r;
}

void
store_free(struct store *s)
{
	size_t i;

	if (s == NULL)
		return;
	tokenset_free(s->ts);
	for (i = 0; i < s->ncreds; i++)
		cred_free(s->creds[i]);
	free(s->creds);
	free(s->buckets);
	if (s->creds_fd >= 0)
		close(s->creds_fd);
	free(s->readbuf);
	free(s->dir);
	free(s->tokens_dir);
	free(s->creds_dir);
	free(s->set_path);
	free(s);
}
