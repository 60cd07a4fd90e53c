/* SSH certificates served from the vault: ssh-cert credentials, listed and signing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "askpass.h"
#include "err.h"
#include "events.h"
#include "ext.h"
#include "fields.h"
#include "jsonx.h"
#include "log.h"
#include "secret.h"
#include "prompt-text.h"
#include "shell.h"
#include "ssh-agent.h"
#include "store.h"
#include "vault.h"

#define SEED_LEN 32

/*
 * The public half of an unlocked ssh-cert credential: its certificate,
 * kept so that credentials with step-up always (no plaintext between
 * uses) are listed too, and so that a listing parses nothing.  Keyed by
 * name and creation time: the sealed content of one never changes.
 */
struct ssh_cred_pub {
	struct ssh_cred_pub *next;
	char *name;
	int64_t created;
	struct ssh_key *cert;
	char fp[SSH_FP_LEN];
};

/* A signature that waits for the token (step-up always/pin). */
struct cred_sign {
	struct ssh_agent *sa;
	struct ssh_conn *sc;
	char *name;
	int64_t created;
	uint8_t *data;
	size_t datalen;
	uint32_t flags;
	bool pin_asked;
};

static bool
is_ssh_cred(const struct cred *c)
{
	return strcmp(c->kind, SSH_CRED_KIND) == 0;
}

/* The ed25519 key of a credential's fields, from its base64 seed. */
static int
fields_key(const struct secret *fields, struct ssh_key **ret)
{
	struct secret *seed = NULL;
	struct field f;
	size_t n = 0;
	int r;

	if ((r = fields_get(fields, SSH_CRED_FIELD_KEY, &f)) != 0)
		return r;
	if ((r = secret_new(SEED_LEN, &seed)) != 0)
		return r;
	if (sodium_base642bin(secret_ptr(seed), SEED_LEN, (const char *)f.val,
		f.vallen, " \n\r", &n, NULL,
		sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    n != SEED_LEN)
		r = JIT_E_FORMAT;
	else
		r = ssh_key_ed25519_from_seed(seed, ret);
	secret_free(seed);
	return r;
}

/* The certificate of a credential's fields, checked against its key. */
static int
fields_cert(
    const struct secret *fields, struct ssh_key **ret, char *why, size_t whylen)
{
	struct ssh_key *key = NULL, *cert = NULL;
	const struct ssh_cert *c;
	struct field f;
	uint8_t *blob = NULL;
	size_t len;
	int r;

	if ((r = fields_get(fields, SSH_CRED_FIELD_CERT, &f)) != 0) {
		snprintf(why, whylen, "it has no field \"cert\"");
		return r;
	}
	if ((r = ssh_key_line_blob(
		 (const char *)f.val, f.vallen, &blob, &len)) != 0 ||
	    (r = ssh_key_from_blob(blob, len, &cert)) != 0) {
		snprintf(why, whylen,
		    "\"cert\" is not an OpenSSH certificate line: %s",
		    r == JIT_E_AUTH ? "its CA signature does not verify" :
				      jit_strerror(r));
		goto out;
	}
	r = JIT_E_FORMAT;
	if ((c = ssh_key_cert(cert)) == NULL ||
	    ssh_key_type(cert) != SSH_KEY_ED25519 || c->type != SSH_CERT_USER) {
		snprintf(why, whylen,
		    "\"cert\" must be an ed25519 user certificate");
		goto out;
	}
	if ((r = fields_key(fields, &key)) != 0) {
		snprintf(why, whylen,
		    "\"key\" must be the base64 of a 32-byte ed25519 seed");
		goto out;
	}
	if (!ssh_key_equal_plain(key, cert)) {
		snprintf(why, whylen, "the certificate is not for that key");
		r = JIT_E_AUTH;
		goto out;
	}
	*ret = cert;
	cert = NULL;
	r = JIT_OK;
out:
	ssh_key_free(key);
	ssh_key_free(cert);
	free(blob);
	return r;
}

int
ssh_cred_check_fields(const struct secret *fields, char *why, size_t whylen)
{
	struct ssh_key *cert = NULL;
	int r;

	if ((r = fields_cert(fields, &cert, why, whylen)) == 0)
		ssh_key_free(cert);
	return r;
}

static void
pub_free(struct ssh_cred_pub *p)
{
	if (p == NULL)
		return;
	free(p->name);
	ssh_key_free(p->cert);
	free(p);
}

static void
pub_drop(struct ssh_agent *sa, struct ssh_cred_pub *p)
{
	struct ssh_cred_pub **pp;

	for (pp = &sa->creds; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	pub_free(p);
}

static struct ssh_cred_pub *
pub_of(struct ssh_agent *sa, const struct cred *c)
{
	struct ssh_cred_pub *p;

	for (p = sa->creds; p != NULL; p = p->next)
		if (p->created == c->created && strcmp(p->name, c->name) == 0)
			return p;
	return NULL;
}

static struct ssh_cred_pub *
pub_by_blob(struct ssh_agent *sa, const uint8_t *blob, size_t len)
{
	struct ssh_cred_pub *p;
	const uint8_t *b;
	size_t n;

	for (p = sa->creds; p != NULL; p = p->next) {
		b = ssh_key_blob(p->cert, &n);
		if (n == len && memcmp(b, blob, len) == 0)
			return p;
	}
	return NULL;
}

static struct ssh_cred_pub *
pub_add(struct ssh_agent *sa, const struct cred *c, const struct secret *fields)
{
	struct ssh_cred_pub *p;
	char why[160];

	if ((p = pub_of(sa, c)) != NULL)
		return p;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->name = strdup(c->name)) == NULL) {
		pub_free(p);
		return NULL;
	}
	if (fields_cert(fields, &p->cert, why, sizeof(why)) != 0) {
		log_warn("%s: its SSH certificate cannot be served: %s",
		    c->name, why);
		pub_free(p);
		return NULL;
	}
	p->created = c->created;
	ssh_key_fingerprint(p->cert, p->fp);
	p->next = sa->creds;
	sa->creds = p;
	return p;
}

void
ssh_cred_free_all(struct ssh_agent *sa)
{
	while (sa->creds != NULL)
		pub_drop(sa, sa->creds);
}

void
ssh_cred_unlocked(struct agent *ag, struct cred *c, const struct secret *fields)
{
	struct ssh_agent *sa;

	if (!is_ssh_cred(c) || fields == NULL ||
	    (sa = ssh_agent_of(ag)) == NULL)
		return;
	/* The shared timer ends certificates (ssh-state.c). */
	sa->tick_creds = ssh_cred_tick;
	if (pub_add(sa, c, fields) != NULL)
		ssh_rearm_soon(sa);
}

/* The certificate's end came before the credential's: wipe it now. */
static void
cert_expired(struct ssh_agent *sa, struct cred *c, struct ssh_cred_pub *p)
{
	struct json_object *ev;

	vault_wipe(sa->ag->vault, c);
	if ((ev = event_new("expire")) != NULL) {
		event_str(ev, "name", c->name);
		event_str(ev, "why", "certificate valid-before reached");
		event_str(ev, "ssh_key", p->fp);
	}
	event_emit(sa->ag, ev);
	pub_drop(sa, p);
}

void
ssh_cred_tick(struct ssh_agent *sa, int64_t *next_wall)
{
	struct ssh_cred_pub *p, *next;
	struct cred *c;
	uint64_t now = (uint64_t)time(NULL), vb;

	*next_wall = 0;
	for (p = sa->creds; p != NULL; p = next) {
		next = p->next;
		c = store_cred(sa->ag->store, p->name);
		if (c == NULL || c->created != p->created || c->slot == NULL) {
			pub_drop(sa, p);
			continue;
		}
		vb = ssh_key_cert(p->cert)->valid_before;
		if (now >= vb) {
			cert_expired(sa, c, p);
			continue;
		}
		if (vb < (uint64_t)INT64_MAX &&
		    (*next_wall == 0 || (int64_t)vb < *next_wall))
			*next_wall = (int64_t)vb;
	}
}

/* The credential's certificate if it may be served now (else NULL, and a
 * certificate past its end is wiped). */
static struct ssh_cred_pub *
servable(struct ssh_agent *sa, struct cred *c)
{
	struct ssh_cred_pub *p;
	const struct ssh_cert *cert;
	uint64_t now = (uint64_t)time(NULL);

	if (vault_check(sa->ag->vault, c) != 0)
		return NULL;
	if ((p = pub_of(sa, c)) == NULL &&
	    (c->slot->fields == NULL ||
		(p = pub_add(sa, c, c->slot->fields)) == NULL))
		return NULL;
	cert = ssh_key_cert(p->cert);
	if (now >= cert->valid_before) {
		cert_expired(sa, c, p);
		return NULL;
	}
	return now >= cert->valid_after ? p : NULL;
}

int
ssh_cred_list(struct ssh_agent *sa, struct wire_writer *w, uint32_t *count)
{
	struct vault_slot *s, *next;
	struct ssh_cred_pub *p;
	const uint8_t *blob;
	size_t n;
	bool any = false;
	int r;

	for (s = vault_first(sa->ag->vault); s != NULL; s = next) {
		next = s->next;
		if (!is_ssh_cred(s->cred) ||
		    (p = servable(sa, s->cred)) == NULL)
			continue;
		blob = ssh_key_blob(p->cert, &n);
		if ((r = wire_put_string(w, blob, n)) != 0 ||
		    (r = wire_put_cstring(w, s->cred->name)) != 0)
			return r;
		(*count)++;
		any = true;
	}
	if (any)
		ssh_rearm(sa);
	return JIT_OK;
}

bool
ssh_cred_owns(struct ssh_agent *sa, const uint8_t *blob, size_t len)
{
	return pub_by_blob(sa, blob, len) != NULL;
}

/* The use's line; JIT_OK, or why it is not in the log. */
static int
audit_use(struct ssh_agent *sa, const struct peer *peer,
    const struct ssh_conn *sc, struct cred *c, const struct ssh_cred_pub *p)
{
	struct json_object *ev;
	char host[SSH_FP_LEN];
	size_t i;
	bool fwd = false;

	ssh_conn_host_fp(sc, host);
	for (i = 0; sc != NULL && i < sc->binds.n; i++)
		fwd = fwd || sc->binds.v[i].forwarded;
	if ((ev = event_new("use")) != NULL) {
		event_str(ev, "name", c->name);
		event_str(ev, "purpose", "ssh-sign");
		event_str(ev, "ssh_key", p->fp);
		event_str(ev, "host_key", host[0] != '\0' ? host : NULL);
		if (fwd)
			(void)jsonx_add_bool(ev, "forwarded", true);
		event_peer(ev, peer);
	}
	return event_emit(sa->ag, ev);
}

/* Sign with the key in fields and reply; JIT_OK once replied. */
static void
sign_with(struct ssh_agent *sa, struct conn *conn, const struct peer *peer,
    const struct ssh_conn *sc, struct cred *c, const struct ssh_cred_pub *p,
    const struct secret *fields, const uint8_t *data, size_t len,
    uint32_t flags)
{
	struct ssh_key *k = NULL;
	char why[256];
	int r;

	if (!shell_peer_allowed(c, peer, why, sizeof(why))) {
		ssh_fail(conn, "%s", why);
		goto out;
	}
	if ((r = fields_key(fields, &k)) != 0 ||
	    (!ssh_key_equal_plain(k, p->cert) && (r = JIT_E_AUTH) != 0)) {
		ssh_fail(conn, "%s: cannot sign: %s", c->name, jit_strerror(r));
		goto out;
	}
	/* Audited before it signs: nothing is served unaudited. */
	if ((r = audit_use(sa, peer, sc, c, p)) != 0) {
		event_refusal(sa->ag, r, why, sizeof(why));
		ssh_fail(conn, "%s: %s", c->name, why);
		goto out;
	}
	if ((r = ssh_reply_sig(conn, k, data, len, flags)) != 0) {
		ssh_fail(conn, "%s: cannot sign: %s", c->name, jit_strerror(r));
		goto out;
	}
	vault_note_use(c, peer);
out:
	ssh_key_free(k);
}

static void
cred_sign_free(void *arg)
{
	struct cred_sign *cs = arg;

	if (cs == NULL)
		return;
	free(cs->name);
	free(cs->data);
	free(cs);
}

static int submit(struct ssh_agent *sa, struct conn *conn, struct cred_sign *cs,
    struct secret *pin);

static void
pin_answered(void *arg, bool ok, struct secret *pin)
{
	struct cred_sign *cs = arg;
	struct ssh_conn *sc = cs->sc;
	struct conn *conn = sc->conn;
	int r;

	sc->ask = NULL;
	sc->ask_arg = NULL;
	sc->ask_free = NULL;
	if (!ok || pin == NULL) {
		secret_free(pin);
		ssh_fail(conn, "%s: no PIN was given for the token", cs->name);
		cred_sign_free(cs);
		conn_done(conn);
		return;
	}
	if ((r = submit(cs->sa, conn, cs, pin)) == AGENT_DEFERRED)
		return;
	if (r < 0)
		ssh_fail(conn, "cannot ask the token: %s", jit_strerror(r));
	conn_done(conn);
}

/* The token wants a PIN: ask the person for it, as ssh-agent does for a
 * FIDO key with a PIN.  AGENT_DEFERRED, or an error (nothing sent). */
static int
ask_pin(struct cred_sign *cs, struct cred *c)
{
	struct ssh_conn *sc = cs->sc;
	char prompt[ASKPASS_PROMPT_MAX];
	int r;

	cs->pin_asked = true;
	snprintf(prompt, sizeof(prompt),
	    "Enter the PIN of token %s to sign with the SSH certificate %s: ",
	    c->slot != NULL ? c->slot->token_label : "?", c->name);
	if ((r = askpass_start(cs->sa->ag->loop, ASKPASS_SECRET, prompt,
		 pin_answered, cs, &sc->ask)) != 0)
		return r;
	sc->ask_arg = cs;
	sc->ask_free = cred_sign_free;
	return AGENT_DEFERRED;
}

/* The token answered (ext-open.c): sign, or ask for a PIN and retry. */
static int
cred_sign_then(struct agent *ag, struct conn *conn, const struct peer *peer,
    struct cred *c, const struct secret *fields, int err, void *arg)
{
	struct cred_sign *cs = arg;
	struct ssh_cred_pub *p;
	struct cred *now;

	if (err == JIT_E_PIN_REQUIRED && !cs->pin_asked &&
	    (now = store_cred(ag->store, cs->name)) != NULL &&
	    ask_pin(cs, now) == AGENT_DEFERRED)
		return AGENT_DEFERRED;
	if (err != 0)
		ssh_fail(conn, "%s: the token did not open it: %s", cs->name,
		    jit_strerror(err));
	else if (ag->locked || (p = servable(cs->sa, c)) == NULL)
		ssh_fail(conn, "%s was locked or expired meanwhile", cs->name);
	else
		sign_with(cs->sa, conn, peer, cs->sc, c, p, fields, cs->data,
		    cs->datalen, cs->flags);
	cred_sign_free(cs);
	return JIT_OK;
}

/* One fresh unwrap for this signature (ext_open_submit's get mode). */
static int
submit(struct ssh_agent *sa, struct conn *conn, struct cred_sign *cs,
    struct secret *pin)
{
	struct open_args oa;
	struct request rq;
	struct cred *c;

	if ((c = store_cred(sa->ag->store, cs->name)) == NULL ||
	    c->created != cs->created || vault_check(sa->ag->vault, c) != 0) {
		secret_free(pin);
		cred_sign_free(cs);
		return JIT_E_LOCKED;
	}
	memset(&rq, 0, sizeof(rq));
	rq.conn = conn;
	rq.peer = conn_peer(conn);
	memset(&oa, 0, sizeof(oa));
	oa.creds = &c;
	oa.n = 1;
	oa.token_label = c->slot->token_label;
	oa.pin = pin;
	oa.for_get = true;
	oa.purpose = "ssh-sign";
	oa.then = cred_sign_then;
	oa.then_arg = cs;
	oa.then_free = cred_sign_free;
	return ext_open_submit(sa->ag, &rq, &oa);
}

static void
audit_deny(struct ssh_agent *sa, const struct peer *peer, const char *name,
    const char *why)
{
	struct json_object *ev = event_new("deny");

	event_str(ev, "name", name);
	event_str(ev, "purpose", "ssh-sign");
	event_str(ev, "why", why);
	event_peer(ev, peer);
	event_emit(sa->ag, ev);
}

/* askpass.c answered a step-up confirm: sign from the vault, or not. */
static void
confirm_done(void *arg, bool ok, struct secret *answer)
{
	struct cred_sign *cs = arg;
	struct ssh_conn *sc = cs->sc;
	struct conn *conn = sc->conn;
	struct agent *ag = cs->sa->ag;
	struct ssh_cred_pub *p;
	struct cred *c;

	secret_free(answer);
	sc->ask = NULL;
	sc->ask_arg = NULL;
	sc->ask_free = NULL;
	c = store_cred(ag->store, cs->name);
	if (!ok) {
		audit_deny(
		    cs->sa, conn_peer(conn), cs->name, "use not confirmed");
		ssh_fail(conn, "%s: the use was not confirmed", cs->name);
	} else if (ag->locked || c == NULL || c->created != cs->created ||
	    (p = servable(cs->sa, c)) == NULL || c->slot->fields == NULL)
		ssh_fail(conn, "%s was locked or expired meanwhile", cs->name);
	else
		sign_with(cs->sa, conn, conn_peer(conn), sc, c, p,
		    c->slot->fields, cs->data, cs->datalen, cs->flags);
	cred_sign_free(cs);
	conn_done(conn);
}

/* Step-up confirm: the askpass question every credential use asks. */
static int
ask_confirm(struct ssh_agent *sa, struct request *rq, struct cred_sign *cs,
    const struct cred *c, const struct ssh_cred_pub *p)
{
	char what[CRED_NAME_MAX + SSH_FP_LEN + 64], prompt[ASKPASS_PROMPT_MAX];
	struct ssh_conn *sc = cs->sc;
	int r;

	snprintf(
	    what, sizeof(what), "the SSH certificate %s (%s)", c->name, p->fp);
	prompt_confirm(rq->peer, what,
	    c->slot != NULL ? c->slot->token_label : NULL,
	    c->slot != NULL ? c->slot->until_wall - (int64_t)time(NULL) : -1,
	    prompt, sizeof(prompt));
	if ((r = askpass_start(sa->ag->loop, ASKPASS_CONFIRM, prompt,
		 confirm_done, cs, &sc->ask)) != 0) {
		cred_sign_free(cs);
		ssh_fail(rq->conn, "%s needs a confirmation, but %s", c->name,
		    r == JIT_E_UNSUPPORTED ?
			"there is no SSH_ASKPASS to ask with" :
			jit_strerror(r));
		return JIT_OK;
	}
	sc->ask_arg = cs;
	sc->ask_free = cred_sign_free;
	return AGENT_DEFERRED;
}

/* Certificates of unlocked credentials nobody listed yet. */
static void
pub_refresh(struct ssh_agent *sa)
{
	struct vault_slot *s;

	for (s = vault_first(sa->ag->vault); s != NULL; s = s->next)
		if (is_ssh_cred(s->cred) && s->fields != NULL &&
		    pub_of(sa, s->cred) == NULL)
			(void)pub_add(sa, s->cred, s->fields);
}

int
ssh_cred_sign(struct ssh_agent *sa, struct request *rq, struct ssh_conn *sc,
    const struct ssh_sign_msg *m)
{
	struct ssh_cred_pub *p;
	struct cred_sign *cs;
	struct cred *c;
	int r;

	if ((p = pub_by_blob(sa, m->blob, m->bloblen)) == NULL) {
		pub_refresh(sa);
		if ((p = pub_by_blob(sa, m->blob, m->bloblen)) == NULL)
			return JIT_E_NOENT;
	}
	if ((c = store_cred(sa->ag->store, p->name)) == NULL ||
	    c->created != p->created) {
		pub_drop(sa, p);
		ssh_fail(rq->conn, "that certificate's credential is gone");
		return JIT_OK;
	}
	if ((p = servable(sa, c)) == NULL) {
		audit_deny(sa, rq->peer, c->name,
		    time(NULL) >= c->not_after ?
			"expired" :
			"locked or past the certificate's validity");
		ssh_fail(rq->conn,
		    "%s is locked or expired: run 'jitctl unlock %s'", c->name,
		    c->name);
		return JIT_OK;
	}
	if (c->stepup == STEPUP_SESSION) {
		sign_with(sa, rq->conn, rq->peer, sc, c, p, c->slot->fields,
		    m->data, m->datalen, m->flags);
		return JIT_OK;
	}
	/* confirm, always, pin: the signature waits for the person or the
	 * token, with a copy of what it signs. */
	if ((sc = ssh_conn_of(sa, rq->conn)) == NULL ||
	    (cs = calloc(1, sizeof(*cs))) == NULL) {
		ssh_fail(rq->conn, "out of memory");
		return JIT_OK;
	}
	cs->sa = sa;
	cs->sc = sc;
	cs->created = c->created;
	cs->flags = m->flags;
	cs->datalen = m->datalen;
	if ((cs->name = strdup(c->name)) == NULL ||
	    (cs->data = malloc(m->datalen > 0 ? m->datalen : 1)) == NULL) {
		cred_sign_free(cs);
		ssh_fail(rq->conn, "out of memory");
		return JIT_OK;
	}
	if (m->datalen > 0)
		memcpy(cs->data, m->data, m->datalen);
	if (c->stepup == STEPUP_CONFIRM)
		return ask_confirm(sa, rq, cs, c, p);
	/* Step-up pin: the PIN first, then the token. */
	if (c->stepup == STEPUP_PIN) {
		if ((r = ask_pin(cs, c)) == AGENT_DEFERRED)
			return r;
		cred_sign_free(cs);
		ssh_fail(rq->conn, "%s needs the token's PIN, but %s", c->name,
		    r == JIT_E_UNSUPPORTED ?
			"there is no SSH_ASKPASS to ask with" :
			jit_strerror(r));
		return JIT_OK;
	}
	if ((r = submit(sa, rq->conn, cs, NULL)) < 0)
		ssh_fail(rq->conn, "%s: cannot ask the token: %s", c->name,
		    jit_strerror(r));
	return r < 0 ? JIT_OK : r;
}
