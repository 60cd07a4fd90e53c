/* The listening socket, connections, framing and their limits. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "agent.h"
#include "err.h"
#include "events.h"
#include "hwq.h"
#include "log.h"
#include "procinfo.h"
#include "secret.h"

#define READ_CHUNK (64 * 1024)

struct conn {
	uv_pipe_t pipe; /* first: handle->data not needed */
	struct agent *ag;
	struct conn *next, *prev;
	struct peer peer;
	struct wire_writer in; /* unconsumed input, guarded */
	uv_timer_t timer; /* idle and partial-frame timeout */
	size_t out_pending;
	bool busy; /* a deferred request in flight */
	struct hwjob *job; /* the hardware work it waits for */
	void (*cancel)(void *arg); /* other work it waits for: an askpass */
	void *cancel_arg;
	void *ssh; /* ssh-agent.c's state */
	bool reading;
	bool closing;
	bool partial; /* the partial-frame timer runs for the frame in */
	int handles; /* open uv handles */
};

struct out_req {
	uv_write_t req;
	struct conn *conn;
	struct secret *buf;
	size_t len;
};

/* Reads are processed before the next one, so one buffer serves all. */
static struct secret *read_buf;
static bool read_buf_busy;

static void conn_process(struct conn *c);
static void conn_close(struct conn *c, const char *why);

const struct peer *
conn_peer(const struct conn *c)
{
	return &c->peer;
}

void **
conn_proto_state(struct conn *c)
{
	return &c->ssh;
}

void
peer_describe(const struct peer *p, char *out, size_t outlen)
{
	char ecomm[4 * PEER_COMM_MAX + 1], eexe[4 * PEER_EXE_MAX + 1];

	if (peer_exe_known(p)) {
		log_escape(p->exe, strlen(p->exe), eexe, sizeof(eexe));
		snprintf(out, outlen, "%s", eexe);
		return;
	}
	log_escape(p->comm, strlen(p->comm), ecomm, sizeof(ecomm));
	snprintf(out, outlen,
	    "an unverified program that calls itself '%s' (its executable is unknown: %s)",
	    ecomm, p->exe_why);
}

/* What the process says its name is: any process can set it. */
static void
peer_read_comm(struct peer *p)
{
	struct wire_reader r;
	const uint8_t *name;
	char path[64];
	size_t len;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)p->pid);
	p->comm[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return;
	n = read(fd, p->comm, sizeof(p->comm) - 1);
	close(fd);
	if (n < 0)
		n = 0;
	/* The name is the first line. */
	wire_reader_init(&r, p->comm, (size_t)n);
	if (wire_get_line_bytes(&r, sizeof(p->comm) - 1, &name, &len, NULL) !=
	    0)
		len = 0;
	p->comm[len] = '\0';
}

/*
 * Readable only while the peer is dumpable (or for root): jitctl stays
 * dumpable until this has been done, which its first reply proves.
 */
static void
peer_resolve_exe(struct peer *p)
{
	char path[64];
	ssize_t n;
	int e;

	p->exe_why[0] = '\0';
	p->comm[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)p->pid);
	n = readlink(path, p->exe, sizeof(p->exe) - 1);
	e = errno;
	if (n > 0 && (size_t)n < sizeof(p->exe) - 1) {
		p->exe[n] = '\0';
		return;
	}
	/* A path that filled the buffer may be cut: never a match. */
	if (n > 0)
		snprintf(p->exe_why, sizeof(p->exe_why),
		    "its path is longer than %d bytes", PEER_EXE_MAX - 2);
	else if (e == EACCES || e == EPERM)
		snprintf(p->exe_why, sizeof(p->exe_why),
		    "/proc/%d/exe is not readable: the process is not dumpable",
		    (int)p->pid);
	else if (e == ENOENT || e == ESRCH)
		snprintf(p->exe_why, sizeof(p->exe_why),
		    "the process exited before it was accepted");
	else
		snprintf(p->exe_why, sizeof(p->exe_why), "/proc/%d/exe: %s",
		    (int)p->pid, strerror(e));
	snprintf(p->exe, sizeof(p->exe), "?");
	peer_read_comm(p);
	log_debug("pid %d: executable unknown: %s", (int)p->pid, p->exe_why);
}

static void
on_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->handles > 0)
		return;
	wire_writer_reset(&c->in);
	free(c);
}

static void accept_pending(struct agent *ag);

static void
conn_close(struct conn *c, const char *why)
{
	struct agent *ag = c->ag;

	if (c->closing)
		return;
	c->closing = true;
	if (why != NULL)
		log_debug(
		    "closing connection of pid %d: %s", (int)c->peer.pid, why);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ag->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	ag->nconns--;
	if (c->job != NULL)
		hwq_detach(c->job);
	c->job = NULL;
	if (c->cancel != NULL)
		c->cancel(c->cancel_arg);
	c->cancel = NULL;
	if (c->ssh != NULL && c->ag->conn_state_free != NULL)
		c->ag->conn_state_free(c->ssh);
	c->ssh = NULL;
	/* Input may hold a secret (an `add`): wipe it now. */
	wire_writer_reset(&c->in);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	uv_close((uv_handle_t *)&c->pipe, on_handle_closed);
	if (ag->listener_paused && !ag->exiting)
		accept_pending(ag);
}

static void
on_timer(uv_timer_t *t)
{
	struct conn *c = t->data;

	conn_close(c,
	    wire_writer_len(&c->in) > 0 ? "frame not finished in time" :
					  "idle too long");
}

static void
arm_timer(struct conn *c)
{
	if (c->closing)
		return;
	if (c->busy) {
		uv_timer_stop(&c->timer);
		return;
	}
	/* A frame's time runs from its first byte: a client sending one
	 * byte at a time does not push its end back. */
	if (wire_writer_len(&c->in) > 0) {
		if (!c->partial)
			uv_timer_start(
			    &c->timer, on_timer, AGENT_PARTIAL_MS, 0);
		c->partial = true;
		return;
	}
	c->partial = false;
	uv_timer_start(&c->timer, on_timer, AGENT_IDLE_MS, 0);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	if (read_buf_busy || read_buf == NULL) {
		buf->base = NULL;
		buf->len = 0;
		return;
	}
	read_buf_busy = true;
	buf->base = (char *)secret_ptr(read_buf);
	buf->len = secret_len(read_buf);
}

static void read_start(struct conn *c);
static void read_stop(struct conn *c);

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	int r;

	if (buf->base != NULL && buf->base == (char *)secret_ptr(read_buf))
		read_buf_busy = false;
	if (n < 0) {
		conn_close(c, n == UV_EOF ? NULL : uv_strerror((int)n));
		goto wipe;
	}
	if (n == 0)
		goto wipe;
	/* Keep only what one frame plus one read can need. */
	if ((r = wire_put_bytes(&c->in, buf->base, (size_t)n)) != 0) {
		conn_close(c, jit_strerror(r));
		goto wipe;
	}
	/* While a request is pending, reading only watches for the client
	 * going away (which abandons the request); what it sends waits. */
	if (c->busy) {
		if (wire_writer_len(&c->in) >= AGENT_FRAME_MAX)
			read_stop(c);
		goto wipe;
	}
	conn_process(c);
wipe:
	if (buf->base != NULL && n > 0)
		sodium_memzero(buf->base, (size_t)n);
}

static void
read_start(struct conn *c)
{
	if (c->reading || c->closing)
		return;
	if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) == 0)
		c->reading = true;
}

static void
read_stop(struct conn *c)
{
	if (!c->reading)
		return;
	uv_read_stop((uv_stream_t *)&c->pipe);
	c->reading = false;
}

/* Handle every complete frame in the input, one request at a time. */
static void
conn_process(struct conn *c)
{
	struct wire_reader hdr;
	struct request rq;
	uint32_t len;
	int r;

	while (!c->closing && !c->busy) {
		if (c->out_pending > AGENT_OUT_MAX) {
			/* The client does not read its replies: wait. */
			read_stop(c);
			return;
		}
		if (wire_writer_len(&c->in) < 4)
			break;
		wire_reader_init(
		    &hdr, wire_writer_data(&c->in), wire_writer_len(&c->in));
		(void)wire_get_u32(&hdr, &len);
		if (len > AGENT_FRAME_MAX || len == 0) {
			log_warn(
			    "pid %d sent a frame of %u bytes (%s): disconnecting",
			    (int)c->peer.pid, len,
			    len == 0 ? "a frame has at least a type byte" :
				       "the limit is 256 KiB");
			conn_close(
			    c, len == 0 ? "empty frame" : "oversized frame");
			return;
		}
		if (wire_left(&hdr) < len)
			break;
		memset(&rq, 0, sizeof(rq));
		rq.conn = c;
		rq.peer = &c->peer;
		wire_reader_init(&rq.body, wire_cursor(&hdr), len);
		(void)wire_get_u8(&rq.body, &rq.type);
		r = c->ag->dispatch(c->ag, &rq);
		/* The request's bytes (maybe a secret) are wiped as consumed. */
		wire_writer_consume(&c->in, 4 + (size_t)len);
		c->partial = false; /* the next frame has its own time */
		if (r == AGENT_DEFERRED)
			c->busy = true;
	}
	if (!c->closing &&
	    (!c->busy || wire_writer_len(&c->in) < AGENT_FRAME_MAX))
		read_start(c);
	arm_timer(c);
}

void
conn_set_job(struct conn *c, struct hwjob *job)
{
	c->job = job;
}

void
conn_set_cancel(struct conn *c, void (*cancel)(void *arg), void *arg)
{
	c->cancel = cancel;
	c->cancel_arg = arg;
}

void
conn_done(struct conn *c)
{
	c->busy = false;
	if (c->closing)
		return;
	conn_process(c);
}

static void
on_written(uv_write_t *req, int status)
{
	struct out_req *o = (struct out_req *)req;
	struct conn *c = o->conn;

	c->out_pending -= o->len;
	secret_free(o->buf);
	free(o);
	if (status != 0) {
		conn_close(c, uv_strerror(status));
		return;
	}
	if (!c->closing && !c->busy && !c->reading &&
	    c->out_pending <= AGENT_OUT_MAX)
		conn_process(c);
}

void
conn_send(struct conn *c, struct wire_writer *w)
{
	struct wire_writer f;
	struct out_req *o = NULL;
	uv_buf_t b;
	int r;

	/* Frame it: u32 length, then the body the handler wrote. */
	wire_writer_init(&f, AGENT_FRAME_MAX + 4, true);
	if (c->closing) {
		wire_writer_reset(w);
		return;
	}
	if ((r = wire_put_u32(&f, (uint32_t)wire_writer_len(w))) != 0 ||
	    (r = wire_put_bytes(&f, wire_writer_data(w), wire_writer_len(w))) !=
		0)
		goto fail;
	wire_writer_reset(w);
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		r = JIT_E_NOMEM;
		goto fail;
	}
	o->conn = c;
	o->len = wire_writer_len(&f);
	if ((r = wire_writer_take_secret(&f, &o->buf)) != 0)
		goto fail;
	b = uv_buf_init((char *)secret_ptr(o->buf), (unsigned)o->len);
	c->out_pending += o->len;
	if (uv_write(&o->req, (uv_stream_t *)&c->pipe, &b, 1, on_written) !=
	    0) {
		c->out_pending -= o->len;
		secret_free(o->buf);
		free(o);
		conn_close(c, "write failed");
	}
	return;
fail:
	log_error("cannot send a reply: %s", jit_strerror(r));
	free(o);
	wire_writer_reset(w);
	wire_writer_reset(&f);
	conn_close(c, "reply failed");
}

size_t
conn_out_pending(const struct conn *c)
{
	return c->out_pending;
}

void
conn_drop(struct conn *c, const char *why)
{
	conn_close(c, why);
}

void
conn_reply_type(struct conn *c, uint8_t type)
{
	struct wire_writer w;

	wire_writer_init(&w, 1, false);
	if (wire_put_u8(&w, type) != 0) {
		conn_close(c, "reply failed");
		return;
	}
	conn_send(c, &w);
}

static int
peer_check(struct agent *ag, struct conn *c)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0 ||
	    len != sizeof(uc))
		return JIT_E_PEER;
	c->peer.uid = uc.uid;
	c->peer.gid = uc.gid;
	c->peer.pid = uc.pid;
	peer_resolve_exe(&c->peer);
	{
		struct proc_stat st;

		/* With the pid, the process: a reused pid is another. */
		if (proc_stat_read(uc.pid, &st) == 0)
			c->peer.start = st.start;
	}
	/* As OpenSSH's ssh-agent: the agent's own uid, and root. */
	if (uc.uid != ag->uid && uc.uid != 0) {
		struct json_object *ev = event_new("deny");

		event_str(ev, "why", "peer of another uid");
		event_peer(ev, &c->peer);
		event_emit(ag, ev);
		log_warn(
		    "refused a client of uid %u (pid %d): only uid %u and root may use this agent",
		    (unsigned)uc.uid, (int)uc.pid, (unsigned)ag->uid);
		return JIT_E_PEER;
	}
	return JIT_OK;
}

static void
accept_one(struct agent *ag)
{
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_error("out of memory accepting a connection");
		return;
	}
	c->ag = ag;
	wire_writer_init(&c->in, AGENT_FRAME_MAX + 4 + READ_CHUNK, true);
	uv_pipe_init(ag->loop, &c->pipe, 0);
	uv_timer_init(ag->loop, &c->timer);
	c->pipe.data = c;
	c->timer.data = c;
	c->handles = 2;
	ag->nconns++;
	c->next = ag->conns;
	if (ag->conns != NULL)
		ag->conns->prev = c;
	ag->conns = c;
	if (uv_accept((uv_stream_t *)&ag->listener, (uv_stream_t *)&c->pipe) !=
	    0) {
		conn_close(c, "accept failed");
		return;
	}
	/* Nothing is read before the peer is known. */
	if (peer_check(ag, c) != 0) {
		conn_close(c, "peer refused");
		return;
	}
	read_start(c);
	arm_timer(c);
}

/* At the connection limit libuv holds the next one back until accepted. */
static void
accept_pending(struct agent *ag)
{
	if (ag->nconns >= ag->max_conns)
		return;
	ag->listener_paused = false;
	accept_one(ag);
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct agent *ag = server->data;

	if (status != 0) {
		log_warn("listener: %s", uv_strerror(status));
		return;
	}
	if (ag->nconns >= ag->max_conns) {
		if (!ag->listener_paused)
			log_warn("%zu connections open: pausing the listener",
			    ag->nconns);
		ag->listener_paused = true;
		return;
	}
	accept_one(ag);
}

/* A socket that accepts a connection belongs to a live agent. */
static int
sock_in_use(const char *path)
{
	struct sockaddr_un sa;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return 0;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return r;
}

int
server_start(struct agent *ag)
{
	struct rlimit rl;
	struct stat st;
	mode_t old;
	int r;

	/* Under a small limit, half of it: never more than accept can open. */
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		ag->max_conns = 1024;
	else if (rl.rlim_cur > AGENT_FD_RESERVE * 2)
		ag->max_conns = (size_t)rl.rlim_cur - AGENT_FD_RESERVE;
	else
		ag->max_conns = (size_t)rl.rlim_cur / 2;
	if (secret_new(READ_CHUNK, &read_buf) != 0) {
		log_error("cannot lock memory for the read buffer: %s",
		    jit_strerror(JIT_E_MLOCK));
		return JIT_E_MLOCK;
	}
	/* Socket activation: systemd made, bound and owns the socket. */
	if (ag->activated) {
		uv_pipe_init(ag->loop, &ag->listener, 0);
		ag->listener.data = ag;
		ag->listener_up = true;
		if ((r = uv_pipe_open(&ag->listener, ag->activated_fd)) != 0 ||
		    (r = uv_listen((uv_stream_t *)&ag->listener, 128,
			 on_connection)) != 0) {
			log_error(
			    "cannot listen on the socket systemd passed: %s",
			    uv_strerror(r));
			return JIT_E_IO;
		}
		return JIT_OK;
	}
	if (lstat(ag->sock_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error(
			    "%s exists and is not a socket", ag->sock_path);
			return JIT_E_EXISTS;
		}
		if (sock_in_use(ag->sock_path)) {
			log_error(
			    "another agent is listening on %s", ag->sock_path);
			return JIT_E_EXISTS;
		}
		log_info("replacing the stale socket %s", ag->sock_path);
		unlink(ag->sock_path);
	}
	uv_pipe_init(ag->loop, &ag->listener, 0);
	ag->listener.data = ag;
	ag->listener_up = true;
	old = umask(0177);
	r = uv_pipe_bind(&ag->listener, ag->sock_path);
	umask(old);
	if (r != 0) {
		log_error("cannot bind %s: %s", ag->sock_path, uv_strerror(r));
		return JIT_E_IO;
	}
	ag->sock_bound = true;
	if (chmod(ag->sock_path, 0600) != 0 ||
	    (r = uv_listen((uv_stream_t *)&ag->listener, 128, on_connection)) !=
		0) {
		log_error("cannot listen on %s", ag->sock_path);
		return JIT_E_IO;
	}
	return JIT_OK;
}

void
server_stop(struct agent *ag)
{
	struct conn *c;

	while ((c = ag->conns) != NULL)
		conn_close(c, "agent exiting");
	if (ag->listener_up && !uv_is_closing((uv_handle_t *)&ag->listener))
		uv_close((uv_handle_t *)&ag->listener, NULL);
	/* Only a socket this agent bound is ours to remove. */
	if (ag->sock_bound)
		unlink(ag->sock_path);
	ag->sock_bound = false;
	secret_free(read_buf);
	read_buf = NULL;
}
