/* jitctl's side of the socket: one extension request, one reply. */
#ifndef JITCTL_CLIENT_H
#define JITCTL_CLIENT_H

#include <stddef.h>

#include <json-c/json.h>

struct secret;

/* draft-miller-ssh-agent: the agent drops longer frames; so do we. */
#define CLIENT_FRAME_MAX (256 * 1024)
#define CLIENT_VERB_MAX 64
#define CLIENT_MSG_MAX 1024 /* longest failure sentence kept */

#define SSH_AGENT_FAILURE 5
#define SSH_AGENT_SUCCESS 6
#define SSH_AGENTC_EXTENSION 27
#define SSH_AGENT_EXTENSION_FAILURE 28

struct client;

/*
 * What came back.  On success, result is the agent's JSON object and secret
 * the trailing secret string (guarded memory) if there was one.  On failure,
 * message is a sentence for the user: the agent's own when from_agent, else
 * one about the transport; retries is the PIN tries left (-1: unknown).
 */
struct client_reply {
	struct json_object *result;
	struct secret *secret;
	char *message;
	int from_agent;
	int retries;
};

/*
 * Connect to the agent's socket at path, only if it is the user's own: its
 * directory owned by this uid or root and writable by no one else, the
 * socket itself (not a symbolic link) owned by this uid or root, and the
 * process listening on it of this uid or root (SO_PEERCRED).  Nothing is
 * sent.  Returns JIT_E_PEER with a sentence in why when a check fails, and
 * JIT_E_AGENT when there is nothing to connect to (errno says why).
 */
int client_connect(
    const char *path, struct client **ret, char *why, size_t whylen);
/* Wrap a connected stream socket (tests); the client owns fd after. */
int client_from_fd(int fd, struct client **ret);
void client_free(struct client *c); /* NULL ok */
/* The connected socket (jitctl exec's private ssh agent relays frames). */
int client_fd(const struct client *c);

/*
 * Send "VERB@jit-agent.dev" with args (a JSON object; NULL means {}) and,
 * if sec is not NULL, the secret string, then read the one reply.  Returns
 * JIT_OK on SSH_AGENT_SUCCESS; the agent's error code on
 * SSH_AGENT_EXTENSION_FAILURE; JIT_E_UNSUPPORTED on SSH_AGENT_FAILURE;
 * JIT_E_AGENT when the connection fails; JIT_E_LIMIT for a frame over
 * CLIENT_FRAME_MAX; JIT_E_FORMAT for anything malformed (truncated reply,
 * trailing bytes).  rep is reset first and filled either way.
 */
int client_call(struct client *c, const char *verb, struct json_object *args,
    const struct secret *sec, struct client_reply *rep);
/* The next reply to a request that answers more than once (events),
 * without sending anything; as client_call otherwise. */
int client_next(struct client *c, const char *verb, struct client_reply *rep);
void client_reply_reset(struct client_reply *rep);
/* A sentence of our own (not the agent's) in rep; r passes through. */
int client_reply_fail(struct client_reply *rep, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The error code named by jit_errname() ("JIT_E_PIN"); JIT_E_INTERNAL if
 * none is. */
int client_err_code(const char *name);

#endif
