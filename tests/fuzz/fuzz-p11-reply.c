/* libFuzzer harness: agent/ssh/ssh-p11msg.c, ssh-pkcs11-helper's replies, and ssh-key.c's check of a token's raw signature. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "ssh-key.h"
#include "ssh-p11msg.h"

#define FUZZ_NAME "fuzz-p11-reply"
#include "fuzz.h"

/*
 * The first byte chooses: even, the rest is the helper's answer to an
 * add; odd, its answer to a sign.  An add that parses has 1 to
 * SSH_P11_KEYS_MAX plain keys, each with a label; each key then judges
 * the input as a token's raw signature of a fixed message, which must
 * not verify (the fuzzer cannot forge one) and must not crash.  A sign
 * that parses points inside the input, at 1 to SSH_P11_SIG_MAX bytes.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t message[] = "a userauth request";

static void
judge_signature(const struct ssh_key *k, const uint8_t *raw, size_t rawlen)
{
	static const uint32_t flags[] = { SSH_AGENT_RSA_SHA2_256,
		SSH_AGENT_RSA_SHA2_512, SSH_KEY_SIGN_SHA1, 0 };
	uint8_t tbs[SSH_KEY_TBS_MAX], *sig = NULL;
	size_t tbslen, siglen, i;
	int r;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		r = ssh_key_ext_tbs(
		    k, message, sizeof(message), flags[i], tbs, &tbslen);
		if (r != 0) {
			CHECK(r == JIT_E_UNSUPPORTED);
			continue;
		}
		CHECK(tbslen > 0 && tbslen <= SSH_KEY_TBS_MAX);
		r = ssh_key_ext_sig(
		    k, flags[i], tbs, tbslen, raw, rawlen, &sig, &siglen);
		CHECK(r != 0 && sig == NULL);
	}
}

static void
add_reply(const uint8_t *p, size_t n)
{
	struct ssh_p11_keys keys = { NULL, 0 };
	uint32_t code = 0;
	size_t i;
	int r;

	r = ssh_p11_add_reply(p, n, &keys, &code);
	if (r == JIT_E_DENIED) {
		CHECK(keys.n == 0 && keys.v == NULL);
		CHECK(ssh_p11_fail_text(code) != NULL);
		return;
	}
	if (r != 0) {
		CHECK(
		    r == JIT_E_FORMAT || r == JIT_E_LIMIT || r == JIT_E_NOMEM);
		CHECK(keys.n == 0 && keys.v == NULL);
		return;
	}
	CHECK(keys.n >= 1 && keys.n <= SSH_P11_KEYS_MAX);
	for (i = 0; i < keys.n; i++) {
		CHECK(keys.v[i].key != NULL && keys.v[i].label != NULL);
		CHECK(ssh_key_cert(keys.v[i].key) == NULL);
		judge_signature(keys.v[i].key, p, n);
	}
	ssh_p11_keys_free(&keys);
}

static void
sign_reply(const uint8_t *p, size_t n)
{
	const uint8_t *sig = NULL;
	size_t len = 0;
	int r;

	r = ssh_p11_sign_reply(p, n, &sig, &len);
	if (r != 0) {
		CHECK(r == JIT_E_DENIED || r == JIT_E_FORMAT);
		return;
	}
	CHECK(len >= 1 && len <= SSH_P11_SIG_MAX);
	CHECK(sig >= p && sig + len <= p + n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if ((data[0] & 1) == 0)
		add_reply(data + 1, size - 1);
	else
		sign_reply(data + 1, size - 1);
	return 0;
}
