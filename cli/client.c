/* jitctl's side of the socket: whom it talks to, one request, one reply. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "client.h"
#include "err.h"
#include "jsonx.h"
#include "proto-names.h"
#include "secret.h"
#include "wire.h"

struct client {
	int fd;
};

int
client_from_fd(int fd, struct client **ret)
{
	struct client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return JIT_E_NOMEM;
	c->fd = fd;
	*ret = c;
	return JIT_OK;
}

/* A sentence on why the server is not trusted; JIT_E_PEER. */
static int refuse(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
refuse(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return JIT_E_PEER;
}

/* A sentence on why no agent answers there; JIT_E_AGENT, errno kept. */
static int unreachable(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
unreachable(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	errno = e;
	return JIT_E_AGENT;
}

/* Owned by us or root, and writable by no one else. */
static int
check_dir(int dfd, const char *dir, uid_t me, char *why, size_t whylen)
{
	struct stat st;

	if (fstat(dfd, &st) != 0)
		return JIT_E_AGENT;
	if (st.st_uid != me && st.st_uid != 0)
		return refuse(why, whylen,
		    "the agent socket's directory %s belongs to uid %u, not to you (uid %u) or root: refusing to talk to it",
		    dir, (unsigned)st.st_uid, (unsigned)me);
	if (st.st_mode & S_IWOTH)
		return refuse(why, whylen,
		    "the agent socket's directory %s is writable by others: refusing to talk to it",
		    dir);
	if (st.st_mode & S_IWGRP)
		return refuse(why, whylen,
		    "the agent socket's directory %s is writable by its group: refusing to talk to it",
		    dir);
	return JIT_OK;
}

/* A socket, not a link to one, owned by us or root. */
static int
check_sock(int dfd, const char *leaf, const char *path, uid_t me, char *why,
    size_t whylen)
{
	struct stat st;

	if (fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ?
		    unreachable(why, whylen,
			"there is no socket %s: jit-agent is not running, or listens elsewhere",
			path) :
		    JIT_E_AGENT;
	if (S_ISLNK(st.st_mode))
		return refuse(why, whylen,
		    "the agent socket %s is a symbolic link: refusing to talk to it",
		    path);
	if (!S_ISSOCK(st.st_mode))
		return refuse(why, whylen,
		    "the agent socket %s is not a socket: refusing to talk to it",
		    path);
	if (st.st_uid != me && st.st_uid != 0)
		return refuse(why, whylen,
		    "the agent socket %s belongs to uid %u, not to you (uid %u) or root: refusing to talk to it",
		    path, (unsigned)st.st_uid, (unsigned)me);
	return JIT_OK;
}

/* The process that listens: SO_PEERCRED holds its uid from listen(2). */
static int
check_peer(int fd, const char *path, uid_t me, char *why, size_t whylen)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0 ||
	    len != sizeof(uc))
		return refuse(why, whylen,
		    "cannot learn who serves %s: refusing to talk to it", path);
	if (uc.uid != me && uc.uid != 0)
		return refuse(why, whylen,
		    "the agent at %s runs as uid %u, not as you (uid %u) or root: refusing to talk to it",
		    path, (unsigned)uc.uid, (unsigned)me);
	return JIT_OK;
}

int
client_connect(const char *path, struct client **ret, char *why, size_t whylen)
{
	struct sockaddr_un sun;
	char dir[sizeof(sun.sun_path)], *slash;
	const char *leaf;
	uid_t me = geteuid();
	size_t len;
	int dfd = -1, fd = -1, r, saved = 0;

	if (whylen > 0)
		why[0] = '\0';
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (path == NULL || path[0] == '\0' ||
	    (len = strlen(path)) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return JIT_E_AGENT;
	}
	memcpy(sun.sun_path, path, len);
	memcpy(dir, path, len + 1);
	if ((slash = strrchr(dir, '/')) == NULL) {
		leaf = path;
		snprintf(dir, sizeof(dir), ".");
	} else {
		leaf = path + (slash - dir) + 1;
		slash[slash == dir ? 1 : 0] = '\0';
	}
	if (leaf[0] == '\0') {
		errno = EISDIR;
		return JIT_E_AGENT;
	}
	/* Before a byte is sent: whose directory, whose socket, whose
	 * process.  The directory is nobody else's to change, so what is
	 * checked is what connect(2) finds; the peer check settles it. */
	if ((dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return errno == ENOENT || errno == ENOTDIR ?
		    unreachable(why, whylen,
			"the agent socket's directory %s does not exist: jit-agent is not running, or listens elsewhere",
			dir) :
		    unreachable(why, whylen,
			"the agent socket's directory %s cannot be opened (%s)",
			dir, strerror(errno));
	if ((r = check_dir(dfd, dir, me, why, whylen)) != 0 ||
	    (r = check_sock(dfd, leaf, path, me, why, whylen)) != 0)
		goto out;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		r = JIT_E_AGENT;
		goto out;
	}
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		if (errno == EINTR)
			continue;
		r = errno == ECONNREFUSED ?
		    unreachable(why, whylen,
			"nothing listens on %s: the jit-agent that made it has stopped",
			path) :
		    JIT_E_AGENT;
		goto out;
	}
	if ((r = check_peer(fd, path, me, why, whylen)) != 0)
		goto out;
	if ((r = client_from_fd(fd, ret)) != 0) {
		errno = ENOMEM;
		goto out;
	}
	fd = -1;
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	close(dfd);
	errno = saved;
	return r;
}

void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

int
client_fd(const struct client *c)
{
	return c->fd;
}

void
client_reply_reset(struct client_reply *rep)
{
	json_object_put(rep->result);
	secret_free(rep->secret);
	free(rep->message);
	memset(rep, 0, sizeof(*rep));
	rep->retries = -1;
}

int
client_reply_fail(struct client_reply *rep, int r, const char *fmt, ...)
{
	va_list ap;
	char *m;

	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	free(rep->message);
	rep->message = m;
	rep->from_agent = 0;
	return r;
}

static int
send_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		/* No SIGPIPE if the agent went away: an error is enough. */
		if ((k = send(fd, p, n, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			return JIT_E_AGENT;
		}
		p += k;
		n -= (size_t)k;
	}
	return JIT_OK;
}

/* Read up to n bytes; *ret_got < n means the peer closed first. */
static int
recv_all(int fd, uint8_t *p, size_t n, size_t *ret_got)
{
	size_t got = 0;
	ssize_t k;

	while (got < n) {
		if ((k = recv(fd, p + got, n - got, 0)) < 0) {
			if (errno == EINTR)
				continue;
			*ret_got = got;
			return JIT_E_AGENT;
		}
		if (k == 0)
			break;
		got += (size_t)k;
	}
	*ret_got = got;
	return JIT_OK;
}

/* The request frame, in guarded memory since it may carry a PIN. */
static int
build_request(const char *verb, struct json_object *args,
    const struct secret *sec, struct secret **ret)
{
	struct wire_writer w;
	char name[CLIENT_VERB_MAX + sizeof("@" JIT_EXT_DOMAIN)];
	const char *js;
	int r, n;

	n = snprintf(name, sizeof(name), "%s@%s", verb, JIT_EXT_DOMAIN);
	if (n < 0 || (size_t)n >= sizeof(name))
		return JIT_E_ARG;
	js = "{}";
	if (args != NULL)
		js = json_object_to_json_string_ext(args,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	wire_writer_init(&w, 4 + CLIENT_FRAME_MAX, true);
	if ((r = wire_put_u32(&w, 0)) != 0 ||
	    (r = wire_put_u8(&w, SSH_AGENTC_EXTENSION)) != 0 ||
	    (r = wire_put_cstring(&w, name)) != 0 ||
	    (r = wire_put_cstring(&w, js)) != 0)
		goto out;
	if (sec != NULL &&
	    (r = wire_put_string(&w, secret_ptr(sec), secret_len(sec))) != 0)
		goto out;
	if ((r = wire_patch_u32(&w, 0, (uint32_t)(wire_writer_len(&w) - 4))) !=
	    0)
		goto out;
	r = wire_writer_take_secret(&w, ret);
out:
	wire_writer_reset(&w);
	return r;
}

int
client_err_code(const char *name)
{
	int e;

	for (e = -1; name != NULL && e > JIT_E_LAST; e--)
		if (strcmp(name, jit_errname(e)) == 0)
			return e;
	return JIT_E_INTERNAL;
}

static int
code_of(struct json_object *o)
{
	const char *name;
	int64_t n;

	/* The name is the stable part of the contract; the number a hint. */
	if (jsonx_opt_str(o, JP_ERR_CODE, 64, &name) == 0 &&
	    client_err_code(name) != JIT_E_INTERNAL)
		return client_err_code(name);
	if (jsonx_opt_int(o, JP_ERR_ERROR, JIT_E_LAST + 1, -1, &n) == 0)
		return (int)n;
	return JIT_E_INTERNAL;
}

static int
parse_failure(struct wire_reader *r, struct client_reply *rep)
{
	struct json_object *o = NULL;
	const uint8_t *p;
	const char *msg;
	int64_t retries;
	size_t n;
	int code;

	if (wire_get_string(r, CLIENT_FRAME_MAX, &p, &n) != 0 ||
	    wire_end(r) != 0 || jsonx_parse((const char *)p, n, &o) != 0)
		return client_reply_fail(rep, JIT_E_FORMAT,
		    "malformed failure reply from jit-agent");
	code = code_of(o);
	if (jsonx_opt_str(o, JP_ERR_MESSAGE, CLIENT_MSG_MAX, &msg) != 0 ||
	    msg[0] == '\0')
		msg = jit_strerror(code);
	if (jsonx_opt_int(o, JP_ERR_RETRIES, 0, 1000, &retries) == 0)
		rep->retries = (int)retries;
	(void)client_reply_fail(rep, code, "%s", msg);
	rep->from_agent = 1;
	json_object_put(o);
	return code;
}

static int
parse_reply(
    const char *verb, const struct secret *frame, struct client_reply *rep)
{
	struct wire_reader r;
	const uint8_t *p;
	size_t n;
	uint8_t type;

	wire_reader_init(&r, secret_ptr(frame), secret_len(frame));
	if (wire_get_u8(&r, &type) != 0)
		return client_reply_fail(
		    rep, JIT_E_FORMAT, "empty reply from jit-agent");
	switch (type) {
	case SSH_AGENT_SUCCESS: break;
	case SSH_AGENT_EXTENSION_FAILURE: return parse_failure(&r, rep);
	case SSH_AGENT_FAILURE:
		if (wire_end(&r) != 0)
			return client_reply_fail(rep, JIT_E_FORMAT,
			    "malformed reply from jit-agent");
		return client_reply_fail(rep, JIT_E_UNSUPPORTED,
		    "the agent does not know '%s': is the socket a jit-agent of this version?",
		    verb);
	default:
		return client_reply_fail(rep, JIT_E_FORMAT,
		    "unexpected reply type %u from jit-agent", type);
	}
	if (wire_get_string(&r, CLIENT_FRAME_MAX, &p, &n) != 0 ||
	    jsonx_parse((const char *)p, n, &rep->result) != 0)
		return client_reply_fail(rep, JIT_E_FORMAT,
		    "malformed result in the reply from jit-agent");
	if (wire_left(&r) > 0 &&
	    wire_get_secret(&r, CLIENT_FRAME_MAX, &rep->secret) != 0)
		return client_reply_fail(rep, JIT_E_FORMAT,
		    "malformed secret in the reply from jit-agent");
	if (wire_end(&r) != 0)
		return client_reply_fail(rep, JIT_E_FORMAT,
		    "trailing bytes in the reply from jit-agent");
	return JIT_OK;
}

/* Read one reply frame to verb; rep is filled either way. */
static int
recv_reply(struct client *c, const char *verb, struct client_reply *rep)
{
	struct secret *frame = NULL;
	struct wire_reader hr;
	uint8_t hdr[4];
	uint32_t len;
	size_t got;
	int r;

	if ((r = recv_all(c->fd, hdr, sizeof(hdr), &got)) != 0) {
		r = client_reply_fail(
		    rep, r, "cannot read from jit-agent: %s", strerror(errno));
		goto out;
	}
	if (got == 0) {
		r = client_reply_fail(rep, JIT_E_AGENT,
		    "jit-agent closed the connection without replying");
		goto out;
	}
	wire_reader_init(&hr, hdr, got);
	if (wire_get_u32(&hr, &len) != 0) {
		r = client_reply_fail(
		    rep, JIT_E_FORMAT, "truncated reply from jit-agent");
		goto out;
	}
	if (len == 0) {
		r = client_reply_fail(
		    rep, JIT_E_FORMAT, "empty reply from jit-agent");
		goto out;
	}
	/* Refuse before reading (or allocating) the body. */
	if (len > CLIENT_FRAME_MAX) {
		r = client_reply_fail(rep, JIT_E_LIMIT,
		    "reply of %u bytes from jit-agent is over the %u-byte limit",
		    len, CLIENT_FRAME_MAX);
		goto out;
	}
	if ((r = secret_new(len, &frame)) != 0) {
		r = client_reply_fail(rep, r, "%s", jit_strerror(r));
		goto out;
	}
	if ((r = recv_all(c->fd, secret_ptr(frame), len, &got)) != 0) {
		r = client_reply_fail(
		    rep, r, "cannot read from jit-agent: %s", strerror(errno));
		goto out;
	}
	if (got < len) {
		r = client_reply_fail(rep, JIT_E_FORMAT,
		    "truncated reply from jit-agent (%zu of %u bytes)", got,
		    len);
		goto out;
	}
	r = parse_reply(verb, frame, rep);
out:
	if (r != 0) {
		json_object_put(rep->result);
		rep->result = NULL;
		secret_free(rep->secret);
		rep->secret = NULL;
	}
	secret_free(frame);
	return r;
}

int
client_next(struct client *c, const char *verb, struct client_reply *rep)
{
	client_reply_reset(rep);
	return recv_reply(c, verb, rep);
}

int
client_call(struct client *c, const char *verb, struct json_object *args,
    const struct secret *sec, struct client_reply *rep)
{
	struct secret *req = NULL;
	int r;

	client_reply_reset(rep);
	if ((r = build_request(verb, args, sec, &req)) != 0) {
		r = client_reply_fail(
		    rep, r, "cannot build the request: %s", jit_strerror(r));
		goto out;
	}
	if ((r = send_all(c->fd, secret_ptr(req), secret_len(req))) != 0) {
		r = client_reply_fail(
		    rep, r, "cannot send to jit-agent: %s", strerror(errno));
		goto out;
	}
	secret_free(req);
	req = NULL;
	r = recv_reply(c, verb, rep);
out:
	secret_free(req);
	return r;
}
