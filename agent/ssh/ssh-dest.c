/* Session binds and destination constraints (ssh-add -h), as OpenSSH 9 rules. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "err.h"
#include "ssh-dest.h"
#include "ssh-key.h"

#define SSH2_MSG_USERAUTH_REQUEST 50
#define RESERVED_MAX 1024

bool
ssh_key_same(const struct ssh_key *a, const struct ssh_key *b)
{
	if ((ssh_key_cert(a) != NULL) != (ssh_key_cert(b) != NULL))
		return false;
	if (ssh_key_cert(a) != NULL)
		return ssh_key_equal(a, b);
	return ssh_key_equal_plain(a, b);
}

static void
hop_free(struct ssh_dest_hop *h)
{
	size_t i;

	free(h->user);
	free(h->hostname);
	for (i = 0; i < h->nkeys; i++)
		ssh_key_free(h->keys[i]);
	free(h->keys);
	free(h->is_ca);
	memset(h, 0, sizeof(*h));
}

void
ssh_dests_free(struct ssh_dests *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		hop_free(&d->v[i].from);
		hop_free(&d->v[i].to);
	}
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

/* An empty string means "none" for the user and the host name. */
static int
get_opt_cstring(struct wire_reader *r, size_t max, char **ret)
{
	int rc;

	if ((rc = wire_get_cstring(r, max, ret)) != 0)
		return rc;
	if ((*ret)[0] == '\0') {
		free(*ret);
		*ret = NULL;
	}
	return JIT_OK;
}

static int
hop_parse(struct wire_reader *r, struct ssh_dest_hop *h)
{
	const uint8_t *p, *blob;
	struct ssh_key **nk;
	size_t n, bloblen;
	bool *nc;
	uint8_t ca;
	int rc;

	if ((rc = get_opt_cstring(r, SSH_DEST_USER_MAX, &h->user)) != 0 ||
	    (rc = get_opt_cstring(r, SSH_DEST_HOST_MAX, &h->hostname)) != 0 ||
	    (rc = wire_get_string(r, RESERVED_MAX, &p, &n)) != 0)
		return rc;
	if (n != 0)
		return JIT_E_UNSUPPORTED; /* hop extensions: none known */
	while (wire_left(r) > 0) {
		if (h->nkeys >= SSH_DEST_KEYS_MAX)
			return JIT_E_LIMIT;
		if ((nk = reallocarray(h->keys, h->nkeys + 1, sizeof(*nk))) ==
		    NULL)
			return JIT_E_NOMEM;
		h->keys = nk;
		if ((nc = reallocarray(h->is_ca, h->nkeys + 1, sizeof(*nc))) ==
		    NULL)
			return JIT_E_NOMEM;
		h->is_ca = nc;
		if ((rc = wire_get_string(
			 r, SSH_KEY_BLOB_MAX, &blob, &bloblen)) != 0 ||
		    (rc = wire_get_u8(r, &ca)) != 0 ||
		    (rc = ssh_key_from_blob(
			 blob, bloblen, &h->keys[h->nkeys])) != 0)
			return rc;
		h->is_ca[h->nkeys++] = ca != 0;
	}
	return JIT_OK;
}

static int
dest_parse(struct wire_reader *r, struct ssh_dest *d)
{
	struct wire_reader c, from, to;
	const uint8_t *p;
	size_t n;
	int rc;

	if ((rc = wire_get_sub(r, SSH_DEST_BODY_MAX, &c)) != 0 ||
	    (rc = wire_get_sub(&c, SSH_DEST_BODY_MAX, &from)) != 0 ||
	    (rc = wire_get_sub(&c, SSH_DEST_BODY_MAX, &to)) != 0 ||
	    (rc = wire_get_string(&c, RESERVED_MAX, &p, &n)) != 0 ||
	    (rc = wire_end(&c)) != 0)
		return rc;
	if ((rc = hop_parse(&from, &d->from)) != 0 ||
	    (rc = hop_parse(&to, &d->to)) != 0)
		return rc;
	if (n != 0)
		return JIT_E_UNSUPPORTED;
	/* The first hop starts here (no host, no keys), or names both; a
	 * "to" needs both; no user on the "from" side. */
	if ((d->from.hostname == NULL) != (d->from.nkeys == 0) ||
	    d->from.user != NULL)
		return JIT_E_FORMAT;
	if (d->to.hostname == NULL || d->to.nkeys == 0)
		return JIT_E_FORMAT;
	return JIT_OK;
}

int
ssh_dests_parse(struct wire_reader *r, struct ssh_dests *d)
{
	struct wire_reader body;
	struct ssh_dest *nv;
	int rc;

	if ((rc = wire_get_sub(r, SSH_DEST_BODY_MAX, &body)) != 0)
		return rc;
	while (wire_left(&body) > 0) {
		if (d->n >= SSH_DEST_MAX)
			return JIT_E_LIMIT;
		if ((nv = reallocarray(d->v, d->n + 1, sizeof(*nv))) == NULL)
			return JIT_E_NOMEM;
		d->v = nv;
		memset(&d->v[d->n], 0, sizeof(d->v[d->n]));
		d->n++;
		if ((rc = dest_parse(&body, &d->v[d->n - 1])) != 0)
			return rc;
	}
	return JIT_OK;
}

void
ssh_binds_free(struct ssh_binds *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		ssh_key_free(b->v[i].hostkey);
	memset(b, 0, sizeof(*b));
}

int
ssh_bind_request(struct wire_reader *r, struct ssh_binds *b)
{
	struct ssh_key *key = NULL;
	const uint8_t *blob, *sid, *sig;
	size_t bloblen, sidlen, siglen, i;
	bool sid_match;
	uint8_t fwd;
	int rc;

	b->attempted = true;
	if ((rc = wire_get_string(r, SSH_KEY_BLOB_MAX, &blob, &bloblen)) != 0 ||
	    (rc = wire_get_string(r, SSH_SID_MAX, &sid, &sidlen)) != 0 ||
	    (rc = wire_get_string(r, SSH_SIG_BLOB_MAX, &sig, &siglen)) != 0 ||
	    (rc = wire_get_u8(r, &fwd)) != 0 || (rc = wire_end(r)) != 0)
		return rc;
	if (sidlen == 0)
		return JIT_E_FORMAT;
	if ((rc = ssh_key_from_blob(blob, bloblen, &key)) != 0)
		return rc;
	if ((rc = ssh_key_verify(key, sig, siglen, sid, sidlen)) != 0)
		goto out;
	for (i = 0; i < b->n; i++) {
		/* A connection bound for authentication stays so. */
		if (!b->v[i].forwarded) {
			rc = JIT_E_DENIED;
			goto out;
		}
		sid_match = b->v[i].sidlen == sidlen &&
		    sodium_memcmp(b->v[i].sid, sid, sidlen) == 0;
		if (sid_match) {
			rc = ssh_key_same(key, b->v[i].hostkey) ? JIT_OK :
								  JIT_E_DENIED;
			goto out;
		}
	}
	if (b->n >= SSH_BIND_MAX) {
		rc = JIT_E_LIMIT;
		goto out;
	}
	b->v[b->n].hostkey = key;
	memcpy(b->v[b->n].sid, sid, sidlen);
	b->v[b->n].sidlen = sidlen;
	b->v[b->n].forwarded = fwd != 0;
	b->n++;
	key = NULL;
	rc = JIT_OK;
out:
	ssh_key_free(key);
	return rc;
}

/* A host certificate valid now for host, signed by a CA we were given. */
static bool
host_cert_ok(const struct ssh_cert *c, const char *host)
{
	uint64_t now = (uint64_t)time(NULL);
	size_t i;

	if (c->type != SSH_CERT_HOST || now < c->valid_after ||
	    now >= c->valid_before || c->ncritical != 0)
		return false;
	if (c->nprincipals == 0)
		return true;
	for (i = 0; i < c->nprincipals; i++)
		if (ssh_pattern_match(c->principals[i], host))
			return true;
	return false;
}

static bool
hop_matches(const struct ssh_key *key, const struct ssh_dest_hop *h)
{
	const struct ssh_cert *cert = ssh_key_cert(key);
	size_t i;

	for (i = 0; i < h->nkeys; i++) {
		if (cert == NULL) {
			if (!h->is_ca[i] && ssh_key_same(key, h->keys[i]))
				return true;
			continue;
		}
		if (!h->is_ca[i] || !ssh_key_same(cert->ca, h->keys[i]))
			continue;
		if (host_cert_ok(
			cert, h->hostname != NULL ? h->hostname : "(ORIGIN)"))
			return true;
	}
	return false;
}

/* Some constraint allows the step fromkey -> tokey (NULL: the origin, or
 * any next hop) for user (NULL: any). */
static bool
step_allowed(const struct ssh_dests *d, const struct ssh_key *fromkey,
    const struct ssh_key *tokey, const char *user, const char **ret_host)
{
	const struct ssh_dest *c;
	size_t i;

	for (i = 0; i < d->n; i++) {
		c = &d->v[i];
		if (fromkey == NULL) {
			if (c->from.hostname != NULL || c->from.nkeys != 0)
				continue;
		} else if (!hop_matches(fromkey, &c->from))
			continue;
		if (tokey != NULL && !hop_matches(tokey, &c->to))
			continue;
		if (c->to.user != NULL && user != NULL &&
		    !ssh_pattern_match(user, c->to.user))
			continue;
		if (ret_host != NULL)
			*ret_host = c->to.hostname;
		return true;
	}
	return false;
}

int
ssh_dest_permitted(const struct ssh_dests *d, const struct ssh_binds *b,
    const char *user, const char **ret_host)
{
	const struct ssh_key *fromkey = NULL;
	const struct ssh_bind *last;
	size_t i;

	if (ret_host != NULL)
		*ret_host = NULL;
	if (d->n == 0)
		return JIT_OK;
	/* A connection whose bind failed is no longer trusted with it. */
	if (b->attempted && b->n == 0)
		return JIT_E_DENIED;
	if (b->n == 0)
		return JIT_OK; /* used here, on this machine */
	for (i = 0; i < b->n; i++) {
		if (i == b->n - 1) {
			/* Sign (user given) only on a bind for authentication. */
			if (b->v[i].forwarded && user != NULL)
				return JIT_E_DENIED;
		} else if (!b->v[i].forwarded)
			return JIT_E_DENIED;
		if (!step_allowed(d, fromkey, b->v[i].hostkey,
			i == b->n - 1 ? user : NULL,
			i == b->n - 1 ? ret_host : NULL))
			return JIT_E_DENIED;
		fromkey = b->v[i].hostkey;
	}
	/* Listed through a forwarding: only if it may go on from there. */
	last = &b->v[b->n - 1];
	if (last->forwarded && user == NULL &&
	    !step_allowed(d, last->hostkey, NULL, NULL, NULL))
		return JIT_E_DENIED;
	return JIT_OK;
}

void
ssh_userauth_free(struct ssh_userauth *u)
{
	free(u->user);
	ssh_key_free(u->hostkey);
	memset(u, 0, sizeof(*u));
}

int
ssh_userauth_parse(const uint8_t *data, size_t len, const struct ssh_key *key,
    struct ssh_userauth *ret)
{
	struct wire_reader r;
	struct ssh_userauth u;
	struct ssh_key *mkey = NULL;
	const uint8_t *blob;
	size_t bloblen;
	char *service = NULL, *method = NULL, *alg = NULL;
	uint8_t type, sig_follows;
	int rc;

	memset(&u, 0, sizeof(u));
	wire_reader_init(&r, data, len);
	if ((rc = wire_get_string(&r, SSH_SID_MAX, &u.sid, &u.sidlen)) != 0 ||
	    (rc = wire_get_u8(&r, &type)) != 0 ||
	    (rc = wire_get_cstring(&r, SSH_USERAUTH_STR_MAX, &u.user)) != 0 ||
	    (rc = wire_get_cstring(&r, SSH_USERAUTH_STR_MAX, &service)) != 0 ||
	    (rc = wire_get_cstring(&r, SSH_USERAUTH_STR_MAX, &method)) != 0 ||
	    (rc = wire_get_u8(&r, &sig_follows)) != 0 ||
	    (rc = wire_get_cstring(&r, SSH_KEY_NAME_MAX, &alg)) != 0 ||
	    (rc = wire_get_string(&r, SSH_KEY_BLOB_MAX, &blob, &bloblen)) != 0)
		goto out;
	rc = JIT_E_FORMAT;
	if (u.sidlen == 0 || type != SSH2_MSG_USERAUTH_REQUEST ||
	    sig_follows != 1 || strcmp(service, "ssh-connection") != 0 ||
	    !ssh_key_alg_ok(key, alg))
		goto out;
	if ((rc = ssh_key_from_blob(blob, bloblen, &mkey)) != 0)
		goto out;
	if (!ssh_key_same(mkey, key)) {
		rc = JIT_E_FORMAT;
		goto out;
	}
	if (strcmp(method, "publickey-hostbound-v00@openssh.com") == 0) {
		if ((rc = wire_get_string(
			 &r, SSH_KEY_BLOB_MAX, &blob, &bloblen)) != 0 ||
		    (rc = ssh_key_from_blob(blob, bloblen, &u.hostkey)) != 0)
			goto out;
	} else if (strcmp(method, "publickey") != 0) {
		rc = JIT_E_FORMAT;
		goto out;
	}
	if ((rc = wire_end(&r)) != 0)
		goto out;
	*ret = u;
	memset(&u, 0, sizeof(u));
	rc = JIT_OK;
out:
	ssh_userauth_free(&u);
	ssh_key_free(mkey);
	free(service);
	free(method);
	free(alg);
	return rc;
}
