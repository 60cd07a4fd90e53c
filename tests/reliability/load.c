/*
 * Load on the agent's socket, for tests/reliability/load.sh.
 *
 *   jit-rel-load mixed SOCK CLIENTS REQUESTS NAME
 *	CLIENTS connections at once, each sending REQUESTS requests one
 *	after the other, mixed: list, sign (with the first key listed),
 *	get NAME, status.  Every reply must be the expected kind.
 *   jit-rel-load flood SOCK COUNT
 *	COUNT connections (more than the agent may accept): the first is
 *	still served; once the others close, the last one is served too
 *	(the listener resumed), and so is a new one.
 *   jit-rel-load slow SOCK COUNT
 *	COUNT clients sending a frame one byte a second, and one client
 *	making a request every 100 ms: the slow ones must be disconnected
 *	(within 60 s), the quick one never fail.
 *
 * Prints what it did; exits 0 when all held, 1 when not, 2 on misuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto-names.h"

#define FRAME_MAX (256 * 1024)
#define WAIT_MS 60000
#define SSH_AGENT_SUCCESS 6
#define SSH_AGENTC_REQUEST_IDENTITIES 11
#define SSH_AGENT_IDENTITIES_ANSWER 12
#define SSH_AGENTC_SIGN_REQUEST 13
#define SSH_AGENT_SIGN_RESPONSE 14
#define SSH_AGENTC_EXTENSION 27

struct frame {
	uint8_t b[4096];
	size_t len;
};

static const char *sock_path;

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("jit-rel-load: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
put(struct frame *f, const void *p, size_t n)
{
	if (f->len + n > sizeof(f->b))
		die("a request does not fit");
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void
put_u32(struct frame *f, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
		(uint8_t)(v >> 8), (uint8_t)v };

	put(f, b, 4);
}

static void
put_str(struct frame *f, const void *p, size_t n)
{
	put_u32(f, (uint32_t)n);
	put(f, p, n);
}

/* The frame's length prefix, once its body is in (after 4 bytes). */
static void
seal(struct frame *f)
{
	uint32_t n = (uint32_t)(f->len - 4);

	f->b[0] = (uint8_t)(n >> 24);
	f->b[1] = (uint8_t)(n >> 16);
	f->b[2] = (uint8_t)(n >> 8);
	f->b[3] = (uint8_t)n;
}

static void
ext_frame(struct frame *f, const char *verb, const char *args)
{
	char name[64];

	snprintf(name, sizeof(name), "%s@jit-agent.dev", verb);
	f->len = 4;
	put(f, (const uint8_t[]){ SSH_AGENTC_EXTENSION }, 1);
	put_str(f, name, strlen(name));
	put_str(f, args, strlen(args));
	seal(f);
}

static int
connect_to(int nonblock)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(sock_path) >= sizeof(sa.sun_path))
		die("socket path too long");
	strcpy(sa.sun_path, sock_path);
	fd = socket(AF_UNIX,
	    SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait up to ms for fd to be ready for events; 1 ready, 0 not. */
static int
wait_fd(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, ms) == 1;
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && wait_fd(fd, POLLOUT, WAIT_MS))
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
read_all(int fd, uint8_t *p, size_t n, int ms)
{
	ssize_t r;

	while (n > 0) {
		if (!wait_fd(fd, POLLIN, ms))
			return -1;
		if ((r = read(fd, p, n)) < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One request, its reply's type (-1: none within ms); the body in *body. */
static int
roundtrip(int fd, const struct frame *req, uint8_t *body, size_t cap,
    size_t *len, int ms)
{
	uint8_t h[4];
	uint32_t n;

	if (write_all(fd, req->b, req->len) != 0 || read_all(fd, h, 4, ms) != 0)
		return -1;
	n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 |
	    h[3];
	if (n == 0 || n > cap || read_all(fd, body, n, ms) != 0)
		return -1;
	if (len != NULL)
		*len = n;
	return body[0];
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* ---- mixed ---- */

enum { K_LIST, K_SIGN, K_GET, K_STATUS, K_N };
static const uint8_t want[K_N] = { SSH_AGENT_IDENTITIES_ANSWER,
	SSH_AGENT_SIGN_RESPONSE, SSH_AGENT_SUCCESS, SSH_AGENT_SUCCESS };
static const char *const kind_name[K_N] = { "list", "sign", "get", "status" };

struct client {
	int fd;
	int sent; /* requests sent */
	int kind; /* of the one in flight */
	size_t off; /* bytes of the request written */
	uint8_t in[4 + 64 * 1024];
	size_t inlen;
};

static int
mixed(int nclients, int nreq, const char *name)
{
	static struct frame req[K_N];
	static uint8_t body[FRAME_MAX];
	struct client *cl;
	struct pollfd *pfd;
	size_t len, blob_len;
	unsigned long fails[K_N] = { 0 }, done[K_N] = { 0 };
	char args[256];
	double t0;
	int fd, i, k, left, t;

	/* The first key's blob, for the signatures. */
	if ((fd = connect_to(0)) < 0)
		die("cannot connect to %s: %s", sock_path, strerror(errno));
	req[K_LIST].len = 4;
	put(&req[K_LIST], (const uint8_t[]){ SSH_AGENTC_REQUEST_IDENTITIES },
	    1);
	seal(&req[K_LIST]);
	t = roundtrip(fd, &req[K_LIST], body, sizeof(body), &len, WAIT_MS);
	if (t != SSH_AGENT_IDENTITIES_ANSWER || len < 9 ||
	    get_u32(body + 1) == 0)
		die("the agent lists no key to sign with");
	blob_len = get_u32(body + 5);
	if (blob_len > len - 9 || blob_len > 1024)
		die("the first key's blob is malformed");
	close(fd);
	req[K_SIGN].len = 4;
	put(&req[K_SIGN], (const uint8_t[]){ SSH_AGENTC_SIGN_REQUEST }, 1);
	put_str(&req[K_SIGN], body + 9, blob_len);
	put_str(&req[K_SIGN], "a userauth request, more or less", 32);
	put_u32(&req[K_SIGN], 0);
	seal(&req[K_SIGN]);
	snprintf(args, sizeof(args), "{\"%s\":\"%s\"}", JP_ARG_GET_NAME, name);
	ext_frame(&req[K_GET], JP_VERB_GET, args);
	ext_frame(&req[K_STATUS], JP_VERB_STATUS, "{}");

	if ((cl = calloc((size_t)nclients, sizeof(*cl))) == NULL ||
	    (pfd = calloc((size_t)nclients, sizeof(*pfd))) == NULL)
		die("out of memory");
	t0 = now_s();
	/* Blocking connects: the backlog holds whom the agent has not
	 * accepted yet; then every client works without blocking. */
	for (i = 0; i < nclients; i++) {
		if ((cl[i].fd = connect_to(0)) < 0)
			die("connection %d of %d: %s", i + 1, nclients,
			    strerror(errno));
		(void)fcntl(cl[i].fd, F_SETFL, O_NONBLOCK);
		cl[i].kind = i % K_N;
	}
	left = nclients;
	while (left > 0) {
		for (i = 0; i < nclients; i++) {
			pfd[i].fd = cl[i].fd;
			pfd[i].events = 0;
			if (cl[i].fd < 0)
				continue;
			if (cl[i].off < req[cl[i].kind].len)
				pfd[i].events = POLLOUT;
			else
				pfd[i].events = POLLIN;
		}
		if ((k = poll(pfd, (nfds_t)nclients, WAIT_MS)) <= 0)
			die("no reply for %d s with %d clients left",
			    WAIT_MS / 1000, left);
		for (i = 0; i < nclients; i++) {
			struct client *c = &cl[i];
			const struct frame *r;
			ssize_t n;
			int fail = 0;

			if (c->fd < 0 || pfd[i].revents == 0)
				continue;
			r = &req[c->kind];
			if (c->off < r->len) {
				n = write(
				    c->fd, r->b + c->off, r->len - c->off);
				if (n < 0 && errno != EAGAIN)
					fail = 1;
				else if (n > 0)
					c->off += (size_t)n;
			} else {
				n = read(c->fd, c->in + c->inlen,
				    sizeof(c->in) - c->inlen);
				if (n == 0 || (n < 0 && errno != EAGAIN))
					fail = 1;
				else if (n > 0)
					c->inlen += (size_t)n;
				if (!fail && c->inlen >= 4) {
					uint32_t m = get_u32(c->in);

					if (m == 0 || m + 4 > sizeof(c->in))
						fail = 1;
					else if (c->inlen >= m + 4) {
						if (c->inlen != m + 4 ||
						    c->in[4] != want[c->kind])
							fail = 1;
						else
							done[c->kind]++;
						if (!fail) {
							c->sent++;
							c->inlen = 0;
							c->off = 0;
							c->kind = (c->kind +
								      1) %
							    K_N;
						}
					}
				}
			}
			if (fail) {
				fails[c->kind]++;
				fprintf(stderr,
				    "client %d: request %d (%s) failed (%s)\n",
				    i, c->sent + 1, kind_name[c->kind],
				    n < 0      ? strerror(errno) :
					n == 0 ? "the agent hung up" :
						 "an unexpected reply");
			}
			if (fail || c->sent == nreq) {
				close(c->fd);
				c->fd = -1;
				left--;
			}
		}
	}
	printf(
	    "%d clients x %d requests in %.2f s: list %lu, sign %lu, get %lu, status %lu answered; %lu failed\n",
	    nclients, nreq, now_s() - t0, done[K_LIST], done[K_SIGN],
	    done[K_GET], done[K_STATUS],
	    fails[K_LIST] + fails[K_SIGN] + fails[K_GET] + fails[K_STATUS]);
	free(cl);
	free(pfd);
	return fails[K_LIST] + fails[K_SIGN] + fails[K_GET] + fails[K_STATUS] ==
		0 ?
	    0 :
	    1;
}

/* ---- flood ---- */

static int
flood(int count)
{
	static struct frame list = { .len = 4 };
	static uint8_t body[FRAME_MAX];
	int *fds, i, nopen = 0, refused = 0, ok = 1, fd, t;

	put(&list, (const uint8_t[]){ SSH_AGENTC_REQUEST_IDENTITIES }, 1);
	seal(&list);
	if ((fds = calloc((size_t)count, sizeof(*fds))) == NULL)
		die("out of memory");
	/* Non-blocking: once the backlog is full, connect says EAGAIN. */
	for (i = 0; i < count; i++) {
		if ((fds[nopen] = connect_to(1)) >= 0)
			nopen++;
		else
			refused++;
	}
	printf(
	    "%d connection attempts: %d connected, %d refused (backlog full)\n",
	    count, nopen, refused);
	if (nopen == 0)
		die("no connection at all");
	for (i = 0; i < nopen; i++)
		(void)fcntl(fds[i], F_SETFL, 0);
	if (roundtrip(fds[0], &list, body, sizeof(body), NULL, WAIT_MS) !=
	    SSH_AGENT_IDENTITIES_ANSWER) {
		printf("the first connection is not served\n");
		ok = 0;
	}
	/* The last one waits for the listener: a request on it is answered
	 * once the others close. */
	if (write_all(fds[nopen - 1], list.b, list.len) != 0) {
		printf("cannot write on the last connection\n");
		ok = 0;
	}
	for (i = 0; i < nopen - 1; i++)
		close(fds[i]);
	if (ok &&
	    (read_all(fds[nopen - 1], body, 5, WAIT_MS) != 0 ||
		body[4] != SSH_AGENT_IDENTITIES_ANSWER)) {
		printf(
		    "the last connection is not served once the others closed\n");
		ok = 0;
	}
	close(fds[nopen - 1]);
	if ((fd = connect_to(0)) < 0 ||
	    (t = roundtrip(fd, &list, body, sizeof(body), NULL, WAIT_MS)) !=
		SSH_AGENT_IDENTITIES_ANSWER) {
		printf("a new connection is not served after all closed\n");
		ok = 0;
	}
	if (fd >= 0)
		close(fd);
	free(fds);
	printf("flood: %s\n", ok ? "served throughout" : "FAILED");
	return ok ? 0 : 1;
}

/* ---- slow ---- */

static int
slow(int count)
{
	static struct frame list = { .len = 4 }, big;
	static uint8_t body[FRAME_MAX];
	static char args[1100];
	int *fds, i, alive, quick, quick_ok = 0, quick_fail = 0;
	size_t sent = 0;
	double t0, last = 0;

	put(&list, (const uint8_t[]){ SSH_AGENTC_REQUEST_IDENTITIES }, 1);
	seal(&list);
	/* A status request of a kilobyte: 1,000 seconds at one byte each. */
	memset(args, ' ', sizeof(args));
	args[0] = '{';
	args[sizeof(args) - 2] = '}';
	args[sizeof(args) - 1] = '\0';
	ext_frame(&big, JP_VERB_STATUS, args);
	if ((fds = calloc((size_t)count, sizeof(*fds))) == NULL)
		die("out of memory");
	for (i = 0; i < count; i++)
		if ((fds[i] = connect_to(0)) < 0)
			die("slow client %d: %s", i, strerror(errno));
	if ((quick = connect_to(0)) < 0)
		die("the quick client: %s", strerror(errno));
	t0 = now_s();
	alive = count;
	while (alive > 0 && now_s() - t0 < WAIT_MS / 1000) {
		if (now_s() - last >= 1.0 && sent < big.len) {
			last = now_s();
			for (i = 0; i < count; i++) {
				if (fds[i] < 0)
					continue;
				if (send(fds[i], big.b + sent, 1,
					MSG_NOSIGNAL | MSG_DONTWAIT) != 1) {
					close(fds[i]);
					fds[i] = -1;
					alive--;
				}
			}
			sent++;
		}
		/* A slow client hung up on is readable (EOF). */
		for (i = 0; i < count; i++) {
			uint8_t b;

			if (fds[i] >= 0 && wait_fd(fds[i], POLLIN, 0) &&
			    recv(fds[i], &b, 1, MSG_DONTWAIT) <= 0) {
				close(fds[i]);
				fds[i] = -1;
				alive--;
			}
		}
		if (roundtrip(quick, &list, body, sizeof(body), NULL, 5000) ==
		    SSH_AGENT_IDENTITIES_ANSWER)
			quick_ok++;
		else
			quick_fail++;
		usleep(100 * 1000);
	}
	printf(
	    "%d slow clients: %d still connected after %.1f s and %zu bytes each; the quick client: %d answered, %d failed\n",
	    count, alive, now_s() - t0, sent, quick_ok, quick_fail);
	for (i = 0; i < count; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	close(quick);
	free(fds);
	return alive == 0 && quick_fail == 0 && quick_ok > 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc < 4)
		goto usage;
	sock_path = argv[2];
	raise_nofile();
	/* A connection the agent closed is a failure to count, not a death. */
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(argv[1], "mixed") == 0 && argc == 6)
		return mixed(atoi(argv[3]), atoi(argv[4]), argv[5]);
	if (strcmp(argv[1], "flood") == 0 && argc == 4)
		return flood(atoi(argv[3]));
	if (strcmp(argv[1], "slow") == 0 && argc == 4)
		return slow(atoi(argv[3]));
usage:
	fprintf(stderr,
	    "usage: jit-rel-load mixed SOCK CLIENTS REQUESTS NAME | flood SOCK COUNT | slow SOCK COUNT\n");
	return 2;
}
