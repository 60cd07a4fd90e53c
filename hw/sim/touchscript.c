/* Touch scripting common to the simulators: modes, the control file, asking. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "fsutil.h"
#include "simtouch.h"
#include "wire.h"

#define TOUCH_FILE_MAX 128
#define TOUCH_PROMPT \
	"touch requested: press Enter to touch, or type n then Enter to deny\n"

uint64_t
sim_touch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

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

int
sim_touch_timeout_from_env(void)
{
	const char *s = getenv(SIM_TOUCH_TIMEOUT_ENV);
	char *end = NULL;
	long v;

	if (s == NULL || *s == '\0')
		return SIM_TOUCH_TIMEOUT_MS;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > SIM_TOUCH_DELAY_MAX_MS)
		return SIM_TOUCH_TIMEOUT_MS;
	return (int)v;
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

int
sim_touch_current(const struct sim_touch *dflt, struct sim_touch *t)
{
	const char *path = getenv(SIM_TOUCH_FILE_ENV);
	char *buf = NULL, word[TOUCH_FILE_MAX + 1];
	size_t len = 0;
	int r;

	*t = *dflt;
	if (path == NULL || *path == '\0')
		return JIT_OK;
	if ((r = fs_read_file(path, TOUCH_FILE_MAX, &buf, &len)) != 0)
		return r;
	if ((r = touch_word(buf, len, word)) != 0 ||
	    (r = sim_touch_parse(word, t)) != 0)
		*t = *dflt;
	free(buf);
	return r;
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

/* An empty line is a touch, a line starting with n is a refusal. */
enum sim_ask_result
sim_touch_ask(
    enum sim_wait_result (*wait)(void *ctx, uint64_t ms, int fd), void *ctx)
{
	struct wire_reader line;
	char buf[64];
	int tty, in, first = -1;
	uint8_t c;
	uint64_t deadline = sim_touch_now_ms() + SIM_TOUCH_ASK_TIMEOUT_MS, now;
	enum sim_ask_result st = SIM_ASK_TIMEOUT;
	ssize_t n;

	tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	in = tty >= 0 ? tty : STDIN_FILENO;
	if (tty >= 0)
		tcflush(tty, TCIFLUSH); /* an old Enter is no answer */
	write_all(tty >= 0 ? tty : STDERR_FILENO, TOUCH_PROMPT);
	for (;;) {
		if ((now = sim_touch_now_ms()) >= deadline)
			break;
		switch (wait(ctx, deadline - now, in)) {
		case SIM_WAIT_ELAPSED: continue;
		case SIM_WAIT_CANCEL: st = SIM_ASK_CANCELLED; goto out;
		case SIM_WAIT_FD: break;
		}
		if ((n = read(in, buf, sizeof(buf))) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			st = SIM_ASK_DENIED;
			goto out;
		}
		if (n == 0) { /* nobody there to touch */
			st = SIM_ASK_DENIED;
			goto out;
		}
		wire_reader_init(&line, buf, (size_t)n);
		while (wire_get_u8(&line, &c) == 0) {
			if (c == '\n') {
				st = first == 'n' || first == 'N' ?
				    SIM_ASK_DENIED :
				    SIM_ASK_TOUCHED;
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
