/* proto-names.h's verb list, and a running agent serving exactly it. */
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
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "client.h"
#include "err.h"
#include "proto-names.h"
#include "wire.h"

#include "assert.h"
#include "tmpdir.h"

/* The list as jitctl and dispatch.c expand it. */
#define VERB_NAME(verb, handler) verb,
#define VERB_HANDLER(verb, handler) #handler,
static const char *const verbs[] = { JP_VERBS(VERB_NAME) };
static const char *const handlers[] = { JP_VERBS(VERB_HANDLER) };
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

#define NOT_A_VERB "no-such-verb"
#define SESSION_BIND "session-bind@openssh.com"
#define START_MS 10000

static pid_t agent_pid = -1;
static char sock_path[96], log_path[96]; /* under tmpdir[64] */

static int
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	return nanosleep(&ts, NULL);
}

/* Names the agent can take: 1 to CLIENT_VERB_MAX of [a-z-], a letter
 * first, each once; dispatch.c serves each with ext_<handler>, the verb
 * with '-' as '_'. */
TEST(verbs_well_formed)
{
	size_t i, j, n;
	char want[CLIENT_VERB_MAX + 1];

	ASSERT(NVERBS > 0);
	for (i = 0; i < NVERBS; i++) {
		n = strlen(verbs[i]);
		ASSERT_MSG(n > 0 && n <= CLIENT_VERB_MAX,
		    "verb %zu is %zu bytes", i, n);
		ASSERT_MSG(verbs[i][0] >= 'a' && verbs[i][0] <= 'z',
		    "verb %s does not start with a letter", verbs[i]);
		for (j = 0; j < n; j++) {
			ASSERT_MSG((verbs[i][j] >= 'a' && verbs[i][j] <= 'z') ||
				verbs[i][j] == '-',
			    "verb %s has a byte other than [a-z-]", verbs[i]);
			want[j] = verbs[i][j] == '-' ? '_' : verbs[i][j];
		}
		want[n] = '\0';
		ASSERT_MSG(strcmp(handlers[i], want) == 0,
		    "verb %s is served by ext_%s, not ext_%s", verbs[i],
		    handlers[i], want);
		for (j = 0; j < i; j++)
			ASSERT_MSG(strcmp(verbs[i], verbs[j]) != 0,
			    "verb %s is listed twice", verbs[i]);
	}
}

static void
agent_exec(const char *bin, const char *data)
{
	char conf[80];
	int fd;

	/* The test's own configuration directory: none, the defaults. */
	snprintf(conf, sizeof(conf), "%s/config", tmpdir);
	if (setenv("XDG_CONFIG_HOME", conf, 1) != 0 ||
	    (fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		 0600)) < 0 ||
	    dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
		_exit(127);
	execl(bin, "jit-agent", "-D", "-a", sock_path, "--data-dir", data,
	    (char *)NULL);
	_exit(127);
}

/* Whether the agent at sock_path accepts a connection now. */
static bool
agent_accepts(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	bool ok;
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return false;
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return ok;
}

/* The built jit-agent (JIT_AGENT_BIN, set by meson) on a socket in a
 * private directory, with an empty data directory. */
static void
agent_up(void)
{
	const char *bin = getenv("JIT_AGENT_BIN");
	char run[80], data[80];
	struct stat st;
	int ms, status;

	ASSERT_MSG(bin != NULL && bin[0] != '\0',
	    "JIT_AGENT_BIN names no jit-agent to start (meson test sets it)");
	tmpdir_make("proto-names");
	ASSERT_PASSING();
	snprintf(run, sizeof(run), "%s/run", tmpdir);
	snprintf(data, sizeof(data), "%s/data", tmpdir);
	snprintf(sock_path, sizeof(sock_path), "%s/run/agent.sock", tmpdir);
	snprintf(log_path, sizeof(log_path), "%s/agent.log", tmpdir);
	ASSERT(mkdir(run, 0700) == 0);
	ASSERT((agent_pid = fork()) >= 0);
	if (agent_pid == 0)
		agent_exec(bin, data);
	/* Ready means a connect succeeds: the socket's file appears at
	 * bind(), before listen(), and a connect then is refused. */
	for (ms = 0; ms < START_MS; ms += 20) {
		if (stat(sock_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    agent_accepts())
			return;
		ASSERT_MSG(waitpid(agent_pid, &status, WNOHANG) == 0,
		    "jit-agent (%s) exited before it listened", bin);
		sleep_ms(20);
	}
	ASSERT_MSG(false, "jit-agent did not listen on %s within %d ms",
	    sock_path, START_MS);
}

/* Stop it; on a failure, show what it logged. */
static void
agent_down(void)
{
	char line[512];
	FILE *f;

	if (agent_pid > 0) {
		kill(agent_pid, SIGTERM);
		while (waitpid(agent_pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	agent_pid = -1;
	if (test_state.failed && log_path[0] != '\0' &&
	    (f = fopen(log_path, "r")) != NULL) {
		fprintf(stderr, "the agent's log:\n");
		while (fgets(line, sizeof(line), f) != NULL)
			fprintf(stderr, "  %s", line);
		fclose(f);
	}
	teardown();
}

#define AGENT_TEST(name) \
	static void name##_body(void); \
	TEST(name) \
	{ \
		agent_up(); \
		if (!test_state.failed) \
			name##_body(); \
		agent_down(); \
	} \
	static void name##_body(void)

static void
send_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		k = send(fd, p, n, MSG_NOSIGNAL);
		ASSERT_MSG(k > 0, "send: %s", strerror(errno));
		p += k;
		n -= (size_t)k;
	}
}

static void
recv_all(int fd, uint8_t *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		k = recv(fd, p, n, 0);
		ASSERT_MSG(k > 0, "recv: %s",
		    k == 0 ? "the agent closed the connection" :
			     strerror(errno));
		p += k;
		n -= (size_t)k;
	}
}

/* OpenSSH's `query` extension: every extension the agent serves, in
 * ret (malloc'd names, *ret_n of them). */
static void
query(char ***ret, size_t *ret_n)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct wire_writer w;
	struct wire_reader r;
	uint8_t *body = NULL, *frame = NULL, hdr[4], type;
	size_t n = 0, flen = 0;
	uint32_t len = 0;
	char *name = NULL, **names = NULL;
	bool whole;
	int fd;

	*ret = NULL;
	*ret_n = 0;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	ASSERT((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		close(fd);
		ASSERT_MSG(
		    false, "connect to %s: %s", sock_path, strerror(errno));
	}
	wire_writer_init(&w, CLIENT_FRAME_MAX, false);
	if (wire_put_u8(&w, SSH_AGENTC_EXTENSION) != 0 ||
	    wire_put_cstring(&w, "query") != 0 ||
	    wire_writer_take(&w, &body, &n) != 0 ||
	    wire_put_u32(&w, (uint32_t)n) != 0 ||
	    wire_put_bytes(&w, body, n) != 0 ||
	    wire_writer_take(&w, &frame, &flen) != 0) {
		wire_writer_reset(&w);
		free(body);
		close(fd);
		ASSERT_MSG(false, "cannot build the query");
	}
	free(body);
	send_all(fd, frame, flen);
	free(frame);
	frame = NULL;
	if (!test_state.failed)
		recv_all(fd, hdr, sizeof(hdr));
	if (!test_state.failed) {
		wire_reader_init(&r, hdr, sizeof(hdr));
		if (wire_get_u32(&r, &len) != 0 || len == 0 ||
		    len > CLIENT_FRAME_MAX || (frame = malloc(len)) == NULL) {
			close(fd);
			ASSERT_MSG(false, "a reply of %u bytes", len);
		}
		recv_all(fd, frame, len);
	}
	close(fd);
	if (test_state.failed) {
		free(frame);
		return;
	}
	wire_reader_init(&r, frame, len);
	if (wire_get_u8(&r, &type) != 0 || type != SSH_AGENT_SUCCESS ||
	    wire_get_cstring(&r, CLIENT_VERB_MAX, &name) != 0 ||
	    strcmp(name, "query") != 0) {
		free(name);
		free(frame);
		ASSERT_MSG(false, "the agent did not answer query");
	}
	free(name);
	/* The caller frees what was read, whole or not. */
	n = 0;
	while (wire_left(&r) > 0) {
		char **more = realloc(names, (n + 1) * sizeof(*names));

		if (more == NULL)
			break;
		names = more;
		if (wire_get_cstring(&r, 256, &name) != 0)
			break;
		names[n++] = name;
	}
	whole = wire_left(&r) == 0;
	free(frame);
	*ret = names;
	*ret_n = n;
	ASSERT_MSG(whole, "a malformed query reply");
}

/* Each name is the header's verbs (or OpenSSH's session binds), each
 * once, and every one of them is there. */
static void
check_listed(char *const *names, size_t n)
{
	char want[CLIENT_VERB_MAX + sizeof("@" JIT_EXT_DOMAIN)];
	bool seen[NVERBS] = { false }, bind = false, known;
	size_t i, j;

	for (i = 0; i < n; i++) {
		known = false;
		if (strcmp(names[i], SESSION_BIND) == 0) {
			ASSERT_MSG(!bind, "%s is listed twice", SESSION_BIND);
			bind = known = true;
		}
		for (j = 0; j < NVERBS && !known; j++) {
			snprintf(want, sizeof(want), "%s@%s", verbs[j],
			    JIT_EXT_DOMAIN);
			if (strcmp(names[i], want) != 0)
				continue;
			ASSERT_MSG(!seen[j], "%s is listed twice", want);
			seen[j] = known = true;
		}
		ASSERT_MSG(known, "the agent serves %s, not in proto-names.h",
		    names[i]);
	}
	ASSERT_MSG(bind, "the agent does not list %s", SESSION_BIND);
	for (j = 0; j < NVERBS; j++)
		ASSERT_MSG(seen[j], "the agent does not list %s@%s", verbs[j],
		    JIT_EXT_DOMAIN);
}

/* What the agent lists (query) is what the header lists. */
AGENT_TEST(agent_lists_exactly_the_verbs)
{
	char **names = NULL;
	size_t i, n = 0;

	query(&names, &n);
	if (!test_state.failed)
		check_listed(names, n);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* jitctl's client asks for each verb (args {}: none waits for a token)
 * and gets the verb's own answer, not the failure of an extension the
 * agent does not know, which a name not in the list does get. */
AGENT_TEST(agent_answers_every_verb)
{
	struct client_reply rep = { .retries = -1 };
	struct client *c = NULL;
	char why[256];
	size_t i;
	int r;

	ASSERT_MSG(client_connect(sock_path, &c, why, sizeof(why)) == JIT_OK,
	    "cannot connect to %s: %s", sock_path, why);
	r = client_call(c, NOT_A_VERB, NULL, NULL, &rep);
	ASSERT_MSG(r == JIT_E_UNSUPPORTED && !rep.from_agent, "%s: %s (%s)",
	    NOT_A_VERB, jit_errname(r),
	    rep.message != NULL ? rep.message : "no message");
	client_free(c);
	c = NULL;
	/* One connection a verb: some change what a connection is (events
	 * turns it into a stream of events, which answers nothing more). */
	for (i = 0; i < NVERBS && !test_state.failed; i++) {
		ASSERT_MSG(
		    client_connect(sock_path, &c, why, sizeof(why)) == JIT_OK,
		    "cannot connect to %s: %s", sock_path, why);
		r = client_call(c, verbs[i], NULL, NULL, &rep);
		ASSERT_MSG(r == JIT_OK || rep.from_agent,
		    "%s is not served: %s (%s)", verbs[i], jit_errname(r),
		    rep.message != NULL ? rep.message : "no message");
		client_free(c);
		c = NULL;
	}
	client_reply_reset(&rep);
	client_free(c);
}

static const struct test_case tests[] = {
	TEST_ENTRY(verbs_well_formed),
	TEST_ENTRY(agent_lists_exactly_the_verbs),
	TEST_ENTRY(agent_answers_every_verb),
};

TEST_MAIN(tests)
