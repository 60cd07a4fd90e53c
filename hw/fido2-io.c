/* The FIDO2 transport: libfido2's I/O hooks for hidraw, sim: and fake devices. */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fido.h>

#include "fido2-io.h"
#include "log.h"

#define FIDO2_SIM_PREFIX "sim:"

#define IO_SLICE_MS 100 /* cancel flag checked this often */
#define IO_LOCK_TRIES 20 /* flock tries on a busy hidraw */
#define IO_LOCK_PAUSE_MS 100

enum io_kind {
	IO_HIDRAW,
	IO_SIM,
	IO_FAKE,
};

struct io_handle {
	enum io_kind kind;
	int fd; /* -1 for fakes */
};

struct io_state {
	const volatile int *cancel;
	enum fido2_io_fail fail;
	int err;
};

static _Thread_local struct io_state io_state;
static _Atomic(const struct fido2_io_fake *) io_fake;

void
fido2_io_begin(const volatile int *cancel)
{
	io_state.cancel = cancel;
	io_state.fail = FIDO2_IO_OK;
	io_state.err = 0;
}

enum fido2_io_fail
fido2_io_failure(int *ret_errno)
{
	if (ret_errno != NULL)
		*ret_errno = io_state.err;
	return io_state.fail;
}

/* Keep the first failure: later ones (a cancel frame that fails after the
 * device left) would hide the cause. */
static void
io_fail(enum fido2_io_fail why, int err)
{
	if (io_state.fail == FIDO2_IO_OK) {
		io_state.fail = why;
		io_state.err = err;
	}
}

static bool
io_cancelled(void)
{
	return io_state.cancel != NULL && *io_state.cancel != 0;
}

bool
fido2_io_is_simulated(const char *path)
{
	return path != NULL &&
	    (strncmp(path, FIDO2_SIM_PREFIX, strlen(FIDO2_SIM_PREFIX)) == 0 ||
		strncmp(path, FIDO2_FAKE_PREFIX, strlen(FIDO2_FAKE_PREFIX)) ==
		    0);
}

void
fido2_io_set_fake(const struct fido2_io_fake *fake)
{
	atomic_store(&io_fake, fake);
}

int64_t
fido2_io_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum fido2_io_fail
open_fail_kind(int err)
{
	switch (err) {
	case ENOENT:
	case ENXIO:
	case ENODEV:
	case ECONNREFUSED: return FIDO2_IO_NOENT;
	case EACCES:
	case EPERM: return FIDO2_IO_ACCESS;
	case EBUSY:
	case EWOULDBLOCK: return FIDO2_IO_BUSY;
	default: return FIDO2_IO_ERROR;
	}
}

static int
open_hidraw(const char *path)
{
	struct stat st;
	struct timespec pause = { 0, IO_LOCK_PAUSE_MS * 1000000L };
	int fd, tries, err;

	if ((fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		err = errno;
		goto fail;
	}
	if (!S_ISCHR(st.st_mode)) {
		err = ENODEV;
		goto fail;
	}
	/* libfido2's own convention: one process per token at a time. */
	for (tries = 0; flock(fd, LOCK_EX | LOCK_NB) == -1; tries++) {
		if (errno != EWOULDBLOCK || tries >= IO_LOCK_TRIES) {
			err = errno;
			goto fail;
		}
		nanosleep(&pause, NULL);
	}
	return fd;
fail:
	close(fd);
	errno = err;
	return -1;
}

static int
open_sim(const char *socket_path)
{
	struct sockaddr_un sun;
	int fd, err;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(socket_path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, socket_path, strlen(socket_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

static void *
io_open(const char *path)
{
	struct io_handle *h = NULL;
	size_t simlen = strlen(FIDO2_SIM_PREFIX);
	size_t fakelen = strlen(FIDO2_FAKE_PREFIX);
	int err;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		io_fail(FIDO2_IO_ERROR, ENOMEM);
		return NULL;
	}
	h->fd = -1;
	if (strncmp(path, FIDO2_SIM_PREFIX, simlen) == 0) {
		h->kind = IO_SIM;
		h->fd = open_sim(path + simlen);
	} else if (strncmp(path, FIDO2_FAKE_PREFIX, fakelen) == 0) {
		h->kind = IO_FAKE;
		if (atomic_load(&io_fake) == NULL) {
			free(h);
			io_fail(FIDO2_IO_NOENT, ENOENT);
			return NULL;
		}
		return h;
	} else {
		h->kind = IO_HIDRAW;
		h->fd = open_hidraw(path);
	}
	if (h->fd == -1) {
		err = errno;
		log_debug("fido2: cannot open a token: %s", strerror(err));
		free(h);
		io_fail(open_fail_kind(err), err);
		return NULL;
	}
	return h;
}

static void
io_close(void *handle)
{
	struct io_handle *h = handle;

	if (h == NULL)
		return;
	if (h->fd != -1)
		close(h->fd);
	free(h);
}

/* Wait until fd is readable or the deadline (-1: none) passes, looking at
 * the cancel flag every slice. */
static int
io_wait(int fd, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int r, slice;

	for (;;) {
		if (io_cancelled()) {
			io_fail(FIDO2_IO_CANCELLED, ECANCELED);
			return -1;
		}
		slice = IO_SLICE_MS;
		if (deadline >= 0) {
			if ((left = deadline - fido2_io_now_ms()) <= 0) {
				io_fail(FIDO2_IO_TIMEOUT, ETIMEDOUT);
				return -1;
			}
			if (left < slice)
				slice = (int)left;
		}
		memset(&pfd, 0, sizeof(pfd));
		pfd.fd = fd;
		pfd.events = POLLIN;
		if ((r = poll(&pfd, 1, slice)) == -1) {
			if (errno == EINTR)
				continue;
			io_fail(FIDO2_IO_ERROR, errno);
			return -1;
		}
		if (r == 0)
			continue;
		if (pfd.revents & POLLIN)
			return 0;
		io_fail(FIDO2_IO_GONE, ENODEV);
		return -1;
	}
}

static int
read_hidraw(
    struct io_handle *h, unsigned char *buf, size_t len, int64_t deadline)
{
	ssize_t n;

	for (;;) {
		if (io_wait(h->fd, deadline) != 0)
			return -1;
		if ((n = read(h->fd, buf, len)) >= 0)
			break;
		if (errno == EINTR || errno == EAGAIN)
			continue;
		io_fail(errno == ENODEV || errno == EIO ? FIDO2_IO_GONE :
							  FIDO2_IO_ERROR,
		    errno);
		return -1;
	}
	if ((size_t)n != len) {
		log_debug("fido2: hidraw report of %zd bytes, not %zu", n, len);
		io_fail(FIDO2_IO_ERROR, EPROTO);
		return -1;
	}
	return (int)n;
}

/* The stream carries whole reports; collect exactly one. */
static int
read_sim(struct io_handle *h, unsigned char *buf, size_t len, int64_t deadline)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		if (io_wait(h->fd, deadline) != 0)
			return -1;
		n = recv(h->fd, buf + got, len - got, MSG_DONTWAIT);
		if (n == 0) {
			io_fail(FIDO2_IO_GONE, ECONNRESET);
			return -1;
		}
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			io_fail(errno == ECONNRESET ? FIDO2_IO_GONE :
						      FIDO2_IO_ERROR,
			    errno);
			return -1;
		}
		got += (size_t)n;
	}
	return (int)got;
}

static int
io_read(void *handle, unsigned char *buf, size_t len, int ms)
{
	struct io_handle *h = handle;
	const struct fido2_io_fake *fake;
	int64_t deadline = ms < 0 ? -1 : fido2_io_now_ms() + ms;
	int n;

	if (h == NULL || len != FIDO2_REPORT_LEN) {
		io_fail(FIDO2_IO_ERROR, EINVAL);
		return -1;
	}
	switch (h->kind) {
	case IO_HIDRAW: return read_hidraw(h, buf, len, deadline);
	case IO_SIM: return read_sim(h, buf, len, deadline);
	case IO_FAKE:
		if (io_cancelled()) {
			io_fail(FIDO2_IO_CANCELLED, ECANCELED);
			return -1;
		}
		if ((fake = atomic_load(&io_fake)) == NULL ||
		    (n = fake->read(fake->arg, buf, len, ms)) < 0) {
			io_fail(FIDO2_IO_GONE, ENODEV);
			return -1;
		}
		return n;
	}
	io_fail(FIDO2_IO_ERROR, EINVAL);
	return -1;
}

static int
send_all(int fd, const unsigned char *p, size_t len)
{
	size_t sent = 0;
	ssize_t n;

	while (sent < len) {
		n = send(fd, p + sent, len - sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			io_fail(errno == EPIPE || errno == ECONNRESET ?
				FIDO2_IO_GONE :
				FIDO2_IO_ERROR,
			    errno);
			return -1;
		}
		sent += (size_t)n;
	}
	return 0;
}

/*
 * libfido2 hands over a report with a leading report-id byte (0, since
 * CTAPHID reports are unnumbered): hidraw wants it as is, the simulator
 * socket and fakes carry the bare 64-byte report.
 */
static int
io_write(void *handle, const unsigned char *buf, size_t len)
{
	struct io_handle *h = handle;
	const struct fido2_io_fake *fake;
	ssize_t n;

	if (h == NULL || len != FIDO2_REPORT_LEN + 1 || buf[0] != 0) {
		io_fail(FIDO2_IO_ERROR, EINVAL);
		return -1;
	}
	switch (h->kind) {
	case IO_HIDRAW:
		while ((n = write(h->fd, buf, len)) == -1 && errno == EINTR)
			continue;
		if (n < 0 || (size_t)n != len) {
			io_fail(n < 0 && (errno == ENODEV || errno == EIO) ?
				FIDO2_IO_GONE :
				FIDO2_IO_ERROR,
			    n < 0 ? errno : EPROTO);
			return -1;
		}
		return (int)len;
	case IO_SIM:
		if (send_all(h->fd, buf + 1, len - 1) != 0)
			return -1;
		return (int)len;
	case IO_FAKE:
		if ((fake = atomic_load(&io_fake)) == NULL ||
		    fake->write(fake->arg, buf + 1, len - 1) !=
			(int)(len - 1)) {
			io_fail(FIDO2_IO_GONE, ENODEV);
			return -1;
		}
		return (int)len;
	}
	io_fail(FIDO2_IO_ERROR, EINVAL);
	return -1;
}

const fido_dev_io_t fido2_io = {
	.open = io_open,
	.close = io_close,
	.read = io_read,
	.write = io_write,
};
