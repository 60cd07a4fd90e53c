/* libFuzzer harness: one ssh-agent request (type byte, body) through the standard messages' parsers. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "log.h"
#include "proto.h"
#include "secret.h"
#include "ssh-dest.h"
#include "ssh-key.h"
#include "ssh-msg.h"
#include "wire.h"

/*
 * The input is what dispatch() sees of a frame: the type byte, then the
 * body.  Each standard type goes to the parser the agent uses for it
 * (agent/ssh-msg.c, ssh-key.c, ssh-dest.c): ADD_IDENTITY and
 * ADD_ID_CONSTRAINED with every constraint (lifetime, confirm, maxsign,
 * sk-provider, restrict-destination-v00, associated-certs-v00 through the
 * smartcard messages), SIGN_REQUEST with the key blob and the data as a
 * userauth request, REMOVE_IDENTITY, LOCK/UNLOCK, and the
 * session-bind@openssh.com extension.  What parses is then used, and the
 * harness checks the promises the agent relies on: a parsed blob is the
 * input's bytes, a private key's signature verifies with its public half
 * parsed back from its blob, an unbound connection may use any key.
 * Seeds: tests/fuzz/corpus/ssh-dispatch, frames recorded from ssh-add,
 * ssh and ssh-keygen -Y (tests/fuzz/record-ssh-frames.py).
 */

/* Signing with a big hostile RSA key is slow, not interesting. */
#define SIGN_BITS_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz-ssh-dispatch: %s:%d: %s\n", \
			    __FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

static const uint8_t probe[] = "fuzz-ssh-dispatch probe";

/* A parsed public key is exactly its blob, and parses again the same. */
static void
check_public(const struct ssh_key *k, const uint8_t *blob, size_t len)
{
	struct ssh_key *again = NULL;
	const uint8_t *b;
	char fp[SSH_FP_LEN];
	size_t n;

	b = ssh_key_blob(k, &n);
	CHECK(n == len && memcmp(b, blob, len) == 0);
	CHECK(ssh_key_from_blob(b, n, &again) == JIT_OK);
	CHECK(ssh_key_equal(k, again) && ssh_key_same(k, again));
	ssh_key_fingerprint(k, fp);
	CHECK(strncmp(fp, "SHA256:", 7) == 0 && strlen(fp) == 50);
	ssh_key_free(again);
}

static void
check_private(const struct ssh_key *k)
{
	struct ssh_key *pub = NULL;
	const uint8_t *b;
	uint8_t *sig = NULL;
	size_t n, siglen;
	uint32_t flags = SSH_AGENT_RSA_SHA2_512;

	b = ssh_key_blob(k, &n);
	CHECK(ssh_key_from_blob(b, n, &pub) == JIT_OK);
	if (ssh_key_bits(k) <= SIGN_BITS_MAX) {
		CHECK(ssh_key_sign(k, probe, sizeof(probe), flags, &sig,
			  &siglen) == JIT_OK);
		CHECK(ssh_key_verify(pub, sig, siglen, probe, sizeof(probe)) ==
		    JIT_OK);
		CHECK(ssh_key_verify(pub, sig, siglen, probe,
			  sizeof(probe) - 1) == JIT_E_AUTH);
		free(sig);
	}
	ssh_key_free(pub);
}

static void
fuzz_add(struct wire_reader *r)
{
	static const struct ssh_binds unbound;
	struct ssh_add_msg m;

	if (ssh_msg_add(r, &m) != 0)
		return;
	check_private(m.key);
	/* No bind: local use, which every constraint allows. */
	CHECK(ssh_dest_permitted(&m.c.dests, &unbound, NULL, NULL) == JIT_OK);
	CHECK(ssh_dest_permitted(&m.c.dests, &unbound, "root", NULL) == JIT_OK);
	ssh_add_msg_free(&m);
}

static void
fuzz_sign(struct wire_reader *r)
{
	struct ssh_sign_msg m;
	struct ssh_userauth ua;
	struct ssh_key *k = NULL;

	if (ssh_msg_sign(r, &m) != 0 ||
	    ssh_key_from_blob(m.blob, m.bloblen, &k) != 0)
		return;
	check_public(k, m.blob, m.bloblen);
	if (ssh_userauth_parse(m.data, m.datalen, k, &ua) == 0) {
		CHECK(ua.user != NULL && ua.sidlen > 0);
		ssh_userauth_free(&ua);
	}
	/* The data as a signature: the verifier's parser, on hostile bytes. */
	(void)ssh_key_verify(k, m.data, m.datalen, probe, sizeof(probe));
	ssh_key_free(k);
}

static void
fuzz_extension(struct wire_reader *r)
{
	struct ssh_binds b;
	char *name = NULL;
	int rc;

	if (wire_get_cstring(r, SSH_EXT_NAME_MAX, &name) != 0)
		return;
	if (strcmp(name, SSH_EXT_SESSION_BIND) == 0) {
		memset(&b, 0, sizeof(b));
		rc = ssh_bind_request(r, &b);
		CHECK(b.attempted);
		CHECK(rc != JIT_OK || b.n == 1);
		ssh_binds_free(&b);
	}
	free(name);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct ssh_smartcard_msg sm;
	struct secret *pass = NULL;
	struct wire_reader r;
	struct ssh_key *k = NULL;
	const uint8_t *blob;
	size_t len;
	uint8_t type;

	if (!ready) {
		CHECK(sodium_init() >= 0);
		log_init("fuzz-ssh-dispatch", 1, LOG_LVL_ERROR);
		ready = true;
	}
	wire_reader_init(&r, data, size);
	if (wire_get_u8(&r, &type) != 0)
		return 0;
	switch (type) {
	case SSH_AGENTC_REQUEST_IDENTITIES:
	case SSH_AGENTC_REMOVE_ALL_IDENTITIES: (void)wire_end(&r); break;
	case SSH_AGENTC_SIGN_REQUEST: fuzz_sign(&r); break;
	case SSH_AGENTC_ADD_IDENTITY:
	case SSH_AGENTC_ADD_ID_CONSTRAINED: fuzz_add(&r); break;
	case SSH_AGENTC_REMOVE_IDENTITY:
		if (ssh_msg_remove(&r, &blob, &len) == 0 &&
		    ssh_key_from_blob(blob, len, &k) == 0) {
			check_public(k, blob, len);
			ssh_key_free(k);
		}
		break;
	case SSH_AGENTC_LOCK:
	case SSH_AGENTC_UNLOCK:
		if (ssh_msg_lock(&r, &pass) == 0) {
			CHECK(secret_len(pass) <= SSH_PASSPHRASE_MAX);
			secret_free(pass);
		}
		break;
	case SSH_AGENTC_ADD_SMARTCARD_KEY:
	case SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED:
	case SSH_AGENTC_REMOVE_SMARTCARD_KEY:
		if (ssh_msg_smartcard(&r,
			type == SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED,
			&sm) == 0)
			ssh_smartcard_msg_free(&sm);
		break;
	case SSH_AGENTC_EXTENSION: fuzz_extension(&r); break;
	default: break;
	}
	return 0;
}
