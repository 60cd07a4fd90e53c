/* The standard ssh-agent requests: keys from ssh-add, session binds, lock. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "askpass.h"
#include "conf.h"
#include "err.h"
#include "events.h"
#include "log.h"
#include "secret.h"
#include "ssh-agent.h"
#include "p11helper.h"
#include "ssh-pkcs11.h"
#include "vault.h"

#define LOG_STR_MAX 256 /* a client's string, escaped, in a log line */

struct ssh_unlock_wait {
	uv_timer_t timer; /* first: the close callback frees */
	struct ssh_conn *sc; /* NULL once the client left */
	struct secret *pass; /* NULL once judged */
};

/* A signature that waits for the person's yes (ssh-add -c). */
struct confirm_wait {
	struct ssh_conn *sc;
	uint8_t *blob;
	size_t bloblen;
	uint8_t *data;
	size_t datalen;
	uint32_t flags;
};

/* The binds of a connection that made none. */
static const struct ssh_binds no_binds;

static const struct ssh_binds *
binds_of(const struct ssh_conn *sc)
{
	return sc != NULL ? &sc->binds : &no_binds;
}

static bool
bind_failed(const struct ssh_conn *sc)
{
	return sc != NULL && sc->binds.attempted && sc->binds.n == 0;
}

static void
esc(const char *s, char *out, size_t outlen)
{
	log_escape(s, strlen(s), out, outlen);
}

static void
identity_free(struct ssh_identity *id)
{
	if (id == NULL)
		return;
	/* A provider's last key gone: its helper is stopped. */
	if (id->p11 != NULL && --id->p11->nkeys == 0)
		ssh_p11_unload(id->p11, false);
	ssh_key_free(id->key);
	free(id->comment);
	ssh_dests_free(&id->dests);
	free(id);
}

static void
identity_unlink(struct ssh_agent *sa, struct ssh_identity *id)
{
	if (id->prev != NULL)
		id->prev->next = id->next;
	else
		sa->head = id->next;
	if (id->next != NULL)
		id->next->prev = id->prev;
	else
		sa->tail = id->prev;
	sa->nkeys--;
}

static struct ssh_identity *
identity_find(struct ssh_agent *sa, const uint8_t *blob, size_t len)
{
	struct ssh_identity *id;
	const uint8_t *b;
	size_t n;

	for (id = sa->head; id != NULL; id = id->next) {
		b = ssh_key_blob(id->key, &n);
		if (n == len && memcmp(b, blob, len) == 0)
			return id;
	}
	return NULL;
}

static int
audit_key(struct ssh_agent *sa, const char *event,
    const struct ssh_identity *id, const char *why, const struct peer *p)
{
	struct json_object *ev;
	char comment[LOG_STR_MAX];

	if ((ev = event_new(event)) == NULL)
		return event_emit(sa->ag, NULL);
	esc(id->comment, comment, sizeof(comment));
	event_str(ev, "ssh_key", id->fp);
	event_str(ev, "type", ssh_key_name(id->key));
	event_str(ev, "comment", comment);
	event_str(ev, "why", why);
	event_peer(ev, p);
	return event_emit(sa->ag, ev);
}

/* Drop keys whose lifetime is over; the next death, 0 for none. */
static void
reap(struct ssh_agent *sa, int64_t now)
{
	struct ssh_identity *id, *next;
	int64_t nd = 0;

	for (id = sa->head; id != NULL; id = next) {
		next = id->next;
		if (id->death_ms == 0)
			continue;
		if (now >= id->death_ms) {
			identity_unlink(sa, id);
			audit_key(
			    sa, "expire", id, "ssh-add -t lifetime", NULL);
			identity_free(id);
		} else if (nd == 0 || id->death_ms < nd)
			nd = id->death_ms;
	}
	sa->next_death_ms = nd;
}

static void
reap_due(struct ssh_agent *sa)
{
	if (sa->next_death_ms != 0 && vault_now_ms() >= sa->next_death_ms)
		reap(sa, vault_now_ms());
}

static int
reply_list(struct ssh_agent *sa, struct request *rq, bool empty)
{
	const struct ssh_binds *b = binds_of(ssh_conn_peek(rq->conn));
	struct ssh_identity *id;
	struct wire_writer w;
	const uint8_t *blob;
	size_t n;
	uint32_t count = 0;
	int r;

	wire_writer_init(&w, AGENT_FRAME_MAX, false);
	if ((r = wire_put_u8(&w, SSH_AGENT_IDENTITIES_ANSWER)) != 0 ||
	    (r = wire_put_u32(&w, 0)) != 0)
		goto fail;
	if (!empty) {
		reap_due(sa);
		for (id = sa->head; id != NULL; id = id->next) {
			if (id->held ||
			    ssh_dest_permitted(&id->dests, b, NULL, NULL) != 0)
				continue;
			blob = ssh_key_blob(id->key, &n);
			if ((r = wire_put_string(&w, blob, n)) != 0 ||
			    (r = wire_put_cstring(&w, id->comment)) != 0)
				goto fail;
			count++;
		}
		if ((r = ssh_cred_list(
			 sa, ssh_conn_peek(rq->conn), &w, &count)) != 0)
			goto fail;
	}
	if ((r = wire_patch_u32(&w, 1, count)) != 0)
		goto fail;
	conn_send(rq->conn, &w);
	return JIT_OK;
fail:
	wire_writer_reset(&w);
	ssh_fail(rq->conn, "cannot list the keys: %s", jit_strerror(r));
	return JIT_OK;
}

static int
handle_list(struct ssh_agent *sa, struct request *rq)
{
	if (wire_end(&rq->body) != 0) {
		ssh_fail(rq->conn, "malformed REQUEST_IDENTITIES");
		return JIT_OK;
	}
	/* A connection whose bind failed sees nothing. */
	return reply_list(sa, rq, bind_failed(ssh_conn_peek(rq->conn)));
}

/*
 * A destination-constrained key signs only a userauth request for the
 * host this connection bound last, as OpenSSH's ssh-agent checks.
 */
static int
check_dest(const struct ssh_identity *id, const struct ssh_conn *sc,
    const struct ssh_sign_msg *m, char *user, size_t userlen)
{
	const struct ssh_bind *last;
	struct ssh_userauth ua;
	int r = JIT_E_DENIED;

	if (sc == NULL || sc->binds.n == 0) {
		log_info(
		    "refusing a destination-constrained key on a connection with no session bind");
		return JIT_E_DENIED;
	}
	if (ssh_userauth_parse(m->data, m->datalen, id->key, &ua) != 0) {
		log_info(
		    "refusing a destination-constrained key for data that is not a userauth request");
		return JIT_E_DENIED;
	}
	last = &sc->binds.v[sc->binds.n - 1];
	if (ssh_dest_permitted(&id->dests, &sc->binds, ua.user, NULL) != 0) {
		log_info("key %s is not permitted to this destination", id->fp);
		goto out;
	}
	if (ua.sidlen != last->sidlen ||
	    sodium_memcmp(ua.sid, last->sid, ua.sidlen) != 0) {
		log_info(
		    "userauth request for another session than the one bound last");
		goto out;
	}
	if (sc->binds.n > 1 && ua.hostkey == NULL) {
		log_info("forwarded signature request without a host key");
		goto out;
	}
	if (ua.hostkey != NULL && !ssh_key_same(ua.hostkey, last->hostkey)) {
		log_info("host key in the request is not the one bound last");
		goto out;
	}
	esc(ua.user, user, userlen);
	r = JIT_OK;
out:
	ssh_userauth_free(&ua);
	return r;
}

/* A signature a PKCS#11 token makes, through its provider's helper. */
struct p11_sign_wait {
	struct conn *conn;
	struct ssh_p11_sign *s;
	char fp[SSH_FP_LEN];
	int64_t timeout_ms;
};

static void
p11_sign_cancel(void *arg)
{
	struct p11_sign_wait *w = arg;

	ssh_p11_sign_forget(w->s);
	free(w);
}

static const char *
p11_sign_error(int r)
{
	switch (r) {
	case JIT_E_DENIED:
		return "the token refused to sign (the helper logs why to syslog)";
	case JIT_E_TIMEOUT:
		return "the token did not answer in time (--touch-timeout); its helper was stopped and its keys removed: run ssh-add -s again";
	case JIT_E_IO:
		return "its PKCS#11 helper exited or broke the protocol (see the agent's log): run ssh-add -s again";
	case JIT_E_CANCELLED:
		return "its provider was unloaded meanwhile (ssh-add -e, -D or a lock)";
	case JIT_E_AUTH:
		return "the helper's signature does not verify with the key";
	case JIT_E_UNSUPPORTED:
		return "the key cannot make this kind of signature through PKCS#11";
	case JIT_E_BUSY:
		return "its PKCS#11 helper has too many signatures waiting";
	default: return jit_strerror(r);
	}
}

static void
p11_signed(void *arg, int r, uint8_t *sig, size_t siglen)
{
	struct p11_sign_wait *w = arg;
	struct conn *conn = w->conn;
	struct wire_writer out;

	conn_set_cancel(conn, NULL, NULL);
	if (r == JIT_OK) {
		wire_writer_init(&out, AGENT_FRAME_MAX, false);
		if ((r = wire_put_u8(&out, SSH_AGENT_SIGN_RESPONSE)) != 0 ||
		    (r = wire_put_string(&out, sig, siglen)) != 0)
			wire_writer_reset(&out);
		else
			conn_send(conn, &out);
	}
	if (r != JIT_OK)
		ssh_fail(conn,
		    "signing with %s through its PKCS#11 provider failed: %s",
		    w->fp, p11_sign_error(r));
	free(sig);
	free(w);
	conn_done(conn);
}

/* Audited, then sent to the helper: AGENT_DEFERRED, or JIT_OK once the
 * failure is replied. */
static int
p11_sign_start(struct ssh_agent *sa, struct conn *conn,
    const struct ssh_identity *id, const uint8_t *data, size_t len,
    uint32_t flags)
{
	struct p11_sign_wait *w;
	char why[256];
	int r;

	if ((r = audit_key(sa, "use", id, "ssh-add -s key (PKCS#11)",
		 conn_peer(conn))) != 0) {
		event_refusal(sa->ag, r, why, sizeof(why));
		ssh_fail(conn, "not signing with %s: %s", id->fp, why);
		return JIT_OK;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		ssh_fail(conn, "out of memory");
		return JIT_OK;
	}
	w->conn = conn;
	memcpy(w->fp, id->fp, sizeof(w->fp));
	if ((r = ssh_p11_sign(id->p11, id->key, data, len, flags,
		 sa->ag->touch_timeout_ms, p11_signed, w, &w->s)) != 0) {
		ssh_fail(conn,
		    "signing with %s through its PKCS#11 provider failed: %s",
		    id->fp, p11_sign_error(r));
		free(w);
		return JIT_OK;
	}
	conn_set_cancel(conn, p11_sign_cancel, w);
	return AGENT_DEFERRED;
}

static void
confirm_free(void *arg)
{
	struct confirm_wait *cw = arg;

	if (cw == NULL)
		return;
	free(cw->blob);
	free(cw->data);
	free(cw);
}

static void
confirm_answered(void *arg, bool ok, struct secret *answer)
{
	struct confirm_wait *cw = arg;
	struct ssh_conn *sc = cw->sc;
	struct ssh_identity *id;
	int r;

	secret_free(answer);
	sc->ask = NULL;
	sc->ask_arg = NULL;
	sc->ask_free = NULL;
	id = identity_find(sc->sa, cw->blob, cw->bloblen);
	if (!ok)
		ssh_fail(sc->conn, "the use of the key was not confirmed");
	else if (sc->sa->ag->locked)
		ssh_fail(sc->conn, "the agent was locked meanwhile");
	else if (id == NULL)
		ssh_fail(sc->conn,
		    "the key was removed while it was being confirmed");
	else if (id->p11 != NULL) {
		r = p11_sign_start(
		    sc->sa, sc->conn, id, cw->data, cw->datalen, cw->flags);
		confirm_free(cw);
		if (r != AGENT_DEFERRED)
			conn_done(sc->conn);
		return;
	} else if ((r = ssh_reply_sig(sc->conn, id->key, cw->data, cw->datalen,
			cw->flags)) != 0)
		ssh_fail(sc->conn, "signing with %s failed: %s", id->fp,
		    jit_strerror(r));
	if (!ok && id != NULL)
		audit_key(sc->sa, "deny", id, "use not confirmed",
		    conn_peer(sc->conn));
	confirm_free(cw);
	conn_done(sc->conn);
}

static int
start_confirm(struct ssh_agent *sa, struct request *rq,
    const struct ssh_identity *id, const struct ssh_sign_msg *m,
    const char *user)
{
	struct confirm_wait *cw;
	struct ssh_conn *sc;
	char prompt[ASKPASS_PROMPT_MAX], comment[LOG_STR_MAX];
	int r;

	if ((sc = ssh_conn_of(sa, rq->conn)) == NULL ||
	    (cw = calloc(1, sizeof(*cw))) == NULL) {
		ssh_fail(rq->conn, "out of memory");
		return JIT_OK;
	}
	cw->sc = sc;
	cw->flags = m->flags;
	if ((cw->blob = malloc(m->bloblen)) == NULL ||
	    (cw->data = malloc(m->datalen > 0 ? m->datalen : 1)) == NULL) {
		confirm_free(cw);
		ssh_fail(rq->conn, "out of memory");
		return JIT_OK;
	}
	memcpy(cw->blob, m->blob, m->bloblen);
	cw->bloblen = m->bloblen;
	if (m->datalen > 0)
		memcpy(cw->data, m->data, m->datalen);
	cw->datalen = m->datalen;
	esc(id->comment, comment, sizeof(comment));
	snprintf(prompt, sizeof(prompt),
	    "Allow use of key %s?\nKey fingerprint %s.%s%s%s", comment, id->fp,
	    user[0] != '\0' ?
		"\npublic key authentication request for user \"" :
		"",
	    user, user[0] != '\0' ? "\" to listed host" : "");
	if ((r = askpass_start(sa->ag->loop, ASKPASS_CONFIRM, prompt,
		 confirm_answered, cw, &sc->ask)) != 0) {
		confirm_free(cw);
		ssh_fail(rq->conn, "key %s needs a confirmation, but %s",
		    id->fp,
		    r == JIT_E_UNSUPPORTED ?
			"there is no SSH_ASKPASS to ask with" :
			jit_strerror(r));
		return JIT_OK;
	}
	sc->ask_arg = cw;
	sc->ask_free = confirm_free;
	return AGENT_DEFERRED;
}

static int
handle_sign(struct ssh_agent *sa, struct request *rq)
{
	struct ssh_sign_msg m;
	struct ssh_identity *id;
	struct ssh_conn *sc = ssh_conn_peek(rq->conn);
	char user[LOG_STR_MAX] = "";
	int r;

	if ((r = ssh_msg_sign(&rq->body, &m)) != 0) {
		ssh_fail(
		    rq->conn, "malformed SIGN_REQUEST: %s", jit_strerror(r));
		return JIT_OK;
	}
	if (bind_failed(sc)) {
		ssh_fail(rq->conn,
		    "this connection's session bind failed: it may not sign");
		return JIT_OK;
	}
	reap_due(sa);
	if ((id = identity_find(sa, m.blob, m.bloblen)) == NULL) {
		if ((r = ssh_cred_sign(sa, rq, sc, &m)) != JIT_E_NOENT)
			return r;
		ssh_fail(
		    rq->conn, "sign request for a key the agent does not hold");
		return JIT_OK;
	}
	/* SHA-1 RSA signatures only when the configuration allows them. */
	m.flags &= ~SSH_KEY_SIGN_SHA1; /* ours, never a client's */
	if (ssh_key_type(id->key) == SSH_KEY_RSA &&
	    (m.flags & (SSH_AGENT_RSA_SHA2_256 | SSH_AGENT_RSA_SHA2_512)) ==
		0) {
		if (!sa->ag->conf->ssh_rsa_sha1) {
			ssh_fail(rq->conn,
			    "refusing an ssh-rsa (SHA-1) signature with %s: ask for rsa-sha2-256 or rsa-sha2-512, or set ssh_rsa_sha1 = yes in [agent] for an old server",
			    id->fp);
			return JIT_OK;
		}
		m.flags |= SSH_KEY_SIGN_SHA1;
	}
	if (id->held) {
		ssh_fail(rq->conn,
		    "key %s is held since the agent was locked: run 'jitctl unlock' or add it again with ssh-add",
		    id->fp);
		return JIT_OK;
	}
	if (id->dests.n > 0 &&
	    check_dest(id, sc, &m, user, sizeof(user)) != 0) {
		ssh_fail(rq->conn, "key %s may not sign for this destination",
		    id->fp);
		return JIT_OK;
	}
	if (id->confirm)
		return start_confirm(sa, rq, id, &m, user);
	if (id->p11 != NULL)
		return p11_sign_start(
		    sa, rq->conn, id, m.data, m.datalen, m.flags);
	if ((r = ssh_reply_sig(
		 rq->conn, id->key, m.data, m.datalen, m.flags)) != 0)
		ssh_fail(rq->conn, "signing with %s failed: %s", id->fp,
		    jit_strerror(r));
	return JIT_OK;
}

static const char *
add_error(int r)
{
	switch (r) {
	case JIT_E_UNSUPPORTED: return "an unsupported key type or constraint";
	case JIT_E_AUTH:
		return "its private and public halves do not match, or a certificate's signature does not verify";
	case JIT_E_LIMIT: return "a size or count is over the agent's limits";
	case JIT_E_MLOCK: return jit_strerror(r);
	default: return "a malformed request";
	}
}

static int
handle_add(struct ssh_agent *sa, struct request *rq)
{
	struct ssh_add_msg m;
	struct ssh_identity *id, *old;
	const uint8_t *blob;
	char why[64];
	size_t n;
	int r;

	if ((r = ssh_msg_add(&rq->body, &m)) != 0) {
		ssh_fail(rq->conn, "cannot add the key: %s", add_error(r));
		return JIT_OK;
	}
	if (m.c.sk_provider != NULL || m.c.has_maxsign) {
		ssh_fail(rq->conn,
		    "cannot add the key: %s keys are not supported",
		    m.c.sk_provider != NULL ? "security-key" : "XMSS");
		goto out;
	}
	/* Known now, not at the first signature: -c needs an askpass. */
	if (m.c.confirm && !askpass_available()) {
		ssh_fail(rq->conn,
		    "cannot add the key with -c: confirming each use asks through an askpass program, and the agent has none (start it with SSH_ASKPASS set, or with a display)");
		goto out;
	}
	blob = ssh_key_blob(m.key, &n);
	old = identity_find(sa, blob, n);
	if (old != NULL &&
	    ssh_dest_permitted(&old->dests, binds_of(ssh_conn_peek(rq->conn)),
		NULL, NULL) != 0) {
		ssh_fail(rq->conn,
		    "cannot replace a key this connection may not see");
		goto out;
	}
	if (old == NULL && sa->nkeys >= SSH_KEYS_MAX) {
		ssh_fail(rq->conn,
		    "cannot add the key: the agent holds %d keys already",
		    SSH_KEYS_MAX);
		goto out;
	}
	if ((id = calloc(1, sizeof(*id))) == NULL) {
		ssh_fail(rq->conn, "out of memory");
		goto out;
	}
	id->key = m.key;
	id->comment = m.comment;
	id->confirm = m.c.confirm;
	id->dests = m.c.dests;
	memset(&m.c.dests, 0, sizeof(m.c.dests));
	m.key = NULL;
	m.comment = NULL;
	ssh_key_fingerprint(id->key, id->fp);
	if (sa->ag->fp_md5)
		ssh_key_fingerprint_md5(id->key, id->fp);
	/* jit-agent -t: the lifetime of keys added without one. */
	if (!m.c.has_lifetime && sa->ag->ssh_default_life_s > 0) {
		m.c.has_lifetime = true;
		m.c.lifetime_s = (uint32_t)(sa->ag->ssh_default_life_s >
			    UINT32_MAX ?
			UINT32_MAX :
			sa->ag->ssh_default_life_s);
	}
	if (m.c.has_lifetime) {
		/* Boot time, so a suspended laptop's keys still expire. */
		id->death_ms = vault_now_ms() + (int64_t)m.c.lifetime_s * 1000;
		if (sa->next_death_ms == 0 || id->death_ms < sa->next_death_ms)
			sa->next_death_ms = id->death_ms;
	}
	if (old != NULL) {
		/* Same key again: its constraints are replaced, in place. */
		id->prev = old->prev;
		id->next = old->next;
		if (old->prev != NULL)
			old->prev->next = id;
		else
			sa->head = id;
		if (old->next != NULL)
			old->next->prev = id;
		else
			sa->tail = id;
		identity_free(old);
	} else {
		id->prev = sa->tail;
		if (sa->tail != NULL)
			sa->tail->next = id;
		else
			sa->head = id;
		sa->tail = id;
		sa->nkeys++;
	}
	snprintf(why, sizeof(why), "ssh-add%s%s%s",
	    m.c.has_lifetime ? " -t" : "", id->confirm ? " -c" : "",
	    id->dests.n > 0 ? " -h" : "");
	audit_key(sa, "add", id, why, rq->peer);
	ssh_rearm(sa);
	conn_reply_type(rq->conn, SSH_AGENT_SUCCESS);
out:
	ssh_add_msg_free(&m);
	return JIT_OK;
}

static int
handle_remove(struct ssh_agent *sa, struct request *rq)
{
	struct ssh_identity *id;
	const uint8_t *blob;
	size_t n;
	int r;

	if ((r = ssh_msg_remove(&rq->body, &blob, &n)) != 0) {
		ssh_fail(rq->conn, "malformed REMOVE_IDENTITY");
		return JIT_OK;
	}
	if ((id = identity_find(sa, blob, n)) == NULL) {
		if (ssh_cred_owns(sa, blob, n))
			ssh_fail(rq->conn,
			    "that certificate is a jitctl credential: remove it with 'jitctl lock NAME'");
		else
			ssh_fail(rq->conn, "no such key to remove");
		return JIT_OK;
	}
	if (ssh_dest_permitted(&id->dests, binds_of(ssh_conn_peek(rq->conn)),
		NULL, NULL) != 0) {
		ssh_fail(rq->conn, "this connection may not see that key");
		return JIT_OK;
	}
	identity_unlink(sa, id);
	audit_key(sa, "remove", id, "ssh-add -d", rq->peer);
	identity_free(id);
	conn_reply_type(rq->conn, SSH_AGENT_SUCCESS);
	return JIT_OK;
}

static int
handle_remove_all(struct ssh_agent *sa, struct request *rq)
{
	struct ssh_identity *id;
	struct json_object *ev;
	size_t n = 0;

	if (wire_end(&rq->body) != 0) {
		ssh_fail(rq->conn, "malformed REMOVE_ALL_IDENTITIES");
		return JIT_OK;
	}
	while ((id = sa->head) != NULL) {
		identity_unlink(sa, id);
		identity_free(id);
		n++;
	}
	sa->next_death_ms = 0;
	if (n > 0) {
		if ((ev = event_new("remove")) != NULL) {
			event_int(ev, "ssh_keys", (int64_t)n);
			event_str(ev, "why", "ssh-add -D");
			event_peer(ev, rq->peer);
		}
		event_emit(sa->ag, ev);
	}
	ssh_rearm(sa);
	conn_reply_type(rq->conn, SSH_AGENT_SUCCESS);
	return JIT_OK;
}

/* salt || BLAKE2b-256(passphrase, key = salt): see the report on why not
 * Argon2 here. */
static int
lock_hash(const struct secret *pass, const uint8_t *salt, struct secret **ret)
{
	struct secret *h;
	int r;

	if ((r = secret_new(SSH_LOCK_SALT_LEN + SSH_LOCK_HASH_LEN, &h)) != 0)
		return r;
	memcpy(secret_ptr(h), salt, SSH_LOCK_SALT_LEN);
	if (crypto_generichash(secret_ptr(h) + SSH_LOCK_SALT_LEN,
		SSH_LOCK_HASH_LEN, secret_ptr(pass), secret_len(pass), salt,
		SSH_LOCK_SALT_LEN) != 0) {
		secret_free(h);
		return JIT_E_CRYPTO;
	}
	*ret = h;
	return JIT_OK;
}

static int
handle_lock(struct ssh_agent *sa, struct request *rq)
{
	struct secret *pass = NULL, *h = NULL;
	uint8_t salt[SSH_LOCK_SALT_LEN];
	int r;

	if ((r = ssh_msg_lock(&rq->body, &pass)) != 0) {
		ssh_fail(rq->conn, "malformed LOCK");
		return JIT_OK;
	}
	if (sa->ag->locked)
		ssh_fail(rq->conn, "the agent is locked already");
	else if (secret_len(pass) == 0)
		ssh_fail(rq->conn, "an empty passphrase cannot lock the agent");
	else {
		randombytes_buf(salt, sizeof(salt));
		if ((r = lock_hash(pass, salt, &h)) != 0)
			ssh_fail(rq->conn, "cannot lock: %s", jit_strerror(r));
		else {
			secret_free(sa->lock_hash);
			sa->lock_hash = h;
			sa->ag->locked = true;
			/* Locking also closes every jitctl credential. */
			(void)agent_lock(sa->ag, "agent locked (ssh-add -x)",
			    NULL, conn_peer(rq->conn), NULL, NULL);
			conn_reply_type(rq->conn, SSH_AGENT_SUCCESS);
		}
	}
	secret_free(pass);
	return JIT_OK;
}

static void
unlock_wait_closed(uv_handle_t *h)
{
	struct ssh_unlock_wait *w = h->data;

	secret_free(w->pass);
	free(w);
}

static void
unlock_wait_end(struct ssh_unlock_wait *w)
{
	if (w->sc != NULL)
		w->sc->unlock = NULL;
	w->sc = NULL;
	uv_timer_stop(&w->timer);
	uv_close((uv_handle_t *)&w->timer, unlock_wait_closed);
}

/*
 * Judge an UNLOCK now.  Right: unlocked.  Wrong: the next attempt, from
 * any connection, is judged only after 0.1 s per failure so far (10 s at
 * most), as ssh-agent's sleep does, but with a timer: nothing stalls.
 * Returns the delay before a wrong answer's reply, 0 if replied already.
 */
static int64_t
judge_unlock(struct ssh_agent *sa, struct conn *c, const struct secret *pass)
{
	struct secret *h = NULL;
	struct json_object *ev;
	char why[256];
	bool right;
	int64_t delay;
	int r;

	if (!sa->ag->locked) {
		ssh_fail(c, "the agent is not locked");
		return 0;
	}
	right = secret_len(pass) > 0 &&
	    lock_hash(pass, secret_ptr(sa->lock_hash), &h) == 0 &&
	    secret_equal(h, sa->lock_hash);
	secret_free(h);
	if (right) {
		/* Audited first: the agent stays locked if it cannot be. */
		if ((ev = event_new("unlock")) != NULL) {
			event_str(ev, "what", "agent");
			event_peer(ev, conn_peer(c));
		}
		if ((r = event_emit(sa->ag, ev)) != 0) {
			event_refusal(sa->ag, r, why, sizeof(why));
			ssh_fail(c, "the agent stays locked: %s", why);
			return 0;
		}
		sa->ag->locked = false;
		sa->unlock_fails = 0;
		secret_free(sa->lock_hash);
		sa->lock_hash = NULL;
		conn_reply_type(c, SSH_AGENT_SUCCESS);
		return 0;
	}
	if (sa->unlock_fails < SSH_UNLOCK_FAILS_MAX)
		sa->unlock_fails++;
	delay = (int64_t)sa->unlock_fails * SSH_UNLOCK_DELAY_MS;
	sa->unlock_at_ms = vault_now_ms() + delay;
	if ((ev = event_new("deny")) != NULL) {
		event_str(ev, "why", "wrong agent passphrase");
		event_int(ev, "failures", (int64_t)sa->unlock_fails);
		event_peer(ev, conn_peer(c));
	}
	event_emit(sa->ag, ev);
	return delay;
}

static void
on_unlock_timer(uv_timer_t *t)
{
	struct ssh_unlock_wait *w = t->data;
	struct ssh_conn *sc = w->sc;
	struct ssh_agent *sa = sc->sa;
	int64_t now = vault_now_ms(), delay;

	if (w->pass != NULL) {
		/* Another attempt failed meanwhile: wait for its delay. */
		if (now < sa->unlock_at_ms) {
			uv_timer_start(&w->timer, on_unlock_timer,
			    (uint64_t)(sa->unlock_at_ms - now), 0);
			return;
		}
		delay = judge_unlock(sa, sc->conn, w->pass);
		secret_free(w->pass);
		w->pass = NULL;
		if (delay > 0) {
			uv_timer_start(
			    &w->timer, on_unlock_timer, (uint64_t)delay, 0);
			return;
		}
	} else
		ssh_fail(sc->conn, "wrong passphrase for the agent");
	unlock_wait_end(w);
	conn_done(sc->conn);
}

static int
handle_unlock(struct ssh_agent *sa, struct request *rq)
{
	struct ssh_unlock_wait *w;
	struct ssh_conn *sc;
	struct secret *pass = NULL;
	int64_t now = vault_now_ms(), wait;
	int r;

	if ((r = ssh_msg_lock(&rq->body, &pass)) != 0) {
		ssh_fail(rq->conn, "malformed UNLOCK");
		return JIT_OK;
	}
	if (!sa->ag->locked) {
		secret_free(pass);
		ssh_fail(rq->conn, "the agent is not locked");
		return JIT_OK;
	}
	if (now >= sa->unlock_at_ms) {
		wait = judge_unlock(sa, rq->conn, pass);
		secret_free(pass);
		pass = NULL;
		if (wait == 0)
			return JIT_OK;
	} else
		wait = sa->unlock_at_ms - now;
	if ((sc = ssh_conn_of(sa, rq->conn)) == NULL ||
	    (w = calloc(1, sizeof(*w))) == NULL) {
		secret_free(pass);
		ssh_fail(rq->conn, "out of memory");
		return JIT_OK;
	}
	w->sc = sc;
	w->pass = pass;
	uv_timer_init(sa->ag->loop, &w->timer);
	w->timer.data = w;
	sc->unlock = w;
	uv_timer_start(&w->timer, on_unlock_timer, (uint64_t)wait, 0);
	return AGENT_DEFERRED;
}

/* ssh-add -s waiting for the helper's keys. */
struct p11_add_wait {
	struct ssh_agent *sa;
	struct conn *conn;
	struct ssh_p11_load *load;
	uint8_t *cons; /* the constraints as sent: parsed again per key */
	size_t conslen;
};

static void
p11_add_free(struct p11_add_wait *w)
{
	if (w == NULL)
		return;
	free(w->cons);
	free(w);
}

static void
p11_add_cancel(void *arg)
{
	struct p11_add_wait *w = arg;

	ssh_p11_load_forget(w->load);
	p11_add_free(w);
}

static const char *
p11_load_error(int r, uint32_t code)
{
	switch (r) {
	case JIT_E_DENIED: return ssh_p11_fail_text(code);
	case JIT_E_TIMEOUT:
		return "its PKCS#11 helper did not answer in time (--touch-timeout) and was stopped";
	case JIT_E_IO:
		return "its PKCS#11 helper exited or broke the protocol (see the agent's log)";
	case JIT_E_CANCELLED:
		return "the provider was unloaded meanwhile (ssh-add -e, -D or a lock)";
	case JIT_E_LIMIT:
		return "the provider offers more keys than the agent takes from one provider";
	default: return "the helper's answer was malformed";
	}
}

/* One key of the provider as an identity with the request's constraints;
 * JIT_E_EXISTS if the agent holds it already (OpenSSH skips those). */
static int
p11_add_one(struct p11_add_wait *w, struct ssh_p11 *p, struct ssh_p11_key *pk)
{
	struct ssh_agent *sa = w->sa;
	struct ssh_identity *id;
	struct ssh_constraints c;
	struct wire_reader r;
	const uint8_t *blob;
	size_t n;
	int rc;

	blob = ssh_key_blob(pk->key, &n);
	if (identity_find(sa, blob, n) != NULL)
		return JIT_E_EXISTS;
	if (sa->nkeys >= SSH_KEYS_MAX)
		return JIT_E_LIMIT;
	memset(&c, 0, sizeof(c));
	wire_reader_init(&r, w->cons, w->conslen);
	if (w->cons != NULL && (rc = ssh_constraints_parse(&r, true, &c)) != 0)
		return rc;
	if ((id = calloc(1, sizeof(*id))) == NULL ||
	    (id->comment = strdup(
		 pk->label[0] != '\0' ? pk->label : p->provider)) == NULL) {
		free(id);
		ssh_constraints_free(&c);
		return JIT_E_NOMEM;
	}
	id->key = pk->key;
	pk->key = NULL;
	id->confirm = c.confirm;
	id->dests = c.dests;
	memset(&c.dests, 0, sizeof(c.dests));
	ssh_key_fingerprint(id->key, id->fp);
	if (sa->ag->fp_md5)
		ssh_key_fingerprint_md5(id->key, id->fp);
	if (!c.has_lifetime && sa->ag->ssh_default_life_s > 0) {
		c.has_lifetime = true;
		c.lifetime_s = (uint32_t)(sa->ag->ssh_default_life_s >
			    UINT32_MAX ?
			UINT32_MAX :
			sa->ag->ssh_default_life_s);
	}
	if (c.has_lifetime) {
		id->death_ms = vault_now_ms() + (int64_t)c.lifetime_s * 1000;
		if (sa->next_death_ms == 0 || id->death_ms < sa->next_death_ms)
			sa->next_death_ms = id->death_ms;
	}
	id->p11 = p;
	p->nkeys++;
	id->prev = sa->tail;
	if (sa->tail != NULL)
		sa->tail->next = id;
	else
		sa->head = id;
	sa->tail = id;
	sa->nkeys++;
	(void)audit_key(sa, "add", id,
	    c.has_lifetime ? "ssh-add -s -t (PKCS#11)" : "ssh-add -s (PKCS#11)",
	    conn_peer(w->conn));
	ssh_constraints_free(&c);
	return JIT_OK;
}

static void
p11_loaded(void *arg, struct ssh_p11 *p, int r, struct ssh_p11_keys *keys,
    uint32_t code)
{
	struct p11_add_wait *w = arg;
	struct conn *conn = w->conn;
	size_t i, added = 0, held = 0;
	int rc = JIT_OK;

	conn_set_cancel(conn, NULL, NULL);
	if (r != JIT_OK) {
		ssh_fail(conn, "ssh-add -s: %s", p11_load_error(r, code));
		goto out;
	}
	for (i = 0; i < keys->n && rc != JIT_E_LIMIT; i++) {
		if ((rc = p11_add_one(w, p, &keys->v[i])) == JIT_OK)
			added++;
		else if (rc == JIT_E_EXISTS)
			held++;
	}
	if (added == 0) {
		ssh_fail(conn, "ssh-add -s: %s",
		    rc == JIT_E_LIMIT ?
			"the agent holds its maximum of keys already" :
			held > 0 ?
			"the agent holds every key of the provider already" :
			jit_strerror(rc));
		/* No key signs through it: its helper is not needed. */
		ssh_p11_unload(p, false);
		goto out;
	}
	log_info("ssh-add -s: %zu key(s) from %s%s", added, p->provider,
	    held > 0 ? " (some were held already)" : "");
	ssh_rearm(w->sa);
	conn_reply_type(conn, SSH_AGENT_SUCCESS);
out:
	p11_add_free(w);
	conn_done(conn);
}

/* The bytes of the constraints that follow provider and PIN. */
static int
p11_constraints_bytes(
    const struct wire_reader *body, uint8_t **ret, size_t *ret_len)
{
	struct wire_reader r = *body;
	const uint8_t *s;
	size_t n;

	*ret = NULL;
	*ret_len = 0;
	if (wire_get_string(&r, SSH_PROVIDER_MAX, &s, &n) != 0 ||
	    wire_get_string(&r, SSH_PIN_MAX, &s, &n) != 0)
		return JIT_E_FORMAT;
	if ((n = wire_left(&r)) == 0)
		return JIT_OK;
	if ((*ret = malloc(n)) == NULL)
		return JIT_E_NOMEM;
	memcpy(*ret, wire_cursor(&r), n);
	*ret_len = n;
	return JIT_OK;
}

static int
p11_add(struct ssh_agent *sa, struct request *rq, const char *real,
    const struct ssh_smartcard_msg *m, const uint8_t *cons, size_t conslen)
{
	struct p11_add_wait *w;
	char shown[LOG_STR_MAX], host[SSH_FP_LEN];
	int r;

	esc(real, shown, sizeof(shown));
	/* As OpenSSH 9.4's ssh-agent: not from a forwarded agent. */
	if (ssh_forwarded(rq, host) && !sa->ag->pkcs11_remote_ok) {
		ssh_fail(rq->conn,
		    "refusing ssh-add -s of %s through a forwarded agent: start the agent with -O allow-remote-pkcs11 to allow it",
		    shown);
		return JIT_OK;
	}
	if (m->c.has_certs) {
		ssh_fail(rq->conn,
		    "ssh-add -s: certificates for PKCS#11 keys are not supported; add them with ssh-add instead");
		return JIT_OK;
	}
	if (m->c.confirm && !askpass_available()) {
		ssh_fail(rq->conn,
		    "cannot add the provider's keys with -c: confirming each use asks through an askpass program, and the agent has none (start it with SSH_ASKPASS set, or with a display)");
		return JIT_OK;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		ssh_fail(rq->conn, "out of memory");
		return JIT_OK;
	}
	w->sa = sa;
	w->conn = rq->conn;
	if (conslen > 0) {
		if ((w->cons = malloc(conslen)) == NULL) {
			p11_add_free(w);
			ssh_fail(rq->conn, "out of memory");
			return JIT_OK;
		}
		memcpy(w->cons, cons, conslen);
		w->conslen = conslen;
	}
	if ((r = ssh_p11_load(sa, real, m->pin, sa->ag->touch_timeout_ms,
		 p11_loaded, w, &w->load)) != 0) {
		p11_add_free(w);
		if (r == JIT_E_EXISTS)
			ssh_fail(rq->conn,
			    "ssh-add -s: the PKCS#11 provider %s is loaded already; remove it with ssh-add -e first",
			    shown);
		else if (r == JIT_E_LIMIT)
			ssh_fail(rq->conn,
			    "ssh-add -s: the agent runs %d PKCS#11 providers already; remove one with ssh-add -e",
			    SSH_P11_PROVIDERS_MAX);
		else
			ssh_fail(rq->conn,
			    "ssh-add -s: cannot start the PKCS#11 helper %s: %s; install OpenSSH's ssh-pkcs11-helper or name it in SSH_PKCS11_HELPER",
			    p11helper_path(), jit_strerror(r));
		return JIT_OK;
	}
	conn_set_cancel(rq->conn, p11_add_cancel, w);
	return AGENT_DEFERRED;
}

/* Remove the keys that sign through p (which unloads it with the last);
 * how many. */
static size_t
p11_remove_keys(struct ssh_agent *sa, struct ssh_p11 *p, const char *why,
    const struct peer *peer)
{
	struct ssh_identity *id, *next;
	size_t n = 0, left = p->nkeys;

	for (id = sa->head; id != NULL && left > 0; id = next) {
		next = id->next;
		if (id->p11 != p)
			continue;
		identity_unlink(sa, id);
		(void)audit_key(sa, "remove", id, why, peer);
		left--;
		n++;
		identity_free(id); /* the last one frees p */
	}
	return n;
}

/* The agent's p11_gone: a helper died; its keys cannot sign any more. */
static void
p11_gone(struct ssh_agent *sa, struct ssh_p11 *p, const char *why)
{
	char text[256];

	snprintf(text, sizeof(text), "its PKCS#11 helper %s", why);
	(void)p11_remove_keys(sa, p, text, NULL);
}

/* Every provider's keys and helpers (ssh-add -D, a lock, the exit). */
static size_t
p11_remove_all(struct ssh_agent *sa, const char *why, const struct peer *peer)
{
	size_t n = 0;

	while (sa->p11s != NULL) {
		if (sa->p11s->nkeys > 0)
			n += p11_remove_keys(sa, sa->p11s, why, peer);
		else
			ssh_p11_unload(sa->p11s, false);
	}
	return n;
}

static int
handle_smartcard(struct ssh_agent *sa, struct request *rq)
{
	struct ssh_smartcard_msg m;
	struct ssh_p11 *p;
	uint8_t *cons = NULL;
	size_t conslen = 0;
	char *real = NULL, shown[LOG_STR_MAX];
	int e, r = JIT_OK;

	if (p11_constraints_bytes(&rq->body, &cons, &conslen) != 0 ||
	    ssh_msg_smartcard(&rq->body,
		rq->type == SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED,
		&m) != 0) {
		free(cons);
		ssh_fail(rq->conn, "malformed PKCS#11 provider request");
		return JIT_OK;
	}
	sa->p11_gone = p11_gone;
	/* As ssh-agent: the resolved path must match -P before anything. */
	if ((real = realpath(m.provider, NULL)) == NULL) {
		e = errno;
		esc(m.provider, shown, sizeof(shown));
		ssh_fail(rq->conn,
		    "cannot find the PKCS#11 provider %s: %s; name an existing library to ssh-add -s",
		    shown, strerror(e));
		goto out;
	}
	esc(real, shown, sizeof(shown));
	if (rq->type == SSH_AGENTC_REMOVE_SMARTCARD_KEY) {
		if ((p = ssh_p11_find(sa, real)) == NULL) {
			ssh_fail(rq->conn,
			    "ssh-add -e: the PKCS#11 provider %s is not loaded",
			    shown);
			goto out;
		}
		if (p->nkeys > 0)
			(void)p11_remove_keys(sa, p, "ssh-add -e", rq->peer);
		else
			ssh_p11_unload(p, false);
		ssh_rearm(sa);
		conn_reply_type(rq->conn, SSH_AGENT_SUCCESS);
		goto out;
	}
	if (!ssh_provider_allowed(sa->ag->providers, real)) {
		ssh_fail(rq->conn,
		    "the PKCS#11 provider %s is not allowed by -P (%s); start the agent with -P naming it to use it",
		    shown, sa->ag->providers);
		goto out;
	}
	r = p11_add(sa, rq, real, &m,
	    rq->type == SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED ? cons : NULL,
	    rq->type == SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED ? conslen : 0);
out:
	free(cons);
	free(real);
	ssh_smartcard_msg_free(&m); /* wipes the PIN */
	return r;
}

int
ssh_request(struct agent *ag, struct request *rq)
{
	struct ssh_agent *sa;

	if ((sa = ssh_agent_of(ag)) == NULL) {
		ssh_fail(rq->conn, "out of memory");
		return JIT_OK;
	}
	/* The shared timer reaps the keys of ssh-add -t (ssh-state.c). */
	sa->reap_keys = reap;
	/* Locked: lists are empty, everything but UNLOCK fails. */
	if (ag->locked && rq->type != SSH_AGENTC_UNLOCK) {
		if (rq->type == SSH_AGENTC_REQUEST_IDENTITIES)
			return reply_list(sa, rq, true);
		ssh_fail(
		    rq->conn, "the agent is locked (ssh-add -X unlocks it)");
		return JIT_OK;
	}
	switch (rq->type) {
	case SSH_AGENTC_REQUEST_IDENTITIES: return handle_list(sa, rq);
	case SSH_AGENTC_SIGN_REQUEST: return handle_sign(sa, rq);
	case SSH_AGENTC_ADD_IDENTITY:
	case SSH_AGENTC_ADD_ID_CONSTRAINED: return handle_add(sa, rq);
	case SSH_AGENTC_REMOVE_IDENTITY: return handle_remove(sa, rq);
	case SSH_AGENTC_REMOVE_ALL_IDENTITIES:
	case SSH_AGENTC_REMOVE_ALL_RSA_IDENTITIES:
		/* ssh-add -D sends the SSH1 one too; ssh-agent takes both. */
		return handle_remove_all(sa, rq);
	case SSH_AGENTC_LOCK: return handle_lock(sa, rq);
	case SSH_AGENTC_UNLOCK: return handle_unlock(sa, rq);
	case SSH_AGENTC_ADD_SMARTCARD_KEY:
	case SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED:
	case SSH_AGENTC_REMOVE_SMARTCARD_KEY: return handle_smartcard(sa, rq);
	default:
		ssh_fail(rq->conn, "unknown message type %u", rq->type);
		return JIT_OK;
	}
}

int
ssh_session_bind(struct agent *ag, struct request *rq)
{
	struct ssh_agent *sa;
	struct ssh_conn *sc;
	char fp[SSH_FP_LEN];
	int r;

	if ((sa = ssh_agent_of(ag)) == NULL ||
	    (sc = ssh_conn_of(sa, rq->conn)) == NULL) {
		conn_reply_type(rq->conn, SSH_AGENT_EXTENSION_FAILURE);
		return JIT_OK;
	}
	if ((r = ssh_bind_request(&rq->body, &sc->binds)) != 0) {
		log_info("session bind refused: %s",
		    r == JIT_E_AUTH ?
			"the host key's signature does not verify" :
			r == JIT_E_DENIED ?
			"the connection is bound for authentication, or the session id is bound to another host key" :
			jit_strerror(r));
		conn_reply_type(rq->conn, SSH_AGENT_EXTENSION_FAILURE);
		return JIT_OK;
	}
	ssh_conn_host_fp(sc, fp);
	log_debug("connection of pid %d bound to host key %s%s",
	    (int)rq->peer->pid, fp,
	    sc->binds.v[sc->binds.n - 1].forwarded ? " (forwarding)" : "");
	conn_reply_type(rq->conn, SSH_AGENT_SUCCESS);
	return JIT_OK;
}

size_t
ssh_keys_on_lock(struct agent *ag, const char *trigger)
{
	struct ssh_agent *sa = ag->ssh;
	struct ssh_identity *id;
	size_t n = 0;

	/* ssh-add -x keeps them, behind its passphrase (as ssh-agent). */
	if (sa == NULL || ag->locked)
		return 0;
	/* A token's keys are never held: the helper logged in with the
	 * PIN is stopped, and ssh-add -s must ask for the PIN again. */
	n = p11_remove_all(sa, trigger, NULL);
	if (ag->conf != NULL &&
	    ag->conf->ssh_keys_on_lock == CONF_SSH_KEYS_HOLD) {
		for (id = sa->head; id != NULL; id = id->next)
			if (!id->held) {
				id->held = true;
				n++;
			}
		if (n > 0)
			log_info("%zu ssh-add key(s) held by the lock (%s)", n,
			    trigger);
		return n;
	}
	while ((id = sa->head) != NULL) {
		identity_unlink(sa, id);
		identity_free(id);
		n++;
	}
	sa->next_death_ms = 0;
	if (n > 0)
		log_info(
		    "%zu ssh-add key(s) removed by the lock (%s)", n, trigger);
	return n;
}

void
ssh_on_unlocked(struct agent *ag, struct cred *c, const struct secret *fields)
{
	struct ssh_identity *id;

	if (ag->ssh != NULL)
		for (id = ag->ssh->head; id != NULL; id = id->next)
			id->held = false;
	ssh_cred_unlocked(ag, c, fields);
}

static void
sa_closed(uv_handle_t *h)
{
	free(h->data);
}

void
ssh_agent_free(struct agent *ag)
{
	struct ssh_agent *sa = ag->ssh;
	struct ssh_identity *id;

	if (sa == NULL)
		return;
	/* The helpers are killed now: the loop will not run to reap them. */
	for (id = sa->head; id != NULL; id = id->next)
		id->p11 = NULL;
	while (sa->p11s != NULL)
		ssh_p11_unload(sa->p11s, true);
	while ((id = sa->head) != NULL) {
		identity_unlink(sa, id);
		identity_free(id);
	}
	ssh_cred_free_all(sa);
	secret_free(sa->lock_hash);
	sa->lock_hash = NULL;
	ag->ssh = NULL;
	uv_timer_stop(&sa->timer);
	uv_close((uv_handle_t *)&sa->timer, sa_closed);
}

bool
ssh_forwarded(struct request *rq, char host_fp[SSH_FP_LEN])
{
	const struct ssh_conn *sc = ssh_conn_peek(rq->conn);

	host_fp[0] = '\0';
	if (sc == NULL || !sc->binds.attempted)
		return false;
	ssh_conn_host_fp(sc, host_fp);
	return true;
}

void
ssh_conn_free(void *state)
{
	struct ssh_conn *sc = state;

	if (sc == NULL)
		return;
	sc->conn = NULL;
	if (sc->unlock != NULL)
		unlock_wait_end(sc->unlock);
	if (sc->ask != NULL) {
		askpass_cancel(sc->ask);
		if (sc->ask_free != NULL)
			sc->ask_free(sc->ask_arg);
	}
	ssh_binds_free(&sc->binds);
	free(sc);
}
