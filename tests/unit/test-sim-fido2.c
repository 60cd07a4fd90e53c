/* Tests of jit-sim-fido2: CTAPHID, CTAP2, clientPIN, hmac-secret, libfido2. */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cbor.h>
#include <fido.h>
#include <fido/es256.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "assert.h"
#include "err.h"
#include "sim.h"

/*
 * The simulator core is driven directly: CTAPHID reports go in through
 * ctaphid_packet() and come out through a capturing sim_io; CBOR requests
 * go through ctap2_handle().  The client side of the PIN protocols reuses
 * the simulator's symmetric primitives; libfido2 against the real binary
 * (JIT_SIM_FIDO2 names it) checks the whole thing against an independent
 * implementation.
 */

#define RPID "jit-agent"
#define MAX_OUT 512
#define MAX_IN 16

/* ---- a capturing transport ---- */

struct cap {
	uint8_t out[MAX_OUT][CTAPHID_REPORT_LEN];
	size_t nout;
	size_t readpos;
	uint8_t in[MAX_IN][CTAPHID_REPORT_LEN];
	size_t nin;
	size_t inpos;
	int in_after_ms; /* queued input arrives after this */
	uint64_t start_ms;
};

static struct cap cap;

static void
cap_send(void *ctx, const uint8_t pkt[CTAPHID_REPORT_LEN])
{
	struct cap *c = ctx;

	if (c->nout < MAX_OUT)
		memcpy(c->out[c->nout++], pkt, CTAPHID_REPORT_LEN);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static enum sim_io_result
cap_recv(
    void *ctx, uint8_t pkt[CTAPHID_REPORT_LEN], int timeout_ms, int watch_fd)
{
	struct cap *c = ctx;

	(void)watch_fd;
	if (c->inpos < c->nin &&
	    sim_now_ms() >= c->start_ms + (uint64_t)c->in_after_ms) {
		memcpy(pkt, c->in[c->inpos++], CTAPHID_REPORT_LEN);
		return SIM_IO_PACKET;
	}
	sleep_ms(timeout_ms > 20 ? 20 : timeout_ms);
	return SIM_IO_TIMEOUT;
}

static const struct sim_io cap_io = { &cap, cap_send, cap_recv };

static void
cap_reset(void)
{
	memset(&cap, 0, sizeof(cap));
	cap.start_ms = sim_now_ms();
}

/* The test's device and keys, freed by fixture_clear() after each test. */
static struct sim_dev *cur_dev;
static EVP_PKEY *keys[16];
static size_t nkeys;

static cbor_item_t *items[256];
static size_t nitems;

/* CBOR answers live until the end of the test. */
static void
keep_item(cbor_item_t *it)
{
	if (it == NULL)
		return;
	if (nitems < sizeof(items) / sizeof(items[0])) {
		items[nitems++] = it;
		return;
	}
	test_fail_hdr(__FILE__, __LINE__);
	fprintf(stderr, "too many CBOR answers kept\n");
	cbor_decref(&it);
}

static void
keep_key(EVP_PKEY *pk)
{
	if (nkeys < sizeof(keys) / sizeof(keys[0]))
		keys[nkeys++] = pk;
	else
		EVP_PKEY_free(pk);
}

/* A new device replaces the test's previous one. */
static struct sim_dev *
dev_new_cfg(struct sim_config *cfg)
{
	struct sim_dev *d = NULL;

	sim_dev_free(cur_dev);
	cur_dev = NULL;
	if (sim_dev_new(cfg, &d) != 0)
		return NULL;
	cur_dev = d;
	sim_dev_set_io(d, &cap_io);
	cap_reset();
	return d;
}

static struct sim_dev *
dev_new(const char *touch)
{
	struct sim_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	if (touch != NULL && sim_touch_parse(touch, &cfg.touch) != 0)
		return NULL;
	return dev_new_cfg(&cfg);
}

/* ---- CTAPHID, client side ---- */

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Frame a message into reports: into the queue or straight in. */
static size_t
frame(uint32_t cid, uint8_t cmd, const uint8_t *data, size_t len,
    uint8_t pkts[][CTAPHID_REPORT_LEN], size_t max)
{
	size_t off = 0, n, count = 0;
	uint8_t seq = 0;

	memset(pkts[0], 0, CTAPHID_REPORT_LEN);
	put_be32(pkts[0], cid);
	pkts[0][4] = cmd;
	pkts[0][5] = (uint8_t)(len >> 8);
	pkts[0][6] = (uint8_t)len;
	n = len < 57 ? len : 57;
	if (n > 0)
		memcpy(pkts[0] + 7, data, n);
	off = n;
	count = 1;
	while (off < len && count < max) {
		memset(pkts[count], 0, CTAPHID_REPORT_LEN);
		put_be32(pkts[count], cid);
		pkts[count][4] = seq++;
		n = len - off < 59 ? len - off : 59;
		memcpy(pkts[count] + 5, data + off, n);
		off += n;
		count++;
	}
	return count;
}

static uint8_t big_pkts[140][CTAPHID_REPORT_LEN];

static void
hid_send(struct sim_dev *d, uint32_t cid, uint8_t cmd, const uint8_t *data,
    size_t len)
{
	size_t n = frame(cid, cmd, data, len, big_pkts, 140);

	for (size_t i = 0; i < n; i++)
		ctaphid_packet(d, big_pkts[i]);
}

/* The next message from the captured reports, keepalives counted apart. */
static int
hid_recv(uint32_t *cid, uint8_t *cmd, uint8_t *buf, size_t cap_len, size_t *len,
    int *keepalives)
{
	size_t want, have, n;
	uint8_t seq = 0;
	const uint8_t *p;

	for (;;) {
		if (cap.readpos >= cap.nout)
			return -1;
		p = cap.out[cap.readpos++];
		if ((p[4] & 0x80) == 0)
			return -1;
		if (p[4] == CTAPHID_KEEPALIVE) {
			if (keepalives != NULL)
				(*keepalives)++;
			continue;
		}
		break;
	}
	*cid = get_be32(p);
	*cmd = p[4];
	want = (size_t)p[5] << 8 | p[6];
	if (want > cap_len)
		return -1;
	n = want < 57 ? want : 57;
	memcpy(buf, p + 7, n);
	have = n;
	while (have < want) {
		if (cap.readpos >= cap.nout)
			return -1;
		p = cap.out[cap.readpos++];
		if (get_be32(p) != *cid || p[4] != seq++)
			return -1;
		n = want - have < 59 ? want - have : 59;
		memcpy(buf + have, p + 5, n);
		have += n;
	}
	*len = want;
	return 0;
}

static uint32_t
hid_init(struct sim_dev *d)
{
	uint8_t nonce[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, buf[64], cmd;
	uint32_t cid;
	size_t len;

	hid_send(d, CTAPHID_BROADCAST_CID, CTAPHID_INIT, nonce, 8);
	if (hid_recv(&cid, &cmd, buf, sizeof(buf), &len, NULL) != 0 ||
	    cmd != CTAPHID_INIT || len != 17 || memcmp(buf, nonce, 8) != 0)
		return 0;
	return get_be32(buf + 8);
}

/* ---- CBOR, client side ---- */

static uint8_t reqbuf[SIM_MSG_MAX], respbuf[SIM_MSG_MAX];
static uint8_t hidbuf[SIM_MSG_MAX];

/* One CTAP2 command; req is consumed; resp (may be NULL) gets the answer
 * map, which is freed after the test. */
static uint8_t
call(struct sim_dev *d, uint8_t cmd, cbor_item_t *req, cbor_item_t **resp)
{
	struct cbor_load_result res;
	size_t len = 1, n;

	reqbuf[0] = cmd;
	if (req != NULL) {
		len += cbor_serialize(req, reqbuf + 1, sizeof(reqbuf) - 1);
		cbor_decref(&req);
	}
	n = ctap2_handle(d, reqbuf, len, respbuf, sizeof(respbuf));
	if (n > 1 && respbuf[0] == CTAP2_OK) {
		cbor_item_t *check = NULL;

		/* every answer must itself be canonical CBOR */
		if (cb_load_map(respbuf + 1, n - 1, &check) != CTAP2_OK) {
			test_fail_hdr(__FILE__, __LINE__);
			fprintf(stderr,
			    "command 0x%02x: answer not canonical\n", cmd);
		} else
			cbor_decref(&check);
	}
	if (resp != NULL) {
		*resp = NULL;
		if (n > 1)
			keep_item(*resp = cbor_load(respbuf + 1, n - 1, &res));
	}
	return n >= 1 ? respbuf[0] : 0xff;
}

static uint8_t
call_raw(struct sim_dev *d, const uint8_t *p, size_t n)
{
	return ctap2_handle(d, p, n, respbuf, sizeof(respbuf)) >= 1 ?
	    respbuf[0] :
	    0xff;
}

static cbor_item_t *
map_new(size_t n)
{
	return cbor_new_definite_map(n);
}

static cbor_item_t *
descriptor_of(const uint8_t *id, size_t len)
{
	cbor_item_t *m = map_new(2);

	cb_put(m, cb_text("id"), cb_bytes(id, len));
	cb_put(m, cb_text("type"), cb_text("public-key"));
	return m;
}

static const uint8_t cdh[32] = {
	0xcd,
	0x01,
	0x02,
	0x03,
	0x04,
	0x05,
	0x06,
	0x07,
	0x08,
	0x09,
	0x0a,
	0x0b,
	0x0c,
	0x0d,
	0x0e,
	0x0f,
	0x10,
	0x11,
	0x12,
	0x13,
	0x14,
	0x15,
	0x16,
	0x17,
	0x18,
	0x19,
	0x1a,
	0x1b,
	0x1c,
	0x1d,
	0x1e,
	0x1f,
};

struct mc_args {
	int64_t alg;
	int rk; /* -1 omit */
	bool hmac_secret;
	const uint8_t *auth; /* pinUvAuthParam */
	size_t auth_len;
	unsigned proto;
	const char *rpid;
};

static cbor_item_t *
mc_request(const struct mc_args *a)
{
	cbor_item_t *m = map_new(9), *rp = map_new(2), *user = map_new(2);
	cbor_item_t *params = cbor_new_definite_array(1), *alg = map_new(2);
	cbor_item_t *ext, *opts;

	cb_put(rp, cb_text("id"), cb_text(a->rpid != NULL ? a->rpid : RPID));
	cb_put(rp, cb_text("name"), cb_text("jit"));
	cb_put(user, cb_text("id"), cb_bytes((const uint8_t *)"user-0001", 9));
	cb_put(user, cb_text("name"), cb_text("u"));
	cb_put(alg, cb_text("alg"), cb_int(a->alg));
	cb_put(alg, cb_text("type"), cb_text("public-key"));
	cb_push(params, alg);
	cb_put(m, cb_uint(1), cb_bytes(cdh, 32));
	cb_put(m, cb_uint(2), rp);
	cb_put(m, cb_uint(3), user);
	cb_put(m, cb_uint(4), params);
	if (a->hmac_secret) {
		ext = map_new(1);
		cb_put(ext, cb_text("hmac-secret"), cb_bool(true));
		cb_put(m, cb_uint(6), ext);
	}
	if (a->rk >= 0) {
		opts = map_new(1);
		cb_put(opts, cb_text("rk"), cb_bool(a->rk == 1));
		cb_put(m, cb_uint(7), opts);
	}
	if (a->auth != NULL) {
		cb_put(m, cb_uint(8), cb_bytes(a->auth, a->auth_len));
		cb_put(m, cb_uint(9), cb_uint(a->proto));
	}
	return m;
}

struct cred_out {
	uint8_t id[256];
	size_t idlen;
	EVP_PKEY *pk;
	uint8_t flags;
	uint32_t count;
	bool ext_hmac;
};

static bool
verify_sig(EVP_PKEY *pk, const uint8_t *ad, size_t adlen, const uint8_t *sig,
    size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = false;

	if (ctx != NULL &&
	    EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1 &&
	    EVP_DigestVerifyUpdate(ctx, ad, adlen) == 1 &&
	    EVP_DigestVerifyUpdate(ctx, cdh, sizeof(cdh)) == 1 &&
	    EVP_DigestVerifyFinal(ctx, sig, siglen) == 1)
		ok = true;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* Check a makeCredential answer: authData, attested key, self
 * attestation signature. */
static bool
parse_mc(cbor_item_t *resp, const char *rpid, struct cred_out *out)
{
	const cbor_item_t *fmt, *adit, *stmt, *sig, *alg, *x, *y, *ext;
	const uint8_t *ad;
	size_t adlen, off;
	uint8_t h[32];
	struct cbor_load_result res;
	cbor_item_t *cose = NULL, *exts = NULL;
	int64_t v;
	bool ok = false;

	memset(out, 0, sizeof(*out));
	if ((fmt = cb_map_int(resp, 1)) == NULL || !cb_text_is(fmt, "packed") ||
	    (adit = cb_map_int(resp, 2)) == NULL ||
	    (stmt = cb_map_int(resp, 3)) == NULL ||
	    (sig = cb_map_text(stmt, "sig")) == NULL ||
	    (alg = cb_map_text(stmt, "alg")) == NULL ||
	    cb_get_int(alg, &v) != 0 || v != -7)
		return false;
	ad = cbor_bytestring_handle(adit);
	adlen = cbor_bytestring_length(adit);
	sc_sha256(rpid, strlen(rpid), h);
	if (adlen < 55 || memcmp(ad, h, 32) != 0)
		return false;
	out->flags = ad[32];
	out->count = get_be32(ad + 33);
	if (memcmp(ad + 37, "jit-sim-fido2", 13) != 0)
		return false;
	out->idlen = (size_t)ad[53] << 8 | ad[54];
	if (out->idlen > sizeof(out->id) || 55 + out->idlen > adlen)
		return false;
	memcpy(out->id, ad + 55, out->idlen);
	off = 55 + out->idlen;
	if ((cose = cbor_load(ad + off, adlen - off, &res)) == NULL)
		return false;
	off += res.read;
	if ((x = cb_map_int(cose, -2)) == NULL ||
	    (y = cb_map_int(cose, -3)) == NULL ||
	    cbor_bytestring_length(x) != 32 ||
	    cbor_bytestring_length(y) != 32 ||
	    sc_p256_from_xy(cbor_bytestring_handle(x),
		cbor_bytestring_handle(y), &out->pk) != 0)
		goto out;
	keep_key(out->pk);
	if (off < adlen) {
		if ((exts = cbor_load(ad + off, adlen - off, &res)) == NULL ||
		    off + res.read != adlen)
			goto out;
		ext = cb_map_text(exts, "hmac-secret");
		out->ext_hmac = ext != NULL && cbor_is_bool(ext) &&
		    cbor_get_bool(ext);
	}
	ok = verify_sig(out->pk, ad, adlen, cbor_bytestring_handle(sig),
	    cbor_bytestring_length(sig));
out:
	if (cose != NULL)
		cbor_decref(&cose);
	if (exts != NULL)
		cbor_decref(&exts);
	return ok;
}

struct ga_args {
	const uint8_t *id;
	size_t idlen;
	bool no_allow;
	const char *rpid;
	int up; /* -1 omit */
	cbor_item_t *hmac_in; /* consumed */
	const uint8_t *auth;
	size_t auth_len;
	unsigned proto;
};

static cbor_item_t *
ga_request(struct ga_args *a)
{
	cbor_item_t *m = map_new(7), *allow, *ext, *opts;

	cb_put(m, cb_uint(1), cb_text(a->rpid != NULL ? a->rpid : RPID));
	cb_put(m, cb_uint(2), cb_bytes(cdh, 32));
	if (!a->no_allow) {
		allow = cbor_new_definite_array(1);
		cb_push(allow, descriptor_of(a->id, a->idlen));
		cb_put(m, cb_uint(3), allow);
	}
	if (a->hmac_in != NULL) {
		ext = map_new(1);
		cb_put(ext, cb_text("hmac-secret"), a->hmac_in);
		cb_put(m, cb_uint(4), ext);
		a->hmac_in = NULL;
	}
	if (a->up >= 0) {
		opts = map_new(1);
		cb_put(opts, cb_text("up"), cb_bool(a->up == 1));
		cb_put(m, cb_uint(5), opts);
	}
	if (a->auth != NULL) {
		cb_put(m, cb_uint(6), cb_bytes(a->auth, a->auth_len));
		cb_put(m, cb_uint(7), cb_uint(a->proto));
	}
	return m;
}

struct ga_out {
	uint8_t flags;
	uint32_t count;
	uint8_t hmac_enc[128];
	size_t hmac_enc_len;
};

static bool
parse_ga(cbor_item_t *resp, EVP_PKEY *pk, const uint8_t *id, size_t idlen,
    struct ga_out *out)
{
	const cbor_item_t *cred, *cid, *adit, *sig, *ext;
	const uint8_t *ad;
	size_t adlen;
	struct cbor_load_result res;
	cbor_item_t *exts = NULL;
	uint8_t h[32];
	bool ok = false;

	memset(out, 0, sizeof(*out));
	if ((cred = cb_map_int(resp, 1)) == NULL ||
	    (cid = cb_map_text(cred, "id")) == NULL ||
	    cbor_bytestring_length(cid) != idlen ||
	    memcmp(cbor_bytestring_handle(cid), id, idlen) != 0 ||
	    (adit = cb_map_int(resp, 2)) == NULL ||
	    (sig = cb_map_int(resp, 3)) == NULL)
		return false;
	ad = cbor_bytestring_handle(adit);
	adlen = cbor_bytestring_length(adit);
	sc_sha256(RPID, strlen(RPID), h);
	if (adlen < 37 || memcmp(ad, h, 32) != 0)
		return false;
	out->flags = ad[32];
	out->count = get_be32(ad + 33);
	if (adlen > 37) {
		if ((exts = cbor_load(ad + 37, adlen - 37, &res)) == NULL ||
		    res.read != adlen - 37)
			goto out;
		if ((ext = cb_map_text(exts, "hmac-secret")) != NULL) {
			if (cbor_bytestring_length(ext) > sizeof(out->hmac_enc))
				goto out;
			out->hmac_enc_len = cbor_bytestring_length(ext);
			memcpy(out->hmac_enc, cbor_bytestring_handle(ext),
			    out->hmac_enc_len);
		}
	}
	ok = verify_sig(pk, ad, adlen, cbor_bytestring_handle(sig),
	    cbor_bytestring_length(sig));
out:
	if (exts != NULL)
		cbor_decref(&exts);
	return ok;
}

/* ---- PIN/UV auth protocol, platform side ---- */

struct plat {
	unsigned proto;
	uint8_t ss[64];
	size_t sslen;
	EVP_PKEY *key;
};

static void
plat_clear(struct plat *p)
{
	EVP_PKEY_free(p->key);
	memset(p, 0, sizeof(*p));
}

static bool
plat_agree(struct sim_dev *d, unsigned proto, struct plat *p)
{
	static const uint8_t zero[32];
	cbor_item_t *req = map_new(2), *resp = NULL;
	const cbor_item_t *cose, *x, *y;
	EVP_PKEY *peer = NULL;
	uint8_t z[32];
	bool ok = false;

	memset(p, 0, sizeof(*p));
	p->proto = proto;
	cb_put(req, cb_uint(1), cb_uint(proto));
	cb_put(req, cb_uint(2), cb_uint(2));
	if (call(d, CTAP2_CLIENT_PIN, req, &resp) != CTAP2_OK || resp == NULL ||
	    (cose = cb_map_int(resp, 1)) == NULL ||
	    (x = cb_map_int(cose, -2)) == NULL ||
	    (y = cb_map_int(cose, -3)) == NULL ||
	    sc_p256_from_xy(cbor_bytestring_handle(x),
		cbor_bytestring_handle(y), &peer) != 0 ||
	    sc_p256_generate(&p->key) != 0 || sc_ecdh(p->key, peer, z) != 0)
		goto out;
	if (proto == 1) {
		sc_sha256(z, 32, p->ss);
		p->sslen = 32;
	} else {
		sc_hkdf_sha256(zero, 32, z, 32, "CTAP2 HMAC key", p->ss, 32);
		sc_hkdf_sha256(
		    zero, 32, z, 32, "CTAP2 AES key", p->ss + 32, 32);
		p->sslen = 64;
	}
	ok = true;
out:
	EVP_PKEY_free(peer);
	return ok;
}

/* authenticate(key, message) */
static size_t
plat_auth(unsigned proto, const uint8_t *key, const uint8_t *m1, size_t l1,
    const uint8_t *m2, size_t l2, uint8_t out[32])
{
	sc_hmac_sha256(key, 32, m1, l1, m2, l2, out);
	return proto == 1 ? 16 : 32;
}

static cbor_item_t *
plat_cose(const struct plat *p)
{
	return cb_cose_p256(p->key, -25);
}

static uint8_t
pin_set(struct sim_dev *d, unsigned proto, const char *pin)
{
	struct plat p;
	uint8_t padded[64], enc[96], auth[32];
	size_t enclen = 0, authlen;
	cbor_item_t *req;
	uint8_t st = 0xff;

	if (!plat_agree(d, proto, &p))
		return 0xfe;
	memset(padded, 0, sizeof(padded));
	memcpy(padded, pin, strlen(pin));
	pinproto_encrypt(
	    proto, p.ss, p.sslen, padded, 64, enc, sizeof(enc), &enclen);
	authlen = plat_auth(proto, p.ss, enc, enclen, NULL, 0, auth);
	req = map_new(5);
	cb_put(req, cb_uint(1), cb_uint(proto));
	cb_put(req, cb_uint(2), cb_uint(3));
	cb_put(req, cb_uint(3), plat_cose(&p));
	cb_put(req, cb_uint(4), cb_bytes(auth, authlen));
	cb_put(req, cb_uint(5), cb_bytes(enc, enclen));
	st = call(d, CTAP2_CLIENT_PIN, req, NULL);
	plat_clear(&p);
	return st;
}

static uint8_t
pin_change(struct sim_dev *d, unsigned proto, const char *old, const char *pin)
{
	struct plat p;
	uint8_t padded[64], enc[96], h[32], henc[48], auth[32];
	size_t enclen = 0, henclen = 0, authlen;
	cbor_item_t *req;
	uint8_t st;

	if (!plat_agree(d, proto, &p))
		return 0xfe;
	memset(padded, 0, sizeof(padded));
	memcpy(padded, pin, strlen(pin));
	pinproto_encrypt(
	    proto, p.ss, p.sslen, padded, 64, enc, sizeof(enc), &enclen);
	sc_sha256(old, strlen(old), h);
	pinproto_encrypt(
	    proto, p.ss, p.sslen, h, 16, henc, sizeof(henc), &henclen);
	authlen = plat_auth(proto, p.ss, enc, enclen, henc, henclen, auth);
	req = map_new(6);
	cb_put(req, cb_uint(1), cb_uint(proto));
	cb_put(req, cb_uint(2), cb_uint(4));
	cb_put(req, cb_uint(3), plat_cose(&p));
	cb_put(req, cb_uint(4), cb_bytes(auth, authlen));
	cb_put(req, cb_uint(5), cb_bytes(enc, enclen));
	cb_put(req, cb_uint(6), cb_bytes(henc, henclen));
	st = call(d, CTAP2_CLIENT_PIN, req, NULL);
	plat_clear(&p);
	return st;
}

/* getPinToken (perms 0) or getPinUvAuthTokenUsingPinWithPermissions. */
static uint8_t
pin_token(struct sim_dev *d, unsigned proto, const char *pin, uint64_t perms,
    uint8_t token[32])
{
	struct plat p;
	uint8_t h[32], enc[48], pt[48];
	size_t enclen = 0, ptlen = 0;
	cbor_item_t *req, *resp = NULL;
	const cbor_item_t *t;
	uint8_t st;

	if (!plat_agree(d, proto, &p))
		return 0xfe;
	sc_sha256(pin, strlen(pin), h);
	pinproto_encrypt(
	    proto, p.ss, p.sslen, h, 16, enc, sizeof(enc), &enclen);
	req = map_new(6);
	cb_put(req, cb_uint(1), cb_uint(proto));
	cb_put(req, cb_uint(2), cb_uint(perms != 0 ? 9 : 5));
	cb_put(req, cb_uint(3), plat_cose(&p));
	cb_put(req, cb_uint(6), cb_bytes(enc, enclen));
	if (perms != 0) {
		cb_put(req, cb_uint(9), cb_uint(perms));
		cb_put(req, cb_uint(10), cb_text(RPID));
	}
	st = call(d, CTAP2_CLIENT_PIN, req, &resp);
	if (st == CTAP2_OK) {
		if (resp == NULL || (t = cb_map_int(resp, 2)) == NULL ||
		    pinproto_decrypt(proto, p.ss, p.sslen,
			cbor_bytestring_handle(t), cbor_bytestring_length(t),
			pt, sizeof(pt), &ptlen) != 0 ||
		    ptlen != 32)
			st = 0xfd;
		else
			memcpy(token, pt, 32);
	}
	plat_clear(&p);
	return st;
}

static int
pin_retries(struct sim_dev *d)
{
	cbor_item_t *req = map_new(2), *resp = NULL;
	const cbor_item_t *r;
	int n = -1;

	cb_put(req, cb_uint(1), cb_uint(1));
	cb_put(req, cb_uint(2), cb_uint(1));
	if (call(d, CTAP2_CLIENT_PIN, req, &resp) == CTAP2_OK && resp != NULL &&
	    (r = cb_map_int(resp, 3)) != NULL)
		n = (int)cbor_get_int(r);
	return n;
}

/* ---- libfido2 against the real binary ---- */

struct sim_proc {
	pid_t pid;
	char sock[256];
	char state[256];
};

static int
sim_start(struct sim_proc *sp, const char *exe, const char *touch_file)
{
	int pfd[2];
	char line[16];
	size_t got = 0;
	ssize_t n;
	struct pollfd p;

	if (pipe(pfd) != 0)
		return -1;
	if ((sp->pid = fork()) < 0)
		return -1;
	if (sp->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive us */
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		if (touch_file != NULL)
			setenv(SIM_TOUCH_FILE_ENV, touch_file, 1);
		setenv(SIM_TOUCH_TIMEOUT_ENV, "400", 1);
		execl(exe, "jit-sim-fido2", "--socket", sp->sock, "--state",
		    sp->state, "--foreground", "--touch", "approve", NULL);
		_exit(127);
	}
	close(pfd[1]);
	while (got < 6) {
		memset(&p, 0, sizeof(p));
		p.fd = pfd[0];
		p.events = POLLIN;
		if (poll(&p, 1, 5000) != 1)
			break;
		if ((n = read(pfd[0], line + got, sizeof(line) - got)) <= 0)
			break;
		got += (size_t)n;
	}
	close(pfd[0]);
	return got >= 6 && memcmp(line, "ready\n", 6) == 0 ? 0 : -1;
}

static int
sim_stop(struct sim_proc *sp)
{
	int status = 0;

	if (sp->pid <= 0)
		return -1;
	kill(sp->pid, SIGTERM);
	waitpid(sp->pid, &status, 0);
	sp->pid = 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void *
tr_open(const char *path)
{
	struct sockaddr_un sun;
	int *fd = malloc(sizeof(*fd));

	if (fd == NULL)
		return NULL;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(*fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		if (*fd >= 0)
			close(*fd);
		free(fd);
		return NULL;
	}
	return fd;
}

static void
tr_close(void *h)
{
	int *fd = h;

	close(*fd);
	free(fd);
}

static int
tr_read(void *h, unsigned char *buf, size_t len, int ms)
{
	int *fd = h;
	size_t got = 0;
	ssize_t n;
	struct pollfd p;

	while (got < len) {
		memset(&p, 0, sizeof(p));
		p.fd = *fd;
		p.events = POLLIN;
		if (poll(&p, 1, ms < 0 ? 10000 : ms) != 1)
			return -1;
		if ((n = read(*fd, buf + got, len - got)) <= 0)
			return -1;
		got += (size_t)n;
	}
	return (int)got;
}

/* libfido2 hands over a report id byte first; the socket carries the
 * bare report. */
static int
tr_write(void *h, const unsigned char *buf, size_t len)
{
	int *fd = h;

	if (len != 65 || write(*fd, buf + 1, 64) != 64)
		return -1;
	return (int)len;
}

static const fido_dev_io_t tr_io = { tr_open, tr_close, tr_read, tr_write };

static fido_dev_t *
fido_open(const char *sock)
{
	fido_dev_t *dev = fido_dev_new();

	if (dev == NULL || fido_dev_set_io_functions(dev, &tr_io) != FIDO_OK ||
	    fido_dev_open(dev, sock) != FIDO_OK) {
		fido_dev_free(&dev);
		return NULL;
	}
	return dev;
}

static int
fido_assert_hmac(fido_dev_t *dev, const fido_cred_t *cred, const char *pin,
    int up, uint8_t out[32], uint8_t *flags)
{
	fido_assert_t *a = fido_assert_new();
	es256_pk_t *pk = es256_pk_new();
	uint8_t salt[32];
	int r;

	memset(salt, 0x44, sizeof(salt));
	if ((r = fido_assert_set_clientdata_hash(a, cdh, 32)) != FIDO_OK ||
	    (r = fido_assert_set_rp(a, RPID)) != FIDO_OK ||
	    (r = fido_assert_allow_cred(a, fido_cred_id_ptr(cred),
		 fido_cred_id_len(cred))) != FIDO_OK ||
	    (r = fido_assert_set_up(a, up ? FIDO_OPT_TRUE : FIDO_OPT_FALSE)) !=
		FIDO_OK)
		goto out;
	if (out != NULL &&
	    ((r = fido_assert_set_extensions(a, FIDO_EXT_HMAC_SECRET)) !=
		    FIDO_OK ||
		(r = fido_assert_set_hmac_salt(a, salt, 32)) != FIDO_OK))
		goto out;
	if ((r = fido_dev_get_assert(dev, a, pin)) != FIDO_OK)
		goto out;
	if ((r = es256_pk_from_ptr(pk, fido_cred_pubkey_ptr(cred),
		 fido_cred_pubkey_len(cred))) != FIDO_OK ||
	    (r = fido_assert_verify(a, 0, COSE_ES256, pk)) != FIDO_OK)
		goto out;
	*flags = fido_assert_flags(a, 0);
	if (out != NULL) {
		if (fido_assert_hmac_secret_len(a, 0) != 32) {
			r = -1;
			goto out;
		}
		memcpy(out, fido_assert_hmac_secret_ptr(a, 0), 32);
	}
out:
	es256_pk_free(&pk);
	fido_assert_free(&a);
	return r;
}

/* ---- the fixture: what a test leaves behind is freed after it ---- */

static char tmpdir[] = "/tmp/test-sim-fido2.XXXXXX";
static bool tmpdir_made;

/* A file name in this run's private directory, made on first use and
 * removed at exit with what is in it. */
static void
tmp_clean(void)
{
	static const char *const names[] = { "state.json", "touch", "sim.sock",
		"sim-state.json", "sim-touch" };
	char path[256];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

static const char *
tmp_path(const char *name, char *buf, size_t len)
{
	if (!tmpdir_made) {
		if (mkdtemp(tmpdir) == NULL) {
			perror("mkdtemp");
			exit(TEST_EXIT_FAIL);
		}
		tmpdir_made = true;
		atexit(tmp_clean);
	}
	snprintf(buf, len, "%s/%s", tmpdir, name);
	return buf;
}

struct fixture {
	struct sim_proc sp;
	fido_dev_t *dev;
	fido_cred_t *cred;
	fido_cbor_info_t *ci;
};

static struct fixture fx;

static void
fixture_clear(void)
{
	if (fx.dev != NULL) {
		fido_dev_close(fx.dev);
		fido_dev_free(&fx.dev);
	}
	fido_cred_free(&fx.cred);
	fido_cbor_info_free(&fx.ci);
	if (fx.sp.pid > 0)
		sim_stop(&fx.sp);
	while (nkeys > 0)
		EVP_PKEY_free(keys[--nkeys]);
	while (nitems > 0)
		cbor_decref(&items[--nitems]);
	sim_dev_free(cur_dev);
	cur_dev = NULL;
	unsetenv(SIM_TOUCH_FILE_ENV);
	memset(&fx, 0, sizeof(fx));
}

/* A test body: an ASSERT returns from it, then the fixture is emptied. */
#define SIM_TEST(name) \
	static void name##_body(void); \
	TEST(name) \
	{ \
		name##_body(); \
		fixture_clear(); \
	} \
	static void name##_body(void)

/* ---- tests ---- */

SIM_TEST(init_ping)
{
	struct sim_dev *d = dev_new("approve");
	uint8_t buf[300], data[200], cmd;
	uint32_t cid, cid2, rcid;
	size_t len;

	ASSERT(d != NULL);
	ASSERT((cid = hid_init(d)) != 0 && cid != CTAPHID_BROADCAST_CID);
	ASSERT(cap.out[0][7 + 12] == SIM_PROTOCOL_VERSION);
	ASSERT(cap.out[0][7 + 16] == (CTAPHID_CAP_CBOR | CTAPHID_CAP_WINK));
	ASSERT((cid2 = hid_init(d)) != 0 && cid2 != cid);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	hid_send(d, cid, CTAPHID_PING, data, sizeof(data));
	ASSERT(hid_recv(&rcid, &cmd, buf, sizeof(buf), &len, NULL) == 0);
	ASSERT(rcid == cid && cmd == CTAPHID_PING && len == sizeof(data));
	ASSERT(memcmp(buf, data, len) == 0);
	/* INIT of the wrong length */
	hid_send(d, CTAPHID_BROADCAST_CID, CTAPHID_INIT, data, 7);
	ASSERT(hid_recv(&rcid, &cmd, buf, sizeof(buf), &len, NULL) == 0);
	ASSERT(cmd == CTAPHID_ERROR && buf[0] == CTAPHID_ERR_INVALID_LEN);
	/* only INIT on the broadcast channel; no unallocated channel */
	hid_send(d, CTAPHID_BROADCAST_CID, CTAPHID_PING, data, 4);
	ASSERT(hid_recv(&rcid, &cmd, buf, sizeof(buf), &len, NULL) == 0);
	ASSERT(cmd == CTAPHID_ERROR && buf[0] == CTAPHID_ERR_INVALID_CHANNEL);
	hid_send(d, 0x7000000, CTAPHID_PING, data, 4);
	ASSERT(hid_recv(&rcid, &cmd, buf, sizeof(buf), &len, NULL) == 0);
	ASSERT(cmd == CTAPHID_ERROR && buf[0] == CTAPHID_ERR_INVALID_CHANNEL);
	/* U2F MSG is not served; WINK is */
	hid_send(d, cid, CTAPHID_MSG, data, 4);
	ASSERT(hid_recv(&rcid, &cmd, buf, sizeof(buf), &len, NULL) == 0);
	ASSERT(cmd == CTAPHID_ERROR && buf[0] == CTAPHID_ERR_INVALID_CMD);
	hid_send(d, cid, CTAPHID_WINK, NULL, 0);
	ASSERT(hid_recv(&rcid, &cmd, buf, sizeof(buf), &len, NULL) == 0);
	ASSERT(cmd == CTAPHID_WINK && len == 0);
	/* too long a message */
	frame(cid, CTAPHID_PING, data, 10, big_pkts, 1);
	big_pkts[0][5] = 0x1d;
	big_pkts[0][6] = 0xba; /* 7610 */
	ctaphid_packet(d, big_pkts[0]);
	ASSERT(hid_recv(&rcid, &cmd, buf, sizeof(buf), &len, NULL) == 0);
	ASSERT(cmd == CTAPHID_ERROR && buf[0] == CTAPHID_ERR_INVALID_LEN);
}

SIM_TEST(seq_busy_timeout)
{
	struct sim_config cfg;
	struct sim_dev *d;
	uint8_t buf[300], data[150], cmd;
	uint32_t a, b, rcid;
	size_t len, n;

	memset(&cfg, 0, sizeof(cfg));
	cfg.hid_timeout_ms = 50;
	d = dev_new_cfg(&cfg);
	ASSERT(d != NULL);
	ASSERT((a = hid_init(d)) != 0 && (b = hid_init(d)) != 0);
	memset(data, 0x5a, sizeof(data));
	/* continuation with the wrong sequence number */
	n = frame(a, CTAPHID_PING, data, sizeof(data), big_pkts, 140);
	ASSERT(n == 3);
	ctaphid_packet(d, big_pkts[0]);
	ctaphid_packet(d, big_pkts[2]); /* seq 1, not 0 */
	ASSERT(hid_recv(&rcid, &cmd, buf, sizeof(buf), &len, NULL) == 0);
	ASSERT(rcid == a && cmd == CTAPHID_ERROR &&
	    buf[0] == CTAPHID_ERR_INVALID_SEQ);
	/* another channel mid-message is busy; the message completes */
	ctaphid_packet(d, big_pkts[0]);
	frame(b, CTAPHID_PING, data, 4, big_pkts + 10, 1);
	ctaphid_packet(d, big_pkts[10]);
	ASSERT(hid_recv(&rcid, &cmd, buf, sizeof(buf), &len, NULL) == 0);
	ASSERT(rcid == b && cmd == CTAPHID_ERROR &&
	    buf[0] == CTAPHID_ERR_CHANNEL_BUSY);
	ctaphid_packet(d, big_pkts[1]);
	ctaphid_packet(d, big_pkts[2]);
	ASSERT(hid_recv(&rcid, &cmd, buf, sizeof(buf), &len, NULL) == 0);
	ASSERT(rcid == a && cmd == CTAPHID_PING && len == sizeof(data));
	/* a message left unfinished times out */
	ctaphid_packet(d, big_pkts[0]);
	ASSERT(ctaphid_timeout_ms(d) >= 0);
	sleep_ms(70);
	ctaphid_tick(d);
	ASSERT(hid_recv(&rcid, &cmd, buf, sizeof(buf), &len, NULL) == 0);
	ASSERT(rcid == a && cmd == CTAPHID_ERROR &&
	    buf[0] == CTAPHID_ERR_MSG_TIMEOUT);
	ASSERT(ctaphid_timeout_ms(d) == -1);
}

SIM_TEST(get_info)
{
	struct sim_dev *d = dev_new(NULL);
	cbor_item_t *info = NULL;
	const cbor_item_t *v, *o, *x;
	uint8_t *buf = hidbuf, cmd;
	uint32_t cid, rcid;
	size_t len;
	bool b;

	ASSERT(d != NULL);
	ASSERT(call(d, CTAP2_GET_INFO, NULL, &info) == CTAP2_OK);
	ASSERT(info != NULL);
	ASSERT((v = cb_map_int(info, 1)) != NULL && cbor_array_size(v) == 2);
	ASSERT(cb_text_is(cbor_array_handle(v)[0], "FIDO_2_0"));
	ASSERT(cb_text_is(cbor_array_handle(v)[1], "FIDO_2_1"));
	ASSERT((v = cb_map_int(info, 2)) != NULL &&
	    cb_text_is(cbor_array_handle(v)[0], "hmac-secret"));
	ASSERT((v = cb_map_int(info, 3)) != NULL &&
	    cbor_bytestring_length(v) == 16);
	ASSERT((o = cb_map_int(info, 4)) != NULL);
	ASSERT((x = cb_map_text(o, "rk")) != NULL && cb_get_bool(x, &b) == 0 &&
	    !b);
	ASSERT(
	    (x = cb_map_text(o, "up")) != NULL && cb_get_bool(x, &b) == 0 && b);
	ASSERT((x = cb_map_text(o, "plat")) != NULL &&
	    cb_get_bool(x, &b) == 0 && !b);
	ASSERT((x = cb_map_text(o, "clientPin")) != NULL &&
	    cb_get_bool(x, &b) == 0 && !b);
	ASSERT((x = cb_map_text(o, "pinUvAuthToken")) != NULL &&
	    cb_get_bool(x, &b) == 0 && b);
	ASSERT((v = cb_map_int(info, 5)) != NULL &&
	    cbor_get_int(v) == SIM_MSG_MAX);
	ASSERT((v = cb_map_int(info, 6)) != NULL && cbor_array_size(v) == 2 &&
	    cbor_get_int(cbor_array_handle(v)[0]) == 2 &&
	    cbor_get_int(cbor_array_handle(v)[1]) == 1);
	ASSERT((v = cb_map_int(info, 9)) != NULL &&
	    cb_text_is(cbor_array_handle(v)[0], "usb"));
	/* the same over CTAPHID; and the answer is canonical CBOR */
	ASSERT((cid = hid_init(d)) != 0);
	buf[0] = CTAP2_GET_INFO;
	hid_send(d, cid, CTAPHID_CBOR, buf, 1);
	ASSERT(hid_recv(&rcid, &cmd, buf, SIM_MSG_MAX, &len, NULL) == 0);
	ASSERT(cmd == CTAPHID_CBOR && buf[0] == CTAP2_OK);
	ASSERT(cb_load_map(buf + 1, len - 1, &info) == CTAP2_OK);
	keep_item(info);
	/* trailing bytes after getInfo */
	buf[0] = CTAP2_GET_INFO;
	buf[1] = 0xa0;
	ASSERT(call_raw(d, buf, 2) == CTAP1_ERR_INVALID_LENGTH);
}

SIM_TEST(make_get)
{
	struct sim_dev *d = dev_new(NULL);
	struct mc_args mc = { -7, -1, false, NULL, 0, 0, NULL };
	struct ga_args ga;
	struct cred_out c;
	struct ga_out g;
	cbor_item_t *resp = NULL;
	uint32_t count;

	memset(&c, 0, sizeof(c));
	ASSERT(d != NULL);
	ASSERT(
	    call(d, CTAP2_MAKE_CREDENTIAL, mc_request(&mc), &resp) == CTAP2_OK);
	ASSERT(parse_mc(resp, RPID, &c));
	ASSERT(c.flags == 0x41); /* UP, AT */
	ASSERT(!c.ext_hmac);

	memset(&ga, 0, sizeof(ga));
	ga.id = c.id;
	ga.idlen = c.idlen;
	ga.up = -1;
	ASSERT(
	    call(d, CTAP2_GET_ASSERTION, ga_request(&ga), &resp) == CTAP2_OK);
	ASSERT(parse_ga(resp, c.pk, c.id, c.idlen, &g));
	ASSERT(g.flags == 0x01);
	ASSERT(g.count > c.count);
	count = g.count;
	/* up=false: the pre-flight probe, no touch and no UP */
	ga.up = 0;
	ASSERT(
	    call(d, CTAP2_GET_ASSERTION, ga_request(&ga), &resp) == CTAP2_OK);
	ASSERT(parse_ga(resp, c.pk, c.id, c.idlen, &g));
	ASSERT(g.flags == 0x00 && g.count > count);
	/* a foreign credential, our credential at another RP, no list */
	ga.up = -1;
	c.id[40] ^= 1;
	ASSERT(call(d, CTAP2_GET_ASSERTION, ga_request(&ga), NULL) ==
	    CTAP2_ERR_NO_CREDENTIALS);
	c.id[40] ^= 1;
	ga.rpid = "example.org";
	ASSERT(call(d, CTAP2_GET_ASSERTION, ga_request(&ga), NULL) ==
	    CTAP2_ERR_NO_CREDENTIALS);
	ga.rpid = NULL;
	ga.no_allow = true;
	ASSERT(call(d, CTAP2_GET_ASSERTION, ga_request(&ga), NULL) ==
	    CTAP2_ERR_NO_CREDENTIALS);
	/* ES256 only, no resident keys */
	mc.alg = -8;
	ASSERT(call(d, CTAP2_MAKE_CREDENTIAL, mc_request(&mc), NULL) ==
	    CTAP2_ERR_UNSUPPORTED_ALGORITHM);
	mc.alg = -7;
	mc.rk = 1;
	ASSERT(call(d, CTAP2_MAKE_CREDENTIAL, mc_request(&mc), NULL) ==
	    CTAP2_ERR_UNSUPPORTED_OPTION);
	mc.rk = 0;
	ASSERT(
	    call(d, CTAP2_MAKE_CREDENTIAL, mc_request(&mc), &resp) == CTAP2_OK);
	/* excludeList with our credential: touch, then EXCLUDED */
	mc.rk = -1;
	ga.no_allow = false;
	{
		cbor_item_t *req = mc_request(&mc), *list;

		list = cbor_new_definite_array(1);
		cb_push(list, descriptor_of(c.id, c.idlen));
		cb_put(req, cb_uint(5), list);
		ASSERT(call(d, CTAP2_MAKE_CREDENTIAL, req, NULL) ==
		    CTAP2_ERR_CREDENTIAL_EXCLUDED);
	}
	/* a pinUvAuthParam to a token without a PIN */
	{
		static const uint8_t junk[32];

		ga.auth = junk;
		ga.auth_len = sizeof(junk);
		ga.proto = 2;
		ASSERT(call(d, CTAP2_GET_ASSERTION, ga_request(&ga), NULL) ==
		    CTAP2_ERR_PIN_NOT_SET);
		ga.auth = NULL;
	}
	/* uv=true: no built-in UV; with a PIN set, the PIN is required */
	{
		cbor_item_t *req = ga_request(&ga), *opts = map_new(1);

		cb_put(opts, cb_text("uv"), cb_bool(true));
		cb_put(req, cb_uint(5), opts);
		ASSERT(call(d, CTAP2_GET_ASSERTION, req, NULL) ==
		    CTAP2_ERR_INVALID_OPTION);
		ASSERT(pin_set(d, 2, "1234") == CTAP2_OK);
		req = ga_request(&ga);
		opts = map_new(1);
		cb_put(opts, cb_text("uv"), cb_bool(true));
		cb_put(req, cb_uint(5), opts);
		ASSERT(call(d, CTAP2_GET_ASSERTION, req, NULL) ==
		    CTAP2_ERR_PIN_REQUIRED);
	}
	/* a zero-length pinUvAuthParam: touch, then "PIN set" */
	{
		static const uint8_t none[1];

		ga.auth = none;
		ga.auth_len = 0;
		ga.proto = 1;
		ASSERT(call(d, CTAP2_GET_ASSERTION, ga_request(&ga), NULL) ==
		    CTAP2_ERR_PIN_INVALID);
		ga.auth = NULL;
	}
}

SIM_TEST(malformed)
{
	struct sim_dev *d = dev_new(NULL);
	/* getAssertion {1: "a", 2: h'00'} with variations */
	static const uint8_t garbage[] = { 0x02, 0xff, 0x13, 0x37 };
	static const uint8_t trailing[] = { 0x02, 0xa0, 0x00 };
	static const uint8_t order[] = { 0x02, 0xa2, 0x02, 0x41, 0x00, 0x01,
		0x61, 0x61 };
	static const uint8_t longint[] = { 0x02, 0xa1, 0x18, 0x01, 0x61, 0x61 };
	static const uint8_t missing[] = { 0x02, 0xa1, 0x01, 0x61, 0x61 };
	static const uint8_t badtype[] = { 0x02, 0xa2, 0x01, 0x61, 0x61, 0x02,
		0x61, 0x61 };
	static const uint8_t array[] = { 0x02, 0x80 };
	static const uint8_t indef[] = { 0x02, 0xbf, 0xff };
	static const uint8_t textkey[] = { 0x02, 0xa1, 0x61, 0x61, 0x01 };
	static const uint8_t deep[] = { 0x02, 0xa1, 0x01, 0x81, 0x81, 0x81,
		0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x01 };
	static const uint8_t empty_mc[] = { 0x01 };
	static const uint8_t unknown[] = { 0x42 };
	static const uint8_t tag[] = { 0x02, 0xa1, 0x01, 0xc1, 0x01 };
	static const uint8_t badsub[] = { 0x06, 0xa2, 0x01, 0x01, 0x02, 0x18,
		0x20 };
	static const uint8_t badproto[] = { 0x06, 0xa2, 0x01, 0x03, 0x02,
		0x02 };

	ASSERT(d != NULL);
	ASSERT(call_raw(d, garbage, sizeof(garbage)) == CTAP2_ERR_INVALID_CBOR);
	ASSERT(
	    call_raw(d, trailing, sizeof(trailing)) == CTAP2_ERR_INVALID_CBOR);
	ASSERT(call_raw(d, order, sizeof(order)) == CTAP2_ERR_INVALID_CBOR);
	ASSERT(call_raw(d, longint, sizeof(longint)) == CTAP2_ERR_INVALID_CBOR);
	ASSERT(call_raw(d, missing, sizeof(missing)) ==
	    CTAP2_ERR_MISSING_PARAMETER);
	ASSERT(call_raw(d, badtype, sizeof(badtype)) ==
	    CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	ASSERT(call_raw(d, array, sizeof(array)) ==
	    CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	ASSERT(call_raw(d, indef, sizeof(indef)) == CTAP2_ERR_INVALID_CBOR);
	ASSERT(call_raw(d, textkey, sizeof(textkey)) == CTAP2_ERR_INVALID_CBOR);
	ASSERT(call_raw(d, deep, sizeof(deep)) == CTAP2_ERR_INVALID_CBOR);
	ASSERT(call_raw(d, empty_mc, sizeof(empty_mc)) ==
	    CTAP2_ERR_MISSING_PARAMETER);
	ASSERT(
	    call_raw(d, unknown, sizeof(unknown)) == CTAP1_ERR_INVALID_COMMAND);
	ASSERT(call_raw(d, tag, sizeof(tag)) == CTAP2_ERR_INVALID_CBOR);
	ASSERT(call_raw(d, badsub, sizeof(badsub)) ==
	    CTAP2_ERR_INVALID_SUBCOMMAND);
	ASSERT(call_raw(d, badproto, sizeof(badproto)) ==
	    CTAP1_ERR_INVALID_PARAMETER);
}

static void
pin_flow(unsigned proto)
{
	struct sim_dev *d = dev_new(NULL);
	struct mc_args mc = { -7, -1, false, NULL, 0, 0, NULL };
	struct cred_out c;
	cbor_item_t *info = NULL, *resp = NULL;
	const cbor_item_t *x;
	uint8_t token[32], auth[32];
	bool b;

	memset(&c, 0, sizeof(c));
	ASSERT(d != NULL);
	ASSERT(pin_set(d, proto, "12") == CTAP2_ERR_PIN_POLICY_VIOLATION);
	ASSERT(pin_set(d, proto, "1234") == CTAP2_OK);
	ASSERT(d->pin_set && d->pin_retries == 8);
	ASSERT(pin_set(d, proto, "5678") == CTAP2_ERR_NOT_ALLOWED);
	ASSERT(call(d, CTAP2_GET_INFO, NULL, &info) == CTAP2_OK);
	ASSERT((x = cb_map_text(cb_map_int(info, 4), "clientPin")) != NULL &&
	    cb_get_bool(x, &b) == 0 && b);
	/* getPinToken, then with permissions */
	ASSERT(pin_token(d, proto, "1234", 0, token) == CTAP2_OK);
	mc.auth = auth;
	mc.auth_len = plat_auth(proto, token, cdh, 32, NULL, 0, auth);
	mc.proto = proto;
	ASSERT(
	    call(d, CTAP2_MAKE_CREDENTIAL, mc_request(&mc), &resp) == CTAP2_OK);
	ASSERT(parse_mc(resp, RPID, &c));
	ASSERT(c.flags == 0x45); /* UP, UV, AT */
	/* the token's permissions are spent after a touch */
	ASSERT(call(d, CTAP2_MAKE_CREDENTIAL, mc_request(&mc), NULL) ==
	    CTAP2_ERR_PIN_AUTH_INVALID);
	ASSERT(pin_token(d, proto, "1234", SIM_PERM_GA, token) == CTAP2_OK);
	mc.auth_len = plat_auth(proto, token, cdh, 32, NULL, 0, auth);
	ASSERT(call(d, CTAP2_MAKE_CREDENTIAL, mc_request(&mc), NULL) ==
	    CTAP2_ERR_PIN_AUTH_INVALID); /* no mc permission */
	ASSERT(pin_token(d, proto, "1234", SIM_PERM_MC, token) == CTAP2_OK);
	mc.auth_len = plat_auth(proto, token, cdh, 32, NULL, 0, auth);
	auth[0] ^= 1;
	ASSERT(call(d, CTAP2_MAKE_CREDENTIAL, mc_request(&mc), NULL) ==
	    CTAP2_ERR_PIN_AUTH_INVALID); /* bad MAC */
	auth[0] ^= 1;
	mc.rpid = "example.org";
	ASSERT(call(d, CTAP2_MAKE_CREDENTIAL, mc_request(&mc), NULL) ==
	    CTAP2_ERR_PIN_AUTH_INVALID); /* token bound to jit-agent */
	mc.rpid = NULL;
	ASSERT(
	    call(d, CTAP2_MAKE_CREDENTIAL, mc_request(&mc), &resp) == CTAP2_OK);
	ASSERT(pin_token(d, proto, "1234", 0x20, token) ==
	    CTAP2_ERR_UNAUTHORIZED_PERMISSION);
	/* without a token: fine (makeCredUvNotRqd) */
	mc.auth = NULL;
	ASSERT(
	    call(d, CTAP2_MAKE_CREDENTIAL, mc_request(&mc), &resp) == CTAP2_OK);
	/* a power cycle makes a new token */
	ASSERT(pin_token(d, proto, "1234", SIM_PERM_MC, token) == CTAP2_OK);
	ASSERT(clientpin_power_up(d) == 0);
	mc.auth = auth;
	mc.auth_len = plat_auth(proto, token, cdh, 32, NULL, 0, auth);
	ASSERT(call(d, CTAP2_MAKE_CREDENTIAL, mc_request(&mc), NULL) ==
	    CTAP2_ERR_PIN_AUTH_INVALID);
	/* changePIN: the old PIN is checked, the new one takes over */
	ASSERT(pin_change(d, proto, "9999", "5678") == CTAP2_ERR_PIN_INVALID);
	ASSERT(pin_retries(d) == 7);
	ASSERT(pin_change(d, proto, "1234", "56") ==
	    CTAP2_ERR_PIN_POLICY_VIOLATION);
	ASSERT(pin_change(d, proto, "1234", "5678") == CTAP2_OK);
	ASSERT(pin_retries(d) == 8);
	ASSERT(pin_token(d, proto, "1234", 0, token) == CTAP2_ERR_PIN_INVALID);
	ASSERT(pin_token(d, proto, "5678", 0, token) == CTAP2_OK);
}

SIM_TEST(pin_protocol_1)
{
	pin_flow(1);
}

SIM_TEST(pin_protocol_2)
{
	pin_flow(2);
}

SIM_TEST(pin_block)
{
	struct sim_dev *d = dev_new(NULL);
	uint8_t token[32];

	ASSERT(d != NULL);
	ASSERT(pin_token(d, 2, "1234", 0, token) == CTAP2_ERR_PIN_NOT_SET);
	ASSERT(pin_set(d, 2, "1234") == CTAP2_OK);
	ASSERT(pin_token(d, 2, "0000", 0, token) == CTAP2_ERR_PIN_INVALID);
	ASSERT(pin_retries(d) == 7);
	ASSERT(pin_token(d, 1, "0000", 0, token) == CTAP2_ERR_PIN_INVALID);
	ASSERT(pin_token(d, 2, "0000", 0, token) == CTAP2_ERR_PIN_AUTH_BLOCKED);
	ASSERT(pin_retries(d) == 5);
	/* blocked until a power cycle, even with the right PIN */
	ASSERT(pin_token(d, 2, "1234", 0, token) == CTAP2_ERR_PIN_AUTH_BLOCKED);
	ASSERT(pin_retries(d) == 5);
	ASSERT(clientpin_power_up(d) == 0);
	ASSERT(pin_token(d, 2, "1234", 0, token) == CTAP2_OK);
	ASSERT(pin_retries(d) == 8);
	/* the last try gone: blocked for good */
	d->pin_retries = 1;
	ASSERT(pin_token(d, 2, "0000", 0, token) == CTAP2_ERR_PIN_BLOCKED);
	ASSERT(pin_retries(d) == 0);
	ASSERT(pin_token(d, 2, "1234", 0, token) == CTAP2_ERR_PIN_BLOCKED);
}

/* hmac-secret output for one or two salts through protocol proto. */
static int
hmac_eval(struct sim_dev *d, const struct cred_out *c, unsigned proto,
    const uint8_t *salts, size_t nsalt, const uint8_t *token, uint8_t *out)
{
	struct plat p;
	struct ga_args ga;
	struct ga_out g;
	cbor_item_t *in, *resp = NULL;
	uint8_t enc[96], sauth[32], auth[32], pt[96];
	size_t enclen = 0, salen, ptlen = 0;
	int r = -1;

	if (!plat_agree(d, proto, &p))
		return -1;
	pinproto_encrypt(
	    proto, p.ss, p.sslen, salts, nsalt, enc, sizeof(enc), &enclen);
	salen = plat_auth(proto, p.ss, enc, enclen, NULL, 0, sauth);
	in = map_new(4);
	cb_put(in, cb_uint(1), plat_cose(&p));
	cb_put(in, cb_uint(2), cb_bytes(enc, enclen));
	cb_put(in, cb_uint(3), cb_bytes(sauth, salen));
	cb_put(in, cb_uint(4), cb_uint(proto));
	memset(&ga, 0, sizeof(ga));
	ga.id = c->id;
	ga.idlen = c->idlen;
	ga.up = -1;
	ga.hmac_in = in;
	if (token != NULL) {
		ga.auth = auth;
		ga.auth_len = plat_auth(proto, token, cdh, 32, NULL, 0, auth);
		ga.proto = proto;
	}
	if (call(d, CTAP2_GET_ASSERTION, ga_request(&ga), &resp) != CTAP2_OK ||
	    !parse_ga(resp, c->pk, c->id, c->idlen, &g) ||
	    (g.flags & 0x80) == 0 || ((g.flags & 0x04) != 0) != (token != NULL))
		goto out;
	if (pinproto_decrypt(proto, p.ss, p.sslen, g.hmac_enc, g.hmac_enc_len,
		pt, sizeof(pt), &ptlen) != 0 ||
	    ptlen != nsalt)
		goto out;
	memcpy(out, pt, nsalt);
	r = 0;
out:
	plat_clear(&p);
	return r;
}

SIM_TEST(hmac_secret)
{
	struct sim_dev *d = dev_new(NULL);
	struct mc_args mc = { -7, -1, true, NULL, 0, 0, NULL };
	struct cred_out c, plain;
	cbor_item_t *resp = NULL;
	uint8_t salts[64], a[64], b[64], e[64], uv[64], token[32];

	memset(&c, 0, sizeof(c));
	memset(&plain, 0, sizeof(plain));
	memset(salts, 0x11, 32);
	memset(salts + 32, 0x22, 32);
	ASSERT(d != NULL);
	ASSERT(
	    call(d, CTAP2_MAKE_CREDENTIAL, mc_request(&mc), &resp) == CTAP2_OK);
	ASSERT(parse_mc(resp, RPID, &c));
	ASSERT(c.flags == 0xc1 && c.ext_hmac); /* UP, AT, ED */
	/* stable, the same through either protocol, two salts agree */
	ASSERT(hmac_eval(d, &c, 2, salts, 32, NULL, a) == 0);
	ASSERT(hmac_eval(d, &c, 2, salts, 32, NULL, b) == 0);
	ASSERT(memcmp(a, b, 32) == 0);
	ASSERT(hmac_eval(d, &c, 1, salts, 32, NULL, b) == 0);
	ASSERT(memcmp(a, b, 32) == 0);
	ASSERT(hmac_eval(d, &c, 2, salts, 64, NULL, e) == 0);
	ASSERT(memcmp(a, e, 32) == 0 && memcmp(a, e + 32, 32) != 0);
	/* with UV, another CredRandom */
	ASSERT(pin_set(d, 2, "4321") == CTAP2_OK);
	ASSERT(pin_token(d, 2, "4321", SIM_PERM_GA, token) == CTAP2_OK);
	ASSERT(hmac_eval(d, &c, 2, salts, 32, token, uv) == 0);
	ASSERT(memcmp(a, uv, 32) != 0);
	ASSERT(pin_token(d, 1, "4321", 0, token) == CTAP2_OK);
	ASSERT(hmac_eval(d, &c, 1, salts, 32, token, b) == 0);
	ASSERT(memcmp(uv, b, 32) == 0);
	ASSERT(hmac_eval(d, &c, 2, salts, 32, NULL, b) == 0);
	ASSERT(memcmp(a, b, 32) == 0);
	/* a credential made without hmac-secret gives no output */
	mc.hmac_secret = false;
	ASSERT(
	    call(d, CTAP2_MAKE_CREDENTIAL, mc_request(&mc), &resp) == CTAP2_OK);
	ASSERT(parse_mc(resp, RPID, &plain));
	ASSERT(hmac_eval(d, &plain, 2, salts, 32, NULL, b) == -1);
}

SIM_TEST(state)
{
	struct sim_config cfg;
	struct sim_dev *d = NULL;
	struct mc_args mc = { -7, -1, true, NULL, 0, 0, NULL };
	struct cred_out c;
	cbor_item_t *resp = NULL;
	char path[256];
	uint8_t salts[32], a[32], b[32];
	uint32_t count;
	struct stat st;

	memset(&c, 0, sizeof(c));
	memset(salts, 0x33, sizeof(salts));
	tmp_path("state.json", path, sizeof(path));
	memset(&cfg, 0, sizeof(cfg));
	cfg.state_path = path;
	cfg.pin = (const uint8_t *)"2468";
	cfg.pin_len = 4;
	ASSERT((d = dev_new_cfg(&cfg)) != NULL);
	ASSERT(d->pin_set);
	ASSERT(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	ASSERT(
	    call(d, CTAP2_MAKE_CREDENTIAL, mc_request(&mc), &resp) == CTAP2_OK);
	ASSERT(parse_mc(resp, RPID, &c));
	ASSERT(hmac_eval(d, &c, 2, salts, 32, NULL, a) == 0);
	count = d->sign_count;
	/* restart: same credentials, same outputs, counter goes on; the
	 * PIN given again does not replace the stored one */
	cfg.pin = (const uint8_t *)"9999";
	ASSERT((d = dev_new_cfg(&cfg)) != NULL);
	ASSERT(d->sign_count == count);
	ASSERT(hmac_eval(d, &c, 2, salts, 32, NULL, b) == 0);
	ASSERT(memcmp(a, b, 32) == 0);
	ASSERT(d->sign_count == count + 1);
	ASSERT(pin_retries(d) == 8);
	{
		uint8_t token[32];

		ASSERT(pin_token(d, 2, "2468", 0, token) == CTAP2_OK);
	}
	/* reset: touch, then the master secret and the PIN are gone */
	ASSERT(call(d, CTAP2_RESET, NULL, NULL) == CTAP2_OK);
	ASSERT(!d->pin_set);
	ASSERT(hmac_eval(d, &c, 2, salts, 32, NULL, b) == -1);
	ASSERT((d = dev_new_cfg(&cfg)) != NULL);
	ASSERT(d->pin_set); /* --pin again at the first start after */
}

/* makeCredential over CTAPHID while the reports queued in cap.in arrive;
 * returns the CTAP status and counts the keepalives seen. */
static int
hid_mc(struct sim_dev *d, uint32_t cid, int *keepalives)
{
	struct mc_args mc = { -7, -1, false, NULL, 0, 0, NULL };
	cbor_item_t *req = mc_request(&mc);
	uint8_t *buf = hidbuf, cmd;
	uint32_t rcid;
	size_t len;

	buf[0] = CTAP2_MAKE_CREDENTIAL;
	len = 1 + cbor_serialize(req, buf + 1, SIM_MSG_MAX - 1);
	cbor_decref(&req);
	hid_send(d, cid, CTAPHID_CBOR, buf, len);
	for (;;) {
		if (hid_recv(&rcid, &cmd, buf, SIM_MSG_MAX, &len, keepalives) !=
		    0)
			return -1;
		if (rcid == cid && cmd == CTAPHID_CBOR)
			return buf[0];
	}
}

SIM_TEST(touch)
{
	struct sim_config cfg;
	struct sim_dev *d = NULL;
	char path[256];
	uint8_t nonce[8] = { 9, 9, 9, 9, 9, 9, 9, 9 }, buf[64], cmd;
	uint32_t cid, other, rcid;
	uint64_t t0;
	size_t len;
	int ka = 0, saw_init = 0, saw_busy = 0;
	FILE *f;

	memset(&cfg, 0, sizeof(cfg));
	ASSERT(sim_touch_parse("delay=x", &cfg.touch) != 0);
	ASSERT(sim_touch_parse("sometimes", &cfg.touch) != 0);
	/* deny */
	ASSERT((d = dev_new("deny")) != NULL);
	ASSERT((cid = hid_init(d)) != 0);
	ASSERT(hid_mc(d, cid, NULL) == CTAP2_ERR_OPERATION_DENIED);
	/* timeout, with keepalives meanwhile */
	ASSERT(sim_touch_parse("timeout", &cfg.touch) == 0);
	cfg.touch_timeout_ms = 350;
	ASSERT((d = dev_new_cfg(&cfg)) != NULL);
	ASSERT((cid = hid_init(d)) != 0);
	t0 = sim_now_ms();
	ASSERT(hid_mc(d, cid, &ka) == CTAP2_ERR_USER_ACTION_TIMEOUT);
	ASSERT(sim_now_ms() - t0 >= 350 && ka >= 3);
	/* CANCEL ends the wait */
	frame(cid, CTAPHID_CANCEL, NULL, 0, cap.in, 1);
	cap.nin = 1;
	cap.inpos = 0;
	cap.start_ms = sim_now_ms();
	cap.in_after_ms = 120;
	t0 = sim_now_ms();
	ASSERT(hid_mc(d, cid, NULL) == CTAP2_ERR_KEEPALIVE_CANCEL);
	ASSERT(sim_now_ms() - t0 < 350);
	/* delay: other channels are busy, INIT still served */
	ASSERT(sim_touch_parse("delay=300", &cfg.touch) == 0);
	ASSERT((d = dev_new_cfg(&cfg)) != NULL);
	ASSERT((cid = hid_init(d)) != 0 && (other = hid_init(d)) != 0);
	frame(CTAPHID_BROADCAST_CID, CTAPHID_INIT, nonce, 8, cap.in, 1);
	frame(other, CTAPHID_PING, nonce, 8, cap.in + 1, 1);
	cap.nin = 2;
	cap.start_ms = sim_now_ms();
	cap.in_after_ms = 50;
	ka = 0;
	ASSERT(hid_mc(d, cid, &ka) == CTAP2_OK);
	ASSERT(ka >= 2);
	cap.readpos = 0;
	while (hid_recv(&rcid, &cmd, buf, sizeof(buf), &len, NULL) == 0) {
		if (cmd == CTAPHID_INIT && rcid == CTAPHID_BROADCAST_CID &&
		    memcmp(buf, nonce, 8) == 0)
			saw_init = 1;
		if (cmd == CTAPHID_ERROR && rcid == other &&
		    buf[0] == CTAPHID_ERR_CHANNEL_BUSY)
			saw_busy = 1;
	}
	ASSERT(saw_init && saw_busy);
	/* the control file switches modes between touches */
	tmp_path("touch", path, sizeof(path));
	setenv(SIM_TOUCH_FILE_ENV, path, 1);
	ASSERT((d = dev_new("approve")) != NULL);
	ASSERT((f = fopen(path, "w")) != NULL);
	fputs("deny\n", f);
	fclose(f);
	ASSERT((cid = hid_init(d)) != 0);
	ASSERT(hid_mc(d, cid, NULL) == CTAP2_ERR_OPERATION_DENIED);
	ASSERT((f = fopen(path, "w")) != NULL);
	fputs("approve\n", f);
	fclose(f);
	ASSERT(hid_mc(d, cid, NULL) == CTAP2_OK);
	/* white space around the word is allowed */
	ASSERT((f = fopen(path, "w")) != NULL);
	fputs(" \tdeny \r\n", f);
	fclose(f);
	ASSERT(hid_mc(d, cid, NULL) == CTAP2_ERR_OPERATION_DENIED);
	/* two words, or a NUL in the word, are no mode: argv's stands */
	ASSERT((f = fopen(path, "w")) != NULL);
	fputs("deny deny\n", f);
	fclose(f);
	ASSERT(hid_mc(d, cid, NULL) == CTAP2_OK);
	ASSERT((f = fopen(path, "w")) != NULL);
	fwrite("deny\0x\n", 1, 7, f);
	fclose(f);
	ASSERT(hid_mc(d, cid, NULL) == CTAP2_OK);
	unlink(path);
	ASSERT(hid_mc(d, cid, NULL) == CTAP2_OK); /* no file: argv */
}

SIM_TEST(libfido2)
{
	const char *exe = getenv("JIT_SIM_FIDO2");
	struct sim_proc *sp = &fx.sp;
	fido_cbor_info_t *ci;
	fido_cred_t *cred;
	char touch[256];
	uint8_t h1[32], h2[32], huv[32], flags = 0;
	bool has21 = false;
	FILE *f;

	if (exe == NULL || *exe == '\0')
		TEST_SKIP("JIT_SIM_FIDO2 does not name the simulator");
	tmp_path("sim.sock", sp->sock, sizeof(sp->sock));
	tmp_path("sim-state.json", sp->state, sizeof(sp->state));
	tmp_path("sim-touch", touch, sizeof(touch));
	unlink(sp->state);
	fido_init(0);
	ASSERT(sim_start(sp, exe, touch) == 0);
	ASSERT((fx.dev = fido_open(sp->sock)) != NULL);
	ASSERT(fido_dev_is_fido2(fx.dev));
	ASSERT((ci = fx.ci = fido_cbor_info_new()) != NULL);
	ASSERT(fido_dev_get_cbor_info(fx.dev, ci) == FIDO_OK);
	for (size_t i = 0; i < fido_cbor_info_versions_len(ci); i++)
		if (strcmp(fido_cbor_info_versions_ptr(ci)[i], "FIDO_2_1") == 0)
			has21 = true;
	ASSERT(has21);
	ASSERT(fido_cbor_info_extensions_len(ci) == 1 &&
	    strcmp(fido_cbor_info_extensions_ptr(ci)[0], "hmac-secret") == 0);
	ASSERT(fido_cbor_info_maxmsgsiz(ci) == SIM_MSG_MAX);
	ASSERT(fido_cbor_info_protocols_len(ci) == 2 &&
	    fido_cbor_info_protocols_ptr(ci)[0] == 2);
	ASSERT(fido_cbor_info_aaguid_len(ci) == 16 &&
	    memcmp(fido_cbor_info_aaguid_ptr(ci), "jit-sim-fido2", 13) == 0);

	/* makeCredential with hmac-secret, packed self attestation */
	ASSERT((cred = fx.cred = fido_cred_new()) != NULL);
	ASSERT(fido_cred_set_type(cred, COSE_ES256) == FIDO_OK);
	ASSERT(fido_cred_set_clientdata_hash(cred, cdh, 32) == FIDO_OK);
	ASSERT(fido_cred_set_rp(cred, RPID, "jit-agent") == FIDO_OK);
	ASSERT(fido_cred_set_user(cred, (const unsigned char *)"user-0001", 9,
		   "u", NULL, NULL) == FIDO_OK);
	ASSERT(fido_cred_set_extensions(cred, FIDO_EXT_HMAC_SECRET) == FIDO_OK);
	ASSERT(fido_dev_make_cred(fx.dev, cred, NULL) == FIDO_OK);
	ASSERT(strcmp(fido_cred_fmt(cred), "packed") == 0);
	ASSERT(fido_cred_verify_self(cred) == FIDO_OK);

	/* getAssertion with hmac-secret: stable; pre-flight without UP */
	ASSERT(fido_assert_hmac(fx.dev, cred, NULL, 1, h1, &flags) == FIDO_OK);
	ASSERT((flags & 0x05) == 0x01);
	ASSERT(fido_assert_hmac(fx.dev, cred, NULL, 1, h2, &flags) == FIDO_OK);
	ASSERT(memcmp(h1, h2, 32) == 0);
	ASSERT(
	    fido_assert_hmac(fx.dev, cred, NULL, 0, NULL, &flags) == FIDO_OK);
	ASSERT((flags & 0x01) == 0);

	/* a PIN, then UV: another output */
	ASSERT(fido_dev_set_pin(fx.dev, "1234", NULL) == FIDO_OK);
	ASSERT(
	    fido_assert_hmac(fx.dev, cred, "1234", 1, huv, &flags) == FIDO_OK);
	ASSERT((flags & 0x05) == 0x05);
	ASSERT(memcmp(h1, huv, 32) != 0);
	ASSERT(fido_assert_hmac(fx.dev, cred, "4321", 1, h2, &flags) ==
	    FIDO_ERR_PIN_INVALID);

	/* touch modes through the control file */
	ASSERT((f = fopen(touch, "w")) != NULL);
	fputs("deny\n", f);
	fclose(f);
	ASSERT(fido_assert_hmac(fx.dev, cred, NULL, 1, h2, &flags) ==
	    FIDO_ERR_OPERATION_DENIED);
	ASSERT((f = fopen(touch, "w")) != NULL);
	fputs("timeout\n", f);
	fclose(f);
	ASSERT(fido_assert_hmac(fx.dev, cred, NULL, 1, h2, &flags) ==
	    FIDO_ERR_USER_ACTION_TIMEOUT);
	ASSERT((f = fopen(touch, "w")) != NULL);
	fputs("delay=250\n", f);
	fclose(f);
	ASSERT(fido_assert_hmac(fx.dev, cred, NULL, 1, h2, &flags) == FIDO_OK);
	ASSERT(memcmp(h1, h2, 32) == 0);
	unlink(touch);

	/* a restart with the same state: same outputs */
	fido_dev_close(fx.dev);
	fido_dev_free(&fx.dev);
	ASSERT(sim_stop(sp) == 0); /* exit 0 on SIGTERM */
	ASSERT(access(sp->sock, F_OK) != 0); /* socket removed */
	ASSERT(sim_start(sp, exe, NULL) == 0);
	ASSERT((fx.dev = fido_open(sp->sock)) != NULL);
	ASSERT(fido_assert_hmac(fx.dev, cred, NULL, 1, h2, &flags) == FIDO_OK);
	ASSERT(memcmp(h1, h2, 32) == 0);
	ASSERT(
	    fido_assert_hmac(fx.dev, cred, "1234", 1, h2, &flags) == FIDO_OK);
	ASSERT(memcmp(huv, h2, 32) == 0);
}

static const struct test_case tests[] = {
	TEST_ENTRY(init_ping),
	TEST_ENTRY(seq_busy_timeout),
	TEST_ENTRY(get_info),
	TEST_ENTRY(make_get),
	TEST_ENTRY(malformed),
	TEST_ENTRY(pin_protocol_1),
	TEST_ENTRY(pin_protocol_2),
	TEST_ENTRY(pin_block),
	TEST_ENTRY(hmac_secret),
	TEST_ENTRY(state),
	TEST_ENTRY(touch),
	TEST_ENTRY(libfido2),
};

TEST_MAIN(tests)
