/* Verbs on credentials: add, get, lock, revoke. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "askpass.h"
#include "conf.h"
#include "err.h"
#include "events.h"
#include "ext.h"
#include "fields.h"
#include "jsonx.h"
#include "log.h"
#include "onuse.h"
#include "prompt-text.h"
#include "proto-names.h"
#include "revoke.h"
#include "secret.h"
#include "serve.h"
#include "ssh-agent.h"
#include "store.h"
#include "vault.h"

#define KIND_SECRET "secret"
#define KIND_ENV "env"

static void audit_deny(
    struct agent *ag, const struct peer *p, const char *name, const char *why);

/* The add's line, before the credential is stored. */
static int
audit_add(struct agent *ag, const struct peer *p, const struct cred_new *a,
    uint32_t nfields, bool replace)
{
	struct json_object *ev;

	if ((ev = event_new("add")) != NULL) {
		event_str(ev, "name", a->name);
		event_str(ev, "kind", a->kind);
		event_int(ev, "not_after", (int64_t)time(NULL) + a->ttl_s);
		event_str(ev, "stepup", stepup_name(a->stepup));
		event_int(ev, "fields", (int64_t)nfields);
		if (replace)
			(void)jsonx_add_bool(ev, "replace", true);
		event_peer(ev, p);
	}
	return event_emit(ag, ev);
}

/* An env credential's fields become environment variables: refuse a name
 * that cannot be one (PG-USER) at add, not at the first 'jitctl exec'. */
static int
env_names_bad(struct conn *conn, const struct secret *fields)
{
	struct fields_iter it;
	struct field f;
	char name[FIELD_NAME_MAX + 1];

	if (fields_iter_init(&it, fields) != 0)
		return JIT_E_FORMAT;
	while (fields_next(&it, &f) == 1) {
		if (fields_env_name(f.name, f.namelen))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)f.namelen,
		    (const char *)f.name);
		reply_ext_err(conn, JIT_E_ARG, -1,
		    "field %s of an env credential cannot be an environment variable's name (letters, digits and '_', not starting with a digit): rename it, or add it with another --kind",
		    name);
		return JIT_E_ARG;
	}
	return JIT_OK;
}

int
ext_add(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	struct cred_new a;
	struct cred *c, *old;
	struct json_object *res, *arr;
	const char *stepup = "session";
	uint8_t *cert = NULL; /* an ssh-cert's certificate, public */
	uint32_t nfields;
	size_t i;
	bool audited = false;
	int r;

	memset(&a, 0, sizeof(a));
	a.kind = KIND_SECRET;
	if ((r = ext_str_arg(args, JP_ARG_ADD_NAME, CRED_NAME_MAX, &a.name)) !=
		0 ||
	    (r = ext_duration_arg(args, JP_ARG_ADD_TTL, &a.ttl_s, 0)) != 0)
		return r;
	if ((r = jsonx_opt_str(
		 args, JP_ARG_ADD_KIND, CRED_KIND_MAX, &a.kind)) != 0 &&
	    r != JIT_E_NOENT)
		return r;
	if ((r = jsonx_opt_str(args, JP_ARG_ADD_STEPUP, 16, &stepup)) != 0 &&
	    r != JIT_E_NOENT)
		return r;
	if ((r = jsonx_opt_bool(args, JP_ARG_ADD_REPLACE, &a.replace)) != 0 &&
	    r != JIT_E_NOENT)
		return r;
	if ((r = jsonx_opt_bool(
		 args, JP_ARG_ADD_UNLOCK_ON_USE, &a.unlock_on_use)) != 0 &&
	    r != JIT_E_NOENT)
		return r;
	if (!policy_name_ok(a.name)) {
		reply_ext_err(rq->conn, JIT_E_ARG, -1,
		    "a credential name is 1 to %d letters, digits, '_', '.' or '-'",
		    CRED_NAME_MAX);
		return JIT_OK;
	}
	if (ext_check_wrappable(ag, rq->conn) != 0)
		return JIT_OK;
	if (!conf_kind_valid(a.kind)) {
		reply_ext_err(rq->conn, JIT_E_ARG, -1,
		    "unknown kind '%s' (secret, env, " SSH_CRED_KIND
		    ", aws, kube, docker or git)",
		    a.kind);
		return JIT_OK;
	}
	if (stepup_parse(stepup, &a.stepup) != 0) {
		reply_ext_err(rq->conn, JIT_E_ARG, -1,
		    "unknown step-up '%s' (session, always, pin or confirm)",
		    stepup);
		return JIT_OK;
	}
	if (*payload == NULL || fields_validate(*payload, &nfields) != 0) {
		reply_ext_err(rq->conn, JIT_E_FORMAT, -1,
		    "add needs the secret's fields in the request's secret payload");
		return JIT_OK;
	}
	/* Refusals that can be known now are made now, not at first use. */
	if (a.stepup == STEPUP_CONFIRM && !askpass_available()) {
		reply_ext_err(rq->conn, JIT_E_UNSUPPORTED, -1,
		    "step-up confirm asks through an askpass program, and the agent has none: start it with SSH_ASKPASS set (or with a display), or choose another step-up");
		return JIT_OK;
	}
	if (strcmp(a.kind, KIND_ENV) == 0 &&
	    env_names_bad(rq->conn, *payload) != 0)
		return JIT_OK;
	if (strcmp(a.kind, SSH_CRED_KIND) == 0) {
		char why[160];

		if (ssh_cred_check_fields(*payload, why, sizeof(why)) != 0) {
			reply_ext_err(rq->conn, JIT_E_FORMAT, -1,
			    "an %s credential holds \"key\" (base64 ed25519 seed) and \"cert\" (its certificate line): %s",
			    SSH_CRED_KIND, why);
			return JIT_OK;
		}
		/* Public, in the header: listed while locked (on use). */
		if ((r = ssh_cred_cert_blob(*payload, &cert, &a.ssh_certlen)) !=
		    0)
			return r;
		a.ssh_cert = cert;
	}
	/* Audited before it is stored (when it can be): nothing is added
	 * unaudited.  Otherwise the store says why not, as it did. */
	old = store_cred(ag->store, a.name);
	if (store_set_state(ag->store, NULL) == SET_VERIFIED &&
	    (old == NULL || a.replace)) {
		if ((r = audit_add(ag, rq->peer, &a, nfields, old != NULL)) !=
		    0) {
			reply_audit_refused(ag, rq->conn, r);
			free(cert);
			return JIT_OK;
		}
		audited = true;
	}
	if (old != NULL && a.replace)
		vault_wipe(ag->vault, old);
	r = store_put_cred(ag->store, &a, *payload, &c);
	free(cert);
	if (r != 0) {
		if (r == JIT_E_EXISTS)
			reply_ext_err(rq->conn, r, -1,
			    "a credential named %s exists: revoke it first, or pass --replace",
			    a.name);
		else if (r == JIT_E_NOTOKEN)
			reply_ext_err(rq->conn, r, -1,
			    "no token is enrolled to wrap it to: run 'jitctl enroll' first");
		else
			reply_ext_err(rq->conn, r, -1, "cannot store %s: %s",
			    a.name, jit_strerror(r));
		if (audited)
			audit_deny(ag, rq->peer, a.name, "not stored");
		return JIT_OK;
	}
	if (!audited &&
	    (r = audit_add(ag, rq->peer, &a, nfields, old != NULL)) != 0) {
		(void)store_delete_cred(ag->store, a.name);
		reply_audit_refused(ag, rq->conn, r);
		return JIT_OK;
	}
	if ((res = json_object_new_object()) == NULL)
		return JIT_E_NOMEM;
	(void)jsonx_add_str(res, JP_RES_ADD_NAME, c->name);
	(void)jsonx_add_int(res, JP_RES_ADD_NOT_AFTER, c->not_after);
	arr = json_object_new_array();
	for (i = 0; i < c->nwraps; i++) {
		struct hw_token *t = store_token_by_id(
		    ag->store, c->wraps[i].token_id);

		if (t != NULL)
			json_object_array_add(
			    arr, json_object_new_string(t->label));
	}
	json_object_object_add(res, JP_RES_ADD_TOKENS, arr);
	r = reply_ext_ok(rq->conn, res, NULL);
	json_object_put(res);
	return r;
}

static void
audit_deny(
    struct agent *ag, const struct peer *p, const char *name, const char *why)
{
	struct json_object *ev = event_new("deny");

	event_str(ev, "name", name);
	event_str(ev, "why", why);
	event_peer(ev, p);
	event_emit(ag, ev);
}

/* Reply why c cannot be used now, if it cannot; JIT_OK if it can. */
static int
check_usable(struct agent *ag, struct request *rq, struct cred *c)
{
	int r;

	if ((r = vault_check(ag->vault, c)) == 0)
		return JIT_OK;
	if (r == JIT_E_EXPIRED) {
		ext_reply_expired(rq->conn, c);
		audit_deny(ag, rq->peer, c->name, "expired");
	} else {
		reply_ext_err(rq->conn, r, -1,
		    "%s is locked: run 'jitctl unlock %s' first", c->name,
		    c->name);
		audit_deny(ag, rq->peer, c->name, "locked");
	}
	return r;
}

struct confirm_ctx {
	struct agent *ag;
	struct conn *conn;
	struct askpass *ask;
	char *name, *field, *purpose, *command;
	struct peer peer;
};

static void
confirm_ctx_free(struct confirm_ctx *x)
{
	free(x->name);
	free(x->field);
	free(x->purpose);
	free(x->command);
	free(x);
}

/* The client left while the prompt was open: no answer is wanted. */
static void
confirm_cancel(void *arg)
{
	struct confirm_ctx *x = arg;

	askpass_cancel(x->ask);
	confirm_ctx_free(x);
}

static void
confirm_done(void *arg, bool ok, struct secret *answer)
{
	struct confirm_ctx *x = arg;
	struct agent *ag = x->ag;
	struct conn *conn = x->conn;
	struct cred *c;

	secret_free(answer);
	conn_set_cancel(conn, NULL, NULL);
	if (!ok) {
		audit_deny(ag, &x->peer, x->name, "not confirmed");
		reply_ext_err(conn, JIT_E_DENIED, -1,
		    "the use of %s was not confirmed", x->name);
	} else if ((c = store_cred(ag->store, x->name)) == NULL ||
	    vault_check(ag->vault, c) != 0)
		reply_ext_err(conn, JIT_E_LOCKED, -1,
		    "%s was locked meanwhile: run 'jitctl unlock %s'", x->name,
		    x->name);
	else if (ext_serve(ag, conn, &x->peer, c, c->slot->fields, x->field,
		     x->purpose, x->command, c->slot->token_label) != 0)
		reply_ext_err(conn, JIT_E_INTERNAL, -1, NULL);
	confirm_ctx_free(x);
	conn_done(conn);
}

/* Step-up confirm: the person approves this use, naming who asks. */
static int
confirm_then_serve(struct agent *ag, struct request *rq, struct cred *c,
    const char *field, const char *purpose, const char *command)
{
	struct confirm_ctx *x;
	char prompt[ASKPASS_PROMPT_MAX], what[256];
	int r;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return JIT_E_NOMEM;
	x->ag = ag;
	x->conn = rq->conn;
	x->peer = *rq->peer;
	if ((x->name = strdup(c->name)) == NULL ||
	    (field != NULL && (x->field = strdup(field)) == NULL) ||
	    (x->purpose = strdup(purpose)) == NULL ||
	    (command != NULL && (x->command = strdup(command)) == NULL)) {
		confirm_ctx_free(x);
		return JIT_E_NOMEM;
	}
	snprintf(what, sizeof(what), "credential %s", c->name);
	prompt_confirm(rq->peer, what,
	    c->slot != NULL ? c->slot->token_label : NULL,
	    c->slot != NULL ? c->slot->until_wall - (int64_t)time(NULL) : -1,
	    prompt, sizeof(prompt));
	if ((r = askpass_start(ag->loop, ASKPASS_CONFIRM, prompt, confirm_done,
		 x, &x->ask)) != 0) {
		audit_deny(ag, rq->peer, c->name, jit_errname(r));
		reply_ext_err(rq->conn, r, -1,
		    r == JIT_E_UNSUPPORTED ?
			"%s needs a confirmation, and there is no askpass program: set SSH_ASKPASS for the agent" :
			"%s needs a confirmation, but none can be asked now",
		    c->name);
		confirm_ctx_free(x);
		return JIT_OK;
	}
	conn_set_cancel(rq->conn, confirm_cancel, x);
	return AGENT_DEFERRED;
}

struct on_use_ctx {
	char *name, *field, *purpose, *command;
	char token[HW_LABEL_MAX + 1];
	/* A PIN token: asked through askpass once, then opened with it. */
	struct agent *ag;
	struct conn *conn;
	struct peer peer;
	struct askpass *ask;
	bool pin_asked;
	char pin_token[HW_LABEL_MAX + 1];
};

static void
on_use_free(void *arg)
{
	struct on_use_ctx *x = arg;

	askpass_cancel(x->ask);
	free(x->name);
	free(x->field);
	free(x->purpose);
	free(x->command);
	free(x);
}

static int on_use_opened(struct agent *ag, struct conn *conn,
    const struct peer *p, struct cred *c, const struct secret *fields, int err,
    void *arg);

/* The client left while the PIN prompt was open. */
static void
on_use_cancel(void *arg)
{
	on_use_free(arg);
}

/* The PIN (or none): open with it off the loop, or refuse naming the
 * command that unlocks. */
static void
on_use_pin_answered(void *arg, bool ok, struct secret *pin)
{
	struct on_use_ctx *x = arg;
	struct agent *ag = x->ag;
	struct conn *conn = x->conn;
	struct open_args oa;
	struct request rq;
	struct cred *c;
	int r;

	x->ask = NULL;
	conn_set_cancel(conn, NULL, NULL);
	if (!ok || pin == NULL ||
	    (c = store_cred(ag->store, x->name)) == NULL) {
		secret_free(pin);
		audit_deny(ag, &x->peer, x->name, "no PIN");
		reply_ext_err(conn, JIT_E_LOCKED, -1,
		    "%s is locked, and no PIN was given for token %s: run 'jitctl unlock %s'",
		    x->name, x->pin_token, x->name);
		on_use_free(x);
		conn_done(conn);
		return;
	}
	memset(&rq, 0, sizeof(rq));
	rq.conn = conn;
	rq.peer = &x->peer;
	memset(&oa, 0, sizeof(oa));
	oa.creds = &c;
	oa.n = 1;
	oa.token_label = x->pin_token;
	oa.pin = pin;
	oa.for_get = true;
	oa.then = on_use_opened;
	oa.then_arg = x;
	oa.then_free = on_use_free;
	oa.token_out = x->token;
	if ((r = ext_open_submit(ag, &rq, &oa)) == AGENT_DEFERRED)
		return;
	if (r != 0)
		reply_ext_err(conn, r, -1, NULL);
	conn_done(conn);
}

/* The token wants a PIN: ask it through askpass, naming the client, the
 * credential and the token.  AGENT_DEFERRED, or an error (x kept). */
static int
on_use_ask_pin(struct agent *ag, struct conn *conn, const struct peer *p,
    struct cred *c, struct on_use_ctx *x)
{
	char prompt[ASKPASS_PROMPT_MAX], what[CRED_NAME_MAX + 64];
	const char *label;
	int r;

	if ((label = onuse_pin_token(ag, c)) == NULL)
		return JIT_E_NOTOKEN;
	x->pin_asked = true;
	x->ag = ag;
	x->conn = conn;
	x->peer = *p;
	snprintf(x->pin_token, sizeof(x->pin_token), "%s", label);
	snprintf(what, sizeof(what), "credential %s", c->name);
	onuse_pin_prompt(p, what, label, prompt, sizeof(prompt));
	if ((r = askpass_start(ag->loop, ASKPASS_SECRET, prompt,
		 on_use_pin_answered, x, &x->ask)) != 0)
		return r;
	conn_set_cancel(conn, on_use_cancel, x);
	log_info(
	    "%s is locked and marked unlock-on-use: asking the PIN of token %s",
	    c->name, label);
	return AGENT_DEFERRED;
}

/* The token answered (or did not): unlock for the default window, audited
 * as an unlock the client's use started, then serve this use.  A token
 * that wants a PIN gets it asked through askpass first. */
static int
on_use_opened(struct agent *ag, struct conn *conn, const struct peer *p,
    struct cred *c, const struct secret *fields, int err, void *arg)
{
	struct on_use_ctx *x = arg;
	struct cred *now;
	char why[256];
	int r;

	if (err == JIT_E_PIN_REQUIRED && !x->pin_asked &&
	    (now = store_cred(ag->store, x->name)) != NULL &&
	    on_use_ask_pin(ag, conn, p, now, x) == AGENT_DEFERRED)
		return AGENT_DEFERRED;
	if (err != 0 || c == NULL) {
		audit_deny(ag, p, x->name, "locked");
		reply_ext_err(conn, JIT_E_LOCKED, -1,
		    "%s is locked, and no token that opens it answered (%s): run 'jitctl unlock %s'",
		    x->name, jit_strerror(err), x->name);
		on_use_free(x);
		return JIT_OK;
	}
	if ((r = onuse_keep(ag, p, c, fields, x->token, why, sizeof(why))) !=
	    0) {
		reply_ext_err(conn, r, -1, "%s", why);
		on_use_free(x);
		return JIT_OK;
	}
	if (ext_serve(ag, conn, p, c, fields, x->field, x->purpose, x->command,
		x->token) != 0)
		reply_ext_err(conn, JIT_E_INTERNAL, -1, NULL);
	on_use_free(x);
	return JIT_OK;
}

static int
unlock_on_use(struct agent *ag, struct request *rq, struct cred *c,
    const char *field, const char *purpose, const char *command)
{
	struct open_args oa;
	struct on_use_ctx *x;

	if ((x = calloc(1, sizeof(*x))) == NULL ||
	    (x->name = strdup(c->name)) == NULL ||
	    (field != NULL && (x->field = strdup(field)) == NULL) ||
	    (x->purpose = strdup(purpose)) == NULL ||
	    (command != NULL && (x->command = strdup(command)) == NULL)) {
		if (x != NULL)
			on_use_free(x);
		return JIT_E_NOMEM;
	}
	log_info(
	    "%s is locked and marked unlock-on-use: asking a token", c->name);
	memset(&oa, 0, sizeof(oa));
	oa.creds = &c;
	oa.n = 1;
	oa.for_get = true;
	oa.then = on_use_opened;
	oa.then_arg = x;
	oa.then_free = on_use_free;
	oa.token_out = x->token;
	return ext_open_submit(ag, rq, &oa);
}

int
ext_get(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	struct open_args oa;
	struct cred *c;
	const char *name, *field = NULL, *purpose = "get", *command = NULL;
	int r;

	if ((r = ext_str_arg(args, JP_ARG_GET_NAME, CRED_NAME_MAX, &name)) != 0)
		return r;
	if (((r = jsonx_opt_str(
		  args, JP_ARG_GET_FIELD, FIELD_NAME_MAX, &field)) != 0 &&
		r != JIT_E_NOENT) ||
	    ((r = jsonx_opt_str(args, JP_ARG_GET_PURPOSE, 16, &purpose)) != 0 &&
		r != JIT_E_NOENT) ||
	    ((r = jsonx_opt_str(args, JP_ARG_GET_COMMAND, 256, &command)) !=
		    0 &&
		r != JIT_E_NOENT))
		return JIT_E_FORMAT;
	if (strcmp(purpose, "get") != 0 && strcmp(purpose, "exec") != 0)
		return JIT_E_FORMAT;
	if ((c = store_cred(ag->store, name)) == NULL) {
		reply_ext_err(rq->conn, JIT_E_NOENT, -1,
		    "no credential named %s: see 'jitctl status'", name);
		audit_deny(ag, rq->peer, name, "no such credential");
		return JIT_OK;
	}
	if (ext_check_exe(ag, rq->conn, rq->peer, c) != 0)
		return JIT_OK;
	/* Marked so: a use while locked starts the unlock (off the loop, the
	 * notify command saying what waits for a touch). */
	if (c->unlock_on_use && c->stepup != STEPUP_CONFIRM &&
	    vault_check(ag->vault, c) == JIT_E_LOCKED)
		return unlock_on_use(ag, rq, c, field, purpose, command);
	if (check_usable(ag, rq, c) != 0)
		return JIT_OK;
	if (c->stepup == STEPUP_SESSION)
		return ext_serve(ag, rq->conn, rq->peer, c, c->slot->fields,
		    field, purpose, command, c->slot->token_label);
	if (c->stepup == STEPUP_CONFIRM)
		return confirm_then_serve(ag, rq, c, field, purpose, command);
	/* always / pin: a fresh unwrap with the token for this one use. */
	memset(&oa, 0, sizeof(oa));
	oa.creds = &c;
	oa.n = 1;
	oa.token_label = c->slot->token_label;
	oa.pin = *payload;
	*payload = NULL;
	oa.for_get = true;
	oa.field = field;
	oa.purpose = purpose;
	oa.command = command;
	return ext_open_submit(ag, rq, &oa);
}

static int
names_arg(struct json_object *args, struct json_object **ret)
{
	struct json_object *arr;

	if (!json_object_object_get_ex(args, JP_ARG_LOCK_NAMES, &arr)) {
		*ret = NULL;
		return JIT_OK;
	}
	if (!json_object_is_type(arr, json_type_array) ||
	    json_object_array_length(arr) > STORE_CREDS_MAX)
		return JIT_E_FORMAT;
	*ret = arr;
	return JIT_OK;
}

int
ext_lock(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	struct json_object *arr, *res, *done, *ev, *revoked;
	struct cred *c;
	const char *name;
	size_t i, n;
	int r;

	(void)payload;
	if ((r = names_arg(args, &arr)) != 0)
		return r;
	if ((done = json_object_new_array()) == NULL)
		return JIT_E_NOMEM;
	n = arr != NULL ? json_object_array_length(arr) : 0;
	if ((revoked = json_object_new_array()) == NULL) {
		json_object_put(done);
		return JIT_E_NOMEM;
	}
	/* Everything: the one lock path (lock.c), audited there. */
	if (n == 0) {
		(void)agent_lock(
		    ag, "jitctl lock", "lock", rq->peer, done, revoked);
		goto reply;
	}
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(e, json_type_string)) {
			json_object_put(done);
			json_object_put(revoked);
			return JIT_E_FORMAT;
		}
		name = json_object_get_string(e);
		if ((c = store_cred(ag->store, name)) == NULL) {
			reply_ext_err(rq->conn, JIT_E_NOENT, -1,
			    "no credential named %s", name);
			json_object_put(done);
			json_object_put(revoked);
			return JIT_OK;
		}
		if (revoke_on_lock(ag, c, "lock", rq->peer)) {
			json_object_array_add(
			    revoked, json_object_new_string(name));
			continue;
		}
		if (c->slot != NULL) {
			vault_wipe(ag->vault, c);
			json_object_array_add(
			    done, json_object_new_string(c->name));
		}
	}
	if ((ev = event_new("lock")) != NULL) {
		json_object_object_add(ev, "names", json_object_get(done));
		event_peer(ev, rq->peer);
	}
	(void)event_emit_names(ag, ev, "names");
reply:
	res = json_object_new_object();
	json_object_object_add(res, JP_RES_LOCK_LOCKED, done);
	json_object_object_add(res, JP_RES_LOCK_REVOKED, revoked);
	r = reply_ext_ok(rq->conn, res, NULL);
	json_object_put(res);
	return r;
}

int
ext_revoke(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	struct json_object *res, *ev;
	struct revocation *up;
	struct cred *c;
	const char *name;
	char *keep = NULL;
	int r;

	(void)payload;
	if ((r = ext_str_arg(args, JP_ARG_REVOKE_NAME, CRED_NAME_MAX, &name)) !=
	    0)
		return r;
	if ((c = store_cred(ag->store, name)) == NULL) {
		reply_ext_err(
		    rq->conn, JIT_E_NOENT, -1, "no credential named %s", name);
		return JIT_OK;
	}
	if ((keep = strdup(c->name)) == NULL)
		return JIT_E_NOMEM;
	/* Audited before anything goes: nothing is revoked unaudited. */
	if ((ev = event_new("revoke")) != NULL) {
		event_str(ev, "name", keep);
		event_peer(ev, rq->peer);
	}
	if ((r = event_emit(ag, ev)) != 0) {
		reply_audit_refused(ag, rq->conn, r);
		free(keep);
		return JIT_OK;
	}
	/* A requested one dies upstream too: keep what its revoke needs. */
	up = revoke_prepare(ag, c, "revoke");
	vault_wipe(ag->vault, c);
	if ((r = store_delete_cred(ag->store, keep)) != 0) {
		reply_ext_err(rq->conn, r, -1, "cannot delete %s: %s", keep,
		    jit_strerror(r));
		audit_deny(ag, rq->peer, keep, "not deleted");
		free(keep);
		return JIT_OK;
	}
	if (up != NULL) {
		free(keep);
		return revoke_start(ag, up, rq);
	}
	res = json_object_new_object();
	(void)jsonx_add_str(res, JP_RES_REVOKE_NAME, keep);
	r = reply_ext_ok(rq->conn, res, NULL);
	json_object_put(res);
	free(keep);
	return r;
}
