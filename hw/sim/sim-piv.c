/* jit-sim-piv: the command line and the vpcd client (the card's "slot"). */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "simmain.h"
#include "simpiv.h"

/*
 * vpcd (vsmartcard's PC/SC reader driver, loaded by pcscd) listens on a
 * TCP port per reader; the card connects to it.  Every message either way
 * is a 2-byte big-endian length and that many bytes.  From vpcd, a 1-byte
 * message is a control: 00 power off, 01 power on, 02 reset, 04 "send
 * your ATR"; anything longer is a command APDU.  The card answers an APDU
 * with response data || SW1 SW2, and 04 with its ATR; the others get no
 * answer.
 */
#define VPCD_DEFAULT_HOST "127.0.0.1"
#define VPCD_DEFAULT_PORT "35963"
#define VPCD_CTRL_OFF 0
#define VPCD_CTRL_ON 1
#define VPCD_CTRL_RESET 2
#define VPCD_CTRL_ATR 4
#define VPCD_MSG_MAX 0xffff
#define RECONNECT_MS 200
#define HOSTPORT_MAX 300

struct link {
	int fd;
	uint8_t *msg; /* VPCD_MSG_MAX */
	bool announced; /* "ready" printed */
	unsigned atr_polls;
};

static void
usage(FILE *f)
{
	fputs(
	    "usage: jit-sim-piv [--vpcd HOST:PORT] [--state FILE]\n"
	    "           [--touch approve|deny|timeout|delay=MS|ask]\n"
	    "           [--serial N] [--version X.Y.Z] [--pid-file FILE] [--verbose]\n"
	    "           [--attest-ca-key PEM --attest-ca-cert PEM]\n"
	    "A software PIV card (YubiKey-like) for tests: it connects to the vpcd\n"
	    "virtual reader of pcscd (default " VPCD_DEFAULT_HOST
	    ":" VPCD_DEFAULT_PORT ") and prints ready once pcscd has\n"
	    "powered it up.  Never use it for real secrets.\n"
	    "  --attest-ca-key, --attest-ca-cert  the attestation key (f9) is made\n"
	    "      anew, its certificate issued by this CA (default: self-signed)\n" SIM_USAGE_TOUCH_ENV,
	    f);
}

static void
sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000),
		(long)(ms % 1000) * 1000000L };

	while (
	    !sim_stop_requested && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A touch waits here: vpcd holds its reader lock for the whole command,
 * so nothing else arrives meanwhile. */
static enum sim_wait_result
touch_wait(void *ctx, uint64_t ms, int watch_fd)
{
	struct pollfd pfd = { watch_fd, POLLIN, 0 };
	uint64_t deadline = sim_touch_now_ms() + ms, now;
	int slice;

	(void)ctx;
	while (!sim_stop_requested && (now = sim_touch_now_ms()) < deadline) {
		slice = deadline - now > 100 ? 100 : (int)(deadline - now);
		if (watch_fd < 0) {
			sleep_ms((uint64_t)slice);
			continue;
		}
		if (poll(&pfd, 1, slice) > 0)
			return SIM_WAIT_FD;
	}
	return sim_stop_requested ? SIM_WAIT_CANCEL : SIM_WAIT_ELAPSED;
}

static int
split_hostport(const char *s, char *host, size_t cap, const char **port)
{
	const char *colon = strrchr(s, ':');
	size_t n;

	if (colon == NULL || colon[1] == '\0')
		return JIT_E_ARG;
	n = (size_t)(colon - s);
	if (n == 0 || n >= cap)
		return JIT_E_ARG;
	memcpy(host, s, n);
	host[n] = '\0';
	*port = colon + 1;
	return JIT_OK;
}

static int
vpcd_connect(const char *host, const char *port)
{
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int
read_all(int fd, uint8_t *p, size_t n)
{
	size_t off = 0;
	ssize_t r;

	while (off < n) {
		if (sim_stop_requested)
			return JIT_E_CANCELLED;
		r = recv(fd, p + off, n - off, 0);
		if (r == 0)
			return JIT_E_IO;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return JIT_E_IO;
		}
		off += (size_t)r;
	}
	return JIT_OK;
}

static int
send_msg(int fd, const uint8_t *p, size_t n)
{
	uint8_t hdr[2] = { (uint8_t)(n >> 8), (uint8_t)n };
	struct iovec iov[2] = { { hdr, 2 }, { (void *)(uintptr_t)p, n } };
	struct msghdr mh;
	size_t want = n + 2;
	ssize_t r;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	/* Small messages: one sendmsg almost always takes it all. */
	while (want > 0) {
		r = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return JIT_E_IO;
		}
		want -= (size_t)r;
		while (r > 0 && mh.msg_iovlen > 0) {
			size_t take = (size_t)r < mh.msg_iov[0].iov_len ?
			    (size_t)r :
			    mh.msg_iov[0].iov_len;

			mh.msg_iov[0].iov_base =
			    (uint8_t *)mh.msg_iov[0].iov_base + take;
			mh.msg_iov[0].iov_len -= take;
			r -= (ssize_t)take;
			if (mh.msg_iov[0].iov_len == 0) {
				mh.msg_iov++;
				mh.msg_iovlen--;
			}
		}
	}
	return JIT_OK;
}

/* pcscd powers a card up when it first sees it, and later polls its ATR
 * to see whether it is still there: after a power-up, or a second poll
 * (pcscd handled the first before it asked again), clients find the card
 * in the reader. */
static void
announce(struct link *l)
{
	if (l->announced)
		return;
	printf("ready\n");
	fflush(stdout);
	l->announced = true;
}

/* Serve one connection to vpcd until it ends. */
static void
serve(struct piv_card *c, struct link *l)
{
	uint8_t hdr[2], reply[PIV_REPLY_MAX];
	const uint8_t *atr;
	size_t n, alen;

	for (;;) {
		if (read_all(l->fd, hdr, 2) != 0)
			return;
		n = (size_t)hdr[0] << 8 | hdr[1];
		if (read_all(l->fd, l->msg, n) != 0)
			return;
		if (n == 0)
			continue;
		if (n == 1) {
			switch (l->msg[0]) {
			case VPCD_CTRL_OFF: piv_power(c, PIV_POWER_OFF); break;
			case VPCD_CTRL_ON:
				piv_power(c, PIV_POWER_ON);
				announce(l);
				break;
			case VPCD_CTRL_RESET: piv_power(c, PIV_RESET); break;
			case VPCD_CTRL_ATR:
				if (++l->atr_polls >= 2)
					announce(l);
				alen = piv_atr(&atr);
				if (send_msg(l->fd, atr, alen) != 0)
					return;
				break;
			default:
				piv_debug(c, "unknown control %u", l->msg[0]);
				break;
			}
			continue;
		}
		n = piv_apdu(c, l->msg, n, reply);
		/* Stopped while it waited for a touch: the card is pulled
		 * out, it answers nothing. */
		if (sim_stop_requested || send_msg(l->fd, reply, n) != 0)
			return;
	}
}

static int
parse_version(const char *s, uint8_t out[3])
{
	unsigned a, b, d;
	char tail;

	if (sscanf(s, "%u.%u.%u%c", &a, &b, &d, &tail) != 3 || a > 255 ||
	    b > 255 || d > 255)
		return JIT_E_ARG;
	out[0] = (uint8_t)a;
	out[1] = (uint8_t)b;
	out[2] = (uint8_t)d;
	return JIT_OK;
}

static int
parse_serial(const char *s, uint32_t *ret)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v == 0 ||
	    v > UINT32_MAX || s[0] == '-')
		return JIT_E_ARG;
	*ret = (uint32_t)v;
	return JIT_OK;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "vpcd", required_argument, NULL, 'c' },
		{ "state", required_argument, NULL, 'S' },
		{ "touch", required_argument, NULL, 't' },
		{ "serial", required_argument, NULL, 'n' },
		{ "version", required_argument, NULL, 'V' },
		{ "pid-file", required_argument, NULL, 'i' },
		{ "attest-ca-key", required_argument, NULL, 'K' },
		{ "attest-ca-cert", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct piv_config cfg;
	struct piv_card *c = NULL;
	struct link l = { -1, NULL, false, 0 };
	char host[HOSTPORT_MAX] = VPCD_DEFAULT_HOST;
	const char *port = VPCD_DEFAULT_PORT, *pid_file = NULL;
	uint8_t version[3];
	int ch, r, status = 1;

	if (sodium_init() < 0) {
		fputs("jit-sim-piv: libsodium failed to start\n", stderr);
		return 1;
	}
	simmain_harden();
	memset(&cfg, 0, sizeof(cfg));
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			if (split_hostport(optarg, host, sizeof(host), &port) !=
			    0) {
				fputs("jit-sim-piv: --vpcd takes HOST:PORT\n",
				    stderr);
				goto out_usage;
			}
			break;
		case 'S': cfg.state_path = optarg; break;
		case 't':
			if (simmain_touch_opt(
				"jit-sim-piv", optarg, &cfg.touch) != 0)
				goto out_usage;
			break;
		case 'n':
			if (parse_serial(optarg, &cfg.serial) != 0) {
				fputs(
				    "jit-sim-piv: --serial takes a number from 1 to 4294967295\n",
				    stderr);
				goto out_usage;
			}
			break;
		case 'V':
			if (parse_version(optarg, version) != 0) {
				fputs("jit-sim-piv: --version takes X.Y.Z\n",
				    stderr);
				goto out_usage;
			}
			cfg.version = version;
			break;
		case 'i': pid_file = optarg; break;
		case 'K': cfg.attest_ca_key = optarg; break;
		case 'C': cfg.attest_ca_cert = optarg; break;
		case 'v': cfg.verbose = true; break;
		case 'h':
			usage(stdout);
			status = 0;
			goto out;
		default: goto out_usage;
		}
	}
	if (optind != argc)
		goto out_usage;
	if ((cfg.attest_ca_key == NULL) != (cfg.attest_ca_cert == NULL)) {
		fputs(
		    "jit-sim-piv: --attest-ca-key and --attest-ca-cert go together\n",
		    stderr);
		goto out_usage;
	}
	if ((l.msg = malloc(VPCD_MSG_MAX)) == NULL) {
		fputs("jit-sim-piv: out of memory\n", stderr);
		goto out;
	}
	if ((r = piv_card_new(&cfg, &c)) != 0) {
		fprintf(
		    stderr, "jit-sim-piv: cannot start: %s\n", jit_strerror(r));
		goto out;
	}
	piv_card_set_wait(c, touch_wait, NULL);
	simmain_signals();
	if (pid_file != NULL &&
	    simmain_pid_file("jit-sim-piv", pid_file, getpid()) != 0)
		goto out;
	/* The card is "inserted" while connected; if the reader goes away
	 * (pcscd restarts), it waits for it to come back. */
	while (!sim_stop_requested) {
		if ((l.fd = vpcd_connect(host, port)) < 0) {
			sleep_ms(RECONNECT_MS);
			continue;
		}
		piv_debug(c, "connected to vpcd at %s:%s", host, port);
		serve(c, &l);
		close(l.fd);
		l.fd = -1;
		piv_power(c, PIV_POWER_OFF);
		piv_debug(c, "vpcd connection ended");
	}
	status = 0;
	goto out;
out_usage:
	usage(stderr);
	status = 2;
out:
	if (pid_file != NULL && status == 0)
		unlink(pid_file);
	piv_card_free(c);
	free(l.msg);
	return status;
}
