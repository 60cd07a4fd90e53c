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
#include "onuse.h"
#include "secret.h"
#include "prompt-text.h"
#include "shell.h"
#include "ssh-agent.h"
#include "store.h"
#include "vault.h"

#define SEED_LEN 32
#define ONUSE_SIGS_MAX 32 /* signatures waiting for one unlock on use */

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
	bool from_header; /* read from a locked credential's header */
};

/* A signature waiting for its credential's unlock on use. */
struct onuse_sig {
	struct onuse_sig *next;
	struct ssh_onuse *u;
	struct conn *conn;
	uint8_t *blob, *data;
	size_t bloblen, datalen;
	uint32_t flags;
};

/*
 * One unlock on use of a locked credential: the first signature that
 * finds it locked asks the token (its connection carries the job and the
 * PIN prompt); later ones for it wait for that one instead of asking
 * again, and are served (or refused) when it ends.
 */
struct ssh_onuse {
	struct ssh_onuse *next;
	struct ssh_agent *sa; /* NULL once the agent's SSH side is gone */
	char *name;
	int64_t created;
	struct onuse_sig *sigs; /* the first is the one that asks */
	size_t nsigs;
	struct askpass *ask;
	int ask_err; /* why no PIN could be asked (0: it was) */
	bool pin_asked;
	bool submitting; /* inside ext_open_submit: its errors are ours */
	char token[HW_LABEL_MAX + 1];
	char pin_token[HW_LABEL_MAX + 1];
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

/* Listed while locked: marked unlock-on-use with its certificate in its
 * header.  Step-up confirm is left out: its question is for a credential
 * already open, as for the helpers (ext-cred.c). */
static bool
listed_locked(const struct cred *c)
{
	return is_ssh_cred(c) && c->unlock_on_use && c->ssh_cert != NULL &&
	    c->stepup != STEPUP_CONFIRM;
}

/* A connection ssh relays from another host (ssh -A): it signs with what
 * is open, but neither sees nor starts the unlock of what is not, so a
 * remote host cannot make the person's token be asked. */
static bool
relayed(const struct ssh_conn *sc)
{
	size_t i;

	for (i = 0; sc != NULL && i < sc->binds.n; i++)
		if (sc->binds.v[i].forwarded)
			return true;
	return false;
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

int
ssh_cred_cert_blob(const struct secret *fields, uint8_t **ret, size_t *ret_len)
{
	struct ssh_key *cert = NULL;
	const uint8_t *b;
	char why[160];
	size_t n;
	int r;

	if ((r = fields_cert(fields, &cert, why, sizeof(why))) != 0)
		return r;
	b = ssh_key_blob(cert, &n);
	if ((*ret = malloc(n)) == NULL) {
		ssh_key_free(cert);
		return JIT_E_NOMEM;
	}
	memcpy(*ret, b, n);
	*ret_len = n;
	ssh_key_free(cert);
	return JIT_OK;
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

/* A locked credential's certificate, from its header (unlock on use). */
static struct ssh_cred_pub *
pub_add_header(struct ssh_agent *sa, const struct cred *c)
{
	struct ssh_cred_pub *p;
	const struct ssh_cert *cert;
	int r;

	if ((p = pub_of(sa, c)) != NULL)
		return p;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->name = strdup(c->name)) == NULL) {
		pub_free(p);
		return NULL;
	}
	if ((r = ssh_key_from_blob(c->ssh_cert, c->ssh_certlen, &p->cert)) !=
		0 ||
	    (cert = ssh_key_cert(p->cert)) == NULL ||
	    ssh_key_type(p->cert) != SSH_KEY_ED25519 ||
	    cert->type != SSH_CERT_USER) {
		log_debug("%s: the certificate in its header is not listed: %s",
		    c->name,
		    r != 0 ? jit_strerror(r) :
			     "not an ed25519 user certificate");
		pub_free(p);
		return NULL;
	}
	p->created = c->created;
	p->from_header = true;
	ssh_key_fingerprint(p->cert, p->fp);
	p->next = sa->creds;
	sa->creds = p;
	return p;
}

static bool
cert_valid_now(const struct ssh_cred_pub *p)
{
	const struct ssh_cert *cert = ssh_key_cert(p->cert);
	uint64_t now = (uint64_t)time(NULL);

	return now >= cert->valid_after && now < cert->valid_before;
}

/* The certificate of c if ssh may see it while c is locked (else NULL). */
static struct ssh_cred_pub *
locked_listable(struct ssh_agent *sa, struct cred *c)
{
	struct ssh_cred_pub *p;

	if (!listed_locked(c) ||
	    vault_check(sa->ag->vault, c) != JIT_E_LOCKED ||
	    (p = pub_add_header(sa, c)) == NULL || !cert_valid_now(p))
		return NULL;
	return p;
}

void
ssh_cred_free_all(struct ssh_agent *sa)
{
	struct ssh_onuse *u;

	while (sa->creds != NULL)
		pub_drop(sa, sa->creds);
	/* Unlocks under way end with their jobs: they forget the agent. */
	for (u = sa->onuse; u != NULL; u = u->next)
		u->sa = NULL;
	sa->onuse = NULL;
}

void
ssh_cred_unlocked(struct agent *ag, struct cred *c, const struct secret *fields)
{
	struct ssh_cred_pub *p;
	struct ssh_agent *sa;

	if (!is_ssh_cred(c) || fields == NULL ||
	    (sa = ssh_agent_of(ag)) == NULL)
		return;
	/* The shared timer ends certificates (ssh-state.c). */
	sa->tick_creds = ssh_cred_tick;
	/* The certificate it holds, not the header's copy, is served. */
	if ((p = pub_of(sa, c)) != NULL && p->from_header)
		pub_drop(sa, p);
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
		if (c == NULL || c->created != p->created ||
		    (c->slot == NULL &&
			!(p->from_header && listed_locked(c)))) {
			pub_drop(sa, p);
			continue;
		}
		if (c->slot == NULL)
			continue; /* locked: listed from its header */
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

/* Locked credentials marked unlock-on-use: their certificates, so that
 * ssh offers them and its signature request starts the unlock. */
static int
list_locked(struct ssh_agent *sa, struct wire_writer *w, uint32_t *count)
{
	struct ssh_cred_pub *p;
	struct cred *c;
	const uint8_t *blob;
	size_t i, n;
	int r;

	if (store_nlisted_locked(sa->ag->store) == 0)
		return JIT_OK;
	for (i = 0; i < store_ncreds(sa->ag->store); i++) {
		c = store_cred_at(sa->ag->store, i);
		if ((p = locked_listable(sa, c)) == NULL)
			continue;
		blob = ssh_key_blob(p->cert, &n);
		if ((r = wire_put_string(w, blob, n)) != 0 ||
		    (r = wire_put_cstring(w, c->name)) != 0)
			return r;
		(*count)++;
	}
	return JIT_OK;
}

int
ssh_cred_list(struct ssh_agent *sa, const struct ssh_conn *sc,
    struct wire_writer *w, uint32_t *count)
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
	return relayed(sc) ? JIT_OK : list_locked(sa, w, count);
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
		/* The token whose hardware opened it (a step-up asks the
		 * same one again). */
		event_str(
		    ev, "token", c->slot != NULL ? c->slot->token_label : NULL);
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

	size_t i;

	for (s = vault_first(sa->ag->vault); s != NULL; s = s->next)
		if (is_ssh_cred(s->cred) && s->fields != NULL &&
		    pub_of(sa, s->cred) == NULL)
			(void)pub_add(sa, s->cred, s->fields);
	for (i = 0; store_nlisted_locked(sa->ag->store) > 0 &&
	     i < store_ncreds(sa->ag->store);
	     i++)
		(void)locked_listable(sa, store_cred_at(sa->ag->store, i));
}

/* ---- unlock on use: a signature for a locked credential ---- */

static void
sig_free(struct onuse_sig *s)
{
	if (s == NULL)
		return;
	free(s->blob);
	free(s->data);
	free(s);
}

static struct onuse_sig *
sig_new(struct conn *conn, const struct ssh_sign_msg *m)
{
	struct onuse_sig *s;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->blob = malloc(m->bloblen > 0 ? m->bloblen : 1)) == NULL ||
	    (s->data = malloc(m->datalen > 0 ? m->datalen : 1)) == NULL) {
		sig_free(s);
		return NULL;
	}
	s->conn = conn;
	memcpy(s->blob, m->blob, m->bloblen);
	s->bloblen = m->bloblen;
	if (m->datalen > 0)
		memcpy(s->data, m->data, m->datalen);
	s->datalen = m->datalen;
	s->flags = m->flags;
	return s;
}

/* Off the agent's list: a signature that comes now starts a new unlock
 * (an answer to a waiting client may let it send its next request). */
static void
onuse_unlink(struct ssh_onuse *u)
{
	struct ssh_onuse **pp;

	for (pp = u->sa != NULL ? &u->sa->onuse : NULL;
	     pp != NULL && *pp != NULL; pp = &(*pp)->next) {
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	}
}

static void
onuse_free(struct ssh_onuse *u)
{
	struct onuse_sig *s;

	if (u == NULL)
		return;
	askpass_cancel(u->ask);
	onuse_unlink(u);
	while ((s = u->sigs) != NULL) {
		u->sigs = s->next;
		sig_free(s);
	}
	free(u->name);
	free(u);
}

static struct ssh_onuse *
onuse_of(struct ssh_agent *sa, const struct cred *c)
{
	struct ssh_onuse *u;

	for (u = sa->onuse; u != NULL; u = u->next)
		if (u->created == c->created && strcmp(u->name, c->name) == 0)
			return u;
	return NULL;
}

/* Take the first signature off the list (the one that asks). */
static struct onuse_sig *
onuse_pop(struct ssh_onuse *u)
{
	struct onuse_sig *s = u->sigs;

	if (s != NULL) {
		u->sigs = s->next;
		u->nsigs--;
	}
	return s;
}

/*
 * Refuse every waiting signature with why (in the log), each audited as
 * a deny if audit_why.  The first one's connection is finished by whoever
 * runs it (the job's end, or the caller); the others' here.
 */
static void
onuse_refuse(struct ssh_onuse *u, bool first_waits, const char *why,
    const char *audit_why)
{
	struct onuse_sig *s;
	bool first = first_waits;

	onuse_unlink(u);
	while ((s = onuse_pop(u)) != NULL) {
		conn_set_cancel(s->conn, NULL, NULL);
		if (audit_why != NULL && u->sa != NULL)
			audit_deny(
			    u->sa, conn_peer(s->conn), u->name, audit_why);
		ssh_fail(s->conn, "%s", why);
		if (!first)
			conn_done(s->conn);
		first = false;
		sig_free(s);
	}
}

/* A waiting signature's client left: it waits no more. */
static void
onuse_sig_left(void *arg)
{
	struct onuse_sig *s = arg, **pp;
	struct ssh_onuse *u = s->u;

	for (pp = &u->sigs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			u->nsigs--;
			break;
		}
	}
	sig_free(s);
}

/* The signature that started the unlock left while its PIN was asked:
 * the others cannot be served by it. */
static void
onuse_first_left(void *arg)
{
	struct ssh_onuse *u = arg;
	char why[CRED_NAME_MAX * 2 + 160];

	sig_free(onuse_pop(u)); /* its connection is gone */
	snprintf(why, sizeof(why),
	    "%s: the client that started its unlock left: run 'jitctl unlock %s'",
	    u->name, u->name);
	onuse_refuse(u, false, why, NULL);
	onuse_free(u);
}

/* The job was dropped without an answer for us: its client left (or the
 * submit failed, which onuse_submit answers). */
static void
onuse_dropped(void *arg)
{
	struct ssh_onuse *u = arg;
	char why[CRED_NAME_MAX * 2 + 160];

	if (u->submitting)
		return;
	sig_free(onuse_pop(u)); /* its connection is gone */
	snprintf(why, sizeof(why),
	    "%s: the client that started its unlock left before the token answered: run 'jitctl unlock %s'",
	    u->name, u->name);
	onuse_refuse(u, false, why, NULL);
	onuse_free(u);
}

/* A signature that waited, now that the credential is open: signed the
 * way its step-up says (always/pin ask the token again for it). */
static void
onuse_resume(struct ssh_agent *sa, struct onuse_sig *s)
{
	struct ssh_sign_msg m;
	struct request rq;
	int r;

	conn_set_cancel(s->conn, NULL, NULL);
	memset(&rq, 0, sizeof(rq));
	rq.conn = s->conn;
	rq.peer = conn_peer(s->conn);
	m.blob = s->blob;
	m.bloblen = s->bloblen;
	m.data = s->data;
	m.datalen = s->datalen;
	m.flags = s->flags;
	if ((r = ssh_cred_sign(sa, &rq, ssh_conn_peek(s->conn), &m)) ==
	    AGENT_DEFERRED)
		return;
	if (r != 0)
		ssh_fail(
		    s->conn, "sign request for a key the agent does not hold");
	conn_done(s->conn);
}

static int onuse_submit(
    struct ssh_onuse *u, struct cred *c, const char *label, struct secret *pin);
static int onuse_ask_pin(struct ssh_onuse *u, struct cred *c);

/* The token answered (or did not): unlock, audited as started by this
 * use, sign the first signature with what it opened, then the others. */
static int
onuse_opened(struct agent *ag, struct conn *conn, const struct peer *peer,
    struct cred *c, const struct secret *fields, int err, void *arg)
{
	struct ssh_onuse *u = arg;
	struct ssh_agent *sa = u->sa;
	struct ssh_cred_pub *p;
	struct onuse_sig *s;
	struct cred *now;
	const uint8_t *blob;
	char why[CRED_NAME_MAX * 2 + 512];
	size_t n;

	if (err == JIT_E_PIN_REQUIRED && !u->pin_asked &&
	    (now = store_cred(ag->store, u->name)) != NULL &&
	    onuse_ask_pin(u, now) == AGENT_DEFERRED)
		return AGENT_DEFERRED;
	if (sa == NULL || err != 0 || c == NULL) {
		if (u->ask_err != 0)
			snprintf(why, sizeof(why),
			    "%s is locked, and token %s wants a PIN that cannot be asked (%s): run 'jitctl unlock %s'",
			    u->name, u->pin_token,
			    u->ask_err == JIT_E_UNSUPPORTED ?
				"the agent has no SSH_ASKPASS" :
				jit_strerror(u->ask_err),
			    u->name);
		else
			snprintf(why, sizeof(why),
			    "%s is locked, and no token that opens it answered (%s): run 'jitctl unlock %s'",
			    u->name,
			    jit_strerror(err != 0 ? err : JIT_E_CANCELLED),
			    u->name);
		onuse_refuse(u, true, why, "locked");
		onuse_free(u);
		return JIT_OK;
	}
	if (ag->locked)
		snprintf(why, sizeof(why),
		    "%s: the agent was locked (ssh-add -x) while its token was asked",
		    u->name);
	else if (onuse_keep(ag, peer, c, fields, u->token, why, sizeof(why)) ==
	    0)
		why[0] = '\0';
	if (why[0] != '\0') {
		onuse_refuse(u, true, why, NULL);
		onuse_free(u);
		return JIT_OK;
	}
	log_info("%s unlocked on use by ssh (pid %d) with token %s", c->name,
	    (int)peer->pid, u->token);
	onuse_unlink(u);
	s = onuse_pop(u);
	conn_set_cancel(conn, NULL, NULL);
	if ((p = servable(sa, c)) == NULL)
		ssh_fail(conn, "%s: its certificate is not valid now", c->name);
	else if ((blob = ssh_key_blob(p->cert, &n)) == NULL ||
	    n != s->bloblen || memcmp(blob, s->blob, n) != 0)
		ssh_fail(conn,
		    "%s: the certificate in its file's header is not the one it holds: run 'jitctl unlock %s' and list again",
		    c->name, c->name);
	else
		sign_with(sa, conn, peer, ssh_conn_peek(conn), c, p, fields,
		    s->data, s->datalen, s->flags);
	sig_free(s);
	/* The others: served as any signature now that it is open. */
	while ((s = onuse_pop(u)) != NULL) {
		onuse_resume(sa, s);
		sig_free(s);
	}
	onuse_free(u);
	return JIT_OK;
}

/* The PIN (or none): open with it off the loop, or refuse everyone. */
static void
onuse_pin_answered(void *arg, bool ok, struct secret *pin)
{
	struct ssh_onuse *u = arg;
	struct conn *conn = u->sigs->conn;
	char why[CRED_NAME_MAX * 2 + HW_LABEL_MAX + 128];
	struct cred *c = NULL;

	u->ask = NULL;
	conn_set_cancel(conn, NULL, NULL);
	if (!ok || pin == NULL || u->sa == NULL ||
	    (c = store_cred(u->sa->ag->store, u->name)) == NULL ||
	    c->created != u->created) {
		secret_free(pin);
		snprintf(why, sizeof(why),
		    "%s is locked, and no PIN was given for token %s: run 'jitctl unlock %s'",
		    u->name, u->pin_token, u->name);
		onuse_refuse(u, true, why, "no PIN");
		onuse_free(u);
		conn_done(conn);
		return;
	}
	if (onuse_submit(u, c, u->pin_token, pin) == AGENT_DEFERRED)
		return;
	conn_done(conn);
}

/* The token wants a PIN: ask it through askpass, naming the client, the
 * certificate and the token.  AGENT_DEFERRED, or an error (u kept). */
static int
onuse_ask_pin(struct ssh_onuse *u, struct cred *c)
{
	struct conn *conn = u->sigs->conn;
	char prompt[ASKPASS_PROMPT_MAX], what[CRED_NAME_MAX + SSH_FP_LEN + 64];
	struct ssh_cred_pub *p = pub_of(u->sa, c);
	const char *label;

	if ((label = onuse_pin_token(u->sa->ag, c)) == NULL)
		return JIT_E_NOTOKEN;
	u->pin_asked = true;
	snprintf(u->pin_token, sizeof(u->pin_token), "%s", label);
	snprintf(what, sizeof(what), "the SSH certificate %s%s%s%s", c->name,
	    p != NULL ? " (" : "", p != NULL ? p->fp : "",
	    p != NULL ? ")" : "");
	onuse_pin_prompt(conn_peer(conn), what, label, prompt, sizeof(prompt));
	if ((u->ask_err = askpass_start(u->sa->ag->loop, ASKPASS_SECRET, prompt,
		 onuse_pin_answered, u, &u->ask)) != 0)
		return u->ask_err;
	conn_set_cancel(conn, onuse_first_left, u);
	log_info(
	    "%s is locked and marked unlock-on-use: asking the PIN of token %s for ssh (pid %d)",
	    c->name, label, (int)conn_peer(conn)->pid);
	return AGENT_DEFERRED;
}

/* Ask the token (off the loop) for the first signature's connection.
 * AGENT_DEFERRED, or JIT_OK once everyone is answered and u is gone. */
static int
onuse_submit(
    struct ssh_onuse *u, struct cred *c, const char *label, struct secret *pin)
{
	struct conn *conn = u->sigs->conn;
	char why[CRED_NAME_MAX * 2 + 160];
	struct open_args oa;
	struct request rq;
	int r;

	memset(&rq, 0, sizeof(rq));
	rq.conn = conn;
	rq.peer = conn_peer(conn);
	memset(&oa, 0, sizeof(oa));
	oa.creds = &c;
	oa.n = 1;
	oa.token_label = label;
	oa.pin = pin;
	oa.for_get = true;
	oa.purpose = "ssh-sign";
	oa.then = onuse_opened;
	oa.then_arg = u;
	oa.then_free = onuse_dropped;
	oa.token_out = u->token;
	u->submitting = true;
	/* JIT_OK: onuse_opened ran already (no token wraps it) and freed u. */
	if ((r = ext_open_submit(u->sa->ag, &rq, &oa)) == JIT_OK)
		return JIT_OK;
	u->submitting = false;
	if (r == AGENT_DEFERRED)
		return r;
	snprintf(why, sizeof(why),
	    "%s is locked, and its token cannot be asked (%s): run 'jitctl unlock %s'",
	    u->name, jit_strerror(r), u->name);
	onuse_refuse(u, true, why, "locked");
	onuse_free(u);
	return JIT_OK;
}

/*
 * A signature with a locked credential marked unlock-on-use: start its
 * unlock (the touch, or the PIN through askpass), or wait for the one
 * under way.  AGENT_DEFERRED, or JIT_OK once answered.
 */
static int
onuse_sign(struct ssh_agent *sa, struct request *rq, struct cred *c,
    const struct ssh_cred_pub *p, const struct ssh_sign_msg *m)
{
	struct ssh_onuse *u;
	struct onuse_sig *s, **pp;

	if (!cert_valid_now(p)) {
		audit_deny(sa, rq->peer, c->name, "certificate not valid now");
		ssh_fail(rq->conn,
		    "%s: its certificate is not valid now (see 'ssh-keygen -L')",
		    c->name);
		return JIT_OK;
	}
	if ((u = onuse_of(sa, c)) != NULL && u->nsigs >= ONUSE_SIGS_MAX) {
		ssh_fail(rq->conn,
		    "%s: %d signatures wait for its unlock already; try again when it ends",
		    c->name, ONUSE_SIGS_MAX);
		return JIT_OK;
	}
	if ((s = sig_new(rq->conn, m)) == NULL) {
		ssh_fail(rq->conn, "out of memory");
		return JIT_OK;
	}
	if (u != NULL) {
		/* One prompt for them all: this one waits for it. */
		for (pp = &u->sigs; *pp != NULL; pp = &(*pp)->next)
			;
		*pp = s;
		s->u = u;
		u->nsigs++;
		conn_set_cancel(rq->conn, onuse_sig_left, s);
		log_info(
		    "%s: a signature for ssh (pid %d) waits for the unlock under way",
		    c->name, (int)rq->peer->pid);
		return AGENT_DEFERRED;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    (u->name = strdup(c->name)) == NULL) {
		free(u);
		sig_free(s);
		ssh_fail(rq->conn, "out of memory");
		return JIT_OK;
	}
	u->sa = sa;
	u->created = c->created;
	u->sigs = s;
	u->nsigs = 1;
	s->u = u;
	u->next = sa->onuse;
	sa->onuse = u;
	log_info(
	    "%s is locked and marked unlock-on-use: asking a token for ssh (pid %d)",
	    c->name, (int)rq->peer->pid);
	return onuse_submit(u, c, NULL, NULL);
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
	/* Marked so: a signature while locked starts the unlock. */
	if (listed_locked(c) && !sa->ag->locked &&
	    vault_check(sa->ag->vault, c) == JIT_E_LOCKED) {
		if (!relayed(sc))
			return onuse_sign(sa, rq, c, p, m);
		audit_deny(sa, rq->peer, c->name,
		    "locked, asked through a forwarded agent");
		ssh_fail(rq->conn,
		    "%s is locked, and a forwarded agent connection does not start its unlock: run 'jitctl unlock %s' on this machine",
		    c->name, c->name);
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
