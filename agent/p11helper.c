/* OpenSSH's ssh-pkcs11-helper as a child: its frames, one request at a time, every answer awaited on the loop with a deadline. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "p11helper.h"
#include "secret.h"
#include "wire.h"

#define LEN_BYTES 4

struct p11call {
	struct p11call *next;
	struct secret *req; /* NULL once handed to the writer */
	size_t reply_max;
	int64_t timeout_ms;
	p11helper_cb *cb;
	void *arg;
};

/* One write: the length, then the request from guarded memory, which is
 * wiped when the write is done. */
struct p11write {
	uv_write_t w;
	uint8_t len[LEN_BYTES];
	struct secret *req;
	struct p11helper *h;
};

struct p11helper {
	uv_process_t proc;
	uv_pipe_t io;
	uv_timer_t timer;
	int handles; /* open uv handles */
	pid_t pid;
	bool exited;
	bool eof;
	bool dead; /* every call failed, no more taken */
	bool stopping; /* the owner let go: free once closed */
	bool timed_out;
	int64_t status;
	int signo;
	p11helper_gone_cb *gone;
	void *arg;
	struct p11call *head, *tail; /* head: sent, when sent is true */
	bool sent;
	size_t ncalls;
	uint8_t *in; /* the reply being read */
	size_t inlen, incap;
	uint8_t junk[64]; /* what comes unasked */
};

const char *
p11helper_path(void)
{
	const char *s = getenv(P11HELPER_ENV);

	return s != NULL && s[0] != '\0' ? s : P11HELPER_DEFAULT;
}

pid_t
p11helper_pid(const struct p11helper *h)
{
	return h->pid;
}

static void
on_closed(uv_handle_t *hd)
{
	struct p11helper *h = hd->data;

	if (--h->handles > 0 || !h->stopping)
		return;
	free(h->in);
	free(h);
}

static void
call_free(struct p11call *c)
{
	if (c == NULL)
		return;
	secret_free(c->req);
	free(c);
}

static struct p11call *
pop(struct p11helper *h)
{
	struct p11call *c = h->head;

	if (c == NULL)
		return NULL;
	h->head = c->next;
	if (h->head == NULL)
		h->tail = NULL;
	h->ncalls--;
	h->sent = false;
	h->inlen = 0;
	return c;
}

/* Fail every call: the first with r (it was the one waiting), the others
 * with JIT_E_IO (they were never answered either). */
static void
fail_all(struct p11helper *h, int first)
{
	struct p11call *c;
	int r = first;

	while ((c = pop(h)) != NULL) {
		if (c->cb != NULL)
			c->cb(c->arg, r, NULL, 0);
		call_free(c);
		r = first == JIT_E_CANCELLED ? JIT_E_CANCELLED : JIT_E_IO;
	}
}

static void
kill_it(struct p11helper *h)
{
	if (!h->exited && h->pid > 0)
		(void)uv_process_kill(&h->proc, SIGKILL);
}

/* The helper can serve no more: kill it, fail what waits, tell the owner. */
static void
gone(struct p11helper *h, int r, const char *why)
{
	if (h->dead)
		return;
	h->dead = true;
	kill_it(h);
	uv_timer_stop(&h->timer);
	uv_read_stop((uv_stream_t *)&h->io);
	log_debug("PKCS#11 helper (pid %d) %s", (int)h->pid, why);
	fail_all(h, r);
	if (!h->stopping && h->gone != NULL)
		h->gone(h->arg, why);
}

static void
exit_why(const struct p11helper *h, char *out, size_t outlen)
{
	if (h->timed_out)
		snprintf(out, outlen, "did not answer in time and was stopped");
	else if (h->signo != 0)
		snprintf(out, outlen, "was killed by signal %d", h->signo);
	else
		snprintf(out, outlen, "exited with status %lld",
		    (long long)h->status);
}

static void
on_exit_cb(uv_process_t *p, int64_t status, int signo)
{
	struct p11helper *h = p->data;
	char why[P11HELPER_WHY_MAX];

	h->exited = true;
	h->status = status;
	h->signo = signo;
	if (h->stopping) {
		if (!uv_is_closing((uv_handle_t *)&h->proc))
			uv_close((uv_handle_t *)&h->proc, on_closed);
		return;
	}
	exit_why(h, why, sizeof(why));
	gone(h, JIT_E_IO, why);
}

static void on_written(uv_write_t *w, int status);
static void on_timeout(uv_timer_t *t);

/* Send the next request if none is out. */
static void
send_next(struct p11helper *h)
{
	struct p11call *c;
	struct p11write *wr;
	struct wire_writer lw;
	uv_buf_t bufs[2];
	uint8_t *grown;
	int r;

	if (h->dead || h->sent || (c = h->head) == NULL)
		return;
	if (h->incap < LEN_BYTES + c->reply_max) {
		if ((grown = realloc(h->in, LEN_BYTES + c->reply_max)) ==
		    NULL) {
			gone(h, JIT_E_NOMEM,
			    "could not be read from (out of memory)");
			return;
		}
		h->in = grown;
		h->incap = LEN_BYTES + c->reply_max;
	}
	if ((wr = calloc(1, sizeof(*wr))) == NULL) {
		gone(h, JIT_E_NOMEM, "could not be written to (out of memory)");
		return;
	}
	wire_writer_init(&lw, LEN_BYTES, false);
	if (wire_put_u32(&lw, (uint32_t)secret_len(c->req)) != 0) {
		free(wr);
		gone(h, JIT_E_INTERNAL, "could not be written to");
		return;
	}
	memcpy(wr->len, wire_writer_data(&lw), LEN_BYTES);
	wire_writer_reset(&lw);
	wr->req = c->req;
	c->req = NULL;
	wr->h = h;
	bufs[0] = uv_buf_init((char *)wr->len, LEN_BYTES);
	bufs[1] = uv_buf_init(
	    (char *)secret_ptr(wr->req), (unsigned)secret_len(wr->req));
	if ((r = uv_write(
		 &wr->w, (uv_stream_t *)&h->io, bufs, 2, on_written)) != 0) {
		secret_free(wr->req);
		free(wr);
		gone(h, JIT_E_IO, "could not be written to");
		return;
	}
	h->sent = true;
	h->inlen = 0;
	uv_timer_start(&h->timer, on_timeout, (uint64_t)c->timeout_ms, 0);
}

static void
on_written(uv_write_t *w, int status)
{
	struct p11write *wr = (struct p11write *)w;
	struct p11helper *h = wr->h;

	secret_free(wr->req); /* the PIN, if it was an add */
	free(wr);
	if (status < 0 && status != UV_ECANCELED)
		gone(
		    h, JIT_E_IO, "could not be written to (it closed its end)");
}

static void
on_timeout(uv_timer_t *t)
{
	struct p11helper *h = t->data;

	h->timed_out = true;
	gone(h, JIT_E_TIMEOUT, "did not answer in time and was stopped");
}

static void
on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *b)
{
	struct p11helper *h = hd->data;

	(void)suggested;
	if (h->sent && h->inlen < h->incap)
		*b = uv_buf_init(
		    (char *)h->in + h->inlen, (unsigned)(h->incap - h->inlen));
	else
		*b = uv_buf_init((char *)h->junk, sizeof(h->junk));
}

/* A whole reply in h->in: hand it over. */
static void
deliver(struct p11helper *h, const uint8_t *body, size_t len)
{
	struct p11call *c;

	uv_timer_stop(&h->timer);
	c = pop(h);
	if (c->cb != NULL)
		c->cb(c->arg, JIT_OK, body, len);
	call_free(c);
	send_next(h);
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct p11helper *h = s->data;
	struct wire_reader r;
	uint32_t len;
	char why[P11HELPER_WHY_MAX];

	if (h->dead || n == 0)
		return;
	if (n < 0) {
		/* Its end closed: it exited (its exit says how), or it will
		 * be killed when the call's deadline comes. */
		h->eof = true;
		uv_read_stop(s);
		if (h->exited) {
			exit_why(h, why, sizeof(why));
			gone(h, JIT_E_IO, why);
		}
		return;
	}
	if (!h->sent || b->base != (char *)h->in + h->inlen) {
		gone(h, JIT_E_IO, "wrote without being asked");
		return;
	}
	h->inlen += (size_t)n;
	wire_reader_init(&r, h->in, h->inlen);
	if (wire_get_u32(&r, &len) != 0)
		return; /* not the whole length yet */
	if (len == 0 || len > h->incap - LEN_BYTES) {
		snprintf(why, sizeof(why),
		    "answered with a frame of %u bytes, over the limit of %zu, and was stopped",
		    len, h->incap - LEN_BYTES);
		gone(h, JIT_E_IO, why);
		return;
	}
	if (wire_left(&r) < len)
		return;
	if (wire_left(&r) > len) {
		gone(h, JIT_E_IO, "answered more than it was asked");
		return;
	}
	deliver(h, wire_cursor(&r), len);
}

int
p11helper_start(uv_loop_t *loop, p11helper_gone_cb *gone_cb, void *arg,
    struct p11helper **ret)
{
	struct p11helper *h;
	uv_process_options_t o;
	uv_stdio_container_t stdio[3];
	char *path, *argv[2];
	int pair[2], r;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return JIT_E_NOMEM;
	if ((path = strdup(p11helper_path())) == NULL) {
		free(h);
		return JIT_E_NOMEM;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
		log_info("cannot start the PKCS#11 helper: socketpair: %s",
		    strerror(errno));
		free(path);
		free(h);
		return JIT_E_IO;
	}
	h->gone = gone_cb;
	h->arg = arg;
	argv[0] = path;
	argv[1] = NULL;
	memset(&o, 0, sizeof(o));
	memset(stdio, 0, sizeof(stdio));
	stdio[0].flags = UV_INHERIT_FD;
	stdio[0].data.fd = pair[1];
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = pair[1];
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = STDERR_FILENO;
	o.file = path;
	o.args = argv;
	o.stdio = stdio;
	o.stdio_count = 3;
	o.exit_cb = on_exit_cb;
	h->proc.data = h;
	if ((r = uv_spawn(loop, &h->proc, &o)) != 0) {
		log_info("cannot start the PKCS#11 helper %s: %s", path,
		    uv_strerror(r));
		free(path);
		close(pair[0]);
		close(pair[1]);
		/* A failed spawn leaves a handle to close all the same. */
		h->stopping = true;
		h->handles = 1;
		uv_close((uv_handle_t *)&h->proc, on_closed);
		return JIT_E_UNSUPPORTED;
	}
	free(path);
	close(pair[1]);
	h->pid = h->proc.pid;
	h->handles = 3;
	uv_pipe_init(loop, &h->io, 0);
	h->io.data = h;
	uv_timer_init(loop, &h->timer);
	h->timer.data = h;
	if ((r = uv_pipe_open(&h->io, pair[0])) != 0)
		close(pair[0]); /* not the pipe's: closed here */
	else
		r = uv_read_start((uv_stream_t *)&h->io, on_alloc, on_read);
	if (r != 0) {
		log_info(
		    "cannot talk to the PKCS#11 helper: %s", uv_strerror(r));
		p11helper_stop(h, false);
		return JIT_E_IO;
	}
	log_debug("started the PKCS#11 helper (pid %d)", (int)h->pid);
	*ret = h;
	return JIT_OK;
}

int
p11helper_call(struct p11helper *h, struct secret *req, size_t reply_max,
    int64_t timeout_ms, p11helper_cb *cb, void *arg, struct p11call **ret)
{
	struct p11call *c;

	if (h->dead || h->stopping) {
		secret_free(req);
		return JIT_E_IO;
	}
	if (h->ncalls >= P11HELPER_CALLS_MAX) {
		secret_free(req);
		return JIT_E_BUSY;
	}
	if (reply_max == 0 || reply_max > P11HELPER_FRAME_MAX)
		reply_max = P11HELPER_FRAME_MAX;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		secret_free(req);
		return JIT_E_NOMEM;
	}
	c->req = req;
	c->reply_max = reply_max;
	c->timeout_ms = timeout_ms;
	c->cb = cb;
	c->arg = arg;
	if (h->tail != NULL)
		h->tail->next = c;
	else
		h->head = c;
	h->tail = c;
	h->ncalls++;
	if (ret != NULL)
		*ret = c;
	send_next(h);
	return JIT_OK;
}

void
p11helper_stop(struct p11helper *h, bool at_exit)
{
	if (h == NULL || h->stopping)
		return;
	h->stopping = true;
	if (!h->dead) {
		h->dead = true;
		kill_it(h);
		fail_all(h, JIT_E_CANCELLED);
	}
	uv_timer_stop(&h->timer);
	uv_close((uv_handle_t *)&h->timer, on_closed);
	uv_close((uv_handle_t *)&h->io, on_closed);
	/* Closed once reaped, so no zombie is left (at exit: now). */
	if (h->exited || at_exit)
		uv_close((uv_handle_t *)&h->proc, on_closed);
}
