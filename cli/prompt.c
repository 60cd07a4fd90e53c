/* Secrets from a person or a pipe, read straight into guarded memory. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <termios.h>
#include <unistd.h>

#include "err.h"
#include "prompt.h"
#include "secret.h"

static volatile sig_atomic_t prompt_signo;

static const int prompt_sigs[] = {
	SIGINT,
	SIGTERM,
	SIGHUP,
	SIGQUIT,
	SIGTSTP,
	SIGTTIN,
	SIGTTOU,
};
#define NSIGS (sizeof(prompt_sigs) / sizeof(prompt_sigs[0]))

/* Best effort: a prompt that cannot be shown is still answered. */
static void
tty_write(int fd, const char *s)
{
	size_t n = strlen(s);
	ssize_t k;

	while (n > 0) {
		if ((k = write(fd, s, n)) < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		s += k;
		n -= (size_t)k;
	}
}

/*
 * No secret is read while this process is dumpable: cli_connect() makes it
 * non-dumpable once the agent has seen its executable.  A verb that reads
 * one first is a bug, and fails here rather than exposing the secret.
 */
static int
sealed(void)
{
	return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0 ? JIT_OK :
							 JIT_E_INTERNAL;
}

static void
prompt_catch(int signo)
{
	prompt_signo = signo;
}

int
prompt_parse_fd(const char *s)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > 65535)
		return -1;
	return (int)v;
}

/*
 * Read one byte at a time so nothing past the newline is consumed (the fd
 * may be shared) and no stdio buffer ever holds a byte of the secret.
 */
static int
read_line(int fd, size_t max, bool terminal, struct secret **ret)
{
	struct secret *s = NULL;
	uint8_t *p;
	size_t n = 0;
	ssize_t k;
	int r;

	if ((r = secret_new(max + 1, &s)) != 0)
		return r;
	p = secret_ptr(s);
	for (;;) {
		k = read(fd, p + n, 1);
		if (k < 0 && errno == EINTR) {
			if (terminal && prompt_signo != 0) {
				r = JIT_E_CANCELLED;
				goto out;
			}
			continue;
		}
		if (k < 0) {
			r = JIT_E_IO;
			goto out;
		}
		/* ^D at an empty prompt means "no", not "an empty PIN". */
		if (k == 0 && n == 0 && terminal) {
			r = JIT_E_CANCELLED;
			goto out;
		}
		if (k == 0 || p[n] == '\n')
			break;
		if (++n > max) {
			r = JIT_E_LIMIT;
			goto out;
		}
	}
	secret_shrink(s, n);
	*ret = s;
	s = NULL;
	r = JIT_OK;
out:
	secret_free(s);
	return r;
}

int
prompt_line_fd(int fd, size_t max, struct secret **ret)
{
	if (sealed() != 0)
		return JIT_E_INTERNAL;
	return read_line(fd, max, false, ret);
}

int
prompt_tty(const char *prompt, size_t max, struct secret **ret)
{
	struct sigaction sa, saved[NSIGS];
	struct termios old, quiet;
	bool have_termios = false;
	size_t i;
	int fd, r, signo;

	if (sealed() != 0)
		return JIT_E_INTERNAL;
	if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		return JIT_E_PIN_REQUIRED;
	prompt_signo = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = prompt_catch; /* no SA_RESTART: read sees EINTR */
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < NSIGS; i++)
		(void)sigaction(prompt_sigs[i], &sa, &saved[i]);
	if (tcgetattr(fd, &old) == 0) {
		have_termios = true;
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		(void)tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	tty_write(fd, prompt);
	r = read_line(fd, max, true, ret);
	tty_write(fd, "\n");
	/* Whatever was typed past the limit is dropped with TCSAFLUSH. */
	if (have_termios)
		(void)tcsetattr(fd, TCSAFLUSH, &old);
	close(fd);
	for (i = 0; i < NSIGS; i++)
		(void)sigaction(prompt_sigs[i], &saved[i], NULL);
	/* The terminal is sane again: now let the signal do what it does. */
	if ((signo = prompt_signo) != 0) {
		prompt_signo = 0;
		if (signo != SIGTSTP && signo != SIGTTIN && signo != SIGTTOU)
			(void)raise(signo);
		if (r == JIT_OK) {
			secret_free(*ret);
			*ret = NULL;
		}
		r = JIT_E_CANCELLED;
	}
	return r;
}

int
prompt_pin(int pin_fd, const char *prompt, struct secret **ret)
{
	if (pin_fd >= 0)
		return prompt_line_fd(pin_fd, PROMPT_PIN_MAX, ret);
	return prompt_tty(prompt, PROMPT_PIN_MAX, ret);
}

int
prompt_read_all(int fd, size_t max, struct secret **ret)
{
	struct secret *s = NULL;
	size_t n = 0;
	ssize_t k;
	int r;

	if (sealed() != 0)
		return JIT_E_INTERNAL;
	/* One byte of room past max tells "exactly max" from "too long". */
	if ((r = secret_new(max + 1, &s)) != 0)
		return r;
	for (;;) {
		k = read(fd, secret_ptr(s) + n, max + 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = JIT_E_IO;
			goto out;
		}
		if (k == 0)
			break;
		n += (size_t)k;
		if (n > max) {
			r = JIT_E_LIMIT;
			goto out;
		}
	}
	secret_shrink(s, n);
	*ret = s;
	s = NULL;
	r = JIT_OK;
out:
	secret_free(s);
	return r;
}
