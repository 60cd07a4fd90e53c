/* Side-by-side throughput of jit-agent and OpenSSH's ssh-agent on the ssh-agent protocol (not a meson test). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <getopt.h>
#include <stdarg.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <sodium.h>

/*
 * usage: bench-agent [-p] [-t SECONDS] [-r ROUNDS] [-n IDLE] JIT_AGENT
 *                    [SSH_AGENT]
 *
 * Starts both agents on sockets in a fresh temporary directory, adds the
 * same ed25519 and ECDSA P-256 keys to each (ADD_IDENTITY, written here),
 * then measures, one request at a time on one connection as ssh does:
 * REQUEST_IDENTITIES, ed25519 SIGN_REQUEST, ecdsa-p256 SIGN_REQUEST, and
 * REQUEST_IDENTITIES again with IDLE other connections open to each agent.
 * Each measurement runs ROUNDS times per agent, alternating, for SECONDS
 * each; the best round counts.  Also reports each agent's resident memory
 * idle and per key (KEYS_MEM more ed25519 keys).  Prints ratios jit/ssh.
 * -p pins this client to CPU 0 and both agents to CPU 1.
 */

#define FRAME_MAX (256 * 1024)
#define BATCH 64
#define KEYS_MEM 1000
#define DATA_LEN 160 /* about a userauth request */
#define START_WAIT_MS 5000

#define SSH_AGENT_FAILURE 5
#define SSH_AGENT_SUCCESS 6
#define SSH_AGENTC_REQUEST_IDENTITIES 11
#define SSH_AGENT_IDENTITIES_ANSWER 12
#define SSH_AGENTC_SIGN_REQUEST 13
#define SSH_AGENT_SIGN_RESPONSE 14
#define SSH_AGENTC_ADD_IDENTITY 17

struct buf {
	uint8_t *d;
	size_t len, cap;
};

struct agent {
	const char *name;
	pid_t pid;
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;
	int *idle;
	size_t nidle;
};

static char dir[] = "/tmp/bench-agent.XXXXXX";
static bool pin; /* -p: pin the client and the agents */

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench-agent: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		if ((b->d = realloc(b->d, b->cap)) == NULL)
			die("out of memory");
	}
	memcpy(b->d + b->len, p, n);
	b->len += n;
}

static void
put_u8(struct buf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void
put_u32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = { v >> 24, v >> 16, v >> 8, v };

	put(b, x, 4);
}

static void
put_str(struct buf *b, const void *p, size_t n)
{
	put_u32(b, (uint32_t)n);
	put(b, p, n);
}

static void
put_cstr(struct buf *b, const char *s)
{
	put_str(b, s, strlen(s));
}

static void
put_mpint(struct buf *b, const BIGNUM *bn)
{
	uint8_t tmp[600];
	int n = BN_bn2bin(bn, tmp + 1);

	tmp[0] = 0;
	if (tmp[1] & 0x80)
		put_str(b, tmp, (size_t)n + 1);
	else
		put_str(b, tmp + 1, (size_t)n);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		die("socket: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			die("write: %s", w < 0 ? strerror(errno) : "closed");
		}
		p += w;
		n -= (size_t)w;
	}
}

static void
read_all(int fd, uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		if ((r = read(fd, p, n)) <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			die("read: %s", r < 0 ? strerror(errno) : "closed");
		}
		p += r;
		n -= (size_t)r;
	}
}

/* One request, one reply; the reply's type. */
static uint8_t
roundtrip(int fd, const struct buf *req, uint8_t *reply, size_t cap)
{
	uint8_t hdr[4];
	uint32_t n;

	write_all(fd, req->d, req->len);
	read_all(fd, hdr, 4);
	n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (n == 0 || n > cap)
		die("reply of %u bytes", n);
	read_all(fd, reply, n);
	return reply[0];
}

/* A frame around body. */
static void
frame(struct buf *out, const struct buf *body)
{
	out->len = 0;
	put_u32(out, (uint32_t)body->len);
	put(out, body->d, body->len);
}

/* -p with two CPUs or more: this client on CPU 0, both agents on CPU 1,
 * so neither competes with its client and both get the same core. */
static void
pin_to(int cpu)
{
	cpu_set_t set;

	if (!pin || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)sched_setaffinity(0, sizeof(set), &set);
}

static void
spawn(struct agent *a, char *const argv[], const char *log)
{
	double t0 = now();
	int fd;

	if ((a->pid = fork()) < 0)
		die("fork: %s", strerror(errno));
	if (a->pid == 0) {
		pin_to(1);
		if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	while ((a->fd = connect_to(a->sock)) < 0) {
		if (now() - t0 > START_WAIT_MS / 1000.0 ||
		    waitpid(a->pid, NULL, WNOHANG) == a->pid)
			die("%s did not start (see %s)", a->name, log);
		usleep(20000);
	}
}

static void
stop(struct agent *a)
{
	size_t i;

	for (i = 0; i < a->nidle; i++)
		close(a->idle[i]);
	free(a->idle);
	if (a->fd >= 0)
		close(a->fd);
	if (a->pid > 0) {
		kill(a->pid, SIGTERM);
		waitpid(a->pid, NULL, 0);
	}
}

static long
rss_kib(pid_t pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

struct keys {
	struct buf add_ed, add_ec; /* ADD_IDENTITY frames */
	struct buf sign_ed, sign_ec; /* SIGN_REQUEST frames */
};

static void
ed25519_frames(struct buf *add, struct buf *sign, const uint8_t *data)
{
	uint8_t pk[32], sk[64];
	struct buf body = { 0 }, blob = { 0 };

	crypto_sign_keypair(pk, sk);
	put_u8(&body, SSH_AGENTC_ADD_IDENTITY);
	put_cstr(&body, "ssh-ed25519");
	put_str(&body, pk, 32);
	put_str(&body, sk, 64);
	put_cstr(&body, "bench ed25519");
	frame(add, &body);
	put_cstr(&blob, "ssh-ed25519");
	put_str(&blob, pk, 32);
	if (sign != NULL) {
		body.len = 0;
		put_u8(&body, SSH_AGENTC_SIGN_REQUEST);
		put_str(&body, blob.d, blob.len);
		put_str(&body, data, DATA_LEN);
		put_u32(&body, 0);
		frame(sign, &body);
	}
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(body.d, body.len);
	free(body.d);
	free(blob.d);
}

static void
ecdsa_frames(struct buf *add, struct buf *sign, const uint8_t *data)
{
	struct buf body = { 0 }, blob = { 0 };
	EVP_PKEY *pkey;
	BIGNUM *d = NULL;
	uint8_t q[65];
	size_t qlen;

	if ((pkey = EVP_EC_gen("P-256")) == NULL ||
	    EVP_PKEY_get_octet_string_param(
		pkey, OSSL_PKEY_PARAM_PUB_KEY, q, sizeof(q), &qlen) != 1 ||
	    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1)
		die("cannot make an ECDSA key");
	put_u8(&body, SSH_AGENTC_ADD_IDENTITY);
	put_cstr(&body, "ecdsa-sha2-nistp256");
	put_cstr(&body, "nistp256");
	put_str(&body, q, qlen);
	put_mpint(&body, d);
	put_cstr(&body, "bench ecdsa");
	frame(add, &body);
	put_cstr(&blob, "ecdsa-sha2-nistp256");
	put_cstr(&blob, "nistp256");
	put_str(&blob, q, qlen);
	body.len = 0;
	put_u8(&body, SSH_AGENTC_SIGN_REQUEST);
	put_str(&body, blob.d, blob.len);
	put_str(&body, data, DATA_LEN);
	put_u32(&body, 0);
	frame(sign, &body);
	BN_clear_free(d);
	EVP_PKEY_free(pkey);
	free(body.d);
	free(blob.d);
}

static void
add_key(struct agent *a, const struct buf *add)
{
	uint8_t reply[16];

	if (roundtrip(a->fd, add, reply, sizeof(reply)) != SSH_AGENT_SUCCESS)
		die("%s refused a key", a->name);
}

/* Requests per second over `seconds`, one at a time. */
static double
rate(struct agent *a, const struct buf *req, uint8_t want, double seconds)
{
	static uint8_t reply[FRAME_MAX];
	double t0 = now(), t;
	uint64_t n = 0;
	int i;

	do {
		for (i = 0; i < BATCH; i++) {
			if (roundtrip(a->fd, req, reply, sizeof(reply)) != want)
				die("%s: unexpected reply type %u", a->name,
				    reply[0]);
			n++;
		}
	} while ((t = now() - t0) < seconds);
	return (double)n / t;
}

static void
measure(const char *what, struct agent *ag, const struct buf *req, uint8_t want,
    double seconds, int rounds, double out[2])
{
	double r;
	int i, k;

	out[0] = out[1] = 0;
	/* Warm up both, then alternate so drift hits both alike. */
	(void)rate(&ag[0], req, want, 0.2);
	(void)rate(&ag[1], req, want, 0.2);
	for (i = 0; i < rounds; i++)
		for (k = 0; k < 2; k++)
			if ((r = rate(&ag[k], req, want, seconds)) > out[k])
				out[k] = r;
	printf("%-34s %10.0f/s %10.0f/s %7.2fx\n", what, out[0], out[1],
	    out[0] / out[1]);
	fflush(stdout);
}

static void
open_idle(struct agent *a, size_t n)
{
	size_t i;

	if ((a->idle = calloc(n, sizeof(*a->idle))) == NULL)
		die("out of memory");
	for (i = 0; i < n; i++) {
		if ((a->idle[i] = connect_to(a->sock)) < 0)
			die("%s: idle connection %zu: %s", a->name, i,
			    strerror(errno));
		a->nidle++;
	}
}

static void
cleanup(void)
{
	char cmd[64 + sizeof(dir)];

	/* Our own temporary directory, made by mkdtemp above. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench-agent: could not remove %s\n", dir);
}

/* A jit-agent and an ssh-agent, on sockets named with suffix. */
static void
start_pair(struct agent ag[2], const char *jit, const char *ssh_agent,
    char *jit_data, char log[2][sizeof(dir) + 16], const char *suffix)
{
	char a[] = "-a", d[] = "-D", dd[] = "--data-dir";
	char jbin[1024], sbin[1024];
	char *jargv[] = { jbin, d, a, ag[0].sock, dd, jit_data, NULL };
	char *sargv[] = { sbin, d, a, ag[1].sock, NULL };

	memset(ag, 0, 2 * sizeof(*ag));
	ag[0].name = "jit-agent";
	ag[1].name = "ssh-agent";
	snprintf(ag[0].sock, sizeof(ag[0].sock), "%s/jit%s.sock", dir, suffix);
	snprintf(ag[1].sock, sizeof(ag[1].sock), "%s/ssh%s.sock", dir, suffix);
	snprintf(jbin, sizeof(jbin), "%s", jit);
	snprintf(sbin, sizeof(sbin), "%s", ssh_agent);
	spawn(&ag[0], jargv, log[0]);
	spawn(&ag[1], sargv, log[1]);
}

int
main(int argc, char **argv)
{
	struct agent ag[2];
	struct keys k;
	struct buf list = { 0 }, body = { 0 }, extra = { 0 };
	struct rlimit rl;
	uint8_t data[DATA_LEN];
	double seconds = 2, res[2];
	size_t idle = 1000, i;
	long rss0[2], rss1[2], rss2[2];
	const char *ssh_agent = "/usr/bin/ssh-agent";
	char jit_data[sizeof(dir) + 16], log[2][sizeof(dir) + 16];
	int ch, rounds = 3;

	while ((ch = getopt(argc, argv, "t:r:n:p")) != -1) {
		switch (ch) {
		case 'p': pin = true; break;
		case 't': seconds = atof(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'n': idle = (size_t)atol(optarg); break;
		default:
			fprintf(stderr,
			    "usage: bench-agent [-p] [-t SECONDS] "
			    "[-r ROUNDS] [-n IDLE] JIT_AGENT [SSH_AGENT]\n");
			return 2;
		}
	}
	if (argc - optind < 1 || argc - optind > 2 || seconds <= 0 ||
	    rounds < 1)
		die("usage: bench-agent [-p] [-t SECONDS] [-r ROUNDS] "
		    "[-n IDLE] JIT_AGENT [SSH_AGENT]");
	if (argc - optind == 2)
		ssh_agent = argv[optind + 1];
	if (sodium_init() < 0)
		die("sodium_init");
	signal(SIGPIPE, SIG_IGN);
	pin_to(0);
	/* Room for 2 x idle connections here, and in the agents. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 2 * idle + 64)
		die("RLIMIT_NOFILE %lu is too low for %zu idle connections",
		    (unsigned long)rl.rlim_cur, idle);
	if (mkdtemp(dir) == NULL)
		die("mkdtemp: %s", strerror(errno));
	atexit(cleanup);

	snprintf(jit_data, sizeof(jit_data), "%s/data", dir);
	snprintf(log[0], sizeof(log[0]), "%s/jit.log", dir);
	snprintf(log[1], sizeof(log[1]), "%s/ssh.log", dir);
	start_pair(ag, argv[optind], ssh_agent, jit_data, log, "");
	usleep(200000);
	rss0[0] = rss_kib(ag[0].pid);
	rss0[1] = rss_kib(ag[1].pid);

	randombytes_buf(data, sizeof(data));
	memset(&k, 0, sizeof(k));
	ed25519_frames(&k.add_ed, &k.sign_ed, data);
	ecdsa_frames(&k.add_ec, &k.sign_ec, data);
	for (i = 0; i < 2; i++) {
		add_key(&ag[i], &k.add_ed);
		add_key(&ag[i], &k.add_ec);
	}
	put_u8(&body, SSH_AGENTC_REQUEST_IDENTITIES);
	frame(&list, &body);

	printf("%-34s %12s %12s %8s\n", "one connection, one request at a time",
	    "jit-agent", "ssh-agent", "ratio");
	measure("REQUEST_IDENTITIES (2 keys)", ag, &list,
	    SSH_AGENT_IDENTITIES_ANSWER, seconds, rounds, res);
	measure("SIGN ed25519", ag, &k.sign_ed, SSH_AGENT_SIGN_RESPONSE,
	    seconds, rounds, res);
	measure("SIGN ecdsa-sha2-nistp256", ag, &k.sign_ec,
	    SSH_AGENT_SIGN_RESPONSE, seconds, rounds, res);
	open_idle(&ag[0], idle);
	open_idle(&ag[1], idle);
	usleep(200000);
	{
		char what[64];

		snprintf(
		    what, sizeof(what), "REQUEST_IDENTITIES, %zu idle", idle);
		measure(what, ag, &list, SSH_AGENT_IDENTITIES_ANSWER, seconds,
		    rounds, res);
	}
	for (i = 0; i < 2; i++) {
		size_t j;

		for (j = 0; j < ag[i].nidle; j++)
			close(ag[i].idle[j]);
		ag[i].nidle = 0;
	}
	/* Memory with keys: a fresh pair, so that the connections above
	 * leave nothing in it. */
	stop(&ag[0]);
	stop(&ag[1]);
	start_pair(ag, argv[optind], ssh_agent, jit_data, log, "2");
	usleep(300000);
	for (i = 0; i < 2; i++)
		rss1[i] = rss_kib(ag[i].pid);
	for (size_t n = 0; n < KEYS_MEM; n++) {
		extra.len = 0;
		ed25519_frames(&extra, NULL, data);
		add_key(&ag[0], &extra);
		add_key(&ag[1], &extra);
	}
	usleep(200000);
	for (i = 0; i < 2; i++)
		rss2[i] = rss_kib(ag[i].pid);
	printf("\nresident memory (VmRSS)          %10s %12s %8s\n",
	    "jit-agent", "ssh-agent", "ratio");
	printf("%-30s %9ld KiB %8ld KiB %7.2fx\n", "idle, just started",
	    rss0[0], rss0[1], (double)rss0[0] / (double)rss0[1]);
	printf("%-30s %9ld KiB %8ld KiB %7.2fx\n", "with 1000 ed25519 keys",
	    rss2[0], rss2[1], (double)rss2[0] / (double)rss2[1]);
	printf("%-30s %9.1f KiB %8.1f KiB\n", "per ed25519 key",
	    (double)(rss2[0] - rss1[0]) / KEYS_MEM,
	    (double)(rss2[1] - rss1[1]) / KEYS_MEM);
	stop(&ag[0]);
	stop(&ag[1]);
	free(list.d);
	free(body.d);
	free(extra.d);
	free(k.add_ed.d);
	free(k.add_ec.d);
	free(k.sign_ed.d);
	free(k.sign_ec.d);
	return 0;
}
