/* agent/store.c: sealed credentials on disk, their round trip, tampering,
 * unenrollment's dropped wraps, the data directory's lock, and what an
 * interrupted write leaves behind.  Tokens are X25519 identities made in
 * software, as hw_enroll makes them behind a backend's KEK, in a token set
 * sealed as an enrollment seals it: no hardware, no event loop. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "assert.h"
#include "fields.h"
#include "fsutil.h"
#include "hw.h"
#include "jsonx.h"
#include "seal.h"
#include "secret.h"
#include "store.h"
#include "tmpdir.h"
#include "tokenset.h"

/* The store is reached without libuv (issue 9): keep it so. */
#ifdef UV_H
#error "store.h pulls in libuv"
#endif

struct tok {
	struct hw_token *t;
	struct secret *sk;
};

static void
setup(void)
{
	tmpdir_make("store");
}

static void
fake_token(const char *label, struct tok *f)
{
	uint8_t rnd[HW_ID_LEN / 2];

	ASSERT((f->t = calloc(1, sizeof(*f->t))) != NULL);
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(f->t->id, sizeof(f->t->id), rnd, sizeof(rnd));
	f->t->label = strdup(label);
	f->t->type = strdup("fido2");
	f->t->device = strdup("sim:/nowhere.sock");
	f->t->backend = json_object_new_object();
	f->t->created = 1700000000;
	ASSERT(f->t->label != NULL && f->t->type != NULL &&
	    f->t->device != NULL && f->t->backend != NULL);
	ASSERT_OK(seal_x25519_keypair(f->t->recipient, &f->sk));
}

static void
free_tokens(struct tok *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		hw_token_free(f[i].t);
		secret_free(f[i].sk);
	}
}

/* The set of these n tokens, sealed and installed: verified, so that
 * store_put_cred wraps to every one of them. */
static void
install_set(struct store *s, struct tok *f, size_t n)
{
	struct tokenset *ts = NULL;
	struct secret *key = NULL;
	struct hw_token *copy;
	size_t i;

	ASSERT_OK(tokenset_new(&ts));
	ASSERT_OK(seal_random_key(&key));
	for (i = 0; i < n; i++) {
		ASSERT_OK(hw_token_dup(f[i].t, &copy));
		ASSERT_OK(tokenset_add(ts, copy, f[i].sk, key));
	}
	secret_free(key);
	ASSERT_OK(store_replace_tokenset(s, ts));
	ASSERT_EQ_INT(store_set_state(s, NULL), SET_VERIFIED);
}

static void
make_fields(const char *password, struct secret **ret)
{
	struct fields_builder b;

	ASSERT_OK(fields_begin(&b));
	ASSERT_OK(fields_add(&b, "PGUSER", 6, (const uint8_t *)"alice", 5));
	ASSERT_OK(fields_add(
	    &b, "PGPASSWORD", 10, (const uint8_t *)password, strlen(password)));
	ASSERT_OK(fields_finish(&b, ret));
}

/* Put name with the fields of make_fields(password), requested through
 * profile pg with a reason and a public field. */
static void
put(struct store *s, const char *name, const char *password,
    struct secret **ret_fields, struct cred **ret)
{
	static char k1[] = "PGUSER", v1[] = "alice", k2[] = "DB", v2[] = "main";
	const struct cred_pub pub[] = {
		{ .name = k1, .value = v1 },
		{ .name = k2, .value = v2 },
	};
	struct cred_new cn;
	struct secret *f = NULL;

	make_fields(password, &f);
	ASSERT_PASSING();
	memset(&cn, 0, sizeof(cn));
	cn.name = name;
	cn.kind = "env";
	cn.ttl_s = 3600;
	cn.stepup = STEPUP_CONFIRM;
	cn.profile = "pg";
	cn.reason = "ticket 42";
	cn.pub = pub;
	cn.npub = 2;
	ASSERT_OK(store_put_cred(s, &cn, f, ret));
	if (ret_fields != NULL)
		*ret_fields = f;
	else
		secret_free(f);
}

/* Open c as token t would after its hardware opened its identity. */
static int
open_with(const struct cred *c, const struct tok *t, struct secret **ret)
{
	struct cred_sealed *cs = NULL;
	int r;

	*ret = NULL;
	if ((r = cred_snapshot(c, &cs)) != 0)
		return r;
	r = cred_sealed_open(cs, t->t->id, t->sk, t->t->recipient, NULL, ret);
	cred_sealed_free(cs);
	return r;
}

static void
cred_path(const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/creds/%s.json", tmpdir, name);
}

static bool
file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static bool
file_holds(const char *path, const char *needle)
{
	char *buf = NULL;
	size_t len;
	bool found;

	if (fs_read_file(path, STORE_FILE_MAX, &buf, &len) != 0)
		return false;
	found = memmem(buf, len, needle, strlen(needle)) != NULL;
	free(buf);
	return found;
}

TMPDIR_TEST(put_then_open_with_each_token)
{
	struct store *s = NULL;
	struct cred *c = NULL;
	struct secret *f = NULL, *got = NULL;
	struct tok t[3];
	char path[256];

	ASSERT_OK(store_open(tmpdir, &s));
	fake_token("laptop", &t[0]);
	fake_token("yk", &t[1]);
	fake_token("spare", &t[2]); /* never enrolled */
	ASSERT_PASSING();
	install_set(s, t, 2);
	ASSERT_PASSING();
	put(s, "db", "hunter2", &f, &c);
	ASSERT_PASSING();
	ASSERT(store_cred(s, "db") == c);
	ASSERT_EQ_UINT(store_ncreds(s), 1);
	ASSERT_EQ_UINT(c->nwraps, 2);
	ASSERT(
	    cred_wrapped_to(c, t[0].t->id) && cred_wrapped_to(c, t[1].t->id));
	ASSERT(!cred_wrapped_to(c, t[2].t->id));
	ASSERT_EQ_INT(c->not_after, c->created + 3600);
	ASSERT_EQ_UINT(c->nfields, 2);
	ASSERT_EQ_STR(c->field_names[0], "PGUSER");
	ASSERT_EQ_STR(c->field_names[1], "PGPASSWORD");
	/* Public fields are sorted by name, whatever the order given. */
	ASSERT_EQ_UINT(c->npub, 2);
	ASSERT_EQ_STR(c->pub[0].name, "DB");
	ASSERT_EQ_STR(c->pub[1].name, "PGUSER");

	/* Either token opens it to the very fields that were put. */
	ASSERT_OK(open_with(c, &t[0], &got));
	ASSERT(secret_equal(got, f));
	secret_free(got);
	ASSERT_OK(open_with(c, &t[1], &got));
	ASSERT(secret_equal(got, f));
	secret_free(got);
	/* A token it is not wrapped to, and a token's id with another's
	 * identity. */
	ASSERT_ERR(open_with(c, &t[2], &got), JIT_E_NOENT);
	ASSERT(got == NULL);
	{
		struct tok wrong = { .t = t[0].t, .sk = t[1].sk };

		ASSERT_ERR(open_with(c, &wrong, &got), JIT_E_AUTH);
		ASSERT(got == NULL);
	}

	/* The file holds the public field but never a secret value. */
	cred_path("db", path, sizeof(path));
	ASSERT(file_holds(path, "\"DB\""));
	ASSERT(!file_holds(path, "hunter2"));
	secret_free(f);
	store_free(s);
	free_tokens(t, 3);
}

TMPDIR_TEST(put_refusals)
{
	struct store *s = NULL;
	struct cred *c = NULL, *c2 = NULL;
	struct secret *f = NULL, *got = NULL;
	struct cred_new cn;
	struct tok t[1];

	ASSERT_OK(store_open(tmpdir, &s));
	make_fields("pw", &f);
	ASSERT_PASSING();
	memset(&cn, 0, sizeof(cn));
	cn.name = "db";
	cn.kind = "secret";
	cn.ttl_s = 60;
	/* Nothing to wrap to yet. */
	ASSERT_ERR(store_put_cred(s, &cn, f, &c), JIT_E_NOTOKEN);
	fake_token("laptop", &t[0]);
	ASSERT_PASSING();
	install_set(s, t, 1);
	ASSERT_PASSING();
	cn.name = "../db";
	ASSERT_ERR(store_put_cred(s, &cn, f, &c), JIT_E_ARG);
	cn.name = "db";
	ASSERT_OK(store_put_cred(s, &cn, f, &c));
	ASSERT_ERR(store_put_cred(s, &cn, f, &c2), JIT_E_EXISTS);
	cn.replace = true;
	ASSERT_OK(store_put_cred(s, &cn, f, &c2));
	ASSERT_EQ_UINT(store_ncreds(s), 1);
	ASSERT(store_cred(s, "db") == c2);
	ASSERT_OK(open_with(c2, &t[0], &got));
	secret_free(got);
	store_free(s);
	s = NULL;

	/* Started again, the set is not vouched for: nothing is wrapped to
	 * it until a token of it says so. */
	ASSERT_OK(store_open(tmpdir, &s));
	ASSERT_EQ_INT(store_set_state(s, NULL), SET_UNVERIFIED);
	ASSERT_ERR(store_put_cred(s, &cn, f, &c), JIT_E_UNVERIFIED);
	store_set_verified(s, store_tokenset(s)->generation, JIT_OK, NULL);
	ASSERT_EQ_INT(store_set_state(s, NULL), SET_VERIFIED);
	ASSERT_OK(store_put_cred(s, &cn, f, &c));
	secret_free(f);
	store_free(s);
	free_tokens(t, 1);
}

/* What was put comes back from disk member by member. */
TMPDIR_TEST(round_trip_of_every_header_member)
{
	struct store *s = NULL;
	struct cred *c = NULL, *d;
	struct secret *f = NULL, *got = NULL;
	struct cred_wrap wraps[2];
	uint8_t nonce[SEAL_NONCE_LEN], *ct = NULL, *ad = NULL;
	size_t ctlen, adlen, i;
	int64_t created, not_after;
	struct tok t[2];

	ASSERT_OK(store_open(tmpdir, &s));
	fake_token("laptop", &t[0]);
	fake_token("yk", &t[1]);
	ASSERT_PASSING();
	install_set(s, t, 2);
	ASSERT_PASSING();
	put(s, "db", "hunter2", &f, &c);
	ASSERT_PASSING();
	created = c->created;
	not_after = c->not_after;
	memcpy(nonce, c->nonce, sizeof(nonce));
	ASSERT((ct = malloc(c->ctlen)) != NULL);
	ASSERT((ad = malloc(c->adlen)) != NULL);
	memcpy(ct, c->ct, ctlen = c->ctlen);
	memcpy(ad, c->ad, adlen = c->adlen);
	ASSERT_EQ_UINT(c->nwraps, 2);
	memcpy(wraps, c->wraps, sizeof(wraps));
	store_free(s);
	s = NULL;

	ASSERT_OK(store_open(tmpdir, &s));
	ASSERT_EQ_UINT(store_ncreds(s), 1);
	ASSERT_EQ_UINT(store_ntokens(s), 2);
	ASSERT((d = store_cred(s, "db")) != NULL);
	ASSERT_EQ_STR(d->name, "db");
	ASSERT_EQ_STR(d->kind, "env");
	ASSERT_EQ_UINT(d->nfields, 2);
	ASSERT_EQ_STR(d->field_names[0], "PGUSER");
	ASSERT_EQ_STR(d->field_names[1], "PGPASSWORD");
	ASSERT_EQ_INT(d->created, created);
	ASSERT_EQ_INT(d->not_after, not_after);
	ASSERT_EQ_INT(d->stepup, STEPUP_CONFIRM);
	ASSERT_EQ_MEM(d->nonce, nonce, sizeof(nonce));
	ASSERT_EQ_UINT(d->ctlen, ctlen);
	ASSERT_EQ_MEM(d->ct, ct, ctlen);
	/* The associated data is made again from the members read. */
	ASSERT_EQ_UINT(d->adlen, adlen);
	ASSERT_EQ_MEM(d->ad, ad, adlen);
	ASSERT_EQ_UINT(d->nwraps, 2);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ_STR(d->wraps[i].token_id, wraps[i].token_id);
		ASSERT_EQ_MEM(&d->wraps[i].w, &wraps[i].w, sizeof(wraps[i].w));
	}
	ASSERT_EQ_STR(d->profile, "pg");
	ASSERT_EQ_STR(d->reason, "ticket 42");
	ASSERT_EQ_UINT(d->npub, 2);
	ASSERT_EQ_STR(d->pub[0].name, "DB");
	ASSERT_EQ_STR(d->pub[0].value, "main");
	ASSERT_EQ_STR(d->pub[1].name, "PGUSER");
	ASSERT_EQ_STR(d->pub[1].value, "alice");
	/* Runtime state is not on disk. */
	ASSERT(d->slot == NULL);
	ASSERT_EQ_UINT(d->uses, 0);
	ASSERT_EQ_INT(d->last_uid, -1);
	ASSERT_OK(open_with(d, &t[1], &got));
	ASSERT(secret_equal(got, f));
	secret_free(got);
	free(ct);
	free(ad);
	secret_free(f);
	store_free(s);
	free_tokens(t, 2);
}

/* ---- tampering ---- */

enum edit_kind {
	EDIT_STR,
	EDIT_INT,
	EDIT_B64,
	EDIT_FIELD,
	EDIT_PUB,
	EDIT_WRAP
};

struct edit {
	const char *what;
	enum edit_kind kind;
	const char *key;
	const char *str;
};

static void
flip_b64(struct json_object *o, const char *key)
{
	uint8_t *b = NULL;
	size_t n;

	ASSERT_OK(jsonx_get_b64(o, key, STORE_FILE_MAX, &b, &n));
	ASSERT(n > 0);
	b[n / 2] ^= 0x01;
	ASSERT_OK(jsonx_add_b64(o, key, b, n));
	free(b);
}

static void
apply_edit(const char *path, const struct edit *e)
{
	struct json_object *o = NULL, *v;
	int64_t n;

	ASSERT_OK(jsonx_load_file(path, STORE_FILE_MAX, &o));
	switch (e->kind) {
	case EDIT_STR: ASSERT_OK(jsonx_add_str(o, e->key, e->str)); break;
	case EDIT_INT:
		ASSERT_OK(jsonx_get_int(o, e->key, 0, INT64_MAX - 1, &n));
		ASSERT_OK(jsonx_add_int(o, e->key, n + 1));
		break;
	case EDIT_B64: flip_b64(o, e->key); break;
	case EDIT_FIELD:
		ASSERT(json_object_object_get_ex(o, "fields", &v));
		json_object_array_put_idx(v, 1, json_object_new_string(e->str));
		break;
	case EDIT_PUB:
		ASSERT(json_object_object_get_ex(o, "public", &v));
		ASSERT_OK(jsonx_add_str(v, e->key, e->str));
		break;
	case EDIT_WRAP:
		ASSERT(json_object_object_get_ex(o, "wraps", &v));
		flip_b64(json_object_array_get_idx(v, 0), e->key);
		break;
	}
	ASSERT_PASSING();
	ASSERT_OK(jsonx_save_file(path, o));
	json_object_put(o);
}

/* Any member of the header, the ciphertext or a wrap edited on disk: the
 * file still loads, but no token opens it. */
TMPDIR_TEST(tampered_files_are_refused)
{
	static const struct edit edits[] = {
		{ "created", EDIT_INT, "created", NULL },
		{ "not_after", EDIT_INT, "not_after", NULL },
		{ "kind", EDIT_STR, "kind", "secret" },
		{ "stepup", EDIT_STR, "stepup", "session" },
		{ "profile", EDIT_STR, "profile", "other" },
		{ "reason", EDIT_STR, "reason", "ticket 43" },
		{ "a field name", EDIT_FIELD, NULL, "PGPASS" },
		{ "a public value", EDIT_PUB, "PGUSER", "mallory" },
		{ "a public field added", EDIT_PUB, "EXTRA", "x" },
		{ "the nonce", EDIT_B64, "nonce", NULL },
		{ "the ciphertext", EDIT_B64, "ciphertext", NULL },
		{ "the wrap's box", EDIT_WRAP, "box", NULL },
		{ "the wrap's key", EDIT_WRAP, "epk", NULL },
	};
	struct store *s = NULL;
	struct cred *c = NULL;
	struct secret *got = NULL;
	struct tok t[1];
	char path[256], *orig = NULL;
	size_t origlen, i;
	int r;

	ASSERT_OK(store_open(tmpdir, &s));
	fake_token("laptop", &t[0]);
	ASSERT_PASSING();
	install_set(s, t, 1);
	ASSERT_PASSING();
	put(s, "db", "hunter2", NULL, &c);
	ASSERT_PASSING();
	store_free(s);
	s = NULL;
	cred_path("db", path, sizeof(path));
	ASSERT_OK(fs_read_file(path, STORE_FILE_MAX, &orig, &origlen));

	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		ASSERT_OK(fs_write_atomic(path, orig, origlen, 0600));
		apply_edit(path, &edits[i]);
		ASSERT_PASSING();
		ASSERT_OK(store_open(tmpdir, &s));
		c = store_cred(s, "db");
		ASSERT_MSG(c != NULL, "%s edited: the file was not loaded",
		    edits[i].what);
		r = open_with(c, &t[0], &got);
		ASSERT_MSG(r == JIT_E_AUTH,
		    "%s edited: opened with %s, not JIT_E_AUTH", edits[i].what,
		    jit_errname(r));
		ASSERT(got == NULL);
		store_free(s);
		s = NULL;
	}
	/* The untouched file still opens: the edits, not the harness, were
	 * refused. */
	ASSERT_OK(fs_write_atomic(path, orig, origlen, 0600));
	ASSERT_OK(store_open(tmpdir, &s));
	ASSERT((c = store_cred(s, "db")) != NULL);
	ASSERT_OK(open_with(c, &t[0], &got));
	secret_free(got);
	store_free(s);
	free(orig);
	free_tokens(t, 1);
}

/* Load the store and say which of alpha, beta, gamma and alp it serves. */
static void
expect_loaded(size_t n, bool alpha, bool beta)
{
	struct store *s = NULL;

	ASSERT_OK(store_open(tmpdir, &s));
	ASSERT_EQ_UINT(store_ncreds(s), n);
	ASSERT((store_cred(s, "alpha") != NULL) == alpha);
	ASSERT((store_cred(s, "beta") != NULL) == beta);
	ASSERT(store_cred(s, "gamma") == NULL);
	ASSERT(store_cred(s, "alp") == NULL);
	store_free(s);
}

/* A file renamed (or copied) to another credential's name is refused at
 * load: the name inside is authenticated, the file's name is not. */
TMPDIR_TEST(a_file_under_another_name_is_refused)
{
	struct store *s = NULL;
	struct cred *c = NULL;
	struct tok t[1];
	char alpha[256], beta[256], gamma[256], alp[256], *buf = NULL;
	size_t len;

	ASSERT_OK(store_open(tmpdir, &s));
	fake_token("laptop", &t[0]);
	ASSERT_PASSING();
	install_set(s, t, 1);
	ASSERT_PASSING();
	put(s, "alpha", "a-secret", NULL, &c);
	ASSERT_PASSING();
	put(s, "beta", "b-secret", NULL, &c);
	ASSERT_PASSING();
	store_free(s);
	s = NULL;
	cred_path("alpha", alpha, sizeof(alpha));
	cred_path("beta", beta, sizeof(beta));
	cred_path("gamma", gamma, sizeof(gamma));
	cred_path("alp", alp, sizeof(alp));
	expect_loaded(2, true, true);
	ASSERT_PASSING();

	/* A copy: one alpha, never a second under the copy's name. */
	ASSERT_OK(fs_read_file(alpha, STORE_FILE_MAX, &buf, &len));
	ASSERT_OK(fs_write_atomic(gamma, buf, len, 0600));
	free(buf);
	expect_loaded(2, true, true);
	ASSERT_PASSING();
	/* Moved to a name of the same length, to a prefix of its own, and
	 * over another credential: none of them is served. */
	ASSERT(rename(alpha, gamma) == 0);
	expect_loaded(1, false, true);
	ASSERT_PASSING();
	ASSERT(rename(gamma, alp) == 0);
	expect_loaded(1, false, true);
	ASSERT_PASSING();
	ASSERT(rename(alp, beta) == 0);
	expect_loaded(0, false, false);
	ASSERT_PASSING();
	free_tokens(t, 1);
}

/* Start-up only names the files; each is read and checked when first
 * needed, and a damaged one is listed with why, never dropped silently. */
TMPDIR_TEST(files_are_read_when_needed_and_damage_is_listed)
{
	struct store *s = NULL;
	struct cred *c = NULL;
	struct secret *got = NULL;
	const struct store_damaged *d;
	struct tok t[1];
	char alpha[256], beta[256], gamma[256], path[512], *buf = NULL;
	size_t len, i, good;

	ASSERT_OK(store_open(tmpdir, &s));
	fake_token("laptop", &t[0]);
	ASSERT_PASSING();
	install_set(s, t, 1);
	ASSERT_PASSING();
	put(s, "alpha", "a-secret", NULL, &c);
	ASSERT_PASSING();
	put(s, "beta", "b-secret", NULL, &c);
	ASSERT_PASSING();
	put(s, "gamma", "g-secret", NULL, &c);
	ASSERT_PASSING();
	store_free(s);
	s = NULL;
	cred_path("alpha", alpha, sizeof(alpha));
	cred_path("beta", beta, sizeof(beta));
	cred_path("gamma", gamma, sizeof(gamma));
	ASSERT_OK(fs_write_atomic(beta, "{ not json", 10, 0600));
	/* A FIFO must not stall the reader; a name no credential has is
	 * refused from the directory listing alone. */
	snprintf(path, sizeof(path), "%s/creds/fifo.json", tmpdir);
	ASSERT(mkfifo(path, 0600) == 0);
	snprintf(path, sizeof(path), "%s/creds/not a name.json", tmpdir);
	ASSERT_OK(fs_write_atomic(path, "{}", 2, 0600));

	ASSERT_OK(store_open(tmpdir, &s));
	ASSERT_EQ_UINT(store_nknown(s), 4);
	ASSERT_EQ_UINT(store_nunread(s), 4);
	ASSERT_EQ_UINT(store_ndamaged(s), 1);
	ASSERT((d = store_damaged_at(s, 0)) != NULL);
	ASSERT(strcmp(d->file, "not a name.json") == 0);
	/* Read after the start: a change made since is what is checked. */
	ASSERT_OK(fs_read_file(alpha, STORE_FILE_MAX, &buf, &len));
	ASSERT_OK(fs_write_atomic(gamma, buf, len, 0600));
	free(buf);
	ASSERT((c = store_cred(s, "alpha")) != NULL);
	ASSERT(!c->unread);
	ASSERT_EQ_UINT(store_nunread(s), 3);
	ASSERT_OK(open_with(c, &t[0], &got));
	secret_free(got);
	got = NULL;
	ASSERT(store_cred(s, "gamma") == NULL);
	ASSERT_EQ_UINT(store_ndamaged(s), 2);
	ASSERT((d = store_damaged_at(s, 1)) != NULL);
	ASSERT(strcmp(d->file, "gamma.json") == 0);
	ASSERT(strstr(d->why, "name does not match") != NULL);
	ASSERT(store_cred(s, "beta") == NULL);
	ASSERT_EQ_UINT(store_ndamaged(s), 3);
	/* A walk by place meets only good ones: the FIFO's place is taken
	 * by the last entry, or the walk ends. */
	for (i = good = 0; i < store_nknown(s); i++) {
		if ((c = store_cred_at(s, i)) == NULL)
			break;
		ASSERT(!c->unread);
		good++;
	}
	ASSERT_EQ_UINT(good, 1);
	ASSERT_EQ_UINT(store_nunread(s), 0);
	ASSERT_EQ_UINT(store_ncreds(s), 1);
	ASSERT_EQ_UINT(store_ndamaged(s), 4);
	for (i = 0; i < 4; i++)
		ASSERT(store_damaged_at(s, i)->why[0] != '\0');
	ASSERT(store_damaged_at(s, 4) == NULL);
	/* Nothing was deleted: the damaged files are left for a person. */
	ASSERT(access(beta, F_OK) == 0);
	ASSERT(access(gamma, F_OK) == 0);
	store_free(s);
	s = NULL;

	/* The background pass reads the rest, and finds the same. */
	ASSERT_OK(store_open(tmpdir, &s));
	ASSERT_EQ_UINT(store_read_some(s, 2), 2);
	ASSERT_EQ_UINT(store_read_some(s, 100), 0);
	ASSERT_EQ_UINT(store_nknown(s), 1);
	ASSERT_EQ_UINT(store_ndamaged(s), 4);
	ASSERT(store_cred_peek(s, 0) != NULL);
	/* beta added again: its file is whole now and leaves the list; the
	 * others stay, in their order. */
	store_set_verified(s, store_tokenset(s)->generation, JIT_OK, NULL);
	put(s, "beta", "b-again", NULL, &c);
	ASSERT_PASSING();
	ASSERT_EQ_UINT(store_ndamaged(s), 3);
	for (i = 0; (d = store_damaged_at(s, i)) != NULL; i++)
		ASSERT_MSG(strcmp(d->file, "beta.json") != 0, "beta listed");
	ASSERT_EQ_UINT(i, 3);
	store_free(s);
	free_tokens(t, 1);
}

/* ---- unenrollment ---- */

TMPDIR_TEST(unenroll_drops_wraps)
{
	struct store *s = NULL;
	struct cred *both = NULL, *only = NULL, *c;
	struct secret *fb = NULL, *fo = NULL, *got = NULL;
	struct tok t[2];
	char path_both[256], path_only[256];
	size_t rewrapped = 99, orphans = 99;

	ASSERT_OK(store_open(tmpdir, &s));
	fake_token("laptop", &t[0]);
	fake_token("yk", &t[1]);
	ASSERT_PASSING();
	/* "only" was stored while laptop was the one token; "both" after yk
	 * was enrolled too. */
	install_set(s, t, 1);
	ASSERT_PASSING();
	put(s, "only", "o-secret", &fo, &only);
	ASSERT_PASSING();
	install_set(s, t, 2);
	ASSERT_PASSING();
	put(s, "both", "b-secret", &fb, &both);
	ASSERT_PASSING();
	ASSERT_EQ_UINT(only->nwraps, 1);
	ASSERT_EQ_UINT(both->nwraps, 2);
	cred_path("both", path_both, sizeof(path_both));
	cred_path("only", path_only, sizeof(path_only));

	/* Dropping yk orphans nothing: every wrap to it goes. */
	ASSERT_OK(store_drop_wraps(s, t[1].t->id, false, &rewrapped, &orphans));
	ASSERT_EQ_UINT(rewrapped, 1);
	ASSERT_EQ_UINT(orphans, 0);
	ASSERT_EQ_UINT(both->nwraps, 1);
	ASSERT(!cred_wrapped_to(both, t[1].t->id));
	ASSERT_ERR(open_with(both, &t[1], &got), JIT_E_NOENT);
	ASSERT_OK(open_with(both, &t[0], &got));
	ASSERT(secret_equal(got, fb));
	secret_free(got);
	ASSERT(!file_holds(path_both, t[1].t->id)); /* on disk too */

	/* Dropping laptop would leave both with no wrap: refused, and
	 * nothing changed, unless forced. */
	ASSERT_ERR(store_drop_wraps(s, t[0].t->id, false, &rewrapped, &orphans),
	    JIT_E_DENIED);
	ASSERT_EQ_UINT(orphans, 2);
	ASSERT_EQ_UINT(rewrapped, 0);
	ASSERT_EQ_UINT(store_ncreds(s), 2);
	ASSERT(file_exists(path_both) && file_exists(path_only));
	ASSERT(file_holds(path_only, t[0].t->id));

	/* Put back a credential wrapped to both, then force: the orphans
	 * are deleted, file and all; the other keeps its wrap to yk. */
	ASSERT_OK(store_delete_cred(s, "both"));
	ASSERT(!file_exists(path_both));
	secret_free(fb);
	fb = NULL;
	put(s, "both", "b-secret", &fb, &both);
	ASSERT_PASSING();
	ASSERT_OK(store_drop_wraps(s, t[0].t->id, true, &rewrapped, &orphans));
	ASSERT_EQ_UINT(orphans, 1);
	ASSERT_EQ_UINT(rewrapped, 1);
	ASSERT(store_cred(s, "only") == NULL);
	ASSERT(!file_exists(path_only));
	ASSERT_EQ_UINT(store_ncreds(s), 1);
	ASSERT((c = store_cred(s, "both")) != NULL);
	ASSERT_ERR(open_with(c, &t[0], &got), JIT_E_NOENT);
	store_free(s);
	s = NULL;

	/* From disk: what is left opens with yk alone. */
	ASSERT_OK(store_open(tmpdir, &s));
	ASSERT_EQ_UINT(store_ncreds(s), 1);
	ASSERT((c = store_cred(s, "both")) != NULL);
	ASSERT_EQ_UINT(c->nwraps, 1);
	ASSERT_ERR(open_with(c, &t[0], &got), JIT_E_NOENT);
	ASSERT_OK(open_with(c, &t[1], &got));
	ASSERT(secret_equal(got, fb));
	secret_free(got);
	secret_free(fb);
	secret_free(fo);
	store_free(s);
	free_tokens(t, 2);
}

/* ---- the data directory ---- */

TMPDIR_TEST(one_agent_per_data_directory)
{
	char why[512];
	int fd1 = -1, fd2 = -1;

	why[0] = '\0';
	ASSERT_OK(store_lock(tmpdir, "pid 4242", &fd1, why, sizeof(why)));
	ASSERT(fd1 >= 0);
	ASSERT_ERR(
	    store_lock(tmpdir, "pid 4343", &fd2, why, sizeof(why)), JIT_E_BUSY);
	ASSERT(fd2 == -1);
	/* The refusal names the holder, with what it wrote. */
	ASSERT_MSG(
	    strstr(why, "another jit-agent uses the data directory") != NULL &&
		strstr(why, "(pid 4242)") != NULL,
	    "%s", why);
	/* Released, it is the next one's. */
	close(fd1);
	ASSERT_OK(store_lock(tmpdir, "pid 4343", &fd2, why, sizeof(why)));
	close(fd2);
}

TMPDIR_TEST(leftover_temporary_files_are_removed_at_open)
{
	struct store *s = NULL;
	struct cred *c = NULL;
	struct tok t[1];
	char p1[256], p2[256], keep[256];

	ASSERT_OK(store_open(tmpdir, &s));
	fake_token("laptop", &t[0]);
	ASSERT_PASSING();
	install_set(s, t, 1);
	ASSERT_PASSING();
	put(s, "db", "hunter2", NULL, &c);
	ASSERT_PASSING();
	store_free(s);
	s = NULL;
	/* What fs_write_atomic leaves when the agent dies mid-write. */
	snprintf(p1, sizeof(p1), "%s/creds/db.json.tmp.0123abcd", tmpdir);
	snprintf(p2, sizeof(p2), "%s/tokens.json.tmp.deadbeef", tmpdir);
	snprintf(keep, sizeof(keep), "%s/creds/notes.tmp", tmpdir);
	ASSERT_OK(fs_write_atomic(p1, "{", 1, 0600));
	ASSERT_OK(fs_write_atomic(p2, "{", 1, 0600));
	ASSERT_OK(fs_write_atomic(keep, "x", 1, 0600));
	ASSERT_OK(store_open(tmpdir, &s));
	ASSERT(!file_exists(p1));
	ASSERT(!file_exists(p2));
	ASSERT(file_exists(keep)); /* not ours: left alone */
	ASSERT_EQ_UINT(store_ncreds(s), 1);
	ASSERT_EQ_UINT(store_ntokens(s), 1);
	store_free(s);
	free_tokens(t, 1);
}

static const struct test_case tests[] = {
	TEST_ENTRY(put_then_open_with_each_token),
	TEST_ENTRY(put_refusals),
	TEST_ENTRY(round_trip_of_every_header_member),
	TEST_ENTRY(tampered_files_are_refused),
	TEST_ENTRY(a_file_under_another_name_is_refused),
	TEST_ENTRY(files_are_read_when_needed_and_damage_is_listed),
	TEST_ENTRY(unenroll_drops_wraps),
	TEST_ENTRY(one_agent_per_data_directory),
	TEST_ENTRY(leftover_temporary_files_are_removed_at_open),
};

TEST_MAIN(tests)
