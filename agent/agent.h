/* The agent's shared state, its connections, and how handlers reply. */
#ifndef JIT_AGENT_H
#define JIT_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>
#include <uv.h>

#include "wire.h"

/* Limits a client controls: named here, enforced in server.c/dispatch.c. */
#define AGENT_FRAME_MAX (256 * 1024) /* draft-miller: 256 KiB */
#define AGENT_OUT_MAX (1024 * 1024) /* queued replies per conn */
#define AGENT_FD_RESERVE 32 /* fds kept for files, hw */
#define AGENT_IDLE_MS (30 * 60 * 1000)
#define AGENT_PARTIAL_MS (10 * 1000) /* to finish a started frame */
#define AGENT_NAME_MAX 64 /* credential names */
#define AGENT_WINDOW_DEFAULT_S (15 * 60)
#define AGENT_TOUCH_TIMEOUT_MS (30 * 1000)

/* ssh-agent message numbers (draft-miller-ssh-agent). */
#define SSH_AGENTC_REMOVE_ALL_RSA_IDENTITIES 9 /* SSH1; ssh-add -D */
#define SSH_AGENT_FAILURE 5
#define SSH_AGENT_SUCCESS 6
#define SSH_AGENTC_REQUEST_IDENTITIES 11
#define SSH_AGENT_IDENTITIES_ANSWER 12
#define SSH_AGENTC_SIGN_REQUEST 13
#define SSH_AGENT_SIGN_RESPONSE 14
#define SSH_AGENTC_ADD_IDENTITY 17
#define SSH_AGENTC_REMOVE_IDENTITY 18
#define SSH_AGENTC_REMOVE_ALL_IDENTITIES 19
#define SSH_AGENTC_ADD_SMARTCARD_KEY 20
#define SSH_AGENTC_REMOVE_SMARTCARD_KEY 21
#define SSH_AGENTC_LOCK 22
#define SSH_AGENTC_UNLOCK 23
#define SSH_AGENTC_ADD_ID_CONSTRAINED 25
#define SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED 26
#define SSH_AGENTC_EXTENSION 27
#define SSH_AGENT_EXTENSION_FAILURE 28

struct store;
struct vault;
struct audit_log;
struct hwq;
struct conn;
struct ssh_agent;
struct conf;
struct revoker;

#define PEER_EXE_MAX 256
#define PEER_WHY_MAX 96
#define PEER_COMM_MAX 16 /* TASK_COMM_LEN */

struct peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
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

struct agent {
	uv_loop_t *loop;
	char *sock_path;
	char *sock_dir; /* we made it: remove on exit */
	char *data_dir;
	uid_t uid;
	uv_pipe_t listener;
	bool listener_up; /* initialised */
	bool sock_bound; /* we made the socket file */
	bool listener_paused;
	size_t nconns;
	size_t max_conns;
	struct conn *conns;
	uv_signal_t sig_term, sig_int, sig_usr1, sig_hup;
	struct store *store;
	struct vault *vault;
	struct audit_log *audit;
	struct hwq *hwq;
	int64_t window_default_s;
	int touch_timeout_ms;
	bool exiting;
	struct ssh_agent *ssh; /* ssh-agent.c: ssh-add keys */
	bool locked; /* ssh-add -x: see ssh-agent.c */
	struct conf *conf; /* conf.c: the config file */
	struct revoker *revoker; /* revoke.c: upstream revokes */
	uv_timer_t seal_timer; /* events.c: the audit log's seals */
	bool seal_timer_up;
	bool seal_failing;
};

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
int server_start(struct agent *ag);
void server_stop(struct agent *ag);
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
/* The connection's SSH state (session binds), owned by ssh-agent.c. */
void **conn_ssh_state(struct conn *c);

/* dispatch.c */
int dispatch(struct agent *ag, struct request *rq);
/* Build an extension success reply: result JSON and optional secret. */
int reply_ext_ok(
    struct conn *c, struct json_object *result, const struct secret *payload);
/* An extension failure with a sentence (msg NULL: jit_strerror(err)). */
void reply_ext_err(struct conn *c, int err, int retries, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ssh-agent.c: the standard ssh-agent messages and session binds. */
int ssh_request(struct agent *ag, struct request *rq);
int ssh_session_bind(struct agent *ag, struct request *rq);
/* A session bind was attempted on rq's connection (ssh brought it, a
 * forwarded agent): refuse the jitctl verb, audit it, return true. */
bool ssh_refuse_remote(struct agent *ag, struct request *rq, const char *verb);
/* server.c's hook: the connection closed; free its SSH state. */
void ssh_conn_free(void *state);
/* server_stop(): wipe the ssh-add keys, close the SSH timers. */
void ssh_agent_free(struct agent *ag);

/* Wipe every unlocked secret (lock, SIGUSR1, SIGTERM). */
void agent_wipe_all(struct agent *ag, const char *why);

#endif
