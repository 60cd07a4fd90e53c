/* Tests of the TPM 2.0 backend (hw/tpm2.c) against a private swtpm. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <json-c/json.h>
#include <sodium.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#include "err.h"
#include "hw.h"
#include "jsonx.h"
#include "log.h"
#include "secret.h"

#define ASSERT(c) \
	do { \
		if (!(c)) { \
			fprintf(stderr, "%s:%d: %s: ASSERT(%s) failed\n", \
			    __FILE__, __LINE__, __func__, #c); \
			exit(1); \
		} \
	} while (0)

#define ASSERT_RC(got, want) \
	do { \
		int got_ = (got), want_ = (want); \
		if (got_ != want_) { \
			fprintf(stderr, "%s:%d: %s: got %s, want %s (%s)\n", \
			    __FILE__, __LINE__, __func__, jit_errname(got_), \
			    jit_errname(want_), st.msg); \
			exit(1); \
		} \
	} while (0)

#define SKIP 77
#define PORT_TRIES 10
#define START_WAIT_MS 5000
#define TEST_TIMEOUT_S 300
#define PIN "493817"
#define WRONG_PIN "000000"
#define ABSENT_TCTI "swtpm:host=127.0.0.1,port=1"
#define DIR_MAX 512

static volatile pid_t swtpm_pid = -1;
static char swtpm_dir[DIR_MAX];
static char tcti[128];

/* Files swtpm may leave in its state directory (also from a signal). */
static const char *const swtpm_files[] = { "tpm2-00.permall",
	"tpm2-00.volatilestate", "tpm2-00.savestate", ".lock", "log",
	"bus.pcap", NULL };

static void
swtpm_kill(void)
{
	pid_t pid = swtpm_pid;
	int i, status;

	if (pid <= 0)
		return;
	swtpm_pid = -1;
	kill(pid, SIGTERM);
	for (i = 0; i < 200; i++) { /* up to 2 s */
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* Only async-signal-safe calls: this also runs from the signal handler. */
static void
swtpm_cleanup(void)
{
	static char path[DIR_MAX + 64];
	size_t i;

	swtpm_kill();
	if (swtpm_dir[0] == '\0')
		return;
	for (i = 0; swtpm_files[i] != NULL; i++) {
		strcpy(path, swtpm_dir);
		strcat(path, "/");
		strcat(path, swtpm_files[i]);
		unlink(path);
	}
	rmdir(swtpm_dir);
	swtpm_dir[0] = '\0';
}

static void
on_signal(int sig)
{
	swtpm_cleanup();
	_exit(sig == SIGALRM ? 1 : 128 + sig);
}

static bool
in_path(const char *prog)
{
	char buf[DIR_MAX], *path, *dir, *save = NULL;
	const char *env = getenv("PATH");
	bool found = false;

	if (env == NULL || (path = strdup(env)) == NULL)
		return false;
	for (dir = strtok_r(path, ":", &save); dir != NULL && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		snprintf(buf, sizeof(buf), "%s/%s", dir, prog);
		found = access(buf, X_OK) == 0;
	}
	free(path);
	return found;
}

static bool
port_open(int port)
{
	struct sockaddr_in sa;
	int fd, ok;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return false;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* Start swtpm on a random free port pair; false if it never came up. */
static bool
swtpm_start(void)
{
	static char state[DIR_MAX + 16], logarg[DIR_MAX + 16];
	char server[96], ctrl[96];
	const char *tmp = getenv("TMPDIR");
	int try, waited, port, status, devnull;
	pid_t pid;

	snprintf(swtpm_dir, sizeof(swtpm_dir), "%s/jit-test-tpm2.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(swtpm_dir) == NULL) {
		swtpm_dir[0] = '\0';
		return false;
	}
	snprintf(state, sizeof(state), "dir=%s", swtpm_dir);
	snprintf(logarg, sizeof(logarg), "file=%s/log", swtpm_dir);
	for (try = 0; try < PORT_TRIES; try++) {
		port = 20000 + (int)randombytes_uniform(20000) * 2;
		snprintf(server, sizeof(server),
		    "type=tcp,port=%d,bindaddr=127.0.0.1", port);
		snprintf(ctrl, sizeof(ctrl),
		    "type=tcp,port=%d,bindaddr=127.0.0.1", port + 1);
		if ((pid = fork()) < 0)
			return false;
		if (pid == 0) {
			/* Die with the test, even if it is SIGKILLed. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if ((devnull = open("/dev/null", O_RDWR)) >= 0) {
				dup2(devnull, 0);
				dup2(devnull, 1);
				dup2(devnull, 2);
			}
			execlp("swtpm", "swtpm", "socket", "--tpm2",
			    "--tpmstate", state, "--server", server, "--ctrl",
			    ctrl, "--flags", "not-need-init,startup-clear",
			    "--log", logarg, (char *)NULL);
			_exit(127);
		}
		swtpm_pid = pid;
		for (waited = 0; waited < START_WAIT_MS; waited += 20) {
			if (waitpid(pid, &status, WNOHANG) == pid) {
				swtpm_pid = -1; /* the port was taken */
				break;
			}
			if (port_open(port) && port_open(port + 1)) {
				snprintf(tcti, sizeof(tcti),
				    "swtpm:host=127.0.0.1,port=%d", port);
				return true;
			}
			usleep(20000);
		}
		swtpm_kill();
	}
	return false;
}

/* A connection of the test's own, to inspect or configure the TPM. */
static ESYS_CONTEXT *
test_esys(TSS2_TCTI_CONTEXT **ret_tcti)
{
	ESYS_CONTEXT *esys = NULL;

	ASSERT(Tss2_TctiLdr_Initialize(tcti, ret_tcti) == TSS2_RC_SUCCESS);
	ASSERT(Esys_Initialize(&esys, *ret_tcti, NULL) == TSS2_RC_SUCCESS);
	return esys;
}

static void __attribute__((noinline))
test_esys_done(ESYS_CONTEXT *esys, TSS2_TCTI_CONTEXT *t)
{
	Esys_Finalize(&esys);
	Tss2_TctiLdr_Finalize(&t);
}

static uint32_t
count_handles(ESYS_CONTEXT *esys, TPM2_HANDLE first)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	uint32_t n;

	ASSERT(Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE,
		   ESYS_TR_NONE, TPM2_CAP_HANDLES, first, TPM2_MAX_CAP_HANDLES,
		   &more, &cap) == TSS2_RC_SUCCESS);
	n = cap->data.handles.count;
	Esys_Free(cap);
	return n;
}

/* swtpm has no resource manager: anything the backend leaks stays. */
static void
assert_no_leftovers(void)
{
	TSS2_TCTI_CONTEXT *t = NULL;
	ESYS_CONTEXT *esys = test_esys(&t);

	/* Not TPM2_TRANSIENT_FIRST: tss2's macro shifts 0x80 into an int's
	 * sign bit, which UBSan reports. */
	ASSERT(count_handles(esys, 0x80000000u) == 0); /* transient */
	ASSERT(count_handles(esys, 0x02000000u) == 0); /* loaded sess. */
	ASSERT(count_handles(esys, 0x03000000u) == 0); /* saved sess. */
	test_esys_done(esys, t);
}

static void
set_lockout(uint32_t max_tries, uint32_t interval, uint32_t recovery)
{
	TSS2_TCTI_CONTEXT *t = NULL;
	ESYS_CONTEXT *esys = test_esys(&t);

	ASSERT(Esys_DictionaryAttackParameters(esys, ESYS_TR_RH_LOCKOUT,
		   ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, max_tries,
		   interval, recovery) == TSS2_RC_SUCCESS);
	ASSERT(Esys_DictionaryAttackLockReset(esys, ESYS_TR_RH_LOCKOUT,
		   ESYS_TR_PASSWORD, ESYS_TR_NONE,
		   ESYS_TR_NONE) == TSS2_RC_SUCCESS);
	test_esys_done(esys, t);
}

/* The policy digest of PolicyAuthValue, computed by the TPM itself. */
static void
trial_policy(TPM2B_DIGEST *ret)
{
	static const TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_NULL };
	TSS2_TCTI_CONTEXT *t = NULL;
	ESYS_CONTEXT *esys = test_esys(&t);
	ESYS_TR s = ESYS_TR_NONE;
	TPM2B_DIGEST *d = NULL;

	ASSERT(
	    Esys_StartAuthSession(esys, ESYS_TR_NONE, ESYS_TR_NONE,
		ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_TRIAL,
		&sym, TPM2_ALG_SHA256, &s) == TSS2_RC_SUCCESS);
	ASSERT(Esys_PolicyAuthValue(esys, s, ESYS_TR_NONE, ESYS_TR_NONE,
		   ESYS_TR_NONE) == TSS2_RC_SUCCESS);
	ASSERT(Esys_PolicyGetDigest(esys, s, ESYS_TR_NONE, ESYS_TR_NONE,
		   ESYS_TR_NONE, &d) == TSS2_RC_SUCCESS);
	*ret = *d;
	Esys_Free(d);
	ASSERT(Esys_FlushContext(esys, s) == TSS2_RC_SUCCESS);
	test_esys_done(esys, t);
}

static struct secret *
pin_of(const char *s)
{
	struct secret *p = NULL;

	ASSERT(secret_from(s, strlen(s), &p) == 0);
	return p;
}

static void
status_reset(struct hw_status *st)
{
	memset(st, 0, sizeof(*st));
	st->retries = -1;
}

static int
enroll(const char *device, const char *pin, struct json_object **ret_be,
    struct secret **ret_kek, struct hw_status *st)
{
	struct hw_enroll_args a;
	struct secret *p = pin != NULL ? pin_of(pin) : NULL;
	bool simulated = true;
	int r;

	memset(&a, 0, sizeof(a));
	a.type = "tpm2";
	a.label = "test";
	a.device = device;
	a.pin = p;
	status_reset(st);
	r = hw_tpm2.enroll(&a, ret_be, &simulated, ret_kek, st);
	if (r == 0)
		ASSERT(!simulated);
	secret_free(p);
	return r;
}

static int
derive(const char *device, struct json_object *be, const char *pin,
    struct secret **ret_kek, struct hw_status *st)
{
	struct hw_token t;
	struct hw_auth auth;
	struct secret *p = pin != NULL ? pin_of(pin) : NULL;
	char devbuf[HW_DEVICE_MAX + 1], type[] = "tpm2";
	int r;

	memset(&t, 0, sizeof(t));
	memset(&auth, 0, sizeof(auth));
	snprintf(t.id, sizeof(t.id), "%s", "0123456789abcdef0123456789abcdef");
	t.type = type;
	if (device != NULL) {
		snprintf(devbuf, sizeof(devbuf), "%s", device);
		t.device = devbuf;
	}
	t.backend = be;
	auth.pin = p;
	status_reset(st);
	r = hw_tpm2.derive(&t, &auth, ret_kek, st);
	secret_free(p);
	return r;
}

/* A copy of the backend JSON with one member's bytes changed by edit. */
static struct json_object *
edited(
    struct json_object *be, const char *key, void (*edit)(uint8_t *, size_t *))
{
	struct json_object *copy = NULL;
	uint8_t *buf = NULL;
	size_t len;

	ASSERT(json_object_deep_copy(be, &copy, NULL) == 0);
	ASSERT(jsonx_get_b64(be, key, 4096, &buf, &len) == 0);
	edit(buf, &len);
	json_object_object_del(copy, key);
	ASSERT(jsonx_add_b64(copy, key, buf, len) == 0);
	free(buf);
	return copy;
}

static void
flip_middle(uint8_t *p, size_t *len)
{
	p[*len / 2] ^= 0x01;
}

static void
flip_last(uint8_t *p, size_t *len)
{
	p[*len - 1] ^= 0x01;
}

static void
truncate_half(uint8_t *p, size_t *len)
{
	(void)p;
	*len /= 2;
}

static void
flip_attributes(uint8_t *p, size_t *len)
{
	/* TPM2B_PUBLIC: size(2) type(2) nameAlg(2) objectAttributes(4) */
	(void)len;
	p[9] |= 0x40; /* userWithAuth */
}

/* Another point on the curve: the TPM public point (x and y), from the
 * public blob. */
static uint8_t other_point[65];

static void
use_other_point(uint8_t *p, size_t *len)
{
	ASSERT(*len == sizeof(other_point));
	memcpy(p, other_point, sizeof(other_point));
}

/* The tests stay out of main() (noinline): inlined under ASan, their
 * frames would add up past -Wframe-larger-than. */
static void __attribute__((noinline)) test_no_pin(void)
{
	struct json_object *be = NULL;
	struct secret *kek = NULL;
	struct hw_status st;

	ASSERT_RC(enroll(tcti, NULL, &be, &kek, &st), JIT_E_PIN_REQUIRED);
	ASSERT(st.msg[0] != '\0');
	ASSERT_RC(enroll(tcti, "", &be, &kek, &st), JIT_E_PIN_REQUIRED);
	ASSERT(be == NULL && kek == NULL);
	assert_no_leftovers();
	printf("ok no PIN: %s\n", st.msg);
	/* A new PIN too short to hold against guessing is refused. */
	ASSERT_RC(enroll(tcti, "7", &be, &kek, &st), JIT_E_ARG);
	ASSERT(strstr(st.msg, "at least 6 characters") != NULL);
	ASSERT_RC(enroll(tcti, "12345", &be, &kek, &st), JIT_E_ARG);
	ASSERT(be == NULL && kek == NULL);
	printf("ok short PIN: %s\n", st.msg);
}

static void __attribute__((noinline)) test_absent_device(void)
{
	struct json_object *be = NULL;
	struct secret *kek = NULL;
	struct hw_status st;

	ASSERT_RC(enroll(ABSENT_TCTI, PIN, &be, &kek, &st), JIT_E_NODEV);
	ASSERT(strncmp(st.msg, "no TPM at " ABSENT_TCTI,
		   strlen("no TPM at " ABSENT_TCTI)) == 0);
	ASSERT(be == NULL && kek == NULL);
	printf("ok absent swtpm: %s\n", st.msg);
	ASSERT_RC(enroll("device:/nonexistent/tpmrm0", PIN, &be, &kek, &st),
	    JIT_E_NODEV);
	ASSERT(strstr(st.msg, "no TPM at device:/nonexistent/tpmrm0") != NULL);
	printf("ok absent device: %s\n", st.msg);
	/* The TCTI loader would dlopen a named library or run a command. */
	ASSERT_RC(enroll("nosuchtcti:foo", PIN, &be, &kek, &st), JIT_E_ARG);
	ASSERT(st.msg[0] != '\0');
	printf("ok unknown TCTI: %s\n", st.msg);
	ASSERT_RC(enroll("cmd:tpm2_send", PIN, &be, &kek, &st), JIT_E_ARG);
	ASSERT_RC(enroll("/tmp/libevil.so:x", PIN, &be, &kek, &st), JIT_E_ARG);
	ASSERT_RC(enroll("pcap:cmd:tpm2_send", PIN, &be, &kek, &st), JIT_E_ARG);
	ASSERT_RC(enroll("pcap:pcap:device", PIN, &be, &kek, &st), JIT_E_ARG);
	ASSERT_RC(enroll("", PIN, &be, &kek, &st), JIT_E_ARG);
	ASSERT(be == NULL && kek == NULL);
}

/* Look for the needle, raw, in base64 and in hex, in the JSON text. */
static void
assert_absent(const char *json, const uint8_t *needle, size_t n)
{
	char b64[128], hex[129];

	ASSERT(n <= 64);
	ASSERT(memmem(json, strlen(json), needle, n) == NULL);
	sodium_bin2base64(
	    b64, sizeof(b64), needle, n, sodium_base64_VARIANT_ORIGINAL);
	b64[n / 3 * 4] = '\0'; /* what does not depend on padding */
	ASSERT(strstr(json, b64) == NULL);
	sodium_bin2hex(hex, sizeof(hex), needle, n);
	ASSERT(strstr(json, hex) == NULL);
}

static void
assert_blob_absent(
    struct json_object *be, const char *key, const uint8_t *needle, size_t n)
{
	uint8_t *buf = NULL;
	size_t len;

	ASSERT(jsonx_get_b64(be, key, 4096, &buf, &len) == 0);
	ASSERT(memmem(buf, len, needle, n) == NULL);
	free(buf);
}

static void __attribute__((noinline))
test_backend_json(struct json_object *be, const struct secret *kek)
{
	static const char *const keys[] = { "public", "private", "epk", "srk" };
	const char *json = json_object_to_json_string_ext(
	    be, JSON_C_TO_STRING_PLAIN);
	uint8_t pinhash[crypto_hash_sha256_BYTES], *buf = NULL;
	static TPM2B_PUBLIC pub;
	TPM2B_DIGEST policy;
	TPMA_OBJECT attrs;
	size_t i, len, off = 0;

	ASSERT(json_object_object_length(be) == 4);
	for (i = 0; i < 4; i++)
		ASSERT(json_object_is_type(
		    json_object_object_get(be, keys[i]), json_type_string));
	crypto_hash_sha256(pinhash, (const uint8_t *)PIN, strlen(PIN));
	ASSERT(strstr(json, PIN) == NULL);
	assert_absent(json, secret_ptr(kek), secret_len(kek));
	assert_absent(json, pinhash, sizeof(pinhash));
	for (i = 0; i < 4; i++) {
		assert_blob_absent(
		    be, keys[i], (const uint8_t *)PIN, strlen(PIN));
		assert_blob_absent(
		    be, keys[i], secret_ptr(kek), secret_len(kek));
		assert_blob_absent(be, keys[i], pinhash, sizeof(pinhash));
	}

	/* The key: P-256 ECDH, fixed to this TPM, usable only by policy,
	 * and the policy is PolicyAuthValue as the TPM computes it. */
	ASSERT(jsonx_get_b64(be, "public", sizeof(pub), &buf, &len) == 0);
	memset(&pub, 0, sizeof(pub));
	ASSERT(Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, &pub) == 0);
	ASSERT(off == len);
	free(buf);
	attrs = pub.publicArea.objectAttributes;
	ASSERT(pub.publicArea.type == TPM2_ALG_ECC);
	ASSERT(
	    pub.publicArea.parameters.eccDetail.curveID == TPM2_ECC_NIST_P256);
	ASSERT((attrs & TPMA_OBJECT_FIXEDTPM) != 0);
	ASSERT((attrs & TPMA_OBJECT_FIXEDPARENT) != 0);
	ASSERT((attrs & TPMA_OBJECT_SENSITIVEDATAORIGIN) != 0);
	ASSERT((attrs & TPMA_OBJECT_DECRYPT) != 0);
	ASSERT((attrs & TPMA_OBJECT_USERWITHAUTH) == 0);
	ASSERT((attrs & TPMA_OBJECT_NODA) == 0);
	ASSERT((attrs & TPMA_OBJECT_SIGN_ENCRYPT) == 0);
	ASSERT((attrs & TPMA_OBJECT_RESTRICTED) == 0);
	trial_policy(&policy);
	ASSERT(pub.publicArea.authPolicy.size == policy.size);
	ASSERT(memcmp(pub.publicArea.authPolicy.buffer, policy.buffer,
		   policy.size) == 0);

	/* Keep the TPM's point: a valid point that is not the epk. */
	other_point[0] = 0x04;
	ASSERT(pub.publicArea.unique.ecc.x.size == 32);
	ASSERT(pub.publicArea.unique.ecc.y.size == 32);
	memcpy(other_point + 1, pub.publicArea.unique.ecc.x.buffer, 32);
	memcpy(other_point + 33, pub.publicArea.unique.ecc.y.buffer, 32);
	printf("ok backend JSON holds public data only\n");
}

static void __attribute__((noinline))
test_tampered(struct json_object *be, const struct secret *kek)
{
	struct json_object *bad;
	struct secret *k = NULL;
	struct hw_status st;
	const char *key;

	bad = edited(be, "private", flip_middle);
	ASSERT_RC(derive(tcti, bad, PIN, &k, &st), JIT_E_WRONG_TOKEN);
	ASSERT(k == NULL && st.msg[0] != '\0');
	printf("ok tampered private: %s\n", st.msg);
	json_object_put(bad);
	assert_no_leftovers();

	bad = edited(be, "private", flip_last);
	ASSERT_RC(derive(tcti, bad, PIN, &k, &st), JIT_E_WRONG_TOKEN);
	json_object_put(bad);

	bad = edited(be, "private", truncate_half);
	ASSERT_RC(derive(tcti, bad, PIN, &k, &st), JIT_E_FORMAT);
	ASSERT(st.msg[0] != '\0');
	printf("ok truncated private: %s\n", st.msg);
	json_object_put(bad);

	bad = edited(be, "public", flip_last); /* the point's y */
	ASSERT_RC(derive(tcti, bad, PIN, &k, &st), JIT_E_WRONG_TOKEN);
	json_object_put(bad);

	bad = edited(be, "public", flip_attributes);
	ASSERT_RC(derive(tcti, bad, PIN, &k, &st), JIT_E_FORMAT);
	json_object_put(bad);

	bad = edited(be, "srk", flip_last);
	ASSERT_RC(derive(tcti, bad, PIN, &k, &st), JIT_E_WRONG_TOKEN);
	ASSERT(
	    strstr(st.msg, "not the one this token was enrolled on") != NULL);
	printf("ok another SRK: %s\n", st.msg);
	json_object_put(bad);

	bad = edited(be, "epk", flip_last); /* off the curve */
	ASSERT_RC(derive(tcti, bad, PIN, &k, &st), JIT_E_FORMAT);
	json_object_put(bad);

	/* A valid but different point: the TPM answers, the KEK differs
	 * (the identity layer's AEAD then refuses it). */
	bad = edited(be, "epk", use_other_point);
	ASSERT_RC(derive(tcti, bad, PIN, &k, &st), JIT_OK);
	ASSERT(!secret_equal(k, kek));
	secret_free(k);
	k = NULL;
	json_object_put(bad);

	key = "private";
	bad = NULL;
	ASSERT(json_object_deep_copy(be, &bad, NULL) == 0);
	json_object_object_del(bad, key);
	ASSERT_RC(derive(tcti, bad, PIN, &k, &st), JIT_E_FORMAT);
	json_object_put(bad);
	ASSERT_RC(derive(tcti, NULL, PIN, &k, &st), JIT_E_FORMAT);
	assert_no_leftovers();
	printf("ok altered backend data fails cleanly\n");
}

/* A PIN whose SHA-256 ends in a zero byte: the TPM drops trailing zeros. */
static void __attribute__((noinline)) test_odd_pins(void)
{
	char pin[300];
	uint8_t h[crypto_hash_sha256_BYTES];
	struct json_object *be = NULL;
	struct secret *kek = NULL, *k = NULL;
	struct hw_status st;
	int i;

	for (i = 0;; i++) {
		snprintf(pin, sizeof(pin), "pin-x%d", i); /* 6 or more */
		crypto_hash_sha256(h, (const uint8_t *)pin, strlen(pin));
		if (h[sizeof(h) - 1] == 0)
			break;
	}
	ASSERT_RC(enroll(tcti, pin, &be, &kek, &st), JIT_OK);
	ASSERT_RC(derive(tcti, be, pin, &k, &st), JIT_OK);
	ASSERT(secret_equal(k, kek));
	secret_free(k);
	secret_free(kek);
	json_object_put(be);

	/* Longer than a TPM authValue can be. */
	memset(pin, 'x', 200);
	pin[200] = '\0';
	ASSERT_RC(enroll(tcti, pin, &be, &kek, &st), JIT_OK);
	ASSERT_RC(derive(tcti, be, pin, &k, &st), JIT_OK);
	ASSERT(secret_equal(k, kek));
	secret_free(k);
	secret_free(kek);
	json_object_put(be);

	memset(pin, 'x', 257);
	pin[257] = '\0';
	ASSERT_RC(enroll(tcti, pin, &be, &kek, &st), JIT_E_LIMIT);
	assert_no_leftovers();
	printf("ok PINs of 32+ bytes and with a trailing zero in their hash\n");
}

static void __attribute__((noinline))
test_wrong_pin_lockout(struct json_object *be, const struct secret *kek)
{
	struct secret *k = NULL;
	struct hw_status st;
	char want[64];
	int n;

	set_lockout(3, 60, 60);
	for (n = 2; n >= 0; n--) {
		ASSERT_RC(derive(tcti, be, WRONG_PIN, &k, &st), JIT_E_PIN);
		ASSERT(k == NULL);
		ASSERT(st.retries == n);
		ASSERT(st.raw_rc != 0);
		if (n > 0) {
			snprintf(want, sizeof(want),
			    "wrong PIN: %d more wrong PIN", n);
			ASSERT(strncmp(st.msg, want, strlen(want)) == 0);
			/* The truth about the count: shared, not reset. */
			ASSERT(strstr(st.msg, "shared") != NULL);
			ASSERT(strstr(st.msg, "does not reset") != NULL);
		} else {
			ASSERT(strstr(st.msg, "locked out") != NULL);
			ASSERT(strstr(st.msg, "one more try") == NULL);
		}
		printf("ok wrong PIN: %s\n", st.msg);
		assert_no_leftovers();
	}
	ASSERT_RC(derive(tcti, be, WRONG_PIN, &k, &st), JIT_E_PIN_BLOCKED);
	ASSERT(strstr(st.msg, "locked out") != NULL);
	ASSERT(strstr(st.msg, "60 seconds") != NULL);
	ASSERT(strstr(st.msg, "everything that uses this TPM") != NULL);
	ASSERT(strstr(st.msg, "one more try") == NULL);
	printf("ok blocked: %s\n", st.msg);
	/* The right PIN does not help during a lockout. */
	ASSERT_RC(derive(tcti, be, PIN, &k, &st), JIT_E_PIN_BLOCKED);
	ASSERT(k == NULL);
	assert_no_leftovers();

	/* An admin's reset restores the key, with the same KEK. */
	set_lockout(3, 60, 60);
	ASSERT_RC(derive(tcti, be, PIN, &k, &st), JIT_OK);
	ASSERT(secret_equal(k, kek));
	secret_free(k);
	assert_no_leftovers();
	printf("ok lockout reset restores the key\n");
}

static uint8_t *
read_all(const char *path, size_t *ret_len)
{
	uint8_t *buf;
	struct stat sb;
	int fd;

	ASSERT((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0);
	ASSERT(fstat(fd, &sb) == 0 && sb.st_size > 0);
	ASSERT((buf = malloc((size_t)sb.st_size)) != NULL);
	ASSERT(read(fd, buf, (size_t)sb.st_size) == sb.st_size);
	close(fd);
	*ret_len = (size_t)sb.st_size;
	return buf;
}

/* A P-256 point in the clear: 00 20 <x:32> 00 20 <y:32>. */
static bool
has_clear_point(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 68 <= n; i++)
		if (p[i] == 0x00 && p[i + 1] == 0x20 && p[i + 34] == 0x00 &&
		    p[i + 35] == 0x20)
			return true;
	return false;
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/*
 * Walk the pcapng the pcap TCTI writes (one IPv4/TCP packet per command or
 * response, in host byte order) and return the response to the last
 * command with code cc.
 */
static const uint8_t *
response_to(const uint8_t *cap, size_t n, uint32_t cc, size_t *ret_len)
{
	const uint8_t *pkt, *tpm, *found = NULL;
	uint32_t type, blen, caplen, last_cc = 0;
	size_t off = 0, ip, tcp, tpmlen;

	while (off + 12 <= n) {
		memcpy(&type, cap + off, 4);
		memcpy(&blen, cap + off + 4, 4);
		ASSERT(blen >= 12 && blen % 4 == 0 && off + blen <= n);
		if (type == 6) { /* enhanced packet block */
			memcpy(&caplen, cap + off + 20, 4);
			ASSERT(28 + caplen <= blen);
			pkt = cap + off + 28;
			ASSERT(caplen >= 40 && (pkt[0] >> 4) == 4);
			ip = (size_t)(pkt[0] & 0x0f) * 4;
			tcp = (size_t)(pkt[ip + 12] >> 4) * 4;
			ASSERT(ip + tcp + 10 <= caplen);
			tpm = pkt + ip + tcp;
			tpmlen = caplen - ip - tcp;
			ASSERT(be32(tpm + 2) == tpmlen); /* whole */
			if (tpm[0] == 0x80 &&
			    (tpm[1] == 0x01 || tpm[1] == 0x02) && last_cc == 0)
				last_cc = be32(tpm + 6); /* a command */
			else {
				if (last_cc == cc) {
					found = tpm;
					*ret_len = tpmlen;
				}
				last_cc = 0;
			}
		}
		off += blen;
	}
	return found;
}

/*
 * Record the bus (tpm2-tss's pcap TCTI) during an enrollment and a derive:
 * the PIN's hash never crosses it (Create's inSensitive is encrypted), nor
 * does epk (ECDH_ZGen's inPoint) or the shared point (its outPoint).
 */
static void __attribute__((noinline)) test_bus_capture(void)
{
	static char dev[sizeof(tcti) + 8], path[DIR_MAX + 16];
	uint8_t pinhash[crypto_hash_sha256_BYTES], epk[65], *bus, *priv;
	struct json_object *be = NULL;
	struct secret *kek = NULL, *k = NULL;
	struct hw_status st;
	const uint8_t *zgen;
	size_t n, privlen, zlen;

	snprintf(dev, sizeof(dev), "pcap:%s", tcti);
	snprintf(path, sizeof(path), "%s/bus.pcap", swtpm_dir);
	setenv("TCTI_PCAP_FILE", path, 1);
	ASSERT_RC(enroll(dev, PIN, &be, &kek, &st), JIT_OK);
	ASSERT_RC(derive(dev, be, PIN, &k, &st), JIT_OK);
	ASSERT(secret_equal(k, kek));
	unsetenv("TCTI_PCAP_FILE");

	bus = read_all(path, &n);
	ASSERT(jsonx_get_b64(be, "private", 4096, &priv, &privlen) == 0);
	ASSERT(jsonx_get_b64_fixed(be, "epk", epk, sizeof(epk)) == 0);
	crypto_hash_sha256(pinhash, (const uint8_t *)PIN, strlen(PIN));
	/* The capture works: Load's arguments are public, and in clear. */
	ASSERT(memmem(bus, n, priv, privlen) != NULL);
	ASSERT(has_clear_point(bus, n));
	/* What must not be seen. */
	ASSERT(memmem(bus, n, PIN, strlen(PIN)) == NULL);
	ASSERT(memmem(bus, n, pinhash, 16) == NULL);
	ASSERT(memmem(bus, n, epk + 1, 32) == NULL);
	ASSERT(memmem(bus, n, secret_ptr(kek), secret_len(kek)) == NULL);
	/* ECDH_ZGen's answer: tag, size, rc 0, parameterSize, outPoint. */
	ASSERT((zgen = response_to(bus, n, TPM2_CC_ECDH_ZGen, &zlen)) != NULL);
	ASSERT(zlen > 16 + 68 && be32(zgen + 6) == 0);
	ASSERT(zgen[14] == 0x00 && zgen[15] == 0x44);
	ASSERT(!has_clear_point(zgen + 16, 68));
	free(bus);
	free(priv);
	unlink(path);
	secret_free(k);
	secret_free(kek);
	json_object_put(be);
	assert_no_leftovers();
	printf("ok the bus carries neither the PIN, nor epk, nor Z\n");
}

/* The standard ECC SRK, written here a second time, from the TCG's
 * guidance; unique_fill makes another primary key. */
static void
srk_template(TPM2B_PUBLIC *t, uint8_t unique_fill)
{
	TPMS_ECC_PARMS *ecc = &t->publicArea.parameters.eccDetail;

	memset(t, 0, sizeof(*t));
	t->publicArea.type = TPM2_ALG_ECC;
	t->publicArea.nameAlg = TPM2_ALG_SHA256;
	t->publicArea.objectAttributes = TPMA_OBJECT_RESTRICTED |
	    TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM |
	    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
	    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA;
	ecc->symmetric.algorithm = TPM2_ALG_AES;
	ecc->symmetric.keyBits.aes = 128;
	ecc->symmetric.mode.aes = TPM2_ALG_CFB;
	ecc->scheme.scheme = TPM2_ALG_NULL;
	ecc->curveID = TPM2_ECC_NIST_P256;
	ecc->kdf.scheme = TPM2_ALG_NULL;
	if (unique_fill != 0) {
		t->publicArea.unique.ecc.x.size = 32;
		memset(t->publicArea.unique.ecc.x.buffer, unique_fill, 32);
	}
}

static void
set_owner_auth(ESYS_CONTEXT *esys, const char *old, const char *new)
{
	TPM2B_AUTH a;

	memset(&a, 0, sizeof(a));
	a.size = (UINT16)strlen(old);
	memcpy(a.buffer, old, a.size);
	ASSERT(Esys_TR_SetAuth(esys, ESYS_TR_RH_OWNER, &a) == 0);
	memset(&a, 0, sizeof(a));
	a.size = (UINT16)strlen(new);
	memcpy(a.buffer, new, a.size);
	ASSERT(Esys_HierarchyChangeAuth(esys, ESYS_TR_RH_OWNER,
		   ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &a) == 0);
	ASSERT(Esys_TR_SetAuth(esys, ESYS_TR_RH_OWNER, &a) == 0);
}

/* Make a primary key persistent at 0x81000001; return its name. */
static void
persist_srk(ESYS_CONTEXT *esys, uint8_t unique_fill, TPM2B_NAME *ret)
{
	static TPM2B_PUBLIC tmpl;
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_DATA outside;
	TPML_PCR_SELECTION pcrs;
	TPM2B_NAME *name = NULL;
	ESYS_TR primary = ESYS_TR_NONE, persistent = ESYS_TR_NONE;

	memset(&sens, 0, sizeof(sens));
	memset(&outside, 0, sizeof(outside));
	memset(&pcrs, 0, sizeof(pcrs));
	srk_template(&tmpl, unique_fill);
	ASSERT(Esys_CreatePrimary(esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD,
		   ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl, &outside, &pcrs,
		   &primary, NULL, NULL, NULL, NULL) == 0);
	ASSERT(Esys_TR_GetName(esys, primary, &name) == 0);
	*ret = *name;
	free(name);
	ASSERT(
	    Esys_EvictControl(esys, ESYS_TR_RH_OWNER, primary, ESYS_TR_PASSWORD,
		ESYS_TR_NONE, ESYS_TR_NONE, 0x81000001u, &persistent) == 0);
	ASSERT(Esys_TR_Close(esys, &persistent) == 0);
	ASSERT(Esys_FlushContext(esys, primary) == 0);
}

static void
unpersist_srk(ESYS_CONTEXT *esys)
{
	ESYS_TR persistent = ESYS_TR_NONE, none = ESYS_TR_NONE;

	ASSERT(Esys_TR_FromTPMPublic(esys, 0x81000001u, ESYS_TR_NONE,
		   ESYS_TR_NONE, ESYS_TR_NONE, &persistent) == 0);
	ASSERT(Esys_EvictControl(esys, ESYS_TR_RH_OWNER, persistent,
		   ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, 0x81000001u,
		   &none) == 0);
}

/*
 * The SRK is pinned by name.  A persistent SRK with that name is used
 * as is, so a token keeps working after the owner hierarchy gets a
 * password; a persistent key of another name is ignored.
 */
static void __attribute__((noinline))
test_srk(struct json_object *be, const struct secret *kek)
{
	TSS2_TCTI_CONTEXT *t = NULL;
	ESYS_CONTEXT *esys;
	TPM2B_NAME name;
	struct json_object *be2 = NULL;
	struct secret *k = NULL, *kek2 = NULL;
	struct hw_status st;
	uint8_t srk[sizeof(name.name)];
	size_t len;

	/* The backend's SRK is the standard one, as written here. */
	esys = test_esys(&t);
	persist_srk(esys, 0, &name);
	test_esys_done(esys, t);
	ASSERT(jsonx_get_b64_fixed(be, "srk", srk, name.size) == 0);
	ASSERT(memcmp(srk, name.name, name.size) == 0);
	len = name.size;

	esys = test_esys(&t);
	set_owner_auth(esys, "", "owner-secret");
	test_esys_done(esys, t);
	ASSERT_RC(derive(tcti, be, PIN, &k, &st), JIT_OK);
	ASSERT(secret_equal(k, kek));
	secret_free(k);
	k = NULL;
	assert_no_leftovers();
	printf("ok the persistent SRK serves when the owner has a password\n");
	ASSERT_RC(enroll(tcti, PIN, &be2, &kek2, &st), JIT_E_HW);
	ASSERT(strstr(st.msg, "owner password") != NULL);
	printf("ok enroll with an owner password: %s\n", st.msg);

	/* Another key at 0x81000001 is not taken for the SRK. */
	esys = test_esys(&t);
	ASSERT(Esys_TR_SetAuth(esys, ESYS_TR_RH_OWNER,
		   &(TPM2B_AUTH){ .size = 12, .buffer = "owner-secret" }) == 0);
	unpersist_srk(esys);
	persist_srk(esys, 0x5a, &name);
	ASSERT(name.size != len || memcmp(srk, name.name, len) != 0);
	test_esys_done(esys, t);
	ASSERT_RC(derive(tcti, be, PIN, &k, &st), JIT_E_HW);
	ASSERT(strstr(st.msg, "owner password") != NULL);
	esys = test_esys(&t);
	set_owner_auth(esys, "owner-secret", "");
	test_esys_done(esys, t);
	ASSERT_RC(derive(tcti, be, PIN, &k, &st), JIT_OK);
	ASSERT(secret_equal(k, kek));
	secret_free(k);
	esys = test_esys(&t);
	unpersist_srk(esys);
	test_esys_done(esys, t);
	assert_no_leftovers();
	printf("ok another persistent key is not taken for the SRK\n");
}

/* tpm2-tools' idea of the ECC SRK has the same name as the backend's. */
static void __attribute__((noinline))
test_srk_tpm2_tools(struct json_object *be)
{
	static char cmd[DIR_MAX * 2 + 512], path[DIR_MAX + 16];
	uint8_t srk[64], *name;
	size_t len;

	if (!in_path("tpm2_createprimary") || !in_path("tpm2_readpublic") ||
	    !in_path("tpm2_flushcontext")) {
		printf("skip tpm2-tools interop: tpm2-tools not installed\n");
		return;
	}
	snprintf(cmd, sizeof(cmd),
	    "cd '%s' && export TPM2TOOLS_TCTI='%s' && "
	    "tpm2_createprimary -Q -C o -g sha256 -G ecc256:null:aes128cfb "
	    "-a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|"
	    "noda|restricted|decrypt' -c srk.ctx && "
	    "tpm2_readpublic -Q -c srk.ctx -n srk.name && "
	    "tpm2_flushcontext -t && tpm2_flushcontext -s && rm srk.ctx",
	    swtpm_dir, tcti);
	ASSERT(system(cmd) == 0);
	snprintf(path, sizeof(path), "%s/srk.name", swtpm_dir);
	name = read_all(path, &len);
	unlink(path);
	ASSERT(len == 34);
	ASSERT(jsonx_get_b64_fixed(be, "srk", srk, len) == 0);
	ASSERT(memcmp(srk, name, len) == 0);
	free(name);
	assert_no_leftovers();
	printf("ok tpm2-tools makes the same SRK\n");
}

/* The identity layer of hw.c over this backend, and the JSON round trip. */
static void __attribute__((noinline)) test_identity_layer(void)
{
	struct hw_enroll_args a;
	struct hw_auth auth;
	struct hw_token *t = NULL, *t2 = NULL;
	struct json_object *o = NULL;
	struct secret *pin = pin_of(PIN), *sk = NULL, *sk2 = NULL;
	struct hw_status st;

	memset(&a, 0, sizeof(a));
	a.type = "tpm2";
	a.label = "tpm-test";
	a.device = tcti;
	a.pin = pin;
	status_reset(&st);
	/* A software TPM is a simulator: refused unless allowed, flagged. */
	ASSERT_RC(hw_enroll(&a, &t, NULL, &st), JIT_E_SIMULATED);
	a.allow_simulated = true;
	status_reset(&st);
	ASSERT_RC(hw_enroll(&a, &t, &sk2, &st), JIT_OK);
	ASSERT(t->simulated);
	ASSERT(secret_len(sk2) == 32);
	secret_free(sk2);
	sk2 = NULL;
	ASSERT(hw_token_to_json(t, &o) == 0);
	/* The file cannot make a software TPM look like hardware. */
	json_object_object_add(o, "simulated", json_object_new_boolean(0));
	ASSERT(hw_token_from_json(o, &t2) == 0);
	ASSERT(t2->simulated);
	memset(&auth, 0, sizeof(auth));
	auth.pin = pin;
	ASSERT_RC(hw_open_identity(t2, &auth, &sk, &st), JIT_OK);
	ASSERT_RC(hw_open_identity(t, &auth, &sk2, &st), JIT_OK);
	ASSERT(secret_equal(sk, sk2));
	assert_no_leftovers();
	secret_free(sk);
	secret_free(sk2);
	secret_free(pin);
	json_object_put(o);
	hw_token_free(t);
	hw_token_free(t2);
	printf("ok hw_enroll / hw_open_identity over tpm2\n");
}

int
main(void)
{
	struct json_object *be = NULL, *be2 = NULL;
	struct secret *kek = NULL, *kek2 = NULL, *k = NULL;
	struct hw_status st;
	struct hw_token t;
	struct hw_auth auth;
	struct sigaction sa;
	volatile int cancel = 1;
	struct secret_stats ss;
	char type[] = "tpm2";

	/* tpm2-tss prints every refused command (a wrong PIN) on stderr. */
	setenv("TSS2_LOG", "all+none", 0);
	if (sodium_init() < 0)
		return 1;
	log_init("test-tpm2", 1,
	    getenv("JIT_TEST_DEBUG") != NULL ? LOG_LVL_DEBUG : LOG_LVL_WARN);
	if (!in_path("swtpm")) {
		printf("SKIP: swtpm is not installed\n");
		return SKIP;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	atexit(swtpm_cleanup);
	alarm(TEST_TIMEOUT_S);
	if (!swtpm_start()) {
		fprintf(stderr, "cannot start swtpm\n");
		return 1;
	}
	printf("swtpm at %s, state in %s\n", tcti, swtpm_dir);

	test_no_pin();
	test_absent_device();

	/* Enroll, then derive: the same KEK each time. */
	ASSERT_RC(enroll(tcti, PIN, &be, &kek, &st), JIT_OK);
	ASSERT(secret_len(kek) == HW_KEK_LEN);
	assert_no_leftovers();
	ASSERT_RC(derive(tcti, be, PIN, &k, &st), JIT_OK);
	ASSERT(secret_equal(k, kek));
	secret_free(k);
	ASSERT_RC(derive(tcti, be, PIN, &k, &st), JIT_OK);
	ASSERT(secret_equal(k, kek));
	secret_free(k);
	k = NULL;
	assert_no_leftovers();
	printf("ok enroll then derive give the same KEK\n");

	/* A second enrollment is another key and another KEK. */
	ASSERT_RC(enroll(tcti, PIN, &be2, &kek2, &st), JIT_OK);
	ASSERT(!secret_equal(kek, kek2));
	ASSERT(strcmp(json_object_to_json_string(be),
		   json_object_to_json_string(be2)) != 0);
	ASSERT_RC(derive(tcti, be2, PIN, &k, &st), JIT_OK);
	ASSERT(secret_equal(k, kek2));
	secret_free(k);
	k = NULL;
	printf("ok a second enrollment has its own KEK\n");

	ASSERT_RC(derive(tcti, be, NULL, &k, &st), JIT_E_PIN_REQUIRED);
	memset(&t, 0, sizeof(t));
	t.type = type;
	t.device = tcti;
	t.backend = be;
	status_reset(&st);
	ASSERT_RC(hw_tpm2.derive(&t, NULL, &k, &st), JIT_E_PIN_REQUIRED);
	memset(&auth, 0, sizeof(auth));
	auth.pin = pin_of(PIN);
	auth.cancel = &cancel;
	status_reset(&st);
	ASSERT_RC(hw_tpm2.derive(&t, &auth, &k, &st), JIT_E_CANCELLED);
	secret_free((struct secret *)(uintptr_t)auth.pin);
	ASSERT_RC(derive(ABSENT_TCTI, be, PIN, &k, &st), JIT_E_NODEV);
	ASSERT(k == NULL);
	ASSERT_RC(derive("cmd:tpm2_send", be, PIN, &k, &st), JIT_E_ARG);
	ASSERT(k == NULL);
	printf("ok derive: no PIN, cancelled, absent device, bad TCTI\n");

	test_backend_json(be, kek);
	test_tampered(be, kek);
	test_odd_pins();
	test_bus_capture();
	test_srk(be, kek);
	test_srk_tpm2_tools(be);
	test_identity_layer();
	test_wrong_pin_lockout(be, kek);

	secret_free(kek);
	secret_free(kek2);
	json_object_put(be);
	json_object_put(be2);
	secret_stats(&ss);
	ASSERT(ss.live == 0);
	printf("ok all\n");
	return 0;
}
