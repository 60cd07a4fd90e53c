/* The ssh-agent protocol's standard requests, parsed whole and with no state. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "secret.h"
#include "ssh-key.h"
#include "ssh-msg.h"

void
ssh_constraints_free(struct ssh_constraints *c)
{
	size_t i;

	free(c->sk_provider);
	ssh_dests_free(&c->dests);
	for (i = 0; i < c->ncerts; i++)
		ssh_key_free(c->certs[i]);
	free(c->certs);
	memset(c, 0, sizeof(*c));
}

static int
parse_certs(struct wire_reader *r, struct ssh_constraints *c)
{
	struct wire_reader body;
	struct ssh_key **nc;
	const uint8_t *blob;
	size_t len;
	uint8_t only;
	int rc;

	if ((rc = wire_get_u8(r, &only)) != 0 ||
	    (rc = wire_get_sub(r, SSH_DEST_BODY_MAX, &body)) != 0)
		return rc;
	c->certs_only = only != 0;
	while (wire_left(&body) > 0) {
		if (c->ncerts >= SSH_CERTS_MAX)
			return JIT_E_LIMIT;
		if ((nc = reallocarray(c->certs, c->ncerts + 1, sizeof(*nc))) ==
		    NULL)
			return JIT_E_NOMEM;
		c->certs = nc;
		if ((rc = wire_get_string(
			 &body, SSH_KEY_BLOB_MAX, &blob, &len)) != 0 ||
		    (rc = ssh_key_from_blob(blob, len, &c->certs[c->ncerts])) !=
			0)
			return rc;
		c->ncerts++;
	}
	return JIT_OK;
}

/* SSH_AGENT_CONSTRAIN_EXTENSION: a name, then what that name says. */
static int
parse_extension(
    struct wire_reader *r, bool smartcard, struct ssh_constraints *c)
{
	char *name = NULL;
	int rc;

	if ((rc = wire_get_cstring(r, SSH_EXT_NAME_MAX, &name)) != 0)
		return rc;
	if (strcmp(name, SSH_EXT_SK_PROVIDER) == 0) {
		if (smartcard || c->sk_provider != NULL)
			rc = JIT_E_FORMAT;
		else
			rc = wire_get_cstring(
			    r, SSH_PROVIDER_MAX, &c->sk_provider);
	} else if (strcmp(name, SSH_EXT_RESTRICT_DEST) == 0) {
		if (c->has_dests)
			rc = JIT_E_FORMAT;
		else {
			c->has_dests = true;
			rc = ssh_dests_parse(r, &c->dests);
		}
	} else if (strcmp(name, SSH_EXT_ASSOC_CERTS) == 0) {
		if (!smartcard || c->has_certs)
			rc = JIT_E_FORMAT;
		else {
			c->has_certs = true;
			rc = parse_certs(r, c);
		}
	} else
		rc = JIT_E_UNSUPPORTED;
	free(name);
	return rc;
}

int
ssh_constraints_parse(
    struct wire_reader *r, bool smartcard, struct ssh_constraints *c)
{
	uint8_t type;
	int rc;

	while (wire_left(r) > 0) {
		(void)wire_get_u8(r, &type);
		switch (type) {
		case SSH_AGENT_CONSTRAIN_LIFETIME:
			if (c->has_lifetime)
				return JIT_E_FORMAT;
			if ((rc = wire_get_u32(r, &c->lifetime_s)) != 0)
				return rc;
			c->has_lifetime = true;
			break;
		case SSH_AGENT_CONSTRAIN_CONFIRM:
			if (c->confirm)
				return JIT_E_FORMAT;
			c->confirm = true;
			break;
		case SSH_AGENT_CONSTRAIN_MAXSIGN:
			if (c->has_maxsign || smartcard)
				return JIT_E_FORMAT;
			if ((rc = wire_get_u32(r, &c->maxsign)) != 0)
				return rc;
			c->has_maxsign = true;
			break;
		case SSH_AGENT_CONSTRAIN_EXTENSION:
			if ((rc = parse_extension(r, smartcard, c)) != 0)
				return rc;
			break;
		default: return JIT_E_UNSUPPORTED;
		}
	}
	return JIT_OK;
}

void
ssh_add_msg_free(struct ssh_add_msg *m)
{
	ssh_key_free(m->key);
	free(m->comment);
	ssh_constraints_free(&m->c);
	memset(m, 0, sizeof(*m));
}

int
ssh_msg_add(struct wire_reader *body, struct ssh_add_msg *ret)
{
	struct ssh_add_msg m;
	int rc;

	memset(&m, 0, sizeof(m));
	if ((rc = ssh_key_from_agent(body, &m.key)) != 0 ||
	    (rc = wire_get_cstring(body, SSH_COMMENT_MAX, &m.comment)) != 0 ||
	    (rc = ssh_constraints_parse(body, false, &m.c)) != 0) {
		ssh_add_msg_free(&m);
		return rc;
	}
	*ret = m;
	return JIT_OK;
}

void
ssh_smartcard_msg_free(struct ssh_smartcard_msg *m)
{
	free(m->provider);
	secret_free(m->pin);
	ssh_constraints_free(&m->c);
	memset(m, 0, sizeof(*m));
}

int
ssh_msg_smartcard(struct wire_reader *body, bool with_constraints,
    struct ssh_smartcard_msg *ret)
{
	struct ssh_smartcard_msg m;
	int rc;

	memset(&m, 0, sizeof(m));
	if ((rc = wire_get_cstring(body, SSH_PROVIDER_MAX, &m.provider)) != 0 ||
	    (rc = wire_get_secret(body, SSH_PIN_MAX, &m.pin)) != 0 ||
	    (with_constraints &&
		(rc = ssh_constraints_parse(body, true, &m.c)) != 0) ||
	    (rc = wire_end(body)) != 0) {
		ssh_smartcard_msg_free(&m);
		return rc;
	}
	*ret = m;
	return JIT_OK;
}

int
ssh_msg_sign(struct wire_reader *body, struct ssh_sign_msg *ret)
{
	struct ssh_sign_msg m;
	int rc;

	memset(&m, 0, sizeof(m));
	if ((rc = wire_get_string(
		 body, SSH_KEY_BLOB_MAX, &m.blob, &m.bloblen)) != 0 ||
	    (rc = wire_get_string(
		 body, wire_left(body), &m.data, &m.datalen)) != 0 ||
	    (rc = wire_get_u32(body, &m.flags)) != 0 ||
	    (rc = wire_end(body)) != 0)
		return rc;
	*ret = m;
	return JIT_OK;
}

int
ssh_msg_remove(
    struct wire_reader *body, const uint8_t **ret_blob, size_t *ret_len)
{
	int rc;

	if ((rc = wire_get_string(body, SSH_KEY_BLOB_MAX, ret_blob, ret_len)) !=
		0 ||
	    (rc = wire_end(body)) != 0)
		return rc;
	return JIT_OK;
}

int
ssh_msg_lock(struct wire_reader *body, struct secret **ret)
{
	struct secret *pass = NULL;
	int rc;

	if ((rc = wire_get_secret(body, SSH_PASSPHRASE_MAX, &pass)) != 0)
		return rc;
	if ((rc = wire_end(body)) != 0) {
		secret_free(pass);
		return rc;
	}
	*ret = pass;
	return JIT_OK;
}
