/* Scripted user presence: approve, deny, time out, delay, or ask a person. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "err.h"
#include "fsutil.h"
#include "sim.h"
#include "wire.h"

#define TOUCH_FILE_MAX 128
#define TOUCH_PROMPT \
	"touch requested: press Enter to touch, or type n then Enter to deny\n"

int
sim_touch_parse(const char *s, struct sim_touch *ret)
{
	struct sim_touch t = { SIM_TOUCH_APPROVE, 0 };
	const char *ms;
	char *end = NULL;
	long v;

	if (strcmp(s, "approve") == 0)
		t.mode = SIM_TOUCH_APPROVE;
	else if (strcmp(s, "deny") == 0)
		t.mode = SIM_TOUCH_DENY;
	else if (strcmp(s, "timeout") == 0)
		t.mode = SIM_TOUCH_TIMEOUT;
	else if (strcmp(s, "ask") == 0)
		t.mode = SIM_TOUCH_ASK;
	else if (strncmp(s, "delay=", 6) == 0) {
		ms = s + 6;
		if (!isdigit((unsigned char)*ms))
			return JIT_E_ARG;
		errno = 0;
		v = strtol(ms, &end, 10);
		if (errno != 0 || *end != '\0' || v < 0 ||
		    v > SIM_TOUCH_DELAY_MAX_MS)
			return JIT_E_ARG;
		t.mode = SIM_TOUCH_DELAY;
		t.delay_ms = (int)v;
	} else
		return JIT_E_ARG;
	*ret = t;
	return JIT_OK;
}

/* Skip the bytes that are (or are not) white space; return how many. */
static size_t
skip_space(struct wire_reader *r, bool space)
{
	size_t n = 0;
	uint8_t c;

	while (wire_peek_u8(r, &c) == 0 && c != '\0' &&
	    (isspace(c) != 0) == space && wire_skip(r, 1) == 0)
		n++;
	return n;
}

/* The one word of a control file, white space around it allowed. */
static int
touch_word(const char *buf, size_t len, char word[TOUCH_FILE_MAX + 1])
{
	struct wire_reader r;
	size_t lead, n;

	wire_reader_init(&r, buf, len);
	lead = skip_space(&r, true);
	n = skip_space(&r, false);
	(void)skip_space(&r, true);
	if (wire_end(&r) != 0 || n > TOUCH_FILE_MAX)
		return JIT_E_FORMAT;
	wire_reader_init(&r, buf, len);
	if (wire_skip(&r, lead) != 0 || wire_get_bytes(&r, word, n) != 0)
		return JIT_E_FORMAT;
	word[n] = '\0';
	return JIT_OK;
}

/* The mode for this touch: the control file named by JIT_SIM_TOUCH_FILE
 * if it holds a valid mode, else the command line's. */
static void
touch_current(struct sim_dev *d, struct sim_touch *t)
{
	const char *path = getenv(SIM_TOUCH_FILE_ENV);
	char *buf = NULL, word[TOUCH_FILE_MAX + 1];
	size_t len = 0;

	*t = d->touch;
	if (path == NULL || *path == '\0')
		return;
	if (fs_read_file(path, TOUCH_FILE_MAX, &buf, &len) != 0) {
		sim_debug(d, "touch: cannot read the control file");
		return;
	}
	if (touch_word(buf, len, word) != 0 || sim_touch_parse(word, t) != 0) {
		sim_debug(d, "touch: the control file holds no valid mode");
		*t = d->touch;
	}
	free(buf);
}

/* Keep the host informed (KEEPALIVE every 100 ms) while waiting up to ms;
 * end early on CANCEL or when watch_fd is readable. */
static enum sim_wait_result
wait_touch(struct sim_dev *d, uint64_t ms, int watch_fd)
{
	uint64_t deadline = sim_now_ms() + ms, now, slice;
	enum sim_wait_result r;

	for (;;) {
		if ((now = sim_now_ms()) >= deadline)
			return SIM_WAIT_ELAPSED;
		ctaphid_keepalive(d, CTAPHID_STATUS_UPNEEDED);
		slice = deadline - now;
		if (slice > CTAPHID_KEEPALIVE_MS)
			slice = CTAPHID_KEEPALIVE_MS;
		if ((r = ctaphid_wait(d, (int)slice, watch_fd)) !=
		    SIM_WAIT_ELAPSED)
			return r;
	}
}

static void
write_all(int fd, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, s, len)) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		s += n;
		len -= (size_t)n;
	}
}

/* Ask on the controlling terminal (or stderr/stdin without one): an empty
 * line is a touch, a line starting with n is a refusal. */
static uint8_t
ask(struct sim_dev *d)
{
	struct wire_reader line;
	char buf[64];
	int tty, in, first = -1;
	uint8_t c;
	uint64_t deadline = sim_now_ms() + SIM_TOUCH_ASK_TIMEOUT_MS, now;
	uint8_t st = CTAP2_ERR_USER_ACTION_TIMEOUT;
	ssize_t n;

	tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	in = tty >= 0 ? tty : STDIN_FILENO;
	if (tty >= 0)
		tcflush(tty, TCIFLUSH); /* an old Enter is no answer */
	write_all(tty >= 0 ? tty : STDERR_FILENO, TOUCH_PROMPT);
	for (;;) {
		if ((now = sim_now_ms()) >= deadline)
			break;
		switch (wait_touch(d, deadline - now, in)) {
		case SIM_WAIT_ELAPSED: continue;
		case SIM_WAIT_CANCEL: st = CTAP2_ERR_KEEPALIVE_CANCEL; goto out;
		case SIM_WAIT_FD: break;
		}
		if ((n = read(in, buf, sizeof(buf))) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			st = CTAP2_ERR_OPERATION_DENIED;
			goto out;
		}
		if (n == 0) { /* nobody there to touch */
			st = CTAP2_ERR_OPERATION_DENIED;
			goto out;
		}
		wire_reader_init(&line, buf, (size_t)n);
		while (wire_get_u8(&line, &c) == 0) {
			if (c == '\n') {
				st = first == 'n' || first == 'N' ?
				    CTAP2_ERR_OPERATION_DENIED :
				    CTAP2_OK;
				goto out;
			}
			if (first < 0 && !isspace(c))
				first = c;
		}
	}
out:
	if (tty >= 0)
		close(tty);
	return st;
}

uint8_t
sim_user_presence(struct sim_dev *d)
{
	struct sim_touch t;
	enum sim_wait_result r;

	touch_current(d, &t);
	switch (t.mode) {
	case SIM_TOUCH_APPROVE:
		sim_debug(d, "touch: approved");
		return CTAP2_OK;
	case SIM_TOUCH_DENY:
		sim_debug(d, "touch: denied");
		return CTAP2_ERR_OPERATION_DENIED;
	case SIM_TOUCH_TIMEOUT:
		sim_debug(
		    d, "touch: waiting %d ms to time out", d->touch_timeout_ms);
		r = wait_touch(d, (uint64_t)d->touch_timeout_ms, -1);
		return r == SIM_WAIT_CANCEL ? CTAP2_ERR_KEEPALIVE_CANCEL :
					      CTAP2_ERR_USER_ACTION_TIMEOUT;
	case SIM_TOUCH_DELAY:
		sim_debug(d, "touch: in %d ms", t.delay_ms);
		r = wait_touch(d, (uint64_t)t.delay_ms, -1);
		return r == SIM_WAIT_CANCEL ? CTAP2_ERR_KEEPALIVE_CANCEL :
					      CTAP2_OK;
	case SIM_TOUCH_ASK: return ask(d);
	}
	return CTAP2_ERR_OPERATION_DENIED;
}
