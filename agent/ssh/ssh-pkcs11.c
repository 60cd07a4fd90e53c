/*
 * PKCS#11 providers for ssh-add -s: which providers the agent may load,
 * and the OpenSSH ssh-pkcs11-helper that loads each one in a process of
 * its own, so that a vendor's library never runs inside the agent (see
 * docs/SECURITY.md).  As OpenSSH's ssh-agent does, the provider's path is
 * resolved first (realpath) and then matched against -P's comma-separated
 * fnmatch patterns, so a symbolic link cannot bring in a library from
 * elsewhere.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "p11helper.h"
#include "secret.h"
#include "ssh-agent.h"
#include "ssh-key.h"
#include "ssh-pkcs11.h"

bool
ssh_provider_allowed(const char *patterns, const char *real)
{
	const char *p = patterns, *end;
	char *pat;
	bool ok = false;

	while (!ok && p != NULL && *p != '\0') {
		end = strchr(p, ',');
		pat = strndup(p, end != NULL ? (size_t)(end - p) : strlen(p));
		if (pat == NULL)
			return false;
		ok = *pat != '\0' && fnmatch(pat, real, 0) == 0;
		free(pat);
		p = end != NULL ? end + 1 : NULL;
	}
	return ok;
}

struct ssh_p11_load {
	struct ssh_p11 *p;
	ssh_p11_load_cb *cb; /* NULL once forgotten */
	void *arg;
};

struct ssh_p11_sign {
	struct ssh_key *key; /* a copy: the identity may go meanwhile */
	uint32_t flags;
	uint8_t tbs[SSH_KEY_TBS_MAX];
	size_t tbslen;
	ssh_p11_sign_cb *cb; /* NULL once forgotten */
	void *arg;
};

struct ssh_p11 *
ssh_p11_find(struct ssh_agent *sa, const char *provider)
{
	struct ssh_p11 *p;

	for (p = sa->p11s; p != NULL; p = p->next)
		if (strcmp(p->provider, provider) == 0)
			return p;
	return NULL;
}

size_t
ssh_p11_count(const struct ssh_agent *sa)
{
	const struct ssh_p11 *p;
	size_t n = 0;

	for (p = sa->p11s; p != NULL; p = p->next)
		n++;
	return n;
}

void
ssh_p11_unload(struct ssh_p11 *p, bool at_exit)
{
	struct ssh_p11 **pp;

	if (p == NULL)
		return;
	for (pp = &p->sa->p11s; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	/* Its pending calls fail now, with p still whole. */
	p11helper_stop(p->h, at_exit);
	free(p->provider);
	free(p);
}

static bool
still_loaded(const struct ssh_agent *sa, const struct ssh_p11 *p)
{
	const struct ssh_p11 *q;

	for (q = sa->p11s; q != NULL; q = q->next)
		if (q == p)
			return true;
	return false;
}

static void
on_gone(void *arg, const char *why)
{
	struct ssh_p11 *p = arg;
	struct ssh_agent *sa = p->sa;
	char shown[256];

	log_escape(p->provider, strlen(p->provider), shown, sizeof(shown));
	log_info(
	    "the PKCS#11 helper for %s %s: its keys are removed; run ssh-add -s again to load them",
	    shown, why);
	if (sa->p11_gone != NULL)
		sa->p11_gone(sa, p, why);
	/* The keys' removal unloads it; if it had none, here. */
	if (still_loaded(sa, p))
		ssh_p11_unload(p, false);
}

static void
load_answered(void *arg, int r, const uint8_t *reply, size_t len)
{
	struct ssh_p11_load *l = arg;
	struct ssh_p11 *p = l->p;
	struct ssh_p11_keys keys = { NULL, 0 };
	uint32_t code = 0;

	if (r == JIT_OK)
		r = ssh_p11_add_reply(reply, len, &keys, &code);
	if (r != JIT_OK || l->cb == NULL) {
		if (r != JIT_OK && r != JIT_E_DENIED && r != JIT_E_CANCELLED)
			log_info(
			    "the PKCS#11 helper's answer to ssh-add -s was refused: %s",
			    jit_strerror(r));
		/* Nobody wants its keys, or there are none: stop it. */
		ssh_p11_unload(p, false);
		p = NULL;
	} else
		p->loaded = true;
	if (l->cb != NULL)
		l->cb(l->arg, p, r, &keys, code);
	ssh_p11_keys_free(&keys);
	free(l);
}

int
ssh_p11_load(struct ssh_agent *sa, const char *provider,
    const struct secret *pin, int64_t timeout_ms, ssh_p11_load_cb *cb,
    void *arg, struct ssh_p11_load **ret)
{
	struct ssh_p11 *p = NULL;
	struct ssh_p11_load *l = NULL;
	struct secret *req = NULL;
	int r;

	if (ssh_p11_find(sa, provider) != NULL)
		return JIT_E_EXISTS;
	if (ssh_p11_count(sa) >= SSH_P11_PROVIDERS_MAX)
		return JIT_E_LIMIT;
	if ((r = ssh_p11_add_request(provider, pin, &req)) != 0)
		return r;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->provider = strdup(provider)) == NULL ||
	    (l = calloc(1, sizeof(*l))) == NULL) {
		r = JIT_E_NOMEM;
		goto fail;
	}
	p->sa = sa;
	if ((r = p11helper_start(sa->ag->loop, on_gone, p, &p->h)) != 0)
		goto fail;
	p->next = sa->p11s;
	sa->p11s = p;
	l->p = p;
	l->cb = cb;
	l->arg = arg;
	if ((r = p11helper_call(p->h, req, SSH_P11_ADD_REPLY_MAX, timeout_ms,
		 load_answered, l, NULL)) != 0) {
		req = NULL; /* taken */
		free(l);
		ssh_p11_unload(p, false);
		return r;
	}
	*ret = l;
	return JIT_OK;
fail:
	secret_free(req);
	free(l);
	if (p != NULL)
		free(p->provider);
	free(p);
	return r;
}

void
ssh_p11_load_forget(struct ssh_p11_load *l)
{
	if (l != NULL)
		l->cb = NULL;
}

static void
sign_free(struct ssh_p11_sign *s)
{
	ssh_key_free(s->key);
	free(s);
}

static void
sign_answered(void *arg, int r, const uint8_t *reply, size_t len)
{
	struct ssh_p11_sign *s = arg;
	const uint8_t *raw;
	uint8_t *sig = NULL;
	size_t rawlen, siglen = 0;

	if (r == JIT_OK &&
	    (r = ssh_p11_sign_reply(reply, len, &raw, &rawlen)) == JIT_OK)
		r = ssh_key_ext_sig(s->key, s->flags, s->tbs, s->tbslen, raw,
		    rawlen, &sig, &siglen);
	if (s->cb != NULL) {
		s->cb(s->arg, r, sig, siglen);
		sig = NULL;
	}
	free(sig);
	sign_free(s);
}

int
ssh_p11_sign(struct ssh_p11 *p, const struct ssh_key *k, const uint8_t *data,
    size_t len, uint32_t flags, int64_t timeout_ms, ssh_p11_sign_cb *cb,
    void *arg, struct ssh_p11_sign **ret)
{
	struct ssh_p11_sign *s;
	struct secret *req = NULL;
	const uint8_t *blob;
	size_t n;
	int r;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return JIT_E_NOMEM;
	blob = ssh_key_plain_blob(k, &n);
	s->flags = flags;
	s->cb = cb;
	s->arg = arg;
	if ((r = ssh_key_from_blob(blob, n, &s->key)) != 0 ||
	    (r = ssh_key_ext_tbs(k, data, len, flags, s->tbs, &s->tbslen)) !=
		0 ||
	    (r = ssh_p11_sign_request(k, s->tbs, s->tbslen, &req)) != 0) {
		sign_free(s);
		return r;
	}
	if ((r = p11helper_call(p->h, req, SSH_P11_SIGN_REPLY_MAX, timeout_ms,
		 sign_answered, s, NULL)) != 0) {
		sign_free(s);
		return r;
	}
	*ret = s;
	return JIT_OK;
}

void
ssh_p11_sign_forget(struct ssh_p11_sign *s)
{
	if (s != NULL)
		s->cb = NULL;
}
