/* Asking the person through SSH_ASKPASS without blocking the loop: yes/no or a PIN. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "secret.h"
#include "wire.h"
#include "askpass.h"
#include "conn.h"

#define ASKPASS_DEFAULT "/usr/bin/ssh-askpass"
#define PROMPT_VAR "SSH_ASKPASS_PROMPT="

extern char **environ;

struct askpass {
	uv_process_t proc;
	uv_pipe_t out;
	uv_timer_t timer;
	int handles; /* open uv handles */
	enum askpass_mode mode;
	askpass_cb *cb; /* NULL once answered/cancelled */
	void *arg;
	struct secret *buf; /* what it printed */
	size_t len;
	bool overflow;
	bool exited;
	bool eof;
	int64_t status;
	bool reading_busy;
};

static size_t asks_open;

void
askpass_prompt(const struct peer *p, const char *what, char *out, size_t outlen)
{
	char eexe[4 * PEER_EXE_MAX + 1], ecomm[4 * PEER_COMM_MAX + 1];
	char ewhat[512];

	log_escape(what, strlen(what), ewhat, sizeof(ewhat));
	if (!peer_exe_known(p)) {
		/* Its name is its own say-so: the person must know that. */
		log_escape(p->comm, strlen(p->comm), ecomm, sizeof(ecomm));
		snprintf(out, outlen,
		    "Allow an unverified program that calls itself '%s' (pid %d, uid %u; its executable is unknown: %s) to use %s?",
		    ecomm, (int)p->pid, (unsigned)p->uid, p->exe_why, ewhat);
		return;
	}
	log_escape(p->exe, strlen(p->exe), eexe, sizeof(eexe));
	snprintf(out, outlen, "Allow %s (pid %d, uid %u) to use %s?", eexe,
	    (int)p->pid, (unsigned)p->uid, ewhat);
}

static void
on_closed(uv_handle_t *h)
{
	struct askpass *a = h->data;

	if (--a->handles > 0)
		return;
	secret_free(a->buf);
	free(a);
	asks_open--;
}

static void
close_all(struct askpass *a)
{
	if (!uv_is_closing((uv_handle_t *)&a->timer))
		uv_close((uv_handle_t *)&a->timer, on_closed);
	if (!uv_is_closing((uv_handle_t *)&a->out))
		uv_close((uv_handle_t *)&a->out, on_closed);
	if (!uv_is_closing((uv_handle_t *)&a->proc))
		uv_close((uv_handle_t *)&a->proc, on_closed);
}

/* Both the exit and the end of its output: the answer is known. */
static void
maybe_finish(struct askpass *a)
{
	struct secret *answer = NULL;
	askpass_cb *cb = a->cb;
	struct wire_reader r;
	size_t n;
	bool ok;

	if (!a->exited || !a->eof)
		return;
	a->cb = NULL;
	if (cb != NULL) {
		wire_reader_init(&r, secret_ptr(a->buf), a->len);
		(void)wire_trim_end(&r, "\n\r", SIZE_MAX);
		n = wire_left(&r);
		ok = a->status == 0 && !a->overflow;
		if (ok && a->mode == ASKPASS_CONFIRM)
			/* As ssh-agent: an empty answer or "yes" is yes. */
			ok = n == 0 ||
			    (n == 3 &&
				strncasecmp((const char *)secret_ptr(a->buf),
				    "yes", 3) == 0);
		if (ok && a->mode == ASKPASS_SECRET &&
		    secret_from(secret_ptr(a->buf), n, &answer) != 0)
			ok = false;
		cb(a->arg, ok, answer);
	}
	close_all(a);
}

static void
on_exit_cb(uv_process_t *p, int64_t status, int signo)
{
	struct askpass *a = p->data;

	a->exited = true;
	a->status = signo != 0 ? -1 : status;
	/* Killed (timeout, cancel) or said too much: its output is no answer,
	 * and a child it left may hold the pipe open, so stop waiting. */
	if (a->overflow)
		a->eof = true;
	uv_timer_stop(&a->timer);
	maybe_finish(a);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct askpass *a = h->data;

	(void)suggested;
	if (a->reading_busy || a->len >= secret_len(a->buf)) {
		/* Full: read into nothing, and remember it was too long. */
		b->base = NULL;
		b->len = 0;
		a->overflow = a->len >= secret_len(a->buf);
		return;
	}
	a->reading_busy = true;
	b->base = (char *)secret_ptr(a->buf) + a->len;
	b->len = secret_len(a->buf) - a->len;
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct askpass *a = s->data;

	(void)b;
	a->reading_busy = false;
	if (n > 0) {
		a->len += (size_t)n;
		return;
	}
	if (n == 0 && !a->overflow)
		return;
	/* EOF, an error, or more than we take: stop reading. */
	uv_read_stop(s);
	a->eof = true;
	maybe_finish(a);
}

static void
on_timeout(uv_timer_t *t)
{
	struct askpass *a = t->data;

	log_info("askpass gave no answer in %d s: taken as no",
	    ASKPASS_TIMEOUT_MS / 1000);
	a->overflow = true; /* whatever comes now is not an answer */
	uv_process_kill(&a->proc, SIGKILL);
}

/* The agent's environment, with SSH_ASKPASS_PROMPT set for a confirm. */
static char **
ask_env(enum askpass_mode mode)
{
	static char confirm_var[] = PROMPT_VAR "confirm";
	char **env;
	size_t n = 0, i, k = 0;

	while (environ[n] != NULL)
		n++;
	if ((env = calloc(n + 2, sizeof(*env))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], PROMPT_VAR, strlen(PROMPT_VAR)) != 0)
			env[k++] = environ[i];
	if (mode == ASKPASS_CONFIRM)
		env[k++] = confirm_var;
	env[k] = NULL;
	return env;
}

static const char *
askpass_program(void)
{
	const char *p = getenv("SSH_ASKPASS"), *req;

	if ((req = getenv("SSH_ASKPASS_REQUIRE")) != NULL &&
	    strcmp(req, "never") == 0)
		return NULL;
	if (p != NULL && p[0] != '\0')
		return p;
	if (getenv("DISPLAY") != NULL || getenv("WAYLAND_DISPLAY") != NULL)
		return ASKPASS_DEFAULT;
	return NULL;
}

bool
askpass_available(void)
{
	return askpass_program() != NULL;
}

int
askpass_start(uv_loop_t *loop, enum askpass_mode mode, const char *prompt,
    askpass_cb *cb, void *arg, struct askpass **ret)
{
	uv_process_options_t o;
	uv_stdio_container_t stdio[3];
	struct askpass *a;
	char *args[3], prog[1024];
	char pbuf[ASKPASS_PROMPT_MAX];
	char **env = NULL;
	const char *p;
	int r;

	if ((p = askpass_program()) == NULL)
		return JIT_E_UNSUPPORTED;
	if (asks_open >= ASKPASS_MAX)
		return JIT_E_BUSY;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return JIT_E_NOMEM;
	if ((r = secret_new(ASKPASS_OUT_MAX, &a->buf)) != 0) {
		free(a);
		return r;
	}
	if ((env = ask_env(mode)) == NULL) {
		secret_free(a->buf);
		free(a);
		return JIT_E_NOMEM;
	}
	asks_open++;
	a->mode = mode;
	a->cb = cb;
	a->arg = arg;
	snprintf(prog, sizeof(prog), "%s", p);
	snprintf(pbuf, sizeof(pbuf), "%s", prompt);
	args[0] = prog;
	args[1] = pbuf;
	args[2] = NULL;
	uv_pipe_init(loop, &a->out, 0);
	uv_timer_init(loop, &a->timer);
	a->out.data = a->timer.data = a->proc.data = a;
	a->handles = 3;
	memset(&o, 0, sizeof(o));
	memset(stdio, 0, sizeof(stdio));
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&a->out;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = 2;
	o.file = prog;
	o.args = args;
	o.env = env;
	o.exit_cb = on_exit_cb;
	o.stdio = stdio;
	o.stdio_count = 3;
	r = uv_spawn(loop, &a->proc, &o);
	free(env);
	if (r != 0) {
		log_warn("cannot run the askpass program %s: %s", prog,
		    uv_strerror(r));
		a->cb = NULL;
		close_all(a);
		return JIT_E_UNSUPPORTED;
	}
	uv_read_start((uv_stream_t *)&a->out, on_alloc, on_read);
	uv_timer_start(&a->timer, on_timeout, ASKPASS_TIMEOUT_MS, 0);
	*ret = a;
	return JIT_OK;
}

void
askpass_cancel(struct askpass *a)
{
	if (a == NULL)
		return;
	a->cb = NULL;
	if (!a->exited) {
		/* Its exit is still reaped: the handle closes after it. */
		uv_process_kill(&a->proc, SIGKILL);
		a->overflow = true;
		return;
	}
	a->eof = true;
	maybe_finish(a);
}
