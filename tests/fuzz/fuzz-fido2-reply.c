/* libFuzzer harness: the fuzzer's bytes are a FIDO2 token's replies to enroll and derive. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "err.h"
#include "fido2-io.h"
#include "fido2.h"
#include "hw.h"
#include "jsonx.h"
#include "log.h"
#include "secret.h"

/*
 * Input:
 *   mode (1)      bit 0: enroll, else derive; bit 1: UV; bit 2: give a PIN
 *   pk (64)       derive: the enrolled ES256 key, x || y
 *   idlen (1)     derive: credential id length, then the id
 *   messages      type (1), length (2, big-endian), payload:
 *                 type % 3 == 0: a CTAPHID_CBOR reply (status, CBOR)
 *                 type % 3 == 1: a KEEPALIVE, then the next message
 *                 type % 3 == 2: a CTAPHID_ERROR
 * The fake token answers CTAPHID_INIT itself (echoing the nonce, which
 * libfido2 checks) and frames every message into 64-byte reports on the
 * channel libfido2 uses, so the fuzzer spends its effort on the CTAP2
 * replies that libfido2 parses and hw/fido2.c checks.  Randomness is made
 * deterministic so that a recorded exchange replays, signatures included:
 * the corpus holds jit-sim-fido2's real answers (enroll with and without
 * UV and PIN, derive, denied, no touch, wrong PIN, wrong token).
 *
 * Debian 12's libcbor 0.8 allocates and zero-fills an array as large as a
 * CBOR header declares before reading its items, so a few bytes make it
 * ask for gigabytes.  libFuzzer reports that as OOM; fuzz with
 * ASAN_OPTIONS=allocator_may_return_null=1 and -fork=N -ignore_ooms=1.
 */

#define REPORT_LEN FIDO2_REPORT_LEN
#define INIT_DATA (REPORT_LEN - 7)
#define CONT_DATA (REPORT_LEN - 5)
#define FRAMES_MAX 129
#define MSG_MAX (INIT_DATA + (FRAMES_MAX - 1) * CONT_DATA)
#define HDR_LEN (1 + FIDO2_PK_LEN + 1)

#define CMD_INIT 0x86
#define CMD_CBOR 0x90
#define CMD_CANCEL 0x91
#define CMD_KEEPALIVE 0xbb
#define CMD_ERROR 0xbf

#define MODE_ENROLL 0x01
#define MODE_UV 0x02
#define MODE_PIN 0x04

struct fake {
	const uint8_t *p;
	size_t left;
	uint8_t cid[4];
	uint8_t nonce[8];
	uint8_t pending; /* command awaiting a reply, 0: none */
	uint8_t frames[FRAMES_MAX][REPORT_LEN];
	size_t nframes;
	size_t next;
};

static struct fake fake;
static uint64_t rng_state;

/* splitmix64: reproducible "randomness" for libsodium during a run. */
static uint32_t
rng_u32(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static const char *
rng_name(void)
{
	return "fuzz-splitmix64";
}

static void
rng_stir(void)
{
}

static uint32_t
rng_uniform(const uint32_t upper)
{
	return upper < 2 ? 0 : rng_u32() % upper;
}

static void
rng_buf(void *const buf, const size_t n)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)rng_u32();
}

static int
rng_close(void)
{
	return 0;
}

static struct randombytes_implementation rng_impl = {
	.implementation_name = rng_name,
	.random = rng_u32,
	.stir = rng_stir,
	.uniform = rng_uniform,
	.buf = rng_buf,
	.close = rng_close,
};

static void
frame_message(uint8_t cmd, const uint8_t *p, size_t n)
{
	uint8_t *f;
	size_t off, chunk;
	uint8_t seq = 0;

	if (n > MSG_MAX)
		n = MSG_MAX;
	fake.nframes = fake.next = 0;
	f = fake.frames[fake.nframes++];
	memset(f, 0, REPORT_LEN);
	memcpy(f, fake.cid, 4);
	f[4] = cmd;
	f[5] = (uint8_t)(n >> 8);
	f[6] = (uint8_t)n;
	chunk = n < INIT_DATA ? n : INIT_DATA;
	if (chunk > 0)
		memcpy(f + 7, p, chunk);
	for (off = chunk; off < n && fake.nframes < FRAMES_MAX; off += chunk) {
		f = fake.frames[fake.nframes++];
		memset(f, 0, REPORT_LEN);
		memcpy(f, fake.cid, 4);
		f[4] = seq++;
		chunk = n - off < CONT_DATA ? n - off : CONT_DATA;
		memcpy(f + 5, p + off, chunk);
	}
}

/* Take the next message of the input and frame it. */
static int
next_message(void)
{
	uint8_t type, cmd;
	size_t n;

	if (fake.left < 3)
		return -1;
	type = fake.p[0] % 3;
	n = (size_t)fake.p[1] << 8 | fake.p[2];
	fake.p += 3;
	fake.left -= 3;
	if (n > fake.left)
		n = fake.left;
	cmd = type == 0 ? CMD_CBOR : type == 1 ? CMD_KEEPALIVE : CMD_ERROR;
	frame_message(cmd, fake.p, n);
	fake.p += n;
	fake.left -= n;
	if (type != 1)
		fake.pending = 0;
	return 0;
}

static int
fake_read(void *arg, unsigned char *buf, size_t len, int ms)
{
	uint8_t init[17];

	(void)arg;
	(void)ms;
	if (len != REPORT_LEN)
		return -1;
	if (fake.next >= fake.nframes) {
		if (fake.pending == CMD_INIT) {
			memcpy(init, fake.nonce, sizeof(fake.nonce));
			init[8] = 0x00; /* the new channel: 00 00 00 01 */
			init[9] = 0x00;
			init[10] = 0x00;
			init[11] = 0x01;
			init[12] = 2; /* CTAPHID protocol */
			init[13] = 0;
			init[14] = 1;
			init[15] = 0;
			init[16] = 0x05; /* CBOR, WINK */
			frame_message(CMD_INIT, init, sizeof(init));
			fake.pending = 0;
		} else if (fake.pending == 0 || next_message() != 0)
			return -1;
	}
	memcpy(buf, fake.frames[fake.next++], REPORT_LEN);
	return REPORT_LEN;
}

static int
fake_write(void *arg, const unsigned char *buf, size_t len)
{
	(void)arg;
	if (len != REPORT_LEN)
		return -1;
	if ((buf[4] & 0x80) == 0)
		return (int)len; /* continuation of a request */
	memcpy(fake.cid, buf, 4);
	fake.nframes = fake.next = 0;
	if (buf[4] == CMD_CANCEL)
		return (int)len; /* no answer expected */
	fake.pending = buf[4];
	if (buf[4] == CMD_INIT)
		memcpy(fake.nonce, buf + 7, sizeof(fake.nonce));
	return (int)len;
}

static const struct fido2_io_fake fake_io = {
	.read = fake_read,
	.write = fake_write,
	.arg = NULL,
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Also run from the first input, for drivers that skip the initializer. */
static void
harness_init(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	randombytes_set_implementation(&rng_impl);
	if (sodium_init() < 0)
		abort();
	log_init("fuzz-fido2-reply", 1, LOG_LVL_ERROR);
	fido2_io_set_fake(&fake_io);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	harness_init();
	return 0;
}

static void
run_enroll(uint8_t mode, const struct secret *pin)
{
	struct hw_enroll_args a;
	struct hw_status st;
	struct json_object *backend = NULL;
	struct secret *kek = NULL;
	bool simulated = false;

	memset(&a, 0, sizeof(a));
	memset(&st, 0, sizeof(st));
	a.type = "fido2";
	a.label = "fuzz";
	a.device = FIDO2_FAKE_PREFIX "fuzz";
	a.pin = pin;
	a.uv = (mode & MODE_UV) != 0;
	a.allow_simulated = true;
	a.touch_timeout_ms = 1000;
	if (hw_fido2.enroll(&a, &backend, &simulated, &kek, &st) == JIT_OK) {
		if (secret_len(kek) != HW_KEK_LEN || backend == NULL)
			abort();
	}
	secret_free(kek);
	json_object_put(backend);
}

static void
run_derive(uint8_t mode, const uint8_t *pk, const uint8_t *id, size_t idlen,
    const struct secret *pin)
{
	static const uint8_t salt[32];
	struct hw_token t;
	struct hw_auth auth;
	struct hw_status st;
	struct secret *kek = NULL;

	memset(&t, 0, sizeof(t));
	memset(&auth, 0, sizeof(auth));
	memset(&st, 0, sizeof(st));
	if ((t.backend = json_object_new_object()) == NULL ||
	    jsonx_add_b64(t.backend, "cred_id", id, idlen) != JIT_OK ||
	    jsonx_add_b64(t.backend, "pubkey", pk, FIDO2_PK_LEN) != JIT_OK ||
	    jsonx_add_b64(t.backend, "salt", salt, sizeof(salt)) != JIT_OK ||
	    jsonx_add_str(t.backend, "rp_id", "jit-agent") != JIT_OK)
		abort();
	t.label = (char *)(uintptr_t) "fuzz";
	t.type = (char *)(uintptr_t) "fido2";
	t.device = (char *)(uintptr_t)(FIDO2_FAKE_PREFIX "fuzz");
	t.simulated = true;
	t.uv = (mode & MODE_UV) != 0;
	auth.pin = pin;
	auth.touch_timeout_ms = 1000;
	if (hw_fido2.derive(&t, &auth, &kek, &st) == JIT_OK &&
	    secret_len(kek) != HW_KEK_LEN)
		abort();
	secret_free(kek);
	json_object_put(t.backend);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct secret *pin = NULL;
	const uint8_t *pk, *id;
	uint8_t mode;
	size_t idlen;

	harness_init();
	if (size < HDR_LEN)
		return 0;
	mode = data[0];
	pk = data + 1;
	idlen = data[1 + FIDO2_PK_LEN];
	if (size - HDR_LEN < idlen)
		return 0;
	id = data + HDR_LEN;
	memset(&fake, 0, sizeof(fake));
	fake.p = data + HDR_LEN + idlen;
	fake.left = size - HDR_LEN - idlen;
	rng_state = 0x6a69742d61676e74ULL;

	if ((mode & MODE_PIN) != 0 && secret_from("1234", 4, &pin) != JIT_OK)
		abort();
	if ((mode & MODE_ENROLL) != 0)
		run_enroll(mode, pin);
	else if (idlen > 0)
		run_derive(mode, pk, id, idlen, pin);
	secret_free(pin);
	return 0;
}
