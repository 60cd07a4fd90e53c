/* A client of the person's own SSH agent: identities and signatures (draft-miller-ssh-agent). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "err.h"
#include "sshagent.h"
#include "wire.h"

#define AGENT_FAILURE 5
#define AGENTC_REQUEST_IDENTITIES 11
#define AGENT_IDENTITIES_ANSWER 12
#define AGENTC_SIGN_REQUEST 13
#define AGENT_SIGN_RESPONSE 14
#define KEY_BLOB_MAX (16 * 1024)
#define SIG_BLOB_MAX (2 * 1024)
#define COMMENT_MAX 1024

int
sshagent_connect(int *ret_fd, char *why, size_t whylen)
{
	struct sockaddr_un sa;
	const char *path = getenv("SSH_AUTH_SOCK");
	int fd;

	if (path == NULL || path[0] == '\0') {
		snprintf(why, whylen,
		    "SSH_AUTH_SOCK is not set: start your SSH agent (ssh-agent, or jit-agent) and add your key");
		return JIT_E_AGENT;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, whylen, "SSH_AUTH_SOCK is too long a path");
		return JIT_E_AGENT;
	}
	memcpy(sa.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(why, whylen, "cannot reach the SSH agent at %s: %s",
		    path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return JIT_E_AGENT;
	}
	*ret_fd = fd;
	return JIT_OK;
}

static int
write_all(int fd, const uint8_t *b, size_t n)
{
	ssize_t k;

	while (n > 0) {
		if ((k = write(fd, b, n)) < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return JIT_E_AGENT;
		b += k;
		n -= (size_t)k;
	}
	return JIT_OK;
}

static int
read_all(int fd, uint8_t *b, size_t n)
{
	ssize_t k;

	while (n > 0) {
		if ((k = read(fd, b, n)) < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return JIT_E_AGENT;
		b += k;
		n -= (size_t)k;
	}
	return JIT_OK;
}

/* Send one framed message and read the framed reply into *ret. */
static int
roundtrip(int fd, struct wire_writer *msg, uint8_t **ret, size_t *ret_len)
{
	uint8_t hdr[4], *buf;
	struct wire_reader r;
	uint32_t len;
	int rc;

	len = (uint32_t)wire_writer_len(msg);
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	if ((rc = write_all(fd, hdr, 4)) != 0 ||
	    (rc = write_all(fd, wire_writer_data(msg), len)) != 0 ||
	    (rc = read_all(fd, hdr, 4)) != 0)
		return rc;
	wire_reader_init(&r, hdr, 4);
	(void)wire_get_u32(&r, &len);
	if (len == 0 || len > SSHAGENT_REPLY_MAX)
		return JIT_E_FORMAT;
	if ((buf = malloc(len)) == NULL)
		return JIT_E_NOMEM;
	if ((rc = read_all(fd, buf, len)) != 0) {
		free(buf);
		return rc;
	}
	*ret = buf;
	*ret_len = len;
	return JIT_OK;
}

void
sshagent_ids_free(struct sshagent_id *ids, size_t n)
{
	size_t i;

	for (i = 0; i < n && ids != NULL; i++) {
		free(ids[i].blob);
		free(ids[i].comment);
	}
	free(ids);
}

int
sshagent_identities(int fd, struct sshagent_id **ret, size_t *ret_n)
{
	struct wire_writer w;
	struct wire_reader r;
	struct sshagent_id *ids = NULL;
	const uint8_t *p;
	uint8_t *rep = NULL, type;
	size_t replen, i = 0, len;
	uint32_t n;
	int rc;

	wire_writer_init(&w, 16, false);
	if ((rc = wire_put_u8(&w, AGENTC_REQUEST_IDENTITIES)) != 0 ||
	    (rc = roundtrip(fd, &w, &rep, &replen)) != 0)
		goto out;
	wire_reader_init(&r, rep, replen);
	rc = JIT_E_FORMAT;
	if (wire_get_u8(&r, &type) != 0 || type != AGENT_IDENTITIES_ANSWER ||
	    wire_get_u32(&r, &n) != 0)
		goto out;
	if (n > SSHAGENT_IDS_MAX) {
		rc = JIT_E_LIMIT;
		goto out;
	}
	if ((ids = calloc(n > 0 ? n : 1, sizeof(*ids))) == NULL) {
		rc = JIT_E_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((rc = wire_get_string(&r, KEY_BLOB_MAX, &p, &len)) != 0)
			goto out;
		if ((ids[i].blob = malloc(len > 0 ? len : 1)) == NULL) {
			rc = JIT_E_NOMEM;
			goto out;
		}
		memcpy(ids[i].blob, p, len);
		ids[i].len = len;
		/* A comment with a NUL is shown as empty. */
		if (wire_get_cstring(&r, COMMENT_MAX, &ids[i].comment) != 0 &&
		    ((rc = wire_get_string(&r, COMMENT_MAX, &p, &len)) != 0 ||
			(ids[i].comment = strdup("")) == NULL)) {
			rc = rc != 0 ? rc : JIT_E_NOMEM;
			i++;
			goto out;
		}
	}
	if ((rc = wire_end(&r)) != 0)
		goto out;
	*ret = ids;
	*ret_n = n;
	ids = NULL;
out:
	sshagent_ids_free(ids, i);
	wire_writer_reset(&w);
	free(rep);
	return rc;
}

int
sshagent_sign(int fd, const uint8_t *blob, size_t bloblen, const uint8_t *data,
    size_t len, uint32_t flags, uint8_t **ret_sig, size_t *ret_siglen)
{
	struct wire_writer w;
	struct wire_reader r;
	const uint8_t *p;
	uint8_t *rep = NULL, type, *sig;
	size_t replen, n;
	int rc;

	wire_writer_init(&w, KEY_BLOB_MAX + len + 64, false);
	if ((rc = wire_put_u8(&w, AGENTC_SIGN_REQUEST)) != 0 ||
	    (rc = wire_put_string(&w, blob, bloblen)) != 0 ||
	    (rc = wire_put_string(&w, data, len)) != 0 ||
	    (rc = wire_put_u32(&w, flags)) != 0 ||
	    (rc = roundtrip(fd, &w, &rep, &replen)) != 0)
		goto out;
	wire_reader_init(&r, rep, replen);
	rc = JIT_E_FORMAT;
	if (wire_get_u8(&r, &type) != 0)
		goto out;
	if (type == AGENT_FAILURE) {
		rc = JIT_E_DENIED;
		goto out;
	}
	if (type != AGENT_SIGN_RESPONSE ||
	    wire_get_string(&r, SIG_BLOB_MAX, &p, &n) != 0 || wire_end(&r) != 0)
		goto out;
	if ((sig = malloc(n > 0 ? n : 1)) == NULL) {
		rc = JIT_E_NOMEM;
		goto out;
	}
	memcpy(sig, p, n);
	*ret_sig = sig;
	*ret_siglen = n;
	rc = JIT_OK;
out:
	wire_writer_reset(&w);
	free(rep);
	return rc;
}
