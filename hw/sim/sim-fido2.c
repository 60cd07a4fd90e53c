/* jit-sim-fido2: the command line, the Unix socket server, and signals. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "sim.h"
#include "simmain.h"
#include "wire.h"

/* Later clients wait in the backlog, as for a HID device. */
#define LISTEN_BACKLOG 8
/* A client that stops reading is dropped after this. */
#define SEND_TIMEOUT_S 2
#define PIN_READ_MAX 128
#define ACCEPT_PAUSE_MS 100

struct server {
	int cfd; /* the one client, -1 for none */
	uint8_t buf[CTAPHID_REPORT_LEN];
	size_t have;
	sigset_t waitmask; /* while in ppoll: TERM and INT open */
};

static void
usage(FILE *f)
{
	fputs(
	    "usage: jit-sim-fido2 --socket PATH [--state FILE]\n"
	    "           [--touch approve|deny|timeout|delay=MS|ask]\n"
	    "           [--pin-fd N] [--aaguid HEX] [--daemon] [--pid-file FILE]\n"
	    "           [--attest-key PEM --attest-cert PEM] [--verbose]\n"
	    "A software CTAP 2.1 authenticator for tests: raw 64-byte CTAPHID reports\n"
	    "over a Unix stream socket.  Never use it for real secrets.\n"
	    "  --pin-fd N   read the PIN set at first start from descriptor N\n"
	    "  --pin PIN    the same from argv (tests only: visible to ps)\n"
	    "  --attest-key, --attest-cert  packed attestation signed by this key,\n"
	    "               with this certificate (a test CA's); default: self\n"
	    "  --daemon     detach once listening (default: stay in the foreground;\n"
	    "               --foreground is accepted and changes nothing)\n" SIM_USAGE_TOUCH_ENV,
	    f);
}

/* ppoll() may report a ready descriptor and leave a signal pending (the
 * old mask is back before delivery): look for TERM and INT by hand. */
static void
poll_signals(void)
{
	sigset_t pending;

	if (sigpending(&pending) == 0 &&
	    (sigismember(&pending, SIGTERM) == 1 ||
		sigismember(&pending, SIGINT) == 1))
		sim_stop_requested = 1;
}

static void
srv_send(void *ctx, const uint8_t pkt[CTAPHID_REPORT_LEN])
{
	struct server *s = ctx;
	size_t off = 0;
	ssize_t n;

	while (s->cfd >= 0 && off < CTAPHID_REPORT_LEN) {
		n = send(
		    s->cfd, pkt + off, CTAPHID_REPORT_LEN - off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* The next read sees the end of the link. */
			shutdown(s->cfd, SHUT_RDWR);
			return;
		}
		off += (size_t)n;
	}
}

static enum sim_io_result
srv_recv(
    void *ctx, uint8_t pkt[CTAPHID_REPORT_LEN], int timeout_ms, int watch_fd)
{
	struct server *s = ctx;
	struct pollfd pfd[2];
	struct timespec ts, *tsp;
	uint64_t deadline = 0, now;
	nfds_t nfds = 1;
	ssize_t n;
	int r;

	if (timeout_ms >= 0)
		deadline = sim_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		if (sim_stop_requested)
			return SIM_IO_STOP;
		tsp = NULL;
		if (timeout_ms >= 0) {
			now = sim_now_ms();
			now = now < deadline ? deadline - now : 0;
			ts.tv_sec = (time_t)(now / 1000);
			ts.tv_nsec = (long)(now % 1000) * 1000000L;
			tsp = &ts;
		}
		memset(pfd, 0, sizeof(pfd));
		pfd[0].fd = s->cfd;
		pfd[0].events = POLLIN;
		if (watch_fd >= 0) {
			pfd[1].fd = watch_fd;
			pfd[1].events = POLLIN;
			nfds = 2;
		}
		r = ppoll(pfd, nfds, tsp, &s->waitmask);
		poll_signals();
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return SIM_IO_CLOSED;
		}
		if (r == 0)
			return SIM_IO_TIMEOUT;
		if (nfds == 2 && pfd[1].revents != 0)
			return SIM_IO_FD;
		if (pfd[0].revents == 0)
			continue;
		n = recv(s->cfd, s->buf + s->have, sizeof(s->buf) - s->have,
		    MSG_DONTWAIT);
		if (n == 0)
			return SIM_IO_CLOSED;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return SIM_IO_CLOSED;
		}
		s->have += (size_t)n;
		if (s->have == sizeof(s->buf)) {
			memcpy(pkt, s->buf, sizeof(s->buf));
			s->have = 0;
			return SIM_IO_PACKET;
		}
	}
}

static int
make_sockaddr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return JIT_E_LIMIT;
	memcpy(sun->sun_path, path, strlen(path));
	return JIT_OK;
}

/* A socket left by a simulator that died may be replaced; a live one,
 * or anything that is not a socket, is not ours to remove. */
static int
clear_stale(const char *path, const struct sockaddr_un *sun)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? JIT_OK : JIT_E_IO;
	if (!S_ISSOCK(st.st_mode))
		return JIT_E_EXISTS;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return JIT_E_IO;
	r = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (r == 0)
		return JIT_E_BUSY;
	return unlink(path) == 0 ? JIT_OK : JIT_E_IO;
}

static int
listen_on(const char *path, int *ret)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd, r;

	if ((r = make_sockaddr(path, &sun)) != 0 ||
	    (r = clear_stale(path, &sun)) != 0)
		return r;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return JIT_E_IO;
	old = umask(0077); /* the socket is the device node: 0600 */
	r = bind(fd, (const struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
		close(fd);
		return JIT_E_IO;
	}
	*ret = fd;
	return JIT_OK;
}

/* One client at a time, like a HID device; the next waits in the
 * backlog. */
static void
serve(struct sim_dev *d, struct server *s, int lfd)
{
	struct sim_io io = { s, srv_send, srv_recv };
	struct timeval tv = { SEND_TIMEOUT_S, 0 };
	struct pollfd pfd;
	uint8_t pkt[CTAPHID_REPORT_LEN];
	struct timespec accept_pause = { 0, ACCEPT_PAUSE_MS * 1000000L };
	enum sim_io_result res;
	int cfd, r;

	sim_dev_set_io(d, &io);
	while (!sim_stop_requested) {
		memset(&pfd, 0, sizeof(pfd));
		pfd.fd = lfd;
		pfd.events = POLLIN;
		r = ppoll(&pfd, 1, NULL, &s->waitmask);
		poll_signals();
		if (r <= 0 || sim_stop_requested)
			continue;
		if ((cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			if (errno != EINTR && errno != EAGAIN &&
			    errno != ECONNABORTED) {
				/* EMFILE and the like: do not spin. */
				sim_debug(d, "accept: %s", strerror(errno));
				nanosleep(&accept_pause, NULL);
			}
			continue;
		}
		setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		sim_debug(d, "client connected");
		s->cfd = cfd;
		s->have = 0;
		while (!sim_stop_requested && !d->hid.stop) {
			res = srv_recv(s, pkt, ctaphid_timeout_ms(d), -1);
			if (res == SIM_IO_PACKET)
				ctaphid_packet(d, pkt);
			else if (res == SIM_IO_TIMEOUT)
				ctaphid_tick(d);
			else
				break;
		}
		ctaphid_link_reset(d);
		close(cfd);
		s->cfd = -1;
		sim_debug(d, "client gone");
	}
	sim_dev_set_io(d, NULL);
}

/* Point descriptor fd at /dev/null. */
static void
null_fd(int fd)
{
	int n;

	if ((n = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		return;
	if (n != fd) {
		dup2(n, fd);
		close(n);
	}
}

/* Descriptors 0, 1 and 2 must be open before anything else is. */
static void
std_fds_open(void)
{
	for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			null_fd(fd);
}

static int
read_pin_fd(const char *arg, uint8_t *buf, size_t cap, size_t *ret_len)
{
	struct wire_reader r;
	char *end = NULL;
	long fd;
	size_t len = 0;
	ssize_t n;
	uint8_t c;

	errno = 0;
	fd = strtol(arg, &end, 10);
	if (errno != 0 || *end != '\0' || end == arg || fd < 0 || fd > INT_MAX)
		return JIT_E_ARG;
	while (len < cap) {
		if ((n = read((int)fd, buf + len, cap - len)) < 0) {
			if (errno == EINTR)
				continue;
			return JIT_E_IO;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len) != NULL)
			break;
	}
	if (fd > STDERR_FILENO)
		close((int)fd);
	else
		null_fd((int)fd); /* 0-2 stay taken: no socket there */
	/* The PIN is the first line, without its CR or LF. */
	wire_reader_init(&r, buf, len);
	for (len = 0; wire_get_u8(&r, &c) == 0 && c != '\n' && c != '\r';)
		len++;
	*ret_len = len;
	return JIT_OK;
}

static int
parse_aaguid(const char *hex, uint8_t out[SIM_AAGUID_LEN])
{
	size_t len = 0;
	const char *end = NULL;

	if (sodium_hex2bin(
		out, SIM_AAGUID_LEN, hex, strlen(hex), "-", &len, &end) != 0 ||
	    len != SIM_AAGUID_LEN || *end != '\0')
		return JIT_E_ARG;
	return JIT_OK;
}

static int
daemonize(const char *pid_file)
{
	pid_t pid;
	int fd;

	fflush(NULL);
	if ((pid = fork()) < 0)
		return JIT_E_IO;
	if (pid > 0) {
		if (pid_file != NULL &&
		    simmain_pid_file("jit-sim-fido2", pid_file, pid) != 0) {
			kill(pid, SIGTERM);
			_exit(1);
		}
		printf("ready\n");
		fflush(stdout);
		_exit(0);
	}
	setsid();
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
	return JIT_OK;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "state", required_argument, NULL, 'S' },
		{ "touch", required_argument, NULL, 't' },
		{ "pin", required_argument, NULL, 'p' },
		{ "pin-fd", required_argument, NULL, 'P' },
		{ "aaguid", required_argument, NULL, 'a' },
		{ "attest-key", required_argument, NULL, 'K' },
		{ "attest-cert", required_argument, NULL, 'C' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "pid-file", required_argument, NULL, 'i' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sim_config cfg;
	struct sim_dev *d = NULL;
	struct server srv;
	sigset_t block;
	const char *socket_path = NULL, *pid_file = NULL;
	uint8_t aaguid[SIM_AAGUID_LEN], *pin = NULL;
	size_t pin_len = 0;
	bool daemon_mode = false, have_pin = false, listening = false;
	int c, r, lfd = -1, status = 1;

	if (sodium_init() < 0) {
		fputs("jit-sim-fido2: libsodium failed to start\n", stderr);
		return 1;
	}
	simmain_harden();
	std_fds_open();
	memset(&cfg, 0, sizeof(cfg));
	memset(&srv, 0, sizeof(srv));
	srv.cfd = -1;
	if ((pin = sodium_malloc(PIN_READ_MAX)) == NULL) {
		fputs("jit-sim-fido2: out of memory\n", stderr);
		return 1;
	}
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': socket_path = optarg; break;
		case 'S': cfg.state_path = optarg; break;
		case 't':
			if (simmain_touch_opt(
				"jit-sim-fido2", optarg, &cfg.touch) != 0)
				goto out_usage;
			break;
		case 'p':
			pin_len = strlen(optarg);
			if (pin_len >= PIN_READ_MAX)
				goto bad_pin;
			memcpy(pin, optarg, pin_len);
			sodium_memzero(optarg, pin_len); /* out of ps */
			have_pin = true;
			break;
		case 'P':
			if (read_pin_fd(optarg, pin, PIN_READ_MAX, &pin_len) !=
			    0)
				goto bad_pin;
			have_pin = true;
			break;
		case 'a':
			if (parse_aaguid(optarg, aaguid) != 0) {
				fprintf(stderr,
				    "jit-sim-fido2: --aaguid takes 32 hex digits\n");
				goto out_usage;
			}
			cfg.aaguid = aaguid;
			break;
		case 'K': cfg.attest_key_path = optarg; break;
		case 'C': cfg.attest_cert_path = optarg; break;
		case 'f': daemon_mode = false; break;
		case 'd': daemon_mode = true; break;
		case 'i': pid_file = optarg; break;
		case 'v': cfg.verbose = true; break;
		case 'h':
			usage(stdout);
			status = 0;
			goto out;
		default: goto out_usage;
		}
	}
	if (optind != argc || socket_path == NULL) {
		fputs("jit-sim-fido2: --socket PATH is required\n", stderr);
		goto out_usage;
	}
	if ((cfg.attest_key_path == NULL) != (cfg.attest_cert_path == NULL)) {
		fputs(
		    "jit-sim-fido2: --attest-key and --attest-cert go together\n",
		    stderr);
		goto out_usage;
	}
	if (cfg.touch.mode == SIM_TOUCH_ASK && daemon_mode) {
		fputs(
		    "jit-sim-fido2: --touch ask needs a terminal: no --daemon\n",
		    stderr);
		goto out_usage;
	}
	if (have_pin) {
		cfg.pin = pin;
		cfg.pin_len = pin_len;
	}

	if ((r = sim_dev_new(&cfg, &d)) != 0) {
		fprintf(stderr, "jit-sim-fido2: cannot start: %s%s\n",
		    jit_strerror(r),
		    r == JIT_E_ARG ? " (the PIN needs 4 to 63 bytes)" : "");
		goto out;
	}
	sodium_memzero(pin, PIN_READ_MAX);

	/* TERM and INT stay blocked except inside ppoll(), so none is lost
	 * between a check of sim_stop_requested and the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &srv.waitmask);
	sigdelset(&srv.waitmask, SIGTERM);
	sigdelset(&srv.waitmask, SIGINT);
	simmain_signals();

	if ((r = listen_on(socket_path, &lfd)) != 0) {
		fprintf(stderr, "jit-sim-fido2: cannot listen on %s: %s\n",
		    socket_path,
		    r == JIT_E_BUSY ?
			"another simulator is serving it" :
			r == JIT_E_EXISTS ?
			"a file that is not a socket is in the way" :
			strerror(errno));
		goto out;
	}
	listening = true;
	if (daemon_mode) {
		if (daemonize(pid_file) != 0) {
			fputs("jit-sim-fido2: cannot fork\n", stderr);
			goto out;
		}
	} else {
		if (pid_file != NULL &&
		    simmain_pid_file("jit-sim-fido2", pid_file, getpid()) != 0)
			goto out;
		printf("ready\n");
		fflush(stdout);
	}
	sim_debug(d, "listening on %s", socket_path);
	serve(d, &srv, lfd);
	sim_debug(d, "stopping");
	status = 0;
	goto out;
bad_pin:
	fputs("jit-sim-fido2: cannot read the PIN\n", stderr);
out_usage:
	usage(stderr);
	status = 2;
out:
	if (lfd >= 0)
		close(lfd);
	if (listening) {
		unlink(socket_path);
		if (pid_file != NULL)
			unlink(pid_file);
	}
	sim_dev_free(d);
	sodium_free(pin);
	return status;
}
