/* jitctl exec's private ssh agent: a filtering relay to jit-agent's socket. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "client.h"
#include "err.h"
#include "jitctl.h"
#include "sshproxy.h"
#include "wire.h"

#define SSH_AGENTC_REQUEST_IDENTITIES 11
#define SSH_AGENT_IDENTITIES_ANSWER 12
#define SSH_AGENTC_SIGN_REQUEST 13
#define PROXY_KEYS_MAX 16
#define PROXY_BLOB_MAX (16 * 1024)
#define PROXY_COMMENT_MAX 1024

struct proxy_blob {
	uint8_t *p;
	size_t len;
};

struct sshproxy {
	struct proxy_blob keys[PROXY_KEYS_MAX];
	size_t nkeys;
	char *dir;
	char *path;
	int lfd;
	pid_t pid;
};

int
sshproxy_new(struct sshproxy **ret)
{
	struct sshproxy *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return JIT_E_NOMEM;
	p->lfd = -1;
	*ret = p;
	return JIT_OK;
}

int
sshproxy_allow_line(struct sshproxy *p, const uint8_t *line, size_t len)
{
	struct wire_reader r;
	const uint8_t *b64;
	size_t n, blen;
	uint8_t *blob;

	if (p->nkeys >= PROXY_KEYS_MAX)
		return JIT_E_LIMIT;
	wire_reader_init(&r, line, len);
	(void)wire_skip_span(&r, " \t");
	(void)wire_get_until(&r, " \t", &b64); /* the key type */
	(void)wire_skip_span(&r, " \t");
	if ((n = wire_get_until(&r, " \t\r\n", &b64)) == 0)
		return JIT_E_FORMAT;
	if ((blob = malloc(n)) == NULL)
		return JIT_E_NOMEM;
	if (sodium_base642bin(blob, n, (const char *)b64, n, NULL, &blen, NULL,
		sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    blen == 0 || blen > PROXY_BLOB_MAX) {
		free(blob);
		return JIT_E_FORMAT;
	}
	p->keys[p->nkeys].p = blob;
	p->keys[p->nkeys].len = blen;
	p->nkeys++;
	return JIT_OK;
}

static bool
allowed(const struct sshproxy *p, const uint8_t *blob, size_t len)
{
	size_t i;

	for (i = 0; i < p->nkeys; i++)
		if (p->keys[i].len == len &&
		    memcmp(p->keys[i].p, blob, len) == 0)
			return true;
	return false;
}

static int
io_all(int fd, void *buf, size_t n, bool out)
{
	uint8_t *b = buf;
	ssize_t k;

	while (n > 0) {
		k = out ? send(fd, b, n, MSG_NOSIGNAL) : recv(fd, b, n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return JIT_E_IO;
		b += k;
		n -= (size_t)k;
	}
	return JIT_OK;
}

/* One frame (length, then body), at most CLIENT_FRAME_MAX bytes. */
static int
frame_read(int fd, uint8_t **ret, size_t *ret_len)
{
	uint8_t hdr[4], *body;
	uint32_t n;
	struct wire_reader r;

	if (io_all(fd, hdr, 4, false) != 0)
		return JIT_E_IO;
	wire_reader_init(&r, hdr, 4);
	(void)wire_get_u32(&r, &n);
	if (n == 0 || n > CLIENT_FRAME_MAX)
		return JIT_E_LIMIT;
	if ((body = malloc(n)) == NULL)
		return JIT_E_NOMEM;
	if (io_all(fd, body, n, false) != 0) {
		free(body);
		return JIT_E_IO;
	}
	*ret = body;
	*ret_len = n;
	return JIT_OK;
}

static int
frame_write(int fd, const uint8_t *body, size_t n)
{
	uint8_t hdr[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16),
		(uint8_t)(n >> 8), (uint8_t)n };

	if (io_all(fd, hdr, 4, true) != 0)
		return JIT_E_IO;
	return io_all(fd, (void *)(uintptr_t)body, n, true);
}

static int
frame_failure(int fd)
{
	static const uint8_t fail = SSH_AGENT_FAILURE;

	return frame_write(fd, &fail, 1);
}

/* jit-agent's listing, keeping only the allowed keys. */
static int
filter_identities(const struct sshproxy *p, const uint8_t *in, size_t len,
    struct wire_writer *w)
{
	struct wire_reader r;
	const uint8_t *blob, *comment;
	size_t blen, clen, count_at;
	uint32_t n, i, kept = 0;
	uint8_t type;
	int rc;

	wire_reader_init(&r, in, len);
	if ((rc = wire_get_u8(&r, &type)) != 0 ||
	    type != SSH_AGENT_IDENTITIES_ANSWER ||
	    (rc = wire_get_u32(&r, &n)) != 0)
		return JIT_E_FORMAT;
	if ((rc = wire_put_u8(w, SSH_AGENT_IDENTITIES_ANSWER)) != 0)
		return rc;
	count_at = wire_writer_len(w);
	if ((rc = wire_put_u32(w, 0)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		if ((rc = wire_get_string(&r, PROXY_BLOB_MAX, &blob, &blen)) !=
			0 ||
		    (rc = wire_get_string(
			 &r, PROXY_COMMENT_MAX, &comment, &clen)) != 0)
			return rc;
		if (!allowed(p, blob, blen))
			continue;
		if ((rc = wire_put_string(w, blob, blen)) != 0 ||
		    (rc = wire_put_string(w, comment, clen)) != 0)
			return rc;
		kept++;
	}
	if ((rc = wire_end(&r)) != 0)
		return rc;
	return wire_patch_u32(w, count_at, kept);
}

/* Is this a signature request with an allowed key? */
static bool
sign_allowed(const struct sshproxy *p, const uint8_t *in, size_t len)
{
	struct wire_reader r;
	const uint8_t *blob;
	size_t blen;
	uint8_t type;

	wire_reader_init(&r, in, len);
	return wire_get_u8(&r, &type) == 0 && type == SSH_AGENTC_SIGN_REQUEST &&
	    wire_get_string(&r, PROXY_BLOB_MAX, &blob, &blen) == 0 &&
	    allowed(p, blob, blen);
}

/* One client of the private socket, until it hangs up. */
static void
serve_conn(const struct sshproxy *p, int fd, const char *agent_sock)
{
	struct client *up = NULL;
	struct wire_writer w;
	uint8_t *req = NULL, *rep = NULL;
	size_t reqlen, replen;
	char why[256];
	int ufd, rc;

	wire_writer_init(&w, CLIENT_FRAME_MAX, false);
	while (frame_read(fd, &req, &reqlen) == 0) {
		bool list = req[0] == SSH_AGENTC_REQUEST_IDENTITIES &&
		    reqlen == 1;

		if (!list && !sign_allowed(p, req, reqlen)) {
			rc = frame_failure(fd);
			goto next;
		}
		if (up == NULL &&
		    client_connect(agent_sock, &up, why, sizeof(why)) != 0) {
			rc = frame_failure(fd);
			goto next;
		}
		ufd = client_fd(up);
		if (frame_write(ufd, req, reqlen) != 0 ||
		    frame_read(ufd, &rep, &replen) != 0) {
			rc = frame_failure(fd);
			goto next;
		}
		if (list) {
			wire_writer_reset(&w);
			wire_writer_init(&w, CLIENT_FRAME_MAX, false);
			if (filter_identities(p, rep, replen, &w) == 0)
				rc = frame_write(fd, wire_writer_data(&w),
				    wire_writer_len(&w));
			else
				rc = frame_failure(fd);
		} else
			rc = frame_write(fd, rep, replen);
next:
		free(req);
		free(rep);
		req = rep = NULL;
		if (rc != 0)
			break;
	}
	wire_writer_reset(&w);
	client_free(up);
}

static void __attribute__((noreturn))
serve(const struct sshproxy *p, const char *agent_sock)
{
	int fd;

	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		if ((fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			_exit(1);
		}
		serve_conn(p, fd, agent_sock);
		close(fd);
	}
}

int
sshproxy_start(struct sshproxy *p, const char *agent_sock, void (*drop)(void *),
    void *drop_arg, const char **ret_path)
{
	struct sockaddr_un sa;
	pid_t pid;

	if (asprintf(&p->dir, "%s/jitctl-ssh.XXXXXX", cli_tmp_dir()) < 0) {
		p->dir = NULL;
		return JIT_E_NOMEM;
	}
	if (mkdtemp(p->dir) == NULL) {
		free(p->dir);
		p->dir = NULL;
		return JIT_E_IO;
	}
	if (asprintf(&p->path, "%s/agent.sock", p->dir) < 0) {
		p->path = NULL;
		return JIT_E_NOMEM;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(p->path) >= sizeof(sa.sun_path))
		return JIT_E_LIMIT;
	memcpy(sa.sun_path, p->path, strlen(p->path));
	if ((p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(p->path, 0600) != 0 || listen(p->lfd, 16) != 0)
		return JIT_E_IO;
	if ((pid = fork()) < 0)
		return JIT_E_IO;
	if (pid == 0) {
		if (drop != NULL)
			drop(drop_arg);
		serve(p, agent_sock);
	}
	p->pid = pid;
	close(p->lfd);
	p->lfd = -1;
	*ret_path = p->path;
	return JIT_OK;
}

void
sshproxy_free(struct sshproxy *p)
{
	size_t i;

	if (p == NULL)
		return;
	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (p->lfd >= 0)
		close(p->lfd);
	if (p->path != NULL)
		(void)unlink(p->path);
	if (p->dir != NULL)
		(void)rmdir(p->dir);
	for (i = 0; i < p->nkeys; i++)
		free(p->keys[i].p);
	free(p->path);
	free(p->dir);
	free(p);
}
