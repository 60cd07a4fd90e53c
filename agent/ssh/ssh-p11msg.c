/* OpenSSH's ssh-pkcs11-helper protocol: requests made and replies parsed whole, with no state. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "proto.h"
#include "secret.h"
#include "ssh-key.h"
#include "ssh-p11msg.h"
#include "wire.h"

int
ssh_p11_add_request(
    const char *provider, const struct secret *pin, struct secret **ret)
{
	struct wire_writer w;
	int r;

	wire_writer_init(&w, SSH_P11_REQUEST_MAX, true);
	if ((r = wire_put_u8(&w, SSH_AGENTC_ADD_SMARTCARD_KEY)) != 0 ||
	    (r = wire_put_cstring(&w, provider)) != 0 ||
	    (r = wire_put_string(&w,
		 pin != NULL ? secret_ptr(pin) : (const uint8_t *)"",
		 pin != NULL ? secret_len(pin) : 0)) != 0 ||
	    (r = wire_writer_take_secret(&w, ret)) != 0) {
		wire_writer_reset(&w);
		return r;
	}
	return JIT_OK;
}

int
ssh_p11_sign_request(const struct ssh_key *k, const uint8_t *tbs, size_t len,
    struct secret **ret)
{
	struct wire_writer w;
	const uint8_t *blob;
	size_t n;
	int r;

	blob = ssh_key_plain_blob(k, &n);
	wire_writer_init(&w, SSH_P11_REQUEST_MAX, true);
	if ((r = wire_put_u8(&w, SSH_AGENTC_SIGN_REQUEST)) != 0 ||
	    (r = wire_put_string(&w, blob, n)) != 0 ||
	    (r = wire_put_string(&w, tbs, len)) != 0 ||
	    (r = wire_put_u32(&w, 0)) != 0 ||
	    (r = wire_writer_take_secret(&w, ret)) != 0) {
		wire_writer_reset(&w);
		return r;
	}
	return JIT_OK;
}

void
ssh_p11_keys_free(struct ssh_p11_keys *k)
{
	size_t i;

	if (k == NULL)
		return;
	for (i = 0; i < k->n; i++) {
		ssh_key_free(k->v[i].key);
		free(k->v[i].label);
	}
	free(k->v);
	k->v = NULL;
	k->n = 0;
}

int
ssh_p11_add_reply(
    const uint8_t *p, size_t len, struct ssh_p11_keys *ret, uint32_t *ret_code)
{
	struct ssh_p11_keys ks = { NULL, 0 };
	struct wire_reader r;
	const uint8_t *blob;
	size_t bloblen;
	uint32_t n, i;
	uint8_t type;
	int rc;

	*ret_code = 0;
	wire_reader_init(&r, p, len);
	if ((rc = wire_get_u8(&r, &type)) != 0)
		return JIT_E_FORMAT;
	if (type == SSH_AGENT_FAILURE) {
		/* OpenSSH's helper sends the error's number (0: no key). */
		if (wire_get_u32(&r, &n) != 0 || wire_end(&r) != 0)
			return JIT_E_FORMAT;
		*ret_code = n;
		return JIT_E_DENIED;
	}
	if (type != SSH_AGENT_IDENTITIES_ANSWER || wire_get_u32(&r, &n) != 0 ||
	    n == 0)
		return JIT_E_FORMAT;
	if (n > SSH_P11_KEYS_MAX)
		return JIT_E_LIMIT;
	if ((ks.v = calloc(n, sizeof(*ks.v))) == NULL)
		return JIT_E_NOMEM;
	for (i = 0; i < n; i++) {
		if ((rc = wire_get_string(
			 &r, SSH_KEY_BLOB_MAX, &blob, &bloblen)) != 0 ||
		    (rc = wire_get_cstring(
			 &r, SSH_P11_LABEL_MAX, &ks.v[i].label)) != 0)
			goto fail;
		ks.n++;
		if ((rc = ssh_key_from_blob(blob, bloblen, &ks.v[i].key)) != 0)
			goto fail;
		/* A token's keys are plain: a certificate here is a lie. */
		if (ssh_key_cert(ks.v[i].key) != NULL) {
			rc = JIT_E_FORMAT;
			goto fail;
		}
	}
	if ((rc = wire_end(&r)) != 0)
		goto fail;
	*ret = ks;
	return JIT_OK;
fail:
	ssh_p11_keys_free(&ks);
	return rc == JIT_E_LIMIT || rc == JIT_E_NOMEM ? rc : JIT_E_FORMAT;
}

int
ssh_p11_sign_reply(
    const uint8_t *p, size_t len, const uint8_t **ret_sig, size_t *ret_len)
{
	struct wire_reader r;
	uint8_t type;

	wire_reader_init(&r, p, len);
	if (wire_get_u8(&r, &type) != 0)
		return JIT_E_FORMAT;
	if (type == SSH_AGENT_FAILURE)
		return wire_end(&r) == 0 ? JIT_E_DENIED : JIT_E_FORMAT;
	if (type != SSH_AGENT_SIGN_RESPONSE ||
	    wire_get_string(&r, SSH_P11_SIG_MAX, ret_sig, ret_len) != 0 ||
	    *ret_len == 0 || wire_end(&r) != 0)
		return JIT_E_FORMAT;
	return JIT_OK;
}

const char *
ssh_p11_fail_text(uint32_t code)
{
	switch (code) {
	case 0:
		/* OpenSSH 9.2's helper says 0 for a login the token refused
		 * too: it cannot tell the two apart for us. */
		return "the provider gave no key: the token refused the PIN, or holds no key (the helper logs which to syslog); run ssh-add -s again with the right PIN";
	case SSH_P11_ERR_LOGIN_FAIL:
		return "the token refused the PIN: run ssh-add -s again with the right PIN";
	case SSH_P11_ERR_NO_SLOTS:
		return "the provider found no token: insert it and run ssh-add -s again";
	case SSH_P11_ERR_PIN_REQUIRED:
		return "the token needs a PIN: run ssh-add -s and type it when asked";
	case SSH_P11_ERR_PIN_LOCKED:
		return "the token's PIN is locked: unblock it with the token's own tool";
	default:
		return "the provider could not load its keys (the helper logs why to syslog)";
	}
}
