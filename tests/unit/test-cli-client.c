/* Tests of jitctl's client framing (cli/client.c) against a fake peer. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sodium.h>

#include "client.h"
#include "err.h"
#include "fields.h"
#include "jsonx.h"
#include "secret.h"
#include "wire.h"

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
			fprintf(stderr, "%s:%d: %s: got %s, want %s\n", \
			    __FILE__, __LINE__, __func__, jit_errname(got_), \
			    jit_errname(want_)); \
			exit(1); \
		} \
	} while (0)

#define TEST_TIMEOUT_S 30
#define EXT_NAME(v) v "@jit-agent.dev"

/* A client on one end of a socketpair; *ret_peer is the fake agent. */
static struct client *
pair(int *ret_peer)
{
	struct client *c;
	int sv[2];

	ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	ASSERT(client_from_fd(sv[0], &c) == 0);
	*ret_peer = sv[1];
	return c;
}

static void
put_raw(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	ssize_t k;

	while (n > 0) {
		k = write(fd, b, n);
		ASSERT(k > 0);
		b += k;
		n -= (size_t)k;
	}
}

/* Write u32 length || body, the body built by the caller in w. */
static void
put_frame(int fd, struct wire_writer *w)
{
	uint8_t *body;
	size_t len;
	uint8_t hdr[4];

	ASSERT(wire_writer_take(w, &body, &len) == 0);
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	put_raw(fd, hdr, sizeof(hdr));
	put_raw(fd, body, len);
	free(body);
}

/* A reply: type, then each of the strings (NULL ends), then extra bytes. */
static void
reply(int fd, uint8_t type, const char *s1, const char *s2, const char *extra)
{
	struct wire_writer w;

	wire_writer_init(&w, 1024 * 1024, false);
	ASSERT(wire_put_u8(&w, type) == 0);
	if (s1 != NULL)
		ASSERT(wire_put_cstring(&w, s1) == 0);
	if (s2 != NULL)
		ASSERT(wire_put_cstring(&w, s2) == 0);
	if (extra != NULL)
		ASSERT(wire_put_bytes(&w, extra, strlen(extra)) == 0);
	put_frame(fd, &w);
}

/* Read the request the client sent and check its framing. */
static void
check_request(int fd, const char *want_name, const char *want_args_key,
    const char *want_secret)
{
	struct wire_reader r, hr;
	struct json_object *args = NULL;
	const uint8_t *p;
	uint8_t hdr[4], *body;
	uint32_t len;
	uint8_t type;
	size_t n;
	char *name = NULL;

	ASSERT(recv(fd, hdr, 4, MSG_WAITALL) == 4);
	wire_reader_init(&hr, hdr, 4);
	ASSERT(wire_get_u32(&hr, &len) == 0);
	ASSERT(len > 0 && len <= CLIENT_FRAME_MAX);
	ASSERT((body = malloc(len)) != NULL);
	ASSERT(recv(fd, body, len, MSG_WAITALL) == (ssize_t)len);
	wire_reader_init(&r, body, len);
	ASSERT(wire_get_u8(&r, &type) == 0);
	ASSERT(type == SSH_AGENTC_EXTENSION);
	ASSERT(wire_get_cstring(&r, 256, &name) == 0);
	ASSERT(strcmp(name, want_name) == 0);
	ASSERT(wire_get_string(&r, len, &p, &n) == 0);
	ASSERT(jsonx_parse((const char *)p, n, &args) == 0);
	if (want_args_key != NULL)
		ASSERT(json_object_object_get_ex(args, want_args_key, NULL));
	else
		ASSERT(json_object_object_length(args) == 0);
	if (want_secret != NULL) {
		ASSERT(wire_get_string(&r, len, &p, &n) == 0);
		ASSERT(n == strlen(want_secret));
		ASSERT(memcmp(p, want_secret, n) == 0);
	}
	ASSERT(wire_end(&r) == 0);
	json_object_put(args);
	free(name);
	free(body);
}

static void
test_good_reply(void)
{
	struct client_reply rep = { .retries = -1 };
	struct json_object *args;
	struct client *c;
	int peer;

	c = pair(&peer);
	reply(peer, SSH_AGENT_SUCCESS, "{\"unlocked\":[\"db-ro\"],\"until\":5}",
	    NULL, NULL);
	ASSERT((args = json_object_new_object()) != NULL);
	ASSERT(jsonx_add_str(args, "name", "db-ro") == 0);
	ASSERT_RC(client_call(c, "unlock", args, NULL, &rep), JIT_OK);
	ASSERT(rep.result != NULL);
	ASSERT(json_object_array_length(
		   json_object_object_get(rep.result, "unlocked")) == 1);
	ASSERT(rep.secret == NULL && rep.message == NULL);
	check_request(peer, EXT_NAME("unlock"), "name", NULL);

	/* NULL args are sent as {}. */
	reply(peer, SSH_AGENT_SUCCESS, "{}", NULL, NULL);
	ASSERT_RC(client_call(c, "status", NULL, NULL, &rep), JIT_OK);
	check_request(peer, EXT_NAME("status"), NULL, NULL);
	json_object_put(args);
	client_reply_reset(&rep);
	client_free(c);
	close(peer);
}

static void
test_secrets_both_ways(void)
{
	struct client_reply rep = { .retries = -1 };
	struct fields_builder b;
	struct secret *pin, *fields;
	struct wire_writer w;
	struct field f;
	struct client *c;
	int peer;

	c = pair(&peer);
	ASSERT(fields_begin(&b) == 0);
	ASSERT(fields_add(&b, "PGPASSWORD", 10, (const uint8_t *)"s3cret", 6) ==
	    0);
	ASSERT(fields_finish(&b, &fields) == 0);
	wire_writer_init(&w, 4096, false);
	ASSERT(wire_put_u8(&w, SSH_AGENT_SUCCESS) == 0);
	ASSERT(wire_put_cstring(&w,
		   "{\"name\":\"pg\",\"fields\":"
		   "[\"PGPASSWORD\"]}") == 0);
	ASSERT(
	    wire_put_string(&w, secret_ptr(fields), secret_len(fields)) == 0);
	put_frame(peer, &w);

	ASSERT(secret_from("4711", 4, &pin) == 0);
	ASSERT_RC(client_call(c, "get", NULL, pin, &rep), JIT_OK);
	check_request(peer, EXT_NAME("get"), NULL, "4711");
	ASSERT(rep.secret != NULL);
	ASSERT(secret_equal(rep.secret, fields));
	ASSERT(fields_get(rep.secret, "PGPASSWORD", &f) == 0);
	ASSERT(f.vallen == 6 && memcmp(f.val, "s3cret", 6) == 0);
	secret_free(pin);
	secret_free(fields);
	client_reply_reset(&rep);
	client_free(c);
	close(peer);
}

static void
test_extension_failure(void)
{
	struct client_reply rep = { .retries = -1 };
	struct client *c;
	int peer;

	c = pair(&peer);
	reply(peer, SSH_AGENT_EXTENSION_FAILURE,
	    "{\"error\":-10,\"code\":"
	    "\"JIT_E_LOCKED\",\"message\":\"db-ro is locked: run 'jitctl "
	    "unlock db-ro'\"}",
	    NULL, NULL);
	ASSERT_RC(client_call(c, "get", NULL, NULL, &rep), JIT_E_LOCKED);
	ASSERT(rep.from_agent);
	ASSERT(rep.result == NULL && rep.secret == NULL);
	ASSERT(strcmp(rep.message,
		   "db-ro is locked: run 'jitctl unlock "
		   "db-ro'") == 0);
	ASSERT(rep.retries == -1);

	/* PIN tries left travel along. */
	reply(peer, SSH_AGENT_EXTENSION_FAILURE,
	    "{\"error\":-6,\"code\":"
	    "\"JIT_E_PIN\",\"message\":\"wrong PIN\",\"retries\":2}",
	    NULL, NULL);
	ASSERT_RC(client_call(c, "unlock", NULL, NULL, &rep), JIT_E_PIN);
	ASSERT(rep.retries == 2);

	/* The name is the contract; a stale number loses to it. */
	reply(peer, SSH_AGENT_EXTENSION_FAILURE,
	    "{\"error\":-1,\"code\":"
	    "\"JIT_E_NO_TOUCH\"}",
	    NULL, NULL);
	ASSERT_RC(client_call(c, "unlock", NULL, NULL, &rep), JIT_E_NO_TOUCH);
	ASSERT(strcmp(rep.message, jit_strerror(JIT_E_NO_TOUCH)) == 0);

	/* Only a number. */
	reply(peer, SSH_AGENT_EXTENSION_FAILURE, "{\"error\":-9}", NULL, NULL);
	ASSERT_RC(client_call(c, "get", NULL, NULL, &rep), JIT_E_EXPIRED);

	/* Neither: still a failure, never a success. */
	reply(peer, SSH_AGENT_EXTENSION_FAILURE, "{\"error\":7}", NULL, NULL);
	ASSERT_RC(client_call(c, "get", NULL, NULL, &rep), JIT_E_INTERNAL);

	/* Failure JSON that is not JSON. */
	reply(peer, SSH_AGENT_EXTENSION_FAILURE, "locked", NULL, NULL);
	ASSERT_RC(client_call(c, "get", NULL, NULL, &rep), JIT_E_FORMAT);
	ASSERT(!rep.from_agent && rep.message != NULL);

	/* An agent that does not know the extension. */
	reply(peer, SSH_AGENT_FAILURE, NULL, NULL, NULL);
	ASSERT_RC(
	    client_call(c, "audit-head", NULL, NULL, &rep), JIT_E_UNSUPPORTED);
	client_reply_reset(&rep);
	client_free(c);
	close(peer);
}

static void
test_truncated(void)
{
	struct client_reply rep = { .retries = -1 };
	static const uint8_t hdr100[4] = { 0, 0, 0, 100 };
	struct client *c;
	int peer;

	/* A length promising 100 bytes, then 10 and the end. */
	c = pair(&peer);
	put_raw(peer, hdr100, 4);
	put_raw(peer, "\x06\0\0\0\x02{}xxx", 10);
	ASSERT(shutdown(peer, SHUT_WR) == 0);
	ASSERT_RC(client_call(c, "status", NULL, NULL, &rep), JIT_E_FORMAT);
	ASSERT(rep.result == NULL && rep.message != NULL);
	client_free(c);
	close(peer);

	/* Half a length. */
	c = pair(&peer);
	put_raw(peer, hdr100, 2);
	ASSERT(shutdown(peer, SHUT_WR) == 0);
	ASSERT_RC(client_call(c, "status", NULL, NULL, &rep), JIT_E_FORMAT);
	client_free(c);
	close(peer);

	/* Nothing at all: the agent hung up (e.g. another uid). */
	c = pair(&peer);
	ASSERT(shutdown(peer, SHUT_WR) == 0);
	ASSERT_RC(client_call(c, "status", NULL, NULL, &rep), JIT_E_AGENT);
	client_free(c);
	close(peer);

	/* A string inside the body longer than the body. */
	c = pair(&peer);
	put_raw(peer, "\0\0\0\x07\x06\0\0\0\x09{}", 11);
	ASSERT_RC(client_call(c, "status", NULL, NULL, &rep), JIT_E_FORMAT);
	client_free(c);
	close(peer);

	/* The peer is gone before the request: no SIGPIPE, an error. */
	c = pair(&peer);
	close(peer);
	ASSERT_RC(client_call(c, "status", NULL, NULL, &rep), JIT_E_AGENT);
	client_reply_reset(&rep);
	client_free(c);
}

static void
test_oversized(void)
{
	struct client_reply rep = { .retries = -1 };
	uint32_t len = CLIENT_FRAME_MAX + 1;
	uint8_t hdr[4] = { len >> 24, len >> 16, len >> 8, len };
	struct wire_writer w;
	struct client *c;
	char *pad;
	pid_t pid;
	int peer, status;

	/* Refused from the length alone: the peer never sends a body, so a
	 * client that tried to read one would hang (and the alarm fire). */
	c = pair(&peer);
	put_raw(peer, hdr, 4);
	ASSERT_RC(client_call(c, "status", NULL, NULL, &rep), JIT_E_LIMIT);
	ASSERT(rep.message != NULL && !rep.from_agent);
	client_free(c);
	close(peer);

	/* A zero length is no frame either. */
	c = pair(&peer);
	put_raw(peer, "\0\0\0\0", 4);
	ASSERT_RC(client_call(c, "status", NULL, NULL, &rep), JIT_E_FORMAT);
	client_free(c);
	close(peer);

	/* Exactly the limit is fine: {} padded with white space. */
	c = pair(&peer);
	ASSERT((pad = malloc(CLIENT_FRAME_MAX)) != NULL);
	memset(pad, ' ', CLIENT_FRAME_MAX);
	memcpy(pad, "{}", 2);
	wire_writer_init(&w, CLIENT_FRAME_MAX, false);
	ASSERT(wire_put_u8(&w, SSH_AGENT_SUCCESS) == 0);
	ASSERT(wire_put_string(&w, pad, CLIENT_FRAME_MAX - 5) == 0);
	ASSERT(wire_writer_len(&w) == CLIENT_FRAME_MAX);
	ASSERT((pid = fork()) >= 0);
	if (pid == 0) {
		put_frame(peer, &w);
		_exit(0);
	}
	ASSERT_RC(client_call(c, "status", NULL, NULL, &rep), JIT_OK);
	ASSERT(waitpid(pid, &status, 0) == pid && status == 0);
	wire_writer_reset(&w);
	free(pad);
	client_reply_reset(&rep);
	client_free(c);
	close(peer);
}

static void
test_trailing_and_malformed(void)
{
	struct client_reply rep = { .retries = -1 };
	struct client *c;
	int peer;

	c = pair(&peer);
	/* A byte after the result and the secret. */
	reply(peer, SSH_AGENT_SUCCESS, "{}", "secret", "X");
	ASSERT_RC(client_call(c, "get", NULL, NULL, &rep), JIT_E_FORMAT);
	ASSERT(rep.secret == NULL && rep.result == NULL);
	/* Half a string where the secret would be. */
	reply(peer, SSH_AGENT_SUCCESS, "{}", NULL, "\x01\x02");
	ASSERT_RC(client_call(c, "get", NULL, NULL, &rep), JIT_E_FORMAT);
	/* After a failure's JSON. */
	reply(peer, SSH_AGENT_EXTENSION_FAILURE, "{\"error\":-10}", NULL, "Y");
	ASSERT_RC(client_call(c, "get", NULL, NULL, &rep), JIT_E_FORMAT);
	/* SSH_AGENT_FAILURE has no body. */
	reply(peer, SSH_AGENT_FAILURE, NULL, NULL, "Z");
	ASSERT_RC(client_call(c, "get", NULL, NULL, &rep), JIT_E_FORMAT);
	/* No result at all. */
	reply(peer, SSH_AGENT_SUCCESS, NULL, NULL, NULL);
	ASSERT_RC(client_call(c, "lock", NULL, NULL, &rep), JIT_E_FORMAT);
	/* A result that is not a JSON object. */
	reply(peer, SSH_AGENT_SUCCESS, "[1,2]", NULL, NULL);
	ASSERT_RC(client_call(c, "lock", NULL, NULL, &rep), JIT_E_FORMAT);
	reply(peer, SSH_AGENT_SUCCESS, "{} {}", NULL, NULL);
	ASSERT_RC(client_call(c, "lock", NULL, NULL, &rep), JIT_E_FORMAT);
	/* A type no extension answers with. */
	reply(peer, 12, "{}", NULL, NULL);
	ASSERT_RC(client_call(c, "lock", NULL, NULL, &rep), JIT_E_FORMAT);
	/* And the connection still frames the next request right. */
	reply(peer, SSH_AGENT_SUCCESS, "{\"locked\":[]}", NULL, NULL);
	ASSERT_RC(client_call(c, "lock", NULL, NULL, &rep), JIT_OK);
	client_reply_reset(&rep);
	client_free(c);
	close(peer);
}

static void
test_connect(void)
{
	struct client_reply rep = { .retries = -1 };
	struct sockaddr_un sun;
	char dir[] = "/tmp/jit-cli-test.XXXXXX", path[128], longp[200];
	char why[CLIENT_MSG_MAX];
	struct client *c = NULL;
	int lfd, afd;

	ASSERT(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/agent.sock", dir);
	errno = 0;
	ASSERT_RC(client_connect(path, &c, why, sizeof(why)), JIT_E_AGENT);
	ASSERT(errno == ENOENT);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	ASSERT_RC(client_connect(longp, &c, why, sizeof(why)), JIT_E_AGENT);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	ASSERT((lfd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	ASSERT(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	ASSERT(listen(lfd, 1) == 0);
	ASSERT_RC(client_connect(path, &c, why, sizeof(why)), JIT_OK);
	ASSERT((afd = accept(lfd, NULL, NULL)) >= 0);
	reply(afd, SSH_AGENT_SUCCESS, "{\"tokens\":[]}", NULL, NULL);
	ASSERT_RC(client_call(c, "tokens", NULL, NULL, &rep), JIT_OK);
	check_request(afd, EXT_NAME("tokens"), NULL, NULL);
	client_reply_reset(&rep);
	client_free(c);
	close(afd);
	close(lfd);
	ASSERT(unlink(path) == 0 && rmdir(dir) == 0);
}

/* A listener on dir/agent.sock that nothing has connected to yet. */
static int
listener(const char *path)
{
	struct sockaddr_un sun;
	int lfd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	ASSERT((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) >= 0);
	ASSERT(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	ASSERT(listen(lfd, 1) == 0);
	return lfd;
}

/* Refused: a sentence with want in it, and no connection was made. */
static void
refused(const char *path, int lfd, const char *want)
{
	struct client *c = NULL;
	char why[CLIENT_MSG_MAX];

	ASSERT_RC(client_connect(path, &c, why, sizeof(why)), JIT_E_PEER);
	ASSERT(c == NULL);
	if (strstr(why, want) == NULL ||
	    strstr(why, "refusing to talk to it") == NULL) {
		fprintf(stderr, "want \"%s\" in: %s\n", want, why);
		exit(1);
	}
	/* Nothing reached the listener, not even a connection. */
	if (lfd >= 0)
		ASSERT(accept(lfd, NULL, NULL) < 0 && errno == EAGAIN);
}

/* Whom jitctl talks to: the socket's directory and the socket itself. */
static void
test_connect_checks(void)
{
	char dir[] = "/tmp/jit-cli-test.XXXXXX", path[128], link[160];
	char other[160], want[200], why[CLIENT_MSG_MAX];
	struct client *c = NULL;
	int lfd, fd;

	ASSERT(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/agent.sock", dir);
	lfd = listener(path);

	ASSERT(chmod(dir, 0777) == 0);
	snprintf(want, sizeof(want),
	    "the agent socket's directory %s is writable by others", dir);
	refused(path, lfd, want);
	ASSERT(chmod(dir, 01777) == 0); /* sticky, like /tmp: still no */
	refused(path, lfd, want);
	ASSERT(chmod(dir, 0770) == 0);
	snprintf(want, sizeof(want),
	    "the agent socket's directory %s is writable by its group", dir);
	refused(path, lfd, want);
	ASSERT(chmod(dir, 0755) == 0);

	/* A link to the socket, or something else by that name. */
	snprintf(link, sizeof(link), "%s/link.sock", dir);
	ASSERT(symlink(path, link) == 0);
	snprintf(
	    want, sizeof(want), "the agent socket %s is a symbolic link", link);
	refused(link, lfd, want);
	snprintf(other, sizeof(other), "%s/file", dir);
	ASSERT((fd = open(other, O_CREAT | O_WRONLY, 0600)) >= 0);
	close(fd);
	snprintf(
	    want, sizeof(want), "the agent socket %s is not a socket", other);
	refused(other, -1, want);

	/* All well: connected, and still not a byte sent. */
	ASSERT_RC(client_connect(path, &c, why, sizeof(why)), JIT_OK);
	ASSERT((fd = accept(lfd, NULL, NULL)) >= 0);
	ASSERT(recv(fd, why, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN);
	client_free(c);
	close(fd);
	close(lfd);
	ASSERT(unlink(path) == 0 && unlink(link) == 0 && unlink(other) == 0 &&
	    rmdir(dir) == 0);
}

int
main(void)
{
	ASSERT(sodium_init() >= 0);
	alarm(TEST_TIMEOUT_S); /* a hang is a failure */
	test_good_reply();
	test_secrets_both_ways();
	test_extension_failure();
	test_truncated();
	test_oversized();
	test_trailing_and_malformed();
	test_connect();
	test_connect_checks();
	printf("ok - cli client framing\n");
	return 0;
}
