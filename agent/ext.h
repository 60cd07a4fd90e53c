/* jitctl's verbs: handlers of VERB@jit-agent.dev extension requests. */
#ifndef JIT_EXT_H
#define JIT_EXT_H

#include <json-c/json.h>

#include "agent.h"
#include "reply.h"
#include "tokenset.h"

struct secret;
struct hw_token;
struct hw_status;
struct cred;

/*
 * A handler gets the request's JSON args and, if the client sent one, its
 * secret payload (*payload; set it to NULL to keep it).  It returns JIT_OK
 * once it has replied, AGENT_DEFERRED after starting hardware work, or an
 * error code for the dispatcher to answer with jit_strerror().  Anything it
 * keeps from the request must be copied: the frame is wiped on return.
 */
typedef int ext_fn(struct agent *ag, struct request *rq,
    struct json_object *args, struct secret **payload);

ext_fn ext_status, ext_tokens, ext_enroll, ext_unenroll, ext_add, ext_unlock,
    ext_get, ext_lock, ext_revoke, ext_audit_head, ext_audit_setup, ext_request,
    ext_verify, ext_hello, ext_rewrap, ext_probe, ext_approve, ext_events,
    ext_import;

/* Helpers shared by the handlers. */
int ext_str_arg(
    struct json_object *args, const char *key, size_t max, const char **ret);
int ext_duration_arg(
    struct json_object *args, const char *key, int64_t *ret, int64_t dflt);
/* A reason (request, unlock): one line, no control character. */
bool ext_reason_ok(const char *s);
struct json_object *ext_token_json(const struct hw_token *t);
/* JIT_OK if credentials may be wrapped to the token set now; else it
 * replied with what is missing (a verification, a repair). */
int ext_check_wrappable(struct agent *ag, struct conn *conn);
/* The order tokens are tried in: [agent] prefer's labels, then the others
 * in enrollment order; order[] gets store_ntokens() indexes. */
void ext_token_order(struct agent *ag, size_t *order);
/* Copies of the enrolled tokens, in the order they are tried, that hold a
 * wrap of every one of creds[0..n) (of any one if any_one), the one
 * labelled label alone if label is neither NULL nor empty, and, with
 * need_pin, none that cannot ask a PIN (a FIDO2 key enrolled without UV).
 * *ret (allocated) and *ret_n grow as it goes: on failure the caller
 * frees what is there. */
int ext_pick_tokens(struct agent *ag, struct cred *const *creds, size_t n,
    bool any_one, const char *label, bool need_pin, struct hw_token ***ret,
    size_t *ret_n);
/* Reply to rq with the error of a hardware job (its status sentence). */
void ext_reply_hw_err(struct conn *c, int r, const struct hw_status *st);
/* Reply that c has expired, with what makes a new one: a request of its
 * profile, or an add with --replace (a plain add refuses the name). */
void ext_reply_expired(struct conn *conn, const struct cred *c);

/*
 * ext-request.c: run profile's issuer for rq (or, for a profile with
 * approvals, make a request that waits, unless approved is given: its
 * approvals met the quorum).  Replies, or returns AGENT_DEFERRED.
 */
struct approval_req;
int request_start(struct agent *ag, struct request *rq, const char *profile,
    const char *name, const char *reason, int64_t ttl,
    const struct approval_req *approved);

/* ext-request.c: JIT_OK if the peer's executable may use c (its profile's
 * allowed_executables); else it replied, audited a deny, and says so. */
int ext_check_exe(struct agent *ag, struct conn *conn, const struct peer *p,
    const struct cred *c);

/*
 * What to do with the one credential a get-style open produced, instead of
 * answering a get (ssh-cred.c signs with it): the fields, or NULL and the
 * error.  It replies, or returns AGENT_DEFERRED to keep the client waiting
 * (then it calls conn_done() itself), and takes arg.
 */
typedef int ext_open_then(struct agent *ag, struct conn *c,
    const struct peer *p, struct cred *cred, const struct secret *fields,
    int err, void *arg);
/* ext-open.c: open credentials with a token, off the loop.  For a get
 * (get_field etc. set), the one credential is served and not kept. */
struct open_args {
	struct cred **creds;
	size_t n;
	const char *token_label; /* NULL: any that wraps them all */
	struct secret *pin; /* taken */
	int64_t window_s;
	bool for_get;
	const char *field, *purpose, *command;
	ext_open_then *then; /* with for_get: instead of a reply */
	void *then_arg; /* taken: then or then_free gets it */
	void (*then_free)(void *arg);
	bool verify_only; /* no credential: the token vouches for the set */
	bool rewrap; /* wrap the data keys to more tokens, keep nothing */
	char *token_out; /* with then: gets the answering token's label
			  * (HW_LABEL_MAX + 1 bytes) before then() runs */
	const char *rewrap_to; /* that token's label; NULL: every one */
	pid_t shell_pid; /* jitctl shell: bound to it (0: not) */
	bool check_only; /* answer which token would be asked; open nothing */
	uint64_t shell_start;
	const char *reason; /* unlock --reason: kept in the audit line */
};
int ext_open_submit(struct agent *ag, struct request *rq, struct open_args *a);

struct hw_auth;
struct hw_status;
/*
 * In a worker thread: the first of cands that answers (absent ones and
 * PIN tokens without a PIN are passed over) opens its identity and, if
 * set is given, vouches for it.  A token the set does not vouch for opens
 * nothing (JIT_E_AUTH).  ret_key (optional) gets the set's key K when the
 * answering token is genuine, for changing the set: the caller decides
 * from v whether the rest of the set may stay as it is (except: see
 * tokenset_verify).
 */
int open_identity_verified(struct hw_token *const *cands, size_t ncands,
    const struct hw_auth *auth, const struct tokenset *set, const char *except,
    struct hw_status *st, size_t *ret_used, struct secret **ret_sk,
    struct secret **ret_key, struct tokenset_verdict *v);

#endif
