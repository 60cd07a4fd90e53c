/* The ssh-agent side of jit-agent: keys from ssh-add, binds, lock, certificates. */
#ifndef JIT_SSH_AGENT_H
#define JIT_SSH_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "ssh-dest.h"
#include "ssh-key.h"
#include "ssh-msg.h"

struct cred;
struct secret;
struct askpass;
struct ssh_cred_pub;
struct ssh_onuse;
struct ssh_p11;

#define SSH_KEYS_MAX 1000 /* keys added with ssh-add */
#define SSH_LOCK_SALT_LEN 16
#define SSH_LOCK_HASH_LEN 32
#define SSH_UNLOCK_DELAY_MS 100 /* per failure, as ssh-agent */
#define SSH_UNLOCK_FAILS_MAX 100 /* so at most 10 s */
#define SSH_TICK_MAX_MS 1000 /* suspend stops uv timers */

/* The kind of credential that serves an SSH certificate (`jitctl add
 * --kind ssh-cert`, `jitctl request`): fields "key" and "cert". */
#define SSH_CRED_KIND "ssh-cert"
#define SSH_CRED_FIELD_KEY "key" /* base64 ed25519 seed */
#define SSH_CRED_FIELD_CERT "cert" /* the certificate line */

struct ssh_identity {
	struct ssh_identity *next, *prev;
	struct ssh_key *key;
	char *comment; /* as the client sent it */
	char fp[SSH_FP_LEN];
	int64_t death_ms; /* CLOCK_BOOTTIME; 0: none */
	bool confirm;
	bool held; /* a lock held it ([agent] ssh_keys_on_lock = hold) */
	struct ssh_p11 *p11; /* ssh-add -s: it signs through this helper */
	struct ssh_dests dests;
};

struct ssh_agent {
	struct agent *ag;
	struct ssh_identity *head, *tail;
	size_t nkeys;
	int64_t next_death_ms; /* 0: no key has a lifetime */
	uv_timer_t timer;
	struct secret *lock_hash; /* salt || BLAKE2b(passphrase) */
	unsigned unlock_fails;
	int64_t unlock_at_ms; /* no attempt judged before */
	struct ssh_cred_pub *creds; /* ssh-cred.c */
	struct ssh_onuse *onuse; /* ssh-cred.c: unlocks on use under way */
	/* The timer's work (ssh-state.c calls, never includes, them): the
	 * lifetimes of ssh-add keys, the ends of certificates. */
	void (*reap_keys)(struct ssh_agent *sa, int64_t now_ms);
	void (*tick_creds)(struct ssh_agent *sa, int64_t *next_wall);
	/* ssh-add -s: the providers loaded (ssh-pkcs11.c), and what becomes
	 * of their keys when a helper dies (ssh-agent.c removes them). */
	struct ssh_p11 *p11s;
	void (*p11_gone)(
	    struct ssh_agent *sa, struct ssh_p11 *p, const char *why);
};

struct ssh_unlock_wait;

/* What one connection has told us (session binds) or waits for. */
struct ssh_conn {
	struct conn *conn;
	struct ssh_agent *sa;
	struct ssh_binds binds;
	struct ssh_unlock_wait *unlock; /* a delayed UNLOCK */
	struct askpass *ask; /* a prompt it waits for */
	void *ask_arg;
	void (*ask_free)(void *arg);
};

/* ssh-agent.c: the standard ssh-agent messages and session binds. */
int ssh_request(struct agent *ag, struct request *rq);
int ssh_session_bind(struct agent *ag, struct request *rq);
/* Was a session bind attempted on rq's connection (ssh brought it: a
 * forwarded agent)?  host_fp: the host it last bound to, or "". */
bool ssh_forwarded(struct request *rq, char host_fp[SSH_FP_LEN]);
/* The agent's conn_state_free: a connection closed; free its SSH state. */
void ssh_conn_free(void *state);
/* The agent's lock_ssh_keys (lock.c calls it on every lock): the keys
 * from ssh-add are removed, or held unusable (and unlisted) until they are
 * added again or a credential is unlocked with a token; how many. */
size_t ssh_keys_on_lock(struct agent *ag, const char *trigger);
/* The agent's unlocked: a token opened c; held keys are usable again,
 * and an SSH certificate credential is listed (ssh-cred.c). */
void ssh_on_unlocked(
    struct agent *ag, struct cred *c, const struct secret *fields);
/* At exit: wipe the ssh-add keys, close the SSH timers. */
void ssh_agent_free(struct agent *ag);

/* ssh-state.c, for both request files. */
struct ssh_agent *ssh_agent_of(struct agent *ag); /* made at first use */
struct ssh_conn *ssh_conn_of(struct ssh_agent *sa, struct conn *c);
/* The connection's SSH state, NULL if it has none yet. */
struct ssh_conn *ssh_conn_peek(struct conn *c);
void ssh_fail(struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int ssh_reply_sig(struct conn *c, const struct ssh_key *k, const uint8_t *data,
    size_t len, uint32_t flags);
void ssh_rearm(struct ssh_agent *sa);
void ssh_rearm_soon(struct ssh_agent *sa);
/* The fingerprint of the host this connection last bound to, or "". */
void ssh_conn_host_fp(const struct ssh_conn *sc, char out[SSH_FP_LEN]);

/* ssh-cred.c: the certificates of unlocked ssh-cert credentials. */
/* sc (may be NULL): a forwarded connection is not shown locked ones. */
int ssh_cred_list(struct ssh_agent *sa, const struct ssh_conn *sc,
    struct wire_writer *w, uint32_t *count);
/* JIT_E_NOENT (nothing sent) if blob is no credential's certificate. */
int ssh_cred_sign(struct ssh_agent *sa, struct request *rq, struct ssh_conn *sc,
    const struct ssh_sign_msg *m);
bool ssh_cred_owns(struct ssh_agent *sa, const uint8_t *blob, size_t len);
void ssh_cred_free_all(struct ssh_agent *sa);
/* Wipe credentials past their certificate's end; the next deadline. */
void ssh_cred_tick(struct ssh_agent *sa, int64_t *next_wall);

/* ssh-cred.c, for ext-cred.c (add) and ext-open.c (unlock). */
int ssh_cred_check_fields(
    const struct secret *fields, char *why, size_t whylen);
/* The certificate's blob (malloc'd), for the credential's header: ssh
 * lists it while the credential is locked if it unlocks on use. */
int ssh_cred_cert_blob(
    const struct secret *fields, uint8_t **ret, size_t *ret_len);
void ssh_cred_unlocked(
    struct agent *ag, struct cred *c, const struct secret *fields);

#endif
