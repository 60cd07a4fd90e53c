/* Connections and requests: the server's side, for the handlers above it. */
#ifndef JIT_CONN_H
#define JIT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"
#include "wire.h"

struct agent;
struct conn;

#define PEER_EXE_MAX 256
#define PEER_WHY_MAX 96
#define PEER_COMM_MAX 16 /* TASK_COMM_LEN */

struct peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	uint64_t start; /* /proc/PID/stat's start time at accept (0: gone) */
	/* Resolved at accept, while the process surely exists; "?" if not,
	 * and then why not, and the name it gave itself (/proc/PID/comm:
	 * any process may set it, so it is never a fact to rely on). */
	char exe[PEER_EXE_MAX];
	char exe_why[PEER_WHY_MAX];
	char comm[PEER_COMM_MAX];
};

/* Did /proc/PID/exe say what the peer runs? */
static inline bool
peer_exe_known(const struct peer *p)
{
	return p->exe[0] == '/';
}
/* server.c, for a sentence: the executable, or "an unverified program that calls
 * itself 'NAME' (its executable is unknown: WHY)", escaped. */
void peer_describe(const struct peer *p, char *out, size_t outlen);

/*
 * One request at a time per connection: a handler either replies before it
 * returns, or returns AGENT_DEFERRED after starting work off the loop, and
 * the connection reads nothing more until conn_reply*() is called.
 */
#define AGENT_DEFERRED 1

struct request {
	struct conn *conn;
	const struct peer *peer;
	uint8_t type;
	struct wire_reader body; /* after the type byte */
};

/* server.c */
/* Reply with a ready frame body (type byte first); takes w's bytes. */
void conn_send(struct conn *c, struct wire_writer *w);
void conn_reply_type(struct conn *c, uint8_t type);
/* A deferred request is finished: read the next one. */
void conn_done(struct conn *c);
/* The hardware job working for c, detached if c goes away (NULL: none). */
struct hwjob;
void conn_set_job(struct conn *c, struct hwjob *job);
/* Other work c waits for (an askpass): cancel(arg) runs if c goes away
 * first; set it back to NULL when the work is done. */
void conn_set_cancel(struct conn *c, void (*cancel)(void *arg), void *arg);
const struct peer *conn_peer(const struct conn *c);
/* Bytes sent to c that it has not read yet (a slow subscriber's). */
size_t conn_out_pending(const struct conn *c);
/* Close c now (a subscriber that does not keep up). */
void conn_drop(struct conn *c, const char *why);
/* The connection's protocol state (SSH session binds), freed by the
 * agent's conn_state_free when the connection closes. */
void **conn_proto_state(struct conn *c);

#endif
