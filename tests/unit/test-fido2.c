/* Tests of the FIDO2 backend (hw/fido2.c) against the jit-sim-fido2 simulator. */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fido.h>
#include <json-c/json.h>
#include <sodium.h>

#include "assert.h"
#include "err.h"
#include "fido2-io.h"
#include "fido2.h"
#include "hw.h"
#include "jsonx.h"
#include "log.h"
#include "secret.h"

/* Setup that cannot go on: the whole run fails. */
#define SETUP(c) \
	do { \
		if (!(c)) { \
			fprintf(stderr, "%s:%d: setup: %s failed\n", __FILE__, \
			    __LINE__, #c); \
			exit(TEST_EXIT_FAIL); \
		} \
	} while (0)

/* The result must be want; show the sentence that came with it. */
#define ASSERT_RC(got, want) \
	do { \
		int got_ = (got); \
		printf("  %s%s%s\n", jit_errname(got_), \
		    st.msg[0] != '\0' ? ": " : "", st.msg); \
		ASSERT_ERR(got_, (want)); \
	} while (0)

#define SIMS 3
#define DIR_LEN 64
#define PATH_LEN 128
#define START_WAIT_MS 5000
#define TEST_TIMEOUT_S 300
#define SIM_GIVE_UP_MS "2000" /* the simulator's own touch timeout */
#define PIN "493817"
#define WRONG_PIN "000000"

struct sim {
	pid_t pid;
	int out; /* its stdout, kept open so it never gets SIGPIPE */
	char sock[PATH_LEN];
	char state[PATH_LEN];
	char device[PATH_LEN + 8];
};

static const char *sim_bin;
static char tmpdir[DIR_LEN];
static char touch_file[PATH_LEN];
static char touch_tmp[PATH_LEN];
static struct sim sims[SIMS]; /* a, b (another token), c (PIN) */
static struct json_object *backend_a; /* enrolled on a, no UV */
static struct secret *kek_a;

/* Also called from the alarm handler: only async-signal-safe calls. */
static void
cleanup(void)
{
	int i;

	for (i = 0; i < SIMS; i++) {
		if (sims[i].pid > 0) {
			kill(sims[i].pid, SIGKILL);
			waitpid(sims[i].pid, NULL, 0);
			sims[i].pid = -1;
		}
		if (sims[i].sock[0] != '\0')
			unlink(sims[i].sock);
		if (sims[i].state[0] != '\0')
			unlink(sims[i].state);
	}
	if (tmpdir[0] != '\0') {
		unlink(touch_file);
		unlink(touch_tmp);
		rmdir(tmpdir);
	}
}

static void
on_alarm(int sig)
{
	(void)sig;
	cleanup();
	_exit(TEST_EXIT_FAIL);
}

/* The simulator reads this file before each touch. */
static void
set_touch(const char *mode)
{
	FILE *f;

	SETUP((f = fopen(touch_tmp, "w")) != NULL);
	fprintf(f, "%s\n", mode);
	SETUP(fclose(f) == 0);
	SETUP(rename(touch_tmp, touch_file) == 0);
}

static void
sim_start(struct sim *s, const char *name, const char *pin)
{
	char buf[256];
	struct pollfd pfd;
	size_t got = 0;
	ssize_t n;
	int fds[2], waited;

	snprintf(s->sock, sizeof(s->sock), "%s/%s.sock", tmpdir, name);
	snprintf(s->state, sizeof(s->state), "%s/%s.state", tmpdir, name);
	snprintf(s->device, sizeof(s->device), "sim:%s", s->sock);
	SETUP(pipe2(fds, O_CLOEXEC) == 0);
	SETUP((s->pid = fork()) != -1);
	if (s->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fds[1], STDOUT_FILENO);
		setenv("JIT_SIM_TOUCH_FILE", touch_file, 1);
		setenv("JIT_SIM_TOUCH_TIMEOUT_MS", SIM_GIVE_UP_MS, 1);
		if (pin != NULL)
			execl(sim_bin, sim_bin, "--foreground", "--socket",
			    s->sock, "--state", s->state, "--touch", "approve",
			    "--pin", pin, (char *)NULL);
		else
			execl(sim_bin, sim_bin, "--foreground", "--socket",
			    s->sock, "--state", s->state, "--touch", "approve",
			    (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	s->out = fds[0];
	for (waited = 0; waited < START_WAIT_MS; waited += 50) {
		pfd.fd = s->out;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 50) != 1)
			continue;
		if ((n = read(s->out, buf + got, sizeof(buf) - 1 - got)) <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "ready") != NULL)
			return;
	}
	fprintf(stderr, "jit-sim-fido2 did not get ready\n");
	exit(TEST_EXIT_FAIL);
}

static void
sim_kill(struct sim *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	s->pid = -1;
	close(s->out);
}

static struct hw_token *
token_new(
    const char *device, const char *label, bool uv, struct json_object *backend)
{
	struct hw_token *t;

	SETUP((t = calloc(1, sizeof(*t))) != NULL);
	SETUP((t->label = strdup(label)) != NULL);
	SETUP((t->type = strdup("fido2")) != NULL);
	SETUP((t->device = strdup(device)) != NULL);
	t->simulated = true;
	t->uv = uv;
	t->backend = json_object_get(backend);
	return t;
}

static void
token_free(struct hw_token *t)
{
	if (t == NULL)
		return;
	free(t->label);
	free(t->type);
	free(t->device);
	json_object_put(t->backend);
	free(t);
}

static struct secret *
pin_new(const char *pin)
{
	struct secret *s = NULL;

	if (pin != NULL)
		SETUP(secret_from(pin, strlen(pin), &s) == JIT_OK);
	return s;
}

static int
derive(const struct hw_token *t, const char *pin, int timeout_ms,
    const volatile int *cancel, struct secret **ret, struct hw_status *st)
{
	struct hw_auth auth;
	struct secret *p = pin_new(pin);
	int r;

	memset(&auth, 0, sizeof(auth));
	memset(st, 0, sizeof(*st));
	st->retries = -1;
	auth.pin = p;
	auth.touch_timeout_ms = timeout_ms;
	auth.cancel = cancel;
	*ret = NULL;
	r = hw_fido2.derive(t, &auth, ret, st);
	secret_free(p);
	return r;
}

static int
enroll(const char *device, const char *label, bool uv, const char *pin,
    bool allow_sim, struct json_object **ret_backend, struct secret **ret_kek,
    struct hw_status *st)
{
	struct hw_enroll_args a;
	struct secret *p = pin_new(pin);
	bool simulated = false;
	int r;

	memset(&a, 0, sizeof(a));
	memset(st, 0, sizeof(*st));
	st->retries = -1;
	a.type = "fido2";
	a.label = label;
	a.device = device;
	a.pin = p;
	a.uv = uv;
	a.allow_simulated = allow_sim;
	a.touch_timeout_ms = 10000;
	*ret_backend = NULL;
	*ret_kek = NULL;
	r = hw_fido2.enroll(&a, ret_backend, &simulated, ret_kek, st);
	if (r == JIT_OK && !simulated)
		r = JIT_E_INTERNAL; /* a sim: device must say so */
	secret_free(p);
	return r;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The enrollment, then unlocks that must give the same KEK. */
TEST(enroll_then_derive_twice)
{
	struct hw_status st;
	struct secret *k1 = NULL, *k2 = NULL, *k3 = NULL;
	struct hw_token *t = NULL;
	const char *s;

	set_touch("approve");
	ASSERT_RC(enroll(sims[0].device, "sim-a", false, NULL, true, &backend_a,
		      &kek_a, &st),
	    JIT_OK);
	ASSERT_EQ_UINT(secret_len(kek_a), HW_KEK_LEN);
	printf("  backend %s\n", json_object_to_json_string(backend_a));
	ASSERT_OK(jsonx_get_str(backend_a, "rp_id", 64, &s));
	ASSERT_EQ_STR(s, "jit-agent");
	ASSERT_OK(jsonx_get_str(backend_a, "aaguid", 64, &s));
	ASSERT_EQ_UINT(strlen(s), 32);
	ASSERT_OK(jsonx_get_str(backend_a, "cred_id", 2048, &s));
	ASSERT_OK(jsonx_get_str(backend_a, "salt", 64, &s));
	ASSERT_OK(jsonx_get_str(backend_a, "pubkey", 128, &s));

	t = token_new(sims[0].device, "sim-a", false, backend_a);
	ASSERT_RC(derive(t, NULL, 10000, NULL, &k1, &st), JIT_OK);
	ASSERT_RC(derive(t, NULL, 10000, NULL, &k2, &st), JIT_OK);
	/* A PIN given to a non-UV enrollment is not used: the same KEK. */
	ASSERT_RC(derive(t, PIN, 10000, NULL, &k3, &st), JIT_OK);
	ASSERT(secret_equal(kek_a, k1));
	ASSERT(secret_equal(kek_a, k2));
	ASSERT(secret_equal(kek_a, k3));
	secret_free(k1);
	secret_free(k2);
	secret_free(k3);
	token_free(t);
}

TEST(simulator_needs_the_flag)
{
	struct hw_status st;
	struct json_object *backend = NULL;
	struct secret *kek = NULL;

	ASSERT_RC(enroll(sims[0].device, "sim-x", false, NULL, false, &backend,
		      &kek, &st),
	    JIT_E_SIMULATED);
	ASSERT(backend == NULL && kek == NULL);
}

/* One real assertion from the simulator, made here with libfido2. */
struct capture {
	uint8_t *authdata;
	size_t authdata_len;
	uint8_t *sig;
	size_t sig_len;
	uint8_t flags;
};

static int
capture(const char *device, const uint8_t *cred_id, size_t cred_id_len,
    const uint8_t cdh[FIDO2_CDH_LEN], bool up, struct capture *c)
{
	fido_dev_t *dev = NULL;
	fido_assert_t *fa = NULL;
	int rc;

	memset(c, 0, sizeof(*c));
	if ((dev = fido_dev_new()) == NULL || (fa = fido_assert_new()) == NULL)
		return FIDO_ERR_INTERNAL;
	fido2_io_begin(NULL);
	if ((rc = fido_dev_set_io_functions(dev, &fido2_io)) != FIDO_OK ||
	    (rc = fido_dev_set_timeout(dev, 10000)) != FIDO_OK ||
	    (rc = fido_dev_open(dev, device)) != FIDO_OK)
		goto out;
	if ((rc = fido_assert_set_rp(fa, "jit-agent")) != FIDO_OK ||
	    (rc = fido_assert_set_clientdata_hash(fa, cdh, FIDO2_CDH_LEN)) !=
		FIDO_OK ||
	    (rc = fido_assert_allow_cred(fa, cred_id, cred_id_len)) !=
		FIDO_OK ||
	    (rc = fido_assert_set_up(
		 fa, up ? FIDO_OPT_TRUE : FIDO_OPT_FALSE)) != FIDO_OK ||
	    (rc = fido_dev_get_assert(dev, fa, NULL)) != FIDO_OK)
		goto out;
	c->authdata_len = fido_assert_authdata_len(fa, 0);
	c->sig_len = fido_assert_sig_len(fa, 0);
	if ((c->authdata = malloc(c->authdata_len)) == NULL ||
	    (c->sig = malloc(c->sig_len)) == NULL) {
		rc = FIDO_ERR_INTERNAL;
		goto out;
	}
	memcpy(c->authdata, fido_assert_authdata_ptr(fa, 0), c->authdata_len);
	memcpy(c->sig, fido_assert_sig_ptr(fa, 0), c->sig_len);
	c->flags = fido_assert_flags(fa, 0);
out:
	fido_assert_free(&fa);
	if (dev != NULL)
		fido_dev_close(dev);
	fido_dev_free(&dev);
	return rc;
}

static void
capture_free(struct capture *c)
{
	free(c->authdata);
	free(c->sig);
}

static void
use_capture(struct fido2_assertion *a, const struct capture *c)
{
	a->authdata = c->authdata;
	a->authdata_len = c->authdata_len;
	a->sig = c->sig;
	a->sig_len = c->sig_len;
}

/* Replayed, forged and presence-less answers are refused. */
TEST(verify_refuses_replays_forgeries_and_no_touch)
{
	struct hw_status st;
	struct fido2_assertion a;
	struct capture good, noup;
	uint8_t *cred_id = NULL, cdh[FIDO2_CDH_LEN], flags = 0;
	size_t cred_id_len = 0;

	memset(&st, 0, sizeof(st));
	memset(&good, 0, sizeof(good));
	memset(&noup, 0, sizeof(noup));
	ASSERT(backend_a != NULL);
	ASSERT_OK(
	    jsonx_get_b64(backend_a, "cred_id", 1024, &cred_id, &cred_id_len));
	randombytes_buf(cdh, sizeof(cdh));
	set_touch("approve");
	ASSERT_EQ_INT(
	    capture(sims[0].device, cred_id, cred_id_len, cdh, true, &good),
	    FIDO_OK);
	ASSERT_EQ_INT(
	    capture(sims[0].device, cred_id, cred_id_len, cdh, false, &noup),
	    FIDO_OK);
	free(cred_id);
	ASSERT((good.flags & 0x01) != 0);
	ASSERT((noup.flags & 0x01) == 0);

	memset(&a, 0, sizeof(a));
	memcpy(a.cdh, cdh, sizeof(cdh));
	ASSERT_OK(jsonx_get_b64_fixed(backend_a, "pubkey", a.pk, sizeof(a.pk)));
	use_capture(&a, &good);
	ASSERT_RC(hw_fido2_verify_assertion(&a, &flags), JIT_OK);
	ASSERT_EQ_UINT(flags, good.flags);
	/* A replay: the same answer to another challenge. */
	a.cdh[0] ^= 1;
	ASSERT_RC(hw_fido2_verify_assertion(&a, NULL), JIT_E_AUTH);
	a.cdh[0] ^= 1;
	/* A forged signature. */
	good.sig[good.sig_len - 1] ^= 1;
	ASSERT_RC(hw_fido2_verify_assertion(&a, NULL), JIT_E_AUTH);
	good.sig[good.sig_len - 1] ^= 1;
	/* Altered authData (the sign count's last byte). */
	good.authdata[good.authdata_len - 1] ^= 1;
	ASSERT_RC(hw_fido2_verify_assertion(&a, NULL), JIT_E_AUTH);
	good.authdata[good.authdata_len - 1] ^= 1;
	/* Another key. */
	a.pk[10] ^= 1;
	ASSERT(hw_fido2_verify_assertion(&a, NULL) != JIT_OK);
	a.pk[10] ^= 1;
	/* An extension expected that the answer does not carry. */
	a.ext = FIDO_EXT_HMAC_SECRET;
	ASSERT_RC(hw_fido2_verify_assertion(&a, NULL), JIT_E_AUTH);
	a.ext = 0;
	/* UV required, but this answer has none. */
	a.uv = true;
	ASSERT_RC(hw_fido2_verify_assertion(&a, NULL), JIT_E_AUTH);
	a.uv = false;
	/* Correctly signed, but made without a touch. */
	use_capture(&a, &noup);
	ASSERT_RC(hw_fido2_verify_assertion(&a, NULL), JIT_E_AUTH);
	/* The good one, still intact after all that. */
	use_capture(&a, &good);
	ASSERT_RC(hw_fido2_verify_assertion(&a, NULL), JIT_OK);
	capture_free(&good);
	capture_free(&noup);
}

TEST(touch_denied)
{
	struct hw_status st;
	struct hw_token *t;
	struct secret *kek = NULL;
	int r;

	ASSERT(backend_a != NULL);
	t = token_new(sims[0].device, "sim-a", false, backend_a);
	set_touch("deny");
	r = derive(t, NULL, 10000, NULL, &kek, &st);
	set_touch("approve");
	token_free(t);
	secret_free(kek);
	ASSERT_RC(r, JIT_E_DENIED);
	ASSERT(kek == NULL);
	ASSERT_EQ_INT(st.raw_rc, FIDO_ERR_OPERATION_DENIED);
}

/* Our own deadline first, then the token's own give-up. */
TEST(no_touch)
{
	struct hw_status st, st2;
	struct hw_token *t;
	struct secret *kek = NULL, *kek2 = NULL;
	int r, r2;

	ASSERT(backend_a != NULL);
	t = token_new(sims[0].device, "sim-a", false, backend_a);
	set_touch("timeout");
	r = derive(t, NULL, 1000, NULL, &kek, &st);
	r2 = derive(t, NULL, 10000, NULL, &kek2, &st2);
	set_touch("approve");
	token_free(t);
	secret_free(kek);
	secret_free(kek2);
	ASSERT_RC(r, JIT_E_NO_TOUCH);
	ASSERT(strstr(st.msg, "no touch within 1 s") != NULL);
	st = st2;
	ASSERT_RC(r2, JIT_E_NO_TOUCH);
	ASSERT_EQ_INT(st.raw_rc, FIDO_ERR_USER_ACTION_TIMEOUT);
	ASSERT(strstr(st.msg, "no touch within 2 s") != NULL);
	ASSERT(kek == NULL && kek2 == NULL);
}

struct bg {
	const struct hw_token *t;
	volatile int cancel;
	int timeout_ms;
	int r;
	struct hw_status st;
};

static void *
bg_derive(void *arg)
{
	struct bg *b = arg;
	struct secret *kek = NULL;

	b->r = derive(b->t, NULL, b->timeout_ms, &b->cancel, &kek, &b->st);
	secret_free(kek);
	return NULL;
}

/* While waiting for a touch, run then (cancel, or kill the simulator). */
static int
wait_with(
    const struct hw_token *t, void (*then)(struct bg *), struct hw_status *st)
{
	struct bg b;
	pthread_t th;
	struct timespec pause = { 0, 400 * 1000000L };

	memset(&b, 0, sizeof(b));
	b.t = t;
	b.timeout_ms = 20000;
	set_touch("delay=20000");
	SETUP(pthread_create(&th, NULL, bg_derive, &b) == 0);
	nanosleep(&pause, NULL);
	then(&b);
	SETUP(pthread_join(th, NULL) == 0);
	set_touch("approve");
	*st = b.st;
	return b.r;
}

static void
set_cancel(struct bg *b)
{
	b->cancel = 1;
}

static void
kill_sim_a(struct bg *b)
{
	(void)b;
	sim_kill(&sims[0]);
}

TEST(cancel_while_waiting)
{
	struct hw_status st;
	struct hw_token *t;
	int64_t start = now_ms();
	int r;

	ASSERT(backend_a != NULL);
	t = token_new(sims[0].device, "sim-a", false, backend_a);
	r = wait_with(t, set_cancel, &st);
	token_free(t);
	ASSERT_RC(r, JIT_E_CANCELLED);
	ASSERT(now_ms() - start < 3000);
}

TEST(wrong_token)
{
	struct hw_status st;
	struct hw_token *t;
	struct secret *kek = NULL;
	int r;

	ASSERT(backend_a != NULL);
	t = token_new(sims[1].device, "sim-a", false, backend_a);
	r = derive(t, NULL, 10000, NULL, &kek, &st);
	token_free(t);
	secret_free(kek);
	ASSERT_RC(r, JIT_E_WRONG_TOKEN);
	ASSERT(strstr(st.msg, "sim-a") != NULL);
	ASSERT(kek == NULL);
}

TEST(pin_and_uv)
{
	struct hw_status st;
	struct json_object *uv = NULL, *plain = NULL;
	struct secret *kek = NULL, *k = NULL, *kplain = NULL;
	struct hw_token *t = NULL, *tp = NULL;
	int before;

	set_touch("approve");
	ASSERT_RC(
	    enroll(sims[2].device, "sim-pin", true, NULL, true, &uv, &kek, &st),
	    JIT_E_PIN_REQUIRED);
	ASSERT_RC(
	    enroll(sims[2].device, "sim-pin", true, PIN, true, &uv, &kek, &st),
	    JIT_OK);
	t = token_new(sims[2].device, "sim-pin", true, uv);
	json_object_put(uv);
	ASSERT_RC(derive(t, PIN, 10000, NULL, &k, &st), JIT_OK);
	ASSERT(secret_equal(kek, k));
	secret_free(k);

	ASSERT_RC(derive(t, WRONG_PIN, 10000, NULL, &k, &st), JIT_E_PIN);
	ASSERT_EQ_INT(st.raw_rc, FIDO_ERR_PIN_INVALID);
	ASSERT(st.retries > 0);
	before = st.retries;
	ASSERT_RC(derive(t, WRONG_PIN, 10000, NULL, &k, &st), JIT_E_PIN);
	ASSERT_EQ_INT(st.retries, before - 1);
	ASSERT_RC(derive(t, NULL, 10000, NULL, &k, &st), JIT_E_PIN_REQUIRED);
	ASSERT(k == NULL);
	ASSERT_RC(derive(t, PIN, 10000, NULL, &k, &st), JIT_OK);
	ASSERT(secret_equal(kek, k));
	secret_free(k);

	/* Without UV on the same token: another KEK, and no PIN to unlock
	 * (the PIN may still be needed to make the credential). */
	ASSERT_RC(enroll(sims[2].device, "sim-pin2", false, PIN, true, &plain,
		      &kplain, &st),
	    JIT_OK);
	ASSERT(!secret_equal(kek, kplain));
	tp = token_new(sims[2].device, "sim-pin2", false, plain);
	json_object_put(plain);
	ASSERT_RC(derive(tp, NULL, 10000, NULL, &k, &st), JIT_OK);
	ASSERT(secret_equal(kplain, k));
	secret_free(k);
	secret_free(kek);
	secret_free(kplain);
	token_free(t);
	token_free(tp);
}

TEST(damaged_record)
{
	struct hw_status st;
	struct json_object *copy = NULL;
	struct hw_token *t;
	struct secret *kek = NULL;
	int r1, r2, r3;

	ASSERT(backend_a != NULL);
	ASSERT_EQ_INT(json_object_deep_copy(backend_a, &copy, NULL), 0);
	json_object_object_del(copy, "salt");
	t = token_new(sims[0].device, "sim-a", false, copy);
	r1 = derive(t, NULL, 10000, NULL, &kek, &st);
	json_object_object_add(copy, "salt", json_object_new_string("AAAA"));
	r2 = derive(t, NULL, 10000, NULL, &kek, &st);
	token_free(t);
	json_object_put(copy);
	ASSERT_RC(r1, JIT_E_FORMAT);
	ASSERT_RC(r2, JIT_E_FORMAT);

	/* A record made for real hardware that now names a simulator. */
	t = token_new(sims[0].device, "sim-a", false, backend_a);
	t->simulated = false;
	r3 = derive(t, NULL, 10000, NULL, &kek, &st);
	token_free(t);
	ASSERT_RC(r3, JIT_E_SIMULATED);
	ASSERT(kek == NULL);
}

TEST(absent_token)
{
	struct hw_status st;
	struct json_object *backend = NULL;
	struct hw_token *t;
	struct secret *kek = NULL;
	char dev[DIR_LEN + 32];
	int r;

	ASSERT(backend_a != NULL);
	snprintf(dev, sizeof(dev), "sim:%s/absent.sock", tmpdir);
	t = token_new(dev, "sim-a", false, backend_a);
	r = derive(t, NULL, 10000, NULL, &kek, &st);
	token_free(t);
	ASSERT_RC(r, JIT_E_NODEV);

	/* A hidraw path that is gone: every token present is asked (none
	 * on a CI machine; a real one plugged in here is not ours). */
	t = token_new("/dev/hidraw-jit-test-absent", "sim-a", false, backend_a);
	t->simulated = false;
	r = derive(t, NULL, 10000, NULL, &kek, &st);
	token_free(t);
	if (r != JIT_E_WRONG_TOKEN)
		ASSERT_RC(r, JIT_E_NODEV);
	ASSERT(kek == NULL);

	/* Enrollment opens only what libfido2 lists as a FIDO token. */
	ASSERT_RC(enroll("/dev/hidraw-jit-test-absent", "sim-x", false, NULL,
		      false, &backend, &kek, &st),
	    JIT_E_NODEV);
	ASSERT(backend == NULL && kek == NULL);
}

/* The simulator dies while we wait for the touch (last: a is gone). */
TEST(token_removed_while_waiting)
{
	struct hw_status st;
	struct hw_token *t;
	int r;

	ASSERT(backend_a != NULL);
	t = token_new(sims[0].device, "sim-a", false, backend_a);
	r = wait_with(t, kill_sim_a, &st);
	token_free(t);
	ASSERT_RC(r, JIT_E_NODEV);
}

static const struct test_case tests[] = {
	TEST_ENTRY(enroll_then_derive_twice),
	TEST_ENTRY(simulator_needs_the_flag),
	TEST_ENTRY(verify_refuses_replays_forgeries_and_no_touch),
	TEST_ENTRY(touch_denied),
	TEST_ENTRY(no_touch),
	TEST_ENTRY(cancel_while_waiting),
	TEST_ENTRY(wrong_token),
	TEST_ENTRY(pin_and_uv),
	TEST_ENTRY(damaged_record),
	TEST_ENTRY(absent_token),
	TEST_ENTRY(token_removed_while_waiting),
};

/* argv[1] (or JIT_SIM_FIDO2): the simulator; then test names, if any. */
int
main(int argc, char **argv)
{
	int i, r;

	sim_bin = argc > 1 ? argv[1] : getenv("JIT_SIM_FIDO2");
	if (sim_bin == NULL || access(sim_bin, X_OK) != 0) {
		printf("jit-sim-fido2 not found (argv[1] or JIT_SIM_FIDO2): "
		       "skipped\n");
		return TEST_EXIT_SKIP;
	}
	log_init("test-fido2", 1,
	    getenv("JIT_TEST_DEBUG") != NULL ? LOG_LVL_DEBUG : LOG_LVL_WARN);
	for (i = 0; i < SIMS; i++)
		sims[i].pid = -1;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-fido2-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		tmpdir[0] = '\0';
		perror("mkdtemp");
		return TEST_EXIT_FAIL;
	}
	snprintf(touch_file, sizeof(touch_file), "%s/touch", tmpdir);
	snprintf(touch_tmp, sizeof(touch_tmp), "%s/touch.tmp", tmpdir);
	atexit(cleanup);
	signal(SIGALRM, on_alarm);
	alarm(TEST_TIMEOUT_S);
	set_touch("approve");
	sim_start(&sims[0], "a", NULL);
	sim_start(&sims[1], "b", NULL);
	sim_start(&sims[2], "c", PIN);

	r = test_main(tests, sizeof(tests) / sizeof(tests[0]),
	    argc > 1 ? argc - 1 : 1, argc > 1 ? argv + 1 : argv);
	secret_free(kek_a);
	json_object_put(backend_a);
	return r;
}
