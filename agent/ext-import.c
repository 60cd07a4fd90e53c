/* import: a credential sealed elsewhere (jitctl seal), checked by opening it
 * once with a token enrolled here, then stored as it is. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "events.h"
#include "ext.h"
#include "fields.h"
#include "hwq.h"
#include "jsonx.h"
#include "log.h"
#include "proto-names.h"
#include "seal.h"
#include "secret.h"
#include "store.h"
#include "tokenset.h"
#include "vault.h"

/*
 * Anyone can seal to a published recipient, and only the token's
 * hardware can tell a genuine file from an edited one (the header is the
 * AEAD's associated data).  So import opens the file once, with one touch
 * or PIN, and adds it only if its wrap and its ciphertext open with the
 * header it carries: an edited header, a swapped recipient or a file cut
 * short is refused now, not at the first unlock.  Nothing is kept open.
 */
enum import_step {
	IMPORT_TOKEN = 0, /* the token did not open its identity */
	IMPORT_WRAP, /* the wrap to the token did not open */
	IMPORT_DATA, /* the ciphertext did not open with the header */
	IMPORT_FIELDS, /* the plaintext's fields are not the header's */
	IMPORT_OK,
};

struct import_job {
	struct hwjob hj; /* first: hwq frees the job */
	struct hw_token **cands; /* copies of the tokens it is wrapped to */
	size_t ncands, used;
	struct secret *pin;
	struct cred *cred; /* parsed, not in the store */
	struct cred_sealed *cs;
	struct tokenset *set;
	struct tokenset_verdict verdict;
	enum import_step step;
	int touch_timeout_ms;
	bool replace;
	struct peer peer;
};

static void
import_job_free(struct import_job *j)
{
	size_t i;

	for (i = 0; i < j->ncands; i++)
		hw_token_free(j->cands[i]);
	free(j->cands);
	secret_free(j->pin);
	store_cred_free(j->cred);
	cred_sealed_free(j->cs);
	tokenset_free(j->set);
	/* j itself is freed by hwq */
}

/* The header's field names, in order, are the plaintext's. */
static int
fields_match(const struct cred *c, const struct secret *plain)
{
	struct fields_iter it;
	struct field f;
	size_t i;

	if (fields_iter_init(&it, plain) != 0)
		return JIT_E_FORMAT;
	for (i = 0; i < c->nfields; i++)
		if (fields_next(&it, &f) != 1 ||
		    f.namelen != strlen(c->field_names[i]) ||
		    memcmp(f.name, c->field_names[i], f.namelen) != 0)
			return JIT_E_FORMAT;
	return fields_next(&it, &f) == 0 ? JIT_OK : JIT_E_FORMAT;
}

/* In a worker thread: one hardware operation, then the file in software. */
static void
import_run(struct hwjob *hj)
{
	struct import_job *j = (struct import_job *)hj;
	struct secret *sk = NULL, *dek = NULL, *plain = NULL;
	const struct cred_wrap *cw = NULL;
	const struct hw_token *t;
	struct hw_auth auth;
	size_t i;
	int r;

	memset(&auth, 0, sizeof(auth));
	auth.pin = j->pin;
	auth.touch_timeout_ms = j->touch_timeout_ms;
	auth.cancel = &hj->cancel;
	j->step = IMPORT_TOKEN;
	if ((r = open_identity_verified(j->cands, j->ncands, &auth, j->set,
		 NULL, &hj->st, &j->used, &sk, NULL, &j->verdict)) != 0)
		goto out;
	t = j->cands[j->used];
	for (i = 0; i < j->cs->nwraps; i++)
		if (strcmp(j->cs->wraps[i].token_id, t->id) == 0)
			cw = &j->cs->wraps[i];
	j->step = IMPORT_WRAP;
	if (cw == NULL ||
	    (r = seal_unwrap(sk, t->recipient, &cw->w, cw->token_id, &dek)) !=
		0) {
		r = JIT_E_AUTH;
		goto out;
	}
	j->step = IMPORT_DATA;
	if ((r = seal_aead_open(dek, j->cs->ad, j->cs->adlen, j->cs->nonce,
		 j->cs->ct, j->cs->ctlen, &plain)) != 0)
		goto out;
	j->step = IMPORT_FIELDS;
	if ((r = fields_validate(plain, NULL)) != 0 ||
	    (r = fields_match(j->cred, plain)) != 0) {
		r = JIT_E_FORMAT;
		goto out;
	}
	j->step = IMPORT_OK;
	r = JIT_OK;
out:
	secret_free(sk);
	secret_free(dek);
	secret_free(plain);
	hj->result = r;
}

static void
import_refused(struct import_job *j, int r)
{
	const char *label = j->ncands > 0 ? j->cands[j->used]->label : "?";

	switch (j->step) {
	case IMPORT_WRAP:
		reply_ext_err(j->hj.conn, r, -1,
		    "the file's wrap to token %s does not open with that token: a recipient was swapped or the file was edited; nothing was imported",
		    label);
		break;
	case IMPORT_DATA:
		reply_ext_err(j->hj.conn, r, -1,
		    "the file does not open with the header it carries: its header (name, kind, fields, not-after, step-up or sealed-by) or its ciphertext was edited; nothing was imported");
		break;
	case IMPORT_FIELDS:
		reply_ext_err(j->hj.conn, r, -1,
		    "the file's sealed fields are not the ones its header names: it was not made by jitctl seal; nothing was imported");
		break;
	default: ext_reply_hw_err(j->hj.conn, r, &j->hj.st); break;
	}
}

static void
import_audit_deny(struct agent *ag, struct import_job *j, int r)
{
	struct json_object *ev;

	ev = event_new(
	    j->hj.conn == NULL && r == JIT_E_CANCELLED ? "abandoned" : "deny");
	event_str(ev, "verb", "import");
	event_str(ev, "name", j->cred->name);
	event_str(ev, "sealed_by", j->cred->sealed_by);
	event_str(ev, "why", jit_errname(r));
	event_int(ev, "step", (int64_t)j->step);
	event_peer(ev, &j->peer);
	(void)event_emit(ag, ev);
}

static void
import_done(struct hwjob *hj)
{
	struct import_job *j = (struct import_job *)hj;
	struct agent *ag = hj->ag;
	struct json_object *ev, *res, *toks;
	struct cred *old;
	const char *label = NULL;
	size_t i;
	int r = hj->result;

	/* A token that opened its identity said what it thinks of the set. */
	if (j->set != NULL &&
	    (j->step > IMPORT_TOKEN || j->verdict.result != JIT_OK))
		store_set_verified(ag->store, j->set->generation,
		    j->verdict.result, j->verdict.why);
	if (hj->conn == NULL && r == 0)
		r = JIT_E_CANCELLED;
	if (r == 0)
		label = j->cands[j->used]->label;
	if (r == 0 && (old = store_cred(ag->store, j->cred->name)) != NULL &&
	    !j->replace)
		r = JIT_E_EXISTS;
	if (r == 0) {
		ev = event_new("import");
		event_str(ev, "name", j->cred->name);
		event_str(ev, "kind", j->cred->kind);
		event_str(ev, "sealed_by", j->cred->sealed_by);
		event_int(ev, "not_after", j->cred->not_after);
		event_str(ev, "token", label);
		event_peer(ev, &j->peer);
		if ((r = event_emit(ag, ev)) != 0) {
			if (hj->conn != NULL) {
				conn_set_job(hj->conn, NULL);
				reply_audit_refused(ag, hj->conn, r);
				conn_done(hj->conn);
			}
			goto out;
		}
		if ((old = store_cred(ag->store, j->cred->name)) != NULL)
			vault_wipe(ag->vault, old);
		if ((r = store_add_parsed(ag->store, j->cred, j->replace)) == 0)
			j->cred = NULL; /* the store has it */
	}
	if (r != 0)
		import_audit_deny(ag, j, r);
	if (hj->conn == NULL)
		goto out;
	conn_set_job(hj->conn, NULL);
	if (r == JIT_E_EXISTS)
		reply_ext_err(hj->conn, r, -1,
		    "a credential named %s exists: revoke it first, or pass --replace",
		    j->cred->name);
	else if (r != 0)
		import_refused(j, r);
	else {
		struct cred *c = store_cred(ag->store, j->cs->name);

		res = json_object_new_object();
		toks = json_object_new_array();
		(void)jsonx_add_str(res, JP_RES_IMPORT_NAME, c->name);
		(void)jsonx_add_int(res, JP_RES_IMPORT_NOT_AFTER, c->not_after);
		if (c->sealed_by != NULL)
			(void)jsonx_add_str(
			    res, JP_RES_IMPORT_SEALED_BY, c->sealed_by);
		(void)jsonx_add_str(res, JP_RES_IMPORT_TOKEN, label);
		for (i = 0; i < c->nwraps; i++) {
			const struct hw_token *t = store_token_by_id(
			    ag->store, c->wraps[i].token_id);

			if (t != NULL)
				json_object_array_add(
				    toks, json_object_new_string(t->label));
		}
		json_object_object_add(res, JP_RES_IMPORT_TOKENS, toks);
		reply_ext_result(hj->conn, res);
	}
	conn_done(hj->conn);
out:
	import_job_free(j);
}

/*
 * The tokens enrolled here that the file is wrapped to; wraps to anyone
 * else's are dropped (an on-call group's file names every member's).
 * Replies and returns non-zero when there is none.
 */
static int
import_match(struct agent *ag, struct request *rq, struct import_job *j,
    const char *only)
{
	const char *ids[STORE_TOKENS_MAX];
	struct hw_token *t;
	size_t i, n = 0, nfile = j->cred->nwraps;
	int r;

	if ((r = ext_pick_tokens(ag, &j->cred, 1, false, only, false, &j->cands,
		 &j->ncands)) != 0)
		return r;
	/* The wraps kept: every token enrolled here, named or not. */
	for (i = 0; i < store_ntokens(ag->store) && n < STORE_TOKENS_MAX; i++) {
		t = store_token_at(ag->store, i);
		if (cred_wrapped_to(j->cred, t->id))
			ids[n++] = t->id;
	}
	if (n == 0) {
		reply_ext_err(rq->conn, JIT_E_NOENT, -1,
		    "the file is sealed to someone else: none of its %zu recipient(s) is a token enrolled here (export yours with 'jitctl tokens --export' and have it sealed to that); nothing was imported",
		    nfile);
		return JIT_E_NOENT;
	}
	if (j->ncands == 0) {
		reply_ext_err(rq->conn, JIT_E_NOENT, -1,
		    "the file is not sealed to token %s", only);
		return JIT_E_NOENT;
	}
	store_cred_keep_wraps(j->cred, ids, n);
	return JIT_OK;
}

int
ext_import(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	struct import_job *j;
	struct json_object *file;
	const char *only = NULL;
	int r;

	if (!json_object_object_get_ex(args, JP_ARG_IMPORT_FILE, &file) ||
	    !json_object_is_type(file, json_type_object))
		return JIT_E_FORMAT;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return JIT_E_NOMEM;
	j->pin = *payload;
	*payload = NULL;
	if (((r = jsonx_opt_bool(args, JP_ARG_IMPORT_REPLACE, &j->replace)) !=
		    0 &&
		r != JIT_E_NOENT) ||
	    ((r = jsonx_opt_str(
		  args, JP_ARG_IMPORT_TOKEN, HW_LABEL_MAX, &only)) != 0 &&
		r != JIT_E_NOENT)) {
		r = JIT_E_FORMAT;
		goto fail;
	}
	if (store_cred_parse(file, &j->cred) != 0) {
		reply_ext_err(rq->conn, JIT_E_FORMAT, -1,
		    "the file is not a sealed credential: a member is missing, cut short or malformed; nothing was imported");
		r = JIT_OK;
		goto fail;
	}
	if (j->cred->sealed_by == NULL) {
		reply_ext_err(rq->conn, JIT_E_FORMAT, -1,
		    "the file does not say who sealed it: it was not made by jitctl seal; nothing was imported");
		r = JIT_OK;
		goto fail;
	}
	if (time(NULL) >= j->cred->not_after) {
		reply_ext_err(rq->conn, JIT_E_EXPIRED, -1,
		    "%s expired before it was imported: ask for a new one",
		    j->cred->name);
		r = JIT_OK;
		goto fail;
	}
	if (store_cred(ag->store, j->cred->name) != NULL && !j->replace) {
		reply_ext_err(rq->conn, JIT_E_EXISTS, -1,
		    "a credential named %s exists: revoke it first, or pass --replace",
		    j->cred->name);
		r = JIT_OK;
		goto fail;
	}
	/* Unverified is fine: the token that opens the file vouches. */
	if (store_set_state(ag->store, NULL) != SET_UNVERIFIED &&
	    ext_check_wrappable(ag, rq->conn) != 0) {
		r = JIT_OK;
		goto fail;
	}
	if ((r = import_match(ag, rq, j, only)) != 0) {
		r = r == JIT_E_NOENT ? JIT_OK : r;
		goto fail;
	}
	if ((r = cred_snapshot(j->cred, &j->cs)) != 0 ||
	    (r = tokenset_dup(store_tokenset(ag->store), &j->set)) != 0)
		goto fail;
	j->touch_timeout_ms = ag->touch_timeout_ms;
	j->peer = *rq->peer;
	j->hj.run = import_run;
	j->hj.done = import_done;
	j->hj.conn = rq->conn;
	if ((j->hj.device = strdup(j->cands[0]->device ? j->cands[0]->device :
							 j->cands[0]->type)) ==
	    NULL) {
		r = JIT_E_NOMEM;
		goto fail;
	}
	if ((r = hwq_submit(ag->hwq, &j->hj)) != 0) {
		free(j->hj.device);
		goto fail;
	}
	conn_set_job(rq->conn, &j->hj);
	return AGENT_DEFERRED;
fail:
	import_job_free(j);
	free(j);
	return r;
}
