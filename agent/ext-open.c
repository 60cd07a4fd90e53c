/* Opening credentials with a token off the loop: unlock, and step-up gets. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "events.h"
#include "ext.h"
#include "hwq.h"
#include "jsonx.h"
#include "keycache.h"
#include "log.h"
#include "notify.h"
#include "proto-names.h"
#include "secret.h"
#include "serve.h"
#include "shell.h"
#include "store.h"
#include "tokenset.h"
#include "vault.h"

struct open_job {
	struct hwjob hj; /* first: hwq frees the job */
	struct hw_token **cands; /* copies: tokens may go */
	size_t ncands;
	size_t used; /* the candidate that answered */
	struct secret *pin;
	struct cred_sealed **cs;
	struct secret **out;
	int *errs;
	size_t n;
	int64_t window_s;
	int touch_timeout_ms;
	bool for_get;
	char *field, *purpose, *command;
	char *reason; /* unlock --reason */
	struct peer peer;
	ext_open_then *then;
	void *then_arg;
	void (*then_free)(void *arg);
	struct notify *notify; /* [agent] notify, if set */
	bool verify_only; /* jitctl tokens --verify: no credential */
	bool rewrap; /* jitctl rewrap: new wraps, no plaintext kept */
	char *token_out; /* then: the answering token's label goes here */
	struct hw_token **to; /* rewrap: copies of the tokens to wrap to */
	size_t nto;
	struct cred_wrap **neww; /* rewrap: per credential, the new wraps */
	size_t *nneww;
	pid_t shell_pid; /* jitctl shell: bound to it (shell.c) */
	uint64_t shell_start;
	struct tokenset *set; /* the token that answers vouches for it */
	struct tokenset_verdict verdict;
	char *dir; /* the data directory: the key caches */
	struct cred_dek *deks; /* per credential: the key cache's part */
	size_t cache_hits, cache_saved; /* for the log line */
	int cache_err; /* the key cache could not be written */
};

static void
open_job_free(struct open_job *j)
{
	size_t i;

	for (i = 0; i < j->ncands; i++)
		hw_token_free(j->cands[i]);
	free(j->cands);
	for (i = 0; i < j->n; i++) {
		cred_sealed_free(j->cs[i]);
		secret_free(j->out[i]);
	}
	free(j->cs);
	free(j->out);
	free(j->errs);
	for (i = 0; i < j->nto; i++)
		hw_token_free(j->to[i]);
	free(j->to);
	for (i = 0; j->neww != NULL && i < j->n; i++)
		free(j->neww[i]);
	free(j->neww);
	free(j->nneww);
	secret_free(j->pin);
	free(j->field);
	free(j->purpose);
	free(j->command);
	free(j->reason);
	if (j->then_arg != NULL && j->then_free != NULL)
		j->then_free(j->then_arg);
	j->then_arg = NULL;
	notify_disarm(j->notify);
	j->notify = NULL;
	tokenset_free(j->set);
	j->set = NULL;
	for (i = 0; j->deks != NULL && i < j->n; i++)
		secret_free(j->deks[i].unwrapped);
	free(j->deks);
	free(j->dir);
	/* j itself is freed by hwq */
}

int
open_identity_verified(struct hw_token *const *cands, size_t ncands,
    const struct hw_auth *auth, const struct tokenset *set, const char *except,
    struct hw_status *st, size_t *ret_used, struct secret **ret_sk,
    struct secret **ret_key, struct tokenset_verdict *v)
{
	struct secret *sk = NULL;
	struct hw_status quiet;
	size_t order[STORE_TOKENS_MAX], i = 0, k, n = 0;
	int r = JIT_E_NOTOKEN;

	memset(v, 0, sizeof(*v));
	v->own_ok = true;
	if (ncands > STORE_TOKENS_MAX)
		ncands = STORE_TOKENS_MAX;
	/* In the order given (prefer, then enrollment), those present
	 * first: an unplugged key is passed over for the TPM's PIN. */
	for (k = 0; k < ncands; k++) {
		memset(&quiet, 0, sizeof(quiet));
		if (ncands == 1 || hw_token_present(cands[k], &quiet))
			order[n++] = k;
	}
	for (k = 0; k < ncands && n < ncands; k++) {
		for (i = 0; i < n && order[i] != k; i++)
			;
		if (i == n)
			order[n++] = k;
	}
	for (k = 0; k < ncands; k++) {
		i = order[k];
		memset(st, 0, sizeof(*st));
		st->retries = -1;
		r = hw_open_identity(cands[i], auth, &sk, st);
		/* An absent or foreign token, or one that wants a PIN when
		 * none was given: try the next (a backup, a touch key). */
		if ((r == JIT_E_NODEV || r == JIT_E_WRONG_TOKEN ||
			(r == JIT_E_PIN_REQUIRED && auth->pin == NULL)) &&
		    k + 1 < ncands) {
			log_debug("token %s: %s; trying the next",
			    cands[i]->label, jit_strerror(r));
			continue;
		}
		break;
	}
	if (r != 0)
		goto out;
	*ret_used = i;
	if (set != NULL) {
		(void)tokenset_verify(
		    set, cands[i]->id, sk, except, ret_key, v);
		/* A token the set does not vouch for opens nothing. */
		if (v->result != JIT_OK && !v->own_ok) {
			hw_status_set(st, "%s", v->why);
			r = JIT_E_AUTH;
			goto out;
		}
	}
	*ret_sk = sk;
	sk = NULL;
	r = JIT_OK;
out:
	secret_free(sk);
	return r;
}

/*
 * An X25519 unwrap per credential is most of an unlock's software time (33
 * us each on a 2 GHz core).  The token's key cache (keycache.c) holds the
 * data keys unwrapped before, so that only credentials new to the token
 * cost one; past OPEN_PART_MIN credentials the work is shared among the
 * machine's cores.
 */
#define OPEN_PART_MIN 64
#define OPEN_PARTS_MAX 16

struct open_part {
	struct open_job *j;
	const struct secret *sk;
	const struct keycache *kc;
	size_t from, to;
};

static void
open_part_run(void *arg)
{
	struct open_part *p = arg;
	struct open_job *j = p->j;
	struct hw_token *t = j->cands[j->used];
	const struct seal_wrap *w;
	struct cred_dek *dk;
	size_t k;

	for (k = p->from; k < p->to; k++) {
		dk = &j->deks[k];
		if ((w = cred_sealed_wrap(j->cs[k], t->id)) != NULL)
			dk->cached = keycache_find(p->kc, w->epk);
		j->errs[k] = j->rewrap ?
		    cred_sealed_rewrap(j->cs[k], t->id, p->sk, t->recipient, dk,
			j->to, j->nto, &j->neww[k], &j->nneww[k]) :
		    cred_sealed_open(
			j->cs[k], t->id, p->sk, t->recipient, dk, &j->out[k]);
	}
}

/* The keys this job used, new ones among them, saved to the key cache:
 * those used now are kept first when it is full. */
static void
cache_save(struct open_job *j, struct keycache *kc)
{
	struct hw_token *t = j->cands[j->used];
	uint8_t(*epks)[SEAL_X25519_LEN] = NULL;
	const uint8_t **keys = NULL;
	const struct seal_wrap *w;
	size_t k, n = 0;

	for (k = 0; k < j->n; k++)
		if (j->deks[k].unwrapped != NULL)
			j->cache_saved++;
	if (j->cache_saved == 0)
		return;
	if ((epks = calloc(j->n, sizeof(*epks))) == NULL ||
	    (keys = calloc(j->n, sizeof(*keys))) == NULL) {
		j->cache_err = JIT_E_NOMEM;
		goto out;
	}
	for (k = 0; k < j->n; k++) {
		if (j->errs[k] != 0 ||
		    (w = cred_sealed_wrap(j->cs[k], t->id)) == NULL)
			continue;
		memcpy(epks[n], w->epk, SEAL_X25519_LEN);
		keys[n++] = j->deks[k].unwrapped != NULL ?
		    secret_ptr(j->deks[k].unwrapped) :
		    j->deks[k].cached;
	}
	j->cache_err = keycache_save(kc,
	    (const uint8_t(*)[SEAL_X25519_LEN])epks,
	    (const uint8_t *const *)keys, n);
out:
	free(epks);
	free(keys);
}

/* Every credential of j opened (or rewrapped) with sk, in parallel parts;
 * a part whose thread cannot start runs here. */
static void
open_all(struct open_job *j, const struct secret *sk)
{
	struct open_part parts[OPEN_PARTS_MAX];
	uv_thread_t tid[OPEN_PARTS_MAX];
	bool started[OPEN_PARTS_MAX];
	struct hw_token *t = j->cands[j->used];
	struct keycache *kc = NULL;
	size_t np = uv_available_parallelism(), i;

	if (j->n == 0)
		return;
	if ((j->deks = calloc(j->n, sizeof(*j->deks))) == NULL) {
		for (i = 0; i < j->n; i++)
			j->errs[i] = JIT_E_NOMEM;
		return;
	}
	/* Without it (no memory, an id that is no file name), each
	 * credential is unwrapped. */
	(void)keycache_open(j->dir, t->id, t->recipient, sk, &kc);
	if (np > OPEN_PARTS_MAX)
		np = OPEN_PARTS_MAX;
	if (np > j->n / OPEN_PART_MIN)
		np = j->n / OPEN_PART_MIN;
	if (np < 1)
		np = 1;
	for (i = 0; i < np; i++) {
		parts[i].j = j;
		parts[i].sk = sk;
		parts[i].kc = kc;
		parts[i].from = j->n * i / np;
		parts[i].to = j->n * (i + 1) / np;
		started[i] = i > 0 &&
		    uv_thread_create(&tid[i], open_part_run, &parts[i]) == 0;
	}
	for (i = 0; i < np; i++)
		if (!started[i])
			open_part_run(&parts[i]);
	for (i = 1; i < np; i++)
		if (started[i])
			(void)uv_thread_join(&tid[i]);
	for (i = 0; i < j->n; i++)
		if (j->deks[i].cached != NULL && j->deks[i].unwrapped == NULL)
			j->cache_hits++;
	if (kc != NULL)
		cache_save(j, kc);
	/* The pointers into the cache go with it. */
	for (i = 0; i < j->n; i++)
		j->deks[i].cached = NULL;
	keycache_free(kc);
}

/* In a worker thread: one hardware operation, then software for all. */
static void
open_run(struct hwjob *hj)
{
	struct open_job *j = (struct open_job *)hj;
	struct secret *sk = NULL;
	struct hw_auth auth;
	int r;

	memset(&auth, 0, sizeof(auth));
	auth.pin = j->pin;
	auth.touch_timeout_ms = j->touch_timeout_ms;
	auth.cancel = &hj->cancel;
	if ((r = open_identity_verified(j->cands, j->ncands, &auth, j->set,
		 NULL, &hj->st, &j->used, &sk, NULL, &j->verdict)) != 0)
		goto out;
	open_all(j, sk);
	r = JIT_OK;
out:
	secret_free(sk);
	hj->result = r;
}

/* The verdict of the token that answered on the set it was given. */
static void
open_record_verdict(struct agent *ag, struct open_job *j)
{
	struct json_object *ev;
	const char *label;

	if (j->set == NULL)
		return;
	if (j->hj.result != 0 && j->verdict.result == JIT_OK)
		return; /* no token answered: no verdict */
	label = j->hj.result == 0 ? j->cands[j->used]->label : "?";
	store_set_verified(
	    ag->store, j->set->generation, j->verdict.result, j->verdict.why);
	if (j->verdict.result == JIT_OK)
		return;
	log_error("the enrolled tokens do not verify: %s", j->verdict.why);
	if ((ev = event_new("deny")) != NULL) {
		event_str(ev, "why", "token set altered");
		event_str(ev, "detail", j->verdict.why);
		event_str(ev, "token", label);
		event_peer(ev, &j->peer);
	}
	event_emit(ag, ev);
}

static void
audit_open_fail(struct agent *ag, struct open_job *j, int r)
{
	struct json_object *ev = event_new("deny"), *names;
	size_t i;

	names = json_object_new_array();
	for (i = 0; i < j->n; i++)
		json_object_array_add(
		    names, json_object_new_string(j->cs[i]->name));
	json_object_object_add(ev, "names", names);
	event_str(ev, "why", jit_errname(r));
	event_str(ev, "detail", j->hj.st.msg[0] ? j->hj.st.msg : NULL);
	event_peer(ev, &j->peer);
	event_emit_names(ag, ev, "names");
}

/* The client went away while the token was asked: nothing is kept. */
static void
audit_open_abandoned(struct agent *ag, struct open_job *j)
{
	struct json_object *ev = event_new("abandoned"), *names;
	size_t i;

	log_info("client left before the token answered; nothing kept");
	names = json_object_new_array();
	for (i = 0; i < j->n; i++)
		json_object_array_add(
		    names, json_object_new_string(j->cs[i]->name));
	json_object_object_add(ev, "names", names);
	event_str(ev, "verb",
	    j->rewrap                           ? "rewrap" :
		j->verify_only                  ? "verify" :
		(j->for_get || j->then != NULL) ? "use" :
						  "unlock");
	if (j->hj.result == 0)
		event_str(ev, "token", j->cands[j->used]->label);
	else
		event_str(ev, "why", jit_errname(j->hj.result));
	event_peer(ev, &j->peer);
	event_emit(ag, ev);
}

static void
open_done_get(struct agent *ag, struct open_job *j)
{
	struct conn *conn = j->hj.conn;
	struct cred *c = store_cred(ag->store, j->cs[0]->name);

	if (j->errs[0] != 0 || c == NULL || c->created != j->cs[0]->created) {
		reply_ext_err(conn, j->errs[0] ? j->errs[0] : JIT_E_NOENT, -1,
		    "%s could not be opened: %s", j->cs[0]->name,
		    j->errs[0] == JIT_E_AUTH ? "its file was altered" :
					       "it changed meanwhile");
		return;
	}
	if (vault_check(ag->vault, c) != 0) {
		reply_ext_err(conn, JIT_E_LOCKED, -1,
		    "%s was locked meanwhile: run 'jitctl unlock %s'", c->name,
		    c->name);
		return;
	}
	if (ext_serve(ag, conn, &j->peer, c, j->out[0], j->field, j->purpose,
		j->command, j->cands[j->used]->label) != 0)
		reply_ext_err(conn, JIT_E_INTERNAL, -1, NULL);
}

/* One credential that was not unlocked, for the reply and the audit. */
static void
unlock_failed(struct json_object *failed, const char *name, int err)
{
	struct json_object *e;

	if ((e = json_object_new_object()) == NULL)
		return;
	(void)jsonx_add_str(e, JP_FAILED_NAME, name);
	(void)jsonx_add_str(e, JP_FAILED_CODE, jit_errname(err));
	(void)jsonx_add_str(e, JP_FAILED_MESSAGE,
	    err == JIT_E_AUTH ?
		"its file was altered (header or ciphertext edited): it cannot be opened" :
		err == JIT_E_NOENT ? "it is not wrapped to this token" :
		err == JIT_E_CANCELLED ?
				     "it was replaced or removed meanwhile" :
				     jit_strerror(err));
	if (json_object_array_add(failed, e) != 0)
		json_object_put(e);
	log_warn("unlock %s: %s", name, jit_strerror(err));
}

/* "a: why; b: why" for the reply when nothing opened. */
static void
failed_text(struct json_object *failed, char *out, size_t outlen)
{
	struct json_object *e, *v;
	size_t i, used = 0;
	int n;

	out[0] = '\0';
	for (i = 0; i < json_object_array_length(failed) && used < outlen;
	     i++) {
		e = json_object_array_get_idx(failed, i);
		n = snprintf(out + used, outlen - used, "%s%s: %s",
		    i > 0 ? "; " : "",
		    json_object_object_get_ex(e, JP_FAILED_NAME, &v) ?
			json_object_get_string(v) :
			"?",
		    json_object_object_get_ex(e, JP_FAILED_MESSAGE, &v) ?
			json_object_get_string(v) :
			"?");
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static void
open_done_unlock(struct agent *ag, struct open_job *j)
{
	struct json_object *res, *ok, *failed, *ev;
	const char *label = j->cands[j->used]->label;
	struct cred *c;
	char why[1024];
	size_t i, nok = 0;
	int64_t until = (int64_t)time(NULL) + j->window_s;
	int r;

	res = json_object_new_object();
	ok = json_object_new_array();
	failed = json_object_new_array();
	for (i = 0; i < j->n; i++) {
		c = store_cred(ag->store, j->cs[i]->name);
		if (j->errs[i] == 0 &&
		    (c == NULL || c->created != j->cs[i]->created))
			j->errs[i] = JIT_E_CANCELLED;
		if (j->errs[i] != 0) {
			unlock_failed(failed, j->cs[i]->name, j->errs[i]);
			continue;
		}
		/* An SSH certificate is listed while unlocked: keep it. */
		if (ag->unlocked != NULL)
			ag->unlocked(ag, c, j->out[i]);
		/* Step-up always/pin: the window opens, no plaintext stays. */
		if (c->stepup == STEPUP_ALWAYS || c->stepup == STEPUP_PIN) {
			secret_free(j->out[i]);
			j->out[i] = NULL;
		}
		if ((r = vault_unlock(
			 ag->vault, c, j->out[i], j->window_s, label)) != 0) {
			j->out[i] = NULL;
			unlock_failed(failed, c->name, r);
			continue;
		}
		j->out[i] = NULL;
		if (j->shell_pid != 0 &&
		    (r = shell_bind(ag, c, j->shell_pid, j->shell_start)) !=
			0) {
			vault_wipe(ag->vault, c);
			unlock_failed(failed, c->name, r);
			continue;
		}
		if (until > c->not_after)
			until = c->not_after;
		json_object_array_add(ok, json_object_new_string(c->name));
		nok++;
	}
	if ((ev = event_new("unlock")) != NULL) {
		json_object_object_add(ev, "names", json_object_get(ok));
		event_str(ev, "token", label);
		event_int(ev, "window", j->window_s);
		if (j->shell_pid != 0)
			event_int(ev, "shell", (int64_t)j->shell_pid);
		if (j->reason != NULL)
			event_str(ev, "reason", j->reason);
		if (j->cands[j->used]->simulated)
			(void)jsonx_add_bool(ev, "simulated", true);
		if (json_object_array_length(failed) > 0)
			json_object_object_add(
			    ev, "failed", json_object_get(failed));
		event_peer(ev, &j->peer);
	}
	/* Not in the audit log: what was just opened is wiped again. */
	if (nok > 0 && (r = event_emit_names(ag, ev, "names")) != 0) {
		for (i = 0; i < json_object_array_length(ok); i++) {
			c = store_cred(ag->store,
			    json_object_get_string(
				json_object_array_get_idx(ok, i)));
			if (c != NULL)
				vault_wipe(ag->vault, c);
		}
		reply_audit_refused(ag, j->hj.conn, r);
		json_object_put(ok);
		json_object_put(failed);
		json_object_put(res);
		return;
	}
	if (nok == 0)
		(void)event_emit_names(ag, ev, "names");
	if (j->set != NULL && j->verdict.result != JIT_OK)
		(void)jsonx_add_str(res, JP_RES_UNLOCK_WARNING, j->verdict.why);
	json_object_object_add(res, JP_RES_UNLOCK_UNLOCKED, ok);
	json_object_object_add(res, JP_RES_UNLOCK_FAILED, failed);
	(void)jsonx_add_str(res, JP_RES_UNLOCK_TOKEN, label);
	(void)jsonx_add_int(res, JP_RES_UNLOCK_UNTIL, until);
	(void)jsonx_add_int(res, JP_RES_UNLOCK_WINDOW, j->window_s);
	/* Some opened, some not: a success that lists both; jitctl says
	 * both and exits non-zero. */
	if (nok == 0 && j->n > 0) {
		failed_text(failed, why, sizeof(why));
		reply_ext_err(j->hj.conn, JIT_E_AUTH, -1,
		    "nothing was unlocked: %s", why);
		json_object_put(res);
	} else
		reply_ext_result(j->hj.conn, res);
}

static void
open_done_verify(struct agent *ag, struct open_job *j)
{
	struct json_object *res, *ev;
	const char *why;
	int r;

	if (store_set_state(ag->store, &why) != SET_VERIFIED) {
		reply_ext_err(j->hj.conn, JIT_E_AUTH, -1,
		    "the enrolled tokens do not verify with %s: %s",
		    j->cands[j->used]->label, why);
		return;
	}
	if ((ev = event_new("verify")) != NULL) {
		event_str(ev, "token", j->cands[j->used]->label);
		event_int(ev, "tokens", (int64_t)store_ntokens(ag->store));
		event_peer(ev, &j->peer);
	}
	if ((r = event_emit(ag, ev)) != 0) {
		reply_audit_refused(ag, j->hj.conn, r);
		return;
	}
	res = json_object_new_object();
	(void)jsonx_add_str(res, JP_RES_VERIFY_TOKEN, j->cands[j->used]->label);
	(void)jsonx_add_int(
	    res, JP_RES_VERIFY_TOKENS, (int64_t)store_ntokens(ag->store));
	reply_ext_result(j->hj.conn, res);
}

/* The new wraps, audited first, then written credential by credential. */
static void
open_done_rewrap(struct agent *ag, struct open_job *j)
{
	struct json_object *res, *done, *same, *failed, *to, *ev, *names;
	const char *label = j->cands[j->used]->label;
	struct cred *c;
	size_t i, added;
	int r;

	names = json_object_new_array();
	for (i = 0; i < j->n; i++) {
		c = store_cred(ag->store, j->cs[i]->name);
		if (j->errs[i] == 0 &&
		    (c == NULL || c->created != j->cs[i]->created))
			j->errs[i] = JIT_E_CANCELLED;
		if (j->errs[i] == 0 && j->nneww[i] > 0)
			json_object_array_add(
			    names, json_object_new_string(j->cs[i]->name));
	}
	to = json_object_new_array();
	for (i = 0; i < j->nto; i++)
		json_object_array_add(
		    to, json_object_new_string(j->to[i]->label));
	/* Audited before a file changes: who made a token able to open what. */
	if ((ev = event_new("rewrap")) != NULL) {
		json_object_object_add(ev, "names", json_object_get(names));
		event_str(ev, "token", label);
		json_object_object_add(ev, "to", json_object_get(to));
		event_peer(ev, &j->peer);
	}
	if ((r = event_emit_names(ag, ev, "names")) != 0) {
		reply_audit_refused(ag, j->hj.conn, r);
		json_object_put(names);
		json_object_put(to);
		return;
	}
	json_object_put(names);
	res = json_object_new_object();
	done = json_object_new_array();
	same = json_object_new_array();
	failed = json_object_new_array();
	for (i = 0; i < j->n; i++) {
		if (j->errs[i] != 0) {
			unlock_failed(failed, j->cs[i]->name, j->errs[i]);
			continue;
		}
		c = store_cred(ag->store, j->cs[i]->name);
		if ((r = store_add_wraps(
			 ag->store, c, j->neww[i], j->nneww[i], &added)) != 0) {
			unlock_failed(failed, c->name, r);
			continue;
		}
		json_object_array_add(
		    added > 0 ? done : same, json_object_new_string(c->name));
	}
	(void)jsonx_add_str(res, JP_RES_REWRAP_TOKEN, label);
	json_object_object_add(res, JP_RES_REWRAP_TO, to);
	json_object_object_add(res, JP_RES_REWRAP_REWRAPPED, done);
	json_object_object_add(res, JP_RES_REWRAP_UNCHANGED, same);
	json_object_object_add(res, JP_RES_REWRAP_FAILED, failed);
	reply_ext_result(j->hj.conn, res);
}

/* Hand the one credential (or why not) to the caller's then(). */
static int
open_done_then(struct agent *ag, struct open_job *j)
{
	struct cred *c = NULL;
	void *arg = j->then_arg;
	int err = j->hj.result;

	if (err == 0 && (err = j->errs[0]) == 0) {
		c = store_cred(ag->store, j->cs[0]->name);
		if (c == NULL || c->created != j->cs[0]->created)
			err = JIT_E_CANCELLED;
	}
	j->then_arg = NULL;
	if (err == 0 && j->token_out != NULL)
		snprintf(j->token_out, HW_LABEL_MAX + 1, "%s",
		    j->cands[j->used]->label);
	return j->then(ag, j->hj.conn, &j->peer, err == 0 ? c : NULL,
	    err == 0 ? j->out[0] : NULL, err, arg);
}

/* What the key cache did, and a cache of a token unenrolled meanwhile
 * removed (the unenroll removed it before; this job may have written it
 * again). */
static void
cache_done(struct agent *ag, struct open_job *j)
{
	struct hw_token *t;

	if (j->hj.result != 0 || j->deks == NULL)
		return;
	t = j->cands[j->used];
	if (store_token_by_id(ag->store, t->id) == NULL) {
		(void)keycache_remove(j->dir, t->id);
		return;
	}
	if (j->cache_err != 0)
		log_warn(
		    "key cache of %s cannot be saved: %s; the next unlock unwraps again",
		    t->label, jit_strerror(j->cache_err));
	log_info(
	    "%s opened %zu credential%s: %zu data key%s from its key cache, %zu unwrapped",
	    t->label, j->n, j->n == 1 ? "" : "s", j->cache_hits,
	    j->cache_hits == 1 ? "" : "s", j->cache_saved);
}

/* Whatever the token opened is wiped; the job failed as cancelled (the
 * caller says why). */
static void
open_cancel(struct open_job *j)
{
	size_t i;

	j->hj.result = JIT_E_CANCELLED;
	for (i = 0; i < j->n; i++) {
		secret_free(j->out[i]);
		j->out[i] = NULL;
	}
	j->hj.st.msg[0] = '\0'; /* the backend's "cancelled", or a note */
}

static void
open_done(struct hwjob *hj)
{
	struct open_job *j = (struct open_job *)hj;
	struct agent *ag = hj->ag;
	struct conn *conn = hj->conn;

	cache_done(ag, j);

	if (conn == NULL) {
		open_record_verdict(ag, j);
		audit_open_abandoned(ag, j);
		goto out;
	}
	conn_set_job(conn, NULL);
	open_record_verdict(ag, j);
	/* A lock came while the touch was awaited: nothing opens for it,
	 * even if the token answered meanwhile. */
	if (hj->aborted_by[0] != '\0') {
		open_cancel(j);
		hw_status_set(&hj->st,
		    "the agent was locked (%s) while the token was asked: nothing was opened; unlock again",
		    hj->aborted_by);
	}
	/* The token was unenrolled while it was asked (approved by another):
	 * it opens nothing any more, even for a request made before. */
	if (hj->result == 0 &&
	    store_token_by_id(ag->store, j->cands[j->used]->id) == NULL) {
		open_cancel(j);
		hw_status_set(&hj->st,
		    "%s was unenrolled while it was asked: nothing was opened; use an enrolled token",
		    j->cands[j->used]->label);
	}
	if (j->then != NULL) {
		if (hj->result != 0)
			audit_open_fail(ag, j, hj->result);
		if (open_done_then(ag, j) == AGENT_DEFERRED)
			goto out;
	} else if (hj->result != 0) {
		audit_open_fail(ag, j, hj->result);
		ext_reply_hw_err(conn, hj->result, &hj->st);
	} else if (j->verify_only)
		open_done_verify(ag, j);
	else if (j->rewrap)
		open_done_rewrap(ag, j);
	else if (j->for_get)
		open_done_get(ag, j);
	else
		open_done_unlock(ag, j);
	conn_done(conn);
out:
	open_job_free(j);
}

static int
dup_opt(const char *s, char **ret)
{
	*ret = NULL;
	if (s != NULL && (*ret = strdup(s)) == NULL)
		return JIT_E_NOMEM;
	return JIT_OK;
}

/* Tokens that wrap every credential asked for (for a rewrap: any one of
 * them), the named one alone if given, in the order tokens are tried
 * ([agent] prefer, then enrollment). */
static int
pick_tokens(struct agent *ag, struct open_job *j, struct cred **creds, size_t n,
    const char *label)
{
	bool need_pin = false;
	size_t k;

	/* Step-up pin: a TPM (always a PIN) or a FIDO2 key enrolled with UV. */
	for (k = 0; k < n; k++)
		if (creds[k]->stepup == STEPUP_PIN)
			need_pin = true;
	return ext_pick_tokens(
	    ag, creds, n, j->rewrap, label, need_pin, &j->cands, &j->ncands);
}

/* A rewrap's targets: the token named, or every enrolled one. */
static int
pick_targets(struct agent *ag, struct open_job *j, const char *label)
{
	struct hw_token *t;
	size_t i, nt = store_ntokens(ag->store);
	int r;

	if ((j->to = calloc(nt ? nt : 1, sizeof(*j->to))) == NULL ||
	    (j->neww = calloc(j->n ? j->n : 1, sizeof(*j->neww))) == NULL ||
	    (j->nneww = calloc(j->n ? j->n : 1, sizeof(*j->nneww))) == NULL)
		return JIT_E_NOMEM;
	for (i = 0; i < nt; i++) {
		t = store_token_at(ag->store, i);
		if (label != NULL && strcmp(t->label, label) != 0)
			continue;
		if ((r = hw_token_dup(t, &j->to[j->nto])) != 0)
			return r;
		j->nto++;
	}
	return JIT_OK;
}

/* "a, b, c" for the notice. */
static const char *
notify_names(const struct open_job *j, char *out, size_t outlen)
{
	size_t i, used = 0;
	int n;

	out[0] = '\0';
	for (i = 0; i < j->n && used < outlen; i++) {
		n = snprintf(out + used, outlen - used, "%s%s",
		    i > 0 ? ", " : "", j->cs[i]->name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return out;
}

int
ext_open_submit(struct agent *ag, struct request *rq, struct open_args *a)
{
	struct open_job *j;
	char names[256];
	size_t i;
	int r;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		secret_free(a->pin);
		if (a->then_arg != NULL && a->then_free != NULL)
			a->then_free(a->then_arg);
		return JIT_E_NOMEM;
	}
	j->then = a->then;
	j->then_arg = a->then_arg;
	j->then_free = a->then_free;
	j->pin = a->pin;
	j->n = a->n;
	j->window_s = a->window_s;
	j->shell_pid = a->shell_pid;
	j->shell_start = a->shell_start;
	j->for_get = a->for_get;
	j->verify_only = a->verify_only;
	j->rewrap = a->rewrap;
	j->token_out = a->token_out;
	j->touch_timeout_ms = ag->touch_timeout_ms;
	j->peer = *rq->peer;
	if ((j->dir = strdup(store_dir(ag->store))) == NULL) {
		r = JIT_E_NOMEM;
		goto fail;
	}
	if ((j->cs = calloc(a->n ? a->n : 1, sizeof(*j->cs))) == NULL ||
	    (j->out = calloc(a->n ? a->n : 1, sizeof(*j->out))) == NULL ||
	    (j->errs = calloc(a->n ? a->n : 1, sizeof(*j->errs))) == NULL) {
		r = JIT_E_NOMEM;
		goto fail;
	}
	if ((r = dup_opt(a->field, &j->field)) != 0 ||
	    (r = dup_opt(a->purpose, &j->purpose)) != 0 ||
	    (r = dup_opt(a->command, &j->command)) != 0 ||
	    (r = dup_opt(a->reason, &j->reason)) != 0)
		goto fail;
	for (i = 0; i < a->n; i++)
		if ((r = cred_snapshot(a->creds[i], &j->cs[i])) != 0)
			goto fail;
	if (j->rewrap && (r = pick_targets(ag, j, a->rewrap_to)) != 0)
		goto fail;
	if ((r = pick_tokens(ag, j, a->creds, a->n, a->token_label)) != 0 ||
	    (r = tokenset_dup(store_tokenset(ag->store), &j->set)) != 0)
		goto fail;
	if (j->ncands == 0 && j->then != NULL) {
		void *arg = j->then_arg;

		j->then_arg = NULL;
		r = j->then(
		    ag, rq->conn, rq->peer, NULL, NULL, JIT_E_NOTOKEN, arg);
		open_job_free(j);
		free(j);
		return r;
	}
	if (j->ncands == 0) {
		if (store_ntokens(ag->store) == 0)
			reply_ext_err(rq->conn, JIT_E_NOTOKEN, -1, NULL);
		else if (j->rewrap)
			reply_ext_err(rq->conn, JIT_E_NOTOKEN, -1,
			    "%s%s opens none of these credentials: rewrap with a token they are wrapped to (see 'jitctl status')",
			    a->token_label != NULL ? "token " :
						     "no enrolled token",
			    a->token_label != NULL ? a->token_label : "");
		else if (a->token_label != NULL && a->token_label[0] != '\0')
			reply_ext_err(rq->conn, JIT_E_NOTOKEN, -1,
			    "token %s does not open all of these credentials",
			    a->token_label);
		else
			reply_ext_err(rq->conn, JIT_E_NOTOKEN, -1,
			    "no single enrolled token opens all of these credentials%s",
			    a->n > 1 ?
				": unlock them separately" :
				": step-up 'pin' needs a TPM or a FIDO2 key enrolled with --uv");
		open_job_free(j);
		free(j);
		return JIT_OK;
	}
	/* jitctl's question before it says "touch your key": every check
	 * that needs no token has passed; this token would be asked. */
	if (a->check_only) {
		struct json_object *res = json_object_new_object();

		(void)jsonx_add_str(
		    res, JP_RES_UNLOCK_TOKEN, j->cands[0]->label);
		reply_ext_result(rq->conn, res);
		open_job_free(j);
		free(j);
		return JIT_OK;
	}
	j->hj.conn = rq->conn;
	j->hj.awaits_person = true; /* a lock aborts the touch */
	j->hj.run = open_run;
	j->hj.done = open_done;
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
	/* A touch awaited (a FIDO2 key; a TPM asks for no touch): the
	 * notify command says so if the touch is slow, naming who asks for
	 * what, and takes it back when the wait ends (open_job_free). */
	if (j->n > 0 && strcmp(j->cands[0]->type, "fido2") == 0)
		j->notify = notify_arm(ag,
		    notify_names(j, names, sizeof(names)), j->cands[0]->label,
		    j->for_get ? 0 : j->window_s, &j->peer);
	return AGENT_DEFERRED;
fail:
	open_job_free(j);
	free(j);
	return r;
}

/* jitctl shell: the child to bind to; AGENT_DEFERRED once refused. */
static int
shell_arg(struct request *rq, struct json_object *args, struct open_args *oa)
{
	char why[160];
	int64_t pid = 0;
	int r;

	if ((r = jsonx_opt_int(
		 args, JP_ARG_UNLOCK_SHELL, 2, INT32_MAX, &pid)) == JIT_E_NOENT)
		return JIT_OK;
	if (r != 0)
		return JIT_E_FORMAT;
	if ((r = shell_bind_check(rq->peer, (pid_t)pid, &oa->shell_start, why,
		 sizeof(why))) != 0) {
		reply_ext_err(rq->conn, r, -1, "%s", why);
		return AGENT_DEFERRED;
	}
	oa->shell_pid = (pid_t)pid;
	return JIT_OK;
}

int
ext_unlock(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	struct open_args oa;
	struct json_object *arr = NULL;
	struct cred **creds = NULL, *c;
	const char *label = NULL, *name;
	bool all = false;
	size_t i, n = 0, cap;
	int r;

	memset(&oa, 0, sizeof(oa));
	if ((r = ext_duration_arg(args, JP_ARG_UNLOCK_FOR, &oa.window_s,
		 ag->window_default_s)) != 0)
		return r;
	if (((r = jsonx_opt_bool(args, JP_ARG_UNLOCK_ALL, &all)) != 0 &&
		r != JIT_E_NOENT) ||
	    ((r = jsonx_opt_str(
		  args, JP_ARG_UNLOCK_TOKEN, HW_LABEL_MAX, &label)) != 0 &&
		r != JIT_E_NOENT))
		return JIT_E_FORMAT;
	if ((r = jsonx_opt_str(args, JP_ARG_UNLOCK_REASON, CRED_REASON_MAX,
		 &oa.reason)) != 0 &&
	    r != JIT_E_NOENT) {
		reply_ext_err(rq->conn, JIT_E_ARG, -1,
		    "the reason is one line of text of at most %d bytes",
		    CRED_REASON_MAX);
		return JIT_OK;
	}
	if (oa.reason != NULL && !ext_reason_ok(oa.reason)) {
		reply_ext_err(rq->conn, JIT_E_ARG, -1,
		    "the reason is one line of text (1 to %d bytes, no control characters)",
		    CRED_REASON_MAX);
		return JIT_OK;
	}
	if (json_object_object_get_ex(args, JP_ARG_UNLOCK_NAMES, &arr) &&
	    (!json_object_is_type(arr, json_type_array) ||
		json_object_array_length(arr) > STORE_CREDS_MAX))
		return JIT_E_FORMAT;
	cap = all ? store_ncreds(ag->store) :
		    (arr != NULL ? json_object_array_length(arr) : 0);
	if (cap == 0) {
		reply_ext_err(rq->conn, JIT_E_ARG, -1,
		    all ? "there are no credentials to unlock" :
			  "name the credentials to unlock, or pass --all");
		return JIT_OK;
	}
	if ((creds = calloc(cap, sizeof(*creds))) == NULL)
		return JIT_E_NOMEM;
	for (i = 0; i < cap; i++) {
		if (all) {
			c = store_cred_at(ag->store, i);
			/* --all skips what has expired. */
			if (time(NULL) >= c->not_after)
				continue;
		} else {
			struct json_object *e = json_object_array_get_idx(
			    arr, i);

			if (!json_object_is_type(e, json_type_string)) {
				free(creds);
				return JIT_E_FORMAT;
			}
			name = json_object_get_string(e);
			if ((c = store_cred(ag->store, name)) == NULL) {
				reply_ext_err(rq->conn, JIT_E_NOENT, -1,
				    "no credential named %s: see 'jitctl status'",
				    name);
				free(creds);
				return JIT_OK;
			}
			if (time(NULL) >= c->not_after) {
				ext_reply_expired(rq->conn, c);
				free(creds);
				return JIT_OK;
			}
		}
		creds[n++] = c;
	}
	if (n == 0) {
		reply_ext_err(rq->conn, JIT_E_EXPIRED, -1,
		    "every credential has expired: 'jitctl request PROFILE' issues new ones, 'jitctl add NAME --replace' stores new ones, 'jitctl revoke NAME' removes them");
		free(creds);
		return JIT_OK;
	}
	oa.creds = creds;
	oa.n = n;
	oa.token_label = label;
	if ((r = jsonx_opt_bool(args, JP_ARG_UNLOCK_CHECK, &oa.check_only)) !=
		0 &&
	    r != JIT_E_NOENT) {
		free(creds);
		return JIT_E_FORMAT;
	}
	if ((r = shell_arg(rq, args, &oa)) != 0) {
		free(creds);
		return r == AGENT_DEFERRED ? JIT_OK : r;
	}
	oa.pin = *payload;
	*payload = NULL;
	r = ext_open_submit(ag, rq, &oa);
	free(creds);
	return r;
}

/* jitctl tokens --verify: one token vouches for the set, nothing opens. */
int
ext_verify(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	struct open_args oa;
	const char *label = NULL, *why;
	int r;

	memset(&oa, 0, sizeof(oa));
	if ((r = jsonx_opt_str(
		 args, JP_ARG_VERIFY_TOKEN, HW_LABEL_MAX, &label)) != 0 &&
	    r != JIT_E_NOENT)
		return JIT_E_FORMAT;
	switch (store_set_state(ag->store, &why)) {
	case SET_EMPTY:
		reply_ext_err(rq->conn, JIT_E_NOTOKEN, -1, NULL);
		return JIT_OK;
	case SET_BROKEN:
		reply_ext_err(rq->conn, JIT_E_AUTH, -1, "%s", why);
		return JIT_OK;
	default: break;
	}
	oa.token_label = label;
	oa.verify_only = true;
	oa.pin = *payload;
	*payload = NULL;
	return ext_open_submit(ag, rq, &oa);
}

/* jitctl rewrap: one token opens, every enrolled one (or --to) is wrapped
 * to, for the named credentials or all that have not expired. */
int
ext_rewrap(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	struct open_args oa;
	struct json_object *arr = NULL, *e;
	struct cred **creds = NULL, *c;
	const char *to = NULL, *label = NULL, *why;
	size_t i, n = 0, cap;
	int r;

	memset(&oa, 0, sizeof(oa));
	if (((r = jsonx_opt_str(args, JP_ARG_REWRAP_TO, HW_LABEL_MAX, &to)) !=
		    0 &&
		r != JIT_E_NOENT) ||
	    ((r = jsonx_opt_str(
		  args, JP_ARG_REWRAP_TOKEN, HW_LABEL_MAX, &label)) != 0 &&
		r != JIT_E_NOENT))
		return JIT_E_FORMAT;
	if (json_object_object_get_ex(args, JP_ARG_REWRAP_NAMES, &arr) &&
	    (!json_object_is_type(arr, json_type_array) ||
		json_object_array_length(arr) > STORE_CREDS_MAX))
		return JIT_E_FORMAT;
	if (to != NULL && store_token_by_label(ag->store, to) == NULL) {
		reply_ext_err(rq->conn, JIT_E_NOENT, -1,
		    "no token is enrolled as %s: see 'jitctl tokens'", to);
		return JIT_OK;
	}
	switch (store_set_state(ag->store, &why)) {
	case SET_EMPTY:
		reply_ext_err(rq->conn, JIT_E_NOTOKEN, -1, NULL);
		return JIT_OK;
	case SET_BROKEN:
	case SET_FAILED:
		reply_ext_err(rq->conn, JIT_E_AUTH, -1,
		    "nothing is wrapped to a set of tokens that does not verify: %s",
		    why);
		return JIT_OK;
	default: break;
	}
	cap = arr != NULL && json_object_array_length(arr) > 0 ?
	    json_object_array_length(arr) :
	    store_ncreds(ag->store);
	if (cap == 0) {
		reply_ext_err(rq->conn, JIT_E_ARG, -1,
		    "there are no credentials to rewrap");
		return JIT_OK;
	}
	if ((creds = calloc(cap, sizeof(*creds))) == NULL)
		return JIT_E_NOMEM;
	for (i = 0; i < cap; i++) {
		if (arr == NULL || json_object_array_length(arr) == 0) {
			c = store_cred_at(ag->store, i);
			if (time(NULL) >= c->not_after)
				continue; /* all: what has expired stays */
		} else {
			e = json_object_array_get_idx(arr, i);
			if (!json_object_is_type(e, json_type_string)) {
				free(creds);
				return JIT_E_FORMAT;
			}
			if ((c = store_cred(ag->store,
				 json_object_get_string(e))) == NULL) {
				reply_ext_err(rq->conn, JIT_E_NOENT, -1,
				    "no credential named %s: see 'jitctl status'",
				    json_object_get_string(e));
				free(creds);
				return JIT_OK;
			}
		}
		creds[n++] = c;
	}
	if (n == 0) {
		reply_ext_err(rq->conn, JIT_E_EXPIRED, -1,
		    "every credential has expired: nothing to rewrap");
		free(creds);
		return JIT_OK;
	}
	oa.creds = creds;
	oa.n = n;
	oa.token_label = label;
	oa.rewrap = true;
	oa.rewrap_to = to;
	oa.pin = *payload;
	*payload = NULL;
	r = ext_open_submit(ag, rq, &oa);
	free(creds);
	return r;
}
