/* Verbs on the token set: enroll and unenroll, each approved by a token. */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "err.h"
#include "events.h"
#include "ext.h"
#include "fields.h"
#include "hwq.h"
#include "jsonx.h"
#include "keycache.h"
#include "log.h"
#include "proto-names.h"
#include "seal.h"
#include "secret.h"
#include "store.h"
#include "tokenset.h"
#include "vault.h"

/*
 * Both verbs change the token set, so both need a fresh touch or PIN on a
 * token already enrolled (only the very first enrollment has nobody to
 * ask): that token opens its box of the set's key, vouches for the set,
 * and the changed set is sealed with the key in the same job.
 */
struct token_job {
	struct hwjob hj; /* first: hwq frees the job */
	char *type, *label, *device; /* enroll: the new token */
	char *slot, *touch; /* enroll, piv */
	bool uv, allow_simulated, force;
	char *attestation_roots; /* [enroll], copied: a reload may come */
	bool require_attestation;
	struct secret *pin; /* enroll: the new token's PIN */
	struct secret *auth_pin; /* the approving token's PIN */
	int touch_timeout_ms;
	struct hw_token **cands; /* copies of the tokens that may approve */
	size_t ncands, used;
	struct tokenset *set; /* snapshot in, the new set out */
	uint64_t generation; /* of the snapshot */
	struct tokenset_verdict verdict;
	struct peer peer;
};

static void
token_job_free(struct token_job *j)
{
	size_t i;

	for (i = 0; i < j->ncands; i++)
		hw_token_free(j->cands[i]);
	free(j->cands);
	tokenset_free(j->set);
	free(j->type);
	free(j->label);
	free(j->device);
	free(j->slot);
	free(j->touch);
	free(j->attestation_roots);
	secret_free(j->pin);
	secret_free(j->auth_pin);
	/* j itself is freed by hwq */
}

static const char *
approver(const struct token_job *j)
{
	return j->ncands > 0 ? j->cands[j->used]->label : NULL;
}

/* In a worker thread: the approving token's key to the set.  Every record
 * but except (a repair removes it) must check out; a changed list alone
 * is sealed again by the change. */
static int
approve(struct token_job *j, const char *except, struct secret **ret_key)
{
	struct secret *sk = NULL;
	struct hw_auth auth;
	int r;

	memset(&auth, 0, sizeof(auth));
	auth.pin = j->auth_pin;
	auth.touch_timeout_ms = j->touch_timeout_ms;
	auth.cancel = &j->hj.cancel;
	if ((r = open_identity_verified(j->cands, j->ncands, &auth, j->set,
		 except, &j->hj.st, &j->used, &sk, ret_key, &j->verdict)) != 0)
		goto out;
	if (!j->verdict.records_ok || *ret_key == NULL) {
		hw_status_set(&j->hj.st,
		    "the enrolled tokens do not verify: %s; unenroll the token named there first",
		    j->verdict.why);
		r = JIT_E_AUTH;
	}
out:
	secret_free(sk);
	return r;
}

static void
enroll_run(struct hwjob *hj)
{
	struct token_job *j = (struct token_job *)hj;
	struct hw_enroll_args a;
	struct secret *key = NULL, *nsk = NULL;
	struct hw_token *tok = NULL;
	int r;

	if (j->ncands > 0)
		r = approve(j, NULL, &key);
	else
		r = seal_random_key(&key); /* the first token: a new set */
	if (r != 0)
		goto out;
	memset(&a, 0, sizeof(a));
	a.type = j->type;
	a.label = j->label;
	a.device = j->device;
	a.pin = j->pin;
	a.uv = j->uv;
	a.allow_simulated = j->allow_simulated;
	a.touch_timeout_ms = j->touch_timeout_ms;
	a.slot = j->slot;
	a.touch = j->touch;
	a.attestation_roots = j->attestation_roots;
	a.require_attestation = j->require_attestation;
	memset(&hj->st, 0, sizeof(hj->st));
	hj->st.retries = -1;
	if ((r = hw_enroll(&a, &tok, &nsk, &hj->st)) != 0 ||
	    (r = tokenset_add(j->set, tok, nsk, key)) != 0)
		goto out;
	tok = NULL; /* the set has it */
out:
	hw_token_free(tok);
	secret_free(nsk);
	secret_free(key);
	hj->result = r;
}

static void
unenroll_run(struct hwjob *hj)
{
	struct token_job *j = (struct token_job *)hj;
	struct secret *key = NULL;
	int r;

	/* A set that names a token added behind the agent's back is
	 * repaired this way: that record need not check out. */
	if ((r = approve(j, j->label, &key)) == 0)
		r = tokenset_remove(j->set, j->label, key);
	secret_free(key);
	hj->result = r;
}

/*
 * Set changes are made one at a time, on the set they were approved on,
 * and audited before they are stored: an event that cannot be written
 * refuses the change (*ret_audit_failed), a store that fails afterwards
 * is followed by a deny line.
 */
static int
token_job_commit(struct agent *ag, struct token_job *j, struct json_object *ev,
    bool *ret_audit_failed)
{
	struct json_object *deny;
	int r;

	*ret_audit_failed = false;
	if (store_tokenset(ag->store)->generation != j->generation) {
		json_object_put(ev);
		return JIT_E_BUSY;
	}
	if ((r = event_emit(ag, ev)) != 0) {
		*ret_audit_failed = true;
		return r;
	}
	if ((r = store_replace_tokenset(ag->store, j->set)) != 0) {
		if ((deny = event_new("deny")) != NULL) {
			event_str(deny, "token", j->label);
			event_str(deny, "why", jit_errname(r));
			event_peer(deny, &j->peer);
		}
		(void)event_emit(ag, deny);
		return r;
	}
	j->set = NULL;
	return JIT_OK;
}

/* The event of a change that did not happen (it is only logged if the
 * audit cannot take it: nothing was served). */
static void
token_job_audit_fail(struct agent *ag, struct token_job *j, int r)
{
	struct json_object *ev;

	ev = event_new(
	    j->hj.conn == NULL && r == JIT_E_CANCELLED ? "abandoned" : "deny");
	event_str(ev, "verb", j->type != NULL ? "enroll" : "unenroll");
	event_str(ev, "token", j->label);
	event_str(ev, "approved_by", approver(j));
	event_str(ev, "why", jit_errname(r));
	event_str(ev, "detail", j->hj.st.msg[0] ? j->hj.st.msg : NULL);
	event_peer(ev, &j->peer);
	(void)event_emit(ag, ev);
}

static void
token_job_reply_err(struct token_job *j, int r)
{
	if (r == JIT_E_EXISTS)
		reply_ext_err(j->hj.conn, r, -1,
		    "a token labelled %s is already enrolled", j->label);
	else if (r == JIT_E_BUSY)
		reply_ext_err(j->hj.conn, r, -1,
		    "the enrolled tokens changed while this waited for the token: try again");
	else
		ext_reply_hw_err(j->hj.conn, r, &j->hj.st);
}

static void
enroll_done(struct hwjob *hj)
{
	struct token_job *j = (struct token_job *)hj;
	struct agent *ag = hj->ag;
	struct json_object *res, *ev;
	const struct hw_token *t = NULL;
	bool audit_failed = false;
	int r = hj->result;

	/* A client that went away abandoned its request: nothing changes. */
	if (hj->conn == NULL && r == 0)
		r = JIT_E_CANCELLED;
	if (r == 0) {
		t = tokenset_by_label(j->set, j->label);
		ev = event_new("enroll");
		event_str(ev, "token", j->label);
		event_str(ev, "type", j->type);
		event_str(ev, "device", j->device);
		event_str(ev, "approved_by", approver(j));
		if (t->simulated)
			(void)jsonx_add_bool(ev, "simulated", true);
		event_peer(ev, &j->peer);
		r = token_job_commit(ag, j, ev, &audit_failed);
		t = r == 0 ? store_token_by_label(ag->store, j->label) : NULL;
	}
	if (r != 0 && !audit_failed)
		token_job_audit_fail(ag, j, r);
	if (hj->conn == NULL)
		goto out;
	conn_set_job(hj->conn, NULL);
	if (audit_failed)
		reply_audit_refused(ag, hj->conn, r);
	else if (r != 0)
		token_job_reply_err(j, r);
	else {
		res = json_object_new_object();
		json_object_object_add(
		    res, JP_RES_ENROLL_TOKEN, ext_token_json(t));
		if (approver(j) != NULL)
			(void)jsonx_add_str(
			    res, JP_RES_ENROLL_APPROVED_BY, approver(j));
		reply_ext_result(hj->conn, res);
	}
	conn_done(hj->conn);
out:
	token_job_free(j);
}

static void
unenroll_done(struct hwjob *hj)
{
	struct token_job *j = (struct token_job *)hj;
	struct agent *ag = hj->ag;
	struct json_object *res, *ev;
	struct hw_token *t;
	struct cred *c;
	size_t rewrapped = 0, orphans = 0, i;
	bool audit_failed = false, in_use = false;
	int r = hj->result;

	if (hj->conn == NULL && r == 0)
		r = JIT_E_CANCELLED;
	if (r == 0 && store_tokenset(ag->store)->generation != j->generation)
		r = JIT_E_BUSY;
	t = store_token_by_label(ag->store, j->label);
	if (r == 0 && t == NULL)
		r = JIT_E_NOENT;
	/* Counted first: the audit line says what the change will do. */
	for (i = 0; r == 0 && i < store_ncreds(ag->store); i++) {
		c = store_cred_at(ag->store, i);
		if (c->nwraps == 1 && cred_wrapped_to(c, t->id))
			orphans++;
	}
	/* The token is in use, as umount's EBUSY: exit 1, not a denial. */
	if (r == 0 && orphans > 0 && !j->force) {
		r = JIT_E_BUSY;
		in_use = true;
	}
	if (r == 0) {
		ev = event_new("unenroll");
		event_str(ev, "token", j->label);
		event_str(ev, "approved_by", approver(j));
		event_int(ev, "deleted", (int64_t)orphans);
		event_peer(ev, &j->peer);
		if ((r = event_emit(ag, ev)) != 0)
			audit_failed = true;
	}
	/* What --force deletes must not stay unlocked. */
	for (i = 0; r == 0 && i < store_ncreds(ag->store); i++) {
		c = store_cred_at(ag->store, i);
		if (c->nwraps == 1 && cred_wrapped_to(c, t->id))
			vault_wipe(ag->vault, c);
	}
	/* Its key cache first (keys it unwrapped open the ciphertext of
	 * files it will no longer be wrapped in), then wraps: an
	 * interruption leaves the token enrolled, never a wrap to a token
	 * that is gone. */
	if (r == 0 && (r = keycache_remove(store_dir(ag->store), t->id)) != 0)
		log_error("unenroll %s: its key cache cannot be removed: %s",
		    j->label, jit_strerror(r));
	if (r == 0)
		r = store_drop_wraps(
		    ag->store, t->id, j->force, &rewrapped, &orphans);
	if (r == 0) {
		/* Audited above: the set itself is stored with no new line. */
		if (store_tokenset(ag->store)->generation != j->generation)
			r = JIT_E_BUSY;
		else if ((r = store_replace_tokenset(ag->store, j->set)) == 0)
			j->set = NULL;
	}
	if (r != 0 && !audit_failed)
		token_job_audit_fail(ag, j, r);
	if (hj->conn == NULL)
		goto out;
	conn_set_job(hj->conn, NULL);
	if (audit_failed)
		reply_audit_refused(ag, hj->conn, r);
	else if (in_use)
		reply_ext_err(hj->conn, r, -1,
		    "%zu credential(s) open only with %s: enroll a backup token and add them again, or pass --force to delete them",
		    orphans, j->label);
	else if (r == JIT_E_NOENT)
		reply_ext_err(hj->conn, r, -1,
		    "no token labelled %s is enrolled", j->label);
	else if (r != 0)
		token_job_reply_err(j, r);
	else {
		res = json_object_new_object();
		(void)jsonx_add_str(res, JP_RES_UNENROLL_LABEL, j->label);
		(void)jsonx_add_int(
		    res, JP_RES_UNENROLL_REWRAPPED, (int64_t)rewrapped);
		(void)jsonx_add_str(
		    res, JP_RES_UNENROLL_APPROVED_BY, approver(j));
		reply_ext_result(hj->conn, res);
	}
	conn_done(hj->conn);
out:
	token_job_free(j);
}

/* The payload of enroll: fields "pin" (the new token's) and "auth_pin"
 * (the approving token's), each optional. */
static int
enroll_pins(struct secret *payload, struct token_job *j)
{
	struct field f;
	int r;

	if (payload == NULL)
		return JIT_OK;
	if ((r = fields_validate(payload, NULL)) != 0)
		return JIT_E_FORMAT;
	if (fields_get(payload, JP_PAYLOAD_ENROLL_PIN, &f) == 0 &&
	    (r = secret_from(f.val, f.vallen, &j->pin)) != 0)
		return r;
	if (fields_get(payload, JP_PAYLOAD_ENROLL_AUTH_PIN, &f) == 0 &&
	    (r = secret_from(f.val, f.vallen, &j->auth_pin)) != 0)
		return r;
	return JIT_OK;
}

/* Copies of the tokens that may approve: the one named, or all. */
static int
approvers(struct agent *ag, struct token_job *j, const char *only)
{
	struct hw_token *t;
	size_t i, n = store_ntokens(ag->store);
	int r;

	if (n > 0 && (j->cands = calloc(n, sizeof(*j->cands))) == NULL)
		return JIT_E_NOMEM;
	for (i = 0; i < n; i++) {
		t = store_token_at(ag->store, i);
		if (only != NULL && strcmp(t->label, only) != 0)
			continue;
		if ((r = hw_token_dup(t, &j->cands[j->ncands])) != 0)
			return r;
		j->ncands++;
	}
	return JIT_OK;
}

/* Refusals that need no token; JIT_OK to go on, else replied. */
static int
set_usable(struct agent *ag, struct request *rq, bool first)
{
	const char *why;

	if (store_set_state(ag->store, &why) == SET_BROKEN) {
		reply_ext_err(rq->conn, JIT_E_AUTH, -1,
		    "%s: nothing can be enrolled or unenrolled until it is restored or removed",
		    why);
		return JIT_E_AUTH;
	}
	if (first && store_first_enroll_ok(ag->store) == JIT_E_DENIED) {
		reply_ext_err(rq->conn, JIT_E_DENIED, -1,
		    "%zu credential(s) are stored but no token is enrolled: %s was deleted; restore it from a backup, or move creds/ away to start over",
		    store_ncreds(ag->store), TOKENSET_FILE);
		return JIT_E_DENIED;
	}
	return JIT_OK;
}

static int
token_job_submit(struct agent *ag, struct request *rq, struct token_job *j,
    const char *approver_label)
{
	int r;

	j->touch_timeout_ms = ag->touch_timeout_ms;
	j->peer = *rq->peer;
	j->generation = store_tokenset(ag->store)->generation;
	if ((r = tokenset_dup(store_tokenset(ag->store), &j->set)) != 0 ||
	    (r = approvers(ag, j, approver_label)) != 0)
		return r;
	if (store_ntokens(ag->store) > 0 && j->ncands == 0) {
		reply_ext_err(rq->conn, JIT_E_NOENT, -1,
		    "no token labelled %s is enrolled to approve this",
		    approver_label);
		return JIT_E_NOENT;
	}
	/* The lane of the approving token, the one touched first. */
	if ((j->hj.device = strdup(j->ncands > 0 ?
		     (j->cands[0]->device ? j->cands[0]->device :
					    j->cands[0]->type) :
		     (j->device != NULL ? j->device : j->type))) == NULL)
		return JIT_E_NOMEM;
	j->hj.conn = rq->conn;
	j->hj.awaits_person = true; /* a lock aborts the touch */
	if ((r = hwq_submit(ag->hwq, &j->hj)) != 0) {
		free(j->hj.device);
		return r;
	}
	conn_set_job(rq->conn, &j->hj);
	return AGENT_DEFERRED;
}

int
ext_enroll(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	struct token_job *j;
	const char *type, *label, *device = NULL, *by = NULL;
	const char *slot = NULL, *touch = NULL;
	bool uv = false, sim = false;
	int r;

	if ((r = ext_str_arg(args, JP_ARG_ENROLL_TYPE, 16, &type)) != 0 ||
	    (r = ext_str_arg(
		 args, JP_ARG_ENROLL_LABEL, HW_LABEL_MAX, &label)) != 0)
		return r;
	if (((r = jsonx_opt_str(
		  args, JP_ARG_ENROLL_DEVICE, HW_DEVICE_MAX, &device)) != 0 &&
		r != JIT_E_NOENT) ||
	    ((r = jsonx_opt_bool(args, JP_ARG_ENROLL_UV, &uv)) != 0 &&
		r != JIT_E_NOENT) ||
	    ((r = jsonx_opt_bool(args, JP_ARG_ENROLL_ALLOW_SIMULATED, &sim)) !=
		    0 &&
		r != JIT_E_NOENT) ||
	    ((r = jsonx_opt_str(
		  args, JP_ARG_ENROLL_TOKEN, HW_LABEL_MAX, &by)) != 0 &&
		r != JIT_E_NOENT) ||
	    ((r = jsonx_opt_str(args, JP_ARG_ENROLL_SLOT, 2, &slot)) != 0 &&
		r != JIT_E_NOENT) ||
	    ((r = jsonx_opt_str(args, JP_ARG_ENROLL_TOUCH, 6, &touch)) != 0 &&
		r != JIT_E_NOENT))
		return JIT_E_FORMAT;
	if (hw_backend_find(type) == NULL) {
		reply_ext_err(rq->conn, JIT_E_UNSUPPORTED, -1,
		    "unknown token type '%s' (this build has: %s)", type,
		    hw_backend_list());
		return JIT_OK;
	}
	if (store_token_by_label(ag->store, label) != NULL) {
		reply_ext_err(rq->conn, JIT_E_EXISTS, -1,
		    "a token labelled %s is already enrolled", label);
		return JIT_OK;
	}
	if (set_usable(ag, rq, store_ntokens(ag->store) == 0) != 0)
		return JIT_OK;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return JIT_E_NOMEM;
	j->uv = uv;
	j->allow_simulated = sim;
	j->require_attestation = ag->conf->require_attestation;
	j->hj.run = enroll_run;
	j->hj.done = enroll_done;
	if ((r = enroll_pins(*payload, j)) != 0 ||
	    (j->type = strdup(type)) == NULL ||
	    (j->label = strdup(label)) == NULL ||
	    (device != NULL && (j->device = strdup(device)) == NULL) ||
	    (slot != NULL && (j->slot = strdup(slot)) == NULL) ||
	    (touch != NULL && (j->touch = strdup(touch)) == NULL) ||
	    (ag->conf->attestation_roots != NULL &&
		(j->attestation_roots = strdup(ag->conf->attestation_roots)) ==
		    NULL)) {
		r = r != 0 ? r : JIT_E_NOMEM;
		goto fail;
	}
	if ((r = token_job_submit(ag, rq, j, by)) == AGENT_DEFERRED)
		return r;
fail:
	token_job_free(j);
	free(j);
	return r == JIT_E_NOENT ? JIT_OK : r;
}

int
ext_unenroll(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	struct token_job *j;
	const char *label, *by = NULL;
	bool force = false;
	int r;

	if ((r = ext_str_arg(
		 args, JP_ARG_UNENROLL_LABEL, HW_LABEL_MAX, &label)) != 0)
		return r;
	if (((r = jsonx_opt_bool(args, JP_ARG_UNENROLL_FORCE, &force)) != 0 &&
		r != JIT_E_NOENT) ||
	    ((r = jsonx_opt_str(
		  args, JP_ARG_UNENROLL_TOKEN, HW_LABEL_MAX, &by)) != 0 &&
		r != JIT_E_NOENT))
		return JIT_E_FORMAT;
	if (store_token_by_label(ag->store, label) == NULL) {
		reply_ext_err(rq->conn, JIT_E_NOENT, -1,
		    "no token labelled %s is enrolled", label);
		return JIT_OK;
	}
	if (set_usable(ag, rq, false) != 0)
		return JIT_OK;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return JIT_E_NOMEM;
	j->force = force;
	j->auth_pin = *payload;
	*payload = NULL;
	j->hj.run = unenroll_run;
	j->hj.done = unenroll_done;
	if ((j->label = strdup(label)) == NULL) {
		r = JIT_E_NOMEM;
		goto fail;
	}
	if ((r = token_job_submit(ag, rq, j, by)) == AGENT_DEFERRED)
		return r;
fail:
	token_job_free(j);
	free(j);
	return r == JIT_E_NOENT ? JIT_OK : r;
}
