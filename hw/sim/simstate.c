/* The simulator's life cycle and state file (its simulated secure element). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <sodium.h>

#include "err.h"
#include "fsutil.h"
#include "jsonx.h"
#include "sim.h"
#include "wire.h"

/*
 * The state file is this simulator's "secure element": it holds the master
 * secret from which every credential's private key and CredRandom can be
 * recovered, so it is as secret as a token's chip.  It is written 0600 and
 * only ever belongs in a test directory.  (json-c keeps its own copies of
 * the strings it parses, which we cannot wipe: acceptable for a test
 * simulator, and one more reason never to use it for real secrets.)
 */
#define SIM_STATE_VERSION 1
#define SIM_STATE_MAX 4096

#define KDF_INFO_WRAP "jit-sim-fido2 v1 credential wrap"
#define KDF_INFO_CRED_RANDOM "jit-sim-fido2 v1 CredRandom"

/* "jit-sim-fido2" and a serial: recognisably a simulator. */
static const uint8_t sim_default_aaguid[SIM_AAGUID_LEN] = {
	'j',
	'i',
	't',
	'-',
	's',
	'i',
	'm',
	'-',
	'f',
	'i',
	'd',
	'o',
	'2',
	0x00,
	0x00,
	0x01,
};

uint64_t
sim_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
sim_debug(const struct sim_dev *d, const char *fmt, ...)
{
	va_list ap;

	if (d == NULL || !d->verbose)
		return;
	va_start(ap, fmt);
	fputs("jit-sim-fido2: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int
derive_keys(struct sim_dev *d)
{
	int r;

	if ((r = sc_hkdf_sha256(NULL, 0, d->sec->master, SIM_MASTER_LEN,
		 KDF_INFO_WRAP, d->sec->wrap_key, SIM_KEY_LEN)) != 0 ||
	    (r = sc_hkdf_sha256(NULL, 0, d->sec->master, SIM_MASTER_LEN,
		 KDF_INFO_CRED_RANDOM, d->sec->cred_random_key, SIM_KEY_LEN)) !=
		0)
		return r;
	return JIT_OK;
}

/* Base64 text into exactly n bytes of guarded memory. */
static int
get_b64_secret(struct json_object *o, const char *key, uint8_t *out, size_t n)
{
	const char *s;
	size_t len = 0;
	int r;

	if ((r = jsonx_get_str(o, key, 4 * n, &s)) != 0)
		return r;
	if (sodium_base642bin(out, n, s, strlen(s), NULL, &len, NULL,
		sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != n)
		return JIT_E_FORMAT;
	return JIT_OK;
}

static int
state_load(struct sim_dev *d, bool *ret_found)
{
	struct json_object *o = NULL;
	const char *s;
	char *buf = NULL;
	size_t len = 0, binlen = 0;
	int64_t v;
	int r;

	*ret_found = false;
	if ((r = fs_read_file(d->state_path, SIM_STATE_MAX, &buf, &len)) != 0)
		return r == JIT_E_NOENT ? JIT_OK : r;
	if ((r = jsonx_parse(buf, len, &o)) != 0)
		goto out;
	if ((r = jsonx_get_int(o, "version", 0, INT32_MAX, &v)) != 0)
		goto out;
	if (v != SIM_STATE_VERSION) {
		r = JIT_E_UNSUPPORTED;
		goto out;
	}
	if ((r = get_b64_secret(
		 o, "master_secret", d->sec->master, SIM_MASTER_LEN)) != 0)
		goto out;
	if ((r = jsonx_get_str(o, "aaguid", 2 * SIM_AAGUID_LEN, &s)) != 0)
		goto out;
	if (sodium_hex2bin(d->aaguid, SIM_AAGUID_LEN, s, strlen(s), NULL,
		&binlen, NULL) != 0 ||
	    binlen != SIM_AAGUID_LEN) {
		r = JIT_E_FORMAT;
		goto out;
	}
	d->pin_set = false;
	if ((r = jsonx_opt_str(o, "pin_hash", 64, &s)) == 0) {
		if ((r = get_b64_secret(o, "pin_hash", d->sec->pin_hash,
			 SIM_PIN_HASH_LEN)) != 0)
			goto out;
		d->pin_set = true;
	} else if (r != JIT_E_NOENT)
		goto out;
	if ((r = jsonx_get_int(o, "pin_retries", 0, SIM_PIN_RETRIES_MAX, &v)) !=
	    0)
		goto out;
	d->pin_retries = (unsigned)v;
	if ((r = jsonx_get_int(o, "sign_count", 0, UINT32_MAX, &v)) != 0)
		goto out;
	d->sign_count = (uint32_t)v;
	*ret_found = true;
	r = JIT_OK;
out:
	if (buf != NULL) {
		sodium_memzero(buf, len);
		free(buf);
	}
	json_object_put(o);
	return r;
}

int
sim_state_save(struct sim_dev *d)
{
	char master[sodium_base64_ENCODED_LEN(
	    SIM_MASTER_LEN, sodium_base64_VARIANT_ORIGINAL)];
	char pin[sodium_base64_ENCODED_LEN(
	    SIM_PIN_HASH_LEN, sodium_base64_VARIANT_ORIGINAL)];
	char pinline[sizeof(pin) + 32];
	char aaguid[2 * SIM_AAGUID_LEN + 1];
	char *buf = NULL;
	int n, r;

	if (d->state_path == NULL)
		return JIT_OK;
	/* Built by hand in guarded memory so no copy of the master secret
	 * is left on the heap. */
	if ((buf = sodium_malloc(SIM_STATE_MAX)) == NULL)
		return JIT_E_NOMEM;
	sodium_bin2base64(master, sizeof(master), d->sec->master,
	    SIM_MASTER_LEN, sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2hex(aaguid, sizeof(aaguid), d->aaguid, SIM_AAGUID_LEN);
	pinline[0] = '\0';
	if (d->pin_set) {
		sodium_bin2base64(pin, sizeof(pin), d->sec->pin_hash,
		    SIM_PIN_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
		snprintf(
		    pinline, sizeof(pinline), "  \"pin_hash\": \"%s\",\n", pin);
	}
	n = snprintf(buf, SIM_STATE_MAX,
	    "{\n"
	    "  \"version\": %d,\n"
	    "  \"note\": \"jit-sim-fido2 secure element: secret, tests only\",\n"
	    "  \"master_secret\": \"%s\",\n"
	    "  \"aaguid\": \"%s\",\n"
	    "%s" /* the pin_hash line, if any */
	    "  \"pin_retries\": %u,\n"
	    "  \"sign_count\": %lu\n"
	    "}\n",
	    SIM_STATE_VERSION, master, aaguid, pinline, d->pin_retries,
	    (unsigned long)d->sign_count);
	if (n < 0 || n >= SIM_STATE_MAX) {
		r = JIT_E_LIMIT;
		goto out;
	}
	r = fs_write_atomic(d->state_path, buf, (size_t)n, 0600);
	if (r != 0)
		sim_debug(d, "cannot save the state file: %s", jit_strerror(r));
out:
	sodium_memzero(master, sizeof(master));
	sodium_memzero(pin, sizeof(pin));
	sodium_memzero(pinline, sizeof(pinline));
	sodium_free(buf);
	return r;
}

/* UTF-8 code points: every byte that does not continue a sequence. */
static size_t
codepoints(const uint8_t *p, size_t n)
{
	struct wire_reader r;
	size_t count = 0;
	uint8_t b;

	wire_reader_init(&r, p, n);
	while (wire_get_u8(&r, &b) == 0)
		if ((b & 0xc0) != 0x80)
			count++;
	return count;
}

/* Only LEFT(SHA-256(PIN), 16) is kept, never the PIN. */
int
sim_set_pin(struct sim_dev *d, const uint8_t *pin, size_t len)
{
	uint8_t h[32];
	int r;

	if (len > SIM_PIN_MAX_LEN || memchr(pin, '\0', len) != NULL ||
	    codepoints(pin, len) < SIM_PIN_MIN_CODEPOINTS)
		return JIT_E_ARG;
	if ((r = sc_sha256(pin, len, h)) != 0)
		return r;
	memcpy(d->sec->pin_hash, h, SIM_PIN_HASH_LEN);
	sodium_memzero(h, sizeof(h));
	d->pin_set = true;
	d->pin_retries = SIM_PIN_RETRIES_MAX;
	d->pin_fails = 0;
	return JIT_OK;
}

int
sim_state_rotate(struct sim_dev *d)
{
	int r;

	randombytes_buf(d->sec->master, SIM_MASTER_LEN);
	if ((r = derive_keys(d)) != 0)
		return r;
	sodium_memzero(d->sec->pin_hash, SIM_PIN_HASH_LEN);
	d->pin_set = false;
	d->pin_retries = SIM_PIN_RETRIES_MAX;
	if ((r = clientpin_power_up(d)) != 0)
		return r;
	return sim_state_save(d);
}

int
sim_dev_new(const struct sim_config *cfg, struct sim_dev **ret)
{
	struct sim_dev *d = NULL;
	bool found = false, dirty = false;
	int r;

	if (sodium_init() < 0)
		return JIT_E_CRYPTO;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return JIT_E_NOMEM;
	if ((d->sec = sodium_malloc(sizeof(*d->sec))) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	sodium_memzero(d->sec, sizeof(*d->sec));
	d->touch = cfg->touch;
	d->verbose = cfg->verbose;
	d->hid_timeout_ms = cfg->hid_timeout_ms > 0 ?
	    cfg->hid_timeout_ms :
	    CTAPHID_TRANSACTION_TIMEOUT_MS;
	d->touch_timeout_ms = cfg->touch_timeout_ms > 0 ?
	    cfg->touch_timeout_ms :
	    sim_touch_timeout_from_env();
	if (cfg->state_path != NULL &&
	    (d->state_path = strdup(cfg->state_path)) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	if ((r = ctaphid_new(&d->hid)) != 0)
		goto out;
	if (cfg->attest_key_path != NULL &&
	    (r = sc_load_attestation(cfg->attest_key_path,
		 cfg->attest_cert_path, &d->attest_key, &d->attest_cert,
		 &d->attest_cert_len)) != 0)
		goto out;
	if (d->state_path != NULL && (r = state_load(d, &found)) != 0)
		goto out;
	if (!found) {
		randombytes_buf(d->sec->master, SIM_MASTER_LEN);
		memcpy(d->aaguid, sim_default_aaguid, SIM_AAGUID_LEN);
		d->pin_retries = SIM_PIN_RETRIES_MAX;
		dirty = true;
	}
	if (cfg->aaguid != NULL &&
	    memcmp(d->aaguid, cfg->aaguid, SIM_AAGUID_LEN) != 0) {
		memcpy(d->aaguid, cfg->aaguid, SIM_AAGUID_LEN);
		dirty = true;
	}
	if ((r = derive_keys(d)) != 0)
		goto out;
	if (cfg->pin != NULL && !d->pin_set) {
		if ((r = sim_set_pin(d, cfg->pin, cfg->pin_len)) != 0)
			goto out;
		dirty = true;
	}
	if ((r = clientpin_power_up(d)) != 0)
		goto out;
	if (dirty && (r = sim_state_save(d)) != 0)
		goto out;
	*ret = d;
	d = NULL;
	r = JIT_OK;
out:
	sim_dev_free(d);
	return r;
}

void
sim_dev_set_io(struct sim_dev *d, const struct sim_io *io)
{
	d->io = io;
}

void
sim_dev_free(struct sim_dev *d)
{
	if (d == NULL)
		return;
	ctaphid_free(&d->hid);
	EVP_PKEY_free(d->ka_key);
	EVP_PKEY_free(d->attest_key);
	OPENSSL_free(d->attest_cert);
	if (d->sec != NULL)
		sodium_free(d->sec); /* wipes */
	free(d->state_path);
	sodium_memzero(d, sizeof(*d));
	free(d);
}
