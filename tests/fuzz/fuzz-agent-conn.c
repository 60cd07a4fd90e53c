/* libFuzzer harness: what one client sends to a real agent's socket. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "agent.h"
#include "audit.h"
#include "dispatch.h"
#include "err.h"
#include "events.h"
#include "fields.h"
#include "hw.h"
#include "hwq.h"
#include "log.h"
#include "secret.h"
#include "ssh-agent.h"
#include "store.h"
#include "tokenset.h"
#include "vault.h"
#include "wire.h"

#define FUZZ_NAME "fuzz-agent-conn"
#include "fuzz.h"

/*
 * The whole connection handler, unchanged: for each input this harness
 * starts an agent (every agent/ file but main.c) on a fresh data
 * directory and socket, with its own libuv loop; connects as a client of
 * the same uid; writes the input; and pumps the loop and the client
 * socket until the agent has answered and closed.  Nothing about framing
 * is faked: the bytes go through the kernel, server.c's reads, its frame
 * buffer and its limits, dispatch.c, the extension verbs and the ssh-agent
 * side (ssh-add keys, signatures, lock, session binds; SSH_ASKPASS is
 * /bin/true, so a confirm key is always confirmed).
 *
 * Hardware is out of reach on purpose: hw/hw.c is built without any
 * backend, so enrolling fails and an unlock runs through the work queue
 * and fails there, and no input can open a device or a socket path.  To
 * give the verbs something to work on, the store holds one token (type
 * "none") and two credentials wrapped to it: "pg" (session, unlocked, so
 * get serves its fields), "pg-always" (step-up always, so get needs
 * the token, off the loop) and "ssh-onuse" (a locked SSH certificate
 * marked unlock-on-use: listed, and its signature asks the token).
 *
 * What must hold, whatever the bytes:
 *  - exactly one reply per complete frame, in order, each a well-formed
 *    frame whose type fits the request (11: 12 or 5; 13: 14 or 5; the
 *    other requests of draft-miller: 6 or 5; 27: 6, 5 or 28; anything
 *    else: 5), and no reply cut short;
 *  - a frame header of length 0 or over AGENT_FRAME_MAX makes the agent
 *    close the connection, after at most the replies owed before it;
 *  - the agent gets through it in bounded time and closes every handle.
 */

#define DEADLINE_S 30
#define IO_CHUNK (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base_dir[64];
static bool verbose; /* FUZZ_AGENT_VERBOSE=1: print each reply */

static int
remove_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void
remove_tree(const char *dir)
{
	if (dir[0] != '\0')
		nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
cleanup(void)
{
	remove_tree(base_dir);
}

static void
setup_once(void)
{
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	if (sodium_init() < 0)
		abort();
	signal(SIGPIPE, SIG_IGN);
	/* ssh-add -c keys ask through SSH_ASKPASS: always "yes", and never a
	 * program an input could choose. */
	setenv("SSH_ASKPASS",
	    access("/bin/true", X_OK) == 0 ? "/bin/true" : "/usr/bin/true", 1);
	unsetenv("SSH_ASKPASS_REQUIRE");
	unsetenv("DISPLAY");
	unsetenv("WAYLAND_DISPLAY");
	verbose = getenv("FUZZ_AGENT_VERBOSE") != NULL;
	log_init("fuzz-agent-conn", 1, verbose ? LOG_LVL_DEBUG : LOG_LVL_ERROR);
	umask(077);
	snprintf(base_dir, sizeof(base_dir), "%s/jit-fuzz-agent-XXXXXX", tmp);
	if (mkdtemp(base_dir) == NULL)
		fail("mkdtemp %s: %s", base_dir, strerror(errno));
	atexit(cleanup);
}

/* ---- what the input asks for ---- */

struct expect {
	uint8_t *types; /* request type of each complete frame */
	size_t n;
	bool bad_header; /* a length 0 or over the limit */
};

static void
expect_of(const uint8_t *data, size_t size, struct expect *ex)
{
	struct wire_reader r;
	uint32_t len;

	memset(ex, 0, sizeof(*ex));
	CHECK((ex->types = malloc(size / 5 + 1)) != NULL);
	wire_reader_init(&r, data, size);
	while (wire_get_u32(&r, &len) == 0) {
		if (len == 0 || len > AGENT_FRAME_MAX) {
			ex->bad_header = true;
			return;
		}
		if (wire_left(&r) < len)
			return;
		ex->types[ex->n++] = *wire_cursor(&r);
		CHECK(wire_skip(&r, len) == 0);
	}
}

/* The replies draft-miller-ssh-agent allows for each request type. */
static bool
reply_fits(uint8_t req, uint8_t rep)
{
	switch (req) {
	case SSH_AGENTC_REQUEST_IDENTITIES:
		return rep == SSH_AGENT_IDENTITIES_ANSWER ||
		    rep == SSH_AGENT_FAILURE;
	case SSH_AGENTC_SIGN_REQUEST:
		return rep == SSH_AGENT_SIGN_RESPONSE ||
		    rep == SSH_AGENT_FAILURE;
	case SSH_AGENTC_ADD_IDENTITY:
	case SSH_AGENTC_REMOVE_IDENTITY:
	case SSH_AGENTC_REMOVE_ALL_IDENTITIES:
	case SSH_AGENTC_REMOVE_ALL_RSA_IDENTITIES: /* ssh-add -D's, as OpenSSH */
	case SSH_AGENTC_ADD_SMARTCARD_KEY:
	case SSH_AGENTC_REMOVE_SMARTCARD_KEY:
	case SSH_AGENTC_LOCK:
	case SSH_AGENTC_UNLOCK:
	case SSH_AGENTC_ADD_ID_CONSTRAINED:
	case SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED:
		return rep == SSH_AGENT_SUCCESS || rep == SSH_AGENT_FAILURE;
	case SSH_AGENTC_EXTENSION:
		return rep == SSH_AGENT_SUCCESS || rep == SSH_AGENT_FAILURE ||
		    rep == SSH_AGENT_EXTENSION_FAILURE;
	default: return rep == SSH_AGENT_FAILURE;
	}
}

/* ---- the agent under test ---- */

struct harness {
	char dir[128];
	uv_loop_t loop;
	struct agent ag;
};

/* A token of a type no backend serves: wraps work, unwraps fail. */
static int
seed_token(struct store *st)
{
	static const char id[] = "00112233445566778899aabbccddeeff";
	uint8_t sk[32];
	struct secret *key = NULL, *sks = NULL;
	struct tokenset *ts = NULL;
	struct hw_token *t;
	int r;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return JIT_E_NOMEM;
	memcpy(t->id, id, sizeof(id));
	memset(sk, 0x42, sizeof(sk));
	if ((t->label = strdup("fuzz")) == NULL ||
	    (t->type = strdup("none")) == NULL ||
	    (t->backend = json_object_new_object()) == NULL ||
	    crypto_scalarmult_base(t->recipient, sk) != 0) {
		hw_token_free(t);
		return JIT_E_NOMEM;
	}
	t->simulated = true;
	t->created = 1700000000;
	/* A set sealed as an enrollment would seal it: verified, so that
	 * adds wrap to it. */
	if ((r = tokenset_new(&ts)) != 0 || (r = seal_random_key(&key)) != 0 ||
	    (r = secret_from(sk, sizeof(sk), &sks)) != 0 ||
	    (r = tokenset_add(ts, t, sks, key)) != 0) {
		hw_token_free(t);
		goto out;
	}
	if ((r = store_replace_tokenset(st, ts)) == 0)
		ts = NULL;
out:
	tokenset_free(ts);
	secret_free(key);
	secret_free(sks);
	return r;
}

static int
seed_cred(struct harness *h, const char *name, enum stepup su)
{
	struct fields_builder b;
	struct cred_new cn;
	struct secret *f = NULL;
	struct cred *c;
	int r;

	if ((r = fields_begin(&b)) != 0 ||
	    (r = fields_add(&b, "user", 4, (const uint8_t *)"alice", 5)) != 0 ||
	    (r = fields_add(
		 &b, "password", 8, (const uint8_t *)"hunter2", 7)) != 0 ||
	    (r = fields_finish(&b, &f)) != 0) {
		fields_abort(&b);
		return r;
	}
	memset(&cn, 0, sizeof(cn));
	cn.name = name;
	cn.kind = "env";
	cn.ttl_s = 3600;
	cn.stepup = su;
	if ((r = store_put_cred(h->ag.store, &cn, f, &c)) != 0) {
		secret_free(f);
		return r;
	}
	if (su != STEPUP_SESSION) {
		secret_free(f);
		f = NULL;
	}
	return vault_unlock(h->ag.vault, c, f, 900, "fuzz");
}

/*
 * "ssh-onuse": an ssh-cert credential marked unlock-on-use and left
 * locked, so that ssh lists its certificate (from its header) and a
 * signature request with it asks the token off the loop (failing here:
 * no backend).  A fixed certificate, valid forever, so that the corpus
 * (onuse-sign) can name it.
 */
static const char onuse_cert_b64[] =
    "AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAILFNBR7zBYDr"
    "YrORr2ZKr3pPg9JqfVMAu7pFIB5PyPUmAAAAIDo7uKej0B3MPU1UAnI/LVfAEW42"
    "58O7IvmcFEBYsyeDAAAAAAAAAAAAAAABAAAACmZ1enotb251c2UAAAAIAAAABGZ1"
    "enoAAAAAAAAAAP//////////AAAAAAAAAIIAAAAVcGVybWl0LVgxMS1mb3J3YXJk"
    "aW5nAAAAAAAAABdwZXJtaXQtYWdlbnQtZm9yd2FyZGluZwAAAAAAAAAWcGVybWl0"
    "LXBvcnQtZm9yd2FyZGluZwAAAAAAAAAKcGVybWl0LXB0eQAAAAAAAAAOcGVybWl0"
    "LXVzZXItcmMAAAAAAAAAAAAAADMAAAALc3NoLWVkMjU1MTkAAAAgFnCnZiRL7yeC"
    "y9g9Q4L49pPsl7zi4MApwwACoch1B5wAAABTAAAAC3NzaC1lZDI1NTE5AAAAQGJW"
    "CqaleR6KkHYd77V4vEbPPi3vxpOODUzBAhhwLjpc67AO7hNFAyOn80MClUlYbeBO"
    "LojKuW7hzTZKa4L+YQ0=";

static int
seed_onuse_cert(struct harness *h)
{
	struct fields_builder b;
	struct cred_new cn;
	struct secret *f = NULL;
	struct cred *c;
	uint8_t cert[sizeof(onuse_cert_b64)];
	size_t n = 0;
	int r;

	if (sodium_base642bin(cert, sizeof(cert), onuse_cert_b64,
		strlen(onuse_cert_b64), NULL, &n, NULL,
		sodium_base64_VARIANT_ORIGINAL) != 0)
		return JIT_E_FORMAT;
	if ((r = fields_begin(&b)) != 0 ||
	    (r = fields_add(&b, "key", 3, (const uint8_t *)"k", 1)) != 0 ||
	    (r = fields_add(&b, "cert", 4, (const uint8_t *)"c", 1)) != 0 ||
	    (r = fields_finish(&b, &f)) != 0) {
		fields_abort(&b);
		return r;
	}
	memset(&cn, 0, sizeof(cn));
	cn.name = "ssh-onuse";
	cn.kind = SSH_CRED_KIND;
	cn.ttl_s = 3600;
	cn.stepup = STEPUP_SESSION;
	cn.unlock_on_use = true;
	cn.ssh_cert = cert;
	cn.ssh_certlen = n;
	r = store_put_cred(h->ag.store, &cn, f, &c);
	secret_free(f);
	return r;
}

static void
agent_up(struct harness *h)
{
	struct agent *ag = &h->ag;
	char *audit_path = NULL;

	snprintf(h->dir, sizeof(h->dir), "%s/a-XXXXXX", base_dir);
	if (mkdtemp(h->dir) == NULL)
		fail("mkdtemp: %s", strerror(errno));
	CHECK(uv_loop_init(&h->loop) == 0);
	memset(ag, 0, sizeof(*ag));
	ag->loop = &h->loop;
	ag->uid = geteuid();
	ag->window_default_s = AGENT_WINDOW_DEFAULT_S;
	ag->touch_timeout_ms = 1000;
	ag->dispatch = dispatch;
	ag->conn_state_free = ssh_conn_free;
	ag->unlocked = ssh_on_unlocked;
	ag->lock_ssh_keys = ssh_keys_on_lock;
	CHECK((ag->data_dir = strdup(h->dir)) != NULL);
	CHECK(asprintf(&ag->sock_path, "%s/agent.sock", h->dir) > 0);
	CHECK(asprintf(&audit_path, "%s/audit.log", h->dir) > 0);
	CHECK(store_open(ag->data_dir, &ag->store) == 0);
	CHECK(audit_open(audit_path, &ag->audit) == 0);
	free(audit_path);
	CHECK(vault_new(ag, &ag->vault) == 0);
	CHECK(hwq_new(ag, &ag->hwq) == 0);
	CHECK(seed_token(ag->store) == 0);
	CHECK(seed_cred(h, "pg", STEPUP_SESSION) == 0);
	CHECK(seed_cred(h, "pg-always", STEPUP_ALWAYS) == 0);
	CHECK(seed_onuse_cert(h) == 0);
	CHECK(server_start(ag) == 0);
}

/*
 * The teardown asked for in the report: wipe everything the agent holds,
 * close every handle it opened and free the vault and ssh-add state, so
 * that the loop ends and closes.  Weak: until agent/ has it, the fallback
 * below stands in.
 */
void agent_stop(struct agent *ag) __attribute__((weak));

static int fallback_warned;

static void
close_leftover(uv_handle_t *hd, void *arg)
{
	if (!uv_is_closing(hd)) {
		(*(int *)arg)++;
		uv_close(hd, NULL);
	}
}

static void
agent_down(struct harness *h)
{
	struct agent *ag = &h->ag;
	time_t until = time(NULL) + DEADLINE_S;
	int leftover = 0;

	/* Work for a client that left still finishes on the loop. */
	while (hwq_pending(ag->hwq) > 0) {
		uv_run(&h->loop, UV_RUN_ONCE);
		if (time(NULL) > until)
			fail("hardware work still pending after %d s",
			    DEADLINE_S);
	}
	ag->exiting = true;
	if (agent_stop != NULL)
		agent_stop(ag);
	else {
		/* What main.c does today ... */
		(void)agent_lock(ag, "fuzz input done", NULL, NULL, NULL, NULL);
		server_stop(ag);
		ssh_agent_free(ag);
		vault_free(ag->vault);
		ag->vault = NULL;
		uv_run(&h->loop, UV_RUN_NOWAIT);
		/* ... which leaves the ssh-add state's handles open: close
		 * them blind (their memory stays; LSan will say so). */
		uv_walk(&h->loop, close_leftover, &leftover);
		if (leftover > 0 && !fallback_warned++)
			fprintf(stderr,
			    "fuzz-agent-conn: %d libuv handle(s) "
			    "still open after server_stop() and vault_free(); "
			    "closed blind until agent/ has agent_stop()\n",
			    leftover);
	}
	uv_run(&h->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&h->loop) != 0)
		fail("the agent left libuv handles open");
	audit_close(ag->audit);
	store_free(ag->store);
	hwq_free(ag->hwq);
	free(ag->sock_path);
	free(ag->data_dir);
	remove_tree(h->dir);
}

/* ---- the client ---- */

struct client {
	int fd;
	struct wire_writer in; /* reply bytes not yet a whole frame */
	size_t replies;
	bool eof;
};

static void
take_replies(struct client *cl, const struct expect *ex)
{
	struct wire_reader r;
	uint32_t len;
	uint8_t type;

	for (;;) {
		wire_reader_init(
		    &r, wire_writer_data(&cl->in), wire_writer_len(&cl->in));
		if (wire_get_u32(&r, &len) != 0)
			return;
		if (len == 0 || len > AGENT_FRAME_MAX)
			fail("reply %zu has length %u", cl->replies, len);
		if (wire_left(&r) < len)
			return;
		type = *wire_cursor(&r);
		if (cl->replies >= ex->n)
			fail("reply %zu to %zu requests (type %u)",
			    cl->replies + 1, ex->n, type);
		if (!reply_fits(ex->types[cl->replies], type))
			fail("request %zu of type %u got a reply of type %u",
			    cl->replies, ex->types[cl->replies], type);
		if (verbose)
			fprintf(stderr, "  reply %zu: type %u, %u bytes %.*s\n",
			    cl->replies, type, len,
			    len > 5 ? (int)(len > 165 ? 160 : len - 5) : 0,
			    (const char *)wire_cursor(&r) + 5);
		cl->replies++;
		wire_writer_consume(&cl->in, 4 + (size_t)len);
	}
}

static void
client_read(struct client *cl, const struct expect *ex, bool *progress)
{
	static uint8_t buf[IO_CHUNK]; /* not on the stack: it is large */
	ssize_t n;

	for (;;) {
		n = recv(cl->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			if (wire_put_bytes(&cl->in, buf, (size_t)n) != 0)
				fail("a reply over %d bytes", AGENT_FRAME_MAX);
			take_replies(cl, ex);
			*progress = true;
			continue;
		}
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			cl->eof = true;
			*progress = true;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR)
			fail("recv: %s", strerror(errno));
		return;
	}
}

static void
converse(struct harness *h, const uint8_t *data, size_t size,
    const struct expect *ex)
{
	struct sockaddr_un sa;
	struct client cl;
	struct pollfd pfd[2];
	size_t off = 0;
	bool shut = false, progress;
	time_t until = time(NULL) + DEADLINE_S;
	ssize_t n;
	int timeout;

	memset(&cl, 0, sizeof(cl));
	wire_writer_init(&cl.in, 2 * (AGENT_FRAME_MAX + 4), false);
	CHECK((cl.fd = socket(AF_UNIX,
		   SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	CHECK(strlen(h->ag.sock_path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, h->ag.sock_path, strlen(h->ag.sock_path) + 1);
	if (connect(cl.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		fail("connect %s: %s", sa.sun_path, strerror(errno));

	while (!cl.eof) {
		progress = false;
		if (off < size) {
			n = send(cl.fd, data + off, size - off,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0) {
				off += (size_t)n;
				progress = true;
			} else if (n < 0 &&
			    (errno == EPIPE || errno == ECONNRESET)) {
				/* The agent hung up: allowed after a bad
				 * header only, checked below. */
				off = size;
				progress = true;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR)
				fail("send: %s", strerror(errno));
		}
		uv_run(&h->loop, UV_RUN_NOWAIT);
		client_read(&cl, ex, &progress);
		/* Everything sent and answered: say so, the agent closes. */
		if (!shut && off == size && cl.replies == ex->n) {
			CHECK(
			    shutdown(cl.fd, SHUT_WR) == 0 || errno == ENOTCONN);
			shut = true;
			progress = true;
		}
		if (cl.eof)
			break;
		if (time(NULL) > until)
			fail("stalled: sent %zu of %zu bytes, %zu of %zu "
			     "replies%s",
			    off, size, cl.replies, ex->n,
			    ex->bad_header ? " (a bad header follows)" : "");
		if (progress)
			continue;
		pfd[0].fd = cl.fd;
		pfd[0].events = POLLIN | (off < size ? POLLOUT : 0);
		pfd[1].fd = uv_backend_fd(&h->loop);
		pfd[1].events = POLLIN;
		timeout = uv_backend_timeout(&h->loop);
		if (timeout < 0 || timeout > 50)
			timeout = 50;
		(void)poll(pfd, 2, timeout);
	}
	if (wire_writer_len(&cl.in) > 0)
		fail("the connection closed inside a reply (%zu bytes left)",
		    wire_writer_len(&cl.in));
	if (ex->bad_header)
		CHECK(cl.replies <= ex->n);
	else if (cl.replies != ex->n)
		fail("%zu replies to %zu requests", cl.replies, ex->n);
	wire_writer_reset(&cl.in);
	close(cl.fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct harness *h;
	struct expect ex;

	if (!ready) {
		setup_once();
		ready = true;
	}
	if (size > 4 * (AGENT_FRAME_MAX + 4))
		return 0;
	expect_of(data, size, &ex);
	CHECK((h = calloc(1, sizeof(*h))) != NULL);
	agent_up(h);
	converse(h, data, size, &ex);
	agent_down(h);
	free(h);
	free(ex.types);
	return 0;
}
